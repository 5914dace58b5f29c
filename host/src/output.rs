//! Running the core on the host: replies rendered into a growable buffer.

use reflex::reply::Render;
use reflex::sink::{Sink, Stop};
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
        tracing::error!(method, detail, "internal error in handler (not sent to the client)");
    }
}

/// Largest reply the host servers produce (reflection documents of big services included).
pub const MAX_REPLY: usize = 64 * 1024 * 1024;

/// Processes one request text with `service` and returns the reply bytes (`None` when no
/// reply is due). Scratch for unescaped strings is allocated to the request's length, so
/// every request that fits the transport's limit can be decoded.
pub async fn process<S: Service>(service: &S, config: &Config, request: &[u8], info: &RpcInfo<'_>) -> Option<Vec<u8>> {
    let mut scratch = vec![0u8; request.len()];
    let mut out = VecOutput::new(MAX_REPLY);
    match reflex::engine::handle(service, config, request, &mut scratch, info, &mut out).await {
        Ok(true) => Some(out.bytes),
        Ok(false) => None,
        Err(ReplyTooLarge) => {
            tracing::error!("reply exceeded {MAX_REPLY} bytes; answering with an internal error");
            Some(br#"{"jsonrpc":"2.0","error":{"code":-32603,"message":"Internal error"},"id":null}"#.to_vec())
        }
    }
}
