//! The `reflex` subcommands that talk to an endpoint: `demo`, `call`, `shell`, `doc`, `gen`,
//! `conform`. (`serve` lives in [`crate::server::cli`].)
//!
//! Exit codes shared by every command: 0 success, 1 the remote side said no (an RPC error, a
//! failed conformance case), 2 a usage or connection problem. Never a panic.

pub mod call;
pub mod conform;
pub mod demo;
pub mod doc;
pub mod gen;
pub mod shell;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use crate::client::{Client, ClientError, ClientOptions, Version};
use crate::Endpoint;

/// Exit code for a usage or connection problem.
pub const EXIT_USAGE: u8 = 2;
/// Exit code for an RPC error or a failed check.
pub const EXIT_FAILURE: u8 = 1;

/// How to reach an endpoint: the URL plus the TLS and authentication flags every command
/// shares.
#[derive(Debug, Clone, clap::Args)]
pub struct ConnectArgs {
    /// Endpoint: tcp://HOST:PORT, unix:///PATH, tls://HOST:PORT, http(s)://HOST:PORT/PATH or
    /// serial:///DEV?baud=N.
    pub url: Endpoint,
    /// HTTP Basic credentials USER:PASSWORD (HTTP and HTTPS).
    #[arg(long, value_name = "USER:PASSWORD", env = "REFLEX_BASIC_AUTH")]
    pub basic_auth: Option<String>,
    /// PEM file with the CA certificates that sign the server's certificate (TLS, HTTPS).
    #[arg(long, value_name = "PEM")]
    pub ca: Option<PathBuf>,
    /// PEM file with a client certificate (TLS, HTTPS); needs --key.
    #[arg(long, value_name = "PEM", requires = "key")]
    pub cert: Option<PathBuf>,
    /// PEM file with the client certificate's private key; needs --cert.
    #[arg(long, value_name = "PEM", requires = "cert")]
    pub key: Option<PathBuf>,
    /// The name the server certificate must carry, if not the URL's host.
    #[arg(long, value_name = "NAME")]
    pub server_name: Option<String>,
    /// Accept any server certificate (development only: the server is not authenticated).
    #[arg(long)]
    pub insecure: bool,
    /// Seconds to wait for a connection or a reply.
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    pub timeout: f64,
    /// Speak JSON-RPC 1.0 (ReflectRPC's dialect) instead of 2.0.
    #[arg(long, conflicts_with = "v2")]
    pub v1: bool,
    /// Speak JSON-RPC 2.0 (the default).
    #[arg(long)]
    pub v2: bool,
}

impl ConnectArgs {
    /// The client options these flags describe.
    pub fn options(&self) -> Result<ClientOptions, String> {
        let basic_auth = match &self.basic_auth {
            None => None,
            Some(s) => {
                let (u, p) = s.split_once(':').ok_or("--basic-auth wants USER:PASSWORD")?;
                Some((u.to_string(), p.to_string()))
            }
        };
        if !(self.timeout.is_finite() && self.timeout > 0.0) {
            return Err("--timeout must be a positive number of seconds".into());
        }
        Ok(ClientOptions {
            timeout: Duration::from_secs_f64(self.timeout),
            version: if self.v1 { Version::V1 } else { Version::V2 },
            basic_auth,
            ca_file: self.ca.clone(),
            client_cert: self.cert.clone().zip(self.key.clone()),
            server_name: self.server_name.clone(),
            insecure: self.insecure,
        })
    }

    /// Connects, or explains on stderr why not (the caller exits with [`EXIT_USAGE`]).
    pub async fn connect(&self) -> Result<Client, ExitCode> {
        let options = self.options().map_err(|e| usage(&e))?;
        Client::connect(&self.url, options).await.map_err(|e| connection_error(&self.url, &e))
    }
}

/// Prints a usage problem and returns [`EXIT_USAGE`].
pub fn usage(message: &str) -> ExitCode {
    eprintln!("reflex: {message}");
    ExitCode::from(EXIT_USAGE)
}

/// Prints a connection problem and returns [`EXIT_USAGE`].
pub fn connection_error(endpoint: &Endpoint, e: &ClientError) -> ExitCode {
    eprintln!("reflex: cannot reach {endpoint}: {e}");
    ExitCode::from(EXIT_USAGE)
}

/// A current-thread tokio runtime for one command.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime")
}
