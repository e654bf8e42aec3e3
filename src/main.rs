//! The `wasim` command line: parse, call a crate, map the result to an exit code.

mod cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit codes are an API: CI pipelines branch on them.
pub(crate) mod exit_code {
    /// Success (certified, served until stopped).
    pub(crate) const OK: u8 = 0;
    /// Harness, configuration or integration failure.
    pub(crate) const FAILURE: u8 = 2;
}

#[derive(Debug, Parser)]
#[command(
    name = "wasim",
    version,
    about = "Simulation and conformance harness for WhatsApp Business Platform integrations"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the simulated platform (Cloud API, 360dialog messaging, control API).
    Serve(cmd::serve::ServeArgs),
    /// Post one signed sample webhook (a status, an inbound text, a template or partner
    /// event) to your receiver, to wire it up.
    Trigger(cmd::trigger::TriggerArgs),
    /// Play scenario files against an integration and judge it (exit 0 passed, 1
    /// violations, 2 harness failure).
    Run(cmd::run::RunArgs),
    /// Certify an integration against the whole scenario library (default: the bundled
    /// reference integration).
    Certify(cmd::certify::CertifyArgs),
    /// Generate event timelines, judge the integration on each, shrink the first
    /// failure to a minimal scenario file (exit 0 nothing found, 1 found, 2 harness).
    Explore(cmd::explore::ExploreArgs),
    /// Send-path load: wasim itself (--self) or an integration's campaign, with
    /// throughput, latency percentiles and behaviour under throttling.
    Bench(cmd::bench::BenchArgs),
    /// List the check catalog: ids, rules and where they come from.
    Checks,
    /// Work with reports (`merge` the slices of a partitioned certification).
    Report(cmd::report::ReportArgs),
    /// The bundled reference integration (the default --integration), correct or flawed.
    #[command(hide = true)]
    ReferenceIntegration(cmd::reference::ReferenceArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => cmd::serve::run(args).map(|()| exit_code::OK),
        Command::Trigger(args) => cmd::trigger::run(args).map(|()| exit_code::OK),
        Command::Run(args) => cmd::run::run(args),
        Command::Certify(args) => cmd::certify::run(args),
        Command::Explore(args) => cmd::explore::run(args),
        Command::Bench(args) => cmd::bench::run(args),
        Command::Checks => {
            cmd::checks::run();
            Ok(exit_code::OK)
        }
        Command::Report(args) => cmd::report::run(args),
        Command::ReferenceIntegration(args) => cmd::reference::run(args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(exit_code::FAILURE)
        }
    }
}
