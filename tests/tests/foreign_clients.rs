//! Foreign clients against the reflex host server: ReflectRPC 0.7.6's own `RpcClient`, `rpcsh`,
//! `rpcdoc` and `rpcgencode` over tcp, unix and http, and the Python clients jsonrpcclient
//! 4.0.3 and jsonrpclib-pelix 1.2.0 over HTTP.
//!
//! Each test starts [`Server`] in process (demo service, port 0 and a fresh Unix socket path,
//! on a tokio runtime in a background thread), runs one script of `tests/python/` with the
//! venv's Python against it, asserts on the script's exit code and on the JSON lines it prints
//! (`{"check": NAME, "value": ...}`, then `ok`), and stops the server.
//!
//! The venv is `target/pyenv`, made by `tests/python/setup.sh` (pinned versions in
//! `tests/python/requirements.txt`). The tests run that script themselves, once per test binary
//! (quick when the venv is up to date), so `cargo test` works on a fresh clone; when it fails
//! (no python3, no venv module, no PyPI) every test here fails with its output. Nothing is
//! skipped.
//!
//! Everything is bounded: a script that runs longer than [`SCRIPT_TIMEOUT`] is killed with its
//! whole process group (rpcsh, which pexpect runs on a terminal of its own, gets a hangup when
//! the script dies) and the test fails. The scripts bound their own waits as well (pexpect 10 s
//! per prompt, the tools 30 s, HTTP 10 s), so a failure usually shows as a readable assertion.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use reflex_host::server::{Server, ServerConfig, ServerError};
use reflex_host::Endpoint;
use reflex_tests::certs::TempDir;
use serde_json::{json, Value};
use tokio::sync::oneshot;

/// Longest one Python script may run.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest `tests/python/setup.sh` may take (a fresh venv downloads from PyPI).
const SETUP_TIMEOUT: Duration = Duration::from_secs(600);
/// Longest the server may take to bind, or to stop.
const SERVER_WAIT: Duration = Duration::from_secs(10);

/// The error message every demo-service TypeError test expects, byte-exact (compat §4).
const ADD_FLOAT_MESSAGE: &str = "add: Expected value of type 'int' for parameter 'b' but got value of type 'float'";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

fn python_dir() -> PathBuf {
    repo_root().join("tests").join("python")
}

// ------------------------------------------------------------------------------------------
// Processes

/// What a finished child process left.
struct Finished {
    status: ExitStatus,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

/// Runs `command` with stdin from /dev/null, capturing stdout and stderr, in its own process
/// group; kills the group and returns `Err` if it runs longer than `timeout`.
fn run_bounded(mut command: Command, timeout: Duration) -> Result<Finished, String> {
    use std::os::unix::process::CommandExt;

    let description = format!("{command:?}");
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0);
    let start = Instant::now();
    let mut child = command.spawn().map_err(|e| format!("cannot start {description}: {e}"))?;
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));

    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if start.elapsed() >= timeout => break None,
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(format!("waiting for {description}: {e}")),
        }
    };
    let Some(status) = status else {
        // The child leads its own process group: end the group (this child and whatever it
        // started), then reap the child.
        let _ = Command::new("kill").arg("-KILL").arg("--").arg(format!("-{}", child.id())).status();
        let _ = child.kill();
        let _ = child.wait();
        let out = stdout.join().unwrap_or_default();
        let err = stderr.join().unwrap_or_default();
        return Err(format!(
            "{description} did not finish within {timeout:?} and was killed\n--- stdout ---\n{out}\n--- stderr ---\n{err}"
        ));
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    Ok(Finished { status, stdout, stderr, elapsed: start.elapsed() })
}

/// The venv's Python, after `tests/python/setup.sh` made sure the venv is there and current.
/// Runs the script once per test binary; panics (failing the test) with its output when it
/// fails.
fn venv_python() -> &'static Path {
    static PYTHON: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let result = PYTHON.get_or_init(|| {
        let setup = python_dir().join("setup.sh");
        let mut command = Command::new("bash");
        command.arg(&setup);
        let finished = run_bounded(command, SETUP_TIMEOUT)?;
        if !finished.status.success() {
            return Err(format!(
                "{} failed ({}): the foreign-client tests need Python 3 with venv and pip, and PyPI\n\
                 --- stdout ---\n{}\n--- stderr ---\n{}",
                setup.display(),
                finished.status,
                finished.stdout,
                finished.stderr
            ));
        }
        let python = repo_root().join("target").join("pyenv").join("bin").join("python");
        if !python.exists() {
            return Err(format!("{} succeeded but {} does not exist", setup.display(), python.display()));
        }
        Ok(python)
    });
    match result {
        Ok(python) => python,
        Err(e) => panic!("the Python environment for the foreign-client tests is not usable:\n{e}"),
    }
}

/// A script's output: its JSON check lines by name.
struct ScriptRun {
    checks: HashMap<String, Value>,
    stdout: String,
}

impl ScriptRun {
    fn check(&self, name: &str) -> &Value {
        self.checks.get(name).unwrap_or_else(|| panic!("the script printed no {name:?} check:\n{}", self.stdout))
    }
}

/// Runs `tests/python/<script>` with the venv's Python and `args`; it must exit 0 and print
/// `ok` last. Otherwise the test fails showing its stdout and stderr.
fn run_script(script: &str, args: &[&str]) -> ScriptRun {
    let python = venv_python();
    let mut command = Command::new(python);
    command
        .arg(python_dir().join(script))
        .args(args)
        .current_dir(python_dir())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONUNBUFFERED", "1")
        .env("PYTHONIOENCODING", "utf-8")
        .env_remove("PYTHONPATH")
        .env_remove("PYTHONHOME");
    let finished = run_bounded(command, SCRIPT_TIMEOUT).unwrap_or_else(|e| panic!("{script} {args:?}: {e}"));
    let show = || {
        format!(
            "{script} {args:?} exited with {} after {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            finished.status, finished.elapsed, finished.stdout, finished.stderr
        )
    };
    assert!(finished.status.success(), "{}", show());
    assert_eq!(finished.stdout.lines().last(), Some("ok"), "the script must print ok last\n{}", show());
    let mut checks = HashMap::new();
    for line in finished.stdout.lines().filter(|l| l.starts_with('{')) {
        let v: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("bad check line {line:?}: {e}\n{}", show()));
        let name = v["check"].as_str().unwrap_or_else(|| panic!("check line without a name: {line}")).to_string();
        checks.insert(name, v["value"].clone());
    }
    eprintln!("{script} {args:?}: ok in {:?}", finished.elapsed);
    ScriptRun { checks, stdout: finished.stdout }
}

// ------------------------------------------------------------------------------------------
// The server

/// The demo service served in process on tcp, unix and http (`/rpc`), on its own tokio
/// runtime in a background thread. Stopped by [`TestServer::stop`] or, if a test panics
/// first, when dropped.
struct TestServer {
    endpoints: Vec<Endpoint>,
    dir: TempDir,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<Result<(), ServerError>>>,
}

impl TestServer {
    fn start() -> TestServer {
        let dir = TempDir::new("foreign");
        let listen = [
            "tcp://127.0.0.1:0".to_string(),
            format!("unix://{}", dir.path().join("reflex.sock").display()),
            "http://127.0.0.1:0/rpc".to_string(),
        ];
        let config = ServerConfig {
            listen: listen.iter().map(|l| l.parse().expect("endpoint")).collect(),
            workers: 2,
            shutdown_timeout: Duration::from_secs(2),
            ..ServerConfig::default()
        };
        let (ready_tx, ready_rx) = mpsc::channel::<Result<Vec<Endpoint>, String>>();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
            runtime.block_on(async move {
                let server = match Server::bind(Arc::new(reflex_host::demo_service()), config).await {
                    Ok(server) => server,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return Err(e);
                    }
                };
                let _ = ready_tx.send(Ok(server.endpoints()));
                server
                    .run_until(async move {
                        let _ = stop_rx.await;
                    })
                    .await
            })
        });
        let endpoints = match ready_rx.recv_timeout(SERVER_WAIT) {
            Ok(Ok(endpoints)) => endpoints,
            Ok(Err(e)) => panic!("the server did not start: {e}"),
            Err(e) => panic!("the server did not report its endpoints within {SERVER_WAIT:?}: {e}"),
        };
        TestServer { endpoints, dir, stop: Some(stop_tx), thread: Some(thread) }
    }

    /// The endpoint URL of a scheme (`tcp`, `unix`, `http`), as reflex prints it.
    fn url(&self, scheme: &str) -> String {
        self.endpoints
            .iter()
            .map(|e| e.to_string())
            .find(|e| e.starts_with(&format!("{scheme}://")))
            .unwrap_or_else(|| panic!("no {scheme} endpoint in {:?}", self.endpoints))
    }

    /// A scratch directory for the tools' output files (removed with the server).
    fn scratch(&self) -> String {
        self.dir.path().display().to_string()
    }

    /// Signals shutdown and waits (bounded) for the server thread; the server must have run
    /// without error and removed its Unix socket file.
    fn stop(mut self) {
        let result = self.shutdown().expect("the server thread did not finish in time");
        result.expect("the server ran without error");
        assert!(!self.dir.path().join("reflex.sock").exists(), "the Unix socket file is removed on shutdown");
    }

    fn shutdown(&mut self) -> Option<Result<(), ServerError>> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let thread = self.thread.take()?;
        let deadline = Instant::now() + SERVER_WAIT;
        while !thread.is_finished() {
            if Instant::now() >= deadline {
                return None; // Leave it detached rather than hang the test binary.
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Some(thread.join().expect("server thread panicked"))
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

// ------------------------------------------------------------------------------------------
// ReflectRPC's RpcClient

fn reflectrpc_client(scheme: &str) {
    let server = TestServer::start();
    let run = run_script("reflectrpc_client.py", &[&server.url(scheme)]);
    assert_eq!(run.check("describe_service"), &json!({"name": "reflex demo device", "version": "1.0.0"}));
    let functions = run.check("functions").as_array().expect("function names");
    for f in ["echo", "add", "enum_echo", "hash_echo", "echo_ints"] {
        assert!(functions.contains(&json!(f)), "{f} missing from {functions:?}");
    }
    assert_eq!(run.check("custom_types"), &json!(["PhoneType", "Address", "DeviceInfo"]));
    assert_eq!(run.check("add"), &json!(3));
    assert_eq!(run.check("add_float_error"), &json!({"name": "TypeError", "message": ADD_FLOAT_MESSAGE}));
    let terminator = if scheme == "http" { "" } else { "\r\n" };
    assert_eq!(
        run.check("raw_echo"),
        &json!(format!(r#"{{"result": "Hello Server", "id": 77, "error": null}}{terminator}"#))
    );
    server.stop();
}

#[test]
fn reflectrpc_client_tcp() {
    reflectrpc_client("tcp");
}

#[test]
fn reflectrpc_client_unix() {
    reflectrpc_client("unix");
}

#[test]
fn reflectrpc_client_http() {
    reflectrpc_client("http");
}

// ------------------------------------------------------------------------------------------
// rpcsh

fn rpcsh(scheme: &str) {
    let server = TestServer::start();
    let url = server.url(scheme);
    let run = run_script("rpcsh_session.py", &[&url]);
    let intro = run.check("intro").as_array().expect("intro lines");
    let shown = match scheme {
        "unix" => url.clone(),
        _ => url.split("://").nth(1).expect("authority").trim_end_matches("/rpc").to_string(),
    };
    assert!(intro.contains(&json!(format!("RPC server: {shown}"))), "{intro:?}");
    assert_eq!(intro.last(), Some(&json!("reflex demo device (1.0.0)")));
    assert!(run.check("list").as_array().expect("list lines").contains(&json!("echo(message)")));
    assert_eq!(run.check("type_phone")[2], json!("    [0] HOME - A private number."));
    assert_eq!(run.check("exec_add"), &json!(["Server replied: 3"]));
    assert_eq!(
        run.check("exec_error"),
        &json!([format!("ERROR: {{'name': 'TypeError', 'message': \"{ADD_FLOAT_MESSAGE}\"}}")])
    );
    assert_eq!(run.check("exit_status"), &json!(0));
    server.stop();
}

#[test]
fn rpcsh_tcp() {
    rpcsh("tcp");
}

#[test]
fn rpcsh_unix() {
    rpcsh("unix");
}

#[test]
fn rpcsh_http() {
    rpcsh("http");
}

// ------------------------------------------------------------------------------------------
// rpcdoc

fn rpcdoc(scheme: &str) {
    let server = TestServer::start();
    let run = run_script("rpcdoc_check.py", &[&server.url(scheme), &server.scratch()]);
    assert_eq!(run.check("rpcdoc_exit"), &json!(0));
    assert!(run.check("functions_documented").as_u64().expect("count") >= 11);
    assert_eq!(run.check("anchors"), &json!(["type-Address", "type-DeviceInfo", "type-PhoneType"]));
    let html = std::fs::read_to_string(server.dir.path().join(format!("rpcdoc-{scheme}.html"))).expect("rpcdoc output");
    for needle in ["<a name=\"func-echo\">", "<a name=\"func-add\">", "<a name=\"type-PhoneType\">"] {
        assert!(html.contains(needle), "{needle} missing from the rpcdoc output");
    }
    server.stop();
}

#[test]
fn rpcdoc_tcp() {
    rpcdoc("tcp");
}

#[test]
fn rpcdoc_unix() {
    rpcdoc("unix");
}

#[test]
fn rpcdoc_http() {
    rpcdoc("http");
}

// ------------------------------------------------------------------------------------------
// rpcgencode

/// rpcgencode's module is used as written, except for rpcgencode's own bugs (compat §10), which
/// the script rewrites and reports: the demo's dotted function names (`def led.set(`) are not
/// escaped on any transport; over unix the constructor lacks its port argument; with
/// `--http-path /rpc` the path is not quoted.
fn rpcgencode(scheme: &str, patches: Value) {
    let server = TestServer::start();
    let run = run_script("rpcgencode_check.py", &[&server.url(scheme), &server.scratch()]);
    assert_eq!(run.check("patches"), &patches, "the rewrites rpcgencode's output needed");
    assert_eq!(run.check("generated_calls"), &json!({"add": 3, "echo": "hi"}));
    server.stop();
}

#[test]
fn rpcgencode_tcp() {
    rpcgencode("tcp", json!(["dotted-names"]));
}

#[test]
fn rpcgencode_unix() {
    rpcgencode("unix", json!(["dotted-names", "unix-port"]));
}

#[test]
fn rpcgencode_http() {
    rpcgencode("http", json!(["dotted-names", "http-path"]));
}

// ------------------------------------------------------------------------------------------
// jsonrpcclient and jsonrpclib-pelix over HTTP

#[test]
fn jsonrpcclient_http() {
    let server = TestServer::start();
    let run = run_script("jsonrpcclient_http.py", &[&server.url("http")]);
    assert_eq!(run.check("add"), &json!(3));
    assert_eq!(run.check("add_float_error")["code"], json!(-32602));
    assert_eq!(run.check("unknown_method_error")["code"], json!(-32601));
    assert_eq!(run.check("notification"), &json!({"status": 200, "body": ""}));
    assert_eq!(run.check("batch"), &json!(3));
    server.stop();
}

#[test]
fn jsonrpclib_http_v2() {
    let server = TestServer::start();
    let run = run_script("jsonrpclib_http.py", &[&server.url("http"), "2.0"]);
    assert_eq!(run.check("add"), &json!(42));
    assert_eq!(run.check("fault")[0], json!(-32602));
    assert_eq!(run.check("notification_response"), &json!(""));
    assert_eq!(run.check("batch"), &json!([5, "batch", 6]));
    server.stop();
}

#[test]
fn jsonrpclib_http_v1() {
    let server = TestServer::start();
    let run = run_script("jsonrpclib_http.py", &[&server.url("http"), "1.0"]);
    assert_eq!(run.check("add"), &json!(42));
    assert_eq!(run.check("fault"), &json!({"name": "TypeError", "message": ADD_FLOAT_MESSAGE}));
    assert_eq!(run.check("notification_response"), &json!(""));
    server.stop();
}
