//! `flowline-plain [--parts N] [--seed S]`: runs the plain-loop flow line and prints one JSON
//! object (floats in shortest round-trip form, so a reader can compare them bit for bit).

use std::process::ExitCode;

fn main() -> ExitCode {
    let mut parts: u64 = 1_000_000;
    let mut seed: u64 = 1;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let target = match a.as_str() {
            "--parts" => &mut parts,
            "--seed" => &mut seed,
            _ => {
                eprintln!("error: unknown argument '{a}' (usage: flowline-plain [--parts N] [--seed S])");
                return ExitCode::from(2);
            }
        };
        match args.next().map(|v| v.parse::<u64>()) {
            Some(Ok(v)) => *target = v,
            _ => {
                eprintln!("error: {a} needs a non-negative integer");
                return ExitCode::from(2);
            }
        }
    }
    let o = twinworks_flowline_plain::run(parts, seed);
    println!(
        "{{\"parts\": {}, \"completions\": {}, \"end_s\": {:?}, \"throughput_per_h\": {:?}, \"lead_time_mean_s\": {:?}, \"lead_time_p50_s\": {:?}, \"lead_time_p95_s\": {:?}}}",
        o.exits,
        o.completions,
        o.end_s,
        o.throughput_per_h,
        o.lead.mean(),
        o.lead.quantile(0.5).unwrap_or(0.0),
        o.lead.quantile(0.95).unwrap_or(0.0),
    );
    ExitCode::SUCCESS
}
