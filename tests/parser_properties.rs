//! Property tests for every parser of a file a user writes (issue 12, item 5): plant file,
//! study file, tag map, job-shop and flexible job-shop instances, orders CSV, schedule JSON.
//!
//! Structure-aware: the committed samples are mutated key by key (a TOML key removed, or its
//! value replaced by a nonsense one: nan, inf, huge, negative, empty, multi-byte, another type)
//! and token by token (a number or name replaced, a line dropped or doubled, the text cut
//! short), and random bytes are tried too. The property (`properties/mod.rs`, shared with the
//! cargo-fuzz targets): a located error or a valid result, and a valid plant runs a bounded
//! number of events without a panic.

mod properties;

use std::path::Path;

use proptest::prelude::*;
use proptest::sample::Index;
use toml::Value;

fn read(rel: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)).expect("sample readable")
}

/// Values that a user could write by mistake where any other value belongs.
fn nasty_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        prop::sample::select(vec![
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e300,
            -1.0,
            0.0,
            -0.0,
            0.5,
            4294967296.0,
            1e-300,
        ])
        .prop_map(Value::Float),
        prop::sample::select(vec![
            0i64,
            -1,
            1,
            2,
            i64::MAX,
            i64::MIN,
            4294967296,
            1 << 53,
            100_000_000
        ])
        .prop_map(Value::Integer),
        prop::sample::select(vec![
            "",
            "€",
            "1e300s",
            "-5s",
            "0s",
            "nan s",
            "inf",
            "+0€0",
            "+99:99",
            "2026-13-45T99:99:99Z",
            "1h",
            "10",
            "exponential",
            "Lathe",
            "P",
            "Mill",
            "a.b.c",
        ])
        .prop_map(|s: &str| Value::String(s.into())),
        "[a-zA-Z_€ ]{0,12}".prop_map(Value::String),
        any::<bool>().prop_map(Value::Boolean),
        Just(Value::Array(vec![])),
        Just(Value::Table(toml::Table::new())),
    ]
}

/// One step down a TOML document.
#[derive(Clone, Debug)]
enum Seg {
    Key(String),
    Index(usize),
}

fn leaves(v: &Value, at: &mut Vec<Seg>, out: &mut Vec<Vec<Seg>>) {
    match v {
        Value::Table(t) => {
            for (k, x) in t {
                at.push(Seg::Key(k.clone()));
                out.push(at.clone());
                leaves(x, at, out);
                at.pop();
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                at.push(Seg::Index(i));
                out.push(at.clone());
                leaves(x, at, out);
                at.pop();
            }
        }
        _ => {}
    }
}

/// The parent of `path` and the last step, mutable.
fn parent_mut<'a>(doc: &'a mut Value, path: &[Seg]) -> Option<&'a mut Value> {
    let mut v = doc;
    for s in &path[..path.len() - 1] {
        v = match (s, v) {
            (Seg::Key(k), Value::Table(t)) => t.get_mut(k)?,
            (Seg::Index(i), Value::Array(a)) => a.get_mut(*i)?,
            _ => return None,
        };
    }
    Some(v)
}

#[derive(Clone, Debug)]
enum TomlEdit {
    Set(Index, Value),
    Remove(Index),
    Rename(Index, String),
    Duplicate(Index),
}

fn toml_edit() -> impl Strategy<Value = TomlEdit> {
    prop_oneof![
        4 => (any::<Index>(), nasty_value()).prop_map(|(i, v)| TomlEdit::Set(i, v)),
        2 => any::<Index>().prop_map(TomlEdit::Remove),
        1 => (any::<Index>(), "[a-z_]{1,10}").prop_map(|(i, k)| TomlEdit::Rename(i, k)),
        1 => any::<Index>().prop_map(TomlEdit::Duplicate),
    ]
}

/// The document with `edits` applied, one after another, as TOML text.
fn apply_toml(text: &str, edits: &[TomlEdit]) -> String {
    let mut doc = Value::Table(text.parse::<toml::Table>().expect("sample is TOML"));
    for e in edits {
        let mut paths = Vec::new();
        leaves(&doc, &mut Vec::new(), &mut paths);
        if paths.is_empty() {
            break;
        }
        let i = match e {
            TomlEdit::Set(i, _) | TomlEdit::Remove(i) | TomlEdit::Rename(i, _) | TomlEdit::Duplicate(i) => i,
        };
        let path = i.get(&paths).clone();
        let Some(parent) = parent_mut(&mut doc, &path) else {
            continue;
        };
        match (parent, path.last().expect("non-empty path"), e) {
            (Value::Table(t), Seg::Key(k), TomlEdit::Set(_, v)) => {
                t.insert(k.clone(), v.clone());
            }
            (Value::Array(a), Seg::Index(j), TomlEdit::Set(_, v)) => a[*j] = v.clone(),
            (Value::Table(t), Seg::Key(k), TomlEdit::Remove(_)) => {
                t.remove(k);
            }
            (Value::Array(a), Seg::Index(j), TomlEdit::Remove(_)) => {
                a.remove(*j);
            }
            (Value::Table(t), Seg::Key(k), TomlEdit::Rename(_, new)) => {
                if let Some(v) = t.remove(k) {
                    t.insert(new.clone(), v);
                }
            }
            (Value::Array(a), Seg::Index(j), TomlEdit::Duplicate(_)) => {
                let v = a[*j].clone();
                a.push(v);
            }
            _ => {}
        }
    }
    match doc {
        Value::Table(t) => toml::to_string(&t).unwrap_or_default(),
        _ => String::new(),
    }
}

/// Tokens that a user could write by mistake in a CSV, an instance or a JSON file.
const NASTY_TOKENS: &[&str] = &[
    "nan",
    "inf",
    "-inf",
    "-1",
    "0",
    "-0",
    "1e300",
    "4294967296",
    "18446744073709551616",
    "9223372036854775807",
    "-9223372036854775808",
    "1e-300",
    "\"\"",
    "€",
    "\"€\"",
    "1e300s",
    "-5s",
    "+0€0",
    "+99:99",
    "2026-13-45T99:99:99Z",
    "",
    "[]",
    "{}",
    "null",
    "true",
    ",",
    "\"",
    "#",
    "\n",
];

#[derive(Clone, Debug)]
enum TextEdit {
    Token(Index, &'static str),
    Swap(Index, Index),
    DropLine(Index),
    DoubleLine(Index),
    Cut(Index),
    Insert(Index, Vec<u8>),
}

fn text_edit() -> impl Strategy<Value = TextEdit> {
    prop_oneof![
        5 => (any::<Index>(), prop::sample::select(NASTY_TOKENS)).prop_map(|(i, t)| TextEdit::Token(i, t)),
        1 => (any::<Index>(), any::<Index>()).prop_map(|(i, j)| TextEdit::Swap(i, j)),
        1 => any::<Index>().prop_map(TextEdit::DropLine),
        1 => any::<Index>().prop_map(TextEdit::DoubleLine),
        1 => any::<Index>().prop_map(TextEdit::Cut),
        1 => (any::<Index>(), prop::collection::vec(any::<u8>(), 1..8)).prop_map(|(i, b)| TextEdit::Insert(i, b)),
    ]
}

/// Byte ranges of the tokens of `text`: runs between delimiters.
fn tokens(text: &str) -> Vec<std::ops::Range<usize>> {
    let delim = |c: char| c.is_whitespace() || ",:=[]{}\"".contains(c);
    let mut out = Vec::new();
    let mut start = None;
    for (k, c) in text.char_indices() {
        match (delim(c), start) {
            (false, None) => start = Some(k),
            (true, Some(s)) => {
                out.push(s..k);
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push(s..text.len());
    }
    out
}

/// The text with `edits` applied; random insertions may make it invalid UTF-8 on purpose.
fn apply_text(text: &str, edits: &[TextEdit]) -> Vec<u8> {
    let mut bytes = text.as_bytes().to_vec();
    for e in edits {
        let t = String::from_utf8_lossy(&bytes).into_owned();
        let toks = tokens(&t);
        let lines: Vec<&str> = t.split_inclusive('\n').collect();
        bytes = match e {
            TextEdit::Token(i, new) if !toks.is_empty() => {
                let r = i.get(&toks).clone();
                [&t.as_bytes()[..r.start], new.as_bytes(), &t.as_bytes()[r.end..]].concat()
            }
            TextEdit::Swap(i, j) if !toks.is_empty() => {
                let (a, b) = (i.get(&toks).clone(), j.get(&toks).clone());
                let (a, b) = if a.start <= b.start { (a, b) } else { (b, a) };
                if a.end > b.start {
                    continue;
                }
                [&t[..a.start], &t[b.clone()], &t[a.end..b.start], &t[a], &t[b.end..]]
                    .concat()
                    .into_bytes()
            }
            TextEdit::DropLine(i) if !lines.is_empty() => {
                let k = i.index(lines.len());
                lines
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != k)
                    .map(|(_, l)| *l)
                    .collect::<String>()
                    .into_bytes()
            }
            TextEdit::DoubleLine(i) if !lines.is_empty() => {
                let k = i.index(lines.len());
                let mut v: Vec<&str> = lines.clone();
                v.insert(k, lines[k]);
                v.concat().into_bytes()
            }
            TextEdit::Cut(i) => {
                let at = t.floor_char_boundary(i.index(t.len() + 1));
                t.as_bytes()[..at].to_vec()
            }
            TextEdit::Insert(i, b) => {
                let at = t.floor_char_boundary(i.index(t.len() + 1));
                [&t.as_bytes()[..at], b, &t.as_bytes()[at..]].concat()
            }
            _ => continue,
        };
    }
    bytes
}

const PLANTS: &[&str] = &[
    "scenarios/samples/machining_cell.toml",
    "scenarios/samples/flowline.toml",
    "scenarios/samples/mm1.toml",
    "scenarios/samples/mm3.toml",
];

fn any_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..400)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn plant_files_mutated_by_key(k in 0..PLANTS.len(), edits in prop::collection::vec(toml_edit(), 1..4)) {
        properties::plant_file(apply_toml(&read(PLANTS[k]), &edits).as_bytes());
    }

    #[test]
    fn plant_files_mutated_by_token(k in 0..PLANTS.len(), edits in prop::collection::vec(text_edit(), 1..4)) {
        properties::plant_file(&apply_text(&read(PLANTS[k]), &edits));
    }

    #[test]
    fn tag_maps_mutated(by_key in prop::collection::vec(toml_edit(), 1..4), by_token in prop::collection::vec(text_edit(), 0..3)) {
        let text = apply_toml(&read("scenarios/samples/cell_tags.toml"), &by_key);
        properties::tag_map(&apply_text(&text, &by_token));
    }

    #[test]
    fn orders_csv_mutated(edits in prop::collection::vec(text_edit(), 1..5)) {
        properties::orders_csv(&apply_text(&read("scenarios/samples/cell_orders.csv"), &edits));
    }

    #[test]
    fn schedule_json_mutated(edits in prop::collection::vec(text_edit(), 1..4)) {
        properties::schedule_json(&apply_text(&read("viewer/tests/data/machining_cell_schedule.json"), &edits));
    }

    #[test]
    fn jssp_instances_mutated(edits in prop::collection::vec(text_edit(), 1..4)) {
        properties::jssp(&apply_text(&read("bench/instances/jssp/ft06.txt"), &edits));
    }

    #[test]
    fn fjsp_instances_mutated(edits in prop::collection::vec(text_edit(), 1..4)) {
        properties::fjsp(&apply_text(&read("bench/instances/fjsp/mk01.fjs"), &edits));
    }

    #[test]
    fn random_bytes_in_every_parser(bytes in any_bytes()) {
        properties::plant_file(&bytes);
        properties::study_file(&bytes);
        properties::tag_map(&bytes);
        properties::orders_csv(&bytes);
        properties::schedule_json(&bytes);
        properties::jssp(&bytes);
        properties::fjsp(&bytes);
    }
}

proptest! {
    // A study loads its base plant and every variant, and runs each: fewer cases.
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn study_files_mutated(by_key in prop::collection::vec(toml_edit(), 1..4), by_token in prop::collection::vec(text_edit(), 0..2)) {
        let text = apply_toml(&read("scenarios/samples/cell_study.toml"), &by_key);
        properties::study_file(&apply_text(&text, &by_token));
    }
}

/// The mutations are not vacuous: of 200 plants mutated by one key, many still load and run
/// their events (the rest are refused with located errors).
#[test]
fn many_mutated_plants_load_and_run() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    use std::sync::atomic::Ordering;
    let mut runner = TestRunner::deterministic();
    let strategy = (0..PLANTS.len(), prop::collection::vec(toml_edit(), 1..2));
    let (mut loaded, cases) = (0, 200);
    for _ in 0..cases {
        let (k, edits) = strategy.new_tree(&mut runner).unwrap().current();
        let text = apply_toml(&read(PLANTS[k]), &edits);
        if twinworks_twins::prelude::parse_plant(&text, Path::new("m.toml")).is_ok() {
            loaded += 1;
        }
        properties::plant_file(text.as_bytes());
    }
    assert!(loaded >= cases / 5, "only {loaded} of {cases} mutated plants loaded");
    assert!(
        properties::EVENTS.load(Ordering::Relaxed) > 1000 * loaded as u64,
        "the plants ran"
    );
    eprintln!(
        "{loaded} of {cases} mutated plants loaded; {} runs, {} events in this process",
        properties::RUNS.load(Ordering::Relaxed),
        properties::EVENTS.load(Ordering::Relaxed)
    );
}

/// The mutations are not vacuous: unmutated samples load, and one nonsense value is refused.
#[test]
fn the_samples_load_and_a_nonsense_value_is_refused() {
    for p in PLANTS {
        twinworks_twins::prelude::parse_plant(&read(p), Path::new(p)).expect("sample loads");
    }
    let text = read("scenarios/samples/mm1.toml");
    let mut doc: toml::Table = text.parse().unwrap();
    doc["run"]
        .as_table_mut()
        .unwrap()
        .insert("horizon".into(), Value::Float(f64::NAN));
    let err = twinworks_twins::prelude::parse_plant(&toml::to_string(&doc).unwrap(), Path::new("mm1.toml"))
        .expect_err("nan horizon refused");
    properties::assert_located(&err);
}

/// Every input the property tests or the fuzzers found, kept as a regression test.
#[test]
fn inputs_found_by_the_property_tests_and_the_fuzzers() {
    // The priority i64::MIN: its magnitude overflowed (`abs`) in the orders CSV and the plant.
    properties::orders_csv(b"id,product,quantity,release,due,priority\nA,Shaft,1,0,,-9223372036854775808\n");
    // cargo-fuzz (orders_csv): a header without `id`, its span ending inside a multi-byte
    // character.
    properties::orders_csv("idR,€€€€€€\n".as_bytes());
    let text = read("scenarios/samples/machining_cell.toml");
    let mut doc: toml::Table = text.parse().unwrap();
    if let Some(Value::Array(orders)) = doc.get_mut("order") {
        orders[0]
            .as_table_mut()
            .unwrap()
            .insert("priority".into(), Value::Integer(i64::MIN));
    }
    properties::plant_file(toml::to_string(&doc).unwrap().as_bytes());
}

/// A multi-byte character in a comment line of an orders CSV: the field spans sliced it.
#[test]
fn an_orders_csv_with_a_multibyte_comment_is_located() {
    properties::orders_csv("# \"€\" week\nid,product,quantity,release,due,priority\nA,Shaft,1,0h,,\n".as_bytes());
    properties::orders_csv("id,product,quantity,release,due,priority\n€,Sh€ft,€,€,€,€\n".as_bytes());
}
