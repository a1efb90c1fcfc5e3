//! Run-time parameters (issue 11): a what-if variant applied as commands on a freshly built
//! twin gives the very numbers of the variant re-parsed from its plant file.

use std::path::Path;
use std::sync::Arc;

use twinworks_engine::replication_seed;
use twinworks_twins::kpi::collect;
use twinworks_twins::prelude::*;
use twinworks_twins::sim::Command;

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
    let cases: Vec<(&str, String, Vec<Command>)> = vec![
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
