//! Sending one case's request and collecting everything that comes back for it.
//!
//! `Client::raw` decides from the request text whether a reply is due and drops replies it
//! takes for strays, which is exactly what a conformance run must not do. This is a plainer
//! transport over the same endpoints:
//!
//! * line transports (TCP, Unix, TLS, serial): the request goes out followed by CRLF; if a
//!   reply is expected, the first line is read; then a probe request with a fresh id follows,
//!   and every line before the probe's reply belongs to the case. So "no reply" is verified
//!   without waiting for a timeout, and extra replies are caught;
//! * HTTP(S): the request is the body of a `POST`; the response body is the reply, and an
//!   empty body with status 200 or 204 is no reply.

use std::io;
use std::pin::Pin;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, HOST, USER_AGENT};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::time::Instant;

use super::json::Json;
use crate::client::{tls, ClientOptions};
use crate::output::MAX_REPLY;
use crate::Endpoint;

/// The method of the probe request: reserved (`rpc.`), so no server defines it, and every
/// server answers a call of it (with -32601).
const PROBE_METHOD: &str = "rpc.reflex.probe";

trait Stream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Stream for T {}
type BoxStream = Pin<Box<dyn Stream>>;

/// What came back for one request.
#[derive(Debug, Default)]
pub(crate) struct Received {
    /// The replies (lines without terminator, or the HTTP body), in order.
    pub(crate) replies: Vec<Vec<u8>>,
    /// Something worth showing with a failure, e.g. an HTTP status other than 200.
    pub(crate) note: Option<String>,
}

enum Conn {
    Line(BufReader<BoxStream>),
    Http(SendRequest<Full<Bytes>>),
}

/// A connection to the server under test that is re-opened after any failure.
pub(crate) struct Transport {
    endpoint: Endpoint,
    options: ClientOptions,
    conn: Option<Conn>,
    probes: u64,
    /// What the exchange in progress waits for (for the timeout message).
    waiting_for: &'static str,
}

impl Transport {
    /// Connects and checks that the server answers a probe.
    pub(crate) async fn connect(endpoint: &Endpoint, options: ClientOptions) -> Result<Transport, String> {
        let mut t = Transport { endpoint: endpoint.clone(), options, conn: None, probes: 0, waiting_for: "" };
        let deadline = Instant::now() + t.options.timeout;
        let result = tokio::time::timeout_at(deadline, t.verify()).await;
        match result {
            Ok(Ok(())) => Ok(t),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(format!("no answer to a probe request within {}", secs(t.options.timeout))),
        }
    }

    /// Whether this is an HTTP(S) endpoint.
    pub(crate) fn is_http(&self) -> bool {
        matches!(self.endpoint, Endpoint::Http { .. })
    }

    /// Sends one request (`body` over HTTP, `line` on line transports) and returns what came
    /// back for it. `expects_reply`: wait for a first reply before probing (line transports).
    pub(crate) async fn exchange(&mut self, body: &[u8], line: &[u8], expects_reply: bool) -> Result<Received, String> {
        let timeout = self.options.timeout;
        let result = tokio::time::timeout(timeout, self.exchange_inner(body, line, expects_reply)).await;
        let result = match result {
            Ok(r) => r,
            Err(_) => Err(format!("timed out after {} waiting for {}", secs(timeout), self.waiting_for)),
        };
        if result.is_err() {
            // Whatever state the connection is in, the next case starts afresh.
            self.conn = None;
        }
        result
    }

    async fn exchange_inner(&mut self, body: &[u8], line: &[u8], expects_reply: bool) -> Result<Received, String> {
        let reopen = match &self.conn {
            None => true,
            // An HTTP connection the server closed after its last response.
            Some(Conn::Http(sender)) => sender.is_closed(),
            Some(Conn::Line(_)) => false,
        };
        if reopen {
            self.waiting_for = "the connection";
            self.conn = Some(self.open().await?);
        }
        let probe_id = self.next_probe_id();
        let lenient = matches!(self.endpoint, Endpoint::Serial { .. });
        match self.conn.as_mut() {
            Some(Conn::Line(io)) => {
                if line.contains(&b'\n') {
                    return Err("the request contains a line break: it cannot be sent over a line transport".into());
                }
                self.waiting_for = "the request to be sent";
                send_line(io, line).await?;
                let mut replies = Vec::new();
                if expects_reply {
                    self.waiting_for = "a reply";
                    loop {
                        let reply = read_line(io).await.map_err(|e| format!("{e} (before any reply)"))?;
                        if lenient && Json::parse(&reply).is_err() {
                            continue;
                        }
                        replies.push(reply);
                        break;
                    }
                }
                self.waiting_for = "the reply to the probe request sent after the request";
                send_line(io, &probe(&probe_id)).await?;
                loop {
                    let reply = read_line(io).await.map_err(|e| format!("{e} (before the probe's reply)"))?;
                    if is_probe_reply(&reply, &probe_id) {
                        return Ok(Received { replies, note: None });
                    }
                    if lenient && Json::parse(&reply).is_err() {
                        continue;
                    }
                    replies.push(reply);
                }
            }
            Some(Conn::Http(sender)) => {
                self.waiting_for = "the HTTP response";
                let (status, mut body) = post(sender, &self.endpoint, &self.options, body).await?;
                while body.last().is_some_and(|b| matches!(b, b'\r' | b'\n')) {
                    body.pop();
                }
                if body.is_empty() {
                    return if matches!(status, StatusCode::OK | StatusCode::NO_CONTENT) {
                        Ok(Received::default())
                    } else {
                        Err(format!("HTTP status {status} with an empty body"))
                    };
                }
                let note = (status != StatusCode::OK).then(|| format!("HTTP status {status}"));
                Ok(Received { replies: vec![body], note })
            }
            None => Err("not connected".into()),
        }
    }

    /// Sends a probe alone and waits for its reply.
    async fn verify(&mut self) -> Result<(), String> {
        self.conn = Some(self.open().await?);
        let id = self.next_probe_id();
        let request = probe(&id);
        match self.conn.as_mut() {
            Some(Conn::Line(io)) => {
                send_line(io, &request).await?;
                // Anything before the probe's reply (boot messages on a serial line) is not
                // for us.
                loop {
                    if is_probe_reply(&read_line(io).await?, &id) {
                        return Ok(());
                    }
                }
            }
            Some(Conn::Http(sender)) => {
                let (status, body) = post(sender, &self.endpoint, &self.options, &request).await?;
                if status == StatusCode::UNAUTHORIZED {
                    return Err("HTTP 401 Unauthorized (give credentials with --basic-auth)".into());
                }
                if is_probe_reply(&body, &id) {
                    Ok(())
                } else {
                    Err(format!(
                        "the server did not answer a probe request: HTTP status {status}, body {}",
                        super::printable(&body)
                    ))
                }
            }
            None => Err("not connected".into()),
        }
    }

    fn next_probe_id(&mut self) -> String {
        self.probes += 1;
        format!("conform-probe-{}", self.probes)
    }

    async fn open(&self) -> Result<Conn, String> {
        let stream = self.open_stream().await.map_err(|e| format!("cannot connect to {}: {e}", self.endpoint))?;
        match self.endpoint {
            Endpoint::Http { .. } => {
                let (sender, conn) = hyper::client::conn::http1::Builder::new()
                    .title_case_headers(true)
                    .handshake(TokioIo::new(stream))
                    .await
                    .map_err(|e| format!("HTTP handshake with {} failed: {e}", self.endpoint))?;
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!("HTTP connection ended: {e}");
                    }
                });
                Ok(Conn::Http(sender))
            }
            _ => Ok(Conn::Line(BufReader::new(stream))),
        }
    }

    async fn open_stream(&self) -> io::Result<BoxStream> {
        let tls_setup = |alpn: &[&[u8]], host: &str| -> io::Result<_> {
            let config = tls::client_config(&self.options, alpn).map_err(io::Error::other)?;
            let name = tls::server_name(host, self.options.server_name.as_deref()).map_err(io::Error::other)?;
            Ok((config, name))
        };
        match &self.endpoint {
            Endpoint::Tcp { host, port } | Endpoint::Http { tls: false, host, port, .. } => {
                let tcp = tokio::net::TcpStream::connect((host.as_str(), *port)).await?;
                tcp.set_nodelay(true)?;
                Ok(Box::pin(tcp))
            }
            Endpoint::Tls { host, port } | Endpoint::Http { tls: true, host, port, .. } => {
                let alpn: &[&[u8]] = if self.is_http() { &[b"http/1.1"] } else { &[] };
                let (config, name) = tls_setup(alpn, host)?;
                let tcp = tokio::net::TcpStream::connect((host.as_str(), *port)).await?;
                tcp.set_nodelay(true)?;
                let stream = tokio_rustls::TlsConnector::from(config).connect(name, tcp).await?;
                Ok(Box::pin(stream))
            }
            Endpoint::Unix { path, .. } => open_unix(path).await,
            Endpoint::Serial { path, baud } => {
                use tokio_serial::{SerialPort, SerialPortBuilderExt};
                let port = tokio_serial::new(path.to_string_lossy(), *baud).open_native_async()?;
                port.clear(tokio_serial::ClearBuffer::Input)?;
                Ok(Box::pin(port))
            }
        }
    }
}

#[cfg(unix)]
async fn open_unix(path: &std::path::Path) -> io::Result<BoxStream> {
    Ok(Box::pin(tokio::net::UnixStream::connect(path).await?))
}

#[cfg(not(unix))]
async fn open_unix(_path: &std::path::Path) -> io::Result<BoxStream> {
    Err(io::Error::new(io::ErrorKind::Unsupported, "Unix domain sockets are not available on this platform"))
}

fn secs(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}

fn probe(id: &str) -> Vec<u8> {
    format!(r#"{{"jsonrpc":"2.0","method":"{PROBE_METHOD}","id":"{id}"}}"#).into_bytes()
}

fn is_probe_reply(reply: &[u8], id: &str) -> bool {
    Json::parse(reply).ok().and_then(|v| v.get("id").and_then(Json::as_str)).is_some_and(|got| got == id)
}

async fn send_line(io: &mut BufReader<BoxStream>, line: &[u8]) -> Result<(), String> {
    let mut frame = Vec::with_capacity(line.len() + 2);
    frame.extend_from_slice(line);
    frame.extend_from_slice(b"\r\n");
    let stream = io.get_mut();
    let write = async {
        stream.write_all(&frame).await?;
        stream.flush().await
    };
    write.await.map_err(|e| format!("sending failed: {e}"))
}

/// The next line without its LF or CRLF.
async fn read_line(io: &mut BufReader<BoxStream>) -> Result<Vec<u8>, String> {
    let mut line = Vec::new();
    let limit = u64::try_from(MAX_REPLY).unwrap_or(u64::MAX);
    let n = (&mut *io).take(limit).read_until(b'\n', &mut line).await.map_err(|e| format!("reading failed: {e}"))?;
    if n == 0 {
        return Err("the server closed the connection".into());
    }
    if !line.ends_with(b"\n") {
        return Err(if line.len() >= MAX_REPLY {
            format!("a reply line is longer than {MAX_REPLY} bytes")
        } else {
            "the server closed the connection in the middle of a line".into()
        });
    }
    line.pop();
    if line.ends_with(b"\r") {
        line.pop();
    }
    Ok(line)
}

/// POSTs `body` and reads the whole response.
async fn post(
    sender: &mut SendRequest<Full<Bytes>>,
    endpoint: &Endpoint,
    options: &ClientOptions,
    body: &[u8],
) -> Result<(StatusCode, Vec<u8>), String> {
    let Endpoint::Http { path, .. } = endpoint else {
        return Err("not an HTTP endpoint".into());
    };
    sender.ready().await.map_err(|e| format!("the HTTP connection is closed: {e}"))?;
    let host = HeaderValue::try_from(endpoint.authority().unwrap_or_default()).map_err(|e| e.to_string())?;
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(path.as_str())
        .header(HOST, host)
        .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
        .header(USER_AGENT, HeaderValue::from_static(concat!("reflex-conform/", env!("CARGO_PKG_VERSION"))))
        .body(Full::new(Bytes::copy_from_slice(body)))
        .map_err(|e| format!("cannot build the HTTP request: {e}"))?;
    if let Some((user, password)) = &options.basic_auth {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        let value = HeaderValue::try_from(format!("Basic {token}")).map_err(|e| e.to_string())?;
        request.headers_mut().insert(AUTHORIZATION, value);
    }
    let response = sender.send_request(request).await.map_err(|e| format!("HTTP request failed: {e}"))?;
    let status = response.status();
    let body = Limited::new(response.into_body(), MAX_REPLY)
        .collect()
        .await
        .map_err(|e| format!("reading the HTTP body failed: {e}"))?
        .to_bytes();
    Ok((status, body.to_vec()))
}
