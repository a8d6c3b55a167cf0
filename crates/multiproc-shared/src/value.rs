//! [`RawValue`] and [`Value`].

use std::fmt;
use std::marker::PhantomData;

use multiproc_sync::{CreateError, OwnerDied, RLock, RLockGuard};
use serde::{Deserialize, Serialize};

use crate::mapping::Cells;
use crate::pod::Shareable;

/// One `T` in shared memory, without a lock (`multiprocessing.RawValue`).
///
/// `get`/`set` copy the whole value; concurrent unsynchronised access from several
/// processes may observe a torn value for types wider than the machine word (see the
/// crate's `# Limitations`). Use [`Value`] for read-modify-write.
///
/// ```
/// use multiproc_shared::RawValue;
/// let v = RawValue::new(7i32)?;
/// v.set(v.get() + 1);
/// assert_eq!(v.get(), 8);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Serialize, Deserialize)]
#[serde(bound = "")]
pub struct RawValue<T: Shareable> {
    cell: Cells<T::Repr>,
    _t: PhantomData<fn() -> T>,
}

impl<T: Shareable> Clone for RawValue<T> {
    fn clone(&self) -> Self {
        RawValue {
            cell: self.cell.clone(),
            _t: PhantomData,
        }
    }
}

impl<T: Shareable> RawValue<T> {
    /// A shared value initialised to `v`.
    ///
    /// # Errors
    /// The shared segment could not be created.
    ///
    /// ```
    /// use multiproc_shared::RawValue;
    /// let v = RawValue::new(1.5_f64)?;
    /// assert_eq!(v.get(), 1.5);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(v: T) -> Result<Self, CreateError> {
        let cell = Cells::zeroed(1)?;
        cell.write(0, v.to_repr());
        Ok(RawValue {
            cell,
            _t: PhantomData,
        })
    }

    /// The current value (Python's `.value`).
    ///
    /// ```
    /// use multiproc_shared::RawValue;
    /// let v = RawValue::new(7_u32)?;
    /// let other = v.clone(); // the same shared memory
    /// other.set(8);
    /// assert_eq!(v.get(), 8);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get(&self) -> T {
        // Index 0 of a one-element segment is always in bounds.
        T::from_repr(self.cell.read(0).unwrap_or_else(crate::mapping::zero))
    }

    /// Replaces the value.
    ///
    /// ```
    /// use multiproc_shared::RawValue;
    /// let v = RawValue::new(0_i64)?;
    /// v.set(-1);
    /// assert_eq!(v.get(), -1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set(&self, v: T) {
        self.cell.write(0, v.to_repr());
    }

    /// Whether `self` and `other` are the same shared value (in this process).
    ///
    /// ```
    /// use multiproc_shared::RawValue;
    /// let v = RawValue::new(0_u8)?;
    /// assert!(v.same_as(&v.clone()));
    /// assert!(!v.same_as(&RawValue::new(0_u8)?));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn same_as(&self, other: &Self) -> bool {
        self.cell.ptr_eq(&other.cell)
    }
}

impl<T: Shareable + fmt::Debug> fmt::Debug for RawValue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RawValue").field(&self.get()).finish()
    }
}

/// One `T` in shared memory with a lock (`multiprocessing.Value(..., lock=True)`).
///
/// The lock is an [`RLock`] as in CPython, so `get`/`set` (which take the lock) also
/// work while the calling thread holds [`get_lock`](Self::get_lock). For
/// read-modify-write take the guard:
///
/// ```
/// use multiproc_shared::Value;
/// use multiproc_sync::OwnerDied;
/// let counter = Value::new(0u64)?;
/// {
///     let g = counter.lock().unwrap_or_else(OwnerDied::into_inner);
///     g.set(g.get() + 1);
/// }
/// counter.update(|v| v + 1);
/// assert_eq!(counter.get(), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// `get`, `set` and `update` recover a lock whose holder died (the value itself is a
/// plain copy, never invalid); use [`lock`](Self::lock) to be told about it.
#[derive(Serialize, Deserialize)]
#[serde(bound = "")]
pub struct Value<T: Shareable> {
    raw: RawValue<T>,
    lock: RLock,
}

impl<T: Shareable> Clone for Value<T> {
    fn clone(&self) -> Self {
        Value {
            raw: self.raw.clone(),
            lock: self.lock.clone(),
        }
    }
}

/// Holds a [`Value`]'s lock; reads and writes the value.
///
/// ```
/// use multiproc_shared::Value;
/// use multiproc_sync::OwnerDied;
///
/// let balance = Value::new(100i64)?;
/// let g = balance.lock().unwrap_or_else(OwnerDied::into_inner);
/// if g.get() >= 30 {
///     g.update(|b| b - 30); // check and debit under one lock
/// }
/// drop(g);
/// assert_eq!(balance.get(), 70);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "the lock is released when the guard is dropped"]
pub struct ValueGuard<'a, T: Shareable> {
    raw: &'a RawValue<T>,
    _lock: RLockGuard<'a>,
}

impl<T: Shareable> Value<T> {
    /// A shared value initialised to `v`, with a new lock.
    ///
    /// # Errors
    /// A shared segment could not be created.
    ///
    /// ```
    /// use multiproc_shared::Value;
    /// let v = Value::new(0_u64)?;
    /// assert_eq!(v.update(|n| n + 1), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(v: T) -> Result<Self, CreateError> {
        Self::with_lock(v, RLock::new()?)
    }

    /// A shared value using `lock` (which may guard other values too).
    ///
    /// # Errors
    /// A shared segment could not be created.
    ///
    /// ```
    /// use multiproc_shared::Value;
    /// use multiproc_sync::RLock;
    /// let lock = RLock::new()?;
    /// let a = Value::with_lock(1_i32, lock.clone())?;
    /// let b = Value::with_lock(2_i32, lock)?;
    /// assert!(a.get_lock().same_as(b.get_lock())); // one lock guards both
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_lock(v: T, lock: RLock) -> Result<Self, CreateError> {
        Ok(Value {
            raw: RawValue::new(v)?,
            lock,
        })
    }

    /// The lock (`get_lock()`).
    ///
    /// ```
    /// use multiproc_shared::Value;
    /// let v = Value::new(0_i32)?;
    /// assert!(!v.get_lock().is_locked());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_lock(&self) -> &RLock {
        &self.lock
    }

    /// The value without its lock (`get_obj()`).
    ///
    /// ```
    /// use multiproc_shared::Value;
    /// let v = Value::new(3_i32)?;
    /// assert_eq!(v.get_obj().get(), 3); // the raw value, without the lock
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_obj(&self) -> &RawValue<T> {
        &self.raw
    }

    /// Takes the lock, waiting as long as another thread or process holds it (for a
    /// bounded wait, use [`get_lock`](Self::get_lock)`().lock_timeout(..)` first).
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_shared::Value;
    /// use multiproc_sync::{OwnerDied, TryLockError};
    ///
    /// let v = Value::new(1u32)?;
    /// let g = v.lock().unwrap_or_else(OwnerDied::into_inner);
    /// let other = v.clone();
    /// let waited = std::thread::spawn(move || {
    ///     matches!(other.get_lock().lock_timeout(Duration::from_millis(10)), Err(TryLockError::WouldBlock))
    /// })
    /// .join()
    /// .unwrap();
    /// assert!(waited); // held by this thread
    /// g.set(2);
    /// drop(g);
    /// assert_eq!(v.get(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`OwnerDied`] (carrying the guard) if the lock's holder died holding it.
    pub fn lock(&self) -> Result<ValueGuard<'_, T>, OwnerDied<ValueGuard<'_, T>>> {
        match self.lock.lock() {
            Ok(g) => Ok(ValueGuard {
                raw: &self.raw,
                _lock: g,
            }),
            Err(d) => Err(d.map(|g| ValueGuard {
                raw: &self.raw,
                _lock: g,
            })),
        }
    }

    fn guard(&self) -> ValueGuard<'_, T> {
        self.lock().unwrap_or_else(OwnerDied::into_inner)
    }

    /// Reads the value under the lock (Python's `.value`).
    ///
    /// ```
    /// use multiproc_shared::Value;
    /// let v = Value::new(3_i32)?;
    /// assert_eq!(v.get(), 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get(&self) -> T {
        self.guard().get()
    }

    /// Writes the value under the lock.
    ///
    /// ```
    /// use multiproc_shared::Value;
    /// let v = Value::new(3_i32)?;
    /// v.set(4);
    /// assert_eq!(v.get(), 4);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set(&self, v: T) {
        self.guard().set(v);
    }

    /// Replaces the value by `f(value)` under the lock; returns the new value.
    ///
    /// ```
    /// use multiproc_shared::Value;
    /// let v = Value::new(10_i32)?;
    /// assert_eq!(v.update(|n| n * 2), 20); // read-modify-write under the lock
    /// assert_eq!(v.get(), 20);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn update(&self, f: impl FnOnce(T) -> T) -> T {
        self.guard().update(f)
    }
}

impl<T: Shareable + fmt::Debug> fmt::Debug for Value<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Value")
            .field("value", &self.raw.get())
            .field("lock", &self.lock)
            .finish()
    }
}

impl<T: Shareable> ValueGuard<'_, T> {
    /// The value.
    ///
    /// ```
    /// use multiproc_shared::Value;
    /// use multiproc_sync::OwnerDied;
    /// let v = Value::new(5_i32)?;
    /// let g = v.lock().unwrap_or_else(OwnerDied::into_inner);
    /// assert_eq!(g.get(), 5);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get(&self) -> T {
        self.raw.get()
    }

    /// Replaces the value.
    ///
    /// ```
    /// use multiproc_shared::Value;
    /// use multiproc_sync::OwnerDied;
    /// let v = Value::new(5_i32)?;
    /// {
    ///     let g = v.lock().unwrap_or_else(OwnerDied::into_inner);
    ///     g.set(g.get() + 1);
    /// }
    /// assert_eq!(v.get(), 6);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set(&self, v: T) {
        self.raw.set(v);
    }

    /// Replaces the value by `f(value)`; returns the new value.
    ///
    /// ```
    /// use multiproc_shared::Value;
    /// use multiproc_sync::OwnerDied;
    /// let v = Value::new(5_i32)?;
    /// let g = v.lock().unwrap_or_else(OwnerDied::into_inner);
    /// assert_eq!(g.update(|n| n - 5), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn update(&self, f: impl FnOnce(T) -> T) -> T {
        let v = f(self.raw.get());
        self.raw.set(v);
        v
    }
}

impl<T: Shareable + fmt::Debug> fmt::Debug for ValueGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ValueGuard").field(&self.get()).finish()
    }
}
