//! The reference integration for wasim's conformance runner.
//!
//! A small WhatsApp Cloud API integration that follows the rules the runner
//! checks — signed and de-duplicated webhooks, fast acknowledgement, status
//! ranking, the per-user marketing cap (131049), opt-outs (131050), the 24-hour
//! customer service window, a bounded retry policy, paused templates (132015,
//! 132016 and `message_template_status_update`) and messages held by template
//! pacing (`held_for_quality_assessment`) — and, with a [`Flaw`],
//! breaks exactly one of them, so the runner's checks can be shown to catch it.
//!
//! Start it with [`run`] and a [`Config`] (from the `WASIM_*` environment); the
//! runner talks to it over HTTP: Meta's webhooks on `/webhook`, and the driver
//! hooks `POST /wasim/actions`, `GET /wasim/messages/{wamid}`, `POST /wasim/reset`.

mod action;
mod config;
mod flaw;
mod send;
mod server;
mod state;
mod webhook;
mod worker;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use anyhow::Context;

pub use config::Config;
pub use flaw::Flaw;

/// Serves the integration on `127.0.0.1:{config.port}` until the process is
/// killed, or returns `Ok` after SIGTERM or Ctrl-C.
///
/// Routes: `GET`/`POST /webhook`, `POST /wasim/actions`,
/// `GET /wasim/messages/{wamid}`, `POST /wasim/reset`.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let config = Arc::new(config);
    let graph = send::Graph::new(&config).context("cannot build the HTTP client")?;
    let shared = Arc::new(Mutex::new(worker::Shared::new(config.flaw)));
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    let queue = worker::Queue::new(shared.clone(), sender);
    tokio::spawn(worker::Worker::new(shared.clone(), graph).run(receiver));
    let router = server::router(config.clone(), shared, queue);
    let addr = SocketAddr::from(([127, 0, 0, 1], config.port));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let flaw = config.flaw.map_or("none", Flaw::name);
    println!("wasim-reference listening on http://{addr}/webhook (flaw: {flaw})");
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown())
        .await
        .context("server stopped")?;
    println!("wasim-reference stopped");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
