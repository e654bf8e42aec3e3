//! wasim-sim: the simulated WhatsApp Business Platform.
//!
//! Module map:
//! - [`model`]: the pure, deterministic core (world state, policy, virtual clock,
//!   seeded randomness, timers). No tokio, HTTP or wall clock.
//! - [`engine`]: [`Sim`], the world plus its trace: applies commands, appends the
//!   model's trace records, and hands webhook effects back to the shell.
//! - [`trace`]: the append-only event log every check and report reads.
//! - [`api`]: one axum router per surface (`graph`, `d360`, `control`): parse,
//!   call the model, answer.
//! - [`webhook`]: HTTP delivery of webhooks: ASCII-escaped bodies, signatures.
//! - [`state`]: the shared state behind every handler: the sim under its lock,
//!   wall time mapped to virtual time, the clock driver, webhook delivery.
//! - [`server`]: binds an address and serves the routers over that state.

pub mod api;
pub mod engine;
pub mod model;
pub mod server;
pub mod state;
pub mod trace;
pub mod webhook;

pub use engine::Sim;
pub use model::{ClockMode, Command, Outcome, Reply, SimTime, World, WorldSpec};
pub use server::{Running, ServeError, serve, start};
pub use state::{AppState, Limits, ServeConfig};
pub use trace::{Trace, TraceEvent, TraceRecord};
