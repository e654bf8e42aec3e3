//! A fixed sample report shared by the tests.

use wasim_reports::{
    Artifact, CheckResult, CheckStatus, FORMAT_VERSION, Lane, Latency, Outcome, ProofRecord,
    Report, ScenarioReport, ScenarioStats, Severity, TimelineEntry, Tone, Volatile,
    VolatileScenario,
};

fn check(
    id: &str,
    severity: Severity,
    rule: &str,
    status: CheckStatus,
    message: &str,
) -> CheckResult {
    CheckResult {
        id: id.to_owned(),
        severity,
        rule: rule.to_owned(),
        reference: format!("Cloud API reference, {id}"),
        status,
        message: message.to_owned(),
        proof: Vec::new(),
    }
}

fn at(seq: u64, at_ms: u64, lane: Lane, text: &str) -> TimelineEntry {
    TimelineEntry {
        seq,
        at_ms,
        lane,
        tone: Tone::Normal,
        text: text.to_owned(),
    }
}

fn toned(tone: Tone, entry: TimelineEntry) -> TimelineEntry {
    TimelineEntry { tone, ..entry }
}

/// The measurements of scenario `name`: its wall time and, when it had
/// webhooks, their latency (`p50`, `p95`, `max`).
fn volatile(name: &str, wall_ms: u64, latency: Option<(u64, u64, u64)>) -> VolatileScenario {
    VolatileScenario {
        name: name.to_owned(),
        wall_ms,
        webhook_latency_ms: latency.map(|(p50, p95, max)| Latency { p50, p95, max }),
    }
}

fn artifacts(scenario: &str) -> Vec<Artifact> {
    vec![
        Artifact {
            name: "integration stdout".to_owned(),
            path: format!("scenarios/{scenario}/stdout.log"),
        },
        Artifact {
            name: "integration stderr".to_owned(),
            path: format!("scenarios/{scenario}/stderr.log"),
        },
        Artifact {
            name: "trace".to_owned(),
            path: format!("scenarios/{scenario}/trace.jsonl"),
        },
    ]
}

/// A scenario with no checks, timeline, counts or artifacts.
fn scenario(
    name: &str,
    description: &str,
    file: &str,
    outcome: Outcome,
    reason: Option<&str>,
) -> ScenarioReport {
    ScenarioReport {
        name: name.to_owned(),
        description: description.to_owned(),
        file: file.to_owned(),
        outcome,
        reason: reason.map(str::to_owned),
        checks: Vec::new(),
        timeline: Vec::new(),
        stats: ScenarioStats::default(),
        artifacts: Vec::new(),
    }
}

/// Six scenarios in library order: passed, failed, skipped, harness error, not
/// exercised, not run; and a catalog with a check no scenario exercised.
pub(crate) fn sample() -> Report {
    let passed = ScenarioReport {
        checks: vec![
            check(
                "SEND-001",
                Severity::Must,
                "Sends carry a valid recipient",
                CheckStatus::Pass,
                "3 sends, all to a known user",
            ),
            check(
                "WH-001",
                Severity::Must,
                "Webhooks are answered 200 within 5 s",
                CheckStatus::Pass,
                "4 deliveries answered 200",
            ),
            check(
                "WH-002",
                Severity::Should,
                "Duplicate webhooks are ignored",
                CheckStatus::Pass,
                "1 duplicate, not acted upon",
            ),
        ],
        timeline: vec![
            at(40, 0, Lane::Step, "user +15550001 writes \"hello\""),
            at(
                41,
                12,
                Lane::Webhook,
                "messages webhook delivered, answered 200",
            ),
            at(
                42,
                140,
                Lane::Message,
                "text to +15550001 accepted (wamid.A1)",
            ),
            at(43, 1_140, Lane::Status, "wamid.A1 delivered"),
            at(
                44,
                1_152,
                Lane::Webhook,
                "statuses webhook delivered, answered 200",
            ),
        ],
        stats: ScenarioStats {
            requests: 3,
            messages_accepted: 3,
            messages_rejected: 0,
            webhooks: 4,
            webhook_attempts: 5,
        },
        artifacts: artifacts("basics-echo"),
        ..scenario(
            "basics-echo",
            "A user writes; the integration echoes the text back",
            "basics/echo.toml",
            Outcome::Passed,
            None,
        )
    };

    let mut must = check(
        "CAP-001",
        Severity::Must,
        "A 429 (code 130429) is retried only after backing off",
        CheckStatus::Fail,
        "retried 8 ms after a 429, expected at least 1000 ms",
    );
    must.reference = "Cloud API > Throughput | Rate limits".to_owned();
    must.proof = vec![
        ProofRecord {
            seq: 41,
            at_ms: 61_250,
            kind: "message_rejected".to_owned(),
            summary: "send to +15550002 rejected: 130429 rate limit hit".to_owned(),
        },
        ProofRecord {
            seq: 42,
            at_ms: 61_258,
            kind: "message_rejected".to_owned(),
            summary: "send to +15550002 rejected again 8 ms later: 130429 rate limit hit"
                .to_owned(),
        },
    ];
    let mut should = check(
        "CAP-004",
        Severity::Should,
        "Sends stay under the business's messaging tier",
        CheckStatus::Fail,
        "peaked at 120 sends/s; the tier allows 80 sends/s",
    );
    should.proof = vec![ProofRecord {
        seq: 57,
        at_ms: 3_723_004,
        kind: "message_accepted".to_owned(),
        summary: "the 120th send within one second".to_owned(),
    }];
    let failed = ScenarioReport {
        checks: vec![
            must,
            check(
                "CAP-002",
                Severity::Must,
                "Rejected sends are not reported as sent",
                CheckStatus::Pass,
                "no rejected send acknowledged",
            ),
            should,
            check(
                "TPL-001",
                Severity::Must,
                "Out of the 24 h window only templates are sent",
                CheckStatus::NotApplicable,
                "the scenario never leaves the customer service window",
            ),
        ],
        timeline: vec![
            at(38, 0, Lane::Step, "load: 200 users write within 1 s"),
            toned(
                Tone::Injected,
                at(
                    39,
                    60_000,
                    Lane::Webhook,
                    "fault injected: webhook 7 held, then reordered",
                ),
            ),
            toned(
                Tone::Problem,
                at(
                    41,
                    61_250,
                    Lane::Message,
                    "send to +15550002 rejected (130429)",
                ),
            ),
            toned(
                Tone::Problem,
                at(
                    42,
                    61_258,
                    Lane::Message,
                    "send to +15550002 rejected (130429)",
                ),
            ),
            toned(
                Tone::Problem,
                at(43, 61_900, Lane::Status, "wamid.B6 failed (131049)"),
            ),
            at(44, 62_000, Lane::Status, "wamid.B7 read"),
            toned(
                Tone::Problem,
                at(
                    45,
                    62_010,
                    Lane::Webhook,
                    "webhook 9 attempt 1 timed out: status read (wamid.B7)",
                ),
            ),
        ],
        stats: ScenarioStats {
            requests: 412,
            messages_accepted: 380,
            messages_rejected: 32,
            webhooks: 590,
            webhook_attempts: 611,
        },
        artifacts: artifacts("cap-naive-retry"),
        ..scenario(
            "cap-naive-retry",
            "The platform answers 429 under load; retries must back off",
            "capacity/naive-retry.toml",
            Outcome::Failed,
            None,
        )
    };

    let skipped = ScenarioReport {
        timeline: vec![at(52, 0, Lane::Step, "driver: start flow \"signup\"")],
        ..scenario(
            "flows-driver",
            "The runner asks the integration to start a flow",
            "flows/driver.toml",
            Outcome::Skipped,
            Some("the integration has no driver hook (POST /wasim/actions answered 404)"),
        )
    };

    let harness = ScenarioReport {
        timeline: vec![
            at(53, 0, Lane::Step, "start the integration"),
            at(
                54,
                5_000,
                Lane::Incident,
                "the integration exited with status 1",
            ),
        ],
        artifacts: artifacts("webhook-crash")[..2].to_vec(),
        ..scenario(
            "webhook-crash",
            "A malformed webhook must not crash the integration",
            "webhooks/crash.toml",
            Outcome::HarnessError,
            Some("the integration exited with status 1 before listening"),
        )
    };

    let not_exercised = ScenarioReport {
        checks: vec![check(
            "CAP-001",
            Severity::Must,
            "A 429 (code 130429) is retried only after backing off",
            CheckStatus::NotApplicable,
            "no 131049 failure in the scenario",
        )],
        timeline: vec![at(60, 0, Lane::Step, "driver: send spring_sale")],
        ..scenario(
            "cap-open-conversation",
            "A template inside an open marketing conversation is not capped",
            "xx/open-conversation.toml",
            Outcome::NotExercised,
            Some("none of its checks applied (CAP-001: no 131049 failure in the scenario)"),
        )
    };

    let not_run = scenario(
        "zz-last",
        "Played after the integration stopped starting",
        "zz/last.toml",
        Outcome::NotRun,
        Some("not run: the integration never started (in `webhook-crash`)"),
    );

    let scenarios = vec![passed, failed, skipped, harness, not_exercised, not_run];
    let catalog = [
        ("SEND-001", Severity::Must),
        ("WH-001", Severity::Must),
        ("WH-002", Severity::Should),
        ("CAP-001", Severity::Must),
        ("CAP-002", Severity::Must),
        ("CAP-004", Severity::Should),
        ("TPL-001", Severity::Must),
        ("NEVER-001", Severity::Must),
    ];
    Report {
        format_version: FORMAT_VERSION,
        tool: "wasim 0.1.0".to_owned(),
        command: "certify".to_owned(),
        integration: "./target/debug/my-bot --port {port}".to_owned(),
        partition: "1/1".to_owned(),
        verdict: Report::verdict_of(&scenarios),
        coverage: Report::coverage_of(catalog, &scenarios),
        volatile: Volatile {
            wall_ms: 12_345,
            scenarios: vec![
                volatile("basics-echo", 850, Some((12, 30, 41))),
                volatile("cap-naive-retry", 4_210, Some((15, 88, 120))),
                volatile("flows-driver", 3, None),
                volatile("webhook-crash", 5_020, None),
                volatile("cap-open-conversation", 700, None),
                volatile("zz-last", 0, None),
            ],
        },
        scenarios,
        exploration: None,
    }
}
