//! async/await on tokio (feature `tokio`): [`AsyncManager`] and async proxies.
//!
//! | item | what it is | blocking form |
//! |---|---|---|
//! | [`AsyncManager`] | a connection of its own to a manager's server, and a factory of async proxies | [`Manager`] |
//! | [`AsyncDictProxy`], [`AsyncListProxy`], [`AsyncSetProxy`], [`AsyncNamespaceProxy`], [`AsyncValueProxy`], [`AsyncArrayProxy`] | shared containers | [`DictProxy`](crate::DictProxy), … |
//! | [`AsyncQueueProxy`] (also bounded and joinable) | queues | [`QueueProxy`](crate::QueueProxy) |
//! | [`AsyncLockProxy`] (`Lock`, `RLock`), [`AsyncSemaphoreProxy`], [`AsyncConditionProxy`], [`AsyncEventProxy`], [`AsyncBarrierProxy`] | synchronisation | [`LockProxy`](crate::LockProxy), … |
//! | [`AsyncProxy`] | any object, by id: a custom type's methods ([`call`](AsyncProxy::call)), `repr`, `len` | [`Proxy`](crate::Proxy) |
//!
//! An `AsyncManager` dials its own connection (an
//! [`AsyncConnection`](multiproc_ipc::aio::AsyncConnection)) to the server of a
//! [`Manager`], or to any address, and multiplexes calls on it by the call ids the
//! protocol already has: many tasks may call at once; whichever is reading the
//! connection hands the others their replies.
//!
//! ```
//! use multiproc_manager::{Manager, aio::AsyncManager};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let manager = Manager::in_thread()?;
//! let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
//! rt.block_on(async {
//!     let m = AsyncManager::new(&manager).await?;
//!     let d = m.dict().await?;
//!     d.insert("a", 1).await?;
//!     assert_eq!(d.get_item("a").await?, 1.into());
//!     let q = m.queue_of::<i64>().await?;
//!     q.put(7).await?;
//!     assert_eq!(q.get().await?, 7);
//!     Ok(())
//! })
//! # }
//! ```
//!
//! # Cancel safety
//! A call future may be dropped at any await point. Its request then either never went
//! out, or went out whole (see `AsyncConnection::send`); in the second case the server
//! runs it and its reply comes back later. Nothing waits for that reply, so it is
//! settled by whichever call reads it next, by what the call was:
//! * most replies are **discarded** (the call may or may not have taken effect, as
//!   with a request whose connection broke);
//! * an item of a cancelled [`AsyncQueueProxy::get`] is **kept** in this
//!   `AsyncManager` and handed to the next `get` of that queue through it (so the
//!   queue loses no item; it is taken from the server, and the next getter here has it);
//! * a lock that a cancelled [`AsyncLockProxy::acquire`] or
//!   [`AsyncConditionProxy::acquire`] obtained is **released**, and a permit a cancelled
//!   [`AsyncSemaphoreProxy::acquire`] obtained is **given back** (a release request is
//!   queued and sent before the next call's request);
//! * a cancelled [`AsyncConditionProxy::wait`] **gives the lock up** (the server
//!   re-acquires it when the wait ends there, and that is released; a wait cut before
//!   its request went out releases the lock it held), so after a dropped wait the
//!   owner does not hold the lock;
//! * a cancelled [`AsyncBarrierProxy::wait`] whose request went out has arrived at the
//!   barrier (its index is discarded).
//!
//! A call cut after its reply was read but before it returned (while releases owed
//! by others go out) is settled the same way.
//!
//! The connection never desynchronises: frames are never cut (the ipc layer finishes
//! a frame whose send was dropped part-way), and replies are matched by id. So
//! [`tokio::time::timeout`] bounds any call; the `_timeout` forms of waiting
//! operations bound the wait on the server instead, which is cheaper.
//!
//! # Lock ownership
//! A server lock belongs to a *(connection, owner)* pair. Blocking proxies use the
//! calling thread as the owner; tokio moves tasks between threads, so here the owner
//! is the [`AsyncLockProxy`] value (and its clones): acquire and release through the
//! same proxy, from any task or thread.
//!
//! # Dropping the manager
//! The connection closes when the `AsyncManager` and all its proxies are dropped. The
//! server takes that as a client that vanished: what it held is released (a lock
//! acquired through it and not released is given back, and its next acquirer told
//! [`Error::OwnerDied`]); objects it made stay on the server until destroyed or shut down.

use std::fmt;
use std::sync::Arc;

use multiproc_ipc::aio::AsyncClient;
use multiproc_ipc::{Address, ClientError};

use crate::error::{Error, TypeMismatch};
use crate::manager::{CONNECT_TIMEOUT, Manager};
use crate::protocol::{Create, Op, SERVER, ServerOp};
use crate::proxy::{wire_pairs, wire_values};
use crate::value::{Kind, ObjRef, Value};

mod call;
mod containers;
mod proxy;
mod queue;
mod sync;

use call::{Inner, Settle};
pub use containers::{
    AsyncArrayProxy, AsyncDictProxy, AsyncListProxy, AsyncNamespaceProxy, AsyncSetProxy,
    AsyncValueProxy,
};
pub use proxy::AsyncProxy;
pub use queue::AsyncQueueProxy;
pub use sync::{
    AsyncBarrierProxy, AsyncConditionProxy, AsyncEventProxy, AsyncLockProxy, AsyncSemaphoreProxy,
};

/// A connection to a manager's server, awaitable on tokio, and the factory of async
/// proxies; cheap to clone (the clones share the connection).
///
/// ```
/// use multiproc_manager::{Manager, aio::AsyncManager};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let manager = Manager::in_thread()?;
/// let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
/// rt.block_on(async {
///     let m = AsyncManager::new(&manager).await?;
///     let counter = m.value(0i64).await?;
///     let lock = m.lock().await?;
///     let mut tasks = Vec::new();
///     for _ in 0..4 {
///         let (counter, lock) = (counter.clone(), lock.clone());
///         tasks.push(tokio::spawn(async move {
///             lock.acquire(None).await?;
///             let v = counter.get().await?;
///             counter.set(v + 1).await?;
///             lock.release().await
///         }));
///     }
///     for t in tasks {
///         t.await??;
///     }
///     assert_eq!(counter.get().await?, 4);
///     Ok(())
/// })
/// # }
/// ```
#[derive(Clone)]
pub struct AsyncManager {
    inner: Arc<Inner>,
}

impl fmt::Debug for AsyncManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncManager")
            .field("connection", &self.inner.conn)
            .finish_non_exhaustive()
    }
}

impl AsyncManager {
    /// Dials a connection of its own to `manager`'s server (its address and authkey).
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// assert_eq!(m.dict().await?.len().await?, 0); // a connection of its own to the server
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::Config`] for a manager reached over an anonymous pipe (it has no
    /// address); as [`connect`](Self::connect) otherwise.
    pub async fn new(manager: &Manager) -> Result<AsyncManager, Error> {
        let address = manager.address().ok_or_else(|| {
            Error::Config("this manager has no address to connect to (an anonymous pipe)".into())
        })?;
        Self::connect(address, manager.authkey()).await
    }

    /// Connects to a manager's server at `address` (the async form of
    /// [`Manager::connect`]), within [`CONNECT_TIMEOUT`].
    ///
    /// ```
    /// use multiproc_manager::{Address, Error, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let nobody = Address::unix(std::env::temp_dir().join(format!("mp-doc-am-{}", std::process::id())));
    /// assert!(matches!(AsyncManager::connect(&nobody, Some(b"k")).await, Err(Error::Connect(_))));
    /// # Ok(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::Connect`], [`Error::Auth`], [`Error::Config`] (TCP without an authkey).
    pub async fn connect(
        address: impl Into<Address>,
        authkey: Option<&[u8]>,
    ) -> Result<AsyncManager, Error> {
        let address = address.into();
        let mut b = multiproc_ipc::Client::builder().timeout(CONNECT_TIMEOUT);
        if let Some(k) = authkey {
            b = b.authkey(k);
        }
        let conn = AsyncClient::connect_with(&b, &address)
            .await
            .map_err(|e| match e {
                ClientError::Handshake(h) => Error::Auth(h.to_string()),
                ClientError::UnauthenticatedTcp => {
                    Error::Config("a tcp manager needs an authkey".into())
                }
                ClientError::Connect { source, .. } => Error::Connect(source),
                ClientError::Timeout => Error::Connect(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("connecting to {address} timed out"),
                )),
                other => Error::Connect(std::io::Error::other(other.to_string())),
            })?;
        conn.get_ref()
            .set_max_depth(crate::client::REPLY_SERDE_DEPTH);
        Ok(AsyncManager {
            inner: Arc::new(Inner::new(conn)),
        })
    }

    /// Checks that the server answers.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// m.ping().await?;
    /// assert!(m.clone().ping().await.is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    pub async fn ping(&self) -> Result<(), Error> {
        self.call(SERVER, 0, Op::Server(ServerOp::Ping), Settle::Discard)
            .await
            .map(drop)
    }

    async fn create(&self, c: Create) -> Result<ObjRef, Error> {
        let v = self
            .call(SERVER, 0, Op::Server(ServerOp::Create(c)), Settle::Discard)
            .await?;
        match &v {
            Value::Proxy(r) => Ok(r.clone()),
            other => Err(Error::Type(TypeMismatch::found("a proxy", other))),
        }
    }

    /// Creates an object on the server and wraps its proxy (`wrap` makes the typed one).
    async fn make<P>(&self, c: Create, wrap: fn(AsyncProxy) -> P) -> Result<P, Error> {
        let r = self.create(c).await?;
        Ok(wrap(AsyncProxy {
            m: self.clone(),
            id: r.id,
            kind: r.kind,
        }))
    }

    /// A proxy to an existing object of this server by id, such as a blocking proxy's
    /// ([`DictProxy::id`](crate::DictProxy::id)).
    ///
    /// ```
    /// use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let manager = Manager::in_thread()?;
    /// let l = manager.list_from([1, 2, 3])?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let p = m.proxy(l.id());
    /// assert_eq!(p.len().await?, 3);
    /// assert_eq!(p.repr().await?, "[1, 2, 3]");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    pub fn proxy(&self, id: u64) -> AsyncProxy {
        AsyncProxy {
            m: self.clone(),
            id,
            kind: Kind::Custom(String::new()),
        }
    }

    /// An async proxy to an existing lock of this server by id, such as a blocking
    /// [`LockProxy`](crate::LockProxy)'s, with an owner of its own.
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let manager = Manager::in_thread()?;
    /// let held = manager.lock()?;
    /// held.acquire(None)?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let lock = m.lock_at(held.id());
    /// assert!(!lock.acquire(Some(Duration::ZERO)).await?);
    /// held.release()?;
    /// assert!(lock.acquire(Some(Duration::ZERO)).await?);
    /// lock.release().await?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    pub fn lock_at(&self, id: u64) -> AsyncLockProxy {
        AsyncLockProxy::wrap(self.proxy(id))
    }

    /// `manager.dict()`: an empty dict of [`Value`]s.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # use multiproc_manager::Value;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let d = m.dict().await?;
    /// d.insert("k", 1).await?;
    /// assert_eq!(d.get_item("k").await?, Value::from(1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::ManagerGone`], or the server refused ([`Error::Remote`]).
    pub async fn dict(&self) -> Result<AsyncDictProxy, Error> {
        self.dict_of().await
    }

    /// An empty dict read back as `K` keys and `V` values.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let d = m.dict_of::<String, i64>().await?;
    /// d.insert("a", 1).await?;
    /// assert_eq!(d.items().await?, [("a".to_string(), 1)]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`dict`](Self::dict).
    pub async fn dict_of<K, V>(&self) -> Result<AsyncDictProxy<K, V>, Error> {
        self.make(Create::Dict(Vec::new()), AsyncDictProxy::wrap)
            .await
    }

    /// `manager.list()`: an empty list of [`Value`]s.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # use multiproc_manager::Value;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let l = m.list().await?;
    /// l.append("x").await?;
    /// l.append(2).await?;
    /// assert_eq!(l.to_vec().await?, [Value::from("x"), Value::from(2)]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`dict`](Self::dict).
    pub async fn list(&self) -> Result<AsyncListProxy, Error> {
        self.list_of().await
    }

    /// An empty list read back as `T`.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let l = m.list_of::<i64>().await?;
    /// l.extend([1, 2]).await?;
    /// assert_eq!(l.to_vec().await?, [1, 2]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`dict`](Self::dict).
    pub async fn list_of<T>(&self) -> Result<AsyncListProxy<T>, Error> {
        self.make(Create::List(Vec::new()), AsyncListProxy::wrap)
            .await
    }

    /// `manager.Namespace()`.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let ns = m.namespace().await?;
    /// ns.set("x", 1).await?;
    /// assert_eq!(ns.get::<i64>("x").await?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`dict`](Self::dict).
    pub async fn namespace(&self) -> Result<AsyncNamespaceProxy, Error> {
        self.make(Create::Namespace(Vec::new()), AsyncNamespaceProxy::wrap)
            .await
    }

    /// `manager.Value(v)`.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let v = m.value(7i64).await?;
    /// assert_eq!(v.get().await?, 7);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`dict`](Self::dict).
    pub async fn value<T: Into<Value>>(&self, v: T) -> Result<AsyncValueProxy<T>, Error> {
        self.make(Create::Value(v.into()), AsyncValueProxy::wrap)
            .await
    }

    /// `manager.Queue()` of [`Value`]s.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # use multiproc_manager::Value;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let q = m.queue().await?;
    /// q.put("x").await?;
    /// assert_eq!(q.qsize().await?, 1);
    /// assert_eq!(q.get().await?, Value::from("x"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`dict`](Self::dict).
    pub async fn queue(&self) -> Result<AsyncQueueProxy, Error> {
        self.queue_of().await
    }

    /// `manager.Queue()` read back as `T`.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let q = m.queue_of::<i64>().await?;
    /// q.put(1).await?;
    /// assert_eq!(q.get().await?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`dict`](Self::dict).
    pub async fn queue_of<T>(&self) -> Result<AsyncQueueProxy<T>, Error> {
        self.make(Create::Queue(None), AsyncQueueProxy::wrap).await
    }

    /// `manager.Lock()`.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let lock = m.lock().await?;
    /// assert!(lock.acquire(None).await?);
    /// assert!(lock.locked().await?);
    /// lock.release().await?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`dict`](Self::dict).
    pub async fn lock(&self) -> Result<AsyncLockProxy, Error> {
        self.make(Create::Lock, AsyncLockProxy::wrap).await
    }

    /// `manager.Event()`.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let ev = m.event().await?;
    /// assert!(!ev.is_set().await?);
    /// ev.set().await?;
    /// assert!(ev.is_set().await?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`dict`](Self::dict).
    pub async fn event(&self) -> Result<AsyncEventProxy, Error> {
        self.make(Create::Event, AsyncEventProxy::wrap).await
    }

    /// `manager.dict(pairs)`.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # use multiproc_manager::Value;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let d = m.dict_from([("a", 1i64), ("b", 2)]).await?;
    /// assert_eq!(d.len().await?, 2);
    /// assert_eq!(d.get("b").await?, Some(Value::from(2i64)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// `TypeError` for an unhashable key, as [`dict`](Self::dict).
    pub async fn dict_from<I, A, B>(&self, pairs: I) -> Result<AsyncDictProxy, Error>
    where
        I: IntoIterator<Item = (A, B)>,
        A: Into<Value>,
        B: Into<Value>,
    {
        let pairs = wire_pairs::<Value, Value, _, _>(pairs);
        self.make(Create::Dict(pairs), AsyncDictProxy::wrap).await
    }

    /// `manager.list(items)`.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # use multiproc_manager::Value;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let l = m.list_from([1i64, 2, 3]).await?;
    /// assert_eq!(l.len().await?, 3);
    /// assert_eq!(l.get(-1).await?, Value::from(3i64));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`dict`](Self::dict).
    pub async fn list_from<T: Into<Value>>(
        &self,
        items: impl IntoIterator<Item = T>,
    ) -> Result<AsyncListProxy, Error> {
        self.make(
            Create::List(wire_values::<Value, _>(items)),
            AsyncListProxy::wrap,
        )
        .await
    }

    /// `manager.set()` (CPython 3.14): an empty set of [`Value`]s.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # use multiproc_manager::Value;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let s = m.set().await?;
    /// assert!(s.is_empty().await?);
    /// s.add("x").await?;
    /// assert!(s.contains("x").await?);
    /// assert_eq!(s.to_vec().await?, [Value::from("x")]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`dict`](Self::dict).
    pub async fn set(&self) -> Result<AsyncSetProxy, Error> {
        self.set_of().await
    }

    /// An empty set read back as `T`s.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let s = m.set_of::<i64>().await?;
    /// s.add(1).await?;
    /// assert_eq!(s.to_vec().await?, [1]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`dict`](Self::dict).
    pub async fn set_of<T>(&self) -> Result<AsyncSetProxy<T>, Error> {
        self.make(Create::Set(Vec::new()), AsyncSetProxy::wrap)
            .await
    }

    /// `manager.set(items)`: duplicates are dropped.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let s = m.set_from([1i64, 1, 2]).await?;
    /// assert_eq!(s.len().await?, 2); // the duplicate dropped
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// `TypeError` for an unhashable item, as [`dict`](Self::dict).
    pub async fn set_from<T: Into<Value>>(
        &self,
        items: impl IntoIterator<Item = T>,
    ) -> Result<AsyncSetProxy, Error> {
        self.make(
            Create::Set(wire_values::<Value, _>(items)),
            AsyncSetProxy::wrap,
        )
        .await
    }

    /// `manager.Queue(maxsize)` of `T`s (0 = unbounded): a `put` waits (on the server)
    /// while it is full.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # use std::time::Duration;
    /// # use multiproc_manager::RemoteErrorKind;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let q = m.bounded_queue::<i64>(1).await?;
    /// q.put(1).await?;
    /// let err = q.put_timeout(2, Duration::from_millis(10)).await.unwrap_err();
    /// assert_eq!(err.remote_kind(), Some(RemoteErrorKind::Full));
    /// assert_eq!(q.get().await?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`dict`](Self::dict).
    pub async fn bounded_queue<T>(&self, maxsize: u64) -> Result<AsyncQueueProxy<T>, Error> {
        self.make(Create::Queue(Some(maxsize)), AsyncQueueProxy::wrap)
            .await
    }

    /// `manager.JoinableQueue()` of `T`s ([`task_done`](AsyncQueueProxy::task_done),
    /// [`join`](AsyncQueueProxy::join)).
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # use std::time::Duration;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let q = m.joinable_queue::<i64>().await?;
    /// q.put(1).await?;
    /// assert_eq!(q.get().await?, 1);
    /// q.task_done().await?;
    /// assert!(q.join_timeout(Duration::from_secs(60)).await?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`dict`](Self::dict).
    pub async fn joinable_queue<T>(&self) -> Result<AsyncQueueProxy<T>, Error> {
        self.make(Create::JoinableQueue(None), AsyncQueueProxy::wrap)
            .await
    }

    /// `manager.RLock()`: an [`AsyncLockProxy`] re-entrant for its owner (this proxy
    /// value and its clones).
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # use std::time::Duration;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let lock = m.rlock().await?;
    /// assert!(lock.acquire(None).await?);
    /// assert!(lock.acquire(Some(Duration::ZERO)).await?); // re-entrant
    /// lock.release().await?;
    /// lock.release().await?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`dict`](Self::dict).
    pub async fn rlock(&self) -> Result<AsyncLockProxy, Error> {
        self.make(Create::RLock, AsyncLockProxy::wrap).await
    }

    /// `manager.Semaphore(value)`.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let sem = m.semaphore(3).await?;
    /// assert_eq!(sem.value().await?, 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`dict`](Self::dict).
    pub async fn semaphore(&self, value: u64) -> Result<AsyncSemaphoreProxy, Error> {
        self.make(Create::Semaphore(value), AsyncSemaphoreProxy::wrap)
            .await
    }

    /// `manager.BoundedSemaphore(value)`: releasing above `value` is a `ValueError`.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # use multiproc_manager::RemoteErrorKind;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let sem = m.bounded_semaphore(1).await?;
    /// assert!(sem.acquire(None).await?);
    /// sem.release().await?;
    /// let err = sem.release().await.unwrap_err();
    /// assert_eq!(err.remote_kind(), Some(RemoteErrorKind::ValueError));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`dict`](Self::dict).
    pub async fn bounded_semaphore(&self, value: u64) -> Result<AsyncSemaphoreProxy, Error> {
        self.make(Create::BoundedSemaphore(value), AsyncSemaphoreProxy::wrap)
            .await
    }

    /// `manager.Condition()` (over its own re-entrant lock).
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let cond = m.condition().await?;
    /// assert!(cond.acquire(None).await?);
    /// cond.notify_all().await?; // nobody waits
    /// cond.release().await?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`dict`](Self::dict).
    pub async fn condition(&self) -> Result<AsyncConditionProxy, Error> {
        self.make(Create::Condition, AsyncConditionProxy::wrap)
            .await
    }

    /// `manager.Barrier(parties)`.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let b = m.barrier(1).await?;
    /// assert_eq!(b.parties().await?, 1);
    /// assert_eq!(b.wait().await?, 0); // the only party passes at once
    /// assert!(m.barrier(0).await.is_err()); // ValueError
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// `ValueError` for zero parties, as [`dict`](Self::dict).
    pub async fn barrier(&self, parties: u64) -> Result<AsyncBarrierProxy, Error> {
        self.make(Create::Barrier(parties), AsyncBarrierProxy::wrap)
            .await
    }

    /// `manager.Array(typecode, items)`: fixed length.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let a = m.array([1.5f64, 2.5]).await?;
    /// assert_eq!(a.len().await?, 2);
    /// assert_eq!(a.get(0).await?, 1.5);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`dict`](Self::dict).
    pub async fn array<T: Into<Value>>(
        &self,
        items: impl IntoIterator<Item = T>,
    ) -> Result<AsyncArrayProxy<T>, Error> {
        self.make(
            Create::Array(wire_values::<Value, _>(items)),
            AsyncArrayProxy::wrap,
        )
        .await
    }

    /// An async proxy to an existing semaphore of this server by id, such as a
    /// blocking [`SemaphoreProxy`](crate::SemaphoreProxy)'s.
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let manager = Manager::in_thread()?;
    /// let sem = manager.semaphore(1)?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let a = m.semaphore_at(sem.id());
    /// assert!(a.acquire(Some(Duration::ZERO)).await?);
    /// assert_eq!(sem.value()?, 0);
    /// a.release().await?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    pub fn semaphore_at(&self, id: u64) -> AsyncSemaphoreProxy {
        AsyncSemaphoreProxy::wrap(self.proxy(id))
    }

    /// An async proxy to an existing condition of this server by id, with an owner of
    /// its own.
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let manager = Manager::in_thread()?;
    /// let cond = manager.condition()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let c = m.condition_at(cond.id());
    /// assert!(c.acquire(None).await?);
    /// assert!(!cond.acquire(Some(Duration::ZERO))?); // held by the async owner
    /// c.release().await?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    pub fn condition_at(&self, id: u64) -> AsyncConditionProxy {
        AsyncConditionProxy::wrap(self.proxy(id))
    }
}

#[cfg(test)]
mod send_sync {
    fn is_send_sync<T: Send + Sync>() {}

    #[test]
    fn async_types_are_send_and_sync() {
        is_send_sync::<super::AsyncManager>();
        is_send_sync::<super::AsyncProxy>();
        is_send_sync::<super::AsyncDictProxy>();
        is_send_sync::<super::AsyncListProxy>();
        is_send_sync::<super::AsyncQueueProxy>();
        is_send_sync::<super::AsyncValueProxy>();
        is_send_sync::<super::AsyncLockProxy>();
        is_send_sync::<super::AsyncEventProxy>();
        is_send_sync::<super::AsyncNamespaceProxy>();
        is_send_sync::<super::AsyncSetProxy>();
        is_send_sync::<super::AsyncArrayProxy>();
        is_send_sync::<super::AsyncSemaphoreProxy>();
        is_send_sync::<super::AsyncConditionProxy>();
        is_send_sync::<super::AsyncBarrierProxy>();
    }
}
