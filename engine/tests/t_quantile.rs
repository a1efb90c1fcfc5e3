//! Student-t quantiles against scipy's (`scripts/t_quantiles.py`, output committed as
//! `tests/data/t_quantiles.csv`): every p the confidence intervals and ranking-and-selection
//! use, df from 1 to 1000.

use twinworks_engine::stats::student_t_quantile;

#[test]
fn t_quantiles_match_scipy() {
    let text = include_str!("data/t_quantiles.csv");
    let mut n = 0;
    let mut worst: (f64, f64, u32) = (0.0, 0.0, 0);
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.starts_with("p,")) {
        let f: Vec<&str> = line.split(',').collect();
        let (p, df, want): (f64, u32, f64) = (f[0].parse().unwrap(), f[1].parse().unwrap(), f[2].parse().unwrap());
        let got = student_t_quantile(p, df);
        let rel = ((got - want) / want).abs();
        if rel > worst.0 {
            worst = (rel, p, df);
        }
        assert!(rel < 1e-9, "p {p}, df {df}: {got} vs scipy {want} (relative {rel:e})");
        // Symmetry: the lower quantile is the negative.
        let lower = student_t_quantile(1.0 - p, df);
        assert!(((lower + want) / want).abs() < 1e-9, "p {}, df {df}: {lower}", 1.0 - p);
        n += 1;
    }
    assert_eq!(n, 8 * 45, "every reference value was read");
    eprintln!("worst relative error {:e} at p {}, df {}", worst.0, worst.1, worst.2);
}
