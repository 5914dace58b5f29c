//! Static descriptors of a service: its functions, their parameters and the types they use.
//!
//! Everything here is `&'static` and const-constructible, so a declared service is a table in
//! flash. The same table drives dispatch, type checking ([`crate::check`]) and reflection
//! ([`crate::reflect`]). The declaration macros build these; they can also be written by hand.
//!
//! The type system is ReflectRPC's: `bool`, `int`, `float`, `string`, `base64`, `array`, `hash`,
//! `array<T>`, enums and named hashes, plus `null` for functions that return nothing.

/// The width and signedness of an integer type; the checker rejects values outside its range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum IntKind {
    /// `i8`
    I8,
    /// `i16`
    I16,
    /// `i32`
    I32,
    /// `i64` (and `isize` on 64-bit targets)
    I64,
    /// `u8`
    U8,
    /// `u16`
    U16,
    /// `u32`
    U32,
    /// `u64` (and `usize` on 64-bit targets)
    U64,
}

impl IntKind {
    /// Smallest accepted value.
    pub const fn min(self) -> i64 {
        match self {
            IntKind::I8 => i8::MIN as i64,
            IntKind::I16 => i16::MIN as i64,
            IntKind::I32 => i32::MIN as i64,
            IntKind::I64 => i64::MIN,
            IntKind::U8 | IntKind::U16 | IntKind::U32 | IntKind::U64 => 0,
        }
    }

    /// Largest accepted value.
    pub const fn max(self) -> u64 {
        match self {
            IntKind::I8 => i8::MAX as u64,
            IntKind::I16 => i16::MAX as u64,
            IntKind::I32 => i32::MAX as u64,
            IntKind::I64 => i64::MAX as u64,
            IntKind::U8 => u8::MAX as u64,
            IntKind::U16 => u16::MAX as u64,
            IntKind::U32 => u32::MAX as u64,
            IntKind::U64 => u64::MAX,
        }
    }

    /// Whether `neg`/`magnitude` (as returned by [`crate::scan::parse_int`]) fits.
    pub const fn contains(self, neg: bool, magnitude: u64) -> bool {
        if neg {
            // -(i64::MIN) is 2^63, which is i64::MIN's unsigned magnitude.
            magnitude == 0 || magnitude <= self.min().unsigned_abs()
        } else {
            magnitude <= self.max()
        }
    }
}

/// One type of the ReflectRPC type system.
#[derive(Clone, Copy, Debug)]
pub enum TypeDesc {
    /// `bool`: `true` or `false`.
    Bool,
    /// `int`: an integer literal within the range of the Rust type.
    Int(IntKind),
    /// `float`: a number written with a fraction or an exponent (or any number when
    /// [`crate::Config::strict_floats`] is off).
    Float,
    /// `string`, with an optional maximum length in UTF-8 bytes (from `heapless::String<N>`).
    String(Option<usize>),
    /// `base64`: a string carrying base64-encoded bytes.
    Base64,
    /// `array`: any array.
    Array,
    /// `hash`: any object.
    Hash,
    /// `array<T>`, with an optional maximum element count (from `heapless::Vec<T, N>`).
    ArrayOf(&'static TypeDesc, Option<usize>),
    /// A custom enum.
    Enum(&'static EnumDesc),
    /// A custom named hash.
    NamedHash(&'static HashDesc),
    /// `null`: the result of a function that returns nothing.
    Null,
}

impl TypeDesc {
    /// The custom type's name, for enums and named hashes.
    pub const fn custom_name(&self) -> Option<&'static str> {
        match self {
            TypeDesc::Enum(e) => Some(e.name),
            TypeDesc::NamedHash(h) => Some(h.name),
            _ => None,
        }
    }

    /// The name of a primitive type as ReflectRPC spells it (`None` for `array<T>` and custom
    /// types, whose names are composed; see [`crate::check::write_type_name`]).
    pub const fn primitive_name(&self) -> Option<&'static str> {
        Some(match self {
            TypeDesc::Bool => "bool",
            TypeDesc::Int(_) => "int",
            TypeDesc::Float => "float",
            TypeDesc::String(_) => "string",
            TypeDesc::Base64 => "base64",
            TypeDesc::Array => "array",
            TypeDesc::Hash => "hash",
            TypeDesc::Null => "null",
            TypeDesc::ArrayOf(..) | TypeDesc::Enum(_) | TypeDesc::NamedHash(_) => return None,
        })
    }
}

/// A custom enum: sent as a value name or as its integer value.
#[derive(Debug)]
pub struct EnumDesc {
    /// Type name (starts with an upper-case letter).
    pub name: &'static str,
    /// Documentation.
    pub description: &'static str,
    /// The values in declaration order.
    pub values: &'static [EnumValue],
}

/// One value of an enum.
#[derive(Debug)]
pub struct EnumValue {
    /// Value name as sent on the wire.
    pub name: &'static str,
    /// Documentation.
    pub description: &'static str,
    /// Integer value as sent on the wire.
    pub intvalue: i64,
}

/// A custom named hash: an object with exactly these fields.
#[derive(Debug)]
pub struct HashDesc {
    /// Type name (starts with an upper-case letter).
    pub name: &'static str,
    /// Documentation.
    pub description: &'static str,
    /// The fields in declaration order; all are required.
    pub fields: &'static [FieldDesc],
}

/// One field of a named hash.
#[derive(Debug)]
pub struct FieldDesc {
    /// Field name.
    pub name: &'static str,
    /// Field type.
    pub ty: &'static TypeDesc,
    /// Documentation.
    pub description: &'static str,
}

/// One parameter of a function.
#[derive(Debug)]
pub struct ParamDesc {
    /// Parameter name (also its key for by-name calls).
    pub name: &'static str,
    /// Parameter type.
    pub ty: &'static TypeDesc,
    /// Documentation.
    pub description: &'static str,
}

/// One function of a service.
#[derive(Debug)]
pub struct FunctionDesc {
    /// Method name on the wire, e.g. `led.set`.
    pub name: &'static str,
    /// Documentation.
    pub description: &'static str,
    /// Parameters in order.
    pub params: &'static [ParamDesc],
    /// Result type.
    pub result: &'static TypeDesc,
    /// Documentation of the result.
    pub result_desc: &'static str,
    /// The number the service's dispatcher uses for this function (stable under `cfg`).
    pub id: u16,
}

/// A whole service.
#[derive(Debug)]
pub struct ServiceDesc {
    /// Service name.
    pub name: &'static str,
    /// Service version.
    pub version: &'static str,
    /// Documentation.
    pub description: &'static str,
    /// `custom_fields` of `__describe_service`: the text of a JSON object, checked when declared.
    pub custom_fields: &'static str,
    /// Functions in declaration order.
    pub functions: &'static [FunctionDesc],
    /// Custom types (enums and named hashes) in declaration order.
    pub types: &'static [&'static TypeDesc],
}

impl ServiceDesc {
    /// Looks a function up by its exact (already unescaped) name.
    pub fn function(&self, name: &[u8]) -> Option<&'static FunctionDesc> {
        self.functions.iter().find(|f| f.name.as_bytes() == name)
    }
}

/// Maps a Rust type to its descriptor. Implemented for the primitive types here and by
/// `#[derive(reflex::Type)]` for enums and named hashes.
pub trait Describe {
    /// The descriptor.
    const TYPE: &'static TypeDesc;
}

macro_rules! describe_int {
    ($($t:ty => $k:ident),*) => {$(
        impl Describe for $t { const TYPE: &'static TypeDesc = &TypeDesc::Int(IntKind::$k); }
    )*};
}
describe_int!(i8 => I8, i16 => I16, i32 => I32, i64 => I64, u8 => U8, u16 => U16, u32 => U32, u64 => U64);
#[cfg(target_pointer_width = "64")]
describe_int!(isize => I64, usize => U64);
#[cfg(target_pointer_width = "32")]
describe_int!(isize => I32, usize => U32);
#[cfg(target_pointer_width = "16")]
describe_int!(isize => I16, usize => U16);

impl Describe for bool {
    const TYPE: &'static TypeDesc = &TypeDesc::Bool;
}
#[cfg(feature = "float")]
impl Describe for f32 {
    const TYPE: &'static TypeDesc = &TypeDesc::Float;
}
#[cfg(feature = "float")]
impl Describe for f64 {
    const TYPE: &'static TypeDesc = &TypeDesc::Float;
}
impl Describe for &str {
    const TYPE: &'static TypeDesc = &TypeDesc::String(None);
}
impl<const N: usize> Describe for heapless::String<N> {
    const TYPE: &'static TypeDesc = &TypeDesc::String(Some(N));
}
impl Describe for () {
    const TYPE: &'static TypeDesc = &TypeDesc::Null;
}
impl<T: Describe, const N: usize> Describe for heapless::Vec<T, N> {
    const TYPE: &'static TypeDesc = &TypeDesc::ArrayOf(T::TYPE, Some(N));
}
impl<T: Describe, const N: usize> Describe for [T; N] {
    const TYPE: &'static TypeDesc = &TypeDesc::ArrayOf(T::TYPE, Some(N));
}
impl<T: Describe> Describe for &[T] {
    const TYPE: &'static TypeDesc = &TypeDesc::ArrayOf(T::TYPE, None);
}
impl<T: Describe, E> Describe for Result<T, E> {
    const TYPE: &'static TypeDesc = T::TYPE;
}

/// Whether the custom types used by `ty` (directly or through fields and elements) are all in
/// `registered`. Used by the declaration macros in a `const` assertion, so an undeclared
/// custom type is a compile error. Recursion follows the static descriptors, never input.
pub const fn uses_only(ty: &TypeDesc, registered: &[&TypeDesc]) -> bool {
    match ty {
        TypeDesc::ArrayOf(inner, _) => uses_only(inner, registered),
        TypeDesc::Enum(e) => is_registered(e.name, registered),
        TypeDesc::NamedHash(h) => {
            if !is_registered(h.name, registered) {
                return false;
            }
            let mut i = 0;
            while i < h.fields.len() {
                if !uses_only(h.fields[i].ty, registered) {
                    return false;
                }
                i += 1;
            }
            true
        }
        _ => true,
    }
}

const fn is_registered(name: &str, registered: &[&TypeDesc]) -> bool {
    let mut i = 0;
    while i < registered.len() {
        if let Some(n) = registered[i].custom_name() {
            if str_eq(n, name) {
                return true;
            }
        }
        i += 1;
    }
    false
}

/// Whether two custom types in `types` share a name (a compile-time check of the macros).
pub const fn has_duplicate_type(types: &[&TypeDesc]) -> bool {
    let mut i = 0;
    while i < types.len() {
        let mut j = i + 1;
        while j < types.len() {
            if let (Some(a), Some(b)) = (types[i].custom_name(), types[j].custom_name()) {
                if str_eq(a, b) {
                    return true;
                }
            }
            j += 1;
        }
        i += 1;
    }
    false
}

/// Whether every entry of `types` is a custom type (enum or named hash).
pub const fn all_custom(types: &[&TypeDesc]) -> bool {
    let mut i = 0;
    while i < types.len() {
        if types[i].custom_name().is_none() {
            return false;
        }
        i += 1;
    }
    true
}

/// `const` string equality.
pub const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

impl<T: Describe> Describe for Option<T> {
    // A result that may be absent is described by what it is when present (`null` is sent
    // otherwise), as ReflectRPC describes `get_username` as `string`.
    const TYPE: &'static TypeDesc = T::TYPE;
}

macro_rules! describe_tuple {
    ($($name:ident)+) => {
        impl<$($name),+> Describe for ($($name,)+) {
            // A heterogeneous tuple serializes as a JSON array of mixed types: untyped `array`.
            const TYPE: &'static TypeDesc = &TypeDesc::Array;
        }
    };
}
describe_tuple!(A);
describe_tuple!(A B);
describe_tuple!(A B C);
describe_tuple!(A B C D);
describe_tuple!(A B C D E);
describe_tuple!(A B C D E F);
