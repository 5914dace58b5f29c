//! The device framing (`reflex::io::serve`) at its limits: an overlong line gets one reply and
//! the stream resynchronises; a line whose beginning already cannot be JSON gets the parse error
//! it deserves, not the size error.

use std::convert::Infallible;

use reflex::io::Buffers;
use reflex::{Config, RpcInfo, Transport};
use reflex_tests::DEMO;

/// Reads from a byte string, collects what is written.
struct Mem<'a> {
    input: &'a [u8],
    output: Vec<u8>,
}

impl embedded_io::ErrorType for Mem<'_> {
    type Error = Infallible;
}

impl embedded_io::Read for Mem<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        let n = buf.len().min(self.input.len());
        buf[..n].copy_from_slice(&self.input[..n]);
        self.input = &self.input[n..];
        Ok(n)
    }
}

impl embedded_io::Write for Mem<'_> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        self.output.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

/// Serves `input` with a `rx`-byte receive buffer; returns the reply lines.
fn serve(input: &str, rx: usize) -> Vec<String> {
    let mut io = Mem { input: input.as_bytes(), output: Vec::new() };
    let (mut rxb, mut scratch, mut tx) = (vec![0u8; rx], vec![0u8; rx], vec![0u8; 32]);
    let bufs = Buffers { rx: &mut rxb, scratch: &mut scratch, tx: &mut tx };
    reflex::io::serve(&DEMO, &Config::new(), &mut io, bufs, &RpcInfo::new(Transport::Serial)).expect("in memory");
    String::from_utf8(io.output).expect("UTF-8").split_terminator("\r\n").map(str::to_string).collect()
}

const ADD: &str = r#"{"jsonrpc":"2.0","method":"add","params":[1,2],"id":7}"#;
const SUM: &str = r#"{"jsonrpc":"2.0","result":3,"id":7}"#;
const PARSE_ERROR: &str = r#"{"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error"},"id":null}"#;

#[test]
fn an_overlong_valid_request_gets_the_size_error_and_the_stream_resyncs() {
    let long = format!(r#"{{"jsonrpc":"2.0","method":"echo","params":["{}"],"id":1}}"#, "x".repeat(500));
    let replies = serve(&format!("{long}\n{ADD}\n"), 128);
    assert_eq!(
        replies,
        [
            r#"{"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request","data":"Request exceeds the limit of 128 bytes"},"id":null}"#,
            SUM
        ]
    );
}

#[test]
fn an_overlong_line_that_cannot_be_json_gets_a_parse_error() {
    // Nests deeper than the limit long before the buffer ends.
    let deep = "[".repeat(100_000);
    assert_eq!(serve(&format!("{deep}\n{ADD}\n"), 256), [PARSE_ERROR, SUM]);
    // A syntax error well inside the first buffer.
    let garbage = format!("{{\"jsonrpc\" 2.0, {}", "y".repeat(1000));
    assert_eq!(serve(&format!("{garbage}\n{ADD}\n"), 256), [PARSE_ERROR, SUM]);
    // Cut inside a token near the end of the buffer: not provably broken, so the size error.
    let cut = format!("[\"{}\\u00e9 and more\"]", "z".repeat(119));
    let replies = serve(&format!("{cut}\n{ADD}\n"), 128);
    assert!(replies[0].contains("Request exceeds the limit of 128 bytes"), "{replies:?}");
    assert_eq!(replies[1], SUM);
}
