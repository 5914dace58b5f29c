//! Pushes N copies of one request through a dispatch path in memory and prints the last reply,
//! so that `valgrind --tool=callgrind` gives a deterministic instruction count per request:
//! `(Ir(N=1001) - Ir(N=1)) / 1000` (`bench/core-cost.sh` does that for every request kind).
//!
//! Usage: `core-cost [N] [v2|v1|batch|describe] [reflex|jsonrpsee|serde_json]` (defaults: 1,
//! v2, reflex). The path's buffers are made before the first request; every request goes
//! through `core_cost_measured_request`, which callgrind isolates with
//! `--toggle-collect='*core_cost_measured_request*'`.

use reflex_bench::{AnyPath, Kind, Path};

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1);
    let kind = match args.next().as_deref() {
        None => Kind::V2,
        Some(name) => Kind::parse(name).unwrap_or_else(|| {
            eprintln!("unknown request kind {name}: use v2, v1, batch or describe");
            std::process::exit(2);
        }),
    };
    let path = match args.next().as_deref() {
        None => Path::Reflex,
        Some(name) => Path::parse(name).unwrap_or_else(|| {
            eprintln!("unknown path {name}: use reflex, jsonrpsee or serde_json");
            std::process::exit(2);
        }),
    };
    if !path.supports(kind) {
        eprintln!("{} does not speak JSON-RPC 1.0", path.name());
        std::process::exit(2);
    }
    let mut p = AnyPath::new(path);
    let request = kind.request();
    let mut len = 0;
    for _ in 0..n {
        len = core_cost_measured_request(&mut p, request);
    }
    // Once more, outside the measured function, to print the reply.
    let reply = p.handle(request);
    assert_eq!(reply.len(), len);
    println!("{}", String::from_utf8_lossy(reply));
}

/// One request, not inlined, so that callgrind can attribute exactly the request path.
#[inline(never)]
fn core_cost_measured_request(p: &mut AnyPath, request: &[u8]) -> usize {
    p.handle(std::hint::black_box(request)).len()
}
