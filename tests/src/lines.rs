//! A line-protocol client for the live-server tests: requests out, CRLF-ended replies in,
//! every wait bounded.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};

/// Longest any single wait may take before the test fails instead of hanging.
pub const WAIT: Duration = Duration::from_secs(10);

/// `f`, or a panic naming `what` when it takes longer than [`WAIT`].
pub async fn bounded<F: std::future::Future>(what: &str, f: F) -> F::Output {
    tokio::time::timeout(WAIT, f).await.unwrap_or_else(|_| panic!("timed out: {what}"))
}

/// A line-protocol connection over any stream.
pub struct Lines<IO> {
    /// The buffered stream, for tests that write or read around the helpers.
    pub io: BufReader<IO>,
}

impl<IO: AsyncRead + AsyncWrite + Unpin> Lines<IO> {
    /// A client over `io`.
    pub fn new(io: IO) -> Self {
        Lines { io: BufReader::new(io) }
    }

    /// Writes `bytes` as they are and flushes.
    pub async fn send(&mut self, bytes: &[u8]) {
        bounded("write", self.io.get_mut().write_all(bytes)).await.expect("write");
        bounded("flush", self.io.get_mut().flush()).await.expect("flush");
    }

    /// The next reply line, which must end in CRLF; returned without it.
    pub async fn reply(&mut self) -> String {
        let mut line = Vec::new();
        let n = bounded("reply line", self.io.read_until(b'\n', &mut line)).await.expect("read");
        assert!(n > 0, "connection closed while waiting for a reply");
        let text = String::from_utf8(line).expect("replies are UTF-8");
        assert!(text.ends_with("\r\n"), "reply must end in CRLF: {text:?}");
        text.trim_end_matches("\r\n").to_string()
    }

    /// Sends `request` and a newline; the reply line.
    pub async fn call(&mut self, request: impl AsRef<[u8]>) -> String {
        let mut line = request.as_ref().to_vec();
        line.push(b'\n');
        self.send(&line).await;
        self.reply().await
    }

    /// Reads until end of file: what arrived before it, and how the read ended.
    pub async fn read_rest(&mut self) -> (Vec<u8>, std::io::Result<usize>) {
        let mut rest = Vec::new();
        let ended = bounded("end of file", self.io.read_to_end(&mut rest)).await;
        (rest, ended)
    }
}
