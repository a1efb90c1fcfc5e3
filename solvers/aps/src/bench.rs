//! Running a solver over a benchmark directory against published bounds.
//!
//! `bounds.csv` has the header `name,jobs,machines,lower_bound,upper_bound,optimal`;
//! `upper_bound` is the best known solution, used as the gap reference.

use crate::objective::Objective;
use crate::problem::{ParseError, Problem, parse_fjsp, parse_jssp};
use crate::solve::{SolveError, SolveOptions, SolveResult, solve};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Published bounds of one instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownBounds {
    /// Best proven lower bound.
    pub lower: i64,
    /// Best known solution (upper bound).
    pub upper: i64,
}

/// Errors while loading benchmark files.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum BenchError {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// An instance file is malformed.
    #[error("{path}: {source}")]
    Parse { path: PathBuf, source: ParseError },
    /// `bounds.csv` is malformed.
    #[error("{path}:{line}: {reason}")]
    Bounds { path: PathBuf, line: usize, reason: String },
    /// A range filter that cannot be understood.
    #[error("bad instance filter '{0}': expected names or ranges like 'ta01-ta50,ft06'")]
    Filter(String),
    /// The solver failed.
    #[error("{instance}: {source}")]
    Solve { instance: String, source: SolveError },
}

/// Reads `bounds.csv` into a map from instance name to bounds.
pub fn read_bounds(path: &Path) -> Result<HashMap<String, KnownBounds>, BenchError> {
    let text = std::fs::read_to_string(path).map_err(|source| BenchError::Io {
        path: path.into(),
        source,
    })?;
    let mut map = HashMap::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        let bad = |reason: String| BenchError::Bounds {
            path: path.into(),
            line: i + 1,
            reason,
        };
        if f.len() < 5 {
            return Err(bad(format!("expected at least 5 fields, got {}", f.len())));
        }
        let num = |s: &str, what: &str| {
            s.parse::<i64>()
                .map_err(|_| bad(format!("{what}: expected an integer, got '{s}'")))
        };
        map.insert(
            f[0].to_string(),
            KnownBounds {
                lower: num(f[3], "lower_bound")?,
                upper: num(f[4], "upper_bound")?,
            },
        );
    }
    Ok(map)
}

/// Which instance names to run: comma-separated names or ranges `ta01-ta50`.
#[derive(Clone, Debug, Default)]
pub struct NameFilter {
    items: Vec<FilterItem>,
}

#[derive(Clone, Debug)]
enum FilterItem {
    Exact(String),
    Range { prefix: String, lo: u32, hi: u32 },
}

fn split_name(s: &str) -> Option<(&str, u32)> {
    let digits = s.len() - s.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    if digits == 0 {
        return None;
    }
    let (p, d) = s.split_at(s.len() - digits);
    Some((p, d.parse().ok()?))
}

impl NameFilter {
    /// Parses `ta01-ta50,ft06`; an empty string matches everything.
    pub fn parse(spec: &str) -> Result<Self, BenchError> {
        let mut items = Vec::new();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if let Some((a, b)) = part.split_once('-') {
                let err = || BenchError::Filter(spec.to_string());
                let (pa, lo) = split_name(a).ok_or_else(err)?;
                let (pb, hi) = split_name(b).ok_or_else(err)?;
                if pa != pb || lo > hi {
                    return Err(err());
                }
                items.push(FilterItem::Range {
                    prefix: pa.to_string(),
                    lo,
                    hi,
                });
            } else {
                items.push(FilterItem::Exact(part.to_string()));
            }
        }
        Ok(NameFilter { items })
    }

    /// Whether `name` is selected.
    pub fn matches(&self, name: &str) -> bool {
        self.items.is_empty()
            || self.items.iter().any(|it| match it {
                FilterItem::Exact(e) => e == name,
                FilterItem::Range { prefix, lo, hi } => {
                    split_name(name).is_some_and(|(p, k)| p == prefix && (*lo..=*hi).contains(&k))
                }
            })
    }
}

/// Reads an instance, choosing the reader by extension (`.fjs` is
/// Brandimarte, `.json` is a serialised [`Problem`], anything else Taillard).
pub fn load_instance(path: &Path) -> Result<Problem, BenchError> {
    let text = std::fs::read_to_string(path).map_err(|source| BenchError::Io {
        path: path.into(),
        source,
    })?;
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let mut p = match ext {
        "fjs" => parse_fjsp(&text),
        "json" => serde_json::from_str(&text).map_err(|e| ParseError::Unexpected {
            line: e.line(),
            token: e.column(),
            expected: "a json problem",
            got: e.to_string(),
        }),
        _ => parse_jssp(&text),
    }
    .map_err(|source| BenchError::Parse {
        path: path.into(),
        source,
    })?;
    if p.name.is_empty() {
        p.name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("").to_string();
    }
    Ok(p)
}

/// One line of a benchmark report.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BenchRow {
    /// Instance name.
    pub instance: String,
    /// Makespan (or other objective) reached.
    pub value: i64,
    /// Best known upper bound from `bounds.csv`.
    pub best_known: Option<i64>,
    /// `(value - best_known) / best_known` [%].
    pub gap_percent: Option<f64>,
    /// Our own lower bound.
    pub lower_bound: i64,
    /// Seconds to the best solution (time-limit mode).
    pub time_to_best_s: Option<f64>,
    /// Wall time of the solve [s].
    pub elapsed_s: f64,
}

impl BenchRow {
    /// The CSV header matching [`BenchRow::csv`].
    pub const CSV_HEADER: &'static str = "instance,value,best_known,gap_percent,lower_bound,time_to_best_s,elapsed_s";

    /// The row as CSV.
    pub fn csv(&self) -> String {
        let opt = |v: Option<String>| v.unwrap_or_default();
        format!(
            "{},{},{},{},{},{},{:.3}",
            self.instance,
            self.value,
            opt(self.best_known.map(|v| v.to_string())),
            opt(self.gap_percent.map(|g| format!("{g:.3}"))),
            self.lower_bound,
            opt(self.time_to_best_s.map(|t| format!("{t:.3}"))),
            self.elapsed_s
        )
    }
}

/// Instance files of `dir` selected by `filter`, sorted by name.
pub fn instance_files(dir: &Path, filter: &NameFilter) -> Result<Vec<PathBuf>, BenchError> {
    let rd = std::fs::read_dir(dir).map_err(|source| BenchError::Io {
        path: dir.into(),
        source,
    })?;
    let mut files: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("txt" | "fjs")))
        .filter(|p| {
            p.file_stem()
                .and_then(|s| s.to_str())
                .is_some_and(|s| filter.matches(s))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// Solves every selected instance of `dir`, calling `on_row` as each finishes.
pub fn run_bench(
    dir: &Path,
    filter: &NameFilter,
    opts: &SolveOptions,
    mut on_row: impl FnMut(&BenchRow, &SolveResult),
) -> Result<Vec<BenchRow>, BenchError> {
    let bounds = read_bounds(&dir.join("bounds.csv")).unwrap_or_default();
    let mut rows = Vec::new();
    for path in instance_files(dir, filter)? {
        let p = load_instance(&path)?;
        let r = solve(&p, opts).map_err(|source| BenchError::Solve {
            instance: p.name.clone(),
            source,
        })?;
        let best_known = (opts.objective == Objective::Makespan)
            .then(|| bounds.get(&p.name).map(|b| b.upper))
            .flatten();
        let row = BenchRow {
            instance: p.name.clone(),
            value: r.value,
            best_known,
            gap_percent: best_known.and_then(|b| crate::objective::gap_percent(r.value, b)),
            lower_bound: r.lower_bound,
            time_to_best_s: r.time_to_best_s,
            elapsed_s: r.elapsed_s,
        };
        on_row(&row, &r);
        rows.push(row);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_ranges() {
        let f = NameFilter::parse("ta01-ta50,ft06").unwrap();
        assert!(f.matches("ta01") && f.matches("ta50") && f.matches("ft06"));
        assert!(!f.matches("ta51") && !f.matches("la01") && !f.matches("ft10"));
        assert!(NameFilter::parse("ta01-la05").is_err());
        assert!(NameFilter::parse("").unwrap().matches("anything"));
    }
}
