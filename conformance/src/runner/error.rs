//! What can keep the runner or the explorer from playing at all (as opposed to
//! what an integration does wrong, which the checks and outcomes report).

use std::path::PathBuf;

/// Why the runner could not set a scenario up, or the explorer could not run or
/// save a case. Messages read after "failed to".
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunnerError {
    /// A directory could not be created.
    #[error("create {}: {error}", path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// A file could not be created or written.
    #[error("write {}: {error}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// The simulated platform did not start.
    #[error("start the simulated platform: {0}")]
    Platform(String),
    /// No free loopback port was found for the integration.
    #[error("find a free port on 127.0.0.1 for the integration: {0}")]
    Port(std::io::Error),
    /// The integration's command could not be started at all.
    #[error("start the integration `{command}` through sh -c: {error}")]
    Spawn {
        /// The command line.
        command: String,
        /// Why.
        error: std::io::Error,
    },
    /// The HTTP client for driver calls could not be built.
    #[error("build the HTTP client for driver calls: {0}")]
    Client(String),
    /// The async runtime could not be started.
    #[error("start the async runtime: {0}")]
    Runtime(std::io::Error),
}
