//! `wasim-reference`: the reference integration, correct or with one flaw.

use std::process::ExitCode;

use clap::Parser;
use wasim_reference::{Config, Flaw};

/// The reference WhatsApp Business Platform integration wasim's conformance
/// runner judges.
///
/// Settings come from the WASIM_* environment variables the runner sets:
/// required WASIM_GRAPH_URL, WASIM_ACCESS_TOKEN, WASIM_PHONE_NUMBER_ID,
/// WASIM_APP_SECRET, WASIM_VERIFY_TOKEN, WASIM_WEBHOOK_PORT; optional
/// WASIM_SURFACE (graph or d360), WASIM_D360_URL, WASIM_D360_API_KEY,
/// WASIM_CHANNEL_ID, WASIM_WABA_ID, WASIM_PARTNER_URL, WASIM_PARTNER_ID,
/// WASIM_PARTNER_USERNAME, WASIM_PARTNER_PASSWORD, WASIM_PARTNER_API_KEY,
/// WASIM_PARTNER_SECRET.
#[derive(Debug, Parser)]
#[command(name = "wasim-reference", version)]
struct Args {
    /// Break exactly one rule (see --list-flaws).
    #[arg(long, env = "WASIM_REFERENCE_FLAW", value_name = "NAME")]
    flaw: Option<Flaw>,
    /// Print every flaw with one line of description, then exit.
    #[arg(long)]
    list_flaws: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.list_flaws {
        for flaw in Flaw::ALL {
            println!("{:<26} {}", flaw.name(), flaw.describe());
        }
        return ExitCode::SUCCESS;
    }
    let config = match Config::from_env(args.flaw) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("wasim-reference: {error}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("wasim-reference: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(wasim_reference::run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("wasim-reference: {error:#}");
            ExitCode::FAILURE
        }
    }
}
