//! Where the twin consults an external dispatching policy ([`super::super::dispatch`]): the part
//! a freed server takes, the server a part goes to, the blocked waiter that moves next, and
//! reservations with their deadlock check. FIFO never comes here.

use super::*;

impl Ctx<'_, '_> {
    /// What the dispatching policy sees of `part` when station `s` (server `k`) decides.
    pub(super) fn candidate(&self, part: &Part, s: usize, k: Option<usize>) -> Candidate {
        let cfg = self.cfg;
        let g = part.gstep as usize;
        let step = &cfg.steps[g];
        let order = (part.order != NO_ORDER).then(|| &cfg.plant.orders[part.order as usize]);
        let mean = self.times[g]
            .iter()
            .find(|t| t.0 as usize == s)
            .map_or(self.times[g][0].2, |t| t.2);
        let family = cfg.family[part.product as usize];
        let next_queue = if step.last {
            0
        } else {
            cfg.steps[g + 1]
                .alts
                .iter()
                .map(|&a| self.bu[cfg.input[a as usize] as usize].queue.len())
                .min()
                .unwrap_or(0)
        };
        Candidate {
            part: *part,
            due_s: order.and_then(|o| o.due).map(|d| d.secs()),
            weight: order.map_or(1.0, |o| o.priority as f64),
            waited_s: self.now - part.entered,
            remaining_ops: cfg.rest[g].1,
            remaining_work_s: cfg.rest[g].0,
            op_time_s: mean / self.st[s].speed,
            family,
            same_family: k.is_some_and(|k| self.st[s].servers[k].last_family == Some(family)),
            next_queue,
        }
    }

    /// The policy's reservation of server (s, k) (none under FIFO).
    pub(super) fn reservation(&mut self, s: usize, k: usize) -> Option<u64> {
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
                if v.phase == Phase::Idle && !v.down && self.reservation(s, k).is_none_or(|id| id == part.id) {
                    out.push((s, k));
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
            let c = self.candidate(&part, servers[0].0, None);
            let now = self.now;
            let Policy::External(p) = &mut *self.policy else {
                unreachable!("called under a policy")
            };
            servers[p.pick_server(now, &c, servers).min(servers.len() - 1)]
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
        self.queue_in_shortest(part)
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

    /// [`Ctx::pull`] under a policy: a reserved server takes only its part (or detects the
    /// deadlock); otherwise the policy picks among the eligible queued parts.
    #[inline(never)]
    pub(super) fn pull_ext(&mut self, s: usize, k: usize, b: usize) {
        if let Some(id) = self.reservation(s, k) {
            if let Some(i) = self.bu[b].queue.iter().position(|p| p.id == id) {
                self.take_queued(s, k, b, i);
                return;
            }
            if let Some(i) = self.bu[b].backlog.iter().position(|p| p.id == id) {
                let part = self.bu[b].backlog.remove(i).expect("position is in range");
                self.start(s, k, part);
                return;
            }
            // The part blocked waiting for space in this very buffer, which is full: only this
            // server could make room, and it waits for that part.
            let blocked_here = !self.has_space(b)
                && (0..self.bu[b].waiters.len())
                    .any(|i| self.waiter_part(self.bu[b].waiters[i]).is_some_and(|p| p.id == id));
            if !blocked_here {
                // Not here yet: the server waits for it.
                self.account(s, k);
                return;
            }
            self.deadlock(s, k, id);
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

    /// Server (s, k)'s reservation for part `id` cannot be met: tell the policy, count it.
    pub(super) fn deadlock(&mut self, s: usize, k: usize, id: u64) {
        if let Policy::External(p) = &mut *self.policy {
            p.deadlock(s, k, id);
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
