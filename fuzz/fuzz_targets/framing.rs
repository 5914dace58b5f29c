//! The framing accumulator of `reflex::io::serve` and `serve_async`: the same byte stream
//! delivered in different chunk sizes gives the same replies.
//!
//! Input layout: byte 0 gives the number of chunk sizes `n` (1-8), the next `n` bytes the
//! sizes (cycled over the reads and writes; 0 means "as much as fits"), the next byte the
//! receive buffer size, the next the transmit buffer size; the rest is the stream.
//!
//! Each stream is served four ways, each on a fresh demo service, and all four outputs must
//! be equal byte for byte:
//! * `serve`, reads and writes in the chunk sizes;
//! * `serve`, every read filling all the room there is (the unchunked reference);
//! * `serve_async`, reads and writes in the chunk sizes, every other poll `Pending`;
//! * a model: split at LF, one CR stripped, blank lines skipped, a line of `rx` bytes or
//!   more answered with one "too large" error, every other line through `handle_to_slice`
//!   (so the framing adds or loses nothing), and an unterminated last line not answered.
//!
//! Every reply line is also checked with `reflex_fuzz::check_reply`.
#![no_main]

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use libfuzzer_sys::fuzz_target;
use reflex::io::{block_on, serve, serve_async, Buffers, MIN_TX};
use reflex::{Config, RpcInfo, Transport};
use reflex_fuzz::{check_reply, demo, is_blank, lines, show, strip_cr};
use reflex_host::output::VecOutput;

const RX: [usize; 8] = [1, 7, 16, 33, 64, 200, 1024, 4096];
const TX: [usize; 8] = [0, 1, 3, 16, 17, 64, 512, 4096];

/// Cycles through the chunk sizes; 0 means unlimited.
struct Chunks<'a> {
    sizes: &'a [u8],
    next: usize,
}

impl Chunks<'_> {
    fn take(&mut self, want: usize) -> usize {
        let size = match self.sizes.get(self.next % self.sizes.len().max(1)) {
            Some(&0) | None => want,
            Some(&s) => usize::from(s % 64) + 1,
        };
        self.next += 1;
        size.min(want)
    }
}

/// A stream over in-memory input and output.
struct Pipe<'a> {
    input: &'a [u8],
    chunks: Chunks<'a>,
    output: Vec<u8>,
    /// For the async run: answer every other poll with `Pending`.
    stall: bool,
    stalled: bool,
}

impl<'a> Pipe<'a> {
    fn new(input: &'a [u8], sizes: &'a [u8]) -> Self {
        Pipe { input, chunks: Chunks { sizes, next: 0 }, output: Vec::new(), stall: false, stalled: false }
    }

    fn read_now(&mut self, buf: &mut [u8]) -> usize {
        let n = self.chunks.take(buf.len()).min(self.input.len());
        buf[..n].copy_from_slice(&self.input[..n]);
        self.input = &self.input[n..];
        n
    }

    fn write_now(&mut self, buf: &[u8]) -> usize {
        // At least one byte: `write_all` may not see `Ok(0)`.
        let n = self.chunks.take(buf.len()).max(1).min(buf.len());
        self.output.extend_from_slice(&buf[..n]);
        n
    }

    /// Resolves after one `Pending` when stalling is on.
    fn maybe_stall(&mut self) -> Stall {
        let pend = self.stall && !self.stalled;
        self.stalled = pend;
        Stall(pend)
    }
}

struct Stall(bool);

impl Future for Stall {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if std::mem::take(&mut self.0) {
            cx.waker().wake_by_ref();
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    }
}

impl embedded_io::ErrorType for Pipe<'_> {
    type Error = Infallible;
}

impl embedded_io::Read for Pipe<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        Ok(self.read_now(buf))
    }
}

impl embedded_io::Write for Pipe<'_> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        Ok(self.write_now(buf))
    }
    fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

impl embedded_io_async::Read for Pipe<'_> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        self.maybe_stall().await;
        Ok(self.read_now(buf))
    }
}

impl embedded_io_async::Write for Pipe<'_> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        self.maybe_stall().await;
        Ok(self.write_now(buf))
    }
    async fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

fn info() -> RpcInfo<'static> {
    RpcInfo::new(Transport::Serial)
}

/// What the framing must produce: see the module documentation.
fn model(config: &Config, stream: &[u8], rx: usize) -> Vec<u8> {
    let service = demo();
    let mut out = Vec::new();
    let (complete, rest) = lines(stream);
    for line in complete {
        if line.len() >= rx {
            out.extend(overlong(config, line, rx));
            continue;
        }
        let line = strip_cr(line);
        if is_blank(line) {
            continue;
        }
        let mut scratch = vec![0u8; rx];
        let mut o = VecOutput::new(usize::MAX);
        let replied = block_on(reflex::engine::handle(&service, config, line, &mut scratch, &info(), &mut o))
            .expect("unlimited output");
        if replied {
            check_reply(config, line, Some(&o.bytes));
            out.extend(o.bytes);
            out.extend(b"\r\n");
        } else {
            check_reply(config, line, None);
        }
    }
    if rest.len() >= rx {
        out.extend(overlong(config, rest, rx));
    }
    out
}

/// The reply to a line longer than the receive buffer. The framing judges the `rx` bytes it
/// holds: a beginning that already nests too deep, or has a syntax error farther from the cut
/// than any split token (16 bytes), gets the parse error; anything else the size error.
fn overlong(config: &Config, line: &[u8], rx: usize) -> Vec<u8> {
    let prefix = line.get(..rx).unwrap_or(line);
    let unparsable = match reflex::scan::Scanner::new(prefix, config.max_depth).document() {
        Err(reflex::scan::ScanError::TooDeep) => true,
        Err(reflex::scan::ScanError::Syntax(at)) => at + 16 < prefix.len(),
        Ok(_) => false,
    };
    let mut o = VecOutput::new(usize::MAX);
    if unparsable {
        block_on(reflex::engine::unparsable(&mut o, config)).expect("unlimited output");
    } else {
        block_on(reflex::engine::too_large(&mut o, rx)).expect("unlimited output");
    }
    o.bytes.extend(b"\r\n");
    o.bytes
}

fuzz_target!(|data: &[u8]| {
    let Some((&n, rest)) = data.split_first() else { return };
    let n = usize::from(n % 8) + 1;
    if rest.len() < n + 2 {
        return;
    }
    let (sizes, rest) = rest.split_at(n);
    let rx = RX[usize::from(rest[0] % 8)];
    let tx = TX[usize::from(rest[1] % 8)];
    let stream = &rest[2..];
    let config = Config::new();

    let blocking = |sizes: &[u8], tx: usize| {
        let service = demo();
        let (mut rxb, mut scratch, mut txb) = (vec![0u8; rx], vec![0u8; rx], vec![0u8; tx]);
        let mut pipe = Pipe::new(stream, sizes);
        let bufs = Buffers { rx: &mut rxb, scratch: &mut scratch, tx: &mut txb };
        serve(&service, &config, &mut pipe, bufs, &info()).expect("infallible I/O");
        pipe.output
    };
    let chunked = blocking(sizes, tx);
    let whole = blocking(&[0], 4096);

    let service = demo();
    let (mut rxb, mut scratch, mut txb) = (vec![0u8; rx], vec![0u8; rx], vec![0u8; tx.max(MIN_TX)]);
    let mut pipe = Pipe::new(stream, sizes);
    pipe.stall = true;
    let bufs = Buffers { rx: &mut rxb, scratch: &mut scratch, tx: &mut txb };
    block_on(serve_async(&service, &config, &mut pipe, bufs, &info())).expect("infallible I/O");
    let asynchronous = pipe.output;

    let expected = model(&config, stream, rx);
    let same = |what: &str, got: &[u8]| {
        assert!(
            got == expected.as_slice(),
            "{what} differs from the model (rx {rx}, tx {tx}, chunks {sizes:?})\n  stream:   {}\n  got:      {}\n  expected: {}",
            show(stream),
            show(got),
            show(&expected)
        );
    };
    same("serve (unchunked)", &whole);
    same("serve (chunked)", &chunked);
    same("serve_async (chunked)", &asynchronous);
});
