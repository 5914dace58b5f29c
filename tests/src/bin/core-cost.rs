//! Pushes N copies of one request through the core in memory and prints the last reply, so
//! that `valgrind --tool=callgrind` gives a deterministic instruction count per request:
//! `(Ir(N=1001) - Ir(N=1)) / 1000`.
//!
//! Usage: `core-cost [N] [v2|v1|batch|describe]` (defaults: 1, v2).

use reflex::{Config, RpcInfo, Transport};

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1);
    let request: &[u8] = match args.next().as_deref() {
        None | Some("v2") => br#"{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1}"#,
        Some("v1") => br#"{"method": "add", "params": [1, 2], "id": 1}"#,
        Some("batch") => br#"[{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1},{"jsonrpc":"2.0","method":"add","params":[1,2],"id":2},{"jsonrpc":"2.0","method":"add","params":[1,2],"id":3},{"jsonrpc":"2.0","method":"add","params":[1,2],"id":4},{"jsonrpc":"2.0","method":"add","params":[1,2],"id":5},{"jsonrpc":"2.0","method":"add","params":[1,2],"id":6},{"jsonrpc":"2.0","method":"add","params":[1,2],"id":7},{"jsonrpc":"2.0","method":"add","params":[1,2],"id":8},{"jsonrpc":"2.0","method":"add","params":[1,2],"id":9},{"jsonrpc":"2.0","method":"add","params":[1,2],"id":10}]"#,
        Some("describe") => br#"{"jsonrpc":"2.0","method":"__describe_functions","id":1}"#,
        Some(other) => {
            eprintln!("unknown request kind {other}: use v2, v1, batch or describe");
            std::process::exit(2);
        }
    };
    let config = Config::new();
    let info = RpcInfo::new(Transport::InProcess);
    let mut scratch = [0u8; 1024];
    let mut out = vec![0u8; 64 * 1024];
    let mut len = 0;
    for _ in 0..n {
        len = run(request, &config, &info, &mut scratch, &mut out);
    }
    println!("{}", String::from_utf8_lossy(&out[..len]));
}

// Not inlined, so callgrind can attribute the request path with --toggle-collect=*run*.
#[inline(never)]
fn run(request: &[u8], config: &Config, info: &RpcInfo<'_>, scratch: &mut [u8], out: &mut [u8]) -> usize {
    reflex::io::handle_to_slice(&reflex_tests::DEMO, config, std::hint::black_box(request), scratch, info, out)
        .expect("reply fits")
}
