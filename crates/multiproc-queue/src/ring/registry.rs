//! The registry: which processes hold open handles (or handles in transit), so that a
//! getter on an empty queue can tell "no producer left" and a putter on a full queue
//! "no consumer left" (a SIGKILLed process no longer counts).
//!
//! Every process holding a handle may both put and get (CPython's `Queue` has no
//! split), so it counts as a producer and as a consumer. A process leaves the
//! consumers only by declaring it ([`RECV_CLOSED`], `Queue::close_receiving`); only a
//! putter in such a process can be told "no consumer left", since in any other the
//! putter's own threads may still get.

use std::sync::atomic::Ordering;

use multiproc_sync::foundation::{maps_at, monotonic_ns, process_alive, this_process};

use super::layout::{Entry, Header};
use super::{Ring, SLICE};

/// Registry id layout: generation in the high 32 bits, pid in the low bits, and
/// [`RECLAIM`] while a dead entry is being cleared.
const PID_MASK: u32 = !(1 << 31);
const RECLAIM: u64 = 1 << 31;
/// Entry flag: the process declared that it will not get from the queue.
pub(super) const RECV_CLOSED: u32 = 1;

impl Ring {
    fn entry(&self, idx: usize) -> &Entry {
        &self.hdr().registry[idx]
    }

    /// This process's registry entry (found or claimed). `None` if all are taken by
    /// live processes.
    ///
    /// `inherited`: the entry of the handles this process inherited through `fork` (see
    /// [`after_fork_in_child`]) rather than its ordinary entry.
    pub(crate) fn register(&self, inherited: bool) -> Option<usize> {
        crate::sys::install_fork_hooks();
        let me = this_process();
        let (pid, start) = (me.id, me.start);
        let base = if inherited {
            self.segment().as_ptr() as u64
        } else {
            0
        };
        register_in(self.hdr(), pid, start, true, base)
    }
}

/// Finds or claims the entry of process `(pid, start)`; frees dead entries if all are
/// taken and `may_reclaim` (which reads `/proc`, allocating).
pub(super) fn register_in(
    hdr: &Header,
    pid: u32,
    start: u64,
    may_reclaim: bool,
    base: u64,
) -> Option<usize> {
    {
        let reg = &hdr.registry;
        for (i, e) in reg.iter().enumerate() {
            let id = e.id.load(Ordering::Acquire);
            if id as u32 == pid
                && e.start.load(Ordering::Relaxed) == start
                && e.base.load(Ordering::Relaxed) == base
            {
                return Some(i);
            }
        }
        for round in 0..2 {
            for (i, e) in reg.iter().enumerate() {
                let id = e.id.load(Ordering::Acquire);
                if id as u32 == 0
                    && e.id
                        .compare_exchange(
                            id,
                            id | u64::from(pid),
                            Ordering::AcqRel,
                            Ordering::Relaxed,
                        )
                        .is_ok()
                {
                    e.open.store(0, Ordering::Relaxed);
                    e.transit.store(0, Ordering::Relaxed);
                    e.base.store(base, Ordering::Relaxed);
                    e.flags.store(0, Ordering::Relaxed);
                    e.start.store(start, Ordering::Release);
                    return Some(i);
                }
            }
            if round == 0 && may_reclaim {
                reclaim_dead(hdr);
            }
        }
        None
    }
}

/// Frees the entries of dead processes.
fn reclaim_dead(hdr: &Header) {
    {
        for e in &hdr.registry {
            let id = e.id.load(Ordering::Acquire);
            let pid = id as u32;
            if pid == 0 || id & RECLAIM != 0 {
                continue;
            }
            if process_alive(pid, e.start.load(Ordering::Acquire)) {
                continue;
            }
            if e.id
                .compare_exchange(id, id | RECLAIM, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                e.open.store(0, Ordering::Relaxed);
                e.transit.store(0, Ordering::Relaxed);
                e.base.store(0, Ordering::Relaxed);
                e.flags.store(0, Ordering::Relaxed);
                e.start.store(0, Ordering::Relaxed);
                let next_gen = ((id >> 32) + 1) << 32;
                e.id.store(next_gen, Ordering::Release);
            }
        }
    }
}

impl Ring {
    pub(crate) fn entry_id(&self, idx: usize) -> u64 {
        self.entry(idx).id.load(Ordering::Acquire)
    }

    pub(crate) fn open_inc(&self, idx: usize) {
        self.entry(idx).open.fetch_add(1, Ordering::AcqRel);
    }

    /// One open handle fewer; wakes getters if this may have been the last producer.
    pub(crate) fn open_dec(&self, idx: usize) {
        let e = self.entry(idx);
        let prev = e
            .open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
        if prev == Ok(1) {
            self.wake_getters();
        }
    }

    pub(crate) fn transit_inc(&self, idx: usize) {
        self.entry(idx).transit.fetch_add(1, Ordering::AcqRel);
    }

    /// A handle serialized by entry `idx` (then `id`) arrived.
    pub(crate) fn transit_dec(&self, idx: usize, id: u64) {
        let Some(e) = self.hdr().registry.get(idx) else {
            return;
        };
        if e.id.load(Ordering::Acquire) != id {
            return;
        }
        let prev = e
            .transit
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
        if prev == Ok(1) {
            self.wake_getters();
        }
    }

    fn wake_getters(&self) {
        self.hdr().data.0.wake_all();
    }

    /// No live process holds an open handle (or one in transit).
    ///
    /// Without `probe`, only what the registry itself says is used (no system call):
    /// another process's open handles count as live. With `probe`, `/proc` tells
    /// whether those processes still exist and still map the queue.
    pub(super) fn no_live_producer(&self, probe: bool) -> bool {
        let h = self.hdr();
        if h.config.0.all_closed.load(Ordering::Acquire) != 0 {
            return true;
        }
        let none = self.no_live_producer_in_registry(probe);
        if probe && !none {
            h.config.0.alive_at.store(monotonic_ns(), Ordering::Relaxed);
        }
        none
    }

    /// Like [`no_live_producer`](Self::no_live_producer), but a `/proc` probe is
    /// skipped when some process found a live producer through `/proc` less than a
    /// [`SLICE`] ago: a getter at its deadline (`try_get`, timed gets) then reads
    /// only the registry's counts. A producer SIGKILLed meanwhile is still noticed
    /// within about a slice (once the stamp is older than that; a probe that finds it
    /// dead does not renew the stamp), as the crate documents.
    pub(super) fn no_live_producer_recently_probed(&self, probe: bool) -> bool {
        let at = self.hdr().config.0.alive_at.load(Ordering::Relaxed);
        // A stamp from the future (another time namespace) is not trusted.
        let fresh = at != 0
            && monotonic_ns()
                .checked_sub(at)
                .is_some_and(|age| age < SLICE.as_nanos() as u64);
        self.no_live_producer(probe && !fresh)
    }

    fn no_live_producer_in_registry(&self, probe: bool) -> bool {
        let h = self.hdr();
        let me = this_process().id;
        let mut ino = None;
        h.registry.iter().all(|e| {
            let id = e.id.load(Ordering::Acquire);
            let pid = id as u32 & PID_MASK;
            if pid == 0 || id & RECLAIM != 0 {
                return true;
            }
            if e.open.load(Ordering::Acquire) == 0 && e.transit.load(Ordering::Acquire) == 0 {
                return true;
            }
            let base = e.base.load(Ordering::Acquire);
            if pid == me {
                // Our own inherited copies that nobody here has used (the parent's
                // handles duplicated by `fork`, which this process will never drop) do
                // not count; our own open handles do, and we are alive.
                return base != 0;
            }
            if !probe {
                return false;
            }
            if !process_alive(pid, e.start.load(Ordering::Acquire)) {
                return true;
            }
            // Inherited handles count only while the process still maps the queue
            // where its parent did (not after an `exec`).
            if base == 0 {
                return false;
            }
            let ino = *ino.get_or_insert_with(|| crate::sys::inode(self.segment()));
            ino.is_some_and(|ino| !maps_at(pid, base, ino))
        })
    }

    /// Whether getters would be told `Closed` on an empty queue.
    pub(crate) fn producers_gone(&self) -> bool {
        self.no_live_producer(true)
    }

    // ------------------------------------------------------------- consumers

    /// Declares that this process will not get from the queue: entry `idx` (this
    /// process's ordinary entry) stops counting as a consumer.
    pub(crate) fn close_receiving(&self, idx: usize) {
        self.entry(idx)
            .flags
            .fetch_or(RECV_CLOSED, Ordering::AcqRel);
    }

    /// Whether this process declared that it will not get (its ordinary entry carries
    /// [`RECV_CLOSED`]). Reads the registry only: no system call.
    fn receiving_closed_here(&self) -> bool {
        let me = this_process();
        self.hdr().registry.iter().any(|e| {
            let id = e.id.load(Ordering::Acquire);
            id as u32 & PID_MASK == me.id
                && id & RECLAIM == 0
                && e.base.load(Ordering::Relaxed) == 0
                && e.start.load(Ordering::Acquire) == me.start
                && e.flags.load(Ordering::Acquire) & RECV_CLOSED != 0
        })
    }

    /// Whether a putter of this process, waiting for room, should give up: this
    /// process declared that it will not get, and no live process that may get is
    /// left. Called only at the blocking point (after a slice without room), never on
    /// the fast path; reads `/proc` for the processes the registry names.
    ///
    /// A process may get unless it declared otherwise; handles in transit count as
    /// consumers whoever sent them (the receiver may get), and so do a fork child's
    /// inherited handles while it still maps the queue where its parent did.
    pub(super) fn no_live_consumer(&self) -> bool {
        if !self.receiving_closed_here() {
            return false;
        }
        let h = self.hdr();
        let me = this_process().id;
        let mut ino = None;
        h.registry.iter().all(|e| {
            let id = e.id.load(Ordering::Acquire);
            let pid = id as u32 & PID_MASK;
            if pid == 0 || id & RECLAIM != 0 {
                return true;
            }
            let open = e.open.load(Ordering::Acquire);
            let transit = e.transit.load(Ordering::Acquire);
            if transit == 0
                && (open == 0 || pid == me || e.flags.load(Ordering::Acquire) & RECV_CLOSED != 0)
            {
                // No handle, our own (we declared), or a process that declared too.
                return true;
            }
            if !process_alive(pid, e.start.load(Ordering::Acquire)) {
                return true;
            }
            if transit != 0 {
                return false;
            }
            let base = e.base.load(Ordering::Acquire);
            if base == 0 {
                return false;
            }
            let ino = *ino.get_or_insert_with(|| crate::sys::inode(self.segment()));
            ino.is_some_and(|ino| !maps_at(pid, base, ino))
        })
    }
}
