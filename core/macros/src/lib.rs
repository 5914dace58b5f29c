//! Declaration macros for reflex (stub, being written).
use proc_macro::TokenStream;

/// Declares a service (stub).
#[proc_macro_attribute]
pub fn service(_attr: TokenStream, item: TokenStream) -> TokenStream {
    item
}

/// Derives a custom type (stub).
#[proc_macro_derive(Type, attributes(reflex))]
pub fn derive_type(_item: TokenStream) -> TokenStream {
    TokenStream::new()
}
