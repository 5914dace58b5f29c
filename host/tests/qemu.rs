//! The QEMU firmware (`firmware/qemu`: the demo device on an emulated Cortex-M3, JSON-RPC on
//! its UART) against the real `reflex` binary: calls over TCP (2.0, 1.0, reflection, an error),
//! the whole conformance suite, a pseudo-terminal used as a serial port (`reflex call` and
//! `reflex shell`), the firmware's defmt log, and that an idle guest leaves the host's CPU
//! alone while its clock keeps time.
//!
//! Needs `qemu-system-arm`, the `thumbv7m-none-eabi` target and `defmt-print` (`./ci.sh
//! setup` installs all three); a missing one fails the test with a message saying so, never a
//! silent skip. The firmware is built once (`cargo build --release` in `firmware/qemu`, its
//! own workspace and target directory) and booted with `firmware/qemu/run.sh`, on loopback
//! only; every QEMU is killed by its PID when its test ends, and every wait is bounded.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, OnceLock};
use std::time::{Duration, Instant};

mod support;

use support::firmware::{build_release, find_tool};
use support::{json, reflex_run, spawn_lines, wait_for_line, Guard, Run};

/// Longest wait for QEMU to come up, or for one command.
const WAIT: Duration = Duration::from_secs(30);

fn qemu_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../firmware/qemu")
}

/// `name` on PATH (or in cargo's bin directory, where `cargo install` puts tools), or a failed
/// test that says how to get it.
fn require_tool(name: &str, how: &str) -> PathBuf {
    let cargo_bin = [
        std::env::var_os("CARGO_HOME").map(|home| PathBuf::from(home).join("bin")),
        std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo/bin")),
    ];
    find_tool(name, cargo_bin.into_iter().flatten()).unwrap_or_else(|| {
        panic!("`{name}` is not installed, and the QEMU firmware tests need it (they are not skipped): {how}")
    })
}

fn require_qemu() {
    require_tool(
        "qemu-system-arm",
        "run ./ci.sh setup, or apt-get install --allow-downgrades qemu-system-arm qemu-utils/bookworm (see ci.sh APT_NEEDS)",
    );
}

/// Builds the firmware once per test run; returns the ELF.
fn firmware() -> PathBuf {
    static ELF: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    ELF.get_or_init(|| {
        require_qemu();
        build_release(
            &qemu_dir(),
            "target/thumbv7m-none-eabi/release/reflex-qemu",
            "; is the thumbv7m-none-eabi target installed (./ci.sh setup)?",
        )
    })
    .clone()
    .unwrap_or_else(|e| panic!("{e}"))
}

/// A free loopback port (bound and released: QEMU binds it right after).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// A fresh file for one QEMU's defmt frames.
fn frames_file() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "qemu-defmt-{}-{}.bin",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ))
}

/// A running firmware under QEMU (via run.sh, which execs QEMU: the child's PID is QEMU's),
/// killed by its PID when dropped.
struct Qemu {
    child: Guard,
    /// The endpoint URL of UART0.
    url: String,
    /// Where run.sh writes the defmt frames.
    frames: PathBuf,
    stderr: mpsc::Receiver<String>,
}

impl Qemu {
    /// Boots the firmware with `run.sh MODE`; returns it (its URL still to be set) and its
    /// stdout, line by line.
    fn spawn(mode: &str) -> (Qemu, mpsc::Receiver<String>) {
        let frames = frames_file();
        let (child, stdout, stderr) = spawn_lines(
            Command::new(qemu_dir().join("run.sh")).args([mode, "--elf"]).arg(firmware()).env("DEFMT_OUT", &frames),
        );
        (Qemu { child, url: String::new(), frames, stderr }, stdout)
    }

    /// Boots the firmware with UART0 on a TCP server socket on 127.0.0.1.
    fn tcp() -> Qemu {
        for _ in 0..3 {
            let port = free_port();
            let (mut q, _stdout) = Qemu::spawn(&port.to_string());
            q.url = format!("tcp://127.0.0.1:{port}");
            // Up when it accepts a connection (which is closed at once, unused).
            let deadline = Instant::now() + WAIT;
            loop {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return q;
                }
                if let Some(status) = q.child.try_wait().expect("wait") {
                    let err = q.stderr.recv_timeout(WAIT).unwrap_or_default();
                    if err.contains("bind") {
                        break; // The port was taken meanwhile: another one.
                    }
                    panic!("QEMU exited ({status}) before listening on {}: {err}", q.url);
                }
                assert!(Instant::now() < deadline, "QEMU did not listen on {} within {WAIT:?}", q.url);
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("QEMU could not bind a loopback port three times over");
    }

    /// Boots the firmware with UART0 on a pseudo-terminal.
    fn pty() -> Qemu {
        let (mut q, stdout) = Qemu::spawn("--pty");
        // QEMU's own line: "char device redirected to /dev/pts/N (label serial0)".
        let pty = wait_for_line(&stdout, Instant::now() + WAIT, |line| {
            let pty = line.strip_prefix("char device redirected to ")?.split_whitespace().next().expect("pty path");
            assert!(pty.starts_with("/dev/pts/"), "{line}");
            Some(pty.to_string())
        });
        match pty {
            Ok(pty) => {
                q.url = format!("serial://{pty}?baud=115200");
                q
            }
            Err(_) => {
                q.child.end();
                panic!("run.sh --pty printed no pty path; stderr: {}", q.stderr.recv_timeout(WAIT).unwrap_or_default());
            }
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills QEMU; returns the defmt frames it left.
    fn stop(mut self) -> Vec<u8> {
        self.child.end();
        std::fs::read(&self.frames).unwrap_or_default()
    }
}

impl Drop for Qemu {
    fn drop(&mut self) {
        self.child.end();
        let _ = std::fs::remove_file(&self.frames);
    }
}

/// `reflex ARGS`, bounded.
fn reflex(args: &[&str]) -> Run {
    reflex_with_input(args, "")
}

fn reflex_with_input(args: &[&str], input: &str) -> Run {
    reflex_run(Command::new(env!("CARGO_BIN_EXE_reflex")).args(args).env("NO_COLOR", "1"), input, WAIT)
}

/// `reflex call URL ARGS...`: must succeed; returns stdout, trimmed.
fn call_ok(url: &str, args: &[&str]) -> String {
    let mut all = vec!["call", url];
    all.extend_from_slice(args);
    let out = reflex(&all);
    assert!(out.status.success(), "reflex {all:?}: {}\nstderr: {}", out.status, out.stderr);
    out.stdout.trim().to_string()
}

// ---------------------------------------------------------------------------------------------

#[test]
fn calls_over_tcp() {
    let q = Qemu::tcp();
    let url = q.url.as_str();

    assert_eq!(call_ok(url, &["add", "2", "3"]), "5");
    assert_eq!(call_ok(url, &["echo", r#""hello from QEMU""#]), r#""hello from QEMU""#);
    assert_eq!(call_ok(url, &["subtract", "--named", "minuend=42", "--named", "subtrahend=23"]), "19");
    // JSON-RPC 1.0, as ReflectRPC shapes it: result, id, error; Python's separators.
    assert_eq!(call_ok(url, &["--v1", "echo", r#""one point oh""#]), r#""one point oh""#);
    assert_eq!(
        call_ok(url, &["--raw", r#"{"method": "add", "params": [4, 5], "id": 36}"#]),
        r#"{"result": 9, "id": 36, "error": null}"#
    );
    // --raw prints the reply as received and exits 1 for an error reply.
    let out = reflex(&["call", url, "--raw", r#"{"method": "add", "params": [4, 8.9], "id": 36}"#]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(
        out.stdout.trim(),
        r#"{"result": null, "id": 36, "error": {"name": "TypeError", "message": "add: Expected value of type 'int' for parameter 'b' but got value of type 'float'"}}"#
    );

    // Reflection, streamed from the firmware's flash.
    let functions = json(&call_ok(url, &["__describe_functions"]));
    let names: Vec<&str> = functions.as_array().expect("array").iter().filter_map(|f| f["name"].as_str()).collect();
    for name in ["echo", "add", "div", "led.set", "device.info", "checksum", "slow_operation"] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    let add = functions.as_array().unwrap().iter().find(|f| f["name"] == "add").unwrap();
    assert_eq!(add["params"].as_array().map(Vec::len), Some(2), "{add}");
    assert_eq!(add["result_type"], "int");

    let info = json(&call_ok(url, &["device.info"]));
    assert_eq!(info["model"], "qemu-lm3s6965evb", "{info}");
    assert_eq!(info["float_support"], true, "{info}");
    assert_eq!(call_ok(url, &["div", "1.5", "0.5"]), "3.0");
    assert_eq!(call_ok(url, &["checksum", r#""MTIzNDU2Nzg5""#]), "3421780262");

    // Errors: exit 1, the error on stderr.
    let out = reflex(&["call", url, "error.user"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = &out.stderr;
    assert!(err.contains("UserError") && err.contains("This error was raised on purpose"), "{err}");
    let out = reflex(&["call", url, "add", "1", "true"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(out.stderr.contains("-32602"), "{}", out.stderr);
    let out = reflex(&["call", url, "error.internal"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(!out.stderr.contains("device log"), "an internal error's detail leaked: {}", out.stderr);
    let out = reflex(&["call", url, "no.such.method"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(out.stderr.contains("-32601"), "{}", out.stderr);
}

/// Every conformance case passes on the device, as on `reflex serve`.
#[test]
fn conformance_over_tcp() {
    let q = Qemu::tcp();
    // QEMU's UART moves 16-98 KiB/s depending on the host's load, and one case sends 100 KB:
    // allow it time.
    let out = reflex(&["conform", &q.url, "--verbose", "--timeout", "60"]);
    let stdout = &out.stdout;
    let summary = stdout.lines().last().unwrap_or_default().to_string();
    assert!(
        out.status.success() && summary.ends_with(" 0 failed"),
        "reflex conform against the QEMU firmware ({}): {summary}\n{}\nstderr: {}",
        out.status,
        stdout.lines().filter(|l| !l.starts_with("✓")).collect::<Vec<_>>().join("\n"),
        out.stderr
    );
    let passed: usize = summary.split(' ').next().and_then(|n| n.parse().ok()).unwrap_or(0);
    assert!(passed >= 300, "only {passed} cases ran: {summary}");
    eprintln!("reflex conform against the QEMU firmware: {summary}");
}

#[test]
fn serial_over_a_pty() {
    let q = Qemu::pty();
    let url = q.url.as_str();
    assert_eq!(call_ok(url, &["add", "1", "2"]), "3");
    assert_eq!(call_ok(url, &["echo", r#""over a serial line""#]), r#""over a serial line""#);
    // The interactive shell, fed on stdin.
    let out = reflex_with_input(
        &["shell", url, "--no-history"],
        "list\ncall add 20 22\ncall led.set 1 true\ncall led.get 1\n",
    );
    let stdout = &out.stdout;
    assert!(out.status.success(), "reflex shell: {}\n{stdout}\nstderr: {}", out.status, out.stderr);
    assert!(stdout.contains("add(a, b) -> int"), "{stdout}");
    assert!(stdout.lines().any(|l| l.trim() == "42"), "{stdout}");
    assert!(stdout.lines().any(|l| l.trim() == "true"), "{stdout}");
    // The same firmware state across connections: LED 1 stays on.
    assert_eq!(call_ok(url, &["led.get", "1"]), "true");
}

#[test]
fn defmt_log() {
    let defmt_print = require_tool("defmt-print", "cargo install defmt-print --locked --version 1.2.0 (./ci.sh setup)");
    let q = Qemu::tcp();
    let url = q.url.clone();
    assert_eq!(call_ok(&url, &["add", "2", "3"]), "5");
    call_ok(&url, &["__describe_functions"]);
    let _ = reflex(&["call", &url, "error.user"]);
    call_ok(&url, &["led.set", "2", "true"]);
    // A request's log line is written when the firmware comes back to read; it does at once.
    std::thread::sleep(Duration::from_millis(300));
    let frames = q.stop();
    assert!(!frames.is_empty(), "the firmware wrote no defmt frames");

    let log = decode(&defmt_print, &frames);
    eprintln!("defmt log of the QEMU firmware:\n{log}");
    assert!(log.contains("INFO  reflex-qemu") && log.contains("booted: float true"), "{log}");
    assert!(log.contains("request 1: add ok, stack"), "{log}");
    assert!(log.contains("answered by the engine (reflection or error)"), "{log}");
    assert!(log.contains("error.user failed (UserError)"), "{log}");
    assert!(log.contains("LED 2 on"), "{log}");
    // Every request logged its stack high-water mark, within the 64 KiB of RAM.
    let peaks: Vec<usize> = log
        .lines()
        .filter(|l| l.contains(" request "))
        .filter_map(|l| l.split(", stack ").nth(1))
        .filter_map(|rest| rest.split(' ').next()?.parse().ok())
        .collect();
    assert!(peaks.len() >= 4, "{log}");
    assert!(peaks.iter().all(|&p| (500..32 * 1024).contains(&p)), "{peaks:?}");
}

/// defmt frames → text, through `defmt-print -e ELF < frames`.
fn decode(defmt_print: &Path, frames: &[u8]) -> String {
    let out = support::run(Command::new(defmt_print).arg("-e").arg(firmware()), frames, WAIT);
    assert!(out.status.success(), "defmt-print failed: {}", out.stderr);
    out.stdout
}

/// CPU time (user + system) of a process so far, in clock ticks (USER_HZ: 100 a second).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/PID/stat");
    // Fields after the command (which is in parentheses and may hold spaces): state is the
    // 3rd field, utime the 14th, stime the 15th.
    let after = &stat[stat.rfind(')').expect("comm") + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime")
}

#[test]
fn idle_guest_sleeps_and_keeps_time() {
    let q = Qemu::tcp();
    let port: u16 = q.url.rsplit(':').next().unwrap().parse().unwrap();

    // Round-trip time of `add` over the emulated UART (TCP_NODELAY on both ends).
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_nodelay(true).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    let mut reader = BufReader::new(s.try_clone().unwrap());
    let mut rtts = Vec::new();
    let mut line = String::new();
    for i in 0..200 {
        let t = Instant::now();
        s.write_all(format!("{{\"jsonrpc\":\"2.0\",\"method\":\"add\",\"params\":[{i},1],\"id\":{i}}}\n").as_bytes())
            .unwrap();
        line.clear();
        reader.read_line(&mut line).expect("reply");
        rtts.push(t.elapsed());
        assert_eq!(line, format!("{{\"jsonrpc\":\"2.0\",\"result\":{},\"id\":{i}}}\r\n", i + 1));
    }
    rtts.sort();
    eprintln!(
        "QEMU add round trip over 200 calls: median {:.3} ms, p95 {:.3} ms, min {:.3} ms",
        rtts[100].as_secs_f64() * 1e3,
        rtts[190].as_secs_f64() * 1e3,
        rtts[0].as_secs_f64() * 1e3
    );

    // The firmware's uptime, in whole seconds: polled until it steps to the next second,
    // which pins the moment to a few milliseconds.
    let mut next_second = || -> (Instant, u64) {
        let mut uptime = || {
            s.write_all(b"{\"jsonrpc\":\"2.0\",\"method\":\"uptime\",\"id\":0}\n").unwrap();
            line.clear();
            reader.read_line(&mut line).expect("reply");
            json(&line)["result"].as_u64().unwrap_or_else(|| panic!("{line}"))
        };
        let first = uptime();
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            let now = uptime();
            if now != first {
                return (Instant::now(), now);
            }
            assert!(Instant::now() < deadline, "the firmware's uptime stuck at {first} s");
            std::thread::sleep(Duration::from_millis(2));
        }
    };
    let (t0, up0) = next_second();
    std::thread::sleep(Duration::from_millis(100)); // settle: the last reply and log are out
                                                    // 3 s of idleness span two SysTick wraps (1.34 s each), which only wake the guest.
    let ticks0 = cpu_ticks(q.pid());
    std::thread::sleep(Duration::from_secs(3));
    let ticks = cpu_ticks(q.pid()) - ticks0;
    let (t1, up1) = next_second();
    let host = (t1 - t0).as_secs_f64();
    eprintln!(
        "idle QEMU: {ticks} CPU ticks (1/100 s) in 3 s; guest uptime {up0} s -> {up1} s in {host:.3} s of host time"
    );
    assert!(ticks < 60, "an idle guest used {ticks} ticks of CPU in 3 s (limit 60: 20 % of a core); does it WFI?");
    // Both readings are taken just after a second boundary, so the guest's seconds and the
    // host's agree closely; a lost SysTick wrap would be off by 1.34 s.
    assert!(((up1 - up0) as f64 - host).abs() < 0.3, "guest clock: {} s in {host:.3} s", up1 - up0);
}
