//! Running the core on the host: replies rendered into memory, under a size limit.
//!
//! [`process`] and [`process_limited`] render the whole reply into a `Vec`; the line servers
//! render each reply element under the same rules ([`ReplyBudget`]) but write them to the
//! connection as they go, so a long batch reply never sits in memory whole.

use reflex::reply::Render;
use reflex::sink::{CountSink, Sink, Stop};
use reflex::{Config, Output, RpcInfo, Service};

/// A [`Sink`] over a `Vec<u8>`, capped so a runaway reply cannot exhaust memory.
#[derive(Debug)]
pub struct VecSink<'a> {
    buf: &'a mut Vec<u8>,
    limit: usize,
}

impl<'a> VecSink<'a> {
    /// Appends to `buf`, refusing to grow it past `limit` bytes.
    pub fn new(buf: &'a mut Vec<u8>, limit: usize) -> Self {
        VecSink { buf, limit }
    }
}

impl Sink for VecSink<'_> {
    fn write(&mut self, bytes: &[u8]) -> Result<(), Stop> {
        if self.buf.len() + bytes.len() > self.limit {
            return Err(Stop);
        }
        self.buf.extend_from_slice(bytes);
        Ok(())
    }
}

/// The reply did not fit the output limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("reply exceeds the output limit")]
pub struct ReplyTooLarge;

/// An [`Output`] collecting replies in memory, handing hidden internal errors to `tracing`.
///
/// A reply element that does not fit is dropped and the emit fails; what to send instead is
/// the caller's business. [`LimitedOutput`] does that part too.
#[derive(Debug)]
pub struct VecOutput {
    /// The reply bytes.
    pub bytes: Vec<u8>,
    /// Largest reply accepted.
    pub limit: usize,
}

impl VecOutput {
    /// An empty output with a limit.
    pub fn new(limit: usize) -> Self {
        VecOutput { bytes: Vec::new(), limit }
    }
}

impl Output for VecOutput {
    type Error = ReplyTooLarge;

    async fn emit(&mut self, r: &dyn Render) -> Result<(), ReplyTooLarge> {
        let mark = self.bytes.len();
        let limit = self.limit;
        let result = r.render(&mut VecSink::new(&mut self.bytes, limit));
        if result.is_err() {
            self.bytes.truncate(mark);
            return Err(ReplyTooLarge);
        }
        Ok(())
    }

    fn internal_error(&mut self, method: &str, detail: &str) {
        log_internal_error(method, detail);
    }
}

/// Logs the detail of a hidden internal error (the client only sees "Internal error").
pub(crate) fn log_internal_error(method: &str, detail: &str) {
    tracing::error!(method, detail, "internal error in handler (not sent to the client)");
}

/// Largest reply [`process`] produces (reflection documents of big services included). The
/// servers use [`crate::server::ServerConfig::max_response_size`] instead.
pub const MAX_REPLY: usize = 64 * 1024 * 1024;

/// What replaces a reply that exceeds its limit: a fixed 2.0 `-32603` with id `null`. The
/// version of the request is not looked at again, and nothing of the reply leaks into it.
pub const INTERNAL_ERROR_REPLY: &[u8] =
    br#"{"jsonrpc":"2.0","error":{"code":-32603,"message":"Internal error"},"id":null}"#;

/// What ends a batch reply that exceeds its limit after some of its elements were rendered:
/// the internal error as a last element, and the closing bracket. (Those elements may
/// already be on the wire, so they cannot be replaced; this keeps the reply valid JSON.)
const CLOSE_BATCH: &[u8] = br#",{"jsonrpc":"2.0","error":{"code":-32603,"message":"Internal error"},"id":null}]"#;

/// The smallest reply limit [`ReplyBudget`] works with: room for its own error texts.
pub const MIN_REPLY_LIMIT: usize = 256;

/// Holds the reply to one request text (one object, or all replies of a batch) to a size
/// limit while its elements are rendered one [`Output::emit`] at a time.
///
/// * A reply that fits is left as rendered.
/// * A reply whose first element does not fit becomes [`INTERNAL_ERROR_REPLY`].
/// * A batch reply that outgrows the limit later keeps the elements rendered so far and is
///   closed with an internal error element (`…,{"jsonrpc":"2.0","error":{"code":-32603,…},
///   "id":null}]`). The remaining requests of the batch are not run: the engine stops at the
///   failed emit.
///
/// Either way the result is valid JSON of at most `limit` bytes, whether or not the earlier
/// elements have been written out meanwhile; so every transport can send the same bytes.
/// Inside a batch, room for the closing error element is kept free, which is why a batch may
/// be cut a few dozen bytes before the limit.
#[derive(Debug, Clone)]
pub struct ReplyBudget {
    limit: usize,
    /// Bytes of this reply so far (including any already written out).
    len: usize,
    /// The reply is a batch (its first element began with `[`).
    batch: bool,
    /// Set once the limit was hit: the size the reply would have had at least.
    exceeded: Option<usize>,
}

impl ReplyBudget {
    /// A budget of `limit` bytes (at least [`MIN_REPLY_LIMIT`]) for one reply.
    pub fn new(limit: usize) -> Self {
        ReplyBudget { limit: limit.max(MIN_REPLY_LIMIT), len: 0, batch: false, exceeded: None }
    }

    /// Appends `r` to `buf` when the reply stays within the limit. Otherwise appends what
    /// completes the reply instead (see the type's docs) and fails; once failed, every later
    /// call fails without writing.
    pub fn render(&mut self, r: &dyn Render, buf: &mut Vec<u8>) -> Result<(), ReplyTooLarge> {
        if self.exceeded.is_some() {
            return Err(ReplyTooLarge);
        }
        let mark = buf.len();
        // Never buffer more than the rest of the budget, however large the element.
        let room = self.limit.saturating_sub(self.len);
        let rendered = r.render(&mut VecSink::new(buf, mark.saturating_add(room))).is_ok();
        let element = buf.get(mark..).unwrap_or_default();
        if self.len == 0 {
            self.batch = element.first() == Some(&b'[');
        }
        // The `]` that closes a batch needs no reserve: the reserve was kept for it.
        let closing = self.batch && self.len > 0 && element == b"]";
        let reserve = if self.batch && !closing { CLOSE_BATCH.len() } else { 0 };
        let n = element.len();
        if rendered && self.len + n + reserve <= self.limit {
            self.len += n;
            return Ok(());
        }
        buf.truncate(mark);
        // The element's size, for the log: counted without being stored.
        let size = if rendered {
            n
        } else {
            let mut count = CountSink::default();
            let _ = r.render(&mut count);
            count.0
        };
        self.exceeded = Some(self.len + size);
        let end = if self.len == 0 { INTERNAL_ERROR_REPLY } else { CLOSE_BATCH };
        buf.extend_from_slice(end);
        self.len += end.len();
        Err(ReplyTooLarge)
    }

    /// When the reply exceeded the limit: the size it would have had at least (the elements
    /// rendered before, and the one that did not fit).
    pub fn exceeded(&self) -> Option<usize> {
        self.exceeded
    }

    /// The limit.
    pub fn limit(&self) -> usize {
        self.limit
    }
}

/// An [`Output`] collecting one reply in memory under a [`ReplyBudget`]: when it fails with
/// [`ReplyTooLarge`], [`LimitedOutput::bytes`] already holds the complete replacement reply.
#[derive(Debug)]
pub struct LimitedOutput {
    /// The reply bytes.
    pub bytes: Vec<u8>,
    budget: ReplyBudget,
}

impl LimitedOutput {
    /// An empty output for a reply of at most `limit` bytes.
    pub fn new(limit: usize) -> Self {
        LimitedOutput { bytes: Vec::new(), budget: ReplyBudget::new(limit) }
    }

    /// The budget, which tells whether (and by how much) the limit was exceeded.
    pub fn budget(&self) -> &ReplyBudget {
        &self.budget
    }
}

impl Output for LimitedOutput {
    type Error = ReplyTooLarge;

    async fn emit(&mut self, r: &dyn Render) -> Result<(), ReplyTooLarge> {
        self.budget.render(r, &mut self.bytes)
    }

    fn internal_error(&mut self, method: &str, detail: &str) {
        log_internal_error(method, detail);
    }
}

/// The reply to one request text under a size limit ([`process_limited`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limited {
    /// The reply bytes; `None` when no reply is due (notifications).
    pub reply: Option<Vec<u8>>,
    /// When the reply exceeded the limit: the size it would have had at least. The reply is
    /// then [`INTERNAL_ERROR_REPLY`] or a batch cut short (see [`ReplyBudget`]).
    pub exceeded: Option<usize>,
}

/// Processes one request text with `service` and returns the reply bytes (`None` when no
/// reply is due), at most [`MAX_REPLY`] of them (see [`ReplyBudget`] for what a larger reply
/// becomes; it is logged). Scratch for unescaped strings is allocated to the request's
/// length, so every request that fits the transport's limit can be decoded.
pub async fn process<S: Service>(service: &S, config: &Config, request: &[u8], info: &RpcInfo<'_>) -> Option<Vec<u8>> {
    let done = process_limited(service, config, request, info, MAX_REPLY).await;
    if let Some(size) = done.exceeded {
        tracing::error!(size, limit = MAX_REPLY, "reply too large; answering with an internal error");
    }
    done.reply
}

/// [`process`] with a reply limit of `limit` bytes (at least [`MIN_REPLY_LIMIT`]); reports
/// instead of logging when the limit was exceeded.
pub async fn process_limited<S: Service>(
    service: &S,
    config: &Config,
    request: &[u8],
    info: &RpcInfo<'_>,
    limit: usize,
) -> Limited {
    let mut scratch = vec![0u8; request.len()];
    let mut out = LimitedOutput::new(limit);
    let reply = match reflex::engine::handle(service, config, request, &mut scratch, info, &mut out).await {
        Ok(true) | Err(ReplyTooLarge) => Some(out.bytes),
        Ok(false) => None,
    };
    Limited { reply, exceeded: out.budget.exceeded() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reflex::reply::Raw;

    /// Emits `parts` one by one, as the engine would; the bytes and whether it stopped.
    fn run(limit: usize, parts: &[&[u8]]) -> (Vec<u8>, Option<usize>) {
        let mut b = ReplyBudget::new(limit);
        let mut buf = Vec::new();
        for p in parts {
            if b.render(&Raw(p), &mut buf).is_err() {
                break;
            }
        }
        (buf, b.exceeded())
    }

    fn element(fill: usize) -> Vec<u8> {
        format!(r#"{{"jsonrpc":"2.0","result":"{}","id":1}}"#, "x".repeat(fill)).into_bytes()
    }

    #[test]
    fn a_reply_that_fits_is_untouched_up_to_the_limit() {
        let e = element(300);
        assert_eq!(run(e.len(), &[&e]), (e.clone(), None));
        let (bytes, exceeded) = run(e.len() - 1, &[&e]);
        assert_eq!((bytes.as_slice(), exceeded), (INTERNAL_ERROR_REPLY, Some(e.len())));
    }

    #[test]
    fn a_batch_over_the_limit_is_closed_with_an_error_element() {
        let e = element(100);
        let first = [b"[".as_slice(), &e].concat();
        let next = [b",".as_slice(), &e].concat();
        // Three elements fit (with room for the closing error), the fourth does not.
        let limit = first.len() + 2 * next.len() + CLOSE_BATCH.len() + 10;
        let (bytes, exceeded) = run(limit, &[&first, &next, &next, &next, &next, b"]"]);
        assert_eq!(exceeded, Some(first.len() + 3 * next.len()));
        assert!(bytes.len() <= limit);
        let v: serde_json::Value = serde_json::from_slice(&bytes).expect("valid JSON");
        let items = v.as_array().expect("an array");
        assert_eq!(items.len(), 4);
        assert_eq!(items[3]["error"]["code"], -32603);
        assert_eq!(items[3]["id"], serde_json::Value::Null);
        // A batch that fits exactly, closing bracket included.
        let all = [first.as_slice(), &next, b"]"].concat();
        assert_eq!(run(all.len() + CLOSE_BATCH.len() - 1, &[&first, &next, b"]"]), (all, None));
        // The first element alone is too large: the single error, not an array.
        let big = [b"[".as_slice(), &element(400)].concat();
        let (bytes, _) = run(big.len() - 1, &[&big, b"]"]);
        assert_eq!(bytes, INTERNAL_ERROR_REPLY);
    }

    #[test]
    fn nothing_is_written_after_the_limit_was_hit() {
        let e = element(400);
        let mut b = ReplyBudget::new(MIN_REPLY_LIMIT);
        let mut buf = Vec::new();
        assert!(b.render(&Raw(&e), &mut buf).is_err());
        assert!(b.render(&Raw(b"x"), &mut buf).is_err());
        assert_eq!(buf, INTERNAL_ERROR_REPLY);
        assert_eq!(b.limit(), MIN_REPLY_LIMIT);
        assert!(CLOSE_BATCH.len() < MIN_REPLY_LIMIT);
    }
}
