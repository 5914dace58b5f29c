//! Puts `memory.x` where cortex-m-rt's `link.x` finds it, and turns the build's environment into
//! constants (`$OUT_DIR/config.rs`) and a cfg:
//!
//! * `QEMU_COUNT_N`: how many times the request is handled (default 1);
//! * `QEMU_COUNT_REQUEST`: `v2` (default), `v1`, `batch` or `describe`: the request, the same
//!   bytes as the host benchmarks' (bench/src/lib.rs);
//! * `QEMU_COUNT_SERVICE`: `demo` (default: the demo device without floats), `tiny` (a service
//!   with one function, declared in main.rs) or `none` (the same skeleton without reflex: it
//!   copies a fixed reply, the baseline of the flash figures).

use std::path::PathBuf;
use std::{env, fs};

const BATCH: &str = r#"[{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1},{"jsonrpc":"2.0","method":"add","params":[1,2],"id":2},{"jsonrpc":"2.0","method":"add","params":[1,2],"id":3},{"jsonrpc":"2.0","method":"add","params":[1,2],"id":4},{"jsonrpc":"2.0","method":"add","params":[1,2],"id":5},{"jsonrpc":"2.0","method":"add","params":[1,2],"id":6},{"jsonrpc":"2.0","method":"add","params":[1,2],"id":7},{"jsonrpc":"2.0","method":"add","params":[1,2],"id":8},{"jsonrpc":"2.0","method":"add","params":[1,2],"id":9},{"jsonrpc":"2.0","method":"add","params":[1,2],"id":10}]"#;

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR is set by cargo"));
    fs::write(out.join("memory.x"), include_bytes!("memory.x")).expect("write memory.x");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rustc-link-arg-bins=-Tlink.x");
    println!("cargo:rerun-if-changed=memory.x");
    println!("cargo:rerun-if-changed=build.rs");
    for var in ["QEMU_COUNT_N", "QEMU_COUNT_REQUEST", "QEMU_COUNT_SERVICE"] {
        println!("cargo:rerun-if-env-changed={var}");
    }

    let n: u32 = env::var("QEMU_COUNT_N").ok().map_or(1, |v| v.parse().expect("QEMU_COUNT_N is a number"));
    let request = match env::var("QEMU_COUNT_REQUEST").as_deref() {
        Err(_) | Ok("v2") => r#"{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1}"#,
        Ok("v1") => r#"{"method": "add", "params": [1, 2], "id": 1}"#,
        Ok("batch") => BATCH,
        Ok("describe") => r#"{"jsonrpc":"2.0","method":"__describe_functions","id":1}"#,
        Ok(other) => panic!("QEMU_COUNT_REQUEST={other}: use v2, v1, batch or describe"),
    };
    let service = env::var("QEMU_COUNT_SERVICE").unwrap_or_else(|_| "demo".into());
    assert!(
        matches!(service.as_str(), "demo" | "tiny" | "none"),
        "QEMU_COUNT_SERVICE={service}: use demo, tiny or none"
    );
    println!("cargo:rustc-check-cfg=cfg(service, values(\"demo\", \"tiny\", \"none\"))");
    println!("cargo:rustc-cfg=service=\"{service}\"");
    fs::write(
        out.join("config.rs"),
        format!("/// Requests handled.\nconst N: u32 = {n};\n/// The request.\nstatic REQUEST: &[u8] = {request:?}.as_bytes();\n"),
    )
    .expect("write config.rs");
}
