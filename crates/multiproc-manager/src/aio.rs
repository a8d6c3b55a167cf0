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
//! [`AsyncConnection`]) to the server of a
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

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::{Future, poll_fn};
use std::marker::PhantomData;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Poll;
use std::time::Duration;

use multiproc_ipc::aio::{AsyncClient, AsyncConnection};
use multiproc_ipc::{Address, ClientError, SendError};

use crate::OwnerDied;
use crate::acquire::AcquireError;
use crate::error::{Error, RemoteError, RemoteErrorKind, TypeMismatch};
use crate::manager::{CONNECT_TIMEOUT, Manager};
use crate::protocol::{
    AnyOp, BarrierOp, ConditionOp, Create, CustomOp, DictOp, EventOp, ListOp, LockOp, NamespaceOp,
    Op, QueueOp, Request, Response, SERVER, ServerOp, SetOp, ValueOp,
};
use crate::proxy::{wire_pairs, wire_values};
use crate::value::{FromValue, Kind, ObjRef, Value};

/// What to do with the reply of a call whose future was dropped.
#[derive(Debug, Clone, Copy)]
enum Settle {
    Discard,
    /// A queue `get`: keep the item for the next `get` of this object here.
    Keep {
        obj: u64,
    },
    /// A lock, semaphore or condition `acquire`: release it (give the permit back) if
    /// it was obtained.
    Release {
        obj: u64,
        owner: u64,
    },
    /// A condition `wait`: the server re-acquires the lock before it answers (also on a
    /// timeout), so release it once whatever the answer; a wait whose request never went
    /// out still held the lock, so it is released as well (see
    /// [`AsyncConditionProxy::wait`]).
    Rewait {
        obj: u64,
        owner: u64,
        /// How many times the owner held it (a re-entrant lock): all are released.
        levels: u32,
    },
}

#[derive(Default)]
struct St {
    replies: HashMap<u64, Result<Value, RemoteError>>,
    cancelled: HashMap<u64, Settle>,
    /// Items of cancelled queue gets, by queue.
    kept: HashMap<u64, VecDeque<Value>>,
    /// Requests (unanswered, id 0) to send before the next call's own.
    owed: VecDeque<Request>,
    dead: Option<String>,
}

struct Inner {
    conn: AsyncConnection,
    next_id: AtomicU64,
    st: Mutex<St>,
    /// Held by the task reading the connection (one frame at a time).
    reader: tokio::sync::Mutex<()>,
    /// Held while owed requests go out (two senders would send the same one twice).
    flushing: tokio::sync::Mutex<()>,
    /// Notified when the reader deposited a reply: a call waiting for the reader lock
    /// checks whether it was its own (else it could wait behind a reader that waits
    /// for a reply which only this call's next request would bring).
    deposited: tokio::sync::Notify,
}

fn lock(m: &Mutex<St>) -> MutexGuard<'_, St> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Owner ids of async lock proxies (see the module docs), unique per process.
static NEXT_OWNER: AtomicU64 = AtomicU64::new(1 << 48);

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
    pub async fn connect(address: &Address, authkey: Option<&[u8]>) -> Result<AsyncManager, Error> {
        let mut b = multiproc_ipc::Client::builder().timeout(CONNECT_TIMEOUT);
        if let Some(k) = authkey {
            b = b.authkey(k);
        }
        let conn = AsyncClient::connect_with(&b, address)
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
            inner: Arc::new(Inner {
                conn,
                next_id: AtomicU64::new(1),
                st: Mutex::new(St::default()),
                reader: tokio::sync::Mutex::new(()),
                flushing: tokio::sync::Mutex::new(()),
                deposited: tokio::sync::Notify::new(),
            }),
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

    fn handle(&self, r: ObjRef) -> AsyncProxy {
        AsyncProxy {
            m: self.clone(),
            id: r.id,
            kind: r.kind,
        }
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
        let r = self.create(Create::Dict(Vec::new())).await?;
        Ok(AsyncDictProxy::wrap(self.handle(r)))
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
        let r = self.create(Create::List(Vec::new())).await?;
        Ok(AsyncListProxy::wrap(self.handle(r)))
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
        let r = self.create(Create::Namespace(Vec::new())).await?;
        Ok(AsyncNamespaceProxy::wrap(self.handle(r)))
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
        let r = self.create(Create::Value(v.into())).await?;
        Ok(AsyncValueProxy::wrap(self.handle(r)))
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
        let r = self.create(Create::Queue(None)).await?;
        Ok(AsyncQueueProxy::wrap(self.handle(r)))
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
        let r = self.create(Create::Lock).await?;
        Ok(AsyncLockProxy::wrap(self.handle(r)))
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
        let r = self.create(Create::Event).await?;
        Ok(AsyncEventProxy::wrap(self.handle(r)))
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
        let r = self.create(Create::Dict(pairs)).await?;
        Ok(AsyncDictProxy::wrap(self.handle(r)))
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
        let r = self
            .create(Create::List(wire_values::<Value, _>(items)))
            .await?;
        Ok(AsyncListProxy::wrap(self.handle(r)))
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
        let r = self.create(Create::Set(Vec::new())).await?;
        Ok(AsyncSetProxy::wrap(self.handle(r)))
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
        let r = self
            .create(Create::Set(wire_values::<Value, _>(items)))
            .await?;
        Ok(AsyncSetProxy::wrap(self.handle(r)))
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
        let r = self.create(Create::Queue(Some(maxsize))).await?;
        Ok(AsyncQueueProxy::wrap(self.handle(r)))
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
        let r = self.create(Create::JoinableQueue(None)).await?;
        Ok(AsyncQueueProxy::wrap(self.handle(r)))
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
        let r = self.create(Create::RLock).await?;
        Ok(AsyncLockProxy::wrap(self.handle(r)))
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
        let r = self.create(Create::Semaphore(value)).await?;
        Ok(AsyncSemaphoreProxy::wrap(self.handle(r)))
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
        let r = self.create(Create::BoundedSemaphore(value)).await?;
        Ok(AsyncSemaphoreProxy::wrap(self.handle(r)))
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
        let r = self.create(Create::Condition).await?;
        Ok(AsyncConditionProxy::wrap(self.handle(r)))
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
        let r = self.create(Create::Barrier(parties)).await?;
        Ok(AsyncBarrierProxy::wrap(self.handle(r)))
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
        let r = self
            .create(Create::Array(wire_values::<Value, _>(items)))
            .await?;
        Ok(AsyncArrayProxy::wrap(self.handle(r)))
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

    // ------------------------------------------------------------ the call path

    /// One call: sends the request (after any owed ones), then waits for its reply.
    async fn call(&self, obj: u64, owner: u64, op: Op, settle: Settle) -> Result<Value, Error> {
        let inner = &self.inner;
        self.check_alive()?;
        let id = inner.next_id.fetch_add(1, Ordering::Relaxed);
        let sent = AtomicBool::new(false);
        // Armed from here: a call dropped while owed requests go out is an unsent one.
        let mut guard = Pending {
            inner,
            id,
            settle,
            sent: Some(&sent),
            armed: true,
        };
        if let Err(e) = self.send_owed().await {
            guard.armed = false;
            return Err(e);
        }
        let req = Request {
            id,
            obj,
            thread: owner,
            op,
        };
        match inner.conn.send_tracked(&req, &sent).await {
            Ok(()) => {}
            Err(e @ (SendError::TooLarge { .. } | SendError::Encode(_))) => {
                guard.armed = false;
                return Err(Error::Send(e));
            }
            Err(e) => {
                guard.armed = false;
                return Err(self.died(format!("sending failed: {e}")));
            }
        }
        let r = self.await_reply(id).await;
        guard.armed = false;
        // Releases settled while reading go out now rather than with the next call.
        let v = r?;
        // The reply is taken: dropped from here on, the call is settled as one whose
        // reply came after it was dropped (an item kept, a lock released).
        let mut taken = Taken {
            st: &inner.st,
            settle,
            reply: Some(v),
        };
        self.send_owed().await?;
        taken
            .reply
            .take()
            .ok_or_else(|| Error::ManagerGone("the reply was lost".into()))
    }

    /// Takes over the oldest cancelled `get` of queue `obj` whose reply has not come:
    /// waits for that reply as if it were this call's (so items come out in order).
    /// `None` when there is none.
    async fn adopt_get(&self, obj: u64) -> Option<Result<Value, Error>> {
        let id = {
            let mut st = lock(&self.inner.st);
            let id = st
                .cancelled
                .iter()
                .filter(|(_, s)| matches!(s, Settle::Keep { obj: o } if *o == obj))
                .map(|(id, _)| *id)
                .min()?;
            st.cancelled.remove(&id);
            id
        };
        let mut guard = Pending {
            inner: &self.inner,
            id,
            settle: Settle::Keep { obj },
            sent: None,
            armed: true,
        };
        let r = self.await_reply(id).await;
        guard.armed = false;
        Some(r)
    }

    fn check_alive(&self) -> Result<(), Error> {
        match &lock(&self.inner.st).dead {
            Some(why) => Err(Error::ManagerGone(why.clone())),
            None => Ok(()),
        }
    }

    fn died(&self, why: String) -> Error {
        let why = lock(&self.inner.st).dead.get_or_insert(why).clone();
        Error::ManagerGone(why)
    }

    /// Sends the requests cancelled calls left owed (releases), oldest first.
    async fn send_owed(&self) -> Result<(), Error> {
        if lock(&self.inner.st).owed.is_empty() {
            return Ok(());
        }
        let _flushing = self.inner.flushing.lock().await;
        loop {
            let Some(req) = lock(&self.inner.st).owed.front().map(|r| Request {
                id: 0,
                obj: r.obj,
                thread: r.thread,
                op: r.op.clone(),
            }) else {
                return Ok(());
            };
            // Popped as soon as its first byte went out (the frame is then delivered
            // whole, whatever happens to this future); dropped before that, it stays
            // owed. So it is sent once.
            let sent = AtomicBool::new(false);
            let mut popped = PopWhenSent {
                st: &self.inner.st,
                sent: &sent,
            };
            let r = self.inner.conn.send_tracked(&req, &sent).await;
            popped.pop();
            r.map_err(|e| self.died(format!("sending failed: {e}")))?;
        }
    }

    /// Waits for the reply to `id`: as the reader of the connection when nobody else
    /// is, depositing others' replies and settling cancelled ones.
    async fn await_reply(&self, id: u64) -> Result<Value, Error> {
        let inner = &self.inner;
        loop {
            let mut deposited = pin!(inner.deposited.notified());
            deposited.as_mut().enable();
            if let Some(r) = self.take_reply(id)? {
                return r;
            }
            // The reader lock, or a deposit (maybe of our reply) while waiting for it.
            let mut locking = pin!(inner.reader.lock());
            let got = poll_fn(|cx| {
                if let Poll::Ready(g) = locking.as_mut().poll(cx) {
                    return Poll::Ready(Some(g));
                }
                deposited.as_mut().poll(cx).map(|()| None)
            })
            .await;
            let Some(_reader) = got else {
                continue;
            };
            if let Some(r) = self.take_reply(id)? {
                return r;
            }
            // Cancel safe: a frame cut here stays in the connection for the next reader.
            match inner.conn.recv::<Response>().await {
                Ok(Response { id: 0, result }) => {
                    tracing::warn!("manager reported a protocol error: {result:?}");
                }
                Ok(Response { id: rid, result }) => {
                    // One lock for both: a call dropped meanwhile finds its reply
                    // either settled or deposited.
                    let settled = {
                        let mut st = lock(&inner.st);
                        match st.cancelled.remove(&rid) {
                            Some(settle) => {
                                settle_reply(&mut st, settle, result);
                                true
                            }
                            None => {
                                st.replies.insert(rid, result);
                                false
                            }
                        }
                    };
                    if settled {
                        // A release owed now goes out now: this call may be waiting
                        // for the very lock it gives back.
                        self.send_owed().await?;
                    } else {
                        inner.deposited.notify_waiters();
                    }
                }
                Err(e) => {
                    let e = self.died(e.to_string());
                    inner.deposited.notify_waiters();
                    return Err(e);
                }
            }
        }
    }

    fn take_reply(&self, id: u64) -> Result<Option<Result<Value, Error>>, Error> {
        let mut st = lock(&self.inner.st);
        if let Some(r) = st.replies.remove(&id) {
            return Ok(Some(r.map_err(|e| match e.kind {
                RemoteErrorKind::ShuttingDown => Error::ManagerGone(e.message),
                _ => Error::Remote(e),
            })));
        }
        match &st.dead {
            Some(why) => Err(Error::ManagerGone(why.clone())),
            None => Ok(None),
        }
    }
}

/// Pops the owed request being sent once its first byte went out, also when the
/// sending future is dropped.
struct PopWhenSent<'a> {
    st: &'a Mutex<St>,
    sent: &'a AtomicBool,
}

impl PopWhenSent<'_> {
    fn pop(&mut self) {
        if self.sent.swap(false, Ordering::Relaxed) {
            lock(self.st).owed.pop_front();
        }
    }
}

impl Drop for PopWhenSent<'_> {
    fn drop(&mut self) {
        self.pop();
    }
}

/// The reply of a cancelled call arrived: settle it (see the module docs).
fn settle_reply(st: &mut St, settle: Settle, result: Result<Value, RemoteError>) {
    match (settle, result) {
        (Settle::Keep { obj }, Ok(item)) => st.kept.entry(obj).or_default().push_back(item),
        (Settle::Release { obj, owner }, Ok(Value::Bool(true) | Value::Tuple(_))) => {
            owe_release(st, obj, owner, 1);
        }
        (Settle::Rewait { obj, owner, levels }, Ok(_)) => owe_release(st, obj, owner, levels),
        _ => {}
    }
}

/// A call whose reply it took, dropped before it returned it: the reply is settled as
/// a cancelled call's (an item kept, a lock obtained released).
struct Taken<'a> {
    st: &'a Mutex<St>,
    settle: Settle,
    reply: Option<Value>,
}

impl Drop for Taken<'_> {
    fn drop(&mut self) {
        if let Some(v) = self.reply.take() {
            settle_reply(&mut lock(self.st), self.settle, Ok(v));
        }
    }
}

/// Queues a release of `obj` by `owner`, sent before the next call's request.
fn owe_release(st: &mut St, obj: u64, owner: u64, times: u32) {
    for _ in 0..times {
        st.owed.push_back(Request {
            id: 0,
            obj,
            thread: owner,
            op: Op::Lock(LockOp::Release),
        });
    }
}

/// A call in flight: when its future is dropped before the reply was taken, the reply
/// is settled by whoever reads it (or now, if it is already there).
struct Pending<'a> {
    inner: &'a Inner,
    id: u64,
    settle: Settle,
    /// Whether the request went out (a request whose send was dropped before its
    /// first byte was never sent, and gets no reply); `None`: it did.
    sent: Option<&'a AtomicBool>,
    armed: bool,
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        let unsent = self.sent.is_some_and(|s| !s.load(Ordering::Relaxed));
        if !self.armed {
            return;
        }
        if unsent {
            // A condition wait that never reached the server: the lock is still held;
            // a dropped wait gives it up all the same (one contract, sent or not).
            if let Settle::Rewait { obj, owner, levels } = self.settle {
                owe_release(&mut lock(&self.inner.st), obj, owner, levels);
            }
            return;
        }
        let mut st = lock(&self.inner.st);
        match st.replies.remove(&self.id) {
            Some(r) => settle_reply(&mut st, self.settle, r),
            None => {
                st.cancelled.insert(self.id, self.settle);
            }
        }
    }
}

// ------------------------------------------------------------------- proxies

/// An object of the server, by id: the untyped async proxy (and what the typed ones
/// wrap). For custom types ([`Shared`](crate::Shared)), [`call`](Self::call) invokes a
/// method by name.
///
/// ```
/// # use multiproc_manager::{Manager, aio::AsyncManager};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let manager = Manager::in_thread()?;
/// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
/// # rt.block_on(async {
/// let m = AsyncManager::new(&manager).await?;
/// let d = m.dict().await?;
/// d.insert("a", 1).await?;
/// let p = m.proxy(d.id());
/// assert_eq!(p.len().await?, 1);
/// assert_eq!(p.repr().await?, "{'a': 1}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })
/// # }
/// ```
#[derive(Clone)]
pub struct AsyncProxy {
    m: AsyncManager,
    id: u64,
    kind: Kind,
}

impl fmt::Debug for AsyncProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncProxy")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .finish()
    }
}

impl AsyncProxy {
    async fn call_op(&self, op: Op) -> Result<Value, Error> {
        self.m.call(self.id, 0, op, Settle::Discard).await
    }

    /// A call whose reply is of no interest (an operation's `None`, or what the
    /// proxy's method does not return).
    async fn call_unit(&self, op: Op) -> Result<(), Error> {
        self.call_op(op).await.map(drop)
    }

    async fn call_as<T: FromValue>(&self, op: Op) -> Result<T, Error> {
        Ok(T::from_value(self.call_op(op).await?)?)
    }

    /// A call as `owner` (locks, semaphores, conditions).
    async fn call_owned(&self, owner: u64, op: Op, settle: Settle) -> Result<Value, Error> {
        self.m.call(self.id, owner, op, settle).await
    }

    /// `acquire(timeout)` of a lock, semaphore or condition as `owner`; what it
    /// obtained is released if the call is dropped.
    async fn acquire_raw(
        &self,
        owner: u64,
        timeout: Option<Duration>,
    ) -> Result<bool, AcquireError<bool>> {
        let settle = Settle::Release {
            obj: self.id,
            owner,
        };
        match self
            .call_owned(owner, Op::Lock(LockOp::Acquire { timeout }), settle)
            .await
        {
            Ok(Value::Bool(b)) => Ok(b),
            Ok(Value::Tuple(_)) => Err(AcquireError::OwnerDied(OwnerDied::new(true))),
            Ok(other) => Err(AcquireError::Failed(Error::Type(TypeMismatch::found(
                "bool", &other,
            )))),
            Err(e) => Err(AcquireError::Failed(e)),
        }
    }

    /// `release()` as `owner`.
    async fn release_raw(&self, owner: u64) -> Result<(), Error> {
        self.call_owned(owner, Op::Lock(LockOp::Release), Settle::Discard)
            .await
            .map(drop)
    }

    /// The object's id on its server.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let d = m.dict().await?;
    /// assert_eq!(m.proxy(d.id()).id(), d.id());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The generic call: method `method` of a custom object with `args` (what a
    /// [`Proxy`](crate::Proxy)'s typed methods send). Cancel safe: a dropped call's
    /// reply is discarded (the method may or may not have run).
    ///
    /// ```
    /// use multiproc_manager::{Manager, Registry, RemoteError, RemoteErrorKind, Shared, Value, aio::AsyncManager};
    ///
    /// struct Counter(i64);
    /// impl Shared for Counter {
    ///     const TYPEID: &'static str = "Counter";
    ///     fn new(_args: Vec<Value>) -> Result<Self, RemoteError> { Ok(Counter(0)) }
    ///     fn call(&mut self, method: &str, _args: Vec<Value>) -> Result<Value, RemoteError> {
    ///         match method {
    ///             "incr" => { self.0 += 1; Ok(Value::from(self.0)) }
    ///             _ => Err(RemoteError::new(RemoteErrorKind::NoSuchMethod, method)),
    ///         }
    ///     }
    /// }
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let mut registry = Registry::new();
    /// registry.register::<Counter>();
    /// let manager = Manager::in_thread_with(registry)?;
    /// let c = manager.create::<Counter>(())?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let p = m.proxy(c.id());
    /// assert_eq!(p.call("incr", vec![]).await?, Value::from(1));
    /// assert_eq!(p.call("incr", vec![]).await?, Value::from(2));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// The method's error ([`Error::Remote`]), [`Error::ManagerGone`].
    pub async fn call(&self, method: &str, args: Vec<Value>) -> Result<Value, Error> {
        self.call_op(Op::Custom(CustomOp::Call {
            method: method.to_owned(),
            args,
        }))
        .await
    }

    /// The server's `repr` of the object.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let d = m.dict().await?;
    /// d.insert("a", 1).await?;
    /// assert_eq!(m.proxy(d.id()).repr().await?, "{'a': 1}");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    pub async fn repr(&self) -> Result<String, Error> {
        self.call_as(Op::Any(AnyOp::Repr)).await
    }

    /// `len(obj)` of a container.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let l = m.list().await?;
    /// l.extend([1, 2]).await?;
    /// assert_eq!(m.proxy(l.id()).len().await?, 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// `TypeError` for an object without a length, [`Error::ManagerGone`].
    pub async fn len(&self) -> Result<usize, Error> {
        self.call_as(Op::Any(AnyOp::Len)).await
    }

    /// Whether a container is empty.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let d = m.dict().await?;
    /// assert!(m.proxy(d.id()).is_empty().await?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`len`](Self::len).
    pub async fn is_empty(&self) -> Result<bool, Error> {
        Ok(self.len().await? == 0)
    }

    /// Drops the object on the server (see [`DictProxy::destroy`](crate::DictProxy::destroy)).
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let d = m.dict().await?;
    /// let id = d.id();
    /// m.proxy(id).destroy().await?;
    /// assert!(d.len().await.is_err()); // `NoSuchObject`: it is gone on the server
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    pub async fn destroy(self) -> Result<(), Error> {
        self.call_unit(Op::Any(AnyOp::Destroy)).await
    }
}

macro_rules! async_proxy {
    ($(#[$doc:meta])* $name:ident [$($g:ident),*]) => {
        $(#[$doc])*
        pub struct $name<$($g = Value),*> {
            p: AsyncProxy,
            _t: PhantomData<fn() -> ($($g,)*)>,
        }
        impl<$($g),*> $name<$($g),*> {
            fn wrap(p: AsyncProxy) -> Self {
                $name { p, _t: PhantomData }
            }

            /// The untyped proxy of the same object (`repr`, `len`, `destroy`).
            ///
            /// ```
            /// # use multiproc_manager::{Manager, aio::AsyncManager};
            /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
            /// # let manager = Manager::in_thread()?;
            /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            /// # rt.block_on(async {
            /// let m = AsyncManager::new(&manager).await?;
            /// let d = m.dict().await?;
            /// assert_eq!(d.untyped().id(), d.id());
            /// assert!(d.untyped().is_empty().await?);
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// # })
            /// # }
            /// ```
            pub fn untyped(&self) -> &AsyncProxy {
                &self.p
            }

            /// The object's id on its server (to reach it from a blocking proxy's
            /// manager or another [`AsyncManager`]).
            ///
            /// ```
            /// # use multiproc_manager::{Manager, aio::AsyncManager};
            /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
            /// # let manager = Manager::in_thread()?;
            /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            /// # rt.block_on(async {
            /// let m = AsyncManager::new(&manager).await?;
            /// let d = m.dict().await?;
            /// assert_eq!(m.proxy(d.id()).id(), d.id()); // the same object through an untyped proxy
            /// assert_ne!(m.dict().await?.id(), d.id());
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// # })
            /// # }
            /// ```
            pub fn id(&self) -> u64 {
                self.p.id
            }
        }
        impl<$($g),*> Clone for $name<$($g),*> {
            fn clone(&self) -> Self {
                $name { p: self.p.clone(), _t: PhantomData }
            }
        }
        impl<$($g),*> fmt::Debug for $name<$($g),*> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name)).field("id", &self.p.id).finish()
            }
        }
    };
}

async_proxy!(
    /// The async form of [`DictProxy`](crate::DictProxy). Every method is cancel safe
    /// (see [the module](self)): a dropped call may or may not have taken effect, and
    /// the connection stays in step.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let d = m.dict_of::<String, i64>().await?;
    /// d.insert("one", 1).await?;
    /// assert_eq!(d.get("one").await?, Some(1));
    /// assert_eq!(d.get("two").await?, None);
    /// assert!(d.get_item("two").await.unwrap_err().is_key_error());
    /// assert_eq!(d.len().await?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    AsyncDictProxy [K, V]
);

impl<K: Into<Value> + FromValue, V: Into<Value> + FromValue> AsyncDictProxy<K, V> {
    /// `d[k]`.
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
    /// assert_eq!(d.get_item("a").await?, 1);
    /// assert!(d.get_item("b").await.unwrap_err().is_key_error());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// `KeyError` ([`Error::is_key_error`]), [`Error::Type`], [`Error::ManagerGone`].
    pub async fn get_item(&self, k: impl Into<K>) -> Result<V, Error> {
        self.p
            .call_as(Op::Dict(DictOp::GetItem(k.into().into())))
            .await
    }

    /// `d.get(k)`.
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
    /// assert_eq!(d.get("a").await?, Some(1));
    /// assert_eq!(d.get("b").await?, None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::Type`], [`Error::ManagerGone`].
    pub async fn get(&self, k: impl Into<K>) -> Result<Option<V>, Error> {
        match self.get_item(k).await {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_key_error() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `d[k] = v`.
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
    /// d.insert("a", 2).await?;
    /// assert_eq!(d.get("a").await?, Some(2));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::ManagerGone`], the server's memory budget ([`Error::Remote`]).
    pub async fn insert(&self, k: impl Into<K>, v: impl Into<V>) -> Result<(), Error> {
        self.p
            .call_unit(Op::Dict(DictOp::SetItem(k.into().into(), v.into().into())))
            .await
    }

    /// `del d[k]`.
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
    /// d.remove("a").await?;
    /// assert!(!d.contains("a").await?);
    /// assert!(d.remove("a").await.unwrap_err().is_key_error());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// `KeyError`, [`Error::ManagerGone`].
    pub async fn remove(&self, k: impl Into<K>) -> Result<(), Error> {
        self.p
            .call_unit(Op::Dict(DictOp::DelItem(k.into().into())))
            .await
    }

    /// `k in d`.
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
    /// assert!(d.contains("a").await?);
    /// assert!(!d.contains("b").await?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    pub async fn contains(&self, k: impl Into<K>) -> Result<bool, Error> {
        self.p
            .call_as(Op::Any(AnyOp::Contains(k.into().into())))
            .await
    }

    /// `len(d)`.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let d = m.dict_of::<String, i64>().await?;
    /// assert_eq!(d.len().await?, 0);
    /// d.insert("a", 1).await?;
    /// assert_eq!(d.len().await?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    pub async fn len(&self) -> Result<usize, Error> {
        self.p.len().await
    }

    /// Whether it is empty.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let d = m.dict_of::<String, i64>().await?;
    /// assert!(d.is_empty().await?);
    /// d.insert("a", 1).await?;
    /// assert!(!d.is_empty().await?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    pub async fn is_empty(&self) -> Result<bool, Error> {
        self.p.is_empty().await
    }

    /// `d.items()`, in insertion order.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let d = m.dict_of::<String, i64>().await?;
    /// d.insert("b", 2).await?;
    /// d.insert("a", 1).await?;
    /// assert_eq!(d.items().await?, [("b".to_string(), 2), ("a".to_string(), 1)]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::Type`], [`Error::ManagerGone`].
    pub async fn items(&self) -> Result<Vec<(K, V)>, Error> {
        self.p.call_as(Op::Dict(DictOp::Items)).await
    }

    /// `d.pop(k)`.
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
    /// assert_eq!(d.pop("a").await?, 1);
    /// assert!(d.is_empty().await?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// `KeyError`, [`Error::Type`], [`Error::ManagerGone`].
    pub async fn pop(&self, k: impl Into<K>) -> Result<V, Error> {
        self.p
            .call_as(Op::Dict(DictOp::Pop(k.into().into(), None)))
            .await
    }

    /// `d.clear()`.
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
    /// d.clear().await?;
    /// assert_eq!(d.len().await?, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    pub async fn clear(&self) -> Result<(), Error> {
        self.p.call_unit(Op::Dict(DictOp::Clear)).await
    }
}

async_proxy!(
    /// The async form of [`ListProxy`](crate::ListProxy); cancel safe as
    /// [`AsyncDictProxy`].
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let l = m.list_of::<i64>().await?;
    /// l.append(1).await?;
    /// l.extend([2, 3]).await?;
    /// l.set(0, 10).await?;
    /// assert_eq!(l.to_vec().await?, [10, 2, 3]);
    /// assert_eq!(l.pop().await?, 3);
    /// assert_eq!(l.get(-1).await?, 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    AsyncListProxy [T]
);

impl<T: Into<Value> + FromValue> AsyncListProxy<T> {
    /// `l.append(x)`.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let l = m.list_of::<i64>().await?;
    /// l.append(1).await?;
    /// l.append(2).await?;
    /// assert_eq!(l.to_vec().await?, [1, 2]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    pub async fn append(&self, x: impl Into<T>) -> Result<(), Error> {
        self.p
            .call_unit(Op::List(ListOp::Append(x.into().into())))
            .await
    }

    /// `l.extend(xs)`.
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
    /// l.extend(vec![3]).await?;
    /// assert_eq!(l.to_vec().await?, [1, 2, 3]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    pub async fn extend<I: IntoIterator<Item = A>, A: Into<T>>(&self, xs: I) -> Result<(), Error> {
        let items = wire_values::<T, _>(xs);
        self.p.call_unit(Op::List(ListOp::Extend(items))).await
    }

    /// `l[i]` (negative from the end).
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let l = m.list_of::<i64>().await?;
    /// l.extend([1, 2, 3]).await?;
    /// assert_eq!(l.get(0).await?, 1);
    /// assert_eq!(l.get(-1).await?, 3);
    /// assert!(l.get(3).await.is_err()); // IndexError
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// `IndexError`, [`Error::Type`], [`Error::ManagerGone`].
    pub async fn get(&self, i: i64) -> Result<T, Error> {
        self.p
            .call_as(Op::List(ListOp::GetItem(Value::from(i))))
            .await
    }

    /// `l[i] = x`.
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
    /// l.set(-1, 20).await?;
    /// assert_eq!(l.to_vec().await?, [1, 20]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// `IndexError`, [`Error::ManagerGone`].
    pub async fn set(&self, i: i64, x: impl Into<T>) -> Result<(), Error> {
        self.p
            .call_unit(Op::List(ListOp::SetItem(Value::from(i), x.into().into())))
            .await
    }

    /// `l.pop()`.
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
    /// assert_eq!(l.pop().await?, 2);
    /// assert_eq!(l.pop().await?, 1);
    /// assert!(l.pop().await.is_err()); // IndexError: empty
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// `IndexError` when empty, [`Error::Type`], [`Error::ManagerGone`].
    pub async fn pop(&self) -> Result<T, Error> {
        self.p.call_as(Op::List(ListOp::Pop(None))).await
    }

    /// `len(l)`.
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
    /// assert_eq!(l.len().await?, 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    pub async fn len(&self) -> Result<usize, Error> {
        self.p.len().await
    }

    /// Whether it is empty.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let l = m.list_of::<i64>().await?;
    /// assert!(l.is_empty().await?);
    /// l.append(1).await?;
    /// assert!(!l.is_empty().await?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    pub async fn is_empty(&self) -> Result<bool, Error> {
        self.p.is_empty().await
    }

    /// `list(l)`: a copy of the whole list.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let l = m.list_of::<i64>().await?;
    /// l.extend([3, 1, 2]).await?;
    /// assert_eq!(l.to_vec().await?, vec![3, 1, 2]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::Type`], [`Error::ManagerGone`].
    pub async fn to_vec(&self) -> Result<Vec<T>, Error> {
        self.p.call_as(Op::Any(AnyOp::Copy)).await
    }
}

async_proxy!(
    /// The async form of [`NamespaceProxy`](crate::NamespaceProxy); cancel safe as
    /// [`AsyncDictProxy`].
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let ns = m.namespace().await?;
    /// ns.set("x", 10).await?;
    /// assert_eq!(ns.get::<i64>("x").await?, 10);
    /// assert!(ns.has("x").await?);
    /// ns.del("x").await?;
    /// assert!(!ns.has("x").await?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    AsyncNamespaceProxy []
);

impl AsyncNamespaceProxy {
    /// `ns.name`.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let ns = m.namespace().await?;
    /// ns.set("x", "hi").await?;
    /// assert_eq!(ns.get::<String>("x").await?, "hi");
    /// assert!(ns.get::<i64>("y").await.is_err()); // AttributeError
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// `AttributeError`, [`Error::Type`], [`Error::ManagerGone`].
    pub async fn get<T: FromValue>(&self, name: &str) -> Result<T, Error> {
        self.p
            .call_as(Op::Namespace(NamespaceOp::Get(name.to_owned())))
            .await
    }

    /// `ns.name = v`.
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
    /// ns.set("x", 2).await?;
    /// assert_eq!(ns.get::<i64>("x").await?, 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    pub async fn set(&self, name: &str, v: impl Into<Value>) -> Result<(), Error> {
        self.p
            .call_unit(Op::Namespace(NamespaceOp::Set(name.to_owned(), v.into())))
            .await
    }

    /// `del ns.name`.
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
    /// ns.del("x").await?;
    /// assert!(!ns.has("x").await?);
    /// assert!(ns.del("x").await.is_err()); // AttributeError
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// `AttributeError`, [`Error::ManagerGone`].
    pub async fn del(&self, name: &str) -> Result<(), Error> {
        self.p
            .call_unit(Op::Namespace(NamespaceOp::Del(name.to_owned())))
            .await
    }

    /// `hasattr(ns, name)`.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let ns = m.namespace().await?;
    /// assert!(!ns.has("x").await?);
    /// ns.set("x", 1).await?;
    /// assert!(ns.has("x").await?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    pub async fn has(&self, name: &str) -> Result<bool, Error> {
        self.p
            .call_as(Op::Any(AnyOp::Contains(Value::from(name))))
            .await
    }

    /// `vars(ns)`: all attributes, in the order they were first set (as
    /// [`NamespaceProxy::to_vec`](crate::NamespaceProxy::to_vec)).
    ///
    /// ```
    /// # use multiproc_manager::{Manager, Value, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let ns = m.namespace().await?;
    /// ns.set("y", 1).await?;
    /// ns.set("x", "a").await?;
    /// assert_eq!(
    ///     ns.to_vec().await?,
    ///     [("y".to_string(), Value::from(1)), ("x".to_string(), Value::from("a"))]
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::Type`], [`Error::ManagerGone`].
    pub async fn to_vec(&self) -> Result<Vec<(String, Value)>, Error> {
        crate::proxy::namespace_attrs(self.p.call_op(Op::Any(AnyOp::Copy)).await?)
    }
}

async_proxy!(
    /// The async form of [`ValueProxy`](crate::ValueProxy); cancel safe as
    /// [`AsyncDictProxy`].
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let v = m.value(1.5f64).await?;
    /// v.set(2.5).await?;
    /// assert_eq!(v.get().await?, 2.5);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    AsyncValueProxy [T]
);

impl<T: Into<Value> + FromValue> AsyncValueProxy<T> {
    /// `v.value`.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let v = m.value(String::from("a")).await?;
    /// assert_eq!(v.get().await?, "a");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::Type`], [`Error::ManagerGone`].
    pub async fn get(&self) -> Result<T, Error> {
        self.p.call_as(Op::Value(ValueOp::Get)).await
    }

    /// `v.value = x`.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let v = m.value(1i64).await?;
    /// v.set(2).await?;
    /// assert_eq!(v.get().await?, 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    pub async fn set(&self, x: impl Into<T>) -> Result<(), Error> {
        self.p
            .call_unit(Op::Value(ValueOp::Set(x.into().into())))
            .await
    }
}

async_proxy!(
    /// The async form of [`QueueProxy`](crate::QueueProxy).
    ///
    /// [`get`](Self::get) is cancel safe without losing items: the item of a `get`
    /// whose future was dropped after its request went out is kept by the
    /// [`AsyncManager`] and returned by the next `get` of this queue through it; and
    /// the next untimed `get` takes over a cancelled one still waiting on the server
    /// (so items come out in order). A timed get ([`get_timeout`](Self::get_timeout),
    /// [`try_get`](Self::try_get)) does not wait for cancelled ones: an item they
    /// receive later is kept for the next get.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # use std::time::Duration;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let q = m.queue_of::<String>().await?;
    /// // A get that times out (its future dropped) loses nothing put later.
    /// assert!(tokio::time::timeout(Duration::from_millis(10), q.get()).await.is_err());
    /// q.put("hello".to_string()).await?;
    /// assert_eq!(q.get().await?, "hello");
    /// assert_eq!(q.try_get().await?, None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    AsyncQueueProxy [T]
);

impl<T: Into<Value> + FromValue> AsyncQueueProxy<T> {
    /// `q.put(x)`. A dropped `put` may or may not have put its item (as a send whose
    /// request went out).
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
    /// q.put(2).await?;
    /// assert_eq!(q.qsize().await?, 2);
    /// assert_eq!(q.get().await?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    pub async fn put(&self, x: impl Into<T>) -> Result<(), Error> {
        self.p
            .call_unit(Op::Queue(QueueOp::Put {
                item: x.into().into(),
                timeout: None,
            }))
            .await
    }

    /// `q.get()`: waits (on the server, not on a runtime thread) for an item.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let q = m.queue_of::<i64>().await?;
    /// let getter = tokio::spawn({
    ///     let q = q.clone();
    ///     async move { q.get().await }
    /// });
    /// q.put(5).await?;
    /// assert_eq!(getter.await??, 5);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::Type`], [`Error::ManagerGone`] (also on shutdown while waiting).
    pub async fn get(&self) -> Result<T, Error> {
        self.get_op(None).await
    }

    /// `q.get(timeout=t)`.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # use std::time::Duration;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let q = m.queue_of::<i64>().await?;
    /// assert!(q.get_timeout(Duration::from_millis(10)).await.is_err()); // Empty
    /// q.put(1).await?;
    /// assert_eq!(q.get_timeout(Duration::from_secs(60)).await?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// `Empty` after the timeout ([`RemoteErrorKind::Empty`]), as [`get`](Self::get).
    pub async fn get_timeout(&self, timeout: Duration) -> Result<T, Error> {
        self.get_op(Some(timeout)).await
    }

    /// `q.get_nowait()`, as an `Option`.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let q = m.queue_of::<i64>().await?;
    /// assert_eq!(q.try_get().await?, None);
    /// q.put(1).await?;
    /// assert_eq!(q.try_get().await?, Some(1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`get`](Self::get).
    pub async fn try_get(&self) -> Result<Option<T>, Error> {
        match self.get_timeout(Duration::ZERO).await {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.remote_kind() == Some(RemoteErrorKind::Empty) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn get_op(&self, timeout: Option<Duration>) -> Result<T, Error> {
        let m = &self.p.m;
        loop {
            let kept = lock(&m.inner.st)
                .kept
                .get_mut(&self.p.id)
                .and_then(VecDeque::pop_front);
            if let Some(v) = kept {
                return Ok(T::from_value(v)?);
            }
            // An untimed get first takes over a cancelled get still waiting on the
            // server (whose item would otherwise come out after this call's). A timed
            // one does not wait for it (it might wait for ever).
            if timeout.is_none() {
                match m.adopt_get(self.p.id).await {
                    Some(Ok(v)) => return Ok(T::from_value(v)?),
                    // A cancelled `get_timeout` that found nothing: ask again.
                    Some(Err(e)) if e.remote_kind() == Some(RemoteErrorKind::Empty) => continue,
                    Some(Err(e)) => return Err(e),
                    None => {}
                }
            }
            let v = m
                .call(
                    self.p.id,
                    0,
                    Op::Queue(QueueOp::Get { timeout }),
                    Settle::Keep { obj: self.p.id },
                )
                .await?;
            return Ok(T::from_value(v)?);
        }
    }

    /// `q.put(x, timeout=t)` on a bounded queue: `Full` after `timeout`
    /// ([`RemoteErrorKind::Full`]). A dropped `put_timeout` may or may not have put its
    /// item.
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
    /// q.put_timeout(1, Duration::from_secs(60)).await?;
    /// let err = q.put_timeout(2, Duration::from_millis(10)).await.unwrap_err();
    /// assert_eq!(err.remote_kind(), Some(RemoteErrorKind::Full));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// `Full`, [`Error::ManagerGone`].
    pub async fn put_timeout(&self, x: impl Into<T>, timeout: Duration) -> Result<(), Error> {
        self.p
            .call_unit(Op::Queue(QueueOp::Put {
                item: x.into().into(),
                timeout: Some(timeout),
            }))
            .await
    }

    /// `q.empty()` (items kept from cancelled gets not counted).
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let q = m.queue_of::<i64>().await?;
    /// assert!(q.is_empty().await?);
    /// q.put(1).await?;
    /// assert!(!q.is_empty().await?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    pub async fn is_empty(&self) -> Result<bool, Error> {
        Ok(self.qsize().await? == 0)
    }

    /// `q.task_done()` of a joinable queue. A dropped `task_done` may or may not have
    /// counted.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # use multiproc_manager::RemoteErrorKind;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let q = m.joinable_queue::<i64>().await?;
    /// q.put(1).await?;
    /// q.get().await?;
    /// q.task_done().await?;
    /// let err = q.task_done().await.unwrap_err(); // more than were put
    /// assert_eq!(err.remote_kind(), Some(RemoteErrorKind::ValueError));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// `ValueError` when called more times than items were put, [`Error::ManagerGone`].
    pub async fn task_done(&self) -> Result<(), Error> {
        self.p.call_unit(Op::Queue(QueueOp::TaskDone)).await
    }

    /// `q.join()` of a joinable queue: waits (on the server) until every item put was
    /// marked done. Cancel safe: a dropped `join` takes nothing.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let q = m.joinable_queue::<i64>().await?;
    /// q.put(1).await?;
    /// assert_eq!(q.get().await?, 1);
    /// q.task_done().await?;
    /// q.join().await?; // every item done: returns at once
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    pub async fn join(&self) -> Result<(), Error> {
        self.p
            .call_as::<bool>(Op::Queue(QueueOp::Join { timeout: None }))
            .await
            .map(drop)
    }

    /// `join` bounded by `timeout`: whether every item was done.
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
    /// assert!(!q.join_timeout(Duration::from_millis(10)).await?); // not done yet
    /// q.get().await?;
    /// q.task_done().await?;
    /// assert!(q.join_timeout(Duration::from_secs(60)).await?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    pub async fn join_timeout(&self, timeout: Duration) -> Result<bool, Error> {
        self.p
            .call_as(Op::Queue(QueueOp::Join {
                timeout: Some(timeout),
            }))
            .await
    }

    /// `q.qsize()` (items kept from cancelled gets not counted).
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let q = m.queue_of::<i64>().await?;
    /// assert_eq!(q.qsize().await?, 0);
    /// q.put(1).await?;
    /// assert_eq!(q.qsize().await?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    pub async fn qsize(&self) -> Result<usize, Error> {
        self.p.call_as(Op::Queue(QueueOp::QSize)).await
    }
}

/// The async form of [`LockProxy`](crate::LockProxy). Its owner is this proxy value
/// and its clones (see [the module](self)).
///
/// [`acquire`](Self::acquire) is cancel safe: a lock obtained by an `acquire` whose
/// future was dropped is released (before the next call through this manager).
///
/// ```
/// # use multiproc_manager::{Manager, aio::AsyncManager};
/// # use std::time::Duration;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let manager = Manager::in_thread()?;
/// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
/// # rt.block_on(async {
/// let m = AsyncManager::new(&manager).await?;
/// let lock = m.lock().await?;
/// lock.acquire(None).await?;
/// assert!(lock.locked().await?);
/// assert!(!lock.acquire(Some(Duration::from_millis(10))).await?);
/// lock.release().await?;
/// assert!(lock.acquire(Some(Duration::ZERO)).await?);
/// lock.release().await?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })
/// # }
/// ```
#[derive(Clone)]
pub struct AsyncLockProxy {
    p: AsyncProxy,
    owner: u64,
}

impl fmt::Debug for AsyncLockProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncLockProxy")
            .field("id", &self.p.id)
            .field("owner", &self.owner)
            .finish()
    }
}

impl AsyncLockProxy {
    fn wrap(p: AsyncProxy) -> Self {
        AsyncLockProxy {
            p,
            owner: NEXT_OWNER.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// The object's id on its server.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let held = manager.lock()?; // a lock made through the blocking manager
    /// let lock = m.lock_at(held.id());
    /// assert_eq!(lock.id(), held.id());
    /// assert!(lock.acquire(None).await?);
    /// assert!(held.locked()?);
    /// lock.release().await?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    pub fn id(&self) -> u64 {
        self.p.id
    }

    /// CPython's `acquire(block, timeout)`, as the blocking proxy's
    /// [`LockProxy::acquire`](crate::LockProxy::acquire): `None` waits (on the server)
    /// until acquired, `Some(t)` at most `t` (`Some(Duration::ZERO)` is
    /// `acquire(False)`); whether it was acquired. Pair with [`release`](Self::release).
    ///
    /// Cancel safe: a future dropped after its request went out leaves the call
    /// settled by the connection — a lock the server grants it afterwards is released
    /// when the reply is read, never held by nobody.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # use std::time::Duration;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let lock = m.lock().await?;
    /// assert!(lock.acquire(None).await?);
    /// let other = m.lock_at(lock.id()); // another owner
    /// assert!(!other.acquire(Some(Duration::from_millis(10))).await?);
    /// lock.release().await?;
    /// assert!(other.acquire(Some(Duration::ZERO)).await?);
    /// other.release().await?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`AcquireError::OwnerDied`] carrying `true` when it took over from a holder that
    /// vanished — **it is held then**; [`AcquireError::Failed`] with
    /// [`Error::ManagerGone`] and the like. `?` into [`Error`] turns the first into
    /// [`Error::OwnerDied`].
    pub async fn acquire(&self, timeout: Option<Duration>) -> Result<bool, AcquireError<bool>> {
        self.p.acquire_raw(self.owner, timeout).await
    }

    /// `release()`.
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
    /// lock.release().await?;
    /// assert!(!lock.locked().await?);
    /// assert!(lock.release().await.is_err()); // RuntimeError: not held
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// `RuntimeError` when this owner does not hold it, [`Error::ManagerGone`].
    pub async fn release(&self) -> Result<(), Error> {
        self.p.release_raw(self.owner).await
    }

    /// Whether anyone holds it.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let lock = m.lock().await?;
    /// assert!(!lock.locked().await?);
    /// assert!(lock.acquire(None).await?);
    /// assert!(lock.clone().locked().await?);
    /// lock.release().await?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    pub async fn locked(&self) -> Result<bool, Error> {
        self.p.call_as(Op::Lock(LockOp::Locked)).await
    }
}

async_proxy!(
    /// The async form of [`EventProxy`](crate::EventProxy); cancel safe (a dropped
    /// `wait` takes nothing).
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # use std::time::Duration;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let ev = m.event().await?;
    /// assert!(!ev.wait_timeout(Duration::from_millis(10)).await?);
    /// let waiter = tokio::spawn({
    ///     let ev = ev.clone();
    ///     async move { ev.wait().await }
    /// });
    /// ev.set().await?;
    /// waiter.await??;
    /// assert!(ev.is_set().await?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    AsyncEventProxy []
);

impl AsyncEventProxy {
    /// `set()`.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let ev = m.event().await?;
    /// ev.set().await?;
    /// assert!(ev.is_set().await?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    pub async fn set(&self) -> Result<(), Error> {
        self.p.call_unit(Op::Event(EventOp::Set)).await
    }

    /// `clear()`.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let ev = m.event().await?;
    /// ev.set().await?;
    /// ev.clear().await?;
    /// assert!(!ev.is_set().await?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    pub async fn clear(&self) -> Result<(), Error> {
        self.p.call_unit(Op::Event(EventOp::Clear)).await
    }

    /// `is_set()`.
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
    /// [`Error::ManagerGone`].
    pub async fn is_set(&self) -> Result<bool, Error> {
        self.p.call_as(Op::Event(EventOp::IsSet)).await
    }

    /// `wait()`: until the event is set.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let ev = m.event().await?;
    /// let waiter = tokio::spawn({
    ///     let ev = ev.clone();
    ///     async move { ev.wait().await }
    /// });
    /// ev.set().await?;
    /// waiter.await??;
    /// assert!(ev.is_set().await?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    pub async fn wait(&self) -> Result<(), Error> {
        self.p
            .call_as::<bool>(Op::Event(EventOp::Wait { timeout: None }))
            .await
            .map(drop)
    }

    /// `wait(timeout)`: whether it is set.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # use std::time::Duration;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let ev = m.event().await?;
    /// assert!(!ev.wait_timeout(Duration::from_millis(10)).await?);
    /// ev.set().await?;
    /// assert!(ev.wait_timeout(Duration::from_secs(60)).await?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    pub async fn wait_timeout(&self, timeout: Duration) -> Result<bool, Error> {
        self.p
            .call_as(Op::Event(EventOp::Wait {
                timeout: Some(timeout),
            }))
            .await
    }
}

async_proxy!(
    /// The async form of [`SetProxy`](crate::SetProxy); cancel safe as
    /// [`AsyncDictProxy`] (a dropped call may or may not have taken effect; a dropped
    /// [`pop`](Self::pop) may have removed an element that nobody receives, as a
    /// blocking `pop` whose connection broke).
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
    /// s.add(1).await?;
    /// s.update([2, 3]).await?;
    /// assert_eq!(s.len().await?, 3);
    /// assert!(s.contains(2).await?);
    /// s.discard(2).await?;
    /// s.discard(2).await?; // absent: nothing happens
    /// assert!(s.remove(2).await.unwrap_err().is_key_error());
    /// let mut all = s.to_vec().await?;
    /// all.sort_unstable();
    /// assert_eq!(all, [1, 3]);
    /// s.clear().await?;
    /// assert!(s.is_empty().await?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    AsyncSetProxy [T]
);

impl<T: Into<Value> + FromValue> AsyncSetProxy<T> {
    /// `s.add(x)`.
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
    /// s.add(1).await?;
    /// assert_eq!(s.len().await?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// `TypeError` for an unhashable element, [`Error::ManagerGone`].
    pub async fn add(&self, x: impl Into<T>) -> Result<(), Error> {
        self.p.call_unit(Op::Set(SetOp::Add(x.into().into()))).await
    }

    /// `s.discard(x)`: removes `x` if present.
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
    /// s.discard(1).await?;
    /// s.discard(1).await?; // absent: nothing happens
    /// assert!(s.is_empty().await?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// `TypeError` for an unhashable element, [`Error::ManagerGone`].
    pub async fn discard(&self, x: impl Into<T>) -> Result<(), Error> {
        self.p
            .call_unit(Op::Set(SetOp::Discard(x.into().into())))
            .await
    }

    /// `s.remove(x)`.
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
    /// s.remove(1).await?;
    /// assert!(s.remove(1).await.unwrap_err().is_key_error());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// `KeyError` when absent ([`Error::is_key_error`]), `TypeError`,
    /// [`Error::ManagerGone`].
    pub async fn remove(&self, x: impl Into<T>) -> Result<(), Error> {
        self.p
            .call_unit(Op::Set(SetOp::Remove(x.into().into())))
            .await
    }

    /// `s.pop()`: removes and returns an element.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let s = m.set_of::<i64>().await?;
    /// s.add(7).await?;
    /// assert_eq!(s.pop().await?, 7);
    /// assert!(s.pop().await.unwrap_err().is_key_error()); // empty
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// `KeyError` when empty, [`Error::Type`], [`Error::ManagerGone`].
    pub async fn pop(&self) -> Result<T, Error> {
        self.p.call_as(Op::Set(SetOp::Pop)).await
    }

    /// `x in s`.
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
    /// assert!(s.contains(1).await?);
    /// assert!(!s.contains(2).await?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    pub async fn contains(&self, x: impl Into<T>) -> Result<bool, Error> {
        self.p
            .call_as(Op::Any(AnyOp::Contains(x.into().into())))
            .await
    }

    /// `len(s)`.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let s = m.set_of::<i64>().await?;
    /// s.update([1, 2, 2]).await?;
    /// assert_eq!(s.len().await?, 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    pub async fn len(&self) -> Result<usize, Error> {
        self.p.len().await
    }

    /// `len(s) == 0`.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let s = m.set_of::<i64>().await?;
    /// assert!(s.is_empty().await?);
    /// s.add(1).await?;
    /// assert!(!s.is_empty().await?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    pub async fn is_empty(&self) -> Result<bool, Error> {
        self.p.is_empty().await
    }

    /// `s.clear()`.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let s = m.set_of::<i64>().await?;
    /// s.update([1, 2]).await?;
    /// s.clear().await?;
    /// assert_eq!(s.len().await?, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    pub async fn clear(&self) -> Result<(), Error> {
        self.p.call_unit(Op::Set(SetOp::Clear)).await
    }

    /// `s.update(other)`.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let s = m.set_of::<i64>().await?;
    /// s.update([3, 1, 3]).await?;
    /// let mut all = s.to_vec().await?;
    /// all.sort_unstable();
    /// assert_eq!(all, [1, 3]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// `TypeError` for an unhashable element, [`Error::ManagerGone`].
    pub async fn update<I: IntoIterator<Item = A>, A: Into<T>>(
        &self,
        other: I,
    ) -> Result<(), Error> {
        let items = wire_values::<T, _>(other);
        self.p
            .call_unit(Op::Set(SetOp::With(
                crate::protocol::SetWith::Update,
                items,
            )))
            .await
    }

    /// `list(s)`: the elements, in one round trip.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let s = m.set_of::<i64>().await?;
    /// s.update([2, 1]).await?;
    /// let mut all = s.to_vec().await?;
    /// all.sort_unstable();
    /// assert_eq!(all, [1, 2]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::Type`], [`Error::ManagerGone`].
    pub async fn to_vec(&self) -> Result<Vec<T>, Error> {
        self.p.call_as(Op::Any(AnyOp::Copy)).await
    }
}

async_proxy!(
    /// The async form of [`ArrayProxy`](crate::ArrayProxy) (fixed length); cancel safe
    /// as [`AsyncDictProxy`].
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let a = m.array([1i64, 2, 3]).await?;
    /// a.set(0, 10).await?;
    /// assert_eq!(a.get(-1).await?, 3);
    /// a.set_slice(Some(1), None, [20, 30]).await?;
    /// assert_eq!(a.to_vec().await?, [10, 20, 30]);
    /// assert_eq!(a.len().await?, 3);
    /// assert!(a.get(5).await.is_err()); // IndexError
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    AsyncArrayProxy [T]
);

impl<T: Into<Value> + FromValue> AsyncArrayProxy<T> {
    /// `a[i]`.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let a = m.array([1i64, 2, 3]).await?;
    /// assert_eq!(a.get(0).await?, 1);
    /// assert_eq!(a.get(-1).await?, 3);
    /// assert!(a.get(3).await.is_err()); // IndexError
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// `IndexError`, [`Error::Type`], [`Error::ManagerGone`].
    pub async fn get(&self, i: i64) -> Result<T, Error> {
        self.p
            .call_as(Op::List(ListOp::GetItem(Value::from(i))))
            .await
    }

    /// `a[i] = x`.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let a = m.array([1i64, 2]).await?;
    /// a.set(1, 20).await?;
    /// assert_eq!(a.to_vec().await?, [1, 20]);
    /// assert!(a.set(2, 30).await.is_err()); // IndexError: fixed length
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// `IndexError`, [`Error::ManagerGone`].
    pub async fn set(&self, i: i64, x: impl Into<T>) -> Result<(), Error> {
        self.p
            .call_unit(Op::List(ListOp::SetItem(Value::from(i), x.into().into())))
            .await
    }

    /// `len(a)`.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let a = m.array([1i64, 2, 3]).await?;
    /// assert_eq!(a.len().await?, 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    pub async fn len(&self) -> Result<usize, Error> {
        self.p.len().await
    }

    /// `len(a) == 0`.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let a = m.array([1i64]).await?;
    /// assert!(!a.is_empty().await?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    pub async fn is_empty(&self) -> Result<bool, Error> {
        self.p.is_empty().await
    }

    /// `a[:]`.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let a = m.array([1i64, 2]).await?;
    /// assert_eq!(a.to_vec().await?, [1, 2]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::Type`], [`Error::ManagerGone`].
    pub async fn to_vec(&self) -> Result<Vec<T>, Error> {
        self.p.call_as(Op::Any(AnyOp::Copy)).await
    }

    /// `a[x:y] = items` (same length).
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let a = m.array([1i64, 2, 3]).await?;
    /// a.set_slice(Some(0), Some(2), [10, 20]).await?;
    /// assert_eq!(a.to_vec().await?, [10, 20, 3]);
    /// assert!(a.set_slice(None, None, [1]).await.is_err()); // ValueError: another length
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// `ValueError` for another length, [`Error::ManagerGone`].
    pub async fn set_slice<I: IntoIterator<Item = A>, A: Into<T>>(
        &self,
        a: Option<i64>,
        b: Option<i64>,
        xs: I,
    ) -> Result<(), Error> {
        let items = wire_values::<T, _>(xs);
        self.p
            .call_unit(Op::List(ListOp::SetSlice(a, b, items)))
            .await
    }
}

async_proxy!(
    /// The async form of [`SemaphoreProxy`](crate::SemaphoreProxy) (a `Semaphore` or
    /// `BoundedSemaphore`). Permits are counted per connection on the server (as the
    /// blocking proxy's): those taken through this [`AsyncManager`] and not given back
    /// are returned when its connection vanishes.
    ///
    /// [`acquire`](Self::acquire) is cancel safe: a permit obtained by an `acquire`
    /// whose future was dropped is given back (a release goes out before the next
    /// call through this manager), exactly as a cancelled [`AsyncLockProxy::acquire`].
    ///
    /// ```
    /// # use multiproc_manager::{Manager, RemoteErrorKind, aio::AsyncManager};
    /// # use std::time::Duration;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let sem = m.semaphore(2).await?;
    /// assert!(sem.acquire(None).await?);
    /// assert!(sem.acquire(Some(Duration::ZERO)).await?);
    /// assert!(!sem.acquire(Some(Duration::from_millis(10))).await?);
    /// assert_eq!(sem.value().await?, 0);
    /// sem.release().await?;
    /// sem.release().await?;
    /// assert_eq!(sem.value().await?, 2);
    /// let bounded = m.bounded_semaphore(1).await?;
    /// let err = bounded.release().await.unwrap_err(); // above its initial value
    /// assert_eq!(err.remote_kind(), Some(RemoteErrorKind::ValueError));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    AsyncSemaphoreProxy []
);

impl AsyncSemaphoreProxy {
    /// CPython's `acquire(block, timeout)`: `None` waits (on the server) until a permit
    /// is free, `Some(t)` at most `t` (`Some(Duration::ZERO)` is `acquire(False)`);
    /// whether a permit was taken. Pair with [`release`](Self::release).
    ///
    /// Cancel safe: a future dropped after its request went out leaves the call
    /// settled by the connection — a permit the server grants it afterwards is given
    /// back when the reply is read, never lost; dropped before, nothing was asked.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # use std::time::Duration;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let sem = m.semaphore(1).await?;
    /// assert!(sem.acquire(None).await?);
    /// assert!(!sem.acquire(Some(Duration::from_millis(10))).await?); // none free
    /// sem.release().await?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`AcquireError::OwnerDied`] carrying `true` when the permit is one a vanished
    /// client left — **it is taken then**; [`AcquireError::Failed`] with
    /// [`Error::ManagerGone`] and the like.
    pub async fn acquire(&self, timeout: Option<Duration>) -> Result<bool, AcquireError<bool>> {
        self.p.acquire_raw(0, timeout).await
    }

    /// `release()`: gives a permit back (any client may).
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let sem = m.semaphore(0).await?;
    /// sem.release().await?;
    /// assert_eq!(sem.value().await?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// `ValueError` for a bounded semaphore released too often,
    /// [`Error::ManagerGone`].
    pub async fn release(&self) -> Result<(), Error> {
        self.p.release_raw(0).await
    }

    /// The current counter (`get_value()`).
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let sem = m.semaphore(2).await?;
    /// assert!(sem.acquire(None).await?);
    /// assert_eq!(sem.value().await?, 1);
    /// sem.release().await?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    pub async fn value(&self) -> Result<u64, Error> {
        self.p.call_as(Op::Lock(LockOp::Locked)).await
    }
}

/// The async form of [`ConditionProxy`](crate::ConditionProxy) (over its own
/// re-entrant lock). Its owner is this proxy value and its clones, as an
/// [`AsyncLockProxy`]'s.
///
/// Cancel safety:
/// * a dropped [`acquire`](Self::acquire) leaves the lock as it found it (obtained
///   afterwards, it is released);
/// * a dropped [`wait`](Self::wait) (or [`wait_timeout`](Self::wait_timeout)) **gives
///   the lock up**: CPython's `wait` releases the lock, waits and re-acquires it before
///   it returns; a future dropped part-way cannot re-acquire, so the server finishes
///   the wait (re-acquiring when notified or timed out) and that reply is settled by a
///   release — one level of the lock, like a dropped acquire's. A wait dropped before
///   its request went out releases the lock too, so the state after a dropped wait does
///   not depend on where it was cut: treat the lock as **not held** and acquire again
///   before touching the state it protects. All levels of a re-entrant hold are given
///   up (as many releases as this owner's acquires minus releases). The dropped wait
///   may still be waiting on the server, so the proxy (with its clones) goes on as a
///   **new owner**: its next acquire never shares the old wait's hold. (A notification
///   may go to a dropped wait still waiting there, as to a thread that stops caring.)
///
/// ```
/// # use multiproc_manager::{Manager, aio::AsyncManager};
/// # use std::time::Duration;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let manager = Manager::in_thread()?;
/// # let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
/// # rt.block_on(async {
/// let m = AsyncManager::new(&manager).await?;
/// let cond = m.condition().await?;
/// let ready = m.value(false).await?;
/// let waiter = tokio::spawn({
///     let (cond, ready) = (cond.clone_owner(), ready.clone());
///     async move {
///         cond.acquire(None).await?;
///         while !ready.get().await? {
///             cond.wait().await?;
///         }
///         cond.release().await
///     }
/// });
/// cond.acquire(None).await?;
/// ready.set(true).await?;
/// cond.notify_all().await?;
/// cond.release().await?;
/// waiter.await??;
/// assert!(cond.acquire(Some(Duration::ZERO)).await?);
/// assert!(!cond.wait_timeout(Duration::from_millis(10)).await?); // held again after
/// cond.release().await?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })
/// # }
/// ```
#[derive(Clone)]
pub struct AsyncConditionProxy {
    p: AsyncProxy,
    owner: Arc<CondOwner>,
}

/// The owner of a condition's lock, shared by a proxy and its clones.
struct CondOwner {
    /// Replaced after a dropped wait: the wait may still run on the server (a worker
    /// there may start it after this owner's next request), so the old owner is left
    /// to it and the proxy goes on as a new owner holding nothing.
    id: AtomicU64,
    /// How many times this owner holds the lock, as far as its calls know (what a
    /// dropped wait gives up).
    levels: std::sync::atomic::AtomicU32,
}

impl fmt::Debug for AsyncConditionProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncConditionProxy")
            .field("id", &self.p.id)
            .field("owner", &self.owner.id.load(Ordering::Relaxed))
            .finish()
    }
}

/// Drops a wait's owner when the wait is dropped (see [`CondOwner::id`]).
struct WaitGuard<'a> {
    owner: &'a CondOwner,
    armed: bool,
}

impl Drop for WaitGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.owner.id.store(
                NEXT_OWNER.fetch_add(1, Ordering::Relaxed),
                Ordering::Relaxed,
            );
            self.owner.levels.store(0, Ordering::Relaxed);
        }
    }
}

impl AsyncConditionProxy {
    fn wrap(p: AsyncProxy) -> Self {
        AsyncConditionProxy {
            p,
            owner: Arc::new(CondOwner {
                id: AtomicU64::new(NEXT_OWNER.fetch_add(1, Ordering::Relaxed)),
                levels: std::sync::atomic::AtomicU32::new(0),
            }),
        }
    }

    fn owner(&self) -> u64 {
        self.owner.id.load(Ordering::Relaxed)
    }

    /// The object's id on its server.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let cond = m.condition().await?;
    /// assert_eq!(cond.clone().id(), cond.id());
    /// assert_ne!(m.condition().await?.id(), cond.id());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    pub fn id(&self) -> u64 {
        self.p.id
    }

    /// A proxy of the same condition with an owner of its own (as another thread's in
    /// CPython): [`clone`](Clone::clone) shares the owner, so clones hold the lock
    /// together.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # use std::time::Duration;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let cond = m.condition().await?;
    /// assert!(cond.acquire(None).await?);
    /// assert!(cond.clone().acquire(Some(Duration::ZERO)).await?); // same owner: re-entrant
    /// let other = cond.clone_owner();
    /// assert!(!other.acquire(Some(Duration::ZERO)).await?); // held by another owner
    /// cond.release().await?;
    /// cond.release().await?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    pub fn clone_owner(&self) -> Self {
        Self::wrap(self.p.clone())
    }

    /// `acquire(block, timeout)` of the condition's lock, as
    /// [`AsyncLockProxy::acquire`] (re-entrant for this owner).
    ///
    /// Cancel safe: a lock obtained by a dropped `acquire` is released.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # use std::time::Duration;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let cond = m.condition().await?;
    /// assert!(cond.acquire(None).await?);
    /// assert!(cond.acquire(Some(Duration::ZERO)).await?); // re-entrant
    /// cond.release().await?;
    /// cond.release().await?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`AsyncLockProxy::acquire`].
    pub async fn acquire(&self, timeout: Option<Duration>) -> Result<bool, AcquireError<bool>> {
        let r = self.p.acquire_raw(self.owner(), timeout).await;
        if matches!(r, Ok(true) | Err(AcquireError::OwnerDied(_))) {
            self.owner.levels.fetch_add(1, Ordering::Relaxed);
        }
        r
    }

    /// `release()` (one level).
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # use multiproc_manager::RemoteErrorKind;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let cond = m.condition().await?;
    /// assert!(cond.acquire(None).await?);
    /// cond.release().await?;
    /// let err = cond.release().await.unwrap_err(); // not held
    /// assert_eq!(err.remote_kind(), Some(RemoteErrorKind::RuntimeError));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// `RuntimeError` when this owner does not hold it, [`Error::ManagerGone`].
    pub async fn release(&self) -> Result<(), Error> {
        self.p.release_raw(self.owner()).await?;
        let _ = self
            .owner
            .levels
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
        Ok(())
    }

    async fn wait_op(&self, timeout: Option<Duration>) -> Result<bool, Error> {
        let owner = self.owner();
        let settle = Settle::Rewait {
            obj: self.p.id,
            owner,
            levels: self.owner.levels.load(Ordering::Relaxed).max(1),
        };
        let mut guard = WaitGuard {
            owner: &self.owner,
            armed: true,
        };
        let r = self
            .p
            .call_owned(owner, Op::Condition(ConditionOp::Wait { timeout }), settle)
            .await;
        guard.armed = false;
        Ok(bool::from_value(r?)?)
    }

    /// `wait()`: releases the lock, waits (on the server) for a notification,
    /// re-acquires it.
    ///
    /// Cancel safe, giving the lock up: see [the type](Self) — after a dropped `wait`
    /// this owner does not hold the lock.
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
    /// let notifier = tokio::spawn({
    ///     let cond = cond.clone_owner();
    ///     async move {
    ///         cond.acquire(None).await?; // free once the wait below released it
    ///         cond.notify(1).await?;
    ///         cond.release().await
    ///     }
    /// });
    /// cond.wait().await?;
    /// cond.release().await?; // held again after the wait
    /// notifier.await??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// `RuntimeError` when the lock is not held, [`Error::ManagerGone`].
    pub async fn wait(&self) -> Result<(), Error> {
        self.wait_op(None).await.map(drop)
    }

    /// `wait(timeout)`: whether it was notified (false on timeout; the lock is held
    /// again either way).
    ///
    /// Cancel safe as [`wait`](Self::wait).
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # use std::time::Duration;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let cond = m.condition().await?;
    /// assert!(cond.acquire(None).await?);
    /// assert!(!cond.wait_timeout(Duration::from_millis(10)).await?); // nobody notified
    /// cond.release().await?; // held again after the wait
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`wait`](Self::wait).
    pub async fn wait_timeout(&self, timeout: Duration) -> Result<bool, Error> {
        self.wait_op(Some(timeout)).await
    }

    /// `wait_for(predicate)`: waits until `predicate()` holds (checked here, under the
    /// lock, before each wait).
    ///
    /// Cancel safe as [`wait`](Self::wait): its only await points are waits, so a
    /// dropped `wait_for` gives the lock up.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # use std::sync::Arc;
    /// # use std::sync::atomic::{AtomicBool, Ordering};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let cond = m.condition().await?;
    /// let ready = Arc::new(AtomicBool::new(false));
    /// assert!(cond.acquire(None).await?);
    /// let notifier = tokio::spawn({
    ///     let (cond, ready) = (cond.clone_owner(), ready.clone());
    ///     async move {
    ///         cond.acquire(None).await?;
    ///         ready.store(true, Ordering::SeqCst);
    ///         cond.notify_all().await?;
    ///         cond.release().await
    ///     }
    /// });
    /// cond.wait_for(|| ready.load(Ordering::SeqCst)).await?;
    /// cond.release().await?;
    /// notifier.await??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`wait`](Self::wait).
    pub async fn wait_for(&self, mut predicate: impl FnMut() -> bool) -> Result<(), Error> {
        while !predicate() {
            self.wait().await?;
        }
        Ok(())
    }

    /// `wait_for(predicate, timeout)`: the predicate's last value (false when
    /// `timeout` passed with it still false). Cancel safe as
    /// [`wait_for`](Self::wait_for).
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # use std::time::Duration;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let cond = m.condition().await?;
    /// cond.acquire(None).await?;
    /// assert!(!cond.wait_for_timeout(|| false, Duration::from_millis(10)).await?);
    /// assert!(cond.wait_for_timeout(|| true, Duration::from_secs(60)).await?); // no wait
    /// cond.release().await?; // held throughout
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`wait`](Self::wait).
    pub async fn wait_for_timeout(
        &self,
        mut predicate: impl FnMut() -> bool,
        timeout: Duration,
    ) -> Result<bool, Error> {
        let Some(deadline) = std::time::Instant::now().checked_add(timeout) else {
            // a timeout past the clock's range is no timeout
            self.wait_for(predicate).await?;
            return Ok(true);
        };
        loop {
            if predicate() {
                return Ok(true);
            }
            match deadline.checked_duration_since(std::time::Instant::now()) {
                Some(left) if !left.is_zero() => self.wait_timeout(left).await?,
                _ => return Ok(predicate()),
            };
        }
    }

    /// `notify(n)`: wakes up to `n` waiters. A dropped `notify` may or may not have
    /// notified.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # use multiproc_manager::RemoteErrorKind;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let cond = m.condition().await?;
    /// assert!(cond.acquire(None).await?);
    /// cond.notify(1).await?; // nobody waits: nothing happens
    /// cond.release().await?;
    /// let err = cond.notify(1).await.unwrap_err(); // not held
    /// assert_eq!(err.remote_kind(), Some(RemoteErrorKind::RuntimeError));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// `RuntimeError` when the lock is not held, [`Error::ManagerGone`].
    pub async fn notify(&self, n: u32) -> Result<(), Error> {
        self.p
            .call_owned(
                self.owner(),
                Op::Condition(ConditionOp::Notify(u64::from(n))),
                Settle::Discard,
            )
            .await
            .map(drop)
    }

    /// `notify_all()`. A dropped `notify_all` may or may not have notified.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # use multiproc_manager::RemoteErrorKind;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let cond = m.condition().await?;
    /// assert!(cond.acquire(None).await?);
    /// cond.notify_all().await?;
    /// cond.release().await?;
    /// let err = cond.notify_all().await.unwrap_err(); // not held
    /// assert_eq!(err.remote_kind(), Some(RemoteErrorKind::RuntimeError));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`notify`](Self::notify).
    pub async fn notify_all(&self) -> Result<(), Error> {
        self.p
            .call_owned(
                self.owner(),
                Op::Condition(ConditionOp::NotifyAll),
                Settle::Discard,
            )
            .await
            .map(drop)
    }
}

async_proxy!(
    /// The async form of [`BarrierProxy`](crate::BarrierProxy).
    ///
    /// Cancel safety: a [`wait`](Self::wait) dropped before its request went out did
    /// not arrive; one dropped after **has arrived** — the server counts the party
    /// and the barrier passes with it when the others come (its index is discarded),
    /// as a thread that arrived and then stopped listening. To withdraw a party that
    /// will not come back, [`abort`](Self::abort) or [`reset`](Self::reset). The other
    /// calls may or may not have taken effect when dropped.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, RemoteErrorKind, aio::AsyncManager};
    /// # use std::time::Duration;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let b = m.barrier(2).await?;
    /// let (a, c) = tokio::join!(b.wait(), b.wait());
    /// let mut idx = [a?, c?];
    /// idx.sort_unstable();
    /// assert_eq!(idx, [0, 1]);
    /// assert_eq!((b.parties().await?, b.n_waiting().await?), (2, 0));
    /// let err = b.wait_timeout(Duration::from_millis(10)).await.unwrap_err();
    /// assert_eq!(err.remote_kind(), Some(RemoteErrorKind::BrokenBarrier));
    /// assert!(b.broken().await?);
    /// b.reset().await?;
    /// assert!(!b.broken().await?);
    /// b.abort().await?;
    /// assert!(b.broken().await?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    AsyncBarrierProxy []
);

impl AsyncBarrierProxy {
    /// `wait()`: this party's arrival index (`0..parties`).
    ///
    /// Cancel safe in the sense of [the type](Self): a dropped wait that went out
    /// still counts as arrived.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let b = m.barrier(2).await?;
    /// let (x, y) = tokio::join!(b.wait(), b.wait());
    /// let mut idx = [x?, y?];
    /// idx.sort_unstable();
    /// assert_eq!(idx, [0, 1]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// `BrokenBarrier` (abort, reset, a vanished party), [`Error::ManagerGone`].
    pub async fn wait(&self) -> Result<u32, Error> {
        self.p
            .call_as(Op::Barrier(BarrierOp::Wait { timeout: None }))
            .await
    }

    /// `wait(timeout)`: a timeout breaks the barrier (for everyone, as in CPython) and
    /// is reported as `BrokenBarrier`. Cancel safe as [`wait`](Self::wait).
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
    /// let b = m.barrier(2).await?;
    /// let err = b.wait_timeout(Duration::from_millis(10)).await.unwrap_err(); // alone
    /// assert_eq!(err.remote_kind(), Some(RemoteErrorKind::BrokenBarrier));
    /// assert!(b.broken().await?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`wait`](Self::wait).
    pub async fn wait_timeout(&self, timeout: Duration) -> Result<u32, Error> {
        self.p
            .call_as(Op::Barrier(BarrierOp::Wait {
                timeout: Some(timeout),
            }))
            .await
    }

    /// `abort()`: puts the barrier into the broken state (waiters get `BrokenBarrier`).
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # use multiproc_manager::RemoteErrorKind;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let b = m.barrier(1).await?;
    /// b.abort().await?;
    /// assert!(b.broken().await?);
    /// let err = b.wait().await.unwrap_err();
    /// assert_eq!(err.remote_kind(), Some(RemoteErrorKind::BrokenBarrier));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    pub async fn abort(&self) -> Result<(), Error> {
        self.p.call_unit(Op::Barrier(BarrierOp::Abort)).await
    }

    /// `reset()`: back to the initial state (waiters get `BrokenBarrier`).
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let b = m.barrier(1).await?;
    /// b.abort().await?;
    /// b.reset().await?;
    /// assert!(!b.broken().await?);
    /// assert_eq!(b.wait().await?, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    pub async fn reset(&self) -> Result<(), Error> {
        self.p.call_unit(Op::Barrier(BarrierOp::Reset)).await
    }

    /// `(parties, n_waiting, broken)`, read together.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let b = m.barrier(3).await?;
    /// assert_eq!(b.info().await?, (3, 0, false));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    pub async fn info(&self) -> Result<(u32, u32, bool), Error> {
        self.p.call_as(Op::Barrier(BarrierOp::Info)).await
    }

    /// `parties`.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let b = m.barrier(3).await?;
    /// assert_eq!(b.parties().await?, 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    pub async fn parties(&self) -> Result<u32, Error> {
        self.info().await.map(|(p, _, _)| p)
    }

    /// `n_waiting`.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let b = m.barrier(2).await?;
    /// assert_eq!(b.n_waiting().await?, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    pub async fn n_waiting(&self) -> Result<u32, Error> {
        self.info().await.map(|(_, n, _)| n)
    }

    /// `broken`.
    ///
    /// ```
    /// # use multiproc_manager::{Manager, aio::AsyncManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::in_thread()?;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// let m = AsyncManager::new(&manager).await?;
    /// let b = m.barrier(2).await?;
    /// assert!(!b.broken().await?);
    /// b.abort().await?;
    /// assert!(b.broken().await?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::ManagerGone`].
    pub async fn broken(&self) -> Result<bool, Error> {
        self.info().await.map(|(_, _, b)| b)
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
