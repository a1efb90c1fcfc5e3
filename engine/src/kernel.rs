//! The simulation kernel: the clock and calendar (kept out of the ECS world), and run control.
//!
//! The hot loop is inverted on purpose. Rather than the kernel calling a handler with
//! `&mut World` for each event (measured at ~8.6 M events per CPU-second here, because every
//! component access is then a World lookup), the kernel hands the model the world *once per
//! batch*; the model borrows its queries once and pulls events with [`Kernel::next_event`] until
//! the batch ends. The batch limits (stop time, event budget, a stop request) live in the kernel,
//! so the viewer's single step, the live mode's "run to now" and a batch run to the horizon all use
//! the same handler code.

use bevy_ecs::world::World;

use crate::calendar::Calendar;
use crate::time::SimTime;

/// The clock, the calendar and the limits of the current batch.
#[derive(Debug)]
pub struct Kernel<E> {
    calendar: Calendar<E>,
    now: SimTime,
    events_run: u64,
    until: SimTime,
    budget: u64,
    stop_requested: bool,
    /// The clock at the last stall check, and the checks since without it moving.
    check_time: SimTime,
    still_windows: u64,
    /// After this many events in a row at one instant the run is stalled.
    stall_limit: u64,
    /// The event at which the run stalled (taken out of the calendar: a stalled run is over).
    stalled: Option<E>,
    /// Why the model could not go on (a failed run is over).
    failed: Option<String>,
}

/// Events in a row at one simulated instant after which a run is declared stalled (a
/// zero-time loop). At 40 bytes per part queued in such a loop this bounds its memory to tens of
/// megabytes; [`Kernel::set_stall_limit`] changes it.
pub const DEFAULT_STALL_EVENTS: u64 = 1 << 20;

/// The clock is checked every this many events (a power of two): the guard costs the hot loop
/// one mask test per event, and a stall is found within one window of the limit.
pub const STALL_WINDOW: u64 = 1 << 16;

impl<E> Default for Kernel<E> {
    fn default() -> Self {
        Kernel {
            calendar: Calendar::new(),
            now: SimTime::ZERO,
            events_run: 0,
            until: SimTime::NEVER,
            budget: 0,
            stop_requested: false,
            check_time: SimTime::ZERO,
            still_windows: 0,
            stall_limit: DEFAULT_STALL_EVENTS,
            stalled: None,
            failed: None,
        }
    }
}

impl<E> Kernel<E> {
    /// The current simulated time.
    #[inline]
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Events handled since the start of the run.
    pub fn events_run(&self) -> u64 {
        self.events_run
    }

    /// Time of the next pending event.
    pub fn next_time(&self) -> Option<SimTime> {
        self.calendar.peek_time()
    }

    /// The calendar (for saving a run's state).
    pub fn calendar(&self) -> &Calendar<E> {
        &self.calendar
    }

    /// Puts the kernel where a saved run was: its clock, its count of events handled and its
    /// calendar.
    pub fn restore(&mut self, now: SimTime, events_run: u64, calendar: Calendar<E>) {
        self.now = now;
        self.events_run = events_run;
        self.calendar = calendar;
    }

    /// Schedules `event` at the absolute time `at` (never earlier than now).
    #[inline]
    pub fn schedule_at(&mut self, at: SimTime, event: E) {
        debug_assert!(at.secs() >= self.now.secs(), "event scheduled in the past");
        self.calendar.schedule(at.max(self.now), event);
    }

    /// Asks the run to stop after the current event (a model's own stop condition, such as a
    /// number of finished parts). The request ends the current batch and is cleared by the
    /// next call to a run method.
    pub fn request_stop(&mut self) {
        self.stop_requested = true;
    }

    /// Sets how many events in a row at one instant stall a run (rounded up to whole windows
    /// of [`STALL_WINDOW`] events).
    pub fn set_stall_limit(&mut self, events: u64) {
        self.stall_limit = events.max(1);
    }

    /// The event at which the run stalled, if it did: the model names the element that loops.
    pub fn stalled(&self) -> Option<&E> {
        self.stalled.as_ref()
    }

    /// Ends the run because the model cannot go on (its world lacks state it needs): every run
    /// method returns [`StopReason::Failed`] from now on, and [`Kernel::failure`] says why. The
    /// first reason given is kept.
    pub fn fail(&mut self, why: impl Into<String>) {
        if self.failed.is_none() {
            self.failed = Some(why.into());
        }
    }

    /// Why the run failed, if it did.
    pub fn failure(&self) -> Option<&str> {
        self.failed.as_deref()
    }

    /// The next event of this batch, advancing the clock to it; `None` ends the batch (also
    /// when the run stalls: too many events in a row at one instant).
    #[inline]
    pub fn next_event(&mut self) -> Option<E> {
        if self.stop_requested || self.budget == 0 {
            return None;
        }
        let s = self.calendar.pop_due(self.until)?;
        self.now = s.time;
        self.events_run += 1;
        if self.events_run & (STALL_WINDOW - 1) == 0 && self.still(s.time) {
            self.stalled = Some(s.event);
            return None;
        }
        self.budget -= 1;
        Some(s.event)
    }
}

impl<E> Kernel<E> {
    /// A stall check, every [`STALL_WINDOW`] events: whether the clock (now `t`) has not moved
    /// for the stall limit.
    #[cold]
    #[inline(never)]
    fn still(&mut self, t: SimTime) -> bool {
        if t.secs() == self.check_time.secs() {
            self.still_windows += 1;
        } else {
            self.check_time = t;
            self.still_windows = 0;
        }
        self.still_windows * STALL_WINDOW >= self.stall_limit
    }
}

/// A domain model driven by the kernel.
pub trait Model {
    /// The domain's event type. Keep it small and `Copy`: it is moved through the heap.
    type Event: Copy;

    /// Handles events pulled from `kernel.next_event()` until it returns `None`.
    ///
    /// Implementations borrow what they need from `world` once, at the start of the batch, and
    /// apply structural changes (spawn/despawn) only after the loop.
    fn run_batch(&mut self, world: &mut World, kernel: &mut Kernel<Self::Event>);
}

/// Why a run method returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StopReason {
    /// The requested time was reached (the clock now shows it).
    ReachedTime,
    /// The model asked to stop (its own condition was met).
    Requested,
    /// The event budget of a step ran out.
    Budget,
    /// No events are left before the requested time and the calendar is empty.
    Exhausted,
    /// Too many events in a row at one simulated instant: a zero-time loop
    /// ([`Kernel::stalled`] names the event; [`DEFAULT_STALL_EVENTS`]).
    Stalled,
    /// The model could not go on ([`Kernel::failure`] says why); the run is over.
    Failed,
}

/// A world, its model and the kernel that runs it.
pub struct Simulation<M: Model> {
    /// The ECS world holding all model state.
    pub world: World,
    /// The domain model (handlers, and immutable configuration).
    pub model: M,
    kernel: Kernel<M::Event>,
}

impl<M: Model> Simulation<M> {
    /// A simulation at time zero with an empty calendar.
    pub fn new(world: World, model: M) -> Self {
        Simulation {
            world,
            model,
            kernel: Kernel::default(),
        }
    }

    /// The kernel (for scheduling initial events and reading the clock).
    pub fn kernel(&self) -> &Kernel<M::Event> {
        &self.kernel
    }

    /// Mutable kernel (for scheduling initial events).
    pub fn kernel_mut(&mut self) -> &mut Kernel<M::Event> {
        &mut self.kernel
    }

    /// The current simulated time.
    pub fn now(&self) -> SimTime {
        self.kernel.now
    }

    fn run_batch(&mut self, until: SimTime, budget: u64) -> StopReason {
        if self.kernel.failed.is_some() {
            return StopReason::Failed;
        }
        if self.kernel.stalled.is_some() {
            return StopReason::Stalled;
        }
        self.kernel.stop_requested = false;
        self.kernel.until = until;
        self.kernel.budget = budget;
        self.model.run_batch(&mut self.world, &mut self.kernel);
        if self.kernel.failed.is_some() {
            StopReason::Failed
        } else if self.kernel.stalled.is_some() {
            StopReason::Stalled
        } else if self.kernel.stop_requested {
            StopReason::Requested
        } else if self.kernel.budget == 0 {
            StopReason::Budget
        } else if until.secs().is_finite() {
            // Nothing left before `until`: the clock moves on to it.
            self.kernel.now = self.kernel.now.max(until);
            StopReason::ReachedTime
        } else {
            StopReason::Exhausted
        }
    }

    /// Runs every event up to and including time `until`, then sets the clock to `until`
    /// (unless the model requested a stop first).
    pub fn run_until(&mut self, until: SimTime) -> StopReason {
        self.run_batch(until, u64::MAX)
    }

    /// Runs until the model requests a stop or no events remain.
    pub fn run_to_end(&mut self) -> StopReason {
        self.run_batch(SimTime::NEVER, u64::MAX)
    }

    /// Runs at most `budget` events (stopping early at a model's stop request).
    pub fn run_events(&mut self, budget: u64) -> StopReason {
        self.run_batch(SimTime::NEVER, budget)
    }

    /// Runs at most `budget` events up to and including time `until` (stopping early at a
    /// model's stop request); when none are left before `until`, the clock moves on to it.
    pub fn run_events_until(&mut self, budget: u64, until: SimTime) -> StopReason {
        self.run_batch(until, budget)
    }

    /// Runs exactly one event (if any) and returns its time.
    pub fn step(&mut self) -> Option<SimTime> {
        let before = self.kernel.events_run;
        self.run_batch(SimTime::NEVER, 1);
        (self.kernel.events_run > before).then_some(self.kernel.now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bevy_ecs::prelude::*;

    #[derive(Component)]
    struct Counter(u64);

    /// A toy model: every event increments a counter and reschedules itself after 1 s;
    /// it requests a stop when the counter reaches 10.
    struct Ticker {
        entity: Entity,
    }

    impl Model for Ticker {
        type Event = ();
        fn run_batch(&mut self, world: &mut World, kernel: &mut Kernel<()>) {
            let mut c = world.get_mut::<Counter>(self.entity).unwrap();
            while kernel.next_event().is_some() {
                c.0 += 1;
                if c.0 == 10 {
                    kernel.request_stop();
                }
                let next = kernel.now() + SimTime::from_secs(1.0);
                kernel.schedule_at(next, ());
            }
        }
    }

    fn sim() -> Simulation<Ticker> {
        let mut world = World::new();
        let entity = world.spawn(Counter(0)).id();
        let mut s = Simulation::new(world, Ticker { entity });
        s.kernel_mut().schedule_at(SimTime::from_secs(1.0), ());
        s
    }

    fn count(s: &Simulation<Ticker>) -> u64 {
        s.world.get::<Counter>(s.model.entity).unwrap().0
    }

    #[test]
    fn run_until_runs_events_at_the_limit_and_moves_the_clock() {
        let mut s = sim();
        assert_eq!(s.run_until(SimTime::from_secs(3.5)), StopReason::ReachedTime);
        assert_eq!(count(&s), 3);
        assert_eq!(s.now().secs(), 3.5);
        assert_eq!(s.run_until(SimTime::from_secs(4.0)), StopReason::ReachedTime);
        assert_eq!(count(&s), 4);
    }

    /// A zero-time loop: every event schedules the next at the same instant.
    struct Looper;

    impl Model for Looper {
        type Event = u32;
        fn run_batch(&mut self, _: &mut World, kernel: &mut Kernel<u32>) {
            while let Some(e) = kernel.next_event() {
                let now = kernel.now();
                kernel.schedule_at(now, e + 1);
            }
        }
    }

    #[test]
    fn a_zero_time_loop_stalls_after_the_limit_in_every_run_call() {
        let mut s = Simulation::new(World::new(), Looper);
        s.kernel_mut().set_stall_limit(3 * STALL_WINDOW);
        s.kernel_mut().schedule_at(SimTime::from_secs(5.0), 0);
        assert_eq!(s.run_until(SimTime::from_secs(10.0)), StopReason::Stalled);
        // Checks at events 65,536 (the clock first seen at 5 s), 131,072, 196,608, 262,144.
        assert_eq!(
            s.kernel().stalled(),
            Some(&(4 * STALL_WINDOW as u32 - 1)),
            "the event it stalled at"
        );
        assert_eq!(s.now().secs(), 5.0, "the clock stays where it stalled");
        assert_eq!(s.run_to_end(), StopReason::Stalled);
        assert_eq!(s.step(), None);
    }

    /// A model whose world lacks its state: it fails the run instead of returning silently.
    struct Lost;

    impl Model for Lost {
        type Event = ();
        fn run_batch(&mut self, world: &mut World, kernel: &mut Kernel<()>) {
            if world.get_resource::<Clock>().is_none() {
                kernel.fail("no Clock resource in the world");
            }
        }
    }

    #[derive(Resource)]
    struct Clock;

    #[test]
    fn a_failed_run_stops_every_run_call_and_keeps_the_clock() {
        let mut s = Simulation::new(World::new(), Lost);
        s.kernel_mut().schedule_at(SimTime::from_secs(1.0), ());
        assert_eq!(s.run_until(SimTime::from_secs(10.0)), StopReason::Failed);
        assert_eq!(s.kernel().failure(), Some("no Clock resource in the world"));
        assert_eq!(s.now().secs(), 0.0, "the clock does not move on after a failure");
        s.world.insert_resource(Clock);
        assert_eq!(s.run_to_end(), StopReason::Failed, "a failed run is over");
        assert_eq!(s.step(), None);
    }

    #[test]
    fn step_runs_one_event() {
        let mut s = sim();
        assert_eq!(s.step(), Some(SimTime::from_secs(1.0)));
        assert_eq!(s.step(), Some(SimTime::from_secs(2.0)));
        assert_eq!(count(&s), 2);
    }

    #[test]
    fn model_stop_request_ends_the_run() {
        let mut s = sim();
        assert_eq!(s.run_to_end(), StopReason::Requested);
        assert_eq!(count(&s), 10);
        assert_eq!(s.now().secs(), 10.0);
        // The request is cleared: the run can go on.
        s.run_until(SimTime::from_secs(12.0));
        assert_eq!(count(&s), 12);
    }
}
