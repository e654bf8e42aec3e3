//! The send path: apply the send-time rules to a parsed send ([`Outgoing`]), plan
//! the message's fate; each rule cites its public source where it is applied.
//! Credentials were checked by [`World::authenticate`] before.

use super::bucket::Bucket;
use super::country::marketing_limit_exempt;
use super::error::{PlatformError, code};
use super::freeform::{self, MediaSource};
use super::id::Wamid;
use super::marketing::{self, Verdict};
use super::marketing_messages::SendEndpoint;
use super::outgoing::{Outgoing, OutgoingContent, SendRequestError, parameter_error};
use super::policy::{ErrorSurface, PricingModel};
use super::refusal::Refusal;
use super::spec::{Category, TemplateStatus};
use super::state::{Billing, Message, MessageContent, StatusKind, Timer};
use super::template_parameters::SentComponent;
use super::templates::Gate;
use super::time::SimTime;
use super::{
    Effect, Reply, Surface, TIMERS_PENDING_MAX, TRANSIENT_RECIPIENTS, World, pair_shape,
    throughput_shape,
};
use crate::trace::TraceEvent;

/// How many pair-rate buckets a world holds before it forgets the refilled ones.
const PAIR_BUCKETS_SWEEP_AT: usize = 100_000;

/// Who sends: the integration, whose sends the trace records as its own, or the
/// unknown origin of a compromise, which records what it did in one record of its
/// own ([`TraceEvent::UnknownOriginSend`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sender {
    /// The integration, through a surface.
    Integration(Surface),
    /// Someone holding a leaked key, through a surface.
    UnknownOrigin(Surface),
}

impl Sender {
    fn surface(self) -> Surface {
        match self {
            Sender::Integration(surface) | Sender::UnknownOrigin(surface) => surface,
        }
    }

    /// Whether the platform's records of the send are the integration's.
    fn traced(self) -> bool {
        matches!(self, Sender::Integration(_))
    }
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

/// Sends `request`, posted to `endpoint`, from phone number `phone_index`
/// (already authenticated).
pub(super) fn send(
    world: &mut World,
    now: SimTime,
    phone_index: usize,
    sender: Sender,
    (endpoint, request): (SendEndpoint, Result<Outgoing, SendRequestError>),
    effects: &mut Vec<Effect>,
) -> Result<Reply, Refusal> {
    let surface = sender.surface();
    let traced_surface = endpoint.trace_surface(surface);
    let phone_id = world.phone_numbers[phone_index].spec.id.clone();
    let reject_with = |error: PlatformError,
                       to: Option<String>,
                       template: Option<String>,
                       effects: &mut Vec<Effect>| {
        if sender.traced() {
            effects.push(Effect::Trace {
                at: now,
                event: TraceEvent::MessageRejected {
                    surface: traced_surface,
                    phone_number_id: Some(phone_id.clone()),
                    to,
                    template,
                    code: error.code,
                    title: error.title.clone(),
                },
            });
        }
        Err(Refusal::Platform(error))
    };
    let outgoing = match request {
        Ok(outgoing) => outgoing,
        Err(SendRequestError::Unreadable(error)) => return Err(Refusal::Request(error)),
        Err(SendRequestError::Invalid { error, to }) => {
            let error = parameter_error(error, world.policy.parameter_errors);
            return reject_with(error, to, None, effects);
        }
    };
    // A number cannot message itself: 131021, at once
    // (https://developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes).
    if outgoing.wa_id == world.phone_numbers[phone_index].spec.display_phone_number {
        let error = PlatformError::new(
            code::RECIPIENT_IS_SENDER,
            "Sender and recipient phone number is the same.",
        );
        return reject_with(error, Some(outgoing.input.clone()), None, effects);
    }
    if let Some(error) = transient_refusal(world, outgoing.wa_id.as_str()) {
        return reject_with(error, Some(outgoing.input.clone()), None, effects);
    }
    let template_index = match &outgoing.content {
        OutgoingContent::Template {
            name,
            language,
            components,
        } => match resolve_template(world, name, language, components) {
            Ok(index) => Some(index),
            Err(error) => {
                let to = Some(outgoing.input.clone());
                return reject_with(error, to, None, effects);
            }
        },
        _ => None,
    };
    let message_type = outgoing.content.message_type();
    // Media named by id must be media the platform holds (uploaded, or sent by a
    // user, and not deleted or expired); the refusal's code is unconfirmed.
    let mut media_unusable = false;
    if let Some((kind, MediaSource::Id(id))) = outgoing.content.media() {
        match world.media(id) {
            None => {
                let error = freeform::invalid(format!(
                    "Param {}['id'] is not a valid media id: {id} was never uploaded, was deleted or has expired.",
                    kind.name()
                ));
                return reject_with(error, Some(outgoing.input.clone()), None, effects);
            }
            // Media of another kind cannot be sent as this one: it fails as media
            // the platform cannot use.
            Some(media) => media_unusable = !kind.accepts(&media.mime_type),
        }
    }
    let template_name = template_index.map(|index| world.templates[index].name.clone());
    let reject = |error: PlatformError, to: Option<String>, effects: &mut Vec<Effect>| {
        reject_with(error, to, template_name.clone(), effects)
    };
    // Only a refusal names the recipient apart from the message.
    let to = || Some(outgoing.wa_id.as_str().to_owned());
    // Each endpoint takes its own categories (`marketing_messages` module).
    if let Some(index) = template_index
        && let Some(error) = endpoint.template_refusal(
            surface,
            world.templates[index].category,
            &world.templates[index].name,
            world.spec.waba.marketing_on_cloud_api,
        )
    {
        return reject(error, to(), effects);
    }
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
    if !world.room_for_a_message() {
        return reject(
            PlatformError::new(
                131_000,
                format!(
                    "The simulator holds {} messages still in play (held by template pacing or waiting for a status), its limit (limits.messages_max); advance the clock and retry.",
                    world.messages.len()
                ),
            ),
            to(),
            effects,
        );
    }
    // The account's standing: disabled, restricted
    // (https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/account_update),
    // or templates blocked by 360dialog for a flagged WABA (360dialog partner
    // newsletter, 2024-05-09).
    let window_open = world
        .recipients
        .get(outgoing.wa_id.as_str())
        .is_some_and(|r| r.service_window_open(now, world.policy.customer_service_window_hours));
    match world.account_refusal(surface, template_index.is_some(), window_open) {
        None => {}
        Some(Refusal::Platform(error)) => return reject(error, to(), effects),
        Some(Refusal::Blocked {
            http_status,
            message,
        }) => {
            if sender.traced() {
                effects.push(Effect::Trace {
                    at: now,
                    event: TraceEvent::SendBlocked {
                        surface: traced_surface,
                        phone_number_id: phone_id.clone(),
                        to: to(),
                        message_type,
                        http_status,
                        reason: "360dialog disabled template messaging for the WABA".to_owned(),
                    },
                });
            }
            return Err(Refusal::Blocked {
                http_status,
                message,
            });
        }
        Some(other) => return Err(other),
    }
    // A paused or disabled template is refused at once
    // (https://developers.facebook.com/docs/whatsapp/template-pausing).
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
    // A number that is not registered cannot send (133010:
    // https://developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes).
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
    // Synchronous rate limits (https://developers.facebook.com/docs/whatsapp/cloud-api/overview#throughput,
    // https://developers.facebook.com/docs/whatsapp/overview#rate-limits): magic numbers first, then the buckets.
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
    // A refilled bucket is a new one: forget them all now and then, so sends to
    // ever new numbers do not grow the map without bound.
    if world.pair_buckets.len() >= PAIR_BUCKETS_SWEEP_AT {
        world
            .pair_buckets
            .retain(|_, bucket| !bucket.is_full(pair, now));
    }
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
    if template_index.is_none()
        && !in_service_window
        && world.policy.reengagement_surface == ErrorSurface::Sync
        && world.recipients.contains(outgoing.wa_id.as_str())
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
    let (content, category) = match template_index {
        None if message_type == "text" => (MessageContent::Text, None),
        None => (MessageContent::FreeForm(message_type), None),
        Some(index) => {
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
    let fate = match decide(
        world,
        now,
        phone_index,
        outgoing.wa_id.as_str(),
        category,
        in_service_window,
        (message_number, &message_id),
        effects,
    ) {
        Fate::Deliver { .. } if media_unusable => Fate::Fail(code::MEDIA_UPLOAD),
        Fate::Deliver { .. } if let Some(code) = content_failure(world, now, &outgoing) => {
            Fate::Fail(code)
        }
        // A reaction only ever reports `sent`
        // (https://developers.facebook.com/documentation/business-messaging/whatsapp/messages/reaction-messages).
        Fate::Deliver { .. } if matches!(outgoing.content, OutgoingContent::Reaction { .. }) => {
            Fate::Deliver {
                sent_only: true,
                read: ReadPlan::Never,
            }
        }
        fate => fate,
    };
    let billing = match fate {
        Fate::Deliver { sent_only, .. } => {
            let mut billing = bill(
                world,
                now,
                outgoing.wa_id.as_str(),
                category,
                in_service_window,
                !sent_only,
            );
            billing.category =
                endpoint.pricing_category(billing.category, world.policy.pricing_model);
            Some(billing)
        }
        Fate::Fail(_) => None,
    };
    if matches!(fate, Fate::Deliver { .. })
        && let Some(recipient) = world.recipients.activity_mut(outgoing.wa_id.as_str())
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
    world.forget_old_messages();
    world.messages.push(Message {
        id: message_id.clone(),
        phone_number_id: phone_id.clone(),
        to: outgoing.wa_id.as_str().to_owned(),
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
    if sender.traced() {
        effects.push(Effect::Trace {
            at: now,
            event: TraceEvent::MessageAccepted {
                message_id: message_id.clone(),
                surface: traced_surface,
                phone_number_id: phone_id,
                to: outgoing.wa_id.as_str().to_owned(),
                message_type,
                reply_to: outgoing.context.clone(),
                media: outgoing.content.media().map(|(_, source)| source.traced()),
                template: template_name,
                category: category.map_or("SERVICE", Category::name),
                message_status,
            },
        });
    }
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
    Ok(Reply::Sent {
        input: outgoing.input,
        wa_id: outgoing.wa_id,
        message_id: Wamid::from(message_id),
        message_status,
    })
}

/// The index of the approved (or paused) template a send names, if the send gives
/// it the parameters it takes: 132001 when there is none by that name and language
/// or it is not approved, else 132000, 132012 or 132018 from its components'
/// check (`template_parameters`)
/// (<https://developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes>).
fn resolve_template(
    world: &World,
    name: &str,
    language: &str,
    components: &[SentComponent],
) -> Result<usize, PlatformError> {
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
    found.components.check_send(components)?;
    Ok(index)
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
    if let Some(fate) = magic_fate(wa_id) {
        return fate;
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
    // Cloud API does not reach users in a country before it opens there (Turkey:
    // 360dialog partner newsletter, 2024-05-09).
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

/// Why a free-form message that every rule let through still fails, as its
/// `failed` status code: a reaction to a message that is not in the conversation,
/// is more than 30 days old or is itself a reaction answers 131009
/// (<https://developers.facebook.com/documentation/business-messaging/whatsapp/messages/reaction-messages>);
/// media the platform cannot fetch fails with 131053
/// (<https://developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes>):
/// in the simulator, a link to a host under `.invalid` (RFC 2606), which no
/// server answers.
fn content_failure(world: &World, now: SimTime, outgoing: &Outgoing) -> Option<u32> {
    match &outgoing.content {
        OutgoingContent::Reaction { message_id, .. } => {
            let to = outgoing.wa_id.as_str();
            let target = match world.message(message_id) {
                Some(sent) if sent.to == to => {
                    let reaction = sent.content == MessageContent::FreeForm("reaction");
                    Some((sent.accepted_at, reaction))
                }
                _ => world
                    .received
                    .get(message_id)
                    .filter(|received| received.from == to)
                    .map(|received| (received.at, received.message_type == "reaction")),
            };
            match target {
                Some((at, false)) if at.plus_hours(REACTION_TARGET_HOURS_MAX) >= now => None,
                _ => Some(code::PARAMETER_INVALID),
            }
        }
        content => match content.media() {
            Some((kind, MediaSource::Link(link)))
                if link_unreachable(link)
                    || link_mime(link).is_some_and(|mime| !kind.accepts(mime)) =>
            {
                Some(code::MEDIA_UPLOAD)
            }
            _ => None,
        },
    }
}

/// How old a message may be and still take a reaction (30 days).
const REACTION_TARGET_HOURS_MAX: u64 = 30 * 24;

/// The MIME type a link's file extension names, when it names one the
/// platform knows: a link to a `.webp` sent as an image fails as media the
/// platform cannot use (integrators meet 131053 this way, e.g.
/// <https://github.com/chatwoot/chatwoot/issues/12260>).
fn link_mime(link: &str) -> Option<&'static str> {
    let path = link.split(['?', '#']).next().unwrap_or_default();
    let file = path.rsplit('/').next().unwrap_or_default();
    let (_, extension) = file.rsplit_once('.')?;
    Some(match extension.to_ascii_lowercase().as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "webp" => "image/webp",
        "gif" => "image/gif",
        "mp4" => "video/mp4",
        "3gp" => "video/3gpp",
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xls" => "application/vnd.ms-excel",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "ppt" => "application/vnd.ms-powerpoint",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "aac" => "audio/aac",
        "amr" => "audio/amr",
        "mp3" => "audio/mpeg",
        "m4a" => "audio/mp4",
        "ogg" | "opus" => "audio/ogg",
        _ => return None,
    })
}

/// True for a link whose host is under `.invalid`: the platform cannot fetch it.
fn link_unreachable(link: &str) -> bool {
    let rest = link.split_once("://").map_or(link, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    let host = host.split(':').next().unwrap_or_default();
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "invalid" || host.ends_with(".invalid")
}

/// The fixed outcome of a magic recipient (`MAGIC_RECIPIENTS`), if `wa_id` is one.
fn magic_fate(wa_id: &str) -> Option<Fate> {
    let deliver = |sent_only, read| Fate::Deliver { sent_only, read };
    Some(match wa_id {
        "999000000" => deliver(false, ReadPlan::Later),
        "999000001" => deliver(false, ReadPlan::Never),
        "999000002" => deliver(false, ReadPlan::AtOnce),
        "999000003" => deliver(true, ReadPlan::Never),
        "999131026" => Fate::Fail(code::UNDELIVERABLE),
        "999131047" => Fate::Fail(code::REENGAGEMENT),
        "999131049" => Fate::Fail(code::ECOSYSTEM_ENGAGEMENT),
        "999131050" => Fate::Fail(code::MARKETING_OPT_OUT),
        _ => return None,
    })
}

/// The transient or rate error of a magic recipient ([`TRANSIENT_RECIPIENTS`]) on
/// every other send to it, the first included: the retry goes through. Codes and
/// titles from Meta's error codes page
/// (<https://developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes>);
/// the details are ours, the HTTP statuses Meta's older table's (unconfirmed).
fn transient_refusal(world: &mut World, wa_id: &str) -> Option<PlatformError> {
    let &(magic, _) = TRANSIENT_RECIPIENTS
        .iter()
        .find(|(magic, _)| *magic == wa_id)?;
    let (code, details) = match magic {
        "999131000" => (
            code::GENERIC,
            "Message failed to send because of an unknown error. Try again later.",
        ),
        "999131057" => (
            code::MAINTENANCE_MODE,
            "Business Account is in maintenance mode. Try again later.",
        ),
        "999133004" => (
            code::SERVER_UNAVAILABLE,
            "Server is temporarily unavailable. Try again later.",
        ),
        "999000004" => (
            code::APP_RATE_LIMIT,
            "The app reached its API call rate limit. Wait and try again.",
        ),
        "999080007" => (
            code::WABA_RATE_LIMIT,
            "The WhatsApp Business Account reached its API call rate limit. Wait and try again.",
        ),
        _ => return None,
    };
    let sends = world.transient_sends.entry(magic).or_default();
    *sends += 1;
    (*sends % 2 == 1).then(|| PlatformError::new(code, details))
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
