//! The async container proxies: dict, list, `Namespace`, value, set, array.

use std::fmt;
use std::marker::PhantomData;

use crate::error::Error;
use crate::protocol::{AnyOp, DictOp, ListOp, NamespaceOp, Op, SetOp, ValueOp};
use crate::proxy::wire_values;
use crate::value::{FromValue, Value};

use super::AsyncProxy;
use super::proxy::{async_methods, async_proxy};

async_proxy!(
    /// The async form of [`DictProxy`](crate::DictProxy). Every method is cancel safe
    /// (see [the module](super)): a dropped call may or may not have taken effect, and
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

    async_methods! {
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
        fn contains(k: K);

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
        fn len;

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
        fn is_empty;
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

    async_methods! {
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
        fn get;

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
        fn set;
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

    async_methods! {
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
        fn len;

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
        fn is_empty;

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
        fn to_vec;
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

    async_methods! {
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
        fn contains(x: T);

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
        fn len;

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
        fn is_empty;
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

    async_methods! {
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
        fn to_vec;
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
    async_methods! {
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
        fn get;

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
        fn set;

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
        fn len;

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
        fn is_empty;

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
        fn to_vec;
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
