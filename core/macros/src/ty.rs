//! `#[derive(reflex::Type)]`: enums and named hashes.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Attribute, Data, DeriveInput, Fields, GenericParam, Lifetime, LitStr};

use crate::docs;
use crate::util::{static_lifetimes, Errors};

pub fn expand(input: TokenStream) -> syn::Result<TokenStream> {
    let input: DeriveInput = syn::parse2(input)?;
    let mut errors = Errors::default();

    let (name, name_span) = match rename_attr(&input.attrs, "name") {
        Ok(Some(lit)) => (lit.value(), lit.span()),
        Ok(None) => (input.ident.unraw().to_string(), input.ident.span()),
        Err(e) => {
            errors.push(e);
            (input.ident.unraw().to_string(), input.ident.span())
        }
    };
    check_type_name(&name, name_span, &mut errors);

    // One lifetime is what a named hash of borrowed strings needs; anything more generic
    // would need one descriptor per instantiation, which a static table cannot be.
    let mut lifetime = None;
    for param in &input.generics.params {
        match param {
            GenericParam::Lifetime(l) if lifetime.is_none() => lifetime = Some(l.lifetime.clone()),
            GenericParam::Lifetime(l) => errors.at(
                l.span(),
                "reflex: a custom type may have at most one lifetime parameter (it is described by one static table)",
            ),
            GenericParam::Type(_) | GenericParam::Const(_) => errors.at(
                param.span(),
                "reflex: a custom type cannot have type or const parameters (it is described by one static table); only one lifetime parameter is allowed",
            ),
        }
    }

    let out = match &input.data {
        Data::Enum(data) => expand_enum(&input, data, &name, &mut errors),
        Data::Struct(data) => match &data.fields {
            Fields::Named(_) => expand_struct(&input, data, &name, lifetime.as_ref(), &mut errors),
            Fields::Unnamed(_) | Fields::Unit => {
                errors.at(
                    input.ident.span(),
                    "reflex: only structs with named fields can be described (a named hash needs field names); tuple and unit structs cannot",
                );
                TokenStream::new()
            }
        },
        Data::Union(u) => {
            errors.at(
                u.union_token.span,
                "reflex: unions cannot be described; use an enum or a struct with named fields",
            );
            TokenStream::new()
        }
    };
    errors.finish()?;
    Ok(out)
}

/// ReflectRPC links custom types by name and tells them from primitive types by their
/// capital first letter, so a lower-case name would be misread by its tools.
fn check_type_name(name: &str, span: Span, errors: &mut Errors) {
    if !name.starts_with(|c: char| c.is_ascii_uppercase()) {
        let mut suggestion: String = name.chars().take(1).flat_map(char::to_uppercase).collect();
        suggestion.extend(name.chars().skip(1));
        errors.at(
            span,
            format_args!(
                "reflex: custom type name `{name}` must start with an ASCII upper-case letter (ReflectRPC tools tell custom types from primitive ones by it); rename the type or use #[reflex(name = \"{suggestion}\")]"
            ),
        );
    }
}

/// Reads `#[reflex(<key> = "...")]`; any other key is an error.
fn rename_attr(attrs: &[Attribute], key: &str) -> syn::Result<Option<LitStr>> {
    let mut found = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("reflex")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident(key) {
                found = Some(meta.value()?.parse::<LitStr>()?);
                Ok(())
            } else {
                Err(meta.error(format_args!("reflex: unknown attribute here; expected `{key} = \"...\"`")))
            }
        })?;
    }
    Ok(found)
}

/// The wire name of a field or variant: its `rename`, or its identifier.
fn member_name(attrs: &[Attribute], ident: &syn::Ident, errors: &mut Errors) -> (String, Span) {
    match rename_attr(attrs, "rename") {
        Ok(Some(lit)) => (lit.value(), lit.span()),
        Ok(None) => (ident.unraw().to_string(), ident.span()),
        Err(e) => {
            errors.push(e);
            (ident.unraw().to_string(), ident.span())
        }
    }
}

fn check_unique(names: &[(String, Span)], what: &str, errors: &mut Errors) {
    for (i, (name, span)) in names.iter().enumerate() {
        if names[..i].iter().any(|(n, _)| n == name) {
            errors.at(*span, format_args!("reflex: duplicate {what} name `{name}`"));
        }
    }
}

fn expand_enum(input: &DeriveInput, data: &syn::DataEnum, name: &str, errors: &mut Errors) -> TokenStream {
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let description = docs::description(&input.attrs);

    let mut names = Vec::new();
    for v in &data.variants {
        if !matches!(v.fields, Fields::Unit) {
            errors.at(
                v.fields.span(),
                format_args!(
                    "reflex: enum variant `{}` carries data; a ReflectRPC enum is a name or an integer, so only field-less variants can be described",
                    v.ident
                ),
            );
        }
        names.push(member_name(&v.attrs, &v.ident, errors));
    }
    check_unique(&names, "enum value", errors);

    let variants: Vec<_> = data.variants.iter().map(|v| &v.ident).collect();
    let wire: Vec<_> = names.iter().map(|(n, _)| n).collect();
    let value_docs: Vec<_> = data.variants.iter().map(|v| docs::description(&v.attrs)).collect();
    let indices = 0..variants.len();
    // An enum without values has no value to serialize (and `serialize_str` would be an
    // unreachable call).
    let serialize_body = if variants.is_empty() {
        quote!(match *self {})
    } else {
        quote!(serializer.serialize_str(match *self { #(#ident::#variants => #wire,)* }))
    };

    quote! {
        impl #impl_generics ::reflex::Describe for #ident #ty_generics #where_clause {
            const TYPE: &'static ::reflex::schema::TypeDesc =
                &::reflex::schema::TypeDesc::Enum(&::reflex::schema::EnumDesc {
                    name: #name,
                    description: #description,
                    values: &[#(
                        ::reflex::schema::EnumValue {
                            name: #wire,
                            description: #value_docs,
                            // The compiler's own discriminant, so explicit (`HOME = 0`) and
                            // implicit values follow the Rust rules exactly.
                            intvalue: #ident::#variants as i64,
                        },
                    )*],
                });
        }

        impl<'__reflex> ::reflex::FromParam<'__reflex> for #ident {
            fn from_param(
                v: ::reflex::scan::Value,
                d: &mut ::reflex::decode::Decoder<'__reflex>,
            ) -> ::core::option::Option<Self> {
                // Names and values are looked up in the descriptor, the single source of truth.
                let ::reflex::schema::TypeDesc::Enum(desc) = <Self as ::reflex::Describe>::TYPE else {
                    return ::core::option::Option::None;
                };
                let index = match v.kind {
                    ::reflex::scan::Kind::String => {
                        let s = v.as_str(d.buf())?;
                        desc.values.iter().position(|e| s.eq_str(e.name))?
                    }
                    ::reflex::scan::Kind::Int => {
                        let (neg, magnitude) = ::reflex::scan::parse_int(d.text(v))?;
                        let n = if neg {
                            0i64.checked_sub_unsigned(magnitude)?
                        } else {
                            i64::try_from(magnitude).ok()?
                        };
                        desc.values.iter().position(|e| e.intvalue == n)?
                    }
                    _ => return ::core::option::Option::None,
                };
                match index {
                    #(#indices => ::core::option::Option::Some(#ident::#variants),)*
                    _ => ::core::option::Option::None,
                }
            }
        }

        impl #impl_generics ::reflex::__private::serde::Serialize for #ident #ty_generics #where_clause {
            fn serialize<__S: ::reflex::__private::serde::Serializer>(
                &self,
                serializer: __S,
            ) -> ::core::result::Result<__S::Ok, __S::Error> {
                #serialize_body
            }
        }
    }
}

fn expand_struct(
    input: &DeriveInput,
    data: &syn::DataStruct,
    name: &str,
    lifetime: Option<&Lifetime>,
    errors: &mut Errors,
) -> TokenStream {
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let description = docs::description(&input.attrs);

    let fields: Vec<_> = data.fields.iter().collect();
    let names: Vec<_> =
        fields.iter().map(|f| member_name(&f.attrs, f.ident.as_ref().expect("named field"), errors)).collect();
    check_unique(&names, "field", errors);

    let field_idents: Vec<_> = fields.iter().map(|f| f.ident.as_ref().expect("named field")).collect();
    let field_types: Vec<_> = fields.iter().map(|f| &f.ty).collect();
    let static_types: Vec<_> = fields.iter().map(|f| static_lifetimes(&f.ty)).collect();
    let wire: Vec<_> = names.iter().map(|(n, _)| n).collect();
    let field_docs: Vec<_> = fields.iter().map(|f| docs::description(&f.attrs)).collect();
    let count = fields.len();

    // `FromParam` borrows from the request for the type's own lifetime; a type without one
    // gets a fresh lifetime, and its field bounds make the impl exist exactly for the
    // lifetimes its fields can be decoded for (`&'static str` fields: only `'static`).
    let (lt, from_generics) = match lifetime {
        Some(lt) => (lt.clone(), quote!(#impl_generics)),
        None => {
            let lt = Lifetime::new("'__reflex", Span::call_site());
            (lt.clone(), quote!(<#lt>))
        }
    };
    // One by one: the clause may or may not end with a comma.
    let existing_predicates = where_clause.iter().flat_map(|w| &w.predicates);
    let field_bounds = field_types.iter().map(|ty| quote_spanned!(ty.span()=> #ty: ::reflex::FromParam<#lt>,));

    quote! {
        impl #impl_generics ::reflex::Describe for #ident #ty_generics #where_clause {
            const TYPE: &'static ::reflex::schema::TypeDesc =
                &::reflex::schema::TypeDesc::NamedHash(&::reflex::schema::HashDesc {
                    name: #name,
                    description: #description,
                    fields: &[#(
                        ::reflex::schema::FieldDesc {
                            name: #wire,
                            ty: <#static_types as ::reflex::Describe>::TYPE,
                            description: #field_docs,
                        },
                    )*],
                });
        }

        impl #from_generics ::reflex::FromParam<#lt> for #ident #ty_generics
        where
            #(#existing_predicates,)*
            #(#field_bounds)*
        {
            fn from_param(
                v: ::reflex::scan::Value,
                d: &mut ::reflex::decode::Decoder<#lt>,
            ) -> ::core::option::Option<Self> {
                if v.kind != ::reflex::scan::Kind::Object {
                    return ::core::option::Option::None;
                }
                ::core::option::Option::Some(#ident {
                    #(#field_idents: {
                        let member = d.member(v, #wire)?;
                        <#field_types as ::reflex::FromParam<#lt>>::from_param(member, d)?
                    },)*
                })
            }
        }

        impl #impl_generics ::reflex::__private::serde::Serialize for #ident #ty_generics #where_clause {
            fn serialize<__S: ::reflex::__private::serde::Serializer>(
                &self,
                serializer: __S,
            ) -> ::core::result::Result<__S::Ok, __S::Error> {
                #[allow(unused_mut)] // a struct without fields writes none
                let mut state = ::reflex::__private::serde::Serializer::serialize_struct(serializer, #name, #count)?;
                #(::reflex::__private::serde::ser::SerializeStruct::serialize_field(&mut state, #wire, &self.#field_idents)?;)*
                ::reflex::__private::serde::ser::SerializeStruct::end(state)
            }
        }
    }
}
