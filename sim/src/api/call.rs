//! The one request pipeline of the platform surfaces (Graph, 360dialog messaging,
//! 360dialog Partner API). A handler extracts a [`Call`] (the request line and the
//! credential presented, typed per surface), parses what it can of the rest, and
//! hands the model one command with [`Call::run`]. Under the world's lock, in one
//! step, the model decides (credentials first, then what could not be read, then
//! the platform's rules), the handler's `answer` renders a reply, the surface's
//! table ([`Dialect::refusal`]) renders a refusal, and the `request` trace record
//! is written right after the records the command caused. Nothing else records a
//! platform request.
//!
//! Adding an endpoint is a handler of that shape plus one command in the model; the
//! contributor notes (CONTRIBUTING.md) walk through one.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};
use axum::response::Response;

use crate::engine::Sim;
use crate::model::numbers::HandshakeReport;
use crate::model::partner::PartnerCredential;
use crate::model::secret::Secret;
use crate::model::{Command, Refusal, Reply, Verification};
use crate::state::AppState;
use crate::trace::TraceEvent;

/// What an answer needs to know of its request.
#[derive(Debug, Clone)]
pub(crate) struct RequestLine {
    /// The method.
    pub(crate) method: Method,
    /// The path, without the query.
    pub(crate) path: String,
    /// The query string, if any.
    pub(crate) query: Option<String>,
}

impl RequestLine {
    /// The value of query parameter `key`, percent-decoded.
    pub(crate) fn query_value(&self, key: &str) -> Option<String> {
        self.query
            .as_deref()?
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(k, _)| *k == key)
            .map(|(_, v)| percent_decode(v))
    }
}

/// Decodes `%XX` escapes and `+` (query strings).
pub(crate) fn percent_decode(text: &str) -> String {
    String::from_utf8_lossy(&decode_escapes(text, true)).into_owned()
}

/// The bytes `text` stands for: `%XX` escapes decoded, and `+` read as a space when
/// `plus_is_space` (queries; in a path it is itself).
pub(crate) fn decode_escapes(text: &str, plus_is_space: bool) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (bytes[i], escaped) {
            (_, Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b'+', None) if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            (byte, None) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    out
}

/// The Graph error code an answer carried, for its `request` record (set by
/// `GraphError`'s response).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ErrorCode(pub(crate) u32);

/// A surface's wire dialect: its name in the trace, the credential its requests
/// present, and its table of refusals.
pub(crate) trait Dialect {
    /// The surface's name in `request` records (`graph`, `d360`, `partner`).
    const SURFACE: &'static str;
    /// The credential its requests present.
    type Credential: Presented + Clone + Send + Sync + 'static;

    /// The credential of a request's headers (none when absent).
    fn credential(headers: &HeaderMap) -> Option<Self::Credential>;

    /// A refusal as this surface answers it, with `fbtrace_id` (Graph's; the
    /// 360dialog dialects have none).
    fn refusal(refusal: Refusal, request: &RequestLine, fbtrace_id: String) -> Response;
}

/// A credential as presented: its secret, of which the trace keeps a fingerprint.
pub(crate) trait Presented {
    /// The secret presented.
    fn secret(&self) -> &Secret;
}

impl Presented for Secret {
    fn secret(&self) -> &Secret {
        self
    }
}

impl Presented for crate::model::media::MediaCredential {
    fn secret(&self) -> &Secret {
        crate::model::media::MediaCredential::secret(self)
    }
}

impl Presented for PartnerCredential {
    fn secret(&self) -> &Secret {
        PartnerCredential::secret(self)
    }
}

/// A platform request: its line and the credential presented, ready to run one
/// command.
#[derive(Debug)]
pub(crate) struct Call<D: Dialect> {
    state: Arc<AppState>,
    /// The request line.
    pub(crate) request: RequestLine,
    /// The credential presented, if any.
    pub(crate) credential: Option<D::Credential>,
}

impl<D: Dialect> FromRequestParts<Arc<AppState>> for Call<D> {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        Ok(Call {
            state: state.clone(),
            request: RequestLine {
                method: parts.method.clone(),
                path: parts.uri.path().to_owned(),
                query: parts.uri.query().map(str::to_owned),
            },
            credential: D::credential(&parts.headers),
        })
    }
}

impl<D: Dialect> Call<D> {
    /// The request's method.
    pub(crate) fn method(&self) -> &Method {
        &self.request.method
    }

    /// The fingerprint of the credential presented, for the trace (hashed before
    /// the lock: every call of every connection waits on it).
    fn fingerprint(&self) -> Option<String> {
        self.credential.as_ref().map(|c| c.secret().fingerprint())
    }

    /// Runs `command` and answers: a reply through `answer`, a refusal through the
    /// surface's table; the request is recorded under the same lock.
    pub(crate) fn run(self, command: Command, answer: impl FnOnce(Reply) -> Response) -> Response {
        let fingerprint = self.fingerprint();
        self.run_recorded(command, fingerprint, answer)
    }

    /// [`Call::run`], recording the credential `fingerprint`.
    fn run_recorded(
        self,
        command: Command,
        fingerprint: Option<String>,
        answer: impl FnOnce(Reply) -> Response,
    ) -> Response {
        let Call { state, request, .. } = self;
        state.with_sim(|sim, now| {
            let (result, deliveries) = sim.apply(now, command);
            let response = match result {
                Ok(reply) => answer(reply),
                Err(refusal) => D::refusal(refusal, &request, sim.next_fbtrace_id()),
            };
            record::<D>(sim, request, fingerprint, &response);
            // Queued under the lock, so webhooks keep the model's order.
            state.queue(sim, deliveries);
            response
        })
    }

    /// Runs `command` as [`Call::run`] does, except when the model answers with a
    /// verification handshake to perform first (an alternate callback URL): then
    /// the shell performs it outside the lock, and the command `report` builds
    /// from its outcome is the one answered and recorded.
    pub(crate) async fn run_with_handshake(
        self,
        command: Command,
        report: impl FnOnce(Verification, HandshakeReport) -> Command,
        answer: impl FnOnce(Reply) -> Response,
    ) -> Response {
        let fingerprint = self.fingerprint();
        let Call { state, request, .. } = self;
        let first = state.with_sim(|sim, now| {
            let (result, deliveries) = sim.apply(now, command);
            let first = match result {
                Ok(Reply::Verify(verification)) => Err((verification, answer)),
                result => {
                    let response = match result {
                        Ok(reply) => answer(reply),
                        Err(refusal) => D::refusal(refusal, &request, sim.next_fbtrace_id()),
                    };
                    record::<D>(sim, request.clone(), fingerprint.clone(), &response);
                    Ok(response)
                }
            };
            state.queue(sim, deliveries);
            first
        });
        let (verification, answer) = match first {
            Ok(response) => return response,
            Err(pending) => pending,
        };
        let outcome = state.handshake(&verification).await;
        let command = report(verification, outcome);
        Call::<D> {
            state,
            request,
            credential: None,
        }
        .run_recorded(command, fingerprint, answer)
    }

    /// Answers `refusal` without the model (a request that names no credential the
    /// model checks, such as a malformed token request), and records it.
    pub(crate) fn refuse(self, refusal: Refusal) -> Response {
        let fingerprint = self.fingerprint();
        let Call { state, request, .. } = self;
        state.with_sim(|sim, _| {
            let response = D::refusal(refusal, &request, sim.next_fbtrace_id());
            record::<D>(sim, request, fingerprint, &response);
            response
        })
    }
}

fn record<D: Dialect>(
    sim: &mut Sim,
    request: RequestLine,
    credential: Option<String>,
    response: &Response,
) {
    sim.record(TraceEvent::Request {
        surface: D::SURFACE,
        method: request.method.to_string(),
        path: request.path,
        credential,
        http_status: response.status().as_u16(),
        error_code: response.extensions().get::<ErrorCode>().map(|code| code.0),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_percent_decoded() {
        assert_eq!(percent_decode("%7B%22id%22%3A%22x%22%7D"), "{\"id\":\"x\"}");
        assert_eq!(percent_decode("a+b%2"), "a b%2");
        let line = RequestLine {
            method: Method::GET,
            path: "/x".to_owned(),
            query: Some("summary=total_count%2Cmessage_template_limit&name=a+b".to_owned()),
        };
        assert_eq!(
            line.query_value("summary").as_deref(),
            Some("total_count,message_template_limit")
        );
        assert_eq!(line.query_value("name").as_deref(), Some("a b"));
        assert_eq!(line.query_value("other"), None);
    }
}
