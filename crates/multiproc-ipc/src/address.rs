//! [`Address`]: where a listener listens and a client connects. Below the listener and the
//! `sys` socket calls, which both name it.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Where a [`Listener`](crate::Listener) listens and a [`Client`](crate::Client) connects (CPython's `address` with its
/// `family` made explicit).
///
/// ```
/// use multiproc_ipc::Address;
/// let tcp = Address::Tcp("127.0.0.1:0".parse()?); // port 0: any free port
/// let unix = Address::unix("/run/user/1000/app.sock");
/// let hidden = Address::Abstract(b"my-app".to_vec()); // no file
/// assert!(tcp.is_tcp() && !unix.is_tcp() && !hidden.is_tcp());
/// assert_eq!(Address::from(std::path::Path::new("/tmp/s")), Address::unix("/tmp/s"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Address {
    /// A Unix-domain socket at a filesystem path (`AF_UNIX`). The listener creates the
    /// socket file with mode `0o600` and removes it when dropped.
    Unix(PathBuf),
    /// A Linux abstract Unix socket name (no file; CPython spells it `'\0name'`).
    /// Anyone on the machine may connect: use an authkey.
    Abstract(Vec<u8>),
    /// A TCP address (`AF_INET`/`AF_INET6`). Port 0 picks a free port; read it back with
    /// [`Listener::address`](crate::Listener::address).
    Tcp(SocketAddr),
}

impl Address {
    /// `Address::Unix(path)`.
    ///
    /// ```
    /// use multiproc_ipc::Address;
    /// let addr = Address::unix("/tmp/mp.sock");
    /// assert!(matches!(&addr, Address::Unix(p) if p.ends_with("mp.sock")));
    /// assert!(!addr.is_tcp());
    /// ```
    pub fn unix(path: impl Into<PathBuf>) -> Self {
        Address::Unix(path.into())
    }

    /// Whether connections to this address are TCP.
    ///
    /// ```
    /// use multiproc_ipc::Address;
    /// let tcp = Address::from("127.0.0.1:0".parse::<std::net::SocketAddr>()?);
    /// assert!(tcp.is_tcp());
    /// assert!(!Address::unix("/tmp/mp.sock").is_tcp());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_tcp(&self) -> bool {
        matches!(self, Address::Tcp(_))
    }

    /// The TCP port (`None` for a Unix socket). Of a listener bound to port 0, the
    /// port it got: read it from [`Listener::address`](crate::Listener::address).
    ///
    /// ```
    /// use multiproc_ipc::{Address, Listener};
    /// let l = Listener::bind(Address::Tcp("127.0.0.1:0".parse()?), Some(b"key"))?;
    /// assert!(l.address().port().is_some_and(|p| p != 0));
    /// assert_eq!(Address::Tcp("127.0.0.1:8080".parse()?).port(), Some(8080));
    /// assert_eq!(Address::unix("/tmp/s").port(), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn port(&self) -> Option<u16> {
        match self {
            Address::Tcp(a) => Some(a.port()),
            Address::Unix(_) | Address::Abstract(_) => None,
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Unix(p) => write!(f, "unix:{}", p.display()),
            Address::Abstract(n) => write!(f, "unix-abstract:{}", n.escape_ascii()),
            Address::Tcp(a) => write!(f, "tcp:{a}"),
        }
    }
}

impl From<SocketAddr> for Address {
    fn from(a: SocketAddr) -> Self {
        Address::Tcp(a)
    }
}

impl From<PathBuf> for Address {
    fn from(p: PathBuf) -> Self {
        Address::Unix(p)
    }
}

impl From<&Path> for Address {
    fn from(p: &Path) -> Self {
        Address::Unix(p.to_path_buf())
    }
}

/// A copy: what lets `Client::connect(&address, …)` and the other functions that take
/// `impl Into<Address>` borrow an address their caller keeps.
impl From<&Address> for Address {
    fn from(a: &Address) -> Self {
        a.clone()
    }
}
