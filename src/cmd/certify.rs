//! `wasim certify`: the whole scenario library against one integration.

use std::path::PathBuf;

use clap::Args;
use wasim_conformance::library::{self, Partition};

use wasim_conformance::explore::ExploreOptions;

use super::conformance::{IntegrationArgs, options, run_and_report};
use super::explore::explore_and_save;

/// Arguments of `wasim certify`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  wasim certify
      certify the bundled reference integration (shows the whole product)
  wasim certify --integration 'node server.js' --out reports/out
      certify yours; reports in JSON, Markdown, JUnit XML and HTML
  wasim certify --integration ./bot --partition 2/4
      the second of four slices, for a CI matrix; join them with `wasim report merge`
  wasim certify --explore-cases 50 --explore-seed 9
      a longer property-based exploration after the library

Saved exploration failures (scenarios/regressions/*.toml) run first; then
--explore-cases generated cases (8 by default) are explored.

Exit codes: 0 certified, 1 violations, 2 harness or integration failure.")]
pub(crate) struct CertifyArgs {
    #[command(flatten)]
    integration: IntegrationArgs,
    /// Run only slice K of N of the library (round robin, deterministic).
    #[arg(long, value_name = "K/N", default_value = "1/1")]
    partition: Partition,
    /// A scenario library directory instead of the built-in one.
    #[arg(long, value_name = "DIR")]
    scenarios: Option<PathBuf>,
    /// Saved exploration failures, run before the library when the directory
    /// exists (`wasim explore` writes them there).
    #[arg(long, value_name = "DIR", default_value = "scenarios/regressions")]
    regressions: PathBuf,
    /// Generated cases explored after the library (0: none). Only the first slice
    /// of a partitioned certification explores.
    #[arg(long, value_name = "N", default_value_t = 8)]
    explore_cases: u32,
    /// The exploration's seed.
    #[arg(long, value_name = "N", default_value_t = 1)]
    explore_seed: u64,
}

pub(crate) fn run(args: CertifyArgs) -> anyhow::Result<u8> {
    let mut scenarios = if args.regressions.is_dir() {
        library::load(std::slice::from_ref(&args.regressions))?
    } else {
        Vec::new()
    };
    scenarios.extend(match &args.scenarios {
        Some(dir) => library::load(std::slice::from_ref(dir))?,
        None => library::builtin()?,
    });
    let options = options(&args.integration)?;
    let explore = args.explore_cases > 0 && args.partition.is_first();
    let settings = ExploreOptions {
        cases: args.explore_cases,
        seed: args.explore_seed,
        ..ExploreOptions::default()
    };
    let replay = args
        .integration
        .integration
        .as_ref()
        .map(|i| format!(" --integration '{i}'"))
        .unwrap_or_default();
    let verdict = run_and_report(&scenarios, &options, "certify", args.partition, |report| {
        if !explore {
            return Ok(());
        }
        eprintln!();
        let (found, summary, _) =
            explore_and_save(&options, &settings, &args.regressions, &replay)?;
        report.scenarios.extend(found);
        report.exploration = Some(summary);
        report.verdict = wasim_reports::Report::verdict_of(&report.scenarios);
        Ok(())
    })?;
    Ok(verdict.exit_code())
}
