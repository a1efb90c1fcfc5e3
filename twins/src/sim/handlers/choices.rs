//! Where the twin consults an external dispatching policy ([`super::super::dispatch`]): the part
//! a freed server takes, the server a part goes to, the blocked waiter that moves next, and
//! reservations with their deadlock check. FIFO never comes here.

use super::*;
use crate::rules::{Facts, operation_due};

impl Ctx<'_, '_> {
    /// What the dispatching policy sees of `part` when station `s` (server `k`) decides.
    pub(super) fn candidate(&self, part: &Part, s: usize, k: Option<usize>) -> Candidate {
        let cfg = self.cfg;
        let g = part.gstep as usize;
        let step = &cfg.steps[g];
        let order = (part.order != NO_ORDER).then(|| &cfg.plant.orders[part.order as usize]);
        let st = &self.st[s];
        let op_time_s = self.mean_at(g, s) * st.scale / st.speed;
        let family = cfg.family[part.product as usize];
        let last_family = k.and_then(|k| st.servers[k].last_family);
        let setup_s = match k {
            Some(_) if cfg.flags[s].setups => cfg.plant.stations[s]
                .setups
                .between(last_family.map(usize::from), family as usize)
                .map_or(0.0, |d| d.mean()),
            _ => 0.0,
        };
        let (next_queue, next_queue_work_s) = if step.last {
            (0, 0.0)
        } else {
            cfg.steps[g + 1]
                .alts
                .iter()
                .map(|&a| {
                    let q = &self.bu[cfg.input[a as usize] as usize].queue;
                    let work: f64 = q.iter().map(|p| self.mean_at(p.gstep as usize, a as usize)).sum();
                    (q.len(), work)
                })
                .min_by(|x, y| x.1.total_cmp(&y.1))
                .unwrap_or((0, 0.0))
        };
        let (rest_work, rest_ops) = cfg.rest[g];
        let due_s = order.and_then(|o| o.due).map(|d| d.secs());
        let op_due_s = order.zip(due_s).map(|(o, due)| {
            let total = cfg.rest[cfg.step_base[part.product as usize] as usize].0;
            let through = total - rest_work + cfg.times[g][0].2;
            operation_due(o.release.secs(), due, through, total)
        });
        Candidate {
            part: *part,
            waited_s: self.now - part.entered,
            family,
            next_queue,
            facts: Facts {
                op_time_s,
                setup_s,
                remaining_work_s: rest_work,
                remaining_ops: rest_ops,
                due_s,
                op_due_s,
                weight: order.map_or(1.0, |o| o.priority as f64),
                next_queue_work_s,
                same_family: last_family == Some(family),
            },
        }
    }

    /// The mean process time [s] of step `g` at station `s` (its first alternative's if `s`
    /// is not one), as the twin has it now.
    fn mean_at(&self, g: usize, s: usize) -> f64 {
        let t = &self.times[g];
        t.iter().find(|t| t.0 as usize == s).map_or(t[0].2, |t| t.2)
    }

    /// The policy's reservation of server (s, k) (none under FIFO).
    pub(super) fn reservation(&mut self, s: usize, k: usize) -> Option<Held> {
        match &mut *self.policy {
            Policy::Fifo => None,
            Policy::External(p) => p.reservation(s, k),
        }
    }

    /// The idle, available servers of `stations` that may take `part` (not held for another).
    pub(super) fn idle_accepting(&mut self, stations: &[u32], part: &Part) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        for &s in stations {
            let s = s as usize;
            if !self.st[s].open() || !self.eligible(part, s) {
                continue;
            }
            for k in 0..self.st[s].servers.len() {
                let v = &self.st[s].servers[k];
                if v.phase == Phase::Idle && !v.down {
                    let takes = match self.reservation(s, k) {
                        None => true,
                        // A lot starts once all its units are there: this one and the queued.
                        Some(h) => h.matches(part) && self.held_waiting(s, h) + 1 >= h.gather(),
                    };
                    if takes {
                        out.push((s, k));
                    }
                }
            }
        }
        out
    }

    /// Starts `part` on one of `servers` (not empty), as the policy chooses.
    pub(super) fn start_on_chosen(&mut self, servers: &[(usize, usize)], mut part: Part) {
        let (s, k) = if servers.len() == 1 {
            servers[0]
        } else {
            let options: Vec<Candidate> = servers
                .iter()
                .map(|&(s, k)| self.candidate(&part, s, Some(k)))
                .collect();
            let now = self.now;
            let Policy::External(p) = &mut *self.policy else {
                unreachable!("called under a policy")
            };
            servers[p.pick_server(now, &options, servers).min(servers.len() - 1)]
        };
        part.entered = self.now;
        self.start(s, k, part);
    }

    /// [`Ctx::place`] under a policy: the policy picks among the idle servers that may take
    /// the part; else the shortest queue with space.
    #[inline(never)]
    pub(super) fn place_ext(&mut self, part: Part) -> Result<(), Part> {
        let cfg = self.cfg;
        let servers = self.idle_accepting(&cfg.steps[part.gstep as usize].alts, &part);
        if !servers.is_empty() {
            self.start_on_chosen(&servers, part);
            return Ok(());
        }
        self.queue_routed(part)
    }

    /// [`Ctx::offer`] under a policy.
    #[inline(never)]
    pub(super) fn offer_ext(&mut self, b: usize, part: Part) -> Result<(), Part> {
        let cfg = self.cfg;
        let servers = self.idle_accepting(&cfg.consumers[b], &part);
        if !servers.is_empty() {
            self.start_on_chosen(&servers, part);
            return Ok(());
        }
        self.queue_if_space(b, part)
    }

    /// The parts `held` matches that wait in station `s`'s input queue and release backlog.
    fn held_waiting(&self, s: usize, held: Held) -> u32 {
        let bu = &self.bu[self.cfg.input[s] as usize];
        bu.queue
            .iter()
            .chain(bu.backlog.iter())
            .filter(|p| held.matches(p))
            .count() as u32
    }

    /// [`Ctx::queue_in_shortest`] under a policy: the station the policy routes the part to
    /// if its input has space, else the shortest queue with space.
    pub(super) fn queue_routed(&mut self, part: Part) -> Result<(), Part> {
        let cfg = self.cfg;
        let alts = &cfg.steps[part.gstep as usize].alts;
        if alts.len() > 1 {
            let now = self.now;
            let Policy::External(p) = &mut *self.policy else {
                unreachable!("called under a policy")
            };
            if let Some(i) = p.route(now, &part, alts)
                && let Some(&st) = alts.get(i)
            {
                let b = cfg.input[st as usize] as usize;
                if self.has_space(b) {
                    self.push_queue(b, part);
                    return Ok(());
                }
            }
        }
        self.queue_in_shortest(part)
    }

    /// [`Ctx::pull`] under a policy: a reserved server takes only what it is held for (a lot
    /// once it is complete), sets up ahead for it, or detects the deadlock; otherwise the
    /// policy picks among the eligible queued parts.
    #[inline(never)]
    pub(super) fn pull_ext(&mut self, s: usize, k: usize, b: usize) {
        if let Some(held) = self.reservation(s, k) {
            if self.held_waiting(s, held) >= held.gather() {
                if let Some(i) = self.bu[b].queue.iter().position(|p| held.matches(p)) {
                    self.take_queued(s, k, b, i);
                    return;
                }
                if let Some(i) = self.bu[b].backlog.iter().position(|p| held.matches(p)) {
                    let part = self.bu[b].backlog.remove(i).expect("position is in range");
                    self.start(s, k, part);
                    return;
                }
            }
            // The buffer is full and what it waits for is not in it: nothing can come in
            // until a consumer takes a part, and no other consumer is about to (none is
            // working or holding a part). Only this server could make room, and it waits.
            if !self.has_space(b) && !self.other_consumer_active(b, s, k) {
                self.deadlock(s, k, held);
            } else {
                // Not here yet: the server waits for it, set up for it if it can be.
                if !self.setup_ahead(s, k, held) {
                    self.account(s, k);
                }
                return;
            }
        }
        let cfg = self.cfg;
        let elig: Vec<usize> = (0..self.bu[b].queue.len())
            .filter(|&i| cfg.eligible(&self.bu[b].queue[i], s))
            .collect();
        match elig.len() {
            0 => self.pull_other(s, k, b),
            1 => self.take_queued(s, k, b, elig[0]),
            _ => {
                let cands: Vec<Candidate> = elig
                    .iter()
                    .map(|&i| self.candidate(&self.bu[b].queue[i], s, Some(k)))
                    .collect();
                let d = Decision {
                    now: self.now,
                    kind: DecisionKind::NextPart,
                    server: Some((s, k)),
                    station: s,
                    buffer: b,
                };
                let Policy::External(p) = &mut *self.policy else {
                    unreachable!("called under a policy")
                };
                let pick = p.pick_part(&d, &cands).min(elig.len() - 1);
                self.take_queued(s, k, b, elig[pick]);
            }
        }
    }

    /// Whether a server of a consumer of buffer `b`, other than (s, k), is setting up,
    /// processing or holding a blocked part (it will pull again by itself).
    fn other_consumer_active(&self, b: usize, s: usize, k: usize) -> bool {
        self.cfg.consumers[b].iter().any(|&c| {
            let c = c as usize;
            self.st[c]
                .servers
                .iter()
                .enumerate()
                .any(|(j, v)| (c, j) != (s, k) && v.phase != Phase::Idle)
        })
    }

    /// A part blocked waiting for space in `b`: under a policy, the idle reserved consumers
    /// of `b` check again whether they now deadlock (the buffer may have filled with parts
    /// they do not take).
    pub(super) fn recheck_consumers(&mut self, b: usize) {
        for i in 0..self.cfg.consumers[b].len() {
            let c = self.cfg.consumers[b][i] as usize;
            for k in 0..self.st[c].servers.len() {
                let v = &self.st[c].servers[k];
                if v.phase == Phase::Idle && !v.down && self.st[c].open() {
                    self.pull(c, k);
                }
            }
        }
    }

    /// Idle server (s, k), held for `held`, changes over to its family before the part comes
    /// (when the family is known and a setup applies): a setup with no part, after which the
    /// server is idle and set up. Returns whether it started one.
    fn setup_ahead(&mut self, s: usize, k: usize, held: Held) -> bool {
        let cfg = self.cfg;
        let Some(o) = held.order() else { return false };
        if !cfg.flags[s].setups {
            return false;
        }
        let fam = cfg.family[cfg.plant.orders[o as usize].product];
        let st = &mut *self.st[s];
        let last = st.servers[k].last_family;
        if last == Some(fam) {
            return false;
        }
        let Some(d) = cfg.plant.stations[s]
            .setups
            .between(last.map(usize::from), fam as usize)
        else {
            return false;
        };
        let dur = d.sample(&mut st.rng_setup);
        st.servers[k].last_family = Some(fam);
        self.begin_setup(s, k, last, dur);
        true
    }

    /// Server (s, k)'s reservation `held` cannot be met: tell the policy, count it.
    pub(super) fn deadlock(&mut self, s: usize, k: usize, held: Held) {
        if let Policy::External(p) = &mut *self.policy {
            p.deadlock(s, k, held);
        }
        self.st[s].stats.deviations += 1;
    }

    /// Under a policy: the waiter of buffer `b` that moves in next (stale ones are dropped).
    #[inline(never)]
    pub(super) fn pick_waiter(&mut self, b: usize) -> Option<Waiter> {
        let mut live = Vec::new();
        let mut parts = Vec::new();
        let mut i = 0;
        while i < self.bu[b].waiters.len() {
            let w = self.bu[b].waiters[i];
            match self.waiter_part(w) {
                Some(p) => {
                    live.push(i);
                    parts.push(p);
                    i += 1;
                }
                None => {
                    self.bu[b].waiters.remove(i);
                }
            }
        }
        let pick = match live.len() {
            0 => return None,
            1 => 0,
            _ => {
                let s = self.cfg.consumers[b].first().map_or(0, |&s| s as usize);
                let cands: Vec<Candidate> = parts.iter().map(|p| self.candidate(p, s, None)).collect();
                let d = Decision {
                    now: self.now,
                    kind: DecisionKind::WakeWaiter,
                    server: None,
                    station: s,
                    buffer: b,
                };
                let Policy::External(p) = &mut *self.policy else {
                    unreachable!("called under a policy")
                };
                p.pick_part(&d, &cands).min(live.len() - 1)
            }
        };
        self.bu[b].waiters.remove(live[pick])
    }
}
