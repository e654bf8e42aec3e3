//! Platform rejections: the codes the real platform answers with, as values.
//!
//! A `PlatformError` is an answer, not a Rust error: the model returns it in an
//! `Outcome` and each API surface renders it in its own wire dialect. Titles and
//! details follow Meta's error codes page
//! (<https://developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes>).

use serde::Serialize;

/// One platform error: Graph code, title, details and the HTTP status it travels with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlatformError {
    /// The Graph error code (`131049`).
    pub code: u32,
    /// The short title (`Rate limit hit`).
    pub title: String,
    /// The explanation placed in `error_data.details`.
    pub details: String,
}

/// Well-known codes, named.
pub mod code {
    /// Could not authenticate the app user.
    pub const AUTH_EXCEPTION: u32 = 0;
    /// Invalid parameter.
    pub const INVALID_PARAMETER: u32 = 100;
    /// Access token invalid or expired.
    pub const ACCESS_TOKEN: u32 = 190;
    /// Unknown Graph path.
    pub const UNKNOWN_PATH: u32 = 2500;
    /// A callback URL failed Meta's verification request.
    pub const CALLBACK_VERIFICATION: u32 = 2200;
    /// Throughput reached.
    pub const RATE_LIMIT_HIT: u32 = 130_429;
    /// Message undeliverable.
    pub const UNDELIVERABLE: u32 = 131_026;
    /// A send whose recipient is the sending number itself.
    pub const RECIPIENT_IS_SENDER: u32 = 131_021;
    /// Required parameter missing.
    pub const PARAMETER_MISSING: u32 = 131_008;
    /// Parameter value not valid.
    pub const PARAMETER_INVALID: u32 = 131_009;
    /// A message type the platform does not take in a send.
    pub const UNSUPPORTED_MESSAGE_TYPE: u32 = 131_051;
    /// The platform could not download the media a send links to.
    pub const MEDIA_DOWNLOAD: u32 = 131_052;
    /// The media could not be uploaded (type or size not supported).
    pub const MEDIA_UPLOAD: u32 = 131_053;
    /// Re-engagement: free-form outside the customer service window.
    pub const REENGAGEMENT: u32 = 131_047;
    /// Spam rate limit hit (used for the messaging limit by default; unconfirmed).
    pub const SPAM_RATE_LIMIT: u32 = 131_048;
    /// Per-user marketing limit (healthy ecosystem engagement).
    pub const ECOSYSTEM_ENGAGEMENT: u32 = 131_049;
    /// User stopped marketing messages.
    pub const MARKETING_OPT_OUT: u32 = 131_050;
    /// Pair rate limit.
    pub const PAIR_RATE_LIMIT: u32 = 131_056;
    /// A template of a category the endpoint does not send (a utility or
    /// authentication template on `/marketing_messages`).
    pub const METHOD_NOT_ALLOWED: u32 = 131_055;
    /// Marketing through `/messages` while the WABA's
    /// `disable_marketing_messages_on_cloud_api` is set (wording unconfirmed).
    pub const MARKETING_OFF_CLOUD_API: u32 = 131_063;
    /// Template parameter count mismatch.
    pub const TEMPLATE_PARAM_COUNT: u32 = 132_000;
    /// Template missing in that language or not approved.
    pub const TEMPLATE_NOT_FOUND: u32 = 132_001;
    /// A template parameter's format does not match the template.
    pub const TEMPLATE_PARAM_FORMAT: u32 = 132_012;
    /// Template parameters that match no component of the template.
    pub const TEMPLATE_PARAM_VALIDATION: u32 = 132_018;
    /// Two-step verification PIN mismatch.
    pub const PIN_MISMATCH: u32 = 133_005;
    /// Phone number not registered.
    pub const NOT_REGISTERED: u32 = 133_010;
    /// Register/deregister rate limit (10 per 72 h).
    pub const REGISTER_RATE_LIMIT: u32 = 133_016;
    /// Template paused for low quality (sync on send; async for held messages).
    pub const TEMPLATE_PAUSED: u32 = 132_015;
    /// Template disabled after repeated pauses.
    pub const TEMPLATE_DISABLED: u32 = 132_016;
    /// Temporarily blocked for policy violations (a restricted account).
    pub const POLICY_BLOCKED: u32 = 368;
    /// The business account is locked (a disabled account).
    pub const ACCOUNT_LOCKED: u32 = 131_031;
    /// Something went wrong: the fallback (a full timer queue, an unexpected reply),
    /// and a transient error to retry.
    pub const GENERIC: u32 = 131_000;
    /// The app reached its API call rate limit.
    pub const APP_RATE_LIMIT: u32 = 4;
    /// The WhatsApp Business Account reached its API call rate limit.
    pub const WABA_RATE_LIMIT: u32 = 80_007;
    /// The business account is in maintenance mode (a throughput upgrade).
    pub const MAINTENANCE_MODE: u32 = 131_057;
    /// Server temporarily unavailable.
    pub const SERVER_UNAVAILABLE: u32 = 133_004;

    /// Every code above: each one the simulator may answer with or report in a
    /// `failed` status (the messaging-limit code is a policy parameter, 131048 by
    /// default). A unit test keeps this list complete.
    pub const ALL: &[u32] = &[
        AUTH_EXCEPTION,
        INVALID_PARAMETER,
        ACCESS_TOKEN,
        UNKNOWN_PATH,
        CALLBACK_VERIFICATION,
        RATE_LIMIT_HIT,
        UNDELIVERABLE,
        RECIPIENT_IS_SENDER,
        PARAMETER_MISSING,
        PARAMETER_INVALID,
        UNSUPPORTED_MESSAGE_TYPE,
        MEDIA_DOWNLOAD,
        MEDIA_UPLOAD,
        REENGAGEMENT,
        SPAM_RATE_LIMIT,
        ECOSYSTEM_ENGAGEMENT,
        MARKETING_OPT_OUT,
        PAIR_RATE_LIMIT,
        METHOD_NOT_ALLOWED,
        MARKETING_OFF_CLOUD_API,
        TEMPLATE_PARAM_COUNT,
        TEMPLATE_NOT_FOUND,
        TEMPLATE_PARAM_FORMAT,
        TEMPLATE_PARAM_VALIDATION,
        PIN_MISMATCH,
        NOT_REGISTERED,
        REGISTER_RATE_LIMIT,
        TEMPLATE_PAUSED,
        TEMPLATE_DISABLED,
        POLICY_BLOCKED,
        ACCOUNT_LOCKED,
        GENERIC,
        APP_RATE_LIMIT,
        WABA_RATE_LIMIT,
        MAINTENANCE_MODE,
        SERVER_UNAVAILABLE,
    ];
}

impl PlatformError {
    /// An error with the code's standard title and the given details.
    pub fn new(code: u32, details: impl Into<String>) -> Self {
        PlatformError {
            code,
            title: title_of(code).to_owned(),
            details: details.into(),
        }
    }

    /// The HTTP status this code travels with on a synchronous answer: 401 for
    /// 0/190, 403 for 10/200-299/368/130497/131031/131005, 404 for 132001, 500 for
    /// 131000/131016/131057, 503 for 2/133004, else 400. Unconfirmed for most codes:
    /// Meta's error page has no HTTP column; 360dialog gives 403 for 368, 130497 and
    /// 131031 (<https://docs.360dialog.com/docs/support/api-error-message-list>).
    pub fn http_status(&self) -> u16 {
        match self.code {
            0 | 190 => 401,
            10 | 200..=299 | 368 | 130_497 | 131_031 | 131_005 => 403,
            132_001 => 404,
            131_000 | 131_016 | 131_057 => 500,
            2 | 133_004 => 503,
            _ => 400,
        }
    }
}

/// The `href` of every `errors[]` entry in a status webhook.
pub const ERROR_HREF: &str =
    "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/";

/// 131050's title, message and details alike, without a final period (a captured
/// status webhook).
const MARKETING_OPT_OUT_TEXT: &str = "Unable to deliver the message. This recipient has chosen to stop receiving marketing messages on WhatsApp from your business";

/// The standard title of a code (Meta's error codes page; 131049 from Meta's status
/// webhook example, <https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/reference/messages/status>;
/// 131050 and 133010 as captured answers spell them).
pub fn title_of(code: u32) -> &'static str {
    match code {
        0 => "AuthException",
        100 => "Invalid parameter",
        368 => "Temporarily blocked for policies violations",
        131_031 => "Business Account locked",
        190 => "Invalid OAuth access token - Cannot parse access token",
        2500 => "Unknown path components",
        2200 => "Callback verification failed",
        130_429 => "Rate limit hit",
        131_008 => "Required parameter is missing",
        131_009 => "Parameter value is not valid",
        131_026 => "Message undeliverable",
        131_021 => "Recipient cannot be sender",
        131_051 => "Unsupported message type",
        131_052 => "Media download error",
        131_053 => "Media upload error",
        131_047 => "Re-engagement message",
        131_048 => "Spam rate limit hit",
        131_049 => "This message was not delivered to maintain healthy ecosystem engagement.",
        131_050 => MARKETING_OPT_OUT_TEXT,
        131_056 => "(Business Account, Consumer Account) pair rate limit hit",
        131_055 => "Method not allowed",
        131_063 => "Marketing messages disabled on Cloud API",
        132_000 => "Number of parameters does not match the expected number of params",
        132_001 => "Template name does not exist in the translation",
        132_012 => "Parameter format does not match format in the created template",
        132_018 => "There was an issue with the parameters in your template.",
        132_015 => "Template is Paused",
        133_005 => "Two step verification PIN Mismatch",
        133_010 => "Account not registered",
        133_016 => "Account register deregister rate limit exceeded",
        132_016 => "Template is Disabled",
        4 => "Application request limit reached",
        80_007 => "Rate limit issues",
        131_057 => "Account in maintenance mode",
        133_004 => "Server temporarily unavailable",
        _ => "Something went wrong",
    }
}

/// The standard details text of an asynchronous (status webhook) failure.
pub fn async_details_of(code: u32) -> &'static str {
    match code {
        131_049 => {
            "In order to maintain a healthy ecosystem engagement, the message failed to be delivered."
        }
        131_050 => MARKETING_OPT_OUT_TEXT,
        131_026 => "Message Undeliverable.",
        131_047 => {
            "Message failed to send because more than 24 hours have passed since the customer last replied to this number."
        }
        131_048 => {
            "Message failed to send because there are restrictions on how many messages can be sent from this phone number."
        }
        131_009 => "Parameter value is not valid.",
        131_053 => "Unable to upload the media used in the message.",
        132_015 => {
            "The template was paused while the message was held for quality assessment; the message was dropped."
        }
        _ => "Message failed to send.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_status_follows_the_reference_table() {
        assert_eq!(PlatformError::new(190, "").http_status(), 401);
        assert_eq!(PlatformError::new(131_031, "").http_status(), 403);
        assert_eq!(PlatformError::new(132_001, "").http_status(), 404);
        assert_eq!(PlatformError::new(130_429, "").http_status(), 400);
        assert_eq!(PlatformError::new(133_004, "").http_status(), 503);
    }

    #[test]
    fn the_list_of_codes_names_every_code_constant() {
        let source = include_str!("error.rs");
        let module = source
            .split_once("pub mod code {")
            .and_then(|(_, rest)| rest.split_once("pub const ALL"))
            .map(|(constants, _)| constants)
            .expect("error.rs has `pub mod code` with `ALL` after its constants");
        let mut named = 0;
        for line in module.lines() {
            let Some(rest) = line.trim().strip_prefix("pub const ") else {
                continue;
            };
            let (name, value) = rest
                .split_once(": u32 = ")
                .unwrap_or_else(|| panic!("a u32 code constant: {line}"));
            let value: u32 = value
                .trim_end_matches(';')
                .replace('_', "")
                .parse()
                .unwrap_or_else(|_| panic!("a numeric code: {line}"));
            assert!(
                code::ALL.contains(&value),
                "code::ALL lacks {name} ({value})"
            );
            named += 1;
        }
        assert_eq!(
            named,
            code::ALL.len(),
            "code::ALL lists a code twice or one not named"
        );
    }

    #[test]
    fn every_code_has_a_title_and_details() {
        for &code in code::ALL {
            assert!(!title_of(code).is_empty(), "{code}");
            assert!(!async_details_of(code).is_empty(), "{code}");
        }
    }
}
