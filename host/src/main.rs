//! The `reflex` command line (being written).
fn main() {}
