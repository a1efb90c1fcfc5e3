//! Maximum likelihood recovers, roughly, the length scale of a known GP from
//! one of its sample paths.

use nalgebra::{Cholesky, DMatrix, DVector};
use twinworks_optimize::gp::{Gp, NoiseModel, matern52};
use twinworks_optimize::rng::Rng;

#[test]
fn length_scale_of_a_sampled_matern_path_is_recovered_within_a_factor_two() {
    let (n, true_length) = (60, 0.2);
    let mut rng = Rng::new(5);
    let x: Vec<Vec<f64>> = (0..n).map(|i| vec![(i as f64 + rng.unit()) / n as f64]).collect();
    let k = DMatrix::from_fn(n, n, |i, j| {
        matern52(&x[i], &x[j], &[true_length], 1.0) + if i == j { 1e-8 } else { 0.0 }
    });
    let l = Cholesky::new(k).unwrap().l();
    let z = DVector::from_iterator(n, (0..n).map(|_| rng.normal()));
    let y: Vec<f64> = (l * z).iter().copied().collect();
    let gp = Gp::fit(&x, &y, NoiseModel::Nugget, None, 4, &mut rng).unwrap();
    let fitted = gp.hyper().length[0];
    assert!(
        (true_length / 2.0..true_length * 2.0).contains(&fitted),
        "fitted length scale {fitted}, true {true_length}"
    );
}

#[test]
fn an_irrelevant_input_gets_a_longer_length_scale() {
    let mut rng = Rng::new(8);
    let x: Vec<Vec<f64>> = (0..40).map(|_| vec![rng.unit(), rng.unit()]).collect();
    let y: Vec<f64> = x.iter().map(|u| (5.0 * u[0]).sin()).collect();
    let gp = Gp::fit(&x, &y, NoiseModel::Nugget, None, 4, &mut rng).unwrap();
    let h = gp.hyper();
    assert!(h.length[1] > 3.0 * h.length[0], "length scales {:?}", h.length);
}
