//! A JSON-RPC client for every transport a reflex device or server speaks.
//!
//! One async (tokio) [`Client`] reaches an [`Endpoint`]:
//!
//! | endpoint | transport |
//! | --- | --- |
//! | `tcp://HOST:PORT` | line-delimited JSON over TCP |
//! | `unix:///PATH` | line-delimited JSON over a Unix domain socket |
//! | `tls://HOST:PORT` | line-delimited JSON over TLS (rustls) |
//! | `serial:///dev/ttyX?baud=N` | line-delimited JSON over a serial port (or a pseudo-terminal) |
//! | `http://HOST:PORT/PATH` | HTTP/1.1 `POST`, one keep-alive connection |
//! | `https://HOST:PORT/PATH` | the same over TLS |
//!
//! Line transports send each request followed by CRLF and read one reply line (up to LF, a CR
//! before it is dropped). One request is in flight per connection at a time: the methods take
//! `&mut self`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), reflex_host::client::ClientError> {
//! use reflex_host::client::{Client, ClientOptions};
//!
//! let endpoint = "tcp://127.0.0.1:5500".parse().expect("valid endpoint");
//! let mut client = Client::connect(&endpoint, ClientOptions::default()).await?;
//! let sum: i64 = client.call("add", (1, 2)).await?;
//! assert_eq!(sum, 3);
//! for f in client.describe_functions().await? {
//!     println!("{} - {}", f.signature(), f.description);
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Replies that nobody waits for
//!
//! A notification is sent without waiting. A 1.0 server may still answer it when the request
//! itself is bad (ReflectRPC and reflex answer an unknown method of an `"id": null` request,
//! without an `id` key), and the reply to a call that timed out may arrive late. Replies are
//! therefore matched by id; lines that answer something else are dropped, so they are never
//! taken for the next call's reply.
//!
//! # Lost connections
//!
//! When a line connection fails (the server closed it, an I/O error, a timeout in the middle
//! of writing a request), the call fails and the next call connects again. Calls are not
//! repeated, since a request may have been executed. HTTP keep-alive connections that the
//! server closed while idle are replaced transparently, once per call.

mod error;
mod link;
mod reflect;
pub mod tls;
mod wire;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use hyper::header::HeaderValue;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

pub use error::{ClientError, RpcError};
pub use reflect::{CustomType, EnumValueInfo, FieldInfo, FunctionInfo, ParamInfo, ServiceInfo};
pub use wire::{UnknownVersion, Version};

use link::{BoxStream, HttpLink, HttpTarget, LineLink, TlsSetup};
use wire::{Expect, Tracker, Verdict};

use crate::Endpoint;

/// The request sent behind raw text whose reply cannot be told from stray replies (see
/// [`Client::raw`]): present on every reflex and ReflectRPC server, without side effects.
const BARRIER_METHOD: &str = "__describe_service";

/// How a [`Client`] connects and calls.
#[derive(Clone)]
pub struct ClientOptions {
    /// Longest wait for one operation: connecting, and each call from sending the request to
    /// the end of the reply. Default 10 s. Exceeding it gives [`ClientError::Timeout`].
    pub timeout: Duration,
    /// The dialect to speak. Default [`Version::V2`].
    pub version: Version,
    /// HTTP Basic credentials `(user, password)`, sent with every HTTP(S) request.
    pub basic_auth: Option<(String, String)>,
    /// PEM file of the CA certificates that sign the server's certificate (TLS, HTTPS). Without
    /// it, the Mozilla root store is used.
    pub ca_file: Option<PathBuf>,
    /// PEM files `(certificate chain, private key)` of a client certificate (TLS, HTTPS).
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// The name the server's certificate must carry, when it is not the endpoint's host
    /// (e.g. connecting to `127.0.0.1` a server whose certificate says `device.local`).
    pub server_name: Option<String>,
    /// Accept any server certificate, unchecked. **For tests and development only**: the
    /// connection is encrypted but the server is not authenticated (see
    /// [`tls::InsecureVerifier`]).
    pub insecure: bool,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            timeout: Duration::from_secs(10),
            version: Version::V2,
            basic_auth: None,
            ca_file: None,
            client_cert: None,
            server_name: None,
            insecure: false,
        }
    }
}

impl fmt::Debug for ClientOptions {
    /// Shows everything but the Basic password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientOptions")
            .field("timeout", &self.timeout)
            .field("version", &self.version)
            .field("basic_auth", &self.basic_auth.as_ref().map(|(user, _)| (user, "<password>")))
            .field("ca_file", &self.ca_file)
            .field("client_cert", &self.client_cert)
            .field("server_name", &self.server_name)
            .field("insecure", &self.insecure)
            .finish()
    }
}

/// One element of a [`Client::batch`]: a call (answered) or a notification (not answered).
#[derive(Debug)]
pub struct BatchItem {
    method: String,
    params: Result<Option<Value>, String>,
    notification: bool,
}

impl BatchItem {
    /// A call of `method`; `params` as for [`Client::call`].
    pub fn call(method: impl Into<String>, params: impl Serialize) -> BatchItem {
        BatchItem { method: method.into(), params: params_or_message(params), notification: false }
    }

    /// A notification of `method`; `params` as for [`Client::call`].
    pub fn notify(method: impl Into<String>, params: impl Serialize) -> BatchItem {
        BatchItem { method: method.into(), params: params_or_message(params), notification: true }
    }

    /// Whether this is a notification.
    pub fn is_notification(&self) -> bool {
        self.notification
    }
}

fn params_or_message(params: impl Serialize) -> Result<Option<Value>, String> {
    wire::params_value(params).map_err(|e| e.to_string())
}

/// A reply as received.
struct Reply {
    /// The reply text (a line, or an HTTP body).
    bytes: Vec<u8>,
    /// The reply parsed, when it is JSON-RPC.
    value: Option<Value>,
}

/// The connection of a client.
enum Link {
    Line(LineLink),
    Http(HttpLink),
}

/// A JSON-RPC client on one connection to one endpoint. See the [module docs](self).
///
/// Must be used inside a tokio runtime (HTTP connections spawn their driver task; serial
/// ports register with the reactor).
pub struct Client {
    endpoint: Endpoint,
    options: ClientOptions,
    tls: Option<TlsSetup>,
    http: Option<HttpTarget>,
    link: Option<Link>,
    tracker: Tracker,
    next_id: u64,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", &self.endpoint)
            .field("options", &self.options)
            .field("connected", &self.link.is_some())
            .field("next_id", &self.next_id)
            .finish()
    }
}

impl Client {
    /// Connects to `endpoint` (within `options.timeout`). TLS settings are read here, so a
    /// missing certificate file fails at once.
    pub async fn connect(endpoint: &Endpoint, options: ClientOptions) -> Result<Client, ClientError> {
        let tls = match endpoint {
            Endpoint::Tls { host, .. } => Some(TlsSetup {
                config: tls::client_config(&options, &[])?,
                name: tls::server_name(host, options.server_name.as_deref())?,
            }),
            Endpoint::Http { tls: true, host, .. } => Some(TlsSetup {
                config: tls::client_config(&options, &[b"http/1.1"])?,
                name: tls::server_name(host, options.server_name.as_deref())?,
            }),
            _ => None,
        };
        let http = match endpoint {
            Endpoint::Http { path, .. } => Some(http_target(endpoint, path, options.basic_auth.as_ref())?),
            _ => None,
        };
        let mut client = Client {
            endpoint: endpoint.clone(),
            options,
            tls,
            http,
            link: None,
            tracker: Tracker::default(),
            next_id: 1,
        };
        let timeout = client.options.timeout;
        let link =
            tokio::time::timeout(timeout, client.open_link()).await.map_err(|_| ClientError::Timeout(timeout))??;
        client.link = Some(link);
        Ok(client)
    }

    /// The endpoint this client talks to.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The client's options (with the current timeout).
    pub fn options(&self) -> &ClientOptions {
        &self.options
    }

    /// Changes the timeout of the following operations.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.options.timeout = timeout;
    }

    /// Calls `method` and deserializes its result into `T`.
    ///
    /// `params` must serialize to a JSON array (by position: a tuple, an array, a `Vec`,
    /// `json!([..])`), to a JSON object (by name: a struct, a map; ReflectRPC and other 1.0
    /// servers take arrays only), or to null for no parameters (`()`: 2.0 omits `params`,
    /// 1.0 sends `[]`).
    ///
    /// The server's error object becomes [`ClientError::Rpc`].
    pub async fn call<T: DeserializeOwned>(&mut self, method: &str, params: impl Serialize) -> Result<T, ClientError> {
        let params = wire::params_value(params)?;
        let result = self.call_inner(method, params.as_ref()).await?;
        serde_json::from_value(result).map_err(ClientError::Result)
    }

    /// Calls `method` with `params` as they are (an array, an object, or null for none) and
    /// returns the result as JSON.
    pub async fn call_value(&mut self, method: &str, params: Value) -> Result<Value, ClientError> {
        self.call(method, params).await
    }

    /// Sends a notification: 2.0 without `id`, 1.0 with `"id": null`. Returns once it is
    /// sent; no reply is awaited (over HTTP, the HTTP response is, and a 401 is reported).
    pub async fn notify(&mut self, method: &str, params: impl Serialize) -> Result<(), ClientError> {
        let params = wire::params_value(params)?;
        let request = wire::request(self.options.version, method, params.as_ref(), None);
        self.roundtrip(&request, None).await.map(drop)
    }

    /// Sends a 2.0 batch and returns the results of its calls, in the order of the calls
    /// (notifications have no result). A batch of only notifications returns an empty vector
    /// as soon as it is sent; so does an empty batch, which is not sent at all.
    ///
    /// Each element is the call's result or its error object. The whole batch fails with
    /// [`ClientError::Rpc`] when the server rejects it as a whole.
    pub async fn batch(&mut self, items: Vec<BatchItem>) -> Result<Vec<Result<Value, RpcError>>, ClientError> {
        if self.options.version != Version::V2 {
            return Err(ClientError::Unsupported("batches need JSON-RPC 2.0 (JSON-RPC 1.0 has none)"));
        }
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let mut ids = Vec::new();
        let mut body = b"[".to_vec();
        for (i, item) in items.into_iter().enumerate() {
            let params = item.params.map_err(ClientError::Params)?;
            let id = (!item.notification).then(|| self.take_id());
            if i > 0 {
                body.push(b',');
            }
            body.extend(wire::request(Version::V2, &item.method, params.as_ref(), id));
            ids.extend(id.map(Value::from));
        }
        body.push(b']');
        if ids.is_empty() {
            self.roundtrip(&body, None).await?;
            return Ok(Vec::new());
        }
        let reply = self.expect_reply(&body, Expect::Batch(ids.clone())).await?;
        let elements = match reply {
            Value::Array(elements) => elements,
            single => {
                return Err(match wire::outcome(&single)? {
                    Err(e) => ClientError::Rpc(e),
                    Ok(_) => ClientError::invalid_reply("a batch got a single reply", single.to_string().as_bytes()),
                })
            }
        };
        ids.iter()
            .map(|id| {
                let element = elements.iter().find(|e| e.get("id") == Some(id)).ok_or_else(|| {
                    ClientError::invalid_reply(
                        format!("no reply for id {id}"),
                        Value::Array(elements.clone()).to_string().as_bytes(),
                    )
                })?;
                wire::outcome(element)
            })
            .collect()
    }

    /// Sends `bytes` as they are (followed by CRLF on line transports, unless they end with a
    /// newline; as the body on HTTP) and returns the reply text: the reply line without its
    /// terminator, or the HTTP body.
    ///
    /// Whether a reply is due is decided from the text: a 2.0 object without `id`, a 1.0
    /// object with `"id": null` and a batch of only notifications are not answered, and
    /// `None` is returned at once. Anything else, unparsable text included, waits for the
    /// reply (`None` if an HTTP server answers with an empty body).
    ///
    /// On line transports, a reply without a usable id (the answer to unparsable or id-less
    /// text) cannot be told from a 1.0 server's reply to an earlier notification. When such
    /// replies may be outstanding, the client sends a `__describe_service` call right after
    /// the text and returns the last id-less reply that precedes that call's reply.
    pub async fn raw(&mut self, bytes: &[u8]) -> Result<Option<Vec<u8>>, ClientError> {
        let expect = wire::raw_expect(bytes);
        Ok(self.roundtrip(bytes, expect).await?.map(|reply| reply.bytes))
    }

    /// `__describe_service`: the service's name, description, version and custom fields.
    pub async fn describe_service(&mut self) -> Result<ServiceInfo, ClientError> {
        self.call("__describe_service", ()).await
    }

    /// `__describe_functions`: every function with its parameters and result type.
    pub async fn describe_functions(&mut self) -> Result<Vec<FunctionInfo>, ClientError> {
        self.call("__describe_functions", ()).await
    }

    /// `__describe_custom_types`: the service's enums and named hashes.
    pub async fn describe_custom_types(&mut self) -> Result<Vec<CustomType>, ClientError> {
        self.call("__describe_custom_types", ()).await
    }

    /// `rpc.discover`: the service's OpenRPC document.
    pub async fn discover(&mut self) -> Result<Value, ClientError> {
        self.call("rpc.discover", ()).await
    }

    /// Closes the connection cleanly (TLS: sends close_notify). Dropping the client closes it
    /// too, less politely.
    pub async fn close(mut self) {
        match self.link.take() {
            Some(Link::Line(mut line)) => line.shutdown().await,
            Some(Link::Http(http)) => drop(http),
            None => {}
        }
    }

    fn take_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1).max(1);
        id
    }

    async fn call_inner(&mut self, method: &str, params: Option<&Value>) -> Result<Value, ClientError> {
        let id = self.take_id();
        let request = wire::request(self.options.version, method, params, Some(id));
        let reply = self.expect_reply(&request, Expect::Id(Value::from(id))).await?;
        if let Some(got) = reply.get("id").filter(|got| !got.is_null() && got.as_i64() != Some(-1)) {
            if got.as_u64() != Some(id) {
                return Err(ClientError::invalid_reply(
                    format!("reply is for id {got}, not {id}"),
                    reply.to_string().as_bytes(),
                ));
            }
        }
        wire::outcome(&reply)?.map_err(ClientError::Rpc)
    }

    /// Sends `request` and returns its parsed reply.
    async fn expect_reply(&mut self, request: &[u8], expect: Expect) -> Result<Value, ClientError> {
        match self.roundtrip(request, Some(expect)).await? {
            Some(Reply { value: Some(v), .. }) => Ok(v),
            Some(Reply { bytes, value: None }) => Err(ClientError::invalid_reply("not a JSON-RPC reply", &bytes)),
            None => Err(ClientError::invalid_reply("empty reply", b"")),
        }
    }

    /// Sends `request`, and when `expect` says a reply is due, waits for it; all within the
    /// timeout. A connection left unusable is dropped, and the next operation reconnects.
    async fn roundtrip(&mut self, request: &[u8], expect: Option<Expect>) -> Result<Option<Reply>, ClientError> {
        let timeout = self.options.timeout;
        match tokio::time::timeout(timeout, self.exchange(request, expect)).await {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(e)) => {
                if matches!(
                    e,
                    ClientError::Io(_) | ClientError::Closed | ClientError::Hyper(_) | ClientError::Connect { .. }
                ) {
                    self.link = None;
                }
                Err(e)
            }
            Err(_) => {
                // A line connection stays usable if the request went out whole: the late
                // reply will be dropped by id. A torn request, or an HTTP exchange in an
                // unknown state, costs the connection.
                if !matches!(&self.link, Some(Link::Line(line)) if !line.torn) {
                    self.link = None;
                }
                Err(ClientError::Timeout(timeout))
            }
        }
    }

    async fn exchange(&mut self, request: &[u8], expect: Option<Expect>) -> Result<Option<Reply>, ClientError> {
        if self.link.is_none() {
            self.link = Some(self.open_link().await?);
        }
        let barrier = match (&self.link, &expect) {
            (Some(Link::Line(_)), Some(expect)) if self.tracker.ambiguous(expect) => Some(self.take_id()),
            _ => None,
        };
        match &mut self.link {
            Some(Link::Line(line)) => {
                line.send(request).await?;
                let Some(expect) = expect else {
                    self.tracker.sent_unanswered();
                    return Ok(None);
                };
                if let Some(id) = barrier {
                    // The awaited reply has no id, and id-less replies to earlier
                    // notifications may still come. A harmless request with an id follows the
                    // text: servers answer in order, so the text's reply is the last
                    // candidate before the barrier's reply (and there is none if the text
                    // was not answered).
                    line.send(&wire::request(self.options.version, BARRIER_METHOD, None, Some(id))).await?;
                    let id = Value::from(id);
                    let mut found: Option<Reply> = None;
                    loop {
                        let bytes = line.read_line().await?;
                        let value = serde_json::from_slice::<Value>(&bytes).ok();
                        match value {
                            Some(v) if v.get("id") == Some(&id) => {
                                self.tracker.settle();
                                return Ok(found);
                            }
                            // An array answers a raw batch for sure; keep it.
                            _ if found.as_ref().is_some_and(|f| f.value.as_ref().is_some_and(Value::is_array)) => {}
                            Some(v) if wire::could_answer(&expect, &v) => found = Some(Reply { bytes, value: Some(v) }),
                            Some(v) if wire::is_reply(&v) => {}
                            _ if line.lenient => {}
                            _ => found = Some(Reply { bytes, value: None }),
                        }
                    }
                }
                loop {
                    let bytes = line.read_line().await?;
                    match self.tracker.classify(&expect, &bytes) {
                        Verdict::Mine(value) => return Ok(Some(Reply { bytes, value: Some(value) })),
                        Verdict::Stray => {
                            tracing::debug!(reply = %String::from_utf8_lossy(&bytes), "dropping a reply nobody waits for")
                        }
                        Verdict::Noise if line.lenient => {
                            tracing::debug!(line = %String::from_utf8_lossy(&bytes), "skipping a line that is not a reply")
                        }
                        Verdict::Noise => return Ok(Some(Reply { bytes, value: None })),
                    }
                }
            }
            _ => self.http_exchange(request, expect).await,
        }
    }

    async fn http_exchange(&mut self, request: &[u8], expect: Option<Expect>) -> Result<Option<Reply>, ClientError> {
        let Some(target) = self.http.clone() else {
            return Err(ClientError::Unsupported("not an HTTP endpoint"));
        };
        let body = Bytes::copy_from_slice(request);
        let mut retried = false;
        let response = loop {
            if !matches!(&self.link, Some(Link::Http(http)) if !http.is_closed()) {
                // Closed by the server while idle (or not open): replace it.
                self.link = Some(self.open_link().await?);
            }
            let Some(Link::Http(http)) = &mut self.link else {
                return Err(ClientError::Unsupported("not an HTTP endpoint"));
            };
            let reused = http.reused();
            match http.post(&target, body.clone()).await {
                Ok(response) => break response,
                Err(ClientError::Hyper(e))
                    if reused && !retried && (e.is_canceled() || e.is_closed() || e.is_incomplete_message()) =>
                {
                    // The server closed the keep-alive connection as we sent: once more on a
                    // fresh one.
                    tracing::debug!("HTTP connection closed by the server ({e}); reconnecting");
                    retried = true;
                    self.link = None;
                }
                Err(e) => return Err(e),
            }
        };
        let reply = response.reply();
        if !response.status.is_success() && (reply.is_none() || response.status == hyper::StatusCode::UNAUTHORIZED) {
            // ReflectRPC answers every notification with 500 "Processing Failed".
            if expect.is_none() && response.status == hyper::StatusCode::INTERNAL_SERVER_ERROR {
                return Ok(None);
            }
            return Err(response.error());
        }
        if expect.is_none() || response.is_empty() {
            if expect.is_none() {
                self.tracker.sent_unanswered();
            }
            return Ok(None);
        }
        Ok(Some(Reply { bytes: response.body.to_vec(), value: reply }))
    }

    async fn open_link(&self) -> Result<Link, ClientError> {
        let stream: BoxStream = link::open(&self.endpoint, self.tls.as_ref()).await?;
        Ok(match &self.endpoint {
            Endpoint::Http { .. } => Link::Http(HttpLink::handshake(stream).await.map_err(|e| match e {
                ClientError::Hyper(e) => {
                    ClientError::Connect { endpoint: self.endpoint.to_string(), source: std::io::Error::other(e) }
                }
                other => other,
            })?),
            Endpoint::Serial { .. } => Link::Line(LineLink::new(stream, true)),
            _ => Link::Line(LineLink::new(stream, false)),
        })
    }
}

/// The fixed parts of every HTTP request to `endpoint`.
fn http_target(endpoint: &Endpoint, path: &str, basic: Option<&(String, String)>) -> Result<HttpTarget, ClientError> {
    let invalid = |what: &str| ClientError::Params(format!("invalid {what} for {endpoint}"));
    let uri = path.parse::<hyper::Uri>().map_err(|_| invalid("path"))?;
    let host = HeaderValue::try_from(endpoint.authority().unwrap_or_default()).map_err(|_| invalid("host"))?;
    let authorization = match basic {
        Some((user, password)) => {
            let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            let mut value = HeaderValue::try_from(format!("Basic {token}")).map_err(|_| invalid("credentials"))?;
            value.set_sensitive(true);
            Some(value)
        }
        None => None,
    };
    Ok(HttpTarget { uri, host, authorization })
}
