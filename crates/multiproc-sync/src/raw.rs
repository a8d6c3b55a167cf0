//! The counting condition variable, on state words that may live in shared memory
//! (the robust mutex it pairs with is [`crate::robust`]). Safe code over atomics;
//! `mapping` places it.

use std::sync::atomic::{AtomicU32, Ordering};

use crate::deadline::Deadline;
use crate::robust::Acquired;
use crate::sys;

/// A condition variable whose bookkeeping is only touched under the associated mutex:
/// `seq` changes at each notify (the futex word), `waiting` counts registered waiters not
/// yet granted a wake-up, `signals` counts granted but unclaimed wake-ups.
#[repr(C)]
#[derive(Debug, Default)]
pub(crate) struct CondState {
    pub(crate) seq: AtomicU32,
    pub(crate) waiting: AtomicU32,
    pub(crate) signals: AtomicU32,
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
