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
        // `saturating_sub` so that a hand-made span near `usize::MAX` cannot overflow; past
        // this check `start + 1 <= end - 1`.
        if self.kind != Kind::String || self.end.saturating_sub(self.start) < 2 {
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
    #[inline]
    pub fn new(buf: &'a [u8], max_depth: u8) -> Self {
        // The stack of open containers is one `u64` bit per level: deeper nesting cannot be
        // tracked, so clamp once here.
        let max_depth = if max_depth > MAX_DEPTH { MAX_DEPTH } else { max_depth };
        Scanner { buf, max_depth }
    }

    /// The buffer.
    pub fn buf(&self) -> &'a [u8] {
        self.buf
    }

    /// Validates the whole buffer as one JSON text: optional whitespace, one value, optional
    /// whitespace, end.
    pub fn document(&self) -> Result<Value, ScanError> {
        let v = self.value(0, 0)?;
        let p = skip_ws(self.buf, v.end);
        if p < self.buf.len() {
            return Err(ScanError::Syntax(p));
        }
        Ok(v)
    }

    /// Skips whitespace from `pos`, then validates exactly one value there, allowing
    /// `max_depth - depth_used` further levels of nesting. Returns the value (trailing
    /// whitespace is not consumed).
    pub fn value(&self, pos: usize, depth_used: u8) -> Result<Value, ScanError> {
        let start = skip_ws(self.buf, pos);
        let limit = self.max_depth.saturating_sub(depth_used);
        match scan_value_at(self.buf, start, limit) {
            Ok((end, kind)) => Ok(Value { start, end, kind }),
            Err(at) => Err(scan_error(at)),
        }
    }

    /// Validates the members of the object that starts at `obj_start` (the `{`) one by one,
    /// yielding each key and value as it goes; `Some(Err(..))` on the first error, then `None`.
    /// The object itself counts as one level of depth. After the last member,
    /// [`CheckedMembers::end`] is the offset one past the closing `}`.
    pub fn members(&self, obj_start: usize) -> CheckedMembers<'a> {
        CheckedMembers { scanner: *self, pos: obj_start, state: CM_START, validated: false }
    }

    /// [`Scanner::members`] for an object inside text that [`Scanner::document`] has
    /// accepted already (a batch element): the structure and keys are checked as usual, but
    /// values are only skipped over, not validated a second time. On text that was not
    /// validated the members found are unspecified, but nothing panics.
    pub fn members_of_validated(&self, obj_start: usize) -> CheckedMembers<'a> {
        CheckedMembers { scanner: *self, pos: obj_start, state: CM_START, validated: true }
    }
}

/// [`CheckedMembers`] has not looked at the `{` yet.
const CM_START: u8 = 0;
/// A member was yielded; `pos` is just past its value.
const CM_AFTER_MEMBER: u8 = 1;
/// Iteration is over (after the `}` or after an error).
const CM_DONE: u8 = 2;
/// A syntax error at `pos` was found while looking for the next member; reported next.
const CM_ERROR: u8 = 3;
/// The object is too deep; reported next.
const CM_TOO_DEEP: u8 = 4;

/// Iterator returned by [`Scanner::members`].
#[derive(Debug)]
pub struct CheckedMembers<'a> {
    scanner: Scanner<'a>,
    pos: usize,
    state: u8,
    /// The text was validated before: values are skipped, not scanned.
    validated: bool,
}

impl<'a> CheckedMembers<'a> {
    /// The value starting at `start`: its end and kind.
    #[inline(always)]
    fn value_at(&self, start: usize) -> Scan<(usize, Kind)> {
        let buf = self.scanner.buf;
        if self.validated {
            return match skip_value(buf, start) {
                Some(v) => Ok((v.end, v.kind)),
                None => Err(fail(buf, start)),
            };
        }
        // The object itself is the one level already used (`max_depth >= 1` was checked at
        // the `{`).
        scan_value_at(buf, start, self.scanner.max_depth.saturating_sub(1))
    }

    /// Offset one past the closing `}` once iteration finished without error.
    pub fn end(&self) -> usize {
        self.pos
    }

    /// Validates `"key" : value` at `p` (whitespace skipped).
    #[inline(always)]
    fn member(&self, p: usize) -> Scan<(JsonStr<'a>, Value)> {
        let buf = self.scanner.buf;
        if buf.get(p) != Some(&b'"') {
            return Err(fail(buf, p));
        }
        let key_end = scan_string(buf, p)?;
        // `scan_string` returned a closing quote at `key_end - 1 > p`.
        let key = JsonStr::new(buf.get(p + 1..key_end - 1).unwrap_or(&[]));
        let q = skip_ws(buf, key_end);
        if buf.get(q) != Some(&b':') {
            return Err(fail(buf, q));
        }
        let start = skip_ws(buf, q + 1);
        let (end, kind) = self.value_at(start)?;
        Ok((key, Value { start, end, kind }))
    }
}

/// A member's key as [`CheckedMembers::next_with`] yields it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key<'a> {
    /// A key the caller recognised by its text; the number the caller gave it.
    Known(u8),
    /// Any other key.
    Other(JsonStr<'a>),
}

impl<'a> CheckedMembers<'a> {
    /// The next member, like [`Iterator::next`], but `known` sees the bytes from the member's
    /// opening quote on first. When it recognises the key's text *with* its colon (e.g.
    /// `"id":`, no escapes, no space before the colon) and returns `Some((n, len))` — `len`
    /// the length of that text — the key is [`Key::Known`]`(n)` and is not scanned again.
    /// Anything `known` does not take is scanned as usual. `known` only ever confirms exact
    /// bytes, so a recognised key is a valid JSON string followed by a colon.
    #[inline(always)]
    pub fn next_with(
        &mut self,
        known: impl Fn(&[u8]) -> Option<(u8, usize)>,
    ) -> Option<Result<(Key<'a>, Value), ScanError>> {
        let p = self.advance()?;
        let buf = self.scanner.buf;
        let fine = self.state != CM_ERROR && self.state != CM_TOO_DEEP;
        if let Some((n, len)) = buf.get(p..).filter(|_| fine).and_then(&known) {
            let start = skip_ws(buf, p + len);
            return Some(match self.value_at(start) {
                Ok((end, kind)) => {
                    self.pos = end;
                    self.state = CM_AFTER_MEMBER;
                    Ok((Key::Known(n), Value { start, end, kind }))
                }
                Err(at) => {
                    self.state = CM_DONE;
                    Err(scan_error(at))
                }
            });
        }
        Some(self.finish_member(p).map(|(k, v)| (Key::Other(k), v)))
    }

    /// Moves past the `{` or the `,` before the next member and returns where that member
    /// starts; `None` at the end (after the `}`); `Some(Err)` was already reported when the
    /// state became done.
    #[inline(always)]
    fn advance(&mut self) -> Option<usize> {
        let buf = self.scanner.buf;
        let p = skip_ws(buf, self.pos);
        match self.state {
            CM_AFTER_MEMBER => match buf.get(p) {
                Some(b',') => Some(skip_ws(buf, p + 1)),
                Some(b'}') => {
                    self.pos = p + 1;
                    self.state = CM_DONE;
                    None
                }
                _ => {
                    self.state = CM_ERROR;
                    self.pos = fail(buf, p);
                    Some(p)
                }
            },
            CM_START => {
                self.state = CM_DONE;
                if buf.get(p) != Some(&b'{') {
                    self.state = CM_ERROR;
                    self.pos = fail(buf, p);
                    return Some(p);
                }
                if self.scanner.max_depth == 0 {
                    self.state = CM_TOO_DEEP;
                    return Some(p);
                }
                let p = skip_ws(buf, p + 1);
                if buf.get(p) == Some(&b'}') {
                    self.pos = p + 1;
                    return None;
                }
                Some(p)
            }
            _ => None,
        }
    }

    /// The member at `p` (after [`Self::advance`]), scanned in full; reports an error
    /// [`Self::advance`] found.
    #[inline(always)]
    fn finish_member(&mut self, p: usize) -> Result<(JsonStr<'a>, Value), ScanError> {
        match self.state {
            CM_ERROR => {
                self.state = CM_DONE;
                return Err(ScanError::Syntax(self.pos));
            }
            CM_TOO_DEEP => {
                self.state = CM_DONE;
                return Err(ScanError::TooDeep);
            }
            _ => {}
        }
        match self.member(p) {
            Ok(member) => {
                self.pos = member.1.end;
                self.state = CM_AFTER_MEMBER;
                Ok(member)
            }
            Err(at) => {
                self.state = CM_DONE;
                Err(scan_error(at))
            }
        }
    }
}

impl<'a> Iterator for CheckedMembers<'a> {
    type Item = Result<(JsonStr<'a>, Value), ScanError>;
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let p = self.advance()?;
        Some(self.finish_member(p))
    }
}

/// Internal error of the validating helpers: the offending offset (already clamped to the
/// input length), or [`TOO_DEEP`]. A bare `usize` travels in a register, where a
/// `Result<_, ScanError>` would go through memory on every call in the hot loop.
type Scan<T> = Result<T, usize>;

/// The internal error for "nested too deep". Offsets never reach `usize::MAX` (a slice is at
/// most `isize::MAX` long), so this cannot be mistaken for a position.
const TOO_DEEP: usize = usize::MAX;

/// The public error for an internal one.
#[cold]
fn scan_error(at: usize) -> ScanError {
    if at == TOO_DEEP {
        ScanError::TooDeep
    } else {
        ScanError::Syntax(at)
    }
}

/// Validates one value starting exactly at `start` with at most `limit` levels of nesting;
/// returns its end and kind. Scalars are handled inline; containers out of line.
#[inline(always)]
fn scan_value_at(buf: &[u8], start: usize, limit: u8) -> Scan<(usize, Kind)> {
    match buf.get(start) {
        Some(b'{') => Ok((scan_container(buf, start, limit)?, Kind::Object)),
        Some(b'[') => Ok((scan_container(buf, start, limit)?, Kind::Array)),
        _ => scan_scalar(buf, start),
    }
}

/// The offset to report for an unexpected byte at `i`, or for the input ending before `i`.
#[inline]
fn fail(buf: &[u8], i: usize) -> usize {
    if i < buf.len() {
        i
    } else {
        buf.len()
    }
}

/// Bytes that may appear in a string without any further check: printable ASCII other
/// than `"` and `\`. A 256-entry table indexed by a `u8` can never be indexed out of bounds.
static PLAIN: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0x20;
    while i < 0x80 {
        t[i] = i != b'"' as usize && i != b'\\' as usize;
        i += 1;
    }
    t
};

/// Skips whitespace (space, tab, LF, CR) from `pos`; returns the first other offset.
#[inline]
pub fn skip_ws(buf: &[u8], pos: usize) -> usize {
    let mut p = pos;
    // `get` returns None at and beyond the end, so a `pos` past the buffer comes back as is.
    while let Some(&b) = buf.get(p) {
        // Everything above the space is not whitespace: one compare for the usual case.
        if b > b' ' || !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            break;
        }
        p += 1;
    }
    p
}

/// The offset of the first occurrence of `byte` in `buf` at or after `from`.
#[inline]
pub fn find_byte(buf: &[u8], from: usize, byte: u8) -> Option<usize> {
    let rest = buf.get(from..)?;
    rest.iter().position(|&b| b == byte).map(|i| from + i)
}

/// Validates the containers opening at `start` (a `{` or `[`) with at most `limit` levels;
/// returns the offset past the matching close.
fn scan_container(buf: &[u8], start: usize, limit: u8) -> Scan<usize> {
    // A shift register of open containers, innermost in bit 0 (1 = object). `depth` bits
    // are meaningful; at most 64 are ever pushed, so none that matters is shifted out.
    let mut stack: u64 = 0;
    let mut depth: u8 = 0;
    let mut p = start;
    // Invariant at the top of this loop: `p` is where a value must begin (whitespace
    // already skipped).
    loop {
        match buf.get(p) {
            Some(&open @ (b'{' | b'[')) => {
                if depth >= limit {
                    return Err(TOO_DEEP);
                }
                // depth < limit <= MAX_DEPTH = 64: no overflow.
                depth += 1;
                // `p < buf.len()` (we just read `buf[p]`), so `p + 1` cannot overflow.
                p = skip_ws(buf, p + 1);
                if open == b'{' {
                    stack = (stack << 1) | 1;
                    if buf.get(p) != Some(&b'}') {
                        p = scan_key_colon(buf, p)?;
                        continue;
                    }
                } else {
                    stack <<= 1;
                    if buf.get(p) != Some(&b']') {
                        continue;
                    }
                }
                // Empty container: complete already.
                p += 1;
                depth -= 1; // was just incremented
                stack >>= 1;
            }
            Some(b'"') => p = scan_string(buf, p)?,
            Some(b'-' | b'0'..=b'9') => p = scan_number(buf, p)?.0,
            Some(b't') => p = scan_literal(buf, p, b"true")?,
            Some(b'f') => p = scan_literal(buf, p, b"false")?,
            Some(b'n') => p = scan_literal(buf, p, b"null")?,
            _ => return Err(fail(buf, p)),
        }

        // A value just ended at `p`: close containers until one continues with a comma.
        loop {
            if depth == 0 {
                return Ok(p);
            }
            p = skip_ws(buf, p);
            let in_obj = stack & 1 == 1;
            match buf.get(p) {
                Some(b',') => {
                    p = skip_ws(buf, p + 1);
                    if in_obj {
                        p = scan_key_colon(buf, p)?;
                    }
                    break;
                }
                Some(b'}') if in_obj => {}
                Some(b']') if !in_obj => {}
                _ => return Err(fail(buf, p)),
            }
            p += 1;
            depth -= 1; // >= 1: checked at the top of this loop
            stack >>= 1;
        }
    }
}

/// Validates one scalar at `p`; returns its end and kind.
#[inline(always)]
fn scan_scalar(buf: &[u8], p: usize) -> Scan<(usize, Kind)> {
    match buf.get(p) {
        Some(b'"') => Ok((scan_string(buf, p)?, Kind::String)),
        Some(b'-' | b'0'..=b'9') => {
            let (end, float) = scan_number(buf, p)?;
            Ok((end, if float { Kind::Float } else { Kind::Int }))
        }
        Some(b't') => Ok((scan_literal(buf, p, b"true")?, Kind::True)),
        Some(b'f') => Ok((scan_literal(buf, p, b"false")?, Kind::False)),
        Some(b'n') => Ok((scan_literal(buf, p, b"null")?, Kind::Null)),
        _ => Err(fail(buf, p)),
    }
}

/// Checks that `lit` is at `p`; returns the offset past it.
#[inline]
fn scan_literal(buf: &[u8], p: usize, lit: &[u8]) -> Scan<usize> {
    // `p < buf.len()` at every call site, so the sum cannot overflow.
    let end = p + lit.len();
    if buf.get(p..end) == Some(lit) {
        return Ok(end);
    }
    Err(literal_mismatch(buf, p, lit))
}

/// Where a literal stops matching (or the end of a truncated one).
#[cold]
fn literal_mismatch(buf: &[u8], p: usize, lit: &[u8]) -> usize {
    let rest = buf.get(p..).unwrap_or(&[]);
    let same = rest.iter().zip(lit).take_while(|(a, b)| a == b).count();
    fail(buf, p + same)
}

/// Validates a string key at `p` followed by `:`; returns the offset of its value
/// (whitespace skipped).
#[inline(always)]
fn scan_key_colon(buf: &[u8], p: usize) -> Scan<usize> {
    if buf.get(p) != Some(&b'"') {
        return Err(fail(buf, p));
    }
    let q = skip_ws(buf, scan_string(buf, p)?);
    if buf.get(q) != Some(&b':') {
        return Err(fail(buf, q));
    }
    Ok(skip_ws(buf, q + 1))
}

/// Skips ASCII digits from `p`.
#[inline]
fn skip_digits(buf: &[u8], mut p: usize) -> usize {
    while let Some(b'0'..=b'9') = buf.get(p) {
        p += 1;
    }
    p
}

/// Skips at least one ASCII digit from `p`.
#[inline]
fn skip_digits1(buf: &[u8], p: usize) -> Scan<usize> {
    match buf.get(p) {
        Some(b'0'..=b'9') => Ok(skip_digits(buf, p + 1)),
        _ => Err(fail(buf, p)),
    }
}

/// Validates a number at `p`; returns its end and whether it has a fraction or exponent.
#[inline(always)]
fn scan_number(buf: &[u8], mut p: usize) -> Scan<(usize, bool)> {
    if buf.get(p) == Some(&b'-') {
        p += 1;
    }
    match buf.get(p) {
        // A leading zero stands alone: `01` ends the number after `0` and the caller then
        // rejects the stray `1`.
        Some(b'0') => p += 1,
        Some(b'1'..=b'9') => p = skip_digits(buf, p + 1),
        _ => return Err(fail(buf, p)),
    }
    let mut float = false;
    if buf.get(p) == Some(&b'.') {
        p = skip_digits1(buf, p + 1)?;
        float = true;
    }
    if let Some(b'e' | b'E') = buf.get(p) {
        p += 1;
        if let Some(b'+' | b'-') = buf.get(p) {
            p += 1;
        }
        p = skip_digits1(buf, p)?;
        float = true;
    }
    Ok((p, float))
}

/// Bytes per word in the word-at-a-time (SWAR) loops: the native register width, so that a
/// 32-bit microcontroller works on 4 bytes per step and a 64-bit host on 8.
const WORD: usize = core::mem::size_of::<usize>();
/// A one in every byte of a word.
const ONES: usize = usize::MAX / 0xFF;
/// The high bit of every byte of a word.
const HIGH: usize = ONES * 0x80;

/// The high bit of every byte of `w` equal to `c` (exact for the lowest such byte; higher
/// ones may be false positives, so only `trailing_zeros` of the result is meaningful).
#[inline(always)]
const fn swar_eq(w: usize, c: u8) -> usize {
    let x = w ^ (ONES * c as usize);
    x.wrapping_sub(ONES) & !x & HIGH
}

/// The `WORD` bytes at `i`, as a little-endian word, if that many remain.
#[inline(always)]
fn word_at(buf: &[u8], i: usize) -> Option<usize> {
    let chunk = buf.get(i..i.checked_add(WORD)?)?;
    <[u8; WORD]>::try_from(chunk).ok().map(usize::from_le_bytes)
}

/// The offset of the first `"` or `\` at or after `i` (or `buf.len()`, or `i` if past it).
#[inline(always)]
fn find_quote_or_backslash(buf: &[u8], mut i: usize) -> usize {
    while let Some(w) = word_at(buf, i) {
        let hits = swar_eq(w, b'"') | swar_eq(w, b'\\');
        if hits != 0 {
            // trailing_zeros / 8 < WORD: inside the word just read.
            return i + (hits.trailing_zeros() / 8) as usize;
        }
        i += WORD;
    }
    while let Some(&b) = buf.get(i) {
        if b == b'"' || b == b'\\' {
            break;
        }
        i += 1;
    }
    i
}

/// Validates the string whose opening quote is at `p`; returns the offset past its closing
/// quote.
#[inline(always)]
fn scan_string(buf: &[u8], p: usize) -> Scan<usize> {
    let mut i = p + 1;
    loop {
        i = skip_plain(buf, i);
        match buf.get(i) {
            Some(b'"') => return Ok(i + 1),
            // Escapes, non-ASCII, control characters and the end of input live out of line
            // so that this loop stays small enough to inline everywhere.
            _ => i = scan_string_special(buf, i)?,
        }
    }
}

/// Skips plain string bytes (printable ASCII other than `"` and `\`) from `i`.
#[inline(always)]
fn skip_plain(buf: &[u8], mut i: usize) -> usize {
    // A word at a time while a whole word remains. For each test below, the lowest flagged
    // byte is exact (borrows only run upwards from a genuine hit), so the lowest set bit of
    // the union is the first byte that is not plain.
    while let Some(w) = word_at(buf, i) {
        let special = swar_eq(w, b'"')
            | swar_eq(w, b'\\')
            | (w.wrapping_sub(ONES * 0x20) & !w & HIGH) // bytes < 0x20
            | (w & HIGH); // bytes >= 0x80
        if special != 0 {
            // trailing_zeros / 8 < WORD: inside the word just read.
            return i + (special.trailing_zeros() / 8) as usize;
        }
        i += WORD;
    }
    // The last few bytes one at a time. `PLAIN` has 256 entries, so indexing it with a
    // `u8` is always in bounds.
    while let Some(&b) = buf.get(i) {
        if !PLAIN[usize::from(b)] {
            break;
        }
        i += 1;
    }
    i
}

/// Handles the byte at `i` inside a string that is neither plain ASCII nor the closing
/// quote; returns the offset after the escape or UTF-8 sequence it starts.
#[inline(never)]
fn scan_string_special(buf: &[u8], i: usize) -> Scan<usize> {
    match buf.get(i) {
        Some(b'\\') => scan_escape(buf, i),
        Some(0x80..=0xFF) => match utf8_seq(buf.get(i..).unwrap_or(&[])) {
            Ok((_, len)) => Ok(i + len),
            Err(k) => Err(fail(buf, i + k)),
        },
        // Raw control characters (< 0x20) must be escaped; `None` is an unterminated string.
        _ => Err(fail(buf, i)),
    }
}

/// Validates the escape whose backslash is at `i`; returns the offset past it.
fn scan_escape(buf: &[u8], i: usize) -> Scan<usize> {
    match buf.get(i + 1) {
        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => Ok(i + 2),
        Some(b'u') => {
            let cu = hex4(buf, i + 2).map_err(|k| fail(buf, k))?;
            if is_high_surrogate(cu) {
                // A high surrogate must be immediately followed by an escaped low one:
                // anything else could not be decoded into a `&str`.
                if buf.get(i + 6) != Some(&b'\\') {
                    return Err(fail(buf, i + 6));
                }
                if buf.get(i + 7) != Some(&b'u') {
                    return Err(fail(buf, i + 7));
                }
                let lo = hex4(buf, i + 8).map_err(|k| fail(buf, k))?;
                if !is_low_surrogate(lo) {
                    return Err(i + 6);
                }
                Ok(i + 12)
            } else if is_low_surrogate(cu) {
                Err(i)
            } else {
                Ok(i + 6)
            }
        }
        _ => Err(fail(buf, i + 1)),
    }
}

#[inline(always)]
const fn is_high_surrogate(cu: u16) -> bool {
    cu >= 0xD800 && cu <= 0xDBFF
}

#[inline(always)]
const fn is_low_surrogate(cu: u16) -> bool {
    cu >= 0xDC00 && cu <= 0xDFFF
}

/// The value of a hex digit (either case).
#[inline(always)]
const fn hex_val(b: u8) -> Option<u16> {
    match b {
        b'0'..=b'9' => Some((b - b'0') as u16),
        b'a'..=b'f' => Some((b - b'a' + 10) as u16),
        b'A'..=b'F' => Some((b - b'A' + 10) as u16),
        _ => None,
    }
}

/// Reads four hex digits at `at`; `Err(offset)` of the first bad (or missing) one.
#[inline]
fn hex4(buf: &[u8], at: usize) -> Result<u16, usize> {
    let mut v = 0u16;
    for k in at..at + 4 {
        match buf.get(k).and_then(|&b| hex_val(b)) {
            // Four nibbles fill the u16 exactly: no overflow.
            Some(d) => v = (v << 4) | d,
            None => return Err(k),
        }
    }
    Ok(v)
}

/// Validates and decodes the UTF-8 sequence at the start of `s` (Unicode table 3-7: no
/// overlong forms, no surrogates, nothing above U+10FFFF). Returns the code point and the
/// sequence length, or `Err(k)` with `k` the index of the first offending byte (`s.len()`
/// or beyond when the sequence is truncated).
#[inline]
fn utf8_seq(s: &[u8]) -> Result<(u32, usize), usize> {
    let b0 = match s.first() {
        Some(&b) => b,
        None => return Err(0),
    };
    // (length, allowed range of the second byte, payload bits of the lead byte)
    let (len, lo, hi, init) = match b0 {
        0x00..=0x7F => return Ok((u32::from(b0), 1)),
        0xC2..=0xDF => (2, 0x80, 0xBF, b0 & 0x1F),
        0xE0 => (3, 0xA0, 0xBF, b0 & 0x0F), // excludes overlong 3-byte forms
        0xE1..=0xEC | 0xEE..=0xEF => (3, 0x80, 0xBF, b0 & 0x0F),
        0xED => (3, 0x80, 0x9F, b0 & 0x0F), // excludes U+D800..U+DFFF
        0xF0 => (4, 0x90, 0xBF, b0 & 0x07), // excludes overlong 4-byte forms
        0xF1..=0xF3 => (4, 0x80, 0xBF, b0 & 0x07),
        0xF4 => (4, 0x80, 0x8F, b0 & 0x07), // excludes > U+10FFFF
        // Stray continuation bytes, overlong 2-byte leads (C0, C1), F5..FF.
        _ => return Err(0),
    };
    let b1 = match s.get(1) {
        Some(&b) if b >= lo && b <= hi => b,
        _ => return Err(1),
    };
    let mut cp = (u32::from(init) << 6) | u32::from(b1 & 0x3F);
    for k in 2..len {
        match s.get(k) {
            Some(&b) if b & 0xC0 == 0x80 => cp = (cp << 6) | u32::from(b & 0x3F),
            _ => return Err(k),
        }
    }
    Ok((cp, len))
}

// ---------------------------------------------------------------------------------------
// Trusted walkers. They only look for structure (quotes, escapes, brackets, commas) and
// stop quietly on anything unexpected; every access goes through `get`.
// ---------------------------------------------------------------------------------------

/// Bytes the trusted container skipper must look at: quotes and brackets.
static STRUCTURAL: [bool; 256] = {
    let mut t = [false; 256];
    t[b'"' as usize] = true;
    t[b'{' as usize] = true;
    t[b'}' as usize] = true;
    t[b'[' as usize] = true;
    t[b']' as usize] = true;
    t
};

/// Offset past the closing quote of the string whose opening quote is at `p`.
#[inline]
fn skip_string(buf: &[u8], p: usize) -> Option<usize> {
    let mut i = p + 1;
    loop {
        i = find_quote_or_backslash(buf, i);
        match buf.get(i)? {
            b'"' => return Some(i + 1),
            // A backslash: the next byte is escaped (for `\u`, the hex digits are harmless).
            _ => i += 2,
        }
    }
}

/// The value starting exactly at `p`, found without validation.
#[inline]
fn skip_value(buf: &[u8], p: usize) -> Option<Value> {
    let (end, kind) = match *buf.get(p)? {
        b'"' => (skip_string(buf, p)?, Kind::String),
        open @ (b'{' | b'[') => (skip_container(buf, p)?, if open == b'{' { Kind::Object } else { Kind::Array }),
        b'-' | b'0'..=b'9' => {
            let mut i = p + 1;
            let mut float = false;
            while let Some(&b) = buf.get(i) {
                match b {
                    b'0'..=b'9' | b'-' | b'+' => {}
                    b'.' | b'e' | b'E' => float = true,
                    _ => break,
                }
                i += 1;
            }
            (i, if float { Kind::Float } else { Kind::Int })
        }
        b't' => (p + trusted_literal(buf, p, b"true")?, Kind::True),
        b'f' => (p + trusted_literal(buf, p, b"false")?, Kind::False),
        b'n' => (p + trusted_literal(buf, p, b"null")?, Kind::Null),
        _ => return None,
    };
    Some(Value { start: p, end, kind })
}

/// Offset past the bracket closing the container opened at `p`, by counting brackets
/// outside strings.
fn skip_container(buf: &[u8], p: usize) -> Option<usize> {
    // `depth` never exceeds the bytes seen, so it cannot overflow, and it is >= 1 whenever
    // it is decremented.
    let mut depth: usize = 1;
    let mut i = p + 1;
    loop {
        let b = *buf.get(i)?;
        // `STRUCTURAL` has 256 entries: a `u8` index is always in bounds.
        if !STRUCTURAL[usize::from(b)] {
            i += 1;
            continue;
        }
        match b {
            b'"' => i = skip_string(buf, i)?,
            b'{' | b'[' => {
                depth += 1;
                i += 1;
            }
            _ => {
                depth -= 1;
                i += 1;
                if depth == 0 {
                    return Some(i);
                }
            }
        }
    }
}

#[inline]
fn trusted_literal(buf: &[u8], p: usize, lit: &[u8]) -> Option<usize> {
    buf.get(p..)?.starts_with(lit).then_some(lit.len())
}

/// The inside of a container value: the buffer cut just before its closing bracket, and
/// the offset after its opening one. An empty range for anything that is not a well-formed
/// span of the expected kind.
fn inner(buf: &[u8], v: Value, kind: Kind) -> (&[u8], usize, usize) {
    if v.kind == kind && v.start < v.end && v.end <= buf.len() {
        let end = v.end - 1;
        (buf.get(..end).unwrap_or(&[]), v.start + 1, end)
    } else {
        (&[], 0, 0)
    }
}

/// Skips whitespace and at most one separating comma before the next item.
#[inline]
fn next_item(buf: &[u8], pos: usize) -> usize {
    let p = skip_ws(buf, pos);
    if buf.get(p) == Some(&b',') {
        skip_ws(buf, p + 1)
    } else {
        p
    }
}

/// The members of a *validated* object value: `(key, value)` in document order.
pub fn members<'a>(buf: &'a [u8], obj: Value) -> Members<'a> {
    let (buf, pos, end) = inner(buf, obj, Kind::Object);
    Members { buf, pos, end }
}

/// The elements of a *validated* array value, in order.
pub fn elements<'a>(buf: &'a [u8], arr: Value) -> Elements<'a> {
    let (buf, pos, end) = inner(buf, arr, Kind::Array);
    Elements { buf, pos, end }
}

/// Iterator over the members of a validated object.
#[derive(Debug, Clone)]
pub struct Members<'a> {
    // Cut at the closing `}`, so no walk can leave the object.
    buf: &'a [u8],
    pos: usize,
    end: usize,
}

impl<'a> Members<'a> {
    fn step(&self) -> Option<(JsonStr<'a>, Value)> {
        let buf = self.buf;
        let p = next_item(buf, self.pos);
        if buf.get(p) != Some(&b'"') {
            return None;
        }
        let key_end = skip_string(buf, p)?;
        // `key_end - 1 >= p + 1`: the closing quote comes after the opening one.
        let key = JsonStr::new(buf.get(p + 1..key_end - 1)?);
        let q = skip_ws(buf, key_end);
        if buf.get(q) != Some(&b':') {
            return None;
        }
        let value = skip_value(buf, skip_ws(buf, q + 1))?;
        Some((key, value))
    }
}

impl<'a> Iterator for Members<'a> {
    type Item = (JsonStr<'a>, Value);
    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.end {
            return None;
        }
        match self.step() {
            Some(member) => {
                // A value is at least one byte long, so this always moves forward.
                self.pos = member.1.end;
                Some(member)
            }
            None => {
                self.pos = self.end;
                None
            }
        }
    }
}

/// Iterator over the elements of a validated array.
#[derive(Debug, Clone)]
pub struct Elements<'a> {
    // Cut at the closing `]`, so no walk can leave the array.
    buf: &'a [u8],
    pos: usize,
    end: usize,
}

impl<'a> Iterator for Elements<'a> {
    type Item = Value;
    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.end {
            return None;
        }
        match skip_value(self.buf, next_item(self.buf, self.pos)) {
            Some(v) => {
                self.pos = v.end;
                Some(v)
            }
            None => {
                self.pos = self.end;
                None
            }
        }
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
    #[inline]
    pub fn has_escapes(&self) -> bool {
        // `contains` on bytes is core's word-at-a-time memchr.
        self.raw.contains(&b'\\')
    }

    /// The content as `&str` when it has no escapes (it is valid UTF-8 once validated).
    #[inline]
    pub fn as_plain(&self) -> Option<&'a str> {
        if self.has_escapes() {
            return None;
        }
        core::str::from_utf8(self.raw).ok()
    }

    /// Whether the decoded content equals `s` (fast path when there are no escapes).
    #[inline]
    pub fn eq_str(&self, s: &str) -> bool {
        let (raw, s_bytes) = (self.raw, s.as_bytes());
        // Every escape decodes to fewer bytes than its text (`\n` 2 -> 1, `\uXXXX` 6 -> at
        // most 3, a pair 12 -> 4), so on validated content the decoded length is the raw
        // length without escapes and strictly less with them.
        if raw.len() < s_bytes.len() {
            return false;
        }
        if raw.len() == s_bytes.len() {
            return raw == s_bytes && !self.has_escapes();
        }
        self.has_escapes() && self.chars().eq(s.chars())
    }

    /// The decoded characters.
    #[inline]
    pub fn chars(&self) -> Chars<'a> {
        Chars { raw: self.raw, pos: 0 }
    }

    /// Length of the decoded content in UTF-8 bytes.
    pub fn decoded_len(&self) -> usize {
        // Agrees with `unescape_into` even on unvalidated content.
        if self.as_plain().is_some() {
            return self.raw.len();
        }
        self.chars().map(char::len_utf8).sum()
    }

    /// Decodes into `out`; returns the decoded `&str`, or `None` if `out` is too small.
    pub fn unescape_into<'o>(&self, out: &'o mut [u8]) -> Option<&'o str> {
        let mut n = 0;
        if !self.has_escapes() {
            let dst = out.get_mut(..self.raw.len())?;
            dst.copy_from_slice(self.raw);
            n = self.raw.len();
        }
        // The plain copy fails UTF-8 validation only on unvalidated content; then decode
        // through `chars`, which substitutes U+FFFD, like `decoded_len` counts.
        if n == 0 || core::str::from_utf8(out.get(..n)?).is_err() {
            n = 0;
            for c in self.chars() {
                let len = c.len_utf8();
                let dst = out.get_mut(n..n + len)?;
                c.encode_utf8(dst);
                n += len;
            }
        }
        core::str::from_utf8(out.get(..n)?).ok()
    }
}

/// Decoded characters of a [`JsonStr`]. Yields U+FFFD for anything malformed.
#[derive(Clone, Debug)]
pub struct Chars<'a> {
    raw: &'a [u8],
    pos: usize,
}

impl<'a> Chars<'a> {
    /// Decodes the escape whose backslash is at `self.pos`; returns the char and the number
    /// of bytes it took (at least 1).
    fn escape(&self) -> (char, usize) {
        let (raw, i) = (self.raw, self.pos);
        let c = match raw.get(i + 1) {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                let cu = match hex4(raw, i + 2) {
                    Ok(cu) => cu,
                    Err(_) => return (char::REPLACEMENT_CHARACTER, 2),
                };
                if is_high_surrogate(cu) {
                    let lo = if raw.get(i + 6) == Some(&b'\\') && raw.get(i + 7) == Some(&b'u') {
                        hex4(raw, i + 8).ok().filter(|&lo| is_low_surrogate(lo))
                    } else {
                        None
                    };
                    return match lo {
                        Some(lo) => {
                            let cp = 0x10000 + ((u32::from(cu) - 0xD800) << 10) + (u32::from(lo) - 0xDC00);
                            (char::from_u32(cp).unwrap_or(char::REPLACEMENT_CHARACTER), 12)
                        }
                        None => (char::REPLACEMENT_CHARACTER, 6),
                    };
                }
                // Lone low surrogates are not chars: `from_u32` refuses them.
                return (char::from_u32(u32::from(cu)).unwrap_or(char::REPLACEMENT_CHARACTER), 6);
            }
            Some(_) => return (char::REPLACEMENT_CHARACTER, 2),
            None => return (char::REPLACEMENT_CHARACTER, 1),
        };
        (c, 2)
    }
}

impl<'a> Iterator for Chars<'a> {
    type Item = char;
    #[inline]
    fn next(&mut self) -> Option<char> {
        let b = *self.raw.get(self.pos)?;
        let (c, len) = if b == b'\\' {
            self.escape()
        } else if b < 0x80 {
            (char::from(b), 1)
        } else {
            match utf8_seq(self.raw.get(self.pos..).unwrap_or(&[])) {
                Ok((cp, len)) => (char::from_u32(cp).unwrap_or(char::REPLACEMENT_CHARACTER), len),
                // Replace the maximal ill-formed prefix (at least one byte) by one U+FFFD.
                Err(k) => (char::REPLACEMENT_CHARACTER, k.max(1)),
            }
        };
        // Moving past the end is harmless: `get` then returns None.
        self.pos += len;
        Some(c)
    }
}

/// Parses an integer literal (validated number text without fraction or exponent) into sign
/// and magnitude; `None` if it does not fit in a `u64` magnitude or is not an integer literal.
pub fn parse_int(text: &[u8]) -> Option<(bool, u64)> {
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    match digits {
        [] => return None,
        // JSON has no leading zeros: `0` stands alone.
        [b'0', _, ..] => return None,
        _ => {}
    }
    let mut mag: u64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        mag = mag.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some((negative, mag))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::String;
    use std::vec::Vec;

    fn doc(s: &[u8]) -> Result<Value, ScanError> {
        Scanner::new(s, MAX_DEPTH).document()
    }

    fn ok(s: &str) {
        assert!(doc(s.as_bytes()).is_ok(), "should accept {s:?}: {:?}", doc(s.as_bytes()));
    }

    fn bad(s: &[u8]) {
        let r = doc(s);
        assert!(r.is_err(), "should reject {:?}: {r:?}", String::from_utf8_lossy(s));
    }

    /// `next_with` recognising `"id":` as key 7: what it yields for `s`, keys rendered as
    /// `#7` or their raw text, values as their text, an error as `!`.
    fn keyed(s: &str, depth: u8) -> Vec<String> {
        let sc = Scanner::new(s.as_bytes(), depth);
        let mut it = sc.members(0);
        let mut out = Vec::new();
        let id = |at: &[u8]| at.starts_with(b"\"id\":").then_some((7, 5));
        while let Some(item) = it.next_with(id) {
            match item {
                Ok((Key::Known(n), v)) => out.push(std::format!("#{n}={}", String::from_utf8_lossy(v.bytes(sc.buf())))),
                Ok((Key::Other(k), v)) => out.push(std::format!(
                    "{}={}",
                    String::from_utf8_lossy(k.raw()),
                    String::from_utf8_lossy(v.bytes(sc.buf()))
                )),
                Err(_) => out.push("!".into()),
            }
        }
        out
    }

    #[test]
    fn next_with_takes_known_keys_and_validates_the_rest() {
        assert_eq!(keyed(r#"{"id":1, "a" : [2], "id" :3,"i\u0064":4}"#, 8), ["#7=1", "a=[2]", "id=3", "i\\u0064=4"]);
        assert_eq!(keyed("{}", 8), Vec::<String>::new());
        // A known key after a missing comma, or at the top of a non-object, is still an error.
        assert_eq!(keyed(r#"{"a":1 "id":2}"#, 8), ["a=1", "!"]);
        assert_eq!(keyed(r#""id":2"#, 8), ["!"]);
        assert_eq!(keyed(r#"{"id":1,}"#, 8), ["#7=1", "!"]);
        assert_eq!(keyed(r#"{"id":tru}"#, 8), ["!"]);
        // The object is one level: a known key's value gets the rest.
        assert_eq!(keyed(r#"{"id":[[]]}"#, 3), ["#7=[[]]"]);
        assert_eq!(keyed(r#"{"id":[[]]}"#, 2), ["!"]);
        assert_eq!(keyed(r#"{"id":1}"#, 0), ["!"]);
    }

    #[test]
    fn members_of_validated_text_match_the_checked_ones() {
        let text = br#"{"id":1, "a" : [2, {"b":"\u00e9\""}], "s":"x\"y", "n":-1.5e3, "t":true, "z":null}"#;
        let sc = Scanner::new(text, MAX_DEPTH);
        assert!(sc.document().is_ok());
        let checked: Vec<_> = sc.members(0).map(|m| m.ok()).collect();
        let skipped: Vec<_> = sc.members_of_validated(0).map(|m| m.ok()).collect();
        assert_eq!(checked.len(), 6);
        assert_eq!(checked, skipped);
        // On text nobody validated it stops somewhere, without panicking.
        for bad in [&br#"{"a":[1,"#[..], br#"{"a":"#, br#"{"a":tru}"#, br#"{"a":"\"#, b"{"] {
            let _ = Scanner::new(bad, MAX_DEPTH).members_of_validated(0).count();
        }
    }

    fn nested(depth: usize, open: &str, close: &str) -> String {
        let mut s = String::new();
        for _ in 0..depth {
            s.push_str(open);
        }
        // Innermost value, so that `{"k":` nests validly; it adds no depth.
        s.push('0');
        for _ in 0..depth {
            s.push_str(close);
        }
        s
    }

    #[test]
    fn scalars_and_kinds() {
        for (text, kind) in [
            ("0", Kind::Int),
            ("-0", Kind::Int),
            ("123", Kind::Int),
            ("-9223372036854775808", Kind::Int),
            ("1.5", Kind::Float),
            ("-0.0", Kind::Float),
            ("1e10", Kind::Float),
            ("1E+2", Kind::Float),
            ("0e-0", Kind::Float),
            ("12.34e-56", Kind::Float),
            ("true", Kind::True),
            ("false", Kind::False),
            ("null", Kind::Null),
            ("\"\"", Kind::String),
            ("\"abc\"", Kind::String),
            ("{}", Kind::Object),
            ("[]", Kind::Array),
        ] {
            let v = doc(text.as_bytes()).unwrap();
            assert_eq!(v, Value { start: 0, end: text.len(), kind }, "{text}");
            let padded = std::format!(" \t\r\n{text} \n");
            let v = doc(padded.as_bytes()).unwrap();
            assert_eq!((v.start, v.end, v.kind), (4, 4 + text.len(), kind), "{padded:?}");
            assert_eq!(v.bytes(padded.as_bytes()), text.as_bytes());
        }
    }

    #[test]
    fn invalid_numbers() {
        for s in [
            "-",
            "--1",
            "+1",
            "01",
            "-01",
            "00",
            "1.",
            "1.e1",
            ".1",
            "-.1",
            "1e",
            "1e+",
            "1E-",
            "1e+-1",
            "0x1",
            "1a",
            "Infinity",
            "-Infinity",
            "NaN",
            "1.0.0",
            "1,",
            "[01]",
            "[1.]",
            "[-]",
            "{\"a\":01}",
            "[1e]",
            "\u{661}",
        ] {
            bad(s.as_bytes());
        }
    }

    #[test]
    fn value_does_not_consume_trailing() {
        // `value` stops after the number; `document` then rejects the rest.
        let s = Scanner::new(b"01", 8);
        assert_eq!(s.value(0, 0), Ok(Value { start: 0, end: 1, kind: Kind::Int }));
        assert_eq!(s.document(), Err(ScanError::Syntax(1)));
        let s = Scanner::new(b"  [1] x", 8);
        assert_eq!(s.value(0, 0), Ok(Value { start: 2, end: 5, kind: Kind::Array }));
        assert_eq!(s.document(), Err(ScanError::Syntax(6)));
        // A position past the end is a syntax error at the end, not a panic.
        assert_eq!(s.value(100, 0), Err(ScanError::Syntax(7)));
    }

    #[test]
    fn literals() {
        for s in ["tru", "nul", "fals", "True", "NULL", "truex", "[truex]", "nulll", "t", "[n]"] {
            bad(s.as_bytes());
        }
        assert_eq!(doc(b"tru"), Err(ScanError::Syntax(3)));
        assert_eq!(doc(b"trUe"), Err(ScanError::Syntax(2)));
    }

    #[test]
    fn structure_errors() {
        for s in [
            "",
            " ",
            "\n",
            "[",
            "]",
            "{",
            "}",
            "[1,]",
            "[,1]",
            "[1,,2]",
            "[,]",
            "{,}",
            "{\"a\":1,}",
            "{\"a\" 1}",
            "{\"a\":}",
            "{\"a\"}",
            "{1:2}",
            "{a:1}",
            "{'a':1}",
            "['a']",
            "[1 2]",
            "{\"a\":1 \"b\":2}",
            "[}",
            "{]",
            "[{]}",
            "{\"a\":[}]",
            "1 2",
            "[] []",
            "[1]]",
            "{}}",
            "\u{feff}[]",
            "[\u{a0}1]",
            "[\u{c}1]",
            "[\u{b}]",
            "[1]\0",
            "/*c*/1",
            "[1]//",
        ] {
            bad(s.as_bytes());
        }
        assert_eq!(doc(b""), Err(ScanError::Syntax(0)));
        assert_eq!(doc(b"[1,]"), Err(ScanError::Syntax(3)));
        assert_eq!(doc(b"[1"), Err(ScanError::Syntax(2)));
        assert_eq!(doc(b"\xEF\xBB\xBF{}"), Err(ScanError::Syntax(0)));
    }

    #[test]
    fn structure_ok() {
        for s in [
            "[1,2,3]",
            " { \"a\" : [ 1 , { \"b\" : null } ] , \"c\" : \"d\" } ",
            "{\"\":{\"\":{}}}",
            "[[],[[]],{},{\"x\":[]}]",
            "\t\r\n[\t\r\n1\t\r\n,\t\r\n2\t\r\n]\t\r\n",
            "{\"a\":1,\"a\":2}",
            "[\"\u{7f}\"]",
            "[-1.5e3,0,true,false,null,\"x\"]",
        ] {
            ok(s);
        }
    }

    #[test]
    fn escapes() {
        for s in [
            r#""\" \\ \/ \b \f \n \r \t""#,
            r#""\u0000\u001f\u0041\u00e9\u20AC\uFFFF""#,
            r#""\uD834\uDD1E""#,
            r#""\ud834\udd1e""#,
            r#""\uDBFF\uDFFF""#,
            r#""\uD800\uDC00x""#,
        ] {
            ok(s);
        }
        for s in [
            r#""\x""#,
            r#""\a""#,
            r#""\'""#,
            r#""\U0041""#,
            r#""\u12""#,
            r#""\u12G4""#,
            r#""\u""#,
            r#""\"#,
            "\"\\\u{e9}\"",
            // lone and mis-ordered surrogates
            r#""\uD834""#,
            r#""\uD834x""#,
            r#""\uD834\u0041""#,
            r#""\uD834\uD834""#,
            r#""\uD834\n""#,
            r#""\uDD1E""#,
            r#""\uDD1E\uD834""#,
            r#""\uDFFF""#,
            r#""\uD834\uDD1""#,
            r#""\uD834\"#,
        ] {
            bad(s.as_bytes());
        }
    }

    #[test]
    fn utf8() {
        for s in ["\"é\"", "\"€\"", "\"𝄞\"", "\"\u{10FFFF}\"", "\"\u{FFFF}\"", "\"\u{D7FF}\u{E000}\""] {
            ok(s);
        }
        let bad_seqs: [&[u8]; 20] = [
            b"\xC0\x80",         // overlong NUL
            b"\xC1\xBF",         // overlong 2-byte
            b"\xE0\x80\x80",     // overlong 3-byte
            b"\xE0\x9F\xBF",     // overlong 3-byte (U+07FF)
            b"\xF0\x80\x80\x80", // overlong 4-byte
            b"\xF0\x8F\xBF\xBF", // overlong 4-byte (U+FFFF)
            b"\xED\xA0\x80",     // U+D800 encoded
            b"\xED\xBF\xBF",     // U+DFFF encoded
            b"\xF4\x90\x80\x80", // U+110000
            b"\xF5\x80\x80\x80",
            b"\xFF",
            b"\xFE",
            b"\x80", // stray continuation
            b"\xBF",
            b"\xE2\x82",             // truncated
            b"\xF0\x9D\x84",         // truncated
            b"\xC3",                 // truncated
            b"\xE2\x28\xA1",         // bad continuation
            b"\xC3\xC3\xA9",         // lead instead of continuation
            b"\xF8\x88\x80\x80\x80", // 5-byte form
        ];
        for seq in bad_seqs {
            let mut s = Vec::from(&b"\""[..]);
            s.extend_from_slice(seq);
            s.push(b'"');
            bad(&s);
        }
        // Non-ASCII outside strings.
        bad("[é]".as_bytes());
        bad(b"\x80");
        // Truncated at the very end of the input.
        assert_eq!(doc(b"\"\xE2\x82"), Err(ScanError::Syntax(3)));
        assert_eq!(doc(b"\"a\xC0\x80\""), Err(ScanError::Syntax(2)));
        assert_eq!(doc(b"\"a\xE2\x28\xA1\""), Err(ScanError::Syntax(3)));
    }

    #[test]
    fn control_chars() {
        for c in 0u8..0x20 {
            bad(&[b'"', c, b'"']);
            bad(&[b'"', b'a', c, b'b', b'"']);
        }
        assert_eq!(doc(b"\"ab\ncd\""), Err(ScanError::Syntax(3)));
        ok("\"\u{7f}\"");
        ok("\"\\u0000\"");
    }

    #[test]
    fn depth_limit() {
        for (open, close) in [("[", "]"), ("{\"k\":", "}")] {
            let at = nested(64, open, close);
            assert!(doc(at.as_bytes()).is_ok(), "64 {open}");
            let over = nested(65, open, close);
            assert_eq!(doc(over.as_bytes()), Err(ScanError::TooDeep), "65 {open}");
        }
        // Mixed nesting at the limit still tracks each level's kind correctly.
        let mut mixed = String::new();
        for i in 0..64 {
            mixed.push_str(if i % 3 == 0 { "{\"a\":" } else { "[0," });
        }
        mixed.push('1');
        for i in (0..64).rev() {
            mixed.push(if i % 3 == 0 { '}' } else { ']' });
        }
        assert!(doc(mixed.as_bytes()).is_ok());
        let wrong = mixed.replacen('}', "]", 1);
        assert!(matches!(doc(wrong.as_bytes()), Err(ScanError::Syntax(_))));

        // Small limits: a scalar is depth 0, [] depth 1.
        assert!(Scanner::new(b"1", 0).document().is_ok());
        assert_eq!(Scanner::new(b"[]", 0).document(), Err(ScanError::TooDeep));
        assert!(Scanner::new(b"[[1]]", 2).document().is_ok());
        assert!(Scanner::new(b"[[],[]]", 2).document().is_ok());
        assert_eq!(Scanner::new(b"[[[1]]]", 2).document(), Err(ScanError::TooDeep));
        assert_eq!(Scanner::new(b"[{}]", 1).document(), Err(ScanError::TooDeep));
        // Clamped to MAX_DEPTH.
        let over = nested(65, "[", "]");
        assert_eq!(Scanner::new(over.as_bytes(), 255).document(), Err(ScanError::TooDeep));
        assert!(Scanner::new(nested(64, "[", "]").as_bytes(), 255).document().is_ok());
        // depth_used counts against the limit, saturating.
        let s = Scanner::new(b"[[1]]", 3);
        assert!(s.value(0, 1).is_ok());
        assert_eq!(s.value(0, 2), Err(ScanError::TooDeep));
        assert_eq!(s.value(0, 200), Err(ScanError::TooDeep));
        assert!(Scanner::new(b"7", 3).value(0, 200).is_ok());
        // Unclosed deep input: too deep wins once the limit is crossed, syntax otherwise.
        assert_eq!(doc(&[b'['; 100_000]), Err(ScanError::TooDeep));
        assert_eq!(doc(&[b'['; 64]), Err(ScanError::Syntax(64)));
    }

    #[test]
    fn checked_members() {
        let buf = br#" { "a" : 1 , "b\n":[1,{"c":2}], "d":"x" } tail"#;
        let sc = Scanner::new(buf, 8);
        let mut it = sc.members(0);
        let (k, v) = it.next().unwrap().unwrap();
        assert!(k.eq_str("a"));
        assert_eq!((v.kind, v.bytes(buf)), (Kind::Int, &b"1"[..]));
        let (k, v) = it.next().unwrap().unwrap();
        assert_eq!(k.raw(), b"b\\n");
        assert!(k.eq_str("b\n"));
        assert_eq!((v.kind, v.bytes(buf)), (Kind::Array, &br#"[1,{"c":2}]"#[..]));
        let (k, v) = it.next().unwrap().unwrap();
        assert_eq!(k.as_plain(), Some("d"));
        assert_eq!(v.as_str(buf).unwrap().as_plain(), Some("x"));
        assert!(it.next().is_none());
        assert!(it.next().is_none());
        assert_eq!(it.end(), buf.len() - 5);
        assert_eq!(buf.get(it.end() - 1), Some(&b'}'));

        // Empty object.
        let mut it = Scanner::new(b"{ }", 8).members(0);
        assert!(it.next().is_none());
        assert_eq!(it.end(), 3);

        // Errors: one Some(Err), then None.
        for (text, depth) in [
            (&b"{\"a\":1,}"[..], 8),
            (b"{\"a\":1", 8),
            (b"{\"a\" 1}", 8),
            (b"{\"a\":[1,]}", 8),
            (b"{1:1}", 8),
            (b"[1]", 8),
            (b"", 8),
            (b"{\"a\":1}", 0),
            (b"{\"a\":[[1]]}", 2),
            (b"{\"a\":\"\\uDC00\"}", 8),
        ] {
            let mut it = Scanner::new(text, depth).members(0);
            let mut errors = 0;
            for r in it.by_ref() {
                if r.is_err() {
                    errors += 1;
                }
            }
            assert_eq!(errors, 1, "{:?}", String::from_utf8_lossy(text));
            assert!(it.next().is_none());
        }
        // The object counts one level: members at max_depth - 1 pass.
        let mut it = Scanner::new(b"{\"a\":[[1]]}", 3).members(0);
        assert!(it.next().unwrap().is_ok());
        assert!(it.next().is_none());
        assert_eq!(it.end(), 11);
        let errs: Vec<_> = Scanner::new(b"{\"a\":[[1]]}", 2).members(0).collect();
        assert_eq!(errs, [Err(ScanError::TooDeep)]);
    }

    #[test]
    fn trusted_members_and_elements() {
        let buf = br#"{ "id" : 7 , "p":[ 1.5 , "s\"]" , {"x":[[]]} , [ ] , true,null ,-2e3,false ] ,"e\u0041":{} }"#;
        let v = doc(buf).unwrap();
        let m: Vec<_> = members(buf, v).collect();
        assert_eq!(m.len(), 3);
        assert!(m[0].0.eq_str("id"));
        assert_eq!((m[0].1.kind, m[0].1.bytes(buf)), (Kind::Int, &b"7"[..]));
        assert!(m[1].0.eq_str("p"));
        assert_eq!(m[1].1.kind, Kind::Array);
        assert!(m[2].0.eq_str("eA"));
        assert_eq!((m[2].1.kind, m[2].1.bytes(buf)), (Kind::Object, &b"{}"[..]));
        let e: Vec<_> = elements(buf, m[1].1).map(|v| (v.kind, v.bytes(buf))).collect();
        assert_eq!(
            e,
            [
                (Kind::Float, &b"1.5"[..]),
                (Kind::String, br#""s\"]""#),
                (Kind::Object, br#"{"x":[[]]}"#),
                (Kind::Array, b"[ ]"),
                (Kind::True, b"true"),
                (Kind::Null, b"null"),
                (Kind::Float, b"-2e3"),
                (Kind::False, b"false"),
            ]
        );
        assert_eq!(elements(buf, e_value(buf, m[1].1, 3)).count(), 0);
        assert_eq!(members(buf, m[2].1).count(), 0);
        // Wrong kinds give nothing.
        assert_eq!(members(buf, m[1].1).count(), 0);
        assert_eq!(elements(buf, v).count(), 0);
        // Out-of-range spans give nothing.
        let bogus = Value { start: 5, end: 1000, kind: Kind::Object };
        assert_eq!(members(buf, bogus).count(), 0);
        let bogus = Value { start: 9, end: 3, kind: Kind::Array };
        assert_eq!(elements(buf, bogus).count(), 0);
        let huge = Value { start: usize::MAX, end: usize::MAX, kind: Kind::String };
        assert_eq!(huge.as_str(buf), None);
        assert_eq!(huge.bytes(buf), b"");
        let huge = Value { start: usize::MAX - 1, end: usize::MAX, kind: Kind::String };
        assert_eq!(huge.as_str(buf), None);
        let huge = Value { start: usize::MAX - 1, end: usize::MAX, kind: Kind::Object };
        assert_eq!(members(buf, huge).count(), 0);
        assert_eq!(Scanner::new(buf, 8).members(usize::MAX).count(), 1);
    }

    fn e_value(buf: &[u8], arr: Value, i: usize) -> Value {
        elements(buf, arr).nth(i).unwrap()
    }

    #[test]
    fn trusted_walkers_survive_garbage() {
        let samples: [&[u8]; 12] = [
            b"{",
            b"{}",
            b"{\"",
            b"{\"a",
            b"{\"a\":",
            b"{\"a\":[",
            b"{\"\\",
            b"[\"\\\"",
            b"[[[",
            b"[1,,,]",
            b"{:::}",
            b"[}}}}]",
        ];
        for s in samples {
            for kind in [Kind::Object, Kind::Array] {
                let v = Value { start: 0, end: s.len(), kind };
                let _ = members(s, v).count();
                let _ = elements(s, v).count();
            }
        }
        // Every byte string of length <= 3 over a structural alphabet.
        let alpha = b"{}[]\",:\\1 ta";
        let mut buf = Vec::new();
        for a in alpha {
            for b in alpha {
                for c in alpha {
                    buf.clear();
                    buf.extend_from_slice(&[b'{', *a, *b, *c, b'}']);
                    let v = Value { start: 0, end: buf.len(), kind: Kind::Object };
                    assert!(members(&buf, v).count() <= 5);
                    buf[0] = b'[';
                    let v = Value { start: 0, end: buf.len(), kind: Kind::Array };
                    assert!(elements(&buf, v).count() <= 5);
                    let _ = doc(&buf);
                }
            }
        }
    }

    #[test]
    fn json_str() {
        let plain = JsonStr::new(b"hello");
        assert!(!plain.has_escapes());
        assert_eq!(plain.as_plain(), Some("hello"));
        assert!(plain.eq_str("hello"));
        assert!(!plain.eq_str("hell"));
        assert!(!plain.eq_str("hello!"));
        assert!(!plain.eq_str("hellO"));
        assert_eq!(plain.decoded_len(), 5);

        let esc = JsonStr::new(br#"a\"b\\c\/d\b\f\n\r\t\u00e9\u20AC\uD834\uDD1E"#);
        let want = "a\"b\\c/d\u{8}\u{c}\n\r\té€𝄞";
        assert!(esc.has_escapes());
        assert_eq!(esc.as_plain(), None);
        assert!(esc.eq_str(want));
        assert!(!esc.eq_str("a\"b"));
        assert_eq!(esc.chars().collect::<String>(), want);
        assert_eq!(esc.decoded_len(), want.len());
        let mut out = [0u8; 64];
        assert_eq!(esc.unescape_into(&mut out), Some(want));
        let mut small = [0u8; 20];
        assert_eq!(esc.unescape_into(&mut small), None);
        let mut exact = [0u8; 21];
        assert_eq!(want.len(), 21);
        assert_eq!(esc.unescape_into(&mut exact), Some(want));

        // The raw backslash text is not equal to its decoding.
        let bs = JsonStr::new(br"\\");
        assert!(!bs.eq_str(r"\\"));
        assert!(bs.eq_str("\\"));
        let nl = JsonStr::new(br"\n");
        assert!(!nl.eq_str(r"\n"));
        assert!(nl.eq_str("\n"));

        let utf = JsonStr::new("grüße 𝄞".as_bytes());
        assert_eq!(utf.as_plain(), Some("grüße 𝄞"));
        assert!(utf.eq_str("grüße 𝄞"));
        assert_eq!(utf.chars().collect::<String>(), "grüße 𝄞");
        let mut out = [0u8; 16];
        assert_eq!(utf.unescape_into(&mut out), Some("grüße 𝄞"));
        assert_eq!(utf.unescape_into(&mut out[..5]), None);

        let empty = JsonStr::new(b"");
        assert_eq!(empty.as_plain(), Some(""));
        assert!(empty.eq_str(""));
        assert_eq!(empty.unescape_into(&mut []), Some(""));
        assert_eq!(empty.decoded_len(), 0);

        // Escaped text equal to a same-length literal never matches.
        assert!(!JsonStr::new(br"\u0041").eq_str("\\u0041"));
        assert!(JsonStr::new(br"\u0041BC").eq_str("ABC"));
    }

    #[test]
    fn json_str_malformed_never_panics() {
        const R: char = char::REPLACEMENT_CHARACTER;
        for (raw, want) in [
            (&br"\uD834"[..], std::format!("{R}")),
            (br"\uDD1E", std::format!("{R}")),
            (br"\uD834\u0041", std::format!("{R}A")),
            (br"\uZZZZ", std::format!("{R}ZZZZ")),
            (br"\u12", std::format!("{R}12")),
            (br"\x", std::format!("{R}")),
            (br"a\", std::format!("a{R}")),
            (b"\xC0\x80", std::format!("{R}{R}")),
            (b"\xE2\x82", std::format!("{R}")),
            (b"\xE2\x82a", std::format!("{R}a")),
            (b"\xFF", std::format!("{R}")),
            (b"\xED\xA0\x80", std::format!("{R}{R}{R}")),
        ] {
            let s = JsonStr::new(raw);
            assert_eq!(s.chars().collect::<String>(), want, "{raw:?}");
            assert_eq!(s.decoded_len(), want.len(), "{raw:?}");
            let mut out = [0u8; 32];
            assert_eq!(s.unescape_into(&mut out), Some(want.as_str()), "{raw:?}");
            assert!(s.eq_str(&want) || raw.len() < want.len());
        }
    }

    #[test]
    fn parse_int_edges() {
        assert_eq!(parse_int(b"0"), Some((false, 0)));
        assert_eq!(parse_int(b"-0"), Some((true, 0)));
        assert_eq!(parse_int(b"42"), Some((false, 42)));
        assert_eq!(parse_int(b"-42"), Some((true, 42)));
        assert_eq!(parse_int(b"18446744073709551615"), Some((false, u64::MAX)));
        assert_eq!(parse_int(b"-18446744073709551615"), Some((true, u64::MAX)));
        assert_eq!(parse_int(b"18446744073709551616"), None);
        assert_eq!(parse_int(b"99999999999999999999"), None);
        assert_eq!(parse_int(b"-9223372036854775808"), Some((true, 9_223_372_036_854_775_808)));
        assert_eq!(parse_int(b"9223372036854775807"), Some((false, i64::MAX as u64)));
        for s in [&b""[..], b"-", b"--1", b"+1", b"01", b"-01", b"1.0", b"1e3", b"1 ", b" 1", b"0x10", b"1-", b"\xFF"] {
            assert_eq!(parse_int(s), None, "{s:?}");
        }
    }

    #[test]
    fn skip_ws_bounds() {
        assert_eq!(skip_ws(b"", 0), 0);
        assert_eq!(skip_ws(b"  ", 0), 2);
        assert_eq!(skip_ws(b" \t\r\nx", 0), 4);
        assert_eq!(skip_ws(b"x", 0), 0);
        assert_eq!(skip_ws(b"ab", 5), 5);
        assert_eq!(skip_ws(b"ab", usize::MAX), usize::MAX);
        assert_eq!(find_byte(b"abcb", 2, b'b'), Some(3));
        assert_eq!(find_byte(b"abc", 9, b'b'), None);
    }

    const SAMPLE: &[u8] = r#"{"jsonrpc":"2.0","method":"sum","params":[1,-2.5e3,{"k":"\u00e9\uD834\uDD1E\"","n":null}],"t":[true,false],"u":"grüße","id":17}"#.as_bytes();

    #[test]
    fn every_prefix_and_mutation() {
        assert!(doc(SAMPLE).is_ok());
        for n in 0..SAMPLE.len() {
            let prefix = &SAMPLE[..n];
            assert!(doc(prefix).is_err(), "prefix {n}");
            let sc = Scanner::new(prefix, MAX_DEPTH);
            for r in sc.members(0) {
                let _ = r;
            }
            let v = Value { start: 0, end: n, kind: Kind::Object };
            for (k, v) in members(prefix, v) {
                let _ = (k.chars().count(), k.decoded_len(), v.bytes(prefix));
            }
            let _ = JsonStr::new(prefix).chars().count();
            let _ = JsonStr::new(prefix).unescape_into(&mut [0u8; 16]);
        }
        // Every single-byte substitution: must not panic; the accepted ones must agree
        // with serde_json.
        let mut buf = SAMPLE.to_vec();
        for i in 0..SAMPLE.len() {
            for b in 0..=255u8 {
                buf[i] = b;
                let ours = doc(&buf).is_ok();
                let theirs = serde_json::from_slice::<serde_json::Value>(&buf).is_ok();
                assert_eq!(ours, theirs, "byte {i} = {b:#x}: {:?}", String::from_utf8_lossy(&buf));
            }
            buf[i] = SAMPLE[i];
        }
    }

    #[test]
    fn sample_walk() {
        let v = doc(SAMPLE).unwrap();
        let keys: Vec<String> = members(SAMPLE, v).map(|(k, _)| k.chars().collect()).collect();
        assert_eq!(keys, ["jsonrpc", "method", "params", "t", "u", "id"]);
        let checked: Vec<_> = Scanner::new(SAMPLE, 64).members(0).map(Result::unwrap).collect();
        assert_eq!(checked, members(SAMPLE, v).collect::<Vec<_>>());
        let params = members(SAMPLE, v).find(|(k, _)| k.eq_str("params")).unwrap().1;
        let e: Vec<_> = elements(SAMPLE, params).collect();
        assert_eq!(e.len(), 3);
        let inner = members(SAMPLE, e[2]).next().unwrap().1.as_str(SAMPLE).unwrap();
        assert!(inner.eq_str("é𝄞\""));
        let id = members(SAMPLE, v).last().unwrap().1;
        assert_eq!(parse_int(id.bytes(SAMPLE)), Some((false, 17)));
    }

    #[test]
    fn word_at_a_time_paths() {
        // Special bytes at every offset of strings long enough for the 8-byte fast paths,
        // with and without room after the string, validated and then walked.
        let specials: [&[u8]; 12] = [
            b"\"",
            b"\\n",
            b"\\\\",
            b"\\u00e9",
            b"\x1f",
            b"\x00",
            b"\x7f",
            b" ",
            "é".as_bytes(),
            "€".as_bytes(),
            b"\x80",
            b"\xff",
        ];
        for len in 0..24 {
            for at in 0..=len {
                for sp in specials {
                    for tail in [&b""[..], b"            "] {
                        let mut content = Vec::new();
                        content.extend(core::iter::repeat_n(b'a', at));
                        content.extend_from_slice(sp);
                        content.extend(core::iter::repeat_n(b'b', len - at));
                        let mut text = Vec::from(&b"{\""[..]);
                        text.extend_from_slice(&content);
                        text.extend_from_slice(b"\":[\"");
                        text.extend_from_slice(&content);
                        text.extend_from_slice(b"\"]}");
                        text.extend_from_slice(tail);
                        let ours = doc(&text);
                        let theirs = serde_json::from_slice::<serde_json::Value>(&text);
                        assert_eq!(ours.is_ok(), theirs.is_ok(), "{:?}", String::from_utf8_lossy(&text));
                        let Ok(v) = ours else { continue };
                        let (k, arr) = members(&text, v).next().unwrap();
                        assert_eq!(k.raw(), &content[..]);
                        let e = elements(&text, arr).next().unwrap();
                        assert_eq!(e.as_str(&text).unwrap().raw(), &content[..]);
                        let serde_json::Value::Object(map) = theirs.unwrap() else { panic!() };
                        let key: &String = map.keys().next().unwrap();
                        assert!(k.eq_str(key));
                        assert_eq!(k.chars().collect::<String>(), *key);
                        assert_eq!(k.decoded_len(), key.len());
                        assert_eq!(k.has_escapes(), content.contains(&b'\\'));
                    }
                }
            }
        }
    }

    /// Tiny deterministic generator (xorshift) so the differential test needs no crate.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    #[test]
    fn differential_against_serde_json() {
        // Token soup biased towards almost-valid JSON, compared with serde_json (which is
        // also strict RFC 8259 and rejects lone surrogate escapes).
        let tokens: [&[u8]; 34] = [
            b"{",
            b"}",
            b"[",
            b"]",
            b",",
            b":",
            b" ",
            b"\n",
            b"\"",
            b"\"a\"",
            b"\"k\":",
            b"0",
            b"-",
            b"1",
            b"9",
            b".",
            b"e",
            b"E",
            b"+",
            b"true",
            b"null",
            b"fals",
            b"\\",
            b"\\n",
            b"\\u00",
            b"D834",
            b"\\uDD1E",
            b"\\uD834",
            b"\xC3\xA9",
            b"\xE2\x82",
            b"\xF0\x9D\x84\x9E",
            b"\xED\xA0\x80",
            b"\t",
            b"\x01",
        ];
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let mut buf = Vec::new();
        let (mut accepted, mut total) = (0, 0);
        for _ in 0..200_000 {
            buf.clear();
            let n = (rng.next() % 12) as usize;
            for _ in 0..n {
                buf.extend_from_slice(tokens[(rng.next() % tokens.len() as u64) as usize]);
            }
            let ours = doc(&buf).is_ok();
            let theirs = serde_json::from_slice::<serde_json::Value>(&buf).is_ok();
            assert_eq!(ours, theirs, "{:?}", String::from_utf8_lossy(&buf));
            if ours {
                let v = doc(&buf).unwrap();
                if v.kind == Kind::Object {
                    let a: Vec<_> = members(&buf, v).collect();
                    let b: Vec<_> = Scanner::new(&buf, 64).members(v.start).map(Result::unwrap).collect();
                    assert_eq!(a, b);
                }
                accepted += 1;
            }
            total += 1;
        }
        assert!(accepted > 1000, "{accepted}/{total}");
    }
}
