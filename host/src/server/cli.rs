//! `reflex serve`: the demo service (or any service, from a custom binary) behind the
//! servers of [`crate::server`].

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use reflex::Service;

use super::{Server, ServerConfig, ServerError, DEFAULT_LISTEN};
use crate::endpoint::Endpoint;

/// Options of `reflex serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Endpoint to listen on (repeatable): tcp://HOST:PORT, unix:///PATH, tls://HOST:PORT,
    /// http://HOST:PORT/PATH, https://HOST:PORT/PATH. Port 0 picks a free port. A Unix
    /// socket file gets mode 0660 (owner and group may connect), or the octal mode of
    /// unix:///PATH?mode=0600, before it appears at PATH; a stale one is replaced, and it is
    /// removed on exit. tcp:// and http:// are plaintext (tcp:// has no authentication): a
    /// warning is logged when they listen on an address other than loopback.
    #[arg(short, long = "listen", value_name = "URL", default_value = DEFAULT_LISTEN)]
    pub listen: Vec<Endpoint>,

    /// PEM file with the server certificate chain (leaf first), for tls:// and https://.
    /// May also hold the private key.
    #[arg(long, value_name = "PEM")]
    pub tls_cert: Option<PathBuf>,

    /// PEM file with the server's private key (default: read it from --tls-cert).
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// PEM file with the CA that must have signed client certificates: TLS listeners then
    /// require one, and its subject CN is the user name.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub client_ca: Option<PathBuf>,

    /// PEM file with certificate revocation lists (X509 CRL) for --client-ca (repeatable):
    /// revoked client certificates are refused. Every CA of a client's chain below the trust
    /// anchor needs its CRL here; a certificate whose status no CRL gives is refused. Read at
    /// start-up.
    #[arg(long, value_name = "PEM", requires = "client_ca")]
    pub client_crl: Vec<PathBuf>,

    /// Accept only client certificates with this subject CN (repeatable: an allow-list of user
    /// names; default: any certificate --client-ca signed).
    #[arg(long, value_name = "NAME", requires = "client_ca", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub client_cn: Vec<String>,

    /// TLS listeners accept TLS 1.3 only (default: TLS 1.3 and 1.2).
    #[arg(long, requires = "tls_cert")]
    pub tls13_only: bool,

    /// Require HTTP Basic credentials on HTTP(S) listeners (repeatable, one per user). Every
    /// local user can read the command line (ps, /proc): prefer --basic-auth-file, or the
    /// environment variable REFLEX_BASIC_AUTH=USER:PASSWORD (one user; used when no
    /// --basic-auth is given). On http:// (not https://) passwords travel in clear text, and a
    /// warning is logged.
    #[arg(
        long,
        value_name = "USER:PASSWORD",
        value_parser = CredentialParser,
        env = "REFLEX_BASIC_AUTH",
        hide_env_values = true
    )]
    pub basic_auth: Vec<(String, String)>,

    /// Read HTTP Basic credentials from a file (repeatable; adds to --basic-auth): one
    /// USER:PASSWORD per line, taken literally (nothing trimmed); blank lines and lines
    /// starting with # are skipped. The file must not be readable or writable by other users
    /// (chmod 600 or 640), and must hold at least one credential.
    #[arg(long, value_name = "PATH")]
    pub basic_auth_file: Vec<PathBuf>,

    /// Largest request (line or HTTP body) in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 1024 * 1024)]
    pub max_request_size: usize,

    /// Largest reply in bytes (a whole batch reply included; at least 256). A larger reply
    /// is answered with -32603 "Internal error" (a batch: cut short, that error last) and
    /// logged.
    #[arg(long, value_name = "BYTES", default_value_t = 16 * 1024 * 1024)]
    pub max_response_size: usize,

    /// Most connections served at once; more are told "Server busy" (HTTP: 503) and closed.
    #[arg(long, value_name = "N", default_value_t = 1024)]
    pub max_connections: usize,

    /// Most connections at once from one client address (IPv6: per /64); more are refused
    /// like those over --max-connections. 0: no limit (clients behind a proxy or NAT share
    /// an address).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub max_connections_per_ip: usize,

    /// Close connections that send nothing for this many seconds (0: never).
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub idle_timeout: u64,

    /// Close connections whose request (a line; an HTTP head and body) has not arrived whole
    /// this many seconds after its first byte (0: never). Stops clients that hold a
    /// connection by sending a byte now and then.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub request_timeout: u64,

    /// Map JSON-RPC errors of single HTTP responses to status codes (typedjsonrpc's: 400,
    /// 404, 500; 204 for notifications) instead of always answering 200.
    #[arg(long)]
    pub http_status_codes: bool,

    /// Accept integers for float parameters.
    #[arg(long)]
    pub lenient_floats: bool,

    /// Answer unparsable input as ReflectRPC does (`InvalidRequest` / `Received invalid JSON`,
    /// id -1) instead of with a 2.0 parse error: for servers only ReflectRPC clients use.
    #[arg(long)]
    pub v1_parse_errors: bool,

    /// Send the details of internal errors to clients. Leaks internals: debugging only.
    #[arg(long)]
    pub debug: bool,

    /// Threads that run connections (default: the number of CPUs).
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,

    /// Seconds requests in flight may take to finish after SIGINT/SIGTERM.
    #[arg(long, value_name = "SECS", default_value_t = 5)]
    pub shutdown_timeout: u64,
}

/// Parses `USER:PASSWORD` for `--basic-auth` / `REFLEX_BASIC_AUTH`. Unlike a plain function
/// parser, whose errors clap prints with the rejected value, its error never shows the value:
/// a mistyped credential is still a password.
#[derive(Debug, Clone, Copy)]
struct CredentialParser;

impl clap::builder::TypedValueParser for CredentialParser {
    type Value = (String, String);

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<Self::Value, clap::Error> {
        let name = arg.map_or_else(|| "--basic-auth".to_string(), ToString::to_string);
        let fail = |what: &str| {
            let message = format!("invalid value for '{name}' (not shown: it may hold a password): {what}\n");
            clap::Error::raw(clap::error::ErrorKind::ValueValidation, message).with_cmd(cmd)
        };
        let text = value.to_str().ok_or_else(|| fail("not UTF-8"))?;
        super::auth::parse_credential(text).map_err(fail)
    }
}

impl ServeArgs {
    /// The server configuration these options describe. Fails when a credentials file
    /// (`--basic-auth-file`) cannot be used.
    pub fn config(&self) -> Result<ServerConfig, ServerError> {
        let defaults = ServerConfig::default();
        let mut basic_auth = self.basic_auth.clone();
        for path in &self.basic_auth_file {
            basic_auth.extend(super::auth::read_credentials_file(path).map_err(ServerError::Config)?);
        }
        Ok(ServerConfig {
            listen: self.listen.clone(),
            tls_cert: self.tls_cert.clone(),
            tls_key: self.tls_key.clone(),
            client_ca: self.client_ca.clone(),
            client_crl: self.client_crl.clone(),
            client_cn: self.client_cn.clone(),
            tls13_only: self.tls13_only,
            basic_auth,
            max_request_size: self.max_request_size,
            max_connections: self.max_connections,
            idle_timeout: Duration::from_secs(self.idle_timeout),
            request_timeout: Duration::from_secs(self.request_timeout),
            max_response_size: self.max_response_size,
            max_connections_per_ip: self.max_connections_per_ip,
            http_status_codes: self.http_status_codes,
            engine: reflex::Config::new()
                .strict_floats(!self.lenient_floats)
                .expose_internal_errors(self.debug)
                .v1_parse_errors(self.v1_parse_errors),
            workers: self.workers.unwrap_or(defaults.workers),
            shutdown_timeout: Duration::from_secs(self.shutdown_timeout),
        })
    }
}

/// Runs `reflex serve` with the demo service.
pub fn run(args: ServeArgs) -> ExitCode {
    run_service(Arc::new(crate::demo_service()), args)
}

/// Runs `reflex serve` with any service: binds, prints `listening on URL` on stdout for each
/// listener (the actual address), serves until SIGINT or SIGTERM, and exits 0 after a
/// graceful shutdown (1 when the server cannot start).
pub fn run_service<S: Service + Send + Sync + 'static>(service: Arc<S>, args: ServeArgs) -> ExitCode {
    if args.debug {
        tracing::warn!("--debug: internal error details are sent to clients; never use this in production");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        let server = Server::bind(service, args.config()?).await?;
        {
            let mut out = std::io::stdout().lock();
            for endpoint in server.endpoints() {
                tracing::info!("listening on {endpoint}");
                let _ = writeln!(out, "listening on {endpoint}");
            }
            let _ = out.flush();
        }
        server.run_until(shutdown_signal()).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!("cannot listen for SIGTERM: {e}");
            None
        }
    };
    let term = async {
        match term.as_mut() {
            Some(t) => {
                t.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        r = tokio::signal::ctrl_c() => {
            if let Err(e) = r {
                tracing::warn!("cannot listen for SIGINT: {e}");
                std::future::pending::<()>().await;
            }
        }
        () = term => {}
    }
}
