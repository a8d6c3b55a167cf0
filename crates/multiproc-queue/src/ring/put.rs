//! The put side: appending a record (whole or streamed), waiting for space, and the
//! repair of a side whose holder died.

use std::sync::atomic::Ordering;
use std::time::Instant;

use multiproc_sync::foundation::Deadline;

use super::{BULK_FLAG, BULK_FOOT, Block, Fail, Held, Ring, SLICE, align8, side_lock};

impl Ring {
    /// Takes the put side (repairing it after a dead holder) and waits, within
    /// `deadline`, until the queue's `maxsize` admits one more record: the held lock,
    /// the record's number and the tail it starts at.
    fn enter_put(&self, deadline: Deadline) -> Result<(Held<'_>, u64, u64), Fail> {
        let h = self.hdr();
        let ps = &h.put.0;
        let recovered = side_lock(&ps.lock, h.space.0.notifier(), deadline)?;
        let held = Held(&ps.lock);
        if recovered {
            self.repair_put();
        }
        let seq = ps.puts.load(Ordering::Relaxed) + 1;
        self.wait_maxsize(seq, deadline)?;
        Ok((held, seq, h.tail.0.load(Ordering::Relaxed)))
    }

    /// Records the record being written (`[t, t + foot)`, number `seq`), so that the
    /// next holder can cut it if this one dies before publishing it.
    fn open_record(&self, t: u64, seq: u64, foot: u64) {
        let ps = &self.hdr().put.0;
        ps.open_start.store(t, Ordering::Relaxed);
        ps.open_seq.store(seq, Ordering::Relaxed);
        ps.open_end.store(t + foot, Ordering::Release);
    }

    /// Appends one record holding `payload`.
    pub(crate) fn put(&self, payload: &[u8], block: Block) -> Result<(), Fail> {
        if self.bulk_fits(payload.len() as u64) {
            let copied = self.put_bulk(payload.len() as u64, block, |dst| {
                dst.copy_from_slice(payload);
                Ok::<(), std::convert::Infallible>(())
            })?;
            return copied.map_err(|never| match never {});
        }
        let h = self.hdr();
        let ps = &h.put.0;
        let deadline = block.deadline();
        let (_held, seq, t) = self.enter_put(deadline)?;
        let len = payload.len() as u64;
        let foot = 8 + align8(len);
        if foot <= self.cap {
            self.wait_space(deadline, || self.free_from(t, foot) >= foot)?;
            self.open_record(t, seq, foot);
            // SAFETY: this thread holds the put lock and `[t, t + foot)` is free
            // (`wait_space` saw `free_from(t, foot) >= foot`), `foot <= cap`.
            unsafe {
                self.copy_in(t, &len.to_le_bytes());
                self.copy_in(t + 8, payload);
            }
            h.tail.0.store(t + foot, Ordering::Release);
            ps.puts.store(seq, Ordering::Release);
            h.data.0.ring();
            return Ok(());
        }
        // Larger than the ring: stream it.
        self.put_streamed(payload, t, seq, deadline)
    }

    /// `put`'s path for a record larger than the ring: the put lock is held, `t` is
    /// the tail and `seq` the record's number; the record is written in pieces of at
    /// most half the ring, each published (and rung) as soon as it is in.
    fn put_streamed(
        &self,
        payload: &[u8],
        t: u64,
        seq: u64,
        deadline: Deadline,
    ) -> Result<(), Fail> {
        let h = self.hdr();
        let ps = &h.put.0;
        let len = payload.len() as u64;
        let foot = 8 + align8(len);
        self.wait_space(deadline, || self.free_from(t, 8) >= 8)?;
        self.open_record(t, seq, foot);
        let end = t + foot;
        let mut w = t;
        let mut header = Some(len.to_le_bytes());
        let mut sent = 0usize;
        while w < end {
            let want = (end - w).min(self.cap / 2);
            let free = self.free_from(w, want);
            if free == 0 {
                if let Err(fail) = self.wait_space(deadline, || self.free_from(w, want) > 0) {
                    // Cut the partial record: readers drop it.
                    self.abort_stream(w);
                    return Err(fail);
                }
                continue;
            }
            let mut room = free.min(end - w);
            if let Some(hd) = header.take() {
                // SAFETY: put lock held; `[w, w + 8)` is free (`free_from(t, 8) >= 8`
                // was seen and nothing was written since).
                unsafe { self.copy_in(w, &hd) };
                w += 8;
                room -= 8;
            }
            let n = (room as usize).min(payload.len() - sent);
            // SAFETY: put lock held; `[w, w + n)` lies in the `free` bytes seen above
            // (`n <= room <= free`), which is at most `cap`.
            unsafe { self.copy_in(w, &payload[sent..sent + n]) };
            sent += n;
            w += n as u64;
            if sent == payload.len() {
                // padding: part of the footprint, content irrelevant
                let pad = (end - w).min(room - n as u64);
                w += pad;
            }
            h.tail.0.store(w, Ordering::Release);
            h.data.0.ring();
        }
        ps.puts.store(seq, Ordering::Release);
        h.data.0.ring();
        Ok(())
    }

    /// Appends one record whose `len` payload bytes `fill` writes straight into the
    /// ring (no private buffer, no second copy): `fill` gets the payload's place as two
    /// slices, the second one non-empty only when the record wraps around the ring's
    /// end. The record must fit the ring (`8 + align8(len) <= cap`; the caller checks
    /// with [`fits`](Self::fits)); larger ones go through [`put`](Self::put).
    ///
    /// `Ok(Err(e))`: `fill` refused; nothing was published (the put side is as if the
    /// call had not happened), and the caller may try the copying path. A producer
    /// killed inside `fill` leaves an unpublished record:
    /// [`repair_put`](Self::repair_put) forgets it, as for a death inside `put`'s copy.
    /// `fill` runs under the put lock: a `Serialize` impl that puts into the same
    /// queue from inside `serialize` would wait for itself.
    pub(crate) fn put_in_place<E>(
        &self,
        len: u64,
        block: Block,
        fill: impl FnOnce(&mut [u8], &mut [u8]) -> Result<(), E>,
    ) -> Result<Result<(), E>, Fail> {
        let h = self.hdr();
        let ps = &h.put.0;
        let foot = 8 + align8(len);
        if foot > self.cap {
            return Err(Fail::Corrupt);
        }
        let deadline = block.deadline();
        let (_held, seq, t) = self.enter_put(deadline)?;
        self.wait_space(deadline, || self.free_from(t, foot) >= foot)?;
        self.open_record(t, seq, foot);
        // SAFETY: this thread holds the put lock and `[t, t + foot)` is free
        // (`wait_space` saw `free_from(t, foot) >= foot`), `foot <= cap`; the slices
        // below cover `[t + 8, t + 8 + len)` inside it and live only until `fill`
        // returns, before `tail` is published.
        let filled = unsafe {
            self.copy_in(t, &len.to_le_bytes());
            let (a, b) = self.slices_mut(t + 8, len as usize);
            fill(a, b)
        };
        if filled.is_err() {
            // Never published: forget the intent.
            ps.open_end.store(0, Ordering::Release);
            return Ok(filled);
        }
        h.tail.0.store(t + foot, Ordering::Release);
        ps.puts.store(seq, Ordering::Release);
        h.data.0.ring();
        Ok(Ok(()))
    }

    /// Whether a record of `len` payload bytes is published whole (fits the ring).
    pub(crate) fn fits(&self, len: u64) -> bool {
        len <= self.cap && 8 + align8(len) <= self.cap
    }

    /// Whether a payload of `len` bytes travels through the bulk area: it does not fit
    /// the ring and fits the area.
    pub(crate) fn bulk_fits(&self, len: u64) -> bool {
        !self.fits(len) && align8(len) <= self.bulk
    }

    /// Puts one item whose `len` payload bytes `fill` writes straight into the bulk
    /// area (one contiguous slice), then publishes a reference record in the ring.
    /// For payloads with [`bulk_fits`](Self::bulk_fits); `Ok(Err(e))` as in
    /// [`put_in_place`](Self::put_in_place): nothing published.
    pub(crate) fn put_bulk<E>(
        &self,
        len: u64,
        block: Block,
        fill: impl FnOnce(&mut [u8]) -> Result<(), E>,
    ) -> Result<Result<(), E>, Fail> {
        if !self.bulk_fits(len) {
            return Err(Fail::Corrupt);
        }
        let h = self.hdr();
        let ps = &h.put.0;
        let deadline = block.deadline();
        let (_held, seq, t) = self.enter_put(deadline)?;
        let n = align8(len);
        let bt = ps.bulk_tail.load(Ordering::Relaxed);
        // Contiguous: a payload that would wrap starts at the area's beginning.
        let bs = if bt % self.bulk + n > self.bulk {
            bt.next_multiple_of(self.bulk)
        } else {
            bt
        };
        let be = bs + n;
        self.wait_space(deadline, || {
            self.free_from(t, BULK_FOOT) >= BULK_FOOT && self.bulk_free(be, t)
        })?;
        ps.open_start.store(t, Ordering::Relaxed);
        ps.open_seq.store(seq, Ordering::Relaxed);
        ps.open_bulk_end.store(be, Ordering::Relaxed);
        ps.open_end.store(t + BULK_FOOT, Ordering::Release);
        let off = (bs % self.bulk) as usize;
        // SAFETY: this thread holds the put lock; `off + len <= bulk` (`bs` chosen so
        // that the payload does not wrap, `n <= bulk` by `bulk_fits`); `bulk_free` saw
        // `[bs, be)` clear of every payload the get side still holds (or the ring
        // empty); the slice lives only until `fill` returns, before the reference is
        // published.
        let filled = fill(unsafe { self.bulk_mut(off, len as usize) });
        if filled.is_err() {
            // Never published: forget the intent (`bulk_tail` did not move).
            ps.open_bulk_end.store(0, Ordering::Relaxed);
            ps.open_end.store(0, Ordering::Release);
            return Ok(filled);
        }
        // SAFETY: put lock held; `[t, t + 16)` is free (`free_from(t, 16) >= 16` seen
        // in `wait_space`), 16 <= cap.
        unsafe {
            self.copy_in(t, &(len | BULK_FLAG).to_le_bytes());
            self.copy_in(t + 8, &bs.to_le_bytes());
        }
        h.tail.0.store(t + BULK_FOOT, Ordering::Release);
        ps.puts.store(seq, Ordering::Release);
        ps.bulk_tail.store(be, Ordering::Relaxed);
        h.data.0.ring();
        Ok(Ok(()))
    }

    /// Whether a bulk payload ending at `be` (and starting at or after `bulk_tail`) is
    /// clear of every payload the get side still holds: within one area's length of
    /// `bulk_head`, or nothing left in the ring (`head` at the producer's tail `t`: no
    /// bulk byte is in use then, whatever gaps a dead process left).
    fn bulk_free(&self, be: u64, t: u64) -> bool {
        let h = self.hdr();
        let ps = &h.put.0;
        let mut bh = ps.cached_bulk_head.load(Ordering::Relaxed);
        if be.saturating_sub(bh) > self.bulk {
            bh = h.bulk_head.0.load(Ordering::Acquire);
            ps.cached_bulk_head.store(bh, Ordering::Relaxed);
        }
        be.saturating_sub(bh) <= self.bulk || h.head.0.load(Ordering::Acquire) == t
    }

    /// Waits until a put numbered `seq` stays within `maxsize` items (if any).
    fn wait_maxsize(&self, seq: u64, deadline: Deadline) -> Result<(), Fail> {
        let h = self.hdr();
        let ps = &h.put.0;
        let maxsize = h.config.0.maxsize.load(Ordering::Relaxed);
        if maxsize == 0 {
            return Ok(());
        }
        self.wait_space(deadline, || {
            let mut gets = ps.cached_gets.load(Ordering::Relaxed);
            if seq - 1 - gets.min(seq - 1) >= maxsize {
                gets = h.get.0.gets.load(Ordering::Acquire);
                ps.cached_gets.store(gets, Ordering::Relaxed);
            }
            seq - 1 - gets.min(seq - 1) < maxsize
        })
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
    ///
    /// After each [`SLICE`] without room, asks the registry whether a consumer is left
    /// ([`no_live_consumer`](Self::no_live_consumer): only if this process declared
    /// that it will not get, so other putters never read `/proc` here).
    fn wait_space(&self, deadline: Deadline, ready: impl Fn() -> bool) -> Result<(), Fail> {
        if ready() {
            return Ok(());
        }
        if !deadline.expired() && self.hdr().space.0.spin_until(&ready) {
            return Ok(());
        }
        let mut checked = Instant::now();
        loop {
            if ready() {
                return Ok(());
            }
            if deadline.expired() {
                return Err(Fail::Timeout);
            }
            self.hdr().space.0.wait(deadline.slice(SLICE), &ready);
            if checked.elapsed() >= SLICE && !ready() {
                if self.no_live_consumer() {
                    return Err(Fail::NoConsumer);
                }
                checked = Instant::now();
            }
        }
    }

    pub(super) fn abort_stream(&self, at: u64) {
        let h = self.hdr();
        h.config.0.abort_pos.store(at, Ordering::Release);
        h.put.0.open_end.store(0, Ordering::Release);
        h.data.0.ring();
    }

    /// Run by whoever took the put lock over from a dead holder.
    pub(super) fn repair_put(&self) {
        let h = self.hdr();
        let ps = &h.put.0;
        // Only the put lock's holder sleeps on `space`: if the dead holder was asleep
        // there, its waiter count would make every later get issue a wake-up call.
        h.space.0.clear_sleepers();
        let end = ps.open_end.load(Ordering::Acquire);
        if end == 0 {
            return;
        }
        let start = ps.open_start.load(Ordering::Relaxed);
        let seq = ps.open_seq.load(Ordering::Relaxed);
        let t = h.tail.0.load(Ordering::Acquire);
        if t >= end {
            // Published whole; only the count (and a bulk payload's end) may be missing.
            if ps.puts.load(Ordering::Relaxed) < seq {
                ps.puts.store(seq, Ordering::Release);
            }
            let be = ps.open_bulk_end.load(Ordering::Relaxed);
            if be > ps.bulk_tail.load(Ordering::Relaxed) {
                ps.bulk_tail.store(be, Ordering::Relaxed);
            }
            ps.open_end.store(0, Ordering::Release);
        } else if t > start {
            self.abort_stream(t);
        } else {
            ps.open_end.store(0, Ordering::Release);
        }
    }
}
