//! `wasim reference-integration`: the bundled reference integration, correct or with
//! one flaw, as the default `--integration` of `run` and `certify`.

use anyhow::Context;
use clap::Args;
use wasim_reference::{Config, Flaw};

/// Arguments of `wasim reference-integration`.
#[derive(Debug, Args)]
pub(crate) struct ReferenceArgs {
    /// Break one rule on purpose (see --list-flaws).
    #[arg(long, value_name = "NAME", env = "WASIM_REFERENCE_FLAW")]
    flaw: Option<Flaw>,
    /// List the flaws and exit.
    #[arg(long)]
    list_flaws: bool,
}

pub(crate) fn run(args: ReferenceArgs) -> anyhow::Result<u8> {
    if args.list_flaws {
        for flaw in Flaw::ALL {
            println!("{:<22} {}", flaw.name(), flaw.describe());
        }
        return Ok(wasim_reports::exit::OK);
    }
    let config = Config::from_env(args.flaw).map_err(anyhow::Error::msg)?;
    let runtime = tokio::runtime::Runtime::new().context("failed to start the async runtime")?;
    runtime.block_on(wasim_reference::run(config))?;
    Ok(wasim_reports::exit::OK)
}
