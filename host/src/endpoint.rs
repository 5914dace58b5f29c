//! Endpoint URLs, shared by servers (`--listen`) and the client:
//! `tcp://HOST:PORT`, `unix:///PATH`, `tls://HOST:PORT`, `http://HOST:PORT/PATH`,
//! `https://HOST:PORT/PATH`, `serial:///dev/ttyX?baud=N`.
//!
//! A Unix socket endpoint may carry the mode of the socket file a server creates,
//! `unix:///PATH?mode=0600` (octal); clients ignore it.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// Where a server listens or a client connects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// Line-delimited JSON-RPC over TCP.
    Tcp {
        /// Host name or address.
        host: String,
        /// Port.
        port: u16,
    },
    /// Line-delimited JSON-RPC over a Unix domain socket.
    Unix {
        /// Socket path.
        path: PathBuf,
        /// Permission bits of the socket file a server creates (`?mode=0600`); `None` for the
        /// server's default (`0660`). Connecting needs write permission, so this decides who
        /// may connect. Clients ignore it.
        mode: Option<u32>,
    },
    /// Line-delimited JSON-RPC over TLS.
    Tls {
        /// Host name or address (also the name the server certificate must carry).
        host: String,
        /// Port.
        port: u16,
    },
    /// JSON-RPC over HTTP or HTTPS `POST`.
    Http {
        /// HTTPS rather than HTTP.
        tls: bool,
        /// Host name or address.
        host: String,
        /// Port.
        port: u16,
        /// Request path (`/rpc` by default).
        path: String,
    },
    /// Line-delimited JSON-RPC over a serial port.
    Serial {
        /// Device path.
        path: PathBuf,
        /// Baud rate (115200 by default).
        baud: u32,
    },
}

/// A malformed endpoint URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid endpoint `{url}`: {reason} (expected tcp://HOST:PORT, unix:///PATH, tls://HOST:PORT, http(s)://HOST:PORT/PATH or serial:///DEV?baud=N)")]
pub struct EndpointError {
    url: String,
    reason: String,
}

impl Endpoint {
    /// `host:port` for network endpoints.
    pub fn authority(&self) -> Option<String> {
        match self {
            Endpoint::Tcp { host, port } | Endpoint::Tls { host, port } | Endpoint::Http { host, port, .. } => {
                Some(format_authority(host, *port))
            }
            _ => None,
        }
    }
}

/// Octal permission bits such as `0600`, `600` or `0o600`: only the nine `rwx` bits, because
/// set-user-ID, set-group-ID and sticky mean nothing on a socket.
fn parse_mode(text: &str) -> Option<u32> {
    let digits = text.strip_prefix("0o").unwrap_or(text);
    if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return None;
    }
    u32::from_str_radix(digits, 8).ok().filter(|m| *m <= 0o777)
}

fn format_authority(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

impl FromStr for Endpoint {
    type Err = EndpointError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason: &str| EndpointError { url: s.to_string(), reason: reason.to_string() };
        let (scheme, rest) = s.split_once("://").ok_or_else(|| err("missing scheme"))?;
        match scheme {
            "unix" => {
                let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
                if path.is_empty() {
                    return Err(err("missing socket path"));
                }
                let mut mode = None;
                for pair in query.split('&').filter(|p| !p.is_empty()) {
                    match pair.split_once('=') {
                        Some(("mode", v)) => {
                            mode = Some(parse_mode(v).ok_or_else(|| err("mode must be octal, 0 to 0777"))?)
                        }
                        _ => return Err(err("unknown unix option (only mode=OCTAL)")),
                    }
                }
                Ok(Endpoint::Unix { path: PathBuf::from(path), mode })
            }
            "serial" => {
                let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
                if path.is_empty() {
                    return Err(err("missing device path"));
                }
                let mut baud = 115_200;
                for pair in query.split('&').filter(|p| !p.is_empty()) {
                    match pair.split_once('=') {
                        Some(("baud", v)) => baud = v.parse().map_err(|_| err("baud must be a number"))?,
                        _ => return Err(err("unknown serial option (only baud=N)")),
                    }
                }
                Ok(Endpoint::Serial { path: PathBuf::from(path), baud })
            }
            "tcp" | "tls" | "http" | "https" => {
                let url = url::Url::parse(s).map_err(|e| err(&e.to_string()))?;
                let host = url.host_str().ok_or_else(|| err("missing host"))?;
                let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
                let port = match (url.port(), scheme) {
                    (Some(p), _) => p,
                    (None, "http") => 80,
                    (None, "https") => 443,
                    (None, _) => return Err(err("missing port")),
                };
                Ok(match scheme {
                    "tcp" => Endpoint::Tcp { host, port },
                    "tls" => Endpoint::Tls { host, port },
                    _ => {
                        let path = match url.path() {
                            "" | "/" => "/rpc".to_string(),
                            p => p.to_string(),
                        };
                        Endpoint::Http { tls: scheme == "https", host, port, path }
                    }
                })
            }
            _ => Err(err("unknown scheme")),
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Tcp { host, port } => write!(f, "tcp://{}", format_authority(host, *port)),
            Endpoint::Tls { host, port } => write!(f, "tls://{}", format_authority(host, *port)),
            Endpoint::Unix { path, mode: None } => write!(f, "unix://{}", path.display()),
            Endpoint::Unix { path, mode: Some(mode) } => write!(f, "unix://{}?mode={mode:04o}", path.display()),
            Endpoint::Http { tls, host, port, path } => {
                write!(f, "{}://{}{}", if *tls { "https" } else { "http" }, format_authority(host, *port), path)
            }
            Endpoint::Serial { path, baud } => write!(f, "serial://{}?baud={baud}", path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_scheme() {
        assert_eq!("tcp://127.0.0.1:5500".parse(), Ok(Endpoint::Tcp { host: "127.0.0.1".into(), port: 5500 }));
        assert_eq!("unix:///tmp/x.sock".parse(), Ok(Endpoint::Unix { path: "/tmp/x.sock".into(), mode: None }));
        for (url, mode) in [
            ("unix:///tmp/x.sock?mode=0600", 0o600),
            ("unix:///tmp/x.sock?mode=660", 0o660),
            ("unix:///tmp/x.sock?mode=0o666", 0o666),
        ] {
            assert_eq!(url.parse(), Ok(Endpoint::Unix { path: "/tmp/x.sock".into(), mode: Some(mode) }), "{url}");
        }
        assert_eq!(
            "unix:///run/r.sock?mode=600".parse::<Endpoint>().map(|e| e.to_string()).as_deref(),
            Ok("unix:///run/r.sock?mode=0600")
        );
        assert_eq!(
            "unix:///run/r.sock".parse::<Endpoint>().map(|e| e.to_string()).as_deref(),
            Ok("unix:///run/r.sock")
        );
        assert_eq!("tls://localhost:5501".parse(), Ok(Endpoint::Tls { host: "localhost".into(), port: 5501 }));
        assert_eq!(
            "http://[::1]:8080/rpc".parse(),
            Ok(Endpoint::Http { tls: false, host: "::1".into(), port: 8080, path: "/rpc".into() })
        );
        assert_eq!(
            "https://localhost:8443".parse(),
            Ok(Endpoint::Http { tls: true, host: "localhost".into(), port: 8443, path: "/rpc".into() })
        );
        assert_eq!(
            "serial:///dev/ttyACM0?baud=9600".parse(),
            Ok(Endpoint::Serial { path: "/dev/ttyACM0".into(), baud: 9600 })
        );
        assert_eq!(
            "serial:///dev/ttyUSB0".parse::<Endpoint>().map(|e| e.to_string()).as_deref(),
            Ok("serial:///dev/ttyUSB0?baud=115200")
        );
    }

    #[test]
    fn rejects_nonsense() {
        for bad in [
            "",
            "localhost:80",
            "ftp://x:1",
            "tcp://host",
            "unix://",
            "serial:///dev/x?baud=fast",
            "tcp://:80",
            "unix:///x?mode=0800",
            "unix:///x?mode=1777",
            "unix:///x?mode=",
            "unix:///x?mode=rw",
            "unix:///x?perm=0600",
            "unix://?mode=0600",
        ] {
            assert!(bad.parse::<Endpoint>().is_err(), "{bad}");
        }
    }
}
