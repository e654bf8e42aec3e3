//! Bad input gets one clear line: the field and the form expected, each OS
//! error once, host names accepted where an address is asked for; and what the
//! tools write into the tree is ignored by git.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

mod support;

use support::{OutDir, WASIM, wasim};

/// The one `error:` line of a failed command, asserting there is exactly one.
fn error_line(stderr: &str) -> &str {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    lines[0]
}

#[test]
fn a_missing_world_file_names_the_os_error_once() {
    let (code, _, stderr) = wasim(&["serve", "--world", "no-such-world.toml"]);
    assert_eq!(code, 2);
    let line = error_line(&stderr);
    assert!(line.contains("no-such-world.toml"), "{line}");
    assert_eq!(line.matches("(os error 2)").count(), 1, "{line}");
}

#[test]
fn a_world_file_ratio_written_as_a_number_names_the_field_and_the_form() {
    let dir = OutDir::new("wasim-errors", "ratio");
    let world = dir.write("world.toml", "seed = 3\n[ecosystem]\nactive_ratio = 0.33\n");
    let (code, _, stderr) = wasim(&["serve", "--world", world.to_str().expect("utf-8")]);
    assert_eq!(code, 2);
    let line = error_line(&stderr);
    assert!(
        line.contains("`ecosystem.active_ratio` (line 3, column 16)"),
        "{line}"
    );
    assert!(line.contains("\"N/D\""), "{line}");
}

#[test]
fn a_scenario_world_field_of_the_wrong_type_is_named_not_a_line_of_generated_text() {
    let dir = OutDir::new("wasim-errors", "scenario-world");
    let scenario = dir.write(
        "bad.toml",
        "name = \"bad\"\ndescription = \"d\"\n\n[[step]]\nadvance = \"1h\"\n\n[world]\nrecipients.count = \"many\"\n",
    );
    let (code, _, stderr) = wasim(&["run", scenario.to_str().expect("utf-8")]);
    assert_eq!(code, 2);
    let line = error_line(&stderr);
    assert!(
        line.ends_with(
            "bad.toml: world.recipients.count: invalid type: string \"many\", expected u32"
        ),
        "{line}"
    );
}

#[test]
fn an_address_in_use_names_the_os_error_once() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let addr = taken.local_addr().expect("addr").to_string();
    let (code, _, stderr) = wasim(&["serve", "--addr", &addr]);
    assert_eq!(code, 2);
    let line = error_line(&stderr);
    assert!(line.contains(&addr), "{line}");
    assert_eq!(line.matches("(os error 98)").count(), 1, "{line}");
}

#[test]
fn serve_takes_a_host_name_for_its_address() {
    let mut child = Command::new(WASIM)
        .args(["serve", "--addr", "localhost:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("wasim starts");
    let stderr = child.stderr.take().expect("stderr");
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stderr).read_line(&mut line);
        let _ = sender.send(line);
    });
    let line = receiver.recv_timeout(Duration::from_secs(60));
    let _ = child.kill();
    let _ = child.wait();
    let line = line.expect("wasim serve printed its address");
    assert!(
        line.starts_with("wasim serving on http://127.0.0.1:"),
        "{line}"
    );
}

#[test]
fn what_the_tools_write_into_the_tree_is_ignored_by_git() {
    for path in [
        "reports/bench/bench.json",
        "reports/out/report.json",
        "fidelity/pywa/.venv/bin/python",
    ] {
        let status = Command::new("git")
            .args(["check-ignore", "--quiet", "--no-index", path])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("git runs (the tests run in a clone)");
        assert!(status.success(), "{path} is not ignored by git");
    }
}

#[test]
fn serve_refuses_an_empty_or_short_control_token_in_one_line() {
    for (token, said) in [("", "is empty"), ("short", "is 5 characters")] {
        let output = std::process::Command::new(WASIM)
            .args(["serve", "--addr", "0.0.0.0:0"])
            .env("WASIM_CONTROL_TOKEN", token)
            .output()
            .expect("wasim runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        let line = error_line(&stderr);
        assert!(
            line.contains(said) && line.contains("at least 16 characters"),
            "{line}"
        );
    }
}
