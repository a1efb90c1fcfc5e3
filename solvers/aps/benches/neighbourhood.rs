//! Move evaluations per second on ta41 (30 jobs × 20 machines).
//!
//! `evaluate_n7` estimates every N7 move of one critical path of a solution
//! that 2 000 tabu iterations have already improved (so blocks are realistic);
//! its throughput is in moves. `tabu_iteration` is one full step: path,
//! neighbourhood, choice, move and the exact O(n) head/tail recomputation.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use twinworks_aps::bench_support::with_search;
use twinworks_aps::parse_jssp;

fn neighbourhood(c: &mut Criterion) {
    let p = parse_jssp(include_str!("../tests/data/ta41.txt")).expect("ta41 parses");
    with_search(&p, 2_000, |eval, step| {
        let samples = 200;
        let moves: usize = (0..samples).map(|_| eval()).sum();
        let per_call = (moves / samples).max(1) as u64;
        let mut g = c.benchmark_group("ta41");
        g.throughput(Throughput::Elements(per_call));
        g.bench_function("evaluate_n7", |b| b.iter(|| black_box(eval())));
        g.throughput(Throughput::Elements(1));
        g.bench_function("tabu_iteration", |b| b.iter(&mut *step));
        g.finish();
    });
}

criterion_group!(benches, neighbourhood);
criterion_main!(benches);
