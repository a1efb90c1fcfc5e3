//! CPU time to build one frame of the viewer (UI pass plus tessellation; no GPU painting) on a
//! generated plant of 500 stations (25 lines of 20) with 20,000 operations in the Gantt chart,
//! all of them in view (the chart zoomed out, the worst case). Goal: ≤ 16 ms.
//!
//! `cargo bench -p twinworks-viewer --bench frame`

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use twinworks_engine::SimTime;
use twinworks_twins::plant_file::parse_plant;
use twinworks_twins::sim::{Compiled, build_twin};
use twinworks_twins::snapshot::take;
use twinworks_twins::trace::TraceWriter;
use twinworks_viewer::gantt::Bar;
use twinworks_viewer::view_state::TrendSample;
use twinworks_viewer::{ViewerApp, ViewerOptions, ViewerSource};

/// 25 lines of 20 stations, each line its own product, source and buffers.
fn big_plant_toml(lines: usize, per_line: usize) -> String {
    let mut t = String::from("[plant]\nname = \"big\"\n");
    for l in 0..lines {
        t += &format!("[[source]]\nname = \"in{l}\"\nkind = \"infinite\"\nproduct = \"P{l}\"\n");
        for s in 0..per_line {
            if s > 0 {
                t += &format!("[[buffer]]\nname = \"B{l}_{s}\"\ncapacity = 4\n");
            }
            t += &format!("[[station]]\nname = \"S{l}_{s}\"\n");
            if s > 0 {
                t += &format!("input = \"B{l}_{s}\"\n");
            }
            t += "process_time = { dist = \"exponential\", mean = \"55s\" }\n";
            t += "failures = { basis = \"busy\", mtbf = { dist = \"exponential\", mean = \"2h\" }, mttr = { dist = \"exponential\", mean = \"10min\" } }\n";
        }
        let routing: Vec<String> = (0..per_line).map(|s| format!("{{ station = \"S{l}_{s}\" }}")).collect();
        t += &format!("[[product]]\nname = \"P{l}\"\nrouting = [{}]\n", routing.join(", "));
    }
    t
}

fn bench(c: &mut Criterion) {
    let plant = parse_plant(&big_plant_toml(25, 20), std::path::Path::new("big.toml")).expect("generated plant");
    assert_eq!(plant.stations.len(), 500);
    // Simulate until 20,000 operations have ended, keeping them (and setups and breakdowns)
    // in the memory trace; sample KPIs along the way for the trend plots.
    let cfg = Arc::new(Compiled::new(plant.clone()));
    let mut twin = build_twin(cfg.clone(), 1);
    twin.model.trace = Some(Box::new(TraceWriter::in_memory(cfg, 1_000_000)));
    let mut samples = Vec::new();
    let mut bars: Vec<Bar> = Vec::new();
    let mut t = 0.0;
    while bars
        .iter()
        .filter(|b| b.kind == twinworks_viewer::gantt::BarKind::Operation)
        .count()
        < 20_000
    {
        t += 60.0;
        twin.run_until(SimTime::from_secs(t));
        samples.push(TrendSample::of(&take(&mut twin)));
        let rows = twin.model.trace.as_mut().expect("trace").drain();
        bars.extend(rows.iter().filter_map(Bar::from_trace));
    }
    let ops = bars
        .iter()
        .filter(|b| b.kind == twinworks_viewer::gantt::BarKind::Operation)
        .count();
    let snapshot = take(&mut twin);
    let (_tx, rx) = std::sync::mpsc::channel();
    let options = ViewerOptions {
        bar_capacity: bars.len(),
        ..ViewerOptions::default()
    };
    let mut app = ViewerApp::new(ViewerSource::External { plant, rx }, &options).expect("app");
    app.state.push_samples(&samples);
    app.state.apply_without_sample(snapshot, bars);
    app.state.selected = Some(137);
    println!(
        "plant: 500 stations; Gantt: {} bars ({ops} operations) over {:.1} h simulated",
        app.state.bars.len(),
        t / 3600.0
    );

    let ctx = egui::Context::default();
    let size = options.size;
    let input = || egui::RawInput {
        screen_rect: Some(egui::Rect::from_min_size(
            egui::Pos2::ZERO,
            egui::vec2(size[0], size[1]),
        )),
        ..Default::default()
    };
    let mut frame = || {
        let mut out = ctx.run_ui(input(), |ui| app.show(ui));
        // No painter here: the font atlas uploads are dropped, not applied.
        out.textures_delta.clear();
        let prims = ctx.tessellate(out.shapes, out.pixels_per_point);
        black_box(prims.len())
    };
    // Warm up text layout caches and plot memory (the first frames lay out every glyph).
    for _ in 0..5 {
        frame();
    }
    let mut g = c.benchmark_group("viewer");
    g.sample_size(30);
    g.bench_function("frame_500_stations_20k_operations", |b| b.iter(&mut frame));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
