//! `wasim certify`: the whole scenario library against one integration.

use std::path::PathBuf;

use clap::Args;
use wasim_conformance::library::{self, Partition};

use super::conformance::{IntegrationArgs, options, run_and_report};

/// Arguments of `wasim certify`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  wasim certify
      certify the bundled reference integration (shows the whole product)
  wasim certify --integration 'node server.js' --out reports/out
      certify yours; reports in JSON, Markdown, JUnit XML and HTML
  wasim certify --integration ./bot --partition 2/4
      the second of four slices, for a CI matrix; join them with `wasim report merge`

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
}

pub(crate) fn run(args: CertifyArgs) -> anyhow::Result<u8> {
    let scenarios = match &args.scenarios {
        Some(dir) => library::load(std::slice::from_ref(dir))?,
        None => library::builtin()?,
    };
    let options = options(&args.integration)?;
    let verdict = run_and_report(&scenarios, &options, "certify", args.partition)?;
    Ok(verdict.exit_code())
}
