//! End-to-end tests on real sockets: wasim serving on 127.0.0.1, a webhook receiver
//! recording every POST, and an HTTP client driving both through the public API.

mod support;

use serde_json::{Value, json};
use support::{
    ANA, DE_PHONE, PRIYA, Received, SPRING_SALE, TITLE_131049, TR_PHONE, US_PHONE, Wasim, template,
};

/// The status webhooks received for `wamid`, in arrival order, with their status.
fn statuses_of(wasim: &Wasim, wamid: &str) -> Vec<(Received, Value)> {
    wasim
        .webhooks()
        .into_iter()
        .filter_map(|webhook| {
            let status = webhook.status()?;
            (status["id"] == wamid).then_some((webhook, status))
        })
        .collect()
}

/// The status names in `statuses`, in order.
fn names(statuses: &[(Received, Value)]) -> Vec<&str> {
    statuses
        .iter()
        .map(|(_, s)| s["status"].as_str().expect("status name"))
        .collect()
}

/// Asserts every trace `webhook_emitted` record whose status is for `wamid` has a
/// `webhook_attempt` answered 200; returns how many there were.
async fn assert_attempts_succeeded(wasim: &Wasim, wamid: &str) -> usize {
    let trace = wasim.trace().await;
    let deliveries: Vec<u64> = trace
        .iter()
        .filter(|r| {
            r["kind"] == "webhook_emitted"
                && r["body"]["entry"][0]["changes"][0]["value"]["statuses"][0]["id"] == wamid
        })
        .map(|r| r["delivery_id"].as_u64().expect("delivery id"))
        .collect();
    for id in &deliveries {
        let attempts = support::socket::attempts_of(&trace, &json!(id));
        assert_eq!(attempts.len(), 1, "delivery {id}: {attempts:?}");
        assert_eq!(attempts[0]["http_status"], 200, "{:?}", attempts[0]);
        assert_eq!(attempts[0]["attempt"], 1, "{:?}", attempts[0]);
    }
    deliveries.len()
}

/// Checks what every Meta webhook must carry: a valid signature, a Content-Length,
/// an ASCII-only JSON body and Meta's envelope.
fn assert_meta_webhook(webhook: &Received) {
    let signature = webhook
        .header("X-Hub-Signature-256")
        .unwrap_or_else(|| panic!("no signature on {}", webhook.text()));
    assert!(
        webhook.meta_signed(),
        "bad signature {signature} on {}",
        webhook.text()
    );
    assert!(
        !wasim_sim::webhook::sign::verify_meta_signature(
            "another_secret",
            &webhook.body,
            signature
        ),
        "the signature verifies with any secret"
    );
    let length = webhook
        .header("Content-Length")
        .unwrap_or_else(|| panic!("no Content-Length on {}", webhook.text()));
    assert_eq!(
        length.parse::<usize>().expect("a numeric Content-Length"),
        webhook.body.len()
    );
    assert_eq!(webhook.header("Content-Type"), Some("application/json"));
    assert!(
        webhook.body.is_ascii(),
        "non-ASCII body: {}",
        webhook.text()
    );
    let body = webhook.json();
    assert_eq!(body["object"], "whatsapp_business_account", "{body}");
    assert_eq!(
        body["entry"][0]["changes"][0]["field"], "messages",
        "{body}"
    );
    assert_eq!(
        body["entry"][0]["changes"][0]["value"]["messaging_product"], "whatsapp",
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_marketing_template_is_reported_sent_then_delivered_in_signed_ascii_webhooks() {
    let wasim = Wasim::start().await;
    let wamid = wasim
        .send_wamid(US_PHONE, &template(ANA, SPRING_SALE))
        .await;
    assert!(wamid.starts_with("wamid."), "{wamid}");
    assert!(
        statuses_of(&wasim, &wamid).is_empty(),
        "a status arrived before the clock moved"
    );

    wasim.advance(3600).await;

    let statuses = statuses_of(&wasim, &wamid);
    let names = names(&statuses);
    assert!(
        names == ["sent", "delivered"] || names == ["sent", "delivered", "read"],
        "statuses {names:?}"
    );
    let mut last_timestamp = 0u64;
    for (webhook, status) in &statuses {
        assert_meta_webhook(webhook);
        assert_eq!(status["recipient_id"], ANA, "{status}");
        let metadata = &webhook.json()["entry"][0]["changes"][0]["value"]["metadata"];
        assert_eq!(metadata["phone_number_id"], US_PHONE, "{metadata}");
        let timestamp: u64 = status["timestamp"]
            .as_str()
            .expect("a string timestamp")
            .parse()
            .expect("unix seconds");
        assert!(timestamp >= last_timestamp, "timestamps go back: {status}");
        last_timestamp = timestamp;
    }
    let sent = &statuses[0].1;
    assert_eq!(sent["pricing"]["category"], "marketing", "{sent}");
    assert_eq!(
        sent["conversation"]["origin"]["type"], "marketing",
        "{sent}"
    );
    assert!(sent.get("errors").is_none(), "{sent}");

    assert_eq!(
        assert_attempts_succeeded(&wasim, &wamid).await,
        statuses.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn marketing_over_the_per_user_limit_fails_131049_in_a_status_webhook_unless_sent_from_the_eea()
 {
    let wasim = Wasim::start().await;
    let answer = wasim
        .control(
            "/_wasim/ecosystem/marketing",
            &json!({"to": PRIYA, "count": 2}),
        )
        .await;
    assert_eq!(answer, json!({"success": true}));

    // The Turkish number is subject to the limit: accepted now, failed later.
    let capped = wasim
        .send_wamid(TR_PHONE, &template(PRIYA, SPRING_SALE))
        .await;
    assert!(capped.starts_with("wamid."), "{capped}");
    wasim.advance(3600).await;

    let statuses = statuses_of(&wasim, &capped);
    assert_eq!(statuses.len(), 1, "{statuses:?}");
    let (webhook, failed) = &statuses[0];
    assert_meta_webhook(webhook);
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(failed["recipient_id"], PRIYA, "{failed}");
    assert_eq!(failed["errors"][0]["code"], 131_049, "{failed}");
    assert_eq!(failed["errors"][0]["title"], TITLE_131049, "{failed}");
    assert!(
        failed["errors"][0]["error_data"]["details"].is_string(),
        "{failed}"
    );
    assert!(failed.get("pricing").is_none(), "{failed}");
    assert_eq!(
        webhook.json()["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"],
        TR_PHONE
    );
    assert_eq!(assert_attempts_succeeded(&wasim, &capped).await, 1);

    // The German number is exempt (EEA sender): the same send is delivered.
    let exempt = wasim
        .send_wamid(DE_PHONE, &template(PRIYA, SPRING_SALE))
        .await;
    wasim.advance(3600).await;
    let statuses = statuses_of(&wasim, &exempt);
    let names = names(&statuses);
    assert_eq!(names.first(), Some(&"sent"), "{names:?}");
    assert!(!names.contains(&"failed"), "{names:?}");
    for (webhook, _) in &statuses {
        assert_meta_webhook(webhook);
    }
    assert_eq!(
        assert_attempts_succeeded(&wasim, &exempt).await,
        statuses.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inbound_text_arrives_ascii_escaped_and_parses_back_to_the_original() {
    let wasim = Wasim::start().await;
    let original = "Grüße 👋";
    let answer = wasim
        .control("/_wasim/inbound", &json!({"from": ANA, "text": original}))
        .await;
    let wamid = answer["id"].as_str().expect("a wamid").to_owned();
    assert!(wamid.starts_with("wamid."), "{answer}");

    // `inbound` answers after the webhook was attempted: no waiting needed.
    let received = wasim.webhooks();
    let webhook = received
        .iter()
        .find(|w| {
            w.json()["entry"][0]["changes"][0]["value"]["messages"][0]["id"] == wamid.as_str()
        })
        .unwrap_or_else(|| panic!("no messages webhook for {wamid} in {received:?}"));
    assert_meta_webhook(webhook);
    let raw = webhook.text();
    assert!(raw.contains("\\u00fc"), "{raw}");
    assert!(raw.contains("\\u00df"), "{raw}");
    assert!(raw.contains("\\ud83d\\udc4b"), "{raw}");
    let value = &webhook.json()["entry"][0]["changes"][0]["value"];
    let message = &value["messages"][0];
    assert_eq!(message["type"], "text", "{value}");
    assert_eq!(message["from"], ANA, "{value}");
    assert_eq!(message["text"]["body"], original, "{value}");
    assert_eq!(value["contacts"][0]["wa_id"], ANA, "{value}");
    assert_eq!(value["contacts"][0]["profile"]["name"], "Ana", "{value}");
    assert_eq!(value["metadata"]["phone_number_id"], US_PHONE, "{value}");

    let trace = wasim.trace().await;
    let delivery = trace
        .iter()
        .find(|r| {
            r["kind"] == "webhook_emitted"
                && r["body"]["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
                    == wamid.as_str()
        })
        .expect("the inbound webhook is traced")["delivery_id"]
        .clone();
    assert!(
        trace.iter().any(|r| r["kind"] == "webhook_attempt"
            && r["delivery_id"] == delivery
            && r["http_status"] == 200),
        "no successful attempt for delivery {delivery}"
    );
}
