//! Bounded Nelder–Mead, the crate's one local optimizer: it fits the GP's
//! hyperparameters, polishes acquisition maxima and polishes the incumbent.
//!
//! The coefficients adapt to the dimension (Gao and Han, 2012), which keeps the
//! simplex from collapsing in 6–10 dimensions; points leaving the box are
//! projected back onto it.

/// A local minimum found by [`minimize`].
#[derive(Clone, Debug, PartialEq)]
pub struct Minimum {
    /// The best point found.
    pub x: Vec<f64>,
    /// Its value.
    pub value: f64,
    /// Function evaluations spent.
    pub evaluations: usize,
}

fn project(x: &mut [f64], lo: &[f64], hi: &[f64]) {
    for ((xi, &l), &h) in x.iter_mut().zip(lo).zip(hi) {
        *xi = xi.clamp(l, h);
    }
}

/// When [`minimize`] stops.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stop {
    /// At most this many function evaluations.
    pub max_evals: usize,
    /// The simplex's values agree within this...
    pub f_tol: f64,
    /// ...and its vertices within this (per coordinate).
    pub x_tol: f64,
}

/// Minimizes `f` in the box `[lo, hi]` from `x0`, with an initial simplex of
/// edge `step` (per coordinate, flipped inwards at a bound), until `stop`.
pub fn minimize(
    mut f: impl FnMut(&[f64]) -> f64,
    x0: &[f64],
    step: f64,
    lo: &[f64],
    hi: &[f64],
    stop: Stop,
) -> Minimum {
    let Stop {
        max_evals,
        f_tol,
        x_tol,
    } = stop;
    let n = x0.len();
    let nf = n as f64;
    let (alpha, beta, gamma, delta) = (1.0, 1.0 + 2.0 / nf, 0.75 - 0.5 / nf, 1.0 - 1.0 / nf);
    let mut evals = 0usize;
    let mut eval = |x: &[f64], evals: &mut usize| {
        *evals += 1;
        let v = f(x);
        if v.is_nan() { f64::INFINITY } else { v }
    };
    let mut start = x0.to_vec();
    project(&mut start, lo, hi);
    let mut simplex: Vec<(Vec<f64>, f64)> = Vec::with_capacity(n + 1);
    let v0 = eval(&start, &mut evals);
    simplex.push((start.clone(), v0));
    for i in 0..n {
        let mut x = start.clone();
        let s = step.min(hi[i] - lo[i]);
        x[i] = if x[i] + s <= hi[i] { x[i] + s } else { x[i] - s };
        project(&mut x, lo, hi);
        let v = eval(&x, &mut evals);
        simplex.push((x, v));
    }
    while evals < max_evals {
        simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
        let spread_f = simplex[n].1 - simplex[0].1;
        let spread_x = simplex[1..]
            .iter()
            .flat_map(|(x, _)| x.iter().zip(&simplex[0].0).map(|(a, b)| (a - b).abs()))
            .fold(0.0, f64::max);
        if spread_f.abs() <= f_tol && spread_x <= x_tol {
            break;
        }
        let mut centroid = vec![0.0; n];
        for (x, _) in &simplex[..n] {
            for (c, xi) in centroid.iter_mut().zip(x) {
                *c += xi / nf;
            }
        }
        let along = |t: f64| -> Vec<f64> {
            let mut p: Vec<f64> = centroid
                .iter()
                .zip(&simplex[n].0)
                .map(|(c, w)| c + t * (c - w))
                .collect();
            project(&mut p, lo, hi);
            p
        };
        let xr = along(alpha);
        let fr = eval(&xr, &mut evals);
        if fr < simplex[0].1 {
            let xe = along(alpha * beta);
            let fe = eval(&xe, &mut evals);
            simplex[n] = if fe < fr { (xe, fe) } else { (xr, fr) };
        } else if fr < simplex[n - 1].1 {
            simplex[n] = (xr, fr);
        } else {
            let (xc, fc) = if fr < simplex[n].1 {
                let xc = along(alpha * gamma);
                let fc = eval(&xc, &mut evals);
                (xc, fc)
            } else {
                let xc = along(-gamma);
                let fc = eval(&xc, &mut evals);
                (xc, fc)
            };
            if fc < simplex[n].1.min(fr) {
                simplex[n] = (xc, fc);
            } else {
                let best = simplex[0].0.clone();
                for (x, v) in simplex.iter_mut().skip(1) {
                    for (xi, b) in x.iter_mut().zip(&best) {
                        *xi = b + delta * (*xi - b);
                    }
                    *v = eval(x, &mut evals);
                }
            }
        }
    }
    simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
    let (x, value) = simplex.swap_remove(0);
    Minimum {
        x,
        value,
        evaluations: evals,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stop(max_evals: usize) -> Stop {
        Stop {
            max_evals,
            f_tol: 1e-15,
            x_tol: 1e-12,
        }
    }

    #[test]
    fn finds_the_rosenbrock_valley_floor_and_respects_bounds() {
        let rosen = |x: &[f64]| (1.0 - x[0]).powi(2) + 100.0 * (x[1] - x[0] * x[0]).powi(2);
        let m = minimize(rosen, &[-1.2, 1.0], 0.5, &[-2.0, -2.0], &[2.0, 2.0], stop(4000));
        assert!(m.value < 1e-8, "{m:?}");
        let m = minimize(|x: &[f64]| x[0], &[0.5], 0.1, &[0.2], &[1.0], stop(200));
        assert!((m.x[0] - 0.2).abs() < 1e-9, "{m:?}");
    }
}
