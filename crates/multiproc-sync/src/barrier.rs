//! [`Barrier`].

use std::fmt;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::deadline::Deadline;
use crate::error::{BarrierError, CreateError};
use crate::fnptr::PortableFn;
use crate::mapping::Shared;
use crate::robust::{Acquired, RobustMutex as MutexState, Spin};
use crate::state::BarrierState;
use crate::sys::{self, LIVENESS_SLICE};

#[cfg(feature = "tokio")]
pub(crate) mod aio;

const FILLING: u32 = 0;
const DRAINING: u32 = 1;
const RESETTING: u32 = 2;
const BROKEN: u32 = 3;

/// A barrier for a fixed number of parties, shared between processes
/// (`multiprocessing.Barrier`).
///
/// Each `wait` returns a distinct index in `0..parties` (exactly one party gets 0 per
/// cycle). An optional action (a plain `fn()`, so it can run in whichever process
/// arrives last; it is sent by its offset in the executable, which works between
/// processes of the same program under every start method) runs once per cycle before
/// the parties are released.
///
/// A `wait` that times out, an [`abort`](Self::abort), a panicking action, or **a party
/// that dies while waiting** breaks the barrier: every current and future waiter gets
/// [`BarrierError::Broken`] until [`reset`](Self::reset). Waiters check the liveness of
/// the other parties every ~20 ms, so nobody waits forever for a dead party.
///
/// ```
/// use multiproc_sync::Barrier;
/// let b = Barrier::new(2)?;
/// let b2 = b.clone();
/// let t = std::thread::spawn(move || b2.wait());
/// let mine = b.wait()?;
/// let theirs = t.join().unwrap()?;
/// assert_eq!(mine + theirs, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Serialize, Deserialize)]
pub struct Barrier {
    st: Shared<BarrierState>,
    parties: u32,
    action: Option<PortableFn>,
    timeout: Option<Duration>,
}

impl Barrier {
    /// A barrier for `parties` parties.
    ///
    /// # Errors
    /// `parties == 0`, or the shared segment could not be created.
    ///
    /// ```
    /// use multiproc_sync::Barrier;
    /// let b = Barrier::new(1)?;
    /// assert_eq!(b.wait()?, 0); // the only party: passes at once
    /// assert!(Barrier::new(0).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(parties: u32) -> Result<Barrier, CreateError> {
        Self::build(parties, None)
    }

    /// A barrier whose `action` is run by one party (the last to arrive) in each cycle.
    ///
    /// # Errors
    /// As [`new`](Self::new).
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// use multiproc_sync::Barrier;
    /// static RAN: AtomicU32 = AtomicU32::new(0);
    /// let b = Barrier::with_action(1, || {
    ///     RAN.fetch_add(1, Ordering::Relaxed);
    /// })?;
    /// b.wait()?;
    /// assert_eq!(RAN.load(Ordering::Relaxed), 1); // once per round, before anyone passes
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_action(parties: u32, action: fn()) -> Result<Barrier, CreateError> {
        Self::build(parties, Some(PortableFn(action)))
    }

    fn build(parties: u32, action: Option<PortableFn>) -> Result<Barrier, CreateError> {
        if parties == 0 {
            return Err(CreateError::InvalidArgument(
                "a barrier needs at least one party",
            ));
        }
        Ok(Barrier {
            st: Shared::new("multiproc-barrier", parties as usize)?,
            parties,
            action,
            timeout: None,
        })
    }

    /// Sets the timeout that [`wait`](Self::wait) uses (CPython's `Barrier(parties,
    /// action, timeout)`). It travels with the handle: a clone, or a copy passed to
    /// another process, has the same default.
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_sync::{Barrier, BarrierError};
    /// let b = Barrier::new(2)?.with_default_timeout(Duration::from_millis(10));
    /// assert_eq!(b.default_timeout(), Some(Duration::from_millis(10)));
    /// // Nobody else arrives: the wait times out and breaks the barrier.
    /// assert_eq!(b.wait(), Err(BarrierError::Broken));
    /// assert!(b.is_broken());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_default_timeout(mut self, timeout: Duration) -> Barrier {
        self.timeout = Some(timeout);
        self
    }

    /// The timeout [`wait`](Self::wait) uses, if one was set (CPython's
    /// `barrier.timeout`, which is `None` by default).
    ///
    /// ```
    /// use multiproc_sync::Barrier;
    /// assert_eq!(Barrier::new(2)?.default_timeout(), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn default_timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// The number of parties.
    ///
    /// ```
    /// use multiproc_sync::Barrier;
    /// assert_eq!(Barrier::new(3)?.parties(), 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn parties(&self) -> u32 {
        self.parties
    }

    /// The number of parties currently waiting (0 while draining or broken).
    ///
    /// ```
    /// use multiproc_sync::Barrier;
    /// let b = Barrier::new(2)?;
    /// assert_eq!(b.n_waiting(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn n_waiting(&self) -> u32 {
        let st = self.st.get();
        if st.state.load(Ordering::Relaxed) == FILLING {
            st.count.load(Ordering::Relaxed)
        } else {
            0
        }
    }

    /// Whether the barrier is broken.
    ///
    /// ```
    /// use multiproc_sync::Barrier;
    /// let b = Barrier::new(2)?;
    /// assert!(!b.is_broken());
    /// b.abort();
    /// assert!(b.is_broken());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_broken(&self) -> bool {
        self.st.get().state.load(Ordering::Relaxed) == BROKEN
    }

    /// Waits until all parties have called `wait`; returns this party's index. With a
    /// [default timeout](Self::with_default_timeout), this is
    /// [`wait_timeout`](Self::wait_timeout) with it.
    ///
    /// # Errors
    /// [`BarrierError::Broken`] if the barrier is or becomes broken (abort, timeout,
    /// dead party, reset while waiting); [`BarrierError::ActionPanicked`] for the party
    /// whose action panicked.
    ///
    /// ```
    /// use multiproc_sync::Barrier;
    /// let b = Barrier::new(2)?;
    /// let other = b.clone();
    /// let t = std::thread::spawn(move || other.wait());
    /// let mine = b.wait()?;
    /// let theirs = t.join().map_err(|_| "panicked")??;
    /// assert_eq!(mine + theirs, 1); // indices 0 and 1, one each
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait(&self) -> Result<u32, BarrierError> {
        self.wait_until(Deadline::after(self.timeout))
    }

    /// As [`wait`](Self::wait), but a wait longer than `timeout` breaks the barrier
    /// (for everyone, as in CPython) and returns [`BarrierError::Broken`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_sync::{Barrier, BarrierError};
    ///
    /// let b = Barrier::new(2)?;
    /// // Alone, the wait times out and breaks the barrier.
    /// assert_eq!(b.wait_timeout(Duration::from_millis(10)), Err(BarrierError::Broken));
    /// assert!(b.is_broken());
    /// b.reset();
    /// let b2 = b.clone();
    /// let t = std::thread::spawn(move || b2.wait_timeout(Duration::from_secs(60)));
    /// let mine = b.wait_timeout(Duration::from_secs(60))?;
    /// assert_eq!(mine + t.join().unwrap()?, 1); // indices 0 and 1
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`wait`](Self::wait).
    pub fn wait_timeout(&self, timeout: Duration) -> Result<u32, BarrierError> {
        self.wait_until(Deadline::after(Some(timeout)))
    }

    /// Breaks the barrier: current and future waiters get `Broken` until `reset`.
    ///
    /// ```
    /// use multiproc_sync::Barrier;
    /// let b = Barrier::new(2)?;
    /// b.abort();
    /// assert!(b.wait().is_err()); // Broken, no waiting
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn abort(&self) {
        let _held = self.enter_mutex();
        self.break_locked();
    }

    /// Returns the barrier to its initial state; current waiters get `Broken`.
    ///
    /// ```
    /// use multiproc_sync::Barrier;
    /// let b = Barrier::new(2)?;
    /// b.abort();
    /// b.reset();
    /// assert!(!b.is_broken());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reset(&self) {
        let _held = self.enter_mutex();
        let st = self.st.get();
        if st.count.load(Ordering::Relaxed) > 0 {
            match st.state.load(Ordering::Relaxed) {
                FILLING | BROKEN => st.state.store(RESETTING, Ordering::Relaxed),
                _ => {}
            }
        } else {
            st.state.store(FILLING, Ordering::Relaxed);
        }
        st.cond.notify_all();
    }

    /// Takes the barrier's internal mutex; a dead holder (a party killed mid-update)
    /// breaks the barrier.
    fn enter_mutex(&self) -> MutexHeld<'_> {
        let st = self.st.get();
        if st
            .mutex
            .lock(sys::this_thread(), Deadline::Never, Spin::Backoff)
            == Acquired::OwnerDied
        {
            self.reap_dead();
            self.break_locked();
        }
        MutexHeld(&st.mutex)
    }

    fn break_locked(&self) {
        let st = self.st.get();
        st.state.store(BROKEN, Ordering::Relaxed);
        st.cond.notify_all();
    }

    /// Under the mutex: drops parties whose thread died; breaks a filling barrier that
    /// lost one, and completes a drain/reset that was waiting for it. Returns whether a
    /// dead party was found.
    fn reap_dead(&self) -> bool {
        let st = self.st.get();
        let mut found = false;
        for slot in self.st.tail() {
            let token = slot.load(Ordering::Relaxed);
            if sys::token_dead(token) {
                slot.store(0, Ordering::Relaxed);
                let c = st.count.load(Ordering::Relaxed);
                st.count.store(c.saturating_sub(1), Ordering::Relaxed);
                found = true;
            }
        }
        if found {
            if st.state.load(Ordering::Relaxed) == FILLING {
                st.state.store(BROKEN, Ordering::Relaxed);
            }
            self.exit_check();
            st.cond.notify_all();
        }
        found
    }

    /// CPython's `_exit`: the last party out of a drain or reset refills the barrier.
    fn exit_check(&self) {
        let st = self.st.get();
        if st.count.load(Ordering::Relaxed) == 0
            && matches!(st.state.load(Ordering::Relaxed), RESETTING | DRAINING)
        {
            st.state.store(FILLING, Ordering::Relaxed);
            st.cond.notify_all();
        }
    }

    /// One sleep on the condition (under the mutex), waking every liveness slice.
    fn sleep(&self, deadline: Deadline) {
        let st = self.st.get();
        let me = sys::this_thread();
        st.cond.wait(
            deadline,
            Some(LIVENESS_SLICE),
            &mut || {
                st.mutex.unlock();
            },
            &mut || st.mutex.lock(me, Deadline::Never, Spin::Backoff),
            &mut || true,
        );
    }

    fn wait_until(&self, deadline: Deadline) -> Result<u32, BarrierError> {
        let me = sys::this_thread();
        let held = self.enter_mutex();
        let st = self.st.get();
        // _enter: wait for a previous cycle to drain or a reset to finish.
        while matches!(st.state.load(Ordering::Relaxed), DRAINING | RESETTING) {
            self.sleep(Deadline::Never);
            self.reap_dead();
        }
        if st.state.load(Ordering::Relaxed) == BROKEN {
            drop(held);
            return Err(BarrierError::Broken);
        }
        let index = st.count.load(Ordering::Relaxed);
        let slots = self.st.tail();
        let Some(slot) = slots.get(index as usize) else {
            // Only possible if another process corrupted the state.
            self.break_locked();
            drop(held);
            return Err(BarrierError::Broken);
        };
        st.count.store(index + 1, Ordering::Relaxed);
        slot.store(me.token(), Ordering::Relaxed);
        let cycle = st.cycle.load(Ordering::Relaxed);

        let result = if index + 1 >= self.parties {
            let ran = match self.action {
                Some(PortableFn(f)) => std::panic::catch_unwind(f).is_ok(),
                None => true,
            };
            if ran {
                st.cycle.store(cycle.wrapping_add(1), Ordering::Relaxed);
                st.state.store(DRAINING, Ordering::Relaxed);
                st.cond.notify_all();
                Ok(index)
            } else {
                self.break_locked();
                Err(BarrierError::ActionPanicked)
            }
        } else {
            let passed = || st.cycle.load(Ordering::Relaxed) != cycle;
            loop {
                if st.state.load(Ordering::Relaxed) != FILLING || passed() {
                    break;
                }
                if deadline.expired() {
                    self.break_locked();
                    break;
                }
                self.sleep(deadline);
                self.reap_dead();
            }
            // A completed cycle wins over a later abort, timeout or reset (CPython's
            // `threading.Barrier` reports those to parties it already released).
            match st.state.load(Ordering::Relaxed) {
                _ if passed() => Ok(index),
                BROKEN | RESETTING => Err(BarrierError::Broken),
                _ => Ok(index),
            }
        };
        // _exit (our slot may have been cleared only if we were declared dead, which a
        // live thread is not).
        slot.store(0, Ordering::Relaxed);
        let c = st.count.load(Ordering::Relaxed);
        st.count.store(c.saturating_sub(1), Ordering::Relaxed);
        self.exit_check();
        drop(held);
        result
    }
}

struct MutexHeld<'a>(&'a MutexState);

impl Drop for MutexHeld<'_> {
    fn drop(&mut self) {
        self.0.unlock();
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier")
            .field("parties", &self.parties)
            .field("n_waiting", &self.n_waiting())
            .field("broken", &self.is_broken())
            .field("action", &self.action)
            .field("timeout", &self.timeout)
            .finish()
    }
}
