//! `wasim bench` end to end: the self bench loads both targets and writes its
//! report; the integration bench tells a backoff from a hot loop. These check
//! what is measured and reported, never how fast (figures live in
//! benches/README.md).

use std::path::Path;

use serde_json::Value;

mod support;

use support::{OutDir, wasim};

/// A fresh output directory for one test, removed when it passes.
fn out_dir(name: &str) -> OutDir {
    OutDir::new("wasim-bench", name)
}

/// Runs `wasim bench` with `args`, writing its report to `out`.
fn bench(out: &OutDir, args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["bench"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--out", out.arg()]);
    wasim(&all)
}

fn bench_json(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("bench.json")).expect("bench.json written");
    serde_json::from_str(&text).expect("bench.json is JSON")
}

#[test]
fn the_self_bench_loads_wasim_and_the_bare_handler_and_reports_both() {
    let out = out_dir("self");
    let (code, stdout, stderr) = bench(
        &out,
        &[
            "--self",
            "--duration",
            "1",
            "--connections",
            "4",
            "--recipients",
            "2000",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let report = bench_json(&out);
    assert_eq!(report["bench"], "self");
    for target in ["wasim", "ceiling"] {
        let summary = &report[target];
        let requests = summary["requests"].as_u64().expect("requests");
        assert!(requests > 0, "{target} answered nothing: {summary}");
        // Every answer is counted once, by kind: sends to distinct, unthrottled
        // recipients are all accepted.
        let answers: u64 = summary["answers"]
            .as_object()
            .expect("answers")
            .values()
            .filter_map(Value::as_u64)
            .sum();
        assert_eq!(answers, requests, "{target}: {summary}");
        assert_eq!(
            summary["answers"]["200"].as_u64(),
            Some(requests),
            "{summary}"
        );
        let latency = &summary["latency_us"];
        assert!(
            latency["p50"].as_u64() <= latency["p99"].as_u64(),
            "{latency}"
        );
        assert!(
            latency["p99"].as_u64() <= latency["max"].as_u64(),
            "{latency}"
        );
    }
    let ratio = report["ratio"].as_f64().expect("ratio");
    let wasim_rps = report["wasim"]["requests_per_s"].as_f64().expect("rps");
    let ceiling_rps = report["ceiling"]["requests_per_s"].as_f64().expect("rps");
    assert!((ratio - wasim_rps / ceiling_rps).abs() < 1e-9, "{report}");
    assert!(stdout.contains("bare axum JSON handler"), "{stdout}");
    assert!(
        std::fs::read_to_string(out.join("bench.md"))
            .expect("bench.md")
            .contains("the bare handler's requests/s"),
    );
}

/// Benches the reference integration (optionally flawed) on a small campaign.
fn bench_reference(name: &str, flaw: Option<&str>) -> Value {
    let out = out_dir(name);
    let mut args = vec!["--recipients", "200"];
    if let Some(flaw) = flaw {
        args.extend_from_slice(&["--flaw", flaw]);
    }
    let (code, _, stderr) = bench(&out, &args);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        out.join("artifacts/bench/trace.jsonl").exists(),
        "the trace is kept"
    );
    bench_json(&out)
}

#[test]
fn the_integration_bench_tells_a_backoff_from_a_hot_loop() {
    // 200 recipients at once against 80 messages/s: both get throttled.
    let correct = bench_reference("correct", None);
    assert_eq!(correct["bench"], "integration");
    assert_eq!(correct["recipients"], 200);
    assert_eq!(correct["accepted"], 200, "{correct}");
    assert!(correct["messages_per_s"].as_f64() > Some(0.0), "{correct}");
    let throttling = &correct["throttling"];
    assert!(throttling["rate_limited"].as_u64() > Some(0), "{correct}");
    assert_eq!(throttling["immediate_retries"], 0, "{correct}");
    assert!(
        throttling["backoff_ms"]["p50"].as_u64() >= Some(100),
        "the reference waits 0.2 s or more: {correct}"
    );

    let hot = bench_reference("hot-loop", Some("hot-loop-rate"));
    let throttling = &hot["throttling"];
    assert!(
        throttling["immediate_retries"].as_u64() > Some(0),
        "a hot loop retries at once: {hot}"
    );
    assert!(
        hot["send_requests"].as_u64() > correct["send_requests"].as_u64(),
        "{hot}"
    );
}

#[test]
fn bench_refuses_an_integration_without_the_driver_hook_with_a_clear_error() {
    let out = out_dir("no-hook");
    // A receiver that answers 404 to everything, like a plain chatbot.
    let script = "python3 -c \"import http.server,os\nclass H(http.server.BaseHTTPRequestHandler):\n  def do_POST(s): s.send_response(404); s.end_headers()\n  def do_GET(s): s.send_response(404); s.end_headers()\n  def log_message(s,*a): pass\nhttp.server.HTTPServer(('127.0.0.1', int(os.environ['WASIM_WEBHOOK_PORT'])), H).serve_forever()\"";
    let (code, _, stderr) = bench(&out, &["--integration", script, "--recipients", "5"]);
    assert_eq!(code, 2, "{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "one line of error: {stderr}");
    assert!(errors[0].contains("needs the driver hook"), "{stderr}");
}
