//! Property tests of the whole request path against the demo service: arbitrary bytes and
//! arbitrary JSON never make the engine panic and always get valid JSON back; ids are echoed
//! exactly once; batches answer every non-notification; notifications get nothing; the line
//! framing does not depend on how the bytes are chunked.

use std::convert::Infallible;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use reflex::io::Buffers;
use reflex::{Config, RpcInfo, Transport};
use reflex_tests::{call_with, DEMO};
use serde_json::Value;

/// Cases per property: enough to find shape bugs, small enough for two cores.
const CASES: u32 = 384;

fn cases() -> ProptestConfig {
    ProptestConfig { cases: CASES, failure_persistence: None, ..ProptestConfig::default() }
}

/// Method names worth hitting: every demo function, the builtins, near misses and junk.
const METHODS: &[&str] = &[
    "echo",
    "add",
    "sub",
    "mul",
    "div",
    "enum_echo",
    "hash_echo",
    "notify",
    "is_authenticated",
    "get_username",
    "echo_ints",
    "subtract",
    "sum",
    "update",
    "notify_hello",
    "notify_sum",
    "get_data",
    "led.set",
    "led.get",
    "temperature",
    "uptime",
    "device.info",
    "counter.increment",
    "counter.get",
    "checksum",
    "error.user",
    "error.internal",
    "slow_operation",
    "fast_operation",
    "__describe_service",
    "__describe_functions",
    "__describe_custom_types",
    "rpc.discover",
    "rpc.nonexistent",
    "ECHO",
    "__describe_something",
    "foobar",
    "",
];

/// Sends `request` with a reply buffer large enough for anything (batches of reflection
/// documents included).
fn exchange(config: &Config, request: &[u8]) -> Option<String> {
    let mut scratch = vec![0u8; request.len()];
    let mut out = vec![0u8; 4 << 20];
    let info = RpcInfo::new(Transport::InProcess);
    let n = reflex::io::handle_to_slice(&DEMO, config, request, &mut scratch, &info, &mut out)
        .expect("reply fits the 4 MiB test buffer");
    (n > 0).then(|| String::from_utf8(out[..n].to_vec()).expect("replies are UTF-8"))
}

fn parse(reply: &str) -> Result<Value, TestCaseError> {
    serde_json::from_str(reply).map_err(|e| TestCaseError::fail(format!("reply is not valid JSON ({e}): {reply}")))
}

// ---------------------------------------------------------------------------------------------
// Generators of JSON text.

/// One character of a string, biased towards the ones that need care.
fn string_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => proptest::char::range('a', 'z'),
        2 => any::<char>(),
        2 => select(vec!['"', '\\', '/', '\u{0}', '\n', '\t', '\u{1f}', '\u{7f}', 'é', '€', '😀', '\u{2028}', '\u{ffff}']),
    ]
}

/// Writes `c` as a `\uXXXX` escape (a surrogate pair above U+FFFF).
fn push_u_escape(out: &mut String, c: char) {
    let mut units = [0u16; 2];
    for u in c.encode_utf16(&mut units) {
        out.push_str(&format!("\\u{u:04x}"));
    }
}

/// A JSON string literal holding `chars`, each spelled raw, as a short escape, or as `\u`
/// escape according to `modes` (always valid JSON).
fn string_literal(chars: &[char], modes: &[u8]) -> String {
    let mut out = String::from("\"");
    for (i, &c) in chars.iter().enumerate() {
        let mode = modes.get(i).copied().unwrap_or(0) % 3;
        match c {
            '"' if mode != 2 => out.push_str("\\\""),
            '\\' if mode != 2 => out.push_str("\\\\"),
            '/' if mode == 1 => out.push_str("\\/"),
            '\n' if mode != 2 => out.push_str("\\n"),
            '\t' if mode != 2 => out.push_str("\\t"),
            c if mode == 2 || (c as u32) < 0x20 || c == '"' || c == '\\' => push_u_escape(&mut out, c),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_string() -> impl Strategy<Value = String> {
    (vec(string_char(), 0..10), vec(any::<u8>(), 10)).prop_map(|(chars, modes)| string_literal(&chars, &modes))
}

/// Numbers serde_json can read back (so replies echoing them stay parseable).
fn json_number() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        (-1000i64..1000).prop_map(|n| n.to_string()),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| serde_json::to_string(&f).unwrap()),
        select(vec![
            "0",
            "-0",
            "7.0",
            "1.5",
            "-0.0",
            "1E+2",
            "2.5e-3",
            "1e2",
            "9223372036854775808",
            "-9223372036854775809",
            "18446744073709551616",
            "123456789012345678901234567890",
        ])
        .prop_map(str::to_owned),
    ]
}

fn json_scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        select(vec!["null", "true", "false"]).prop_map(str::to_owned),
        json_number(),
        json_string(),
        select(METHODS.to_vec()).prop_map(|m| format!("\"{m}\"")),
    ]
}

/// Joins `items` into `open … close` with separators of random spacing.
fn join(open: &str, items: &[String], close: &str, spaced: bool) -> String {
    let sep = if spaced { ", " } else { "," };
    format!("{open}{}{close}", items.join(sep))
}

/// Any JSON value, at most four levels deep, as text.
fn json_value() -> impl Strategy<Value = String> {
    json_scalar().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            (vec(inner.clone(), 0..6), any::<bool>()).prop_map(|(items, s)| join("[", &items, "]", s)),
            (vec((json_string(), inner), 0..6), any::<bool>()).prop_map(|(members, s)| {
                let items: Vec<String> =
                    members.iter().map(|(k, v)| format!("{k}{}{v}", if s { ": " } else { ":" })).collect();
                join("{", &items, "}", s)
            }),
        ]
    })
}

/// A JSON array of random values (positional params).
fn json_array() -> impl Strategy<Value = String> {
    (vec(json_value(), 0..5), any::<bool>()).prop_map(|(items, s)| join("[", &items, "]", s))
}

/// A JSON object of random members whose keys are mostly plausible parameter names.
fn json_object() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        select(vec!["a", "b", "message", "minuend", "subtrahend", "phone_type", "address", "ints", "x"])
            .prop_map(|k| format!("\"{k}\"")),
        json_string(),
    ];
    (vec((key, json_value()), 0..4), any::<bool>()).prop_map(|(members, s)| {
        let items: Vec<String> = members.iter().map(|(k, v)| format!("{k}:{v}")).collect();
        join("{", &items, "}", s)
    })
}

/// Structured params: an array or an object.
fn structured_params() -> impl Strategy<Value = String> {
    prop_oneof![3 => json_array(), 1 => json_object()]
}

/// A method member value: mostly a known name, sometimes any string.
fn method_name() -> impl Strategy<Value = String> {
    method_name_from(METHODS)
}

/// A method member value: mostly a name from `names`, sometimes any string.
fn method_name_from(names: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop_oneof![4 => select(names.to_vec()).prop_map(|m| format!("\"{m}\"")), 1 => json_string()]
}

/// The methods whose replies do not depend on state other tests change concurrently (LEDs,
/// the counter): replies to these can be compared between runs.
fn stateless_methods() -> &'static [&'static str] {
    static LIST: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    LIST.get_or_init(|| {
        METHODS.iter().copied().filter(|m| !m.starts_with("led.") && !m.starts_with("counter.")).collect()
    })
}

/// An id that is a valid 2.0 id: a string, a number or null.
fn v2_id() -> impl Strategy<Value = String> {
    prop_oneof![2 => json_string(), 2 => json_number(), 1 => Just("null".to_owned())]
}

/// Writes an object from `(key, value)` members, in the given order.
fn object(members: &[(&str, String)], spaced: bool) -> String {
    let items: Vec<String> =
        members.iter().map(|(k, v)| format!("\"{k}\"{}{v}", if spaced { ": " } else { ":" })).collect();
    join("{", &items, "}", spaced)
}

fn configs() -> impl Strategy<Value = Config> {
    (any::<bool>(), any::<bool>(), 0u8..=80).prop_map(|(strict, expose, depth)| {
        Config::new().strict_floats(strict).expose_internal_errors(expose).max_depth(depth)
    })
}

/// Checks the shape of one reply object: a 2.0 one has `jsonrpc`, exactly one of
/// `result`/`error` and an `id`; a 1.0 one has `result` and `error`.
fn check_reply_object(v: &Value, raw: &str) -> Result<(), TestCaseError> {
    let obj = v.as_object().ok_or_else(|| TestCaseError::fail(format!("reply is not an object: {raw}")))?;
    if obj.contains_key("jsonrpc") {
        prop_assert_eq!(&obj["jsonrpc"], "2.0", "{}", raw);
        prop_assert!(obj.contains_key("result") != obj.contains_key("error"), "2.0 result xor error: {}", raw);
        prop_assert!(obj.contains_key("id"), "2.0 reply without id: {}", raw);
        if let Some(err) = obj.get("error") {
            prop_assert!(err["code"].is_i64(), "error code not an integer: {}", raw);
            prop_assert!(err["message"].is_string(), "error message not a string: {}", raw);
        }
    } else {
        prop_assert!(obj.contains_key("result") && obj.contains_key("error"), "1.0 reply shape: {}", raw);
        prop_assert!(obj.get("error").is_some_and(|e| e.is_null() || e["name"].is_string()), "1.0 error: {}", raw);
    }
    Ok(())
}

fn check_any_reply(reply: &str) -> Result<(), TestCaseError> {
    match parse(reply)? {
        Value::Array(items) => {
            prop_assert!(!items.is_empty(), "an empty batch reply must not be sent: {}", reply);
            for item in &items {
                check_reply_object(item, reply)?;
                prop_assert!(item.get("jsonrpc").is_some(), "batch replies are 2.0: {}", reply);
            }
            Ok(())
        }
        v => check_reply_object(&v, reply),
    }
}

/// Bytes that are mostly JSON-ish tokens (so the fuzzing reaches past the scanner).
fn token_soup() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        select(vec![
            "{",
            "}",
            "[",
            "]",
            ",",
            ":",
            " ",
            "\"",
            "\\",
            "\"jsonrpc\"",
            "\"2.0\"",
            "\"method\"",
            "\"params\"",
            "\"id\"",
            "\"echo\"",
            "\"add\"",
            "\"hash_echo\"",
            "null",
            "true",
            "1",
            "-1.5e3",
            "\"\\u00e9\"",
            "\"\\ud83d\"",
            "\r\n",
        ])
        .prop_map(|t| t.as_bytes().to_vec()),
        json_value().prop_map(String::into_bytes),
        vec(any::<u8>(), 1..4),
    ];
    vec(token, 0..24).prop_map(|ts| ts.concat())
}

proptest! {
    #![proptest_config(cases())]

    /// (a) Arbitrary bytes never panic, and any reply is valid JSON of a reply's shape.
    #[test]
    fn arbitrary_bytes_get_valid_json(
        bytes in prop_oneof![vec(any::<u8>(), 0..300), token_soup()],
        config in configs(),
        user in any::<bool>(),
    ) {
        let info = if user { RpcInfo::new(Transport::Tcp).with_user("alice") } else { RpcInfo::new(Transport::Tcp) };
        if let Some(reply) = call_with(&config, &info, &bytes) {
            check_any_reply(&reply)?;
        }
    }

    /// (b) Request objects whose members are arbitrary JSON values, in either dialect, never
    /// panic and get replies of the right dialect.
    #[test]
    fn arbitrary_members_get_valid_json(
        jsonrpc in proptest::option::of(prop_oneof![3 => Just("\"2.0\"".to_owned()), 1 => json_value()]),
        method in proptest::option::of(prop_oneof![3 => method_name(), 1 => json_value()]),
        params in proptest::option::of(prop_oneof![3 => structured_params(), 1 => json_value()]),
        id in proptest::option::of(json_value()),
        extra in proptest::option::of(json_value()),
        shuffle in any::<u64>(),
        spaced in any::<bool>(),
        config in configs(),
    ) {
        let mut members: Vec<(&str, String)> = Vec::new();
        for (k, v) in [("jsonrpc", &jsonrpc), ("method", &method), ("params", &params), ("id", &id), ("extra", &extra)] {
            if let Some(v) = v {
                members.push((k, v.clone()));
            }
        }
        let n = members.len().max(1);
        members.rotate_left((shuffle as usize) % n);
        let request = object(&members, spaced);
        let config = config.max_depth(32);
        if let Some(reply) = exchange(&config, request.as_bytes()) {
            let v = parse(&reply)?;
            check_reply_object(&v, &reply)?;
            // The dialect follows the presence of `jsonrpc`.
            prop_assert_eq!(v.get("jsonrpc").is_some(), jsonrpc.is_some(), "dialect of {} -> {}", request, reply);
            if jsonrpc.is_none() {
                prop_assert!(reply.starts_with("{\"result\": "), "1.0 key order: {}", reply);
            }
        }
    }

    /// (c) A 2.0 request with any valid id gets exactly one reply echoing that id; the same
    /// request without an id (a notification) gets nothing.
    #[test]
    fn v2_ids_are_echoed_and_notifications_silent(
        id in v2_id(),
        method in method_name(),
        params in proptest::option::of(structured_params()),
        spaced in any::<bool>(),
    ) {
        let mut members = vec![("jsonrpc", "\"2.0\"".to_owned()), ("method", method)];
        if let Some(p) = params {
            members.push(("params", p));
        }
        let notification = object(&members, spaced);
        prop_assert_eq!(exchange(&Config::new(), notification.as_bytes()), None, "notification {}", notification);

        members.push(("id", id.clone()));
        let request = object(&members, spaced);
        let reply = exchange(&Config::new(), request.as_bytes());
        prop_assert!(reply.is_some(), "no reply to {}", request);
        let reply = reply.unwrap();
        let v = parse(&reply)?;
        check_reply_object(&v, &reply)?;
        let want: Value = serde_json::from_str(&id).unwrap();
        prop_assert_eq!(&v["id"], &want, "id of {} -> {}", request, reply);
        // 2.0 ids are echoed byte for byte.
        prop_assert!(reply.ends_with(&format!(",\"id\":{id}}}")), "id bytes of {} -> {}", request, reply);
    }

    /// (c') Whatever the method and params (even invalid ones), a 2.0 request with a valid id
    /// gets exactly one reply with that id.
    #[test]
    fn v2_any_request_with_id_gets_its_id(
        id in v2_id(),
        method in json_value(),
        params in proptest::option::of(json_value()),
    ) {
        let mut members = vec![("jsonrpc", "\"2.0\"".to_owned()), ("method", method), ("id", id.clone())];
        if let Some(p) = params {
            members.push(("params", p));
        }
        let request = object(&members, false);
        let reply = exchange(&Config::new(), request.as_bytes());
        prop_assert!(reply.is_some(), "no reply to {}", request);
        let reply = reply.unwrap();
        let v = parse(&reply)?;
        check_reply_object(&v, &reply)?;
        prop_assert_eq!(&v["id"], &serde_json::from_str::<Value>(&id).unwrap(), "{} -> {}", request, reply);
    }

    /// (d) A batch gets one reply per non-notification (invalid elements included), with the
    /// ids matching as a multiset; a batch of notifications only gets nothing.
    #[test]
    fn batches_answer_every_request(
        elements in vec(
            prop_oneof![
                3 => (v2_id(), method_name(), proptest::option::of(structured_params()))
                    .prop_map(|(id, m, p)| (Some(Some(id)), m, p)),
                2 => (method_name(), proptest::option::of(structured_params())).prop_map(|(m, p)| (Some(None), m, p)),
                1 => select(vec!["1", "null", "\"x\"", "[]", "[1]", "{\"foo\": \"boo\"}", "true"])
                    .prop_map(|junk| (None, junk.to_owned(), None)),
            ],
            1..10,
        ),
    ) {
        let mut texts = Vec::new();
        let mut want_ids: Vec<String> = Vec::new();
        for (kind, method, params) in &elements {
            match kind {
                // Junk: not a request object; answered with -32600 and id null.
                None => {
                    texts.push(method.clone());
                    want_ids.push("null".to_owned());
                }
                Some(id) => {
                    let mut members = vec![("jsonrpc", "\"2.0\"".to_owned()), ("method", method.clone())];
                    if let Some(p) = params {
                        members.push(("params", p.clone()));
                    }
                    if let Some(id) = id {
                        members.push(("id", id.clone()));
                        want_ids.push(serde_json::from_str::<Value>(id).unwrap().to_string());
                    }
                    texts.push(object(&members, true));
                }
            }
        }
        let request = format!("[{}]", texts.join(", "));
        let reply = exchange(&Config::new(), request.as_bytes());
        if want_ids.is_empty() {
            prop_assert_eq!(reply, None, "all-notification batch {}", request);
            return Ok(());
        }
        prop_assert!(reply.is_some(), "no reply to {}", request);
        let reply = reply.unwrap();
        let v = parse(&reply)?;
        let items = v.as_array().ok_or_else(|| TestCaseError::fail(format!("batch reply not an array: {reply}")))?;
        prop_assert_eq!(items.len(), want_ids.len(), "{} -> {}", request, reply);
        let mut got_ids: Vec<String> = Vec::new();
        for item in items {
            check_reply_object(item, &reply)?;
            got_ids.push(item["id"].to_string());
        }
        got_ids.sort();
        want_ids.sort();
        prop_assert_eq!(got_ids, want_ids, "{} -> {}", request, reply);
    }

    /// (f) A 1.0 request with any non-null id gets exactly one reply carrying that id (re-spelled
    /// the way Python would, so compared as JSON values).
    #[test]
    fn v1_ids_are_echoed(
        id in json_value().prop_filter("non-null id", |id| id != "null"),
        method in proptest::option::of(prop_oneof![4 => method_name(), 1 => json_value()]),
        params in proptest::option::of(prop_oneof![4 => json_array(), 1 => json_value()]),
        spaced in any::<bool>(),
    ) {
        let mut members = vec![("id", id.clone())];
        if let Some(m) = method {
            members.push(("method", m));
        }
        if let Some(p) = params {
            members.push(("params", p));
        }
        let request = object(&members, spaced);
        let reply = exchange(&Config::new(), request.as_bytes());
        prop_assert!(reply.is_some(), "no reply to {}", request);
        let reply = reply.unwrap();
        let v = parse(&reply)?;
        check_reply_object(&v, &reply)?;
        prop_assert!(v.get("jsonrpc").is_none(), "1.0 request answered in 2.0: {} -> {}", request, reply);
        prop_assert_eq!(&v["id"], &serde_json::from_str::<Value>(&id).unwrap(), "{} -> {}", request, reply);
        prop_assert!(reply.is_ascii(), "1.0 replies are ASCII (json.dumps ensure_ascii): {}", reply);
    }
}

// ---------------------------------------------------------------------------------------------
// (e) Framing.

/// A blocking in-memory duplex whose reads return at most the next of `chunks` bytes (cycling),
/// or as much as fits when `chunks` is empty.
struct Chunked<'a> {
    input: &'a [u8],
    chunks: &'a [usize],
    next: usize,
    output: Vec<u8>,
}

impl embedded_io::ErrorType for Chunked<'_> {
    type Error = Infallible;
}

impl embedded_io::Read for Chunked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        let limit = match self.chunks {
            [] => usize::MAX,
            c => {
                self.next += 1;
                c[(self.next - 1) % c.len()]
            }
        };
        let n = limit.min(buf.len()).min(self.input.len());
        let (head, tail) = self.input.split_at(n);
        buf[..n].copy_from_slice(head);
        self.input = tail;
        Ok(n)
    }
}

impl embedded_io::Write for Chunked<'_> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        self.output.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

/// Receive buffer of the framing property: requests up to this long are served normally.
const RX: usize = 512;

fn serve(input: &[u8], chunks: &[usize], tx_len: usize, scratch_len: usize) -> Vec<u8> {
    let mut io = Chunked { input, chunks, next: 0, output: Vec::new() };
    let mut rx = vec![0u8; RX];
    let mut scratch = vec![0u8; scratch_len];
    let mut tx = vec![0u8; tx_len];
    let bufs = Buffers { rx: &mut rx, scratch: &mut scratch, tx: &mut tx };
    let info = RpcInfo::new(Transport::Serial);
    reflex::io::serve(&DEMO, &Config::new(), &mut io, bufs, &info).expect("in-memory I/O cannot fail");
    io.output
}

/// One line of the framing property's input (without its terminator).
fn line() -> impl Strategy<Value = String> {
    let method_name = || method_name_from(stateless_methods());
    let v2 = (v2_id(), method_name(), proptest::option::of(structured_params())).prop_map(|(id, m, p)| {
        let mut members = vec![("jsonrpc", "\"2.0\"".to_owned()), ("method", m), ("id", id)];
        if let Some(p) = p {
            members.push(("params", p));
        }
        object(&members, false)
    });
    let v2_notification = (method_name(), structured_params())
        .prop_map(|(m, p)| object(&[("jsonrpc", "\"2.0\"".to_owned()), ("method", m), ("params", p)], false));
    let v1 = (json_value(), method_name(), json_array())
        .prop_map(|(id, m, p)| object(&[("method", m), ("params", p), ("id", id)], true));
    // Strings with escapes make the engine unescape into the receive buffer's free tail.
    let escaped_echo = json_string().prop_map(|s| format!("{{\"method\": \"echo\", \"params\": [{s}], \"id\": 1}}"));
    let junk = "[ -~]{0,40}".prop_map(|s| s.to_owned());
    let blank = select(vec!["", " ", " \t "]).prop_map(str::to_owned);
    prop_oneof![4 => v2, 2 => v2_notification, 3 => v1, 2 => escaped_echo, 1 => junk, 1 => blank]
        .prop_filter("fits the receive buffer", |l| l.len() < RX / 2)
}

proptest! {
    #![proptest_config(cases())]

    /// (e) The same requests give the same bytes out whether they arrive all at once or in
    /// chunks of random sizes (whatever the scratch size), and with a scratch as large as the
    /// receive buffer those bytes are each request's in-process reply plus CRLF.
    #[test]
    fn framing_is_independent_of_chunking(
        lines in vec((line(), any::<bool>()), 1..8),
        chunks in vec(1usize..=64, 1..8),
        tx_len in prop_oneof![Just(0usize), 1usize..64, Just(4096)],
        scratch_len in prop_oneof![3 => Just(RX), 1 => 0usize..16],
    ) {
        let mut input = Vec::new();
        let mut expected = Vec::new();
        for (text, crlf) in &lines {
            input.extend_from_slice(text.as_bytes());
            input.extend_from_slice(if *crlf { b"\r\n" } else { b"\n" });
            if text.trim_matches([' ', '\t']).is_empty() {
                continue;
            }
            if let Some(reply) = exchange(&Config::new(), text.as_bytes()) {
                expected.extend_from_slice(reply.as_bytes());
                expected.extend_from_slice(b"\r\n");
            }
        }
        let whole = serve(&input, &[], tx_len, scratch_len);
        let chunked = serve(&input, &chunks, tx_len, scratch_len);
        prop_assert_eq!(
            String::from_utf8_lossy(&chunked),
            String::from_utf8_lossy(&whole),
            "chunks {:?} of {:?}",
            chunks,
            String::from_utf8_lossy(&input)
        );
        if scratch_len < RX {
            return Ok(());
        }
        prop_assert_eq!(
            String::from_utf8_lossy(&whole),
            String::from_utf8_lossy(&expected),
            "input {:?}",
            String::from_utf8_lossy(&input)
        );
    }

    /// (e') Overlong lines get one error each and the stream resynchronises, however chunked:
    /// the size error for a line that could still be JSON, a parse error for one whose
    /// beginning already cannot be.
    #[test]
    fn overlong_lines_resynchronise(
        n in RX..3 * RX,
        json_like in any::<bool>(),
        chunks in vec(1usize..=200, 1..6),
    ) {
        let long = if json_like { format!("[\"{}\"]", "x".repeat(n)) } else { "x".repeat(n) };
        let code = if json_like { -32600 } else { -32700 };
        let tail = r#"{"jsonrpc":"2.0","method":"get_data","id":2}"#;
        let input = format!("{long}\r\n{tail}\n{long}\n{tail}\r\n");
        let whole = serve(input.as_bytes(), &[], 64, RX);
        let chunked = serve(input.as_bytes(), &chunks, 64, RX);
        prop_assert_eq!(&chunked, &whole);
        let text = String::from_utf8(whole).unwrap();
        let lines: Vec<&str> = text.split_terminator("\r\n").collect();
        prop_assert_eq!(lines.len(), 4, "{}", text);
        for (i, l) in lines.iter().enumerate() {
            let v = parse(l)?;
            if i % 2 == 0 {
                prop_assert_eq!(&v["error"]["code"], code, "{}", l);
                prop_assert_eq!(&v["id"], &Value::Null, "{}", l);
            } else {
                prop_assert_eq!(&v["result"], &serde_json::json!(["hello", 5]), "{}", l);
            }
        }
    }
}

/// Pipelined requests do not take scratch memory from each other: a request with escaped
/// strings gets the same reply whether the receive buffer also holds the next requests.
#[test]
fn pipelined_requests_with_escapes() {
    let first = r#"{"method": "echo", "params": ["h\u00e9llo \u2603 \n"], "id": 1}"#;
    // Long enough that the first read fills the receive buffer past the first line.
    let rest =
        format!(r#"{{"jsonrpc":"2.0","method":"echo","params":["\u0041\u0042{}"],"id":2}}"#, "x".repeat(RX - 150));
    let input = format!("{first}\n{rest}\r\n{first}\n");
    let want = format!(
        "{}\r\n{}\r\n{}\r\n",
        exchange(&Config::new(), first.as_bytes()).unwrap(),
        exchange(&Config::new(), rest.as_bytes()).unwrap(),
        exchange(&Config::new(), first.as_bytes()).unwrap()
    );
    assert!(want.contains(r#""result": "h\u00e9llo \u2603 \n""#), "{want}");
    assert!(want.contains(r#""result":"ABxxx"#), "{want}");
    for chunks in [&[][..], &[1][..], &[7, 100][..]] {
        let got = serve(input.as_bytes(), chunks, 16, RX);
        assert_eq!(String::from_utf8_lossy(&got), want, "chunks {chunks:?}");
    }
}

/// A scratch too small for a request's escaped strings gives an `Invalid params` error (not
/// an internal one) in both dialects; strings without escapes need no scratch at all.
#[test]
fn scratch_exhaustion_is_a_param_error() {
    let ask = |request: &str, scratch_len: usize| {
        let mut scratch = vec![0u8; scratch_len];
        let mut out = vec![0u8; 4096];
        let info = RpcInfo::new(Transport::InProcess);
        let n = reflex::io::handle_to_slice(&DEMO, &Config::new(), request.as_bytes(), &mut scratch, &info, &mut out)
            .expect("fits");
        serde_json::from_slice::<Value>(&out[..n]).expect("valid JSON")
    };
    let v2 = r#"{"jsonrpc":"2.0","method":"echo","params":["\u00e9\u00e9\u00e9\u00e9"],"id":1}"#;
    let v = ask(v2, 4);
    assert_eq!(v["error"]["code"], -32602, "{v}");
    assert_eq!(v["error"]["data"]["name"], "ParamError", "{v}");
    assert_eq!(ask(v2, 8)["result"], "\u{e9}\u{e9}\u{e9}\u{e9}");
    let v1 = r#"{"method": "echo", "params": ["\n\n"], "id": 1}"#;
    let v = ask(v1, 1);
    assert_eq!(v["error"]["name"], "ParamError", "{v}");
    assert_eq!(ask(v1, 2)["result"], "\n\n");
    let plain = r#"{"jsonrpc":"2.0","method":"echo","params":["no escapes here"],"id":1}"#;
    assert_eq!(ask(plain, 0)["result"], "no escapes here");
}
