//! The host's input paths: `reflex_host::process`, the line protocol and HTTP of
//! `reflex_host::server::Server`.
//!
//! The servers' line and HTTP code is private, so they are driven the way clients drive
//! them: two in-process servers on loopback, started once for the whole run, each demo
//! service on `NoPlatform` (deterministic: no clock, no sleeps).
//!
//! * Server A (`tcp://` and `http://`, 1 KiB request limit, no idle timeout) is mirrored by a
//!   model: a second demo service that sees the same requests in the same order through
//!   `reflex_host::process`. Every input is sent as a line stream (followed by a newline and
//!   a sentinel request) over one long-lived TCP connection, and the replies before the
//!   sentinel's must equal the model's, line by line: the line splitting, CR stripping, blank
//!   lines, the "too large" reply and resynchronisation. Then the input is POSTed as an HTTP
//!   body over one keep-alive connection: 200 with the model's body (empty for
//!   notifications), or 413 with the "too large" error over the limit.
//! * Server B (`http://` with Basic auth) takes inputs that start like an HTTP request line
//!   (`POST `, `GET `, ...) as raw bytes on a fresh connection, half-closed: whatever arrives
//!   must be well-formed HTTP responses, and every JSON body valid JSON.
//!
//! Every reply is also checked with `reflex_fuzz::check_reply`.
#![no_main]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use reflex::io::block_on;
use reflex::{Config, RpcInfo, Transport};
use reflex_demo::{Demo, NoPlatform};
use reflex_fuzz::{check_reply, demo, is_blank, lines, show, strip_cr};
use reflex_host::server::{Server, ServerConfig};

/// Request size limit of server A: small, so fuzz inputs cross it.
const LIMIT: usize = 1024;

/// Longest any single wait on a server may take before it counts as a hang.
const WAIT: Duration = Duration::from_secs(10);

/// Basic credentials of server B (the seeds use them).
const USER: (&str, &str) = ("fuzz", "secret");

struct Servers {
    line: String,
    http: String,
    raw_http: String,
}

fn servers() -> &'static Servers {
    static SERVERS: OnceLock<Servers> = OnceLock::new();
    SERVERS.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            rt.block_on(async move {
                let a = ServerConfig {
                    listen: vec!["tcp://127.0.0.1:0".parse().unwrap(), "http://127.0.0.1:0/rpc".parse().unwrap()],
                    max_request_size: LIMIT,
                    idle_timeout: Duration::ZERO,
                    workers: 1,
                    ..ServerConfig::default()
                };
                let b = ServerConfig {
                    listen: vec!["http://127.0.0.1:0/rpc".parse().unwrap()],
                    max_request_size: LIMIT,
                    idle_timeout: Duration::from_secs(2),
                    basic_auth: vec![(USER.0.into(), USER.1.into())],
                    workers: 1,
                    ..ServerConfig::default()
                };
                let a = Server::bind(Arc::new(Demo::new(NoPlatform)), a).await.expect("server A binds");
                let b = Server::bind(Arc::new(Demo::new(NoPlatform)), b).await.expect("server B binds");
                let (ea, eb) = (a.endpoints(), b.endpoints());
                tx.send(Servers {
                    line: ea[0].authority().expect("tcp address"),
                    http: ea[1].authority().expect("http address"),
                    raw_http: eb[0].authority().expect("http address"),
                })
                .expect("send endpoints");
                let forever = std::future::pending::<()>;
                let (ra, rb) = tokio::join!(a.run_until(forever()), b.run_until(forever()));
                ra.and(rb).expect("servers run");
            });
        });
        rx.recv().expect("servers started")
    })
}

fn connect(addr: &str) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_nodelay(true).expect("nodelay");
    s.set_read_timeout(Some(WAIT)).expect("timeout");
    s.set_write_timeout(Some(WAIT)).expect("timeout");
    s
}

/// The model of server A and the connections to it, kept across iterations.
struct State {
    model: Demo<NoPlatform>,
    line: Option<BufReader<TcpStream>>,
    http: Option<BufReader<TcpStream>>,
    sentinel: u64,
}

fn state() -> &'static Mutex<State> {
    static STATE: OnceLock<Mutex<State>> = OnceLock::new();
    STATE.get_or_init(|| Mutex::new(State { model: demo(), line: None, http: None, sentinel: 0 }))
}

fn process(service: &Demo<NoPlatform>, request: &[u8], transport: Transport) -> Option<Vec<u8>> {
    let config = Config::new();
    let reply = block_on(reflex_host::process(service, &config, request, &RpcInfo::new(transport)));
    check_reply(&config, request, reply.as_deref());
    reply
}

fn too_large() -> Vec<u8> {
    let mut out = reflex_host::output::VecOutput::new(usize::MAX);
    block_on(reflex::engine::too_large(&mut out, LIMIT)).expect("fits");
    out.bytes
}

/// The input as a line stream over server A's TCP listener, against the model.
fn line_mode(st: &mut State, input: &[u8]) {
    st.sentinel += 1;
    let id = st.sentinel;
    let sentinel = format!(r#"{{"jsonrpc":"2.0","method":"echo","params":["sentinel"],"id":{id}}}"#);
    let sentinel_reply = format!(r#"{{"jsonrpc":"2.0","result":"sentinel","id":{id}}}"#);

    let mut stream = input.to_vec();
    stream.push(b'\n');
    let (complete, _) = lines(&stream);
    let mut expected = Vec::new();
    for line in complete {
        let line = strip_cr(line);
        if is_blank(line) {
            continue;
        }
        if line.len() > LIMIT {
            expected.push(too_large());
        } else if let Some(reply) = process(&st.model, line, Transport::Tcp) {
            expected.push(reply);
        }
    }
    stream.extend_from_slice(sentinel.as_bytes());
    stream.push(b'\n');

    let conn = st.line.get_or_insert_with(|| BufReader::new(connect(&servers().line)));
    // Inputs are a few KiB: the write completes into the socket buffers before the replies
    // could fill the other direction's.
    conn.get_mut().write_all(&stream).unwrap_or_else(|e| panic!("line write: {e}: {}", show(input)));
    let mut got = Vec::new();
    loop {
        let mut line = Vec::new();
        match conn.read_until(b'\n', &mut line) {
            Ok(0) => panic!("server closed the line connection\n  input: {}", show(input)),
            Ok(_) => {}
            Err(e) => panic!("no reply from the line server ({e})\n  input: {}", show(input)),
        }
        let Some(text) = line.strip_suffix(b"\r\n") else {
            panic!("reply without CRLF: {}\n  input: {}", show(&line), show(input))
        };
        if text == sentinel_reply.as_bytes() {
            break;
        }
        got.push(text.to_vec());
    }
    if got != expected {
        let render = |v: &[Vec<u8>]| v.iter().map(|l| format!("\n    {}", show(l))).collect::<String>();
        panic!(
            "line replies differ\n  input: {}\n  got:{}\n  expected:{}",
            show(input),
            render(&got),
            render(&expected)
        );
    }
}

/// One HTTP/1 response read from `r`: status, headers (lowercased names), body.
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// Parses a response head (status line and headers, without the blank line).
fn parse_head(head: &[u8]) -> Result<Response, String> {
    let head = std::str::from_utf8(head).map_err(|_| "head is not UTF-8")?;
    let mut head_lines = head.split("\r\n");
    let status_line = head_lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if version != "HTTP/1.1" && version != "HTTP/1.0" {
        return Err(format!("bad version in {status_line:?}"));
    }
    let status: u16 = parts.next().and_then(|s| s.parse().ok()).ok_or(format!("bad status in {status_line:?}"))?;
    let mut headers = Vec::new();
    for line in head_lines {
        let (n, v) = line.split_once(':').ok_or(format!("bad header {line:?}"))?;
        headers.push((n.to_ascii_lowercase(), v.trim().to_string()));
    }
    Ok(Response { status, headers, body: Vec::new() })
}

/// The body length a response announces; every response of the server has a known length.
fn body_len(r: &Response) -> Result<usize, String> {
    match r.header("content-length") {
        Some(v) => v.parse::<usize>().map_err(|_| format!("bad Content-Length {v:?}")),
        None if r.status == 204 || r.status == 304 || r.status < 200 => Ok(0),
        None => Err(format!("response {} without Content-Length", r.status)),
    }
}

/// Parses one response from the front of `buf`; returns it and the bytes it took. With
/// `head_requests`, a response may be one to `HEAD` (a length but no body): taken as such
/// when its body would run past the end or into the next response.
fn parse_response(buf: &[u8], head_requests: bool) -> Result<(Response, usize), String> {
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n").ok_or("no end of head")?;
    let mut r = parse_head(&buf[..head_end])?;
    let start = head_end + 4;
    let len = body_len(&r)?;
    let rest = &buf[start..];
    if head_requests && (rest.len() < len || (len > 0 && rest.starts_with(b"HTTP/1."))) {
        return Ok((r, start));
    }
    r.body = rest.get(..len).ok_or("body shorter than Content-Length")?.to_vec();
    Ok((r, start + len))
}

/// Reads one response from a keep-alive connection.
fn read_response(conn: &mut BufReader<TcpStream>, input: &[u8]) -> Response {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        match conn.read_until(b'\n', &mut head) {
            Ok(0) => panic!("HTTP connection closed before a response\n  input: {}", show(input)),
            Ok(_) => {}
            Err(e) => panic!("no HTTP response ({e})\n  input: {}", show(input)),
        }
    }
    let malformed =
        |e: String| -> ! { panic!("malformed HTTP response: {e}: {}\n  input: {}", show(&head), show(input)) };
    let mut r = parse_head(&head[..head.len() - 4]).unwrap_or_else(|e| malformed(e));
    let len = body_len(&r).unwrap_or_else(|e| malformed(e));
    r.body = vec![0u8; len];
    conn.read_exact(&mut r.body).unwrap_or_else(|e| panic!("HTTP body ({e})\n  input: {}", show(input)));
    r
}

/// The input as the body of a POST to server A, against the model.
fn http_mode(st: &mut State, input: &[u8]) {
    let conn = st.http.get_or_insert_with(|| BufReader::new(connect(&servers().http)));
    let mut request = format!(
        "POST /rpc HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        input.len()
    )
    .into_bytes();
    request.extend_from_slice(input);
    conn.get_mut().write_all(&request).unwrap_or_else(|e| panic!("HTTP write: {e}: {}", show(input)));
    let r = read_response(conn, input);
    if input.len() > LIMIT {
        assert_eq!(r.status, 413, "over the limit\n  input: {}", show(input));
        assert_eq!(r.body, too_large(), "413 body\n  input: {}", show(input));
        // The body was not read: the server closes the connection.
        st.http = None;
        return;
    }
    let expected = process(&st.model, input, Transport::Http).unwrap_or_default();
    assert_eq!(r.status, 200, "status\n  input: {}\n  body: {}", show(input), show(&r.body));
    assert!(
        r.body == expected,
        "HTTP body differs\n  input: {}\n  got:      {}\n  expected: {}",
        show(input),
        show(&r.body),
        show(&expected)
    );
}

/// Raw HTTP bytes to server B on a fresh, half-closed connection.
fn raw_http_mode(input: &[u8]) {
    let mut conn = connect(&servers().raw_http);
    // The server may close early (a malformed head): a failed write is fine.
    let _ = conn.write_all(input);
    let _ = conn.shutdown(Shutdown::Write);
    let mut received = Vec::new();
    if let Err(e) = conn.read_to_end(&mut received) {
        // A reset after the server answered and closed is fine; a hang is not.
        assert!(
            !matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut),
            "server B neither answered nor closed within {WAIT:?}\n  input: {}",
            show(input)
        );
    }
    let mut rest = &received[..];
    while !rest.is_empty() {
        let heads = input.windows(5).any(|w| w == b"HEAD ");
        let (r, used) = parse_response(rest, heads).unwrap_or_else(|e| {
            panic!("malformed HTTP response: {e}\n  input: {}\n  got: {}", show(input), show(rest))
        });
        if r.header("content-type") == Some("application/json") && !r.body.is_empty() {
            reflex_fuzz::reply_json(input, &r.body);
        }
        if r.status == 200 && r.header("content-type") != Some("application/json") {
            panic!("200 without a JSON content type\n  input: {}", show(input));
        }
        rest = &rest[used..];
    }
}

/// Whether the input starts like an HTTP request line (`TOKEN SP`).
fn looks_like_http(input: &[u8]) -> bool {
    let token = input.iter().take_while(|b| b.is_ascii_uppercase()).count();
    (3..=7).contains(&token) && input.get(token) == Some(&b' ')
}

fuzz_target!(|data: &[u8]| {
    if looks_like_http(data) {
        raw_http_mode(data);
        return;
    }
    let mut st = state().lock().unwrap_or_else(|e| e.into_inner());
    line_mode(&mut st, data);
    http_mode(&mut st, data);
});
