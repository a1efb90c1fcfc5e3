//! The dispatching hook: one policy decides which part a freed server takes, which idle server
//! a part goes to, and which blocked waiter moves into freed space, whenever there are two or
//! more candidates. It may also *reserve* a server for a named part (plan execution).
//!
//! FIFO is [`Policy::Fifo`], an enum arm the handlers test once per decision: the FIFO hot path
//! is the code it always was, and a boxed policy is called only with two or more candidates.
//!
//! Reservations, precisely:
//! - A server whose policy returns `reservation(station, server) = Some(held)` takes only the
//!   parts `held` matches ([`Held`]): one part, one unit of an order at one step, a whole lot
//!   (all units of an order at one step, gathered before the first starts), or only parts
//!   without an order. It stays idle while other parts wait. This is the one exception to the
//!   invariant that an idle, available server never coexists with a part in its queue that it
//!   could take.
//! - Parts offered to its input (by `place` or `offer`) start on it only if they match (a lot
//!   once all its units are there); it is woken when such a part arrives.
//! - While it waits for a unit or lot of another family than it is set up for, it sets up
//!   ahead (a changeover before the part arrives, as the APS plans setups).
//! - If a part it waits for is blocked waiting for space in that very input buffer, which is
//!   full, the server would have to drain the buffer to let it in: a deadlock. The twin calls
//!   [`DispatchPolicy::deadlock`], counts a deviation for the station
//!   (`dispatch_deviations` in its KPIs) and lets the server choose among the waiting parts as if
//!   it were not reserved (by [`DispatchPolicy::pick_part`]).

use super::Part;
use crate::rules::{Facts, Rule};

/// What a policy sees of one candidate part at a decision.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Candidate {
    /// The part itself (id, product, order, unit, step, times).
    pub part: Part,
    /// How long it has waited in its current queue [s].
    pub waited_s: f64,
    /// Its setup family.
    pub family: u16,
    /// Parts in the input queue of its next step (the shortest among alternatives; 0 after
    /// the last step).
    pub next_queue: usize,
    /// What the dispatching rules know of it: expected times (means scaled by the deciding
    /// station's speed), work left, due dates, weight ([`Facts`]).
    pub facts: Facts,
}

/// What a reserved server waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Held {
    /// This part (by id).
    Part(u64),
    /// Unit `unit` of order `order` at step `gstep` (an index into `Compiled::steps`).
    Unit {
        /// Order index.
        order: u32,
        /// Unit of the order.
        unit: u32,
        /// Global step index.
        gstep: u32,
    },
    /// Any unit of order `order` at step `gstep`, once `gather` of them are in the input
    /// queue (a transfer batch: the lot starts when it is complete, then runs unit after unit).
    Lot {
        /// Order index.
        order: u32,
        /// Global step index.
        gstep: u32,
        /// Units that must be there before the first starts (1 once the lot has started).
        gather: u32,
    },
    /// Only parts without an order (a server whose plan is done takes no planned part).
    NoOrder,
}

impl Held {
    /// Whether `part` is one the server waits for.
    pub fn matches(&self, part: &Part) -> bool {
        match *self {
            Held::Part(id) => part.id == id,
            Held::Unit { order, unit, gstep } => part.order == order && part.unit == unit && part.gstep == gstep,
            Held::Lot { order, gstep, .. } => part.order == order && part.gstep == gstep,
            Held::NoOrder => part.order == super::NO_ORDER,
        }
    }

    /// The order whose parts it waits for (its family is known ahead), if any.
    pub fn order(&self) -> Option<u32> {
        match *self {
            Held::Unit { order, .. } | Held::Lot { order, .. } => Some(order),
            Held::Part(_) | Held::NoOrder => None,
        }
    }

    /// Parts that must be waiting before the first starts.
    pub fn gather(&self) -> u32 {
        match *self {
            Held::Lot { gather, .. } => gather.max(1),
            _ => 1,
        }
    }
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
    /// The deciding station: the server's, or the first station that takes parts from
    /// `buffer` for [`DecisionKind::WakeWaiter`].
    pub station: usize,
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
    /// a part: an index into them. `options[i]` is the part as seen from `servers[i]` (its
    /// expected time and setup there).
    fn pick_server(&mut self, now: f64, options: &[Candidate], servers: &[(usize, usize)]) -> usize {
        let _ = (now, options, servers);
        0
    }

    /// What server (station, server) is held for, if anything (see the module docs).
    fn reservation(&mut self, station: usize, server: usize) -> Option<Held> {
        let _ = (station, server);
        None
    }

    /// Which of the stations `alternatives` (two or more) a part that found no idle server
    /// queues at: an index into them, or `None` for the twin's own choice (the shortest
    /// queue with space). A station whose input is full is skipped.
    fn route(&mut self, now: f64, part: &Part, alternatives: &[u32]) -> Option<usize> {
        let _ = (now, part, alternatives);
        None
    }

    /// Server (station, server) took `part` (its setup, if any, comes first).
    fn started(&mut self, station: usize, server: usize, part: &Part) {
        let _ = (station, server, part);
    }

    /// Server (station, server) began processing `part` (after its setup) at `now`.
    fn began(&mut self, now: f64, station: usize, server: usize, part: &Part) {
        let _ = (now, station, server, part);
    }

    /// `part` left the plant at `now`: through its sink, or scrapped.
    fn left(&mut self, now: f64, part: &Part, scrapped: bool) {
        let _ = (now, part, scrapped);
    }

    /// The reservation `held` of server (station, server) can never be met (a part it waits
    /// for is blocked behind the full buffer the server would drain). The server then chooses
    /// as if unreserved, this once.
    fn deadlock(&mut self, station: usize, server: usize, held: Held) {
        let _ = (station, server, held);
    }

    /// Server (station, server) broke down (`down`) or was repaired at `now`. An observed
    /// outage of a whole station (a live plant's state tag) comes once per server.
    fn availability(&mut self, now: f64, station: usize, server: usize, down: bool) {
        let _ = (now, station, server, down);
    }

    /// Order `order` was released at `now`: its units enter the plant.
    fn released(&mut self, now: f64, order: u32) {
        let _ = (now, order);
    }

    /// Called after every event, at `now`: the policy may change its reservations here
    /// (re-planning). Returns true if it did; the twin then lets every idle server look at
    /// its queue again under the new reservations.
    fn replan(&mut self, now: f64) -> bool {
        let _ = now;
        false
    }

    /// Figures of the policy's own for the run's report (`policy.*` KPIs), if it keeps any.
    fn kpis(&self) -> Vec<(String, f64)> {
        Vec::new()
    }
}

/// Makes the policy of each new twin of a plant (plan execution installs one this way, so
/// that every replication, study variant and fork starts with a fresh policy).
pub type PolicyFactory = std::sync::Arc<dyn Fn() -> Box<dyn DispatchPolicy> + Send + Sync>;

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

/// The plant's own rules: each station's servers choose by the station's `dispatch` rule
/// ([`Rule`]); a part that finds several idle servers takes the one where its expected setup
/// plus processing time is least (by the rule of the first; plant order under FIFO); a blocked
/// waiter moves into freed space by the rule of the first station that takes from the buffer.
/// [`crate::sim::build_twin`] installs it when any station's rule is not FIFO.
#[derive(Clone, Debug, PartialEq)]
pub struct RulePolicy {
    /// Per station: its rule.
    pub rules: Vec<Rule>,
}

impl DispatchPolicy for RulePolicy {
    fn pick_part(&mut self, d: &Decision, candidates: &[Candidate]) -> usize {
        self.rules[d.station].pick(d.now, candidates, |c| &c.facts)
    }

    fn pick_server(&mut self, _now: f64, options: &[Candidate], servers: &[(usize, usize)]) -> usize {
        if self.rules[servers[0].0] == Rule::Fifo {
            return 0;
        }
        let mut best = 0;
        let cost = |c: &Candidate| c.facts.setup_s + c.facts.op_time_s;
        for (i, c) in options.iter().enumerate() {
            if cost(c) < cost(&options[best]) {
                best = i;
            }
        }
        best
    }
}

impl Policy {
    /// The dispatching policy the plant file asks for: FIFO (the hot path's own) unless some
    /// station names another rule.
    pub fn for_plant(plant: &crate::plant::PlantModel) -> Policy {
        if plant.stations.iter().all(|s| s.dispatch == Rule::Fifo) {
            Policy::Fifo
        } else {
            Policy::External(Box::new(RulePolicy {
                rules: plant.stations.iter().map(|s| s.dispatch).collect(),
            }))
        }
    }
}

/// A [`PolicyFactory`] in a `Compiled` plant.
#[derive(Clone)]
pub struct PolicyMaker(pub PolicyFactory);

impl std::fmt::Debug for PolicyMaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PolicyMaker(..)")
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
    fn reservation(&mut self, station: usize, server: usize) -> Option<Held> {
        if (station, server) == (self.station, self.server) {
            self.part.map(Held::Part)
        } else {
            None
        }
    }

    fn started(&mut self, station: usize, server: usize, part: &Part) {
        if (station, server) == (self.station, self.server) && self.part == Some(part.id) {
            self.part = None;
        }
    }

    fn deadlock(&mut self, station: usize, server: usize, _: Held) {
        if (station, server) == (self.station, self.server) {
            self.part = None;
            self.deadlocks += 1;
        }
    }
}
