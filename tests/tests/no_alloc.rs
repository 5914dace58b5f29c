//! The whole request path allocates nothing: a counting global allocator is armed around
//! requests of every kind (2.0 and 1.0 calls, by-name params, a batch with notifications and
//! errors, the four reflection documents in both dialects, type errors of every kind, escaped
//! strings, parse errors, user and internal errors), around the blocking line server
//! `reflex::io::serve` and around the async one, `reflex::io::serve_async`, driven by
//! `reflex::io::block_on`. Every buffer is prepared before arming; the replies are checked
//! after disarming, so the test cannot pass by doing nothing.
//!
//! This file holds a single test so that no other test code runs in the binary while the
//! allocator is armed; only allocations on the armed thread are counted anyway.

// `GlobalAlloc` is an unsafe trait: the impl below only forwards to `System` and counts.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

use reflex::io::Buffers;
use reflex::{Config, RpcInfo, Transport};
use reflex_tests::{call_with, DEMO};
use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// The counting allocator.

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static ARMED: Cell<bool> = const { Cell::new(false) };
}

fn note() {
    if ARMED.try_with(Cell::get).unwrap_or(false) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: every method passes its arguments unchanged to the system allocator, which upholds
// the `GlobalAlloc` contract; counting does not touch the memory handed out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: the caller upholds `alloc`'s contract; it is passed on as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        // SAFETY: `ptr` was allocated by `System` (every allocation goes through this type) with
        // `layout`; the caller upholds the rest of `realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Runs `f` with the allocator armed on this thread; returns its result and the number of
/// allocations it made.
fn measured<R>(f: impl FnOnce() -> R) -> (R, usize) {
    ALLOCATIONS.store(0, Ordering::SeqCst);
    ARMED.with(|a| a.set(true));
    let r = f();
    ARMED.with(|a| a.set(false));
    (r, ALLOCATIONS.load(Ordering::SeqCst))
}

// ---------------------------------------------------------------------------------------------
// The requests.

/// Which configuration and context a request is sent with.
#[derive(Clone, Copy, Debug)]
enum Setup {
    Plain,
    Lenient,
    Exposed,
    Alice,
}

/// What the reply must be.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// Exactly these bytes.
    Exact(&'static str),
    /// Valid JSON containing this text.
    Contains(&'static str),
    /// No reply.
    Nothing,
}

use Expect::{Contains, Exact, Nothing};
use Setup::{Alice, Exposed, Lenient, Plain};

const A: &str = r#"{"firstname": "Ada", "lastname": "Lovelace", "street1": "St James's Sq. 12", "street2": "", "zipcode": "SW1Y", "city": "London"}"#;

const BATCH: &str = r#"[{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1},{"jsonrpc":"2.0","method":"notify_hello","params":[7]},{"jsonrpc":"2.0","method":"echo","params":["b\u00e4tch"],"id":2},{"jsonrpc":"2.0","method":"nope","id":3},{"jsonrpc":"2.0","method":"subtract","params":[1],"id":4},5,{"jsonrpc":"2.0","method":"error.user","id":5},{"jsonrpc":"2.0","method":"error.internal","id":6},{"jsonrpc":"2.0","method":"update","params":[1,2,3,4,5]},{"jsonrpc":"2.0","method":"get_data","id":7}]"#;

const BATCH_REPLY: &str = "[{\"jsonrpc\":\"2.0\",\"result\":3,\"id\":1},{\"jsonrpc\":\"2.0\",\"result\":\"b\u{e4}tch\",\"id\":2},{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32601,\"message\":\"Method not found\"},\"id\":3},{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32602,\"message\":\"Invalid params\",\"data\":\"Expected 2 parameters for 'subtract' but got 1\"},\"id\":4},{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32600,\"message\":\"Invalid Request\"},\"id\":null},{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32000,\"message\":\"This error was raised on purpose\",\"data\":{\"name\":\"UserError\"}},\"id\":5},{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32603,\"message\":\"Internal error\"},\"id\":6},{\"jsonrpc\":\"2.0\",\"result\":[\"hello\",5],\"id\":7}]";

/// Requests as text (plus a few raw byte sequences below), their setup and expected reply.
const CASES: &[(&str, Setup, Expect)] = &[
    // Calls in both dialects, by position and by name.
    (r#"{"jsonrpc":"2.0","method":"add","params":[1,2],"id":7}"#, Plain, Exact(r#"{"jsonrpc":"2.0","result":3,"id":7}"#)),
    (r#"{"method": "echo", "params": ["Hello Server"], "id": 1}"#, Plain, Exact(r#"{"result": "Hello Server", "id": 1, "error": null}"#)),
    (
        r#"{"jsonrpc":"2.0","method":"subtract","params":{"subtrahend":23,"minuend":42},"id":"n"}"#,
        Plain,
        Exact(r#"{"jsonrpc":"2.0","result":19,"id":"n"}"#),
    ),
    (
        r#"{"jsonrpc":"2.0","method":"hash_echo","params":{"address":{"firstname":"\u0041da","lastname":"Lovelace","street1":"St James's Sq. 12","street2":"","zipcode":"SW1Y","city":"Lond\u006fn"}},"id":2}"#,
        Plain,
        Exact(r#"{"jsonrpc":"2.0","result":{"firstname":"Ada","lastname":"Lovelace","street1":"St James's Sq. 12","street2":"","zipcode":"SW1Y","city":"London"},"id":2}"#),
    ),
    (r#"{"method": "enum_echo", "params": ["MOBILE"], "id": 3}"#, Plain, Exact(r#"{"result": 2, "id": 3, "error": null}"#)),
    (r#"{"method": "echo_ints", "params": [[1, -2, 3]], "id": 3}"#, Plain, Exact(r#"{"result": [1, -2, 3], "id": 3, "error": null}"#)),
    (r#"{"method": "checksum", "params": ["MTIzNDU2Nzg5"], "id": 3}"#, Plain, Exact(r#"{"result": 3421780262, "id": 3, "error": null}"#)),
    (r#"{"method": "div", "params": [1.0, 4.0], "id": 3}"#, Plain, Exact(r#"{"result": 0.25, "id": 3, "error": null}"#)),
    (r#"{"jsonrpc":"2.0","method":"div","params":[1,4],"id":3}"#, Lenient, Exact(r#"{"jsonrpc":"2.0","result":0.25,"id":3}"#)),
    (r#"{"jsonrpc":"2.0","method":"temperature","id":3}"#, Plain, Exact(r#"{"jsonrpc":"2.0","result":21.0,"id":3}"#)),
    (r#"{"jsonrpc":"2.0","method":"device.info","id":3}"#, Plain, Contains(r#""led_count":4"#)),
    (r#"{"jsonrpc":"2.0","method":"a\u0064d","params":[2,2],"id":3}"#, Plain, Exact(r#"{"jsonrpc":"2.0","result":4,"id":3}"#)),
    (r#"{"jsonrpc":"2.0","method":"get_username","id":3}"#, Alice, Exact(r#"{"jsonrpc":"2.0","result":"alice","id":3}"#)),
    (r#"{"method": "is_authenticated", "params": [], "id": 3}"#, Alice, Exact(r#"{"result": true, "id": 3, "error": null}"#)),
    // A batch of ten with notifications and errors.
    (BATCH, Plain, Exact(BATCH_REPLY)),
    // Notifications.
    (r#"{"method": "notify", "params": ["x"], "id": null}"#, Plain, Nothing),
    (r#"{"jsonrpc":"2.0","method":"update","params":[1,2,3,4,5]}"#, Plain, Nothing),
    (r#"[{"jsonrpc":"2.0","method":"foobar"},{"jsonrpc":"2.0","method":"notify_hello","params":[1]}]"#, Plain, Nothing),
    // The reflection documents in both dialects.
    (r#"{"method": "__describe_service", "params": [], "id": 1}"#, Plain, Contains(r#""name": "reflex demo device""#)),
    (r#"{"method": "__describe_functions", "params": [], "id": 1}"#, Plain, Contains(r#""name": "fast_operation""#)),
    (r#"{"method": "__describe_custom_types", "params": [], "id": 1}"#, Plain, Contains(r#""name": "DeviceInfo""#)),
    (r#"{"method": "rpc.discover", "params": [], "id": 1}"#, Plain, Contains(r#""openrpc": "1.3.2""#)),
    (r#"{"jsonrpc":"2.0","method":"__describe_service","id":1}"#, Plain, Contains(r#""name":"reflex demo device""#)),
    (r#"{"jsonrpc":"2.0","method":"__describe_functions","id":1}"#, Plain, Contains(r#""name":"fast_operation""#)),
    (r#"{"jsonrpc":"2.0","method":"__describe_custom_types","id":1}"#, Plain, Contains(r#""name":"DeviceInfo""#)),
    (r#"{"jsonrpc":"2.0","method":"rpc.discover","id":1}"#, Plain, Contains(r#""openrpc":"1.3.2""#)),
    // Type errors of every kind.
    (r#"{"method": "echo", "params": [], "id": 20}"#, Plain, Contains("Expected 1 parameters for 'echo' but got 0")),
    (r#"{"method": "add", "params": [4, 8.9], "id": 36}"#, Plain, Contains("add: Expected value of type 'int' for parameter 'b' but got value of type 'float'")),
    (r#"{"method": "div", "params": [1, 2.0], "id": 1}"#, Plain, Contains("div: Expected value of type 'float' for parameter 'a' but got value of type 'int'")),
    (r#"{"method": "led.set", "params": [0, 1], "id": 1}"#, Plain, Contains("for parameter 'on' but got value of type 'int'")),
    (r#"{"method": "echo_ints", "params": [[1,2,"x"]], "id": 10}"#, Plain, Contains("parameter 'ints[2]' but got value of type 'string'")),
    (r#"{"method": "enum_echo", "params": ["home"], "id": 1}"#, Plain, Contains("'home' is not a valid value for parameter 'phone_type'")),
    (r#"{"method": "enum_echo", "params": [4], "id": 1}"#, Plain, Contains("'4' is not a valid value")),
    (r#"{"method": "enum_echo", "params": [1.5], "id": 1}"#, Plain, Contains("requires a value of type 'int' or 'string' but type was 'float'")),
    (r#"{"method": "hash_echo", "params": ["x"], "id": 1}"#, Plain, Contains("requires a hash value but got 'string'")),
    (r#"{"method": "hash_echo", "params": [{"number": 42}], "id": 75}"#, Plain, Contains("Unknown field 'number'")),
    (r#"{"method": "hash_echo", "params": [{"firstname": "a"}], "id": 1}"#, Plain, Contains("Missing field 'lastname'")),
    (
        r#"{"method": "hash_echo", "params": [{"firstname": 5, "lastname": "", "street1": "", "street2": "", "zipcode": "", "city": ""}], "id": 1}"#,
        Plain,
        Contains("parameter 'address.firstname' but got value of type 'int'"),
    ),
    (r#"{"method": "add", "params": [9223372036854775808, 1], "id": 1}"#, Plain, Contains("add: ")),
    (r#"{"method": "add", "params": [null, 1], "id": 1}"#, Plain, Exact(r#"{"result": null, "id": 1, "error": {"name": "InternalError", "message": "Internal error"}}"#)),
    (
        r#"{"method": "echo_ints", "params": [[0,1,2,3,4,5,6,7,8,9,0,1,2,3,4,5,6,7,8,9,0,1,2,3,4,5,6,7,8,9,0,1,2]], "id": 1}"#,
        Plain,
        Contains("echo_ints: "),
    ),
    (r#"{"method": "checksum", "params": ["MTIz*"], "id": 1}"#, Plain, Contains("checksum: ")),
    (r#"{"jsonrpc":"2.0","method":"subtract","params":{"minuend":1,"x":2},"id":1}"#, Plain, Contains("subtract: Unknown parameter 'x'")),
    (r#"{"jsonrpc":"2.0","method":"subtract","params":{"minuend":1},"id":1}"#, Plain, Contains("subtract: Missing parameter 'subtrahend'")),
    // Escaped strings: unescaped into the scratch arena.
    (r#"{"method": "echo", "params": ["h\u00e9llo \u2603"], "id": 1}"#, Plain, Exact(r#"{"result": "h\u00e9llo \u2603", "id": 1, "error": null}"#)),
    (
        r#"{"jsonrpc":"2.0","method":"echo","params":["q\"\\\/\n\ud83d\ude00"],"id":1}"#,
        Plain,
        Exact("{\"jsonrpc\":\"2.0\",\"result\":\"q\\\"\\\\/\\n\u{1f600}\",\"id\":1}"),
    ),
    // Invalid requests and parse errors.
    (r#"{"method": "echo", "params": ["x"]}"#, Plain, Contains("Field 'id' missing in request")),
    (r#"{"method": "nosuchmethod", "params": [], "id": null}"#, Plain, Contains("No such method: nosuchmethod.")),
    (r#"{"jsonrpc":"2.0","method":"subtract","params":42,"id":1}"#, Plain, Contains("-32600")),
    ("this is not json", Plain, Contains("\"id\":null")),
    ("", Plain, Contains("\"id\":null")),
    (r#"{"jsonrpc":"2.0","method":"subtract""#, Plain, Exact(r#"{"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error"},"id":null}"#)),
    ("[]", Plain, Exact(r#"{"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request"},"id":null}"#)),
    ("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", Plain, Contains("-32700")),
    // User and internal errors in both dialects, hidden and exposed.
    (r#"{"method": "error.user", "params": [], "id": 1}"#, Plain, Exact(r#"{"result": null, "id": 1, "error": {"name": "UserError", "message": "This error was raised on purpose"}}"#)),
    (r#"{"jsonrpc":"2.0","method":"error.user","id":1}"#, Plain, Contains(r#""data":{"name":"UserError"}"#)),
    (r#"{"method": "error.internal", "params": [], "id": 1}"#, Plain, Exact(r#"{"result": null, "id": 1, "error": {"name": "InternalError", "message": "Internal error"}}"#)),
    (r#"{"jsonrpc":"2.0","method":"error.internal","id":1}"#, Plain, Exact(r#"{"jsonrpc":"2.0","error":{"code":-32603,"message":"Internal error"},"id":1}"#)),
    (r#"{"jsonrpc":"2.0","method":"error.internal","id":1}"#, Exposed, Contains("error.internal was called")),
    (r#"{"method": "error.internal", "params": [], "id": 1}"#, Exposed, Contains("error.internal was called")),
    (r#"{"jsonrpc":"2.0","method":"led.get","params":[9],"id":1}"#, Plain, Contains("-32001")),
];

/// Raw byte requests that are not UTF-8 text.
const RAW_CASES: &[&[u8]] = &[b"\xff\xfe{}", b"{\"method\": \"echo\", \"params\": [\"\xc3\x28\"], \"id\": 1}", b"\x00"];

fn config(setup: Setup) -> Config {
    match setup {
        Lenient => Config::new().strict_floats(false),
        Exposed => Config::new().expose_internal_errors(true),
        Plain | Alice => Config::new(),
    }
}

/// Replies recorded into storage reserved before arming.
struct Log {
    bytes: Vec<u8>,
    spans: Vec<(usize, usize)>,
    overflow: bool,
}

impl Log {
    fn with_capacity(bytes: usize, replies: usize) -> Self {
        Log { bytes: Vec::with_capacity(bytes), spans: Vec::with_capacity(replies), overflow: false }
    }

    /// Appends without ever growing (growing would allocate).
    fn push(&mut self, reply: &[u8]) {
        if self.bytes.len() + reply.len() > self.bytes.capacity() || self.spans.len() == self.spans.capacity() {
            self.overflow = true;
            return;
        }
        let start = self.bytes.len();
        self.bytes.extend_from_slice(reply);
        self.spans.push((start, reply.len()));
    }

    fn get(&self, i: usize) -> &str {
        let (start, len) = self.spans[i];
        std::str::from_utf8(&self.bytes[start..start + len]).expect("replies are UTF-8")
    }
}

// ---------------------------------------------------------------------------------------------
// In-memory duplexes over preallocated storage.

/// Blocking: reads at most `chunk` bytes at a time from `input`, writes into `out`.
struct Duplex<'a> {
    input: &'a [u8],
    chunk: usize,
    out: &'a mut [u8],
    written: usize,
}

impl<'a> Duplex<'a> {
    fn new(input: &'a [u8], chunk: usize, out: &'a mut [u8]) -> Self {
        Duplex { input, chunk, out, written: 0 }
    }

    fn read_into(&mut self, buf: &mut [u8]) -> usize {
        let n = buf.len().min(self.input.len()).min(self.chunk);
        let (head, tail) = self.input.split_at(n);
        buf[..n].copy_from_slice(head);
        self.input = tail;
        n
    }

    fn write_from(&mut self, buf: &[u8]) -> Result<usize, embedded_io::ErrorKind> {
        let room = &mut self.out[self.written..];
        if buf.len() > room.len() {
            return Err(embedded_io::ErrorKind::OutOfMemory);
        }
        room[..buf.len()].copy_from_slice(buf);
        self.written += buf.len();
        Ok(buf.len())
    }
}

impl embedded_io::ErrorType for Duplex<'_> {
    type Error = embedded_io::ErrorKind;
}

impl embedded_io::Read for Duplex<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        Ok(self.read_into(buf))
    }
}

impl embedded_io::Write for Duplex<'_> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.write_from(buf)
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// The same duplex behind `embedded_io_async`.
struct AsyncDuplex<'a>(Duplex<'a>);

impl embedded_io_async::ErrorType for AsyncDuplex<'_> {
    type Error = embedded_io::ErrorKind;
}

impl embedded_io_async::Read for AsyncDuplex<'_> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        Ok(self.0.read_into(buf))
    }
}

impl embedded_io_async::Write for AsyncDuplex<'_> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.0.write_from(buf)
    }

    async fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// Receive buffer of the line servers; the overlong line is longer.
const RX: usize = 2048;

/// The line-server input: pipelined requests with LF and CRLF, blank lines and an overlong
/// line, built before arming. Returns the input and its non-blank lines.
fn stream() -> (Vec<u8>, Vec<Vec<u8>>) {
    let overlong = format!(r#"{{"method": "echo", "params": ["{}"], "id": 1}}"#, "x".repeat(RX + 100));
    let lines: Vec<(String, &str)> = vec![
        (r#"{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1}"#.to_owned(), "\n"),
        (r#"{"method": "echo", "params": ["h\u00e9llo"], "id": 2}"#.to_owned(), "\r\n"),
        (String::new(), "\r\n"),
        (r#"{"method": "notify", "params": ["x"], "id": null}"#.to_owned(), "\n"),
        (overlong, "\r\n"),
        (BATCH.to_owned(), "\n"),
        ("   ".to_owned(), "\n"),
        (r#"{"jsonrpc":"2.0","method":"rpc.discover","id":3}"#.to_owned(), "\r\n"),
        (r#"{"method": "__describe_functions", "params": [], "id": 4}"#.to_owned(), "\r\n"),
        ("not json".to_owned(), "\n"),
        (r#"{"method": "hash_echo", "params": [{"number": 42}], "id": 75}"#.to_owned(), "\n"),
        (r#"{"jsonrpc":"2.0","method":"error.internal","id":5}"#.to_owned(), "\r\n"),
        (format!(r#"{{"method": "hash_echo", "params": [{A}], "id": 6}}"#), "\n"),
    ];
    let mut input = Vec::new();
    for (text, eol) in &lines {
        input.extend_from_slice(text.as_bytes());
        input.extend_from_slice(eol.as_bytes());
    }
    let requests = lines.into_iter().filter(|(t, _)| !t.trim().is_empty()).map(|(t, _)| t.into_bytes()).collect();
    (input, requests)
}

/// What a line server must write for `requests`: each one's in-process reply and CRLF, and
/// for the overlong one the size error.
fn expected_stream(requests: &[Vec<u8>]) -> String {
    let mut out = String::new();
    for r in requests {
        if r.len() > RX {
            out.push_str(&format!(
                r#"{{"jsonrpc":"2.0","error":{{"code":-32600,"message":"Invalid Request","data":"Request exceeds the limit of {RX} bytes"}},"id":null}}"#
            ));
            out.push_str("\r\n");
        } else if let Some(reply) = call_with(&Config::new(), &RpcInfo::new(Transport::Serial), r) {
            out.push_str(&reply);
            out.push_str("\r\n");
        }
    }
    out
}

#[test]
fn the_request_path_does_not_allocate() {
    // The counter works: an allocation on this thread while armed is seen.
    let (boxed, n) = measured(|| std::hint::black_box(Box::new([0u8; 16])));
    assert_eq!((boxed.len(), n), (16, 1), "the counting allocator must count");

    // Everything the armed section touches is prepared here.
    let anonymous = RpcInfo::new(Transport::InProcess);
    let alice = RpcInfo::new(Transport::InProcess).with_user("alice");
    let configs: Vec<(Config, &RpcInfo<'_>)> =
        CASES.iter().map(|(_, s, _)| (config(*s), if matches!(s, Alice) { &alice } else { &anonymous })).collect();
    let mut scratch = vec![0u8; 64 * 1024];
    let mut out = vec![0u8; 256 * 1024];
    let mut log = Log::with_capacity(1 << 20, CASES.len() + RAW_CASES.len());

    let (input, requests) = stream();
    let serial = RpcInfo::new(Transport::Serial);
    let mut rx = vec![0u8; RX];
    let mut rx_scratch = vec![0u8; RX];
    let mut tx = vec![0u8; 32];
    let mut blocking_out = vec![0u8; 256 * 1024];
    let mut async_rx = vec![0u8; RX];
    let mut async_scratch = vec![0u8; RX];
    let mut async_tx = vec![0u8; reflex::io::MIN_TX];
    let mut async_out = vec![0u8; 256 * 1024];

    let ((blocking, asynchronous), allocations) = measured(|| {
        for ((request, _, _), (cfg, info)) in CASES.iter().zip(&configs) {
            let n = reflex::io::handle_to_slice(&DEMO, cfg, request.as_bytes(), &mut scratch, info, &mut out)
                .unwrap_or(usize::MAX);
            log.push(out.get(..n).unwrap_or(b"<overflow>"));
        }
        for request in RAW_CASES {
            let n = reflex::io::handle_to_slice(&DEMO, &Config::new(), request, &mut scratch, &anonymous, &mut out)
                .unwrap_or(usize::MAX);
            log.push(out.get(..n).unwrap_or(b"<overflow>"));
        }

        let mut io = Duplex::new(&input, 64, &mut blocking_out);
        let bufs = Buffers { rx: &mut rx, scratch: &mut rx_scratch, tx: &mut tx };
        let blocking = reflex::io::serve(&DEMO, &Config::new(), &mut io, bufs, &serial).map(|()| io.written);

        let mut io = AsyncDuplex(Duplex::new(&input, 64, &mut async_out));
        let bufs = Buffers { rx: &mut async_rx, scratch: &mut async_scratch, tx: &mut async_tx };
        let asynchronous = reflex::io::block_on(reflex::io::serve_async(&DEMO, &Config::new(), &mut io, bufs, &serial))
            .map(|()| io.0.written);
        (blocking, asynchronous)
    });

    // Disarmed: check that real work was done, and done right.
    assert!(!log.overflow, "the reply log overflowed");
    let mut failures = Vec::new();
    for (i, (request, _, expect)) in CASES.iter().enumerate() {
        let got = log.get(i);
        let ok = match expect {
            Exact(want) => got == *want,
            Contains(part) => got.contains(part) && serde_json::from_str::<Value>(got).is_ok(),
            Nothing => got.is_empty(),
        };
        if !ok {
            failures.push(format!("--> {request}\n    want {expect:?}\n    got  {got}"));
        }
    }
    for (i, request) in RAW_CASES.iter().enumerate() {
        let got = log.get(CASES.len() + i);
        if !got.contains("-32700") || serde_json::from_str::<Value>(got).is_err() {
            failures.push(format!("--> {request:?}\n    want a parse error\n    got  {got}"));
        }
    }
    let want = expected_stream(&requests);
    let blocking = blocking.expect("blocking server");
    let blocking = std::str::from_utf8(&blocking_out[..blocking]).expect("UTF-8");
    if blocking != want {
        failures.push(format!("blocking server output:\n    want {want:?}\n    got  {blocking:?}"));
    }
    let asynchronous = asynchronous.expect("async server");
    let asynchronous = std::str::from_utf8(&async_out[..asynchronous]).expect("UTF-8");
    if asynchronous != want {
        failures.push(format!("async server output:\n    want {want:?}\n    got  {asynchronous:?}"));
    }
    assert!(want.matches("\r\n").count() >= 10, "the stream test must produce replies: {want:?}");
    assert!(failures.is_empty(), "{} replies were wrong:\n{}", failures.len(), failures.join("\n"));
    assert_eq!(allocations, 0, "the request path allocated {allocations} times");
}
