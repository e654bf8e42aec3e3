//! The messages the business received, remembered for what a send may name
//! later: a read receipt marks one read, a reaction or a reply (`context`) points
//! at one. Bounded: the oldest are forgotten past [`RECEIVED_KEPT_MAX`], and what
//! is forgotten is answered as unknown.

use std::collections::VecDeque;

use super::time::SimTime;

/// How many received messages are remembered.
pub const RECEIVED_KEPT_MAX: usize = 100_000;

/// A message a user sent the business.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// Its wamid.
    pub id: String,
    /// The number in its wamid (received messages share the business's counter).
    pub number: u64,
    /// The user who sent it.
    pub from: String,
    /// The business number it was sent to.
    pub phone_number_id: String,
    /// When it arrived.
    pub at: SimTime,
    /// Its `type` (`text`, `image`, `reaction`, …).
    pub message_type: &'static str,
    /// When the business marked it read, if it did.
    pub read_at: Option<SimTime>,
}

/// The received messages, oldest first, in wamid order.
#[derive(Debug, Clone, Default)]
pub struct ReceivedLog {
    messages: VecDeque<Received>,
}

impl ReceivedLog {
    /// Remembers `message`, forgetting the oldest past the bound.
    pub fn remember(&mut self, message: Received) {
        debug_assert!(
            self.messages
                .back()
                .is_none_or(|m| m.number < message.number)
        );
        if self.messages.len() >= RECEIVED_KEPT_MAX {
            self.messages.pop_front();
        }
        self.messages.push_back(message);
    }

    /// The received message `id`, if it is remembered.
    pub fn get(&self, id: &str) -> Option<&Received> {
        let number = super::message_number(id)?;
        let index = self
            .messages
            .binary_search_by_key(&number, |m| m.number)
            .ok()?;
        Some(&self.messages[index]).filter(|m| m.id == id)
    }

    /// The received message `id`, to change.
    pub fn get_mut(&mut self, id: &str) -> Option<&mut Received> {
        let number = super::message_number(id)?;
        let index = self
            .messages
            .binary_search_by_key(&number, |m| m.number)
            .ok()?;
        Some(&mut self.messages[index]).filter(|m| m.id == id)
    }

    /// How many are remembered.
    pub fn len(&self) -> usize {
        self.messages.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }
}

impl super::World {
    /// A read receipt from phone number `phone_index` (already authenticated):
    /// the message must be one the number received; marking it read again is
    /// answered as the first time.
    pub(super) fn mark_read(
        &mut self,
        now: SimTime,
        phone_index: usize,
        surface: super::Surface,
        request: Result<super::outgoing::ReadReceipt, super::SendRequestError>,
        effects: &mut Vec<super::Effect>,
    ) -> Result<super::Reply, super::Refusal> {
        use super::error::{PlatformError, code};
        use super::{Refusal, SendRequestError};
        let receipt = match request {
            Ok(receipt) => receipt,
            Err(SendRequestError::Unreadable(error)) => return Err(Refusal::Request(error)),
            Err(SendRequestError::Invalid { error, .. }) => {
                let error = super::outgoing::parameter_error(error, self.policy.parameter_errors);
                return Err(Refusal::Platform(error));
            }
        };
        let phone_id = self.phone_numbers[phone_index].spec.id.clone();
        let Some(message) = self
            .received
            .get_mut(&receipt.message_id)
            .filter(|m| m.phone_number_id == phone_id)
        else {
            // "If you mark a message as read with an invalid message ID, the API
            // returns error code 131009" (the mark-message-as-read page).
            return Err(Refusal::Platform(PlatformError::new(
                code::PARAMETER_INVALID,
                format!(
                    "Param message_id `{}` is not a message phone number {phone_id} received; only received messages can be marked as read.",
                    receipt.message_id
                ),
            )));
        };
        message.read_at.get_or_insert(now);
        let event = crate::trace::TraceEvent::MessageMarkedRead {
            surface: surface.name(),
            phone_number_id: phone_id,
            message_id: message.id.clone(),
            from: message.from.clone(),
            after_ms: now.as_ms().saturating_sub(message.at.as_ms()),
            typing: receipt.typing,
        };
        effects.push(super::Effect::Trace { at: now, event });
        Ok(super::Reply::Done)
    }
}
