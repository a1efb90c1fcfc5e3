//! Orders from a CSV file: the same records as `[[order]]` in a plant file.
//!
//! The first line is a header naming the columns; `id`, `product` and `quantity` are required,
//! `release`, `due` and `priority` optional, in any order. Fields are separated by commas;
//! a field may be quoted with `"` (for ids with commas). Blank lines and lines starting with `#`
//! are skipped. Times are durations from time 0 (`"36h"`) or RFC 3339 dates when the plant has a
//! calendar start.

use std::path::Path;

use twinworks_engine::SimTime;

use crate::clock::{CalendarStart, parse_instant};
use crate::diagnostic::{LoadError, Reporter};
use crate::plant::Order;

const COLUMNS: [&str; 6] = ["id", "product", "quantity", "release", "due", "priority"];

/// Splits one CSV line into (byte offset, field) pairs.
fn fields(line: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut start = 0;
    let mut quoted = false;
    let mut chars = line.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' if quoted && chars.peek().map(|p| p.1) == Some('"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => {
                out.push((start, cur.trim().to_string()));
                cur.clear();
                start = i + 1;
            }
            _ => cur.push(c),
        }
    }
    out.push((start, cur.trim().to_string()));
    out
}

/// Reads orders from `path`; product names are resolved against `products`.
pub fn read_orders_csv(
    path: &Path,
    products: &[String],
    start: Option<&CalendarStart>,
) -> Result<Vec<Order>, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|e| LoadError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    parse_orders_csv(&text, path, products, start)
}

/// Parses the text of an orders CSV (`path` is used in messages).
pub fn parse_orders_csv(
    text: &str,
    path: &Path,
    products: &[String],
    start: Option<&CalendarStart>,
) -> Result<Vec<Order>, LoadError> {
    let mut r = Reporter::new(path, text);
    let mut lines = text.split_inclusive('\n').scan(0usize, |off, l| {
        let here = *off;
        *off += l.len();
        Some((here, l.trim_end_matches(['\n', '\r'])))
    });
    let Some((hoff, header)) = lines
        .by_ref()
        .find(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
    else {
        r.error(
            0..0,
            "empty orders file: expected a header line such as id,product,quantity,release,due,priority",
        );
        return Err(r.into_error());
    };
    let mut col = [None; 6];
    for (i, (off, name)) in fields(header).into_iter().enumerate() {
        match COLUMNS.iter().position(|c| *c == name.to_lowercase()) {
            Some(k) => col[k] = Some(i),
            None => r.unknown(
                hoff + off..hoff + off + name.len(),
                "column",
                &name,
                "in orders header",
                COLUMNS,
            ),
        }
    }
    for (k, req) in COLUMNS.iter().enumerate().take(3) {
        if col[k].is_none() {
            r.error(
                hoff..hoff + header.len(),
                format!("orders header lacks the required column '{req}'"),
            );
        }
    }
    if r.has_errors() {
        return Err(r.into_error());
    }
    let mut orders = Vec::new();
    for (loff, line) in lines {
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let f = fields(line);
        let get = |k: usize| col[k].and_then(|i| f.get(i)).map(|(o, s)| (loff + o, s.as_str()));
        let span = |(o, s): (usize, &str)| o..o + s.len().max(1);
        let (Some(id), Some(prod), Some(qty)) = (get(0), get(1), get(2)) else {
            r.error(
                loff..loff + line.len(),
                format!("expected {} fields, got {}", col.iter().flatten().count(), f.len()),
            );
            continue;
        };
        let product = products.iter().position(|p| p == prod.1);
        if product.is_none() {
            r.unknown(
                span(prod),
                "product",
                prod.1,
                &format!("in order '{}'", id.1),
                products.iter().map(String::as_str),
            );
        }
        let quantity = match qty.1.parse::<u32>() {
            Ok(q) if q >= 1 => Some(q),
            _ => {
                r.error(
                    span(qty),
                    format!(
                        "order '{}': quantity must be a whole number >= 1, got '{}'",
                        id.1, qty.1
                    ),
                );
                None
            }
        };
        let mut time = |k: usize, what: &str| -> Option<Option<SimTime>> {
            match get(k) {
                None => Some(None),
                Some((_, "")) => Some(None),
                Some(v) => match parse_instant(v.1, start) {
                    Ok(t) => Some(Some(t)),
                    Err(e) => {
                        r.error(span(v), format!("order '{}': {what}: {e}", id.1));
                        None
                    }
                },
            }
        };
        let release = time(3, "release");
        let due = time(4, "due");
        let priority = match get(5) {
            None | Some((_, "")) => Some(1),
            Some(v) => match v.1.parse::<i32>() {
                Ok(p) => Some(p),
                Err(_) => {
                    r.error(
                        span(v),
                        format!("order '{}': priority must be a whole number, got '{}'", id.1, v.1),
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
}
