//! Applying a variant to the base plant: overrides by path, additions and removals, on the
//! plant file's TOML document before it is validated.
//!
//! A path follows the plant file's own keys. List sections (`station`, `buffer`, `source`,
//! `sink`, `product`, `shift_calendar`, `order`, `event`) are indexed by the element's `name` (or
//! `id` for orders) or by a 0-based index; inside an element, keys and 0-based list indices:
//! `station.Lathe.capacity`, `buffer.B2.capacity`, `product.Shaft.routing.2.time`,
//! `run.horizon`. A distribution (a table with `dist`) is replaced whole; any other table given
//! as a value is merged key by key.

use toml::{Table, Value};
use twinworks_twins::diagnostic::nearest_name;

/// Sections of the plant file that are lists of named elements.
pub const LIST_SECTIONS: [&str; 8] = [
    "station",
    "buffer",
    "source",
    "sink",
    "product",
    "shift_calendar",
    "order",
    "event",
];

/// Why a path does not resolve.
#[derive(Clone, Debug, PartialEq)]
pub struct PathError {
    /// What is wrong, naming the path.
    pub message: String,
    /// The nearest valid alternative, if any.
    pub help: Option<String>,
}

fn err(message: String, help: Option<String>) -> PathError {
    PathError { message, help }
}

/// Splits a path on dots (`station.Mill.capacity`).
pub fn split_path(path: &str) -> Vec<String> {
    path.split('.').map(str::to_string).collect()
}

/// Flattens a variant's `set` table into (path, value) pairs: nested tables (from dotted keys)
/// are walked, a table with a `dist` key (a distribution) or a `rule` key (a dispatching rule)
/// is one value, and a quoted key may hold a whole path.
pub fn flatten_set(prefix: &[String], v: &Value, out: &mut Vec<(Vec<String>, Value)>) {
    match v {
        Value::Table(t) if !t.contains_key("dist") && !t.contains_key("rule") => {
            for (k, x) in t {
                let mut p = prefix.to_vec();
                p.extend(split_path(k));
                flatten_set(&p, x, out);
            }
        }
        _ => out.push((prefix.to_vec(), v.clone())),
    }
}

fn element_key(section: &str) -> &'static str {
    if section == "order" { "id" } else { "name" }
}

/// Finds the element of list `section` named (or indexed by) `seg`.
fn find_element(arr: &[Value], section: &str, seg: &str, path: &str) -> Result<usize, PathError> {
    let key = element_key(section);
    if let Some(i) = arr.iter().position(|e| e.get(key).and_then(Value::as_str) == Some(seg)) {
        return Ok(i);
    }
    if let Ok(i) = seg.parse::<usize>()
        && i < arr.len()
    {
        return Ok(i);
    }
    let names: Vec<&str> = arr.iter().filter_map(|e| e.get(key).and_then(Value::as_str)).collect();
    let help = nearest_name(seg, names.iter().copied())
        .map(|n| format!("did you mean '{section}.{n}'?"))
        .or_else(|| (!names.is_empty()).then(|| format!("{section} names: {}", names.join(", "))));
    Err(err(
        format!("'{path}' does not resolve: no {section} named '{seg}'"),
        help,
    ))
}

/// Sets `path` in the plant document `doc` to `value`.
pub fn set_path(doc: &mut Table, path: &[String], value: Value) -> Result<(), PathError> {
    let full = path.join(".");
    let Some((first, rest)) = path.split_first() else {
        return Err(err("empty path".into(), None));
    };
    if LIST_SECTIONS.contains(&first.as_str()) {
        let Some(Value::Array(arr)) = doc.get_mut(first) else {
            return Err(err(
                format!("'{full}' does not resolve: the plant has no {first}"),
                None,
            ));
        };
        let Some((name, inner)) = rest.split_first() else {
            return Err(err(
                format!("'{full}' names a whole {first}; use `add` and `remove` for elements"),
                None,
            ));
        };
        let i = find_element(arr, first, name, &full)?;
        if inner.is_empty() {
            return Err(err(
                format!("'{full}' names a whole {first}; set one of its keys"),
                None,
            ));
        }
        set_in(&mut arr[i], inner, value, &full, &format!("{first}.{name}"))
    } else {
        let known = ["plant", "run", "orders_csv"];
        if !known.contains(&first.as_str()) {
            let help = nearest_name(first, LIST_SECTIONS.iter().chain(known.iter()).copied())
                .map(|n| format!("did you mean '{n}'?"));
            return Err(err(
                format!("'{full}' does not resolve: the plant file has no section '{first}'"),
                help,
            ));
        }
        if rest.is_empty() {
            doc.insert(first.clone(), value);
            return Ok(());
        }
        let entry = doc.entry(first.clone()).or_insert_with(|| Value::Table(Table::new()));
        set_in(entry, rest, value, &full, first)
    }
}

/// Sets `path` inside `node`, creating missing tables on the way; `at` names `node` in messages.
fn set_in(node: &mut Value, path: &[String], value: Value, full: &str, at: &str) -> Result<(), PathError> {
    let (seg, rest) = path.split_first().expect("non-empty path");
    match node {
        Value::Table(t) => {
            if rest.is_empty() {
                match (t.get_mut(seg), value) {
                    // Merge a plain table into an existing table; replace anything else.
                    (Some(Value::Table(old)), Value::Table(new))
                        if !new.contains_key("dist") && !old.contains_key("dist") =>
                    {
                        for (k, v) in new {
                            old.insert(k, v);
                        }
                    }
                    (_, value) => {
                        t.insert(seg.clone(), value);
                    }
                }
                return Ok(());
            }
            let child = t.entry(seg.clone()).or_insert_with(|| Value::Table(Table::new()));
            set_in(child, rest, value, full, &format!("{at}.{seg}"))
        }
        Value::Array(a) => {
            let Ok(i) = seg.parse::<usize>() else {
                return Err(err(
                    format!(
                        "'{full}' does not resolve: '{at}' is a list, index it with 0..{}",
                        a.len()
                    ),
                    None,
                ));
            };
            if i >= a.len() {
                return Err(err(
                    format!(
                        "'{full}' does not resolve: '{at}' has {} entries (0..{})",
                        a.len(),
                        a.len().saturating_sub(1)
                    ),
                    None,
                ));
            }
            if rest.is_empty() {
                a[i] = value;
                Ok(())
            } else {
                set_in(&mut a[i], rest, value, full, &format!("{at}.{i}"))
            }
        }
        other => Err(err(
            format!(
                "'{full}' does not resolve: '{at}' is a {}, not a table or list",
                other.type_str()
            ),
            None,
        )),
    }
}

/// Removes the list element at `path` (`station.Lathe_2`, `order.SO-1003`).
pub fn remove_path(doc: &mut Table, path: &[String]) -> Result<(), PathError> {
    let full = path.join(".");
    let [section, name] = path else {
        return Err(err(
            format!("remove '{full}': give a list section and an element, like 'station.Lathe_2'"),
            None,
        ));
    };
    if !LIST_SECTIONS.contains(&section.as_str()) {
        let help = nearest_name(section, LIST_SECTIONS.iter().copied()).map(|n| format!("did you mean '{n}'?"));
        return Err(err(format!("remove '{full}': '{section}' is not a list section"), help));
    }
    let Some(Value::Array(arr)) = doc.get_mut(section) else {
        return Err(err(format!("remove '{full}': the plant has no {section}"), None));
    };
    let i = find_element(arr, section, name, &full)?;
    arr.remove(i);
    Ok(())
}

/// Appends elements to a list section.
pub fn add_elements(doc: &mut Table, section: &str, items: Vec<Value>) -> Result<(), PathError> {
    if !LIST_SECTIONS.contains(&section) {
        let help = nearest_name(section, LIST_SECTIONS.iter().copied()).map(|n| format!("did you mean '{n}'?"));
        return Err(err(
            format!("add: '{section}' is not a list section of the plant file"),
            help,
        ));
    }
    let entry = doc
        .entry(section.to_string())
        .or_insert_with(|| Value::Array(Vec::new()));
    let Value::Array(arr) = entry else {
        return Err(err(format!("add: '{section}' in the plant is not a list"), None));
    };
    arr.extend(items);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> Table {
        toml::from_str(
            r#"
[run]
horizon = "1d"
[[station]]
name = "Lathe_1"
capacity = 1
process_time = { dist = "exponential", mean = "1min" }
[[product]]
name = "Shaft"
routing = [{ station = "Lathe_1" }, { station = "Lathe_1", time = "2min" }]
[[order]]
id = "SO-1"
product = "Shaft"
quantity = 3
"#,
        )
        .unwrap()
    }

    fn set(d: &mut Table, p: &str, v: Value) -> Result<(), PathError> {
        set_path(d, &split_path(p), v)
    }

    #[test]
    fn sets_by_name_index_and_key() {
        let mut d = doc();
        set(&mut d, "station.Lathe_1.capacity", Value::Integer(2)).unwrap();
        set(&mut d, "station.0.scrap", Value::Float(0.1)).unwrap();
        set(&mut d, "product.Shaft.routing.1.time", Value::String("3min".into())).unwrap();
        set(&mut d, "order.SO-1.quantity", Value::Integer(9)).unwrap();
        set(&mut d, "run.horizon", Value::String("2d".into())).unwrap();
        let st = &d["station"].as_array().unwrap()[0];
        assert_eq!(st["capacity"].as_integer(), Some(2));
        assert_eq!(st["scrap"].as_float(), Some(0.1));
        assert_eq!(d["product"][0]["routing"][1]["time"].as_str(), Some("3min"));
        assert_eq!(d["order"][0]["quantity"].as_integer(), Some(9));
        assert_eq!(d["run"]["horizon"].as_str(), Some("2d"));
    }

    #[test]
    fn distributions_replace_and_tables_merge() {
        let mut d = doc();
        let new: Value = toml::from_str::<Table>(r#"v = { dist = "uniform", min = 1, max = 2 }"#).unwrap()["v"].clone();
        set(&mut d, "station.Lathe_1.process_time", new.clone()).unwrap();
        assert_eq!(d["station"][0]["process_time"], new);
        let e: Value = toml::from_str::<Table>("v = { busy = 5.0 }").unwrap()["v"].clone();
        set(&mut d, "station.Lathe_1.energy_kw", e).unwrap();
        let e2: Value = toml::from_str::<Table>("v = { idle = 1.0 }").unwrap()["v"].clone();
        set(&mut d, "station.Lathe_1.energy_kw", e2).unwrap();
        assert_eq!(d["station"][0]["energy_kw"]["busy"].as_float(), Some(5.0));
        assert_eq!(d["station"][0]["energy_kw"]["idle"].as_float(), Some(1.0));
    }

    #[test]
    fn unresolved_paths_name_the_nearest() {
        let mut d = doc();
        let e = set(&mut d, "station.Lathe1.capacity", Value::Integer(2)).unwrap_err();
        assert!(e.message.contains("no station named 'Lathe1'"), "{e:?}");
        assert_eq!(e.help.as_deref(), Some("did you mean 'station.Lathe_1'?"));
        let e = set(&mut d, "stations.Lathe_1.capacity", Value::Integer(2)).unwrap_err();
        assert_eq!(e.help.as_deref(), Some("did you mean 'station'?"));
        let e = set(&mut d, "product.Shaft.routing.5.time", Value::Integer(2)).unwrap_err();
        assert!(e.message.contains("has 2 entries"), "{e:?}");
    }

    #[test]
    fn add_and_remove_elements() {
        let mut d = doc();
        remove_path(&mut d, &split_path("order.SO-1")).unwrap();
        assert_eq!(d["order"].as_array().unwrap().len(), 0);
        let o: Table = toml::from_str("id = \"RUSH\"\nproduct = \"Shaft\"\nquantity = 1").unwrap();
        add_elements(&mut d, "order", vec![Value::Table(o)]).unwrap();
        assert_eq!(d["order"][0]["id"].as_str(), Some("RUSH"));
        assert!(remove_path(&mut d, &split_path("station.Nope")).is_err());
        assert!(add_elements(&mut d, "stations", vec![]).is_err());
    }

    #[test]
    fn flatten_walks_dotted_keys_but_not_distributions() {
        let t: Table = toml::from_str(
            r#"
"buffer.B2.capacity" = 10
station.Mill.capacity = 2
station.Mill.process_time = { dist = "exponential", mean = "1min" }
"#,
        )
        .unwrap();
        let mut out = Vec::new();
        flatten_set(&[], &Value::Table(t), &mut out);
        let paths: Vec<String> = out.iter().map(|(p, _)| p.join(".")).collect();
        assert_eq!(
            paths,
            [
                "buffer.B2.capacity",
                "station.Mill.capacity",
                "station.Mill.process_time"
            ]
        );
    }
}
