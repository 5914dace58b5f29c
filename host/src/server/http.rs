//! JSON-RPC over HTTP/1 (hyper): `POST` to the configured path.
//!
//! Timeouts. Between requests a connection may stay idle for the idle timeout. A request
//! must arrive whole within the request timeout from the first byte of its head: the head is
//! watched by [`serve`] (the connection is closed without a response, as hyper does), the
//! body by [`read_body`] (408 and close). hyper's own `header_read_timeout` is not used: its
//! clock starts when hyper begins waiting for a head, idle keep-alive time included, so it
//! would close every keep-alive connection that is quiet for the request timeout.
//!
//! Replies are collected whole, because every response carries `Content-Length` (ReflectRPC's
//! client needs it), under [`ServerConfig::max_response_size`](super::ServerConfig::max_response_size)
//! ([`crate::output::ReplyBudget`]).

use std::cell::Cell;
use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ALLOW, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, WWW_AUTHENTICATE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use reflex::{RpcInfo, Service, Transport};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

use super::auth::Verdict;
use super::{too_large_reply, Peer, Shared, BUSY_REPLY};

/// The `Allow` header of a 405, as ReflectRPC sends it.
const ALLOWED: &str = "HEAD, POST";

/// The realm of the Basic challenge.
const CHALLENGE: &str = "Basic realm=\"reflex\"";

type Body = Full<Bytes>;

/// Bytes of a request body kept in advance, whatever length the client announces: memory
/// follows the bytes that really arrive.
const BODY_PREALLOC: usize = 64 * 1024;

/// What the connection is doing, for the timeouts: when bytes last moved, how many requests
/// are being processed (handler time is neither idle time nor request time), and when the
/// head of the next request started to arrive.
struct Activity {
    last: Cell<Instant>,
    in_flight: Cell<usize>,
    /// When the first byte after the last request was handed over arrived: the start of the
    /// next request's head. `None` while nothing has come.
    head_since: Cell<Option<Instant>>,
}

/// Which timeout closed a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expired {
    /// Nothing moved for the idle timeout.
    Idle,
    /// A request head was not complete within the request timeout.
    Head,
}

impl Activity {
    fn new() -> Self {
        Activity { last: Cell::new(Instant::now()), in_flight: Cell::new(0), head_since: Cell::new(None) }
    }

    fn touch(&self) {
        self.last.set(Instant::now());
    }

    /// Bytes were read. Between requests they are the start of the next request's head.
    /// (Bytes hyper reads ahead while a request is handled are not timed before the next
    /// read; a client stalling with such a partial head is closed by the idle timeout.)
    fn received(&self) {
        self.touch();
        if self.in_flight.get() == 0 && self.head_since.get().is_none() {
            self.head_since.set(Some(Instant::now()));
        }
    }

    /// hyper has a complete head: a request is being processed. Returns when its head
    /// started to arrive (now, when that is not known), for the body's deadline.
    fn begin(&self) -> (InFlight<'_>, Instant) {
        self.in_flight.set(self.in_flight.get() + 1);
        let since = self.head_since.take().unwrap_or_else(Instant::now);
        (InFlight(self), since)
    }

    /// When to look at the connection again (`None`: no timeout is on). The time may pass
    /// without anything having expired; [`Activity::expired`] tells.
    fn deadline(&self, idle: Duration, request: Duration) -> Option<Instant> {
        let now = Instant::now();
        let on = |d: Duration| (!d.is_zero()).then_some(d);
        // While a request is processed nothing can expire (its body has its own deadline):
        // look again after a while. Likewise look again within the request timeout while no
        // head has started, since one may start any moment and nothing wakes this watch.
        let recheck = on(idle).into_iter().chain(on(request)).min().map(|d| now + d);
        if self.in_flight.get() > 0 {
            return recheck;
        }
        let idle_end = on(idle).map(|d| self.last.get() + d);
        let head_end = match (on(request), self.head_since.get()) {
            (Some(d), Some(since)) => Some(since + d),
            (Some(d), None) => Some(now + d),
            (None, _) => None,
        };
        idle_end.into_iter().chain(head_end).min()
    }

    /// Whether (and which) timeout has expired.
    fn expired(&self, idle: Duration, request: Duration) -> Option<Expired> {
        if self.in_flight.get() > 0 {
            return None;
        }
        let since = self.head_since.get();
        if !request.is_zero() && since.is_some_and(|since| since.elapsed() >= request) {
            return Some(Expired::Head);
        }
        if !idle.is_zero() && self.last.get().elapsed() >= idle {
            return Some(Expired::Idle);
        }
        None
    }
}

/// A request being processed; dropped when it is done (or abandoned).
struct InFlight<'a>(&'a Activity);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.set(self.0.in_flight.get().saturating_sub(1));
        self.0.touch();
    }
}

/// An IO stream that records when bytes move.
struct Tracked<'a, IO> {
    io: IO,
    activity: &'a Activity,
}

impl<IO: AsyncRead + Unpin> AsyncRead for Tracked<'_, IO> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.io).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.received();
        }
        r
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Tracked<'_, IO> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// The per-connection facts a request needs.
struct Conn<'a> {
    peer: &'a Peer,
    transport: Transport,
    path: &'a str,
    activity: &'a Activity,
}

fn builder() -> http1::Builder {
    let mut b = http1::Builder::new();
    // ReflectRPC's client looks for `Content-Length` spelled exactly so.
    b.title_case_headers(true).keep_alive(true).half_close(false);
    // Heads are timed by `serve` from their first byte instead (see the module docs).
    b.header_read_timeout(None);
    b
}

/// Serves HTTP/1 on one connection until the client closes it, it idles out, or the server
/// shuts down (the request in flight is answered first).
pub(super) async fn serve<S: Service, IO: AsyncRead + AsyncWrite + Unpin>(
    shared: &Shared<S>,
    io: IO,
    peer: &Peer,
    transport: Transport,
    path: &str,
) {
    let common = &*shared.common;
    let (idle, request) = (common.idle_timeout, common.request_timeout);
    let activity = Activity::new();
    let conn = Conn { peer, transport, path, activity: &activity };
    let io = TokioIo::new(Tracked { io, activity: &activity });
    let connection = builder().serve_connection(io, service_fn(|req| respond(shared, &conn, req)));
    let mut connection = std::pin::pin!(connection);
    let mut draining = false;
    loop {
        let deadline = activity.deadline(idle, request);
        tokio::select! {
            r = connection.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(peer = peer.addr.as_deref().unwrap_or("-"), "HTTP connection: {e}");
                }
                return;
            }
            () = common.shutdown.cancelled(), if !draining => {
                connection.as_mut().graceful_shutdown();
                draining = true;
            }
            () = sleep_until(deadline) => {
                let peer = peer.addr.as_deref().unwrap_or("-");
                match activity.expired(idle, request) {
                    Some(Expired::Idle) => {
                        tracing::debug!(peer, "idle for {idle:?}: closing");
                        return;
                    }
                    Some(Expired::Head) => {
                        tracing::warn!(peer, "request head not complete within {request:?} of its first byte: closing");
                        return;
                    }
                    None => {}
                }
            }
        }
    }
}

/// Sleeps until `deadline`; forever without one.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

async fn respond<S: Service>(
    shared: &Shared<S>,
    conn: &Conn<'_>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let (_in_flight, since) = conn.activity.begin();
    Ok(handle(shared, conn, req, since).await)
}

fn response(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Response<Body> {
    let body: Bytes = body.into();
    let mut r = Response::new(Full::new(body.clone()));
    *r.status_mut() = status;
    let h = r.headers_mut();
    if status != StatusCode::NO_CONTENT {
        h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        h.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
    }
    r
}

fn text(status: StatusCode, body: &'static str) -> Response<Body> {
    response(status, "text/plain; charset=utf-8", body)
}

fn json(status: StatusCode, body: Vec<u8>) -> Response<Body> {
    response(status, "application/json", body)
}

/// Whether `path` is `base` or below it.
fn path_matches(base: &str, path: &str) -> bool {
    let base = base.trim_end_matches('/');
    base.is_empty() || path == base || path.strip_prefix(base).is_some_and(|rest| rest.starts_with('/'))
}

async fn handle<S: Service>(
    shared: &Shared<S>,
    conn: &Conn<'_>,
    req: Request<Incoming>,
    since: Instant,
) -> Response<Body> {
    let common = &*shared.common;
    let max = common.max_request_size;
    // Authentication first: an unauthenticated client learns nothing else. A verified client
    // certificate takes precedence over Basic credentials.
    let user = match &conn.peer.user {
        Some(user) => Some(user.clone()),
        None => match common.basic.check(req.headers()) {
            Verdict::Off => None,
            Verdict::User(user) => Some(user),
            Verdict::Denied => {
                let mut r = text(StatusCode::UNAUTHORIZED, "Unauthorized");
                r.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_static(CHALLENGE));
                return r;
            }
        },
    };
    if !path_matches(conn.path, req.uri().path()) {
        return text(StatusCode::NOT_FOUND, "Not Found");
    }
    match *req.method() {
        Method::POST => {}
        // A liveness probe: the endpoint exists.
        Method::HEAD => return response(StatusCode::OK, "application/json", Bytes::new()),
        _ => {
            let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed");
            r.headers_mut().insert(ALLOW, HeaderValue::from_static(ALLOWED));
            return r;
        }
    }
    let declared = req.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return too_large(max).await;
    }
    let (mut parts, body) = req.into_parts();
    // Handlers see the headers, but never the credentials: they were checked above, and
    // the outcome reaches handlers as `RpcInfo::username`.
    parts.headers.remove(hyper::header::AUTHORIZATION);
    parts.headers.remove(hyper::header::PROXY_AUTHORIZATION);
    let deadline = (!common.request_timeout.is_zero()).then(|| since + common.request_timeout);
    let hint = usize::try_from(declared.unwrap_or(0)).unwrap_or(0);
    let body = match read_body(body, max, hint, deadline, common.idle_timeout).await {
        Ok(body) => body,
        Err(BodyError::TooLarge) => return too_large(max).await,
        Err(BodyError::Late) => {
            tracing::warn!(
                peer = conn.peer.addr.as_deref().unwrap_or("-"),
                "request body not complete in time (request timeout {:?}, idle timeout {:?}): closing",
                common.request_timeout,
                common.idle_timeout
            );
            let mut r = text(StatusCode::REQUEST_TIMEOUT, "Request Timeout");
            // The rest of the body is not read: the connection cannot be reused.
            r.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
            return r;
        }
        Err(BodyError::Failed(e)) => {
            tracing::debug!("reading the request body failed: {e}");
            return text(StatusCode::BAD_REQUEST, "Bad Request");
        }
    };
    let mut info = RpcInfo::new(conn.transport).with_extra(&parts.headers);
    if let Some(addr) = &conn.peer.addr {
        info = info.with_peer(addr);
    }
    if let Some(user) = &user {
        info = info.with_user(user);
    }
    let limit = common.max_response_size;
    let done = crate::output::process_limited(&*shared.service, &common.engine, &body, &info, limit).await;
    if let Some(size) = done.exceeded {
        tracing::error!(
            peer = conn.peer.addr.as_deref().unwrap_or("-"),
            size,
            limit,
            "reply of at least {size} bytes exceeds the limit of {limit}; answering with an internal error"
        );
    }
    match done.reply {
        Some(reply) => {
            let status = if common.http_status_codes { status_for(&reply) } else { StatusCode::OK };
            json(status, reply)
        }
        None if common.http_status_codes => response(StatusCode::NO_CONTENT, "", Bytes::new()),
        None => response(StatusCode::OK, "application/json", Bytes::new()),
    }
}

/// Why a request body could not be had.
enum BodyError {
    /// It is longer than the request limit.
    TooLarge,
    /// It did not arrive by the request's deadline, or stalled for the idle timeout.
    Late,
    /// The connection failed or the body is malformed.
    Failed(Box<dyn std::error::Error + Send + Sync>),
}

/// Reads a request body of at most `max` bytes (`hint`: the length announced), finished by
/// `deadline` and with no pause longer than `idle` (zero: no such limit). A body can thus
/// not hold the connection longer than the request timeout, nor, with that off, stall it
/// for longer than the idle timeout (the connection's own idle watch is off while a request
/// is processed).
async fn read_body(
    body: Incoming,
    max: usize,
    hint: usize,
    deadline: Option<Instant>,
    idle: Duration,
) -> Result<Vec<u8>, BodyError> {
    let mut body = Limited::new(body, max);
    let mut bytes = Vec::with_capacity(hint.min(max).min(BODY_PREALLOC));
    loop {
        let wait = (!idle.is_zero()).then(|| Instant::now() + idle).into_iter().chain(deadline).min();
        let frame = match wait {
            Some(until) => tokio::time::timeout_at(until, body.frame()).await.map_err(|_| BodyError::Late)?,
            None => body.frame().await,
        };
        match frame {
            None => return Ok(bytes),
            Some(Ok(frame)) => {
                // Trailers carry nothing JSON-RPC uses.
                if let Ok(data) = frame.into_data() {
                    bytes.extend_from_slice(&data);
                }
            }
            Some(Err(e)) if e.is::<LengthLimitError>() => return Err(BodyError::TooLarge),
            Some(Err(e)) => return Err(BodyError::Failed(e)),
        }
    }
}

async fn too_large(max: usize) -> Response<Body> {
    let mut r = json(StatusCode::PAYLOAD_TOO_LARGE, too_large_reply(max).await);
    // The rest of the body is not read: the connection cannot be reused.
    r.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
    r
}

/// typedjsonrpc's status for a single response: parse error and invalid request 400, method
/// not found 404, other errors 500, success (and batches) 200. 1.0 errors carry names
/// instead of codes: `InvalidRequest` is 400, the others 500.
fn status_for(reply: &[u8]) -> StatusCode {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(reply) else {
        return StatusCode::OK;
    };
    let Some(error) = value.get("error").filter(|e| !e.is_null()) else {
        return StatusCode::OK;
    };
    match (error.get("code").and_then(serde_json::Value::as_i64), error.get("name").and_then(|n| n.as_str())) {
        (Some(-32700 | -32600), _) | (None, Some("InvalidRequest")) => StatusCode::BAD_REQUEST,
        (Some(-32601), _) => StatusCode::NOT_FOUND,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Answers every request on a connection over the limit with 503 and closes it.
pub(super) async fn refuse<IO: AsyncRead + AsyncWrite + Unpin + Send + 'static>(io: IO) {
    let service = service_fn(|_req: Request<Incoming>| async {
        let mut r = json(StatusCode::SERVICE_UNAVAILABLE, BUSY_REPLY.as_bytes().to_vec());
        r.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
        Ok::<_, Infallible>(r)
    });
    let mut b = builder();
    b.keep_alive(false);
    if let Err(e) = b.serve_connection(TokioIo::new(io), service).await {
        tracing::debug!("refused HTTP connection: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert!(path_matches("/rpc", "/rpc"));
        assert!(path_matches("/rpc", "/rpc/"));
        assert!(path_matches("/rpc", "/rpc/a/b"));
        assert!(path_matches("/rpc/", "/rpc"));
        assert!(!path_matches("/rpc", "/rpcx"));
        assert!(!path_matches("/rpc", "/"));
        assert!(!path_matches("/rpc", "/other"));
        assert!(path_matches("/", "/anything"));
    }

    #[test]
    fn status_mapping() {
        let s = |r: &str| status_for(r.as_bytes());
        assert_eq!(s(r#"{"jsonrpc":"2.0","result":1,"id":1}"#), StatusCode::OK);
        assert_eq!(
            s(r#"{"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error"},"id":null}"#),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(s(r#"{"jsonrpc":"2.0","error":{"code":-32600,"message":"x"},"id":null}"#), StatusCode::BAD_REQUEST);
        assert_eq!(s(r#"{"jsonrpc":"2.0","error":{"code":-32601,"message":"x"},"id":1}"#), StatusCode::NOT_FOUND);
        assert_eq!(
            s(r#"{"jsonrpc":"2.0","error":{"code":-32602,"message":"x"},"id":1}"#),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(
            s(r#"{"jsonrpc":"2.0","error":{"code":7,"message":"x"},"id":1}"#),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(s(r#"[{"jsonrpc":"2.0","error":{"code":-32601,"message":"x"},"id":1}]"#), StatusCode::OK);
        assert_eq!(s(r#"{"result": 3, "id": 1, "error": null}"#), StatusCode::OK);
        assert_eq!(
            s(r#"{"result": null, "id": 1, "error": {"name": "InvalidRequest", "message": "m"}}"#),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            s(r#"{"result": null, "id": 1, "error": {"name": "TypeError", "message": "m"}}"#),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
