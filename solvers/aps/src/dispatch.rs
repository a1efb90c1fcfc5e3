//! Giffler–Thompson active-schedule generation with priority rules.
//!
//! At every step the operation/machine pair with the earliest possible
//! completion `C*` fixes a machine `m*`; every schedulable operation that
//! could start on `m*` before `C*` is in conflict, and the priority rule picks
//! one. For a flexible shop the picked operation then goes to whichever of its
//! eligible machines completes it earliest (ties keep `m*`), which is the
//! usual extension of Giffler–Thompson to flexible routings. With setups the
//! earliest start on a machine includes the changeover from its last family.

use crate::graph::{Graph, Instance};
use crate::problem::Time;
use crate::rng::Rng;
use serde::{Deserialize, Serialize};
use std::str::FromStr;
use twinworks_twins::rules;

/// A dispatching rule: which conflicting operation goes first. SPT, LPT, MWKR, LWKR and EDD
/// are keyed by the twin's own definitions (`twinworks_twins::rules::Rule::key`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Rule {
    /// Shortest processing time.
    Spt,
    /// Longest processing time.
    Lpt,
    /// Most work remaining (including this operation).
    Mwkr,
    /// Least work remaining.
    Lwkr,
    /// Most operations remaining.
    Mopnr,
    /// Earliest due date (jobs without one go last).
    Edd,
    /// Earliest possible start, then job index (first come, first served).
    Fifo,
    /// Uniformly random choice, driven by the solver's seeded generator.
    Random,
}

impl Rule {
    /// Every rule, in a fixed order.
    pub const ALL: [Rule; 8] = [
        Rule::Mwkr,
        Rule::Spt,
        Rule::Mopnr,
        Rule::Edd,
        Rule::Fifo,
        Rule::Lwkr,
        Rule::Lpt,
        Rule::Random,
    ];
}

impl FromStr for Rule {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "spt" => Rule::Spt,
            "lpt" => Rule::Lpt,
            "mwkr" => Rule::Mwkr,
            "lwkr" => Rule::Lwkr,
            "mopnr" => Rule::Mopnr,
            "edd" => Rule::Edd,
            "fifo" => Rule::Fifo,
            "random" => Rule::Random,
            _ => return Err(format!("unknown rule '{s}'")),
        })
    }
}

/// The schedule Giffler–Thompson is building.
struct Partial {
    /// Per op: its machine; per machine: its sequence, when it is free, its last op.
    mach: Vec<u32>,
    seq: Vec<Vec<u32>>,
    mach_ready: Vec<Time>,
    mach_last: Vec<u32>,
    /// Per job: when it is free, its next unscheduled op (NONE when done), ops left.
    job_ready: Vec<Time>,
    next: Vec<u32>,
    ops_left: Vec<u32>,
}

impl Partial {
    /// Schedules `op` of job `j` on machine `m`, ending at `end`.
    fn place(&mut self, inst: &Instance, j: usize, op: u32, m: u32, end: Time) {
        self.mach[op as usize] = m;
        self.seq[m as usize].push(op);
        self.mach_ready[m as usize] = end;
        self.mach_last[m as usize] = op;
        self.job_ready[j] = end;
        self.next[j] = inst.js[op as usize];
        self.ops_left[j] -= 1;
    }
}

/// Builds a schedule with Giffler–Thompson and `rule`; `noise` in `[0, 1)`
/// randomly perturbs priorities (0 = pure rule), so restarts can start from
/// different but still sensible schedules.
pub(crate) fn giffler_thompson(inst: &Instance, rule: Rule, noise: f64, rng: &mut Rng) -> Graph {
    let jobs = inst.last_op.len();
    let n = inst.n;
    // Remaining shortest work of each job from each op onwards.
    let mut work_from = vec![0 as Time; n];
    for j in 0..jobs {
        let mut acc = 0;
        let mut i = inst.last_op[j];
        while i != crate::graph::NONE {
            acc += inst.alternatives(i as usize).iter().map(|a| a.1).min().unwrap_or(0);
            work_from[i as usize] = acc;
            i = inst.jp[i as usize];
        }
    }
    // The next unscheduled op of each job (NONE when done) and when its job is free.
    let mut next: Vec<u32> = Vec::with_capacity(jobs);
    let mut ops_left: Vec<u32> = Vec::with_capacity(jobs);
    for j in 0..jobs {
        let last = inst.last_op[j];
        if last == crate::graph::NONE {
            next.push(last);
            ops_left.push(0);
            continue;
        }
        let mut first = last;
        let mut count = 1;
        while inst.jp[first as usize] != crate::graph::NONE {
            first = inst.jp[first as usize];
            count += 1;
        }
        next.push(first);
        ops_left.push(count);
    }
    let job_ready: Vec<Time> = (0..jobs)
        .map(|j| {
            let f = next[j];
            if f == crate::graph::NONE {
                0
            } else {
                inst.release[f as usize]
            }
        })
        .collect();
    let mut b = Partial {
        mach_ready: inst.ready.clone(),
        mach_last: vec![crate::graph::NONE; inst.machines],
        mach: vec![0u32; n],
        seq: vec![Vec::new(); inst.machines],
        job_ready,
        next,
        ops_left,
    };
    let est = |op: u32, m: u32, job_ready: Time, mach_ready: &[Time], mach_last: &[u32]| {
        let last = mach_last[m as usize];
        if last == crate::graph::NONE {
            job_ready.max(inst.first_start(m, op))
        } else {
            job_ready.max(mach_ready[m as usize] + inst.setup(m, last, op))
        }
    };
    // Pinned operations first, as listed (job order; machine order): they head their machines.
    for &op in &inst.pinned_order {
        let j = inst.job_of[op as usize] as usize;
        debug_assert_eq!(b.next[j], op, "a pin's job predecessors are pinned before it");
        let (m, p) = inst.alternatives(op as usize)[0];
        let c = est(op, m, b.job_ready[j], &b.mach_ready, &b.mach_last) + p;
        b.place(inst, j, op, m, c);
    }
    for _ in inst.pinned_order.len()..n {
        // Earliest completion over all schedulable (op, machine) pairs.
        let mut c_star = Time::MAX;
        let mut m_star = 0u32;
        for j in 0..jobs {
            let op = b.next[j];
            if op == crate::graph::NONE {
                continue;
            }
            for &(m, p) in inst.alternatives(op as usize) {
                let c = est(op, m, b.job_ready[j], &b.mach_ready, &b.mach_last) + p;
                if c < c_star {
                    c_star = c;
                    m_star = m;
                }
            }
        }
        // Pick among the conflict set on m* by priority (smaller key first).
        let mut best_key = f64::INFINITY;
        let mut pick = usize::MAX;
        for j in 0..jobs {
            let op = b.next[j];
            if op == crate::graph::NONE {
                continue;
            }
            let Some(p) = inst.duration_on(op as usize, m_star) else {
                continue;
            };
            let s = est(op, m_star, b.job_ready[j], &b.mach_ready, &b.mach_last);
            if s >= c_star && !(p == 0 && s == c_star) {
                continue;
            }
            // The rules the twin also has take its one definition (`twins::rules`).
            let shared = |r: rules::Rule| {
                let facts = rules::Facts {
                    op_time_s: p as f64,
                    remaining_work_s: work_from[op as usize] as f64,
                    due_s: inst.due[j].map(|d| d as f64),
                    ..rules::Facts::default()
                };
                r.key(&facts, &rules::Context::default())
            };
            let key = match rule {
                Rule::Spt => shared(rules::Rule::Spt),
                Rule::Lpt => shared(rules::Rule::Lpt),
                Rule::Mwkr => shared(rules::Rule::Mwkr),
                Rule::Lwkr => shared(rules::Rule::Lwkr),
                Rule::Mopnr => -(b.ops_left[j] as f64),
                Rule::Edd => shared(rules::Rule::Edd),
                Rule::Fifo => s as f64,
                Rule::Random => rng.unit(),
            };
            let key = if noise > 0.0 {
                key * (1.0 + noise * (rng.unit() - 0.5)) + noise * rng.unit() * (1.0 + key.abs().min(1e12)) * 0.1
            } else {
                key
            };
            if key < best_key {
                best_key = key;
                pick = j;
            }
        }
        debug_assert!(pick != usize::MAX, "conflict set contains the C* operation");
        let op = b.next[pick];
        // Earliest-completion machine for the picked op; ties keep m*.
        let mut m_best = m_star;
        let mut c_best = Time::MAX;
        for &(m, p) in inst.alternatives(op as usize) {
            let c = est(op, m, b.job_ready[pick], &b.mach_ready, &b.mach_last) + p;
            if c < c_best || (c == c_best && m == m_star) {
                c_best = c;
                m_best = m;
            }
        }
        b.place(inst, pick, op, m_best, c_best);
    }
    let mut g = Graph::new(inst, b.mach, b.seq);
    let ok = g.evaluate(inst);
    debug_assert!(ok, "a dispatched schedule is acyclic");
    g
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objective::Objective;
    use crate::problem::parse_jssp;
    use crate::schedule::check;

    #[test]
    fn every_rule_gives_a_feasible_ft06_schedule() {
        let p = parse_jssp(include_str!("../tests/data/ft06.txt")).unwrap();
        let inst = Instance::new(&p, Objective::Makespan);
        let mut rng = Rng::new(1);
        for rule in Rule::ALL {
            let g = giffler_thompson(&inst, rule, 0.0, &mut rng);
            let s = g.to_schedule(&p);
            assert_eq!(check(&p, &s), Ok(()), "{rule:?}");
            assert_eq!(s.makespan(), g.value);
            assert!(g.value >= 55 && g.value < 120, "{rule:?} {}", g.value);
        }
    }
}
