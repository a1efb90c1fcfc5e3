//! Tabu search on the disjunctive graph.
//!
//! * Neighbourhood: N7 of Zhang et al. (2007) on one critical path: every
//!   operation of a critical block may move to the front or back of its block,
//!   and the block's first/last operation may move into its interior. Adjacent
//!   swaps at block ends (N5/N6 of Nowicki–Smutnicki) are included. For a
//!   flexible shop, each critical operation may also move to another eligible
//!   machine, at the best insertion point of that machine's sequence.
//! * Evaluation (makespan, lmax): the Balas–Vazacopoulos estimate. Only the
//!   heads and tails of the moved segment are recomputed, from the unchanged
//!   heads/tails of their job neighbours, so a move costs O(block length)
//!   instead of O(n). Moves are pre-filtered by the B–V sufficient conditions
//!   for acyclicity; after applying the chosen move a full pass recomputes
//!   heads/tails exactly and detects (rare, zero-duration) cycles.
//! * Total weighted tardiness is not a max-type objective, so head/tail
//!   estimates do not apply. There we take the critical path to one tardy job
//!   (drawn with probability ∝ w·T) and evaluate each N7 move exactly by
//!   applying it and recomputing all heads: O(n) per move, slower but honest.
//! * Memory: a move is tabu if it restores, for any pair it reorders, the
//!   order that a recent move reversed (pairwise attributes, tenure
//!   `L + U[0, L/2]` with `L = 10 + jobs/machines`); a reassignment back to a
//!   recently left machine is tabu. Aspiration: a tabu move whose estimate
//!   beats the best known is allowed. When every move is tabu, a random one is
//!   taken.
//! * Cycle detection: a hash of the sequences is kept for the last 128
//!   iterations; revisiting one triggers a short random walk.
//! * Restarts: after `stagnation` iterations without improving the round's
//!   best, the round's best enters an elite pool (8 distinct solutions) and the
//!   search restarts, with a cleared memory, either from the midpoint of a
//!   path relinking between two elite members or from one elite member after
//!   a short random walk.

use crate::graph::{Graph, Instance, Move, NONE};
use crate::objective::Objective;
use crate::problem::Time;
use crate::rng::Rng;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// When a tabu run stops.
pub(crate) struct Limits<'a> {
    /// Iteration budget of this run.
    pub iterations: u64,
    /// Wall-clock deadline; only set in time-limit mode.
    pub deadline: Option<Instant>,
    /// Start of the solve, for time-to-best.
    pub started: Instant,
    /// Stop as soon as the objective reaches this (a lower bound).
    pub target: i64,
    /// Set by any slot that reached `target` so the others stop too (time mode only).
    pub stop: Option<&'a AtomicBool>,
}

/// What a tabu run returns.
pub(crate) struct Outcome {
    pub best: Graph,
    pub iterations: u64,
    pub best_iteration: u64,
    pub best_time: Option<Duration>,
    pub moves_evaluated: u64,
}

#[derive(Clone, Copy)]
struct Candidate {
    mv: Move,
    est: i64,
    tabu: bool,
}

const RING: usize = 128;
const ELITE: usize = 8;

/// Search state with every scratch buffer preallocated, so the inner loop
/// does not allocate.
pub(crate) struct Tabu<'a> {
    inst: &'a Instance,
    g: Graph,
    rng: Rng,
    jobs_per_machine: usize,
    path: Vec<u32>,
    cands: Vec<Candidate>,
    seg: Vec<u32>,
    rr: Vec<Time>,
    tabu_pair: Vec<u32>,
    tabu_alt: Vec<u32>,
    mach_hash: Vec<u64>,
    hash: u64,
    ring: [u64; RING],
    iter: u32,
    pub moves_evaluated: u64,
}

impl<'a> Tabu<'a> {
    pub fn new(inst: &'a Instance, g: Graph, seed: u64) -> Self {
        let n = inst.n;
        let jobs = inst.last_op.len();
        let mut t = Tabu {
            inst,
            g,
            rng: Rng::new(seed),
            jobs_per_machine: jobs / inst.machines.max(1),
            path: Vec::with_capacity(n),
            cands: Vec::with_capacity(4 * n),
            seg: Vec::with_capacity(n),
            rr: Vec::with_capacity(n),
            tabu_pair: vec![0; n * n],
            tabu_alt: vec![0; inst.alts.len()],
            mach_hash: vec![0; inst.machines],
            hash: 0,
            ring: [0; RING],
            iter: 1,
            moves_evaluated: 0,
        };
        t.rehash();
        t
    }

    pub fn graph(&self) -> &Graph {
        &self.g
    }

    fn rehash(&mut self) {
        self.hash = 0;
        for m in 0..self.inst.machines {
            self.mach_hash[m] = machine_hash(&self.g, m);
            self.hash ^= self.mach_hash[m];
        }
    }

    fn rehash_machine(&mut self, m: u32) {
        let m = m as usize;
        self.hash ^= self.mach_hash[m];
        self.mach_hash[m] = machine_hash(&self.g, m);
        self.hash ^= self.mach_hash[m];
    }

    fn tenure(&mut self) -> u32 {
        let l = 10 + self.jobs_per_machine as u32;
        l + self.rng.below(l as usize / 2 + 1) as u32
    }

    /// Fills `self.path` with a critical path: for max-type objectives the
    /// path to a random critical end, for twt the path to a tardy job drawn
    /// with probability proportional to its weighted tardiness.
    fn pick_path(&mut self) -> bool {
        let inst = self.inst;
        let end = if inst.objective == Objective::Twt {
            let mut total = 0i64;
            for j in 0..inst.last_op.len() {
                total += self.weighted_tardiness(j);
            }
            if total <= 0 {
                return false;
            }
            let mut r = (self.rng.unit() * total as f64) as i64;
            let mut end = NONE;
            for j in 0..inst.last_op.len() {
                let wt = self.weighted_tardiness(j);
                if wt > 0 {
                    end = inst.last_op[j];
                    if r < wt {
                        break;
                    }
                    r -= wt;
                }
            }
            end
        } else {
            self.g.critical_end(inst, &mut self.rng)
        };
        if end == NONE {
            return false;
        }
        let mut path = std::mem::take(&mut self.path);
        self.g.critical_path_to(inst, end, &mut self.rng, &mut path);
        self.path = path;
        true
    }

    fn weighted_tardiness(&self, j: usize) -> i64 {
        let l = self.inst.last_op[j];
        match self.inst.due[j] {
            Some(d) if l != NONE => {
                let c = self.g.head[l as usize] + self.g.dur[l as usize];
                self.inst.weight[j] * (c - d).max(0)
            }
            _ => 0,
        }
    }

    /// Generates the N7 (and reassignment) candidates of the current path,
    /// with their estimates and tabu status.
    fn neighbourhood(&mut self) {
        self.cands.clear();
        let mut k = 0;
        while k < self.path.len() {
            // A block is a maximal run of path ops linked by machine arcs.
            let mut e = k;
            while e + 1 < self.path.len() && self.g.ms(self.path[e]) == self.path[e + 1] {
                e += 1;
            }
            if e > k {
                let m = self.g.mach[self.path[k] as usize];
                let p0 = self.g.pos[self.path[k] as usize];
                let len = (e - k) as u32;
                for i in 1..=len {
                    self.push_shift(m, p0 + i, p0);
                }
                for i in 0..len {
                    self.push_shift(m, p0 + i, p0 + len);
                }
                for i in 1..len {
                    self.push_shift(m, p0, p0 + i);
                    self.push_shift(m, p0 + len, p0 + i);
                }
            }
            k = e + 1;
        }
        if self.inst.flexible {
            for idx in 0..self.path.len() {
                let u = self.path[idx];
                self.push_reassignments(u);
            }
        }
    }

    fn push_shift(&mut self, m: u32, from: u32, to: u32) {
        // An adjacent forward shift equals an adjacent backward one; keep one. The pinned
        // head of a sequence stays as it is.
        if to == from + 1 || from.min(to) < self.inst.pin_len[m as usize] {
            return;
        }
        let Some(est) = self.estimate_shift(m, from, to) else {
            return;
        };
        let n = self.inst.n;
        let s = &self.g.seq[m as usize];
        let u = s[from as usize] as usize;
        let tabu = if from < to {
            s[from as usize + 1..=to as usize]
                .iter()
                .any(|&x| self.tabu_pair[x as usize * n + u] > self.iter)
        } else {
            s[to as usize..from as usize]
                .iter()
                .any(|&x| self.tabu_pair[u * n + x as usize] > self.iter)
        };
        self.cands.push(Candidate {
            mv: Move::Shift { m, from, to },
            est,
            tabu,
        });
    }

    /// The Balas–Vazacopoulos estimate of a shift, or `None` if the B–V
    /// sufficient condition cannot guarantee an acyclic result.
    fn estimate_shift(&mut self, m: u32, from: u32, to: u32) -> Option<i64> {
        let inst = self.inst;
        let g = &self.g;
        let s = &g.seq[m as usize];
        let u = s[from as usize];
        let v = s[to as usize];
        if from < to {
            let js = inst.js[u as usize];
            if js != NONE && g.tail[v as usize] + g.dur[v as usize] < g.tail[js as usize] + g.dur[js as usize] {
                return None;
            }
        } else {
            let jp = inst.jp[u as usize];
            if jp != NONE && g.head[v as usize] + g.dur[v as usize] < g.head[jp as usize] + g.dur[jp as usize] {
                return None;
            }
        }
        self.moves_evaluated += 1;
        let (lo, hi) = (from.min(to) as usize, from.max(to) as usize);
        self.seg.clear();
        if from < to {
            self.seg.extend_from_slice(&s[lo + 1..=hi]);
            self.seg.push(u);
        } else {
            self.seg.push(u);
            self.seg.extend_from_slice(&s[lo..hi]);
        }
        if inst.objective == Objective::Twt {
            return Some(0); // evaluated exactly later
        }
        let before = if lo > 0 { s[lo - 1] } else { NONE };
        let after = if hi + 1 < s.len() { s[hi + 1] } else { NONE };
        self.rr.clear();
        let mut prev = before;
        let mut prev_end = 0;
        if before != NONE {
            prev_end = g.head[before as usize] + g.dur[before as usize];
        }
        for &x in &self.seg {
            let xu = x as usize;
            let mut r = inst.release[xu];
            let jp = inst.jp[xu];
            if jp != NONE {
                r = r.max(g.head[jp as usize] + g.dur[jp as usize]);
            }
            if prev != NONE {
                r = r.max(prev_end + inst.setup(m, prev, x));
            } else {
                r = r.max(inst.first_start(m, x));
            }
            self.rr.push(r);
            prev = x;
            prev_end = r + g.dur[xu];
        }
        let mut next = after;
        let mut next_q = 0;
        if after != NONE {
            next_q = g.tail[after as usize] + g.dur[after as usize];
        }
        let mut est = i64::MIN;
        for k in (0..self.seg.len()).rev() {
            let x = self.seg[k];
            let xu = x as usize;
            let mut q = inst.end_offset[xu];
            let js = inst.js[xu];
            if js != NONE {
                q = q.max(g.tail[js as usize] + g.dur[js as usize]);
            }
            if next != NONE {
                q = q.max(next_q + inst.setup(m, x, next));
            }
            est = est.max(self.rr[k] + g.dur[xu] + q);
            next = x;
            next_q = q + g.dur[xu];
        }
        Some(self.objective_estimate(est))
    }

    /// Maps an estimated longest-path length to the objective scale. For
    /// makespan and lmax (tails start at `-due`) the two coincide; only when
    /// no job has a due date is lmax defined as 0, and every move is neutral.
    fn objective_estimate(&self, path_len: i64) -> i64 {
        match self.inst.objective {
            Objective::Lmax if self.inst.due.iter().all(Option::is_none) => 0,
            _ => path_len,
        }
    }

    /// For each other eligible machine of `u`, the best insertion point by
    /// the longest-path-through-`u` estimate (Mastrolilli–Gambardella style).
    fn push_reassignments(&mut self, u: u32) {
        let inst = self.inst;
        let uu = u as usize;
        let a0 = inst.alt_start[uu] as usize;
        let alts = inst.alternatives(uu);
        if alts.len() < 2 {
            return;
        }
        let g = &self.g;
        let jp = inst.jp[uu];
        let js = inst.js[uu];
        let r_job = if jp != NONE {
            inst.release[uu].max(g.head[jp as usize] + g.dur[jp as usize])
        } else {
            inst.release[uu]
        };
        let q_job = if js != NONE {
            inst.end_offset[uu].max(g.tail[js as usize] + g.dur[js as usize])
        } else {
            inst.end_offset[uu]
        };
        // The old machine after removal: its neighbours get joined.
        let (mp, ms) = (g.mp(u), g.ms(u));
        let removal = if mp != NONE && ms != NONE {
            g.head[mp as usize]
                + g.dur[mp as usize]
                + inst.setup(g.mach[uu], mp, ms)
                + g.dur[ms as usize]
                + g.tail[ms as usize]
        } else {
            i64::MIN
        };
        for (k, &(m, p)) in alts.iter().enumerate() {
            if m == g.mach[uu] {
                continue;
            }
            let s = &g.seq[m as usize];
            let mut best_pos = None;
            let mut best_est = i64::MAX;
            for i in inst.pin_len[m as usize] as usize..=s.len() {
                let prev = if i > 0 { s[i - 1] } else { NONE };
                let next = if i < s.len() { s[i] } else { NONE };
                // Sufficient acyclicity conditions: no path from js(u) to
                // prev, none from next to jp(u).
                if prev != NONE && js != NONE && g.head[prev as usize] >= g.head[js as usize] + g.dur[js as usize] {
                    break;
                }
                if next != NONE && jp != NONE && g.tail[next as usize] >= g.tail[jp as usize] + g.dur[jp as usize] {
                    continue;
                }
                let mut r = r_job;
                if prev != NONE {
                    r = r.max(g.head[prev as usize] + g.dur[prev as usize] + inst.setup(m, prev, u));
                } else {
                    r = r.max(inst.first_start(m, u));
                }
                let mut q = q_job;
                if next != NONE {
                    q = q.max(g.tail[next as usize] + g.dur[next as usize] + inst.setup(m, u, next));
                }
                let est = r + p + q;
                self.moves_evaluated += 1;
                if est < best_est {
                    best_est = est;
                    best_pos = Some(i);
                }
            }
            if let Some(i) = best_pos {
                let tabu = self.tabu_alt[a0 + k] > self.iter;
                let est = if inst.objective == Objective::Twt {
                    0
                } else {
                    self.objective_estimate(best_est.max(removal))
                };
                self.cands.push(Candidate {
                    mv: Move::Reassign { op: u, m, to: i as u32 },
                    est,
                    tabu,
                });
            }
        }
    }

    /// Replaces estimates by exact objective values (used for twt): each
    /// move is applied, evaluated incrementally and undone.
    fn evaluate_exactly(&mut self) {
        let mut k = 0;
        while k < self.cands.len() {
            match self.g.apply_and_evaluate(self.inst, self.cands[k].mv) {
                Some(inv) => {
                    self.cands[k].est = self.g.value;
                    let undone = self.g.apply_and_evaluate(self.inst, inv);
                    debug_assert!(undone.is_some(), "undoing a move cannot close a cycle");
                    k += 1;
                }
                None => {
                    self.cands.swap_remove(k);
                }
            }
        }
    }

    /// Applies a move, updating tabu memory and hashes. Returns false (and
    /// restores the previous solution) if the move closed a cycle.
    fn make_move(&mut self, mv: Move) -> bool {
        let n = self.inst.n;
        let tenure = self.tenure();
        let until = self.iter + tenure;
        match mv {
            Move::Shift { m, from, to } => {
                let s = &self.g.seq[m as usize];
                let u = s[from as usize] as usize;
                if from < to {
                    for &x in &s[from as usize + 1..=to as usize] {
                        self.tabu_pair[u * n + x as usize] = until;
                    }
                } else {
                    for &x in &s[to as usize..from as usize] {
                        self.tabu_pair[x as usize * n + u] = until;
                    }
                }
            }
            Move::Reassign { op, .. } => {
                let m0 = self.g.mach[op as usize];
                let a0 = self.inst.alt_start[op as usize] as usize;
                if let Some(k) = self.inst.alternatives(op as usize).iter().position(|a| a.0 == m0) {
                    self.tabu_alt[a0 + k] = until;
                }
            }
        }
        let old_m = match mv {
            Move::Reassign { op, .. } => self.g.mach[op as usize],
            Move::Shift { m, .. } => m,
        };
        if self.g.apply_and_evaluate(self.inst, mv).is_none() {
            return false;
        }
        self.rehash_machine(old_m);
        if let Move::Reassign { m, .. } = mv {
            self.rehash_machine(m);
        }
        true
    }

    /// A few random moves from the current neighbourhood, ignoring tabu status.
    fn random_walk(&mut self, steps: usize) {
        for _ in 0..steps {
            if !self.pick_path() {
                return;
            }
            self.neighbourhood();
            if self.cands.is_empty() {
                return;
            }
            let c = self.cands[self.rng.below(self.cands.len())];
            self.make_move(c.mv);
        }
    }

    /// One tabu iteration. Returns false when there is no move at all.
    pub fn step(&mut self, best: i64) -> bool {
        if !self.pick_path() {
            return false;
        }
        self.neighbourhood();
        if self.inst.objective == Objective::Twt {
            self.evaluate_exactly();
        }
        if self.cands.is_empty() {
            return false;
        }
        let mut pick = usize::MAX;
        let mut pick_est = i64::MAX;
        let mut ties = 0;
        for (k, c) in self.cands.iter().enumerate() {
            if c.tabu && c.est >= best {
                continue;
            }
            if c.est < pick_est {
                pick_est = c.est;
                pick = k;
                ties = 1;
            } else if c.est == pick_est {
                ties += 1;
                if self.rng.below(ties) == 0 {
                    pick = k;
                }
            }
        }
        if pick == usize::MAX {
            pick = self.rng.below(self.cands.len());
        }
        let mv = self.cands[pick].mv;
        self.make_move(mv);
        self.iter += 1;
        true
    }

    /// Evaluates the whole neighbourhood of the current solution without
    /// moving; returns the number of candidate moves (for benchmarks).
    pub fn evaluate_neighbourhood(&mut self) -> usize {
        if !self.pick_path() {
            return 0;
        }
        self.neighbourhood();
        if self.inst.objective == Objective::Twt {
            self.evaluate_exactly();
        }
        self.cands.len()
    }

    /// Path relinking: moves the current solution about half-way towards
    /// `guide` by adjacent swaps that each undo one pairwise disagreement
    /// (operations on the same machine in both solutions, ordered
    /// differently). Swaps that would close a cycle are skipped.
    fn relink_towards(&mut self, guide: &Graph) {
        let inst = self.inst;
        let agree = |g: &Graph, x: u32, y: u32, m: usize| {
            guide.mach[x as usize] as usize != m
                || guide.mach[y as usize] as usize != m
                || guide.pos[x as usize] < guide.pos[y as usize]
                || g.mach[x as usize] != g.mach[y as usize]
        };
        let mut distance = 0usize;
        for (m, s) in self.g.seq.iter().enumerate() {
            for a in 0..s.len() {
                for b in a + 1..s.len() {
                    distance += usize::from(!agree(&self.g, s[a], s[b], m));
                }
            }
        }
        let mut swaps: Vec<(u32, u32)> = Vec::new();
        let (mut done, mut failed) = (0, 0);
        while done < distance / 2 && failed < 64 {
            swaps.clear();
            for (m, s) in self.g.seq.iter().enumerate() {
                for k in inst.pin_len[m] as usize..s.len().saturating_sub(1) {
                    if !agree(&self.g, s[k], s[k + 1], m) {
                        swaps.push((m as u32, k as u32));
                    }
                }
            }
            if swaps.is_empty() {
                break;
            }
            let (m, k) = swaps[self.rng.below(swaps.len())];
            let mv = Move::Shift { m, from: k + 1, to: k };
            if self.g.apply_and_evaluate(inst, mv).is_some() {
                done += 1;
            } else {
                failed += 1;
            }
        }
    }

    fn clear_memory(&mut self) {
        self.tabu_pair.fill(0);
        self.tabu_alt.fill(0);
        self.ring = [0; RING];
        self.iter = 1;
    }

    /// Runs the search until the limits; returns the best solution found.
    pub fn run(mut self, limits: &Limits<'_>) -> Outcome {
        let inst = self.inst;
        let stagnation = 2_000 + 10 * inst.n as u64;
        let mut best = self.g.clone();
        let mut best_iteration = 0;
        let mut best_time = limits.deadline.map(|_| limits.started.elapsed());
        let mut round_best = self.g.clone();
        let mut round_last_improve = 0u64;
        let mut elite: Vec<(i64, u64, Graph)> = Vec::with_capacity(ELITE);
        let mut it = 0u64;
        let mut ring_pos = 0;
        while it < limits.iterations && best.value > limits.target {
            if it.is_multiple_of(32) {
                if let Some(d) = limits.deadline
                    && Instant::now() >= d
                {
                    break;
                }
                if limits.stop.is_some_and(|s| s.load(Ordering::Relaxed)) {
                    break;
                }
            }
            it += 1;
            let moved = self.step(best.value);
            if self.g.value < round_best.value {
                round_best.clone_from(&self.g);
                round_last_improve = it;
                if self.g.value < best.value {
                    best.clone_from(&self.g);
                    best_iteration = it;
                    best_time = limits.deadline.map(|_| limits.started.elapsed());
                }
            }
            if !moved || it - round_last_improve > stagnation {
                remember_elite(&mut elite, &round_best, machine_hash_all(&round_best));
                let a = self.rng.below(elite.len());
                self.g.clone_from(&elite[a].2);
                self.clear_memory();
                // Half of the restarts relink two elite solutions (the
                // midpoint inherits what both agree on); the others perturb
                // one elite solution by a short random walk.
                let b = self.rng.below(elite.len());
                if a != b && self.rng.below(2) == 0 {
                    let guide = &elite[b].2;
                    self.relink_towards(guide);
                } else {
                    let steps = 2 + self.rng.below(4);
                    self.random_walk(steps);
                }
                self.rehash();
                round_best.clone_from(&self.g);
                round_last_improve = it;
                continue;
            }
            // Cycle detection: a revisited solution within the last RING
            // iterations means the tabu list failed to prevent cycling.
            if self.ring.contains(&self.hash) {
                let steps = 1 + self.rng.below(3);
                self.random_walk(steps);
            }
            self.ring[ring_pos] = self.hash;
            ring_pos = (ring_pos + 1) % RING;
        }
        if best.value <= limits.target
            && let Some(s) = limits.stop
        {
            s.store(true, Ordering::Relaxed);
        }
        Outcome {
            best,
            iterations: it,
            best_iteration,
            best_time,
            moves_evaluated: self.moves_evaluated,
        }
    }
}

fn machine_hash(g: &Graph, m: usize) -> u64 {
    let mut h = crate::rng::mix(m as u64 + 1, 0x5EED);
    let mut prev = m as u64;
    for &o in &g.seq[m] {
        let cur = o as u64 + 1;
        h ^= crate::rng::mix(prev << 20 | cur, m as u64);
        prev = cur;
    }
    h
}

fn machine_hash_all(g: &Graph) -> u64 {
    (0..g.seq.len()).fold(0, |h, m| h ^ machine_hash(g, m))
}

/// Adds `g` to the elite pool if it is new and better than the worst member.
fn remember_elite(elite: &mut Vec<(i64, u64, Graph)>, g: &Graph, hash: u64) {
    if elite.iter().any(|e| e.1 == hash) {
        return;
    }
    if elite.len() < ELITE {
        elite.push((g.value, hash, g.clone()));
        return;
    }
    let (worst, _) = elite
        .iter()
        .enumerate()
        .max_by_key(|(k, e)| (e.0, *k))
        .map(|(k, e)| (k, e.0))
        .expect("elite pool is not empty");
    if g.value < elite[worst].0 {
        elite[worst] = (g.value, hash, g.clone());
    }
}
