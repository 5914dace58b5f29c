//! Reflection: the service describes itself from its static tables.
//!
//! `__describe_service`, `__describe_functions` and `__describe_custom_types` are shaped
//! exactly as ReflectRPC 0.7.6 shapes them (its tools rpcsh, rpcdoc and rpcgencode read them);
//! `rpc.discover` returns an OpenRPC 1.3.2 document with a JSON Schema for every parameter,
//! result and custom type. All four are written straight from the tables to the sink, so
//! their size is bounded by no buffer.

use crate::check::write_type_name;
use crate::reply::{write_reformatted, JsonValue};
use crate::scan::JsonStr;
use crate::schema::{ServiceDesc, TypeDesc};
use crate::ser::{self, Style};
use crate::sink::{Sink, Stop};

/// The OpenRPC version `rpc.discover` documents follow.
pub const OPENRPC_VERSION: &str = "1.3.2";

/// One of the built-in reflection methods.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Builtin {
    /// `__describe_service`
    Service,
    /// `__describe_functions`
    Functions,
    /// `__describe_custom_types`
    CustomTypes,
    /// `rpc.discover`
    Discover,
}

impl Builtin {
    /// The wire name.
    pub const fn name(self) -> &'static str {
        match self {
            Builtin::Service => "__describe_service",
            Builtin::Functions => "__describe_functions",
            Builtin::CustomTypes => "__describe_custom_types",
            Builtin::Discover => "rpc.discover",
        }
    }
}

/// The builtin a method name refers to, if any (exact, case-sensitive).
pub fn builtin(method: JsonStr<'_>) -> Option<Builtin> {
    // Every builtin starts with `_` or `r`: most unknown names are settled by one byte.
    if !matches!(method.raw().first(), Some(b'_' | b'r' | b'\\')) {
        return None;
    }
    [
        Builtin::Service,
        Builtin::Functions,
        Builtin::CustomTypes,
        // Without the `openrpc` feature `rpc.discover` is an unknown `rpc.*` method (-32601).
        #[cfg(feature = "openrpc")]
        Builtin::Discover,
    ]
    .into_iter()
    .find(|b| method.eq_str(b.name()))
}

/// The result of a builtin for a service.
#[derive(Debug)]
pub struct Doc {
    /// The service.
    pub desc: &'static ServiceDesc,
    /// Which document.
    pub which: Builtin,
}

impl JsonValue for Doc {
    fn write_json(&self, k: &mut dyn Sink, style: Style) -> Result<(), Stop> {
        let mut w = W { k, style };
        match self.which {
            Builtin::Service => describe_service(&mut w, self.desc),
            Builtin::Functions => describe_functions(&mut w, self.desc),
            Builtin::CustomTypes => describe_custom_types(&mut w, self.desc),
            #[cfg(feature = "openrpc")]
            Builtin::Discover => openrpc(&mut w, self.desc),
            // `builtin` never names it without the feature, so no plan asks for it.
            #[cfg(not(feature = "openrpc"))]
            Builtin::Discover => w.raw(b"null"),
        }
    }
}

/// A small JSON writer: objects are written as `{` then `key`/value pairs then `}`. Its
/// methods stay out of line so each call site is a few bytes of flash.
struct W<'k> {
    k: &'k mut dyn Sink,
    style: Style,
}

impl W<'_> {
    #[inline(never)]
    fn raw(&mut self, b: &[u8]) -> Result<(), Stop> {
        self.k.write(b)
    }

    #[inline(never)]
    fn str(&mut self, s: &str) -> Result<(), Stop> {
        ser::write_str(self.k, s, self.style)
    }

    /// `"name": ` preceded by a separator unless it is the first member.
    #[inline(never)]
    fn key(&mut self, first: bool, name: &str) -> Result<(), Stop> {
        if !first {
            self.k.write(self.style.comma())?;
        }
        ser::write_str(self.k, name, self.style)?;
        self.k.write(self.style.colon())
    }

    #[inline(never)]
    fn sep(&mut self, first: bool) -> Result<(), Stop> {
        if first {
            Ok(())
        } else {
            self.k.write(self.style.comma())
        }
    }

    #[inline(never)]
    fn type_name(&mut self, ty: &TypeDesc) -> Result<(), Stop> {
        self.k.write(b"\"")?;
        write_type_name(self.k, ty, self.style)?;
        self.k.write(b"\"")
    }
}

fn describe_service(w: &mut W<'_>, d: &ServiceDesc) -> Result<(), Stop> {
    w.raw(b"{")?;
    w.key(true, "name")?;
    w.str(d.name)?;
    w.key(false, "description")?;
    w.str(d.description)?;
    w.key(false, "version")?;
    w.str(d.version)?;
    w.key(false, "custom_fields")?;
    custom_fields(w, d)?;
    w.raw(b"}")
}

/// Whether the service declared no custom fields (an empty or blank text). JSON whitespace
/// is ASCII: `str::trim` would pull the Unicode whitespace tables into flash.
fn no_custom_fields(d: &ServiceDesc) -> bool {
    d.custom_fields.bytes().all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
}

fn custom_fields(w: &mut W<'_>, d: &ServiceDesc) -> Result<(), Stop> {
    if no_custom_fields(d) {
        w.raw(b"{}")
    } else {
        // Checked to be a JSON object when the service was declared.
        write_reformatted(w.k, d.custom_fields.as_bytes(), w.style)
    }
}

fn describe_functions(w: &mut W<'_>, d: &ServiceDesc) -> Result<(), Stop> {
    w.raw(b"[")?;
    for (i, f) in d.functions.iter().enumerate() {
        w.sep(i == 0)?;
        w.raw(b"{")?;
        w.key(true, "name")?;
        w.str(f.name)?;
        w.key(false, "description")?;
        w.str(f.description)?;
        w.key(false, "result_type")?;
        w.type_name(f.result)?;
        w.key(false, "result_desc")?;
        w.str(f.result_desc)?;
        w.key(false, "params")?;
        w.raw(b"[")?;
        for (j, p) in f.params.iter().enumerate() {
            w.sep(j == 0)?;
            w.raw(b"{")?;
            w.key(true, "name")?;
            w.str(p.name)?;
            w.key(false, "description")?;
            w.str(p.description)?;
            w.key(false, "type")?;
            w.type_name(p.ty)?;
            w.raw(b"}")?;
        }
        w.raw(b"]}")?;
    }
    w.raw(b"]")
}

fn describe_custom_types(w: &mut W<'_>, d: &ServiceDesc) -> Result<(), Stop> {
    w.raw(b"[")?;
    let mut first = true;
    for t in d.types {
        match t {
            TypeDesc::Enum(e) => {
                w.sep(first)?;
                w.raw(b"{")?;
                w.key(true, "name")?;
                w.str(e.name)?;
                w.key(false, "type")?;
                w.str("enum")?;
                w.key(false, "description")?;
                w.str(e.description)?;
                w.key(false, "values")?;
                w.raw(b"[")?;
                for (j, v) in e.values.iter().enumerate() {
                    w.sep(j == 0)?;
                    w.raw(b"{")?;
                    w.key(true, "name")?;
                    w.str(v.name)?;
                    w.key(false, "description")?;
                    w.str(v.description)?;
                    w.key(false, "intvalue")?;
                    ser::write_i64(w.k, v.intvalue)?;
                    w.raw(b"}")?;
                }
                w.raw(b"]}")?;
            }
            TypeDesc::NamedHash(h) => {
                w.sep(first)?;
                w.raw(b"{")?;
                w.key(true, "name")?;
                w.str(h.name)?;
                w.key(false, "type")?;
                w.str("hash")?;
                w.key(false, "description")?;
                w.str(h.description)?;
                w.key(false, "fields")?;
                w.raw(b"[")?;
                for (j, f) in h.fields.iter().enumerate() {
                    w.sep(j == 0)?;
                    w.raw(b"{")?;
                    w.key(true, "name")?;
                    w.str(f.name)?;
                    w.key(false, "type")?;
                    w.type_name(f.ty)?;
                    w.key(false, "description")?;
                    w.str(f.description)?;
                    w.raw(b"}")?;
                }
                w.raw(b"]}")?;
            }
            // The declaration macros only register custom types.
            _ => continue,
        }
        first = false;
    }
    w.raw(b"]")
}

#[cfg(feature = "openrpc")]
fn openrpc(w: &mut W<'_>, d: &ServiceDesc) -> Result<(), Stop> {
    w.raw(b"{")?;
    w.key(true, "openrpc")?;
    w.str(OPENRPC_VERSION)?;
    w.key(false, "info")?;
    w.raw(b"{")?;
    w.key(true, "title")?;
    w.str(d.name)?;
    w.key(false, "version")?;
    w.str(d.version)?;
    if !d.description.is_empty() {
        w.key(false, "description")?;
        w.str(d.description)?;
    }
    w.raw(b"}")?;
    w.key(false, "methods")?;
    w.raw(b"[")?;
    for (i, f) in d.functions.iter().enumerate() {
        w.sep(i == 0)?;
        w.raw(b"{")?;
        w.key(true, "name")?;
        w.str(f.name)?;
        if !f.description.is_empty() {
            w.key(false, "description")?;
            w.str(f.description)?;
        }
        // Parameters may be sent by position or (in 2.0) by name.
        w.key(false, "paramStructure")?;
        w.str("either")?;
        w.key(false, "params")?;
        w.raw(b"[")?;
        for (j, p) in f.params.iter().enumerate() {
            w.sep(j == 0)?;
            w.raw(b"{")?;
            w.key(true, "name")?;
            w.str(p.name)?;
            if !p.description.is_empty() {
                w.key(false, "description")?;
                w.str(p.description)?;
            }
            // ReflectRPC requires every parameter: the count must match.
            w.key(false, "required")?;
            w.raw(b"true")?;
            w.key(false, "schema")?;
            schema(w, p.ty, None)?;
            w.raw(b"}")?;
        }
        w.raw(b"]")?;
        w.key(false, "result")?;
        w.raw(b"{")?;
        w.key(true, "name")?;
        w.str("result")?;
        if !f.result_desc.is_empty() {
            w.key(false, "description")?;
            w.str(f.result_desc)?;
        }
        w.key(false, "schema")?;
        schema(w, f.result, None)?;
        w.raw(b"}}")?;
    }
    w.raw(b"]")?;
    w.key(false, "components")?;
    w.raw(b"{")?;
    w.key(true, "schemas")?;
    w.raw(b"{")?;
    let mut first = true;
    for t in d.types {
        let Some(name) = t.custom_name() else { continue };
        w.key(first, name)?;
        component(w, t)?;
        first = false;
    }
    w.raw(b"}}")?;
    if !no_custom_fields(d) {
        w.key(false, "x-custom-fields")?;
        custom_fields(w, d)?;
    }
    w.raw(b"}")
}

/// The JSON Schema of a type, referring to custom types in `components.schemas`.
#[cfg(feature = "openrpc")]
fn schema(w: &mut W<'_>, ty: &TypeDesc, description: Option<&str>) -> Result<(), Stop> {
    w.raw(b"{")?;
    let mut first = true;
    if let Some(d) = description.filter(|d| !d.is_empty()) {
        w.key(true, "description")?;
        w.str(d)?;
        first = false;
    }
    // array<T> nests as deep as the static descriptor: walk it iteratively, closing the
    // `items` objects afterwards.
    let mut ty = ty;
    let mut open = 0usize;
    while let TypeDesc::ArrayOf(inner, max) = ty {
        w.key(first, "type")?;
        w.str("array")?;
        if let Some(max) = max {
            w.key(false, "maxItems")?;
            ser::write_u64(w.k, *max as u64)?;
        }
        w.key(false, "items")?;
        w.raw(b"{")?;
        first = true;
        open += 1;
        ty = inner;
    }
    match ty {
        TypeDesc::Bool => type_only(w, first, "boolean")?,
        TypeDesc::Int(k) => {
            type_only(w, first, "integer")?;
            w.key(false, "minimum")?;
            ser::write_i64(w.k, k.min())?;
            w.key(false, "maximum")?;
            ser::write_u64(w.k, k.max())?;
        }
        TypeDesc::Float => type_only(w, first, "number")?,
        TypeDesc::String(_) => type_only(w, first, "string")?,
        TypeDesc::Base64 => {
            type_only(w, first, "string")?;
            w.key(false, "contentEncoding")?;
            w.str("base64")?;
        }
        TypeDesc::Array => type_only(w, first, "array")?,
        TypeDesc::Hash => type_only(w, first, "object")?,
        TypeDesc::Null => type_only(w, first, "null")?,
        TypeDesc::Enum(_) | TypeDesc::NamedHash(_) => {
            w.key(first, "$ref")?;
            w.raw(b"\"#/components/schemas/")?;
            ser::write_str_content(w.k, ty.custom_name().unwrap_or(""), w.style)?;
            w.raw(b"\"")?;
        }
        TypeDesc::ArrayOf(..) => {}
    }
    for _ in 0..open {
        w.raw(b"}")?;
    }
    w.raw(b"}")
}

#[cfg(feature = "openrpc")]
fn type_only(w: &mut W<'_>, first: bool, name: &str) -> Result<(), Stop> {
    w.key(first, "type")?;
    w.str(name)
}

/// The schema of a custom type, for `components.schemas`.
#[cfg(feature = "openrpc")]
fn component(w: &mut W<'_>, ty: &TypeDesc) -> Result<(), Stop> {
    match ty {
        TypeDesc::Enum(e) => {
            w.raw(b"{")?;
            w.key(true, "title")?;
            w.str(e.name)?;
            if !e.description.is_empty() {
                w.key(false, "description")?;
                w.str(e.description)?;
            }
            // Both spellings are valid on the wire: the value name or its integer.
            w.key(false, "oneOf")?;
            w.raw(b"[{")?;
            w.key(true, "type")?;
            w.str("string")?;
            w.key(false, "enum")?;
            w.raw(b"[")?;
            for (i, v) in e.values.iter().enumerate() {
                w.sep(i == 0)?;
                w.str(v.name)?;
            }
            w.raw(b"]}")?;
            w.sep(false)?;
            w.raw(b"{")?;
            w.key(true, "type")?;
            w.str("integer")?;
            w.key(false, "enum")?;
            w.raw(b"[")?;
            for (i, v) in e.values.iter().enumerate() {
                w.sep(i == 0)?;
                ser::write_i64(w.k, v.intvalue)?;
            }
            w.raw(b"]}]}")
        }
        TypeDesc::NamedHash(h) => {
            w.raw(b"{")?;
            w.key(true, "title")?;
            w.str(h.name)?;
            if !h.description.is_empty() {
                w.key(false, "description")?;
                w.str(h.description)?;
            }
            w.key(false, "type")?;
            w.str("object")?;
            w.key(false, "properties")?;
            w.raw(b"{")?;
            for (i, f) in h.fields.iter().enumerate() {
                w.key(i == 0, f.name)?;
                schema(w, f.ty, Some(f.description))?;
            }
            w.raw(b"}")?;
            w.key(false, "required")?;
            w.raw(b"[")?;
            for (i, f) in h.fields.iter().enumerate() {
                w.sep(i == 0)?;
                w.str(f.name)?;
            }
            w.raw(b"]")?;
            w.key(false, "additionalProperties")?;
            w.raw(b"false}")
        }
        _ => schema(w, ty, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_by_name() {
        for b in [Builtin::Service, Builtin::Functions, Builtin::CustomTypes] {
            assert_eq!(builtin(JsonStr::new(b.name().as_bytes())), Some(b));
        }
        assert_eq!(builtin(JsonStr::new(b"__describe_s\\u0065rvice")), Some(Builtin::Service));
        // Without the `openrpc` feature `rpc.discover` is no builtin: -32601 like any unknown
        // `rpc.*` name.
        let discover = builtin(JsonStr::new(b"rpc.discover"));
        assert_eq!(discover, cfg!(feature = "openrpc").then_some(Builtin::Discover));
        for other in [&b"rpc.Discover"[..], b"__describe", b"", b"rpc.discover "] {
            assert_eq!(builtin(JsonStr::new(other)), None);
        }
    }
}
