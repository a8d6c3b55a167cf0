//! Handles across `fork`: the per-process table of open handles, and the
//! `pthread_atfork` handlers (registered by `crate::sys`) that count a fork child's
//! inherited handles as its own.

use std::sync::atomic::Ordering;

use multiproc_sync::foundation::{Identity, this_process};

use super::Ring;
use super::layout::Header;
use super::registry::register_in;

/// Open handles of this process per queue: `(address of the mapping, count)`. A `fork`
/// child inherits copies of all of them (memory), so the child handler registers the
/// child as a producer holding that many handles on each queue.
type Table = Vec<(usize, u32)>;

static LOCAL: std::sync::Mutex<Table> = std::sync::Mutex::new(Vec::new());

/// Whether the fork child handler counted the inherited handles (then a handle copied
/// by `fork` is already part of this process's open count).
pub(crate) static FORK_COUNTED: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

fn local() -> std::sync::MutexGuard<'static, Table> {
    LOCAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Ring {
    /// One more open handle on this queue in this process.
    pub(crate) fn local_inc(&self) {
        let base = self.segment().as_ptr() as usize;
        let mut t = local();
        match t.iter_mut().find(|(b, _)| *b == base) {
            Some((_, n)) => *n += 1,
            None => t.push((base, 1)),
        }
    }

    /// One open handle fewer on this queue in this process. Called before the handle's
    /// mapping is dropped, so a listed address is always mapped.
    pub(crate) fn local_dec(&self) {
        let base = self.segment().as_ptr() as usize;
        let mut t = local();
        if let Some(i) = t.iter().position(|(b, _)| *b == base) {
            t[i].1 -= 1;
            if t[i].1 == 0 {
                t.swap_remove(i);
            }
        }
    }
}

thread_local! {
    /// The table lock, held by the forking thread from the `pthread_atfork` prepare
    /// handler until the parent/child handler, so the child sees the table the parent
    /// counted.
    /// The parent's identity travels with it to the child handler.
    static FORK_GUARD: std::cell::RefCell<Option<(std::sync::MutexGuard<'static, Table>, Identity)>> =
        const { std::cell::RefCell::new(None) };
}

/// The queue header at address `base`.
///
/// # Safety
/// `base` is listed in the table of handles and the caller holds the table lock:
/// entries are removed from the table before their mapping is dropped, under that
/// lock, and a fork child inherits the parent's mappings at the same addresses, so
/// `base` is the start of a live queue mapping (page aligned, at least
/// `HEADER_BYTES` long) while the lock is held. The returned reference must not be
/// used after the lock is released.
unsafe fn header_at<'a>(base: usize) -> &'a Header {
    // SAFETY:
    // - by the caller's contract `base` points to a live queue mapping, long and
    //   aligned enough for a `Header`, that stays mapped while the reference is used;
    // - the header holds only atomics (`SharedHeader`), valid for any bit pattern and
    //   shared with other processes through atomic accesses only.
    unsafe { &*(base as *const Header) }
}

/// `pthread_atfork` prepare handler (parent, before `fork`, ordinary context): takes
/// the table lock and marks the handles the child will inherit as "in transit" from
/// this process, so that getters keep seeing a producer until the child registered.
pub(crate) fn before_fork() {
    let me = this_process();
    let t = local();
    for &(base, n) in t.iter() {
        // SAFETY: `base` is listed in the table, whose lock `t` holds.
        let hdr = unsafe { header_at(base) };
        if let Some(idx) = register_in(hdr, me.id, me.start, false, 0) {
            hdr.registry[idx].transit.fetch_add(n, Ordering::AcqRel);
        }
    }
    FORK_GUARD.with(|g| *g.borrow_mut() = Some((t, me)));
}

/// `pthread_atfork` parent handler: releases the table lock.
pub(crate) fn after_fork_in_parent() {
    FORK_GUARD.with(|g| g.borrow_mut().take());
}

/// Runs in a `fork` child (from the `pthread_atfork` child handler): registers the child
/// in every queue it inherited open handles of, then ends the parent's "in transit"
/// marks. Async-signal-safe: the table lock is already held by this (the only) thread,
/// atomics on shared memory and futex wakes, no allocation, no `/proc` reads. The
/// foundation's own child handler ran first: `this_process` is the child's.
pub(crate) fn after_fork_in_child() {
    FORK_COUNTED.store(false, Ordering::Relaxed);
    let Some((t, parent)) = FORK_GUARD.with(|g| g.borrow_mut().take()) else {
        return;
    };
    let me = this_process();
    for &(base, n) in t.iter() {
        // SAFETY: `base` is listed in the table, whose lock `t` holds (taken by the
        // parent's prepare handler in this very thread, inherited by the child).
        let hdr = unsafe { header_at(base) };
        if let Some(idx) = register_in(hdr, me.id, me.start, false, base as u64) {
            hdr.registry[idx].open.fetch_add(n, Ordering::AcqRel);
        }
        if let Some(idx) = register_in(hdr, parent.id, parent.start, false, 0) {
            let e = &hdr.registry[idx];
            let _ = e
                .transit
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |m| m.checked_sub(n));
        }
    }
    drop(t);
    FORK_COUNTED.store(true, Ordering::Relaxed);
}
