//! The server: binds an address and serves every surface's router over the
//! shared [`AppState`], with the clock driver beside it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::state::{AppState, Limits, ServeConfig};

/// Worker threads of the server's runtime. The world sits behind one lock, so
/// a second worker only waits for it: on 2 cores, with the load generator on
/// the same machine, one worker serves about 30% more sends per second than two
/// (benches/README.md); the kernel's network work still spreads over the cores.
pub const SERVE_WORKERS: usize = 1;

/// The runtime `wasim serve` runs on (and `wasim bench --self` measures).
pub fn server_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(SERVE_WORKERS)
        .thread_name("wasim-serve")
        .enable_all()
        .build()
}

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The world or config is invalid.
    #[error("{0}")]
    Config(String),
    /// The address could not be bound.
    #[error("failed to bind {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The server stopped with an error.
    #[error("server failed: {0}")]
    Serve(std::io::Error),
}

/// A server running in the background (see [`start`]); stops when dropped or
/// [`Running::stop`]ped.
#[derive(Debug)]
pub struct Running {
    /// The bound address.
    pub addr: SocketAddr,
    /// The simulator's state, for driving it in process.
    pub state: Arc<AppState>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), ServeError>>,
}

impl Running {
    /// Stops serving and waits for the server task to end.
    pub async fn stop(mut self) -> Result<(), ServeError> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        match (&mut self.task).await {
            Ok(result) => result,
            Err(error) => Err(ServeError::Config(format!(
                "the server task failed: {error}"
            ))),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// Binds `addr` and serves every surface in the background (on the current tokio
/// runtime) until stopped.
pub async fn start(addr: SocketAddr, config: ServeConfig) -> Result<Running, ServeError> {
    if let Some(token) = &config.control_token
        && token.chars().count() < crate::api::control::CONTROL_TOKEN_CHARS_MIN
    {
        return Err(ServeError::Config(format!(
            "the control token is {}: pass a token of at least {} characters (e.g. `openssl rand -hex 16`)",
            if token.is_empty() {
                "empty".to_owned()
            } else {
                format!("{} characters", token.chars().count())
            },
            crate::api::control::CONTROL_TOKEN_CHARS_MIN
        )));
    }
    if !addr.ip().is_loopback() && config.control_token.is_none() {
        return Err(ServeError::Config(format!(
            "refusing to serve the control API on non-loopback address {addr} without a control token: pass --control-token (or bind 127.0.0.1)"
        )));
    }
    let state = AppState::start(config).map_err(|e| ServeError::Config(e.to_string()))?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    let local = listener.local_addr().map_err(ServeError::Serve)?;
    let clock = tokio::spawn(state.clone().drive_clock());
    let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
    let router = crate::api::router(state.clone());
    let limits = state.limits();
    let task = tokio::spawn(async move {
        let served = accept(listener, router, limits, stopped).await;
        clock.abort();
        served
    });
    Ok(Running {
        addr: local,
        state,
        shutdown: Some(shutdown),
        task,
    })
}

/// How long a stopping server waits for requests in progress.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Accepts connections until `stopped`, each served with the limits; at the
/// connection cap a new connection is answered 503 and closed, so a flood of idle
/// or slow connections never starves new clients of an answer.
async fn accept(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    limits: Limits,
    mut stopped: tokio::sync::oneshot::Receiver<()>,
) -> Result<(), ServeError> {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(hyper_util::rt::TokioTimer::new())
        // Also the idle time allowed between keep-alive requests: waiting for the
        // next request is reading its head.
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    let room = Arc::new(Semaphore::new(limits.connections_max));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of descriptors or a connection reset before accept:
                    // others may still be served; do not spin.
                    tracing::warn!("failed to accept a connection: {error}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut stopped => break,
        };
        let Ok(permit) = room.clone().try_acquire_owned() else {
            tokio::spawn(refuse(stream, limits.connections_max));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = hyper_util::service::TowerToHyperService::new(router.clone());
        let connection = http.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!("connection ended: {error}");
            }
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still in progress after {SHUTDOWN_GRACE:?}: stopping anyway");
    }
    Ok(())
}

/// Answers a connection over the cap with a 503 and closes it.
async fn refuse(mut stream: tokio::net::TcpStream, connections_max: usize) {
    use tokio::io::AsyncWriteExt;
    let body = serde_json::json!({"error": {
        "message": format!("wasim is serving its maximum of {connections_max} connections: retry shortly, or close idle ones (--connections-max raises the cap)"),
    }})
    .to_string();
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: {}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(answer.as_bytes())).await;
    let _ = stream.shutdown().await;
}

/// Binds `addr` and serves every surface until the process stops. `on_ready` gets
/// the bound address (useful with port 0).
pub async fn serve(
    addr: SocketAddr,
    config: ServeConfig,
    on_ready: impl FnOnce(SocketAddr, &AppState),
) -> Result<(), ServeError> {
    let mut running = start(addr, config).await?;
    let state = running.state.clone();
    on_ready(running.addr, &state);
    // Meta verifies a callback when it is set: do it once the server listens.
    if state.read(|sim| sim.world.webhook_endpoints().callback_url.is_some()) {
        let verifier = state.clone();
        tokio::spawn(async move {
            if let Ok(outcome) = verifier.verify_webhook().await
                && !outcome.echoed
            {
                tracing::warn!(
                    "webhook verification handshake failed: {}",
                    outcome.error.unwrap_or_default()
                );
            }
        });
    }
    let task = &mut running.task;
    match task.await {
        Ok(result) => result,
        Err(error) => Err(ServeError::Config(format!(
            "the server task failed: {error}"
        ))),
    }
}
