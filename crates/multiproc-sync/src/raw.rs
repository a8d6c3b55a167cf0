//! The algorithms, on state words that may live in shared memory: a robust futex mutex
//! and a counting condition variable. Safe code over atomics; `mapping` places them.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crossbeam_utils::Backoff;

use crate::sys::{self, Deadline, LIVENESS_SLICE, Me, TID_MASK, Woke};

/// Set in a mutex word when some thread may be sleeping on it.
const WAITERS: u32 = 1 << 31;

/// A robust mutex: `word` = owner tid | [`WAITERS`] (0 = free); `token` = the owner's
/// token (tid + start time), published right after acquiring and cleared before
/// releasing, so a waiter can tell a dead owner from a live one.
#[repr(C)]
#[derive(Debug, Default)]
pub(crate) struct MutexState {
    word: AtomicU32,
    _pad: AtomicU32,
    token: AtomicU64,
}

const _: () = assert!(size_of::<MutexState>() == 16 && align_of::<MutexState>() == 8);

/// How an acquisition went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Acquired {
    /// Acquired normally.
    Ok,
    /// Acquired by taking it over from an owner that died holding it.
    OwnerDied,
    /// Not acquired before the deadline.
    TimedOut,
}

impl MutexState {
    /// Acquires the mutex for `me`. Uncontended: one CAS and one store, no system call.
    #[inline]
    pub(crate) fn lock(&self, me: Me, deadline: Deadline) -> Acquired {
        if self
            .word
            .compare_exchange(0, me.tid, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            self.token.store(me.token, Ordering::Relaxed);
            return Acquired::Ok;
        }
        self.lock_contended(me, deadline)
    }

    #[cold]
    fn lock_contended(&self, me: Me, deadline: Deadline) -> Acquired {
        // Spin briefly: a holder on another core often releases within a few hundred ns.
        let backoff = Backoff::new();
        while !backoff.is_completed() {
            let v = self.word.load(Ordering::Relaxed);
            if v & TID_MASK == 0
                && self
                    .word
                    .compare_exchange_weak(v, me.tid | v, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                self.token.store(me.token, Ordering::Relaxed);
                return Acquired::Ok;
            }
            if matches!(deadline, Deadline::Now) {
                return Acquired::TimedOut;
            }
            backoff.snooze();
        }
        loop {
            let v = self.word.load(Ordering::Relaxed);
            if v & TID_MASK == 0 {
                // Free: take it, keeping WAITERS set since others may still sleep.
                if self
                    .word
                    .compare_exchange(v, me.tid | WAITERS, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
                {
                    self.token.store(me.token, Ordering::Relaxed);
                    return Acquired::Ok;
                }
                continue;
            }
            if v & WAITERS == 0
                && self
                    .word
                    .compare_exchange(v, v | WAITERS, Ordering::Relaxed, Ordering::Relaxed)
                    .is_err()
            {
                continue;
            }
            let expected = v | WAITERS;
            if deadline.expired() {
                return Acquired::TimedOut;
            }
            let slice = deadline.slice(LIVENESS_SLICE);
            if sys::futex_wait(&self.word, expected, Some(slice)) == Woke::TimedOut
                && self.word.load(Ordering::Relaxed) == expected
            {
                // No progress for a whole slice: is the owner still there?
                let owner = expected & TID_MASK;
                let token = self.token.load(Ordering::Acquire);
                if owner != me.tid
                    && sys::is_dead(owner, token)
                    && self
                        .word
                        .compare_exchange(
                            expected,
                            me.tid | WAITERS,
                            Ordering::Acquire,
                            Ordering::Relaxed,
                        )
                        .is_ok()
                {
                    self.token.store(me.token, Ordering::Relaxed);
                    return Acquired::OwnerDied;
                }
            }
        }
    }

    /// Releases the mutex whoever holds it. Returns `false` if it was not locked.
    #[inline]
    pub(crate) fn unlock(&self) -> bool {
        self.token.store(0, Ordering::Relaxed);
        let old = self.word.swap(0, Ordering::Release);
        if old & WAITERS != 0 {
            sys::futex_wake(&self.word, 1);
        }
        old & TID_MASK != 0
    }

    /// Whether some thread holds it.
    pub(crate) fn is_locked(&self) -> bool {
        self.word.load(Ordering::Relaxed) & TID_MASK != 0
    }

    /// The holder's tid, if any.
    pub(crate) fn owner(&self) -> Option<u32> {
        Some(self.word.load(Ordering::Relaxed) & TID_MASK).filter(|&t| t != 0)
    }

    /// Whether `me` holds it (tid and token both match, so a recycled tid does not count).
    #[inline]
    pub(crate) fn held_by(&self, me: Me) -> bool {
        self.word.load(Ordering::Relaxed) & TID_MASK == me.tid
            && self.token.load(Ordering::Relaxed) == me.token
    }
}

/// A condition variable whose bookkeeping is only touched under the associated mutex:
/// `seq` changes at each notify (the futex word), `waiting` counts registered waiters not
/// yet granted a wake-up, `signals` counts granted but unclaimed wake-ups.
#[repr(C)]
#[derive(Debug, Default)]
pub(crate) struct CondState {
    seq: AtomicU32,
    waiting: AtomicU32,
    signals: AtomicU32,
    _pad: AtomicU32,
}

const _: () = assert!(size_of::<CondState>() == 16 && align_of::<CondState>() == 4);

/// The outcome of one [`CondState::wait`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CondWait {
    /// A notification was consumed.
    pub(crate) notified: bool,
    /// Re-acquiring the mutex took it over from a dead owner.
    pub(crate) owner_died: bool,
}

impl CondState {
    /// Waits for a notification. Caller holds the mutex; `release` fully releases it and
    /// `reacquire` takes it back (returning [`Acquired::OwnerDied`] if it was recovered).
    /// `slice_hook` runs under the mutex after every sleep that ended without a
    /// notification, at most `slice` apart; returning `true` ends the wait (used by
    /// liveness checks).
    pub(crate) fn wait(
        &self,
        deadline: Deadline,
        slice: Option<std::time::Duration>,
        release: &mut dyn FnMut(),
        reacquire: &mut dyn FnMut() -> Acquired,
        slice_hook: &mut dyn FnMut() -> bool,
    ) -> CondWait {
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let mut owner_died = false;
        loop {
            let seq = self.seq.load(Ordering::Relaxed);
            release();
            let timeout = match slice {
                Some(s) => Some(deadline.slice(s)),
                None => deadline.remaining(),
            };
            if timeout != Some(std::time::Duration::ZERO) {
                sys::futex_wait(&self.seq, seq, timeout);
            }
            owner_died |= reacquire() == Acquired::OwnerDied;
            let signals = self.signals.load(Ordering::Relaxed);
            if signals > 0 {
                self.signals.store(signals - 1, Ordering::Relaxed);
                return CondWait {
                    notified: true,
                    owner_died,
                };
            }
            if deadline.expired() || slice_hook() {
                self.waiting.fetch_sub(1, Ordering::Relaxed);
                return CondWait {
                    notified: false,
                    owner_died,
                };
            }
        }
    }

    /// Grants up to `n` wake-ups. Caller holds the mutex.
    pub(crate) fn notify(&self, n: u32) {
        let waiting = self.waiting.load(Ordering::Relaxed);
        let k = waiting.min(n);
        if k == 0 {
            return;
        }
        self.waiting.store(waiting - k, Ordering::Relaxed);
        self.signals.fetch_add(k, Ordering::Relaxed);
        self.seq.fetch_add(1, Ordering::Release);
        sys::futex_wake(&self.seq, k);
    }

    /// Grants a wake-up to every registered waiter. Caller holds the mutex.
    pub(crate) fn notify_all(&self) {
        self.notify(u32::MAX);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uncontended_lock_unlock_and_ownership() {
        let m = MutexState::default();
        let me = sys::me();
        assert_eq!(m.lock(me, Deadline::Now), Acquired::Ok);
        assert!(m.held_by(me));
        assert_eq!(m.owner(), Some(me.tid));
        assert_eq!(m.lock(me, Deadline::Now), Acquired::TimedOut);
        assert!(m.unlock());
        assert!(!m.unlock());
        assert!(!m.is_locked());
    }

    #[test]
    fn dead_thread_owner_is_recovered() {
        let m = std::sync::Arc::new(MutexState::default());
        let m2 = m.clone();
        std::thread::spawn(move || {
            assert_eq!(m2.lock(sys::me(), Deadline::Never), Acquired::Ok);
        })
        .join()
        .expect("thread ran");
        let got = m.lock(
            sys::me(),
            Deadline::after(Some(std::time::Duration::from_secs(20))),
        );
        assert_eq!(got, Acquired::OwnerDied);
        assert!(m.held_by(sys::me()));
    }
}
