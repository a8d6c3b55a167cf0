//! [`Semaphore`] and [`BoundedSemaphore`].

use std::fmt;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::deadline::{Deadline, backoff_until};
use crate::error::{CreateError, ReleaseError};
use crate::mapping::Shared;
use crate::state::SemState;
use crate::sys;

impl SemState {
    pub(crate) fn try_take(&self) -> bool {
        let mut v = self.value.load(Ordering::Relaxed);
        while v > 0 {
            match self
                .value
                .compare_exchange_weak(v, v - 1, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(now) => v = now,
            }
        }
        false
    }

    fn acquire(&self, deadline: Deadline) -> bool {
        if backoff_until(deadline, || self.try_take()) {
            return true;
        }
        if matches!(deadline, Deadline::Now) {
            return false;
        }
        loop {
            // Dekker-style handshake with `release`: announce the sleeper (SeqCst), then
            // the kernel re-checks `value == 0` atomically before sleeping.
            self.sleepers.fetch_add(1, Ordering::SeqCst);
            let remaining = deadline.remaining();
            if remaining != Some(Duration::ZERO) && self.value.load(Ordering::SeqCst) == 0 {
                sys::futex_wait(&self.value, 0, remaining);
            }
            self.sleepers.fetch_sub(1, Ordering::Relaxed);
            if self.try_take() {
                return true;
            }
            if deadline.expired() {
                return false;
            }
        }
    }

    pub(crate) fn release(&self, n: u32) -> Result<(), ReleaseError> {
        let max = match self.max.load(Ordering::Relaxed) {
            0 => u32::MAX,
            m => m,
        };
        let mut v = self.value.load(Ordering::Relaxed);
        loop {
            let new = v
                .checked_add(n)
                .filter(|&x| x <= max)
                .ok_or(ReleaseError::TooManyReleases)?;
            match self
                .value
                .compare_exchange_weak(v, new, Ordering::SeqCst, Ordering::Relaxed)
            {
                Ok(_) => break,
                Err(now) => v = now,
            }
        }
        if self.sleepers.load(Ordering::SeqCst) > 0 {
            sys::futex_wake(&self.value, n);
        }
        Ok(())
    }
}

macro_rules! semaphore_api {
    ($ty:ident, $guard:ident) => {
        impl $ty {
            /// The shared state (the async forms' hook).
            #[cfg(feature = "tokio")]
            pub(crate) fn state(&self) -> &SemState {
                self.st.get()
            }

            /// Blocks until a permit is available and takes it; the permit is returned
            /// when the guard is dropped.
            ///
            /// ```
            /// use multiproc_sync::Semaphore;
            /// let sem = Semaphore::new(1)?;
            /// let p = sem.permit();
            /// assert_eq!(sem.value(), 0);
            /// drop(p);
            /// assert_eq!(sem.value(), 1);
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub fn permit(&self) -> $guard<'_> {
                self.st.get().acquire(Deadline::Never);
                $guard { sem: self }
            }

            /// Takes a permit if one is available now.
            ///
            /// ```
            /// use multiproc_sync::Semaphore;
            /// let sem = Semaphore::new(1)?;
            /// let p = sem.try_permit();
            /// assert!(p.is_some());
            /// assert!(sem.try_permit().is_none()); // none left
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub fn try_permit(&self) -> Option<$guard<'_>> {
                self.st
                    .get()
                    .acquire(Deadline::Now)
                    .then(|| $guard { sem: self })
            }

            /// Waits at most `timeout` for a permit; `None` on timeout.
            ///
            /// The family: [`permit`](Self::permit) waits as long as it takes,
            /// `permit_timeout` at most a given time, [`try_permit`](Self::try_permit)
            /// not at all.
            ///
            /// ```
            /// use std::time::Duration;
            #[doc = concat!(" let sem = multiproc_sync::", stringify!($ty), "::new(1)?;")]
            /// let permit = sem.permit();
            /// assert!(sem.try_permit().is_none());
            /// assert!(sem.permit_timeout(Duration::from_millis(10)).is_none());
            /// drop(permit); // returns the permit
            /// assert!(sem.permit_timeout(Duration::from_secs(60)).is_some());
            /// assert!(sem.acquire(Some(Duration::ZERO)));
            /// assert_eq!(sem.value(), 0); // the raw acquisition keeps its permit until `release`
            /// sem.release()?;
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub fn permit_timeout(&self, timeout: Duration) -> Option<$guard<'_>> {
                self.st
                    .get()
                    .acquire(Deadline::after(Some(timeout)))
                    .then(|| $guard { sem: self })
            }

            /// Python's `acquire(block=True, timeout=None)` without a guard: whether a
            /// permit was taken (`Some(ZERO)` = non-blocking). Pair with `release`.
            ///
            /// ```
            /// use std::time::Duration;
            /// use multiproc_sync::Semaphore;
            /// let sem = Semaphore::new(1)?;
            /// assert!(sem.acquire(None));
            /// assert!(!sem.acquire(Some(Duration::ZERO))); // none left
            /// sem.release()?;
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub fn acquire(&self, timeout: Option<Duration>) -> bool {
                self.st.get().acquire(Deadline::after(timeout))
            }

            /// The number of permits available now (`get_value()`).
            ///
            /// ```
            /// use multiproc_sync::Semaphore;
            /// let sem = Semaphore::new(3)?;
            /// let _p = sem.permit();
            /// assert_eq!(sem.value(), 2);
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub fn value(&self) -> u32 {
                self.st.get().value.load(Ordering::Relaxed)
            }

            /// Whether no permit is available (CPython 3.14 `locked()`).
            ///
            /// ```
            /// use multiproc_sync::Semaphore;
            /// let sem = Semaphore::new(1)?;
            /// assert!(!sem.is_locked());
            /// let _p = sem.permit();
            /// assert!(sem.is_locked());
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub fn is_locked(&self) -> bool {
                self.value() == 0
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($ty))
                    .field("value", &self.value())
                    .finish()
            }
        }

        /// A permit; returned to the semaphore when dropped.
        ///
        /// ```
        #[doc = concat!(" let sem = multiproc_sync::", stringify!($ty), "::new(1)?;")]
        /// let permit = sem.permit();
        /// assert_eq!(sem.value(), 0);
        /// drop(permit);
        /// assert_eq!(sem.value(), 1);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        #[must_use = "the permit is returned when the guard is dropped"]
        pub struct $guard<'a> {
            sem: &'a $ty,
        }

        impl $guard<'_> {
            /// Keeps the permit taken (CPython's `acquire()` without `release()`).
            ///
            /// ```
            /// use multiproc_sync::Semaphore;
            /// let sem = Semaphore::new(1)?;
            /// sem.permit().forget();
            /// assert_eq!(sem.value(), 0); // kept taken
            /// sem.release()?;
            /// assert_eq!(sem.value(), 1);
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub fn forget(self) {
                std::mem::forget(self);
            }
        }

        impl Drop for $guard<'_> {
            fn drop(&mut self) {
                // Cannot exceed the bound: this permit was taken from the semaphore.
                let _ = self.sem.st.get().release(1);
            }
        }

        impl fmt::Debug for $guard<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($guard))
                    .field("sem", self.sem)
                    .finish()
            }
        }
    };
}

/// A counting semaphore shared between processes (`multiprocessing.Semaphore`).
///
/// **Permits are not owned.** A process that dies with a permit taken does not give it
/// back (nothing records who holds which permit, and any process may release); the
/// count stays one lower. Use timeouts (`permit_timeout`) where a worker may be
/// killed, or a [`Lock`](crate::Lock) when you need death detection.
///
/// ```
/// use multiproc_sync::Semaphore;
/// let sem = Semaphore::new(2)?;
/// let a = sem.permit();
/// let _b = sem.permit();
/// assert!(sem.try_permit().is_none());
/// drop(a);
/// assert!(sem.try_permit().is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Serialize, Deserialize)]
pub struct Semaphore {
    st: Shared<SemState>,
}

impl Semaphore {
    /// A semaphore with `value` permits.
    ///
    /// # Errors
    /// The shared segment could not be created.
    ///
    /// ```
    /// use multiproc_sync::Semaphore;
    /// let sem = Semaphore::new(0)?; // starts with no permit
    /// assert!(sem.try_permit().is_none());
    /// sem.release()?;
    /// assert!(sem.try_permit().is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(value: u32) -> Result<Semaphore, CreateError> {
        let st: Shared<SemState> = Shared::new("multiproc-semaphore", 0)?;
        st.get().value.store(value, Ordering::Relaxed);
        Ok(Semaphore { st })
    }

    /// Adds a permit (Python's `release()`); no upper bound below `u32::MAX`.
    ///
    /// # Errors
    /// [`ReleaseError::TooManyReleases`] if the count would overflow `u32`.
    ///
    /// ```
    /// use multiproc_sync::Semaphore;
    /// let sem = Semaphore::new(0)?;
    /// sem.release()?;
    /// sem.release()?; // unbounded: above the initial value is fine
    /// assert_eq!(sem.value(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn release(&self) -> Result<(), ReleaseError> {
        self.st.get().release(1)
    }
}

semaphore_api!(Semaphore, SemaphorePermit);

/// A semaphore that refuses to be released above its initial value
/// (`multiprocessing.BoundedSemaphore`).
///
/// ```
/// use multiproc_sync::{BoundedSemaphore, ReleaseError};
/// let sem = BoundedSemaphore::new(1)?;
/// assert_eq!(sem.release(), Err(ReleaseError::TooManyReleases));
/// sem.permit().forget();
/// assert_eq!(sem.release(), Ok(()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Serialize, Deserialize)]
pub struct BoundedSemaphore {
    st: Shared<SemState>,
}

impl BoundedSemaphore {
    /// A semaphore with `value` permits and at most `value`.
    ///
    /// # Errors
    /// `value == 0` (it could never be acquired) or the segment could not be created.
    ///
    /// ```
    /// use multiproc_sync::BoundedSemaphore;
    /// let sem = BoundedSemaphore::new(2)?;
    /// assert_eq!(sem.value(), 2);
    /// assert!(BoundedSemaphore::new(0).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(value: u32) -> Result<BoundedSemaphore, CreateError> {
        if value == 0 {
            return Err(CreateError::InvalidArgument(
                "a bounded semaphore needs at least one permit",
            ));
        }
        let st: Shared<SemState> = Shared::new("multiproc-bsemaphore", 0)?;
        st.get().value.store(value, Ordering::Relaxed);
        st.get().max.store(value, Ordering::Relaxed);
        Ok(BoundedSemaphore { st })
    }

    /// Returns a permit.
    ///
    /// # Errors
    /// [`ReleaseError::TooManyReleases`] if that would exceed the initial value.
    ///
    /// ```
    /// use multiproc_sync::{BoundedSemaphore, ReleaseError};
    /// let sem = BoundedSemaphore::new(1)?;
    /// sem.permit().forget();
    /// sem.release()?;
    /// assert!(matches!(sem.release(), Err(ReleaseError::TooManyReleases)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn release(&self) -> Result<(), ReleaseError> {
        self.st.get().release(1)
    }

    /// The initial (and maximum) value.
    ///
    /// ```
    /// use multiproc_sync::BoundedSemaphore;
    /// let sem = BoundedSemaphore::new(2)?;
    /// let _p = sem.permit();
    /// assert_eq!((sem.value(), sem.max_value()), (1, 2));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn max_value(&self) -> u32 {
        self.st.get().max.load(Ordering::Relaxed)
    }
}

semaphore_api!(BoundedSemaphore, BoundedSemaphorePermit);
