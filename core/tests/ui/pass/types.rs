//! What `#[derive(reflex::Type)]` implements, for the shapes it accepts.

use reflex::{Describe, FromParam};

/// Values with gaps: intvalues follow the Rust discriminants.
#[derive(reflex::Type)]
#[repr(u8)]
pub enum Gaps {
    A = 3,
    B,
    C = 10,
}

/// An empty enum is a valid (if useless) enum type.
#[derive(reflex::Type)]
pub enum Never {}

/// A where clause with a trailing comma is passed through.
#[derive(reflex::Type)]
pub struct Bounded<'x>
where
    &'x str: Copy,
{
    pub name: &'x str,
    pub nested: Inner,
}

/// Without a lifetime, `&'static str` fields decode only from `'static` input.
#[derive(reflex::Type)]
pub struct Inner {
    pub model: &'static str,
    pub list: heapless::Vec<Gaps, 2>,
}

/// No fields at all.
#[derive(reflex::Type)]
pub struct Empty {}

fn decodable<'a, T: FromParam<'a>>() {}
fn serializable<T: reflex::__private::serde::Serialize>() {}

fn main() {
    decodable::<Gaps>();
    decodable::<Never>();
    decodable::<Bounded<'_>>();
    decodable::<Inner>();
    decodable::<Empty>();
    serializable::<Never>();
    serializable::<Bounded<'_>>();
    serializable::<Empty>();
    let _ = <Bounded<'static> as Describe>::TYPE;
}
