//! One signed sample webhook of each kind the simulator sends, for `wasim trigger`.
//!
//! The bodies are the model's samples ([`crate::model::webhooks::samples`], written
//! by the running world's own payload writers); [`build`] adds what goes on the
//! wire: the ASCII-escaped bytes and the signature header that goes with them.
//! - Meta events (`messages.*`, `statuses.*`, `template.*`, `account_update`) are
//!   signed `X-Hub-Signature-256: sha256=<hex>` with the app secret
//!   (<https://developers.facebook.com/docs/whatsapp/cloud-api/guides/set-up-webhooks>);
//! - `partner.*` events `x-360dialog-signature: <hex>` with the partner webhook
//!   secret
//!   (<https://docs.360dialog.com/partner/onboarding/webhook-events-and-setup/signature-validation>).

use super::sign::{
    META_SIGNATURE_HEADER, PARTNER_SIGNATURE_HEADER, ascii_json, hmac_hex, meta_signature,
};
use crate::model::spec::WorldSpec;
use crate::model::webhooks::samples::{self, Audience};
pub use crate::model::webhooks::samples::{
    EVENTS, INBOUND_MESSAGE_ID, OUTBOUND_MESSAGE_ID, SampleError as TriggerError,
};

/// How a trigger payload is signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signing {
    /// Meta: `X-Hub-Signature-256: sha256=<hex>`, keyed with the app secret.
    Meta,
    /// 360dialog partner webhooks: `x-360dialog-signature: <hex>`, keyed with the
    /// partner webhook secret.
    Partner,
}

impl From<Audience> for Signing {
    fn from(audience: Audience) -> Signing {
        match audience {
            Audience::Meta => Signing::Meta,
            Audience::Partner => Signing::Partner,
        }
    }
}

impl Signing {
    /// The name of the header carrying the signature.
    pub fn header(self) -> &'static str {
        match self {
            Signing::Meta => META_SIGNATURE_HEADER,
            Signing::Partner => PARTNER_SIGNATURE_HEADER,
        }
    }

    /// What signs it, for messages (never the secret itself).
    pub fn key_name(self) -> &'static str {
        match self {
            Signing::Meta => "the app secret",
            Signing::Partner => "the partner webhook secret",
        }
    }
}

/// One webhook ready to post: the exact body and its signature header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriggerPayload {
    /// The event name (`statuses.sent`).
    pub event: &'static str,
    /// The body, ASCII-only JSON ([`ascii_json`]); the signature covers exactly these bytes.
    pub body: Vec<u8>,
    /// How it is signed.
    pub signing: Signing,
    /// The signature header's value (`sha256=<hex>` for Meta, bare hex for partner events).
    pub signature: String,
}

impl TriggerPayload {
    /// The headers to post with the body, in order: content type, the body's length
    /// (some receivers, such as whatsapp-api-js, refuse a webhook without
    /// `Content-Length`, so it is never left to the transport), then the signature.
    pub fn headers(&self) -> [(&'static str, String); 3] {
        [
            ("Content-Type", "application/json".to_owned()),
            ("Content-Length", self.body.len().to_string()),
            (self.signing.header(), self.signature.clone()),
        ]
    }

    /// The POST of this webhook to `url` with `client`: every header of
    /// [`TriggerPayload::headers`] and exactly the signed body.
    pub fn request(&self, client: &reqwest::Client, url: reqwest::Url) -> reqwest::RequestBuilder {
        let mut request = client.post(url);
        for (name, value) in self.headers() {
            request = request.header(name, value);
        }
        request.body(self.body.clone())
    }
}

/// Builds the webhook for `event` from `spec`'s ids and secrets. An unknown event
/// or a world lacking what the event needs is an error that says what to do.
pub fn build(event: &str, spec: &WorldSpec) -> Result<TriggerPayload, TriggerError> {
    let sample = samples::sample(event, spec)?;
    let body = ascii_json(&sample.body);
    let signing = Signing::from(sample.audience);
    let signature = match signing {
        Signing::Meta => meta_signature(spec.app_secret.expose(), &body),
        Signing::Partner => hmac_hex(spec.partner.webhook_secret.expose(), &body),
    };
    Ok(TriggerPayload {
        event: sample.name,
        body,
        signing,
        signature,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::model::bsuid;
    use crate::webhook::sign::verify_meta_signature;

    fn json_of(payload: &TriggerPayload) -> Value {
        serde_json::from_slice(&payload.body).expect("the body is JSON")
    }

    #[test]
    fn every_listed_event_builds_with_an_ascii_body_and_a_valid_signature() {
        let spec = WorldSpec::default();
        for (name, description) in EVENTS {
            assert!(!description.is_empty(), "{name}");
            let payload = build(name, &spec).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(payload.event, *name);
            assert!(payload.body.is_ascii(), "{name}");
            let body = json_of(&payload);
            match payload.signing {
                Signing::Meta => {
                    assert!(!name.starts_with("partner."), "{name}");
                    assert_eq!(payload.signing.header(), "X-Hub-Signature-256");
                    assert!(verify_meta_signature(
                        "wasim_test_app_secret",
                        &payload.body,
                        &payload.signature
                    ));
                    assert!(!verify_meta_signature(
                        "wasim_test_partner_secret",
                        &payload.body,
                        &payload.signature
                    ));
                    assert_eq!(body["object"], "whatsapp_business_account", "{name}");
                    assert_eq!(body["entry"][0]["id"], "100000000000001", "{name}");
                }
                Signing::Partner => {
                    assert!(name.starts_with("partner."), "{name}");
                    assert_eq!(payload.signing.header(), "x-360dialog-signature");
                    assert_eq!(
                        payload.signature,
                        hmac_hex("wasim_test_partner_secret", &payload.body)
                    );
                    assert_eq!(
                        body["event"].as_str(),
                        name.strip_prefix("partner."),
                        "{name}"
                    );
                    assert_eq!(body["data"]["id"], "wasimCH01");
                    assert_eq!(body["data"]["client_id"], "wasimCL");
                    assert_eq!(body["data"]["setup_info"]["phone_number"], "15550100001");
                    assert_eq!(body["data"]["waba_account"]["id"], "100000000000001");
                    assert!(body["data"]["status"].is_string());
                    assert!(body["id"].is_string());
                }
            }
            let headers = payload.headers();
            assert_eq!(headers[0], ("Content-Type", "application/json".to_owned()));
            assert_eq!(
                headers[1],
                ("Content-Length", payload.body.len().to_string())
            );
            assert_eq!(
                headers[2],
                (payload.signing.header(), payload.signature.clone())
            );
        }
    }

    #[test]
    fn builds_are_deterministic_and_never_contain_a_secret() {
        let spec = WorldSpec::default();
        for (name, _) in EVENTS {
            let once = build(name, &spec).expect("builds");
            assert_eq!(once, build(name, &spec).expect("builds"), "{name}");
            let text = String::from_utf8(once.body).expect("ASCII");
            for secret in [
                "wasim_test_app_secret",
                "wasim_test_partner_secret",
                "wasim_test_access_token",
            ] {
                assert!(!text.contains(secret), "{name}");
                assert!(!once.signature.contains(secret), "{name}");
            }
        }
    }

    #[test]
    fn unknown_events_name_every_valid_event() {
        let error = build("statuses.lost", &WorldSpec::default())
            .expect_err("unknown")
            .to_string();
        assert!(error.contains("statuses.lost"), "{error}");
        for (name, _) in EVENTS {
            assert!(error.contains(name), "{error}");
        }
    }

    #[test]
    fn the_failed_status_carries_131049_as_meta_writes_it() {
        let payload = build("statuses.failed", &WorldSpec::default()).expect("builds");
        let body = json_of(&payload);
        let value = &body["entry"][0]["changes"][0]["value"];
        assert_eq!(body["entry"][0]["changes"][0]["field"], "messages");
        assert_eq!(
            value["metadata"],
            json!({"display_phone_number": "15550100001", "phone_number_id": "110000000000001"})
        );
        let status = &value["statuses"][0];
        assert_eq!(status["status"], "failed");
        assert_eq!(status["id"], OUTBOUND_MESSAGE_ID);
        assert_eq!(status["recipient_id"], "5511987654321");
        assert_eq!(status["timestamp"], "1717405201");
        assert!(status.get("pricing").is_none());
        let error = &status["errors"][0];
        assert_eq!(error["code"], 131_049);
        assert_eq!(
            error["title"],
            "This message was not delivered to maintain healthy ecosystem engagement."
        );
        assert_eq!(error["message"], error["title"]);
        assert_eq!(
            error["error_data"]["details"],
            "In order to maintain a healthy ecosystem engagement, the message failed to be delivered."
        );
        assert_eq!(
            error["href"],
            "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"
        );
    }

    #[test]
    fn sent_carries_conversation_and_cbp_pricing_with_string_timestamps() {
        let body = json_of(&build("statuses.sent", &WorldSpec::default()).expect("builds"));
        let status = &body["entry"][0]["changes"][0]["value"]["statuses"][0];
        assert_eq!(status["status"], "sent");
        assert!(status["timestamp"].is_string());
        assert_eq!(status["conversation"]["expiration_timestamp"], "1717491600");
        assert_eq!(status["conversation"]["origin"]["type"], "marketing");
        assert_eq!(
            status["pricing"],
            json!({"billable": true, "pricing_model": "CBP", "category": "marketing"})
        );
        let delivered =
            json_of(&build("statuses.delivered", &WorldSpec::default()).expect("builds"));
        let delivered = &delivered["entry"][0]["changes"][0]["value"]["statuses"][0];
        assert!(
            delivered["conversation"]
                .get("expiration_timestamp")
                .is_none()
        );
        assert_eq!(delivered["pricing"]["pricing_model"], "CBP");
        let read = json_of(&build("statuses.read", &WorldSpec::default()).expect("builds"));
        let read = &read["entry"][0]["changes"][0]["value"]["statuses"][0];
        assert_eq!(read["status"], "read");
        assert!(read.get("pricing").is_none());
    }

    #[test]
    fn inbound_text_comes_from_the_first_named_recipient() {
        let body = json_of(&build("messages.text", &WorldSpec::default()).expect("builds"));
        let value = &body["entry"][0]["changes"][0]["value"];
        assert_eq!(value["messaging_product"], "whatsapp");
        assert_eq!(
            value["contacts"][0],
            json!({"profile": {"name": "Ana"}, "wa_id": "5511987654321"})
        );
        let message = &value["messages"][0];
        assert_eq!(message["from"], "5511987654321");
        assert_eq!(message["id"], INBOUND_MESSAGE_ID);
        assert_eq!(message["type"], "text");
        assert_eq!(message["timestamp"], "1717405200");
    }

    #[test]
    fn account_level_events_have_time_on_the_entry_and_no_metadata() {
        let spec = WorldSpec::default();
        for (name, field) in [
            ("template.status_update", "message_template_status_update"),
            ("template.quality_update", "message_template_quality_update"),
            ("account_update", "account_update"),
        ] {
            let body = json_of(&build(name, &spec).expect("builds"));
            let entry = &body["entry"][0];
            assert_eq!(entry["time"], 1_717_405_200, "{name}");
            assert_eq!(entry["changes"][0]["field"], field, "{name}");
            assert!(entry["changes"][0]["value"].get("metadata").is_none());
        }
        let body = json_of(&build("template.status_update", &spec).expect("builds"));
        assert_eq!(
            body["entry"][0]["changes"][0]["value"],
            json!({
                "event": "PAUSED",
                "message_template_id": 120_000_000_000_001_u64,
                "message_template_name": "spring_sale",
                "message_template_language": "en_US",
                "reason": "NONE",
                "message_template_category": "MARKETING",
                "other_info": {
                    "title": "FIRST_PAUSE",
                    "description": "Your WhatsApp message template has been paused because of low quality.",
                },
            })
        );
        let body = json_of(&build("template.quality_update", &spec).expect("builds"));
        let value = &body["entry"][0]["changes"][0]["value"];
        assert_eq!(value["previous_quality_score"], "GREEN");
        assert_eq!(value["new_quality_score"], "YELLOW");
        assert!(value["message_template_id"].is_u64());
        let body = json_of(&build("account_update", &spec).expect("builds"));
        assert_eq!(
            body["entry"][0]["changes"][0]["value"],
            json!({"event": "DISABLED_UPDATE",
                   "ban_info": {"waba_ban_state": "DISABLE", "waba_ban_date": "June 3, 2024"}})
        );
    }

    #[test]
    fn a_world_file_changes_ids_and_secrets() {
        let spec = WorldSpec::from_toml(
            "app_secret = \"other_app\"\nepoch_unix_s = 1700000000\n[partner]\nwebhook_secret = \"other_partner\"\n[waba]\nid = \"999\"\n",
        )
        .expect("valid");
        let meta = build("statuses.read", &spec).expect("builds");
        assert!(verify_meta_signature(
            "other_app",
            &meta.body,
            &meta.signature
        ));
        assert_eq!(json_of(&meta)["entry"][0]["id"], "999");
        let partner = build("partner.channel_live", &spec).expect("builds");
        assert_eq!(partner.signature, hmac_hex("other_partner", &partner.body));
        assert_eq!(json_of(&partner)["created_at"], "2023-11-14T22:13:20Z");
    }

    #[test]
    fn a_2026_04_world_gets_the_bsuids_the_running_world_would_send() {
        let spec = WorldSpec::from_toml("[policy]\nprofile = \"2026-04\"\n").expect("valid");
        let ana = bsuid::derive(spec.seed, &spec.waba.id, "BR", "5511987654321");
        let body = json_of(&build("messages.text", &spec).expect("builds"));
        let value = &body["entry"][0]["changes"][0]["value"];
        assert_eq!(value["contacts"][0]["user_id"], ana.as_str());
        assert_eq!(value["messages"][0]["from_user_id"], ana.as_str());
        for event in [
            "statuses.sent",
            "statuses.delivered",
            "statuses.read",
            "statuses.failed",
        ] {
            let body = json_of(&build(event, &spec).expect("builds"));
            let value = &body["entry"][0]["changes"][0]["value"];
            assert_eq!(
                value["statuses"][0]["recipient_user_id"],
                ana.as_str(),
                "{event}"
            );
            assert_eq!(
                value["contacts"],
                json!([{"profile": {"name": "Ana"}, "wa_id": "5511987654321", "user_id": ana}]),
                "{event}"
            );
        }
        for (event, _) in EVENTS {
            let text = String::from_utf8(build(event, &WorldSpec::default()).expect("builds").body)
                .expect("ASCII");
            assert!(!text.contains("user_id"), "{event}: {text}");
        }
    }
}
