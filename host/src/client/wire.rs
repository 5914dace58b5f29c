//! Request texts, and telling which incoming reply answers what.
//!
//! A line transport carries one request at a time, but replies the client no longer waits
//! for can still arrive: the reply to a call that timed out, or a 1.0 server's error reply to
//! a notification (ReflectRPC and reflex answer request errors of `id: null` requests, without
//! an `id` key). [`Tracker::classify`] sorts every incoming line against what the caller is
//! waiting for, so such strays are dropped instead of being taken for the next call's reply.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use serde_json::Value;

use super::error::{ClientError, RpcError};

/// The JSON-RPC dialect a client speaks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Version {
    /// JSON-RPC 1.0 as ReflectRPC speaks it: `{"id": 1, "method": "m", "params": [...]}`,
    /// notifications carry `"id": null`, no batches. Errors are `{name, message}`.
    V1,
    /// JSON-RPC 2.0 (the default): `"jsonrpc": "2.0"`, notifications have no `id`, batches,
    /// errors are `{code, message, data}`.
    #[default]
    V2,
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Version::V1 => "1.0",
            Version::V2 => "2.0",
        })
    }
}

/// A version string that is neither `1`/`1.0` nor `2`/`2.0`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown JSON-RPC version `{0}` (expected 1.0 or 2.0)")]
pub struct UnknownVersion(String);

impl FromStr for Version {
    type Err = UnknownVersion;

    /// Accepts `1`, `1.0`, `2` and `2.0`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "1" | "1.0" => Ok(Version::V1),
            "2" | "2.0" => Ok(Version::V2),
            _ => Err(UnknownVersion(s.to_string())),
        }
    }
}

/// `params` as they go on the wire: `None` for `()` / null (no parameters), an array or an
/// object, or an error for anything else.
pub(crate) fn params_value(params: impl Serialize) -> Result<Option<Value>, ClientError> {
    match serde_json::to_value(params) {
        Ok(Value::Null) => Ok(None),
        Ok(v @ (Value::Array(_) | Value::Object(_))) => Ok(Some(v)),
        Ok(other) => Err(ClientError::Params(format!(
            "parameters must serialize to a JSON array (by position) or object (by name), not `{other}`"
        ))),
        Err(e) => Err(ClientError::Params(e.to_string())),
    }
}

#[derive(Serialize)]
struct V2Request<'a> {
    jsonrpc: &'static str,
    method: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    params: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<u64>,
}

/// Key order as ReflectRPC's own client sends it: id, method, params.
#[derive(Serialize)]
struct V1Request<'a> {
    id: Option<u64>,
    method: &'a str,
    params: &'a Value,
}

/// One request text. `id: None` makes a notification (2.0: no `id`; 1.0: `"id": null`).
/// Without params, 2.0 omits the member and 1.0 sends `[]`. Members are in the conventional
/// order (2.0: jsonrpc, method, params, id; 1.0 as ReflectRPC's client: id, method, params).
pub(crate) fn request(version: Version, method: &str, params: Option<&Value>, id: Option<u64>) -> Vec<u8> {
    let text = match version {
        Version::V2 => serde_json::to_vec(&V2Request { jsonrpc: "2.0", method, params, id }),
        Version::V1 => {
            let empty = Value::Array(Vec::new());
            serde_json::to_vec(&V1Request { id, method, params: params.unwrap_or(&empty) })
        }
    };
    // Serializing a struct of strings and JSON values cannot fail.
    text.unwrap_or_default()
}

/// What the caller waits for.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expect {
    /// The reply object with this id (a request the client numbered, or a raw request).
    Id(Value),
    /// The reply array of a batch holding these ids.
    Batch(Vec<Value>),
    /// Any reply array (a raw batch).
    AnyArray,
    /// A reply without a usable id: the answer to unparsable or id-less raw text.
    NoId,
}

/// What an incoming line is, relative to an [`Expect`].
#[derive(Debug)]
pub(crate) enum Verdict {
    /// The awaited reply, parsed.
    Mine(Value),
    /// A reply to something else (a notification, a call that timed out): drop it.
    Stray,
    /// Not a JSON-RPC reply at all.
    Noise,
}

/// Whether an id is absent, null, or ReflectRPC's `-1` ("could not determine the id").
fn no_id(id: Option<&Value>) -> bool {
    match id {
        None | Some(Value::Null) => true,
        Some(v) => v.as_i64() == Some(-1),
    }
}

/// Whether `v` looks like a JSON-RPC reply object.
fn is_reply_object(v: &Value) -> bool {
    v.as_object().is_some_and(|o| o.contains_key("result") || o.contains_key("error"))
}

/// Whether `v` is a JSON-RPC reply: a reply object or an array.
pub(crate) fn is_reply(v: &Value) -> bool {
    is_reply_object(v) || v.is_array()
}

/// Per-connection bookkeeping of replies nobody waits for.
#[derive(Debug, Default)]
pub(crate) struct Tracker {
    /// Messages sent without waiting that a server may still answer without an id (1.0
    /// notifications whose request failed; any notification to a 1.0-only server). Reset when
    /// a reply is matched by id: servers answer a connection's requests in order, so
    /// everything sent before has been answered by then.
    strays: usize,
}

impl Tracker {
    /// Notes a message sent without waiting for a reply.
    pub(crate) fn sent_unanswered(&mut self) {
        self.strays = self.strays.saturating_add(1);
    }

    /// Whether a reply to `expect` could not be told apart from a stray: it carries no id
    /// (or is a raw batch's, which may be a single id-less error) while id-less replies to
    /// earlier notifications may still be on their way.
    pub(crate) fn ambiguous(&self, expect: &Expect) -> bool {
        self.strays > 0 && matches!(expect, Expect::NoId | Expect::AnyArray | Expect::Id(Value::Null))
    }

    /// Notes that everything sent before has been answered.
    pub(crate) fn settle(&mut self) {
        self.strays = 0;
    }

    /// Sorts one incoming line.
    pub(crate) fn classify(&mut self, expect: &Expect, line: &[u8]) -> Verdict {
        let Ok(value) = serde_json::from_slice::<Value>(line) else {
            return Verdict::Noise;
        };
        if value.is_array() {
            return match expect {
                Expect::AnyArray => Verdict::Mine(value),
                Expect::Batch(ids) => {
                    let ours =
                        value.as_array().into_iter().flatten().any(|e| e.get("id").is_some_and(|id| ids.contains(id)));
                    if ours {
                        self.strays = 0;
                        Verdict::Mine(value)
                    } else {
                        Verdict::Stray
                    }
                }
                _ => Verdict::Stray,
            };
        }
        if !is_reply_object(&value) {
            return Verdict::Noise;
        }
        let id = value.get("id");
        if no_id(id) {
            return match expect {
                // Waited for exactly this: raw text the server cannot take an id from.
                Expect::NoId | Expect::Id(Value::Null) => Verdict::Mine(value),
                _ if self.strays > 0 => {
                    self.strays -= 1;
                    Verdict::Stray
                }
                // Nothing else is outstanding: the server could not read our request's id.
                _ => Verdict::Mine(value),
            };
        }
        match expect {
            Expect::Id(want) if Some(want) == id => {
                self.strays = 0;
                Verdict::Mine(value)
            }
            _ => Verdict::Stray,
        }
    }
}

/// Whether `reply` could be the answer to `expect` judging by its shape alone: an id-less
/// reply object, or for a raw batch also an array.
pub(crate) fn could_answer(expect: &Expect, reply: &Value) -> bool {
    (reply.is_array() && *expect == Expect::AnyArray) || (is_reply_object(reply) && no_id(reply.get("id")))
}

/// Whether a request text gets a reply, and which: `None` for a notification (2.0 object
/// without `id`, 1.0 object with `"id": null`, a batch of only notifications). Unparsable
/// text, and anything else, is answered.
pub(crate) fn raw_expect(bytes: &[u8]) -> Option<Expect> {
    fn notification(o: &serde_json::Map<String, Value>) -> bool {
        if o.contains_key("jsonrpc") {
            !o.contains_key("id")
        } else {
            o.get("id").is_some_and(Value::is_null)
        }
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(o)) => {
            if notification(&o) {
                None
            } else {
                match o.get("id") {
                    Some(id) if !no_id(Some(id)) || o.contains_key("jsonrpc") => Some(Expect::Id(id.clone())),
                    _ => Some(Expect::NoId),
                }
            }
        }
        Ok(Value::Array(items)) if !items.is_empty() => {
            if items.iter().all(|i| i.as_object().is_some_and(notification)) {
                None
            } else {
                Some(Expect::AnyArray)
            }
        }
        _ => Some(Expect::NoId),
    }
}

/// The result of one reply object: `Ok(result)`, or the server's error.
pub(crate) fn outcome(reply: &Value) -> Result<Result<Value, RpcError>, ClientError> {
    let Some(obj) = reply.as_object() else {
        return Err(ClientError::invalid_reply("expected a reply object", reply.to_string().as_bytes()));
    };
    match (obj.get("error"), obj.get("result")) {
        (Some(e), _) if !e.is_null() => Ok(Err(RpcError::from_value(e))),
        (_, Some(r)) => Ok(Ok(r.clone())),
        _ => Err(ClientError::invalid_reply("neither `result` nor `error`", reply.to_string().as_bytes())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn requests_in_both_dialects() {
        let p = json!([1, 2]);
        assert_eq!(
            request(Version::V2, "add", Some(&p), Some(7)),
            br#"{"jsonrpc":"2.0","method":"add","params":[1,2],"id":7}"#
        );
        assert_eq!(request(Version::V2, "tick", None, None), br#"{"jsonrpc":"2.0","method":"tick"}"#);
        assert_eq!(request(Version::V1, "add", Some(&p), Some(7)), br#"{"id":7,"method":"add","params":[1,2]}"#);
        assert_eq!(request(Version::V1, "tick", None, None), br#"{"id":null,"method":"tick","params":[]}"#);
        assert!(params_value(5).is_err());
        assert_eq!(params_value(()).ok(), Some(None));
        assert_eq!("1.0".parse(), Ok(Version::V1));
    }

    #[test]
    fn strays_are_dropped_and_ids_matched() {
        let mut t = Tracker::default();
        t.sent_unanswered();
        let want = Expect::Id(json!(3));
        let stray = br#"{"result": null, "error": {"name": "InvalidRequest", "message": "No such method"}}"#;
        assert!(matches!(t.classify(&want, stray), Verdict::Stray));
        assert!(matches!(t.classify(&want, br#"{"jsonrpc":"2.0","result":1,"id":2}"#), Verdict::Stray));
        assert!(matches!(t.classify(&want, b"boot message"), Verdict::Noise));
        assert!(matches!(t.classify(&want, br#"{"jsonrpc":"2.0","result":1,"id":3}"#), Verdict::Mine(_)));
        // With nothing outstanding, an id-less error is the answer to our request.
        assert!(matches!(t.classify(&want, stray), Verdict::Mine(_)));
    }

    #[test]
    fn raw_decides_whether_a_reply_is_due() {
        assert_eq!(raw_expect(br#"{"jsonrpc":"2.0","method":"x"}"#), None);
        assert_eq!(raw_expect(br#"{"method":"x","params":[],"id":null}"#), None);
        assert_eq!(raw_expect(br#"[{"jsonrpc":"2.0","method":"x"}]"#), None);
        assert_eq!(raw_expect(br#"{"jsonrpc":"2.0","method":"x","id":null}"#), Some(Expect::Id(Value::Null)));
        assert_eq!(raw_expect(br#"{"method":"x","params":[],"id":"a"}"#), Some(Expect::Id(json!("a"))));
        assert_eq!(raw_expect(br#"{"method":"x","params":[]}"#), Some(Expect::NoId));
        assert_eq!(raw_expect(b"[]"), Some(Expect::NoId));
        assert_eq!(raw_expect(b"not json"), Some(Expect::NoId));
        assert_eq!(raw_expect(br#"[{"jsonrpc":"2.0","method":"x","id":1}]"#), Some(Expect::AnyArray));
    }
}
