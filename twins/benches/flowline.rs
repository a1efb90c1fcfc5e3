//! The flow-line reference model (5 stations in series, exponential service, buffers of 5,
//! blocking after service): service completions per second of the simulation hot loop.
//!
//! `cargo bench -p twinworks-twins --bench flowline`. The run is single-threaded, so wall time
//! per iteration equals CPU time; criterion's throughput line reads as completions per CPU-second.

use std::path::Path;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use twinworks_twins::prelude::*;
use twinworks_twins::sim::PlantHot;

fn flowline(c: &mut Criterion) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/samples/flowline.toml");
    let plant = load_plant(&path).expect("sample loads");
    let cfg = Arc::new(Compiled::new(plant));
    let parts: u64 = 200_000;
    let mut g = c.benchmark_group("flowline");
    // Every part is served once at each of the 5 stations.
    g.throughput(Throughput::Elements(parts * 5));
    g.sample_size(20);
    g.bench_function("200k_parts", |b| {
        b.iter(|| {
            let mut twin = build_twin(cfg.clone(), 1);
            twin.model.stop_at_exits = Some(parts);
            twin.run_to_end();
            assert_eq!(twin.world.resource::<PlantHot>().exits, parts);
            twin.kernel().events_run()
        })
    });
    g.finish();
}

criterion_group!(benches, flowline);
criterion_main!(benches);
