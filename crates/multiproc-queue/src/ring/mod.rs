//! The shared-memory ring under every queue type: layout, robust side locks, the byte
//! ring itself (records and streams), wake-ups, the producer registry and the
//! `JoinableQueue` counters.
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
//! * **Locks are robust.** The lock word holds the holder's pid; a waiter that has
//!   waited a slice ([`SLICE`]) checks whether the holder is still alive (`/proc/<pid>/stat`,
//!   start time, zombie state) and takes the lock over if not, then repairs the side
//!   (`repair_put`/`repair_get`) from the intent the dead holder wrote before it touched
//!   the ring (`open_*`/`cons_*`).
//! * **Records no larger than the ring are published whole**: a reader never sees part
//!   of one. A dead producer's unpublished record simply never existed; a dead consumer's
//!   record is delivered again if it had not advanced `head`, lost (it was in flight in
//!   the dead process) if it had.
//! * **Records larger than the ring stream**: the producer publishes the header and
//!   pieces as space frees, the consumer (holding the get lock) collects them and
//!   returns the item only when complete. A producer that dies or times out mid-stream
//!   leaves an *abort mark* (`abort_pos`) and readers drop the partial record; a consumer
//!   that dies mid-stream leaves `head` inside the record and the next consumer discards
//!   the remainder.
//! * **Wake-ups** go through futex words with waiter counts: the fast path makes no
//!   system call; a side only calls `futex_wake` when the other side announced a waiter.
//! * **Waiting is CPU-aware.** Before sleeping a waiter spins a bounded while. The side
//!   locks and wait words record the CPU their holder, notifier and spinner last ran
//!   on (written only when it changes, read through the vDSO's `getcpu`): a waiter
//!   whose holder or peer last ran on its own CPU yields instead of pausing, and a
//!   side that just woke a sleeper or fed a spinner on its CPU yields in its next
//!   wait — on two CPUs the peer is often queued behind the spinner, which would
//!   otherwise delay it by the whole spin. The yield phase is also bounded in time, so
//!   a side idle longer than ~10 µs is asleep in the futex.
//! * **Producers are counted per process** in a registry (pid, start time, open handles,
//!   handles in transit). A getter on an empty queue returns `Closed` once no live
//!   process holds an open handle (a SIGKILLed process no longer counts).

#![allow(unsafe_code)]

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering, fence};
use std::time::{Duration, Instant};

use multiproc_ipc::SharedSegment;

use crate::sys;

/// How long a waiter sleeps before it checks whether the other party is still alive.
pub(crate) const SLICE: Duration = Duration::from_millis(20);
/// Largest item accepted (bytes of its postcard encoding).
pub(crate) const MAX_ITEM: u64 = 1 << 34;
/// Number of processes that may hold handles on one queue at the same time.
pub(crate) const REGISTRY: usize = 128;
/// Default ring size in bytes.
pub(crate) const DEFAULT_RING: usize = 1 << 20;
/// Smallest ring size in bytes.
pub(crate) const MIN_RING: usize = 4096;

const MAGIC: u64 = 0x6d70_7175_6575_6531; // "mpqueue1"
const WAITERS: u32 = 1 << 31;
const PID_MASK: u32 = !WAITERS;
/// Registry id layout: generation in the high 32 bits, pid in the low bits, and this
/// bit while a dead entry is being cleared.
const RECLAIM: u64 = 1 << 31;
/// Pauses a waiter spins before it sleeps (about 5 µs on the reference machine).
const SPIN: u32 = 200;
/// Longest a waiter spends yielding before it sleeps (see `Wait::spin_until`).
const YIELD_SPIN: Duration = Duration::from_micros(10);

#[repr(C, align(64))]
struct Line<T>(T);

/// A robust process-shared mutex: `word` is 0 (free) or the holder's pid, with
/// [`WAITERS`] set when someone may sleep on it. `rec` packs the holder's pid (high 24
/// bits) and start time (low 40 bits) for the liveness check. `cpu` is the CPU (plus
/// one) of the last holder's last acquisition: a waiter on that CPU yields instead of
/// spinning (the holder cannot finish while the waiter spins on its CPU).
#[repr(C)]
struct Lock {
    word: AtomicU32,
    cpu: AtomicU32,
    rec: AtomicU64,
}

/// Written only by the holder of the put lock.
#[repr(C)]
struct PutSide {
    lock: Lock,
    /// Records completed so far (the n-th record has seq n).
    puts: AtomicU64,
    cached_head: AtomicU64,
    cached_gets: AtomicU64,
    /// Intent of the current/last put: record `[open_start, open_end)` with seq
    /// `open_seq`; `open_end == 0` means none.
    open_start: AtomicU64,
    open_end: AtomicU64,
    open_seq: AtomicU64,
}

/// Written only by the holder of the get lock.
#[repr(C)]
struct GetSide {
    lock: Lock,
    /// Records taken so far.
    gets: AtomicU64,
    cached_tail: AtomicU64,
    cons_start: AtomicU64,
    cons_end: AtomicU64,
    cons_seq: AtomicU64,
}

#[repr(C)]
struct Wait {
    seq: AtomicU32,
    waiters: AtomicU32,
    /// The CPU (plus one) on which the side waiting for this word last spun; 0 before
    /// anyone has. Only one thread waits on each word at a time (the holder of the get
    /// lock on `data`, of the put lock on `space`). Written only when it changes, so the
    /// notifying side's cache line is not invalidated on every wait.
    spinner: AtomicU32,
    /// The CPU (plus one) on which the notifying side last notified, written likewise:
    /// a waiter on that CPU yields instead of spinning.
    notifier: AtomicU32,
}

#[repr(C)]
struct Config {
    magic: AtomicU64,
    cap: AtomicU64,
    maxsize: AtomicU64,
    /// Position at which a partial (streamed) record was cut; 0 = never.
    abort_pos: AtomicU64,
    /// Set once a getter found no live producer: nothing can be put any more.
    all_closed: AtomicU32,
    _pad: AtomicU32,
    /// `CLOCK_MONOTONIC` nanoseconds at which a getter last found, through `/proc`, a
    /// live process holding open handles; 0 = never. Another `/proc` probe within
    /// [`SLICE`] of it is skipped (the registry's counts are still read).
    alive_at: AtomicU64,
}

#[repr(C)]
struct Join {
    done: AtomicU64,
    seq: AtomicU32,
    waiters: AtomicU32,
}

/// One process holding handles.
#[repr(C)]
pub(crate) struct Entry {
    id: AtomicU64,
    start: AtomicU64,
    open: AtomicU32,
    transit: AtomicU32,
    /// 0 for an ordinary entry. For an entry made by the fork handler: the address at
    /// which the process maps the queue (inherited handles live there; after an `exec`
    /// the process no longer maps it there, so the entry stops counting).
    base: AtomicU64,
}

#[repr(C)]
struct Header {
    config: Line<Config>,
    put: Line<PutSide>,
    tail: Line<AtomicU64>,
    get: Line<GetSide>,
    head: Line<AtomicU64>,
    data: Line<Wait>,
    space: Line<Wait>,
    join: Line<Join>,
    registry: [Entry; REGISTRY],
}

/// Bytes before the ring: the header rounded up to a page.
const HEADER_BYTES: usize = std::mem::size_of::<Header>().div_ceil(4096) * 4096;

const _: () = {
    assert!(std::mem::align_of::<Header>() == 64);
    assert!(std::mem::size_of::<Entry>() == 32);
    assert!(std::mem::size_of::<Lock>() == 16);
    assert!(HEADER_BYTES <= 8192);
};

/// Why a side operation did not complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fail {
    /// Deadline reached (`Full` for puts, `Empty` for gets when it was "now").
    Timeout,
    /// No live producer and nothing left (gets only).
    Closed,
    /// The ring's memory does not hold a valid record (should never happen).
    Corrupt,
}

/// Views of a queue segment in this process. Cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Ring {
    seg: SharedSegment,
    cap: u64,
}

fn align8(n: u64) -> u64 {
    (n + 7) & !7
}

fn pack_rec(pid: u32, start: u64) -> u64 {
    (u64::from(pid) << 40) | (start & ((1 << 40) - 1))
}

fn remaining(deadline: Option<Instant>) -> Option<Duration> {
    deadline.map(|d| d.saturating_duration_since(Instant::now()))
}

impl Lock {
    /// Takes the lock; `Ok(true)` if it was taken over from a dead holder.
    ///
    /// `peer`: the other side's CPU word (`Wait::notifier` of the word this side waits
    /// on): a waiter on that CPU yields too, since its spinning would only delay the
    /// other side.
    fn acquire(
        &self,
        me: (u32, u64),
        peer: &AtomicU32,
        deadline: Option<Instant>,
    ) -> Result<bool, Fail> {
        let pid = me.0;
        if self
            .word
            .compare_exchange(0, pid, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            self.record(me);
            return Ok(false);
        }
        // Spin while the holder may finish soon; yield instead if it or the other
        // side last ran on this CPU. A few rounds at most: then sleep.
        let free = || self.word.load(Ordering::Relaxed) == 0;
        for _ in 0..4 {
            let cpu = this_cpu();
            let on_this_cpu =
                self.cpu.load(Ordering::Relaxed) == cpu || peer.load(Ordering::Relaxed) == cpu;
            if !spin(on_this_cpu, free) {
                break;
            }
            if self
                .word
                .compare_exchange(0, pid, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                self.record(me);
                return Ok(false);
            }
        }
        let mut waited_since = Instant::now();
        let mut last_owner = 0;
        loop {
            let v = self.word.load(Ordering::Relaxed);
            if v & PID_MASK == 0 {
                if self
                    .word
                    .compare_exchange(v, pid | WAITERS, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
                {
                    self.record(me);
                    return Ok(false);
                }
                continue;
            }
            if v & PID_MASK != last_owner {
                last_owner = v & PID_MASK;
                waited_since = Instant::now();
            } else if waited_since.elapsed() >= SLICE {
                waited_since = Instant::now();
                if !self.holder_alive(v & PID_MASK)
                    && self
                        .word
                        .compare_exchange(v, pid | WAITERS, Ordering::Acquire, Ordering::Relaxed)
                        .is_ok()
                {
                    self.record(me);
                    return Ok(true);
                }
            }
            if v & WAITERS == 0
                && self
                    .word
                    .compare_exchange(v, v | WAITERS, Ordering::Relaxed, Ordering::Relaxed)
                    .is_err()
            {
                continue;
            }
            let mut slice = SLICE;
            if let Some(left) = remaining(deadline) {
                if left.is_zero() {
                    return Err(Fail::Timeout);
                }
                slice = slice.min(left);
            }
            sys::futex_wait(&self.word, v | WAITERS, slice);
        }
    }

    /// Takes the lock only if its holder is dead; `true` if taken (then repair and
    /// release it).
    fn take_over_if_dead(&self, me: (u32, u64)) -> bool {
        let v = self.word.load(Ordering::Relaxed);
        v & PID_MASK != 0
            && v & PID_MASK != me.0
            && !self.holder_alive(v & PID_MASK)
            && self
                .word
                .compare_exchange(v, me.0 | WAITERS, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
    }

    fn holder_alive(&self, pid: u32) -> bool {
        let rec = self.rec.load(Ordering::Acquire);
        let start = if (rec >> 40) as u32 == pid {
            rec & ((1 << 40) - 1)
        } else {
            0
        };
        sys::alive(pid, start)
    }

    fn record(&self, me: (u32, u64)) {
        let rec = pack_rec(me.0, me.1);
        if self.rec.load(Ordering::Relaxed) != rec {
            self.rec.store(rec, Ordering::Release);
        }
        let cpu = this_cpu();
        if self.cpu.load(Ordering::Relaxed) != cpu {
            self.cpu.store(cpu, Ordering::Relaxed);
        }
    }

    fn release(&self) {
        if self.word.swap(0, Ordering::Release) & WAITERS != 0 {
            sys::futex_wake(&self.word, 1);
        }
    }
}

thread_local! {
    /// Set when this thread has just handed work to a peer that is asleep or spinning
    /// on this very CPU: its next wait should let the peer run rather than spin.
    static WOKE_PEER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The CPU this thread runs on, plus one (the vDSO's `getcpu`: no system call).
fn this_cpu() -> u32 {
    (rustix::thread::sched_getcpu() as u32).wrapping_add(1)
}

/// Waits a bounded while for `ready()`: yields when `yielding` (the thread that will
/// make it true may be waiting for this CPU), pauses otherwise. The bound (at most
/// [`SPIN`] pauses, about 5 µs, or `SPIN / 10` yields and [`YIELD_SPIN`]) is short
/// against any real idle period, so a side that waits longer is asleep in the futex.
fn spin(yielding: bool, ready: impl Fn() -> bool) -> bool {
    if yielding {
        // A yield may run another program for a whole time slice: bound the phase by
        // time as well, so the waiter is soon asleep in the futex.
        let start = Instant::now();
        for _ in 0..SPIN / 10 {
            std::thread::yield_now();
            if ready() {
                return true;
            }
            if start.elapsed() >= YIELD_SPIN {
                break;
            }
        }
    } else {
        for _ in 0..SPIN {
            std::hint::spin_loop();
            if ready() {
                return true;
            }
        }
    }
    false
}

impl Wait {
    /// Wakes the waiter if one sleeps; notes a waiter that spins on this CPU.
    ///
    /// A peer spinning on this CPU cannot see the new state until this thread stops
    /// running, and a peer just woken is often placed on this CPU too: in both cases
    /// the next [`spin_until`](Self::spin_until) of this thread yields instead of
    /// pausing, so the peer runs at once. (The waiter's CPU is the one it last spun
    /// on: when it has moved since, the cost is a few yields instead of pauses.)
    fn notify(&self) {
        let cpu = this_cpu();
        if self.notifier.load(Ordering::Relaxed) != cpu {
            self.notifier.store(cpu, Ordering::Relaxed);
        }
        fence(Ordering::SeqCst);
        if self.waiters.load(Ordering::Relaxed) != 0 {
            self.seq.fetch_add(1, Ordering::Release);
            sys::futex_wake(&self.seq, u32::MAX);
            WOKE_PEER.with(|w| w.set(true));
        } else if self.spinner.load(Ordering::Relaxed) == cpu {
            WOKE_PEER.with(|w| w.set(true));
        }
    }

    /// Spins a bounded while ([`spin`]) for `ready()`, announcing the spin (and its
    /// CPU) to the notifying side. Pauses, unless the notifying side last ran on this
    /// CPU or this thread has just handed work to a peer that may run here
    /// ([`notify`](Self::notify)): then it yields, so that the other side runs now
    /// rather than after the whole spin.
    fn spin_until(&self, ready: impl Fn() -> bool) -> bool {
        if ready() {
            return true;
        }
        let cpu = this_cpu();
        if self.spinner.load(Ordering::Relaxed) != cpu {
            self.spinner.store(cpu, Ordering::Relaxed);
        }
        let woke = WOKE_PEER.with(|w| w.replace(false));
        spin(woke || self.notifier.load(Ordering::Relaxed) == cpu, ready)
    }

    /// Sleeps up to `timeout` unless `ready()` holds once the waiter is announced.
    fn wait(&self, timeout: Duration, ready: impl Fn() -> bool) {
        self.waiters.fetch_add(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        let seq = self.seq.load(Ordering::Acquire);
        if !ready() {
            sys::futex_wait(&self.seq, seq, timeout);
        }
        self.waiters.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Releases a side lock when dropped (also on unwinding).
struct Held<'a>(&'a Lock);

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.0.release();
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
    fn deadline(self) -> Option<Instant> {
        match self {
            Block::No => Some(Instant::now()),
            Block::Until(d) => d,
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
        let total = HEADER_BYTES.checked_add(cap).ok_or_else(too_large)?;
        let seg = SharedSegment::with_name("multiproc-queue", total)?;
        let ring = Ring {
            seg,
            cap: cap as u64,
        };
        let h = ring.hdr();
        h.config.0.cap.store(cap as u64, Ordering::Relaxed);
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
        let ring = Ring { seg, cap: 0 };
        let h = ring.hdr();
        if h.config.0.magic.load(Ordering::Acquire) != MAGIC {
            return Err("segment does not hold a multiproc queue".into());
        }
        let cap = h.config.0.cap.load(Ordering::Relaxed);
        if cap == 0 || cap % 4096 != 0 || HEADER_BYTES as u64 + cap > ring.seg.len() as u64 {
            return Err(format!("queue header claims a ring of {cap} bytes"));
        }
        Ok(Ring { cap, ..ring })
    }

    pub(crate) fn segment(&self) -> &SharedSegment {
        &self.seg
    }

    fn hdr(&self) -> &Header {
        // SAFETY:
        // - the mapping is at least HEADER_BYTES long (checked in `create`/`attach`)
        //   and page aligned, so a `Header` (align 64) fits at offset 0;
        // - `Header` consists only of atomics (and arrays/wrappers of them), for which
        //   every bit pattern, including the initial zeros, is valid;
        // - every process that maps the segment accesses the header only through these
        //   atomics, so shared references are sound; the mapping lives as long as
        //   `self.seg`, which outlives the returned reference.
        unsafe { &*(self.seg.as_ptr() as *const Header) }
    }

    fn data(&self) -> *mut u8 {
        // HEADER_BYTES < len, so the offset stays inside the mapping.
        self.seg.as_ptr().wrapping_add(HEADER_BYTES)
    }

    pub(crate) fn capacity_bytes(&self) -> u64 {
        self.cap
    }

    pub(crate) fn maxsize(&self) -> u64 {
        self.hdr().config.0.maxsize.load(Ordering::Relaxed)
    }

    /// Copies `src` into the ring at byte position `pos` (wrapping).
    ///
    /// Caller: holds the put lock and `[pos, pos + len)` is free (not between `head` and
    /// `tail`), so no other process reads or writes those bytes until `tail` passes them.
    fn copy_in(&self, pos: u64, src: &[u8]) {
        let off = (pos % self.cap) as usize;
        let first = src.len().min(self.cap as usize - off);
        // SAFETY:
        // - `off + first <= cap` and `src.len() - first <= cap` (callers never copy more
        //   than the free space, which is at most `cap`), so both destinations lie inside
        //   the ring part of the mapping;
        // - the source is a private buffer and the destination shared memory: they do
        //   not overlap;
        // - nobody else accesses these ring bytes concurrently (see the caller contract);
        //   readers are ordered after this copy by the `Release` store of `tail`.
        unsafe {
            std::ptr::copy_nonoverlapping(src.as_ptr(), self.data().add(off), first);
            std::ptr::copy_nonoverlapping(src.as_ptr().add(first), self.data(), src.len() - first);
        }
    }

    /// Copies ring bytes at `pos` (wrapping) into `dst`.
    ///
    /// Caller: holds the get lock and `[pos, pos + len)` was published (`tail` read with
    /// `Acquire` is past it) and not yet released (`head` is before it), so no process
    /// writes those bytes meanwhile.
    fn copy_out(&self, pos: u64, dst: &mut [u8]) {
        let off = (pos % self.cap) as usize;
        let first = dst.len().min(self.cap as usize - off);
        // SAFETY:
        // - as in `copy_in`, both source ranges are inside the ring (len <= cap);
        // - the destination is private memory, no overlap;
        // - the bytes are published and stable until `head` moves past them, which only
        //   this get-lock holder does.
        unsafe {
            std::ptr::copy_nonoverlapping(self.data().add(off), dst.as_mut_ptr(), first);
            std::ptr::copy_nonoverlapping(
                self.data(),
                dst.as_mut_ptr().add(first),
                dst.len() - first,
            );
        }
    }

    /// Runs `f` on the published bytes `[pos, pos + len)`, in place when contiguous.
    /// Same caller contract as [`copy_out`](Self::copy_out).
    fn with_bytes<R>(
        &self,
        pos: u64,
        len: usize,
        scratch: &mut Vec<u8>,
        f: impl FnOnce(&[u8]) -> R,
    ) -> R {
        let off = (pos % self.cap) as usize;
        if off + len <= self.cap as usize {
            // SAFETY:
            // - `off + len <= cap`: the slice lies inside the ring part of the mapping;
            // - the bytes are published (caller) and no process writes them until this
            //   get-lock holder advances `head`, which happens after `f` returns, so the
            //   shared slice does not change while it is borrowed.
            let bytes = unsafe { std::slice::from_raw_parts(self.data().add(off), len) };
            f(bytes)
        } else {
            scratch.clear();
            scratch.resize(len, 0);
            self.copy_out(pos, scratch);
            f(scratch)
        }
    }

    fn read_u64(&self, pos: u64) -> u64 {
        let mut b = [0u8; 8];
        self.copy_out(pos, &mut b);
        u64::from_le_bytes(b)
    }

    // ---------------------------------------------------------------- put side

    /// Appends one record holding `payload`.
    pub(crate) fn put(&self, payload: &[u8], block: Block) -> Result<(), Fail> {
        let me = sys::me();
        let h = self.hdr();
        let ps = &h.put.0;
        let deadline = block.deadline();
        let recovered = ps.lock.acquire(me, &h.space.0.notifier, deadline)?;
        let _held = Held(&ps.lock);
        if recovered {
            self.repair_put();
        }
        let len = payload.len() as u64;
        let seq = ps.puts.load(Ordering::Relaxed) + 1;
        let maxsize = h.config.0.maxsize.load(Ordering::Relaxed);
        if maxsize != 0 {
            self.wait_space(deadline, || {
                let mut gets = ps.cached_gets.load(Ordering::Relaxed);
                if seq - 1 - gets.min(seq - 1) >= maxsize {
                    gets = h.get.0.gets.load(Ordering::Acquire);
                    ps.cached_gets.store(gets, Ordering::Relaxed);
                }
                seq - 1 - gets.min(seq - 1) < maxsize
            })?;
        }
        let t = h.tail.0.load(Ordering::Relaxed);
        let foot = 8 + align8(len);
        if foot <= self.cap {
            self.wait_space(deadline, || self.free_from(t, foot) >= foot)?;
            ps.open_start.store(t, Ordering::Relaxed);
            ps.open_seq.store(seq, Ordering::Relaxed);
            ps.open_end.store(t + foot, Ordering::Release);
            self.copy_in(t, &len.to_le_bytes());
            self.copy_in(t + 8, payload);
            h.tail.0.store(t + foot, Ordering::Release);
            ps.puts.store(seq, Ordering::Release);
            h.data.0.notify();
            return Ok(());
        }
        // Larger than the ring: stream it.
        self.wait_space(deadline, || self.free_from(t, 8) >= 8)?;
        ps.open_start.store(t, Ordering::Relaxed);
        ps.open_seq.store(seq, Ordering::Relaxed);
        ps.open_end.store(t + foot, Ordering::Release);
        let end = t + foot;
        let mut w = t;
        let mut header = Some(len.to_le_bytes());
        let mut sent = 0usize;
        while w < end {
            let want = (end - w).min(self.cap / 2);
            let free = self.free_from(w, want);
            if free == 0 {
                if self
                    .wait_space(deadline, || self.free_from(w, want) > 0)
                    .is_err()
                {
                    // Cut the partial record: readers drop it.
                    self.abort_stream(w);
                    return Err(Fail::Timeout);
                }
                continue;
            }
            let mut room = free.min(end - w);
            if let Some(hd) = header.take() {
                self.copy_in(w, &hd);
                w += 8;
                room -= 8;
            }
            let n = (room as usize).min(payload.len() - sent);
            self.copy_in(w, &payload[sent..sent + n]);
            sent += n;
            w += n as u64;
            if sent == payload.len() {
                // padding: part of the footprint, content irrelevant
                let pad = (end - w).min(room - n as u64);
                w += pad;
            }
            h.tail.0.store(w, Ordering::Release);
            h.data.0.notify();
        }
        ps.puts.store(seq, Ordering::Release);
        h.data.0.notify();
        Ok(())
    }

    /// Free bytes for a write at `w`, re-reading `head` when the cached view shows
    /// fewer than `need`.
    fn free_from(&self, w: u64, need: u64) -> u64 {
        let h = self.hdr();
        let ps = &h.put.0;
        let mut head = ps.cached_head.load(Ordering::Relaxed);
        if self.cap - (w - head) < need {
            head = h.head.0.load(Ordering::Acquire);
            ps.cached_head.store(head, Ordering::Relaxed);
        }
        self.cap - (w - head)
    }

    /// Spins, then sleeps on the space futex until `ready()`.
    fn wait_space(&self, deadline: Option<Instant>, ready: impl Fn() -> bool) -> Result<(), Fail> {
        if ready() {
            return Ok(());
        }
        if remaining(deadline).is_none_or(|left| !left.is_zero())
            && self.hdr().space.0.spin_until(&ready)
        {
            return Ok(());
        }
        loop {
            if ready() {
                return Ok(());
            }
            let mut slice = SLICE;
            if let Some(left) = remaining(deadline) {
                if left.is_zero() {
                    return Err(Fail::Timeout);
                }
                slice = slice.min(left);
            }
            self.hdr().space.0.wait(slice, &ready);
        }
    }

    fn abort_stream(&self, at: u64) {
        let h = self.hdr();
        h.config.0.abort_pos.store(at, Ordering::Release);
        h.put.0.open_end.store(0, Ordering::Release);
        h.data.0.notify();
    }

    /// Run by whoever took the put lock over from a dead holder.
    fn repair_put(&self) {
        let h = self.hdr();
        let ps = &h.put.0;
        // Only the put lock's holder sleeps on `space`: if the dead holder was asleep
        // there, its waiter count would make every later get issue a wake-up call.
        h.space.0.waiters.store(0, Ordering::Relaxed);
        let end = ps.open_end.load(Ordering::Acquire);
        if end == 0 {
            return;
        }
        let start = ps.open_start.load(Ordering::Relaxed);
        let seq = ps.open_seq.load(Ordering::Relaxed);
        let t = h.tail.0.load(Ordering::Acquire);
        if t >= end {
            // Published whole; only the count may be missing.
            if ps.puts.load(Ordering::Relaxed) < seq {
                ps.puts.store(seq, Ordering::Release);
            }
            ps.open_end.store(0, Ordering::Release);
        } else if t > start {
            self.abort_stream(t);
        } else {
            ps.open_end.store(0, Ordering::Release);
        }
    }

    // ---------------------------------------------------------------- get side

    /// Takes the oldest record and hands its bytes to `decode`.
    ///
    /// `deadline`: `None` waits forever, a past instant does not wait.
    pub(crate) fn get<R>(
        &self,
        deadline: Option<Instant>,
        scratch: &mut Vec<u8>,
        decode: impl FnOnce(&[u8]) -> R,
    ) -> Result<R, Fail> {
        let me = sys::me();
        let h = self.hdr();
        let gs = &h.get.0;
        let recovered = gs.lock.acquire(me, &h.data.0.notifier, deadline)?;
        let _held = Held(&gs.lock);
        if recovered {
            self.repair_get();
        }
        loop {
            let p = h.head.0.load(Ordering::Relaxed);
            // A dead consumer left the rest of a streamed record: discard it.
            let cend = gs.cons_end.load(Ordering::Relaxed);
            if cend != 0 && p < cend && p > gs.cons_start.load(Ordering::Relaxed) {
                let s = gs.cons_start.load(Ordering::Relaxed);
                match self.stream(s, cend, 0, p, None) {
                    Stream::Done => {
                        gs.gets
                            .store(gs.cons_seq.load(Ordering::Relaxed), Ordering::Release);
                    }
                    Stream::Aborted(a) => h.head.0.store(a, Ordering::Release),
                }
                gs.cons_end.store(0, Ordering::Release);
                h.space.0.notify();
                continue;
            }
            self.wait_data(p, deadline)?;
            let len = self.read_u64(p);
            if len > MAX_ITEM {
                return Err(Fail::Corrupt);
            }
            let foot = 8 + align8(len);
            let seq = gs.gets.load(Ordering::Relaxed) + 1;
            gs.cons_start.store(p, Ordering::Relaxed);
            gs.cons_seq.store(seq, Ordering::Relaxed);
            gs.cons_end.store(p + foot, Ordering::Release);
            if foot <= self.cap {
                // Published whole: tail >= p + foot.
                let out = self.with_bytes(p + 8, len as usize, scratch, decode);
                h.head.0.store(p + foot, Ordering::Release);
                gs.gets.store(seq, Ordering::Release);
                h.space.0.notify();
                return Ok(out);
            }
            let mut buf = Vec::new();
            if buf.try_reserve_exact(len as usize).is_err() {
                return Err(Fail::Corrupt);
            }
            match self.stream(p, p + foot, len, p, Some(&mut buf)) {
                Stream::Done => {
                    gs.gets.store(seq, Ordering::Release);
                    gs.cons_end.store(0, Ordering::Release);
                    return Ok(decode(&buf));
                }
                Stream::Aborted(a) => {
                    h.head.0.store(a, Ordering::Release);
                    gs.cons_end.store(0, Ordering::Release);
                    h.space.0.notify();
                }
            }
        }
    }

    /// Reads (or discards, `out == None`) the streamed record `[s, e)` with payload
    /// `len` from position `p`, releasing space as it goes. Waits for the producer as
    /// long as it is alive; ignores the caller's deadline once started (the item is
    /// already partly taken).
    fn stream(
        &self,
        s: u64,
        e: u64,
        len: u64,
        mut p: u64,
        mut out: Option<&mut Vec<u8>>,
    ) -> Stream {
        let h = self.hdr();
        let payload_end = s + 8 + len;
        while p < e {
            let t = match self.wait_stream(s, p) {
                Ok(t) => t,
                Err(a) => return Stream::Aborted(a),
            };
            let upto = t.min(e);
            if let Some(buf) = out.as_deref_mut() {
                let from = p.max(s + 8);
                let to = upto.min(payload_end);
                if to > from {
                    let old = buf.len();
                    buf.resize(old + (to - from) as usize, 0);
                    self.copy_out(from, &mut buf[old..]);
                }
            }
            p = upto;
            h.head.0.store(p, Ordering::Release);
            h.space.0.notify();
        }
        Stream::Done
    }

    /// Waits until `tail > p` for the streamed record starting at `s`; `Err(a)` if the
    /// record was cut at `a`.
    fn wait_stream(&self, s: u64, p: u64) -> Result<u64, u64> {
        let h = self.hdr();
        let check = || {
            let t = h.tail.0.load(Ordering::Acquire);
            let a = h.config.0.abort_pos.load(Ordering::Acquire);
            if a > s {
                return Some(Err(a));
            }
            (t > p).then_some(Ok(t))
        };
        for _ in 0..SPIN {
            if let Some(r) = check() {
                return r;
            }
            std::hint::spin_loop();
        }
        let mut since = Instant::now();
        loop {
            if let Some(r) = check() {
                return r;
            }
            h.data.0.wait(SLICE, || check().is_some());
            if check().is_none() && since.elapsed() >= SLICE {
                // Producer silent for a whole slice: if it died, cut its record
                // ourselves (a `/proc` read, so not after every wake-up).
                since = Instant::now();
                let me = sys::me();
                if h.put.0.lock.take_over_if_dead(me) {
                    let _held = Held(&h.put.0.lock);
                    self.repair_put();
                }
            }
        }
    }

    /// Waits until a record is available at `p`, the deadline passes or no producer
    /// remains.
    ///
    /// Whether producers remain is decided from the registry's counts before every
    /// sleep (no system call), and from `/proc` (a dead process's handles do not count)
    /// only after a whole [`SLICE`] without data, or at the deadline unless some
    /// process probed less than a slice ago: those reads cost tens of microseconds, and
    /// a wake-up that arrives during them would wait for them to finish.
    fn wait_data(&self, p: u64, deadline: Option<Instant>) -> Result<(), Fail> {
        let h = self.hdr();
        let gs = &h.get.0;
        let has = || {
            let mut t = gs.cached_tail.load(Ordering::Relaxed);
            if t <= p {
                t = h.tail.0.load(Ordering::Acquire);
                gs.cached_tail.store(t, Ordering::Relaxed);
            }
            t > p
        };
        if has() {
            return Ok(());
        }
        if remaining(deadline).is_none_or(|left| !left.is_zero()) && h.data.0.spin_until(has) {
            return Ok(());
        }
        let mut probed = Instant::now();
        loop {
            if has() {
                return Ok(());
            }
            let left = remaining(deadline);
            let expired = left.is_some_and(|l| l.is_zero());
            let slice_over = probed.elapsed() >= SLICE;
            if slice_over {
                probed = Instant::now();
            }
            let none = if slice_over {
                self.no_live_producer(true)
            } else {
                // At the deadline (`try_get` on an empty queue, a timed get's end):
                // `/proc` only if nobody looked there recently.
                self.no_live_producer_recently_probed(expired)
            };
            if none {
                h.config.0.all_closed.store(1, Ordering::Release);
                return if has() { Ok(()) } else { Err(Fail::Closed) };
            }
            if expired {
                return Err(Fail::Timeout);
            }
            h.data.0.wait(left.map_or(SLICE, |l| l.min(SLICE)), has);
        }
    }

    /// Run by whoever took the get lock over from a dead holder.
    fn repair_get(&self) {
        let h = self.hdr();
        let gs = &h.get.0;
        // Only the get lock's holder sleeps on `data`: a consumer killed while waiting
        // for an item would otherwise leave a count that makes every later put issue a
        // wake-up system call.
        h.data.0.waiters.store(0, Ordering::Relaxed);
        let end = gs.cons_end.load(Ordering::Acquire);
        if end == 0 {
            return;
        }
        let p = h.head.0.load(Ordering::Acquire);
        let seq = gs.cons_seq.load(Ordering::Relaxed);
        if p >= end {
            if gs.gets.load(Ordering::Relaxed) < seq {
                gs.gets.store(seq, Ordering::Release);
            }
            gs.cons_end.store(0, Ordering::Release);
        } else if p == gs.cons_start.load(Ordering::Relaxed) {
            // Nothing taken yet: the record stays for the next consumer.
            gs.cons_end.store(0, Ordering::Release);
        }
        // Otherwise head is inside a streamed record: `get` discards the rest.
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
        fence(Ordering::SeqCst);
        if j.waiters.load(Ordering::Relaxed) != 0 {
            j.seq.fetch_add(1, Ordering::Release);
            sys::futex_wake(&j.seq, u32::MAX);
        }
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
        loop {
            if self.unfinished() == 0 {
                return Ok(());
            }
            let mut slice = SLICE;
            if let Some(left) = remaining(deadline) {
                if left.is_zero() {
                    return Err(Fail::Timeout);
                }
                slice = slice.min(left);
            }
            j.waiters.fetch_add(1, Ordering::SeqCst);
            fence(Ordering::SeqCst);
            let seq = j.seq.load(Ordering::Acquire);
            if self.unfinished() != 0 {
                sys::futex_wait(&j.seq, seq, slice);
            }
            j.waiters.fetch_sub(1, Ordering::Relaxed);
        }
    }

    // ---------------------------------------------------------------- registry

    fn entry(&self, idx: usize) -> &Entry {
        &self.hdr().registry[idx]
    }

    /// This process's registry entry (found or claimed). `None` if all are taken by
    /// live processes.
    ///
    /// `inherited`: the entry of the handles this process inherited through `fork` (see
    /// [`after_fork_in_child`]) rather than its ordinary entry.
    pub(crate) fn register(&self, inherited: bool) -> Option<usize> {
        let (pid, start) = sys::me();
        let base = if inherited {
            self.seg.as_ptr() as u64
        } else {
            0
        };
        register_in(self.hdr(), pid, start, true, base)
    }
}

/// Finds or claims the entry of process `(pid, start)`; frees dead entries if all are
/// taken and `may_reclaim` (which reads `/proc`, allocating).
fn register_in(hdr: &Header, pid: u32, start: u64, may_reclaim: bool, base: u64) -> Option<usize> {
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

impl Ring {}

/// Frees the entries of dead processes.
fn reclaim_dead(hdr: &Header) {
    {
        for e in &hdr.registry {
            let id = e.id.load(Ordering::Acquire);
            let pid = id as u32;
            if pid == 0 || id & RECLAIM != 0 {
                continue;
            }
            if sys::alive(pid, e.start.load(Ordering::Acquire)) {
                continue;
            }
            if e.id
                .compare_exchange(id, id | RECLAIM, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                e.open.store(0, Ordering::Relaxed);
                e.transit.store(0, Ordering::Relaxed);
                e.base.store(0, Ordering::Relaxed);
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
        let d = &self.hdr().data.0;
        d.seq.fetch_add(1, Ordering::Release);
        sys::futex_wake(&d.seq, u32::MAX);
    }

    /// No live process holds an open handle (or one in transit).
    ///
    /// Without `probe`, only what the registry itself says is used (no system call):
    /// another process's open handles count as live. With `probe`, `/proc` tells
    /// whether those processes still exist and still map the queue.
    fn no_live_producer(&self, probe: bool) -> bool {
        let h = self.hdr();
        if h.config.0.all_closed.load(Ordering::Acquire) != 0 {
            return true;
        }
        let none = self.no_live_producer_in_registry(probe);
        if probe && !none {
            h.config
                .0
                .alive_at
                .store(sys::monotonic_ns(), Ordering::Relaxed);
        }
        none
    }

    /// Like [`no_live_producer`](Self::no_live_producer), but a `/proc` probe is
    /// skipped when some process found a live producer through `/proc` less than a
    /// [`SLICE`] ago: a getter at its deadline (`try_get`, timed gets) then reads
    /// only the registry's counts. A producer SIGKILLed meanwhile is still noticed
    /// within about a slice (once the stamp is older than that; a probe that finds it
    /// dead does not renew the stamp), as the crate documents.
    fn no_live_producer_recently_probed(&self, probe: bool) -> bool {
        let at = self.hdr().config.0.alive_at.load(Ordering::Relaxed);
        // A stamp from the future (another time namespace) is not trusted.
        let fresh = at != 0
            && sys::monotonic_ns()
                .checked_sub(at)
                .is_some_and(|age| age < SLICE.as_nanos() as u64);
        self.no_live_producer(probe && !fresh)
    }

    fn no_live_producer_in_registry(&self, probe: bool) -> bool {
        let h = self.hdr();
        let me = sys::me().0;
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
            if !sys::alive(pid, e.start.load(Ordering::Acquire)) {
                return true;
            }
            // Inherited handles count only while the process still maps the queue
            // where its parent did (not after an `exec`).
            if base == 0 {
                return false;
            }
            let ino =
                *ino.get_or_insert_with(|| rustix::fs::fstat(&self.seg).map(|st| st.st_ino).ok());
            ino.is_some_and(|ino| !sys::maps_at(pid, base, ino))
        })
    }

    /// Whether getters would be told `Closed` on an empty queue.
    pub(crate) fn producers_gone(&self) -> bool {
        self.no_live_producer(true)
    }
}

// ------------------------------------------------------------ handles across fork

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
        let base = self.seg.as_ptr() as usize;
        let mut t = local();
        match t.iter_mut().find(|(b, _)| *b == base) {
            Some((_, n)) => *n += 1,
            None => t.push((base, 1)),
        }
    }

    /// One open handle fewer on this queue in this process. Called before the handle's
    /// mapping is dropped, so a listed address is always mapped.
    pub(crate) fn local_dec(&self) {
        let base = self.seg.as_ptr() as usize;
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
    static FORK_GUARD: std::cell::RefCell<Option<std::sync::MutexGuard<'static, Table>>> =
        const { std::cell::RefCell::new(None) };
}

/// # Safety (of the deref)
/// `base` is the start of a live queue mapping: entries are removed from the table
/// before their mapping is dropped, under the table lock, which the caller holds; a
/// fork child inherits the parent's mappings at the same addresses.
fn header_at(base: usize) -> &'static Header {
    // SAFETY:
    // - see above: `base` points to a live mapping, at least HEADER_BYTES long and page
    //   aligned (it came from a `Ring`), that stays mapped while the table lists it;
    //   the `'static` reference is only used while the table lock is held;
    // - the header holds only atomics, shared with other processes.
    unsafe { &*(base as *const Header) }
}

/// `pthread_atfork` prepare handler (parent, before `fork`, ordinary context): takes
/// the table lock and marks the handles the child will inherit as "in transit" from
/// this process, so that getters keep seeing a producer until the child registered.
pub(crate) fn before_fork(pid: u32, start: u64) {
    let t = local();
    for &(base, n) in t.iter() {
        let hdr = header_at(base);
        if let Some(idx) = register_in(hdr, pid, start, false, 0) {
            hdr.registry[idx].transit.fetch_add(n, Ordering::AcqRel);
        }
    }
    FORK_GUARD.with(|g| *g.borrow_mut() = Some(t));
}

/// `pthread_atfork` parent handler: releases the table lock.
pub(crate) fn after_fork_in_parent() {
    FORK_GUARD.with(|g| g.borrow_mut().take());
}

/// Runs in a `fork` child (from the `pthread_atfork` child handler): registers the child
/// in every queue it inherited open handles of, then ends the parent's "in transit"
/// marks. Async-signal-safe: the table lock is already held by this (the only) thread,
/// atomics on shared memory and futex wakes, no allocation, no `/proc` reads.
pub(crate) fn after_fork_in_child(parent: (u32, u64), pid: u32, start: u64) {
    FORK_COUNTED.store(false, Ordering::Relaxed);
    let Some(t) = FORK_GUARD.with(|g| g.borrow_mut().take()) else {
        return;
    };
    for &(base, n) in t.iter() {
        let hdr = header_at(base);
        if let Some(idx) = register_in(hdr, pid, start, false, base as u64) {
            hdr.registry[idx].open.fetch_add(n, Ordering::AcqRel);
        }
        if let Some(idx) = register_in(hdr, parent.0, parent.1, false, 0) {
            let e = &hdr.registry[idx];
            let _ = e
                .transit
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |m| m.checked_sub(n));
        }
    }
    drop(t);
    FORK_COUNTED.store(true, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pid of a process that has exited and been reaped.
    fn dead_pid() -> u32 {
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("spawn true");
        let pid = child.id();
        child.wait().expect("reap true");
        pid
    }

    #[test]
    fn taking_over_a_dead_sleeper_clears_its_waiter_counts() {
        let ring = Ring::create(0, MIN_RING).expect("ring");
        let h = ring.hdr();
        // A consumer and a producer that died asleep holding their side locks.
        for side in [&h.get.0.lock, &h.put.0.lock] {
            let pid = dead_pid();
            side.word.store(pid | WAITERS, Ordering::Relaxed);
            side.rec.store(pack_rec(pid, 0), Ordering::Relaxed);
        }
        h.data.0.waiters.store(1, Ordering::Relaxed);
        h.space.0.waiters.store(1, Ordering::Relaxed);
        let bound = Some(Instant::now() + Duration::from_secs(30));
        ring.put(b"x", Block::Until(bound))
            .expect("put after takeover");
        assert_eq!(h.space.0.waiters.load(Ordering::Relaxed), 0);
        let got = ring
            .get(bound, &mut Vec::new(), <[u8]>::to_vec)
            .expect("get after takeover");
        assert_eq!(got, b"x");
        assert_eq!(h.data.0.waiters.load(Ordering::Relaxed), 0);
    }
}
