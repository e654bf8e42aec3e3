//! The model's vocabulary: what goes in ([`Command`], imperative), what comes out
//! ([`Reply`] or [`Refusal`], and [`Effect`]s for the shell to carry out).
//!
//! A command carries everything its request brought, including what could not be
//! read (a wrong method, a malformed body): the model decides which error wins, and
//! a credential error always does, as on the platform.

use std::borrow::Cow;

use serde_json::Value;

use super::Template;
use super::account::Incident;
use super::id::{MediaId, PartnerId, PhoneNumberId, TemplateId, WaId, WabaId, Wamid};
use super::inbound::InboundContent;
use super::marketing_messages::SendEndpoint;
use super::media::{MediaCredential, MediaInfo, MediaUpload, MediaUrlQuery};
use super::numbers::{
    Fields, HandshakeReport, PageRequest, PhoneNumberPage, PhoneNumberView, ProfileUpdate,
    SubscribeRequest, SubscribedApp, WabaView,
};
use super::outgoing::{Outgoing, ReadReceipt, SendPath, SendRequestError};
use super::partner::{PartnerCall, PartnerCredential};
use super::refusal::{Refusal, RequestError};
use super::registration::PhoneCall;
use super::secret::Secret;
use super::spec::BusinessProfileSpec;
use super::templates::TemplateControl;
use super::time::SimTime;
use super::webhooks::{CopyKind, D360Scope, D360Webhook, Destination, FaultProfile, Route};
use super::webhooks::{Verification, WebhookBody};
use crate::trace::TraceEvent;

/// Which API surface a command came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// Meta's Cloud API (Graph).
    Graph,
    /// 360dialog's messaging API.
    D360,
}

impl Surface {
    /// The name used in the trace.
    pub fn name(self) -> &'static str {
        match self {
            Surface::Graph => "graph",
            Surface::D360 => "d360",
        }
    }
}

/// An input to the model.
#[derive(Debug, Clone)]
pub enum Command {
    /// Send a message. `phone_number_id` comes from the Graph path; the 360dialog
    /// surface finds the number from its key.
    SendMessage {
        /// Which endpoint: `/messages`, or `/marketing_messages` (marketing
        /// templates only, [`super::marketing_messages`]).
        endpoint: SendEndpoint,
        /// Which surface.
        surface: Surface,
        /// The credential presented (bearer token or `D360-API-KEY`), if any.
        credential: Option<Secret>,
        /// The phone number id of the Graph path.
        phone_number_id: Option<PhoneNumberId>,
        /// The send, or why it could not be read.
        request: Result<Outgoing, SendRequestError>,
    },
    /// Mark a received message read (`{"status": "read"}` on the send path).
    MarkRead {
        /// Which surface.
        surface: Surface,
        /// The credential presented (bearer token or `D360-API-KEY`), if any.
        credential: Option<Secret>,
        /// The phone number id of the Graph path.
        phone_number_id: Option<PhoneNumberId>,
        /// The receipt, or why it is not one.
        request: Result<ReadReceipt, SendRequestError>,
    },
    /// A request the path does not serve (a wrong method): refused after its
    /// credential is checked, as every request is.
    Unsupported {
        /// Which surface.
        surface: Surface,
        /// The credential presented, if any.
        credential: Option<Secret>,
        /// Why it is refused when the credential is good.
        refusal: Refusal,
    },
    /// A user writes to the business.
    Inbound {
        /// The user's WhatsApp id.
        from: WaId,
        /// What the user sent.
        content: InboundContent,
        /// The business number written to (default: the first).
        phone_number_id: Option<PhoneNumberId>,
        /// The wamid of the business message replied to (`context.id`); for button
        /// and list replies it defaults to the latest message sent to the user.
        context: Option<Wamid>,
    },
    /// Other businesses' marketing reaches a user.
    EcosystemMarketing {
        /// The user's WhatsApp id.
        to: WaId,
        /// How many messages (1 to [`super::ECOSYSTEM_COUNT_MAX`]).
        count: u32,
    },
    /// A webhook delivery attempt finished (reported by the delivery engine).
    WebhookAttemptFinished(AttemptReport),
    /// A webhook could not be sent at all.
    WebhookSkipped {
        /// Delivery id.
        delivery_id: u64,
        /// Which copy was not posted.
        copy: CopyKind,
        /// Why.
        reason: String,
    },
    /// Start a verification handshake with the app callback; the reply says what
    /// to send.
    VerifyWebhook,
    /// A verification handshake finished (reported by the shell).
    WebhookVerified {
        /// Handshake id.
        verification_id: u64,
        /// The callback URL (redacted).
        url: String,
        /// The receiver's HTTP status, if it answered.
        http_status: Option<u16>,
        /// Whether it echoed the challenge.
        echoed: bool,
        /// Wall milliseconds the handshake took.
        latency_ms: u64,
        /// What went wrong, if anything.
        error: Option<String>,
    },
    /// Set where webhooks go and how they are batched (control API). `None` leaves a
    /// setting alone; `Some(None)` clears a URL.
    ConfigureWebhooks {
        /// The Meta app callback URL.
        callback_url: Option<Option<String>>,
        /// The 360dialog partner webhook URL.
        partner_url: Option<Option<String>>,
        /// Changes per post at most (1 to [`super::webhooks::BATCH_MAX`]) and how long
        /// a batch gathers, in milliseconds (1 to
        /// [`super::webhooks::faults::FAULT_HOLD_MS_MAX`]).
        batch: Option<(u32, u64)>,
    },
    /// Read a 360dialog client webhook (`GET /v1/configs/webhook`, `/waba_webhook`).
    GetD360Webhook {
        /// The `D360-API-KEY` presented.
        credential: Option<Secret>,
        /// Channel or WABA.
        scope: D360Scope,
    },
    /// Store a 360dialog client webhook (`POST /v1/configs/webhook`, `/waba_webhook`).
    SetD360Webhook {
        /// The `D360-API-KEY` presented.
        credential: Option<Secret>,
        /// Channel or WABA.
        scope: D360Scope,
        /// The webhook, or why the body was refused.
        webhook: Result<D360Webhook, Refusal>,
    },
    /// Set the webhook fault profile from now; `None` heals at once.
    SetWebhookFaults {
        /// The profile.
        profile: Option<FaultProfile>,
    },
    /// A control action on a template (quality, feedback, pacing decision, pause).
    TemplateControl {
        /// The template's name.
        name: String,
        /// What to do.
        control: TemplateControl,
    },
    /// List the WABA's templates (`GET /{waba-id}/message_templates`,
    /// `GET /v1/configs/templates`).
    ListTemplates {
        /// Which surface.
        surface: Surface,
        /// The bearer token or `D360-API-KEY` presented.
        credential: Option<Secret>,
        /// The WABA id of the Graph path.
        waba_id: Option<WabaId>,
    },
    /// Read one Graph object by id (`GET /{id}`): a template, a phone number, the
    /// WABA.
    GetObject {
        /// The bearer token presented.
        credential: Option<Secret>,
        /// The id of the path.
        id: String,
        /// The `fields` asked for.
        fields: Fields,
        /// `?phone_number_id=`: the number a media must belong to.
        phone_number_id: Option<PhoneNumberId>,
    },
    /// Delete one Graph object by id (`DELETE /{id}`).
    DeleteObject {
        /// The bearer token presented.
        credential: Option<Secret>,
        /// The id of the path.
        id: String,
        /// `?phone_number_id=`: the number a media must belong to.
        phone_number_id: Option<PhoneNumberId>,
    },
    /// Upload a media file (`POST /{phone-number-id}/media`, 360dialog's
    /// `POST /media`).
    UploadMedia {
        /// Which surface.
        surface: Surface,
        /// The bearer token or `D360-API-KEY` presented.
        credential: Option<Secret>,
        /// The phone number id of the Graph path.
        phone_number_id: Option<PhoneNumberId>,
        /// The form, or why it could not be read.
        upload: Result<MediaUpload, RequestError>,
    },
    /// Read (`GET`) or delete (`DELETE`) a media file by id on 360dialog's
    /// messaging API, with `D360-API-KEY`: only the key's number's media.
    D360Media {
        /// The `D360-API-KEY` presented.
        credential: Option<Secret>,
        /// The media id of the path.
        id: String,
        /// Delete it (else read it).
        delete: bool,
    },
    /// Download a media file through the URL `GET /{media-id}` answered.
    DownloadMedia {
        /// The bearer token or `D360-API-KEY` presented.
        credential: Option<MediaCredential>,
        /// The URL's query.
        query: MediaUrlQuery,
    },
    /// Create a template (`POST /{waba-id}/message_templates`,
    /// `POST /v1/configs/templates`); it goes through review.
    CreateTemplate {
        /// Which surface.
        surface: Surface,
        /// The bearer token or `D360-API-KEY` presented.
        credential: Option<Secret>,
        /// The WABA id of the Graph path.
        waba_id: Option<WabaId>,
        /// The JSON body, or why it could not be read.
        body: Result<Value, Refusal>,
    },
    /// Delete a template by name (every language).
    DeleteTemplate {
        /// Which surface.
        surface: Surface,
        /// The bearer token or `D360-API-KEY` presented.
        credential: Option<Secret>,
        /// The WABA id of the Graph path.
        waba_id: Option<WabaId>,
        /// The template's name.
        name: String,
    },
    /// Register, deregister or set the PIN of a phone number (Cloud API).
    PhoneCall {
        /// The bearer token presented.
        credential: Option<Secret>,
        /// The phone number id of the path.
        phone_number_id: PhoneNumberId,
        /// The call, or why its body was refused.
        call: Result<PhoneCall, Refusal>,
    },
    /// `POST /api/v2/token`: a Partner API bearer token.
    PartnerToken {
        /// The partner's user name.
        username: String,
        /// Its password.
        password: Secret,
    },
    /// An authenticated Partner API call.
    PartnerCall {
        /// The bearer token or partner API key presented.
        credential: Option<PartnerCredential>,
        /// The partner id of the path.
        partner_id: PartnerId,
        /// The call, or why it was refused before the credential was checked.
        call: Result<PartnerCall, Refusal>,
    },
    /// `POST /{template-id}/unpause` on the Cloud API.
    UnpauseTemplate {
        /// The bearer token presented.
        credential: Option<Secret>,
        /// The template id of the path.
        template_id: TemplateId,
    },
    /// Replace the Cloud API access token with a new one (a compromised token is
    /// reset): the old one is refused with 190 from now on.
    RotateAccessToken,
    /// Something happens to the account (a flag, ban, compromise, tier change...).
    Incident(Incident),
    /// Emit one change (a template, account or partner event) through the pipeline.
    EmitEvent {
        /// Whom it is for.
        route: Route,
        /// The webhook field (`message_template_status_update`, or the partner event).
        field: String,
        /// The body.
        body: Value,
    },
    /// List the WABA's phone numbers (`GET /{waba-id}/phone_numbers`).
    ListPhoneNumbers {
        /// The bearer token presented.
        credential: Option<Secret>,
        /// The WABA id of the path.
        waba_id: WabaId,
        /// The `fields` asked for.
        fields: Fields,
        /// `limit`, `after`, `before`.
        page: PageRequest,
    },
    /// Read a number's business profile (`GET /{phone-number-id}/whatsapp_business_profile`).
    GetBusinessProfile {
        /// The bearer token presented.
        credential: Option<Secret>,
        /// The phone number id of the path.
        phone_number_id: PhoneNumberId,
        /// The `fields` asked for.
        fields: Fields,
    },
    /// Change a number's business profile (`POST …/whatsapp_business_profile`).
    UpdateBusinessProfile {
        /// The bearer token presented.
        credential: Option<Secret>,
        /// The phone number id of the path.
        phone_number_id: PhoneNumberId,
        /// The change, or why the body was refused.
        update: Result<ProfileUpdate, Refusal>,
    },
    /// List the apps subscribed to the WABA's webhooks (`GET /{waba-id}/subscribed_apps`).
    ListSubscribedApps {
        /// The bearer token presented.
        credential: Option<Secret>,
        /// The WABA id of the path.
        waba_id: WabaId,
    },
    /// Subscribe the app to the WABA's webhooks (`POST /{waba-id}/subscribed_apps`);
    /// with an alternate callback URL the reply is the handshake to perform.
    SubscribeApp {
        /// The bearer token presented.
        credential: Option<Secret>,
        /// The WABA id of the path.
        waba_id: WabaId,
        /// The request, or why its body was refused.
        request: Result<SubscribeRequest, Refusal>,
    },
    /// An alternate callback URL's handshake finished (reported by the shell):
    /// the subscription takes it if the receiver echoed the challenge.
    SubscriptionVerified {
        /// The handshake the model asked for.
        verification: Verification,
        /// How it went.
        report: HandshakeReport,
    },
    /// Unsubscribe the app from the WABA's webhooks (`DELETE /{waba-id}/subscribed_apps`).
    UnsubscribeApp {
        /// The bearer token presented.
        credential: Option<Secret>,
        /// The WABA id of the path.
        waba_id: WabaId,
    },
}

impl Command {
    /// The command for a body posted to the send path (`/{phone-number-id}/messages`
    /// or 360dialog's `/messages`): a send, or a read receipt when the body has
    /// `status`.
    pub fn send_path(
        surface: Surface,
        credential: Option<Secret>,
        phone_number_id: Option<PhoneNumberId>,
        body: Result<Value, super::RequestError>,
    ) -> Command {
        match super::outgoing::parse_send_path(body) {
            SendPath::Message(request) => Command::SendMessage {
                endpoint: SendEndpoint::Messages,
                surface,
                credential,
                phone_number_id,
                request,
            },
            SendPath::Read(request) => Command::MarkRead {
                surface,
                credential,
                phone_number_id,
                request,
            },
        }
    }

    /// The command for a body posted to `endpoint`: [`Command::send_path`] for
    /// `/messages`, a send for `/marketing_messages` (never a read receipt: the
    /// endpoint takes templates only).
    pub fn posted(
        endpoint: SendEndpoint,
        surface: Surface,
        credential: Option<Secret>,
        phone_number_id: Option<PhoneNumberId>,
        body: Result<Value, super::RequestError>,
    ) -> Command {
        match endpoint {
            SendEndpoint::Messages => {
                Command::send_path(surface, credential, phone_number_id, body)
            }
            SendEndpoint::MarketingMessages => Command::SendMessage {
                endpoint,
                surface,
                credential,
                phone_number_id,
                request: super::marketing_messages::parse(body),
            },
        }
    }

    /// A 360dialog send of `body` with `key`, as the messaging surface builds it.
    pub fn d360_send(key: &str, body: &Value) -> Command {
        Command::send_path(
            Surface::D360,
            Some(Secret::from(key)),
            None,
            Ok(body.clone()),
        )
    }

    /// A Graph send of `body`, as the Cloud API surface builds it (tests and
    /// benches use it to drive the model directly).
    pub fn graph_send(token: &str, phone_number_id: &str, body: &Value) -> Command {
        Command::graph_send_to(SendEndpoint::Messages, token, phone_number_id, body)
    }

    /// A Graph send of `body` to `endpoint`.
    pub fn graph_send_to(
        endpoint: SendEndpoint,
        token: &str,
        phone_number_id: &str,
        body: &Value,
    ) -> Command {
        Command::posted(
            endpoint,
            Surface::Graph,
            Some(Secret::from(token)),
            Some(PhoneNumberId::from(phone_number_id)),
            Ok(body.clone()),
        )
    }
}

/// The model's answer to a command that happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// A send was accepted.
    Sent {
        /// `contacts[].input`: the number as sent.
        input: String,
        /// `contacts[].wa_id`.
        wa_id: WaId,
        /// The wamid.
        message_id: Wamid,
        /// `message_status`, for templates.
        message_status: Option<&'static str>,
    },
    /// An inbound message was received.
    InboundReceived {
        /// Its wamid.
        message_id: Wamid,
    },
    /// A verification handshake to perform.
    Verify(Verification),
    /// The access token was replaced by this one.
    AccessTokenRotated(Secret),
    /// A 360dialog webhook, as stored (none when never set).
    D360Webhook(Option<D360Webhook>),
    /// The WABA's templates, deleted ones left out.
    Templates(TemplateList),
    /// One template, and the time its quality is reported at.
    Template {
        /// The template.
        template: Box<Template>,
        /// Unix seconds now.
        unix_now: u64,
    },
    /// A template was created (in review); its id.
    TemplateCreated(TemplateId),
    /// A media file was stored; its id.
    MediaUploaded(MediaId),
    /// A media file's fields and the query of its download URL.
    Media(MediaInfo),
    /// A media file's bytes, for its download URL.
    MediaFile {
        /// Its MIME type (the answer's `Content-Type`).
        mime_type: String,
        /// Its bytes.
        bytes: bytes::Bytes,
    },
    /// A JSON answer (`{"success": true}`, a Partner API object).
    Json(Value),
    /// A JSON answer for something created (HTTP 201).
    Created(Value),
    /// Done, with a word on what was done.
    Message(String),
    /// Done; nothing to answer.
    Done,
    /// A business phone number (`GET /{phone-number-id}`).
    PhoneNumber(Box<PhoneNumberView>),
    /// A page of the WABA's phone numbers.
    PhoneNumbers(PhoneNumberPage),
    /// The WABA (`GET /{waba-id}`).
    Waba(Box<WabaView>),
    /// A number's business profile.
    BusinessProfile(Box<BusinessProfileSpec>),
    /// The apps subscribed to the WABA's webhooks.
    SubscribedApps(Vec<SubscribedApp>),
}

/// What a template list answers with.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateList {
    /// The WABA (360dialog's `namespace`).
    pub waba_id: WabaId,
    /// Unix seconds now (the quality's date).
    pub unix_now: u64,
    /// The templates, deleted ones left out.
    pub templates: Vec<Template>,
}

/// A webhook the model wants posted.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookDelivery {
    /// Delivery id, unique in the world.
    pub id: u64,
    /// Virtual time this attempt is due.
    pub at: SimTime,
    /// Attempt number, from 1.
    pub attempt: u32,
    /// The webhook field (`messages`).
    pub field: Cow<'static, str>,
    /// The payload, serialized once and shared with the trace.
    pub body: WebhookBody,
    /// Where it goes and how it is authenticated.
    pub destination: Destination,
    /// Which copy this post is.
    pub copy: CopyKind,
    /// The sequence number of the trace record this post was queued right after (set
    /// by [`crate::engine::Sim`]); its outcome arrives later, but this is where it happened.
    pub after_seq: u64,
}

impl WebhookDelivery {
    /// The command that reports how this attempt ended: the answer's status
    /// (none when nothing answered), its latency, and what went wrong below HTTP.
    pub fn finished(
        &self,
        url: String,
        http_status: Option<u16>,
        latency_ms: u64,
        error: Option<String>,
    ) -> Command {
        Command::WebhookAttemptFinished(AttemptReport {
            delivery_id: self.id,
            attempt: self.attempt,
            copy: self.copy,
            destination: self.destination.kind(),
            after_seq: self.after_seq,
            url,
            http_status,
            latency_ms,
            error,
        })
    }
}

/// How one webhook delivery attempt ended, as the delivery engine reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptReport {
    /// Delivery id.
    pub delivery_id: u64,
    /// Attempt number, from 1.
    pub attempt: u32,
    /// Which copy was posted.
    pub copy: CopyKind,
    /// `meta`, `d360` or `partner`.
    pub destination: &'static str,
    /// The trace record the attempt was posted right after ([`WebhookDelivery::after_seq`]).
    pub after_seq: u64,
    /// Target URL (redacted).
    pub url: String,
    /// The receiver's HTTP status, if it answered.
    pub http_status: Option<u16>,
    /// Wall milliseconds the attempt took.
    pub latency_ms: u64,
    /// Why there was no answer.
    pub error: Option<String>,
}

impl AttemptReport {
    /// The attempt as the trace records it.
    pub fn into_event(self) -> TraceEvent {
        TraceEvent::WebhookAttempt {
            delivery_id: self.delivery_id,
            attempt: self.attempt,
            copy: self.copy.name(),
            destination: self.destination,
            after_seq: self.after_seq,
            url: self.url,
            http_status: self.http_status,
            error: self.error,
        }
    }
}

/// An effect of a command or timer: data for the shell to carry out.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Append this record to the trace.
    Trace {
        /// When it happened.
        at: SimTime,
        /// What happened.
        event: TraceEvent,
    },
    /// Append this record, which took `latency_ms` of wall time (kept beside the
    /// record, never written with it).
    TraceMeasured {
        /// When it happened.
        at: SimTime,
        /// What happened.
        event: TraceEvent,
        /// Wall milliseconds it took.
        latency_ms: u64,
    },
    /// Post this webhook.
    Webhook(WebhookDelivery),
}

impl Effect {
    /// The trace event of a trace effect (measured or not).
    pub fn event(&self) -> Option<&TraceEvent> {
        match self {
            Effect::Trace { event, .. } | Effect::TraceMeasured { event, .. } => Some(event),
            Effect::Webhook(_) => None,
        }
    }
}

/// The result of [`super::World::apply`].
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The answer: what happened, or why nothing did.
    pub reply: Result<Reply, Refusal>,
    /// What the shell must carry out.
    pub effects: Vec<Effect>,
}
