//! `wasim run`: play scenario files against an integration.

use std::path::PathBuf;

use clap::Args;
use wasim_conformance::library::{self, Partition};

use super::conformance::{IntegrationArgs, options, run_and_report};

/// Arguments of `wasim run`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  wasim run scenarios/cap-naive-retry.toml
      play one scenario against the bundled reference integration
  wasim run scenarios/ --integration 'python3 my_bot.py' --out reports/mine
      the whole directory against your integration
  wasim run --explain scenarios/webhook-reorder.toml
      print the timeline in words, run nothing

Exit codes: 0 passed (at least one scenario passed, none failed), 1 a must check
failed, 2 harness or integration failure, or nothing judged (no scenario passed).")]
pub(crate) struct RunArgs {
    /// Scenario files or directories of them.
    #[arg(required = true, value_name = "SCENARIO")]
    scenarios: Vec<PathBuf>,
    #[command(flatten)]
    integration: IntegrationArgs,
    /// Where driver actions go (default http://127.0.0.1:$WASIM_WEBHOOK_PORT).
    #[arg(long, value_name = "URL")]
    driver_url: Option<String>,
    /// Print each scenario's timeline in words and exit.
    #[arg(long)]
    explain: bool,
}

pub(crate) fn run(args: RunArgs) -> anyhow::Result<u8> {
    let scenarios = library::load(&args.scenarios)?;
    if args.explain {
        for scenario in &scenarios {
            println!("{}", scenario.explain());
        }
        return Ok(wasim_reports::exit::OK);
    }
    let mut options = options(&args.integration)?;
    options.driver_url = args.driver_url;
    let verdict = run_and_report(&scenarios, None, &options, "run", Partition::WHOLE, |_| {
        Ok(())
    })?;
    Ok(verdict.exit_code())
}
