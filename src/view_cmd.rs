//! `twin view`: the desktop viewer on a simulated plant, a schedule, or the live mirror of a
//! running plant (crate `twinworks-viewer`, cargo feature `viewer`, on by default).
//!
//! Live mode wires the adapters' mirror (`twinworks_adapters::live::run_live`, on a tokio
//! runtime of its own thread) to the viewer's external snapshot channel: the viewer itself does
//! not depend on the adapters.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

#[derive(Args)]
pub struct ViewArgs {
    /// A plant file (simulated in the viewer), or a study file (its baseline, or --variant).
    file: PathBuf,
    /// Show this schedule of the plant's orders (the JSON of `twin schedule --out`,
    /// solvers/aps/schedule.schema.json) instead of simulating.
    #[arg(long)]
    schedule: Option<PathBuf>,
    /// With a study file: the variant to simulate (default: its baseline).
    #[arg(long)]
    variant: Option<String>,
    /// Mirror the running plant instead of simulating: the tags of --tags drive the twin.
    #[arg(long, requires = "tags", conflicts_with_all = ["schedule", "until", "variant"])]
    live: bool,
    /// With --live: the tag map (TOML) of connections and tags.
    #[arg(long, requires = "live")]
    tags: Option<PathBuf>,
    /// With --live: twin seconds per real second (match the plant's, e.g. `serve-plant --time-scale`).
    #[arg(long, requires = "live", default_value_t = 1.0)]
    time_scale: f64,
    /// With --live: where every snapshot published to MQTT is recorded (JSON lines); opened
    /// only when the tag map publishes.
    #[arg(long, requires = "live", default_value = "publish-audit.jsonl")]
    publish_audit: PathBuf,
    /// Seed of the first run (default: the plant's [run] seed).
    #[arg(long, conflicts_with = "schedule")]
    seed: Option<u64>,
    /// Run the simulation to this time first, then pause ("8h", "2d"). With --screenshot the
    /// default is the plant's horizon (8 h when the horizon is a count of parts).
    #[arg(long, conflicts_with = "schedule")]
    until: Option<String>,
    /// Render the first stable frame to this PNG and exit (no window or display needed).
    #[arg(long)]
    screenshot: Option<PathBuf>,
    /// Window or image size in points, WIDTHxHEIGHT.
    #[arg(long, default_value = "1400x860")]
    size: String,
}

#[cfg(not(feature = "viewer"))]
pub fn run(_args: ViewArgs) -> ExitCode {
    eprintln!(
        "error: this `twin` was built without the viewer; rebuild with the default features \
         (cargo build --release) or `--features viewer`"
    );
    ExitCode::from(crate::EXIT_RUN)
}

/// Without `XDG_RUNTIME_DIR`, the graphics drivers' Wayland probe (libwayland, loaded by wgpu
/// even for X11 and off-screen rendering) prints "error: XDG_RUNTIME_DIR is invalid or not set"
/// several times, although nothing is wrong. As the XDG base directory spec asks of
/// applications, fall back to a private directory of our own (mode 0700) and say so once.
#[cfg(all(feature = "viewer", unix))]
fn runtime_dir_fallback() {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    let valid =
        |p: &std::path::Path| std::fs::metadata(p).is_ok_and(|m| m.is_dir() && m.permissions().mode() & 0o077 == 0);
    if std::env::var_os("XDG_RUNTIME_DIR").is_some_and(|d| valid(std::path::Path::new(&d))) {
        return;
    }
    let uid = std::fs::metadata("/proc/self").map_or(0, |m| m.uid());
    let dir = std::env::temp_dir().join(format!("twinworks-runtime-{uid}"));
    let made = std::fs::DirBuilder::new().mode(0o700).create(&dir);
    if (made.is_ok() || dir.is_dir()) && valid(&dir) {
        // SAFETY: called first thing in `twin view`, before any thread is started.
        unsafe { std::env::set_var("XDG_RUNTIME_DIR", &dir) };
        eprintln!(
            "note: XDG_RUNTIME_DIR is not set (or not a private directory); using {} for this run",
            dir.display()
        );
    }
}

#[cfg(all(feature = "viewer", not(unix)))]
fn runtime_dir_fallback() {}

#[cfg(feature = "viewer")]
pub fn run(args: ViewArgs) -> ExitCode {
    use twinworks_engine::parse_duration;
    use twinworks_viewer::{ViewerOptions, ViewerSource, render_png, run_window};

    use crate::{EXIT_INPUT, EXIT_RUN};

    runtime_dir_fallback();
    let input = |msg: String| {
        eprintln!("error: {msg}");
        ExitCode::from(EXIT_INPUT)
    };
    let size = match parse_size(&args.size) {
        Some(s) => s,
        None => return input(format!("--size '{}': expected WIDTHxHEIGHT, like 1400x860", args.size)),
    };
    let plant = match load_plant_or_study(&args.file, args.variant.as_deref()) {
        Ok(p) => p,
        Err(e) => {
            eprint!("{e}");
            eprintln!();
            return ExitCode::from(EXIT_INPUT);
        }
    };
    let mut live = None;
    let source = if let (true, Some(tags)) = (args.live, &args.tags) {
        let map = match twinworks_adapters::tagmap::load_tag_map(tags, Some(&plant)) {
            Ok(m) => m,
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(EXIT_INPUT);
            }
        };
        if let Err(e) = twinworks_twins::limits::check_time_scale(args.time_scale) {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_INPUT);
        }
        let (rx, handle) = start_live(
            plant.clone(),
            map,
            args.seed.unwrap_or(plant.run.seed),
            args.time_scale,
            args.publish_audit.clone(),
        );
        live = Some(handle);
        ViewerSource::External { plant, rx }
    } else if let Some(path) = &args.schedule {
        let read = twinworks_twins::diagnostic::read_text(path)
            .and_then(|text| twinworks_aps::plant_plan::read_plant_schedule(&text, path, &plant));
        let schedule = match read {
            Ok(s) => s,
            Err(e) => {
                eprint!("{e}");
                eprintln!();
                return ExitCode::from(EXIT_INPUT);
            }
        };
        ViewerSource::Schedule {
            plant,
            schedule: Box::new(schedule),
        }
    } else {
        let until_s = match &args.until {
            None => None,
            Some(u) => match parse_duration(u) {
                Ok(d) if d.secs() >= 0.0 => Some(d.secs()),
                Ok(_) => return input(format!("--until '{u}' must not be negative")),
                Err(e) => return input(format!("--until '{u}': {e}")),
            },
        };
        let seed = args.seed.unwrap_or(plant.run.seed);
        ViewerSource::Simulate { plant, seed, until_s }
    };
    let options = ViewerOptions {
        size,
        ..ViewerOptions::default()
    };
    let res = match &args.screenshot {
        Some(path) => render_png(source, &options, path).map(|()| eprintln!("wrote {}", path.display())),
        None => run_window(source, options),
    };
    if let Some(live) = live
        && let Err(e) = live.stop()
    {
        eprintln!("error: live mirror: {e}");
        return ExitCode::from(EXIT_RUN);
    }
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(twinworks_viewer::ViewerError::Schedule(m)) => input(format!("schedule {m}")),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_RUN)
        }
    }
}

/// The live mirror on its own thread, stopped when the viewer closes.
#[cfg(feature = "viewer")]
struct LiveThread {
    stop: tokio::sync::oneshot::Sender<()>,
    thread: std::thread::JoinHandle<Result<(), String>>,
}

#[cfg(feature = "viewer")]
impl LiveThread {
    /// Stops the mirror and returns how it ended.
    fn stop(self) -> Result<(), String> {
        let _ = self.stop.send(());
        self.thread
            .join()
            .unwrap_or_else(|_| Err("the live thread panicked".into()))
    }
}

/// Starts the adapters' live mirror of `plant`, sending its snapshots (4 per second) to the
/// returned receiver: the viewer's external source.
#[cfg(feature = "viewer")]
fn start_live(
    plant: twinworks_twins::PlantModel,
    map: twinworks_adapters::tagmap::TagMap,
    seed: u64,
    time_scale: f64,
    publish_audit: PathBuf,
) -> (
    std::sync::mpsc::Receiver<twinworks_twins::snapshot::PlantSnapshot>,
    LiveThread,
) {
    use twinworks_adapters::live::{LiveOptions, run_live};
    let (tx, rx) = std::sync::mpsc::channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| format!("tokio runtime: {e}"))?;
        let opts = LiveOptions {
            snapshot_every: std::time::Duration::from_millis(250),
            seed,
            time_scale,
            publish_audit: Some(publish_audit),
            ..LiveOptions::default()
        };
        let sink = move |snap| {
            // The viewer closed: nothing to do but wait for the stop.
            let _ = tx.send(snap);
        };
        let stop = async move {
            let _ = stopped.await;
        };
        rt.block_on(run_live(&plant, std::sync::Arc::new(map), &opts, sink, stop))
            .map(|_| ())
    });
    (rx, LiveThread { stop, thread })
}

/// `1400x860` → `[1400.0, 860.0]`.
#[cfg(feature = "viewer")]
fn parse_size(s: &str) -> Option<[f32; 2]> {
    let (w, h) = s.split_once(['x', 'X'])?;
    let (w, h): (f32, f32) = (w.trim().parse().ok()?, h.trim().parse().ok()?);
    ((200.0..=8192.0).contains(&w) && (150.0..=8192.0).contains(&h)).then_some([w, h])
}

/// A plant file, or the baseline (or named variant) of a study file.
#[cfg(feature = "viewer")]
fn load_plant_or_study(path: &std::path::Path, variant: Option<&str>) -> Result<twinworks_twins::PlantModel, String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let is_study = text.lines().any(|l| l.trim() == "[study]");
    if !is_study {
        if let Some(v) = variant {
            return Err(format!(
                "error: --variant '{v}' needs a study file; {} is a plant file",
                path.display()
            ));
        }
        return twinworks_twins::plant_file::load_plant(path).map_err(|e| e.to_string());
    }
    let mut study = twinworks_scenarios::study_file::load_study(path).map_err(|e| e.to_string())?;
    let pick = match variant {
        None => Some(0),
        Some(v) => study.variants.iter().position(|x| x.name == v),
    };
    match pick {
        Some(i) if i < study.variants.len() => Ok(study.variants.swap_remove(i).plant),
        _ => {
            let names: Vec<&str> = study.variants.iter().map(|v| v.name.as_str()).collect();
            Err(format!(
                "error: {}: no variant '{}'; the study has: {}",
                path.display(),
                variant.unwrap_or(""),
                names.join(", ")
            ))
        }
    }
}
