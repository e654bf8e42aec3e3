//! `wasim bench --integration CMD`: the integration sends a campaign through
//! the driver hook (`send_campaign` of N recipients) against the simulated
//! platform on a real-time clock, with the platform's throughput limits in
//! force; the trace tells how fast it sent, how long each recipient waited, and
//! how it behaved when throttled (130429, 131056).

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;
use serde_json::json;
use wasim_conformance::runner::process::{Integration, describe_exit, free_port};
use wasim_conformance::runner::{Interrupt, environment};
use wasim_conformance::scenario::SendSurface;
use wasim_sim::model::error::code::{PAIR_RATE_LIMIT, RATE_LIMIT_HIT};
use wasim_sim::model::spec::Category;
use wasim_sim::server::start;
use wasim_sim::state::{ServeConfig, wall_now};
use wasim_sim::{ClockMode, Command, TraceEvent, TraceRecord, WorldSpec};

use crate::load::{Percentiles, histogram};

/// How to bench an integration.
#[derive(Debug, Clone)]
pub struct IntegrationOptions {
    /// The integration's command line (run with `sh -c`).
    pub integration: String,
    /// How to show it in the report (no secrets).
    pub label: String,
    /// The world.
    pub world: WorldSpec,
    /// Recipients in the campaign (the world's first generated ones that have
    /// not opted out).
    pub recipients: usize,
    /// Where the report and the artifacts go.
    pub out_dir: PathBuf,
    /// How long the integration may take to listen.
    pub start_timeout: Duration,
    /// No send for this long ends the campaign.
    pub quiet: Duration,
    /// The longest the campaign may take.
    pub timeout: Duration,
    /// Between TERM and KILL when stopping the integration.
    pub stop_grace: Duration,
    /// Raised by a signal: the campaign stops, the integration is stopped and
    /// the bench ends with an error saying so.
    pub interrupt: Interrupt,
}

impl IntegrationOptions {
    /// The defaults: 1,000 recipients, 3 s quiet ends it, 120 s at most.
    pub fn new(integration: String, world: WorldSpec, out_dir: PathBuf) -> IntegrationOptions {
        IntegrationOptions {
            label: integration.clone(),
            integration,
            world,
            recipients: 1_000,
            out_dir,
            start_timeout: Duration::from_secs(15),
            quiet: Duration::from_secs(3),
            timeout: Duration::from_secs(120),
            stop_grace: Duration::from_secs(3),
            interrupt: Interrupt::new(),
        }
    }
}

/// What the integration did with the campaign.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IntegrationReport {
    /// The integration, as labelled.
    pub integration: String,
    /// Recipients in the campaign.
    pub recipients: usize,
    /// The template sent.
    pub template: String,
    /// The number's throughput limit in force (messages per second).
    pub throughput_limit_mps: u64,
    /// How the campaign ended: `every recipient accepted`, `quiet for 3 s`, …
    pub ended: String,
    /// Milliseconds the integration took to answer the driver action.
    pub ack_ms: u64,
    /// Milliseconds from the action to its first send.
    pub first_send_ms: Option<u64>,
    /// Send requests it made (accepted or not).
    pub send_requests: u64,
    /// Recipients with an accepted message.
    pub accepted: u64,
    /// Recipients without one at the end.
    pub not_accepted: u64,
    /// Seconds from the action to the last accepted send.
    pub seconds: f64,
    /// Accepted messages per second over that time.
    pub messages_per_s: f64,
    /// Per recipient, milliseconds from the action to the accepted send.
    pub time_to_accept_ms: Option<Percentiles>,
    /// Send answers by kind: `200`, `400 (130429)`, …
    pub answers: BTreeMap<String, u64>,
    /// How it behaved when throttled.
    pub throttling: Throttling,
}

/// Behaviour under throttling.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Throttling {
    /// Sends answered 130429 (throughput exceeded).
    pub rate_limited: u64,
    /// Sends answered 131056 (pair rate exceeded).
    pub pair_limited: u64,
    /// Throttled sends that were tried again for the same recipient.
    pub retried: u64,
    /// Throttled recipients never accepted.
    pub abandoned: u64,
    /// Milliseconds between a throttled answer and the next try to the same
    /// recipient: the backoff observed.
    pub backoff_ms: Option<Percentiles>,
    /// Of those retries, how many came within 10 ms (no backoff).
    pub immediate_retries: u64,
    /// Highest sends per second in any one-second window.
    pub peak_sends_per_s: u64,
}

/// Steps of the run, for a progress display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BenchProgress {
    /// Waiting for the integration to listen.
    Starting,
    /// The campaign runs: recipients accepted so far, of all.
    Sending(u64, usize),
}

/// Runs the bench: blocking, with its own runtime. Writes the trace and the
/// integration's output under `out_dir/artifacts/bench/`.
pub fn run(
    options: &IntegrationOptions,
    mut progress: impl FnMut(BenchProgress),
) -> Result<IntegrationReport, String> {
    let runtime = tokio::runtime::Runtime::new()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(bench(options, &mut progress))
}

async fn bench(
    options: &IntegrationOptions,
    progress: &mut impl FnMut(BenchProgress),
) -> Result<IntegrationReport, String> {
    let artifacts = options.out_dir.join("artifacts").join("bench");
    std::fs::create_dir_all(&artifacts)
        .map_err(|e| format!("cannot create {}: {e}", artifacts.display()))?;
    let mut spec = options.world.clone();
    spec.webhook_url = None;
    let mut config = ServeConfig::new(spec.clone());
    config.clock = ClockMode::Real;
    let loopback: SocketAddr = ([127, 0, 0, 1], 0).into();
    let running = start(loopback, config)
        .await
        .map_err(|e| format!("cannot start the simulated platform: {e}"))?;
    let state = running.state.clone();
    let port = free_port().map_err(|e| format!("failed to {e}"))?;
    let env = environment(&spec, running.addr, port, SendSurface::Graph);
    let mut integration = Integration::spawn(
        &options.integration,
        &env,
        &artifacts.join("stdout.log"),
        &artifacts.join("stderr.log"),
    )
    .map_err(|e| format!("failed to {e}"))?;
    progress(BenchProgress::Starting);
    let started = wall_now();
    let ready = loop {
        if let Some(status) = integration.exited() {
            break Err(format!(
                "the integration exited before listening on 127.0.0.1:{port} ({}); see {}",
                describe_exit(Some(status)),
                artifacts.join("stderr.log").display()
            ));
        }
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            break Ok(());
        }
        if wall_now().duration_since(started) > options.start_timeout {
            break Err(format!(
                "the integration never listened on 127.0.0.1:{port} (WASIM_WEBHOOK_PORT) within {:?}",
                options.start_timeout
            ));
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    let outcome = match ready {
        Ok(()) => tokio::select! {
            outcome = campaign(options, &state, port, &mut integration, progress) => outcome,
            signal = options.interrupt.wait() => Err(format!(
                "interrupted by {}: the integration was stopped; its trace is in {}",
                signal.name(),
                artifacts.display()
            )),
        },
        Err(error) => Err(error),
    };
    let (status, killed) = integration.stop(options.stop_grace).await;
    let records = state.read(|sim| sim.trace.records().cloned().collect::<Vec<_>>());
    let _ = running.stop().await;
    let jsonl: String = records.iter().map(TraceRecord::to_json_line).collect();
    std::fs::write(artifacts.join("trace.jsonl"), jsonl)
        .map_err(|e| format!("cannot write the trace artifact: {e}"))?;
    let (to, template, action_at, ack_ms, mut ended) = outcome?;
    if killed {
        ended.push_str(&format!(
            "; the integration did not stop on TERM within {:?} and was killed",
            options.stop_grace
        ));
    }
    let _ = status;
    let throughput = state.read(|sim| u64::from(sim.world.policy().throughput_mps));
    Ok(judge(
        &records,
        &Campaign {
            label: options.label.clone(),
            to,
            template,
            action_at,
            ack_ms,
            ended,
            throughput,
        },
    ))
}

/// What [`campaign`] hands to [`judge`]: the recipients, the template, the
/// virtual ms of the action, its answer time and how the campaign ended.
type Played = (Vec<String>, String, u64, u64, String);

async fn campaign(
    options: &IntegrationOptions,
    state: &std::sync::Arc<wasim_sim::state::AppState>,
    port: u16,
    integration: &mut Integration,
    progress: &mut impl FnMut(BenchProgress),
) -> Result<Played, String> {
    state
        .apply(Command::ConfigureWebhooks {
            callback_url: Some(Some(format!("http://127.0.0.1:{port}/webhook"))),
            partner_url: None,
            batch: None,
        })
        .map_err(|e| e.to_string())?;
    state.verify_webhook().await.map_err(|e| e.to_string())?;
    let (to, template, language): (Vec<String>, String, String) = state.read(|sim| {
        // Generated recipients only (those with background marketing, as in
        // `generated_wa_ids`): the named ones include the magic numbers.
        let to = sim
            .world
            .recipients()
            .filter(|r| !r.opted_out() && r.background_ecosystem())
            .take(options.recipients)
            .map(|r| r.wa_id())
            .collect();
        let template = sim
            .world
            .templates()
            .iter()
            .find(|t| t.category == Category::Marketing)
            .or(sim.world.templates().first());
        let (name, language) = template
            .map(|t| (t.name.clone(), t.language.clone()))
            .unwrap_or_default();
        (to, name, language)
    });
    if to.is_empty() {
        return Err("the world has no recipient for a campaign".to_owned());
    }
    let epoch = state.read(|sim| sim.world.spec().epoch_unix_s);
    let action_at = state.now().as_ms();
    let action = json!({
        "action": "send_campaign",
        "to": to,
        "template": {"name": template, "language": language},
        "timestamp": (epoch + action_at / 1000).to_string(),
    });
    state.with_sim(|sim, _| {
        sim.record(TraceEvent::DriverAction {
            action: "send_campaign".to_owned(),
            body: json!({"action": "send_campaign", "recipients": to.len(), "template": template}),
        });
    });
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
    let posted = wall_now();
    let url = format!("http://127.0.0.1:{port}/wasim/actions");
    let answer = client
        .post(&url)
        .timeout(Duration::from_secs(30))
        .body(action.to_string())
        .header("content-type", "application/json")
        .send()
        .await
        .map_err(|e| format!("the driver action failed: POST {url}: {e}"))?;
    let ack_ms = millis(wall_now().duration_since(posted));
    match answer.status().as_u16() {
        200..=299 => {}
        404 | 501 => {
            return Err(format!(
                "the integration has no `send_campaign` driver action (POST {url} answered {}): `wasim bench --integration` needs the driver hook",
                answer.status().as_u16()
            ));
        }
        status => {
            return Err(format!(
                "the integration answered {status} to the send_campaign action"
            ));
        }
    }
    let wanted: BTreeSet<&str> = to.iter().map(String::as_str).collect();
    let mut seen = 0usize;
    let mut accepted = BTreeSet::new();
    let mut last_send = wall_now();
    let ended = loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (new, sent) = state.read(|sim| {
            let records = sim.trace.since(seen);
            let new = records.len();
            let mut sent = false;
            for record in records {
                match &record.event {
                    TraceEvent::MessageAccepted { to, .. } if wanted.contains(to.as_str()) => {
                        accepted.insert(to.clone());
                        sent = true;
                    }
                    TraceEvent::MessageRejected { .. } => sent = true,
                    _ => {}
                }
            }
            (new, sent)
        });
        seen += new;
        let now = wall_now();
        if sent {
            last_send = now;
        }
        progress(BenchProgress::Sending(accepted.len() as u64, to.len()));
        if accepted.len() == to.len() {
            break "every recipient accepted".to_owned();
        }
        if let Some(status) = integration.exited() {
            break format!("the integration exited ({})", describe_exit(Some(status)));
        }
        if now.duration_since(last_send) >= options.quiet {
            break format!("no send for {:?}", options.quiet);
        }
        if now.duration_since(posted) >= options.timeout {
            break format!("timed out after {:?}", options.timeout);
        }
    };
    Ok((to, template, action_at, ack_ms, ended))
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The campaign as played, for [`judge`].
#[derive(Debug, Clone)]
pub struct Campaign {
    /// The integration's label.
    pub label: String,
    /// Its recipients.
    pub to: Vec<String>,
    /// The template.
    pub template: String,
    /// Virtual milliseconds of the driver action.
    pub action_at: u64,
    /// How long the action took to answer.
    pub ack_ms: u64,
    /// How the campaign ended.
    pub ended: String,
    /// The throughput limit in force.
    pub throughput: u64,
}

/// Reads the campaign's sends off the trace.
pub fn judge(records: &[TraceRecord], campaign: &Campaign) -> IntegrationReport {
    let wanted: BTreeSet<&str> = campaign.to.iter().map(String::as_str).collect();
    let mut answers: BTreeMap<String, u64> = BTreeMap::new();
    let mut accepted_at: BTreeMap<&str, u64> = BTreeMap::new();
    // Per recipient: when its last throttled answer came, if not tried since.
    let mut throttled_at: BTreeMap<&str, u64> = BTreeMap::new();
    let mut throttled: BTreeSet<&str> = BTreeSet::new();
    let mut backoff = histogram();
    let mut per_second: BTreeMap<u64, u64> = BTreeMap::new();
    let (mut sends, mut rate_limited, mut pair_limited, mut retried, mut immediate) =
        (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut first_send = None;
    for record in records.iter().filter(|r| r.at_ms >= campaign.action_at) {
        let (to, code) = match &record.event {
            TraceEvent::MessageAccepted { to, .. } => (to.as_str(), None),
            TraceEvent::MessageRejected {
                to: Some(to), code, ..
            } => (to.as_str(), Some(*code)),
            TraceEvent::Request {
                path,
                method,
                http_status,
                error_code,
                ..
            } if method == "POST" && path.ends_with("/messages") => {
                let kind = match error_code {
                    Some(code) => format!("{http_status} ({code})"),
                    None => http_status.to_string(),
                };
                *answers.entry(kind).or_default() += 1;
                continue;
            }
            _ => continue,
        };
        if !wanted.contains(to) {
            continue;
        }
        sends += 1;
        first_send.get_or_insert(record.at_ms);
        *per_second
            .entry((record.at_ms - campaign.action_at) / 1000)
            .or_default() += 1;
        if let Some(at) = throttled_at.remove(to) {
            retried += 1;
            let gap = record.at_ms - at;
            if gap < 10 {
                immediate += 1;
            }
            let _ = backoff.record(gap.max(1));
        }
        match code {
            None => {
                accepted_at.entry(to).or_insert(record.at_ms);
            }
            Some(code @ (RATE_LIMIT_HIT | PAIR_RATE_LIMIT)) => {
                if code == RATE_LIMIT_HIT {
                    rate_limited += 1;
                } else {
                    pair_limited += 1;
                }
                throttled_at.insert(to, record.at_ms);
                throttled.insert(to);
            }
            Some(_) => {}
        }
    }
    let accepted = accepted_at.len() as u64;
    let mut waits = histogram();
    for at in accepted_at.values() {
        let _ = waits.record((at - campaign.action_at).max(1));
    }
    let last = accepted_at.values().max().copied();
    let seconds = last.map_or(0.0, |last| (last - campaign.action_at) as f64 / 1000.0);
    IntegrationReport {
        integration: campaign.label.clone(),
        recipients: campaign.to.len(),
        template: campaign.template.clone(),
        throughput_limit_mps: campaign.throughput,
        ended: campaign.ended.clone(),
        ack_ms: campaign.ack_ms,
        first_send_ms: first_send.map(|at| at - campaign.action_at),
        send_requests: sends,
        accepted,
        not_accepted: campaign.to.len() as u64 - accepted,
        seconds,
        messages_per_s: if seconds > 0.0 {
            accepted as f64 / seconds
        } else {
            0.0
        },
        time_to_accept_ms: (accepted > 0).then(|| Percentiles::of(&waits)),
        answers,
        throttling: Throttling {
            rate_limited,
            pair_limited,
            retried,
            abandoned: throttled
                .iter()
                .filter(|to| !accepted_at.contains_key(*to))
                .count() as u64,
            backoff_ms: (retried > 0).then(|| Percentiles::of(&backoff)),
            immediate_retries: immediate,
            peak_sends_per_s: per_second.values().max().copied().unwrap_or(0),
        },
    }
}
