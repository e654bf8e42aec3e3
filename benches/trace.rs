//! Criterion bench `trace`: appending records to the trace and writing them as
//! JSON Lines (what `GET /_wasim/trace` and `--trace FILE` do).
//!
//! The records are a real mix: the trace of 200 marketing templates sent through
//! `Sim` on the default world with a webhook URL, their status timers fired and
//! every webhook acknowledged with 200 (message accepted, marketing counted, status,
//! webhook emitted with its body, webhook attempt). `push` appends the whole mix
//! to an empty trace (the events are cloned in setup, outside the timing);
//! `json_line` serializes one record of each common kind, and `jsonl` the whole mix.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput};
use wasim_sim::Sim;
use wasim_sim::model::{SimTime, WebhookDelivery, World, WorldSpec};
use wasim_sim::trace::{Trace, TraceEvent, TraceRecord};

const SENDS: usize = 200;
const STEP_MS: u64 = 13;

fn acknowledge(sim: &mut Sim, mut deliveries: Vec<WebhookDelivery>) {
    while let Some(delivery) = deliveries.pop() {
        let (_, more) = sim.apply(
            delivery.at,
            delivery.finished(delivery.destination.url().to_owned(), Some(200), 1, None),
        );
        deliveries.extend(more);
    }
}

/// The trace of a small campaign, every timer fired and every webhook acknowledged.
fn sample_trace() -> Trace {
    let spec = WorldSpec {
        webhook_url: Some("http://receiver.test/webhook".to_owned()),
        ..WorldSpec::default()
    };
    let world = World::new(spec, None, None).expect("the default world builds");
    let recipients = wasim_bench::generated_wa_ids(&world, SENDS);
    let mut sim = Sim::new(world);
    for (index, to) in recipients.iter().enumerate() {
        let (_, deliveries) = sim.apply(
            SimTime::from_ms(index as u64 * STEP_MS),
            wasim_bench::graph_send(wasim_bench::spring_sale_body(to)),
        );
        acknowledge(&mut sim, deliveries);
    }
    while let Some(deadline) = sim.world.next_deadline() {
        let deliveries = sim.advance(deadline);
        acknowledge(&mut sim, deliveries);
    }
    sim.trace
}

fn kind(record: &TraceRecord) -> &'static str {
    match record.event {
        TraceEvent::MessageAccepted { .. } => "message_accepted",
        TraceEvent::Status { .. } => "status",
        TraceEvent::WebhookEmitted { .. } => "webhook_emitted",
        TraceEvent::WebhookAttempt { .. } => "webhook_attempt",
        TraceEvent::MarketingCounted { .. } => "marketing_counted",
        _ => "other",
    }
}

fn trace(c: &mut Criterion) {
    let sample = sample_trace();
    let records: Vec<&TraceRecord> = sample.records().collect();
    let events: Vec<(u64, TraceEvent)> =
        records.iter().map(|r| (r.at_ms, r.event.clone())).collect();
    let mut kinds = std::collections::BTreeMap::<&str, usize>::new();
    for record in &records {
        *kinds.entry(kind(record)).or_default() += 1;
    }
    eprintln!(
        "trace: {} records in the mix: {kinds:?}; {} bytes as JSON Lines; size_of::<TraceRecord>() = {} B",
        records.len(),
        sample.to_jsonl().len(),
        std::mem::size_of::<TraceRecord>()
    );

    let mut group = c.benchmark_group("trace");
    group.throughput(Throughput::Elements(events.len() as u64));
    group.bench_function("push_mix", |b| {
        b.iter_batched(
            || events.clone(),
            |events| {
                let mut trace = Trace::default();
                for (at_ms, event) in events {
                    trace.push(at_ms, event);
                }
                trace
            },
            BatchSize::LargeInput,
        );
    });
    group.bench_function("jsonl_mix", |b| {
        b.iter(|| black_box(&sample).to_jsonl());
    });
    for name in [
        "message_accepted",
        "marketing_counted",
        "status",
        "webhook_emitted",
        "webhook_attempt",
    ] {
        let record = records
            .iter()
            .find(|r| kind(r) == name)
            .copied()
            .expect("the mix has every common kind");
        let line = record.to_json_line();
        group.throughput(Throughput::Bytes(line.len() as u64));
        group.bench_function(format!("json_line/{name}"), |b| {
            b.iter(|| black_box(record).to_json_line());
        });
    }
    group.finish();
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    trace(&mut criterion);
    criterion.final_summary();
}
