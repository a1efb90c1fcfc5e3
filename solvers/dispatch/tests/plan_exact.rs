//! Plan execution is exact: with integer constant process and setup times, no breakdowns or
//! shifts and unbounded buffers, the twin executing an APS plan starts and ends every planned
//! operation exactly when the schedule JSON says — on the job-shop sample and on random small
//! plants, for unit and lot plans. With a finite buffer, a reservation deadlock is found,
//! counted, and resolved by the station's rule.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use proptest::prelude::*;
use twinworks_aps::plant_plan::{PlantSchedule, Split, plan_plant, read_plant_schedule};
use twinworks_aps::prelude::{Budget, Objective, SolveOptions};
use twinworks_dispatch::{PlanPolicy, plan_factory};
use twinworks_engine::{Distribution, SimTime};
use twinworks_twins::prelude::*;
use twinworks_twins::sim::dispatch::Policy;
use twinworks_twins::trace::{TraceKind, TraceRow, TraceSink};

/// Keeps every row.
struct Collect(Arc<Mutex<Vec<TraceRow>>>);

impl TraceSink for Collect {
    fn write(&mut self, row: &TraceRow) {
        self.0.lock().expect("rows").push(*row);
    }
    fn rows(&self) -> u64 {
        self.0.lock().expect("rows").len() as u64
    }
    fn finish(self: Box<Self>) -> Result<u64, std::io::Error> {
        Ok(self.rows())
    }
}

fn constant(d: &Distribution) -> Distribution {
    Distribution::Constant {
        value: d.mean().round().max(1.0),
    }
}

/// `plant` with every time its rounded mean, no breakdowns, shifts, events or scrap, and
/// unbounded buffers.
fn deterministic(mut plant: PlantModel) -> PlantModel {
    for s in &mut plant.stations {
        s.process_time = s.process_time.as_ref().map(constant);
        for (_, d) in &mut s.process_times {
            *d = constant(d);
        }
        s.setups.default = s.setups.default.as_ref().map(constant);
        s.setups.initial = s.setups.initial.as_ref().map(constant);
        for (_, _, d) in &mut s.setups.matrix {
            *d = constant(d);
        }
        s.failures = None;
        s.shift = None;
        s.scrap = 0.0;
    }
    for p in &mut plant.products {
        for st in &mut p.routing {
            st.time = st.time.as_ref().map(constant);
        }
    }
    for b in &mut plant.buffers {
        b.capacity = None;
    }
    plant.disruptions.clear();
    plant
}

fn opts(iterations: u64) -> SolveOptions {
    SolveOptions {
        objective: Objective::Twt,
        threads: 1,
        seed: 3,
        budget: Budget::Iterations(iterations),
        slots: 2,
    }
}

/// Executes `schedule` on `plant` to the end; the trace rows and the policy's KPIs.
fn execute(plant: &PlantModel, schedule: &PlantSchedule) -> (Vec<TraceRow>, HashMap<String, f64>) {
    let cfg = Compiled::new(plant.clone());
    let cfg =
        Arc::new(Compiled::new(plant.clone()).with_policy(plan_factory(&cfg, schedule).expect("plan fits the plant")));
    let rows = Arc::new(Mutex::new(Vec::new()));
    let mut twin = build_twin(cfg, 1);
    twin.model.trace = Some(Box::new(Collect(rows.clone())));
    twin.run_until(SimTime::from_secs(1e9));
    let kpis = match &twin.model.policy {
        Policy::External(p) => p.kpis().into_iter().collect(),
        Policy::Fifo => HashMap::new(),
    };
    twin.model.trace = None;
    let rows = rows.lock().expect("rows").clone();
    (rows, kpis)
}

/// Every planned operation's (start, end) against the trace's: per unit, or per lot (its
/// first unit's start, its last unit's end). Returns the mismatches.
fn mismatches(plant: &PlantModel, schedule: &PlantSchedule, rows: &[TraceRow]) -> Vec<String> {
    // (order index, unit or None, step) -> (station, server, start, end) as executed.
    type Executed = (usize, usize, f64, f64);
    let mut done: HashMap<(u32, Option<u32>, u16), Executed> = HashMap::new();
    let lot = schedule.split == Split::Lot;
    for r in rows.iter().filter(|r| r.kind == TraceKind::Operation) {
        let p = r.part.expect("operations have parts");
        let key = (p.order, (!lot).then_some(p.unit), p.step);
        let e = done.entry(key).or_insert((r.station, r.server, r.start, r.end));
        e.2 = e.2.min(r.start);
        e.3 = e.3.max(r.end);
    }
    let mut bad = Vec::new();
    for op in &schedule.operations {
        let o = plant.orders.iter().position(|x| x.id == op.order).expect("known order") as u32;
        let unit = schedule.jobs[op.job].unit;
        let want = (
            plant.station_id(&op.station).expect("known station"),
            op.server as usize,
            op.start as f64,
            op.end as f64,
        );
        match done.get(&(o, unit, op.step as u16)) {
            Some(got) if *got == want => {}
            got => bad.push(format!(
                "order {} unit {unit:?} step {}: planned {want:?}, executed {got:?}",
                op.order, op.step
            )),
        }
    }
    bad
}

fn check_exact(plant: &PlantModel, split: Split, iterations: u64) -> Result<(), String> {
    let schedule = plan_plant(plant, split, &opts(iterations)).map_err(|e| e.to_string())?;
    // Through the JSON, as `twin run --schedule` reads it.
    let text = serde_json::to_string(&schedule).expect("serializes");
    let schedule = read_plant_schedule(&text, Path::new("plan.json"), plant).map_err(|e| e.to_string())?;
    let (rows, kpis) = execute(plant, &schedule);
    let bad = mismatches(plant, &schedule, &rows);
    if !bad.is_empty() {
        return Err(format!(
            "{} of {} operations off plan; first: {}",
            bad.len(),
            schedule.operations.len(),
            bad[0]
        ));
    }
    for k in [
        "fallbacks",
        "out_of_plan_starts",
        "start_deviation_abs_mean_s",
        "completion_deviation_mean_s",
    ] {
        if kpis[k] != 0.0 {
            return Err(format!("{k} = {} on an exact run", kpis[k]));
        }
    }
    Ok(())
}

fn sample() -> PlantModel {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/samples/job_shop.toml");
    deterministic(load_plant(&path).expect("the sample loads"))
}

#[test]
fn the_job_shop_sample_executes_its_unit_plan_exactly() {
    check_exact(&sample(), Split::Unit, 3_000).unwrap();
}

#[test]
fn the_job_shop_sample_executes_its_lot_plan_exactly() {
    check_exact(&sample(), Split::Lot, 3_000).unwrap();
}

/// A random small plant file: 2-4 stations of 1-2 servers, 1-3 products in 1-2 families with
/// 1-3 steps (some with two alternative stations), setups (initial and between families),
/// 1-5 orders of 1-3 units released at integer times.
fn small_plant() -> impl Strategy<Value = String> {
    (2usize..=4, 1usize..=3, 1usize..=5).prop_flat_map(|(ns, np, no)| {
        let stations = proptest::collection::vec((1u32..=2, 1u32..=9, 0u32..=3, 0u32..=4), ns);
        let step = (0..ns, proptest::option::of(0..ns), 1u32..=9);
        let products = proptest::collection::vec((proptest::collection::vec(step, 1..=3), 0usize..2), np);
        let orders = proptest::collection::vec((0..np, 1u32..=3, 0u32..=20, 1u32..=3, 10u32..=80), no);
        (stations, products, orders).prop_map(move |(stations, products, orders)| {
            let mut t = String::from("[plant]\nname = \"random\"\n");
            for (i, (cap, _pt, setup, initial)) in stations.iter().enumerate() {
                t += &format!("[[station]]\nname = \"S{i}\"\ncapacity = {cap}\n");
                if *setup > 0 || *initial > 0 {
                    t += "setup = { ";
                    if *setup > 0 {
                        t += &format!("default = \"{setup}s\", ");
                    }
                    if *initial > 0 {
                        t += &format!("initial = \"{initial}s\"");
                    }
                    t += " }\n";
                }
            }
            t += "[[sink]]\nname = \"Out\"\n";
            for (p, (steps, fam)) in products.iter().enumerate() {
                t += &format!("[[product]]\nname = \"P{p}\"\nfamily = \"f{fam}\"\nsink = \"Out\"\nrouting = [");
                for (a, b, time) in steps {
                    let st = match b {
                        Some(b) if b != a => format!("[\"S{a}\", \"S{b}\"]"),
                        _ => format!("\"S{a}\""),
                    };
                    t += &format!("{{ station = {st}, time = \"{time}s\" }}, ");
                }
                t += "]\n";
            }
            for (o, (p, qty, rel, w, due)) in orders.iter().enumerate() {
                t += &format!(
                    "[[order]]\nid = \"O{o}\"\nproduct = \"P{p}\"\nquantity = {qty}\nrelease = \"{rel}s\"\ndue = \"{}s\"\npriority = {w}\n",
                    rel + due
                );
            }
            t
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_small_plants_execute_their_plans_exactly(text in small_plant(), lot in any::<bool>()) {
        let plant = parse_plant(&text, Path::new("random.toml")).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let split = if lot { Split::Lot } else { Split::Unit };
        check_exact(&plant, split, 300).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
    }
}

const DEADLOCK: &str = r#"
[plant]
name = "deadlock"
[[station]]
name = "Saw"
process_time = { dist = "constant", value = "1s" }
[[buffer]]
name = "B"
capacity = 1
[[station]]
name = "Press"
input = "B"
process_time = { dist = "constant", value = "5s" }
[[sink]]
name = "Out"
[[product]]
name = "Job"
routing = [{ station = "Saw" }, { station = "Press" }]
[[order]]
id = "A"
product = "Job"
quantity = 3
due = "100s"
"#;

#[test]
fn a_plan_that_deadlocks_behind_a_full_buffer_falls_back_and_counts_it() {
    let plant = parse_plant(DEADLOCK, Path::new("deadlock.toml")).expect("valid plant");
    // The saw cuts units 0, 1, 2; the press is planned 2, 0, 1. Unit 0 fills the buffer of
    // one, unit 1 blocks the saw behind it: unit 2 can never reach the press.
    let schedule = plan_plant(&plant, Split::Unit, &opts(10)).expect("plans");
    let mut schedule = schedule;
    let job_of = |u: u32| schedule.jobs.iter().position(|j| j.unit == Some(u)).expect("unit job");
    let (j0, j1, j2) = (job_of(0), job_of(1), job_of(2));
    for op in &mut schedule.operations {
        let (saw, press) = match op.job {
            j if j == j0 => ((0, 1), (6, 11)),
            j if j == j1 => ((1, 2), (11, 16)),
            j if j == j2 => ((2, 3), (3, 8)),
            _ => unreachable!("three units"),
        };
        let (s, e) = if op.step == 0 { saw } else { press };
        op.start = s;
        op.end = e;
    }
    let cfg = Compiled::new(plant.clone());
    PlanPolicy::new(&cfg, &schedule).expect("fits the plant");
    let (rows, kpis) = execute(&plant, &schedule);
    assert!(kpis["fallbacks"] >= 1.0, "the deadlock is counted: {kpis:?}");
    assert!(
        kpis["out_of_plan_starts"] >= 1.0,
        "a unit ran out of plan order: {kpis:?}"
    );
    let presses: Vec<u32> = rows
        .iter()
        .filter(|r| r.kind == TraceKind::Operation && r.station == 1)
        .map(|r| r.part.expect("part").unit)
        .collect();
    assert_eq!(presses.len(), 3, "every unit is pressed: the deadlock is resolved");
    assert_eq!(presses[0], 0, "the press falls back to FIFO and takes unit 0 first");
}
