//! Managers: a server process that holds shared objects, and proxies that use them from
//! any process or host (CPython's `multiprocessing.managers`), minus pickle.
//!
//! | item | what it is | CPython |
//! |---|---|---|
//! | [`Manager`] | connection to a server, factory of shared objects | `SyncManager` / `Manager()` |
//! | [`Value`] | dynamic value with Python's equality, hashing and `repr` | any picklable object |
//! | [`DictProxy`], [`ListProxy`], [`SetProxy`], [`NamespaceProxy`] | shared containers | `DictProxy`, `ListProxy`, `SetProxy` (3.14), `NamespaceProxy` |
//! | [`ListIter`], [`KeyIter`] | iteration over container proxies, in batches | `iter(proxy)` |
//! | [`LockProxy`], [`SemaphoreProxy`], [`ConditionProxy`], [`EventProxy`], [`BarrierProxy`] | synchronisation | `AcquirerProxy`, `ConditionProxy`, `EventProxy`, `BarrierProxy` |
//! | [`QueueProxy`], [`ValueProxy`], [`ArrayProxy`] | queue, value, array | `Queue`, `ValueProxy`, `ArrayProxy` |
//! | [`Shared`], [`Registry`], [`Proxy`] | custom types, typed method calls | `BaseManager.register` |
//! | [`manager_type`] (feature `macros`, on by default) | an `impl` block turned into a custom type with a typed proxy | `BaseManager.register(typeid, callable, exposed=…)` |
//! | [`Server`], [`serve`] | the server; serving over a Unix socket or TCP | `Server`, `serve_forever` |
//! | `aio` (feature `tokio`) | `AsyncManager` and async proxies (dict, list, namespace, value, queue, lock, event, any object), cancel safe | — |
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
//! # Talking to CPython
//! A manager speaks multiproc's own typed protocol, not CPython's: a Python program
//! cannot use a multiproc manager's objects through `BaseManager` proxies, and a
//! multiproc client cannot use a CPython manager. The authkey handshake is the same on
//! both sides, so a CPython `BaseManager(address, authkey).connect()` (or `m.dict()`,
//! `m.Queue()`, …) gets through it and sends a pickled call; the server answers it
//! with an error CPython's client reads — a `RemoteError` saying that this is a
//! multiproc manager and what to use instead — and closes that connection. Other
//! clients are not affected.
//!
//! What does work with a Python peer is one level down, in `multiproc_ipc`: its
//! `Listener` and `Client` interoperate with `multiprocessing.connection`'s (same
//! framing, same handshake), frames go both ways with `send_bytes`/`recv_bytes`, and
//! Python's `conn.send(obj)`/`conn.recv()` of plain data (`None`, numbers, `str`,
//! `bytes`, lists, tuples, dicts, sets) meet `send_pickle`/`recv_pickle`, multiproc's
//! data-only pickle codec (`multiproc_ipc::pickle`). Serve shared state to Python that
//! way: a Rust program holding a manager's proxies, answering requests over a
//! connection.
//!
//! # Containers: operators and iteration
//! Python's operators on proxies become named methods: each is a round trip that can
//! fail, and `std::ops::Add` cannot return a `Result`. The in-place forms change the
//! server's object; the others return a plain copy, as CPython's `l + x` returns a
//! `list`.
//!
//! | Python | here |
//! |---|---|
//! | `l + xs` / `l += xs` | [`ListProxy::concat`] / [`ListProxy::extend`] |
//! | `l * n` / `l *= n` | [`ListProxy::repeated`] / [`ListProxy::repeat`] |
//! | `d \| pairs` / `d \|= pairs` | [`DictProxy::union`] / [`DictProxy::update`] |
//! | `dict.fromkeys(keys, v)` | [`Manager::dict_fromkeys`] (a managed dict) |
//! | `list(reversed(d))`, `list(reversed(l))` | [`DictProxy::reversed`], [`ListProxy::reversed`] |
//! | `s \| t`, `s & t`, `s - t`, `s ^ t`, `s <= t`, `s == t` | [`SetProxy::union`], `intersection`, `difference`, `symmetric_difference`, `issubset`, `set_eq` |
//! | `for x in l`, `for k in d`, `for x in s` | [`ListProxy::iter`] (and `for x in &l`), [`DictProxy::iter`], [`SetProxy::iter`] |
//!
//! Iteration fetches [`ITER_BATCH`] items per round trip and reads the server's object
//! as it is when each batch is fetched: live, like CPython's iterators, at the grain of
//! a batch rather than of an item.
//! * A list iterator walks by position until it finds no more items (CPython's list
//!   proxy calls `__getitem__` until `IndexError`): items appended meanwhile are seen,
//!   an item changed after its batch was fetched is not.
//! * A dict or set iterator notes the size when it is made (CPython's `iter(d)` makes
//!   an iterator on the server); a batch fetched after the size changed ends the walk
//!   with the `RuntimeError` "dictionary changed size during iteration". Keys already
//!   fetched are still yielded (CPython checks at every step).
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
//!   Python types have no [`Value`] form (a managed set is a [`SetProxy`]; reading
//!   one gives a `Vec`).
//! * `Condition` always uses its own re-entrant lock.
//! * A client that ends normally (its last proxy dropped, or a multiproc child that
//!   returned or panicked) says goodbye, and its `Lock`s and semaphore permits stay
//!   held for another process to release, as in CPython; one that vanishes without a
//!   goodbye has them released, and the next acquirer gets [`AcquireError::OwnerDied`]. A
//!   process that leaves through `std::process::exit` with proxies alive (no
//!   destructors) counts as vanished. A thread still blocked in `acquire` when its
//!   process ends cleanly may be granted the lock just before the goodbye, which then
//!   stays held (CPython's server has the same window).
//! * A manager served on threads ([`Manager::in_thread`]) dies with its process. It
//!   listens on an abstract Unix socket (no file to leak, even on SIGKILL), reachable
//!   by anyone in the same network namespace who has its authkey.
//! * A manager given no authkey uses the [`process_authkey`] (CPython's
//!   `current_process().authkey`: 32 random bytes, inherited by children), and so does
//!   a [`Manager::connect`] given none; over TCP a key must still be given. A program
//!   that is not a child of the server's cannot connect without the key.
#![doc(test(attr(deny(warnings))))]
#![forbid(unsafe_code)]
#[cfg(not(target_os = "linux"))]
compile_error!("multiproc-manager requires Linux (pidfds, Unix sockets, descriptor passing)");

mod acquire;
#[cfg(feature = "tokio")]
pub mod aio;
mod budget;
mod client;

mod custom;
mod deep;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod handle;
mod kinds;
mod limits;
mod manager;
mod protocol;
mod proxy;
mod server;
mod sys;
#[doc(hidden)]
pub mod typed;
mod value;

pub use acquire::{AcquireError, OwnerDied};
pub use client::CONNECT_TIMEOUT;
pub use custom::{Registry, Shared};
pub use deep::DEFAULT_MAX_DEPTH;
pub use error::{Error, RemoteError, RemoteErrorKind, TypeMismatch};
pub use limits::{
    DEFAULT_MAX_CLIENTS, DEFAULT_MAX_OBJECTS, DEFAULT_MAX_REQUEST, DEFAULT_MAX_WAITING,
    DEFAULT_MAX_WAITING_PER_CLIENT, DEFAULT_MEMORY_BUDGET, Limits,
};
pub use manager::{Manager, Setup, process_authkey, random_authkey, serve};
pub use multiproc_ipc::Address;
#[cfg(feature = "macros")]
#[doc(hidden)]
pub use multiproc_macros::facade_manager_type as __facade_manager_type;
#[cfg(feature = "macros")]
pub use multiproc_macros::manager_type;
pub use multiproc_process::StartMethod;
pub use proxy::{
    Args, ArrayProxy, BarrierProxy, ConditionProxy, DictProxy, EventProxy, ITER_BATCH, KeyIter,
    ListIter, ListProxy, LockProxy, LockProxyGuard, NamespaceProxy, Proxy, QueueProxy,
    SemaphoreProxy, SetProxy, ValueProxy,
};
pub use server::Server;
pub use value::{FromValue, Kind, ObjRef, Value};

#[expect(dead_code, reason = "compile-time assertions, never called")]
fn assert_send_sync() {
    fn is<T: Send + Sync>() {}
    is::<Manager>();
    is::<Server>();
    is::<Value>();
    is::<Error>();
    is::<DictProxy>();
    is::<DictProxy<String, u64>>();
    is::<ListProxy>();
    is::<SetProxy>();
    is::<ListIter>();
    is::<KeyIter>();
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
    is::<OwnerDied<()>>();
    is::<LockProxyGuard>();
    is::<AcquireError<()>>();
    is::<Limits>();
}
