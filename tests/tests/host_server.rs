//! The host servers (`reflex_host::server`) over real loopback sockets: every listener kind,
//! framing, limits, authentication (Basic, client certificates), HTTP details, concurrency and
//! shutdown. Every test starts its own server on port 0 (or a fresh Unix socket path) and
//! bounds every wait.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reflex::RpcInfo;
use reflex_host::server::{Server, ServerConfig, ServerError, BUSY_REPLY};
use reflex_host::Endpoint;
use reflex_tests::certs::{Ca, Leaf, TempDir};
use reflex_tests::lines::{bounded, Lines};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_rustls::TlsConnector;

/// How long the 200 concurrent calls may take together (single waits are bounded by
/// `reflex_tests::lines::WAIT`).
const WAIT: Duration = Duration::from_secs(5);

// ------------------------------------------------------------------------------------------
// Servers

struct Running {
    endpoints: Vec<Endpoint>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), ServerError>>,
}

impl Running {
    fn endpoint(&self, scheme: &str) -> &Endpoint {
        self.endpoints
            .iter()
            .find(|e| e.to_string().starts_with(&format!("{scheme}://")))
            .unwrap_or_else(|| panic!("no {scheme} endpoint in {:?}", self.endpoints))
    }

    fn addr(&self, scheme: &str) -> String {
        self.endpoint(scheme).authority().expect("network endpoint")
    }

    async fn stop(mut self) -> Result<(), ServerError> {
        let _ = self.stop.take().expect("running").send(());
        bounded("server shutdown", &mut self.task).await.expect("server task")
    }
}

fn config(listen: &[&str]) -> ServerConfig {
    ServerConfig {
        listen: listen.iter().map(|l| l.parse().expect("endpoint")).collect(),
        workers: 2,
        ..ServerConfig::default()
    }
}

async fn start(config: ServerConfig) -> Running {
    start_service(Arc::new(reflex_host::demo_service()), config).await
}

async fn start_service<S: reflex::Service + Send + Sync + 'static>(service: Arc<S>, config: ServerConfig) -> Running {
    let server = Server::bind(service, config).await.expect("server binds");
    let endpoints = server.endpoints();
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(server.run_until(async move {
        let _ = rx.await;
    }));
    Running { endpoints, stop: Some(tx), task }
}

fn unix_path(dir: &TempDir) -> PathBuf {
    dir.path().join("reflex.sock")
}

// ------------------------------------------------------------------------------------------
// Line clients

/// What these tests add to the shared line client.
#[allow(async_fn_in_trait)]
trait LinesExt {
    /// The reply to `request`, parsed.
    async fn call_json(&mut self, request: &str) -> Value;
    /// Reads until end of file, which must come cleanly; what arrived before it.
    async fn rest(&mut self) -> Vec<u8>;
}

impl<IO: AsyncRead + AsyncWrite + Unpin> LinesExt for Lines<IO> {
    async fn call_json(&mut self, request: &str) -> Value {
        let reply = self.call(request).await;
        serde_json::from_str(&reply).unwrap_or_else(|e| panic!("invalid JSON reply {reply:?}: {e}"))
    }

    async fn rest(&mut self) -> Vec<u8> {
        let (rest, ended) = self.read_rest().await;
        ended.expect("read to end");
        rest
    }
}

async fn tcp(addr: &str) -> Lines<TcpStream> {
    Lines::new(bounded("connect", TcpStream::connect(addr)).await.expect("connect"))
}

async fn unix(path: &Path) -> Lines<UnixStream> {
    Lines::new(bounded("connect", UnixStream::connect(path)).await.expect("connect"))
}

const ADD_V2: &str = r#"{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1}"#;
const ADD_V2_REPLY: &str = r#"{"jsonrpc":"2.0","result":3,"id":1}"#;
const ECHO_V1: &str = r#"{"method": "echo", "params": ["hi"], "id": 2}"#;
const ECHO_V1_REPLY: &str = r#"{"result": "hi", "id": 2, "error": null}"#;

async fn both_versions<IO: AsyncRead + AsyncWrite + Unpin>(c: &mut Lines<IO>) {
    assert_eq!(c.call(ADD_V2).await, ADD_V2_REPLY);
    assert_eq!(c.call(ECHO_V1).await, ECHO_V1_REPLY);
}

// ------------------------------------------------------------------------------------------
// TLS clients

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn connector(ca: &Ca, client: Option<&Leaf>, alpn: bool) -> TlsConnector {
    let mut config = client_config(ca, client, rustls::DEFAULT_VERSIONS);
    if alpn {
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
    }
    TlsConnector::from(Arc::new(config))
}

/// A client configuration trusting `ca`, speaking `versions`, with `client`'s certificate.
fn client_config(
    ca: &Ca,
    client: Option<&Leaf>,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from(ca.cert_der.clone())).expect("CA");
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .expect("versions")
        .with_root_certificates(roots);
    match client {
        Some(leaf) => builder
            .with_client_auth_cert(
                vec![CertificateDer::from(leaf.cert_der.clone())],
                PrivateKeyDer::Pkcs8(leaf.key_der.clone().into()),
            )
            .expect("client certificate"),
        None => builder.with_no_client_auth(),
    }
}

async fn tls(addr: &str, connector: &TlsConnector) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = bounded("connect", TcpStream::connect(addr)).await?;
    bounded("TLS handshake", connector.connect(ServerName::try_from("localhost").expect("name"), tcp)).await
}

/// A server certificate for localhost, and its files.
struct ServerCerts {
    ca: Ca,
    _dir: TempDir,
    cert: PathBuf,
    key: PathBuf,
}

fn server_certs() -> ServerCerts {
    let ca = Ca::new("reflex test CA");
    let leaf = ca.server(&["localhost", "127.0.0.1"]);
    let dir = TempDir::new("host-server-certs");
    let cert = dir.write("server.crt", &leaf.cert_pem);
    let key = dir.write("server.key", &leaf.key_pem);
    ServerCerts { ca, _dir: dir, cert, key }
}

// ------------------------------------------------------------------------------------------
// HTTP clients (raw bytes, to see exactly what goes over the wire)

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

    fn body_json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("invalid JSON body ({e}): {self:?}"))
    }
}

struct Http<IO> {
    io: IO,
    buf: Vec<u8>,
}

impl<IO: AsyncRead + AsyncWrite + Unpin> Http<IO> {
    fn new(io: IO) -> Self {
        Http { io, buf: Vec::new() }
    }

    async fn fill(&mut self) -> usize {
        let mut chunk = [0u8; 8192];
        let n = bounded("HTTP read", self.io.read(&mut chunk)).await.expect("read");
        self.buf.extend_from_slice(&chunk[..n]);
        n
    }

    /// Sends raw request bytes and reads one response (Content-Length framed).
    async fn exchange(&mut self, request: &[u8]) -> HttpResponse {
        bounded("HTTP write", self.io.write_all(request)).await.expect("write");
        self.response().await
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
        let len: usize = r.header("content-length").map_or(0, |v| v.parse().expect("length"));
        while self.buf.len() < len {
            assert!(self.fill().await > 0, "connection closed in a response body");
        }
        r.body = self.buf.drain(..len).collect();
        r
    }

    /// Whether the server closed the connection (end of file, or a reset).
    async fn closed(&mut self) -> bool {
        let mut chunk = [0u8; 64];
        matches!(bounded("close", self.io.read(&mut chunk)).await, Ok(0) | Err(_))
    }
}

fn post(path: &str, body: &str, headers: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json-rpc\r\nContent-Length: {}\r\n{headers}\r\n{body}",
        body.len()
    )
    .into_bytes()
}

async fn http(addr: &str) -> Http<TcpStream> {
    Http::new(bounded("connect", TcpStream::connect(addr)).await.expect("connect"))
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine as _;
    format!(
        "Authorization: Basic {}\r\n",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

// ------------------------------------------------------------------------------------------
// Every listener kind

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_listener_answers_both_versions() {
    let certs = server_certs();
    let dir = TempDir::new("host-server-all");
    let sock = unix_path(&dir);
    let mut cfg = config(&[
        "tcp://127.0.0.1:0",
        &format!("unix://{}", sock.display()),
        "http://127.0.0.1:0/rpc",
        "https://127.0.0.1:0/rpc",
        "tls://127.0.0.1:0",
    ]);
    cfg.tls_cert = Some(certs.cert.clone());
    cfg.tls_key = Some(certs.key.clone());
    let server = start(cfg).await;
    assert_eq!(server.endpoints.len(), 5);
    for e in &server.endpoints {
        if let Some(authority) = e.authority() {
            assert!(!authority.ends_with(":0"), "the actual port is reported: {e}");
        }
    }
    assert_eq!(server.endpoint("unix"), &Endpoint::Unix { path: sock.clone(), mode: None });

    both_versions(&mut tcp(&server.addr("tcp")).await).await;
    both_versions(&mut unix(&sock).await).await;

    // Line TLS without a client CA: served, unauthenticated.
    let connector = connector(&certs.ca, None, false);
    let mut t = Lines::new(tls(&server.addr("tls"), &connector).await.expect("TLS connects"));
    both_versions(&mut t).await;
    assert_eq!(
        t.call(r#"{"method": "is_authenticated", "params": [], "id": 3}"#).await,
        r#"{"result": false, "id": 3, "error": null}"#
    );
    assert_eq!(
        t.call(r#"{"method": "get_username", "params": [], "id": 4}"#).await,
        r#"{"result": null, "id": 4, "error": null}"#
    );

    for (scheme, alpn) in [("http", false), ("https", true)] {
        let addr = server.addr(scheme);
        let mut c: Http<Box<dyn IoStream>> = if scheme == "http" {
            Http::new(Box::new(TcpStream::connect(&addr).await.expect("connect")))
        } else {
            Http::new(Box::new(tls(&addr, &connector_for_https(&certs.ca, alpn)).await.expect("TLS connects")))
        };
        let r = c.exchange(&post("/rpc", ADD_V2, "")).await;
        assert_eq!((r.status, r.body.as_slice()), (200, ADD_V2_REPLY.as_bytes()), "{scheme}: {r:?}");
        let r = c.exchange(&post("/rpc", ECHO_V1, "")).await;
        assert_eq!((r.status, r.body.as_slice()), (200, ECHO_V1_REPLY.as_bytes()), "{scheme}: {r:?}");
        let r = c.exchange(&post("/rpc", r#"{"jsonrpc":"2.0","method":"is_authenticated","id":5}"#, "")).await;
        assert_eq!(r.body_json()["result"], json!(false), "{scheme}");
    }

    server.stop().await.expect("clean stop");
    assert!(!sock.exists(), "the Unix socket file is removed on exit");
}

trait IoStream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> IoStream for T {}

fn connector_for_https(ca: &Ca, alpn: bool) -> TlsConnector {
    connector(ca, None, alpn)
}

// ------------------------------------------------------------------------------------------
// Line framing

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn line_framing() {
    let server = start(config(&["tcp://127.0.0.1:0"])).await;
    let mut c = tcp(&server.addr("tcp")).await;
    // LF and CRLF, blank lines, a notification (no bytes at all), pipelined requests in one
    // write: one CRLF-terminated reply per request, in order.
    c.send(
        b"\n\r\n   \n{\"method\": \"echo\", \"params\": [\"quiet\"], \"id\": null}\n\
          {\"jsonrpc\":\"2.0\",\"method\":\"notify_hello\",\"params\":[1]}\r\n\
          {\"jsonrpc\":\"2.0\",\"method\":\"add\",\"params\":[1,2],\"id\":1}\r\n\
          {\"jsonrpc\":\"2.0\",\"method\":\"add\",\"params\":[2,3],\"id\":2}\n",
    )
    .await;
    assert_eq!(c.reply().await, r#"{"jsonrpc":"2.0","result":3,"id":1}"#);
    assert_eq!(c.reply().await, r#"{"jsonrpc":"2.0","result":5,"id":2}"#);
    // A request split over several writes.
    c.send(br#"{"jsonrpc":"2.0","method":"#).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    c.send(b"\"fast_operation\",\"id\":7}\r").await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    c.send(b"\n").await;
    assert_eq!(c.reply().await, r#"{"jsonrpc":"2.0","result":41,"id":7}"#);
    // A batch is one line and one reply.
    let batch = c.call_json(r#"[{"jsonrpc":"2.0","method":"add","params":[1,1],"id":1},{"jsonrpc":"2.0","method":"fast_operation","id":2}]"#).await;
    assert_eq!(batch, json!([{"jsonrpc":"2.0","result":2,"id":1},{"jsonrpc":"2.0","result":41,"id":2}]));
    // A last request without its newline is answered when the client half-closes.
    c.send(ADD_V2.as_bytes()).await;
    c.io.get_mut().shutdown().await.expect("half-close");
    assert_eq!(c.reply().await, ADD_V2_REPLY);
    assert!(c.rest().await.is_empty());
    server.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlong_line_then_normal_request_on_the_same_connection() {
    let mut cfg = config(&["tcp://127.0.0.1:0"]);
    cfg.max_request_size = 100;
    let server = start(cfg).await;
    let mut c = tcp(&server.addr("tcp")).await;

    let too_long = |c: Value| {
        assert_eq!(c["jsonrpc"], "2.0");
        assert_eq!(c["error"]["code"], -32600, "{c}");
        assert!(c["error"].get("data").is_some(), "the limit is in data: {c}");
        assert_eq!(c["id"], Value::Null);
    };
    // In one write, followed by a normal request.
    let long = format!(r#"{{"method": "echo", "params": ["{}"], "id": 1}}"#, "x".repeat(300));
    c.send(format!("{long}\n{ADD_V2}\n").as_bytes()).await;
    too_long(serde_json::from_str(&c.reply().await).unwrap());
    assert_eq!(c.reply().await, ADD_V2_REPLY);

    // Spread over writes: answered once, the tail discarded up to the newline.
    for _ in 0..5 {
        c.send("y".repeat(70).as_bytes()).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    c.send(b"still the same line\r\n").await;
    too_long(serde_json::from_str(&c.reply().await).unwrap());
    assert_eq!(c.call(ECHO_V1).await, ECHO_V1_REPLY);

    // Exactly at the limit is fine.
    let at_limit = format!(r#"{{"method": "echo", "params": ["{}"], "id": 9}}"#, "z".repeat(100 - 43));
    assert_eq!(at_limit.len(), 100);
    assert_eq!(c.call_json(&at_limit).await["result"], json!("z".repeat(57)));
    server.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_input_keeps_the_connection() {
    let dir = TempDir::new("host-server-malformed");
    let sock = unix_path(&dir);
    let server = start(config(&["tcp://127.0.0.1:0", &format!("unix://{}", sock.display())])).await;
    let mut c = tcp(&server.addr("tcp")).await;
    let parse_error = json!({"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error"},"id":null});
    for garbage in [
        &b"garbage"[..],
        b"\xff\xfe\x80 not utf-8",
        br#"{"jsonrpc":"2.0","method":"add","par"#,
        b"{\"a\":\"\xc3\x28\"}",
    ] {
        c.send(garbage).await;
        c.send(b"\n").await;
        let reply: Value = serde_json::from_str(&c.reply().await).expect("JSON");
        assert_eq!(reply, parse_error, "for {garbage:?}");
        assert_eq!(c.call(ADD_V2).await, ADD_V2_REPLY);
    }
    // Valid JSON that is no request.
    assert_eq!(c.call_json("42").await["error"]["code"], -32600);
    assert_eq!(c.call(ADD_V2).await, ADD_V2_REPLY);
    // And over the Unix socket too.
    let mut u = unix(&sock).await;
    u.send(b"\x00\x01\x02{{{\n").await;
    assert_eq!(serde_json::from_str::<Value>(&u.reply().await).unwrap(), parse_error);
    both_versions(&mut u).await;
    server.stop().await.expect("clean stop");
}

// ------------------------------------------------------------------------------------------
// Concurrency

async fn slow_does_not_delay_fast(workers: usize) {
    let mut cfg = config(&["tcp://127.0.0.1:0"]);
    cfg.workers = workers;
    let server = start(cfg).await;
    let addr = server.addr("tcp");
    let mut a = tcp(&addr).await;
    let mut b = tcp(&addr).await;
    // Make sure both connections are being served.
    assert_eq!(a.call(ADD_V2).await, ADD_V2_REPLY);
    assert_eq!(b.call(ADD_V2).await, ADD_V2_REPLY);

    let started = Instant::now();
    a.send(b"{\"jsonrpc\":\"2.0\",\"method\":\"slow_operation\",\"id\":1}\n").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let fast_sent = Instant::now();
    assert_eq!(
        b.call(r#"{"jsonrpc":"2.0","method":"fast_operation","id":2}"#).await,
        r#"{"jsonrpc":"2.0","result":41,"id":2}"#
    );
    let fast = fast_sent.elapsed();
    assert!(
        fast < Duration::from_millis(400),
        "fast_operation took {fast:?} while slow_operation ran (workers {workers})"
    );
    assert_eq!(a.reply().await, r#"{"jsonrpc":"2.0","result":42,"id":1}"#);
    assert!(started.elapsed() >= Duration::from_millis(950), "slow_operation sleeps a second");
    server.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_call_on_one_connection_does_not_delay_another() {
    // Also on a single worker thread: handlers that wait asynchronously interleave.
    tokio::join!(slow_does_not_delay_fast(1), slow_does_not_delay_fast(4));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_connections() {
    let dir = TempDir::new("host-server-200");
    let sock = unix_path(&dir);
    let server = start(config(&["tcp://127.0.0.1:0", &format!("unix://{}", sock.display())])).await;
    let addr = server.addr("tcp");
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..200i64 {
        let addr = addr.clone();
        let sock = sock.clone();
        tasks.push(tokio::spawn(async move {
            let request = format!(r#"{{"jsonrpc":"2.0","method":"add","params":[{i},1000],"id":{i}}}"#);
            let reply = if i % 4 == 0 {
                unix(&sock).await.call_json(&request).await
            } else {
                tcp(&addr).await.call_json(&request).await
            };
            assert_eq!(reply, json!({"jsonrpc":"2.0","result":i + 1000,"id":i}));
        }));
    }
    for t in tasks {
        bounded("a concurrent call", t).await.expect("call task");
    }
    assert!(started.elapsed() < WAIT);
    server.stop().await.expect("clean stop");
}

// ------------------------------------------------------------------------------------------
// Limits

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_connections_refuses_extra_connections_and_serves_the_others() {
    let mut cfg = config(&["tcp://127.0.0.1:0", "http://127.0.0.1:0/rpc"]);
    cfg.max_connections = 2;
    let server = start(cfg).await;
    let addr = server.addr("tcp");
    let mut a = tcp(&addr).await;
    let mut b = tcp(&addr).await;
    both_versions(&mut a).await;
    both_versions(&mut b).await;

    // Line protocol: one "Server busy" line, then the connection is closed.
    let mut c = tcp(&addr).await;
    assert_eq!(c.reply().await, BUSY_REPLY);
    assert!(c.rest().await.is_empty());
    // Even when the client spoke first.
    let mut c = tcp(&addr).await;
    c.send(format!("{ADD_V2}\n").as_bytes()).await;
    assert_eq!(c.reply().await, BUSY_REPLY);

    // HTTP: 503.
    let mut h = http(&server.addr("http")).await;
    let r = h.exchange(&post("/rpc", ADD_V2, "")).await;
    assert_eq!(r.status, 503, "{r:?}");
    assert_eq!(r.body_json()["error"]["code"], -32000);
    assert!(h.closed().await);

    // The others are still served; a freed slot is reused.
    both_versions(&mut a).await;
    both_versions(&mut b).await;
    drop(a);
    let mut d = None;
    for _ in 0..50 {
        let mut attempt = tcp(&addr).await;
        let reply = attempt.call(ADD_V2).await;
        if reply == ADD_V2_REPLY {
            d = Some(attempt);
            break;
        }
        assert_eq!(reply, BUSY_REPLY);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    both_versions(d.as_mut().expect("the freed slot is used again")).await;
    server.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_timeout_frees_a_connection_that_sent_half_a_line() {
    let mut cfg = config(&["tcp://127.0.0.1:0", "http://127.0.0.1:0/rpc"]);
    cfg.max_connections = 1;
    cfg.idle_timeout = Duration::from_millis(300);
    let server = start(cfg).await;
    let addr = server.addr("tcp");

    let mut a = tcp(&addr).await;
    assert_eq!(a.call(ADD_V2).await, ADD_V2_REPLY);
    let since = Instant::now();
    a.send(br#"{"jsonrpc":"2.0","method":"#).await;
    // The slot is taken meanwhile.
    assert_eq!(tcp(&addr).await.reply().await, BUSY_REPLY);
    assert!(a.rest().await.is_empty(), "closed without a reply");
    let closed_after = since.elapsed();
    assert!(closed_after >= Duration::from_millis(250), "closed too early: {closed_after:?}");

    // A request that takes longer than the idle timeout is not cut off: handler time is not
    // idle time.
    let mut slow = None;
    for _ in 0..50 {
        let mut b = tcp(&addr).await;
        if b.call(ADD_V2).await == ADD_V2_REPLY {
            slow = Some(b);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut b = slow.expect("the slot was freed");
    assert_eq!(
        b.call(r#"{"jsonrpc":"2.0","method":"slow_operation","id":3}"#).await,
        r#"{"jsonrpc":"2.0","result":42,"id":3}"#
    );
    drop(b);

    // HTTP: a connection that stops in the middle of its headers is closed as well.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut h = http(&server.addr("http")).await;
    bounded("write", h.io.write_all(b"POST /rpc HTTP/1.1\r\nHost: loc")).await.expect("write");
    assert!(h.closed().await);
    server.stop().await.expect("clean stop");
}

// ------------------------------------------------------------------------------------------
// HTTP

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_details() {
    let mut cfg = config(&["http://127.0.0.1:0/rpc"]);
    cfg.max_request_size = 256;
    let server = start(cfg).await;
    let addr = server.addr("http");
    let mut c = http(&addr).await;

    // Exact header bytes: title case, a known length, never chunked, JSON.
    let r = c.exchange(&post("/rpc", ADD_V2, "")).await;
    assert_eq!(r.status, 200);
    assert!(r.head.starts_with("HTTP/1.1 200 OK\r\n"), "{}", r.head);
    assert!(r.head.contains(&format!("\r\nContent-Length: {}", ADD_V2_REPLY.len())), "{}", r.head);
    assert!(r.head.contains("\r\nContent-Type: application/json"), "{}", r.head);
    assert!(!r.head.to_ascii_lowercase().contains("transfer-encoding"), "{}", r.head);
    assert_eq!(r.body, ADD_V2_REPLY.as_bytes());

    // Keep-alive: more requests on the same connection, below the path too; JSON-RPC errors
    // are 200.
    let r = c.exchange(&post("/rpc/sub/path", r#"{"jsonrpc":"2.0","method":"nope","id":2}"#, "")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body_json()["error"]["code"], -32601);
    let r = c.exchange(&post("/rpc", "not json", "")).await;
    assert_eq!((r.status, r.body_json()["error"]["code"].clone()), (200, json!(-32700)));
    let r = c.exchange(&post("/rpc", "", "")).await;
    assert_eq!((r.status, r.body_json()["error"]["code"].clone()), (200, json!(-32700)));

    // Notifications: 200 with an empty body (2.0 and 1.0).
    for n in [
        r#"{"jsonrpc":"2.0","method":"notify_hello","params":[1]}"#,
        r#"{"method": "echo", "params": ["x"], "id": null}"#,
    ] {
        let r = c.exchange(&post("/rpc", n, "")).await;
        assert_eq!(r.status, 200);
        assert!(r.head.contains("\r\nContent-Length: 0"), "{}", r.head);
        assert!(r.body.is_empty());
    }

    // Other paths 404, other methods 405 with Allow, HEAD answers.
    let r = c.exchange(&post("/other", ADD_V2, "")).await;
    assert_eq!(r.status, 404);
    let r = c.exchange(&post("/rpcx", ADD_V2, "")).await;
    assert_eq!(r.status, 404);
    let r = c.exchange(b"GET /rpc HTTP/1.1\r\nHost: localhost\r\n\r\n").await;
    assert_eq!(r.status, 405);
    assert!(r.head.contains("\r\nAllow: HEAD, POST"), "{}", r.head);
    let r = c.exchange(b"PUT /rpc HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n").await;
    assert_eq!(r.status, 405);
    bounded("write", c.io.write_all(b"HEAD /rpc HTTP/1.1\r\nHost: localhost\r\n\r\n")).await.unwrap();
    // A HEAD response has no body whatever its Content-Length says.
    let end = loop {
        if let Some(i) = c.buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        assert!(c.fill().await > 0);
    };
    assert!(c.buf.starts_with(b"HTTP/1.1 200 OK\r\n"));
    c.buf.drain(..end + 4);

    // Still the same connection.
    let r = c.exchange(&post("/rpc", ECHO_V1, "")).await;
    assert_eq!(r.body, ECHO_V1_REPLY.as_bytes());

    // Too large: 413 with a JSON-RPC error, declared or streamed.
    let big = format!(r#"{{"method": "echo", "params": ["{}"], "id": 1}}"#, "x".repeat(300));
    let r = c.exchange(&post("/rpc", &big, "")).await;
    assert_eq!(r.status, 413);
    assert_eq!(r.body_json()["error"]["code"], -32600);
    let mut c = http(&addr).await;
    let chunked = format!(
        "POST /rpc HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{big}\r\n0\r\n\r\n",
        big.len()
    );
    let r = c.exchange(chunked.as_bytes()).await;
    assert_eq!(r.status, 413);

    // HTTP/1.0, with and without keep-alive.
    let mut c = http(&addr).await;
    let req10 = format!("POST /rpc HTTP/1.0\r\nContent-Length: {}\r\n\r\n{ADD_V2}", ADD_V2.len());
    let r = c.exchange(req10.as_bytes()).await;
    assert_eq!((r.status, r.body.as_slice()), (200, ADD_V2_REPLY.as_bytes()));
    assert!(r.head.starts_with("HTTP/1."), "{}", r.head);
    assert!(r.head.contains("\r\nContent-Length: "), "{}", r.head);
    assert!(c.closed().await, "HTTP/1.0 without keep-alive closes");
    let mut c = http(&addr).await;
    let req10ka =
        format!("POST /rpc HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: {}\r\n\r\n{ADD_V2}", ADD_V2.len());
    for _ in 0..2 {
        let r = c.exchange(req10ka.as_bytes()).await;
        assert_eq!((r.status, r.body.as_slice()), (200, ADD_V2_REPLY.as_bytes()));
    }
    server.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_status_codes_mapping() {
    let mut cfg = config(&["http://127.0.0.1:0/rpc"]);
    cfg.http_status_codes = true;
    let server = start(cfg).await;
    let mut c = http(&server.addr("http")).await;
    let cases: &[(&str, u16)] = &[
        (ADD_V2, 200),
        ("{not json", 400),
        (r#"{"jsonrpc":"2.0","method":1,"id":1}"#, 400),
        (r#"{"jsonrpc":"2.0","method":"nope","id":1}"#, 404),
        (r#"{"jsonrpc":"2.0","method":"add","params":[1],"id":1}"#, 500),
        (r#"{"jsonrpc":"2.0","method":"error.user","id":1}"#, 500),
        (r#"{"jsonrpc":"2.0","method":"error.internal","id":1}"#, 500),
        (r#"[{"jsonrpc":"2.0","method":"nope","id":1}]"#, 200),
        (ECHO_V1, 200),
    ];
    for (body, status) in cases {
        let r = c.exchange(&post("/rpc", body, "")).await;
        assert_eq!(r.status, *status, "{body}: {r:?}");
        assert!(!r.body.is_empty());
    }
    let r = c.exchange(&post("/rpc", r#"{"jsonrpc":"2.0","method":"notify_hello","params":[1]}"#, "")).await;
    assert_eq!(r.status, 204);
    assert!(r.body.is_empty());
    // The connection survives all of it.
    let r = c.exchange(&post("/rpc", ADD_V2, "")).await;
    assert_eq!(r.status, 200);
    server.stop().await.expect("clean stop");
}

// ------------------------------------------------------------------------------------------
// Authentication

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_auth() {
    let mut cfg = config(&["http://127.0.0.1:0/rpc", "tcp://127.0.0.1:0"]);
    cfg.basic_auth = vec![("testuser".into(), "123456".into()), ("second".into(), "pw".into())];
    let server = start(cfg).await;
    let mut c = http(&server.addr("http")).await;
    let who = r#"{"jsonrpc":"2.0","method":"get_username","id":1}"#;
    let authed = r#"{"jsonrpc":"2.0","method":"is_authenticated","id":2}"#;

    for headers in [
        String::new(),
        basic("testuser", "wrong"),
        basic("testuser", "1234567"),
        basic("nobody", "123456"),
        "Authorization: Bearer x\r\n".into(),
    ] {
        let r = c.exchange(&post("/rpc", who, &headers)).await;
        assert_eq!(r.status, 401, "{headers:?}");
        assert_eq!(r.header("www-authenticate"), Some(r#"Basic realm="reflex""#));
        assert_eq!(r.body, b"Unauthorized");
    }
    // Other paths and methods are 401 too: nothing is revealed before authentication.
    let r = c.exchange(b"GET /elsewhere HTTP/1.1\r\nHost: localhost\r\n\r\n").await;
    assert_eq!(r.status, 401);

    let ok = basic("testuser", "123456");
    let r = c.exchange(&post("/rpc", authed, &ok)).await;
    assert_eq!(r.body_json()["result"], json!(true));
    let r = c.exchange(&post("/rpc", who, &ok)).await;
    assert_eq!(r.body_json()["result"], json!("testuser"));
    let r =
        c.exchange(&post("/rpc", r#"{"method": "get_username", "params": [], "id": 3}"#, &basic("second", "pw"))).await;
    assert_eq!(r.body, br#"{"result": "second", "id": 3, "error": null}"#);

    // Line protocols are not HTTP: Basic auth does not apply there.
    let mut t = tcp(&server.addr("tcp")).await;
    assert_eq!(t.call_json(authed).await["result"], json!(false));
    server.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorization_header_is_ignored_without_basic_auth() {
    let server = start(config(&["http://127.0.0.1:0/rpc"])).await;
    let mut c = http(&server.addr("http")).await;
    let r = c
        .exchange(&post(
            "/rpc",
            r#"{"jsonrpc":"2.0","method":"is_authenticated","id":1}"#,
            &basic("testuser", "123456"),
        ))
        .await;
    assert_eq!((r.status, r.body_json()["result"].clone()), (200, json!(false)));
    let r = c
        .exchange(&post("/rpc", r#"{"jsonrpc":"2.0","method":"get_username","id":1}"#, &basic("testuser", "123456")))
        .await;
    assert_eq!(r.body_json()["result"], Value::Null);
    server.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_client_certificates() {
    let certs = server_certs();
    let dir = TempDir::new("host-server-client-ca");
    let client_ca = dir.write("client-ca.pem", &certs.ca.cert_pem);
    let mut cfg = config(&["tls://127.0.0.1:0", "https://127.0.0.1:0/rpc"]);
    // One PEM with certificate and key, as ReflectRPC ships it: no separate key file.
    cfg.tls_cert = Some(dir.write(
        "server.pem",
        &format!("{}{}", std::fs::read_to_string(&certs.cert).unwrap(), std::fs::read_to_string(&certs.key).unwrap()),
    ));
    cfg.client_ca = Some(client_ca);
    cfg.basic_auth = vec![("testuser".into(), "123456".into())];
    let server = start(cfg).await;
    let who = r#"{"method": "get_username", "params": [], "id": 1}"#;

    // A certificate from the trusted CA: its CN is the user name.
    let client = certs.ca.client("example-username");
    let mut t = Lines::new(tls(&server.addr("tls"), &connector(&certs.ca, Some(&client), false)).await.expect("TLS"));
    assert_eq!(t.call(who).await, r#"{"result": "example-username", "id": 1, "error": null}"#);
    assert_eq!(t.call_json(r#"{"jsonrpc":"2.0","method":"is_authenticated","id":2}"#).await["result"], json!(true));
    // HTTPS: the certificate identity wins over Basic (and needs none).
    let mut h = Http::new(tls(&server.addr("https"), &connector(&certs.ca, Some(&client), true)).await.expect("TLS"));
    let r = h.exchange(&post("/rpc", who, "")).await;
    assert_eq!((r.status, r.body.as_slice()), (200, &br#"{"result": "example-username", "id": 1, "error": null}"#[..]));
    let r = h.exchange(&post("/rpc", who, &basic("testuser", "123456"))).await;
    assert_eq!(r.body_json()["result"], json!("example-username"));

    // No client certificate: refused (TLS 1.3 reports it after the client's handshake ends).
    let refused = |what: &'static str, addr: String, connector: TlsConnector| async move {
        match tls(&addr, &connector).await {
            Err(_) => {}
            Ok(stream) => {
                let mut c = Lines::new(stream);
                let _ = c.io.get_mut().write_all(format!("{ADD_V2}\n").as_bytes()).await;
                let mut line = Vec::new();
                let got = bounded("refusal", c.io.read_until(b'\n', &mut line)).await;
                assert!(got.is_err() || line.is_empty(), "{what}: served anyway: {:?}", String::from_utf8_lossy(&line));
            }
        }
    };
    refused("no certificate", server.addr("tls"), connector(&certs.ca, None, false)).await;
    refused("no certificate (https)", server.addr("https"), connector(&certs.ca, None, true)).await;
    // A certificate with the same CN from another CA with the same name: refused.
    let impostor_ca = Ca::new("reflex test CA");
    let impostor = impostor_ca.client("example-username");
    refused("other CA", server.addr("tls"), connector(&certs.ca, Some(&impostor), false)).await;
    refused("other CA (https)", server.addr("https"), connector(&certs.ca, Some(&impostor), true)).await;

    // The server still serves trusted clients after all that.
    let mut t = Lines::new(tls(&server.addr("tls"), &connector(&certs.ca, Some(&client), false)).await.expect("TLS"));
    both_versions(&mut t).await;
    server.stop().await.expect("clean stop");
}

// ------------------------------------------------------------------------------------------
// Any service, with the HTTP headers in the context

/// A service that is not the demo.
pub struct HeaderEcho;

/// Reads the HTTP context.
#[reflex::service(name = "header echo", version = "1.0.0")]
impl HeaderEcho {
    /// Returns the value of the `X-Test` request header.
    ///
    /// Returns: the header value, or null
    fn header<'a>(&self, info: &RpcInfo<'a>) -> Option<&'a str> {
        info.extra::<http::HeaderMap>()?.get("x-test")?.to_str().ok()
    }

    /// Whether the handler can see an `Authorization` header.
    ///
    /// Returns: true if it can
    fn sees_credentials(&self, info: &RpcInfo<'_>) -> bool {
        info.extra::<http::HeaderMap>().is_some_and(|h| h.contains_key("authorization"))
    }

    /// Returns the user name the transport authenticated.
    ///
    /// Returns: the user, or null
    fn user<'a>(&self, info: &RpcInfo<'a>) -> Option<&'a str> {
        info.username
    }

    /// Returns the transport's name.
    ///
    /// Returns: e.g. "http"
    fn transport(&self, info: &RpcInfo<'_>) -> &'static str {
        info.transport.name()
    }

    /// Returns the peer address.
    ///
    /// Returns: the address, or null
    fn peer<'a>(&self, info: &RpcInfo<'a>) -> Option<&'a str> {
        info.peer
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_service_with_http_headers_in_the_context() {
    let server = start_service(Arc::new(HeaderEcho), config(&["http://127.0.0.1:0/rpc", "tcp://127.0.0.1:0"])).await;
    let mut c = http(&server.addr("http")).await;
    let r = c.exchange(&post("/rpc", r#"{"jsonrpc":"2.0","method":"header","id":1}"#, "X-Test: hello\r\n")).await;
    assert_eq!(r.body_json()["result"], json!("hello"));
    let r = c.exchange(&post("/rpc", r#"{"jsonrpc":"2.0","method":"transport","id":1}"#, "")).await;
    assert_eq!(r.body_json()["result"], json!("http"));
    let r = c.exchange(&post("/rpc", r#"{"jsonrpc":"2.0","method":"peer","id":1}"#, "")).await;
    assert!(r.body_json()["result"].as_str().is_some_and(|p| p.starts_with("127.0.0.1:")), "{r:?}");
    let mut t = tcp(&server.addr("tcp")).await;
    assert_eq!(t.call_json(r#"{"jsonrpc":"2.0","method":"header","id":1}"#).await["result"], Value::Null);
    assert_eq!(t.call_json(r#"{"jsonrpc":"2.0","method":"transport","id":1}"#).await["result"], json!("tcp"));
    server.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handlers_never_see_the_credentials() {
    let mut cfg = config(&["http://127.0.0.1:0/rpc"]);
    cfg.basic_auth = vec![("alice".into(), "s3cret".into())];
    let server = start_service(Arc::new(HeaderEcho), cfg).await;
    let mut c = http(&server.addr("http")).await;
    // alice:s3cret
    let auth = "Authorization: Basic YWxpY2U6czNjcmV0\r\n";
    let r = c.exchange(&post("/rpc", r#"{"jsonrpc":"2.0","method":"user","id":1}"#, auth)).await;
    assert_eq!(r.body_json()["result"], json!("alice"));
    let r = c.exchange(&post("/rpc", r#"{"jsonrpc":"2.0","method":"sees_credentials","id":2}"#, auth)).await;
    assert_eq!(r.body_json()["result"], json!(false), "the checked Authorization header must not reach handlers");
    server.stop().await.expect("clean stop");
}

// ------------------------------------------------------------------------------------------
// Engine options

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internal_errors_are_hidden_unless_exposed_and_floats_are_strict_unless_lenient() {
    let internal = r#"{"jsonrpc":"2.0","method":"error.internal","id":1}"#;
    let div = r#"{"jsonrpc":"2.0","method":"div","params":[1,2],"id":2}"#;

    let server = start(config(&["tcp://127.0.0.1:0"])).await;
    let mut c = tcp(&server.addr("tcp")).await;
    let reply = c.call(internal).await;
    assert_eq!(reply, r#"{"jsonrpc":"2.0","error":{"code":-32603,"message":"Internal error"},"id":1}"#);
    assert_eq!(c.call_json(div).await["error"]["code"], -32602);
    server.stop().await.expect("clean stop");

    let mut cfg = config(&["tcp://127.0.0.1:0"]);
    cfg.engine = reflex::Config::new().expose_internal_errors(true).strict_floats(false);
    let server = start(cfg).await;
    let mut c = tcp(&server.addr("tcp")).await;
    let reply = c.call(internal).await;
    assert!(reply.contains("detail is for the device log only"), "{reply}");
    assert_eq!(c.call_json(div).await["result"], json!(0.5));
    server.stop().await.expect("clean stop");
}

// ------------------------------------------------------------------------------------------
// Unix sockets, errors, shutdown

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unix_socket_file_handling() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("host-server-unix");
    let sock = unix_path(&dir);
    // A stale socket file (its server is gone) is replaced.
    drop(std::os::unix::net::UnixListener::bind(&sock).expect("stale socket"));
    assert!(sock.exists());
    let listen = format!("unix://{}", sock.display());
    let server = start(config(&[&listen])).await;
    let mode = std::fs::metadata(&sock).expect("socket file").permissions().mode() & 0o777;
    assert_eq!(mode, 0o660);
    assert_eq!(entries(dir.path()), ["reflex.sock"], "nothing left of the private directory it was bound in");
    both_versions(&mut unix(&sock).await).await;

    // A live one is not taken over.
    let err = Server::bind(Arc::new(reflex_host::demo_service()), config(&[&listen])).await.expect_err("in use");
    assert!(matches!(err, ServerError::Bind { .. }), "{err}");
    both_versions(&mut unix(&sock).await).await;

    // Nor is a file that is not a socket.
    let file = dir.write("plain-file", "data");
    let err = Server::bind(Arc::new(reflex_host::demo_service()), config(&[&format!("unix://{}", file.display())]))
        .await
        .expect_err("not a socket");
    assert!(err.to_string().contains("not a socket"), "{err}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "data");

    server.stop().await.expect("clean stop");
    assert!(!sock.exists(), "removed on exit");

    // Dropping a server that never ran removes its file too.
    let server = Server::bind(Arc::new(reflex_host::demo_service()), config(&[&listen])).await.expect("binds");
    assert!(sock.exists());
    drop(server);
    assert!(!sock.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configuration_errors() {
    let service = || Arc::new(reflex_host::demo_service());
    for listen in ["tls://127.0.0.1:0", "https://127.0.0.1:0/rpc"] {
        let err = Server::bind(service(), config(&[listen])).await.expect_err("needs a certificate");
        assert!(matches!(err, ServerError::MissingCertificate(_)), "{err}");
    }
    let err = Server::bind(service(), config(&["serial:///dev/ttyS0"])).await.expect_err("serial");
    assert!(matches!(err, ServerError::Unsupported(_)), "{err}");
    let err = Server::bind(service(), ServerConfig { listen: vec![], ..config(&[]) }).await.expect_err("nothing");
    assert!(matches!(err, ServerError::NoListeners), "{err}");
    let mut cfg = config(&["tls://127.0.0.1:0"]);
    cfg.tls_cert = Some("/nonexistent/cert.pem".into());
    let err = Server::bind(service(), cfg).await.expect_err("missing file");
    assert!(matches!(err, ServerError::Tls(_)), "{err}");
    // A port in use.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let err = Server::bind(service(), config(&[&format!("tcp://127.0.0.1:{port}")])).await.expect_err("in use");
    assert!(matches!(err, ServerError::Bind { .. }), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_lets_requests_in_flight_finish() {
    let dir = TempDir::new("host-server-shutdown");
    let sock = unix_path(&dir);
    let server =
        start(config(&["tcp://127.0.0.1:0", "http://127.0.0.1:0/rpc", &format!("unix://{}", sock.display())])).await;
    let addr = server.addr("tcp");
    let http_addr = server.addr("http");
    let mut line = tcp(&addr).await;
    let mut idle = tcp(&addr).await;
    assert_eq!(idle.call(ADD_V2).await, ADD_V2_REPLY);
    let mut h = http(&http_addr).await;
    line.send(b"{\"jsonrpc\":\"2.0\",\"method\":\"slow_operation\",\"id\":1}\n").await;
    let slow_http = r#"{"jsonrpc":"2.0","method":"slow_operation","id":2}"#;
    bounded("write", h.io.write_all(&post("/rpc", slow_http, ""))).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let started = Instant::now();
    let stopping = tokio::spawn(server.stop());
    // Requests in flight are answered...
    assert_eq!(line.reply().await, r#"{"jsonrpc":"2.0","result":42,"id":1}"#);
    let r = h.response().await;
    assert_eq!(r.body, br#"{"jsonrpc":"2.0","result":42,"id":2}"#);
    // ...then the connections are closed, idle ones too.
    assert!(line.rest().await.is_empty());
    assert!(idle.rest().await.is_empty());
    assert!(h.closed().await);
    bounded("stop", stopping).await.expect("stop task").expect("clean stop");
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(!sock.exists(), "the Unix socket file is removed");
    assert!(TcpStream::connect(&addr).await.is_err(), "no longer accepting");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_timeout_bounds_the_wait() {
    let mut cfg = config(&["tcp://127.0.0.1:0"]);
    cfg.shutdown_timeout = Duration::from_millis(200);
    let server = start(cfg).await;
    let mut c = tcp(&server.addr("tcp")).await;
    c.send(b"{\"jsonrpc\":\"2.0\",\"method\":\"slow_operation\",\"id\":1}\n").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    server.stop().await.expect("clean stop");
    assert!(started.elapsed() < Duration::from_millis(900), "stopped after {:?}", started.elapsed());
    assert!(c.rest().await.is_empty(), "the connection is closed without its reply");
}

// ------------------------------------------------------------------------------------------
// Hardening: Unix socket modes, TLS 1.3 only, revoked client certificates, CN allow-list

/// The names in a directory, sorted.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read directory")
        .map(|e| e.expect("directory entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unix_socket_mode_from_the_endpoint() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("host-server-unix-mode");
    let sock = unix_path(&dir);
    for (query, mode) in [("?mode=0600", 0o600), ("?mode=640", 0o640), ("?mode=0666", 0o666), ("", 0o660)] {
        let listen = format!("unix://{}{query}", sock.display());
        let server = start(config(&[&listen])).await;
        assert_eq!(
            server.endpoint("unix").to_string(),
            format!("unix://{}{}", sock.display(), query.replace("=640", "=0640"))
        );
        let got = std::fs::metadata(&sock).expect("socket file").permissions().mode() & 0o777;
        assert_eq!(got, mode, "{listen}");
        // The private directory the socket was bound in is gone: only the socket is left.
        assert_eq!(entries(dir.path()), ["reflex.sock"], "{listen}");
        both_versions(&mut unix(&sock).await).await;
        server.stop().await.expect("clean stop");
        assert!(!sock.exists(), "removed on exit");
    }

    // A stale socket is still replaced, with the requested mode.
    drop(std::os::unix::net::UnixListener::bind(&sock).expect("stale socket"));
    let listen = format!("unix://{}?mode=0600", sock.display());
    let server = start(config(&[&listen])).await;
    assert_eq!(std::fs::metadata(&sock).expect("socket file").permissions().mode() & 0o777, 0o600);
    both_versions(&mut unix(&sock).await).await;
    // A failed bind leaves nothing behind: a live socket...
    let err = Server::bind(Arc::new(reflex_host::demo_service()), config(&[&listen])).await.expect_err("in use");
    assert!(matches!(err, ServerError::Bind { .. }), "{err}");
    assert_eq!(entries(dir.path()), ["reflex.sock"]);
    server.stop().await.expect("clean stop");
    // ...and a directory that does not exist.
    let missing = dir.path().join("missing").join("reflex.sock");
    let err = Server::bind(Arc::new(reflex_host::demo_service()), config(&[&format!("unix://{}", missing.display())]))
        .await
        .expect_err("no such directory");
    assert!(matches!(err, ServerError::Bind { .. }), "{err}");
    assert_eq!(entries(dir.path()), Vec::<String>::new());
}

/// A client for line TLS that speaks only `versions`.
fn connector_versions(
    ca: &Ca,
    client: Option<&Leaf>,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> TlsConnector {
    TlsConnector::from(Arc::new(client_config(ca, client, versions)))
}

/// Asserts that a TLS client is not served: its handshake fails, or (TLS 1.3, where the client
/// is done before the server has checked its certificate) the connection ends without a reply.
async fn assert_refused(what: &str, addr: &str, connector: &TlsConnector) {
    let Ok(stream) = tls(addr, connector).await else { return };
    let mut c = Lines::new(stream);
    let _ = c.io.get_mut().write_all(format!("{ADD_V2}\n").as_bytes()).await;
    let mut line = Vec::new();
    let got = bounded("refusal", c.io.read_until(b'\n', &mut line)).await;
    assert!(got.is_err() || line.is_empty(), "{what}: served anyway: {:?}", String::from_utf8_lossy(&line));
}

/// A TLS server with the test certificate, the client CA of `client_ca` (PEM) and `tweak`.
fn tls_config(
    certs: &ServerCerts,
    dir: &TempDir,
    client_ca: Option<&str>,
    tweak: impl FnOnce(&mut ServerConfig),
) -> ServerConfig {
    let mut cfg = config(&["tls://127.0.0.1:0", "https://127.0.0.1:0/rpc"]);
    cfg.tls_cert = Some(certs.cert.clone());
    cfg.tls_key = Some(certs.key.clone());
    cfg.client_ca = client_ca.map(|pem| dir.write("client-ca.pem", pem));
    tweak(&mut cfg);
    cfg
}

const WHO: &str = r#"{"jsonrpc":"2.0","method":"get_username","id":7}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls13_only_refuses_tls12_clients() {
    let certs = server_certs();
    let dir = TempDir::new("host-server-tls13");
    let (tls12, tls13) = ([&rustls::version::TLS12], [&rustls::version::TLS13]);
    for only13 in [false, true] {
        let server = start(tls_config(&certs, &dir, None, |c| c.tls13_only = only13)).await;
        for scheme in ["tls", "https"] {
            let addr = server.addr(scheme);
            let s = tls(&addr, &connector_versions(&certs.ca, None, &tls13)).await.expect("TLS 1.3 is served");
            assert_eq!(s.get_ref().1.protocol_version(), Some(rustls::ProtocolVersion::TLSv1_3));
            if scheme == "tls" {
                both_versions(&mut Lines::new(s)).await;
            }
            let tls12_client = connector_versions(&certs.ca, None, &tls12);
            if only13 {
                assert!(tls(&addr, &tls12_client).await.is_err(), "{scheme}: a TLS 1.2 client is refused");
            } else {
                let s = tls(&addr, &tls12_client).await.expect("TLS 1.2 is served by default");
                assert_eq!(s.get_ref().1.protocol_version(), Some(rustls::ProtocolVersion::TLSv1_2));
                if scheme == "tls" {
                    both_versions(&mut Lines::new(s)).await;
                }
            }
        }
        server.stop().await.expect("clean stop");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_client_certificates_are_refused() {
    let certs = server_certs();
    let second_ca = Ca::new("second client CA");
    let dir = TempDir::new("host-server-crl");
    let good = certs.ca.client("good-user");
    let revoked = certs.ca.client("revoked-user");
    let from_second = second_ca.client("second-user");
    // Both CAs are trusted, but only the first one's CRL is given.
    let both_cas = format!("{}{}", certs.ca.cert_pem, second_ca.cert_pem);
    let crl = dir.write("crl.pem", &certs.ca.crl(&[&revoked]));
    let server = start(tls_config(&certs, &dir, Some(&both_cas), |c| c.client_crl = vec![crl.clone()])).await;
    for (scheme, alpn) in [("tls", false), ("https", true)] {
        let addr = server.addr(scheme);
        let stream = tls(&addr, &connector(&certs.ca, Some(&good), alpn)).await.expect("a valid certificate is served");
        if scheme == "tls" {
            assert_eq!(Lines::new(stream).call_json(WHO).await["result"], json!("good-user"));
        }
        assert_refused(&format!("{scheme}: revoked"), &addr, &connector(&certs.ca, Some(&revoked), alpn)).await;
        // No CRL says anything about the second CA's certificates: refused (fail closed).
        assert_refused(&format!("{scheme}: status unknown"), &addr, &connector(&certs.ca, Some(&from_second), alpn))
            .await;
    }
    // The server still serves valid certificates after the refusals.
    let mut t = Lines::new(tls(&server.addr("tls"), &connector(&certs.ca, Some(&good), false)).await.expect("TLS"));
    both_versions(&mut t).await;
    server.stop().await.expect("clean stop");

    // With an empty CRL of each CA, both CAs' clients are served; without any CRL the revoked
    // certificate is accepted too (the CRL is what refused it).
    let crls = [dir.write("crl-1.pem", &certs.ca.crl(&[])), dir.write("crl-2.pem", &second_ca.crl(&[]))];
    for client_crl in [crls.to_vec(), vec![]] {
        let server = start(tls_config(&certs, &dir, Some(&both_cas), |c| c.client_crl = client_crl.clone())).await;
        let addr = server.addr("tls");
        for (leaf, name) in [(&from_second, "second-user"), (&revoked, "revoked-user")] {
            let stream = tls(&addr, &connector(&certs.ca, Some(leaf), false)).await.expect("served");
            assert_eq!(Lines::new(stream).call_json(WHO).await["result"], json!(name), "CRLs {client_crl:?}");
        }
        server.stop().await.expect("clean stop");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_cn_allow_list() {
    let certs = server_certs();
    let dir = TempDir::new("host-server-client-cn");
    let allowed = |c: &mut ServerConfig| c.client_cn = vec!["alice".into(), "bob".into()];
    let server = start(tls_config(&certs, &dir, Some(&certs.ca.cert_pem), allowed)).await;
    for (scheme, alpn) in [("tls", false), ("https", true)] {
        let addr = server.addr(scheme);
        for name in ["alice", "bob"] {
            let client = certs.ca.client(name);
            let stream = tls(&addr, &connector(&certs.ca, Some(&client), alpn)).await.expect("an allowed CN is served");
            if scheme == "tls" {
                assert_eq!(Lines::new(stream).call_json(WHO).await["result"], json!(name));
            } else {
                let mut h = Http::new(stream);
                let r = h.exchange(&post("/rpc", WHO, "")).await;
                assert_eq!((r.status, r.body_json()["result"].clone()), (200, json!(name)));
            }
        }
        // Exact match: another name, another case, or a name with more around it is refused.
        for name in ["mallory", "Alice", "alice ", "alice,bob"] {
            let client = certs.ca.client(name);
            assert_refused(&format!("{scheme}: CN {name:?}"), &addr, &connector(&certs.ca, Some(&client), alpn)).await;
        }
        // An allowed CN from an untrusted CA is still refused: the chain is checked first.
        let impostor = Ca::new("reflex test CA").client("alice");
        assert_refused(&format!("{scheme}: impostor"), &addr, &connector(&certs.ca, Some(&impostor), alpn)).await;
        assert_refused(&format!("{scheme}: no certificate"), &addr, &connector(&certs.ca, None, alpn)).await;
    }
    server.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_hardening_configuration_errors() {
    let certs = server_certs();
    let dir = TempDir::new("host-server-tls-errors");
    let service = || Arc::new(reflex_host::demo_service());
    let crl = dir.write("crl.pem", &certs.ca.crl(&[]));
    // A CRL or a CN allow-list means nothing without a client CA.
    for cfg in [
        tls_config(&certs, &dir, None, |c| c.client_crl = vec![crl.clone()]),
        tls_config(&certs, &dir, None, |c| c.client_cn = vec!["alice".into()]),
    ] {
        let err = Server::bind(service(), cfg).await.expect_err("needs a client CA");
        assert!(matches!(err, ServerError::Tls(_)) && err.to_string().contains("--client-ca"), "{err}");
    }
    // A "CRL" file without any CRL in it (here: a certificate), and a missing one.
    let not_a_crl = dir.write("not-a-crl.pem", &certs.ca.cert_pem);
    for path in [not_a_crl, dir.path().join("missing.pem")] {
        let cfg = tls_config(&certs, &dir, Some(&certs.ca.cert_pem), |c| c.client_crl = vec![path.clone()]);
        let err = Server::bind(service(), cfg).await.expect_err("unusable CRL file");
        assert!(matches!(err, ServerError::Tls(_)) && err.to_string().contains(&*path.to_string_lossy()), "{err}");
    }
}
