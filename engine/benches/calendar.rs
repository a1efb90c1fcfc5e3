//! The event calendar under the classic "hold" workload: with N events pending, pop the next
//! and schedule one at a random later time. `cargo bench -p twinworks-engine --bench calendar`.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use twinworks_engine::{Calendar, Distribution, RngStream, SimTime};

fn hold(c: &mut Criterion) {
    let mut g = c.benchmark_group("calendar_hold");
    let ops = 100_000u64;
    g.throughput(Throughput::Elements(ops));
    for n in [10usize, 1_000, 100_000] {
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, &n| {
            let d = Distribution::Exponential { mean: 1.0 };
            let mut rng = RngStream::from_seed(7);
            let mut cal = Calendar::new();
            for i in 0..n {
                cal.schedule(SimTime::from_secs(d.sample(&mut rng)), i as u32);
            }
            b.iter(|| {
                for _ in 0..ops {
                    let s = cal.pop().expect("never empty");
                    cal.schedule(s.time + SimTime::from_secs(d.sample(&mut rng)), s.event);
                }
            })
        });
    }
    g.finish();
}

criterion_group!(benches, hold);
criterion_main!(benches);
