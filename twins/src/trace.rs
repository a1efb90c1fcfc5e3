//! The trace: one CSV row per interval (operation, setup, down, off-shift), streamed to disk.
//!
//! Columns: `kind,station,server,part,product,order,start_s,end_s,blocked_until_s`.
//! - `operation`: processing of `part` at `station`/`server` from `start_s` to `end_s`; the part
//!   left the server at `blocked_until_s` (later than `end_s` when the server was blocked).
//!   Interrupted operations (breakdown, end of shift) are one row spanning the interruption;
//!   the `down`/`off_shift` rows of the same server show the gap.
//! - `setup`: the setup for `part` (its product's family) before its operation.
//! - `down`: a breakdown (or an injected outage) until its end; `off_shift`: time outside the
//!   shifts. Intervals still open when the run ends are written ending at the run's end;
//!   operations still under way then are not written (they have not finished).
//!
//! Together the rows of one part id are its genealogy: every station, server, setup and time it
//! went through, and its order. The file is written to `PATH.partial` and renamed to `PATH` only
//! when the run finished, so a failed run never leaves a truncated trace behind.
//!
//! With states asked for ([`TraceWriter::with_states`], `twin run --trace-states`), every
//! interval a server spends in one accounting state is a row too, as the time accounting
//! closes it: `state-busy`, `state-setup`, `state-idle`, `state-blocked`, `state-down`,
//! `state-off_shift` (no part; `blocked_until_s` = `end_s`). These rows tile each server's
//! time from the start (or the statistics reset) without gaps.
//!
//! Every consumer of the stream is a [`TraceSink`]: the CSV file and the in-memory ring here
//! are two; a store is another.
//!
//! A trace can also be kept in memory ([`TraceWriter::in_memory`]): a ring of the most recent
//! rows that a reader drains between run calls (the viewer's Gantt chart of a running twin).
//! Its memory is bounded by the ring's capacity however long the run.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::sim::{Compiled, NO_ORDER, Part, StationState};

/// Where the twin streams its operations, setups and state intervals (one trait for the CSV
/// file, the viewer's in-memory ring, and stores).
pub trait TraceSink: Send {
    /// Takes one row (rows come in the order their intervals end).
    fn write(&mut self, row: &TraceRow);
    /// Whether it also wants every accounting-state interval ([`TraceKind::State`]); asked
    /// once per batch of events.
    fn wants_states(&self) -> bool {
        false
    }
    /// Rows taken so far.
    fn rows(&self) -> u64;
    /// Rows held for a reader since the last drain (an in-memory sink); none by default.
    fn drain(&mut self) -> Vec<TraceRow> {
        Vec::new()
    }
    /// Where the rows go, for messages (empty when nowhere on disk).
    fn path(&self) -> &Path {
        Path::new("")
    }
    /// The run finished: flush and commit; returns the number of rows.
    fn finish(self: Box<Self>) -> io::Result<u64>;
    /// The run failed: drop what was written.
    fn abandon(self: Box<Self>) {}
}

/// What a trace row describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceKind {
    /// Processing of a part.
    Operation,
    /// A setup.
    Setup,
    /// A breakdown and its repair.
    Down,
    /// Outside the shifts.
    OffShift,
    /// An interval in one accounting state (only when the sink asks for states).
    State(StationState),
}

impl TraceKind {
    /// The name used in the CSV.
    pub fn as_str(self) -> &'static str {
        match self {
            TraceKind::Operation => "operation",
            TraceKind::Setup => "setup",
            TraceKind::Down => "down",
            TraceKind::OffShift => "off_shift",
            TraceKind::State(StationState::Busy) => "state-busy",
            TraceKind::State(StationState::Setup) => "state-setup",
            TraceKind::State(StationState::Idle) => "state-idle",
            TraceKind::State(StationState::Blocked) => "state-blocked",
            TraceKind::State(StationState::Down) => "state-down",
            TraceKind::State(StationState::OffShift) => "state-off_shift",
        }
    }
}

/// One interval.
#[derive(Clone, Copy, Debug)]
pub struct TraceRow {
    /// What it was.
    pub kind: TraceKind,
    /// Station index.
    pub station: usize,
    /// Server index within the station.
    pub server: usize,
    /// The part, for operations and setups.
    pub part: Option<Part>,
    /// Start [s].
    pub start: f64,
    /// End [s].
    pub end: f64,
    /// When the part left the server [s] (= end unless blocked).
    pub blocked_until: f64,
}

/// Streams trace rows to a CSV file, or keeps the latest ones in memory.
pub struct TraceWriter {
    cfg: Arc<Compiled>,
    out: Sink,
    rows: u64,
    error: Option<io::Error>,
    states: bool,
}

/// Where the rows go.
enum Sink {
    File {
        out: BufWriter<File>,
        partial: PathBuf,
        path: PathBuf,
    },
    /// The latest `capacity` rows, oldest first.
    Memory { ring: VecDeque<TraceRow>, capacity: usize },
}

impl TraceWriter {
    /// Creates `path.partial` and writes the header.
    pub fn create(path: &Path, cfg: Arc<Compiled>) -> io::Result<TraceWriter> {
        let mut partial = path.as_os_str().to_owned();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        let mut out = BufWriter::with_capacity(1 << 16, File::create(&partial)?);
        writeln!(
            out,
            "kind,station,server,part,product,order,start_s,end_s,blocked_until_s"
        )?;
        Ok(TraceWriter {
            cfg,
            out: Sink::File {
                out,
                partial,
                path: path.to_path_buf(),
            },
            rows: 0,
            error: None,
            states: false,
        })
    }

    /// A trace kept in memory: the latest `capacity` rows (older ones are dropped), taken out
    /// with [`drain`](Self::drain). Nothing is written to disk.
    pub fn in_memory(cfg: Arc<Compiled>, capacity: usize) -> TraceWriter {
        TraceWriter {
            cfg,
            out: Sink::Memory {
                ring: VecDeque::with_capacity(capacity.min(1 << 16)),
                capacity: capacity.max(1),
            },
            rows: 0,
            error: None,
            states: false,
        }
    }

    /// Also writes every accounting-state interval (see the module docs).
    pub fn with_states(mut self, states: bool) -> TraceWriter {
        self.states = states;
        self
    }
}

impl TraceSink for TraceWriter {
    fn wants_states(&self) -> bool {
        self.states
    }

    /// Takes the rows held in memory since the last drain, oldest first (at most the ring's
    /// capacity; none for a file trace).
    fn drain(&mut self) -> Vec<TraceRow> {
        match &mut self.out {
            Sink::Memory { ring, .. } => ring.drain(..).collect(),
            Sink::File { .. } => Vec::new(),
        }
    }

    /// Rows written so far (including those a memory trace has dropped or handed out).
    fn rows(&self) -> u64 {
        self.rows
    }

    /// Writes one row; the first I/O error stops the trace and is reported by [`finish`](Self::finish).
    fn write(&mut self, r: &TraceRow) {
        if self.error.is_some() {
            return;
        }
        let out = match &mut self.out {
            Sink::File { out, .. } => out,
            Sink::Memory { ring, capacity } => {
                if ring.len() == *capacity {
                    ring.pop_front();
                }
                ring.push_back(*r);
                self.rows += 1;
                return;
            }
        };
        let plant = &self.cfg.plant;
        let station = &plant.stations[r.station].name;
        let (part, product, order) = match &r.part {
            Some(p) => (
                p.id.to_string(),
                plant.products[p.product as usize].name.as_str(),
                if p.order == NO_ORDER {
                    ""
                } else {
                    plant.orders[p.order as usize].id.as_str()
                },
            ),
            None => (String::new(), "", ""),
        };
        let res = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{}",
            r.kind.as_str(),
            csv_field(station),
            r.server,
            part,
            csv_field(product),
            csv_field(order),
            r.start,
            r.end,
            r.blocked_until
        );
        match res {
            Ok(()) => self.rows += 1,
            Err(e) => self.error = Some(e),
        }
    }

    /// Flushes and moves the file into place; returns the number of rows.
    fn finish(self: Box<Self>) -> io::Result<u64> {
        let mut this = *self;
        let Sink::File { mut out, partial, path } = this.out else {
            return Ok(this.rows);
        };
        if let Some(e) = this.error.take() {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
        out.flush()?;
        out.get_ref().sync_all()?;
        std::fs::rename(&partial, &path)?;
        Ok(this.rows)
    }

    /// Where the finished trace goes (empty for a trace in memory).
    fn path(&self) -> &Path {
        match &self.out {
            Sink::File { path, .. } => path,
            Sink::Memory { .. } => Path::new(""),
        }
    }

    /// Drops the partial file (a run that failed).
    fn abandon(self: Box<Self>) {
        if let Sink::File { partial, .. } = &self.out {
            let _ = std::fs::remove_file(partial);
        }
    }
}

/// A CSV field, quoted (RFC 4180) when it holds a comma, a quote or a newline.
pub fn csv_field(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\"")).into()
    } else {
        s.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prelude::*;
    use twinworks_engine::SimTime;

    const LINE: &str = r#"
[plant]
name = "one"
[[source]]
name = "in"
kind = "infinite"
product = "P"
[[station]]
name = "A"
process_time = { dist = "constant", value = "10s" }
[[product]]
name = "P"
routing = [{ station = "A" }]
"#;

    #[test]
    fn memory_trace_keeps_the_latest_rows_only() {
        let plant = parse_plant(LINE, Path::new("one.toml")).unwrap();
        let cfg = Arc::new(Compiled::new(plant));
        let mut twin = build_twin(cfg.clone(), 1);
        twin.model.trace = Some(Box::new(TraceWriter::in_memory(cfg, 3)));
        twin.run_until(SimTime::from_secs(55.0));
        let trace = twin.model.trace.as_mut().unwrap();
        assert_eq!(trace.rows(), 5, "operations end at 10, 20, .., 50");
        let rows = trace.drain();
        let ends: Vec<f64> = rows.iter().map(|r| r.end).collect();
        assert_eq!(ends, [30.0, 40.0, 50.0], "the ring keeps the last three");
        assert!(
            rows.iter()
                .all(|r| r.kind == TraceKind::Operation && r.end - r.start == 10.0)
        );
        assert!(trace.drain().is_empty(), "a drain empties the ring");
        twin.run_until(SimTime::from_secs(65.0));
        let rows = twin.model.trace.as_mut().unwrap().drain();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].start, 50.0);
    }
}
