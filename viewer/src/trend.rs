//! A time series with bounded memory: when it holds `capacity` points, neighbouring pairs are
//! merged (averaged) and later points are averaged in groups twice as large, so the whole run
//! stays visible at a resolution that halves as it grows.

/// A bounded time series of `(t [s], value)` points.
#[derive(Clone, Debug)]
pub struct Trend {
    points: Vec<[f64; 2]>,
    capacity: usize,
    /// Raw samples averaged into one point.
    stride: usize,
    /// Sum of the samples of the point being filled, and how many.
    pending: ([f64; 2], usize),
}

impl Trend {
    /// An empty series of at most `capacity` points (rounded up to an even number ≥ 2).
    pub fn new(capacity: usize) -> Trend {
        Trend {
            points: Vec::new(),
            capacity: capacity.max(2).next_multiple_of(2),
            stride: 1,
            pending: ([0.0; 2], 0),
        }
    }

    /// Adds a sample.
    pub fn push(&mut self, t_s: f64, value: f64) {
        let (sum, n) = &mut self.pending;
        sum[0] += t_s;
        sum[1] += value;
        *n += 1;
        if *n < self.stride {
            return;
        }
        let k = *n as f64;
        self.points.push([sum[0] / k, sum[1] / k]);
        self.pending = ([0.0; 2], 0);
        if self.points.len() == self.capacity {
            self.points = self
                .points
                .chunks_exact(2)
                .map(|p| [(p[0][0] + p[1][0]) / 2.0, (p[0][1] + p[1][1]) / 2.0])
                .collect();
            self.stride *= 2;
        }
    }

    /// The points, oldest first.
    pub fn points(&self) -> &[[f64; 2]] {
        &self.points
    }

    /// The latest point.
    pub fn last(&self) -> Option<[f64; 2]> {
        self.points.last().copied()
    }

    /// Samples per point now.
    pub fn stride(&self) -> usize {
        self.stride
    }

    /// Forgets every point.
    pub fn clear(&mut self) {
        *self = Trend::new(self.capacity);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_million_samples_stay_within_capacity_and_keep_the_mean() {
        let mut tr = Trend::new(512);
        for i in 0..1_000_000 {
            tr.push(i as f64, (i % 10) as f64);
            assert!(tr.points().len() < 512);
        }
        assert!(tr.points().len() >= 256 - 1, "{}", tr.points().len());
        // Averaging groups of a power of two of the 0..9 cycle keeps the mean 4.5.
        let mean = tr.points().iter().map(|p| p[1]).sum::<f64>() / tr.points().len() as f64;
        assert!((mean - 4.5).abs() < 0.05, "{mean}");
        // The series still covers the whole run, in order.
        let first = tr.points()[0][0];
        let last = tr.last().unwrap()[0];
        assert!(first < 5_000.0 && last > 990_000.0, "{first} {last}");
        assert!(tr.points().windows(2).all(|w| w[0][0] < w[1][0]));
    }

    #[test]
    fn few_samples_are_kept_as_they_are() {
        let mut tr = Trend::new(8);
        tr.push(1.0, 10.0);
        tr.push(2.0, 20.0);
        assert_eq!(tr.points(), &[[1.0, 10.0], [2.0, 20.0]]);
        assert_eq!(tr.stride(), 1);
    }
}
