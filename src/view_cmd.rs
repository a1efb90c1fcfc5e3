//! `twin view`: the desktop viewer on a simulated plant or a schedule (crate
//! `twinworks-viewer`, cargo feature `viewer`, on by default).

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

#[cfg(feature = "viewer")]
pub fn run(args: ViewArgs) -> ExitCode {
    use twinworks_aps::plant_plan::{FORMAT, PlantSchedule};
    use twinworks_engine::parse_duration;
    use twinworks_viewer::{ViewerOptions, ViewerSource, render_png, run_window};

    use crate::{EXIT_INPUT, EXIT_RUN};

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
    let source = if let Some(path) = &args.schedule {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => return input(format!("{}: {e}", path.display())),
        };
        let schedule: PlantSchedule = match serde_json::from_str(&text) {
            Ok(s) => s,
            Err(e) => return input(format!("{}:{}:{}: {e}", path.display(), e.line(), e.column())),
        };
        if schedule.format != FORMAT {
            return input(format!(
                "{}: format '{}' is not '{FORMAT}'",
                path.display(),
                schedule.format
            ));
        }
        if schedule.plant != plant.name {
            return input(format!(
                "{}: the schedule is for plant '{}', not '{}'",
                path.display(),
                schedule.plant,
                plant.name
            ));
        }
        ViewerSource::Schedule { plant, schedule }
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
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(twinworks_viewer::ViewerError::Schedule(m)) => input(format!("schedule {m}")),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_RUN)
        }
    }
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
