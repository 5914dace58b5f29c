//! The reflex demo device on QEMU's `lm3s6965evb` (a Cortex-M3): newline-delimited JSON-RPC
//! 1.0/2.0 on UART0, served by the core's blocking `reflex::io::serve`.
//!
//! * UART0 carries JSON-RPC only. Logs go out as defmt frames over semihosting (feature
//!   `defmt`): the boot line, one line per request (the function called, its outcome, the
//!   stack it took), errors. `run.sh` saves them to a file; `defmt-print -e <elf>` decodes it.
//! * The guest sleeps in `WFI` while it waits for input (see `uart`), so an idle QEMU costs
//!   the host next to no CPU.
//! * Time comes from SysTick (`clock`). With `defmt`, the stack is painted at boot and
//!   measured after every request (`stack`), so the log reports each request's peak stack
//!   depth (`size.sh` tabulates it).
//!
//! Memory: the three connection buffers (8 KiB receive, 4 KiB scratch, 128 B transmit) are
//! statics; everything else is on the stack. Interrupts stay masked (PRIMASK) from the first
//! instruction of `main`: no interrupt handler ever runs, pending interrupts only wake `WFI`.
//!
//! `unsafe` is confined to what bare metal needs, and each use says why it is sound: the
//! UART's register accesses, its interrupt number and its NVIC unmasking (`uart`), and stack
//! painting (`stack`). The buffers come from `cortex_m::singleton!`, which hides its
//! `static mut` behind a run-once check.
#![no_std]
#![no_main]

#[macro_use]
mod fmt;
mod clock;
mod stack;
mod uart;

use core::cell::Cell;

use cortex_m_rt::entry;
use reflex::io::Buffers;
use reflex::schema::{FunctionDesc, ServiceDesc};
use reflex::{Args, CallError, Config, Output, Reply, RpcInfo, Service, Transport};
use reflex_demo::{Demo, Platform};

// The defmt global logger (frames to semihosting stdout).
#[cfg(feature = "defmt")]
use defmt_semihosting as _;
// The panic handler: prints the message on semihosting stderr and makes QEMU exit with 101.
use semihosting as _;

/// Receive buffer: the longest request served.
const RX_LEN: usize = 8 * 1024;
/// Unescaped string parameters.
const SCRATCH_LEN: usize = 4 * 1024;
/// Transmit batching.
const TX_LEN: usize = 128;

/// The model `device.info` reports.
const MODEL: &str = "qemu-lm3s6965evb";

/// The board under the demo service: SysTick time, LEDs that only log.
struct Board;

impl Platform for Board {
    fn uptime_ms(&self) -> u64 {
        clock::uptime_ms()
    }

    /// Busy-waits on the clock. That is acceptable here: the blocking transport serves one
    /// request at a time and drives handlers with `block_on`, so there is nothing else to
    /// run meanwhile (an async transport would await a timer instead).
    async fn sleep_ms(&self, ms: u32) {
        let end = clock::uptime_ms() + u64::from(ms);
        while clock::uptime_ms() < end {
            core::hint::spin_loop();
        }
    }

    fn model(&self) -> &'static str {
        MODEL
    }

    fn led_changed(&self, index: usize, on: bool) {
        info!("LED {=usize} {=str}", index, if on { "on" } else { "off" });
    }
}

/// What the most recent dispatched call was.
#[derive(Clone, Copy)]
struct CallRecord {
    /// The function's wire name.
    method: &'static str,
    /// The error's name if it failed.
    error: Option<&'static str>,
}

/// The demo service, recording each dispatched call for the request log. (The engine answers
/// `__describe_*`, `rpc.discover` and malformed requests itself, without a call.)
struct Traced<'a, S> {
    inner: &'a S,
    last: &'a Cell<Option<CallRecord>>,
}

impl<S: Service> Service for Traced<'_, S> {
    const DESC: &'static ServiceDesc = S::DESC;

    async fn call<O: Output>(
        &self,
        f: &'static FunctionDesc,
        args: Args<'_>,
        info: &RpcInfo<'_>,
        reply: Reply<'_, O>,
    ) -> Result<(), CallError<O::Error>> {
        let result = self.inner.call(f, args, info, reply).await;
        let error = match &result {
            Ok(()) => None,
            Err(CallError::Rpc(e)) => Some(e.name()),
            Err(CallError::Io(_)) => Some("transport error"),
        };
        // Recorded, not logged: logging here would add the logger's stack to the request's.
        self.last.set(Some(CallRecord { method: f.name, error }));
        result
    }
}

/// UART0 as the server sees it, plus the request log: when the server comes back to read
/// after a request, the request is over, and its outcome and peak stack are logged.
struct Port<'a> {
    uart: uart::Uart,
    last: &'a Cell<Option<CallRecord>>,
    /// Reply bytes went out since the last report.
    replied: bool,
    /// Requests reported so far.
    requests: u32,
    /// `read` has been called before.
    started: bool,
    /// The deepest stack of any request so far, in bytes.
    max_stack: usize,
}

impl Port<'_> {
    /// Logs the request that just finished (several, if they arrived together).
    fn report(&mut self) {
        // Measured first, so the logger's own stack does not count.
        let peak = stack::take_peak();
        self.max_stack = self.max_stack.max(peak);
        self.requests = self.requests.wrapping_add(1);
        self.replied = false;
        match self.last.take() {
            Some(CallRecord { method, error: None }) => debug!(
                "request {=u32}: {=str} ok, stack {=usize} B (max {=usize} B)",
                self.requests, method, peak, self.max_stack
            ),
            Some(CallRecord { method, error: Some(e) }) => debug!(
                "request {=u32}: {=str} failed ({=str}), stack {=usize} B (max {=usize} B)",
                self.requests, method, e, peak, self.max_stack
            ),
            None => debug!(
                "request {=u32}: answered by the engine (reflection or error), stack {=usize} B (max {=usize} B)",
                self.requests, peak, self.max_stack
            ),
        }
        // Repaint what the logger used, so the next request is measured alone.
        let _ = stack::take_peak();
    }
}

impl embedded_io::ErrorType for Port<'_> {
    type Error = core::convert::Infallible;
}

impl embedded_io::Read for Port<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        // Without a logger there is nobody to tell: no report, no stack scans.
        if cfg!(feature = "defmt") {
            if !self.started {
                self.started = true;
                debug!("serving JSON-RPC on UART0; {=usize} B of stack in use while idle", stack::in_use());
                let _ = stack::take_peak(); // Forget the boot's stack use, and this log's.
            } else if self.replied || self.last.get().is_some() {
                self.report();
            }
        }
        self.uart.read(buf)
    }
}

impl embedded_io::Write for Port<'_> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        let n = self.uart.write(buf)?;
        self.replied |= n > 0;
        Ok(n)
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        self.uart.flush()
    }
}

#[entry]
fn main() -> ! {
    // For good: no handler ever runs. Pending interrupts (UART receive, SysTick wrap) still
    // wake WFI, and single-core critical sections stay cheap and correct.
    cortex_m::interrupt::disable();
    // Keeps a byte a client may have sent before the firmware ran (see `uart`).
    let uart = uart::Uart::take().expect("UART0 is taken once");
    let rx = cortex_m::singleton!(: [u8; RX_LEN] = [0; RX_LEN]).expect("runs once");
    let scratch = cortex_m::singleton!(: [u8; SCRATCH_LEN] = [0; SCRATCH_LEN]).expect("runs once");
    let tx = cortex_m::singleton!(: [u8; TX_LEN] = [0; TX_LEN]).expect("runs once");
    if cfg!(feature = "defmt") {
        stack::paint();
    }
    let core = cortex_m::Peripherals::take().expect("runs once");
    clock::start(core.SYST);

    info!(
        "reflex-qemu {=str} booted: float {=bool}, buffers rx {=usize} B, scratch {=usize} B, tx {=usize} B, stack {=usize} B",
        env!("CARGO_PKG_VERSION"),
        cfg!(feature = "float"),
        RX_LEN,
        SCRATCH_LEN,
        TX_LEN,
        stack::size()
    );

    let demo = Demo::new(Board);
    let last = Cell::new(None);
    let service = Traced { inner: &demo, last: &last };
    let mut port = Port { uart, last: &last, replied: false, requests: 0, started: false, max_stack: 0 };
    let config = Config::new();
    let info = RpcInfo::new(Transport::Serial);
    loop {
        let bufs = Buffers { rx: &mut rx[..], scratch: &mut scratch[..], tx: &mut tx[..] };
        // A UART has no end of file and its errors are `Infallible`: `serve` returns only if
        // a buffer is unusable, which these are not. Log and serve again regardless.
        match reflex::io::serve(&service, &config, &mut port, bufs, &info) {
            Ok(()) => warn!("serve returned: end of input"),
            Err(_) => error!("serve failed: unusable buffers"),
        }
    }
}
