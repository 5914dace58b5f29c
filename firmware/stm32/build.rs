//! Passes the linker scripts: cortex-m-rt's `link.x` (which includes the `memory.x` that
//! embassy-stm32's `memory-x` feature provides) and defmt's.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rustc-link-arg-bins=--nmagic");
    println!("cargo:rustc-link-arg-bins=-Tlink.x");
    println!("cargo:rustc-link-arg-bins=-Tdefmt.x");
}
