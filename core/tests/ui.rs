//! Compile tests of the declaration macros: what must compile, and the error messages of
//! what must not. The `.stderr` goldens depend on the rustc version; regenerate them with
//! `TRYBUILD=overwrite cargo test -p reflex --test ui` after a toolchain update and read the
//! diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
