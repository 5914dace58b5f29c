//! reflex: an allocation-free, self-describing JSON-RPC 1.0/2.0 core for microcontrollers.
//!
//! A device declares its functions and types once, in Rust. The declaration becomes a static
//! table in flash ([`schema::ServiceDesc`]) that drives everything else: dispatching requests,
//! type-checking every parameter before a handler runs, and describing the whole service —
//! names, types, documentation — to any client that asks (`__describe_service`,
//! `__describe_functions`, `__describe_custom_types` as ReflectRPC shapes them, and OpenRPC's
//! `rpc.discover`).
//!
//! The crate is `no_std` without `alloc`. All memory is the caller's: a receive buffer, a
//! scratch area (the receive buffer's free tail serves) and an output sink. No input can
//! make it panic, recurse, or allocate; every bad input gets an error reply.
//!
//! # Layers
//!
//! * [`scan`] — strict, iterative JSON validation with a depth cap; borrowed spans.
//! * [`schema`] — the static descriptors and the [`Describe`] trait.
//! * [`check`] — parameters against descriptors, with ReflectRPC's exact error texts.
//! * [`decode`] — typed arguments from checked spans ([`FromParam`]).
//! * [`dispatch`] — the [`Service`] trait the macros implement; the [`Reply`] handle.
//! * [`engine`] — one request or batch in, replies out, both protocol versions.
//! * [`reply`], [`reflect`], [`ser`], [`sink`] — everything that writes bytes.
//! * [`io`] — newline framing over `embedded_io` and `embedded_io_async`.
//!
//! # Declaring a service
//!
//! ```
//! use reflex::{Error, RpcInfo};
//!
//! /// Type of a phone number
//! #[derive(reflex::Type, Clone, Copy)]
//! pub enum PhoneType {
//!     /// Home phone
//!     HOME = 0,
//!     /// Work phone
//!     WORK = 1,
//! }
//!
//! pub struct Device;
//!
//! /// A small example device.
//! #[reflex::service(name = "example device", version = "1.0.0", types(PhoneType))]
//! impl Device {
//!     /// Adds two numbers.
//!     /// - `a`: first number
//!     /// - `b`: second number
//!     /// Returns: the sum
//!     fn add(&self, a: i64, b: i64) -> i64 {
//!         a.wrapping_add(b)
//!     }
//!
//!     /// Returns the integer value of a phone type.
//!     fn phone(&self, t: PhoneType) -> i64 {
//!         t as i64
//!     }
//!
//!     /// Fails on purpose.
//!     #[rpc(name = "error.user")]
//!     fn fail(&self) -> Result<(), Error> {
//!         Err(Error::new("UserError", "as requested"))
//!     }
//!
//!     /// Whether the caller proved who it is.
//!     fn is_authenticated(&self, info: &RpcInfo) -> bool {
//!         info.authenticated
//!     }
//! }
//!
//! # fn main() {
//! // A custom transport is a few lines: request bytes, scratch, context, output.
//! let (mut scratch, mut out) = ([0u8; 256], [0u8; 256]);
//! let info = reflex::RpcInfo::new(reflex::Transport::InProcess);
//! let request = br#"{"jsonrpc":"2.0","method":"add","params":[1,2],"id":7}"#;
//! let n = reflex::io::handle_to_slice(&Device, &reflex::Config::new(), request, &mut scratch, &info, &mut out)
//!     .expect("reply fits");
//! assert_eq!(&out[..n], br#"{"jsonrpc":"2.0","result":3,"id":7}"#);
//!
//! // The same service speaks ReflectRPC's 1.0 dialect.
//! let request = br#"{"method": "add", "params": [4, 8.9], "id": 36}"#;
//! let n = reflex::io::handle_to_slice(&Device, &reflex::Config::new(), request, &mut scratch, &info, &mut out)
//!     .expect("reply fits");
//! assert_eq!(
//!     &out[..n],
//!     &br#"{"result": null, "id": 36, "error": {"name": "TypeError", "message": "add: Expected value of type 'int' for parameter 'b' but got value of type 'float'"}}"#[..]
//! );
//! # }
//! ```
//!
//! Serving a UART or a TCP socket is [`io::serve`] (blocking `embedded_io`) or
//! [`io::serve_async`] (`embedded_io_async`, e.g. an embassy-net `TcpSocket`).
//!
//! # Features
//!
//! * `float` (default): `f32`/`f64` parameters and results. Off, a device saves the float
//!   parsing and formatting code (tens of KiB on a Cortex-M).
//! * `defmt` / `log`: logging through one shim (mutually exclusive).
//! * `std`: conveniences for host code.
#![cfg_attr(not(test), no_std)]

#[cfg(all(feature = "defmt", feature = "log"))]
compile_error!("features `defmt` and `log` are mutually exclusive: pick one logger");

// Declared first so its macros are visible in every module below.
#[macro_use]
mod fmt;

pub mod check;
pub mod decode;
pub mod dispatch;
pub mod engine;
pub mod error;
pub mod info;
pub mod io;
pub mod reflect;
pub mod reply;
pub mod scan;
pub mod schema;
pub mod ser;
pub mod sink;

pub use decode::{Args, Base64, FromParam};
pub use dispatch::{CallError, Output, Reply, Service};
pub use engine::{handle, Config};
pub use error::Error;
pub use info::{RpcInfo, Transport};
pub use reflex_macros::{service, Type};
pub use schema::Describe;

/// Items the declaration macros refer to. Not a stable API.
#[doc(hidden)]
pub mod __private {
    pub use crate::dispatch::{Pick, SendChecked, SendInfallible};
    pub use serde;
}
