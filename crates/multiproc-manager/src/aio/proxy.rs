//! [`AsyncProxy`], what every async proxy wraps, and the macro that writes a typed one.

use std::fmt;
use std::time::Duration;

use crate::OwnerDied;
use crate::acquire::AcquireError;
use crate::error::{Error, TypeMismatch};
use crate::protocol::{AnyOp, CustomOp, LockOp, Op};
use crate::value::{FromValue, Kind, Value};

use super::AsyncManager;
use super::call::Settle;

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
    pub(super) m: AsyncManager,
    pub(super) id: u64,
    pub(super) kind: Kind,
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
    pub(super) async fn call_op(&self, op: Op) -> Result<Value, Error> {
        self.m.call(self.id, 0, op, Settle::Discard).await
    }

    /// A call whose reply is of no interest (an operation's `None`, or what the
    /// proxy's method does not return).
    pub(super) async fn call_unit(&self, op: Op) -> Result<(), Error> {
        self.call_op(op).await.map(drop)
    }

    pub(super) async fn call_as<T: FromValue>(&self, op: Op) -> Result<T, Error> {
        Ok(T::from_value(self.call_op(op).await?)?)
    }

    /// A call as `owner` (locks, semaphores, conditions).
    pub(super) async fn call_owned(
        &self,
        owner: u64,
        op: Op,
        settle: Settle,
    ) -> Result<Value, Error> {
        self.m.call(self.id, owner, op, settle).await
    }

    /// `acquire(timeout)` of a lock, semaphore or condition as `owner`; what it
    /// obtained is released if the call is dropped.
    pub(super) async fn acquire_raw(
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
    pub(super) async fn release_raw(&self, owner: u64) -> Result<(), Error> {
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
            pub(super) fn wrap(p: AsyncProxy) -> Self {
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
            /// manager or another [`AsyncManager`](super::AsyncManager)).
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
pub(super) use async_proxy;

/// Methods that several typed async proxies share, written once. A proxy lists the
/// ones it has inside its `impl` as `fn name;`, each after its own docs (its own
/// example): `len`, `is_empty`, `contains(x: X)` (`X` the type of what it holds), and
/// for the sequences of `T`s, `get`, `set`, `to_vec`.
macro_rules! async_methods {
    () => {};
    ($(#[$doc:meta])* fn contains($arg:ident: $x:ident); $($rest:tt)*) => {
        $(#[$doc])*
        pub async fn contains(&self, $arg: impl Into<$x>) -> Result<bool, Error> {
            self.p.call_as(Op::Any(AnyOp::Contains($arg.into().into()))).await
        }
        async_methods!($($rest)*);
    };
    ($(#[$doc:meta])* fn len; $($rest:tt)*) => {
        $(#[$doc])*
        pub async fn len(&self) -> Result<usize, Error> {
            self.p.len().await
        }
        async_methods!($($rest)*);
    };
    ($(#[$doc:meta])* fn is_empty; $($rest:tt)*) => {
        $(#[$doc])*
        pub async fn is_empty(&self) -> Result<bool, Error> {
            self.p.is_empty().await
        }
        async_methods!($($rest)*);
    };
    ($(#[$doc:meta])* fn get; $($rest:tt)*) => {
        $(#[$doc])*
        pub async fn get(&self, i: i64) -> Result<T, Error> {
            self.p.call_as(Op::List(ListOp::GetItem(Value::from(i)))).await
        }
        async_methods!($($rest)*);
    };
    ($(#[$doc:meta])* fn set; $($rest:tt)*) => {
        $(#[$doc])*
        pub async fn set(&self, i: i64, x: impl Into<T>) -> Result<(), Error> {
            self.p
                .call_unit(Op::List(ListOp::SetItem(Value::from(i), x.into().into())))
                .await
        }
        async_methods!($($rest)*);
    };
    ($(#[$doc:meta])* fn to_vec; $($rest:tt)*) => {
        $(#[$doc])*
        pub async fn to_vec(&self) -> Result<Vec<T>, Error> {
            self.p.call_as(Op::Any(AnyOp::Copy)).await
        }
        async_methods!($($rest)*);
    };
}
pub(super) use async_methods;
