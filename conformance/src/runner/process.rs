//! The integration as a child process: started with the driver environment in its
//! own process group, its output kept in files, stopped with TERM then KILL to
//! the whole group, so a grandchild that ignores TERM does not outlive the run.
//! Every group started is registered until it is known to be empty, so the
//! shell can kill what is left on its way out ([`kill_all`]).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::process::{Child, Command};
use wasim_sim::state::wall_now;

use super::RunnerError;

/// The process groups started and not yet known to be empty.
static GROUPS: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());

fn groups() -> std::sync::MutexGuard<'static, BTreeSet<i32>> {
    GROUPS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Sends KILL to every integration process group still registered: the last
/// resort of a shell that is exiting (a second signal, a failure).
pub fn kill_all() {
    for pgid in std::mem::take(&mut *groups()) {
        let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
    }
}

/// How many integration process groups are registered (started and not known
/// to be empty).
pub fn running() -> usize {
    groups().len()
}

/// Whether no process is left in the group `pgid`.
fn group_empty(pgid: Pid) -> bool {
    killpg(pgid, None) == Err(Errno::ESRCH)
}

/// How often `stop` looks whether the group has emptied.
const STOP_POLL: Duration = Duration::from_millis(10);

/// A running integration.
#[derive(Debug)]
pub struct Integration {
    child: Child,
    /// Its process group; `None` once the group is known to be empty (or when
    /// the platform gave no id).
    pgid: Option<Pid>,
}

impl Integration {
    /// Starts `command` through `sh -c` with `env`, stdout and stderr into files.
    pub fn spawn(
        command: &str,
        env: &[(String, String)],
        stdout: &Path,
        stderr: &Path,
    ) -> Result<Integration, RunnerError> {
        let open = |path: &Path| {
            std::fs::File::create(path).map_err(|error| RunnerError::Write {
                path: path.to_owned(),
                error,
            })
        };
        let mut child = Command::new("sh");
        child
            .arg("-c")
            .arg(command)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(open(stdout)?)
            .stderr(open(stderr)?)
            .process_group(0)
            .kill_on_drop(true);
        let child = child.spawn().map_err(|error| RunnerError::Spawn {
            command: command.to_owned(),
            error,
        })?;
        let pgid = child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .map(Pid::from_raw);
        if let Some(pgid) = pgid {
            groups().insert(pgid.as_raw());
        }
        Ok(Integration { child, pgid })
    }

    /// The exit status of the integration's command (`sh`), if it has exited.
    /// Processes it started may still run; [`Integration::stop`] stops them too.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Stops it: TERM to its process group, then KILL to the group after
    /// `grace` if any process of it (the command or anything it started) is
    /// left. Returns how the command ended and whether KILL was needed.
    pub async fn stop(mut self, grace: Duration) -> (Option<ExitStatus>, bool) {
        let Some(pgid) = self.pgid else {
            let _ = self.child.start_kill();
            let status = tokio::time::timeout(grace, self.child.wait()).await;
            return (status.ok().and_then(Result::ok), false);
        };
        let _ = killpg(pgid, Signal::SIGTERM);
        let begun = wall_now();
        let mut status = None;
        loop {
            if status.is_none() {
                // Reaped first: until then `sh` counts in its group.
                status = self.exited();
            }
            if status.is_some() && group_empty(pgid) {
                self.forget_group();
                return (status, false);
            }
            if wall_now().duration_since(begun) >= grace {
                break;
            }
            tokio::time::sleep(STOP_POLL).await;
        }
        let _ = killpg(pgid, Signal::SIGKILL);
        let _ = self.child.start_kill();
        let status = match status {
            Some(status) => Some(status),
            None => tokio::time::timeout(grace, self.child.wait())
                .await
                .ok()
                .and_then(Result::ok),
        };
        self.forget_group();
        (status, true)
    }

    /// The group is empty or killed: unregister it, and never signal its id
    /// again (it may be reused).
    fn forget_group(&mut self) {
        if let Some(pgid) = self.pgid.take() {
            groups().remove(&pgid.as_raw());
        }
    }
}

impl Drop for Integration {
    fn drop(&mut self) {
        // Never stopped: whatever is left of the group goes, `sh` or not.
        if let Some(pgid) = self.pgid {
            let _ = killpg(pgid, Signal::SIGKILL);
        }
        self.forget_group();
    }
}

/// A free TCP port on 127.0.0.1 for the integration's receiver.
pub fn free_port() -> Result<u16, RunnerError> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(RunnerError::Port)?;
    listener
        .local_addr()
        .map(|addr| addr.port())
        .map_err(RunnerError::Port)
}

/// Exit status in words (`exit status 1`, `signal 9`).
pub fn describe_exit(status: Option<ExitStatus>) -> String {
    use std::os::unix::process::ExitStatusExt;
    match status {
        Some(status) => match (status.code(), status.signal()) {
            (Some(code), _) => format!("exit status {code}"),
            (None, Some(signal)) => format!("signal {signal}"),
            _ => status.to_string(),
        },
        None => "unknown status".to_owned(),
    }
}
