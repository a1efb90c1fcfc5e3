//! `twin`: the Twinworks command line. Argument parsing, progress and output formats only;
//! all domain logic lives in the library crates.

mod dispatch_cmd;
mod forecast_cmd;
mod gantt;
mod live_cmd;
mod run_cmd;
mod schedule_cmd;
mod study_cmd;
mod view_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Twinworks: a digital twin of a factory.
#[derive(Parser)]
#[command(name = "twin", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Simulate a plant file and print its KPIs.
    Run(run_cmd::RunArgs),
    /// Run a what-if study: variants of a plant compared with common random numbers.
    Study(study_cmd::StudyArgs),
    /// Compare dispatching policies (rules, the APS plan) on a plant over replications (CRN).
    Dispatch(dispatch_cmd::DispatchArgs),
    /// Forecast each open order's chance to be on time, from forks of the present state.
    Forecast(forecast_cmd::ForecastArgs),
    /// Schedule a job-shop / flexible job-shop instance, or benchmark a directory of them.
    Schedule(schedule_cmd::ScheduleArgs),
    /// Watch a plant on the desktop viewer: simulated, or a schedule (`--screenshot` renders a PNG).
    View(view_cmd::ViewArgs),
    /// Mirror a running plant: the twin follows the tags of a tag map (OPC UA, Modbus, MQTT).
    Live(live_cmd::LiveArgs),
    /// Write setpoints to the plant through the write guard (limits, rate, permissive), audited.
    Write(live_cmd::WriteArgs),
    /// Run a plant file as a virtual plant in real time, served over OPC UA and Modbus TCP.
    ServePlant(live_cmd::ServeArgs),
}

/// Exit code for invalid input files or arguments.
pub const EXIT_INPUT: u8 = 2;
/// Exit code for a run that failed.
pub const EXIT_RUN: u8 = 1;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => run_cmd::run(args),
        Command::Study(args) => study_cmd::run(args),
        Command::Dispatch(args) => dispatch_cmd::run(args),
        Command::Forecast(args) => forecast_cmd::run(args),
        Command::Schedule(args) => schedule_cmd::run(args),
        Command::View(args) => view_cmd::run(args),
        Command::Live(args) => live_cmd::live(args),
        Command::Write(args) => live_cmd::write(args),
        Command::ServePlant(args) => live_cmd::serve_plant(args),
    }
}
