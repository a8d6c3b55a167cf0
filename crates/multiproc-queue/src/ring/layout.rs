//! The layout of a queue segment: a [`Header`] (cache-line separated parts, each
//! written by one side) followed by the byte ring, then the bulk area (sparse until
//! an item larger than the ring is put).

use std::sync::atomic::{AtomicU32, AtomicU64};

use multiproc_sync::foundation::{Doorbell, RobustMutex, SharedHeader};

use super::REGISTRY;

#[repr(C, align(64))]
pub(super) struct Line<T>(pub(super) T);

/// Written only by the holder of the put lock.
#[repr(C)]
pub(super) struct PutSide {
    /// The put lock, owned by a process (any of its threads may put).
    pub(super) lock: RobustMutex,
    /// Records completed so far (the n-th record has seq n).
    pub(super) puts: AtomicU64,
    pub(super) cached_head: AtomicU64,
    pub(super) cached_gets: AtomicU64,
    /// Intent of the current/last put: record `[open_start, open_end)` with seq
    /// `open_seq`; `open_end == 0` means none.
    pub(super) open_start: AtomicU64,
    pub(super) open_end: AtomicU64,
    pub(super) open_seq: AtomicU64,
    /// End of the bulk area written so far: where the next bulk payload may start.
    pub(super) bulk_tail: AtomicU64,
    pub(super) cached_bulk_head: AtomicU64,
    /// Intent of the current/last bulk put: its payload ends here in the bulk area
    /// (`bulk_tail` once published).
    pub(super) open_bulk_end: AtomicU64,
}

/// Written only by the holder of the get lock.
#[repr(C)]
pub(super) struct GetSide {
    /// The get lock, owned by a process.
    pub(super) lock: RobustMutex,
    /// Records taken so far.
    pub(super) gets: AtomicU64,
    pub(super) cached_tail: AtomicU64,
    pub(super) cons_start: AtomicU64,
    pub(super) cons_end: AtomicU64,
    pub(super) cons_seq: AtomicU64,
    /// Intent of the current/last get of a bulk record: its payload's end in the bulk
    /// area (`bulk_head` once taken).
    pub(super) cons_bulk_end: AtomicU64,
}

#[repr(C)]
pub(super) struct Config {
    pub(super) magic: AtomicU64,
    pub(super) cap: AtomicU64,
    pub(super) maxsize: AtomicU64,
    /// Position at which a partial (streamed) record was cut; 0 = never.
    pub(super) abort_pos: AtomicU64,
    /// Set once a getter found no live producer: nothing can be put any more.
    pub(super) all_closed: AtomicU32,
    pub(super) _pad: AtomicU32,
    /// `CLOCK_MONOTONIC` nanoseconds at which a getter last found, through `/proc`, a
    /// live process holding open handles; 0 = never. Another `/proc` probe within
    /// [`SLICE`](super::SLICE) of it is skipped (the registry's counts are still read).
    pub(super) alive_at: AtomicU64,
    /// Bytes of the bulk area after the ring (a multiple of 4096; 0 = none).
    pub(super) bulk_cap: AtomicU64,
}

#[repr(C)]
pub(super) struct Join {
    pub(super) done: AtomicU64,
    /// Rung by `task_done` for sleepers in `join`.
    pub(super) bell: Doorbell,
}

/// One process holding handles.
#[repr(C)]
pub(crate) struct Entry {
    pub(super) id: AtomicU64,
    pub(super) start: AtomicU64,
    pub(super) open: AtomicU32,
    pub(super) transit: AtomicU32,
    /// 0 for an ordinary entry. For an entry made by the fork handler: the address at
    /// which the process maps the queue (inherited handles live there; after an `exec`
    /// the process no longer maps it there, so the entry stops counting).
    pub(super) base: AtomicU64,
    /// [`RECV_CLOSED`](super::registry::RECV_CLOSED) once the process declared that it
    /// will not get from the queue (`Queue::close_receiving`); 0 otherwise.
    pub(super) flags: AtomicU32,
    pub(super) _pad: AtomicU32,
}

#[repr(C)]
pub(super) struct Header {
    pub(super) config: Line<Config>,
    pub(super) put: Line<PutSide>,
    pub(super) tail: Line<AtomicU64>,
    pub(super) get: Line<GetSide>,
    pub(super) head: Line<AtomicU64>,
    /// End of the bulk payloads taken so far (written by the get-lock holder).
    pub(super) bulk_head: Line<AtomicU64>,
    /// Rung by producers for the consumer holding the get lock.
    pub(super) data: Line<Doorbell>,
    /// Rung by consumers for the producer holding the put lock.
    pub(super) space: Line<Doorbell>,
    pub(super) join: Line<Join>,
    pub(super) registry: [Entry; REGISTRY],
}

// SAFETY: `Header` is `#[repr(C)]` with alignment 64 (at most a page), and made only of
// atomics, `SharedHeader` types (`RobustMutex`, `Doorbell`), `#[repr(C)]` structs and
// arrays of those: every bit pattern (zero included) is valid, and all processes
// access it through atomics only.
unsafe impl SharedHeader for Header {}

/// Bytes before the ring: the header rounded up to a page.
pub(super) const HEADER_BYTES: usize = std::mem::size_of::<Header>().div_ceil(4096) * 4096;

const _: () = {
    assert!(std::mem::align_of::<Header>() == 64);
    assert!(std::mem::size_of::<Entry>() == 40);
    assert!(std::mem::size_of::<RobustMutex>() == 16);
    assert!(HEADER_BYTES <= 8192);
};
