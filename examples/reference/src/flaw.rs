//! The ways the reference integration can be made wrong, one rule each.

use std::fmt;
use std::str::FromStr;

/// A way the reference integration can be wrong.
///
/// Each flaw breaks exactly one rule of the protocol; everything else stays correct.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Flaw {
    /// Waits 1500 ms before answering each webhook post (still 200).
    SlowAck,
    /// Accepts and processes webhook posts with a missing or wrong signature.
    NoSignatureCheck,
    /// Processes duplicate deliveries again (replies twice to one inbound message).
    NoDedupe,
    /// Stores the latest status received even when it is lower (a late `sent` overwrites `read`).
    StatusRegress,
    /// Answers the GET verification with 200 and an empty body.
    NoHandshake,
    /// Resends a template failed with 131049 at once and ignores the cap for `send_template`.
    ResendAfterCap,
    /// Ignores 131050: keeps sending marketing templates to a user who stopped them.
    IgnoreOptOut,
    /// `send_text` always sends free-form text, whether the service window is open or not.
    TextOutsideWindow,
    /// On 130429/131056 retries immediately (no wait) up to 50 times.
    HotLoopRate,
    /// On HTTP 401 / code 190 retries immediately up to 50 times.
    HotLoopAuth,
    /// Ignores `set_access_token` and keeps using the token it started with.
    StaleToken,
    /// Sends a template answered `held_for_quality_assessment` once more at once,
    /// as if the held message were not sent (one resend per original send).
    ResendHeld,
    /// Ignores template pauses (`message_template_status_update` webhooks and
    /// 132015/132016 answers) and keeps sending a paused template.
    IgnorePause,
    /// Unpauses a template by API (`POST /{template-id}/unpause`) as soon as its
    /// `PAUSED` webhook arrives, instead of fixing what paused it.
    AutoUnpause,
    /// After a channel key rotation (`rotate_key` or a compromise), and after
    /// `set_d360_api_key`, keeps presenting the key it started with on sends.
    StaleChannelKey,
    /// After `rotate_key`, sends the running (or last) campaign again from its start.
    ResendOnRotation,
    /// Ignores `template_messaging_disabled` (the partner webhook and 360dialog's
    /// template block answer) and keeps sending templates.
    IgnoreTemplateDisabled,
    /// On `account_compromised` does not halt sends; rotates the key and resets
    /// the PIN only at the next `tick`.
    CompromiseKeepSending,
    /// On `account_compromised` never generates a new channel key.
    CompromiseNoKey,
    /// On `account_compromised` never resets the two-step verification PIN.
    CompromiseNoPin,
    /// After securing a compromised account, resumes sends at once instead of
    /// waiting `resume_after_s`.
    CompromiseResumeEarly,
    /// Uses a Partner API bearer token even when an API key is configured, and on
    /// a Partner 401 fetches a token and retries immediately, up to 50 times.
    PartnerAuthLoop,
    /// On a `register` error retries the request immediately, up to 12 times.
    RegisterLoop,
    /// Sends templates without the body parameters the driver gave (so a template
    /// that takes parameters is refused with 132000).
    DropParameters,
    /// Never marks inbound messages read.
    NoMarkRead,
    /// Sends a media message that failed with 131053 again at once, up to 5 times.
    MediaResendLoop,
    /// Downloads received media with the URL it first got; when that URL has
    /// expired, retries it as it is (twice) and gives up.
    StaleMediaUrl,
}

impl Flaw {
    /// Every flaw, in a fixed order.
    pub const ALL: &[Flaw] = &[
        Flaw::SlowAck,
        Flaw::NoSignatureCheck,
        Flaw::NoDedupe,
        Flaw::StatusRegress,
        Flaw::NoHandshake,
        Flaw::ResendAfterCap,
        Flaw::IgnoreOptOut,
        Flaw::TextOutsideWindow,
        Flaw::HotLoopRate,
        Flaw::HotLoopAuth,
        Flaw::StaleToken,
        Flaw::ResendHeld,
        Flaw::IgnorePause,
        Flaw::AutoUnpause,
        Flaw::StaleChannelKey,
        Flaw::ResendOnRotation,
        Flaw::IgnoreTemplateDisabled,
        Flaw::CompromiseKeepSending,
        Flaw::CompromiseNoKey,
        Flaw::CompromiseNoPin,
        Flaw::CompromiseResumeEarly,
        Flaw::PartnerAuthLoop,
        Flaw::RegisterLoop,
        Flaw::DropParameters,
        Flaw::NoMarkRead,
        Flaw::MediaResendLoop,
        Flaw::StaleMediaUrl,
    ];

    /// The flaw's name on the command line (`--flaw NAME`).
    pub fn name(self) -> &'static str {
        match self {
            Flaw::SlowAck => "slow-ack",
            Flaw::NoSignatureCheck => "no-signature-check",
            Flaw::NoDedupe => "no-dedupe",
            Flaw::StatusRegress => "status-regress",
            Flaw::NoHandshake => "no-handshake",
            Flaw::ResendAfterCap => "resend-after-cap",
            Flaw::IgnoreOptOut => "ignore-opt-out",
            Flaw::TextOutsideWindow => "text-outside-window",
            Flaw::HotLoopRate => "hot-loop-rate",
            Flaw::HotLoopAuth => "hot-loop-auth",
            Flaw::StaleToken => "stale-token",
            Flaw::ResendHeld => "resend-held",
            Flaw::IgnorePause => "ignore-pause",
            Flaw::AutoUnpause => "auto-unpause",
            Flaw::StaleChannelKey => "stale-channel-key",
            Flaw::ResendOnRotation => "resend-on-rotation",
            Flaw::IgnoreTemplateDisabled => "ignore-template-disabled",
            Flaw::CompromiseKeepSending => "compromise-keep-sending",
            Flaw::CompromiseNoKey => "compromise-no-key",
            Flaw::CompromiseNoPin => "compromise-no-pin",
            Flaw::CompromiseResumeEarly => "compromise-resume-early",
            Flaw::PartnerAuthLoop => "partner-auth-loop",
            Flaw::RegisterLoop => "register-loop",
            Flaw::DropParameters => "drop-parameters",
            Flaw::NoMarkRead => "no-mark-read",
            Flaw::MediaResendLoop => "media-resend-loop",
            Flaw::StaleMediaUrl => "stale-media-url",
        }
    }

    /// One line saying which rule the flaw breaks.
    pub fn describe(self) -> &'static str {
        match self {
            Flaw::SlowAck => "waits 1500 ms before answering each webhook POST (still 200)",
            Flaw::NoSignatureCheck => {
                "accepts and processes webhook posts with a missing or wrong X-Hub-Signature-256"
            }
            Flaw::NoDedupe => {
                "processes duplicate deliveries again (replies twice to the same inbound message id)"
            }
            Flaw::StatusRegress => {
                "stores the latest status received even when lower (a late `sent` overwrites `read`)"
            }
            Flaw::NoHandshake => "answers the GET verification with 200 and an empty body",
            Flaw::ResendAfterCap => {
                "resends the template at once after a 131049 failure and ignores the 24 h cap"
            }
            Flaw::IgnoreOptOut => {
                "ignores 131050: keeps sending marketing templates to a user who stopped them"
            }
            Flaw::TextOutsideWindow => {
                "send_text always sends free-form text, even outside the 24 h service window"
            }
            Flaw::HotLoopRate => "on 130429/131056 retries immediately (no wait) up to 50 times",
            Flaw::HotLoopAuth => {
                "on HTTP 401 / code 190 (or 360dialog's 401) retries immediately up to 50 times"
            }
            Flaw::StaleToken => {
                "ignores set_access_token and keeps using the token it started with"
            }
            Flaw::ResendHeld => {
                "resends a template answered held_for_quality_assessment once, at once"
            }
            Flaw::IgnorePause => {
                "ignores template pauses (status webhooks, 132015/132016) and keeps sending"
            }
            Flaw::AutoUnpause => "unpauses a template by API as soon as its PAUSED webhook arrives",
            Flaw::StaleChannelKey => {
                "keeps sending with its first channel key after the key was rotated (sends get 401)"
            }
            Flaw::ResendOnRotation => {
                "after rotate_key sends the running or last campaign again from its start"
            }
            Flaw::IgnoreTemplateDisabled => {
                "ignores template_messaging_disabled and keeps sending templates"
            }
            Flaw::CompromiseKeepSending => {
                "on account_compromised keeps sending; rotates the key and PIN only at the next tick"
            }
            Flaw::CompromiseNoKey => "on account_compromised never generates a new channel key",
            Flaw::CompromiseNoPin => "on account_compromised never resets the two-step PIN",
            Flaw::CompromiseResumeEarly => {
                "resumes sends as soon as the account is secured, without waiting resume_after_s"
            }
            Flaw::PartnerAuthLoop => {
                "uses a Partner bearer token despite an API key; on 401 refetches and retries 50 times"
            }
            Flaw::RegisterLoop => "on a register error retries immediately, up to 12 times",
            Flaw::DropParameters => {
                "sends templates without the driver's body parameters (refused with 132000)"
            }
            Flaw::NoMarkRead => "never marks inbound messages read",
            Flaw::MediaResendLoop => {
                "sends a media message that failed with 131053 again at once, up to 5 times"
            }
            Flaw::StaleMediaUrl => {
                "retries an expired media URL as it is instead of fetching a new one, then gives up"
            }
        }
    }

    /// Every name, comma-separated (for error messages).
    fn names() -> String {
        Flaw::ALL
            .iter()
            .map(|flaw| flaw.name())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
impl Flaw {
    /// The names of the flaws under which `script` comes out otherwise than with no
    /// flaw, in [`Flaw::ALL`] order, space-separated: which flaws a layer's
    /// decisions see.
    pub(crate) fn changing<T: PartialEq>(script: impl Fn(Option<Flaw>) -> T) -> String {
        let correct = script(None);
        let changing = Flaw::ALL
            .iter()
            .filter(|flaw| script(Some(**flaw)) != correct);
        changing
            .map(|flaw| flaw.name())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl fmt::Display for Flaw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Flaw {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim();
        Flaw::ALL
            .iter()
            .copied()
            .find(|flaw| flaw.name() == wanted)
            .ok_or_else(|| format!("unknown flaw `{wanted}`; valid flaws: {}", Flaw::names()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_parses_back_and_is_unique() {
        for flaw in Flaw::ALL {
            assert_eq!(flaw.name().parse::<Flaw>(), Ok(*flaw));
            assert!(!flaw.describe().is_empty());
            assert!(!flaw.describe().contains('\n'));
        }
        let mut names: Vec<_> = Flaw::ALL.iter().map(|f| f.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Flaw::ALL.len());
    }

    #[test]
    fn the_template_flaws_have_their_names() {
        assert_eq!("resend-held".parse(), Ok(Flaw::ResendHeld));
        assert_eq!("ignore-pause".parse(), Ok(Flaw::IgnorePause));
        assert_eq!("auto-unpause".parse(), Ok(Flaw::AutoUnpause));
    }

    #[test]
    fn the_360dialog_and_account_flaws_have_their_names() {
        for (name, flaw) in [
            ("stale-channel-key", Flaw::StaleChannelKey),
            ("resend-on-rotation", Flaw::ResendOnRotation),
            ("ignore-template-disabled", Flaw::IgnoreTemplateDisabled),
            ("compromise-keep-sending", Flaw::CompromiseKeepSending),
            ("compromise-no-key", Flaw::CompromiseNoKey),
            ("compromise-no-pin", Flaw::CompromiseNoPin),
            ("compromise-resume-early", Flaw::CompromiseResumeEarly),
            ("partner-auth-loop", Flaw::PartnerAuthLoop),
            ("register-loop", Flaw::RegisterLoop),
        ] {
            assert_eq!(name.parse(), Ok(flaw));
            assert_eq!(flaw.to_string(), name);
        }
    }

    #[test]
    fn an_unknown_name_lists_the_valid_ones() {
        let error = "fast-ack".parse::<Flaw>().expect_err("unknown");
        assert!(error.contains("fast-ack"), "{error}");
        for flaw in Flaw::ALL {
            assert!(error.contains(flaw.name()), "{error}");
        }
    }
}
