//! Distributions as written in plant files: named parameters in the units of the variable.
//!
//! | `dist` | parameters | meaning |
//! |---|---|---|
//! | `constant` | `value` | always `value` (a bare `"90s"` or `12` means the same) |
//! | `uniform` | `min`, `max` | uniform on [min, max] |
//! | `triangular` | `min`, `mode`, `max` | triangular |
//! | `exponential` | `mean` (or `rate` per second / per unit) | memoryless |
//! | `normal` | `mean`, `sd` | normal truncated at 0 (redrawn while negative) |
//! | `lognormal` | `mean`, `sd` | mean and sd *of the variable*, not of its logarithm |
//! | `gamma` | `mean`, `sd` — or `shape`, `mean` — or `shape`, `scale` | gamma |
//! | `erlang` | `k`, `mean` | sum of k exponentials (gamma with integer shape) |
//! | `weibull` | `shape`, `scale` — or `shape`, `mean` | Weibull |
//! | `empirical` | `values`, optional `weights`, optional `continuous = true` | observed values; with `continuous`, linear interpolation between sorted values |
//!
//! Time-valued parameters accept a duration (`"55s"`, `"1.5min"`, `"8h"`) or a number of seconds.
//! Count-valued distributions (operations between failures) take plain numbers.

use toml::Value;
use twinworks_engine::{Distribution, MAX_DURATION_S, parse_duration, random::gamma_fn};

use crate::diagnostic::nearest_name;

/// What a distribution's values measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quantity {
    /// A duration [s]: parameters may carry units.
    Time,
    /// A count or a plain number.
    Count,
}

const DISTS: &[(&str, &[&str])] = &[
    ("constant", &["value"]),
    ("uniform", &["min", "max"]),
    ("triangular", &["min", "mode", "max"]),
    ("exponential", &["mean", "rate"]),
    ("normal", &["mean", "sd"]),
    ("lognormal", &["mean", "sd"]),
    ("gamma", &["mean", "sd", "shape", "scale"]),
    ("erlang", &["k", "mean"]),
    ("weibull", &["shape", "scale", "mean"]),
    ("empirical", &["values", "weights", "continuous"]),
];

/// The largest magnitude of a plain (count-valued) distribution parameter.
pub const MAX_COUNT_PARAMETER: f64 = 1e12;

fn number(v: &Value, q: Quantity, key: &str) -> Result<f64, String> {
    let x = match (v, q) {
        (Value::Integer(i), _) => *i as f64,
        (Value::Float(f), _) => *f,
        (Value::String(s), Quantity::Time) => {
            return parse_duration(s).map(|t| t.secs()).map_err(|e| format!("{key}: {e}"));
        }
        (other, _) => {
            return Err(format!(
                "{key} must be a number{}, got {}",
                if q == Quantity::Time {
                    " or a duration like \"90s\""
                } else {
                    ""
                },
                other.type_str()
            ));
        }
    };
    // The sign is the distribution's to check (a truncated normal may have a mean below 0).
    let limit = if q == Quantity::Time {
        MAX_DURATION_S
    } else {
        MAX_COUNT_PARAMETER
    };
    if !x.is_finite() {
        Err(format!("{key} must be finite, got {x}"))
    } else if x.abs() > limit {
        Err(format!(
            "{key} = {x:e} is beyond the limit of {limit:e}{}",
            if q == Quantity::Time { " s" } else { "" }
        ))
    } else {
        Ok(x)
    }
}

/// Converts a plant-file value into a validated [`Distribution`].
pub fn parse_distribution(v: &Value, q: Quantity) -> Result<Distribution, String> {
    let d = match v {
        Value::Table(t) => {
            let Some(kind) = t.get("dist") else {
                return Err(
                    "a distribution table needs `dist = \"...\"` (e.g. { dist = \"exponential\", mean = \"90s\" })"
                        .into(),
                );
            };
            let Value::String(kind) = kind else {
                return Err("`dist` must be a string".into());
            };
            let Some((_, allowed)) = DISTS.iter().find(|(n, _)| n == kind) else {
                let hint = nearest_name(kind, DISTS.iter().map(|(n, _)| *n))
                    .map(|n| format!("; did you mean '{n}'?"))
                    .unwrap_or_else(|| {
                        format!(
                            "; use one of {}",
                            DISTS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
                        )
                    });
                return Err(format!("unknown distribution '{kind}'{hint}"));
            };
            for key in t.keys() {
                if key != "dist" && !allowed.contains(&key.as_str()) {
                    let hint = nearest_name(key, allowed.iter().copied())
                        .map(|n| format!("; did you mean '{n}'?"))
                        .unwrap_or_else(|| format!("; {kind} takes {}", allowed.join(", ")));
                    return Err(format!("unknown parameter '{key}' for {kind}{hint}"));
                }
            }
            let get = |k: &str| t.get(k).map(|x| number(x, q, k)).transpose();
            let req = |k: &str| get(k)?.ok_or_else(|| format!("{kind} needs `{k}`"));
            match kind.as_str() {
                "constant" => Distribution::Constant { value: req("value")? },
                "uniform" => Distribution::Uniform {
                    min: req("min")?,
                    max: req("max")?,
                },
                "triangular" => Distribution::Triangular {
                    min: req("min")?,
                    mode: req("mode")?,
                    max: req("max")?,
                },
                "exponential" => match (get("mean")?, t.get("rate")) {
                    (Some(m), None) => Distribution::Exponential { mean: m },
                    (None, Some(r)) => {
                        let r = number(r, Quantity::Count, "rate")?;
                        if r <= 0.0 {
                            return Err(format!("rate must be > 0, got {r}"));
                        }
                        Distribution::Exponential { mean: 1.0 / r }
                    }
                    _ => return Err("exponential needs exactly one of `mean` or `rate`".into()),
                },
                "normal" => Distribution::Normal {
                    mean: req("mean")?,
                    sd: req("sd")?,
                },
                "lognormal" => Distribution::Lognormal {
                    mean: req("mean")?,
                    sd: req("sd")?,
                },
                "gamma" => {
                    let (mean, sd) = (get("mean")?, get("sd")?);
                    let shape = t
                        .get("shape")
                        .map(|x| number(x, Quantity::Count, "shape"))
                        .transpose()?;
                    let scale = get("scale")?;
                    match (mean, sd, shape, scale) {
                        (Some(m), Some(s), None, None) => {
                            if m <= 0.0 || s <= 0.0 {
                                return Err(format!("gamma needs mean > 0 and sd > 0, got {m} and {s}"));
                            }
                            Distribution::Gamma {
                                shape: (m / s).powi(2),
                                scale: s * s / m,
                            }
                        }
                        (Some(m), None, Some(k), None) => Distribution::Gamma { shape: k, scale: m / k },
                        (None, None, Some(k), Some(th)) => Distribution::Gamma { shape: k, scale: th },
                        _ => {
                            return Err(
                                "gamma needs `mean` and `sd`, or `shape` and `mean`, or `shape` and `scale`".into(),
                            );
                        }
                    }
                }
                "erlang" => {
                    let k = t.get("k").ok_or("erlang needs `k`")?;
                    let Value::Integer(k) = k else {
                        return Err("erlang `k` must be a whole number >= 1".into());
                    };
                    if *k < 1 {
                        return Err(format!("erlang `k` must be >= 1, got {k}"));
                    }
                    let m = req("mean")?;
                    Distribution::Gamma {
                        shape: *k as f64,
                        scale: m / *k as f64,
                    }
                }
                "weibull" => {
                    let k = t
                        .get("shape")
                        .map(|x| number(x, Quantity::Count, "shape"))
                        .transpose()?
                        .ok_or("weibull needs `shape`")?;
                    match (get("scale")?, get("mean")?) {
                        (Some(s), None) => Distribution::Weibull { shape: k, scale: s },
                        (None, Some(m)) => {
                            if k <= 0.0 {
                                return Err(format!("shape must be > 0, got {k}"));
                            }
                            Distribution::Weibull {
                                shape: k,
                                scale: m / gamma_fn(1.0 + 1.0 / k),
                            }
                        }
                        _ => return Err("weibull needs `shape` and exactly one of `scale` or `mean`".into()),
                    }
                }
                "empirical" => {
                    let list = |k: &str, qq: Quantity| -> Result<Option<Vec<f64>>, String> {
                        match t.get(k) {
                            None => Ok(None),
                            Some(Value::Array(a)) => a
                                .iter()
                                .map(|x| number(x, qq, k))
                                .collect::<Result<Vec<_>, _>>()
                                .map(Some),
                            Some(_) => Err(format!("`{k}` must be a list")),
                        }
                    };
                    let values = list("values", q)?.ok_or("empirical needs `values = [...]`")?;
                    let weights = list("weights", Quantity::Count)?;
                    let continuous = match t.get("continuous") {
                        None => false,
                        Some(Value::Boolean(b)) => *b,
                        Some(_) => return Err("`continuous` must be true or false".into()),
                    };
                    Distribution::empirical(values, weights, continuous).map_err(|e| format!("empirical: {e}"))?
                }
                _ => unreachable!("kind checked against DISTS"),
            }
        }
        other => Distribution::Constant {
            value: number(other, q, "value")?,
        },
    };
    d.validate().map_err(|e| {
        let name = match v {
            Value::Table(t) => t.get("dist").and_then(Value::as_str).unwrap_or("constant").to_string(),
            _ => "constant".into(),
        };
        format!("{name}: {e}")
    })?;
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Distribution, String> {
        let t: toml::Table = toml::from_str(&format!("d = {s}")).unwrap();
        parse_distribution(&t["d"], Quantity::Time)
    }

    #[test]
    fn named_parameters_with_units() {
        assert_eq!(
            parse(r#"{ dist = "exponential", mean = "1.5min" }"#).unwrap(),
            Distribution::Exponential { mean: 90.0 }
        );
        assert_eq!(
            parse(r#"{ dist = "exponential", rate = 0.5 }"#).unwrap(),
            Distribution::Exponential { mean: 2.0 }
        );
        assert_eq!(parse(r#""90s""#).unwrap(), Distribution::Constant { value: 90.0 });
        let ln = parse(r#"{ dist = "lognormal", mean = "55s", sd = "8s" }"#).unwrap();
        assert!((ln.mean() - 55.0).abs() < 1e-12);
        let g = parse(r#"{ dist = "gamma", mean = 10, sd = 5 }"#).unwrap();
        assert!((g.mean() - 10.0).abs() < 1e-12);
        let e = parse(r#"{ dist = "erlang", k = 3, mean = "30s" }"#).unwrap();
        assert_eq!(
            e,
            Distribution::Gamma {
                shape: 3.0,
                scale: 10.0
            }
        );
        let w = parse(r#"{ dist = "weibull", shape = 2.0, mean = "1h" }"#).unwrap();
        assert!((w.mean() - 3600.0).abs() < 1e-6);
    }

    #[test]
    fn helpful_errors() {
        let e = parse(r#"{ dist = "lognormol", mean = 1, sd = 1 }"#).unwrap_err();
        assert!(e.contains("did you mean 'lognormal'"), "{e}");
        let e = parse(r#"{ dist = "normal", mean = 1, sdev = 1 }"#).unwrap_err();
        assert!(e.contains("unknown parameter 'sdev'") && e.contains("'sd'"), "{e}");
        let e = parse(r#"{ dist = "uniform", min = "5s", max = "1s" }"#).unwrap_err();
        assert!(e.contains("min (5) must be <= max (1)"), "{e}");
        let e = parse(r#"{ dist = "exponential", mean = "-3s" }"#).unwrap_err();
        assert!(e.contains("mean: duration '-3s' is negative"), "{e}");
        let e = parse(r#"{ dist = "exponential", mean = -3 }"#).unwrap_err();
        assert!(e.contains("mean must be > 0"), "{e}");
        let e = parse(r#"{ dist = "exponential", mean = nan }"#).unwrap_err();
        assert!(e.contains("mean must be finite"), "{e}");
        let e = parse(r#"{ dist = "gamma", shape = 1e300, mean = "1s" }"#).unwrap_err();
        assert!(e.contains("shape = 1e300 is beyond the limit of 1e12"), "{e}");
        let e = parse(r#"{ dist = "exponential", mean = "3 parsecs" }"#).unwrap_err();
        assert!(e.contains("unknown time unit"), "{e}");
    }
}
