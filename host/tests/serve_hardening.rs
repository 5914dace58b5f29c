//! `reflex serve`, the real binary, with the hardening options: start-up warnings about
//! plaintext listeners and Basic auth over `http://`, credentials from a file and from
//! `REFLEX_BASIC_AUTH`, Unix socket modes, and the TLS options `--tls13-only`,
//! `--client-crl` and `--client-cn`. Loopback only; every wait is bounded and every child is
//! killed (by its PID, through `Child`) when a test ends.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

mod support;

use support::{reflex_command, reflex_run, serve_command, temp_dir, Serve, WAIT};

/// `reflex serve --listen URL... EXTRA...` with the variables `env`, logging at `info` (the
/// tests read its warnings) and without a `REFLEX_BASIC_AUTH` of the caller's, which would
/// add credentials, unless `env` sets one.
fn command(listen: &[&str], extra: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = serve_command(listen, extra);
    cmd.env("RUST_LOG", "info").env_remove("REFLEX_BASIC_AUTH").envs(env.iter().copied());
    cmd
}

/// [`command`], started: waits for the `listening on` line of each of `listen`.
fn start(listen: &[&str], extra: &[&str], env: &[(&str, &str)]) -> Serve {
    Serve::spawn(command(listen, extra, env), listen.len())
}

/// Stops `serve` with SIGTERM, so that it has written all it will, and returns its stderr.
fn stop(serve: Serve) -> String {
    serve.stop("TERM").1
}

/// [`command`], expected to fail at start-up: its exit code and stderr.
fn fails(listen: &[&str], extra: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let run = reflex_run(&mut command(listen, extra, env), "", WAIT);
    (run.status.code(), run.stderr)
}

/// Writes a file with the given mode.
fn write(path: &Path, text: &str, mode: u32) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

const WHO: &str = r#"{"jsonrpc":"2.0","method":"get_username","id":1}"#;

/// POSTs `WHO` to `address` (`host:port/path`, as [`Serve::address`] gives it) with optional
/// Basic credentials; the status code and the body.
fn post(address: &str, credentials: Option<&str>) -> (u16, String) {
    use base64::Engine as _;
    let (host, path) = address.split_once('/').unwrap_or((address, ""));
    let mut s = TcpStream::connect(host).expect("connect");
    s.set_read_timeout(Some(WAIT)).unwrap();
    let auth = credentials.map_or(String::new(), |c| {
        format!("Authorization: Basic {}\r\n", base64::engine::general_purpose::STANDARD.encode(c))
    });
    write!(
        s,
        "POST /{path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n{auth}\r\n{WHO}",
        WHO.len()
    )
    .unwrap();
    let mut response = String::new();
    s.read_to_string(&mut response).expect("HTTP response");
    let status = response.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or_else(|| panic!("{response:?}"));
    let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_string();
    (status, body)
}

// ------------------------------------------------------------------------------------------
// Warnings

#[test]
fn plaintext_warnings_at_start_up() {
    // Loopback listeners without Basic: nothing to warn about.
    let serve = start(&["tcp://127.0.0.1:0", "http://127.0.0.1:0/rpc"], &[], &[]);
    let stderr = stop(serve);
    assert!(!stderr.contains("WARN"), "{stderr}");

    // Basic auth on http://, even on loopback: the passwords are in clear text.
    let serve = start(
        &["tcp://127.0.0.1:0", "http://127.0.0.1:0/rpc", "tcp://localhost:0"],
        &[],
        &[("REFLEX_BASIC_AUTH", "alice:s3cret")],
    );
    let http = serve.endpoints[1].clone();
    let stderr = stop(serve);
    assert!(stderr.contains(&format!("Basic auth on {http}: passwords travel in clear text")), "{stderr}");
    assert!(!stderr.contains("reachable from other machines"), "loopback is not reachable: {stderr}");
    assert!(!stderr.contains("s3cret"), "{stderr}");
}

// ------------------------------------------------------------------------------------------
// Credentials off the command line

#[test]
fn basic_auth_from_a_file() {
    let dir = temp_dir("hardening-file");
    let file = dir.join("users");
    write(&file, "# who may call\n\nalice:s3cret\r\nbob:pw:with:colons\n", 0o600);
    let serve = start(
        &["http://127.0.0.1:0/rpc"],
        &["--basic-auth-file", file.to_str().unwrap(), "--basic-auth", "carol:cli"],
        &[],
    );
    let addr = serve.address("http");
    assert_eq!(post(addr, None).0, 401);
    assert_eq!(post(addr, Some("alice:wrong")).0, 401);
    assert_eq!(post(addr, Some("# who may call")).0, 401, "comments are no credentials");
    assert_eq!(post(addr, Some("alice:s3cret")), (200, r#"{"jsonrpc":"2.0","result":"alice","id":1}"#.into()));
    assert_eq!(post(addr, Some("bob:pw:with:colons")).1, r#"{"jsonrpc":"2.0","result":"bob","id":1}"#);
    // The file adds to --basic-auth.
    assert_eq!(post(addr, Some("carol:cli")).1, r#"{"jsonrpc":"2.0","result":"carol","id":1}"#);
    let stderr = stop(serve);
    assert!(!stderr.contains("s3cret"), "{stderr}");

    // A group-readable file is used, with a warning.
    write(&file, "alice:s3cret\n", 0o640);
    let serve = start(&["http://127.0.0.1:0/rpc"], &["--basic-auth-file", file.to_str().unwrap()], &[]);
    assert_eq!(post(serve.address("http"), Some("alice:s3cret")).0, 200);
    let stderr = stop(serve);
    assert!(stderr.contains("WARN") && stderr.contains("its group may read"), "{stderr}");

    // Refused: a file other users may read, one without credentials, a malformed one, a
    // missing one. The password is never printed.
    let path = file.to_str().unwrap();
    for (text, mode, expected) in [
        ("alice:s3cret\n", 0o644, "other users may read or write it"),
        ("alice:s3cret\n", 0o606, "other users may read or write it"),
        ("# nobody yet\n", 0o600, "no USER:PASSWORD line"),
        ("alice:ok\nalice s3cret\n", 0o600, "line 2: expected USER:PASSWORD"),
    ] {
        write(&file, text, mode);
        let (code, stderr) = fails(&["http://127.0.0.1:0/rpc"], &["--basic-auth-file", path], &[]);
        assert_eq!(code, Some(1), "{stderr}");
        assert!(stderr.contains(expected) && stderr.contains(path), "{stderr}");
        assert!(!stderr.contains("s3cret"), "{stderr}");
    }
    let missing = dir.join("missing");
    let (code, stderr) = fails(&["http://127.0.0.1:0/rpc"], &["--basic-auth-file", missing.to_str().unwrap()], &[]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("missing"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn basic_auth_from_the_environment() {
    let env = [("REFLEX_BASIC_AUTH", "alice:s3cret, with spaces")];
    let serve = start(&["http://127.0.0.1:0/rpc"], &[], &env);
    let addr = serve.address("http");
    assert_eq!(post(addr, None).0, 401);
    assert_eq!(post(addr, Some("alice:s3cret")).0, 401, "the whole value is the password");
    assert_eq!(post(addr, Some("alice:s3cret, with spaces")).1, r#"{"jsonrpc":"2.0","result":"alice","id":1}"#);
    drop(serve);

    // --basic-auth replaces the environment variable (clap's usual precedence).
    let serve = start(&["http://127.0.0.1:0/rpc"], &["--basic-auth", "bob:pw"], &env);
    let addr = serve.address("http");
    assert_eq!(post(addr, Some("alice:s3cret, with spaces")).0, 401);
    assert_eq!(post(addr, Some("bob:pw")).0, 200);
    drop(serve);

    // Malformed or empty: a usage error that does not show the value. --help does not either.
    for value in ["alice-s3cret", ":s3cret", ""] {
        let (code, stderr) = fails(&["http://127.0.0.1:0/rpc"], &[], &[("REFLEX_BASIC_AUTH", value)]);
        assert_eq!(code, Some(2), "{value:?}: {stderr}");
        assert!(stderr.contains("USER:PASSWORD"), "{stderr}");
        assert!(value.is_empty() || !stderr.contains(value), "{stderr}");
    }
    let help =
        reflex_run(reflex_command(&["serve", "--help"]).env("REFLEX_BASIC_AUTH", "alice:s3cret"), "", WAIT).stdout;
    assert!(help.contains("REFLEX_BASIC_AUTH") && help.contains("--basic-auth-file"), "{help}");
    assert!(!help.contains("s3cret"), "{help}");
}

// ------------------------------------------------------------------------------------------
// Unix socket mode

#[test]
fn unix_socket_mode_option() {
    let dir = temp_dir("hardening-unix-mode");
    let sock = dir.join("r.sock");
    let url = format!("unix://{}?mode=0600", sock.display());
    let serve = start(&[&url], &[], &[]);
    assert_eq!(serve.endpoints, [url.as_str()]);
    assert_eq!(std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777, 0o600);
    let names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, ["r.sock"], "only the socket is left");
    let mut u = std::os::unix::net::UnixStream::connect(&sock).expect("connect");
    u.set_read_timeout(Some(WAIT)).unwrap();
    assert_eq!(try_call(&mut u, WHO).as_deref(), Some(r#"{"jsonrpc":"2.0","result":null,"id":1}"#));
    drop(serve);

    let (code, stderr) = fails(&[&format!("unix://{}?mode=0999", sock.display())], &[], &[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("mode must be octal"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

// ------------------------------------------------------------------------------------------
// TLS options

/// Test certificates: a CA, a server certificate for localhost, client certificates, a CRL.
struct Pki {
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    ca_pem: String,
    ca_der: Vec<u8>,
    serial: u64,
}

/// A client certificate and its key (DER), and its serial number.
struct Client {
    cert: Vec<u8>,
    key: Vec<u8>,
    serial: u64,
}

impl Pki {
    fn new() -> Pki {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.distinguished_name.push(rcgen::DnType::CommonName, "hardening test CA");
        params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::CrlSign];
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Pki { ca_pem: cert.pem(), ca_der: cert.der().to_vec(), issuer: rcgen::Issuer::new(params, key), serial: 1000 }
    }

    fn leaf(
        &mut self,
        cn: &str,
        names: &[&str],
        usage: rcgen::ExtendedKeyUsagePurpose,
    ) -> (rcgen::Certificate, rcgen::KeyPair, u64) {
        self.serial += 1;
        let mut params =
            rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
        params.distinguished_name.push(rcgen::DnType::CommonName, cn);
        params.extended_key_usages = vec![usage];
        params.serial_number = Some(self.serial.into());
        params.use_authority_key_identifier_extension = true;
        let key = rcgen::KeyPair::generate().unwrap();
        (params.signed_by(&key, &self.issuer).unwrap(), key, self.serial)
    }

    /// Certificate and key of a server for localhost, in one PEM.
    fn server_pem(&mut self) -> String {
        let (cert, key, _) =
            self.leaf("localhost", &["localhost", "127.0.0.1"], rcgen::ExtendedKeyUsagePurpose::ServerAuth);
        format!("{}{}", cert.pem(), key.serialize_pem())
    }

    fn client(&mut self, cn: &str) -> Client {
        let (cert, key, serial) = self.leaf(cn, &[], rcgen::ExtendedKeyUsagePurpose::ClientAuth);
        Client { cert: cert.der().to_vec(), key: key.serialize_der(), serial }
    }

    /// A CRL revoking `revoked`.
    fn crl(&self, revoked: &[&Client]) -> String {
        let params = rcgen::CertificateRevocationListParams {
            this_update: rcgen::date_time_ymd(2024, 1, 1),
            next_update: rcgen::date_time_ymd(2099, 1, 1),
            crl_number: 1u64.into(),
            issuing_distribution_point: None,
            revoked_certs: revoked
                .iter()
                .map(|c| rcgen::RevokedCertParams {
                    serial_number: c.serial.into(),
                    revocation_time: rcgen::date_time_ymd(2024, 1, 1),
                    reason_code: None,
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: rcgen::KeyIdMethod::Sha256,
        };
        params.signed_by(&self.issuer).unwrap().pem().unwrap()
    }

    /// A blocking TLS connection to `addr` as `client`, speaking only `versions`.
    fn connect(
        &self,
        addr: &str,
        client: &Client,
        versions: &[&'static rustls::SupportedProtocolVersion],
    ) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca_der.clone().into()).unwrap();
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_protocol_versions(versions)
            .unwrap()
            .with_root_certificates(roots)
            .with_client_auth_cert(
                vec![client.cert.clone().into()],
                rustls_pki_types::PrivateKeyDer::Pkcs8(client.key.clone().into()),
            )
            .unwrap();
        let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
        let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
        let tcp = TcpStream::connect(addr).expect("connect");
        tcp.set_read_timeout(Some(WAIT)).unwrap();
        tcp.set_write_timeout(Some(WAIT)).unwrap();
        rustls::StreamOwned::new(conn, tcp)
    }
}

/// Sends one line and reads the reply line; `None` when the connection fails or ends first
/// (for TLS: the handshake was refused).
fn try_call<S: Read + Write>(stream: &mut S, request: &str) -> Option<String> {
    stream.write_all(format!("{request}\n").as_bytes()).ok()?;
    stream.flush().ok()?;
    let mut reply = Vec::new();
    let mut byte = [0u8; 1];
    while !reply.ends_with(b"\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => reply.push(byte[0]),
            _ => return None,
        }
    }
    Some(String::from_utf8(reply).expect("UTF-8").trim_end().to_string())
}

#[test]
fn tls13_only_crl_and_cn_allow_list() {
    let dir = temp_dir("hardening-tls");
    let mut pki = Pki::new();
    let server = dir.join("server.pem");
    std::fs::write(&server, pki.server_pem()).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, &pki.ca_pem).unwrap();
    let (alice, bob, carol) = (pki.client("alice"), pki.client("bob"), pki.client("carol"));
    let crl = dir.join("crl.pem");
    std::fs::write(&crl, pki.crl(&[&carol])).unwrap();
    let (server, ca, crl) = (server.to_str().unwrap(), ca.to_str().unwrap(), crl.to_str().unwrap());
    let (tls12, tls13) = ([&rustls::version::TLS12], [&rustls::version::TLS13]);

    let (tls, tls_args) = (["tls://127.0.0.1:0"], ["--tls-cert", server, "--client-ca", ca]);
    // Without the options: TLS 1.2 is served, and so are bob and carol.
    let serve = start(&tls, &tls_args, &[]);
    let addr = serve.address("tls");
    for (client, name) in [(&alice, "alice"), (&bob, "bob"), (&carol, "carol")] {
        let reply = try_call(&mut pki.connect(addr, client, &tls12), WHO);
        assert_eq!(reply, Some(format!(r#"{{"jsonrpc":"2.0","result":"{name}","id":1}}"#)));
    }
    drop(serve);

    let hardened =
        [&tls_args[..], &["--tls13-only", "--client-crl", crl, "--client-cn", "alice", "--client-cn", "carol"]]
            .concat();
    let serve = start(&tls, &hardened, &[]);
    let addr = serve.address("tls");
    let reply = try_call(&mut pki.connect(addr, &alice, &tls13), WHO);
    assert_eq!(reply.as_deref(), Some(r#"{"jsonrpc":"2.0","result":"alice","id":1}"#));
    assert_eq!(try_call(&mut pki.connect(addr, &alice, &tls12), WHO), None, "TLS 1.2 is refused");
    assert_eq!(try_call(&mut pki.connect(addr, &bob, &tls13), WHO), None, "bob is not on the allow-list");
    assert_eq!(try_call(&mut pki.connect(addr, &carol, &tls13), WHO), None, "carol's certificate is revoked");
    let reply = try_call(&mut pki.connect(addr, &alice, &tls13), WHO);
    assert!(reply.is_some(), "still serving");
    drop(serve);

    // The CRL and CN options need a client CA; --tls13-only a certificate.
    for (listen, extra) in [
        (&tls[..], &["--tls-cert", server, "--client-crl", crl][..]),
        (&tls, &["--tls-cert", server, "--client-cn", "alice"]),
        (&[], &["--tls13-only"]),
    ] {
        let (code, stderr) = fails(listen, extra, &[]);
        assert_eq!(code, Some(2), "{listen:?} {extra:?}: {stderr}");
    }
    // A CRL file without a CRL.
    let (code, stderr) = fails(&tls, &[&tls_args[..], &["--client-crl", ca]].concat(), &[]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("no certificate revocation list"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}
