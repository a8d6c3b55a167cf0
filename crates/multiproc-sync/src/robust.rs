//! The robust process-shared futex mutex: the one lock under every multiproc primitive
//! that must survive its holder's death (`Lock`, `RLock`, `Condition`, `Barrier` here,
//! the queue's put and get sides).

use std::fmt;
use std::time::Instant;

use crossbeam_utils::Backoff;

use crate::deadline::Deadline;
use crate::doorbell::{SPIN_ROUNDS, spin_wait};
use crate::loom::{AtomicU32, AtomicU64, Ordering};
use crate::sys::{self, Identity, LIVENESS_SLICE, TID_MASK};

/// Set in a mutex word when some thread may be sleeping on it.
const WAITERS: u32 = 1 << 31;

/// A robust mutex made of atomics, to place in shared memory.
///
/// `word` = owner id | waiters bit (0 = free); `token` = the owner's
/// [`Identity::token`], published right after acquiring and cleared before releasing,
/// so a waiter can tell a dead owner from a live one; `cpu` = the CPU (plus one) of the
/// last acquisition under [`Spin::CpuAware`]. 16 bytes, `#[repr(C)]`, all atomics:
/// zero is the unlocked state, so a zero-filled segment holds unlocked mutexes.
///
/// The owner is whatever [`Identity`] the caller passes: a thread
/// ([`this_thread`](crate::foundation::this_thread), for locks that a thread owns) or a
/// process ([`this_process`](crate::foundation::this_process), for a side that any
/// thread of the process may enter). A waiter that sees no progress for a
/// [`LIVENESS_SLICE`] checks whether the owner is dead
/// ([`is_dead`](crate::foundation::is_dead)) and, if so, takes the mutex over:
/// [`Acquired::OwnerDied`] then tells the caller to repair what the dead owner guarded.
///
/// ```
/// use multiproc_sync::foundation::{Acquired, Deadline, RobustMutex, Spin, this_thread};
/// let m = RobustMutex::new();
/// let me = this_thread();
/// assert_eq!(m.lock(me, Deadline::Never, Spin::Backoff), Acquired::Ok);
/// assert!(m.held_by(me));
/// assert_eq!(m.lock(me, Deadline::Now, Spin::Backoff), Acquired::TimedOut);
/// assert!(m.unlock());
/// assert!(!m.is_locked());
/// ```
#[repr(C)]
#[derive(Default)]
pub struct RobustMutex {
    word: AtomicU32,
    cpu: AtomicU32,
    token: AtomicU64,
}

#[cfg(not(loom))]
const _: () = assert!(size_of::<RobustMutex>() == 16 && align_of::<RobustMutex>() == 8);

impl fmt::Debug for RobustMutex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RobustMutex")
            .field("owner", &self.owner())
            .finish()
    }
}

/// How an acquisition went.
///
/// ```
/// use multiproc_sync::foundation::{Acquired, Deadline, RobustMutex, Spin, this_thread};
/// let m = RobustMutex::new();
/// assert_eq!(m.lock(this_thread(), Deadline::Now, Spin::Backoff), Acquired::Ok);
/// // held (even by the caller: not re-entrant) and a deadline already passed
/// assert_eq!(m.lock(this_thread(), Deadline::Now, Spin::Backoff), Acquired::TimedOut);
/// assert!(m.unlock());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acquired {
    /// Acquired normally.
    Ok,
    /// Acquired by taking it over from an owner that died holding it.
    OwnerDied,
    /// Not acquired before the deadline.
    TimedOut,
}

/// How a contended [`RobustMutex::lock`] waits before it sleeps in the futex.
///
/// ```
/// use multiproc_sync::foundation::{Acquired, Deadline, RobustMutex, Spin, this_process};
/// let m = RobustMutex::new();
/// let spin = Spin::CpuAware { peer: None };
/// assert_eq!(m.lock(this_process(), Deadline::Never, spin), Acquired::Ok);
/// assert!(m.unlock());
/// assert_eq!(m.lock(this_process(), Deadline::Never, Spin::Backoff), Acquired::Ok);
/// assert!(m.unlock());
/// ```
#[derive(Debug, Clone, Copy)]
pub enum Spin<'a> {
    /// A short exponential backoff (pauses, then yields); [`Deadline::Now`] gives up at
    /// once. The uncontended path stays one compare-and-swap and one store.
    Backoff,
    /// CPU-aware spinning, for locks handed over at a high rate between processes on
    /// few CPUs: each acquisition records its CPU (the vDSO's `getcpu`, written only
    /// when it changes); a waiter whose holder, or whose `peer` (the
    /// [`Doorbell::notifier`](crate::foundation::Doorbell::notifier) of the other side
    /// of the protocol), last ran on its own CPU yields instead of pausing, since its
    /// spinning would only delay them. Spins (boundedly) even for an expired deadline.
    CpuAware {
        /// The other side's CPU word, if any.
        peer: Option<&'a AtomicU32>,
    },
}

impl RobustMutex {
    /// An unlocked mutex (the same as zero-filled memory).
    ///
    /// ```
    /// use multiproc_sync::foundation::RobustMutex;
    /// let m = RobustMutex::new();
    /// assert!(!m.is_locked());
    /// assert_eq!(m.owner(), None);
    /// ```
    pub fn new() -> RobustMutex {
        RobustMutex::default()
    }

    /// Acquires the mutex for `me`, waiting until `deadline`. Uncontended: one
    /// compare-and-swap and one store, no system call.
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_sync::foundation::{Acquired, Deadline, RobustMutex, Spin, this_thread};
    /// let m = RobustMutex::new();
    /// let deadline = Deadline::after(Some(Duration::from_secs(60)));
    /// assert_eq!(m.lock(this_thread(), deadline, Spin::Backoff), Acquired::Ok);
    /// assert!(m.held_by(this_thread()));
    /// assert!(m.unlock());
    /// ```
    #[inline]
    pub fn lock(&self, me: Identity, deadline: Deadline, spin: Spin<'_>) -> Acquired {
        if self.take(0, me.id & TID_MASK, me, spin) {
            return Acquired::Ok;
        }
        self.lock_contended(me, deadline, spin)
    }

    /// One acquisition attempt: `word` from `from` to `to` (`Acquire`), then the new
    /// owner's record.
    #[inline]
    fn take(&self, from: u32, to: u32, me: Identity, spin: Spin<'_>) -> bool {
        let ok = self
            .word
            .compare_exchange(from, to, Ordering::Acquire, Ordering::Relaxed)
            .is_ok();
        if ok {
            self.record(me, spin);
        }
        ok
    }

    #[cold]
    fn lock_contended(&self, me: Identity, deadline: Deadline, spin: Spin<'_>) -> Acquired {
        match self.try_spinning(me, deadline, spin) {
            Some(done) => done,
            None => self.sleep_until_taken(me, deadline, spin),
        }
    }

    /// Spins a little, as `spin` says, for a holder that may release soon: `Some` when
    /// that settled it (acquired, or [`Deadline::Now`] timed out), `None` to sleep.
    fn try_spinning(&self, me: Identity, deadline: Deadline, spin: Spin<'_>) -> Option<Acquired> {
        let id = me.id & TID_MASK;
        match spin {
            Spin::Backoff => {
                // A holder on another core often releases within a few hundred ns.
                let backoff = Backoff::new();
                while !backoff.is_completed() {
                    let v = self.word.load(Ordering::Relaxed);
                    if v & TID_MASK == 0
                        && self
                            .word
                            .compare_exchange_weak(v, id | v, Ordering::Acquire, Ordering::Relaxed)
                            .is_ok()
                    {
                        self.record(me, spin);
                        return Some(Acquired::Ok);
                    }
                    if matches!(deadline, Deadline::Now) {
                        return Some(Acquired::TimedOut);
                    }
                    if cfg!(loom) {
                        break;
                    }
                    backoff.snooze();
                }
            }
            Spin::CpuAware { peer } => {
                // Spin while the holder may finish soon; yield instead if it or the
                // other side last ran on this CPU. A few rounds at most: then sleep.
                let free = || self.word.load(Ordering::Relaxed) == 0;
                for _ in 0..SPIN_ROUNDS {
                    let cpu = sys::this_cpu();
                    let here = self.cpu.load(Ordering::Relaxed) == cpu
                        || peer.is_some_and(|p| p.load(Ordering::Relaxed) == cpu);
                    if !spin_wait(here, free) {
                        break;
                    }
                    if self.take(0, id, me, spin) {
                        return Some(Acquired::Ok);
                    }
                }
            }
        }
        None
    }

    /// Sleeps in slices until the mutex is taken or `deadline` passes; when the owner
    /// has not changed for a whole slice, asks whether it is still alive (a `/proc`
    /// read, so not after every wake-up).
    fn sleep_until_taken(&self, me: Identity, deadline: Deadline, spin: Spin<'_>) -> Acquired {
        let id = me.id & TID_MASK;
        let mut waited_since = Instant::now();
        let mut last_owner = 0;
        loop {
            let v = self.word.load(Ordering::Relaxed);
            let owner = v & TID_MASK;
            if owner == 0 {
                // Free: take it, keeping WAITERS set since others may still sleep.
                if self.take(v, id | WAITERS, me, spin) {
                    return Acquired::Ok;
                }
                continue;
            }
            if owner != last_owner {
                last_owner = owner;
                waited_since = Instant::now();
            } else if !cfg!(loom) && waited_since.elapsed() >= LIVENESS_SLICE {
                // (Not modelled under loom: it depends on time, and the model's owners
                // never die.)
                waited_since = Instant::now();
                if owner != id && self.owner_dead(owner) && self.take(v, id | WAITERS, me, spin) {
                    return Acquired::OwnerDied;
                }
            }
            if !self.mark_sleeper(v) {
                continue;
            }
            if deadline.expired() {
                return Acquired::TimedOut;
            }
            sys::futex_wait(
                &self.word,
                v | WAITERS,
                Some(deadline.slice(LIVENESS_SLICE)),
            );
        }
    }

    /// Sets the sleeper mark on the word, seen as `v` (held): whether the word is now
    /// `v | WAITERS` (the mark was there, or the exchange set it); `false` when the
    /// word changed meanwhile and must be looked at again.
    #[inline]
    fn mark_sleeper(&self, v: u32) -> bool {
        v & WAITERS != 0
            || self
                .word
                .compare_exchange(v, v | WAITERS, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }

    /// One step of an asynchronous acquisition (no spinning, no sleep): takes the mutex
    /// for `me` if it is free (`None`), or marks it as having a sleeper and returns the
    /// word's value to sleep against (`Some`), which the caller hands to a
    /// `FutexWaiter` (feature `tokio`) on [`word`](Self::word).
    /// `slept`: the caller slept before, so it takes the mutex keeping the sleeper mark
    /// (others may still sleep), as the blocking path does. Whether a long-unchanged
    /// owner is dead is the caller's to ask ([`take_over_if_dead`](Self::take_over_if_dead)).
    ///
    /// ```
    /// use multiproc_sync::foundation::{RobustMutex, this_process};
    /// let m = RobustMutex::new();
    /// assert_eq!(m.lock_step(this_process(), false), None, "free: taken");
    /// assert!(m.lock_step(this_process(), false).is_some(), "held: sleep against the word");
    /// m.unlock();
    /// ```
    pub fn lock_step(&self, me: Identity, slept: bool) -> Option<u32> {
        let id = me.id & TID_MASK;
        loop {
            let v = self.word.load(Ordering::Relaxed);
            if v & TID_MASK == 0 {
                let to = id | if slept { WAITERS } else { v & WAITERS };
                if self.take(v, to, me, Spin::Backoff) {
                    return None;
                }
                continue;
            }
            if self.mark_sleeper(v) {
                return Some(v | WAITERS);
            }
        }
    }

    /// Marks a held mutex as having a sleeper, without taking it: the word's value to
    /// sleep against (`Some`), or `None` if it is free. For an asynchronous waiter that
    /// waits for the holder to leave and then retries an operation that takes the
    /// mutex itself.
    ///
    /// ```
    /// use multiproc_sync::foundation::{RobustMutex, this_process};
    /// let m = RobustMutex::new();
    /// assert_eq!(m.announce(), None);
    /// assert_eq!(m.lock_step(this_process(), false), None);
    /// assert!(m.announce().is_some());
    /// m.unlock();
    /// ```
    pub fn announce(&self) -> Option<u32> {
        loop {
            let v = self.word.load(Ordering::Relaxed);
            if v & TID_MASK == 0 {
                return None;
            }
            if self.mark_sleeper(v) {
                return Some(v | WAITERS);
            }
        }
    }

    /// The futex word (owner id and sleeper mark), for asynchronous waiters.
    ///
    /// ```
    /// use std::sync::atomic::Ordering;
    /// use multiproc_sync::foundation::{Acquired, Deadline, RobustMutex, Spin, this_thread};
    /// let m = RobustMutex::new();
    /// assert_eq!(m.word().load(Ordering::Relaxed), 0); // unlocked
    /// assert_eq!(m.lock(this_thread(), Deadline::Never, Spin::Backoff), Acquired::Ok);
    /// assert_ne!(m.word().load(Ordering::Relaxed), 0); // the owner id
    /// assert!(m.unlock());
    /// assert_eq!(m.word().load(Ordering::Relaxed), 0);
    /// ```
    pub fn word(&self) -> &AtomicU32 {
        &self.word
    }

    /// Publishes the new owner's token (and CPU under [`Spin::CpuAware`]).
    #[inline]
    fn record(&self, me: Identity, spin: Spin<'_>) {
        self.token.store(me.token(), Ordering::Release);
        if let Spin::CpuAware { .. } = spin {
            let cpu = sys::this_cpu();
            if self.cpu.load(Ordering::Relaxed) != cpu {
                self.cpu.store(cpu, Ordering::Relaxed);
            }
        }
    }

    fn owner_dead(&self, owner: u32) -> bool {
        // The token is trusted only if it names `owner` (it may be a previous owner's,
        // or 0 while a new owner has not published it yet).
        sys::is_dead(owner, self.token.load(Ordering::Acquire))
    }

    /// Takes the mutex only if its owner is dead: `true` if taken (the caller then
    /// repairs what it guards and unlocks). Never waits.
    ///
    /// ```
    /// use multiproc_sync::foundation::{RobustMutex, this_process};
    /// let m = RobustMutex::new();
    /// assert!(!m.take_over_if_dead(this_process()), "free, not dead-owned");
    /// ```
    pub fn take_over_if_dead(&self, me: Identity) -> bool {
        let id = me.id & TID_MASK;
        let v = self.word.load(Ordering::Relaxed);
        let owner = v & TID_MASK;
        // The token only (no CPU record): the taker repairs and unlocks at once.
        owner != 0
            && owner != id
            && self.owner_dead(owner)
            && self.take(v, id | WAITERS, me, Spin::Backoff)
    }

    /// Releases the mutex whoever holds it. Returns `false` if it was not locked.
    ///
    /// ```
    /// use multiproc_sync::foundation::{Acquired, Deadline, RobustMutex, Spin, this_thread};
    /// let m = RobustMutex::new();
    /// assert_eq!(m.lock(this_thread(), Deadline::Never, Spin::Backoff), Acquired::Ok);
    /// assert!(m.unlock());
    /// assert!(!m.unlock()); // was not locked
    /// ```
    #[inline]
    pub fn unlock(&self) -> bool {
        self.token.store(0, Ordering::Relaxed);
        let old = self.word.swap(0, Ordering::Release);
        if old & WAITERS != 0 {
            sys::futex_wake(&self.word, 1);
        }
        old & TID_MASK != 0
    }

    /// Whether someone holds it.
    ///
    /// ```
    /// use multiproc_sync::foundation::{Acquired, Deadline, RobustMutex, Spin, this_thread};
    /// let m = RobustMutex::new();
    /// assert!(!m.is_locked());
    /// assert_eq!(m.lock(this_thread(), Deadline::Never, Spin::Backoff), Acquired::Ok);
    /// assert!(m.is_locked());
    /// m.unlock();
    /// ```
    pub fn is_locked(&self) -> bool {
        self.word.load(Ordering::Relaxed) & TID_MASK != 0
    }

    /// The holder's id, if any.
    ///
    /// ```
    /// use multiproc_sync::foundation::{Acquired, Deadline, RobustMutex, Spin, this_thread};
    /// let m = RobustMutex::new();
    /// assert_eq!(m.owner(), None);
    /// assert_eq!(m.lock(this_thread(), Deadline::Never, Spin::Backoff), Acquired::Ok);
    /// assert!(m.owner().is_some());
    /// m.unlock();
    /// ```
    pub fn owner(&self) -> Option<u32> {
        Some(self.word.load(Ordering::Relaxed) & TID_MASK).filter(|&t| t != 0)
    }

    /// Whether `me` holds it (id and token both match, so a recycled id does not count).
    ///
    /// ```
    /// use multiproc_sync::foundation::{Acquired, Deadline, RobustMutex, Spin, this_thread};
    /// let m = RobustMutex::new();
    /// assert_eq!(m.lock(this_thread(), Deadline::Never, Spin::Backoff), Acquired::Ok);
    /// assert!(m.held_by(this_thread()));
    /// let other = std::thread::scope(|s| s.spawn(|| m.held_by(this_thread())).join());
    /// assert_eq!(other.ok(), Some(false)); // another thread is another identity
    /// m.unlock();
    /// ```
    #[inline]
    pub fn held_by(&self, me: Identity) -> bool {
        self.word.load(Ordering::Relaxed) & TID_MASK == me.id & TID_MASK
            && self.token.load(Ordering::Relaxed) == me.token()
    }

    /// Marks the mutex as held by the (dead or fictitious) owner `owner`, with waiters:
    /// the state a holder killed while others slept on it leaves. For tests of
    /// recovery code.
    ///
    /// ```
    /// use multiproc_sync::foundation::{Identity, RobustMutex};
    /// let m = RobustMutex::new();
    /// m.force_owner(Identity { id: 7, start: 1 });
    /// assert_eq!(m.owner(), Some(7));
    /// ```
    pub fn force_owner(&self, owner: Identity) {
        self.token.store(owner.token(), Ordering::Release);
        self.word
            .store((owner.id & TID_MASK) | WAITERS, Ordering::Release);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::sys::this_thread;

    #[test]
    fn uncontended_lock_unlock_and_ownership() {
        for spin in [Spin::Backoff, Spin::CpuAware { peer: None }] {
            let m = RobustMutex::default();
            let me = this_thread();
            assert_eq!(m.lock(me, Deadline::Now, spin), Acquired::Ok);
            assert!(m.held_by(me));
            assert_eq!(m.owner(), Some(me.id));
            assert_eq!(m.lock(me, Deadline::Now, spin), Acquired::TimedOut);
            assert!(m.unlock());
            assert!(!m.unlock());
            assert!(!m.is_locked());
        }
    }

    #[test]
    fn dead_thread_owner_is_recovered() {
        let m = std::sync::Arc::new(RobustMutex::default());
        let m2 = m.clone();
        std::thread::spawn(move || {
            assert_eq!(
                m2.lock(this_thread(), Deadline::Never, Spin::Backoff),
                Acquired::Ok
            );
        })
        .join()
        .expect("thread ran");
        let got = m.lock(
            this_thread(),
            Deadline::after(Some(std::time::Duration::from_secs(20))),
            Spin::CpuAware { peer: None },
        );
        assert_eq!(got, Acquired::OwnerDied);
        assert!(m.held_by(this_thread()));
    }
}
