//! Expected improvement is never negative, and zero where the model is
//! certain the point is worse than the incumbent.

use twinworks_optimize::acquisition::expected_improvement;
use twinworks_optimize::gp::{Gp, NoiseModel};
use twinworks_optimize::rng::Rng;

#[test]
fn ei_is_non_negative_everywhere() {
    let mut rng = Rng::new(2);
    for _ in 0..10_000 {
        let mean = 10.0 * rng.normal();
        let sd = (3.0 * rng.normal()).exp();
        let best = 10.0 * rng.normal();
        assert!(expected_improvement(mean, sd, best) >= 0.0);
    }
}

#[test]
fn ei_is_zero_at_a_worse_data_point_of_a_noise_free_gp() {
    let x: Vec<Vec<f64>> = (0..8).map(|i| vec![i as f64 / 7.0]).collect();
    let y: Vec<f64> = x.iter().map(|u| (u[0] - 0.3).powi(2)).collect();
    let mut rng = Rng::new(4);
    let gp = Gp::fit(&x, &y, NoiseModel::Nugget, None, 2, &mut rng).unwrap();
    let best = y.iter().copied().fold(f64::INFINITY, f64::min);
    // The last point (u = 1, y = 0.49) is the worst: the model is certain of it.
    let p = gp.predict(&x[7]);
    let ei = expected_improvement(p.mean, p.sd(), best);
    assert!(
        ei < 1e-12,
        "EI {ei} at a known bad point (mean {}, sd {})",
        p.mean,
        p.sd()
    );
    // Between data points near the minimum there is something to gain.
    let q = gp.predict(&[0.3]);
    assert!(expected_improvement(q.mean, q.sd(), best) > 0.0);
}
