//! `twin live`, `twin write` and `twin serve-plant`: the twin connected to a plant (or to the
//! virtual plant), through the adapters crate.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use twinworks_adapters::dispatch_list::{DispatchOptions, DispatchTarget};
use twinworks_adapters::io::{Drivers, REPORT_CAPACITY, Report};
use twinworks_adapters::live::{LiveOptions, run_live};
use twinworks_adapters::tagmap::{TagMap, load_tag_map};
use twinworks_adapters::writeback::{AuditLog, Outcome, WriteBack};
use twinworks_engine::parse_duration;
use twinworks_twins::prelude::*;
use twinworks_twins::rules::{RULES, Rule, RuleError};

use crate::{EXIT_INPUT, EXIT_RUN};

#[derive(Args)]
pub struct LiveArgs {
    /// The plant file (TOML) the twin is built from.
    plant: PathBuf,
    /// The tag map (TOML): connections and tags.
    #[arg(long)]
    tags: PathBuf,
    /// Print a snapshot of the mirrored state as one JSON line per interval on stdout.
    #[arg(long)]
    json: bool,
    /// Snapshot interval ("1s", "500ms").
    #[arg(long, default_value = "1s")]
    every: String,
    /// Twin seconds per real second.
    #[arg(long, default_value_t = 1.0)]
    time_scale: f64,
    /// Stop after this long ("30s"); default: until interrupted (Ctrl-C).
    #[arg(long)]
    duration: Option<String>,
    /// Random seed of the twin.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print the ingest counters (updates/s, latency) as JSON on stderr at the end.
    #[arg(long)]
    stats: bool,
    /// Where every snapshot published to MQTT is recorded (JSON lines: time, topic, bytes);
    /// opened only when the tag map publishes.
    #[arg(long, default_value = "publish-audit.jsonl")]
    publish_audit: PathBuf,
    /// Send dispatch lists to the shop floor under this rule (`atcs`, `edd`, `atc(k=3)`, ...):
    /// at start, and whenever a station is observed going down or coming back or an order is
    /// released, from a look-ahead of the mirror with mean times.
    #[arg(long)]
    dispatch: Option<String>,
    /// Where dispatch lists go: `mqtt` (retained, QoS 1, `{publish_prefix}/dispatch/{station}`
    /// of the tag map's MQTT connections) or a JSON file path.
    #[arg(long, requires = "dispatch")]
    publish_dispatch: Option<String>,
    /// Operations per station in a dispatch list.
    #[arg(long, default_value_t = 5)]
    dispatch_ops: usize,
    /// How far the dispatch look-ahead runs at most (twin time).
    #[arg(long, default_value = "7d")]
    dispatch_horizon: String,
}

#[derive(Args)]
pub struct WriteArgs {
    /// The tag map (TOML).
    tags: PathBuf,
    /// Setpoints as tag=value (several allowed).
    #[arg(required = true)]
    setpoints: Vec<String>,
    /// Check and log, but do not write (shadow mode).
    #[arg(long)]
    dry_run: bool,
    /// Who asks (recorded in the audit log).
    #[arg(long, default_value = "engineer")]
    who: String,
    /// The append-only audit log (JSON lines).
    #[arg(long, default_value = "audit.jsonl")]
    audit: PathBuf,
    /// Benchmark: send each setpoint N times, alternating with value + 0.01, and print the
    /// round-trip times (guard, write, read-back, audit fsync) p50/p99 as JSON on stderr.
    #[arg(long, default_value_t = 1)]
    repeat: usize,
}

#[derive(Args)]
pub struct ServeArgs {
    /// The plant file (TOML) to simulate.
    plant: PathBuf,
    /// OPC UA listen address (e.g. 127.0.0.1:4840; port 0 picks a free port).
    #[arg(long)]
    opcua: Option<SocketAddr>,
    /// Modbus TCP listen address (e.g. 127.0.0.1:5020).
    #[arg(long)]
    modbus: Option<SocketAddr>,
    /// Write the tag map that matches the served address space here.
    #[arg(long)]
    write_tags: Option<PathBuf>,
    /// Simulated seconds per real second.
    #[arg(long, default_value_t = 1.0)]
    time_scale: f64,
    /// Random seed of the simulation.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Publishing interval of the values.
    #[arg(long, default_value = "100ms")]
    update: String,
    /// Accept this user (user:password) besides anonymous access.
    #[arg(long)]
    user: Option<String>,
    /// Refuse anonymous OPC UA sessions.
    #[arg(long)]
    no_anonymous: bool,
    /// Certificate store of the OPC UA server.
    #[arg(long, default_value = "pki-plant")]
    pki_dir: PathBuf,
    /// Extra changing OPC UA variables (benchmark load).
    #[arg(long, default_value_t = 0)]
    extra_tags: usize,
    /// Change rate of the extra variables [Hz].
    #[arg(long, default_value_t = 10.0)]
    extra_rate: f64,
    /// Stop after this long; default: until interrupted.
    #[arg(long)]
    duration: Option<String>,
}

fn duration_arg(text: &str, what: &str) -> Result<Duration, String> {
    let d = parse_duration(text).map_err(|e| format!("--{what} '{text}': {e}"))?;
    if d.secs() <= 0.0 {
        return Err(format!("--{what} '{text}' must be > 0"));
    }
    Ok(Duration::from_secs_f64(d.secs()))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

async fn ctrl_c_or(d: Option<Duration>) {
    match d {
        Some(d) => tokio::time::sleep(d + Duration::from_secs(1)).await,
        None => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

fn load_both(plant: &std::path::Path, tags: &std::path::Path) -> Result<(PlantModel, TagMap), ExitCode> {
    let plant = load_plant(plant).map_err(|e| {
        eprintln!("{e}");
        ExitCode::from(EXIT_INPUT)
    })?;
    let map = load_tag_map(tags, Some(&plant)).map_err(|e| {
        eprintln!("{e}");
        ExitCode::from(EXIT_INPUT)
    })?;
    Ok((plant, map))
}

/// `--dispatch`, `--publish-dispatch`, `--dispatch-ops`, `--dispatch-horizon`, checked.
fn dispatch_options(args: &LiveArgs) -> Result<Option<DispatchOptions>, String> {
    let Some(text) = &args.dispatch else { return Ok(None) };
    let rule = Rule::parse(text).map_err(|e| match e {
        RuleError::Unknown(name) => {
            let hint = twinworks_twins::diagnostic::nearest_name(&name, RULES.iter().map(|(n, _)| *n))
                .map_or_else(String::new, |n| format!("; did you mean '{n}'?"));
            format!("--dispatch: unknown dispatching rule '{name}'{hint}")
        }
        e => format!("--dispatch: {e}"),
    })?;
    let target = match args.publish_dispatch.as_deref() {
        None => return Err("--dispatch needs --publish-dispatch mqtt|FILE".into()),
        Some("mqtt") => DispatchTarget::Mqtt,
        Some(path) => DispatchTarget::File(PathBuf::from(path)),
    };
    if !(1..=10_000).contains(&args.dispatch_ops) {
        return Err(format!(
            "--dispatch-ops must be in 1..=10000, got {}",
            args.dispatch_ops
        ));
    }
    let horizon = duration_arg(&args.dispatch_horizon, "dispatch-horizon")?;
    Ok(Some(DispatchOptions {
        rule,
        per_station: args.dispatch_ops,
        horizon_s: horizon.as_secs_f64(),
        target,
    }))
}

pub fn live(args: LiveArgs) -> ExitCode {
    let (plant, map) = match load_both(&args.plant, &args.tags) {
        Ok(x) => x,
        Err(c) => return c,
    };
    let parsed = (|| -> Result<LiveOptions, String> {
        twinworks_twins::limits::check_time_scale(args.time_scale)?;
        Ok(LiveOptions {
            time_scale: args.time_scale,
            snapshot_every: duration_arg(&args.every, "every")?,
            duration: args
                .duration
                .as_deref()
                .map(|d| duration_arg(d, "duration"))
                .transpose()?,
            seed: args.seed,
            publish_audit: Some(args.publish_audit.clone()),
            dispatch: dispatch_options(&args)?,
            ..LiveOptions::default()
        })
    })();
    let opts = match parsed {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_INPUT);
        }
    };
    if opts.dispatch.as_ref().is_some_and(|d| d.target == DispatchTarget::Mqtt)
        && !map.connections.iter().any(|c| match c {
            twinworks_adapters::tagmap::Connection::Mqtt(m) => m.publish_prefix.is_some(),
            _ => false,
        })
    {
        eprintln!(
            "error: --publish-dispatch mqtt: the tag map {} has no [[mqtt]] connection with a publish_prefix; dispatch lists over MQTT need an [[mqtt]] connection with a publish_prefix",
            args.tags.display()
        );
        return ExitCode::from(EXIT_INPUT);
    }
    let json = args.json;
    let rt = runtime();
    let res = rt.block_on(async {
        let stdout = std::io::stdout();
        let sink = move |snap: twinworks_twins::snapshot::PlantSnapshot| {
            if json {
                let mut out = stdout.lock();
                let _ = serde_json::to_writer(&mut out, &snap);
                let _ = writeln!(out);
                let _ = out.flush();
            } else {
                let line: Vec<String> = snap
                    .stations
                    .iter()
                    .map(|s| {
                        format!(
                            "{}:{}{}",
                            s.name,
                            s.state.as_str(),
                            if s.stale { "(stale)" } else { "" }
                        )
                    })
                    .collect();
                println!("t={:.1}s {}", snap.time_s, line.join(" "));
                for a in &snap.alarms {
                    println!("  alarm {:?} {}", a.kind, a.message);
                }
            }
        };
        run_live(&plant, Arc::new(map), &opts, sink, ctrl_c_or(opts.duration)).await
    });
    match res {
        Ok(stats) => {
            if args.stats {
                eprintln!("{}", serde_json::to_string(&stats).unwrap_or_default());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_RUN)
        }
    }
}

pub fn write(args: WriteArgs) -> ExitCode {
    let map = match load_tag_map(&args.tags, None) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(EXIT_INPUT);
        }
    };
    let mut requests = Vec::new();
    for sp in &args.setpoints {
        let Some((tag, value)) = sp.split_once('=') else {
            eprintln!("error: setpoint '{sp}': expected tag=value");
            return ExitCode::from(EXIT_INPUT);
        };
        let Ok(v) = value.trim().parse::<f64>() else {
            eprintln!("error: setpoint '{sp}': '{value}' is not a number");
            return ExitCode::from(EXIT_INPUT);
        };
        if map.find(tag.trim()).is_none() {
            let hint = map
                .nearest(tag.trim())
                .map(|n| format!("; did you mean '{n}'?"))
                .unwrap_or_default();
            eprintln!(
                "error: setpoint '{sp}': unknown tag '{}' in {}{hint}",
                tag.trim(),
                args.tags.display()
            );
            return ExitCode::from(EXIT_INPUT);
        }
        requests.push((tag.trim().to_string(), v));
    }
    let audit = match AuditLog::open(&args.audit) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: audit log {}: {e}", args.audit.display());
            return ExitCode::from(EXIT_RUN);
        }
    };
    let rt = runtime();
    let all_written = rt.block_on(async {
        let (tx, mut rx) = tokio::sync::mpsc::channel(REPORT_CAPACITY);
        let map = Arc::new(map);
        let drivers = Drivers::start(map.clone(), tx);
        // A fatal connection error (wrong password, untrusted certificate) ends the command.
        let fatal = tokio::spawn(async move {
            while let Some(r) = rx.recv().await {
                if let Report::Fatal { message, .. } = r {
                    return Some(message);
                }
            }
            None
        });
        let mut wb = WriteBack::new(drivers, audit, args.dry_run, None);
        let mut ok = true;
        let repeat = args.repeat.max(1);
        let mut rtt = twinworks_engine::Tally::with_quantiles();
        for (tag, v) in requests {
            for i in 0..repeat {
                if fatal.is_finished() {
                    break;
                }
                let value = if i % 2 == 0 { v } else { v + 0.01 };
                let t = std::time::Instant::now();
                match wb.request(&args.who, &tag, value).await {
                    Ok(rec) => {
                        rtt.record(t.elapsed().as_secs_f64() * 1000.0);
                        if repeat == 1 || rec.outcome != Outcome::Written {
                            println!("{}", serde_json::to_string(&rec).unwrap_or_default());
                        }
                        ok &= matches!(rec.outcome, Outcome::Written | Outcome::DryRun);
                    }
                    Err(e) => {
                        eprintln!("error: audit log {}: {e}; stopping", args.audit.display());
                        return false;
                    }
                }
            }
        }
        if repeat > 1 {
            eprintln!(
                "{}",
                serde_json::json!({
                    "requests": rtt.count(),
                    "rtt_p50_ms": rtt.quantile(0.5),
                    "rtt_p99_ms": rtt.quantile(0.99),
                    "rtt_mean_ms": rtt.mean(),
                })
            );
        }
        if fatal.is_finished()
            && let Ok(Some(m)) = fatal.await
        {
            eprintln!("error: {m}");
            return false;
        }
        ok
    });
    rt.shutdown_timeout(Duration::from_secs(1));
    if all_written {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_RUN)
    }
}

#[cfg(not(all(feature = "opcua", feature = "modbus")))]
pub fn serve_plant(_: ServeArgs) -> ExitCode {
    eprintln!("error: this build has no virtual plant: it needs the cargo features 'opcua' and 'modbus'");
    ExitCode::from(EXIT_RUN)
}

#[cfg(all(feature = "opcua", feature = "modbus"))]
pub fn serve_plant(args: ServeArgs) -> ExitCode {
    use twinworks_adapters::virtual_plant::{ServeOptions, serve_plant};
    let plant = match load_plant(&args.plant) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(EXIT_INPUT);
        }
    };
    let parsed = (|| -> Result<ServeOptions, String> {
        if args.opcua.is_none() && args.modbus.is_none() {
            return Err("give --opcua ADDR and/or --modbus ADDR".into());
        }
        twinworks_twins::limits::check_time_scale(args.time_scale)?;
        let user = match &args.user {
            None => None,
            Some(u) => {
                let (a, b) = u.split_once(':').ok_or("--user: expected user:password")?;
                Some((a.to_string(), b.to_string()))
            }
        };
        if args.no_anonymous && user.is_none() {
            return Err("--no-anonymous needs --user".into());
        }
        Ok(ServeOptions {
            opcua: args.opcua,
            modbus: args.modbus,
            time_scale: args.time_scale,
            seed: args.seed,
            update: duration_arg(&args.update, "update")?,
            user,
            no_anonymous: args.no_anonymous,
            pki_dir: args.pki_dir.clone(),
            write_tags: args.write_tags.clone(),
            extra_tags: args.extra_tags,
            extra_rate: args.extra_rate,
            duration: args
                .duration
                .as_deref()
                .map(|d| duration_arg(d, "duration"))
                .transpose()?,
        })
    })();
    let opts = match parsed {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_INPUT);
        }
    };
    let rt = runtime();
    let res = rt.block_on(serve_plant(
        &plant,
        &opts,
        |o, m| {
            if let Some(a) = o {
                eprintln!("OPC UA: opc.tcp://{a}/");
            }
            if let Some(a) = m {
                eprintln!("Modbus TCP: {a}");
            }
            if let Some(p) = &opts.write_tags {
                eprintln!("tag map: {}", p.display());
            }
        },
        ctrl_c_or(opts.duration),
    ));
    rt.shutdown_timeout(Duration::from_secs(2));
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_RUN)
        }
    }
}
