//! Hostile input, in process and on live connections.
//!
//! * The JSONTestSuite parsing corpus through the whole request path (`handle_to_slice`) and
//!   through `reflex serve`'s HTTP listener: every `n_` file is a `-32700` with id `null`, no
//!   `y_` file is, nothing panics, and the connection keeps working.
//! * An in-process [`Server`] over TCP (and HTTP where it means something): lines of many MiB,
//!   100 000-deep nesting, invalid UTF-8, lone surrogates, huge numbers, NUL bytes, duplicate
//!   keys, requests dribbled in 1-byte writes, a client that goes quiet in the middle of a
//!   line, more connections than the limit. After each, the same connection (or the server)
//!   still answers a normal call.
//! * What the host exposes: internal errors show only "Internal error" unless the debug
//!   option is on; an `Authorization` header means nothing without configured Basic auth.
//! * The seed corpora of the fuzz targets (`fuzz/corpus/`), where failing inputs are kept,
//!   replayed in process, over TCP and over HTTP.
//!
//! Every server listens on 127.0.0.1 port 0, and every wait is bounded.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reflex::{Config, RpcInfo, Transport};
use reflex_host::server::{Server, ServerConfig, ServerError, BUSY_REPLY};
use reflex_host::Endpoint;
use reflex_tests::lines::{bounded, Lines};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A normal call, made after each hostile input to show the connection still works.
const ALIVE: &str = r#"{"jsonrpc":"2.0","method":"add","params":[1,2],"id":"alive"}"#;
const ALIVE_REPLY: &str = r#"{"jsonrpc":"2.0","result":3,"id":"alive"}"#;

const PARSE_ERROR: &str = r#"{"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error"},"id":null}"#;

// ------------------------------------------------------------------------------------------
// Servers

struct Running {
    endpoints: Vec<Endpoint>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), ServerError>>,
}

impl Running {
    fn addr(&self, scheme: &str) -> String {
        self.endpoints
            .iter()
            .find(|e| e.to_string().starts_with(&format!("{scheme}://")))
            .and_then(Endpoint::authority)
            .unwrap_or_else(|| panic!("no {scheme} endpoint in {:?}", self.endpoints))
    }

    async fn stop(mut self) {
        let _ = self.stop.take().expect("running").send(());
        bounded("server shutdown", &mut self.task).await.expect("server task").expect("clean stop");
    }
}

/// TCP and HTTP listeners on loopback, two workers.
fn config() -> ServerConfig {
    ServerConfig {
        listen: vec!["tcp://127.0.0.1:0".parse().unwrap(), "http://127.0.0.1:0/rpc".parse().unwrap()],
        workers: 2,
        ..ServerConfig::default()
    }
}

async fn start(config: ServerConfig) -> Running {
    let server = Server::bind(Arc::new(reflex_host::demo_service()), config).await.expect("server binds");
    let endpoints = server.endpoints();
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(server.run_until(async move {
        let _ = rx.await;
    }));
    Running { endpoints, stop: Some(tx), task }
}

// ------------------------------------------------------------------------------------------
// Clients

/// What these tests add to the shared line client.
#[allow(async_fn_in_trait)]
trait LinesExt {
    /// A normal call, which must be answered normally.
    async fn alive(&mut self);
    /// Reads until end of file (or a reset); what arrived before it.
    async fn rest(&mut self) -> Vec<u8>;
}

impl<IO: AsyncRead + AsyncWrite + Unpin> LinesExt for Lines<IO> {
    async fn alive(&mut self) {
        assert_eq!(self.call(ALIVE).await, ALIVE_REPLY, "the connection must still answer");
    }

    async fn rest(&mut self) -> Vec<u8> {
        self.read_rest().await.0
    }
}

async fn tcp(addr: &str) -> Lines<TcpStream> {
    let s = bounded("connect", TcpStream::connect(addr)).await.expect("connect");
    s.set_nodelay(true).expect("nodelay");
    Lines::new(s)
}

#[derive(Debug)]
struct HttpResponse {
    head: String,
    status: u16,
    body: Vec<u8>,
}

impl HttpResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.split("\r\n").skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("UTF-8 body")
    }
}

/// A keep-alive HTTP/1.1 connection speaking raw bytes.
struct Http {
    io: TcpStream,
    buf: Vec<u8>,
}

impl Http {
    async fn connect(addr: &str) -> Http {
        let io = bounded("connect", TcpStream::connect(addr)).await.expect("connect");
        io.set_nodelay(true).expect("nodelay");
        Http { io, buf: Vec::new() }
    }

    async fn fill(&mut self) -> usize {
        let mut chunk = [0u8; 16 * 1024];
        let n = bounded("HTTP read", self.io.read(&mut chunk)).await.unwrap_or(0);
        self.buf.extend_from_slice(&chunk[..n]);
        n
    }

    async fn response(&mut self) -> HttpResponse {
        let end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i;
            }
            assert!(self.fill().await > 0, "connection closed before a response head");
        };
        let head = String::from_utf8(self.buf[..end].to_vec()).expect("ASCII head");
        self.buf.drain(..end + 4);
        let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("status code");
        let mut r = HttpResponse { head, status, body: Vec::new() };
        let len: usize = r.header("content-length").expect("every response has a length").parse().expect("length");
        while self.buf.len() < len {
            assert!(self.fill().await > 0, "connection closed in a response body");
        }
        r.body = self.buf.drain(..len).collect();
        r
    }

    async fn exchange(&mut self, request: &[u8]) -> HttpResponse {
        bounded("HTTP write", self.io.write_all(request)).await.expect("write");
        self.response().await
    }

    /// POSTs `body` to /rpc; the response must be 200.
    async fn post(&mut self, body: &[u8]) -> HttpResponse {
        let r = self.exchange(&post(body)).await;
        assert_eq!(r.status, 200, "{r:?}");
        r
    }

    async fn alive(&mut self) {
        assert_eq!(self.post(ALIVE.as_bytes()).await.text(), ALIVE_REPLY, "the connection must still answer");
    }

    /// Whether the server closed the connection (end of file, or a reset).
    async fn closed(&mut self) -> bool {
        let mut chunk = [0u8; 256];
        matches!(bounded("close", self.io.read(&mut chunk)).await, Ok(0) | Err(_))
    }
}

fn post(body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "POST /rpc HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

fn parse(reply: &str) -> Value {
    serde_json::from_str(reply).unwrap_or_else(|e| panic!("reply is not valid JSON ({e}): {reply}"))
}

// ------------------------------------------------------------------------------------------
// JSONTestSuite

/// Every parsing file of the vendored JSONTestSuite, sorted by name, with its bytes.
fn jsontestsuite() -> Vec<(String, Vec<u8>)> {
    let dir = reflex_tests::vectors_dir().join("jsontestsuite/test_parsing");
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.expect("directory entry").path();
            let name = path.file_name().and_then(|n| n.to_str()).expect("UTF-8 name").to_string();
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
            (name, bytes)
        })
        .filter(|(name, _)| name.ends_with(".json"))
        .collect();
    files.sort();
    assert!(files.len() >= 300, "expected the whole corpus, found {} files", files.len());
    files
}

/// The JSONTestSuite rule for one reply: `n_` → one -32700 with id null; `y_` → anything but
/// -32700; `i_` → anything. Every reply (there is one for each file: none is a notification)
/// is valid JSON. Returns a failure description.
fn judge(name: &str, reply: Option<&[u8]>) -> Option<String> {
    let Some(reply) = reply.filter(|r| !r.is_empty()) else {
        return Some(format!("{name}: no reply"));
    };
    let text = String::from_utf8_lossy(reply);
    let v: Value = match serde_json::from_slice(reply) {
        Ok(v) => v,
        Err(e) => return Some(format!("{name}: reply is not JSON ({e}): {text}")),
    };
    let code = v["error"]["code"].as_i64();
    if name.starts_with("n_") && (code != Some(-32700) || v.get("id") != Some(&Value::Null)) {
        return Some(format!("{name}: expected -32700 with id null, got {text}"));
    }
    if name.starts_with("y_") && code == Some(-32700) {
        return Some(format!("{name}: valid JSON answered with a parse error: {text}"));
    }
    None
}

#[test]
fn jsontestsuite_through_the_request_path() {
    let mut failures = Vec::new();
    let (mut n, mut y) = (0, 0);
    for (name, bytes) in jsontestsuite() {
        n += usize::from(name.starts_with("n_"));
        y += usize::from(name.starts_with("y_"));
        for config in [Config::new(), Config::new().max_depth(reflex::scan::MAX_DEPTH)] {
            let reply = reflex_tests::call_with(&config, &RpcInfo::new(Transport::InProcess), &bytes);
            failures.extend(judge(&name, reply.as_deref().map(str::as_bytes)));
        }
    }
    assert!(n > 150 && y > 90, "n_ {n}, y_ {y}");
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jsontestsuite_over_http_keeps_the_connection() {
    let server = start(config()).await;
    let mut c = Http::connect(&server.addr("http")).await;
    let mut failures = Vec::new();
    for (name, bytes) in jsontestsuite() {
        let r = c.exchange(&post(&bytes)).await;
        if r.status != 200 {
            failures.push(format!("{name}: HTTP {}", r.status));
        }
        failures.extend(judge(&name, Some(&r.body)));
        // The same connection answers the next request.
        c.alive().await;
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
    server.stop().await;
}

/// The files without raw line breaks (the others cannot be one line) over the TCP line
/// protocol, all on one connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jsontestsuite_over_tcp_lines() {
    let server = start(config()).await;
    let mut c = tcp(&server.addr("tcp")).await;
    let mut failures = Vec::new();
    let mut sent = 0;
    for (name, bytes) in jsontestsuite() {
        if bytes.contains(&b'\n') || bytes.contains(&b'\r') || bytes.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        sent += 1;
        let reply = c.call(&bytes).await;
        failures.extend(judge(&name, Some(reply.as_bytes())));
        c.alive().await;
    }
    assert!(sent > 290, "only {sent} files sent");
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
    server.stop().await;
}

// ------------------------------------------------------------------------------------------
// Hostile input on live connections

/// A request line of `size` bytes: an echo of a string of `x`.
fn echo_of_size(size: usize) -> Vec<u8> {
    let head = br#"{"jsonrpc":"2.0","method":"echo","params":[""#;
    let tail = br#""],"id":1}"#;
    let mut r = head.to_vec();
    r.resize(size - tail.len(), b'x');
    r.extend_from_slice(tail);
    r
}

fn assert_too_large(reply: &str, limit: usize) {
    let v = parse(reply);
    assert_eq!(v["error"]["code"], -32600, "{reply}");
    assert_eq!(v["id"], Value::Null, "{reply}");
    let data = v["error"]["data"].as_str().unwrap_or_default();
    assert!(data.contains(&limit.to_string()), "the limit is in data: {reply}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_mib_line_gets_one_error_and_the_connection_survives() {
    let server = start(config()).await;
    let limit = ServerConfig::default().max_request_size;
    let s = bounded("connect", TcpStream::connect(server.addr("tcp"))).await.expect("connect");
    let (r, mut w) = s.into_split();
    let mut r = BufReader::new(r);
    // Written while the replies are read: the error comes long before the line ends.
    let writer = tokio::spawn(async move {
        let mut line = echo_of_size(8 * 1024 * 1024);
        line.push(b'\n');
        line.extend_from_slice(ALIVE.as_bytes());
        line.push(b'\n');
        w.write_all(&line).await.expect("write 8 MiB");
        w
    });
    let mut line = String::new();
    bounded("too-large reply", r.read_line(&mut line)).await.expect("read");
    assert_too_large(line.trim_end(), limit);
    line.clear();
    bounded("next reply", r.read_line(&mut line)).await.expect("read");
    assert_eq!(line, format!("{ALIVE_REPLY}\r\n"), "exactly one error, then the next request's reply");
    let w = bounded("writer", writer).await.expect("writer");
    let mut c = Lines::new(r.into_inner().reunite(w).expect("same stream"));
    c.alive().await;

    // Over HTTP: 413 with the error as a JSON body, without the body being read; the
    // connection closes (the unread body makes it unusable), and a new one is served.
    let mut h = Http::connect(&server.addr("http")).await;
    let head = format!("POST /rpc HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n", 8 * 1024 * 1024);
    let resp = h.exchange(head.as_bytes()).await;
    assert_eq!(resp.status, 413, "{resp:?}");
    assert_too_large(resp.text(), limit);
    assert_eq!(resp.header("connection"), Some("close"));
    assert!(h.closed().await);
    // A chunked body (no length announced) is cut off at the limit too. One byte over it,
    // and no more, so that the server has read all that was sent when it closes.
    let mut h = Http::connect(&server.addr("http")).await;
    let mut req = b"POST /rpc HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    req.extend_from_slice(format!("{limit:x}\r\n").as_bytes());
    req.extend(std::iter::repeat_n(b'[', limit));
    req.extend_from_slice(b"\r\n1\r\n[");
    let resp = h.exchange(&req).await;
    assert_eq!(resp.status, 413, "{resp:?}");
    Http::connect(&server.addr("http")).await.alive().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_nesting_is_a_parse_error() {
    let server = start(config()).await;
    let mut c = tcp(&server.addr("tcp")).await;
    let mut h = Http::connect(&server.addr("http")).await;
    let deep = 100_000;
    let open_arrays = "[".repeat(deep);
    let closed_arrays = format!("{}{}", "[".repeat(deep), "]".repeat(deep));
    let objects = format!("{}0{}", r#"{"a":"#.repeat(deep), "}".repeat(deep));
    let in_params =
        format!(r#"{{"jsonrpc":"2.0","method":"echo","params":[{}"x"{}],"id":1}}"#, "[".repeat(deep), "]".repeat(deep));
    // (Fewer repetitions: each is 42 bytes, and the line must stay under the 1 MiB limit.)
    let in_batch = format!("[{}]", r#"{"jsonrpc":"2.0","method":"echo","params":[["#.repeat(20_000));
    // Just over the default limit of 32 levels, with the request object counted.
    let just_over =
        format!(r#"{{"jsonrpc":"2.0","method":"echo","params":{}1{},"id":1}}"#, "[".repeat(32), "]".repeat(32));
    for input in [&open_arrays, &closed_arrays, &objects, &in_params, &in_batch, &just_over] {
        assert_eq!(c.call(input.as_bytes()).await, PARSE_ERROR, "{}…", &input[..40]);
        c.alive().await;
        assert_eq!(h.post(input.as_bytes()).await.text(), PARSE_ERROR);
        h.alive().await;
    }
    // At the limit it is a request (echo wants a string: a type error, not a parse error).
    let at_limit =
        format!(r#"{{"jsonrpc":"2.0","method":"echo","params":{}1{},"id":1}}"#, "[".repeat(31), "]".repeat(31));
    assert_eq!(parse(&c.call(at_limit.as_bytes()).await)["error"]["code"], -32602);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_utf8_and_lone_surrogates_are_parse_errors() {
    let server = start(config()).await;
    let mut c = tcp(&server.addr("tcp")).await;
    let mut h = Http::connect(&server.addr("http")).await;
    let bad: &[&[u8]] = &[
        b"{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":[\"a\xffb\"],\"id\":1}",
        b"{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":[\"\xc0\xaf\"],\"id\":1}", // overlong '/'
        b"{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":[\"\xed\xa0\x80\"],\"id\":1}", // raw surrogate
        b"{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":[\"\xf4\x90\x80\x80\"],\"id\":1}", // > U+10FFFF
        b"{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":[\"\xe2\x82\"],\"id\":1}", // truncated
        b"{\"jsonrpc\":\"2.0\",\"method\":\"ech\xefo\",\"id\":1}",
        b"{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":[\"x\"],\"id\":\"\xc3\x28\"}",
        b"\xef\xbb\xbf{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":[\"bom\"],\"id\":1}",
        b"\xff\xfe{\x00}\x00",
        br#"{"jsonrpc":"2.0","method":"echo","params":["\ud800"],"id":1}"#,
        br#"{"jsonrpc":"2.0","method":"echo","params":["\udc00"],"id":1}"#,
        br#"{"jsonrpc":"2.0","method":"echo","params":["\ud800\u0041"],"id":1}"#,
        br#"{"jsonrpc":"2.0","method":"echo","params":["\ude00\ud83d"],"id":1}"#,
        br#"{"jsonrpc":"2.0","method":"echo","params":["x"],"id":"\ud800"}"#,
        br#"{"method": "echo", "params": ["\udfff"], "id": 1}"#,
    ];
    for input in bad {
        assert_eq!(c.call(input).await, PARSE_ERROR, "{}", input.escape_ascii());
        c.alive().await;
        assert_eq!(h.post(input).await.text(), PARSE_ERROR, "{}", input.escape_ascii());
        h.alive().await;
    }
    // A proper pair is one character, echoed as UTF-8.
    let pair = br#"{"jsonrpc":"2.0","method":"echo","params":["\ud83d\ude00"],"id":1}"#;
    assert_eq!(c.call(pair).await, "{\"jsonrpc\":\"2.0\",\"result\":\"\u{1f600}\",\"id\":1}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_numbers_are_type_errors_and_ids_are_echoed_byte_for_byte() {
    let server = start(config()).await;
    let mut c = tcp(&server.addr("tcp")).await;
    let mut h = Http::connect(&server.addr("http")).await;
    let digits = "7".repeat(400);
    // Numbers no `int` parameter can take.
    let not_ints = [
        "1e400".to_string(),
        "-1E+400".to_string(),
        "1e-400".to_string(),
        digits.clone(),
        format!("-{digits}"),
        format!("{digits}.5e-3"),
        "9223372036854775808".to_string(), // i64::MAX + 1
        "-9223372036854775809".to_string(),
        "18446744073709551616".to_string(), // u64::MAX + 1
        "0.0".to_string(),
    ];
    for n in &not_ints {
        // As an int parameter: a type error (-32602), never a wrapped or rounded result.
        let request = format!(r#"{{"jsonrpc":"2.0","method":"add","params":[{n},1],"id":{n}}}"#);
        for reply in [c.call(request.as_bytes()).await, h.post(request.as_bytes()).await.text().to_string()] {
            assert!(reply.starts_with(r#"{"jsonrpc":"2.0","error":{"code":-32602,"#), "{n}: {reply}");
            assert!(reply.ends_with(&format!(r#","id":{n}}}"#)), "id echoed byte for byte: {reply}");
        }
        c.alive().await;
        h.alive().await;
    }
    // Every number is an id, echoed exactly as sent (2.0 and 1.0).
    for n in not_ints.iter().map(String::as_str).chain(["-0", "1.50", "0.1E1", "-0.0e-0"]) {
        let request = format!(r#"{{"jsonrpc":"2.0","method":"add","params":[2,3],"id":{n}}}"#);
        assert_eq!(c.call(request.as_bytes()).await, format!(r#"{{"jsonrpc":"2.0","result":5,"id":{n}}}"#));
        let request = format!(r#"{{"method": "add", "params": [2, 3], "id": {n}}}"#);
        assert_eq!(c.call(request.as_bytes()).await, format!(r#"{{"result": 5, "id": {n}, "error": null}}"#));
    }
    c.alive().await;
    // The edges that do fit are exact.
    let max = r#"{"jsonrpc":"2.0","method":"add","params":[9223372036854775807,-9223372036854775808],"id":1}"#;
    assert_eq!(c.call(max.as_bytes()).await, r#"{"jsonrpc":"2.0","result":-1,"id":1}"#);
    let overflow = r#"{"jsonrpc":"2.0","method":"add","params":[9223372036854775807,1],"id":1}"#;
    assert!(c.call(overflow.as_bytes()).await.contains("OverflowError"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nul_bytes_raw_and_escaped() {
    let server = start(config()).await;
    let mut c = tcp(&server.addr("tcp")).await;
    let mut h = Http::connect(&server.addr("http")).await;
    // Raw NUL: a control character in a string, or a stray byte: not JSON.
    let raw: &[&[u8]] = &[
        b"{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":[\"a\x00b\"],\"id\":1}",
        b"{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":[\"a\"],\"id\":1}\x00",
        b"\x00{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":[\"a\"],\"id\":1}",
        b"\x00",
        b"\x00\x00\x00\x00\x00\x00\x00\x00",
    ];
    for input in raw {
        assert_eq!(c.call(input).await, PARSE_ERROR, "{}", input.escape_ascii());
        c.alive().await;
        assert_eq!(h.post(input).await.text(), PARSE_ERROR, "{}", input.escape_ascii());
        h.alive().await;
    }
    // Escaped NUL is a character like any other: echoed escaped, found in no method name.
    let echo = br#"{"jsonrpc":"2.0","method":"echo","params":["a\u0000b"],"id":1}"#;
    let reply = c.call(echo).await;
    assert_eq!(reply, r#"{"jsonrpc":"2.0","result":"a\u0000b","id":1}"#);
    assert_eq!(parse(&reply)["result"], "a\u{0}b");
    let method = br#"{"jsonrpc":"2.0","method":"echo\u0000","params":["a"],"id":1}"#;
    assert_eq!(parse(&c.call(method).await)["error"]["code"], -32601);
    let key = br#"{"jsonrpc":"2.0","method":"echo","params":{"message\u0000":"a"},"id":1}"#;
    assert_eq!(parse(&c.call(key).await)["error"]["code"], -32602);
    let id = br#"{"jsonrpc":"2.0","method":"add","params":[1,1],"id":"\u0000"}"#;
    assert_eq!(c.call(id).await, r#"{"jsonrpc":"2.0","result":2,"id":"\u0000"}"#);
    assert_eq!(parse(h.post(echo).await.text())["result"], "a\u{0}b");
    c.alive().await;
    h.alive().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_keys_last_one_wins() {
    let server = start(config()).await;
    let mut c = tcp(&server.addr("tcp")).await;
    let cases: &[(&str, &str)] = &[
        (
            r#"{"jsonrpc":"2.0","method":"add","params":[1,2],"params":[3,4],"id":1,"id":2}"#,
            r#"{"jsonrpc":"2.0","result":7,"id":2}"#,
        ),
        (
            r#"{"jsonrpc":"2.0","method":"nope","method":"add","params":[1,2],"id":"x"}"#,
            r#"{"jsonrpc":"2.0","result":3,"id":"x"}"#,
        ),
        // The `id` that counts decides whether it is a notification.
        (
            r#"{"jsonrpc":"1.0","jsonrpc":"2.0","method":"add","params":[1,2],"id":3}"#,
            r#"{"jsonrpc":"2.0","result":3,"id":3}"#,
        ),
        (
            r#"{"method": "echo", "params": ["x"], "params": ["y"], "id": 1}"#,
            r#"{"result": "y", "id": 1, "error": null}"#,
        ),
        // Escaped spellings of the same key are the same key.
        (
            r#"{"jsonrpc":"2.0","method":"add","params":[1,2],"\u0069d":5,"id":6}"#,
            r#"{"jsonrpc":"2.0","result":3,"id":6}"#,
        ),
        (
            r#"{"jsonrpc":"2.0","method":"hash_echo","params":[{"firstname":"a","firstname":"b","lastname":"","street1":"","street2":"","zipcode":"","city":""}],"id":1}"#,
            r#"{"jsonrpc":"2.0","result":{"firstname":"b","lastname":"","street1":"","street2":"","zipcode":"","city":""},"id":1}"#,
        ),
    ];
    for (request, expected) in cases {
        assert_eq!(c.call(request.as_bytes()).await, *expected, "{request}");
    }
    // A later id-less duplicate cannot turn a request into a notification: there is no such
    // thing as an absent duplicate. But an id given twice, the last null, is a null id.
    let null_last = r#"{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1,"id":null}"#;
    assert_eq!(c.call(null_last.as_bytes()).await, r#"{"jsonrpc":"2.0","result":3,"id":null}"#);
    c.alive().await;
    server.stop().await;
}

/// Writes `bytes` one byte per write, with a short pause after each.
async fn dribble(io: &mut TcpStream, bytes: &[u8]) {
    for b in bytes {
        bounded("1-byte write", io.write_all(std::slice::from_ref(b))).await.expect("write");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_byte_writes() {
    let server = start(config()).await;
    let mut c = tcp(&server.addr("tcp")).await;
    let request = b"{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":[\"dribbled \xc3\xa9\"],\"id\":7}\r\n";
    dribble(c.io.get_mut(), request).await;
    assert_eq!(c.reply().await, "{\"jsonrpc\":\"2.0\",\"result\":\"dribbled \u{e9}\",\"id\":7}");
    // Two requests and a notification, the byte boundaries falling anywhere.
    let two = format!("{ALIVE}\n{{\"jsonrpc\":\"2.0\",\"method\":\"notify\",\"params\":[\"n\"]}}\n{ALIVE}\n");
    dribble(c.io.get_mut(), two.as_bytes()).await;
    assert_eq!(c.reply().await, ALIVE_REPLY);
    assert_eq!(c.reply().await, ALIVE_REPLY);
    c.alive().await;

    let mut h = Http::connect(&server.addr("http")).await;
    dribble(&mut h.io, &post(ALIVE.as_bytes())).await;
    let r = h.response().await;
    assert_eq!((r.status, r.text()), (200, ALIVE_REPLY));
    h.alive().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_goes_quiet_mid_line_is_closed_after_the_idle_timeout() {
    let mut cfg = config();
    cfg.idle_timeout = Duration::from_millis(300);
    cfg.max_connections = 1;
    let server = start(cfg).await;
    let addr = server.addr("tcp");
    let mut quiet = tcp(&addr).await;
    quiet.alive().await;
    let since = Instant::now();
    quiet.send(br#"{"jsonrpc":"2.0","method":"echo","params":["half a li"#).await;
    // Its slot is taken meanwhile: a second client is refused.
    assert_eq!(tcp(&addr).await.reply().await, BUSY_REPLY);
    assert!(quiet.rest().await.is_empty(), "closed without a reply");
    let after = since.elapsed();
    assert!(after >= Duration::from_millis(250) && after < Duration::from_secs(5), "closed after {after:?}");
    // The slot is free again.
    let mut next = None;
    for _ in 0..100 {
        let mut c = tcp(&addr).await;
        if c.call(ALIVE.as_bytes()).await == ALIVE_REPLY {
            next = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    next.expect("the idle connection's slot is reused").alive().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_connections_than_the_limit_are_refused_cleanly() {
    let mut cfg = config();
    cfg.max_connections = 4;
    let server = start(cfg).await;
    let addr = server.addr("tcp");
    let mut served = Vec::new();
    for _ in 0..4 {
        let mut c = tcp(&addr).await;
        c.alive().await;
        served.push(c);
    }
    // Twenty more: each told "busy" and closed; some speak first.
    for i in 0..20 {
        let mut extra = tcp(&addr).await;
        if i % 2 == 0 {
            extra.send(format!("{ALIVE}\n").as_bytes()).await;
        }
        assert_eq!(extra.reply().await, BUSY_REPLY);
        assert!(extra.rest().await.is_empty());
    }
    let mut h = Http::connect(&server.addr("http")).await;
    let r = h.exchange(&post(ALIVE.as_bytes())).await;
    assert_eq!(r.status, 503, "{r:?}");
    assert_eq!(parse(r.text())["error"]["code"], -32000);
    assert!(h.closed().await);
    // The others are served throughout.
    for c in &mut served {
        c.alive().await;
    }
    drop(served.pop());
    let mut again = None;
    for _ in 0..100 {
        let mut c = tcp(&addr).await;
        if c.call(ALIVE.as_bytes()).await == ALIVE_REPLY {
            again = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    again.expect("a freed slot is used again").alive().await;
    server.stop().await;
}

/// Control characters, trailing garbage, empty and whitespace-only lines, truncation, and
/// request shapes that are valid JSON but no request: each answered (or, for blank lines,
/// ignored) and the connection kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_lines_keep_the_connection() {
    let server = start(config()).await;
    let mut c = tcp(&server.addr("tcp")).await;
    let parse_errors: &[&[u8]] = &[
        b"garbage",
        b"{",
        b"}",
        b"[",
        br#"{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1}}"#,
        br#"{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1} x"#,
        br#"{"jsonrpc":"2.0","method":"add","params":[1,2,],"id":1}"#,
        b"\x1b[2J\x07",
        b"{'jsonrpc':'2.0'}",
        b"NaN",
        b"[Infinity]",
    ];
    for input in parse_errors {
        assert_eq!(c.call(input).await, PARSE_ERROR, "{}", input.escape_ascii());
    }
    for input in [&b"1"[..], b"null", b"\"x\"", b"[]", br#"{"jsonrpc":"2.0"}"#, b"[[]]"] {
        let v = parse(&c.call(input).await);
        let v = if input == b"[[]]" { v[0].clone() } else { v };
        assert_eq!((v["error"]["code"].as_i64(), &v["id"]), (Some(-32600), &Value::Null), "{}", input.escape_ascii());
    }
    // `{}` has no `jsonrpc`: ReflectRPC's dialect, which answers a missing id with id -1.
    let v = parse(&c.call(b"{}").await);
    assert_eq!((&v["error"]["name"], &v["id"]), (&json!("InvalidRequest"), &json!(-1)));
    // Blank lines get nothing: the next reply is the next request's.
    c.send(b"\n\r\n \t \r\n").await;
    c.alive().await;
    server.stop().await;
}

// ------------------------------------------------------------------------------------------
// What the host exposes

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internal_error_details_never_reach_clients_unless_debug() {
    let v2 = br#"{"jsonrpc":"2.0","method":"error.internal","id":1}"#;
    let v1 = br#"{"method": "error.internal", "params": [], "id": 1}"#;
    let hidden_v2 = r#"{"jsonrpc":"2.0","error":{"code":-32603,"message":"Internal error"},"id":1}"#;
    let hidden_v1 = r#"{"result": null, "id": 1, "error": {"name": "InternalError", "message": "Internal error"}}"#;
    let batch = br#"[{"jsonrpc":"2.0","method":"error.internal","id":1},{"jsonrpc":"2.0","method":"error.internal"}]"#;
    let detail = "for the device log only";

    let server = start(config()).await;
    let mut c = tcp(&server.addr("tcp")).await;
    let mut h = Http::connect(&server.addr("http")).await;
    assert_eq!(c.call(v2).await, hidden_v2);
    assert_eq!(c.call(v1).await, hidden_v1);
    assert_eq!(c.call(batch).await, format!("[{hidden_v2}]"));
    let r = h.post(v2).await;
    assert_eq!(r.text(), hidden_v2);
    assert_eq!(h.post(v1).await.text(), hidden_v1);
    assert_eq!(h.post(batch).await.text(), format!("[{hidden_v2}]"));
    // Nothing in the HTTP head either.
    assert!(!r.head.contains(detail), "{r:?}");
    server.stop().await;

    // With the debug option the detail is shown (and only then).
    let mut cfg = config();
    cfg.engine = Config::new().expose_internal_errors(true);
    let server = start(cfg).await;
    let mut c = tcp(&server.addr("tcp")).await;
    let mut h = Http::connect(&server.addr("http")).await;
    let reply = c.call(v2).await;
    assert!(reply.contains(detail) && reply.contains("-32603"), "{reply}");
    assert!(c.call(v1).await.contains(detail));
    assert!(h.post(v2).await.text().contains(detail));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorization_is_never_trusted_without_configured_auth() {
    use base64::Engine as _;
    let server = start(config()).await;
    let mut h = Http::connect(&server.addr("http")).await;
    let token = base64::engine::general_purpose::STANDARD.encode("admin:admin");
    for auth in [format!("Basic {token}"), "Bearer anything".to_string(), "Basic !!!".to_string()] {
        for (method, expected) in [("is_authenticated", json!(false)), ("get_username", Value::Null)] {
            let body = format!(r#"{{"jsonrpc":"2.0","method":"{method}","id":1}}"#);
            let request = format!(
                "POST /rpc HTTP/1.1\r\nHost: localhost\r\nAuthorization: {auth}\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            let r = h.exchange(request.as_bytes()).await;
            assert_eq!(r.status, 200, "{r:?}");
            assert_eq!(parse(r.text())["result"], expected, "{method} with {auth}");
        }
    }
    server.stop().await;
}

// ------------------------------------------------------------------------------------------
// Fuzzing

/// Whether an input of the `host` fuzz target is a raw HTTP request (`TOKEN SP`) rather than a
/// JSON-RPC text.
fn raw_http(input: &[u8]) -> bool {
    let token = input.iter().take_while(|b| b.is_ascii_uppercase()).count();
    (3..=7).contains(&token) && input.get(token) == Some(&b' ')
}

/// The seed corpora of the `request` and `host` fuzz targets (`fuzz/corpus/`), where inputs
/// that made a target fail are kept too (named `crash-*`), replayed on every `cargo test`: in
/// process, as a TCP line and as an HTTP body. Each gets a valid JSON reply on every path, or
/// none on any (a notification), and leaves the connection usable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fuzz_corpus_replays_through_every_path() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    let mut inputs: Vec<(String, Vec<u8>)> = Vec::new();
    for target in ["request", "host"] {
        let dir = root.join(target);
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.expect("directory entry").path();
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            if !raw_http(&bytes) {
                inputs.push((format!("{target}/{}", path.file_name().unwrap_or_default().to_string_lossy()), bytes));
            }
        }
    }
    inputs.sort();
    assert!(inputs.len() > 80, "the seed corpora are missing: {} inputs", inputs.len());
    let server = start(config()).await;
    let mut c = tcp(&server.addr("tcp")).await;
    let mut h = Http::connect(&server.addr("http")).await;
    for (name, bytes) in &inputs {
        let in_process = reflex_tests::call_with(&Config::new(), &RpcInfo::new(Transport::InProcess), bytes);
        if let Some(reply) = &in_process {
            assert!(serde_json::from_str::<Value>(reply).is_ok(), "{name}: invalid JSON reply {reply}");
        }
        let r = h.post(bytes).await;
        assert_eq!(r.body.is_empty(), in_process.is_none(), "{name}: {r:?}");
        assert!(r.body.is_empty() || serde_json::from_slice::<Value>(&r.body).is_ok(), "{name}: {r:?}");
        h.alive().await;
        // Inputs with line breaks are several lines (or none) on a line transport.
        if !bytes.contains(&b'\n') && !bytes.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r')) {
            let mut line = bytes.clone();
            line.push(b'\n');
            c.send(&line).await;
            if in_process.is_some() {
                let reply = c.reply().await;
                assert!(serde_json::from_str::<Value>(&reply).is_ok(), "{name}: invalid JSON reply {reply}");
            }
            c.alive().await;
        }
    }
    server.stop().await;
}

// ------------------------------------------------------------------------------------------
// Slow clients (the request timeout) and large replies (the reply limit)

/// Writes `bytes` one byte at a time, `every` apart, until all are sent or a write fails
/// (the server closed the connection); how many were sent.
async fn trickle<W: AsyncWrite + Unpin>(mut w: W, bytes: Vec<u8>, every: Duration) -> usize {
    for (i, b) in bytes.iter().enumerate() {
        if w.write_all(std::slice::from_ref(b)).await.is_err() || w.flush().await.is_err() {
            return i;
        }
        tokio::time::sleep(every).await;
    }
    bytes.len()
}

/// Reads until the server closes the connection (end of file or a reset); what arrived
/// before, and how long it took.
async fn until_closed<R: AsyncRead + Unpin>(r: &mut R) -> (Vec<u8>, Duration) {
    let since = Instant::now();
    let mut got = Vec::new();
    let _ = bounded("close", r.read_to_end(&mut got)).await;
    (got, since.elapsed())
}

/// A new line connection that is served (a freed slot may take a moment to be returned).
async fn served_again(addr: &str) -> Lines<TcpStream> {
    for _ in 0..200 {
        let mut c = tcp(addr).await;
        c.send(format!("{ALIVE}\n").as_bytes()).await;
        let mut line = String::new();
        let _ = bounded("reply", c.io.read_line(&mut line)).await;
        if line == format!("{ALIVE_REPLY}\r\n") {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no connection was served again");
}

/// One server, `max_connections = 1`, a request timeout of 1 s and the default idle timeout
/// (300 s), so only the request timeout can close anything here.
fn slow_client_config() -> ServerConfig {
    let mut cfg = config();
    cfg.request_timeout = Duration::from_secs(1);
    cfg.max_connections = 1;
    cfg
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_dribbled_past_the_request_timeout_is_closed_and_its_slot_freed() {
    let server = start(slow_client_config()).await;
    let addr = server.addr("tcp");
    let mut c = tcp(&addr).await;
    c.alive().await;
    // Quiet between requests for longer than the request timeout: that is idle time, which
    // only the idle timeout limits.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    c.alive().await;
    // Handler time is not charged to a request that is pipelined behind the handler's:
    // `slow_operation` takes a second, the whole request timeout, and the next line, begun
    // in the same write, is completed only after its reply.
    c.send(b"{\"jsonrpc\":\"2.0\",\"method\":\"slow_operation\",\"id\":1}\n{\"jsonrpc\":\"2.0\",").await;
    assert_eq!(c.reply().await, r#"{"jsonrpc":"2.0","result":42,"id":1}"#);
    tokio::time::sleep(Duration::from_millis(300)).await;
    c.send(br#""method":"add","params":[1,2],"id":"alive"}"#).await;
    c.send(b"\n").await;
    assert_eq!(c.reply().await, ALIVE_REPLY);

    // A line dribbled a byte every 100 ms: each byte would restart an idle timer, but the
    // line is not complete a second after its first byte.
    let (mut r, w) = c.io.into_inner().into_split();
    let writer = tokio::spawn(trickle(w, format!("{ALIVE}\n").into_bytes(), Duration::from_millis(100)));
    // Meanwhile its slot is taken: another client is refused.
    assert_eq!(tcp(&addr).await.reply().await, BUSY_REPLY);
    let (got, after) = until_closed(&mut r).await;
    assert!(got.is_empty(), "closed without a reply: {}", got.escape_ascii());
    assert!(after >= Duration::from_millis(700) && after < Duration::from_secs(5), "closed after {after:?}");
    let sent = bounded("writer", writer).await.expect("writer");
    assert!(sent < ALIVE.len(), "the line was cut off before it was complete ({sent} bytes sent)");
    // The slot is free again.
    served_again(&addr).await.alive().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_request_dribbled_past_the_request_timeout_is_closed_and_its_slot_freed() {
    let server = start(slow_client_config()).await;
    let addr = server.addr("http");
    let mut h = Http::connect(&addr).await;
    h.alive().await;
    // An idle keep-alive connection is not a late request (hyper's `header_read_timeout`
    // would have closed it: its clock runs from the end of the previous response).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    h.alive().await;

    // The head dribbled a byte every 100 ms: closed a second after its first byte, without
    // a response.
    let (mut r, w) = h.io.into_split();
    let writer = tokio::spawn(trickle(w, post(ALIVE.as_bytes()), Duration::from_millis(100)));
    let mut other = Http::connect(&addr).await;
    assert_eq!(other.exchange(&post(ALIVE.as_bytes())).await.status, 503, "the slot is taken");
    let (got, after) = until_closed(&mut r).await;
    assert!(got.is_empty(), "closed without a response: {}", got.escape_ascii());
    assert!(after >= Duration::from_millis(700) && after < Duration::from_secs(5), "closed after {after:?}");
    assert!(bounded("writer", writer).await.expect("writer") < post(ALIVE.as_bytes()).len());
    let mut h = None;
    for _ in 0..200 {
        let mut c = Http::connect(&addr).await;
        if c.exchange(&post(ALIVE.as_bytes())).await.status == 200 {
            h = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut h = h.expect("the slot is free again");
    h.alive().await;

    // On that connection, the head in time, the body dribbled: a few bytes, then nothing
    // (so that the server has read all that was sent when it closes). The deadline counts
    // from the head's first byte: 408, and the connection is closed.
    let since = Instant::now();
    let head = format!("POST /rpc HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n", ALIVE.len());
    bounded("write", h.io.write_all(head.as_bytes())).await.expect("write");
    let sent = trickle(&mut h.io, ALIVE.as_bytes()[..5].to_vec(), Duration::from_millis(100)).await;
    assert_eq!(sent, 5);
    let r = h.response().await;
    let after = since.elapsed();
    assert_eq!(r.status, 408, "{r:?}");
    assert_eq!(r.header("connection"), Some("close"));
    assert!(after >= Duration::from_millis(700) && after < Duration::from_secs(5), "answered after {after:?}");
    assert!(h.closed().await);
    server.stop().await;
}

/// A request body that stops arriving is cut off by the idle timeout even with no request
/// timeout (the connection's idle watch is off while a request is processed, so this is the
/// body reader's own).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_http_body_is_cut_off_by_the_idle_timeout() {
    let mut cfg = config();
    cfg.request_timeout = Duration::ZERO;
    cfg.idle_timeout = Duration::from_millis(500);
    let server = start(cfg).await;
    let mut h = Http::connect(&server.addr("http")).await;
    h.alive().await;
    let mut request = post(ALIVE.as_bytes());
    request.truncate(request.len() - 10);
    let since = Instant::now();
    let r = h.exchange(&request).await;
    let after = since.elapsed();
    assert_eq!((r.status, r.header("connection")), (408, Some("close")), "{r:?}");
    assert!(after >= Duration::from_millis(400) && after < Duration::from_secs(5), "answered after {after:?}");
    assert!(h.closed().await);
    Http::connect(&server.addr("http")).await.alive().await;
    server.stop().await;
}

/// An echo request with id `id` whose string is `fill` bytes of `x`.
fn echo(id: usize, fill: usize) -> String {
    format!(r#"{{"jsonrpc":"2.0","method":"echo","params":["{}"],"id":{id}}}"#, "x".repeat(fill))
}

/// A batch of `n` echoes (ids 0..n) of `fill` bytes each.
fn echo_batch(n: usize, fill: usize) -> Vec<u8> {
    format!("[{}]", (0..n).map(|id| echo(id, fill)).collect::<Vec<_>>().join(",")).into_bytes()
}

/// Checks a batch reply to [`echo_batch`]: the first elements are the echoes in order; when
/// `cut`, the reply ends early with the internal error. Returns how many echoes it has.
fn check_echo_batch(reply: &str, n: usize, fill: usize, cut: bool) -> usize {
    let v = parse(reply);
    let items = v.as_array().unwrap_or_else(|| panic!("not an array: {}…", &reply[..reply.len().min(200)]));
    let echoes = if cut { items.len() - 1 } else { items.len() };
    for (id, item) in items[..echoes].iter().enumerate() {
        assert_eq!((item["id"].as_u64(), item["result"].as_str().map(str::len)), (Some(id as u64), Some(fill)));
    }
    if cut {
        assert!(echoes < n, "cut short: {echoes} of {n}");
        assert_eq!(items[echoes], parse(INTERNAL_ERROR), "the last element is the internal error");
    } else {
        assert_eq!(echoes, n);
    }
    echoes
}

const INTERNAL_ERROR: &str = r#"{"jsonrpc":"2.0","error":{"code":-32603,"message":"Internal error"},"id":null}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_over_the_response_limit_are_internal_errors_and_the_connection_survives() {
    const LIMIT: usize = 4096;
    // Too small to hold its own error replies.
    let small = ServerConfig { max_response_size: 100, ..config() };
    let err = Server::bind(Arc::new(reflex_host::demo_service()), small).await.expect_err("limit too small");
    assert!(err.to_string().contains("max_response_size"), "{err}");

    let server = start(ServerConfig { max_response_size: LIMIT, ..config() }).await;
    let mut c = tcp(&server.addr("tcp")).await;
    let mut h = Http::connect(&server.addr("http")).await;
    // An echo reply is its string and 36 bytes: exactly at the limit, and one over.
    let at_limit = echo(1, LIMIT - 36);
    let over = echo(1, LIMIT - 35);
    let reply = c.call(at_limit.as_bytes()).await;
    assert_eq!((reply.len(), parse(&reply)["result"].as_str().map(str::len)), (LIMIT, Some(LIMIT - 36)));
    assert_eq!(h.post(at_limit.as_bytes()).await.text(), reply);
    assert_eq!(c.call(over.as_bytes()).await, INTERNAL_ERROR);
    c.alive().await;
    assert_eq!(h.post(over.as_bytes()).await.text(), INTERNAL_ERROR);
    h.alive().await;
    // The same in JSON-RPC 1.0: the fixed (2.0) error, as for every reply that is too large.
    let v1 = format!(r#"{{"method": "echo", "params": ["{}"], "id": 1}}"#, "x".repeat(LIMIT));
    assert_eq!(c.call(v1.as_bytes()).await, INTERNAL_ERROR);
    // A batch over the limit keeps the replies that fit and ends with the error, within
    // the limit; both transports send the same bytes.
    let batch = echo_batch(10, 1000);
    let reply = c.call(&batch).await;
    assert!(reply.len() <= LIMIT, "{} bytes", reply.len());
    assert_eq!(check_echo_batch(&reply, 10, 1000, true), 3);
    c.alive().await;
    assert_eq!(h.post(&batch).await.text(), reply);
    h.alive().await;
    // A batch whose first reply is too large is the single error.
    assert_eq!(c.call(format!("[{over},{ALIVE}]").as_bytes()).await, INTERNAL_ERROR);
    c.alive().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_batch_replies_stream_out_whole_or_cut_short_as_valid_json() {
    // About 960 KB of requests, 940 KB of replies: many times the send buffer, so the line
    // reply leaves in pieces while the batch is still being run.
    let (n, fill) = (1000, 900);
    let batch = echo_batch(n, fill);
    assert!(batch.len() < ServerConfig::default().max_request_size);
    let server = start(config()).await;
    let mut c = tcp(&server.addr("tcp")).await;
    let mut h = Http::connect(&server.addr("http")).await;
    // Pipelined behind it, a normal call: its reply follows the batch's.
    let mut lines = batch.clone();
    lines.push(b'\n');
    lines.extend_from_slice(format!("{ALIVE}\n").as_bytes());
    c.send(&lines).await;
    let reply = c.reply().await;
    check_echo_batch(&reply, n, fill, false);
    assert_eq!(c.reply().await, ALIVE_REPLY);
    assert_eq!(h.post(&batch).await.text(), reply, "HTTP sends the same bytes");
    server.stop().await;

    // With a limit of 256 KiB the reply outgrows it long after its first bytes were written:
    // it is closed with the error as valid JSON, and the connection goes on.
    let limit = 256 * 1024;
    let server = start(ServerConfig { max_response_size: limit, ..config() }).await;
    let mut c = tcp(&server.addr("tcp")).await;
    let mut h = Http::connect(&server.addr("http")).await;
    let reply = c.call(&batch).await;
    assert!(reply.len() <= limit && reply.len() > limit - 2 * fill, "{} bytes", reply.len());
    let echoes = check_echo_batch(&reply, n, fill, true);
    assert!(echoes > 200, "{echoes} echoes");
    c.alive().await;
    assert_eq!(h.post(&batch).await.text(), reply, "HTTP sends the same bytes");
    h.alive().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_per_address_are_limited_when_configured() {
    let server = start(ServerConfig { max_connections_per_ip: 2, ..config() }).await;
    let addr = server.addr("tcp");
    let mut a = tcp(&addr).await;
    a.alive().await;
    let mut b = Http::connect(&server.addr("http")).await;
    b.alive().await;
    // A third connection from 127.0.0.1, on either listener, is refused like one over the
    // connection limit; the two are served throughout.
    assert_eq!(tcp(&addr).await.reply().await, BUSY_REPLY);
    let r = Http::connect(&server.addr("http")).await.exchange(&post(ALIVE.as_bytes())).await;
    assert_eq!(r.status, 503, "{r:?}");
    a.alive().await;
    b.alive().await;
    // A closed connection gives its share back.
    drop(a);
    served_again(&addr).await.alive().await;
    server.stop().await;
}
