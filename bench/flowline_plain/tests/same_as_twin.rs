//! The plain loop is the same model as the twin's flow-line sample: throughput, events and lead
//! times (mean, median, 95th percentile) are bit-identical to `twin run`'s, for several seeds.

use std::path::Path;

use twinworks_twins::prelude::*;

#[test]
fn plain_loop_equals_twin_run_bit_for_bit() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/samples/flowline.toml");
    let plant = load_plant(&path).expect("sample loads");
    let parts = 50_000;
    for seed in [1, 2, 7] {
        let mut opts = RunOptions::from_plant(&plant);
        opts.settings.horizon = Horizon::Parts(parts);
        opts.settings.replications = 1;
        opts.settings.seed = seed;
        let twin = run_replications(&plant, &opts, &|_, _| {})
            .expect("twin runs")
            .remove(0);
        let plain = twinworks_flowline_plain::run(parts, seed);
        assert_eq!(plain.exits, twin.plant.parts_out, "seed {seed}");
        assert_eq!(
            plain.completions,
            twin.events - 1,
            "seed {seed}: the twin also has its start event"
        );
        let same = |what: &str, a: f64, b: f64| {
            assert_eq!(a.to_bits(), b.to_bits(), "seed {seed}: {what}: plain {a} vs twin {b}");
        };
        same("end", plain.end_s, twin.end_s);
        same("throughput", plain.throughput_per_h, twin.plant.throughput_per_h);
        same("lead mean", plain.lead.mean(), twin.plant.lead_time_mean_s);
        same(
            "lead p50",
            plain.lead.quantile(0.5).unwrap(),
            twin.plant.lead_time_p50_s,
        );
        same(
            "lead p95",
            plain.lead.quantile(0.95).unwrap(),
            twin.plant.lead_time_p95_s,
        );
    }
}
