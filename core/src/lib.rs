//! reflex: an allocation-free, self-describing JSON-RPC 1.0/2.0 core.
#![cfg_attr(not(test), no_std)]

#[cfg(all(feature = "defmt", feature = "log"))]
compile_error!("features `defmt` and `log` are mutually exclusive: pick one logger");

// Declared first so its macros are visible in every module below.
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
    pub use serde;
}
