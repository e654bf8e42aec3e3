//! World files: the TOML description of a world, and the built-in default world.
//!
//! Every field has a default, so a world file overrides only what it names. Lists
//! (`waba.phone_numbers`, `waba.templates`, `recipients.named`) replace the default
//! list as a whole. `[policy]` names a profile (`profile = "2025-07"`) and overrides
//! any of its parameters.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::components::{Components, ParameterFormat};
use super::fields::FieldError;
use super::policy::{DEFAULT_PROFILE, PROFILES, Policy};
use super::rng::Ratio;
use super::secret::Secret;
use super::webhooks::{FaultProfile, check_batching};

/// A whole world, as read from a world file (or the built-in default).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorldSpec {
    /// The root seed. Default 1; `--seed` overrides it.
    pub seed: u64,
    /// Unix seconds of virtual time zero. Default 1717405200 (2024-06-03T09:00:00Z).
    pub epoch_unix_s: u64,
    /// The Cloud API bearer token. Default `wasim_test_access_token`.
    pub access_token: Secret,
    /// The app secret that signs Meta webhooks. Default `wasim_test_app_secret`.
    pub app_secret: Secret,
    /// The webhook verify token. Default `wasim_test_verify_token`.
    pub verify_token: Secret,
    /// The Meta app's id (the app of the access token, subscribed to the WABA's
    /// webhooks: `GET /{waba-id}/subscribed_apps`). Default `140000000000001`.
    pub app_id: String,
    /// The Meta app's name. Default `Wasim Test App`.
    pub app_name: String,
    /// Where webhooks go; `--webhook-url` overrides it. Default: none.
    pub webhook_url: Option<String>,
    /// The 360dialog partner.
    pub partner: PartnerSpec,
    /// The partner's client.
    pub client: ClientSpec,
    /// The client's WhatsApp Business Account.
    pub waba: WabaSpec,
    /// The people the business can message.
    pub recipients: RecipientsSpec,
    /// Other businesses' marketing traffic.
    pub ecosystem: EcosystemSpec,
    /// Webhook batching and faults.
    pub webhooks: WebhooksSpec,
    /// The policy profile and overrides of its parameters.
    pub policy: toml::Table,
    /// How much state the world keeps.
    pub limits: LimitsSpec,
}

/// How much state a world keeps (`[limits]` of a world file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsSpec {
    /// Messages kept: past this the oldest whose statuses are all out are
    /// forgotten, a tenth at a time. Default 250000; at least 1000.
    pub messages_kept: u32,
    /// Messages held at most: those still in play (held by template pacing
    /// until its decision, or waiting for a status) count, so a load test
    /// cannot grow memory without bound; a send past it is refused with 131000
    /// until the clock moves them on. Default 1000000; at least
    /// `messages_kept`, at most 50000000.
    pub messages_max: u32,
    /// Bytes of media (uploaded and sent by users) the world keeps at most:
    /// past it an upload, or an inbound media message, is refused with 131000
    /// until media are deleted or expire. Default 1073741824 (1 GiB); at most
    /// [`MEDIA_BYTES_MAX_MAX`].
    pub media_bytes_max: u64,
    /// Largest media upload request body (`POST /{phone-number-id}/media`), in
    /// bytes: the largest file Meta takes (a 100 MB document) and room for the
    /// form around it. Default 105906176 (101 MiB); from 1024 to
    /// [`MEDIA_UPLOAD_BYTES_MAX_MAX`]. Past it the request is answered 413.
    pub media_upload_bytes_max: u64,
}

impl Default for LimitsSpec {
    fn default() -> Self {
        LimitsSpec {
            messages_kept: 250_000,
            messages_max: 1_000_000,
            media_bytes_max: 1 << 30,
            media_upload_bytes_max: 101 << 20,
        }
    }
}

/// Most bytes of media a world may be set to keep (`limits.media_bytes_max`):
/// 64 GiB.
pub const MEDIA_BYTES_MAX_MAX: u64 = 64 << 30;

/// Largest upload body a world may be set to take
/// (`limits.media_upload_bytes_max`): 1 GiB, read into memory whole.
pub const MEDIA_UPLOAD_BYTES_MAX_MAX: u64 = 1 << 30;

/// Most messages a world may be set to hold (`limits.messages_max`).
pub const MESSAGES_MAX_MAX: u32 = 50_000_000;

/// Fewest messages a world may keep (`limits.messages_kept`).
pub const MESSAGES_KEPT_MIN: u32 = 1_000;

/// The 360dialog partner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PartnerSpec {
    /// Partner id. Default `wasimPA`.
    pub id: String,
    /// Partner Hub user name. Default `partner@wasim.test`.
    pub username: String,
    /// Partner Hub password. Default `wasim_test_partner_password`.
    pub password: Secret,
    /// Secret signing partner webhooks. Default `wasim_test_partner_secret`.
    pub webhook_secret: Secret,
    /// A Partner API key, sent as `X-API-Key`
    /// (<https://docs.360dialog.com/partner/integrations-and-api-development/integration-best-practices/api-key-authentication-for-the-partner-api>).
    /// Default `wasim_test_partner_api_key`.
    pub api_key: Secret,
    /// Where partner webhooks go. Default: none.
    pub webhook_url: Option<String>,
}

/// How webhooks are delivered (`[webhooks]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhooksSpec {
    /// Changes batched into one post at most (Meta: up to 1000). Default 1: no batching.
    pub batch_max: u32,
    /// With batching, how long a batch gathers changes before it is posted, in
    /// virtual milliseconds. Default 1000.
    pub batch_window_ms: u64,
    /// The fault profile in force from the start (`[webhooks.faults]`, see
    /// `FaultProfile`). Default: none, clean delivery.
    pub faults: Option<toml::Table>,
}

impl Default for WebhooksSpec {
    fn default() -> Self {
        WebhooksSpec {
            batch_max: 1,
            batch_window_ms: 1_000,
            faults: None,
        }
    }
}

/// The partner's client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClientSpec {
    /// Client id. Default `wasimCL`.
    pub id: String,
    /// Display name. Default `Wasim Demo Shop`.
    pub name: String,
}

/// A WABA with its numbers and templates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WabaSpec {
    /// WABA id. Default `100000000000001`.
    pub id: String,
    /// The WABA's name (`GET /{waba-id}`). Default `Wasim Demo Shop`.
    pub name: String,
    /// The currency its payments are in (ISO 4217). Default `USD`.
    pub currency: String,
    /// Graph's timezone id of the WABA. Default `1`.
    pub timezone_id: String,
    /// Whether the Meta app (`app_id`) is subscribed to the WABA's webhooks
    /// (`POST|DELETE /{waba-id}/subscribed_apps`): unsubscribed, no Meta webhook
    /// is posted for it. Default true.
    pub subscribed: bool,
    /// Unique users reachable outside a customer service window per moving 24 h
    /// (shared across the numbers: <https://developers.facebook.com/docs/whatsapp/messaging-limits>).
    /// Default 10000 (`TIER_10K`).
    pub messaging_limit: u32,
    /// Whether marketing templates may be sent through Cloud API's `/messages`:
    /// false is Graph's WABA setting `disable_marketing_messages_on_cloud_api`,
    /// and such a send answers 131063 (the code from pywa's `errors.py`, its
    /// wording unconfirmed); `/marketing_messages` takes them still. Default true.
    pub marketing_on_cloud_api: bool,
    /// Phone numbers. Default: a US, a German and a Turkish number.
    pub phone_numbers: Vec<PhoneNumberSpec>,
    /// Templates. Default: approved marketing, utility and authentication templates.
    pub templates: Vec<TemplateSpec>,
}

/// Which API a number is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApiKind {
    /// Meta's Cloud API.
    Cloud,
    /// The retired On-Premises API.
    OnPremises,
}

/// One business phone number (a 360dialog channel).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhoneNumberSpec {
    /// Phone number id.
    pub id: String,
    /// The number as shown (digits).
    pub display_phone_number: String,
    /// ISO country code of the number.
    pub country: String,
    /// Cloud or On-Premises. Default cloud.
    #[serde(default = "cloud")]
    pub api: ApiKind,
    /// The 360dialog channel id.
    pub channel_id: String,
    /// The channel's current 360dialog API key.
    pub d360_api_key: Secret,
    /// Registered on the platform (sends from an unregistered number fail with
    /// 133010). Default true.
    #[serde(default = "registered")]
    pub registered: bool,
    /// The two-step verification PIN, if 2FA is on. Default none: the PIN of the
    /// first registration becomes it.
    #[serde(default)]
    pub pin: Option<Secret>,
    /// The business name shown for the number (`verified_name`). Default: the
    /// client's name.
    #[serde(default)]
    pub verified_name: Option<String>,
    /// The number's quality rating. Default GREEN.
    #[serde(default = "green")]
    pub quality: Quality,
    /// The business profile (`/{phone-number-id}/whatsapp_business_profile`).
    /// Default: an `about` text and the `OTHER` vertical.
    #[serde(default)]
    pub profile: BusinessProfileSpec,
}

/// A number's business profile: what `GET /{phone-number-id}/whatsapp_business_profile`
/// answers and its `POST` changes, within Meta's limits
/// (<https://developers.facebook.com/docs/whatsapp/cloud-api/reference/business-profiles>).
/// A field left out keeps its default; an empty string unsets one (the answers
/// leave unset fields out, but for `vertical`, which reads `UNDEFINED`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BusinessProfileSpec {
    /// The About text (1 to 139 characters). Default `Hey there! We are on WhatsApp.`
    pub about: Option<String>,
    /// The address (at most 256 characters).
    pub address: Option<String>,
    /// The description (at most 512 characters).
    pub description: Option<String>,
    /// The contact email (at most 128 characters).
    pub email: Option<String>,
    /// The industry (Meta's vertical enum). Default `OTHER`.
    pub vertical: Option<String>,
    /// Up to 2 URLs (`http://` or `https://`, at most 256 characters each).
    pub websites: Vec<String>,
    /// The profile picture's URL (set only by a world file: wasim has no upload).
    pub profile_picture_url: Option<String>,
}

impl Default for BusinessProfileSpec {
    fn default() -> Self {
        BusinessProfileSpec {
            about: Some("Hey there! We are on WhatsApp.".to_owned()),
            address: None,
            description: None,
            email: None,
            vertical: Some("OTHER".to_owned()),
            websites: Vec::new(),
            profile_picture_url: None,
        }
    }
}

fn registered() -> bool {
    true
}

fn cloud() -> ApiKind {
    ApiKind::Cloud
}

/// Template category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Category {
    /// Marketing.
    Marketing,
    /// Utility.
    Utility,
    /// Authentication.
    Authentication,
}

impl Category {
    /// The category as the platform writes it (`MARKETING`).
    pub fn name(self) -> &'static str {
        match self {
            Category::Marketing => "MARKETING",
            Category::Utility => "UTILITY",
            Category::Authentication => "AUTHENTICATION",
        }
    }
}

/// Template review status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TemplateStatus {
    /// Approved: can be sent.
    Approved,
    /// Waiting for review.
    Pending,
    /// Rejected.
    Rejected,
    /// Paused for low quality.
    Paused,
    /// Disabled after repeated pauses.
    Disabled,
    /// Deleted (kept so ids stay stable; never listed or sent).
    Deleted,
}

/// Template quality rating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Quality {
    /// High.
    Green,
    /// Medium.
    Yellow,
    /// Low.
    Red,
    /// Not yet rated.
    Unknown,
}

/// One message template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateSpec {
    /// Template id.
    pub id: String,
    /// Template name.
    pub name: String,
    /// Language code (`en_US`).
    pub language: String,
    /// Category.
    pub category: Category,
    /// Status. Default APPROVED.
    #[serde(default = "approved")]
    pub status: TemplateStatus,
    /// Quality. Default GREEN.
    #[serde(default = "green")]
    pub quality: Quality,
    /// How many body parameters a send must supply. Default 0.
    #[serde(default)]
    pub body_parameters: u32,
    /// How many header parameters a send must supply. Default 0.
    #[serde(default)]
    pub header_parameters: u32,
    /// Its components in Meta's shape, as a creation sends them
    /// (`[[waba.templates.components]]` with `type = "BODY"`, `text`, `example`, …).
    /// When left out, stand-ins are derived from `body_parameters` and
    /// `header_parameters`: the name followed by `{{1}}`, `{{2}}`, … in a text header
    /// and body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub components: Option<Vec<serde_json::Value>>,
    /// How its placeholders are named: `POSITIONAL` (default) or `NAMED`.
    #[serde(default)]
    pub parameter_format: ParameterFormat,
    /// The share of its recipients who react badly (block, report): its content
    /// profile. Default: the policy's `template_negative_ratio`.
    #[serde(default)]
    pub negative: Option<Ratio>,
}

impl TemplateSpec {
    /// Its components: parsed from `components`, or stand-ins for its counts.
    pub fn components(&self) -> Components {
        self.parsed_components().unwrap_or_else(|_| {
            Components::stand_in(&self.name, self.body_parameters, self.header_parameters)
        })
    }

    fn parsed_components(&self) -> Result<Components, String> {
        match &self.components {
            None => Ok(Components::stand_in(
                &self.name,
                self.body_parameters,
                self.header_parameters,
            )),
            Some(_) if self.body_parameters > 0 || self.header_parameters > 0 => Err(
                "give either components or body_parameters/header_parameters, not both".to_owned(),
            ),
            Some(components) => Components::parse(self.category, self.parameter_format, components)
                .map_err(|error| error.details),
        }
    }
}

fn approved() -> TemplateStatus {
    TemplateStatus::Approved
}

fn green() -> Quality {
    Quality::Green
}

/// The recipients of the world.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RecipientsSpec {
    /// How many recipients to generate from the seed. Default 10000.
    pub count: u32,
    /// Weights of the countries generated recipients come from.
    pub countries: BTreeMap<String, u32>,
    /// Share of generated recipients who stopped marketing messages. Default 1/50.
    pub opted_out_ratio: Ratio,
    /// Recipients with fixed numbers (documented in the README). They receive other
    /// businesses' marketing only through `POST /_wasim/ecosystem/marketing`.
    pub named: Vec<NamedRecipientSpec>,
}

/// A recipient with a fixed number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedRecipientSpec {
    /// WhatsApp id (digits with calling code).
    pub wa_id: String,
    /// Country; derived from the calling code when left out.
    #[serde(default)]
    pub country: Option<String>,
    /// Profile name shown in inbound webhooks. Default `Test User`.
    #[serde(default)]
    pub name: Option<String>,
    /// Whether the user stopped marketing messages. Default false.
    #[serde(default)]
    pub opted_out: bool,
}

/// Other businesses' marketing, which counts toward the per-user limit
/// (<https://developers.facebook.com/documentation/business-messaging/whatsapp/templates/marketing-templates/per-user-limits>).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EcosystemSpec {
    /// Share of generated recipients who get other businesses' marketing on a given day.
    /// Default 1/2.
    pub active_ratio: Ratio,
    /// The most such messages one generated recipient gets per day. Default 1.
    pub marketing_per_day_max: u32,
}

impl Default for WorldSpec {
    fn default() -> Self {
        WorldSpec {
            seed: 1,
            epoch_unix_s: 1_717_405_200,
            access_token: Secret::from("wasim_test_access_token"),
            app_secret: Secret::from("wasim_test_app_secret"),
            verify_token: Secret::from("wasim_test_verify_token"),
            app_id: "140000000000001".to_owned(),
            app_name: "Wasim Test App".to_owned(),
            webhook_url: None,
            partner: PartnerSpec::default(),
            client: ClientSpec::default(),
            waba: WabaSpec::default(),
            recipients: RecipientsSpec::default(),
            ecosystem: EcosystemSpec::default(),
            webhooks: WebhooksSpec::default(),
            policy: toml::Table::new(),
            limits: LimitsSpec::default(),
        }
    }
}

impl Default for PartnerSpec {
    fn default() -> Self {
        PartnerSpec {
            id: "wasimPA".to_owned(),
            username: "partner@wasim.test".to_owned(),
            password: Secret::from("wasim_test_partner_password"),
            webhook_secret: Secret::from("wasim_test_partner_secret"),
            api_key: Secret::from("wasim_test_partner_api_key"),
            webhook_url: None,
        }
    }
}

impl Default for ClientSpec {
    fn default() -> Self {
        ClientSpec {
            id: "wasimCL".to_owned(),
            name: "Wasim Demo Shop".to_owned(),
        }
    }
}

impl Default for WabaSpec {
    fn default() -> Self {
        let phone =
            |id: &str, display: &str, country: &str, channel: &str, key: &str| PhoneNumberSpec {
                id: id.to_owned(),
                display_phone_number: display.to_owned(),
                country: country.to_owned(),
                api: ApiKind::Cloud,
                channel_id: channel.to_owned(),
                d360_api_key: Secret::from(key),
                registered: true,
                pin: None,
                verified_name: None,
                quality: Quality::Green,
                profile: BusinessProfileSpec::default(),
            };
        // Realistic components (Meta's components page:
        // https://developers.facebook.com/documentation/business-messaging/whatsapp/templates/components).
        // `spring_sale` takes no parameters and `order_update` one body parameter:
        // the scenario library sends them so.
        let template = |id: &str,
                        name: &str,
                        category: Category,
                        parameter_format: ParameterFormat,
                        components: serde_json::Value| TemplateSpec {
            id: id.to_owned(),
            name: name.to_owned(),
            language: "en_US".to_owned(),
            category,
            status: TemplateStatus::Approved,
            quality: Quality::Green,
            body_parameters: 0,
            header_parameters: 0,
            components: components.as_array().cloned(),
            parameter_format,
            negative: None,
        };
        WabaSpec {
            id: "100000000000001".to_owned(),
            name: "Wasim Demo Shop".to_owned(),
            currency: "USD".to_owned(),
            timezone_id: "1".to_owned(),
            subscribed: true,
            messaging_limit: 10_000,
            marketing_on_cloud_api: true,
            phone_numbers: vec![
                phone(
                    "110000000000001",
                    "15550100001",
                    "US",
                    "wasimCH01",
                    "wasim_test_d360_key_us",
                ),
                phone(
                    "110000000000002",
                    "4930901820",
                    "DE",
                    "wasimCH02",
                    "wasim_test_d360_key_de",
                ),
                phone(
                    "110000000000003",
                    "902125550101",
                    "TR",
                    "wasimCH03",
                    "wasim_test_d360_key_tr",
                ),
            ],
            templates: vec![
                template(
                    "120000000000001",
                    "spring_sale",
                    Category::Marketing,
                    ParameterFormat::Positional,
                    serde_json::json!([
                        {"type": "HEADER", "format": "TEXT", "text": "Spring sale"},
                        {"type": "BODY", "text": "Our spring sale is on: up to 30% off plants and pots until Sunday."},
                        {"type": "FOOTER", "text": "Reply STOP to opt out"},
                        {"type": "BUTTONS", "buttons": [
                            {"type": "URL", "text": "Shop the sale", "url": "https://shop.wasim.test/spring"},
                            {"type": "QUICK_REPLY", "text": "Stop promotions"}]}
                    ]),
                ),
                template(
                    "120000000000002",
                    "order_update",
                    Category::Utility,
                    ParameterFormat::Positional,
                    serde_json::json!([
                        {"type": "BODY", "text": "Your order {{1}} has shipped and is on its way.",
                         "example": {"body_text": [["A-1001"]]}},
                        {"type": "FOOTER", "text": "Wasim Demo Shop"},
                        {"type": "BUTTONS", "buttons": [
                            {"type": "URL", "text": "Track your order", "url": "https://shop.wasim.test/orders"},
                            {"type": "PHONE_NUMBER", "text": "Call us", "phone_number": "15550100001"}]}
                    ]),
                ),
                template(
                    "120000000000003",
                    "login_code",
                    Category::Authentication,
                    ParameterFormat::Positional,
                    serde_json::json!([
                        {"type": "BODY", "add_security_recommendation": true},
                        {"type": "FOOTER", "code_expiration_minutes": 10},
                        {"type": "BUTTONS", "buttons": [
                            {"type": "OTP", "otp_type": "COPY_CODE", "text": "Copy code"}]}
                    ]),
                ),
                template(
                    "120000000000004",
                    "new_arrivals",
                    Category::Marketing,
                    ParameterFormat::Named,
                    serde_json::json!([
                        {"type": "HEADER", "format": "IMAGE",
                         "example": {"header_handle": ["4::aW1hZ2UvanBlZw==:wasim-new-arrivals"]}},
                        {"type": "BODY",
                         "text": "Hi {{first_name}}, our {{collection}} collection just arrived. Use code {{code}} for 10% off.",
                         "example": {"body_text_named_params": [
                            {"param_name": "first_name", "example": "Ana"},
                            {"param_name": "collection", "example": "summer"},
                            {"param_name": "code", "example": "NEW10"}]}},
                        {"type": "FOOTER", "text": "Reply STOP to opt out"},
                        {"type": "BUTTONS", "buttons": [
                            {"type": "URL", "text": "See the collection", "url": "https://shop.wasim.test/new/{{1}}",
                             "example": ["https://shop.wasim.test/new/summer"]},
                            {"type": "COPY_CODE", "example": "NEW10"},
                            {"type": "QUICK_REPLY", "text": "Not interested"}]}
                    ]),
                ),
            ],
        }
    }
}

impl Default for RecipientsSpec {
    fn default() -> Self {
        let weights = [
            ("US", 22),
            ("CA", 3),
            ("MX", 3),
            ("BR", 12),
            ("IN", 15),
            ("ID", 3),
            ("DE", 10),
            ("FR", 5),
            ("ES", 5),
            ("IT", 5),
            ("NL", 3),
            ("GB", 8),
            ("TR", 4),
            ("JP", 1),
            ("KR", 1),
        ];
        let named = |wa_id: &str, name: &str| NamedRecipientSpec {
            wa_id: wa_id.to_owned(),
            country: None,
            name: Some(name.to_owned()),
            opted_out: false,
        };
        RecipientsSpec {
            count: 10_000,
            countries: weights.iter().map(|(c, w)| ((*c).to_owned(), *w)).collect(),
            opted_out_ratio: Ratio::new(1, 50),
            named: vec![
                named("5511987654321", "Ana"),
                named("919812345678", "Priya"),
                named("14155550123", "Sam"),
                named("4915112345678", "Lena"),
                named("905321234567", "Deniz"),
            ],
        }
    }
}

impl Default for EcosystemSpec {
    fn default() -> Self {
        EcosystemSpec {
            active_ratio: Ratio::new(1, 2),
            marketing_per_day_max: 1,
        }
    }
}

/// Most generated recipients a world may have (each takes about 24 bytes).
pub const RECIPIENTS_MAX: u32 = 20_000_000;

/// Most named recipients a world file may list.
pub const NAMED_RECIPIENTS_MAX: usize = 100_000;

/// The last unix second of the year 9999: dates are written with four digits.
pub const EPOCH_UNIX_S_MAX: u64 = 253_402_300_799;

/// Why a world (a file's text, or a spec with a profile) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorldError {
    /// The text is not TOML of a world (an unknown field, a wrong type).
    #[error("{0}")]
    Toml(String),
    /// A field's value is wrong.
    #[error("{0}")]
    Field(#[from] FieldError),
}

/// Why a world file was refused.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The file could not be read.
    #[error("failed to read world file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a valid world.
    #[error("invalid world file {path}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// The field and what was expected.
        message: String,
    },
}

/// A TOML error in one line: the dotted field it is about (when its position
/// shows one), and the message, after `(line L, column C): ` when `position`.
fn toml_error(text: &str, error: &toml::de::Error, position: bool) -> (Option<String>, String) {
    let message = error.message().trim_end().to_owned();
    let Some(span) = error.span() else {
        return (None, message);
    };
    let before = &text[..span.start.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |at| at + 1) + 1;
    let field = field_at(text, line);
    let message = match (position, &field) {
        (true, Some(_)) => format!("(line {line}, column {column}): {message}"),
        (true, None) => format!("line {line}, column {column}: {message}"),
        (false, _) => message,
    };
    (field, message)
}

/// The dotted path of the key set on `line` (1-based) of TOML `text`: its
/// table header, if any, then the key (`ecosystem.active_ratio`).
fn field_at(text: &str, line: usize) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let (key, _) = lines.get(line.checked_sub(1)?)?.split_once('=')?;
    let key = key.trim().trim_matches('"');
    if key.is_empty() || key.starts_with('[') {
        return None;
    }
    let table = lines[..line - 1].iter().rev().find_map(|l| {
        let l = l.trim();
        l.starts_with('[')
            .then(|| l.trim_matches(|c| c == '[' || c == ']').trim().to_owned())
    });
    Some(match table {
        Some(table) if !table.is_empty() => format!("{table}.{key}"),
        _ => key.to_owned(),
    })
}

impl WorldSpec {
    /// Parses and checks a world from TOML text; the error names the dotted
    /// field, its line and column, and what was expected, on one line.
    pub fn from_toml(text: &str) -> Result<WorldSpec, WorldError> {
        let spec: WorldSpec = toml::from_str(text).map_err(|e| {
            let (field, message) = toml_error(text, &e, true);
            WorldError::Toml(match field {
                Some(field) => format!("`{field}` {message}"),
                None => message,
            })
        })?;
        spec.validate()?;
        Ok(spec)
    }

    /// Checks a world given as a TOML table (a scenario's `[world]`); the error
    /// names the field, without positions (they would be those of the table's
    /// own text, not of the file it came from).
    pub fn from_table(table: &toml::Table) -> Result<WorldSpec, WorldError> {
        let text = toml::to_string(table).map_err(|e| WorldError::Toml(e.to_string()))?;
        let spec: WorldSpec =
            toml::from_str(&text).map_err(|e| match toml_error(&text, &e, false) {
                (Some(field), message) => WorldError::Field(FieldError::new(field, message)),
                (None, message) => WorldError::Toml(message),
            })?;
        spec.validate()?;
        Ok(spec)
    }

    /// The policy this world runs under: `profile_override` (from `--policy`) or the
    /// file's `policy.profile` or the default, with the file's overrides applied.
    pub fn policy(&self, profile_override: Option<&str>) -> Result<Policy, FieldError> {
        let name = match (profile_override, self.policy.get("profile")) {
            (Some(name), _) => name.to_owned(),
            (None, Some(toml::Value::String(name))) => name.clone(),
            (None, Some(other)) => {
                return Err(FieldError::new(
                    "policy.profile",
                    format!("expected a profile name string, found {other}"),
                ));
            }
            (None, None) => DEFAULT_PROFILE.to_owned(),
        };
        let base = Policy::named(&name).ok_or_else(|| {
            FieldError::new(
                "policy.profile",
                format!(
                    "unknown profile `{name}`, expected one of {}",
                    PROFILES.join(", ")
                ),
            )
        })?;
        let mut table =
            toml::Table::try_from(&base).map_err(|e| FieldError::new("policy", e.to_string()))?;
        for (key, value) in &self.policy {
            if key != "profile" {
                table.insert(key.clone(), value.clone());
            }
        }
        table.insert("profile".to_owned(), toml::Value::String(name));
        toml::Value::Table(table)
            .try_into::<Policy>()
            .map_err(|e| FieldError::new("policy", e.to_string().trim_end()))
    }

    /// The fault profile of `[webhooks.faults]`, if any.
    pub fn webhook_faults(&self) -> Result<Option<FaultProfile>, FieldError> {
        self.webhooks
            .faults
            .as_ref()
            .map(|table| FaultProfile::from_toml("webhooks.faults", table))
            .transpose()
    }

    fn validate(&self) -> Result<(), FieldError> {
        let policy = self.policy(None)?;
        if !(400..=599).contains(&policy.template_block_http_status) {
            return Err(FieldError::new(
                "policy.template_block_http_status",
                format!(
                    "expected an HTTP error status 400 to 599, found {}",
                    policy.template_block_http_status
                ),
            ));
        }
        self.webhook_faults()?;
        check_batching((self.webhooks.batch_max, self.webhooks.batch_window_ms))
            .map_err(|e| e.within("webhooks"))?;
        if self.recipients.count > RECIPIENTS_MAX {
            return Err(FieldError::new(
                "recipients.count",
                format!(
                    "expected at most {RECIPIENTS_MAX} recipients, got {}",
                    self.recipients.count
                ),
            ));
        }
        if self.limits.messages_kept < MESSAGES_KEPT_MIN {
            return Err(FieldError::new(
                "limits.messages_kept",
                format!(
                    "expected at least {MESSAGES_KEPT_MIN}, got {}",
                    self.limits.messages_kept
                ),
            ));
        }
        if self.limits.messages_max < self.limits.messages_kept
            || self.limits.messages_max > MESSAGES_MAX_MAX
        {
            return Err(FieldError::new(
                "limits.messages_max",
                format!(
                    "expected from limits.messages_kept ({}) to {MESSAGES_MAX_MAX}, got {}",
                    self.limits.messages_kept, self.limits.messages_max
                ),
            ));
        }
        if self.limits.media_bytes_max > MEDIA_BYTES_MAX_MAX {
            return Err(FieldError::new(
                "limits.media_bytes_max",
                format!(
                    "expected at most {MEDIA_BYTES_MAX_MAX} bytes, got {}",
                    self.limits.media_bytes_max
                ),
            ));
        }
        if !(1024..=MEDIA_UPLOAD_BYTES_MAX_MAX).contains(&self.limits.media_upload_bytes_max) {
            return Err(FieldError::new(
                "limits.media_upload_bytes_max",
                format!(
                    "expected from 1024 to {MEDIA_UPLOAD_BYTES_MAX_MAX} bytes, got {}",
                    self.limits.media_upload_bytes_max
                ),
            ));
        }
        if self.recipients.named.len() > NAMED_RECIPIENTS_MAX {
            return Err(FieldError::new(
                "recipients.named",
                format!("expected at most {NAMED_RECIPIENTS_MAX} named recipients"),
            ));
        }
        if self.epoch_unix_s > EPOCH_UNIX_S_MAX {
            return Err(FieldError::new(
                "epoch_unix_s",
                format!(
                    "expected a unix time before the year 10000 (at most {EPOCH_UNIX_S_MAX}), got {}",
                    self.epoch_unix_s
                ),
            ));
        }
        policy.check()?;
        if self.waba.phone_numbers.is_empty() {
            return Err(FieldError::new(
                "waba.phone_numbers",
                "expected at least one phone number",
            ));
        }
        for (index, phone) in self.waba.phone_numbers.iter().enumerate() {
            if !is_digits(&phone.id) {
                return Err(FieldError::new(
                    format!("waba.phone_numbers[{index}].id"),
                    format!("expected digits, found `{}`", phone.id),
                ));
            }
            if !is_digits(&phone.display_phone_number) {
                return Err(FieldError::new(
                    format!("waba.phone_numbers[{index}].display_phone_number"),
                    format!(
                        "expected digits with calling code, found `{}`",
                        phone.display_phone_number
                    ),
                ));
            }
            if phone.country.len() != 2 {
                return Err(FieldError::new(
                    format!("waba.phone_numbers[{index}].country"),
                    format!(
                        "expected an ISO 3166 alpha-2 code such as `DE`, found `{}`",
                        phone.country
                    ),
                ));
            }
            if phone
                .verified_name
                .as_deref()
                .is_some_and(|name| name.trim().is_empty())
            {
                return Err(FieldError::new(
                    format!("waba.phone_numbers[{index}].verified_name"),
                    "expected a non-empty name",
                ));
            }
            super::numbers::check_profile(&phone.profile).map_err(|(field, problem)| {
                FieldError::new(
                    format!("waba.phone_numbers[{index}].profile.{field}"),
                    problem,
                )
            })?;
        }
        if !is_digits(&self.app_id) {
            return Err(FieldError::new(
                "app_id",
                format!("expected digits, found `{}`", self.app_id),
            ));
        }
        if self.waba.name.trim().is_empty() || self.app_name.trim().is_empty() {
            let field = if self.app_name.trim().is_empty() {
                "app_name"
            } else {
                "waba.name"
            };
            return Err(FieldError::new(field, "expected a non-empty name"));
        }
        if self.waba.currency.len() != 3
            || !self.waba.currency.bytes().all(|b| b.is_ascii_uppercase())
        {
            return Err(FieldError::new(
                "waba.currency",
                format!(
                    "expected an ISO 4217 code such as `USD`, found `{}`",
                    self.waba.currency
                ),
            ));
        }
        for (index, template) in self.waba.templates.iter().enumerate() {
            if !is_digits(&template.id) {
                return Err(FieldError::new(
                    format!("waba.templates[{index}].id"),
                    format!(
                        "expected digits (Meta sends message_template_id as an integer), found `{}`",
                        template.id
                    ),
                ));
            }
            if template.name.is_empty() || template.language.is_empty() {
                return Err(FieldError::new(
                    format!("waba.templates[{index}]"),
                    "expected a non-empty name and language",
                ));
            }
            if let Err(problem) = template.parsed_components() {
                return Err(FieldError::new(
                    format!("waba.templates[{index}].components"),
                    problem,
                ));
            }
        }
        for country in self.recipients.countries.keys() {
            if super::country::number_shape(country).is_none() {
                return Err(FieldError::new(
                    format!("recipients.countries.{country}"),
                    format!(
                        "cannot generate numbers for `{country}`, expected one of US, CA, MX, BR, IN, ID, DE, FR, ES, IT, NL, GB, TR, JP, KR"
                    ),
                ));
            }
        }
        if self.recipients.count > 0 && self.recipients.countries.values().all(|w| *w == 0) {
            return Err(FieldError::new(
                "recipients.countries",
                "expected at least one positive weight",
            ));
        }
        for (index, named) in self.recipients.named.iter().enumerate() {
            if !is_digits(&named.wa_id) || !(7..=15).contains(&named.wa_id.len()) {
                return Err(FieldError::new(
                    format!("recipients.named[{index}].wa_id"),
                    format!(
                        "expected 7 to 15 digits with calling code, found `{}`",
                        named.wa_id
                    ),
                ));
            }
        }
        Ok(())
    }
}

fn is_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_file_is_the_default_world() {
        assert_eq!(
            WorldSpec::from_toml("").expect("valid"),
            WorldSpec::default()
        );
    }

    /// The error `toml` is refused with, in words.
    fn refused(toml: &str) -> String {
        WorldSpec::from_toml(toml)
            .expect_err("a refused world file")
            .to_string()
    }

    #[test]
    fn a_file_overrides_only_the_fields_it_names() {
        let spec = WorldSpec::from_toml("seed = 9\n[partner]\nid = \"otherPA\"\n").expect("valid");
        assert_eq!(spec.seed, 9);
        assert_eq!(spec.partner.id, "otherPA");
        assert_eq!(spec.partner.username, PartnerSpec::default().username);
        assert_eq!(spec.waba, WabaSpec::default());
    }

    #[test]
    fn unknown_fields_are_refused_with_their_name_and_the_expected_ones() {
        let error = refused("[partner]\nidd = \"x\"\n");
        assert!(error.contains("idd"), "{error}");
        assert!(error.contains("username"), "{error}");
    }

    #[test]
    fn wrong_types_are_refused_with_the_field_and_the_expected_type() {
        let error = refused("seed = \"many\"\n");
        assert!(error.contains("seed"), "{error}");
        assert!(error.contains("expected u64"), "{error}");
    }

    #[test]
    fn policy_overrides_apply_on_top_of_the_named_profile() {
        let spec = WorldSpec::from_toml("[policy]\nprofile = \"2025-07\"\nmarketing_cap = 5\n")
            .expect("valid");
        let policy = spec.policy(None).expect("valid policy");
        assert_eq!(policy.profile, "2025-07");
        assert_eq!(policy.marketing_cap, 5);
        assert!(policy.us_marketing_pause);
        assert_eq!(
            spec.policy(Some("2024-05")).expect("valid").profile,
            "2024-05"
        );
    }

    #[test]
    fn bad_policy_fields_and_profiles_are_named() {
        let error = refused("[policy]\nmarketing_kap = 5\n");
        assert!(error.contains("marketing_kap"), "{error}");
        let error = refused("[policy]\nprofile = \"1999-01\"\n");
        assert!(error.contains("2024-05"), "{error}");
        let error = refused("[policy]\nread_ratio = \"3/2\"\n");
        assert!(error.contains("N/D"), "{error}");
    }

    #[test]
    fn type_errors_name_the_dotted_field_on_one_line() {
        let error = refused("seed = 3\n[ecosystem]\nactive_ratio = 0.33\n");
        assert!(
            error.starts_with("`ecosystem.active_ratio` (line 3, column 16): "),
            "{error}"
        );
        assert!(error.contains("\"N/D\""), "the form is named: {error}");
        assert!(!error.contains('\n'), "one line: {error}");
        let table: toml::Table = toml::from_str("[recipients]\ncount = \"many\"\n").expect("TOML");
        let error = WorldSpec::from_table(&table)
            .expect_err("a string count")
            .to_string();
        assert!(error.starts_with("recipients.count: "), "{error}");
        assert!(
            !error.contains("line"),
            "no position of generated text: {error}"
        );
    }

    #[test]
    fn invalid_values_name_the_field() {
        let error = WorldSpec::from_toml(
            "[[waba.phone_numbers]]\nid = \"x1\"\ndisplay_phone_number = \"1555\"\ncountry = \"US\"\nchannel_id = \"c\"\nd360_api_key = \"k\"\n",
        )
        .expect_err("bad id").to_string();
        assert!(error.contains("waba.phone_numbers[0].id"), "{error}");
    }

    #[test]
    fn a_business_profile_in_a_world_file_keeps_meta_s_limits() {
        let number = "[[waba.phone_numbers]]\nid = \"1\"\ndisplay_phone_number = \"1555\"\ncountry = \"US\"\nchannel_id = \"c\"\nd360_api_key = \"k\"\n";
        let spec = WorldSpec::from_toml(&format!(
            "{number}[waba.phone_numbers.profile]\nabout = \"Open 9 to 5\"\nwebsites = [\"https://shop.test\"]\n"
        ))
        .expect("valid");
        let profile = &spec.waba.phone_numbers[0].profile;
        assert_eq!(profile.about.as_deref(), Some("Open 9 to 5"));
        assert_eq!(
            profile.vertical.as_deref(),
            Some("OTHER"),
            "fields left out keep their default"
        );
        let error = refused(&format!(
            "{number}[waba.phone_numbers.profile]\nvertical = \"SHOES\"\n"
        ));
        assert!(
            error.starts_with("waba.phone_numbers[0].profile.vertical: "),
            "{error}"
        );
        assert!(refused("[waba]\ncurrency = \"usd\"\n").starts_with("waba.currency"));
    }

    #[test]
    fn template_ids_must_be_digits_as_meta_sends_them() {
        let error = WorldSpec::from_toml(
            "[[waba.templates]]\nid = \"tpl-1\"\nname = \"x\"\nlanguage = \"en_US\"\ncategory = \"MARKETING\"\n",
        )
        .expect_err("not digits")
        .to_string();
        assert!(
            error.starts_with("waba.templates[0].id: expected digits"),
            "{error}"
        );
    }
}
