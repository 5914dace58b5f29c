//! Type checking of parameters against the static descriptors, before any handler runs.
//!
//! The rules and the error texts are ReflectRPC 0.7.6's, byte for byte where it has them:
//! the count is checked first, then the parameters in order, and only the first failure is
//! reported. Named hashes report the first unknown key (in document order), then the first
//! missing field (in declaration order), then check each field. `int`, `float` and `bool` are
//! strictly distinct. Where reflex checks more than ReflectRPC (integer ranges of the Rust
//! type, string and array capacities, base64 alphabet, 2.0 by-name params) it adds texts in
//! the same style.
//!
//! Recursion here follows the static descriptors (whose depth the declaration fixes), never
//! the input; the input's own depth was already capped by the scanner.

use crate::decode::is_base64;
use crate::scan::{self, JsonStr, Kind, Value};
use crate::schema::{EnumDesc, FunctionDesc, HashDesc, IntKind, TypeDesc};
use crate::ser::{self, Style};
use crate::sink::{Sink, Stop};

/// How deep an error path is recorded (`a.b[1].c` has 4 segments); deeper ones are cut.
pub const PATH_DEPTH: usize = 8;

/// One step of a parameter path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seg {
    /// A parameter or field name.
    Name(&'static str),
    /// An array index.
    Index(u32),
}

/// Where in the parameters a problem is: `ints[2]`, `v.tags[1]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Path {
    segs: [Seg; PATH_DEPTH],
    len: u8,
    cut: u8,
}

impl Path {
    /// The empty path.
    pub const fn new() -> Self {
        Path { segs: [Seg::Index(0); PATH_DEPTH], len: 0, cut: 0 }
    }

    fn push(&mut self, s: Seg) {
        match self.segs.get_mut(usize::from(self.len)) {
            Some(slot) => {
                *slot = s;
                self.len += 1;
            }
            None => self.cut = self.cut.saturating_add(1),
        }
    }

    fn pop(&mut self) {
        if self.cut > 0 {
            self.cut -= 1;
        } else {
            self.len = self.len.saturating_sub(1);
        }
    }

    /// Writes the path (`a.b[1]`), escaped for a JSON string.
    pub fn write(&self, k: &mut dyn Sink, style: Style) -> Result<(), Stop> {
        for (i, s) in self.segs.iter().take(usize::from(self.len)).enumerate() {
            match s {
                Seg::Name(n) => {
                    if i > 0 {
                        k.write(b".")?;
                    }
                    ser::write_str_content(k, n, style)?;
                }
                Seg::Index(ix) => {
                    k.write(b"[")?;
                    ser::write_u64(k, u64::from(*ix))?;
                    k.write(b"]")?;
                }
            }
        }
        if self.cut > 0 {
            k.write(b"...")?;
        }
        Ok(())
    }
}

impl Default for Path {
    fn default() -> Self {
        Path::new()
    }
}

/// What failed.
#[derive(Clone, Copy, Debug)]
pub enum Problem<'a> {
    /// Wrong number of positional parameters (`ParamError`).
    Count {
        /// Declared.
        expected: usize,
        /// Sent.
        got: usize,
    },
    /// A value of the wrong JSON type.
    Type {
        /// The declared type.
        declared: &'static TypeDesc,
        /// What was sent.
        real: Kind,
    },
    /// Not one of the enum's names or integer values.
    EnumValue {
        /// The enum.
        ty: &'static EnumDesc,
        /// The value's text: a string's content or a number.
        text: EnumText<'a>,
    },
    /// An enum given something other than a string or an integer.
    EnumType {
        /// What was sent.
        real: Kind,
    },
    /// A named hash given something other than an object.
    HashType {
        /// The hash.
        ty: &'static HashDesc,
        /// What was sent.
        real: Kind,
    },
    /// A key the named hash does not declare.
    UnknownField {
        /// The hash.
        ty: &'static HashDesc,
        /// The key as sent.
        field: JsonStr<'a>,
    },
    /// A declared field that is absent.
    MissingField {
        /// The hash.
        ty: &'static HashDesc,
        /// The field.
        field: &'static str,
    },
    /// An integer outside the Rust type's range.
    OutOfRange {
        /// The declared width.
        kind: IntKind,
        /// The number as sent.
        text: &'a [u8],
    },
    /// A string longer (in UTF-8 bytes) or an array longer (in elements) than its capacity.
    TooLong {
        /// The capacity.
        max: usize,
    },
    /// A `base64` string that is not standard padded base64.
    Base64,
    /// A 2.0 by-name call naming a parameter the function does not have.
    UnknownParam(JsonStr<'a>),
    /// A 2.0 by-name call without one of the parameters.
    MissingParam(&'static str),
}

/// An enum value as sent, for the error text.
#[derive(Clone, Copy, Debug)]
pub enum EnumText<'a> {
    /// A string's raw content.
    Str(JsonStr<'a>),
    /// A number's text.
    Num(&'a [u8]),
}

/// A failed parameter check.
#[derive(Clone, Copy, Debug)]
pub struct CheckError<'a> {
    /// The function's wire name.
    pub func: &'static str,
    /// Where.
    pub path: Path,
    /// What.
    pub problem: Problem<'a>,
}

impl CheckError<'_> {
    #[inline(never)]
    fn write_path(&self, k: &mut dyn Sink, style: Style) -> Result<(), Stop> {
        k.write(b"'")?;
        self.path.write(k, style)?;
        k.write(b"'")
    }

    /// The ReflectRPC error name: `ParamError` for a wrong count, `TypeError` otherwise.
    pub fn name(&self) -> &'static str {
        match self.problem {
            Problem::Count { .. } => "ParamError",
            _ => "TypeError",
        }
    }

    /// Whether the problem is a `null` where a value was required (ReflectRPC answers that
    /// with its internal error, and reflex does too for 1.0).
    pub fn is_null(&self) -> bool {
        matches!(self.problem, Problem::Type { real: Kind::Null, .. })
    }

    /// Writes the message text, escaped for the inside of a JSON string.
    pub fn write_message(&self, k: &mut dyn Sink, style: Style) -> Result<(), Stop> {
        // The pieces are out-of-line functions so that each use costs a call, not a copy:
        // this function is all text assembly, and flash is what it spends.
        #[inline(never)]
        fn text(k: &mut dyn Sink, s: &str, style: Style) -> Result<(), Stop> {
            ser::write_str_content(k, s, style)
        }
        #[inline(never)]
        fn quoted(k: &mut dyn Sink, s: &str, style: Style) -> Result<(), Stop> {
            k.write(b"'")?;
            ser::write_str_content(k, s, style)?;
            k.write(b"'")
        }
        let f = self.func;
        let text = |k: &mut dyn Sink, s: &str| text(k, s, style);
        let quoted = |k: &mut dyn Sink, s: &str| quoted(k, s, style);
        let path = |k: &mut dyn Sink| self.write_path(k, style);
        match self.problem {
            Problem::Count { expected, got } => {
                k.write(b"Expected ")?;
                ser::write_u64(k, expected as u64)?;
                k.write(b" parameters for ")?;
                quoted(k, f)?;
                k.write(b" but got ")?;
                ser::write_u64(k, got as u64)
            }
            Problem::Type { declared, real } => {
                text(k, f)?;
                k.write(b": Expected value of type '")?;
                write_type_name(k, declared, style)?;
                k.write(b"' for parameter ")?;
                path(k)?;
                k.write(b" but got value of type ")?;
                quoted(k, real.type_name())
            }
            Problem::EnumValue { ty, text: value } => {
                text(k, f)?;
                k.write(b": '")?;
                match value {
                    EnumText::Str(s) => ser::write_chars_content(k, s.chars(), style)?,
                    EnumText::Num(n) => k.write(n)?,
                }
                k.write(b"' is not a valid value for parameter ")?;
                path(k)?;
                k.write(b" of enum type ")?;
                quoted(k, ty.name)
            }
            Problem::EnumType { real } => {
                text(k, f)?;
                k.write(b": Enum parameter ")?;
                path(k)?;
                k.write(b" requires a value of type 'int' or 'string' but type was ")?;
                quoted(k, real.type_name())
            }
            Problem::HashType { ty, real } => {
                text(k, f)?;
                k.write(b": Named hash parameter ")?;
                path(k)?;
                k.write(b" of type ")?;
                quoted(k, ty.name)?;
                k.write(b" requires a hash value but got ")?;
                quoted(k, real.type_name())
            }
            Problem::UnknownField { ty, field } => {
                text(k, f)?;
                k.write(b": Named hash parameter ")?;
                path(k)?;
                k.write(b" of type ")?;
                quoted(k, ty.name)?;
                k.write(b": Unknown field '")?;
                ser::write_chars_content(k, field.chars(), style)?;
                k.write(b"'")
            }
            Problem::MissingField { ty, field } => {
                text(k, f)?;
                k.write(b": Named hash parameter ")?;
                path(k)?;
                k.write(b" of type ")?;
                quoted(k, ty.name)?;
                k.write(b": Missing field ")?;
                quoted(k, field)
            }
            Problem::OutOfRange { kind, text: n } => {
                text(k, f)?;
                k.write(b": Value ")?;
                k.write(n)?;
                k.write(b" for parameter ")?;
                path(k)?;
                k.write(b" is out of range for type 'int' (")?;
                ser::write_i64(k, kind.min())?;
                k.write(b" to ")?;
                ser::write_u64(k, kind.max())?;
                k.write(b")")
            }
            Problem::TooLong { max } => {
                text(k, f)?;
                k.write(b": Value for parameter ")?;
                path(k)?;
                k.write(b" exceeds the maximum length of ")?;
                ser::write_u64(k, max as u64)
            }
            Problem::Base64 => {
                text(k, f)?;
                k.write(b": Value for parameter ")?;
                path(k)?;
                k.write(b" is not valid base64")
            }
            Problem::UnknownParam(name) => {
                text(k, f)?;
                k.write(b": Unknown parameter '")?;
                ser::write_chars_content(k, name.chars(), style)?;
                k.write(b"'")
            }
            Problem::MissingParam(name) => {
                text(k, f)?;
                k.write(b": Missing parameter ")?;
                quoted(k, name)
            }
        }
    }
}

/// Writes a type's name as ReflectRPC spells it: `int`, `array<int>`, `PhoneType`.
pub fn write_type_name(k: &mut dyn Sink, ty: &TypeDesc, style: Style) -> Result<(), Stop> {
    // array<T> nests at most as deep as the static descriptor; walk it iteratively.
    let mut depth = 0usize;
    let mut t = ty;
    while let TypeDesc::ArrayOf(inner, _) = t {
        k.write(b"array<")?;
        depth += 1;
        t = inner;
    }
    match (t.primitive_name(), t.custom_name()) {
        (Some(n), _) | (None, Some(n)) => ser::write_str_content(k, n, style)?,
        (None, None) => k.write(b"array")?,
    }
    for _ in 0..depth {
        k.write(b">")?;
    }
    Ok(())
}

/// Checker options.
#[derive(Clone, Copy, Debug)]
pub struct Rules {
    /// Integers are not floats (ReflectRPC); when false, `1` is accepted for a float.
    pub strict_floats: bool,
}

// The error is large (a path of 8 segments) but short-lived on the stack; with no allocator
// there is nothing to box it into.
#[allow(clippy::result_large_err)]
/// Checks the parameters of a call to `f`. `params` is the `params` value (`None` when
/// absent, which counts as no parameters).
pub fn check_params<'a>(
    buf: &'a [u8],
    f: &'static FunctionDesc,
    params: Option<Value>,
    rules: Rules,
) -> Result<(), CheckError<'a>> {
    let mut c = Checker { buf, func: f.name, rules, path: Path::new() };
    let Some(params) = params else {
        if f.params.is_empty() {
            return Ok(());
        }
        return Err(c.fail(Problem::Count { expected: f.params.len(), got: 0 }));
    };
    if params.kind == Kind::Object {
        // By name (2.0): unknown names first, then missing ones, then each value.
        for (key, _) in scan::members(buf, params) {
            if !f.params.iter().any(|p| key.eq_str(p.name)) {
                return Err(c.fail(Problem::UnknownParam(key)));
            }
        }
        for p in f.params {
            let v = scan::members(buf, params).filter(|(k, _)| k.eq_str(p.name)).map(|(_, v)| v).last();
            let Some(v) = v else {
                return Err(c.fail(Problem::MissingParam(p.name)));
            };
            c.path.push(Seg::Name(p.name));
            c.value(v, p.ty)?;
            c.path.pop();
        }
        return Ok(());
    }
    // By position, in one walk: the count is reported before any type error (ReflectRPC's
    // order), so the first type error is kept until the count is known.
    let mut got = 0;
    let mut first_error = None;
    for v in scan::elements(buf, params) {
        if let (Some(p), None) = (f.params.get(got), &first_error) {
            c.path.push(Seg::Name(p.name));
            if let Err(e) = c.value(v, p.ty) {
                first_error = Some(e);
            }
            c.path.pop();
        }
        got += 1;
    }
    if got != f.params.len() {
        return Err(c.fail(Problem::Count { expected: f.params.len(), got }));
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

struct Checker<'a> {
    buf: &'a [u8],
    func: &'static str,
    rules: Rules,
    path: Path,
}

impl<'a> Checker<'a> {
    fn fail(&self, problem: Problem<'a>) -> CheckError<'a> {
        CheckError { func: self.func, path: self.path, problem }
    }

    fn mismatch(&self, declared: &'static TypeDesc, real: Kind) -> CheckError<'a> {
        self.fail(Problem::Type { declared, real })
    }

    #[allow(clippy::result_large_err)]
    fn value(&mut self, v: Value, ty: &'static TypeDesc) -> Result<(), CheckError<'a>> {
        if v.kind == Kind::Null {
            return Err(self.mismatch(ty, Kind::Null));
        }
        match ty {
            TypeDesc::Bool => match v.kind {
                Kind::True | Kind::False => Ok(()),
                k => Err(self.mismatch(ty, k)),
            },
            TypeDesc::Int(kind) => {
                if v.kind != Kind::Int {
                    return Err(self.mismatch(ty, v.kind));
                }
                let text = v.bytes(self.buf);
                match scan::parse_int(text) {
                    Some((neg, mag)) if kind.contains(neg, mag) => Ok(()),
                    _ => Err(self.fail(Problem::OutOfRange { kind: *kind, text })),
                }
            }
            TypeDesc::Float => match v.kind {
                Kind::Float => Ok(()),
                Kind::Int if !self.rules.strict_floats => Ok(()),
                k => Err(self.mismatch(ty, k)),
            },
            TypeDesc::String(max) => {
                let s = v.as_str(self.buf).ok_or_else(|| self.mismatch(ty, v.kind))?;
                match max {
                    Some(max) if s.decoded_len() > *max => Err(self.fail(Problem::TooLong { max: *max })),
                    _ => Ok(()),
                }
            }
            TypeDesc::Base64 => {
                let s = v.as_str(self.buf).ok_or_else(|| self.mismatch(ty, v.kind))?;
                if is_base64(s.raw()) {
                    Ok(())
                } else {
                    Err(self.fail(Problem::Base64))
                }
            }
            TypeDesc::Array => match v.kind {
                Kind::Array => Ok(()),
                k => Err(self.mismatch(ty, k)),
            },
            TypeDesc::Hash => match v.kind {
                Kind::Object => Ok(()),
                k => Err(self.mismatch(ty, k)),
            },
            TypeDesc::Null => Err(self.mismatch(ty, v.kind)),
            TypeDesc::ArrayOf(inner, max) => {
                if v.kind != Kind::Array {
                    return Err(self.mismatch(ty, v.kind));
                }
                if let Some(max) = max {
                    if scan::elements(self.buf, v).count() > *max {
                        return Err(self.fail(Problem::TooLong { max: *max }));
                    }
                }
                for (i, e) in scan::elements(self.buf, v).enumerate() {
                    self.path.push(Seg::Index(i as u32));
                    self.value(e, inner)?;
                    self.path.pop();
                }
                Ok(())
            }
            TypeDesc::Enum(e) => match v.kind {
                Kind::String => {
                    let s = v.as_str(self.buf).unwrap_or(JsonStr::new(&[]));
                    if e.values.iter().any(|ev| s.eq_str(ev.name)) {
                        Ok(())
                    } else {
                        Err(self.fail(Problem::EnumValue { ty: e, text: EnumText::Str(s) }))
                    }
                }
                Kind::Int => {
                    let text = v.bytes(self.buf);
                    let n = scan::parse_int(text).and_then(|(neg, m)| {
                        let m = i64::try_from(m).ok()?;
                        Some(if neg { -m } else { m })
                    });
                    match n {
                        Some(n) if e.values.iter().any(|ev| ev.intvalue == n) => Ok(()),
                        _ => Err(self.fail(Problem::EnumValue { ty: e, text: EnumText::Num(text) })),
                    }
                }
                k => Err(self.fail(Problem::EnumType { real: k })),
            },
            TypeDesc::NamedHash(h) => {
                if v.kind != Kind::Object {
                    return Err(self.fail(Problem::HashType { ty: h, real: v.kind }));
                }
                for (key, _) in scan::members(self.buf, v) {
                    if !h.fields.iter().any(|f| key.eq_str(f.name)) {
                        return Err(self.fail(Problem::UnknownField { ty: h, field: key }));
                    }
                }
                for f in h.fields {
                    if !scan::members(self.buf, v).any(|(k, _)| k.eq_str(f.name)) {
                        return Err(self.fail(Problem::MissingField { ty: h, field: f.name }));
                    }
                }
                for f in h.fields {
                    let fv = scan::members(self.buf, v).filter(|(k, _)| k.eq_str(f.name)).map(|(_, v)| v).last();
                    if let Some(fv) = fv {
                        self.path.push(Seg::Name(f.name));
                        self.value(fv, f.ty)?;
                        self.path.pop();
                    }
                }
                Ok(())
            }
        }
    }
}
