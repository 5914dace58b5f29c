//! What the command tests share: a `reflex serve` child on a free port, and a runner for the
//! real `reflex` binary with a deadline.
// Each test binary uses only some of these.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const WAIT: Duration = Duration::from_secs(20);

/// A `reflex serve` on a free loopback port, killed (by PID, through `Child`) when dropped.
pub struct Serve {
    child: Child,
    /// The URL it listens on.
    pub url: String,
}

impl Serve {
    /// Starts it and waits for its `listening on` line.
    pub fn start() -> Serve {
        let mut child = Command::new(env!("CARGO_BIN_EXE_reflex"))
            .args(["serve", "--listen", "tcp://127.0.0.1:0"])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start reflex serve");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        match rx.recv_timeout(WAIT) {
            Ok(line) => {
                let url = line.strip_prefix("listening on ").unwrap_or_else(|| panic!("unexpected output {line:?}"));
                Serve { url: url.to_string(), child }
            }
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("reflex serve did not report its listener");
            }
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a run of the binary left.
#[derive(Debug)]
pub struct Run {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn code(&self) -> i32 {
        self.status.code().expect("exited normally, not by a signal")
    }
}

/// Runs `reflex ARGS` with `stdin`, killing it if it takes longer than [`WAIT`].
pub fn reflex(args: &[&str], stdin: &str) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_reflex"))
        .args(args)
        .env("RUST_LOG", "warn")
        .env_remove("NO_COLOR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start reflex");
    let mut input = child.stdin.take().expect("stdin");
    let stdin = stdin.to_string();
    std::thread::spawn(move || {
        let _ = input.write_all(stdin.as_bytes());
    });
    let read = |mut r: Box<dyn Read + Send>| {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = r.read_to_string(&mut s);
            let _ = tx.send(s);
        });
        rx
    };
    let out = read(Box::new(child.stdout.take().expect("stdout")));
    let err = read(Box::new(child.stderr.take().expect("stderr")));
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("reflex {args:?} did not finish within {WAIT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let stdout = out.recv_timeout(WAIT).unwrap_or_default();
    let stderr = err.recv_timeout(WAIT).unwrap_or_default();
    assert!(!stderr.contains("panicked"), "reflex {args:?} panicked: {stderr}");
    Run { status, stdout, stderr }
}
