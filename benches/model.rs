//! Criterion bench `model`: the pure model's send path, one `Command::SendMessage`
//! through [`World::apply`] (and through [`Sim::apply`], which also appends the
//! trace records).
//!
//! Each iteration sends a chunk of [`CHUNK`] messages from the US number of a fresh
//! default world (10 000 generated recipients, policy `2024-05`: per-user marketing
//! cap, pacing, throughput and pair-rate limits all active), one message to each of
//! [`CHUNK`] distinct generated recipients so the pair-rate limit is not what is
//! measured. Virtual time moves [`STEP_MS`] per send, so the number's 80 msg/s
//! throughput bucket never refuses either. Building the world and the commands is
//! setup, outside the timing; throughput is reported as sends per second.
//!
//! Variants: `marketing` (template `spring_sale`, judged against the per-user cap),
//! `utility` (template `order_update` with its body parameter), `text_in_window`
//! (free-form text to users who wrote 1 s earlier), and `marketing_sim` (the
//! marketing chunk through `Sim`, trace included).

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput};
use serde_json::{Value, json};
use wasim_sim::Sim;
use wasim_sim::model::{Command, Effect, InboundContent, Reply, SimTime, World, WorldSpec};
use wasim_sim::trace::TraceEvent;

/// Sends per iteration.
const CHUNK: usize = 1_000;
/// Virtual milliseconds between sends: just over 1/80 s, the default throughput.
const STEP_MS: u64 = 13;
/// When the chunk starts: one second in, after the inbound messages of `text_in_window`.
const START_MS: u64 = 1_000;

/// What one chunk sends.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Marketing,
    Utility,
    TextInWindow,
}

fn default_world() -> World {
    World::new(WorldSpec::default(), None, None).expect("the default world builds")
}

/// The body of one send of `kind` to `to`.
fn body(kind: Kind, to: &str) -> Value {
    match kind {
        Kind::Marketing => wasim_bench::spring_sale_body(to),
        Kind::Utility => json!({
            "messaging_product": "whatsapp", "to": to, "type": "template",
            "template": {
                "name": "order_update", "language": {"code": "en_US"},
                "components": [{"type": "body", "parameters": [{"type": "text", "text": "A-1042"}]}],
            },
        }),
        Kind::TextInWindow => json!({
            "messaging_product": "whatsapp", "to": to, "type": "text",
            "text": {"body": "Your order A-1042 has shipped."},
        }),
    }
}

/// A fresh world and the chunk's commands; for `text_in_window` every recipient
/// has written first, so the service window is open.
fn setup(kind: Kind) -> (World, Vec<Command>) {
    let mut world = default_world();
    let recipients = wasim_bench::generated_wa_ids(&world, CHUNK);
    if let Kind::TextInWindow = kind {
        for from in &recipients {
            let outcome = world.apply(
                SimTime::ZERO,
                Command::Inbound {
                    from: from.as_str().into(),
                    content: InboundContent::Text("hello".to_owned()),
                    phone_number_id: None,
                    context: None,
                },
            );
            assert!(matches!(outcome.reply, Ok(Reply::InboundReceived { .. })));
        }
    }
    let commands = recipients
        .iter()
        .map(|to| wasim_bench::graph_send(body(kind, to)))
        .collect();
    (world, commands)
}

fn at(index: usize) -> SimTime {
    SimTime::from_ms(START_MS + index as u64 * STEP_MS)
}

fn run_world((mut world, commands): (World, Vec<Command>)) -> World {
    for (index, command) in commands.into_iter().enumerate() {
        black_box(world.apply(at(index), command));
    }
    world
}

fn run_sim((world, commands): (World, Vec<Command>)) -> Sim {
    let mut sim = Sim::new(world);
    for (index, command) in commands.into_iter().enumerate() {
        let _ = black_box(sim.apply(at(index), command));
    }
    sim
}

/// Runs one chunk outside the timing and prints what the model made of it, so the
/// figures can be read for what they are (and fails if the chunk was refused).
fn describe(kind: Kind) {
    let (mut world, commands) = setup(kind);
    let (mut accepted, mut held, mut rejected, mut counted) = (0, 0, 0, 0);
    for (index, command) in commands.into_iter().enumerate() {
        let outcome = world.apply(at(index), command);
        match outcome.reply {
            Ok(Reply::Sent { message_status, .. }) => {
                accepted += 1;
                if message_status == Some("held_for_quality_assessment") {
                    held += 1;
                }
            }
            _ => rejected += 1,
        }
        counted += outcome
            .effects
            .iter()
            .filter(|e| {
                matches!(
                    e,
                    Effect::Trace {
                        event: TraceEvent::MarketingCounted { .. },
                        ..
                    }
                )
            })
            .count();
    }
    eprintln!(
        "model/{kind:?}: {CHUNK} sends: {accepted} accepted ({held} held by pacing), {rejected} rejected at once, {counted} counted toward the per-user cap"
    );
    assert_eq!(rejected, 0, "the chunk should not be refused synchronously");
}

fn model(c: &mut Criterion) {
    for kind in [Kind::Marketing, Kind::Utility, Kind::TextInWindow] {
        describe(kind);
    }
    let mut group = c.benchmark_group("model");
    group.throughput(Throughput::Elements(CHUNK as u64));
    group.sample_size(20);
    for (name, kind) in [
        ("marketing", Kind::Marketing),
        ("utility", Kind::Utility),
        ("text_in_window", Kind::TextInWindow),
    ] {
        group.bench_function(name, |b| {
            b.iter_batched(|| setup(kind), run_world, BatchSize::PerIteration);
        });
    }
    group.bench_function("marketing_sim", |b| {
        b.iter_batched(|| setup(Kind::Marketing), run_sim, BatchSize::PerIteration);
    });
    group.finish();
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    model(&mut criterion);
    criterion.final_summary();
}
