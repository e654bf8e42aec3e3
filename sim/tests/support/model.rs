//! The pure model, driven directly: build worlds, send, advance, read statuses and
//! webhooks, and play the delivery engine ([`drive`]).
//!
//! Model tests name numbers and people with their country (`US_NUMBER`, `ANA_BR`),
//! since the rules they test turn on it; they are the default world's
//! [`super::US_PHONE`], [`super::ANA`] and so on.

use serde_json::Value;
use wasim_sim::model::partner::{Page, PartnerCall, PartnerCredential};
use wasim_sim::model::{
    Command, CopyKind, Destination, Effect, InboundContent, Incident, Refusal, Reply, SimTime,
    StatusKind, WebhookDelivery, World, WorldSpec,
};
use wasim_sim::trace::TraceEvent;

pub use super::{
    ANA as ANA_BR, DE_PHONE as DE_NUMBER, DELIVERED_THEN_READ, DENIZ as DENIZ_TR, LENA as LENA_DE,
    PARTNER_ID, PARTNER_KEY, PRIYA as PRIYA_IN, SAM as SAM_US, TOKEN, TR_PHONE as TR_NUMBER,
    US_KEY, US_PHONE as US_NUMBER, WABA, order_update, template as template_body,
    text as text_body,
};

/// People the model tests send to: the named recipients, then a magic one who is
/// delivered, then reads.
pub const PEOPLE: [&str; 6] = [
    ANA_BR,
    PRIYA_IN,
    SAM_US,
    LENA_DE,
    DENIZ_TR,
    DELIVERED_THEN_READ,
];

/// The start of virtual time.
pub const T0: SimTime = SimTime::ZERO;

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

/// `h` hours into virtual time.
pub fn hours(h: u64) -> SimTime {
    SimTime::ZERO.plus_hours(h)
}

/// `s` seconds into virtual time.
pub fn seconds(s: u64) -> SimTime {
    SimTime::from_ms(s * 1000)
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

/// A Cloud API send of `body` from `phone` with the world's token; its answer.
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

/// Whether the answer is an accepted send.
pub fn is_sent(reply: &Result<Reply, Refusal>) -> bool {
    matches!(reply, Ok(Reply::Sent { .. }))
}

/// The code and HTTP status of a synchronous platform rejection; fails the test on
/// any other answer.
pub fn refusal(reply: &Result<Reply, Refusal>) -> (u32, u16) {
    match reply {
        Err(Refusal::Platform(error)) => (error.code, error.http_status()),
        other => panic!("expected a platform rejection, got {other:?}"),
    }
}

/// The code of a synchronous platform rejection (see [`refusal`]).
pub fn rejected_code(reply: Result<Reply, Refusal>) -> u32 {
    refusal(&reply).0
}

/// A `spring_sale` send from `phone` to `to`; its wamid.
pub fn marketing(world: &mut World, at: SimTime, phone: &str, to: &str) -> String {
    accepted(world, at, phone, template_body(to, "spring_sale"))
}

/// Marketing from other businesses reaches `to` `count` times.
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

/// `from` writes "hello" to the first number; fails the test unless it is received.
pub fn inbound(world: &mut World, at: SimTime, from: &str) {
    let reply = world.apply(at, inbound_text(from, "hello")).reply;
    assert!(
        matches!(reply, Ok(Reply::InboundReceived { .. })),
        "{reply:?}"
    );
}

/// Plays `incident` at `at`; fails the test unless it is done. Returns its effects.
pub fn incident(world: &mut World, at: SimTime, incident: Incident) -> Vec<Effect> {
    let outcome = world.apply(at, Command::Incident(incident));
    assert!(
        matches!(outcome.reply, Ok(Reply::Message(_))),
        "{:?}",
        outcome.reply
    );
    outcome.effects
}

/// The messaging tier changes to `tier`.
pub fn tier(tier: &str) -> Incident {
    Incident::Tier {
        tier: tier.to_owned(),
    }
}

/// A Partner API call with the partner API key; fails the test unless it succeeds.
/// Answers the HTTP status it stands for and the body.
pub fn partner(world: &mut World, at: SimTime, call: PartnerCall) -> (u16, Value) {
    let command = Command::PartnerCall {
        credential: Some(PartnerCredential::ApiKey(PARTNER_KEY.into())),
        partner_id: PARTNER_ID.into(),
        call: Ok(call),
    };
    match world.apply(at, command).reply {
        Ok(Reply::Json(body)) => (200, body),
        Ok(Reply::Created(body)) => (201, body),
        other => panic!("the partner call failed: {other:?}"),
    }
}

/// A Partner API channel list: the first `limit` channels sorted by `sort`, unfiltered.
pub fn channel_list(sort: &str, limit: u64) -> PartnerCall {
    PartnerCall::ListChannels(Page {
        limit,
        offset: 0,
        sort: sort.to_owned(),
        filters: serde_json::Map::new(),
    })
}

/// Advances far enough for every lifecycle timer of messages accepted by `at` to fire.
pub fn settle(world: &mut World, at: SimTime) -> SimTime {
    let until = at.plus_hours(1);
    world.advance(until);
    until
}

/// The statuses message `id` went through, in order.
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

/// The trace events among `effects`.
pub fn events(effects: &[Effect]) -> Vec<&TraceEvent> {
    effects.iter().filter_map(Effect::event).collect()
}

/// The webhook posts among `effects` for `field` (every post with `None`).
pub fn posts<'a>(effects: &'a [Effect], field: Option<&str>) -> Vec<&'a WebhookDelivery> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Webhook(d) if field.is_none_or(|field| d.field == field) => Some(d),
            _ => None,
        })
        .collect()
}

/// The bodies of the posts among `effects` for `field`, each checked to go to
/// `destination`.
pub fn bodies_to(effects: &[Effect], field: &str, destination: &Destination) -> Vec<Value> {
    let posts = posts(effects, Some(field));
    for post in &posts {
        assert_eq!(&post.destination, destination, "where {field} goes");
    }
    posts.iter().map(|post| post.body.to_value()).collect()
}

/// The `value`s of Meta's WABA-level changes of `field` among `effects`, each checked
/// to go to the app callback in Meta's envelope.
pub fn meta_values(effects: &[Effect], field: &str) -> Vec<Value> {
    let callback = Destination::Meta {
        url: RECEIVER_URL.to_owned(),
    };
    let bodies = bodies_to(effects, field, &callback);
    for body in &bodies {
        assert_eq!(body["object"], "whatsapp_business_account", "{body}");
        assert_eq!(body["entry"][0]["id"], WABA, "{body}");
        assert_eq!(body["entry"][0]["changes"][0]["field"], field, "{body}");
    }
    let value = |body: &Value| body["entry"][0]["changes"][0]["value"].clone();
    bodies.iter().map(value).collect()
}

/// The status entry about message `id` in the first status webhook among `effects`
/// that carries one.
pub fn status_webhook(effects: &[Effect], id: &str) -> Option<Value> {
    posts(effects, None).into_iter().find_map(|d| {
        let status = &d.body.to_value()["entry"][0]["changes"][0]["value"]["statuses"][0];
        (status["id"] == id).then(|| status.clone())
    })
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
