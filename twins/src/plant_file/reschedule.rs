//! `[reschedule]`: when and how a plan being executed is rescheduled.

use serde::Deserialize;
use toml::{Spanned, Value};
use twinworks_engine::{SimTime, check_duration};

use super::Validator;
use crate::limits::MAX_RESCHEDULE_ITERATIONS;
use crate::plant::{Horizon, Reschedule, RunSettings};

/// The trigger names of `triggers = [...]`.
const TRIGGERS: [&str; 3] = ["breakdown", "repair", "release"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawReschedule {
    triggers: Option<Vec<Spanned<String>>>,
    period: Option<Spanned<Value>>,
    deviation: Option<Spanned<Value>>,
    frozen: Option<Spanned<Value>>,
    iterations: Option<Spanned<i64>>,
}

impl Validator {
    /// A duration value (a string such as "4h", or seconds); errors are prefixed with `ctx`.
    /// Also the thermal time constant of process models (`model.rs`).
    pub(super) fn duration_value(&mut self, v: &Spanned<Value>, ctx: &str) -> Option<SimTime> {
        let res = match v.get_ref() {
            Value::String(t) => twinworks_engine::parse_duration(t).map_err(|e| e.to_string()),
            Value::Integer(i) => check_duration(*i as f64, &i.to_string()).map_err(|e| e.to_string()),
            Value::Float(f) => check_duration(*f, &f.to_string()).map_err(|e| e.to_string()),
            other => Err(format!("expected a duration such as \"4h\", got {}", other.type_str())),
        };
        match res {
            Ok(t) => Some(t),
            Err(e) => {
                self.r.error(v.span(), format!("{ctx}: {e}"));
                None
            }
        }
    }

    fn reschedule_time(&mut self, v: &Spanned<Value>, key: &str) -> Option<SimTime> {
        self.duration_value(v, &format!("[reschedule] {key}"))
    }

    /// `[reschedule]`, checked: known trigger names, a positive period and deviation, a frozen
    /// horizon >= 0 and shorter than the run's time horizon, and a budget within the limit.
    pub(super) fn reschedule(&mut self, raw: Option<&RawReschedule>, run: &RunSettings) -> Reschedule {
        let mut out = Reschedule::default();
        let Some(raw) = raw else { return out };
        if let Some(triggers) = &raw.triggers {
            out.on_breakdown = false;
            out.on_repair = false;
            for t in triggers {
                match t.get_ref().as_str() {
                    "breakdown" => out.on_breakdown = true,
                    "repair" => out.on_repair = true,
                    "release" => out.on_release = true,
                    other => self.r.unknown(
                        t.span(),
                        "trigger",
                        other,
                        "in [reschedule] triggers (`period` and `deviation` are keys of their own)",
                        TRIGGERS,
                    ),
                }
            }
        }
        for (key, v, slot) in [
            ("period", &raw.period, &mut out.period),
            ("deviation", &raw.deviation, &mut out.deviation),
        ] {
            if let Some(v) = v
                && let Some(t) = self.reschedule_time(v, key)
            {
                if t.secs() <= 0.0 {
                    self.r
                        .error(v.span(), format!("[reschedule] {key} must be > 0, got {t}"));
                } else {
                    *slot = Some(t);
                }
            }
        }
        if let Some(v) = &raw.frozen
            && let Some(t) = self.reschedule_time(v, "frozen")
        {
            if t.secs() < 0.0 {
                self.r
                    .error(v.span(), format!("[reschedule] frozen must be >= 0, got {t}"));
            } else if let Horizon::Time(h) = run.horizon
                && t.secs() >= h.secs()
            {
                self.r.error(
                    v.span(),
                    format!("[reschedule] frozen ({t}) must be shorter than the run's horizon ({h})"),
                );
            } else {
                out.frozen = t;
            }
        }
        if let Some(n) = &raw.iterations
            && let Some(n) = self.count(n, 1, MAX_RESCHEDULE_ITERATIONS, "[reschedule] iterations")
        {
            out.iterations = n;
        }
        out
    }
}

/// Where `[reschedule] key` is in the plant file `text` (its value), for errors found after
/// loading (a frozen horizon longer than the plan); the file's start if it is not there.
pub fn reschedule_key_span(text: &str, key: &str) -> std::ops::Range<usize> {
    #[derive(Deserialize)]
    struct Keys {
        frozen: Option<Spanned<Value>>,
        period: Option<Spanned<Value>>,
        deviation: Option<Spanned<Value>>,
        iterations: Option<Spanned<Value>>,
    }
    #[derive(Deserialize)]
    struct File {
        reschedule: Option<Keys>,
    }
    let Some(k) = toml::from_str::<File>(text).ok().and_then(|f| f.reschedule) else {
        return 0..0;
    };
    match key {
        "frozen" => k.frozen,
        "period" => k.period,
        "deviation" => k.deviation,
        "iterations" => k.iterations,
        _ => None,
    }
    .map_or(0..0, |v| v.span())
}
