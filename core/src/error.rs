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

/// How many bytes of a *formatted* message an [`Error`] carries ([`Error::format`]); longer
/// text is cut at a character boundary. Static messages ([`Error::new`]) have no limit. The
/// bound keeps `Error` small enough to return by value on a microcontroller's stack.
pub const MESSAGE_CAPACITY: usize = 80;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Message {
    Static(&'static str),
    Inline { len: u8, buf: [u8; MESSAGE_CAPACITY] },
}

impl Message {
    fn as_str(&self) -> &str {
        match self {
            Message::Static(s) => s,
            Message::Inline { len, buf } => {
                // Only whole characters are ever copied in, so this cannot fail.
                core::str::from_utf8(buf.get(..usize::from(*len)).unwrap_or(&[])).unwrap_or("")
            }
        }
    }
}

/// An error returned by a handler.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Error {
    code: i32,
    hidden: bool,
    name: &'static str,
    message: Message,
}

impl Error {
    /// A user-visible error: `name` is what ReflectRPC calls the error class (e.g.
    /// `"LedError"`), `message` the text; the 2.0 code is [`SERVER_ERROR`] unless set with
    /// [`Error::with_code`].
    pub const fn new(name: &'static str, message: &'static str) -> Self {
        Error { code: SERVER_ERROR, hidden: false, name, message: Message::Static(message) }
    }

    /// A user-visible error with a formatted message (at most [`MESSAGE_CAPACITY`] bytes),
    /// e.g. `Error::format("LedError", format_args!("no LED {}", i))`.
    pub fn format(name: &'static str, args: fmt::Arguments<'_>) -> Self {
        let mut w = Inline { len: 0, buf: [0; MESSAGE_CAPACITY] };
        let _ = fmt::write(&mut w, args);
        Error { code: SERVER_ERROR, hidden: false, name, message: Message::Inline { len: w.len, buf: w.buf } }
    }

    /// A hidden error: the client sees only `Internal error`; `detail` is handed to the
    /// transport's log hook (and sent only when the transport is in debug mode).
    pub const fn internal(detail: &'static str) -> Self {
        Error { code: INTERNAL_ERROR, hidden: true, name: "InternalError", message: Message::Static(detail) }
    }

    /// A hidden error with a formatted detail (at most [`MESSAGE_CAPACITY`] bytes).
    pub fn internal_format(args: fmt::Arguments<'_>) -> Self {
        let mut e = Error::format("InternalError", args);
        e.code = INTERNAL_ERROR;
        e.hidden = true;
        e
    }

    /// Sets the JSON-RPC 2.0 error code.
    pub const fn with_code(mut self, code: i32) -> Self {
        self.code = code;
        self
    }

    /// The JSON-RPC 2.0 code.
    pub const fn code(&self) -> i32 {
        self.code
    }

    /// The error name (ReflectRPC's `name`).
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// The message (for hidden errors: the detail that is not sent).
    pub fn message(&self) -> &str {
        self.message.as_str()
    }

    /// Whether the error is hidden from the client.
    pub const fn is_hidden(&self) -> bool {
        self.hidden
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("code", &self.code)
            .field("name", &self.name)
            .field("message", &self.message())
            .field("hidden", &self.hidden)
            .finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.message())
    }
}

impl core::error::Error for Error {}

#[cfg(feature = "defmt")]
impl defmt::Format for Error {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "{=i32} {=str}: {=str}", self.code, self.name, self.message())
    }
}

/// Collects formatted text, keeping whole characters up to the capacity.
struct Inline {
    len: u8,
    buf: [u8; MESSAGE_CAPACITY],
}

impl fmt::Write for Inline {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let used = usize::from(self.len);
        let mut cut = s.len().min(MESSAGE_CAPACITY - used);
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        if let (Some(dst), Some(src)) = (self.buf.get_mut(used..used + cut), s.as_bytes().get(..cut)) {
            dst.copy_from_slice(src);
            // cut <= MESSAGE_CAPACITY - used, and MESSAGE_CAPACITY fits in a u8.
            self.len = (used + cut) as u8;
        }
        Ok(())
    }
}

// Keep `Result<T, Error>` cheap to return (and below clippy's `result_large_err` bound, which
// users' handlers would otherwise trip).
const _: () = assert!(core::mem::size_of::<Error>() <= 120);
