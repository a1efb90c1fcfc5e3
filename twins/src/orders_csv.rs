//! Orders from a CSV file: the same records as `[[order]]` in a plant file.
//!
//! The first line is a header naming the columns; `id`, `product` and `quantity` are required,
//! `release`, `due` and `priority` optional, in any order. The file is read with the `csv` crate
//! (RFC 4180: fields separated by commas, quoted with `"` when they hold commas or quotes).
//! Blank lines and lines starting with `#` are skipped. Every row has as many fields as the
//! header (an empty field leaves an optional column unset); a shorter or longer row is refused,
//! never read by position. Order ids are unique within the file. Times are durations from time 0
//! (`"36h"`) or RFC 3339 dates when the plant has a calendar start.

use std::collections::HashMap;
use std::path::Path;

use twinworks_engine::SimTime;

use crate::clock::{CalendarStart, parse_instant};
use crate::diagnostic::{LoadError, Reporter};
use crate::limits::{MAX_ORDER_QUANTITY, MAX_PRIORITY};
use crate::plant::Order;

const COLUMNS: [&str; 6] = ["id", "product", "quantity", "release", "due", "priority"];

/// Reads orders from `path`; product names are resolved against `products`.
pub fn read_orders_csv(
    path: &Path,
    products: &[String],
    start: Option<&CalendarStart>,
) -> Result<Vec<Order>, LoadError> {
    let text = crate::diagnostic::read_text(path)?;
    parse_orders_csv(&text, path, products, start)
}

/// Byte spans of the fields of one record in the source text: each field's text is searched
/// for in the record's raw line from the end of the previous one (quoted fields: at their
/// opening quote).
fn field_spans(text: &str, at: usize, fields: &csv::StringRecord) -> Vec<std::ops::Range<usize>> {
    let at = text.floor_char_boundary(at.min(text.len()));
    let line_end = text[at..].find('\n').map_or(text.len(), |k| at + k);
    let line = &text[at..line_end];
    // One character's width at `k` (at least 1 byte, never past the line's end).
    let one_char = |k: usize| line[k..].chars().next().map_or(0, char::len_utf8);
    let mut from = 0;
    fields
        .iter()
        .map(|f| {
            let found = if f.is_empty() { None } else { line[from..].find(f) };
            let (a, len) = match found {
                Some(k) => (from + k, f.len()),
                None => (from, one_char(from)),
            };
            from = a + len;
            if let Some(c) = line[from..].find(',') {
                from += c + 1;
            }
            at + a..at + a + len
        })
        .collect()
}

/// Parses the text of an orders CSV (`path` is used in messages).
pub fn parse_orders_csv(
    text: &str,
    path: &Path,
    products: &[String],
    start: Option<&CalendarStart>,
) -> Result<Vec<Order>, LoadError> {
    let mut r = Reporter::new(path, text);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .comment(Some(b'#'))
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut records = reader.records();
    let mut next = |r: &mut Reporter| -> Option<(usize, csv::StringRecord)> {
        loop {
            match records.next()? {
                Ok(rec) => {
                    let at = rec.position().map_or(0, |p| p.byte() as usize);
                    if rec.iter().all(str::is_empty) {
                        continue;
                    }
                    return Some((at, rec));
                }
                Err(e) => {
                    let at = e.position().map_or(0, |p| p.byte() as usize);
                    r.error(at..at + 1, format!("malformed CSV: {e}"));
                    return None;
                }
            }
        }
    };
    let Some((hoff, header)) = next(&mut r) else {
        if !r.has_errors() {
            r.error(
                0..0,
                "empty orders file: expected a header line such as id,product,quantity,release,due,priority",
            );
        }
        return Err(r.into_error());
    };
    let hspans = field_spans(text, hoff, &header);
    let mut col = [None; 6];
    for (i, name) in header.iter().enumerate() {
        match COLUMNS.iter().position(|c| *c == name.to_lowercase()) {
            Some(k) if col[k].is_some() => r.error(hspans[i].clone(), format!("column '{name}' appears twice")),
            Some(k) => col[k] = Some(i),
            None => r.unknown(hspans[i].clone(), "column", name, "in orders header", COLUMNS),
        }
    }
    let hline = hoff..text[hoff.min(text.len())..].find('\n').map_or(text.len(), |k| hoff + k);
    for (k, req) in COLUMNS.iter().enumerate().take(3) {
        if col[k].is_none() {
            r.error(
                hline.clone(),
                format!("orders header lacks the required column '{req}'"),
            );
        }
    }
    if r.has_errors() {
        return Err(r.into_error());
    }
    let mut orders = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    while let Some((loff, f)) = next(&mut r) {
        let spans = field_spans(text, loff, &f);
        if f.len() != header.len() {
            let end = text[loff..].find('\n').map_or(text.len(), |k| loff + k);
            r.error(
                loff..end.max(loff + 1),
                format!(
                    "expected {} fields as in the header, got {} (leave a field empty to omit it)",
                    header.len(),
                    f.len()
                ),
            );
            continue;
        }
        let get = |k: usize| col[k].map(|i| (spans[i].clone(), &f[i]));
        let (Some(id), Some(prod), Some(qty)) = (get(0), get(1), get(2)) else {
            continue;
        };
        if id.1.is_empty() {
            r.error(id.0.clone(), "order id must not be empty");
        } else if let Some(line) = seen.insert(id.1.to_string(), orders.len()) {
            r.error(
                id.0.clone(),
                format!("duplicate order id '{}' (also order #{} of this file)", id.1, line + 1),
            );
        }
        let product = products.iter().position(|p| p == prod.1);
        if product.is_none() {
            r.unknown(
                prod.0.clone(),
                "product",
                prod.1,
                &format!("in order '{}'", id.1),
                products.iter().map(String::as_str),
            );
        }
        let quantity = match qty.1.parse::<u64>() {
            Ok(q) if (1..=MAX_ORDER_QUANTITY).contains(&q) => Some(q as u32),
            _ => {
                r.error(
                    qty.0.clone(),
                    format!(
                        "order '{}': quantity must be a whole number from 1 to {MAX_ORDER_QUANTITY}, got '{}'",
                        id.1, qty.1
                    ),
                );
                None
            }
        };
        let mut time = |k: usize, what: &str| -> Option<Option<SimTime>> {
            match get(k) {
                None | Some((_, "")) => Some(None),
                Some(v) => match parse_instant(v.1, start) {
                    Ok(t) => Some(Some(t)),
                    Err(e) => {
                        r.error(v.0, format!("order '{}': {what}: {e}", id.1));
                        None
                    }
                },
            }
        };
        let release = time(3, "release");
        let due = time(4, "due");
        if let Some(Some(t)) = release
            && t.secs() < 0.0
        {
            r.error(
                get(3).map(|v| v.0).unwrap_or_default(),
                format!("order '{}': release is before the start of the run", id.1),
            );
        }
        let priority = match get(5) {
            None | Some((_, "")) => Some(1),
            Some(v) => match v.1.parse::<i64>() {
                Ok(p) if p.unsigned_abs() <= MAX_PRIORITY.unsigned_abs() => Some(p as i32),
                _ => {
                    r.error(
                        v.0,
                        format!(
                            "order '{}': priority must be a whole number within ±{MAX_PRIORITY}, got '{}'",
                            id.1, v.1
                        ),
                    );
                    None
                }
            },
        };
        if let (Some(product), Some(quantity), Some(release), Some(due), Some(priority)) =
            (product, quantity, release, due, priority)
        {
            orders.push(Order {
                id: id.1.to_string(),
                product,
                quantity,
                release: release.unwrap_or(SimTime::ZERO).max(SimTime::ZERO),
                due,
                priority,
            });
        }
    }
    r.finish(orders)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_orders_in_any_column_order() {
        let text = "# demo\nproduct,id,quantity,due\nShaft,O-1,5,2d\n\"Flange\",\"O,2\",3,\n";
        let o = parse_orders_csv(text, Path::new("o.csv"), &["Shaft".into(), "Flange".into()], None).unwrap();
        assert_eq!(o.len(), 2);
        assert_eq!(o[0].due, Some(SimTime::from_hours(48.0)));
        assert_eq!(o[1].id, "O,2");
        assert_eq!(o[1].due, None);
    }

    #[test]
    fn errors_name_line_and_column() {
        let text = "id,product,quantity\nO-1,Shaft,5\nO-2,Shatf,x\n";
        let e = parse_orders_csv(text, Path::new("o.csv"), &["Shaft".into()], None).unwrap_err();
        let s = e.short();
        assert!(
            s.contains("o.csv:3:5: unknown product 'Shatf'") && s.contains("did you mean 'Shaft'"),
            "{s}"
        );
        assert!(s.contains("o.csv:3:11: order 'O-2': quantity"), "{s}");
    }

    #[test]
    fn short_rows_duplicates_and_limits_are_refused() {
        let p = ["Shaft".to_string()];
        let err = |text: &str| {
            parse_orders_csv(text, Path::new("o.csv"), &p, None)
                .unwrap_err()
                .short()
        };
        let e = err("id,product,quantity,release,due\nO-1,Shaft,5,2d\n");
        assert!(
            e.contains("o.csv:2:1: expected 5 fields as in the header, got 4"),
            "{e}"
        );
        let e = err("id,product,quantity\nO-1,Shaft,5\nO-1,Shaft,2\n");
        assert!(e.contains("o.csv:3:1: duplicate order id 'O-1'"), "{e}");
        let e = err("id,product,quantity\nO-1,Shaft,4294967296\n");
        assert!(
            e.contains("o.csv:2:11: order 'O-1': quantity must be a whole number from 1"),
            "{e}"
        );
        let e = err("id,product,quantity,due\nO-1,Shaft,1,nan\n");
        assert!(e.contains("o.csv:2:13: order 'O-1': due"), "{e}");
        let e = parse_orders_csv("id,product,quantity\n\"O-1,Shaft,1\n", Path::new("o.csv"), &p, None);
        assert!(e.is_err(), "an unclosed quote is an error");
    }
}
