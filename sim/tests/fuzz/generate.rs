//! The generator: one request per (seed, case index), drawn from its own seeded
//! RNG, so a case can be rebuilt alone. It starts from a well-formed request for
//! one route (`routes::valid`) and applies mutations to every part of it: the
//! method, the path and query, the headers (credentials, content type, Host,
//! Origin, control token) and the body (as JSON, then as bytes, then its size).
//! What a case may use besides its index is what the epoch learned from earlier
//! answers (a partner token, a rotated key, a wamid), so replaying a case replays
//! its epoch up to it.

use axum::body::Bytes;
use axum::http::{HeaderName, HeaderValue, Method};
use rand::{Rng as _, SeedableRng};
use serde_json::{Value, json};
use wasim_sim::model::refusal::BODY_BYTES_MAX;

use super::routes::{self, ROUTES};

/// The generator's RNG: seeded, portable, fast.
pub(crate) type Rng = rand_chacha::ChaCha8Rng;

/// A uniformly chosen element of a non-empty slice.
pub(crate) fn pick<'a, T>(rng: &mut Rng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

/// `/v23.0`-like prefixes of Graph paths.
pub(crate) fn version_prefix(rng: &mut Rng) -> String {
    (*pick(rng, &["/v23.0", "/v23.0", "/v19.0", "/v21.0"])).to_owned()
}

/// The ids and credentials of the fuzzed world (`GET /_wasim/world` shows them).
#[derive(Debug, Clone)]
pub(crate) struct Facts {
    pub(crate) access_token: String,
    pub(crate) verify_token: String,
    pub(crate) app_secret: String,
    pub(crate) d360_keys: Vec<String>,
    pub(crate) partner_id: String,
    pub(crate) partner_username: String,
    pub(crate) partner_password: String,
    pub(crate) partner_api_key: String,
    pub(crate) partner_webhook_secret: String,
    pub(crate) waba_id: String,
    pub(crate) phone_ids: Vec<String>,
    pub(crate) channel_ids: Vec<String>,
    pub(crate) template_ids: Vec<String>,
    pub(crate) template_names: Vec<String>,
    pub(crate) named: Vec<String>,
    pub(crate) sample_recipients: Vec<String>,
}

impl Facts {
    /// The facts of `world`.
    pub(crate) fn of(world: &wasim_sim::World) -> Facts {
        let spec = world.spec();
        let phones = &spec.waba.phone_numbers;
        Facts {
            access_token: spec.access_token.expose().to_owned(),
            verify_token: spec.verify_token.expose().to_owned(),
            app_secret: spec.app_secret.expose().to_owned(),
            d360_keys: phones
                .iter()
                .map(|p| p.d360_api_key.expose().to_owned())
                .collect(),
            partner_id: spec.partner.id.clone(),
            partner_username: spec.partner.username.clone(),
            partner_password: spec.partner.password.expose().to_owned(),
            partner_api_key: spec.partner.api_key.expose().to_owned(),
            partner_webhook_secret: spec.partner.webhook_secret.expose().to_owned(),
            waba_id: spec.waba.id.clone(),
            phone_ids: phones.iter().map(|p| p.id.clone()).collect(),
            channel_ids: phones.iter().map(|p| p.channel_id.clone()).collect(),
            template_ids: world.templates().iter().map(|t| t.id.clone()).collect(),
            template_names: world.templates().iter().map(|t| t.name.clone()).collect(),
            named: spec
                .recipients
                .named
                .iter()
                .map(|n| n.wa_id.clone())
                .collect(),
            sample_recipients: world.recipients().take(50).map(|r| r.wa_id()).collect(),
        }
    }

    /// Every secret of the world, for redacting failure messages.
    pub(crate) fn secrets(&self) -> Vec<String> {
        let mut secrets = vec![
            self.access_token.clone(),
            self.verify_token.clone(),
            self.app_secret.clone(),
            self.partner_password.clone(),
            self.partner_api_key.clone(),
            self.partner_webhook_secret.clone(),
        ];
        secrets.extend(self.d360_keys.iter().cloned());
        secrets
    }
}

/// What an epoch learned from the answers so far, and how it is configured.
#[derive(Debug, Clone, Default)]
pub(crate) struct Learned {
    /// The control token this epoch's server requires, if any.
    pub(crate) control_token: Option<String>,
    /// A partner bearer token from `POST /api/v2/token`.
    pub(crate) partner_bearer: Option<String>,
    /// The current 360dialog key of each channel (rotations replace them).
    pub(crate) d360_keys: Vec<String>,
    /// Message ids the world gave (sends, inbound messages).
    pub(crate) wamids: Vec<String>,
    /// Templates created.
    pub(crate) template_ids: Vec<String>,
    /// Partner users invited.
    pub(crate) user_ids: Vec<String>,
}

/// Most ids of each kind an epoch remembers.
const LEARNED_MAX: usize = 16;

impl Learned {
    /// What an epoch knows of a fresh world before its first answer: the
    /// channel keys of the spec, and the control token its server requires.
    pub(crate) fn fresh(facts: &Facts, control_token: Option<String>) -> Learned {
        Learned {
            control_token,
            d360_keys: facts.d360_keys.clone(),
            ..Learned::default()
        }
    }

    /// Remembers `value` in `list`, dropping the oldest past [`LEARNED_MAX`].
    pub(crate) fn remember(list: &mut Vec<String>, value: &str) {
        if list.len() >= LEARNED_MAX {
            list.remove(0);
        }
        list.push(value.to_owned());
    }

    /// Secrets learned (tokens, rotated keys), for redacting failure messages.
    pub(crate) fn secrets(&self) -> Vec<String> {
        let mut secrets: Vec<String> = self.d360_keys.clone();
        secrets.extend(self.partner_bearer.iter().cloned());
        secrets.extend(self.control_token.iter().cloned());
        secrets
    }
}

/// The credential a well-formed request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Auth {
    /// None (the partner token request, or a request left without one).
    None,
    /// `Authorization: Bearer <access token>`.
    Graph,
    /// `D360-API-KEY: <key of channel i>`.
    D360(usize),
    /// `X-API-Key: <partner key>`.
    PartnerKey,
    /// `Authorization: Bearer <partner token>`.
    PartnerBearer,
    /// The control API's headers (its token, when the epoch has one).
    Control,
}

/// A well-formed request before mutation.
#[derive(Debug, Clone)]
pub(crate) struct Base {
    /// Index in [`ROUTES`].
    pub(crate) route: usize,
    /// The method.
    pub(crate) method: &'static str,
    /// Path and query.
    pub(crate) path: String,
    /// Its credential.
    pub(crate) auth: Auth,
    /// Its JSON body, if any.
    pub(crate) body: Option<Value>,
}

/// One generated request.
#[derive(Debug, Clone)]
pub(crate) struct Case {
    /// The route the request started from (for coverage counts).
    pub(crate) route: usize,
    /// The method.
    pub(crate) method: Method,
    /// Path and query, as sent.
    pub(crate) uri: String,
    /// Headers, in order.
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    /// The body.
    pub(crate) body: Bytes,
    /// The mutations applied, by name.
    pub(crate) mutations: Vec<&'static str>,
}

/// The RNG of case `index` under `seed`: a SplitMix64 step of both, so
/// neighbouring indexes get unrelated streams.
pub(crate) fn case_rng(seed: u64, index: u64) -> Rng {
    let mut z = seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    Rng::seed_from_u64(z ^ (z >> 31))
}

/// How often each route is the starting point, relative to the others. Sends are
/// the platform's main road. A reset undoes the epoch's state and builds a world
/// (tens of milliseconds in a debug build), a clock advance fires every timer in
/// its span: both are rarer.
fn weight(pattern: &str) -> u32 {
    match pattern {
        "/{version}/{id}/messages" => 600,
        "/messages" => 300,
        "/{id}/messages" => 150,
        "/_wasim/inbound" => 150,
        "/_wasim/clock/advance" => 40,
        "/_wasim/reset" => 1,
        "/_wasim/trace" => 40,
        _ => 60,
    }
}

fn pick_route(rng: &mut Rng) -> usize {
    let total: u32 = ROUTES.iter().map(|r| weight(r.pattern)).sum();
    let mut roll = rng.random_range(0..total);
    for (index, route) in ROUTES.iter().enumerate() {
        let w = weight(route.pattern);
        if roll < w {
            return index;
        }
        roll -= w;
    }
    ROUTES.len() - 1
}

/// The request of case `index`.
pub(crate) fn case(seed: u64, index: u64, facts: &Facts, learned: &Learned) -> Case {
    let mut rng = case_rng(seed, index);
    let base = routes::valid(pick_route(&mut rng), &mut rng, facts, learned);
    let mut m = Mutator {
        rng,
        raws: Vec::new(),
        mutations: Vec::new(),
    };
    let mut method = base.method.to_owned();
    let mut path = base.path.clone();
    let mut headers = base_headers(&base, facts, learned);
    let mut value = base.body.clone();
    let roll = m.rng.random_range(0..100);
    // 30% as they are, 63% mutated, 6% on a path of odd segments, 1% sized at
    // the body limit (parsing 256 KiB is most of a debug run's time otherwise).
    let mutations = match roll {
        0..=29 => 0,
        30..=92 => m.rng.random_range(1..=4),
        _ => 0,
    };
    if (93..=98).contains(&roll) {
        // A path made up of odd segments, with any method.
        path = m.random_path();
        method = m.method();
        m.mutations.push("path.random");
    }
    let mut byte_ops = Vec::new();
    for _ in 0..mutations {
        match m.rng.random_range(0..100) {
            0..=34 => {
                if let Some(body) = value.as_mut() {
                    m.json(body);
                } else {
                    value = Some(m.any_body(facts, learned));
                    m.mutations.push("body.where_none");
                }
            }
            35..=44 => byte_ops.push(()),
            45..=54 => method = m.method(),
            55..=74 => path = m.path(&path),
            _ => m.headers(&mut headers, facts, learned),
        }
    }
    let mut body = match &value {
        Some(value) => m.serialize(value),
        None => Vec::new(),
    };
    for () in byte_ops {
        m.bytes(&mut body);
    }
    if roll == 99 {
        body = m.sized(body);
    }
    let method = Method::from_bytes(method.as_bytes()).unwrap_or(Method::GET);
    Case {
        route: base.route,
        method,
        uri: path,
        headers,
        body: Bytes::from(body),
        mutations: m.mutations,
    }
}

fn header(name: &'static str, value: &str) -> (HeaderName, HeaderValue) {
    (
        HeaderName::from_static(name),
        HeaderValue::from_str(value).unwrap_or_else(|_| HeaderValue::from_static("x")),
    )
}

/// The headers of a well-formed request: its credential, and a JSON content type
/// when it has a body.
fn base_headers(base: &Base, facts: &Facts, learned: &Learned) -> Vec<(HeaderName, HeaderValue)> {
    let mut headers = Vec::with_capacity(4);
    match base.auth {
        Auth::None => {}
        Auth::Graph => headers.push(header(
            "authorization",
            &format!("Bearer {}", facts.access_token),
        )),
        Auth::D360(i) => {
            let key = learned.d360_keys.get(i).unwrap_or(&facts.d360_keys[i]);
            headers.push(header("d360-api-key", key));
        }
        Auth::PartnerKey => headers.push(header("x-api-key", &facts.partner_api_key)),
        Auth::PartnerBearer => {
            let token = learned.partner_bearer.as_deref().unwrap_or("no-token-yet");
            headers.push(header("authorization", &format!("Bearer {token}")));
        }
        Auth::Control => {
            if let Some(token) = &learned.control_token {
                headers.push(header("x-wasim-control-token", token));
            }
        }
    }
    if base.body.is_some() {
        headers.push(header("content-type", "application/json"));
    }
    headers
}

/// Numbers at and past every bound a parser may have, as JSON text (some are not
/// JSON at all: `NaN`, `+1`, `01`).
const EXTREME_NUMBERS: &[&str] = &[
    "9223372036854775808",
    "9223372036854775807",
    "-9223372036854775809",
    "18446744073709551615",
    "18446744073709551616",
    "2305843009213693952",
    "4294967295",
    "4294967296",
    "2147483648",
    "-1",
    "0",
    "-0",
    "-0.0",
    "1e308",
    "-1e308",
    "1e309",
    "1.7976931348623157e308",
    "4.9e-324",
    "1e-400",
    "0.1",
    "1.5",
    "31536000.000001",
    "31536000",
    "604800",
    "20000001",
    "253402300800",
    "123456789012345678901234567890",
    "1E2",
    "NaN",
    "Infinity",
    "-Infinity",
    "\"NaN\"",
    "\"1e308\"",
    "\"9223372036854775808\"",
    "\"-1\"",
    "01",
    "1.",
    ".5",
    "+1",
    "0x10",
];

/// Odd text: empty, control characters, combining marks, right-to-left, emoji,
/// the last code point, a byte-order mark.
const ODD_STRINGS: &[&str] = &[
    "",
    " ",
    "\u{0}",
    "\u{1}\u{7f}",
    "é",
    "a\u{301}\u{301}\u{301}",
    "👍🏽",
    "👩\u{200d}👩\u{200d}👧",
    "\u{202e}txet",
    "\u{feff}",
    "\u{10ffff}",
    "𝕏𝕏𝕏",
    "null",
    "true",
    "{{1}}",
    "../../etc/passwd",
    "<script>alert(1)</script>",
    "'; DROP TABLE x; --",
    "%ff%00",
    "\r\n\r\nHTTP/1.1 200 OK",
    "wamid.",
    "5511987654321",
    "999131026",
    "_wasim",
];

/// JSON text that is not valid UTF-8 or not valid JSON, spliced in as a value.
const RAW_ODDITIES: &[&str] = &[
    "\"\\ud800\"",
    "\"\\udc00x\"",
    "\"\\u0000\"",
    "\"\\uZZZZ\"",
    "\"unterminated",
    "[1,]",
    "{\"a\":1,}",
    "{\"a\" 1}",
    "undefined",
    "'single'",
];

/// Applies mutations, remembering their names and the raw JSON texts spliced in.
struct Mutator {
    rng: Rng,
    /// Raw texts replacing `"@@RAW{i}@@"` placeholders once serialized.
    raws: Vec<(String, String)>,
    mutations: Vec<&'static str>,
}

impl Mutator {
    fn method(&mut self) -> String {
        self.mutations.push("method");
        (*pick(
            &mut self.rng,
            &[
                "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "CONNECT",
                "PURGE", "get", "Post", "X-CUSTOM", "M",
            ],
        ))
        .to_owned()
    }

    /// A placeholder string value that serializes to `raw`.
    fn raw(&mut self, raw: String) -> Value {
        let placeholder = format!("@@RAW{}@@", self.raws.len());
        self.raws.push((format!("\"{placeholder}\""), raw));
        Value::String(placeholder)
    }

    fn long_string(&mut self) -> String {
        let n = *pick(
            &mut self.rng,
            &[256, 512, 513, 2048, 4096, 4097, 10_000, 100_000],
        );
        let unit = *pick(&mut self.rng, &["a", "é", "👍", "\\", "\""]);
        unit.repeat(n)
    }

    /// Some odd value to put in place of another.
    fn odd_value(&mut self) -> (Value, &'static str) {
        match self.rng.random_range(0..12) {
            0 => (Value::Null, "json.null"),
            1 => (json!(self.rng.random_bool(0.5)), "json.bool"),
            2 => (json!([]), "json.empty_array"),
            3 => (json!({}), "json.empty_object"),
            4 | 5 => {
                let raw = (*pick(&mut self.rng, EXTREME_NUMBERS)).to_owned();
                (self.raw(raw), "json.extreme_number")
            }
            6 => (json!(self.long_string()), "json.long_string"),
            7 | 8 => (json!(pick(&mut self.rng, ODD_STRINGS)), "json.odd_string"),
            9 => {
                let depth = *pick(&mut self.rng, &[64, 127, 128, 129, 1000, 100_000]);
                let raw = if self.rng.random_bool(0.5) {
                    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
                } else {
                    format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth))
                };
                (self.raw(raw), "json.deep_nesting")
            }
            10 => {
                let raw = (*pick(&mut self.rng, RAW_ODDITIES)).to_owned();
                (self.raw(raw), "json.raw_oddity")
            }
            _ => (json!(self.rng.random::<i64>()), "json.random_number"),
        }
    }

    /// One mutation of a JSON body: at a random node, delete, replace, change its
    /// type, duplicate or rename a key, add a field, wrap it.
    fn json(&mut self, body: &mut Value) {
        // Paths to every node (bodies are small: this stays cheap).
        let mut nodes: Vec<Vec<Step>> = vec![Vec::new()];
        collect(body, &mut Vec::new(), &mut nodes);
        let at = nodes[self.rng.random_range(0..nodes.len())].clone();
        let op = self.rng.random_range(0..9);
        // Ops on the node's parent need a parent.
        if at.is_empty() && op <= 1 {
            let (value, name) = self.odd_value();
            *body = value;
            self.mutations.push(name);
            self.mutations.push("json.replace_root");
            return;
        }
        match op {
            0 => {
                let (parent, last) = at.split_at(at.len() - 1);
                let parent = node(body, parent);
                match (parent, &last[0]) {
                    (Value::Object(map), Step::Key(key)) => {
                        map.shift_remove(key);
                    }
                    (Value::Array(items), Step::Index(i)) if *i < items.len() => {
                        items.remove(*i);
                    }
                    _ => {}
                }
                self.mutations.push("json.delete");
            }
            1 => {
                // Duplicate a key: the same key twice in the object's text.
                let (parent, last) = at.split_at(at.len() - 1);
                if let (Value::Object(map), Step::Key(key)) = (node(body, parent), &last[0]) {
                    let placeholder = format!("@@RAW{}@@", self.raws.len());
                    self.raws.push((
                        format!("\"{placeholder}\""),
                        Value::String(key.clone()).to_string(),
                    ));
                    let (value, _) = self.odd_value();
                    map.insert(placeholder, value);
                }
                self.mutations.push("json.duplicate_key");
            }
            2 | 3 => {
                let (value, name) = self.odd_value();
                *node(body, &at) = value;
                self.mutations.push(name);
            }
            4 => {
                let target = node(body, &at);
                let swapped = match target.take() {
                    Value::Number(n) => Value::String(n.to_string()),
                    Value::String(s) => match s.parse::<f64>() {
                        Ok(n) => json!(n),
                        Err(_) => json!([s]),
                    },
                    Value::Bool(b) => Value::String(b.to_string()),
                    Value::Null => json!(0),
                    Value::Array(items) => Value::Object(
                        items
                            .into_iter()
                            .enumerate()
                            .map(|(i, v)| (i.to_string(), v))
                            .collect(),
                    ),
                    Value::Object(map) => Value::Array(map.into_iter().map(|(_, v)| v).collect()),
                };
                *target = swapped;
                self.mutations.push("json.swap_type");
            }
            5 => {
                let target = node(body, &at);
                let wrapped = if self.rng.random_bool(0.5) {
                    json!([target.take()])
                } else {
                    json!({"value": target.take()})
                };
                *target = wrapped;
                self.mutations.push("json.wrap");
            }
            6 => {
                // Rename a key (case, typo, unicode look-alike).
                let (parent, last) = at.split_at(at.len().saturating_sub(1));
                if let (Value::Object(map), Some(Step::Key(key))) =
                    (node(body, parent), last.first())
                    && let Some(value) = map.shift_remove(key)
                {
                    let renamed = match self.rng.random_range(0..4) {
                        0 => key.to_uppercase(),
                        1 => format!("{key}_"),
                        2 => format!(" {key}"),
                        _ => key.replacen('a', "а", 1),
                    };
                    map.insert(renamed, value);
                }
                self.mutations.push("json.rename_key");
            }
            7 => {
                if let Value::Object(map) = node(body, &at) {
                    let key = (*pick(
                        &mut self.rng,
                        &[
                            "extra",
                            "__proto__",
                            "constructor",
                            "",
                            "to",
                            "type",
                            "seconds",
                            "incident",
                            "count",
                        ],
                    ))
                    .to_owned();
                    let (value, _) = self.odd_value();
                    map.insert(key, value);
                } else if let Value::Array(items) = node(body, &at) {
                    let (value, _) = self.odd_value();
                    items.push(value);
                }
                self.mutations.push("json.add_field");
            }
            _ => {
                // An extreme number where a number is, or anywhere.
                let raw = (*pick(&mut self.rng, EXTREME_NUMBERS)).to_owned();
                *node(body, &at) = self.raw(raw);
                self.mutations.push("json.extreme_number");
            }
        }
    }

    /// The body's bytes, with the raw texts spliced in.
    fn serialize(&mut self, value: &Value) -> Vec<u8> {
        let mut text = value.to_string();
        for (placeholder, raw) in self.raws.drain(..) {
            text = text.replacen(&placeholder, &raw, 1);
        }
        text.into_bytes()
    }

    /// A body for a request that had none: one of the corpus's, or junk.
    fn any_body(&mut self, facts: &Facts, learned: &Learned) -> Value {
        if self.rng.random_bool(0.5) {
            routes::send_body(&mut self.rng, facts, learned)
        } else {
            json!({"seconds": 1, "incident": "terminate", "url": "http://127.0.0.1:1/"})
        }
    }

    /// A position in `body` (`0..len`, or `0..=len` when `end` may be chosen)
    /// outside every URL string: a byte edited inside one could turn a loopback
    /// webhook URL into a real address (a flipped bit makes `127.0.0.1` into
    /// `027.0.0.1`, octal for 23.0.0.1) or a host name to look up, and the
    /// server would try to deliver there.
    fn position(&mut self, body: &[u8], end: bool) -> usize {
        let at = self.rng.random_range(0..body.len() + usize::from(end));
        url_strings(body)
            .into_iter()
            .find(|range| range.contains(&at))
            .map_or(at, |range| range.start - 1)
    }

    /// One mutation of the body's bytes (never inside a URL string, see
    /// [`Mutator::position`]).
    fn bytes(&mut self, body: &mut Vec<u8>) {
        match self.rng.random_range(0..8) {
            0 if !body.is_empty() => {
                // A cut anywhere leaves no URL to read: the JSON is cut too.
                let at = self.rng.random_range(0..body.len());
                body.truncate(at);
                self.mutations.push("bytes.truncate");
            }
            1 if !body.is_empty() => {
                let at = self.position(body, false);
                body[at] ^= 1 << self.rng.random_range(0..8);
                self.mutations.push("bytes.flip");
            }
            2 => {
                let at = self.position(body, true);
                let sequences: [&[u8]; 6] = [
                    b"\xff",
                    b"\xc3\x28",
                    b"\xed\xa0\x80",
                    b"\xf4\x90\x80\x80",
                    b"\xc0\xaf",
                    b"\x00",
                ];
                let junk = *pick(&mut self.rng, &sequences);
                body.splice(at..at, junk.iter().copied());
                self.mutations.push("bytes.invalid_utf8");
            }
            3 => {
                let at = self.position(body, true);
                let n = self.rng.random_range(1..16);
                let junk: Vec<u8> = (0..n).map(|_| self.rng.random()).collect();
                body.splice(at..at, junk);
                self.mutations.push("bytes.junk");
            }
            4 => {
                let prefixes: [&[u8]; 3] = [b"\xef\xbb\xbf", b" \n\t", b"\x00"];
                let prefix = *pick(&mut self.rng, &prefixes);
                body.splice(0..0, prefix.iter().copied());
                self.mutations.push("bytes.prefix");
            }
            _ => {
                let bodies: [&[u8]; 11] = [
                    b"",
                    b" ",
                    b"null",
                    b"[]",
                    b"{}",
                    b"\"text\"",
                    b"123",
                    b"-1e999",
                    b"true",
                    b"{\"a\":",
                    b"a=1&b=2",
                ];
                *body = pick(&mut self.rng, &bodies).to_vec();
                self.mutations.push("bytes.replace");
            }
        }
    }

    /// A body at, just under or over the limit, or far past it.
    fn sized(&mut self, mut body: Vec<u8>) -> Vec<u8> {
        let target = match self.rng.random_range(0..6) {
            0 => BODY_BYTES_MAX - 1,
            1 | 2 => BODY_BYTES_MAX,
            3 | 4 => BODY_BYTES_MAX + 1,
            _ => 4 * BODY_BYTES_MAX,
        };
        if body.is_empty() {
            body.extend_from_slice(b"{}");
        }
        // Trailing whitespace keeps a JSON body valid at any length (`str::repeat`:
        // `Vec::resize` byte by byte is slow in a debug build).
        let pad = target.saturating_sub(body.len());
        body.extend_from_slice(" ".repeat(pad).as_bytes());
        body.truncate(target);
        self.mutations.push("size.limit");
        body
    }

    fn segment(&mut self) -> String {
        match self.rng.random_range(0..5) {
            0 => {
                let n = *pick(&mut self.rng, &[100, 1000, 5000]);
                "a".repeat(n)
            }
            1 => {
                // Random bytes, escaped.
                let n = self.rng.random_range(1..12);
                (0..n)
                    .map(|_| format!("%{:02X}", self.rng.random::<u8>()))
                    .collect()
            }
            _ => (*pick(
                &mut self.rng,
                &[
                    "",
                    ".",
                    "..",
                    "%2e%2e",
                    "%2E",
                    "%ff",
                    "%fe%ff",
                    "%c3%28",
                    "%",
                    "%zz",
                    "%2",
                    "%00",
                    "%2F",
                    "%20",
                    "_wasim",
                    "%5Fwasim",
                    "v0.0",
                    "v23.0",
                    "v99999999999999999999.0",
                    "V23.0",
                    "v23",
                    "23.0",
                    "v.0",
                    "0",
                    "-1",
                    "999999999999999999999999",
                    "%F0%9F%91%8D",
                    "messages",
                    "register",
                    "deregister",
                    "message_templates",
                    "unpause",
                    "api",
                    "v2",
                    "partners",
                    "channels",
                    "api_keys",
                    "users",
                    "templates",
                    "configs",
                    "v1",
                    "null",
                    "%252e",
                    ";",
                    "a;b=c",
                    "~",
                    "*",
                    ":",
                    "@",
                    "!$&'()*+,;=",
                    "110000000000001",
                    "100000000000001",
                    "wasimPA",
                    "wasimCH01",
                ],
            ))
            .to_owned(),
        }
    }

    fn random_path(&mut self) -> String {
        let prefix = *pick(
            &mut self.rng,
            &[
                "",
                "",
                "/_wasim",
                "/api/v2",
                "/api/v2/partners/wasimPA",
                "/v1/configs",
                "/v23.0",
                "//",
            ],
        );
        let n = self.rng.random_range(0..6);
        let mut path = prefix.to_owned();
        for _ in 0..n {
            path.push('/');
            path.push_str(&self.segment());
        }
        if path.is_empty() || !path.starts_with('/') {
            path.insert(0, '/');
        }
        path
    }

    /// One mutation of the path or its query.
    fn path(&mut self, uri: &str) -> String {
        let (path, query) = match uri.split_once('?') {
            Some((path, query)) => (path.to_owned(), Some(query.to_owned())),
            None => (uri.to_owned(), None),
        };
        let mut segments: Vec<String> = path.split('/').skip(1).map(str::to_owned).collect();
        let mut query = query;
        match self.rng.random_range(0..10) {
            0 | 1 if !segments.is_empty() => {
                let i = self.rng.random_range(0..segments.len());
                segments[i] = self.segment();
                self.mutations.push("path.segment");
            }
            2 => {
                let i = self.rng.random_range(0..=segments.len());
                segments.insert(i, String::new());
                self.mutations.push("path.double_slash");
            }
            3 => {
                segments.push(String::new());
                self.mutations.push("path.trailing_slash");
            }
            4 => {
                if segments
                    .first()
                    .is_some_and(|s| s.starts_with('v') && s.contains('.'))
                {
                    segments.remove(0);
                } else {
                    let version = (*pick(
                        &mut self.rng,
                        &["v23.0", "v0.0", "v1.0", "V23.0", "v23", "v9999999999.0"],
                    ))
                    .to_owned();
                    segments.insert(0, version);
                }
                self.mutations.push("path.version");
            }
            5 => {
                let junk = (*pick(
                    &mut self.rng,
                    &[
                        "",
                        "&&",
                        "a=%ff",
                        "since=-1",
                        "limit=18446744073709551616",
                        "since=1&since=2",
                        "since=x",
                        "limit=0",
                        "summary=%ZZ",
                        "fields=quality_score&fields=x",
                        "filters=%7Bnope",
                        "filters=%5B%5D",
                        "filters=%7B%22id%22%3A1%7D",
                        "sort=-",
                        "sort=a..b",
                        "name=%00",
                        "offset=99999999999999999999",
                        "limit=1001",
                        "=",
                        "a",
                        "%",
                        "hub.mode=subscribe",
                    ],
                ))
                .to_owned();
                query = Some(match query {
                    Some(q) if self.rng.random_bool(0.5) => format!("{q}&{junk}"),
                    _ => junk,
                });
                self.mutations.push("path.query");
            }
            6 => {
                let n = *pick(&mut self.rng, &[2_000, 8_000, 30_000]);
                segments.push("x".repeat(n));
                self.mutations.push("path.long");
            }
            7 if !segments.is_empty() => {
                let i = self.rng.random_range(0..segments.len());
                segments[i] = segments[i].to_uppercase();
                self.mutations.push("path.case");
            }
            8 if !segments.is_empty() => {
                let i = self.rng.random_range(0..segments.len());
                segments.remove(i);
                self.mutations.push("path.drop_segment");
            }
            _ => {
                // Escape one character of a segment that needs none.
                if let Some(i) =
                    (!segments.is_empty()).then(|| self.rng.random_range(0..segments.len()))
                    && let Some(c) = segments[i].bytes().next()
                {
                    segments[i] = format!("%{c:02x}{}", segments[i].get(1..).unwrap_or(""));
                }
                self.mutations.push("path.escape");
            }
        }
        let mut uri = format!("/{}", segments.join("/"));
        if let Some(query) = query {
            uri.push('?');
            uri.push_str(&query);
        }
        uri
    }

    /// One mutation of the headers.
    fn headers(
        &mut self,
        headers: &mut Vec<(HeaderName, HeaderValue)>,
        facts: &Facts,
        learned: &Learned,
    ) {
        let credential_headers = [
            "authorization",
            "d360-api-key",
            "x-api-key",
            "x-wasim-control-token",
        ];
        match self.rng.random_range(0..13) {
            0 => {
                headers.retain(|(name, _)| !credential_headers.contains(&name.as_str()));
                self.mutations.push("auth.drop");
            }
            1 => {
                // Another surface's credential, or a wrong one, in any credential header.
                let value = match self.rng.random_range(0..4) {
                    0 => facts.access_token.clone(),
                    1 => pick(&mut self.rng, &facts.d360_keys).clone(),
                    2 => facts.partner_api_key.clone(),
                    _ => (*pick(
                        &mut self.rng,
                        &["", " ", "wrong", "null", "Bearer", "fp_000000000000"],
                    ))
                    .to_owned(),
                };
                let name = *pick(&mut self.rng, &credential_headers);
                let value = if name == "authorization" && self.rng.random_bool(0.7) {
                    format!("Bearer {value}")
                } else {
                    value
                };
                headers.retain(|(n, _)| n.as_str() != name);
                headers.push(header(name, &value));
                self.mutations.push("auth.wrong");
            }
            2 => {
                let token = &facts.access_token;
                let value = match self.rng.random_range(0..8) {
                    0 => format!("bearer {token}"),
                    1 => format!("BEARER {token}"),
                    2 => "Bearer".to_owned(),
                    3 => "Bearer ".to_owned(),
                    4 => format!("Bearer   {token}   "),
                    5 => format!("Basic {token}"),
                    6 => format!("Bearer {token} {token}"),
                    _ => format!("Bearer\t{token}"),
                };
                headers.retain(|(n, _)| n.as_str() != "authorization");
                headers.push(header("authorization", &value));
                self.mutations.push("auth.scheme");
            }
            3 | 4 => {
                let value = *pick(
                    &mut self.rng,
                    &[
                        "text/plain",
                        "application/x-www-form-urlencoded",
                        "multipart/form-data; boundary=x",
                        "",
                        "application/json; charset=utf-8",
                        "APPLICATION/JSON",
                        "application/vnd.api+json",
                        "application/jsonx",
                        "a/b/c;;;",
                        "application/json, text/plain",
                        "*/*",
                    ],
                );
                headers.retain(|(n, _)| n.as_str() != "content-type");
                if self.rng.random_bool(0.8) {
                    headers.push(header("content-type", value));
                }
                self.mutations.push("header.content_type");
            }
            5 => {
                let value = *pick(
                    &mut self.rng,
                    &[
                        "127.0.0.1:8080",
                        "localhost",
                        "localhost.",
                        "wasim.localhost",
                        "[::1]:8080",
                        "attacker.example",
                        "attacker.example:8080",
                        "127.0.0.1.attacker.example",
                        "10.0.0.7",
                        "",
                        "[::1",
                        ":80",
                        "localhost:x",
                    ],
                );
                headers.push(header("host", value));
                self.mutations.push("header.host");
            }
            6 => {
                let value = *pick(
                    &mut self.rng,
                    &[
                        "http://localhost:3000",
                        "https://evil.example",
                        "null",
                        "",
                        "http://127.0.0.1",
                        "file://",
                        "http://[::1]:1",
                    ],
                );
                headers.push(header("origin", value));
                self.mutations.push("header.origin");
            }
            7 => {
                // Bytes a header may carry that are not text (obs-text).
                let name = *pick(&mut self.rng, &credential_headers);
                let value = HeaderValue::from_bytes(b"\xff\xfe caf\xe9")
                    .unwrap_or(HeaderValue::from_static("x"));
                headers.push((HeaderName::from_static(name), value));
                self.mutations.push("header.obs_text");
            }
            8 => {
                let name = *pick(&mut self.rng, &credential_headers);
                let value = if name == "authorization" {
                    format!("Bearer {}", "t".repeat(16_384))
                } else {
                    "k".repeat(16_384)
                };
                headers.push(header(name, &value));
                self.mutations.push("header.long");
            }
            9 => {
                // The right credential twice, or the right and a wrong one.
                if let Some((name, value)) = headers.first().cloned() {
                    if self.rng.random_bool(0.5) {
                        headers.push((name, value));
                    } else {
                        headers.insert(0, (name, HeaderValue::from_static("wrong")));
                    }
                }
                self.mutations.push("header.duplicate");
            }
            10 => {
                let value = *pick(
                    &mut self.rng,
                    &[
                        "0",
                        "1",
                        "99999999999",
                        "18446744073709551616",
                        "-1",
                        "abc",
                        " 5 ",
                    ],
                );
                headers.push(header("content-length", value));
                self.mutations.push("header.content_length");
            }
            11 => {
                let value = match (&learned.control_token, self.rng.random_range(0..3)) {
                    (Some(token), 0) => format!("{token} "),
                    (Some(token), 1) => token.to_uppercase(),
                    _ => "wrong-control-token-0123456789".to_owned(),
                };
                headers.retain(|(n, _)| n.as_str() != "x-wasim-control-token");
                headers.push(header("x-wasim-control-token", &value));
                self.mutations.push("control.token");
            }
            _ => {
                let n = *pick(&mut self.rng, &[1, 10, 100]);
                for i in 0..n {
                    let name = HeaderName::from_bytes(format!("x-junk-{i}").as_bytes())
                        .unwrap_or(HeaderName::from_static("x-junk"));
                    headers.push((name, HeaderValue::from_static("junk")));
                }
                self.mutations.push("header.junk");
            }
        }
    }
}

/// One step from a JSON node to a child.
#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Index(usize),
}

fn collect(value: &Value, at: &mut Vec<Step>, nodes: &mut Vec<Vec<Step>>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                at.push(Step::Key(key.clone()));
                nodes.push(at.clone());
                collect(child, at, nodes);
                at.pop();
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                at.push(Step::Index(i));
                nodes.push(at.clone());
                collect(child, at, nodes);
                at.pop();
            }
        }
        _ => {}
    }
}

fn node<'a>(value: &'a mut Value, path: &[Step]) -> &'a mut Value {
    let mut node = value;
    for step in path {
        let fits = match (&*node, step) {
            (Value::Object(_), Step::Key(_)) => true,
            (Value::Array(items), Step::Index(i)) => *i < items.len(),
            _ => false,
        };
        if !fits {
            break;
        }
        node = match (node, step) {
            (Value::Object(map), Step::Key(key)) => map.entry(key.clone()).or_insert(Value::Null),
            (Value::Array(items), Step::Index(i)) => &mut items[*i],
            (other, _) => other,
        };
    }
    node
}

/// The byte ranges of the JSON strings in `body` that start with `http`: from
/// just after the opening quote to the closing one included (a byte inserted
/// before it would extend the URL).
fn url_strings(body: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut ranges = Vec::new();
    let mut from = 0;
    while let Some(found) = body[from..].windows(5).position(|w| w == b"\"http") {
        let start = from + found + 1;
        let end = body[start..]
            .iter()
            .position(|b| *b == b'"')
            .map_or(body.len(), |n| start + n);
        ranges.push(start..end + 1);
        from = end.min(body.len());
        if from >= body.len() {
            break;
        }
    }
    ranges
}
