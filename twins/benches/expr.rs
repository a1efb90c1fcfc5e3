//! Cost per evaluation of a process-model output: our compiled expressions (`twins::expr`)
//! against evalexpr 13 (an operator tree evaluated against a name-keyed context), on a quadratic
//! response surface of two parameters — the shape a process model evaluates at every operation
//! — with both variables changing every evaluation.
//!
//! `cargo bench -p twinworks-twins --bench expr`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use evalexpr::{ContextWithMutableVariables, DefaultNumericTypes, HashMapContext, Value, build_operator_tree};
use twinworks_twins::expr::Expr;

const TEXT: &str = "(1 - (0.02 + 0.5 * (u - 1)^2 + 0.0001 * (T - 170)^2)) * u / 0.05";

fn bench(c: &mut Criterion) {
    let ours = Expr::compile(TEXT, &["u", "T"]).unwrap();
    let theirs = build_operator_tree::<DefaultNumericTypes>(TEXT).unwrap();
    let mut ctx = HashMapContext::<DefaultNumericTypes>::new();
    let mut g = c.benchmark_group("quadratic response surface, 2 variables");
    let mut k = 0u64;
    g.bench_function("twins::expr", |b| {
        b.iter(|| {
            k += 1;
            let u = 0.8 + (k % 100) as f64 * 0.004;
            black_box(ours.eval(black_box(&[u, 160.0 + (k % 50) as f64])))
        })
    });
    g.bench_function("evalexpr 13", |b| {
        b.iter(|| {
            k += 1;
            let u = 0.8 + (k % 100) as f64 * 0.004;
            ctx.set_value("u".into(), Value::from_float(u)).unwrap();
            ctx.set_value("T".into(), Value::from_float(160.0 + (k % 50) as f64))
                .unwrap();
            black_box(theirs.eval_float_with_context(&ctx).unwrap())
        })
    });
    g.finish();
    // The two agree.
    let mut ctx = HashMapContext::<DefaultNumericTypes>::new();
    ctx.set_value("u".into(), Value::from_float(1.1)).unwrap();
    ctx.set_value("T".into(), Value::from_float(175.0)).unwrap();
    let a = ours.eval(&[1.1, 175.0]);
    let b = theirs.eval_float_with_context(&ctx).unwrap();
    assert!((a - b).abs() < 1e-12, "{a} vs {b}");
}

criterion_group!(benches, bench);
criterion_main!(benches);
