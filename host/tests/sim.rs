//! The simulated firmware (`firmware/sim`: the demo device on embassy-net over a Linux TAP
//! device, served by the core's async server under embassy's std executor) against the real
//! `reflex` binary: calls, the interactive shell, the whole conformance suite, and that a
//! handler that sleeps (`slow_operation`, one second on an embassy-time timer) holds up only
//! its own connection.
//!
//! Each test builds a network of its own: a network namespace named after the test process's
//! PID, holding a TAP device `tap0` with 10.200.0.1/24. The firmware runs inside it with
//! 10.200.0.2/24 (`ip netns exec NS firmware-sim tap0 10.200.0.2/24 1234`), and so does every
//! client (`ip netns exec NS reflex call tcp://10.200.0.2:1234 ...`): no packet leaves the
//! namespace, and the host's own interfaces are never touched. The firmware is killed by its
//! PID and the namespace deleted when a test ends, passed or failed (drop guards). Every wait
//! is bounded.
//!
//! Needs root (network namespaces, TAP devices), `ip` (iproute2) and `/dev/net/tun`; CI runs
//! as root. Without them the tests FAIL with a message saying what is missing: they are
//! never skipped. The firmware is built once per run (`cargo build --release` of
//! `firmware/sim`, its own workspace and target directory).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

mod support;

use support::firmware::{build_release, find_tool};
use support::{json, line_channel, reflex_run, wait, wait_for_line, Guard, Run};

/// Longest wait for the firmware to come up, or for one command.
const WAIT: Duration = Duration::from_secs(30);
/// The host end of the TAP device, inside the namespace.
const HOST_ADDR: &str = "10.200.0.1/24";
/// The firmware's address and port, inside the namespace.
const SIM_ADDR: &str = "10.200.0.2/24";
const SIM_PORT: &str = "1234";
const URL: &str = "tcp://10.200.0.2:1234";

fn sim_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../firmware/sim")
}

/// `ip`, root and `/dev/net/tun`, or a failed test that says what is missing.
fn require_network_tools() -> &'static Path {
    static IP: OnceLock<PathBuf> = OnceLock::new();
    IP.get_or_init(|| {
        let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
        let euid = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .expect("an effective uid in /proc/self/status");
        assert!(
            euid == "0",
            "the firmware/sim tests need root (they create a network namespace and a TAP device in it), and run \
             as uid {euid}: run them as root, as CI does (they are not skipped)"
        );
        let ip = find_tool("ip", ["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from)).unwrap_or_else(|| {
            panic!(
                "`ip` is not installed, and the firmware/sim tests need it (they are not skipped): apt-get install \
                 iproute2 (./ci.sh setup)"
            )
        });
        assert!(
            Path::new("/dev/net/tun").exists(),
            "/dev/net/tun is missing: the firmware/sim tests need the kernel's TUN/TAP driver (modprobe tun)"
        );
        ip
    })
}

/// Builds the firmware once per test run; returns the executable.
fn firmware() -> PathBuf {
    static EXE: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    EXE.get_or_init(|| build_release(&sim_dir(), "target/release/firmware-sim", ""))
        .clone()
        .unwrap_or_else(|e| panic!("{e}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs `ip ARGS`; panics with its stderr if it fails.
fn ip(args: &[&str]) {
    let out = Command::new(require_network_tools())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run ip {args:?}: {e}"));
    assert!(out.status.success(), "ip {args:?}: {}: {}", out.status, text(&out.stderr));
}

/// A network namespace of this test process, with `tap0` at [`HOST_ADDR`]; deleted when
/// dropped.
struct Netns {
    name: String,
}

/// The prefix of this test's namespace names: `reflex-sim-PID-N`.
const NETNS_PREFIX: &str = "reflex-sim-";

/// Removes what a killed run of this test left: the namespaces of test processes that no
/// longer exist, and the firmware still running in them (a process killed outright drops
/// nothing). Namespaces of other running processes are left alone.
fn remove_stale_namespaces() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let ip = require_network_tools();
        let Ok(list) = Command::new(ip).args(["netns", "list"]).stdin(Stdio::null()).output() else { return };
        for line in text(&list.stdout).lines() {
            let Some(name) = line.split_whitespace().next() else { continue };
            let Some(pid) = name.strip_prefix(NETNS_PREFIX).and_then(|rest| rest.split('-').next()) else {
                continue;
            };
            if pid.parse::<u32>().is_err() || Path::new("/proc").join(pid).exists() {
                continue;
            }
            eprintln!("removing the network namespace {name} of an earlier run that was killed");
            if let Ok(pids) = Command::new(ip).args(["netns", "pids", name]).stdin(Stdio::null()).output() {
                for p in text(&pids.stdout).split_whitespace() {
                    let _ = Command::new("kill").args(["-KILL", p]).stdin(Stdio::null()).status();
                }
            }
            let _ = Command::new(ip).args(["netns", "del", name]).stdin(Stdio::null()).status();
        }
    });
}

impl Netns {
    fn new() -> Netns {
        remove_stale_namespaces();
        static N: AtomicUsize = AtomicUsize::new(0);
        let name = format!("{NETNS_PREFIX}{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
        // A leftover of an earlier process with the same PID: gone first.
        let _ = Command::new(require_network_tools())
            .args(["netns", "del", &name])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        ip(&["netns", "add", &name]);
        let ns = Netns { name }; // From here on, the namespace goes when `ns` does.
        for args in [
            &["link", "set", "lo", "up"][..],
            &["tuntap", "add", "name", "tap0", "mode", "tap"],
            &["addr", "add", HOST_ADDR, "dev", "tap0"],
            &["link", "set", "tap0", "up"],
        ] {
            let mut all = vec!["netns", "exec", &ns.name, "ip"];
            all.extend_from_slice(args);
            ip(&all);
        }
        ns
    }

    /// `program` to be run inside the namespace (`ip netns exec` execs it: the child's PID is
    /// the program's).
    fn command(&self, program: &Path) -> Command {
        let mut cmd = Command::new(require_network_tools());
        cmd.args(["netns", "exec", &self.name]).arg(program);
        cmd
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        match Command::new(require_network_tools()).args(["netns", "del", &self.name]).stdin(Stdio::null()).output() {
            Ok(out) if out.status.success() => {}
            Ok(out) => eprintln!("warning: ip netns del {}: {}", self.name, text(&out.stderr)),
            Err(e) => eprintln!("warning: ip netns del {}: {e}", self.name),
        }
    }
}

/// The firmware running in a namespace of its own; killed by its PID, then the namespace
/// deleted, when dropped.
struct Sim {
    child: Guard,
    /// Its log (stderr), line by line.
    log: Arc<Mutex<Vec<String>>>,
    // Dropped after `child` (fields drop in order): the firmware is killed before its
    // namespace goes.
    ns: Netns,
}

impl Sim {
    fn start() -> Sim {
        require_network_tools();
        let exe = firmware();
        let ns = Netns::new();
        let mut child = ns
            .command(&exe)
            .args(["tap0", SIM_ADDR, SIM_PORT])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", exe.display()));
        let ready = line_channel(child.stdout.take().expect("stdout"));
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let mut sim = Sim { child: Guard(child), log, ns };
        let serving =
            |line: &str| line.starts_with("firmware-sim: serving JSON-RPC on tcp://10.200.0.2:1234").then_some(());
        match wait_for_line(&ready, Instant::now() + WAIT, serving) {
            Ok(()) => {}
            Err(mpsc::RecvTimeoutError::Timeout) => {
                panic!("firmware-sim did not start within {WAIT:?}:\n{}", sim.log_text())
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let status = sim.child.wait().expect("wait");
                std::thread::sleep(Duration::from_millis(100)); // the rest of its log
                panic!("firmware-sim exited ({status}) before serving:\n{}", sim.log_text());
            }
        }
        // Serving: the socket tasks listen as soon as the executor first runs them, which is
        // right after the line above. A first call shows they do.
        let mut last = None;
        for _ in 0..20 {
            let out = sim.reflex(&["call", URL, "fast_operation", "--timeout", "2"]);
            if out.status.success() {
                return sim;
            }
            last = Some(out);
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("firmware-sim does not answer on {URL}: {last:?}\n{}", sim.log_text());
    }

    fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// How many connections the firmware has accepted so far.
    fn accepted(&self) -> usize {
        self.log.lock().unwrap().iter().filter(|l| l.contains("] connection from ")).count()
    }

    /// `reflex ARGS` inside the namespace, not waited for.
    fn spawn_reflex(&self, args: &[&str]) -> Child {
        self.ns
            .command(Path::new(env!("CARGO_BIN_EXE_reflex")))
            .args(args)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run reflex in the namespace")
    }

    /// `reflex ARGS` inside the namespace, bounded.
    fn reflex(&self, args: &[&str]) -> Run {
        self.reflex_with_input(args, "")
    }

    fn reflex_with_input(&self, args: &[&str], input: &str) -> Run {
        let mut cmd = self.ns.command(Path::new(env!("CARGO_BIN_EXE_reflex")));
        cmd.args(args).env("NO_COLOR", "1");
        reflex_run(&mut cmd, input, WAIT)
    }

    /// `reflex call URL ARGS...`: must succeed; returns stdout, trimmed.
    fn call_ok(&self, args: &[&str]) -> String {
        let mut all = vec!["call", URL];
        all.extend_from_slice(args);
        let out = self.reflex(&all);
        assert!(
            out.status.success(),
            "reflex {all:?}: {}\nstderr: {}\nfirmware log:\n{}",
            out.status,
            out.stderr,
            self.log_text()
        );
        out.stdout.trim().to_string()
    }
}

// ---------------------------------------------------------------------------------------------

#[test]
fn calls_and_shell() {
    let sim = Sim::start();
    assert_eq!(sim.call_ok(&["add", "2", "3"]), "5");
    assert_eq!(sim.call_ok(&["echo", r#""hello from embassy-net""#]), r#""hello from embassy-net""#);
    assert_eq!(sim.call_ok(&["subtract", "--named", "minuend=42", "--named", "subtrahend=23"]), "19");
    assert_eq!(sim.call_ok(&["--v1", "echo", r#""one point oh""#]), r#""one point oh""#);
    assert_eq!(sim.call_ok(&["div", "1.5", "0.5"]), "3.0");

    let info = json(&sim.call_ok(&["device.info"]));
    assert_eq!(info["model"], "sim-embassy-net-tap", "{info}");
    assert_eq!(info["float_support"], true, "{info}");

    let out = sim.reflex(&["call", URL, "error.user"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(out.stderr.contains("UserError"), "{}", out.stderr);

    // The interactive shell, fed on stdin.
    let out = sim.reflex_with_input(
        &["shell", URL, "--no-history"],
        "list\ncall add 20 22\ncall led.set 1 true\ncall led.get 1\n",
    );
    let stdout = &out.stdout;
    assert!(out.status.success(), "reflex shell: {}\n{stdout}\nstderr: {}", out.status, out.stderr);
    assert!(stdout.contains("add(a, b) -> int"), "{stdout}");
    assert!(stdout.lines().any(|l| l.trim() == "42"), "{stdout}");
    // One device behind every connection: LED 1 stays on for the next client.
    assert_eq!(sim.call_ok(&["led.get", "1"]), "true");
    // The peer address reached the firmware's log.
    assert!(sim.log_text().contains("connection from 10.200.0.1:"), "{}", sim.log_text());
    assert!(sim.log_text().contains("LED 1 on"), "{}", sim.log_text());
}

/// Every conformance case passes: the firmware's receive buffer takes even the suite's
/// largest request (100 002 bytes).
#[test]
fn conformance() {
    let sim = Sim::start();
    let t = Instant::now();
    let out = sim.reflex(&["conform", URL]);
    let stdout = &out.stdout;
    let summary = stdout.lines().last().unwrap_or_default().to_string();
    assert!(
        out.status.success(),
        "reflex conform against firmware/sim: {}\n{stdout}\nstderr: {}\nfirmware log:\n{}",
        out.status,
        out.stderr,
        sim.log_text()
    );
    let counts: Vec<usize> = summary.split(|c: char| !c.is_ascii_digit()).filter_map(|n| n.parse().ok()).collect();
    assert!(summary.contains("passed") && counts.len() >= 2, "no summary: {stdout}");
    assert_eq!(counts[1], 0, "{summary}");
    assert!(counts[0] >= 300, "only {} cases ran: {stdout}", counts[0]);
    eprintln!("reflex conform against firmware/sim: {summary} in {:.2} s", t.elapsed().as_secs_f64());
}

/// A sleeping handler holds up only its own connection: `fast_operation` on a second
/// connection is answered while `slow_operation` sleeps on the first, and three
/// `slow_operation`s on three connections take one second together, not three.
#[test]
fn concurrent_connections() {
    let sim = Sim::start();

    let before = sim.accepted();
    let t0 = Instant::now();
    let mut slow = sim.spawn_reflex(&["call", URL, "slow_operation"]);
    // The slow call's connection is up (its request follows at once) ...
    let deadline = Instant::now() + WAIT;
    while sim.accepted() == before {
        assert!(Instant::now() < deadline, "the slow call never connected:\n{}", sim.log_text());
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(100));
    // ... and a fast call on another connection is answered meanwhile.
    let t = Instant::now();
    assert_eq!(sim.call_ok(&["fast_operation"]), "41");
    let fast = t.elapsed();
    assert!(
        slow.try_wait().expect("wait").is_none(),
        "slow_operation was answered before the fast call finished ({:?} after it was sent)",
        t0.elapsed()
    );
    assert!(fast < Duration::from_millis(500), "fast_operation took {fast:?} while slow_operation slept");
    let out = wait(slow, WAIT, "reflex call slow_operation");
    let elapsed = t0.elapsed();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout.trim(), "42");
    assert!(elapsed >= Duration::from_secs(1), "slow_operation answered after {elapsed:?}");
    slow = sim.spawn_reflex(&["call", URL, "fast_operation"]); // the slot is free again
    assert_eq!(wait(slow, WAIT, "reflex call fast_operation").stdout.trim(), "41");

    let t = Instant::now();
    let calls: Vec<Child> = (0..3).map(|_| sim.spawn_reflex(&["call", URL, "slow_operation"])).collect();
    for c in calls {
        let out = wait(c, WAIT, "reflex call slow_operation");
        assert!(out.status.success(), "{out:?}");
        assert_eq!(out.stdout.trim(), "42");
    }
    let three = t.elapsed();
    assert!(three < Duration::from_millis(1800), "three concurrent slow_operations took {three:?}");
    eprintln!(
        "firmware/sim: fast_operation (a whole `reflex call`) answered in {:.1} ms while slow_operation slept; \
         3 concurrent slow_operations took {:.3} s",
        fast.as_secs_f64() * 1e3,
        three.as_secs_f64()
    );
}
