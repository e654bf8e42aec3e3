//! The shared state behind every handler: the sim under its lock, wall time mapped
//! to virtual time, the clock driver, the webhook deliverer and the trace file.
//! The only place that reads the wall clock ([`wall_now`]).

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::engine::Sim;
use crate::model::numbers::HandshakeReport;
use crate::model::spec::WorldError;
use crate::model::{
    ClockMode, Command, Refusal, Reply, SimTime, Verification, WebhookDelivery, World, WorldSpec,
};
use crate::trace::{TRACE_RECORDS_MAX, Trace, TraceEvent};
use crate::webhook::deliver::redact_url;
use crate::webhook::verify::handshake;
use crate::webhook::{Deliverer, DeliveryConfig};

/// Most timer steps one `clock/advance` fires before giving up (a runaway guard).
pub const ADVANCE_STEPS_MAX: usize = 5_000_000;

/// The wall clock. The one sanctioned reader (see `clippy.toml`).
#[expect(
    clippy::disallowed_methods,
    reason = "the shared state is where wall time enters"
)]
pub fn wall_now() -> Instant {
    Instant::now()
}

/// How to run the simulated platform.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// The world.
    pub spec: WorldSpec,
    /// Seed override (`--seed`).
    pub seed: Option<u64>,
    /// Policy profile override (`--policy`).
    pub policy: Option<String>,
    /// Clock mode.
    pub clock: ClockMode,
    /// Webhook URL override (`--webhook-url`).
    pub webhook_url: Option<String>,
    /// Where to write the trace as JSON Lines, besides `GET /_wasim/trace`.
    pub trace_path: Option<PathBuf>,
    /// Token the control API requires (`X-Wasim-Control-Token`); required off loopback.
    pub control_token: Option<String>,
    /// How long one webhook attempt or handshake may take. Default 10 s (Meta's is
    /// unpublished).
    pub webhook_timeout: Duration,
    /// What one client may hold of the server.
    pub limits: Limits,
    /// Trace records kept in memory (the newest; `trace_path` gets every one).
    /// Default [`TRACE_RECORDS_MAX`].
    pub trace_records_max: usize,
}

/// What the server gives its clients at most (`wasim serve --help` names the flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connections served at once; one more is answered 503 and closed. Default 1024.
    pub connections_max: usize,
    /// How long a request's headers may take to arrive, and a kept-alive
    /// connection may stay idle. Default 30 s.
    pub header_read_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            connections_max: 1024,
            header_read_timeout: Duration::from_secs(30),
        }
    }
}

impl ServeConfig {
    /// The default world, manual clock.
    pub fn new(spec: WorldSpec) -> Self {
        ServeConfig {
            spec,
            seed: None,
            policy: None,
            clock: ClockMode::Manual,
            webhook_url: None,
            trace_path: None,
            control_token: None,
            webhook_timeout: Duration::from_secs(10),
            limits: Limits::default(),
            trace_records_max: TRACE_RECORDS_MAX,
        }
    }
}

#[derive(Debug)]
struct ClockState {
    mode: ClockMode,
    /// Wall instant and virtual time at which the current rate started.
    anchor_wall: Instant,
    anchor_sim: SimTime,
}

#[derive(Debug)]
struct TraceFile {
    file: File,
    written: usize,
}

/// Why the shared state could not start or act.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The world (its file, seed or profile) is invalid.
    #[error("{0}")]
    World(#[from] WorldError),
    /// The HTTP client for webhooks could not be built.
    #[error("failed to build the HTTP client: {0}")]
    Client(String),
    /// The trace file could not be created.
    #[error("failed to create trace file {path}: {source}")]
    TraceFile {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// One `clock/advance` fired [`ADVANCE_STEPS_MAX`] timer steps.
    #[error("stopped after {ADVANCE_STEPS_MAX} timer steps; advance in smaller steps")]
    TooManySteps,
}

/// Shared state behind every handler.
#[derive(Debug)]
pub struct AppState {
    sim: Mutex<Sim>,
    clock: Mutex<ClockState>,
    trace_file: Option<Mutex<TraceFile>>,
    deliverer: Deliverer,
    /// For verification handshakes.
    http: reqwest::Client,
    config: ServeConfig,
    wake: Notify,
    /// The virtual ms the clock driver sleeps until (0 while it is deciding):
    /// a call wakes it only when it brings a timer due before that.
    sleeping_until: AtomicU64,
    /// Serializes `clock/advance` calls so steps never interleave.
    advancing: tokio::sync::Mutex<()>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock is a bug; the state is still the best we have.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl AppState {
    /// Builds the world and starts the delivery worker (needs a tokio runtime).
    pub fn start(mut config: ServeConfig) -> Result<Arc<AppState>, StateError> {
        if let Some(url) = config.webhook_url.clone() {
            config.spec.webhook_url = Some(url);
        }
        let world = World::new(config.spec.clone(), config.seed, config.policy.as_deref())?;
        let http = reqwest::Client::builder()
            .build()
            .map_err(|e| StateError::Client(e.to_string()))?;
        let trace_file = match &config.trace_path {
            Some(path) => Some(Mutex::new(TraceFile {
                file: File::create(path).map_err(|source| StateError::TraceFile {
                    path: path.display().to_string(),
                    source,
                })?,
                written: 0,
            })),
            None => None,
        };
        let mut delivery = DeliveryConfig::new(
            config.spec.app_secret.clone(),
            config.spec.partner.webhook_secret.clone(),
        );
        delivery.timeout = config.webhook_timeout;
        let state = Arc::new_cyclic(|weak: &Weak<AppState>| {
            let weak = weak.clone();
            let report = Arc::new(move |command: Command| {
                if let Some(state) = weak.upgrade() {
                    // An attempt's report is never refused; nothing to answer.
                    let _ = state.apply(command);
                }
            });
            AppState {
                sim: Mutex::new(Sim::with_trace(
                    world,
                    Trace::with_capacity(config.trace_records_max),
                )),
                clock: Mutex::new(ClockState {
                    mode: config.clock,
                    anchor_wall: wall_now(),
                    anchor_sim: SimTime::ZERO,
                }),
                trace_file,
                deliverer: Deliverer::start(delivery, report, wall_now),
                http,
                config,
                wake: Notify::new(),
                sleeping_until: AtomicU64::new(0),
                advancing: tokio::sync::Mutex::new(()),
            }
        });
        state.flush_trace(&lock(&state.sim));
        Ok(state)
    }

    /// The clock mode.
    pub fn clock_mode(&self) -> ClockMode {
        lock(&self.clock).mode
    }

    /// What the server gives its clients at most.
    pub fn limits(&self) -> Limits {
        self.config.limits
    }

    /// The token the control API requires, if any.
    pub fn control_token(&self) -> Option<&str> {
        self.config.control_token.as_deref()
    }

    /// Virtual now: the wall clock mapped through the mode, never before the world's time.
    pub fn now(&self) -> SimTime {
        let clock = lock(&self.clock);
        let world_now = lock(&self.sim).world.now();
        Self::now_from(&clock, world_now)
    }

    /// The sim, locked, and virtual now (the clock is read under both locks, then
    /// released: no call holds it while the world works).
    fn sim_at_now(&self) -> (MutexGuard<'_, Sim>, SimTime) {
        let clock = lock(&self.clock);
        let sim = lock(&self.sim);
        let now = Self::now_from(&clock, sim.world.now());
        (sim, now)
    }

    fn now_from(clock: &ClockState, world_now: SimTime) -> SimTime {
        match clock.mode {
            ClockMode::Manual => world_now,
            mode => {
                let elapsed =
                    u64::try_from(wall_now().duration_since(clock.anchor_wall).as_millis())
                        .unwrap_or(u64::MAX);
                clock
                    .anchor_sim
                    .plus_ms(elapsed.saturating_mul(mode.rate()))
                    .max(world_now)
            }
        }
    }

    /// Runs `f` on the sim at virtual now, fires what is due, queues the webhooks
    /// produced and writes new trace records to the trace file.
    pub fn with_sim<R>(&self, f: impl FnOnce(&mut Sim, SimTime) -> R) -> R {
        let (mut sim, now) = self.sim_at_now();
        // Timers due by now happened before this call: fire them first.
        let due = sim.advance(now);
        self.queue(&mut sim, due);
        let result = f(&mut sim, now);
        self.flush_trace(&sim);
        let next = sim.world.next_deadline();
        drop(sim);
        if next.is_some_and(|next| next.as_ms() < self.sleeping_until.load(Ordering::SeqCst)) {
            self.wake.notify_one();
        }
        result
    }

    /// Applies one command at virtual now and queues its webhooks.
    pub fn apply(&self, command: Command) -> Result<Reply, Refusal> {
        self.with_sim(|sim, now| {
            let (reply, deliveries) = sim.apply(now, command);
            self.queue(sim, deliveries);
            reply
        })
    }

    /// Queues webhooks while the sim is locked, so they enter the queue in the order
    /// the model emitted them; traces any the queue could not take.
    pub fn queue(&self, sim: &mut Sim, deliveries: Vec<WebhookDelivery>) {
        for skipped in self.deliverer.enqueue(deliveries) {
            let now = sim.world.now();
            let (_, more) = sim.apply(now, skipped);
            debug_assert!(more.is_empty(), "a skipped webhook produced webhooks");
        }
    }

    /// Waits until every queued webhook has been attempted.
    pub async fn flush_webhooks(&self) {
        self.deliverer.flush().await;
    }

    /// Moves virtual time forward by `ms`, firing every due timer at its own time and
    /// waiting for each step's webhooks to be attempted. Returns the new time.
    pub async fn advance_by(&self, ms: u64) -> Result<SimTime, StateError> {
        let _one_at_a_time = self.advancing.lock().await;
        let (from, target) = {
            let mut clock = lock(&self.clock);
            let sim = lock(&self.sim);
            let from = Self::now_from(&clock, sim.world.now());
            let target = from.plus_ms(ms);
            if clock.mode != ClockMode::Manual {
                // Shift the anchor so the running clock continues from the new time.
                clock.anchor_wall = wall_now();
                clock.anchor_sim = target;
            }
            (from, target)
        };
        self.flush_webhooks().await;
        let mut steps = 0usize;
        loop {
            let step = {
                let mut sim = lock(&self.sim);
                match sim.world.next_deadline() {
                    Some(deadline) if deadline <= target => {
                        let deliveries = sim.advance(deadline);
                        self.queue(&mut sim, deliveries);
                        self.flush_trace(&sim);
                        true
                    }
                    _ => false,
                }
            };
            if !step {
                break;
            }
            self.flush_webhooks().await;
            steps += 1;
            if steps >= ADVANCE_STEPS_MAX {
                return Err(StateError::TooManySteps);
            }
        }
        {
            let mut sim = lock(&self.sim);
            let deliveries = sim.advance(target);
            self.queue(&mut sim, deliveries);
            sim.record(TraceEvent::ClockAdvanced {
                from_ms: from.as_ms(),
                to_ms: target.as_ms(),
            });
            self.flush_trace(&sim);
        }
        self.flush_webhooks().await;
        Ok(target)
    }

    /// Replaces the world with a fresh one from the same spec and seed.
    pub fn reset(&self) -> Result<(), StateError> {
        let world = World::new(
            self.config.spec.clone(),
            self.config.seed,
            self.config.policy.as_deref(),
        )?;
        let mut world = world;
        let mut clock = lock(&self.clock);
        let mut sim = lock(&self.sim);
        world.keep_endpoints(sim.world.webhook_endpoints().clone());
        sim.reset(world);
        clock.anchor_wall = wall_now();
        clock.anchor_sim = SimTime::ZERO;
        self.flush_trace(&sim);
        Ok(())
    }

    /// Performs Meta's verification handshake with the app callback and
    /// records the outcome. `Err` when no callback URL is set.
    pub async fn verify_webhook(&self) -> Result<HandshakeReport, Refusal> {
        let verification = match self.apply(Command::VerifyWebhook)? {
            Reply::Verify(verification) => verification,
            other => return Err(Refusal::Invalid(format!("unexpected reply {other:?}"))),
        };
        let outcome = self.handshake(&verification).await;
        let _ = self.apply(Command::WebhookVerified {
            verification_id: verification.id,
            url: redact_url(&verification.url),
            http_status: outcome.http_status,
            echoed: outcome.echoed,
            latency_ms: outcome.latency_ms,
            error: outcome.error.clone(),
        });
        Ok(outcome)
    }

    /// Performs the handshake `verification` describes (no lock is held), within
    /// the webhook timeout.
    pub async fn handshake(&self, verification: &Verification) -> HandshakeReport {
        handshake(
            &self.http,
            verification,
            self.config.webhook_timeout,
            wall_now,
        )
        .await
    }

    /// Reads the sim without changing it.
    pub fn read<R>(&self, f: impl FnOnce(&Sim) -> R) -> R {
        f(&lock(&self.sim))
    }

    fn flush_trace(&self, sim: &Sim) {
        let Some(file) = &self.trace_file else { return };
        let mut file = lock(file);
        let new = sim.trace.since(file.written);
        let mut text = String::new();
        for record in new {
            text.push_str(&record.to_json_line());
        }
        if let Err(error) = file.file.write_all(text.as_bytes()) {
            tracing::error!("failed to write the trace file: {error}");
            return;
        }
        file.written = sim.trace.len();
    }

    /// Fires timers as virtual time passes (real and scaled modes); returns at once in manual mode.
    pub(crate) async fn drive_clock(self: Arc<Self>) {
        loop {
            let mode = self.clock_mode();
            if mode == ClockMode::Manual {
                return;
            }
            // Deciding: every call wakes it (the permit waits in `wake`).
            self.sleeping_until.store(0, Ordering::SeqCst);
            let now = self.now();
            let deadline = self.read(|sim| sim.world.next_deadline());
            let wait = deadline.map(|deadline| {
                let virtual_ms = deadline.since(now);
                Duration::from_millis(virtual_ms.div_ceil(mode.rate().max(1)))
            });
            self.sleeping_until
                .store(deadline.map_or(u64::MAX, SimTime::as_ms), Ordering::SeqCst);
            let wait = wait.unwrap_or(Duration::from_secs(3600));
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.wake.notified() => {}
            }
            let _one_at_a_time = self.advancing.lock().await;
            {
                let (mut sim, now) = self.sim_at_now();
                let deliveries = sim.advance(now);
                self.queue(&mut sim, deliveries);
                self.flush_trace(&sim);
            }
        }
    }
}

impl WorldSpec {
    /// Reads and checks a world file (the model parses text; files are read here).
    pub fn from_file(path: &std::path::Path) -> Result<WorldSpec, crate::model::spec::SpecError> {
        use crate::model::spec::SpecError;
        let text = std::fs::read_to_string(path).map_err(|source| SpecError::Read {
            path: path.display().to_string(),
            source,
        })?;
        WorldSpec::from_toml(&text).map_err(|error| SpecError::Invalid {
            path: path.display().to_string(),
            message: error.to_string(),
        })
    }
}
