//! 360dialog's Partner API: the bearer token and partner API keys, the channel and
//! client lists, channel API keys (generating one revokes every earlier one at once,
//! so the messaging API answers 401 to them), the partner webhook URL, partner users
//! (our shape: 360dialog documents no endpoints for them) and the WABA's compliance
//! and health (our shape too).
//!
//! Sources: <https://docs.360dialog.com/partner/partner-api/overview>;
//! <https://docs.360dialog.com/partner/integrations-and-api-development/integration-best-practices/api-key-authentication-for-the-partner-api>;
//! <https://docs.360dialog.com/partner/waba-management/using-the-partner-api-to-manage-clients-and-channels>;
//! <https://docs.360dialog.com/docs/api-key>.
//!
//! Refusals are answered in 360dialog's partner shape by the handler.

use serde_json::{Value, json};

use super::account::incident_record;
use super::id::{ChannelId, PartnerId, WabaId};
use super::refusal::{Object, Refusal};
use super::secret::Secret;
use super::time::{HOUR_MS, SimTime};
use super::{Effect, Reply, World};
use crate::trace::TraceEvent;

/// How long a partner bearer token lives, in virtual hours.
pub const PARTNER_TOKEN_HOURS: u64 = 24;

/// Most channels one list call returns.
pub const PAGE_LIMIT_MAX: u64 = 1000;

/// A Partner API call, after authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartnerCall {
    /// `GET /partners/{partner_id}/channels`.
    ListChannels(Page),
    /// `POST /partners/{partner_id}/channels/{channel_id}/api_keys`: a new key that
    /// revokes every earlier one.
    CreateKey {
        /// The channel.
        channel_id: ChannelId,
    },
    /// `GET` on the same path.
    ListKeys {
        /// The channel.
        channel_id: ChannelId,
    },
    /// `DELETE` on the same path: revoke every key.
    DeleteKeys {
        /// The channel.
        channel_id: ChannelId,
    },
    /// `GET /partners/{partner_id}/clients`.
    ListClients(Page),
    /// `GET /partners/{partner_id}/webhook_url`.
    GetWebhookUrl,
    /// `POST /partners/{partner_id}/webhook_url` `{"webhook_url": ...}`.
    SetWebhookUrl {
        /// The URL partner events go to.
        url: String,
    },
    /// `GET /partners/{partner_id}/users`.
    ListUsers,
    /// `POST /partners/{partner_id}/users` `{"email": ..., "role": ...}`.
    InviteUser {
        /// The new user's email.
        email: String,
        /// `admin` or `member`.
        role: String,
    },
    /// `DELETE /partners/{partner_id}/users/{user_id}`.
    RemoveUser {
        /// The user.
        user_id: String,
    },
    /// `GET /partners/{partner_id}/waba_accounts/{waba_id}/compliance`.
    Compliance {
        /// The WABA.
        waba_id: WabaId,
    },
}

/// The paging of a list call: `limit`, `offset`, `sort` and `filters`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// Page size (default 20).
    pub limit: u64,
    /// Offset.
    pub offset: u64,
    /// A field path to sort by, `-` first for descending (default `id`).
    pub sort: String,
    /// Filters as given (`{"id": …, "status": …}`): field paths and exact values.
    pub filters: serde_json::Map<String, Value>,
}

impl Page {
    /// Filters, sorts and slices `items` into the list answer, the items under `key`.
    fn answer(&self, items: Vec<Value>, key: &str) -> Reply {
        let field = |item: &Value, path: &str| -> Option<Value> {
            path.split('.')
                .try_fold(item, |value, part| value.get(part))
                .cloned()
        };
        let mut items: Vec<Value> = items
            .into_iter()
            .filter(|item| {
                self.filters
                    .iter()
                    .all(|(path, wanted)| field(item, path).as_ref() == Some(wanted))
            })
            .collect();
        let (descending, path) = match self.sort.strip_prefix('-') {
            Some(path) => (true, path),
            None => (false, self.sort.as_str()),
        };
        items.sort_by(|a, b| {
            let order = compare(field(a, path).as_ref(), field(b, path).as_ref());
            if descending { order.reverse() } else { order }
        });
        let total = items.len();
        let page: Vec<Value> = items
            .into_iter()
            .skip(usize::try_from(self.offset).unwrap_or(usize::MAX))
            .take(usize::try_from(self.limit).unwrap_or(usize::MAX))
            .collect();
        Reply::Json(json!({
            "count": page.len(), "filters": self.filters, "limit": self.limit,
            "offset": self.offset, "sort": [self.sort], "total": total, key: page,
        }))
    }
}

/// Orders JSON values: missing first, then numbers, then text.
fn compare(a: Option<&Value>, b: Option<&Value>) -> std::cmp::Ordering {
    match (a, b) {
        (Some(Value::Number(x)), Some(Value::Number(y))) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(std::cmp::Ordering::Equal),
        (Some(x), Some(y)) => x
            .as_str()
            .map_or_else(|| x.to_string(), str::to_owned)
            .cmp(&y.as_str().map_or_else(|| y.to_string(), str::to_owned)),
        (None, Some(_)) => std::cmp::Ordering::Less,
        (Some(_), None) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    }
}

/// How a Partner API call authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartnerCredential {
    /// `Authorization: Bearer` from `POST /token`.
    Bearer(Secret),
    /// `X-API-Key` (the header name is UNCONFIRMED).
    ApiKey(Secret),
}

impl PartnerCredential {
    /// The secret presented.
    pub fn secret(&self) -> &Secret {
        match self {
            PartnerCredential::Bearer(s) | PartnerCredential::ApiKey(s) => s,
        }
    }
}

/// A user of the partner account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartnerUser {
    /// User id.
    pub id: String,
    /// Email (the user name).
    pub email: String,
    /// `admin` or `member`.
    pub role: String,
    /// `active` or `invited`.
    pub status: String,
}

/// Partner-level state: users, issued tokens and key generations.
#[derive(Debug)]
pub(crate) struct PartnerState {
    /// Token fingerprints (never the token) with their user and expiry.
    tokens: Vec<(String, String, SimTime)>,
    keys_issued: u64,
    users: Vec<PartnerUser>,
    users_issued: u64,
}

impl PartnerState {
    /// The partner's first user is the world's user name, an active admin.
    pub(crate) fn new(spec: &super::spec::PartnerSpec) -> Self {
        PartnerState {
            tokens: Vec::new(),
            keys_issued: 0,
            users: vec![PartnerUser {
                id: "wasimUS0001".to_owned(),
                email: spec.username.clone(),
                role: "admin".to_owned(),
                status: "active".to_owned(),
            }],
            users_issued: 1,
        }
    }
}

fn user_json(user: &PartnerUser) -> Value {
    json!({"id": user.id, "email": user.email, "role": user.role, "status": user.status})
}

impl World {
    /// `POST /token`: a bearer token for the partner's user name and password.
    pub(crate) fn partner_token(
        &mut self,
        now: SimTime,
        username: &str,
        password: &Secret,
        effects: &mut Vec<Effect>,
    ) -> Result<Reply, Refusal> {
        let partner = &self.spec.partner;
        let user = self
            .partner
            .users
            .iter()
            .find(|u| u.email == username && u.status == "active")
            .map(|u| u.id.clone());
        let Some(user) =
            user.filter(|_| username == partner.username && password == &partner.password)
        else {
            return Err(Refusal::Unauthorized(
                "Invalid username or password".to_owned(),
            ));
        };
        let token = Secret::from(format!("wasim_partner_{}", self.ids_rng.token(32)).as_str());
        let expires = now.plus_ms(PARTNER_TOKEN_HOURS * HOUR_MS);
        self.partner
            .tokens
            .push((token.fingerprint(), user, expires));
        effects.push(Effect::Trace {
            at: now,
            event: TraceEvent::PartnerTokenIssued {
                token: token.fingerprint(),
                expires_ms: expires.as_ms(),
            },
        });
        Ok(Reply::Json(json!({
            "access_token": token.expose(),
            "token_type": "bearer",
            "expires_in": PARTNER_TOKEN_HOURS * 3600,
        })))
    }

    /// Checks a Partner API credential and that `partner_id` is the caller's own.
    fn authenticate_partner(
        &self,
        now: SimTime,
        credential: Option<&PartnerCredential>,
        partner_id: &PartnerId,
    ) -> Result<(), Refusal> {
        match credential {
            None => {
                return Err(Refusal::Unauthorized(
                    "Missing credentials: send X-API-Key, or POST /api/v2/token and send Authorization: Bearer".to_owned(),
                ));
            }
            Some(PartnerCredential::ApiKey(key)) => {
                if key != &self.spec.partner.api_key {
                    return Err(Refusal::Unauthorized("Invalid API key".to_owned()));
                }
            }
            Some(PartnerCredential::Bearer(token)) => {
                let print = token.fingerprint();
                match self.partner.tokens.iter().find(|(t, _, _)| *t == print) {
                    None => return Err(Refusal::Unauthorized("Invalid token".to_owned())),
                    Some((_, _, expires)) if *expires <= now => {
                        return Err(Refusal::Unauthorized(
                            "Token expired: POST /api/v2/token again".to_owned(),
                        ));
                    }
                    Some(_) => {}
                }
            }
        }
        if partner_id != &self.spec.partner.id {
            return Err(Refusal::Forbidden(format!(
                "Permission denied for partner {partner_id}"
            )));
        }
        Ok(())
    }

    /// Runs an authenticated Partner API call for `partner_id`.
    pub(crate) fn partner_call(
        &mut self,
        now: SimTime,
        credential: Option<&PartnerCredential>,
        partner_id: &PartnerId,
        call: Result<PartnerCall, Refusal>,
        effects: &mut Vec<Effect>,
    ) -> Result<Reply, Refusal> {
        self.authenticate_partner(now, credential, partner_id)?;
        Ok(match call? {
            PartnerCall::ListChannels(page) => {
                let channels = (0..self.phone_numbers.len())
                    .map(|index| self.channel_object(index))
                    .collect();
                page.answer(channels, "partner_channels")
            }
            PartnerCall::CreateKey { channel_id } => self.create_key(now, &channel_id, effects)?,
            PartnerCall::ListClients(page) => {
                let client = &self.spec.client;
                let clients = vec![json!({
                    "id": client.id, "name": client.name, "status": "active",
                    "partner_id": self.spec.partner.id,
                })];
                page.answer(clients, "clients")
            }
            PartnerCall::GetWebhookUrl => {
                Reply::Json(json!({"webhook_url": self.webhook_endpoints().partner_url}))
            }
            PartnerCall::SetWebhookUrl { url } => {
                self.configure_webhooks(now, None, Some(Some(url.clone())), None, effects);
                Reply::Json(json!({"webhook_url": url}))
            }
            PartnerCall::ListUsers => {
                let users: Vec<Value> = self.partner.users.iter().map(user_json).collect();
                Reply::Json(json!({"count": users.len(), "users": users}))
            }
            PartnerCall::InviteUser { email, role } => {
                if self.partner_user_exists(&email) {
                    return Err(Refusal::Conflict(format!("User {email} already exists")));
                }
                let id = self.invite_partner_user(&email, &role);
                effects.push(incident_record(
                    now,
                    "invite_partner_user",
                    None,
                    format!("partner user {id} <{email}> invited as {role}"),
                ));
                let user = self
                    .partner
                    .users
                    .iter()
                    .find(|u| u.id == id)
                    .map(user_json);
                Reply::Created(user.unwrap_or_default())
            }
            PartnerCall::RemoveUser { user_id } => {
                let Some(email) = self
                    .partner
                    .users
                    .iter()
                    .find(|u| u.id == user_id)
                    .map(|u| u.email.clone())
                else {
                    return Err(Refusal::not_found(Object::PartnerUser, user_id));
                };
                let id = self.remove_partner_user_by_email(&email)?;
                effects.push(incident_record(
                    now,
                    "remove_partner_user",
                    None,
                    format!("partner user {id} <{email}> removed"),
                ));
                Reply::Json(json!({"success": true}))
            }
            PartnerCall::Compliance { waba_id } => {
                if waba_id != self.spec.waba.id {
                    return Err(Refusal::not_found(Object::Waba, waba_id));
                }
                Reply::Json(self.compliance())
            }
            PartnerCall::ListKeys { channel_id } => {
                let index = self.channel(&channel_id)?;
                {
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
                    Reply::Json(json!({"api_keys": keys}))
                }
            }
            PartnerCall::DeleteKeys { channel_id } => {
                let index = self.channel(&channel_id)?;
                let revoked = Secret::from(format!("revoked_{}", self.ids_rng.token(32)).as_str());
                self.replace_key(now, index, revoked, effects);
                Reply::Json(json!({"success": true}))
            }
        })
    }

    fn channel(&self, channel_id: &ChannelId) -> Result<usize, Refusal> {
        self.phone_numbers
            .iter()
            .position(|p| p.spec.channel_id == channel_id.as_str())
            .ok_or_else(|| Refusal::not_found(Object::Channel, channel_id.as_str()))
    }

    fn create_key(
        &mut self,
        now: SimTime,
        channel_id: &ChannelId,
        effects: &mut Vec<Effect>,
    ) -> Result<Reply, Refusal> {
        let index = self.channel(channel_id)?;
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
        Ok(Reply::Created(json!({
            "id": format!("{}-key-{}", phone.channel_id, self.partner.keys_issued),
            "address": "https://waba-v2.360dialog.io",
            "api_key": key.expose(),
            "app_id": phone.id,
        })))
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
}

impl World {
    /// A channel as the Partner API lists it, with its standing.
    pub(crate) fn channel_object(&self, index: usize) -> Value {
        let standing = super::payload::ChannelStanding {
            terminated_at_unix_s: self.account.terminated_at.map(|at| self.unix_seconds(at)),
            templates_disabled: self.account.templates_disabled,
        };
        super::payload::channel(&self.spec, &self.phone_numbers[index].spec, standing)
    }

    /// Whether a user with this email exists.
    pub(crate) fn partner_user_exists(&self, email: &str) -> bool {
        self.partner.users.iter().any(|u| u.email == email)
    }

    /// Adds an invited user; returns its id.
    pub(crate) fn invite_partner_user(&mut self, email: &str, role: &str) -> String {
        self.partner.users_issued += 1;
        let id = format!("wasimUS{:04}", self.partner.users_issued);
        self.partner.users.push(PartnerUser {
            id: id.clone(),
            email: email.to_owned(),
            role: role.to_owned(),
            status: "invited".to_owned(),
        });
        id
    }

    /// Removes a user and revokes the tokens issued to it; returns its id.
    pub(crate) fn remove_partner_user_by_email(&mut self, email: &str) -> Result<String, Refusal> {
        let position = self
            .partner
            .users
            .iter()
            .position(|u| u.email == email)
            .ok_or_else(|| Refusal::not_found(Object::PartnerUser, email))?;
        let user = self.partner.users.remove(position);
        self.partner
            .tokens
            .retain(|(_, owner, _)| *owner != user.id);
        Ok(user.id)
    }
}
