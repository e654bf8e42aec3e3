//! Meta's own OpenAPI spec as a standing test (issue 9): every success response of
//! wasim's Cloud API (Graph) surface and every Meta webhook it emits is validated, with the
//! `jsonschema` crate, against the schemas of Meta's OpenAPI 3.1 spec
//! `business-messaging-api_v23.0.yaml` (facebook/openapi, snapshot of 2025-11-21),
//! vendored with its MIT licence in `sim/tests/data/openapi/`.
//!
//! How the spec is read: one JSON Schema (draft 2020-12) document per validated
//! schema, embedding the spec's `components` so `#/components/schemas/X` resolves.
//! OpenAPI `discriminator` mappings are applied as `if`/`then` (their OpenAPI
//! meaning; a JSON Schema validator ignores the keyword). Payloads are collected by
//! driving a real wasim on 127.0.0.1 and recording what its webhooks deliver, or
//! from `wasim trigger`'s builder, which is what emits those bytes.
//!
//! Graph answers and status webhooks are validated against the spec as published.
//! Where the spec cannot describe what the platform sends (`docs/platform-rules.md`,
//! "Webhooks" and "What client libraries require"), a
//! named [`Correction`] replaces exactly one part of it, a test shows the published
//! spec rejects wasim's payloads for that reason, and the rest is validated.
//! Business-scoped user ids (policy `2026-04`) are beyond v23.0: their test strips
//! exactly those fields and proves they are the only difference from `2025-07`.
//!
//! The spec is part of the repository: without it every test fails, saying
//! which file is missing (none passes having validated nothing).

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use axum::http::Method;
use jsonschema::error::ValidationErrorKind;
use jsonschema::{ValidationError, Validator};
use serde_json::{Map, Value, json};
use support::{
    ANA, DE_PHONE, LENA, PRIYA, SAM, SPRING_SALE, SPRING_SALE_ID, US_PHONE, WABA, Wasim, template,
    text,
};
use wasim_sim::WorldSpec;
use wasim_sim::model::bsuid;
use wasim_sim::webhook::trigger::{self, EVENTS, Signing};

/// The spec's file name in `sim/tests/data/openapi/`.
const SPEC_FILE: &str = "business-messaging-api_v23.0.yaml";

/// Where the vendored spec is: `tests/data/openapi/` in this crate.
fn spec_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/openapi")
        .join(SPEC_FILE)
}

// ---------------------------------------------------------------------------
// The spec
// ---------------------------------------------------------------------------

/// Meta's spec, parsed.
struct Spec {
    doc: Value,
}

impl Spec {
    /// The vendored spec; a missing or unreadable file fails the test.
    fn load() -> Spec {
        let path = spec_path();
        let text = std::fs::read_to_string(&path).unwrap_or_else(|error| {
            panic!(
                "failed to read Meta's OpenAPI spec {}: {error} (it is vendored in the repository: git checkout -- sim/tests/data/openapi)",
                path.display()
            )
        });
        let doc: Value = serde_yaml_ng::from_str(&text)
            .unwrap_or_else(|error| panic!("failed to parse {}: {error}", path.display()));
        Spec { doc }
    }

    /// The schema of `method path`'s `status` answer (`application/json`).
    fn response_schema(&self, path: &str, method: &str, status: &str) -> Value {
        let schema = &self.doc["paths"][path][method]["responses"][status]["content"]["application/json"]
            ["schema"];
        assert!(
            schema.is_object(),
            "the spec has no {status} application/json schema for {} {path}",
            method.to_uppercase()
        );
        schema.clone()
    }

    /// The request body schema of `POST /whatsapp/webhooks`: `WebhookPayload`.
    fn webhook_schema(&self) -> Value {
        let schema = &self.doc["paths"]["/whatsapp/webhooks"]["post"]["requestBody"]["content"]["application/json"]
            ["schema"];
        assert_eq!(
            schema["$ref"], "#/components/schemas/WebhookPayload",
            "POST /whatsapp/webhooks takes WebhookPayload"
        );
        schema.clone()
    }

    /// A component schema.
    fn component(&self, name: &str) -> &Value {
        let schema = &self.doc["components"]["schemas"][name];
        assert!(schema.is_object(), "the spec has no schema {name}");
        schema
    }

    /// A validator for `schema`, with the spec's components (discriminators applied)
    /// and `corrections` made to them.
    fn validator(&self, schema: &Value, corrections: &[&Correction]) -> Validator {
        let mut components = self.doc["components"].clone();
        apply_discriminators(&mut components);
        let schemas = components["schemas"]
            .as_object_mut()
            .expect("components.schemas is an object");
        for correction in corrections {
            (correction.apply)(schemas);
        }
        let mut root = Map::new();
        root.insert(
            "$schema".to_owned(),
            json!("https://json-schema.org/draft/2020-12/schema"),
        );
        root.insert("components".to_owned(), components);
        for (key, value) in schema.as_object().expect("a schema object") {
            root.insert(key.clone(), value.clone());
        }
        jsonschema::validator_for(&Value::Object(root))
            .unwrap_or_else(|error| panic!("the spec's schema does not compile: {error}"))
    }
}

static SPEC: OnceLock<Spec> = OnceLock::new();

/// The spec, read once per test binary.
fn spec() -> &'static Spec {
    SPEC.get_or_init(Spec::load)
}

/// Adds, for every OpenAPI `discriminator` with a `mapping`, an `if`/`then` per
/// mapped value: an object whose discriminating property has that value must match
/// the mapped schema (what the discriminator means in OpenAPI 3.1).
fn apply_discriminators(value: &mut Value) {
    match value {
        Value::Object(object) => {
            let rules: Vec<Value> = match object.get("discriminator") {
                Some(discriminator) => {
                    let property = discriminator["propertyName"].as_str().unwrap_or_default();
                    discriminator["mapping"]
                        .as_object()
                        .map(|mapping| {
                            mapping
                                .iter()
                                .map(|(tag, target)| {
                                    json!({
                                        "if": {"properties": {property: {"const": tag}}, "required": [property]},
                                        "then": {"$ref": target},
                                    })
                                })
                                .collect()
                        })
                        .unwrap_or_default()
                }
                None => Vec::new(),
            };
            for child in object.values_mut() {
                apply_discriminators(child);
            }
            if !rules.is_empty() {
                let all_of = object
                    .entry("allOf")
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(all_of) = all_of {
                    all_of.extend(rules);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(apply_discriminators),
        _ => {}
    }
}

/// Every violation of `instance`, one a line, with the branches of a failed
/// `oneOf`/`anyOf` indented beneath it.
fn violations(validator: &Validator, instance: &Value) -> Vec<String> {
    fn describe(error: &ValidationError<'_>, depth: usize, out: &mut Vec<String>) {
        out.push(format!(
            "{}{} at `{}` (schema {})",
            "  ".repeat(depth),
            error.masked(),
            error.instance_path(),
            error.schema_path()
        ));
        if let ValidationErrorKind::OneOfNotValid { context }
        | ValidationErrorKind::AnyOf { context } = error.kind()
            && depth < 6
        {
            for (index, branch) in context.iter().enumerate() {
                out.push(format!("{}branch {index}:", "  ".repeat(depth + 1)));
                for error in branch {
                    describe(error, depth + 2, out);
                }
            }
        }
    }
    let mut out = Vec::new();
    for error in validator.iter_errors(instance) {
        describe(&error, 0, &mut out);
    }
    out
}

/// Every sample valid against `validator`, which `corrections` made; a failure
/// names the sample and the corrections.
fn assert_samples_valid(validator: &Validator, corrections: &[&Correction], samples: &[Sample]) {
    let corrected = corrected_by(corrections);
    for sample in samples {
        assert_valid(
            validator,
            &format!("{}{corrected}", sample.what),
            &sample.body,
        );
    }
}

/// Fails, naming every violation, unless `instance` is valid.
fn assert_valid(validator: &Validator, what: &str, instance: &Value) {
    let found = violations(validator, instance);
    assert!(
        found.is_empty(),
        "{what} does not match Meta's v23.0 spec:\n{}\n\npayload: {instance}",
        found.join("\n")
    );
}

// ---------------------------------------------------------------------------
// Corrections: where the spec cannot describe what the platform sends
// ---------------------------------------------------------------------------

/// One documented change to the spec's schemas, for payloads the published spec
/// cannot describe. Each is proven necessary by a test.
struct Correction {
    /// What is wrong and what the platform does instead.
    why: &'static str,
    /// Changes `components.schemas`.
    apply: fn(&mut Map<String, Value>),
}

/// The members of `IncomingMessage`'s `oneOf` (one schema per inbound message type).
fn incoming_members(schemas: &Map<String, Value>) -> Vec<String> {
    schemas["IncomingMessage"]["oneOf"]
        .as_array()
        .expect("IncomingMessage has a oneOf")
        .iter()
        .filter_map(|member| member["$ref"].as_str())
        .filter_map(|target| target.strip_prefix("#/components/schemas/"))
        .map(str::to_owned)
        .collect()
}

/// Every inbound message type in the spec is `allOf: [BaseMessageProperties, …]`,
/// and `BaseMessageProperties` is the base of a *send request*: it requires
/// `messaging_product`, `recipient_type` and `to`, which an inbound message never
/// has. An inbound message has `from`, `id`, `timestamp` and `type`, and may have
/// `context` and `referral` (Meta's inbound text webhook reference: https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/reference/messages/text). The correction gives the inbound
/// members that base instead (only webhook validators use it).
const INBOUND_MESSAGES_BUILD_ON_THE_SEND_REQUEST_BASE: Correction = Correction {
    why: "IncomingMessage members build on BaseMessageProperties, a send request's base (messaging_product, recipient_type, to required); an inbound message has from, id, timestamp, type (Meta's inbound text webhook reference: https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/reference/messages/text)",
    apply: |schemas| {
        let inbound_base = json!({
            "type": "object",
            "required": ["from", "id", "timestamp", "type"],
            "properties": {
                "from": {"type": "string"},
                "id": {"type": "string"},
                "timestamp": {"type": "string"},
                "type": {"type": "string"},
                "context": {
                    "type": "object",
                    "properties": {
                        "forwarded": {"type": "boolean"},
                        "frequently_forwarded": {"type": "boolean"},
                        "from": {"type": "string"},
                        "id": {"type": "string"},
                        "referred_product": {"type": "object"},
                    },
                },
                "referral": {"type": "object"},
            },
        });
        schemas.insert("BaseMessageProperties".to_owned(), inbound_base);
    },
};

/// `TextMessage` (and the media members) close their own `allOf` branch with
/// `additionalProperties: false`, which sees only that branch's properties (`type`
/// and `text`): every property of the base they are combined with is forbidden too,
/// and no object satisfies both. The correction closes the member as a whole
/// (`unevaluatedProperties: false`, which sees every branch), keeping the spec's
/// intent that these objects are closed.
const MEMBERS_CLOSE_ONE_ALLOF_BRANCH: Correction = Correction {
    why: "TextMessage and the media members close one allOf branch with additionalProperties: false, which forbids the base's properties too: no object can match; closed as a whole (unevaluatedProperties: false) instead",
    apply: |schemas| {
        for name in incoming_members(schemas) {
            let Some(member) = schemas.get_mut(&name) else {
                continue;
            };
            let mut closed = false;
            if let Some(branches) = member.get_mut("allOf").and_then(Value::as_array_mut) {
                for branch in branches {
                    if let Some(branch) = branch.as_object_mut()
                        && branch.get("additionalProperties") == Some(&Value::Bool(false))
                    {
                        branch.remove("additionalProperties");
                        closed = true;
                    }
                }
            }
            if closed {
                member["unevaluatedProperties"] = Value::Bool(false);
            }
        }
    },
};

/// `Change.field` lists only `messages` and group fields, and `Change.value` has no
/// schema for any account-level field (`message_template_status_update`,
/// `message_template_quality_update`, `account_update`, `phone_number_quality_update`,
/// `business_capability_update`, `security`), which Meta sends with `time` on the
/// entry and no `metadata` (Meta's webhook references for those fields, listed in `docs/platform-rules.md`). The correction
/// lets `Change` hold any field with an object value, so the envelope is still
/// checked.
const ACCOUNT_LEVEL_FIELDS_HAVE_NO_SCHEMA: Correction = Correction {
    why: "Change.field lists only messages and group fields and Change.value has no schema for account-level fields (Meta's webhook references for those fields: https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/account_update and its siblings); any field with an object value is let through",
    apply: |schemas| {
        let change = &mut schemas["Change"];
        change["properties"]["field"] = json!({"type": "string"});
        change["properties"]["value"] = json!({"type": "object"});
    },
};

/// ` (corrected: …)`, naming `corrections`, for failure messages.
fn corrected_by(corrections: &[&Correction]) -> String {
    let reasons: Vec<&str> = corrections.iter().map(|c| c.why).collect();
    format!(" (spec corrected: {})", reasons.join("; "))
}

/// The corrections inbound message webhooks need.
const INBOUND: &[&Correction] = &[
    &INBOUND_MESSAGES_BUILD_ON_THE_SEND_REQUEST_BASE,
    &MEMBERS_CLOSE_ONE_ALLOF_BRANCH,
];

/// `StickerMessage.sticker` is the send request's sticker: exactly `{id}` or
/// `{link}`, closed. A sticker a user sends has `id`, `mime_type`, `sha256` and
/// `animated` (Meta's sticker webhook reference). The correction gives it that
/// object, closed.
const INBOUND_STICKER_IS_THE_SEND_REQUEST_S: Correction = Correction {
    why: "StickerMessage.sticker is the send request's closed {id} | {link}; an inbound sticker has id, mime_type, sha256 and animated (Meta's sticker webhook reference: https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/reference/messages/sticker)",
    apply: |schemas| {
        schemas["StickerMessage"]["allOf"][1]["properties"]["sticker"] = json!({
            "type": "object",
            "required": ["id", "mime_type", "sha256", "animated"],
            "properties": {
                "id": {"type": "string"},
                "mime_type": {"type": "string"},
                "sha256": {"type": "string"},
                "animated": {"type": "boolean"},
            },
            "additionalProperties": false,
        });
    },
};

/// `LocationMessage.location` types `latitude` and `longitude` as strings; Meta's
/// location webhook reference writes them as numbers, and client libraries read
/// them so (pywa's `Location` takes floats). The correction types them as
/// numbers.
const LOCATION_COORDINATES_ARE_NUMBERS: Correction = Correction {
    why: "LocationMessage.location types latitude and longitude as strings; the location webhook sends numbers (Meta's location webhook reference: https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/reference/messages/location)",
    apply: |schemas| {
        let location =
            &mut schemas["LocationMessage"]["allOf"][1]["properties"]["location"]["properties"];
        location["latitude"] = json!({"type": "number"});
        location["longitude"] = json!({"type": "number"});
    },
};

/// The corrections media, location, contacts and reaction webhooks need.
const INBOUND_MEDIA: &[&Correction] = &[
    &INBOUND_MESSAGES_BUILD_ON_THE_SEND_REQUEST_BASE,
    &MEMBERS_CLOSE_ONE_ALLOF_BRANCH,
    &INBOUND_STICKER_IS_THE_SEND_REQUEST_S,
    &LOCATION_COORDINATES_ARE_NUMBERS,
];

// ---------------------------------------------------------------------------
// Collecting what wasim sends
// ---------------------------------------------------------------------------

/// One payload and what it is.
#[derive(Debug, Clone)]
struct Sample {
    what: String,
    body: Value,
}

/// A short name for a Meta webhook: `messages:text`, `messages:status:failed:131049`,
/// or its account-level field.
fn kind_of(body: &Value) -> String {
    let change = &body["entry"][0]["changes"][0];
    let field = change["field"].as_str().unwrap_or("?");
    let value = &change["value"];
    if let Some(message) = value["messages"].get(0) {
        let kind = message["type"].as_str().unwrap_or("?");
        let sub = message[kind]["type"].as_str();
        return match sub {
            Some(sub) => format!("{field}:{kind}:{sub}"),
            None => format!("{field}:{kind}"),
        };
    }
    if let Some(status) = value["statuses"].get(0) {
        let name = status["status"].as_str().unwrap_or("?");
        return match status["errors"][0]["code"].as_u64() {
            Some(code) => format!("{field}:status:{name}:{code}"),
            None => format!("{field}:status:{name}"),
        };
    }
    field.to_owned()
}

fn samples_of(wasim: &Wasim) -> Vec<Sample> {
    wasim
        .webhooks()
        .iter()
        .map(|hook| {
            let body = hook.json();
            Sample {
                what: kind_of(&body),
                body,
            }
        })
        .collect()
}

/// The `messages` webhooks of a script that reaches every inbound kind wasim
/// simulates and every status, `failed` with each async code the magic recipients
/// give, under `profile`.
async fn messages_webhooks(profile: Option<&str>) -> Vec<Sample> {
    let wasim = Wasim::start_with(WorldSpec::default(), profile).await;
    wasim.inbound_text(ANA, "Olá! Grüße 👋 ¿Qué tal?").await;
    wasim.send(US_PHONE, &text(ANA, "Obrigado! 🙏")).await;
    wasim.send(US_PHONE, &template(PRIYA, SPRING_SALE)).await;
    let mut order_update = template(ANA, "order_update");
    order_update["template"]["components"] =
        json!([{"type": "body", "parameters": [{"type": "text", "text": "A-1"}]}]);
    wasim.send(DE_PHONE, &order_update).await;
    wasim.advance(1).await;
    wasim
        .control(
            "/_wasim/inbound",
            &json!({"from": ANA, "button_reply": {"id": "yes", "title": "Yes 👍"}}),
        )
        .await;
    wasim
        .control(
            "/_wasim/inbound",
            &json!({"from": ANA, "list_reply": {"id": "row-2", "title": "Tomorrow", "description": "Between 9 and 12"}}),
        )
        .await;
    wasim
        .control(
            "/_wasim/inbound",
            &json!({"from": PRIYA, "button": {"payload": "STOP", "text": "Stop promotions"}}),
        )
        .await;
    for magic in [
        "999000000",
        "999000001",
        "999000002",
        "999000003",
        "999131026",
        "999131047",
        "999131049",
        "999131050",
    ] {
        wasim.send(US_PHONE, &template(magic, SPRING_SALE)).await;
    }
    wasim.advance(24 * 3600).await;
    samples_of(&wasim)
}

/// The `messages` webhooks of every other inbound kind: each media kind (with
/// bytes and without), a location, contacts and a reaction.
async fn media_and_other_inbound_webhooks() -> Vec<Sample> {
    let wasim = Wasim::start().await;
    let wamid = wasim
        .send_wamid(US_PHONE, &template(ANA, SPRING_SALE))
        .await;
    let bodies = [
        json!({"image": {"mime_type": "image/png", "data": "iVBORw0KGgo=", "caption": "Broken 😢"}}),
        json!({"document": {"filename": "invoice.pdf", "caption": "April"}}),
        json!({"audio": {"voice": true}}),
        json!({"video": {"mime_type": "video/3gpp"}}),
        json!({"sticker": {"animated": true}}),
        json!({"location": {"latitude": 52.52, "longitude": 13.405, "name": "Alexanderplatz", "address": "Berlin"}}),
        json!({"contacts": [{"name": {"formatted_name": "Lucía Gómez", "first_name": "Lucía"}, "org": {"company": "Google"}, "phones": [{"phone": "+1 (983) 555-2319", "wa_id": "19835552319", "type": "WORK"}]}]}),
        json!({"reaction": {"message_id": wamid, "emoji": "👍"}}),
    ];
    for mut body in bodies {
        body["from"] = json!(ANA);
        wasim.control("/_wasim/inbound", &body).await;
    }
    samples_of(&wasim)
        .into_iter()
        .filter(|s| s.what.starts_with("messages:") && !s.what.starts_with("messages:status:"))
        .collect()
}

/// The `failed` statuses the pacing rules give: a held message whose template is
/// paused (132015) and one whose template is deleted (132001).
async fn held_then_failed_webhooks() -> Vec<Sample> {
    let spec = WorldSpec::from_toml("[policy]\npacing_threshold = 1\n").expect("a valid world");
    let wasim = Wasim::start_with(spec, None).await;
    wasim
        .control(
            &format!("/_wasim/templates/{SPRING_SALE}"),
            &json!({"quality": "YELLOW"}),
        )
        .await;
    wasim.send(US_PHONE, &template(ANA, SPRING_SALE)).await;
    let held = wasim.send(US_PHONE, &template(PRIYA, SPRING_SALE)).await;
    assert_eq!(
        held["messages"][0]["message_status"],
        "held_for_quality_assessment"
    );
    wasim
        .control(
            &format!("/_wasim/templates/{SPRING_SALE}"),
            &json!({"decide": "pause"}),
        )
        .await;
    wasim.advance(3600).await;
    // The utility template, paced after a utility pause, is deleted with a message held.
    wasim
        .control("/_wasim/templates/order_update", &json!({"quality": "RED"}))
        .await;
    wasim
        .control("/_wasim/templates/order_update", &json!({"unpause": true}))
        .await;
    let mut order_update = template(ANA, "order_update");
    order_update["template"]["components"] =
        json!([{"type": "body", "parameters": [{"type": "text", "text": "A-1"}]}]);
    wasim.send(US_PHONE, &order_update).await;
    order_update["to"] = json!(PRIYA);
    let held = wasim.send(US_PHONE, &order_update).await;
    assert_eq!(
        held["messages"][0]["message_status"],
        "held_for_quality_assessment"
    );
    wasim
        .graph_ok(
            Method::DELETE,
            &format!("/v23.0/{WABA}/message_templates?name=order_update"),
            None,
        )
        .await;
    wasim.advance(3600).await;
    samples_of(&wasim)
        .into_iter()
        .filter(|sample| sample.what.starts_with("messages:status:failed"))
        .collect()
}

/// Every account-level webhook wasim emits: template status (review, pauses,
/// unpause, deletion) and quality, `account_update`, `phone_number_quality_update`,
/// `business_capability_update` and `security`.
async fn account_level_webhooks() -> Vec<Sample> {
    let wasim = Wasim::start().await;
    let quality = format!("/_wasim/templates/{SPRING_SALE}");
    wasim.control(&quality, &json!({"quality": "YELLOW"})).await;
    wasim.control(&quality, &json!({"pause": true})).await;
    wasim.control(&quality, &json!({"unpause": true})).await;
    let create = json!({
        "name": "winter_sale", "language": "en_US", "category": "MARKETING",
        "components": [{"type": "BODY", "text": "Winter sale: {{1}} off", "example": {"body_text": [["25%"]]}}],
    });
    let templates = format!("/v23.0/{WABA}/message_templates");
    wasim
        .graph_ok(Method::POST, &templates, Some(&create))
        .await;
    wasim.advance(3600).await;
    let winter_sale = format!("{templates}?name=winter_sale");
    wasim.graph_ok(Method::DELETE, &winter_sale, None).await;
    for incident in [
        json!({"incident": "violation", "violation_type": "SCAM"}),
        json!({"incident": "restrict", "restriction_type": "RESTRICTED_BIZ_INITIATED_MESSAGING", "hours": 24}),
        json!({"incident": "terminate"}),
        json!({"incident": "reinstate"}),
        json!({"incident": "tier", "tier": "TIER_2K"}),
    ] {
        wasim.control("/_wasim/account", &incident).await;
    }
    let pin = json!({"pin": "246810"});
    wasim
        .graph_ok(Method::POST, &format!("/v23.0/{US_PHONE}"), Some(&pin))
        .await;
    samples_of(&wasim)
}

/// The Meta webhooks `wasim trigger` builds (partner events are 360dialog's).
fn trigger_webhooks(spec: &WorldSpec) -> Vec<Sample> {
    EVENTS
        .iter()
        .filter_map(|(name, _)| {
            let payload = trigger::build(name, spec).expect("every listed event builds");
            (payload.signing == Signing::Meta).then(|| Sample {
                what: format!("wasim trigger {name}"),
                body: serde_json::from_slice(&payload.body).expect("a JSON body"),
            })
        })
        .collect()
}

/// Fails unless every kind in `expected` is among `samples`.
fn assert_kinds(samples: &[Sample], expected: &[&str]) {
    let kinds: BTreeSet<&str> = samples.iter().map(|s| s.what.as_str()).collect();
    for kind in expected {
        assert!(
            kinds.contains(kind),
            "no `{kind}` webhook was collected; got {kinds:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// The spec file itself
// ---------------------------------------------------------------------------

#[test]
fn the_spec_is_meta_s_v23_openapi_3_1_document_with_the_webhook_payload() {
    let spec = spec();
    assert_eq!(spec.doc["openapi"], "3.1.0");
    assert_eq!(spec.doc["info"]["version"], "v23.0");
    let schemas = spec.doc["components"]["schemas"]
        .as_object()
        .expect("components.schemas");
    assert!(schemas.len() >= 300, "{} schemas", schemas.len());
    let _ = spec.webhook_schema();
    let _ = spec.component("WebhookPayload");
}

// ---------------------------------------------------------------------------
// Graph (Cloud API) answers
// ---------------------------------------------------------------------------

/// The spec's operations wasim serves on its Graph surface: (path, method).
const GRAPH_OPERATIONS: &[(&str, &str)] = &[
    ("/{Version}/{Phone-Number-ID}/messages", "post"),
    ("/{Version}/{Phone-Number-ID}/register", "post"),
    ("/{Version}/{Phone-Number-ID}/deregister", "post"),
    ("/{Version}/{Phone-Number-ID}", "post"),
    ("/{Version}/{WABA-ID}/message_templates", "get"),
    ("/{Version}/{WABA-ID}/message_templates", "post"),
    ("/{Version}/{WABA-ID}/message_templates", "delete"),
    ("/{Version}/{TEMPLATE_ID}", "get"),
    ("/{Version}/{Phone-Number-ID}", "get"),
    ("/{Version}/{WABA-ID}", "get"),
    (
        "/{Version}/{Phone-Number-ID}/whatsapp_business_profile",
        "post",
    ),
    ("/{Version}/{WABA-ID}/subscribed_apps", "post"),
    ("/{Version}/{WABA-ID}/subscribed_apps", "delete"),
    ("/{Version}/{Phone-Number-ID}/media", "post"),
    ("/{Version}/{Media-ID}", "get"),
    ("/{Version}/{Media-ID}", "delete"),
    // The Marketing Messages API: in the v23.0 spec, its answer
    // `MarketingMessageResponsePayload` (with `message_status`).
    ("/{Version}/{Phone-Number-ID}/marketing_messages", "post"),
];

/// The operation whose answer names a media's URL.
const RETRIEVE_MEDIA_URL: (&str, &str) = ("/{Version}/{Media-ID}", "get");

/// `GET /{Media-ID}`'s 200 schema types `file_size` as a string (its one example
/// quoted). pywa 4.5.0 types it `int` and documents an integer answer, and
/// 360dialog's API reference, which relays Meta's answer, gives an integer
/// (<https://docs.360dialog.com/docs/messaging-api/api-reference/media>): wasim
/// answers a number, and this correction of the operation's inline schema (not a
/// component) types it so.
const FILE_SIZE_IS_A_NUMBER: &str = "GET /{Media-ID} types file_size as a string; pywa 4.5.0 and 360dialog's API reference (https://docs.360dialog.com/docs/messaging-api/api-reference/media) read an integer";

/// The 200 schema of `operation`, with [`FILE_SIZE_IS_A_NUMBER`] applied to
/// [`RETRIEVE_MEDIA_URL`]'s.
fn corrected_response_schema(spec: &Spec, (path, method): (&str, &str)) -> Value {
    let mut schema = spec.response_schema(path, method, "200");
    if (path, method) == RETRIEVE_MEDIA_URL {
        schema["properties"]["file_size"] = json!({"type": "integer"});
    }
    schema
}

/// A `multipart/form-data` upload of `bytes` as `mime`: (content type, body).
fn upload_form(mime: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    let boundary = "wasim-spec-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"messaging_product\"\r\n\r\nwhatsapp\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"type\"\r\n\r\n{mime}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f\"\r\nContent-Type: {mime}\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Calls every Graph operation wasim serves with an answer of 200, and returns each
/// answer under the spec operation it belongs to.
async fn graph_answers() -> Vec<((&'static str, &'static str), Sample)> {
    let spec = WorldSpec::from_toml("[policy]\npacing_threshold = 1\n").expect("a valid world");
    let wasim = Wasim::start_with(spec, None).await;
    let mut answers = Vec::new();
    // The upload is a form, not JSON: sent through the router in process.
    let (content_type, form) = upload_form("image/jpeg", b"\xFF\xD8\xFF\xE0 jpeg");
    let upload = support::http::call(
        wasim.state(),
        axum::http::Request::builder()
            .method("POST")
            .uri(format!("/v23.0/{US_PHONE}/media"))
            .header("authorization", format!("Bearer {}", support::TOKEN))
            .header("content-type", content_type)
            .body(axum::body::Body::from(form))
            .expect("a valid request"),
    )
    .await;
    assert_eq!(upload.status, 200, "{}", upload.text());
    let media_id = upload.string("/id");
    answers.push((
        GRAPH_OPERATIONS[13],
        Sample {
            what: format!("POST /v23.0/{US_PHONE}/media"),
            body: upload.json(),
        },
    ));
    let mut call = async |operation: (&'static str, &'static str),
                          method: Method,
                          path: String,
                          body: Option<Value>| {
        let answer = wasim.graph_ok(method.clone(), &path, body.as_ref()).await;
        answers.push((
            operation,
            Sample {
                what: format!("{method} {path}"),
                body: answer,
            },
        ));
    };
    let send = GRAPH_OPERATIONS[0];
    wasim.inbound_text(ANA, "hi").await;
    let messages = format!("/v23.0/{US_PHONE}/messages");
    for body in [text(ANA, "Olá 👋"), template(LENA, SPRING_SALE)] {
        call(send, Method::POST, messages.clone(), Some(body)).await;
    }
    // Quality below GREEN paces the template: the second send is held.
    wasim
        .control(
            &format!("/_wasim/templates/{SPRING_SALE}"),
            &json!({"quality": "YELLOW"}),
        )
        .await;
    for to in [ANA, PRIYA] {
        let body = template(to, SPRING_SALE);
        call(send, Method::POST, messages.clone(), Some(body)).await;
    }
    call(
        GRAPH_OPERATIONS[16],
        Method::POST,
        format!("/v23.0/{US_PHONE}/marketing_messages"),
        Some(template(SAM, SPRING_SALE)),
    )
    .await;
    call(
        GRAPH_OPERATIONS[2],
        Method::POST,
        format!("/v23.0/{DE_PHONE}/deregister"),
        None,
    )
    .await;
    call(
        GRAPH_OPERATIONS[1],
        Method::POST,
        format!("/v23.0/{DE_PHONE}/register"),
        Some(json!({"messaging_product": "whatsapp", "pin": "135790"})),
    )
    .await;
    call(
        GRAPH_OPERATIONS[3],
        Method::POST,
        format!("/v23.0/{US_PHONE}"),
        Some(json!({"pin": "246810"})),
    )
    .await;
    let templates = format!("/v23.0/{WABA}/message_templates");
    call(GRAPH_OPERATIONS[4], Method::GET, templates.clone(), None).await;
    call(
        GRAPH_OPERATIONS[5],
        Method::POST,
        templates.clone(),
        Some(json!({
            "name": "winter_sale", "language": "en_US", "category": "MARKETING",
            "components": [{"type": "BODY", "text": "Winter sale: {{1}} off", "example": {"body_text": [["25%"]]}}],
        })),
    )
    .await;
    // Each of Meta's creation examples wasim simulates, then a list that answers
    // them as created.
    for (_, example) in template_creation_examples() {
        if example["components"].to_string().contains("\"FLOW\"")
            || example["components"].to_string().contains("\"MPM\"")
            || example["name"] == "authentication_code_autofill_button"
        {
            continue;
        }
        call(
            GRAPH_OPERATIONS[5],
            Method::POST,
            templates.clone(),
            Some(example),
        )
        .await;
    }
    call(GRAPH_OPERATIONS[4], Method::GET, templates.clone(), None).await;
    call(
        GRAPH_OPERATIONS[6],
        Method::DELETE,
        format!("{templates}?name=winter_sale"),
        None,
    )
    .await;
    call(
        GRAPH_OPERATIONS[7],
        Method::GET,
        format!("/v23.0/{SPRING_SALE_ID}"),
        None,
    )
    .await;
    call(
        GRAPH_OPERATIONS[7],
        Method::GET,
        format!("/v23.0/{SPRING_SALE_ID}?fields=quality_score"),
        None,
    )
    .await;
    for query in [
        "",
        "?fields=name_status,code_verification_status,status,throughput,platform_type",
    ] {
        call(
            GRAPH_OPERATIONS[8],
            Method::GET,
            format!("/v23.0/{US_PHONE}{query}"),
            None,
        )
        .await;
    }
    // `name` asked for too: the spec requires it, though Graph answers only the
    // fields asked for.
    for query in ["", "?fields=name,currency,account_review_status"] {
        call(
            GRAPH_OPERATIONS[9],
            Method::GET,
            format!("/v23.0/{WABA}{query}"),
            None,
        )
        .await;
    }
    call(
        GRAPH_OPERATIONS[10],
        Method::POST,
        format!("/v23.0/{US_PHONE}/whatsapp_business_profile"),
        Some(
            json!({"messaging_product": "whatsapp", "about": "Succulents!", "vertical": "RETAIL"}),
        ),
    )
    .await;
    let subscribed_apps = format!("/v23.0/{WABA}/subscribed_apps");
    call(
        GRAPH_OPERATIONS[12],
        Method::DELETE,
        subscribed_apps.clone(),
        None,
    )
    .await;
    call(GRAPH_OPERATIONS[11], Method::POST, subscribed_apps, None).await;
    call(
        GRAPH_OPERATIONS[14],
        Method::GET,
        format!("/v23.0/{media_id}?phone_number_id={US_PHONE}"),
        None,
    )
    .await;
    call(
        GRAPH_OPERATIONS[15],
        Method::DELETE,
        format!("/v23.0/{media_id}"),
        None,
    )
    .await;
    answers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_graph_success_answer_matches_its_operation_s_200_schema() {
    let spec = spec();
    let answers = graph_answers().await;
    let mut validated: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for ((path, method), sample) in &answers {
        let validator = spec.validator(&corrected_response_schema(spec, (path, method)), &[]);
        let what = if (*path, *method) == RETRIEVE_MEDIA_URL {
            format!("{} (spec corrected: {FILE_SIZE_IS_A_NUMBER})", sample.what)
        } else {
            sample.what.clone()
        };
        assert_valid(&validator, &what, &sample.body);
        *validated.entry((path, method)).or_default() += 1;
    }
    for operation in GRAPH_OPERATIONS {
        assert!(
            validated.contains_key(operation),
            "no answer of {operation:?} was validated: {validated:?}"
        );
    }
    let statuses: BTreeSet<&str> = answers
        .iter()
        .filter_map(|(_, s)| s.body["messages"][0]["message_status"].as_str())
        .collect();
    assert_eq!(
        statuses,
        BTreeSet::from(["accepted", "held_for_quality_assessment"]),
        "both message_status values a template send answers were validated"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_published_media_url_schema_refuses_wasim_s_answer_only_for_its_numeric_file_size() {
    let spec = spec();
    let answers = graph_answers().await;
    let (_, sample) = answers
        .iter()
        .find(|(operation, _)| *operation == RETRIEVE_MEDIA_URL)
        .expect("a media URL answer");
    assert!(sample.body["file_size"].is_u64(), "{}", sample.body);
    let (path, method) = RETRIEVE_MEDIA_URL;
    let published = spec.validator(&spec.response_schema(path, method, "200"), &[]);
    let found = violations(&published, &sample.body);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].contains("/file_size") && found[0].contains("\"string\""),
        "{}",
        found[0]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_graph_error_answer_matches_the_spec_s_graph_api_error() {
    let spec = spec();
    let schema = spec.response_schema("/{Version}/{Phone-Number-ID}/register", "post", "400");
    assert_eq!(schema["$ref"], "#/components/schemas/GraphAPIError");
    let validator = spec.validator(&schema, &[]);
    let wasim = Wasim::start().await;
    let mut codes = BTreeSet::new();
    for (what, status, answer) in wasim.graph_errors().await {
        assert_valid(&validator, &format!("{what} ({status})"), &answer);
        codes.insert(answer["error"]["code"].as_u64().expect("a numeric code"));
    }
    for expected in [190, 132_001, 100, 130_429, 131_056, 2500] {
        assert!(
            codes.contains(&expected),
            "no {expected} error was validated: {codes:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unpause_is_a_graph_path_the_v23_spec_lacks_so_its_answer_is_checked_as_a_success_response()
{
    let spec = spec();
    let paths = spec.doc["paths"].as_object().expect("paths");
    assert!(
        !paths.keys().any(|path| path.ends_with("/unpause")),
        "the spec now has an unpause path: validate wasim's answer against its schema"
    );
    let wasim = Wasim::start().await;
    wasim
        .control(
            &format!("/_wasim/templates/{SPRING_SALE}"),
            &json!({"pause": true}),
        )
        .await;
    let answer = wasim
        .graph_ok(
            Method::POST,
            &format!("/v23.0/{SPRING_SALE_ID}/unpause"),
            None,
        )
        .await;
    let validator = spec.validator(
        &json!({"$ref": "#/components/schemas/SuccessResponse"}),
        &[],
    );
    assert_valid(&validator, "POST /{TEMPLATE_ID}/unpause", &answer);
}

// ---------------------------------------------------------------------------
// Webhooks
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_status_webhook_matches_webhook_payload_as_published() {
    let spec = spec();
    let validator = spec.validator(&spec.webhook_schema(), &[]);
    let mut statuses = Vec::new();
    for profile in ["2024-05", "2025-07"] {
        statuses.extend(
            messages_webhooks(Some(profile))
                .await
                .into_iter()
                .filter(|s| s.what.starts_with("messages:status:"))
                .map(|s| Sample {
                    what: format!("{profile} {}", s.what),
                    body: s.body,
                }),
        );
    }
    statuses.extend(held_then_failed_webhooks().await);
    statuses.extend(
        trigger_webhooks(&WorldSpec::default())
            .into_iter()
            .filter(|s| s.what.contains("statuses.")),
    );
    for sample in &statuses {
        assert_valid(&validator, &sample.what, &sample.body);
    }
    let kinds: Vec<Sample> = statuses
        .iter()
        .map(|s| Sample {
            what: kind_of(&s.body),
            body: Value::Null,
        })
        .collect();
    assert_kinds(
        &kinds,
        &[
            "messages:status:sent",
            "messages:status:delivered",
            "messages:status:read",
            "messages:status:failed:131026",
            "messages:status:failed:131047",
            "messages:status:failed:131049",
            "messages:status:failed:131050",
            "messages:status:failed:132015",
            "messages:status:failed:132001",
        ],
    );
    let models: BTreeSet<&str> = statuses
        .iter()
        .filter_map(|s| {
            s.body["entry"][0]["changes"][0]["value"]["statuses"][0]["pricing"]["pricing_model"]
                .as_str()
        })
        .collect();
    assert_eq!(models, BTreeSet::from(["CBP", "PMP"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_inbound_message_webhook_matches_webhook_payload_with_the_two_inbound_corrections() {
    let spec = spec();
    let validator = spec.validator(&spec.webhook_schema(), INBOUND);
    let mut inbound: Vec<Sample> = messages_webhooks(None)
        .await
        .into_iter()
        .filter(|s| !s.what.starts_with("messages:status:"))
        .collect();
    inbound.extend(
        trigger_webhooks(&WorldSpec::default())
            .into_iter()
            .filter(|s| s.what.ends_with("messages.text")),
    );
    assert_samples_valid(&validator, INBOUND, &inbound);
    assert_kinds(
        &inbound,
        &[
            "messages:text",
            "messages:button",
            "messages:interactive:button_reply",
            "messages:interactive:list_reply",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_media_location_contacts_and_reaction_webhook_matches_with_the_sticker_and_location_corrections()
 {
    let spec = spec();
    let validator = spec.validator(&spec.webhook_schema(), INBOUND_MEDIA);
    let inbound = media_and_other_inbound_webhooks().await;
    assert_samples_valid(&validator, INBOUND_MEDIA, &inbound);
    assert_kinds(
        &inbound,
        &[
            "messages:image",
            "messages:document",
            "messages:audio",
            "messages:video",
            "messages:sticker",
            "messages:location",
            "messages:contacts",
            "messages:reaction",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sticker_and_location_corrections_are_each_needed_and_change_nothing_else() {
    let spec = spec();
    let inbound = media_and_other_inbound_webhooks().await;
    let without = |left_out: &Correction| -> Vec<&Correction> {
        INBOUND_MEDIA
            .iter()
            .copied()
            .filter(|c| !std::ptr::eq(*c, left_out))
            .collect()
    };
    let no_sticker = spec.validator(
        &spec.webhook_schema(),
        &without(&INBOUND_STICKER_IS_THE_SEND_REQUEST_S),
    );
    let no_location = spec.validator(
        &spec.webhook_schema(),
        &without(&LOCATION_COORDINATES_ARE_NUMBERS),
    );
    for sample in &inbound {
        let sticker = violations(&no_sticker, &sample.body);
        let location = violations(&no_location, &sample.body);
        match sample.what.as_str() {
            "messages:sticker" => {
                assert!(
                    sticker.join("\n").contains("/sticker"),
                    "the published sticker schema refuses an inbound sticker: {sticker:?}"
                );
                assert!(location.is_empty(), "{location:?}");
            }
            "messages:location" => {
                let text = location.join("\n");
                assert!(
                    text.contains("is not of type \"string\"")
                        && text.contains("/location/latitude"),
                    "the published location schema wants string coordinates: {text}"
                );
                assert!(sticker.is_empty(), "{sticker:?}");
            }
            _ => {
                assert!(sticker.is_empty(), "{}: {sticker:?}", sample.what);
                assert!(location.is_empty(), "{}: {location:?}", sample.what);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_published_spec_rejects_every_inbound_message_and_each_inbound_correction_is_needed() {
    let spec = spec();
    let inbound: Vec<Sample> = messages_webhooks(None)
        .await
        .into_iter()
        .filter(|s| !s.what.starts_with("messages:status:"))
        .collect();
    assert!(
        !inbound.is_empty(),
        "no inbound message webhook was collected"
    );
    let published = spec.validator(&spec.webhook_schema(), &[]);
    for sample in &inbound {
        let found = violations(&published, &sample.body);
        assert!(
            !found.is_empty(),
            "{}: the published spec accepts it now; drop the inbound corrections",
            sample.what
        );
        let text = found.join("\n");
        for missing in ["messaging_product", "recipient_type", "to"] {
            assert!(
                text.contains(&format!("\"{missing}\" is a required property")),
                "{}: expected the send request's `{missing}` to be required:\n{text}",
                sample.what
            );
        }
    }
    // Without the second correction, every closed member (text among them) is still
    // unsatisfiable: its own branch forbids `from`, `id` and `timestamp`.
    let base_only = spec.validator(
        &spec.webhook_schema(),
        &[&INBOUND_MESSAGES_BUILD_ON_THE_SEND_REQUEST_BASE],
    );
    let texts: Vec<&Sample> = inbound
        .iter()
        .filter(|s| s.what == "messages:text")
        .collect();
    assert!(!texts.is_empty(), "no text message webhook was collected");
    for sample in texts {
        let text = violations(&base_only, &sample.body).join("\n");
        assert!(
            text.contains("TextMessage/allOf/1/additionalProperties"),
            "{}: expected TextMessage's closed branch to refuse the base's properties:\n{text}",
            sample.what
        );
    }
    // Without the first, the base still requires the send request's fields.
    let closed_only = spec.validator(&spec.webhook_schema(), &[&MEMBERS_CLOSE_ONE_ALLOF_BRANCH]);
    for sample in &inbound {
        let text = violations(&closed_only, &sample.body).join("\n");
        assert!(
            text.contains("BaseMessageProperties/required"),
            "{}: expected BaseMessageProperties to require send-request fields:\n{text}",
            sample.what
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_reply_to_a_row_without_description_fails_only_the_spec_s_required_description() {
    let spec = spec();
    let wasim = Wasim::start().await;
    wasim.send(US_PHONE, &template(ANA, SPRING_SALE)).await;
    wasim
        .control(
            "/_wasim/inbound",
            &json!({"from": ANA, "list_reply": {"id": "row-1", "title": "Today"}}),
        )
        .await;
    let samples: Vec<Sample> = samples_of(&wasim)
        .into_iter()
        .filter(|s| s.what == "messages:interactive:list_reply")
        .collect();
    assert_eq!(samples.len(), 1, "one list reply webhook");
    let reply = &samples[0].body;
    assert!(
        reply["entry"][0]["changes"][0]["value"]["messages"][0]["interactive"]["list_reply"]
            .get("description")
            .is_none(),
        "wasim leaves description out when the row had none: {reply}"
    );
    // The interactive member the discriminator picks refuses it for one reason.
    let message = &reply["entry"][0]["changes"][0]["value"]["messages"][0];
    let member = spec.validator(
        &json!({"$ref": "#/components/schemas/InteractiveMessageReply"}),
        INBOUND,
    );
    let found = violations(&member, message);
    assert_eq!(
        found.len(),
        1,
        "expected one violation:\n{}",
        found.join("\n")
    );
    assert!(
        found[0].contains("\"description\" is a required property")
            && found[0].contains("`/interactive/list_reply`")
            && found[0].contains("InteractiveListReplyContent"),
        "expected InteractiveListReplyContent to require list_reply.description: {}",
        found[0]
    );
    let validator = spec.validator(&spec.webhook_schema(), INBOUND);
    assert!(
        !violations(&validator, reply).is_empty(),
        "the whole webhook fails for the same reason"
    );
    let mut with_description = reply.clone();
    with_description["entry"][0]["changes"][0]["value"]["messages"][0]["interactive"]["list_reply"]
        ["description"] = json!("");
    assert_valid(
        &validator,
        "the same list reply with a description",
        &with_description,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_level_webhooks_have_no_schema_in_the_v23_spec_so_only_their_envelope_is_checked() {
    let spec = spec();
    let mut samples = account_level_webhooks().await;
    samples.extend(
        trigger_webhooks(&WorldSpec::default())
            .into_iter()
            .filter(|s| s.what.contains("template.") || s.what.contains("account_update")),
    );
    let account_level: Vec<&Sample> = samples
        .iter()
        .filter(|s| !s.what.starts_with("messages"))
        .collect();
    let fields: BTreeSet<String> = account_level
        .iter()
        .map(|s| {
            s.body["entry"][0]["changes"][0]["field"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    let expected = [
        "message_template_status_update",
        "message_template_quality_update",
        "account_update",
        "phone_number_quality_update",
        "business_capability_update",
        "security",
    ];
    assert_eq!(
        fields,
        expected.iter().map(|f| (*f).to_owned()).collect(),
        "every account-level field wasim emits was collected"
    );
    let field_enum = &spec.component("Change")["properties"]["field"]["enum"];
    let published = spec.validator(&spec.webhook_schema(), &[]);
    let envelope = spec.validator(
        &spec.webhook_schema(),
        &[&ACCOUNT_LEVEL_FIELDS_HAVE_NO_SCHEMA],
    );
    for sample in &account_level {
        let field = sample.body["entry"][0]["changes"][0]["field"].clone();
        assert!(
            !field_enum
                .as_array()
                .expect("Change.field is an enum")
                .contains(&field),
            "the spec now lists `{field}`: validate {} against its schema",
            sample.what
        );
        assert!(
            !violations(&published, &sample.body).is_empty(),
            "{}: the published spec accepts it now",
            sample.what
        );
        assert_valid(
            &envelope,
            &format!(
                "{}{}",
                sample.what,
                corrected_by(&[&ACCOUNT_LEVEL_FIELDS_HAVE_NO_SCHEMA])
            ),
            &sample.body,
        );
        let entry = &sample.body["entry"][0];
        assert!(
            entry["time"].is_u64(),
            "{}: time on the entry (Meta's account-level webhook envelope)",
            sample.what
        );
        assert!(
            entry["changes"][0]["value"].get("metadata").is_none(),
            "{}: no metadata in the value (Meta's account-level webhook envelope)",
            sample.what
        );
    }
}

// ---------------------------------------------------------------------------
// Business-scoped user ids (2026-04): beyond v23.0
// ---------------------------------------------------------------------------

/// Removes the BSUID fields from a `messages` webhook, and the `contacts` array a
/// status webhook carries only with them; returns the paths removed, in order.
fn strip_bsuid_fields(body: &mut Value) -> Vec<String> {
    let mut removed = Vec::new();
    let Some(value) = body.pointer_mut("/entry/0/changes/0/value") else {
        return removed;
    };
    if let Some(contacts) = value.get_mut("contacts").and_then(Value::as_array_mut) {
        for contact in contacts {
            if let Some(contact) = contact.as_object_mut()
                && contact.shift_remove("user_id").is_some()
            {
                removed.push("value.contacts[].user_id".to_owned());
            }
        }
    }
    let has_statuses = value.get("statuses").is_some();
    if let Some(object) = value.as_object_mut()
        && has_statuses
        && object.shift_remove("contacts").is_some()
    {
        removed.push("value.contacts".to_owned());
    }
    for (list, field) in [
        ("messages", "from_user_id"),
        ("statuses", "recipient_user_id"),
    ] {
        if let Some(items) = value.get_mut(list).and_then(Value::as_array_mut) {
            for item in items {
                if let Some(item) = item.as_object_mut()
                    && item.shift_remove(field).is_some()
                {
                    removed.push(format!("{list}[].{field}"));
                }
            }
        }
    }
    removed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_under_2026_04_are_beyond_v23_and_the_bsuid_fields_are_the_only_difference() {
    let spec = spec();
    // The fields really are beyond v23.0: no schema on their path declares them.
    for (schema, field) in [
        ("ContactProfile", "user_id"),
        ("Statuses", "recipient_user_id"),
        ("StatusMessageValue", "contacts"),
        ("BaseMessageProperties", "from_user_id"),
        ("TextMessage", "from_user_id"),
    ] {
        let text = spec.component(schema).to_string();
        assert!(
            !text.contains(&format!("\"{field}\"")),
            "the spec's {schema} now declares {field}: validate it instead of stripping it"
        );
    }
    let older = messages_webhooks(Some("2025-07")).await;
    let newer = messages_webhooks(Some("2026-04")).await;
    assert_eq!(
        older.len(),
        newer.len(),
        "the same script gives as many webhooks"
    );
    assert!(!newer.is_empty(), "no webhook was collected");
    let published = spec.validator(&spec.webhook_schema(), &[]);
    let inbound = spec.validator(&spec.webhook_schema(), INBOUND);
    let mut stripped_fields: BTreeMap<String, usize> = BTreeMap::new();
    for (old, new) in older.iter().zip(&newer) {
        let mut body = new.body.clone();
        let removed = strip_bsuid_fields(&mut body);
        let is_status = new.what.starts_with("messages:status:");
        let undeliverable = new.what == "messages:status:failed:131026";
        let expected: &[&str] = match (is_status, undeliverable) {
            (true, true) => &[],
            (true, false) => &[
                "value.contacts[].user_id",
                "value.contacts",
                "statuses[].recipient_user_id",
            ],
            (false, _) => &["value.contacts[].user_id", "messages[].from_user_id"],
        };
        assert_eq!(removed, expected, "{}: {}", new.what, new.body);
        for path in removed {
            *stripped_fields.entry(path).or_default() += 1;
        }
        assert_eq!(
            body.to_string(),
            old.body.to_string(),
            "{}: besides the BSUID fields, 2026-04 sends what 2025-07 sends",
            new.what
        );
        if is_status {
            assert_valid(&published, &format!("2026-04 {} stripped", new.what), &body);
        } else {
            assert_valid(&inbound, &format!("2026-04 {} stripped", new.what), &body);
        }
    }
    for field in [
        "value.contacts",
        "value.contacts[].user_id",
        "statuses[].recipient_user_id",
        "messages[].from_user_id",
    ] {
        assert!(
            stripped_fields.get(field).is_some_and(|n| *n > 0),
            "no `{field}` was found to strip: {stripped_fields:?}"
        );
    }
    // The closed text member of the (corrected) spec refuses the unstripped field.
    let text_message = newer
        .iter()
        .find(|s| s.what == "messages:text")
        .expect("an inbound text under 2026-04");
    let found = violations(&inbound, &text_message.body).join("\n");
    assert!(
        found.contains("from_user_id"),
        "expected the spec's closed TextMessage to refuse from_user_id:\n{found}"
    );
    // Every BSUID is well formed, the recipient's country first.
    for sample in &newer {
        let value = &sample.body["entry"][0]["changes"][0]["value"];
        for id in [
            &value["contacts"][0]["user_id"],
            &value["messages"][0]["from_user_id"],
            &value["statuses"][0]["recipient_user_id"],
        ] {
            if let Some(id) = id.as_str() {
                assert!(bsuid::is_well_formed(id), "{}: {id}", sample.what);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Send requests: Meta's own examples
// ---------------------------------------------------------------------------

/// The examples of `POST /{phone-number-id}/messages` in the spec, by name.
fn send_examples() -> Vec<(String, Value)> {
    let examples = spec().doc["paths"]["/{Version}/{Phone-Number-ID}/messages"]["post"]["requestBody"]
        ["content"]["application/json"]["examples"]
        .as_object()
        .expect("the spec has send examples");
    examples
        .iter()
        .map(|(name, example)| (name.clone(), example["value"].clone()))
        .collect()
}

/// Fills an example's placeholders (`<IMAGE_OBJECT_ID>`, `{{Recipient-Phone-Number}}`,
/// `http(s)://image-url`) with values of their kind, each short and distinct.
fn fill_placeholders(value: &mut Value, key: &str, counter: &mut u32) {
    match value {
        Value::Object(object) => {
            for (key, inner) in object.iter_mut() {
                fill_placeholders(inner, key, counter);
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|item| fill_placeholders(item, key, counter)),
        Value::String(text) if key == "to" => *text = ANA.to_owned(),
        Value::String(text)
            if text.contains("http(s)://") || (key == "link" && text.starts_with('<')) =>
        {
            *text = "https://cdn.example.com/media".to_owned();
        }
        Value::String(text) if text.starts_with('<') || text.contains("{{") => {
            *counter += 1;
            *text = format!("x{counter}");
        }
        _ => {}
    }
}

/// The examples of `POST /{WABA-ID}/message_templates` in the spec, by name, each
/// with a placeholder name (`<TEMPLATE_NAME>`) replaced by a valid one.
fn template_creation_examples() -> Vec<(String, Value)> {
    let examples = spec().doc["paths"]["/{Version}/{WABA-ID}/message_templates"]["post"]
        ["requestBody"]["content"]["application/json"]["examples"]
        .as_object()
        .expect("the spec has template creation examples");
    examples
        .iter()
        .enumerate()
        .map(|(n, (name, example))| {
            let mut body = example["value"].clone();
            if body["name"].as_str().is_some_and(|n| n.starts_with('<')) {
                body["name"] = json!(format!("spec_example_{n}"));
            }
            (name.clone(), body)
        })
        .collect()
}

#[test]
fn every_template_creation_example_of_meta_s_spec_is_created_or_named_as_not_simulated() {
    use wasim_sim::model::{Command, Reply, SimTime, Surface, World};
    let mut created = BTreeSet::new();
    let mut unsimulated = BTreeSet::new();
    for (name, body) in template_creation_examples() {
        // A fresh world each: two of Meta's examples share a template name.
        let mut world = World::new(WorldSpec::default(), None, None).expect("the default world");
        let outcome = world.apply(
            SimTime::ZERO,
            Command::CreateTemplate {
                surface: Surface::Graph,
                credential: Some(support::TOKEN.into()),
                waba_id: Some(WABA.into()),
                body: Ok(body.clone()),
            },
        );
        match outcome.reply {
            Ok(Reply::TemplateCreated(_)) => {
                created.insert(name);
            }
            Err(refusal) if refusal.to_string().contains("not simulated") => {
                unsimulated.insert(name);
            }
            other => panic!("Meta's example \"{name}\" was refused: {other:?}\n{body}"),
        }
    }
    for name in [
        "Create authentication template w/ OTP copy code button",
        "Create authentication template w/ OTP one-tap autofill button",
        "Create template w/ document header, text body, a phone number button, and a URL button",
        "Create template w/ image header, text body, text footer, and 2 call-to-action buttons",
        "Create template w/ location header, text body, text footer, and a website buttons",
        "Create template w/ text header, text body, text footer, and 2 quick reply buttons",
    ] {
        assert!(
            created.contains(name),
            "{name} was not created; created: {created:?}"
        );
    }
    // What is not simulated is flows and multi-product messages, each said so.
    assert!(
        unsimulated
            .iter()
            .all(|name| name.contains("Flow") || name.contains("multi-product")),
        "{unsimulated:?}"
    );
    assert_eq!(unsimulated.len(), 4, "{unsimulated:?}");
}

#[test]
fn every_send_example_of_meta_s_spec_is_taken_or_named_as_not_simulated() {
    use wasim_sim::model::outgoing::{SendPath, parse_send_path};
    // Examples that are not valid sends as written, and why.
    let malformed: BTreeMap<&str, &str> = [
        // Their `type` is missing, so the platform reads them as text (the default).
        (
            "Send Reply to List Message",
            "no type: read as text, which has no text['body']",
        ),
        // Its quick-reply button parameters give `text` as a boolean (a quick-reply
        // button takes a `payload`, and a `text` parameter a string).
        (
            "Send Sample Issue Resolution Template",
            "a text parameter whose text is true",
        ),
    ]
    .into_iter()
    .collect();
    let mut taken = BTreeSet::new();
    let mut unsimulated = BTreeSet::new();
    let mut counter = 0;
    for (name, mut body) in send_examples() {
        fill_placeholders(&mut body, "", &mut counter);
        let error = match parse_send_path(Ok(body.clone())) {
            SendPath::Message(Ok(_)) | SendPath::Read(Ok(_)) => {
                taken.insert(name);
                continue;
            }
            SendPath::Message(Err(error)) | SendPath::Read(Err(error)) => error.to_string(),
        };
        if error.contains("not simulated") {
            unsimulated.insert(name);
        } else {
            assert!(
                malformed.contains_key(name.as_str()),
                "Meta's example \"{name}\" was refused: {error}\n{body}"
            );
        }
    }
    // Every simulated kind is among the examples taken.
    for name in [
        "Send Audio Message by ID",
        "Send Contact Message",
        "Send Document Message by URL",
        "Send Image Message by ID",
        "Send List Message",
        "Send Location Message",
        "Send Reply Button",
        "Send Reply to Video Message by URL",
        "Send Reply with Reaction Message",
        "Send Sticker Message by URL",
        "Send Text Message",
        "Send typing indicator and read receipt",
    ] {
        assert!(
            taken.contains(name),
            "{name} was not taken; taken: {taken:?}"
        );
    }
    // What is not simulated is commerce and flows, each said so.
    assert!(
        unsimulated
            .iter()
            .all(|name| ["Catalog", "Flow", "Product", "Order"]
                .iter()
                .any(|word| name.contains(word))),
        "{unsimulated:?}"
    );
    assert!(unsimulated.len() >= 6, "{unsimulated:?}");
}

#[test]
fn every_marketing_messages_example_of_meta_s_spec_is_taken_and_a_text_is_not() {
    use wasim_sim::model::marketing_messages::parse;
    let examples = spec().doc["paths"]["/{Version}/{Phone-Number-ID}/marketing_messages"]["post"]
        ["requestBody"]["content"]["application/json"]["examples"]
        .as_object()
        .expect("the spec has marketing message examples");
    assert_eq!(examples.len(), 3, "{examples:?}");
    for (name, example) in examples {
        let body = example["value"].clone();
        assert!(
            parse(Ok(body.clone())).is_ok(),
            "Meta's example \"{name}\" was refused: {body}"
        );
    }
    let refused = parse(Ok(text(ANA, "hi"))).expect_err("a text is not a marketing message");
    assert!(refused.to_string().starts_with("(100)"), "{refused}");
}

// ---------------------------------------------------------------------------
// Numbers, business profiles and subscriptions: three list answers the spec
// describes wrongly
// ---------------------------------------------------------------------------

/// The statuses Graph's phone number node has (Meta's reference of the node:
/// https://developers.facebook.com/docs/graph-api/reference/whats-app-business-account-to-number-current-status/).
const PHONE_NUMBER_STATUSES: &[&str] = &[
    "PENDING",
    "DELETED",
    "MIGRATED",
    "BANNED",
    "RESTRICTED",
    "RATE_LIMITED",
    "FLAGGED",
    "CONNECTED",
    "DISCONNECTED",
    "UNKNOWN",
    "UNVERIFIED",
];

/// `WhatsAppBusinessAccountPhoneNumber` (an item of `GET /{WABA-ID}/phone_numbers`)
/// requires `status`, which Graph answers only when `fields` asks for it (Meta's
/// example answer of the list has none:
/// https://developers.facebook.com/docs/whatsapp/business-management-api/manage-phone-numbers),
/// and its `status` enum (`LINKED`, `UNLINKED`, …) is not the node's (`CONNECTED`,
/// `DISCONNECTED`, `FLAGGED`, …). The correction drops `status` from `required` and
/// gives it the node's values.
const PHONE_NUMBER_ITEMS_REQUIRE_A_STATUS: Correction = Correction {
    why: "WhatsAppBusinessAccountPhoneNumber requires status, which Graph answers only when fields asks for it, and lists LINKED/UNLINKED where the phone number node has CONNECTED/DISCONNECTED/FLAGGED (https://developers.facebook.com/docs/graph-api/reference/whats-app-business-account-to-number-current-status/)",
    apply: |schemas| {
        let item = &mut schemas["WhatsAppBusinessAccountPhoneNumber"];
        if let Some(required) = item["required"].as_array_mut() {
            required.retain(|field| field != "status");
        }
        item["properties"]["status"] = json!({"type": "string", "enum": PHONE_NUMBER_STATUSES});
    },
};

/// `WhatsAppBusinessProfileResponse` wraps each `data` item in `business_profile`
/// with nothing required, so it accepts any object; Meta's business profile page
/// answers the profile's fields in the item itself
/// (https://developers.facebook.com/documentation/business-messaging/whatsapp/business-phone-numbers/business-profiles),
/// and documents descriptions of up to 512 characters and the verticals
/// `UNDEFINED` and `NOT_A_BIZ`, which `WhatsAppBusinessProfile` lacks
/// (https://developers.facebook.com/docs/whatsapp/cloud-api/reference/business-profiles).
/// The correction makes each item a `WhatsAppBusinessProfile` with those limits.
const PROFILE_ITEMS_ARE_WRAPPED: Correction = Correction {
    why: "WhatsAppBusinessProfileResponse wraps each item in business_profile (nothing required: any object passes); Meta answers the profile's fields in the item, descriptions up to 512 characters, verticals UNDEFINED and NOT_A_BIZ too (https://developers.facebook.com/docs/whatsapp/cloud-api/reference/business-profiles)",
    apply: |schemas| {
        schemas["WhatsAppBusinessProfileResponse"]["properties"]["data"]["items"] =
            json!({"$ref": "#/components/schemas/WhatsAppBusinessProfile"});
        schemas["WhatsAppBusinessProfileResponse"]["required"] = json!(["data"]);
        let profile = &mut schemas["WhatsAppBusinessProfile"];
        profile["properties"]["description"]["maxLength"] = json!(512);
        profile["additionalProperties"] = json!(false);
        if let Some(verticals) = schemas["WhatsAppBusinessVertical"]["enum"].as_array_mut() {
            verticals.extend([json!("UNDEFINED"), json!("NOT_A_BIZ")]);
        }
    },
};

/// `SubscribedApp` (an item of `GET /{WABA-ID}/subscribed_apps`) is `{id, name}`
/// with nothing required, so it accepts any object; Meta's answer, in the spec's
/// own examples and on the webhook overrides page, is `{whatsapp_business_api_data:
/// {id, link, name}, override_callback_uri?}`
/// (https://developers.facebook.com/docs/whatsapp/embedded-signup/webhooks/override).
const SUBSCRIBED_APPS_ARE_WRAPPED: Correction = Correction {
    why: "SubscribedApp is {id, name} with nothing required (any object passes); Meta answers {whatsapp_business_api_data: {id, link, name}, override_callback_uri?} (https://developers.facebook.com/docs/whatsapp/embedded-signup/webhooks/override)",
    apply: |schemas| {
        schemas["SubscribedApp"] = json!({
            "type": "object",
            "required": ["whatsapp_business_api_data"],
            "additionalProperties": false,
            "properties": {
                "whatsapp_business_api_data": {
                    "type": "object",
                    "required": ["id", "link", "name"],
                    "additionalProperties": false,
                    "properties": {
                        "id": {"type": "string"},
                        "link": {"type": "string"},
                        "name": {"type": "string"},
                    },
                },
                "override_callback_uri": {"type": "string", "maxLength": 200},
            },
        });
    },
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_phone_number_list_fails_the_published_spec_only_for_its_required_status() {
    let spec = spec();
    let schema = spec.response_schema("/{Version}/{WABA-ID}/phone_numbers", "get", "200");
    let published = spec.validator(&schema, &[]);
    let corrected = spec.validator(&schema, &[&PHONE_NUMBER_ITEMS_REQUIRE_A_STATUS]);
    let wasim = Wasim::start().await;
    let list = format!("/v23.0/{WABA}/phone_numbers");
    let (status, default) = wasim.graph(Method::GET, &list, None).await;
    assert_eq!(status, 200, "{default}");
    let found = violations(&published, &default);
    assert_eq!(
        found.len(),
        3,
        "one violation per number:\n{}",
        found.join("\n")
    );
    assert!(
        found
            .iter()
            .all(|v| v.contains("\"status\" is a required property")),
        "only the required status:\n{}",
        found.join("\n")
    );
    let why = corrected_by(&[&PHONE_NUMBER_ITEMS_REQUIRE_A_STATUS]);
    assert_valid(&corrected, &format!("GET {list}{why}"), &default);
    wasim
        .control(
            "/_wasim/account",
            &json!({"incident": "quality", "quality": "RED"}),
        )
        .await;
    let asked = format!(
        "{list}?fields=id,display_phone_number,status,quality_rating,code_verification_status,messaging_limit_tier&limit=2"
    );
    let (status, paged) = wasim.graph(Method::GET, &asked, None).await;
    assert_eq!(status, 200, "{paged}");
    assert_eq!(paged["data"][0]["status"], "FLAGGED");
    assert!(paged["paging"]["next"].is_string(), "{paged}");
    assert_valid(&corrected, &format!("GET {asked}{why}"), &paged);
    let text = violations(&published, &paged).join("\n");
    assert!(
        text.contains(
            "`/data/0/status` (schema /components/schemas/WhatsAppPhoneNumberStatus/enum)"
        ),
        "the published status enum lacks the node's FLAGGED:\n{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_business_profile_matches_the_spec_only_once_its_items_are_profiles() {
    let spec = spec();
    let schema = spec.response_schema(
        "/{Version}/{Phone-Number-ID}/whatsapp_business_profile",
        "get",
        "200",
    );
    let published = spec.validator(&schema, &[]);
    let corrected = spec.validator(&schema, &[&PROFILE_ITEMS_ARE_WRAPPED]);
    // The published item checks nothing: a profile of the wrong types passes.
    let wrong = json!({"data": [{"about": 5, "websites": "x", "messaging_product": "sms"}]});
    assert!(violations(&published, &wrong).is_empty());
    assert!(!violations(&corrected, &wrong).is_empty());
    let wasim = Wasim::start().await;
    let path = format!("/v23.0/{US_PHONE}/whatsapp_business_profile");
    let update = json!({
        "messaging_product": "whatsapp", "about": "Succulent specialists!",
        "address": "1 Hacker Way, Menlo Park, CA 94025", "description": "d".repeat(512),
        "email": "lucky@luckyshrub.test", "websites": ["https://luckyshrub.test/"],
        "vertical": "NOT_A_BIZ",
    });
    let (status, answer) = wasim.graph(Method::POST, &path, Some(&update)).await;
    assert_eq!(status, 200, "{answer}");
    let why = corrected_by(&[&PROFILE_ITEMS_ARE_WRAPPED]);
    for query in ["", "?fields=about,vertical"] {
        let (status, profile) = wasim
            .graph(Method::GET, &format!("{path}{query}"), None)
            .await;
        assert_eq!(status, 200, "{profile}");
        assert!(
            profile["data"][0].get("business_profile").is_none(),
            "{profile}"
        );
        let what = format!("GET {path}{query}{why}");
        if query.is_empty() {
            assert_valid(&corrected, &what, &profile);
        } else {
            // Without messaging_product (not asked for) the corrected item still
            // requires it: Graph answers only the fields asked for.
            let text = violations(&corrected, &profile).join("\n");
            assert!(
                text.contains("\"messaging_product\" is a required property"),
                "{text}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribed_apps_matches_the_spec_only_once_its_items_are_wrapped() {
    let spec = spec();
    let schema = spec.response_schema("/{Version}/{WABA-ID}/subscribed_apps", "get", "200");
    let published = spec.validator(&schema, &[]);
    let corrected = spec.validator(&schema, &[&SUBSCRIBED_APPS_ARE_WRAPPED]);
    let wrong = json!({"data": [{"whatsapp_business_api_data": 5}]});
    assert!(
        violations(&published, &wrong).is_empty(),
        "the published item accepts any object"
    );
    assert!(!violations(&corrected, &wrong).is_empty());
    let wasim = Wasim::start().await;
    let apps = format!("/v23.0/{WABA}/subscribed_apps");
    let why = corrected_by(&[&SUBSCRIBED_APPS_ARE_WRAPPED]);
    let (status, plain) = wasim.graph(Method::GET, &apps, None).await;
    assert_eq!(status, 200, "{plain}");
    assert_valid(&corrected, &format!("GET {apps}{why}"), &plain);
    let body = json!({"override_callback_uri": wasim.url("/override"), "verify_token": support::VERIFY_TOKEN});
    let (status, subscribed) = wasim.graph(Method::POST, &apps, Some(&body)).await;
    assert_eq!(status, 200, "{subscribed}");
    let post = spec.validator(
        &spec.response_schema("/{Version}/{WABA-ID}/subscribed_apps", "post", "200"),
        &[],
    );
    assert_valid(&post, "POST subscribed_apps with an override", &subscribed);
    let (status, overridden) = wasim.graph(Method::GET, &apps, None).await;
    assert_eq!(status, 200, "{overridden}");
    assert!(overridden["data"][0]["override_callback_uri"].is_string());
    assert_valid(
        &corrected,
        &format!("GET {apps} with an override{why}"),
        &overridden,
    );
}
