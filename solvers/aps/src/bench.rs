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

/// Reads `bounds.csv` into a map from instance name to bounds, with the `csv` crate: the
/// columns `name`, `lower_bound` and `upper_bound` are found by the header (in any order),
/// every row has the header's number of fields, bounds are integers with lower <= upper, and
/// a name appears once. Any problem is an error naming the line, never defaults.
pub fn read_bounds(path: &Path) -> Result<HashMap<String, KnownBounds>, BenchError> {
    let text = std::fs::read_to_string(path).map_err(|source| BenchError::Io {
        path: path.into(),
        source,
    })?;
    let bad = |line: u64, reason: String| BenchError::Bounds {
        path: path.into(),
        line: line as usize,
        reason,
    };
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .comment(Some(b'#'))
        .from_reader(text.as_bytes());
    let header = reader.headers().map_err(|e| bad(1, format!("header: {e}")))?.clone();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| bad(1, format!("the header lacks the column '{name}'")))
    };
    let (name, lower, upper) = (col("name")?, col("lower_bound")?, col("upper_bound")?);
    let mut map = HashMap::new();
    for rec in reader.records() {
        let rec = rec.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            bad(line, format!("{e}"))
        })?;
        let line = rec.position().map_or(0, |p| p.line());
        let num = |k: usize, what: &str| {
            rec[k]
                .parse::<i64>()
                .map_err(|_| bad(line, format!("{what}: expected an integer, got '{}'", &rec[k])))
        };
        let b = KnownBounds {
            lower: num(lower, "lower_bound")?,
            upper: num(upper, "upper_bound")?,
        };
        if b.lower > b.upper {
            return Err(bad(
                line,
                format!("lower_bound {} is above upper_bound {}", b.lower, b.upper),
            ));
        }
        if map.insert(rec[name].to_string(), b).is_some() {
            return Err(bad(line, format!("instance '{}' is listed twice", &rec[name])));
        }
    }
    Ok(map)
}

/// The bounds beside the instances of `dir`: none when it has no `bounds.csv`, an error when
/// the file is there but malformed.
pub fn bounds_beside(dir: &Path) -> Result<HashMap<String, KnownBounds>, BenchError> {
    let path = dir.join("bounds.csv");
    if path.is_file() {
        read_bounds(&path)
    } else {
        Ok(HashMap::new())
    }
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
    let bounds = bounds_beside(dir)?;
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
mod bounds_tests {
    use super::*;

    fn read(text: &str) -> Result<HashMap<String, KnownBounds>, String> {
        let dir = std::env::temp_dir().join(format!("aps-bounds-{}-{}", std::process::id(), text.len()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("bounds.csv");
        std::fs::write(&p, text).unwrap();
        let r = read_bounds(&p).map_err(|e| e.to_string());
        let _ = std::fs::remove_dir_all(&dir);
        r
    }

    #[test]
    fn bounds_are_read_by_column_name_and_malformed_files_are_errors() {
        let ok = read("name,jobs,machines,lower_bound,upper_bound,optimal\nft06,6,6,55,55,yes\n").unwrap();
        assert_eq!(ok["ft06"], KnownBounds { lower: 55, upper: 55 });
        let moved = read("upper_bound,name,lower_bound\n930,ft10,930\n").unwrap();
        assert_eq!(moved["ft10"], KnownBounds { lower: 930, upper: 930 });
        for (text, want) in [
            ("name,lower_bound,upper_bound\nft06,55\n", ":2: "),
            (
                "name,lower_bound,upper_bound\nft06,x,55\n",
                ":2: lower_bound: expected an integer",
            ),
            (
                "name,lower_bound,upper_bound\nft06,56,55\n",
                ":2: lower_bound 56 is above",
            ),
            (
                "name,lower_bound,upper_bound\nft06,55,55\nft06,55,55\n",
                ":3: instance 'ft06' is listed twice",
            ),
            (
                "name,lower,upper_bound\nft06,55,55\n",
                ":1: the header lacks the column 'lower_bound'",
            ),
        ] {
            let e = read(text).unwrap_err();
            assert!(e.contains(want), "{text:?}: {e}");
        }
    }
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
