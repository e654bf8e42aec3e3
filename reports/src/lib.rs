//! One run, one [`Report`] value, four renderings: JSON (the source of truth),
//! Markdown (a CI step summary or PR comment), JUnit XML (CI test tabs) and a
//! self-contained HTML page with a timeline.
//!
//! Reports are deterministic: everything measured in wall time (latencies, run
//! times) lives in [`Volatile`], apart from the rest, so snapshots of the stable
//! part never change between runs of the same scenarios.

use serde::{Deserialize, Serialize};

mod error;
mod html;
mod json;
mod junit;
mod markdown;
mod merge;
mod text;
mod write;

pub use error::ReportError;
pub use html::to_html;
pub use json::{from_json, to_json};
pub use junit::to_junit;
pub use markdown::to_markdown;
pub use merge::merge;
pub use write::write_all;

/// The report format version; bump on breaking changes to the JSON shape.
pub const FORMAT_VERSION: u32 = 1;

/// The whole result of `wasim run` or `wasim certify`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// [`FORMAT_VERSION`].
    pub format_version: u32,
    /// `wasim` and its version (`wasim 0.1.0`).
    pub tool: String,
    /// `run` or `certify`.
    pub command: String,
    /// The integration judged, as given (`--integration`), secrets never included.
    pub integration: String,
    /// The slice of the library this report covers (`1/1` when whole).
    pub partition: String,
    /// The overall verdict.
    pub verdict: Verdict,
    /// One entry per scenario, in library order.
    pub scenarios: Vec<ScenarioReport>,
    /// What property-based exploration did, when it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exploration: Option<Exploration>,
    /// Everything measured in wall time.
    pub volatile: Volatile,
}

/// What `wasim explore` (or the exploration part of `certify`) did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exploration {
    /// The generator's seed: the same seed explores the same cases.
    pub seed: u64,
    /// Generated cases run.
    pub cases: u32,
    /// Runs spent shrinking the failure.
    pub shrink_runs: u32,
    /// Cases that ended in a harness error.
    pub harness_errors: u32,
    /// The failure found, shrunk; none when every case passed.
    pub finding: Option<ExplorationFinding>,
}

/// A failure found by exploration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExplorationFinding {
    /// The check it breaks.
    pub check: String,
    /// The minimal scenario's name (its entry in `scenarios`).
    pub scenario: String,
    /// Steps of the case first found, and of the minimal one.
    pub steps_found: usize,
    /// Steps of the minimal case.
    pub steps_minimal: usize,
    /// Where the minimal scenario was saved.
    pub file: Option<String>,
    /// The command that replays it.
    pub replay: String,
}

/// The overall verdict, and the process exit code it maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every applicable `must` check passed in every scenario that ran (exit 0).
    Certified,
    /// At least one `must` check failed (exit 1).
    Violations,
    /// The harness or the integration failed (crash, hang, never listened) (exit 2).
    HarnessFailure,
}

impl Verdict {
    /// The exit code CI branches on.
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Certified => 0,
            Verdict::Violations => 1,
            Verdict::HarnessFailure => 2,
        }
    }
}

/// How one scenario went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScenarioReport {
    /// The scenario's name (`cap-naive-retry`).
    pub name: String,
    /// One-line description.
    pub description: String,
    /// The scenario file, relative to the library.
    pub file: String,
    /// The outcome.
    pub outcome: Outcome,
    /// Why the scenario was skipped or the harness failed, if it was.
    pub reason: Option<String>,
    /// The checks judged, in catalog order.
    pub checks: Vec<CheckResult>,
    /// What happened, in virtual time: steps, messages, statuses, webhooks, incidents.
    pub timeline: Vec<TimelineEntry>,
    /// Counts from the trace.
    pub stats: ScenarioStats,
    /// Files kept beside the report (the integration's stdout and stderr, the trace).
    pub artifacts: Vec<Artifact>,
}

/// A scenario's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every applicable check passed (or failed only `should` checks).
    Passed,
    /// A `must` check failed.
    Failed,
    /// Not run: the integration lacks something the scenario needs (the driver hook).
    Skipped,
    /// The harness or the integration failed; see `reason`.
    HarnessError,
}

/// How binding a check is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// A failure is a violation: no certification.
    Must,
    /// A failure is a warning.
    Should,
}

/// One check's judgement in one scenario.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    /// Stable id (`CAP-001`).
    pub id: String,
    /// Severity.
    pub severity: Severity,
    /// The rule, one line.
    pub rule: String,
    /// The platform reference section it stems from.
    pub reference: String,
    /// The verdict.
    pub status: CheckStatus,
    /// What was found, one line (why it failed, or why it did not apply).
    pub message: String,
    /// The trace records that prove a failure (at most a few).
    pub proof: Vec<ProofRecord>,
}

/// A check's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// The rule held.
    Pass,
    /// The rule was broken; `proof` shows where.
    Fail,
    /// The scenario gave the rule nothing to judge.
    NotApplicable,
}

/// A trace record cited as proof.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofRecord {
    /// The record's sequence number in the scenario's trace.
    pub seq: u64,
    /// Virtual time, milliseconds since the world epoch.
    pub at_ms: u64,
    /// The record's kind (`message_accepted`).
    pub kind: String,
    /// The record in words.
    pub summary: String,
}

/// One line of a scenario's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEntry {
    /// Virtual time, milliseconds since the world epoch.
    pub at_ms: u64,
    /// Which lane it belongs to.
    pub lane: Lane,
    /// What happened, in words.
    pub text: String,
}

/// Timeline lanes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lane {
    /// A scenario step the runner played.
    Step,
    /// A send by the integration (accepted or rejected).
    Message,
    /// A message status.
    Status,
    /// A webhook delivery or attempt.
    Webhook,
    /// Something that went wrong: a fault, a failure, a violation.
    Incident,
}

/// Counts from a scenario's trace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScenarioStats {
    /// API requests the integration made.
    pub requests: u64,
    /// Messages accepted.
    pub messages_accepted: u64,
    /// Sends rejected synchronously.
    pub messages_rejected: u64,
    /// Webhook deliveries emitted.
    pub webhooks: u64,
    /// Webhook attempts posted (copies included).
    pub webhook_attempts: u64,
}

/// A file kept beside the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifact {
    /// What it is (`integration stdout`).
    pub name: String,
    /// Its path, relative to the report directory.
    pub path: String,
}

/// Wall-time measurements: they differ run to run, so they live apart.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Volatile {
    /// Wall milliseconds the whole run took.
    pub wall_ms: u64,
    /// Per scenario, in the same order as `Report::scenarios`.
    pub scenarios: Vec<VolatileScenario>,
}

/// One scenario's wall-time measurements.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolatileScenario {
    /// The scenario's name.
    pub name: String,
    /// Wall milliseconds it took.
    pub wall_ms: u64,
    /// Webhook answer latencies in milliseconds: median, 95th percentile, max (none
    /// when no webhook was answered).
    pub webhook_latency_ms: Option<Latency>,
}

/// A latency summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Latency {
    /// Median.
    pub p50: u64,
    /// 95th percentile.
    pub p95: u64,
    /// Maximum.
    pub max: u64,
}

impl Report {
    /// The verdict the scenarios add up to.
    pub fn verdict_of(scenarios: &[ScenarioReport]) -> Verdict {
        if scenarios.iter().any(|s| s.outcome == Outcome::HarnessError) {
            Verdict::HarnessFailure
        } else if scenarios.iter().any(|s| s.outcome == Outcome::Failed) {
            Verdict::Violations
        } else {
            Verdict::Certified
        }
    }

    /// The report with its volatile section emptied, for comparing runs.
    pub fn without_volatile(&self) -> Report {
        Report {
            volatile: Volatile::default(),
            ..self.clone()
        }
    }
}
