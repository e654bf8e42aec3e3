//! 360dialog's Partner API, first part (reference §9.8): the bearer token, the
//! channel list, and channel API keys, where generating a key revokes every
//! earlier one at once (§9.2) so the messaging API answers 401 to them.
//!
//! Errors are 360dialog's partner shape, answered by the handler from
//! [`PartnerReply::Error`].

use serde_json::{Value, json};

use super::secret::Secret;
use super::time::{HOUR_MS, SimTime};
use super::{Effect, World};
use crate::trace::TraceEvent;

/// How long a partner bearer token lives, in virtual hours.
pub const PARTNER_TOKEN_HOURS: u64 = 24;

/// Most channels one list call returns.
pub const PAGE_LIMIT_MAX: u64 = 1000;

/// A Partner API call, after authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartnerCall {
    /// `GET /partners/{partner_id}/channels`.
    ListChannels {
        /// Page size (default 20).
        limit: u64,
        /// Offset.
        offset: u64,
        /// Filters as given (`{"id": …, "status": …}`).
        filters: serde_json::Map<String, Value>,
    },
    /// `POST /partners/{partner_id}/channels/{channel_id}/api_keys`: a new key that
    /// revokes every earlier one.
    CreateKey {
        /// The channel.
        channel_id: String,
    },
    /// `GET` on the same path.
    ListKeys {
        /// The channel.
        channel_id: String,
    },
    /// `DELETE` on the same path: revoke every key.
    DeleteKeys {
        /// The channel.
        channel_id: String,
    },
    /// `GET /partners/{partner_id}/clients`.
    ListClients,
    /// `GET /partners/{partner_id}/webhook_url`.
    GetWebhookUrl,
    /// `POST /partners/{partner_id}/webhook_url` `{"webhook_url": ...}`.
    SetWebhookUrl {
        /// The URL partner events go to.
        url: String,
    },
}

/// The Partner API's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum PartnerReply {
    /// Success: HTTP status and JSON body.
    Ok(u16, Value),
    /// An error: HTTP status and developer message.
    Error(u16, String),
}

/// Partner-level state: issued tokens and key generations.
#[derive(Debug, Default)]
pub(crate) struct PartnerState {
    /// Token fingerprints (never the token) with their expiry.
    tokens: Vec<(String, SimTime)>,
    keys_issued: u64,
}

impl World {
    /// `POST /token`: a bearer token for the partner's user name and password.
    pub(crate) fn partner_token(
        &mut self,
        now: SimTime,
        username: &str,
        password: &str,
        effects: &mut Vec<Effect>,
    ) -> PartnerReply {
        let partner = &self.spec.partner;
        if username != partner.username || password != partner.password.expose() {
            return PartnerReply::Error(401, "Invalid username or password".to_owned());
        }
        let token = Secret::from(format!("wasim_partner_{}", self.ids_rng.token(32)).as_str());
        let expires = now.plus_ms(PARTNER_TOKEN_HOURS * HOUR_MS);
        self.partner.tokens.push((token.fingerprint(), expires));
        effects.push(Effect::Trace {
            at: now,
            event: TraceEvent::PartnerTokenIssued {
                token: token.fingerprint(),
                expires_ms: expires.as_ms(),
            },
        });
        PartnerReply::Ok(
            200,
            json!({
                "access_token": token.expose(),
                "token_type": "bearer",
                "expires_in": PARTNER_TOKEN_HOURS * 3600,
            }),
        )
    }

    /// Runs an authenticated Partner API call for `partner_id`.
    pub(crate) fn partner_call(
        &mut self,
        now: SimTime,
        credential: Option<&str>,
        partner_id: &str,
        call: PartnerCall,
        effects: &mut Vec<Effect>,
    ) -> PartnerReply {
        let Some(token) = credential else {
            return PartnerReply::Error(
                401,
                "Missing bearer token: POST /api/v2/token first".to_owned(),
            );
        };
        let print = super::secret::fingerprint(token);
        match self.partner.tokens.iter().find(|(t, _)| *t == print) {
            None => return PartnerReply::Error(401, "Invalid token".to_owned()),
            Some((_, expires)) if *expires <= now => {
                return PartnerReply::Error(
                    401,
                    "Token expired: POST /api/v2/token again".to_owned(),
                );
            }
            Some(_) => {}
        }
        if partner_id != self.spec.partner.id {
            return PartnerReply::Error(403, format!("Permission denied for partner {partner_id}"));
        }
        match call {
            PartnerCall::ListChannels {
                limit,
                offset,
                filters,
            } => self.list_channels(limit, offset, &filters),
            PartnerCall::CreateKey { channel_id } => self.create_key(now, &channel_id, effects),
            PartnerCall::ListClients => {
                let client = &self.spec.client;
                let clients = vec![json!({
                    "id": client.id, "name": client.name, "status": "active",
                    "partner_id": self.spec.partner.id,
                })];
                PartnerReply::Ok(
                    200,
                    json!({"count": 1, "filters": {}, "limit": 20, "offset": 0,
                           "sort": ["id"], "total": 1, "clients": clients}),
                )
            }
            PartnerCall::GetWebhookUrl => PartnerReply::Ok(
                200,
                json!({"webhook_url": self.webhook_endpoints().partner_url}),
            ),
            PartnerCall::SetWebhookUrl { url } => {
                self.configure_webhooks(now, None, Some(Some(url.clone())), None, effects);
                PartnerReply::Ok(200, json!({"webhook_url": url}))
            }
            PartnerCall::ListKeys { channel_id } => match self.channel(&channel_id) {
                None => unknown_channel(&channel_id),
                Some(index) => {
                    let phone = &self.phone_numbers[index].spec;
                    let keys: Vec<Value> = if phone.d360_api_key.expose().starts_with("revoked_") {
                        Vec::new()
                    } else {
                        vec![json!({
                            "id": format!("{}-key", phone.channel_id),
                            "address": "https://waba-v2.360dialog.io",
                            "api_key": phone.d360_api_key.fingerprint(),
                            "app_id": phone.id,
                        })]
                    };
                    PartnerReply::Ok(200, json!({"api_keys": keys}))
                }
            },
            PartnerCall::DeleteKeys { channel_id } => match self.channel(&channel_id) {
                None => unknown_channel(&channel_id),
                Some(index) => {
                    let revoked =
                        Secret::from(format!("revoked_{}", self.ids_rng.token(32)).as_str());
                    self.replace_key(now, index, revoked, effects);
                    PartnerReply::Ok(200, json!({"success": true}))
                }
            },
        }
    }

    fn channel(&self, channel_id: &str) -> Option<usize> {
        self.phone_numbers
            .iter()
            .position(|p| p.spec.channel_id == channel_id)
    }

    fn create_key(
        &mut self,
        now: SimTime,
        channel_id: &str,
        effects: &mut Vec<Effect>,
    ) -> PartnerReply {
        let Some(index) = self.channel(channel_id) else {
            return unknown_channel(channel_id);
        };
        self.partner.keys_issued += 1;
        let key = Secret::from(
            format!(
                "wasim_key_{}_{}",
                self.partner.keys_issued,
                self.ids_rng.token(24)
            )
            .as_str(),
        );
        self.replace_key(now, index, key.clone(), effects);
        let phone = &self.phone_numbers[index].spec;
        PartnerReply::Ok(
            201,
            json!({
                "id": format!("{}-key-{}", phone.channel_id, self.partner.keys_issued),
                "address": "https://waba-v2.360dialog.io",
                "api_key": key.expose(),
                "app_id": phone.id,
            }),
        )
    }

    /// Makes `key` the channel's only valid key; every earlier one is revoked.
    fn replace_key(&mut self, now: SimTime, index: usize, key: Secret, effects: &mut Vec<Effect>) {
        let phone = &mut self.phone_numbers[index].spec;
        let old = phone.d360_api_key.fingerprint();
        phone.d360_api_key = key;
        effects.push(Effect::Trace {
            at: now,
            event: TraceEvent::ApiKeyReplaced {
                channel_id: phone.channel_id.clone(),
                old,
                new: phone.d360_api_key.fingerprint(),
            },
        });
    }

    fn list_channels(
        &self,
        limit: u64,
        offset: u64,
        filters: &serde_json::Map<String, Value>,
    ) -> PartnerReply {
        let channels: Vec<Value> = self
            .phone_numbers
            .iter()
            .map(|p| {
                json!({
                    "id": p.spec.channel_id,
                    "client_id": self.spec.client.id,
                    "account_mode": "live",
                    "status": "running",
                    "setup_info": {"phone_number": p.spec.display_phone_number, "phone_name": self.spec.client.name},
                    "waba_account": {"id": self.spec.waba.id, "fb_account_status": "verified"},
                    "client": {"id": self.spec.client.id, "name": self.spec.client.name},
                })
            })
            .filter(|channel| {
                filters.iter().all(|(key, wanted)| {
                    let value = key
                        .split('.')
                        .try_fold(channel, |value, part| value.get(part));
                    value == Some(wanted)
                })
            })
            .collect();
        let total = channels.len();
        let page: Vec<Value> = channels
            .into_iter()
            .skip(usize::try_from(offset).unwrap_or(usize::MAX))
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .collect();
        PartnerReply::Ok(
            200,
            json!({
                "count": page.len(), "filters": filters, "limit": limit, "offset": offset,
                "sort": ["id"], "total": total, "partner_channels": page,
            }),
        )
    }
}

fn unknown_channel(channel_id: &str) -> PartnerReply {
    PartnerReply::Error(404, format!("Channel {channel_id} not found"))
}
