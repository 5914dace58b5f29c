//! `reflex conform`, the real binary: every vector passes against `reflex serve` over TCP, a
//! Unix socket and HTTP; the generic vectors pass against a small JSON-RPC 2.0 server that is
//! not reflex; a server that answers notifications makes the run fail (exit 1) and names the
//! case; `--filter`, `--vectors` and the usage errors.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};

mod support;

use support::fake::line_server;
use support::{reflex_command, reflex_run, temp_dir, Run, Serve};

/// The bound on one run of the whole suite, which takes a second or two: generous, for a
/// machine busy with other builds.
const CONFORM_WAIT: Duration = Duration::from_secs(120);

// ---------------------------------------------------------------------------------------------
// The vectors, counted independently of the binary.

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors")
}

/// Whether a case runs with `--generic`: no `requires`, and (in the spec examples' format) no
/// method other than ones that must not exist.
fn is_generic(case: &Value) -> bool {
    if case.get("requires").is_some() {
        return false;
    }
    match case.get("requires_methods").and_then(Value::as_object) {
        Some(methods) => methods.values().all(|v| v.as_str().is_some_and(|s| s.contains("must NOT exist"))),
        None => true,
    }
}

/// (all cases, generic cases) in the vector files.
fn case_counts() -> (usize, usize) {
    let mut all = 0;
    let mut generic = 0;
    for entry in std::fs::read_dir(vectors_dir()).expect("tests/vectors") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|x| x == "json") {
            let text = std::fs::read_to_string(&path).expect("read vectors");
            let cases: Vec<Value> =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: not plain JSON: {e}", path.display()));
            all += cases.len();
            generic += cases.iter().filter(|c| is_generic(c)).count();
        }
    }
    (all, generic)
}

// ---------------------------------------------------------------------------------------------
// Running things.

/// Runs `reflex conform ARGS` to completion.
fn conform(args: &[&str]) -> Run {
    let mut cmd = reflex_command(&["conform"]);
    cmd.args(args).args(["--timeout", "5"]);
    reflex_run(&mut cmd, "", CONFORM_WAIT)
}

fn last_line(out: &Run) -> String {
    out.stdout.lines().last().unwrap_or_default().to_string()
}

fn explain(out: &Run) -> String {
    format!("exit {:?}\n--- stdout\n{}\n--- stderr\n{}", out.status.code(), out.stdout, out.stderr)
}

// ---------------------------------------------------------------------------------------------
// A JSON-RPC 2.0 server that is not reflex: line-delimited over TCP, serde_json, no methods.

/// What the little server does wrong, if anything.
#[derive(Clone, Copy, PartialEq)]
enum Flaw {
    None,
    /// Answers notifications with -32601.
    AnswersNotifications,
}

fn error(code: i64, message: &str, id: Value) -> Value {
    // Messages spelled differently from the spec: `--generic` compares codes only.
    json!({"jsonrpc": "2.0", "error": {"code": code, "message": message}, "id": id})
}

/// The reply to one element (or a whole non-batch request).
fn answer(request: &Value, flaw: Flaw) -> Option<Value> {
    let Some(o) = request.as_object() else {
        return Some(error(-32600, "Invalid request", Value::Null));
    };
    let id = o.get("id");
    if !id.is_none_or(|id| id.is_string() || id.is_number() || id.is_null()) {
        return Some(error(-32600, "Invalid request", Value::Null));
    }
    let reply_id = id.cloned().unwrap_or(Value::Null);
    let valid = o.get("jsonrpc") == Some(&json!("2.0"))
        && o.get("method").is_some_and(Value::is_string)
        && o.get("params").is_none_or(|p| p.is_array() || p.is_object());
    if !valid {
        return Some(error(-32600, "Invalid request", reply_id));
    }
    if id.is_none() && flaw != Flaw::AnswersNotifications {
        return None;
    }
    Some(error(-32601, "No such method", reply_id))
}

fn handle(text: &[u8], flaw: Flaw) -> Option<Value> {
    match serde_json::from_slice::<Value>(text) {
        Err(_) => Some(error(-32700, "Parse error.", Value::Null)),
        Ok(Value::Array(items)) if items.is_empty() => Some(error(-32600, "Invalid request", Value::Null)),
        Ok(Value::Array(items)) => {
            let replies: Vec<Value> = items.iter().filter_map(|i| answer(i, flaw)).collect();
            (!replies.is_empty()).then_some(Value::Array(replies))
        }
        Ok(single) => answer(&single, flaw),
    }
}

/// Starts the little server on a free port; returns its `tcp://` URL. It lives as long as the
/// test process.
fn foreign_server(flaw: Flaw) -> String {
    line_server(move |line| handle(line, flaw).map(|reply| reply.to_string()))
}

// ---------------------------------------------------------------------------------------------
// Tests.

#[test]
fn every_case_passes_against_reflex_serve_over_tcp_unix_and_http() {
    let (all, _) = case_counts();
    assert!(all >= 120, "only {all} cases");
    let dir = temp_dir("conform-serve");
    let unix = format!("unix://{}", dir.join("reflex.sock").display());
    let serve = Serve::start_on(&["tcp://127.0.0.1:0", &unix, "http://127.0.0.1:0/rpc"]);
    let want = format!("{all} passed, 0 failed");
    for scheme in ["tcp", "unix", "http"] {
        let url = serve.endpoint(scheme);
        let out = conform(&[url]);
        assert_eq!(out.status.code(), Some(0), "{scheme}: {}", explain(&out));
        assert_eq!(last_line(&out), want, "{scheme}: {}", explain(&out));
        // Not a terminal and not --verbose: nothing but the summary.
        assert_eq!(out.stdout.lines().count(), 1, "{scheme}: {}", explain(&out));
    }
    // --verbose: one ✓ line per case.
    let out = conform(&[serve.endpoint("tcp"), "--verbose"]);
    assert_eq!(out.status.code(), Some(0), "{}", explain(&out));
    let ticks = out.stdout.lines().filter(|l| l.starts_with("✓ ")).count();
    assert_eq!(ticks, all, "{}", explain(&out));
    assert!(out.stdout.contains("✓ jsonrpc2-edge: id byte for byte: beyond double range 1e400"), "{}", explain(&out));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn generic_cases_pass_against_a_server_that_is_not_reflex() {
    let (all, generic) = case_counts();
    let url = foreign_server(Flaw::None);
    let out = conform(&[&url, "--generic"]);
    assert_eq!(out.status.code(), Some(0), "{}", explain(&out));
    assert_eq!(last_line(&out), format!("{generic} passed, 0 failed, {} skipped", all - generic), "{}", explain(&out));
    // Without --generic the demo cases fail, and the error messages are compared exactly.
    let out = conform(&[&url, "--filter", "spec-examples: non-existent method"]);
    assert_eq!(out.status.code(), Some(1), "{}", explain(&out));
    assert!(out.stdout.contains("$.error.message"), "{}", explain(&out));
}

#[test]
fn a_server_that_answers_notifications_fails_and_the_case_is_named() {
    let url = foreign_server(Flaw::AnswersNotifications);
    let out = conform(&[&url, "--generic"]);
    assert_eq!(out.status.code(), Some(1), "{}", explain(&out));
    let text = &out.stdout;
    assert!(text.contains("✗ jsonrpc2-edge: notification of an unknown method\n"), "{}", explain(&out));
    assert!(text.contains("✗ jsonrpc2-spec-examples: notification #2 (foobar, method does not exist)"), "{text}");
    assert!(text.contains("a reply came, but none is allowed"), "{text}");
    assert!(!text.contains("✓ "), "only failures are listed when stdout is not a terminal: {text}");
    let summary = last_line(&out);
    let failed: usize = summary
        .split(", ")
        .nth(1)
        .and_then(|s| s.strip_suffix(" failed"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("summary {summary:?}"));
    assert!(failed >= 5, "{summary}");
}

#[test]
fn filter_vectors_dir_and_usage_errors() {
    let serve = Serve::start();
    let url = serve.endpoint("tcp");

    // --filter matches names and categories, case-insensitively.
    let out = conform(&[url, "--filter", "BYTE FOR BYTE"]);
    assert_eq!(out.status.code(), Some(0), "{}", explain(&out));
    assert_eq!(last_line(&out), "13 passed, 0 failed");

    // --vectors DIR: only that folder's files; a failing case is reported in full.
    let dir = temp_dir("conform-vectors");
    let mut file = std::fs::File::create(dir.join("mine.json")).expect("create");
    file.write_all(
        br#"[
  {"name": "add", "category": "mine", "version": "2.0",
   "request": "{\"jsonrpc\":\"2.0\",\"method\":\"add\",\"params\":[1,2],\"id\":1}",
   "expected": {"jsonrpc": "2.0", "result": 3, "id": 1}, "requires": "demo"},
  {"name": "wrong on purpose", "category": "mine", "version": "2.0",
   "request": "{\"jsonrpc\":\"2.0\",\"method\":\"add\",\"params\":[1,2],\"id\":1}",
   "expected": {"jsonrpc": "2.0", "result": 4, "id": 1}, "requires": "demo"},
  {"name": "raw bytes", "category": "mine", "version": "any", "request_hex": "ff 0a", "error_code": -32700}
]"#,
    )
    .expect("write");
    let out = conform(&[url, "--vectors", dir.to_str().expect("utf-8 path")]);
    let text = &out.stdout;
    assert_eq!(out.status.code(), Some(1), "{}", explain(&out));
    assert!(text.contains("✗ mine: wrong on purpose"), "{text}");
    assert!(text.contains("actual:   {\"jsonrpc\":\"2.0\",\"result\":3,\"id\":1}"), "{text}");
    assert!(text.contains("reason:   $.result: expected 4, got 3"), "{text}");
    // The newline inside the hex request cannot go over a line transport.
    assert!(text.contains("✗ mine: raw bytes"), "{text}");
    assert_eq!(last_line(&out), "1 passed, 2 failed");

    // Usage and connection problems: exit 2.
    let mut bad = std::fs::File::create(dir.join("zz-bad.json")).expect("create");
    bad.write_all(br#"[{"name": "no expectation", "category": "x", "version": "2.0", "request": "1"}]"#)
        .expect("write");
    let out = conform(&[url, "--vectors", dir.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(2), "{}", explain(&out));
    assert!(out.stderr.contains("zz-bad.json"), "{}", explain(&out));
    let out = conform(&[url, "--filter", "no such case anywhere"]);
    assert_eq!(out.status.code(), Some(2), "{}", explain(&out));
    // A port nobody listens on (bound and released).
    let free = TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address");
    let out = conform(&[&format!("tcp://{free}")]);
    assert_eq!(out.status.code(), Some(2), "{}", explain(&out));
    assert!(out.stderr.contains("cannot reach"), "{}", explain(&out));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn vectors_are_plain_json_with_unique_names() {
    for entry in std::fs::read_dir(vectors_dir()).expect("tests/vectors") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let mut text = String::new();
        std::fs::File::open(&path).expect("open").read_to_string(&mut text).expect("read");
        let cases: Vec<Value> = serde_json::from_str(&text).expect("plain JSON");
        let mut names: Vec<&str> = cases.iter().map(|c| c["name"].as_str().expect("a name")).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(names.len(), before, "{}: duplicate names", path.display());
    }
}
