//! The line protocol (TCP, Unix, TLS): the same framing as the device side (`reflex::io`).
//!
//! Requests end with LF or CRLF; replies end with CRLF and are written with one write, in
//! order; blank lines are ignored; notifications get no bytes at all. A line longer than the
//! limit gets one error reply, the rest of it is discarded, and the connection resynchronises
//! at the next newline. A request left without its newline when the peer half-closes is
//! answered too.

use reflex::{RpcInfo, Service};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::{too_large_reply, within, Shared};

/// Bytes read at a time.
const READ_CHUNK: usize = 16 * 1024;

/// Pending replies are written once they reach this size, even if more requests are queued.
const FLUSH_AT: usize = 64 * 1024;

/// A receive buffer that grew past this is released once it is empty again.
const KEEP_CAPACITY: usize = 64 * 1024;

fn is_blank(line: &[u8]) -> bool {
    line.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r'))
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Serves one connection until the peer closes it, it idles out, or the server shuts down.
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
    // Replies not yet written (each with its CRLF).
    let mut pending: Vec<u8> = Vec::new();
    // `buf[start..]` is unprocessed; `buf[scanned..]` has not been searched for a newline.
    let (mut start, mut scanned) = (0usize, 0usize);
    // Dropping the rest of an overlong line.
    let mut discarding = false;
    loop {
        if let Some(i) = buf.get(scanned..).and_then(|rest| rest.iter().position(|&b| b == b'\n')) {
            let nl = scanned + i;
            let line_start = start;
            start = nl + 1;
            scanned = start;
            if std::mem::take(&mut discarding) {
                continue;
            }
            let line = strip_cr(buf.get(line_start..nl).unwrap_or_default());
            if is_blank(line) {
                continue;
            }
            let reply = if line.len() > max {
                tracing::warn!(peer, "request of {} bytes exceeds the limit of {max}", line.len());
                Some(too_large_reply(max).await)
            } else {
                crate::process(&*shared.service, &common.engine, line, info).await
            };
            if let Some(reply) = reply {
                pending.extend_from_slice(&reply);
                pending.extend_from_slice(b"\r\n");
            }
            // Pipelined requests: replies to lines that are already here go out together,
            // in one write, once no further complete line is buffered (or a lot is pending).
            let more = buf.get(start..).is_some_and(|rest| rest.contains(&b'\n'));
            let flush = !pending.is_empty() && (!more || pending.len() >= FLUSH_AT);
            if flush && !send(&mut io, std::mem::take(&mut pending), common.idle_timeout).await {
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
            let mut reply = too_large_reply(max).await;
            reply.extend_from_slice(b"\r\n");
            if !send(&mut io, reply, common.idle_timeout).await {
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
        let read = tokio::select! {
            biased;
            () = common.shutdown.cancelled() => break,
            r = within(common.idle_timeout, io.read(&mut chunk)) => r,
        };
        let n = match read {
            Some(Ok(n)) => n,
            Some(Err(e)) => {
                tracing::debug!(peer, "read failed: {e}");
                return;
            }
            None => {
                tracing::debug!(peer, "idle for {:?}: closing", common.idle_timeout);
                break;
            }
        };
        if n == 0 {
            // End of input: answer a last request that lacks its newline.
            let line = strip_cr(buf.get(start..).unwrap_or_default());
            if !discarding && !is_blank(line) {
                let reply = if line.len() > max {
                    Some(too_large_reply(max).await)
                } else {
                    crate::process(&*shared.service, &common.engine, line, info).await
                };
                if let Some(mut reply) = reply {
                    reply.extend_from_slice(b"\r\n");
                    send(&mut io, reply, common.idle_timeout).await;
                }
            }
            break;
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
    }
    let _ = within(common.idle_timeout, io.shutdown()).await;
}

/// Writes `bytes` (replies with their CRLFs) in one write. `false` when the connection is
/// unusable.
async fn send<IO: AsyncWrite + Unpin>(io: &mut IO, bytes: Vec<u8>, idle: std::time::Duration) -> bool {
    let write = async {
        io.write_all(&bytes).await?;
        io.flush().await
    };
    match within(idle, write).await {
        Some(Ok(())) => true,
        Some(Err(e)) => {
            tracing::debug!("write failed: {e}");
            false
        }
        None => {
            tracing::debug!("peer does not read its replies: closing");
            false
        }
    }
}
