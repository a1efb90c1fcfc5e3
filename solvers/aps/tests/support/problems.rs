//! Random problems for the property tests: flexible job shops with setups, release and due
//! dates, weights and zero-length operations; with `state`, also machine ready times and the
//! families machines are set up for (a plan from a running plant).

use proptest::prelude::*;
use twinworks_aps::prelude::*;

/// Problems of 1–4 machines, `jobs` jobs of 1–4 operations, 1–3 families.
pub fn arb_problem(jobs: std::ops::RangeInclusive<usize>, state: bool) -> impl Strategy<Value = Problem> {
    (1usize..=4, jobs, 1usize..=3, any::<bool>(), any::<bool>()).prop_flat_map(
        move |(machines, jobs, families, flexible, with_setups)| {
            let alt_count = if flexible { 1..=machines } else { 1..=1 };
            let op = (
                proptest::sample::subsequence((0..machines).collect::<Vec<_>>(), alt_count),
                proptest::collection::vec(0i64..10, machines),
                0..families,
            )
                .prop_map(|(ms, ds, family)| Operation {
                    alternatives: ms
                        .into_iter()
                        .map(|m| Alternative {
                            machine: m,
                            duration: ds[m],
                        })
                        .collect(),
                    family,
                });
            let job = (
                proptest::collection::vec(op, 1..=4),
                0i64..15,
                proptest::option::of(0i64..40),
                0i64..4,
            )
                .prop_map(|(operations, release, due, weight)| Job {
                    operations,
                    release,
                    due,
                    weight,
                });
            let setups = proptest::collection::vec(0i64..6, machines * families * families);
            let ready = proptest::collection::vec(0i64..5, if state { machines } else { 0 });
            let initial =
                proptest::collection::vec(proptest::option::of(0..families), if state { machines } else { 0 });
            (proptest::collection::vec(job, jobs), setups, ready, initial).prop_map(
                move |(jobs, times, machine_ready, initial_family)| Problem {
                    name: "random".into(),
                    machines,
                    jobs,
                    setups: (with_setups || state).then_some(SetupMatrix { families, times }),
                    machine_ready,
                    initial_family,
                    pinned: Vec::new(),
                },
            )
        },
    )
}
