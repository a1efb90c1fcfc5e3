//! Event handlers of the plant model, run inside one borrow of the world per batch.
//!
//! Semantics (documented for users in `docs/plant-file.md`):
//! - Queues are FIFO; a station takes the first part in its input queue whose current routing
//!   step lists it.
//! - A finished part goes to the next step's station: straight onto an idle server if one is
//!   free and its queue is empty, else into the alternative's input buffer with the fewest
//!   parts that has space. If no buffer has space, the part stays on its server, which is
//!   *blocked* (blocking after service) until space frees up; blocked servers and sources are
//!   served in the order they blocked.
//! - Breakdowns and the end of a shift interrupt a setup or an operation, which resumes where
//!   it stopped (preempt-resume). A blocked part can still leave a broken or off-shift server.
//! - Scrap is decided at the end of each operation; a scrapped part leaves the plant at once.

use bevy_ecs::change_detection::Mut;
use bevy_ecs::world::World;
use twinworks_engine::{Kernel, Model, SimTime};

use super::dispatch::{Candidate, Decision, DecisionKind, Policy};
use super::*;
use crate::plant::DisruptionKind;
use crate::trace::{TraceKind, TraceRow, TraceSink};

impl Model for PlantSim {
    type Event = Event;

    fn run_batch(&mut self, world: &mut World, kernel: &mut Kernel<Event>) {
        // Process-time changes first: the handlers read the twin's times through a shared
        // borrow for the whole batch (they only affect operations started later).
        if self
            .commands
            .iter()
            .any(|c| matches!(c, Command::SetProcessTime { .. }))
        {
            let mut rest = Vec::with_capacity(self.commands.len());
            for c in std::mem::take(&mut self.commands) {
                match c {
                    Command::SetProcessTime { station, product, time } => {
                        self.set_process_time(station, product, &time)
                    }
                    other => rest.push(other),
                }
            }
            self.commands = rest;
        }
        let Ok((sq, bq, soq, siq, plant)) = self.state.get_mut(world) else {
            return;
        };
        let cfg: &Compiled = &self.cfg;
        let mut ctx = Ctx {
            cfg,
            times: &self.times,
            now: kernel.now().secs(),
            st: slots(
                sq.into_iter().map(|m| (m.idx, Mut::into_inner(m))),
                cfg.plant.stations.len(),
            ),
            bu: slots(
                bq.into_iter().map(|m| (m.idx, Mut::into_inner(m))),
                cfg.plant.buffers.len(),
            ),
            so: slots(
                soq.into_iter().map(|m| (m.idx, Mut::into_inner(m))),
                cfg.plant.sources.len(),
            ),
            si: slots(
                siq.into_iter().map(|m| (m.idx, Mut::into_inner(m))),
                cfg.plant.sinks.len(),
            ),
            plant: plant.into_inner(),
            states: self.trace.as_ref().is_some_and(|t| t.wants_states()),
            trace: self.trace.as_deref_mut(),
            policy: &mut self.policy,
            kernel,
            stop_at_exits: self.stop_at_exits,
        };
        if let Some(w) = self.wake.take() {
            ctx.wake(&w);
        }
        for c in self.commands.drain(..) {
            ctx.command(c);
        }
        while let Some(ev) = ctx.kernel.next_event() {
            ctx.now = ctx.kernel.now().secs();
            ctx.handle(ev);
        }
    }
}

/// Moves a server's time accounting to its current state (its station is off shift `off`, in an
/// injected outage `outage`). Every state change passes through here (a trace that wants state
/// intervals gets them from [`Ctx::account_traced`]).
#[inline]
fn account(srv: &mut Server, off: bool, outage: bool, now: f64) {
    let new = if srv.down || outage {
        if srv.retired {
            StateKind::OffShift
        } else {
            StateKind::Down
        }
    } else if off {
        StateKind::OffShift
    } else {
        match srv.phase {
            Phase::Idle => StateKind::Idle,
            Phase::Setup => StateKind::Setup,
            Phase::Busy => StateKind::Busy,
            Phase::Blocked => StateKind::Blocked,
        }
    };
    if new != srv.state {
        srv.time_in[srv.state as usize] += now - srv.since;
        srv.state = new;
        srv.since = now;
    }
}

/// The slot cache: components ordered by their index in the plant model.
fn slots<'w, T>(items: impl Iterator<Item = (u32, &'w mut T)>, n: usize) -> Vec<&'w mut T> {
    let mut v: Vec<Option<&'w mut T>> = (0..n).map(|_| None).collect();
    for (i, c) in items {
        v[i as usize] = Some(c);
    }
    v.into_iter()
        .map(|c| c.expect("one component per model element"))
        .collect()
}

struct Ctx<'w, 'k> {
    cfg: &'w Compiled,
    times: &'w [Vec<(u32, Distribution, f64)>],
    now: f64,
    st: Vec<&'w mut StationHot>,
    bu: Vec<&'w mut BufferHot>,
    so: Vec<&'w mut SourceHot>,
    si: Vec<&'w mut SinkHot>,
    plant: &'w mut PlantHot,
    trace: Option<&'w mut (dyn TraceSink + 'static)>,
    /// The trace wants accounting-state intervals.
    states: bool,
    policy: &'w mut Policy,
    kernel: &'k mut Kernel<Event>,
    stop_at_exits: Option<u64>,
}

impl Ctx<'_, '_> {
    fn handle(&mut self, ev: Event) {
        match ev {
            Event::Start => self.on_start(),
            Event::Arrival(src) => self.on_arrival(src as usize),
            Event::Release(o) => self.on_release(o as usize),
            Event::PhaseEnd(s, k, token) => self.on_phase_end(s as usize, k as usize, token),
            Event::Fail(s, k, token) => {
                if self.st[s as usize].servers[k as usize].fail_token == token
                    && !self.st[s as usize].servers[k as usize].down
                {
                    self.go_down(s as usize, k as usize);
                }
            }
            Event::Repair(s, k) => self.on_repair(s as usize, k as usize),
            Event::Shift(c) => self.on_shift(c as usize),
            Event::Disruption(i) => self.on_disruption(i as usize),
            Event::OutageEnd(st) => self.on_outage_end(st as usize),
        }
    }

    #[inline]
    fn at(&mut self, t: f64, ev: Event) {
        self.kernel.schedule_at(SimTime::from_secs(t), ev);
    }

    /// Moves server (s, k)'s time accounting to its current state.
    #[inline]
    fn account(&mut self, s: usize, k: usize) {
        let now = self.now;
        let st = &mut *self.st[s];
        if self.states {
            self.account_traced(s, k);
            return;
        }
        account(&mut st.servers[k], st.off_shift, st.outage, now);
    }

    /// [`Ctx::account`] when the trace wants state intervals: the interval the change closes
    /// becomes a row.
    #[inline(never)]
    fn account_traced(&mut self, s: usize, k: usize) {
        let now = self.now;
        let st = &mut *self.st[s];
        let (state, since) = (st.servers[k].state, st.servers[k].since);
        account(&mut st.servers[k], st.off_shift, st.outage, now);
        if st.servers[k].state != state && since < now {
            self.row(TraceKind::State(state), s, k, None, since, now, now);
        }
    }

    #[inline]
    #[expect(
        clippy::too_many_arguments,
        reason = "one argument per trace column; a struct literal at each call site reads worse"
    )]
    fn row(
        &mut self,
        kind: TraceKind,
        s: usize,
        k: usize,
        part: Option<&Part>,
        start: f64,
        end: f64,
        blocked_until: f64,
    ) {
        if let Some(t) = self.trace.as_deref_mut() {
            t.write(&TraceRow {
                kind,
                station: s,
                server: k,
                part: part.copied(),
                start,
                end,
                blocked_until,
            });
        }
    }

    fn on_start(&mut self) {
        self.plant.started = true;
        let w = Wake::all(&self.cfg.plant);
        self.wake(&w);
    }

    /// Starts the elements in `w` as time 0 starts every element — first arrivals, shift
    /// states and changes, injected events, calendar failure clocks — then lets every idle
    /// server pull. After a restore into a what-if variant (`w.restored`), every buffer also
    /// wakes its waiters, since the variant may have more space.
    fn wake(&mut self, w: &Wake) {
        let plant = &self.cfg.plant;
        for &i in &w.sources {
            if let SourceKind::Arrivals { interarrival, .. } = &plant.sources[i].kind {
                let so = &mut self.so[i];
                let dt = interarrival.sample(&mut so.rng) / so.rate;
                so.clock_start = self.now;
                self.at(self.now + dt, Event::Arrival(i as u32));
            }
        }
        for &s in &w.stations {
            if let Some(c) = self.st[s].calendar {
                let on = plant.shift_calendars[c as usize].on_shift(SimTime::from_secs(self.now));
                self.st[s].off_shift = !on;
                self.st[s].off_since = self.now;
                for k in 0..self.st[s].servers.len() {
                    self.account(s, k);
                }
            }
        }
        for &c in &w.calendars {
            if let Some(t) = plant.shift_calendars[c].next_change(SimTime::from_secs(self.now)) {
                self.at(t.secs(), Event::Shift(c as u32));
            }
        }
        for &i in &w.disruptions {
            self.at(
                plant.disruptions[i].at.secs().max(self.now),
                Event::Disruption(i as u32),
            );
        }
        for &s in &w.stations {
            if let Some(f) = &plant.stations[s].failures
                && f.basis == FailureBasis::Calendar
            {
                for k in 0..self.st[s].servers.len() {
                    let ttf = f.between.sample(&mut self.st[s].rng_fail);
                    let srv = &mut self.st[s].servers[k];
                    srv.fail_clock_start = self.now;
                    let token = srv.fail_token;
                    self.at(self.now + ttf, Event::Fail(s as u32, k as u32, token));
                }
            }
        }
        for s in 0..plant.stations.len() {
            for k in 0..self.st[s].servers.len() {
                self.pull(s, k);
            }
        }
        if w.restored {
            for b in 0..plant.buffers.len() {
                self.space_freed(b);
            }
        }
    }

    fn new_part(&mut self, product: u16, order: u32, unit: u32) -> Part {
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
    fn eligible(&self, p: &Part, s: usize) -> bool {
        self.cfg.eligible(p, s)
    }

    #[inline]
    fn idle_server(&self, s: usize) -> Option<usize> {
        let st = &self.st[s];
        if !st.open() {
            return None;
        }
        st.servers.iter().position(|v| v.phase == Phase::Idle && !v.down)
    }

    #[inline]
    fn has_space(&self, b: usize) -> bool {
        self.bu[b].queue.len() < self.bu[b].capacity
    }

    #[inline]
    fn push_queue(&mut self, b: usize, mut part: Part) {
        part.entered = self.now;
        let bu = &mut self.bu[b];
        bu.queue.push_back(part);
        let n = bu.queue.len() as f64;
        bu.level.set(self.now, n);
    }

    /// Offers a part to buffer `b`: straight onto an idle eligible consumer, else into the queue
    /// if there is space.
    fn offer(&mut self, b: usize, part: Part) -> Result<(), Part> {
        if let Policy::External(_) = self.policy {
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
    fn place(&mut self, part: Part) -> Result<(), Part> {
        if let Policy::External(_) = self.policy {
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
            let b = cfg.input[s] as usize;
            if self.has_space(b) {
                self.push_queue(b, part);
                return Ok(());
            }
            return Err(part);
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
    fn queue_in_shortest(&mut self, part: Part) -> Result<(), Part> {
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
    fn wait_for_space(&mut self, part: &Part, w: Waiter) {
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
    fn start(&mut self, s: usize, k: usize, part: Part) {
        let now = self.now;
        let cfg = self.cfg;
        let wait = now - part.entered;
        if let Policy::External(p) = &mut *self.policy {
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
            let srv = &mut st.servers[k];
            srv.phase = Phase::Setup;
            srv.setup_from = last;
            srv.phase_start = now;
            srv.setup_s = dur;
            srv.phase_end = now + dur;
            srv.token = srv.token.wrapping_add(1);
            let token = srv.token;
            self.at(now + dur, Event::PhaseEnd(s as u32, k as u32, token));
            self.account(s, k);
            return;
        }
        self.begin_processing(s, k, &part);
    }

    /// Server (s, k), holding `part`, starts its operation.
    #[inline(always)]
    fn begin_processing(&mut self, s: usize, k: usize, part: &Part) {
        let now = self.now;
        let cfg = self.cfg;
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
        let (scale, speed) = (st.scale, st.speed);
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
        if self.states {
            self.account_traced(s, k);
        } else {
            account(&mut self.st[s].servers[k], off, outage, now);
        }
    }

    /// Busy-basis failures: the time to failure runs only while processing.
    #[inline(never)]
    fn start_busy_clock(&mut self, s: usize, k: usize) {
        if self.cfg.flags[s].busy_failures {
            let srv = &mut self.st[s].servers[k];
            srv.busy_since = self.now;
            srv.fail_token = srv.fail_token.wrapping_add(1);
            let (t, token) = (self.now + srv.to_failure.max(0.0), srv.fail_token);
            self.at(t, Event::Fail(s as u32, k as u32, token));
        }
    }

    fn stop_busy_clock(&mut self, s: usize, k: usize) {
        if self.cfg.flags[s].busy_failures {
            let srv = &mut self.st[s].servers[k];
            srv.to_failure -= self.now - srv.busy_since;
            srv.fail_token = srv.fail_token.wrapping_add(1);
        }
    }

    #[inline]
    fn on_phase_end(&mut self, s: usize, k: usize, token: u32) {
        let srv = &self.st[s].servers[k];
        if srv.token != token || srv.suspended {
            return;
        }
        match srv.phase {
            Phase::Setup => {
                let (start, part) = (srv.phase_start, srv.part.expect("a setup has a part"));
                self.row(TraceKind::Setup, s, k, Some(&part), start, self.now, self.now);
                self.begin_processing(s, k, &part);
            }
            Phase::Busy => self.finish_operation(s, k),
            Phase::Idle | Phase::Blocked => {}
        }
    }

    #[inline]
    fn finish_operation(&mut self, s: usize, k: usize) {
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
    fn move_out(&mut self, s: usize, k: usize, mut part: Part, op_start: f64) {
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
            }
        }
    }

    /// Empties server (s, k). The caller must `pull` next, which books the time accounting
    /// (skipping a zero-length idle interval when the server restarts at once).
    #[inline]
    fn free(&mut self, s: usize, k: usize) {
        let srv = &mut self.st[s].servers[k];
        srv.part = None;
        srv.phase = Phase::Idle;
        srv.token = srv.token.wrapping_add(1);
        if srv.retiring {
            self.retire(s, k);
        }
    }

    /// Takes server (s, k) out of service for good (it is idle or down).
    #[inline(never)]
    fn retire(&mut self, s: usize, k: usize) {
        let srv = &mut self.st[s].servers[k];
        srv.retiring = false;
        srv.retired = true;
        srv.down = true;
        srv.fail_token = srv.fail_token.wrapping_add(1);
        self.account(s, k);
    }

    /// A part leaves the plant: good through its sink, or scrapped.
    #[inline]
    fn leave(&mut self, part: Part, scrapped: bool) {
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
    fn pull(&mut self, s: usize, k: usize) {
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
        if let Policy::External(_) = self.policy {
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
    fn take_queued(&mut self, s: usize, k: usize, b: usize, i: usize) {
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

    /// What the dispatching policy sees of `part` when station `s` (server `k`) decides.
    fn candidate(&self, part: &Part, s: usize, k: Option<usize>) -> Candidate {
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
    fn reservation(&mut self, s: usize, k: usize) -> Option<u64> {
        match &mut *self.policy {
            Policy::Fifo => None,
            Policy::External(p) => p.reservation(s, k),
        }
    }

    /// The idle, available servers of `stations` that may take `part` (not held for another).
    fn idle_accepting(&mut self, stations: &[u32], part: &Part) -> Vec<(usize, usize)> {
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
    fn start_on_chosen(&mut self, servers: &[(usize, usize)], mut part: Part) {
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
    fn place_ext(&mut self, part: Part) -> Result<(), Part> {
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
    fn offer_ext(&mut self, b: usize, part: Part) -> Result<(), Part> {
        let cfg = self.cfg;
        let servers = self.idle_accepting(&cfg.consumers[b], &part);
        if !servers.is_empty() {
            self.start_on_chosen(&servers, part);
            return Ok(());
        }
        if self.has_space(b) {
            self.push_queue(b, part);
            Ok(())
        } else {
            Err(part)
        }
    }

    /// [`Ctx::pull`] under a policy: a reserved server takes only its part (or detects the
    /// deadlock); otherwise the policy picks among the eligible queued parts.
    #[inline(never)]
    fn pull_ext(&mut self, s: usize, k: usize, b: usize) {
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
    fn deadlock(&mut self, s: usize, k: usize, id: u64) {
        if let Policy::External(p) = &mut *self.policy {
            p.deadlock(s, k, id);
        }
        self.st[s].stats.deviations += 1;
    }

    /// Under a policy: the waiter of buffer `b` that moves in next (stale ones are dropped).
    #[inline(never)]
    fn pick_waiter(&mut self, b: usize) -> Option<Waiter> {
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

    /// [`Ctx::pull`] when the input queue holds nothing for server (s, k) of station `s`, whose
    /// input buffer is `b`: a released order unit, a blocked upstream part, or a new part from
    /// an infinite source.
    #[inline(never)]
    fn pull_other(&mut self, s: usize, k: usize, b: usize) {
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
    fn space_freed(&mut self, b: usize) {
        while self.has_space(b) {
            let next = match self.policy {
                Policy::Fifo => self.bu[b].waiters.pop_front(),
                Policy::External(_) => self.pick_waiter(b),
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
    fn waiter_part(&self, w: Waiter) -> Option<Part> {
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
    fn release_waiter(&mut self, w: Waiter, part: Part) {
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
    fn hand_over(&mut self, b: usize, s: usize, k: usize) -> bool {
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

    fn schedule_next_arrival(&mut self, src: usize) {
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

    fn on_arrival(&mut self, src: usize) {
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

    fn on_release(&mut self, o: usize) {
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

    fn suspend(&mut self, s: usize, k: usize) {
        let srv = &self.st[s].servers[k];
        // A phase that ends at this very instant is not interrupted: its end event is due now
        // (it only sorts after the interruption because it was scheduled later).
        if !matches!(srv.phase, Phase::Setup | Phase::Busy) || srv.suspended || srv.phase_end <= self.now {
            return;
        }
        if srv.phase == Phase::Busy {
            self.stop_busy_clock(s, k);
        }
        let now = self.now;
        let srv = &mut self.st[s].servers[k];
        srv.remaining = srv.phase_end - now;
        srv.suspended = true;
        srv.token = srv.token.wrapping_add(1);
    }

    fn resume(&mut self, s: usize, k: usize) {
        let now = self.now;
        let srv = &mut self.st[s].servers[k];
        if !srv.suspended {
            return;
        }
        srv.suspended = false;
        srv.phase_end = now + srv.remaining;
        srv.token = srv.token.wrapping_add(1);
        let (t, token, busy) = (srv.phase_end, srv.token, srv.phase == Phase::Busy);
        self.at(t, Event::PhaseEnd(s as u32, k as u32, token));
        if busy {
            self.start_busy_clock(s, k);
        }
    }

    fn go_down(&mut self, s: usize, k: usize) {
        self.suspend(s, k);
        let f = self.cfg.plant.stations[s]
            .failures
            .as_ref()
            .expect("only stations with failures go down");
        let st = &mut *self.st[s];
        st.stats.failures += 1;
        let srv = &mut st.servers[k];
        srv.down = true;
        srv.down_since = self.now;
        let ttr = f.repair.sample(&mut st.rng_repair);
        self.at(self.now + ttr, Event::Repair(s as u32, k as u32));
        self.account(s, k);
    }

    fn on_repair(&mut self, s: usize, k: usize) {
        let f = self.cfg.plant.stations[s]
            .failures
            .as_ref()
            .expect("only stations with failures are repaired");
        let since = self.st[s].servers[k].down_since;
        self.row(TraceKind::Down, s, k, None, since, self.now, self.now);
        if self.st[s].servers[k].retiring {
            self.st[s].servers[k].down = false;
            self.retire(s, k);
            return;
        }
        let st = &mut *self.st[s];
        let srv = &mut st.servers[k];
        srv.down = false;
        match f.basis {
            FailureBasis::Calendar => {
                let ttf = f.between.sample(&mut st.rng_fail);
                srv.fail_clock_start = self.now;
                srv.fail_token = srv.fail_token.wrapping_add(1);
                let token = srv.fail_token;
                self.at(self.now + ttf, Event::Fail(s as u32, k as u32, token));
            }
            FailureBasis::Busy => srv.to_failure = f.between.sample(&mut st.rng_fail),
            FailureBasis::Operations => {}
        }
        self.account(s, k);
        if self.st[s].open() {
            self.resume(s, k);
            self.pull(s, k);
        }
    }

    fn on_shift(&mut self, c: usize) {
        let cal = &self.cfg.plant.shift_calendars[c];
        let now = SimTime::from_secs(self.now);
        let on = cal.on_shift(now);
        for s in 0..self.st.len() {
            if self.st[s].calendar == Some(c as u32) && self.st[s].off_shift == on {
                let outage = self.st[s].outage;
                self.set_station(s, !on, outage);
            }
        }
        if let Some(t) = cal.next_change(now) {
            self.at(t.secs(), Event::Shift(c as u32));
        }
    }

    /// Applies a change of the station-wide conditions — off shift, or an injected outage — to
    /// its servers: work is suspended when the station closes and resumed when it reopens.
    fn set_station(&mut self, s: usize, off_shift: bool, outage: bool) {
        let was_open = self.st[s].open();
        if self.st[s].off_shift && !off_shift {
            let since = self.st[s].off_since;
            for k in 0..self.st[s].servers.len() {
                self.row(TraceKind::OffShift, s, k, None, since, self.now, self.now);
            }
        }
        if !self.st[s].off_shift && off_shift {
            self.st[s].off_since = self.now;
        }
        if self.st[s].outage && !outage {
            let since = self.st[s].outage_since;
            for k in 0..self.st[s].servers.len() {
                self.row(TraceKind::Down, s, k, None, since, self.now, self.now);
            }
        }
        if !self.st[s].outage && outage {
            self.st[s].outage_since = self.now;
        }
        self.st[s].off_shift = off_shift;
        self.st[s].outage = outage;
        let open = self.st[s].open();
        for k in 0..self.st[s].servers.len() {
            if was_open && !open {
                self.suspend(s, k);
            }
            self.account(s, k);
            if !was_open && open && !self.st[s].servers[k].down {
                self.resume(s, k);
                self.pull(s, k);
            }
        }
    }

    fn on_disruption(&mut self, i: usize) {
        let d = &self.cfg.plant.disruptions[i];
        match d.kind {
            DisruptionKind::Outage { station, duration } => {
                let end = self.now + duration.secs();
                let st = &mut *self.st[station];
                st.outage_until = st.outage_until.max(end);
                let off = st.off_shift;
                self.at(end, Event::OutageEnd(station as u32));
                self.set_station(station, off, true);
            }
            DisruptionKind::ShiftChange { station, shift } => self.switch_calendar(station, shift),
        }
    }

    /// Station `s` works to shift calendar `shift` from now on (`None`: always on shift).
    fn switch_calendar(&mut self, s: usize, shift: Option<usize>) {
        self.st[s].calendar = shift.map(|c| c as u32);
        let on = shift.is_none_or(|c| self.cfg.plant.shift_calendars[c].on_shift(SimTime::from_secs(self.now)));
        let outage = self.st[s].outage;
        self.set_station(s, !on, outage);
    }

    /// Applies a [`Command`] from outside the model at the current time.
    fn command(&mut self, c: Command) {
        match c {
            Command::SetDown { station, down } => {
                let s = station as usize;
                if s >= self.st.len() || self.st[s].observed_down == down {
                    return;
                }
                self.st[s].observed_down = down;
                let outage = down || self.now < self.st[s].outage_until;
                let off = self.st[s].off_shift;
                self.set_station(s, off, outage);
            }
            Command::SetSpeed { station, speed } => {
                if let Some(st) = self.st.get_mut(station as usize)
                    && speed.is_finite()
                    && speed > 0.0
                {
                    st.speed = speed;
                }
            }
            Command::SetPartsDone { station, count } => {
                if let Some(st) = self.st.get_mut(station as usize) {
                    st.stats.ops_done = count;
                }
            }
            // Applied before the batch (see `run_batch`).
            Command::SetProcessTime { .. } => {}
            Command::SetProcessScale { station, scale } => {
                if let Some(st) = self.st.get_mut(station as usize)
                    && scale.is_finite()
                    && scale > 0.0
                {
                    st.scale = scale;
                }
            }
            Command::SetScrap { station, probability } => {
                if let Some(st) = self.st.get_mut(station as usize)
                    && (0.0..=1.0).contains(&probability)
                {
                    st.scrap = probability;
                }
            }
            Command::SetBufferCapacity { buffer, capacity } => {
                let b = buffer as usize;
                if b < self.bu.len() {
                    self.bu[b].capacity = capacity.map_or(usize::MAX, |c| c as usize);
                    self.space_freed(b);
                }
            }
            Command::SetArrivalRate { source, factor } => {
                if let Some(so) = self.so.get_mut(source as usize)
                    && factor.is_finite()
                    && factor > 0.0
                {
                    so.rate = factor;
                }
            }
            Command::SetShiftCalendar { station, calendar } => {
                let s = station as usize;
                if s < self.st.len() && calendar.is_none_or(|c| (c as usize) < self.cfg.plant.shift_calendars.len()) {
                    self.switch_calendar(s, calendar.map(|c| c as usize));
                }
            }
            Command::SetCapacity { station, servers } => {
                if (station as usize) < self.st.len() {
                    self.set_capacity(station as usize, servers as usize);
                }
            }
        }
    }

    /// Brings station `s` to `n` servers in service (see [`Command::SetCapacity`]).
    fn set_capacity(&mut self, s: usize, n: usize) {
        let in_service = |st: &StationHot| st.servers.iter().filter(|v| !v.retired && !v.retiring).count();
        let mut have = in_service(self.st[s]);
        // Fewer: retire the last servers in service, each when it next frees.
        let mut k = self.st[s].servers.len();
        while have > n && k > 0 {
            k -= 1;
            let v = &mut self.st[s].servers[k];
            if v.retired || v.retiring {
                continue;
            }
            have -= 1;
            if v.phase == Phase::Idle && !v.down {
                self.retire(s, k);
            } else {
                v.retiring = true;
            }
        }
        // More: append new servers (indices are never reused). Before time 0's start event
        // they are drawn as the plant file's servers are; the start event starts them.
        let plant = &self.cfg.plant;
        while have < n {
            let k = self.st[s].servers.len();
            let now = self.now;
            let started = self.plant.started;
            let st = &mut *self.st[s];
            if started {
                let (srv, fail_at) = new_server(&plant.stations[s], &mut st.rng_fail, now);
                st.servers.push(srv);
                if let Some(t) = fail_at {
                    let token = st.servers[k].fail_token;
                    self.at(t, Event::Fail(s as u32, k as u32, token));
                }
                self.pull(s, k);
            } else {
                let mut srv = Server::new();
                if let Some(f) = &plant.stations[s].failures
                    && f.basis != FailureBasis::Calendar
                {
                    srv.to_failure = draw_to_failure(&f.between, f.basis, &mut st.rng_fail);
                }
                st.servers.push(srv);
            }
            have += 1;
        }
    }

    fn on_outage_end(&mut self, s: usize) {
        if self.st[s].outage && !self.st[s].observed_down && self.now >= self.st[s].outage_until {
            let off = self.st[s].off_shift;
            self.set_station(s, off, false);
        }
    }
}
