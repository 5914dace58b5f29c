//! The Python client `reflex gen --lang python` writes: one standard-library-only module
//! (Python 3.8 or later).
//!
//! * `class Client(url, timeout=10.0, basic_auth=None, ssl_context=None)` speaks JSON-RPC 2.0:
//!   line-delimited over `tcp://`, `tls://` and `unix://` sockets, `POST` over `http://` and
//!   `https://` (`http.client`). One method per remote function, named after it with every
//!   character that cannot be in an identifier (the dot of `led.set`) replaced by `_`; Python
//!   keywords and names that clash get a trailing `_`, names starting with `_` a `rpc` prefix.
//!   Type hints and Google-style docstrings come from the reflection.
//! * Enums become `enum.IntEnum` classes; parameters take a member, a value name or an
//!   integer, and enum results come back as members. Named hashes become `typing.TypedDict`s.
//! * `base64` parameters take `bytes` (encoded by the client) or `str` (already base64);
//!   `base64` results are the base64 text.
//! * `RpcError(code, name, message, data)` is raised for error replies.
//!
//! Every server string is embedded as an escaped literal or docstring; identifiers are
//! sanitized, so no description or name can change the code.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use crate::cli::doc::model::{Provenance, Reflection, TypeRef};
use crate::client::{CustomType, EnumValueInfo, FieldInfo, FunctionInfo};

/// The fixed part of every module: RpcError, the transports, the value conversions and the
/// client base class.
const RUNTIME: &str = include_str!("python_runtime.py");

/// Python's keywords (3.8 to 3.13), which cannot be identifiers.
const KEYWORDS: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del",
    "elif", "else", "except", "finally", "for", "from", "global", "if", "import", "in", "is", "lambda", "nonlocal",
    "not", "or", "pass", "raise", "return", "try", "while", "with", "yield",
];

/// Module-level names a custom type must not take: the module's own and the builtins its
/// annotations use.
const RESERVED_TYPES: &[&str] = &[
    "Client",
    "RpcError",
    "ProtocolError",
    "typing",
    "enum",
    "annotations",
    "int",
    "float",
    "bool",
    "str",
    "bytes",
    "list",
    "dict",
    "object",
    "type",
    "super",
    "isinstance",
    "SERVICE_NAME",
    "SERVICE_VERSION",
    "GENERATED_FROM",
    "GENERATED_AT",
    "GENERATOR",
];

/// Attributes of the client a remote function must not shadow.
const RESERVED_METHODS: &[&str] = &["call", "close", "url"];

/// Enum member names that would break `enum.IntEnum`.
const RESERVED_MEMBERS: &[&str] = &["name", "value", "mro"];

/// Whether `c` must be written as an escape in Python source: control characters and
/// invisible or direction-changing formatting characters.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{2069}'
                | '\u{feff}'
        )
}

fn push_escape(c: char, out: &mut String) {
    let n = c as u32;
    let _ = if n < 0x100 {
        write!(out, "\\x{n:02x}")
    } else if n < 0x10000 {
        write!(out, "\\u{n:04x}")
    } else {
        write!(out, "\\U{n:08x}")
    };
}

/// `s` as a Python string literal (double quotes; backslashes, quotes and control or
/// invisible characters escaped).
pub fn py_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) => push_escape(c, &mut out),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Text for inside a `"""` docstring: quotes and backslashes escaped, line breaks normalized
/// to LF and continuation lines indented with `indent`.
pub fn py_doc(s: &str, indent: &str) -> String {
    let normalized = s.replace("\r\n", "\n").replace('\r', "\n");
    let mut out = String::with_capacity(normalized.len() + 8);
    for (i, line) in normalized.trim().split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
            if !line.trim().is_empty() {
                out.push_str(indent);
            }
        }
        let chars: Vec<char> = line.trim_end().chars().collect();
        for (j, &c) in chars.iter().enumerate() {
            // A quote is escaped where it could help form `"""` or touch the closing quotes.
            let next = chars.get(j + 1).copied();
            match c {
                '\\' => out.push_str("\\\\"),
                '"' if next.is_none() || next == Some('"') => out.push_str("\\\""),
                '\t' => out.push_str("    "),
                c if needs_escape(c) => push_escape(c, &mut out),
                c => out.push(c),
            }
        }
    }
    out
}

/// `raw` with every character that cannot be in an ASCII identifier replaced by `_`, a `_`
/// before a leading digit, and `fallback` for nothing at all.
fn sanitize(raw: &str, fallback: &str) -> String {
    let mut s: String =
        raw.trim().chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
    if s.is_empty() {
        s = fallback.to_string();
    }
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, '_');
    }
    s
}

/// Appends `_` until `name` is neither reserved nor used, then records it as used.
fn unique(mut name: String, reserved: &[&str], used: &mut HashSet<String>) -> String {
    while KEYWORDS.contains(&name.as_str()) || reserved.contains(&name.as_str()) || used.contains(&name) {
        name.push('_');
    }
    used.insert(name.clone());
    name
}

/// Whether `name` can be a field of a class-syntax `TypedDict` (no mangling, no keyword).
fn plain_field(name: &str) -> bool {
    !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && !name.starts_with("__")
        && !KEYWORDS.contains(&name)
}

struct Gen<'a> {
    r: &'a Reflection,
    /// Wire name of each custom type to its Python class name (first declaration wins).
    types: HashMap<&'a str, (String, &'a CustomType)>,
}

impl<'a> Gen<'a> {
    fn new(r: &'a Reflection) -> Self {
        let mut used = HashSet::new();
        let mut types = HashMap::new();
        for t in &r.types {
            if types.contains_key(t.name()) {
                continue;
            }
            let mut name = sanitize(t.name(), "Type");
            if name.starts_with('_') {
                name.insert(0, 'T');
            }
            let name = unique(name, RESERVED_TYPES, &mut used);
            types.insert(t.name(), (name, t));
        }
        Gen { r, types }
    }

    /// The annotation for a value of `type_name`; `param` for a top-level parameter, which
    /// takes more spellings than a result gives.
    fn annotation(&self, type_name: &str, param: bool) -> String {
        self.annotation_of(&TypeRef::parse(type_name), param)
    }

    fn annotation_of(&self, t: &TypeRef<'_>, param: bool) -> String {
        match t {
            TypeRef::Int => "int".into(),
            TypeRef::Float => "float".into(),
            TypeRef::Bool => "bool".into(),
            TypeRef::String => "str".into(),
            TypeRef::Base64 if param => "typing.Union[str, bytes]".into(),
            TypeRef::Base64 => "str".into(),
            TypeRef::Array => "list".into(),
            TypeRef::Hash => "dict".into(),
            TypeRef::Null => "None".into(),
            TypeRef::ArrayOf(inner) => format!("typing.List[{}]", self.annotation_of(inner, false)),
            TypeRef::Named(name) => match self.types.get(name) {
                Some((py, CustomType::Enum { .. })) if param => format!("typing.Union[{py}, str, int]"),
                Some((py, _)) => py.clone(),
                None => "typing.Any".into(),
            },
        }
    }

    fn render(&self, p: &Provenance) -> String {
        let s = &self.r.service;
        let mut o = String::with_capacity(64 * 1024);
        let mut doc = format!("Client for the service {}{}.", self.r.display_name(), version_suffix(&s.version));
        if !s.description.trim().is_empty() {
            doc.push_str("\n\n");
            doc.push_str(s.description.trim());
        }
        let _ = write!(
            doc,
            "\n\nGenerated by ``{gen}`` from {endpoint} at {at}, from the service's reflection:\n\
             regenerate it rather than edit it. Standard library only; Python 3.8 or later.\n\n\
             Example::\n\n    with Client({url}) as client:\n        ...\n\n\
             ``Client`` speaks JSON-RPC 2.0 over ``tcp://HOST:PORT``, ``tls://HOST:PORT``,\n\
             ``unix:///PATH`` (line-delimited JSON) and ``http(s)://HOST:PORT/PATH`` (POST).\n\
             Each remote function is a method; dots and other characters that cannot be in a\n\
             Python name become ``_`` (``led.set`` is ``led_set``), keywords and clashing names\n\
             get a trailing ``_``. Error replies raise ``RpcError``.\n\n\
             Custom types: enums are ``enum.IntEnum`` classes (parameters take a member, its\n\
             name or its integer; results are members), named hashes are ``typing.TypedDict``\n\
             types (plain dicts). ``base64`` parameters take ``bytes`` (encoded for you) or\n\
             ``str`` (already base64); ``base64`` results are base64 text (decode them with\n\
             ``base64.b64decode``).",
            gen = p.generator,
            endpoint = p.endpoint,
            at = p.generated_at,
            url = py_str(&p.endpoint),
        );
        docstring(&mut o, "", &doc);
        o.push_str(
            "\nfrom __future__ import annotations\n\n\
             import base64 as _base64\nimport enum\nimport http.client as _http_client\nimport json as _json\n\
             import socket as _socket\nimport ssl as _ssl\nimport threading as _threading\nimport typing\n\
             import urllib.parse as _urlparse\n\n",
        );
        let _ = writeln!(o, "SERVICE_NAME = {}", py_str(&s.name));
        let _ = writeln!(o, "SERVICE_VERSION = {}", py_str(&s.version));
        let _ = writeln!(o, "GENERATED_FROM = {}", py_str(&p.endpoint));
        let _ = writeln!(o, "GENERATED_AT = {}", py_str(&p.generated_at));
        let _ = writeln!(o, "GENERATOR = {}", py_str(&p.generator));

        // The custom types, in declaration order.
        let ordered: Vec<&(String, &CustomType)> = {
            let mut seen = HashSet::new();
            self.r.types.iter().filter(|t| seen.insert(t.name())).map(|t| &self.types[t.name()]).collect()
        };
        let mut all = vec!["Client".to_string(), "RpcError".to_string(), "ProtocolError".to_string()];
        all.extend(ordered.iter().map(|(py, _)| py.clone()));
        let all: Vec<String> = all.iter().map(|n| py_str(n)).collect();
        let _ = writeln!(o, "\n__all__ = [{}]", all.join(", "));
        o.push_str(RUNTIME);

        for (py, t) in &ordered {
            o.push_str("\n\n");
            match t {
                CustomType::Enum { name, description, values } => {
                    self.enum_class(py, name, description, values, &mut o)
                }
                CustomType::Hash { name, description, fields } => {
                    self.hash_class(py, name, description, fields, &mut o)
                }
            }
        }

        // The tables the value conversions read: wire type name -> enum class and value
        // names, or named hash -> field types.
        o.push_str("\n\n_ENUMS: typing.Dict[str, typing.Tuple[typing.Any, typing.Dict[str, int]]] = {\n");
        for (py, t) in &ordered {
            if let CustomType::Enum { name, values, .. } = t {
                let wire: Vec<String> = values.iter().map(|v| format!("{}: {}", py_str(&v.name), v.intvalue)).collect();
                let _ = writeln!(o, "    {}: ({py}, {{{}}}),", py_str(name), wire.join(", "));
            }
        }
        o.push_str("}\n_HASHES: typing.Dict[str, typing.Dict[str, str]] = {\n");
        for (_, t) in &ordered {
            if let CustomType::Hash { name, fields, .. } = t {
                let f: Vec<String> =
                    fields.iter().map(|f| format!("{}: {}", py_str(&f.name), py_str(&f.type_name))).collect();
                let _ = writeln!(o, "    {}: {{{}}},", py_str(name), f.join(", "));
            }
        }
        o.push_str("}\n");

        self.client_class(p, &mut o);
        o
    }

    fn enum_class(&self, py: &str, wire: &str, description: &str, values: &[EnumValueInfo], o: &mut String) {
        let _ = writeln!(o, "class {py}(enum.IntEnum):");
        let mut doc = if description.trim().is_empty() {
            format!("The enum ``{wire}``.")
        } else {
            description.trim().to_string()
        };
        doc.push_str("\n\nValues are sent by name; the server also takes the integers.");
        docstring(o, "    ", &doc);
        let mut used = HashSet::new();
        for v in values {
            let mut member = sanitize(&v.name, "VALUE");
            if member.starts_with('_') {
                member.insert(0, 'V');
            }
            let member = unique(member, RESERVED_MEMBERS, &mut used);
            let _ = writeln!(o, "\n    {member} = {}", v.intvalue);
            let mut doc = v.description.trim().to_string();
            if member != v.name {
                if !doc.is_empty() {
                    doc.push(' ');
                }
                let _ = write!(doc, "Sent as ``{}``.", v.name);
            }
            if !doc.is_empty() {
                docstring(o, "    ", &doc);
            }
        }
        if values.is_empty() {
            o.push_str("\n    pass\n");
        }
    }

    fn hash_class(&self, py: &str, wire: &str, description: &str, fields: &[FieldInfo], o: &mut String) {
        let mut doc = if description.trim().is_empty() {
            format!("The named hash ``{wire}``.")
        } else {
            description.trim().to_string()
        };
        if !fields.is_empty() {
            doc.push_str("\n\nAttributes:");
            for f in fields {
                let _ = write!(
                    doc,
                    "\n    {} ({}): {}",
                    f.name,
                    self.annotation(&f.type_name, false),
                    hang(&f.description, "        ")
                );
            }
        }
        let mut seen = HashSet::new();
        let class_syntax = fields.iter().all(|f| plain_field(&f.name) && seen.insert(f.name.as_str()));
        if class_syntax {
            let _ = writeln!(o, "class {py}(typing.TypedDict):");
            docstring(o, "    ", &doc);
            o.push('\n');
            for f in fields {
                let _ = writeln!(o, "    {}: {}", f.name, self.annotation(&f.type_name, false));
            }
            if fields.is_empty() {
                o.push_str("    pass\n");
            }
        } else {
            // Keys that cannot be class attributes: the functional syntax, with every
            // annotation a string (forward references to later classes resolve lazily).
            let items: Vec<String> = fields
                .iter()
                .map(|f| format!("{}: {}", py_str(&f.name), py_str(&self.annotation(&f.type_name, false))))
                .collect();
            let _ = writeln!(o, "{py} = typing.TypedDict({}, {{{}}})", py_str(py), items.join(", "));
            let _ = write!(o, "{py}.__doc__ = ");
            docstring(o, "", &doc);
        }
    }

    fn client_class(&self, p: &Provenance, o: &mut String) {
        let s = &self.r.service;
        o.push_str("\n\nclass Client(_ClientBase):\n");
        let doc = format!(
            "Client for {name}{version}, generated from {endpoint}.\n\n\
             Args:\n\
             \x20   url: ``tcp://HOST:PORT``, ``tls://HOST:PORT``, ``unix:///PATH``,\n\
             \x20       ``http://HOST:PORT/PATH`` or ``https://HOST:PORT/PATH`` (path ``/rpc`` when left\n\
             \x20       out; ``user:password@`` in the URL is used for HTTP Basic authentication).\n\
             \x20   timeout: seconds to wait for a connection and for each reply (``None``: forever).\n\
             \x20   basic_auth: ``(user, password)`` for HTTP Basic authentication (http, https).\n\
             \x20   ssl_context: the ``ssl.SSLContext`` for ``https://`` and ``tls://`` (default:\n\
             \x20       ``ssl.create_default_context()``, the system's CA certificates).\n\n\
             The connection opens at the first call and again after a failure; calls on one\n\
             client are serialized (it may be shared between threads). Use it as a context\n\
             manager, or call ``close()``.",
            name = self.r.display_name(),
            version = version_suffix(&s.version),
            endpoint = p.endpoint,
        );
        docstring(o, "    ", &doc);
        let mut used = HashSet::new();
        for f in &self.r.functions {
            let mut name = sanitize(&f.name, "function");
            if name.starts_with('_') {
                name.insert_str(0, "rpc");
            }
            let name = unique(name, RESERVED_METHODS, &mut used);
            self.method(&name, f, o);
        }
    }

    fn method(&self, py_name: &str, f: &FunctionInfo, o: &mut String) {
        let mut used = HashSet::new();
        let params: Vec<String> = f
            .params
            .iter()
            .map(|p| {
                let mut name = sanitize(&p.name, "arg");
                if name.starts_with("__") {
                    name.insert(0, 'p');
                }
                unique(name, &["self"], &mut used)
            })
            .collect();
        let mut sig = String::from("self");
        for (name, p) in params.iter().zip(&f.params) {
            let _ = write!(sig, ", {name}: {}", self.annotation(&p.type_name, true));
        }
        let result = self.annotation(&f.result_type, false);
        let _ = writeln!(o, "\n    def {py_name}({sig}) -> {result}:");

        let mut doc = if f.description.trim().is_empty() {
            "Calls the remote function.".to_string()
        } else {
            f.description.trim().to_string()
        };
        let _ = write!(doc, "\n\nRemote function ``{}``.", f.name);
        if !f.params.is_empty() {
            doc.push_str("\n\nArgs:");
            for (name, p) in params.iter().zip(&f.params) {
                let _ = write!(
                    doc,
                    "\n    {name} ({}): {}",
                    self.annotation(&p.type_name, true),
                    hang(&p.description, "        ")
                );
            }
        }
        if result != "None" || !f.result_desc.trim().is_empty() {
            let _ = write!(doc, "\n\nReturns:\n    {result}: {}", hang(&f.result_desc, "        "));
        }
        doc.push_str("\n\nRaises:\n    RpcError: the server answered with an error.");
        docstring(o, "        ", &doc);

        let types: Vec<String> = f.params.iter().map(|p| py_str(&p.type_name)).collect();
        let tuple = |items: &[String]| match items.len() {
            0 => "()".to_string(),
            1 => format!("({},)", items[0]),
            _ => format!("({})", items.join(", ")),
        };
        let _ = writeln!(
            o,
            "        return self._invoke({}, {}, {}, {})",
            py_str(&f.name),
            tuple(&types),
            tuple(&params),
            py_str(&f.result_type)
        );
    }
}

/// ` 1.0.0` for a version, nothing without one.
fn version_suffix(version: &str) -> String {
    if version.trim().is_empty() {
        String::new()
    } else {
        format!(" {}", version.trim())
    }
}

/// Writes a docstring at `indent`: `text` (server text included) escaped, its continuation
/// lines indented, closed on its own line when it spans several.
fn docstring(o: &mut String, indent: &str, text: &str) {
    let body = py_doc(text, indent);
    if body.contains('\n') {
        let _ = writeln!(o, "{indent}\"\"\"{body}\n{indent}\"\"\"");
    } else {
        let _ = writeln!(o, "{indent}\"\"\"{body}\"\"\"");
    }
}

/// `text` with its line breaks normalized and its continuation lines indented by `by` (text
/// under a heading of a Google-style docstring).
fn hang(text: &str, by: &str) -> String {
    let normalized = text.trim().replace("\r\n", "\n").replace('\r', "\n");
    normalized.split('\n').collect::<Vec<_>>().join(&format!("\n{by}"))
}

/// Renders the Python module.
pub fn render(r: &Reflection, p: &Provenance) -> String {
    Gen::new(r).render(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_and_identifiers() {
        assert_eq!(py_str("a\"b\\c\n\u{202e}é"), r#""a\"b\\c\n\u202eé""#);
        assert_eq!(py_doc("x\"\"\"y\\\r\nz \"", "  "), "x\\\"\\\"\"y\\\\\n  z \\\"");
        assert_eq!(sanitize("led.set", "f"), "led_set");
        assert_eq!(sanitize("1x", "f"), "_1x");
        assert_eq!(sanitize("", "f"), "f");
        let mut used = HashSet::new();
        assert_eq!(unique("class".into(), &[], &mut used), "class_");
        assert_eq!(unique("class".into(), &[], &mut used), "class__");
    }
}
