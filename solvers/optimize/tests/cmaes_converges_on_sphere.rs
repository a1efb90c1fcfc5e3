//! CMA-ES converges on a shifted sphere, and keeps to the bounds.

use twinworks_optimize::prelude::*;

#[test]
fn cma_es_finds_the_centre_of_a_shifted_sphere() {
    let problem = Problem::continuous(&[(-5.0, 5.0); 5]).unwrap();
    let centre = [1.0, -2.0, 0.5, 3.0, -1.5];
    let f = |x: &[f64]| Evaluation::new(x.iter().zip(&centre).map(|(a, c)| (a - c).powi(2)).sum());
    let out = cmaes::minimize(&problem, &f, 3000, &CmaSettings::default(), 1).unwrap();
    let best = out.incumbent_record().unwrap();
    assert!(best.value < 1e-8, "best {}", best.value);
    assert!(
        out.history
            .records
            .iter()
            .all(|r| r.x.iter().all(|v| (-5.0..=5.0).contains(v)))
    );
}
