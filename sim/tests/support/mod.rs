//! What the sim tests share: the default world's names and request bodies here, and
//! three ways to drive wasim.
//!
//! - [`model`]: the pure model, `World::apply`/`World::advance`, with the tests
//!   playing the delivery engine where webhooks matter ([`model::drive`]).
//! - [`http`]: every HTTP surface in process, through `wasim_sim::api::router` by
//!   `tower::ServiceExt::oneshot`, with no socket.
//! - [`socket`]: a real wasim on 127.0.0.1 and a recording webhook receiver, for
//!   what only the wire shows (signatures over exact bytes, handshakes, headers).

#![allow(
    dead_code,
    unreachable_pub,
    unused_imports,
    reason = "each test binary uses a different subset"
)]

pub mod http;
pub mod model;
pub mod socket;

use serde_json::{Value, json};

pub use socket::{Behaviour, Received, Receiver, Wasim, start_receiver};

/// The text of a JSON string, or `""` when `value` is no string (absent, `null`,
/// a number): for asserting what a field says.
pub fn text_of(value: &Value) -> &str {
    value.as_str().unwrap_or_default()
}

/// The default world's Cloud API access token.
pub const TOKEN: &str = "wasim_test_access_token";
/// The default world's app secret (signs Meta webhooks).
pub const APP_SECRET: &str = "wasim_test_app_secret";
/// The default world's webhook verify token.
pub const VERIFY_TOKEN: &str = "wasim_test_verify_token";
/// The default world's partner webhook secret.
pub const PARTNER_SECRET: &str = "wasim_test_partner_secret";
/// The default world's Partner API key.
pub const PARTNER_KEY: &str = "wasim_test_partner_api_key";
/// The default world's partner id.
pub const PARTNER_ID: &str = "wasimPA";
/// The default world's Partner Hub user and password.
pub const PARTNER_USER: &str = "partner@wasim.test";
pub const PARTNER_PASSWORD: &str = "wasim_test_partner_password";
/// The default world's epoch, 2024-06-03T09:00:00Z, in unix seconds.
pub const EPOCH: u64 = 1_717_405_200;
/// The default world's WhatsApp Business Account.
pub const WABA: &str = "100000000000001";
/// The default world's numbers: United States, Germany, Turkey.
pub const US_PHONE: &str = "110000000000001";
pub const DE_PHONE: &str = "110000000000002";
pub const TR_PHONE: &str = "110000000000003";
/// The 360dialog channel keys of the US and German numbers.
pub const US_KEY: &str = "wasim_test_d360_key_us";
pub const DE_KEY: &str = "wasim_test_d360_key_de";
/// The default world's named recipients: Brazil and India (not exempt from the
/// per-user marketing limit), the United States, Germany (EEA, exempt), Turkey.
pub const ANA: &str = "5511987654321";
pub const PRIYA: &str = "919812345678";
pub const SAM: &str = "14155550123";
pub const LENA: &str = "4915112345678";
pub const DENIZ: &str = "905321234567";
/// The named recipients, in that order.
pub const NAMED: [&str; 5] = [ANA, PRIYA, SAM, LENA, DENIZ];
/// A magic recipient: delivered, then read.
pub const DELIVERED_THEN_READ: &str = "999000000";
/// The title of error 131049 (the per-user marketing limit).
pub const TITLE_131049: &str =
    "This message was not delivered to maintain healthy ecosystem engagement.";
/// The marketing template, and its id.
pub const SPRING_SALE: &str = "spring_sale";
pub const SPRING_SALE_ID: &str = "120000000000001";
/// The utility template with one body parameter, and its id.
pub const ORDER_UPDATE: &str = "order_update";
pub const ORDER_UPDATE_ID: &str = "120000000000002";

/// A template send body: `name` in `en_US` to `to`, as client libraries write it.
pub fn template(to: &str, name: &str) -> Value {
    json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": to,
           "type": "template", "template": {"name": name, "language": {"code": "en_US"}}})
}

/// A text send body.
pub fn text(to: &str, body: &str) -> Value {
    json!({"messaging_product": "whatsapp", "to": to, "type": "text", "text": {"body": body}})
}

/// An `order_update` send body, its one body parameter filled.
pub fn order_update(to: &str) -> Value {
    json!({"messaging_product": "whatsapp", "to": to, "type": "template",
           "template": {"name": ORDER_UPDATE, "language": {"code": "en_US"},
             "components": [{"type": "body", "parameters": [{"type": "text", "text": "A1"}]}]}})
}
