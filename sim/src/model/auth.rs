//! Credentials, checked once per command: Graph's bearer token (190 when it is
//! missing, wrong or replaced; the HTTP 401 is observed behaviour), with the phone
//! number of the path; 360dialog's `D360-API-KEY`, which names its channel's number
//! (only the newest key of a channel works).
//!
//! Sources: <https://developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes>,
//! <https://docs.360dialog.com/docs/api-key>.

use super::error::{PlatformError, code};
use super::id::PhoneNumberId;
use super::refusal::{Object, Refusal};
use super::secret::Secret;
use super::{Surface, World};

impl World {
    /// The index of the phone number a request acts for, if its credential is good:
    /// on Graph the token and the path's number, on 360dialog the key's number.
    pub(crate) fn authenticate(
        &self,
        surface: Surface,
        credential: Option<&Secret>,
        path_phone: Option<&PhoneNumberId>,
    ) -> Result<usize, Refusal> {
        match surface {
            Surface::Graph => {
                self.check_access_token(credential)?;
                let Some(id) = path_phone else {
                    return Ok(0);
                };
                self.phone_numbers
                    .iter()
                    .position(|p| p.spec.id == id.as_str())
                    .ok_or_else(|| Refusal::not_found(Object::PhoneNumber, id.as_str()))
            }
            Surface::D360 => {
                let key = credential.ok_or_else(|| Refusal::Unauthorized("no key".to_owned()))?;
                self.phone_numbers
                    .iter()
                    .position(|p| p.spec.d360_api_key.expose() == key.expose())
                    .ok_or_else(|| Refusal::Unauthorized("unknown or revoked key".to_owned()))
            }
        }
    }

    /// Checks a Cloud API bearer token: the refusal is Graph's 190.
    pub(crate) fn check_access_token(&self, credential: Option<&Secret>) -> Result<(), Refusal> {
        if credential.is_some_and(|c| c.expose() == self.spec.access_token.expose()) {
            Ok(())
        } else {
            Err(Refusal::Platform(PlatformError::new(
                code::ACCESS_TOKEN,
                "The access token could not be decrypted or is not valid.",
            )))
        }
    }
}
