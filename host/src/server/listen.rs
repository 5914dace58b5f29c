//! Binding listeners: TCP (with a large backlog) and Unix sockets (stale files removed, mode
//! 0660 or the endpoint's `?mode=`, set before the socket appears at its path, removed again
//! on exit); and the start-up warnings about listeners anyone on the network can use.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket, UnixListener, UnixStream};

use super::Stream;
use crate::endpoint::Endpoint;

/// Pending connections the kernel queues per TCP listener.
const BACKLOG: u32 = 1024;

/// Default mode of a new Unix socket file: owner and group may connect (connecting needs
/// write permission). An endpoint's `?mode=` replaces it.
pub(super) const SOCKET_MODE: u32 = 0o660;

/// A bound listening socket.
pub(super) enum Socket {
    Tcp(TcpListener),
    Unix(UnixListener),
}

impl Socket {
    /// The next connection and its peer address (TCP only). Accepted TCP sockets get
    /// `TCP_NODELAY`: replies are written whole, and must not wait for an ACK.
    pub(super) async fn accept(&self) -> io::Result<(Stream, Option<String>)> {
        match self {
            Socket::Tcp(l) => {
                let (s, addr) = l.accept().await?;
                if let Err(e) = s.set_nodelay(true) {
                    tracing::debug!("TCP_NODELAY: {e}");
                }
                Ok((Stream::Tcp(s), Some(addr.to_string())))
            }
            Socket::Unix(l) => {
                let (s, _) = l.accept().await?;
                Ok((Stream::Unix(s), None))
            }
        }
    }
}

/// Binds the first address `host:port` resolves to that can be bound.
pub(super) async fn bind_tcp(host: &str, port: u16) -> io::Result<(TcpListener, SocketAddr)> {
    let mut last = None;
    for addr in tokio::net::lookup_host((host, port)).await? {
        match bind_addr(addr) {
            Ok(l) => {
                let local = l.local_addr()?;
                return Ok((l, local));
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("{host} resolves to no address"))))
}

fn bind_addr(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// Removes the socket file it was created for when dropped, if the file is still that socket.
#[derive(Debug)]
pub(super) struct UnixGuard {
    path: PathBuf,
    dev: u64,
    ino: u64,
}

impl Drop for UnixGuard {
    fn drop(&mut self) {
        match std::fs::symlink_metadata(&self.path) {
            Ok(m) if m.dev() == self.dev && m.ino() == self.ino => {
                if let Err(e) = std::fs::remove_file(&self.path) {
                    tracing::warn!("cannot remove {}: {e}", self.path.display());
                }
            }
            // Replaced or removed by someone else: not ours any more.
            _ => {}
        }
    }
}

/// Binds a Unix socket at `path` with permission bits `mode`. An existing socket file nothing
/// answers on is removed first; a live one, or a path that is not a socket, is an error.
///
/// The socket never exists at `path` with any other mode: it is bound inside a fresh private
/// directory (mode 0700) next to `path`, given `mode` there, and then hard-linked to `path`.
/// Nobody else can reach the directory, so nobody can connect before the mode is right; the
/// process umask is left alone (it is process-wide, and other threads may create files). A link,
/// unlike a rename, fails when `path` exists, so a socket another server created in the
/// meantime is never replaced (file systems without hard links get a rename).
pub(super) async fn bind_unix(path: &Path, mode: u32) -> io::Result<(UnixListener, UnixGuard)> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => {
            let probe = tokio::time::timeout(Duration::from_secs(1), UnixStream::connect(path)).await;
            match probe {
                Ok(Err(_)) => {
                    tracing::info!("removing stale socket file {}", path.display());
                    std::fs::remove_file(path)?;
                }
                Ok(Ok(_)) | Err(_) => {
                    return Err(io::Error::new(io::ErrorKind::AddrInUse, "a server is answering on this socket"));
                }
            }
        }
        Ok(_) => return Err(io::Error::new(io::ErrorKind::AlreadyExists, "the path exists and is not a socket")),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let staging = Staging::create(path)?;
    let listener = UnixListener::bind(&staging.socket).map_err(|e| {
        if e.kind() == io::ErrorKind::InvalidInput {
            // Too long for a socket address: say why a path that fits is refused.
            let extra = staging.socket.as_os_str().len().saturating_sub(path.as_os_str().len());
            io::Error::new(e.kind(), format!("{e} (binding uses a temporary path {extra} bytes longer; shorten it)"))
        } else {
            e
        }
    })?;
    std::fs::set_permissions(&staging.socket, std::fs::Permissions::from_mode(mode))?;
    let meta = std::fs::symlink_metadata(&staging.socket)?;
    match std::fs::hard_link(&staging.socket, path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            return Err(io::Error::new(io::ErrorKind::AddrInUse, "another socket appeared at this path while binding"));
        }
        // A file system without hard links (EPERM): a rename is just as atomic for the mode,
        // but would replace a socket created at `path` since the check above.
        Err(e) if matches!(e.kind(), io::ErrorKind::PermissionDenied | io::ErrorKind::Unsupported) => {
            std::fs::rename(&staging.socket, path)?;
        }
        Err(e) => return Err(e),
    }
    let guard = UnixGuard { path: path.to_path_buf(), dev: meta.dev(), ino: meta.ino() };
    // The staging name goes now; the socket stays reachable through `path` (a socket is found
    // by its inode, whatever name it was bound under).
    drop(staging);
    Ok((listener, guard))
}

/// The private directory a Unix socket is bound in before it is linked into place; removed,
/// with the staging name of the socket, when dropped (also when binding fails half-way).
struct Staging {
    dir: PathBuf,
    socket: PathBuf,
}

impl Staging {
    /// Creates `.r<hex>` (mode 0700) in the directory of `path`: the same file system, so
    /// the socket can be linked from there to `path`. The name is as short as possible
    /// because a socket path may be at most about 107 bytes long and the staging path is
    /// `len(".r<hex>/s") - len(name)` bytes longer than `path`. It need not be unpredictable:
    /// `mkdir` never reuses an existing directory (or follows a symbolic link), and whoever
    /// may create files in that directory could replace the socket at `path` anyway.
    fn create(path: &Path) -> io::Result<Staging> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let start = std::process::id().wrapping_add(COUNTER.fetch_add(1, Ordering::Relaxed));
        for attempt in 0..=0xff {
            let dir = parent.join(format!(".r{:x}", start.wrapping_add(attempt) & 0xff));
            match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
                Ok(()) => {
                    let staging = Staging { socket: dir.join("s"), dir };
                    // The umask may have taken bits away (even the owner's search bit).
                    std::fs::set_permissions(&staging.dir, std::fs::Permissions::from_mode(0o700))?;
                    return Ok(staging);
                }
                // Another server binding in the same directory, or a leftover: the next name.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::new(io::ErrorKind::AlreadyExists, "no free name for a private directory next to the socket"))
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.socket);
        if let Err(e) = std::fs::remove_dir(&self.dir) {
            tracing::warn!("cannot remove {}: {e}", self.dir.display());
        }
    }
}

/// Whether an address only this machine can reach (IPv4-mapped IPv6 loopback included).
fn is_loopback(ip: IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}

/// What is worth a start-up warning about a bound listener: plaintext on an address other
/// machines can reach (`tcp://` has no authentication at all, `http://` is readable and
/// changeable on the way), Basic passwords sent in clear text over `http://` (on loopback
/// too: the next hop may be a proxy or a tunnel), and Unix sockets every local user may
/// connect to. `endpoint` is the bound one (an IP address, not a host name).
pub(super) fn exposure_warnings(endpoint: &Endpoint, basic_auth: bool) -> Vec<String> {
    let exposed = |host: &str| host.parse::<IpAddr>().map_or(true, |ip| !is_loopback(ip));
    let mut warnings = Vec::new();
    match endpoint {
        Endpoint::Tcp { host, .. } if exposed(host) => warnings.push(format!(
            "{endpoint} is reachable from other machines, unencrypted and without authentication: anyone who \
             can connect can call every method (bind it to 127.0.0.1, or use tls:// with --client-ca)"
        )),
        Endpoint::Http { tls: false, host, .. } => {
            if exposed(host) {
                let unauthenticated = if basic_auth { "" } else { " and without authentication" };
                warnings.push(format!(
                    "{endpoint} is reachable from other machines, unencrypted{unauthenticated}: requests and replies \
                     can be read and changed on the way (use https://)"
                ));
            }
            if basic_auth {
                warnings.push(format!(
                    "Basic auth on {endpoint}: passwords travel in clear text (use https://, or keep this \
                     listener behind a TLS-terminating proxy on the same machine)"
                ));
            }
        }
        Endpoint::Unix { mode: Some(mode), .. } if mode & 0o002 != 0 => {
            warnings.push(format!("{endpoint}: every local user may connect (mode {mode:04o})"));
        }
        _ => {}
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn warnings(url: &str, basic: bool) -> Vec<String> {
        exposure_warnings(&url.parse().expect("endpoint"), basic)
    }

    #[test]
    fn loopback_listeners_are_quiet() {
        for url in [
            "tcp://127.0.0.1:5500",
            "tcp://127.1.2.3:5500",
            "tcp://[::1]:5500",
            "tcp://[::ffff:127.0.0.1]:5500",
            "http://127.0.0.1:8080/rpc",
            "http://[::1]:8080/rpc",
            "tls://0.0.0.0:5501",
            "https://0.0.0.0:8443/rpc",
            "unix:///run/reflex.sock",
            "unix:///run/reflex.sock?mode=0600",
        ] {
            assert_eq!(warnings(url, false), Vec::<String>::new(), "{url}");
        }
        // TLS carries Basic passwords safely, wherever it listens.
        assert_eq!(warnings("https://0.0.0.0:8443/rpc", true), Vec::<String>::new());
    }

    #[test]
    fn plaintext_on_reachable_addresses_warns() {
        for url in ["tcp://0.0.0.0:5500", "tcp://[::]:5500", "tcp://192.168.1.10:5500", "tcp://[::ffff:10.0.0.1]:1"] {
            let w = warnings(url, false);
            assert_eq!(w.len(), 1, "{url}: {w:?}");
            assert!(w[0].contains("reachable from other machines") && w[0].contains("without authentication"), "{w:?}");
        }
        let w = warnings("http://0.0.0.0:8080/rpc", false);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("unencrypted and without authentication"), "{w:?}");
        // With Basic: unencrypted (but authenticated), and the passwords are in clear text.
        let w = warnings("http://0.0.0.0:8080/rpc", true);
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].contains("unencrypted:") && !w[0].contains("without authentication"), "{w:?}");
        assert!(w[1].starts_with("Basic auth on http://0.0.0.0:8080/rpc"), "{w:?}");
    }

    #[test]
    fn basic_over_http_warns_on_loopback_too() {
        let w = warnings("http://127.0.0.1:8080/rpc", true);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("passwords travel in clear text"), "{w:?}");
        // Line listeners do not use Basic.
        assert_eq!(warnings("tcp://127.0.0.1:5500", true), Vec::<String>::new());
    }

    #[test]
    fn world_connectable_unix_sockets_warn() {
        let w = warnings("unix:///run/reflex.sock?mode=0666", false);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("every local user"), "{w:?}");
    }
}
