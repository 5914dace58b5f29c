//! What can go wrong in a call: [`ClientError`], and the error object a server replied with,
//! [`RpcError`].

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An error object from a server, parsed from either dialect.
///
/// * JSON-RPC 2.0: `{"code": -32000, "message": "...", "data": {"name": "UserError"}}`. reflex
///   puts the error's name in `data.name`; it is copied to [`name`](Self::name).
/// * JSON-RPC 1.0 as ReflectRPC speaks it: `{"name": "TypeError", "message": "..."}`, with no
///   code. A `message` that is not a string (ReflectRPC allows any JSON value) is kept as its
///   JSON text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RpcError {
    /// The numeric code (2.0, and 1.0 servers that use the `{code, message}` convention).
    pub code: Option<i64>,
    /// The error's name (`TypeError`, `UserError`, ...): 1.0 `name`, or 2.0 `data.name`.
    pub name: Option<String>,
    /// The human-readable message.
    pub message: String,
    /// The 2.0 `data` member, as sent.
    pub data: Option<Value>,
}

impl RpcError {
    /// Reads an `error` member of a reply. Anything that is not an object becomes the message
    /// (a string as is, other values as JSON text).
    pub fn from_value(error: &Value) -> RpcError {
        let Some(obj) = error.as_object() else {
            return RpcError { code: None, name: None, message: text_of(error), data: None };
        };
        let data = obj.get("data").filter(|d| !d.is_null()).cloned();
        let name = obj
            .get("name")
            .and_then(Value::as_str)
            .or_else(|| data.as_ref().and_then(|d| d.get("name")).and_then(Value::as_str))
            .map(str::to_owned);
        RpcError {
            code: obj.get("code").and_then(Value::as_i64),
            name,
            message: obj.get("message").map(text_of).unwrap_or_default(),
            data,
        }
    }
}

/// A string as is, any other value as compact JSON text, null as nothing.
fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

impl fmt::Display for RpcError {
    /// `UserError: This error was raised on purpose (code -32000)`; the name and code appear
    /// only when the server sent them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, "{name}: {}", self.message)?,
            None => write!(f, "{}", self.message)?,
        }
        if let Some(code) = self.code {
            write!(f, " (code {code})")?;
        }
        Ok(())
    }
}

impl std::error::Error for RpcError {}

/// Why a client operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The connection could not be established (refused, unknown host, no such device, TLS
    /// handshake failed, ...).
    #[error("cannot connect to {endpoint}: {source}")]
    Connect {
        /// The endpoint, as a URL.
        endpoint: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Reading or writing an established connection failed.
    #[error("connection error: {0}")]
    Io(#[from] std::io::Error),
    /// The server closed the connection before the reply arrived. The next call reconnects.
    #[error("the server closed the connection")]
    Closed,
    /// No reply within the configured timeout.
    #[error("no reply within {0:?}")]
    Timeout(Duration),
    /// The server answered with a JSON-RPC error object.
    #[error("{0}")]
    Rpc(RpcError),
    /// The HTTP server refused the credentials (status 401): none were given, or they are
    /// wrong.
    #[error("authentication failed (HTTP 401 Unauthorized){}", .challenge.as_ref().map(|c| format!("; the server asks for `{c}`")).unwrap_or_default())]
    Unauthorized {
        /// The server's `WWW-Authenticate` header, if it sent one.
        challenge: Option<String>,
    },
    /// The HTTP server answered with a status other than 2xx and a body that is not a
    /// JSON-RPC reply.
    #[error("HTTP status {status}: {body}")]
    Http {
        /// The status code.
        status: u16,
        /// The response body (lossy UTF-8, possibly truncated).
        body: String,
    },
    /// The HTTP exchange failed at the protocol level.
    #[error("HTTP error: {0}")]
    Hyper(#[from] hyper::Error),
    /// The server sent something that is not a JSON-RPC reply.
    #[error("invalid reply ({reason}): {reply}")]
    InvalidReply {
        /// What is wrong with it.
        reason: String,
        /// The reply text (lossy UTF-8, possibly truncated).
        reply: String,
    },
    /// The result did not deserialize into the requested type.
    #[error("unexpected result: {0}")]
    Result(#[source] serde_json::Error),
    /// The parameters could not be sent: they did not serialize, or not to a JSON array or
    /// object.
    #[error("invalid parameters: {0}")]
    Params(String),
    /// The operation needs a protocol feature the chosen version lacks (batches need 2.0).
    #[error("{0}")]
    Unsupported(&'static str),
    /// A certificate, key or CA file could not be used.
    #[error("TLS configuration: {path}: {reason}")]
    Certificate {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The TLS configuration is unusable (e.g. an invalid server name).
    #[error("TLS configuration: {0}")]
    Tls(String),
}

impl ClientError {
    /// The server's error object, if this is one.
    pub fn rpc(&self) -> Option<&RpcError> {
        match self {
            ClientError::Rpc(e) => Some(e),
            _ => None,
        }
    }

    /// An [`InvalidReply`](Self::InvalidReply) quoting at most 1000 bytes of `reply`.
    pub(crate) fn invalid_reply(reason: impl Into<String>, reply: &[u8]) -> ClientError {
        ClientError::InvalidReply { reason: reason.into(), reply: excerpt(reply) }
    }
}

/// `bytes` as lossy UTF-8, cut after 1000 bytes.
pub(crate) fn excerpt(bytes: &[u8]) -> String {
    const MAX: usize = 1000;
    let text = String::from_utf8_lossy(bytes.get(..MAX).unwrap_or(bytes));
    if bytes.len() > MAX {
        format!("{text}... ({} bytes)", bytes.len())
    } else {
        text.into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_both_dialects() {
        let v2 = RpcError::from_value(&json!({"code": -32000, "message": "boom", "data": {"name": "UserError"}}));
        assert_eq!(v2.code, Some(-32000));
        assert_eq!(v2.name.as_deref(), Some("UserError"));
        assert_eq!(v2.to_string(), "UserError: boom (code -32000)");

        let v1 = RpcError::from_value(&json!({"name": "TypeError", "message": "bad"}));
        assert_eq!((v1.code, v1.name.as_deref(), v1.message.as_str()), (None, Some("TypeError"), "bad"));
        assert_eq!(v1.to_string(), "TypeError: bad");

        let odd = RpcError::from_value(&json!({"name": "X", "message": {"code": 42}}));
        assert_eq!(odd.message, r#"{"code":42}"#);
        assert_eq!(RpcError::from_value(&json!("plain")).message, "plain");
        assert_eq!(RpcError::from_value(&json!({"code": -32601, "message": "Method not found"})).name, None);
    }
}
