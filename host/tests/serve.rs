//! `reflex serve`, the real binary: start-up output, listeners, TLS from one PEM, start-up
//! errors, and shutdown on SIGTERM / SIGINT (exit 0, Unix socket file removed).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

mod support;

use support::{reflex_command, reflex_run, serve_command, temp_dir, Serve, WAIT};

/// `reflex serve --listen URL... EXTRA...`, logging at `info`: the tests read its start-up
/// and shutdown messages.
fn start(listen: &[&str], extra: &[&str]) -> Serve {
    let mut cmd = serve_command(listen, extra);
    cmd.env("RUST_LOG", "info");
    Serve::spawn(cmd, listen.len())
}

/// Sends one line, returns the reply line (which must end in CRLF) without its CRLF.
fn call<S: Read + Write>(stream: &mut S, request: &str) -> String {
    stream.write_all(format!("{request}\n").as_bytes()).expect("write");
    let mut reply = Vec::new();
    let mut byte = [0u8; 1];
    while !reply.ends_with(b"\n") {
        let n = stream.read(&mut byte).expect("read");
        assert!(n > 0, "closed before a reply: {:?}", String::from_utf8_lossy(&reply));
        reply.push(byte[0]);
    }
    let reply = String::from_utf8(reply).expect("UTF-8");
    assert!(reply.ends_with("\r\n"), "{reply:?}");
    reply.trim_end().to_string()
}

fn tcp(addr: &str) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(WAIT)).unwrap();
    s
}

const ADD: &str = r#"{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1}"#;
const ADD_REPLY: &str = r#"{"jsonrpc":"2.0","result":3,"id":1}"#;
const ECHO: &str = r#"{"method": "echo", "params": ["hi"], "id": 2}"#;
const ECHO_REPLY: &str = r#"{"result": "hi", "id": 2, "error": null}"#;

#[test]
fn serves_every_plain_listener_and_stops_cleanly_on_sigterm() {
    let dir = temp_dir("serve-sigterm");
    let sock = dir.join("reflex.sock");
    let unix_url = format!("unix://{}", sock.display());
    let serve = start(&["tcp://127.0.0.1:0", "http://127.0.0.1:0/rpc", &unix_url], &[]);
    assert_eq!(serve.endpoints.len(), 3);
    assert!(serve.endpoints[0].starts_with("tcp://127.0.0.1:") && !serve.endpoints[0].ends_with(":0"));
    assert!(serve.endpoints[1].starts_with("http://127.0.0.1:") && serve.endpoints[1].ends_with("/rpc"));
    assert_eq!(serve.endpoints[2], unix_url);

    let mut t = tcp(serve.address("tcp"));
    assert_eq!(call(&mut t, ADD), ADD_REPLY);
    assert_eq!(call(&mut t, ECHO), ECHO_REPLY);

    let mut u = UnixStream::connect(&sock).expect("unix connect");
    u.set_read_timeout(Some(WAIT)).unwrap();
    assert_eq!(call(&mut u, ADD), ADD_REPLY);
    assert_eq!(call(&mut u, ECHO), ECHO_REPLY);

    let addr = serve.address("http").trim_end_matches("/rpc");
    let mut h = tcp(addr);
    write!(h, "POST /rpc HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n{ADD}", ADD.len()).unwrap();
    let mut response = vec![0u8; 4096];
    let n = h.read(&mut response).expect("HTTP response");
    let response = String::from_utf8_lossy(&response[..n]).to_string();
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(response.contains("\r\nContent-Length: 35\r\n"), "{response}");
    assert!(response.ends_with(ADD_REPLY), "{response}");

    let (status, stderr) = serve.stop("TERM");
    assert_eq!(status.code(), Some(0), "exit status; stderr: {stderr}");
    assert!(!sock.exists(), "the Unix socket file is removed");
    assert!(stderr.contains("shutting down"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sigint_finishes_the_request_in_flight_then_exits_zero() {
    let serve = start(&["tcp://127.0.0.1:0"], &[]);
    let mut t = tcp(serve.address("tcp"));
    assert_eq!(call(&mut t, ADD), ADD_REPLY);
    let addr = serve.address("tcp").to_string();
    let worker = std::thread::spawn(move || {
        let mut t = tcp(&addr);
        call(&mut t, r#"{"jsonrpc":"2.0","method":"slow_operation","id":9}"#)
    });
    std::thread::sleep(Duration::from_millis(300));
    let (status, stderr) = serve.stop("INT");
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert_eq!(worker.join().expect("slow call"), r#"{"jsonrpc":"2.0","result":42,"id":9}"#);
}

fn rustls_provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

#[test]
fn tls_from_one_pem_with_certificate_and_key() {
    // A CA and a server certificate for localhost, written as ReflectRPC's server.pem
    // (certificate and key in one file, no --tls-key).
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "serve test CA");
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let leaf_params = rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();
    let dir = temp_dir("serve-tls");
    let pem = dir.join("server.pem");
    std::fs::write(&pem, format!("{}{}", leaf.pem(), leaf_key.serialize_pem())).unwrap();

    let serve = start(&["tls://127.0.0.1:0"], &["--tls-cert", pem.to_str().unwrap()]);
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca_cert.der().clone()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(rustls_provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let mut stream = rustls::StreamOwned::new(conn, tcp(serve.address("tls")));
    assert_eq!(call(&mut stream, ADD), ADD_REPLY);
    assert_eq!(
        call(&mut stream, r#"{"method": "is_authenticated", "params": [], "id": 3}"#),
        r#"{"result": false, "id": 3, "error": null}"#
    );
    let (status, _) = serve.stop("TERM");
    assert_eq!(status.code(), Some(0));
    let _ = std::fs::remove_dir_all(&dir);
}

/// `reflex ARGS`, logging at `info` as [`start`] does: its exit code and stderr.
fn run_to_exit(args: &[&str]) -> (Option<i32>, String) {
    let out = reflex_run(reflex_command(args).env("RUST_LOG", "info"), "", WAIT);
    (out.status.code(), out.stderr)
}

#[test]
fn start_up_errors_exit_nonzero_with_a_message() {
    let (code, stderr) = run_to_exit(&["serve", "--listen", "https://127.0.0.1:0/rpc"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("--tls-cert"), "{stderr}");

    let (code, stderr) = run_to_exit(&["serve", "--listen", "ftp://x:1"]);
    assert_eq!(code, Some(2), "usage error: {stderr}");
    assert!(stderr.contains("invalid endpoint"), "{stderr}");

    let (code, stderr) = run_to_exit(&["serve", "--basic-auth", "no-colon"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("USER:PASSWORD"), "{stderr}");

    let missing = Path::new("/nonexistent/reflex/cert.pem");
    let (code, stderr) =
        run_to_exit(&["serve", "--listen", "tls://127.0.0.1:0", "--tls-cert", missing.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("cert.pem"), "{stderr}");
}

#[test]
fn debug_mode_warns_and_exposes_internal_errors() {
    let serve = start(&["tcp://127.0.0.1:0"], &["--debug", "--basic-auth", "testuser:123456"]);
    let mut t = tcp(serve.address("tcp"));
    let reply = call(&mut t, r#"{"jsonrpc":"2.0","method":"error.internal","id":1}"#);
    assert!(reply.contains("device log only"), "{reply}");
    let (status, stderr) = serve.stop("TERM");
    assert_eq!(status.code(), Some(0));
    assert!(stderr.contains("WARN") && stderr.contains("--debug"), "{stderr}");
    // The internal error is logged on the server.
    assert!(stderr.contains("internal error"), "{stderr}");
}
