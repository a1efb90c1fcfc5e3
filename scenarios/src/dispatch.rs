//! Comparing dispatching policies (`twin dispatch`): one variant per policy on the same plant,
//! run by the study runner with common random numbers and reported as any study is.
//!
//! A rule policy sets every station's `dispatch` rule to it (a station's own rule in the file
//! is replaced). `plan` executes the plan `twin schedule` makes for the same orders
//! (`twinworks-aps`, total weighted tardiness, a fixed iteration budget so that it is
//! reproducible) through `twinworks-dispatch`'s plan policy; its fallback rule is each
//! station's own. The first policy listed is the baseline the paired differences refer to.
//! From a study file, its base plant, replications, seed, common random numbers, KPIs and
//! ranking are used; its own variants are not (the policies are the variants).

use std::path::Path;

use twinworks_aps::plant_plan::{PlantSchedule, Split, plan_plant, plant_problem};
use twinworks_aps::prelude::{Budget, Objective, SolveOptions};
use twinworks_dispatch::{Latencies, Method, plan_factory, reschedule_factory};
use twinworks_engine::SimTime;
use twinworks_twins::diagnostic::LoadError;
use twinworks_twins::prelude::*;
use twinworks_twins::rules::{RULES, Rule, RuleError};
use twinworks_twins::sim::PolicyMaker;

use crate::study_file::{Ranking, Replications, Study, Variant, load_study};

/// KPIs a dispatching comparison shows.
pub const DISPATCH_KPIS: [&str; 6] = [
    "orders.weighted_tardiness_s",
    "orders.mean_tardiness_s",
    "orders.on_time",
    "plant.lead_time_mean_s",
    "plant.wip_mean",
    "orders.completed",
];

/// One policy of a comparison.
#[derive(Clone, Debug, PartialEq)]
pub enum PolicySpec {
    /// Every station dispatches by this rule.
    Rule(Rule),
    /// The APS plan of the plant's orders, executed (`plan`: unit split; `plan(lot)`), shifted
    /// right by what happens.
    Plan(Split),
    /// The unit plan, rescheduled on the plant's `[reschedule]` triggers by affected-operations
    /// repair (`plan+repair`) or a full re-solve (`plan+resolve`).
    Replan(Method),
}

impl PolicySpec {
    /// The variant name it gets in reports.
    pub fn label(&self) -> String {
        match self {
            PolicySpec::Rule(r) => r.label(),
            PolicySpec::Plan(Split::Unit) => "plan".into(),
            PolicySpec::Plan(Split::Lot) => "plan(lot)".into(),
            PolicySpec::Replan(Method::Repair) => "plan+repair".into(),
            PolicySpec::Replan(Method::Resolve) => "plan+resolve".into(),
        }
    }
}

/// The APS settings of the `plan` policy: total weighted tardiness, a fixed iteration budget
/// (the same plan for any thread count), seed 1.
pub fn plan_options() -> SolveOptions {
    SolveOptions {
        objective: Objective::Twt,
        threads: 1,
        seed: 1,
        budget: Budget::Iterations(20_000),
        slots: 4,
    }
}

/// Why a policy comparison cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    /// The plant or study file is wrong.
    #[error("{0}")]
    Load(#[from] LoadError),
    /// The plant's orders cannot be planned.
    #[error("plan: {0}")]
    Plan(String),
}

/// Reads `fifo,edd,atc(k=3),atcs` into policies (a rule name or its label form).
pub fn parse_policies(text: &str) -> Result<Vec<PolicySpec>, String> {
    let mut out = Vec::new();
    // Split on commas outside parentheses: `atcs(k1=2,k2=0.5),edd`.
    let (mut depth, mut start) = (0i32, 0usize);
    let mut parts = Vec::new();
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    for p in parts.iter().map(|p| p.trim()).filter(|p| !p.is_empty()) {
        match p {
            "plan" | "plan(unit)" => {
                out.push(PolicySpec::Plan(Split::Unit));
                continue;
            }
            "plan(lot)" => {
                out.push(PolicySpec::Plan(Split::Lot));
                continue;
            }
            "plan+repair" => {
                out.push(PolicySpec::Replan(Method::Repair));
                continue;
            }
            "plan+resolve" => {
                out.push(PolicySpec::Replan(Method::Resolve));
                continue;
            }
            _ => {}
        }
        match Rule::parse(p) {
            Ok(r) => out.push(PolicySpec::Rule(r)),
            Err(RuleError::Unknown(name)) => {
                // `plan(lot)+resolve` is one unknown name, not an unknown rule `plan`.
                let name = if p.starts_with("plan") { p.to_string() } else { name };
                let names: Vec<&str> = RULES
                    .iter()
                    .map(|(n, _)| *n)
                    .chain(["plan", "plan(lot)", "plan+repair", "plan+resolve"])
                    .collect();
                let hint = twinworks_twins::diagnostic::nearest_name(&name, names.iter().copied()).map_or_else(
                    || format!("policies: {}", names.join(", ")),
                    |n| format!("did you mean '{n}'?"),
                );
                return Err(format!("--policies: unknown policy '{name}' ({hint})"));
            }
            Err(e) => return Err(format!("--policies: {e}")),
        }
    }
    if out.len() < 2 {
        return Err("--policies: name at least two policies to compare".into());
    }
    let labels: Vec<String> = out.iter().map(PolicySpec::label).collect();
    for (i, l) in labels.iter().enumerate() {
        if labels[..i].contains(l) {
            return Err(format!("--policies: '{l}' is listed twice"));
        }
    }
    Ok(out)
}

/// The study comparing `policies` on the plant or study at `path` (a `plan` policy solves the
/// plan here, once).
pub fn dispatch_study(path: &Path, policies: &[PolicySpec]) -> Result<Study, DispatchError> {
    dispatch_study_timed(path, policies).map(|(s, _)| s)
}

/// [`dispatch_study`], with the log of re-plan wall times of each rescheduling policy (by
/// label), filled as the study runs.
pub fn dispatch_study_timed(
    path: &Path,
    policies: &[PolicySpec],
) -> Result<(Study, Vec<(String, Latencies)>), DispatchError> {
    let text = twinworks_twins::diagnostic::read_text(path)?;
    let is_study = text.parse::<toml::Table>().is_ok_and(|t| t.contains_key("study"));
    let base = if is_study {
        load_study(path)?
    } else {
        let plant = load_plant(path)?;
        Study {
            name: format!("dispatching rules on {}", plant.name),
            file: path.to_path_buf(),
            plant_file: path.to_path_buf(),
            replications: Replications::Fixed(plant.run.replications.max(2)),
            seed: plant.run.seed,
            crn: true,
            kpis: DISPATCH_KPIS.iter().map(|s| s.to_string()).collect(),
            ranking: None,
            variants: vec![Variant {
                name: "baseline".into(),
                plant,
                policy: None,
            }],
        }
    };
    let plant = &base.variants[0].plant;
    let mut variants = Vec::new();
    let mut latencies = Vec::new();
    for p in policies {
        let (plant, policy) = match p {
            PolicySpec::Rule(r) => (with_rule(plant, *r), None),
            PolicySpec::Plan(split) => {
                let schedule =
                    plan_plant(plant, *split, &plan_options()).map_err(|e| DispatchError::Plan(e.to_string()))?;
                (plant.clone(), Some(plan_policy(plant, &schedule)?))
            }
            PolicySpec::Replan(method) => {
                let schedule =
                    plan_plant(plant, Split::Unit, &plan_options()).map_err(|e| DispatchError::Plan(e.to_string()))?;
                let span = schedule.operations.iter().map(|o| o.end).max().unwrap_or(0) as f64;
                let frozen = plant.reschedule.frozen;
                if frozen.secs() > span {
                    return Err(DispatchError::Load(frozen_too_long(&base.plant_file, frozen, span)));
                }
                let pp = plant_problem(plant, Split::Unit).map_err(|e| DispatchError::Plan(e.to_string()))?;
                let log = Latencies::default();
                let cfg = Compiled::new(plant.clone());
                let maker = reschedule_factory(&cfg, pp, &schedule, *method, log.clone())
                    .map(PolicyMaker)
                    .map_err(|e| DispatchError::Plan(e.to_string()))?;
                latencies.push((p.label(), log));
                (plant.clone(), Some(maker))
            }
        };
        variants.push(Variant {
            name: p.label(),
            plant,
            policy,
        });
    }
    Ok((Study { variants, ..base }, latencies))
}

/// The located error for a frozen horizon longer than the plan it would freeze: at the
/// plant file's `[reschedule] frozen` (the file's start if a study variant set it).
fn frozen_too_long(plant_file: &Path, frozen: SimTime, span_s: f64) -> LoadError {
    let text = twinworks_twins::diagnostic::read_text(plant_file).unwrap_or_default();
    let mut r = twinworks_twins::diagnostic::Reporter::new(plant_file, &text);
    r.error_help(
        twinworks_twins::plant_file::reschedule_key_span(&text, "frozen"),
        format!(
            "[reschedule] frozen ({frozen}) is longer than the plan it would freeze, which ends at {}",
            SimTime::from_secs(span_s)
        ),
        Some("a frozen horizon keeps the start of the plan; make it shorter than the plan".into()),
    );
    r.into_error()
}

/// The policy executing `schedule` on `plant` (checked against it).
pub fn plan_policy(plant: &PlantModel, schedule: &PlantSchedule) -> Result<PolicyMaker, DispatchError> {
    let cfg = Compiled::new(plant.clone());
    plan_factory(&cfg, schedule)
        .map(PolicyMaker)
        .map_err(|e| DispatchError::Plan(e.to_string()))
}

/// `plant` with every station dispatching by `rule`.
pub fn with_rule(plant: &PlantModel, rule: Rule) -> PlantModel {
    let mut p = plant.clone();
    for s in &mut p.stations {
        s.dispatch = rule;
    }
    p
}

/// Ranking and selection on `kpi` with indifference `delta` (PCS 0.95, 10 first-stage
/// replications).
pub fn rank_on(kpi: &str, delta: f64, maximize: bool) -> Ranking {
    Ranking {
        kpi: kpi.to_string(),
        maximize,
        pcs: 0.95,
        indifference: delta,
        first_stage: 10,
    }
}
