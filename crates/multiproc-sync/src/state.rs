//! The shared-memory layouts of the barrier, event, recursive lock and semaphore: the
//! `#[repr(C)]` state each keeps at offset 0 of its segment, read across processes
//! (sizes asserted here). Below `mapping` (which views them) and the primitives' own
//! modules (which operate on them).

use std::sync::atomic::AtomicU32;

use crate::raw::CondState;
use crate::robust::RobustMutex as MutexState;

/// The barrier's state, guarded by its own robust mutex (CPython's `threading.Barrier`
/// algorithm); followed in the segment by one slot per party holding the token of the
/// thread that occupies it (0 = free), for liveness checks.
#[repr(C)]
#[derive(Debug, Default)]
pub(crate) struct BarrierState {
    pub(crate) mutex: MutexState,
    pub(crate) cond: CondState,
    pub(crate) state: AtomicU32,
    pub(crate) count: AtomicU32,
    /// Completed cycles (wrapping): a waiter whose cycle completed has passed, even if
    /// the barrier is aborted or broken before it gets the mutex back.
    pub(crate) cycle: AtomicU32,
    pub(crate) _pad: AtomicU32,
}

const _: () = assert!(size_of::<BarrierState>() == 48 && align_of::<BarrierState>() == 8);

#[repr(C)]
#[derive(Debug, Default)]
pub(crate) struct EventState {
    pub(crate) flag: AtomicU32,
    pub(crate) sleepers: AtomicU32,
}

const _: () = assert!(size_of::<EventState>() == 8 && align_of::<EventState>() == 4);

/// `RLock`'s state: the mutex and the recursion depth (written by the owner only).
#[repr(C)]
#[derive(Debug, Default)]
pub(crate) struct RLockState {
    pub(crate) mutex: MutexState,
    pub(crate) count: AtomicU32,
    pub(crate) _pad: AtomicU32,
}

const _: () = assert!(size_of::<RLockState>() == 24 && align_of::<RLockState>() == 8);

/// `value` is the futex word; `sleepers` counts threads in (or entering) `FUTEX_WAIT`;
/// `max` is the bound (0 = unbounded).
#[repr(C)]
#[derive(Debug, Default)]
pub(crate) struct SemState {
    pub(crate) value: AtomicU32,
    pub(crate) sleepers: AtomicU32,
    pub(crate) max: AtomicU32,
    pub(crate) _pad: AtomicU32,
}

const _: () = assert!(size_of::<SemState>() == 16 && align_of::<SemState>() == 4);
