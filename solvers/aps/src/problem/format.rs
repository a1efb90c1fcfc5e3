//! Readers for the two standard benchmark layouts.
//!
//! * JSSP, Taillard/OR-Library "standard": `n_jobs n_machines`, then one line
//!   per job of `machine time` pairs, machines 0-based.
//! * FJSP, Brandimarte: `n_jobs n_machines [avg_alternatives]`, then one line
//!   per job: `n_ops`, and per operation `k` followed by `k` pairs
//!   `machine time`, machines 1-based.
//!
//! Errors name the 1-based line and token so a planner can fix the file.

use super::{Alternative, Job, Operation, Problem, Time};
use thiserror::Error;

/// A malformed instance file.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseError {
    /// The file holds no non-blank line.
    #[error("empty file: expected a header line 'n_jobs n_machines'")]
    Empty,
    /// A token is not what the layout requires at that place.
    #[error("line {line}, token {token}: expected {expected}, got '{got}'")]
    Unexpected {
        line: usize,
        token: usize,
        expected: &'static str,
        got: String,
    },
    /// A line ended before the layout was complete.
    #[error("line {line}: expected {expected} as token {token}, got end of line")]
    EndOfLine {
        line: usize,
        token: usize,
        expected: &'static str,
    },
    /// A machine number outside the header's machine count.
    #[error("line {line}, token {token}: machine {machine} out of range {first}..={last}")]
    MachineOutOfRange {
        line: usize,
        token: usize,
        machine: i64,
        first: i64,
        last: i64,
    },
    /// Extra tokens after a complete job line.
    #[error("line {line}, token {token}: unexpected trailing token '{got}'")]
    Trailing { line: usize, token: usize, got: String },
    /// Fewer job lines than the header announced.
    #[error("expected {expected} job lines after the header, got {got}")]
    MissingJobs { expected: usize, got: usize },
    /// More non-blank lines than the header announced.
    #[error("line {line}: unexpected extra line after {jobs} jobs")]
    ExtraLine { line: usize, jobs: usize },
}

/// Tokens of one line, remembering where we are for error messages.
struct Cursor<'a> {
    line: usize,
    token: usize,
    tokens: std::str::SplitWhitespace<'a>,
}

impl<'a> Cursor<'a> {
    fn new(line: usize, text: &'a str) -> Self {
        Cursor {
            line,
            token: 0,
            tokens: text.split_whitespace(),
        }
    }

    fn next_int(&mut self, expected: &'static str) -> Result<i64, ParseError> {
        self.token += 1;
        let Some(tok) = self.tokens.next() else {
            return Err(ParseError::EndOfLine {
                line: self.line,
                token: self.token,
                expected,
            });
        };
        tok.parse::<i64>().map_err(|_| ParseError::Unexpected {
            line: self.line,
            token: self.token,
            expected,
            got: tok.to_string(),
        })
    }

    /// A count in `0..=max`; `expected` names the field and its limit. Counts size
    /// allocations, so a huge one is refused here rather than aborting later.
    fn next_count(&mut self, expected: &'static str, max: usize) -> Result<usize, ParseError> {
        let (line, token) = (self.line, self.token + 1);
        let v = self.next_int(expected)?;
        usize::try_from(v)
            .ok()
            .filter(|&n| n <= max)
            .ok_or_else(|| ParseError::Unexpected {
                line,
                token,
                expected,
                got: v.to_string(),
            })
    }

    fn next_duration(&mut self) -> Result<Time, ParseError> {
        const WHAT: &str = "a processing time from 0 to 1e9";
        let token = self.token + 1;
        let v = self.next_int(WHAT)?;
        if !(0..=MAX_TIME).contains(&v) {
            return Err(ParseError::Unexpected {
                line: self.line,
                token,
                expected: WHAT,
                got: v.to_string(),
            });
        }
        Ok(v)
    }

    /// Reads a machine number and converts it to a 0-based index.
    fn next_machine(&mut self, first: i64, machines: usize) -> Result<usize, ParseError> {
        let token = self.token + 1;
        let v = self.next_int("a machine number")?;
        let last = first + machines as i64 - 1;
        if v < first || v > last {
            return Err(ParseError::MachineOutOfRange {
                line: self.line,
                token,
                machine: v,
                first,
                last,
            });
        }
        Ok((v - first) as usize)
    }

    fn at_end(&mut self) -> Result<(), ParseError> {
        match self.tokens.next() {
            None => Ok(()),
            Some(tok) => Err(ParseError::Trailing {
                line: self.line,
                token: self.token + 1,
                got: tok.to_string(),
            }),
        }
    }

    fn is_exhausted(&self) -> bool {
        self.tokens.clone().next().is_none()
    }
}

/// Limits on instance files. Counts size allocations, so a huge count is refused instead of
/// aborting. Processing times are at most 1e9: a makespan sums at most the instance's
/// operations (an instance a solver can hold has well under 1e9 of them), so it stays below
/// 1e18 < `i64::MAX` ≈ 9.2e18 and no start time overflows.
const MAX_JOBS: usize = 1_000_000;
const MAX_MACHINES: usize = 100_000;
const MAX_OPS_PER_JOB: usize = 100_000;
/// The longest processing time of one operation.
pub const MAX_TIME: Time = 1_000_000_000;

/// Non-blank lines with their 1-based line numbers.
fn content_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .filter(|(_, l)| !l.trim().is_empty())
}

fn read_header<'a>(
    lines: &mut impl Iterator<Item = (usize, &'a str)>,
) -> Result<(Cursor<'a>, usize, usize), ParseError> {
    let (no, text) = lines.next().ok_or(ParseError::Empty)?;
    let mut cur = Cursor::new(no, text);
    let jobs = cur.next_count("the number of jobs (at most 1000000)", MAX_JOBS)?;
    let machines = cur.next_count("the number of machines (at most 100000)", MAX_MACHINES)?;
    if machines == 0 {
        return Err(ParseError::Unexpected {
            line: no,
            token: 2,
            expected: "the number of machines (>= 1)",
            got: "0".into(),
        });
    }
    Ok((cur, jobs, machines))
}

fn check_no_extra<'a>(lines: &mut impl Iterator<Item = (usize, &'a str)>, jobs: usize) -> Result<(), ParseError> {
    match lines.next() {
        Some((line, _)) => Err(ParseError::ExtraLine { line, jobs }),
        None => Ok(()),
    }
}

/// Parses a job shop instance in the Taillard/OR-Library standard layout.
pub fn parse_jssp(text: &str) -> Result<Problem, ParseError> {
    let mut lines = content_lines(text);
    let (mut header, n_jobs, machines) = read_header(&mut lines)?;
    header.at_end()?;
    let mut jobs = Vec::with_capacity(n_jobs);
    for j in 0..n_jobs {
        let Some((no, text)) = lines.next() else {
            return Err(ParseError::MissingJobs {
                expected: n_jobs,
                got: j,
            });
        };
        let mut cur = Cursor::new(no, text);
        let mut ops = Vec::new();
        // A job line is a list of pairs; we stop at the end of the line, so a
        // dangling machine without its time is reported by `next_duration`.
        while !cur.is_exhausted() {
            let machine = cur.next_machine(0, machines)?;
            let duration = cur.next_duration()?;
            ops.push(Operation {
                alternatives: vec![Alternative { machine, duration }],
                family: 0,
            });
        }
        jobs.push(Job::new(ops));
    }
    check_no_extra(&mut lines, n_jobs)?;
    Ok(Problem {
        name: String::new(),
        machines,
        jobs,
        setups: None,
        machine_ready: Vec::new(),
        initial_family: Vec::new(),
        pinned: Vec::new(),
    })
}

/// Parses a flexible job shop instance in the Brandimarte layout.
pub fn parse_fjsp(text: &str) -> Result<Problem, ParseError> {
    let mut lines = content_lines(text);
    let (mut header, n_jobs, machines) = read_header(&mut lines)?;
    // The third header field (average alternatives) is informative only and
    // may be fractional, so it is skipped rather than parsed as an integer.
    let _ = header.tokens.next();
    header.token += 1;
    header.at_end()?;
    let mut jobs = Vec::with_capacity(n_jobs);
    for j in 0..n_jobs {
        let Some((no, text)) = lines.next() else {
            return Err(ParseError::MissingJobs {
                expected: n_jobs,
                got: j,
            });
        };
        let mut cur = Cursor::new(no, text);
        let n_ops = cur.next_count("the number of operations (at most 100000)", MAX_OPS_PER_JOB)?;
        let mut ops = Vec::with_capacity(n_ops);
        for _ in 0..n_ops {
            let token = cur.token + 1;
            let k = cur.next_count(
                "the number of eligible machines (at most the number of machines)",
                machines,
            )?;
            if k == 0 {
                return Err(ParseError::Unexpected {
                    line: no,
                    token,
                    expected: "the number of eligible machines (>= 1)",
                    got: "0".into(),
                });
            }
            let mut alternatives = Vec::with_capacity(k);
            for _ in 0..k {
                let machine = cur.next_machine(1, machines)?;
                let duration = cur.next_duration()?;
                alternatives.push(Alternative { machine, duration });
            }
            ops.push(Operation {
                alternatives,
                family: 0,
            });
        }
        cur.at_end()?;
        jobs.push(Job::new(ops));
    }
    check_no_extra(&mut lines, n_jobs)?;
    Ok(Problem {
        name: String::new(),
        machines,
        jobs,
        setups: None,
        machine_ready: Vec::new(),
        initial_family: Vec::new(),
        pinned: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ft06_shape() {
        let p = parse_jssp("2 3\n0 1 1 2 2 3\n2 4 1 5 0 6\n").unwrap();
        assert_eq!(p.machines, 3);
        assert_eq!(p.jobs.len(), 2);
        assert_eq!(
            p.jobs[1].operations[0].alternatives,
            vec![Alternative {
                machine: 2,
                duration: 4
            }]
        );
    }

    #[test]
    fn jssp_bad_machine_token_names_line_and_token() {
        let err = parse_jssp("2 3\n0 1 1 2 2 3\n0 4 x 5 2 6\n").unwrap_err();
        assert_eq!(err.to_string(), "line 3, token 3: expected a machine number, got 'x'");
    }

    #[test]
    fn jssp_machine_out_of_range() {
        let err = parse_jssp("1 3\n0 1 3 2\n").unwrap_err();
        assert_eq!(err.to_string(), "line 2, token 3: machine 3 out of range 0..=2");
    }

    #[test]
    fn jssp_dangling_machine_without_time() {
        let err = parse_jssp("1 3\n0 1 1\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 2: expected a processing time from 0 to 1e9 as token 4, got end of line"
        );
    }

    #[test]
    fn jssp_negative_time_and_missing_jobs_and_header() {
        let err = parse_jssp("1 2\n0 -4 1 2\n").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("line 2, token 2: expected a processing time")
        );
        let err = parse_jssp("3 2\n0 4 1 2\n").unwrap_err();
        assert_eq!(err, ParseError::MissingJobs { expected: 3, got: 1 });
        assert_eq!(parse_jssp("\n \n").unwrap_err(), ParseError::Empty);
        let err = parse_jssp("2 two\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 1, token 2: expected the number of machines (at most 100000), got 'two'"
        );
        let err = parse_jssp("1 2\n0 4 1 2\n0 1\n").unwrap_err();
        assert_eq!(err, ParseError::ExtraLine { line: 3, jobs: 1 });
    }

    #[test]
    fn reads_fjsp_one_based_machines() {
        let p = parse_fjsp("1 2 1.5\n2 2 1 3 2 4 1 2 7\n").unwrap();
        let ops = &p.jobs[0].operations;
        assert_eq!(ops.len(), 2);
        assert_eq!(ops[0].duration_on(0), Some(3));
        assert_eq!(ops[0].duration_on(1), Some(4));
        assert_eq!(ops[1].alternatives.len(), 1);
        assert_eq!(ops[1].duration_on(1), Some(7));
    }

    #[test]
    fn fjsp_errors() {
        let err = parse_fjsp("1 2 1\n2 1 0 3 1 2 7\n").unwrap_err();
        assert_eq!(err.to_string(), "line 2, token 3: machine 0 out of range 1..=2");
        let err = parse_fjsp("1 2 1\n2 1 1 3\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 2: expected the number of eligible machines (at most the number of machines) as token 5, got end of line"
        );
        let err = parse_fjsp("1 2 1\n1 1 1 3 9\n").unwrap_err();
        assert_eq!(err.to_string(), "line 2, token 5: unexpected trailing token '9'");
        let err = parse_fjsp("1 2 1\n1 0\n").unwrap_err();
        assert!(err.to_string().contains("eligible machines (>= 1)"));
        let err = parse_fjsp("1 2 1\n1 1 1 q\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 2, token 4: expected a processing time from 0 to 1e9, got 'q'"
        );
    }
}
