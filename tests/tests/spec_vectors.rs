//! The 15 examples of the JSON-RPC 2.0 specification (section 7), replayed against the demo
//! service in process (`tests/vectors/jsonrpc2-spec-examples.json`), and once more through
//! the newline framing of `reflex::io::serve`, where "no response" is checked with a
//! follow-up request whose reply must be the first (or only) line out.

use std::convert::Infallible;

use reflex::io::Buffers;
use reflex::{Config, RpcInfo, Transport};
use reflex_tests::{call, vectors_dir, DEMO};
use serde_json::Value;

/// The smallest number of vectors the file must hold: the spec has 15 examples.
const MIN_VECTORS: usize = 15;

/// One vector of the file (only the fields the checks need).
struct Vector {
    name: String,
    request: String,
    request_single_line: String,
    expected: Option<Value>,
    order_insensitive: bool,
}

fn load() -> Vec<Vector> {
    let path = vectors_dir().join("jsonrpc2-spec-examples.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let all: Vec<Value> = serde_json::from_str(&text).expect("the vector file is a JSON array");
    let vectors: Vec<Vector> = all
        .iter()
        .map(|v| {
            let s = |k: &str| v[k].as_str().unwrap_or_else(|| panic!("vector field {k} missing: {v}")).to_owned();
            let b = |k: &str| v[k].as_bool().unwrap_or_else(|| panic!("vector field {k} missing: {v}"));
            let no_response = b("no_response");
            assert_eq!(no_response, v["expected_json"].is_null(), "no_response and expected_json disagree: {v}");
            Vector {
                name: s("name"),
                request: s("request"),
                request_single_line: s("request_single_line"),
                expected: (!no_response).then(|| v["expected_json"].clone()),
                order_insensitive: b("batch_response_order_insensitive"),
            }
        })
        .collect();
    assert!(
        vectors.len() >= MIN_VECTORS,
        "expected at least {MIN_VECTORS} vectors in {}, found {}",
        path.display(),
        vectors.len()
    );
    vectors
}

/// Drops `error.data` (a server MAY add it, spec 5.1) from one reply object.
fn strip_data(v: &mut Value) {
    if let Some(err) = v.get_mut("error").and_then(Value::as_object_mut) {
        err.remove("data");
    }
}

/// The reply in a form that compares as the vector says: `error.data` dropped, batch elements
/// sorted when their order is free.
fn normalize(mut v: Value, order_insensitive: bool) -> Value {
    match &mut v {
        Value::Array(items) => {
            items.iter_mut().for_each(strip_data);
            if order_insensitive {
                items.sort_by_key(|e| e.to_string());
            }
        }
        other => strip_data(other),
    }
    v
}

/// Checks one reply against one vector; `Err` describes the mismatch.
fn verdict(v: &Vector, reply: Option<&str>) -> Result<(), String> {
    match (reply, &v.expected) {
        (None, None) => Ok(()),
        (Some(r), None) => Err(format!("expected no response, got {r}")),
        (None, Some(e)) => Err(format!("expected {e}, got no response")),
        (Some(r), Some(e)) => {
            let got: Value = serde_json::from_str(r).map_err(|err| format!("reply is not JSON ({err}): {r}"))?;
            let (got, want) = (normalize(got, v.order_insensitive), normalize(e.clone(), v.order_insensitive));
            if got == want {
                Ok(())
            } else {
                Err(format!("expected {want}\n      got      {got}\n      raw reply {r}"))
            }
        }
    }
}

#[test]
fn spec_examples_in_process() {
    let vectors = load();
    let mut failures = Vec::new();
    for v in &vectors {
        // The request exactly as the spec prints it (line breaks and indentation included)...
        if let Err(e) = verdict(v, call(&v.request).as_deref()) {
            failures.push(format!("{} (request as printed): {e}", v.name));
        }
        // ...and as one line: whitespace must not change anything.
        if let Err(e) = verdict(v, call(&v.request_single_line).as_deref()) {
            failures.push(format!("{} (single line): {e}", v.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} spec vector checks failed:\n  {}",
        failures.len(),
        2 * vectors.len(),
        failures.join("\n  ")
    );
}

/// A blocking in-memory duplex: reads from a fixed input, appends writes to a vector.
struct Duplex<'a> {
    input: &'a [u8],
    output: Vec<u8>,
}

impl embedded_io::ErrorType for Duplex<'_> {
    type Error = Infallible;
}

impl embedded_io::Read for Duplex<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        let n = buf.len().min(self.input.len());
        let (head, tail) = self.input.split_at(n);
        buf[..n].copy_from_slice(head);
        self.input = tail;
        Ok(n)
    }
}

impl embedded_io::Write for Duplex<'_> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        self.output.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

const FOLLOW_UP: &str = r#"{"jsonrpc":"2.0","method":"get_data","id":"follow-up"}"#;

#[test]
fn spec_examples_over_line_framing() {
    let vectors = load();
    let follow_up: Value = serde_json::from_str(&call(FOLLOW_UP).expect("get_data answers")).unwrap();
    assert_eq!(follow_up["result"], serde_json::json!(["hello", 5]), "{follow_up}");
    let mut failures = Vec::new();
    for (i, v) in vectors.iter().enumerate() {
        // Alternate the terminators: both LF and CRLF end a request.
        let eol = if i % 2 == 0 { "\r\n" } else { "\n" };
        let input = format!("{}{eol}{FOLLOW_UP}{eol}", v.request_single_line);
        let mut io = Duplex { input: input.as_bytes(), output: Vec::new() };
        let (mut rx, mut scratch, mut tx) = ([0u8; 2048], [0u8; 2048], [0u8; 64]);
        let info = RpcInfo::new(Transport::InProcess);
        let bufs = Buffers { rx: &mut rx, scratch: &mut scratch, tx: &mut tx };
        reflex::io::serve(&DEMO, &Config::new(), &mut io, bufs, &info).expect("in-memory I/O cannot fail");
        let out = String::from_utf8(io.output).expect("replies are UTF-8");
        let Some(body) = out.strip_suffix("\r\n") else {
            failures.push(format!("{}: output does not end in CRLF: {out:?}", v.name));
            continue;
        };
        let lines: Vec<&str> = body.split("\r\n").collect();
        let (reply, last) = match lines.as_slice() {
            [last] => (None, *last),
            [reply, last] => (Some(*reply), *last),
            _ => {
                failures.push(format!("{}: expected one or two reply lines, got {out:?}", v.name));
                continue;
            }
        };
        if serde_json::from_str::<Value>(last).ok() != Some(follow_up.clone()) {
            failures.push(format!("{}: the last line is not the follow-up's reply: {out:?}", v.name));
            continue;
        }
        if let Err(e) = verdict(v, reply) {
            failures.push(format!("{}: {e}", v.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} spec vectors failed over line framing:\n  {}",
        failures.len(),
        vectors.len(),
        failures.join("\n  ")
    );
}
