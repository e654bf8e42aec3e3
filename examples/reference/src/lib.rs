//! The reference integration for wasim's conformance runner.
//!
//! A small WhatsApp Business Platform integration that follows the rules the
//! runner checks — signed and de-duplicated webhooks, fast acknowledgement,
//! status ranking, the per-user marketing cap (131049), opt-outs (131050), the
//! 24-hour customer service window, a bounded retry policy, paused templates
//! (132015, 132016 and `message_template_status_update`), messages held by
//! template pacing (`held_for_quality_assessment`), channel key rotation without
//! a lost or doubled message, templates held while 360dialog disables template
//! messaging, securing a compromised account (halt, new key, new PIN, wait) and
//! registration without retry loops — and, with a [`Flaw`], breaks exactly one of
//! them, so the runner's checks can be shown to catch it.
//!
//! Sends go to the Cloud API, or with `WASIM_SURFACE=d360` to 360dialog's
//! messaging API with the channel key ([`Surface`]).
//!
//! Start it with [`run`] and a [`Config`] (from the `WASIM_*` environment); the
//! runner talks to it over HTTP: Meta's webhooks on `/webhook`, 360dialog's
//! partner webhooks on `/partner-webhook`, and the driver hooks
//! `POST /wasim/actions`, `GET /wasim/messages/{wamid}`, `POST /wasim/reset`.

mod account;
mod action;
mod config;
mod flaw;
mod keys;
mod outbox;
mod partner;
mod send;
mod server;
mod state;
#[cfg(test)]
mod testing;
mod webhook;
mod worker;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use anyhow::Context;

pub use config::{Config, Surface};
pub use flaw::Flaw;

/// The routes and the worker for `config`, not yet serving or running.
fn assemble(config: Config) -> anyhow::Result<(axum::Router, impl Future<Output = ()>)> {
    let config = Arc::new(config);
    let keys = Arc::new(keys::Keys::new(&config));
    let platform = send::Platform::new(&config, keys).context("cannot build the HTTP client")?;
    let partner = partner::Partner::new(&config).context("cannot build the HTTP client")?;
    let shared = Arc::new(Mutex::new(worker::Shared::new(config.flaw)));
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    let queue = worker::Queue::new(shared.clone(), sender);
    let worker = worker::Worker::new(config.clone(), shared.clone(), platform, partner);
    let router = server::router(config, shared, queue);
    Ok((router, worker.run(receiver)))
}

/// Serves the integration on `127.0.0.1:{config.port}` until the process is
/// killed, or returns `Ok` after SIGTERM or Ctrl-C.
///
/// Routes: `GET`/`POST /webhook`, `POST /partner-webhook`, `POST /wasim/actions`,
/// `GET /wasim/messages/{wamid}`, `POST /wasim/reset`.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let addr = SocketAddr::from(([127, 0, 0, 1], config.port));
    let flaw = config.flaw.map_or("none", Flaw::name);
    let surface = config.surface.name();
    let (router, worker) = assemble(config)?;
    tokio::spawn(worker);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    println!(
        "wasim-reference listening on http://{addr}/webhook (surface: {surface}, flaw: {flaw})"
    );
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
