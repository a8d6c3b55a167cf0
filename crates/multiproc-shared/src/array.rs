//! [`RawArray`] and [`Array`].

use std::fmt;
use std::marker::PhantomData;

use multiproc_sync::{CreateError, OwnerDied, RLock, RLockGuard};
use serde::{Deserialize, Serialize};

use crate::error::IndexError;
use crate::mapping::{Cells, as_repr, as_repr_mut, zero};
use crate::pod::Shareable;

/// A fixed-length array of `T` in shared memory, without a lock
/// (`multiprocessing.RawArray`).
///
/// Bulk copies ([`copy_from_slice`](Self::copy_from_slice), [`to_vec`](Self::to_vec))
/// are a `memcpy` for every [`Pod`](crate::Pod) `T`.
///
/// ```
/// use multiproc_shared::RawArray;
/// let a = RawArray::from_slice(&[1.0f64, 2.0, 3.0])?;
/// a.set(1, 20.0)?;
/// assert_eq!(a.to_vec(), [1.0, 20.0, 3.0]);
/// assert_eq!(a.iter().sum::<f64>(), 24.0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Serialize, Deserialize)]
#[serde(bound = "")]
pub struct RawArray<T: Shareable> {
    cells: Cells<T::Repr>,
    _t: PhantomData<fn() -> T>,
}

impl<T: Shareable> Clone for RawArray<T> {
    fn clone(&self) -> Self {
        RawArray {
            cells: self.cells.clone(),
            _t: PhantomData,
        }
    }
}

impl<T: Shareable> RawArray<T> {
    /// `len` zeroed elements (`RawArray('d', 10)`; `false` for `bool`).
    ///
    /// # Errors
    /// The shared segment could not be created.
    ///
    /// ```
    /// use multiproc_shared::RawArray;
    /// let a = RawArray::<u32>::zeroed(4)?;
    /// assert_eq!(a.to_vec(), [0, 0, 0, 0]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn zeroed(len: usize) -> Result<Self, CreateError> {
        Ok(RawArray {
            cells: Cells::zeroed(len)?,
            _t: PhantomData,
        })
    }

    /// A copy of `src` (`RawArray('i', range(10))`).
    ///
    /// # Errors
    /// The shared segment could not be created.
    ///
    /// ```
    /// use multiproc_shared::RawArray;
    /// let a = RawArray::from_slice(&[1.0_f32, 2.0])?;
    /// assert_eq!(a.to_vec(), [1.0, 2.0]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_slice(src: &[T]) -> Result<Self, CreateError> {
        let a = Self::zeroed(src.len())?;
        // Same length: in bounds.
        let _ = a.copy_from_slice_at(0, src);
        Ok(a)
    }

    /// The number of elements.
    ///
    /// ```
    /// use multiproc_shared::RawArray;
    /// assert_eq!(RawArray::<u8>::zeroed(3)?.len(), 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    /// Whether it has no elements.
    ///
    /// ```
    /// use multiproc_shared::RawArray;
    /// assert!(!RawArray::<u8>::zeroed(3)?.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Element `i`, or `None` past the end.
    ///
    /// ```
    /// use multiproc_shared::RawArray;
    /// let a = RawArray::from_slice(&[5_i16, 6])?;
    /// assert_eq!(a.get(1), Some(6));
    /// assert_eq!(a.get(2), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get(&self, i: usize) -> Option<T> {
        self.cells.read(i).map(T::from_repr)
    }

    /// Writes element `i`.
    ///
    /// # Errors
    /// [`IndexError`] if `i >= len`.
    ///
    /// ```
    /// use multiproc_shared::RawArray;
    /// let a = RawArray::<i16>::zeroed(2)?;
    /// a.set(0, 9)?;
    /// assert_eq!(a.to_vec(), [9, 0]);
    /// assert!(a.set(2, 1).is_err()); // IndexError
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set(&self, i: usize, v: T) -> Result<(), IndexError> {
        if self.cells.write(i, v.to_repr()) {
            Ok(())
        } else {
            Err(IndexError {
                index: i,
                len: self.len(),
            })
        }
    }

    /// Overwrites the whole array with `src` (a `memcpy` for `Pod` types).
    ///
    /// # Errors
    /// [`IndexError`] if `src.len() != len`.
    ///
    /// ```
    /// use multiproc_shared::RawArray;
    /// let a = RawArray::<u8>::zeroed(3)?;
    /// a.copy_from_slice(&[1, 2, 3])?;
    /// assert_eq!(a.to_vec(), [1, 2, 3]);
    /// assert!(a.copy_from_slice(&[1]).is_err()); // another length
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn copy_from_slice(&self, src: &[T]) -> Result<(), IndexError> {
        if src.len() != self.len() {
            return Err(IndexError {
                index: src.len(),
                len: self.len(),
            });
        }
        self.copy_from_slice_at(0, src)
    }

    /// Writes `src` to elements `start..start + src.len()`.
    ///
    /// # Errors
    /// [`IndexError`] if that range does not fit.
    ///
    /// ```
    /// use multiproc_shared::RawArray;
    /// let a = RawArray::<u8>::zeroed(4)?;
    /// a.copy_from_slice_at(1, &[7, 8])?;
    /// assert_eq!(a.to_vec(), [0, 7, 8, 0]);
    /// assert!(a.copy_from_slice_at(3, &[1, 2]).is_err()); // past the end
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn copy_from_slice_at(&self, start: usize, src: &[T]) -> Result<(), IndexError> {
        let err = IndexError {
            index: start.saturating_add(src.len()),
            len: self.len(),
        };
        if start.checked_add(src.len()).is_none_or(|e| e > self.len()) {
            return Err(err);
        }
        match as_repr(src) {
            Some(r) => {
                self.cells.write_slice(start, r);
            }
            None => {
                for (k, v) in src.iter().enumerate() {
                    self.cells.write(start + k, v.to_repr());
                }
            }
        }
        Ok(())
    }

    /// Copies elements `start..start + dst.len()` into `dst`.
    ///
    /// # Errors
    /// [`IndexError`] if that range does not fit.
    ///
    /// ```
    /// use multiproc_shared::RawArray;
    /// let a = RawArray::from_slice(&[1_u8, 2, 3, 4])?;
    /// let mut out = [0; 2];
    /// a.copy_to_slice(2, &mut out)?;
    /// assert_eq!(out, [3, 4]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn copy_to_slice(&self, start: usize, dst: &mut [T]) -> Result<(), IndexError> {
        if start.checked_add(dst.len()).is_none_or(|e| e > self.len()) {
            return Err(IndexError {
                index: start.saturating_add(dst.len()),
                len: self.len(),
            });
        }
        match as_repr_mut(dst) {
            Some(r) => {
                self.cells.read_slice(start, r);
            }
            None => {
                for (k, v) in dst.iter_mut().enumerate() {
                    *v = T::from_repr(self.cells.read(start + k).unwrap_or_else(zero));
                }
            }
        }
        Ok(())
    }

    /// A copy of the whole array (Python's `a[:]`).
    ///
    /// ```
    /// use multiproc_shared::RawArray;
    /// assert_eq!(RawArray::from_slice(&[1_u64, 2])?.to_vec(), [1, 2]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn to_vec(&self) -> Vec<T> {
        let mut v = vec![T::from_repr(zero()); self.len()];
        // Same length: in bounds.
        let _ = self.copy_to_slice(0, &mut v);
        v
    }

    /// Iterates over copies of the elements (each read when reached).
    ///
    /// ```
    /// use multiproc_shared::RawArray;
    /// let a = RawArray::from_slice(&[1_u64, 2, 3])?;
    /// assert_eq!(a.iter().sum::<u64>(), 6);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn iter(&self) -> impl ExactSizeIterator<Item = T> + '_ {
        (0..self.len()).map(|i| T::from_repr(self.cells.read(i).unwrap_or_else(zero)))
    }

    /// Whether `self` and `other` are the same shared array (in this process).
    ///
    /// ```
    /// use multiproc_shared::RawArray;
    /// let a = RawArray::<u8>::zeroed(1)?;
    /// assert!(a.same_as(&a.clone()));
    /// assert!(!a.same_as(&RawArray::zeroed(1)?));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn same_as(&self, other: &Self) -> bool {
        self.cells.ptr_eq(&other.cells)
    }
}

impl<T: Shareable + fmt::Debug> fmt::Debug for RawArray<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter().take(32)).finish()
    }
}

/// A fixed-length array of `T` in shared memory with a lock
/// (`multiprocessing.Array(..., lock=True)`).
///
/// Single-element `get`/`set` and the bulk copies take the lock (an [`RLock`]) for the
/// call, as CPython's `SynchronizedArray` does per index or slice; hold
/// [`lock`](Self::lock) to make several operations atomic.
///
/// ```
/// use multiproc_shared::Array;
/// let a = Array::from_slice(&[0i32, 1, 2, 3])?;
/// for i in 0..a.len() {
///     a.set(i, -a.get(i).unwrap_or(0))?;
/// }
/// assert_eq!(a.to_vec(), [0, -1, -2, -3]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Serialize, Deserialize)]
#[serde(bound = "")]
pub struct Array<T: Shareable> {
    raw: RawArray<T>,
    lock: RLock,
}

impl<T: Shareable> Clone for Array<T> {
    fn clone(&self) -> Self {
        Array {
            raw: self.raw.clone(),
            lock: self.lock.clone(),
        }
    }
}

/// Holds an [`Array`]'s lock; gives access to the elements.
///
/// ```
/// use multiproc_shared::Array;
/// use multiproc_sync::OwnerDied;
///
/// let a = Array::from_slice(&[1u32, 2, 3])?;
/// {
///     // Several operations made atomic: nobody else sees a half-rotated array.
///     let g = a.lock().unwrap_or_else(OwnerDied::into_inner);
///     let first = g.get(0).unwrap_or(0);
///     for i in 1..g.len() {
///         g.set(i - 1, g.get(i).unwrap_or(0))?;
///     }
///     g.set(g.len() - 1, first)?;
/// }
/// assert_eq!(a.to_vec(), [2, 3, 1]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "the lock is released when the guard is dropped"]
pub struct ArrayGuard<'a, T: Shareable> {
    raw: &'a RawArray<T>,
    _lock: RLockGuard<'a>,
}

impl<T: Shareable> std::ops::Deref for ArrayGuard<'_, T> {
    type Target = RawArray<T>;
    fn deref(&self) -> &RawArray<T> {
        self.raw
    }
}

impl<T: Shareable + fmt::Debug> fmt::Debug for ArrayGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.raw.fmt(f)
    }
}

impl<T: Shareable> Array<T> {
    /// `len` zeroed elements with a new lock.
    ///
    /// # Errors
    /// A shared segment could not be created.
    ///
    /// ```
    /// use multiproc_shared::Array;
    /// let a = Array::<f64>::zeroed(2)?;
    /// assert_eq!(a.to_vec(), [0.0, 0.0]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn zeroed(len: usize) -> Result<Self, CreateError> {
        Ok(Array {
            raw: RawArray::zeroed(len)?,
            lock: RLock::new()?,
        })
    }

    /// A copy of `src` with a new lock.
    ///
    /// # Errors
    /// A shared segment could not be created.
    ///
    /// ```
    /// use multiproc_shared::Array;
    /// let a = Array::from_slice(&[1_i32, 2])?;
    /// assert_eq!(a.get(0), Some(1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_slice(src: &[T]) -> Result<Self, CreateError> {
        Ok(Array {
            raw: RawArray::from_slice(src)?,
            lock: RLock::new()?,
        })
    }

    /// Wraps `raw` with `lock` (CPython's `synchronized(obj, lock)`).
    ///
    /// ```
    /// use multiproc_shared::{Array, RawArray};
    /// use multiproc_sync::RLock;
    /// let lock = RLock::new()?;
    /// let a = Array::with_lock(RawArray::<u8>::zeroed(2)?, lock.clone());
    /// assert!(a.get_lock().same_as(&lock));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_lock(raw: RawArray<T>, lock: RLock) -> Self {
        Array { raw, lock }
    }

    /// The lock.
    ///
    /// ```
    /// use multiproc_shared::Array;
    /// let a = Array::<u8>::zeroed(1)?;
    /// assert!(!a.get_lock().is_locked());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_lock(&self) -> &RLock {
        &self.lock
    }

    /// The array without its lock.
    ///
    /// ```
    /// use multiproc_shared::Array;
    /// let a = Array::from_slice(&[4_u8])?;
    /// assert_eq!(a.get_obj().get(0), Some(4)); // the raw array, without the lock
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_obj(&self) -> &RawArray<T> {
        &self.raw
    }

    /// Takes the lock; the guard derefs to the [`RawArray`]. Waits as long as another
    /// thread or process holds it; for a bounded wait, use
    /// [`get_lock`](Self::get_lock)`().lock_timeout(..)` and then this call, which the
    /// holding thread re-enters at once (the lock is an [`RLock`]).
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_shared::Array;
    /// use multiproc_sync::OwnerDied;
    ///
    /// let a = Array::<u8>::zeroed(2)?;
    /// let outer = a.get_lock().lock_timeout(Duration::from_secs(60));
    /// assert!(outer.is_ok());
    /// let g = a.lock().unwrap_or_else(OwnerDied::into_inner); // same thread: at once
    /// g.copy_from_slice(&[7, 8])?;
    /// drop((g, outer));
    /// assert_eq!(a.to_vec(), [7, 8]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`OwnerDied`] (carrying the guard) if the lock's holder died holding it.
    pub fn lock(&self) -> Result<ArrayGuard<'_, T>, OwnerDied<ArrayGuard<'_, T>>> {
        match self.lock.lock() {
            Ok(g) => Ok(ArrayGuard {
                raw: &self.raw,
                _lock: g,
            }),
            Err(d) => Err(d.map(|g| ArrayGuard {
                raw: &self.raw,
                _lock: g,
            })),
        }
    }

    fn guard(&self) -> ArrayGuard<'_, T> {
        self.lock().unwrap_or_else(OwnerDied::into_inner)
    }

    /// The number of elements.
    ///
    /// ```
    /// use multiproc_shared::Array;
    /// assert_eq!(Array::<u8>::zeroed(5)?.len(), 5);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn len(&self) -> usize {
        self.raw.len()
    }

    /// Whether it has no elements.
    ///
    /// ```
    /// use multiproc_shared::Array;
    /// assert!(!Array::<u8>::zeroed(5)?.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// Element `i` under the lock.
    ///
    /// ```
    /// use multiproc_shared::Array;
    /// let a = Array::from_slice(&[1_u8, 2])?;
    /// assert_eq!(a.get(1), Some(2));
    /// assert_eq!(a.get(9), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get(&self, i: usize) -> Option<T> {
        self.guard().get(i)
    }

    /// Writes element `i` under the lock.
    ///
    /// # Errors
    /// [`IndexError`] if `i >= len`.
    ///
    /// ```
    /// use multiproc_shared::Array;
    /// let a = Array::<u8>::zeroed(2)?;
    /// a.set(1, 5)?;
    /// assert_eq!(a.to_vec(), [0, 5]);
    /// assert!(a.set(2, 0).is_err()); // IndexError
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set(&self, i: usize, v: T) -> Result<(), IndexError> {
        self.guard().set(i, v)
    }

    /// Overwrites the whole array under the lock.
    ///
    /// # Errors
    /// [`IndexError`] if `src.len() != len`.
    ///
    /// ```
    /// use multiproc_shared::Array;
    /// let a = Array::<u8>::zeroed(2)?;
    /// a.copy_from_slice(&[3, 4])?;
    /// assert_eq!(a.to_vec(), [3, 4]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn copy_from_slice(&self, src: &[T]) -> Result<(), IndexError> {
        self.guard().copy_from_slice(src)
    }

    /// A copy of the whole array, taken under the lock.
    ///
    /// ```
    /// use multiproc_shared::Array;
    /// assert_eq!(Array::from_slice(&[1_i8, -1])?.to_vec(), [1, -1]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn to_vec(&self) -> Vec<T> {
        self.guard().to_vec()
    }
}

impl<T: Shareable + fmt::Debug> fmt::Debug for Array<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Array")
            .field("elements", &self.raw)
            .field("lock", &self.lock)
            .finish()
    }
}
