//! Binding listeners: TCP (with a large backlog) and Unix sockets (stale files removed, mode
//! 0660, removed again on exit).

use std::io;
use std::net::SocketAddr;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket, UnixListener, UnixStream};

use super::Stream;

/// Pending connections the kernel queues per TCP listener.
const BACKLOG: u32 = 1024;

/// Mode of a new Unix socket file: owner and group may connect.
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

/// Binds a Unix socket at `path`. An existing socket file nothing answers on is removed
/// first; a live one, or a path that is not a socket, is an error. The socket gets mode
/// [`SOCKET_MODE`].
pub(super) async fn bind_unix(path: &Path) -> io::Result<(UnixListener, UnixGuard)> {
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
    let listener = UnixListener::bind(path)?;
    let meta = std::fs::symlink_metadata(path)?;
    let guard = UnixGuard { path: path.to_path_buf(), dev: meta.dev(), ino: meta.ino() };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(SOCKET_MODE))?;
    Ok((listener, guard))
}
