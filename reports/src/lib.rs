//! One run, one [`Report`] value, four renderings: JSON (the source of truth),
//! Markdown (a CI step summary or PR comment), JUnit XML (CI test tabs) and a
//! self-contained HTML page with a timeline.
//!
//! Reports are deterministic: everything measured in wall time (latencies, run
//! times) lives in [`Volatile`], apart from the rest, so snapshots of the stable
//! part never change between runs of the same scenarios.

use serde::{Deserialize, Serialize};

mod error;
pub mod exit;
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
///
/// 2: the outcomes `not_exercised` and `not_run`, the verdict `nothing_judged`,
/// per-check `coverage`, and a timeline entry's `seq` and `tone`.
pub const FORMAT_VERSION: u32 = 2;

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
    /// Per check of the catalog, in catalog order: in how many scenarios it was
    /// exercised (it applied) and how it went there. A check with no exercising
    /// scenario was never put to the test by this run.
    pub coverage: Vec<CheckCoverage>,
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
    /// At least one scenario passed and every applicable `must` check passed in
    /// every scenario that was judged (exit 0). Skipped and not exercised
    /// scenarios are counted apart and do not count toward it.
    Certified,
    /// At least one `must` check failed (exit 1).
    Violations,
    /// The harness or the integration failed (crash, hang, never listened) (exit 2).
    HarnessFailure,
    /// Nothing failed, but no scenario passed either: every one was skipped, not
    /// exercised or not run, so there is nothing to certify (exit 2).
    NothingJudged,
}

impl Verdict {
    /// The exit code CI branches on (see [`exit`]).
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Certified => exit::OK,
            Verdict::Violations => exit::VIOLATIONS,
            Verdict::HarnessFailure | Verdict::NothingJudged => exit::FAILURE,
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
    /// Why the scenario was skipped, not exercised, not run, stopped early or
    /// failed by the harness, if it was.
    pub reason: Option<String>,
    /// The checks judged, in catalog order. Empty when the scenario was not
    /// judged (skipped, not run).
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
    /// At least one check applied, and every applicable `must` check passed
    /// (`should` checks may have failed).
    Passed,
    /// A `must` check failed.
    Failed,
    /// Not judged: the integration declined something the scenario needs (no
    /// driver hook, or 501 to an action). No check verdicts.
    Skipped,
    /// Played to the end, but none of its checks applied: nothing was put to
    /// the test. Counted apart; does not count toward certification.
    NotExercised,
    /// Never started: the run stopped before it (the integration never started
    /// in an earlier scenario). No check verdicts.
    NotRun,
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
    /// The public source(s) of the rule, separated by `; `: documentation
    /// addresses, or the seed newsletter by name and date.
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
    /// The trace record's sequence number (what a check's proof cites).
    pub seq: u64,
    /// Virtual time, milliseconds since the world epoch.
    pub at_ms: u64,
    /// Which lane it belongs to.
    pub lane: Lane,
    /// How to read it: routine, injected on purpose, or a problem.
    pub tone: Tone,
    /// What happened, in words.
    pub text: String,
}

/// How a timeline entry reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tone {
    /// Routine: a step, a send, a status, an answered webhook.
    Normal,
    /// Something the scenario did on purpose: a webhook fault (held, reordered,
    /// duplicated, forged), a fault phase, an incident it plays.
    Injected,
    /// Something went wrong: a refused send, a failed status, an unanswered
    /// webhook, a refused credential.
    Problem,
}

/// How one check of the catalog fared over a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckCoverage {
    /// Stable id (`CAP-001`).
    pub id: String,
    /// Severity.
    pub severity: Severity,
    /// Scenarios in which it applied (passed or failed).
    pub exercised: u32,
    /// Scenarios in which it passed.
    pub passed: u32,
    /// Scenarios in which it failed.
    pub failed: u32,
}

/// Timeline lanes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lane {
    /// A scenario step the runner played.
    Step,
    /// A send by the integration (accepted or rejected).
    Message,
    /// A message status, delivered or failed.
    Status,
    /// A webhook delivery, attempt or injected fault.
    Webhook,
    /// Something that happened to the account, a template or a credential: a
    /// pause, a key replaced, a refused request.
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
    /// The verdict the scenarios add up to: a harness error outweighs a failure,
    /// a failure outweighs a pass, and with neither at least one scenario must
    /// have passed to certify.
    pub fn verdict_of(scenarios: &[ScenarioReport]) -> Verdict {
        let any = |outcome: Outcome| scenarios.iter().any(|s| s.outcome == outcome);
        if any(Outcome::HarnessError) {
            Verdict::HarnessFailure
        } else if any(Outcome::Failed) {
            Verdict::Violations
        } else if any(Outcome::Passed) {
            Verdict::Certified
        } else {
            Verdict::NothingJudged
        }
    }

    /// Coverage of `catalog` (each check's id and severity, in catalog order)
    /// by `scenarios`.
    pub fn coverage_of<'a>(
        catalog: impl IntoIterator<Item = (&'a str, Severity)>,
        scenarios: &[ScenarioReport],
    ) -> Vec<CheckCoverage> {
        catalog
            .into_iter()
            .map(|(id, severity)| {
                let mut entry = CheckCoverage {
                    id: id.to_owned(),
                    severity,
                    exercised: 0,
                    passed: 0,
                    failed: 0,
                };
                for check in scenarios.iter().flat_map(|s| &s.checks) {
                    if check.id != id {
                        continue;
                    }
                    match check.status {
                        CheckStatus::Pass => entry.passed += 1,
                        CheckStatus::Fail => entry.failed += 1,
                        CheckStatus::NotApplicable => continue,
                    }
                    entry.exercised += 1;
                }
                entry
            })
            .collect()
    }

    /// Recomputes the verdict and the coverage (over the same catalog) after
    /// scenarios were added.
    pub fn recount(&mut self) {
        self.verdict = Report::verdict_of(&self.scenarios);
        let catalog: Vec<(String, Severity)> = self
            .coverage
            .iter()
            .map(|c| (c.id.clone(), c.severity))
            .collect();
        self.coverage = Report::coverage_of(
            catalog
                .iter()
                .map(|(id, severity)| (id.as_str(), *severity)),
            &self.scenarios,
        );
    }

    /// The checks of the catalog no scenario of this run exercised.
    pub fn unexercised(&self) -> impl Iterator<Item = &CheckCoverage> {
        self.coverage.iter().filter(|c| c.exercised == 0)
    }

    /// The report with its volatile section emptied, for comparing runs.
    pub fn without_volatile(&self) -> Report {
        Report {
            volatile: Volatile::default(),
            ..self.clone()
        }
    }
}
