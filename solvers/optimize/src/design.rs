//! Space-filling initial designs.

use crate::rng::Rng;

/// A randomized Latin hypercube of `n` points in `[0, 1]^d`: each axis is cut
/// into `n` equal strata, every stratum holds exactly one point, the strata
/// are matched across axes by independent random permutations and each point
/// sits at a uniform position inside its stratum.
pub fn latin_hypercube(n: usize, d: usize, rng: &mut Rng) -> Vec<Vec<f64>> {
    let mut points = vec![vec![0.0; d]; n];
    for j in 0..d {
        let perm = rng.permutation(n);
        for (i, p) in points.iter_mut().enumerate() {
            p[j] = (perm[i] as f64 + rng.unit()) / n as f64;
        }
    }
    points
}

/// The default initial design size for `d` variables: `max(2d + 1, 5)`.
pub fn default_size(d: usize) -> usize {
    (2 * d + 1).max(5)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stratum_holds_one_point() {
        let mut rng = Rng::new(3);
        let pts = latin_hypercube(7, 3, &mut rng);
        for j in 0..3 {
            let mut strata: Vec<usize> = pts.iter().map(|p| (p[j] * 7.0) as usize).collect();
            strata.sort_unstable();
            assert_eq!(strata, (0..7).collect::<Vec<_>>());
        }
    }
}
