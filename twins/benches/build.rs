//! What one evaluation of an optimization loop costs before it simulates anything: building a
//! twin of an already-parsed plant and parameterising it with commands, against re-parsing the
//! plant file of the variant (what studies did before commands existed).
//!
//! `cargo bench -p twinworks-twins --bench build`.

use std::path::Path;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use twinworks_twins::prelude::*;
use twinworks_twins::sim::Command;

fn build(c: &mut Criterion) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/samples/machining_cell.toml");
    let text = std::fs::read_to_string(&path).expect("sample");
    let plant = parse_plant(&text, &path).expect("sample parses");
    let cfg = Arc::new(Compiled::new(plant.clone()));
    let mill = plant.stations.iter().position(|s| s.name == "Mill").expect("a mill") as u32;
    let queue = plant
        .buffers
        .iter()
        .position(|b| b.name == "MillQueue")
        .expect("its queue") as u32;
    let commands = [
        Command::SetCapacity {
            station: mill,
            servers: 2,
        },
        Command::SetBufferCapacity {
            buffer: queue,
            capacity: Some(40),
        },
    ];
    let variant = text
        .replacen("name = \"Mill\"\n", "name = \"Mill\"\ncapacity = 2\n", 1)
        .replacen(
            "name = \"MillQueue\"\ncapacity = 20",
            "name = \"MillQueue\"\ncapacity = 40",
            1,
        );
    let mut g = c.benchmark_group("evaluation_setup");
    g.bench_function("build_and_commands", |b| {
        b.iter(|| {
            let mut twin = build_twin(cfg.clone(), 1);
            twin.model.commands.extend_from_slice(&commands);
            // A zero-event batch applies the commands and nothing else.
            twin.run_events(0);
            twin
        })
    });
    g.bench_function("reparse_compile_build", |b| {
        b.iter(|| {
            let p = parse_plant(&variant, &path).expect("variant parses");
            let mut twin = build_twin(Arc::new(Compiled::new(p)), 1);
            twin.run_events(0);
            twin
        })
    });
    g.finish();
}

criterion_group!(benches, build);
criterion_main!(benches);
