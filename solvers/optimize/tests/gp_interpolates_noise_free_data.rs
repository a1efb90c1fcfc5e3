//! A noise-free GP passes through its data and is (almost) certain there.

use twinworks_optimize::gp::{Gp, NoiseModel};
use twinworks_optimize::rng::Rng;

#[test]
fn mean_interpolates_and_variance_vanishes_at_data_points() {
    let f = |u: &[f64]| (6.0 * u[0]).sin() + u[1] * u[1];
    let mut rng = Rng::new(11);
    let x: Vec<Vec<f64>> = (0..15).map(|_| vec![rng.unit(), rng.unit()]).collect();
    let y: Vec<f64> = x.iter().map(|u| f(u)).collect();
    let gp = Gp::fit(&x, &y, NoiseModel::Nugget, None, 3, &mut rng).unwrap();
    let y_range = 2.5;
    for (u, &yi) in x.iter().zip(&y) {
        let p = gp.predict(u);
        assert!((p.mean - yi).abs() < 1e-3 * y_range, "mean {} vs data {yi}", p.mean);
        assert!(p.sd() < 1e-2 * y_range, "sd {} at a data point", p.sd());
    }
    // Away from the data the model is uncertain.
    let far = gp.predict(&[1.0, 1.0]).sd().max(gp.predict(&[0.0, 0.0]).sd());
    assert!(far > 1e-2, "sd {far} away from the data");
}
