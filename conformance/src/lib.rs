//! Conformance: scenario files, the runner that plays them against an integration,
//! and the catalog of checks that judge the trace.
//!
//! - [`scenario`]: scenario files (TOML): world, timeline of steps, checks.
//! - [`checks`]: the check catalog, pure functions over a trace.
//! - [`duration`]: durations as scenarios write them and reports print them.
//! - [`describe`]: trace records in words, for proofs and timelines.
//! - [`runner`]: starts the simulator and the integration, plays a scenario,
//!   judges it and builds the report.
//! - [`library`]: the scenario library: loading, ordering, partitioning.

pub mod checks;
pub mod describe;
pub mod duration;
pub mod explore;
pub mod library;
pub mod runner;
pub mod scenario;

pub use scenario::{Scenario, ScenarioError, Step};
