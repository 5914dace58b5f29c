//! Soak: many clients over TCP, Unix and HTTP at once against one in-process server, for a
//! bounded time (10 s; `REFLEX_SOAK_SECS` to lengthen), with a random mix of calls, each
//! checked: `add` with random operands, `echo` with random Unicode (sent raw or `\u`-escaped),
//! `enum_echo`, `hash_echo`, 1.0 calls, notifications (2.0, failing ones, 1.0), batches
//! (with notifications inside, or only notifications), type errors and unknown methods.
//!
//! No reply may be wrong, and none lost: every request has a unique id, a missing reply is a
//! timeout, and a reply where none is due shows up as the wrong answer to the next request.
//! Memory stays flat: the process's resident size (`/proc/self/statm`) after a warm-up and
//! at the end may differ by less than [`MAX_GROWTH`].

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reflex_host::server::{Server, ServerConfig};
use reflex_tests::certs::TempDir;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpStream, UnixStream};

/// Clients per transport (three transports).
const CLIENTS: usize = 8;

/// Largest growth of the resident set allowed between the warm-up and the end.
const MAX_GROWTH: u64 = 32 * 1024 * 1024;

/// Longest any single reply may take.
const WAIT: Duration = Duration::from_secs(10);

async fn bounded<F: Future>(what: &str, f: F) -> F::Output {
    tokio::time::timeout(WAIT, f).await.unwrap_or_else(|_| panic!("timed out: {what}"))
}

/// The process's resident set size in bytes (`/proc/self/statm`, second field, in pages of
/// 4 KiB, the page size of every Linux target this runs on).
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).expect("resident pages");
    pages * 4096
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// xorshift64*: small, fast, and reproducible from the seed printed on failure.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn int(&mut self) -> i64 {
        // Operands whose sum always fits: overflow has its own error, tested elsewhere.
        (self.next() >> 2) as i64 - (1i64 << 61)
    }

    /// A random string: ASCII, the characters JSON must escape, controls, Latin-1, CJK,
    /// astral-plane emoji, line and paragraph separators.
    fn text(&mut self) -> String {
        const POOL: &[char] = &[
            'a',
            'Z',
            '0',
            ' ',
            '"',
            '\\',
            '/',
            '\u{0}',
            '\u{8}',
            '\n',
            '\r',
            '\t',
            '\u{1f}',
            '\u{7f}',
            'é',
            'ß',
            '中',
            '文',
            '\u{2028}',
            '\u{2029}',
            '\u{fffd}',
            '\u{ffff}',
            '😀',
            '🦀',
            '\u{10ffff}',
        ];
        let len = self.below(40);
        (0..len).map(|_| POOL[self.below(POOL.len() as u64) as usize]).collect()
    }
}

/// A JSON string literal for `s`, with non-ASCII characters raw or as `\u` escapes
/// (surrogate pairs above the BMP), chosen at random.
fn json_str(rng: &mut Rng, s: &str) -> String {
    if rng.chance(50) {
        return serde_json::to_string(s).expect("string");
    }
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 || !c.is_ascii() => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{u:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

// ------------------------------------------------------------------------------------------
// Connections

struct Lines<IO> {
    io: BufReader<IO>,
}

impl<IO: AsyncRead + AsyncWrite + Unpin> Lines<IO> {
    async fn send(&mut self, text: &str) {
        let mut line = text.as_bytes().to_vec();
        line.push(b'\n');
        bounded("write", self.io.get_mut().write_all(&line)).await.expect("write");
    }

    async fn reply(&mut self) -> String {
        let mut line = String::new();
        let n = bounded("reply", self.io.read_line(&mut line)).await.expect("read");
        assert!(n > 0, "connection closed while a reply was due");
        assert!(line.ends_with("\r\n"), "reply without CRLF: {line:?}");
        line.truncate(line.len() - 2);
        line
    }
}

struct Http {
    io: TcpStream,
    buf: Vec<u8>,
}

impl Http {
    async fn exchange(&mut self, body: &str) -> String {
        let request = format!(
            "POST /rpc HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        bounded("HTTP write", self.io.write_all(request.as_bytes())).await.expect("write");
        let end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i;
            }
            self.fill().await;
        };
        let head = String::from_utf8(self.buf[..end].to_vec()).expect("ASCII head");
        self.buf.drain(..end + 4);
        assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
        let len: usize = head
            .split("\r\n")
            .find_map(|l| l.split_once(':').filter(|(n, _)| n.eq_ignore_ascii_case("content-length")))
            .and_then(|(_, v)| v.trim().parse().ok())
            .expect("Content-Length");
        while self.buf.len() < len {
            self.fill().await;
        }
        String::from_utf8(self.buf.drain(..len).collect()).expect("UTF-8 body")
    }

    async fn fill(&mut self) {
        let mut chunk = [0u8; 8192];
        let n = bounded("HTTP read", self.io.read(&mut chunk)).await.expect("read");
        assert!(n > 0, "HTTP connection closed while a response was due");
        self.buf.extend_from_slice(&chunk[..n]);
    }
}

enum Conn {
    Tcp(Lines<TcpStream>),
    Unix(Lines<UnixStream>),
    Http(Http),
}

impl Conn {
    fn transport(&self) -> &'static str {
        match self {
            Conn::Tcp(_) => "tcp",
            Conn::Unix(_) => "unix",
            Conn::Http(_) => "http",
        }
    }

    /// Sends one request text; returns its reply, or `None` when none is due (`replies`
    /// false). On the line transports a notification is only written: a reply sent for it
    /// anyway would be read as the next request's, and fail that check.
    async fn send(&mut self, text: &str, replies: bool) -> Option<String> {
        match self {
            Conn::Tcp(c) => {
                c.send(text).await;
                if replies {
                    Some(c.reply().await)
                } else {
                    None
                }
            }
            Conn::Unix(c) => {
                c.send(text).await;
                if replies {
                    Some(c.reply().await)
                } else {
                    None
                }
            }
            Conn::Http(h) => {
                let body = h.exchange(text).await;
                if replies {
                    Some(body)
                } else {
                    assert!(body.is_empty(), "a notification got a body: {body} (request {text})");
                    None
                }
            }
        }
    }
}

// ------------------------------------------------------------------------------------------
// One client

#[derive(Default, Debug)]
struct Stats {
    calls: u64,
    notifications: u64,
    batches: u64,
    errors: u64,
}

fn parse(request: &str, reply: &str) -> Value {
    serde_json::from_str(reply).unwrap_or_else(|e| panic!("invalid JSON reply ({e}): {reply}\n  request: {request}"))
}

fn check(request: &str, reply: &Value, expected: &Value) {
    assert_eq!(reply, expected, "wrong reply\n  request: {request}");
}

const PHONE_TYPES: [&str; 4] = ["HOME", "WORK", "MOBILE", "FAX"];
const ADDRESS_FIELDS: [&str; 6] = ["firstname", "lastname", "street1", "street2", "zipcode", "city"];

/// Runs one client until `deadline`; returns its connection (still open) and what it did.
async fn client(mut conn: Conn, seed: u64, deadline: Instant) -> (Conn, Stats) {
    let mut rng = Rng(seed | 1);
    let mut stats = Stats::default();
    let base = seed * 1_000_000_000;
    let mut seq = 0u64;
    while Instant::now() < deadline {
        seq += 1;
        let id = base + seq;
        match rng.below(12) {
            0 | 1 => {
                let (a, b) = (rng.int(), rng.int());
                let req = format!(r#"{{"jsonrpc":"2.0","method":"add","params":[{a},{b}],"id":{id}}}"#);
                let reply = conn.send(&req, true).await.expect("reply");
                check(&req, &parse(&req, &reply), &json!({"jsonrpc":"2.0","result":a + b,"id":id}));
                stats.calls += 1;
            }
            2 | 3 => {
                let text = rng.text();
                let req = format!(
                    r#"{{"jsonrpc":"2.0","method":"echo","params":[{}],"id":{id}}}"#,
                    json_str(&mut rng, &text)
                );
                let reply = conn.send(&req, true).await.expect("reply");
                check(&req, &parse(&req, &reply), &json!({"jsonrpc":"2.0","result":text,"id":id}));
                stats.calls += 1;
            }
            4 => {
                let i = rng.below(4);
                let arg = if rng.chance(50) { format!("\"{}\"", PHONE_TYPES[i as usize]) } else { i.to_string() };
                let req = format!(r#"{{"jsonrpc":"2.0","method":"enum_echo","params":[{arg}],"id":{id}}}"#);
                let reply = conn.send(&req, true).await.expect("reply");
                check(&req, &parse(&req, &reply), &json!({"jsonrpc":"2.0","result":i,"id":id}));
                stats.calls += 1;
            }
            5 => {
                let mut address = serde_json::Map::new();
                let mut members = Vec::new();
                for field in ADDRESS_FIELDS {
                    let v = rng.text();
                    members.push(format!("\"{field}\":{}", json_str(&mut rng, &v)));
                    address.insert(field.to_string(), json!(v));
                }
                let req = format!(
                    r#"{{"jsonrpc":"2.0","method":"hash_echo","params":[{{{}}}],"id":{id}}}"#,
                    members.join(",")
                );
                let reply = conn.send(&req, true).await.expect("reply");
                check(&req, &parse(&req, &reply), &json!({"jsonrpc":"2.0","result":address,"id":id}));
                stats.calls += 1;
            }
            6 => {
                // ReflectRPC's 1.0 dialect.
                let text = rng.text();
                let req = format!(r#"{{"method": "echo", "params": [{}], "id": {id}}}"#, json_str(&mut rng, &text));
                let reply = conn.send(&req, true).await.expect("reply");
                check(&req, &parse(&req, &reply), &json!({"result":text,"id":id,"error":null}));
                stats.calls += 1;
            }
            7 => {
                let req = match rng.below(4) {
                    0 => format!(r#"{{"jsonrpc":"2.0","method":"notify","params":[{}]}}"#, json_str(&mut rng, "quiet")),
                    1 => r#"{"jsonrpc":"2.0","method":"no.such.method","params":[1]}"#.to_string(),
                    2 => r#"{"jsonrpc":"2.0","method":"add","params":["not","ints"]}"#.to_string(),
                    _ => r#"{"method": "echo", "params": ["1.0 notification"], "id": null}"#.to_string(),
                };
                assert!(conn.send(&req, false).await.is_none());
                stats.notifications += 1;
            }
            8 | 9 => {
                let n = 1 + rng.below(6);
                let mut elements = Vec::new();
                let mut expected = BTreeMap::new();
                for k in 0..n {
                    if rng.chance(30) {
                        elements.push(r#"{"jsonrpc":"2.0","method":"notify","params":["in a batch"]}"#.to_string());
                    } else {
                        let (a, b) = (rng.int(), rng.int());
                        let eid = format!("{id}-{k}");
                        elements.push(format!(r#"{{"jsonrpc":"2.0","method":"add","params":[{a},{b}],"id":"{eid}"}}"#));
                        expected.insert(eid.clone(), json!({"jsonrpc":"2.0","result":a + b,"id":eid}));
                    }
                }
                let req = format!("[{}]", elements.join(","));
                let reply = conn.send(&req, !expected.is_empty()).await;
                if let Some(reply) = reply {
                    let got = parse(&req, &reply);
                    let got = got.as_array().unwrap_or_else(|| panic!("a batch reply is an array: {reply}"));
                    let by_id: BTreeMap<String, Value> =
                        got.iter().map(|r| (r["id"].as_str().expect("string id").to_string(), r.clone())).collect();
                    assert_eq!(got.len(), expected.len(), "one reply per request\n  request: {req}\n  reply: {reply}");
                    assert_eq!(by_id, expected, "batch replies\n  request: {req}");
                }
                stats.batches += 1;
            }
            10 => {
                let req =
                    format!(r#"{{"jsonrpc":"2.0","method":"add","params":[{},1],"id":{id}}}"#, json_str(&mut rng, "x"));
                let reply = parse(&req, &conn.send(&req, true).await.expect("reply"));
                assert_eq!((reply["error"]["code"].as_i64(), &reply["id"]), (Some(-32602), &json!(id)), "{req}");
                stats.errors += 1;
            }
            _ => {
                let req = format!(r#"{{"jsonrpc":"2.0","method":"nope.{}","id":{id}}}"#, rng.below(1000));
                let reply = parse(&req, &conn.send(&req, true).await.expect("reply"));
                assert_eq!((reply["error"]["code"].as_i64(), &reply["id"]), (Some(-32601), &json!(id)), "{req}");
                stats.errors += 1;
            }
        }
    }
    // A last call: nothing stray is left in the pipe.
    let req = format!(r#"{{"jsonrpc":"2.0","method":"add","params":[1,1],"id":{}}}"#, base + seq + 1);
    let reply = conn.send(&req, true).await.expect("reply");
    check(&req, &parse(&req, &reply), &json!({"jsonrpc":"2.0","result":2,"id":base + seq + 1}));
    (conn, stats)
}

// ------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn soak() {
    let secs: u64 = std::env::var("REFLEX_SOAK_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(10).max(2);
    let duration = Duration::from_secs(secs);
    let warmup = duration / 5;

    let dir = TempDir::new("soak");
    let sock = dir.path().join("soak.sock");
    let config = ServerConfig {
        listen: vec![
            "tcp://127.0.0.1:0".parse().unwrap(),
            format!("unix://{}", sock.display()).parse().unwrap(),
            "http://127.0.0.1:0/rpc".parse().unwrap(),
        ],
        workers: 2,
        ..ServerConfig::default()
    };
    let server = Server::bind(Arc::new(reflex_host::demo_service()), config).await.expect("server binds");
    let endpoints = server.endpoints();
    let addr = |scheme: &str| {
        endpoints.iter().find(|e| e.to_string().starts_with(scheme)).and_then(|e| e.authority()).expect("endpoint")
    };
    let (tcp, http) = (addr("tcp://"), addr("http://"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.run_until(async move {
        let _ = stopped.await;
    }));

    let started = Instant::now();
    let deadline = started + duration;
    let mut clients = Vec::new();
    for i in 0..CLIENTS * 3 {
        let tcp_stream = |addr: String| async move {
            let s = bounded("connect", TcpStream::connect(addr)).await.expect("connect");
            s.set_nodelay(true).expect("nodelay");
            s
        };
        let conn = match i % 3 {
            0 => Conn::Tcp(Lines { io: BufReader::new(tcp_stream(tcp.clone()).await) }),
            1 => Conn::Unix(Lines {
                io: BufReader::new(bounded("connect", UnixStream::connect(&sock)).await.expect("unix")),
            }),
            _ => Conn::Http(Http { io: tcp_stream(http.clone()).await, buf: Vec::new() }),
        };
        let seed = 0x5eed_0000 + i as u64;
        clients.push(tokio::spawn(client(conn, seed, deadline)));
    }

    tokio::time::sleep(warmup).await;
    let rss_warm = rss();

    let mut per_transport: BTreeMap<&str, Stats> = BTreeMap::new();
    let mut conns = Vec::new();
    for c in clients {
        let (conn, s) =
            tokio::time::timeout(duration + WAIT, c).await.expect("client finished in time").expect("client");
        let t = per_transport.entry(conn.transport()).or_default();
        t.calls += s.calls;
        t.notifications += s.notifications;
        t.batches += s.batches;
        t.errors += s.errors;
        conns.push(conn);
    }
    let elapsed = started.elapsed();
    // With every connection still open.
    let rss_end = rss();
    drop(conns);
    let _ = stop.send(());
    tokio::time::timeout(WAIT, task).await.expect("server stops").expect("server task").expect("clean stop");

    let mut total = 0;
    for (transport, s) in &per_transport {
        let n = s.calls + s.notifications + s.batches + s.errors;
        total += n;
        println!(
            "soak {transport:>4}: {n:>7} requests ({} calls, {} notifications, {} batches, {} errors)",
            s.calls, s.notifications, s.batches, s.errors
        );
    }
    println!(
        "soak: {} clients, {total} requests in {elapsed:.1?} ({:.0}/s), all replies correct",
        CLIENTS * 3,
        total as f64 / elapsed.as_secs_f64()
    );
    let growth = rss_end.saturating_sub(rss_warm);
    println!(
        "soak: RSS {:.1} MiB after {warmup:?} warm-up, {:.1} MiB at the end: growth {:.1} MiB (limit {:.0} MiB)",
        mib(rss_warm),
        mib(rss_end),
        mib(growth),
        mib(MAX_GROWTH)
    );
    assert!(per_transport.len() == 3 && per_transport.values().all(|s| s.calls > 0 && s.batches > 0));
    assert!(growth < MAX_GROWTH, "memory grew by {:.1} MiB during the soak", mib(growth));
}
