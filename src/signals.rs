//! SIGINT and SIGTERM while `run`, `certify`, `explore` or `bench` drives an
//! integration (Ctrl-C, a cancelled CI job). The first signal raises the run's
//! [`Interrupt`]: the scenarios in play stop, every integration's process group
//! gets TERM then KILL after the grace, the report of what ran is written and
//! the process exits 130 (SIGINT) or 143 (SIGTERM). A second signal does not
//! wait: every integration group is killed at once and the process exits with
//! no report.

use std::sync::OnceLock;

use anyhow::Context;
use tokio::signal::unix::{SignalKind, signal};
use wasim_conformance::runner::{Interrupt, Signal, process};

/// The process's one interrupt, once its listener is installed.
static INSTALLED: OnceLock<Interrupt> = OnceLock::new();

/// The interrupt a signal raises, its listener installed on first use. From
/// then on SIGINT and SIGTERM no longer end the process by themselves.
pub(crate) fn interrupt() -> anyhow::Result<Interrupt> {
    if let Some(interrupt) = INSTALLED.get() {
        return Ok(interrupt.clone());
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .context("failed to start the signal listener")?;
    let (mut int, mut term) = runtime
        .block_on(async {
            Ok::<_, std::io::Error>((
                signal(SignalKind::interrupt())?,
                signal(SignalKind::terminate())?,
            ))
        })
        .context("failed to listen for SIGINT and SIGTERM")?;
    let interrupt = INSTALLED.get_or_init(Interrupt::new).clone();
    let raised = interrupt.clone();
    std::thread::Builder::new()
        .name("wasim-signals".to_owned())
        .spawn(move || {
            runtime.block_on(async move {
                loop {
                    let signal = tokio::select! {
                        _ = int.recv() => Signal::Interrupt,
                        _ = term.recv() => Signal::Terminate,
                    };
                    if raised.raised().is_none() {
                        eprintln!(
                            "\n{}: stopping the integration and writing the report of what ran (send it again to stop at once)",
                            signal.name()
                        );
                        raised.raise(signal);
                    } else {
                        process::kill_all();
                        eprintln!(
                            "\n{}: killed every integration process; no report written",
                            signal.name()
                        );
                        std::process::exit(i32::from(signal.exit_code()));
                    }
                }
            });
        })
        .context("failed to start the signal listener")?;
    Ok(interrupt)
}
