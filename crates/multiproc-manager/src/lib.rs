//! Managers: a server process that holds shared objects, and proxies that use them from
//! any process or host (CPython's `multiprocessing.managers`), minus pickle.
//!
//! | item | what it is | CPython |
//! |---|---|---|
//! | [`Manager`] | connection to a server, factory of shared objects | `SyncManager` / `Manager()` |
//! | [`Value`] | dynamic value with Python's equality, hashing and `repr` | any picklable object |
//! | [`DictProxy`], [`ListProxy`], [`NamespaceProxy`] | shared containers | `DictProxy`, `ListProxy`, `NamespaceProxy` |
//! | [`LockProxy`], [`SemaphoreProxy`], [`ConditionProxy`], [`EventProxy`], [`BarrierProxy`] | synchronisation | `AcquirerProxy`, `ConditionProxy`, `EventProxy`, `BarrierProxy` |
//! | [`QueueProxy`], [`ValueProxy`], [`ArrayProxy`] | queue, value, array | `Queue`, `ValueProxy`, `ArrayProxy` |
//! | [`Shared`], [`Registry`], [`Proxy`] | custom types, typed method calls | `BaseManager.register` |
//! | [`Server`], [`serve`] | the server; serving over a Unix socket or TCP | `Server`, `serve_forever` |
//!
//! ```
//! use multiproc_manager::Manager;
//! let manager = Manager::in_thread()?;
//! let d = manager.dict()?;
//! d.insert(1, "1")?;
//! d.insert("2", 2)?;
//! d.insert(0.25, ())?;
//! assert_eq!(d.to_string(), "{1: '1', '2': 2, 0.25: None}");
//!
//! let l = manager.list_from(0..10)?;
//! l.reverse()?;
//! assert_eq!(l.to_string(), "[9, 8, 7, 6, 5, 4, 3, 2, 1, 0]");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Security: no code on the wire
//! CPython's managers pickle every request and reply, so anyone holding the authkey
//! (or any server a client connects to) can run arbitrary code in the other process
//! (CVE-2020-10796 was closed as "by design"). Here the wire carries postcard-encoded
//! data only: a request is one variant of a closed set of typed operations on objects
//! of a fixed set of kinds; custom types are reached by name and run only the code
//! compiled into the server's binary. That removes the unpickling remote-code-execution
//! class entirely. Further:
//! * serving over TCP demands an authkey ([`Error::Config`] otherwise); the handshake is
//!   CPython's HMAC challenge (sha256), run inside the listener so a silent client
//!   cannot stall the accept loop;
//! * requests are limited in size ([`DEFAULT_MAX_REQUEST`]); a larger frame closes that
//!   client's connection only;
//! * values in a request may nest [`DEFAULT_MAX_DEPTH`] levels (configurable with
//!   [`Limits`]); a deeper one is refused with
//!   [`RemoteErrorKind::TooDeep`], and no walk of a
//!   [`Value`] recurses, however deep it is;
//! * a server has a memory budget ([`DEFAULT_MEMORY_BUDGET`], see [`Limits`]): every
//!   operation that adds data is charged an upper bound of what it adds before it
//!   allocates (`l *= n` included) and refused with
//!   [`RemoteErrorKind::MemoryBudget`] past it;
//!   objects are capped in number, and so are client connections and the calls
//!   waiting on server threads, per client and in total
//!   ([`RemoteErrorKind::TooManyWaiting`]);
//! * every client is served on its own thread, and each waiting operation on a thread
//!   of its own: a slow, silent or hostile client cannot stall the others, and a
//!   malformed request is answered with an error, never a crash;
//! * the authkey travels inside serialized proxies (so a child can reconnect): it is
//!   visible to whoever sees those bytes. Unix sockets at a path are created `0o600`.
//!
//! # Proxies across processes
//! A proxy serializes as *(server address, authkey, object id)*. The receiving process
//! reconnects (one connection per server per process, shared by all its proxies and
//! threads, with request ids so calls from many threads are in flight at once). This
//! works under every start method and across hosts; after a `fork`, a proxy inherited
//! in memory notices that its connection belongs to the parent and opens its own.
//!
//! # Platform support
//! Linux (the transport is `multiproc-ipc`'s).
//!
//! # Limitations
//! * Objects live until [`destroy`](DictProxy::destroy)ed or the server stops; there
//!   is no distributed reference counting (CPython's incref/decref traffic). A long-lived
//!   server that creates objects without destroying them fills its memory budget, then
//!   refuses to create more.
//! * A value read through a proxy is a copy (`l.get(0)?` of a list of lists); mutate the
//!   server's copy through a proxy, or store nested proxies.
//! * Integers are `i128` (Python's are unbounded); sets, custom classes and other
//!   Python types have no [`Value`] form.
//! * `Condition` always uses its own re-entrant lock.
//! * A manager served on threads ([`Manager::in_thread`]) dies with its process. It
//!   listens on an abstract Unix socket (no file to leak, even on SIGKILL), reachable
//!   by anyone in the same network namespace who has its random 32-byte authkey.
#![doc(test(attr(deny(warnings))))]
#![forbid(unsafe_code)]

mod budget;
mod client;
mod custom;
mod deep;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod limits;
mod manager;
mod objects;
mod protocol;
mod proxy;
mod server;
mod value;

pub use custom::{Registry, Shared};
pub use deep::DEFAULT_MAX_DEPTH;
pub use error::{Error, RemoteError, RemoteErrorKind, TypeMismatch};
pub use limits::{
    DEFAULT_MAX_CLIENTS, DEFAULT_MAX_OBJECTS, DEFAULT_MAX_WAITING, DEFAULT_MAX_WAITING_PER_CLIENT,
    DEFAULT_MEMORY_BUDGET, Limits,
};
pub use manager::{CONNECT_TIMEOUT, Manager, Setup, random_authkey, serve};
pub use multiproc_ipc::Address;
pub use multiproc_process::StartMethod;
pub use proxy::{
    Args, ArrayProxy, BarrierProxy, ConditionProxy, DictProxy, EventProxy, ListProxy, LockGuard,
    LockProxy, NamespaceProxy, Proxy, QueueProxy, SemaphoreProxy, ValueProxy,
};
pub use server::{DEFAULT_MAX_REQUEST, Server};
pub use value::{FromValue, Kind, ObjRef, Value};

#[allow(dead_code)]
fn assert_send_sync() {
    fn is<T: Send + Sync>() {}
    is::<Manager>();
    is::<Server>();
    is::<Value>();
    is::<Error>();
    is::<DictProxy>();
    is::<DictProxy<String, u64>>();
    is::<ListProxy>();
    is::<NamespaceProxy>();
    is::<LockProxy>();
    is::<SemaphoreProxy>();
    is::<ConditionProxy>();
    is::<EventProxy>();
    is::<BarrierProxy>();
    is::<QueueProxy>();
    is::<ValueProxy>();
    is::<ArrayProxy>();
    is::<Registry>();
    is::<TypeMismatch>();
    is::<RemoteError>();
    is::<Limits>();
}
