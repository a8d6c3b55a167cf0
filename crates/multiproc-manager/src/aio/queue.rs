//! The async queue proxy (bounded and joinable too).

use std::collections::VecDeque;
use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use crate::error::{Error, RemoteErrorKind};
use crate::protocol::{Op, QueueOp};
use crate::value::{FromValue, Value};

use super::AsyncProxy;
use super::call::{Settle, lock};
use super::proxy::async_proxy;

async_proxy!(
    /// The async form of [`QueueProxy`](crate::QueueProxy).
    ///
    /// [`get`](Self::get) is cancel safe without losing items: the item of a `get`
    /// whose future was dropped after its request went out is kept by the
    /// [`AsyncManager`](super::AsyncManager) and returned by the next `get` of this queue through it; and
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
