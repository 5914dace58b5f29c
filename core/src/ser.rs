//! Streaming JSON output: a `serde::Serializer` and primitive writers over a [`Sink`].
//!
//! Two styles exist because the two protocol dialects have two customary spellings:
//! [`Style::Compact`] (`{"a":1,"b":[1,2]}`, UTF-8 passed through) for JSON-RPC 2.0, and
//! [`Style::Python`] (`{"a": 1, "b": [1, 2]}`, non-ASCII escaped as `\uXXXX`), which is what
//! ReflectRPC's `json.dumps` produces, so 1.0 replies match the original byte for byte.
//!
//! Output is always strict JSON: NaN and infinities are written as `null`.

use core::fmt;

use serde::ser::{self, Impossible, Serialize};

use crate::sink::{Sink, Stop};

/// Output spelling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Style {
    /// No spaces; non-ASCII passed through as UTF-8.
    Compact,
    /// `", "` and `": "` separators; non-ASCII escaped as `\uXXXX` (surrogate pairs above
    /// U+FFFF), like Python's `json.dumps` defaults.
    Python,
}

impl Style {
    /// The separator between elements or members.
    pub const fn comma(self) -> &'static [u8] {
        match self {
            Style::Compact => b",",
            Style::Python => b", ",
        }
    }

    /// The separator between a key and its value.
    pub const fn colon(self) -> &'static [u8] {
        match self {
            Style::Compact => b":",
            Style::Python => b": ",
        }
    }
}

/// Why serializing a value failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SerError {
    /// The sink stopped.
    Stop,
    /// The value uses something JSON cannot express here (a non-string map key, `u128`,
    /// a `Serialize` impl that reported an error).
    Unsupported,
}

impl From<Stop> for SerError {
    fn from(_: Stop) -> Self {
        SerError::Stop
    }
}

impl fmt::Display for SerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SerError::Stop => "output sink stopped",
            SerError::Unsupported => "value cannot be written as JSON",
        })
    }
}

// `serde::ser::StdError` is `core::error::Error` for serde without `std` (Rust >= 1.81) and
// `std::error::Error`, the same trait re-exported, with it.
impl core::error::Error for SerError {}

impl ser::Error for SerError {
    // The message is dropped: keeping it would need an allocation, and callers only need to
    // know that the value cannot be sent.
    fn custom<T: fmt::Display>(_msg: T) -> Self {
        SerError::Unsupported
    }
}

// The public writers are generic over the sink for convenience, but each one only erases the
// sink to `&mut dyn Sink` and calls a single non-generic body. On a Cortex-M0 that keeps one
// copy of the escaping, integer and float code in flash however many sink types a firmware
// uses, for the price of an indirect call per `write`, which already copies whole runs.

/// Writes `s` as a JSON string literal (quotes included), escaping `"`, `\` and control
/// characters (`\b \f \n \r \t`, others as `\u00XX`), and in [`Style::Python`] every
/// non-ASCII character as `\uXXXX`.
#[inline]
pub fn write_str<K: Sink + ?Sized>(mut k: &mut K, s: &str, style: Style) -> Result<(), Stop> {
    quoted_str(&mut k, s, style)
}

/// Writes the characters of `chars` as a JSON string literal, like [`write_str`].
#[inline]
pub fn write_chars<K: Sink + ?Sized>(
    mut k: &mut K,
    chars: impl Iterator<Item = char>,
    style: Style,
) -> Result<(), Stop> {
    let mut chunk = Chunk::new();
    chunk.push(&mut k, b"\"")?;
    for c in chars {
        chunk.push_char(&mut k, c, style)?;
    }
    chunk.push(&mut k, b"\"")?;
    chunk.flush(&mut k)
}

/// Writes `s` escaped like [`write_str`] but without the surrounding quotes, so that one
/// string literal can be assembled from several pieces.
#[inline]
pub fn write_str_content<K: Sink + ?Sized>(mut k: &mut K, s: &str, style: Style) -> Result<(), Stop> {
    str_content(&mut k, s, style)
}

/// Writes the characters of `chars` escaped like [`write_chars`] but without the
/// surrounding quotes, so that one string literal can be assembled from several pieces.
#[inline]
pub fn write_chars_content<K: Sink + ?Sized>(
    mut k: &mut K,
    chars: impl Iterator<Item = char>,
    style: Style,
) -> Result<(), Stop> {
    let mut chunk = Chunk::new();
    for c in chars {
        chunk.push_char(&mut k, c, style)?;
    }
    chunk.flush(&mut k)
}

/// Writes an unsigned integer in decimal.
#[inline]
pub fn write_u64<K: Sink + ?Sized>(mut k: &mut K, v: u64) -> Result<(), Stop> {
    uint(&mut k, v)
}

/// Writes a signed integer in decimal.
#[inline]
pub fn write_i64<K: Sink + ?Sized>(mut k: &mut K, v: i64) -> Result<(), Stop> {
    int(&mut k, v)
}

/// Writes a float as the shortest text that reads back to the same value (`1.0`, `0.1`,
/// `1e+300`), or `null` for NaN and infinities.
///
/// The layout is serde_json's (plain decimals from `0.00001` to below `1e+16`), so
/// [`Style::Compact`] output matches it byte for byte.
#[cfg(feature = "float")]
#[inline]
pub fn write_f64<K: Sink + ?Sized>(mut k: &mut K, v: f64) -> Result<(), Stop> {
    float(&mut k, v, false, Style::Compact)
}

/// Writes an `f32` from its own shortest text, so `0.1f32` is `0.1` and not the
/// `0.10000000149011612` that widening to `f64` first would give.
#[cfg(feature = "float")]
fn write_f32(k: &mut dyn Sink, v: f32, style: Style) -> Result<(), Stop> {
    float(k, v.into(), true, style)
}

/// Serializes `value` into `k`.
pub fn to_sink<T: serde::Serialize + ?Sized, K: Sink + ?Sized>(
    value: &T,
    mut k: &mut K,
    style: Style,
) -> Result<(), SerError> {
    // Erasing the sink here means the serializer is instantiated once per value type, not
    // once per (value type, sink type) pair.
    value.serialize(&mut Ser { k: &mut k, style })
}

// ---------------------------------------------------------------------------------------
// Strings

fn quoted_str(k: &mut dyn Sink, s: &str, style: Style) -> Result<(), Stop> {
    k.write(b"\"")?;
    str_content(k, s, style)?;
    k.write(b"\"")
}

/// Escapes `s` into `k`, copying every run of bytes that need no escape with one write.
fn str_content(k: &mut dyn Sink, s: &str, style: Style) -> Result<(), Stop> {
    let python = matches!(style, Style::Python);
    let bytes = s.as_bytes();
    let mut run = 0;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        // UTF-8 continuation and lead bytes are all >= 0x80, so in compact style a byte test
        // is enough and multi-byte characters are copied untouched.
        let plain = b >= 0x20 && b != b'"' && b != b'\\' && !(python && b >= 0x7f);
        if plain {
            i += 1;
            continue;
        }
        let (esc, width) = if b < 0x80 {
            (escape(char::from(b), python), 1)
        } else {
            // `i` is always on a character boundary: only ASCII bytes and whole characters
            // are stepped over, so `get` succeeds and the branch below never runs.
            let Some(c) = s.get(i..).and_then(|t| t.chars().next()) else {
                break;
            };
            (escape(c, python), c.len_utf8())
        };
        if run < i {
            k.write(bytes.get(run..i).unwrap_or_default())?;
        }
        k.write(esc.as_bytes())?;
        i += width;
        run = i;
    }
    match bytes.get(run..) {
        Some(rest) if !rest.is_empty() => k.write(rest),
        _ => Ok(()),
    }
}

/// The escaped spelling of one character: at most a surrogate pair, `\ud83d\ude00`.
struct Escaped {
    buf: [u8; 12],
    len: u8,
}

impl Escaped {
    fn as_bytes(&self) -> &[u8] {
        self.buf.get(..usize::from(self.len)).unwrap_or_default()
    }
}

/// How `c` is escaped, or an empty [`Escaped`] if it is written as itself.
fn escape(c: char, python: bool) -> Escaped {
    let short = match c {
        '"' => b'"',
        '\\' => b'\\',
        '\u{8}' => b'b',
        '\u{c}' => b'f',
        '\n' => b'n',
        '\r' => b'r',
        '\t' => b't',
        _ => 0,
    };
    let mut buf = [0; 12];
    if short != 0 {
        buf[0] = b'\\';
        buf[1] = short;
        return Escaped { buf, len: 2 };
    }
    let u = u32::from(c);
    // Python's ensure_ascii escapes everything outside printable ASCII, DEL included.
    if u >= 0x20 && !(python && u >= 0x7f) {
        return Escaped { buf, len: 0 };
    }
    if u <= 0xffff {
        let [a, b, c, d, e, f] = u_escape(u);
        return Escaped { buf: [a, b, c, d, e, f, 0, 0, 0, 0, 0, 0], len: 6 };
    }
    // Astral characters become a UTF-16 surrogate pair, as JSON (and Python) spell them.
    let v = u - 0x1_0000;
    let [a, b, c, d, e, f] = u_escape(0xd800 | (v >> 10));
    let [g, h, i, j, l, m] = u_escape(0xdc00 | (v & 0x3ff));
    Escaped { buf: [a, b, c, d, e, f, g, h, i, j, l, m], len: 12 }
}

/// `\uXXXX` for the low 16 bits of `v`, in lower-case hex like Python and serde_json.
fn u_escape(v: u32) -> [u8; 6] {
    [b'\\', b'u', hex(v >> 12), hex(v >> 8), hex(v >> 4), hex(v)]
}

fn hex(v: u32) -> u8 {
    let n = (v & 0xf) as u8;
    if n < 10 {
        b'0' + n
    } else {
        b'a' - 10 + n
    }
}

/// Copies `src` into `dst` (equal lengths at every call site). Unlike `copy_from_slice`
/// this has no length-mismatch panic path for the linker to keep.
fn copy(dst: &mut [u8], src: &[u8]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d = *s;
    }
}

/// A stack buffer that collects the output of a character iterator, so that it reaches the
/// sink in a few large writes instead of one per character.
struct Chunk {
    buf: [u8; 64],
    len: usize,
}

impl Chunk {
    fn new() -> Self {
        Chunk { buf: [0; 64], len: 0 }
    }

    fn push(&mut self, k: &mut dyn Sink, bytes: &[u8]) -> Result<(), Stop> {
        let end = self.len + bytes.len();
        if end > self.buf.len() {
            self.flush(k)?;
            return self.push_fitting(bytes, k);
        }
        if let Some(dst) = self.buf.get_mut(self.len..end) {
            copy(dst, bytes);
            self.len = end;
        }
        Ok(())
    }

    /// Appends after a flush; pieces are at most 12 bytes, but a longer one is written
    /// straight through rather than dropped.
    fn push_fitting(&mut self, bytes: &[u8], k: &mut dyn Sink) -> Result<(), Stop> {
        match self.buf.get_mut(..bytes.len()) {
            Some(dst) => {
                copy(dst, bytes);
                self.len = bytes.len();
                Ok(())
            }
            None => k.write(bytes),
        }
    }

    fn push_char(&mut self, k: &mut dyn Sink, c: char, style: Style) -> Result<(), Stop> {
        let esc = escape(c, matches!(style, Style::Python));
        if esc.len == 0 {
            self.push(k, c.encode_utf8(&mut [0; 4]).as_bytes())
        } else {
            self.push(k, esc.as_bytes())
        }
    }

    fn flush(&mut self, k: &mut dyn Sink) -> Result<(), Stop> {
        let len = core::mem::take(&mut self.len);
        match self.buf.get(..len) {
            Some(pending) if !pending.is_empty() => k.write(pending),
            _ => Ok(()),
        }
    }
}

/// A [`fmt::Write`] that escapes every piece into a sink: `collect_str` without an
/// allocation. `stopped` tells a sink stop apart from an error of the `Display` impl.
struct EscapeWriter<'a, 'k> {
    k: &'a mut (dyn Sink + 'k),
    style: Style,
    stopped: bool,
}

impl fmt::Write for EscapeWriter<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        str_content(self.k, s, self.style).map_err(|Stop| {
            self.stopped = true;
            fmt::Error
        })
    }
}

fn quoted_display(k: &mut dyn Sink, args: fmt::Arguments<'_>, style: Style) -> Result<(), SerError> {
    k.write(b"\"")?;
    let mut w = EscapeWriter { k, style, stopped: false };
    if fmt::write(&mut w, args).is_err() {
        return Err(if w.stopped { SerError::Stop } else { SerError::Unsupported });
    }
    w.k.write(b"\"")?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Numbers

/// `"00"` to `"99"`: two digits per division halves the (software, on a Cortex-M0) divides.
const PAIRS: [[u8; 2]; 100] = {
    let mut t = [[0; 2]; 100];
    let mut i = 0;
    while i < 100 {
        t[i] = [b'0' + (i / 10) as u8, b'0' + (i % 10) as u8];
        i += 1;
    }
    t
};

/// Room for `u64::MAX` (20 digits) or `i64::MIN` (19 digits and a sign); even, so it splits
/// into digit pairs exactly.
const INT_BUF: usize = 22;

/// Writes the decimal digits of `v` at the end of `buf` and returns how many it used.
fn digits_of(mut v: u64, buf: &mut [u8; INT_BUF]) -> usize {
    let mut used = 0;
    for pair in buf.rchunks_exact_mut(2) {
        // Once the value fits in 32 bits, use 32-bit division: 64-bit division is a much
        // slower library call on 32-bit targets.
        let d = match u32::try_from(v) {
            Ok(n) => {
                v = u64::from(n / 100);
                n % 100
            }
            Err(_) => {
                let (q, d) = div100(v);
                v = q;
                d
            }
        };
        if let (Some(&[hi, lo]), [h, l]) = (PAIRS.get(d as usize), pair) {
            *h = hi;
            *l = lo;
        }
        if v == 0 {
            return used + if d < 10 { 1 } else { 2 };
        }
        used += 2;
    }
    used
}

/// `(v / 100, v % 100)`, for values above `u32::MAX`.
#[inline]
fn div100(v: u64) -> (u64, u32) {
    #[cfg(target_pointer_width = "64")]
    return (v / 100, (v % 100) as u32);
    #[cfg(not(target_pointer_width = "64"))]
    return div100_long(v);
}

/// [`div100`] by long division (shift and subtract, 64 steps): on 32-bit targets this keeps
/// the 64-bit division routine (about 900 B of flash on a Cortex-M) out of the image, for
/// numbers that are rare on a device.
#[cfg(any(test, not(target_pointer_width = "64")))]
fn div100_long(v: u64) -> (u64, u32) {
    let (mut q, mut r) = (0u64, 0u32);
    for i in (0..64).rev() {
        // `r < 100` before the shift, so it stays below 200: no overflow.
        r = (r << 1) | ((v >> i) & 1) as u32;
        if r >= 100 {
            r -= 100;
            q |= 1 << i;
        }
    }
    (q, r)
}

fn uint(k: &mut dyn Sink, v: u64) -> Result<(), Stop> {
    let mut buf = [0; INT_BUF];
    let start = INT_BUF.saturating_sub(digits_of(v, &mut buf));
    k.write(buf.get(start..).unwrap_or_default())
}

fn int(k: &mut dyn Sink, v: i64) -> Result<(), Stop> {
    let mut buf = [0; INT_BUF];
    // `unsigned_abs` is what makes `i64::MIN` work: its magnitude does not fit in an i64.
    let mut start = INT_BUF.saturating_sub(digits_of(v.unsigned_abs(), &mut buf));
    if v < 0 {
        start = start.saturating_sub(1);
        if let Some(sign) = buf.get_mut(start) {
            *sign = b'-';
        }
    }
    k.write(buf.get(start..).unwrap_or_default())
}

/// A small stack buffer for formatted numbers, so each reaches the sink in one write.
struct NumBuf {
    buf: [u8; 48],
    len: usize,
    overflow: bool,
}

impl NumBuf {
    fn new() -> Self {
        NumBuf { buf: [0; 48], len: 0, overflow: false }
    }

    fn push(&mut self, bytes: &[u8]) {
        let end = self.len + bytes.len();
        match self.buf.get_mut(self.len..end) {
            Some(dst) => {
                copy(dst, bytes);
                self.len = end;
            }
            None => self.overflow = true,
        }
    }

    fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }

    /// Drops trailing `0`s (of a digit string).
    #[cfg(feature = "float")]
    fn trim_zeros(&mut self) {
        while let Some(rest) = self.as_bytes().strip_suffix(b"0") {
            self.len = rest.len();
        }
    }

    /// Writes the text; the buffer fits every number (an `f64` is at most 27 bytes, an
    /// `i128` 40), so the overflow branch is a guard, not a path.
    fn write_to(&self, k: &mut dyn Sink) -> Result<(), Stop> {
        if self.overflow {
            return Err(Stop);
        }
        k.write(self.as_bytes())
    }
}

impl fmt::Write for NumBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.push(s.as_bytes());
        if self.overflow {
            Err(fmt::Error)
        } else {
            Ok(())
        }
    }
}

/// `u128`/`i128`: the fast path when the value fits in 64 bits, otherwise core's `Display`
/// (only linked into firmware that serializes such values).
fn wide(k: &mut dyn Sink, narrow: Option<Result<u64, i64>>, args: fmt::Arguments<'_>) -> Result<(), Stop> {
    match narrow {
        Some(Ok(u)) => uint(k, u),
        Some(Err(i)) => int(k, i),
        None => {
            let mut text = NumBuf::new();
            // Only fails on overflow, which `write_to` reports.
            let _ = fmt::write(&mut text, args);
            text.write_to(k)
        }
    }
}

/// How a style lays out a float: the decimal exponents (of `d.ddd × 10^e`) written
/// positionally, and whether exponents get at least two digits.
#[cfg(feature = "float")]
struct FloatRules {
    fixed_min: i32,
    fixed_max: i32,
    pad_exp: bool,
}

#[cfg(feature = "float")]
impl FloatRules {
    fn new(style: Style, is_f32: bool) -> Self {
        match (style, is_f32) {
            // serde_json's (its `zmij` formatter): `0.00001` to below `1e+16`.
            (Style::Compact, false) => FloatRules { fixed_min: -5, fixed_max: 15, pad_exp: false },
            // serde_json's for `f32`: `0.000001` to below `1e+13`.
            (Style::Compact, true) => FloatRules { fixed_min: -6, fixed_max: 12, pad_exp: false },
            // Python's `repr`: `0.0001` to below `1e+16`, exponents like `1e-05`. Python has
            // only doubles; an f32 keeps its own digits but gets this layout.
            (Style::Python, _) => FloatRules { fixed_min: -4, fixed_max: 15, pad_exp: true },
        }
    }
}

/// Writes a float (an `f32` arrives widened, which is exact, with `is_f32` set).
///
/// `core::fmt`'s `Debug` finds the shortest digits that read back to the same value; they are
/// then laid out the way the style's reference implementation does. That costs a few dozen
/// instructions, where a Ryu-style formatter would add kilobytes of tables to a firmware that
/// links `core::fmt` anyway.
#[cfg(feature = "float")]
fn float(k: &mut dyn Sink, v: f64, is_f32: bool, style: Style) -> Result<(), Stop> {
    if !v.is_finite() {
        // JSON has no NaN or infinity, and `null` is what serde_json writes for them.
        return k.write(b"null");
    }
    let mut text = NumBuf::new();
    let res = if is_f32 {
        fmt::write(&mut text, format_args!("{:?}", v as f32))
    } else {
        fmt::write(&mut text, format_args!("{v:?}"))
    };
    if res.is_err() {
        return text.write_to(k);
    }
    // Debug writes `-?d+.d+` or `-?d(.d+)?e-?d+`.
    let t = text.as_bytes();
    let (neg, t) = match t.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, t),
    };
    let (mantissa, exp10) = match t.iter().position(|&b| b == b'e') {
        Some(e) => (t.get(..e).unwrap_or_default(), parse_exp(t.get(e + 1..).unwrap_or_default())),
        None => (t, 0),
    };
    let int_len = mantissa.iter().position(|&b| b == b'.').unwrap_or(mantissa.len());
    // The significant digits, without leading or trailing zeros, and the exponent `e` of
    // the value `d.ddd × 10^e`.
    let mut digits = NumBuf::new();
    let mut e = 0i32;
    for (i, &b) in mantissa.iter().filter(|b| b.is_ascii_digit()).enumerate() {
        if digits.len == 0 {
            if b == b'0' {
                continue;
            }
            e = (int_len as i32 - 1 - i as i32).saturating_add(exp10);
        }
        digits.push(&[b]);
    }
    digits.trim_zeros();
    round_tie_to_even(&mut digits, e, v, is_f32);
    lay_out_float(k, neg, digits.as_bytes(), e, &FloatRules::new(style, is_f32))
}

/// `Debug` rounds a tie between two shortest candidates up (`312985.125f32` -> `312985.13`);
/// serde_json and Python round it to even (`312985.12`). Both read back the same, but the
/// styles promise their reference's bytes, so a tie is rounded to even here.
///
/// A tie needs `v` to equal `digits - 0.5` units of the last digit exactly, so `v` has few
/// binary fractional digits; the first test rejects nearly every other value cheaply.
#[cfg(feature = "float")]
fn round_tie_to_even(digits: &mut NumBuf, e: i32, v: f64, is_f32: bool) {
    let Some((&last, _)) = digits.as_bytes().split_last() else {
        return;
    };
    if last % 2 == 0 {
        return;
    }
    let bits = v.abs().to_bits();
    let fraction = bits & ((1 << 52) - 1);
    let biased = (bits >> 52) as i32;
    // v = m × 2^q exactly (an f32 widens exactly, so this holds for both types).
    let (m, q) = if biased == 0 { (fraction, -1074) } else { (fraction | 1 << 52, biased - 1075) };
    // The midpoint is mid × 10^-f with `mid` the digits followed by a 5.
    let f = digits.len as i32 - e;
    if f <= 0 || q + f + (m.trailing_zeros() as i32) < 0 {
        return;
    }
    let mid = digits
        .as_bytes()
        .iter()
        .fold(0u128, |acc, &b| acc.saturating_mul(10).saturating_add(u128::from(b.wrapping_sub(b'0'))))
        .saturating_mul(10)
        .saturating_sub(5);
    // v == mid × 10^-f  <=>  m × 5^f × 2^(q + f) == mid.
    let Some(lhs) = 5u128.checked_pow(f as u32).and_then(|p| p.checked_mul(u128::from(m))) else {
        return;
    };
    let s = q + f;
    let tie = if s >= 0 { shl(lhs, s as u32) == Some(mid) } else { shl(mid, s.unsigned_abs()) == Some(lhs) };
    if !tie {
        return;
    }
    // Below a (normal) power of two the values are twice as dense, so the lower candidate,
    // 5 × 10^-f away, reads back only if that is within half the spacing below, 2^(u-2),
    // where 2^u is the spacing above: 2^(2-u-f) <= 5^(f-1).
    let narrow_below = fraction == 0 && if is_f32 { q + 52 > -126 } else { biased > 1 };
    if narrow_below {
        let u = if is_f32 { q + 29 } else { q };
        let t = 2 - u - f;
        let fits = t <= 0
            || matches!(
                (1u128.checked_shl(t as u32), 5u128.checked_pow((f - 1) as u32)),
                (Some(two), Some(five)) if two <= five
            );
        if !fits {
            return;
        }
    }
    if let Some(d) = digits.buf.get_mut(digits.len.wrapping_sub(1)) {
        *d -= 1;
    }
    digits.trim_zeros();
}

/// `x << s`, or `None` if bits would be lost.
#[cfg(feature = "float")]
fn shl(x: u128, s: u32) -> Option<u128> {
    (x.leading_zeros() >= s || x == 0).then(|| x.checked_shl(s).unwrap_or(0))
}

/// Writes the value `digits × 10^(e + 1 - digits.len())` (digits without leading or trailing
/// zeros; none for zero) as `rules` say.
#[cfg(feature = "float")]
fn lay_out_float(k: &mut dyn Sink, neg: bool, d: &[u8], e: i32, rules: &FloatRules) -> Result<(), Stop> {
    let n = d.len() as i32;
    let mut out = NumBuf::new();
    if neg {
        out.push(b"-");
    }
    if d.is_empty() {
        out.push(b"0.0");
    } else if (rules.fixed_min..=rules.fixed_max).contains(&e) {
        if e >= n - 1 {
            // 15e3 -> 15000.0
            out.push(d);
            push_zeros(&mut out, e - (n - 1));
            out.push(b".0");
        } else if e >= 0 {
            // 125e-2 -> 1.25
            let (int, frac) = d.split_at_checked((e + 1) as usize).unwrap_or((d, &[]));
            out.push(int);
            out.push(b".");
            out.push(frac);
        } else {
            // 15e-6 -> 0.000015
            out.push(b"0.");
            push_zeros(&mut out, -e - 1);
            out.push(d);
        }
    } else {
        // 15e-8 -> 1.5e-7 (or 1.5e-07)
        let (first, rest) = d.split_at_checked(1).unwrap_or((d, &[]));
        out.push(first);
        if !rest.is_empty() {
            out.push(b".");
            out.push(rest);
        }
        out.push(if e < 0 { b"e-" } else { b"e+" });
        let mut buf = [0; INT_BUF];
        let len = digits_of(u64::from(e.unsigned_abs()), &mut buf);
        if rules.pad_exp && len < 2 {
            out.push(b"0");
        }
        out.push(buf.get(INT_BUF.saturating_sub(len)..).unwrap_or_default());
    }
    out.write_to(k)
}

#[cfg(feature = "float")]
fn parse_exp(text: &[u8]) -> i32 {
    let (neg, text) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    let v = text.iter().fold(0i32, |v, &b| v.saturating_mul(10).saturating_add(i32::from(b.wrapping_sub(b'0'))));
    if neg {
        -v
    } else {
        v
    }
}

#[cfg(feature = "float")]
fn push_zeros(out: &mut NumBuf, count: i32) {
    for _ in 0..count {
        out.push(b"0");
    }
}

// ---------------------------------------------------------------------------------------
// serde

struct Ser<'k> {
    k: &'k mut dyn Sink,
    style: Style,
}

impl<'k> Ser<'k> {
    fn raw(&mut self, bytes: &[u8]) -> Result<(), SerError> {
        Ok(self.k.write(bytes)?)
    }

    fn str(&mut self, s: &str) -> Result<(), SerError> {
        Ok(quoted_str(self.k, s, self.style)?)
    }

    fn colon(&mut self) -> Result<(), SerError> {
        self.raw(self.style.colon())
    }

    /// Starts `{"variant":` for the variant shapes serde_json wraps in an object.
    fn open_variant(&mut self, variant: &str) -> Result<(), SerError> {
        self.raw(b"{")?;
        self.str(variant)?;
        self.colon()
    }

    fn open<'a>(&'a mut self, open: &'static [u8], close: &'static [u8]) -> Result<Compound<'a, 'k>, SerError> {
        self.raw(open)?;
        Ok(Compound { ser: self, first: true, close })
    }
}

/// An array or object being written; `close` also closes a variant's wrapping object.
struct Compound<'a, 'k> {
    ser: &'a mut Ser<'k>,
    first: bool,
    close: &'static [u8],
}

impl Compound<'_, '_> {
    fn sep(&mut self) -> Result<(), SerError> {
        if self.first {
            self.first = false;
            Ok(())
        } else {
            self.ser.raw(self.ser.style.comma())
        }
    }

    fn element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), SerError> {
        self.sep()?;
        value.serialize(&mut *self.ser)
    }

    fn field<T: ?Sized + Serialize>(&mut self, key: &str, value: &T) -> Result<(), SerError> {
        self.sep()?;
        self.ser.str(key)?;
        self.ser.colon()?;
        value.serialize(&mut *self.ser)
    }

    fn end(self) -> Result<(), SerError> {
        self.ser.raw(self.close)
    }
}

impl<'a, 'k> ser::Serializer for &'a mut Ser<'k> {
    type Ok = ();
    type Error = SerError;
    type SerializeSeq = Compound<'a, 'k>;
    type SerializeTuple = Compound<'a, 'k>;
    type SerializeTupleStruct = Compound<'a, 'k>;
    type SerializeTupleVariant = Compound<'a, 'k>;
    type SerializeMap = Compound<'a, 'k>;
    type SerializeStruct = Compound<'a, 'k>;
    type SerializeStructVariant = Compound<'a, 'k>;

    fn serialize_bool(self, v: bool) -> Result<(), SerError> {
        self.raw(if v { b"true" } else { b"false" })
    }

    fn serialize_i8(self, v: i8) -> Result<(), SerError> {
        self.serialize_i64(v.into())
    }

    fn serialize_i16(self, v: i16) -> Result<(), SerError> {
        self.serialize_i64(v.into())
    }

    fn serialize_i32(self, v: i32) -> Result<(), SerError> {
        self.serialize_i64(v.into())
    }

    fn serialize_i64(self, v: i64) -> Result<(), SerError> {
        Ok(int(self.k, v)?)
    }

    fn serialize_i128(self, v: i128) -> Result<(), SerError> {
        Ok(wide(self.k, i64::try_from(v).ok().map(Err), format_args!("{v}"))?)
    }

    fn serialize_u8(self, v: u8) -> Result<(), SerError> {
        self.serialize_u64(v.into())
    }

    fn serialize_u16(self, v: u16) -> Result<(), SerError> {
        self.serialize_u64(v.into())
    }

    fn serialize_u32(self, v: u32) -> Result<(), SerError> {
        self.serialize_u64(v.into())
    }

    fn serialize_u64(self, v: u64) -> Result<(), SerError> {
        Ok(uint(self.k, v)?)
    }

    fn serialize_u128(self, v: u128) -> Result<(), SerError> {
        Ok(wide(self.k, u64::try_from(v).ok().map(Ok), format_args!("{v}"))?)
    }

    fn serialize_f32(self, v: f32) -> Result<(), SerError> {
        #[cfg(feature = "float")]
        return Ok(write_f32(self.k, v, self.style)?);
        #[cfg(not(feature = "float"))]
        {
            let _ = v;
            Err(SerError::Unsupported)
        }
    }

    fn serialize_f64(self, v: f64) -> Result<(), SerError> {
        #[cfg(feature = "float")]
        return Ok(float(self.k, v, false, self.style)?);
        #[cfg(not(feature = "float"))]
        {
            let _ = v;
            Err(SerError::Unsupported)
        }
    }

    fn serialize_char(self, v: char) -> Result<(), SerError> {
        self.str(v.encode_utf8(&mut [0; 4]))
    }

    fn serialize_str(self, v: &str) -> Result<(), SerError> {
        self.str(v)
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<(), SerError> {
        // Like serde_json: an array of numbers.
        let mut seq = self.open(b"[", b"]")?;
        for &b in v {
            seq.sep()?;
            uint(seq.ser.k, b.into())?;
        }
        seq.end()
    }

    fn serialize_none(self) -> Result<(), SerError> {
        self.raw(b"null")
    }

    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result<(), SerError> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), SerError> {
        self.raw(b"null")
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), SerError> {
        self.raw(b"null")
    }

    fn serialize_unit_variant(self, _name: &'static str, _index: u32, variant: &'static str) -> Result<(), SerError> {
        self.str(variant)
    }

    fn serialize_newtype_struct<T: ?Sized + Serialize>(self, _name: &'static str, value: &T) -> Result<(), SerError> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), SerError> {
        self.open_variant(variant)?;
        value.serialize(&mut *self)?;
        self.raw(b"}")
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Compound<'a, 'k>, SerError> {
        self.open(b"[", b"]")
    }

    fn serialize_tuple(self, _len: usize) -> Result<Compound<'a, 'k>, SerError> {
        self.open(b"[", b"]")
    }

    fn serialize_tuple_struct(self, _name: &'static str, _len: usize) -> Result<Compound<'a, 'k>, SerError> {
        self.open(b"[", b"]")
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'a, 'k>, SerError> {
        self.open_variant(variant)?;
        self.open(b"[", b"]}")
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Compound<'a, 'k>, SerError> {
        self.open(b"{", b"}")
    }

    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Compound<'a, 'k>, SerError> {
        self.open(b"{", b"}")
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'a, 'k>, SerError> {
        self.open_variant(variant)?;
        self.open(b"{", b"}}")
    }

    fn collect_str<T: ?Sized + fmt::Display>(self, value: &T) -> Result<(), SerError> {
        quoted_display(self.k, format_args!("{value}"), self.style)
    }
}

impl ser::SerializeSeq for Compound<'_, '_> {
    type Ok = ();
    type Error = SerError;

    fn serialize_element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), SerError> {
        self.element(value)
    }

    fn end(self) -> Result<(), SerError> {
        Compound::end(self)
    }
}

impl ser::SerializeTuple for Compound<'_, '_> {
    type Ok = ();
    type Error = SerError;

    fn serialize_element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), SerError> {
        self.element(value)
    }

    fn end(self) -> Result<(), SerError> {
        Compound::end(self)
    }
}

impl ser::SerializeTupleStruct for Compound<'_, '_> {
    type Ok = ();
    type Error = SerError;

    fn serialize_field<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), SerError> {
        self.element(value)
    }

    fn end(self) -> Result<(), SerError> {
        Compound::end(self)
    }
}

impl ser::SerializeTupleVariant for Compound<'_, '_> {
    type Ok = ();
    type Error = SerError;

    fn serialize_field<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), SerError> {
        self.element(value)
    }

    fn end(self) -> Result<(), SerError> {
        Compound::end(self)
    }
}

impl ser::SerializeMap for Compound<'_, '_> {
    type Ok = ();
    type Error = SerError;

    fn serialize_key<T: ?Sized + Serialize>(&mut self, key: &T) -> Result<(), SerError> {
        self.sep()?;
        key.serialize(MapKey { ser: &mut *self.ser })
    }

    fn serialize_value<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), SerError> {
        self.ser.colon()?;
        value.serialize(&mut *self.ser)
    }

    fn end(self) -> Result<(), SerError> {
        Compound::end(self)
    }
}

impl ser::SerializeStruct for Compound<'_, '_> {
    type Ok = ();
    type Error = SerError;

    fn serialize_field<T: ?Sized + Serialize>(&mut self, key: &'static str, value: &T) -> Result<(), SerError> {
        self.field(key, value)
    }

    fn end(self) -> Result<(), SerError> {
        Compound::end(self)
    }
}

impl ser::SerializeStructVariant for Compound<'_, '_> {
    type Ok = ();
    type Error = SerError;

    fn serialize_field<T: ?Sized + Serialize>(&mut self, key: &'static str, value: &T) -> Result<(), SerError> {
        self.field(key, value)
    }

    fn end(self) -> Result<(), SerError> {
        Compound::end(self)
    }
}

/// Serializes a map key. JSON keys are strings, so like serde_json this accepts strings,
/// chars, unit variants and newtype wrappers of those, and writes booleans, integers and
/// finite floats in quotes; anything else is [`SerError::Unsupported`].
struct MapKey<'a, 'k> {
    ser: &'a mut Ser<'k>,
}

impl MapKey<'_, '_> {
    fn quoted(self, body: impl FnOnce(&mut dyn Sink) -> Result<(), Stop>) -> Result<(), SerError> {
        self.ser.raw(b"\"")?;
        body(self.ser.k)?;
        self.ser.raw(b"\"")
    }
}

impl ser::Serializer for MapKey<'_, '_> {
    type Ok = ();
    type Error = SerError;
    type SerializeSeq = Impossible<(), SerError>;
    type SerializeTuple = Impossible<(), SerError>;
    type SerializeTupleStruct = Impossible<(), SerError>;
    type SerializeTupleVariant = Impossible<(), SerError>;
    type SerializeMap = Impossible<(), SerError>;
    type SerializeStruct = Impossible<(), SerError>;
    type SerializeStructVariant = Impossible<(), SerError>;

    fn serialize_bool(self, v: bool) -> Result<(), SerError> {
        self.ser.raw(if v { b"\"true\"" } else { b"\"false\"" })
    }

    fn serialize_i8(self, v: i8) -> Result<(), SerError> {
        self.serialize_i64(v.into())
    }

    fn serialize_i16(self, v: i16) -> Result<(), SerError> {
        self.serialize_i64(v.into())
    }

    fn serialize_i32(self, v: i32) -> Result<(), SerError> {
        self.serialize_i64(v.into())
    }

    fn serialize_i64(self, v: i64) -> Result<(), SerError> {
        self.quoted(|k| int(k, v))
    }

    fn serialize_i128(self, v: i128) -> Result<(), SerError> {
        self.quoted(|k| wide(k, i64::try_from(v).ok().map(Err), format_args!("{v}")))
    }

    fn serialize_u8(self, v: u8) -> Result<(), SerError> {
        self.serialize_u64(v.into())
    }

    fn serialize_u16(self, v: u16) -> Result<(), SerError> {
        self.serialize_u64(v.into())
    }

    fn serialize_u32(self, v: u32) -> Result<(), SerError> {
        self.serialize_u64(v.into())
    }

    fn serialize_u64(self, v: u64) -> Result<(), SerError> {
        self.quoted(|k| uint(k, v))
    }

    fn serialize_u128(self, v: u128) -> Result<(), SerError> {
        self.quoted(|k| wide(k, u64::try_from(v).ok().map(Ok), format_args!("{v}")))
    }

    fn serialize_f32(self, v: f32) -> Result<(), SerError> {
        #[cfg(feature = "float")]
        if v.is_finite() {
            let style = self.ser.style;
            return self.quoted(|k| write_f32(k, v, style));
        }
        let _ = v;
        Err(SerError::Unsupported)
    }

    fn serialize_f64(self, v: f64) -> Result<(), SerError> {
        #[cfg(feature = "float")]
        if v.is_finite() {
            let style = self.ser.style;
            return self.quoted(|k| float(k, v, false, style));
        }
        let _ = v;
        Err(SerError::Unsupported)
    }

    fn serialize_char(self, v: char) -> Result<(), SerError> {
        self.ser.str(v.encode_utf8(&mut [0; 4]))
    }

    fn serialize_str(self, v: &str) -> Result<(), SerError> {
        self.ser.str(v)
    }

    fn serialize_bytes(self, _v: &[u8]) -> Result<(), SerError> {
        Err(SerError::Unsupported)
    }

    fn serialize_none(self) -> Result<(), SerError> {
        Err(SerError::Unsupported)
    }

    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result<(), SerError> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), SerError> {
        Err(SerError::Unsupported)
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), SerError> {
        Err(SerError::Unsupported)
    }

    fn serialize_unit_variant(self, _name: &'static str, _index: u32, variant: &'static str) -> Result<(), SerError> {
        self.ser.str(variant)
    }

    fn serialize_newtype_struct<T: ?Sized + Serialize>(self, _name: &'static str, value: &T) -> Result<(), SerError> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<(), SerError> {
        Err(SerError::Unsupported)
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, SerError> {
        Err(SerError::Unsupported)
    }

    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, SerError> {
        Err(SerError::Unsupported)
    }

    fn serialize_tuple_struct(self, _name: &'static str, _len: usize) -> Result<Self::SerializeTupleStruct, SerError> {
        Err(SerError::Unsupported)
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, SerError> {
        Err(SerError::Unsupported)
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, SerError> {
        Err(SerError::Unsupported)
    }

    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Self::SerializeStruct, SerError> {
        Err(SerError::Unsupported)
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, SerError> {
        Err(SerError::Unsupported)
    }

    fn collect_str<T: ?Sized + fmt::Display>(self, value: &T) -> Result<(), SerError> {
        quoted_display(self.ser.k, format_args!("{value}"), self.ser.style)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::{SliceSink, Window};
    use serde::Serialize;
    use std::collections::BTreeMap;
    use std::string::String;
    use std::vec::Vec;

    fn render<T: Serialize + ?Sized>(v: &T, style: Style) -> Result<String, SerError> {
        let mut out = VecSink(Vec::new());
        to_sink(v, &mut out, style)?;
        Ok(String::from_utf8(out.0).expect("output is UTF-8"))
    }

    fn compact<T: Serialize + ?Sized>(v: &T) -> String {
        render(v, Style::Compact).expect("serializes")
    }

    #[test]
    fn long_division_by_100_matches_the_hardware() {
        let mut values =
            std::vec![0, 1, 99, 100, 101, u64::from(u32::MAX), u64::from(u32::MAX) + 1, u64::MAX, u64::MAX - 1];
        // A deterministic spread over the whole range (xorshift).
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            values.push(x);
            values.push(x >> (x % 64));
        }
        for v in values {
            assert_eq!(div100_long(v), (v / 100, (v % 100) as u32), "{v}");
        }
        // And the digits of large numbers, whichever way they were divided.
        for v in [u64::MAX, u64::from(u32::MAX) + 1, 10_000_000_000_000_000_000, 12_345_678_901_234] {
            assert_eq!(compact(&v), std::format!("{v}"));
        }
        assert_eq!(compact(&i64::MIN), "-9223372036854775808");
    }

    fn python<T: Serialize + ?Sized>(v: &T) -> String {
        render(v, Style::Python).expect("serializes")
    }

    /// Records each write separately, to check that runs are written in one call.
    struct VecSink(Vec<u8>);

    impl Sink for VecSink {
        fn write(&mut self, bytes: &[u8]) -> Result<(), Stop> {
            self.0.extend_from_slice(bytes);
            Ok(())
        }
    }

    #[derive(Default)]
    struct Calls(Vec<Vec<u8>>);

    impl Sink for Calls {
        fn write(&mut self, bytes: &[u8]) -> Result<(), Stop> {
            self.0.push(bytes.to_vec());
            Ok(())
        }
    }

    fn same_as_serde_json<T: Serialize + ?Sized>(v: &T) {
        let expected = serde_json::to_string(v).expect("serde_json serializes");
        assert_eq!(compact(v), expected);
    }

    #[derive(Serialize)]
    struct Unit;

    #[derive(Serialize)]
    struct Newtype(u8);

    #[derive(Serialize)]
    struct Pair(i32, &'static str);

    #[derive(Serialize)]
    enum Shape {
        Unit,
        Newtype(u32),
        Tuple(u8, bool),
        Struct { x: i8, y: Option<u8> },
        EmptyTuple(),
        EmptyStruct {},
    }

    #[derive(Serialize)]
    struct Inner {
        name: &'static str,
        tags: Vec<&'static str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        note: Option<&'static str>,
        #[serde(skip)]
        _hidden: u8,
    }

    #[derive(Serialize)]
    struct Outer {
        id: u64,
        inner: Inner,
        shapes: Vec<Shape>,
        map: BTreeMap<&'static str, Vec<i64>>,
        unit: Unit,
        newtype: Newtype,
        pair: Pair,
        tuple: (u8, char, ()),
        empty: Vec<u8>,
        none: Option<u8>,
        some: Option<&'static str>,
        #[serde(with = "bytes")]
        raw: &'static [u8],
    }

    mod bytes {
        pub fn serialize<S: serde::Serializer>(v: &&[u8], s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(v)
        }
    }

    fn outer() -> Outer {
        Outer {
            id: u64::MAX,
            inner: Inner { name: "in\"ner", tags: vec!["a", "b\n"], note: None, _hidden: 7 },
            shapes: vec![
                Shape::Unit,
                Shape::Newtype(5),
                Shape::Tuple(1, false),
                Shape::Struct { x: -3, y: None },
                Shape::EmptyTuple(),
                Shape::EmptyStruct {},
            ],
            map: [("k1", vec![i64::MIN, i64::MAX]), ("", vec![])].into_iter().collect(),
            unit: Unit,
            newtype: Newtype(9),
            pair: Pair(-1, "p"),
            tuple: (0, 'é', ()),
            empty: vec![],
            none: None,
            some: Some("s"),
            raw: &[0, 1, 255],
        }
    }

    #[test]
    fn compact_matches_serde_json_on_structures() {
        same_as_serde_json(&outer());
        same_as_serde_json(&Shape::Unit);
        same_as_serde_json(&Shape::Newtype(1));
        same_as_serde_json(&Shape::Tuple(2, true));
        same_as_serde_json(&Shape::Struct { x: 1, y: Some(2) });
        same_as_serde_json(&Shape::EmptyTuple());
        same_as_serde_json(&Shape::EmptyStruct {});
        same_as_serde_json(&Unit);
        same_as_serde_json(&());
        same_as_serde_json(&Some(Some(3u8)));
        same_as_serde_json(&(1u8, (2u16, [3u32; 2]), "x"));
        same_as_serde_json(&Vec::<Vec<u8>>::from([vec![], vec![1]]));
        same_as_serde_json(&BTreeMap::<u8, u8>::new());
        same_as_serde_json(&true);
        same_as_serde_json(&'"');
    }

    #[test]
    fn compact_matches_serde_json_on_integers() {
        for v in [0, 1, 9, 10, 99, 100, 101, 4_294_967_295, 4_294_967_296, 10_000_000_000_000_000_000, u64::MAX] {
            same_as_serde_json(&v);
        }
        for v in [0, -1, 1, -9, -10, -99, -100, i64::from(i32::MIN), i64::MIN, i64::MAX, i64::MIN + 1] {
            same_as_serde_json(&v);
        }
        same_as_serde_json(&(u8::MAX, i8::MIN, u16::MAX, i16::MIN, u32::MAX, i32::MIN));
        for v in [0, 1, u128::from(u64::MAX), u128::from(u64::MAX) + 1, u128::MAX] {
            same_as_serde_json(&v);
        }
        for v in [0, -1, i128::from(i64::MIN), i128::from(i64::MIN) - 1, i128::MIN, i128::MAX] {
            same_as_serde_json(&v);
        }
    }

    #[test]
    fn write_int_digits() {
        for v in (0..=1000).chain([u64::MAX - 1, 1 << 32, (1 << 32) - 1]) {
            let mut out = VecSink(Vec::new());
            write_u64(&mut out, v).unwrap();
            assert_eq!(out.0, v.to_string().as_bytes());
        }
        for v in (-1000..=1000).chain([i64::MIN, i64::MAX]) {
            let mut calls = Calls::default();
            write_i64(&mut calls, v).unwrap();
            assert_eq!(calls.0, [v.to_string().into_bytes()], "one write per integer");
        }
    }

    #[test]
    fn compact_matches_serde_json_on_strings() {
        let mut every_control = String::new();
        for c in (0u8..0x20).chain([0x7f]) {
            every_control.push(char::from(c));
        }
        for s in [
            "",
            "plain",
            "\"quoted\" \\ back\\slash /",
            "\u{8}\u{c}\n\r\t",
            every_control.as_str(),
            "h\u{e9}llo \u{2603} \u{1f600} \u{10ffff} \u{ffff} \u{80}",
            "mixed \u{1f}x\u{e9}\"\u{1f600}end",
        ] {
            same_as_serde_json(s);
            let mut out = VecSink(Vec::new());
            write_chars(&mut out, s.chars(), Style::Compact).unwrap();
            assert_eq!(out.0, compact(s).as_bytes(), "write_chars({s:?})");
        }
        same_as_serde_json(&['\u{0}', '\u{1f600}', 'a']);
    }

    #[test]
    fn python_spelling() {
        #[derive(Serialize)]
        struct Ab {
            a: Vec<u8>,
            b: &'static str,
        }
        let v = Ab { a: vec![1, 2], b: "h\u{e9}llo \u{2603}" };
        assert_eq!(python(&v), r#"{"a": [1, 2], "b": "h\u00e9llo \u2603"}"#);
        assert_eq!(python("\u{1f600}"), r#""\ud83d\ude00""#);
        assert_eq!(python("\u{10ffff}"), r#""\udbff\udfff""#);
        assert_eq!(python("\u{1f}\u{7f}\u{80}\"\\\n"), r#""\u001f\u007f\u0080\"\\\n""#);
        assert_eq!(python(&Vec::<u8>::new()), "[]");
        assert_eq!(python(&BTreeMap::<u8, u8>::new()), "{}");
        assert_eq!(python(&Shape::Tuple(1, true)), r#"{"Tuple": [1, true]}"#);
        assert_eq!(python(&Shape::Struct { x: 1, y: None }), r#"{"Struct": {"x": 1, "y": null}}"#);
        assert_eq!(python(&Shape::Newtype(7)), r#"{"Newtype": 7}"#);
        assert_eq!(python(&Shape::Unit), r#""Unit""#);
        let map: BTreeMap<i32, bool> = [(-1, true), (2, false)].into_iter().collect();
        assert_eq!(python(&map), r#"{"-1": true, "2": false}"#);
    }

    #[test]
    fn content_writers_have_no_quotes() {
        let mut out = VecSink(Vec::new());
        write_str_content(&mut out, "a\u{e9}\"", Style::Python).unwrap();
        write_chars_content(&mut out, "\u{1f600}\n".chars(), Style::Python).unwrap();
        write_str_content(&mut out, "\u{e9}", Style::Compact).unwrap();
        assert_eq!(out.0, "a\\u00e9\\\"\\ud83d\\ude00\\n\u{e9}".as_bytes());
    }

    #[test]
    fn runs_are_written_whole() {
        let mut calls = Calls::default();
        write_str(&mut calls, "abc\u{e9}def\nghi", Style::Compact).unwrap();
        let calls: Vec<&[u8]> = calls.0.iter().map(Vec::as_slice).collect();
        assert_eq!(calls, [&b"\""[..], "abc\u{e9}def".as_bytes(), b"\\n", b"ghi", b"\""]);

        let mut calls = Calls::default();
        write_chars(&mut calls, "x".repeat(100).chars(), Style::Compact).unwrap();
        assert_eq!(calls.0.len(), 2, "a 64-byte chunk, then the rest");
        assert_eq!(calls.0.concat(), format!("\"{}\"", "x".repeat(100)).into_bytes());
    }

    #[test]
    fn map_keys() {
        let m: BTreeMap<u64, u8> = [(0, 1), (u64::MAX, 2)].into_iter().collect();
        same_as_serde_json(&m);
        let m: BTreeMap<char, u8> = [('\n', 1)].into_iter().collect();
        same_as_serde_json(&m);
        let m: BTreeMap<bool, u8> = [(true, 1)].into_iter().collect();
        same_as_serde_json(&m);
        #[derive(Serialize, PartialEq, Eq, PartialOrd, Ord)]
        enum K {
            A,
        }
        let m: BTreeMap<K, u8> = [(K::A, 1)].into_iter().collect();
        same_as_serde_json(&m);
        let m: BTreeMap<i128, u8> = [(i128::MIN, 1)].into_iter().collect();
        same_as_serde_json(&m);

        let m: BTreeMap<Vec<u8>, u8> = [(vec![1], 1)].into_iter().collect();
        assert_eq!(render(&m, Style::Compact), Err(SerError::Unsupported));
        let m: BTreeMap<(), u8> = [((), 1)].into_iter().collect();
        assert_eq!(render(&m, Style::Compact), Err(SerError::Unsupported));
        let m: BTreeMap<Option<u8>, u8> = [(None, 1)].into_iter().collect();
        assert_eq!(render(&m, Style::Compact), Err(SerError::Unsupported));
    }

    #[test]
    fn collect_str_escapes_without_alloc() {
        struct Shown;
        impl Serialize for Shown {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(&format_args!("{}\"{}\u{e9}", 1, "\n"))
            }
        }
        same_as_serde_json(&Shown);
        assert_eq!(python(&Shown), r#""1\"\n\u00e9""#);

        struct Failing;
        impl fmt::Display for Failing {
            fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
                Err(fmt::Error)
            }
        }
        struct Bad;
        impl Serialize for Bad {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(&Failing)
            }
        }
        assert_eq!(render(&Bad, Style::Compact), Err(SerError::Unsupported));
        let mut buf = [0; 3];
        assert_eq!(to_sink(&Shown, &mut SliceSink::new(&mut buf), Style::Compact), Err(SerError::Stop));
    }

    #[test]
    fn custom_error_is_unsupported() {
        struct E;
        impl Serialize for E {
            fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
                Err(serde::ser::Error::custom("nope"))
            }
        }
        assert_eq!(render(&E, Style::Compact), Err(SerError::Unsupported));
        assert_eq!(SerError::Stop.to_string(), "output sink stopped");
        let _: &dyn core::error::Error = &SerError::Unsupported;
    }

    #[cfg(feature = "float")]
    #[test]
    fn floats() {
        for v in [
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.1,
            0.3,
            1.5,
            1e300,
            -1e300,
            1e-7,
            1.5e-7,
            1e-5,
            1.5e-5,
            -2.5e-5,
            9.99e-5,
            1e-4,
            1e15,
            1e16,
            1.5e16,
            123456789.125,
            f64::MAX,
            f64::MIN,
            f64::MIN_POSITIVE,
            5e-324,
            f64::EPSILON,
        ] {
            same_as_serde_json(&v);
        }
        for v in [0.1f32, 1.0, -0.0, 1e-5, 3.4e38, 1e-45, 16777216.0, 7e-5] {
            same_as_serde_json(&v);
        }
        assert_eq!(compact(&0.1f32), "0.1");
        for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert_eq!(compact(&v), "null");
            assert_eq!(python(&v), "null");
            assert_eq!(compact(&(v as f32)), "null");
            let mut out = VecSink(Vec::new());
            write_f64(&mut out, v).unwrap();
            assert_eq!(out.0, b"null");
        }
        let mut out = VecSink(Vec::new());
        write_f64(&mut out, 1.5e-5).unwrap();
        assert_eq!(out.0, b"0.000015");

        // What Python's json.dumps writes for the same values.
        let cases: [(f64, &str); 10] = [
            (1e300, "1e+300"),
            (1e-7, "1e-07"),
            (1.5e-5, "1.5e-05"),
            (1e16, "1e+16"),
            (-1.25e-100, "-1.25e-100"),
            (1e15, "1000000000000000.0"),
            (0.0001, "0.0001"),
            (-0.0, "-0.0"),
            (0.1, "0.1"),
            (5e-324, "5e-324"),
        ];
        for (v, py) in cases {
            assert_eq!(python(&v), py, "{v:?}");
        }
        let m: BTreeMap<&str, f64> = [("x", 2.5)].into_iter().collect();
        assert_eq!(python(&m), r#"{"x": 2.5}"#);
    }

    #[cfg(feature = "float")]
    #[test]
    // The literals are the exact binary values: that they sit on a tie is the point.
    #[allow(clippy::excessive_precision)]
    fn float_ties_round_to_even_like_serde_json() {
        // Exactly halfway between two shortest candidates: Debug would round up.
        assert_eq!(compact(&312985.125f32), "312985.12");
        assert_eq!(compact(&-174.135284423828125f64), "-174.13528442382812");
        assert_eq!(python(&-174.135284423828125f64), "-174.13528442382812");
        same_as_serde_json(&1658206780088562.25f64);
        // Below a power of two the interval is narrower: the lower candidate of 2^-24 does not
        // read back (Python agrees), that of 2^-25 does.
        assert_eq!(python(&2f64.powi(-24)), "5.960464477539063e-08");
        assert_eq!(compact(&2f64.powi(-25)), "2.9802322387695312e-8");
        for i in -1074..=1023 {
            same_as_serde_json(&2f64.powi(i));
        }
        for i in -149..=127 {
            same_as_serde_json(&2f32.powi(i));
        }
        // A deterministic sweep: about 1 in 500 random f32 values is a tie.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let f = f32::from_bits(x as u32);
            same_as_serde_json(&f);
            same_as_serde_json(&f64::from(f));
            same_as_serde_json(&f64::from_bits(x));
        }
    }

    #[cfg(feature = "float")]
    #[test]
    fn float_map_keys() {
        struct Keys(f64, f32);
        impl Serialize for Keys {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeMap;
                let mut m = s.serialize_map(Some(2))?;
                m.serialize_entry(&self.0, &1)?;
                m.serialize_entry(&self.1, &2)?;
                m.end()
            }
        }
        same_as_serde_json(&Keys(1.5, 0.1));
        same_as_serde_json(&Keys(-1e300, 1e-7));
        assert_eq!(python(&Keys(1e-5, 2.0)), r#"{"1e-05": 1, "2.0": 2}"#);
        assert_eq!(render(&Keys(f64::NAN, 1.0), Style::Compact), Err(SerError::Unsupported));
        assert_eq!(render(&Keys(1.0, f32::INFINITY), Style::Compact), Err(SerError::Unsupported));
    }

    #[cfg(not(feature = "float"))]
    #[test]
    fn floats_need_the_feature() {
        assert_eq!(render(&1.0f64, Style::Compact), Err(SerError::Unsupported));
        assert_eq!(render(&1.0f32, Style::Compact), Err(SerError::Unsupported));
    }

    #[test]
    fn small_slice_stops_without_panicking() {
        for style in [Style::Compact, Style::Python] {
            let full = render(&outer(), style).unwrap();
            let mut buf = vec![0; full.len() + 8];
            for n in 0..full.len() {
                let mut sink = SliceSink::new(&mut buf[..n]);
                assert_eq!(to_sink(&outer(), &mut sink, style), Err(SerError::Stop), "{n}");
                assert!(sink.overflowed());
                assert_eq!(sink.written(), &full.as_bytes()[..sink.len()]);
            }
            let mut sink = SliceSink::new(&mut buf);
            to_sink(&outer(), &mut sink, style).unwrap();
            assert_eq!(sink.written(), full.as_bytes());
        }
    }

    fn reassemble<T: Serialize>(v: &T, style: Style, size: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = vec![0; size];
        loop {
            let mut w = Window::new(&mut buf, out.len());
            let r = to_sink(v, &mut w, style);
            out.extend_from_slice(w.bytes());
            if w.complete() {
                assert_eq!(r, Ok(()));
                return out;
            }
            assert_eq!(r, Err(SerError::Stop));
            assert!(!w.is_empty(), "a window of {size} made no progress");
        }
    }

    #[test]
    fn windows_of_every_size_reassemble() {
        #[derive(Serialize)]
        struct Doc {
            outer: Outer,
            text: &'static str,
            #[cfg(feature = "float")]
            floats: [f64; 4],
        }
        let doc = Doc {
            outer: outer(),
            text: "tab\there \u{1f600} \u{e9}\u{1}",
            #[cfg(feature = "float")]
            floats: [0.1, 1.5e-5, 1e300, f64::NAN],
        };
        for style in [Style::Compact, Style::Python] {
            let full = render(&doc, style).unwrap();
            for size in 1..=full.len() + 1 {
                assert_eq!(reassemble(&doc, style, size), full.as_bytes(), "{style:?} {size}");
            }
        }
    }

    mod prop {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            // No regression files: the tests must not write into the source tree.
            #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

            #[test]
            fn strings_match_serde_json(s in any::<String>()) {
                prop_assert_eq!(compact(&s), serde_json::to_string(&s).unwrap());
                let mut out = VecSink(Vec::new());
                write_chars(&mut out, s.chars(), Style::Python).unwrap();
                let py = python(&s);
                prop_assert_eq!(&out.0, py.as_bytes());
                prop_assert!(py.is_ascii());
                prop_assert_eq!(serde_json::from_str::<String>(&py).unwrap(), s);
            }

            #[test]
            fn integers_match_serde_json(u in any::<u64>(), i in any::<i64>()) {
                prop_assert_eq!(compact(&(u, i)), serde_json::to_string(&(u, i)).unwrap());
            }

            #[cfg(feature = "float")]
            #[test]
            fn floats_match_serde_json(bits in any::<u64>(), bits32 in any::<u32>()) {
                let v = f64::from_bits(bits);
                let f = f32::from_bits(bits32);
                prop_assert_eq!(compact(&(v, f)), serde_json::to_string(&(v, f)).unwrap());
                if v.is_finite() {
                    prop_assert_eq!(python(&v).parse::<f64>().unwrap().to_bits(), v.to_bits());
                }
            }
        }
    }
}
