//! The line protocol (TCP, Unix, TLS): the same framing as the device side (`reflex::io`).
//!
//! Requests end with LF or CRLF; replies end with CRLF, in order; blank lines are ignored;
//! notifications get no bytes at all. A line longer than the limit gets one error reply, the
//! rest of it is discarded, and the connection resynchronises at the next newline. A request
//! left without its newline when the peer half-closes is answered too.
//!
//! Replies are written as they are rendered, through a buffer of about [`FLUSH_AT`] bytes:
//! the replies to pipelined requests that are already here go out together, and a long
//! batch reply goes out element by element instead of being collected whole. Its size is
//! still held to [`ServerConfig::max_response_size`](super::ServerConfig::max_response_size)
//! by a [`ReplyBudget`]: since elements already written cannot be taken back, a batch that
//! outgrows the limit is closed with an internal error element (the rest of the batch is not
//! run), which keeps the line valid JSON and the connection usable. A single reply that does
//! not fit becomes the fixed internal error. Both are logged with the size.
//!
//! Timeouts: a whole line must arrive within the request timeout from its first byte (an
//! overlong line being discarded included), and a connection that sends nothing for the idle
//! timeout is closed; handler time counts towards neither. A connection that misses either
//! is closed without a reply: a half-received request has no id to answer, and a client
//! that dribbles bytes is not owed the write.

use std::time::Duration;

use reflex::reply::Render;
use reflex::{Output, RpcInfo, Service};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

use super::{too_large_reply, within, Shared};
use crate::output::{ReplyBudget, ReplyTooLarge};

/// Bytes read at a time.
const READ_CHUNK: usize = 16 * 1024;

/// Pending reply bytes are written once they reach this size, even in the middle of a reply
/// or while more requests are queued.
const FLUSH_AT: usize = 64 * 1024;

/// A receive buffer that grew past this is released once it is empty again.
const KEEP_CAPACITY: usize = 64 * 1024;

/// A send buffer that grew past this (a single large reply element) is released once written.
const KEEP_PENDING: usize = 4 * FLUSH_AT;

fn is_blank(line: &[u8]) -> bool {
    line.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r'))
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The connection cannot be used any more (a write failed or timed out).
struct Closed;

/// Serves one connection until the peer closes it, it times out, or the server shuts down.
pub(super) async fn serve<S: Service, IO: AsyncRead + AsyncWrite + Unpin>(
    shared: &Shared<S>,
    mut io: IO,
    info: &RpcInfo<'_>,
) {
    let common = &*shared.common;
    let max = common.max_request_size;
    let peer = info.peer.unwrap_or("-");
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; READ_CHUNK];
    // Reply bytes not yet written (complete replies end with their CRLF).
    let mut pending: Vec<u8> = Vec::new();
    // `buf[start..]` is unprocessed; `buf[scanned..]` has not been searched for a newline.
    let (mut start, mut scanned) = (0usize, 0usize);
    // Dropping the rest of an overlong line.
    let mut discarding = false;
    // When the line being received started to arrive; `None` between lines.
    let mut line_since: Option<Instant> = None;
    // One timer and one shutdown watch for the connection's life, not one per read: arming a
    // timer takes the runtime's timer lock, and a round trip waits for one read. The timer is
    // moved earlier when a wait's deadline is earlier; when it fires early (for a deadline
    // that has since moved later) it is re-armed for the current one.
    let timer = tokio::time::sleep_until(far_future());
    tokio::pin!(timer);
    let shutdown = common.shutdown.cancelled();
    tokio::pin!(shutdown);
    loop {
        if let Some(i) = buf.get(scanned..).and_then(|rest| rest.iter().position(|&b| b == b'\n')) {
            let nl = scanned + i;
            let line_start = start;
            start = nl + 1;
            scanned = start;
            // The next line's clock starts when we next wait for it, so the time this line's
            // handler takes is never charged to the one after it.
            line_since = None;
            if std::mem::take(&mut discarding) {
                continue;
            }
            let line = strip_cr(buf.get(line_start..nl).unwrap_or_default());
            if is_blank(line) {
                continue;
            }
            if answer(shared, info, line, &mut io, &mut pending).await.is_err() {
                return;
            }
            // Pipelined requests: replies to lines that are already here go out together,
            // once no further complete line is buffered (or a lot is pending).
            let more = buf.get(start..).is_some_and(|rest| rest.contains(&b'\n'));
            let flush = !pending.is_empty() && (!more || pending.len() >= FLUSH_AT);
            if flush && send(&mut io, &mut pending, common.idle_timeout).await.is_err() {
                return;
            }
            if common.shutdown.is_cancelled() {
                break;
            }
            continue;
        }
        scanned = buf.len();
        // One byte of slack for the CR of a CRLF that may follow.
        if !discarding && buf.len() - start > max.saturating_add(1) {
            tracing::warn!(peer, "request exceeds the limit of {max} bytes; discarding it up to the next newline");
            pending.extend_from_slice(&too_large_reply(max).await);
            pending.extend_from_slice(b"\r\n");
            if send(&mut io, &mut pending, common.idle_timeout).await.is_err() {
                return;
            }
            discarding = true;
        }
        if discarding || start == buf.len() {
            buf.clear();
            if buf.capacity() > KEEP_CAPACITY {
                buf = Vec::new();
            }
            (start, scanned) = (0, 0);
        } else if start > 0 {
            buf.drain(..start);
            scanned -= start;
            start = 0;
        }
        if line_since.is_none() && (discarding || !buf.is_empty()) {
            line_since = Some(Instant::now());
        }
        let (deadline, what) = read_deadline(common.idle_timeout, common.request_timeout, line_since);
        let deadline = deadline.unwrap_or_else(far_future);
        if timer.is_elapsed() || deadline < timer.deadline() {
            timer.as_mut().reset(deadline);
        }
        let read = loop {
            tokio::select! {
                biased;
                () = &mut shutdown => break None,
                r = io.read(&mut chunk) => break Some(r),
                () = &mut timer => {
                    if Instant::now() >= deadline {
                        match what {
                            Waiting::Request => tracing::warn!(
                                peer,
                                "request not complete within {:?} of its first byte: closing",
                                common.request_timeout
                            ),
                            Waiting::Idle => tracing::debug!(peer, "idle for {:?}: closing", common.idle_timeout),
                        }
                        break None;
                    }
                    timer.as_mut().reset(deadline);
                }
            }
        };
        let n = match read {
            // Shut down, or timed out.
            None => break,
            Some(Ok(n)) => n,
            Some(Err(e)) => {
                tracing::debug!(peer, "read failed: {e}");
                return;
            }
        };
        if n == 0 {
            // End of input: answer a last request that lacks its newline.
            let line = strip_cr(buf.get(start..).unwrap_or_default());
            if !discarding
                && !is_blank(line)
                && answer(shared, info, line, &mut io, &mut pending).await.is_ok()
                && !pending.is_empty()
            {
                let _ = send(&mut io, &mut pending, common.idle_timeout).await;
            }
            break;
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
    }
    let _ = within(common.idle_timeout, io.shutdown()).await;
}

/// Which timeout a read waits under.
#[derive(Clone, Copy)]
enum Waiting {
    /// Between requests: the idle timeout.
    Idle,
    /// In the middle of a line: the request timeout, which is the earlier deadline.
    Request,
}

/// When the next read gives up (`None`: never), and why.
fn read_deadline(idle: Duration, request: Duration, line_since: Option<Instant>) -> (Option<Instant>, Waiting) {
    let idle_end = (!idle.is_zero()).then(|| Instant::now() + idle);
    let request_end = line_since.filter(|_| !request.is_zero()).map(|since| since + request);
    match (idle_end, request_end) {
        (Some(i), Some(r)) if r <= i => (Some(r), Waiting::Request),
        (None, Some(r)) => (Some(r), Waiting::Request),
        (i, _) => (i, Waiting::Idle),
    }
}

/// A deadline that stands for "never" (a year away: far beyond any timeout, and never near
/// `Instant`'s limits).
fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(365 * 24 * 3600)
}

/// Runs one request line and appends its reply and CRLF to `pending`, writing `pending` out
/// whenever it passes [`FLUSH_AT`] (so only the tail of a reply is left in it).
async fn answer<S: Service, IO: AsyncWrite + Unpin>(
    shared: &Shared<S>,
    info: &RpcInfo<'_>,
    line: &[u8],
    io: &mut IO,
    pending: &mut Vec<u8>,
) -> Result<(), Closed> {
    let common = &*shared.common;
    let max = common.max_request_size;
    let peer = info.peer.unwrap_or("-");
    if line.len() > max {
        // A line whose last read took it over the limit (longer ones are cut off while they
        // arrive), or one left at end of input.
        tracing::warn!(peer, "request of {} bytes exceeds the limit of {max}", line.len());
        pending.extend_from_slice(&too_large_reply(max).await);
        pending.extend_from_slice(b"\r\n");
        return Ok(());
    }
    // Unescaped string parameters never outgrow the request.
    let mut scratch = vec![0u8; line.len()];
    let mut out =
        LineOutput { io, pending, budget: ReplyBudget::new(common.max_response_size), idle: common.idle_timeout };
    let replied =
        match reflex::engine::handle(&*shared.service, &common.engine, line, &mut scratch, info, &mut out).await {
            Ok(replied) => replied,
            // The budget has completed the reply (see `ReplyBudget`).
            Err(LineError::TooLarge) => true,
            Err(LineError::Closed) => return Err(Closed),
        };
    if let Some(size) = out.budget.exceeded() {
        tracing::error!(
            peer,
            size,
            limit = common.max_response_size,
            "reply of at least {size} bytes exceeds the limit of {}; answering with an internal error",
            common.max_response_size
        );
    }
    if replied {
        out.pending.extend_from_slice(b"\r\n");
    }
    Ok(())
}

/// Why a line reply stopped.
enum LineError {
    /// It reached the size limit; the budget has written what ends it.
    TooLarge,
    /// The connection is unusable.
    Closed,
}

/// Renders reply elements into the connection's send buffer under a [`ReplyBudget`], and
/// writes the buffer out whenever it passes [`FLUSH_AT`].
struct LineOutput<'a, IO> {
    io: &'a mut IO,
    pending: &'a mut Vec<u8>,
    budget: ReplyBudget,
    idle: Duration,
}

impl<IO: AsyncWrite + Unpin> Output for LineOutput<'_, IO> {
    type Error = LineError;

    async fn emit(&mut self, r: &dyn Render) -> Result<(), LineError> {
        self.budget.render(r, self.pending).map_err(|ReplyTooLarge| LineError::TooLarge)?;
        if self.pending.len() >= FLUSH_AT {
            send(self.io, self.pending, self.idle).await.map_err(|Closed| LineError::Closed)?;
        }
        Ok(())
    }

    fn internal_error(&mut self, method: &str, detail: &str) {
        crate::output::log_internal_error(method, detail);
    }
}

/// Writes out and empties `pending` (one write call). Fails when the connection is
/// unusable, or the peer has not taken the bytes within the idle timeout.
async fn send<IO: AsyncWrite + Unpin>(io: &mut IO, pending: &mut Vec<u8>, idle: Duration) -> Result<(), Closed> {
    let write = async {
        io.write_all(pending).await?;
        io.flush().await
    };
    let result = within(idle, write).await;
    pending.clear();
    if pending.capacity() > KEEP_PENDING {
        *pending = Vec::new();
    }
    match result {
        Some(Ok(())) => Ok(()),
        Some(Err(e)) => {
            tracing::debug!("write failed: {e}");
            Err(Closed)
        }
        None => {
            tracing::debug!("peer does not read its replies: closing");
            Err(Closed)
        }
    }
}
