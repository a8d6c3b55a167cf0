//! [`Listener`] and [`Client`]: connections by address, with CPython's authkey handshake.

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::address::Address;
use crate::auth::{self, AuthError, Handshake, HandshakeConfig, Role, Status};
use crate::connection::{Connection, Transport};
use crate::sys;

/// The async forms (feature `tokio`), re-exported from `crate::aio`.
#[cfg(feature = "tokio")]
pub(crate) mod aio;

/// Why a [`Listener`] could not be made or could not accept.
///
/// ```
/// use std::time::Duration;
/// use multiproc_ipc::{Address, Listener, ListenerError};
///
/// let tcp = Address::Tcp("127.0.0.1:0".parse()?);
/// assert!(matches!(Listener::bind(tcp.clone(), None), Err(ListenerError::UnauthenticatedTcp)));
/// let l = Listener::bind(tcp, Some(b"key"))?;
/// let err = l.accept_timeout(Duration::from_millis(10)).unwrap_err();
/// assert!(matches!(err, ListenerError::Timeout));
/// assert!(!err.is_per_connection()); // only a failed handshake is per connection
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum ListenerError {
    /// `bind`/`listen` failed (address in use, permission, path too long…).
    Bind {
        /// The address asked for.
        address: Address,
        /// What the OS said.
        source: io::Error,
    },
    /// A TCP listener without an authkey, or with an empty one (which anyone can
    /// prove), was asked for without [`ListenerBuilder::allow_unauthenticated_tcp`]:
    /// anyone who can reach the port could then talk to this process.
    UnauthenticatedTcp,
    /// One incoming connection failed its handshake (wrong key, garbage, silence past the
    /// handshake timeout) and was closed. The listener is unaffected: accept again.
    Handshake {
        /// The peer's address, when it has one (TCP).
        peer: Option<Address>,
        /// Why.
        source: AuthError,
    },
    /// No connection completed before the deadline of [`Listener::accept_timeout`].
    Timeout,
    /// `accept`/`poll` failed.
    Io(io::Error),
}

impl ListenerError {
    /// Whether this error concerns one incoming peer only, the listener staying usable.
    ///
    /// ```
    /// use multiproc_ipc::{Address, Listener};
    /// let addr = Address::Abstract(format!("mp-doc-perconn-{}", std::process::id()).into_bytes());
    /// let listener = Listener::bind(addr, Some(b"key"))?;
    /// let err = listener.accept_timeout(std::time::Duration::from_millis(10)).unwrap_err();
    /// assert!(!err.is_per_connection()); // a timeout: not one peer's fault
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_per_connection(&self) -> bool {
        matches!(self, ListenerError::Handshake { .. })
    }
}

impl fmt::Display for ListenerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListenerError::Bind { address, .. } => write!(f, "cannot listen on {address}"),
            ListenerError::UnauthenticatedTcp => f.write_str(
                "a tcp listener needs a non-empty authkey (or allow_unauthenticated_tcp(true))",
            ),
            ListenerError::Handshake { peer: Some(p), .. } => {
                write!(f, "handshake with {p} failed")
            }
            ListenerError::Handshake { peer: None, .. } => f.write_str("handshake failed"),
            ListenerError::Timeout => f.write_str("timed out waiting for a connection"),
            ListenerError::Io(_) => f.write_str("accepting a connection failed"),
        }
    }
}

impl std::error::Error for ListenerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ListenerError::Bind { source, .. } | ListenerError::Io(source) => Some(source),
            ListenerError::Handshake { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<io::Error> for ListenerError {
    fn from(e: io::Error) -> Self {
        ListenerError::Io(e)
    }
}

/// Why a [`Client`] could not connect.
///
/// ```
/// use multiproc_ipc::{Address, Client, ClientError};
///
/// let tcp = Address::Tcp("127.0.0.1:9".parse()?);
/// assert!(matches!(Client::connect(&tcp, None), Err(ClientError::UnauthenticatedTcp)));
/// let nobody = Address::unix(std::env::temp_dir().join(format!("mp-doc-none-{}", std::process::id())));
/// assert!(matches!(Client::connect(&nobody, None), Err(ClientError::Connect { .. })));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum ClientError {
    /// `connect` failed (nobody listening, refused, unreachable…).
    Connect {
        /// The address.
        address: Address,
        /// What the OS said.
        source: io::Error,
    },
    /// TCP without an authkey, or with an empty one, was asked for without
    /// [`ClientBuilder::allow_unauthenticated_tcp`].
    UnauthenticatedTcp,
    /// The authkey handshake failed.
    Handshake(AuthError),
    /// Connecting (or the handshake) did not finish in time.
    Timeout,
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Connect { address, .. } => write!(f, "cannot connect to {address}"),
            ClientError::UnauthenticatedTcp => f.write_str(
                "a tcp client needs a non-empty authkey (or allow_unauthenticated_tcp(true))",
            ),
            ClientError::Handshake(_) => f.write_str("authkey handshake failed"),
            ClientError::Timeout => f.write_str("timed out connecting"),
        }
    }
}

impl std::error::Error for ClientError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ClientError::Connect { source, .. } => Some(source),
            ClientError::Handshake(e) => Some(e),
            _ => None,
        }
    }
}

/// Most handshakes a listener runs at once. When all are taken and another connection
/// is waiting, the oldest handshake that has run for [`EVICT_AGE`] is dropped to make
/// room (see [`Listener`]); until one has, new connections wait in the kernel's backlog.
const MAX_PENDING: usize = 64;

/// How long a pending handshake is safe from eviction: time enough for a real client's
/// two round trips on a loaded machine, short enough that slow or silent peers cannot
/// hold the table against newcomers (they are cycled out 64 every quarter second).
const EVICT_AGE: Duration = Duration::from_millis(250);

/// Most connections taken from the kernel's backlog in one wake-up.
const ACCEPT_BATCH: usize = 256;

/// Default bound on a whole incoming handshake (two round trips for a real client).
pub(crate) const DEFAULT_ACCEPT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// The setters both builders have, each with the docs the invocation gives it: the
/// key, whether a Python ≤ 3.11 peer's raw HMAC-MD5 is accepted, and whether TCP may go
/// without a key.
macro_rules! auth_setters {
    ($($(#[$doc:meta])* $setter:ident;)+) => {$(
        auth_setters!(@one $(#[$doc])* $setter);
    )+};
    (@one $(#[$doc:meta])* authkey) => {
        $(#[$doc])*
        #[must_use]
        pub fn authkey(mut self, authkey: &[u8]) -> Self {
            self.authkey = Some(authkey.to_vec());
            self
        }
    };
    (@one $(#[$doc:meta])* accept_legacy_md5) => {
        $(#[$doc])*
        #[must_use]
        pub fn accept_legacy_md5(mut self, accept: bool) -> Self {
            self.handshake.accept_legacy_md5 = accept;
            self
        }
    };
    (@one $(#[$doc:meta])* allow_unauthenticated_tcp) => {
        $(#[$doc])*
        #[must_use]
        pub fn allow_unauthenticated_tcp(mut self, allow: bool) -> Self {
            self.allow_unauthenticated_tcp = allow;
            self
        }
    };
}

/// Options for a [`Listener`]; made by [`Listener::builder`].
///
/// ```
/// use std::time::Duration;
/// use multiproc_ipc::{Address, Listener};
///
/// let l = Listener::builder(Address::Tcp("127.0.0.1:0".parse()?))
///     .authkey(b"secret")
///     .backlog(16)
///     .handshake_timeout(Duration::from_secs(5))
///     .bind()?;
/// assert!(l.address().port().is_some_and(|p| p != 0));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct ListenerBuilder {
    address: Address,
    authkey: Option<Vec<u8>>,
    backlog: i32,
    handshake: HandshakeConfig,
    allow_unauthenticated_tcp: bool,
}

impl fmt::Debug for ListenerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ListenerBuilder")
            .field("address", &self.address)
            .field("authkey", &self.authkey.as_ref().map(|_| "<secret>"))
            .field("backlog", &self.backlog)
            .field("handshake", &self.handshake)
            .field("allow_unauthenticated_tcp", &self.allow_unauthenticated_tcp)
            .finish()
    }
}

impl ListenerBuilder {
    auth_setters! {
        /// Requires peers to prove they hold `authkey` (CPython's handshake). An empty key
        /// proves nothing: on TCP it counts as no key (refused unless
        /// [`allow_unauthenticated_tcp`](Self::allow_unauthenticated_tcp)); elsewhere, and
        /// on TCP when allowed, the handshake runs with it (a CPython peer with
        /// `authkey=b''` passes).
        ///
        /// ```
        /// use multiproc_ipc::{Address, Client, ClientError, Listener};
        /// let l = Listener::builder(Address::Tcp("127.0.0.1:0".parse()?))
        ///     .authkey(b"secret")
        ///     .bind()?;
        /// let at = l.address().clone();
        /// let server = std::thread::spawn(move || l.accept().map(drop));
        /// // A client with another key is refused by the handshake.
        /// let r = Client::builder().authkey(b"guess").connect(&at);
        /// assert!(matches!(r, Err(ClientError::Handshake(_))), "{r:?}");
        /// assert!(server.join().expect("server thread").is_err());
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        authkey;
    }

    /// The `listen(2)` backlog (default 128; CPython's default is 1).
    ///
    /// ```
    /// use multiproc_ipc::{Address, Client, Listener};
    /// let addr = Address::Abstract(format!("mp-doc-backlog-{}", std::process::id()).into_bytes());
    /// let listener = Listener::builder(addr.clone()).authkey(b"key").backlog(16).bind()?;
    /// let server = std::thread::spawn(move || -> Result<i64, String> {
    ///     let conn = listener.accept().map_err(|e| e.to_string())?;
    ///     conn.recv::<i64>().map_err(|e| e.to_string())
    /// });
    /// let conn = Client::connect(&addr, Some(b"key"))?;
    /// conn.send(&7_i64)?;
    /// assert_eq!(server.join().map_err(|_| "panicked")??, 7);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn backlog(mut self, backlog: i32) -> Self {
        self.backlog = backlog;
        self
    }

    /// Bound on each incoming handshake, whole (default 5 s; a real client needs two
    /// round trips). A peer that has not finished by then is dropped, however much it
    /// sent; other peers are served meanwhile. Only time spent inside
    /// [`accept`](Listener::accept) counts: a handshake is not failed because the
    /// application was busy elsewhere when the client answered.
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_ipc::{Address, Client, Listener};
    /// let addr = Address::Abstract(format!("mp-doc-hstimeout-{}", std::process::id()).into_bytes());
    /// let listener = Listener::builder(addr.clone())
    ///     .authkey(b"key")
    ///     .handshake_timeout(Duration::from_secs(60))
    ///     .bind()?;
    /// let server = std::thread::spawn(move || -> Result<i64, String> {
    ///     let conn = listener.accept().map_err(|e| e.to_string())?;
    ///     conn.recv::<i64>().map_err(|e| e.to_string())
    /// });
    /// let conn = Client::connect(&addr, Some(b"key"))?;
    /// conn.send(&7_i64)?;
    /// assert_eq!(server.join().map_err(|_| "panicked")??, 7);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake.timeout = timeout;
        self
    }

    auth_setters! {
        /// Whether to accept a raw HMAC-MD5 response (Python ≤ 3.11 clients; default `true`).
        ///
        /// ```
        /// use multiproc_ipc::{Address, Client, Listener};
        /// let addr = Address::Abstract(format!("mp-doc-lmd5-{}", std::process::id()).into_bytes());
        /// let listener = Listener::builder(addr.clone()).authkey(b"key").accept_legacy_md5(false).bind()?;
        /// let server = std::thread::spawn(move || -> Result<i64, String> {
        ///     let conn = listener.accept().map_err(|e| e.to_string())?;
        ///     conn.recv::<i64>().map_err(|e| e.to_string())
        /// });
        /// let conn = Client::connect(&addr, Some(b"key"))?; // a modern client: unaffected
        /// conn.send(&7_i64)?;
        /// assert_eq!(server.join().map_err(|_| "panicked")??, 7);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        accept_legacy_md5;

        /// Allows a TCP listener without an authkey (default `false`: refused with
        /// [`ListenerError::UnauthenticatedTcp`]).
        ///
        /// ```
        /// use multiproc_ipc::{Address, Listener, ListenerError};
        /// let tcp = Address::Tcp("127.0.0.1:0".parse()?);
        /// let refused = Listener::builder(tcp.clone()).bind();
        /// assert!(matches!(refused, Err(ListenerError::UnauthenticatedTcp)));
        /// // Anyone who can reach the port may connect: loopback and trusted networks only.
        /// let open = Listener::builder(tcp).allow_unauthenticated_tcp(true).bind()?;
        /// assert!(open.address().port().is_some());
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        allow_unauthenticated_tcp;
    }

    /// Creates the socket, binds and listens.
    ///
    /// # Errors
    /// [`ListenerError::UnauthenticatedTcp`], or [`ListenerError::Bind`] when
    /// `socket`/`bind`/`listen` fails (an existing socket file gives `AddrInUse`).
    ///
    /// ```
    /// use multiproc_ipc::{Address, Listener};
    /// let addr = Address::Abstract(format!("mp-doc-bbind-{}", std::process::id()).into_bytes());
    /// let listener = Listener::builder(addr.clone()).authkey(b"key").bind()?;
    /// assert_eq!(listener.address(), &addr);
    /// assert!(Listener::builder(addr).authkey(b"key").bind().is_err()); // in use
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn bind(self) -> Result<Listener, ListenerError> {
        if self.address.is_tcp() && !has_key(&self.authkey) && !self.allow_unauthenticated_tcp {
            return Err(ListenerError::UnauthenticatedTcp);
        }
        let bind_err = |source: io::Error| ListenerError::Bind {
            address: self.address.clone(),
            source,
        };
        let fd = sys::net::bound_socket(&self.address).map_err(bind_err)?;
        let unlink = match &self.address {
            Address::Unix(p) => Some(p.clone()),
            _ => None,
        };
        // From here on the socket file exists: remove it on every failure path.
        let guard = UnlinkGuard(unlink);
        if let Some(p) = &guard.0 {
            // Before listen(): nobody can connect yet, so there is no window where the
            // file is reachable with looser permissions.
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o600))
                .map_err(bind_err)?;
        }
        let address = match sys::net::listen(fd.as_fd(), self.backlog).map_err(bind_err)? {
            Some(a) => Address::Tcp(a),
            None => self.address.clone(),
        };
        tracing::debug!(%address, auth = self.authkey.is_some(), "multiproc-ipc: listening");
        Ok(Listener {
            fd,
            address,
            authkey: self.authkey,
            handshake: self.handshake,
            state: Mutex::new(State::default()),
            last_accepted: Mutex::new(None),
            unlink: guard,
        })
    }
}

/// Whether `authkey` authenticates anything: an empty key is one anybody holds.
fn has_key(authkey: &Option<Vec<u8>>) -> bool {
    authkey.as_ref().is_some_and(|k| !k.is_empty())
}

struct UnlinkGuard(Option<PathBuf>);

impl Drop for UnlinkGuard {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

struct Pending {
    fd: OwnedFd,
    peer: Option<Address>,
    hs: Handshake,
    /// When it was accepted (for eviction, oldest first).
    started: Instant,
    deadline: Instant,
}

#[derive(Default)]
struct State {
    pending: Vec<Pending>,
    /// When the last `accept` returned: time outside `accept` is not charged to the
    /// pending handshakes (nobody was reading their answers).
    left_at: Option<Instant>,
}

impl State {
    /// The index of the oldest pending handshake, if the table is full.
    fn oldest_if_full(&self) -> Option<(usize, Instant)> {
        if self.pending.len() < MAX_PENDING {
            return None;
        }
        self.pending
            .iter()
            .enumerate()
            .map(|(i, p)| (i, p.started))
            .min_by_key(|&(_, t)| t)
    }

    /// When `accept` must wake at the latest: its `deadline`, a pending handshake's
    /// deadline, or `evict_at` (when the table is full), whichever comes first.
    fn wake_at(&self, deadline: Option<Instant>, evict_at: Option<Instant>) -> Option<Instant> {
        let deadlines = self.pending.iter().map(|p| p.deadline);
        deadline.into_iter().chain(evict_at).chain(deadlines).min()
    }
}

/// A socket that accepts connections (CPython's `multiprocessing.connection.Listener`).
///
/// With an authkey, every incoming connection must pass CPython's mutual challenge/response
/// handshake (see [`crate::auth`]) before [`accept`](Self::accept) returns it. Handshakes
/// run concurrently inside `accept`: a peer that stalls or sends garbage delays nobody,
/// and is dropped at the handshake timeout (default 5 s for the whole handshake). A
/// failed handshake is reported as [`ListenerError::Handshake`] (as CPython raises
/// `AuthenticationError` from `accept`); the listener stays usable.
///
/// Slow or silent peers cannot lock a listener: up to 64 handshakes run at once, and
/// when all are taken while another connection waits, the oldest one that has had a
/// quarter of a second is dropped (silently, as it proved nothing) to make room. A
/// legitimate client is so served within about a second even while hundreds of peers
/// trickle bytes or say nothing.
///
/// All sockets are `CLOEXEC`. A Unix-socket file is created `0o600` and removed on drop.
///
/// ```
/// use multiproc_ipc::{Address, Client, Listener};
/// let dir = std::env::temp_dir().join(format!("mp-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let addr = Address::unix(dir.join("sock"));
/// let listener = Listener::bind(addr.clone(), Some(b"secret"))?;
/// let t = std::thread::spawn(move || -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
///     let conn = Client::connect(&addr, Some(b"secret"))?;
///     conn.send(&"hello")?;
///     Ok(conn.recv::<String>()?)
/// });
/// let conn = listener.accept()?;
/// let got: String = conn.recv()?;
/// conn.send(&got.to_uppercase())?;
/// assert_eq!(t.join().expect("client thread").map_err(|e| e.to_string())?, "HELLO");
/// drop(listener); // removes the socket file
/// std::fs::remove_dir(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Listener {
    fd: OwnedFd,
    address: Address,
    authkey: Option<Vec<u8>>,
    handshake: HandshakeConfig,
    /// Held for the whole of an `accept` (one accept at a time).
    state: Mutex<State>,
    /// Separate from `state`, so that it can be read while another thread accepts.
    last_accepted: Mutex<Option<Address>>,
    unlink: UnlinkGuard,
}

impl fmt::Debug for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Listener")
            .field("fd", &self.fd.as_raw_fd())
            .field("address", &self.address)
            .field("authenticated", &self.authkey.is_some())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Listener {
    /// Starts configuring a listener on `address`.
    ///
    /// ```
    /// use multiproc_ipc::{Address, Client, Listener};
    /// let addr = Address::Abstract(format!("mp-doc-builder2-{}", std::process::id()).into_bytes());
    /// let listener = Listener::builder(addr.clone()).authkey(b"key").bind()?;
    /// let server = std::thread::spawn(move || -> Result<i64, String> {
    ///     let conn = listener.accept().map_err(|e| e.to_string())?;
    ///     conn.recv::<i64>().map_err(|e| e.to_string())
    /// });
    /// let conn = Client::connect(&addr, Some(b"key"))?;
    /// conn.send(&7_i64)?;
    /// assert_eq!(server.join().map_err(|_| "panicked")??, 7);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn builder(address: impl Into<Address>) -> ListenerBuilder {
        ListenerBuilder {
            address: address.into(),
            authkey: None,
            backlog: 128,
            handshake: HandshakeConfig::default().with_timeout(DEFAULT_ACCEPT_HANDSHAKE_TIMEOUT),
            allow_unauthenticated_tcp: false,
        }
    }

    /// `Listener(address, authkey=authkey)`: binds with default options.
    ///
    /// # Errors
    /// As [`ListenerBuilder::bind`].
    ///
    /// ```
    /// use multiproc_ipc::{Address, Client, Listener};
    /// let addr = Address::Abstract(format!("mp-doc-lbind-{}", std::process::id()).into_bytes());
    /// let listener = Listener::bind(addr.clone(), Some(b"key"))?;
    /// let server = std::thread::spawn(move || -> Result<i64, String> {
    ///     let conn = listener.accept().map_err(|e| e.to_string())?;
    ///     conn.recv::<i64>().map_err(|e| e.to_string())
    /// });
    /// let conn = Client::connect(&addr, Some(b"key"))?;
    /// conn.send(&7_i64)?;
    /// assert_eq!(server.join().map_err(|_| "panicked")??, 7);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn bind(
        address: impl Into<Address>,
        authkey: Option<&[u8]>,
    ) -> Result<Self, ListenerError> {
        let mut b = Self::builder(address);
        if let Some(k) = authkey {
            b = b.authkey(k);
        }
        b.bind()
    }

    /// The address bound (with the real port when port 0 was asked for).
    ///
    /// ```
    /// use multiproc_ipc::{Address, Listener};
    /// let listener = Listener::bind(Address::Tcp("127.0.0.1:0".parse()?), Some(b"key"))?;
    /// assert!(listener.address().port().is_some_and(|p| p != 0)); // the real port
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn address(&self) -> &Address {
        &self.address
    }

    /// The address of the last peer accepted, when it has one (TCP peers do; Unix-socket
    /// clients usually are unnamed). CPython's `last_accepted`.
    ///
    /// ```
    /// use multiproc_ipc::{Address, Client, Listener};
    /// let listener = Listener::bind(Address::Tcp("127.0.0.1:0".parse()?), Some(b"key"))?;
    /// let at = listener.address().clone();
    /// assert!(listener.last_accepted().is_none());
    /// let client = std::thread::spawn(move || Client::connect(&at, Some(b"key")).map(drop));
    /// let _conn = listener.accept()?;
    /// assert!(listener.last_accepted().is_some_and(|a| a.is_tcp())); // TCP peers have an address
    /// assert!(client.join().is_ok_and(|r| r.is_ok()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn last_accepted(&self) -> Option<Address> {
        lock(&self.last_accepted).clone()
    }

    /// Waits for the next connection and returns it once its handshake (if any) passed.
    ///
    /// # Errors
    /// [`ListenerError::Handshake`] for a peer that failed (accept again),
    /// [`ListenerError::Io`] if `accept`/`poll` failed.
    ///
    /// ```
    /// use multiproc_ipc::{Address, Client, Listener};
    /// let addr = Address::Abstract(format!("mp-doc-accept-{}", std::process::id()).into_bytes());
    /// let listener = Listener::bind(addr.clone(), Some(b"key"))?;
    /// let server = std::thread::spawn(move || -> Result<i64, String> {
    ///     let conn = listener.accept().map_err(|e| e.to_string())?;
    ///     conn.recv::<i64>().map_err(|e| e.to_string())
    /// });
    /// let conn = Client::connect(&addr, Some(b"key"))?;
    /// conn.send(&7_i64)?;
    /// assert_eq!(server.join().map_err(|_| "panicked")??, 7);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn accept(&self) -> Result<Connection, ListenerError> {
        self.accept_deadline(None)
    }

    /// [`accept`](Self::accept), giving up with [`ListenerError::Timeout`] after `timeout`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_ipc::{Address, Client, Listener, ListenerError};
    ///
    /// let l = Listener::bind(Address::Tcp("127.0.0.1:0".parse()?), Some(b"key"))?;
    /// assert!(matches!(l.accept_timeout(Duration::from_millis(10)), Err(ListenerError::Timeout)));
    /// let addr = l.address().clone();
    /// let t = std::thread::spawn(move || -> Result<(), String> {
    ///     let c = Client::connect_timeout(&addr, Some(b"key"), Duration::from_secs(60))
    ///         .map_err(|e| e.to_string())?;
    ///     c.send(&"hi").map_err(|e| e.to_string())
    /// });
    /// let conn = l.accept_timeout(Duration::from_secs(60))?;
    /// assert_eq!(conn.recv_timeout::<String>(Duration::from_secs(60))?, "hi");
    /// t.join().expect("no panic")?;
    /// assert!(l.last_accepted().is_some_and(|a| a.is_tcp()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`accept`](Self::accept), plus [`ListenerError::Timeout`].
    pub fn accept_timeout(&self, timeout: Duration) -> Result<Connection, ListenerError> {
        self.accept_deadline(Instant::now().checked_add(timeout))
    }

    /// Closes the listener (also done by dropping it); pending handshakes are abandoned.
    ///
    /// ```
    /// use multiproc_ipc::{Address, Client, Listener};
    /// let addr = Address::Abstract(format!("mp-doc-close-{}", std::process::id()).into_bytes());
    /// let listener = Listener::bind(addr.clone(), Some(b"key"))?;
    /// listener.close();
    /// assert!(Client::connect(&addr, Some(b"key")).is_err()); // nobody listens now
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn close(self) {}

    fn accept_deadline(&self, deadline: Option<Instant>) -> Result<Connection, ListenerError> {
        let mut st = lock(&self.state);
        if let Some(left) = st.left_at.take() {
            // Nobody read the peers' answers meanwhile: that time is not theirs.
            let idle = left.elapsed();
            for p in &mut st.pending {
                p.started = p.started.checked_add(idle).unwrap_or(p.started);
                p.deadline = p.deadline.checked_add(idle).unwrap_or(p.deadline);
            }
        }
        let r = self.accept_locked(&mut st, deadline);
        st.left_at = Some(Instant::now());
        r
    }

    fn accept_locked(
        &self,
        st: &mut State,
        deadline: Option<Instant>,
    ) -> Result<Connection, ListenerError> {
        loop {
            let now = Instant::now();
            // Expire stalled handshakes first.
            if let Some(i) = st.pending.iter().position(|p| p.deadline <= now) {
                let p = st.pending.swap_remove(i);
                tracing::debug!(peer = ?p.peer, "multiproc-ipc: handshake timed out");
                return Err(ListenerError::Handshake {
                    peer: p.peer,
                    source: AuthError::Timeout,
                });
            }
            if deadline.is_some_and(|d| d <= now) {
                return Err(ListenerError::Timeout);
            }
            // When the table is full, listen again once its oldest handshake may be evicted.
            let evict_at = st.oldest_if_full().map(|(_, t)| t + EVICT_AGE);
            let listening = evict_at.is_none_or(|t| t <= now);
            let wake = st.wake_at(deadline, evict_at.filter(|_| !listening));
            let ready = self.poll(st, listening, wake, now)?;
            if !ready.contains(&true) {
                continue;
            }
            if let Some(done) = self.advance(st, &ready) {
                return done;
            }
            if listening && ready.last().copied().unwrap_or(false) {
                if let Some(conn) = self.take_backlog(st)? {
                    return Ok(conn);
                }
            }
        }
    }

    /// Waits until `wake` for input on the pending handshakes and, when `listening`,
    /// on the listening socket (last): which of them are readable.
    fn poll(
        &self,
        st: &State,
        listening: bool,
        wake: Option<Instant>,
        now: Instant,
    ) -> Result<Vec<bool>, ListenerError> {
        let mut fds: Vec<BorrowedFd<'_>> = Vec::with_capacity(st.pending.len() + 1);
        fds.extend(st.pending.iter().map(|p| p.fd.as_fd()));
        if listening {
            fds.push(self.fd.as_fd());
        }
        Ok(sys::poll_in(
            &fds,
            wake.map(|w| w.saturating_duration_since(now)),
        )?)
    }

    /// Advances the handshakes that have input: the first to finish or fail, if any.
    fn advance(&self, st: &mut State, ready: &[bool]) -> Option<Result<Connection, ListenerError>> {
        for i in (0..st.pending.len()).rev() {
            if !ready[i] {
                continue;
            }
            match step(&mut st.pending[i]) {
                Ok(false) => {}
                Ok(true) => {
                    let p = st.pending.swap_remove(i);
                    return Some(Ok(self.finish(p.fd, p.peer)));
                }
                Err(source) => {
                    let p = st.pending.swap_remove(i);
                    tracing::debug!(peer = ?p.peer, error = %source, "multiproc-ipc: handshake failed");
                    return Some(Err(ListenerError::Handshake {
                        peer: p.peer,
                        source,
                    }));
                }
            }
        }
        None
    }

    /// Takes what the backlog holds, so that it never fills while slow peers hold the
    /// table (a full backlog drops new clients' SYNs: a second or more of
    /// retransmission). A connection without a handshake is returned at once.
    fn take_backlog(&self, st: &mut State) -> Result<Option<Connection>, ListenerError> {
        for _ in 0..ACCEPT_BATCH {
            if let Some((i, started)) = st.oldest_if_full() {
                if Instant::now().saturating_duration_since(started) < EVICT_AGE {
                    break;
                }
                // Only if someone is waiting: a new connection.
                if !sys::wait_readable(self.fd.as_fd(), Some(Duration::ZERO))? {
                    break;
                }
                let p = st.pending.swap_remove(i);
                tracing::debug!(peer = ?p.peer, "multiproc-ipc: oldest handshake evicted for a new connection");
            }
            let (fd, peer) = match sys::net::accept(self.fd.as_fd()).map_err(ListenerError::Io)? {
                sys::net::Accepted::Conn(fd, peer) => (fd, peer),
                sys::net::Accepted::Empty => break,
                sys::net::Accepted::Retry => continue,
            };
            if self.address.is_tcp() {
                sys::net::set_nodelay(&fd);
            }
            let Some(key) = &self.authkey else {
                tracing::debug!(peer = ?peer, "multiproc-ipc: accepted");
                return Ok(Some(self.finish(fd, peer)));
            };
            st.pending.push(self.start_handshake(fd, peer, key)?);
        }
        Ok(None)
    }

    /// A new connection's handshake, its challenge sent.
    fn start_handshake(
        &self,
        fd: OwnedFd,
        peer: Option<Address>,
        key: &[u8],
    ) -> Result<Pending, ListenerError> {
        let hs = Handshake::new(Role::Server, key, &self.handshake).map_err(|source| {
            ListenerError::Handshake {
                peer: peer.clone(),
                source,
            }
        })?;
        let mut p = Pending {
            fd,
            peer,
            hs,
            started: Instant::now(),
            deadline: auth::deadline_after(self.handshake.timeout),
        };
        if let Err(source) = auth::flush(p.fd.as_fd(), &mut p.hs) {
            return Err(ListenerError::Handshake {
                peer: p.peer,
                source,
            });
        }
        Ok(p)
    }

    fn finish(&self, fd: OwnedFd, peer: Option<Address>) -> Connection {
        tracing::debug!(peer = ?peer, auth = self.authkey.is_some(), "multiproc-ipc: connection ready");
        *lock(&self.last_accepted) = peer;
        let transport = if self.address.is_tcp() {
            Transport::Tcp
        } else {
            Transport::Unix
        };
        Connection::from_fd_with(fd, transport, true, true)
    }
}

/// Reads what a pending handshake wants (one read: the socket is readable), feeds it,
/// and sends the replies. `Ok(true)` when the handshake is complete.
fn step(p: &mut Pending) -> Result<bool, AuthError> {
    let mut buf = [0u8; auth::MAX_AUTH_MESSAGE + 4];
    let n = auth::read_wanted(p.fd.as_fd(), &p.hs, &mut buf)?;
    let status = auth::feed_all(p.fd.as_fd(), &mut p.hs, &buf[..n])?;
    auth::flush(p.fd.as_fd(), &mut p.hs)?;
    Ok(status == Status::Done)
}

impl AsFd for Listener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for Listener {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        tracing::debug!(address = %self.address, "multiproc-ipc: listener closed");
        // `unlink` (the UnlinkGuard field) removes the socket file.
        let _ = &self.unlink;
    }
}

/// Options for a [`Client`] connection; made by [`Client::builder`].
///
/// ```
/// use std::time::Duration;
/// use multiproc_ipc::{Address, Client, ClientError};
///
/// let nobody = Address::unix(std::env::temp_dir().join(format!("mp-doc-nobody-{}", std::process::id())));
/// let r = Client::builder()
///     .authkey(b"secret")
///     .timeout(Duration::from_secs(60)) // bounds connect plus handshake
///     .connect(&nobody);
/// assert!(matches!(r, Err(ClientError::Connect { .. })));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct ClientBuilder {
    authkey: Option<Vec<u8>>,
    handshake: HandshakeConfig,
    timeout: Option<Duration>,
    allow_unauthenticated_tcp: bool,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("authkey", &self.authkey.as_ref().map(|_| "<secret>"))
            .field("handshake", &self.handshake)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    auth_setters! {
        /// Proves to the listener that we hold `authkey`, and requires the same of it. An
        /// empty key proves nothing: on TCP it counts as no key (refused unless
        /// [`allow_unauthenticated_tcp`](Self::allow_unauthenticated_tcp)).
        ///
        /// ```
        /// use multiproc_ipc::{Address, Client, Listener};
        /// let l = Listener::bind(Address::Tcp("127.0.0.1:0".parse()?), Some(b"secret"))?;
        /// let at = l.address().clone();
        /// let server = std::thread::spawn(move || -> Result<u32, Box<dyn std::error::Error + Send + Sync>> {
        ///     Ok(l.accept()?.recv::<u32>()?)
        /// });
        /// let c = Client::builder().authkey(b"secret").connect(&at)?;
        /// c.send(&7u32)?;
        /// assert_eq!(server.join().expect("server thread").map_err(|e| e.to_string())?, 7);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        authkey;
    }

    /// Bound on connecting plus the handshake (default: connect unbounded, handshake 10 s).
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_ipc::{Address, Client, Listener};
    /// let addr = Address::Abstract(format!("mp-doc-ctimeout-{}", std::process::id()).into_bytes());
    /// let listener = Listener::bind(addr.clone(), Some(b"key"))?;
    /// let server = std::thread::spawn(move || -> Result<i64, String> {
    ///     let conn = listener.accept().map_err(|e| e.to_string())?;
    ///     conn.recv::<i64>().map_err(|e| e.to_string())
    /// });
    /// let conn = Client::builder().authkey(b"key").timeout(Duration::from_secs(60)).connect(&addr)?;
    /// conn.send(&7_i64)?;
    /// assert_eq!(server.join().map_err(|_| "panicked")??, 7);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self.handshake.timeout = timeout;
        self
    }

    auth_setters! {
        /// Whether to accept a raw HMAC-MD5 response from a Python ≤ 3.11 listener (default `true`).
        ///
        /// ```
        /// use multiproc_ipc::{Address, Client, Listener};
        /// let addr = Address::Abstract(format!("mp-doc-cmd5-{}", std::process::id()).into_bytes());
        /// let listener = Listener::bind(addr.clone(), Some(b"key"))?;
        /// let server = std::thread::spawn(move || -> Result<i64, String> {
        ///     let conn = listener.accept().map_err(|e| e.to_string())?;
        ///     conn.recv::<i64>().map_err(|e| e.to_string())
        /// });
        /// let conn = Client::builder().authkey(b"key").accept_legacy_md5(false).connect(&addr)?;
        /// conn.send(&7_i64)?;
        /// assert_eq!(server.join().map_err(|_| "panicked")??, 7);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        accept_legacy_md5;

        /// Allows TCP without an authkey (default `false`).
        ///
        /// ```
        /// use multiproc_ipc::{Address, Client, ClientError, Listener};
        /// let l = Listener::builder(Address::Tcp("127.0.0.1:0".parse()?))
        ///     .allow_unauthenticated_tcp(true)
        ///     .bind()?;
        /// let at = l.address().clone();
        /// assert!(matches!(Client::builder().connect(&at), Err(ClientError::UnauthenticatedTcp)));
        /// let server = std::thread::spawn(move || l.accept().map(drop));
        /// let _c = Client::builder().allow_unauthenticated_tcp(true).connect(&at)?;
        /// server.join().expect("server thread")?;
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        allow_unauthenticated_tcp;
    }

    /// Connects to `address` and runs the handshake. `address` is an [`Address`], a
    /// reference to one, or what converts into one (a `SocketAddr`, a `PathBuf`).
    ///
    /// # Errors
    /// See [`ClientError`].
    ///
    /// ```
    /// use multiproc_ipc::{Address, Client, Listener};
    /// let addr = Address::Abstract(format!("mp-doc-cconnect-{}", std::process::id()).into_bytes());
    /// let listener = Listener::bind(addr.clone(), Some(b"key"))?;
    /// let server = std::thread::spawn(move || -> Result<i64, String> {
    ///     let conn = listener.accept().map_err(|e| e.to_string())?;
    ///     conn.recv::<i64>().map_err(|e| e.to_string())
    /// });
    /// let conn = Client::builder().authkey(b"key").connect(&addr)?;
    /// conn.send(&7_i64)?;
    /// assert_eq!(server.join().map_err(|_| "panicked")??, 7);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn connect(&self, address: impl Into<Address>) -> Result<Connection, ClientError> {
        let address = &address.into();
        if address.is_tcp() && !has_key(&self.authkey) && !self.allow_unauthenticated_tcp {
            return Err(ClientError::UnauthenticatedTcp);
        }
        let start = Instant::now();
        let deadline = self.timeout.map(|t| start + t);
        let fd = connect_socket(address, deadline)?;
        let transport = if address.is_tcp() {
            sys::net::set_nodelay(&fd);
            Transport::Tcp
        } else {
            Transport::Unix
        };
        tracing::debug!(%address, "multiproc-ipc: connected");
        if let Some(key) = &self.authkey {
            let hs_deadline =
                deadline.unwrap_or_else(|| auth::deadline_after(self.handshake.timeout));
            let mut hs = Handshake::new(Role::Client, key, &self.handshake)
                .map_err(ClientError::Handshake)?;
            let r = auth::drive(fd.as_fd(), &mut hs, hs_deadline);
            tracing::debug!(%address, ok = r.is_ok(), "multiproc-ipc: client handshake");
            match r {
                Ok(()) => {}
                Err(AuthError::Timeout) if self.timeout.is_some() => {
                    return Err(ClientError::Timeout);
                }
                Err(e) => return Err(ClientError::Handshake(e)),
            }
        }
        Ok(Connection::from_fd_with(fd, transport, true, true))
    }
}

fn connect_socket(address: &Address, deadline: Option<Instant>) -> Result<OwnedFd, ClientError> {
    sys::net::connect(address, deadline).map_err(|fail| match fail {
        sys::net::ConnectFail::Timeout => ClientError::Timeout,
        sys::net::ConnectFail::Io(source) => ClientError::Connect {
            address: address.clone(),
            source,
        },
    })
}

/// Connects to a [`Listener`] (CPython's `multiprocessing.connection.Client`).
///
/// See [`Listener`] for an example, and [`Listener::accept_timeout`] for
/// [`connect_timeout`](Client::connect_timeout).
///
/// ```
/// use multiproc_ipc::{Address, Client, Listener};
/// let addr = Address::Abstract(format!("mp-doc-client-{}", std::process::id()).into_bytes());
/// let listener = Listener::bind(addr.clone(), Some(b"key"))?;
/// let server = std::thread::spawn(move || -> Result<i64, String> {
///     let conn = listener.accept().map_err(|e| e.to_string())?;
///     conn.recv::<i64>().map_err(|e| e.to_string())
/// });
/// let conn = Client::connect(&addr, Some(b"key"))?;
/// conn.send(&7_i64)?;
/// assert_eq!(server.join().map_err(|_| "panicked")??, 7);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Client;

impl Client {
    /// Starts configuring a connection.
    ///
    /// ```
    /// use multiproc_ipc::{Address, Client, Listener};
    /// let addr = Address::Abstract(format!("mp-doc-builder-{}", std::process::id()).into_bytes());
    /// let listener = Listener::bind(addr.clone(), Some(b"key"))?;
    /// let server = std::thread::spawn(move || -> Result<i64, String> {
    ///     let conn = listener.accept().map_err(|e| e.to_string())?;
    ///     conn.recv::<i64>().map_err(|e| e.to_string())
    /// });
    /// let conn = Client::builder().authkey(b"key").connect(&addr)?;
    /// conn.send(&7_i64)?;
    /// assert_eq!(server.join().map_err(|_| "panicked")??, 7);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn builder() -> ClientBuilder {
        ClientBuilder {
            authkey: None,
            handshake: HandshakeConfig::default(),
            timeout: None,
            allow_unauthenticated_tcp: false,
        }
    }

    /// `Client(address, authkey=authkey)`. `address` is an [`Address`], a reference to
    /// one, or what converts into one (a `SocketAddr`, a `PathBuf`).
    ///
    /// # Errors
    /// See [`ClientError`].
    ///
    /// ```
    /// use multiproc_ipc::{Address, Client, Listener};
    /// let addr = Address::Abstract(format!("mp-doc-connect-{}", std::process::id()).into_bytes());
    /// let listener = Listener::bind(addr.clone(), Some(b"key"))?;
    /// let server = std::thread::spawn(move || -> Result<i64, String> {
    ///     let conn = listener.accept().map_err(|e| e.to_string())?;
    ///     conn.recv::<i64>().map_err(|e| e.to_string())
    /// });
    /// let conn = Client::connect(&addr, Some(b"key"))?;
    /// conn.send(&7_i64)?;
    /// assert_eq!(server.join().map_err(|_| "panicked")??, 7);
    /// assert!(Client::connect(&Address::unix("/nonexistent/mp-doc"), None).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn connect(
        address: impl Into<Address>,
        authkey: Option<&[u8]>,
    ) -> Result<Connection, ClientError> {
        let mut b = Self::builder();
        if let Some(k) = authkey {
            b = b.authkey(k);
        }
        b.connect(address)
    }

    /// [`connect`](Self::connect) bounded by `timeout` (connect plus handshake).
    ///
    /// # Errors
    /// See [`ClientError`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_ipc::{Address, Client, Listener};
    /// let addr = Address::Abstract(format!("mp-doc-connect-timeout-{}", std::process::id()).into_bytes());
    /// let listener = Listener::bind(addr.clone(), Some(b"key"))?;
    /// let server = std::thread::spawn(move || -> Result<i64, String> {
    ///     let conn = listener.accept().map_err(|e| e.to_string())?;
    ///     conn.recv::<i64>().map_err(|e| e.to_string())
    /// });
    /// let conn = Client::connect_timeout(&addr, Some(b"key"), Duration::from_secs(60))?;
    /// conn.send(&7_i64)?;
    /// assert_eq!(server.join().map_err(|_| "panicked")??, 7);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn connect_timeout(
        address: impl Into<Address>,
        authkey: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<Connection, ClientError> {
        let mut b = Self::builder().timeout(timeout);
        if let Some(k) = authkey {
            b = b.authkey(k);
        }
        b.connect(address)
    }
}
