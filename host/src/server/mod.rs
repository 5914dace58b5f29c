//! Servers for any [`reflex::Service`]: line-delimited TCP, Unix domain sockets and TLS, and
//! HTTP and HTTPS (hyper 1, rustls), several listeners at once.
//!
//! ```no_run
//! # async fn example() -> Result<(), reflex_host::server::ServerError> {
//! use std::sync::Arc;
//! use reflex_host::server::{Server, ServerConfig};
//!
//! let config = ServerConfig {
//!     listen: vec!["tcp://127.0.0.1:0".parse().unwrap(), "http://127.0.0.1:0/rpc".parse().unwrap()],
//!     ..ServerConfig::default()
//! };
//! let server = Server::bind(Arc::new(reflex_host::demo_service()), config).await?;
//! for endpoint in server.endpoints() {
//!     println!("listening on {endpoint}");
//! }
//! server.run_until(async { tokio::signal::ctrl_c().await.ok(); }).await
//! # }
//! ```
//!
//! # Protocols
//!
//! * **Line protocols** (`tcp://`, `unix://`, `tls://`): one request per line, ended by LF or
//!   CRLF; one reply per request, in order, ended by CRLF; replies to pipelined requests go
//!   out together, and a long (batch) reply is written as it is rendered, never collected
//!   whole; notifications get no bytes at all; blank lines are ignored. A line longer than
//!   [`ServerConfig::max_request_size`] gets one error reply (2.0 `-32600`, the limit in
//!   `data`), the rest of it is discarded and the connection resynchronises at the next
//!   newline. An unterminated request before end of file (a client that half-closes) is
//!   answered too.
//! * **HTTP** (`http://`, `https://`): `POST` to the configured path or below it. Other paths
//!   are 404; other methods 405 with `Allow: HEAD, POST` (`HEAD` answers 200 with an empty
//!   body, a liveness probe). Keep-alive and HTTP/1.0 work; header names go out title-cased
//!   (`Content-Length`, which ReflectRPC's client requires), every response has a known
//!   length (never chunked). JSON-RPC errors are HTTP 200 and a request that needs no reply
//!   gets 200 with an empty body, unless [`ServerConfig::http_status_codes`] asks for
//!   typedjsonrpc's mapping. A body over the size limit is 413 with a JSON-RPC error body.
//!
//! The core does everything protocol-related ([`crate::process`]); this module moves bytes,
//! authenticates and enforces limits.
//!
//! # Authentication
//!
//! * [`ServerConfig::basic_auth`] protects the HTTP(S) listeners: missing or wrong
//!   credentials get 401 with `WWW-Authenticate: Basic realm="reflex"`. Names and passwords
//!   are compared in constant time (SHA-256 digests compared with `subtle`). An
//!   `Authorization` header is never looked at when Basic auth is not configured.
//! * [`ServerConfig::client_ca`] makes every TLS listener require a client certificate
//!   signed by that CA; its subject CN becomes the user name (for HTTPS it takes precedence
//!   over Basic). Without it TLS clients are served unauthenticated.
//!   [`ServerConfig::client_crl`] adds revocation checking, [`ServerConfig::client_cn`] an
//!   allow-list of CNs; [`ServerConfig::tls13_only`] refuses TLS 1.2.
//!
//! [`Server::bind`] logs a warning for every listener that exposes more than it may mean to:
//! `tcp://` or `http://` on an address other than loopback (plaintext, and `tcp://` has no
//! authentication at all), Basic auth on `http://` (passwords in clear text), and a Unix
//! socket every local user may connect to.
//!
//! Handlers see the result in [`reflex::RpcInfo`] (`authenticated`, `username`), the peer
//! address, and on HTTP the request headers as `info.extra::<http::HeaderMap>()`.
//!
//! # Concurrency
//!
//! `Service::call` is an `async fn` in a trait, so in generic code its future is not known
//! to be `Send`. Connections therefore run on a pool of single-threaded runtimes
//! ([`tokio_util::task::LocalPoolHandle`], [`ServerConfig::workers`] threads), each
//! connection pinned to one of them; the accept loops run on the caller's runtime. A slow
//! handler on one connection never delays another connection (handlers that block their
//! thread do delay the connections pinned to the same worker). Requests on one line
//! connection are processed one after another.
//!
//! # Limits
//!
//! * [`ServerConfig::max_request_size`] (1 MiB): longest line / HTTP body.
//! * [`ServerConfig::max_connections`] (1024): beyond it a connection is accepted, told
//!   `{"jsonrpc":"2.0","error":{"code":-32000,"message":"Server busy"},"id":null}` (line
//!   protocols) or 503 (HTTP), and closed; the others are served as before.
//! * [`ServerConfig::idle_timeout`] (300 s): a connection that sends nothing (or stops in
//!   the middle of a line or an HTTP request) for that long is closed and its slot freed.
//!   The time a handler runs does not count.
//! * [`ServerConfig::request_timeout`] (30 s): a request must arrive whole within it from
//!   its first byte (a line up to its newline; an HTTP head and body), or the connection is
//!   closed; the TLS handshake is bounded by it too. A client sending a byte now and then
//!   therefore cannot hold its slot. Handler time does not count.
//! * [`ServerConfig::max_response_size`] (16 MiB): a larger reply becomes `-32603 Internal
//!   error` with id `null`; a batch reply that outgrows it mid-way keeps the replies so far
//!   and ends with that error (line replies may already be on the wire). Logged with the
//!   size; the connection stays usable.
//! * [`ServerConfig::max_connections_per_ip`] (off): most connections from one address.
//!
//! # Unix sockets
//!
//! At start-up a stale socket file (one nothing answers on) is removed; a socket a running
//! server answers on is an error, and so is a path that is not a socket. The new socket file
//! gets mode `0660` (owner and group may connect), or the endpoint's `?mode=`
//! (`unix:///run/reflex.sock?mode=0600`), before it appears at its path: it is bound in a
//! private directory next to it and linked into place. It is removed when the server stops.
//!
//! # Shutdown
//!
//! [`Server::run_until`] stops accepting when its future completes, lets requests in flight
//! finish (for at most [`ServerConfig::shutdown_timeout`]), closes idle connections, removes
//! the Unix socket files and returns.

mod auth;
pub mod cli;
mod http;
mod line;
mod listen;

use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use reflex::{Service, Transport};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::task_tracker::TaskTrackerToken;
use tokio_util::task::{LocalPoolHandle, TaskTracker};

use crate::endpoint::Endpoint;
use crate::tls::TlsError;

use listen::{Socket, UnixGuard};

/// Where `reflex serve` listens when no `--listen` is given (ReflectRPC's default port).
pub const DEFAULT_LISTEN: &str = "tcp://127.0.0.1:5500";

/// The line a connection over [`ServerConfig::max_connections`] receives before it is closed.
pub const BUSY_REPLY: &str = r#"{"jsonrpc":"2.0","error":{"code":-32000,"message":"Server busy"},"id":null}"#;

/// How long a refused connection may take to receive its "busy" answer.
const REJECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How many refused connections are answered at once; beyond that they are just closed.
const MAX_REJECTING: usize = 64;

/// Server settings. [`ServerConfig::default`] gives the safe defaults.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Endpoints to listen on (port 0 picks a free port; [`Server::endpoints`] tells which).
    /// Default: [`DEFAULT_LISTEN`].
    pub listen: Vec<Endpoint>,
    /// PEM file with the server's certificate chain (leaf first); needed by `tls://` and
    /// `https://` listeners. May also hold the private key.
    pub tls_cert: Option<PathBuf>,
    /// PEM file with the server's private key; `None` reads the key from [`Self::tls_cert`].
    pub tls_key: Option<PathBuf>,
    /// PEM file with the CA(s) client certificates must be signed by. When set, every TLS
    /// listener requires a client certificate and its subject CN is the user name.
    pub client_ca: Option<PathBuf>,
    /// PEM files with certificate revocation lists for the client CAs (needs
    /// [`Self::client_ca`]). A client certificate is refused when it, or a CA certificate
    /// of its chain other than the trust anchor, is revoked, or when no CRL gives its
    /// status. Read at start-up. Default: none (revocation is not checked).
    pub client_crl: Vec<PathBuf>,
    /// Allow-list of client-certificate subject CNs (needs [`Self::client_ca`]): when not
    /// empty, a certificate with another CN is refused in the handshake. Default: empty (any
    /// CN the CA signed).
    pub client_cn: Vec<String>,
    /// TLS listeners accept TLS 1.3 only (default: TLS 1.3 and 1.2).
    pub tls13_only: bool,
    /// HTTP Basic credentials (user, password). Non-empty: HTTP(S) listeners require one of
    /// them. Empty: no HTTP authentication (and `Authorization` headers are ignored).
    pub basic_auth: Vec<(String, String)>,
    /// Largest request (line or HTTP body) in bytes. Default 1 MiB.
    pub max_request_size: usize,
    /// Most connections served at once, over all listeners. Default 1024.
    pub max_connections: usize,
    /// A connection that sends nothing for this long is closed. Zero disables. Default 300 s.
    pub idle_timeout: Duration,
    /// A request must arrive whole within this time from its first byte: a line up to its
    /// newline, an HTTP head and body. A slower connection is closed (HTTP: with 408 when
    /// the body is late). This is what stops a client from holding a slot by dribbling
    /// bytes, each of which would restart the idle timer. Zero disables. Default 30 s.
    pub request_timeout: Duration,
    /// Largest reply in bytes, a whole batch reply included. A larger reply is replaced by
    /// `-32603 Internal error` with id `null` (a batch reply is cut short, with that error as
    /// its last element) and logged with its size. Default 16 MiB; at least 256.
    pub max_response_size: usize,
    /// Most connections served at once from one peer address (an IPv6 address counts with
    /// its whole /64 prefix); more are refused like connections over
    /// [`Self::max_connections`]. Zero (the default) sets no such limit, since clients behind
    /// a reverse proxy or NAT share one address; set it on servers clients reach directly.
    pub max_connections_per_ip: usize,
    /// Map JSON-RPC errors of single HTTP responses to typedjsonrpc's status codes (parse
    /// error / invalid request 400, method not found 404, other errors 500, notification 204)
    /// instead of answering 200. Off by default: most JSON-RPC clients want 200.
    pub http_status_codes: bool,
    /// The engine's options (strict floats, exposing internal errors, nesting depth).
    pub engine: reflex::Config,
    /// Threads that run connections (each a single-threaded runtime). Default: the number
    /// of CPUs.
    pub workers: usize,
    /// How long [`Server::run_until`] lets requests in flight finish after the shutdown
    /// signal before it drops the remaining connections. Default 5 s.
    pub shutdown_timeout: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: vec![DEFAULT_LISTEN.parse().expect("the default endpoint parses")],
            tls_cert: None,
            tls_key: None,
            client_ca: None,
            client_crl: Vec::new(),
            client_cn: Vec::new(),
            tls13_only: false,
            basic_auth: Vec::new(),
            max_request_size: 1024 * 1024,
            max_connections: 1024,
            idle_timeout: Duration::from_secs(300),
            request_timeout: Duration::from_secs(30),
            max_response_size: 16 * 1024 * 1024,
            max_connections_per_ip: 0,
            http_status_codes: false,
            engine: reflex::Config::new(),
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            shutdown_timeout: Duration::from_secs(5),
        }
    }
}

/// Why a server could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// [`ServerConfig::listen`] is empty.
    #[error("no endpoint to listen on")]
    NoListeners,
    /// The endpoint cannot be served (serial ports are client-only).
    #[error("cannot serve {0}: only tcp://, unix://, tls://, http:// and https:// endpoints can be listened on")]
    Unsupported(String),
    /// A `tls://` or `https://` endpoint without a certificate.
    #[error("{0} needs a server certificate and key (--tls-cert, --tls-key)")]
    MissingCertificate(String),
    /// Binding a listener failed.
    #[error("cannot listen on {endpoint}: {source}")]
    Bind {
        /// The endpoint.
        endpoint: String,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// A certificate, key or CA file is unusable.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// A setting is out of range.
    #[error("invalid server configuration: {0}")]
    Config(String),
}

/// What a listener serves and how.
struct ListenerInfo {
    /// The endpoint with the actual bound address.
    endpoint: Endpoint,
    /// The transport handlers see.
    transport: Transport,
    /// TLS, for `tls://` and `https://`.
    tls: Option<TlsAcceptor>,
    /// The HTTP path, for `http://` and `https://`; `None` for line protocols.
    http_path: Option<String>,
}

/// An accepted stream.
enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    /// The same socket, registered with the reactor of the runtime this is called on.
    ///
    /// A tokio socket stays with the reactor it was registered with: a connection accepted
    /// on the listeners' runtime but served on a pool thread would have every readiness
    /// event picked up by the listeners' driver thread and handed across to the pool thread,
    /// a cross-thread wake-up per request (measured: about 10 µs of a 26 µs round trip).
    fn rehome(self) -> io::Result<Stream> {
        Ok(match self {
            Stream::Tcp(s) => Stream::Tcp(TcpStream::from_std(s.into_std()?)?),
            Stream::Unix(s) => Stream::Unix(UnixStream::from_std(s.into_std()?)?),
        })
    }
}

/// Everything a connection task needs, all `Send` (it crosses to a pool thread).
struct Accepted {
    stream: Stream,
    peer: Option<String>,
    listener: Arc<ListenerInfo>,
    _permit: OwnedSemaphorePermit,
    _ip_slot: Option<IpSlot>,
    _token: TaskTrackerToken,
}

/// Connections per peer address, for [`ServerConfig::max_connections_per_ip`].
struct PerIp {
    max: usize,
    counts: std::sync::Mutex<std::collections::HashMap<IpAddr, usize>>,
}

impl PerIp {
    fn new(max: usize) -> Self {
        PerIp { max, counts: std::sync::Mutex::new(std::collections::HashMap::new()) }
    }

    /// What a peer address is counted as: IPv4-mapped IPv6 addresses as IPv4 (a dual-stack
    /// listener sees IPv4 clients so), other IPv6 addresses by their /64 prefix, since one
    /// host usually has a whole /64 to pick addresses from.
    fn key(ip: IpAddr) -> IpAddr {
        match ip.to_canonical() {
            IpAddr::V6(v6) => IpAddr::V6(std::net::Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX))),
            v4 => v4,
        }
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<IpAddr, usize>> {
        // The map stays consistent whatever panicked while it was locked: keep using it.
        self.counts.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A share for one more connection from `ip`, unless it has all it may have.
    fn acquire(self: &Arc<Self>, ip: IpAddr) -> Option<IpSlot> {
        let key = Self::key(ip);
        let mut counts = self.counts();
        let n = counts.entry(key).or_insert(0);
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(IpSlot { table: self.clone(), key })
    }
}

/// One connection's share of its address's limit, given back when the connection ends.
struct IpSlot {
    table: Arc<PerIp>,
    key: IpAddr,
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut counts = self.table.counts();
        if let Some(n) = counts.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                // Addresses without connections take no memory.
                counts.remove(&self.key);
            }
        }
    }
}

/// Settings and signals every connection shares (independent of the service type).
struct Common {
    engine: reflex::Config,
    max_request_size: usize,
    max_connections: usize,
    idle_timeout: Duration,
    request_timeout: Duration,
    max_response_size: usize,
    /// Connections per peer address, when limited.
    per_ip: Option<Arc<PerIp>>,
    http_status_codes: bool,
    basic: auth::BasicAuth,
    /// Graceful shutdown: stop accepting, finish the request in flight, close.
    shutdown: CancellationToken,
    /// Hard stop after the shutdown timeout.
    abort: CancellationToken,
    slots: Arc<Semaphore>,
    rejecting: Arc<Semaphore>,
}

/// What a connection task works with.
struct Shared<S> {
    service: Arc<S>,
    common: Arc<Common>,
}

type Spawner = Arc<dyn Fn(Accepted) + Send + Sync>;

/// Bound listeners, ready to serve. Dropping it without running closes the listeners and
/// removes the Unix socket files.
pub struct Server {
    listeners: Vec<(Socket, Arc<ListenerInfo>)>,
    guards: Vec<UnixGuard>,
    common: Arc<Common>,
    spawn: Spawner,
    tracker: TaskTracker,
    shutdown_timeout: Duration,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("endpoints", &self.endpoints()).finish_non_exhaustive()
    }
}

impl Server {
    /// Binds every endpoint of `config` for `service` (nothing is served before
    /// [`Server::run_until`]). Fails on the first endpoint that cannot be bound, on TLS files
    /// that cannot be loaded, and on TLS endpoints without a certificate.
    pub async fn bind<S: Service + Send + Sync + 'static>(
        service: Arc<S>,
        config: ServerConfig,
    ) -> Result<Server, ServerError> {
        if config.listen.is_empty() {
            return Err(ServerError::NoListeners);
        }
        if config.max_request_size == 0 {
            return Err(ServerError::Config("max_request_size must be at least 1".into()));
        }
        if config.max_connections == 0 {
            return Err(ServerError::Config("max_connections must be at least 1".into()));
        }
        if config.max_response_size < crate::output::MIN_REPLY_LIMIT {
            return Err(ServerError::Config(format!(
                "max_response_size must be at least {}",
                crate::output::MIN_REPLY_LIMIT
            )));
        }
        let needs_tls =
            config.listen.iter().any(|e| matches!(e, Endpoint::Tls { .. } | Endpoint::Http { tls: true, .. }));
        let tls_config = match (&config.tls_cert, needs_tls) {
            (Some(cert), true) => {
                let options = crate::tls::ServerTlsOptions {
                    client_ca: config.client_ca.clone(),
                    client_crl: config.client_crl.clone(),
                    client_cn: config.client_cn.clone(),
                    tls13_only: config.tls13_only,
                };
                Some(crate::tls::server_config(cert, config.tls_key.as_deref(), &options)?)
            }
            _ => None,
        };
        let acceptor = |alpn: bool| {
            tls_config.as_ref().map(|c| {
                let mut c = c.clone();
                if alpn {
                    c.alpn_protocols = vec![b"http/1.1".to_vec()];
                }
                TlsAcceptor::from(Arc::new(c))
            })
        };

        let mut listeners = Vec::new();
        let mut guards = Vec::new();
        for endpoint in &config.listen {
            let missing_cert = || ServerError::MissingCertificate(endpoint.to_string());
            let bind_err = |source| ServerError::Bind { endpoint: endpoint.to_string(), source };
            let (socket, info) = match endpoint {
                Endpoint::Tcp { host, port } | Endpoint::Tls { host, port } => {
                    let tls = matches!(endpoint, Endpoint::Tls { .. });
                    let (l, addr) = listen::bind_tcp(host, *port).await.map_err(bind_err)?;
                    let (ip, port) = (addr.ip().to_string(), addr.port());
                    let info = if tls {
                        ListenerInfo {
                            endpoint: Endpoint::Tls { host: ip, port },
                            transport: Transport::Tls,
                            tls: Some(acceptor(false).ok_or_else(missing_cert)?),
                            http_path: None,
                        }
                    } else {
                        ListenerInfo {
                            endpoint: Endpoint::Tcp { host: ip, port },
                            transport: Transport::Tcp,
                            tls: None,
                            http_path: None,
                        }
                    };
                    (Socket::Tcp(l), info)
                }
                Endpoint::Http { tls, host, port, path } => {
                    let tls_acceptor = if *tls { Some(acceptor(true).ok_or_else(missing_cert)?) } else { None };
                    let (l, addr) = listen::bind_tcp(host, *port).await.map_err(bind_err)?;
                    let info = ListenerInfo {
                        endpoint: Endpoint::Http {
                            tls: *tls,
                            host: addr.ip().to_string(),
                            port: addr.port(),
                            path: path.clone(),
                        },
                        transport: if *tls { Transport::Https } else { Transport::Http },
                        tls: tls_acceptor,
                        http_path: Some(path.clone()),
                    };
                    (Socket::Tcp(l), info)
                }
                Endpoint::Unix { path, mode } => {
                    let mode = mode.unwrap_or(listen::SOCKET_MODE);
                    let (l, guard) = listen::bind_unix(path, mode).await.map_err(bind_err)?;
                    guards.push(guard);
                    let info = ListenerInfo {
                        endpoint: endpoint.clone(),
                        transport: Transport::Unix,
                        tls: None,
                        http_path: None,
                    };
                    (Socket::Unix(l), info)
                }
                Endpoint::Serial { .. } => return Err(ServerError::Unsupported(endpoint.to_string())),
            };
            listeners.push((socket, Arc::new(info)));
        }

        for (_, info) in &listeners {
            for warning in listen::exposure_warnings(&info.endpoint, !config.basic_auth.is_empty()) {
                tracing::warn!("{warning}");
            }
        }
        if !config.basic_auth.is_empty() && !listeners.iter().any(|(_, l)| l.http_path.is_some()) {
            tracing::warn!("Basic auth is configured but no HTTP listener uses it");
        }
        if config.client_ca.is_some() && tls_config.is_none() {
            tracing::warn!("a client CA is configured but no TLS listener uses it");
        }

        let max_connections = config.max_connections.min(Semaphore::MAX_PERMITS);
        let common = Arc::new(Common {
            engine: config.engine,
            max_request_size: config.max_request_size,
            max_connections,
            idle_timeout: config.idle_timeout,
            request_timeout: config.request_timeout,
            max_response_size: config.max_response_size,
            per_ip: (config.max_connections_per_ip > 0).then(|| Arc::new(PerIp::new(config.max_connections_per_ip))),
            http_status_codes: config.http_status_codes,
            basic: auth::BasicAuth::new(&config.basic_auth),
            shutdown: CancellationToken::new(),
            abort: CancellationToken::new(),
            slots: Arc::new(Semaphore::new(max_connections)),
            rejecting: Arc::new(Semaphore::new(MAX_REJECTING)),
        });
        let pool = LocalPoolHandle::new(config.workers.max(1));
        let shared = Arc::new(Shared { service, common: common.clone() });
        let spawn: Spawner = Arc::new(move |accepted: Accepted| {
            let shared = shared.clone();
            // The task is detached: the tracker token inside `accepted` tells when it ends.
            drop(pool.spawn_pinned(move || serve_connection(shared, accepted)));
        });
        Ok(Server {
            listeners,
            guards,
            common,
            spawn,
            tracker: TaskTracker::new(),
            shutdown_timeout: config.shutdown_timeout,
        })
    }

    /// The endpoints listened on, with the actual bound addresses (port 0 resolved), in the
    /// order of [`ServerConfig::listen`].
    pub fn endpoints(&self) -> Vec<Endpoint> {
        self.listeners.iter().map(|(_, info)| info.endpoint.clone()).collect()
    }

    /// Serves until `shutdown` completes, then stops accepting, lets requests in flight
    /// finish (at most [`ServerConfig::shutdown_timeout`]), closes the remaining
    /// connections, removes the Unix socket files and returns.
    ///
    /// Must be called within a tokio runtime (the accept loops are spawned on it).
    /// Dropping the future stops the server as well (without waiting).
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) -> Result<(), ServerError> {
        let Server { listeners, guards, common, spawn, tracker, shutdown_timeout } = self;
        // However this future ends, the accept loops and connections are told to stop.
        let _stop = common.shutdown.clone().drop_guard();
        let _abort = common.abort.clone().drop_guard();
        let mut loops = JoinSet::new();
        for (socket, info) in listeners {
            loops.spawn(accept_loop(socket, info, common.clone(), spawn.clone(), tracker.clone()));
        }
        tokio::select! {
            () = shutdown => tracing::info!("shutting down"),
            Some(result) = loops.join_next() => {
                // Accept loops only end on shutdown; one that ended otherwise panicked.
                if let Err(e) = result {
                    tracing::error!("accept loop failed: {e}");
                }
            }
        }
        common.shutdown.cancel();
        while loops.join_next().await.is_some() {}
        // Listeners are closed: the socket files can go.
        drop(guards);
        tracker.close();
        if tokio::time::timeout(shutdown_timeout, tracker.wait()).await.is_err() {
            tracing::warn!("requests still running after {shutdown_timeout:?}; closing their connections");
            common.abort.cancel();
            let _ = tokio::time::timeout(Duration::from_secs(1), tracker.wait()).await;
        }
        Ok(())
    }
}

async fn accept_loop(
    socket: Socket,
    info: Arc<ListenerInfo>,
    common: Arc<Common>,
    spawn: Spawner,
    tracker: TaskTracker,
) {
    loop {
        let accepted = tokio::select! {
            biased;
            () = common.shutdown.cancelled() => return,
            r = socket.accept() => r,
        };
        let (stream, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(listener = %info.endpoint, "accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // The address's share first: a client that has all its connections is refused
        // without touching the slots everyone shares.
        let ip = match &stream {
            Stream::Tcp(s) => s.peer_addr().ok().map(|a| a.ip()),
            Stream::Unix(_) => None,
        };
        let ip_slot = match (&common.per_ip, ip) {
            (Some(table), Some(ip)) => match table.acquire(ip) {
                Some(slot) => Some(slot),
                None => {
                    refuse_over_limit(
                        stream,
                        &info,
                        &common,
                        peer.as_deref(),
                        "connection limit per address",
                        table.max,
                    );
                    continue;
                }
            },
            _ => None,
        };
        match common.slots.clone().try_acquire_owned() {
            Ok(permit) => {
                tracing::debug!(listener = %info.endpoint, peer = peer.as_deref().unwrap_or("-"), "connection accepted");
                spawn(Accepted {
                    stream,
                    peer,
                    listener: info.clone(),
                    _permit: permit,
                    _ip_slot: ip_slot,
                    _token: tracker.token(),
                });
            }
            Err(_) => {
                refuse_over_limit(stream, &info, &common, peer.as_deref(), "connection limit", common.max_connections)
            }
        }
    }
}

/// Logs that a connection is over a limit (`what`, of `limit` connections) and refuses it.
fn refuse_over_limit(
    stream: Stream,
    info: &Arc<ListenerInfo>,
    common: &Common,
    peer: Option<&str>,
    what: &str,
    limit: usize,
) {
    tracing::warn!(
        listener = %info.endpoint,
        peer = peer.unwrap_or("-"),
        "{what} ({limit}) reached: refusing the connection"
    );
    reject(stream, info, common);
}

/// Refuses a connection over a limit in the background ([`refuse`]), or just closes it when
/// too many refusals are in progress already.
fn reject(stream: Stream, info: &Arc<ListenerInfo>, common: &Common) {
    match common.rejecting.clone().try_acquire_owned() {
        Ok(permit) => {
            let info = info.clone();
            tokio::spawn(async move {
                let _permit = permit;
                let _ = tokio::time::timeout(REJECT_TIMEOUT, refuse(stream, &info)).await;
            });
        }
        Err(_) => drop(stream),
    }
}

/// Answers a connection over the limit ("Server busy" line, or HTTP 503) and closes it.
async fn refuse(stream: Stream, info: &ListenerInfo) {
    match stream {
        Stream::Tcp(s) => refuse_io(s, info).await,
        Stream::Unix(s) => refuse_io(s, info).await,
    }
}

async fn refuse_io<IO: AsyncRead + AsyncWrite + Unpin + Send + 'static>(io: IO, info: &ListenerInfo) {
    match &info.tls {
        None => refuse_plain(io, info).await,
        Some(acceptor) => match acceptor.accept(io).await {
            Ok(tls) => refuse_plain(tls, info).await,
            Err(e) => tracing::debug!("TLS handshake of a refused connection failed: {e}"),
        },
    }
}

async fn refuse_plain<IO: AsyncRead + AsyncWrite + Unpin + Send + 'static>(mut io: IO, info: &ListenerInfo) {
    if info.http_path.is_some() {
        http::refuse(io).await;
        return;
    }
    let line = format!("{BUSY_REPLY}\r\n");
    if io.write_all(line.as_bytes()).await.is_err() || io.flush().await.is_err() {
        return;
    }
    let _ = io.shutdown().await;
    // Read what the client already sent until it closes, so closing does not reset the
    // connection before the client has read the answer.
    let mut sink = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        while matches!(io.read(&mut sink).await, Ok(n) if n > 0) {}
    })
    .await;
}

/// One connection, on a pool thread: TLS handshake if needed, then the protocol.
async fn serve_connection<S: Service + Send + Sync + 'static>(shared: Arc<Shared<S>>, accepted: Accepted) {
    // The connection slot and the tracker token live until the connection is closed.
    let Accepted { stream, peer, listener, _permit: permit, _ip_slot: ip_slot, _token: token } = accepted;
    let abort = shared.common.abort.clone();
    tokio::select! {
        () = abort.cancelled() => {}
        () = serve_stream(&shared, stream, peer, &listener) => {}
    }
    tracing::debug!(listener = %listener.endpoint, "connection closed");
    drop((permit, ip_slot, token));
}

async fn serve_stream<S: Service>(shared: &Shared<S>, stream: Stream, peer: Option<String>, listener: &ListenerInfo) {
    let stream = match stream.rehome() {
        Ok(stream) => stream,
        Err(e) => {
            tracing::debug!(peer = peer.as_deref().unwrap_or("-"), "cannot move the connection to its worker: {e}");
            return;
        }
    };
    match stream {
        Stream::Tcp(s) => serve_io(shared, s, peer, listener).await,
        Stream::Unix(s) => serve_io(shared, s, peer, listener).await,
    }
}

async fn serve_io<S: Service, IO: AsyncRead + AsyncWrite + Unpin>(
    shared: &Shared<S>,
    io: IO,
    peer: Option<String>,
    listener: &ListenerInfo,
) {
    let Some(acceptor) = &listener.tls else {
        return serve_protocol(shared, io, Peer { addr: peer, user: None }, listener).await;
    };
    // The handshake comes before the first request and is bounded like one: a client that
    // dribbles its handshake must not hold the slot for a whole idle timeout.
    let common = &*shared.common;
    let handshake_limit = match (common.idle_timeout, common.request_timeout) {
        (idle, request) if idle.is_zero() => request,
        (idle, request) if request.is_zero() => idle,
        (idle, request) => idle.min(request),
    };
    let tls = match within(handshake_limit, acceptor.accept(io)).await {
        Some(Ok(tls)) => tls,
        Some(Err(e)) => {
            tracing::debug!(peer = peer.as_deref().unwrap_or("-"), "TLS handshake failed: {e}");
            return;
        }
        None => {
            tracing::debug!(peer = peer.as_deref().unwrap_or("-"), "TLS handshake timed out");
            return;
        }
    };
    // With a client CA configured, rustls has verified the certificate: its CN is the user.
    let user = crate::tls::peer_common_name(tls.get_ref().1);
    if user.is_none() && tls.get_ref().1.peer_certificates().is_some() {
        tracing::warn!(peer = peer.as_deref().unwrap_or("-"), "client certificate has no subject CN: unauthenticated");
    }
    serve_protocol(shared, tls, Peer { addr: peer, user }, listener).await
}

/// Who is at the other end of a connection.
struct Peer {
    /// The peer's address, when the transport has one.
    addr: Option<String>,
    /// The user name a client certificate proved.
    user: Option<String>,
}

async fn serve_protocol<S: Service, IO: AsyncRead + AsyncWrite + Unpin>(
    shared: &Shared<S>,
    io: IO,
    peer: Peer,
    listener: &ListenerInfo,
) {
    match &listener.http_path {
        Some(path) => http::serve(shared, io, &peer, listener.transport, path).await,
        None => {
            let mut info = reflex::RpcInfo::new(listener.transport);
            if let Some(addr) = &peer.addr {
                info = info.with_peer(addr);
            }
            if let Some(user) = &peer.user {
                info = info.with_user(user);
            }
            line::serve(shared, io, &info).await
        }
    }
}

/// `f`, given at most `limit` to complete (`None` when it did not); a zero limit waits
/// forever.
async fn within<F: Future>(limit: Duration, f: F) -> Option<F::Output> {
    if limit.is_zero() {
        Some(f.await)
    } else {
        tokio::time::timeout(limit, f).await.ok()
    }
}

/// The reply to a request longer than `limit` bytes (2.0 `-32600` with the limit in `data`).
async fn too_large_reply(limit: usize) -> Vec<u8> {
    let mut out = crate::output::VecOutput::new(4096);
    // The reply is a few dozen bytes: it always fits.
    let _ = reflex::engine::too_large(&mut out, limit).await;
    out.bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>(_: &T) {}

    /// Callers can spawn binding and serving on a multi-threaded runtime.
    #[allow(dead_code)]
    fn futures_are_send(server: Server) {
        assert_send(&Server::bind(Arc::new(crate::demo_service()), ServerConfig::default()));
        assert_send(&server.run_until(async {}));
    }
}
