//! What a handler may learn about the call: the transport, the peer, who is authenticated.

use core::any::Any;
use core::fmt;

/// The kind of transport a request arrived on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Transport {
    /// A serial line (UART, USB CDC, pseudo-terminal).
    Serial,
    /// Line-delimited TCP.
    Tcp,
    /// Line-delimited Unix domain socket.
    Unix,
    /// Line-delimited TLS.
    Tls,
    /// HTTP.
    Http,
    /// HTTPS.
    Https,
    /// Called in the same process (tests, custom transports).
    InProcess,
}

impl Transport {
    /// A short lower-case name (`tcp`, `http`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            Transport::Serial => "serial",
            Transport::Tcp => "tcp",
            Transport::Unix => "unix",
            Transport::Tls => "tls",
            Transport::Http => "http",
            Transport::Https => "https",
            Transport::InProcess => "in-process",
        }
    }
}

/// The context of one call (ReflectRPC's `rpcinfo`). A handler receives it by declaring a
/// parameter of type `&RpcInfo`; it is not a wire parameter and is never described.
///
/// `authenticated` is set only by a transport that checked a credential (a client
/// certificate or an HTTP Basic password); a header that was not checked never sets it.
#[derive(Clone, Copy)]
pub struct RpcInfo<'a> {
    /// The transport.
    pub transport: Transport,
    /// The peer's address, if the transport knows one (e.g. `127.0.0.1:53122`).
    pub peer: Option<&'a str>,
    /// Whether the peer proved an identity.
    pub authenticated: bool,
    /// The proven user name (certificate CN or Basic user), when authenticated.
    pub username: Option<&'a str>,
    /// Transport-specific data, e.g. the HTTP request headers on the host.
    pub extra: Option<&'a (dyn Any + Sync)>,
}

impl<'a> RpcInfo<'a> {
    /// An unauthenticated context for `transport` with no peer.
    pub const fn new(transport: Transport) -> Self {
        RpcInfo { transport, peer: None, authenticated: false, username: None, extra: None }
    }

    /// Sets the peer address.
    pub const fn with_peer(mut self, peer: &'a str) -> Self {
        self.peer = Some(peer);
        self
    }

    /// Marks the context authenticated as `username`.
    pub const fn with_user(mut self, username: &'a str) -> Self {
        self.authenticated = true;
        self.username = Some(username);
        self
    }

    /// Attaches transport-specific data.
    pub fn with_extra(mut self, extra: &'a (dyn Any + Sync)) -> Self {
        self.extra = Some(extra);
        self
    }

    /// The transport-specific data as `T`, if it is one.
    pub fn extra<T: Any>(&self) -> Option<&'a T> {
        self.extra.and_then(|e| (e as &dyn Any).downcast_ref::<T>())
    }
}

impl fmt::Debug for RpcInfo<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RpcInfo")
            .field("transport", &self.transport)
            .field("peer", &self.peer)
            .field("authenticated", &self.authenticated)
            .field("username", &self.username)
            .field("extra", &self.extra.is_some())
            .finish()
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for RpcInfo<'_> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "RpcInfo {{ transport: {}, authenticated: {} }}", self.transport, self.authenticated)
    }
}
