//! `reflex demo`, the real binary: the demo device in-process with the shell on it, scripted
//! through stdin and on a terminal (tmux), reachable by `reflex call` while the shell runs.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

mod support;

use support::WAIT;

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
    let mut demo = Command::new(env!("CARGO_BIN_EXE_reflex"))
        .arg("demo")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start reflex demo");
    // Killed by PID if the test fails half-way.
    struct Guard(std::process::Child);
    impl Drop for Guard {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let stderr = demo.stderr.take().expect("stderr");
    let mut stdin = demo.stdin.take().expect("stdin");
    let mut stdout = demo.stdout.take().expect("stdout");
    let mut demo = Guard(demo);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let line = rx.recv_timeout(WAIT).expect("the demo's intro line");
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
        if let Some(status) = demo.0.try_wait().expect("wait") {
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
    let dir = std::env::temp_dir().join(format!("reflex-demo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
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
    if Command::new("tmux").arg("-V").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "tmux is missing: run ./ci.sh setup");
        eprintln!("skipping: tmux is not installed");
        return;
    }
    let socket = format!("reflex-demo-test-{}", std::process::id());
    let tmux = |args: &[&str]| {
        Command::new("tmux")
            .args(["-f", "/dev/null", "-L", &socket])
            .args(args)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .expect("tmux")
    };
    struct Kill<F: Fn(&[&str]) -> std::process::Output>(F);
    impl<F: Fn(&[&str]) -> std::process::Output> Drop for Kill<F> {
        fn drop(&mut self) {
            let _ = (self.0)(&["kill-server"]);
        }
    }
    let tmux = Kill(tmux);
    let command = format!("'{}' demo --no-history; echo \"[exit $?]\"; sleep 600", env!("CARGO_BIN_EXE_reflex"));
    assert!((tmux.0)(&["new-session", "-d", "-x", "200", "-y", "50", "-s", "t", &command]).status.success());
    let wait_for = |text: &str| {
        let deadline = Instant::now() + WAIT;
        loop {
            let screen = String::from_utf8_lossy(&(tmux.0)(&["capture-pane", "-p", "-t", "t"]).stdout).into_owned();
            if screen.contains(text) {
                return screen;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {text:?}; the pane shows:\n{screen}");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let screen = wait_for("reflex>");
    assert!(screen.contains("reflex demo: the demo device runs in this process, at tcp://127.0.0.1:"), "{screen}");
    assert!(screen.contains("(in another terminal: reflex call tcp://127.0.0.1:"), "{screen}");
    assert!(screen.contains("reflex demo device 1.0.0"), "{screen}");
    assert!(screen.contains("Type help for the commands"), "{screen}");
    assert!((tmux.0)(&["send-keys", "-t", "t", "-l", "call add 2 3"]).status.success());
    assert!((tmux.0)(&["send-keys", "-t", "t", "Enter"]).status.success());
    wait_for("reflex> call add 2 3\n5\n");
    assert!((tmux.0)(&["send-keys", "-t", "t", "C-d"]).status.success());
    wait_for("[exit 0]");
}
