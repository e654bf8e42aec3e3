//! Criterion bench `campaign`: seven simulated days of a 100 000-recipient
//! marketing campaign, in process, manual clock.
//!
//! The world is the default one with 100 000 generated recipients, a webhook URL,
//! the `TIER_100K` messaging limit (a 100k campaign on the default `TIER_10K`
//! would mostly fail with 131048) and a bad creative: `spring_sale` starts with
//! `negative = 1/4`, so its quality goes `RED` within the first quality windows and
//! it is paused for 3 h. The driver plays both the business and the delivery
//! engine:
//! - it sends `spring_sale` to every generated recipient at the number's 80 msg/s,
//!   one virtual second per tick;
//! - on 132015 (paused) it swaps in a fixed creative (`negative = 1/100`, through
//!   the control command), unpauses by hand if pacing paused the template, and
//!   retries every 15 virtual minutes;
//! - it acknowledges every webhook with 200 (`WebhookAttemptFinished`);
//! - it fires every timer deadline by deadline, as `POST /_wasim/clock/advance`
//!   does (statuses, pacing decisions, the end of the pause), and once the sends
//!   are done jumps from deadline to deadline to the end of day 7.
//!
//! After the pause the template is paced (`pacing_threshold` sends, then held for
//! the decision), so the run sees a pacing hold, a pause and an unpause; that is
//! asserted once, outside the timing. Building the world is setup; the timing is
//! the seven days. Target (issue 8): under 1 s.

use std::collections::VecDeque;

use criterion::{BatchSize, Criterion, SamplingMode};
use wasim_sim::Sim;
use wasim_sim::model::rng::Ratio;
use wasim_sim::model::{
    Command, Refusal, Reply, SimTime, TemplateControl, WebhookDelivery, World, WorldSpec,
};
use wasim_sim::state::wall_now;
use wasim_sim::trace::TraceEvent;

const RECIPIENTS: u32 = 100_000;
const DAYS: u64 = 7;
/// Sends per virtual second: the default throughput of a number.
const SENDS_PER_SECOND: usize = 80;
/// How long the driver waits before retrying a paused template.
const RETRY_MS: u64 = 15 * 60 * 1_000;
const TEMPLATE: &str = "spring_sale";
const TOKEN: &str = "wasim_test_access_token";
/// Paused (132015) and disabled (132016).
const TEMPLATE_PAUSED: u32 = 132_015;
const TEMPLATE_DISABLED: u32 = 132_016;
const THROUGHPUT: u32 = 130_429;

/// A world and the campaign to run on it.
#[derive(Debug)]
struct Campaign {
    world: World,
    recipients: Vec<String>,
    commands: VecDeque<(usize, Command)>,
}

/// What a run did.
#[derive(Debug, Default)]
struct Summary {
    accepted: u64,
    held: u64,
    refused_paused: u64,
    refused_other: u64,
    acknowledged: u64,
    unpaused_by_hand: u64,
    deadlines: u64,
    end: SimTime,
}

fn send(to: &str) -> Command {
    wasim_bench::graph_send(wasim_bench::spring_sale_body(to))
}

fn setup() -> Campaign {
    let mut spec = WorldSpec::default();
    spec.recipients.count = RECIPIENTS;
    spec.waba.messaging_limit = 100_000;
    spec.webhook_url = Some("http://receiver.test/webhook".to_owned());
    let template = spec
        .waba
        .templates
        .iter_mut()
        .find(|t| t.name == TEMPLATE)
        .expect("the default world has spring_sale");
    template.negative = Some(Ratio::new(1, 4));
    let world = World::new(spec, None, None).expect("the campaign world builds");
    let recipients = wasim_bench::generated_wa_ids(&world, usize::MAX);
    let commands = recipients
        .iter()
        .enumerate()
        .map(|(index, to)| (index, send(to)))
        .collect();
    Campaign {
        world,
        recipients,
        commands,
    }
}

/// Plays the delivery engine: every post is answered 200 at once.
fn acknowledge(sim: &mut Sim, mut deliveries: Vec<WebhookDelivery>, summary: &mut Summary) {
    while let Some(delivery) = deliveries.pop() {
        summary.acknowledged += 1;
        let (_, more) = sim.apply(
            delivery.at,
            delivery.finished(delivery.destination.url().to_owned(), Some(200), 1, None),
        );
        deliveries.extend(more);
    }
}

/// The business's answer to a paused template: a better creative, and a manual
/// unpause when pacing paused it (those pauses do not end on their own).
fn react_to_pause(sim: &mut Sim, now: SimTime, summary: &mut Summary) {
    let (reply, deliveries) = sim.apply(
        now,
        Command::TemplateControl {
            name: TEMPLATE.to_owned(),
            control: TemplateControl::Negative(Ratio::new(1, 100)),
        },
    );
    assert!(matches!(reply, Ok(Reply::Message(_))), "{reply:?}");
    acknowledge(sim, deliveries, summary);
    let template = sim
        .world
        .templates()
        .iter()
        .find(|t| t.name == TEMPLATE)
        .expect("the template exists");
    if template.life.manual_unpause {
        let template_id = template.id.clone();
        let (_, deliveries) = sim.apply(
            now,
            Command::UnpauseTemplate {
                credential: Some(TOKEN.into()),
                template_id: template_id.into(),
            },
        );
        summary.unpaused_by_hand += 1;
        acknowledge(sim, deliveries, summary);
    }
}

/// Seven days of the campaign; returns the sim (dropped outside the timing).
fn run(campaign: Campaign) -> (Sim, Summary) {
    let Campaign {
        world,
        recipients,
        mut commands,
    } = campaign;
    let mut sim = Sim::new(world);
    let mut summary = Summary::default();
    let end = SimTime::ZERO.plus_hours(24 * DAYS);
    let mut now = SimTime::ZERO;
    let mut resume_at = SimTime::ZERO;
    while now < end {
        if now >= resume_at {
            for _ in 0..SENDS_PER_SECOND {
                let Some((index, command)) = commands.pop_front() else {
                    break;
                };
                let (reply, deliveries) = sim.apply(now, command);
                acknowledge(&mut sim, deliveries, &mut summary);
                match reply {
                    Ok(Reply::Sent { message_status, .. }) => {
                        summary.accepted += 1;
                        if message_status == Some("held_for_quality_assessment") {
                            summary.held += 1;
                        }
                    }
                    Err(Refusal::Platform(error)) if error.code == TEMPLATE_PAUSED => {
                        summary.refused_paused += 1;
                        commands.push_front((index, send(&recipients[index])));
                        react_to_pause(&mut sim, now, &mut summary);
                        resume_at = now.plus_ms(RETRY_MS);
                        break;
                    }
                    Err(Refusal::Platform(error)) if error.code == THROUGHPUT => {
                        commands.push_front((index, send(&recipients[index])));
                        break;
                    }
                    Err(Refusal::Platform(error)) if error.code == TEMPLATE_DISABLED => {
                        summary.refused_other += 1 + commands.len() as u64;
                        commands.clear();
                    }
                    _ => summary.refused_other += 1,
                }
            }
        }
        let target = match (commands.is_empty(), now >= resume_at) {
            (true, _) => end,
            (false, true) => now.plus_ms(1_000),
            (false, false) => resume_at,
        }
        .min(end);
        while let Some(deadline) = sim.world.next_deadline().filter(|d| *d <= target) {
            summary.deadlines += 1;
            let deliveries = sim.advance(deadline);
            acknowledge(&mut sim, deliveries, &mut summary);
        }
        let deliveries = sim.advance(target);
        acknowledge(&mut sim, deliveries, &mut summary);
        now = target;
    }
    summary.end = now;
    (sim, summary)
}

/// The process's peak resident set (`VmHWM`), in KiB.
fn peak_resident_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status.lines().find_map(|line| {
                line.strip_prefix("VmHWM:")
                    .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            })
        })
        .unwrap_or(0)
}

/// One run outside the timing: what it did, and proof that it paced and paused.
fn check_once() {
    let start = wall_now();
    let campaign = setup();
    let built = wall_now().duration_since(start);
    let recipients = campaign.recipients.len();
    let start = wall_now();
    let (sim, summary) = run(campaign);
    let ran = wall_now().duration_since(start);
    let trace = &sim.trace;
    let count = |f: &dyn Fn(&TraceEvent) -> bool| trace.records().filter(|r| f(&r.event)).count();
    let holds = count(&|e| matches!(e, TraceEvent::MessageHeld { .. }));
    let decisions = count(&|e| matches!(e, TraceEvent::PacingDecided { .. }));
    let pauses =
        count(&|e| matches!(e, TraceEvent::TemplateStatus { event, .. } if event == "PAUSED"));
    let unpauses =
        count(&|e| matches!(e, TraceEvent::TemplateStatus { event, .. } if event == "APPROVED"));
    let statuses = count(&|e| matches!(e, TraceEvent::Status { .. }));
    eprintln!(
        "campaign: {recipients} recipients built in {built:?}; 7 days run in {ran:?} (once, outside criterion)"
    );
    eprintln!("campaign: {summary:?}");
    eprintln!(
        "campaign: trace {} records: {holds} held, {decisions} pacing decisions, {pauses} pauses, {unpauses} unpauses, {statuses} statuses; {} timers left; peak RSS {} MiB",
        trace.len(),
        sim.world.timers_pending(),
        peak_resident_kib() / 1024
    );
    assert!(holds > 0, "the campaign never hit pacing");
    assert!(decisions > 0, "no pacing round was decided");
    assert!(pauses > 0, "the template was never paused");
    assert!(unpauses > 0, "the template was never unpaused");
    assert_eq!(
        summary.accepted as usize, recipients,
        "every recipient should get the campaign in 7 days"
    );
    assert_eq!(summary.end, SimTime::ZERO.plus_hours(24 * DAYS));
}

fn campaign(c: &mut Criterion) {
    check_once();
    let mut group = c.benchmark_group("campaign");
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.bench_function("marketing_100k_7_days", |b| {
        b.iter_batched(setup, run, BatchSize::PerIteration);
    });
    group.finish();
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    campaign(&mut criterion);
    criterion.final_summary();
}
