//! The shared-memory ring under every queue type. Submodules: [`layout`] (the header),
//! [`bytes`] (copies in and out of the ring, `unsafe fn` with their contracts), [`put`]
//! and [`get`] (the two sides, their waits and repairs), [`registry`] (who still
//! holds handles), [`fork`] (handles across `fork`); here: creation, counts and the
//! `JoinableQueue` counters. The robust lock, the doorbells, liveness probes and fork
//! hooks are `multiproc_sync::foundation`'s.
//!
//! # Design
//!
//! One [`SharedSegment`] holds a [`Header`] followed by a byte ring of `cap` bytes.
//! Items are records: an 8-byte little-endian length, the postcard bytes, padding to 8.
//! Byte positions (`tail`, `head`) are 64-bit and only grow; `pos % cap` is the offset.
//!
//! * **Producers** serialise behind the *put lock*, **consumers** behind the *get lock*:
//!   the ring itself is single-producer single-consumer between the current holders, so
//!   publishing a record is one `Release` store of `tail` and taking one is one store of
//!   `head`. Each holder keeps its own cache line (the lock, its counters, a cached copy
//!   of the other side's position), so a put or get touches the other side's line only
//!   when its cached view runs out.
//! * **Locks are robust** ([`RobustMutex`], owned by a process). The lock word holds the
//!   holder's pid; a waiter that has waited a slice ([`SLICE`]) checks whether the
//!   holder is still alive (`/proc/<pid>/stat`, start time, zombie state) and takes the
//!   lock over if not, then repairs the side
//!   (`repair_put`/`repair_get`) from the intent the dead holder wrote before it touched
//!   the ring (`open_*`/`cons_*`).
//! * **Records no larger than the ring are published whole**: a reader never sees part
//!   of one. A dead producer's unpublished record simply never existed; a dead consumer's
//!   record is delivered again if it had not advanced `head`, lost (it was in flight in
//!   the dead process) if it had.
//! * **Records larger than the ring but no larger than the bulk area travel whole
//!   beside it** (#15): the segment holds, after the ring, a *bulk area* of
//!   [`BULK_FACTOR`] times the ring (at most [`BULK_MAX`]), a sparse part of the same
//!   memfd whose pages exist only once a large item was put. The payload is written
//!   (encoded in place) there, contiguous (a payload that would wrap starts at the
//!   area's beginning instead), and the ring carries a 16-byte *reference record*:
//!   the length with [`BULK_FLAG`] set, then the payload's bulk position. The bulk area
//!   is a second single-producer single-consumer FIFO under the same two side locks
//!   (`bulk_tail` advanced by the put-lock holder once the reference is published,
//!   `bulk_head` by the get-lock holder once the item is decoded), so bulk payloads
//!   are released in the order their references are taken; the getter decodes in
//!   place (one copy, into the item). A producer killed before publishing leaves
//!   `bulk_tail` where it was (its bytes are simply overwritten); one killed after
//!   publishing leaves an intent (`open_bulk_end`) `repair_put` applies; a consumer
//!   killed before advancing `head` leaves the record (and its bulk bytes, since
//!   `bulk_head` moves only after `head`) for the next one; one killed between the two
//!   stores leaves `cons_bulk_end`, applied by `repair_get`. An empty ring (`head ==
//!   tail`) means no bulk byte is in use, whatever the positions say, so a stale gap
//!   can never block a put for good.
//! * **Records larger than the bulk area stream**: the producer publishes the header
//!   and pieces as space frees, the consumer (holding the get lock) collects them and
//!   returns the item only when complete. A producer that dies or times out mid-stream
//!   leaves an *abort mark* (`abort_pos`) and readers drop the partial record; a consumer
//!   that dies mid-stream leaves `head` inside the record and the next consumer discards
//!   the remainder.
//! * **Wake-ups** go through [`Doorbell`]s (futex words with sleeper counts): the fast
//!   path makes no system call; a side only calls `futex_wake` when the other side
//!   announced a sleeper.
//! * **Waiting is CPU-aware.** Before sleeping a waiter spins a bounded while. The side
//!   locks and wait words record the CPU their holder, notifier and spinner last ran
//!   on (written only when it changes, read through the vDSO's `getcpu`): a waiter
//!   whose holder or peer last ran on its own CPU yields instead of pausing, and a
//!   side that just woke a sleeper or fed a spinner on its CPU yields in its next
//!   wait ([`Spin::CpuAware`]) — on two CPUs the peer is often queued behind the spinner, which would
//!   otherwise delay it by the whole spin. The yield phase is also bounded in time, so
//!   a side idle longer than ~10 µs is asleep in the futex.
//! * **Producers are counted per process** in a registry (pid, start time, open handles,
//!   handles in transit). A getter on an empty queue returns `Closed` once no live
//!   process holds an open handle (a SIGKILLed process no longer counts). Mirrored for
//!   consumers: a process may declare that it will not get (an entry flag); a putter
//!   of such a process that waited a slice for room learns `NoConsumer` once no live
//!   process that may get is left (checked only at that blocking point).

#![expect(
    unsafe_code,
    reason = "the ring's memory accesses: the crate's named unsafe module"
)]

#[cfg(feature = "tokio")]
mod aio;
mod bytes;
mod fork;
mod get;
mod layout;
mod put;
mod registry;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use multiproc_ipc::SharedSegment;
#[cfg(doc)]
use multiproc_sync::foundation::Doorbell;
use multiproc_sync::foundation::{
    Acquired, Deadline, HeaderView, LIVENESS_SLICE, RobustMutex, Spin, this_process,
};

pub(crate) use fork::{FORK_COUNTED, after_fork_in_child, after_fork_in_parent, before_fork};
use layout::{HEADER_BYTES, Header};

/// How long a waiter sleeps before it checks whether the other party is still alive.
pub(crate) const SLICE: Duration = LIVENESS_SLICE;
/// Largest item accepted (bytes of its postcard encoding).
pub(crate) const MAX_ITEM: u64 = 1 << 34;
/// Number of processes that may hold handles on one queue at the same time.
pub(crate) const REGISTRY: usize = 128;
/// Default ring size in bytes.
pub(crate) const DEFAULT_RING: usize = 1 << 20;
/// Smallest ring size in bytes.
pub(crate) const MIN_RING: usize = 4096;
/// The bulk area is this many times the ring...
pub(crate) const BULK_FACTOR: usize = 4;
/// ...and at most this many bytes.
pub(crate) const BULK_MAX: usize = 64 << 20;
/// Set in a record's length word: a reference record (length, then the payload's
/// position in the bulk area).
pub(crate) const BULK_FLAG: u64 = 1 << 63;
/// Footprint of a reference record in the ring.
const BULK_FOOT: u64 = 16;

/// Pauses a consumer spins for the next piece of a streamed record before it sleeps
/// (about 5 µs on the reference machine).
const SPIN: u32 = 200;

const MAGIC: u64 = 0x6d70_7175_6575_6532; // "mpqueue2"

/// Why a side operation did not complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fail {
    /// Deadline reached (`Full` for puts, `Empty` for gets when it was "now").
    Timeout,
    /// No live producer and nothing left (gets only).
    Closed,
    /// The ring's memory does not hold a valid record (should never happen).
    Corrupt,
    /// No room, and no live process that may get is left (puts of a process that
    /// declared it will not get only).
    NoConsumer,
}

/// Views of a queue segment in this process. Cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Ring {
    view: HeaderView<Header>,
    cap: u64,
    /// Bytes of the bulk area (0: none).
    bulk: u64,
}

fn align8(n: u64) -> u64 {
    (n + 7) & !7
}

/// Takes a side lock for this process; `Ok(true)` if it was taken over from a dead
/// holder (then the caller repairs the side).
///
/// `peer`: the other side's CPU word (the notifier of the doorbell this side waits
/// on): a waiter on that CPU yields too, since its spinning would only delay the
/// other side.
fn side_lock(lock: &RobustMutex, peer: &AtomicU32, deadline: Deadline) -> Result<bool, Fail> {
    match lock.lock(
        this_process(),
        deadline,
        Spin::CpuAware { peer: Some(peer) },
    ) {
        Acquired::Ok => Ok(false),
        Acquired::OwnerDied => Ok(true),
        Acquired::TimedOut => Err(Fail::Timeout),
    }
}

/// Releases a side lock when dropped (also on unwinding).
struct Held<'a>(&'a RobustMutex);

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.0.unlock();
    }
}

/// What a put is allowed to wait for.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Block {
    /// Do not wait for space (`try_put`).
    No,
    /// Wait until the deadline (`None`: forever).
    Until(Option<Instant>),
}

impl Block {
    /// `No` is an instant already reached: the side lock still spins briefly for a
    /// holder about to leave, but nothing sleeps.
    fn deadline(self) -> Deadline {
        match self {
            Block::No => Deadline::At(Instant::now()),
            Block::Until(d) => Deadline::at(d),
        }
    }
}

enum Stream {
    Done,
    Aborted(u64),
}

impl Ring {
    /// Creates a new queue segment with a ring of `ring_bytes` (rounded up to 4096)
    /// and an item limit `maxsize` (0 = none).
    pub(crate) fn create(
        maxsize: u64,
        ring_bytes: usize,
    ) -> Result<Ring, multiproc_ipc::SegmentError> {
        let too_large = || {
            multiproc_ipc::SegmentError::Io(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("a queue ring of {ring_bytes} bytes is larger than memory can be"),
            ))
        };
        let cap = ring_bytes
            .max(MIN_RING)
            .div_ceil(4096)
            .checked_mul(4096)
            .ok_or_else(too_large)?;
        // Sparse: its pages are allocated only when an item larger than the ring is put.
        let bulk = cap.saturating_mul(BULK_FACTOR).min(BULK_MAX.max(cap));
        let total = HEADER_BYTES
            .checked_add(cap)
            .and_then(|n| n.checked_add(bulk))
            .ok_or_else(too_large)?;
        let ring = Ring {
            view: HeaderView::create("multiproc-queue", total)?,
            cap: cap as u64,
            bulk: bulk as u64,
        };
        let h = ring.hdr();
        h.config.0.cap.store(cap as u64, Ordering::Relaxed);
        h.config.0.bulk_cap.store(bulk as u64, Ordering::Relaxed);
        h.config.0.maxsize.store(maxsize, Ordering::Relaxed);
        h.config.0.magic.store(MAGIC, Ordering::Release);
        Ok(ring)
    }

    /// Views a segment received from another process; checks that it is a queue.
    pub(crate) fn attach(seg: SharedSegment) -> Result<Ring, String> {
        if seg.len() < HEADER_BYTES + MIN_RING {
            return Err(format!(
                "segment of {} bytes is too small for a queue",
                seg.len()
            ));
        }
        let ring = Ring {
            view: HeaderView::from_segment(seg).map_err(|e| e.to_string())?,
            cap: 0,
            bulk: 0,
        };
        let h = ring.hdr();
        if h.config.0.magic.load(Ordering::Acquire) != MAGIC {
            return Err("segment does not hold a multiproc queue".into());
        }
        let cap = h.config.0.cap.load(Ordering::Relaxed);
        if cap == 0 || cap % 4096 != 0 || HEADER_BYTES as u64 + cap > ring.segment().len() as u64 {
            return Err(format!("queue header claims a ring of {cap} bytes"));
        }
        let bulk = h.config.0.bulk_cap.load(Ordering::Relaxed);
        if bulk % 4096 != 0
            || (HEADER_BYTES as u64 + cap)
                .checked_add(bulk)
                .is_none_or(|end| end > ring.segment().len() as u64)
        {
            return Err(format!("queue header claims a bulk area of {bulk} bytes"));
        }
        Ok(Ring { cap, bulk, ..ring })
    }

    pub(crate) fn segment(&self) -> &SharedSegment {
        self.view.segment()
    }

    #[inline]
    fn hdr(&self) -> &Header {
        self.view.get()
    }

    fn data(&self) -> *mut u8 {
        // HEADER_BYTES < len, so the offset stays inside the mapping.
        self.segment().as_ptr().wrapping_add(HEADER_BYTES)
    }

    /// Start of the bulk area (right after the ring).
    fn bulk_data(&self) -> *mut u8 {
        // HEADER_BYTES + cap + bulk <= len (checked at creation and attachment).
        self.data().wrapping_add(self.cap as usize)
    }

    pub(crate) fn capacity_bytes(&self) -> u64 {
        self.cap
    }

    pub(crate) fn maxsize(&self) -> u64 {
        self.hdr().config.0.maxsize.load(Ordering::Relaxed)
    }

    // ---------------------------------------------------------------- counts

    /// Completed records put minus records taken.
    pub(crate) fn len(&self) -> u64 {
        let h = self.hdr();
        let gets = h.get.0.gets.load(Ordering::Acquire);
        let puts = h.put.0.puts.load(Ordering::Acquire);
        puts.saturating_sub(gets)
    }

    /// Whether a put would have to wait now (maxsize reached or ring nearly full).
    pub(crate) fn is_full(&self) -> bool {
        let h = self.hdr();
        let max = self.maxsize();
        if max != 0 && self.len() >= max {
            return true;
        }
        let head = h.head.0.load(Ordering::Acquire);
        let tail = h.tail.0.load(Ordering::Acquire).max(head);
        self.cap - (tail - head).min(self.cap) < 16
    }

    // ---------------------------------------------------------------- joinable

    pub(crate) fn task_done(&self) -> bool {
        let h = self.hdr();
        let j = &h.join.0;
        let mut done = j.done.load(Ordering::Relaxed);
        loop {
            let puts = h.put.0.puts.load(Ordering::Acquire);
            if done >= puts {
                return false;
            }
            match j
                .done
                .compare_exchange_weak(done, done + 1, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => break,
                Err(d) => done = d,
            }
        }
        j.bell.ring_sleepers();
        true
    }

    /// Items put and not yet marked done.
    pub(crate) fn unfinished(&self) -> u64 {
        let h = self.hdr();
        let done = h.join.0.done.load(Ordering::Acquire);
        h.put.0.puts.load(Ordering::Acquire).saturating_sub(done)
    }

    pub(crate) fn join(&self, deadline: Option<Instant>) -> Result<(), Fail> {
        let j = &self.hdr().join.0;
        let deadline = Deadline::at(deadline);
        loop {
            if self.unfinished() == 0 {
                return Ok(());
            }
            if deadline.expired() {
                return Err(Fail::Timeout);
            }
            j.bell
                .wait(deadline.slice(SLICE), || self.unfinished() == 0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use multiproc_sync::foundation::Identity;

    /// The pid of a process that has exited and been reaped.
    fn dead_pid() -> u32 {
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("spawn true");
        let pid = child.id();
        child.wait().expect("reap true");
        pid
    }

    fn bound() -> Block {
        Block::Until(Some(Instant::now() + Duration::from_secs(60)))
    }

    fn take(ring: &Ring) -> Vec<u8> {
        let deadline = Some(Instant::now() + Duration::from_secs(60));
        ring.get(deadline, &mut Vec::new(), <[u8]>::to_vec)
            .expect("get")
    }

    fn in_place(ring: &Ring, payload: &[u8]) {
        ring.put_in_place(payload.len() as u64, bound(), |a, b| {
            let (x, y) = payload.split_at(a.len());
            a.copy_from_slice(x);
            b.copy_from_slice(y);
            Ok::<(), ()>(())
        })
        .expect("put_in_place")
        .expect("fill");
    }

    /// The data part of a ring's segment.
    fn ring_bytes(ring: &Ring) -> Vec<u8> {
        let seg = ring.segment();
        // SAFETY: test only; no other thread touches the ring meanwhile.
        let all = unsafe { std::slice::from_raw_parts(seg.as_ptr(), seg.len()) };
        all[HEADER_BYTES..].to_vec()
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 32, ..Default::default() })]
        /// Records written in place and records copied in give the same ring bytes and
        /// the same items, through wrap-around and up to the ring's size.
        #[test]
        fn in_place_and_copied_records_are_the_same(
            sizes in proptest::collection::vec(
                proptest::prop_oneof![0usize..64, 0usize..=4088, 4080usize..=4088],
                1..40,
            ),
            lag in 0usize..3,
        ) {
            let a = Ring::create(0, MIN_RING).expect("ring");
            let b = Ring::create(0, MIN_RING).expect("ring");
            let mut pending = std::collections::VecDeque::new();
            for (i, &n) in sizes.iter().enumerate() {
                let payload: Vec<u8> = (0..n).map(|k| (k * 7 + i) as u8).collect();
                // Keep `lag` records queued while room allows, so records start
                // anywhere in the ring and wrap.
                while !pending.is_empty()
                    && (pending.len() > lag || !a.fits_now(payload.len()))
                {
                    let want: Vec<u8> = pending.pop_front().expect("pending");
                    proptest::prop_assert_eq!(take(&a), want.clone());
                    proptest::prop_assert_eq!(take(&b), want);
                }
                proptest::prop_assert!(a.fits(n as u64));
                in_place(&a, &payload);
                b.put(&payload, bound()).expect("put");
                proptest::prop_assert_eq!(ring_bytes(&a), ring_bytes(&b));
                pending.push_back(payload);
            }
            for want in pending {
                proptest::prop_assert_eq!(take(&a), want.clone());
                proptest::prop_assert_eq!(take(&b), want);
            }
        }
    }

    impl Ring {
        /// Test helper: whether a record of `n` bytes can be put without waiting.
        fn fits_now(&self, n: usize) -> bool {
            let h = self.hdr();
            let used = h.tail.0.load(Ordering::Acquire) - h.head.0.load(Ordering::Acquire);
            self.cap - used >= 8 + align8(n as u64)
        }
    }

    #[test]
    fn ring_size_boundary() {
        let ring = Ring::create(0, MIN_RING).expect("ring");
        assert!(ring.fits(MIN_RING as u64 - 8));
        assert!(!ring.fits(MIN_RING as u64 - 7));
        assert!(matches!(
            ring.put_in_place(MIN_RING as u64 - 7, bound(), |_, _| Ok::<(), ()>(())),
            Err(Fail::Corrupt)
        ));
        let full = vec![0xa5; MIN_RING - 8];
        in_place(&ring, &full);
        assert_eq!(take(&ring), full);
    }

    #[test]
    fn a_refused_fill_publishes_nothing() {
        let ring = Ring::create(0, MIN_RING).expect("ring");
        in_place(&ring, b"first");
        let tail = ring.hdr().tail.0.load(Ordering::Acquire);
        let r = ring
            .put_in_place(100, bound(), |a, _| {
                a.fill(0xee);
                Err("changed its mind")
            })
            .expect("lock and space");
        assert_eq!(r, Err("changed its mind"));
        assert_eq!(ring.hdr().tail.0.load(Ordering::Acquire), tail);
        assert_eq!(ring.hdr().put.0.open_end.load(Ordering::Acquire), 0);
        assert_eq!(ring.len(), 1);
        in_place(&ring, b"second");
        assert_eq!(take(&ring), b"first");
        assert_eq!(take(&ring), b"second");
        assert_eq!(ring.len(), 0);
    }

    fn pattern(k: u8, n: usize) -> Vec<u8> {
        (0..n)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(k))
            .collect()
    }

    fn try_put(ring: &Ring, payload: &[u8]) -> Result<(), Fail> {
        ring.put(payload, Block::No)
    }

    /// Items between the ring's size and the bulk area's travel whole through the area,
    /// in order, mixed with ring records, through every placement (payloads that would
    /// wrap start over at the area's beginning).
    #[test]
    fn bulk_items_round_trip_in_order() {
        let ring = Ring::create(0, MIN_RING).expect("ring");
        assert_eq!(ring.bulk, 4 * MIN_RING as u64);
        assert!(!ring.bulk_fits(MIN_RING as u64 - 8));
        assert!(ring.bulk_fits(MIN_RING as u64 - 7));
        assert!(ring.bulk_fits(4 * MIN_RING as u64));
        assert!(!ring.bulk_fits(4 * MIN_RING as u64 + 1));
        let mut pending = std::collections::VecDeque::new();
        for k in 0..200u8 {
            let n = match k % 5 {
                0 => 10,
                1 => 4089 + usize::from(k) * 41,
                2 => 16384,
                _ => 5000 + usize::from(k) * 7,
            };
            let item = pattern(k, n);
            while try_put(&ring, &item).is_err() {
                let want: Vec<u8> = pending.pop_front().expect("a full ring holds items");
                assert_eq!(take(&ring), want);
            }
            pending.push_back(item);
        }
        for want in pending {
            assert_eq!(take(&ring), want);
        }
        assert_eq!(ring.len(), 0);
    }

    #[test]
    fn a_refused_bulk_fill_publishes_nothing() {
        let ring = Ring::create(0, MIN_RING).expect("ring");
        let r = ring
            .put_bulk(5000, bound(), |a| {
                a.fill(0xee);
                Err("changed its mind")
            })
            .expect("lock and space");
        assert_eq!(r, Err("changed its mind"));
        let ps = &ring.hdr().put.0;
        assert_eq!(ps.bulk_tail.load(Ordering::Relaxed), 0);
        assert_eq!(ps.open_end.load(Ordering::Acquire), 0);
        assert_eq!(ring.len(), 0);
        let item = pattern(1, 5000);
        ring.put(&item, bound()).expect("put");
        assert_eq!(take(&ring), item);
    }

    /// A producer that died after publishing a bulk item but before moving
    /// `bulk_tail`: the next one (taking the put side over) places its payload after
    /// it, not over it.
    #[test]
    fn a_bulk_tail_lost_with_its_producer_is_repaired() {
        let ring = Ring::create(0, MIN_RING).expect("ring");
        let (a, b) = (pattern(1, 5000), pattern(2, 5000));
        ring.put(&a, bound()).expect("put");
        let ps = &ring.hdr().put.0;
        ps.bulk_tail.store(0, Ordering::Relaxed);
        ps.lock.force_owner(Identity {
            id: dead_pid(),
            start: 0,
        });
        ring.put(&b, bound()).expect("put after takeover");
        assert_eq!(take(&ring), a);
        assert_eq!(take(&ring), b);
    }

    /// A consumer that died after taking a bulk item but before releasing its bytes:
    /// the next one (taking the get side over) releases them.
    #[test]
    fn a_bulk_release_lost_with_its_consumer_is_repaired() {
        let ring = Ring::create(0, MIN_RING).expect("ring");
        let a = pattern(1, 10_000);
        ring.put(&a, bound()).expect("put");
        ring.put(b"s1", bound()).expect("put");
        ring.put(b"s2", bound()).expect("put");
        // What the dead consumer did: it took `a` (`head`, `gets`), then died before
        // it stored `bulk_head`.
        let h = ring.hdr();
        let gs = &h.get.0;
        let p = h.head.0.load(Ordering::Acquire);
        gs.cons_start.store(p, Ordering::Relaxed);
        gs.cons_seq.store(1, Ordering::Relaxed);
        gs.cons_bulk_end.store(10_000, Ordering::Relaxed);
        gs.cons_end.store(p + BULK_FOOT, Ordering::Release);
        h.head.0.store(p + BULK_FOOT, Ordering::Release);
        gs.gets.store(1, Ordering::Release);
        gs.lock.force_owner(Identity {
            id: dead_pid(),
            start: 0,
        });
        let b = pattern(2, 10_000);
        // `b` must start over at the area's beginning, where `a` was: not yet.
        assert_eq!(try_put(&ring, &b), Err(Fail::Timeout));
        assert_eq!(take(&ring), b"s1");
        assert_eq!(h.bulk_head.0.load(Ordering::Acquire), 10_000);
        try_put(&ring, &b).expect("room after the repair");
        assert_eq!(take(&ring), b"s2");
        assert_eq!(take(&ring), b);
    }

    /// Bulk bytes a dead process left accounted (a gap between `bulk_head` and
    /// `bulk_tail` that no record covers) never block a put once the ring is empty.
    #[test]
    fn a_stale_bulk_gap_does_not_block_an_empty_queue() {
        let ring = Ring::create(0, MIN_RING).expect("ring");
        ring.hdr().put.0.bulk_tail.store(9000, Ordering::Relaxed);
        let item = pattern(3, 12_000);
        try_put(&ring, &item).expect("an empty ring has the whole area");
        assert_eq!(take(&ring), item);
    }

    #[test]
    fn taking_over_a_dead_sleeper_clears_its_waiter_counts() {
        let ring = Ring::create(0, MIN_RING).expect("ring");
        let h = ring.hdr();
        // A consumer and a producer that died asleep holding their side locks.
        for side in [&h.get.0.lock, &h.put.0.lock] {
            side.force_owner(Identity {
                id: dead_pid(),
                start: 0,
            });
        }
        h.data.0.force_sleepers(1);
        h.space.0.force_sleepers(1);
        let bound = Some(Instant::now() + Duration::from_secs(30));
        ring.put(b"x", Block::Until(bound))
            .expect("put after takeover");
        assert_eq!(h.space.0.sleepers(), 0);
        let got = ring
            .get(bound, &mut Vec::new(), <[u8]>::to_vec)
            .expect("get after takeover");
        assert_eq!(got, b"x");
        assert_eq!(h.data.0.sleepers(), 0);
    }
}
