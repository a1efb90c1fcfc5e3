//! A Gaussian-process regression model on the unit cube: Matérn 5/2 kernel
//! with one length scale per input (ARD), standardized outputs, and a noise
//! term that is either a fixed nugget (noise-free objectives) or a learned
//! variance (noisy ones). Hyperparameters maximize the marginal likelihood.
//!
//! Everything inside is in standardized units (outputs shifted by their mean
//! and divided by their standard deviation); [`Gp::predict`] answers in the
//! caller's units.

use nalgebra::{Cholesky, DMatrix, DVector, Dyn};
use rayon::prelude::*;

use crate::nelder_mead::{self, Stop};
use crate::rng::Rng;

/// The noise variance (standardized units) of a noise-free model: enough to
/// keep the Cholesky factorization stable, small enough to interpolate.
pub const NUGGET: f64 = 1e-6;

/// Length scales are searched in `[0.01, 2]` (unit-cube units), the signal
/// variance in `[0.05, 20]` and a learned noise variance in `[1e-6, 1]`
/// (standardized units). Bounds keep the likelihood surface away from its
/// degenerate corners: a zero length scale makes every point its own island,
/// and a length scale far beyond the cube's width declares an input
/// irrelevant, after which the acquisition never explores along it (on a
/// cube of width 1, a length scale of 2 is already nearly flat).
const LOG_LENGTH: (f64, f64) = (-4.605_170_185_988_091, std::f64::consts::LN_2);
const LOG_SIGNAL: (f64, f64) = (-2.995_732_273_553_991, 2.995_732_273_553_991);
const LOG_NOISE: (f64, f64) = (-13.815_510_557_964_274, 0.0);

/// How the model treats observation noise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoiseModel {
    /// Noise-free data: a fixed [`NUGGET`].
    Nugget,
    /// Noisy data: the noise variance is a hyperparameter.
    Learned,
}

/// The kernel's hyperparameters, in unit-cube and standardized units.
#[derive(Clone, Debug, PartialEq)]
pub struct Hyper {
    /// One length scale per input.
    pub length: Vec<f64>,
    /// The signal variance `k(x, x)`.
    pub signal_var: f64,
    /// The observation noise variance (the nugget when noise-free).
    pub noise_var: f64,
}

impl Hyper {
    fn pack(&self, noise: NoiseModel) -> Vec<f64> {
        let mut t: Vec<f64> = self.length.iter().map(|l| l.ln()).collect();
        t.push(self.signal_var.ln());
        if noise == NoiseModel::Learned {
            t.push(self.noise_var.ln());
        }
        t
    }

    fn unpack(t: &[f64], d: usize, noise: NoiseModel) -> Hyper {
        Hyper {
            length: t[..d].iter().map(|v| v.exp()).collect(),
            signal_var: t[d].exp(),
            noise_var: match noise {
                NoiseModel::Nugget => NUGGET,
                NoiseModel::Learned => t[d + 1].exp(),
            },
        }
    }
}

/// The Matérn 5/2 kernel with ARD length scales:
/// `s² (1 + √5 r + 5 r²/3) exp(−√5 r)`, `r² = Σ ((a_i − b_i)/l_i)²`.
pub fn matern52(a: &[f64], b: &[f64], length: &[f64], signal_var: f64) -> f64 {
    let r2: f64 = a
        .iter()
        .zip(b)
        .zip(length)
        .map(|((x, y), l)| ((x - y) / l).powi(2))
        .sum();
    matern52_r2(r2, signal_var)
}

#[inline]
fn matern52_r2(r2: f64, signal_var: f64) -> f64 {
    let s5r = (5.0 * r2).sqrt();
    signal_var * (1.0 + s5r + 5.0 * r2 / 3.0) * (-s5r).exp()
}

/// A posterior prediction of the latent function, in the caller's units.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Prediction {
    /// The posterior mean.
    pub mean: f64,
    /// The posterior variance of the function (observation noise excluded).
    pub var: f64,
}

impl Prediction {
    /// The posterior standard deviation.
    pub fn sd(&self) -> f64 {
        self.var.max(0.0).sqrt()
    }
}

/// A fitted Gaussian process.
#[derive(Clone, Debug)]
pub struct Gp {
    x: Vec<Vec<f64>>,
    ys: Vec<f64>,
    y_mean: f64,
    y_sd: f64,
    hyper: Hyper,
    chol: Cholesky<f64, Dyn>,
    alpha: DVector<f64>,
}

/// Squared coordinate differences of every pair (upper triangle, row-major
/// over pairs), computed once per fit and reused by every likelihood call.
struct Pairs {
    n: usize,
    d: usize,
    diff2: Vec<f64>,
}

impl Pairs {
    fn new(x: &[Vec<f64>]) -> Pairs {
        let (n, d) = (x.len(), x.first().map_or(0, Vec::len));
        let mut diff2 = Vec::with_capacity(n * (n + 1) / 2 * d);
        for i in 0..n {
            for j in i..n {
                diff2.extend(x[i].iter().zip(&x[j]).map(|(a, b)| (a - b) * (a - b)));
            }
        }
        Pairs { n, d, diff2 }
    }

    fn covariance(&self, h: &Hyper) -> DMatrix<f64> {
        let inv_l2: Vec<f64> = h.length.iter().map(|l| 1.0 / (l * l)).collect();
        let mut k = DMatrix::zeros(self.n, self.n);
        let mut p = 0;
        for i in 0..self.n {
            for j in i..self.n {
                let r2: f64 = self.diff2[p..p + self.d].iter().zip(&inv_l2).map(|(a, b)| a * b).sum();
                p += self.d;
                let v = matern52_r2(r2, h.signal_var);
                k[(i, j)] = v;
                k[(j, i)] = v;
            }
            k[(i, i)] += h.noise_var;
        }
        k
    }
}

/// `K + jitter` factorized, adding jitter (×10 per try) until it succeeds.
fn factor(mut k: DMatrix<f64>) -> Option<Cholesky<f64, Dyn>> {
    let n = k.nrows();
    let mut jitter = 0.0;
    for _ in 0..6 {
        if let Some(c) = Cholesky::new(k.clone()) {
            return Some(c);
        }
        let add = if jitter == 0.0 { 1e-8 } else { jitter * 9.0 };
        jitter += add;
        for i in 0..n {
            k[(i, i)] += add;
        }
    }
    None
}

/// The negative log marginal likelihood of standardized outputs `ys`.
fn neg_log_likelihood(pairs: &Pairs, ys: &DVector<f64>, h: &Hyper) -> f64 {
    let Some(chol) = Cholesky::new(pairs.covariance(h)) else {
        return 1e10;
    };
    let alpha = chol.solve(ys);
    let log_det: f64 = chol.l_dirty().diagonal().iter().map(|v| v.ln()).sum();
    0.5 * ys.dot(&alpha) + log_det + 0.5 * ys.len() as f64 * (std::f64::consts::TAU).ln()
}

impl Gp {
    /// Fits a model to unit-cube inputs `x` and outputs `y` by maximum
    /// marginal likelihood: Nelder–Mead in log space from `warm` (the previous
    /// fit, if any), from a default, and from `restarts` random starts; the
    /// starts run in parallel, the best wins (the first on ties), so the fit
    /// does not depend on the thread count.
    pub fn fit(
        x: &[Vec<f64>],
        y: &[f64],
        noise: NoiseModel,
        warm: Option<&Hyper>,
        restarts: usize,
        rng: &mut Rng,
    ) -> Option<Gp> {
        let d = x.first()?.len();
        let (y_mean, y_sd, ys) = standardize(y);
        let pairs = Pairs::new(x);
        let ysv = DVector::from_vec(ys.clone());
        let mut lo = vec![LOG_LENGTH.0; d];
        let mut hi = vec![LOG_LENGTH.1; d];
        lo.push(LOG_SIGNAL.0);
        hi.push(LOG_SIGNAL.1);
        if noise == NoiseModel::Learned {
            lo.push(LOG_NOISE.0);
            hi.push(LOG_NOISE.1);
        }
        let default = Hyper {
            length: vec![0.3; d],
            signal_var: 1.0,
            noise_var: 1e-2,
        };
        let mut starts: Vec<Vec<f64>> = Vec::new();
        if let Some(w) = warm.filter(|w| w.length.len() == d) {
            starts.push(w.pack(noise));
        }
        starts.push(default.pack(noise));
        for _ in 0..restarts {
            starts.push(lo.iter().zip(&hi).map(|(l, h)| l + (h - l) * rng.unit()).collect());
        }
        let p = lo.len();
        let stop = Stop {
            max_evals: 40 * (p + 1),
            f_tol: 1e-7,
            x_tol: 1e-3,
        };
        let fits: Vec<nelder_mead::Minimum> = starts
            .par_iter()
            .map(|t0| {
                let nll = |t: &[f64]| neg_log_likelihood(&pairs, &ysv, &Hyper::unpack(t, d, noise));
                nelder_mead::minimize(nll, t0, 0.7, &lo, &hi, stop)
            })
            .collect();
        let best = fits.iter().min_by(|a, b| a.value.total_cmp(&b.value))?;
        let hyper = Hyper::unpack(&best.x, d, noise);
        Gp::build(x.to_vec(), ys, y_mean, y_sd, hyper)
    }

    /// A model with given hyperparameters (no fitting).
    pub fn with_hyper(x: &[Vec<f64>], y: &[f64], hyper: Hyper) -> Option<Gp> {
        let (y_mean, y_sd, ys) = standardize(y);
        Gp::build(x.to_vec(), ys, y_mean, y_sd, hyper)
    }

    fn build(x: Vec<Vec<f64>>, ys: Vec<f64>, y_mean: f64, y_sd: f64, hyper: Hyper) -> Option<Gp> {
        let chol = factor(Pairs::new(&x).covariance(&hyper))?;
        let alpha = chol.solve(&DVector::from_vec(ys.clone()));
        Some(Gp {
            x,
            ys,
            y_mean,
            y_sd,
            hyper,
            chol,
            alpha,
        })
    }

    /// The same model conditioned on one more observation `y` at `u`, with the
    /// hyperparameters and output scaling kept: the kriging believer adds the
    /// model's own mean at each point of a batch as a fantasy observation.
    pub fn with_fantasy(&self, u: &[f64], y: f64) -> Option<Gp> {
        let mut x = self.x.clone();
        x.push(u.to_vec());
        let mut ys = self.ys.clone();
        ys.push((y - self.y_mean) / self.y_sd);
        Gp::build(x, ys, self.y_mean, self.y_sd, self.hyper.clone())
    }

    /// The fitted hyperparameters.
    pub fn hyper(&self) -> &Hyper {
        &self.hyper
    }

    /// The standard deviation of the observation noise, in the caller's units.
    pub fn noise_sd(&self) -> f64 {
        self.hyper.noise_var.sqrt() * self.y_sd
    }

    /// The number of observations the model is conditioned on.
    pub fn len(&self) -> usize {
        self.x.len()
    }

    /// True for a model without observations (never, once built).
    pub fn is_empty(&self) -> bool {
        self.x.is_empty()
    }

    /// The posterior at unit-cube point `u`.
    pub fn predict(&self, u: &[f64]) -> Prediction {
        let h = &self.hyper;
        let n = self.x.len();
        let k: Vec<f64> = self
            .x
            .iter()
            .map(|xi| matern52(u, xi, &h.length, h.signal_var))
            .collect();
        let mean: f64 = k.iter().zip(self.alpha.iter()).map(|(a, b)| a * b).sum();
        // Forward substitution v = L⁻¹ k on the factor's lower triangle.
        let l = self.chol.l_dirty();
        let mut v = vec![0.0; n];
        for i in 0..n {
            let mut s = k[i];
            for (j, vj) in v.iter().enumerate().take(i) {
                s -= l[(i, j)] * vj;
            }
            v[i] = s / l[(i, i)];
        }
        let var = (h.signal_var - v.iter().map(|a| a * a).sum::<f64>()).max(0.0);
        Prediction {
            mean: self.y_mean + self.y_sd * mean,
            var: var * self.y_sd * self.y_sd,
        }
    }
}

fn standardize(y: &[f64]) -> (f64, f64, Vec<f64>) {
    let n = y.len().max(1) as f64;
    let mean = y.iter().sum::<f64>() / n;
    let var = y.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    let sd = if var.sqrt() > 1e-12 { var.sqrt() } else { 1.0 };
    (mean, sd, y.iter().map(|v| (v - mean) / sd).collect())
}
