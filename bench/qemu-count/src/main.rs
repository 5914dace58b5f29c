//! Counts what one request costs on a Cortex-M3 (QEMU's lm3s6965evb), for `bench/device.sh`.
//!
//! The firmware handles one request, embedded in flash, `N` times with
//! `reflex::io::handle_to_slice`, writes the last reply to semihosting stdout and exits through
//! semihosting (0 if the reply has a result). Run under `qemu-system-arm -singlestep -d
//! exec,nochain`, every executed instruction logs one line: built with N=1 and N=100,
//! (count(100) - count(1)) / 99 is the cost of one request, start-up and exit cancelled out.
//!
//! Built with `QEMU_COUNT_SERVICE=none`, it is the same skeleton without reflex (it copies a
//! fixed reply), so its flash is the baseline that the `tiny` and `demo` builds are measured
//! against. build.rs turns the environment into `N`, `REQUEST` and the `service` cfg.
#![no_std]
#![no_main]

use core::hint::black_box;

use cortex_m_rt::entry;
use semihosting::io::Write as _;

include!(concat!(env!("OUT_DIR"), "/config.rs"));

/// Unescaped string parameters.
const SCRATCH_LEN: usize = 512;
/// The reply: `__describe_functions` of the demo without floats is about 6 KB.
const OUT_LEN: usize = 8 * 1024;

#[cfg(service = "tiny")]
mod tiny {
    /// The smallest useful service: one function.
    pub struct Tiny;

    /// A device with one function.
    #[reflex::service(name = "tiny", version = "1.0.0")]
    impl Tiny {
        /// Adds two integers.
        ///
        /// - `a`: the first summand
        /// - `b`: the second summand
        ///
        /// Returns: the sum
        fn add(&self, a: i32, b: i32) -> i32 {
            a.wrapping_add(b)
        }
    }
}

#[cfg(service = "tiny")]
static SERVICE: tiny::Tiny = tiny::Tiny;
#[cfg(service = "demo")]
static SERVICE: reflex_demo::Demo<reflex_demo::NoPlatform> = reflex_demo::Demo::new(reflex_demo::NoPlatform);

/// One request: the engine with the default configuration (or, in the baseline, a copy).
#[inline(never)]
fn handle(request: &[u8], scratch: &mut [u8], out: &mut [u8]) -> usize {
    #[cfg(not(service = "none"))]
    {
        let config = reflex::Config::new();
        let info = reflex::RpcInfo::new(reflex::Transport::InProcess);
        reflex::io::handle_to_slice(&SERVICE, &config, request, scratch, &info, out).unwrap_or(0)
    }
    #[cfg(service = "none")]
    {
        let _ = (request, scratch);
        let reply = br#"{"jsonrpc":"2.0","result":3,"id":1}"#;
        out[..reply.len()].copy_from_slice(reply);
        reply.len()
    }
}

#[entry]
fn main() -> ! {
    let mut scratch = [0u8; SCRATCH_LEN];
    let mut out = [0u8; OUT_LEN];
    let mut len = 0;
    for _ in 0..N {
        len = handle(black_box(REQUEST), &mut scratch, &mut out);
    }
    let reply = &out[..len];
    if let Ok(mut stdout) = semihosting::io::stdout() {
        let _ = stdout.write_all(reply);
        let _ = stdout.write_all(b"\n");
    }
    let ok = reply.windows(8).any(|w| w == b"\"result\"");
    semihosting::process::exit(if ok { 0 } else { 1 })
}

/// Exits with 101: no formatting machinery, so that the flash figures hold the core alone.
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    semihosting::process::exit(101)
}
