//! Webhook delivery over HTTP. Only transport lives here: *what* to send and
//! whether to retry are decided by the model.
//!
//! - [`sign`]: ASCII-only JSON bodies and their HMAC-SHA256 signatures.
//! - [`deliver`]: the delivery worker: one ordered queue, one attempt per webhook
//!   (retries come with issue 3), each attempt reported back to the model.

pub mod deliver;
pub mod sign;

pub use deliver::{Deliverer, DeliveryConfig};
