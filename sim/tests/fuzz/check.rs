//! What every answer must be: no 5xx, an error in its surface's shape with a JSON
//! content type, a success in JSON (JSON Lines for the trace).

use axum::http::{Method, StatusCode};
use serde_json::Value;

use super::routes::{ROUTES, Shape};

/// An answer, read whole.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    /// Its status.
    pub(crate) status: StatusCode,
    /// Its `Content-Type`, if any.
    pub(crate) content_type: Option<String>,
    /// Its body.
    pub(crate) body: Vec<u8>,
}

/// The shape errors of `uri` take. Under `/_wasim` everything is the control API's
/// (its unknown paths too); a path whose escapes are not UTF-8 is unknown, as is a
/// path no route matches (Graph's unknown-path error); otherwise the route's
/// surface decides, matched as the router matches (raw segments, static routes
/// first).
pub(crate) fn expected_shape(uri: &str) -> Shape {
    let path = uri.split_once('?').map_or(uri, |(path, _)| path);
    if path == "/_wasim" || path.starts_with("/_wasim/") {
        return Shape::Control;
    }
    // The escapes as the router's path check reads them (a `%` not followed by two
    // hex digits is itself), decoded by the `percent-encoding` crate rather than
    // the simulator's own decoder, so the oracle does not share its bugs.
    if path.contains('%')
        && percent_encoding::percent_decode_str(path)
            .decode_utf8()
            .is_err()
    {
        return Shape::Graph;
    }
    let segments: Vec<&str> = path.strip_prefix('/').unwrap_or(path).split('/').collect();
    for route in ROUTES.iter() {
        let pattern = route.pattern.strip_prefix('/').unwrap_or(route.pattern);
        let parts = pattern.split('/');
        if parts.clone().count() != segments.len() {
            continue;
        }
        // A parameter matches any segment, and an empty one (`//`) too unless it
        // ends the path (axum's router: `/a//b` matches `/a/{x}/b`, `/a/` not `/a/{x}`).
        let last = segments.len() - 1;
        let matches = parts
            .zip(&segments)
            .enumerate()
            .all(|(i, (part, segment))| {
                if part.starts_with('{') {
                    i < last || !segment.is_empty()
                } else {
                    part == *segment
                }
            });
        if matches {
            return route.shape;
        }
    }
    Shape::Graph
}

fn graph_shape(body: &Value) -> Result<(), String> {
    let error = body
        .get("error")
        .and_then(Value::as_object)
        .ok_or("no `error` object (Graph's shape)")?;
    for field in ["message", "type", "fbtrace_id"] {
        if !error.get(field).is_some_and(Value::is_string) {
            return Err(format!("Graph error without a string `{field}`"));
        }
    }
    if !error.get("code").is_some_and(Value::is_u64) {
        return Err("Graph error without a numeric `code`".to_owned());
    }
    if body.as_object().is_some_and(|o| o.len() != 1) {
        return Err("Graph error with fields beside `error`".to_owned());
    }
    Ok(())
}

fn meta_shape(body: &Value, status: StatusCode) -> Result<(), String> {
    let meta = body
        .get("meta")
        .and_then(Value::as_object)
        .ok_or("no `meta` object (360dialog's shape)")?;
    if meta.get("success") != Some(&Value::Bool(false)) {
        return Err("360dialog error whose `meta.success` is not false".to_owned());
    }
    if meta.get("http_code").and_then(Value::as_u64) != Some(u64::from(status.as_u16())) {
        return Err("360dialog error whose `meta.http_code` is not the status".to_owned());
    }
    if !meta.get("developer_message").is_some_and(Value::is_string) {
        return Err("360dialog error without a string `meta.developer_message`".to_owned());
    }
    Ok(())
}

fn control_shape(body: &Value) -> Result<(), String> {
    let error = body
        .get("error")
        .and_then(Value::as_object)
        .ok_or("no `error` object (the control API's shape)")?;
    if !error.get("message").is_some_and(Value::is_string) {
        return Err("control error without a string `message`".to_owned());
    }
    if let Some(extra) = error
        .keys()
        .find(|k| *k != "message" && *k != "valid_paths")
    {
        return Err(format!(
            "control error with a field `{extra}` (Graph's shape?)"
        ));
    }
    Ok(())
}

fn is_json(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|t| {
        t.split(';')
            .next()
            .is_some_and(|e| e.trim() == "application/json")
    })
}

/// Checks `answer` to a request of `method` on `uri`.
pub(crate) fn check(method: &Method, uri: &str, answer: &Answer) -> Result<(), String> {
    let status = answer.status;
    if status.is_server_error() {
        // No 5xx is the platform's answer to anything the fuzzer sends: the model
        // gives 500/503 only for codes it never produces from a request (131000
        // is its "unexpected reply" bug marker), and the server's own 503 (too
        // many connections) is a socket-level answer this in-process run cannot meet.
        return Err(format!("a server error: {status}"));
    }
    if !status.is_success() && !status.is_client_error() {
        return Err(format!("an unexpected status: {status}"));
    }
    let content_type = answer.content_type.as_deref();
    // The router answers HEAD as GET without the body.
    let bodiless = *method == Method::HEAD && answer.body.is_empty();
    if status.is_success() {
        let path = uri.split_once('?').map_or(uri, |(path, _)| path);
        if path == "/_wasim/trace" && (*method == Method::GET || *method == Method::HEAD) {
            if content_type != Some("application/x-ndjson") {
                return Err(format!(
                    "the trace answered as {content_type:?}, not JSON Lines"
                ));
            }
            for line in answer.body.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                serde_json::from_slice::<serde::de::IgnoredAny>(line)
                    .map_err(|e| format!("a trace line is not JSON: {e}"))?;
            }
            return Ok(());
        }
        // A media download answers the file, with its own type.
        if path == "/whatsapp_business/attachments/" {
            return Ok(());
        }
        if !is_json(content_type) {
            return Err(format!("a success answered as {content_type:?}, not JSON"));
        }
        if !bodiless {
            serde_json::from_slice::<serde::de::IgnoredAny>(&answer.body)
                .map_err(|e| format!("a success whose body is not JSON: {e}"))?;
        }
        return Ok(());
    }
    if !is_json(content_type) {
        return Err(format!("an error answered as {content_type:?}, not JSON"));
    }
    if bodiless {
        return Ok(());
    }
    let body: Value = serde_json::from_slice(&answer.body)
        .map_err(|e| format!("an error whose body is not JSON: {e}"))?;
    let shape = expected_shape(uri);
    let checked = match shape {
        Shape::Graph => graph_shape(&body),
        Shape::Meta => meta_shape(&body, status),
        Shape::Control => control_shape(&body),
        // 360dialog answers a bad key (401) and a blocked WABA (the policy's
        // `template_block_http_status`, 403) itself; the rest is Meta's, passed on.
        Shape::D360Messages => graph_shape(&body).or_else(|graph| {
            if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
                meta_shape(&body, status)
            } else {
                Err(graph)
            }
        }),
    };
    checked.map_err(|problem| format!("an error not in its surface's shape ({shape:?}): {problem}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_classified_as_the_router_routes_them() {
        assert_eq!(expected_shape("/_wasim/nope?x"), Shape::Control);
        assert_eq!(expected_shape("/_wasim"), Shape::Control);
        assert_eq!(expected_shape("/messages"), Shape::D360Messages);
        assert_eq!(expected_shape("/messages/"), Shape::Graph);
        assert_eq!(expected_shape("/v1/configs/templates/"), Shape::Graph);
        assert_eq!(expected_shape("/v1/configs/templates/x"), Shape::Meta);
        assert_eq!(expected_shape("/api/v2/partners/p/users/u"), Shape::Meta);
        assert_eq!(expected_shape("/api/v2/partners/%ff/users/u"), Shape::Graph);
        assert_eq!(expected_shape("/api/v2/partners//users/u"), Shape::Meta);
        assert_eq!(expected_shape("/v23.0/1/messages"), Shape::Graph);
        assert_eq!(expected_shape("/"), Shape::Graph);
    }
}
