//! The sockets of [`Listener`](crate::Listener) and [`Client`](crate::Client): an
//! [`Address`] to and from the kernel's form, `socket`/`bind`/`listen`/`accept`, and a
//! non-blocking `connect` bounded by a deadline.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags};
use rustix::io::Errno;
use rustix::net::{AddressFamily, SocketAddrAny, SocketAddrUnix, SocketFlags, SocketType};

use crate::address::Address;

pub(crate) fn family(address: &Address) -> AddressFamily {
    match address {
        Address::Unix(_) | Address::Abstract(_) => AddressFamily::UNIX,
        Address::Tcp(SocketAddr::V4(_)) => AddressFamily::INET,
        Address::Tcp(SocketAddr::V6(_)) => AddressFamily::INET6,
    }
}

pub(crate) fn to_any(address: &Address) -> io::Result<SocketAddrAny> {
    Ok(match address {
        Address::Unix(p) => SocketAddrUnix::new(p.as_path())?.into(),
        Address::Abstract(n) => SocketAddrUnix::new_abstract_name(n)?.into(),
        Address::Tcp(a) => (*a).into(),
    })
}

pub(crate) fn from_any(a: &SocketAddrAny) -> Option<Address> {
    if a.address_family() == AddressFamily::UNIX {
        let u = SocketAddrUnix::try_from(a.clone()).ok()?;
        if let Some(p) = u.path_bytes() {
            use std::os::unix::ffi::OsStrExt;
            return Some(Address::Unix(PathBuf::from(std::ffi::OsStr::from_bytes(p))));
        }
        // An unnamed socket (a client that did not bind) has neither; rustix shows
        // it as an empty abstract name.
        return u
            .abstract_name()
            .filter(|n| !n.is_empty())
            .map(|n| Address::Abstract(n.to_vec()));
    }
    SocketAddr::try_from(a.clone()).ok().map(Address::Tcp)
}

/// A non-blocking, close-on-exec stream socket of `address`'s family, bound to it
/// (`socket`, `SO_REUSEADDR` for TCP, `bind`). A Unix socket file exists once this
/// returns `Ok`.
pub(crate) fn bound_socket(address: &Address) -> io::Result<OwnedFd> {
    let fd = rustix::net::socket_with(
        family(address),
        SocketType::STREAM,
        SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
        None,
    )?;
    if address.is_tcp() {
        rustix::net::sockopt::set_socket_reuseaddr(&fd, true)?;
    }
    rustix::net::bind(&fd, &to_any(address)?)?;
    Ok(fd)
}

/// `listen(backlog)` on a bound socket; then the address it is on when it is TCP (a
/// port 0 resolved), `None` otherwise or when the kernel does not say.
pub(crate) fn listen(fd: BorrowedFd<'_>, backlog: i32) -> io::Result<Option<SocketAddr>> {
    rustix::net::listen(fd, backlog)?;
    Ok(
        match rustix::net::getsockname(fd).ok().and_then(|a| from_any(&a)) {
            Some(Address::Tcp(a)) => Some(a),
            _ => None,
        },
    )
}

/// What one `accept` gave.
pub(crate) enum Accepted {
    /// A connection (close-on-exec), and the peer's address when it has one.
    Conn(OwnedFd, Option<Address>),
    /// Nobody waiting (`EAGAIN`).
    Empty,
    /// Interrupted, or the peer gave up before it was accepted: try again.
    Retry,
}

/// `accept4(SOCK_CLOEXEC)` on a non-blocking listening socket.
pub(crate) fn accept(fd: BorrowedFd<'_>) -> io::Result<Accepted> {
    match rustix::net::acceptfrom_with(fd, SocketFlags::CLOEXEC) {
        Ok((conn, peer)) => Ok(Accepted::Conn(conn, peer.as_ref().and_then(from_any))),
        Err(Errno::AGAIN) => Ok(Accepted::Empty),
        Err(Errno::INTR | Errno::CONNABORTED) => Ok(Accepted::Retry),
        Err(e) => Err(e.into()),
    }
}

/// `TCP_NODELAY` on; errors ignored (the connection works without it, only slower).
pub(crate) fn set_nodelay(fd: impl AsFd) {
    let _ = rustix::net::sockopt::set_tcp_nodelay(fd, true);
}

/// Why [`connect`] gave up.
pub(crate) enum ConnectFail {
    /// The deadline passed (connecting, or waiting for room in a Unix backlog).
    Timeout,
    /// The address, the socket or the connection failed.
    Io(io::Error),
}

/// A blocking, close-on-exec stream socket connected to `address`: connects
/// non-blocking so that `deadline` bounds the wait (`EINPROGRESS` is polled for
/// writability, a full Unix backlog is retried every millisecond), then turns blocking.
pub(crate) fn connect(
    address: &Address,
    deadline: Option<Instant>,
) -> Result<OwnedFd, ConnectFail> {
    let io = |e: Errno| ConnectFail::Io(e.into());
    let any = to_any(address).map_err(ConnectFail::Io)?;
    let fd = rustix::net::socket_with(
        family(address),
        SocketType::STREAM,
        SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
        None,
    )
    .map_err(io)?;
    loop {
        match rustix::net::connect(&fd, &any) {
            Ok(()) => break,
            Err(Errno::INTR) => continue,
            Err(Errno::INPROGRESS) => {
                let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
                let mut p = [PollFd::new(&fd, PollFlags::OUT)];
                if super::poll_many(&mut p, left).map_err(ConnectFail::Io)? == 0 {
                    return Err(ConnectFail::Timeout);
                }
                match rustix::net::sockopt::socket_error(&fd) {
                    Ok(Ok(())) => break,
                    Ok(Err(e)) | Err(e) => return Err(io(e)),
                }
            }
            Err(Errno::AGAIN) => {
                // A Unix listener's backlog is full: retry until the deadline.
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Err(ConnectFail::Timeout);
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(e) => return Err(io(e)),
        }
    }
    rustix::io::ioctl_fionbio(&fd, false).map_err(io)?;
    Ok(fd)
}
