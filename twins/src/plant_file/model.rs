//! `model = { ... }` of a station: its process model (docs/plant-file.md).

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::{Spanned, Value};

use super::Validator;
use crate::expr::Expr;
use crate::plant::{ModelParam, ProcessModel, Thermal};

/// Most parameters a process model may have (its variables live in a fixed array).
pub const MAX_MODEL_PARAMETERS: usize = 14;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawModel {
    #[serde(default)]
    parameters: BTreeMap<String, RawParam>,
    time: Option<Spanned<String>>,
    scrap: Option<Spanned<String>>,
    energy_kw: Option<Spanned<String>>,
    quality: Option<Spanned<String>>,
    thermal: Option<RawThermal>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParam {
    value: Spanned<f64>,
    min: Spanned<f64>,
    max: Spanned<f64>,
    unit: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawThermal {
    input: Spanned<String>,
    gain: Spanned<f64>,
    tau: Spanned<Value>,
    ambient: Option<Spanned<f64>>,
    initial: Option<Spanned<f64>>,
}

impl Validator {
    /// A station's process model, checked: finite bounds with min <= max and the value within
    /// them; a thermal input that is a parameter, a finite gain, a time constant > 0; every
    /// output expression compiled against the model's variables, an error located at the
    /// position inside the expression.
    pub(super) fn model(&mut self, m: &RawModel, ctx: &str) -> Option<ProcessModel> {
        let mut params = Vec::new();
        let mut ok = true;
        if m.parameters.len() > MAX_MODEL_PARAMETERS {
            self.r.error(
                m.time.as_ref().map(|t| t.span()).unwrap_or_default(),
                format!(
                    "{ctx}: a model has at most {MAX_MODEL_PARAMETERS} parameters, got {}",
                    m.parameters.len()
                ),
            );
            return None;
        }
        for (name, p) in &m.parameters {
            let (v, lo, hi) = (*p.value.get_ref(), *p.min.get_ref(), *p.max.get_ref());
            if !(v.is_finite() && lo.is_finite() && hi.is_finite()) {
                self.r.error(
                    p.value.span(),
                    format!("{ctx}: model parameter '{name}': value, min and max must be finite numbers"),
                );
                ok = false;
            } else if lo > hi {
                self.r.error(
                    p.min.span(),
                    format!("{ctx}: model parameter '{name}': min {lo} is above max {hi}"),
                );
                ok = false;
            } else if !(lo..=hi).contains(&v) {
                self.r.error(
                    p.value.span(),
                    format!("{ctx}: model parameter '{name}': value {v} is outside [{lo}, {hi}]"),
                );
                ok = false;
            }
            params.push(ModelParam {
                name: name.clone(),
                value: v,
                min: lo,
                max: hi,
                unit: p.unit.clone().unwrap_or_default(),
            });
        }
        let thermal = m.thermal.as_ref().and_then(|t| {
            let names: Vec<String> = params.iter().map(|p| p.name.clone()).collect();
            let input = self.lookup(
                &t.input,
                &names,
                "model parameter",
                &format!("as the thermal input of {ctx}"),
            )?;
            let tau = self.duration_value(&t.tau, &format!("{ctx}: thermal tau"))?.secs();
            if tau <= 0.0 {
                self.r.error(t.tau.span(), format!("{ctx}: thermal tau must be > 0"));
                return None;
            }
            let finite = |r: &mut crate::diagnostic::Reporter, v: Option<&Spanned<f64>>, key: &str| match v {
                Some(x) if !x.get_ref().is_finite() => {
                    r.error(x.span(), format!("{ctx}: thermal {key} must be a finite number"));
                    None
                }
                Some(x) => Some(*x.get_ref()),
                None => Some(0.0),
            };
            let gain = finite(&mut self.r, Some(&t.gain), "gain")?;
            let ambient = finite(&mut self.r, t.ambient.as_ref(), "ambient")?;
            let initial = match &t.initial {
                Some(_) => finite(&mut self.r, t.initial.as_ref(), "initial")?,
                None => ambient,
            };
            Some(Thermal {
                input,
                gain,
                tau_s: tau,
                ambient,
                initial,
            })
        });
        if m.thermal.is_some() && thermal.is_none() {
            ok = false;
        }
        let vars = ProcessModel::variables(&params, thermal.is_some());
        let names: Vec<&str> = vars.iter().map(String::as_str).collect();
        let compile =
            |r: &mut crate::diagnostic::Reporter, e: &Option<Spanned<String>>, key: &str| -> Option<Option<Expr>> {
                let Some(e) = e else { return Some(None) };
                match Expr::compile(e.get_ref(), &names) {
                    Ok(x) => Some(Some(x)),
                    Err(err) => {
                        // Inside the quoted string: one past its opening quote.
                        let at = e.span().start + 1 + err.pos;
                        r.error_help(
                            at..(at + 1).min(e.span().end),
                            format!(
                                "{ctx}: model {key}: {} (position {} of \"{}\")",
                                err.message,
                                err.pos,
                                e.get_ref()
                            ),
                            err.help,
                        );
                        None
                    }
                }
            };
        let time = compile(&mut self.r, &m.time, "time");
        let scrap = compile(&mut self.r, &m.scrap, "scrap");
        let energy_kw = compile(&mut self.r, &m.energy_kw, "energy_kw");
        let quality = compile(&mut self.r, &m.quality, "quality");
        let (Some(time), Some(scrap), Some(energy_kw), Some(quality), true) = (time, scrap, energy_kw, quality, ok)
        else {
            return None;
        };
        Some(ProcessModel {
            params,
            time,
            scrap,
            energy_kw,
            quality,
            thermal,
        })
    }
}
