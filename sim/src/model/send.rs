//! The send path: authenticate, validate, apply the send-time rules, plan the
//! message's fate (reference §1, §2, §3, §7, §8.4).

use serde_json::Value;

use super::bucket::Bucket;
use super::country::marketing_limit_exempt;
use super::error::{PlatformError, code};
use super::marketing::{self, Verdict};
use super::policy::{ErrorSurface, PricingModel};
use super::spec::{Category, TemplateStatus};
use super::state::{Billing, Message, MessageContent, StatusKind, Timer};
use super::templates::Gate;
use super::time::SimTime;
use super::{Effect, Reply, Surface, TIMERS_PENDING_MAX, World, pair_shape, throughput_shape};
use crate::trace::TraceEvent;

/// Longest text body accepted (Meta: 4096 characters).
const TEXT_BODY_CHARS_MAX: usize = 4_096;

/// The message types Meta knows but wasim does not simulate yet.
const UNSIMULATED_TYPES: &[&str] = &[
    "audio",
    "contacts",
    "document",
    "image",
    "interactive",
    "location",
    "reaction",
    "sticker",
    "video",
];

/// A validated send request.
#[derive(Debug)]
struct Outgoing {
    input: String,
    wa_id: String,
    /// `recipients::encode(wa_id)`: the key of the user's rate and reach state.
    key: u64,
    content: Content,
    callback_data: Option<String>,
}

#[derive(Debug)]
enum Content {
    Text,
    Template { index: usize },
}

/// What will become of an accepted message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fate {
    Fail(u32),
    /// Sent; then delivered unless `sent_only`; read per `read`.
    Deliver {
        sent_only: bool,
        read: ReadPlan,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadPlan {
    Drawn,
    Never,
    AtOnce,
    Later,
}

pub(super) fn send(
    world: &mut World,
    now: SimTime,
    surface: Surface,
    credential: Option<&str>,
    path_phone: Option<&str>,
    body: &Value,
    effects: &mut Vec<Effect>,
) -> Reply {
    let phone_index = match authenticate(world, surface, credential, path_phone) {
        Ok(index) => index,
        Err(reply) => return reply,
    };
    let phone_id = world.phone_numbers[phone_index].spec.id.clone();
    let reject_with = |error: PlatformError,
                       to: Option<String>,
                       template: Option<String>,
                       effects: &mut Vec<Effect>| {
        effects.push(Effect::Trace {
            at: now,
            event: TraceEvent::MessageRejected {
                surface: surface.name(),
                phone_number_id: Some(phone_id.clone()),
                to,
                template,
                code: error.code,
                title: error.title.clone(),
            },
        });
        Reply::Rejected(error)
    };
    let outgoing = match parse(world, body) {
        Ok(outgoing) => outgoing,
        Err(error) => {
            return reject_with(
                error,
                body.get("to").and_then(Value::as_str).map(str::to_owned),
                None,
                effects,
            );
        }
    };
    let template_index = match outgoing.content {
        Content::Template { index } => Some(index),
        Content::Text => None,
    };
    let template_name = template_index.map(|index| world.templates[index].name.clone());
    let reject = |error: PlatformError, to: Option<String>, effects: &mut Vec<Effect>| {
        reject_with(error, to, template_name.clone(), effects)
    };
    // Only a refusal names the recipient apart from the message.
    let to = || Some(outgoing.wa_id.clone());
    if world.timers.len() >= TIMERS_PENDING_MAX {
        return reject(
            PlatformError::new(
                131_000,
                "The simulator's timer queue is full; advance the clock and retry.",
            ),
            to(),
            effects,
        );
    }
    // The account's standing: disabled, restricted, or templates blocked (§6.8, §10).
    let window_open = world
        .recipients
        .get(&outgoing.wa_id)
        .is_some_and(|r| r.service_window_open(now, world.policy.customer_service_window_hours));
    match world.account_refusal(surface, template_index.is_some(), window_open) {
        None => {}
        Some(Reply::Rejected(error)) => return reject(error, to(), effects),
        Some(Reply::Blocked {
            http_status,
            message,
        }) => {
            effects.push(Effect::Trace {
                at: now,
                event: TraceEvent::SendBlocked {
                    surface: surface.name(),
                    phone_number_id: phone_id.clone(),
                    to: to(),
                    message_type: if template_index.is_some() {
                        "template"
                    } else {
                        "text"
                    },
                    http_status,
                    reason: "360dialog disabled template messaging for the WABA".to_owned(),
                },
            });
            return Reply::Blocked {
                http_status,
                message,
            };
        }
        Some(other) => return other,
    }
    // A paused or disabled template is refused at once (reference §5.2).
    if let Some(refusal) = template_index.and_then(|index| world.template_refusal(index)) {
        let name = template_name.clone().unwrap_or_default();
        let details = if refusal == code::TEMPLATE_DISABLED {
            format!(
                "Template {name} has been disabled after repeated pauses; create a new template."
            )
        } else {
            format!(
                "Template {name} is paused because of low quality and cannot be sent until it is unpaused."
            )
        };
        return reject(PlatformError::new(refusal, details), to(), effects);
    }
    // A number that is not registered cannot send (reference §8.1).
    if !world.phone_numbers[phone_index].spec.registered {
        return reject(
            PlatformError::new(
                code::NOT_REGISTERED,
                format!(
                    "Phone number {phone_id} is not registered; POST /{phone_id}/register first."
                ),
            ),
            to(),
            effects,
        );
    }
    // Synchronous rate limits (reference §7): magic numbers first, then the buckets.
    if outgoing.wa_id == "999130429"
        || !world.phone_numbers[phone_index]
            .throughput
            .take(throughput_shape(&world.policy), now)
    {
        return reject(
            PlatformError::new(
                code::RATE_LIMIT_HIT,
                "Cloud API message throughput has been reached.",
            ),
            to(),
            effects,
        );
    }
    let pair = pair_shape(&world.policy);
    let bucket = world
        .pair_buckets
        .entry((phone_index, outgoing.key))
        .or_insert_with(|| Bucket::full(pair, now));
    if outgoing.wa_id == "999131056" || !bucket.take(pair, now) {
        return reject(
            PlatformError::new(
                code::PAIR_RATE_LIMIT,
                "Message failed to send because there were too many messages sent from this phone number to the same phone number in a short period of time.",
            ),
            to(),
            effects,
        );
    }
    // Nothing since the account check has touched the recipient's window.
    let in_service_window = window_open;
    // A free-form text outside the window, when the profile answers 131047 at once.
    if matches!(outgoing.content, Content::Text)
        && !in_service_window
        && world.policy.reengagement_surface == ErrorSurface::Sync
        && world.recipients.contains(&outgoing.wa_id)
    {
        return reject(
            PlatformError::new(
                code::REENGAGEMENT,
                "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
            ),
            to(),
            effects,
        );
    }

    // Pacing counts only sends that get through every other rule.
    let gate = match template_index {
        Some(index) => world.template_gate(index, now),
        None => Gate::Send,
    };
    let (message_number, message_id) = world.next_message();
    let (content, category) = match outgoing.content {
        Content::Text => (MessageContent::Text, None),
        Content::Template { index } => {
            let template = &world.templates[index];
            (
                MessageContent::Template {
                    name: template.name.clone(),
                    category: template.category,
                },
                Some(template.category),
            )
        }
    };
    let fate = decide(
        world,
        now,
        phone_index,
        &outgoing.wa_id,
        category,
        in_service_window,
        (message_number, &message_id),
        effects,
    );
    let billing = match fate {
        Fate::Deliver { sent_only, .. } => Some(bill(
            world,
            now,
            &outgoing.wa_id,
            category,
            in_service_window,
            !sent_only,
        )),
        Fate::Fail(_) => None,
    };
    if matches!(fate, Fate::Deliver { .. })
        && let Some(recipient) = world.recipients.activity_mut(&outgoing.wa_id)
    {
        recipient.last_business_message_marketing = category == Some(Category::Marketing);
    }
    let held = gate == Gate::Hold;
    let message_status = template_name.as_ref().map(|_| {
        if held {
            "held_for_quality_assessment"
        } else {
            "accepted"
        }
    });
    debug_assert!(
        world
            .messages
            .last()
            .is_none_or(|m| m.number < message_number)
    );
    world.messages.push(Message {
        id: message_id.clone(),
        phone_number_id: phone_id.clone(),
        to: outgoing.wa_id.clone(),
        content,
        accepted_at: now,
        statuses: Vec::new(),
        billing,
        callback_data: outgoing.callback_data,
        failure_code: None,
        pending_timers: 0,
        number: message_number,
        pricing_model: match world.policy.pricing_model {
            PricingModel::Cbp => "CBP",
            PricingModel::Pmp => "PMP",
        },
    });
    effects.push(Effect::Trace {
        at: now,
        event: TraceEvent::MessageAccepted {
            message_id: message_id.clone(),
            surface: surface.name(),
            phone_number_id: phone_id,
            to: outgoing.wa_id.clone(),
            message_type: if template_name.is_some() {
                "template"
            } else {
                "text"
            },
            template: template_name,
            category: category.map_or("SERVICE", Category::name),
            message_status,
        },
    });
    match template_index {
        Some(index) if held => world.hold(index, now, message_number, &message_id, fate, effects),
        Some(index) => {
            let delivered = matches!(fate, Fate::Deliver { .. });
            schedule_lifecycle(world, now, message_number, fate);
            if delivered {
                world.template_feedback(now, index, effects);
            }
        }
        None => schedule_lifecycle(world, now, message_number, fate),
    }
    Reply::Sent {
        input: outgoing.input,
        wa_id: outgoing.wa_id,
        message_id,
        message_status,
    }
}

pub(super) fn authenticate(
    world: &World,
    surface: Surface,
    credential: Option<&str>,
    path_phone: Option<&str>,
) -> Result<usize, Reply> {
    match surface {
        Surface::Graph => {
            world
                .check_access_token(credential)
                .map_err(Reply::Rejected)?;
            let id = path_phone.unwrap_or_default();
            world.phone_numbers.iter().position(|p| p.spec.id == id).ok_or_else(|| {
                Reply::Rejected(PlatformError::new(
                    code::INVALID_PARAMETER,
                    format!(
                        "Unsupported post request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation."
                    ),
                ))
            })
        }
        Surface::D360 => {
            let key = credential.ok_or(Reply::Unauthorized)?;
            world
                .phone_numbers
                .iter()
                .position(|p| p.spec.d360_api_key.expose() == key)
                .ok_or(Reply::Unauthorized)
        }
    }
}

fn missing(parameter: &str) -> PlatformError {
    PlatformError::new(
        code::PARAMETER_MISSING,
        format!("The parameter {parameter} is required."),
    )
}

fn invalid(details: String) -> PlatformError {
    PlatformError::new(code::PARAMETER_INVALID, details)
}

fn parse(world: &World, body: &Value) -> Result<Outgoing, PlatformError> {
    let Some(object) = body.as_object() else {
        return Err(PlatformError::new(
            code::INVALID_PARAMETER,
            "The request body must be a JSON object.",
        ));
    };
    match object.get("messaging_product") {
        None => {
            return Err(PlatformError::new(
                code::INVALID_PARAMETER,
                "The parameter messaging_product is required.",
            ));
        }
        Some(Value::String(product)) if product == "whatsapp" => {}
        Some(other) => {
            return Err(PlatformError::new(
                code::INVALID_PARAMETER,
                format!("Param messaging_product must be \"whatsapp\", got {other}."),
            ));
        }
    }
    if let Some(kind) = object.get("recipient_type")
        && kind != "individual"
    {
        return Err(invalid(format!(
            "recipient_type {kind} is not supported; use \"individual\"."
        )));
    }
    let input = match object.get("to") {
        None | Some(Value::Null) => return Err(missing("to")),
        Some(Value::String(to)) => to.clone(),
        Some(other) => {
            return Err(invalid(format!(
                "Param to must be a string of digits, got {other}."
            )));
        }
    };
    let wa_id: String = if input.bytes().all(|b| b.is_ascii_digit()) {
        input.clone()
    } else {
        input
            .chars()
            .filter(|c| !matches!(c, '+' | ' ' | '-' | '(' | ')'))
            .collect()
    };
    let key = super::recipients::encode(&wa_id).filter(|_| (7..=15).contains(&wa_id.len()));
    let Some(key) = key else {
        return Err(invalid(format!(
            "Param to must be a phone number of 7 to 15 digits with its country code, got \"{input}\"."
        )));
    };
    let callback_data = match object.get("biz_opaque_callback_data") {
        None | Some(Value::Null) => None,
        Some(Value::String(data)) if data.chars().count() <= 512 => Some(data.clone()),
        Some(_) => {
            return Err(invalid(
                "biz_opaque_callback_data must be a string of at most 512 characters.".to_owned(),
            ));
        }
    };
    let kind = match object.get("type") {
        None => "text",
        Some(Value::String(kind)) => kind.as_str(),
        Some(other) => {
            return Err(invalid(format!(
                "Param type must be a string, got {other}."
            )));
        }
    };
    let content = match kind {
        "text" => {
            let body = object.get("text").and_then(|t| t.get("body"));
            match body {
                None | Some(Value::Null) => return Err(missing("text['body']")),
                Some(Value::String(text)) if text.is_empty() => {
                    return Err(missing("text['body']"));
                }
                Some(Value::String(text)) if text.chars().count() > TEXT_BODY_CHARS_MAX => {
                    return Err(PlatformError::new(
                        code::INVALID_PARAMETER,
                        format!(
                            "Param text['body'] must be at most {TEXT_BODY_CHARS_MAX} characters long."
                        ),
                    ));
                }
                Some(Value::String(_)) => Content::Text,
                Some(other) => {
                    return Err(invalid(format!(
                        "Param text['body'] must be a string, got {other}."
                    )));
                }
            }
        }
        "template" => parse_template(world, object.get("template"))?,
        other if UNSIMULATED_TYPES.contains(&other) => {
            return Err(PlatformError::new(
                code::INVALID_PARAMETER,
                format!(
                    "Message type '{other}' is valid on the platform but not simulated by wasim; use text or template."
                ),
            ));
        }
        other => {
            return Err(PlatformError::new(
                code::INVALID_PARAMETER,
                format!(
                    "Param type must be one of {{audio, contacts, document, image, interactive, location, reaction, sticker, template, text, video}}, got '{other}'."
                ),
            ));
        }
    };
    Ok(Outgoing {
        input,
        wa_id,
        key,
        content,
        callback_data,
    })
}

fn parse_template(world: &World, template: Option<&Value>) -> Result<Content, PlatformError> {
    let Some(template) = template.and_then(Value::as_object) else {
        return Err(missing("template"));
    };
    let name = match template.get("name") {
        Some(Value::String(name)) if !name.is_empty() => name.as_str(),
        None | Some(Value::Null) => return Err(missing("template['name']")),
        Some(other) => {
            return Err(invalid(format!(
                "Param template['name'] must be a non-empty string, got {other}."
            )));
        }
    };
    let language = match template.get("language").map(|l| l.get("code")) {
        Some(Some(Value::String(code))) if !code.is_empty() => code.as_str(),
        None | Some(None) => return Err(missing("template['language']['code']")),
        Some(Some(other)) => {
            return Err(invalid(format!(
                "Param template['language']['code'] must be a language code such as \"en_US\", got {other}."
            )));
        }
    };
    let Some(index) = world.templates.iter().position(|t| {
        t.name == name && t.language == language && t.status != TemplateStatus::Deleted
    }) else {
        return Err(PlatformError::new(
            code::TEMPLATE_NOT_FOUND,
            format!("template name ({name}) does not exist in {language}"),
        ));
    };
    let found = &world.templates[index];
    // Paused and disabled templates are refused later, with 132015 / 132016.
    if matches!(
        found.status,
        TemplateStatus::Pending | TemplateStatus::Rejected
    ) {
        return Err(PlatformError::new(
            code::TEMPLATE_NOT_FOUND,
            format!(
                "template name ({name}) in {language} is not approved (status {:?})",
                found.status
            ),
        ));
    }
    let mut body_parameters = 0u32;
    let mut header_parameters = 0u32;
    match template.get("components") {
        None | Some(Value::Null) => {}
        Some(Value::Array(components)) => {
            for (position, component) in components.iter().enumerate() {
                let Some(kind) = component.get("type").and_then(Value::as_str) else {
                    return Err(missing(&format!(
                        "template['components'][{position}]['type']"
                    )));
                };
                let count = match component.get("parameters") {
                    None | Some(Value::Null) => 0,
                    Some(Value::Array(parameters)) => {
                        for (p, parameter) in parameters.iter().enumerate() {
                            if parameter.get("type").and_then(Value::as_str).is_none() {
                                return Err(missing(&format!(
                                    "template['components'][{position}]['parameters'][{p}]['type']"
                                )));
                            }
                        }
                        u32::try_from(parameters.len()).unwrap_or(u32::MAX)
                    }
                    Some(other) => {
                        return Err(invalid(format!(
                            "Param template['components'][{position}]['parameters'] must be an array, got {other}."
                        )));
                    }
                };
                // Meta documents lower case; clients send upper case too (pywa 4.5.0: "BODY").
                match kind.to_ascii_lowercase().as_str() {
                    "body" => body_parameters = body_parameters.saturating_add(count),
                    "header" => header_parameters = header_parameters.saturating_add(count),
                    "button" | "footer" => {}
                    other => {
                        return Err(invalid(format!(
                            "Param template['components'][{position}]['type'] must be header, body or button, got '{other}'."
                        )));
                    }
                }
            }
        }
        Some(other) => {
            return Err(invalid(format!(
                "Param template['components'] must be an array, got {other}."
            )));
        }
    }
    if body_parameters != found.body_parameters || header_parameters != found.header_parameters {
        return Err(PlatformError::new(
            code::TEMPLATE_PARAM_COUNT,
            format!(
                "body: number of localizable_params ({body_parameters}) does not match the expected number of params ({}); header: ({header_parameters}) vs ({})",
                found.body_parameters, found.header_parameters
            ),
        ));
    }
    Ok(Content::Template { index })
}

/// Decides the fate of an accepted message and records what the rules count.
#[expect(
    clippy::too_many_arguments,
    reason = "one decision over the whole send context"
)]
fn decide(
    world: &mut World,
    now: SimTime,
    phone_index: usize,
    wa_id: &str,
    category: Option<Category>,
    in_service_window: bool,
    (message_number, message_id): (u64, &str),
    effects: &mut Vec<Effect>,
) -> Fate {
    // Magic recipients (README): one fixed outcome each.
    match wa_id {
        "999000000" => {
            return Fate::Deliver {
                sent_only: false,
                read: ReadPlan::Later,
            };
        }
        "999000001" => {
            return Fate::Deliver {
                sent_only: false,
                read: ReadPlan::Never,
            };
        }
        "999000002" => {
            return Fate::Deliver {
                sent_only: false,
                read: ReadPlan::AtOnce,
            };
        }
        "999000003" => {
            return Fate::Deliver {
                sent_only: true,
                read: ReadPlan::Never,
            };
        }
        "999131026" => return Fate::Fail(code::UNDELIVERABLE),
        "999131047" => return Fate::Fail(code::REENGAGEMENT),
        "999131049" => return Fate::Fail(code::ECOSYSTEM_ENGAGEMENT),
        "999131050" => return Fate::Fail(code::MARKETING_OPT_OUT),
        _ => {}
    }
    let Some(recipient) = world.recipients.get(wa_id) else {
        return if world.policy.unknown_recipients_undeliverable {
            Fate::Fail(code::UNDELIVERABLE)
        } else {
            Fate::Deliver {
                sent_only: false,
                read: ReadPlan::Drawn,
            }
        };
    };
    // What the rules below ask of the country, read while the recipient is borrowed.
    let recipient_country = recipient.country();
    let (in_us, recipient_exempt) = (
        recipient_country == "US",
        marketing_limit_exempt(recipient_country),
    );
    // Cloud API does not reach users in a country before it opens there (§8.4).
    if !world.cloud_api_serves(recipient_country, now) {
        return Fate::Fail(code::UNDELIVERABLE);
    }
    let sent_only = recipient_country == "TR" && !recipient.terms_accepted();
    match category {
        None if !in_service_window => return Fate::Fail(code::REENGAGEMENT),
        Some(Category::Marketing) => {
            if recipient.opted_out() {
                return Fate::Fail(code::MARKETING_OPT_OUT);
            }
            if world.policy.us_marketing_pause && in_us {
                return Fate::Fail(code::ECOSYSTEM_ENGAGEMENT);
            }
            if recipient
                .activity()
                .blocked_until
                .is_some_and(|until| until > now)
            {
                marketing::record_cap_failure(world, wa_id, now);
                return Fate::Fail(code::ECOSYSTEM_ENGAGEMENT);
            }
        }
        _ => {}
    }
    // Messaging limit: unique users reached outside a service window per moving 24 h.
    // `parse` accepted only numbers that have a key.
    let key = super::recipients::encode(wa_id).unwrap_or_default();
    if !in_service_window && !reach_allowed(world, now, key) {
        return Fate::Fail(world.policy.messaging_limit_error_code);
    }
    if category == Some(Category::Marketing) && !sent_only {
        let exempt = recipient_exempt
            || marketing_limit_exempt(&world.phone_numbers[phone_index].spec.country);
        if !exempt {
            match marketing::judge(world, wa_id, now, message_number) {
                Verdict::Exempt => {}
                Verdict::Counted(window_count) => effects.push(Effect::Trace {
                    at: now,
                    event: TraceEvent::MarketingCounted {
                        message_id: message_id.to_owned(),
                        to: wa_id.to_owned(),
                        window_count,
                        cap: world.policy.marketing_cap,
                    },
                }),
                Verdict::Capped => {
                    if let Some(until) = marketing::record_cap_failure(world, wa_id, now) {
                        effects.push(Effect::Trace {
                            at: now,
                            event: TraceEvent::RecipientBlocked {
                                to: wa_id.to_owned(),
                                until_ms: until.as_ms(),
                            },
                        });
                    }
                    return Fate::Fail(code::ECOSYSTEM_ENGAGEMENT);
                }
            }
        }
    }
    if !in_service_window {
        world.business_initiated.insert(key, now);
        world.business_initiated_log.push_back((now, key));
    }
    Fate::Deliver {
        sent_only,
        read: ReadPlan::Drawn,
    }
}

/// True if reaching `wa_id` outside a service window stays within the messaging limit.
fn reach_allowed(world: &mut World, now: SimTime, key: u64) -> bool {
    while let Some((at, id)) = world.business_initiated_log.front() {
        if at.plus_hours(24) > now {
            break;
        }
        if world.business_initiated.get(id) == Some(at) {
            world.business_initiated.remove(id);
        }
        world.business_initiated_log.pop_front();
    }
    world.business_initiated.contains_key(&key)
        || world.business_initiated.len() < world.spec.waba.messaging_limit as usize
}

/// Prices an accepted message and opens or reuses its conversation.
fn bill(
    world: &mut World,
    now: SimTime,
    wa_id: &str,
    category: Option<Category>,
    in_service_window: bool,
    delivered: bool,
) -> Billing {
    let pricing_category = match category {
        None => "service",
        Some(Category::Marketing) => "marketing",
        Some(Category::Utility) => "utility",
        Some(Category::Authentication) => "authentication",
    };
    let pmp = world.policy.pricing_model == PricingModel::Pmp;
    let free = pmp && in_service_window && matches!(category, None | Some(Category::Utility));
    let hours = world.policy.conversation_hours;
    // A conversation id is drawn only when a conversation opens.
    let ids = &mut world.ids_rng;
    let mut fresh_id = || ids.digit_id(32);
    let (conversation_id, expires_at) = match world.recipients.activity_mut(wa_id) {
        Some(recipient) if !pmp => {
            let open = recipient
                .conversations
                .get(pricing_category)
                .filter(|(_, expires)| *expires > now)
                .cloned();
            open.unwrap_or_else(|| {
                let conversation = (fresh_id(), now.plus_hours(hours));
                if delivered {
                    recipient
                        .conversations
                        .insert(pricing_category, conversation.clone());
                }
                conversation
            })
        }
        Some(recipient) => {
            // PMP: conversations no longer price, but the marketing one still exempts (2024-05 logic off).
            let id = fresh_id();
            if delivered && category == Some(Category::Marketing) {
                recipient
                    .conversations
                    .insert(pricing_category, (id.clone(), now.plus_hours(hours)));
            }
            (id, now.plus_hours(hours))
        }
        None => (fresh_id(), now.plus_hours(hours)),
    };
    Billing {
        conversation_id,
        conversation_expires_at: expires_at,
        category: pricing_category,
        billable: delivered && !free,
        pricing_type: if free {
            "free_customer_service"
        } else {
            "regular"
        },
    }
}

/// Schedules the status timers of an accepted message.
/// Sends a message held by pacing: its statuses start at `at`.
pub(crate) fn release(world: &mut World, at: SimTime, message: u64, fate: Fate) {
    schedule_lifecycle(world, at, message, fate);
}

fn schedule_lifecycle(world: &mut World, now: SimTime, message: u64, fate: Fate) {
    // The policy's delays and ratios, copied out (not the whole policy: this
    // runs for every accepted message).
    let policy = &world.policy;
    let (sent_delay, delivered_delay, read_delay) = (
        policy.sent_delay_ms,
        policy.delivered_delay_ms,
        policy.read_delay_ms,
    );
    let (read_ratio, read_at_once_ratio) = (policy.read_ratio, policy.read_with_delivery_ratio);
    let rng = &mut world.lifecycle_rng;
    let sent_at = now.plus_ms(rng.between(sent_delay[0], sent_delay[1]));
    let status = |status: StatusKind, error_code: Option<u32>| Timer::Status {
        message,
        status,
        error_code,
    };
    match fate {
        Fate::Fail(code) => world.schedule(sent_at, status(StatusKind::Failed, Some(code))),
        Fate::Deliver { sent_only, read } => {
            let delivered_at = sent_at.plus_ms(rng.between(delivered_delay[0], delivered_delay[1]));
            let read = match read {
                ReadPlan::Drawn if rng.chance(read_ratio) => {
                    if rng.chance(read_at_once_ratio) {
                        ReadPlan::AtOnce
                    } else {
                        ReadPlan::Later
                    }
                }
                ReadPlan::Drawn => ReadPlan::Never,
                other => other,
            };
            let read_delay = rng.between(read_delay[0], read_delay[1]);
            world.schedule(sent_at, status(StatusKind::Sent, None));
            if sent_only {
                return;
            }
            match read {
                ReadPlan::AtOnce => world.schedule(delivered_at, status(StatusKind::Read, None)),
                ReadPlan::Later => {
                    world.schedule(delivered_at, status(StatusKind::Delivered, None));
                    world.schedule(
                        delivered_at.plus_ms(read_delay),
                        status(StatusKind::Read, None),
                    );
                }
                ReadPlan::Never | ReadPlan::Drawn => {
                    world.schedule(delivered_at, status(StatusKind::Delivered, None))
                }
            }
        }
    }
}
