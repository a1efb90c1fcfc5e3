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
//!
//! By concern: [`flow`] (material flow), [`choices`] (where an external dispatching policy is
//! consulted), [`availability`] (failures, repairs, shifts, outages) and [`commands`]
//! (run-time parameter changes); this module holds the batch loop, the event switch, the time
//! accounting and the restore wake-up.

use bevy_ecs::change_detection::Mut;
use bevy_ecs::world::World;
use twinworks_engine::{Kernel, Model, SimTime};

use super::dispatch::{Candidate, Decision, DecisionKind, Held, Policy};
use super::*;
use crate::plant::DisruptionKind;
use crate::trace::{TraceKind, TraceRow, TraceSink};

mod availability;
mod choices;
mod commands;
mod flow;

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
            kernel.fail("the world has no PlantHot resource: it was not built by build_twin or restored");
            return;
        };
        let cfg: &Compiled = &self.cfg;
        let p = &cfg.plant;
        let (Some(st), Some(bu), Some(so), Some(si)) = (
            slots(sq.into_iter().map(|m| (m.idx, Mut::into_inner(m))), p.stations.len()),
            slots(bq.into_iter().map(|m| (m.idx, Mut::into_inner(m))), p.buffers.len()),
            slots(soq.into_iter().map(|m| (m.idx, Mut::into_inner(m))), p.sources.len()),
            slots(siq.into_iter().map(|m| (m.idx, Mut::into_inner(m))), p.sinks.len()),
        ) else {
            kernel.fail(format!(
                "the world does not hold one component for each of the {} stations, {} buffers, {} sources and {} sinks of plant '{}'",
                p.stations.len(),
                p.buffers.len(),
                p.sources.len(),
                p.sinks.len(),
                p.name
            ));
            return;
        };
        let mut ctx = Ctx {
            cfg,
            times: &self.times,
            now: kernel.now().secs(),
            st,
            bu,
            so,
            si,
            plant: plant.into_inner(),
            states: self.trace.as_ref().is_some_and(|t| t.wants_states()),
            trace: self.trace.as_deref_mut(),
            external: matches!(self.policy, Policy::External(_)),
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
#[inline(always)]
fn account(srv: &mut Server, off: bool, outage: bool, now: f64) {
    let new = if srv.down || outage {
        if srv.retired {
            StationState::OffShift
        } else {
            StationState::Down
        }
    } else if off {
        StationState::OffShift
    } else {
        match srv.phase {
            Phase::Idle => StationState::Idle,
            Phase::Setup => StationState::Setup,
            Phase::Busy => StationState::Busy,
            Phase::Blocked => StationState::Blocked,
        }
    };
    if new != srv.state {
        srv.time_in[srv.state as usize] += now - srv.since;
        srv.state = new;
        srv.since = now;
    }
}

/// The slot cache: components ordered by their index in the plant model.
/// The components of one kind indexed by their model element, if there is exactly one for
/// each element.
fn slots<'w, T>(items: impl Iterator<Item = (u32, &'w mut T)>, n: usize) -> Option<Vec<&'w mut T>> {
    let mut v: Vec<Option<&'w mut T>> = (0..n).map(|_| None).collect();
    for (i, c) in items {
        let slot = v.get_mut(i as usize)?;
        if slot.is_some() {
            return None;
        }
        *slot = Some(c);
    }
    v.into_iter().collect()
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
    /// The policy is external (a copy of `policy`'s discriminant, read on the hot path
    /// without going through the reference).
    external: bool,
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
        if self.external {
            self.poll_policy();
        }
    }

    /// After an event under an external policy: if it re-planned, every idle server looks at
    /// its queue again (its reservation may now name a part that is waiting).
    #[inline(never)]
    fn poll_policy(&mut self) {
        let now = self.now;
        let Policy::External(p) = &mut *self.policy else { return };
        if p.replan(now) {
            for s in 0..self.st.len() {
                for k in 0..self.st[s].servers.len() {
                    self.pull(s, k);
                }
            }
        }
    }

    /// Tells an external policy that server (s, k) went down or came back.
    fn notify_availability(&mut self, s: usize, k: usize, down: bool) {
        if let Policy::External(p) = &mut *self.policy {
            p.availability(self.now, s, k, down);
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
}
