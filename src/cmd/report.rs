//! `wasim report merge`: join the JSON reports of partition slices.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};

use super::conformance::write;

/// Arguments of `wasim report`.
#[derive(Debug, Args)]
pub(crate) struct ReportArgs {
    #[command(subcommand)]
    command: ReportCommand,
}

#[derive(Debug, Subcommand)]
enum ReportCommand {
    /// Join the reports of `wasim certify --partition K/N` slices into one, in every format.
    #[command(after_help = "Example:
  wasim report merge slice-1/ slice-2/ slice-3/ --out reports/out

Exit codes: the merged verdict's (0 certified, 1 violations, 2 harness failure); 2 on bad input.")]
    Merge {
        /// Report directories (holding report.json) or report.json files.
        #[arg(required = true, value_name = "DIR")]
        inputs: Vec<PathBuf>,
        /// Where to write the merged report.
        #[arg(long, value_name = "DIR", default_value = "reports/out")]
        out: PathBuf,
    },
}

pub(crate) fn run(args: ReportArgs) -> anyhow::Result<u8> {
    let ReportCommand::Merge { inputs, out } = args.command;
    let mut reports = Vec::new();
    for input in &inputs {
        let path = if input.is_dir() {
            input.join("report.json")
        } else {
            input.clone()
        };
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        reports
            .push(wasim_reports::from_json(&text).with_context(|| format!("{}", path.display()))?);
    }
    let merged = wasim_reports::merge(reports)?;
    for path in write(&merged, &out)? {
        eprintln!("  {}", path.display());
    }
    eprintln!("merged {} report(s): {:?}", inputs.len(), merged.verdict);
    Ok(merged.verdict.exit_code())
}
