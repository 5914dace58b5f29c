//! Errors a handler returns, and the JSON-RPC 2.0 error codes.
//!
//! A handler chooses what the client sees: an [`Error`] made with [`Error::new`] reaches the
//! client with its name (the ReflectRPC `name`), its message and a 2.0 code. One made with
//! [`Error::internal`] is hidden: the client gets a bare `Internal error` and the detail goes
//! to the transport's log hook only.

use core::fmt;

/// JSON-RPC 2.0 `Parse error`.
pub const PARSE_ERROR: i32 = -32700;
/// JSON-RPC 2.0 `Invalid Request`.
pub const INVALID_REQUEST: i32 = -32600;
/// JSON-RPC 2.0 `Method not found`.
pub const METHOD_NOT_FOUND: i32 = -32601;
/// JSON-RPC 2.0 `Invalid params`.
pub const INVALID_PARAMS: i32 = -32602;
/// JSON-RPC 2.0 `Internal error`.
pub const INTERNAL_ERROR: i32 = -32603;
/// The code of a user error that did not choose one: the first of the implementation-defined
/// `Server error` range.
pub const SERVER_ERROR: i32 = -32000;

/// How many bytes of message an [`Error`] carries; longer messages are cut at a character
/// boundary. Keeps errors on the stack without an allocator.
pub const MESSAGE_CAPACITY: usize = 120;

/// An error returned by a handler.
#[derive(Clone, PartialEq, Eq)]
pub struct Error {
    code: i32,
    name: &'static str,
    message: heapless::String<MESSAGE_CAPACITY>,
    hidden: bool,
}

impl Error {
    /// A user-visible error: `name` is what ReflectRPC calls the error class (e.g.
    /// `"LedError"`), `message` the text; the 2.0 code is [`SERVER_ERROR`] unless set with
    /// [`Error::with_code`].
    pub fn new(name: &'static str, message: &str) -> Self {
        let mut e = Error { code: SERVER_ERROR, name, message: heapless::String::new(), hidden: false };
        push_truncated(&mut e.message, message);
        e
    }

    /// A user-visible error whose message is formatted, e.g.
    /// `Error::format("LedError", format_args!("no LED {}", i))`.
    pub fn format(name: &'static str, args: fmt::Arguments<'_>) -> Self {
        let mut e = Error::new(name, "");
        let mut w = Truncating(&mut e.message);
        let _ = fmt::write(&mut w, args);
        e
    }

    /// A hidden error: the client sees only `Internal error`; `detail` is handed to the
    /// transport's log hook (and sent only when the transport is in debug mode).
    pub fn internal(detail: &str) -> Self {
        let mut e = Error::new("InternalError", detail);
        e.code = crate::error::INTERNAL_ERROR;
        e.hidden = true;
        e
    }

    /// Sets the JSON-RPC 2.0 error code.
    pub fn with_code(mut self, code: i32) -> Self {
        self.code = code;
        self
    }

    /// The JSON-RPC 2.0 code.
    pub fn code(&self) -> i32 {
        self.code
    }

    /// The error name (ReflectRPC's `name`).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The message (for hidden errors: the detail that is not sent).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether the error is hidden from the client.
    pub fn is_hidden(&self) -> bool {
        self.hidden
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("code", &self.code)
            .field("name", &self.name)
            .field("message", &self.message.as_str())
            .field("hidden", &self.hidden)
            .finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.message)
    }
}

impl core::error::Error for Error {}

#[cfg(feature = "defmt")]
impl defmt::Format for Error {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "{=i32} {=str}: {=str}", self.code, self.name, self.message.as_str())
    }
}

fn push_truncated<const N: usize>(s: &mut heapless::String<N>, text: &str) {
    let room = N - s.len();
    let mut cut = text.len().min(room);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let _ = s.push_str(text.get(..cut).unwrap_or(""));
}

struct Truncating<'a, const N: usize>(&'a mut heapless::String<N>);

impl<const N: usize> fmt::Write for Truncating<'_, N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        push_truncated(self.0, s);
        Ok(())
    }
}
