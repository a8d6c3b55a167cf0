//! The get side: taking a record (in place, or collected from a stream), waiting for
//! data or for the end of the producers, and the repair of a side whose holder died.

use std::sync::atomic::Ordering;
use std::time::Instant;

use multiproc_sync::foundation::{Deadline, this_process};

use super::{
    BULK_FLAG, BULK_FOOT, Fail, Held, MAX_ITEM, Ring, SLICE, SPIN, Stream, align8, side_lock,
};

impl Ring {
    /// Takes the oldest record and hands its bytes to `decode`.
    ///
    /// `deadline`: `None` waits forever, a past instant does not wait.
    pub(crate) fn get<R>(
        &self,
        deadline: Option<Instant>,
        scratch: &mut Vec<u8>,
        decode: impl FnOnce(&[u8]) -> R,
    ) -> Result<R, Fail> {
        let deadline = Deadline::at(deadline);
        let h = self.hdr();
        let gs = &h.get.0;
        let recovered = side_lock(&gs.lock, h.data.0.notifier(), deadline)?;
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
                h.space.0.ring();
                continue;
            }
            self.wait_data(p, deadline)?;
            // SAFETY: get lock held; `wait_data` saw `tail > p`, and records are
            // published whole or from their 8-byte header on, so `[p, p + 8)` is
            // published and not yet released.
            let len = unsafe { self.read_u64(p) };
            if len & BULK_FLAG != 0 {
                return self.get_bulk(p, len & !BULK_FLAG, decode);
            }
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
                // SAFETY: get lock held; the record `[p, p + foot)` is no larger than
                // the ring, so it was published whole (`tail >= p + foot`), and `head`
                // stays at `p` until after `decode` returns.
                let out = unsafe { self.with_bytes(p + 8, len as usize, scratch, decode) };
                h.head.0.store(p + foot, Ordering::Release);
                gs.gets.store(seq, Ordering::Release);
                h.space.0.ring();
                return Ok(out);
            }
            // Collected in the caller's reused buffer (no fresh pages per item).
            scratch.clear();
            if scratch.try_reserve_exact(len as usize).is_err() {
                return Err(Fail::Corrupt);
            }
            match self.stream(p, p + foot, len, p, Some(&mut *scratch)) {
                Stream::Done => {
                    gs.gets.store(seq, Ordering::Release);
                    gs.cons_end.store(0, Ordering::Release);
                    return Ok(decode(scratch));
                }
                Stream::Aborted(a) => {
                    h.head.0.store(a, Ordering::Release);
                    gs.cons_end.store(0, Ordering::Release);
                    h.space.0.ring();
                }
            }
        }
    }

    /// Takes the reference record at `p` (published, `head == p`, get lock held) whose
    /// payload of `len` bytes lies in the bulk area, decoding it in place.
    fn get_bulk<R>(&self, p: u64, len: u64, decode: impl FnOnce(&[u8]) -> R) -> Result<R, Fail> {
        let h = self.hdr();
        let gs = &h.get.0;
        // SAFETY: get lock held; a reference record is 16 bytes, published whole
        // (`tail` passed `p + 16` when `wait_data` saw `tail > p`), not yet released.
        let bs = unsafe { self.read_u64(p + 8) };
        let n = align8(len);
        if self.bulk == 0 || len > MAX_ITEM || n > self.bulk || bs % self.bulk + n > self.bulk {
            return Err(Fail::Corrupt);
        }
        let seq = gs.gets.load(Ordering::Relaxed) + 1;
        gs.cons_start.store(p, Ordering::Relaxed);
        gs.cons_seq.store(seq, Ordering::Relaxed);
        gs.cons_bulk_end.store(bs + n, Ordering::Relaxed);
        gs.cons_end.store(p + BULK_FOOT, Ordering::Release);
        // SAFETY: get lock held; `off + len <= bulk` (checked above); the payload
        // belongs to the published reference record at `head`, and `bulk_head` moves
        // past it only below, after `decode` returned and the slice is gone.
        let bytes = unsafe { self.bulk_ref((bs % self.bulk) as usize, len as usize) };
        let out = decode(bytes);
        // `head` first: a consumer killed between the two stores has taken the item,
        // and `repair_get` moves `bulk_head` (the other order could let a producer
        // overwrite the payload of a record still to be delivered again).
        h.head.0.store(p + BULK_FOOT, Ordering::Release);
        h.bulk_head.0.store(bs + n, Ordering::Release);
        gs.gets.store(seq, Ordering::Release);
        h.space.0.ring();
        Ok(out)
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
                    // SAFETY: get lock held; `[from, to)` lies below `upto <= t`, a
                    // `tail` read with `Acquire` by `wait_stream`, and at or past
                    // `p`, where `head` stands: published and not yet released; it is
                    // no longer than the ring (`upto - p <= cap`).
                    unsafe { self.extend_out(from, (to - from) as usize, buf) };
                }
            }
            p = upto;
            h.head.0.store(p, Ordering::Release);
            h.space.0.ring();
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
                if h.put.0.lock.take_over_if_dead(this_process()) {
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
    fn wait_data(&self, p: u64, deadline: Deadline) -> Result<(), Fail> {
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
        if !deadline.expired() && h.data.0.spin_until(has) {
            return Ok(());
        }
        let mut probed = Instant::now();
        loop {
            if has() {
                return Ok(());
            }
            let expired = deadline.expired();
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
            h.data.0.wait(deadline.slice(SLICE), has);
        }
    }

    /// Run by whoever took the get lock over from a dead holder.
    fn repair_get(&self) {
        let h = self.hdr();
        let gs = &h.get.0;
        // Only the get lock's holder sleeps on `data`: a consumer killed while waiting
        // for an item would otherwise leave a count that makes every later put issue a
        // wake-up system call.
        h.data.0.clear_sleepers();
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
            // Taken: a bulk payload's release may be missing (an older record's value
            // is at most `bulk_head` already).
            let be = gs.cons_bulk_end.load(Ordering::Relaxed);
            if be > h.bulk_head.0.load(Ordering::Relaxed) {
                h.bulk_head.0.store(be, Ordering::Release);
            }
            gs.cons_end.store(0, Ordering::Release);
        } else if p == gs.cons_start.load(Ordering::Relaxed) {
            // Nothing taken yet: the record stays for the next consumer.
            gs.cons_end.store(0, Ordering::Release);
        }
        // Otherwise head is inside a streamed record: `get` discards the rest.
    }
}
