//! What the command tests share: a `reflex serve` child on free ports, a runner for the real
//! `reflex` binary (and any other program) with a deadline, children whose output comes line
//! by line, temporary directories; fake servers in [`fake`], firmware builds in [`firmware`],
//! a terminal in [`tmux`].
// Each test binary uses only some of these.
#![allow(dead_code)]

pub mod fake;
pub mod firmware;
pub mod tmux;

use std::io::{BufRead, BufReader, Read, Write};
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const WAIT: Duration = Duration::from_secs(20);

/// A `reflex serve` on free loopback ports (or wherever a test asks), killed (by PID, through
/// `Child`) when dropped.
pub struct Serve {
    child: Guard,
    /// The URL of its first listener.
    pub url: String,
    /// The URLs of all its listeners, in the order of their `--listen` options.
    pub endpoints: Vec<String>,
    /// Everything it wrote to stderr, once it has exited.
    stderr: mpsc::Receiver<String>,
}

/// `reflex serve --listen URL... EXTRA...` with `RUST_LOG=warn`, not started: for a test that
/// needs more (another log level, variables of its own), to start with [`Serve::spawn`].
pub fn serve_command(listen: &[&str], extra: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_reflex"));
    cmd.arg("serve");
    for url in listen {
        cmd.args(["--listen", url]);
    }
    cmd.args(extra).env("RUST_LOG", "warn");
    cmd
}

impl Serve {
    /// One TCP listener on a free port, at `url`.
    pub fn start() -> Serve {
        Serve::start_on(&["tcp://127.0.0.1:0"])
    }

    /// A listener on each URL of `listen` (port 0: a free one), at `endpoints`.
    pub fn start_on(listen: &[&str]) -> Serve {
        Serve::start_with(listen, &[])
    }

    /// As [`Serve::start_on`], with the further options `extra`.
    pub fn start_with(listen: &[&str], extra: &[&str]) -> Serve {
        Serve::spawn(serve_command(listen, extra), listen.len())
    }

    /// Starts `cmd`, a `reflex serve`, and waits for the `listening on URL` lines of its
    /// `listeners`.
    pub fn spawn(mut cmd: Command, listeners: usize) -> Serve {
        let (child, lines, stderr) = spawn_lines(&mut cmd);
        let mut serve = Serve { child, url: String::new(), endpoints: Vec::new(), stderr };
        let deadline = Instant::now() + WAIT;
        while serve.endpoints.len() < listeners {
            let Ok(line) = lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) else {
                serve.child.end();
                let stderr = serve.stderr.recv_timeout(WAIT).unwrap_or_default();
                panic!("reflex serve did not report its listeners; stderr: {stderr}");
            };
            let url = line.strip_prefix("listening on ").unwrap_or_else(|| panic!("unexpected output {line:?}"));
            serve.endpoints.push(url.to_string());
        }
        serve.url = serve.endpoints.first().cloned().unwrap_or_default();
        serve
    }

    /// The URL of its first listener with this scheme.
    pub fn endpoint(&self, scheme: &str) -> &str {
        let prefix = format!("{scheme}://");
        self.endpoints.iter().find(|e| e.starts_with(&prefix)).unwrap_or_else(|| panic!("no {scheme} listener"))
    }

    /// [`Serve::endpoint`] without its `scheme://`: `host:port`, `host:port/path` or a path.
    pub fn address(&self, scheme: &str) -> &str {
        &self.endpoint(scheme)[scheme.len() + "://".len()..]
    }

    /// Sends `signal` (TERM, INT, ...) and waits for the exit; returns the exit status and
    /// everything it wrote to stderr.
    pub fn stop(mut self, signal: &str) -> (ExitStatus, String) {
        let sent = Command::new("kill").arg(format!("-{signal}")).arg(self.child.id().to_string()).status();
        assert!(sent.expect("kill").success(), "kill -{signal} {}", self.child.id());
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return (status, self.stderr.recv_timeout(WAIT).unwrap_or_default());
            }
            assert!(Instant::now() < deadline, "reflex serve did not exit after SIG{signal}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A child process, killed (by its PID, through `Child`) and reaped when dropped: a test that
/// fails half-way leaves nothing running.
pub struct Guard(pub Child);

impl Guard {
    /// Kills it and waits for it now, as a drop would.
    pub fn end(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Deref for Guard {
    type Target = Child;

    fn deref(&self) -> &Child {
        &self.0
    }
}

impl DerefMut for Guard {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.end();
    }
}

/// What a run of a program left.
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

/// `reflex ARGS` with `RUST_LOG=warn` and without `NO_COLOR` (what a user who never set it
/// sees), not started: for a test that needs more (variables, a directory), then
/// [`reflex_run`].
pub fn reflex_command(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_reflex"));
    cmd.args(args).env("RUST_LOG", "warn").env_remove("NO_COLOR");
    cmd
}

/// Runs `reflex ARGS` with `stdin`, killing it if it takes longer than [`WAIT`].
pub fn reflex(args: &[&str], stdin: &str) -> Run {
    reflex_run(&mut reflex_command(args), stdin, WAIT)
}

/// Runs `cmd`, a `reflex` (perhaps with variables of its own, or inside a wrapper such as
/// `ip netns exec`), as [`run`] does; what it writes on stdout must be UTF-8, and a panic of
/// the binary fails the test, whatever it exits with.
pub fn reflex_run(cmd: &mut Command, stdin: &str, limit: Duration) -> Run {
    let what = shown(cmd);
    let out = output(cmd, stdin.as_bytes(), limit);
    let stdout = String::from_utf8(out.stdout).unwrap_or_else(|e| panic!("{what} wrote what is not UTF-8: {e}"));
    let run = Run { status: out.status, stdout, stderr: String::from_utf8_lossy(&out.stderr).into_owned() };
    assert!(!run.stderr.contains("panicked"), "{what} panicked: {}", run.stderr);
    run
}

/// Runs `cmd` with `stdin` on its standard input, killing it (by PID, through `Child`) if it
/// runs longer than `limit`. Its output is read as UTF-8, lossily.
pub fn run(cmd: &mut Command, stdin: &[u8], limit: Duration) -> Run {
    lossy(output(cmd, stdin, limit))
}

/// Waits for `child` (its stdout and stderr piped) to exit, killing it (by PID) if that takes
/// longer than `limit`; `what` names it in the failure. Its output is read as UTF-8, lossily.
pub fn wait(child: Child, limit: Duration, what: &str) -> Run {
    lossy(wait_output(child, limit, what))
}

fn lossy(out: Output) -> Run {
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    Run { status: out.status, stdout: text(&out.stdout), stderr: text(&out.stderr) }
}

fn output(cmd: &mut Command, stdin: &[u8], limit: Duration) -> Output {
    let mut child = spawn(cmd, Stdio::piped());
    let mut input = child.stdin.take().expect("stdin");
    let stdin = stdin.to_vec();
    // From a thread: a child that never reads its input must not hold up the test.
    std::thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    wait_output(child, limit, &shown(cmd))
}

fn wait_output(child: Child, limit: Duration, what: &str) -> Output {
    // Killed if it outlives `limit`, or if the test fails meanwhile.
    let mut child = Guard(child);
    // Read while it runs: a child whose output fills a pipe would never exit.
    let stdout = read_all(child.stdout.take().expect("stdout"), |all| all);
    let stderr = read_all(child.stderr.take().expect("stderr"), |all| all);
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() <= deadline, "{what} did not finish within {limit:?}");
        std::thread::sleep(Duration::from_millis(5));
    };
    // Bounded too: a grandchild may hold the pipes open.
    let stdout = stdout.recv_timeout(WAIT).unwrap_or_default();
    let stderr = stderr.recv_timeout(WAIT).unwrap_or_default();
    Output { status, stdout, stderr }
}

/// Starts `cmd` with `stdin`, its stdout and stderr piped.
fn spawn(cmd: &mut Command, stdin: Stdio) -> Child {
    let started = cmd.stdin(stdin).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn();
    started.unwrap_or_else(|e| panic!("cannot start {}: {e}", shown(cmd)))
}

/// `PROGRAM ["ARG", ...]`, for messages: the program's file name and its arguments.
fn shown(cmd: &Command) -> String {
    let program = Path::new(cmd.get_program()).file_name().unwrap_or(cmd.get_program()).to_string_lossy();
    let args: Vec<_> = cmd.get_args().map(|a| a.to_string_lossy()).collect();
    format!("{program} {args:?}")
}

/// All of `stream`, made into a `T` by `made`, on a channel once it closes.
fn read_all<T: Send + 'static>(mut stream: impl Read + Send + 'static, made: fn(Vec<u8>) -> T) -> mpsc::Receiver<T> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut all = Vec::new();
        let _ = stream.read_to_end(&mut all);
        let _ = tx.send(made(all));
    });
    rx
}

/// Each line of `stream` on a channel as it comes; the channel disconnects when it closes.
pub fn line_channel(stream: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    rx
}

/// Starts `cmd` with stdin closed; returns it, its stdout line by line ([`line_channel`]), and
/// all of its stderr, which comes when the stream closes (the child has exited).
pub fn spawn_lines(cmd: &mut Command) -> (Guard, mpsc::Receiver<String>, mpsc::Receiver<String>) {
    let mut child = Guard(spawn(cmd, Stdio::null()));
    let lines = line_channel(child.stdout.take().expect("stdout"));
    let stderr = read_all(child.stderr.take().expect("stderr"), |all| String::from_utf8_lossy(&all).into_owned());
    (child, lines, stderr)
}

/// The first line from `lines` that `pick` takes (the others are skipped), before `deadline`.
pub fn wait_for_line<T>(
    lines: &mpsc::Receiver<String>,
    deadline: Instant,
    mut pick: impl FnMut(&str) -> Option<T>,
) -> Result<T, mpsc::RecvTimeoutError> {
    loop {
        let line = lines.recv_timeout(deadline.saturating_duration_since(Instant::now()))?;
        if let Some(found) = pick(&line) {
            return Ok(found);
        }
    }
}

/// `text` as JSON, or a failed test that shows it.
pub fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// A fresh, empty `reflex-NAME-PID` in the system's temporary directory (the PID keeps
/// concurrent runs of the tests apart).
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("reflex-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}
