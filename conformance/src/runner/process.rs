//! The integration as a child process: started with the driver environment in its
//! own process group, its output kept in files, stopped with TERM then KILL.

use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::process::{Child, Command};

use super::RunnerError;

/// A running integration.
#[derive(Debug)]
pub struct Integration {
    child: Child,
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
        Ok(Integration { child, pgid })
    }

    /// The exit status, if it has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Stops it: TERM to its process group, then KILL after `grace`. Returns how it
    /// ended and whether it had to be killed.
    pub async fn stop(mut self, grace: Duration) -> (Option<ExitStatus>, bool) {
        if let Some(status) = self.exited() {
            return (Some(status), false);
        }
        if let Some(pgid) = self.pgid {
            let _ = killpg(pgid, Signal::SIGTERM);
        }
        if let Ok(Ok(status)) = tokio::time::timeout(grace, self.child.wait()).await {
            return (Some(status), false);
        }
        if let Some(pgid) = self.pgid {
            let _ = killpg(pgid, Signal::SIGKILL);
        }
        let _ = self.child.start_kill();
        let status = tokio::time::timeout(grace, self.child.wait())
            .await
            .ok()
            .and_then(Result::ok);
        (status, true)
    }
}

impl Drop for Integration {
    fn drop(&mut self) {
        if self.exited().is_none()
            && let Some(pgid) = self.pgid
        {
            let _ = killpg(pgid, Signal::SIGKILL);
        }
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
