//! The async forms of [`Listener`] and [`Client`] (feature `tokio`); re-exported from
//! [`crate::aio`]. The handshake is the sans-I/O [`Handshake`] of [`crate::auth`],
//! driven here by readiness instead of by blocking reads.

use std::fmt;
use std::future::{Future, poll_fn};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard};
use std::task::Poll;
use std::time::{Duration, Instant};

use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use super::{Address, ClientBuilder, ClientError, Listener, ListenerError, has_key};
use crate::aio::{AsyncConnection, register, unregister};
use crate::auth::{self, AuthError, Handshake, HandshakeConfig, Role, Status};
use crate::connection::{Connection, Transport};
use crate::sys;
use crate::sys::aio::Connecting;

/// Most handshakes an [`AsyncListener`] runs at once; beyond, the oldest is dropped
/// to make room for a new connection (a silent or slow peer cannot lock others out).
const MAX_PENDING: usize = 64;

type HandshakeFuture = Pin<Box<dyn Future<Output = Result<OwnedFd, AuthError>> + Send>>;

struct Pending {
    peer: Option<Address>,
    started: Instant,
    fut: HandshakeFuture,
}

/// A listener whose [`accept`](Self::accept) is a future: the async form of
/// [`Listener`], made by [`Listener::into_async`].
///
/// Handshakes of incoming connections run concurrently inside `accept` (each bounded
/// by the listener's handshake timeout, default 5 s), as the blocking listener's do: a
/// peer that stalls delays nobody. They live in the listener, not in the `accept`
/// future: dropping that future (cancel safe) abandons no peer, and the next `accept`
/// carries on with them. When 64 are running and another connection comes, the oldest
/// is dropped.
///
/// ```
/// use multiproc_ipc::{Address, Listener, aio::AsyncClient};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
/// rt.block_on(async {
///     let listener = Listener::bind(Address::Tcp("127.0.0.1:0".parse()?), Some(b"secret"))?
///         .into_async()?;
///     let addr = listener.address().clone();
///     let client = tokio::spawn(async move {
///         let conn = AsyncClient::connect(&addr, Some(b"secret")).await?;
///         conn.send(&"hello").await?;
///         Ok::<_, Box<dyn std::error::Error + Send + Sync>>(conn.recv::<String>().await?)
///     });
///     let conn = listener.accept().await?;
///     let got: String = conn.recv().await?;
///     conn.send(&got.to_uppercase()).await?;
///     assert_eq!(client.await?.map_err(|e| e.to_string())?, "HELLO");
///     Ok(())
/// })
/// # }
/// ```
pub struct AsyncListener {
    io: AsyncFd<Listener>,
    pending: Mutex<Vec<Pending>>,
}

impl fmt::Debug for AsyncListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncListener")
            .field("listener", self.io.get_ref())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Listener {
    /// This listener as an [`AsyncListener`], registered with the current tokio runtime.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// use multiproc_ipc::{Address, Listener};
    /// let l = Listener::bind(Address::Tcp("127.0.0.1:0".parse()?), Some(b"k"))?.into_async()?;
    /// assert!(l.address().port().is_some());
    /// # Ok(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// Not inside a tokio runtime, or `epoll_ctl` failed.
    pub fn into_async(self) -> io::Result<AsyncListener> {
        AsyncListener::new(self)
    }
}

impl AsyncListener {
    /// As [`Listener::into_async`].
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// use multiproc_ipc::{Address, Listener, aio::AsyncListener};
    /// let l = AsyncListener::new(Listener::bind(Address::Tcp("127.0.0.1:0".parse()?), Some(b"k"))?)?;
    /// assert!(l.last_accepted().is_none());
    /// # Ok(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`Listener::into_async`].
    pub fn new(listener: Listener) -> io::Result<Self> {
        Ok(AsyncListener {
            io: register(listener, Interest::READABLE)?,
            pending: Mutex::new(Vec::new()),
        })
    }

    /// The address bound (see [`Listener::address`]).
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// use multiproc_ipc::{Address, Listener};
    /// let path = std::env::temp_dir().join(format!("mp-doc-aaddr-{}", std::process::id()));
    /// let l = Listener::bind(Address::unix(&path), None)?.into_async()?;
    /// assert_eq!(l.address(), &Address::unix(&path));
    /// # Ok(())
    /// # })
    /// # }
    /// ```
    pub fn address(&self) -> &Address {
        self.io.get_ref().address()
    }

    /// The address of the last peer accepted (see [`Listener::last_accepted`]).
    ///
    /// ```
    /// use multiproc_ipc::{Address, Listener, aio::AsyncClient};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// rt.block_on(async {
    ///     let l = Listener::bind(Address::Tcp("127.0.0.1:0".parse()?), Some(b"k"))?.into_async()?;
    ///     let (served, dialed) = tokio::join!(l.accept(), AsyncClient::connect(l.address(), Some(b"k")));
    ///     let (_served, _dialed) = (served?, dialed?);
    ///     assert!(matches!(l.last_accepted(), Some(Address::Tcp(a)) if a.ip().is_loopback()));
    ///     Ok::<_, Box<dyn std::error::Error>>(())
    /// })
    /// # }
    /// ```
    pub fn last_accepted(&self) -> Option<Address> {
        self.io.get_ref().last_accepted()
    }

    /// Waits for the next connection and returns it once its handshake (if any)
    /// passed: the async form of [`Listener::accept`].
    ///
    /// Cancel safe: connections accepted and handshakes begun stay with the listener
    /// and are returned by a later `accept`. Bound it with [`tokio::time::timeout`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_ipc::{Address, Client, Listener};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// rt.block_on(async {
    ///     let l = Listener::bind(Address::Tcp("127.0.0.1:0".parse()?), Some(b"k"))?.into_async()?;
    ///     // Nobody dialled yet: a timed-out accept loses nothing.
    ///     assert!(tokio::time::timeout(Duration::from_millis(10), l.accept()).await.is_err());
    ///     let addr = l.address().clone();
    ///     let peer = std::thread::spawn(move || -> Result<u32, String> {
    ///         let c = Client::connect(&addr, Some(b"k")).map_err(|e| e.to_string())?;
    ///         c.send(&41u32).map_err(|e| e.to_string())?;
    ///         c.recv::<u32>().map_err(|e| e.to_string())
    ///     });
    ///     let conn = l.accept().await?;
    ///     let n: u32 = conn.recv().await?;
    ///     conn.send(&(n + 1)).await?;
    ///     assert_eq!(peer.join().map_err(|_| "peer panicked")??, 42);
    ///     Ok::<_, Box<dyn std::error::Error>>(())
    /// })
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`ListenerError::Handshake`] for a peer that failed (accept again),
    /// [`ListenerError::Io`] if `accept` failed.
    pub async fn accept(&self) -> Result<AsyncConnection, ListenerError> {
        let conn = poll_fn(|cx| self.poll_accept(cx)).await?;
        AsyncConnection::new(conn).map_err(ListenerError::Io)
    }

    fn poll_accept(
        &self,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<Result<Connection, ListenerError>> {
        let listener = self.io.get_ref();
        let mut pending = lock(&self.pending);
        // Handshakes under way first (each registers for its own wake-up).
        for i in (0..pending.len()).rev() {
            if let Poll::Ready(r) = pending[i].fut.as_mut().poll(cx) {
                let p = pending.swap_remove(i);
                return Poll::Ready(match r {
                    Ok(fd) => Ok(listener.finish(fd, p.peer)),
                    Err(source) => {
                        tracing::debug!(peer = ?p.peer, error = %source, "multiproc-ipc: async handshake failed");
                        Err(ListenerError::Handshake {
                            peer: p.peer,
                            source,
                        })
                    }
                });
            }
        }
        loop {
            let mut guard = match self.io.poll_read_ready(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(ListenerError::Io(e))),
                Poll::Ready(Ok(g)) => g,
            };
            let (fd, peer) = match guard.try_io(|l| sys::aio::accept_nowait(l.get_ref().as_fd())) {
                Err(_would_block) => continue,
                Ok(Err(e)) => return Poll::Ready(Err(ListenerError::Io(e))),
                Ok(Ok(x)) => x,
            };
            if listener.address.is_tcp() {
                sys::aio::set_nodelay(fd.as_fd());
            }
            let Some(key) = &listener.authkey else {
                return Poll::Ready(Ok(listener.finish(fd, peer)));
            };
            if pending.len() >= MAX_PENDING {
                if let Some(i) = (0..pending.len()).min_by_key(|&i| pending[i].started) {
                    let p = pending.swap_remove(i);
                    tracing::debug!(peer = ?p.peer, "multiproc-ipc: oldest async handshake evicted for a new connection");
                }
            }
            let mut fut: HandshakeFuture = Box::pin(handshake(
                fd,
                Role::Server,
                key.clone(),
                listener.handshake.clone(),
            ));
            // Start it now (it sends the challenge and registers for the answer).
            if let Poll::Ready(r) = fut.as_mut().poll(cx) {
                return Poll::Ready(match r {
                    Ok(fd) => Ok(listener.finish(fd, peer)),
                    Err(source) => Err(ListenerError::Handshake { peer, source }),
                });
            }
            pending.push(Pending {
                peer,
                started: Instant::now(),
                fut,
            });
        }
    }

    /// Back to the blocking [`Listener`]; handshakes under way are abandoned.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// use multiproc_ipc::{Address, Listener};
    /// let l = Listener::bind(Address::Tcp("127.0.0.1:0".parse()?), Some(b"k"))?.into_async()?;
    /// let l: Listener = l.into_inner();
    /// assert!(l.address().is_tcp());
    /// # Ok(())
    /// # })
    /// # }
    /// ```
    pub fn into_inner(self) -> Listener {
        self.io.into_inner()
    }
}

/// Runs `role`'s side of the handshake on `fd` within `config.timeout`.
async fn handshake(
    fd: OwnedFd,
    role: Role,
    key: Vec<u8>,
    config: HandshakeConfig,
) -> Result<OwnedFd, AuthError> {
    let afd = register(fd, Interest::READABLE | Interest::WRITABLE)?;
    let mut hs = Handshake::new(role, &key, &config)?;
    let r = tokio::time::timeout(config.timeout, drive(&afd, &mut hs)).await;
    tracing::debug!(
        ?role,
        ok = matches!(r, Ok(Ok(()))),
        "multiproc-ipc: async authkey handshake"
    );
    match r {
        Ok(Ok(())) => Ok(unregister(afd)),
        Ok(Err(e)) => Err(e),
        Err(_elapsed) => Err(AuthError::Timeout),
    }
}

/// The async twin of `auth::drive`: reads never go past the end of the handshake.
async fn drive(afd: &AsyncFd<OwnedFd>, hs: &mut Handshake) -> Result<(), AuthError> {
    let mut buf = [0u8; auth::MAX_AUTH_MESSAGE + 4];
    loop {
        flush(afd, hs).await?;
        if hs.is_done() {
            return Ok(());
        }
        let want = hs.wanted().min(buf.len());
        let n = loop {
            let mut guard = afd.readable().await?;
            match guard.try_io(|fd| sys::aio::recv_nowait(fd.as_fd(), &mut buf[..want], true)) {
                Ok(r) => break r?,
                Err(_would_block) => {}
            }
        };
        if n == 0 {
            return Err(AuthError::Eof);
        }
        let mut rest = &buf[..n];
        while !rest.is_empty() {
            match hs.feed(rest) {
                Ok((used, status)) => {
                    rest = &rest[used..];
                    if status == Status::Done {
                        break;
                    }
                }
                Err(e) => {
                    // Tell the peer (`#FAILURE#`), best effort and without waiting.
                    let out = hs.output();
                    if !out.is_empty() {
                        let _ = sys::aio::send_nowait(afd.get_ref().as_fd(), &[out], &[], true);
                    }
                    return Err(e);
                }
            }
        }
    }
}

/// Sends what the handshake has queued.
async fn flush(afd: &AsyncFd<OwnedFd>, hs: &mut Handshake) -> Result<(), AuthError> {
    while !hs.output().is_empty() {
        let mut guard = afd.writable().await?;
        let out = hs.output();
        match guard.try_io(|fd| sys::aio::send_nowait(fd.as_fd(), &[out], &[], true)) {
            Ok(r) => {
                let n = r?;
                hs.consume_output(n);
            }
            Err(_would_block) => {}
        }
    }
    Ok(())
}

/// Connections to a [`Listener`] as a future: the async form of [`Client`](crate::Client).
///
/// ```
/// use multiproc_ipc::{Address, ClientError, aio::AsyncClient};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
/// # rt.block_on(async {
/// let nobody = Address::unix(std::env::temp_dir().join(format!("mp-doc-anone-{}", std::process::id())));
/// assert!(matches!(AsyncClient::connect(&nobody, None).await, Err(ClientError::Connect { .. })));
/// # Ok(())
/// # })
/// # }
/// ```
#[derive(Debug)]
pub struct AsyncClient;

impl AsyncClient {
    /// `Client(address, authkey=authkey)`, awaited: connects and runs the handshake
    /// (the client's side, bounded by 10 s as the blocking client's is).
    ///
    /// Cancel safe in the sense that matters: dropping it closes the socket being
    /// connected; nothing else was made.
    ///
    /// ```
    /// use multiproc_ipc::{Address, Listener, aio::AsyncClient};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// rt.block_on(async {
    ///     let path = std::env::temp_dir().join(format!("mp-doc-aconn-{}", std::process::id()));
    ///     let l = Listener::bind(Address::unix(&path), Some(b"key"))?;
    ///     let server = std::thread::spawn(move || -> Result<String, String> {
    ///         let c = l.accept().map_err(|e| e.to_string())?;
    ///         c.recv::<String>().map_err(|e| e.to_string())
    ///     });
    ///     let conn = AsyncClient::connect(&Address::unix(&path), Some(b"key")).await?;
    ///     conn.send(&"hi").await?;
    ///     assert_eq!(server.join().map_err(|_| "server panicked")??, "hi");
    ///     Ok::<_, Box<dyn std::error::Error>>(())
    /// })
    /// # }
    /// ```
    ///
    /// # Errors
    /// See [`ClientError`].
    pub async fn connect(
        address: impl Into<Address>,
        authkey: Option<&[u8]>,
    ) -> Result<AsyncConnection, ClientError> {
        let mut b = crate::Client::builder();
        if let Some(k) = authkey {
            b = b.authkey(k);
        }
        Self::connect_with(&b, address).await
    }

    /// [`connect`](Self::connect) with the options of a [`ClientBuilder`] (its
    /// authkey, timeout, legacy-MD5 and unauthenticated-TCP settings).
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_ipc::{Address, Client, ClientError, aio::AsyncClient};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let b = Client::builder().authkey(b"k").timeout(Duration::from_secs(60));
    /// let nobody = Address::unix(std::env::temp_dir().join(format!("mp-doc-bnone-{}", std::process::id())));
    /// assert!(matches!(AsyncClient::connect_with(&b, &nobody).await, Err(ClientError::Connect { .. })));
    /// # Ok(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// See [`ClientError`].
    pub async fn connect_with(
        builder: &ClientBuilder,
        address: impl Into<Address>,
    ) -> Result<AsyncConnection, ClientError> {
        let address = &address.into();
        if address.is_tcp() && !has_key(&builder.authkey) && !builder.allow_unauthenticated_tcp {
            return Err(ClientError::UnauthenticatedTcp);
        }
        let run = async {
            let fd = connect_socket(address).await?;
            let transport = if address.is_tcp() {
                sys::aio::set_nodelay(fd.as_fd());
                Transport::Tcp
            } else {
                Transport::Unix
            };
            let fd = match &builder.authkey {
                Some(key) => handshake(fd, Role::Client, key.clone(), builder.handshake.clone())
                    .await
                    .map_err(|e| match e {
                        AuthError::Timeout if builder.timeout.is_some() => ClientError::Timeout,
                        e => ClientError::Handshake(e),
                    })?,
                None => fd,
            };
            let conn = Connection::from_fd_with(fd, transport, true, true);
            AsyncConnection::new(conn).map_err(|source| ClientError::Connect {
                address: address.clone(),
                source,
            })
        };
        match builder.timeout {
            None => run.await,
            Some(t) => tokio::time::timeout(t, run)
                .await
                .unwrap_or(Err(ClientError::Timeout)),
        }
    }
}

/// Connects a fresh socket to `address` without blocking the runtime, and puts it in
/// blocking mode (as the blocking client leaves it).
async fn connect_socket(address: &Address) -> Result<OwnedFd, ClientError> {
    let err = |source: io::Error| ClientError::Connect {
        address: address.clone(),
        source,
    };
    loop {
        let (fd, state) = sys::aio::connect_nowait(address).map_err(err)?;
        let fd = match state {
            Connecting::Done => fd,
            Connecting::Busy => {
                // A Unix listener's backlog is full: try again shortly.
                drop(fd);
                tokio::time::sleep(Duration::from_millis(1)).await;
                continue;
            }
            Connecting::InProgress => {
                let afd = register(fd, Interest::WRITABLE).map_err(err)?;
                let _ready = afd.writable().await.map_err(err)?;
                sys::aio::connect_result(afd.get_ref().as_fd()).map_err(err)?;
                unregister(afd)
            }
        };
        sys::aio::set_blocking(fd.as_fd()).map_err(err)?;
        return Ok(fd);
    }
}
