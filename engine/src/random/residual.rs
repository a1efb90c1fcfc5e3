//! Residual life: a duration drawn again given that `elapsed` of it has already passed.
//!
//! A fork of a running twin must not share the futures the original run drew in advance (the
//! end of an operation in progress, of a repair, of the time to the next failure or arrival).
//! Each is redrawn from the distribution of `X − a` given `X > a`, where `X` follows the
//! duration's distribution and `a` is the time already elapsed. The rule per family (also in
//! docs/state.md):
//!
//! | family | how `X − a | X > a` is drawn |
//! |---|---|
//! | exponential | a fresh draw (memoryless) |
//! | constant `c` | `c − a` (nothing random to redraw) |
//! | uniform `[lo, hi]` | uniform on `[max(lo, a), hi]`, minus `a` |
//! | triangular | inverse CDF on `[F(a), 1)`, minus `a` |
//! | normal (truncated at 0) | inverse CDF of the normal truncated at `max(a, 0)` |
//! | lognormal | inverse CDF of its logarithm's normal, truncated at `ln a` |
//! | Weibull `k, λ` | closed form: `λ((a/λ)^k − ln U)^(1/k) − a` |
//! | gamma / Erlang | rejection (draw `X` until `X > a`, at most 1,000 times), then the gamma tail's exponential limit: `a + scale · E` |
//! | empirical, discrete | the values above `a`, with their probabilities renormalised |
//! | empirical, continuous | inverse of the piecewise-linear CDF on `[F(a), 1)` |
//!
//! When `a` is at or beyond the largest value the distribution can take, the residual is 0
//! (the duration ends now).

use super::{Distribution, RngStream, normal_quantile_upper, std_normal_sf};

impl Distribution {
    /// A draw of `X − a` given `X > a`, where `X` follows this distribution and `a = elapsed`
    /// (see the module documentation for the rule of each family). Never negative.
    pub fn sample_residual(&self, elapsed: f64, rng: &mut RngStream) -> f64 {
        use Distribution::*;
        let a = elapsed.max(0.0);
        if a == 0.0 {
            return self.sample(rng).max(0.0);
        }
        let x = match self {
            Exponential { mean } => return mean * rng.standard_exponential(),
            Constant { value } => *value,
            Uniform { min, max } => {
                let lo = min.max(a);
                if lo >= *max {
                    return 0.0;
                }
                lo + (max - lo) * rng.uniform_open()
            }
            Triangular { min, mode, max } => {
                if a >= *max {
                    return 0.0;
                }
                let cdf = |x: f64| {
                    if x <= *min {
                        0.0
                    } else if x <= *mode {
                        (x - min) * (x - min) / ((max - min) * (mode - min))
                    } else {
                        1.0 - (max - x) * (max - x) / ((max - min) * (max - mode))
                    }
                };
                let f = (mode - min) / (max - min);
                let fa = cdf(a);
                let u = fa + (1.0 - fa) * rng.uniform_open();
                if u < f {
                    min + ((max - min) * (mode - min) * u).sqrt()
                } else {
                    max - ((max - min) * (max - mode) * (1.0 - u)).sqrt()
                }
            }
            Normal { mean, sd } => {
                // X = mean + sd·Z, Z > z_a: Z = Q⁻¹(U·Q(z_a)) with Q the upper tail, which keeps
                // its precision far out in the tail.
                let z_a = (a - mean) / sd;
                mean + sd * normal_quantile_upper(rng.uniform_open() * std_normal_sf(z_a))
            }
            Lognormal { mean, sd } => {
                let s2 = (1.0 + (sd * sd) / (mean * mean)).ln();
                let (mu, s) = (mean.ln() - 0.5 * s2, s2.sqrt());
                let z_a = (a.ln() - mu) / s;
                (mu + s * normal_quantile_upper(rng.uniform_open() * std_normal_sf(z_a))).exp()
            }
            Weibull { shape, scale } => {
                let h = (a / scale).powf(*shape) - rng.uniform_open().ln();
                scale * h.powf(1.0 / shape)
            }
            Gamma { scale, .. } => {
                let mut drawn = None;
                for _ in 0..1000 {
                    let x = self.sample(rng);
                    if x > a {
                        drawn = Some(x);
                        break;
                    }
                }
                drawn.unwrap_or_else(|| a + scale * rng.standard_exponential())
            }
            Empirical {
                values,
                cdf,
                continuous,
            } => {
                if *continuous {
                    if values.len() == 1 || a >= values[values.len() - 1] {
                        return 0.0;
                    }
                    // F(a) on the piecewise-linear CDF, then its inverse on [F(a), 1).
                    let j = values.partition_point(|&v| v <= a);
                    let fa = if j == 0 {
                        0.0
                    } else {
                        let (x0, x1, c0, c1) = (values[j - 1], values[j], cdf[j - 1], cdf[j]);
                        if x1 > x0 {
                            c0 + (c1 - c0) * (a - x0) / (x1 - x0)
                        } else {
                            c1
                        }
                    };
                    let u = fa + (1.0 - fa) * rng.uniform_open();
                    let i = cdf.partition_point(|&x| x < u).clamp(1, values.len() - 1);
                    let span = cdf[i] - cdf[i - 1];
                    let frac = if span > 0.0 { (u - cdf[i - 1]) / span } else { 0.0 };
                    values[i - 1] + frac * (values[i] - values[i - 1])
                } else {
                    // P(value i) = cdf[i] − cdf[i−1] (values in any order); keep those above a.
                    let p = |i: usize| cdf[i] - if i == 0 { 0.0 } else { cdf[i - 1] };
                    let above: f64 = (0..values.len()).filter(|&i| values[i] > a).map(p).sum();
                    if above <= 0.0 {
                        return 0.0;
                    }
                    let mut u = above * rng.uniform_open();
                    let mut pick = a;
                    for i in (0..values.len()).filter(|&i| values[i] > a) {
                        pick = values[i];
                        if u < p(i) {
                            break;
                        }
                        u -= p(i);
                    }
                    pick
                }
            }
        };
        (x - a).max(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mean_residual(d: &Distribution, a: f64, n: usize) -> (f64, f64) {
        let mut rng = RngStream::from_seed(11);
        let (mut s, mut s2) = (0.0, 0.0);
        for _ in 0..n {
            let r = d.sample_residual(a, &mut rng);
            assert!(r >= 0.0 && r.is_finite(), "{d:?} a={a}: {r}");
            s += r;
            s2 += r * r;
        }
        let m = s / n as f64;
        (m, ((s2 / n as f64 - m * m) / n as f64).sqrt())
    }

    /// E[X − a | X > a] by rejection from the plain sampler: an independent reference.
    fn by_rejection(d: &Distribution, a: f64, n: usize) -> f64 {
        let mut rng = RngStream::from_seed(99);
        let (mut s, mut k) = (0.0, 0);
        while k < n {
            let x = d.sample(&mut rng);
            if x > a {
                s += x - a;
                k += 1;
            }
        }
        s / n as f64
    }

    #[test]
    fn residual_means_match_rejection_from_the_unconditional_sampler() {
        let cases = [
            (Distribution::Exponential { mean: 2.0 }, 3.0),
            (Distribution::Uniform { min: 1.0, max: 5.0 }, 2.5),
            (
                Distribution::Triangular {
                    min: 1.0,
                    mode: 2.0,
                    max: 6.0,
                },
                3.0,
            ),
            (
                Distribution::Triangular {
                    min: 1.0,
                    mode: 4.0,
                    max: 6.0,
                },
                2.0,
            ),
            (Distribution::Normal { mean: 10.0, sd: 2.0 }, 11.0),
            (Distribution::Lognormal { mean: 5.0, sd: 3.0 }, 6.0),
            (Distribution::Weibull { shape: 1.5, scale: 4.0 }, 3.0),
            (Distribution::Gamma { shape: 3.0, scale: 1.0 }, 2.0),
            (
                Distribution::empirical(vec![4.0, 1.0, 2.0], Some(vec![0.5, 0.2, 0.3]), false).expect("valid"),
                1.5,
            ),
            (
                Distribution::empirical(vec![1.0, 2.0, 4.0], Some(vec![0.0, 1.0, 1.0]), true).expect("valid"),
                1.5,
            ),
        ];
        for (d, a) in cases {
            let (m, se) = mean_residual(&d, a, 40_000);
            let reference = by_rejection(&d, a, 40_000);
            assert!(
                (m - reference).abs() < 4.0 * se * std::f64::consts::SQRT_2 + 1e-3,
                "{d:?} a={a}: residual mean {m} ± {se}, by rejection {reference}"
            );
        }
    }

    #[test]
    fn residual_at_or_past_the_largest_value_is_zero() {
        let mut rng = RngStream::from_seed(1);
        assert_eq!(
            Distribution::Constant { value: 3.0 }.sample_residual(1.0, &mut rng),
            2.0
        );
        assert_eq!(
            Distribution::Constant { value: 3.0 }.sample_residual(4.0, &mut rng),
            0.0
        );
        assert_eq!(
            Distribution::Uniform { min: 1.0, max: 2.0 }.sample_residual(2.5, &mut rng),
            0.0
        );
        let far = Distribution::Normal { mean: 1.0, sd: 0.1 }.sample_residual(3.0, &mut rng);
        assert!(far.is_finite() && (0.0..0.2).contains(&far), "{far}");
    }
}
