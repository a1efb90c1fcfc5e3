//! Random streams keyed by (run seed, stable model name, purpose), and the distributions drawn
//! from them.
//!
//! Why keyed streams: two variants of a plant (a what-if) must draw the same numbers for the parts
//! of the model they share, so that their difference measures the change and not the noise
//! (common random numbers). Keying by entity id or thread would tie the numbers to spawn order or
//! scheduling; keying by the *name* in the plant file and the purpose ("process", "failure", ...)
//! does not.
//!
//! Why our own generator and samplers rather than `rand`/`rand_distr`: a seed must give the same
//! numbers for the lifetime of a study archive. Upstream crates may change an algorithm in a minor
//! release (rand_distr has), which would silently change every result. xoshiro256++ and the
//! textbook samplers below are small and fixed here.

/// A 64-bit FNV-1a hash: stable across platforms, releases and runs (unlike `std`'s `Hasher`s,
/// whose output Rust does not promise to keep).
fn fnv1a(bytes: &[u8], mut h: u64) -> u64 {
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// SplitMix64 step: spreads a 64-bit state into well-mixed output (used for seeding).
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The identity of a random stream: which run, which model element, which purpose.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StreamKey<'a> {
    /// The run's seed (for replication r of seed s, see [`replication_seed`]).
    pub seed: u64,
    /// A stable name from the model (a station's name), never an entity id.
    pub name: &'a str,
    /// What the draws are for ("process", "failure", "repair", ...).
    pub purpose: &'a str,
}

/// The seed of replication `rep` (0-based) of a run seeded with `seed`.
pub fn replication_seed(seed: u64, rep: u64) -> u64 {
    let mut s = seed ^ rep.wrapping_mul(0xD1B5_4A32_D192_ED03);
    splitmix64(&mut s)
}

/// A xoshiro256++ generator: fast, 2^256 − 1 period, passes BigCrush.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RngStream {
    s: [u64; 4],
}

impl RngStream {
    /// The stream for `key`. Same key ⇒ same sequence, on every platform.
    pub fn new(key: StreamKey<'_>) -> RngStream {
        let mut h = fnv1a(&key.seed.to_le_bytes(), 0xcbf2_9ce4_8422_2325);
        h = fnv1a(key.name.as_bytes(), h);
        // A separator byte keeps ("ab","c") and ("a","bc") apart.
        h = fnv1a(&[0xff], h);
        h = fnv1a(key.purpose.as_bytes(), h);
        Self::from_seed(h)
    }

    /// A stream seeded directly from a 64-bit value.
    pub fn from_seed(seed: u64) -> RngStream {
        let mut sm = seed;
        let s = [
            splitmix64(&mut sm),
            splitmix64(&mut sm),
            splitmix64(&mut sm),
            splitmix64(&mut sm),
        ];
        RngStream { s }
    }

    /// The generator's state: its position in the stream (for saving a run).
    pub fn words(&self) -> [u64; 4] {
        self.s
    }

    /// The stream at the position `words` (from [`RngStream::words`]); `None` for the all-zero
    /// state, which xoshiro256++ cannot leave.
    pub fn from_words(words: [u64; 4]) -> Option<RngStream> {
        (words != [0; 4]).then_some(RngStream { s: words })
    }

    /// The next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// A uniform draw in the open interval (0, 1): never 0, so `ln(u)` is always finite.
    #[inline]
    pub fn uniform_open(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64)
    }

    /// A standard normal draw (Box–Muller; the second value is discarded so the stream's
    /// position depends only on the number of draws).
    pub fn standard_normal(&mut self) -> f64 {
        let u1 = self.uniform_open();
        let u2 = self.uniform_open();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// A Bernoulli draw with success probability `p`.
    #[inline]
    pub fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.uniform_open() < p
    }
}

/// Right edge of the last rectangle before the tail.
const ZIG_EXP_R: f64 = 7.697_117_470_131_05;
/// Area of each layer.
#[cfg(test)]
const ZIG_EXP_V: f64 = 0.003_949_659_822_581_557;

mod residual;
mod ziggurat;
use ziggurat::{ZIG_EXP_F, ZIG_EXP_X};

/// The exponential ziggurat's tables (`X`, `F`) from their defining recurrence: layer i spans
/// heights `F[i]..F[i+1]` with area `V`, so `F[i+1] = V / X[i] + F[i]`. The sampler reads the
/// written-out copies [`ZIG_EXP_X`] and [`ZIG_EXP_F`]; this is their reference.
#[cfg(test)]
fn exp_ziggurat_tables() -> ([f64; 257], [f64; 257]) {
    let mut x = [0.0; 257];
    x[0] = ZIG_EXP_V / (-ZIG_EXP_R).exp();
    x[1] = ZIG_EXP_R;
    for i in 1..256 {
        x[i + 1] = -(ZIG_EXP_V / x[i] + (-x[i]).exp()).ln();
    }
    x[256] = 0.0;
    let mut f = [0.0; 257];
    for i in 0..257 {
        f[i] = (-x[i]).exp();
    }
    (x, f)
}

impl RngStream {
    /// A standard exponential draw (mean 1) by the ziggurat method: about 99% of draws cost one
    /// random word, a multiplication and a comparison (inlined into the caller); the rest fall
    /// back to exact tests out of line.
    #[inline]
    pub fn standard_exponential(&mut self) -> f64 {
        let bits = self.next_u64();
        let i = (bits & 0xff) as usize;
        let u = (bits >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
        let x = u * ZIG_EXP_X[i];
        if x < ZIG_EXP_X[i + 1] {
            return x;
        }
        self.standard_exponential_edge(i, x)
    }

    /// The ziggurat's rare cases: the draw `x` fell in layer `i` outside its inner rectangle.
    #[cold]
    #[inline(never)]
    fn standard_exponential_edge(&mut self, mut i: usize, mut x: f64) -> f64 {
        let (zx, zf) = (&ZIG_EXP_X, &ZIG_EXP_F);
        loop {
            if i == 0 {
                // The tail beyond R is again exponential (memorylessness).
                return ZIG_EXP_R - self.uniform_open().ln();
            }
            if zf[i + 1] + (zf[i] - zf[i + 1]) * self.uniform_open() < (-x).exp() {
                return x;
            }
            let bits = self.next_u64();
            i = (bits & 0xff) as usize;
            let u = (bits >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
            x = u * zx[i];
            if x < zx[i + 1] {
                return x;
            }
        }
    }
}

/// A probability distribution over non-negative values (durations in seconds, counts, ...).
///
/// Parameters are in the units of the variable (a lognormal's `mean` and `sd` are those of the
/// variable itself, not of its logarithm). Construct through [`Distribution::validate`]d values;
/// sampling assumes valid parameters.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Distribution {
    /// Always `value`.
    Constant { value: f64 },
    /// Uniform on `[min, max]`.
    Uniform { min: f64, max: f64 },
    /// Triangular on `[min, max]` with peak at `mode`.
    Triangular { min: f64, mode: f64, max: f64 },
    /// Exponential with the given mean (rate = 1/mean).
    Exponential { mean: f64 },
    /// Normal with `mean` and `sd`, truncated at 0 (conditioned on being >= 0, by rejection).
    Normal { mean: f64, sd: f64 },
    /// Lognormal with the given mean and standard deviation of the variable.
    Lognormal { mean: f64, sd: f64 },
    /// Gamma with shape `k` and scale `theta` (mean = k·theta). Erlang-k is integer `k`.
    Gamma { shape: f64, scale: f64 },
    /// Weibull with shape `k` and scale `lambda`.
    Weibull { shape: f64, scale: f64 },
    /// Empirical, built by [`Distribution::empirical`]. Discrete: `values[i]` with probability
    /// `cdf[i] − cdf[i−1]`. Continuous: `values` sorted, a piecewise-linear CDF through the
    /// points `(values[i], cdf[i])` with `cdf[0] = 0`.
    Empirical {
        values: Vec<f64>,
        cdf: Vec<f64>,
        continuous: bool,
    },
}

/// Why a distribution's parameters were refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct ParamError(pub String);

fn need(cond: bool, msg: impl FnOnce() -> String) -> Result<(), ParamError> {
    if cond { Ok(()) } else { Err(ParamError(msg())) }
}

impl Distribution {
    /// Checks the parameters: finite, non-negative support, ordered bounds, positive shapes.
    pub fn validate(&self) -> Result<(), ParamError> {
        use Distribution::*;
        let finite = |name: &str, v: f64| need(v.is_finite(), || format!("{name} must be finite, got {v}"));
        match self {
            Constant { value } => {
                finite("value", *value)?;
                need(*value >= 0.0, || format!("value must be >= 0, got {value}"))
            }
            Uniform { min, max } => {
                finite("min", *min)?;
                finite("max", *max)?;
                need(*min >= 0.0, || format!("min must be >= 0, got {min}"))?;
                need(min <= max, || format!("min ({min}) must be <= max ({max})"))
            }
            Triangular { min, mode, max } => {
                finite("min", *min)?;
                finite("mode", *mode)?;
                finite("max", *max)?;
                need(*min >= 0.0, || format!("min must be >= 0, got {min}"))?;
                need(min <= mode && mode <= max && min < max, || {
                    format!("need min <= mode <= max and min < max, got {min}, {mode}, {max}")
                })
            }
            Exponential { mean } => {
                finite("mean", *mean)?;
                need(*mean > 0.0, || format!("mean must be > 0, got {mean}"))
            }
            Normal { mean, sd } => {
                finite("mean", *mean)?;
                finite("sd", *sd)?;
                need(*sd >= 0.0, || format!("sd must be >= 0, got {sd}"))?;
                // Rejection below 0 must stay cheap: demand at least ~0.1% of the mass above 0.
                need(*mean > -3.0 * sd || *mean >= 0.0, || {
                    format!("mean ({mean}) is so far below 0 for sd {sd} that truncation at 0 leaves almost nothing")
                })?;
                need(*mean >= 0.0 || *sd > 0.0, || format!("mean must be >= 0, got {mean}"))
            }
            Lognormal { mean, sd } => {
                finite("mean", *mean)?;
                finite("sd", *sd)?;
                need(*mean > 0.0, || format!("mean must be > 0, got {mean}"))?;
                need(*sd >= 0.0, || format!("sd must be >= 0, got {sd}"))
            }
            Gamma { shape, scale } | Weibull { shape, scale } => {
                finite("shape", *shape)?;
                finite("scale", *scale)?;
                need(*shape > 0.0, || format!("shape must be > 0, got {shape}"))?;
                need(*scale > 0.0, || format!("scale must be > 0, got {scale}"))
            }
            Empirical { values, cdf, .. } => {
                need(!values.is_empty() && values.len() == cdf.len(), || {
                    "needs at least one value".to_string()
                })?;
                for v in values {
                    finite("value", *v)?;
                    need(*v >= 0.0, || format!("values must be >= 0, got {v}"))?;
                }
                need(
                    cdf.windows(2).all(|w| w[0] <= w[1]) && (cdf[cdf.len() - 1] - 1.0).abs() < 1e-9,
                    || "cumulative probabilities must rise to 1".to_string(),
                )
            }
        }
    }

    /// An empirical distribution from observed `values` with relative `weights` (equal weights
    /// if `None`): discrete, or with `continuous` a piecewise-linear CDF through the sorted
    /// values, where `weights[i]` is the probability mass between the (i−1)-th and i-th
    /// smallest value (the smallest value's weight is ignored). The CDF is built once here, so a
    /// draw costs a binary search.
    pub fn empirical(
        values: Vec<f64>,
        weights: Option<Vec<f64>>,
        continuous: bool,
    ) -> Result<Distribution, ParamError> {
        let weights = weights.unwrap_or_else(|| vec![1.0; values.len()]);
        need(!values.is_empty(), || "needs at least one value".to_string())?;
        need(values.len() == weights.len(), || {
            format!("{} values but {} weights", values.len(), weights.len())
        })?;
        for w in &weights {
            need(w.is_finite() && *w >= 0.0, || format!("weights must be >= 0, got {w}"))?;
        }
        let d = if continuous {
            let mut pairs: Vec<(f64, f64)> = values.into_iter().zip(weights).collect();
            pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
            let n = pairs.len();
            let total: f64 = pairs.iter().skip(1).map(|p| p.1).sum();
            let mut acc = 0.0;
            let mut cdf = Vec::with_capacity(n);
            for (i, p) in pairs.iter().enumerate() {
                if i > 0 {
                    acc += if total > 0.0 { p.1 / total } else { 1.0 / (n - 1) as f64 };
                }
                cdf.push(acc);
            }
            if n == 1 {
                cdf[0] = 1.0;
            } else {
                cdf[n - 1] = 1.0;
            }
            Distribution::Empirical {
                values: pairs.into_iter().map(|p| p.0).collect(),
                cdf,
                continuous: true,
            }
        } else {
            let total: f64 = weights.iter().sum();
            need(total > 0.0, || "weights sum to 0".to_string())?;
            let mut acc = 0.0;
            let mut cdf: Vec<f64> = weights
                .iter()
                .map(|w| {
                    acc += w / total;
                    acc
                })
                .collect();
            let last = cdf.len() - 1;
            cdf[last] = 1.0;
            Distribution::Empirical {
                values,
                cdf,
                continuous: false,
            }
        };
        d.validate()?;
        Ok(d)
    }

    /// The distribution's mean (of the truncated normal: its truncated mean).
    pub fn mean(&self) -> f64 {
        use Distribution::*;
        match self {
            Constant { value } => *value,
            Uniform { min, max } => 0.5 * (min + max),
            Triangular { min, mode, max } => (min + mode + max) / 3.0,
            Exponential { mean } | Lognormal { mean, .. } => *mean,
            Normal { mean, sd } => {
                if *sd == 0.0 {
                    return mean.max(0.0);
                }
                let a = -mean / sd;
                mean + sd * std_normal_pdf(a) / (1.0 - std_normal_cdf(a))
            }
            Gamma { shape, scale } => shape * scale,
            Weibull { shape, scale } => scale * gamma_fn(1.0 + 1.0 / shape),
            Empirical {
                values,
                cdf,
                continuous,
            } => {
                if *continuous && values.len() > 1 {
                    // Piecewise-linear CDF: the mean of each segment is its midpoint.
                    (1..values.len())
                        .map(|i| (cdf[i] - cdf[i - 1]) * 0.5 * (values[i] + values[i - 1]))
                        .sum()
                } else if *continuous {
                    values[0]
                } else {
                    let mut prev = 0.0;
                    values
                        .iter()
                        .zip(cdf)
                        .map(|(v, c)| {
                            let p = c - prev;
                            prev = *c;
                            v * p
                        })
                        .sum()
                }
            }
        }
    }

    /// One draw.
    ///
    /// The few families that a hot loop draws most (exponential, constant, uniform) are
    /// inlined into the caller; the rest go through one out-of-line function.
    #[inline]
    pub fn sample(&self, rng: &mut RngStream) -> f64 {
        match self {
            Distribution::Exponential { mean } => mean * rng.standard_exponential(),
            Distribution::Constant { value } => *value,
            _ => self.sample_other(rng),
        }
    }

    /// [`Distribution::sample`] for every family (the out-of-line part).
    #[inline(never)]
    fn sample_other(&self, rng: &mut RngStream) -> f64 {
        use Distribution::*;
        match self {
            Constant { value } => *value,
            Uniform { min, max } => min + (max - min) * rng.uniform_open(),
            Triangular { min, mode, max } => {
                let u = rng.uniform_open();
                let f = (mode - min) / (max - min);
                if u < f {
                    min + ((max - min) * (mode - min) * u).sqrt()
                } else {
                    max - ((max - min) * (max - mode) * (1.0 - u)).sqrt()
                }
            }
            Exponential { mean } => mean * rng.standard_exponential(),
            Normal { mean, sd } => loop {
                let x = mean + sd * rng.standard_normal();
                if x >= 0.0 {
                    break x;
                }
            },
            Lognormal { mean, sd } => {
                let s2 = (1.0 + (sd * sd) / (mean * mean)).ln();
                let mu = mean.ln() - 0.5 * s2;
                (mu + s2.sqrt() * rng.standard_normal()).exp()
            }
            Gamma { shape, scale } => scale * sample_gamma(*shape, rng),
            Weibull { shape, scale } => scale * (-rng.uniform_open().ln()).powf(1.0 / shape),
            Empirical {
                values,
                cdf,
                continuous,
            } => {
                let u = rng.uniform_open();
                if *continuous {
                    if values.len() == 1 {
                        return values[0];
                    }
                    let i = cdf.partition_point(|&x| x < u).clamp(1, values.len() - 1);
                    let span = cdf[i] - cdf[i - 1];
                    let frac = if span > 0.0 { (u - cdf[i - 1]) / span } else { 0.0 };
                    values[i - 1] + frac * (values[i] - values[i - 1])
                } else {
                    let i = cdf.partition_point(|&c| c <= u).min(values.len() - 1);
                    values[i]
                }
            }
        }
    }
}

/// Marsaglia–Tsang gamma sampler (shape >= 1), with the boost for shape < 1.
fn sample_gamma(shape: f64, rng: &mut RngStream) -> f64 {
    if shape < 1.0 {
        let u = rng.uniform_open();
        return sample_gamma(shape + 1.0, rng) * u.powf(1.0 / shape);
    }
    let d = shape - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let x = rng.standard_normal();
        let v = 1.0 + c * x;
        if v <= 0.0 {
            continue;
        }
        let v = v * v * v;
        let u = rng.uniform_open();
        if u < 1.0 - 0.0331 * x * x * x * x || u.ln() < 0.5 * x * x + d * (1.0 - v + v.ln()) {
            return d * v;
        }
    }
}

/// The gamma function Γ(x) for x > 0 (Lanczos, g = 7, n = 9; ~15 significant digits).
pub fn gamma_fn(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        return std::f64::consts::PI / ((std::f64::consts::PI * x).sin() * gamma_fn(1.0 - x));
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + G + 0.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    (2.0 * std::f64::consts::PI).sqrt() * t.powf(x + 0.5) * (-t).exp() * a
}

fn std_normal_pdf(x: f64) -> f64 {
    (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// Standard normal CDF via the complementary error function (Numerical Recipes erfc, ~1.2e-7).
pub fn std_normal_cdf(x: f64) -> f64 {
    let z = x.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 { 1.0 - 0.5 * r } else { 0.5 * r }
}

/// The standard normal's upper tail `1 − Φ(x)`, accurate far out in the tail.
fn std_normal_sf(x: f64) -> f64 {
    std_normal_cdf(-x)
}

/// The inverse of [`std_normal_sf`]: the `z` with `1 − Φ(z) = q`.
fn normal_quantile_upper(q: f64) -> f64 {
    -crate::stats::normal_quantile(q.clamp(f64::MIN_POSITIVE, 1.0 - f64::EPSILON))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key<'a>(seed: u64, name: &'a str, purpose: &'a str) -> StreamKey<'a> {
        StreamKey { seed, name, purpose }
    }

    #[test]
    fn written_out_ziggurat_tables_equal_their_recurrence() {
        let (x, f) = exp_ziggurat_tables();
        for i in 0..257 {
            assert_eq!(ZIG_EXP_X[i].to_bits(), x[i].to_bits(), "X[{i}]");
            assert_eq!(ZIG_EXP_F[i].to_bits(), f[i].to_bits(), "F[{i}]");
        }
    }

    #[test]
    fn streams_are_keyed_by_name_and_purpose() {
        let a1: Vec<u64> = {
            let mut r = RngStream::new(key(7, "Lathe", "process"));
            (0..4).map(|_| r.next_u64()).collect()
        };
        let a2: Vec<u64> = {
            let mut r = RngStream::new(key(7, "Lathe", "process"));
            (0..4).map(|_| r.next_u64()).collect()
        };
        let b: Vec<u64> = {
            let mut r = RngStream::new(key(7, "Lathe", "failure"));
            (0..4).map(|_| r.next_u64()).collect()
        };
        let c: Vec<u64> = {
            let mut r = RngStream::new(key(8, "Lathe", "process"));
            (0..4).map(|_| r.next_u64()).collect()
        };
        assert_eq!(a1, a2);
        assert_ne!(a1, b);
        assert_ne!(a1, c);
        assert_ne!(RngStream::new(key(1, "ab", "c")), RngStream::new(key(1, "a", "bc")));
    }

    /// Sample means and variances of 200k draws against the closed forms, within 5 standard
    /// errors of the mean (the variance check is looser: 5% relative).
    #[test]
    fn sample_moments_match_closed_forms() {
        let cases: Vec<(Distribution, f64)> = vec![
            (Distribution::Uniform { min: 2.0, max: 6.0 }, 16.0 / 12.0),
            (
                Distribution::Triangular {
                    min: 1.0,
                    mode: 2.0,
                    max: 6.0,
                },
                (1.0 + 4.0 + 36.0 - 2.0 - 6.0 - 12.0) / 18.0,
            ),
            (Distribution::Exponential { mean: 3.0 }, 9.0),
            (Distribution::Lognormal { mean: 55.0, sd: 8.0 }, 64.0),
            (Distribution::Gamma { shape: 3.0, scale: 2.0 }, 12.0),
            (Distribution::Gamma { shape: 0.5, scale: 2.0 }, 2.0),
            (
                Distribution::Weibull {
                    shape: 1.5,
                    scale: 10.0,
                },
                100.0 * (gamma_fn(1.0 + 2.0 / 1.5) - gamma_fn(1.0 + 1.0 / 1.5).powi(2)),
            ),
            (Distribution::Normal { mean: 10.0, sd: 2.0 }, 4.0),
            (
                Distribution::empirical(vec![1.0, 2.0, 4.0], Some(vec![1.0, 1.0, 2.0]), false).unwrap(),
                1.6875 + 0.0,
            ),
        ];
        for (d, var) in cases {
            d.validate().unwrap();
            let mut r = RngStream::from_seed(42);
            let n = 200_000;
            let xs: Vec<f64> = (0..n).map(|_| d.sample(&mut r)).collect();
            let m = xs.iter().sum::<f64>() / n as f64;
            let v = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1) as f64;
            let se = (var / n as f64).sqrt();
            assert!((m - d.mean()).abs() < 5.0 * se, "{d:?}: mean {m} vs {}", d.mean());
            assert!((v - var).abs() < 0.05 * var, "{d:?}: var {v} vs {var}");
            assert!(xs.iter().all(|&x| x >= 0.0));
        }
    }

    /// The ziggurat's tail and body: P(X > t) = exp(−t) for a standard exponential, checked at
    /// several t within 4 binomial standard errors over 4 million draws.
    #[test]
    fn ziggurat_exponential_survival_function() {
        let mut r = RngStream::from_seed(5);
        let n = 4_000_000;
        let ts = [0.01, 0.5, 1.0, 2.0, 4.0, 7.0, 7.697, 9.0];
        let mut counts = [0u64; 8];
        for _ in 0..n {
            let x = r.standard_exponential();
            assert!(x >= 0.0 && x.is_finite());
            for (c, t) in counts.iter_mut().zip(ts) {
                if x > t {
                    *c += 1;
                }
            }
        }
        for (c, t) in counts.iter().zip(ts) {
            let p = (-t).exp();
            let se = (p * (1.0 - p) / n as f64).sqrt();
            let got = *c as f64 / n as f64;
            assert!((got - p).abs() < 4.0 * se, "P(X > {t}) = {got}, expected {p}");
        }
    }

    #[test]
    fn ziggurat_layers_close_at_zero() {
        let (x, f) = (&ZIG_EXP_X, &ZIG_EXP_F);
        // R and V are consistent only if the recursion closes: the top layer, from F[255] up to
        // the density's peak 1, has the same area V as every other layer.
        let top = x[255] * (1.0 - f[255]);
        assert!(
            (top - ZIG_EXP_V).abs() < 1e-9 * ZIG_EXP_V.max(1.0),
            "top layer area {top} vs {ZIG_EXP_V}"
        );
        assert!(x.windows(2).all(|w| w[0] > w[1]));
    }

    #[test]
    fn truncated_normal_has_truncated_mean() {
        let d = Distribution::Normal { mean: 1.0, sd: 2.0 };
        let mut r = RngStream::from_seed(3);
        let n = 200_000;
        let m = (0..n).map(|_| d.sample(&mut r)).sum::<f64>() / n as f64;
        assert!((m - d.mean()).abs() < 0.02, "{m} vs {}", d.mean());
    }

    #[test]
    fn continuous_empirical_interpolates() {
        let d = Distribution::empirical(vec![10.0, 0.0], None, true).unwrap();
        assert_eq!(d.mean(), 5.0);
        let mut r = RngStream::from_seed(1);
        let m = (0..100_000).map(|_| d.sample(&mut r)).sum::<f64>() / 100_000.0;
        assert!((m - 5.0).abs() < 0.1);
    }

    #[test]
    fn empirical_weights_and_degenerate_cases() {
        // Continuous with uneven mass: 3/4 of it between 0 and 1, 1/4 between 1 and 9.
        let d = Distribution::empirical(vec![0.0, 1.0, 9.0], Some(vec![0.0, 3.0, 1.0]), true).unwrap();
        assert!((d.mean() - (0.75 * 0.5 + 0.25 * 5.0)).abs() < 1e-12);
        let one = Distribution::empirical(vec![4.0], None, true).unwrap();
        assert_eq!(one.sample(&mut RngStream::from_seed(1)), 4.0);
        let disc = Distribution::empirical(vec![4.0], None, false).unwrap();
        assert_eq!((disc.mean(), disc.sample(&mut RngStream::from_seed(1))), (4.0, 4.0));
        assert!(Distribution::empirical(vec![], None, false).is_err());
        assert!(Distribution::empirical(vec![1.0, 2.0], Some(vec![0.0, 0.0]), false).is_err());
        assert!(Distribution::empirical(vec![1.0], Some(vec![1.0, 2.0]), false).is_err());
        assert!(Distribution::empirical(vec![-1.0], None, false).is_err());
    }

    #[test]
    fn refuses_bad_parameters() {
        assert!(Distribution::Exponential { mean: -1.0 }.validate().is_err());
        assert!(Distribution::Uniform { min: 5.0, max: 1.0 }.validate().is_err());
        assert!(Distribution::Lognormal { mean: 0.0, sd: 1.0 }.validate().is_err());
        assert!(Distribution::Weibull { shape: 0.0, scale: 1.0 }.validate().is_err());
        assert!(Distribution::Normal { mean: -10.0, sd: 1.0 }.validate().is_err());
    }

    #[test]
    fn gamma_function_known_values() {
        assert!((gamma_fn(5.0) - 24.0).abs() < 1e-9);
        assert!((gamma_fn(0.5) - std::f64::consts::PI.sqrt()).abs() < 1e-12);
        assert!((std_normal_cdf(1.96) - 0.975).abs() < 1e-4);
    }
}
