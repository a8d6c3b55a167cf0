//! Large messages through shared memory: the state behind
//! [`Connection::enable_shm`](crate::Connection::enable_shm).
//!
//! A message at least as large as the threshold does not cross the socket: the sender
//! copies its payload into a memory segment both processes map, and the frame on the
//! socket is only a reference to it ([`frame::SHM_MARK`] and a [`ShmRef`], 28 bytes).
//! The receiver copies the payload out once, into the destination (the caller's
//! buffer for `recv_bytes_into`, a fresh `Vec` for `recv_bytes`, the decode buffer for
//! `recv`), and hands the segment back — or, for `recv_bytes_shared`, reads it in
//! place through a [`SharedBytes`](crate::SharedBytes) view that hands the segment
//! back when dropped ([`payload`], [`release`]).
//!
//! # The segments
//! Each sending end keeps [`SLOTS`] segments, made on first need and **reused**: both
//! processes keep them mapped, so after the first messages no page is faulted in and
//! no system call is made per page, which is what makes the path faster than the
//! socket (a fresh memfd per message was measured slower than the socket: session 4's
//! experiments in `benches/ipc.rs`). A segment is a memfd of a page of header (a
//! 32-bit state word at offset 0) and the payload area, rounded up to 2 MiB; it is
//! sealed against shrinking and growing before it is handed over, and its descriptor
//! travels (as `SCM_RIGHTS`, attached to the reference frame) only the first time the
//! sending end uses it. A slot is replaced by a larger segment when a message does
//! not fit it.
//!
//! # Who touches what
//! The state word says who owns the payload area: `FREE` (the sender may write), `FULL`
//! (the receiver may read), `WAITED` (full, and the sender sleeps on the word). The
//! sender writes the payload into a `FREE` segment, stores `FULL` (release), then sends
//! the reference; the receiver copies the payload out, then swaps in `FREE` (release)
//! and, if it found `WAITED`, wakes the sender (a shared futex on the word). The
//! sender loads the word (acquire) before reusing a segment. An in-place receive
//! holds the segment (does not swap in `FREE`) for as long as its view lives, so the
//! sender never writes under a view. When the receiver holds
//! both segments (it is slower, or does not read), the sender waits for the older
//! one as a socket send waits for buffer space: up to the send's deadline
//! ([`SendError::Timeout`](crate::SendError::Timeout), nothing sent), and no longer
//! than the peer lives (checked every 100 ms: `POLLHUP` on the socket gives
//! [`SendError::Disconnected`](crate::SendError::Disconnected)). So a receiver that
//! never reads costs the sender two segments, never more. Falling back to the socket
//! instead was rejected: a sender faster than its receiver would then send most
//! messages the slow way.
//!
//! # What a receiver accepts
//! Checked before anything is mapped: at most one descriptor with the frame; the
//! segment is a memory file sealed against shrinking and growing (`F_GET_SEALS`), its
//! size is what the reference says and at most [`segment_size`] of the receiver's
//! frame limit; the payload length is within the frame limit and inside the segment.
//! So a peer cannot make us map more than [`CACHE`] segments of that size, and a
//! segment can never be truncated under our mapping (no SIGBUS). A reference to a
//! segment we were never given is an error. Every refusal is
//! [`RecvError::Shm`] (the frame was read whole; the connection stays usable), or
//! [`RecvError::TooLarge`] for a payload over the limit (as for a socket frame).
//!
//! # Lifetimes
//! Segments are memfds: no name in `/dev/shm`, freed by the kernel when the last
//! mapping and descriptor are gone — when both ends are dropped or their processes
//! die, whatever the way. A sender killed with its message in a segment leaves that
//! segment mapped by the receiver only, which can still read the message (its
//! reference is in the socket) and frees it when its end is dropped.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::error::{RecvError, SegmentError};
use crate::frame::ShmRef;
use crate::segment::SharedSegment;
use crate::sys;

/// The segment's header: one page (the payload starts page-aligned), holding the
/// state word at offset 0.
pub(crate) const HEADER: u64 = 4096;
/// Segments sizes are rounded up to this (the huge-page size), so similar message
/// sizes reuse one segment.
const ROUND: u64 = 2 << 20;
/// Segments a sending end keeps (two: writing one overlaps the reading of the other).
pub(crate) const SLOTS: usize = 2;
/// Segments a receiving end keeps mapped: two senders' worth (an end inherited or
/// sent to a second process that also sends). Beyond, the least recently used is
/// unmapped.
pub(crate) const CACHE: usize = 4;
const FREE: u32 = 0;
const FULL: u32 = 1;
/// `FULL`, and the sender sleeps on the word (a futex) until it is `FREE`.
const WAITED: u32 = 2;
/// How long a sender waiting for a segment sleeps between two checks that the peer is
/// still there (a receiver that died holding the segment never wakes it).
const RECHECK: Duration = Duration::from_millis(100);
/// Threshold value meaning "shared memory off".
const OFF: usize = usize::MAX;

/// The size of the segment that holds a `len`-byte payload: a header page plus the
/// payload, rounded up to 2 MiB (`None` on overflow).
pub(crate) fn segment_size(len: u64) -> Option<u64> {
    len.checked_add(HEADER)?.checked_next_multiple_of(ROUND)
}

/// A process-unique id for a new segment: the pid in the high half (two processes
/// sending on one end never collide), a counter in the low half.
fn new_id() -> u64 {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    (u64::from(std::process::id()) << 32) | u64::from(NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Copies `bytes` to payload byte `offset` of `seg`; `false` outside the segment.
pub(crate) fn write_payload(seg: &SharedSegment, offset: usize, bytes: &[u8]) -> bool {
    (HEADER as usize)
        .checked_add(offset)
        .is_some_and(|at| sys::segment_write(seg, at, bytes))
}

/// Hands a received segment back to its sender: swaps in `FREE` (release, after our
/// reads) and wakes the sender if it sleeps on the word.
pub(crate) fn release(seg: &SharedSegment) {
    if sys::swap_segment_state(seg, FREE) == WAITED {
        sys::wake_segment_state(seg);
    }
}

/// The payload of a received frame, in place: `len` bytes after the header page of a
/// segment this end holds; `None` when they are not inside it.
pub(crate) fn payload(seg: &SharedSegment, len: usize) -> Option<&[u8]> {
    sys::segment_bytes(seg, HEADER as usize, len)
}

/// One connection end's shared-memory state.
#[derive(Debug)]
pub(crate) struct Shm {
    /// Payloads of at least this many bytes go through a segment; [`OFF`] when not enabled.
    threshold: AtomicUsize,
    tx: Mutex<Tx>,
    rx: Mutex<Vec<(u64, SharedSegment)>>,
}

#[derive(Debug, Default)]
struct Tx {
    slots: [Option<Slot>; SLOTS],
    next: usize,
    /// The process the slots belong to: a `fork` child that inherited this end starts
    /// with segments of its own, so that it never writes into its parent's.
    pid: u32,
}

#[derive(Debug)]
struct Slot {
    id: u64,
    seg: SharedSegment,
    /// Whether the descriptor already went to the peer from this end.
    announced: bool,
}

impl Tx {
    /// Forgets the slots when they belong to another process: a `fork` child that
    /// inherited this end starts with segments of its own.
    fn for_this_process(&mut self) {
        let pid = std::process::id();
        if self.pid != pid {
            *self = Tx {
                pid,
                ..Tx::default()
            };
        }
    }

    /// A slot whose segment is free (or not made yet), looking from `next` on. When the
    /// receiver holds both, waits for the older one until `deadline`, checking every
    /// [`RECHECK`] that the peer (`sock`) is still there. `Ok(None)`: no slot at all
    /// (cannot happen with [`SLOTS`] > 0; the caller then sends through the socket).
    fn free_slot(
        &self,
        sock: BorrowedFd<'_>,
        deadline: Option<Instant>,
    ) -> Result<Option<usize>, Stall> {
        loop {
            let free = (0..SLOTS).map(|k| (self.next + k) % SLOTS).find(|&i| {
                self.slots[i]
                    .as_ref()
                    .is_none_or(|s| sys::segment_state(&s.seg) == FREE)
            });
            if let Some(i) = free {
                return Ok(Some(i));
            }
            let Some(oldest) = self.slots[self.next].as_ref() else {
                return Ok(None);
            };
            // Ask to be woken, then sleep while the word says so. A word that holds
            // none of the states (a receiver that scribbled on it) is slept on as it
            // is: the wait still ends at the deadline, at the peer's hang-up, or when
            // the word changes, never in a busy loop.
            let found = match sys::cas_segment_state(&oldest.seg, FULL, WAITED) {
                FREE => continue,
                FULL => WAITED,
                other => other,
            };
            let mut nap = RECHECK;
            if let Some(d) = deadline {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(Stall::Timeout);
                }
                nap = nap.min(left);
            }
            sys::wait_segment_state(&oldest.seg, found, nap);
            if sys::segment_state(&oldest.seg) != FREE && sys::peer_gone(sock) {
                return Err(Stall::Gone);
            }
        }
    }

    /// Makes sure slot `i` holds a segment with room for `need` payload bytes,
    /// replacing it with a new sealed memfd when it does not; `false` when none could
    /// be made (no memory or descriptors: the caller sends through the socket).
    fn fit(&mut self, i: usize, need: u64) -> bool {
        let fits = self.slots[i]
            .as_ref()
            .is_some_and(|s| s.seg.len() as u64 - HEADER >= need);
        if fits {
            return true;
        }
        let Some(size) = segment_size(need) else {
            return false;
        };
        let Ok(fd) = sys::sealed_memfd("multiproc-shm", size) else {
            return false;
        };
        let Some(seg) = usize::try_from(size)
            .ok()
            .and_then(|len| SharedSegment::map(fd, len).ok())
        else {
            return false;
        };
        self.slots[i] = Some(Slot {
            id: new_id(),
            seg,
            announced: false,
        });
        true
    }
}

/// Why no segment could be had for a message.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Stall {
    /// The deadline passed while the receiver held both segments.
    Timeout,
    /// The peer hung up while holding them.
    Gone,
}

/// A message written into a segment, whose reference is about to be sent.
pub(crate) struct Staged {
    slot: usize,
    pub(crate) reference: ShmRef,
    seg: SharedSegment,
    announce: bool,
}

impl Staged {
    /// The descriptor to attach to the reference frame: only the first time.
    pub(crate) fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.announce.then(|| self.seg.as_fd())
    }
}

impl Default for Shm {
    fn default() -> Self {
        Shm {
            threshold: AtomicUsize::new(OFF),
            tx: Mutex::default(),
            rx: Mutex::default(),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The state stays consistent at every await-free step; poisoning is ignored.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub(crate) fn bad(msg: impl Into<String>) -> RecvError {
    RecvError::Shm(SegmentError::BadHandle(msg.into()))
}

impl Shm {
    /// Turns the path on for payloads of `threshold` bytes or more (at least 1).
    pub(crate) fn enable(&self, threshold: usize) {
        self.threshold
            .store(threshold.clamp(1, OFF - 1), Ordering::Relaxed);
    }

    /// The threshold, if enabled.
    pub(crate) fn threshold(&self) -> Option<usize> {
        let t = self.threshold.load(Ordering::Relaxed);
        (t != OFF).then_some(t)
    }

    /// Writes `payload` into a free segment, when enabled and `payload` reaches the
    /// threshold. When both segments are held by the receiver, waits for the older
    /// one (the receiver frees them in order) until `deadline`, as a socket send waits
    /// for buffer space, checking every [`RECHECK`] that the peer (`sock`) is still
    /// there. `Ok(None)` sends through the socket instead: below the threshold, or no
    /// memory for a segment.
    ///
    /// # Errors
    /// [`Stall::Timeout`] at the deadline, [`Stall::Gone`] when the peer hung up;
    /// nothing was sent either way.
    pub(crate) fn stage(
        &self,
        payload: &[u8],
        sock: BorrowedFd<'_>,
        deadline: Option<Instant>,
    ) -> Result<Option<Staged>, Stall> {
        self.stage_with(payload.len(), sock, deadline, |seg| {
            write_payload(seg, 0, payload)
        })
    }

    /// [`stage`](Self::stage) of a `len`-byte payload that `write` puts into the
    /// segment (through [`write_payload`]); `write` returning `false` leaves the
    /// segment free and sends nothing (`Ok(None)`).
    ///
    /// The steps: a `fork` child's fresh start ([`Tx::for_this_process`]), a free slot
    /// ([`Tx::free_slot`], which may wait), a segment large enough in it
    /// ([`Tx::fit`]), then the write and the `FULL` store.
    pub(crate) fn stage_with(
        &self,
        len: usize,
        sock: BorrowedFd<'_>,
        deadline: Option<Instant>,
        write: impl FnOnce(&SharedSegment) -> bool,
    ) -> Result<Option<Staged>, Stall> {
        let threshold = self.threshold.load(Ordering::Relaxed);
        if threshold == OFF || len < threshold {
            return Ok(None);
        }
        let need = len as u64;
        let mut tx = lock(&self.tx);
        tx.for_this_process();
        let Some(i) = tx.free_slot(sock, deadline)? else {
            return Ok(None);
        };
        if !tx.fit(i, need) {
            return Ok(None);
        }
        tx.next = (i + 1) % SLOTS;
        let Some(slot) = tx.slots[i].as_ref() else {
            return Ok(None);
        };
        if !write(&slot.seg) {
            return Ok(None);
        }
        sys::set_segment_state(&slot.seg, FULL);
        Ok(Some(Staged {
            slot: i,
            reference: ShmRef {
                segment: slot.id,
                segment_len: slot.seg.len() as u64,
                len: need,
            },
            seg: slot.seg.clone(),
            announce: !slot.announced,
        }))
    }

    /// After the reference frame of `staged` was sent (`sent`), or not: then, when
    /// nothing of it went out (`unsent`), the segment is free again.
    pub(crate) fn finish(&self, staged: Staged, sent: bool, unsent: bool) {
        let mut tx = lock(&self.tx);
        if let Some(slot) = tx.slots[staged.slot].as_mut() {
            if slot.id == staged.reference.segment {
                if sent {
                    slot.announced = true;
                } else if unsent {
                    sys::set_segment_state(&slot.seg, FREE);
                }
            }
        }
    }

    /// Finds (or maps, from the descriptor that came with the frame) the segment a
    /// received reference names, after checking it against `max_frame` (the segment
    /// size) and `limit` (the payload). The descriptors that came with the frame are
    /// consumed.
    pub(crate) fn resolve(
        &self,
        r: ShmRef,
        fds: &mut Vec<OwnedFd>,
        max_frame: u64,
        limit: u64,
    ) -> Result<SharedSegment, RecvError> {
        let taken = std::mem::take(fds);
        if taken.len() > 1 {
            return Err(bad("more than one handle with a shared-memory frame"));
        }
        let seg_max = segment_size(max_frame).unwrap_or(u64::MAX);
        if r.segment_len > seg_max {
            return Err(bad(format!(
                "segment of {} bytes exceeds the limit of {seg_max}",
                r.segment_len
            )));
        }
        if r.segment_len < HEADER || r.len > r.segment_len - HEADER {
            return Err(bad(format!(
                "{} payload bytes do not fit a segment of {}",
                r.len, r.segment_len
            )));
        }
        if r.len > limit {
            return Err(RecvError::TooLarge {
                announced: r.len,
                limit,
            });
        }
        let mut rx = lock(&self.rx);
        if let Some(fd) = taken.into_iter().next() {
            if !sys::is_size_sealed(fd.as_fd()) {
                return Err(bad(
                    "segment is not a memory file sealed against shrinking and growing",
                ));
            }
            let actual = sys::file_len(&fd).map_err(|e| RecvError::Shm(e.into()))?;
            if actual != r.segment_len {
                return Err(bad(format!(
                    "segment is {actual} bytes, the frame says {}",
                    r.segment_len
                )));
            }
            let len = usize::try_from(actual).map_err(|_| bad("segment too large"))?;
            let seg = SharedSegment::map(fd, len).map_err(RecvError::Shm)?;
            rx.retain(|(id, _)| *id != r.segment);
            if rx.len() >= CACHE {
                rx.remove(0);
            }
            rx.push((r.segment, seg.clone()));
            return Ok(seg);
        }
        let Some(at) = rx.iter().position(|(id, _)| *id == r.segment) else {
            return Err(bad(format!("unknown segment {:#x}", r.segment)));
        };
        let entry = rx.remove(at);
        let seg = entry.1.clone();
        rx.push(entry);
        if seg.len() as u64 != r.segment_len {
            return Err(bad(format!(
                "segment is {} bytes, the frame says {}",
                seg.len(),
                r.segment_len
            )));
        }
        Ok(seg)
    }

    /// Copies a resolved frame's payload to the end of `out` (one copy, huge pages
    /// advised for a large fresh buffer), then hands the segment back.
    pub(crate) fn read_vec(
        &self,
        seg: &SharedSegment,
        len: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), RecvError> {
        if out.capacity() - out.len() < len {
            let more = len - (out.capacity() - out.len());
            out.try_reserve_exact(more).map_err(|_| {
                RecvError::Io(std::io::Error::new(
                    std::io::ErrorKind::OutOfMemory,
                    "no memory for the message",
                ))
            })?;
            sys::advise_huge(out);
        }
        let ok = sys::segment_read_vec(seg, HEADER as usize, len, out);
        self.release(seg);
        if ok {
            Ok(())
        } else {
            Err(bad("payload outside the segment"))
        }
    }

    /// Copies the first `out.len()` payload bytes into `out`; the segment is handed
    /// back by [`release`](Self::release).
    pub(crate) fn read(&self, seg: &SharedSegment, out: &mut [u8]) -> Result<(), RecvError> {
        if sys::segment_read(seg, HEADER as usize, out) {
            Ok(())
        } else {
            Err(bad("payload outside the segment"))
        }
    }

    /// Hands a segment back to its sender.
    pub(crate) fn release(&self, seg: &SharedSegment) {
        release(seg);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fork_child_sends_through_segments_of_its_own() {
        let (sock, _peer) = crate::sys::unix_pair().unwrap();
        let shm = Shm::default();
        shm.enable(1);
        let a = shm.stage(&[1; 10], sock.as_fd(), None).unwrap().unwrap();
        let parent_segment = a.reference.segment;
        shm.finish(a, true, false);
        // What a child inherits after `fork`: the same state, another process id.
        lock(&shm.tx).pid = u32::MAX;
        let b = shm.stage(&[2; 10], sock.as_fd(), None).unwrap().unwrap();
        assert_ne!(b.reference.segment, parent_segment);
        assert!(b.fd().is_some(), "a new segment is announced");
    }

    #[test]
    fn segment_sizes_round_to_huge_pages() {
        assert_eq!(segment_size(1), Some(ROUND));
        assert_eq!(segment_size(ROUND - HEADER), Some(ROUND));
        assert_eq!(segment_size(ROUND - HEADER + 1), Some(2 * ROUND));
        assert_eq!(segment_size(u64::MAX - 10), None);
    }

    #[test]
    fn a_sender_waits_for_a_segment_until_the_deadline_or_hang_up() {
        let (sock, peer) = crate::sys::unix_pair().unwrap();
        let sock = sock.as_fd();
        let soon = || Some(Instant::now() + Duration::from_millis(20));
        let shm = Shm::default();
        assert!(shm.stage(&[1; 100], sock, None).unwrap().is_none()); // off
        shm.enable(10);
        assert!(shm.stage(&[1; 9], sock, None).unwrap().is_none()); // below the threshold
        let a = shm.stage(&[1; 100], sock, None).unwrap().expect("slot 0");
        let b = shm.stage(&[2; 100], sock, None).unwrap().expect("slot 1");
        // Both held by the receiver: wait for one, until the deadline or the peer leaves.
        assert_eq!(
            shm.stage(&[3; 100], sock, soon()).err(),
            Some(Stall::Timeout)
        );
        drop(peer);
        assert_eq!(shm.stage(&[3; 100], sock, None).err(), Some(Stall::Gone));
        assert!(a.fd().is_some() && b.fd().is_some());
        let seg = a.seg.clone();
        shm.finish(a, true, false);
        shm.finish(b, true, false);
        shm.release(&seg);
        let c = shm
            .stage(&[4; 100], sock, None)
            .unwrap()
            .expect("slot 0 again");
        assert!(c.fd().is_none(), "announced already");
        assert_eq!(c.slot, 0);
    }
}
