//! The whole request path, `reflex::io::handle_to_slice`, with the demo service: 1.0 and
//! 2.0 requests, batches, reflection.
//!
//! Every input runs three times, each on a fresh demo service:
//! * default configuration, 64 KiB output: the reply obeys every rule of
//!   `reflex_fuzz::check_reply` (valid JSON, ids echoed, nothing for notifications, one
//!   parse error for what is not JSON);
//! * the same with a 256-byte output: a reply that does not fit is a clean `Err(Overflow)`,
//!   one that fits is byte for byte the large run's;
//! * a configuration picked from the input (depth limit, lenient floats, exposed internal
//!   errors, ReflectRPC parse errors) with a scratch area that may be too small: the same
//!   rules hold.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reflex::io::handle_to_slice;
use reflex::{Config, RpcInfo, Transport};
use reflex_fuzz::{check_reply, demo, show};

const LARGE: usize = 64 * 1024;
const SMALL: usize = 256;

fn run(config: &Config, request: &[u8], scratch: usize, out: usize) -> Result<Vec<u8>, reflex::io::Overflow> {
    let service = demo();
    let info = RpcInfo::new(Transport::InProcess);
    let mut scratch = vec![0u8; scratch];
    let mut buf = vec![0u8; out];
    let n = handle_to_slice(&service, config, request, &mut scratch, &info, &mut buf)?;
    buf.truncate(n);
    Ok(buf)
}

fn reply(bytes: &[u8]) -> Option<&[u8]> {
    (!bytes.is_empty()).then_some(bytes)
}

fuzz_target!(|data: &[u8]| {
    let config = Config::new();
    let large = run(&config, data, data.len(), LARGE);
    if let Ok(r) = &large {
        check_reply(&config, data, reply(r));
    }

    let small = run(&config, data, data.len(), SMALL);
    match (&small, &large) {
        (Ok(s), Ok(l)) => assert_eq!(s, l, "small and large outputs differ for {}", show(data)),
        (Ok(s), Err(_)) => panic!("fits 256 bytes ({}) but not 64 KiB: {}", show(s), show(data)),
        (Err(_), Ok(l)) => assert!(l.len() > SMALL, "{} bytes overflowed 256: {}", l.len(), show(data)),
        (Err(_), Err(_)) => {}
    }

    // Another configuration, from a hash of the input (so seeds stay plain requests).
    let h = data.iter().fold(0x811c_9dc5u32, |h, &b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
    let alt = Config::new()
        .max_depth([1, 2, 3, 8, 32, 64, 65, 255][(h & 7) as usize])
        .strict_floats(h & 8 == 0)
        .expose_internal_errors(h & 16 != 0)
        .v1_parse_errors(h & 32 != 0);
    let scratch = if h & 64 != 0 { (h >> 8) as usize % 16 } else { data.len() };
    if let Ok(r) = run(&alt, data, scratch, LARGE) {
        check_reply(&alt, data, reply(&r));
    }
});
