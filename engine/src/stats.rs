//! Statistics collectors: tallies of observations, time-weighted levels, batch means, and
//! confidence intervals. All of them keep bounded memory whatever the run length.

/// Mantissa bits kept per bin: 2^7 bins per power of two, so a bin is at most 0.78% wide and a
/// quantile is within ±0.4% of an observed value.
const MANTISSA_BITS: u32 = 7;
const BIN_SHIFT: u32 = 52 - MANTISSA_BITS;
/// Values at or below this are counted in the histogram's zero bin (e.g. a wait of 0).
const ZERO_EPS: f64 = 1e-12;

/// A log-binned histogram for quantiles of non-negative observations.
///
/// The bin of a positive `x` is its IEEE-754 exponent and top 7 mantissa bits (HDR-histogram
/// style): one shift instead of a logarithm, about 420 bins per decade of range, and memory
/// that grows with the *range* of values, never with their count. Histograms of replications
/// merge exactly.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LogHistogram {
    zeros: u64,
    offset: i64,
    bins: Vec<u64>,
    count: u64,
}

/// The raw state of a [`LogHistogram`], for saving and restoring a run (see `TwinState` in
/// twins): plain fields, so that the engine needs no serialization library.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LogHistogramRaw {
    /// Observations at or below zero.
    pub zeros: u64,
    /// Bin number of `bins[0]`.
    pub offset: i64,
    /// Counts per bin.
    pub bins: Vec<u64>,
    /// All observations.
    pub count: u64,
}

impl LogHistogram {
    /// Its raw state.
    pub fn to_raw(&self) -> LogHistogramRaw {
        LogHistogramRaw {
            zeros: self.zeros,
            offset: self.offset,
            bins: self.bins.clone(),
            count: self.count,
        }
    }

    /// The histogram whose raw state is `r`.
    pub fn from_raw(r: LogHistogramRaw) -> LogHistogram {
        LogHistogram {
            zeros: r.zeros,
            offset: r.offset,
            bins: r.bins,
            count: r.count,
        }
    }

    #[inline]
    fn bin_of(x: f64) -> i64 {
        (x.to_bits() >> BIN_SHIFT) as i64
    }

    /// Records one observation (negative values count as 0).
    #[inline]
    pub fn record(&mut self, x: f64) {
        self.count += 1;
        if x <= ZERO_EPS || !x.is_finite() {
            self.zeros += 1;
            return;
        }
        let b = Self::bin_of(x);
        let i = b - self.offset;
        if !self.bins.is_empty() && i >= 0 && (i as usize) < self.bins.len() {
            self.bins[i as usize] += 1;
        } else {
            self.add_bin(b, 1);
        }
    }

    /// Adds `c` to bin `b`, growing the bin range as needed (the rare path).
    fn add_bin(&mut self, b: i64, c: u64) {
        if self.bins.is_empty() {
            self.offset = b;
            self.bins.push(0);
        }
        if b < self.offset {
            let grow = (self.offset - b) as usize;
            self.bins.splice(0..0, std::iter::repeat_n(0, grow));
            self.offset = b;
        }
        let i = (b - self.offset) as usize;
        if i >= self.bins.len() {
            self.bins.resize(i + 1, 0);
        }
        self.bins[i] += c;
    }

    /// The `q`-quantile (0 <= q <= 1), or `None` with no observations.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let rank = (q.clamp(0.0, 1.0) * self.count as f64).ceil().max(1.0) as u64;
        if rank <= self.zeros {
            return Some(0.0);
        }
        let mut seen = self.zeros;
        for (i, &c) in self.bins.iter().enumerate() {
            seen += c;
            if seen >= rank {
                let b = (self.offset + i as i64) as u64;
                let lo = f64::from_bits(b << BIN_SHIFT);
                let hi = f64::from_bits((b + 1) << BIN_SHIFT);
                return Some(0.5 * (lo + hi));
            }
        }
        None
    }

    /// Adds another histogram's counts to this one.
    pub fn merge(&mut self, other: &LogHistogram) {
        self.zeros += other.zeros;
        self.count += other.count;
        for (i, &c) in other.bins.iter().enumerate() {
            if c > 0 {
                self.add_bin(other.offset + i as i64, c);
            }
        }
    }
}

/// A tally of observations: count, mean, variance, min, max and quantiles.
///
/// Sums are kept *shifted* by the first observation (`Σ(x − x₀)`, `Σ(x − x₀)²`): this has no
/// division on the hot path (Welford's update divides on every record, which was measurable in
/// the flow-line benchmark) and, unlike raw sums of squares, no catastrophic cancellation when
/// the values are large compared with their spread.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tally {
    n: u64,
    shift: f64,
    sum: f64,
    sum_sq: f64,
    min: f64,
    max: f64,
    hist: Option<LogHistogram>,
}

/// The raw state of a [`Tally`] (see [`LogHistogramRaw`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TallyRaw {
    /// Observations.
    pub n: u64,
    /// The first observation, by which the sums are shifted.
    pub shift: f64,
    /// Σ(x − shift).
    pub sum: f64,
    /// Σ(x − shift)².
    pub sum_sq: f64,
    /// Smallest observation.
    pub min: f64,
    /// Largest observation.
    pub max: f64,
    /// The quantile histogram, if kept.
    pub hist: Option<LogHistogramRaw>,
}

impl Tally {
    /// Its raw state.
    pub fn to_raw(&self) -> TallyRaw {
        TallyRaw {
            n: self.n,
            shift: self.shift,
            sum: self.sum,
            sum_sq: self.sum_sq,
            min: self.min,
            max: self.max,
            hist: self.hist.as_ref().map(LogHistogram::to_raw),
        }
    }

    /// The tally whose raw state is `r`.
    pub fn from_raw(r: TallyRaw) -> Tally {
        Tally {
            n: r.n,
            shift: r.shift,
            sum: r.sum,
            sum_sq: r.sum_sq,
            min: r.min,
            max: r.max,
            hist: r.hist.map(LogHistogram::from_raw),
        }
    }

    /// A tally without quantiles (cheapest).
    pub fn new() -> Tally {
        Tally::default()
    }

    /// A tally that also keeps a [`LogHistogram`] for quantiles.
    pub fn with_quantiles() -> Tally {
        Tally {
            hist: Some(LogHistogram::default()),
            ..Tally::default()
        }
    }

    /// Records one observation.
    #[inline]
    pub fn record(&mut self, x: f64) {
        if self.n == 0 {
            self.shift = x;
            self.min = x;
            self.max = x;
        } else {
            self.min = self.min.min(x);
            self.max = self.max.max(x);
        }
        self.n += 1;
        let d = x - self.shift;
        self.sum += d;
        self.sum_sq += d * d;
        if let Some(h) = &mut self.hist {
            h.record(x);
        }
    }

    /// Forgets all observations (keeps whether quantiles are tracked).
    pub fn reset(&mut self) {
        let keep_hist = self.hist.is_some();
        *self = if keep_hist {
            Tally::with_quantiles()
        } else {
            Tally::new()
        };
    }

    /// Number of observations.
    pub fn count(&self) -> u64 {
        self.n
    }
    /// Sample mean (0 with no observations).
    pub fn mean(&self) -> f64 {
        if self.n == 0 {
            0.0
        } else {
            self.shift + self.sum / self.n as f64
        }
    }
    /// Sample variance (n − 1 denominator; 0 with fewer than 2 observations).
    pub fn variance(&self) -> f64 {
        if self.n < 2 {
            return 0.0;
        }
        let n = self.n as f64;
        ((self.sum_sq - self.sum * self.sum / n) / (n - 1.0)).max(0.0)
    }
    /// Sample standard deviation.
    pub fn sd(&self) -> f64 {
        self.variance().sqrt()
    }
    /// Smallest observation (0 with none).
    pub fn min(&self) -> f64 {
        self.min
    }
    /// Largest observation (0 with none).
    pub fn max(&self) -> f64 {
        self.max
    }
    /// The `q`-quantile, if quantiles are tracked and there are observations.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        self.hist.as_ref()?.quantile(q)
    }

    /// Merges another tally into this one.
    pub fn merge(&mut self, o: &Tally) {
        if o.n == 0 {
            return;
        }
        if self.n == 0 {
            let hist = self.hist.take();
            *self = o.clone();
            if let (Some(mut h), Some(oh)) = (hist, &o.hist) {
                h.merge(oh);
                self.hist = Some(h);
            }
            return;
        }
        // Re-express the other tally's sums around this tally's shift.
        let delta = o.shift - self.shift;
        let m = o.n as f64;
        self.sum_sq += o.sum_sq + 2.0 * delta * o.sum + m * delta * delta;
        self.sum += o.sum + m * delta;
        self.n += o.n;
        self.min = self.min.min(o.min);
        self.max = self.max.max(o.max);
        if let (Some(h), Some(oh)) = (&mut self.hist, &o.hist) {
            h.merge(oh);
        }
    }
}

/// A time-weighted level (queue length, WIP, machines busy): the time average of a step function.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TimeWeighted {
    level: f64,
    last: f64,
    start: f64,
    area: f64,
    max: f64,
}

/// The raw state of a [`TimeWeighted`] level (see [`LogHistogramRaw`]).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TimeWeightedRaw {
    /// The current level.
    pub level: f64,
    /// When it last changed [s].
    pub last: f64,
    /// Start of the averaging (the last reset) [s].
    pub start: f64,
    /// ∫ level dt from `start` to `last`.
    pub area: f64,
    /// The largest level since `start`.
    pub max: f64,
}

impl TimeWeighted {
    /// Its raw state.
    pub fn to_raw(&self) -> TimeWeightedRaw {
        TimeWeightedRaw {
            level: self.level,
            last: self.last,
            start: self.start,
            area: self.area,
            max: self.max,
        }
    }

    /// The level whose raw state is `r`.
    pub fn from_raw(r: TimeWeightedRaw) -> TimeWeighted {
        TimeWeighted {
            level: r.level,
            last: r.last,
            start: r.start,
            area: r.area,
            max: r.max,
        }
    }

    /// A level starting at `level` at time `t` [s].
    pub fn new(t: f64, level: f64) -> TimeWeighted {
        TimeWeighted {
            level,
            last: t,
            start: t,
            area: 0.0,
            max: level,
        }
    }

    /// Sets the level at time `t` [s] (t must not go backwards).
    #[inline]
    pub fn set(&mut self, t: f64, level: f64) {
        self.area += self.level * (t - self.last);
        self.last = t;
        self.level = level;
        if level > self.max {
            self.max = level;
        }
    }

    /// Adds `delta` to the level at time `t` [s].
    #[inline]
    pub fn add(&mut self, t: f64, delta: f64) {
        let l = self.level + delta;
        self.set(t, l);
    }

    /// The current level.
    pub fn level(&self) -> f64 {
        self.level
    }

    /// The time average from the last reset up to `t` [s].
    pub fn mean(&self, t: f64) -> f64 {
        let span = t - self.start;
        if span <= 0.0 {
            return self.level;
        }
        (self.area + self.level * (t - self.last)) / span
    }

    /// The largest level since the last reset.
    pub fn max(&self) -> f64 {
        self.max
    }

    /// Forgets the history before `t` [s], keeping the current level (end of warm-up).
    pub fn reset(&mut self, t: f64) {
        *self = TimeWeighted::new(t, self.level);
    }
}

/// Batch means for the confidence interval of a steady-state mean from one long, autocorrelated
/// run. Observations are grouped into consecutive batches; the batch averages are nearly
/// independent once batches are long compared with the correlation time.
///
/// Memory is bounded: when the number of batches reaches `2 × target`, neighbouring batches are
/// merged pairwise and the batch size doubles, so the final number of batches is between
/// `target` and `2 × target` whatever the run length.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchMeans {
    target: usize,
    batch_size: u64,
    current_sum: f64,
    current_n: u64,
    batches: Vec<f64>,
    total_sum: f64,
    total_n: u64,
}

/// The raw state of [`BatchMeans`] (see [`LogHistogramRaw`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BatchMeansRaw {
    /// Aimed-at number of batches.
    pub target: usize,
    /// Observations per batch.
    pub batch_size: u64,
    /// Sum of the batch being filled.
    pub current_sum: f64,
    /// Observations in the batch being filled.
    pub current_n: u64,
    /// Completed batch averages.
    pub batches: Vec<f64>,
    /// Sum of the completed batches' observations.
    pub total_sum: f64,
    /// Observations in completed batches.
    pub total_n: u64,
}

impl BatchMeans {
    /// Its raw state.
    pub fn to_raw(&self) -> BatchMeansRaw {
        BatchMeansRaw {
            target: self.target,
            batch_size: self.batch_size,
            current_sum: self.current_sum,
            current_n: self.current_n,
            batches: self.batches.clone(),
            total_sum: self.total_sum,
            total_n: self.total_n,
        }
    }

    /// The batch means whose raw state is `r` (a batch size of 0 or a target below 2 is raised
    /// to the smallest valid value).
    pub fn from_raw(r: BatchMeansRaw) -> BatchMeans {
        BatchMeans {
            target: r.target.max(2),
            batch_size: r.batch_size.max(1),
            current_sum: r.current_sum,
            current_n: r.current_n,
            batches: r.batches,
            total_sum: r.total_sum,
            total_n: r.total_n,
        }
    }

    /// Batch means aiming at between `target` and `2 × target` batches (`target >= 2`).
    pub fn new(target: usize) -> BatchMeans {
        BatchMeans {
            target: target.max(2),
            batch_size: 1,
            current_sum: 0.0,
            current_n: 0,
            batches: Vec::new(),
            total_sum: 0.0,
            total_n: 0,
        }
    }

    /// Number of observations (including a partial last batch).
    pub fn count(&self) -> u64 {
        self.total_n + self.current_n
    }

    /// Mean of all observations (including a partial last batch; 0 with none).
    pub fn mean(&self) -> f64 {
        let n = self.count();
        if n == 0 {
            0.0
        } else {
            (self.total_sum + self.current_sum) / n as f64
        }
    }

    /// Records one observation.
    #[inline]
    pub fn record(&mut self, x: f64) {
        self.current_sum += x;
        self.current_n += 1;
        if self.current_n == self.batch_size {
            self.batches.push(self.current_sum / self.batch_size as f64);
            self.total_sum += self.current_sum;
            self.total_n += self.current_n;
            self.current_sum = 0.0;
            self.current_n = 0;
            if self.batches.len() == 2 * self.target {
                let merged: Vec<f64> = self.batches.chunks(2).map(|p| 0.5 * (p[0] + p[1])).collect();
                self.batches = merged;
                self.batch_size *= 2;
            }
        }
    }

    /// Forgets everything (end of warm-up).
    pub fn reset(&mut self) {
        *self = BatchMeans::new(self.target);
    }

    /// The completed batch averages (a partial last batch is left out).
    pub fn batches(&self) -> &[f64] {
        &self.batches
    }

    /// Mean and 95% confidence interval from the completed batches (`None` with < 2 batches).
    pub fn interval(&self) -> Option<Interval> {
        Interval::from_samples(&self.batches, 0.95)
    }
}

/// A mean with a symmetric confidence interval: `mean ± half_width`.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct Interval {
    /// The point estimate.
    pub mean: f64,
    /// Half-width of the interval at the stated level (0 with a single sample).
    pub half_width: f64,
    /// Standard error of the mean.
    pub std_error: f64,
    /// Number of (independent) samples behind it.
    pub n: u64,
}

impl Interval {
    /// Student-t interval of the mean of independent `samples` at confidence `level` (0.95 or 0.99).
    /// With one sample the half-width is 0 (no spread can be estimated); `None` with none.
    pub fn from_samples(samples: &[f64], level: f64) -> Option<Interval> {
        let n = samples.len();
        if n == 0 {
            return None;
        }
        let mut t = Tally::new();
        for &x in samples {
            t.record(x);
        }
        if n == 1 {
            return Some(Interval {
                mean: t.mean(),
                half_width: 0.0,
                std_error: 0.0,
                n: 1,
            });
        }
        let se = t.sd() / (n as f64).sqrt();
        Some(Interval {
            mean: t.mean(),
            half_width: student_t_quantile(1.0 - (1.0 - level) / 2.0, (n - 1) as u32) * se,
            std_error: se,
            n: n as u64,
        })
    }

    /// Whether `x` lies inside the interval.
    pub fn contains(&self, x: f64) -> bool {
        (x - self.mean).abs() <= self.half_width
    }
}

/// Quantile of Student's t distribution with `df` degrees of freedom, for p in (0, 1).
///
/// Computed by `statrs` (the inverse of the regularized incomplete beta function), which agrees
/// with scipy to ~1e-12 relative for p up to 0.9999 and df from 1 to 1000
/// (`engine/tests/t_quantile.rs`, reference values from `scripts/t_quantiles.py`). `df = 0`
/// gives infinity (no spread can be estimated from one value).
pub fn student_t_quantile(p: f64, df: u32) -> f64 {
    use statrs::distribution::{ContinuousCDF, StudentsT};
    if df == 0 || p >= 1.0 {
        return f64::INFINITY;
    }
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p == 0.5 {
        return 0.0;
    }
    if p < 0.5 {
        return -student_t_quantile(1.0 - p, df);
    }
    match StudentsT::new(0.0, 1.0, f64::from(df)) {
        Ok(t) => t.inverse_cdf(p),
        Err(_) => f64::NAN,
    }
}

/// Quantile of the standard normal distribution (Acklam's rational approximation, ~1e-9).
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let plow = 0.02425;
    if p < plow {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - plow {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        -normal_quantile(1.0 - p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::{Distribution, RngStream};

    #[test]
    fn t_quantiles_match_tables() {
        // Published two-sided 95% critical values.
        for (df, t) in [
            (1, 12.706),
            (2, 4.303),
            (3, 3.182),
            (4, 2.776),
            (9, 2.262),
            (19, 2.093),
            (29, 2.045),
            (120, 1.980),
        ] {
            let q = student_t_quantile(0.975, df);
            assert!((q - t).abs() < 2e-3 * t.max(1.0), "df {df}: {q} vs {t}");
        }
        assert!((normal_quantile(0.975) - 1.959_964).abs() < 1e-6);
    }

    #[test]
    fn tally_moments_and_merge() {
        let xs: Vec<f64> = (1..=100).map(|i| i as f64).collect();
        let mut all = Tally::with_quantiles();
        let (mut a, mut b) = (Tally::with_quantiles(), Tally::with_quantiles());
        for (i, &x) in xs.iter().enumerate() {
            all.record(x);
            if i < 37 { a.record(x) } else { b.record(x) }
        }
        a.merge(&b);
        assert_eq!(a.count(), 100);
        assert!((a.mean() - 50.5).abs() < 1e-12);
        assert!((a.variance() - all.variance()).abs() < 1e-9);
        assert_eq!((a.min(), a.max()), (1.0, 100.0));
        let p50 = a.quantile(0.5).unwrap();
        assert!((p50 - 50.0).abs() <= 0.004 * 50.0 + 1e-9, "{p50}");
        assert_eq!(a.quantile(0.5), all.quantile(0.5));
    }

    /// Exponential(mean 2) quantiles: -2 ln(1-q), within the histogram's ±0.5% plus sampling noise.
    #[test]
    fn quantiles_of_an_exponential() {
        let d = Distribution::Exponential { mean: 2.0 };
        let mut r = RngStream::from_seed(11);
        let mut t = Tally::with_quantiles();
        for _ in 0..400_000 {
            t.record(d.sample(&mut r));
        }
        for q in [0.5, 0.95] {
            let exact = -2.0 * (1.0f64 - q).ln();
            let got = t.quantile(q).unwrap();
            assert!((got - exact).abs() / exact < 0.015, "q{q}: {got} vs {exact}");
        }
    }

    #[test]
    fn time_weighted_average() {
        let mut w = TimeWeighted::new(0.0, 0.0);
        w.set(1.0, 2.0);
        w.set(3.0, 1.0);
        assert!((w.mean(4.0) - (0.0 + 4.0 + 1.0) / 4.0).abs() < 1e-12);
        w.reset(4.0);
        assert!((w.mean(6.0) - 1.0).abs() < 1e-12);
    }

    /// For i.i.d. normal data the batch-means interval must cover the true mean about 95% of the
    /// time: over 400 independent runs, coverage within 3 binomial standard errors of 0.95.
    #[test]
    fn batch_means_interval_covers() {
        let d = Distribution::Normal { mean: 50.0, sd: 5.0 };
        let runs = 400;
        let mut covered = 0;
        for s in 0..runs {
            let mut r = RngStream::from_seed(1000 + s);
            let mut b = BatchMeans::new(20);
            for _ in 0..5_000 {
                b.record(d.sample(&mut r));
            }
            let n = b.batches().len();
            assert!((20..40).contains(&n), "{n} batches");
            if b.interval().unwrap().contains(50.0) {
                covered += 1;
            }
        }
        let p = covered as f64 / runs as f64;
        let se = (0.95f64 * 0.05 / runs as f64).sqrt();
        assert!((p - 0.95).abs() < 3.0 * se, "coverage {p}");
    }
}
