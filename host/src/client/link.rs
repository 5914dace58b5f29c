//! Connections: opening a byte stream for an endpoint, line framing on it, and HTTP/1.1 on it
//! through hyper's client connection API.

use std::io;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, HOST, USER_AGENT, WWW_AUTHENTICATE};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::error::{excerpt, ClientError};
use super::wire;
use crate::output::MAX_REPLY;
use crate::Endpoint;

/// Any byte stream a client runs over.
pub(crate) trait Stream: AsyncRead + AsyncWrite + Send + Sync + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Sync + Unpin> Stream for T {}

/// A connected stream of any transport.
pub(crate) type BoxStream = Box<dyn Stream>;

/// TLS to use on a network stream.
#[derive(Clone)]
pub(crate) struct TlsSetup {
    pub(crate) config: Arc<rustls::ClientConfig>,
    pub(crate) name: ServerName<'static>,
}

/// Opens the byte stream of `endpoint` (TCP, TLS over TCP, Unix socket or serial port; HTTP
/// endpoints get their TCP or TLS stream).
pub(crate) async fn open(endpoint: &Endpoint, tls: Option<&TlsSetup>) -> Result<BoxStream, ClientError> {
    let connect_error = |source: io::Error| ClientError::Connect { endpoint: endpoint.to_string(), source };
    match endpoint {
        Endpoint::Tcp { host, port } | Endpoint::Tls { host, port } | Endpoint::Http { host, port, .. } => {
            let tcp = TcpStream::connect((host.as_str(), *port)).await.map_err(connect_error)?;
            // Requests are written whole; do not hold the last segment back.
            tcp.set_nodelay(true).map_err(connect_error)?;
            match tls {
                Some(tls) => {
                    let connector = tokio_rustls::TlsConnector::from(tls.config.clone());
                    let stream = connector.connect(tls.name.clone(), tcp).await.map_err(connect_error)?;
                    Ok(Box::new(stream))
                }
                None => Ok(Box::new(tcp)),
            }
        }
        Endpoint::Unix { path, .. } => open_unix(path).await.map_err(connect_error),
        Endpoint::Serial { path, baud } => {
            use tokio_serial::{SerialPort, SerialPortBuilderExt};
            let port = tokio_serial::new(path.to_string_lossy(), *baud)
                .open_native_async()
                .map_err(|e| connect_error(e.into()))?;
            // Whatever the device printed before we came (boot messages, old replies) is not
            // for us.
            port.clear(tokio_serial::ClearBuffer::Input).map_err(|e| connect_error(e.into()))?;
            Ok(Box::new(port))
        }
    }
}

#[cfg(unix)]
async fn open_unix(path: &std::path::Path) -> io::Result<BoxStream> {
    Ok(Box::new(tokio::net::UnixStream::connect(path).await?))
}

#[cfg(not(unix))]
async fn open_unix(_path: &std::path::Path) -> io::Result<BoxStream> {
    Err(io::Error::new(io::ErrorKind::Unsupported, "Unix domain sockets are not available on this platform"))
}

/// A line-delimited connection: requests go out with CRLF, replies are read up to LF.
pub(crate) struct LineLink {
    io: BufReader<BoxStream>,
    /// The part of a reply line read so far (kept across a cancelled read).
    partial: Vec<u8>,
    /// Skip lines that are not JSON-RPC replies instead of failing (serial lines carry boot
    /// messages and logs).
    pub(crate) lenient: bool,
    /// A request was only partly written (its write was cancelled): the stream is unusable.
    pub(crate) torn: bool,
}

impl LineLink {
    /// Line framing over `io`.
    pub(crate) fn new(io: BoxStream, lenient: bool) -> Self {
        LineLink { io: BufReader::new(io), partial: Vec::new(), lenient, torn: false }
    }

    /// Writes `bytes` and a CRLF (unless `bytes` already ends with a newline) and flushes.
    pub(crate) async fn send(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        let mut frame = Vec::with_capacity(bytes.len() + 2);
        frame.extend_from_slice(bytes);
        if !bytes.ends_with(b"\n") {
            frame.extend_from_slice(b"\r\n");
        }
        self.torn = true;
        let stream = self.io.get_mut();
        stream.write_all(&frame).await?;
        stream.flush().await?;
        self.torn = false;
        Ok(())
    }

    /// The next non-blank line, without its LF or CRLF. Cancel-safe: a partly read line is
    /// kept and completed by the next call.
    pub(crate) async fn read_line(&mut self) -> Result<Vec<u8>, ClientError> {
        loop {
            let available = self.io.fill_buf().await?;
            if available.is_empty() {
                return Err(ClientError::Closed);
            }
            let (take, complete) = match available.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (available.len(), false),
            };
            self.partial.extend_from_slice(&available[..take]);
            self.io.consume(take);
            if self.partial.len() > MAX_REPLY {
                self.partial = Vec::new();
                return Err(ClientError::InvalidReply {
                    reason: format!("reply line longer than {MAX_REPLY} bytes"),
                    reply: String::new(),
                });
            }
            if complete {
                let mut line = std::mem::take(&mut self.partial);
                while line.last().is_some_and(|&b| b == b'\n' || b == b'\r') {
                    line.pop();
                }
                if !line.iter().all(u8::is_ascii_whitespace) {
                    return Ok(line);
                }
            }
        }
    }

    /// Shuts the stream down (TLS: sends close_notify).
    pub(crate) async fn shutdown(&mut self) {
        let _ = self.io.get_mut().shutdown().await;
    }
}

/// What an HTTP request is sent with.
#[derive(Clone)]
pub(crate) struct HttpTarget {
    /// The request path.
    pub(crate) uri: hyper::Uri,
    /// The `Host` header.
    pub(crate) host: HeaderValue,
    /// The `Authorization` header, if any.
    pub(crate) authorization: Option<HeaderValue>,
}

/// One keep-alive HTTP/1.1 connection.
pub(crate) struct HttpLink {
    sender: SendRequest<Full<Bytes>>,
    /// Whether a request has completed on it (a reused connection may have been closed by
    /// the server in the meantime).
    used: bool,
}

/// An HTTP response, read whole.
pub(crate) struct HttpResponse {
    pub(crate) status: StatusCode,
    pub(crate) challenge: Option<String>,
    pub(crate) body: Bytes,
}

impl HttpLink {
    /// HTTP/1.1 over `io`; the connection is driven by a spawned task that ends with it.
    pub(crate) async fn handshake(io: BoxStream) -> Result<HttpLink, ClientError> {
        let (sender, conn) = hyper::client::conn::http1::Builder::new()
            // Some servers (Twisted among them) are happiest with conventional spelling.
            .title_case_headers(true)
            .handshake(TokioIo::new(io))
            .await?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!("HTTP client connection ended: {e}");
            }
        });
        Ok(HttpLink { sender, used: false })
    }

    /// Whether the connection can take another request.
    pub(crate) fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }

    /// Whether a request has been answered on this connection before.
    pub(crate) fn reused(&self) -> bool {
        self.used
    }

    /// POSTs `body` and reads the whole response.
    pub(crate) async fn post(&mut self, target: &HttpTarget, body: Bytes) -> Result<HttpResponse, ClientError> {
        self.sender.ready().await?;
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(target.uri.clone())
            .header(HOST, target.host.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header(ACCEPT, HeaderValue::from_static("application/json"))
            .header(USER_AGENT, HeaderValue::from_static(concat!("reflex/", env!("CARGO_PKG_VERSION"))))
            .body(Full::new(body))
            .map_err(io::Error::other)?;
        if let Some(auth) = &target.authorization {
            request.headers_mut().insert(AUTHORIZATION, auth.clone());
        }
        let response = self.sender.send_request(request).await?;
        let status = response.status();
        let challenge = response.headers().get(WWW_AUTHENTICATE).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let body = Limited::new(response.into_body(), MAX_REPLY).collect().await;
        let body = match body {
            Ok(collected) => collected.to_bytes(),
            Err(e) => match e.downcast::<hyper::Error>() {
                Ok(e) => return Err(ClientError::Hyper(*e)),
                // The only other error is the size limit.
                Err(_) => {
                    return Err(ClientError::InvalidReply {
                        reason: format!("reply body longer than {MAX_REPLY} bytes"),
                        reply: String::new(),
                    })
                }
            },
        };
        self.used = true;
        Ok(HttpResponse { status, challenge, body })
    }
}

impl HttpResponse {
    /// The body as JSON, if it is a JSON-RPC reply.
    pub(crate) fn reply(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok().filter(wire::is_reply)
    }

    /// Whether the body is empty or only whitespace.
    pub(crate) fn is_empty(&self) -> bool {
        self.body.iter().all(u8::is_ascii_whitespace)
    }

    /// The error for a status that is not a success and a body that is not a reply.
    pub(crate) fn error(&self) -> ClientError {
        if self.status == StatusCode::UNAUTHORIZED {
            ClientError::Unauthorized { challenge: self.challenge.clone() }
        } else {
            ClientError::Http { status: self.status.as_u16(), body: excerpt(&self.body) }
        }
    }
}
