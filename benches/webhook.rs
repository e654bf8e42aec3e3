//! Criterion bench `webhook`: what the delivery engine does to each post before it
//! goes on the wire: the body, serialized once when the model emitted it, with every
//! non-ASCII character escaped (`WebhookBody::ascii_bytes`), and signed
//! (`meta_signature`, HMAC-SHA256 with the app secret).
//!
//! The payloads are the model's own: a `sent` status webhook (with `conversation`
//! and `pricing`) of a marketing template sent to a named recipient, and an
//! inbound text message with non-ASCII characters, both taken from the
//! `WebhookDelivery` effects of the default world. Throughput is in body bytes.

use std::hint::black_box;

use criterion::{Criterion, Throughput};
use serde_json::Value;
use wasim_sim::model::webhooks::WebhookBody;
use wasim_sim::model::{Command, Effect, InboundContent, SimTime, World, WorldSpec};
use wasim_sim::webhook::sign::meta_signature;

/// Sam, a named US recipient of the default world.
const SAM_US: &str = "14155550123";
/// Lena, a named German recipient.
const LENA_DE: &str = "4915112345678";

fn webhook_bodies(effects: Vec<Effect>) -> Vec<WebhookBody> {
    effects
        .into_iter()
        .filter_map(|effect| match effect {
            Effect::Webhook(delivery) => Some(delivery.body),
            _ => None,
        })
        .collect()
}

/// (`sent` status body, inbound message body, app secret), from the model.
fn payloads() -> (WebhookBody, WebhookBody, String) {
    let spec = WorldSpec {
        webhook_url: Some("http://receiver.test/webhook".to_owned()),
        ..WorldSpec::default()
    };
    let mut world = World::new(spec, None, None).expect("the default world builds");
    let secret = world.spec().app_secret.expose().to_owned();
    let inbound = world.apply(
        SimTime::ZERO,
        Command::Inbound {
            from: LENA_DE.into(),
            content: InboundContent::Text(
                "Hallo! Gibt es die Jacke auch in Größe M? Grüße 👋".to_owned(),
            ),
            phone_number_id: None,
            context: None,
        },
    );
    let inbound = webhook_bodies(inbound.effects)
        .into_iter()
        .next()
        .expect("an inbound message emits a webhook");
    world.apply(
        SimTime::from_ms(1_000),
        wasim_bench::graph_send(wasim_bench::spring_sale_body(SAM_US)),
    );
    let status = webhook_bodies(world.advance(SimTime::from_ms(10_000)))
        .into_iter()
        .find(|body| {
            body.to_value()
                .pointer("/entry/0/changes/0/value/statuses/0/status")
                .and_then(Value::as_str)
                == Some("sent")
        })
        .expect("a sent status webhook within 9 s");
    assert!(
        status
            .to_value()
            .pointer("/entry/0/changes/0/value/statuses/0/pricing")
            .is_some(),
        "the sent status carries pricing"
    );
    (status, inbound, secret)
}

fn webhook(c: &mut Criterion) {
    let (status, inbound, secret) = payloads();
    let mut group = c.benchmark_group("webhook");
    for (name, body) in [("status", &status), ("inbound", &inbound)] {
        let bytes = body.ascii_bytes();
        assert!(bytes.is_ascii());
        eprintln!("webhook/{name}: {} bytes", bytes.len());
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function(format!("{name}/ascii_bytes"), |b| {
            b.iter(|| black_box(body).ascii_bytes());
        });
        group.bench_function(format!("{name}/sign"), |b| {
            b.iter(|| meta_signature(black_box(&secret), black_box(&bytes)));
        });
        group.bench_function(format!("{name}/escape_and_sign"), |b| {
            b.iter(|| {
                let bytes = black_box(body).ascii_bytes();
                let signature = meta_signature(&secret, &bytes);
                (bytes, signature)
            });
        });
    }
    group.finish();
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    webhook(&mut criterion);
    criterion.final_summary();
}
