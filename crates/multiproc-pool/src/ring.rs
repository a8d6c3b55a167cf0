//! The per-worker result ring: shared memory from a worker (the only producer) to its
//! supervisor thread (the only consumer). The one module of this crate with `unsafe`;
//! it also holds the memory accesses of `Pool::map_slice`'s plain-data segments (at
//! the end, with their protocol).
//!
//! # Layout
//!
//! One [`SharedSegment`] (a memfd: nothing can leak) holds a [`Header`] (two cache
//! lines: one written only by the worker, one only by the supervisor) followed by a
//! byte ring of [`CAP`] bytes. A record is a 16-byte header — `len: u32`, `kind: u32`,
//! `seq: u64`, native-endian — and `len` payload bytes, padded to 16. Positions
//! (`tail`, `head`) are byte counts that only grow; `pos % CAP` is the offset. A record
//! never wraps: when it does not fit before the end of the ring, the producer writes a
//! [`PAD`] record covering the rest and starts at offset 0 (every record is a multiple
//! of 16 bytes and `CAP` too, so a pad header always fits).
//!
//! # Protocol
//!
//! * The worker copies a record into `[tail, tail + size)` — space the supervisor has
//!   released (`head` read with `Acquire`) — then publishes it with a `Release` store of
//!   `tail`. The supervisor reads `tail` with `Acquire`, copies the records out, and
//!   releases the space with a `Release` store of `head`. Neither side ever writes
//!   bytes the other may be reading.
//! * A result that does not fit (too large, or the ring is full) goes over the socket
//!   instead, tagged with the same `seq`; the worker never waits for ring space.
//! * `started` is the number of tasks the worker has begun (stored before a task
//!   runs), `done` the number whose result has been published (ring or socket). After a
//!   worker's death the supervisor drains both channels: the results it finds are a
//!   prefix of the tasks, and if `started` is one more than that prefix, the next task
//!   is exactly the one that was running.
//! * **Doorbell (no lost wake-up).** Before sleeping, the supervisor stores `wake_at`
//!   (the `done` count it wants to be woken at), stores `sleeping = 1`, issues a
//!   `SeqCst` fence and re-checks `done`; it sleeps (in `poll`) only if `done <
//!   wake_at`. After publishing, the worker issues a `SeqCst` fence and loads
//!   `sleeping`; if it is set and `done >= wake_at`, it swaps it to 0 and, if it got 1,
//!   rings (one small frame on the socket). By the two fences, either the supervisor's
//!   re-check sees the result or the worker sees the flag.
//!
//! Everything the supervisor reads from the ring is untrusted (a worker may be killed
//! mid-write, or corrupt memory): lengths are checked against the published range and a
//! malformed record ends the worker, never the parent.

#![expect(
    unsafe_code,
    reason = "the ring's memory accesses: the crate's named unsafe module"
)]

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering, fence};

use multiproc_ipc::bytemuck;
use multiproc_ipc::{SegmentError, SharedSegment};
use multiproc_sync::foundation::{HeaderView, SharedHeader};

/// Bytes of the data ring.
pub(crate) const CAP: usize = 1 << 18;
/// Largest payload stored in the ring; larger results go over the socket.
pub(crate) const MAX_PAYLOAD: usize = CAP / 4;
/// Bytes reserved for the header at the start of the segment.
const HEADER_BYTES: usize = 256;
/// Bytes of a record header.
const REC: usize = 16;

/// A record that only fills the end of the ring.
const PAD: u32 = 0;
/// A successful result: the payload is the encoded per-item results.
pub(crate) const KIND_OK: u32 = 1;
/// A failed chunk: the payload is the postcard-encoded `InvokeError`.
pub(crate) const KIND_ERR: u32 = 2;

/// Written by the worker only.
#[repr(C, align(64))]
struct WorkerLine {
    /// Bytes published.
    tail: AtomicU64,
    /// Tasks begun.
    started: AtomicU64,
    /// Tasks whose result is published (ring or socket).
    done: AtomicU64,
    /// Nanoseconds spent in the tasks counted by `timed`.
    busy_ns: AtomicU64,
    /// Tasks whose time is in `busy_ns` (the worker reads the clock once per group of
    /// tasks, not per task).
    timed: AtomicU64,
}

/// Written by the supervisor (and `sleeping` cleared by the worker's swap).
#[repr(C, align(64))]
struct SupervisorLine {
    /// Bytes consumed.
    head: AtomicU64,
    /// The `done` count at which the sleeping supervisor wants the doorbell.
    wake_at: AtomicU64,
    /// 1 while the supervisor is (about to be) asleep.
    sleeping: AtomicU32,
    _pad: AtomicU32,
}

#[repr(C)]
struct Header {
    worker: WorkerLine,
    supervisor: SupervisorLine,
}

// SAFETY: `Header` is `#[repr(C)]`, alignment 64 (at most a page), made only of
// `#[repr(C, align(64))]` structs of atomics: every bit pattern (zero included) is
// valid, and the worker and the supervisor access it through atomics only.
unsafe impl SharedHeader for Header {}

const _: () = assert!(std::mem::size_of::<WorkerLine>() == 64);
const _: () = assert!(std::mem::size_of::<SupervisorLine>() == 64);
const _: () = assert!(std::mem::size_of::<Header>() == 128);
const _: () = assert!(std::mem::align_of::<Header>() == 64);
const _: () = assert!(std::mem::size_of::<Header>() <= HEADER_BYTES);
const _: () = assert!(CAP.is_power_of_two() && CAP % REC == 0);
const _: () = assert!(HEADER_BYTES % 64 == 0);

fn record_size(payload: usize) -> usize {
    REC + payload.div_ceil(REC) * REC
}

/// One record taken out of the ring.
#[derive(Debug)]
pub(crate) struct Record {
    pub(crate) seq: u64,
    pub(crate) kind: u32,
    pub(crate) payload: Vec<u8>,
}

/// The ring did not hold well-formed records: the worker is not to be trusted.
#[derive(Debug)]
pub(crate) struct Corrupt;

/// One side's handle on a result ring. The segment is kept alive by the handle, so the
/// mapping outlives every reference made from it.
#[derive(Debug, Clone)]
pub(crate) struct Ring {
    view: HeaderView<Header>,
}

impl Ring {
    /// A fresh, empty ring.
    pub(crate) fn new() -> Result<Ring, SegmentError> {
        Ring::from_segment(SharedSegment::with_name(
            "multiproc-pool-results",
            HEADER_BYTES + CAP,
        )?)
    }

    /// A ring over a segment received from the parent.
    pub(crate) fn from_segment(seg: SharedSegment) -> Result<Ring, SegmentError> {
        if seg.len() < HEADER_BYTES + CAP {
            return Err(SegmentError::BadHandle(format!(
                "result ring of {} bytes, expected {}",
                seg.len(),
                HEADER_BYTES + CAP
            )));
        }
        Ok(Ring {
            view: HeaderView::from_segment(seg)?,
        })
    }

    /// The segment, to hand to the worker.
    pub(crate) fn segment(&self) -> &SharedSegment {
        self.view.segment()
    }

    #[inline]
    fn header(&self) -> &Header {
        self.view.get()
    }

    fn data(&self) -> *mut u8 {
        // SAFETY: `HEADER_BYTES + CAP <= seg.len()` (checked in `from_segment`), so the
        // offset stays inside the mapping.
        unsafe { self.segment().as_ptr().add(HEADER_BYTES) }
    }

    /// Copies `src` to ring offset `off`.
    ///
    /// # Safety
    /// `off + src.len() <= CAP`, and the caller (the producer) owns that range: the
    /// consumer has released it and will not read it before `tail` covers it.
    unsafe fn write_at(&self, off: usize, src: &[u8]) {
        debug_assert!(off + src.len() <= CAP);
        // SAFETY: in bounds by the caller's contract; the destination is shared memory
        // no one else reads or writes now (producer-owned range), and cannot overlap
        // `src`, which lives in this process's private memory.
        unsafe {
            std::ptr::copy_nonoverlapping(src.as_ptr(), self.data().add(off), src.len());
        }
    }

    /// Copies `dst.len()` bytes from ring offset `off`.
    ///
    /// # Safety
    /// `off + dst.len() <= CAP`, and the range is published (below an `Acquire`-loaded
    /// `tail`) and not yet released by the caller (the consumer).
    unsafe fn read_at(&self, off: usize, dst: &mut [u8]) {
        debug_assert!(off + dst.len() <= CAP);
        // SAFETY: in bounds by the caller's contract; the producer does not write this
        // range until `head` passes it; `dst` is private memory, so no overlap.
        unsafe {
            std::ptr::copy_nonoverlapping(self.data().add(off), dst.as_mut_ptr(), dst.len());
        }
    }

    // ------------------------------------------------------------ resetting

    /// Empties the ring for a new worker. Only while no worker maps it for writing
    /// (the previous one is reaped, the next one not started).
    pub(crate) fn reset(&self) {
        let h = self.header();
        h.worker.tail.store(0, Ordering::Relaxed);
        h.worker.started.store(0, Ordering::Relaxed);
        h.worker.done.store(0, Ordering::Relaxed);
        h.worker.busy_ns.store(0, Ordering::Relaxed);
        h.worker.timed.store(0, Ordering::Relaxed);
        h.supervisor.head.store(0, Ordering::Relaxed);
        h.supervisor.wake_at.store(0, Ordering::Relaxed);
        h.supervisor.sleeping.store(0, Ordering::Release);
    }

    // ------------------------------------------------------------ producer (worker)

    /// Records that task `n - 1` is about to run (`n` tasks begun).
    pub(crate) fn set_started(&self, n: u64) {
        self.header().worker.started.store(n, Ordering::Release);
    }

    /// Adds `ns` spent in `tasks` more tasks.
    pub(crate) fn add_busy(&self, ns: u64, tasks: u64) {
        let h = &self.header().worker;
        let busy = h.busy_ns.load(Ordering::Relaxed).wrapping_add(ns);
        h.busy_ns.store(busy, Ordering::Relaxed);
        let timed = h.timed.load(Ordering::Relaxed).wrapping_add(tasks);
        h.timed.store(timed, Ordering::Release);
    }

    /// Publishes one result record; `false` (nothing written) when it does not fit.
    pub(crate) fn try_push(&self, seq: u64, kind: u32, payload: &[u8]) -> bool {
        if payload.len() > MAX_PAYLOAD {
            return false;
        }
        let h = self.header();
        let size = record_size(payload.len());
        let tail = h.worker.tail.load(Ordering::Relaxed);
        let head = h.supervisor.head.load(Ordering::Acquire);
        let used = tail.wrapping_sub(head) as usize;
        let off = (tail as usize) % CAP;
        let to_end = CAP - off;
        let need = if size <= to_end { size } else { to_end + size };
        if used > CAP || CAP - used < need {
            return false;
        }
        let mut pos = tail;
        if size > to_end {
            let mut pad = [0u8; REC];
            pad[..4].copy_from_slice(&((to_end - REC) as u32).to_ne_bytes());
            pad[4..8].copy_from_slice(&PAD.to_ne_bytes());
            // SAFETY: `off + REC <= CAP` (to_end >= REC: offsets and CAP are multiples
            // of REC), and `[tail, tail + need)` is free space owned by the producer.
            unsafe { self.write_at(off, &pad) };
            pos += to_end as u64;
        }
        let off = (pos as usize) % CAP;
        let mut rec = [0u8; REC];
        rec[..4].copy_from_slice(&(payload.len() as u32).to_ne_bytes());
        rec[4..8].copy_from_slice(&kind.to_ne_bytes());
        rec[8..].copy_from_slice(&seq.to_ne_bytes());
        // SAFETY: `off + size <= CAP` (either it fitted before the end, or `off == 0`
        // after the pad and `size <= MAX_PAYLOAD + 2 * REC < CAP`); the range lies in
        // the free space checked above, owned by the producer until `tail` is stored.
        unsafe {
            self.write_at(off, &rec);
            self.write_at(off + REC, payload);
        }
        h.worker.tail.store(pos + size as u64, Ordering::Release);
        true
    }

    /// Records that `n` results are published (ring or socket) and says whether the
    /// sleeping supervisor asked to be woken now (the caller then rings the doorbell).
    pub(crate) fn publish_done(&self, n: u64) -> bool {
        let h = self.header();
        h.worker.done.store(n, Ordering::Release);
        fence(Ordering::SeqCst);
        h.supervisor.sleeping.load(Ordering::Relaxed) == 1
            && n >= h.supervisor.wake_at.load(Ordering::Relaxed)
            && h.supervisor.sleeping.swap(0, Ordering::AcqRel) == 1
    }

    // ------------------------------------------------------------ consumer (supervisor)

    /// Tasks the worker has begun.
    pub(crate) fn started(&self) -> u64 {
        self.header().worker.started.load(Ordering::Acquire)
    }

    /// Tasks timed so far, and the nanoseconds they took.
    pub(crate) fn busy(&self) -> (u64, u64) {
        let h = &self.header().worker;
        let timed = h.timed.load(Ordering::Acquire);
        (timed, h.busy_ns.load(Ordering::Relaxed))
    }

    /// Takes every published record, appending them to `out`.
    pub(crate) fn drain(&self, out: &mut Vec<Record>) -> Result<usize, Corrupt> {
        let h = self.header();
        let tail = h.worker.tail.load(Ordering::Acquire);
        let mut head = h.supervisor.head.load(Ordering::Relaxed);
        let avail = tail.wrapping_sub(head);
        if avail > CAP as u64 || avail % REC as u64 != 0 {
            return Err(Corrupt);
        }
        let mut n = 0;
        while head != tail {
            let off = (head as usize) % CAP;
            let left = tail - head;
            if left < REC as u64 {
                return Err(Corrupt);
            }
            let mut rec = [0u8; REC];
            // SAFETY: `off + REC <= CAP` (offsets and CAP are multiples of REC) and the
            // header lies below `tail`, published and not yet released.
            unsafe { self.read_at(off, &mut rec) };
            let len = u32::from_ne_bytes([rec[0], rec[1], rec[2], rec[3]]) as usize;
            let kind = u32::from_ne_bytes([rec[4], rec[5], rec[6], rec[7]]);
            let mut seq = [0u8; 8];
            seq.copy_from_slice(&rec[8..]);
            let seq = u64::from_ne_bytes(seq);
            let size = record_size(len);
            if size as u64 > left || off + size > CAP {
                return Err(Corrupt);
            }
            if kind != PAD {
                if len > MAX_PAYLOAD {
                    return Err(Corrupt);
                }
                let mut payload = vec![0u8; len];
                // SAFETY: `off + REC + len <= off + size <= CAP` (checked above), and the
                // record lies below `tail`: published, not yet released.
                unsafe { self.read_at(off + REC, &mut payload) };
                out.push(Record { seq, kind, payload });
                n += 1;
            }
            head += size as u64;
        }
        h.supervisor.head.store(head, Ordering::Release);
        Ok(n)
    }

    /// Arms the doorbell for a sleep until `done >= wake_at`. Returns `false` (and
    /// disarms) if there is already something to take, so the caller must not sleep.
    pub(crate) fn arm(&self, wake_at: u64) -> bool {
        let h = self.header();
        h.supervisor.wake_at.store(wake_at, Ordering::Relaxed);
        h.supervisor.sleeping.store(1, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        if h.worker.done.load(Ordering::Relaxed) >= wake_at {
            self.disarm();
            return false;
        }
        true
    }

    /// The supervisor is awake again.
    pub(crate) fn disarm(&self) {
        self.header()
            .supervisor
            .sleeping
            .store(0, Ordering::Relaxed);
    }
}

// ---------------------------------------------------------------------------------
// Plain-data segments of `Pool::map_slice` (see `crate::slice` for the protocol).
//
// A map segment holds the input elements at offset 0 and the output elements at
// `out_off`. Who touches which bytes when:
//
// * the parent writes each chunk's input elements once ([`write_pod`]), before that
//   chunk's task is queued (later chunks' input is written while the first chunks
//   run: they only read their own ranges), and never writes the segment again;
// * each chunk `[start, end)` runs in at most one worker at a time (a task is either
//   run once, or given back to the queue *unstarted* when its worker dies) and writes
//   only output elements `[start, end)`: chunks of one call never overlap, so the
//   output ranges written concurrently by different workers are disjoint, and the
//   input region is only read;
// * the parent reads the output region ([`read_pod`]) only after every chunk has
//   reported success: each worker publishes its completion (ring `Release` store or a
//   socket frame) after its writes, and the supervisor takes it with an `Acquire`
//   load (or the socket), so every write happens-before the read. After a failed,
//   cancelled or terminated call the output is never read.
//
// Everything is bounds-checked here against the segment's length; the element casts
// go through `bytemuck` (alignment and size checked, `Pod` types only).

/// Bytes `[off, off + len)` of `seg`, or why they are not in the segment.
fn check_range(seg: &SharedSegment, off: usize, len: usize) -> Result<(), String> {
    match off.checked_add(len) {
        Some(end) if end <= seg.len() => Ok(()),
        _ => Err(format!(
            "range {off}+{len} lies outside the {}-byte shared segment",
            seg.len()
        )),
    }
}

/// Copies `data` into `seg` at byte `off` (the parent's input copy, before any chunk
/// is queued).
pub(crate) fn write_pod<T: bytemuck::Pod>(
    seg: &SharedSegment,
    off: usize,
    data: &[T],
) -> Result<(), String> {
    let bytes: &[u8] = bytemuck::cast_slice(data);
    check_range(seg, off, bytes.len())?;
    // SAFETY: `[off, off + bytes.len())` lies inside the live mapping of `seg` (checked
    // above; `seg` is borrowed for the whole call). It is the input range of a chunk not
    // queued yet: no process reads or writes it meanwhile — workers running earlier
    // chunks of this call touch only their own input ranges (disjoint from this one)
    // and the output region (after the whole input), and no earlier call still uses
    // the segment (it is reused only after all its chunks succeeded). `data` is
    // ordinary memory of this process, so the two ranges cannot overlap.
    unsafe {
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), seg.as_ptr().add(off), bytes.len());
    }
    Ok(())
}

/// A copy of the `n` elements of type `R` at byte `off` of `seg` (the parent's output
/// copy, after every chunk reported success).
pub(crate) fn read_pod<R: bytemuck::Pod>(
    seg: &SharedSegment,
    off: usize,
    n: usize,
) -> Result<Vec<R>, String> {
    // SAFETY: `R` is `Pod`, so any bytes are a valid value of it; this is the parent's
    // output copy, read after every chunk reported success.
    unsafe { copy_out(seg, off, n) }
}

/// The copy of [`read_pod`] and [`read_plain`]: the `n` elements of type `R` at byte
/// `off` of `seg`.
///
/// # Safety
/// - Any `size_of::<R>()` bytes are a valid value of `R` (a `Pod` or primitive number).
/// - Every chunk of the call using `seg` has reported success (no worker writes it).
unsafe fn copy_out<R>(seg: &SharedSegment, off: usize, n: usize) -> Result<Vec<R>, String> {
    let len = n
        .checked_mul(std::mem::size_of::<R>())
        .ok_or_else(|| "output too large".to_string())?;
    check_range(seg, off, len)?;
    // Not `zeroed_vec`: zeroing first would write the output twice.
    let mut out: Vec<R> = Vec::with_capacity(n);
    // SAFETY: `[off, off + len)` lies inside the live mapping of `seg` (checked above).
    // Every chunk of the call has reported success (the caller's obligation), so every
    // worker finished writing before its completion was published, and the supervisor
    // acquired that completion (see the protocol above): no process writes these bytes
    // any more. `out` has room for `n` elements of `R` = `len` bytes, distinct from the
    // mapping; any bytes are a valid `R` (the caller's obligation), so the `n` elements
    // are initialised after the copy.
    unsafe {
        std::ptr::copy_nonoverlapping(seg.as_ptr().add(off), out.as_mut_ptr().cast::<u8>(), len);
        out.set_len(n);
    }
    Ok(out)
}

/// Where the chunk `[start, end)` of a map segment of `T` in and `R` out (output at
/// byte `out_off`) lies: its length, and its input and output byte ranges.
struct ChunkBytes {
    n: usize,
    in_off: usize,
    in_len: usize,
    o_off: usize,
    o_len: usize,
}

/// The [`ChunkBytes`] of a chunk, checked to lie inside `seg` with the input before the
/// output region.
fn chunk_bytes<T, R>(
    seg: &SharedSegment,
    out_off: usize,
    start: usize,
    end: usize,
) -> Result<ChunkBytes, String> {
    let (st, sr) = (std::mem::size_of::<T>(), std::mem::size_of::<R>());
    let n = end
        .checked_sub(start)
        .ok_or_else(|| format!("bad chunk range {start}..{end}"))?;
    let in_off = start.checked_mul(st).ok_or("chunk out of range")?;
    let in_len = n.checked_mul(st).ok_or("chunk out of range")?;
    let o_off = start
        .checked_mul(sr)
        .and_then(|o| o.checked_add(out_off))
        .ok_or("chunk out of range")?;
    let o_len = n.checked_mul(sr).ok_or("chunk out of range")?;
    check_range(seg, in_off, in_len)?;
    check_range(seg, o_off, o_len)?;
    if in_off + in_len > out_off {
        return Err("chunk input overlaps the output region".into());
    }
    Ok(ChunkBytes {
        n,
        in_off,
        in_len,
        o_off,
        o_len,
    })
}

/// In a worker: `out[i] = f(input[i])` for the elements `[start, end)` of a map
/// segment whose output starts at byte `out_off`.
pub(crate) fn map_range<T, R>(
    seg: &SharedSegment,
    out_off: usize,
    start: usize,
    end: usize,
    f: impl Fn(T) -> R,
) -> Result<(), String>
where
    T: bytemuck::Pod,
    R: bytemuck::Pod,
{
    let ChunkBytes {
        in_off,
        in_len,
        o_off,
        o_len,
        ..
    } = chunk_bytes::<T, R>(seg, out_off, start, end)?;
    // SAFETY: both ranges lie inside the live mapping of `seg` (checked above; `seg` is
    // borrowed for the whole call, so the mapping outlives both slices), and they do
    // not overlap (the input ends before `out_off`, where the output starts). By the
    // protocol above, while this chunk runs: nobody writes the input region (the
    // parent wrote it before queuing the chunk, and chunks only write output), and the
    // output elements `[start, end)` are written by this chunk alone — no other worker
    // runs the same chunk, other chunks' ranges are disjoint, and the parent reads
    // the output only after this chunk has published its completion.
    let (input, output) = unsafe {
        (
            std::slice::from_raw_parts(seg.as_ptr().add(in_off).cast_const(), in_len),
            std::slice::from_raw_parts_mut(seg.as_ptr().add(o_off), o_len),
        )
    };
    let input: &[T] = bytemuck::try_cast_slice(input).map_err(|e| e.to_string())?;
    let output: &mut [R] = bytemuck::try_cast_slice_mut(output).map_err(|e| e.to_string())?;
    for (o, &i) in output.iter_mut().zip(input) {
        *o = f(i);
    }
    Ok(())
}

/// Whether `T` is one of the primitive numbers (`u8`…`u128`, `usize`, `i8`…`i128`,
/// `isize`, `f32`, `f64`): every bit pattern is a value, no padding, no `Drop`, and
/// its size is a multiple of its alignment. The plain-data path of `Pool::map` takes
/// these without a `Pod` bound (the type is known only by its `TypeId`).
pub(crate) fn is_plain<T: 'static>() -> bool {
    use std::any::TypeId;
    let t = TypeId::of::<T>();
    [
        TypeId::of::<u8>(),
        TypeId::of::<u16>(),
        TypeId::of::<u32>(),
        TypeId::of::<u64>(),
        TypeId::of::<u128>(),
        TypeId::of::<usize>(),
        TypeId::of::<i8>(),
        TypeId::of::<i16>(),
        TypeId::of::<i32>(),
        TypeId::of::<i64>(),
        TypeId::of::<i128>(),
        TypeId::of::<isize>(),
        TypeId::of::<f32>(),
        TypeId::of::<f64>(),
    ]
    .contains(&t)
}

/// Copies `data` into `seg` at byte `off`, as [`write_pod`], for a [`is_plain`] type.
pub(crate) fn write_plain<T: 'static>(
    seg: &SharedSegment,
    off: usize,
    data: &[T],
) -> Result<(), String> {
    if !is_plain::<T>() {
        return Err("not a plain number type".into());
    }
    let len = std::mem::size_of_val(data);
    check_range(seg, off, len)?;
    // SAFETY: `T` is a primitive number (checked just above by its `TypeId`): its
    // bytes have no padding, so all `len` bytes of `data` are initialised. The
    // destination range lies inside the live mapping of `seg` (checked above), and,
    // as in `write_pod`, it is the input range of a chunk not queued yet, which no
    // process touches meanwhile; `data` is ordinary memory of this process (no
    // overlap).
    unsafe {
        std::ptr::copy_nonoverlapping(data.as_ptr().cast::<u8>(), seg.as_ptr().add(off), len);
    }
    Ok(())
}

/// A copy of the `n` elements of type `R` at byte `off` of `seg`, as [`read_pod`],
/// for a [`is_plain`] type.
pub(crate) fn read_plain<R: 'static>(
    seg: &SharedSegment,
    off: usize,
    n: usize,
) -> Result<Vec<R>, String> {
    if !is_plain::<R>() {
        return Err("not a plain number type".into());
    }
    // SAFETY: `R` is a primitive number (checked above by its `TypeId`), so any bytes
    // are a valid value of it; read, as in `read_pod`, after every chunk reported
    // success.
    unsafe { copy_out(seg, off, n) }
}

/// In a worker: `out[i] = f(input[i])` for the elements `[start, end)`, as
/// [`map_range`], for [`is_plain`] types known only by their `TypeId`.
pub(crate) fn map_range_plain<T: 'static, R: 'static>(
    seg: &SharedSegment,
    out_off: usize,
    start: usize,
    end: usize,
    mut f: impl FnMut(T) -> R,
) -> Result<(), String> {
    if !is_plain::<T>() || !is_plain::<R>() {
        return Err("not a plain number type".into());
    }
    let ChunkBytes {
        n, in_off, o_off, ..
    } = chunk_bytes::<T, R>(seg, out_off, start, end)?;
    let base = seg.as_ptr() as usize;
    if (base + in_off) % std::mem::align_of::<T>() != 0
        || (base + o_off) % std::mem::align_of::<R>() != 0
    {
        return Err("misaligned chunk".into());
    }
    // SAFETY: both ranges lie inside the live mapping of `seg` (checked above; `seg` is
    // borrowed for the whole call), do not overlap, and are aligned for `T` and `R`
    // (checked above). Who writes them while this chunk runs is as in `map_range`:
    // nobody writes the input, and output elements `[start, end)` are this chunk's
    // alone. `T` and `R` are primitive numbers (checked above by `TypeId`): any bytes
    // read are a valid `T`, reading one by value duplicates nothing that drops, and
    // writing an `R` over old bytes drops nothing. If `f` panics, the elements
    // written so far are plain bytes the parent never reads (the call fails).
    unsafe {
        let input = seg.as_ptr().add(in_off).cast::<T>().cast_const();
        let output = seg.as_ptr().add(o_off).cast::<R>();
        for i in 0..n {
            output.add(i).write(f(input.add(i).read()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_wrap() -> Result<(), Box<dyn std::error::Error>> {
        let ring = Ring::new()?;
        let mut out = Vec::new();
        let mut seq = 0u64;
        // Enough rounds of odd-sized records to wrap the ring several times.
        for round in 0..200usize {
            let len = (round * 7919) % 3000;
            let payload: Vec<u8> = (0..len).map(|i| (i + round) as u8).collect();
            for _ in 0..20 {
                assert!(ring.try_push(seq, KIND_OK, &payload));
                seq += 1;
            }
            out.clear();
            assert_eq!(ring.drain(&mut out).map_err(|_| "corrupt")?, 20);
            for (i, r) in out.iter().enumerate() {
                assert_eq!(r.seq, seq - 20 + i as u64);
                assert_eq!(r.kind, KIND_OK);
                assert_eq!(r.payload, payload);
            }
        }
        Ok(())
    }

    #[test]
    fn full_ring_and_large_payloads_are_refused() -> Result<(), Box<dyn std::error::Error>> {
        let ring = Ring::new()?;
        assert!(!ring.try_push(0, KIND_OK, &vec![0u8; MAX_PAYLOAD + 1]));
        let chunk = vec![1u8; MAX_PAYLOAD];
        let mut pushed = 0;
        while ring.try_push(pushed, KIND_OK, &chunk) {
            pushed += 1;
        }
        assert!(pushed >= 3);
        let mut out = Vec::new();
        assert_eq!(ring.drain(&mut out).map_err(|_| "corrupt")? as u64, pushed);
        assert!(ring.try_push(pushed, KIND_ERR, b"e"));
        Ok(())
    }

    #[test]
    fn doorbell_only_when_armed_and_due() -> Result<(), Box<dyn std::error::Error>> {
        let ring = Ring::new()?;
        assert!(!ring.publish_done(1), "not armed");
        assert!(!ring.arm(1), "already due");
        assert!(ring.arm(5));
        assert!(!ring.publish_done(4));
        assert!(ring.publish_done(5));
        assert!(!ring.publish_done(6), "rung once per arming");
        Ok(())
    }
}
