//! The runner: one fresh simulated platform per scenario, the integration started
//! against it with the driver environment (`docs/protocol.md`), the timeline
//! played, due timers and webhooks drained, the integration stopped, the trace
//! judged.
//!
//! Virtual time moves only when the runner says so (manual clock). After every
//! step, and after every timer instant that posted webhooks, the runner waits
//! until the integration is quiet (no new trace record for `quiet`) so that its
//! reactions land at the virtual instant that caused them.
//!
//! Nothing here can hang: starting, every driver call, every settle and the whole
//! scenario have wall-time bounds, and an integration that crashes, hangs or never
//! listens is a classified harness error.
//!
//! Outcomes are never greener than what happened: a scenario none of whose
//! checks applied is not exercised; one the integration declined (no driver
//! hook, 501) is skipped and not judged; once the integration has failed to
//! start without ever having listened, the rest of the library is not run; a
//! scenario whose webhook acknowledgements have already broken WH-001 by
//! being slow stops there, failed, instead of retrying into them.

mod error;
pub mod process;
pub mod summary;

pub use error::RunnerError;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use wasim_reports::{
    Artifact, CheckStatus, Outcome, Report, ScenarioReport, Severity, Volatile, VolatileScenario,
};
use wasim_sim::model::Command;
use wasim_sim::server::{Running, start};
use wasim_sim::state::{AppState, wall_now};
use wasim_sim::{ServeConfig, TraceEvent, TraceRecord, WorldSpec};

use futures_util::{StreamExt, stream};

use self::process::{Integration, describe_exit, free_port};
use crate::checks::{self, Evidence};
use crate::library::Partition;
use crate::scenario::{Scenario, SendSurface, Step};

/// How to run scenarios.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The integration's command line, run through `sh -c`.
    pub integration: String,
    /// How to show the integration in reports (no secrets).
    pub integration_label: String,
    /// Where driver actions go instead of `http://127.0.0.1:$WASIM_WEBHOOK_PORT`.
    pub driver_url: Option<String>,
    /// The report directory; artifacts go under `artifacts/<scenario>/`.
    pub out_dir: PathBuf,
    /// How long the integration may take to listen. Default 15 s.
    pub start_timeout: Duration,
    /// How long without a new trace record counts as quiet. Default 100 ms.
    pub quiet: Duration,
    /// Longest wait for quiet after one step. Default 10 s.
    pub settle_max: Duration,
    /// Timeout of one webhook attempt or driver call. Default 2 s.
    pub call_timeout: Duration,
    /// Longest one scenario may take in wall time. Default 120 s.
    pub scenario_timeout: Duration,
    /// Between TERM and KILL when stopping the integration. Default 3 s.
    pub stop_grace: Duration,
    /// Virtual time within which timer instants are played together, with one
    /// settle for all of them (the webhooks still go out in order). Default
    /// zero: every instant settles on its own. Exploration uses a second, so a
    /// campaign's dozens of status webhooks do not cost a quiet period each.
    pub coalesce_ms: u64,
    /// Scenarios `run_all` plays at once. Default 1.
    pub jobs: usize,
}

impl RunOptions {
    /// The defaults for `integration`, writing into `out_dir`.
    pub fn new(integration: String, out_dir: PathBuf) -> Self {
        RunOptions {
            integration_label: integration.clone(),
            integration,
            driver_url: None,
            out_dir,
            start_timeout: Duration::from_secs(15),
            quiet: Duration::from_millis(100),
            settle_max: Duration::from_secs(10),
            call_timeout: Duration::from_secs(2),
            scenario_timeout: Duration::from_secs(120),
            stop_grace: Duration::from_secs(3),
            coalesce_ms: 0,
            jobs: 1,
        }
    }
}

/// One scenario's result: its report entry and its wall-time measurements.
#[derive(Debug, Clone)]
pub struct ScenarioRun {
    /// The stable part.
    pub report: ScenarioReport,
    /// The wall-time part.
    pub volatile: VolatileScenario,
    /// How far the integration got: whether it ever listened on its port.
    pub start: Start,
}

/// How far the integration got in a scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// It listened on `$WASIM_WEBHOOK_PORT` (or was kept from an earlier case).
    Listened,
    /// It exited before listening, never listened in time, or could not be
    /// started at all.
    NeverStarted,
    /// The scenario was not played (the run had stopped), or stopped before
    /// the integration was started.
    NotTried,
}

/// Why a scenario stopped early.
#[derive(Debug)]
enum Stop {
    /// The integration declined what the scenario needs (no driver hook, 501).
    NoDriver(String),
    /// The integration exited before listening or never listened.
    NeverStarted(String),
    /// The platform refused a scenario step; whether that is the integration's
    /// doing (an earlier driver action it did not carry out) is decided once
    /// the trace is judged.
    StepRefused(String),
    /// A `must` check has already failed for good (WH-001 by slow
    /// acknowledgements): playing on would only retry into it.
    Decided(String),
    /// The harness or the integration failed.
    Harness(String),
}

/// Everything one scenario's play needs.
struct Play<'a> {
    options: &'a RunOptions,
    /// The quiet period of this scenario.
    quiet: Duration,
    state: Arc<AppState>,
    integration: Integration,
    driver_url: String,
    client: reqwest::Client,
    started: Instant,
    /// Trace records already scanned for slow webhook acknowledgements.
    ack_scanned: usize,
}

/// Milliseconds since `started`, by the shell's wall clock.
fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(wall_now().duration_since(started).as_millis()).unwrap_or(u64::MAX)
}

impl Play<'_> {
    fn trace_len(&self) -> usize {
        self.state.read(|sim| sim.trace.len())
    }

    fn record(&self, event: TraceEvent) {
        self.state.with_sim(|sim, _| sim.record(event));
    }

    fn check_alive(&mut self) -> Result<(), Stop> {
        if let Some(status) = self.integration.exited() {
            return Err(Stop::Harness(format!(
                "the integration exited during the scenario ({}); see its stderr",
                describe_exit(Some(status))
            )));
        }
        if hangs(&self.state) {
            return Err(Stop::Harness(format!(
                "the integration listens but answered no webhook within {:?}: it hangs",
                self.options.call_timeout
            )));
        }
        if let Some(reason) = self.slow_acknowledgement() {
            return Err(Stop::Decided(reason));
        }
        if wall_now().duration_since(self.started) > self.options.scenario_timeout {
            return Err(Stop::Harness(format!(
                "the scenario took longer than {:?}: the integration hangs or loops",
                self.options.scenario_timeout
            )));
        }
        Ok(())
    }

    /// A genuine webhook the integration acknowledged too slowly (or not before
    /// the attempt timed out), among the records not scanned yet: WH-001 has
    /// failed for good, and every further webhook would cost the same wait.
    fn slow_acknowledgement(&mut self) -> Option<String> {
        let from = self.ack_scanned;
        let (found, len) = self.state.read(|sim| {
            let found = sim
                .trace
                .since(from)
                .find_map(|record| match &record.event {
                    TraceEvent::WebhookAttempt {
                        copy,
                        error,
                        delivery_id,
                        ..
                    } if *copy != "forged"
                        && (record.latency_ms.unwrap_or(0) > checks::webhooks::ACK_BUDGET_MS
                            || error.as_deref().is_some_and(|e| e.starts_with("timed out"))) =>
                    {
                        Some((record.at_ms, *delivery_id))
                    }
                    _ => None,
                });
            (found, sim.trace.len())
        });
        self.ack_scanned = len;
        // The latency is wall time: it stays out of the (deterministic) reason.
        found.map(|(at_ms, delivery_id)| {
            format!(
                "stopped early at +{}: webhook {delivery_id} was not acknowledged within {} ms, so WH-001 has failed; playing on would only retry into it",
                crate::describe::clock(at_ms),
                checks::webhooks::ACK_BUDGET_MS
            )
        })
    }

    /// Waits until the trace has been quiet for `quiet` (at most `settle_max`).
    async fn settle(&mut self) -> Result<(), Stop> {
        let begun = wall_now();
        loop {
            self.state.flush_webhooks().await;
            let before = self.trace_len();
            tokio::time::sleep(self.quiet).await;
            self.state.flush_webhooks().await;
            if self.trace_len() == before {
                return self.check_alive();
            }
            self.check_alive()?;
            if wall_now().duration_since(begun) > self.options.settle_max {
                // Still busy: go on; a hot loop shows in the checks.
                return Ok(());
            }
        }
    }

    /// Moves virtual time by `ms`, one timer instant at a time, settling after each
    /// instant that posted webhooks.
    async fn advance(&mut self, ms: u64) -> Result<(), Stop> {
        let target = self.state.now().plus_ms(ms);
        for _ in 0..100_000 {
            let now = self.state.now();
            let next = self
                .state
                .read(|sim| sim.world.next_deadline())
                .filter(|deadline| *deadline <= target);
            let to = next.map_or(target, |deadline| {
                deadline.plus_ms(self.options.coalesce_ms).min(target)
            });
            let before = self.trace_len();
            self.state
                .advance_by(to.since(now))
                .await
                .map_err(|e| Stop::Harness(format!("the clock could not advance: {e}")))?;
            let posted = self.state.read(|sim| {
                sim.trace
                    .since(before)
                    .any(|r| matches!(r.event, TraceEvent::WebhookAttempt { .. }))
            });
            if posted {
                self.settle().await?;
            } else {
                self.check_alive()?;
            }
            if next.is_none() {
                return Ok(());
            }
        }
        Err(Stop::Harness(
            "more than 100000 timer instants in one advance: the integration keeps the platform busy".to_owned(),
        ))
    }

    async fn action(&mut self, action: &Value) -> Result<(), Stop> {
        let url = format!("{}/wasim/actions", self.driver_url);
        // The virtual time the action is given at, like a webhook's `timestamp`.
        let mut action = action.clone();
        let now = self.state.now().as_ms() / 1000;
        let epoch = self.state.read(|sim| sim.world.spec().epoch_unix_s);
        action["timestamp"] = Value::String((epoch + now).to_string());
        let name = action["action"].as_str().unwrap_or_default().to_owned();
        self.record(TraceEvent::DriverAction {
            action: name.clone(),
            // A PIN or a token in an action is the trace's as a fingerprint only.
            body: wasim_sim::trace::redact_secrets(&action),
        });
        if name == "set_access_token" {
            let token = self.state.read(|sim| sim.world.spec().access_token.clone());
            action["access_token"] = Value::String(token.expose().to_owned());
            self.record(TraceEvent::CredentialHandedOver {
                credential: token.fingerprint(),
            });
        }
        let answer = self
            .client
            .post(&url)
            .timeout(self.options.call_timeout.max(Duration::from_secs(5)))
            .json(&action)
            .send()
            .await;
        match answer {
            Ok(response) if response.status().is_success() => Ok(()),
            Ok(response) if response.status().as_u16() == 404 => Err(Stop::NoDriver(
                "the integration has no driver hook (POST /wasim/actions answered 404)".to_owned(),
            )),
            Ok(response) if response.status().as_u16() == 501 => Err(Stop::NoDriver(format!(
                "the integration does not support the `{name}` action (POST /wasim/actions answered 501)"
            ))),
            Ok(response) => {
                let status = response.status().as_u16();
                let body = response.text().await.unwrap_or_default();
                Err(Stop::Harness(format!(
                    "the integration answered {status} to a driver action: {}",
                    body.chars().take(200).collect::<String>()
                )))
            }
            Err(error) if error.is_timeout() => Err(Stop::Harness(format!(
                "the integration did not answer a driver action (POST {url}) in time: it hangs"
            ))),
            Err(error) => Err(Stop::Harness(format!(
                "the driver action failed: {}",
                wasim_sim::webhook::deliver::describe_error(error)
            ))),
        }
    }

    async fn step(&mut self, step: &Step) -> Result<(), Stop> {
        match step {
            Step::Inbound {
                from,
                content,
                phone_number_id,
            } => {
                self.apply(Command::Inbound {
                    from: from.as_str().into(),
                    content: content.clone(),
                    phone_number_id: phone_number_id.as_deref().map(Into::into),
                    context: None,
                })?;
            }
            Step::EcosystemMarketing { to, count } => {
                self.apply(Command::EcosystemMarketing {
                    to: to.as_str().into(),
                    count: *count,
                })?;
            }
            Step::Advance { ms } => return self.advance(*ms).await,
            Step::Faults(profile) => {
                self.apply(Command::SetWebhookFaults {
                    profile: Some(profile.clone()),
                })?;
            }
            Step::Heal => {
                self.apply(Command::SetWebhookFaults { profile: None })?;
            }
            Step::Verify => {
                self.state
                    .verify_webhook()
                    .await
                    .map_err(|e| Stop::Harness(format!("the webhook handshake failed: {e}")))?;
            }
            Step::RotateAccessToken => {
                self.apply(Command::RotateAccessToken)?;
            }
            Step::Action(action) => self.action(action).await?,
            Step::Incident(incident) => {
                self.apply(Command::Incident(incident.clone()))?;
            }
            Step::Template { name, control } => {
                self.apply(Command::TemplateControl {
                    name: name.clone(),
                    control: *control,
                })?;
            }
        }
        self.settle().await
    }

    fn apply(&self, command: Command) -> Result<(), Stop> {
        self.state
            .apply(command)
            .map(drop)
            .map_err(|refusal| Stop::StepRefused(refusal.to_string()))
    }

    /// Asks the integration what it knows of each message it sent.
    async fn collect_states(&mut self) {
        let ids: Vec<String> = self.state.read(|sim| {
            sim.trace
                .records()
                .filter_map(|r| match &r.event {
                    TraceEvent::MessageAccepted { message_id, .. } => Some(message_id.clone()),
                    _ => None,
                })
                .take(200)
                .collect()
        });
        for id in ids {
            let url = format!("{}/wasim/messages/{id}", self.driver_url);
            let answer = self
                .client
                .get(&url)
                .timeout(self.options.call_timeout)
                .send()
                .await;
            let (status, http_status) = match answer {
                Ok(response) => {
                    let code = response.status().as_u16();
                    let body: Option<Value> = response.json().await.ok();
                    let status = body
                        .as_ref()
                        .and_then(|b| b["status"].as_str())
                        .filter(|_| code == 200)
                        .map(str::to_owned);
                    (status, Some(code))
                }
                Err(_) => (None, None),
            };
            let missing = http_status == Some(404) && status.is_none();
            self.record(TraceEvent::IntegrationState {
                message_id: id,
                status,
                http_status,
            });
            if missing || http_status.is_none() {
                // No such endpoint (or no answer): do not ask about the rest.
                break;
            }
        }
    }
}

/// The driver environment (`docs/protocol.md`) for world `spec` served at `addr`, the
/// integration listening on `port`.
pub fn environment(
    spec: &WorldSpec,
    addr: SocketAddr,
    port: u16,
    surface: SendSurface,
) -> Vec<(String, String)> {
    {
        let first = spec.waba.phone_numbers.first();
        let base = format!("http://{addr}");
        vec![
            ("WASIM_GRAPH_URL".to_owned(), base.clone()),
            ("WASIM_D360_URL".to_owned(), base.clone()),
            ("WASIM_PARTNER_URL".to_owned(), format!("{base}/api/v2")),
            (
                "WASIM_ACCESS_TOKEN".to_owned(),
                spec.access_token.expose().to_owned(),
            ),
            (
                "WASIM_D360_API_KEY".to_owned(),
                first
                    .map(|p| p.d360_api_key.expose().to_owned())
                    .unwrap_or_default(),
            ),
            (
                "WASIM_PHONE_NUMBER_ID".to_owned(),
                first.map(|p| p.id.clone()).unwrap_or_default(),
            ),
            ("WASIM_WABA_ID".to_owned(), spec.waba.id.clone()),
            ("WASIM_PARTNER_ID".to_owned(), spec.partner.id.clone()),
            (
                "WASIM_CHANNEL_ID".to_owned(),
                first.map(|p| p.channel_id.clone()).unwrap_or_default(),
            ),
            (
                "WASIM_APP_SECRET".to_owned(),
                spec.app_secret.expose().to_owned(),
            ),
            (
                "WASIM_VERIFY_TOKEN".to_owned(),
                spec.verify_token.expose().to_owned(),
            ),
            ("WASIM_WEBHOOK_PORT".to_owned(), port.to_string()),
            ("WASIM_SURFACE".to_owned(), surface.name().to_owned()),
            (
                "WASIM_PARTNER_USERNAME".to_owned(),
                spec.partner.username.clone(),
            ),
            (
                "WASIM_PARTNER_PASSWORD".to_owned(),
                spec.partner.password.expose().to_owned(),
            ),
            (
                "WASIM_PARTNER_API_KEY".to_owned(),
                spec.partner.api_key.expose().to_owned(),
            ),
            (
                "WASIM_PARTNER_SECRET".to_owned(),
                spec.partner.webhook_secret.expose().to_owned(),
            ),
        ]
    }
}

/// A directory name for a scenario's artifacts.
fn slug(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// Runs one scenario against the integration.
pub async fn run_scenario(scenario: &Scenario, options: &RunOptions) -> ScenarioRun {
    run_in(scenario, options, None).await
}

/// Runs one scenario against an integration `session` keeps running between
/// scenarios (reset through `POST /wasim/reset`, else restarted).
pub async fn run_scenario_in(
    scenario: &Scenario,
    options: &RunOptions,
    session: &mut Session,
) -> ScenarioRun {
    run_in(scenario, options, Some(session)).await
}

async fn run_in(
    scenario: &Scenario,
    options: &RunOptions,
    session: Option<&mut Session>,
) -> ScenarioRun {
    let started = wall_now();
    let artifacts_rel = PathBuf::from("artifacts").join(slug(&scenario.name));
    let artifacts = options.out_dir.join(&artifacts_rel);
    let mut report = blank_report(scenario);
    let played = match play(scenario, options, &artifacts, started, session).await {
        Ok(played) => played,
        Err(error) => Played {
            stop: Some(Stop::Harness(format!("failed to {error}"))),
            records: Vec::new(),
            start: Start::NotTried,
        },
    };
    for (name, file) in [
        ("integration stdout", "stdout.log"),
        ("integration stderr", "stderr.log"),
        ("trace (JSON Lines)", "trace.jsonl"),
    ] {
        if artifacts.join(file).exists() {
            report.artifacts.push(Artifact {
                name: name.to_owned(),
                path: artifacts_rel.join(file).display().to_string(),
            });
        }
    }
    let records = &played.records;
    let evidence = Evidence { records };
    let chosen: Vec<&checks::Check> = match &scenario.checks {
        Some(ids) => ids.iter().filter_map(|id| checks::find(id)).collect(),
        None => checks::CATALOG.iter().collect(),
    };
    report.checks = chosen.iter().map(|check| check.run(&evidence)).collect();
    report.timeline = summary::timeline(records);
    report.stats = summary::stats(records);
    let must_failed = report
        .checks
        .iter()
        .any(|c| c.status == CheckStatus::Fail && c.severity == Severity::Must);
    let (outcome, reason) = match played.stop {
        Some(Stop::NeverStarted(reason)) => {
            // Nothing was played: there is nothing to judge.
            report.checks.clear();
            (Outcome::HarnessError, Some(reason))
        }
        Some(Stop::Harness(reason)) => (Outcome::HarnessError, Some(reason)),
        Some(Stop::NoDriver(reason)) => {
            // Skipped means not judged: the checks of a story the integration
            // declined to play would only judge its absence.
            report.checks.clear();
            (Outcome::Skipped, Some(reason))
        }
        Some(Stop::Decided(reason)) => (Outcome::Failed, Some(reason)),
        Some(Stop::StepRefused(message)) if must_failed => {
            // The step needed what the integration failed to do earlier (a
            // reply to a message it never got sent): its failure, not ours.
            let failed: Vec<&str> = report
                .checks
                .iter()
                .filter(|c| c.status == CheckStatus::Fail && c.severity == Severity::Must)
                .map(|c| c.id.as_str())
                .collect();
            (
                Outcome::Failed,
                Some(format!(
                    "stopped early: the platform refused a scenario step ({message}) after the integration failed {}",
                    failed.join(", ")
                )),
            )
        }
        Some(Stop::StepRefused(message)) => (
            Outcome::HarnessError,
            Some(format!("the scenario step was refused: {message}")),
        ),
        None if must_failed => (Outcome::Failed, None),
        None if report
            .checks
            .iter()
            .all(|c| c.status == CheckStatus::NotApplicable) =>
        {
            (Outcome::NotExercised, Some(not_exercised_reason(&report)))
        }
        None => (Outcome::Passed, None),
    };
    report.outcome = outcome;
    report.reason = reason;
    let volatile = VolatileScenario {
        name: scenario.name.clone(),
        wall_ms: elapsed_ms(started),
        webhook_latency_ms: summary::latency(records),
    };
    ScenarioRun {
        report,
        volatile,
        start: played.start,
    }
}

/// A scenario's report entry before it is played or judged.
fn blank_report(scenario: &Scenario) -> ScenarioReport {
    ScenarioReport {
        name: scenario.name.clone(),
        description: scenario.description.clone(),
        file: scenario.file.display().to_string(),
        outcome: Outcome::Passed,
        reason: None,
        checks: Vec::new(),
        timeline: Vec::new(),
        stats: Default::default(),
        artifacts: Vec::new(),
    }
}

/// Why a scenario was not exercised: each check and why it did not apply.
fn not_exercised_reason(report: &ScenarioReport) -> String {
    if report.checks.is_empty() {
        return "no check judges this scenario".to_owned();
    }
    let why: Vec<String> = report
        .checks
        .iter()
        .map(|c| format!("{}: {}", c.id, c.message))
        .collect();
    format!("none of its checks applied ({})", why.join("; "))
}

/// A scenario the run did not play, and why.
fn not_run(scenario: &Scenario, reason: &str) -> ScenarioRun {
    let mut report = blank_report(scenario);
    report.outcome = Outcome::NotRun;
    report.reason = Some(reason.to_owned());
    ScenarioRun {
        report,
        volatile: VolatileScenario {
            name: scenario.name.clone(),
            wall_ms: 0,
            webhook_latency_ms: None,
        },
        start: Start::NotTried,
    }
}

/// What playing a scenario left: why it stopped early (if it did), its trace
/// in causal order, and how far the integration got.
struct Played {
    stop: Option<Stop>,
    records: Vec<TraceRecord>,
    start: Start,
}

/// Plays a scenario.
async fn play(
    scenario: &Scenario,
    options: &RunOptions,
    artifacts: &Path,
    started: Instant,
    mut session: Option<&mut Session>,
) -> Result<Played, RunnerError> {
    std::fs::create_dir_all(artifacts).map_err(|error| RunnerError::CreateDir {
        path: artifacts.to_owned(),
        error,
    })?;
    let mut config = ServeConfig::new(scenario.world.clone());
    config.spec.webhook_url = None;
    config.policy.clone_from(&scenario.profile);
    config.webhook_timeout = options.call_timeout;
    let kept = match session.as_deref_mut() {
        Some(session) => session.take(&config, scenario.surface, options).await,
        None => None,
    };
    let reused = kept.is_some();
    let (running, live) = match kept {
        Some(kept) => kept,
        None => {
            let addr = SocketAddr::from(([127, 0, 0, 1], 0));
            let running: Running = start(addr, config.clone())
                .await
                .map_err(|e| RunnerError::Platform(e.to_string()))?;
            let port = free_port()?;
            let env = environment(&config.spec, running.addr, port, scenario.surface);
            let integration = match Integration::spawn(
                &options.integration,
                &env,
                &artifacts.join("stdout.log"),
                &artifacts.join("stderr.log"),
            ) {
                Ok(integration) => integration,
                Err(error @ RunnerError::Spawn { .. }) => {
                    let _ = running.stop().await;
                    return Ok(Played {
                        stop: Some(Stop::NeverStarted(format!("failed to {error}"))),
                        records: Vec::new(),
                        start: Start::NeverStarted,
                    });
                }
                Err(error) => return Err(error),
            };
            if let Some(session) = session.as_deref_mut() {
                session.starts += 1;
            }
            let live = Live {
                integration,
                addr: running.addr,
                port,
                env,
            };
            (running, live)
        }
    };
    let port = live.port;
    let Live {
        integration,
        addr: live_addr,
        env: live_env,
        ..
    } = live;
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .map_err(|e| RunnerError::Client(e.to_string()))?;
    let mut play = Play {
        options,
        quiet: options
            .quiet
            .max(Duration::from_millis(scenario.settle_ms.unwrap_or(0))),
        state: running.state.clone(),
        integration,
        driver_url: options
            .driver_url
            .clone()
            .unwrap_or_else(|| format!("http://127.0.0.1:{port}"))
            .trim_end_matches('/')
            .to_owned(),
        client,
        started,
        ack_scanned: 0,
    };
    let mut start_state = if reused {
        Start::Listened
    } else {
        Start::NotTried
    };
    let mut stop = play_steps(&mut play, scenario, port, &mut start_state)
        .await
        .err();
    if hangs(&play.state) {
        stop = Some(Stop::Harness(format!(
            "the integration listens but answered no webhook within {:?}: it hangs",
            options.call_timeout
        )));
    }
    let broken = matches!(
        stop,
        Some(Stop::Harness(_) | Stop::NeverStarted(_) | Stop::Decided(_))
    );
    if !broken {
        play.collect_states().await;
    }
    let state = play.state.clone();
    let keep = session.is_some() && !broken;
    let stopped = if keep {
        let mut integration = play.integration;
        if integration.exited().is_none()
            && let Some(session) = session
        {
            session
                .keep(Live {
                    integration,
                    addr: live_addr,
                    port,
                    env: live_env,
                })
                .await;
            "is kept running for the next case".to_owned()
        } else {
            format!("stopped ({})", describe_exit(integration.exited()))
        }
    } else {
        let (status, killed) = play.integration.stop(options.stop_grace).await;
        if killed {
            format!(
                "did not stop on TERM within {:?}; killed",
                options.stop_grace
            )
        } else {
            format!("stopped ({})", describe_exit(status))
        }
    };
    state.with_sim(|sim, _| {
        sim.record(TraceEvent::ScenarioStep {
            index: scenario.steps.len() + 1,
            text: format!("the integration {stopped}"),
        });
    });
    let records =
        summary::causal_order(&state.read(|sim| sim.trace.records().cloned().collect::<Vec<_>>()));
    let jsonl: String = records.iter().map(TraceRecord::to_json_line).collect();
    let _ = running.stop().await;
    let trace_file = artifacts.join("trace.jsonl");
    std::fs::write(&trace_file, jsonl).map_err(|error| RunnerError::Write {
        path: trace_file,
        error,
    })?;
    Ok(Played {
        stop,
        records,
        start: start_state,
    })
}

async fn play_steps(
    play: &mut Play<'_>,
    scenario: &Scenario,
    port: u16,
    start_state: &mut Start,
) -> Result<(), Stop> {
    // Wait for the receiver to listen.
    loop {
        if let Some(status) = play.integration.exited() {
            *start_state = Start::NeverStarted;
            return Err(Stop::NeverStarted(format!(
                "the integration exited before listening on $WASIM_WEBHOOK_PORT ({}); see its stderr",
                describe_exit(Some(status))
            )));
        }
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            break;
        }
        if wall_now().duration_since(play.started) > play.options.start_timeout {
            *start_state = Start::NeverStarted;
            return Err(Stop::NeverStarted(format!(
                "the integration never listened on 127.0.0.1:$WASIM_WEBHOOK_PORT within {:?} (--start-timeout); see its stderr",
                play.options.start_timeout
            )));
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    *start_state = Start::Listened;
    play.record(TraceEvent::ScenarioStep {
        index: 0,
        text: "the integration listens on $WASIM_WEBHOOK_PORT; its webhook is set and verified"
            .to_owned(),
    });
    let partner_url = (scenario.surface == SendSurface::D360)
        .then(|| format!("http://127.0.0.1:{port}/partner-webhook"));
    play.apply(Command::ConfigureWebhooks {
        callback_url: Some(Some(format!("http://127.0.0.1:{port}/webhook"))),
        partner_url: partner_url.map(Some),
        batch: None,
    })?;
    play.state
        .verify_webhook()
        .await
        .map_err(|e| Stop::Harness(format!("the webhook handshake failed: {e}")))?;
    play.settle().await?;
    for (index, step) in scenario.steps.iter().enumerate() {
        play.record(TraceEvent::ScenarioStep {
            index: index + 1,
            text: step.to_string(),
        });
        play.step(step).await?;
    }
    play.advance(scenario.drain_ms).await?;
    Ok(())
}

/// Integration processes kept at once by a [`Session`].
const SESSION_KEPT: usize = 4;

/// An integration process kept between scenarios, and what it was started with.
#[derive(Debug)]
struct Live {
    integration: Integration,
    /// Where the simulated platform its environment names is served.
    addr: SocketAddr,
    /// Its webhook port.
    port: u16,
    /// Its environment.
    env: Vec<(String, String)>,
}

/// Integration processes kept running between scenarios, for exploration's
/// many short cases. Each scenario still gets a fresh simulated platform,
/// served at the address a kept integration was started against (so its
/// environment is unchanged), and the integration forgets its state through
/// `POST /wasim/reset` on the driver hook; one that answers anything but 2xx
/// there, or whose environment would differ (another world or surface), is not
/// reused and a new process is started (`docs/protocol.md`, optional endpoints).
#[derive(Debug, Default)]
pub struct Session {
    kept: Vec<Live>,
    /// Scenarios that reused a kept integration reset through `POST /wasim/reset`.
    pub resets: u32,
    /// Integration processes started.
    pub starts: u32,
}

impl Session {
    /// A session with no integration running yet.
    pub fn new() -> Session {
        Session::default()
    }

    /// A kept integration whose environment fits `config` on `surface`, reset
    /// and with a fresh simulated platform at its address; none when no kept
    /// one fits or answers the reset.
    async fn take(
        &mut self,
        config: &ServeConfig,
        surface: SendSurface,
        options: &RunOptions,
    ) -> Option<(Running, Live)> {
        let position = self.kept.iter_mut().position(|live| {
            live.integration.exited().is_none()
                && environment(&config.spec, live.addr, live.port, surface) == live.env
        })?;
        let live = self.kept.remove(position);
        let Ok(running) = start(live.addr, config.clone()).await else {
            live.integration.stop(options.stop_grace).await;
            return None;
        };
        let url = format!(
            "{}/wasim/reset",
            options
                .driver_url
                .clone()
                .unwrap_or_else(|| format!("http://127.0.0.1:{}", live.port))
                .trim_end_matches('/')
        );
        let answer = reqwest::Client::builder()
            .no_proxy()
            .build()
            .ok()?
            .post(&url)
            .timeout(options.call_timeout)
            .send()
            .await;
        if answer.is_ok_and(|response| response.status().is_success()) {
            self.resets += 1;
            Some((running, live))
        } else {
            // No reset on the driver hook: a new process is started instead.
            let _ = running.stop().await;
            live.integration.stop(options.stop_grace).await;
            None
        }
    }

    /// Keeps `live` for a later scenario, stopping the oldest kept one past
    /// [`SESSION_KEPT`].
    async fn keep(&mut self, live: Live) {
        self.kept.push(live);
        if self.kept.len() > SESSION_KEPT {
            let oldest = self.kept.remove(0);
            oldest.integration.stop(Duration::from_secs(3)).await;
        }
    }

    /// Stops every kept integration.
    pub async fn close(&mut self, grace: Duration) {
        for live in self.kept.drain(..) {
            live.integration.stop(grace).await;
        }
    }
}

/// Timed-out attempts, with none answered, that make an integration hung.
const HANG_ATTEMPTS: usize = 2;

/// Whether the integration listens but answered none of at least
/// [`HANG_ATTEMPTS`] webhook attempts in time.
fn hangs(state: &AppState) -> bool {
    state.read(|sim| {
        let mut calls = 0usize;
        for record in sim.trace.records() {
            let error = match &record.event {
                TraceEvent::WebhookAttempt { error, copy, .. } if *copy == "original" => error,
                TraceEvent::WebhookVerification { error, .. } => error,
                _ => continue,
            };
            if !error.as_deref().is_some_and(|e| e.starts_with("timed out")) {
                return false;
            }
            calls += 1;
        }
        calls >= HANG_ATTEMPTS
    })
}

/// What the progress reporter hears.
#[derive(Debug, Clone)]
pub enum Progress<'a> {
    /// A scenario starts: its position (from 1), the count, its name.
    Started(usize, usize, &'a str),
    /// A scenario ended.
    Finished(&'a ScenarioReport),
    /// The run stops: the integration never started (why, and its stderr kept
    /// by the scenario it failed in); the rest is not run.
    Stopping(&'a str, Option<&'a Path>),
}

/// Runs `scenarios` (the slice `partition` of them) and builds the report.
///
/// When the integration fails to start (exits before listening, never listens)
/// before it has listened in any scenario of the run, the scenarios not yet
/// begun are not played: each is reported `not_run` with the reason.
pub async fn run_all(
    scenarios: &[Scenario],
    options: &RunOptions,
    command: &str,
    partition: Partition,
    mut progress: impl FnMut(Progress<'_>),
) -> Report {
    let started = wall_now();
    let chosen: Vec<&Scenario> = scenarios
        .iter()
        .enumerate()
        .filter(|(position, _)| partition.contains(*position))
        .map(|(_, s)| s)
        .collect();
    let mut reports = Vec::new();
    let mut volatile = Vec::new();
    // `jobs` scenarios play at once, each on its own platform and integration
    // process; results come back in library order, so reports do not depend on it.
    let progress = std::cell::RefCell::new(&mut progress);
    let listened = std::cell::Cell::new(false);
    let stopped: std::cell::RefCell<Option<String>> = std::cell::RefCell::new(None);
    let count = chosen.len();
    let mut runs = stream::iter(chosen.iter().enumerate())
        .map(|(index, scenario)| {
            let (progress, listened, stopped) = (&progress, &listened, &stopped);
            async move {
                if let Some(reason) = stopped.borrow().as_deref() {
                    return not_run(scenario, reason);
                }
                (progress.borrow_mut())(Progress::Started(index + 1, count, &scenario.name));
                let run = run_scenario(scenario, options).await;
                match run.start {
                    Start::Listened => listened.set(true),
                    Start::NeverStarted if !listened.get() && stopped.borrow().is_none() => {
                        let stderr = run
                            .report
                            .artifacts
                            .iter()
                            .find(|a| a.name == "integration stderr")
                            .map(|a| a.path.clone());
                        let reason = format!(
                            "not run: the integration never started (in `{}`: {}){}",
                            scenario.name,
                            run.report.reason.as_deref().unwrap_or("no reason given"),
                            stderr
                                .as_deref()
                                .map(|path| format!("; its stderr is {path} in the report folder"))
                                .unwrap_or_default()
                        );
                        let stderr = stderr.map(|path| options.out_dir.join(path));
                        (progress.borrow_mut())(Progress::Stopping(&reason, stderr.as_deref()));
                        *stopped.borrow_mut() = Some(reason);
                    }
                    Start::NeverStarted | Start::NotTried => {}
                }
                run
            }
        })
        .buffered(options.jobs.max(1));
    while let Some(run) = runs.next().await {
        (progress.borrow_mut())(Progress::Finished(&run.report));
        reports.push(run.report);
        volatile.push(run.volatile);
    }
    drop(runs);
    Report {
        format_version: wasim_reports::FORMAT_VERSION,
        tool: format!("wasim {}", env!("CARGO_PKG_VERSION")),
        command: command.to_owned(),
        integration: options.integration_label.clone(),
        partition: partition.to_string(),
        verdict: Report::verdict_of(&reports),
        coverage: catalog_coverage(&reports),
        scenarios: reports,
        exploration: None,
        volatile: Volatile {
            wall_ms: elapsed_ms(started),
            scenarios: volatile,
        },
    }
}

/// How the whole catalog fared in `scenarios`.
pub fn catalog_coverage(scenarios: &[ScenarioReport]) -> Vec<wasim_reports::CheckCoverage> {
    Report::coverage_of(
        checks::CATALOG.iter().map(|c| (c.id, c.severity)),
        scenarios,
    )
}
