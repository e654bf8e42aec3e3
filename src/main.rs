//! The `wasim` command line: parse, call a crate, map the result to an exit code.

mod cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit codes are an API: CI pipelines branch on them.
pub(crate) mod exit_code {
    /// Success (certified, served until stopped).
    pub(crate) const OK: u8 = 0;
    /// Violations found.
    #[expect(dead_code, reason = "used by `wasim certify` (issue 4)")]
    pub(crate) const VIOLATIONS: u8 = 1;
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => cmd::serve::run(args),
        Command::Trigger(args) => cmd::trigger::run(args),
    };
    match result {
        Ok(()) => ExitCode::from(exit_code::OK),
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(exit_code::FAILURE)
        }
    }
}
