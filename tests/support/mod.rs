//! What the CLI tests share: the built binary, run from the repository root, and
//! output directories that clean up after themselves.

#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The `wasim` binary cargo built for these tests.
pub(crate) const WASIM: &str = env!("CARGO_BIN_EXE_wasim");

/// Runs wasim with `args` from the repository root; returns the exit code,
/// stdout and stderr.
pub(crate) fn wasim(args: &[&str]) -> (i32, String, String) {
    wasim_in(Path::new(env!("CARGO_MANIFEST_DIR")), args)
}

/// Runs wasim with `args` from `dir`; returns the exit code, stdout and stderr.
pub(crate) fn wasim_in(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let output = Command::new(WASIM)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("wasim runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A test's output directory under the system's temp dir, fresh and empty
/// (wasim creates it). Removed when dropped, unless the test is failing: then
/// it stays, and its path is printed, for the reports and artifacts in it.
#[derive(Debug)]
pub(crate) struct OutDir {
    path: PathBuf,
}

impl OutDir {
    /// `{prefix}-{pid}-{name}`: unique per test process and test.
    pub(crate) fn new(prefix: &str, name: &str) -> Self {
        let path = std::env::temp_dir().join(format!("{prefix}-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        OutDir { path }
    }

    /// The directory as a command-line argument.
    pub(crate) fn arg(&self) -> &str {
        self.path.to_str().expect("a UTF-8 temp path")
    }

    /// Writes `text` to the file `name` in the directory (creating it) and
    /// returns its path: for scripts a test runs as an integration.
    pub(crate) fn write(&self, name: &str, text: &str) -> PathBuf {
        std::fs::create_dir_all(&self.path).expect("create the test directory");
        let file = self.path.join(name);
        std::fs::write(&file, text).expect("write the file");
        file
    }
}

impl Deref for OutDir {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.path
    }
}

impl Drop for OutDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("kept for inspection: {}", self.path.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}
