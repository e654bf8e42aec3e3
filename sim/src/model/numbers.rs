//! Phone numbers, the WABA, business profiles and the app's webhook subscription,
//! as Graph reads and changes them:
//!
//! - `GET /{phone-number-id}` and `GET /{waba-id}/phone_numbers`: a number's
//!   fields, from the model (its quality, the WABA's messaging tier, its
//!   registration, the account's standing, the policy's throughput)
//!   (<https://developers.facebook.com/docs/graph-api/reference/whats-app-business-account-to-number-current-status/>);
//! - `GET /{waba-id}`: the WABA's fields
//!   (<https://developers.facebook.com/docs/graph-api/reference/whats-app-business-account/>);
//! - `GET|POST /{phone-number-id}/whatsapp_business_profile`: the number's
//!   business profile, changed within Meta's limits
//!   (<https://developers.facebook.com/docs/whatsapp/cloud-api/reference/business-profiles>);
//! - `GET|POST|DELETE /{waba-id}/subscribed_apps`: whether the app gets the WABA's
//!   webhooks, and an alternate callback URL (`override_callback_uri`) for its
//!   `messages` webhooks, set only once the URL passed Meta's verification
//!   handshake (<https://developers.facebook.com/docs/whatsapp/embedded-signup/webhooks/override>).
//!
//! `fields=a,b` selects fields as Graph does: a field the node type does not have is
//! Graph's error 100 "Tried accessing nonexisting field (x) on node type (T)". The
//! node's fields a request may name are listed here; the answer's shape (which
//! fields, in which order) is the HTTP shell's.

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::account::tier_of;
use super::error::{PlatformError, code};
use super::id::{PhoneNumberId, WabaId};
use super::refusal::{Object, Refusal};
use super::secret::{Secret, redact_url};
use super::spec::{ApiKind, BusinessProfileSpec, Quality};
use super::time::SimTime;
use super::webhooks::Verification;
use super::{Effect, Reply, World};
use crate::trace::TraceEvent;

/// Graph's node type of a business phone number, as its errors name it.
pub const PHONE_NUMBER_NODE: &str = "WhatsAppBusinessPhoneNumber";

/// Graph's node type of a WABA.
pub const WABA_NODE: &str = "WhatsAppBusinessAccount";

/// Graph's node type of a business profile (unconfirmed: no captured error names it).
pub const PROFILE_NODE: &str = "WhatsAppBusinessProfile";

/// A phone number's fields wasim answers with a value.
pub const PHONE_NUMBER_FIELDS: &[&str] = &[
    "id",
    "display_phone_number",
    "verified_name",
    "quality_rating",
    "code_verification_status",
    "name_status",
    "platform_type",
    "throughput",
    "status",
    "messaging_limit_tier",
    "whatsapp_business_manager_messaging_limit",
    "account_mode",
    "is_official_business_account",
    "is_pin_enabled",
    "webhook_configuration",
];

/// A phone number's fields Graph has and wasim does not simulate: a request may
/// name them, and they are left out of the answer (as Graph leaves out a field
/// without a value).
pub const PHONE_NUMBER_FIELDS_UNSIMULATED: &[&str] = &[
    "certificate",
    "new_certificate",
    "new_name_status",
    "last_onboarded_time",
    "conversational_automation",
    "health_status",
    "search_visibility",
    "eligibility_for_api_business_global_search",
    "is_preverified_number",
    "is_on_biz_app",
    "quality_score",
    "official_business_account",
    "country_code",
    "country_dial_code",
    "unified_cert_status",
    "host_platform",
    "username",
];

/// What a number carries without `fields`, alone (`GET /{phone-number-id}`) or
/// listed (`GET /{waba-id}/phone_numbers`): the fields of the answer pywa documents
/// for its phone number call and of Meta's example list, `last_onboarded_time`
/// aside. (The v23.0 spec says only `id`, `display_phone_number`, `verified_name`
/// and `quality_rating`; the later fields were added in September 2023.)
pub const PHONE_NUMBER_DEFAULT: &[&str] = &[
    "verified_name",
    "code_verification_status",
    "display_phone_number",
    "quality_rating",
    "platform_type",
    "throughput",
    "id",
];

/// A WABA's fields wasim answers with a value.
pub const WABA_FIELDS: &[&str] = &[
    "id",
    "name",
    "currency",
    "timezone_id",
    "message_template_namespace",
    "account_review_status",
    "disable_marketing_messages_on_cloud_api",
    "subscribed_apps",
];

/// A WABA's fields Graph has and wasim does not simulate.
pub const WABA_FIELDS_UNSIMULATED: &[&str] = &[
    "analytics",
    "business_verification_status",
    "country",
    "health_status",
    "is_enabled_for_insights",
    "is_shared_with_partners",
    "marketing_messages_lite_api_status",
    "marketing_messages_onboarding_status",
    "on_behalf_of_business_info",
    "ownership_type",
    "primary_business_location",
    "primary_funding_id",
    "purchase_order_number",
    "status",
    "owner_business_info",
    "phone_numbers",
    "message_templates",
];

/// What `GET /{waba-id}` answers without `fields` (Meta's reference example).
pub const WABA_DEFAULT: &[&str] = &["id", "name", "timezone_id", "message_template_namespace"];

/// A business profile's fields; all of them without `fields`.
pub const PROFILE_FIELDS: &[&str] = &[
    "about",
    "address",
    "description",
    "email",
    "profile_picture_url",
    "websites",
    "vertical",
    "messaging_product",
];

/// The verticals a business profile may have: Meta's Cloud API reference lists
/// `UNDEFINED` … `NOT_A_BIZ`, the v23.0 spec adds the last four.
pub const VERTICALS: &[&str] = &[
    "UNDEFINED",
    "OTHER",
    "AUTO",
    "BEAUTY",
    "APPAREL",
    "EDU",
    "ENTERTAIN",
    "EVENT_PLAN",
    "FINANCE",
    "GROCERY",
    "GOVT",
    "HOTEL",
    "HEALTH",
    "NONPROFIT",
    "PROF_SERVICES",
    "RETAIL",
    "TRAVEL",
    "RESTAURANT",
    "NOT_A_BIZ",
    "ALCOHOL",
    "ONLINE_GAMBLING",
    "PHYSICAL_GAMBLING",
    "OTC_DRUGS",
];

/// Longest `about` text, in characters.
pub const ABOUT_CHARS_MAX: usize = 139;
/// Longest address, in characters.
pub const ADDRESS_CHARS_MAX: usize = 256;
/// Longest description, in characters (Meta's reference; the v23.0 spec says 256).
pub const DESCRIPTION_CHARS_MAX: usize = 512;
/// Longest email, in characters.
pub const EMAIL_CHARS_MAX: usize = 128;
/// Most websites.
pub const WEBSITES_MAX: usize = 2;
/// Longest website URL, in characters.
pub const WEBSITE_CHARS_MAX: usize = 256;
/// Longest `override_callback_uri`, in characters.
pub const OVERRIDE_URI_CHARS_MAX: usize = 200;

/// Most numbers one page of `GET /{waba-id}/phone_numbers` holds, and how many
/// without `limit`.
pub const PAGE_LIMIT_MAX: usize = 100;
/// Numbers per page without `limit`.
pub const PAGE_LIMIT_DEFAULT: usize = 25;

/// The `fields` a Graph read asked for: none (the node's defaults), or names in
/// the order given (blank ones dropped, a `{…}` sub-selection ignored).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields(Option<Vec<String>>);

impl Fields {
    /// The fields of a `fields` query value (`None`: the parameter was absent).
    pub fn parse(value: Option<&str>) -> Fields {
        let Some(value) = value else {
            return Fields(None);
        };
        let mut names: Vec<String> = Vec::new();
        for part in value.split(',') {
            let name = part.split('{').next().unwrap_or("").trim();
            if !name.is_empty() && !names.iter().any(|n| n == name) {
                names.push(name.to_owned());
            }
        }
        Fields(if names.is_empty() { None } else { Some(names) })
    }

    /// The names asked for, or `default` when none were.
    pub fn or<'a>(&'a self, default: &'a [&'a str]) -> Vec<&'a str> {
        match &self.0 {
            Some(names) => names.iter().map(String::as_str).collect(),
            None => default.to_vec(),
        }
    }

    /// Refuses the first name that none of `known` lists, as Graph does.
    pub fn check(&self, known: &[&[&str]], node: &str) -> Result<(), Refusal> {
        let Some(names) = &self.0 else {
            return Ok(());
        };
        match names
            .iter()
            .find(|name| !known.iter().any(|list| list.contains(&name.as_str())))
        {
            Some(name) => Err(nonexisting_field(name, node)),
            None => Ok(()),
        }
    }
}

/// Graph's answer to a field (or edge) the node type does not have.
pub fn nonexisting_field(field: &str, node: &str) -> Refusal {
    Refusal::Platform(PlatformError {
        code: code::INVALID_PARAMETER,
        title: format!("Tried accessing nonexisting field ({field}) on node type ({node})"),
        details: format!("{node} has no field or edge `{field}`."),
    })
}

/// Where a number's webhooks go, as its `webhook_configuration` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookConfiguration {
    /// The app's callback URL, if set.
    pub application: Option<String>,
    /// The WABA's alternate callback URL, if set.
    pub whatsapp_business_account: Option<String>,
}

/// A business phone number as Graph reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneNumberView {
    /// Phone number id.
    pub id: String,
    /// The number in international format (`+1 555-010-0001`).
    pub display_phone_number: String,
    /// The business name shown for it.
    pub verified_name: String,
    /// Its quality rating.
    pub quality: Quality,
    /// The WABA's messaging tier (`TIER_10K`).
    pub messaging_limit_tier: &'static str,
    /// `STANDARD`, `HIGH` or `NOT_APPLICABLE`.
    pub throughput_level: &'static str,
    /// `VERIFIED` (fixed: wasim has no code verification).
    pub code_verification_status: &'static str,
    /// `APPROVED` (fixed: wasim has no display name review).
    pub name_status: &'static str,
    /// `CLOUD_API`, `ON_PREMISE`, or `NOT_APPLICABLE` while unregistered.
    pub platform_type: &'static str,
    /// `CONNECTED`, `DISCONNECTED`, `FLAGGED` or `BANNED`.
    pub status: &'static str,
    /// Whether two-step verification is on (a PIN is set).
    pub pin_enabled: bool,
    /// Where its webhooks go.
    pub webhook_configuration: WebhookConfiguration,
}

/// A page of `GET /{waba-id}/phone_numbers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneNumberPage {
    /// The numbers on this page.
    pub numbers: Vec<PhoneNumberView>,
    /// The cursor of the first and of the last number on the page.
    pub cursors: Option<(String, String)>,
    /// Whether numbers come before this page.
    pub has_previous: bool,
    /// Whether numbers come after it.
    pub has_next: bool,
    /// The page size.
    pub limit: usize,
}

/// Which page of the list a request asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageRequest {
    /// `limit`, if given (text as sent).
    pub limit: Option<String>,
    /// `after`: the cursor the page starts after.
    pub after: Option<String>,
    /// `before`: the cursor the page ends before.
    pub before: Option<String>,
}

/// The WABA as Graph reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WabaView {
    /// WABA id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its currency.
    pub currency: String,
    /// Graph's timezone id.
    pub timezone_id: String,
    /// The namespace of its templates, derived from the WABA id.
    pub message_template_namespace: String,
    /// `APPROVED` (fixed).
    pub account_review_status: &'static str,
    /// Whether marketing templates are refused on Cloud API's `/messages`
    /// (131063); the world file's `marketing_on_cloud_api = false`.
    pub disable_marketing_messages_on_cloud_api: bool,
    /// The apps subscribed to its webhooks (the `subscribed_apps` edge).
    pub subscribed_apps: Vec<SubscribedApp>,
}

/// An app subscribed to the WABA's webhooks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscribedApp {
    /// The app id.
    pub id: String,
    /// The app name.
    pub name: String,
    /// The WABA's alternate callback URL for `messages` webhooks, if set.
    pub override_callback_uri: Option<String>,
}

/// Whether the app gets the WABA's webhooks, and where its `messages` webhooks go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// Subscribed (`POST /subscribed_apps`) or not (`DELETE`).
    pub subscribed: bool,
    /// The verified alternate callback URL, if any.
    pub override_callback_uri: Option<String>,
}

impl Default for Subscription {
    fn default() -> Self {
        Subscription {
            subscribed: true,
            override_callback_uri: None,
        }
    }
}

/// A `POST /{waba-id}/subscribed_apps`: subscribe, with an alternate callback URL
/// and its verify token, or without (which removes an earlier one).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubscribeRequest {
    /// `override_callback_uri` and `verify_token`.
    pub override_callback: Option<(String, Secret)>,
}

impl SubscribeRequest {
    /// Reads the body of the POST (none: a plain subscription).
    pub fn from_json(body: Option<&Value>) -> Result<SubscribeRequest, PlatformError> {
        let invalid = |details: String| PlatformError::new(code::INVALID_PARAMETER, details);
        let Some(body) = body else {
            return Ok(SubscribeRequest::default());
        };
        let Some(object) = body.as_object() else {
            return Err(invalid("The body must be a JSON object.".to_owned()));
        };
        let Some(uri) = object.get("override_callback_uri") else {
            return Ok(SubscribeRequest::default());
        };
        let uri = uri
            .as_str()
            .filter(|uri| {
                (uri.starts_with("https://") || uri.starts_with("http://"))
                    && uri.chars().count() <= OVERRIDE_URI_CHARS_MAX
                    && !uri.chars().any(char::is_whitespace)
            })
            .ok_or_else(|| {
                invalid(format!(
                    "Param override_callback_uri must be an http:// or https:// URL of at most {OVERRIDE_URI_CHARS_MAX} characters."
                ))
            })?;
        let token = match object.get("verify_token") {
            Some(Value::String(token)) if !token.is_empty() => Secret::from(token.as_str()),
            Some(_) => {
                return Err(invalid(
                    "Param verify_token must be a non-empty string.".to_owned(),
                ));
            }
            None => {
                return Err(invalid(
                    "The parameter verify_token is required with override_callback_uri.".to_owned(),
                ));
            }
        };
        Ok(SubscribeRequest {
            override_callback: Some((uri.to_owned(), token)),
        })
    }
}

/// How a verification handshake went: the shell performs it
/// (`webhook::verify::handshake`) and reports it to the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeReport {
    /// The receiver's HTTP status, if it answered.
    pub http_status: Option<u16>,
    /// Whether it answered 200 with exactly the challenge (surrounding whitespace ignored).
    pub echoed: bool,
    /// Wall milliseconds the handshake took.
    pub latency_ms: u64,
    /// Why there was no answer, or what was wrong with it.
    pub error: Option<String>,
}

/// A `POST /{phone-number-id}/whatsapp_business_profile`: the fields it changes
/// (`Some(None)` clears one).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProfileUpdate {
    about: Option<String>,
    address: Option<Option<String>>,
    description: Option<Option<String>>,
    email: Option<Option<String>>,
    vertical: Option<Option<String>>,
    websites: Option<Vec<String>>,
}

impl ProfileUpdate {
    /// Reads and checks a POST body against Meta's limits; the error names the
    /// parameter (code 100).
    pub fn from_json(body: &Value) -> Result<ProfileUpdate, PlatformError> {
        let invalid = |details: String| PlatformError::new(code::INVALID_PARAMETER, details);
        let Some(object) = body.as_object() else {
            return Err(invalid("The body must be a JSON object.".to_owned()));
        };
        if object.get("messaging_product").and_then(Value::as_str) != Some("whatsapp") {
            return Err(invalid(
                "The parameter messaging_product is required and must be \"whatsapp\".".to_owned(),
            ));
        }
        let text = |key: &str| -> Result<Option<String>, PlatformError> {
            match object.get(key) {
                None => Ok(None),
                Some(Value::String(text)) => Ok(Some(text.clone())),
                Some(_) => Err(invalid(format!("Param {key} must be a string."))),
            }
        };
        let about = text("about")?;
        if let Some(about) = &about {
            check_about(about).map_err(invalid)?;
        }
        let cleared = |value: Option<String>| value.map(|v| Some(v).filter(|v| !v.is_empty()));
        let address = cleared(text("address")?);
        let description = cleared(text("description")?);
        let email = cleared(text("email")?);
        let vertical = cleared(text("vertical")?);
        let check = |value: &Option<Option<String>>,
                     rule: fn(&str) -> Result<(), String>|
         -> Result<(), PlatformError> {
            match value {
                Some(Some(value)) => rule(value).map_err(invalid),
                _ => Ok(()),
            }
        };
        check(&address, check_address)?;
        check(&description, check_description)?;
        check(&email, check_email)?;
        check(&vertical, check_vertical)?;
        let websites = match object.get("websites") {
            None => None,
            // An empty string clears them, as an empty list does (pywa sends it).
            Some(Value::String(text)) if text.is_empty() => Some(Vec::new()),
            Some(Value::Array(items)) => {
                let mut websites = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        Value::String(url) => websites.push(url.clone()),
                        _ => {
                            return Err(invalid(
                                "Param websites must be an array of strings.".to_owned(),
                            ));
                        }
                    }
                }
                check_websites(&websites).map_err(invalid)?;
                Some(websites)
            }
            Some(_) => {
                return Err(invalid(
                    "Param websites must be an array of strings.".to_owned(),
                ));
            }
        };
        Ok(ProfileUpdate {
            about,
            address,
            description,
            email,
            vertical,
            websites,
        })
    }

    /// The profile with this update applied.
    fn apply(self, profile: &mut BusinessProfileSpec) {
        if let Some(about) = self.about {
            profile.about = Some(about);
        }
        for (field, value) in [
            (&mut profile.address, self.address),
            (&mut profile.description, self.description),
            (&mut profile.email, self.email),
            (&mut profile.vertical, self.vertical),
        ] {
            if let Some(value) = value {
                *field = value;
            }
        }
        if let Some(websites) = self.websites {
            profile.websites = websites;
        }
    }
}

fn chars_at_most(key: &str, value: &str, max: usize) -> Result<(), String> {
    if value.chars().count() > max {
        Err(format!(
            "Param {key} must be at most {max} characters long."
        ))
    } else {
        Ok(())
    }
}

fn check_about(about: &str) -> Result<(), String> {
    if about.is_empty() {
        return Err(format!(
            "Param about must be 1 to {ABOUT_CHARS_MAX} characters long."
        ));
    }
    chars_at_most("about", about, ABOUT_CHARS_MAX)
}

fn check_address(address: &str) -> Result<(), String> {
    chars_at_most("address", address, ADDRESS_CHARS_MAX)
}

fn check_description(description: &str) -> Result<(), String> {
    chars_at_most("description", description, DESCRIPTION_CHARS_MAX)
}

fn check_email(email: &str) -> Result<(), String> {
    chars_at_most("email", email, EMAIL_CHARS_MAX)?;
    let valid = email.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty()
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains('@')
    }) && !email.chars().any(char::is_whitespace);
    if valid {
        Ok(())
    } else {
        Err("Param email must be a valid email address.".to_owned())
    }
}

fn check_vertical(vertical: &str) -> Result<(), String> {
    if VERTICALS.contains(&vertical) {
        Ok(())
    } else {
        Err(format!(
            "Param vertical must be one of {{{}}} - got \"{vertical}\".",
            VERTICALS.join(", ")
        ))
    }
}

fn check_websites(websites: &[String]) -> Result<(), String> {
    if websites.len() > WEBSITES_MAX {
        return Err(format!(
            "Param websites must have at most {WEBSITES_MAX} entries."
        ));
    }
    for (index, url) in websites.iter().enumerate() {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(format!(
                "Param websites[{index}] must start with http:// or https://."
            ));
        }
        chars_at_most(&format!("websites[{index}]"), url, WEBSITE_CHARS_MAX)?;
    }
    Ok(())
}

/// A check of one profile field's value.
type Rule = fn(&str) -> Result<(), String>;

/// Checks a business profile a world file gives; the error says what is wrong.
pub fn check_profile(profile: &BusinessProfileSpec) -> Result<(), (&'static str, String)> {
    let each: [(&'static str, &Option<String>, Rule); 5] = [
        ("about", &profile.about, check_about),
        ("address", &profile.address, check_address),
        ("description", &profile.description, check_description),
        ("email", &profile.email, check_email),
        ("vertical", &profile.vertical, check_vertical),
    ];
    for (field, value, rule) in each {
        // An empty string unsets a field (`about` cannot be empty).
        if let Some(value) = value
            .as_deref()
            .filter(|v| field == "about" || !v.is_empty())
        {
            rule(value).map_err(|problem| (field, problem))?;
        }
    }
    check_websites(&profile.websites).map_err(|problem| ("websites", problem))
}

/// The namespace of a WABA's templates: 32 hex digits from its id, grouped as
/// Meta writes them (`ba30dd89_2ebd_41e4_b805_f2c05ae04cc9`).
pub fn template_namespace(waba_id: &str) -> String {
    let digest = Sha256::new()
        .chain_update(b"wasim-template-namespace\0")
        .chain_update(waba_id.as_bytes())
        .finalize();
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!(
        "{}_{}_{}_{}_{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// The opaque cursor of the number with `id` in a list (base64 of the id, as
/// Graph's cursors look).
pub fn cursor(id: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = id.as_bytes();
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn invalid_page(details: String) -> Refusal {
    Refusal::Platform(PlatformError::new(code::INVALID_PARAMETER, details))
}

impl World {
    /// The index of the number `id` names, if it is one of the world's.
    pub(crate) fn phone_index(&self, id: &str) -> Option<usize> {
        self.phone_numbers.iter().position(|p| p.spec.id == id)
    }

    /// Number `index` as Graph reads it.
    pub(crate) fn phone_number_view(&self, index: usize) -> PhoneNumberView {
        let spec = &self.phone_numbers[index].spec;
        let status = if self.account.terminated_at.is_some() {
            "BANNED"
        } else if !spec.registered {
            "DISCONNECTED"
        } else if spec.quality == Quality::Red {
            "FLAGGED"
        } else {
            "CONNECTED"
        };
        let platform_type = match (spec.registered, spec.api) {
            (false, _) => "NOT_APPLICABLE",
            (true, ApiKind::Cloud) => "CLOUD_API",
            (true, ApiKind::OnPremises) => "ON_PREMISE",
        };
        let throughput_level = match spec.api {
            ApiKind::OnPremises => "NOT_APPLICABLE",
            ApiKind::Cloud if self.policy.throughput_mps >= 1_000 => "HIGH",
            ApiKind::Cloud => "STANDARD",
        };
        let endpoints = &self.webhooks.endpoints;
        PhoneNumberView {
            id: spec.id.clone(),
            display_phone_number: super::country::international(&spec.display_phone_number),
            verified_name: spec
                .verified_name
                .clone()
                .unwrap_or_else(|| self.spec.client.name.clone()),
            quality: spec.quality,
            messaging_limit_tier: tier_of(self.spec.waba.messaging_limit),
            throughput_level,
            code_verification_status: "VERIFIED",
            name_status: "APPROVED",
            platform_type,
            status,
            pin_enabled: spec.pin.is_some(),
            webhook_configuration: WebhookConfiguration {
                application: endpoints.callback_url.clone(),
                whatsapp_business_account: endpoints.subscription.override_callback_uri.clone(),
            },
        }
    }

    /// The WABA as Graph reads it.
    pub(crate) fn waba_view(&self) -> WabaView {
        let waba = &self.spec.waba;
        WabaView {
            id: waba.id.clone(),
            name: waba.name.clone(),
            currency: waba.currency.clone(),
            timezone_id: waba.timezone_id.clone(),
            message_template_namespace: template_namespace(&waba.id),
            account_review_status: "APPROVED",
            disable_marketing_messages_on_cloud_api: !waba.marketing_on_cloud_api,
            subscribed_apps: self.subscribed_app_list(),
        }
    }

    /// The app, if it is subscribed to the WABA's webhooks.
    fn subscribed_app_list(&self) -> Vec<SubscribedApp> {
        let subscription = &self.webhooks.endpoints.subscription;
        if !subscription.subscribed {
            return Vec::new();
        }
        vec![SubscribedApp {
            id: self.spec.app_id.clone(),
            name: self.spec.app_name.clone(),
            override_callback_uri: subscription.override_callback_uri.clone(),
        }]
    }

    /// `GET /{id}` of a phone number or the WABA, if `id` names one.
    pub(crate) fn get_number_or_waba(
        &self,
        id: &str,
        fields: &Fields,
    ) -> Option<Result<Reply, Refusal>> {
        if let Some(index) = self.phone_index(id) {
            return Some(
                fields
                    .check(
                        &[PHONE_NUMBER_FIELDS, PHONE_NUMBER_FIELDS_UNSIMULATED],
                        PHONE_NUMBER_NODE,
                    )
                    .map(|()| Reply::PhoneNumber(Box::new(self.phone_number_view(index)))),
            );
        }
        (id == self.spec.waba.id).then(|| {
            fields
                .check(&[WABA_FIELDS, WABA_FIELDS_UNSIMULATED], WABA_NODE)
                .map(|()| Reply::Waba(Box::new(self.waba_view())))
        })
    }

    /// The WABA an edge of `/{id}/{edge}` belongs to: the path must name the WABA
    /// (a phone number has no such edge: Graph's nonexisting field).
    fn waba_edge(&self, id: &WabaId, edge: &str) -> Result<(), Refusal> {
        if id.as_str() == self.spec.waba.id {
            Ok(())
        } else if self.phone_index(id.as_str()).is_some() {
            Err(nonexisting_field(edge, PHONE_NUMBER_NODE))
        } else {
            Err(Refusal::not_found(Object::Waba, id.as_str()))
        }
    }

    /// The number an edge of `/{id}/{edge}` belongs to (the WABA has no such edge).
    fn number_edge(&self, id: &PhoneNumberId, edge: &str) -> Result<usize, Refusal> {
        if let Some(index) = self.phone_index(id.as_str()) {
            Ok(index)
        } else if id.as_str() == self.spec.waba.id {
            Err(nonexisting_field(edge, WABA_NODE))
        } else {
            Err(Refusal::not_found(Object::PhoneNumber, id.as_str()))
        }
    }

    /// `GET /{waba-id}/phone_numbers`: a page of the numbers, in the world's order.
    pub(crate) fn list_phone_numbers(
        &self,
        credential: Option<&Secret>,
        waba_id: &WabaId,
        fields: &Fields,
        page: &PageRequest,
    ) -> Result<Reply, Refusal> {
        self.check_access_token(credential)?;
        self.waba_edge(waba_id, "phone_numbers")?;
        fields.check(
            &[PHONE_NUMBER_FIELDS, PHONE_NUMBER_FIELDS_UNSIMULATED],
            PHONE_NUMBER_NODE,
        )?;
        let limit = match &page.limit {
            None => PAGE_LIMIT_DEFAULT,
            Some(text) => match text.trim().parse::<usize>() {
                Ok(0) | Err(_) => {
                    return Err(invalid_page(format!(
                        "Param limit must be a positive integer, got \"{text}\"."
                    )));
                }
                Ok(limit) => limit.min(PAGE_LIMIT_MAX),
            },
        };
        let ids: Vec<&str> = self
            .phone_numbers
            .iter()
            .map(|p| p.spec.id.as_str())
            .collect();
        let position = |cursor_text: &str, name: &str| {
            ids.iter()
                .position(|id| cursor(id) == cursor_text)
                .ok_or_else(|| invalid_page(format!("Param {name} is not a valid cursor.")))
        };
        let (start, end) = match (&page.after, &page.before) {
            (Some(after), _) => {
                let start = position(after, "after")? + 1;
                (start, (start + limit).min(ids.len()))
            }
            (None, Some(before)) => {
                let end = position(before, "before")?;
                (end.saturating_sub(limit), end)
            }
            (None, None) => (0, limit.min(ids.len())),
        };
        let numbers: Vec<PhoneNumberView> = (start..end)
            .map(|index| self.phone_number_view(index))
            .collect();
        let cursors = match (numbers.first(), numbers.last()) {
            (Some(first), Some(last)) => Some((cursor(&first.id), cursor(&last.id))),
            _ => None,
        };
        Ok(Reply::PhoneNumbers(PhoneNumberPage {
            has_previous: start > 0 && !numbers.is_empty(),
            has_next: end < ids.len(),
            numbers,
            cursors,
            limit,
        }))
    }

    /// `GET /{phone-number-id}/whatsapp_business_profile`.
    pub(crate) fn business_profile(
        &self,
        credential: Option<&Secret>,
        phone_number_id: &PhoneNumberId,
        fields: &Fields,
    ) -> Result<Reply, Refusal> {
        self.check_access_token(credential)?;
        let index = self.number_edge(phone_number_id, "whatsapp_business_profile")?;
        fields.check(&[PROFILE_FIELDS], PROFILE_NODE)?;
        Ok(Reply::BusinessProfile(Box::new(
            self.phone_numbers[index].spec.profile.clone(),
        )))
    }

    /// `POST /{phone-number-id}/whatsapp_business_profile`: the fields given
    /// replace the profile's (the request's own trace record says it happened).
    pub(crate) fn update_business_profile(
        &mut self,
        credential: Option<&Secret>,
        phone_number_id: &PhoneNumberId,
        update: Result<ProfileUpdate, Refusal>,
    ) -> Result<Reply, Refusal> {
        self.check_access_token(credential)?;
        let index = self.number_edge(phone_number_id, "whatsapp_business_profile")?;
        update?.apply(&mut self.phone_numbers[index].spec.profile);
        Ok(Reply::Done)
    }

    /// `GET /{waba-id}/subscribed_apps`: the app, if subscribed.
    pub(crate) fn subscribed_apps(
        &self,
        credential: Option<&Secret>,
        waba_id: &WabaId,
    ) -> Result<Reply, Refusal> {
        self.check_access_token(credential)?;
        self.waba_edge(waba_id, "subscribed_apps")?;
        Ok(Reply::SubscribedApps(self.subscribed_app_list()))
    }

    /// `POST /{waba-id}/subscribed_apps`: subscribes at once without an alternate
    /// callback URL; with one, answers the handshake the shell must perform first
    /// (nothing changes until [`World::subscription_verified`]).
    pub(crate) fn subscribe_app(
        &mut self,
        now: SimTime,
        credential: Option<&Secret>,
        waba_id: &WabaId,
        request: Result<SubscribeRequest, Refusal>,
        effects: &mut Vec<Effect>,
    ) -> Result<Reply, Refusal> {
        self.check_access_token(credential)?;
        self.waba_edge(waba_id, "subscribed_apps")?;
        match request?.override_callback {
            None => {
                self.set_subscription(now, true, None, effects);
                Ok(Reply::Done)
            }
            Some((url, verify_token)) => {
                Ok(Reply::Verify(self.next_verification(url, verify_token)))
            }
        }
    }

    /// The handshake of an alternate callback URL finished: on an echo the WABA is
    /// subscribed with it, otherwise nothing changes and the POST is refused.
    pub(crate) fn subscription_verified(
        &mut self,
        now: SimTime,
        verification: Verification,
        report: HandshakeReport,
        effects: &mut Vec<Effect>,
    ) -> Result<Reply, Refusal> {
        self.verification_finished(report.echoed);
        let url = redact_url(&verification.url);
        effects.push(Effect::TraceMeasured {
            at: now,
            event: TraceEvent::WebhookVerification {
                verification_id: verification.id,
                url: url.clone(),
                verify_token: verification.verify_token.fingerprint(),
                http_status: report.http_status,
                echoed: report.echoed,
                error: report.error.clone(),
            },
            latency_ms: report.latency_ms,
        });
        if !report.echoed {
            let why = report
                .error
                .unwrap_or_else(|| "it did not echo hub.challenge".to_owned());
            return Err(Refusal::Platform(PlatformError::new(
                code::CALLBACK_VERIFICATION,
                format!(
                    "The alternate callback URL {url} failed the verification request (GET with hub.mode=subscribe, hub.challenge, hub.verify_token): {why}."
                ),
            )));
        }
        self.set_subscription(now, true, Some(verification.url), effects);
        Ok(Reply::Done)
    }

    /// `DELETE /{waba-id}/subscribed_apps`: no Meta webhook of the WABA is posted
    /// any more, and its alternate callback URL is forgotten.
    pub(crate) fn unsubscribe_app(
        &mut self,
        now: SimTime,
        credential: Option<&Secret>,
        waba_id: &WabaId,
        effects: &mut Vec<Effect>,
    ) -> Result<Reply, Refusal> {
        self.check_access_token(credential)?;
        self.waba_edge(waba_id, "subscribed_apps")?;
        self.set_subscription(now, false, None, effects);
        Ok(Reply::Done)
    }

    fn set_subscription(
        &mut self,
        now: SimTime,
        subscribed: bool,
        override_callback_uri: Option<String>,
        effects: &mut Vec<Effect>,
    ) {
        effects.push(Effect::Trace {
            at: now,
            event: TraceEvent::WebhookConfigured {
                scope: if subscribed {
                    "waba_subscribed"
                } else {
                    "waba_unsubscribed"
                }
                .to_owned(),
                phone_number_id: None,
                url: override_callback_uri.as_deref().map(redact_url),
                headers: Vec::new(),
            },
        });
        self.webhooks.endpoints.subscription = Subscription {
            subscribed,
            override_callback_uri,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Map, json};

    fn object_of(pairs: &[(&str, Value)]) -> Map<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    #[test]
    fn fields_are_read_in_order_without_blanks_duplicates_or_sub_selections() {
        assert_eq!(Fields::parse(None).or(&["id"]), vec!["id"]);
        assert_eq!(Fields::parse(Some("")).or(&["id"]), vec!["id"]);
        assert_eq!(
            Fields::parse(Some("status, id,,throughput{level},status")).or(&["x"]),
            vec!["status", "id", "throughput"]
        );
    }

    #[test]
    fn an_unknown_field_is_graph_s_nonexisting_field() {
        let refusal = Fields::parse(Some("id,colour"))
            .check(&[PHONE_NUMBER_FIELDS], PHONE_NUMBER_NODE)
            .expect_err("colour is no field");
        let Refusal::Platform(error) = refusal else {
            panic!("a platform error: {refusal:?}");
        };
        assert_eq!(error.code, 100);
        assert_eq!(
            error.title,
            "Tried accessing nonexisting field (colour) on node type (WhatsAppBusinessPhoneNumber)"
        );
    }

    #[test]
    fn cursors_are_base64_of_the_id() {
        assert_eq!(cursor("110000000000001"), "MTEwMDAwMDAwMDAwMDAx");
        assert_eq!(cursor("a"), "YQ==");
        assert_eq!(cursor("ab"), "YWI=");
    }

    #[test]
    fn the_template_namespace_is_grouped_hex_from_the_waba_id() {
        let namespace = template_namespace("100000000000001");
        let groups: Vec<usize> = namespace.split('_').map(str::len).collect();
        assert_eq!(groups, vec![8, 4, 4, 4, 12], "{namespace}");
        assert_eq!(namespace, template_namespace("100000000000001"));
        assert_ne!(namespace, template_namespace("100000000000002"));
    }

    #[test]
    fn profile_updates_follow_meta_s_limits() {
        let ok = |body: Value| ProfileUpdate::from_json(&body).expect("valid");
        let refused = |body: Value| {
            ProfileUpdate::from_json(&body)
                .expect_err("refused")
                .details
        };
        let base = |pairs: &[(&str, Value)]| {
            let mut object = object_of(pairs);
            object.insert("messaging_product".to_owned(), json!("whatsapp"));
            Value::Object(object)
        };
        ok(base(&[("about", json!("a".repeat(139)))]));
        assert!(refused(base(&[("about", json!("a".repeat(140)))])).contains("about"));
        assert!(refused(base(&[("about", json!(""))])).contains("about"));
        ok(base(&[("description", json!("é".repeat(512)))]));
        assert!(refused(base(&[("description", json!("a".repeat(513)))])).contains("512"));
        assert!(refused(base(&[("email", json!("not-an-email"))])).contains("email"));
        assert!(
            refused(base(&[(
                "websites",
                json!(["https://a.test", "https://b.test", "https://c.test"])
            )]))
            .contains("at most 2")
        );
        assert!(refused(base(&[("websites", json!(["ftp://a.test"]))])).contains("websites[0]"));
        assert!(refused(base(&[("vertical", json!("SHOES"))])).contains("SHOES"));
        assert!(refused(json!({"about": "hi"})).contains("messaging_product"));
        assert!(refused(base(&[("about", json!(5))])).contains("must be a string"));
        let cleared = ok(base(&[("email", json!("")), ("vertical", json!(""))]));
        assert_eq!(cleared.email, Some(None));
        assert_eq!(cleared.vertical, Some(None));
    }

    #[test]
    fn a_subscription_with_an_override_needs_a_url_and_a_verify_token() {
        assert_eq!(
            SubscribeRequest::from_json(None),
            Ok(SubscribeRequest::default())
        );
        let with = SubscribeRequest::from_json(Some(&json!({
            "override_callback_uri": "https://hooks.test/w", "verify_token": "t"
        })))
        .expect("valid");
        assert_eq!(
            with.override_callback.map(|(url, _)| url).as_deref(),
            Some("https://hooks.test/w")
        );
        for bad in [
            json!({"override_callback_uri": "https://hooks.test/w"}),
            json!({"override_callback_uri": "ftp://hooks.test/w", "verify_token": "t"}),
            json!({"override_callback_uri": format!("https://h.test/{}", "a".repeat(200)), "verify_token": "t"}),
            json!({"override_callback_uri": "https://hooks.test/w", "verify_token": 7}),
            json!("x"),
        ] {
            assert!(SubscribeRequest::from_json(Some(&bad)).is_err(), "{bad}");
        }
    }
}
