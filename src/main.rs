//! The `wasim` command line: parse, call a crate, map the result to an exit code.

mod cmd;
mod key;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use wasim_reports::exit as exit_code;

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
    key::install();
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
            eprintln!("error: {}", chain(&error));
            ExitCode::from(exit_code::FAILURE)
        }
    }
}

/// The error and its causes on one line, each cause once: an error whose
/// message already quotes its source (`failed to bind …: Address already in
/// use (os error 98)`) does not get the source appended a second time.
fn chain(error: &anyhow::Error) -> String {
    let mut text = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("failed to bind 127.0.0.1:80: {source}")]
    struct Bind {
        source: std::io::Error,
    }

    #[test]
    fn a_cause_already_in_the_message_is_not_repeated() {
        let io = std::io::Error::new(std::io::ErrorKind::AddrInUse, "Address already in use");
        let error = anyhow::Error::new(Bind { source: io });
        assert_eq!(
            chain(&error),
            "failed to bind 127.0.0.1:80: Address already in use"
        );
        let error = anyhow::anyhow!("inner").context("outer");
        assert_eq!(chain(&error), "outer: inner");
    }
}
