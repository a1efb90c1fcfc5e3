//! A planner who hands us a broken file gets the line and token to fix.

use twinworks_aps::problem::ParseError;
use twinworks_aps::{parse_fjsp, parse_jssp};

#[test]
fn jssp_reports_line_and_token() {
    let text = "3 2\n0 5 1 4\n1 3 0 x\n0 2 1 2\n";
    let e = parse_jssp(text).unwrap_err();
    assert_eq!(
        e.to_string(),
        "line 3, token 4: expected a processing time from 0 to 1e9, got 'x'"
    );
    assert!(matches!(e, ParseError::Unexpected { line: 3, token: 4, .. }));
}

#[test]
fn fjsp_reports_machine_out_of_range() {
    let text = "1 2 1\n\n2 1 1 5 1 3 4\n";
    let e = parse_fjsp(text).unwrap_err();
    assert_eq!(e.to_string(), "line 3, token 6: machine 3 out of range 1..=2");
}

#[test]
fn header_errors() {
    assert_eq!(parse_fjsp("").unwrap_err(), ParseError::Empty);
    assert_eq!(
        parse_jssp("a 2\n").unwrap_err().to_string(),
        "line 1, token 1: expected the number of jobs (at most 1000000), got 'a'"
    );
    assert_eq!(
        parse_jssp("1 2 3\n0 1 1 1\n").unwrap_err().to_string(),
        "line 1, token 3: unexpected trailing token '3'"
    );
}

#[test]
fn real_benchmark_files_parse() {
    let p = parse_jssp(include_str!("data/ta41.txt")).unwrap();
    assert_eq!((p.jobs.len(), p.machines, p.num_operations()), (30, 20, 600));
    let p = parse_fjsp(include_str!("data/mk01.fjs")).unwrap();
    assert_eq!((p.jobs.len(), p.machines), (10, 6));
    assert!(!p.is_classical());
}
