//! Small helpers shared by the two macros.

use proc_macro2::Span;
use syn::visit::Visit;
use syn::visit_mut::VisitMut;
use syn::{Lifetime, LitStr, Type};

/// `ty` with every lifetime (named, `'_` or elided on a reference) replaced by `'static`.
///
/// Descriptors are `const`s in flash, where only `'static` can be named; the lifetime never
/// changes what a type is described as (`&'a str` and `&'static str` are both `string`).
pub fn static_lifetimes(ty: &Type) -> Type {
    struct Staticize;
    impl VisitMut for Staticize {
        fn visit_lifetime_mut(&mut self, l: &mut Lifetime) {
            *l = Lifetime::new("'static", l.span());
        }
        fn visit_type_reference_mut(&mut self, r: &mut syn::TypeReference) {
            if r.lifetime.is_none() {
                r.lifetime = Some(Lifetime::new("'static", r.and_token.span));
            }
            syn::visit_mut::visit_type_reference_mut(self, r);
        }
    }
    let mut ty = ty.clone();
    Staticize.visit_type_mut(&mut ty);
    ty
}

/// Whether `ty` names `Self` or one of `idents` (the generic type and const parameters of
/// the enclosing `impl`): such a type can only be checked where those are in scope.
pub fn mentions(ty: &Type, idents: &[syn::Ident]) -> bool {
    struct Finder<'a> {
        idents: &'a [syn::Ident],
        found: bool,
    }
    impl<'ast> Visit<'ast> for Finder<'_> {
        fn visit_ident(&mut self, i: &'ast syn::Ident) {
            if i == "Self" || self.idents.iter().any(|g| g == i) {
                self.found = true;
            }
        }
    }
    let mut f = Finder { idents, found: false };
    f.visit_type(ty);
    f.found
}

/// The last segment of a path type (`Result` for `core::result::Result<T, E>`).
pub fn last_segment(ty: &Type) -> Option<&syn::PathSegment> {
    match ty {
        Type::Path(p) if p.qself.is_none() => p.path.segments.last(),
        Type::Group(g) => last_segment(&g.elem),
        Type::Paren(p) => last_segment(&p.elem),
        _ => None,
    }
}

/// A string literal with the given value and span (for names shown in error messages).
pub fn lit(value: &str, span: Span) -> LitStr {
    LitStr::new(value, span)
}

/// Collects errors so that one expansion reports all of them at once.
#[derive(Default)]
pub struct Errors(Option<syn::Error>);

impl Errors {
    /// Records an error.
    pub fn push(&mut self, e: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(e),
            None => self.0 = Some(e),
        }
    }

    /// Records an error at `span`.
    pub fn at(&mut self, span: Span, msg: impl std::fmt::Display) {
        self.push(syn::Error::new(span, msg));
    }

    /// `Err` with every recorded error, if any.
    pub fn finish(self) -> syn::Result<()> {
        match self.0 {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}
