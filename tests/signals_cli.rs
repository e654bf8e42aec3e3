//! A run cut short by a signal (Ctrl-C, a cancelled CI job) stops every
//! integration process group, grandchildren that ignore TERM included, writes
//! the report of what ran and exits 130 or 143; a run that ends normally leaves
//! no process of the integration behind either.

mod support;

use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;
use support::{OutDir, WASIM};
use wasim_sim::state::wall_now;

/// An integration script: the bundled reference integration, plus a
/// grandchild that ignores TERM and writes its pid to `grandchild.pid` in `dir`.
fn stubborn_integration(dir: &OutDir) -> String {
    let pid_file = dir.join("grandchild.pid");
    let script = dir.write(
        "integration.sh",
        &format!(
            "(trap '' TERM; exec sleep 300) &\necho $! > '{}'\nexec '{WASIM}' reference-integration\n",
            pid_file.display()
        ),
    );
    format!("sh '{}'", script.display())
}

/// `wasim` with `args`, from the repository root, its output in files under `dir`.
fn start(dir: &OutDir, args: &[&str]) -> Child {
    std::fs::create_dir_all(dir.join("")).expect("create the test directory");
    Command::new(WASIM)
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(std::fs::File::create(dir.join("wasim.stdout")).expect("stdout file"))
        .stderr(std::fs::File::create(dir.join("wasim.stderr")).expect("stderr file"))
        .spawn()
        .expect("wasim starts")
}

/// `wasim run` with `args` against [`stubborn_integration`], reports into
/// `dir/out`, once the grandchild runs: the process, the report folder, and
/// the grandchild's pid and group.
fn run_stubborn(dir: &OutDir, args: &[&str]) -> (Child, std::path::PathBuf, (i32, i32)) {
    let integration = stubborn_integration(dir);
    let out = dir.join("out");
    let mut all = vec!["run", "--integration", &integration];
    all.extend_from_slice(args);
    all.extend(["--out", out.to_str().expect("a UTF-8 path")]);
    let wasim = start(dir, &all);
    let grandchild = grandchild(dir);
    (wasim, out, grandchild)
}

/// Waits for `child` to exit, at most `limit`; kills it and fails if it does not.
fn exit_code(child: &mut Child, limit: Duration, dir: &Path) -> i32 {
    let begun = wall_now();
    loop {
        if let Some(status) = child.try_wait().expect("wait for wasim") {
            return status.code().unwrap_or_else(|| {
                panic!(
                    "wasim was ended by a signal ({status}); stderr:\n{}",
                    read(dir, "wasim.stderr")
                )
            });
        }
        if begun.elapsed() > limit {
            let _ = child.kill();
            panic!(
                "wasim did not exit within {limit:?}; stderr:\n{}",
                read(dir, "wasim.stderr")
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_default()
}

/// The grandchild's pid and its process group, once the integration wrote it.
fn grandchild(dir: &Path) -> (i32, i32) {
    let begun = wall_now();
    let pid: i32 = loop {
        if let Ok(text) = std::fs::read_to_string(dir.join("grandchild.pid"))
            && let Ok(pid) = text.trim().parse()
        {
            break pid;
        }
        assert!(
            begun.elapsed() < Duration::from_secs(30),
            "the integration never started its grandchild; stderr:\n{}",
            read(dir, "wasim.stderr")
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let group = process_group(pid).expect("the grandchild runs");
    (pid, group)
}

/// The process group of `pid` when it is alive (a zombie counts as gone).
fn process_group(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid pgrp ...`; comm may hold spaces, so read after `)`.
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace();
    let state = fields.next()?;
    (state != "Z").then(|| fields.nth(1)?.parse().ok())?
}

/// Asserts the grandchild `pid` and every process of its group `group` are gone.
fn assert_gone(pid: i32, group: i32) {
    assert_eq!(
        process_group(pid),
        None,
        "the grandchild that ignores TERM survived"
    );
    assert_eq!(
        members(group),
        Vec::<i32>::new(),
        "the integration's group survived"
    );
}

/// The live processes of group `group`.
fn members(group: i32) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .expect("read /proc")
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| process_group(*pid) == Some(group))
        .collect()
}

fn report(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("report.json")).unwrap_or_else(|e| {
        panic!(
            "no report.json ({e}); stderr:\n{}",
            read(dir, "wasim.stderr")
        )
    });
    serde_json::from_str(&text).expect("report.json is JSON")
}

#[test]
fn sigterm_stops_the_whole_integration_group_and_writes_the_report_of_what_ran() {
    let dir = OutDir::new("wasim-signal", "term");
    // A 10 s quiet period keeps the first scenario playing when the signal comes.
    let (mut wasim, out, (pid, group)) = run_stubborn(
        &dir,
        &[
            "scenarios/handshake.toml",
            "scenarios/window-24h.toml",
            "--settle-ms",
            "10000",
        ],
    );
    std::thread::sleep(Duration::from_millis(1500));
    kill(Pid::from_raw(wasim.id() as i32), Signal::SIGTERM).expect("signal wasim");
    let code = exit_code(&mut wasim, Duration::from_secs(30), &dir);
    assert_eq!(code, 143, "stderr:\n{}", read(&dir, "wasim.stderr"));
    assert_gone(pid, group);
    let report = report(&out);
    assert_eq!(report["verdict"], "interrupted");
    let scenarios = report["scenarios"].as_array().expect("scenarios");
    assert_eq!(scenarios[0]["outcome"], "interrupted", "{:#}", scenarios[0]);
    let reason = scenarios[0]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("SIGTERM"), "{reason}");
    assert_eq!(
        scenarios[0]["checks"],
        Value::Array(Vec::new()),
        "judged anyway"
    );
    assert_eq!(scenarios[1]["outcome"], "not_run", "{:#}", scenarios[1]);
    assert!(
        out.join(scenarios[0]["artifacts"][2]["path"].as_str().unwrap_or("?"))
            .is_file()
    );
    for file in ["report.md", "report.junit.xml", "report.html"] {
        assert!(out.join(file).is_file(), "{file} not written");
    }
    let junit = std::fs::read_to_string(out.join("report.junit.xml")).expect("the JUnit report");
    assert!(junit.contains("type=\"interrupted\""), "{junit}");
    assert!(read(&dir, "wasim.stdout").starts_with("INTERRUPTED:"));
}

#[test]
fn sigint_interrupts_an_exploration_with_exit_130_and_a_report() {
    let dir = OutDir::new("wasim-signal", "int");
    let out = dir.join("out");
    let regressions = dir.join("regressions");
    let mut wasim = start(
        &dir,
        &[
            "explore",
            "--cases",
            "500",
            "--out",
            out.to_str().expect("a UTF-8 path"),
            "--regressions",
            regressions.to_str().expect("a UTF-8 path"),
        ],
    );
    // Until a case has run.
    let begun = wall_now();
    while !read(&dir, "wasim.stderr").contains("case   1") {
        assert!(begun.elapsed() < Duration::from_secs(60), "no case ran");
        std::thread::sleep(Duration::from_millis(50));
    }
    kill(Pid::from_raw(wasim.id() as i32), Signal::SIGINT).expect("signal wasim");
    let code = exit_code(&mut wasim, Duration::from_secs(30), &dir);
    assert_eq!(code, 130, "stderr:\n{}", read(&dir, "wasim.stderr"));
    let report = report(&out);
    assert_eq!(report["verdict"], "interrupted");
    let interrupted = report["scenarios"]
        .as_array()
        .expect("scenarios")
        .iter()
        .find(|s| s["outcome"] == "interrupted");
    assert!(interrupted.is_some(), "{report:#}");
    assert!(
        !regressions.exists(),
        "an interrupted exploration saved a finding"
    );
}

#[test]
fn a_grandchild_that_ignores_term_is_killed_when_a_run_ends_normally() {
    let dir = OutDir::new("wasim-signal", "normal");
    let (mut wasim, out, (pid, group)) = run_stubborn(&dir, &["scenarios/handshake.toml"]);
    let code = exit_code(&mut wasim, Duration::from_secs(60), &dir);
    assert_eq!(code, 0, "stderr:\n{}", read(&dir, "wasim.stderr"));
    assert_gone(pid, group);
    let report = report(&out);
    let reason = report["scenarios"][0]["timeline"].to_string();
    assert!(
        reason.contains("killed"),
        "the timeline does not say KILL was needed: {reason}"
    );
}
