//! Named, dated policy profiles: every number the platform does not publish.
//!
//! A profile fixes how the send-time rules behave at a point in the platform's
//! history. `2024-05` is the world of 360dialog's May 2024 partner newsletter;
//! `2025-07` follows Meta's per-message pricing and per-message marketing counting;
//! `2026-04` keeps 2025-07's rules and adds business-scoped user ids (BSUIDs) to
//! webhooks, as Meta did from April 2026
//! (<https://developers.facebook.com/documentation/business-messaging/whatsapp/business-scoped-user-ids>).
//! Values no public source states are marked UNCONFIRMED: they are defaults here,
//! overridable per world file (`[policy]`). `docs/platform-rules.md` gives each
//! rule's public source.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::rng::Ratio;

/// The profile used when none is named.
pub const DEFAULT_PROFILE: &str = "2024-05";

/// The names of every built-in profile.
pub const PROFILES: &[&str] = &["2024-05", "2025-07", "2026-04"];

/// Which marketing templates count against the per-user marketing limit (2024-05:
/// 360dialog partner newsletter, 2024-05-09; 2025-07:
/// <https://developers.facebook.com/documentation/business-messaging/whatsapp/templates/marketing-templates/per-user-limits>).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarketingCounting {
    /// 2024-05: only templates that open a new marketing conversation count; an open
    /// marketing conversation with the business exempts.
    NewConversation,
    /// 2025-07: every delivered marketing message counts; only a customer service
    /// window opened by a reply to marketing exempts.
    EveryDelivered,
}

/// The pricing model shown in status webhooks
/// (<https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/reference/messages/status>).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum PricingModel {
    /// Conversation-based pricing (webhooks before 1 July 2025).
    Cbp,
    /// Per-message pricing (from 1 July 2025).
    Pmp,
}

/// Whether an error is answered at once (HTTP) or reported later as a `failed` status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorSurface {
    /// Synchronous Graph error answer.
    Sync,
    /// HTTP 200 with a wamid, then a `failed` status webhook.
    Async,
}

/// How a send's parameter errors are answered (a missing field, a value out of
/// bounds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParameterErrors {
    /// As the live API answers: code 100 with the specific message
    /// ("(#100) The parameter text['body'] is required.") and no `error_data`.
    Live,
    /// With the codes of Meta's error table: 131008 for a missing parameter,
    /// 131009 for a value not valid, the specific text in `error_data.details`.
    Table,
}

/// Which 360dialog client webhook wins when both are set (UNCONFIRMED).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum D360WebhookPrecedence {
    /// The WABA webhook takes every number's changes.
    Waba,
    /// A number's channel webhook takes its changes; the WABA webhook the rest.
    Channel,
}

/// One policy profile. Field docs give each default and its source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// The profile's name (`2024-05`).
    pub profile: String,
    /// Which marketing templates count toward the per-user limit.
    pub marketing_counting: MarketingCounting,
    /// Counted marketing messages one user may get from all businesses per window.
    /// UNCONFIRMED: Meta publishes no number (the limit is dynamic). Default 2.
    pub marketing_cap: u32,
    /// The window the cap counts over, in hours. UNCONFIRMED; default 24.
    pub marketing_cap_window_hours: u64,
    /// How many 131049 failures to one user within 24 h block that user. Meta says
    /// "repeated retries"; the number is UNCONFIRMED. Default 3.
    pub marketing_retry_block_threshold: u32,
    /// How long such a block lasts, in hours (Meta: "up to 24 hours"). Default 24.
    pub marketing_retry_block_hours: u64,
    /// Whether marketing templates to US numbers fail with 131049 (from 1 April 2025).
    pub us_marketing_pause: bool,
    /// The pricing model of status webhooks.
    pub pricing_model: PricingModel,
    /// Messages per second per phone number before 130429 (80 by default:
    /// <https://developers.facebook.com/docs/whatsapp/cloud-api/overview#throughput>).
    pub throughput_mps: u32,
    /// Pair rate limit: one message per this many milliseconds to one user (6 s:
    /// <https://developers.facebook.com/docs/whatsapp/overview#rate-limits>).
    pub pair_interval_ms: u64,
    /// Pair rate limit: the burst allowed to one user (45, same page).
    pub pair_burst: u32,
    /// Hours a user's message keeps the customer service window open (24).
    pub customer_service_window_hours: u64,
    /// Hours a conversation stays open once started (24).
    pub conversation_hours: u64,
    /// How 131047 (free-form outside the window) surfaces. UNCONFIRMED (Meta's error
    /// codes page gives the code, not how it comes); default async.
    /// <https://developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes>
    pub reengagement_surface: ErrorSurface,
    /// How a send's parameter errors are answered. Default `live`: code 100 with the
    /// specific message, as the live API answers (a test suite run against it,
    /// <https://github.com/mglasner/whatsappy/blob/main/tests/test_text_messages.py>,
    /// and captured answers for `messaging_product`); `table` answers 131008 and
    /// 131009 of Meta's error codes page
    /// (<https://developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes>),
    /// which the live API was not seen to use for these. Which messages Graph gives
    /// for values out of bounds is UNCONFIRMED (ours say "Param … must …").
    pub parameter_errors: ParameterErrors,
    /// The code a send over the messaging limit fails with (async). UNCONFIRMED (Meta's
    /// messaging-limits page names none); default 131048.
    /// <https://developers.facebook.com/docs/whatsapp/messaging-limits>
    pub messaging_limit_error_code: u32,
    /// Least and most milliseconds from accept to `sent`.
    pub sent_delay_ms: [u64; 2],
    /// Least and most milliseconds from `sent` to `delivered`.
    pub delivered_delay_ms: [u64; 2],
    /// Least and most milliseconds from `delivered` to `read`.
    pub read_delay_ms: [u64; 2],
    /// Share of delivered messages that are read.
    pub read_ratio: Ratio,
    /// Share of reads that happen together with delivery, so `delivered` is skipped.
    pub read_with_delivery_ratio: Ratio,
    /// Share of Turkish (+90) users who accepted the updated terms; the others only
    /// ever show `sent` (360dialog partner newsletter, 2024-05-09).
    pub turkey_terms_accepted_ratio: Ratio,
    /// Numbers the world does not know are not WhatsApp users: 131026.
    pub unknown_recipients_undeliverable: bool,
    /// How long an unacknowledged webhook is retried, in hours. Meta's docs say both
    /// 36 h ("Create a webhook endpoint") and 7 days (throughput page, 360dialog);
    /// default 168 (7 days).
    pub webhook_retry_window_hours: u64,
    /// Delay before the first retry, in milliseconds; doubles per retry. UNCONFIRMED
    /// (Meta: "immediately, then with decreasing frequency"); default 5000.
    pub webhook_retry_initial_ms: u64,
    /// Longest delay between retries, in milliseconds. UNCONFIRMED; default 3600000.
    pub webhook_retry_interval_max_ms: u64,
    /// Most attempts per webhook (a bound). Default 500.
    pub webhook_attempts_max: u32,
    /// Which 360dialog webhook takes a number's changes when both a channel webhook
    /// (`/v1/configs/webhook`) and a WABA webhook (`/waba_webhook`) are set.
    /// UNCONFIRMED; default `waba`, after 360dialog's migration guide ("use the
    /// WABA Webhook endpoint to configure a new Webhook for all Cloud numbers").
    /// <https://docs.360dialog.com/docs/waba-basics/waba-integration/onprem-greater-than-cloudapi-migration>
    pub d360_webhook_precedence: D360WebhookPrecedence,
    /// Messages a paced template sends before later ones are held ("an unspecified
    /// threshold": <https://developers.facebook.com/documentation/business-messaging/whatsapp/templates/template-pacing>).
    /// UNCONFIRMED; default 100.
    pub pacing_threshold: u32,
    /// Virtual milliseconds from the first held message to the pacing decision
    /// (same page: "within an hour (99 percentile)"; once "a maximum of 30 minutes").
    /// Default 1800000.
    pub pacing_decision_ms: u64,
    /// Negative feedback (blocks, reports) among a round's sent messages at which
    /// pacing pauses the template. UNCONFIRMED; default 1/10.
    pub pacing_bad_ratio: Ratio,
    /// The share of recipients who react badly to a template, unless set per
    /// template through the control API. Default 1/100.
    pub template_negative_ratio: Ratio,
    /// Hours of the first and second pause of a `RED` template; the next one
    /// disables it (3 h, 6 h, disabled: <https://developers.facebook.com/docs/whatsapp/template-pausing>).
    pub pause_hours: Vec<u64>,
    /// Virtual milliseconds a new template waits in review (`PENDING`). Meta says
    /// minutes to 24 h; default 300000 (5 min).
    pub template_review_ms: u64,
    /// The share of new templates review rejects (drawn from the seed). Default 0/1.
    pub template_rejection_ratio: Ratio,
    /// Sent messages per quality measurement of a template: after each window
    /// its quality is recomputed from the negative feedback drawn. Default 50.
    pub quality_window: u32,
    /// Negative share in a window at which quality drops to `YELLOW`. Default 1/20.
    pub quality_yellow_ratio: Ratio,
    /// Negative share in a window at which quality drops to `RED` (which pauses
    /// the template). Default 1/5.
    pub quality_red_ratio: Ratio,
    /// Register and deregister requests one number may make per 72 h before 133016
    /// (10: <https://developers.facebook.com/docs/whatsapp/cloud-api/reference/registration>).
    pub register_requests_max: u32,
    /// Unix seconds from which On-Premises numbers cannot register (360dialog stopped
    /// onboarding On-Prem on 15 May 2024: 360dialog partner newsletter, 2024-05-09;
    /// <https://docs.360dialog.com/whatsapp-api/whatsapp-api>). Default 1715731200.
    pub on_prem_registration_closes_unix: u64,
    /// Countries Cloud API does not serve until a date: ISO country → unix seconds
    /// from which it does. Before that date a send to a user there fails with 131026
    /// and a business number there cannot register on Cloud API (error 100; the real
    /// code is UNCONFIRMED). Turkey opened "before the end of May" 2024 (the
    /// 360dialog partner newsletter, 2024-05-09); the
    /// exact day is UNCONFIRMED, the `2024-05` default is 2024-05-28 (1716854400).
    pub cloud_api_available_from: BTreeMap<String, u64>,
    /// The HTTP status 360dialog answers a template send with while it has disabled
    /// template messaging for a flagged WABA (UNCONFIRMED; 360dialog's error list,
    /// <https://docs.360dialog.com/docs/support/api-error-message-list>, has 403 "The
    /// endpoint is blocked" and 400 "Your WhatsApp for Business API has been
    /// disabled"). Default 403.
    pub template_block_http_status: u16,
    /// The `developer_message` of that answer. Default "The endpoint is blocked".
    pub template_block_message: String,
    /// Whether free-form (session) messages are blocked too while template messaging
    /// is disabled (probably not; UNCONFIRMED). Default false.
    pub template_block_free_form: bool,
    /// Whether webhooks carry business-scoped user ids (Meta from April 2026, not in
    /// the v23.0 OpenAPI spec:
    /// <https://developers.facebook.com/documentation/business-messaging/whatsapp/business-scoped-user-ids>):
    /// `value.contacts[].user_id` and
    /// `messages[].from_user_id` on inbound messages; `statuses[].recipient_user_id`
    /// and a `value.contacts` array (`profile`, `wa_id`, `user_id`) on status webhooks.
    /// A BSUID is `CC.<20 digits>`: the user's ISO country, then digits derived from
    /// the seed, the WABA id and the user's wa_id (see `model::bsuid`). A status that
    /// failed with 131026 (undeliverable: not a WhatsApp user, or one Cloud API does
    /// not reach) has none. UNCONFIRMED: whether Meta
    /// puts them on other `failed` statuses of messages sent to a phone number
    /// (whatsapp-api-js 6.3.0 reads Meta's page as leaving `recipient_user_id` and
    /// `contacts` off there; pywa 4.5.0 drops a status webhook without `contacts`);
    /// they are on. Default false; true from `2026-04`.
    pub bsuid: bool,
}

/// Longest span a policy may set, in hours (ten years): every hour and millisecond
/// field is bounded by it, so no time computed from one can overflow.
pub const POLICY_HOURS_MAX: u64 = 10 * 365 * 24;

impl Policy {
    /// Checks the numbers a world file may override: spans within
    /// [`POLICY_HOURS_MAX`], delay ranges low to high. The error names the field.
    pub fn check(&self) -> Result<(), super::fields::FieldError> {
        use super::fields::FieldError;
        let ms_max = POLICY_HOURS_MAX * super::time::HOUR_MS;
        let hours = [
            (
                "marketing_cap_window_hours",
                self.marketing_cap_window_hours,
            ),
            (
                "marketing_retry_block_hours",
                self.marketing_retry_block_hours,
            ),
            (
                "customer_service_window_hours",
                self.customer_service_window_hours,
            ),
            ("conversation_hours", self.conversation_hours),
            (
                "webhook_retry_window_hours",
                self.webhook_retry_window_hours,
            ),
        ];
        for (field, value) in hours
            .into_iter()
            .chain(self.pause_hours.iter().map(|h| ("pause_hours", *h)))
        {
            if value > POLICY_HOURS_MAX {
                return Err(FieldError::new(
                    format!("policy.{field}"),
                    format!("expected at most {POLICY_HOURS_MAX} hours, got {value}"),
                ));
            }
        }
        let ms = [
            ("pair_interval_ms", self.pair_interval_ms),
            ("webhook_retry_initial_ms", self.webhook_retry_initial_ms),
            (
                "webhook_retry_interval_max_ms",
                self.webhook_retry_interval_max_ms,
            ),
            ("pacing_decision_ms", self.pacing_decision_ms),
            ("template_review_ms", self.template_review_ms),
        ];
        let delays = [
            ("sent_delay_ms", self.sent_delay_ms),
            ("delivered_delay_ms", self.delivered_delay_ms),
            ("read_delay_ms", self.read_delay_ms),
        ];
        for (field, value) in ms.into_iter().chain(
            delays
                .iter()
                .flat_map(|(field, [low, high])| [(*field, *low), (*field, *high)]),
        ) {
            if value > ms_max {
                return Err(FieldError::new(
                    format!("policy.{field}"),
                    format!("expected at most {ms_max} ms (ten years), got {value}"),
                ));
            }
        }
        for (field, [low, high]) in delays {
            if low > high {
                return Err(FieldError::new(
                    format!("policy.{field}"),
                    format!("expected [low, high] with low <= high, got [{low}, {high}]"),
                ));
            }
        }
        Ok(())
    }

    /// The built-in profile called `name`.
    pub fn named(name: &str) -> Option<Policy> {
        let base = Policy {
            profile: "2024-05".to_owned(),
            marketing_counting: MarketingCounting::NewConversation,
            marketing_cap: 2,
            marketing_cap_window_hours: 24,
            marketing_retry_block_threshold: 3,
            marketing_retry_block_hours: 24,
            us_marketing_pause: false,
            pricing_model: PricingModel::Cbp,
            throughput_mps: 80,
            pair_interval_ms: 6_000,
            pair_burst: 45,
            customer_service_window_hours: 24,
            conversation_hours: 24,
            reengagement_surface: ErrorSurface::Async,
            parameter_errors: ParameterErrors::Live,
            messaging_limit_error_code: 131_048,
            sent_delay_ms: [200, 1_000],
            delivered_delay_ms: [500, 3_000],
            read_delay_ms: [2_000, 600_000],
            read_ratio: Ratio::new(1, 2),
            read_with_delivery_ratio: Ratio::new(1, 5),
            turkey_terms_accepted_ratio: Ratio::new(7, 10),
            unknown_recipients_undeliverable: true,
            webhook_retry_window_hours: 168,
            webhook_retry_initial_ms: 5_000,
            webhook_retry_interval_max_ms: 3_600_000,
            webhook_attempts_max: 500,
            d360_webhook_precedence: D360WebhookPrecedence::Waba,
            pacing_threshold: 100,
            pacing_decision_ms: 1_800_000,
            pacing_bad_ratio: Ratio::new(1, 10),
            template_negative_ratio: Ratio::new(1, 100),
            pause_hours: vec![3, 6],
            template_review_ms: 300_000,
            template_rejection_ratio: Ratio::new(0, 1),
            quality_window: 50,
            quality_yellow_ratio: Ratio::new(1, 20),
            quality_red_ratio: Ratio::new(1, 5),
            register_requests_max: 10,
            on_prem_registration_closes_unix: 1_715_731_200,
            cloud_api_available_from: BTreeMap::from([("TR".to_owned(), 1_716_854_400)]),
            template_block_http_status: 403,
            template_block_message: "The endpoint is blocked".to_owned(),
            template_block_free_form: false,
            bsuid: false,
        };
        let v2025 = Policy {
            profile: "2025-07".to_owned(),
            marketing_counting: MarketingCounting::EveryDelivered,
            us_marketing_pause: true,
            pricing_model: PricingModel::Pmp,
            cloud_api_available_from: BTreeMap::new(),
            ..base.clone()
        };
        match name {
            "2024-05" => Some(base),
            "2025-07" => Some(v2025),
            "2026-04" => Some(Policy {
                profile: "2026-04".to_owned(),
                bsuid: true,
                ..v2025
            }),
            _ => None,
        }
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy::named(DEFAULT_PROFILE).expect("the default profile is built in")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_profile_is_built_in_and_named_after_itself() {
        for name in PROFILES {
            let policy = Policy::named(name).expect("listed profile exists");
            assert_eq!(policy.profile, *name);
        }
        assert!(Policy::named("2023-01").is_none());
    }

    #[test]
    fn the_2025_profile_counts_every_marketing_message_and_pauses_us_marketing() {
        let policy = Policy::named("2025-07").expect("built in");
        assert_eq!(policy.marketing_counting, MarketingCounting::EveryDelivered);
        assert!(policy.us_marketing_pause);
        assert_eq!(policy.pricing_model, PricingModel::Pmp);
        let old = Policy::default();
        assert_eq!(old.marketing_counting, MarketingCounting::NewConversation);
        assert!(!old.us_marketing_pause);
    }

    #[test]
    fn the_2026_profile_is_2025_07_plus_business_scoped_user_ids() {
        let newer = Policy::named("2026-04").expect("built in");
        assert!(newer.bsuid);
        let v2025 = Policy::named("2025-07").expect("built in");
        assert!(!v2025.bsuid);
        assert!(!Policy::named("2024-05").expect("built in").bsuid);
        assert_eq!(
            Policy {
                profile: "2025-07".to_owned(),
                bsuid: false,
                ..newer
            },
            v2025,
            "2026-04 differs from 2025-07 only in its name and the bsuid flag"
        );
        assert_ne!(DEFAULT_PROFILE, "2026-04");
        assert!(!Policy::default().bsuid);
    }
}
