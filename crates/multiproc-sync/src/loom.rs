//! The model-checking shim (the pattern of tokio and crossbeam): the atomics, yields
//! and futex calls of [`RobustMutex`](crate::foundation::RobustMutex) and
//! [`Doorbell`](crate::foundation::Doorbell) come from here. Normally they are the
//! standard library's and the kernel's; built with `RUSTFLAGS="--cfg loom"` they are
//! `loom`'s, and the futex is modelled by a mutex and a condition variable, so that
//! `tests/loom.rs` explores every interleaving of the lock and wake-up protocols (a
//! lost wake-up shows as a deadlock). Under `cfg(loom)` only those building blocks are
//! compiled.

#[cfg(not(loom))]
pub(crate) use std::hint::spin_loop;
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicU32, AtomicU64, Ordering, fence};
#[cfg(not(loom))]
pub(crate) use std::thread::yield_now;

#[cfg(loom)]
pub(crate) use ::loom::hint::spin_loop;
#[cfg(loom)]
pub(crate) use ::loom::sync::atomic::{AtomicU32, AtomicU64, Ordering, fence};
#[cfg(loom)]
pub(crate) use ::loom::thread::yield_now;

#[cfg(loom)]
mod futex {
    use super::{AtomicU32, Ordering};
    use crate::sys::Woke;
    use ::loom::sync::{Condvar, Mutex};
    use std::time::Duration;

    ::loom::lazy_static! {
        static ref FUTEX: (Mutex<()>, Condvar) = (Mutex::new(()), Condvar::new());
    }

    /// The futex model: the value check and the sleep are atomic with respect to a
    /// wake (both under one mutex). Timeouts are not modelled: a sleeper that nobody
    /// wakes blocks for ever, which loom reports as a deadlock.
    pub fn futex_wait(word: &AtomicU32, expected: u32, _timeout: Option<Duration>) -> Woke {
        let guard = FUTEX
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if word.load(Ordering::SeqCst) == expected {
            drop(
                FUTEX
                    .1
                    .wait(guard)
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            );
        }
        Woke::Maybe
    }

    /// Wakes every modelled sleeper (more than `n` is allowed: they re-check).
    pub fn futex_wake(_word: &AtomicU32, _n: u32) {
        let _guard = FUTEX
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        FUTEX.1.notify_all();
    }
}

#[cfg(loom)]
pub use futex::{futex_wait, futex_wake};
