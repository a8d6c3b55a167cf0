//! Typed sends without a copy of their large byte strings: the sender side of the
//! bulk fast path ([`crate::bulk`]).
//!
//! A typed send encodes the value into the connection's buffer, then writes the
//! buffer: a 1 MiB [`Bytes`](crate::Bytes) was copied once into the buffer before the
//! kernel copied it into the socket. Here the encode runs in two passes when — and only
//! when — it meets a large byte string:
//!
//! 1. [`Skeleton`]: the value is encoded into the buffer as usual, except that each
//!    byte string (or string) of at least [`MIN_HOLE`] bytes is *not* copied: its
//!    position and length are noted (a *hole*). A value without such a string is
//!    complete after this pass and is sent as before, so nothing changes for it.
//! 2. [`Stream`]: with the frame's length now known (buffer plus holes), the value is
//!    serialized again; the small bytes it produces are skipped (the buffer has them),
//!    and at each large string the buffered bytes up to the hole and the string itself
//!    go out with one vectored `sendmsg`, straight from the value's memory. What
//!    follows the last hole is sent at the end. Through a shared-memory segment
//!    ([`crate::shm`]) the same pass writes everything into the segment instead.
//!
//! A value whose second encoding differs from its first (a `Serialize` impl that
//! reads something another thread changes, such as a `Mutex`'s contents) is caught
//! at the first hole that does not match: before anything was sent if that is the
//! first hole (the send fails with [`CodecError::Custom`](crate::CodecError::Custom),
//! the connection unchanged); otherwise the frame is cut and the end stops sending, as
//! after a send timeout part-way through a frame.

use crate::error::CodecError;

/// Byte strings this long or longer are sent from the value's memory.
pub(crate) const MIN_HOLE: usize = 64 << 10;

/// A large byte string left out of the buffer: where it goes (in frame coordinates:
/// bytes of the whole payload before it) and its length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Hole {
    pub(crate) at: usize,
    pub(crate) len: usize,
}

/// Pass 1: postcard's output into the buffer, large runs left out as holes.
pub(crate) struct Skeleton<'a> {
    pub(crate) buf: Vec<u8>,
    pub(crate) holes: &'a mut Vec<Hole>,
    /// Bytes of the holes so far (frame position = `buf.len() - base + skipped`).
    skipped: usize,
    /// Where the payload starts in `buf` (after room for the header).
    base: usize,
}

impl<'a> Skeleton<'a> {
    pub(crate) fn new(buf: Vec<u8>, holes: &'a mut Vec<Hole>) -> Self {
        holes.clear();
        let base = buf.len();
        Skeleton {
            buf,
            holes,
            skipped: 0,
            base,
        }
    }
}

impl postcard::ser_flavors::Flavor for Skeleton<'_> {
    type Output = Vec<u8>;

    #[inline]
    fn try_push(&mut self, data: u8) -> postcard::Result<()> {
        self.buf.push(data);
        Ok(())
    }

    #[inline]
    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        if data.len() >= MIN_HOLE {
            self.holes.push(Hole {
                at: self.buf.len() - self.base + self.skipped,
                len: data.len(),
            });
            self.skipped += data.len();
        } else {
            self.buf.extend_from_slice(data);
        }
        Ok(())
    }

    fn finalize(self) -> postcard::Result<Vec<u8>> {
        Ok(self.buf)
    }
}

/// Pass 2: walks the value again and, at each hole, hands `send` the buffered bytes
/// since the previous hole and the string itself.
pub(crate) struct Stream<'a, F> {
    /// The frame's first bytes (header and payload) as pass 1 buffered them.
    pub(crate) skeleton: &'a [u8],
    pub(crate) holes: &'a [Hole],
    /// Frame position reached (payload bytes).
    pos: usize,
    /// Next hole to meet.
    next: usize,
    /// Bytes of `skeleton` already handed to `send`.
    sent: usize,
    /// Header bytes at the front of `skeleton`.
    header: usize,
    send: F,
    /// Why the pass stopped early, if it did.
    pub(crate) failed: Option<StreamError>,
}

/// Why pass 2 stopped.
#[derive(Debug)]
pub(crate) enum StreamError {
    /// The value did not encode as in pass 1; `sent` tells whether bytes went out.
    Changed { sent: bool },
    /// `send` failed.
    Send(crate::SendError),
}

impl<'a, F> Stream<'a, F>
where
    F: FnMut(&[&[u8]]) -> Result<(), crate::SendError>,
{
    pub(crate) fn new(skeleton: &'a [u8], header: usize, holes: &'a [Hole], send: F) -> Self {
        Stream {
            skeleton,
            holes,
            pos: 0,
            next: 0,
            sent: 0,
            header,
            send,
            failed: None,
        }
    }

    /// Skeleton index of frame position `pos` (holes before it excluded).
    fn skeleton_at(&self, pos: usize) -> usize {
        let skipped: usize = self.holes[..self.next].iter().map(|h| h.len).sum();
        self.header + pos - skipped
    }

    fn fail(&mut self, e: StreamError) -> postcard::Error {
        self.failed = Some(e);
        postcard::Error::SerdeSerCustom
    }

    /// Sends what follows the last hole; checks that every hole was met.
    pub(crate) fn finish(&mut self) -> Result<(), StreamError> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        if self.next != self.holes.len() || self.skeleton_at(self.pos) != self.skeleton.len() {
            return Err(StreamError::Changed {
                sent: self.sent > 0,
            });
        }
        let tail = &self.skeleton[self.sent..];
        if !tail.is_empty() {
            (self.send)(&[tail]).map_err(StreamError::Send)?;
        }
        Ok(())
    }
}

/// [`Stream`] as a postcard flavor, borrowed (postcard consumes its flavor, and the
/// stream's state is needed after the pass).
pub(crate) struct ByRef<'s, 'a, F>(pub(crate) &'s mut Stream<'a, F>);

impl<F> postcard::ser_flavors::Flavor for ByRef<'_, '_, F>
where
    F: FnMut(&[&[u8]]) -> Result<(), crate::SendError>,
{
    type Output = ();

    #[inline]
    fn try_push(&mut self, _: u8) -> postcard::Result<()> {
        self.0.pos += 1;
        Ok(())
    }

    #[inline]
    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        self.0.extend(data)
    }

    fn finalize(self) -> postcard::Result<()> {
        Ok(())
    }
}

impl<F> Stream<'_, F>
where
    F: FnMut(&[&[u8]]) -> Result<(), crate::SendError>,
{
    fn extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        if data.len() < MIN_HOLE {
            self.pos += data.len();
            return Ok(());
        }
        let expected = self.holes.get(self.next).copied();
        if expected
            != Some(Hole {
                at: self.pos,
                len: data.len(),
            })
        {
            let sent = self.sent > 0;
            return Err(self.fail(StreamError::Changed { sent }));
        }
        let upto = self.skeleton_at(self.pos);
        if upto > self.skeleton.len() || upto < self.sent {
            let sent = self.sent > 0;
            return Err(self.fail(StreamError::Changed { sent }));
        }
        let before = &self.skeleton[self.sent..upto];
        if let Err(e) = (self.send)(&[before, data]) {
            return Err(self.fail(StreamError::Send(e)));
        }
        self.sent = upto;
        self.next += 1;
        self.pos += data.len();
        Ok(())
    }
}

/// The error a changed value gives.
pub(crate) fn changed() -> CodecError {
    CodecError::Custom(
        "the value encoded differently the second time (changed while being sent)".into(),
    )
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use serde::{Serialize, Serializer};

    use crate::bulk::Bytes;
    use crate::{Pipe, RecvError, SendError};

    /// Encodes a different byte string each time: `lens[i]` bytes on the `i`-th call.
    struct Fickle {
        calls: Cell<usize>,
        lens: [usize; 2],
    }

    impl Serialize for Fickle {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let i = self.calls.get();
            self.calls.set(i + 1);
            s.serialize_bytes(&vec![1u8; self.lens[i.min(1)]])
        }
    }

    #[test]
    fn large_strings_anywhere_in_a_value_arrive_intact() {
        let (a, b) = Pipe::duplex().unwrap();
        let t = std::thread::spawn(move || {
            let v = (
                7u8,
                Bytes::from(vec![1u8; 300 << 10]),
                "x".repeat(100 << 10),
                vec![Bytes::from(vec![2u8; 64 << 10]), Bytes::from(vec![3u8; 10])],
                Bytes::from(vec![4u8; 2 << 20]),
                9u64,
            );
            a.send(&v).unwrap();
            v
        });
        type V = (u8, Bytes, String, Vec<Bytes>, Bytes, u64);
        let got: V = b.recv().unwrap();
        assert_eq!(got, t.join().unwrap());
    }

    #[test]
    fn through_a_segment_too() {
        let (a, b) = Pipe::duplex().unwrap();
        a.enable_shm(1).unwrap();
        b.enable_shm(1).unwrap();
        let v = (
            3u8,
            Bytes::from(vec![5u8; 200 << 10]),
            "y".repeat(70 << 10),
            4u16,
        );
        a.send(&v).unwrap();
        assert_eq!(b.recv::<(u8, Bytes, String, u16)>().unwrap(), v);
        // A value that changes: refused, nothing sent, the segment free again.
        for _ in 0..3 {
            let f = Fickle {
                calls: Cell::new(0),
                lens: [100 << 10, 90 << 10],
            };
            assert!(matches!(a.send(&f), Err(SendError::Encode(_))));
        }
        assert!(a.writable());
        a.send(&v).unwrap();
        assert_eq!(b.recv::<(u8, Bytes, String, u16)>().unwrap(), v);
    }

    #[test]
    fn a_value_that_changes_between_the_passes_is_refused_cleanly() {
        let (a, b) = Pipe::duplex().unwrap();
        // The first hole differs: nothing went out, the connection is unchanged.
        let v = Fickle {
            calls: Cell::new(0),
            lens: [100 << 10, 90 << 10],
        };
        assert!(matches!(a.send(&v), Err(SendError::Encode(_))));
        assert!(a.writable());
        a.send(&5u8).unwrap();
        assert_eq!(b.recv::<u8>().unwrap(), 5);
        // The second hole differs: the first went out, so this end stops sending.
        let v = (
            Bytes::from(vec![0u8; 100 << 10]),
            Fickle {
                calls: Cell::new(0),
                lens: [100 << 10, 80 << 10],
            },
        );
        let r = std::thread::scope(|s| {
            let reader = s.spawn(|| b.recv_timeout::<u8>(std::time::Duration::from_secs(60)));
            let r = a.send(&v);
            drop(a);
            (r, reader.join().unwrap())
        });
        assert!(matches!(r.0, Err(SendError::Encode(_))));
        assert!(matches!(r.1, Err(RecvError::Truncated { .. })), "{:?}", r.1);
    }
}
