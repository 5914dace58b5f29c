//! What every fuzz target checks about replies, shared.
//!
//! [`check_reply`] holds a reply (or its absence) against the request it answers, using
//! serde_json (with `arbitrary_precision`) as the independent judge of what the request is:
//!
//! * every reply is valid JSON;
//! * input that is not JSON to reflex (serde_json rejects it, or it nests deeper than the
//!   configured limit) gets exactly one parse error with id `null` (`-32700`, or ReflectRPC's
//!   `InvalidRequest` with id `-1` when [`reflex::Config::v1_parse_errors`] is set);
//! * a 2.0 request with an id gets a 2.0 reply whose id equals it;
//! * a valid 2.0 notification (no id) gets nothing, whether its method exists or not, and a
//!   batch of only notifications gets nothing at all;
//! * a batch gets one array with one reply per element that is not a notification, in order;
//! * a 1.0 request with a non-null id gets a 1.0 reply (`result`, `error`, `id`) with that id.
//!
//! The known, intended differences between reflex's scanner and serde_json are the depth
//! limit (reflex: [`reflex::Config::max_depth`], at most 64; serde_json: 128) — lone
//! surrogates and invalid UTF-8 both reject.

use reflex::Config;
use reflex_demo::{Demo, NoPlatform};
use serde_json::Value;

/// A fresh demo service (LEDs off, counter 0), so two runs over the same input agree.
pub fn demo() -> Demo<NoPlatform> {
    Demo::new(NoPlatform)
}

/// Nesting depth as the scanner counts it: a scalar 0, `[]` 1, `[[]]` 2.
pub fn depth(text: &[u8]) -> usize {
    // Counted on the text, not on a parsed `Value`: with duplicate keys the parsed object keeps
    // only the last value, but every value in the text counts against the nesting limit
    // (`{"a":[[[]]],"a":1}` is as deep as its deepest member).
    let (mut depth, mut max, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &b in text {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// serde_json's verdict on a JSON text.
pub fn parse(bytes: &[u8]) -> Option<Value> {
    serde_json::from_slice(bytes).ok()
}

/// A short printable form of bytes for panic messages.
pub fn show(bytes: &[u8]) -> String {
    const MAX: usize = 600;
    let cut = bytes.len().min(MAX);
    let mut s = bytes[..cut].escape_ascii().to_string();
    if bytes.len() > MAX {
        s.push_str(&format!("... ({} bytes)", bytes.len()));
    }
    s
}

/// Parses a reply, which must be valid JSON.
pub fn reply_json(request: &[u8], reply: &[u8]) -> Value {
    serde_json::from_slice(reply).unwrap_or_else(|e| {
        panic!("reply is not valid JSON ({e})\n  request: {}\n  reply:   {}", show(request), show(reply))
    })
}

/// What one request (or batch element) must get.
#[derive(Debug, Clone, PartialEq)]
enum Want {
    /// Nothing at all: a notification.
    Nothing,
    /// A 2.0 reply with this id.
    V2(Value),
    /// A 1.0 reply with this id.
    V1(Value),
    /// Some reply; shape and id not checked (1.0 notifications with request errors).
    Unchecked,
}

fn valid_v2_id(id: &Value) -> bool {
    matches!(id, Value::String(_) | Value::Number(_) | Value::Null)
}

/// The rule for a request object that has a `jsonrpc` member (any value).
fn want_v2(obj: &serde_json::Map<String, Value>) -> Want {
    match obj.get("id") {
        Some(id) if valid_v2_id(id) => Want::V2(id.clone()),
        // Object, array or boolean ids cannot be echoed.
        Some(_) => Want::V2(Value::Null),
        None => {
            let version_ok = obj.get("jsonrpc").and_then(Value::as_str) == Some("2.0");
            let method_ok = obj.get("method").is_some_and(Value::is_string);
            let params_ok = obj.get("params").is_none_or(|p| p.is_array() || p.is_object());
            if version_ok && method_ok && params_ok {
                Want::Nothing
            } else {
                // An invalid request is no valid notification either: answered, id null.
                Want::V2(Value::Null)
            }
        }
    }
}

/// The rule for a top-level object without `jsonrpc` (ReflectRPC's 1.0 dialect).
fn want_v1(obj: &serde_json::Map<String, Value>) -> Want {
    match obj.get("id") {
        None => Want::V1(Value::from(-1)),
        Some(Value::Null) => Want::Unchecked,
        Some(id) => Want::V1(id.clone()),
    }
}

/// The rule for one batch element: batches are 2.0 only.
fn want_element(e: &Value) -> Want {
    match e {
        Value::Object(o) if o.contains_key("jsonrpc") => want_v2(o),
        Value::Object(o) => Want::V2(o.get("id").filter(|id| valid_v2_id(id)).cloned().unwrap_or(Value::Null)),
        _ => Want::V2(Value::Null),
    }
}

fn fail(request: &[u8], reply: Option<&[u8]>, what: &str) -> ! {
    panic!("{what}\n  request: {}\n  reply:   {}", show(request), reply.map_or_else(|| "(none)".to_string(), show))
}

/// Checks one reply object against what was wanted.
fn check_one(request: &[u8], raw: &[u8], r: &Value, want: &Want) {
    let bad = |what: &str| fail(request, Some(raw), what);
    let Some(obj) = r.as_object() else { bad("a reply must be an object") };
    match want {
        Want::Nothing => bad("a notification must get no reply"),
        Want::V2(id) => {
            if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
                bad("a 2.0 reply must have \"jsonrpc\": \"2.0\"");
            }
            match (obj.get("result"), obj.get("error")) {
                (Some(_), None) => {}
                (None, Some(e)) => {
                    if !e.get("code").is_some_and(|c| c.as_i64().is_some()) {
                        bad("a 2.0 error needs an integer code");
                    }
                    if !e.get("message").is_some_and(Value::is_string) {
                        bad("a 2.0 error needs a string message");
                    }
                }
                _ => bad("a 2.0 reply has exactly one of result and error"),
            }
            if obj.get("id") != Some(id) {
                bad(&format!("the reply's id must be {id}"));
            }
        }
        Want::V1(id) => {
            if !(obj.contains_key("result") && obj.contains_key("error")) {
                bad("a 1.0 reply has both result and error");
            }
            if obj.get("id") != Some(id) {
                bad(&format!("the reply's id must be {id}"));
            }
        }
        Want::Unchecked => {}
    }
}

/// Checks the reply `reply` (`None`: nothing was written) that reflex gave to `request`
/// under `config`. Panics with both texts on any violation.
pub fn check_reply(config: &Config, request: &[u8], reply: Option<&[u8]>) {
    let got = reply.map(|r| reply_json(request, r));
    let max_depth = usize::from(config.max_depth.min(reflex::scan::MAX_DEPTH));
    let parsed = parse(request).filter(|_| depth(request) <= max_depth);
    let Some(v) = parsed else {
        // Not JSON to reflex: one parse error, id null.
        let Some(r) = &got else { fail(request, reply, "a parse error must be answered") };
        let raw = reply.unwrap_or_default();
        if config.v1_parse_errors {
            if r.get("id") != Some(&Value::from(-1)) || r["error"]["name"] != "InvalidRequest" {
                fail(request, reply, "expected ReflectRPC's InvalidRequest with id -1");
            }
        } else {
            check_one(request, raw, r, &Want::V2(Value::Null));
            if r["error"]["code"].as_i64() != Some(-32700) {
                fail(request, reply, "expected a -32700 parse error");
            }
        }
        return;
    };
    match &v {
        Value::Object(o) => {
            let want = if o.contains_key("jsonrpc") { want_v2(o) } else { want_v1(o) };
            match (&got, &want) {
                (None, Want::Nothing | Want::Unchecked) => {}
                (None, _) => fail(request, reply, "a request with an id must be answered"),
                (Some(r), want) => check_one(request, reply.unwrap_or_default(), r, want),
            }
        }
        Value::Array(elements) if elements.is_empty() => {
            let Some(r) = &got else { fail(request, reply, "an empty batch gets one -32600") };
            check_one(request, reply.unwrap_or_default(), r, &Want::V2(Value::Null));
            if r["error"]["code"].as_i64() != Some(-32600) {
                fail(request, reply, "an empty batch gets -32600");
            }
        }
        Value::Array(elements) => {
            let wants: Vec<Want> = elements.iter().map(want_element).filter(|w| *w != Want::Nothing).collect();
            match &got {
                None if wants.is_empty() => {}
                None => fail(request, reply, "a batch with requests must be answered"),
                Some(_) if wants.is_empty() => fail(request, reply, "a batch of notifications gets nothing"),
                Some(Value::Array(replies)) => {
                    if replies.len() != wants.len() {
                        fail(request, reply, &format!("expected {} replies in the batch", wants.len()));
                    }
                    for (r, want) in replies.iter().zip(&wants) {
                        check_one(request, reply.unwrap_or_default(), r, want);
                    }
                }
                Some(_) => fail(request, reply, "a batch reply must be an array"),
            }
        }
        _ => {
            // Valid JSON that is no object or array: -32600 (or ReflectRPC's shape).
            let Some(r) = &got else { fail(request, reply, "a scalar must be answered") };
            if config.v1_parse_errors {
                if r.get("id") != Some(&Value::from(-1)) {
                    fail(request, reply, "expected ReflectRPC's InvalidRequest with id -1");
                }
            } else {
                check_one(request, reply.unwrap_or_default(), r, &Want::V2(Value::Null));
                if r["error"]["code"].as_i64() != Some(-32600) {
                    fail(request, reply, "a scalar gets -32600");
                }
            }
        }
    }
}

/// Splits a line-framed stream the way both line servers do: at LF, one CR before it
/// stripped, blank lines (spaces, tabs, CRs) skipped. Returns the lines and the unterminated
/// rest.
pub fn lines(stream: &[u8]) -> (Vec<&[u8]>, &[u8]) {
    let mut out = Vec::new();
    let mut rest = stream;
    while let Some(i) = rest.iter().position(|&b| b == b'\n') {
        out.push(&rest[..i]);
        rest = &rest[i + 1..];
    }
    (out, rest)
}

/// One line without its CR.
pub fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Whether a line is blank (ignored by the line servers).
pub fn is_blank(line: &[u8]) -> bool {
    line.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r'))
}
