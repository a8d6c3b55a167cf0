//! This process's list of children (CPython's `_children`): reaping finished ones,
//! and ending them all at exit (CPython's `_exit_function`).

use std::sync::Arc;

use crate::global;
use crate::handle::Core;
use crate::sys::{self, Signal};

/// Takes a child whose exit has been observed off this process's list of children, so
/// that its descriptors (the result socket, the pidfd, a fork-server status socket) are
/// closed with the last handle, not kept until the next `start()` or
/// `active_children()`. The caller must not hold the global lock.
pub(crate) fn unlist(core: &Arc<Core>) {
    if core.owner != std::process::id() {
        return;
    }
    let mut g = global::lock();
    if let Some(i) = g.children.iter().position(|c| Arc::ptr_eq(c, core)) {
        // Not the last reference (the caller holds one): nothing is closed under the lock.
        g.children.remove(i);
    }
}

/// [`cleanup`] without the list of live children.
pub(crate) fn reap_finished() {
    let me = std::process::id();
    global::lock()
        .children
        .retain(|c| c.owner == me && c.exitcode().is_none());
}

/// Reaps finished children of this process (CPython's `_cleanup`), returning the live ones.
pub(crate) fn cleanup() -> Vec<Arc<Core>> {
    let me = std::process::id();
    let mut g = global::lock();
    g.children
        .retain(|c| c.owner == me && c.exitcode().is_none());
    g.children.clone()
}

/// CPython's `_exit_function`: terminate daemonic children, then join all children.
pub(crate) fn shutdown_children() {
    shutdown_children_logged(true);
}

/// `log`: whether tracing may be used. Not from an `atexit` handler: by then the main
/// thread's thread-locals (tracing-subscriber's buffers among them) are destroyed, and
/// touching them panics.
fn shutdown_children_logged(log: bool) {
    let children = cleanup();
    for c in children.iter().filter(|c| c.info.daemon) {
        if log {
            tracing::info!("calling terminate() for daemon {}", c.info.name);
        }
        let _ = c.signal(Signal::TERM);
    }
    for c in &children {
        if log {
            tracing::info!("calling join() for process {}", c.info.name);
        }
        let _ = c.wait(None);
    }
    cleanup();
}

extern "C" fn at_exit() {
    let _ = std::panic::catch_unwind(|| {
        shutdown_children_logged(false);
    });
}

pub(crate) fn ensure_atexit() {
    let mut g = global::lock();
    if !g.atexit_registered {
        g.atexit_registered = true;
        drop(g);
        sys::register_atexit(at_exit);
    }
}
