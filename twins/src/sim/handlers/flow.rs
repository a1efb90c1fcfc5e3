//! Material flow: parts arriving, queueing, starting, finishing and moving on; blocked
//! servers and sources released as space frees (the FIFO rules, and the places that hand a
//! choice of two or more to the dispatching policy in `choices`).

use super::*;

impl Ctx<'_, '_> {
    pub(super) fn new_part(&mut self, product: u16, order: u32, unit: u32) -> Part {
        let id = self.plant.next_id;
        self.plant.next_id += 1;
        self.plant.created += 1;
        self.plant.wip.add(self.now, 1.0);
        let gstep = self.cfg.step_base[product as usize];
        Part {
            id,
            created: self.now,
            entered: self.now,
            product,
            step: 0,
            order,
            unit,
            gstep,
        }
    }

    #[inline]
    pub(super) fn eligible(&self, p: &Part, s: usize) -> bool {
        self.cfg.eligible(p, s)
    }

    #[inline]
    pub(super) fn idle_server(&self, s: usize) -> Option<usize> {
        let st = &self.st[s];
        if !st.open() {
            return None;
        }
        st.servers.iter().position(|v| v.phase == Phase::Idle && !v.down)
    }

    #[inline]
    pub(super) fn has_space(&self, b: usize) -> bool {
        self.bu[b].queue.len() < self.bu[b].capacity
    }

    #[inline]
    pub(super) fn push_queue(&mut self, b: usize, mut part: Part) {
        part.entered = self.now;
        let bu = &mut self.bu[b];
        bu.queue.push_back(part);
        let n = bu.queue.len() as f64;
        bu.level.set(self.now, n);
    }

    /// Offers a part to buffer `b`: straight onto an idle eligible consumer, else into the queue
    /// if there is space.
    pub(super) fn offer(&mut self, b: usize, part: Part) -> Result<(), Part> {
        if self.external {
            return self.offer_ext(b, part);
        }
        for i in 0..self.cfg.consumers[b].len() {
            let s = self.cfg.consumers[b][i] as usize;
            if self.eligible(&part, s)
                && let Some(k) = self.idle_server(s)
            {
                let mut part = part;
                part.entered = self.now;
                self.start(s, k, part);
                return Ok(());
            }
        }
        self.queue_if_space(b, part)
    }

    /// Puts a part into buffer `b`'s queue if it has space; else hands it back.
    #[inline]
    pub(super) fn queue_if_space(&mut self, b: usize, part: Part) -> Result<(), Part> {
        if self.has_space(b) {
            self.push_queue(b, part);
            Ok(())
        } else {
            Err(part)
        }
    }

    /// Places a part at its current step: an idle server of an alternative, else the
    /// alternative buffer with the fewest parts that has space.
    ///
    /// Starting on an idle server never overtakes a queued part: an idle, available server
    /// never coexists with a part in its input queue that it could take (it pulls whenever it
    /// becomes idle or available, and `offer` hands new parts to idle consumers). The same
    /// invariant means a part pushed to a queue here has no idle eligible consumer.
    #[inline]
    pub(super) fn place(&mut self, part: Part) -> Result<(), Part> {
        if self.external {
            return self.place_ext(part);
        }
        let cfg = self.cfg;
        let step = &cfg.steps[part.gstep as usize];
        if step.single != u32::MAX {
            // One alternative (a flow line's every step): its idle server, else its buffer.
            let s = step.single as usize;
            if let Some(k) = self.idle_server(s) {
                let mut part = part;
                part.entered = self.now;
                self.start(s, k, part);
                return Ok(());
            }
            return self.queue_if_space(cfg.input[s] as usize, part);
        }
        let alts = &step.alts;
        for &s in alts {
            let s = s as usize;
            if let Some(k) = self.idle_server(s) {
                let mut part = part;
                part.entered = self.now;
                self.start(s, k, part);
                return Ok(());
            }
        }
        self.queue_in_shortest(part)
    }

    /// Puts a part into the alternative input buffer of its step with the fewest parts that
    /// has space.
    pub(super) fn queue_in_shortest(&mut self, part: Part) -> Result<(), Part> {
        let alts = &self.cfg.steps[part.gstep as usize].alts;
        let mut best: Option<usize> = None;
        for &s in alts {
            let b = self.cfg.plant.stations[s as usize].input;
            if self.has_space(b) && best.is_none_or(|x| self.bu[b].queue.len() < self.bu[x].queue.len()) {
                best = Some(b);
            }
        }
        match best {
            Some(b) => {
                self.push_queue(b, part);
                Ok(())
            }
            None => Err(part),
        }
    }

    /// Registers a waiter in every alternative input buffer of the part's current step.
    pub(super) fn wait_for_space(&mut self, part: &Part, w: Waiter) {
        let alts = &self.cfg.steps[part.gstep as usize].alts;
        for (i, &s) in alts.iter().enumerate() {
            let b = self.cfg.plant.stations[s as usize].input;
            let dup = alts[..i]
                .iter()
                .any(|&x| self.cfg.plant.stations[x as usize].input == b);
            if !dup {
                self.bu[b].waiters.push_back(w);
            }
        }
    }

    #[inline(always)]
    pub(super) fn start(&mut self, s: usize, k: usize, part: Part) {
        let now = self.now;
        let cfg = self.cfg;
        let wait = now - part.entered;
        if self.external
            && let Policy::External(p) = &mut *self.policy
        {
            p.started(s, k, &part);
        }
        let st = &mut *self.st[s];
        st.stats.wait.record(wait);
        st.stats.wait_sq += wait * wait;
        if wait > 0.0 {
            st.stats.waited += 1;
        }
        let fam = cfg.family[part.product as usize];
        let srv = &mut st.servers[k];
        srv.part = Some(part);
        srv.setup_s = 0.0;
        let last = srv.last_family.replace(fam);
        if cfg.flags[s].setups
            && let Some(d) = cfg.plant.stations[s]
                .setups
                .between(last.map(usize::from), fam as usize)
        {
            let dur = d.sample(&mut st.rng_setup);
            self.begin_setup(s, k, last, dur);
            return;
        }
        self.begin_processing(s, k, &part);
    }

    /// Server (s, k), last set up for `last`, starts a setup of `dur` seconds now (its part,
    /// if it holds one, and its new family are already on it).
    pub(super) fn begin_setup(&mut self, s: usize, k: usize, last: Option<u16>, dur: f64) {
        let now = self.now;
        let srv = &mut self.st[s].servers[k];
        srv.phase = Phase::Setup;
        srv.setup_from = last;
        srv.phase_start = now;
        srv.setup_s = dur;
        srv.phase_end = now + dur;
        srv.token = srv.token.wrapping_add(1);
        let token = srv.token;
        self.at(now + dur, Event::PhaseEnd(s as u32, k as u32, token));
        self.account(s, k);
    }

    /// Server (s, k), holding `part`, starts its operation.
    #[inline(always)]
    pub(super) fn begin_processing(&mut self, s: usize, k: usize, part: &Part) {
        let now = self.now;
        let cfg = self.cfg;
        let model_scale = if cfg.flags[s].model {
            self.model_begin(s, part)
        } else {
            1.0
        };
        let st = &mut *self.st[s];
        let step = &cfg.steps[part.gstep as usize];
        let times = &self.times[part.gstep as usize];
        let dist = if step.single == s as u32 {
            &times[0].1
        } else {
            &times
                .iter()
                .find(|(x, _, _)| *x as usize == s)
                .expect("station is an alternative of the step")
                .1
        };
        let work = dist.sample(&mut st.rng_process);
        let (scale, speed) = (st.scale * model_scale, st.speed);
        let dur = if scale == 1.0 && speed == 1.0 {
            work
        } else {
            work * scale / speed
        };
        let (off, outage) = (st.off_shift, st.outage);
        let srv = &mut st.servers[k];
        srv.work = work;
        srv.op_scale = scale;
        srv.op_speed = speed;
        srv.phase = Phase::Busy;
        srv.op_start = now;
        srv.phase_end = now + dur;
        srv.token = srv.token.wrapping_add(1);
        let token = srv.token;
        self.kernel.schedule_at(
            SimTime::from_secs(now + dur),
            Event::PhaseEnd(s as u32, k as u32, token),
        );
        if cfg.flags[s].busy_failures {
            self.start_busy_clock(s, k);
        }
        if self.external
            && let Policy::External(p) = &mut *self.policy
        {
            p.began(now, s, k, part);
        }
        if self.states {
            self.account_traced(s, k);
        } else {
            account(&mut self.st[s].servers[k], off, outage, now);
        }
    }

    /// The process model of station `s` as `part`'s operation begins: brings its thermal state
    /// to now, sets the station's scrap probability, books the operation's expected energy
    /// and its quality, and returns the factor `time / base` its process time is scaled by.
    #[inline(never)]
    fn model_begin(&mut self, s: usize, part: &Part) -> f64 {
        let now = self.now;
        let Some(m) = self.cfg.plant.stations[s].model.as_ref() else {
            return 1.0;
        };
        let base = {
            let times = &self.times[part.gstep as usize];
            times.iter().find(|t| t.0 as usize == s).map_or(times[0].2, |t| t.2)
        };
        let st = &mut *self.st[s];
        let (scale, speed) = (st.scale, st.speed);
        let Some(h) = st.model.as_mut() else { return 1.0 };
        h.advance(m, now);
        let mut vars = [0.0f64; 16];
        let n = h.params.len().min(14);
        vars[..n].copy_from_slice(&h.params[..n]);
        vars[n] = base;
        vars[n + 1] = h.temperature;
        let vars = &vars[..n + 2];
        let factor = match &m.time {
            Some(e) if base > 0.0 => {
                let t = e.eval(vars);
                if t.is_finite() && t >= 0.0 { t / base } else { 1.0 }
            }
            _ => 1.0,
        };
        if let Some(e) = &m.scrap {
            let p = e.eval(vars);
            st.scrap = if p.is_finite() { p.clamp(0.0, 1.0) } else { st.scrap };
        }
        if let Some(e) = &m.energy_kw {
            let kw = e.eval(vars);
            if kw.is_finite() && kw >= 0.0 {
                h.energy_kwh += kw * base * factor * scale / speed / 3600.0;
            }
        }
        if let Some(e) = &m.quality {
            let q = e.eval(vars);
            if q.is_finite() {
                h.quality_sum += q;
                h.quality_n += 1;
            }
        }
        factor
    }

    #[inline]
    pub(super) fn on_phase_end(&mut self, s: usize, k: usize, token: u32) {
        let srv = &self.st[s].servers[k];
        if srv.token != token || srv.suspended {
            return;
        }
        match srv.phase {
            Phase::Setup => {
                let start = srv.phase_start;
                match srv.part {
                    Some(part) => {
                        self.row(TraceKind::Setup, s, k, Some(&part), start, self.now, self.now);
                        self.begin_processing(s, k, &part);
                    }
                    None => {
                        // A setup ahead (plan execution): set up, idle, and waiting for its part.
                        self.row(TraceKind::Setup, s, k, None, start, self.now, self.now);
                        self.free(s, k);
                        self.pull(s, k);
                    }
                }
            }
            Phase::Busy => self.finish_operation(s, k),
            Phase::Idle | Phase::Blocked => {}
        }
    }

    #[inline]
    pub(super) fn finish_operation(&mut self, s: usize, k: usize) {
        let now = self.now;
        let cfg = self.cfg;
        let flags = cfg.flags[s];
        if flags.busy_failures {
            self.stop_busy_clock(s, k);
        }
        let station = &cfg.plant.stations[s];
        let st = &mut *self.st[s];
        let part = st.servers[k].part.expect("a finished operation has a part");
        let step = &cfg.steps[part.gstep as usize];
        let times = &self.times[part.gstep as usize];
        let mean = if step.single == s as u32 {
            times[0].2
        } else {
            times.iter().find(|(x, _, _)| *x as usize == s).map_or(0.0, |t| t.2)
        };
        st.stats.ops_done += 1;
        st.stats.ideal_s += mean;
        let scrapped = st.scrap > 0.0 && st.rng_scrap.chance(st.scrap);
        let srv = &mut st.servers[k];
        srv.op_end = now;
        let op_start = srv.op_start;
        let mut fail_now = false;
        if flags.ops_failures {
            srv.to_failure -= 1.0;
            fail_now = srv.to_failure <= 0.5;
        }
        if scrapped {
            st.stats.scrapped += 1;
            st.servers[k].part = None;
            self.row(TraceKind::Operation, s, k, Some(&part), op_start, now, now);
            self.leave(part, true);
            self.free(s, k);
        } else {
            self.move_out(s, k, part, op_start);
        }
        if fail_now {
            let f = station.failures.as_ref().expect("checked above");
            let st = &mut *self.st[s];
            st.servers[k].to_failure = f.between.sample(&mut st.rng_fail).round().max(1.0);
            self.go_down(s, k);
        }
        self.pull(s, k);
    }

    /// Passes server (s, k)'s finished `part` on, or blocks the server. The operation ended now.
    #[inline]
    pub(super) fn move_out(&mut self, s: usize, k: usize, mut part: Part, op_start: f64) {
        let now = self.now;
        if self.cfg.steps[part.gstep as usize].last {
            self.st[s].servers[k].part = None;
            self.row(TraceKind::Operation, s, k, Some(&part), op_start, now, now);
            self.leave(part, false);
            self.free(s, k);
            return;
        }
        let traced = part;
        part.step += 1;
        part.gstep += 1;
        match self.place(part) {
            Ok(()) => {
                self.row(TraceKind::Operation, s, k, Some(&traced), op_start, now, now);
                self.free(s, k);
            }
            Err(part) => {
                let srv = &mut self.st[s].servers[k];
                srv.part = Some(part);
                srv.phase = Phase::Blocked;
                srv.token = srv.token.wrapping_add(1);
                let w = Waiter::Server {
                    station: s as u32,
                    server: k as u32,
                    token: srv.token,
                };
                self.wait_for_space(&part, w);
                self.account(s, k);
                if self.external {
                    let cfg = self.cfg;
                    for &a in &cfg.steps[part.gstep as usize].alts {
                        self.recheck_consumers(cfg.input[a as usize] as usize);
                    }
                }
            }
        }
    }

    /// Empties server (s, k). The caller must `pull` next, which books the time accounting
    /// (skipping a zero-length idle interval when the server restarts at once).
    #[inline]
    pub(super) fn free(&mut self, s: usize, k: usize) {
        let srv = &mut self.st[s].servers[k];
        srv.part = None;
        srv.phase = Phase::Idle;
        srv.token = srv.token.wrapping_add(1);
        if srv.retiring {
            self.retire(s, k);
        }
    }

    /// A part leaves the plant: good through its sink, or scrapped.
    #[inline]
    pub(super) fn leave(&mut self, part: Part, scrapped: bool) {
        let now = self.now;
        self.plant.wip.add(now, -1.0);
        if scrapped {
            self.plant.scrapped += 1;
        } else {
            let sink = self.cfg.plant.products[part.product as usize].sink;
            self.si[sink].count += 1;
            self.plant.exits += 1;
            let lead = now - part.created;
            self.plant.lead.record(lead);
            self.plant.lead_batches.record(lead);
        }
        if self.external
            && let Policy::External(p) = &mut *self.policy
        {
            p.left(now, &part, scrapped);
        }
        if part.order != NO_ORDER {
            let o = part.order as usize;
            let qty = self.cfg.plant.orders[o].quantity;
            let pr = &mut self.plant.orders[o];
            if scrapped {
                pr.scrapped += 1
            } else {
                pr.good += 1
            }
            if pr.good + pr.scrapped >= qty {
                pr.completed = Some(now);
            }
        }
        if let Some(n) = self.stop_at_exits
            && self.plant.exits >= n
        {
            self.kernel.request_stop();
        }
    }

    /// An idle, available server takes its next part.
    #[inline]
    pub(super) fn pull(&mut self, s: usize, k: usize) {
        let cfg = self.cfg;
        {
            let st = &self.st[s];
            let srv = &st.servers[k];
            if !st.open() || srv.down || srv.phase != Phase::Idle {
                self.account(s, k);
                return;
            }
        }
        let b = cfg.input[s] as usize;
        if self.external {
            self.pull_ext(s, k, b);
            return;
        }
        let bu = &*self.bu[b];
        // Fast path: the head of the queue is for us (always so in a flow line).
        let pos = match bu.queue.front() {
            None => None,
            Some(p) if cfg.eligible(p, s) => Some(0),
            Some(_) => bu.queue.iter().position(|p| cfg.eligible(p, s)),
        };
        match pos {
            Some(i) => self.take_queued(s, k, b, i),
            None => self.pull_other(s, k, b),
        }
    }

    /// Server (s, k) takes the part at position `i` of its input buffer `b`'s queue; the space
    /// it frees wakes a waiter.
    #[inline(always)]
    pub(super) fn take_queued(&mut self, s: usize, k: usize, b: usize, i: usize) {
        let bu = &mut *self.bu[b];
        let part = if i == 0 {
            bu.queue.pop_front()
        } else {
            bu.queue.remove(i)
        }
        .expect("position is in range");
        let n = bu.queue.len() as f64;
        bu.level.set(self.now, n);
        let idle = bu.waiters.is_empty() && bu.backlog.is_empty();
        self.start(s, k, part);
        if !idle {
            self.space_freed(b);
        }
    }

    /// [`Ctx::pull`] when the input queue holds nothing for server (s, k) of station `s`, whose
    /// input buffer is `b`: a released order unit, a blocked upstream part, or a new part from
    /// an infinite source.
    #[inline(never)]
    pub(super) fn pull_other(&mut self, s: usize, k: usize, b: usize) {
        if let Some(i) = self.bu[b].backlog.iter().position(|p| self.eligible(p, s)) {
            let part = self.bu[b].backlog.remove(i).expect("position is in range");
            self.start(s, k, part);
            return;
        }
        if !self.bu[b].waiters.is_empty() && self.hand_over(b, s, k) {
            return;
        }
        if let Some(prod) = self.bu[b].infinite
            && self.cfg.steps[self.cfg.step_base[prod as usize] as usize]
                .alts
                .contains(&(s as u32))
        {
            let part = self.new_part(prod, NO_ORDER, 0);
            self.start(s, k, part);
            return;
        }
        self.account(s, k);
    }

    /// Space freed up in buffer `b`: wake blocked servers and sources in the order they blocked,
    /// then move released order units in.
    #[inline]
    pub(super) fn space_freed(&mut self, b: usize) {
        while self.has_space(b) {
            let next = if self.external {
                self.pick_waiter(b)
            } else {
                self.bu[b].waiters.pop_front()
            };
            if let Some(w) = next {
                let Some(part) = self.waiter_part(w) else { continue };
                if self.offer(b, part).is_err() {
                    unreachable!("buffer has space");
                }
                self.release_waiter(w, part);
            } else if let Some(part) = self.bu[b].backlog.pop_front() {
                if let Err(part) = self.offer(b, part) {
                    self.bu[b].backlog.push_front(part);
                    break;
                }
            } else {
                break;
            }
        }
    }

    /// The part a waiter holds, if the waiter is still blocked (not stale).
    pub(super) fn waiter_part(&self, w: Waiter) -> Option<Part> {
        match w {
            Waiter::Server { station, server, token } => {
                let srv = &self.st[station as usize].servers[server as usize];
                (srv.phase == Phase::Blocked && srv.token == token)
                    .then(|| srv.part.expect("a blocked server holds its part"))
            }
            Waiter::Source { source, token } => {
                let so = &self.so[source as usize];
                if so.token == token { so.blocked } else { None }
            }
        }
    }

    /// A waiter's part has been placed: the blocked server finishes its operation and takes its
    /// next part, or the blocked source resumes its arrivals.
    #[inline(never)]
    pub(super) fn release_waiter(&mut self, w: Waiter, part: Part) {
        match w {
            Waiter::Server { station, server, .. } => {
                let (s, k) = (station as usize, server as usize);
                let (op_start, op_end) = (self.st[s].servers[k].op_start, self.st[s].servers[k].op_end);
                let mut traced = part;
                traced.step -= 1;
                traced.gstep -= 1;
                self.row(TraceKind::Operation, s, k, Some(&traced), op_start, op_end, self.now);
                self.free(s, k);
                self.pull(s, k);
            }
            Waiter::Source { source, .. } => {
                let src = source as usize;
                self.so[src].blocked = None;
                self.so[src].token = self.so[src].token.wrapping_add(1);
                self.schedule_next_arrival(src);
            }
        }
    }

    /// An idle server whose queue holds nothing for it takes a part straight from a blocked
    /// upstream server or source waiting for its input buffer. Only a zero-capacity buffer
    /// needs this (any other buffer wakes its waiters as soon as it has space), but it is right
    /// for every buffer.
    pub(super) fn hand_over(&mut self, b: usize, s: usize, k: usize) -> bool {
        for i in 0..self.bu[b].waiters.len() {
            let w = self.bu[b].waiters[i];
            let Some(part) = self.waiter_part(w) else { continue };
            if !self.eligible(&part, s) {
                continue;
            }
            self.bu[b].waiters.remove(i);
            let mut part = part;
            part.entered = self.now;
            self.start(s, k, part);
            self.release_waiter(w, part);
            return true;
        }
        false
    }

    pub(super) fn schedule_next_arrival(&mut self, src: usize) {
        if let SourceKind::Arrivals {
            interarrival, limit, ..
        } = &self.cfg.plant.sources[src].kind
        {
            if limit.is_some_and(|l| self.so[src].created >= l) {
                return;
            }
            let so = &mut self.so[src];
            let dt = interarrival.sample(&mut so.rng) / so.rate;
            so.clock_start = self.now;
            self.at(self.now + dt, Event::Arrival(src as u32));
        }
    }

    pub(super) fn on_arrival(&mut self, src: usize) {
        let SourceKind::Arrivals { mix, .. } = &self.cfg.plant.sources[src].kind else {
            return;
        };
        let product = if mix.len() == 1 {
            mix[0].0
        } else {
            let total: f64 = mix.iter().map(|m| m.1).sum();
            let mut u = self.so[src].rng_mix.uniform_open() * total;
            let mut pick = mix[mix.len() - 1].0;
            for &(p, w) in mix {
                if u < w {
                    pick = p;
                    break;
                }
                u -= w;
            }
            pick
        };
        let part = self.new_part(product as u16, NO_ORDER, 0);
        self.so[src].created += 1;
        match self.place(part) {
            Ok(()) => self.schedule_next_arrival(src),
            Err(part) => {
                let so = &mut self.so[src];
                so.blocked = Some(part);
                so.token = so.token.wrapping_add(1);
                let w = Waiter::Source {
                    source: src as u32,
                    token: so.token,
                };
                self.wait_for_space(&part, w);
            }
        }
    }

    pub(super) fn on_release(&mut self, o: usize) {
        if let Policy::External(p) = &mut *self.policy {
            p.released(self.now, o as u32);
        }
        let order = &self.cfg.plant.orders[o];
        for unit in 0..order.quantity {
            let part = self.new_part(order.product as u16, o as u32, unit);
            if let Err(part) = self.place(part) {
                let s = self.cfg.plant.products[order.product].routing[0].stations[0];
                let b = self.cfg.plant.stations[s].input;
                self.bu[b].backlog.push_back(part);
            }
        }
    }
}
