//! reflex on ordinary machines.
//!
//! The same static service table that runs on a microcontroller runs here behind real
//! servers — line-delimited TCP, Unix domain sockets and TLS, HTTP and HTTPS (hyper, rustls),
//! with HTTP Basic auth and client certificates — and a [`client::Client`] reaches devices and
//! servers over every transport, serial ports included. The `reflex` binary is the command
//! line on top.
//!
//! Requests are processed by the allocation-free core ([`reflex::engine::handle`]); this
//! crate only moves bytes, authenticates peers and enforces limits.

pub mod cli;
pub mod client;
pub mod endpoint;
pub mod output;
pub mod platform;
pub mod server;
pub mod tls;

pub use endpoint::Endpoint;
pub use output::process;
pub use platform::HostPlatform;

/// The demo device service on the host's clock and timer, as `reflex serve` and
/// `reflex demo` serve it.
pub type DemoService = reflex_demo::Demo<HostPlatform>;

/// A new demo service.
pub fn demo_service() -> DemoService {
    reflex_demo::Demo::new(HostPlatform::new())
}
