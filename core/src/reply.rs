//! Reply envelopes for both dialects, and the error bodies with their exact texts.
//!
//! JSON-RPC 2.0 replies are compact, `{"jsonrpc":"2.0","result":…,"id":…}` with the id echoed
//! byte for byte. 1.0 (ReflectRPC) replies are spelled the way ReflectRPC's `json.dumps`
//! spells them, `{"result": …, "id": …, "error": null}`, so a reflex device and the Python
//! original give the same bytes for the same request.

use crate::check::CheckError;
use crate::error::{self, Error};
use crate::scan::{JsonStr, Kind};
use crate::ser::{self, Style};
use crate::sink::{Sink, Stop};

/// Something that renders reply bytes deterministically (it may be rendered more than once;
/// see [`crate::sink::Window`]).
///
/// Rendering goes through `&mut dyn Sink`: one copy of each renderer serves every transport,
/// which on a device saves far more flash than the indirect call per write costs.
pub trait Render {
    /// Writes the bytes to `k`.
    fn render(&self, k: &mut dyn Sink) -> Result<(), Stop>;
}

/// A JSON value that knows how to write itself in a given style.
pub trait JsonValue {
    /// Writes the value.
    fn write_json(&self, k: &mut dyn Sink, style: Style) -> Result<(), Stop>;
}

/// Adapts a `serde::Serialize` value to [`JsonValue`].
#[derive(Debug)]
pub struct Ser<'a, T: ?Sized>(pub &'a T);

impl<T: serde::Serialize + ?Sized> JsonValue for Ser<'_, T> {
    fn write_json(&self, k: &mut dyn Sink, style: Style) -> Result<(), Stop> {
        // `Reply::ok` has already proven the value serializes, so the only failure left is
        // the sink stopping.
        ser::to_sink(self.0, k, style).map_err(|_| Stop)
    }
}

/// The protocol dialect of one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Version {
    /// JSON-RPC 1.0 as ReflectRPC speaks it.
    V1,
    /// JSON-RPC 2.0.
    V2,
}

/// The id a reply carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Id<'a> {
    /// No `id` member (ReflectRPC's reply to an `id: null` request).
    Omit,
    /// `null`.
    Null,
    /// `-1` (ReflectRPC's id for unparsable requests and requests without an id).
    MinusOne,
    /// The request's id, as its raw text.
    Raw(&'a [u8]),
}

/// Everything about a reply except its payload.
#[derive(Clone, Copy, Debug)]
pub struct Envelope<'a> {
    /// Dialect.
    pub version: Version,
    /// Id to echo.
    pub id: Id<'a>,
    /// No reply may be written (a notification).
    pub silent: bool,
    /// Bytes before the reply: `[` or `,` inside a batch, nothing otherwise.
    pub prefix: &'static [u8],
}

impl<'a> Envelope<'a> {
    /// A 2.0 envelope for a reply with id `null` (parse errors and the like).
    pub const fn v2_null() -> Self {
        Envelope { version: Version::V2, id: Id::Null, silent: false, prefix: b"" }
    }

    /// Whether no reply may be sent.
    pub fn is_notification(&self) -> bool {
        self.silent
    }

    /// The output style of the dialect.
    pub fn style(&self) -> Style {
        match self.version {
            Version::V1 => Style::Python,
            Version::V2 => Style::Compact,
        }
    }

    /// Writes the batch prefix and the reply's opening up to its first member's value: `v1`
    /// or `v2` is that opening, spelled whole so that it is one write (the sinks are `dyn`:
    /// every call costs, and this runs once per reply).
    fn open(&self, k: &mut dyn Sink, v1: &'static [u8], v2: &'static [u8]) -> Result<(), Stop> {
        if !self.prefix.is_empty() {
            k.write(self.prefix)?;
        }
        match self.version {
            Version::V1 => k.write(v1),
            Version::V2 => k.write(v2),
        }
    }

    fn write_id(&self, k: &mut dyn Sink) -> Result<(), Stop> {
        match self.id {
            Id::Omit => Ok(()),
            Id::Null => k.write(b"null"),
            Id::MinusOne => k.write(b"-1"),
            // 2.0 ids are scalars and are echoed byte for byte; 1.0 ids may be any value and
            // are re-spelled the way ReflectRPC's json.dumps would.
            Id::Raw(raw) => match self.version {
                Version::V2 => k.write(raw),
                Version::V1 => write_reformatted(k, raw, Style::Python),
            },
        }
    }
}

/// A success reply.
pub struct OkReply<'a> {
    /// Envelope.
    pub env: Envelope<'a>,
    /// The result.
    pub value: &'a dyn JsonValue,
}

impl core::fmt::Debug for OkReply<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("OkReply").field("env", &self.env).finish_non_exhaustive()
    }
}

impl Render for OkReply<'_> {
    fn render(&self, k: &mut dyn Sink) -> Result<(), Stop> {
        let env = &self.env;
        env.open(k, b"{\"result\": ", b"{\"jsonrpc\":\"2.0\",\"result\":")?;
        match env.version {
            Version::V2 => {
                self.value.write_json(k, Style::Compact)?;
                k.write(b",\"id\":")?;
                env.write_id(k)?;
                k.write(b"}")
            }
            Version::V1 => {
                self.value.write_json(k, Style::Python)?;
                if env.id != Id::Omit {
                    k.write(b", \"id\": ")?;
                    env.write_id(k)?;
                }
                k.write(b", \"error\": null}")
            }
        }
    }
}

/// ReflectRPC's `InvalidRequest` messages (1.0); in 2.0 each is a bare `-32600`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Invalid {
    /// `Received invalid JSON`
    Json,
    /// `Field 'id' missing in request`
    IdMissing,
    /// `Field 'method' missing in request`
    MethodMissing,
    /// `Field 'method' must contain a string value`
    MethodNotString,
    /// `Field 'params' missing in request`
    ParamsMissing,
    /// `Field 'params' must contain an array`
    ParamsNotArray,
    /// A 2.0 request object that is not valid (no 1.0 text).
    Request,
}

impl Invalid {
    /// The ReflectRPC message.
    pub const fn message(self) -> &'static str {
        match self {
            Invalid::Json => "Received invalid JSON",
            Invalid::IdMissing => "Field 'id' missing in request",
            Invalid::MethodMissing => "Field 'method' missing in request",
            Invalid::MethodNotString => "Field 'method' must contain a string value",
            Invalid::ParamsMissing => "Field 'params' missing in request",
            Invalid::ParamsNotArray => "Field 'params' must contain an array",
            Invalid::Request => "Invalid Request",
        }
    }
}

/// What went wrong, with everything needed to say it in either dialect.
#[derive(Debug)]
pub enum ErrBody<'a> {
    /// Not JSON.
    Parse,
    /// Not a valid request.
    Invalid(Invalid),
    /// The request did not fit the receive buffer (limit in bytes).
    TooLarge(usize),
    /// A batch held more requests than allowed (the limit).
    BatchTooLarge(usize),
    /// No such method (its name as sent).
    MethodNotFound(JsonStr<'a>),
    /// Parameters failed the type check.
    Params(CheckError<'a>),
    /// A visible handler error.
    User(Error),
    /// A hidden failure, and whether its detail may be sent (debug mode only).
    Internal(Error, bool),
}

impl ErrBody<'_> {
    fn code(&self) -> i32 {
        match self {
            ErrBody::Parse => error::PARSE_ERROR,
            ErrBody::Invalid(_) | ErrBody::TooLarge(_) | ErrBody::BatchTooLarge(_) => error::INVALID_REQUEST,
            ErrBody::MethodNotFound(_) => error::METHOD_NOT_FOUND,
            ErrBody::Params(_) => error::INVALID_PARAMS,
            ErrBody::User(e) => e.code(),
            ErrBody::Internal(..) => error::INTERNAL_ERROR,
        }
    }

    fn write_v2(&self, k: &mut dyn Sink) -> Result<(), Stop> {
        let s = Style::Compact;
        k.write(b"{\"code\":")?;
        ser::write_i64(k, i64::from(self.code()))?;
        k.write(b",\"message\":")?;
        match self {
            ErrBody::Parse => k.write(b"\"Parse error\"")?,
            ErrBody::Invalid(_) => k.write(b"\"Invalid Request\"")?,
            ErrBody::TooLarge(limit) => {
                k.write(b"\"Invalid Request\",\"data\":\"Request exceeds the limit of ")?;
                ser::write_u64(k, *limit as u64)?;
                k.write(b" bytes\"")?;
            }
            ErrBody::BatchTooLarge(limit) => {
                k.write(b"\"Invalid Request\",\"data\":\"Batch exceeds the limit of ")?;
                ser::write_u64(k, *limit as u64)?;
                k.write(b" requests\"")?;
            }
            ErrBody::MethodNotFound(_) => k.write(b"\"Method not found\"")?,
            ErrBody::Params(c) => {
                k.write(b"\"Invalid params\",\"data\":\"")?;
                c.write_message(k, s)?;
                k.write(b"\"")?;
            }
            ErrBody::User(e) => {
                ser::write_str(k, e.message(), s)?;
                k.write(b",\"data\":{\"name\":")?;
                ser::write_str(k, e.name(), s)?;
                k.write(b"}")?;
            }
            ErrBody::Internal(e, expose) => {
                k.write(b"\"Internal error\"")?;
                if *expose {
                    k.write(b",\"data\":")?;
                    ser::write_str(k, e.message(), s)?;
                }
            }
        }
        k.write(b"}")
    }

    fn write_v1(&self, k: &mut dyn Sink) -> Result<(), Stop> {
        let s = Style::Python;
        k.write(b"{\"name\": \"")?;
        match self {
            ErrBody::Parse => k.write(b"InvalidRequest\", \"message\": \"Received invalid JSON\"")?,
            ErrBody::Invalid(i) => {
                k.write(b"InvalidRequest\", \"message\": \"")?;
                k.write(i.message().as_bytes())?;
                k.write(b"\"")?;
            }
            ErrBody::TooLarge(limit) => {
                k.write(b"InvalidRequest\", \"message\": \"Request exceeds the limit of ")?;
                ser::write_u64(k, *limit as u64)?;
                k.write(b" bytes\"")?;
            }
            ErrBody::BatchTooLarge(limit) => {
                k.write(b"InvalidRequest\", \"message\": \"Batch exceeds the limit of ")?;
                ser::write_u64(k, *limit as u64)?;
                k.write(b" requests\"")?;
            }
            ErrBody::MethodNotFound(m) => {
                k.write(b"InvalidRequest\", \"message\": \"No such method: ")?;
                ser::write_chars_content(k, m.chars(), s)?;
                k.write(b". Call '__describe_functions' to get details on available function calls\"")?;
            }
            // ReflectRPC has no type entry for None, so a null parameter ends in its generic
            // internal error; reflex keeps that reply for 1.0 clients.
            ErrBody::Params(c) if c.is_null() => k.write(b"InternalError\", \"message\": \"Internal error\"")?,
            ErrBody::Params(c) => {
                k.write(c.name().as_bytes())?;
                k.write(b"\", \"message\": \"")?;
                c.write_message(k, s)?;
                k.write(b"\"")?;
            }
            ErrBody::User(e) => {
                ser::write_str_content(k, e.name(), s)?;
                k.write(b"\", \"message\": ")?;
                ser::write_str(k, e.message(), s)?;
            }
            ErrBody::Internal(e, expose) => {
                k.write(b"InternalError\", \"message\": ")?;
                ser::write_str(k, if *expose { e.message() } else { "Internal error" }, s)?;
            }
        }
        k.write(b"}")
    }
}

/// An error reply.
#[derive(Debug)]
pub struct ErrReply<'a> {
    /// Envelope.
    pub env: Envelope<'a>,
    /// The error.
    pub body: &'a ErrBody<'a>,
}

impl Render for ErrReply<'_> {
    fn render(&self, k: &mut dyn Sink) -> Result<(), Stop> {
        let env = &self.env;
        env.open(k, b"{\"result\": null, ", b"{\"jsonrpc\":\"2.0\",\"error\":")?;
        match env.version {
            Version::V2 => {
                self.body.write_v2(k)?;
                k.write(b",\"id\":")?;
                env.write_id(k)?;
                k.write(b"}")
            }
            Version::V1 => {
                if env.id != Id::Omit {
                    k.write(b"\"id\": ")?;
                    env.write_id(k)?;
                    k.write(b", ")?;
                }
                k.write(b"\"error\": ")?;
                self.body.write_v1(k)?;
                k.write(b"}")
            }
        }
    }
}

/// Fixed bytes (batch brackets, line terminators).
#[derive(Debug)]
pub struct Raw<'a>(pub &'a [u8]);

impl Render for Raw<'_> {
    fn render(&self, k: &mut dyn Sink) -> Result<(), Stop> {
        k.write(self.0)
    }
}

/// Writes validated JSON text `raw` again in `style`: whitespace dropped, separators spelled
/// per style, strings re-escaped (so `Style::Python` output is pure ASCII). Iterative.
pub fn write_reformatted(k: &mut dyn Sink, raw: &[u8], style: Style) -> Result<(), Stop> {
    let mut pos = 0;
    while let Some(&b) = raw.get(pos) {
        match b {
            b' ' | b'\t' | b'\r' | b'\n' => pos += 1,
            b',' => {
                k.write(style.comma())?;
                pos += 1;
            }
            b':' => {
                k.write(style.colon())?;
                pos += 1;
            }
            b'{' | b'}' | b'[' | b']' => {
                k.write(core::slice::from_ref(&b))?;
                pos += 1;
            }
            b'"' => {
                let end = string_end(raw, pos);
                let content = raw.get(pos + 1..end.saturating_sub(1)).unwrap_or(&[]);
                ser::write_chars(k, JsonStr::new(content).chars(), style)?;
                pos = end;
            }
            _ => {
                // A number or literal: copy up to the next delimiter.
                let start = pos;
                while let Some(&c) = raw.get(pos) {
                    if matches!(c, b',' | b':' | b'}' | b']' | b' ' | b'\t' | b'\r' | b'\n') {
                        break;
                    }
                    pos += 1;
                }
                k.write(raw.get(start..pos).unwrap_or(&[]))?;
            }
        }
    }
    Ok(())
}

/// Offset one past the closing quote of the string starting at `start` (or the end of input).
fn string_end(raw: &[u8], start: usize) -> usize {
    let mut pos = start + 1;
    while let Some(&c) = raw.get(pos) {
        match c {
            b'\\' => pos += 2,
            b'"' => return pos + 1,
            _ => pos += 1,
        }
    }
    raw.len()
}

/// Whether a value of kind `kind` can be a 2.0 id (string, number or null).
pub(crate) fn valid_v2_id(kind: Kind) -> bool {
    matches!(kind, Kind::String | Kind::Int | Kind::Float | Kind::Null)
}
