//! Typed arguments from validated, type-checked parameter spans.
//!
//! Decoding runs only after [`crate::check`] has accepted every parameter against its
//! descriptor, so a decoder never has to explain a failure: `None` means a bug (a `Describe`
//! impl that disagrees with its `FromParam` impl) and becomes a hidden internal error.
//!
//! Strings are borrowed from the request when they contain no escapes; otherwise they are
//! unescaped into the caller's scratch buffer (an [`Arena`]), so `&str` parameters never copy
//! in the common case and never allocate.

use crate::scan::{self, Kind, Value};
use crate::schema::{Describe, FunctionDesc};

/// The most parameters a function may declare.
pub const MAX_PARAMS: usize = 16;

/// A bump allocator over a caller buffer, for unescaped strings.
#[derive(Debug)]
pub struct Arena<'a> {
    rest: &'a mut [u8],
}

impl<'a> Arena<'a> {
    /// An arena handing out pieces of `buf`.
    pub fn new(buf: &'a mut [u8]) -> Self {
        Arena { rest: buf }
    }

    /// Takes `n` bytes, or `None` when fewer remain.
    pub fn alloc(&mut self, n: usize) -> Option<&'a mut [u8]> {
        if n > self.rest.len() {
            return None;
        }
        let rest = core::mem::take(&mut self.rest);
        let (piece, rest) = rest.split_at_mut(n);
        self.rest = rest;
        Some(piece)
    }

    /// Bytes still available.
    pub fn remaining(&self) -> usize {
        self.rest.len()
    }
}

/// Decoding state: the request text and the scratch arena.
#[derive(Debug)]
pub struct Decoder<'a> {
    buf: &'a [u8],
    arena: Arena<'a>,
    accept_int_as_float: bool,
    scratch_exhausted: bool,
}

impl<'a> Decoder<'a> {
    /// A decoder over the request text `buf` with `scratch` for unescaped strings.
    pub fn new(buf: &'a [u8], scratch: &'a mut [u8], accept_int_as_float: bool) -> Self {
        Decoder { buf, arena: Arena::new(scratch), accept_int_as_float, scratch_exhausted: false }
    }

    /// The request text.
    pub fn buf(&self) -> &'a [u8] {
        self.buf
    }

    /// The text of `v`.
    pub fn text(&self, v: Value) -> &'a [u8] {
        v.bytes(self.buf)
    }

    /// A string value as `&str`: borrowed when it has no escapes, else unescaped into the
    /// arena (`None` when the arena is exhausted).
    pub fn str(&mut self, v: Value) -> Option<&'a str> {
        let s = v.as_str(self.buf)?;
        if let Some(plain) = s.as_plain() {
            return Some(plain);
        }
        let Some(out) = self.arena.alloc(s.decoded_len()) else {
            self.scratch_exhausted = true;
            return None;
        };
        s.unescape_into(out)
    }

    /// The value of the member `key` of an object (the last one if the key repeats, as
    /// JSON parsers customarily do).
    pub fn member(&self, obj: Value, key: &str) -> Option<Value> {
        scan::members(self.buf, obj).filter(|(k, _)| k.eq_str(key)).map(|(_, v)| v).last()
    }

    /// The elements of an array value.
    pub fn elements(&self, arr: Value) -> scan::Elements<'a> {
        scan::elements(self.buf, arr)
    }

    /// Whether integers are accepted for float parameters.
    pub fn accepts_int_as_float(&self) -> bool {
        self.accept_int_as_float
    }
}

/// Decodes a Rust value from a parameter that passed type checking against
/// `<Self as Describe>::TYPE`.
pub trait FromParam<'a>: Sized + Describe {
    /// Decodes `v`; `None` only if the value does not match the descriptor (a bug).
    fn from_param(v: Value, d: &mut Decoder<'a>) -> Option<Self>;
}

macro_rules! from_param_int {
    ($($t:ty),*) => {$(
        impl<'a> FromParam<'a> for $t {
            fn from_param(v: Value, d: &mut Decoder<'a>) -> Option<Self> {
                if v.kind != Kind::Int {
                    return None;
                }
                let (neg, mag) = scan::parse_int(d.text(v))?;
                if neg {
                    // Two's complement negation of the magnitude, range-checked by try_from.
                    let signed = 0i64.checked_sub_unsigned(mag)?;
                    <$t>::try_from(signed).ok()
                } else {
                    <$t>::try_from(mag).ok()
                }
            }
        }
    )*};
}
from_param_int!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize);

impl<'a> FromParam<'a> for bool {
    fn from_param(v: Value, _: &mut Decoder<'a>) -> Option<Self> {
        match v.kind {
            Kind::True => Some(true),
            Kind::False => Some(false),
            _ => None,
        }
    }
}

#[cfg(feature = "float")]
impl<'a> FromParam<'a> for f64 {
    fn from_param(v: Value, d: &mut Decoder<'a>) -> Option<Self> {
        if v.kind == Kind::Float || (v.kind == Kind::Int && d.accepts_int_as_float()) {
            // A validated JSON number is also valid Rust float syntax.
            core::str::from_utf8(d.text(v)).ok()?.parse().ok()
        } else {
            None
        }
    }
}

#[cfg(feature = "float")]
impl<'a> FromParam<'a> for f32 {
    fn from_param(v: Value, d: &mut Decoder<'a>) -> Option<Self> {
        if v.kind == Kind::Float || (v.kind == Kind::Int && d.accepts_int_as_float()) {
            core::str::from_utf8(d.text(v)).ok()?.parse().ok()
        } else {
            None
        }
    }
}

impl<'a> FromParam<'a> for &'a str {
    fn from_param(v: Value, d: &mut Decoder<'a>) -> Option<Self> {
        d.str(v)
    }
}

impl<'a, const N: usize> FromParam<'a> for heapless::String<N> {
    fn from_param(v: Value, d: &mut Decoder<'a>) -> Option<Self> {
        let s = v.as_str(d.buf())?;
        let mut out = heapless::String::new();
        for c in s.chars() {
            out.push(c).ok()?;
        }
        Some(out)
    }
}

impl<'a, T: FromParam<'a>, const N: usize> FromParam<'a> for heapless::Vec<T, N> {
    fn from_param(v: Value, d: &mut Decoder<'a>) -> Option<Self> {
        if v.kind != Kind::Array {
            return None;
        }
        let mut out = heapless::Vec::new();
        for e in d.elements(v) {
            out.push(T::from_param(e, d)?).ok()?;
        }
        Some(out)
    }
}

/// A `base64` parameter or result: the encoded text, decoded on demand without a buffer.
///
/// As a parameter it borrows the request (the checker has verified the alphabet and padding);
/// as a result it encodes the bytes it wraps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Base64<'a> {
    repr: Base64Repr<'a>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Base64Repr<'a> {
    Encoded(&'a [u8]),
    Raw(&'a [u8]),
}

impl<'a> Base64<'a> {
    /// Wraps raw bytes, to be sent base64-encoded.
    pub const fn from_bytes(bytes: &'a [u8]) -> Self {
        Base64 { repr: Base64Repr::Raw(bytes) }
    }

    /// Wraps base64 text (standard alphabet, padded); `None` if it is not valid base64.
    pub fn from_encoded(text: &'a [u8]) -> Option<Self> {
        if is_base64(text) {
            Some(Base64 { repr: Base64Repr::Encoded(text) })
        } else {
            None
        }
    }

    /// The decoded bytes, one at a time.
    pub fn bytes(&self) -> Base64Bytes<'a> {
        match self.repr {
            Base64Repr::Encoded(t) => Base64Bytes { text: t, pos: 0, acc: 0, bits: 0, raw: None },
            Base64Repr::Raw(r) => Base64Bytes { text: &[], pos: 0, acc: 0, bits: 0, raw: Some(r) },
        }
    }

    /// Number of decoded bytes.
    pub fn decoded_len(&self) -> usize {
        match self.repr {
            Base64Repr::Encoded(t) => {
                let pad = t.iter().rev().take_while(|&&b| b == b'=').count();
                t.len() / 4 * 3 - pad
            }
            Base64Repr::Raw(r) => r.len(),
        }
    }

    /// Decodes into `out`; `None` if it does not fit.
    pub fn decode_into<'o>(&self, out: &'o mut [u8]) -> Option<&'o [u8]> {
        let n = self.decoded_len();
        let dst = out.get_mut(..n)?;
        for (d, b) in dst.iter_mut().zip(self.bytes()) {
            *d = b;
        }
        Some(dst)
    }
}

impl Describe for Base64<'_> {
    const TYPE: &'static crate::schema::TypeDesc = &crate::schema::TypeDesc::Base64;
}

impl<'a> FromParam<'a> for Base64<'a> {
    fn from_param(v: Value, d: &mut Decoder<'a>) -> Option<Self> {
        // Base64 text has no characters that JSON escapes (except an escaped '/', which the
        // checker rejects by requiring plain text).
        let s = v.as_str(d.buf())?;
        Base64::from_encoded(s.raw())
    }
}

impl serde::Serialize for Base64<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.repr {
            Base64Repr::Encoded(t) => s.serialize_str(core::str::from_utf8(t).unwrap_or("")),
            Base64Repr::Raw(r) => s.collect_str(&Base64Display(r)),
        }
    }
}

struct Base64Display<'a>(&'a [u8]);

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

impl core::fmt::Display for Base64Display<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for chunk in self.0.chunks(3) {
            let b = [
                chunk.first().copied().unwrap_or(0),
                chunk.get(1).copied().unwrap_or(0),
                chunk.get(2).copied().unwrap_or(0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            let mut out = [b'='; 4];
            for (i, o) in out.iter_mut().enumerate().take(chunk.len() + 1) {
                *o = ALPHABET[((n >> (18 - 6 * i)) & 63) as usize];
            }
            f.write_str(core::str::from_utf8(&out).unwrap_or(""))?;
        }
        Ok(())
    }
}

fn b64_value(c: u8) -> Option<u32> {
    Some(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    } as u32)
}

/// Whether `text` is standard, padded base64 (length a multiple of 4, `=` only at the end,
/// at most two of them).
pub fn is_base64(text: &[u8]) -> bool {
    if !text.len().is_multiple_of(4) {
        return false;
    }
    let pad = text.iter().rev().take_while(|&&b| b == b'=').count();
    if pad > 2 {
        return false;
    }
    text.iter().take(text.len() - pad).all(|&c| b64_value(c).is_some())
}

/// Iterator over decoded base64 bytes.
#[derive(Clone, Debug)]
pub struct Base64Bytes<'a> {
    text: &'a [u8],
    pos: usize,
    acc: u32,
    bits: u8,
    raw: Option<&'a [u8]>,
}

impl Iterator for Base64Bytes<'_> {
    type Item = u8;
    fn next(&mut self) -> Option<u8> {
        if let Some(raw) = &mut self.raw {
            let (first, rest) = raw.split_first()?;
            *raw = rest;
            return Some(*first);
        }
        while self.bits < 8 {
            let c = *self.text.get(self.pos)?;
            self.pos += 1;
            let v = b64_value(c)?;
            self.acc = (self.acc << 6) | v;
            self.bits += 6;
        }
        self.bits -= 8;
        Some((self.acc >> self.bits) as u8)
    }
}

/// The checked parameters of one call, ready to decode by declaration index.
///
/// It keeps only the `params` value and finds parameter `i` again when asked (the `i`-th
/// element, or the member named like the `i`-th declared parameter): a walk over a few bytes
/// is cheaper than carrying a table of spans through the dispatcher.
#[derive(Debug)]
pub struct Args<'a> {
    f: &'static FunctionDesc,
    params: Option<Value>,
    decoder: Decoder<'a>,
}

impl<'a> Args<'a> {
    /// The parameters `params` (already checked against `f`) over `decoder`.
    pub fn new(f: &'static FunctionDesc, params: Option<Value>, decoder: Decoder<'a>) -> Self {
        Args { f, params, decoder }
    }

    /// Decodes parameter `index`. An error here means the parameter's `Describe` and
    /// `FromParam` impls disagree (a hidden internal error), or that strings with escapes did
    /// not fit the scratch buffer (an `Invalid params` reply).
    pub fn get<T: FromParam<'a>>(&mut self, index: usize) -> Result<T, crate::Error> {
        let v = match self.params {
            Some(p) if p.kind == Kind::Object => self.f.params.get(index).and_then(|d| self.decoder.member(p, d.name)),
            Some(p) => scan::elements(self.decoder.buf, p).nth(index),
            None => None,
        };
        match v.and_then(|v| T::from_param(v, &mut self.decoder)) {
            Some(t) => Ok(t),
            // Deterministic: depends only on the request and the scratch size.
            None if self.decoder.scratch_exhausted => Err(crate::Error::new(
                "ParamError",
                "String parameters with escapes need more scratch memory than this server has",
            )
            .with_code(crate::error::INVALID_PARAMS)),
            None => Err(crate::Error::internal("parameter could not be decoded after type checking")),
        }
    }
}
