//! Every message type a send may carry besides text and templates (media,
//! interactive, location, contacts, reactions, replies with `context`) and read
//! receipts: what each accepts, what it refuses with which code, and the rules
//! they share with text (the 24-hour window).

mod support;

use serde_json::{Value, json};
use support::TOKEN;
use support::model::{
    ANA_BR, PRIYA_IN, SAM_US, T0, US_NUMBER, accepted, hours, inbound_text, outcome, send_from,
    settle, statuses, text_body, world, world_with,
};
use wasim_sim::model::{
    Command, Effect, PlatformError, Refusal, Reply, SimTime, StatusKind, World,
};
use wasim_sim::trace::TraceEvent;

/// A send of `kind` carrying `object` to `to`.
fn message(to: &str, kind: &str, object: Value) -> Value {
    json!({"messaging_product": "whatsapp", "to": to, "type": kind, kind: object})
}

/// Reply buttons with `titles`.
fn buttons(titles: &[&str]) -> Value {
    let buttons: Vec<Value> = titles
        .iter()
        .enumerate()
        .map(
            |(i, title)| json!({"type": "reply", "reply": {"id": format!("b{i}"), "title": title}}),
        )
        .collect();
    json!({"type": "button", "body": {"text": "Change or cancel?"}, "action": {"buttons": buttons}})
}

/// A list with `rows` rows per section, in `sections` sections.
fn list(sections: usize, rows: usize) -> Value {
    let sections: Vec<Value> = (0..sections)
        .map(|s| {
            let rows: Vec<Value> = (0..rows)
                .map(|r| json!({"id": format!("s{s}r{r}"), "title": format!("Row {s}.{r}")}))
                .collect();
            json!({"title": format!("Section {s}"), "rows": rows})
        })
        .collect();
    json!({"type": "list", "body": {"text": "Pick one"},
           "action": {"button": "Options", "sections": sections}})
}

/// A world in which Ana wrote first, so her service window is open; the wamid of
/// her message.
fn window_open() -> (World, String) {
    window_open_in(world())
}

/// [`window_open`] in `world`.
fn window_open_in(mut world: World) -> (World, String) {
    let reply = world.apply(T0, inbound_text(ANA_BR, "hello")).reply;
    let Ok(Reply::InboundReceived { message_id }) = reply else {
        panic!("Ana's message was not received: {reply:?}");
    };
    (world, message_id.into_string())
}

/// Sends `body` at `at`, which must be accepted; the code it failed with an hour
/// later, if it failed.
fn fate(world: &mut World, at: SimTime, body: Value) -> Option<u32> {
    let id = accepted(world, at, US_NUMBER, body);
    outcome(world, at.plus_hours(1), &id)
}

/// The code of a synchronous refusal of `body`.
fn refused(world: &mut World, body: Value) -> u32 {
    refusal(world, body).code
}

/// The synchronous refusal of `body`.
fn refusal(world: &mut World, body: Value) -> PlatformError {
    match send_from(world, hours(1), US_NUMBER, body.clone()) {
        Err(Refusal::Platform(error)) => error,
        other => panic!("{body}: expected a platform refusal, got {other:?}"),
    }
}

/// Asserts a parameter error as the live API answers it (the default): code 100,
/// the message `starting` with a parameter's name, no details.
fn assert_live_parameter_error(error: &PlatformError, starting: &str, body: &Value) {
    assert_eq!(error.code, 100, "{body}: {error:?}");
    assert!(error.title.starts_with(starting), "{body}: {error:?}");
    assert!(error.details.is_empty(), "{body}: {error:?}");
}

/// Sends `body` at `at`; the answer and the trace events the send wrote.
fn send_traced(
    world: &mut World,
    at: SimTime,
    body: &Value,
) -> (Result<Reply, Refusal>, Vec<TraceEvent>) {
    let outcome = world.apply(at, Command::graph_send(TOKEN, US_NUMBER, body));
    let events = outcome
        .effects
        .iter()
        .filter_map(Effect::event)
        .cloned()
        .collect();
    (outcome.reply, events)
}

/// Sends `body`, which must be accepted; its wamid and the `message_type` and
/// `reply_to` the trace gave it.
fn accepted_traced(
    world: &mut World,
    at: SimTime,
    body: &Value,
) -> (String, String, Option<String>) {
    let (reply, events) = send_traced(world, at, body);
    let Ok(Reply::Sent { message_id, .. }) = reply else {
        panic!("{body}: not accepted: {reply:?}");
    };
    let (kind, reply_to) = events
        .iter()
        .find_map(|event| match event {
            TraceEvent::MessageAccepted {
                message_id: id,
                message_type,
                reply_to,
                ..
            } if id == message_id.as_str() => Some(((*message_type).to_owned(), reply_to.clone())),
            _ => None,
        })
        .expect("the accepted send is traced");
    (message_id.into_string(), kind, reply_to)
}

#[test]
fn every_simulated_type_is_accepted_inside_the_window_and_traced_as_its_type() {
    let (mut world, received) = window_open();
    let cases = [
        (
            "image",
            json!({"link": "https://cdn.example.com/receipt.png", "caption": "Your receipt"}),
        ),
        ("audio", json!({"link": "https://cdn.example.com/note.ogg"})),
        (
            "video",
            json!({"link": "https://cdn.example.com/unboxing.mp4"}),
        ),
        (
            "document",
            json!({"link": "https://cdn.example.com/invoice.pdf", "filename": "invoice.pdf"}),
        ),
        (
            "sticker",
            json!({"link": "https://cdn.example.com/thanks.webp"}),
        ),
        ("interactive", buttons(&["Change", "Cancel"])),
        ("interactive", list(2, 3)),
        (
            "interactive",
            json!({"type": "cta_url", "body": {"text": "Track it"},
            "action": {"name": "cta_url", "parameters": {"display_text": "Track", "url": "https://example.com/t/1"}}}),
        ),
        (
            "interactive",
            json!({"type": "location_request_message", "body": {"text": "Where are you?"},
            "action": {"name": "send_location"}}),
        ),
        (
            "location",
            json!({"latitude": -23.5505, "longitude": -46.6333, "name": "Shop"}),
        ),
        (
            "contacts",
            json!([{"name": {"formatted_name": "Support", "first_name": "Support"}}]),
        ),
        (
            "reaction",
            json!({"message_id": received, "emoji": "\u{1F44D}"}),
        ),
    ];
    for (n, (kind, object)) in (1..).zip(cases) {
        let body = if kind == "contacts" {
            json!({"messaging_product": "whatsapp", "to": ANA_BR, "type": "contacts", "contacts": object})
        } else {
            message(ANA_BR, kind, object)
        };
        let (id, traced, _) = accepted_traced(&mut world, hours(n), &body);
        assert_eq!(traced, kind);
        assert_eq!(
            outcome(&mut world, hours(n).plus_ms(1_800_000), &id),
            None,
            "{kind} failed"
        );
        assert!(statuses(&world, &id).contains(&StatusKind::Sent), "{kind}");
    }
}

#[test]
fn free_form_types_outside_the_window_fail_with_131047_like_text() {
    let mut world = world();
    let image = message(
        PRIYA_IN,
        "image",
        json!({"link": "https://cdn.example.com/a.png"}),
    );
    let id = accepted(&mut world, T0, US_NUMBER, image);
    assert_eq!(outcome(&mut world, hours(1), &id), Some(131_047));
    let id = accepted(
        &mut world,
        hours(1),
        US_NUMBER,
        message(PRIYA_IN, "interactive", buttons(&["Yes"])),
    );
    assert_eq!(outcome(&mut world, hours(2), &id), Some(131_047));
}

#[test]
fn missing_fields_and_values_out_of_bounds_get_100_naming_the_parameter_or_131008_and_131009_by_the_table()
 {
    let (mut live, _) = window_open();
    let (mut table, _) = window_open_in(world_with("[policy]\nparameter_errors = \"table\"\n"));
    let long = |n: usize| "x".repeat(n);
    let missing = [
        message(ANA_BR, "image", json!({"caption": "no media"})),
        message(
            ANA_BR,
            "interactive",
            json!({"type": "button", "action": {"buttons": []}}),
        ),
        message(ANA_BR, "location", json!({"latitude": 1.0})),
        json!({"messaging_product": "whatsapp", "to": ANA_BR, "type": "contacts", "contacts": [{"name": {}}]}),
        message(ANA_BR, "reaction", json!({"emoji": "x"})),
        message(
            ANA_BR,
            "interactive",
            json!({"type": "list", "body": {"text": "b"}, "action": {"sections": []}}),
        ),
    ];
    for body in missing {
        let error = refusal(&mut live, body.clone());
        assert_live_parameter_error(&error, "The parameter ", &body);
        assert!(error.title.ends_with(" is required."), "{body}: {error:?}");
        let error = refusal(&mut table, body.clone());
        assert_eq!(error.code, 131_008, "{body}");
        assert!(error.details.starts_with("The parameter "), "{error:?}");
    }
    let invalid = [
        message(
            ANA_BR,
            "image",
            json!({"link": "ftp://cdn.example.com/a.png"}),
        ),
        message(
            ANA_BR,
            "image",
            json!({"link": "https://cdn.example.com/a.png", "caption": long(1_025)}),
        ),
        message(
            ANA_BR,
            "interactive",
            buttons(&["One", "Two", "Three", "Four"]),
        ),
        message(
            ANA_BR,
            "interactive",
            buttons(&["A title longer than twenty"]),
        ),
        message(ANA_BR, "interactive", buttons(&["Same", "Same"])),
        message(ANA_BR, "interactive", list(1, 11)),
        message(ANA_BR, "interactive", list(11, 1)),
        message(ANA_BR, "interactive", list(3, 4)),
        message(
            ANA_BR,
            "location",
            json!({"latitude": 91.0, "longitude": 0.0}),
        ),
        message(
            ANA_BR,
            "interactive",
            json!({"type": "cta_url", "body": {"text": "b"},
            "action": {"name": "cta_url", "parameters": {"display_text": "Go", "url": "javascript:alert(1)"}}}),
        ),
        message(
            ANA_BR,
            "interactive",
            json!({"type": "list", "header": {"type": "image", "image": {"link": "https://x.example/a.png"}},
            "body": {"text": "b"}, "action": {"button": "Go", "sections": [{"rows": [{"id": "1", "title": "t"}]}]}}),
        ),
    ];
    let mut with_long_body = buttons(&["Yes"]);
    with_long_body["body"]["text"] = json!(long(1_025));
    for body in invalid
        .into_iter()
        .chain([message(ANA_BR, "interactive", with_long_body)])
    {
        let error = refusal(&mut live, body.clone());
        assert_live_parameter_error(&error, "Param ", &body);
        let error = refusal(&mut table, body.clone());
        assert_eq!(error.code, 131_009, "{body}");
        assert!(error.details.starts_with("Param "), "{error:?}");
    }
}

#[test]
fn an_empty_text_body_gets_the_live_api_s_message() {
    let (mut world, _) = window_open();
    let body = text_body(ANA_BR, "");
    let error = refusal(&mut world, body.clone());
    assert_eq!(
        (error.code, error.title.as_str()),
        (100, "The parameter text['body'] is required."),
        "{body}"
    );
    let (_, events) = send_traced(&mut world, hours(1), &body);
    assert!(
        events.iter().any(|event| matches!(event,
            TraceEvent::MessageRejected { code: 100, title, .. }
                if title == "The parameter text['body'] is required.")),
        "{events:?}"
    );
}

#[test]
fn an_inbound_only_type_gets_131051_and_an_unsimulated_interactive_says_so() {
    let (mut world, _) = window_open();
    assert_eq!(
        refused(&mut world, message(ANA_BR, "order", json!({}))),
        131_051
    );
    let flow = message(
        ANA_BR,
        "interactive",
        json!({"type": "flow", "body": {"text": "b"}, "action": {}}),
    );
    match send_from(&mut world, hours(1), US_NUMBER, flow) {
        Err(Refusal::Platform(error)) => {
            assert_eq!(error.code, 100);
            assert!(error.title.contains("not simulated"), "{error:?}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_link_that_cannot_be_downloaded_is_accepted_then_fails_with_131053() {
    let (mut world, _) = window_open();
    let body = message(
        ANA_BR,
        "document",
        json!({"link": "https://files.unreachable.invalid/a.pdf"}),
    );
    let id = accepted(&mut world, hours(1), US_NUMBER, body);
    assert_eq!(outcome(&mut world, hours(2), &id), Some(131_053));
    let header = json!({"type": "button", "header": {"type": "image", "image": {"link": "http://user@cdn.invalid:8080/x.png"}},
        "body": {"text": "b"}, "action": {"buttons": [{"type": "reply", "reply": {"id": "1", "title": "Ok"}}]}});
    let id = accepted(
        &mut world,
        hours(2),
        US_NUMBER,
        message(ANA_BR, "interactive", header),
    );
    assert_eq!(outcome(&mut world, hours(3), &id), Some(131_053));
}

#[test]
fn a_link_to_a_file_of_another_kind_fails_with_131053_and_unknown_extensions_pass() {
    let (mut world, _) = window_open();
    let cases = [
        ("image", "https://cdn.example.com/photo.webp", Some(131_053)),
        (
            "image",
            "https://cdn.example.com/anim.GIF?v=2",
            Some(131_053),
        ),
        ("audio", "https://cdn.example.com/clip.mp4", Some(131_053)),
        (
            "sticker",
            "https://cdn.example.com/thanks.png",
            Some(131_053),
        ),
        ("image", "https://cdn.example.com/photo.JPG#x", None),
        ("document", "https://cdn.example.com/report.xlsx", None),
        ("image", "https://cdn.example.com/render?id=7", None),
    ];
    for (n, (kind, link, expected)) in (1..).zip(cases) {
        let failed = fate(
            &mut world,
            hours(n),
            message(ANA_BR, kind, json!({"link": link})),
        );
        assert_eq!(failed, expected, "{kind} {link}");
    }
}

#[test]
fn a_reaction_needs_a_message_of_the_conversation_not_older_than_30_days() {
    let (mut world, received) = window_open();
    let react = |to: &str, id: &str, emoji: &str| {
        message(to, "reaction", json!({"message_id": id, "emoji": emoji}))
    };
    // To Ana's own message: sent, and only sent, as Meta reports reactions;
    // removing it (empty emoji) too.
    let ok = accepted(
        &mut world,
        hours(1),
        US_NUMBER,
        react(ANA_BR, &received, "\u{2764}"),
    );
    assert_eq!(outcome(&mut world, hours(2), &ok), None);
    assert_eq!(statuses(&world, &ok), vec![StatusKind::Sent]);
    assert_eq!(
        fate(&mut world, hours(2), react(ANA_BR, &received, "")),
        None
    );
    // To a message of another conversation, an unknown one, or a reaction: 131009.
    world
        .apply(hours(3), inbound_text(SAM_US, "hi"))
        .reply
        .expect("Sam writes");
    for (n, target) in (4..).zip([received.as_str(), "wamid.unknown", ok.as_str()]) {
        let to = if target == received { SAM_US } else { ANA_BR };
        let failed = fate(&mut world, hours(n), react(to, target, "x"));
        assert_eq!(failed, Some(131_009), "{target} to {to}");
    }
    // Ana writes again (her window stays open), but her first message is 31 days old.
    let later = hours(31 * 24);
    world
        .apply(later, inbound_text(ANA_BR, "still there?"))
        .reply
        .expect("Ana writes");
    assert_eq!(
        fate(&mut world, later, react(ANA_BR, &received, "x")),
        Some(131_009)
    );
}

#[test]
fn a_reply_with_context_is_traced_with_the_message_it_answers() {
    let (mut world, received) = window_open();
    let mut body = text_body(ANA_BR, "Yes, we deliver on Sundays");
    body["context"] = json!({"message_id": received});
    let (_, _, reply_to) = accepted_traced(&mut world, hours(1), &body);
    assert_eq!(reply_to, Some(received));
    let mut broken = text_body(ANA_BR, "x");
    broken["context"] = json!({"message_id": 7});
    let error = refusal(&mut world, broken.clone());
    assert_live_parameter_error(
        &error,
        "Param context['message_id'] must be a string",
        &broken,
    );
}

/// A read receipt for `message_id`, with a typing indicator if `typing`.
fn read_receipt(message_id: &str, typing: bool) -> Value {
    let mut body =
        json!({"messaging_product": "whatsapp", "status": "read", "message_id": message_id});
    if typing {
        body["typing_indicator"] = json!({"type": "text"});
    }
    body
}

#[test]
fn a_received_message_is_marked_read_once_and_traced_with_its_delay() {
    let (mut world, received) = window_open();
    let mut reads = Vec::new();
    for (at, typing) in [(hours(1), true), (hours(2), false)] {
        let (reply, events) = send_traced(&mut world, at, &read_receipt(&received, typing));
        assert_eq!(reply, Ok(Reply::Done));
        reads.extend(events.into_iter().filter_map(|event| match event {
            TraceEvent::MessageMarkedRead {
                message_id,
                after_ms,
                typing,
                from,
                ..
            } => {
                assert_eq!(
                    (message_id.as_str(), from.as_str()),
                    (received.as_str(), ANA_BR)
                );
                Some((after_ms, typing))
            }
            _ => None,
        }));
    }
    assert_eq!(reads, vec![(3_600_000, true), (7_200_000, false)]);
}

#[test]
fn a_read_receipt_for_an_outbound_or_unknown_message_or_another_number_is_refused() {
    let (mut world, received) = window_open();
    let sent = accepted(&mut world, hours(1), US_NUMBER, text_body(ANA_BR, "hi"));
    settle(&mut world, hours(1));
    for id in [sent.as_str(), "wamid.HBgLnothing"] {
        let code = refused(&mut world, read_receipt(id, false));
        assert_eq!(code, 131_009, "{id}");
    }
    let other_number = world
        .apply(
            hours(2),
            Command::graph_send(TOKEN, support::DE_PHONE, &read_receipt(&received, false)),
        )
        .reply;
    assert!(
        matches!(other_number, Err(Refusal::Platform(ref e)) if e.code == 131_009),
        "{other_number:?}"
    );
    // A malformed receipt is a parameter error: 100 naming it (live, the default).
    let bad_typing = json!({"messaging_product": "whatsapp", "status": "read", "message_id": received,
                            "typing_indicator": {"type": "audio"}});
    let error = refusal(&mut world, bad_typing.clone());
    assert_live_parameter_error(&error, "Param typing_indicator", &bad_typing);
    let no_id = json!({"messaging_product": "whatsapp", "status": "read"});
    let error = refusal(&mut world, no_id.clone());
    assert_live_parameter_error(&error, "The parameter message_id is required.", &no_id);
}
