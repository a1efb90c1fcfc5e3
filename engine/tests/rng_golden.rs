//! Golden values of the own random streams and samplers: the first values of a stream for a
//! fixed key, and the first draws of every distribution family (and of their residual lives).
//! Seeds and names key every stream, so these values must never change silently: a change
//! would make every committed study, golden report and user's seed give other numbers.
//!
//! The expected values are `tests/data/rng_golden.txt`. After a deliberate change, rewrite it
//! with `BLESS=1 cargo test -p twinworks-engine --test rng_golden` and say why in the commit.

use twinworks_engine::random::{Distribution, RngStream, StreamKey, replication_seed};

fn stream(purpose: &str) -> RngStream {
    RngStream::new(StreamKey {
        seed: 42,
        name: "Lathe",
        purpose,
    })
}

fn render() -> String {
    let mut out = String::new();
    let mut s = stream("process");
    out.push_str("stream seed=42 name=Lathe purpose=process, next_u64:\n");
    for _ in 0..8 {
        out.push_str(&format!("{:#018x}\n", s.next_u64()));
    }
    out.push_str("uniform_open:\n");
    for _ in 0..4 {
        out.push_str(&format!("{:?}\n", s.uniform_open()));
    }
    out.push_str(&format!(
        "replication_seed(42, 0..4): {:?}\n",
        (0..4).map(|r| replication_seed(42, r)).collect::<Vec<_>>()
    ));
    let dists: Vec<(&str, Distribution)> = vec![
        ("constant", Distribution::Constant { value: 3.5 }),
        ("uniform", Distribution::Uniform { min: 1.0, max: 4.0 }),
        (
            "triangular",
            Distribution::Triangular {
                min: 1.0,
                mode: 2.0,
                max: 6.0,
            },
        ),
        ("exponential", Distribution::Exponential { mean: 90.0 }),
        ("normal", Distribution::Normal { mean: 10.0, sd: 2.0 }),
        ("normal truncated", Distribution::Normal { mean: 0.5, sd: 1.0 }),
        ("lognormal", Distribution::Lognormal { mean: 60.0, sd: 15.0 }),
        ("gamma shape<1", Distribution::Gamma { shape: 0.5, scale: 4.0 }),
        (
            "gamma shape>1",
            Distribution::Gamma {
                shape: 3.0,
                scale: 20.0,
            },
        ),
        (
            "weibull",
            Distribution::Weibull {
                shape: 1.5,
                scale: 100.0,
            },
        ),
        (
            "empirical discrete",
            Distribution::empirical(vec![1.0, 2.0, 5.0], Some(vec![1.0, 2.0, 1.0]), false).unwrap(),
        ),
        (
            "empirical continuous",
            Distribution::empirical(vec![1.0, 2.0, 5.0], None, true).unwrap(),
        ),
    ];
    for (name, d) in &dists {
        let mut rng = stream(name);
        let draws: Vec<String> = (0..5).map(|_| format!("{:?}", d.sample(&mut rng))).collect();
        out.push_str(&format!("{name}: {}\n", draws.join(" ")));
        let mut rng = stream(name);
        let residual: Vec<String> = (0..3)
            .map(|_| format!("{:?}", d.sample_residual(1.5, &mut rng)))
            .collect();
        out.push_str(&format!("{name} residual after 1.5: {}\n", residual.join(" ")));
    }
    out
}

#[test]
fn streams_and_samplers_give_their_golden_values() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/rng_golden.txt");
    let got = render();
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(&path, &got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).expect("tests/data/rng_golden.txt (BLESS=1 writes it)");
    if got != want {
        let first = got.lines().zip(want.lines()).position(|(a, b)| a != b);
        panic!(
            "random streams or samplers changed (first differing line {:?}):\n--- now ---\n{got}\n--- golden ---\n{want}",
            first.map(|i| i + 1)
        );
    }
}
