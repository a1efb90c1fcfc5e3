//! Dispatching rules: which waiting job goes first. One definition of each rule, used by the
//! twin's rule policy (`sim::dispatch::RulePolicy`, per station, from the plant file's
//! `dispatch = { rule = .. }`) and by the APS's Giffler–Thompson construction where a rule
//! means the same thing there (SPT, LPT, MWKR, LWKR, EDD). Definitions and sources:
//! `docs/dispatching.md`.
//!
//! A rule maps what is known of one candidate ([`Facts`]) and of the decision ([`Context`]) to
//! a key; the candidate with the **smallest key** goes first, ties in arrival order (so FIFO is
//! the key 0 for everyone).

/// A dispatching rule and its parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Rule {
    /// First in, first out (arrival order in the queue).
    Fifo,
    /// Shortest (expected) processing time of this operation.
    Spt,
    /// Longest processing time.
    Lpt,
    /// Earliest due date of the order.
    Edd,
    /// Earliest operation due date (release + allowance shared out in proportion to work).
    Odd,
    /// Smallest critical ratio (time to due date / remaining work).
    Cr,
    /// Least slack (due − now − remaining work).
    Slack,
    /// Least slack per remaining operation.
    SlackPerOp,
    /// Most work remaining, this operation included.
    Mwkr,
    /// Least work remaining, this operation included.
    Lwkr,
    /// Least work in the queue of the job's next operation.
    Winq,
    /// Apparent tardiness cost with look-ahead `k` (Vepsalainen & Morton 1987).
    Atc {
        /// Look-ahead parameter (> 0).
        k: f64,
    },
    /// Apparent tardiness cost with setups (Lee, Bhaskaran & Pinedo 1997).
    Atcs {
        /// Due-date look-ahead (> 0).
        k1: f64,
        /// Setup scaling (> 0).
        k2: f64,
    },
    /// A job of the family the server is set up for first, otherwise arrival order.
    SameFamily,
}

/// A rule's name in files and on the command line, and the parameters it takes.
pub const RULES: [(&str, &[&str]); 14] = [
    ("fifo", &[]),
    ("spt", &[]),
    ("lpt", &[]),
    ("edd", &[]),
    ("odd", &[]),
    ("cr", &[]),
    ("slack", &[]),
    ("s/opn", &[]),
    ("mwkr", &[]),
    ("lwkr", &[]),
    ("winq", &[]),
    ("atc", &["k"]),
    ("atcs", &["k1", "k2"]),
    ("same_family", &[]),
];

/// Default look-ahead of ATC (Vepsalainen & Morton report k ≈ 2 as robust).
pub const ATC_K: f64 = 2.0;
/// Default k1 of ATCS.
pub const ATCS_K1: f64 = 2.0;
/// Default k2 of ATCS.
pub const ATCS_K2: f64 = 0.5;

/// Why a rule cannot be built from a name and parameters.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum RuleError {
    /// No rule has this name.
    #[error("unknown dispatching rule '{0}'")]
    Unknown(String),
    /// The rule takes no parameter of this name.
    #[error("rule '{rule}' has no parameter '{param}' ({})", takes(rule))]
    UnknownParam { rule: String, param: String },
    /// A parameter is not a positive finite number.
    #[error("rule '{rule}': {param} must be a number > 0, got {value}")]
    BadParam { rule: String, param: String, value: f64 },
}

/// What the parameters of rule `name` are, in words.
fn takes(name: &str) -> String {
    match RULES.iter().find(|(n, _)| *n == name) {
        Some((_, [])) | None => "it takes none".into(),
        Some((_, ps)) => format!("it takes {}", ps.join(", ")),
    }
}

/// Why a rule in a file (a TOML value) is not a rule.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum RuleValueError {
    /// No rule has this name.
    #[error("unknown dispatching rule '{0}'")]
    Unknown(String),
    /// Neither a name nor a table with `rule` and numeric parameters.
    #[error("{0}")]
    Shape(String),
    /// A parameter is wrong.
    #[error(transparent)]
    Rule(RuleError),
}

/// Reads a rule from a file: `"edd"` or `{ rule = "atcs", k1 = 2, k2 = 0.5 }`.
pub fn rule_from_value(v: &toml::Value) -> Result<Rule, RuleValueError> {
    let (name, params) = match v {
        toml::Value::String(s) => (s.as_str(), Vec::new()),
        toml::Value::Table(t) => {
            let Some(name) = t.get("rule") else {
                return Err(RuleValueError::Shape(
                    "a dispatch table needs `rule = \"<name>\"`".into(),
                ));
            };
            let Some(name) = name.as_str() else {
                return Err(RuleValueError::Shape("`rule` must be a string".into()));
            };
            let mut params = Vec::new();
            for (k, x) in t.iter().filter(|(k, _)| *k != "rule") {
                let x = match x {
                    toml::Value::Float(f) => *f,
                    toml::Value::Integer(i) => *i as f64,
                    _ => return Err(RuleValueError::Shape(format!("parameter {k} must be a number"))),
                };
                params.push((k.as_str(), x));
            }
            (name, params)
        }
        _ => {
            return Err(RuleValueError::Shape(
                "dispatch must be a rule name or a table like { rule = \"atc\", k = 2 }".into(),
            ));
        }
    };
    Rule::from_parts(name, &params).map_err(|e| match e {
        RuleError::Unknown(n) => RuleValueError::Unknown(n),
        e => RuleValueError::Rule(e),
    })
}

impl Rule {
    /// Reads a rule from the command line: a name (`atc`) or its label form
    /// (`atcs(k1=2,k2=0.5)`, as [`Rule::label`] writes it).
    pub fn parse(text: &str) -> Result<Rule, RuleError> {
        let text = text.trim();
        let Some((name, rest)) = text.split_once('(') else {
            return Rule::from_parts(text, &[]);
        };
        let inner = rest.strip_suffix(')').unwrap_or(rest);
        let mut params = Vec::new();
        for kv in inner.split(',').filter(|s| !s.trim().is_empty()) {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            let v = v.trim().parse::<f64>().unwrap_or(f64::NAN);
            params.push((k.trim(), v));
        }
        Rule::from_parts(name.trim(), &params)
    }

    /// Builds the rule `name` with `params` (missing ones take their defaults).
    pub fn from_parts(name: &str, params: &[(&str, f64)]) -> Result<Rule, RuleError> {
        let Some((_, allowed)) = RULES.iter().find(|(n, _)| *n == name) else {
            return Err(RuleError::Unknown(name.to_string()));
        };
        let get = |p: &str, default: f64| -> Result<f64, RuleError> {
            match params.iter().find(|(n, _)| *n == p) {
                None => Ok(default),
                Some((_, v)) if v.is_finite() && *v > 0.0 => Ok(*v),
                Some((_, v)) => Err(RuleError::BadParam {
                    rule: name.into(),
                    param: p.into(),
                    value: *v,
                }),
            }
        };
        for (p, _) in params {
            if !allowed.contains(p) {
                return Err(RuleError::UnknownParam {
                    rule: name.into(),
                    param: (*p).into(),
                });
            }
        }
        Ok(match name {
            "fifo" => Rule::Fifo,
            "spt" => Rule::Spt,
            "lpt" => Rule::Lpt,
            "edd" => Rule::Edd,
            "odd" => Rule::Odd,
            "cr" => Rule::Cr,
            "slack" => Rule::Slack,
            "s/opn" => Rule::SlackPerOp,
            "mwkr" => Rule::Mwkr,
            "lwkr" => Rule::Lwkr,
            "winq" => Rule::Winq,
            "atc" => Rule::Atc { k: get("k", ATC_K)? },
            "atcs" => Rule::Atcs {
                k1: get("k1", ATCS_K1)?,
                k2: get("k2", ATCS_K2)?,
            },
            "same_family" => Rule::SameFamily,
            _ => unreachable!("every name in RULES is matched"),
        })
    }

    /// The rule's name (as in files).
    pub fn name(&self) -> &'static str {
        match self {
            Rule::Fifo => "fifo",
            Rule::Spt => "spt",
            Rule::Lpt => "lpt",
            Rule::Edd => "edd",
            Rule::Odd => "odd",
            Rule::Cr => "cr",
            Rule::Slack => "slack",
            Rule::SlackPerOp => "s/opn",
            Rule::Mwkr => "mwkr",
            Rule::Lwkr => "lwkr",
            Rule::Winq => "winq",
            Rule::Atc { .. } => "atc",
            Rule::Atcs { .. } => "atcs",
            Rule::SameFamily => "same_family",
        }
    }

    /// The rule with its parameters, as a label (`atcs(k1=2,k2=0.5)`).
    pub fn label(&self) -> String {
        match self {
            Rule::Atc { k } => format!("atc(k={k})"),
            Rule::Atcs { k1, k2 } => format!("atcs(k1={k1},k2={k2})"),
            r => r.name().to_string(),
        }
    }

    /// Whether the rule needs the mean processing time and setup over the candidates.
    pub fn needs_means(&self) -> bool {
        matches!(self, Rule::Atc { .. } | Rule::Atcs { .. })
    }

    /// The candidate's key under this rule: the smallest goes first (ties: arrival order).
    /// Jobs without a due date sort after every job with one under the due-date rules
    /// (key [`NO_DUE`]), and have no tardiness cost under ATC/ATCS (key 0, after every job
    /// with a positive cost).
    pub fn key(&self, f: &Facts, c: &Context) -> f64 {
        let p = f.op_time_s.max(TINY);
        match *self {
            Rule::Fifo => 0.0,
            Rule::Spt => f.op_time_s,
            Rule::Lpt => -f.op_time_s,
            Rule::Edd => f.due_s.unwrap_or(NO_DUE),
            Rule::Odd => f.op_due_s.unwrap_or(NO_DUE),
            Rule::Cr => f.due_s.map_or(NO_DUE, |d| (d - c.now) / f.remaining_work_s.max(TINY)),
            Rule::Slack => f.due_s.map_or(NO_DUE, |d| d - c.now - f.remaining_work_s),
            Rule::SlackPerOp => f.due_s.map_or(NO_DUE, |d| {
                (d - c.now - f.remaining_work_s) / f64::from(f.remaining_ops.max(1))
            }),
            Rule::Mwkr => -f.remaining_work_s,
            Rule::Lwkr => f.remaining_work_s,
            Rule::Winq => f.next_queue_work_s,
            Rule::Atc { k } => -atc_index(f, c, p, k),
            Rule::Atcs { k1, k2 } => {
                let setup = if c.mean_setup_s > 0.0 {
                    (-f.setup_s / (k2 * c.mean_setup_s)).exp()
                } else {
                    1.0
                };
                -atc_index(f, c, p, k1) * setup
            }
            Rule::SameFamily => {
                if f.same_family {
                    0.0
                } else {
                    1.0
                }
            }
        }
    }

    /// Index (into `cands`) of the candidate that goes first under this rule: the smallest
    /// key, the earliest on ties. `facts` gives each candidate's facts; `now` is the time.
    pub fn pick<T>(&self, now: f64, cands: &[T], facts: impl Fn(&T) -> &Facts) -> usize {
        if matches!(self, Rule::Fifo) || cands.len() < 2 {
            return 0;
        }
        let ctx = Context::over(now, cands.iter().map(&facts), self.needs_means());
        let mut best = 0;
        let mut best_key = f64::INFINITY;
        for (i, c) in cands.iter().enumerate() {
            let key = self.key(facts(c), &ctx);
            // NaN never wins; the first of equal keys stays.
            if key < best_key {
                best_key = key;
                best = i;
            }
        }
        best
    }
}

/// ATC's index `w/p · exp(−max(d − R − t, 0) / (k p̄))`; 0 without a due date. R is the
/// expected work left, this operation included: the job-shop form of Vepsalainen & Morton
/// (1987) with no waiting allowance, which is Pinedo's `d − p − t` on one machine (R = p).
fn atc_index(f: &Facts, c: &Context, p: f64, k: f64) -> f64 {
    let Some(d) = f.due_s else { return 0.0 };
    let slack = (d - f.remaining_work_s.max(p) - c.now).max(0.0);
    let pbar = c.mean_op_s.max(TINY);
    f.weight / p * (-slack / (k * pbar)).exp()
}

/// The key of a job without a due date under the due-date rules (after all real ones).
pub const NO_DUE: f64 = f64::MAX / 4.0;
const TINY: f64 = 1e-9;

/// What a rule knows of one candidate. Times are expected values [s]: the mean of each
/// operation's distribution scaled by the station's speed.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Facts {
    /// This operation's expected time at the deciding station.
    pub op_time_s: f64,
    /// The expected setup before it on the deciding server (0 if none or no server yet).
    pub setup_s: f64,
    /// Expected work left, this operation included.
    pub remaining_work_s: f64,
    /// Operations left, this one included.
    pub remaining_ops: u32,
    /// The order's due date, if it has one.
    pub due_s: Option<f64>,
    /// This operation's due date (ODD), if the order has a due date.
    pub op_due_s: Option<f64>,
    /// The order's weight (priority; 1 without an order).
    pub weight: f64,
    /// Expected work waiting in the queue of the next operation (the least over its
    /// alternatives; 0 after the last operation).
    pub next_queue_work_s: f64,
    /// The deciding server is set up for this job's family.
    pub same_family: bool,
}

/// What a rule knows of the decision as a whole.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Context {
    /// The time of the decision [s].
    pub now: f64,
    /// p̄: the mean expected processing time over the candidates [s] (ATC, ATCS).
    pub mean_op_s: f64,
    /// s̄: the mean expected setup over the candidates [s] (ATCS).
    pub mean_setup_s: f64,
}

impl Context {
    /// The context at `now` over `facts` (the means only when `means`).
    pub fn over<'a>(now: f64, facts: impl Iterator<Item = &'a Facts>, means: bool) -> Context {
        let mut c = Context {
            now,
            mean_op_s: 0.0,
            mean_setup_s: 0.0,
        };
        if means {
            let (mut n, mut p, mut s) = (0usize, 0.0, 0.0);
            for f in facts {
                n += 1;
                p += f.op_time_s;
                s += f.setup_s;
            }
            if n > 0 {
                c.mean_op_s = p / n as f64;
                c.mean_setup_s = s / n as f64;
            }
        }
        c
    }
}

/// An operation's due date under ODD: the order's release plus its allowance (due − release)
/// shared out over its operations in proportion to their expected work, so the operation's due
/// date is `release + (due − release) · (work up to and including it) / (total work)`.
pub fn operation_due(release: f64, due: f64, work_through: f64, total_work: f64) -> f64 {
    if total_work <= 0.0 {
        return due;
    }
    release + (due - release) * (work_through / total_work).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(op: f64, rem: f64, due: Option<f64>, w: f64) -> Facts {
        Facts {
            op_time_s: op,
            remaining_work_s: rem,
            remaining_ops: 2,
            due_s: due,
            weight: w,
            ..Facts::default()
        }
    }

    #[test]
    fn names_round_trip_and_parameters_are_checked() {
        for (name, _) in RULES {
            assert_eq!(Rule::from_parts(name, &[]).unwrap().name(), name);
        }
        assert_eq!(
            Rule::from_parts("atcs", &[("k1", 3.0)]).unwrap(),
            Rule::Atcs { k1: 3.0, k2: ATCS_K2 }
        );
        assert!(matches!(
            Rule::from_parts("atc", &[("k", 0.0)]),
            Err(RuleError::BadParam { .. })
        ));
        assert!(matches!(
            Rule::from_parts("atc", &[("k", f64::NAN)]),
            Err(RuleError::BadParam { .. })
        ));
        assert!(matches!(
            Rule::from_parts("spt", &[("k", 1.0)]),
            Err(RuleError::UnknownParam { .. })
        ));
        assert!(matches!(Rule::from_parts("ats", &[]), Err(RuleError::Unknown(_))));
        for r in [Rule::Atc { k: 3.5 }, Rule::Atcs { k1: 1.0, k2: 0.25 }, Rule::SlackPerOp] {
            assert_eq!(Rule::parse(&r.label()), Ok(r));
        }
        assert!(matches!(Rule::parse("atc(k=x)"), Err(RuleError::BadParam { .. })));
        let table: toml::Value = toml::from_str::<toml::Table>("d = { rule = \"atc\", k = 3 }").unwrap()["d"].clone();
        assert_eq!(rule_from_value(&table), Ok(Rule::Atc { k: 3.0 }));
        assert!(matches!(
            rule_from_value(&toml::Value::Integer(1)),
            Err(RuleValueError::Shape(_))
        ));
    }

    #[test]
    fn each_rule_picks_by_its_definition() {
        // a: short, late due, much work left; b: long, early due, little work left.
        let a = f(1.0, 10.0, Some(100.0), 1.0);
        let b = f(5.0, 6.0, Some(20.0), 1.0);
        let pick = |r: Rule| r.pick(0.0, &[a, b], |x| x);
        assert_eq!(pick(Rule::Fifo), 0);
        assert_eq!(pick(Rule::Spt), 0);
        assert_eq!(pick(Rule::Lpt), 1);
        assert_eq!(pick(Rule::Edd), 1);
        assert_eq!(pick(Rule::Mwkr), 0);
        assert_eq!(pick(Rule::Lwkr), 1);
        assert_eq!(pick(Rule::Slack), 1); // 14 vs 90
        assert_eq!(pick(Rule::Cr), 1); // 20/6 vs 100/10
        // ATC with both far from due: the weighted SPT part decides (w/p 1 vs 0.2) unless
        // the exponential discounts a strongly: slack_a = 99, slack_b = 15, p̄ = 3.
        // index_a = 1·e^(−99/6) ≈ 6.8e−8, index_b = 0.2·e^(−15/6) ≈ 0.016 → b.
        assert_eq!(pick(Rule::Atc { k: 2.0 }), 1);
        // With a huge look-ahead, ATC becomes WSPT: a.
        assert_eq!(pick(Rule::Atc { k: 1e9 }), 0);
        // Without a due date under EDD: last; under ATC: no cost.
        let c = f(1.0, 1.0, None, 3.0);
        assert_eq!(Rule::Edd.pick(0.0, &[c, b], |x| x), 1);
        assert_eq!(Rule::Atc { k: 2.0 }.pick(0.0, &[c, b], |x| x), 1);
    }

    #[test]
    fn atcs_discounts_setups_by_their_mean() {
        let mut a = f(2.0, 2.0, Some(2.0), 1.0);
        let mut b = a;
        a.setup_s = 10.0;
        b.setup_s = 0.0;
        b.op_time_s = 3.0;
        // Without setups b loses (w/p smaller); with a's setup of 2·s̄ it wins.
        assert_eq!(Rule::Atc { k: 2.0 }.pick(0.0, &[a, b], |x| x), 0);
        assert_eq!(Rule::Atcs { k1: 2.0, k2: 0.5 }.pick(0.0, &[a, b], |x| x), 1);
    }

    #[test]
    fn odd_shares_the_allowance_in_proportion_to_work() {
        assert_eq!(operation_due(10.0, 110.0, 25.0, 100.0), 35.0);
        assert_eq!(operation_due(10.0, 110.0, 100.0, 100.0), 110.0);
        assert_eq!(operation_due(10.0, 110.0, 0.0, 0.0), 110.0);
    }
}
