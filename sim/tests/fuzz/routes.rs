//! The router's routes as the fuzzer knows them: each with its pattern (as the
//! router spells it), the surface whose error shape it answers in, and a
//! well-formed request for it (the corpus the mutations start from).
//!
//! A new route goes into [`ROUTES_BY_SHAPE`] with a request builder in `valid`; the test
//! `every_route_of_the_router_is_in_the_fuzzer_s_list` fails until it is.

use std::sync::LazyLock;

use rand::Rng as _;
use serde_json::{Value, json};

use super::generate::{Auth, Base, Facts, Learned, Rng, pick, version_prefix};

/// The error shape a surface answers in (`sim/src/api/error.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// Graph: `{"error": {message, type, code, fbtrace_id, ...}}`.
    Graph,
    /// 360dialog's messaging API (`/messages`): Graph's shape, except its own
    /// `meta` shape for a bad key (401) and a blocked WABA.
    D360Messages,
    /// 360dialog's `meta` shape: `{"meta": {success: false, http_code, developer_message}}`
    /// (configuration endpoints and the Partner API).
    Meta,
    /// The control API: `{"error": {"message", "valid_paths"?}}`.
    Control,
}

/// One route of the router.
#[derive(Debug)]
pub(crate) struct Route {
    /// The pattern as the router spells it (`/{version}/{id}/messages`).
    pub(crate) pattern: &'static str,
    /// The shape its errors take.
    pub(crate) shape: Shape,
}

/// Every route the router serves, most specific first (the order the classifier
/// tries them in: static segments win over parameters, as in axum's router).
pub(crate) static ROUTES: LazyLock<Vec<Route>> = LazyLock::new(|| {
    ROUTES_BY_SHAPE
        .iter()
        .flat_map(|(shape, patterns)| {
            patterns.iter().map(|&pattern| Route {
                pattern,
                shape: *shape,
            })
        })
        .collect()
});

/// [`ROUTES`] as the source lists them: runs of patterns sharing an error shape.
const ROUTES_BY_SHAPE: &[(Shape, &[&str])] = &[
    // Control API (`sim/src/api/control.rs`).
    (
        Shape::Control,
        &[
            "/_wasim/health",
            "/_wasim/world",
            "/_wasim/clock",
            "/_wasim/clock/advance",
            "/_wasim/inbound",
            "/_wasim/ecosystem/marketing",
            "/_wasim/trace",
            "/_wasim/reset",
            "/_wasim/webhooks",
            "/_wasim/webhooks/config",
            "/_wasim/webhooks/verify",
            "/_wasim/webhooks/faults",
            "/_wasim/webhooks/heal",
            "/_wasim/events",
            "/_wasim/templates/{name}",
            "/_wasim/account",
        ],
    ),
    // 360dialog messaging and configuration (`sim/src/api/d360.rs`).
    (Shape::D360Messages, &["/messages", "/media"]),
    (
        Shape::Meta,
        &[
            "/v1/configs/webhook",
            "/waba_webhook",
            "/v1/configs/templates",
            "/v1/configs/templates/{name}",
        ],
    ),
    // 360dialog Partner API (`sim/src/api/partner.rs`).
    (
        Shape::Meta,
        &[
            "/api/v2/token",
            "/api/v2/partners/{partner_id}/channels",
            "/api/v2/partners/{partner_id}/channels/{channel_id}/api_keys",
            "/api/v2/partners/{partner_id}/clients",
            "/api/v2/partners/{partner_id}/webhook_url",
            "/api/v2/partners/{partner_id}/users",
            "/api/v2/partners/{partner_id}/users/{user_id}",
            "/api/v2/partners/{partner_id}/waba_accounts/{waba_id}/compliance",
        ],
    ),
    // Cloud API (`sim/src/api/graph.rs`), with and without the version.
    // The download URL takes the bearer token or a 360dialog key.
    (Shape::D360Messages, &["/whatsapp_business/attachments/"]),
    (
        Shape::Graph,
        &[
            "/{version}/{id}/media",
            "/{id}/media",
            "/{version}/{id}/messages",
            "/{id}/messages",
            "/{version}/{id}/marketing_messages",
            "/{id}/marketing_messages",
            "/{version}/{id}/unpause",
            "/{id}/unpause",
            "/{version}/{id}/register",
            "/{id}/register",
            "/{version}/{id}/deregister",
            "/{id}/deregister",
            "/{version}/{id}/message_templates",
            "/{id}/message_templates",
            "/{version}/{id}/phone_numbers",
            "/{id}/phone_numbers",
            "/{version}/{id}/whatsapp_business_profile",
            "/{id}/whatsapp_business_profile",
            "/{version}/{id}/subscribed_apps",
            "/{id}/subscribed_apps",
            "/{version}/{id}",
        ],
    ),
    // Without a version, `/{id}` is 360dialog's media by id too (with a key).
    (Shape::D360Messages, &["/{id}"]),
];

/// With chance `chance`, sets `field` of `body` to a number drawn from `range`.
fn maybe_number(
    rng: &mut Rng,
    chance: f64,
    body: &mut Value,
    field: &str,
    range: std::ops::RangeInclusive<u32>,
) {
    if rng.random_bool(chance) {
        body[field] = json!(rng.random_range(range));
    }
}

/// Where a webhook may point: loopback ports nothing listens on, and URLs that do
/// not parse, so a delivery or handshake fails at once and never leaves the
/// machine (a host name would need DNS, another address a route). Mutations
/// replace or drop these strings, never edit inside them (see
/// `Mutator::position`); a test holds every URL the generator sends to loopback.
pub(crate) const HOOK_URLS: &[&str] = &[
    "http://127.0.0.1:1/hook",
    "http://127.0.0.1:9/hook?token=secret",
    "https://127.0.0.1:1/",
    "http://[::1]:1/hook",
    "http://user:pass@127.0.0.1:1/x",
    "http://[::1:1/broken",
    "https://",
];

/// A well-formed request for route `index` of [`ROUTES`] (or, for the few routes
/// serving several methods, one of them).
pub(crate) fn valid(index: usize, rng: &mut Rng, facts: &Facts, learned: &Learned) -> Base {
    let pattern = ROUTES[index].pattern;
    let phone = pick(rng, &facts.phone_ids).clone();
    // A Graph route with the version segment gets one, the one without none.
    let version = version_prefix(rng);
    let prefix = if pattern.starts_with("/{version}") {
        version.as_str()
    } else {
        ""
    };
    let base = |auth: Auth, method: &'static str, path: String, body: Option<Value>| Base {
        route: index,
        method,
        path,
        auth,
        body,
    };
    let graph = |method: &'static str, path: String, body: Option<Value>| {
        base(Auth::Graph, method, path, body)
    };
    let control = |method: &'static str, path: String, body: Option<Value>| {
        base(Auth::Control, method, path, body)
    };
    let d360 = |rng: &mut Rng, method: &'static str, path: String, body: Option<Value>| {
        let key = rng.random_range(0..facts.d360_keys.len());
        base(Auth::D360(key), method, path, body)
    };
    let partner = |rng: &mut Rng, method: &'static str, path: String, body: Option<Value>| {
        let auth = if rng.random_bool(0.5) {
            Auth::PartnerKey
        } else {
            Auth::PartnerBearer
        };
        base(auth, method, path, body)
    };
    let p = &facts.partner_id;
    match pattern {
        "/_wasim/health" => control("GET", "/_wasim/health".into(), None),
        "/_wasim/world" => control("GET", "/_wasim/world".into(), None),
        "/_wasim/clock" => control("GET", "/_wasim/clock".into(), None),
        "/_wasim/clock/advance" => {
            // Mostly short: every timer due in the span fires, webhook retries
            // included (each a real attempt at a closed port), so a week with a
            // backlog costs seconds; long spans come now and then.
            let seconds = match rng.random_range(0..100) {
                0..=79 => *pick(rng, &[0.0, 0.5, 1.0, 5.0, 30.0, 60.0, 300.0]),
                80..=94 => 3600.0,
                95..=98 => 86_400.0,
                _ => 604_800.0,
            };
            control(
                "POST",
                "/_wasim/clock/advance".into(),
                Some(json!({ "seconds": seconds })),
            )
        }
        "/_wasim/inbound" => control(
            "POST",
            "/_wasim/inbound".into(),
            Some(inbound(rng, facts, learned)),
        ),
        "/_wasim/ecosystem/marketing" => control(
            "POST",
            "/_wasim/ecosystem/marketing".into(),
            Some(json!({"to": recipient(rng, facts), "count": rng.random_range(0..=1001u32)})),
        ),
        "/_wasim/trace" => {
            let query = match rng.random_range(0..6) {
                0 => String::new(),
                1 => format!("?since={}", rng.random_range(0..5_000u32)),
                _ => format!(
                    "?since={}&limit={}",
                    rng.random_range(0..5_000u32),
                    rng.random_range(0..50u32)
                ),
            };
            control("GET", format!("/_wasim/trace{query}"), None)
        }
        "/_wasim/reset" => control("POST", "/_wasim/reset".into(), None),
        "/_wasim/webhooks" => control("GET", "/_wasim/webhooks".into(), None),
        "/_wasim/webhooks/config" => {
            let mut body = json!({});
            // URLs now and then only: once set, every change is attempted and retried.
            if rng.random_bool(0.2) {
                body["callback_url"] = hook_url(rng);
            }
            if rng.random_bool(0.15) {
                body["partner_url"] = hook_url(rng);
            }
            maybe_number(rng, 0.4, &mut body, "batch_max", 0..=1001);
            maybe_number(rng, 0.3, &mut body, "batch_window_ms", 0..=120_000);
            control("POST", "/_wasim/webhooks/config".into(), Some(body))
        }
        "/_wasim/webhooks/verify" => control("POST", "/_wasim/webhooks/verify".into(), None),
        "/_wasim/webhooks/faults" => {
            let mut body = json!({});
            for field in ["delay", "reorder", "burst", "duplicate", "forged"] {
                if rng.random_bool(0.3) {
                    let ratio = format!(
                        "{}/{}",
                        rng.random_range(0..4u32),
                        rng.random_range(1..6u32)
                    );
                    body[field] = json!(ratio);
                }
            }
            for field in ["delay_max_ms", "reorder_hold_ms", "burst_hold_ms"] {
                maybe_number(rng, 0.2, &mut body, field, 1..=120_000);
            }
            maybe_number(rng, 0.2, &mut body, "burst_size", 2..=50);
            maybe_number(rng, 0.2, &mut body, "heal_after_s", 0..=7200);
            control("POST", "/_wasim/webhooks/faults".into(), Some(body))
        }
        "/_wasim/webhooks/heal" => control("POST", "/_wasim/webhooks/heal".into(), None),
        "/_wasim/events" => {
            let event = pick(rng, wasim_sim::model::webhooks::samples::EVENTS).0;
            control(
                "POST",
                "/_wasim/events".into(),
                Some(json!({ "event": event })),
            )
        }
        "/_wasim/templates/{name}" => {
            let body = match rng.random_range(0..6) {
                0 => json!({"quality": pick(rng, &["GREEN", "YELLOW", "RED", "UNKNOWN"])}),
                5 => json!({"category": pick(rng, &["MARKETING", "UTILITY", "AUTHENTICATION"])}),
                1 => {
                    json!({"negative": format!("{}/{}", rng.random_range(0..3u32), rng.random_range(1..4u32))})
                }
                2 => json!({"decide": pick(rng, &["release", "pause"])}),
                3 => json!({"pause": true}),
                _ => json!({"unpause": true}),
            };
            let name = template_name(rng, facts);
            control("POST", format!("/_wasim/templates/{name}"), Some(body))
        }
        "/_wasim/account" => {
            if rng.random_bool(0.3) {
                control("GET", "/_wasim/account".into(), None)
            } else {
                control("POST", "/_wasim/account".into(), Some(incident(rng, facts)))
            }
        }
        "/messages" => {
            let body = send_body(rng, facts, learned);
            d360(rng, "POST", "/messages".into(), Some(body))
        }
        "/v1/configs/webhook" | "/waba_webhook" => {
            if rng.random_bool(0.4) {
                d360(rng, "GET", pattern.into(), None)
            } else {
                let mut body = json!({"url": hook_url(rng)});
                if rng.random_bool(0.6) {
                    body["headers"] = json!({"X-Token": "shared-secret", "X-Other": "v"});
                }
                d360(rng, "POST", pattern.into(), Some(body))
            }
        }
        "/v1/configs/templates" => {
            if rng.random_bool(0.4) {
                d360(rng, "GET", pattern.into(), None)
            } else {
                let body = template_create(rng);
                d360(rng, "POST", pattern.into(), Some(body))
            }
        }
        "/v1/configs/templates/{name}" => {
            let name = template_name(rng, facts);
            d360(rng, "DELETE", format!("/v1/configs/templates/{name}"), None)
        }
        "/api/v2/token" => Base {
            route: index,
            method: "POST",
            path: "/api/v2/token".into(),
            auth: Auth::None,
            body: Some(
                json!({"username": facts.partner_username, "password": facts.partner_password}),
            ),
        },
        "/api/v2/partners/{partner_id}/channels" | "/api/v2/partners/{partner_id}/clients" => {
            let what = if pattern.ends_with("channels") {
                "channels"
            } else {
                "clients"
            };
            let query = page_query(rng, facts);
            partner(
                rng,
                "GET",
                format!("/api/v2/partners/{p}/{what}{query}"),
                None,
            )
        }
        "/api/v2/partners/{partner_id}/channels/{channel_id}/api_keys" => {
            let channel = pick(rng, &facts.channel_ids).clone();
            let method = *pick(rng, &["POST", "GET", "DELETE"]);
            partner(
                rng,
                method,
                format!("/api/v2/partners/{p}/channels/{channel}/api_keys"),
                None,
            )
        }
        "/api/v2/partners/{partner_id}/webhook_url" => {
            if rng.random_bool(0.4) {
                partner(
                    rng,
                    "GET",
                    format!("/api/v2/partners/{p}/webhook_url"),
                    None,
                )
            } else {
                let body = json!({"webhook_url": hook_url(rng)});
                partner(
                    rng,
                    "POST",
                    format!("/api/v2/partners/{p}/webhook_url"),
                    Some(body),
                )
            }
        }
        "/api/v2/partners/{partner_id}/users" => {
            if rng.random_bool(0.4) {
                partner(rng, "GET", format!("/api/v2/partners/{p}/users"), None)
            } else {
                let email = format!("user{}@example.com", rng.random_range(0..20u32));
                let role = *pick(rng, &["admin", "member"]);
                partner(
                    rng,
                    "POST",
                    format!("/api/v2/partners/{p}/users"),
                    Some(json!({"email": email, "role": role})),
                )
            }
        }
        "/api/v2/partners/{partner_id}/users/{user_id}" => {
            let user = learned
                .user_ids
                .last()
                .cloned()
                .unwrap_or_else(|| format!("user-{}", rng.random_range(0..5u32)));
            partner(
                rng,
                "DELETE",
                format!("/api/v2/partners/{p}/users/{user}"),
                None,
            )
        }
        "/api/v2/partners/{partner_id}/waba_accounts/{waba_id}/compliance" => {
            let waba = &facts.waba_id;
            partner(
                rng,
                "GET",
                format!("/api/v2/partners/{p}/waba_accounts/{waba}/compliance"),
                None,
            )
        }
        "/{version}/{id}/messages" | "/{id}/messages" => graph(
            "POST",
            format!("{prefix}/{phone}/messages"),
            Some(send_body(rng, facts, learned)),
        ),
        // Every kind of send body: the endpoint's refusals of what is not a
        // marketing template are part of what it answers.
        "/{version}/{id}/marketing_messages" | "/{id}/marketing_messages" => graph(
            "POST",
            format!("{prefix}/{phone}/marketing_messages"),
            Some(send_body(rng, facts, learned)),
        ),
        "/{version}/{id}/media" | "/{id}/media" => {
            // JSON, not the multipart form an upload is: the fuzzer sends JSON
            // bodies only, so this corpus reaches the route's refusals.
            graph(
                "POST",
                format!("{prefix}/{phone}/media"),
                Some(json!({"messaging_product": "whatsapp", "type": "image/jpeg"})),
            )
        }
        "/media" => d360(
            rng,
            "POST",
            "/media".into(),
            Some(json!({"messaging_product": "whatsapp", "type": "image/jpeg"})),
        ),
        "/whatsapp_business/attachments/" => {
            let mid = format!("1{:015}", rng.random_range(0..1_000_000_000_000_000u64));
            let ext = 1_717_405_200 + rng.random_range(0..1_000u64);
            graph(
                "GET",
                format!("/whatsapp_business/attachments/?mid={mid}&ext={ext}&hash=00ff"),
                None,
            )
        }
        "/{version}/{id}/unpause" | "/{id}/unpause" => {
            let template = template_id(rng, facts, learned);
            graph("POST", format!("{prefix}/{template}/unpause"), None)
        }
        "/{version}/{id}/register" | "/{id}/register" => graph(
            "POST",
            format!("{prefix}/{phone}/register"),
            Some(json!({"messaging_product": "whatsapp", "pin": pin(rng)})),
        ),
        "/{version}/{id}/deregister" | "/{id}/deregister" => {
            graph("POST", format!("{prefix}/{phone}/deregister"), None)
        }
        "/{version}/{id}/message_templates" | "/{id}/message_templates" => {
            let waba = &facts.waba_id;
            match rng.random_range(0..3) {
                0 => {
                    let summary = *pick(
                        rng,
                        &[
                            "",
                            "?summary=total_count",
                            "?summary=total_count%2Cmessage_template_limit,are_translations_complete",
                            "?limit=5&fields=name,status",
                        ],
                    );
                    graph(
                        "GET",
                        format!("{prefix}/{waba}/message_templates{summary}"),
                        None,
                    )
                }
                1 => graph(
                    "POST",
                    format!("{prefix}/{waba}/message_templates"),
                    Some(template_create(rng)),
                ),
                _ => {
                    let name = template_name(rng, facts);
                    graph(
                        "DELETE",
                        format!("{prefix}/{waba}/message_templates?name={name}"),
                        None,
                    )
                }
            }
        }
        "/{version}/{id}/phone_numbers" | "/{id}/phone_numbers" => {
            let owner = if rng.random_bool(0.9) {
                facts.waba_id.clone()
            } else {
                phone.clone()
            };
            let query = match rng.random_range(0..6) {
                0 => String::new(),
                1 => "?fields=status,throughput,messaging_limit_tier".to_owned(),
                2 => format!("?limit={}", rng.random_range(0..5u32)),
                3 => {
                    let after =
                        wasim_sim::model::numbers::cursor(pick(rng, &facts.phone_ids).as_str());
                    format!("?limit=1&after={after}")
                }
                4 => {
                    let before =
                        wasim_sim::model::numbers::cursor(pick(rng, &facts.phone_ids).as_str());
                    format!("?before={before}&fields=id,quality_rating")
                }
                _ => "?fields=colour".to_owned(),
            };
            graph(
                "GET",
                format!("{prefix}/{owner}/phone_numbers{query}"),
                None,
            )
        }
        "/{version}/{id}/whatsapp_business_profile" | "/{id}/whatsapp_business_profile" => {
            let path = format!("{prefix}/{phone}/whatsapp_business_profile");
            if rng.random_bool(0.4) {
                let query = *pick(
                    rng,
                    &["", "?fields=about,websites", "?fields=vertical,colour"],
                );
                graph("GET", format!("{path}{query}"), None)
            } else {
                graph("POST", path, Some(profile_update(rng)))
            }
        }
        "/{version}/{id}/subscribed_apps" | "/{id}/subscribed_apps" => {
            let path = format!("{prefix}/{}/subscribed_apps", facts.waba_id);
            match rng.random_range(0..10) {
                0..=3 => graph("GET", path, None),
                4..=5 => graph("POST", path, None),
                // Overrides now and then only: each is a handshake (at a closed
                // loopback port) and, verified or not, an unsubscribe stops
                // every Meta webhook of the epoch.
                6..=8 => {
                    let mut body = json!({"override_callback_uri": hook_url(rng)});
                    if rng.random_bool(0.8) {
                        body["verify_token"] = json!(facts.verify_token);
                    }
                    graph("POST", path, Some(body))
                }
                _ => graph("DELETE", path, None),
            }
        }
        "/{version}/{id}" | "/{id}" => {
            if rng.random_bool(0.3) {
                let (id, fields) = if rng.random_bool(0.6) {
                    (
                        phone.clone(),
                        *pick(
                            rng,
                            &[
                                "",
                                "?fields=status,quality_rating,throughput",
                                "?fields=webhook_configuration,colour",
                            ],
                        ),
                    )
                } else {
                    (
                        facts.waba_id.clone(),
                        *pick(
                            rng,
                            &["", "?fields=name,currency,message_template_namespace"],
                        ),
                    )
                };
                return graph("GET", format!("{prefix}/{id}{fields}"), None);
            }
            if rng.random_bool(0.5) {
                let template = template_id(rng, facts, learned);
                let query = *pick(
                    rng,
                    &[
                        "",
                        "?fields=quality_score",
                        "?fields=name,quality_score,status",
                    ],
                );
                graph("GET", format!("{prefix}/{template}{query}"), None)
            } else {
                graph(
                    "POST",
                    format!("{prefix}/{phone}"),
                    Some(json!({"pin": pin(rng)})),
                )
            }
        }
        other => unreachable!("route {other} has no request in the fuzzer's corpus"),
    }
}

/// A business profile update: within Meta's limits or just past one.
fn profile_update(rng: &mut Rng) -> Value {
    let mut body = json!({"messaging_product": "whatsapp"});
    if rng.random_bool(0.6) {
        body["about"] = json!("a".repeat(*pick(rng, &[1usize, 139, 140])));
    }
    if rng.random_bool(0.4) {
        body["description"] = json!("d".repeat(*pick(rng, &[0usize, 512, 513])));
    }
    if rng.random_bool(0.4) {
        body["email"] = json!(pick(rng, &["shop@wasim.test", "", "not-an-email"]));
    }
    if rng.random_bool(0.4) {
        body["vertical"] = json!(pick(rng, &["RETAIL", "OTHER", "", "SHOES"]));
    }
    if rng.random_bool(0.3) {
        let count = rng.random_range(0..4usize);
        // Loopback only, as every URL the fuzzer sends (nothing fetches them).
        body["websites"] = json!(vec!["http://127.0.0.1:1/shop"; count]);
    }
    body
}

fn hook_url(rng: &mut Rng) -> Value {
    if rng.random_bool(0.1) {
        Value::Null
    } else {
        json!(pick(rng, HOOK_URLS))
    }
}

fn pin(rng: &mut Rng) -> String {
    format!("{:06}", rng.random_range(0..1_000_000u32))
}

/// A recipient: named, magic, formatted, generated-looking or unknown.
pub(crate) fn recipient(rng: &mut Rng, facts: &Facts) -> String {
    match rng.random_range(0..10) {
        0..=3 => pick(rng, &facts.named).clone(),
        4..=5 => pick(rng, wasim_sim::model::MAGIC_RECIPIENTS).0.to_owned(),
        6 => "+1 (415) 555-0123".to_owned(),
        7 => format!("55119{:08}", rng.random_range(0..100_000_000u32)),
        8 => pick(rng, &facts.sample_recipients).clone(),
        _ => {
            let len = rng.random_range(1..20);
            (0..len)
                .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
                .collect()
        }
    }
}

fn wamid(rng: &mut Rng, learned: &Learned) -> String {
    if !learned.wamids.is_empty() && rng.random_bool(0.8) {
        pick(rng, &learned.wamids).clone()
    } else {
        format!("wamid.HBgL{}", rng.random_range(0..1000u32))
    }
}

fn template_name(rng: &mut Rng, facts: &Facts) -> String {
    match rng.random_range(0..6) {
        0..=3 => pick(rng, &facts.template_names).clone(),
        _ => format!("fuzz_{}", rng.random_range(0..8u32)),
    }
}

fn template_id(rng: &mut Rng, facts: &Facts, learned: &Learned) -> String {
    match rng.random_range(0..6) {
        0..=3 => pick(rng, &facts.template_ids).clone(),
        4 if !learned.template_ids.is_empty() => pick(rng, &learned.template_ids).clone(),
        _ => format!("13000000000{:04}", rng.random_range(0..20u32)),
    }
}

fn page_query(rng: &mut Rng, facts: &Facts) -> String {
    let mut params = Vec::new();
    if rng.random_bool(0.5) {
        params.push(format!("limit={}", rng.random_range(1..=1000u32)));
    }
    if rng.random_bool(0.4) {
        params.push(format!("offset={}", rng.random_range(0..5u32)));
    }
    if rng.random_bool(0.4) {
        params.push(format!(
            "sort={}",
            pick(
                rng,
                &[
                    "id",
                    "-id",
                    "-setup_info.phone_number",
                    "created_at",
                    "-waba_account.id"
                ]
            )
        ));
    }
    if rng.random_bool(0.3) {
        let channel = pick(rng, &facts.channel_ids);
        params.push(format!("filters=%7B%22id%22%3A%22{channel}%22%7D"));
    }
    if params.is_empty() {
        String::new()
    } else {
        format!("?{}", params.join("&"))
    }
}

fn inbound(rng: &mut Rng, facts: &Facts, learned: &Learned) -> Value {
    let mut body = match rng.random_range(0..4) {
        0 | 1 => json!({"text": pick(rng, &["hi", "STOP", "¿Qué tal? 👋", "x"])}),
        2 => json!({"button_reply": {"id": "yes", "title": "Yes"}}),
        _ => {
            if rng.random_bool(0.5) {
                json!({"list_reply": {"id": "row1", "title": "Row", "description": "d"}})
            } else {
                json!({"button": {"payload": "STOP", "text": "Stop promotions"}})
            }
        }
    };
    body["from"] = json!(recipient(rng, facts));
    if rng.random_bool(0.3) {
        body["context"] = json!(wamid(rng, learned));
    }
    if rng.random_bool(0.3) {
        body["phone_number_id"] = json!(pick(rng, &facts.phone_ids));
    }
    body
}

fn incident(rng: &mut Rng, facts: &Facts) -> Value {
    use wasim_sim::model::account::{RESTRICTION_TYPES, TIERS};
    match rng.random_range(0..9) {
        0 => json!({"incident": "disable_templates"}),
        1 => json!({"incident": "enable_templates"}),
        2 => {
            json!({"incident": "violation", "violation_type": pick(rng, &["SCAM", "ADULT", "SPAM"])})
        }
        3 => {
            json!({"incident": "restrict", "restriction_type": pick(rng, RESTRICTION_TYPES), "hours": rng.random_range(1..=72u32)})
        }
        4 => json!({"incident": pick(rng, &["terminate", "reinstate"])}),
        5 => {
            let mut body = json!({"incident": "compromise", "every_s": rng.random_range(1..=600u32), "sends": rng.random_range(1..=20u32)});
            if rng.random_bool(0.5) {
                body["phone_number_id"] = json!(pick(rng, &facts.phone_ids));
            }
            body
        }
        6 => json!({"incident": "tier", "tier": pick(rng, TIERS).0}),
        7 => {
            json!({"incident": "invite_partner_user", "email": format!("user{}@example.com", rng.random_range(0..20u32))})
        }
        _ => {
            json!({"incident": "remove_partner_user", "email": format!("user{}@example.com", rng.random_range(0..20u32))})
        }
    }
}

/// A template creation body (the Cloud API's and 360dialog's take the same fields).
fn template_create(rng: &mut Rng) -> Value {
    let category = *pick(rng, &["MARKETING", "UTILITY", "AUTHENTICATION"]);
    let mut components = vec![json!({
        "type": "BODY",
        "text": "Hello {{1}}, your order {{2}} is ready",
        "example": {"body_text": [["Ana", "42"]]},
    })];
    if rng.random_bool(0.4) {
        components.insert(
            0,
            json!({"type": "HEADER", "format": "TEXT", "text": "Hi {{1}}", "example": {"header_text": ["Ana"]}}),
        );
    }
    if rng.random_bool(0.3) {
        components.push(json!({"type": "FOOTER", "text": "Reply STOP to opt out"}));
    }
    if rng.random_bool(0.3) {
        components
            .push(json!({"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "Stop"}]}));
    }
    json!({
        "name": format!("fuzz_{}", rng.random_range(0..8u32)),
        "language": pick(rng, &["en_US", "pt_BR", "de"]),
        "category": category,
        "allow_category_change": rng.random_bool(0.5),
        "components": components,
    })
}

/// A send body of the Cloud API (and 360dialog's `/messages`): every message type
/// Meta documents, simulated (text, template) or not.
pub(crate) fn send_body(rng: &mut Rng, facts: &Facts, learned: &Learned) -> Value {
    let to = recipient(rng, facts);
    let mut body = match rng.random_range(0..16) {
        0..=3 => {
            json!({"type": "text", "text": {"body": pick(rng, &["hello", "Olá 👋", "a"]), "preview_url": rng.random_bool(0.5)}})
        }
        4..=7 => {
            let (name, parameters) = match rng.random_range(0..3) {
                0 => ("spring_sale", 0),
                1 => ("order_update", 1),
                _ => ("login_code", 1),
            };
            let name = if rng.random_bool(0.1) {
                format!("fuzz_{}", rng.random_range(0..8u32))
            } else {
                name.to_owned()
            };
            let mut template = json!({"name": name, "language": {"code": pick(rng, &["en_US", "en_US", "pt_BR"]), "policy": "deterministic"}});
            if parameters > 0 || rng.random_bool(0.2) {
                let parameters: Vec<Value> = (0..rng.random_range(0..3))
                    .map(|n| json!({"type": "text", "text": format!("p{n}")}))
                    .collect();
                template["components"] = json!([{"type": "body", "parameters": parameters}]);
            }
            json!({"type": "template", "template": template})
        }
        8 => {
            json!({"type": "image", "image": {"link": "https://127.0.0.1:1/a.png", "caption": "c"}})
        }
        9 => json!({"type": "document", "document": {"id": "1234567890", "filename": "a.pdf"}}),
        10 => {
            json!({"type": "interactive", "interactive": {"type": "button", "body": {"text": "Pick one"},
            "action": {"buttons": [{"type": "reply", "reply": {"id": "a", "title": "A"}}, {"type": "reply", "reply": {"id": "b", "title": "B"}}]}}})
        }
        11 => {
            json!({"type": "interactive", "interactive": {"type": "list", "body": {"text": "Choose"},
            "action": {"button": "Options", "sections": [{"title": "S", "rows": [{"id": "r1", "title": "Row 1", "description": "d"}]}]}}})
        }
        12 => {
            json!({"type": "reaction", "reaction": {"message_id": wamid(rng, learned), "emoji": "👍"}})
        }
        13 => {
            json!({"type": "location", "location": {"latitude": -23.5, "longitude": -46.6, "name": "SP"}})
        }
        14 => {
            // Mark as read (Meta's `status: read`), with the typing indicator.
            let mut read = json!({"messaging_product": "whatsapp", "status": "read", "message_id": wamid(rng, learned)});
            if rng.random_bool(0.5) {
                read["typing_indicator"] = json!({"type": "text"});
            }
            return read;
        }
        _ => {
            json!({"type": "contacts", "contacts": [{"name": {"formatted_name": "Ana", "first_name": "Ana"}, "phones": [{"phone": "+5511987654321", "type": "CELL"}]}]})
        }
    };
    body["messaging_product"] = json!("whatsapp");
    body["to"] = json!(to);
    if rng.random_bool(0.3) {
        body["recipient_type"] = json!("individual");
    }
    if rng.random_bool(0.15) {
        body["context"] = json!({"message_id": wamid(rng, learned)});
    }
    if rng.random_bool(0.1) {
        body["biz_opaque_callback_data"] = json!("campaign-7");
    }
    body
}
