//! A compromised channel key: an unknown origin sends with the leaked key, every
//! `every_s`, until it has made its sends or a new key refuses it three times; its
//! sends are recorded as its own, never as the integration's, and the key only as
//! a fingerprint. The same seed and commands give the same trace.

mod support;

use serde_json::Value;
use support::model::*;
use wasim_sim::model::partner::{PartnerCall, PartnerCredential};
use wasim_sim::model::{Command, Incident, Object, Refusal, Reply};
use wasim_sim::trace::{TraceEvent, fingerprint};
use wasim_sim::{Sim, TraceRecord};

/// A compromise of the first number's key: `sends` sends, one every `every_s`.
fn compromise(every_s: u64, sends: u32) -> Incident {
    Incident::Compromise {
        phone_number_id: None,
        every_s,
        sends,
    }
}

/// The partner replaces the US channel's key (with the partner API key).
fn create_key() -> Command {
    Command::PartnerCall {
        credential: Some(PartnerCredential::ApiKey(PARTNER_KEY.into())),
        partner_id: PARTNER_ID.into(),
        call: Ok(PartnerCall::CreateKey {
            channel_id: "wasimCH01".into(),
        }),
    }
}

/// One unknown-origin send as recorded.
#[derive(Debug)]
struct UnknownSend {
    at_ms: u64,
    http_status: u16,
    credential: String,
    message_id: Option<String>,
}

/// The unknown-origin sends recorded in `records`.
fn unknown_origin<'a>(records: impl Iterator<Item = &'a TraceRecord>) -> Vec<UnknownSend> {
    records
        .filter_map(|r| match &r.event {
            TraceEvent::UnknownOriginSend {
                credential,
                http_status,
                message_id,
                ..
            } => Some(UnknownSend {
                at_ms: r.at_ms,
                http_status: *http_status,
                credential: credential.clone(),
                message_id: message_id.clone(),
            }),
            _ => None,
        })
        .collect()
}

#[test]
fn an_unknown_origin_sends_with_the_leaked_key_until_a_new_key_refuses_it_three_times() {
    let mut sim = Sim::new(world());
    let (reply, _) = sim.apply(T0, Command::Incident(compromise(60, 5)));
    assert!(matches!(reply, Ok(Reply::Message(_))), "{reply:?}");
    sim.advance(seconds(60));
    let first = unknown_origin(sim.trace.records());
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!((first[0].at_ms, first[0].http_status), (60_000, 200));
    assert_eq!(first[0].credential, fingerprint(US_KEY));
    let id = first[0]
        .message_id
        .clone()
        .expect("an accepted send has a wamid");
    let id = id.as_str();
    assert!(sim.world.message(id).is_some(), "the message exists");

    // The partner replaces the key.
    let (reply, _) = sim.apply(seconds(90), create_key());
    let new_key = match reply {
        Ok(Reply::Created(body)) => body["api_key"].as_str().expect("a key").to_owned(),
        other => panic!("key not created: {other:?}"),
    };
    sim.advance(hours(48));
    let all = unknown_origin(sim.trace.records());
    let statuses: Vec<(u64, u16)> = all.iter().map(|s| (s.at_ms, s.http_status)).collect();
    assert_eq!(
        statuses,
        [
            (60_000, 200),
            (120_000, 401),
            (180_000, 401),
            (240_000, 401)
        ],
        "three refusals, then it gives up although 1 of its 5 sends is left"
    );
    assert!(
        all.iter().all(|s| s.credential == fingerprint(US_KEY)),
        "it keeps the old key: {all:?}"
    );
    assert!(all[1..].iter().all(|s| s.message_id.is_none()));
    assert_eq!(
        sim.world.next_deadline(),
        None,
        "no timer is left for the unknown origin"
    );
    let records = &sim.trace;
    assert!(
        !records
            .records()
            .any(|r| matches!(r.event, TraceEvent::MessageAccepted { .. })),
        "the unknown origin's sends are not the integration's"
    );
    assert!(
        records.records().any(|r| matches!(
            &r.event,
            TraceEvent::Status { message_id, .. } if message_id == id
        )),
        "its accepted message still gets statuses"
    );
    let text = sim.trace.to_jsonl();
    assert!(!text.contains(US_KEY), "the leaked key is in the trace");
    assert!(!text.contains(&new_key), "the new key is in the trace");
    assert!(text.contains(&fingerprint(US_KEY)));
}

#[test]
fn without_a_new_key_the_unknown_origin_makes_exactly_its_sends_every_every_s() {
    let mut sim = Sim::new(world());
    let (reply, _) = sim.apply(T0, Command::Incident(compromise(60, 5)));
    assert!(reply.is_ok(), "{reply:?}");
    sim.advance(hours(24));
    let sends = unknown_origin(sim.trace.records());
    let times: Vec<u64> = sends.iter().map(|s| s.at_ms).collect();
    assert_eq!(times, [60_000, 120_000, 180_000, 240_000, 300_000]);
    assert!(sends.iter().all(|s| s.http_status == 200), "{sends:?}");
    assert!(
        !sim.trace
            .records()
            .any(|r| matches!(r.event, TraceEvent::MessageAccepted { .. }))
    );
    assert!(!sim.trace.to_jsonl().contains(US_KEY));
    // The compromise is traced with the key's fingerprint, naming the number.
    assert!(sim.trace.records().any(|r| matches!(
        &r.event,
        TraceEvent::AccountIncident { incident, phone_number_id: Some(id), detail }
            if incident == "compromise" && id == US_NUMBER && detail.contains(&fingerprint(US_KEY))
    )));
}

#[test]
fn a_second_compromise_replaces_the_first_and_sends_at_its_own_pace() {
    let mut sim = Sim::new(world());
    let (reply, _) = sim.apply(T0, Command::Incident(compromise(60, 100)));
    assert!(reply.is_ok(), "{reply:?}");
    let (reply, _) = sim.apply(seconds(30), Command::Incident(compromise(60, 100)));
    assert!(reply.is_ok(), "{reply:?}");
    sim.advance(seconds(300));
    let times: Vec<u64> = unknown_origin(sim.trace.records())
        .iter()
        .map(|s| s.at_ms)
        .collect();
    // 300 s at one send per 60 s: at least four sends, so the spacing below is
    // measured, not vacuous.
    assert!(
        times.len() >= 4,
        "too few sends to judge their pace: {times:?}"
    );
    assert!(
        times.windows(2).all(|w| w[1] - w[0] >= 60_000),
        "sends closer than every_s apart: {times:?}"
    );
}

#[test]
fn an_unknown_origin_send_blocked_by_360dialog_is_recorded_only_as_the_unknown_origins() {
    let mut sim = Sim::new(world());
    let (reply, _) = sim.apply(T0, Command::Incident(Incident::DisableTemplates));
    assert!(reply.is_ok(), "{reply:?}");
    let (reply, _) = sim.apply(T0, Command::Incident(compromise(60, 2)));
    assert!(reply.is_ok(), "{reply:?}");
    sim.advance(hours(1));
    let sends = unknown_origin(sim.trace.records());
    assert_eq!(sends.len(), 2, "{sends:?}");
    assert!(sends.iter().all(|s| s.http_status == 403), "{sends:?}");
    let blocked: Vec<&TraceRecord> = sim
        .trace
        .records()
        .filter(|r| matches!(r.event, TraceEvent::SendBlocked { .. }))
        .collect();
    assert!(
        blocked.is_empty(),
        "the integration sent nothing, yet: {blocked:?}"
    );
}

#[test]
fn a_compromise_of_an_unknown_number_is_refused() {
    let mut world = world();
    let unknown = Incident::Compromise {
        phone_number_id: Some("199999999999999".to_owned()),
        every_s: 60,
        sends: 1,
    };
    let reply = world.apply(T0, Command::Incident(unknown)).reply;
    assert!(
        matches!(&reply, Err(Refusal::NotFound { object: Object::PhoneNumber, id }) if id == "199999999999999"),
        "{reply:?}"
    );
    assert_eq!(world.next_deadline(), None);
}

/// Plays one fixed session with a compromise on a world built from `toml`; returns
/// the trace as JSON Lines.
fn session(toml: &str) -> String {
    let mut sim = Sim::new(world_with(toml));
    let (reply, _) = sim.apply(T0, inbound_text(ANA_BR, "hello"));
    assert!(reply.is_ok(), "{reply:?}");
    for to in [ANA_BR, PRIYA_IN, SAM_US] {
        let (reply, _) = sim.apply(
            T0,
            Command::graph_send(TOKEN, US_NUMBER, &template_body(to, "spring_sale")),
        );
        assert!(reply.is_ok(), "{reply:?}");
    }
    let (reply, _) = sim.apply(seconds(1), Command::Incident(compromise(30, 8)));
    assert!(reply.is_ok(), "{reply:?}");
    let (reply, _) = sim.apply(
        seconds(2),
        Command::Incident(Incident::Violation {
            violation_type: "SCAM".to_owned(),
        }),
    );
    assert!(reply.is_ok(), "{reply:?}");
    sim.advance(seconds(100));
    let (reply, _) = sim.apply(seconds(100), create_key());
    assert!(reply.is_ok(), "{reply:?}");
    let (reply, _) = sim.apply(seconds(101), Command::Incident(tier("TIER_100K")));
    assert!(reply.is_ok(), "{reply:?}");
    sim.advance(hours(2));
    sim.trace.to_jsonl()
}

#[test]
fn the_same_world_seed_and_commands_with_a_compromise_give_the_same_trace() {
    let first = session("");
    let second = session("");
    assert_eq!(first, second);
    assert!(first.contains("\"kind\":\"unknown_origin_send\""));
    let recipients = |trace: &str| -> Vec<String> {
        trace
            .lines()
            .filter(|l| l.contains("\"kind\":\"unknown_origin_send\""))
            .map(|l| {
                let record: Value = serde_json::from_str(l).expect("JSON");
                record["to"].as_str().unwrap_or_default().to_owned()
            })
            .collect()
    };
    let other_seed = session("seed = 2\n");
    assert_ne!(
        recipients(&first),
        recipients(&other_seed),
        "the unknown origin's recipients come from the seed"
    );
}
