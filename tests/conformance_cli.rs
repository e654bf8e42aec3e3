//! `wasim certify` and `wasim run` end to end, through the built binary: the bundled
//! reference integration certifies; each flawed variant fails exactly the check it
//! breaks, with proof; crashing, silent and hanging integrations are harness
//! failures (exit 2); an integration that never starts stops the run; scenarios
//! nothing exercised, skipped or not run are reported as exactly that; and
//! reports are deterministic apart from their volatile part.
//!
//! Some integrations here are small Python scripts: python3 is a stated
//! requirement of the test suite (see the README), and a test fails, not
//! passes, without it.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

mod support;

use support::{OutDir, WASIM, wasim, wasim_in};

/// A fresh output directory for one test, removed when it passes.
fn out_dir(name: &str) -> OutDir {
    OutDir::new("wasim-test", name)
}

fn report(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("report.json")).expect("report.json written");
    serde_json::from_str(&text).expect("report.json is JSON")
}

/// `field` of every scenario of report.json, in report order.
fn scenario_fields<'a>(report: &'a Value, field: &str) -> Vec<&'a str> {
    report["scenarios"]
        .as_array()
        .expect("scenarios")
        .iter()
        .map(|s| s[field].as_str().unwrap_or_default())
        .collect()
}

/// A copy of the repository's saved regressions under `out`: certify runs them
/// first and saves a new finding there, never into the source tree.
fn regressions_copy(out: &Path) -> String {
    let copy = out.join("regressions");
    std::fs::create_dir_all(&copy).expect("regressions dir");
    let saved = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/regressions");
    for entry in std::fs::read_dir(saved)
        .expect("scenarios/regressions")
        .flatten()
    {
        std::fs::copy(entry.path(), copy.join(entry.file_name())).expect("copied");
    }
    copy.to_str().expect("utf-8").to_owned()
}

fn flawed(flaw: &str) -> String {
    format!("{WASIM} reference-integration --flaw {flaw}")
}

/// `wasim run` of `scenarios` against `integration`, writing to `out`; returns
/// the exit code, stdout and stderr.
fn run_scenarios(scenarios: &[&str], integration: &str, out: &Path) -> (i32, String, String) {
    let mut args = vec!["run"];
    args.extend_from_slice(scenarios);
    let out = out.to_str().expect("a UTF-8 path");
    args.extend_from_slice(&["--integration", integration, "--out", out]);
    wasim(&args)
}

/// `wasim explore --flaw <flaw>` with `extra` options, writing to `out` and
/// saving what it finds in `out/regressions`; returns the exit code, stderr and
/// that folder.
fn explore_flaw(flaw: &str, extra: &[&str], out: &OutDir) -> (i32, String, PathBuf) {
    let regressions = out.join("regressions");
    let mut args = vec!["explore", "--flaw", flaw];
    args.extend_from_slice(extra);
    let saved = regressions.to_str().expect("a UTF-8 path");
    args.extend_from_slice(&["--out", out.arg(), "--regressions", saved]);
    let (code, _, stderr) = wasim(&args);
    (code, stderr, regressions)
}

/// The result of check `id` in a scenario of report.json.
fn check_result<'a>(scenario: &'a Value, id: &str) -> &'a Value {
    scenario["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("{id} judged: {scenario}"))
}

#[test]
fn certify_passes_the_bundled_reference_integration_and_writes_four_formats() {
    let out = out_dir("certify");
    let regressions = regressions_copy(&out);
    let (code, stdout, stderr) =
        wasim(&["certify", "--out", out.arg(), "--regressions", &regressions]);
    assert_eq!(code, 0, "{stderr}");
    // The verdict summary is on stdout, for CI logs and scripts; progress on stderr.
    assert!(stdout.starts_with("CERTIFIED: "), "{stdout}");
    assert!(!stderr.contains("CERTIFIED"), "{stderr}");
    assert!(
        stdout.contains("checks: every one of the"),
        "every check exercised: {stdout}"
    );
    for file in [
        "report.json",
        "report.md",
        "report.junit.xml",
        "report.html",
    ] {
        assert!(out.join(file).is_file(), "{file} missing");
    }
    let report = report(&out);
    assert_eq!(report["verdict"], "certified");
    let scenarios = report["scenarios"].as_array().expect("scenarios");
    assert_eq!(
        scenarios.len(),
        wasim_conformance::library::BUILTIN_REGRESSIONS.len()
            + wasim_conformance::library::BUILTIN.len(),
        "every saved regression (the copies are the built-in ones, played once), then every built-in scenario ran"
    );
    assert_eq!(
        report["exploration"]["cases"], 8,
        "certify explores after the library"
    );
    assert!(report["exploration"]["finding"].is_null());
    for scenario in scenarios {
        assert_eq!(scenario["outcome"], "passed", "{}", scenario["name"]);
        for artifact in scenario["artifacts"].as_array().expect("artifacts") {
            let path = artifact["path"].as_str().expect("a path");
            assert!(out.join(path).is_file(), "artifact {path} missing");
        }
    }
    // The library exercises every check: the report's coverage says in how
    // many scenarios each applied, and each passed somewhere.
    let coverage = report["coverage"].as_array().expect("coverage");
    assert_eq!(coverage.len(), wasim_conformance::checks::CATALOG.len());
    for (entry, check) in coverage.iter().zip(wasim_conformance::checks::CATALOG) {
        assert_eq!(entry["id"], check.id, "catalog order");
        assert!(
            entry["exercised"].as_u64().unwrap_or(0) >= 1,
            "no scenario exercises {}: {entry}",
            check.id
        );
        assert!(entry["passed"].as_u64().unwrap_or(0) >= 1, "{entry}");
        assert_eq!(entry["failed"], 0, "{entry}");
    }
    let markdown = std::fs::read_to_string(out.join("report.md")).expect("report.md");
    assert!(
        markdown.contains("Every one of the 27 checks was exercised at least once."),
        "{markdown}"
    );
    assert_no_secret_in(&out);
}

/// (flaw, scenario, the check it breaks).
const MATRIX: &[(&str, &str, &str)] = &[
    ("slow-ack", "inbound-reply", "WH-001"),
    ("no-signature-check", "forged-signature", "WH-002"),
    ("no-dedupe", "webhook-duplicates", "WH-003"),
    ("status-regress", "webhook-reorder", "WH-004"),
    ("no-handshake", "handshake", "WH-005"),
    ("resend-after-cap", "cap-naive-retry", "CAP-001"),
    ("ignore-opt-out", "opt-out", "CAP-002"),
    ("text-outside-window", "window-24h", "WIN-001"),
    ("hot-loop-rate", "throughput", "RATE-001"),
    ("hot-loop-auth", "auth-rotated", "AUTH-001"),
    ("stale-token", "key-rotation", "KEY-001"),
    ("resend-held", "pacing-released", "TPL-001"),
    ("ignore-pause", "pause-escalation", "TPL-002"),
    ("ignore-pause", "pacing-paused", "TPL-003"),
    ("auto-unpause", "pacing-paused", "TPL-004"),
    ("ignore-template-disabled", "flagged-waba", "TPL-005"),
    ("stale-channel-key", "key-rotation-campaign", "KEY-002"),
    ("resend-on-rotation", "key-rotation-campaign", "CAMP-001"),
    ("compromise-keep-sending", "compromise-response", "SEC-001"),
    ("compromise-no-key", "compromise-response", "SEC-002"),
    ("stale-channel-key", "compromise-response", "SEC-002"),
    ("compromise-no-pin", "compromise-response", "SEC-003"),
    ("compromise-resume-early", "compromise-response", "SEC-004"),
    ("partner-auth-loop", "partner-user-removal", "AUTH-001"),
    ("register-loop", "turkey-registration-day", "REG-001"),
    ("register-loop", "on-prem-registration", "REG-001"),
    ("drop-parameters", "interactive-reply", "DRV-001"),
    ("no-mark-read", "reply-buttons", "READ-001"),
    ("media-resend-loop", "media-link-failed", "MEDIA-001"),
    ("stale-media-url", "media-url-expired", "MEDIA-002"),
];

/// Whether `check` is a `must` rule (a `should` failure is a warning).
fn is_must(check: &str) -> bool {
    wasim_conformance::checks::find(check)
        .is_some_and(|c| c.severity == wasim_reports::Severity::Must)
}

/// Flawed runs at once.
const MATRIX_PARALLEL: usize = 8;

#[test]
fn each_flawed_variant_fails_the_check_it_breaks_with_proof() {
    let covered: Vec<&str> = MATRIX.iter().map(|(_, _, check)| *check).collect();
    for check in wasim_conformance::checks::CATALOG {
        assert!(
            covered.contains(&check.id),
            "no flawed variant proves {}",
            check.id
        );
    }
    // A few at a time: each run is two processes on a small CI machine.
    for chunk in MATRIX.chunks(MATRIX_PARALLEL) {
        std::thread::scope(|scope| {
            let runs: Vec<_> = chunk
                .iter()
                .map(|(flaw, scenario, check)| {
                    scope.spawn(move || {
                        let out = out_dir(&format!("flaw-{flaw}-{scenario}"));
                        let file = format!("scenarios/{scenario}.toml");
                        let (code, _, stderr) = run_scenarios(&[&file], &flawed(flaw), &out);
                        (flaw, check, code, stderr, out)
                    })
                })
                .collect();
            for run in runs {
                let (flaw, check, code, stderr, out) = run.join().expect("the run finished");
                // A broken `should` rule is a warning: the run still passes.
                let expected = if is_must(check) { 1 } else { 0 };
                assert_eq!(code, expected, "--flaw {flaw}: exit {expected}: {stderr}");
                assert!(
                    stderr.contains(check),
                    "--flaw {flaw} names {check}: {stderr}"
                );
                let report = report(&out);
                let result = check_result(&report["scenarios"][0], check);
                assert_eq!(result["status"], "fail", "--flaw {flaw}: {result}");
                assert!(
                    !result["proof"].as_array().expect("proof").is_empty(),
                    "--flaw {flaw}: a failure cites its proof"
                );
            }
        });
    }
}

#[test]
fn crashing_silent_and_hanging_integrations_are_harness_failures() {
    let cases: Vec<(&str, String, &[&str], &str)> = vec![
        (
            "crash",
            "echo boom >&2; exit 3".to_owned(),
            &[],
            "exited before listening",
        ),
        (
            "silent",
            "sleep 30".to_owned(),
            &["--start-timeout", "1"],
            "never listened",
        ),
    ];
    for (name, integration, extra, expected) in cases {
        let out = out_dir(name);
        let mut args = vec![
            "run",
            "scenarios/inbound-reply.toml",
            "--integration",
            &integration,
            "--out",
            out.arg(),
        ];
        args.extend_from_slice(extra);
        let (code, _, stderr) = wasim(&args);
        assert_eq!(code, 2, "{name}: {stderr}");
        let report = report(&out);
        assert_eq!(report["verdict"], "harness_failure", "{name}");
        assert_eq!(report["scenarios"][0]["outcome"], "harness_error");
        let reason = report["scenarios"][0]["reason"]
            .as_str()
            .unwrap_or_default();
        assert!(reason.contains(expected), "{name}: {reason}");
        let stderr_log = out.join("artifacts/inbound-reply/stderr.log");
        if name == "crash" {
            let kept = std::fs::read_to_string(stderr_log).expect("stderr kept");
            assert!(
                kept.contains("boom"),
                "the integration's stderr is an artifact"
            );
        }
    }
    // A receiver that accepts connections and never answers.
    require_python();
    let out = out_dir("hang");
    let scripts = out_dir("hang-script");
    let script = scripts.write(
        "hang.py",
        "import os, socket\n\
         s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
         s.bind(('127.0.0.1', int(os.environ['WASIM_WEBHOOK_PORT']))); s.listen(50)\n\
         held = []\n\
         while True:\n    held.append(s.accept()[0])\n",
    );
    let integration = format!("python3 {}", script.display());
    let (code, _, stderr) = run_scenarios(&["scenarios/inbound-reply.toml"], &integration, &out);
    assert_eq!(code, 2, "hang: {stderr}");
    let reason = report(&out)["scenarios"][0]["reason"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(reason.contains("it hangs"), "{reason}");
}

/// Scenarios whose timing does not depend on the integration's wall-clock backoff.
const STABLE: &[&str] = &[
    "scenarios/handshake.toml",
    "scenarios/inbound-reply.toml",
    "scenarios/webhook-duplicates.toml",
    "scenarios/forged-signature.toml",
    "scenarios/cap-naive-retry.toml",
    "scenarios/window-24h.toml",
    "scenarios/opt-out.toml",
];

fn stable_run(name: &str, jobs: &str) -> Value {
    let out = out_dir(name);
    let mut args = vec!["run"];
    args.extend_from_slice(STABLE);
    args.extend_from_slice(&["--settle-ms", "250", "--out", out.arg()]);
    args.extend_from_slice(&["--jobs", jobs]);
    let (code, _, stderr) = wasim(&args);
    assert_eq!(code, 0, "{stderr}");
    let mut report = report(&out);
    report["volatile"] = Value::Null;
    report
}

#[test]
fn the_same_scenarios_twice_give_the_same_report_apart_from_its_volatile_part() {
    // Once one at a time, once three at once: the report is the same.
    let first = stable_run("determinism-1", "1");
    let second = stable_run("determinism-2", "3");
    assert_eq!(first, second);
}

#[test]
fn reports_of_the_reference_run_match_their_snapshots() {
    let out = out_dir("snapshot");
    let mut args = vec!["run"];
    args.extend_from_slice(STABLE);
    args.extend_from_slice(&["--settle-ms", "250", "--out", out.arg()]);
    let (code, _, stderr) = wasim(&args);
    assert_eq!(code, 0, "{stderr}");
    let mut report: wasim_reports::Report = wasim_reports::from_json(
        &std::fs::read_to_string(out.join("report.json")).expect("report.json"),
    )
    .expect("a report");
    // Volatile figures vary run to run; the snapshots cover the stable part.
    report.volatile = wasim_reports::Volatile::default();
    insta::assert_snapshot!("reference_run_json", wasim_reports::to_json(&report));
    insta::assert_snapshot!(
        "reference_run_markdown",
        wasim_reports::to_markdown(&report)
    );
    insta::assert_snapshot!("reference_run_junit", wasim_reports::to_junit(&report));
    insta::assert_snapshot!("reference_run_html", wasim_reports::to_html(&report));
}

#[test]
fn explain_prints_the_timeline_and_checks_list_the_catalog() {
    let output = Command::new(WASIM)
        .args(["run", "--explain", "scenarios/cap-naive-retry.toml"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("wasim runs");
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("other businesses send 2 marketing message(s) to 919812345678"),
        "{text}"
    );
    assert!(text.contains("judged by: CAP-001"), "{text}");
    let output = Command::new(WASIM)
        .arg("checks")
        .output()
        .expect("wasim runs");
    let text = String::from_utf8_lossy(&output.stdout);
    for check in wasim_conformance::checks::CATALOG {
        assert!(text.contains(check.id), "{} listed", check.id);
    }
    let (code, _, stderr) = wasim(&["run", "scenarios/no-such-file.toml"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("no-such-file.toml"), "{stderr}");
}

#[test]
fn partition_slices_merge_into_the_whole_library() {
    let slices: Vec<OutDir> = (1..=2).map(|k| out_dir(&format!("slice-{k}"))).collect();
    for (k, dir) in slices.iter().enumerate() {
        let partition = format!("{}/2", k + 1);
        let (code, _, stderr) = wasim(&[
            "certify",
            "--partition",
            &partition,
            "--explore-cases",
            "0",
            "--regressions",
            "scenarios/no-regressions-here",
            "--out",
            dir.arg(),
        ]);
        assert_eq!(code, 0, "{stderr}");
    }
    let merged = out_dir("merged");
    let (code, _, stderr) = wasim(&[
        "report",
        "merge",
        slices[0].arg(),
        slices[1].arg(),
        "--out",
        merged.arg(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let report = report(&merged);
    let names = scenario_fields(&report, "file");
    // The built-in saved regressions and the library, in file order.
    let mut expected: Vec<&str> = wasim_conformance::library::BUILTIN_REGRESSIONS
        .iter()
        .chain(wasim_conformance::library::BUILTIN)
        .map(|(path, _)| *path)
        .collect();
    expected.sort_unstable();
    assert_eq!(names, expected);
    assert_eq!(report["partition"], "merged 2/2 slices");
}

/// Fails the test when python3 is missing: the scripts it runs need it, and a
/// test that passes without running them would be greener than what happened.
fn require_python() {
    let found = Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success());
    assert!(
        found,
        "python3 is required by this test (Debian: apt-get install python3)"
    );
}

/// A python3 webhook receiver written to the directory `name`: it echoes the
/// verification handshake, answers `POST /webhook` with 200 after
/// `webhook_delay_s` seconds and any other POST with 404 at once. Returns the
/// directory (keep it while the integration runs) and the command that starts it.
fn python_receiver(name: &str, webhook_delay_s: u32) -> (OutDir, String) {
    require_python();
    let dir = out_dir(name);
    let script = dir.write(
        "receiver.py",
        &format!(
            "import os, time, http.server, urllib.parse\n\
             class H(http.server.BaseHTTPRequestHandler):\n\
             \x20   def do_GET(self):\n\
             \x20       q = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)\n\
             \x20       body = q.get('hub.challenge', [''])[0].encode()\n\
             \x20       self.send_response(200); self.send_header('Content-Length', str(len(body))); self.end_headers(); self.wfile.write(body)\n\
             \x20   def do_POST(self):\n\
             \x20       self.rfile.read(int(self.headers.get('Content-Length', 0)))\n\
             \x20       if self.path == '/webhook': time.sleep({webhook_delay_s})\n\
             \x20       self.send_response(200 if self.path == '/webhook' else 404); self.send_header('Content-Length', '0'); self.end_headers()\n\
             \x20   def log_message(self, *a): pass\n\
             http.server.ThreadingHTTPServer(('127.0.0.1', int(os.environ['WASIM_WEBHOOK_PORT'])), H).serve_forever()\n"
        ),
    );
    let integration = format!("python3 {}", script.display());
    (dir, integration)
}

#[test]
fn an_integration_without_the_driver_hook_is_judged_on_the_rest_and_skips_the_others() {
    // A plain receiver: the handshake, 200 to every webhook, 404 anywhere else.
    let (_script, integration) = python_receiver("plain-bot", 0);
    let out = out_dir("plain");
    let (code, _, stderr) = run_scenarios(
        &["scenarios/handshake.toml", "scenarios/opt-out.toml"],
        &integration,
        &out,
    );
    assert_eq!(code, 0, "skipped is not failed: {stderr}");
    let report = report(&out);
    assert_eq!(report["scenarios"][0]["outcome"], "passed");
    assert_eq!(report["scenarios"][1]["outcome"], "skipped");
    let reason = report["scenarios"][1]["reason"]
        .as_str()
        .unwrap_or_default();
    assert!(reason.contains("no driver hook"), "{reason}");
    // Skipped means not judged: no check verdict, in any format.
    assert_eq!(report["scenarios"][1]["checks"], serde_json::json!([]));
    let markdown = std::fs::read_to_string(out.join("report.md")).expect("report.md");
    assert!(markdown.contains("opt-out"), "the skip is reported");
    assert!(
        markdown.contains("Skipped scenarios (not judged)"),
        "{markdown}"
    );
    assert!(!markdown.contains("Failed checks"), "{markdown}");
    let junit = std::fs::read_to_string(out.join("report.junit.xml")).expect("junit");
    let suite = &junit[junit
        .find("<testsuite name=\"opt-out\"")
        .expect("opt-out suite")..];
    let suite = &suite[..suite.find("</testsuite>").expect("closed")];
    assert_eq!(suite.matches("<testcase ").count(), 1, "{suite}");
    assert!(suite.contains("<property name=\"outcome\" value=\"skipped\"/>"));
    assert!(
        !stderr.contains("CAP-002"),
        "no check verdict printed: {stderr}"
    );
}

#[test]
fn a_python_integration_written_against_the_protocol_certifies() {
    require_python();
    let out = out_dir("python");
    let (code, _, stderr) = wasim(&[
        "certify",
        "--integration",
        "python3 examples/python/integration.py",
        "--out",
        out.arg(),
        "--regressions",
        &regressions_copy(&out),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(report(&out)["verdict"], "certified");
}

/// (flaw, the check exploration must find broken) for flaws its default budget
/// reaches early; each exploration also shrinks and saves its case.
const EXPLORED: &[(&str, &str)] = &[
    ("ignore-pause", "TPL-002"),
    ("text-outside-window", "WIN-001"),
    ("resend-after-cap", "CAP-001"),
];

#[test]
fn exploration_finds_a_flaw_shrinks_it_and_the_saved_scenario_replays_it() {
    std::thread::scope(|scope| {
        let runs: Vec<_> = EXPLORED
            .iter()
            .map(|(flaw, check)| {
                scope.spawn(move || {
                    let out = out_dir(&format!("explore-{flaw}"));
                    let (code, stderr, regressions) = explore_flaw(flaw, &[], &out);
                    (flaw, check, code, stderr, out, regressions)
                })
            })
            .collect();
        for run in runs {
            let (flaw, check, code, stderr, out, regressions) = run.join().expect("ran");
            assert_eq!(code, 1, "--flaw {flaw}: {stderr}");
            assert!(stderr.contains("seed 1"), "the seed is printed: {stderr}");
            assert!(
                stderr.contains(&format!("Breaks {check}")),
                "{flaw}: {stderr}"
            );
            let file = regressions.join(format!("{}-1.toml", check.to_lowercase()));
            assert!(file.is_file(), "{flaw}: {} saved", file.display());
            let report = report(&out);
            let finding = &report["exploration"]["finding"];
            assert_eq!(finding["check"], *check);
            let minimal = finding["steps_minimal"].as_u64().expect("steps");
            assert!(
                minimal <= finding["steps_found"].as_u64().expect("steps"),
                "{flaw}: shrinking never grows a case"
            );
            assert!(
                minimal <= 6,
                "{flaw}: a minimal timeline of a few steps, not {minimal}"
            );
            // The saved file replays the failure, and the correct integration does
            // not fail it: it passes, or (a minimal case can be one the correct
            // integration rightly does nothing in, such as a lone `send_text`
            // outside the window) the check does not apply to it.
            let replay_out = out.join("replay");
            let file_arg = file.to_str().expect("utf-8");
            let (code, _, stderr) = run_scenarios(&[file_arg], &flawed(flaw), &replay_out);
            assert_eq!(code, 1, "{flaw}: the saved case fails again: {stderr}");
            assert!(stderr.contains(check), "{stderr}");
            let correct_out = out.join("correct");
            let (code, _, stderr) = wasim(&[
                "run",
                file_arg,
                "--out",
                correct_out.to_str().expect("utf-8"),
            ]);
            let outcome = self::report(&correct_out)["scenarios"][0]["outcome"].clone();
            assert!(
                (code, outcome.as_str()) == (0, Some("passed"))
                    || (code, outcome.as_str()) == (2, Some("not_exercised")),
                "{flaw}: the correct integration does not fail it (exit {code}, {outcome}): {stderr}"
            );
        }
    });
}

/// Flawed explorations at once (each is two processes at a time).
const EXPLORE_PARALLEL: usize = 4;

#[test]
fn the_default_exploration_budget_finds_every_flaw_of_the_reference_integration() {
    // Detection and replay of the case as found (no shrinking: the test above
    // covers shrinking).
    // Exploration hunts broken `must` rules; a flaw that breaks only `should`
    // rules (READ-001) is a warning it does not chase.
    let breaks_a_must = |flaw: &str| {
        MATRIX
            .iter()
            .any(|(flawed, _, check)| *flawed == flaw && is_must(check))
    };
    let flaws: Vec<&str> = wasim_reference::Flaw::ALL
        .iter()
        .map(|flaw| flaw.name())
        .filter(|flaw| breaks_a_must(flaw))
        .collect();
    let mut missed = Vec::new();
    for chunk in flaws.chunks(EXPLORE_PARALLEL) {
        std::thread::scope(|scope| {
            let runs: Vec<_> = chunk
                .iter()
                .map(|flaw| {
                    scope.spawn(move || {
                        let out = out_dir(&format!("detect-{flaw}"));
                        let (code, stderr, regressions) =
                            explore_flaw(flaw, &["--shrink-runs", "0"], &out);
                        // The saved case replays the failure with `wasim run`.
                        let saved = std::fs::read_dir(&regressions)
                            .into_iter()
                            .flatten()
                            .flatten()
                            .map(|entry| entry.path())
                            .find(|path| path.extension().is_some_and(|e| e == "toml"));
                        let replay = saved.map(|saved| {
                            let saved = saved.to_str().expect("utf-8");
                            run_scenarios(&[saved], &flawed(flaw), &out.join("replay"))
                        });
                        (flaw, code, stderr, out, replay)
                    })
                })
                .collect();
            for run in runs {
                let (flaw, code, stderr, out, replay) = run.join().expect("ran");
                if code != 1 {
                    missed.push(format!("{flaw} (exit {code}): {stderr}"));
                    continue;
                }
                let report = report(&out);
                let check = report["exploration"]["finding"]["check"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                assert!(
                    stderr.contains(&format!("Breaks {check}")),
                    "{flaw}: {stderr}"
                );
                let (replay_code, _, replay_stderr) =
                    replay.unwrap_or_else(|| panic!("{flaw}: no scenario saved: {stderr}"));
                assert_eq!(
                    replay_code, 1,
                    "{flaw}: the saved case does not replay {check}: {replay_stderr}"
                );
                assert!(replay_stderr.contains(&check), "{flaw}: {replay_stderr}");
            }
        });
    }
    assert!(
        missed.is_empty(),
        "the default budget (32 cases, seed 1) misses:\n{}",
        missed.join("\n")
    );
}

#[test]
fn an_integration_that_never_starts_stops_the_run_with_one_line_and_explores_nothing() {
    // Run from a folder with no scenarios/ beside it: the saved regressions
    // are the built-in ones all the same, and the first line says so.
    let elsewhere = out_dir("never-started-cwd");
    std::fs::create_dir_all(&*elsewhere).expect("a folder");
    let out = out_dir("never-started");
    let (code, stdout, stderr) = wasim_in(
        &elsewhere,
        &["certify", "--integration", "false", "--out", out.arg()],
    );
    assert_eq!(code, 2, "{stderr}");
    let first = stderr.lines().next().unwrap_or_default();
    let total = wasim_conformance::library::BUILTIN_REGRESSIONS.len()
        + wasim_conformance::library::BUILTIN.len();
    assert!(
        first.starts_with(&format!("wasim certify: {total} scenario(s) (3 built-in saved regression(s), no folder scenarios/regressions, 30 from the built-in library)")),
        "{first}"
    );
    let stopping: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("stopping: "))
        .collect();
    assert_eq!(stopping.len(), 1, "one clear line: {stderr}");
    let stderr_log = out.join("artifacts/auth-001-1/stderr.log");
    assert!(
        stopping[0].contains(&stderr_log.display().to_string()),
        "the line names the integration's stderr: {}",
        stopping[0]
    );
    assert!(stderr_log.is_file(), "the stderr it names exists");
    assert_eq!(
        stderr.matches("HARNESS ERROR").count(),
        1,
        "one harness error, not one per scenario: {stderr}"
    );
    assert!(
        !stderr.contains("passed"),
        "nothing reads as passed: {stderr}"
    );
    assert!(
        !stderr.contains("wasim explore"),
        "no exploration: {stderr}"
    );
    assert!(stdout.starts_with("HARNESS FAILURE: "), "{stdout}");
    assert!(
        stdout.contains(&format!("{} not run", total - 1)),
        "{stdout}"
    );
    let report = report(&out);
    assert_eq!(report["verdict"], "harness_failure");
    assert!(report["exploration"].is_null());
    let outcomes = scenario_fields(&report, "outcome");
    assert_eq!(outcomes[0], "harness_error");
    assert!(
        outcomes[1..].iter().all(|o| *o == "not_run"),
        "{outcomes:?}"
    );
    let reason = report["scenarios"][1]["reason"]
        .as_str()
        .unwrap_or_default();
    assert!(reason.contains("never started"), "{reason}");
    for (file, needle) in [
        ("report.md", "not run"),
        ("report.html", "not run"),
        (
            "report.junit.xml",
            "<property name=\"outcome\" value=\"not_run\"/>",
        ),
    ] {
        let text = std::fs::read_to_string(out.join(file)).expect(file);
        assert!(text.contains(needle), "{file} says {needle}");
    }
}

/// A scenario with nothing in it for its one check to judge.
const IDLE_SCENARIO: &str = r#"name = "idle"
description = "A user writes hello; the only check is about capped users"
checks = ["CAP-001"]

[[step]]
inbound = { from = "5511987654321", text = "hello" }
"#;

#[test]
fn a_scenario_none_of_whose_checks_applied_is_not_exercised_and_certifies_nothing() {
    let scripts = out_dir("idle-scenario");
    let file = scripts.write("idle.toml", IDLE_SCENARIO);
    let out = out_dir("idle");
    let (code, stdout, stderr) = wasim(&["run", file.to_str().expect("utf-8"), "--out", out.arg()]);
    assert_eq!(code, 2, "nothing judged is not a pass: {stdout}{stderr}");
    assert!(stdout.starts_with("NOTHING JUDGED: 0 passed"), "{stdout}");
    assert!(stdout.contains("1 not exercised"), "{stdout}");
    assert!(
        stderr.contains("idle") && stderr.contains("not exercised"),
        "{stderr}"
    );
    let report = report(&out);
    assert_eq!(report["verdict"], "nothing_judged");
    let scenario = &report["scenarios"][0];
    assert_eq!(scenario["outcome"], "not_exercised");
    let reason = scenario["reason"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with("none of its checks applied (CAP-001: "),
        "{reason}"
    );
    assert_eq!(scenario["checks"][0]["status"], "not_applicable");
    let markdown = std::fs::read_to_string(out.join("report.md")).expect("report.md");
    assert!(
        markdown.contains("Not exercised (no check applied)"),
        "{markdown}"
    );
    let junit = std::fs::read_to_string(out.join("report.junit.xml")).expect("junit");
    assert!(
        junit.contains("<testcase name=\"scenario not exercised\""),
        "{junit}"
    );
    let html = std::fs::read_to_string(out.join("report.html")).expect("html");
    assert!(html.contains("badge not-exercised"), "the HTML badge");
    // With a scenario that passed beside it, the run certifies, and the idle one
    // is still counted apart.
    let out = out_dir("idle-and-handshake");
    let (code, stdout, _) = wasim(&[
        "run",
        "scenarios/handshake.toml",
        file.to_str().expect("utf-8"),
        "--out",
        out.arg(),
    ]);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.starts_with("PASSED: 1 passed, 0 failed, 0 skipped, 1 not exercised"),
        "{stdout}"
    );
}

#[test]
fn a_driver_send_the_platform_refuses_fails_the_integration_not_the_harness() {
    // The flawed reference sends order_update without its parameter (132000):
    // the button reply that follows has no business message to answer.
    let out = out_dir("drop-parameters");
    let (code, stdout, stderr) = run_scenarios(
        &["scenarios/interactive-reply.toml"],
        &flawed("drop-parameters"),
        &out,
    );
    assert_eq!(code, 1, "violations, not a harness failure: {stderr}");
    assert!(stdout.starts_with("VIOLATIONS: "), "{stdout}");
    assert!(!stderr.contains("HARNESS ERROR"), "{stderr}");
    let report = report(&out);
    let scenario = &report["scenarios"][0];
    assert_eq!(scenario["outcome"], "failed");
    let reason = scenario["reason"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with("stopped early: the platform refused a scenario step")
            && reason.ends_with("after the integration failed DRV-001"),
        "{reason}"
    );
    let check = check_result(scenario, "DRV-001");
    assert_eq!(check["status"], "fail");
    let proof = check["proof"].as_array().expect("proof");
    assert_eq!(proof[0]["kind"], "driver_action", "{proof:?}");
    assert!(
        proof[1]["summary"]
            .as_str()
            .unwrap_or_default()
            .contains("132000"),
        "the platform's answer is the proof: {proof:?}"
    );
}

#[test]
fn slow_acknowledgements_stop_the_scenario_failed_instead_of_retrying_into_a_harness_error() {
    // Echoes the handshake at once, acknowledges every webhook POST after 12 s.
    let (_script, integration) = python_receiver("slow-bot", 12);
    let out = out_dir("slow");
    let (code, stdout, stderr) =
        run_scenarios(&["scenarios/webhook-duplicates.toml"], &integration, &out);
    assert_eq!(
        code, 1,
        "a must failure, not a harness error: {stdout}{stderr}"
    );
    let report = report(&out);
    let scenario = &report["scenarios"][0];
    assert_eq!(scenario["outcome"], "failed");
    let reason = scenario["reason"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with("stopped early at +") && reason.contains("WH-001 has failed"),
        "{reason}"
    );
    let check = check_result(scenario, "WH-001");
    assert_eq!(check["status"], "fail");
}

#[test]
fn saved_regressions_are_found_beside_a_scenario_library_given_by_path() {
    // A library with its own regressions folder, certified from another folder.
    let library = out_dir("own-library");
    library.write(
        "handshake.toml",
        &std::fs::read_to_string("scenarios/handshake.toml").expect("handshake"),
    );
    std::fs::create_dir_all(library.join("regressions")).expect("regressions");
    std::fs::write(
        library.join("regressions/inbound.toml"),
        std::fs::read_to_string("scenarios/inbound-reply.toml").expect("inbound-reply"),
    )
    .expect("written");
    let elsewhere = out_dir("own-library-cwd");
    std::fs::create_dir_all(&*elsewhere).expect("a folder");
    let out = out_dir("own-library-out");
    let (code, stdout, stderr) = wasim_in(
        &elsewhere,
        &[
            "certify",
            "--scenarios",
            library.arg(),
            "--explore-cases",
            "0",
            "--out",
            out.arg(),
        ],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    let first = stderr.lines().next().unwrap_or_default();
    assert!(
        first.contains(&format!(
            "(1 saved regression(s) in {}, 1 from the library in {})",
            library.join("regressions").display(),
            library.display()
        )),
        "{first}"
    );
    let report = report(&out);
    assert_eq!(
        scenario_fields(&report, "name"),
        ["inbound-reply", "handshake"],
        "regressions first, once each"
    );
}

#[test]
fn exploring_an_integration_that_never_starts_stops_at_the_first_case() {
    let out = out_dir("explore-never-started");
    let regressions = out.join("regressions");
    let (code, _, stderr) = wasim(&[
        "explore",
        "--integration",
        "false",
        "--cases",
        "8",
        "--out",
        out.arg(),
        "--regressions",
        regressions.to_str().expect("utf-8"),
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(
        stderr.matches("  case ").count(),
        1,
        "one case, then it stops: {stderr}"
    );
    assert!(stderr.contains("HARNESS ERROR"), "{stderr}");
    assert!(
        !stderr.contains("passed"),
        "no case reads as passed: {stderr}"
    );
    assert!(
        stderr.contains("stopping: the integration never started"),
        "{stderr}"
    );
    assert!(!regressions.exists(), "nothing saved");
}

/// Every secret of the default world and every PIN the library and exploration
/// set: none may appear in any file a run writes (reports, traces, logs).
fn world_secrets() -> Vec<String> {
    let spec = wasim_sim::WorldSpec::default();
    let mut secrets: Vec<String> = [
        &spec.access_token,
        &spec.app_secret,
        &spec.verify_token,
        &spec.partner.password,
        &spec.partner.api_key,
        &spec.partner.webhook_secret,
    ]
    .iter()
    .map(|secret| secret.expose().to_owned())
    .collect();
    secrets.extend(
        spec.waba
            .phone_numbers
            .iter()
            .map(|phone| phone.d360_api_key.expose().to_owned()),
    );
    // The PINs the scenario library and the registration family set.
    for (_, text) in wasim_conformance::library::BUILTIN {
        for (at, _) in text.match_indices("pin = \"") {
            secrets.push(text[at + 7..at + 13].to_owned());
        }
    }
    secrets.extend(["246810".to_owned(), "135790".to_owned()]);
    secrets.sort();
    secrets.dedup();
    secrets
}

/// Fails naming the file and the secret if any file under `dir` holds one.
fn assert_no_secret_in(dir: &std::path::Path) {
    let secrets = world_secrets();
    assert!(secrets.len() >= 10, "{secrets:?}");
    let mut stack = vec![dir.to_path_buf()];
    let mut files = 0;
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            for entry in std::fs::read_dir(&path).expect("a readable directory") {
                stack.push(entry.expect("an entry").path());
            }
            continue;
        }
        files += 1;
        let text =
            String::from_utf8_lossy(&std::fs::read(&path).expect("a readable file")).into_owned();
        for secret in &secrets {
            assert!(
                !text.contains(secret.as_str()),
                "{} holds a secret of the world ({}…)",
                path.display(),
                &secret[..2]
            );
        }
        // Credentials the world made during the run (rotated tokens, new keys).
        for prefix in ["wasim_rotated_", "wasim_key_", "wasim_partner_"] {
            assert!(
                !text.contains(prefix),
                "{} holds a generated credential ({prefix}…)",
                path.display()
            );
        }
    }
    assert!(files > 50, "only {files} files under {}", dir.display());
}
