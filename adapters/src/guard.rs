//! The write guard: the checks every setpoint passes before it reaches the plant.
//!
//! In order: the tag exists and is writable; the value is finite and inside `[min, max]`; the
//! change since the last value sent (or the current plant value, before the first write) is not
//! faster than `max_rate`; the permissive tag, if any, reads non-zero; no input the setpoint was
//! computed from is stale. Out-of-range and too-fast requests are **refused, never clamped**: a
//! silently altered setpoint is worse than a visible refusal. The guard is pure logic with time
//! passed in, so a property test can drive it with any sequence ([`tests`]).

use std::collections::HashMap;

use crate::tagmap::{Tag, WriteSpec};

/// Why a setpoint was refused.
#[derive(Clone, Debug, PartialEq)]
pub enum Refusal {
    /// No such tag.
    UnknownTag(String),
    /// The tag has no `write` section.
    NotWritable,
    /// NaN or infinite.
    NotFinite,
    /// Outside `[min, max]`.
    OutOfRange {
        /// Lower limit.
        min: f64,
        /// Upper limit.
        max: f64,
    },
    /// Faster than `max_rate` from the last value.
    TooFast {
        /// The rate asked for [units/s].
        rate: f64,
        /// The limit.
        max_rate: f64,
    },
    /// The rate cannot be checked: no previous value and the current plant value is unknown
    /// (why: the read's error, naming the connection and where it points).
    UnknownCurrent(String),
    /// The permissive tag reads zero or could not be read.
    NotPermitted(String),
    /// An input tag is stale.
    StaleInput(String),
    /// The connection to the plant is down.
    NoConnection(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::UnknownTag(n) => write!(f, "unknown tag '{n}'"),
            Refusal::NotWritable => write!(f, "tag is not writable (no write section in the tag map)"),
            Refusal::NotFinite => write!(f, "value is not a finite number"),
            Refusal::OutOfRange { min, max } => write!(f, "outside the limits [{min}, {max}]"),
            Refusal::TooFast { rate, max_rate } => {
                write!(f, "change of {rate:.4}/s exceeds the rate limit {max_rate}/s")
            }
            Refusal::UnknownCurrent(why) => {
                write!(
                    f,
                    "current value unknown, rate limit cannot be checked: reading it failed: {why}"
                )
            }
            Refusal::NotPermitted(why) => write!(f, "permissive not given: {why}"),
            Refusal::StaleInput(t) => write!(f, "input tag '{t}' is stale"),
            Refusal::NoConnection(c) => write!(f, "no connection: {c}"),
        }
    }
}

/// What the guard needs to know about the plant at the moment of a request.
#[derive(Clone, Debug, Default)]
pub struct Context {
    /// The tag's current plant value (engineering units), if known.
    pub current: Option<f64>,
    /// Why `current` is unknown (the read's error).
    pub current_error: Option<String>,
    /// The permissive tag's value; `Err` explains why it is unknown.
    pub permissive: Option<Result<f64, String>>,
    /// The first stale input tag, if any.
    pub stale_input: Option<String>,
}

/// Remembers the last value sent per tag, for the rate limit.
#[derive(Clone, Debug, Default)]
pub struct Guard {
    last: HashMap<String, (f64, f64)>,
}

impl Guard {
    /// A guard that has sent nothing yet.
    pub fn new() -> Guard {
        Guard::default()
    }

    /// Checks a request for `value` on `tag` at time `now_s` (seconds on any monotonic clock).
    /// On success returns the value to send; the caller then calls [`Guard::sent`] once the
    /// write went out.
    pub fn check(&self, tag: &Tag, value: f64, now_s: f64, ctx: &Context) -> Result<f64, Refusal> {
        let spec: &WriteSpec = tag.write.as_ref().ok_or(Refusal::NotWritable)?;
        if !value.is_finite() {
            return Err(Refusal::NotFinite);
        }
        if value < spec.min || value > spec.max {
            return Err(Refusal::OutOfRange {
                min: spec.min,
                max: spec.max,
            });
        }
        if let Some(max_rate) = spec.max_rate {
            let (from, since) = match (self.last.get(&tag.name), ctx.current) {
                (Some(&(v, t)), _) => (v, Some(t)),
                (None, Some(cur)) => (cur, None),
                (None, None) => {
                    let why = ctx.current_error.clone().unwrap_or_else(|| "not read".into());
                    return Err(Refusal::UnknownCurrent(why));
                }
            };
            let delta = (value - from).abs();
            if delta > 0.0 {
                // Before the first write the plant value has no time stamp of ours: allow one
                // second's worth of change.
                let dt = since.map_or(1.0, |t| (now_s - t).max(0.0));
                let allowed = max_rate * dt;
                if delta > allowed * (1.0 + 1e-12) {
                    return Err(Refusal::TooFast {
                        rate: if dt > 0.0 { delta / dt } else { f64::INFINITY },
                        max_rate,
                    });
                }
            }
        }
        if spec.permissive.is_some() {
            match &ctx.permissive {
                Some(Ok(v)) if *v != 0.0 => {}
                Some(Ok(_)) => return Err(Refusal::NotPermitted("permissive tag reads 0".into())),
                Some(Err(e)) => return Err(Refusal::NotPermitted(e.clone())),
                None => return Err(Refusal::NotPermitted("permissive tag not read".into())),
            }
        }
        if let Some(t) = &ctx.stale_input {
            return Err(Refusal::StaleInput(t.clone()));
        }
        Ok(value)
    }

    /// Records that `value` was sent to `tag` at `now_s`.
    pub fn sent(&mut self, tag: &Tag, value: f64, now_s: f64) {
        self.last.insert(tag.name.clone(), (value, now_s));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tagmap::{Address, WriteSpec};
    use proptest::prelude::*;
    use std::time::Duration;

    fn tag(min: f64, max: f64, rate: Option<f64>) -> Tag {
        Tag {
            name: "Speed".into(),
            connection: 0,
            address: Address::OpcUa {
                node: "ns=2;s=x".into(),
            },
            station: None,
            station_name: None,
            field: "speed".into(),
            scale: 1.0,
            offset: 0.0,
            deadband: 0.0,
            interval: Duration::from_millis(100),
            stale_after: Duration::from_secs(1),
            down_values: vec![4.0],
            write: Some(WriteSpec {
                min,
                max,
                max_rate: rate,
                readback: true,
                permissive: None,
                inputs: vec![],
                safe_value: None,
                watchdog: None,
            }),
        }
    }

    #[test]
    fn refusals_are_explained() {
        let g = Guard::new();
        let t = tag(0.5, 1.5, Some(0.1));
        let ctx = Context {
            current: Some(1.0),
            ..Context::default()
        };
        assert_eq!(
            g.check(&t, 2.0, 0.0, &ctx),
            Err(Refusal::OutOfRange { min: 0.5, max: 1.5 })
        );
        assert!(matches!(g.check(&t, 1.3, 0.0, &ctx), Err(Refusal::TooFast { .. })));
        assert_eq!(g.check(&t, 1.05, 0.0, &ctx), Ok(1.05));
        assert_eq!(g.check(&t, f64::NAN, 0.0, &ctx), Err(Refusal::NotFinite));
        assert_eq!(
            g.check(&t, 1.0, 0.0, &Context::default()),
            Err(Refusal::UnknownCurrent("not read".into()))
        );
        let mut p = tag(0.5, 1.5, None);
        p.write.as_mut().unwrap().permissive = Some("Remote".into());
        let off = Context {
            permissive: Some(Ok(0.0)),
            ..Context::default()
        };
        assert!(matches!(g.check(&p, 1.0, 0.0, &off), Err(Refusal::NotPermitted(_))));
        let stale = Context {
            permissive: Some(Ok(1.0)),
            stale_input: Some("Temp".into()),
            ..Context::default()
        };
        assert_eq!(g.check(&p, 1.0, 0.0, &stale), Err(Refusal::StaleInput("Temp".into())));
    }

    proptest! {
        /// Whatever the requested sequence (values, times, plant values), no value the guard
        /// lets through is outside [min, max], and no two consecutive sent values change faster
        /// than the rate limit.
        #[test]
        fn nothing_unsafe_is_ever_sent(
            min in -100.0f64..100.0,
            width in 0.0f64..50.0,
            rate in 0.01f64..10.0,
            current in -200.0f64..200.0,
            reqs in proptest::collection::vec((-300.0f64..300.0, 0.0f64..5.0, any::<bool>()), 1..200),
        ) {
            let max = min + width;
            let t = tag(min, max, Some(rate));
            let mut g = Guard::new();
            let mut now = 0.0;
            let mut last: Option<(f64, f64)> = None;
            for (v, dt, near) in reqs {
                now += dt;
                // Half the requests are near the last value, so some pass the rate limit.
                let v = match (near, last) {
                    (true, Some((lv, _))) => lv + (v / 300.0) * rate * dt * 1.5,
                    _ => v,
                };
                let ctx = Context { current: Some(current), ..Context::default() };
                if let Ok(sent) = g.check(&t, v, now, &ctx) {
                    prop_assert!(sent >= min && sent <= max, "{sent} outside [{min}, {max}]");
                    match last {
                        Some((lv, lt)) => prop_assert!((sent - lv).abs() <= rate * (now - lt) * (1.0 + 1e-9) + 1e-12),
                        None => prop_assert!((sent - current).abs() <= rate * (1.0 + 1e-9)),
                    }
                    g.sent(&t, sent, now);
                    last = Some((sent, now));
                }
            }
        }
    }
}
