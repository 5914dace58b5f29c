//! Streaming JSON output: a `serde::Serializer` and primitive writers over a [`Sink`].
//!
//! Two styles exist because the two protocol dialects have two customary spellings:
//! [`Style::Compact`] (`{"a":1,"b":[1,2]}`, UTF-8 passed through) for JSON-RPC 2.0, and
//! [`Style::Python`] (`{"a": 1, "b": [1, 2]}`, non-ASCII escaped as `\uXXXX`), which is what
//! ReflectRPC's `json.dumps` produces, so 1.0 replies match the original byte for byte.
//!
//! Output is always strict JSON: NaN and infinities are written as `null`.

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

/// Writes `s` as a JSON string literal (quotes included), escaping `"`, `\` and control
/// characters (`\b \f \n \r \t`, others as `\u00XX`), and in [`Style::Python`] every
/// non-ASCII character as `\uXXXX`.
pub fn write_str<K: Sink + ?Sized>(k: &mut K, s: &str, style: Style) -> Result<(), Stop> {
    let _ = (k, s, style);
    unimplemented!()
}

/// Writes the characters of `chars` as a JSON string literal, like [`write_str`].
pub fn write_chars<K: Sink + ?Sized>(
    k: &mut K,
    chars: impl Iterator<Item = char>,
    style: Style,
) -> Result<(), Stop> {
    let _ = (k, chars, style);
    unimplemented!()
}

/// Writes an unsigned integer in decimal.
pub fn write_u64<K: Sink + ?Sized>(k: &mut K, v: u64) -> Result<(), Stop> {
    let _ = (k, v);
    unimplemented!()
}

/// Writes a signed integer in decimal.
pub fn write_i64<K: Sink + ?Sized>(k: &mut K, v: i64) -> Result<(), Stop> {
    let _ = (k, v);
    unimplemented!()
}

/// Writes a float as the shortest text that reads back to the same value (`1.0`, `0.1`,
/// `1e300`), or `null` for NaN and infinities.
#[cfg(feature = "float")]
pub fn write_f64<K: Sink + ?Sized>(k: &mut K, v: f64) -> Result<(), Stop> {
    let _ = (k, v);
    unimplemented!()
}

/// Serializes `value` into `k`.
pub fn to_sink<T: serde::Serialize + ?Sized, K: Sink + ?Sized>(
    value: &T,
    k: &mut K,
    style: Style,
) -> Result<(), SerError> {
    let _ = (value, k, style);
    unimplemented!()
}
