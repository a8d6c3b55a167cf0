//! The operating-system calls of this crate beyond `multiproc_sync::foundation`
//! (futexes, identities, liveness and the monotonic clock live there): registering the
//! queue's `fork` handlers, and the inode of a segment.

use std::sync::atomic::{AtomicU32, Ordering};

use multiproc_ipc::SharedSegment;

extern "C" fn prepare() {
    crate::ring::before_fork();
}

extern "C" fn parent() {
    crate::ring::after_fork_in_parent();
}

extern "C" fn child() {
    crate::ring::after_fork_in_child();
}

/// Registers the queue's `fork` handlers, once per process image (inherited by fork
/// children): they count a child's inherited handles as its own.
#[expect(
    unsafe_code,
    reason = "registers the fork handlers through an unsafe fn"
)]
pub(crate) fn install_fork_hooks() {
    // Not a `std::sync::Once`: a fork child whose parent forked while another thread was
    // registering would wait for ever on a `Once` left running by a thread that does not
    // exist in the child (the identity caches of multiproc-sync had that hang). Another
    // thread's registration is waited for a bounded number of turns (in a parent it
    // takes microseconds); a child that still finds it under way goes on, and its
    // inherited handles may then not be counted as its own (the fallback below).
    static STATE: AtomicU32 = AtomicU32::new(0);
    if STATE
        .compare_exchange(0, 1, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        for _ in 0..100_000 {
            if STATE.load(Ordering::Acquire) == 2 {
                return;
            }
            std::thread::yield_now();
        }
        return;
    }
    // SAFETY:
    // - the handlers do not unwind: they only touch atomics, the table mutex
    //   (whose poisoning is ignored) and shared memory;
    // - the child handler is async-signal-safe as required: the table lock is
    //   already held by this (the only) thread, no allocation, no `/proc` reads (see
    //   `ring::after_fork_in_child`).
    // If registration fails (ENOMEM), a fork child's inherited handles are not
    // counted as its own: getters then rely on the parent's open count.
    let _ =
        unsafe { multiproc_sync::foundation::at_fork(Some(prepare), Some(parent), Some(child)) };
    STATE.store(2, Ordering::Release);
}

/// The inode of the file behind `seg` (`None` if `fstat` fails).
pub(crate) fn inode(seg: &SharedSegment) -> Option<u64> {
    rustix::fs::fstat(seg).map(|st| st.st_ino).ok()
}
