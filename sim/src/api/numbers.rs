//! Phone numbers, the WABA, business profiles and webhook subscriptions on the
//! Cloud API surface, with `Authorization: Bearer`:
//!
//! - `GET /{version}/{phone-number-id}` and `GET /{version}/{waba-id}` (routed by
//!   `object.rs`, rendered here);
//! - `GET /{version}/{waba-id}/phone_numbers`, paged with Graph's cursors
//!   (<https://developers.facebook.com/docs/graph-api/results>);
//! - `GET|POST /{version}/{phone-number-id}/whatsapp_business_profile`
//!   (<https://developers.facebook.com/docs/whatsapp/cloud-api/reference/business-profiles>);
//! - `GET|POST|DELETE /{version}/{waba-id}/subscribed_apps`; a POST with
//!   `override_callback_uri` first performs Meta's verification handshake with it
//!   (<https://developers.facebook.com/docs/whatsapp/embedded-signup/webhooks/override>).
//!
//! The model says which fields exist and refuses the others
//! (`crate::model::numbers`); this module writes the ones asked for, in the order
//! asked, `id` last when not asked for (as Graph adds it to a node).

use axum::Json;
use axum::http::header::HOST;
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::call::{Call, percent_decode};
use super::error::Graph;
use super::extract::{GraphObject, JsonBody, OptionalJsonBody, wrong_method};
use crate::model::numbers::{
    Fields, PHONE_NUMBER_DEFAULT, PROFILE_FIELDS, PageRequest, PhoneNumberPage, PhoneNumberView,
    ProfileUpdate, SubscribeRequest, SubscribedApp, WabaView,
};
use crate::model::spec::BusinessProfileSpec;
use crate::model::templates::quality_name;
use crate::model::{Command, PhoneNumberId, Refusal, Reply, Surface, WabaId};

/// The fields of `fields` that have a value, in order, then `id` if absent.
fn node_json(fields: &[&str], id: &str, value: impl Fn(&str) -> Option<Value>) -> Value {
    let mut object = Map::new();
    for field in fields {
        if let Some(value) = value(field) {
            object.insert((*field).to_owned(), value);
        }
    }
    if !object.contains_key("id") {
        object.insert("id".to_owned(), json!(id));
    }
    Value::Object(object)
}

/// A phone number with `fields`.
pub(crate) fn phone_number_json(number: &PhoneNumberView, fields: &[&str]) -> Value {
    node_json(fields, &number.id, |field| {
        Some(match field {
            "id" => json!(number.id),
            "display_phone_number" => json!(number.display_phone_number),
            "verified_name" => json!(number.verified_name),
            "quality_rating" => json!(quality_name(number.quality)),
            "code_verification_status" => json!(number.code_verification_status),
            "name_status" => json!(number.name_status),
            "platform_type" => json!(number.platform_type),
            "throughput" => json!({"level": number.throughput_level}),
            "status" => json!(number.status),
            "messaging_limit_tier" | "whatsapp_business_manager_messaging_limit" => {
                json!(number.messaging_limit_tier)
            }
            "account_mode" => json!("LIVE"),
            "is_official_business_account" => json!(false),
            "is_pin_enabled" => json!(number.pin_enabled),
            "webhook_configuration" => {
                let configuration = &number.webhook_configuration;
                let mut object = Map::new();
                if let Some(url) = &configuration.whatsapp_business_account {
                    object.insert("whatsapp_business_account".to_owned(), json!(url));
                }
                if let Some(url) = &configuration.application {
                    object.insert("application".to_owned(), json!(url));
                }
                if object.is_empty() {
                    return None;
                }
                Value::Object(object)
            }
            _ => return None,
        })
    })
}

/// The WABA with `fields`.
pub(crate) fn waba_json(waba: &WabaView, fields: &[&str]) -> Value {
    node_json(fields, &waba.id, |field| {
        Some(match field {
            "id" => json!(waba.id),
            "name" => json!(waba.name),
            "currency" => json!(waba.currency),
            "timezone_id" => json!(waba.timezone_id),
            "message_template_namespace" => json!(waba.message_template_namespace),
            "account_review_status" => json!(waba.account_review_status),
            "disable_marketing_messages_on_cloud_api" => {
                json!(waba.disable_marketing_messages_on_cloud_api)
            }
            "subscribed_apps" => {
                let data: Vec<Value> = waba
                    .subscribed_apps
                    .iter()
                    .map(subscribed_app_json)
                    .collect();
                json!({"data": data})
            }
            _ => return None,
        })
    })
}

/// A business profile with `fields` (unset ones left out).
fn profile_json(profile: &BusinessProfileSpec, fields: &[&str]) -> Value {
    let text =
        |value: &Option<String>| value.as_deref().filter(|v| !v.is_empty()).map(|v| json!(v));
    let mut object = Map::new();
    for field in fields {
        let value = match *field {
            "about" => text(&profile.about),
            "address" => text(&profile.address),
            "description" => text(&profile.description),
            "email" => text(&profile.email),
            "profile_picture_url" => text(&profile.profile_picture_url),
            // Graph answers a vertical always, `UNDEFINED` when none is set (pywa
            // 4.5.0 reads it without a default).
            "vertical" => text(&profile.vertical).or_else(|| Some(json!("UNDEFINED"))),
            "websites" => (!profile.websites.is_empty()).then(|| json!(profile.websites)),
            "messaging_product" => Some(json!("whatsapp")),
            _ => None,
        };
        if let Some(value) = value {
            object.insert((*field).to_owned(), value);
        }
    }
    Value::Object(object)
}

/// An app as `subscribed_apps` lists it.
fn subscribed_app_json(app: &SubscribedApp) -> Value {
    let mut value = json!({"whatsapp_business_api_data": {
        "id": app.id,
        "link": format!("https://www.facebook.com/games/?app_id={}", app.id),
        "name": app.name,
    }});
    if let Some(uri) = &app.override_callback_uri {
        value["override_callback_uri"] = json!(uri);
    }
    value
}

/// `{"success": true}`.
fn success(reply: Reply) -> Response {
    match reply {
        Reply::Done => Json(json!({"success": true})).into_response(),
        other => super::unexpected(&other),
    }
}

/// A method the path does not serve, refused after the token is checked.
fn unsupported(call: Call<Graph>, allowed: &'static str) -> Response {
    let command = Command::Unsupported {
        surface: Surface::Graph,
        credential: call.credential.clone(),
        refusal: Refusal::Request(wrong_method(call.method(), allowed)),
    };
    call.run(command, super::templates::json_answer)
}

/// `GET /{version}/{waba-id}/phone_numbers`.
pub(crate) async fn phone_numbers(
    call: Call<Graph>,
    GraphObject(id): GraphObject,
    headers: HeaderMap,
) -> Response {
    if *call.method() != Method::GET {
        return unsupported(call, "GET");
    }
    let request = call.request.clone();
    let fields = Fields::parse(request.query_value("fields").as_deref());
    let command = Command::ListPhoneNumbers {
        credential: call.credential.clone(),
        waba_id: WabaId::from(id),
        fields: fields.clone(),
        page: PageRequest {
            limit: request.query_value("limit"),
            after: request.query_value("after"),
            before: request.query_value("before"),
        },
    };
    let host = headers
        .get(HOST)
        .and_then(|host| host.to_str().ok())
        .map(str::to_owned);
    call.run(command, move |reply| match reply {
        Reply::PhoneNumbers(page) => {
            let shown = fields.or(PHONE_NUMBER_DEFAULT);
            let data: Vec<Value> = page
                .numbers
                .iter()
                .map(|number| phone_number_json(number, &shown))
                .collect();
            let mut body = json!({"data": data});
            if let Some(paging) = paging_json(&page, &request, host.as_deref()) {
                body["paging"] = paging;
            }
            Json(body).into_response()
        }
        other => super::unexpected(&other),
    })
}

/// Graph's `paging`: the page's cursors, and `next` / `previous` URLs (on this
/// server) when there are more numbers that way.
fn paging_json(
    page: &PhoneNumberPage,
    request: &super::call::RequestLine,
    host: Option<&str>,
) -> Option<Value> {
    let (before, after) = page.cursors.as_ref()?;
    let mut paging = json!({"cursors": {"before": before, "after": after}});
    let url = |key: &str, cursor: &str| {
        let mut query: Vec<String> = request
            .query
            .as_deref()
            .unwrap_or("")
            .split('&')
            .filter(|pair| !pair.is_empty())
            .filter(|pair| {
                let name = percent_decode(pair.split('=').next().unwrap_or(""));
                !["after", "before", "limit"].contains(&name.as_str())
            })
            .map(str::to_owned)
            .collect();
        query.push(format!("limit={}", page.limit));
        query.push(format!("{key}={}", escape(cursor)));
        let origin = host.map_or_else(String::new, |host| format!("http://{host}"));
        format!("{origin}{}?{}", request.path, query.join("&"))
    };
    if page.has_next {
        paging["next"] = json!(url("after", after));
    }
    if page.has_previous {
        paging["previous"] = json!(url("before", before));
    }
    Some(paging)
}

/// A cursor escaped for a query string.
fn escape(cursor: &str) -> String {
    cursor
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D")
}

/// `GET|POST /{version}/{phone-number-id}/whatsapp_business_profile`.
pub(crate) async fn business_profile(
    call: Call<Graph>,
    GraphObject(id): GraphObject,
    body: JsonBody,
) -> Response {
    let credential = call.credential.clone();
    let phone_number_id = PhoneNumberId::from(id);
    match call.method().clone() {
        Method::GET => {
            let fields = Fields::parse(call.request.query_value("fields").as_deref());
            let command = Command::GetBusinessProfile {
                credential,
                phone_number_id,
                fields: fields.clone(),
            };
            call.run(command, move |reply| match reply {
                Reply::BusinessProfile(profile) => {
                    let data = profile_json(&profile, &fields.or(PROFILE_FIELDS));
                    Json(json!({"data": [data]})).into_response()
                }
                other => super::unexpected(&other),
            })
        }
        Method::POST => {
            let update = body
                .0
                .map_err(Refusal::Request)
                .and_then(|body| ProfileUpdate::from_json(&body).map_err(Refusal::Platform));
            let command = Command::UpdateBusinessProfile {
                credential,
                phone_number_id,
                update,
            };
            call.run(command, success)
        }
        _ => unsupported(call, "GET or POST"),
    }
}

/// `GET|POST|DELETE /{version}/{waba-id}/subscribed_apps`.
pub(crate) async fn subscribed_apps(
    call: Call<Graph>,
    GraphObject(id): GraphObject,
    body: OptionalJsonBody,
) -> Response {
    let credential = call.credential.clone();
    let waba_id = WabaId::from(id);
    match call.method().clone() {
        Method::GET => {
            let command = Command::ListSubscribedApps {
                credential,
                waba_id,
            };
            call.run(command, |reply| match reply {
                Reply::SubscribedApps(apps) => {
                    let data: Vec<Value> = apps.iter().map(subscribed_app_json).collect();
                    Json(json!({"data": data})).into_response()
                }
                other => super::unexpected(&other),
            })
        }
        Method::POST => {
            let request = body.0.map_err(Refusal::Request).and_then(|body| {
                SubscribeRequest::from_json(body.as_ref()).map_err(Refusal::Platform)
            });
            let command = Command::SubscribeApp {
                credential,
                waba_id,
                request,
            };
            call.run_with_handshake(
                command,
                |verification, report| Command::SubscriptionVerified {
                    verification,
                    report,
                },
                success,
            )
            .await
        }
        Method::DELETE => {
            let command = Command::UnsubscribeApp {
                credential,
                waba_id,
            };
            call.run(command, success)
        }
        _ => unsupported(call, "GET, POST or DELETE"),
    }
}
