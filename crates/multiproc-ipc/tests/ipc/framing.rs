//! How frames are cut out of the byte stream: several frames queued at once, frames
//! split across writes, handles among queued frames, large frames of odd sizes — each
//! with the adaptive spin on (the default) and off, since the spin reads the header by
//! itself.

use std::io::Write;
use std::time::Duration;

use multiproc_ipc::{Connection, Pipe, RecvError, wait};

use crate::{SPINS, TestResult, raw_pair, spinning_pair};

const LONG: Duration = Duration::from_secs(120);

fn framed(payload: &[u8]) -> Vec<u8> {
    let mut v = (payload.len() as u32).to_be_bytes().to_vec();
    v.extend_from_slice(payload);
    v
}

#[test]
fn queued_frames_are_taken_one_at_a_time_and_stay_visible_to_poll_and_wait() -> TestResult {
    // Receives read exactly one frame: what is left stays in the socket, where `poll`,
    // `wait` and any poller of the raw descriptor (the pool's supervisor) can see it.
    for spin in SPINS {
        let (conn, mut raw) = raw_pair(spin)?;
        let mut stream = Vec::new();
        for p in [&b"first"[..], b"", b"third frame"] {
            stream.extend(framed(p));
        }
        raw.write_all(&stream)?;
        assert_eq!(conn.recv_bytes_timeout(LONG)?, b"first");
        assert!(conn.poll(Some(Duration::ZERO))?);
        assert_eq!(wait(&[&conn], Some(Duration::ZERO))?.len(), 1);
        assert_eq!(conn.recv_bytes()?, b"");
        assert_eq!(wait(&[&conn], Some(Duration::ZERO))?.len(), 1);
        let mut buf = [0u8; 32];
        assert_eq!(conn.recv_bytes_into(&mut buf)?, 11);
        assert_eq!(&buf[..11], b"third frame");
        assert!(!conn.poll(Some(Duration::ZERO))?);
        assert!(wait(&[&conn], Some(Duration::ZERO))?.is_empty());
        assert!(matches!(conn.try_recv::<u8>(), Err(RecvError::Timeout)));
        // The stream is intact after that timeout.
        raw.write_all(&framed(b"later"))?;
        assert_eq!(conn.recv_bytes_timeout(LONG)?, b"later");
    }
    Ok(())
}

#[test]
fn a_frame_split_across_writes_arrives_whole() -> TestResult {
    // The split falls inside the header, right after it, and inside the payload; the
    // rest is written by another thread while (or before) the receiver waits.
    let payload: Vec<u8> = (0..300u32).map(|i| i as u8).collect();
    let bytes = framed(&payload);
    for spin in SPINS {
        for cut in [1, 2, 3, 4, 5, 150, bytes.len() - 1] {
            for timed in [false, true] {
                let (conn, mut raw) = raw_pair(spin)?;
                raw.write_all(&bytes[..cut])?;
                let got = std::thread::scope(|s| {
                    let rest = &bytes[cut..];
                    let writer = s.spawn(move || raw.write_all(rest).map(|()| raw));
                    let got = if timed {
                        conn.recv_bytes_timeout(LONG)
                    } else {
                        conn.recv_bytes()
                    };
                    (got, writer.join())
                });
                let (got, writer) = got;
                let _raw = writer.map_err(|_| "writer panicked")??;
                assert_eq!(got?, payload, "cut at {cut}, spin {spin:?}, timed {timed}");
            }
        }
    }
    Ok(())
}

#[test]
fn a_timeout_after_part_of_a_header_is_resumed_by_the_next_receive() -> TestResult {
    // Before the first header byte a timeout leaves the stream intact (tested above);
    // after it the bytes read are kept, and the next receive completes the frame
    // instead of reading its middle as a header.
    for spin in SPINS {
        let (conn, mut raw) = raw_pair(spin)?;
        raw.write_all(&[0, 0])?;
        assert!(matches!(
            conn.recv_bytes_timeout(Duration::from_millis(20)),
            Err(RecvError::Timeout)
        ));
        assert!(conn.readable());
        raw.write_all(&[0, 1, b'x'])?;
        assert_eq!(conn.recv_bytes_timeout(LONG)?, b"x");
        raw.write_all(&framed(b"next"))?;
        assert_eq!(conn.recv_bytes_timeout(LONG)?, b"next");
    }
    Ok(())
}

#[test]
fn end_of_file_at_a_boundary_and_inside_a_header() -> TestResult {
    for spin in SPINS {
        let (conn, mut raw) = raw_pair(spin)?;
        raw.write_all(&framed(b"last"))?;
        drop(raw);
        assert_eq!(conn.recv_bytes()?, b"last");
        assert!(matches!(conn.recv_bytes(), Err(RecvError::Eof)));
        let (conn, mut raw) = raw_pair(spin)?;
        raw.write_all(&[0, 0, 0])?;
        drop(raw);
        assert!(matches!(
            conn.recv_bytes(),
            Err(RecvError::Truncated {
                expected: 4,
                got: 3
            })
        ));
    }
    Ok(())
}

#[test]
fn handles_stay_with_their_frame_among_queued_frames() -> TestResult {
    // Three frames in the socket before the receiver looks: bytes, a value carrying a
    // Connection (its descriptor travels as SCM_RIGHTS with this frame's first write),
    // bytes. Each receive must get exactly its own frame's handles.
    for spin in SPINS {
        let (a, b) = spinning_pair(spin)?;
        let (x, y) = Pipe::duplex()?;
        let (p, q) = Pipe::duplex()?;
        a.send_bytes(b"before")?;
        a.send(&("one", y))?;
        a.send(&(vec![7u8; 100_000], q, 2u8))?;
        a.send_bytes(b"after")?;
        drop(a);
        assert_eq!(b.recv_bytes_timeout(LONG)?, b"before");
        let (tag, y2): (String, Connection) = b.recv_timeout(LONG)?;
        assert_eq!(tag, "one");
        let (blob, q2, n): (Vec<u8>, Connection, u8) = b.recv_timeout(LONG)?;
        assert_eq!((blob.len(), n), (100_000, 2));
        assert_eq!(b.recv_bytes_timeout(LONG)?, b"after");
        assert!(matches!(b.recv_bytes(), Err(RecvError::Eof)));
        x.send(&1u8)?;
        p.send(&2u8)?;
        assert_eq!(y2.recv_timeout::<u8>(LONG)?, 1);
        assert_eq!(q2.recv_timeout::<u8>(LONG)?, 2);
    }
    Ok(())
}

#[test]
fn large_frames_of_odd_sizes_with_and_without_a_deadline() -> TestResult {
    // The large-frame path grows its buffer in steps (4 MiB, then doubling) as bytes
    // arrive; lengths that are not multiples of a step or a page must come out exact.
    for duplex in [true, false] {
        for size in [(2 << 20) + 1, (9 << 20) + 7] {
            for timed in [false, true] {
                let (r, w) = Pipe::new(duplex)?;
                let msg: Vec<u8> = (0..size).map(|i: u32| (i % 249) as u8).collect();
                let m2 = msg.clone();
                let t = std::thread::spawn(move || {
                    w.send_bytes(&m2)?;
                    w.send_bytes(b"next")
                });
                let got = if timed {
                    r.recv_bytes_timeout(LONG)?
                } else {
                    r.recv_bytes()?
                };
                assert!(got == msg, "size {size}, duplex {duplex}, timed {timed}");
                assert_eq!(r.recv_bytes_timeout(LONG)?, b"next");
                t.join().map_err(|_| "writer panicked")??;
            }
        }
    }
    Ok(())
}

#[test]
fn a_large_typed_value_after_small_ones_reuses_nothing_stale() -> TestResult {
    // `recv` keeps a receive buffer between calls; a large frame after small ones, and
    // small ones after it, must each decode from their own bytes only.
    let (a, b) = Pipe::duplex()?;
    let big: Vec<u64> = (0..(1 << 20)).collect();
    let big2 = big.clone();
    let t = std::thread::spawn(move || -> Result<(), multiproc_ipc::SendError> {
        a.send(&1u32)?;
        a.send(&big2)?;
        a.send(&2u32)
    });
    assert_eq!(b.recv_timeout::<u32>(LONG)?, 1);
    assert!(b.recv_timeout::<Vec<u64>>(LONG)? == big);
    assert_eq!(b.recv_timeout::<u32>(LONG)?, 2);
    t.join().map_err(|_| "writer panicked")??;
    Ok(())
}

#[test]
fn a_frame_above_the_up_front_reservation_grows_past_it() -> TestResult {
    // Up to 64 MiB the receive buffer is reserved at once; above, it doubles as bytes
    // arrive. A frame just over that line must come out exact, its end included.
    let size = (64 << 20) + 3;
    let mut msg = vec![0u8; size];
    for (i, b) in msg.iter_mut().enumerate().step_by(4093) {
        *b = (i % 251) as u8 + 1;
    }
    msg[size - 1] = 0xee;
    let (r, w) = Pipe::duplex()?;
    let m2 = msg.clone();
    let t = std::thread::spawn(move || w.send_bytes(&m2));
    let got = r.recv_bytes_timeout(Duration::from_secs(60))?;
    t.join().map_err(|_| "writer panicked")??;
    assert_eq!(got.len(), size);
    assert!(got == msg);
    Ok(())
}
