//! The dispatching hook: one policy decides which part a freed server takes, which idle server
//! a part goes to, and which blocked waiter moves into freed space, whenever there are two or
//! more candidates. It may also *reserve* a server for a named part (plan execution).
//!
//! FIFO is [`Policy::Fifo`], an enum arm the handlers test once per decision: the FIFO hot path
//! is the code it always was, and a boxed policy is called only with two or more candidates.
//!
//! Reservations, precisely:
//! - A server whose policy returns `reservation(station, server) = Some(id)` takes only part
//!   `id`: it stays idle while other parts wait. This is the one exception to the invariant that
//!   an idle, available server never coexists with a part in its queue that it could take.
//! - Parts offered to its input (by `place` or `offer`) start on it only if they are part `id`;
//!   it is woken when that part arrives in its input queue or backlog.
//! - If part `id` is blocked waiting for space in that very input buffer, which is full, the
//!   server would have to drain the buffer to let it in: a deadlock. The twin calls
//!   [`DispatchPolicy::deadlock`], counts a deviation for the station
//!   (`dispatch_deviations` in its KPIs) and lets the server choose among the waiting parts as if
//!   it were not reserved.

use super::Part;

/// What a policy sees of one candidate part at a decision.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Candidate {
    /// The part itself (id, product, order, unit, step, times).
    pub part: Part,
    /// Its order's due date [s], if it has an order with one.
    pub due_s: Option<f64>,
    /// Its order's weight (priority; 1 without an order).
    pub weight: f64,
    /// How long it has waited in its current queue [s].
    pub waited_s: f64,
    /// Operations left, this one included.
    pub remaining_ops: u32,
    /// Expected work left [s], this operation included (means, first alternative per step).
    pub remaining_work_s: f64,
    /// Expected time of this operation at the deciding station (mean, scaled by its speed) [s].
    pub op_time_s: f64,
    /// Its setup family.
    pub family: u16,
    /// Whether the deciding server was last set up for this family (no setup needed).
    pub same_family: bool,
    /// Parts in the input queue of its next step (the shortest among alternatives; 0 after
    /// the last step).
    pub next_queue: usize,
}

/// What is being decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecisionKind {
    /// A free server picks its next part from its input queue.
    NextPart,
    /// Space freed in a buffer: which blocked part moves in first.
    WakeWaiter,
}

/// Where and when a decision is taken.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Decision {
    /// Simulated time [s].
    pub now: f64,
    /// What is decided.
    pub kind: DecisionKind,
    /// The deciding server (station, server) for [`DecisionKind::NextPart`].
    pub server: Option<(usize, usize)>,
    /// The buffer the candidates wait in (or for).
    pub buffer: usize,
}

/// A dispatching policy. Every method has the FIFO answer as its default.
pub trait DispatchPolicy: Send {
    /// Which of `candidates` (two or more, in arrival order) goes first: an index into them.
    fn pick_part(&mut self, decision: &Decision, candidates: &[Candidate]) -> usize {
        let _ = (decision, candidates);
        0
    }

    /// Which of the idle `servers` (two or more (station, server) pairs, in plant order) takes
    /// `part`: an index into them.
    fn pick_server(&mut self, now: f64, part: &Candidate, servers: &[(usize, usize)]) -> usize {
        let _ = (now, part, servers);
        0
    }

    /// The part id server (station, server) is held for, if any (see the module docs).
    fn reservation(&mut self, station: usize, server: usize) -> Option<u64> {
        let _ = (station, server);
        None
    }

    /// Server (station, server) started `part` (a reservation is fulfilled when it is its part).
    fn started(&mut self, station: usize, server: usize, part: &Part) {
        let _ = (station, server, part);
    }

    /// The reservation of server (station, server) for part `part_id` can never be met (the
    /// part is blocked behind the full buffer the server would drain). The policy should drop
    /// or change it; the server then chooses as if unreserved.
    fn deadlock(&mut self, station: usize, server: usize, part_id: u64) {
        let _ = (station, server, part_id);
    }
}

/// The twin's dispatching policy.
#[derive(Default)]
pub enum Policy {
    /// First come, first served everywhere (the default; no call out).
    #[default]
    Fifo,
    /// A policy of the caller's.
    External(Box<dyn DispatchPolicy>),
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Policy::Fifo => f.write_str("Fifo"),
            Policy::External(_) => f.write_str("External(..)"),
        }
    }
}

/// Last come, first served: the latest arrival in a queue goes first, and the latest blocked
/// part moves first into freed space.
#[derive(Clone, Copy, Debug, Default)]
pub struct Lifo;

impl DispatchPolicy for Lifo {
    fn pick_part(&mut self, _: &Decision, candidates: &[Candidate]) -> usize {
        candidates.len() - 1
    }
}

/// FIFO with one reservation: server (station, server) is held for part `part` until it starts
/// it (the plan-execution case in its smallest form; also what the tests use).
#[derive(Clone, Copy, Debug)]
pub struct Reserve {
    /// Station index.
    pub station: usize,
    /// Server index.
    pub server: usize,
    /// The part id it is held for; `None` once started or dropped.
    pub part: Option<u64>,
    /// Deadlocks reported.
    pub deadlocks: u32,
}

impl DispatchPolicy for Reserve {
    fn reservation(&mut self, station: usize, server: usize) -> Option<u64> {
        if (station, server) == (self.station, self.server) {
            self.part
        } else {
            None
        }
    }

    fn started(&mut self, station: usize, server: usize, part: &Part) {
        if (station, server) == (self.station, self.server) && self.part == Some(part.id) {
            self.part = None;
        }
    }

    fn deadlock(&mut self, station: usize, server: usize, _: u64) {
        if (station, server) == (self.station, self.server) {
            self.part = None;
            self.deadlocks += 1;
        }
    }
}
