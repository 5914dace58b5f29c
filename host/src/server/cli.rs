//! `reflex serve`: the demo service (or any service, from a custom binary) behind the
//! servers of [`crate::server`].

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use reflex::Service;

use super::{Server, ServerConfig, DEFAULT_LISTEN};
use crate::endpoint::Endpoint;

/// Options of `reflex serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Endpoint to listen on (repeatable): tcp://HOST:PORT, unix:///PATH, tls://HOST:PORT,
    /// http://HOST:PORT/PATH, https://HOST:PORT/PATH. Port 0 picks a free port. A Unix
    /// socket file gets mode 0660 (owner and group may connect); a stale one is replaced, and
    /// it is removed on exit.
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

    /// Require HTTP Basic credentials on HTTP(S) listeners (repeatable, one per user).
    #[arg(long, value_name = "USER:PASSWORD", value_parser = parse_credentials)]
    pub basic_auth: Vec<(String, String)>,

    /// Largest request (line or HTTP body) in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 1024 * 1024)]
    pub max_request_size: usize,

    /// Most connections served at once; more are told "Server busy" (HTTP: 503) and closed.
    #[arg(long, value_name = "N", default_value_t = 1024)]
    pub max_connections: usize,

    /// Close connections that send nothing for this many seconds (0: never).
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub idle_timeout: u64,

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

fn parse_credentials(s: &str) -> Result<(String, String), String> {
    match s.split_once(':') {
        Some((user, password)) if !user.is_empty() => Ok((user.to_string(), password.to_string())),
        _ => Err("expected USER:PASSWORD".to_string()),
    }
}

impl ServeArgs {
    /// The server configuration these options describe.
    pub fn config(&self) -> ServerConfig {
        let defaults = ServerConfig::default();
        ServerConfig {
            listen: self.listen.clone(),
            tls_cert: self.tls_cert.clone(),
            tls_key: self.tls_key.clone(),
            client_ca: self.client_ca.clone(),
            basic_auth: self.basic_auth.clone(),
            max_request_size: self.max_request_size,
            max_connections: self.max_connections,
            idle_timeout: Duration::from_secs(self.idle_timeout),
            http_status_codes: self.http_status_codes,
            engine: reflex::Config::new()
                .strict_floats(!self.lenient_floats)
                .expose_internal_errors(self.debug)
                .v1_parse_errors(self.v1_parse_errors),
            workers: self.workers.unwrap_or(defaults.workers),
            shutdown_timeout: Duration::from_secs(self.shutdown_timeout),
        }
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
        let server = Server::bind(service, args.config()).await?;
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
