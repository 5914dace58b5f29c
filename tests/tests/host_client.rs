//! `reflex_host::client::Client` over real sockets on the loopback interface: every
//! transport, both dialects, errors, notifications, batches, raw requests, timeouts and
//! reflection.
//!
//! The line transports (TCP, Unix socket, serial pseudo-terminal) are served by the core's
//! blocking framing server (`reflex::io::serve`) in threads, so the client is tested against
//! the device-side code; TLS, HTTP and HTTPS are served by `reflex_host::server::Server`.
//! Everything is bounded: each test runs under a deadline, and the client's own timeouts are
//! short where a test waits on purpose.

use std::future::Future;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use reflex::io::Buffers;
use reflex::{Config, RpcInfo, Transport};
use reflex_host::client::{BatchItem, Client, ClientError, ClientOptions, CustomType, Version};
use reflex_host::server::{Server, ServerConfig};
use reflex_host::Endpoint;
use reflex_tests::certs::{Ca, TempDir};
use reflex_tests::DEMO;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------------
// Fixtures.

/// Runs a test body with a deadline, so a hanging transport fails instead of blocking CI.
async fn bounded<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(60), f).await.expect("test exceeded its 60 s deadline")
}

/// A std stream as `embedded_io`, for the core's blocking server.
struct StdIo<T> {
    inner: T,
    /// Written once before the first reply (a device's log line on a serial port).
    banner: Option<&'static [u8]>,
    /// Slept once before the first reply (a slow first answer).
    first_delay: Option<Duration>,
}

impl<T> StdIo<T> {
    fn new(inner: T) -> Self {
        StdIo { inner, banner: None, first_delay: None }
    }
}

#[derive(Debug)]
struct IoError(std::io::Error);

impl std::fmt::Display for IoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for IoError {}

impl embedded_io::Error for IoError {
    fn kind(&self) -> embedded_io::ErrorKind {
        embedded_io::ErrorKind::Other
    }
}

impl<T> embedded_io::ErrorType for StdIo<T> {
    type Error = IoError;
}

impl<T: Read> embedded_io::Read for StdIo<T> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, IoError> {
        loop {
            match self.inner.read(buf) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                // A pseudo-terminal master reads EIO once the slave side is closed: end of file.
                Err(e) if e.raw_os_error() == Some(nix::libc::EIO) => return Ok(0),
                other => return other.map_err(IoError),
            }
        }
    }
}

impl<T: Write> embedded_io::Write for StdIo<T> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, IoError> {
        if let Some(delay) = self.first_delay.take() {
            thread::sleep(delay);
        }
        if let Some(banner) = self.banner.take() {
            self.inner.write_all(banner).map_err(IoError)?;
        }
        self.inner.write(buf).map_err(IoError)
    }

    fn flush(&mut self) -> Result<(), IoError> {
        self.inner.flush().map_err(IoError)
    }
}

/// Serves the demo service on one blocking stream until end of file.
fn serve<T: Read + Write>(mut io: StdIo<T>, transport: Transport) {
    let (mut rx, mut scratch, mut tx) = (vec![0u8; 16 * 1024], vec![0u8; 16 * 1024], vec![0u8; 512]);
    let bufs = Buffers { rx: &mut rx, scratch: &mut scratch, tx: &mut tx };
    let _ = reflex::io::serve(&DEMO, &Config::new(), &mut io, bufs, &RpcInfo::new(transport));
}

/// A line-delimited TCP server (the core's framing) on a free port; each connection in its
/// own thread. `slow_first` delays the first reply of every connection.
fn tcp_server(slow_first: Option<Duration>) -> Endpoint {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let port = listener.local_addr().expect("local address").port();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            thread::spawn(move || {
                let mut io = StdIo::new(stream);
                io.first_delay = slow_first;
                serve(io, Transport::Tcp);
            });
        }
    });
    Endpoint::Tcp { host: "127.0.0.1".into(), port }
}

/// A line-delimited Unix socket server in `dir`.
fn unix_server(dir: &TempDir) -> Endpoint {
    let path = dir.path().join("reflex.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).expect("bind Unix socket");
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            thread::spawn(move || serve(StdIo::new(stream), Transport::Unix));
        }
    });
    Endpoint::Unix { path, mode: None }
}

/// A pseudo-terminal whose master side is served like a device's UART; the slave is the
/// "serial port" the client opens. The returned descriptor keeps the slave alive (the test
/// drops it at the end, which ends the server thread).
fn pty_device() -> (Endpoint, std::os::fd::OwnedFd) {
    use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
    let pty = nix::pty::openpty(None, None).expect("openpty");
    let mut termios = tcgetattr(&pty.slave).expect("tcgetattr");
    cfmakeraw(&mut termios);
    tcsetattr(&pty.slave, SetArg::TCSANOW, &termios).expect("raw mode");
    let path = nix::unistd::ttyname(&pty.slave).expect("slave path");
    let master = std::fs::File::from(pty.master);
    thread::spawn(move || {
        let mut io = StdIo::new(master);
        // A device chatters on its console; the client must skip what is not a reply.
        io.banner = Some(b"[boot] reflex demo ready\r\n");
        serve(io, Transport::Serial);
    });
    (Endpoint::Serial { path, baud: 115_200 }, pty.slave)
}

/// Certificates for the TLS tests, written to a temporary directory.
struct Pki {
    dir: TempDir,
    ca: std::path::PathBuf,
    server_cert: std::path::PathBuf,
    server_key: std::path::PathBuf,
    client_cert: std::path::PathBuf,
    client_key: std::path::PathBuf,
}

fn pki() -> Pki {
    let ca = Ca::new("reflex test CA");
    let server = ca.server(&["localhost", "127.0.0.1"]);
    let client = ca.client("example-username");
    let dir = TempDir::new("client-pki");
    Pki {
        ca: dir.write("ca.pem", &ca.cert_pem),
        server_cert: dir.write("server.pem", &server.cert_pem),
        server_key: dir.write("server.key", &server.key_pem),
        client_cert: dir.write("client.pem", &client.cert_pem),
        client_key: dir.write("client.key", &client.key_pem),
        dir,
    }
}

/// The host server on `listen` (port 0), running until the test's runtime ends.
async fn host_server(config: ServerConfig) -> Vec<Endpoint> {
    let server = Server::bind(Arc::new(reflex_host::demo_service()), config).await.expect("server binds");
    let endpoints = server.endpoints();
    tokio::spawn(server.run_until(std::future::pending()));
    endpoints
}

fn listen(urls: &[&str]) -> Vec<Endpoint> {
    urls.iter().map(|u| u.parse().expect("endpoint")).collect()
}

fn options(version: Version) -> ClientOptions {
    ClientOptions { version, timeout: Duration::from_secs(10), ..ClientOptions::default() }
}

async fn connect(endpoint: &Endpoint, options: ClientOptions) -> Client {
    Client::connect(endpoint, options).await.unwrap_or_else(|e| panic!("connect {endpoint}: {e}"))
}

/// The demo's named hash `Address`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Address {
    firstname: String,
    lastname: String,
    street1: String,
    street2: String,
    zipcode: String,
    city: String,
}

fn address() -> Address {
    Address {
        firstname: "Jäne".into(),
        lastname: "Doe".into(),
        street1: "1 Main St".into(),
        street2: String::new(),
        zipcode: "12345".into(),
        city: "Springfield".into(),
    }
}

// ---------------------------------------------------------------------------------------------
// Shared checks, run over several transports.

/// Typed calls: positional tuples and vectors, strings with non-ASCII text, named hashes,
/// enums by name, heterogenous arrays; named params in 2.0.
async fn check_typed_calls(client: &mut Client) {
    assert_eq!(client.call::<i64>("add", (1, 2)).await.expect("add"), 3);
    assert_eq!(client.call::<String>("echo", ["héllo ☃ \"quoted\"\n"]).await.expect("echo"), "héllo ☃ \"quoted\"\n");
    assert_eq!(client.call::<Vec<i64>>("echo_ints", [vec![1, -2, 3]]).await.expect("echo_ints"), vec![1, -2, 3]);
    assert_eq!(client.call::<Address>("hash_echo", [address()]).await.expect("hash_echo"), address());
    assert_eq!(client.call::<i64>("enum_echo", ["MOBILE"]).await.expect("enum_echo"), 2);
    assert_eq!(client.call::<(String, i64)>("get_data", ()).await.expect("get_data"), ("hello".to_string(), 5));
    assert_eq!(client.call_value("sub", json!([10, 4])).await.expect("sub"), json!(6));
    if client.options().version == Version::V2 {
        let by_name = client.call::<i64>("subtract", json!({"minuend": 42, "subtrahend": 23})).await;
        assert_eq!(by_name.expect("named params"), 19);
    }
    // A result that does not fit the requested type is a client-side error.
    assert!(matches!(client.call::<String>("add", (1, 2)).await, Err(ClientError::Result(_))));
    // Parameters must be an array or an object.
    assert!(matches!(client.call::<Value>("echo", "bare").await, Err(ClientError::Params(_))));
}

/// The server's errors, in the dialect's shape.
async fn check_errors(client: &mut Client) {
    let v2 = client.options().version == Version::V2;
    let err = client.call::<()>("error.user", ()).await.expect_err("error.user fails");
    let rpc = err.rpc().unwrap_or_else(|| panic!("an RPC error, got {err:?}"));
    assert_eq!(rpc.name.as_deref(), Some("UserError"));
    assert_eq!(rpc.message, "This error was raised on purpose");
    assert_eq!(rpc.code, v2.then_some(-32000));
    assert_eq!(
        err.to_string(),
        if v2 {
            "UserError: This error was raised on purpose (code -32000)"
        } else {
            "UserError: This error was raised on purpose"
        }
    );

    let err = client.call::<Value>("no.such.method", ()).await.expect_err("unknown method");
    let rpc = err.rpc().expect("an RPC error");
    if v2 {
        assert_eq!(rpc.code, Some(-32601));
    } else {
        assert_eq!(rpc.name.as_deref(), Some("InvalidRequest"));
        assert!(rpc.message.starts_with("No such method: no.such.method"), "{rpc}");
    }

    let err = client.call::<()>("led.set", (9, true)).await.expect_err("bad LED index");
    assert_eq!(err.rpc().and_then(|e| e.name.as_deref()), Some("IndexError"), "{err:?}");

    let err = client.call::<i64>("add", ("one", 2)).await.expect_err("type error");
    let rpc = err.rpc().expect("an RPC error");
    if v2 {
        assert_eq!(rpc.code, Some(-32602));
    } else {
        assert_eq!(rpc.name.as_deref(), Some("TypeError"));
    }
    // The connection is still in step after errors.
    assert_eq!(client.call::<i64>("mul", (6, 7)).await.expect("mul"), 42);
}

/// Notifications are not answered, run, and never confuse the next call, even when a 1.0
/// server answers a bad one (without an id).
async fn check_notifications(client: &mut Client, led: u8) {
    client.notify("led.set", (led, true)).await.expect("notify led.set");
    assert!(client.call::<bool>("led.get", [led]).await.expect("led.get"), "the notification ran");
    // Unknown methods and bad parameters: a 1.0 server answers these, without an id.
    client.notify("no.such.method", ()).await.expect("notify unknown");
    client.notify("echo", ()).await.expect("notify with missing params");
    client.notify("led.set", (led, false)).await.expect("notify led.set");
    assert_eq!(client.call::<String>("echo", ["after notifications"]).await.expect("echo"), "after notifications");
    assert!(!client.call::<bool>("led.get", [led]).await.expect("led.get"));
    assert_eq!(client.call::<i64>("add", (20, 22)).await.expect("add"), 42);
}

/// Reflection into owned types.
async fn check_reflection(client: &mut Client) {
    let service = client.describe_service().await.expect("describe_service");
    assert_eq!(service.name, "reflex demo device");
    assert!(!service.version.is_empty());

    let functions = client.describe_functions().await.expect("describe_functions");
    let led_set = functions.iter().find(|f| f.name == "led.set").expect("led.set is listed");
    let params: Vec<(&str, &str)> = led_set.params.iter().map(|p| (p.name.as_str(), p.type_name.as_str())).collect();
    assert_eq!(params, [("index", "int"), ("on", "bool")]);
    assert_eq!(led_set.signature(), "led.set(index, on)");
    assert!(functions.iter().any(|f| f.name == "echo" && f.result_type == "string"));

    let types = client.describe_custom_types().await.expect("describe_custom_types");
    let phone = types.iter().find(|t| t.name() == "PhoneType").expect("PhoneType");
    let CustomType::Enum { values, description, .. } = phone else { panic!("PhoneType is an enum: {phone:?}") };
    assert!(description.contains("phone number"), "{description}");
    let values: Vec<(&str, i64)> = values.iter().map(|v| (v.name.as_str(), v.intvalue)).collect();
    assert_eq!(values, [("HOME", 0), ("WORK", 1), ("MOBILE", 2), ("FAX", 3)]);
    let address = types.iter().find(|t| t.name() == "Address").expect("Address");
    let CustomType::Hash { fields, .. } = address else { panic!("Address is a hash: {address:?}") };
    let fields: Vec<(&str, &str)> = fields.iter().map(|f| (f.name.as_str(), f.type_name.as_str())).collect();
    assert_eq!(
        fields,
        [
            ("firstname", "string"),
            ("lastname", "string"),
            ("street1", "string"),
            ("street2", "string"),
            ("zipcode", "string"),
            ("city", "string")
        ]
    );
    // The owned types round-trip through serde (a shell or doc generator stores them).
    let again: Vec<CustomType> =
        serde_json::from_value(serde_json::to_value(&types).expect("serialize")).expect("parse");
    assert_eq!(again, types);

    let doc = client.discover().await.expect("rpc.discover");
    assert!(doc["openrpc"].is_string(), "{doc}");
    let methods = doc["methods"].as_array().expect("methods");
    assert!(methods.iter().any(|m| m["name"] == "led.set"));
}

/// Batches: calls, notifications and errors mixed; results in call order.
async fn check_batch(client: &mut Client) {
    let results = client
        .batch(vec![
            BatchItem::call("add", (1, 2)),
            BatchItem::notify("counter.increment", ()),
            BatchItem::call("error.user", ()),
            BatchItem::notify("no.such.method", ()),
            BatchItem::call("no.such.method", ()),
            BatchItem::call("echo", ["last"]),
        ])
        .await
        .expect("batch");
    assert_eq!(results.len(), 4, "{results:?}");
    assert_eq!(results[0], Ok(json!(3)));
    assert_eq!(results[1].as_ref().map_err(|e| e.name.as_deref()), Err(Some("UserError")));
    assert_eq!(results[2].as_ref().map_err(|e| e.code), Err(Some(-32601)));
    assert_eq!(results[3], Ok(json!("last")));

    // Only notifications: nothing to wait for.
    let started = Instant::now();
    let none = client.batch(vec![BatchItem::notify("counter.increment", ()), BatchItem::notify("echo", ["x"])]).await;
    assert_eq!(none.expect("notification batch"), vec![]);
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(client.batch(Vec::new()).await.expect("empty batch").is_empty());
    assert_eq!(client.call::<i64>("add", (2, 2)).await.expect("call after batches"), 4);
}

/// Raw text: replies when due, nothing for notifications, the server's error for garbage.
async fn check_raw(client: &mut Client) {
    let reply = client.raw(br#"{"jsonrpc":"2.0","method":"add","params":[1,2],"id":"r1"}"#).await.expect("raw");
    assert_eq!(reply.as_deref(), Some(&br#"{"jsonrpc":"2.0","result":3,"id":"r1"}"#[..]));
    let reply = client.raw(br#"{"method": "echo", "params": ["x"], "id": 5}"#).await.expect("raw 1.0");
    assert_eq!(reply.as_deref(), Some(&br#"{"result": "x", "id": 5, "error": null}"#[..]));
    assert_eq!(client.raw(br#"{"jsonrpc":"2.0","method":"counter.increment"}"#).await.expect("raw notification"), None);
    // A 1.0 notification the server answers (unknown method): not waited for, not mistaken
    // for the next reply.
    assert_eq!(
        client.raw(br#"{"method": "nope", "params": [], "id": null}"#).await.expect("raw 1.0 notification"),
        None
    );
    // Garbage right after that notification: the parse error is the reply, not the stray
    // "No such method" reply to the notification (both lack an id).
    let garbage = client.raw(b"this is not json").await.expect("raw garbage").expect("a reply is due");
    let v: Value = serde_json::from_slice(&garbage).expect("the error reply is JSON");
    assert_eq!(v["error"]["code"], -32700, "{v}");
    let garbage = client.raw(b"still not json").await.expect("raw garbage").expect("a reply is due");
    let v: Value = serde_json::from_slice(&garbage).expect("the error reply is JSON");
    assert_eq!(v["error"]["code"], -32700, "{v}");
    let batch =
        client.raw(br#"[{"jsonrpc":"2.0","method":"add","params":[1,1],"id":1},{"jsonrpc":"2.0","method":"x"}]"#).await;
    let batch: Value = serde_json::from_slice(&batch.expect("raw batch").expect("reply")).expect("JSON");
    assert_eq!(batch, json!([{"jsonrpc": "2.0", "result": 2, "id": 1}]));
    assert_eq!(client.call::<i64>("add", (5, 5)).await.expect("call after raw"), 10);
}

async fn check_all(endpoint: &Endpoint, led: u8) {
    for version in [Version::V2, Version::V1] {
        let mut client = connect(endpoint, options(version)).await;
        check_typed_calls(&mut client).await;
        check_errors(&mut client).await;
        check_notifications(&mut client, led).await;
        check_reflection(&mut client).await;
        if version == Version::V2 {
            check_batch(&mut client).await;
        } else {
            assert!(matches!(
                client.batch(vec![BatchItem::call("add", (1, 2))]).await,
                Err(ClientError::Unsupported(_))
            ));
        }
        check_raw(&mut client).await;
        client.close().await;
    }
}

// ---------------------------------------------------------------------------------------------
// Line transports against the core's framing server.

#[tokio::test]
async fn tcp_line_transport() {
    bounded(check_all(&tcp_server(None), 0)).await;
}

#[tokio::test]
async fn unix_socket_transport() {
    let dir = TempDir::new("client-unix");
    bounded(check_all(&unix_server(&dir), 1)).await;
}

#[tokio::test]
async fn serial_pseudo_terminal() {
    let (endpoint, slave) = pty_device();
    assert!(endpoint.to_string().starts_with("serial:///dev/"), "{endpoint}");
    bounded(async {
        for version in [Version::V2, Version::V1] {
            let mut client = connect(&endpoint, options(version)).await;
            check_typed_calls(&mut client).await;
            check_errors(&mut client).await;
            check_notifications(&mut client, 2).await;
            check_reflection(&mut client).await;
            if version == Version::V2 {
                check_batch(&mut client).await;
            }
            client.close().await;
        }
    })
    .await;
    drop(slave);
}

/// A line server that answers every request that has an id with the request itself as the
/// result, so a test sees exactly what the client put on the wire.
fn mirror_server() -> Endpoint {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            thread::spawn(move || {
                let mut writer = stream.try_clone().expect("clone stream");
                for line in std::io::BufRead::lines(std::io::BufReader::new(stream)) {
                    let Ok(line) = line else { return };
                    let request: Value = serde_json::from_str(&line).expect("the client sends JSON");
                    let id = request.get("id").cloned().unwrap_or(Value::Null);
                    if id.is_null() {
                        continue;
                    }
                    let reply = json!({"jsonrpc": "2.0", "result": {"line": line}, "id": id});
                    writer.write_all(format!("{reply}\r\n").as_bytes()).expect("write");
                }
            });
        }
    });
    Endpoint::Tcp { host: "127.0.0.1".into(), port }
}

#[tokio::test]
async fn wire_format_and_auto_incrementing_ids() {
    bounded(async {
        let endpoint = mirror_server();
        let mut client = connect(&endpoint, options(Version::V2)).await;
        let mut sent = Vec::new();
        for params in [json!([1, "two"]), json!({"a": 1}), Value::Null] {
            let got = client.call_value("m", params).await.expect("mirrored");
            sent.push(got["line"].as_str().expect("line").to_string());
        }
        client.notify("n", ()).await.expect("notify");
        let got = client.call_value("m", json!([])).await.expect("mirrored");
        sent.push(got["line"].as_str().expect("line").to_string());
        assert_eq!(
            sent,
            [
                r#"{"jsonrpc":"2.0","method":"m","params":[1,"two"],"id":1}"#,
                r#"{"jsonrpc":"2.0","method":"m","params":{"a":1},"id":2}"#,
                r#"{"jsonrpc":"2.0","method":"m","id":3}"#,
                r#"{"jsonrpc":"2.0","method":"m","params":[],"id":4}"#,
            ]
        );

        let mut client = connect(&endpoint, options(Version::V1)).await;
        let got = client.call_value("m", Value::Null).await.expect("mirrored");
        assert_eq!(got["line"], r#"{"id":1,"method":"m","params":[]}"#);
        let got = client.call::<Value>("m", ("é", 2.5)).await.expect("mirrored");
        assert_eq!(got["line"], r#"{"id":2,"method":"m","params":["é",2.5]}"#);
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Timeouts and connection failures.

#[tokio::test]
async fn timeout_when_the_server_never_answers() {
    bounded(async {
        // Accepted by the kernel (backlog), never read, never answered.
        let silent = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = silent.local_addr().expect("address").port();
        let endpoint = Endpoint::Tcp { host: "127.0.0.1".into(), port };
        let opts = ClientOptions { timeout: Duration::from_millis(200), ..ClientOptions::default() };
        let mut client = connect(&endpoint, opts).await;
        let started = Instant::now();
        let err = client.call::<i64>("add", (1, 2)).await.expect_err("no reply");
        assert!(matches!(err, ClientError::Timeout(t) if t == Duration::from_millis(200)), "{err:?}");
        assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
        assert!(err.to_string().contains("no reply within"), "{err}");
        // A notification does not wait at all.
        client.notify("echo", ["x"]).await.expect("notification is only sent");
        drop(silent);
    })
    .await;
}

#[tokio::test]
async fn late_reply_after_timeout_is_not_taken_for_the_next_one() {
    bounded(async {
        let endpoint = tcp_server(Some(Duration::from_millis(600)));
        let mut client =
            connect(&endpoint, ClientOptions { timeout: Duration::from_millis(200), ..Default::default() }).await;
        let err = client.call::<String>("echo", ["first"]).await.expect_err("the first reply is late");
        assert!(matches!(err, ClientError::Timeout(_)), "{err:?}");
        client.set_timeout(Duration::from_secs(5));
        // The late "first" reply arrives before this one and must be dropped.
        assert_eq!(client.call::<String>("echo", ["second"]).await.expect("echo"), "second");
        assert_eq!(client.call::<String>("echo", ["third"]).await.expect("echo"), "third");
    })
    .await;
}

#[tokio::test]
async fn closed_connection_fails_the_call_and_the_next_reconnects() {
    bounded(async {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        thread::spawn(move || {
            let mut first = true;
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                if std::mem::take(&mut first) {
                    // Read the request, then hang up without answering.
                    let _ = stream.read(&mut [0u8; 1024]);
                    drop(stream);
                    continue;
                }
                thread::spawn(move || serve(StdIo::new(stream), Transport::Tcp));
            }
        });
        let endpoint = Endpoint::Tcp { host: "127.0.0.1".into(), port };
        let mut client = connect(&endpoint, ClientOptions::default()).await;
        let err = client.call::<i64>("add", (1, 2)).await.expect_err("server hung up");
        assert!(matches!(err, ClientError::Closed | ClientError::Io(_)), "{err:?}");
        assert_eq!(client.call::<i64>("add", (1, 2)).await.expect("reconnected"), 3);
    })
    .await;
}

#[tokio::test]
async fn connection_refused_is_a_clear_error() {
    bounded(async {
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("address").port()
        };
        for url in [format!("tcp://127.0.0.1:{port}"), format!("http://127.0.0.1:{port}/rpc")] {
            let endpoint: Endpoint = url.parse().expect("endpoint");
            let err = Client::connect(&endpoint, ClientOptions::default()).await.expect_err("refused");
            let ClientError::Connect { source, .. } = &err else { panic!("a connect error, got {err:?}") };
            assert_eq!(source.kind(), std::io::ErrorKind::ConnectionRefused, "{err}");
            assert!(err.to_string().starts_with(&format!("cannot connect to {url}")), "{err}");
        }
        let missing = Endpoint::Unix { path: "/nonexistent/reflex.sock".into(), mode: None };
        assert!(matches!(Client::connect(&missing, ClientOptions::default()).await, Err(ClientError::Connect { .. })));
        let no_device = Endpoint::Serial { path: "/dev/reflex-no-such-tty".into(), baud: 9600 };
        let err = Client::connect(&no_device, ClientOptions::default()).await.expect_err("no device");
        assert!(matches!(err, ClientError::Connect { .. }), "{err:?}");
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// TLS, HTTP and HTTPS against reflex_host::server.

#[tokio::test]
async fn http_transport() {
    bounded(async {
        let endpoints =
            host_server(ServerConfig { listen: listen(&["http://127.0.0.1:0/rpc"]), ..Default::default() }).await;
        check_all(&endpoints[0], 0).await;

        // A path the server does not serve: a plain HTTP error with the body.
        let Endpoint::Http { port, .. } = &endpoints[0] else { unreachable!() };
        let wrong: Endpoint = format!("http://127.0.0.1:{port}/elsewhere").parse().expect("endpoint");
        let mut client = connect(&wrong, ClientOptions::default()).await;
        let err = client.call::<i64>("add", (1, 2)).await.expect_err("404");
        assert!(matches!(err, ClientError::Http { status: 404, .. }), "{err:?}");
    })
    .await;
}

#[tokio::test]
async fn http_basic_auth() {
    bounded(async {
        let config = ServerConfig {
            listen: listen(&["http://127.0.0.1:0/rpc"]),
            basic_auth: vec![("testuser".into(), "123456".into())],
            ..Default::default()
        };
        let endpoint = host_server(config).await.remove(0);

        let mut anonymous = connect(&endpoint, ClientOptions::default()).await;
        let err = anonymous.call::<bool>("is_authenticated", ()).await.expect_err("no credentials");
        assert!(matches!(err, ClientError::Unauthorized { .. }), "{err:?}");
        assert!(err.to_string().contains("authentication failed"), "{err}");
        assert!(matches!(anonymous.notify("echo", ["x"]).await, Err(ClientError::Unauthorized { .. })));

        let wrong = ClientOptions { basic_auth: Some(("testuser".into(), "wrong".into())), ..Default::default() };
        let err = connect(&endpoint, wrong).await.call::<bool>("is_authenticated", ()).await.expect_err("bad password");
        assert!(matches!(err, ClientError::Unauthorized { .. }), "{err:?}");

        let good = ClientOptions { basic_auth: Some(("testuser".into(), "123456".into())), ..Default::default() };
        let mut client = connect(&endpoint, good).await;
        assert!(client.call::<bool>("is_authenticated", ()).await.expect("authenticated"));
        assert_eq!(client.call::<Option<String>>("get_username", ()).await.expect("user"), Some("testuser".into()));
        assert!(!format!("{:?}", client.options()).contains("123456"), "the password stays out of Debug output");
    })
    .await;
}

#[tokio::test]
async fn http_reconnects_when_the_server_closed_keep_alive() {
    bounded(async {
        let config = ServerConfig {
            listen: listen(&["http://127.0.0.1:0/rpc"]),
            idle_timeout: Duration::from_millis(200),
            ..Default::default()
        };
        let endpoint = host_server(config).await.remove(0);
        let mut client = connect(&endpoint, ClientOptions::default()).await;
        for i in 0..3i64 {
            assert_eq!(client.call::<i64>("add", (i, 1)).await.expect("add"), i + 1);
            // Longer than the server's idle timeout: it closes the keep-alive connection.
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        assert_eq!(client.call::<String>("echo", ["still here"]).await.expect("echo"), "still here");
    })
    .await;
}

/// Reads one HTTP request (head and `Content-Length` body) from a blocking stream; `None` at
/// end of file.
fn read_http_request(stream: &mut std::net::TcpStream) -> Option<Value> {
    let mut data = Vec::new();
    let mut byte = [0u8; 1];
    while !data.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).ok()? == 0 {
            return None;
        }
        data.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&data).to_ascii_lowercase();
    let length: usize = head.lines().find_map(|l| l.strip_prefix("content-length:"))?.trim().parse().ok()?;
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).ok()?;
    serde_json::from_slice(&body).ok()
}

/// The race keep-alive clients must handle: the server closes an idle connection just as
/// the next request goes out. The client sends the request again, once, on a new
/// connection.
#[tokio::test]
async fn http_resends_once_when_a_kept_alive_connection_dies_mid_request() {
    bounded(async {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        thread::spawn(move || {
            for (n, stream) in listener.incoming().enumerate() {
                let Ok(mut stream) = stream else { return };
                // The first connection answers one request, then takes the next one and hangs
                // up without answering; later connections answer everything.
                let answers = if n == 0 { 1 } else { usize::MAX };
                for _ in 0..answers {
                    let Some(request) = read_http_request(&mut stream) else { break };
                    let body = json!({"jsonrpc": "2.0", "result": {"connection": n}, "id": request["id"]}).to_string();
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                        body.len()
                    );
                    stream.write_all(format!("{head}{body}").as_bytes()).expect("write");
                }
                let _ = read_http_request(&mut stream);
            }
        });
        let endpoint: Endpoint = format!("http://127.0.0.1:{port}/rpc").parse().expect("endpoint");
        let mut client = connect(&endpoint, ClientOptions::default()).await;
        assert_eq!(client.call_value("a", Value::Null).await.expect("first call"), json!({"connection": 0}));
        assert_eq!(client.call_value("b", Value::Null).await.expect("resent"), json!({"connection": 1}));
        assert_eq!(client.call_value("c", Value::Null).await.expect("third call"), json!({"connection": 1}));
    })
    .await;
}

#[tokio::test]
async fn tls_and_https_with_ca_client_certificates_and_insecure() {
    bounded(async {
        let pki = pki();
        let config = ServerConfig {
            listen: listen(&["tls://127.0.0.1:0", "https://127.0.0.1:0/rpc"]),
            tls_cert: Some(pki.server_cert.clone()),
            tls_key: Some(pki.server_key.clone()),
            ..Default::default()
        };
        let endpoints = host_server(config).await;
        let verified = ClientOptions { ca_file: Some(pki.ca.clone()), ..Default::default() };
        for endpoint in &endpoints {
            // Verified against the CA; the certificate names 127.0.0.1.
            let mut client = connect(endpoint, verified.clone()).await;
            check_typed_calls(&mut client).await;
            check_errors(&mut client).await;
            check_notifications(&mut client, 3).await;
            check_batch(&mut client).await;
            assert!(!client.call::<bool>("is_authenticated", ()).await.expect("is_authenticated"));
            client.close().await;

            // A server name the certificate does not carry is refused...
            let other_name = ClientOptions { server_name: Some("elsewhere.example".into()), ..verified.clone() };
            let err = Client::connect(endpoint, other_name).await.expect_err("name mismatch");
            assert!(matches!(err, ClientError::Connect { .. }), "{err:?}");
            // ...and one it carries is accepted.
            let localhost = ClientOptions { server_name: Some("localhost".into()), ..verified.clone() };
            assert_eq!(connect(endpoint, localhost).await.call::<i64>("add", (1, 1)).await.expect("add"), 2);

            // Without the CA the server's certificate is unknown...
            let err = Client::connect(endpoint, ClientOptions::default()).await.expect_err("unknown issuer");
            assert!(matches!(err, ClientError::Connect { .. }), "{err:?}");
            // ...unless verification is switched off.
            let insecure = ClientOptions { insecure: true, ..Default::default() };
            assert_eq!(connect(endpoint, insecure).await.call::<i64>("add", (2, 3)).await.expect("add"), 5);
        }

        // A missing certificate file fails before connecting.
        let missing = ClientOptions { ca_file: Some(pki.dir.path().join("nope.pem")), ..Default::default() };
        let err = Client::connect(&endpoints[0], missing).await.expect_err("missing CA file");
        assert!(matches!(err, ClientError::Certificate { .. }), "{err:?}");
    })
    .await;
}

#[tokio::test]
async fn tls_client_certificates() {
    bounded(async {
        let pki = pki();
        let config = ServerConfig {
            listen: listen(&["tls://127.0.0.1:0", "https://127.0.0.1:0/rpc"]),
            tls_cert: Some(pki.server_cert.clone()),
            tls_key: Some(pki.server_key.clone()),
            client_ca: Some(pki.ca.clone()),
            ..Default::default()
        };
        let endpoints = host_server(config).await;
        let with_cert = ClientOptions {
            ca_file: Some(pki.ca.clone()),
            client_cert: Some((pki.client_cert.clone(), pki.client_key.clone())),
            ..Default::default()
        };
        for endpoint in &endpoints {
            let mut client = connect(endpoint, with_cert.clone()).await;
            assert!(client.call::<bool>("is_authenticated", ()).await.expect("is_authenticated"), "{endpoint}");
            let user = client.call::<Option<String>>("get_username", ()).await.expect("get_username");
            assert_eq!(user.as_deref(), Some("example-username"));

            // Without a certificate the server refuses (TLS 1.3 reports it after the
            // handshake, so the failure may surface at connect or at the first call).
            let anonymous = ClientOptions { ca_file: Some(pki.ca.clone()), ..Default::default() };
            let refused = match Client::connect(endpoint, anonymous).await {
                Err(e) => e,
                Ok(mut c) => c.call::<bool>("is_authenticated", ()).await.expect_err("no client certificate"),
            };
            assert!(!matches!(refused, ClientError::Rpc(_) | ClientError::Timeout(_)), "{refused:?}");
        }
    })
    .await;
}

/// A client can move between tasks, its calls can be spawned, and its errors can travel.
#[test]
fn client_futures_and_errors_are_send() {
    fn send<T: Send>(_: &T) {}
    fn send_sync_static<T: Send + Sync + 'static>() {}
    fn check(client: &mut Client) {
        send(client);
        send(&client.call::<i64>("add", (1, 2)));
        send(&client.notify("echo", ["x"]));
        send(&client.batch(Vec::new()));
        send(&client.raw(b"{}"));
        send(&client.describe_functions());
    }
    let _ = check;
    send_sync_static::<ClientError>();
    send_sync_static::<Client>();
}
