//! `reflex shell`, the real binary: scripted through stdin against a `reflex serve` child and
//! against a server that does not describe itself, and interactively on a terminal (tmux):
//! Tab completion, history across sessions, colours.

use std::net::TcpListener;
use std::sync::mpsc;

use serde_json::{json, Value};

mod support;

use support::fake::line_server;
use support::tmux::{quote, Tmux};
use support::{reflex, temp_dir, Run, Serve, WAIT};

fn shell(url: &str, script: &str) -> Run {
    reflex(&["shell", url, "--no-history"], script)
}

fn assert_contains(haystack: &str, needle: &str) {
    assert!(haystack.contains(needle), "expected {needle:?} in:\n{haystack}");
}

const ADDRESS: &str = r#"{"firstname": "Ada", "lastname": "Lovelace", "street1": "12 St James's Square", "street2": "", "zipcode": "SW1", "city": "London"}"#;

#[test]
fn scripted_session_covers_every_command() {
    let serve = Serve::start();
    let script = format!(
        "# a comment, then an empty line: both do nothing\n\
         \n\
         list\n\
         list led\n\
         doc add\n\
         doc enum_echo\n\
         types\n\
         type PhoneType\n\
         type Address\n\
         call add 1 2\n\
         exec echo \"a b\"\n\
         call hash_echo {ADDRESS}\n\
         notify counter.increment\n\
         call counter.get\n\
         raw {{\"jsonrpc\": \"2.0\", \"method\": \"add\", \"params\": [20, 22], \"id\": 99}}\n\
         batch\n\
         add 1 2\n\
         notify notify_hello 7\n\
         echo \"hi\"\n\
         error.user\n\
         \n\
         call subtract minuend=42 subtrahend=23\n\
         call add 1 x\n\
         frobnicate\n\
         call error.user\n\
         doc nope\n\
         type Nope\n\
         help\n\
         help batch\n\
         quit\n\
         call add 5 5\n"
    );
    let run = shell(&serve.url, &script);
    let out = &run.stdout;
    let err = &run.stderr;
    // Some commands failed on purpose: a script reports that in its exit status.
    assert_eq!(run.code(), 1, "{run:?}");
    assert!(!out.contains('\x1b') && !err.contains('\x1b'), "no colours into pipes");
    assert!(!out.contains("reflex>"), "no prompts when scripted");

    // list: one line per function.
    assert!(out.starts_with("echo(message) -> string\nadd(a, b) -> int\n"), "{out}");
    assert_contains(out, "\nled.set(index, on) -> null\nled.get(index) -> bool\n");
    assert_contains(out, "device.info() -> DeviceInfo\n");
    // list led: only those.
    assert_contains(
        out,
        "fast_operation() -> int\nled.set(index, on) -> null\nled.get(index) -> bool\nadd(a: int, b: int)",
    );
    // doc
    assert_contains(
        out,
        "add(a: int, b: int) -> int\n  Adds two integers.\n  Parameters:\n    a  int  the first summand\n    b  int  the second summand\n  Result: int - the sum (an OverflowError if it does not fit in 64 bits)\n",
    );
    assert_contains(out, "enum_echo(phone_type: PhoneType) -> int\n");
    assert_contains(out, "    phone_type  PhoneType  a phone type, by name or by value\n");
    assert_contains(out, "  See `type PhoneType`.\n");
    // types, type
    assert_contains(out, "PhoneType   enum  ");
    assert_contains(out, "Address     hash  ");
    assert_contains(out, "enum PhoneType: ");
    assert_contains(out, "\n  0  HOME    ");
    assert_contains(out, "\n  2  MOBILE  ");
    assert_contains(out, "hash Address: ");
    assert_contains(out, "\n  firstname  string  ");
    // call, exec, named hash, notify, raw
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.contains(&"3"), "{out}");
    assert!(lines.contains(&"\"a b\""), "{out}");
    let address: Value = serde_json::from_str(ADDRESS).unwrap();
    assert!(lines.iter().any(|l| serde_json::from_str::<Value>(l).ok() == Some(address.clone())), "{out}");
    assert!(lines.contains(&"1"), "the notification was executed: {out}");
    assert_contains(out, "\n{\"jsonrpc\":\"2.0\",\"result\":42,\"id\":99}\n");
    // batch: every result, in order.
    assert_contains(
        out,
        "[1] add: 3\n[2] notify_hello: (notification, no reply)\n[3] echo: \"hi\"\n[4] error.user: error: UserError (-32000): This error was raised on purpose\n",
    );
    // named arguments
    assert!(lines.contains(&"19"), "{out}");
    // errors, each one line on stderr
    assert_contains(err, "error: invalid JSON in argument 2 (x): expected value at column 1");
    assert_contains(err, "error: unknown command `frobnicate`");
    assert_contains(err, "error: UserError (-32000): This error was raised on purpose\n");
    assert_contains(err, "error: unknown function `nope`");
    assert_contains(err, "error: unknown type `Nope`");
    // help
    assert_contains(out, "Commands:\n");
    assert_contains(out, "  call FUNC [ARG...]");
    assert_contains(out, "Enter one call per line");
    // quit stops reading
    assert!(!lines.contains(&"10"), "nothing runs after quit: {out}");
}

#[test]
fn a_clean_script_exits_0_at_end_of_input() {
    let serve = Serve::start();
    let run = shell(&serve.url, "call add 1 2\r\ncall echo \"x y\"\n\ncall get_data\n");
    assert_eq!(run.code(), 0, "{run:?}");
    assert_eq!(run.stdout, "3\n\"x y\"\n[\"hello\",5]\n");
    assert_eq!(run.stderr, "");
    // --pretty indents even into a pipe.
    let run = reflex(&["shell", &serve.url, "--no-history", "--pretty"], "call get_data\n");
    assert_eq!(run.stdout, "[\n  \"hello\",\n  5\n]\n");
    // An unreachable endpoint: exit 2 before reading anything.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let run = shell(&format!("tcp://127.0.0.1:{port}"), "call add 1 2\n");
    assert_eq!(run.code(), 2, "{run:?}");
    assert_contains(&run.stderr, "cannot connect");
}

#[test]
fn batches_need_json_rpc_2() {
    let serve = Serve::start();
    let run = reflex(&["shell", &serve.url, "--v1", "--no-history"], "call echo \"v1\"\nbatch\nadd 1 2\n\n");
    assert_eq!(run.code(), 1, "{run:?}");
    assert_contains(&run.stdout, "\"v1\"\n");
    assert_contains(&run.stderr, "batches need JSON-RPC 2.0");
}

/// A line server that does not describe itself: `__describe_*` get "Method not found",
/// every other call gets 42; the methods of notifications are sent to the channel.
fn undescribed_server() -> (String, mpsc::Receiver<String>) {
    let (notified, rx) = mpsc::channel();
    let url = line_server(move |line| {
        let request = serde_json::from_slice::<Value>(line).ok()?;
        let reply = match &request {
            Value::Array(batch) => {
                let replies: Vec<Value> = batch.iter().filter_map(|r| answer(r, &notified)).collect();
                (!replies.is_empty()).then_some(Value::Array(replies))
            }
            single => answer(single, &notified),
        };
        reply.map(|reply| reply.to_string())
    });
    (url, rx)
}

fn answer(request: &Value, notified: &mpsc::Sender<String>) -> Option<Value> {
    let method = request["method"].as_str().unwrap_or_default().to_string();
    let Some(id) = request.get("id").cloned() else {
        let _ = notified.send(method);
        return None;
    };
    Some(if method.starts_with("__describe") {
        json!({"jsonrpc": "2.0", "error": {"code": -32601, "message": "Method not found"}, "id": id})
    } else {
        json!({"jsonrpc": "2.0", "result": 42, "id": id})
    })
}

#[test]
fn works_with_a_server_that_does_not_describe_itself() {
    let (url, notified) = undescribed_server();
    let run =
        shell(&url, "list\ntypes\ncall anything 1 2\nexec whatever\nnotify poke \"x\"\nbatch\nfirst\nsecond 1\n\n");
    assert_eq!(run.code(), 0, "{run:?}");
    assert_eq!(run.stdout, "42\n42\n[1] first: 42\n[2] second: 42\n", "{run:?}");
    assert_contains(&run.stderr, "does not describe itself");
    assert_contains(&run.stderr, "Method not found");
    assert_contains(&run.stderr, "No functions known");
    assert_eq!(notified.recv_timeout(WAIT).as_deref(), Ok("poke"));

    // doc and type cannot answer: failures, with the reason.
    let run = shell(&url, "doc add\ntype PhoneType\n");
    assert_eq!(run.code(), 1, "{run:?}");
    assert_contains(&run.stderr, "error: nothing is known about `add`: the service does not describe itself");
}

// ------------------------------------------------------------------------------ tmux -------

fn shell_command(url: &str, extra: &str) -> String {
    format!("env -u NO_COLOR {} shell {url} {extra}", quote(env!("CARGO_BIN_EXE_reflex")))
}

#[test]
fn terminal_tab_completion_of_functions_and_types() {
    let serve = Serve::start();
    let Some(tmux) = Tmux::start(&shell_command(&serve.url, "--no-history")) else { return };
    let intro = tmux.wait_for("reflex>");
    assert_contains(&intro, "reflex demo device 1.0.0");
    assert_contains(&intro, &format!("endpoint: {} (JSON-RPC 2.0)", serve.url));
    assert_contains(&intro, "Type help for the commands");

    // A function name after `call`, with the parameters as a hint.
    tmux.type_text("call hash_");
    tmux.press("Tab");
    let screen = tmux.wait_for("reflex> call hash_echo <address: Address>");
    assert!(!screen.contains("hash_echo_"), "{screen}");
    tmux.type_text(ADDRESS);
    tmux.press("Enter");
    tmux.wait_for("\"city\": \"London\"");

    // A function name with a dot.
    tmux.type_text("exec led.g");
    tmux.press("Tab");
    tmux.type_text("2");
    tmux.press("Enter");
    tmux.wait_for("reflex> exec led.get 2\nfalse");

    // A type name after `type`.
    tmux.type_text("type Pho");
    tmux.press("Tab");
    tmux.press("Enter");
    tmux.wait_for("reflex> type PhoneType\nenum PhoneType");
    tmux.wait_for("  3  FAX");

    // A command name.
    tmux.type_text("he");
    tmux.press("Tab");
    tmux.press("Enter");
    tmux.wait_for("Commands:");

    // Ctrl-D leaves with status 0.
    tmux.press("C-d");
    tmux.wait_for("[exit 0]");
}

#[test]
fn terminal_history_survives_a_restart() {
    let serve = Serve::start();
    let history = temp_dir("shell-history").join("history");
    let command = shell_command(&serve.url, &format!("--history {}", quote(&history.display().to_string())));
    {
        let Some(tmux) = Tmux::start(&command) else { return };
        tmux.wait_for("reflex>");
        tmux.type_text("call add 40 2");
        tmux.press("Enter");
        tmux.wait_for("\n42\n");
        tmux.type_text("quit");
        tmux.press("Enter");
        tmux.wait_for("[exit 0]");
    }
    let saved = std::fs::read_to_string(&history).expect("the history file was written");
    assert_contains(&saved, "call add 40 2");

    let Some(tmux) = Tmux::start(&command) else { return };
    tmux.wait_for("reflex>");
    tmux.press("Up");
    tmux.press("Up");
    tmux.wait_for("reflex> call add 40 2");
    tmux.press("Enter");
    tmux.wait_for("\n42\n");
    tmux.press("C-d");
    tmux.wait_for("[exit 0]");
    let _ = std::fs::remove_dir_all(history.parent().expect("dir"));
}

#[test]
fn terminal_colours_follow_color_and_no_color() {
    let serve = Serve::start();
    let bin = quote(env!("CARGO_BIN_EXE_reflex"));
    let coloured = |command: String| -> String {
        let Some(tmux) = Tmux::start(&command) else { return String::new() };
        tmux.wait_for("reflex>");
        tmux.type_text("call device.info");
        tmux.press("Enter");
        tmux.wait_for("\"model\": \"host\"");
        tmux.type_text("call nope");
        tmux.press("Enter");
        tmux.wait_for("Method not found");
        tmux.screen(true)
    };
    // --color always: coloured JSON (green strings), bold red errors.
    let screen = coloured(format!("env NO_COLOR=1 {bin} shell {} --no-history --color always", serve.url));
    if screen.is_empty() {
        return; // no tmux
    }
    assert!(screen.contains("\x1b[32m\"host\""), "{screen:?}");
    assert!(screen.contains("\x1b[31m\x1b[49merror:") || screen.contains("\x1b[31merror:"), "{screen:?}");
    assert!(screen.contains("\x1b[32mreflex> "), "a green prompt: {screen:?}");
    // auto on a terminal: coloured too.
    let screen = coloured(shell_command(&serve.url, "--no-history"));
    assert!(screen.contains("\x1b[32m\"host\""), "{screen:?}");
    // NO_COLOR: none at all, and --color never likewise.
    let screen = coloured(format!("env NO_COLOR=1 {bin} shell {} --no-history", serve.url));
    assert!(!screen.contains('\x1b'), "{screen:?}");
    let screen = coloured(shell_command(&serve.url, "--no-history --color never"));
    assert!(!screen.contains('\x1b'), "{screen:?}");
}
