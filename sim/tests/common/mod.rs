//! Helpers shared by the model tests: build worlds, send, advance, read statuses.

#![allow(
    dead_code,
    unreachable_pub,
    reason = "each test binary uses a different subset"
)]

use serde_json::{Value, json};
use wasim_sim::model::{
    Command, CopyKind, Effect, InboundContent, Refusal, Reply, SimTime, StatusKind,
    WebhookDelivery, World, WorldSpec,
};
use wasim_sim::trace::TraceEvent;

pub const TOKEN: &str = "wasim_test_access_token";
pub const US_NUMBER: &str = "110000000000001";
pub const DE_NUMBER: &str = "110000000000002";
pub const TR_NUMBER: &str = "110000000000003";
/// Brazil: not exempt from the per-user limit.
pub const ANA_BR: &str = "5511987654321";
/// India: not exempt.
pub const PRIYA_IN: &str = "919812345678";
/// United States.
pub const SAM_US: &str = "14155550123";
/// Germany: EEA, exempt.
pub const LENA_DE: &str = "4915112345678";

/// The callback URL model tests give their worlds (no socket behind it: the tests
/// play the delivery engine).
pub const RECEIVER_URL: &str = "http://receiver.test/webhook";

/// The default world, its webhooks addressed to [`RECEIVER_URL`].
pub fn world() -> World {
    world_with("")
}

/// A world from a world file; webhooks go to [`RECEIVER_URL`] unless it names a URL.
pub fn world_with(toml: &str) -> World {
    let mut spec = WorldSpec::from_toml(toml).expect("the test world file is valid");
    spec.webhook_url
        .get_or_insert_with(|| RECEIVER_URL.to_owned());
    World::new(spec, None, None).expect("the test world builds")
}

/// A text message from `from` to the first number.
pub fn inbound_text(from: &str, text: &str) -> Command {
    Command::Inbound {
        from: from.into(),
        content: InboundContent::Text(text.to_owned()),
        phone_number_id: None,
        context: None,
    }
}

pub fn template_body(to: &str, name: &str) -> Value {
    json!({"messaging_product": "whatsapp", "to": to, "type": "template",
           "template": {"name": name, "language": {"code": "en_US"}}})
}

pub fn text_body(to: &str, text: &str) -> Value {
    json!({"messaging_product": "whatsapp", "to": to, "type": "text", "text": {"body": text}})
}

pub fn send_from(
    world: &mut World,
    at: SimTime,
    phone: &str,
    body: Value,
) -> Result<Reply, Refusal> {
    world
        .apply(at, Command::graph_send(TOKEN, phone, &body))
        .reply
}

/// Sends and returns the wamid, failing the test if the send was not accepted.
pub fn accepted(world: &mut World, at: SimTime, phone: &str, body: Value) -> String {
    match send_from(world, at, phone, body) {
        Ok(Reply::Sent { message_id, .. }) => message_id.into_string(),
        other => panic!("the send was not accepted: {other:?}"),
    }
}

pub fn rejected_code(reply: Result<Reply, Refusal>) -> u32 {
    match reply {
        Err(Refusal::Platform(error)) => error.code,
        other => panic!("expected a synchronous rejection, got {other:?}"),
    }
}

pub fn marketing(world: &mut World, at: SimTime, phone: &str, to: &str) -> String {
    accepted(world, at, phone, template_body(to, "spring_sale"))
}

pub fn ecosystem(world: &mut World, at: SimTime, to: &str, count: u32) {
    let reply = world
        .apply(
            at,
            Command::EcosystemMarketing {
                to: to.into(),
                count,
            },
        )
        .reply;
    assert_eq!(reply, Ok(Reply::Done));
}

pub fn inbound(world: &mut World, at: SimTime, from: &str) {
    let reply = world.apply(at, inbound_text(from, "hello")).reply;
    assert!(
        matches!(reply, Ok(Reply::InboundReceived { .. })),
        "{reply:?}"
    );
}

/// Advances far enough for every lifecycle timer of messages accepted by `at` to fire.
pub fn settle(world: &mut World, at: SimTime) -> SimTime {
    let until = at.plus_hours(1);
    world.advance(until);
    until
}

pub fn statuses(world: &World, id: &str) -> Vec<StatusKind> {
    world
        .message(id)
        .expect("the message exists")
        .statuses
        .iter()
        .map(|(_, s)| *s)
        .collect()
}

/// Advances to `until` and returns the failure code of `id`, or None if it did not fail.
pub fn outcome(world: &mut World, until: SimTime, id: &str) -> Option<u32> {
    world.advance(until);
    world.message(id).expect("the message exists").failure_code
}

pub fn hours(h: u64) -> SimTime {
    SimTime::ZERO.plus_hours(h)
}

/// What [`drive`] saw: every post with the receiver's answer, and every trace event.
#[derive(Debug, Default)]
pub struct Drive {
    /// Each post in the order the world asked for it, with the answer given.
    pub posts: Vec<(WebhookDelivery, Option<u16>)>,
    /// Every trace event the world produced, in order.
    pub events: Vec<TraceEvent>,
}

impl Drive {
    /// Ids of the deliveries emitted.
    pub fn emitted(&self) -> Vec<u64> {
        self.events
            .iter()
            .filter_map(|e| match e {
                TraceEvent::WebhookEmitted { delivery_id, .. } => Some(*delivery_id),
                _ => None,
            })
            .collect()
    }

    /// Faults of kind `fault` recorded.
    pub fn faults(&self, fault: &str) -> usize {
        self.events
            .iter()
            .filter(|e| matches!(e, TraceEvent::WebhookFault { fault: f, .. } if f == fault))
            .count()
    }

    /// Posts of one copy kind.
    pub fn posts_of(&self, copy: CopyKind) -> Vec<&WebhookDelivery> {
        self.posts
            .iter()
            .filter(|(d, _)| d.copy == copy)
            .map(|(d, _)| d)
            .collect()
    }

    /// Folds more effects in; returns the posts they ask for.
    pub fn absorb(&mut self, effects: Vec<Effect>) -> Vec<WebhookDelivery> {
        let mut posts = Vec::new();
        for effect in effects {
            match effect {
                Effect::Webhook(delivery) => posts.push(delivery),
                Effect::Trace { event, .. } | Effect::TraceMeasured { event, .. } => {
                    self.events.push(event)
                }
            }
        }
        posts
    }
}

/// Plays the delivery engine: posts every webhook the world asks for to `receiver`
/// (its answer, or None for no answer), reports each outcome back, and fires timers
/// until none is due by `until`.
pub fn drive(
    world: &mut World,
    first: Vec<Effect>,
    until: SimTime,
    mut receiver: impl FnMut(&WebhookDelivery) -> Option<u16>,
) -> Drive {
    let mut log = Drive::default();
    let mut queue = log.absorb(first);
    for _ in 0..1_000_000 {
        for delivery in std::mem::take(&mut queue) {
            let status = receiver(&delivery);
            let outcome = world.apply(
                delivery.at,
                delivery.finished(
                    delivery.destination.url().to_owned(),
                    status,
                    1,
                    status.is_none().then(|| "connection refused".to_owned()),
                ),
            );
            log.posts.push((delivery, status));
            queue.extend(log.absorb(outcome.effects));
        }
        match world.next_deadline() {
            Some(deadline) if deadline <= until => {
                let effects = world.advance(deadline);
                queue.extend(log.absorb(effects));
            }
            _ if queue.is_empty() => return log,
            _ => {}
        }
    }
    panic!("the drive did not settle: a loop without end");
}
