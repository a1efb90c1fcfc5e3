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

/// What parts-as-entities would add: one spawn and one despawn per part (the two structural
/// changes ECS_HOT_LOOP.md asks to measure), here applied through `Commands`-like direct world
/// calls on a world holding the flow line's entities. Compare the per-part time with the flow
/// line's per-part time above (5 completions per part).
fn entity_per_part(c: &mut Criterion) {
    use bevy_ecs::prelude::*;
    #[derive(Component, Clone, Copy)]
    #[expect(dead_code, reason = "the payload only gives the entity a realistic size")]
    struct PartEntity {
        id: u64,
        created: f64,
        product: u16,
        step: u16,
        order: u32,
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/samples/flowline.toml");
    let cfg = Arc::new(Compiled::new(load_plant(&path).expect("sample loads")));
    let parts: u64 = 200_000;
    let mut g = c.benchmark_group("parts_as_entities");
    g.throughput(Throughput::Elements(parts));
    g.sample_size(20);
    g.bench_function("spawn_despawn_200k", |b| {
        let mut twin = build_twin(cfg.clone(), 1);
        b.iter(|| {
            // At most ~15 parts are in the line at once: keep a small window alive.
            let mut live = std::collections::VecDeque::with_capacity(16);
            for i in 0..parts {
                let e = twin
                    .world
                    .spawn(PartEntity {
                        id: i,
                        created: i as f64,
                        product: 0,
                        step: 0,
                        order: u32::MAX,
                    })
                    .id();
                live.push_back(e);
                if live.len() > 15 {
                    let old = live.pop_front().expect("non-empty");
                    twin.world.despawn(old);
                }
            }
            for e in live {
                twin.world.despawn(e);
            }
        })
    });
    g.finish();
}

criterion_group!(benches, flowline, entity_per_part);
criterion_main!(benches);
