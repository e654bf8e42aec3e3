//! A message reaches a status: the status timer fires, the message's history
//! grows, and the `messages` webhook is written straight to text by the payload
//! writers beside this module ([`super::payload`]).

use super::error;
use super::payload;
use super::state::StatusKind;
use super::time::SimTime;
use super::webhooks::{Route, WebhookBody};
use super::{Effect, World, business_scoped_user_id};
use crate::trace::TraceEvent;

impl World {
    /// Message `message` reaches `status` at `at` (`error_code` for `failed`).
    pub(super) fn fire_status(
        &mut self,
        at: SimTime,
        message: u64,
        status: StatusKind,
        error_code: Option<u32>,
        effects: &mut Vec<Effect>,
    ) {
        let Some(index) = self.message_index(message) else {
            debug_assert!(false, "a status timer names an unknown message");
            return;
        };
        // A field borrow: the rest of the world is read below.
        let message = &mut self.messages[index];
        let billing_already_shown = message
            .statuses
            .iter()
            .any(|(_, s)| matches!(s, StatusKind::Delivered | StatusKind::Read));
        message.statuses.push((at, status));
        if status == StatusKind::Failed {
            message.failure_code = error_code;
        }
        message.pending_timers = message.pending_timers.saturating_sub(1);
        if message.pending_timers == 0 {
            self.messages_ended += 1;
        }
        // Read in place: the message, its number and the recipient are
        // borrowed, not copied, and the body is written straight to text.
        let message = &*message;
        effects.push(Effect::Trace {
            at,
            event: TraceEvent::Status {
                message_id: message.id.clone(),
                to: message.to.clone(),
                status: status.name(),
                error_code,
            },
        });
        let Some(phone) = self
            .phone_numbers
            .iter()
            .find(|p| p.spec.id == message.phone_number_id)
            .map(|p| &p.spec)
        else {
            return;
        };
        // A number that is not a WhatsApp user (131026) has no BSUID.
        let user_id = (error_code != Some(error::code::UNDELIVERABLE))
            .then(|| {
                business_scoped_user_id(
                    &self.policy,
                    &self.recipients,
                    self.seed,
                    &self.spec.waba.id,
                    &message.to,
                )
            })
            .flatten();
        let object = payload::status(
            message,
            status,
            error_code,
            self.spec.epoch_unix_s + at.as_ms() / 1000,
            self.spec.epoch_unix_s,
            !billing_already_shown,
            user_id.as_deref(),
        );
        let name = user_id
            .as_ref()
            .and_then(|_| self.recipients.get(&message.to))
            .map(|r| r.name());
        let user = user_id.as_deref().map(|user_id| (user_id, name.as_deref()));
        let source = payload::StatusSource {
            waba_id: &self.spec.waba.id,
            display_phone_number: &phone.display_phone_number,
            phone_number_id: &phone.id,
            user,
        };
        let body =
            WebhookBody::write(|out| payload::write_status_webhook(out, &source, &object, message));
        let route = Route::Number(phone.id.clone());
        self.emit_change("messages", route, body);
    }
}
