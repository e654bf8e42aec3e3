//! Registration and two-step verification:
//! `POST /{phone-number-id}/register` with the PIN (a wrong one is 133005; the PIN
//! of a first registration becomes the number's PIN), `/deregister`, both limited
//! to `register_requests_max` per moving 72 h (133016, then blocked 72 h), and
//! `POST /{phone-number-id}` with `{"pin"}` to set the PIN. On-Premises numbers
//! cannot register from `on_prem_registration_closes_unix`.
//!
//! Sources: <https://developers.facebook.com/docs/whatsapp/cloud-api/reference/registration>,
//! <https://developers.facebook.com/docs/whatsapp/cloud-api/reference/two-step-verification>;
//! On-Premises: the 360dialog partner newsletter, 2024-05-09, and
//! <https://docs.360dialog.com/whatsapp-api/whatsapp-api>.

use std::collections::VecDeque;

use serde_json::{Value, json};

use super::error::code;
use super::id::PhoneNumberId;
use super::refusal::Refusal;
use super::secret::Secret;
use super::spec::ApiKind;
use super::time::{HOUR_MS, SimTime};
use super::{Effect, PlatformError, Surface, World};
use crate::trace::TraceEvent;

/// The moving window of the register/deregister limit, in hours.
pub const REGISTER_WINDOW_HOURS: u64 = 72;

/// A registration call on a phone number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhoneCall {
    /// `POST /register` `{"messaging_product": "whatsapp", "pin": "123456"}`.
    Register {
        /// The PIN given.
        pin: Secret,
    },
    /// `POST /deregister`.
    Deregister,
    /// `POST /{phone-number-id}` `{"pin": "123456"}`: set the 2FA PIN.
    SetPin {
        /// The new PIN.
        pin: Secret,
    },
}

/// Register/deregister requests and blocks per number.
#[derive(Debug, Clone, Default)]
pub(crate) struct RegistrationLog {
    requests: VecDeque<SimTime>,
    blocked_until: Option<SimTime>,
}

fn six_digits(pin: &str) -> Result<(), PlatformError> {
    if pin.len() == 6 && pin.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(PlatformError::new(
            code::INVALID_PARAMETER,
            "Param pin must be a 6-digit string.",
        ))
    }
}

impl World {
    /// Runs a registration call; `Ok` carries the JSON answer.
    pub(crate) fn phone_call(
        &mut self,
        now: SimTime,
        credential: Option<&Secret>,
        phone_number_id: &PhoneNumberId,
        call: Result<PhoneCall, Refusal>,
        effects: &mut Vec<Effect>,
    ) -> Result<Value, Refusal> {
        let index = self.authenticate(Surface::Graph, credential, Some(phone_number_id))?;
        let call = call?;
        let action = match &call {
            PhoneCall::Register { .. } => "register",
            PhoneCall::Deregister => "deregister",
            PhoneCall::SetPin { .. } => "set_pin",
        };
        let result = self.run_phone_call(now, index, call);
        effects.push(Effect::Trace {
            at: now,
            event: TraceEvent::PhoneRegistration {
                phone_number_id: phone_number_id.to_string(),
                action: action.to_owned(),
                error_code: result.as_ref().err().map(|e| e.code),
            },
        });
        result
            .map(|()| json!({"success": true}))
            .map_err(Refusal::Platform)
    }

    fn run_phone_call(
        &mut self,
        now: SimTime,
        index: usize,
        call: PhoneCall,
    ) -> Result<(), PlatformError> {
        if let PhoneCall::SetPin { pin } = call {
            six_digits(pin.expose())?;
            self.phone_numbers[index].spec.pin = Some(pin);
            // A PIN change fires the `security` webhook
            // (https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/security).
            let phone = self.phone_numbers[index].spec.display_phone_number.clone();
            self.emit_account_change(
                now,
                "security",
                json!({"display_phone_number": phone, "event": "PIN_CHANGED",
                       "requester": super::account::SECURITY_REQUESTER}),
            );
            return Ok(());
        }
        self.count_register_request(now, index)?;
        let unix_now = self.unix_seconds(now);
        let country = self.phone_numbers[index].spec.country.clone();
        let cloud_api_serves = self.cloud_api_serves(&country, now);
        let phone = &mut self.phone_numbers[index].spec;
        match call {
            PhoneCall::Register { pin } => {
                six_digits(pin.expose())?;
                if phone.api == ApiKind::OnPremises
                    && unix_now >= self.policy.on_prem_registration_closes_unix
                {
                    return Err(PlatformError::new(
                        code::INVALID_PARAMETER,
                        "On-Premises registration is closed (no new On-Prem numbers since 15 May 2024); migrate the number to Cloud API.",
                    ));
                }
                if phone.api == ApiKind::Cloud && !cloud_api_serves {
                    let opens = self
                        .policy
                        .cloud_api_available_from
                        .get(&country)
                        .map_or_else(String::new, |at| super::payload::iso_8601(*at));
                    return Err(PlatformError::new(
                        code::INVALID_PARAMETER,
                        format!(
                            "Cloud API is not available for phone numbers in {country} yet (from {opens})."
                        ),
                    ));
                }
                match &phone.pin {
                    Some(current) if current != &pin => {
                        return Err(PlatformError::new(
                            code::PIN_MISMATCH,
                            "The two-step verification PIN is incorrect. Reset it in WhatsApp Manager.",
                        ));
                    }
                    Some(_) => {}
                    None => phone.pin = Some(pin),
                }
                phone.registered = true;
            }
            PhoneCall::Deregister => phone.registered = false,
            PhoneCall::SetPin { .. } => {}
        }
        Ok(())
    }

    /// Counts a register/deregister request against the 72 h limit.
    fn count_register_request(&mut self, now: SimTime, index: usize) -> Result<(), PlatformError> {
        let max = self.policy.register_requests_max as usize;
        let window = REGISTER_WINDOW_HOURS * HOUR_MS;
        let log = &mut self.registration[index];
        if log.blocked_until.is_some_and(|until| now < until) {
            return Err(PlatformError::new(
                code::REGISTER_RATE_LIMIT,
                "Register and deregister are blocked for this number for 72 hours.",
            ));
        }
        while log
            .requests
            .front()
            .is_some_and(|at| at.plus_ms(window) <= now)
        {
            log.requests.pop_front();
        }
        log.requests.push_back(now);
        if log.requests.len() > max {
            log.blocked_until = Some(now.plus_ms(window));
            return Err(PlatformError::new(
                code::REGISTER_RATE_LIMIT,
                format!(
                    "More than {max} register or deregister requests in 72 hours; blocked for 72 hours."
                ),
            ));
        }
        Ok(())
    }
}
