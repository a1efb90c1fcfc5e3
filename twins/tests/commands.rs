//! Run-time parameters (issue 11): a what-if variant applied as commands on a freshly built
//! twin gives the very numbers of the variant re-parsed from its plant file.

use std::path::Path;
use std::sync::Arc;

use twinworks_engine::{Distribution, SimTime, replication_seed};
use twinworks_twins::kpi::collect;
use twinworks_twins::prelude::*;
use twinworks_twins::sim::Command;
use twinworks_twins::state::{Restorable, Streams, TwinState};

const CELL: &str = "../scenarios/samples/machining_cell.toml";

fn plant(text: &str) -> PlantModel {
    parse_plant(text, Path::new(CELL)).expect("valid plant")
}

/// The report JSON of replication 0 of `cfg` with `commands` applied before time 0's events.
fn report(cfg: Arc<Compiled>, commands: &[Command]) -> serde_json::Value {
    let settings = cfg.plant.run;
    let seed = replication_seed(settings.seed, 0);
    let mut twin = build_twin(cfg, seed);
    twin.model.commands.extend_from_slice(commands);
    let Horizon::Time(h) = settings.horizon else {
        panic!("the cell runs on a time horizon")
    };
    twin.run_until(h);
    serde_json::to_value(collect(&mut twin, 0, seed)).expect("report serializes")
}

fn index(names: impl Iterator<Item = String>, name: &str) -> u32 {
    names
        .enumerate()
        .find(|(_, n)| n == name)
        .map(|(i, _)| i as u32)
        .expect("element exists")
}

#[test]
fn variants_applied_as_commands_equal_the_reparsed_variants() {
    let text = std::fs::read_to_string(CELL).expect("sample");
    let base = plant(&text);
    let station = |n: &str| index(base.stations.iter().map(|s| s.name.clone()), n);
    let buffer = |n: &str| index(base.buffers.iter().map(|b| b.name.clone()), n);
    let mut cases: Vec<(&str, String, Vec<Command>)> = vec![
        (
            "bigger buffers",
            text.replacen(
                "name = \"MillQueue\"\ncapacity = 20",
                "name = \"MillQueue\"\ncapacity = 40",
                1,
            ),
            vec![Command::SetBufferCapacity {
                buffer: buffer("MillQueue"),
                capacity: Some(40),
            }],
        ),
        (
            "a second mill",
            text.replacen("name = \"Mill\"\n", "name = \"Mill\"\ncapacity = 2\n", 1),
            vec![Command::SetCapacity {
                station: station("Mill"),
                servers: 2,
            }],
        ),
    ];
    let product = |n: &str| index(base.products.iter().map(|p| p.name.clone()), n);
    cases.push((
        "a slower mill for flanges",
        text.replacen(
            "Flange = { dist = \"lognormal\", mean = \"9min\", sd = \"1min\" }",
            "Flange = { dist = \"lognormal\", mean = \"10min\", sd = \"1min\" }",
            1,
        ),
        vec![Command::SetProcessTime {
            station: station("Mill"),
            product: Some(product("Flange")),
            time: Distribution::Lognormal { mean: 600.0, sd: 60.0 },
        }],
    ));
    let cfg_base = Arc::new(Compiled::new(base.clone()));
    let unchanged = report(cfg_base.clone(), &[]);
    for (name, variant_text, commands) in cases {
        assert_ne!(variant_text, text, "{name}: the variant changes the file");
        let reparsed = report(Arc::new(Compiled::new(plant(&variant_text))), &[]);
        let commanded = report(cfg_base.clone(), &commands);
        assert_ne!(reparsed, unchanged, "{name}: the variant changes the results");
        assert!(
            commanded == reparsed,
            "{name}: commands and the re-parsed variant differ"
        );
    }
}

#[test]
fn a_state_keeps_the_parameters_commands_set() {
    let text = std::fs::read_to_string(CELL).expect("sample");
    let cfg = Arc::new(Compiled::new(plant(&text)));
    let mill = index(cfg.plant.stations.iter().map(|s| s.name.clone()), "Mill");
    let commands = [
        Command::SetProcessTime {
            station: mill,
            product: None,
            time: Distribution::Exponential { mean: 500.0 },
        },
        Command::SetScrap {
            station: mill,
            probability: 0.05,
        },
        Command::SetCapacity {
            station: mill,
            servers: 2,
        },
    ];
    let seed = replication_seed(1, 0);
    let run = |twin: &mut Twin| {
        twin.run_until(SimTime::from_secs(4.0 * 86400.0));
        serde_json::to_value(collect(twin, 0, seed)).expect("report")
    };
    let mut unbroken = build_twin(cfg.clone(), seed);
    unbroken.model.commands.extend_from_slice(&commands);
    let want = run(&mut unbroken);
    let mut first = build_twin(cfg.clone(), seed);
    first.model.commands.extend_from_slice(&commands);
    first.run_until(SimTime::from_secs(86400.0));
    let json = serde_json::to_string(&first.state()).expect("state serializes");
    let state: TwinState = serde_json::from_str(&json).expect("state parses");
    let milled: Vec<&str> = state.process_times.iter().map(|p| p.product.as_str()).collect();
    assert_eq!(
        milled,
        ["Flange", "Bracket"],
        "the mill's changed times (the products it makes) are saved"
    );
    let mut restored = Twin::restore(cfg, &state, Streams::Continue).expect("fits");
    assert!(
        run(&mut restored) == want,
        "the restored twin keeps the commanded parameters"
    );
}

#[test]
fn a_variant_of_values_is_commands_and_a_structural_one_is_not() {
    use twinworks_twins::sim::commands_between;
    let text = std::fs::read_to_string(CELL).expect("sample");
    let base = plant(&text);
    let mill = index(base.stations.iter().map(|s| s.name.clone()), "Mill");
    let bigger = plant(&text.replacen("name = \"Mill\"\n", "name = \"Mill\"\ncapacity = 2\n", 1));
    assert_eq!(
        commands_between(&base, &bigger),
        Some(vec![Command::SetCapacity {
            station: mill,
            servers: 2,
        }])
    );
    assert_eq!(commands_between(&base, &base), Some(vec![]));
    // Energy rates are no command: such a variant is compiled on its own.
    let rerouted = plant(&text.replacen("energy_kw = { busy = 2.0", "energy_kw = { busy = 2.5", 1));
    assert_eq!(
        commands_between(&base, &rerouted),
        None,
        "energy rates are not commands (yet)"
    );
}
