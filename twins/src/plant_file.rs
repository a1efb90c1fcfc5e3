//! Reading plant files (TOML) into a validated [`PlantModel`].
//!
//! Parsing keeps the span of every name and value that validation may need to point at, so that
//! every error names file, line, column and key, and unknown names come with the nearest valid
//! one. Validation does not stop at the first problem: all are reported at once.
//!
//! The format is documented in `docs/plant-file.md`; `scenarios/samples/*.toml` are examples.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;
use toml::{Spanned, Value};
use twinworks_engine::{Distribution, SimTime, check_duration};

use crate::clock::{CalendarStart, DAY_NAMES, ShiftCalendar, parse_instant, parse_time_of_day};
use crate::diagnostic::{LoadError, Reporter, read_text};
use crate::dist_spec::{Quantity, parse_distribution};
use crate::limits::*;
use crate::orders_csv::read_orders_csv;
use crate::plant::*;
use crate::rules::{RULES, Rule, RuleValueError, rule_from_value};

mod model;
mod reschedule;

use model::RawModel;

use reschedule::RawReschedule;
pub use reschedule::reschedule_key_span;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlant {
    plant: Option<RawHeader>,
    run: Option<RawRun>,
    #[serde(default)]
    station: Vec<RawStation>,
    #[serde(default)]
    buffer: Vec<RawBuffer>,
    #[serde(default)]
    source: Vec<RawSource>,
    #[serde(default)]
    sink: Vec<RawSink>,
    #[serde(default)]
    product: Vec<RawProduct>,
    #[serde(default)]
    shift_calendar: Vec<RawShiftCalendar>,
    #[serde(default)]
    order: Vec<RawOrder>,
    orders_csv: Option<Spanned<String>>,
    #[serde(default)]
    event: Vec<RawEvent>,
    reschedule: Option<RawReschedule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEvent {
    at: Spanned<Value>,
    kind: Spanned<String>,
    station: Spanned<String>,
    duration: Option<Spanned<Value>>,
    shift: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeader {
    name: Option<String>,
    start: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRun {
    horizon: Option<Spanned<Value>>,
    horizon_parts: Option<Spanned<i64>>,
    warmup: Option<Spanned<Value>>,
    warmup_parts: Option<Spanned<i64>>,
    replications: Option<Spanned<i64>>,
    seed: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStation {
    name: Spanned<String>,
    capacity: Option<Spanned<i64>>,
    input: Option<Spanned<String>>,
    process_time: Option<Spanned<Value>>,
    process_times: Option<Spanned<toml::Table>>,
    scrap: Option<Spanned<f64>>,
    setup: Option<RawSetup>,
    failures: Option<RawFailures>,
    energy_kw: Option<RawEnergy>,
    shift: Option<Spanned<String>>,
    dispatch: Option<Spanned<Value>>,
    model: Option<RawModel>,
    x: Option<f64>,
    y: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSetup {
    default: Option<Spanned<Value>>,
    initial: Option<Spanned<Value>>,
    #[serde(default)]
    matrix: Vec<RawSetupEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSetupEntry {
    from: Spanned<String>,
    to: Spanned<String>,
    time: Spanned<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFailures {
    basis: Option<Spanned<String>>,
    mtbf: Option<Spanned<Value>>,
    ops_between: Option<Spanned<Value>>,
    mttr: Spanned<Value>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawEnergy {
    #[serde(default)]
    busy: f64,
    #[serde(default)]
    setup: f64,
    #[serde(default)]
    idle: f64,
    #[serde(default)]
    blocked: f64,
    #[serde(default)]
    down: f64,
    #[serde(default)]
    off_shift: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBuffer {
    name: Spanned<String>,
    capacity: Option<Spanned<i64>>,
    x: Option<f64>,
    y: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    name: Spanned<String>,
    kind: Option<Spanned<String>>,
    product: Option<Spanned<String>>,
    #[serde(default)]
    mix: Vec<RawMix>,
    interarrival: Option<Spanned<Value>>,
    limit: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMix {
    product: Spanned<String>,
    weight: Spanned<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSink {
    name: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProduct {
    name: Spanned<String>,
    family: Option<String>,
    routing: Spanned<Vec<RawStep>>,
    sink: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    station: Spanned<Value>,
    time: Option<Spanned<Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawShiftCalendar {
    name: Spanned<String>,
    days: Option<Vec<Spanned<String>>>,
    shifts: Vec<RawShift>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawShift {
    start: Spanned<String>,
    end: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOrder {
    pub(crate) id: Spanned<String>,
    pub(crate) product: Spanned<String>,
    pub(crate) quantity: Spanned<i64>,
    pub(crate) release: Option<Spanned<Value>>,
    pub(crate) due: Option<Spanned<Value>>,
    pub(crate) priority: Option<Spanned<i64>>,
}

/// Reads and validates the plant file at `path` (and the orders CSV it names, if any).
pub fn load_plant(path: &Path) -> Result<PlantModel, LoadError> {
    let text = read_text(path)?;
    parse_plant(&text, path)
}

fn display_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn as_str(v: &Value) -> Option<&str> {
    v.as_str()
}

/// Parses the text of a plant file (`path` is used in messages and to find a named orders CSV).
pub fn parse_plant(text: &str, path: &Path) -> Result<PlantModel, LoadError> {
    let mut r = Reporter::new(path, text);
    let raw: RawPlant = match toml::from_str(text) {
        Ok(raw) => raw,
        Err(e) => {
            r.toml_error(&e);
            return Err(r.into_error());
        }
    };
    let mut v = Validator {
        r,
        names: HashMap::new(),
    };
    let model = v.build(raw, path);
    v.r.finish(())
        .map(|_| model.expect("a model is built whenever no error was reported"))
}

/// Every element's name by kind, for resolving references in any order.
struct Names {
    stations: Vec<String>,
    buffers: Vec<String>,
    products: Vec<String>,
    sinks: Vec<String>,
    calendars: Vec<String>,
    /// Product families in order of first appearance.
    families: Vec<String>,
    /// Each product's family.
    family_of: Vec<usize>,
}

struct Validator {
    r: Reporter,
    /// Every defined name, to refuse duplicates across kinds (names key random streams).
    names: HashMap<String, &'static str>,
}

impl Validator {
    fn unique(&mut self, name: &Spanned<String>, kind: &'static str) {
        if name.get_ref().trim().is_empty() {
            self.r.error(name.span(), format!("{kind} name must not be empty"));
        } else if let Some(prev) = self.names.insert(name.get_ref().clone(), kind) {
            self.r.error(
                name.span(),
                format!("duplicate name '{}': already used by a {prev}", name.get_ref()),
            );
        }
    }

    fn dist(&mut self, v: &Spanned<Value>, q: Quantity, ctx: &str) -> Option<Distribution> {
        match parse_distribution(v.get_ref(), q) {
            Ok(d) => Some(d),
            Err(e) => {
                self.r.error(v.span(), format!("{ctx}: {e}"));
                None
            }
        }
    }

    fn instant(&mut self, v: &Spanned<Value>, start: Option<&CalendarStart>, ctx: &str) -> Option<SimTime> {
        let res = match v.get_ref() {
            Value::String(s) => parse_instant(s, start),
            Value::Integer(i) => check_duration(*i as f64, &i.to_string()).map_err(|e| e.to_string()),
            Value::Float(f) => check_duration(*f, &f.to_string()).map_err(|e| e.to_string()),
            other => Err(format!(
                "expected a time such as \"36h\" or a date, got {}",
                other.type_str()
            )),
        };
        match res {
            Ok(t) => Some(t),
            Err(e) => {
                self.r.error(v.span(), format!("{ctx}: {e}"));
                None
            }
        }
    }

    /// Refuses a parts horizon that no run can reach: every source is limited and, with the
    /// orders, they cannot create that many parts.
    fn reachable(&mut self, run: &RunSettings, raw: Option<&RawRun>, sources: &[Source], orders: &[Order]) {
        let Horizon::Parts(n) = run.horizon else { return };
        let mut most: u64 = orders.iter().map(|o| u64::from(o.quantity)).sum();
        for s in sources {
            match &s.kind {
                SourceKind::Arrivals { limit: Some(l), .. } => most = most.saturating_add(*l),
                _ => return,
            }
        }
        if most < n {
            let span = raw
                .and_then(|r| r.horizon_parts.as_ref())
                .map(|p| p.span())
                .unwrap_or_default();
            self.r.error_help(
                span,
                format!("[run] horizon_parts = {n} can never be reached: the sources' limits and the orders create at most {most} parts"),
                Some("lower horizon_parts, raise a source's `limit`, or give a time horizon".into()),
            );
        }
    }

    /// A drawing position (`x`, `y`): both finite when given.
    fn position(&mut self, x: Option<f64>, y: Option<f64>, name: &Spanned<String>, kind: &str) -> Option<(f64, f64)> {
        let p = x.zip(y)?;
        if !(p.0.is_finite() && p.1.is_finite()) {
            self.r.error(
                name.span(),
                format!(
                    "{kind} '{}': x and y must be finite numbers, got {} and {}",
                    name.get_ref(),
                    p.0,
                    p.1
                ),
            );
            return None;
        }
        Some(p)
    }

    /// A whole number in `min..=max` (a documented limit of [`crate::limits`]).
    fn count(&mut self, v: &Spanned<i64>, min: i64, max: u64, ctx: &str) -> Option<u64> {
        let n = *v.get_ref();
        if n < min {
            self.r.error(v.span(), format!("{ctx} must be >= {min}, got {n}"));
            return None;
        }
        if n as u64 > max {
            self.r
                .error(v.span(), format!("{ctx} must be <= {max} (the limit), got {n}"));
            return None;
        }
        Some(n as u64)
    }

    fn lookup(&mut self, name: &Spanned<String>, names: &[String], what: &str, ctx: &str) -> Option<usize> {
        let pos = names.iter().position(|n| n == name.get_ref());
        if pos.is_none() {
            self.r
                .unknown(name.span(), what, name.get_ref(), ctx, names.iter().map(String::as_str));
        }
        pos
    }

    fn build(&mut self, mut raw: RawPlant, path: &Path) -> Option<PlantModel> {
        let header = raw.plant.take().unwrap_or(RawHeader {
            name: None,
            start: None,
        });
        let start = header
            .start
            .as_ref()
            .and_then(|s| match CalendarStart::parse(s.get_ref()) {
                Ok(c) => Some(c),
                Err(e) => {
                    self.r.error(s.span(), format!("[plant] start: {e}"));
                    None
                }
            });
        let week_offset = start.as_ref().map_or(0.0, |s| s.week_offset_s);
        // Names first, so references can be resolved in any order.
        let mut names = self.names(&raw);
        let shift_calendars = self.shift_calendars(&raw, week_offset);
        let mut buffers = self.buffers(&raw);
        names.buffers = buffers.iter().map(|b| b.name.clone()).collect();
        let stations: Vec<Station> = raw
            .station
            .iter()
            .map(|s| self.station(s, &names, &mut buffers))
            .collect();
        let sinks = self.sinks(&raw, &mut names);
        let products = self.products(&raw, &names, &stations);
        let sources = self.sources(&raw, &names, &products, &stations);
        let orders = self.orders(&raw, &names, start.as_ref(), path);
        let disruptions = self.disruptions(&raw, &names, start.as_ref());
        let run = self.run(raw.run.as_ref());
        self.reachable(&run, raw.run.as_ref(), &sources, &orders);
        let reschedule = self.reschedule(raw.reschedule.as_ref(), &run);
        if self.r.has_errors() {
            return None;
        }
        Some(PlantModel {
            name: header.name.unwrap_or_else(|| {
                path.file_stem()
                    .map_or("plant".into(), |s| s.to_string_lossy().into_owned())
            }),
            start,
            run,
            stations,
            buffers,
            sources,
            sinks,
            products,
            families: names.families,
            shift_calendars,
            orders,
            disruptions,
            reschedule,
        })
    }

    /// Registers every element's name (refusing duplicates across kinds) and numbers the
    /// product families in order of first appearance (a product without one is its own family).
    fn names(&mut self, raw: &RawPlant) -> Names {
        for s in &raw.station {
            self.unique(&s.name, "station");
        }
        for b in &raw.buffer {
            self.unique(&b.name, "buffer");
        }
        for s in &raw.source {
            self.unique(&s.name, "source");
        }
        for s in &raw.sink {
            self.unique(&s.name, "sink");
        }
        for p in &raw.product {
            self.unique(&p.name, "product");
        }
        for c in &raw.shift_calendar {
            self.unique(&c.name, "shift calendar");
        }
        let mut families: Vec<String> = Vec::new();
        let mut family_of = Vec::new();
        for p in &raw.product {
            let f = p.family.clone().unwrap_or_else(|| p.name.get_ref().clone());
            let id = families.iter().position(|x| *x == f).unwrap_or_else(|| {
                families.push(f);
                families.len() - 1
            });
            family_of.push(id);
        }
        Names {
            stations: raw.station.iter().map(|s| s.name.get_ref().clone()).collect(),
            buffers: Vec::new(),
            products: raw.product.iter().map(|p| p.name.get_ref().clone()).collect(),
            sinks: raw.sink.iter().map(|s| s.name.get_ref().clone()).collect(),
            calendars: raw.shift_calendar.iter().map(|c| c.name.get_ref().clone()).collect(),
            families,
            family_of,
        }
    }

    /// `[[shift_calendar]]`: weekly shifts on the named days.
    fn shift_calendars(&mut self, raw: &RawPlant, week_offset: f64) -> Vec<ShiftCalendar> {
        let mut shift_calendars = Vec::new();
        for c in &raw.shift_calendar {
            let ctx = format!("shift calendar '{}'", c.name.get_ref());
            let days: Vec<u32> = match &c.days {
                None => (0..7).collect(),
                Some(ds) => ds
                    .iter()
                    .filter_map(|d| {
                        let lower = d.get_ref().to_lowercase();
                        let pos = DAY_NAMES.iter().position(|n| lower.starts_with(n));
                        if pos.is_none() {
                            self.r
                                .unknown(d.span(), "day", d.get_ref(), &format!("in {ctx}"), DAY_NAMES);
                        }
                        pos.map(|p| p as u32)
                    })
                    .collect(),
            };
            let mut shifts = Vec::new();
            for s in &c.shifts {
                let parse = |x: &Spanned<String>, r: &mut Reporter| match parse_time_of_day(x.get_ref()) {
                    Ok(t) => Some(t),
                    Err(e) => {
                        r.error(x.span(), format!("{ctx}: {e}"));
                        None
                    }
                };
                if let (Some(a), Some(b)) = (parse(&s.start, &mut self.r), parse(&s.end, &mut self.r)) {
                    shifts.push((a, b));
                }
            }
            shift_calendars.push(ShiftCalendar::new(c.name.get_ref(), &shifts, &days, week_offset));
        }
        shift_calendars
    }

    /// `[[buffer]]`: the declared buffers (stations add their implicit input queues later).
    fn buffers(&mut self, raw: &RawPlant) -> Vec<Buffer> {
        let mut buffers: Vec<Buffer> = Vec::new();
        for b in &raw.buffer {
            let capacity = b.capacity.as_ref().and_then(|c| {
                self.count(
                    c,
                    0,
                    MAX_BUFFER_CAPACITY,
                    &format!("buffer '{}': capacity", b.name.get_ref()),
                )
                .map(|n| n as u32)
            });
            buffers.push(Buffer {
                name: b.name.get_ref().clone(),
                capacity,
                declared: true,
                position: self.position(b.x, b.y, &b.name, "buffer"),
            });
        }
        buffers
    }

    /// One station; a station without `input` gets its own implicit queue in `buffers`.
    fn station(&mut self, s: &RawStation, n: &Names, buffers: &mut Vec<Buffer>) -> Station {
        let (buffer_names, product_names, families, calendar_names) =
            (&n.buffers, &n.products, &n.families, &n.calendars);
        let name = s.name.get_ref().clone();
        let ctx = format!("station '{name}'");
        let capacity = match &s.capacity {
            Some(c) => self.count(c, 1, MAX_SERVERS, &format!("{ctx}: capacity")).unwrap_or(1) as u32,
            None => 1,
        };
        let input = match &s.input {
            Some(b) => self
                .lookup(b, buffer_names, "buffer", &format!("as input of {ctx}"))
                .unwrap_or(0),
            None => {
                buffers.push(Buffer {
                    name: format!("{name}.queue"),
                    capacity: None,
                    declared: false,
                    position: None,
                });
                buffers.len() - 1
            }
        };
        let process_time = s
            .process_time
            .as_ref()
            .and_then(|d| self.dist(d, Quantity::Time, &format!("{ctx}: process_time")));
        let mut process_times = Vec::new();
        if let Some(pt) = &s.process_times {
            for (prod, d) in pt.get_ref() {
                let Some(pid) = product_names.iter().position(|p| p == prod) else {
                    self.r.unknown(
                        pt.span(),
                        "product",
                        prod,
                        &format!("in process_times of {ctx}"),
                        product_names.iter().map(String::as_str),
                    );
                    continue;
                };
                match parse_distribution(d, Quantity::Time) {
                    Ok(d) => process_times.push((pid, d)),
                    Err(e) => self.r.error(pt.span(), format!("{ctx}: process_times.{prod}: {e}")),
                }
            }
        }
        let scrap = match &s.scrap {
            Some(x) if !(0.0..1.0).contains(x.get_ref()) => {
                self.r.error(
                    x.span(),
                    format!("{ctx}: scrap must be a probability in [0, 1), got {}", x.get_ref()),
                );
                0.0
            }
            Some(x) => *x.get_ref(),
            None => 0.0,
        };
        let setups = s
            .setup
            .as_ref()
            .map(|su| self.setups(su, families, &ctx))
            .unwrap_or_default();
        let failures = s.failures.as_ref().and_then(|f| self.failures(f, &ctx));
        let energy_kw = s.energy_kw.as_ref().map(|e| EnergyKw {
            busy: e.busy,
            setup: e.setup,
            idle: e.idle,
            blocked: e.blocked,
            down: e.down,
            off_shift: e.off_shift,
        });
        if let Some(e) = &energy_kw {
            let all = [e.busy, e.setup, e.idle, e.blocked, e.down, e.off_shift];
            if all.iter().any(|x| !x.is_finite() || *x < 0.0) {
                self.r
                    .error(s.name.span(), format!("{ctx}: energy_kw values must be >= 0"));
            }
        }
        let shift = s
            .shift
            .as_ref()
            .and_then(|c| self.lookup(c, calendar_names, "shift calendar", &format!("for {ctx}")));
        Station {
            name,
            capacity,
            input,
            process_time,
            process_times,
            scrap,
            setups,
            failures,
            energy_kw: energy_kw.unwrap_or_default(),
            shift,
            position: self.position(s.x, s.y, &s.name, "station"),
            dispatch: s
                .dispatch
                .as_ref()
                .and_then(|d| self.rule(d, &ctx))
                .unwrap_or(Rule::Fifo),
            model: s.model.as_ref().and_then(|m| self.model(m, &ctx)),
        }
    }

    /// A dispatching rule: `"edd"` or `{ rule = "atcs", k1 = 2, k2 = 0.5 }`.
    fn rule(&mut self, d: &Spanned<Value>, ctx: &str) -> Option<Rule> {
        match rule_from_value(d.get_ref()) {
            Ok(r) => Some(r),
            Err(RuleValueError::Unknown(name)) => {
                self.r.unknown(
                    d.span(),
                    "dispatching rule",
                    &name,
                    &format!("in dispatch of {ctx}"),
                    RULES.iter().map(|(n, _)| *n),
                );
                None
            }
            Err(e) => {
                self.r.error(d.span(), format!("{ctx}: dispatch: {e}"));
                None
            }
        }
    }

    /// A station's setup times: default, initial and the family-to-family matrix.
    fn setups(&mut self, su: &RawSetup, families: &[String], ctx: &str) -> Setups {
        let mut setups = Setups {
            default: su
                .default
                .as_ref()
                .and_then(|d| self.dist(d, Quantity::Time, &format!("{ctx}: setup.default"))),
            initial: su
                .initial
                .as_ref()
                .and_then(|d| self.dist(d, Quantity::Time, &format!("{ctx}: setup.initial"))),
            ..Setups::default()
        };
        for m in &su.matrix {
            let f = self.lookup(
                &m.from,
                families,
                "product family",
                &format!("in setup matrix of {ctx}"),
            );
            let t = self.lookup(&m.to, families, "product family", &format!("in setup matrix of {ctx}"));
            let d = self.dist(&m.time, Quantity::Time, &format!("{ctx}: setup time"));
            if let (Some(f), Some(t), Some(d)) = (f, t, d) {
                setups.matrix.push((f, t, d));
            }
        }
        setups
    }

    /// `[[sink]]`: the declared sinks, or one implicit `exit`.
    fn sinks(&mut self, raw: &RawPlant, n: &mut Names) -> Vec<Sink> {
        let sink_names = &mut n.sinks;
        let mut sinks: Vec<Sink> = raw
            .sink
            .iter()
            .map(|s| Sink {
                name: s.name.get_ref().clone(),
            })
            .collect();
        if sinks.is_empty() {
            sinks.push(Sink { name: "exit".into() });
            sink_names.push("exit".into());
        }
        sinks
    }

    /// `[[product]]`: each product's routing of steps over alternative stations, and its sink.
    fn products(&mut self, raw: &RawPlant, n: &Names, stations: &[Station]) -> Vec<Product> {
        let (station_names, sink_names, family_of) = (&n.stations, &n.sinks, &n.family_of);
        let mut products = Vec::new();
        for (pi, p) in raw.product.iter().enumerate() {
            let pname = p.name.get_ref().clone();
            let mut routing = Vec::new();
            if p.routing.get_ref().is_empty() {
                self.r.error(
                    p.routing.span(),
                    format!("product '{pname}': routing needs at least one step"),
                );
            }
            for (si, step) in p.routing.get_ref().iter().enumerate() {
                let ctx = format!("in routing of product '{pname}' (step {})", si + 1);
                let names: Vec<(String, std::ops::Range<usize>)> = match step.station.get_ref() {
                    Value::String(s) => vec![(s.clone(), step.station.span())],
                    Value::Array(a) if !a.is_empty() && a.iter().all(|x| x.is_str()) => a
                        .iter()
                        .filter_map(as_str)
                        .map(|s| (s.to_string(), step.station.span()))
                        .collect(),
                    _ => {
                        self.r.error(
                            step.station.span(),
                            format!("{ctx}: station must be a name or a list of alternative names"),
                        );
                        continue;
                    }
                };
                let mut ids = Vec::new();
                for (n, span) in names {
                    match station_names.iter().position(|s| *s == n) {
                        Some(id) => ids.push(id),
                        None => self
                            .r
                            .unknown(span, "station", &n, &ctx, station_names.iter().map(String::as_str)),
                    }
                }
                let time = step
                    .time
                    .as_ref()
                    .and_then(|t| self.dist(t, Quantity::Time, &format!("product '{pname}' step {}: time", si + 1)));
                let built = Step { stations: ids, time };
                // Without a `time` in the step (a written but invalid one is reported above),
                // every alternative station must have one for the product.
                if step.time.is_none() {
                    for &id in &built.stations {
                        let st: &Station = &stations[id];
                        if built.time_on(st, pi).is_none() {
                            self.r.error_help(
                                step.station.span(),
                                format!("station '{}' has no process time for product '{pname}' (step {})", st.name, si + 1),
                                Some("give `time` in the routing step, or `process_time` / `process_times` at the station".into()),
                            );
                        }
                    }
                }
                routing.push(built);
            }
            let sink = match &p.sink {
                Some(s) => self
                    .lookup(s, sink_names, "sink", &format!("for product '{pname}'"))
                    .unwrap_or(0),
                None => 0,
            };
            products.push(Product {
                name: pname,
                family: family_of[pi],
                routing,
                sink,
            });
        }
        products
    }

    /// `[[source]]`: arrival sources (interarrival, product mix, limit) and infinite sources.
    fn sources(&mut self, raw: &RawPlant, n: &Names, products: &[Product], stations: &[Station]) -> Vec<Source> {
        let product_names = &n.products;
        let mut sources = Vec::new();
        for s in &raw.source {
            let ctx = format!("source '{}'", s.name.get_ref());
            let kind = s.kind.as_ref().map_or("arrivals", |k| k.get_ref().as_str());
            let product = s
                .product
                .as_ref()
                .and_then(|p| self.lookup(p, product_names, "product", &format!("in {ctx}")));
            match kind {
                "infinite" => {
                    let Some(product) = product else {
                        if s.product.is_none() {
                            self.r
                                .error(s.name.span(), format!("{ctx}: an infinite source needs `product`"));
                        }
                        continue;
                    };
                    // A zero first operation behind an infinite source creates parts endlessly
                    // at one instant.
                    if let Some(step) = products.get(product).and_then(|p| p.routing.first()) {
                        for &st in &step.stations {
                            let st = &stations[st];
                            if step.time_on(st, product).is_some_and(|d| d.mean() <= 0.0) {
                                self.r.error(
                                    s.name.span(),
                                    format!(
                                        "{ctx}: the first step's process time at station '{}' is zero: an infinite source would create parts without end at one instant",
                                        st.name
                                    ),
                                );
                            }
                        }
                    }
                    sources.push(Source {
                        name: s.name.get_ref().clone(),
                        kind: SourceKind::Infinite { product },
                    });
                }
                "arrivals" => {
                    let mut mix = Vec::new();
                    if let Some(p) = product {
                        mix.push((p, 1.0));
                    }
                    for m in &s.mix {
                        if *m.weight.get_ref() < 0.0 || !m.weight.get_ref().is_finite() {
                            self.r.error(m.weight.span(), format!("{ctx}: mix weight must be >= 0"));
                        }
                        if let Some(p) = self.lookup(&m.product, product_names, "product", &format!("in mix of {ctx}"))
                        {
                            mix.push((p, *m.weight.get_ref()));
                        }
                    }
                    if s.product.is_none() && s.mix.is_empty() {
                        self.r.error(s.name.span(), format!("{ctx}: give `product` or `mix`"));
                    }
                    let Some(ia) = &s.interarrival else {
                        self.r
                            .error(s.name.span(), format!("{ctx}: an arrival source needs `interarrival`"));
                        continue;
                    };
                    let interarrival = self.dist(ia, Quantity::Time, &format!("{ctx}: interarrival"));
                    // Any distribution whose mean is 0 (a constant 0, uniform 0..0, normal with
                    // mean 0 and sd 0) creates parts without end at one instant.
                    if interarrival.as_ref().is_some_and(|d| d.mean() <= 0.0) {
                        self.r
                            .error(ia.span(), format!("{ctx}: interarrival must have a mean > 0"));
                    }
                    let limit = s
                        .limit
                        .as_ref()
                        .and_then(|l| self.count(l, 1, MAX_PARTS, &format!("{ctx}: limit")));
                    if let Some(interarrival) = interarrival {
                        sources.push(Source {
                            name: s.name.get_ref().clone(),
                            kind: SourceKind::Arrivals {
                                interarrival,
                                mix,
                                limit,
                            },
                        });
                    }
                }
                other => {
                    let span = s.kind.as_ref().map(|k| k.span()).unwrap_or_default();
                    self.r.unknown(
                        span,
                        "source kind",
                        other,
                        &format!("in {ctx}"),
                        ["arrivals", "infinite"],
                    );
                }
            }
        }
        sources
    }

    /// `[[order]]` and the `orders_csv` file; order ids must be unique across both.
    fn orders(&mut self, raw: &RawPlant, n: &Names, start: Option<&CalendarStart>, path: &Path) -> Vec<Order> {
        let product_names = &n.products;
        let mut orders = Vec::new();
        for o in &raw.order {
            if let Some(o) = self.order(o, product_names, start) {
                orders.push(o);
            }
        }
        if let Some(csv) = &raw.orders_csv {
            let csv_path = path.parent().unwrap_or(Path::new(".")).join(csv.get_ref());
            match read_orders_csv(&csv_path, product_names, start) {
                Ok(mut more) => orders.append(&mut more),
                Err(LoadError::Io { message, .. }) => self.r.error(
                    csv.span(),
                    format!("orders_csv: cannot read {}: {message}", csv_path.display()),
                ),
                Err(e) => self.r.error(csv.span(), format!("orders_csv: {}", e.short())),
            }
        }
        let mut seen = HashMap::new();
        for (i, o) in orders.iter().enumerate() {
            if let Some(prev) = seen.insert(o.id.clone(), i) {
                let span = raw.order.get(i).map(|r| r.id.span()).unwrap_or_default();
                self.r.error(
                    span,
                    format!("duplicate order id '{}' (also order #{})", o.id, prev + 1),
                );
            }
        }
        orders
    }

    /// `[[event]]`: injected outages and shift changes, in time order.
    fn disruptions(&mut self, raw: &RawPlant, n: &Names, start: Option<&CalendarStart>) -> Vec<Disruption> {
        let (station_names, calendar_names) = (&n.stations, &n.calendars);
        let mut disruptions = Vec::new();
        for e in &raw.event {
            let ctx = format!("event '{}' at {}", e.kind.get_ref(), display_value(e.at.get_ref()));
            let at = self.instant(&e.at, start, &ctx);
            let station = self.lookup(&e.station, station_names, "station", &format!("in {ctx}"));
            let kind = match e.kind.get_ref().as_str() {
                "outage" | "breakdown" => {
                    let Some(d) = &e.duration else {
                        self.r
                            .error(e.kind.span(), format!("{ctx}: an outage needs `duration`"));
                        continue;
                    };
                    self.instant(d, None, &format!("{ctx}: duration")).and_then(|duration| {
                        if duration.secs() <= 0.0 {
                            self.r.error(d.span(), format!("{ctx}: duration must be > 0"));
                            return None;
                        }
                        station.map(|station| DisruptionKind::Outage { station, duration })
                    })
                }
                "shift_change" => {
                    let shift = match &e.shift {
                        None => Some(None),
                        Some(c) => self
                            .lookup(c, calendar_names, "shift calendar", &format!("in {ctx}"))
                            .map(Some),
                    };
                    station
                        .zip(shift)
                        .map(|(station, shift)| DisruptionKind::ShiftChange { station, shift })
                }
                other => {
                    self.r
                        .unknown(e.kind.span(), "event kind", other, "", ["outage", "shift_change"]);
                    None
                }
            };
            if let (Some(at), Some(kind)) = (at, kind) {
                if at.secs() < 0.0 {
                    self.r
                        .error(e.at.span(), format!("{ctx}: happens before the start of the run"));
                } else {
                    disruptions.push(Disruption { at, kind });
                }
            }
        }
        disruptions.sort_by(|a, b| a.at.secs().total_cmp(&b.at.secs()));
        disruptions
    }

    fn failures(&mut self, f: &RawFailures, ctx: &str) -> Option<Failures> {
        let basis = match f.basis.as_ref().map(|b| b.get_ref().as_str()) {
            None | Some("calendar") => FailureBasis::Calendar,
            Some("busy") => FailureBasis::Busy,
            Some("operations") => FailureBasis::Operations,
            Some(other) => {
                let span = f.basis.as_ref().map(|b| b.span()).unwrap_or_default();
                self.r.unknown(
                    span,
                    "failure basis",
                    other,
                    &format!("in {ctx}"),
                    ["calendar", "busy", "operations"],
                );
                return None;
            }
        };
        let between = match (basis, &f.mtbf, &f.ops_between) {
            (FailureBasis::Operations, _, Some(n)) => {
                self.dist(n, Quantity::Count, &format!("{ctx}: failures.ops_between"))?
            }
            (FailureBasis::Operations, _, None) => {
                self.r.error(
                    f.mttr.span(),
                    format!("{ctx}: failures with basis \"operations\" need `ops_between`"),
                );
                return None;
            }
            (_, Some(m), _) => self.dist(m, Quantity::Time, &format!("{ctx}: failures.mtbf"))?,
            (_, None, _) => {
                self.r.error(
                    f.mttr.span(),
                    format!("{ctx}: failures need `mtbf` (time between failures)"),
                );
                return None;
            }
        };
        if between.mean() <= 0.0 {
            self.r.error(
                f.mttr.span(),
                format!("{ctx}: the time between failures must have a mean > 0"),
            );
            return None;
        }
        let repair = self.dist(&f.mttr, Quantity::Time, &format!("{ctx}: failures.mttr"))?;
        Some(Failures { basis, between, repair })
    }

    fn order(&mut self, o: &RawOrder, products: &[String], start: Option<&CalendarStart>) -> Option<Order> {
        let ctx = format!("order '{}'", o.id.get_ref());
        let product = self.lookup(&o.product, products, "product", &format!("in {ctx}"));
        let quantity = self.count(&o.quantity, 1, MAX_ORDER_QUANTITY, &format!("{ctx}: quantity"));
        let release = match &o.release {
            Some(r) => self.instant(r, start, &format!("{ctx}: release"))?,
            None => SimTime::ZERO,
        };
        if release.secs() < 0.0 {
            let span = o.release.as_ref().map(|r| r.span()).unwrap_or_default();
            self.r
                .error(span, format!("{ctx}: release is before the start of the run"));
        }
        let due = match &o.due {
            Some(d) => Some(self.instant(d, start, &format!("{ctx}: due"))?),
            None => None,
        };
        Some(Order {
            id: o.id.get_ref().clone(),
            product: product?,
            quantity: quantity? as u32,
            release: release.max(SimTime::ZERO),
            due,
            priority: match &o.priority {
                Some(p) if p.get_ref().unsigned_abs() > MAX_PRIORITY.unsigned_abs() => {
                    self.r.error(
                        p.span(),
                        format!("{ctx}: priority must be within ±{MAX_PRIORITY}, got {}", p.get_ref()),
                    );
                    1
                }
                Some(p) => *p.get_ref() as i32,
                None => 1,
            },
        })
    }

    fn run(&mut self, run: Option<&RawRun>) -> RunSettings {
        let mut s = RunSettings::default();
        let Some(run) = run else { return s };
        let time = |v: &Spanned<Value>, r: &mut Reporter, key: &str| -> Option<SimTime> {
            let res = match v.get_ref() {
                Value::String(t) => twinworks_engine::parse_duration(t).map_err(|e| e.to_string()),
                Value::Integer(i) => check_duration(*i as f64, &i.to_string()).map_err(|e| e.to_string()),
                Value::Float(f) => check_duration(*f, &f.to_string()).map_err(|e| e.to_string()),
                other => Err(format!("expected a duration such as \"8h\", got {}", other.type_str())),
            };
            match res {
                Ok(t) if t.secs() >= 0.0 => Some(t),
                Ok(t) => {
                    r.error(v.span(), format!("[run] {key} must be >= 0, got {t}"));
                    None
                }
                Err(e) => {
                    r.error(v.span(), format!("[run] {key}: {e}"));
                    None
                }
            }
        };
        match (&run.horizon, &run.horizon_parts) {
            (Some(_), Some(p)) => self
                .r
                .error(p.span(), "[run] give either horizon or horizon_parts, not both"),
            (Some(h), None) => {
                if let Some(t) = time(h, &mut self.r, "horizon") {
                    if t.secs() <= 0.0 {
                        self.r.error(h.span(), "[run] horizon must be > 0");
                    }
                    s.horizon = Horizon::Time(t);
                }
            }
            (None, Some(p)) => {
                if let Some(n) = self.count(p, 1, MAX_PARTS, "[run] horizon_parts") {
                    s.horizon = Horizon::Parts(n);
                }
            }
            (None, None) => {}
        }
        match (&run.warmup, &run.warmup_parts) {
            (Some(_), Some(p)) => self
                .r
                .error(p.span(), "[run] give either warmup or warmup_parts, not both"),
            (Some(w), None) => {
                if let Some(t) = time(w, &mut self.r, "warmup") {
                    s.warmup = if t.secs() > 0.0 { Warmup::Time(t) } else { Warmup::None };
                }
            }
            (None, Some(p)) => {
                if let Some(n) = self.count(p, 0, MAX_PARTS, "[run] warmup_parts") {
                    s.warmup = if n > 0 { Warmup::Parts(n) } else { Warmup::None };
                }
            }
            (None, None) => {}
        }
        if let (Horizon::Time(h), Warmup::Time(w)) = (s.horizon, s.warmup)
            && w.secs() >= h.secs()
        {
            let span = run.warmup.as_ref().map(|w| w.span()).unwrap_or_default();
            self.r.error(
                span,
                format!("[run] warmup ({w}) must be shorter than the horizon ({h})"),
            );
        }
        if let Some(n) = &run.replications
            && let Some(n) = self.count(n, 1, MAX_REPLICATIONS, "[run] replications")
        {
            s.replications = n as u32;
        }
        if let Some(seed) = &run.seed {
            s.seed = *seed.get_ref() as u64;
        }
        s
    }
}
