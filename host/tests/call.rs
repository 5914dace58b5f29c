//! `reflex call`, the real binary, against a `reflex serve` child: results on stdout (exit 0),
//! RPC errors on stderr (exit 1), usage and connection problems (exit 2), notifications,
//! JSON-RPC 1.0, raw requests and named parameters.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

mod support;

use support::{reflex, Run, Serve, WAIT};

fn call(url: &str, rest: &[&str]) -> Run {
    let mut args = vec!["call", url];
    args.extend_from_slice(rest);
    reflex(&args, "")
}

/// A successful call's stdout, as JSON.
fn ok(run: &Run) -> Value {
    assert_eq!(run.code(), 0, "{run:?}");
    assert!(run.stdout.ends_with('\n') && run.stdout.lines().count() == 1, "compact, one line: {run:?}");
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {run:?}"))
}

#[test]
fn prints_results_as_json_and_exits_0() {
    let serve = Serve::start();
    let url = serve.url.as_str();
    assert_eq!(call(url, &["add", "1", "2"]).stdout, "3\n");
    assert_eq!(ok(&call(url, &["add", "-1", "-5"])), json!(-6));
    assert_eq!(ok(&call(url, &["echo", "\"a b\""])), json!("a b"));
    assert_eq!(ok(&call(url, &["echo_ints", "[1, 2, 3]"])), json!([1, 2, 3]));
    let address = json!({"firstname": "Ada", "lastname": "L", "street1": "1 Road", "street2": "", "zipcode": "N1", "city": "London"});
    assert_eq!(ok(&call(url, &["hash_echo", &address.to_string()])), address);
    assert_eq!(ok(&call(url, &["enum_echo", "\"MOBILE\""])), json!(2));
    assert_eq!(ok(&call(url, &["led.set", "1", "true"])), Value::Null);
    assert_eq!(ok(&call(url, &["led.get", "1"])), json!(true));

    // A pipe gets compact JSON unless --pretty; no colour unless --color always.
    let info = ok(&call(url, &["device.info"]));
    assert_eq!(info["led_count"], 4);
    let pretty = call(url, &["device.info", "--pretty"]);
    assert_eq!(pretty.code(), 0);
    assert!(pretty.stdout.starts_with("{\n  \"") && pretty.stdout.lines().count() > 3, "{pretty:?}");
    assert!(!pretty.stdout.contains('\x1b'));
    let coloured = call(url, &["device.info", "--color", "always"]);
    assert!(coloured.stdout.contains("\x1b[32m\"host\"\x1b[0m"), "{coloured:?}");
    let never = call(url, &["device.info", "--color", "never", "--compact"]);
    assert!(!never.stdout.contains('\x1b'), "{never:?}");
    assert_eq!(ok(&never)["model"], "host");
}

#[test]
fn rpc_errors_go_to_stderr_with_exit_1() {
    let serve = Serve::start();
    let run = call(&serve.url, &["error.user"]);
    assert_eq!(run.code(), 1, "{run:?}");
    assert_eq!(run.stdout, "");
    assert_eq!(run.stderr, "error: UserError (-32000): This error was raised on purpose\n");

    let run = call(&serve.url, &["no.such.method"]);
    assert_eq!(run.code(), 1, "{run:?}");
    assert!(run.stderr.contains("-32601") && run.stderr.contains("Method not found"), "{run:?}");

    // Error data that says more than the name is shown.
    let run = call(&serve.url, &["add", "1", "\"two\""]);
    assert_eq!(run.code(), 1, "{run:?}");
    assert!(run.stderr.starts_with("error: ") && run.stderr.contains("-32602"), "{run:?}");
    assert!(run.stderr.contains("data: ") && run.stderr.contains("'b'"), "{run:?}");
}

#[test]
fn usage_problems_exit_2_and_name_the_argument() {
    let serve = Serve::start();
    let run = call(&serve.url, &["add", "1", "x"]);
    assert_eq!(run.code(), 2, "{run:?}");
    assert_eq!(run.stdout, "");
    assert!(run.stderr.contains("invalid JSON in argument 2 (x)"), "{run:?}");
    assert!(run.stderr.contains(r#"'"x"'"#), "the message says how to quote a string: {run:?}");

    let run = call(&serve.url, &["echo_ints", "[1, 2"]);
    assert_eq!(run.code(), 2, "{run:?}");
    assert!(run.stderr.contains("argument 1 ([1, 2)") && run.stderr.contains("EOF"), "{run:?}");

    // Positional and named parameters do not mix; a bad --named value is named too.
    let run = call(&serve.url, &["subtract", "1", "--named", "minuend=2"]);
    assert_eq!(run.code(), 2, "{run:?}");
    let run = call(&serve.url, &["subtract", "--named", "minuend=forty"]);
    assert_eq!(run.code(), 2, "{run:?}");
    assert!(run.stderr.contains("--named minuend (forty)"), "{run:?}");
    let run = call(&serve.url, &["subtract", "--named", "minuend"]);
    assert_eq!(run.code(), 2, "{run:?}");
    assert!(run.stderr.contains("KEY=JSON"), "{run:?}");

    // Not an endpoint at all.
    let run = call("ftp://127.0.0.1:1", &["add"]);
    assert_eq!(run.code(), 2, "{run:?}");
    assert!(run.stderr.contains("invalid endpoint"), "{run:?}");

    // --raw takes the request only.
    let run = call(&serve.url, &["--raw", "{}", "1"]);
    assert_eq!(run.code(), 2, "{run:?}");
}

#[test]
fn unreachable_and_silent_endpoints_exit_2() {
    // A port nothing listens on: bind one, then free it.
    let port = TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let run = call(&format!("tcp://127.0.0.1:{port}"), &["add", "1", "2"]);
    assert_eq!(run.code(), 2, "{run:?}");
    assert!(run.stderr.starts_with("reflex: cannot connect to tcp://127.0.0.1:"), "{run:?}");

    // A server that accepts but never answers: the timeout ends the wait.
    let silent = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = silent.local_addr().expect("addr");
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in silent.incoming().take(1) {
            held.push(stream);
            std::thread::sleep(WAIT);
        }
    });
    let started = Instant::now();
    let run = call(&format!("tcp://{addr}"), &["add", "1", "2", "--timeout", "0.5"]);
    assert_eq!(run.code(), 2, "{run:?}");
    assert!(run.stderr.contains("no reply within"), "{run:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn notifications_print_nothing() {
    let serve = Serve::start();
    for _ in 0..2 {
        let run = call(&serve.url, &["counter.increment", "--notify"]);
        assert_eq!((run.code(), run.stdout.as_str(), run.stderr.as_str()), (0, "", ""), "{run:?}");
    }
    // Even a failing notification gets no answer, and the call still succeeds.
    let run = call(&serve.url, &["error.user", "--notify"]);
    assert_eq!((run.code(), run.stdout.as_str()), (0, ""), "{run:?}");
    // The notifications were executed, in order, on the same server.
    let mut count = json!(0);
    for _ in 0..50 {
        count = ok(&call(&serve.url, &["counter.get"]));
        if count == json!(2) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(count, json!(2));
}

#[test]
fn speaks_json_rpc_1_with_v1() {
    let serve = Serve::start();
    assert_eq!(ok(&call(&serve.url, &["--v1", "echo", "\"hi\""])), json!("hi"));
    // 1.0 errors have a name and no code (ReflectRPC's shape).
    let run = call(&serve.url, &["--v1", "add", "1", "2.5"]);
    assert_eq!(run.code(), 1, "{run:?}");
    assert!(run.stderr.starts_with("error: TypeError: add: Expected value of type 'int'"), "{run:?}");
    assert!(!run.stderr.contains("(-32"), "{run:?}");
    // The flags exclude each other.
    let run = call(&serve.url, &["--v1", "--v2", "add", "1", "2"]);
    assert_eq!(run.code(), 2, "{run:?}");
}

#[test]
fn raw_requests_print_the_reply_as_received() {
    let serve = Serve::start();
    let run = call(&serve.url, &["--raw", r#"{"jsonrpc":"2.0","method":"add","params":[1,2],"id":7}"#]);
    assert_eq!((run.code(), run.stdout.as_str()), (0, "{\"jsonrpc\":\"2.0\",\"result\":3,\"id\":7}\n"), "{run:?}");

    // 1.0 from stdin, written over several lines.
    let request = "{\n  \"method\": \"echo\",\n  \"params\": [\"hi\"],\n  \"id\": 1\n}\n";
    let run = reflex(&["call", &serve.url, "--raw", "-"], request);
    assert_eq!((run.code(), run.stdout.as_str()), (0, "{\"result\": \"hi\", \"id\": 1, \"error\": null}\n"), "{run:?}");

    // An error reply is printed too, and exits 1; so does a batch holding one.
    let run = call(&serve.url, &["--raw", r#"{"jsonrpc":"2.0","method":"error.user","id":"x"}"#]);
    assert_eq!(run.code(), 1, "{run:?}");
    assert!(run.stdout.contains("\"id\":\"x\"") && run.stdout.contains("UserError"), "{run:?}");
    let batch = r#"[{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1},{"jsonrpc":"2.0","method":"nope","id":2}]"#;
    let run = call(&serve.url, &["--raw", batch]);
    assert_eq!(run.code(), 1, "{run:?}");
    let replies: Value = serde_json::from_str(&run.stdout).expect("a JSON batch reply");
    assert_eq!(replies.as_array().map(Vec::len), Some(2));

    // Text that is not JSON gets the server's parse error.
    let run = call(&serve.url, &["--raw", "this is not json"]);
    assert_eq!(run.code(), 1, "{run:?}");
    assert!(run.stdout.contains("-32700"), "{run:?}");

    // A notification has no reply: nothing printed, success.
    let run = call(&serve.url, &["--raw", r#"{"jsonrpc":"2.0","method":"counter.increment"}"#]);
    assert_eq!((run.code(), run.stdout.as_str()), (0, ""), "{run:?}");
}

#[test]
fn named_parameters() {
    let serve = Serve::start();
    let run = call(&serve.url, &["subtract", "--named", "minuend=42", "--named", "subtrahend=23"]);
    assert_eq!(ok(&run), json!(19));
    let run = call(&serve.url, &["subtract", "--named", "subtrahend=23", "--named", "minuend=42"]);
    assert_eq!(ok(&run), json!(19));
    let run = call(&serve.url, &["echo", "--named", "message=\"by name\""]);
    assert_eq!(ok(&run), json!("by name"));
    let run = call(&serve.url, &["subtract", "--named", "minuend=1", "--named", "minuend=2"]);
    assert_eq!(run.code(), 2, "{run:?}");
    assert!(run.stderr.contains("twice"), "{run:?}");
}
