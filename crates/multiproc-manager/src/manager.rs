//! [`Manager`]: the client handle that creates shared objects, and how servers are
//! started, served and reached.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use multiproc_ipc::{Address, Connection};

pub(crate) use crate::client::CONNECT_TIMEOUT;
use crate::client::{Inner, Origin, WireAddress, dial, dial_timeout};
use crate::custom::{Registry, Shared};
use crate::error::Error;
use crate::limits::Limits;
use crate::protocol::{Create, Op, SERVER, ServerOp};
use crate::proxy::{
    Args, ArrayProxy, BarrierProxy, ConditionProxy, DictProxy, EventProxy, Handle, ListProxy,
    LockProxy, NamespaceProxy, Proxy, QueueProxy, SemaphoreProxy, SetProxy, ValueProxy, wire_pairs,
    wire_values,
};
use crate::server::Server;
use crate::value::{FromValue, ObjRef, Value};

/// A fresh random authkey (32 bytes from the OS).
///
/// # Errors
/// The OS random source failed.
///
/// ```
/// let key = multiproc_manager::random_authkey()?;
/// assert_eq!(key.len(), 32);
/// assert_ne!(key, multiproc_manager::random_authkey()?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn random_authkey() -> Result<Vec<u8>, Error> {
    let mut key = vec![0u8; 32];
    getrandom::fill(&mut key)
        .map_err(|e| Error::Config(format!("no randomness for an authkey: {e}")))?;
    Ok(key)
}

/// The process authkey (CPython's `current_process().authkey`): what a manager uses
/// when given no key. Created once for the main process and inherited by every child
/// under every start method, so a child reaches its parent's manager by address alone.
///
/// ```
/// let key = multiproc_manager::process_authkey();
/// assert!(!key.is_empty());
/// assert_eq!(key, multiproc_manager::process_authkey()); // one key per process tree
/// ```
pub fn process_authkey() -> Vec<u8> {
    multiproc_process::current_process().authkey().to_vec()
}

/// `authkey`, or, when there is none, the [`process_authkey`] — except over TCP, where
/// a key must be given (other hosts do not share this process tree's key); `None`
/// stays `None` there, and binding or connecting refuses it.
fn key_or_default(address: &Address, authkey: Option<&[u8]>) -> Option<Vec<u8>> {
    match authkey {
        Some(k) => Some(k.to_vec()),
        None if address.is_tcp() => None,
        None => Some(process_authkey()),
    }
}

/// Serves a manager at `address` in the foreground until a client calls
/// [`Manager::shutdown`] (CPython's `manager.get_server().serve_forever()`).
/// TCP demands an authkey; elsewhere `None` is the [`process_authkey`].
///
/// # Errors
/// As [`Server::bind`] and [`Server::serve_on`].
///
/// ```
/// # use std::time::Duration;
/// use multiproc_ipc::Address;
/// use multiproc_manager::{Manager, Registry};
/// let address = Address::Abstract(format!("mp-doc-serve-{}", std::process::id()).into_bytes());
/// let serving = std::thread::spawn({
///     let address = address.clone();
///     move || multiproc_manager::serve(address, Some(b"key"), Registry::new())
/// });
/// // connect once the server listens (it binds on its thread)
/// let client = (0..600)
///     .find_map(|_| {
///         Manager::connect(address.clone(), Some(b"key"))
///             .inspect_err(|_| std::thread::sleep(Duration::from_millis(100)))
///             .ok()
///     })
///     .ok_or("the server never listened")?;
/// client.ping()?;
/// client.shutdown()?; // `serve` returns
/// assert!(serving.join().is_ok_and(|r| r.is_ok()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn serve(
    address: impl Into<Address>,
    authkey: Option<&[u8]>,
    registry: Registry,
) -> Result<(), Error> {
    let address = address.into();
    let key = key_or_default(&address, authkey);
    let listener = Server::bind(address, key.as_deref())?;
    Server::new(registry).serve_on(&listener)
}

/// A server process of ours: shut down and reaped on `shutdown()` or drop.
type ServerProcess = multiproc_process::Process<Result<(), String>>;

enum Owned {
    /// Not ours: shutting down is the server owner's business.
    None,
    /// A daemon child process serving.
    Process(std::sync::Mutex<Option<ServerProcess>>),
    /// A server on threads of this process.
    Thread {
        server: Server,
        thread: Option<JoinHandle<Result<(), Error>>>,
    },
}

/// A connection to a manager server, and the factory of its shared objects
/// (CPython's `SyncManager`).
///
/// * [`Manager::start`] runs the server in a child process tied to this one;
/// * [`Manager::in_thread`] runs it on threads of this process (tests, tools);
/// * [`Manager::connect`] reaches a server started elsewhere ([`serve`]), over a Unix
///   socket or TCP, with an authkey.
///
/// Each factory method returns a proxy; proxies are `Send + Sync + Clone` and can be
/// given to child processes (any start method) or sent to other hosts.
///
/// ```
/// use multiproc_manager::Manager;
/// let manager = Manager::in_thread()?;
/// let d = manager.dict()?;
/// d.insert(1, "1")?;
/// d.insert("2", 2)?;
/// d.insert(0.25, ())?;
/// let l = manager.list_from(0..10)?;
/// l.reverse()?;
/// println!("{d}"); // {1: '1', '2': 2, 0.25: None}
/// println!("{l}"); // [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]
/// manager.shutdown()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Manager {
    client: Arc<Inner>,
    owned: Owned,
    address: Option<Address>,
    authkey: Option<Vec<u8>>,
}

impl fmt::Debug for Manager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Manager")
            .field("address", &self.address)
            .field("owns_server", &!matches!(self.owned, Owned::None))
            .finish_non_exhaustive()
    }
}

static NEXT_NAME: AtomicU64 = AtomicU64::new(0);

/// A fresh abstract Unix socket name: nothing in the filesystem to leak, even on
/// SIGKILL. Anyone in the network namespace may connect, hence the authkey (the
/// process authkey: 32 random bytes, shared only with this process's children).
pub(crate) fn private_address() -> Result<Address, Error> {
    let mut tag = [0u8; 8];
    getrandom::fill(&mut tag).map_err(|e| Error::Config(e.to_string()))?;
    let tag: String = tag.iter().map(|b| format!("{b:02x}")).collect();
    Ok(Address::Abstract(
        format!(
            "multiproc-manager-{}-{}-{tag}",
            std::process::id(),
            NEXT_NAME.fetch_add(1, Ordering::Relaxed)
        )
        .into_bytes(),
    ))
}

/// The custom types of a manager started in a child process ([`Manager::start_with`]).
///
/// Under the spawn and forkserver start methods the server is a fresh process of the
/// same binary, so it cannot be handed a [`Registry`] value holding function pointers;
/// it calls `S::registry()` itself instead. `()` registers nothing.
///
/// ```
/// use multiproc_manager::{FromValue, Limits, Manager, Registry, RemoteError, Setup, Shared, Value};
///
/// struct Counter(i64);
///
/// impl Shared for Counter {
///     const TYPEID: &'static str = "Counter";
///     fn new(_: Vec<Value>) -> Result<Self, RemoteError> {
///         Ok(Counter(0))
///     }
///     fn call(&mut self, method: &str, args: Vec<Value>) -> Result<Value, RemoteError> {
///         let by = args.into_iter().next().map_or(Ok(1), i64::from_value).unwrap_or(1);
///         match method {
///             "add" => { self.0 += by; Ok(self.0.into()) }
///             _ => Err(RemoteError::new(multiproc_manager::RemoteErrorKind::NoSuchMethod, method)),
///         }
///     }
/// }
///
/// /// What the manager's server process serves: built in that process.
/// struct MyTypes;
///
/// impl Setup for MyTypes {
///     fn registry() -> Registry {
///         let mut r = Registry::new();
///         r.register::<Counter>();
///         r
///     }
///     fn limits() -> Limits {
///         let mut l = Limits::default();
///         l.max_objects = 100;
///         l
///     }
/// }
///
/// let manager = Manager::start_with::<MyTypes>(None)?; // the default start method
/// let c = manager.create::<Counter>(())?;
/// assert_eq!(c.call::<i64>("add", (5,))?, 5);
/// assert_eq!(c.call::<i64>("add", ())?, 6);
/// manager.shutdown()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Setup: 'static {
    /// The registry the server uses.
    ///
    /// ```
    /// use multiproc_manager::Setup;
    /// // `()` is the setup of a manager without custom types.
    /// assert!(!<() as Setup>::registry().contains("Counter"));
    /// ```
    fn registry() -> Registry;

    /// The limits the server enforces ([`Limits::default`] unless overridden).
    ///
    /// ```
    /// use multiproc_manager::{Limits, Setup};
    /// assert_eq!(<() as Setup>::limits(), Limits::default());
    /// ```
    fn limits() -> Limits {
        Limits::default()
    }
}

impl Setup for () {
    fn registry() -> Registry {
        Registry::new()
    }
}

/// The body of a manager server process.
fn server_main<S: Setup>(
    address: WireAddress,
    authkey: Vec<u8>,
    ready: Connection,
) -> Result<(), String> {
    let listener = match Server::bind(address.to_address(), Some(&authkey)) {
        Ok(l) => l,
        Err(e) => {
            let msg = format!("{e}");
            let _ = ready.send(&Err::<(), String>(msg.clone()));
            return Err(msg);
        }
    };
    let _ = ready.send(&Ok::<(), String>(()));
    drop(ready);
    Server::with_limits(S::registry(), S::limits())
        .serve_on(&listener)
        .map_err(|e| e.to_string())
}

/// How long [`Manager::shutdown`] waits for a server process before killing it.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// How long a server process of ours that could not be asked to shut down (its
/// connection is gone) is given to exit on its own before it is killed.
const UNREACHED_GRACE: Duration = Duration::from_millis(250);

/// Whether the server acknowledged a shutdown request.
#[derive(Debug, Clone, Copy)]
enum Ack {
    /// It did: it is on its way out.
    Yes,
    /// It could not be asked (our connection is gone): it may be exiting already.
    Unreached,
    /// It did not answer in time (frozen, say).
    No,
}

impl Ack {
    /// How long to wait for the server process to exit before killing it.
    fn grace(self) -> Duration {
        match self {
            Ack::Yes => SHUTDOWN_GRACE,
            Ack::Unreached => UNREACHED_GRACE,
            Ack::No => Duration::ZERO,
        }
    }
}

impl Manager {
    /// Starts a manager server in a child process with the default start method and
    /// connects to it (CPython's `Manager()`). The server is a daemon: it dies with
    /// this process even on SIGKILL (parent-death signal), and is shut down and reaped
    /// on [`shutdown`](Self::shutdown) or drop. It listens on an abstract Unix socket
    /// with the [`process_authkey`] (CPython's `Manager()` uses
    /// `current_process().authkey`), so proxies can be handed to any child process,
    /// and a child may also [`connect`](Self::connect) by address without a key.
    ///
    /// ```
    /// let manager = multiproc_manager::Manager::start()?;
    /// let d = manager.dict()?;
    /// d.insert("k", 1)?;
    /// assert_eq!(d.to_string(), "{'k': 1}");
    /// manager.shutdown()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Config`] when the server process cannot be started or cannot listen.
    pub fn start() -> Result<Manager, Error> {
        Manager::start_with::<()>(None)
    }

    /// [`start`](Self::start) with a given start method (`None`: the default) and the
    /// custom types of `S` (see [`Setup`] for a manager with custom types).
    ///
    /// ```
    /// use multiproc_manager::Manager;
    /// use multiproc_process::StartMethod;
    /// for method in [StartMethod::Fork, StartMethod::Spawn, StartMethod::ForkServer] {
    ///     let manager = Manager::start_with::<()>(Some(method))?;
    ///     let l = manager.list()?;
    ///     l.append(1)?;
    ///     assert_eq!(l.len()?, 1);
    ///     manager.shutdown()?;
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`start`](Self::start).
    pub fn start_with<S: Setup>(
        method: Option<multiproc_process::StartMethod>,
    ) -> Result<Manager, Error> {
        let address = private_address()?;
        let authkey = process_authkey();
        let wire = WireAddress::from_address(&address)
            .ok_or_else(|| Error::Config("unsupported address".into()))?;
        let (mine, theirs) =
            multiproc_ipc::Pipe::duplex().map_err(|e| Error::Config(e.to_string()))?;
        let mut builder =
            multiproc_process::Process::new(server_main::<S>, (wire, authkey.clone(), theirs))
                .name("SyncManager")
                .daemon(true);
        if let Some(m) = method {
            builder = builder.start_method(m);
        }
        let process = builder
            .start()
            .map_err(|e| Error::Config(format!("cannot start the manager process: {e}")))?;
        let stop = |process: ServerProcess| {
            let _ = process.kill();
            let _ = process.join_timeout(SHUTDOWN_GRACE);
        };
        match mine.recv_timeout::<Result<(), String>>(CONNECT_TIMEOUT) {
            Ok(Ok(())) => {}
            Ok(Err(why)) => {
                stop(process);
                return Err(Error::Config(format!("the manager process failed: {why}")));
            }
            Err(e) => {
                stop(process);
                return Err(Error::Config(format!(
                    "the manager process did not come up: {e}"
                )));
            }
        }
        let conn = match dial(&address, Some(&authkey)) {
            Ok(c) => c,
            Err(e) => {
                stop(process);
                return Err(e);
            }
        };
        Ok(Manager::with_client(
            conn,
            Some(address),
            Some(authkey),
            Owned::Process(std::sync::Mutex::new(Some(process))),
        ))
    }

    /// Asks the server to shut down; returns whether it acknowledged (or is gone
    /// already, which is as good).
    ///
    /// A server process of ours is given [`SHUTDOWN_GRACE`] to answer, on a helper
    /// thread: a frozen one (stopped, wedged) never would, and `reap_process` kills it
    /// instead. The helper's call ends when the killed server's connection closes.
    /// Other servers are waited for as any call is.
    fn ask_to_shut_down(&self) -> Result<Ack, Error> {
        let r = match &self.owned {
            Owned::Process(_) => {
                let client = self.client.clone();
                let (tx, rx) = std::sync::mpsc::channel();
                let asked = std::thread::Builder::new()
                    .name("manager-shutdown".into())
                    .spawn(move || {
                        let _ = tx.send(client.call(SERVER, Op::Server(ServerOp::Shutdown)));
                    });
                match asked.map(|_| rx.recv_timeout(SHUTDOWN_GRACE)) {
                    Ok(Ok(r)) => r,
                    // no answer in time, or no thread to wait with: the reaper kills it
                    Ok(Err(_)) | Err(_) => return Ok(Ack::No),
                }
            }
            _ => self.client.call(SERVER, Op::Server(ServerOp::Shutdown)),
        };
        match r {
            Ok(_) => Ok(Ack::Yes),
            // Already shutting down, crashed, or our connection was given up (call
            // timeout): the server may still run, and was not asked.
            Err(Error::ManagerGone(_)) => Ok(Ack::Unreached),
            Err(e) => Err(e),
        }
    }

    /// Reaps a server process of ours, waiting `grace` for it to exit before killing it.
    fn reap_process(&self, grace: Duration) {
        if let Owned::Process(p) = &self.owned {
            let taken = p
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take();
            if let Some(process) = taken {
                if !matches!(process.join_timeout(grace), Ok(true)) {
                    tracing::warn!("manager process did not exit in time; killing it");
                    let _ = process.kill();
                    let _ = process.join_timeout(SHUTDOWN_GRACE);
                }
            }
        }
    }

    fn with_client(
        conn: Connection,
        address: Option<Address>,
        authkey: Option<Vec<u8>>,
        owned: Owned,
    ) -> Manager {
        let origin = address
            .as_ref()
            .and_then(WireAddress::from_address)
            .map(|address| Origin {
                address,
                authkey: authkey.clone(),
            });
        Manager {
            client: Inner::new(conn, origin),
            owned,
            address,
            authkey,
        }
    }

    /// A manager client over an already connected [`Connection`] (for example one end of
    /// a [`Pipe`](multiproc_ipc::Pipe) whose other end a [`Server`] serves). Its proxies
    /// have no address and cannot be sent to other processes.
    ///
    /// ```
    /// use multiproc_manager::{Manager, Server};
    /// let server = Server::new(Default::default());
    /// let (a, b) = multiproc_ipc::Pipe::duplex()?;
    /// server.spawn_connection(a);
    /// let client = Manager::over(b);
    /// assert!(client.address().is_none()); // its proxies cannot travel to other processes
    /// assert_eq!(client.list_from([1, 2])?.len()?, 2);
    /// server.shutdown();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn over(conn: Connection) -> Manager {
        Manager::with_client(conn, None, None, Owned::None)
    }

    /// Connects to a manager served at `address` (CPython's `BaseManager(address,
    /// authkey).connect()`). With `authkey` `None`, the [`process_authkey`] is
    /// presented (as CPython's `authkey=None`), so a child connects to its parent's
    /// manager by address alone; over TCP a key must be given.
    ///
    /// # Errors
    /// [`Error::Connect`] (nobody there), [`Error::Auth`] (wrong key),
    /// [`Error::Config`] (TCP without a key).
    ///
    /// ```
    /// use multiproc_manager::Manager;
    /// let manager = Manager::in_thread()?;
    /// let address = manager.address().ok_or("no address")?.clone();
    /// let client = Manager::connect(address, manager.authkey())?;
    /// let d = manager.dict_of::<String, i64>()?;
    /// d.insert("a", 1)?;
    /// client.publish("d", &d)?;
    /// let seen: multiproc_manager::DictProxy<String, i64> = client.lookup("d")?;
    /// assert_eq!(seen.get_item("a")?, 1); // the same object, over another connection
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn connect(address: impl Into<Address>, authkey: Option<&[u8]>) -> Result<Manager, Error> {
        Manager::connect_timeout(address, authkey, CONNECT_TIMEOUT)
    }

    /// [`connect`](Self::connect), giving up after `timeout` (connection and
    /// handshake together) instead of [`CONNECT_TIMEOUT`]: a peer that accepts and
    /// then says nothing cannot hold the caller longer.
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_manager::{Address, Error, Manager};
    /// // a TCP listener that is not a manager: it accepts and stays silent
    /// let silent = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let addr = Address::Tcp(silent.local_addr()?);
    /// let r = Manager::connect_timeout(addr, Some(b"key"), Duration::from_millis(100));
    /// assert!(matches!(r, Err(Error::Connect(_) | Error::Auth(_))));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`connect`](Self::connect); a timeout is [`Error::Connect`] with
    /// `ErrorKind::TimedOut`.
    pub fn connect_timeout(
        address: impl Into<Address>,
        authkey: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<Manager, Error> {
        let address = address.into();
        let authkey = key_or_default(&address, authkey);
        let conn = dial_timeout(&address, authkey.as_deref(), timeout)?;
        Ok(Manager::with_client(
            conn,
            Some(address),
            authkey,
            Owned::None,
        ))
    }

    /// Starts a server on threads of this process, listening on an abstract Unix
    /// socket with the [`process_authkey`], and connects to it. Proxies can be
    /// passed to child processes. The server stops on [`shutdown`](Self::shutdown) or
    /// when this `Manager` is dropped.
    ///
    /// # Errors
    /// Binding the socket failed.
    ///
    /// ```
    /// let manager = multiproc_manager::Manager::in_thread()?;
    /// manager.ping()?;
    /// assert_eq!(manager.pid(), None); // no server process of its own
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn in_thread() -> Result<Manager, Error> {
        Manager::in_thread_with(Registry::new())
    }

    /// [`in_thread`](Self::in_thread) with custom types.
    ///
    /// # Errors
    /// Binding the socket failed.
    ///
    /// ```
    /// use multiproc_manager::{Manager, Registry};
    /// let manager = Manager::in_thread_with(Registry::new())?;
    /// let l = manager.list_of::<i64>()?;
    /// l.append(1)?;
    /// assert_eq!(l.len()?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn in_thread_with(registry: Registry) -> Result<Manager, Error> {
        Manager::serve_in_thread(private_address()?, None, registry)
    }

    /// Serves a manager at `address` on threads of this process (the server of
    /// CPython's remote-manager examples) and connects to it. TCP demands an authkey
    /// (`None` is refused there); elsewhere `None` is the [`process_authkey`].
    ///
    /// ```
    /// use multiproc_manager::{Address, Manager, Registry};
    /// let server = Manager::serve_in_thread(
    ///     Address::Tcp("127.0.0.1:0".parse()?),
    ///     Some(b"secret"),
    ///     Registry::new(),
    /// )?;
    /// let addr = server.address().cloned().ok_or("no address")?;
    /// let client = Manager::connect(addr, Some(b"secret"))?;
    /// client.ping()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Server::bind`].
    pub fn serve_in_thread(
        address: impl Into<Address>,
        authkey: Option<&[u8]>,
        registry: Registry,
    ) -> Result<Manager, Error> {
        let address = address.into();
        let authkey = key_or_default(&address, authkey);
        let listener = Server::bind(address, authkey.as_deref())?;
        let address = listener.address().clone();
        let server = Server::new(registry);
        let s2 = server.clone();
        let thread = std::thread::Builder::new()
            .name("manager-accept".into())
            .spawn(move || s2.serve_on(&listener))
            .map_err(Error::Connect)?;
        let conn = match dial(&address, authkey.as_deref()) {
            Ok(c) => c,
            Err(e) => {
                server.shutdown();
                let _ = thread.join();
                return Err(e);
            }
        };
        Ok(Manager::with_client(
            conn,
            Some(address),
            authkey,
            Owned::Thread {
                server,
                thread: Some(thread),
            },
        ))
    }

    /// The address clients connect to, if the server has one.
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// assert!(manager.address().is_some()); // a socket clients can connect to
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn address(&self) -> Option<&Address> {
        self.address.as_ref()
    }

    /// The server process's pid, for a manager started with [`start`](Self::start)
    /// (CPython's `manager._process.pid`); `None` for a connected or in-thread manager,
    /// or once it was shut down.
    ///
    /// ```
    /// let manager = multiproc_manager::Manager::start()?;
    /// assert!(manager.pid().is_some_and(|pid| pid != std::process::id()));
    /// manager.shutdown()?;
    /// assert_eq!(manager.pid(), None);
    /// # Ok::<(), multiproc_manager::Error>(())
    /// ```
    pub fn pid(&self) -> Option<u32> {
        match &self.owned {
            Owned::Process(p) => p
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .as_ref()
                .map(|process| process.pid()),
            _ => None,
        }
    }

    /// The authkey clients present, if any.
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let key = manager.authkey().ok_or("no authkey")?;
    /// assert!(!key.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn authkey(&self) -> Option<&[u8]> {
        self.authkey.as_deref()
    }

    /// Bounds how long a call through this manager, or through any proxy made from it
    /// in this process, waits for the server's reply (`None`, the default: for ever, as
    /// in CPython). An operation that itself waits up to `t` (`acquire(Some(t))`,
    /// `get_timeout(t)`, …) may take `t + timeout`; one that waits for ever by request
    /// (`acquire(None)`, `get()`, `wait()`) is not bounded. A server that misses the bound
    /// (frozen, overloaded, cut off) is treated as gone: that call fails with
    /// [`Error::CallTimeout`], the connection is closed (the server releases what this
    /// client held, as for any client that vanishes), and later calls fail with
    /// [`Error::ManagerGone`]; connect again to go on. A forked child's own connection
    /// gets the parent's setting; proxies sent to other processes do not carry it.
    ///
    /// ```
    /// use std::time::Duration;
    /// let manager = multiproc_manager::Manager::start()?;
    /// manager.set_call_timeout(Some(Duration::from_secs(5)));
    /// assert_eq!(manager.call_timeout(), Some(Duration::from_secs(5)));
    /// let d = manager.dict_of::<String, u64>()?;
    /// d.insert("k", 1u64)?;
    /// assert_eq!(d.get_item("k")?, 1);
    /// manager.shutdown()?;
    /// # Ok::<(), multiproc_manager::Error>(())
    /// ```
    pub fn set_call_timeout(&self, timeout: Option<Duration>) {
        self.client.set_call_timeout(timeout);
    }

    /// The bound set with [`set_call_timeout`](Self::set_call_timeout).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// assert_eq!(manager.call_timeout(), None); // unbounded by default
    /// manager.set_call_timeout(Some(Duration::from_secs(60)));
    /// assert_eq!(manager.call_timeout(), Some(Duration::from_secs(60)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn call_timeout(&self) -> Option<Duration> {
        self.client.call_timeout()
    }

    /// Round trip to the server (checks it is alive).
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// manager.ping()?;
    /// manager.shutdown()?;
    /// assert!(manager.ping().is_err()); // ManagerGone
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn ping(&self) -> Result<(), Error> {
        self.client
            .call(SERVER, Op::Server(ServerOp::Ping))
            .map(drop)
    }

    /// Stops the server (any client may ask, as in CPython): every client's pending and
    /// later calls fail with [`Error::ManagerGone`]. Returns once the server
    /// acknowledged, or at once if it is already gone; a server process started by
    /// this manager is then reaped, and one that does not acknowledge within a few
    /// seconds (frozen, say) is killed and reaped.
    ///
    /// # Errors
    /// None in practice; a server already gone is not an error.
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let d = manager.dict()?;
    /// manager.shutdown()?;
    /// assert!(d.len().is_err()); // ManagerGone
    /// manager.shutdown()?; // already gone: not an error
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn shutdown(&self) -> Result<(), Error> {
        let ack = self.ask_to_shut_down()?;
        if let Owned::Thread { server, .. } = &self.owned {
            server.shutdown();
        }
        self.reap_process(ack.grace());
        Ok(())
    }

    /// Blocks until the server has ended — shut down by any client (CPython's
    /// `manager.join()` for a started manager, and the foreground of
    /// `get_server().serve_forever()` for one served on threads, which here keeps a
    /// client handle too). See [`wait_timeout`](Self::wait_timeout).
    ///
    /// # Errors
    /// As [`wait_timeout`](Self::wait_timeout).
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// manager.shutdown()?;
    /// manager.wait()?; // the server has ended: returns at once
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait(&self) -> Result<(), Error> {
        while !self.wait_timeout(Duration::from_secs(3600))? {}
        Ok(())
    }

    /// Waits at most `timeout` for the server to end; returns whether it has. A server
    /// started by this manager is watched directly: on threads, until it was shut down;
    /// in a child process, until that process exited (and it is reaped). For a
    /// [`connect`](Self::connect)ed manager the server is asked whether it is alive
    /// every few tens of milliseconds, until it is gone.
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_manager::{Address, Manager, Registry};
    /// let server = Manager::serve_in_thread(
    ///     Address::Tcp("127.0.0.1:0".parse()?),
    ///     Some(b"secret"),
    ///     Registry::new(),
    /// )?;
    /// assert!(!server.wait_timeout(Duration::from_millis(10))?); // still serving
    /// // elsewhere, a client ends it
    /// let addr = server.address().cloned().ok_or("no address")?;
    /// Manager::connect(addr, Some(b"secret"))?.shutdown()?;
    /// assert!(server.wait_timeout(Duration::from_secs(60))?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Config`] when waiting for the server process failed; for a connected
    /// manager, what its liveness check returned other than
    /// [`Error::ManagerGone`] (which means the server ended).
    pub fn wait_timeout(&self, timeout: Duration) -> Result<bool, Error> {
        const SLICE: Duration = Duration::from_millis(50);
        let deadline = std::time::Instant::now().checked_add(timeout);
        let left = || match deadline {
            Some(d) => d.saturating_duration_since(std::time::Instant::now()),
            None => SLICE,
        };
        match &self.owned {
            Owned::Thread { server, .. } => Ok(server.wait_closed(Some(timeout))),
            Owned::Process(p) => loop {
                {
                    let slot = p.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    let Some(process) = slot.as_ref() else {
                        return Ok(true);
                    };
                    // In slices, so that `shutdown()` from another thread is not held up.
                    if process
                        .join_timeout(left().min(SLICE))
                        .map_err(|e| Error::Config(format!("waiting for the server: {e}")))?
                    {
                        return Ok(true);
                    }
                }
                if left().is_zero() {
                    return Ok(false);
                }
            },
            Owned::None => loop {
                match self.ping() {
                    Ok(()) => {}
                    Err(Error::ManagerGone(_)) => return Ok(true),
                    Err(e) => return Err(e),
                }
                let l = left();
                if l.is_zero() {
                    return Ok(false);
                }
                std::thread::sleep(l.min(SLICE));
            },
        }
    }

    /// Publishes `value` (typically a proxy) under `name` on the server, for clients that
    /// connect by address to find with [`lookup`](Self::lookup) — CPython's
    /// `register('get_queue', callable=lambda: queue)` pattern.
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let q = manager.queue_of::<i64>()?;
    /// manager.publish("jobs", &q)?;
    /// let other = multiproc_manager::Manager::connect(manager.address().cloned().unwrap(), manager.authkey())?;
    /// let q2: multiproc_manager::QueueProxy<i64> = other.lookup("jobs")?;
    /// q2.put(5)?;
    /// assert_eq!(q.get()?, 5);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    pub fn publish(&self, name: &str, value: impl Into<Value>) -> Result<(), Error> {
        self.client
            .call(
                SERVER,
                Op::Server(ServerOp::SetName(name.to_owned(), value.into())),
            )
            .map(drop)
    }

    /// What was [`publish`](Self::publish)ed under `name`, as a `T` (a proxy type, or any
    /// [`FromValue`] type).
    ///
    /// # Errors
    /// `KeyError` when nothing is published under `name`, [`Error::Type`] when it is not
    /// a `T`, [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let q = manager.queue_of::<i64>()?;
    /// manager.publish("jobs", &q)?;
    /// let same: multiproc_manager::QueueProxy<i64> = manager.lookup("jobs")?;
    /// same.put(1)?;
    /// assert_eq!(q.get()?, 1);
    /// assert!(manager.lookup::<i64>("nobody").is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn lookup<T: FromValue>(&self, name: &str) -> Result<T, Error> {
        let v = self
            .client
            .call(SERVER, Op::Server(ServerOp::GetName(name.to_owned())))?;
        crate::client::convert(&self.client, v)
    }

    /// Converts a [`Value`] read through an untyped proxy into a typed value of this
    /// manager — in particular a [`Value::Proxy`] (a reference to another shared
    /// object, as `l[0]` of a list of lists is in CPython) into the proxy type it
    /// refers to.
    ///
    /// ```
    /// use multiproc_manager::{ListProxy, Manager};
    /// let manager = Manager::in_thread()?;
    /// let inner: ListProxy<i64> = manager.list_of()?;
    /// let outer = manager.list()?; // holds any Value
    /// outer.append(&inner)?;
    /// inner.append(7)?;
    /// let again: ListProxy<i64> = manager.convert(outer.get(0)?)?;
    /// assert_eq!(again.to_vec()?, [7]);
    /// # Ok::<(), multiproc_manager::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Type`] when the value is not a `T` (a proxy of another kind, say).
    pub fn convert<T: FromValue>(&self, v: Value) -> Result<T, Error> {
        crate::client::convert(&self.client, v)
    }

    fn create_obj(&self, c: Create) -> Result<Handle, Error> {
        let v = self.client.call(SERVER, Op::Server(ServerOp::Create(c)))?;
        let r = ObjRef::from_value(v)?;
        Ok(Handle {
            client: self.client.clone(),
            id: r.id,
            kind: r.kind,
        })
    }

    /// `manager.dict()`: an empty dict holding any [`Value`]s.
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let d = manager.dict()?; // holds any `Value`s
    /// d.insert("a", 1)?;
    /// d.insert(2, "b")?;
    /// assert_eq!(d.len()?, 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn dict(&self) -> Result<DictProxy, Error> {
        self.dict_of()
    }

    /// An empty dict read back as `K` keys and `V` values (`dict::<String, u64>()` in
    /// the issue's words).
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let d = manager.dict_of::<String, u64>()?;
    /// d.insert("a", 1u64)?;
    /// assert_eq!(d.get_item("a")?, 1);
    /// // Someone stores a string under "b" through an untyped proxy…
    /// let raw = manager.dict_from([("b", "oops")])?;
    /// let typed: multiproc_manager::DictProxy<String, u64> = manager.dict_of()?;
    /// # let _ = (raw, typed);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    pub fn dict_of<K, V>(&self) -> Result<DictProxy<K, V>, Error> {
        self.create_obj(Create::Dict(Vec::new()))
            .map(DictProxy::from_handle)
    }

    /// `manager.dict(pairs)`.
    ///
    /// # Errors
    /// `TypeError` for an unhashable key, [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let d = manager.dict_from([("a", 1), ("b", 2)])?;
    /// assert_eq!(d.len()?, 2);
    /// assert_eq!(d.get_item("b")?, 2.into());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn dict_from<I, A, B>(&self, pairs: I) -> Result<DictProxy, Error>
    where
        I: IntoIterator<Item = (A, B)>,
        A: Into<Value>,
        B: Into<Value>,
    {
        let pairs = wire_pairs::<Value, Value, _, _>(pairs);
        self.create_obj(Create::Dict(pairs))
            .map(DictProxy::from_handle)
    }

    /// `manager.list()`: an empty list of any [`Value`]s.
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let l = manager.list()?; // holds any `Value`s
    /// l.append(1)?;
    /// l.append("two")?;
    /// assert_eq!(l.to_string(), "[1, 'two']");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn list(&self) -> Result<ListProxy, Error> {
        self.list_of()
    }

    /// An empty list read back as `T`s.
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let l = manager.list_of::<String>()?;
    /// l.append("a")?;
    /// assert_eq!(l.get(0)?, "a");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn list_of<T>(&self) -> Result<ListProxy<T>, Error> {
        self.create_obj(Create::List(Vec::new()))
            .map(ListProxy::from_handle)
    }

    /// `manager.list(items)`.
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let l = manager.list_from([1, 2, 3])?;
    /// assert_eq!(l.len()?, 3);
    /// assert_eq!(l.to_string(), "[1, 2, 3]");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn list_from<T: Into<Value>>(
        &self,
        items: impl IntoIterator<Item = T>,
    ) -> Result<ListProxy, Error> {
        self.create_obj(Create::List(wire_values::<Value, _>(items)))
            .map(ListProxy::from_handle)
    }

    /// `dict.fromkeys(keys, value)` as a managed dict: each key maps to a copy of `value`.
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let d = manager.dict_fromkeys(["a", "b"], 0)?;
    /// assert_eq!(d.to_string(), "{'a': 0, 'b': 0}");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// `TypeError` for an unhashable key, [`Error::ManagerGone`].
    pub fn dict_fromkeys<I, A>(&self, keys: I, value: impl Into<Value>) -> Result<DictProxy, Error>
    where
        I: IntoIterator<Item = A>,
        A: Into<Value>,
    {
        let value = value.into();
        self.dict_from(keys.into_iter().map(|k| (k.into(), value.clone())))
    }

    /// `manager.set()` (CPython 3.14): an empty set of any hashable [`Value`]s.
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let s = manager.set()?;
    /// s.add(1)?;
    /// s.add("1")?; // another value: another element
    /// assert_eq!(s.len()?, 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set(&self) -> Result<SetProxy, Error> {
        self.set_of()
    }

    /// An empty set read back as `T`s.
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let s = manager.set_of::<i64>()?;
    /// s.add(1)?;
    /// assert_eq!(s.pop()?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_of<T>(&self) -> Result<SetProxy<T>, Error> {
        self.create_obj(Create::Set(Vec::new()))
            .map(SetProxy::from_handle)
    }

    /// `manager.set(items)`: duplicates are dropped.
    ///
    /// # Errors
    /// `TypeError` for an unhashable item, [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let s = manager.set_from([1, 2, 2])?;
    /// assert_eq!(s.len()?, 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_from<T: Into<Value>>(
        &self,
        items: impl IntoIterator<Item = T>,
    ) -> Result<SetProxy, Error> {
        self.create_obj(Create::Set(wire_values::<Value, _>(items)))
            .map(SetProxy::from_handle)
    }

    /// `manager.Namespace()`.
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let ns = manager.namespace()?;
    /// ns.set("x", 1)?;
    /// assert_eq!(ns.get::<i64>("x")?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn namespace(&self) -> Result<NamespaceProxy, Error> {
        self.create_obj(Create::Namespace(Vec::new()))
            .map(NamespaceProxy::from_handle)
    }

    /// `manager.Lock()`.
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let lock = manager.lock()?;
    /// let g = lock.lock()?;
    /// assert!(lock.locked()?);
    /// drop(g);
    /// assert!(!lock.locked()?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn lock(&self) -> Result<LockProxy, Error> {
        self.create_obj(Create::Lock).map(LockProxy::from_handle)
    }

    /// `manager.RLock()`.
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let rlock = manager.rlock()?;
    /// let _a = rlock.lock()?;
    /// let _b = rlock.lock()?; // re-entrant: the holder may take it again
    /// assert!(rlock.locked()?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn rlock(&self) -> Result<LockProxy, Error> {
        self.create_obj(Create::RLock).map(LockProxy::from_handle)
    }

    /// `manager.Semaphore(value)`.
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    ///
    /// ```
    /// # use std::time::Duration;
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let sem = manager.semaphore(2)?;
    /// let _a = sem.permit()?;
    /// let _b = sem.permit()?;
    /// assert!(!sem.acquire(Some(Duration::ZERO))?); // no permit left
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn semaphore(&self, value: u64) -> Result<SemaphoreProxy, Error> {
        self.create_obj(Create::Semaphore(value))
            .map(SemaphoreProxy::from_handle)
    }

    /// `manager.BoundedSemaphore(value)`.
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let sem = manager.bounded_semaphore(1)?;
    /// assert!(sem.release().is_err()); // ValueError: above its initial value
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn bounded_semaphore(&self, value: u64) -> Result<SemaphoreProxy, Error> {
        self.create_obj(Create::BoundedSemaphore(value))
            .map(SemaphoreProxy::from_handle)
    }

    /// `manager.Condition()` (over its own re-entrant lock).
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let cond = manager.condition()?;
    /// let _g = cond.lock()?;
    /// cond.notify_all()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn condition(&self) -> Result<ConditionProxy, Error> {
        self.create_obj(Create::Condition)
            .map(ConditionProxy::from_handle)
    }

    /// `manager.Event()`.
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    ///
    /// ```
    /// # use std::time::Duration;
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let ev = manager.event()?;
    /// ev.set()?;
    /// assert!(ev.wait_timeout(Duration::from_secs(60))?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn event(&self) -> Result<EventProxy, Error> {
        self.create_obj(Create::Event).map(EventProxy::from_handle)
    }

    /// `manager.Barrier(parties)`.
    ///
    /// # Errors
    /// `ValueError` for zero parties, [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let b = manager.barrier(1)?;
    /// assert_eq!(b.wait()?, 0);
    /// assert!(manager.barrier(0).is_err()); // ValueError
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn barrier(&self, parties: u64) -> Result<BarrierProxy, Error> {
        self.create_obj(Create::Barrier(parties))
            .map(BarrierProxy::from_handle)
    }

    /// `manager.Queue()`: unbounded, any [`Value`]s.
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let q = manager.queue()?; // holds any `Value`s
    /// q.put("x")?;
    /// assert_eq!(q.get()?, "x".into());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn queue(&self) -> Result<QueueProxy, Error> {
        self.queue_of()
    }

    /// An unbounded queue of `T`s.
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let q = manager.queue_of::<i64>()?;
    /// q.put(7)?;
    /// assert_eq!(q.get()?, 7);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn queue_of<T>(&self) -> Result<QueueProxy<T>, Error> {
        self.create_obj(Create::Queue(None))
            .map(QueueProxy::from_handle)
    }

    /// `manager.Queue(maxsize)` of `T`s (0 = unbounded).
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let q = manager.bounded_queue::<i64>(1)?;
    /// q.put(1)?;
    /// assert_eq!(q.qsize()?, 1); // full: another `put` would wait
    /// assert_eq!(q.get()?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn bounded_queue<T>(&self, maxsize: u64) -> Result<QueueProxy<T>, Error> {
        self.create_obj(Create::Queue(Some(maxsize)))
            .map(QueueProxy::from_handle)
    }

    /// `manager.JoinableQueue()` of `T`s.
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let q = manager.joinable_queue::<i64>()?;
    /// q.put(1)?;
    /// assert_eq!(q.get()?, 1);
    /// q.task_done()?;
    /// q.join()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn joinable_queue<T>(&self) -> Result<QueueProxy<T>, Error> {
        self.create_obj(Create::JoinableQueue(None))
            .map(QueueProxy::from_handle)
    }

    /// `manager.Value(typecode, v)`: the type is `T` itself.
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let v = manager.value(0.5)?;
    /// v.set(1.5)?;
    /// assert_eq!(v.get()?, 1.5);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn value<T: Into<Value>>(&self, v: T) -> Result<ValueProxy<T>, Error> {
        self.create_obj(Create::Value(v.into()))
            .map(ValueProxy::from_handle)
    }

    /// `manager.Array(typecode, items)`: fixed length.
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    ///
    /// ```
    /// # let manager = multiproc_manager::Manager::in_thread()?;
    /// let a = manager.array([0_i64; 4])?;
    /// a.set(0, 1)?;
    /// assert_eq!(a.to_vec()?, [1, 0, 0, 0]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn array<T: Into<Value>>(
        &self,
        items: impl IntoIterator<Item = T>,
    ) -> Result<ArrayProxy<T>, Error> {
        self.create_obj(Create::Array(wire_values::<Value, _>(items)))
            .map(ArrayProxy::from_handle)
    }

    /// Creates an object of the registered custom type `S` with `args`
    /// (CPython's `manager.MyType(*args)` after `register('MyType', MyType)`).
    ///
    /// # Errors
    /// `UnknownType` when the server has no `S` registered, `S::new`'s error,
    /// [`Error::ManagerGone`].
    ///
    /// ```
    /// # use multiproc_manager::{Shared, Value, RemoteError, FromValue};
    /// # struct Counter(i64);
    /// # impl Shared for Counter {
    /// #     const TYPEID: &'static str = "Counter";
    /// #     fn new(a: Vec<Value>) -> Result<Self, RemoteError> {
    /// #         Ok(Counter(a.into_iter().next().map_or(Ok(0), i64::from_value).unwrap_or(0)))
    /// #     }
    /// #     fn call(&mut self, _: &str, _: Vec<Value>) -> Result<Value, RemoteError> { Ok(self.0.into()) }
    /// # }
    /// let mut registry = multiproc_manager::Registry::new();
    /// registry.register::<Counter>();
    /// let manager = multiproc_manager::Manager::in_thread_with(registry)?;
    /// let c = manager.create::<Counter>((41,))?; // `Counter::new` runs on the server with these
    /// assert_eq!(c.call::<i64>("get", ())?, 41);
    /// assert!(manager.create::<Counter>(()).is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn create<S: Shared>(&self, args: impl Args) -> Result<Proxy<S>, Error> {
        self.create_obj(Create::Custom {
            type_name: S::TYPEID.to_owned(),
            args: args.into_args(),
        })
        .map(Proxy::from_handle)
    }
}

impl Drop for Manager {
    fn drop(&mut self) {
        if let Owned::Process(_) = &self.owned {
            let ack = self.ask_to_shut_down().unwrap_or(Ack::No);
            self.reap_process(ack.grace());
        }
        if let Owned::Thread { server, thread } = &mut self.owned {
            server.shutdown();
            if let Some(t) = thread.take() {
                let _ = t.join();
            }
        }
    }
}
