//! The disjunctive graph shared by the constructive and the tabu solvers.
//!
//! Operations are numbered 0..n in job order (job 0's operations first). A
//! solution is a machine assignment plus one sequence per machine. Heads
//! (earliest starts) and tails (longest path from an operation's end to the
//! end of the schedule) are kept in flat arrays; recomputing both is one
//! topological pass over `n` nodes, which also detects cycles.
//!
//! Arc weights: the job arc `i → js(i)` weighs `p_i`; the machine arc
//! `i → ms(i)` weighs `p_i + setup(i, ms(i))`. Release dates are head lower
//! bounds; the tail of a job's last operation starts at a per-job *end
//! offset*: 0 for makespan, `-due` for maximum lateness, so one critical-path
//! machinery serves both max-type objectives.

use crate::objective::Objective;
use crate::problem::{Problem, Time};
use crate::rng::Rng;
use crate::schedule::Schedule;

/// "No such operation" in the index arrays.
pub(crate) const NONE: u32 = u32::MAX;
/// A tail so negative that no path through it is ever critical, used for
/// jobs whose lateness does not count. Far enough from `i64::MIN` that adding
/// any realistic path length cannot overflow.
pub(crate) const NEG_INF: Time = i64::MIN / 4;

/// The problem flattened into arrays, built once per solve.
pub(crate) struct Instance {
    pub n: usize,
    pub machines: usize,
    pub job_of: Vec<u32>,
    pub jp: Vec<u32>,
    pub js: Vec<u32>,
    pub release: Vec<Time>,
    /// Per machine: the earliest start of any operation on it.
    pub ready: Vec<Time>,
    /// Tail start of each operation: an end offset for last operations, `NEG_INF` otherwise.
    pub end_offset: Vec<Time>,
    /// Alternatives of op `i` are `alts[alt_start[i]..alt_start[i + 1]]` as (machine, duration).
    pub alt_start: Vec<u32>,
    pub alts: Vec<(u32, Time)>,
    pub family: Vec<u32>,
    families: usize,
    setup: Option<Vec<Time>>,
    pub last_op: Vec<u32>,
    pub due: Vec<Option<Time>>,
    pub weight: Vec<i64>,
    pub objective: Objective,
    /// Some operation has more than one eligible machine.
    pub flexible: bool,
    /// Per machine: the family it is set up for before its first operation.
    initial_family: Vec<Option<u32>>,
    /// Per machine: how many pinned operations head its sequence (`Problem::pinned`); no
    /// move takes one of them or puts anything before them.
    pub pin_len: Vec<u32>,
    /// The pinned operations in the order listed (a topological order of them).
    pub pinned_order: Vec<u32>,
    /// Per operation: whether it is pinned.
    pub pinned: Vec<bool>,
}

impl Instance {
    pub fn new(problem: &Problem, objective: Objective) -> Self {
        let n = problem.num_operations();
        let mut inst = Instance {
            n,
            machines: problem.machines,
            job_of: Vec::with_capacity(n),
            jp: Vec::with_capacity(n),
            js: Vec::with_capacity(n),
            release: Vec::with_capacity(n),
            ready: (0..problem.machines).map(|m| problem.ready(m)).collect(),
            end_offset: Vec::with_capacity(n),
            alt_start: Vec::with_capacity(n + 1),
            alts: Vec::new(),
            family: Vec::with_capacity(n),
            families: problem.setups.as_ref().map_or(1, |s| s.families),
            setup: problem.setups.as_ref().map(|s| s.times.clone()),
            last_op: Vec::new(),
            due: problem.jobs.iter().map(|j| j.due).collect(),
            weight: problem.jobs.iter().map(|j| j.weight).collect(),
            objective,
            flexible: false,
            initial_family: (0..problem.machines)
                .map(|m| problem.initial_family.get(m).copied().flatten().map(|f| f as u32))
                .collect(),
            pin_len: vec![0; problem.machines],
            pinned_order: Vec::with_capacity(problem.pinned.len()),
            pinned: vec![false; n],
        };
        // Index of each job's first operation, and each operation's pin.
        let mut job_first = Vec::with_capacity(problem.jobs.len());
        let mut acc = 0u32;
        for job in &problem.jobs {
            job_first.push(acc);
            acc += job.operations.len() as u32;
        }
        let mut pin_of: Vec<Option<crate::problem::Pinned>> = vec![None; n];
        for p in &problem.pinned {
            let i = job_first[p.job] + p.op as u32;
            pin_of[i as usize] = Some(*p);
            inst.pinned[i as usize] = true;
            inst.pinned_order.push(i);
            inst.pin_len[p.machine] += 1;
        }
        for (j, job) in problem.jobs.iter().enumerate() {
            let first = inst.job_of.len() as u32;
            let len = job.operations.len() as u32;
            for (k, op) in job.operations.iter().enumerate() {
                let k = k as u32;
                inst.job_of.push(j as u32);
                inst.jp.push(if k == 0 { NONE } else { first + k - 1 });
                inst.js.push(if k + 1 == len { NONE } else { first + k + 1 });
                let pin = pin_of[(first + k) as usize];
                inst.release
                    .push(job.release.max(pin.and_then(|p| p.start).unwrap_or(0)));
                let last = k + 1 == len;
                inst.end_offset.push(match (last, objective, job.due) {
                    (false, _, _) => NEG_INF,
                    (true, Objective::Lmax, Some(d)) => -d,
                    (true, Objective::Lmax, None) => NEG_INF,
                    (true, _, _) => 0,
                });
                inst.alt_start.push(inst.alts.len() as u32);
                // A pinned operation has only its machine.
                for a in op
                    .alternatives
                    .iter()
                    .filter(|a| pin.is_none_or(|p| p.machine == a.machine))
                {
                    inst.alts.push((a.machine as u32, a.duration));
                }
                inst.flexible |= inst.alts.len() - *inst.alt_start.last().expect("pushed") as usize > 1;
                inst.family.push(op.family as u32);
            }
            inst.last_op.push(if len == 0 { NONE } else { first + len - 1 });
        }
        inst.alt_start.push(inst.alts.len() as u32);
        inst
    }

    #[inline]
    pub fn alternatives(&self, op: usize) -> &[(u32, Time)] {
        &self.alts[self.alt_start[op] as usize..self.alt_start[op + 1] as usize]
    }

    #[inline]
    pub fn duration_on(&self, op: usize, machine: u32) -> Option<Time> {
        self.alternatives(op).iter().find(|a| a.0 == machine).map(|a| a.1)
    }

    /// The earliest start of op `i` as the first operation of `machine`: its ready time plus
    /// the setup from the family the machine is set up for now.
    #[inline]
    pub fn first_start(&self, machine: u32, i: u32) -> Time {
        let ready = self.ready[machine as usize];
        match (&self.setup, self.initial_family[machine as usize]) {
            (Some(t), Some(from)) => {
                let f = self.families;
                ready + t[(machine as usize * f + from as usize) * f + self.family[i as usize] as usize]
            }
            _ => ready,
        }
    }

    /// Setup time on `machine` from op `a` to op `b` [time unit].
    #[inline]
    pub fn setup(&self, machine: u32, a: u32, b: u32) -> Time {
        match &self.setup {
            None => 0,
            Some(t) => {
                let f = self.families;
                t[(machine as usize * f + self.family[a as usize] as usize) * f + self.family[b as usize] as usize]
            }
        }
    }
}

/// A solution (assignment + sequences) with its heads and tails.
///
/// Besides the sequences it keeps explicit machine predecessor/successor
/// links and a topological order (`topo`, with `rank` its inverse), which
/// lets [`Graph::apply_and_evaluate`] recompute only the part of the graph a
/// move can affect.
#[derive(Clone)]
pub(crate) struct Graph {
    pub mach: Vec<u32>,
    pub dur: Vec<Time>,
    pub seq: Vec<Vec<u32>>,
    pub pos: Vec<u32>,
    mpv: Vec<u32>,
    msv: Vec<u32>,
    pub head: Vec<Time>,
    pub tail: Vec<Time>,
    /// Objective value of the current heads.
    pub value: i64,
    topo: Vec<u32>,
    rank: Vec<u32>,
    indeg: Vec<u32>,
    stack: Vec<u32>,
    scratch: Vec<u32>,
}

/// A change of one operation's place in the machine sequences.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Move {
    /// Take the op at index `from` of machine `m`'s sequence out and insert it
    /// at index `to` (index in the sequence after removal).
    Shift { m: u32, from: u32, to: u32 },
    /// Move `op` from its machine to machine `m`, at index `to`.
    Reassign { op: u32, m: u32, to: u32 },
}

impl Graph {
    /// A graph from a machine assignment and per-machine sequences.
    pub fn new(inst: &Instance, mach: Vec<u32>, seq: Vec<Vec<u32>>) -> Self {
        let n = inst.n;
        let dur = (0..n)
            .map(|i| inst.duration_on(i, mach[i]).expect("assigned machine is eligible"))
            .collect();
        let mut g = Graph {
            mach,
            dur,
            seq,
            pos: vec![0; n],
            mpv: vec![NONE; n],
            msv: vec![NONE; n],
            head: vec![0; n],
            tail: vec![0; n],
            value: 0,
            topo: Vec::with_capacity(n),
            rank: vec![0; n],
            indeg: vec![0; n],
            stack: Vec::with_capacity(n),
            scratch: Vec::with_capacity(n),
        };
        for m in 0..g.seq.len() {
            let len = g.seq[m].len();
            if len > 0 {
                g.relink(m, 0, len - 1);
            }
        }
        g
    }

    /// Refreshes `pos`, `mpv` and `msv` of `seq[m][lo..=hi]` (clamped).
    fn relink(&mut self, m: usize, lo: usize, hi: usize) {
        let s = &self.seq[m];
        if s.is_empty() {
            return;
        }
        let hi = hi.min(s.len() - 1);
        for k in lo..=hi {
            let o = s[k] as usize;
            self.pos[o] = k as u32;
            self.mpv[o] = if k > 0 { s[k - 1] } else { NONE };
            self.msv[o] = if k + 1 < s.len() { s[k + 1] } else { NONE };
        }
    }

    #[inline]
    pub fn mp(&self, i: u32) -> u32 {
        self.mpv[i as usize]
    }

    #[inline]
    pub fn ms(&self, i: u32) -> u32 {
        self.msv[i as usize]
    }

    /// Recomputes heads, tails and the objective from scratch. Returns false
    /// (leaving the arrays meaningless) if the sequences contain a cycle.
    pub fn evaluate(&mut self, inst: &Instance) -> bool {
        let n = inst.n;
        if !self.order_all(inst) {
            return false;
        }
        self.heads_from(inst, 0);
        self.tails_down_from(inst, n.saturating_sub(1));
        self.value = self.objective_value(inst);
        true
    }

    /// Sorts all nodes topologically (Kahn); false if there is a cycle.
    fn order_all(&mut self, inst: &Instance) -> bool {
        let n = inst.n;
        self.topo.clear();
        self.stack.clear();
        for i in 0..n {
            let d = u32::from(inst.jp[i] != NONE) + u32::from(self.mpv[i] != NONE);
            self.indeg[i] = d;
            if d == 0 {
                self.stack.push(i as u32);
            }
        }
        // A FIFO queue (not a stack) yields a breadth-first order whose rank
        // tracks a node's depth in the schedule, which keeps the windows of
        // `apply_and_evaluate` short.
        let mut qh = 0;
        while qh < self.stack.len() {
            let i = self.stack[qh];
            qh += 1;
            self.rank[i as usize] = self.topo.len() as u32;
            self.topo.push(i);
            for next in [inst.js[i as usize], self.msv[i as usize]] {
                if next != NONE {
                    self.indeg[next as usize] -= 1;
                    if self.indeg[next as usize] == 0 {
                        self.stack.push(next);
                    }
                }
            }
        }
        self.topo.len() == n
    }

    fn heads_from(&mut self, inst: &Instance, r0: usize) {
        for k in r0..inst.n {
            let i = self.topo[k] as usize;
            let mut h = inst.release[i];
            let jp = inst.jp[i];
            if jp != NONE {
                h = h.max(self.head[jp as usize] + self.dur[jp as usize]);
            }
            let mp = self.mpv[i];
            if mp != NONE {
                let s = inst.setup(self.mach[i], mp, i as u32);
                h = h.max(self.head[mp as usize] + self.dur[mp as usize] + s);
            } else {
                h = h.max(inst.first_start(self.mach[i], i as u32));
            }
            self.head[i] = h;
        }
    }

    fn tails_down_from(&mut self, inst: &Instance, r1: usize) {
        if inst.n == 0 {
            return;
        }
        for k in (0..=r1).rev() {
            let i = self.topo[k] as usize;
            let mut t = inst.end_offset[i];
            let js = inst.js[i];
            if js != NONE {
                t = t.max(self.tail[js as usize] + self.dur[js as usize]);
            }
            let ms = self.msv[i];
            if ms != NONE {
                let s = inst.setup(self.mach[i], i as u32, ms);
                t = t.max(self.tail[ms as usize] + self.dur[ms as usize] + s);
            }
            self.tail[i] = t;
        }
    }

    /// Re-sorts the window `topo[w0..=w1]` topologically. Valid when every
    /// arc that the current order violates has both ends in the window:
    /// nodes outside keep their ranks, arcs into and out of the window stay
    /// forward. Returns false if the window contains a cycle; any cycle of
    /// the graph would have to (see `apply_and_evaluate`).
    fn reorder_window(&mut self, inst: &Instance, w0: usize, w1: usize) -> bool {
        let (lo, hi) = (w0 as u32, w1 as u32);
        self.stack.clear();
        self.scratch.clear();
        self.scratch.extend_from_slice(&self.topo[w0..=w1]);
        let inside = |rank: &[u32], o: u32| o != NONE && (lo..=hi).contains(&rank[o as usize]);
        for k in 0..self.scratch.len() {
            let i = self.scratch[k] as usize;
            let d = u32::from(inside(&self.rank, inst.jp[i])) + u32::from(inside(&self.rank, self.mpv[i]));
            self.indeg[i] = d;
            if d == 0 {
                self.stack.push(i as u32);
            }
        }
        let mut qh = 0;
        let mut next_rank = w0;
        while qh < self.stack.len() {
            let i = self.stack[qh];
            qh += 1;
            // Successors are tested for membership before this node's rank is
            // rewritten; new ranks stay inside the window, so the test is stable.
            for next in [inst.js[i as usize], self.msv[i as usize]] {
                if inside(&self.rank, next) {
                    self.indeg[next as usize] -= 1;
                    if self.indeg[next as usize] == 0 {
                        self.stack.push(next);
                    }
                }
            }
            self.rank[i as usize] = next_rank as u32;
            self.topo[next_rank] = i;
            next_rank += 1;
        }
        next_rank == w1 + 1
    }

    /// Applies `mv` and brings heads, tails and value up to date, touching
    /// only what the move can affect:
    ///
    /// * Order: only the new machine arcs can point backwards in the current
    ///   topological order. If some do, the window between the lowest and
    ///   highest rank of their ends is re-sorted; every arc leaving or
    ///   entering the window still points forward, and any cycle the move
    ///   closes lies inside the window (an arc can only point backwards if it
    ///   is new, and a walk that leaves the window cannot come back).
    /// * Heads: only targets of new arcs (and the reassigned operation, whose
    ///   duration changes) gain inputs, so heads before the lowest old rank
    ///   of those keep their values; the head pass starts there.
    /// * Tails: only sources of new arcs (and the reassigned operation) and
    ///   their ancestors can change, all ranked at or before the highest of
    ///   them in the new order; the tail pass runs down from there.
    ///
    /// Returns the inverse move, or `None` (with the graph restored and
    /// re-evaluated) if the move closed a cycle.
    pub fn apply_and_evaluate(&mut self, inst: &Instance, mv: Move) -> Option<Move> {
        let old = match mv {
            Move::Reassign { op, .. } => (self.mpv[op as usize], self.msv[op as usize]),
            Move::Shift { .. } => (NONE, NONE),
        };
        // Lowest old rank of any node whose inputs change.
        let r0 = match mv {
            Move::Shift { m, from, to } => {
                let (lo, hi) = (from.min(to) as usize, from.max(to) as usize);
                let s = &self.seq[m as usize];
                s[lo..=hi].iter().map(|&o| self.rank[o as usize]).min().unwrap_or(0)
            }
            Move::Reassign { op, m, to } => {
                let new_next = self.seq[m as usize].get(to as usize).copied().unwrap_or(NONE);
                [op, old.1, new_next]
                    .iter()
                    .filter(|&&o| o != NONE)
                    .map(|&o| self.rank[o as usize])
                    .min()
                    .unwrap_or(0)
            }
        } as usize;
        let inv = self.apply(inst, mv);
        // The new machine arcs, as (from, to) pairs of the updated sequences.
        let mut arcs = [(NONE, NONE); 3];
        let (m, lo, hi) = match mv {
            Move::Shift { m, from, to } => (m as usize, from.min(to) as usize, from.max(to) as usize),
            Move::Reassign { op, .. } => {
                arcs = [(old.0, old.1), (self.mpv[op as usize], op), (op, self.msv[op as usize])];
                (0, 1, 0)
            }
        };
        let (mut w0, mut w1) = (u32::MAX, 0u32);
        let mut note = |rank: &[u32], a: u32, b: u32| {
            if a != NONE && b != NONE && rank[a as usize] > rank[b as usize] {
                w0 = w0.min(rank[b as usize]);
                w1 = w1.max(rank[a as usize]);
            }
        };
        if lo <= hi {
            let s = &self.seq[m];
            let end = (hi + 1).min(s.len().saturating_sub(1));
            for k in lo.saturating_sub(1)..end {
                note(&self.rank, s[k], s[k + 1]);
            }
        }
        for (a, b) in arcs {
            note(&self.rank, a, b);
        }
        if w0 <= w1 && !self.reorder_window(inst, w0 as usize, w1 as usize) {
            self.apply(inst, inv);
            let ok = self.evaluate(inst);
            debug_assert!(ok, "the graph before the move was acyclic");
            return None;
        }
        self.heads_from(inst, r0);
        let r1 = match mv {
            Move::Shift { m, from, to } => {
                let (lo, hi) = (from.min(to) as usize, from.max(to) as usize);
                let s = &self.seq[m as usize];
                let before = if lo > 0 { s[lo - 1] } else { NONE };
                s[lo..=hi]
                    .iter()
                    .chain(std::iter::once(&before))
                    .filter(|&&o| o != NONE)
                    .map(|&o| self.rank[o as usize])
                    .max()
                    .unwrap_or(0)
            }
            Move::Reassign { op, .. } => [op, old.0, self.mpv[op as usize]]
                .iter()
                .filter(|&&o| o != NONE)
                .map(|&o| self.rank[o as usize])
                .max()
                .unwrap_or(0),
        };
        self.tails_down_from(inst, r1 as usize);
        self.value = self.objective_value(inst);
        Some(inv)
    }

    /// The objective from the current heads (same definition as [`Objective`]).
    fn objective_value(&self, inst: &Instance) -> i64 {
        let completion = |j: usize| {
            let l = inst.last_op[j];
            if l == NONE {
                0
            } else {
                self.head[l as usize] + self.dur[l as usize]
            }
        };
        let jobs = inst.last_op.len();
        match inst.objective {
            Objective::Makespan => (0..jobs).map(completion).max().unwrap_or(0),
            Objective::Twt => (0..jobs)
                .filter_map(|j| inst.due[j].map(|d| inst.weight[j] * (completion(j) - d).max(0)))
                .sum(),
            Objective::Lmax => (0..jobs)
                .filter_map(|j| inst.due[j].map(|d| completion(j) - d))
                .max()
                .unwrap_or(0),
        }
    }

    /// Applies a move and returns its inverse. Heads/tails/order are stale
    /// afterwards; call [`Graph::evaluate`] (or use `apply_and_evaluate`).
    pub fn apply(&mut self, inst: &Instance, mv: Move) -> Move {
        match mv {
            Move::Shift { m, from, to } => {
                let s = &mut self.seq[m as usize];
                let op = s.remove(from as usize);
                s.insert(to as usize, op);
                let (lo, hi) = (from.min(to) as usize, from.max(to) as usize);
                self.relink(m as usize, lo.saturating_sub(1), hi + 1);
                Move::Shift { m, from: to, to: from }
            }
            Move::Reassign { op, m, to } => {
                let m0 = self.mach[op as usize];
                let p0 = self.pos[op as usize];
                let s = &mut self.seq[m0 as usize];
                s.remove(p0 as usize);
                let len0 = s.len();
                if len0 > 0 {
                    self.relink(m0 as usize, (p0 as usize).saturating_sub(1), len0 - 1);
                }
                self.seq[m as usize].insert(to as usize, op);
                let len = self.seq[m as usize].len();
                self.relink(m as usize, (to as usize).saturating_sub(1), len - 1);
                self.mach[op as usize] = m;
                self.dur[op as usize] = inst.duration_on(op as usize, m).expect("eligible machine");
                Move::Reassign { op, m: m0, to: p0 }
            }
        }
    }

    /// Appends to `path` a critical path ending in `end`, in forward order.
    /// Ties between job and machine predecessor are broken by `rng`, which
    /// diversifies the blocks the tabu search looks at.
    pub fn critical_path_to(&self, inst: &Instance, end: u32, rng: &mut Rng, path: &mut Vec<u32>) {
        path.clear();
        let mut i = end;
        loop {
            path.push(i);
            let iu = i as usize;
            let h = self.head[iu];
            let jp = inst.jp[iu];
            let mp = self.mp(i);
            let via_job = jp != NONE && self.head[jp as usize] + self.dur[jp as usize] == h;
            let via_mach =
                mp != NONE && self.head[mp as usize] + self.dur[mp as usize] + inst.setup(self.mach[iu], mp, i) == h;
            i = match (via_job, via_mach) {
                (true, true) => {
                    if rng.below(2) == 0 {
                        jp
                    } else {
                        mp
                    }
                }
                (true, false) => jp,
                (false, true) => mp,
                (false, false) => break,
            };
        }
        path.reverse();
    }

    /// The end of a critical path for the max-type objective: a random
    /// operation among those with `head + p + tail == max`.
    pub fn critical_end(&self, inst: &Instance, rng: &mut Rng) -> u32 {
        let mut best = NEG_INF;
        let mut pick = NONE;
        let mut ties = 0;
        for &l in &inst.last_op {
            if l == NONE {
                continue;
            }
            let v = self.head[l as usize] + self.dur[l as usize] + inst.end_offset[l as usize];
            if v > best {
                best = v;
                pick = l;
                ties = 1;
            } else if v == best {
                ties += 1;
                if rng.below(ties) == 0 {
                    pick = l;
                }
            }
        }
        pick
    }

    /// The schedule these heads describe.
    pub fn to_schedule(&self, problem: &Problem) -> Schedule {
        let placed: Vec<(usize, Time, usize)> = (0..self.mach.len())
            .map(|i| (self.mach[i] as usize, self.head[i], self.pos[i] as usize))
            .collect();
        Schedule::from_placements(problem, &placed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::parse_jssp;

    #[test]
    fn heads_tails_and_cycle_detection() {
        let p = parse_jssp("2 2\n0 3 1 2\n1 2 0 4\n").unwrap();
        let inst = Instance::new(&p, Objective::Makespan);
        // Ops: 0=(j0,m0,3) 1=(j0,m1,2) 2=(j1,m1,2) 3=(j1,m0,4).
        let mut g = Graph::new(&inst, vec![0, 1, 1, 0], vec![vec![0, 3], vec![2, 1]]);
        assert!(g.evaluate(&inst));
        assert_eq!(g.value, 7);
        assert_eq!(g.head, vec![0, 3, 0, 3]);
        assert_eq!(g.tail[0], 4);
        // Reversing both machines makes 0→1 and 2→3 conflict with 3→0 and 1→2.
        let mut bad = Graph::new(&inst, vec![0, 1, 1, 0], vec![vec![3, 0], vec![1, 2]]);
        assert!(!bad.evaluate(&inst));
        let inv = g.apply(&inst, Move::Shift { m: 0, from: 0, to: 1 });
        assert!(g.evaluate(&inst));
        assert_eq!(g.seq[0], vec![3, 0]);
        g.apply(&inst, inv);
        assert_eq!(g.seq[0], vec![0, 3]);
    }

    /// A random flexible shop with setups and releases.
    fn random_problem(rng: &mut Rng, jobs: usize, machines: usize) -> Problem {
        use crate::problem::{Alternative, Job, Operation, SetupMatrix};
        let families = 3;
        let mut setups = SetupMatrix::zeros(machines, families);
        for m in 0..machines {
            for a in 0..families {
                for b in 0..families {
                    setups.set(m, a, b, rng.below(4) as Time);
                }
            }
        }
        let jobs = (0..jobs)
            .map(|_| {
                let ops = (0..1 + rng.below(machines + 2))
                    .map(|_| {
                        let k = 1 + rng.below(2);
                        let first = rng.below(machines);
                        Operation {
                            alternatives: (0..k.min(machines))
                                .map(|d| Alternative {
                                    machine: (first + d) % machines,
                                    duration: rng.below(9) as Time,
                                })
                                .collect(),
                            family: rng.below(families),
                        }
                    })
                    .collect();
                let mut j = Job::new(ops);
                j.release = rng.below(10) as Time;
                j
            })
            .collect();
        Problem {
            name: "random".into(),
            machines,
            jobs,
            setups: Some(setups),
            machine_ready: Vec::new(),
            initial_family: Vec::new(),
            pinned: Vec::new(),
        }
    }

    #[test]
    fn incremental_evaluation_matches_full_evaluation() {
        let mut rng = Rng::new(99);
        for round in 0..20 {
            let p = random_problem(&mut rng, 3 + round % 5, 2 + round % 3);
            let inst = Instance::new(&p, Objective::Makespan);
            let mut g = crate::dispatch::giffler_thompson(&inst, crate::dispatch::Rule::Random, 0.0, &mut rng);
            for _ in 0..500 {
                let op = rng.below(inst.n) as u32;
                let mv = if rng.below(3) == 0 {
                    let alts = inst.alternatives(op as usize);
                    let m = alts[rng.below(alts.len())].0;
                    if m == g.mach[op as usize] {
                        continue;
                    }
                    let to = rng.below(g.seq[m as usize].len() + 1) as u32;
                    Move::Reassign { op, m, to }
                } else {
                    let m = g.mach[op as usize];
                    let len = g.seq[m as usize].len();
                    Move::Shift {
                        m,
                        from: g.pos[op as usize],
                        to: rng.below(len) as u32,
                    }
                };
                let before = g.clone();
                let mut full = g.clone();
                full.apply(&inst, mv);
                let acyclic = full.evaluate(&inst);
                match g.apply_and_evaluate(&inst, mv) {
                    Some(_) => {
                        assert!(acyclic);
                        assert_eq!(g.head, full.head);
                        assert_eq!(g.tail, full.tail);
                        assert_eq!(g.value, full.value);
                    }
                    None => {
                        assert!(!acyclic);
                        assert_eq!(g.seq, before.seq);
                        assert_eq!(g.head, before.head);
                        assert_eq!(g.tail, before.tail);
                    }
                }
            }
        }
    }
}
