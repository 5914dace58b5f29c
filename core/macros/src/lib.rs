//! Declaration macros for [reflex](https://docs.rs/reflex): services and custom types as
//! static tables.
//!
//! Use them through the core crate (`reflex::service`, `reflex::Type`); the generated code
//! refers to `::reflex` and does nothing but build `const` descriptors, `const` assertions
//! and a `match` on function ids. All protocol logic lives in the core, so the expansion stays
//! small and readable (`cargo expand` shows exactly what a device stores in flash).
//!
//! * `#[derive(reflex::Type)]` describes a field-less enum (a ReflectRPC *enum*) or a struct
//!   with named fields (a *named hash*), and implements `Describe`, `FromParam` and
//!   `serde::Serialize` for it.
//! * `#[reflex::service(...)]` on an inherent `impl` block exports its functions and
//!   implements `reflex::Service`.
//!
//! The full syntax is documented on the re-exports in the core crate.

mod docs;
mod service;
mod ty;
mod util;

use proc_macro::TokenStream;

/// Declares a service: every function of the annotated inherent `impl` block becomes a remote
/// procedure, described by a static `ServiceDesc` and dispatched by a generated
/// `reflex::Service` impl.
///
/// ```ignore
/// /// What the device does.
/// #[reflex::service(name = "demo", version = "1.0.0", types(PhoneType),
///                   custom_fields = r#"{"board": "pico"}"#)]
/// impl Device {
///     /// Adds two numbers.
///     ///
///     /// - `a`: the first number
///     /// - `b`: the second number
///     ///
///     /// Returns: the sum
///     fn add(&self, a: i64, b: i64) -> Result<i64, reflex::Error> { ... }
///
///     /// Switches an LED.
///     #[rpc(name = "led.set")]
///     fn led_set(&self, index: u8, on: bool) { ... }
///
///     #[rpc(skip)]
///     fn helper(&self) {}
/// }
/// ```
///
/// Service arguments: `name = "..."` and `version = "..."` (required), `description = "..."`
/// (default: the `impl` block's doc comment), `custom_fields = "{...}"` (a JSON object, checked
/// at compile time; default `{}`), `types(A, B, ...)` (the custom types, in the order
/// `__describe_custom_types` lists them).
///
/// Function attributes: `#[rpc(name = "wire.name")]`, `#[rpc(result_type = "hash")]` (describe
/// the result as one of `bool`, `int`, `float`, `string`, `base64`, `array`, `hash`, `null`),
/// `#[rpc(skip)]` (not exported).
#[proc_macro_attribute]
pub fn service(attr: TokenStream, item: TokenStream) -> TokenStream {
    service::expand(attr.into(), item.into()).unwrap_or_else(syn::Error::into_compile_error).into()
}

/// Derives `Describe`, `FromParam` and `serde::Serialize` for a custom type: a field-less enum
/// (sent as a value name or its integer value) or a struct with named fields (a named hash).
///
/// `#[reflex(name = "Name")]` on the type sets its wire name (it must start with an ASCII
/// upper-case letter); `#[reflex(rename = "name")]` on a field or variant sets that one's.
/// Doc comments become descriptions.
#[proc_macro_derive(Type, attributes(reflex))]
pub fn derive_type(item: TokenStream) -> TokenStream {
    ty::expand(item.into()).unwrap_or_else(syn::Error::into_compile_error).into()
}
