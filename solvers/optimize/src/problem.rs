//! The search space: one bound per variable, continuous or integer, and the
//! map between a variable's own units and the unit cube the optimizers work in.

use thiserror::Error;

/// One decision variable.
#[derive(Clone, Debug, PartialEq)]
pub enum Variable {
    /// A real number in `[lo, hi]`, in the variable's own units.
    Continuous { lo: f64, hi: f64 },
    /// A whole number in `lo..=hi`; the objective always sees a value that is
    /// an integer (as an `f64`).
    Integer { lo: i64, hi: i64 },
}

/// A problem is malformed.
#[derive(Clone, Debug, Error, PartialEq)]
#[non_exhaustive]
pub enum ProblemError {
    /// The problem has no variables.
    #[error("problem: needs at least one variable")]
    NoVariables,
    /// A bound is not finite or `lo >= hi`.
    #[error("variable {index}: bounds must be finite with lo < hi, got [{lo}, {hi}]")]
    BadBounds { index: usize, lo: f64, hi: f64 },
    /// The budget is zero.
    #[error("budget: must be >= 1 evaluation, got 0")]
    ZeroBudget,
}

/// A minimization problem's search space. The objective lives apart from it
/// (see [`Objective`](crate::Objective)), so that one space serves several
/// objectives.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    variables: Vec<Variable>,
}

impl Problem {
    /// A space from its variables; every bound must be finite with `lo < hi`.
    pub fn new(variables: Vec<Variable>) -> Result<Self, ProblemError> {
        if variables.is_empty() {
            return Err(ProblemError::NoVariables);
        }
        for (index, v) in variables.iter().enumerate() {
            let (lo, hi) = match *v {
                Variable::Continuous { lo, hi } => (lo, hi),
                Variable::Integer { lo, hi } => (lo as f64, hi as f64),
            };
            if !(lo.is_finite() && hi.is_finite() && lo < hi) {
                return Err(ProblemError::BadBounds { index, lo, hi });
            }
        }
        Ok(Problem { variables })
    }

    /// A space of continuous variables, one `(lo, hi)` pair each.
    pub fn continuous(bounds: &[(f64, f64)]) -> Result<Self, ProblemError> {
        Problem::new(bounds.iter().map(|&(lo, hi)| Variable::Continuous { lo, hi }).collect())
    }

    /// The variables, in order.
    pub fn variables(&self) -> &[Variable] {
        &self.variables
    }

    /// The number of variables.
    pub fn dim(&self) -> usize {
        self.variables.len()
    }

    /// The point of the space at unit-cube coordinates `u` (clamped to
    /// `[0, 1]`); integer variables are rounded to the nearest whole number.
    pub fn from_unit(&self, u: &[f64]) -> Vec<f64> {
        self.variables
            .iter()
            .zip(u)
            .map(|(v, &t)| {
                let t = t.clamp(0.0, 1.0);
                match *v {
                    Variable::Continuous { lo, hi } => (lo + t * (hi - lo)).clamp(lo, hi),
                    Variable::Integer { lo, hi } => {
                        (lo as f64 + t * (hi - lo) as f64).round().clamp(lo as f64, hi as f64)
                    }
                }
            })
            .collect()
    }

    /// The unit-cube coordinates of the point `x`.
    pub fn to_unit(&self, x: &[f64]) -> Vec<f64> {
        self.variables
            .iter()
            .zip(x)
            .map(|(v, &xi)| {
                let (lo, hi) = match *v {
                    Variable::Continuous { lo, hi } => (lo, hi),
                    Variable::Integer { lo, hi } => (lo as f64, hi as f64),
                };
                ((xi - lo) / (hi - lo)).clamp(0.0, 1.0)
            })
            .collect()
    }

    /// Unit coordinates snapped to the points the objective can actually see
    /// (integer variables rounded); the identity for continuous spaces.
    pub fn snap_unit(&self, u: &[f64]) -> Vec<f64> {
        self.to_unit(&self.from_unit(u))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_round_and_bad_bounds_are_named() {
        let p = Problem::new(vec![
            Variable::Continuous { lo: -1.0, hi: 1.0 },
            Variable::Integer { lo: 1, hi: 5 },
        ])
        .unwrap();
        assert_eq!(p.from_unit(&[0.5, 0.6]), vec![0.0, 3.0]);
        assert_eq!(p.to_unit(&[1.0, 5.0]), vec![1.0, 1.0]);
        let e = Problem::continuous(&[(0.0, 1.0), (2.0, 2.0)]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "variable 1: bounds must be finite with lo < hi, got [2, 2]"
        );
    }
}
