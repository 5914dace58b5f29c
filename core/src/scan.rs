//! Zero-copy, iterative JSON scanner (RFC 8259, strict).
//!
//! Contract: [`Scanner::value`] and [`Scanner::document`] validate strictly — UTF-8 (no
//! overlong forms, no surrogates, nothing above U+10FFFF), escapes (`\uXXXX` surrogates must
//! pair), numbers (`-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?`), literals, no trailing commas, no
//! control characters in strings — without recursion, keeping a bit stack of open containers
//! that is capped at `max_depth` (at most [`MAX_DEPTH`]). They never panic and never read out
//! of bounds, whatever the input.
//!
//! Once a span has been validated, the *trusted* helpers ([`members`], [`elements`],
//! [`JsonStr`], [`parse_int`]) walk it cheaply. They too never panic on any input, but they
//! give meaningful results only on validated spans.

/// Largest nesting depth the scanner can track (the width of its bit stack).
pub const MAX_DEPTH: u8 = 64;

/// Why a scan failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ScanError {
    /// The input is not valid JSON; the offset of the first offending byte (or the input
    /// length when it ends too early).
    Syntax(usize),
    /// Containers are nested deeper than the configured limit.
    TooDeep,
}

/// The kind of a JSON value, known from its first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Kind {
    /// `{...}`
    Object,
    /// `[...]`
    Array,
    /// `"..."`
    String,
    /// A number without fraction or exponent.
    Int,
    /// A number with a fraction or an exponent.
    Float,
    /// `true`
    True,
    /// `false`
    False,
    /// `null`
    Null,
}

impl Kind {
    /// The type name ReflectRPC reports for a value of this kind (`'bool'`, `'int'`,
    /// `'float'`, `'string'`, `'array'`, `'hash'`; `null` for null).
    pub const fn type_name(self) -> &'static str {
        match self {
            Kind::Object => "hash",
            Kind::Array => "array",
            Kind::String => "string",
            Kind::Int => "int",
            Kind::Float => "float",
            Kind::True | Kind::False => "bool",
            Kind::Null => "null",
        }
    }
}

/// A validated value: `buf[start..end]` is its exact text (no surrounding whitespace).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Value {
    /// Offset of the first byte.
    pub start: usize,
    /// Offset one past the last byte.
    pub end: usize,
    /// Its kind.
    pub kind: Kind,
}

impl Value {
    /// The value's text within `buf` (empty if the span is out of bounds).
    pub fn bytes<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        buf.get(self.start..self.end).unwrap_or(&[])
    }

    /// For a string value, its content between the quotes.
    pub fn as_str<'a>(&self, buf: &'a [u8]) -> Option<JsonStr<'a>> {
        if self.kind != Kind::String || self.end < self.start + 2 {
            return None;
        }
        buf.get(self.start + 1..self.end - 1).map(JsonStr::new)
    }
}

/// A strict validating scanner over one buffer.
#[derive(Clone, Copy, Debug)]
pub struct Scanner<'a> {
    buf: &'a [u8],
    max_depth: u8,
}

impl<'a> Scanner<'a> {
    /// A scanner over `buf` allowing `max_depth` nested containers (clamped to [`MAX_DEPTH`]).
    /// A scalar has depth 0, `[]` depth 1, `[[]]` depth 2.
    pub fn new(buf: &'a [u8], max_depth: u8) -> Self {
        let _ = (buf, max_depth);
        unimplemented!()
    }

    /// The buffer.
    pub fn buf(&self) -> &'a [u8] {
        self.buf
    }

    /// Validates the whole buffer as one JSON text: optional whitespace, one value, optional
    /// whitespace, end.
    pub fn document(&self) -> Result<Value, ScanError> {
        unimplemented!()
    }

    /// Skips whitespace from `pos`, then validates exactly one value there, allowing
    /// `max_depth - depth_used` further levels of nesting. Returns the value (trailing
    /// whitespace is not consumed).
    pub fn value(&self, pos: usize, depth_used: u8) -> Result<Value, ScanError> {
        let _ = (pos, depth_used);
        unimplemented!()
    }

    /// Validates the members of the object that starts at `obj_start` (the `{`) one by one,
    /// yielding each key and value as it goes; `Some(Err(..))` on the first error, then `None`.
    /// The object itself counts as one level of depth. After the last member,
    /// [`CheckedMembers::end`] is the offset one past the closing `}`.
    pub fn members(&self, obj_start: usize) -> CheckedMembers<'a> {
        let _ = obj_start;
        unimplemented!()
    }
}

/// Iterator returned by [`Scanner::members`].
#[derive(Debug)]
pub struct CheckedMembers<'a> {
    scanner: Scanner<'a>,
    pos: usize,
    state: u8,
}

impl<'a> CheckedMembers<'a> {
    /// Offset one past the closing `}` once iteration finished without error.
    pub fn end(&self) -> usize {
        self.pos
    }
}

impl<'a> Iterator for CheckedMembers<'a> {
    type Item = Result<(JsonStr<'a>, Value), ScanError>;
    fn next(&mut self) -> Option<Self::Item> {
        let _ = (&self.scanner, self.state);
        unimplemented!()
    }
}

/// Skips whitespace (space, tab, LF, CR) from `pos`; returns the first other offset.
pub fn skip_ws(buf: &[u8], pos: usize) -> usize {
    let _ = (buf, pos);
    unimplemented!()
}

/// The members of a *validated* object value: `(key, value)` in document order.
pub fn members<'a>(buf: &'a [u8], obj: Value) -> Members<'a> {
    let _ = (buf, obj);
    unimplemented!()
}

/// The elements of a *validated* array value, in order.
pub fn elements<'a>(buf: &'a [u8], arr: Value) -> Elements<'a> {
    let _ = (buf, arr);
    unimplemented!()
}

/// Iterator over the members of a validated object.
#[derive(Debug, Clone)]
pub struct Members<'a> {
    buf: &'a [u8],
    pos: usize,
    end: usize,
}

impl<'a> Iterator for Members<'a> {
    type Item = (JsonStr<'a>, Value);
    fn next(&mut self) -> Option<Self::Item> {
        let _ = (self.buf, self.pos, self.end);
        unimplemented!()
    }
}

/// Iterator over the elements of a validated array.
#[derive(Debug, Clone)]
pub struct Elements<'a> {
    buf: &'a [u8],
    pos: usize,
    end: usize,
}

impl<'a> Iterator for Elements<'a> {
    type Item = Value;
    fn next(&mut self) -> Option<Self::Item> {
        unimplemented!()
    }
}

/// The raw content of a validated JSON string (between the quotes, escapes not yet decoded).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JsonStr<'a> {
    raw: &'a [u8],
}

impl<'a> JsonStr<'a> {
    /// Wraps validated string content.
    pub const fn new(raw: &'a [u8]) -> Self {
        JsonStr { raw }
    }

    /// The raw content, escapes included.
    pub const fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// Whether the content contains a backslash escape.
    pub fn has_escapes(&self) -> bool {
        unimplemented!()
    }

    /// The content as `&str` when it has no escapes (it is valid UTF-8 once validated).
    pub fn as_plain(&self) -> Option<&'a str> {
        unimplemented!()
    }

    /// Whether the decoded content equals `s` (fast path when there are no escapes).
    pub fn eq_str(&self, s: &str) -> bool {
        let _ = s;
        unimplemented!()
    }

    /// The decoded characters.
    pub fn chars(&self) -> Chars<'a> {
        unimplemented!()
    }

    /// Length of the decoded content in UTF-8 bytes.
    pub fn decoded_len(&self) -> usize {
        unimplemented!()
    }

    /// Decodes into `out`; returns the decoded `&str`, or `None` if `out` is too small.
    pub fn unescape_into<'o>(&self, out: &'o mut [u8]) -> Option<&'o str> {
        let _ = out;
        unimplemented!()
    }
}

/// Decoded characters of a [`JsonStr`]. Yields U+FFFD for anything malformed.
#[derive(Clone, Debug)]
pub struct Chars<'a> {
    raw: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for Chars<'a> {
    type Item = char;
    fn next(&mut self) -> Option<char> {
        let _ = (self.raw, self.pos);
        unimplemented!()
    }
}

/// Parses an integer literal (validated number text without fraction or exponent) into sign
/// and magnitude; `None` if it does not fit in a `u64` magnitude or is not an integer literal.
pub fn parse_int(text: &[u8]) -> Option<(bool, u64)> {
    let _ = text;
    unimplemented!()
}
