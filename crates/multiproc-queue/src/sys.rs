//! The operating-system calls of this crate beyond `multiproc_sync::foundation`
//! (futexes, identities, liveness and the monotonic clock live there): registering the
//! queue's `fork` handlers, and the inode of a segment.

use std::sync::Once;

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
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY:
        // - the handlers do not unwind: they only touch atomics, the table mutex
        //   (whose poisoning is ignored) and shared memory;
        // - the child handler is async-signal-safe as required: the table lock is
        //   already held by this (the only) thread, no allocation, no `/proc` reads (see
        //   `ring::after_fork_in_child`).
        // If registration fails (ENOMEM), a fork child's inherited handles are not
        // counted as its own: getters then rely on the parent's open count.
        let _ = unsafe {
            multiproc_sync::foundation::at_fork(Some(prepare), Some(parent), Some(child))
        };
    });
}

/// The inode of the file behind `seg` (`None` if `fstat` fails).
pub(crate) fn inode(seg: &SharedSegment) -> Option<u64> {
    rustix::fs::fstat(seg).map(|st| st.st_ino).ok()
}
