//! The trace is a faithful genealogy: no server does two things at once, each part's
//! operations follow its routing in time order, and every good part that left has a row for
//! each of its steps.

use std::collections::HashMap;
use std::process::Command;

#[derive(Debug, Clone)]
struct Row {
    kind: String,
    station: String,
    server: u32,
    part: Option<u64>,
    product: String,
    start: f64,
    end: f64,
    until: f64,
}

fn read(path: &std::path::Path) -> Vec<Row> {
    let text = std::fs::read_to_string(path).expect("trace written");
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("kind,station,server,part,product,order,start_s,end_s,blocked_until_s")
    );
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            assert_eq!(f.len(), 9, "{l}");
            Row {
                kind: f[0].into(),
                station: f[1].into(),
                server: f[2].parse().unwrap(),
                part: f[3].parse().ok(),
                product: f[4].into(),
                start: f[6].parse().unwrap(),
                end: f[7].parse().unwrap(),
                until: f[8].parse().unwrap(),
            }
        })
        .collect()
}

#[test]
fn trace_is_a_consistent_genealogy() {
    let dir = std::env::temp_dir().join(format!("twin-trace-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("trace.csv");
    let out = Command::new(env!("CARGO_BIN_EXE_twin"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "run",
            "scenarios/samples/machining_cell.toml",
            "--replications",
            "1",
            "--json",
            "--trace",
        ])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!dir.join("trace.csv.partial").exists(), "partial file left behind");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = read(&path);
    for k in ["operation", "setup", "down", "off_shift"] {
        assert!(rows.iter().any(|r| r.kind == k), "no {k} rows");
    }

    // No server is in two setups or operations at once.
    let mut by_server: HashMap<(String, u32), Vec<&Row>> = HashMap::new();
    for r in &rows {
        assert!(r.start <= r.end && r.end <= r.until, "{r:?}");
        by_server.entry((r.station.clone(), r.server)).or_default().push(r);
    }
    for (srv, mut rs) in by_server {
        // An operation row spans any interruption (its down / off-shift rows show the gap), so
        // work intervals — setups, and operations up to the part leaving — are compared with
        // each other only.
        rs.sort_by(|a, b| a.start.total_cmp(&b.start));
        let work: Vec<&&Row> = rs
            .iter()
            .filter(|r| r.kind == "operation" || r.kind == "setup")
            .collect();
        for w in work.windows(2) {
            assert!(
                w[1].start >= w[0].until - 1e-9,
                "{srv:?} double-booked: {:?} then {:?}",
                w[0],
                w[1]
            );
        }
    }

    // Off-shift intervals, including the one still open when the run ends (Friday 22:00 to
    // Saturday 06:00): five per server over Monday 06:00 to Saturday 06:00.
    let mut off: HashMap<(String, u32), usize> = HashMap::new();
    for r in rows.iter().filter(|r| r.kind == "off_shift") {
        *off.entry((r.station.clone(), r.server)).or_default() += 1;
    }
    assert_eq!(off.len(), 6, "{off:?}");
    assert!(off.values().all(|&n| n == 5), "{off:?}");

    // Each part's operations follow its routing, in time order.
    let routes: HashMap<&str, Vec<Vec<&str>>> = HashMap::from([
        (
            "Shaft",
            vec![
                vec!["Saw"],
                vec!["Lathe_1", "Lathe_2"],
                vec!["Grinder"],
                vec!["Inspect"],
            ],
        ),
        (
            "Flange",
            vec![vec!["Saw"], vec!["Lathe_1", "Lathe_2"], vec!["Mill"], vec!["Inspect"]],
        ),
        ("Bracket", vec![vec!["Saw"], vec!["Mill"], vec!["Inspect"]]),
    ]);
    let mut by_part: HashMap<u64, Vec<&Row>> = HashMap::new();
    for r in rows.iter().filter(|r| r.kind == "operation") {
        by_part
            .entry(r.part.expect("operations name their part"))
            .or_default()
            .push(r);
    }
    let mut complete = 0;
    for ops in by_part.values_mut() {
        ops.sort_by(|a, b| a.start.total_cmp(&b.start));
        let route = &routes[ops[0].product.as_str()];
        for (i, op) in ops.iter().enumerate() {
            assert!(route[i].contains(&op.station.as_str()), "step {i} of {:?}", ops);
            if i > 0 {
                assert!(
                    op.start >= ops[i - 1].until - 1e-9,
                    "part starts before leaving its last station: {ops:?}"
                );
            }
        }
        if ops.len() == route.len() {
            complete += 1;
        }
    }
    // Parts with all steps traced = good parts out + parts scrapped at the last step.
    let run = &report["runs"][0]["plant"];
    let out_good = run["parts_out"].as_u64().unwrap();
    let scrapped = run["parts_scrapped"].as_u64().unwrap();
    assert!(
        complete >= out_good && complete <= out_good + scrapped,
        "{complete} vs {out_good} + {scrapped}"
    );
}
