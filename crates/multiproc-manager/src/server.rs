//! The manager server: an object table and one thread per client connection.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::{Duration, Instant};

use multiproc_ipc::{Address, Connection, Listener, ListenerError, RecvError};

use crate::error::Error;

use crate::budget::{self, Budget, Growth};
use crate::custom::Registry;
use crate::deep::{self, REPLY_SLACK};
use crate::error::{RemoteError, RemoteErrorKind as K};
use crate::kinds::{Body, Caller, Fail, Obj, Outcome};
use crate::limits::Limits;
use crate::protocol::{AnyOp, Create, CustomOp, Op, QueueOp, Request, Response, SERVER, ServerOp};
use crate::value::{Kind, ObjRef, Value};

/// A call that has to wait, on its way to a thread of its own.
struct Waiting {
    id: u64,
    conn: u64,
    thread: u64,
    obj: u64,
    target: Arc<Obj>,
    op: Op,
    changes: bool,
    is_get: bool,
}

/// A waiting call's place within the caps of its client and of the server.
struct WaitSlot {
    state: Arc<State>,
    entry: Arc<ConnEntry>,
}

impl Drop for WaitSlot {
    fn drop(&mut self) {
        self.entry.waiting.fetch_sub(1, Ordering::SeqCst);
        self.state.waiting.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Why a request frame could not be decoded.
#[derive(Debug)]
pub(crate) enum Undecodable {
    /// A value nested deeper than the limit; `id` is the call to answer (0 if unknown).
    TooDeep { id: u64 },
    /// More values than the memory budget allows; `id` as above.
    TooBig { id: u64 },
    /// Anything else.
    Garbage(multiproc_ipc::CodecError),
}

/// Decodes one request frame, values nested at most `limits.max_depth` levels and
/// taking at most the memory budget once decoded.
pub(crate) fn decode(frame: &[u8], limits: &Limits) -> Result<Request, Undecodable> {
    let _depth = deep::limit(limits.max_depth);
    let _nodes = deep::allow_nodes(limits.memory_budget / budget::NODE);
    deep::take_exceeded();
    // The generic serde-level limit of `multiproc_ipc::decode` is set well above what
    // `limits.max_depth` allows (a `Value` level is up to three serde levels), so that
    // `Value`'s own limit answers first; it still guards whatever else may nest.
    let serde_depth = limits.max_depth.saturating_mul(3).saturating_add(16);
    multiproc_ipc::decode_with_max_depth::<Request>(frame, Vec::new(), serde_depth).map_err(|e| {
        // The call id comes first: answer that call.
        let id = || postcard::take_from_bytes::<u64>(frame).map_or(0, |(id, _)| id);
        if deep::take_exceeded() || matches!(e, multiproc_ipc::CodecError::TooDeep { .. }) {
            Undecodable::TooDeep { id: id() }
        } else if deep::take_nodes_out() {
            Undecodable::TooBig { id: id() }
        } else {
            Undecodable::Garbage(e)
        }
    })
}

/// What a CPython `BaseManager` client reads (as a `RemoteError`) when it calls this
/// server: our requests are typed postcard frames, not pickled calls.
pub(crate) const CPYTHON_REFUSAL: &str = "this is a multiproc (Rust) manager: CPython's \
    BaseManager protocol (pickled calls and proxies) is not supported; from Python, talk \
    to a multiproc program over multiprocessing.connection Listener/Client instead \
    (send_bytes/recv_bytes, or send/recv of plain data, which multiproc reads with its \
    pickle codec)";

/// Whether `frame` looks like a pickle as CPython's `Connection.send` writes it (the
/// `PROTO` opcode of protocol 2 to 5 first, `STOP` last). Asked only of frames that
/// are not requests of ours.
fn is_pickle(frame: &[u8]) -> bool {
    frame.len() >= 3 && frame[0] == 0x80 && matches!(frame[1], 2..=5) && frame.last() == Some(&b'.')
}

pub(crate) fn too_deep(max_depth: usize) -> RemoteError {
    RemoteError::new(
        K::TooDeep,
        format!("the request holds a value nested deeper than {max_depth} levels"),
    )
}

struct ConnEntry {
    alive: AtomicBool,
    /// The client said goodbye ([`ServerOp::Goodbye`]): its end is clean.
    clean: AtomicBool,
    /// This client's calls waiting on threads of their own.
    waiting: AtomicUsize,
    conn: Arc<Connection>,
}

pub(crate) struct State {
    objects: RwLock<HashMap<u64, Arc<Obj>>>,
    names: Mutex<HashMap<String, Value>>,
    next_obj: AtomicU64,
    next_conn: AtomicU64,
    conns: Mutex<HashMap<u64, Arc<ConnEntry>>>,
    registry: Registry,
    closing: AtomicBool,
    /// Listener addresses to poke on `shutdown()` so accept loops wake at once.
    wake: Mutex<Vec<multiproc_ipc::Address>>,
    closed: Mutex<bool>,
    closed_cv: Condvar,
    limits: Mutex<Limits>,
    budget: Budget,
    /// Calls waiting on threads of their own, all clients together.
    waiting: AtomicUsize,
    /// Whether to keep the wait threads' handles in `waiters` (fuzzing: `feed` joins
    /// them, so that no thread outlives the input).
    keep_waiters: AtomicBool,
    waiters: Mutex<Vec<std::thread::JoinHandle<()>>>,
}

/// A manager server: holds the objects and serves clients, each connection on its own
/// thread (CPython's `multiprocessing.managers.Server`).
///
/// Usually reached through [`Manager`](crate::Manager); use it directly to serve over
/// a transport of your own, or in tests over a [`Pipe`](multiproc_ipc::Pipe):
///
/// ```
/// use multiproc_manager::{Server, Manager};
/// let server = Server::new(Default::default());
/// let (a, b) = multiproc_ipc::Pipe::duplex()?;
/// server.spawn_connection(a);
/// let client = Manager::over(b);
/// let d = client.dict()?;
/// d.insert(1, "1")?;
/// assert_eq!(d.to_string(), "{1: '1'}");
/// server.shutdown();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Server {
    state: Arc<State>,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("objects", &self.object_count())
            .field("closing", &self.is_closing())
            .finish()
    }
}

fn listener_error(e: ListenerError) -> Error {
    match e {
        ListenerError::UnauthenticatedTcp => Error::Config(
            "a manager served over tcp demands an authkey (anyone reaching the port could use it)"
                .into(),
        ),
        ListenerError::Bind { source, .. } | ListenerError::Io(source) => Error::Connect(source),
        other => Error::Connect(std::io::Error::other(other.to_string())),
    }
}

impl Server {
    /// Binds a listener for this server at `address`. TCP demands an authkey (a typed
    /// [`Error::Config`] otherwise); Unix sockets get mode `0o600`.
    ///
    /// # Errors
    /// [`Error::Config`] for TCP without a key, [`Error::Connect`] when binding fails.
    ///
    /// ```
    /// use multiproc_ipc::Address;
    /// use multiproc_manager::Server;
    /// let listener = Server::bind(Address::Tcp("127.0.0.1:0".parse()?), Some(b"key"))?;
    /// assert!(listener.address().port().is_some());
    /// assert!(Server::bind(Address::Tcp("127.0.0.1:0".parse()?), None).is_err()); // TCP needs a key
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn bind(address: impl Into<Address>, authkey: Option<&[u8]>) -> Result<Listener, Error> {
        Listener::bind(address, authkey).map_err(listener_error)
    }

    /// Accepts and serves clients from `listener` until [`shutdown`](Self::shutdown)
    /// (a client's `shutdown()` included), each client on its own thread. Handshakes run
    /// inside the listener without blocking other clients; a failed one (wrong key,
    /// garbage, silence) is logged and dropped.
    ///
    /// # Errors
    /// Accepting failed for a reason that is not one peer's fault.
    ///
    /// ```
    /// use multiproc_ipc::Address;
    /// use multiproc_manager::{Manager, Server};
    /// let address = Address::Abstract(format!("mp-doc-serve-on-{}", std::process::id()).into_bytes());
    /// let listener = Server::bind(address.clone(), Some(b"key"))?;
    /// let server = Server::new(Default::default());
    /// let serving = std::thread::spawn({
    ///     let server = server.clone();
    ///     move || server.serve_on(&listener)
    /// });
    /// let client = Manager::connect(address, Some(b"key"))?;
    /// assert_eq!(client.value(3)?.get()?, 3);
    /// client.shutdown()?; // any client may stop the server: `serve_on` returns
    /// assert!(serving.join().is_ok_and(|r| r.is_ok()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn serve_on(&self, listener: &Listener) -> Result<(), Error> {
        self.wake_on_shutdown(listener.address());
        while !self.is_closing() {
            match listener.accept_timeout(Duration::from_millis(500)) {
                Ok(conn) => {
                    self.spawn_connection(conn);
                }
                Err(ListenerError::Timeout) => {}
                // Closing: the failure is most likely the hang-up with which
                // `shutdown()` wakes this loop (see `poke`), not a client's fault.
                Err(_) if self.is_closing() => break,
                Err(e) if e.is_per_connection() => {
                    tracing::warn!("manager: refused a client: {e}");
                }
                Err(ListenerError::Io(e)) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.shutdown();
                    return Err(listener_error(e));
                }
            }
        }
        Ok(())
    }

    /// A server for the built-in types plus those in `registry`, with the default
    /// [`Limits`].
    ///
    /// ```
    /// use multiproc_manager::{Limits, Registry, Server};
    /// let server = Server::new(Registry::new());
    /// assert_eq!(server.limits(), Limits::default());
    /// assert_eq!(server.object_count(), 0);
    /// ```
    pub fn new(registry: Registry) -> Server {
        Server::with_limits(registry, Limits::default())
    }

    /// A server for the built-in types plus those in `registry`, enforcing `limits`
    /// (see [`Limits`] for an example).
    ///
    /// ```
    /// use multiproc_manager::{Limits, Registry, Server};
    /// let mut limits = Limits::default();
    /// limits.max_objects = 10;
    /// let server = Server::with_limits(Registry::new(), limits);
    /// assert_eq!(server.limits().max_objects, 10);
    /// ```
    pub fn with_limits(registry: Registry, limits: Limits) -> Server {
        Server {
            state: Arc::new(State {
                objects: RwLock::new(HashMap::new()),
                names: Mutex::new(HashMap::new()),
                next_obj: AtomicU64::new(1),
                next_conn: AtomicU64::new(1),
                conns: Mutex::new(HashMap::new()),
                registry,
                closing: AtomicBool::new(false),
                wake: Mutex::new(Vec::new()),
                closed: Mutex::new(false),
                closed_cv: Condvar::new(),
                budget: Budget::new(limits.memory_budget),
                limits: Mutex::new(limits),
                waiting: AtomicUsize::new(0),
                keep_waiters: AtomicBool::new(false),
                waiters: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Sets the largest request frame accepted from clients connected from now on.
    ///
    /// ```
    /// use multiproc_manager::Server;
    /// let server = Server::new(Default::default());
    /// server.set_max_request(1 << 20);
    /// assert_eq!(server.limits().max_request, 1 << 20);
    /// ```
    pub fn set_max_request(&self, bytes: u64) {
        lock(&self.state.limits).max_request = bytes;
    }

    /// The limits this server enforces.
    ///
    /// ```
    /// use multiproc_manager::{DEFAULT_MAX_CLIENTS, Server};
    /// let server = Server::new(Default::default());
    /// assert_eq!(server.limits().max_clients, DEFAULT_MAX_CLIENTS);
    /// ```
    pub fn limits(&self) -> Limits {
        lock(&self.state.limits).clone()
    }

    /// The bytes of data the server holds, approximately, as its memory budget counts
    /// them (see [`Limits::memory_budget`]); changed objects are measured first.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, Server};
    /// # let server = Server::new(Default::default());
    /// # let (a, b) = multiproc_ipc::Pipe::duplex()?;
    /// # server.spawn_connection(a);
    /// # let client = Manager::over(b);
    /// let before = server.memory_used();
    /// let l = client.list()?;
    /// l.extend(vec![0; 1000])?;
    /// assert!(server.memory_used() > before);
    /// server.shutdown();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn memory_used(&self) -> u64 {
        self.state.budget.used(&|id| self.state.measure(id))
    }

    /// How many calls wait inside the server now, each on a thread of its own (see
    /// [`Limits::max_waiting`]).
    ///
    /// ```
    /// # use multiproc_manager::{Manager, Server};
    /// # let server = Server::new(Default::default());
    /// # let (a, b) = multiproc_ipc::Pipe::duplex()?;
    /// # server.spawn_connection(a);
    /// # let client = Manager::over(b);
    /// assert_eq!(server.waiting_calls(), 0); // nobody blocked in a `get` or an `acquire`
    /// # drop(client);
    /// server.shutdown();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn waiting_calls(&self) -> usize {
        self.state.waiting.load(Ordering::SeqCst)
    }

    /// How many objects the server holds.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, Server};
    /// # let server = Server::new(Default::default());
    /// # let (a, b) = multiproc_ipc::Pipe::duplex()?;
    /// # server.spawn_connection(a);
    /// # let client = Manager::over(b);
    /// let d = client.dict()?;
    /// assert_eq!(server.object_count(), 1);
    /// d.destroy()?;
    /// assert_eq!(server.object_count(), 0);
    /// server.shutdown();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn object_count(&self) -> usize {
        read(&self.state.objects).len()
    }

    /// Registers a listener address to be poked (waking its accept loop) by `shutdown()`.
    pub(crate) fn wake_on_shutdown(&self, address: &multiproc_ipc::Address) {
        lock(&self.state.wake).push(address.clone());
        if self.is_closing() {
            for a in lock(&self.state.wake).drain(..) {
                poke(&a);
            }
        }
    }

    /// Whether [`shutdown`](Self::shutdown) was called (by a client or locally).
    ///
    /// ```
    /// use multiproc_manager::Server;
    /// let server = Server::new(Default::default());
    /// assert!(!server.is_closing());
    /// server.shutdown();
    /// assert!(server.is_closing());
    /// ```
    pub fn is_closing(&self) -> bool {
        self.state.closing.load(Ordering::SeqCst)
    }

    /// Serves one client on the calling thread until it disconnects or the server
    /// shuts down. Errors on this connection never affect others.
    ///
    /// ```
    /// use multiproc_manager::{Manager, Server};
    /// let server = Server::new(Default::default());
    /// let (a, b) = multiproc_ipc::Pipe::duplex()?;
    /// let serving = std::thread::spawn({
    ///     let server = server.clone();
    ///     move || server.serve_connection(a)
    /// });
    /// let client = Manager::over(b);
    /// client.ping()?;
    /// drop(client); // disconnects: `serve_connection` returns
    /// assert!(serving.join().is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn serve_connection(&self, conn: Connection) {
        self.state.serve(conn);
    }

    /// Runs request frames as one client would send them over `conn` (replies go to
    /// `conn`), then disconnects that client: the fuzzing entry point.
    pub(crate) fn feed(&self, frames: &[&[u8]], conn: Connection) {
        self.state.feed(frames, conn);
    }

    /// Serves one client on a new thread.
    ///
    /// ```
    /// use multiproc_manager::{Manager, Server};
    /// let server = Server::new(Default::default());
    /// let (a, b) = multiproc_ipc::Pipe::duplex()?;
    /// let serving = server.spawn_connection(a);
    /// let client = Manager::over(b);
    /// assert_eq!(client.value(1)?.get()?, 1);
    /// server.shutdown();
    /// assert!(serving.join().is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn spawn_connection(&self, conn: Connection) -> std::thread::JoinHandle<()> {
        let st = self.state.clone();
        std::thread::Builder::new()
            .name("manager-client".into())
            .spawn(move || st.serve(conn))
            .unwrap_or_else(|e| {
                tracing::error!("cannot spawn a manager client thread: {e}");
                std::thread::spawn(|| {})
            })
    }

    /// Stops serving: every client connection is shut down (their pending and future
    /// calls fail with [`Error::ManagerGone`](crate::Error::ManagerGone)), waiters
    /// inside the server give up within a few tens of milliseconds.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, Server};
    /// # let server = Server::new(Default::default());
    /// # let (a, b) = multiproc_ipc::Pipe::duplex()?;
    /// # server.spawn_connection(a);
    /// # let client = Manager::over(b);
    /// let d = client.dict()?;
    /// server.shutdown();
    /// assert!(d.len().is_err()); // ManagerGone
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn shutdown(&self) {
        self.state.shutdown();
    }

    /// Waits until the server has been shut down, at most `timeout` (`None`: forever).
    /// Returns whether it has.
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_manager::Server;
    /// let server = Server::new(Default::default());
    /// assert!(!server.wait_closed(Some(Duration::ZERO)));
    /// server.shutdown();
    /// assert!(server.wait_closed(Some(Duration::from_secs(60))));
    /// ```
    pub fn wait_closed(&self, timeout: Option<Duration>) -> bool {
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let mut g = self
            .state
            .closed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        while !*g {
            let left = match deadline {
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(l) => l,
                    None => return false,
                },
                None => Duration::from_secs(3600),
            };
            g = self
                .state
                .closed_cv
                .wait_timeout(g, left)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
        true
    }
}

/// Connects to `address` and hangs up at once: the accept loop wakes, sees the server
/// closing, and stops (the aborted handshake is only a per-connection error).
fn poke(address: &multiproc_ipc::Address) {
    use multiproc_ipc::Address;
    let t = Duration::from_secs(1);
    match address {
        Address::Unix(p) => {
            let _ = std::os::unix::net::UnixStream::connect(p);
        }
        Address::Abstract(name) => {
            use std::os::linux::net::SocketAddrExt;
            if let Ok(a) = std::os::unix::net::SocketAddr::from_abstract_name(name) {
                let _ = std::os::unix::net::UnixStream::connect_addr(&a);
            }
        }
        Address::Tcp(a) => {
            let mut a = *a;
            if a.ip().is_unspecified() {
                a.set_ip(if a.is_ipv4() {
                    std::net::Ipv4Addr::LOCALHOST.into()
                } else {
                    std::net::Ipv6Addr::LOCALHOST.into()
                });
            }
            let _ = std::net::TcpStream::connect_timeout(&a, t);
        }
        _ => {}
    }
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl State {
    fn shutdown(&self) {
        if self.closing.swap(true, Ordering::SeqCst) {
            return;
        }
        for a in lock(&self.wake).drain(..) {
            poke(&a);
        }
        let conns: Vec<Arc<ConnEntry>> = lock(&self.conns).values().cloned().collect();
        for c in conns {
            // Wakes the client's reader thread (EOF) and fails the client's calls.
            crate::sys::shutdown(&*c.conn);
        }
        *lock(&self.closed) = true;
        self.closed_cv.notify_all();
    }

    fn serve(self: &Arc<Self>, conn: Connection) {
        let Some((id, entry, limits)) = self.register(conn) else {
            return;
        };
        // Replies may wrap a stored value in a level or two (`items()`); requests may
        // not nest deeper than the limit (see `decode`).
        let _depth = deep::limit(limits.max_depth.saturating_add(REPLY_SLACK));
        loop {
            match entry.conn.recv_bytes() {
                Ok(frame) => {
                    let go_on = self.handle_frame(id, &entry, &frame, &limits);
                    // A goodbye is final: whatever follows (the close) is a clean end.
                    if !go_on || entry.clean.load(Ordering::SeqCst) {
                        break;
                    }
                }
                Err(RecvError::Eof) => break,
                Err(e) => {
                    tracing::warn!("manager client {id}: connection dropped: {e}");
                    break;
                }
            }
        }
        self.disconnect(id, &entry);
    }

    /// Enters a new client connection in the table (`None` if the server is closing).
    fn register(&self, conn: Connection) -> Option<(u64, Arc<ConnEntry>, Limits)> {
        if self.closing.load(Ordering::SeqCst) {
            return None;
        }
        let limits = lock(&self.limits).clone();
        conn.set_max_frame(limits.frame_limit());
        let id = self.next_conn.fetch_add(1, Ordering::Relaxed);
        let mut conns = lock(&self.conns);
        if conns.len() >= limits.max_clients {
            drop(conns);
            tracing::warn!(
                "manager: refused client {id}: {} clients are served already",
                limits.max_clients
            );
            return None;
        }
        let entry = Arc::new(ConnEntry {
            alive: AtomicBool::new(true),
            clean: AtomicBool::new(false),
            waiting: AtomicUsize::new(0),
            conn: Arc::new(conn),
        });
        conns.insert(id, entry.clone());
        drop(conns);
        // A shutdown between the check above and the insert would miss this connection.
        if self.closing.load(Ordering::SeqCst) {
            crate::sys::shutdown(&*entry.conn);
        }
        Some((id, entry, limits))
    }

    /// Decodes and runs one whole request frame from client `id`. Returns whether to
    /// go on serving this client (`false`: a CPython client, answered and dropped).
    fn handle_frame(
        self: &Arc<Self>,
        id: u64,
        entry: &Arc<ConnEntry>,
        frame: &[u8],
        limits: &Limits,
    ) -> bool {
        match decode(frame, limits) {
            Ok(req) => self.dispatch(id, entry, req),
            Err(Undecodable::TooDeep { id: call }) => {
                tracing::warn!(
                    "manager client {id}: a request nested deeper than {} levels",
                    limits.max_depth
                );
                let _ = Self::reply(entry, call, Err(too_deep(limits.max_depth)));
            }
            Err(Undecodable::TooBig { id: call }) => {
                let e = RemoteError::new(
                    K::MemoryBudget,
                    "the request holds more values than the memory budget allows",
                );
                let _ = Self::reply(entry, call, Err(e));
            }
            Err(Undecodable::Garbage(_)) if is_pickle(frame) => {
                // A CPython `BaseManager` client (it passed the handshake both share):
                // answer as its `dispatch()` reads an error, then hang up.
                tracing::warn!(
                    "manager client {id}: refused a CPython BaseManager client (pickled call)"
                );
                let _ = entry.conn.send_pickle(&("#TRACEBACK", CPYTHON_REFUSAL));
                return false;
            }
            Err(Undecodable::Garbage(e)) => {
                // The frame was whole, so the stream is still in step: say so and go on.
                tracing::warn!("manager client {id}: undecodable request: {e}");
                let _ = entry.conn.send(&Response {
                    id: 0,
                    result: Err(RemoteError::new(
                        K::Protocol,
                        format!("undecodable request: {e}"),
                    )),
                });
            }
        }
        true
    }

    /// Runs request frames as one client connected over `conn` would send them, then
    /// disconnects that client (the fuzzing entry point: no listener, no reader).
    pub(crate) fn feed(self: &Arc<Self>, frames: &[&[u8]], conn: Connection) {
        self.keep_waiters.store(true, Ordering::Relaxed);
        let Some((id, entry, limits)) = self.register(conn) else {
            return;
        };
        let _depth = deep::limit(limits.max_depth.saturating_add(REPLY_SLACK));
        for frame in frames {
            let go_on = self.handle_frame(id, &entry, frame, &limits);
            if !go_on || entry.clean.load(Ordering::SeqCst) {
                break;
            }
        }
        self.disconnect(id, &entry);
        // The reader of the replies sees the end now, not when the last waiter leaves.
        crate::sys::shutdown_write(&*entry.conn);
        // Waiters see their client gone within a slice of their wait.
        let waiters = std::mem::take(&mut *lock(&self.waiters));
        for h in waiters {
            let _ = h.join();
        }
    }

    /// The client is gone: settle what it held (released if it vanished, see
    /// `Obj::release_conn`), keep its queues' items.
    fn disconnect(&self, id: u64, entry: &ConnEntry) {
        let clean = entry.clean.load(Ordering::SeqCst);
        entry.alive.store(false, Ordering::SeqCst);
        lock(&self.conns).remove(&id);
        let objs: Vec<(u64, Arc<Obj>)> = read(&self.objects)
            .iter()
            .map(|(k, v)| (*k, v.clone()))
            .collect();
        for (oid, o) in objs {
            let n = o.release_conn(id, clean);
            if n > 0 && clean {
                tracing::debug!(
                    "manager client {id} ended holding {} #{oid} ({n} acquisition(s) only it could release); released",
                    o.kind.typeid()
                );
            } else if n > 0 {
                tracing::warn!(
                    "manager client {id} vanished holding {} #{oid} ({n} acquisition(s)); released",
                    o.kind.typeid()
                );
            }
        }
    }

    /// Answers request `id`; hands the result back if it could not be delivered (the
    /// client is gone), so that a caller holding a taken item can put it back.
    fn reply(
        entry: &ConnEntry,
        id: u64,
        result: Result<Value, RemoteError>,
    ) -> Result<(), Result<Value, RemoteError>> {
        if id == 0 {
            return Ok(());
        }
        deep::take_exceeded();
        let response = Response { id, result };
        match entry.conn.send(&response) {
            Ok(()) => Ok(()),
            Err(multiproc_ipc::SendError::Encode(e)) => {
                // Nothing was written: say why instead of leaving the caller waiting
                // (a reply nested too deep, say a custom type's), and hand the value
                // back as undelivered.
                let why = if deep::take_exceeded() {
                    RemoteError::new(K::TooDeep, "the reply nests too deeply to be sent")
                } else {
                    RemoteError::new(K::RuntimeError, format!("the reply cannot be sent: {e}"))
                };
                let _ = entry.conn.send(&Response {
                    id,
                    result: Err(why),
                });
                Err(response.result)
            }
            Err(_) => Err(response.result),
        }
    }

    /// [`reply`](Self::reply) to a `get` (`is_get`) or another operation: an item a
    /// `get` took but could not deliver goes back to the front of the queue.
    fn reply_taking(
        entry: &ConnEntry,
        id: u64,
        result: Result<Value, RemoteError>,
        target: &Obj,
        is_get: bool,
    ) {
        if let Err(Ok(item)) = Self::reply(entry, id, result) {
            if is_get {
                // Never lose an item to a client that vanished.
                target.unget(item);
            }
        }
    }

    /// `method_to_typeid`: the type of the new object a custom type's call makes of
    /// its result, if it makes one.
    fn new_object_typeid(&self, target: &Obj, op: &Op) -> Option<&'static str> {
        match (&target.kind, op) {
            (Kind::Custom(typeid), Op::Custom(CustomOp::Call { method, .. })) => {
                self.registry.result_typeid(typeid, method)
            }
            _ => None,
        }
    }

    /// Runs `op` without waiting on this thread. An operation that may wait is tried
    /// only, and comes back too: when it has to wait (`WouldBlock`) it moves to a
    /// thread of its own, so the client's other threads are not held up.
    fn try_run(target: &Obj, op: Op, who: &Caller<'_>) -> (Outcome, Option<Op>) {
        if op.wait_timeout().is_some() {
            (target.run(op.clone(), who, true), Some(op))
        } else {
            (target.run(op, who, false), None)
        }
    }

    fn dispatch(self: &Arc<Self>, conn_id: u64, entry: &Arc<ConnEntry>, req: Request) {
        let Request {
            id,
            obj,
            thread,
            op,
        } = req;
        if obj == SERVER {
            self.server_op(entry, id, op);
            return;
        }
        if let Op::Any(AnyOp::Destroy) = op {
            self.destroy(obj);
            let _ = Self::reply(entry, id, Ok(Value::None));
            return;
        }
        let (target, growth) = match self.target_charged(obj, &op) {
            Ok(t) => t,
            Err(e) => {
                let _ = Self::reply(entry, id, Err(e));
                return;
            }
        };
        let changes = !matches!(growth, Growth::Nothing);
        let new_object = self.new_object_typeid(&target, &op);
        let who = Caller {
            conn: conn_id,
            thread,
            alive: &entry.alive,
            closing: &self.closing,
            destroyed: &target.destroyed,
        };
        let (first, op) = Self::try_run(&target, op, &who);
        let is_get = matches!(op, Some(Op::Queue(QueueOp::Get { .. })));
        if changes && !matches!(first, Err(Fail::WouldBlock)) {
            self.budget.touch(obj);
        }
        let first = match (first, new_object) {
            (Ok(v), Some(typeid)) => self.create(result_object(typeid, v)).map_err(Fail::Remote),
            (first, _) => first,
        };
        match first {
            Ok(v) => Self::reply_taking(entry, id, Ok(v), &target, is_get),
            Err(Fail::Remote(e)) => {
                let _ = Self::reply(entry, id, Err(e));
            }
            Err(Fail::WouldBlock) => {
                let Some(op) = op else {
                    let _ = Self::reply(
                        entry,
                        id,
                        Err(RemoteError::new(K::RuntimeError, "operation would block")),
                    );
                    return;
                };
                self.wait_elsewhere(
                    entry,
                    Waiting {
                        id,
                        conn: conn_id,
                        thread,
                        obj,
                        target,
                        op,
                        changes,
                        is_get,
                    },
                );
            }
        }
    }

    /// Runs an operation that has to wait on a thread of its own, within the caps of
    /// its client and of the server, and replies from there.
    fn wait_elsewhere(self: &Arc<Self>, entry: &Arc<ConnEntry>, w: Waiting) {
        let id = w.id;
        let Some(slot) = self.wait_slot(entry) else {
            let _ = Self::reply(entry, id, Err(self.too_many_waiting(entry)));
            return;
        };
        let caller = Arc::clone(entry);
        let entry = entry.clone();
        let st = self.clone();
        let depth = lock(&self.limits).max_depth.saturating_add(REPLY_SLACK);
        let spawned = std::thread::Builder::new()
            .name("manager-wait".into())
            .spawn(move || {
                let _slot = slot;
                let _depth = deep::limit(depth);
                let who = Caller {
                    conn: w.conn,
                    thread: w.thread,
                    alive: &entry.alive,
                    closing: &st.closing,
                    destroyed: &w.target.destroyed,
                };
                let r = match w.target.run(w.op, &who, false) {
                    Ok(v) => Ok(v),
                    Err(Fail::Remote(e)) => Err(e),
                    Err(Fail::WouldBlock) => {
                        Err(RemoteError::new(K::RuntimeError, "operation would block"))
                    }
                };
                if w.changes {
                    st.budget.touch(w.obj);
                }
                Self::reply_taking(&entry, id, r, &w.target, w.is_get);
            });
        match spawned {
            Ok(h) if self.keep_waiters.load(Ordering::Relaxed) => {
                lock(&self.waiters).push(h);
            }
            Ok(_) => {}
            Err(e) => {
                // Nothing ran: say so rather than leave the caller waiting.
                tracing::error!("cannot spawn a manager wait thread: {e}");
                let _ = Self::reply(
                    &caller,
                    id,
                    Err(RemoteError::new(
                        K::TooManyWaiting,
                        format!("the server cannot start a thread for this wait: {e}"),
                    )),
                );
            }
        }
    }

    /// Object `obj` and how `op` changes it, the data `op` adds charged before it runs
    /// (and allocates); or the `NoSuchObject` or `MemoryBudget` error.
    fn target_charged(&self, obj: u64, op: &Op) -> Result<(Arc<Obj>, Growth), RemoteError> {
        let target = read(&self.objects).get(&obj).cloned().ok_or_else(|| {
            RemoteError::new(K::NoSuchObject, format!("no object #{obj} on this manager"))
        })?;
        let growth = budget::growth(op, &target);
        if let Growth::Adds(bytes) = growth {
            self.charge(obj, bytes)?;
        }
        Ok((target, growth))
    }

    /// `destroy()`: drops object `obj` (if it is still there), waking its waiters and
    /// crediting its account.
    fn destroy(&self, obj: u64) {
        let removed = write(&self.objects).remove(&obj);
        if let Some(o) = removed {
            o.destroyed.store(true, Ordering::SeqCst);
            self.budget.close(obj);
        }
    }

    /// An operation of the server itself ([`SERVER`]).
    fn server_op(self: &Arc<Self>, entry: &Arc<ConnEntry>, id: u64, op: Op) {
        let r = match op {
            Op::Server(ServerOp::Ping) => Ok(Value::None),
            Op::Server(ServerOp::Goodbye) => {
                entry.clean.store(true, Ordering::SeqCst);
                return;
            }
            Op::Server(ServerOp::Create(c)) => self.create(c),
            Op::Server(ServerOp::SetName(name, v)) => {
                self.charge(SERVER, budget::attr(&name, &v)).map(|()| {
                    lock(&self.names).insert(name, v);
                    self.budget.touch(SERVER);
                    Value::None
                })
            }
            Op::Server(ServerOp::GetName(name)) => {
                lock(&self.names).get(&name).cloned().ok_or_else(|| {
                    RemoteError::new(K::KeyError, format!("nothing is published as '{name}'"))
                })
            }
            Op::Server(ServerOp::Shutdown) => {
                let _ = Self::reply(entry, id, Ok(Value::None));
                self.shutdown();
                return;
            }
            op => Err(RemoteError::new(
                K::NoSuchMethod,
                format!("the server has no method '{}'", op.name()),
            )),
        };
        let _ = Self::reply(entry, id, r);
    }

    /// What account `id` holds now (0: the published names), `None` if it is gone.
    fn measure(&self, id: u64) -> Option<u64> {
        if id == SERVER {
            return Some(budget::measure_names(&lock(&self.names)));
        }
        let obj = read(&self.objects).get(&id).cloned()?;
        Some(budget::measure(&obj))
    }

    /// Charges `bytes` to account `id` before they are allocated, or refuses.
    fn charge(&self, id: u64, bytes: u64) -> Result<(), RemoteError> {
        self.budget.charge(id, bytes, &|a| self.measure(a))
    }

    /// A place for one more waiting call of `entry`'s client, within both caps; freed
    /// when dropped.
    fn wait_slot(self: &Arc<Self>, entry: &Arc<ConnEntry>) -> Option<WaitSlot> {
        let limits = lock(&self.limits).clone();
        let take = |n: &AtomicUsize, max: usize| {
            n.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |x| {
                (x < max).then_some(x + 1)
            })
            .is_ok()
        };
        if !take(&entry.waiting, limits.max_waiting_per_client) {
            return None;
        }
        if !take(&self.waiting, limits.max_waiting) {
            entry.waiting.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        Some(WaitSlot {
            state: self.clone(),
            entry: entry.clone(),
        })
    }

    fn too_many_waiting(&self, entry: &ConnEntry) -> RemoteError {
        let limits = lock(&self.limits).clone();
        let mine = entry.waiting.load(Ordering::SeqCst);
        RemoteError::new(
            K::TooManyWaiting,
            if mine >= limits.max_waiting_per_client {
                format!(
                    "this client already has {mine} calls waiting in the server (the limit is {})",
                    limits.max_waiting_per_client
                )
            } else {
                format!(
                    "the server already has {} calls waiting (the limit is {})",
                    self.waiting.load(Ordering::SeqCst),
                    limits.max_waiting
                )
            },
        )
    }

    /// Makes object `c` (charged, counted) and returns a reference to it.
    fn create(&self, c: Create) -> Result<Value, RemoteError> {
        let max = lock(&self.limits).max_objects;
        if read(&self.objects).len() >= max {
            return Err(RemoteError::new(
                K::TooManyObjects,
                format!("the server holds {max} objects, as many as it may"),
            ));
        }
        // The id is taken first so that the new object's account is charged before
        // its contents are stored (an id lost to a refusal is never reused, harmlessly).
        let id = self.next_obj.fetch_add(1, Ordering::Relaxed);
        self.charge(id, budget::creation(&c))?;
        let r = self.build(id, c);
        if r.is_err() {
            self.budget.close(id);
        }
        r
    }

    fn build(&self, id: u64, c: Create) -> Result<Value, RemoteError> {
        let obj = match c {
            Create::Dict(items) => Obj::dict(items)?,
            Create::List(items) => Obj::new(Kind::List, Body::List(Mutex::new(items))),
            Create::Namespace(attrs) => {
                Obj::new(Kind::Namespace, Body::Namespace(Mutex::new(attrs)))
            }
            Create::Lock => Obj::lock(false),
            Create::RLock => Obj::lock(true),
            Create::Semaphore(n) => Obj::semaphore(n, false),
            Create::BoundedSemaphore(n) => Obj::semaphore(n, true),
            Create::Condition => Obj::condition(),
            Create::Event => Obj::event(),
            Create::Barrier(n) => Obj::barrier(n)?,
            Create::Queue(max) => Obj::queue(max, false),
            Create::JoinableQueue(max) => Obj::queue(max, true),
            Create::Value(v) => Obj::new(Kind::Value, Body::Value(Mutex::new(v))),
            Create::Array(items) => Obj::new(Kind::Array, Body::Array(Mutex::new(items))),
            Create::Set(items) => Obj::new(
                Kind::Set,
                Body::Set(Mutex::new(crate::kinds::set::new_set(items)?)),
            ),
            Create::Custom { type_name, args } => {
                let o = self.registry.create(&type_name, args)?;
                Obj::new(Kind::Custom(type_name), Body::Custom(Mutex::new(o)))
            }
        };
        let kind = obj.kind.clone();
        write(&self.objects).insert(id, Arc::new(obj));
        Ok(Value::Proxy(ObjRef { id, kind }))
    }
}

/// What a method's result `v` becomes under `method_to_typeid` (see
/// [`Shared::METHOD_TO_TYPEID`](crate::Shared::METHOD_TO_TYPEID)): a list or dict for
/// those built-in typeids, else an object of the registered type, built from `v`.
fn result_object(typeid: &str, mut v: Value) -> Create {
    match (typeid, &mut v) {
        ("list", Value::List(items)) => return Create::List(std::mem::take(items)),
        ("dict", Value::Dict(items)) => return Create::Dict(std::mem::take(items)),
        _ => {}
    }
    Create::Custom {
        type_name: typeid.to_owned(),
        args: vec![v],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Manager;
    use crate::protocol::LockOp;

    /// A `get` answered at once (an item was there) whose reply cannot be delivered —
    /// the client hung up right after asking — puts the item back, as a `get` that had
    /// to wait does: the queue loses nothing to a client that vanished.
    #[test]
    fn undelivered_immediate_get_puts_the_item_back() -> Result<(), Box<dyn std::error::Error>> {
        let server = Server::new(Registry::new());
        let (a, b) = multiproc_ipc::Pipe::duplex()?;
        server.spawn_connection(a);
        let m = Manager::over(b);
        let q = m.queue_of::<String>()?;
        q.put("first".to_string())?;
        q.put("second".to_string())?;

        // a client that asks for an item and is gone before the answer
        let (a, b) = multiproc_ipc::Pipe::duplex()?;
        b.send(&Request {
            id: 1,
            obj: q.id(),
            thread: 1,
            op: Op::Queue(QueueOp::Get { timeout: None }),
        })?;
        drop(b);
        // serves that request, fails to answer it, sees the end of the stream, returns
        server.serve_connection(a);

        assert_eq!(q.qsize()?, 2, "nothing was lost");
        assert_eq!(
            q.get_timeout(Duration::ZERO)?,
            "first",
            "put back at the front"
        );
        assert_eq!(q.get_timeout(Duration::ZERO)?, "second");
        server.shutdown();
        Ok(())
    }

    /// Sends `ops` on a raw connection to `server` (each with its own request id),
    /// optionally a goodbye, then hangs up; returns after the server is done with it.
    fn raw_client(
        server: &Server,
        obj: u64,
        ops: Vec<Op>,
        goodbye: bool,
    ) -> Result<(), Box<dyn std::error::Error>> {
        let (a, b) = multiproc_ipc::Pipe::duplex()?;
        for (i, op) in ops.into_iter().enumerate() {
            b.send(&Request {
                id: i as u64 + 1,
                obj,
                thread: 1,
                op,
            })?;
        }
        if goodbye {
            b.send(&Request {
                id: 0,
                obj: SERVER,
                thread: 0,
                op: Op::Server(ServerOp::Goodbye),
            })?;
            // after a goodbye nothing more is served
            b.send(&Request {
                id: 99,
                obj,
                thread: 1,
                op: Op::Lock(LockOp::Release),
            })?;
        }
        drop(b);
        server.serve_connection(a);
        Ok(())
    }

    /// A client that says goodbye leaves its `Lock` locked (anyone may release it); one
    /// that hangs up without it has the lock released, and the next acquirer is told.
    #[test]
    fn goodbye_keeps_a_lock_and_a_vanishing_releases_it() -> Result<(), Box<dyn std::error::Error>>
    {
        let server = Server::new(Registry::new());
        let (a, b) = multiproc_ipc::Pipe::duplex()?;
        server.spawn_connection(a);
        let m = Manager::over(b);
        let lock = m.lock()?;
        let acquire = || {
            Op::Lock(LockOp::Acquire {
                timeout: Some(Duration::ZERO),
            })
        };

        raw_client(&server, lock.id(), vec![acquire()], true)?;
        assert!(lock.locked()?, "kept locked after a goodbye");
        lock.release()?;

        raw_client(&server, lock.id(), vec![acquire()], false)?;
        assert!(!lock.locked()?, "released after a vanishing");
        assert!(matches!(
            lock.acquire(Some(Duration::ZERO)),
            Err(crate::AcquireError::OwnerDied(d)) if *d.get_ref()
        ));
        lock.release()?;
        assert!(lock.acquire(Some(Duration::ZERO))?, "told once");
        server.shutdown();
        Ok(())
    }
}
