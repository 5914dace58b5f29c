//! Newline-delimited framing over `embedded_io` (blocking) and `embedded_io_async`.
//!
//! Requests end with LF or CRLF; replies end with CRLF (what ReflectRPC's clients expect).
//! Blank lines are ignored. A request longer than the receive buffer gets one error reply
//! (2.0 `-32600`, the limit in `data`), the rest of that line is discarded, and the stream
//! resynchronises at the next newline: the connection survives.
//!
//! A connection needs three caller buffers ([`Buffers`]): `rx` bounds the longest request,
//! `scratch` holds the unescaped text of string parameters that contain escapes (strings
//! without escapes are borrowed from `rx`), and `tx` batches reply bytes. What a request may
//! do depends only on the request and these sizes, never on how its bytes were chunked.

use core::future::Future;
use core::pin::pin;
use core::task::{Context, Poll, Waker};

use crate::dispatch::{Output, Service};
use crate::engine::{self, Config};
use crate::info::RpcInfo;
use crate::reply::Render;
use crate::sink::{IoSink, SliceSink, Window};

/// Smallest transmit buffer the async server accepts (it renders replies window by window).
pub const MIN_TX: usize = 16;

/// Runs `f` to completion by polling it in a loop. Blocking transports use it to drive the
/// engine; an `async` handler that really waits makes it spin, so such handlers belong on
/// an async transport.
pub fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        core::hint::spin_loop();
    }
}

/// The memory one connection works in.
#[derive(Debug)]
pub struct Buffers<'a> {
    /// Receive buffer: the longest request (line) that can be served.
    pub rx: &'a mut [u8],
    /// Unescaped string parameters. As long as `rx` guarantees every request fits; shorter
    /// saves RAM where strings with escapes (`\n`, `\u00e9`) are short. A request whose
    /// escaped strings do not fit gets an `Invalid params` reply.
    pub scratch: &'a mut [u8],
    /// Transmit buffer: replies of any length stream through it.
    pub tx: &'a mut [u8],
}

/// A transport failure while serving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ServeError<E> {
    /// Reading or writing failed.
    Io(E),
    /// A buffer is too small to work with (receive buffer empty, transmit buffer below
    /// [`MIN_TX`] for the async server).
    Buffer,
}

/// The output of [`handle_to_slice`] did not fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Overflow;

/// An [`Output`] that writes into a slice.
#[derive(Debug)]
pub struct SliceOutput<'a> {
    sink: SliceSink<'a>,
}

impl<'a> SliceOutput<'a> {
    /// Output into `buf`.
    pub fn new(buf: &'a mut [u8]) -> Self {
        SliceOutput { sink: SliceSink::new(buf) }
    }

    /// Bytes written.
    pub fn len(&self) -> usize {
        self.sink.len()
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.sink.is_empty()
    }
}

impl Output for SliceOutput<'_> {
    type Error = Overflow;
    async fn emit(&mut self, r: &dyn Render) -> Result<(), Overflow> {
        r.render(&mut self.sink).map_err(|_| Overflow)
    }
}

/// Handles one request synchronously and writes the replies into `out`; returns the length
/// written (0 when no reply is due, e.g. for a notification). This is the whole of a custom
/// transport: bytes in, bytes out (see the crate documentation for a complete example).
pub fn handle_to_slice<S: Service>(
    service: &S,
    config: &Config,
    request: &[u8],
    scratch: &mut [u8],
    info: &RpcInfo<'_>,
    out: &mut [u8],
) -> Result<usize, Overflow> {
    let mut o = SliceOutput::new(out);
    block_on(engine::handle(service, config, request, scratch, info, &mut o))?;
    Ok(o.len())
}

/// Receive-side line state over a caller buffer: `buf[start..len]` holds unprocessed bytes.
struct Lines<'b> {
    buf: &'b mut [u8],
    start: usize,
    len: usize,
    /// Offset up to which `buf[start..]` is known to hold no newline.
    scanned: usize,
    /// Dropping the rest of an overlong line.
    discarding: bool,
    /// The nesting limit, to judge the beginning of an overlong line.
    max_depth: u8,
}

/// What the receive buffer holds next.
enum Next {
    /// A complete line at `start..end` (terminator excluded).
    Line { start: usize, end: usize },
    /// The buffer is full of one line without a newline; `unparsable` when what arrived
    /// already cannot begin valid JSON (whatever follows, the answer is a parse error).
    Overlong { unparsable: bool },
    /// More bytes are needed.
    Read,
}

impl<'b> Lines<'b> {
    fn new(buf: &'b mut [u8], max_depth: u8) -> Self {
        Lines { buf, start: 0, len: 0, scanned: 0, discarding: false, max_depth }
    }

    fn next(&mut self) -> Next {
        let from = self.scanned.max(self.start);
        let window = self.buf.get(from..self.len).unwrap_or(&[]);
        match window.iter().position(|&b| b == b'\n') {
            Some(i) => {
                let nl = from + i;
                let start = self.start;
                self.start = nl + 1;
                self.scanned = self.start;
                if core::mem::take(&mut self.discarding) {
                    // The tail of an overlong line: already answered, drop it.
                    return self.next();
                }
                let end = if nl > start && self.buf.get(nl - 1) == Some(&b'\r') { nl - 1 } else { nl };
                Next::Line { start, end }
            }
            None => {
                self.scanned = self.len;
                if self.discarding {
                    self.start = 0;
                    self.len = 0;
                    self.scanned = 0;
                    return Next::Read;
                }
                if self.len < self.buf.len() {
                    return Next::Read;
                }
                if self.start > 0 {
                    // Make room: move the partial line to the front.
                    self.buf.copy_within(self.start..self.len, 0);
                    self.len -= self.start;
                    self.scanned -= self.start;
                    self.start = 0;
                    return Next::Read;
                }
                let unparsable = prefix_unparsable(self.buf.get(..self.len).unwrap_or(&[]), self.max_depth);
                self.discarding = true;
                self.start = 0;
                self.len = 0;
                self.scanned = 0;
                Next::Overlong { unparsable }
            }
        }
    }

    fn line(&self, start: usize, end: usize) -> &[u8] {
        self.buf.get(start..end).unwrap_or(&[])
    }

    fn free(&mut self) -> &mut [u8] {
        if self.start == self.len {
            self.start = 0;
            self.len = 0;
            self.scanned = 0;
        }
        self.buf.get_mut(self.len..).unwrap_or(&mut [])
    }

    fn filled(&mut self, n: usize) {
        self.len = (self.len + n).min(self.buf.len());
    }
}

/// Whether the beginning of a line already rules out valid JSON: it nests too deep, or it has
/// a syntax error far enough from the cut that no truncated token (an escape, a UTF-8
/// sequence, a literal) can explain it. Such a line gets the parse error it deserves rather
/// than the size error.
fn prefix_unparsable(prefix: &[u8], max_depth: u8) -> bool {
    // Longer than any token the cut can split into something that looks wrong: a surrogate
    // pair escape is 12 bytes.
    const SLACK: usize = 16;
    match crate::scan::Scanner::new(prefix, max_depth).document() {
        Err(crate::scan::ScanError::TooDeep) => true,
        Err(crate::scan::ScanError::Syntax(at)) => at + SLACK < prefix.len(),
        Ok(_) => false,
    }
}

fn is_blank(line: &[u8]) -> bool {
    line.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r'))
}

struct BlockingOut<'a, 'b, W: embedded_io::Write> {
    sink: IoSink<'b, &'a mut W>,
}

impl<W: embedded_io::Write> Output for BlockingOut<'_, '_, W> {
    type Error = ServeError<W::Error>;
    async fn emit(&mut self, r: &dyn Render) -> Result<(), Self::Error> {
        match r.render(&mut self.sink) {
            Ok(()) => Ok(()),
            Err(_) => Err(self.sink.take_error().map_or(ServeError::Buffer, ServeError::Io)),
        }
    }
}

/// Serves newline-delimited requests on a blocking stream until it reaches end of file.
pub fn serve<S: Service, IO: embedded_io::Read + embedded_io::Write>(
    service: &S,
    config: &Config,
    io: &mut IO,
    bufs: Buffers<'_>,
    info: &RpcInfo<'_>,
) -> Result<(), ServeError<IO::Error>> {
    let Buffers { rx, scratch, tx } = bufs;
    if rx.is_empty() {
        return Err(ServeError::Buffer);
    }
    let limit = rx.len();
    let mut lines = Lines::new(rx, config.max_depth);
    loop {
        match lines.next() {
            Next::Line { start, end } => {
                let line = lines.line(start, end);
                if is_blank(line) {
                    continue;
                }
                let mut out = BlockingOut { sink: IoSink::new(&mut *io, &mut *tx) };
                let replied = block_on(engine::handle(service, config, line, &mut *scratch, info, &mut out))?;
                finish_blocking(&mut out, replied)?;
            }
            Next::Overlong { unparsable } => {
                warn!("request longer than {} bytes", limit);
                let mut out = BlockingOut { sink: IoSink::new(&mut *io, &mut *tx) };
                let replied = if unparsable {
                    block_on(engine::unparsable(&mut out, config))?
                } else {
                    block_on(engine::too_large(&mut out, limit))?
                };
                finish_blocking(&mut out, replied)?;
            }
            Next::Read => {
                let n = io.read(lines.free()).map_err(ServeError::Io)?;
                if n == 0 {
                    return Ok(());
                }
                lines.filled(n);
            }
        }
    }
}

fn finish_blocking<W: embedded_io::Write>(
    out: &mut BlockingOut<'_, '_, W>,
    replied: bool,
) -> Result<(), ServeError<W::Error>> {
    if replied {
        block_on(out.emit(&crate::reply::Raw(b"\r\n")))?;
        out.sink.flush().map_err(|_| out.sink.take_error().map_or(ServeError::Buffer, ServeError::Io))?;
    }
    Ok(())
}

struct AsyncOut<'a, 'b, W> {
    io: &'a mut W,
    tx: &'b mut [u8],
}

impl<W: embedded_io_async::Write> Output for AsyncOut<'_, '_, W> {
    type Error = ServeError<W::Error>;
    async fn emit(&mut self, r: &dyn Render) -> Result<(), Self::Error> {
        let mut skip = 0;
        loop {
            let mut win = Window::new(self.tx, skip);
            let _ = r.render(&mut win);
            let (n, complete) = (win.len(), win.complete());
            let bytes = self.tx.get(..n).unwrap_or(&[]);
            self.io.write_all(bytes).await.map_err(ServeError::Io)?;
            if complete {
                return Ok(());
            }
            skip += n;
        }
    }
}

/// Serves newline-delimited requests on an async stream (an embassy-net `TcpSocket`, a
/// buffered UART) until end of file. Replies of any length are rendered window by window
/// through `tx` (at least [`MIN_TX`] bytes); `async` handlers are awaited properly.
pub async fn serve_async<S: Service, IO: embedded_io_async::Read + embedded_io_async::Write>(
    service: &S,
    config: &Config,
    io: &mut IO,
    bufs: Buffers<'_>,
    info: &RpcInfo<'_>,
) -> Result<(), ServeError<IO::Error>> {
    let Buffers { rx, scratch, tx } = bufs;
    if rx.is_empty() || tx.len() < MIN_TX {
        return Err(ServeError::Buffer);
    }
    let limit = rx.len();
    let mut lines = Lines::new(rx, config.max_depth);
    loop {
        let replied = match lines.next() {
            Next::Line { start, end } => {
                let line = lines.line(start, end);
                if is_blank(line) {
                    continue;
                }
                let mut out = AsyncOut { io: &mut *io, tx: &mut *tx };
                engine::handle(service, config, line, &mut *scratch, info, &mut out).await?
            }
            Next::Overlong { unparsable } => {
                warn!("request longer than {} bytes", limit);
                let mut out = AsyncOut { io: &mut *io, tx: &mut *tx };
                if unparsable {
                    engine::unparsable(&mut out, config).await?
                } else {
                    engine::too_large(&mut out, limit).await?
                }
            }
            Next::Read => {
                let n = io.read(lines.free()).await.map_err(ServeError::Io)?;
                if n == 0 {
                    return Ok(());
                }
                lines.filled(n);
                continue;
            }
        };
        if replied {
            io.write_all(b"\r\n").await.map_err(ServeError::Io)?;
            io.flush().await.map_err(ServeError::Io)?;
        }
    }
}
