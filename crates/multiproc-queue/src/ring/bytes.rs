//! Copies between private memory and the byte ring. The callers' side of the contract
//! (which lock they hold, which positions are published) is what makes these sound:
//! they are `unsafe fn`.

use super::Ring;

impl Ring {
    /// Copies `src` into the ring at byte position `pos` (wrapping).
    ///
    /// # Safety
    /// The caller holds the put lock, `src.len() <= cap`, and `[pos, pos + src.len())`
    /// is free (not between `head` and `tail`), so no other process reads or writes
    /// those bytes until `tail` passes them.
    pub(super) unsafe fn copy_in(&self, pos: u64, src: &[u8]) {
        let off = (pos % self.cap) as usize;
        let first = src.len().min(self.cap as usize - off);
        // SAFETY:
        // - `off + first <= cap` and `src.len() - first <= cap` (`src.len() <= cap` by
        //   the contract), so both destinations lie inside the ring part of the mapping;
        // - the source is a private buffer and the destination shared memory: they do
        //   not overlap;
        // - nobody else accesses these ring bytes concurrently (the contract); readers
        //   are ordered after this copy by the `Release` store of `tail`.
        unsafe {
            std::ptr::copy_nonoverlapping(src.as_ptr(), self.data().add(off), first);
            std::ptr::copy_nonoverlapping(src.as_ptr().add(first), self.data(), src.len() - first);
        }
    }

    /// The ring bytes `[pos, pos + len)` (wrapping) as two writable slices: up to the
    /// ring's end, then from its start (empty unless the range wraps).
    ///
    /// # Safety
    /// Same contract as [`copy_in`](Self::copy_in) for `[pos, pos + len)`
    /// (`len <= cap`), and the slices are dropped before `tail` passes `pos`: while they
    /// live, nobody else reads or writes those bytes.
    #[expect(
        clippy::mut_from_ref,
        reason = "the put lock, not `&mut self`, gives this thread the free ring bytes"
    )]
    pub(super) unsafe fn slices_mut(&self, pos: u64, len: usize) -> (&mut [u8], &mut [u8]) {
        let off = (pos % self.cap) as usize;
        let first = len.min(self.cap as usize - off);
        // SAFETY:
        // - `off + first <= cap` and `len - first <= cap`: both ranges lie inside the
        //   ring part of the mapping, and they do not overlap each other (the second
        //   ends at `len - first <= off` since `len <= cap`);
        // - no other reference to these bytes exists in this process and no other
        //   process touches them until `tail` passes them (the contract).
        unsafe {
            (
                std::slice::from_raw_parts_mut(self.data().add(off), first),
                std::slice::from_raw_parts_mut(self.data(), len - first),
            )
        }
    }

    /// Copies ring bytes at `pos` (wrapping) into `dst`.
    ///
    /// # Safety
    /// The caller holds the get lock, `dst.len() <= cap`, and `[pos, pos + dst.len())`
    /// was published (a `tail` read with `Acquire` is past it) and not yet released
    /// (`head` is at or before `pos`), so no process writes those bytes meanwhile.
    pub(super) unsafe fn copy_out(&self, pos: u64, dst: &mut [u8]) {
        let off = (pos % self.cap) as usize;
        let first = dst.len().min(self.cap as usize - off);
        // SAFETY:
        // - as in `copy_in`, both source ranges are inside the ring (len <= cap);
        // - the destination is private memory, no overlap;
        // - the bytes are published and stable until `head` moves past them, which only
        //   this get-lock holder does (the contract).
        unsafe {
            std::ptr::copy_nonoverlapping(self.data().add(off), dst.as_mut_ptr(), first);
            std::ptr::copy_nonoverlapping(
                self.data(),
                dst.as_mut_ptr().add(first),
                dst.len() - first,
            );
        }
    }

    /// Appends the ring bytes `[pos, pos + n)` (wrapping) to `buf`, copied straight
    /// into its spare capacity (no zero-fill first: one write pass, not two).
    ///
    /// # Safety
    /// Same contract as [`copy_out`](Self::copy_out) for `[pos, pos + n)` (`n <= cap`).
    pub(super) unsafe fn extend_out(&self, pos: u64, n: usize, buf: &mut Vec<u8>) {
        buf.reserve(n);
        let old = buf.len();
        let off = (pos % self.cap) as usize;
        let first = n.min(self.cap as usize - off);
        // SAFETY:
        // - the source ranges are inside the ring and stable, as in `copy_out` (the
        //   caller's contract);
        // - `buf` has room for `n` more bytes (reserved above) of private memory, no
        //   overlap with the ring; all `n` are written before `set_len` exposes them.
        unsafe {
            let dst = buf.as_mut_ptr().add(old);
            std::ptr::copy_nonoverlapping(self.data().add(off), dst, first);
            std::ptr::copy_nonoverlapping(self.data(), dst.add(first), n - first);
            buf.set_len(old + n);
        }
    }

    /// Runs `f` on the published bytes `[pos, pos + len)`, in place when contiguous.
    ///
    /// # Safety
    /// Same contract as [`copy_out`](Self::copy_out) for `[pos, pos + len)`, and
    /// `head` does not move past `pos` before `f` returns.
    pub(super) unsafe fn with_bytes<R>(
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
            // - the bytes are published (contract) and no process writes them until
            //   this get-lock holder advances `head`, which happens after `f` returns,
            //   so the shared slice does not change while it is borrowed.
            let bytes = unsafe { std::slice::from_raw_parts(self.data().add(off), len) };
            f(bytes)
        } else {
            scratch.clear();
            scratch.resize(len, 0);
            // SAFETY: this function's contract, for the same range.
            unsafe { self.copy_out(pos, scratch) };
            f(scratch)
        }
    }

    /// The bulk area's bytes `[off, off + len)` (an offset in the area, not a
    /// position: no wrapping), writable.
    ///
    /// # Safety
    /// The caller holds the put lock, `off + len <= bulk`, and no published bulk
    /// payload that the get side has not released overlaps the range (`bulk_free`
    /// held for it), so no other process reads or writes those bytes until a
    /// reference to them is published; the slice is dropped before that.
    #[expect(
        clippy::mut_from_ref,
        reason = "the put lock, not `&mut self`, gives this thread the free bulk bytes"
    )]
    pub(super) unsafe fn bulk_mut(&self, off: usize, len: usize) -> &mut [u8] {
        // SAFETY:
        // - `off + len <= bulk` (the contract): the range lies inside the bulk part of
        //   the mapping (`HEADER_BYTES + cap + bulk <= len`, checked when the ring was
        //   created or attached);
        // - no other reference to these bytes exists in this process and no other
        //   process touches them until a reference record is published (the contract).
        unsafe { std::slice::from_raw_parts_mut(self.bulk_data().add(off), len) }
    }

    /// The bulk area's bytes `[off, off + len)`, read-only.
    ///
    /// # Safety
    /// The caller holds the get lock, `off + len <= bulk`, the bytes belong to the
    /// reference record at `head`, which was published (a `tail` read with `Acquire`
    /// is past it), and the slice is dropped before `bulk_head` moves past them: until
    /// then no producer writes them.
    pub(super) unsafe fn bulk_ref(&self, off: usize, len: usize) -> &[u8] {
        // SAFETY:
        // - inside the bulk part of the mapping, as in `bulk_mut`;
        // - published before the `Acquire` load of `tail` that showed the reference
        //   record, and stable while borrowed: producers write bulk bytes only once
        //   `bulk_head` (or an empty ring) shows them free (the contract).
        unsafe { std::slice::from_raw_parts(self.bulk_data().add(off), len) }
    }

    /// The little-endian `u64` at ring position `pos`.
    ///
    /// # Safety
    /// Same contract as [`copy_out`](Self::copy_out) for `[pos, pos + 8)`.
    pub(super) unsafe fn read_u64(&self, pos: u64) -> u64 {
        let mut b = [0u8; 8];
        // SAFETY: this function's contract.
        unsafe { self.copy_out(pos, &mut b) };
        u64::from_le_bytes(b)
    }
}
