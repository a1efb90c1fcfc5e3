//! The trace: one CSV row per interval (operation, setup, down, off-shift), streamed to disk.
//!
//! Columns: `kind,station,server,part,product,order,start_s,end_s,blocked_until_s`.
//! - `operation`: processing of `part` at `station`/`server` from `start_s` to `end_s`; the part
//!   left the server at `blocked_until_s` (later than `end_s` when the server was blocked).
//!   Interrupted operations (breakdown, end of shift) are one row spanning the interruption;
//!   the `down`/`off-shift` rows of the same server show the gap.
//! - `setup`: the setup for `part` (its product's family) before its operation.
//! - `down`: a breakdown (or an injected outage) until its end; `off-shift`: time outside the
//!   shifts. Intervals still open when the run ends are written ending at the run's end;
//!   operations still under way then are not written (they have not finished).
//!
//! Together the rows of one part id are its genealogy: every station, server, setup and time it
//! went through, and its order. The file is written to `PATH.partial` and renamed to `PATH` only
//! when the run finished, so a failed run never leaves a truncated trace behind.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::sim::{Compiled, NO_ORDER, Part};

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
}

impl TraceKind {
    /// The name used in the CSV.
    pub fn as_str(self) -> &'static str {
        match self {
            TraceKind::Operation => "operation",
            TraceKind::Setup => "setup",
            TraceKind::Down => "down",
            TraceKind::OffShift => "off-shift",
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

/// Streams trace rows to a CSV file.
pub struct TraceWriter {
    cfg: Arc<Compiled>,
    out: BufWriter<File>,
    partial: PathBuf,
    path: PathBuf,
    rows: u64,
    error: Option<io::Error>,
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
            out,
            partial,
            path: path.to_path_buf(),
            rows: 0,
            error: None,
        })
    }

    /// Writes one row; the first I/O error stops the trace and is reported by [`finish`](Self::finish).
    pub fn write(&mut self, r: &TraceRow) {
        if self.error.is_some() {
            return;
        }
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
            self.out,
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
    pub fn finish(mut self) -> io::Result<u64> {
        if let Some(e) = self.error.take() {
            let _ = std::fs::remove_file(&self.partial);
            return Err(e);
        }
        self.out.flush()?;
        self.out.get_ref().sync_all()?;
        std::fs::rename(&self.partial, &self.path)?;
        Ok(self.rows)
    }

    /// Where the finished trace goes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Drops the partial file (a run that failed).
    pub fn abandon(self) {
        let _ = std::fs::remove_file(&self.partial);
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
