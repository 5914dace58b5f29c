//! `reflex demo`, the real binary: the demo device in-process with the shell on it, scripted
//! through stdin and on a terminal (tmux), reachable by `reflex call` while the shell runs.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod support;

use support::tmux::{quote, Tmux};
use support::{line_channel, temp_dir, Guard, WAIT};

/// Runs `reflex ARGS` with `stdin`; returns the exit code, stdout and stderr.
fn reflex(args: &[&str], stdin: &str) -> (i32, String, String) {
    let run = support::reflex(args, stdin);
    (run.code(), run.stdout, run.stderr)
}

#[test]
fn one_command_from_stdin() {
    let (code, stdout, stderr) = reflex(&["demo"], "call add 2 3\ndoc add\nquit\n");
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("5\nadd(a: int, b: int) -> int\n"), "{stdout}");
    assert!(stderr.starts_with("reflex demo: the demo device runs in this process, at tcp://127.0.0.1:"), "{stderr}");
    assert!(stderr.contains(" while this shell is open\n"), "{stderr}");
}

#[test]
fn reachable_by_reflex_call_while_the_shell_runs() {
    let mut demo = Guard(
        Command::new(env!("CARGO_BIN_EXE_reflex"))
            .arg("demo")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start reflex demo"),
    );
    let stderr = line_channel(demo.stderr.take().expect("stderr"));
    let mut stdin = demo.stdin.take().expect("stdin");
    let mut stdout = demo.stdout.take().expect("stdout");
    let line = stderr.recv_timeout(WAIT).expect("the demo's intro line");
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("tcp://"))
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .trim_end_matches([',', '.'])
        .to_string();

    // A second "terminal" calls the same device.
    for _ in 0..2 {
        let (code, out, err) = reflex(&["call", &url, "counter.increment"], "");
        assert_eq!(code, 0, "{err}");
        assert!(!out.is_empty());
    }
    let (code, out, _) = reflex(&["call", &url, "add", "2", "3"], "");
    assert_eq!((code, out.as_str()), (0, "5\n"));

    // The shell sees what the other client did, then leaves.
    stdin.write_all(b"call counter.get\nquit\n").expect("write");
    drop(stdin);
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(status) = demo.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "reflex demo did not exit after quit");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(status.success());
    let mut out = String::new();
    stdout.read_to_string(&mut out).expect("stdout");
    assert_eq!(out, "2\n");
    // The server is gone with the shell.
    let (code, _, err) = reflex(&["call", &url, "add", "1", "1", "--timeout", "2"], "");
    assert_eq!(code, 2, "{err}");
}

#[test]
fn listen_elsewhere_and_clean_up() {
    let dir = temp_dir("demo");
    let sock = dir.join("demo.sock");
    let url = format!("unix://{}", sock.display());
    let (code, stdout, stderr) = reflex(&["demo", "--listen", &url], "call echo \"over unix\"\n");
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, "\"over unix\"\n");
    assert!(stderr.contains(&url), "{stderr}");
    assert!(!sock.exists(), "the socket file is removed when the demo ends");
    let _ = std::fs::remove_dir_all(&dir);

    // A port in use: a clear message, exit 2.
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("tcp://{}", taken.local_addr().expect("addr"));
    let (code, stdout, stderr) = reflex(&["demo", "--listen", &url], "call add 1 1\n");
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(stdout, "");
    assert!(stderr.starts_with("reflex: cannot start the demo device: "), "{stderr}");
}

#[test]
fn on_a_terminal() {
    let command = format!("{} demo --no-history", quote(env!("CARGO_BIN_EXE_reflex")));
    let Some(tmux) = Tmux::start(&command) else { return };
    let screen = tmux.wait_for("reflex>");
    assert!(screen.contains("reflex demo: the demo device runs in this process, at tcp://127.0.0.1:"), "{screen}");
    assert!(screen.contains("(in another terminal: reflex call tcp://127.0.0.1:"), "{screen}");
    assert!(screen.contains("reflex demo device 1.0.0"), "{screen}");
    assert!(screen.contains("Type help for the commands"), "{screen}");
    tmux.type_text("call add 2 3");
    tmux.press("Enter");
    tmux.wait_for("reflex> call add 2 3\n5\n");
    tmux.press("C-d");
    tmux.wait_for("[exit 0]");
}
