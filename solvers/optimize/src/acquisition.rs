//! Acquisition functions: expected improvement (minimization) and the
//! probability that a point is feasible, both from Gaussian predictions.

/// The standard normal density.
pub fn normal_pdf(z: f64) -> f64 {
    (-0.5 * z * z).exp() / (std::f64::consts::TAU).sqrt()
}

/// The standard normal distribution function.
///
/// Abramowitz and Stegun 26.2.17 (absolute error < 7.5e-8), which is ample
/// for ranking candidate points.
pub fn normal_cdf(z: f64) -> f64 {
    if z.is_nan() {
        return f64::NAN;
    }
    let t = 1.0 / (1.0 + 0.231_641_9 * z.abs());
    let poly =
        t * (0.319_381_530 + t * (-0.356_563_782 + t * (1.781_477_937 + t * (-1.821_255_978 + t * 1.330_274_429))));
    let upper_tail = normal_pdf(z) * poly;
    if z >= 0.0 { 1.0 - upper_tail } else { upper_tail }
}

/// Expected improvement below `best` of a Gaussian with `mean` and `sd`:
/// `E[max(best − Y, 0)]`. Never negative; where the model is certain
/// (`sd ≈ 0`) it is the plain improvement `max(best − mean, 0)`.
pub fn expected_improvement(mean: f64, sd: f64, best: f64) -> f64 {
    let gain = best - mean;
    if sd <= 1e-12 * (1.0 + mean.abs()) {
        return gain.max(0.0);
    }
    let z = gain / sd;
    (gain * normal_cdf(z) + sd * normal_pdf(z)).max(0.0)
}

/// The probability that a constraint modelled as `N(mean, sd²)` is `<= 0`.
pub fn probability_feasible(mean: f64, sd: f64) -> f64 {
    if sd <= 1e-12 * (1.0 + mean.abs()) {
        return if mean <= 0.0 { 1.0 } else { 0.0 };
    }
    normal_cdf(-mean / sd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cdf_matches_known_values() {
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-7);
        assert!((normal_cdf(1.959_963_985) - 0.975).abs() < 1e-7);
        assert!((normal_cdf(-1.0) - 0.158_655_254).abs() < 1e-7);
    }

    #[test]
    fn ei_of_a_certain_point_is_its_improvement() {
        assert_eq!(expected_improvement(1.0, 0.0, 2.0), 1.0);
        assert_eq!(expected_improvement(3.0, 0.0, 2.0), 0.0);
        // A symmetric Gaussian centred on the incumbent: sd · φ(0).
        assert!((expected_improvement(2.0, 1.0, 2.0) - normal_pdf(0.0)).abs() < 1e-12);
    }
}
