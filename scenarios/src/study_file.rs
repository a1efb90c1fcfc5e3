//! Reading a study file (TOML) into a [`Study`]: the base plant, run settings, and one
//! validated `PlantModel` per variant. The format is documented in `docs/study-file.md`.

use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::{Spanned, Table, Value};
use twinworks_twins::diagnostic::{LoadError, Reporter, read_text};
use twinworks_twins::kpi::flatten_report;
use twinworks_twins::prelude::*;
use twinworks_twins::sim::PolicyMaker;

use crate::variant::{add_elements, flatten_set, remove_path, set_path, split_path};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStudy {
    study: RawHeader,
    ranking: Option<RawRanking>,
    #[serde(default)]
    variant: Vec<RawVariant>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeader {
    name: Option<String>,
    plant: Spanned<String>,
    horizon: Option<Spanned<Value>>,
    warmup: Option<Spanned<Value>>,
    replications: Option<Spanned<i64>>,
    target_kpi: Option<Spanned<String>>,
    target_half_width: Option<Spanned<f64>>,
    max_replications: Option<Spanned<i64>>,
    seed: Option<Spanned<i64>>,
    crn: Option<bool>,
    kpis: Option<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRanking {
    kpi: Spanned<String>,
    goal: Spanned<String>,
    pcs: Option<Spanned<f64>>,
    indifference: Spanned<f64>,
    first_stage: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVariant {
    name: Spanned<String>,
    set: Option<Spanned<Table>>,
    add: Option<Spanned<Table>>,
    #[serde(default)]
    remove: Vec<Spanned<String>>,
}

/// How many replications each variant gets.
#[derive(Clone, Debug, PartialEq)]
pub enum Replications {
    /// This many.
    Fixed(u32),
    /// Until the 95% CI half-width of `kpi` is at most `half_width` for every variant, or `max`.
    Target {
        kpi: String,
        half_width: f64,
        initial: u32,
        max: u32,
    },
}

/// Ranking and selection of the best variant for one KPI.
#[derive(Clone, Debug, PartialEq)]
pub struct Ranking {
    /// The KPI to rank on.
    pub kpi: String,
    /// Larger is better (else smaller).
    pub maximize: bool,
    /// Required probability of correct selection.
    pub pcs: f64,
    /// Indifference zone δ in the KPI's units: differences below δ do not matter.
    pub indifference: f64,
    /// First-stage replications per variant (>= 2: the procedure needs a variance).
    pub first_stage: u32,
}

/// One variant, ready to run.
#[derive(Clone, Debug)]
pub struct Variant {
    /// Its name ("baseline" for the plant as is).
    pub name: String,
    /// The plant with the variant applied.
    pub plant: PlantModel,
    /// The dispatching policy its twins run, if not the plant's own rules (plan execution).
    pub policy: Option<PolicyMaker>,
}

/// A loaded, validated study.
#[derive(Clone, Debug)]
pub struct Study {
    /// Display name.
    pub name: String,
    /// The study file.
    pub file: PathBuf,
    /// The base plant file.
    pub plant_file: PathBuf,
    /// Baseline first, then the variants in file order.
    pub variants: Vec<Variant>,
    /// Replications per variant.
    pub replications: Replications,
    /// Base seed.
    pub seed: u64,
    /// Common random numbers across variants (else each variant gets its own streams).
    pub crn: bool,
    /// KPIs shown in the comparison table (all are in the JSON).
    pub kpis: Vec<String>,
    /// Ranking and selection, if asked for.
    pub ranking: Option<Ranking>,
}

/// KPIs shown when the study file does not list any.
pub const DEFAULT_KPIS: [&str; 6] = [
    "plant.throughput_per_h",
    "plant.wip_mean",
    "plant.lead_time_mean_s",
    "plant.lead_time_p95_s",
    "plant.energy_kwh",
    "orders.mean_tardiness_s",
];

/// Reads and validates a study file and its base plant.
pub fn load_study(path: &Path) -> Result<Study, LoadError> {
    let text = read_text(path)?;
    parse_study(&text, path)
}

/// Validates the text of a study file; `path` names it in messages, and its base plant file is
/// read relative to it.
pub fn parse_study(text: &str, path: &Path) -> Result<Study, LoadError> {
    let mut r = Reporter::new(path, text);
    let raw: RawStudy = match toml::from_str(text) {
        Ok(raw) => raw,
        Err(e) => {
            r.toml_error(&e);
            return Err(r.into_error());
        }
    };
    let h = &raw.study;
    let plant_file = path.parent().unwrap_or(Path::new(".")).join(h.plant.get_ref());
    // The base plant must be valid on its own; its errors name its own file.
    load_plant(&plant_file)?;
    let base_text = read_text(&plant_file)?;
    let mut base_doc: Table = toml::from_str(&base_text).map_err(|e| LoadError::Io {
        path: plant_file.clone(),
        message: e.to_string(),
    })?;

    // Study-level settings override the plant's [run].
    let run_overrides = [("horizon", &h.horizon), ("warmup", &h.warmup)];
    for (key, v) in run_overrides {
        if let Some(v) = v {
            let run = base_doc.entry("run").or_insert_with(|| Value::Table(Table::new()));
            if let Value::Table(t) = run {
                t.remove(&format!("{key}_parts"));
                t.insert(key.to_string(), v.get_ref().clone());
            }
        }
    }
    let base = match realize(&base_doc, &plant_file) {
        Ok(p) => p,
        Err(msgs) => {
            let span = h
                .horizon
                .as_ref()
                .or(h.warmup.as_ref())
                .map(|v| v.span())
                .unwrap_or(h.plant.span());
            for (m, help) in msgs {
                r.error_help(span.clone(), format!("[study] settings: {m}"), help);
            }
            return Err(r.into_error());
        }
    };

    let mut variants = vec![Variant {
        name: "baseline".into(),
        plant: base.clone(),
        policy: None,
    }];
    for v in &raw.variant {
        let name = v.name.get_ref().clone();
        if variants.iter().any(|x| x.name == name) {
            r.error(v.name.span(), format!("duplicate variant name '{name}'"));
            continue;
        }
        let mut doc = base_doc.clone();
        let mut ok = true;
        if let Some(set) = &v.set {
            let mut pairs = Vec::new();
            flatten_set(&[], &Value::Table(set.get_ref().clone()), &mut pairs);
            for (p, value) in pairs {
                if let Err(e) = set_path(&mut doc, &p, value) {
                    let span = locate(text, set.span(), &p);
                    r.error_help(span, format!("variant '{name}': {}", e.message), e.help);
                    ok = false;
                }
            }
        }
        if let Some(add) = &v.add {
            for (section, items) in add.get_ref() {
                let items = match items {
                    Value::Array(a) => a.clone(),
                    t @ Value::Table(_) => vec![t.clone()],
                    _ => {
                        r.error(
                            add.span(),
                            format!("variant '{name}': add.{section} must be a list of tables"),
                        );
                        ok = false;
                        continue;
                    }
                };
                if let Err(e) = add_elements(&mut doc, section, items) {
                    r.error_help(
                        locate(text, add.span(), std::slice::from_ref(section)),
                        format!("variant '{name}': {}", e.message),
                        e.help,
                    );
                    ok = false;
                }
            }
        }
        for rm in &v.remove {
            if let Err(e) = remove_path(&mut doc, &split_path(rm.get_ref())) {
                r.error_help(rm.span(), format!("variant '{name}': {}", e.message), e.help);
                ok = false;
            }
        }
        if !ok {
            continue;
        }
        match realize(&doc, &plant_file) {
            Ok(plant) => variants.push(Variant {
                name,
                plant,
                policy: None,
            }),
            Err(msgs) => {
                for (m, help) in msgs {
                    r.error_help(
                        v.name.span(),
                        format!("variant '{name}' makes the plant invalid: {m}"),
                        help,
                    );
                }
            }
        }
    }

    // KPI names are checked against the KPIs a report of this plant really has.
    let known = known_kpis(&variants);
    let kpi = |k: &Spanned<String>, r: &mut Reporter| -> String {
        if !known.iter().any(|x| x == k.get_ref()) {
            r.unknown(k.span(), "KPI", k.get_ref(), "", known.iter().map(String::as_str));
        }
        k.get_ref().clone()
    };
    let kpis: Vec<String> = match &h.kpis {
        Some(list) => list.iter().map(|k| kpi(k, &mut r)).collect(),
        None => DEFAULT_KPIS
            .iter()
            .filter(|k| known.iter().any(|x| x == *k))
            .map(|k| k.to_string())
            .collect(),
    };
    let positive = |v: &Spanned<i64>, what: &str, r: &mut Reporter| -> u32 {
        if *v.get_ref() < 1 {
            r.error(v.span(), format!("[study] {what} must be >= 1, got {}", v.get_ref()));
            1
        } else {
            (*v.get_ref()).min(u32::MAX as i64) as u32
        }
    };
    let fixed = h.replications.as_ref().map(|n| positive(n, "replications", &mut r));
    let replications = match (&h.target_kpi, &h.target_half_width) {
        (Some(k), Some(w)) => {
            if *w.get_ref() <= 0.0 {
                r.error(w.span(), "[study] target_half_width must be > 0");
            }
            let max = h
                .max_replications
                .as_ref()
                .map_or(100, |m| positive(m, "max_replications", &mut r));
            Replications::Target {
                kpi: kpi(k, &mut r),
                half_width: *w.get_ref(),
                initial: fixed.unwrap_or(5).max(2),
                max,
            }
        }
        (Some(k), None) => {
            r.error(k.span(), "[study] target_kpi needs target_half_width");
            Replications::Fixed(1)
        }
        (None, Some(w)) => {
            r.error(w.span(), "[study] target_half_width needs target_kpi");
            Replications::Fixed(1)
        }
        (None, None) => Replications::Fixed(fixed.unwrap_or(base.run.replications.max(2))),
    };
    let ranking = raw.ranking.as_ref().map(|rk| {
        let maximize = match rk.goal.get_ref().as_str() {
            "max" => true,
            "min" => false,
            other => {
                r.unknown(rk.goal.span(), "ranking goal", other, "", ["max", "min"]);
                true
            }
        };
        let pcs = rk.pcs.as_ref().map_or(0.95, |p| *p.get_ref());
        if let Some(p) = &rk.pcs
            && !(0.5..1.0).contains(p.get_ref())
        {
            r.error(
                p.span(),
                format!("[ranking] pcs must be in [0.5, 1), got {}", p.get_ref()),
            );
        }
        if *rk.indifference.get_ref() <= 0.0 {
            r.error(rk.indifference.span(), "[ranking] indifference must be > 0");
        }
        let first_stage = rk
            .first_stage
            .as_ref()
            .map_or(10, |n| positive(n, "first_stage", &mut r));
        if first_stage < 2 {
            r.error(
                rk.first_stage.as_ref().map(|n| n.span()).unwrap_or_default(),
                "[ranking] first_stage must be >= 2",
            );
        }
        Ranking {
            kpi: kpi(&rk.kpi, &mut r),
            maximize,
            pcs,
            indifference: *rk.indifference.get_ref(),
            first_stage,
        }
    });
    if ranking.is_some() && variants.len() < 2 {
        r.error(0..0, "[ranking] needs at least one variant besides the baseline");
    }
    let study = Study {
        name: h.name.clone().unwrap_or_else(|| {
            path.file_stem()
                .map_or("study".into(), |s| s.to_string_lossy().into_owned())
        }),
        file: path.to_path_buf(),
        plant_file,
        variants,
        replications,
        seed: h.seed.as_ref().map_or(base.run.seed, |s| *s.get_ref() as u64),
        crn: h.crn.unwrap_or(true),
        kpis,
        ranking,
    };
    r.finish(study)
}

/// Validates a modified plant document; errors come back as (message, help) without the
/// location in the generated text, which would mean nothing to the user.
fn realize(doc: &Table, plant_file: &Path) -> Result<PlantModel, Vec<(String, Option<String>)>> {
    let text = toml::to_string(doc).map_err(|e| vec![(e.to_string(), None)])?;
    parse_plant(&text, plant_file).map_err(|e| {
        e.diagnostics()
            .iter()
            .map(|d| (d.message.clone(), d.help.clone()))
            .collect()
    })
}

/// Best-effort location of a path inside the study file: the last segment's text within the
/// table's span, else the table's start.
fn locate(text: &str, span: Range<usize>, path: &[String]) -> Range<usize> {
    let region = text.get(span.clone()).unwrap_or("");
    for seg in path.iter().rev() {
        if let Some(i) = region.find(seg.as_str()) {
            return span.start + i..span.start + i + seg.len();
        }
    }
    span
}

/// Every KPI path that a report of these plants has.
fn known_kpis(variants: &[Variant]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for v in variants {
        let cfg = std::sync::Arc::new(Compiled::new(v.plant.clone()));
        let mut twin = build_twin(cfg, 0);
        let report = twinworks_twins::kpi::collect(&mut twin, 0, 0);
        for (k, _) in flatten_report(&report) {
            if !out.contains(&k) {
                out.push(k);
            }
        }
    }
    out
}
