//! JSON-RPC over HTTP/1 (hyper): `POST` to the configured path.

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

/// What the connection is doing, for the idle timeout: when bytes last moved, and how many
/// requests are being processed (handler time is not idle time).
struct Activity {
    last: Cell<Instant>,
    in_flight: Cell<usize>,
}

impl Activity {
    fn touch(&self) {
        self.last.set(Instant::now());
    }

    fn begin(&self) -> InFlight<'_> {
        self.in_flight.set(self.in_flight.get() + 1);
        InFlight(self)
    }

    /// When the connection counts as idle, unless something happens before.
    fn deadline(&self, idle: Duration) -> Instant {
        if self.in_flight.get() > 0 {
            Instant::now() + idle
        } else {
            self.last.get() + idle
        }
    }

    fn is_idle(&self, idle: Duration) -> bool {
        self.in_flight.get() == 0 && self.last.get().elapsed() >= idle
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
            self.activity.touch();
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
    let idle = common.idle_timeout;
    let activity = Activity { last: Cell::new(Instant::now()), in_flight: Cell::new(0) };
    let conn = Conn { peer, transport, path, activity: &activity };
    let io = TokioIo::new(Tracked { io, activity: &activity });
    let connection = builder().serve_connection(io, service_fn(|req| respond(shared, &conn, req)));
    let mut connection = std::pin::pin!(connection);
    let mut draining = false;
    loop {
        let deadline = activity.deadline(idle);
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
            () = tokio::time::sleep_until(deadline), if !idle.is_zero() => {
                if activity.is_idle(idle) {
                    tracing::debug!(peer = peer.addr.as_deref().unwrap_or("-"), "idle for {idle:?}: closing");
                    return;
                }
            }
        }
    }
}

async fn respond<S: Service>(
    shared: &Shared<S>,
    conn: &Conn<'_>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let _in_flight = conn.activity.begin();
    Ok(handle(shared, conn, req).await)
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

async fn handle<S: Service>(shared: &Shared<S>, conn: &Conn<'_>, req: Request<Incoming>) -> Response<Body> {
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
    let body = match Limited::new(body, max).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<LengthLimitError>() => return too_large(max).await,
        Err(e) => {
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
    match crate::process(&*shared.service, &common.engine, &body, &info).await {
        Some(reply) => {
            let status = if common.http_status_codes { status_for(&reply) } else { StatusCode::OK };
            json(status, reply)
        }
        None if common.http_status_codes => response(StatusCode::NO_CONTENT, "", Bytes::new()),
        None => response(StatusCode::OK, "application/json", Bytes::new()),
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
