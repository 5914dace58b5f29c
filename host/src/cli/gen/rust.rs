//! The Rust client `reflex gen --lang rust` writes: one module file over
//! [`reflex_host::client::Client`](crate::client::Client).
//!
//! * Named hashes become structs (`Debug, Clone, PartialEq, Serialize, Deserialize`), with
//!   `#[serde(rename)]` where a field's Rust name differs from its key; a field that would make
//!   a struct contain itself is boxed.
//! * Enums become Rust enums that serialize as the value's name and deserialize from the name
//!   or the integer, with `name()`, `value()`, `from_name()`, `from_value()` and `ALL`.
//! * `pub struct <Service>Client` wraps the client: `connect(url, options)`, `from_client`,
//!   `client()`, `into_inner()` and one `pub async fn` per remote function, in snake case
//!   (`led.set` is `led_set`; keywords become raw identifiers, `r#type`). Parameters are typed
//!   (`i64`, `f64`, `bool`, `&str`, `&[T]`, custom types, `&serde_json::Value` for untyped
//!   arrays and hashes); results are owned (`String`, `Vec<T>`, ...) in
//!   `Result<T, ClientError>`. `base64` values are base64 text.
//!
//! Server text reaches the code only as escaped string literals and as doc comments that can
//! neither end the comment nor start a code block, an HTML tag or a link.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use crate::cli::doc::model::{Provenance, Reflection, TypeRef};
use crate::client::{CustomType, EnumValueInfo, FieldInfo, FunctionInfo};

/// Rust's strict and reserved keywords (2015 to 2024 editions).
const KEYWORDS: &[&str] = &[
    "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn", "for", "if", "impl", "in",
    "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return", "self", "Self", "static", "struct", "super",
    "trait", "true", "type", "unsafe", "use", "where", "while", "async", "await", "dyn", "abstract", "become", "box",
    "do", "final", "macro", "override", "priv", "typeof", "unsized", "virtual", "yield", "try", "gen",
];

/// Keywords that cannot be raw identifiers.
const NOT_RAW: &[&str] = &["crate", "self", "Self", "super", "_"];

/// Type names a custom type must not shadow: primitives and the prelude.
const RESERVED_TYPES: &[&str] = &[
    "bool",
    "char",
    "str",
    "i8",
    "i16",
    "i32",
    "i64",
    "i128",
    "isize",
    "u8",
    "u16",
    "u32",
    "u64",
    "u128",
    "usize",
    "f32",
    "f64",
    "String",
    "Vec",
    "Option",
    "Result",
    "Box",
    "Some",
    "None",
    "Ok",
    "Err",
    "Default",
    "Clone",
    "Copy",
    "Debug",
    "PartialEq",
    "Eq",
    "PartialOrd",
    "Ord",
    "Hash",
    "Send",
    "Sync",
    "Sized",
    "Unpin",
    "Drop",
    "Fn",
    "FnMut",
    "FnOnce",
    "Iterator",
    "IntoIterator",
    "DoubleEndedIterator",
    "ExactSizeIterator",
    "Extend",
    "FromIterator",
    "ToString",
    "ToOwned",
    "From",
    "Into",
    "TryFrom",
    "TryInto",
    "AsRef",
    "AsMut",
];

/// Methods of the generated client a remote function must not take.
const RESERVED_METHODS: &[&str] = &["connect", "from_client", "client", "into_inner"];

/// Whether `c` is invisible or changes the text direction (rustc rejects such characters in
/// comments).
fn invisible(c: char) -> bool {
    matches!(
        c,
        '\u{061c}'
            | '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{feff}'
    )
}

/// `s` as a Rust string literal: printable ASCII as it is, everything else escaped.
pub fn rs_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            ' '..='~' => out.push(c),
            c => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
        }
    }
    out.push('"');
    out
}

/// `s` as the lines of a doc comment (without the `///`): no control or direction-changing
/// characters, no leading indentation (a code block, hence a doc test), and the Markdown
/// that could start code, HTML or links escaped.
pub fn rs_doc(s: &str) -> Vec<String> {
    let mut lines = Vec::new();
    for line in s.split("\r\n").flat_map(|l| l.split(['\n', '\r', '\u{b}', '\u{c}', '\u{85}', '\u{2028}', '\u{2029}']))
    {
        let mut out = String::with_capacity(line.len());
        for c in line.trim().chars() {
            match c {
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '\\' | '`' | '~' | '[' | ']' => {
                    out.push('\\');
                    out.push(c);
                }
                c if c.is_control() || invisible(c) => out.push(' '),
                c => out.push(c),
            }
        }
        lines.push(out.trim().to_string());
    }
    while lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    while lines.first().is_some_and(String::is_empty) {
        lines.remove(0);
    }
    lines
}

/// Writes `text` as `///` (or `//!`) lines indented by `indent`.
fn doc_lines(o: &mut String, indent: &str, marker: &str, text: &str) {
    for line in rs_doc(text) {
        if line.is_empty() {
            let _ = writeln!(o, "{indent}{marker}");
        } else {
            let _ = writeln!(o, "{indent}{marker} {line}");
        }
    }
}

/// The ASCII words of `raw`: split at anything not alphanumeric and at case changes
/// (`ledSet`, `HTTPServer`, `led.set`, `LED_SET`).
fn words(raw: &str) -> Vec<String> {
    let mut words = Vec::new();
    let chars: Vec<char> = raw.chars().collect();
    let mut current = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_ascii_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            continue;
        }
        if c.is_ascii_uppercase() && !current.is_empty() {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if prev.is_ascii_lowercase() || prev.is_ascii_digit() || (prev.is_ascii_uppercase() && next_lower) {
                words.push(std::mem::take(&mut current));
            }
        }
        current.push(c);
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// `snake_case` identifier for a function, parameter or field (`r#` for keywords).
fn snake(raw: &str, fallback: &str) -> String {
    let mut s = words(raw).iter().map(|w| w.to_ascii_lowercase()).collect::<Vec<_>>().join("_");
    if s.is_empty() {
        s = fallback.to_string();
    }
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, '_');
    }
    s
}

/// `CamelCase` identifier for a type or an enum variant.
fn camel(raw: &str, fallback: &str) -> String {
    let mut s = String::new();
    for w in words(raw) {
        let mut chars = w.chars();
        if let Some(first) = chars.next() {
            s.push(first.to_ascii_uppercase());
            let rest: String = chars.collect();
            if w.chars().any(|c| c.is_ascii_lowercase()) {
                s.push_str(&rest);
            } else {
                s.push_str(&rest.to_ascii_lowercase());
            }
        }
    }
    if s.is_empty() {
        s = fallback.to_string();
    }
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert_str(0, fallback);
    }
    s
}

/// Whether `s` is a plain ASCII identifier.
fn is_ident(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s != "_"
}

/// Makes `name` unique among `used` (suffix `_2`, `_3`, ...), avoiding `reserved`; then
/// writes keywords as raw identifiers (or with a `_` where that is impossible).
fn finish(name: String, reserved: &[&str], used: &mut HashSet<String>) -> String {
    let mut base = name;
    if NOT_RAW.contains(&base.as_str()) || reserved.contains(&base.as_str()) {
        base.push('_');
    }
    let mut candidate = base.clone();
    let mut n = 2;
    while !used.insert(candidate.clone()) {
        candidate = format!("{base}_{n}");
        n += 1;
    }
    if KEYWORDS.contains(&candidate.as_str()) {
        format!("r#{candidate}")
    } else {
        candidate
    }
}

/// A type's name: as it is when it is already a camel-case identifier, otherwise
/// camel-cased; `Type` appended to keywords and prelude names (`StringType`); unique.
fn type_ident(raw: &str, used: &mut HashSet<String>) -> String {
    let camel_case = is_ident(raw) && raw.starts_with(|c: char| c.is_ascii_uppercase()) && !raw.contains('_');
    let mut base = if camel_case { raw.to_string() } else { camel(raw, "T") };
    if KEYWORDS.contains(&base.as_str()) || RESERVED_TYPES.contains(&base.as_str()) {
        base.push_str("Type");
    }
    let mut candidate = base.clone();
    let mut n = 2;
    while !used.insert(candidate.clone()) {
        candidate = format!("{base}{n}");
        n += 1;
    }
    candidate
}

struct Gen<'a> {
    r: &'a Reflection,
    /// Wire name to Rust name and declaration (first declaration wins).
    types: HashMap<&'a str, (String, &'a CustomType)>,
    /// Wire names in declaration order, without repeats.
    order: Vec<&'a str>,
    client: String,
}

impl<'a> Gen<'a> {
    fn new(r: &'a Reflection) -> Self {
        let mut used = HashSet::new();
        let mut types = HashMap::new();
        let mut order = Vec::new();
        for t in &r.types {
            if types.contains_key(t.name()) {
                continue;
            }
            order.push(t.name());
            types.insert(t.name(), (type_ident(t.name(), &mut used), t));
        }
        let client = type_ident(&format!("{}Client", camel(&r.service.name, "Service")), &mut used);
        Gen { r, types, order, client }
    }

    /// The owned Rust type of a value of `t` (a field or a result).
    fn owned(&self, t: &TypeRef<'_>) -> String {
        match t {
            TypeRef::Int => "i64".into(),
            TypeRef::Float => "f64".into(),
            TypeRef::Bool => "bool".into(),
            TypeRef::String | TypeRef::Base64 => "String".into(),
            TypeRef::Array | TypeRef::Hash => "::serde_json::Value".into(),
            TypeRef::Null => "()".into(),
            TypeRef::ArrayOf(inner) => format!("Vec<{}>", self.owned(inner)),
            TypeRef::Named(name) => match self.types.get(name) {
                Some((rust, _)) => rust.clone(),
                None => "::serde_json::Value".into(),
            },
        }
    }

    /// The type of a parameter: borrowed where that is cheaper.
    fn param(&self, t: &TypeRef<'_>) -> String {
        match t {
            TypeRef::String | TypeRef::Base64 => "&str".into(),
            TypeRef::Array | TypeRef::Hash | TypeRef::Null => "&::serde_json::Value".into(),
            TypeRef::ArrayOf(inner) => format!("&[{}]", self.owned(inner)),
            TypeRef::Named(name) => match self.types.get(name) {
                Some((rust, CustomType::Enum { .. })) => rust.clone(),
                Some((rust, _)) => format!("&{rust}"),
                None => "&::serde_json::Value".into(),
            },
            _ => self.owned(t),
        }
    }

    /// Whether the named hash `from` reaches `to` through fields that hold a named hash
    /// directly (not inside an array).
    fn reaches(&self, from: &str, to: &str, seen: &mut HashSet<String>) -> bool {
        if from == to {
            return true;
        }
        if !seen.insert(from.to_string()) {
            return false;
        }
        let Some((_, CustomType::Hash { fields, .. })) = self.types.get(from) else { return false };
        fields.iter().any(|f| match TypeRef::parse(&f.type_name) {
            TypeRef::Named(n) if matches!(self.types.get(n), Some((_, CustomType::Hash { .. }))) => {
                self.reaches(n, to, seen)
            }
            _ => false,
        })
    }

    fn render(&self, p: &Provenance) -> String {
        let s = &self.r.service;
        let mut o = String::with_capacity(64 * 1024);
        let title = if s.version.is_empty() {
            format!("Client for the service \"{}\".", self.r.display_name())
        } else {
            format!("Client for the service \"{}\" {}.", self.r.display_name(), s.version)
        };
        doc_lines(&mut o, "", "//!", &title);
        if !s.description.trim().is_empty() {
            o.push_str("//!\n");
            doc_lines(&mut o, "", "//!", &s.description);
        }
        o.push_str("//!\n");
        doc_lines(
            &mut o,
            "",
            "//!",
            &format!(
                "Generated by {} from {} at {}, from the service's reflection: regenerate it rather than edit it.",
                p.generator, p.endpoint, p.generated_at
            ),
        );
        let _ = write!(
            o,
            "//!\n//! A module for a crate that depends on `reflex-host`, `serde` (feature `derive`),\n\
             //! `serde_json` and `tokio`:\n//!\n//! ```text\n//! mod service;\n\
             //! let mut client = service::{c}::connect(URL, ClientOptions::default()).await?;\n\
             //! ```\n//!\n\
             //! Remote functions are methods in snake case (`led.set` is `led_set`). A result that is\n\
             //! `null` where the reflection promises a value fails with `ClientError::Result`; call\n\
             //! `client().call::<Option<T>>(...)` for such functions.\n\n\
             #![allow(dead_code, clippy::too_many_arguments)]\n",
            c = self.client
        );
        let _ = writeln!(
            o,
            "\n/// The service's name, as `__describe_service` gave it.\npub const SERVICE_NAME: &str = {};",
            rs_str(&s.name)
        );
        let _ = writeln!(
            o,
            "/// The service's version, as `__describe_service` gave it.\npub const SERVICE_VERSION: &str = {};",
            rs_str(&s.version)
        );
        let _ = writeln!(
            o,
            "/// The endpoint this module was generated from.\npub const GENERATED_FROM: &str = {};",
            rs_str(&p.endpoint)
        );

        for wire in &self.order {
            let (rust, t) = &self.types[wire];
            o.push('\n');
            match t {
                CustomType::Enum { name, description, values } => {
                    self.enum_type(rust, name, description, values, &mut o)
                }
                CustomType::Hash { name, description, fields } => {
                    self.struct_type(rust, name, description, fields, &mut o)
                }
            }
        }
        self.client_type(&mut o);
        o
    }

    fn enum_type(&self, rust: &str, wire: &str, description: &str, values: &[EnumValueInfo], o: &mut String) {
        doc_lines(o, "", "///", if description.trim().is_empty() { "An enum of the service." } else { description });
        o.push_str("///\n");
        let mut note = String::from("Sent as a value's name, read from its name or its integer.");
        if rust != wire {
            note = format!("{note} Wire name: {wire}.");
        }
        doc_lines(o, "", "///", &note);
        let _ = writeln!(
            o,
            "#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]\npub enum {rust} {{{}",
            if values.is_empty() { "}" } else { "" }
        );
        let mut used = HashSet::new();
        let variants: Vec<String> = values
            .iter()
            .map(|v| {
                let mut base = camel(&v.name, "V");
                if base == "Self" {
                    base.push_str("Value");
                }
                let mut candidate = base.clone();
                let mut n = 2;
                while !used.insert(candidate.clone()) {
                    candidate = format!("{base}{n}");
                    n += 1;
                }
                candidate
            })
            .collect();
        for (variant, v) in variants.iter().zip(values) {
            doc_lines(o, "    ", "///", &v.description);
            if !v.description.trim().is_empty() {
                o.push_str("    ///\n");
            }
            doc_lines(o, "    ", "///", &format!("{} = {}", v.name, v.intvalue));
            let _ = writeln!(o, "    {variant},");
        }
        o.push_str(if values.is_empty() { "\n" } else { "}\n\n" });
        let all: Vec<String> = variants.iter().map(|v| format!("{rust}::{v}")).collect();
        let names: Vec<String> = variants
            .iter()
            .zip(values)
            .map(|(v, info)| format!("            {rust}::{v} => {},\n", rs_str(&info.name)))
            .collect();
        let ints: Vec<String> = variants
            .iter()
            .zip(values)
            .map(|(v, info)| format!("            {rust}::{v} => {},\n", info.intvalue))
            .collect();
        let _ = write!(
            o,
            "impl {rust} {{\n    /// Every value, in declaration order.\n    pub const ALL: [{rust}; {n}] = [{all}];\n\n\
             \x20   /// The value's name on the wire.\n    pub const fn name(self) -> &'static str {{\n        match self {{\n{names}        }}\n    }}\n\n\
             \x20   /// The value's integer.\n    pub const fn value(self) -> i64 {{\n        match self {{\n{ints}        }}\n    }}\n\n\
             \x20   /// The value with this wire name.\n    pub fn from_name(name: &str) -> Option<{rust}> {{\n        \
             {rust}::ALL.into_iter().find(|v| v.name() == name)\n    }}\n\n\
             \x20   /// The (first) value with this integer.\n    pub fn from_value(value: i64) -> Option<{rust}> {{\n        \
             {rust}::ALL.into_iter().find(|v| v.value() == value)\n    }}\n}}\n\n",
            n = variants.len(),
            all = all.join(", "),
            names = names.concat(),
            ints = ints.concat(),
        );
        let _ = write!(
            o,
            "impl ::serde::Serialize for {rust} {{\n    \
             fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> ::std::result::Result<S::Ok, S::Error> {{\n        \
             serializer.serialize_str(self.name())\n    }}\n}}\n\n\
             impl<'de> ::serde::Deserialize<'de> for {rust} {{\n    \
             fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> ::std::result::Result<Self, D::Error> {{\n        \
             struct Visit;\n\n        \
             impl ::serde::de::Visitor<'_> for Visit {{\n            type Value = {rust};\n\n            \
             fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {{\n                \
             f.write_str({expecting})\n            }}\n\n            \
             fn visit_str<E: ::serde::de::Error>(self, v: &str) -> ::std::result::Result<{rust}, E> {{\n                \
             {rust}::from_name(v).ok_or_else(|| E::invalid_value(::serde::de::Unexpected::Str(v), &self))\n            }}\n\n            \
             fn visit_i64<E: ::serde::de::Error>(self, v: i64) -> ::std::result::Result<{rust}, E> {{\n                \
             {rust}::from_value(v).ok_or_else(|| E::invalid_value(::serde::de::Unexpected::Signed(v), &self))\n            }}\n\n            \
             fn visit_u64<E: ::serde::de::Error>(self, v: u64) -> ::std::result::Result<{rust}, E> {{\n                \
             i64::try_from(v)\n                    .ok()\n                    .and_then({rust}::from_value)\n                    \
             .ok_or_else(|| E::invalid_value(::serde::de::Unexpected::Unsigned(v), &self))\n            }}\n        }}\n\n        \
             deserializer.deserialize_any(Visit)\n    }}\n}}\n",
            expecting = rs_str(&format!("a {rust} value name or integer")),
        );
    }

    fn struct_type(&self, rust: &str, wire: &str, description: &str, fields: &[FieldInfo], o: &mut String) {
        doc_lines(
            o,
            "",
            "///",
            if description.trim().is_empty() { "A named hash of the service." } else { description },
        );
        if rust != wire {
            o.push_str("///\n");
            doc_lines(o, "", "///", &format!("Wire name: {wire}."));
        }
        let _ = writeln!(
            o,
            "#[derive(Debug, Clone, PartialEq, ::serde::Serialize, ::serde::Deserialize)]\npub struct {rust} {{{}",
            if fields.is_empty() { "}" } else { "" }
        );
        let mut used = HashSet::new();
        for f in fields {
            let ident = finish(snake(&f.name, "field"), &[], &mut used);
            doc_lines(o, "    ", "///", &f.description);
            if ident.trim_start_matches("r#") != f.name {
                if !f.description.trim().is_empty() {
                    o.push_str("    ///\n");
                }
                doc_lines(o, "    ", "///", &format!("Key: {}.", f.name));
                let _ = writeln!(o, "    #[serde(rename = {})]", rs_str(&f.name));
            }
            let t = TypeRef::parse(&f.type_name);
            let mut ty = self.owned(&t);
            if let TypeRef::Named(n) = t {
                if matches!(self.types.get(n), Some((_, CustomType::Hash { .. })))
                    && self.reaches(n, wire, &mut HashSet::new())
                {
                    ty = format!("Box<{ty}>");
                }
            }
            let _ = writeln!(o, "    pub {ident}: {ty},");
        }
        if !fields.is_empty() {
            o.push_str("}\n");
        }
    }

    fn client_type(&self, o: &mut String) {
        let c = &self.client;
        o.push('\n');
        doc_lines(o, "", "///", &format!("A client for {}.", self.r.display_name()));
        let _ = write!(
            o,
            "///\n/// One method per remote function; one call at a time (`&mut self`).\n\
             pub struct {c} {{\n    inner: ::reflex_host::client::Client,\n}}\n\n\
             impl ::std::fmt::Debug for {c} {{\n    fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {{\n        \
             f.debug_struct({name}).field(\"inner\", &self.inner).finish()\n    }}\n}}\n\n\
             impl {c} {{\n    \
             /// Connects to `url` (`tcp://HOST:PORT`, `unix:///PATH`, `tls://HOST:PORT`,\n    \
             /// `http(s)://HOST:PORT/PATH`, `serial:///DEV?baud=N`).\n    \
             pub async fn connect(\n        url: &str,\n        options: ::reflex_host::client::ClientOptions,\n    \
             ) -> ::std::result::Result<{c}, ::reflex_host::client::ClientError> {{\n        \
             let endpoint: ::reflex_host::Endpoint = url.parse().map_err(|e: ::reflex_host::endpoint::EndpointError| {{\n            \
             ::reflex_host::client::ClientError::Connect {{\n                endpoint: url.to_string(),\n                \
             source: ::std::io::Error::new(::std::io::ErrorKind::InvalidInput, e.to_string()),\n            }}\n        }})?;\n        \
             Ok({c} {{ inner: ::reflex_host::client::Client::connect(&endpoint, options).await? }})\n    }}\n\n    \
             /// Wraps a connected client.\n    pub fn from_client(inner: ::reflex_host::client::Client) -> {c} {{\n        \
             {c} {{ inner }}\n    }}\n\n    \
             /// The underlying client, for calls this module does not type.\n    \
             pub fn client(&mut self) -> &mut ::reflex_host::client::Client {{\n        &mut self.inner\n    }}\n\n    \
             /// The underlying client.\n    pub fn into_inner(self) -> ::reflex_host::client::Client {{\n        self.inner\n    }}\n",
            name = rs_str(c),
        );
        let mut used = HashSet::new();
        for f in &self.r.functions {
            let name = finish(snake(&f.name, "call"), RESERVED_METHODS, &mut used);
            self.method(&name, f, o);
        }
        o.push_str("}\n");
    }

    fn method(&self, name: &str, f: &FunctionInfo, o: &mut String) {
        o.push('\n');
        doc_lines(
            o,
            "    ",
            "///",
            if f.description.trim().is_empty() { "Calls the remote function." } else { &f.description },
        );
        o.push_str("    ///\n");
        doc_lines(o, "    ", "///", &format!("Remote function {}.", f.name));
        let mut used = HashSet::new();
        let params: Vec<String> = f.params.iter().map(|p| finish(snake(&p.name, "arg"), &[], &mut used)).collect();
        if !f.params.is_empty() {
            o.push_str("    ///\n    /// Parameters:\n");
            for (ident, p) in params.iter().zip(&f.params) {
                // The identifier is sanitized, so it can sit in a code span; server text cannot.
                let plain = ident.trim_start_matches("r#");
                let mut text = if plain == p.name {
                    format!("({})", p.type_name)
                } else {
                    format!("(wire name {}, {})", p.name, p.type_name)
                };
                if !p.description.trim().is_empty() {
                    text.push_str(": ");
                    text.push_str(&p.description);
                }
                let lines = rs_doc(&text);
                let _ = writeln!(o, "    /// * `{plain}` {}", lines.first().map(String::as_str).unwrap_or_default());
                for line in lines.iter().skip(1) {
                    let _ = writeln!(o, "    ///   {line}");
                }
            }
        }
        o.push_str("    ///\n");
        let mut returns = format!("Result ({})", f.result_type);
        if !f.result_desc.trim().is_empty() {
            returns.push_str(": ");
            returns.push_str(&f.result_desc);
        }
        doc_lines(o, "    ", "///", &returns);
        let args: String = params
            .iter()
            .zip(&f.params)
            .map(|(ident, p)| format!(", {ident}: {}", self.param(&TypeRef::parse(&p.type_name))))
            .collect();
        let result = self.owned(&TypeRef::parse(&f.result_type));
        let call_params = match params.len() {
            0 => "()".to_string(),
            1 => format!("({},)", params[0]),
            2..=16 => format!("({})", params.join(", ")),
            _ => {
                let values: Vec<String> = params
                    .iter()
                    .map(|p| {
                        format!(
                            "::serde_json::to_value({p}).map_err(|e| ::reflex_host::client::ClientError::Params(e.to_string()))?"
                        )
                    })
                    .collect();
                format!("::std::vec![{}]", values.join(", "))
            }
        };
        let _ = writeln!(
            o,
            "    pub async fn {name}(&mut self{args}) -> ::std::result::Result<{result}, ::reflex_host::client::ClientError> {{\n        \
             self.inner.call({}, {call_params}).await\n    }}",
            rs_str(&f.name)
        );
    }
}

/// Renders the Rust module.
pub fn render(r: &Reflection, p: &Provenance) -> String {
    Gen::new(r).render(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers() {
        assert_eq!(snake("led.set", "f"), "led_set");
        assert_eq!(snake("getHTTPStatus", "f"), "get_http_status");
        assert_eq!(snake("__describe", "f"), "describe");
        assert_eq!(snake("1st", "f"), "_1st");
        assert_eq!(camel("MOBILE_PHONE", "V"), "MobilePhone");
        assert_eq!(camel("fooBar", "V"), "FooBar");
        assert_eq!(camel("1", "V"), "V1");
        let mut used = HashSet::new();
        assert_eq!(finish("type".into(), &[], &mut used), "r#type");
        assert_eq!(finish("self".into(), &[], &mut used), "self_");
        assert_eq!(finish("type".into(), &[], &mut used), "type_2");
        let mut used = HashSet::new();
        assert_eq!(type_ident("String", &mut used), "StringType");
        assert_eq!(type_ident("my type", &mut used), "MyType");
        assert_eq!(type_ident("str", &mut used), "Str");
        assert_eq!(type_ident("Address", &mut used), "Address");
        assert_eq!(type_ident("Address", &mut used), "Address2");
    }

    #[test]
    fn literals_and_docs() {
        assert_eq!(rs_str("a\"\\\n\u{202e}é"), r#""a\"\\\n\u{202e}\u{e9}""#);
        assert_eq!(
            rs_doc("  ```rust\n    panic!()\r<b>[x]</b>\u{202e}"),
            ["\\`\\`\\`rust", "panic!()", "&lt;b&gt;\\[x\\]&lt;/b&gt;"]
        );
    }
}
