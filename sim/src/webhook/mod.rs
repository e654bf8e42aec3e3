//! Webhook delivery over HTTP. Only transport lives here: *what* to send and
//! whether to retry are decided by the model.
//!
//! - [`sign`]: ASCII-only JSON bodies and their HMAC-SHA256 signatures.
//! - [`deliver`]: the delivery worker: one ordered queue of attempts (retries are
//!   scheduled by the model, `model::webhooks`), each reported back to the model.
//! - [`trigger`]: one signed sample webhook of each kind, for `wasim trigger`.
//! - [`verify`]: Meta's GET verification handshake.

pub mod deliver;
pub mod sign;
pub mod trigger;
pub mod verify;

pub use deliver::{Deliverer, DeliveryConfig};
