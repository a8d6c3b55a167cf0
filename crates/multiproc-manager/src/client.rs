//! The client side: one multiplexed connection per process and server.
//!
//! Calls from many threads share the connection. Each request carries an id; the
//! thread that finds nobody reading becomes the reader until its own reply arrives,
//! depositing others' replies as they come (leader/follower), so a single-threaded
//! caller pays no thread hop.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, TryLockError, Weak};
use std::time::{Duration, Instant};

use multiproc_ipc::{Address, ClientError, Connection, SendError};
use serde::{Deserialize, Serialize};

use crate::error::{Error, RemoteError};
use crate::protocol::{Op, Request, Response, SERVER, ServerOp};
use crate::value::{FromValue, Value};

/// How long connecting (connect + handshake) to a server may take.
///
/// ```
/// # use std::time::Duration;
/// assert!(multiproc_manager::CONNECT_TIMEOUT >= Duration::from_secs(1));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Connects to a server at `address` with `authkey`.
pub(crate) fn dial(address: &Address, authkey: Option<&[u8]>) -> Result<Connection, Error> {
    dial_timeout(address, authkey, CONNECT_TIMEOUT)
}

pub(crate) fn dial_timeout(
    address: &Address,
    authkey: Option<&[u8]>,
    timeout: Duration,
) -> Result<Connection, Error> {
    multiproc_ipc::Client::connect_timeout(address, authkey, timeout).map_err(|e| match e {
        ClientError::Handshake(h) => Error::Auth(h.to_string()),
        ClientError::UnauthenticatedTcp => Error::Config("a tcp manager needs an authkey".into()),
        ClientError::Connect { source, .. } => Error::Connect(source),
        ClientError::Timeout => Error::Connect(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("connecting to {address} timed out"),
        )),
        other => Error::Connect(std::io::Error::other(other.to_string())),
    })
}

/// Where a server is and the key to reach it: what a proxy carries to other processes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(crate) struct Origin {
    pub(crate) address: WireAddress,
    pub(crate) authkey: Option<Vec<u8>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(crate) enum WireAddress {
    Unix(PathBuf),
    Abstract(Vec<u8>),
    Tcp(SocketAddr),
}

impl WireAddress {
    pub(crate) fn from_address(a: &Address) -> Option<WireAddress> {
        match a {
            Address::Unix(p) => Some(WireAddress::Unix(p.clone())),
            Address::Abstract(n) => Some(WireAddress::Abstract(n.clone())),
            Address::Tcp(s) => Some(WireAddress::Tcp(*s)),
            _ => None,
        }
    }

    pub(crate) fn to_address(&self) -> Address {
        match self {
            WireAddress::Unix(p) => Address::Unix(p.clone()),
            WireAddress::Abstract(n) => Address::Abstract(n.clone()),
            WireAddress::Tcp(s) => Address::Tcp(*s),
        }
    }
}

#[derive(Default)]
struct St {
    replies: HashMap<u64, Result<Value, RemoteError>>,
    reader: bool,
    dead: Option<String>,
}

pub(crate) struct Inner {
    conn: Connection,
    next_id: AtomicU64,
    st: Mutex<St>,
    cv: Condvar,
    pub(crate) origin: Option<Origin>,
    pid: u32,
    /// The connection of a forked child that inherited this client in memory
    /// ([`here`](Self::here)): kept here so that it lives as long as the proxies
    /// that use it, and every call of that child goes over the same connection
    /// (lock ownership and "release what a vanished client held" are per connection).
    forked: Mutex<Option<Arc<Inner>>>,
    /// The call timeout in nanoseconds, 0 for none (see [`Inner::set_call_timeout`]).
    call_timeout_ns: AtomicU64,
}

static NEXT_THREAD: AtomicU64 = AtomicU64::new(1);

thread_local! {
    static THREAD_ID: Cell<u64> = const { Cell::new(0) };
    /// The client whose reply is being converted (for nested proxies).
    static CURRENT: RefCell<Option<Arc<Inner>>> = const { RefCell::new(None) };
}

fn thread_id() -> u64 {
    THREAD_ID.with(|t| {
        if t.get() == 0 {
            t.set(NEXT_THREAD.fetch_add(1, Ordering::Relaxed));
        }
        t.get()
    })
}

fn st_lock(m: &Mutex<St>) -> std::sync::MutexGuard<'_, St> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

type Registry = Vec<(Origin, u32, Weak<Inner>)>;

/// This process's live clients, by origin (so proxies received from elsewhere share
/// one connection per server).
static CLIENTS: Mutex<Registry> = Mutex::new(Vec::new());

/// The process in which [`CLIENTS`] was found locked for good (see [`clients`]).
static CLIENTS_STUCK_IN: AtomicU32 = AtomicU32::new(0);

/// The process that last took [`CLIENTS`].
static CLIENTS_TAKEN_IN: AtomicU32 = AtomicU32::new(0);

/// How long [`clients`] waits for the registry before deciding it is stuck.
const CLIENTS_WAIT: Duration = Duration::from_millis(200);

/// Locks [`CLIENTS`], or `None` if it cannot be had.
///
/// A `fork` copies the lock as it was: if another thread of the parent held it at that
/// moment (a thread receiving proxies, say), it stays locked in the child for good,
/// and a child waiting for it would hang. So it is waited for in bounded turns (it is
/// only ever held for a scan of a short list); after [`CLIENTS_WAIT`] the caller goes
/// on without the registry, and if the lock was last taken in another process (the
/// parent), so does every later caller of this process. Its clients are then not
/// shared between proxies that arrive separately: a connection each, not a hang.
fn clients() -> Option<MutexGuard<'static, Registry>> {
    let pid = std::process::id();
    if CLIENTS_STUCK_IN.load(Ordering::Relaxed) == pid {
        return None;
    }
    let deadline = Instant::now() + CLIENTS_WAIT;
    loop {
        let got = match CLIENTS.try_lock() {
            Ok(g) => Some(g),
            Err(TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        };
        if let Some(g) = got {
            CLIENTS_TAKEN_IN.store(pid, Ordering::Relaxed);
            return Some(g);
        }
        if Instant::now() >= deadline {
            if CLIENTS_TAKEN_IN.load(Ordering::Relaxed) != pid {
                tracing::warn!(
                    "manager: the client registry stays locked, as a fork left it; \
                     this process goes on without it"
                );
                CLIENTS_STUCK_IN.store(pid, Ordering::Relaxed);
            }
            return None;
        }
        std::thread::sleep(Duration::from_micros(100));
    }
}

/// The serde nesting a reply may reach: three levels per `Value` level the server may
/// send (its default limit plus the reply's wrapping), and the response's own.
pub(crate) const REPLY_SERDE_DEPTH: usize =
    3 * (crate::deep::DEFAULT_MAX_DEPTH + crate::deep::REPLY_SLACK) + 16;

impl Inner {
    pub(crate) fn new(conn: Connection, origin: Option<Origin>) -> Arc<Inner> {
        // Replies are decoded by `recv`, whose generic depth limit counts serde levels
        // (a `Value` level is up to three: variant, sequence, pair); `Value`'s own limit
        // (`deep.rs`) is the one that bounds values, so this one must not cut first.
        conn.set_max_depth(REPLY_SERDE_DEPTH);
        let inner = Arc::new(Inner {
            conn,
            next_id: AtomicU64::new(1),
            st: Mutex::new(St::default()),
            cv: Condvar::new(),
            origin: origin.clone(),
            pid: std::process::id(),
            forked: Mutex::new(None),
            call_timeout_ns: AtomicU64::new(0),
        });
        if let (Some(o), Some(mut all)) = (origin, clients()) {
            all.retain(|(_, _, w)| w.strong_count() > 0);
            all.push((o, inner.pid, Arc::downgrade(&inner)));
        }
        goodbye_at_exit();
        inner
    }

    /// Tells the server that this client ends cleanly (see [`ServerOp::Goodbye`]), once, from
    /// the process that owns the connection only; later calls fail as `ManagerGone`.
    fn goodbye(&self) {
        if self.pid != std::process::id() {
            // a fork child's copy of its parent's client: the parent's to say
            return;
        }
        let mut st = st_lock(&self.st);
        if st.dead.is_some() {
            return;
        }
        st.dead = Some("this client said goodbye: its process is ending".into());
        drop(st);
        self.cv.notify_all();
        // Bounded: a server that does not read (frozen, its buffer full) must not hold
        // up a drop or a child's exit; undelivered, the end counts as a vanishing.
        let _ = self.conn.send_timeout(
            &Request {
                id: 0,
                obj: SERVER,
                thread: 0,
                op: Op::Server(ServerOp::Goodbye),
            },
            GOODBYE_TIMEOUT,
        );
    }

    /// The client for `origin` in this process, connecting if there is none.
    pub(crate) fn for_origin(origin: &Origin) -> Result<Arc<Inner>, Error> {
        let pid = std::process::id();
        if let Some(all) = clients() {
            for (o, p, w) in all.iter() {
                if o == origin && *p == pid {
                    if let Some(c) = w.upgrade() {
                        return Ok(c);
                    }
                }
            }
        }
        let conn = dial(&origin.address.to_address(), origin.authkey.as_deref())?;
        Ok(Inner::new(conn, Some(origin.clone())))
    }

    /// This client if it belongs to the calling process; after a `fork`, the child
    /// must not write to its parent's socket, so it gets its own connection.
    ///
    /// The child's client is kept in `forked`: the registry of clients holds only weak
    /// references, so a client made for one call would be dropped after it, and each
    /// call would open (and close) a connection of its own — a lock taken by one call
    /// would then belong to a connection already gone, and be released by the server.
    /// The slot is not held while connecting (a `fork` by another thread meanwhile
    /// would leave it locked in that child); threads of the child that connect at
    /// once keep the first client stored, before any of them has used its own.
    pub(crate) fn here(self: &Arc<Self>) -> Result<Arc<Inner>, Error> {
        let pid = std::process::id();
        if self.pid == pid {
            return Ok(self.clone());
        }
        let slot = || {
            self.forked
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        };
        if let Some(c) = slot().as_ref().filter(|c| c.pid == pid) {
            return Ok(c.clone());
        }
        let c = match &self.origin {
            Some(o) => Inner::for_origin(o)?,
            None => {
                return Err(Error::ManagerGone(
                    "this manager was reached over an anonymous pipe in another process; \
                     connect to it by address instead"
                        .into(),
                ));
            }
        };
        let mut forked = slot();
        if let Some(first) = forked.as_ref().filter(|first| first.pid == pid) {
            return Ok(first.clone());
        }
        c.set_call_timeout(self.call_timeout());
        *forked = Some(c.clone());
        Ok(c)
    }

    /// Bounds every call's wait for its reply: `timeout` beyond the wait the operation
    /// itself asked for (an `acquire(Some(t))` may take `t + timeout`); operations
    /// that wait for ever by request (`acquire()`, `get()`) stay unbounded. A server
    /// that misses the bound is declared gone (see [`Error::CallTimeout`]).
    pub(crate) fn set_call_timeout(&self, timeout: Option<Duration>) {
        let ns = timeout.map_or(0, |t| {
            u64::try_from(t.as_nanos()).unwrap_or(u64::MAX).max(1)
        });
        self.call_timeout_ns.store(ns, Ordering::Relaxed);
    }

    pub(crate) fn call_timeout(&self) -> Option<Duration> {
        match self.call_timeout_ns.load(Ordering::Relaxed) {
            0 => None,
            ns => Some(Duration::from_nanos(ns)),
        }
    }

    /// When the caller of `op` stops waiting, if ever.
    fn deadline_for(&self, op: &Op) -> Option<Instant> {
        let limit = self.call_timeout()?;
        let now = Instant::now();
        match op.wait_timeout() {
            None => now.checked_add(limit),
            Some(None) => None,
            Some(Some(t)) => now.checked_add(t).and_then(|d| d.checked_add(limit)),
        }
    }

    /// The server missed a call's deadline: it is treated as gone. The connection is
    /// shut down, so a thread reading it wakes with end-of-file and the server releases
    /// what this client held (as for any client that vanishes).
    fn give_up(&self, st: &mut St) -> Error {
        let limit = self.call_timeout().unwrap_or_default();
        if st.dead.is_none() {
            st.dead = Some(format!(
                "no reply within the call timeout ({limit:?}); the connection was closed"
            ));
        }
        crate::sys::shutdown(&self.conn);
        self.cv.notify_all();
        Error::CallTimeout(limit)
    }

    pub(crate) fn call(self: &Arc<Self>, obj: u64, op: Op) -> Result<Value, Error> {
        let me = self.here()?;
        me.call_here(obj, op)
    }

    fn call_here(&self, obj: u64, op: Op) -> Result<Value, Error> {
        let deadline = self.deadline_for(&op);
        let id = self.send_request(obj, op)?;
        self.await_reply(id, deadline)
    }

    /// Sends `op` for `obj` as a new request; answers its id.
    fn send_request(&self, obj: u64, op: Op) -> Result<u64, Error> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        if let Some(why) = &st_lock(&self.st).dead {
            return Err(Error::ManagerGone(why.clone()));
        }
        let req = Request {
            id,
            obj,
            thread: thread_id(),
            op,
        };
        match self.conn.send(&req) {
            Ok(()) => Ok(id),
            Err(e @ (SendError::TooLarge { .. } | SendError::Encode(_))) => Err(Error::Send(e)),
            Err(e) => {
                let why = format!("sending failed: {e}");
                st_lock(&self.st).dead = Some(why.clone());
                self.cv.notify_all();
                Err(Error::ManagerGone(why))
            }
        }
    }

    /// Waits for the reply to request `id` until `deadline`: as the connection's reader
    /// if nobody is reading, depositing others' replies, or else woken by the reader.
    fn await_reply(&self, id: u64, deadline: Option<Instant>) -> Result<Value, Error> {
        let mut st = st_lock(&self.st);
        loop {
            if let Some(r) = st.replies.remove(&id) {
                return r.map_err(|e| match e.kind {
                    // A waiter woken by the server closing: the manager is going away.
                    crate::error::RemoteErrorKind::ShuttingDown => Error::ManagerGone(e.message),
                    _ => Error::Remote(e),
                });
            }
            if let Some(why) = &st.dead {
                return Err(Error::ManagerGone(why.clone()));
            }
            let left = match deadline {
                None => None,
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => Some(left),
                    _ => return Err(self.give_up(&mut st)),
                },
            };
            if st.reader {
                st = match left {
                    None => self
                        .cv
                        .wait(st)
                        .unwrap_or_else(std::sync::PoisonError::into_inner),
                    Some(left) => {
                        self.cv
                            .wait_timeout(st, left)
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .0
                    }
                };
                continue;
            }
            st.reader = true;
            drop(st);
            // With a deadline, wait for the reply to start arriving first; once it
            // has, the frame is read whole (never cut, which would desynchronise the
            // stream for every other caller).
            let ready = match left {
                None => Ok(true),
                Some(left) => self.conn.poll(Some(left)),
            };
            let got = match ready {
                Ok(true) => Some(self.conn.recv::<Response>()),
                Ok(false) => None,
                Err(e) => Some(Err(e)),
            };
            st = st_lock(&self.st);
            st.reader = false;
            let Some(got) = got else {
                // Nothing by the deadline: the next turn gives up.
                self.cv.notify_all();
                continue;
            };
            match got {
                Ok(Response { id: 0, result }) => {
                    tracing::warn!("manager reported a protocol error: {result:?}");
                }
                Ok(Response { id: rid, result }) => {
                    st.replies.insert(rid, result);
                }
                Err(e) => {
                    st.dead = Some(e.to_string());
                }
            }
            self.cv.notify_all();
        }
    }
}

impl Drop for Inner {
    /// The last proxy of this client is gone: its end is clean (a `Lock` it holds
    /// stays locked for another process to release, as in CPython).
    fn drop(&mut self) {
        self.goodbye();
    }
}

/// How long a goodbye may wait for room in the connection's buffer.
const GOODBYE_TIMEOUT: Duration = Duration::from_secs(2);

/// The process whose exit hook says goodbye for its clients (0: none yet).
static HOOKED_IN: AtomicU32 = AtomicU32::new(0);

/// Registers, once per process, a [`multiproc_process::at_exit`] hook that says
/// goodbye on every client of this process: a multiproc child leaves through `_exit`
/// without running destructors, and its end must still count as clean (so that a
/// `Lock` it leaves locked is not released behind its parent's back). In the main
/// process the hook never runs; dropping the proxies does the same.
fn goodbye_at_exit() {
    let pid = std::process::id();
    if HOOKED_IN.swap(pid, Ordering::SeqCst) == pid {
        return;
    }
    multiproc_process::at_exit(|| {
        let pid = std::process::id();
        let mine: Vec<Arc<Inner>> = match clients() {
            Some(all) => all
                .iter()
                .filter(|(_, p, _)| *p == pid)
                .filter_map(|(_, _, w)| w.upgrade())
                .collect(),
            None => Vec::new(),
        };
        for c in mine {
            c.goodbye();
        }
    });
}

/// Converts a reply with `client` as the context for nested proxies.
pub(crate) fn convert<T: FromValue>(client: &Arc<Inner>, v: Value) -> Result<T, Error> {
    let prev = CURRENT.with(|c| c.replace(Some(client.clone())));
    let r = T::from_value(v);
    CURRENT.with(|c| *c.borrow_mut() = prev);
    Ok(r?)
}

/// The client of the reply being converted, for `FromValue` of proxies.
pub(crate) fn current() -> Option<Arc<Inner>> {
    CURRENT.with(|c| c.borrow().clone())
}
