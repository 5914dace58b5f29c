//! `#[reflex::service(...)]`: an inherent `impl` block becomes a described, dispatchable
//! service.
//!
//! The expansion is three things next to the (cleaned) `impl` block:
//! * `impl reflex::Service`: `DESC`, the static table, and `call`, a `match` on the function
//!   id that decodes the arguments, calls the method and writes the reply;
//! * `const _: () = assert!(..)` items for what only const evaluation knows (which custom
//!   types a Rust type uses);
//! * `compile_error!`s for duplicate names that only collide under some `cfg`s.
//!
//! Function ids are declaration indices, assigned before `cfg` removes anything, so every
//! build of a firmware agrees on them and the dispatcher never needs a name lookup.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::ext::IdentExt;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Attribute, FnArg, ImplItem, ImplItemFn, ItemImpl, LitStr, Pat, ReturnType, Token, Type};

use crate::docs;
use crate::util::{last_segment, lit, mentions, static_lifetimes, Errors};

/// Mirrors `reflex::decode::MAX_PARAMS`, for an early error with a good span; a `const`
/// assertion against the real constant backs it up.
const MAX_PARAMS: usize = 16;

/// Names the core answers itself.
const RESERVED: [&str; 3] = ["__describe_service", "__describe_functions", "__describe_custom_types"];

/// The primitive type names `#[rpc(result_type = "...")]` accepts, and their descriptors.
const RESULT_TYPES: [(&str, &str); 8] = [
    ("bool", "Bool"),
    ("int", "Int(::reflex::schema::IntKind::I64)"),
    ("float", "Float"),
    ("string", "String(::core::option::Option::None)"),
    ("base64", "Base64"),
    ("array", "Array"),
    ("hash", "Hash"),
    ("null", "Null"),
];

/// The arguments of `#[service(...)]`.
#[derive(Default)]
struct Args {
    name: Option<LitStr>,
    version: Option<LitStr>,
    description: Option<LitStr>,
    custom_fields: Option<LitStr>,
    types: Vec<Type>,
}

impl Args {
    fn parse(attr: TokenStream) -> syn::Result<Args> {
        let mut args = Args::default();
        let parser = syn::meta::parser(|meta| {
            let slot = if meta.path.is_ident("name") {
                &mut args.name
            } else if meta.path.is_ident("version") {
                &mut args.version
            } else if meta.path.is_ident("description") {
                &mut args.description
            } else if meta.path.is_ident("custom_fields") {
                &mut args.custom_fields
            } else if meta.path.is_ident("types") {
                let content;
                syn::parenthesized!(content in meta.input);
                let list = Punctuated::<Type, Token![,]>::parse_terminated(&content)?;
                args.types.extend(list);
                return Ok(());
            } else {
                return Err(meta.error(
                    "reflex: unknown service argument; expected `name`, `version`, `description`, `custom_fields` or `types(...)`",
                ));
            };
            if slot.is_some() {
                return Err(meta.error("reflex: this service argument is given twice"));
            }
            *slot = Some(meta.value()?.parse()?);
            Ok(())
        });
        parser.parse2(attr)?;
        Ok(args)
    }
}

/// What `#[rpc(...)]` on a function says.
#[derive(Default)]
struct RpcAttr {
    skip: bool,
    name: Option<LitStr>,
    result_type: Option<LitStr>,
}

/// Reads and removes the `#[rpc(...)]` attributes of a function.
fn take_rpc_attr(attrs: &mut Vec<Attribute>, errors: &mut Errors) -> RpcAttr {
    let mut out = RpcAttr::default();
    attrs.retain(|attr| {
        if !attr.path().is_ident("rpc") {
            return true;
        }
        let r = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("skip") {
                out.skip = true;
            } else if meta.path.is_ident("name") {
                out.name = Some(meta.value()?.parse()?);
            } else if meta.path.is_ident("result_type") {
                out.result_type = Some(meta.value()?.parse()?);
            } else {
                return Err(meta.error(
                    "reflex: unknown #[rpc] argument; expected `name = \"...\"`, `result_type = \"...\"` or `skip`",
                ));
            }
            Ok(())
        });
        if let Err(e) = r {
            errors.push(e);
        }
        false
    });
    out
}

/// One wire parameter.
struct Param {
    name: String,
    ty: Type,
    description: String,
}

/// One argument of the method call, in the method's order.
enum CallArg {
    /// Wire parameter number n.
    Wire(usize),
    /// The call context (`&RpcInfo`).
    Info,
}

/// One exported function.
struct Export {
    id: u16,
    ident: syn::Ident,
    name: String,
    name_span: Span,
    cfgs: Vec<Attribute>,
    params: Vec<Param>,
    call_args: Vec<CallArg>,
    ret: ReturnType,
    result_override: Option<TokenStream>,
    is_async: bool,
    description: String,
    result_desc: String,
}

/// Whether `ty` is a reference to a type whose path ends in `RpcInfo` (the call context).
fn is_rpc_info(ty: &Type) -> bool {
    match ty {
        Type::Reference(r) => last_segment(&r.elem).is_some_and(|s| s.ident == "RpcInfo"),
        Type::Group(g) => is_rpc_info(&g.elem),
        Type::Paren(p) => is_rpc_info(&p.elem),
        _ => false,
    }
}

/// Checks one function and collects what the expansion needs; `None` if it is skipped.
fn export(f: &mut ImplItemFn, id: usize, errors: &mut Errors) -> Option<Export> {
    let rpc = take_rpc_attr(&mut f.attrs, errors);
    if rpc.skip {
        if let Some(n) = rpc.name.as_ref().or(rpc.result_type.as_ref()) {
            errors.at(n.span(), "reflex: a skipped function is not exported; drop the other #[rpc] arguments");
        }
        return None;
    }
    let sig = &f.sig;
    let ident = sig.ident.clone();
    let (name, name_span) = match &rpc.name {
        Some(lit) => (lit.value(), lit.span()),
        None => (ident.unraw().to_string(), ident.span()),
    };
    let Ok(id) = u16::try_from(id) else {
        errors.at(ident.span(), "reflex: a service may export at most 65536 functions");
        return None;
    };

    for param in &sig.generics.params {
        if !matches!(param, syn::GenericParam::Lifetime(_)) {
            errors.at(
                param.span(),
                format_args!("reflex: exported function `{name}` cannot have type or const parameters: the dispatcher must know every parameter's type"),
            );
        }
    }
    if let Some(v) = &sig.variadic {
        errors.at(v.span(), "reflex: exported functions cannot be variadic");
    }

    let mut params = Vec::new();
    let mut call_args = Vec::new();
    let mut has_receiver = false;
    for input in &sig.inputs {
        match input {
            FnArg::Receiver(r) => {
                has_receiver = true;
                let shared_self = matches!(&*r.ty, Type::Reference(rf)
                    if rf.mutability.is_none() && matches!(&*rf.elem, Type::Path(p) if p.path.is_ident("Self")));
                if !shared_self {
                    errors.push(syn::Error::new_spanned(
                        r,
                        format_args!(
                            "reflex: exported function `{name}` must take `&self`: calls may run concurrently and the service is shared (use interior mutability, e.g. atomics)"
                        ),
                    ));
                }
            }
            FnArg::Typed(pt) => {
                if is_rpc_info(&pt.ty) {
                    call_args.push(CallArg::Info);
                    continue;
                }
                if last_segment(&pt.ty).is_some_and(|s| s.ident == "RpcInfo") {
                    errors.at(pt.ty.span(), "reflex: take the call context by reference: `&RpcInfo<'_>`");
                    continue;
                }
                if matches!(&*pt.ty, Type::ImplTrait(_)) {
                    errors.at(
                        pt.ty.span(),
                        format_args!("reflex: exported function `{name}` cannot take `impl Trait`: the dispatcher must know every parameter's type"),
                    );
                    continue;
                }
                let Pat::Ident(pi) = &*pt.pat else {
                    errors.at(pt.pat.span(), "reflex: parameters of exported functions must be plain identifiers (the identifier is the parameter's name on the wire)");
                    continue;
                };
                if pi.by_ref.is_some() || pi.subpat.is_some() {
                    errors.at(pi.span(), "reflex: parameters of exported functions must be plain identifiers (the identifier is the parameter's name on the wire)");
                    continue;
                }
                // `_value` lets a handler ignore a parameter without a warning; the client
                // still calls it `value`.
                let raw = pi.ident.unraw().to_string();
                let wire = match raw.trim_start_matches('_') {
                    "" => raw.clone(),
                    trimmed => trimmed.to_string(),
                };
                if params.iter().any(|p: &Param| p.name == wire) {
                    errors.at(
                        pi.ident.span(),
                        format_args!("reflex: `{name}` has two parameters named `{wire}` on the wire"),
                    );
                }
                call_args.push(CallArg::Wire(params.len()));
                params.push(Param { name: wire, ty: (*pt.ty).clone(), description: String::new() });
            }
        }
    }
    if !has_receiver {
        errors.at(
            ident.span(),
            format_args!("reflex: exported function `{name}` must take `&self` (mark helpers that are not remote procedures with #[rpc(skip)])"),
        );
    }
    if params.len() > MAX_PARAMS {
        errors.at(
            ident.span(),
            format_args!("reflex: `{name}` has {} parameters; at most {MAX_PARAMS} are supported", params.len()),
        );
    }

    let result_override = rpc.result_type.as_ref().and_then(|lit| {
        let v = lit.value();
        match RESULT_TYPES.iter().find(|(n, _)| *n == v) {
            Some((_, variant)) => {
                let variant: TokenStream = variant.parse().expect("valid tokens");
                Some(quote_spanned!(lit.span()=> &::reflex::schema::TypeDesc::#variant))
            }
            None => {
                errors.at(
                    lit.span(),
                    format_args!("reflex: unknown result_type `{v}`; expected one of bool, int, float, string, base64, array, hash, null"),
                );
                None
            }
        }
    });

    let names: Vec<Vec<String>> = sig
        .inputs
        .iter()
        .filter_map(|i| match i {
            FnArg::Typed(pt) if !is_rpc_info(&pt.ty) => match &*pt.pat {
                Pat::Ident(pi) => Some(pi.ident.unraw().to_string()),
                _ => None,
            },
            _ => None,
        })
        .zip(&params)
        .map(|(rust, p)| vec![p.name.clone(), rust])
        .collect();
    let fn_docs = docs::function(&f.attrs, &names);
    for (p, d) in params.iter_mut().zip(fn_docs.params) {
        p.description = d;
    }

    Some(Export {
        id,
        ident,
        name,
        name_span,
        cfgs: f.attrs.iter().filter(|a| a.path().is_ident("cfg")).cloned().collect(),
        params,
        call_args,
        ret: sig.output.clone(),
        result_override,
        is_async: sig.asyncness.is_some(),
        description: fn_docs.description,
        result_desc: fn_docs.result,
    })
}

/// Checks the text of `custom_fields` and returns it without insignificant whitespace (the
/// core embeds it in replies as is, and a line-delimited transport must not see a newline).
fn custom_fields(lit: &LitStr) -> syn::Result<String> {
    let text = lit.value();
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(serde_json::Value::Object(_)) => Ok(minify(&text)),
        Ok(_) => Err(syn::Error::new(
            lit.span(),
            "reflex: custom_fields must be a JSON object, e.g. r#\"{\"board\": \"pico\"}\"#",
        )),
        Err(e) => Err(syn::Error::new(lit.span(), format_args!("reflex: custom_fields is not valid JSON: {e}"))),
    }
}

/// Removes whitespace outside strings from valid JSON text.
fn minify(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if !c.is_ascii_whitespace() {
            in_string = c == '"';
            out.push(c);
        }
    }
    out
}

pub fn expand(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let mut item: ItemImpl = syn::parse2(item)?;
    let args = match Args::parse(attr) {
        Ok(args) => args,
        Err(e) => {
            // Keep the impl block so that uses of its methods do not add follow-on errors.
            let mut out = e.into_compile_error();
            out.extend(item.into_token_stream());
            return Ok(out);
        }
    };
    let mut errors = Errors::default();

    if let Some((_, path, _)) = &item.trait_ {
        return Err(syn::Error::new(
            path.span(),
            "reflex: #[service] goes on an inherent impl block (`impl MyService { ... }`), not on a trait impl",
        ));
    }

    // Collect the exported functions, cleaning `#[rpc]` off the emitted block.
    let mut exports = Vec::new();
    let mut next_id = 0;
    for impl_item in &mut item.items {
        match impl_item {
            ImplItem::Fn(f) => {
                if let Some(e) = export(f, next_id, &mut errors) {
                    exports.push(e);
                    next_id += 1;
                }
            }
            other => {
                let attrs = match other {
                    ImplItem::Const(c) => &mut c.attrs,
                    ImplItem::Type(t) => &mut t.attrs,
                    ImplItem::Macro(m) => &mut m.attrs,
                    _ => continue,
                };
                if let Some(a) = attrs.iter().find(|a| a.path().is_ident("rpc")) {
                    errors.at(a.span(), "reflex: #[rpc] belongs on functions");
                }
                attrs.retain(|a| !a.path().is_ident("rpc"));
            }
        }
    }

    let name = args.name.clone().unwrap_or_else(|| {
        errors.at(Span::call_site(), "reflex: #[service] needs `name = \"...\"`");
        lit("", Span::call_site())
    });
    let version = args.version.clone().unwrap_or_else(|| {
        errors.at(Span::call_site(), "reflex: #[service] needs `version = \"...\"`");
        lit("", Span::call_site())
    });
    let description = match &args.description {
        Some(d) => d.value().trim().to_string(),
        None => docs::description(&item.attrs),
    };
    let custom = match &args.custom_fields {
        Some(lit) => custom_fields(lit).unwrap_or_else(|e| {
            errors.push(e);
            String::new()
        }),
        None => "{}".to_string(),
    };

    // Names: reserved ones are always wrong; duplicates are wrong when both functions are
    // compiled in, which only the `cfg`s of the two can say.
    let mut duplicate_checks = TokenStream::new();
    for (i, e) in exports.iter().enumerate() {
        if e.name.is_empty() {
            errors.at(e.name_span, "reflex: function names cannot be empty");
        } else if e.name.starts_with("rpc.") {
            errors.at(
                e.name_span,
                format_args!("reflex: function name `{}` is reserved: JSON-RPC 2.0 reserves names that start with `rpc.` for the protocol", e.name),
            );
        } else if RESERVED.contains(&e.name.as_str()) {
            errors.at(
                e.name_span,
                format_args!(
                    "reflex: function name `{}` is reserved for the built-in reflection (`__describe_service`, `__describe_functions`, `__describe_custom_types`)",
                    e.name
                ),
            );
        }
        if let Some(first) = exports[..i].iter().find(|p| p.name == e.name) {
            let msg = format!(
                "reflex: duplicate function name `{}`: `{}` and `{}` both use it; give one of them another #[rpc(name = \"...\")]",
                e.name, first.ident, e.ident
            );
            if e.cfgs.is_empty() && first.cfgs.is_empty() {
                errors.at(e.name_span, msg);
            } else {
                let cfgs = first.cfgs.iter().chain(&e.cfgs);
                duplicate_checks.extend(quote_spanned!(e.name_span=> #(#cfgs)* ::core::compile_error!{#msg}));
            }
        }
    }

    let mut seen_types: Vec<String> = Vec::new();
    for ty in &args.types {
        let text = ty.to_token_stream().to_string();
        if seen_types.contains(&text) {
            errors.at(ty.span(), format_args!("reflex: `{text}` is listed twice in types(...)"));
        }
        seen_types.push(text);
    }

    if let Err(e) = errors.finish() {
        // Keep the impl block so that uses of its methods do not add follow-on errors.
        let mut out = e.into_compile_error();
        out.extend(item.into_token_stream());
        return Ok(out);
    }

    // Generic parameters of the impl: assertions about types naming them cannot be free
    // `const` items and run inside the dispatcher instead.
    let generic_idents: Vec<syn::Ident> = item
        .generics
        .params
        .iter()
        .filter_map(|p| match p {
            syn::GenericParam::Type(t) => Some(t.ident.clone()),
            syn::GenericParam::Const(c) => Some(c.ident.clone()),
            syn::GenericParam::Lifetime(_) => None,
        })
        .collect();

    let static_types: Vec<Type> = args.types.iter().map(static_lifetimes).collect();
    let types_array = quote!(&[#(<#static_types as ::reflex::Describe>::TYPE),*]);

    let mut checks = TokenStream::new();
    checks.extend(duplicate_checks);
    for (ty, original) in static_types.iter().zip(&args.types) {
        let text = original.to_token_stream().to_string();
        let not_custom = format!(
            "reflex: `{text}` in #[service(types(...))] is not a custom type; list only enums and structs that derive reflex::Type"
        );
        let undeclared =
            format!("reflex: custom type `{text}` uses a custom type that is not declared in #[service(types(...))]");
        let custom = spanned_assert(
            original,
            quote!(::reflex::schema::all_custom(&[<#ty as ::reflex::Describe>::TYPE]), #not_custom),
        );
        let declared = spanned_assert(
            original,
            quote!(::reflex::schema::uses_only(<#ty as ::reflex::Describe>::TYPE, #types_array), #undeclared),
        );
        checks.extend(quote! {
            const _: () = #custom;
            const _: () = #declared;
        });
    }
    if !args.types.is_empty() {
        checks.extend(quote! {
            const _: () = ::core::assert!(
                !::reflex::schema::has_duplicate_type(#types_array),
                "reflex: two entries of #[service(types(...))] have the same type name",
            );
        });
    }

    let mut entries = Vec::new();
    let mut arms = Vec::new();
    for e in &exports {
        let cfgs = &e.cfgs;
        let fn_name = &e.name;
        let mut arm_checks = TokenStream::new();

        // One check per described type: free when possible (errors even if the service is
        // never used), else in the arm (evaluated when the dispatcher is instantiated).
        let mut check = |ty: &Type, msg: String| {
            let assertion = spanned_assert(
                ty,
                quote!(::reflex::schema::uses_only(<#ty as ::reflex::Describe>::TYPE, #types_array), #msg),
            );
            if mentions(ty, &generic_idents) {
                arm_checks.extend(quote!(const { #assertion; }));
            } else {
                checks.extend(quote!(#(#cfgs)* const _: () = #assertion;));
            }
        };

        let mut param_descs = Vec::new();
        for p in &e.params {
            let ty = static_lifetimes(&p.ty);
            check(
                &ty,
                format!(
                    "reflex: parameter `{}` of `{fn_name}` uses a custom type that is not declared in #[service(types(...))]",
                    p.name
                ),
            );
            let (pname, pdesc) = (&p.name, &p.description);
            param_descs.push(quote! {
                ::reflex::schema::ParamDesc {
                    name: #pname,
                    ty: <#ty as ::reflex::Describe>::TYPE,
                    description: #pdesc,
                }
            });
        }

        let result = match (&e.result_override, &e.ret) {
            (Some(t), _) => t.clone(),
            (None, ReturnType::Default) => quote!(<() as ::reflex::Describe>::TYPE),
            (None, ReturnType::Type(_, ty)) => {
                let ty = static_lifetimes(ty);
                check(
                    &ty,
                    format!("reflex: the result of `{fn_name}` uses a custom type that is not declared in #[service(types(...))]"),
                );
                quote!(<#ty as ::reflex::Describe>::TYPE)
            }
        };

        let (id, description, result_desc) = (e.id, &e.description, &e.result_desc);
        let param_count = e.params.len();
        checks.extend(quote_spanned! {e.ident.span()=>
            #(#cfgs)*
            const _: () = ::core::assert!(
                #param_count <= ::reflex::decode::MAX_PARAMS,
                "reflex: an exported function has more parameters than reflex::decode::MAX_PARAMS",
            );
        });
        entries.push(quote! {
            #(#cfgs)*
            ::reflex::schema::FunctionDesc {
                name: #fn_name,
                description: #description,
                params: &[#(#param_descs),*],
                result: #result,
                result_desc: #result_desc,
                id: #id,
            },
        });

        // Arguments are decoded in declaration order; the method's signature picks each
        // one's type by inference, so its lifetimes may be anything.
        let decode = (0..param_count).map(|i| {
            let var = quote::format_ident!("__arg{}", i);
            quote!(let #var = args.get(#i)?;)
        });
        let call_args = e.call_args.iter().map(|a| match a {
            CallArg::Wire(i) => quote::format_ident!("__arg{}", i).into_token_stream(),
            CallArg::Info => quote!(info),
        });
        let ident = &e.ident;
        let await_ = e.is_async.then(|| quote!(.await));
        let call = quote!(self.#ident(#(#call_args),*)#await_);
        let returns_result = match &e.ret {
            ReturnType::Type(_, ty) => last_segment(ty).is_some_and(|s| s.ident == "Result"),
            ReturnType::Default => false,
        };
        // Results whose type is `reflex::dispatch::Infallible` skip `Reply::ok`'s trial run;
        // `Pick` chooses by the concrete type (see its docs).
        let send = quote! {
            {
                #[allow(unused_imports)]
                use ::reflex::__private::{SendChecked as _, SendInfallible as _};
                (&&::reflex::__private::Pick(&value)).send(reply).await
            }
        };
        let respond = match &e.ret {
            ReturnType::Default => quote! {
                #call;
                reply.ok_infallible(&()).await
            },
            ReturnType::Type(..) if returns_result => quote! {
                match #call {
                    ::core::result::Result::Ok(value) => #send,
                    ::core::result::Result::Err(error) => ::core::result::Result::Err(
                        ::reflex::CallError::Rpc(::core::convert::Into::into(error)),
                    ),
                }
            },
            ReturnType::Type(..) => quote! {
                let value = #call;
                #send
            },
        };
        arms.push(quote! {
            #(#cfgs)*
            #id => {
                #arm_checks
                #(#decode)*
                #respond
            }
        });
    }

    let (impl_generics, _, where_clause) = item.generics.split_for_impl();
    let self_ty = &item.self_ty;
    let service_impl = quote! {
        impl #impl_generics ::reflex::Service for #self_ty #where_clause {
            const DESC: &'static ::reflex::schema::ServiceDesc = &::reflex::schema::ServiceDesc {
                name: #name,
                version: #version,
                description: #description,
                custom_fields: #custom,
                functions: &[#(#entries)*],
                types: #types_array,
            };

            #[allow(unused_variables, unused_mut, clippy::let_unit_value, clippy::unit_arg)]
            async fn call<__O: ::reflex::Output>(
                &self,
                f: &'static ::reflex::schema::FunctionDesc,
                mut args: ::reflex::Args<'_>,
                info: &::reflex::RpcInfo<'_>,
                reply: ::reflex::Reply<'_, __O>,
            ) -> ::core::result::Result<(), ::reflex::CallError<__O::Error>> {
                match f.id {
                    #(#arms)*
                    _ => ::core::result::Result::Err(::reflex::CallError::Rpc(
                        ::reflex::Error::internal("no such function id"),
                    )),
                }
            }
        }
    };

    Ok(quote! {
        #item
        #service_impl
        #checks
    })
}

/// `::core::assert!(args)` whose span covers all of `node`: the invocation's span runs from
/// its path (given the first token's span) to its parentheses (given the last token's), so
/// the const-evaluation error underlines the whole type, not just its first token.
fn spanned_assert(node: &impl ToTokens, args: TokenStream) -> TokenStream {
    let mut tokens = node.to_token_stream().into_iter();
    let first = tokens.next().map_or_else(Span::call_site, |t| t.span());
    let last = tokens.last().map_or(first, |t| t.span());
    let mut group = proc_macro2::Group::new(proc_macro2::Delimiter::Parenthesis, args);
    group.set_span(last);
    quote_spanned!(first=> ::core::assert! #group)
}
