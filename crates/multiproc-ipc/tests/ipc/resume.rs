//! A receive whose deadline passes part-way through a frame keeps what it read, and
//! the next receive carries on with it: a polling loop (`try_recv`, short timeouts)
//! never loses a frame, never reads one from its middle, and never makes the
//! connection unusable.

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use multiproc_ipc::{Connection, Pipe, RecvError, frame};

use crate::{SPINS, TestResult, raw_pair, spinning_pair};

const LONG: Duration = Duration::from_secs(120);

/// Receives until something other than a timeout comes, bounded by the sender's life.
fn poll_loop<T>(mut f: impl FnMut() -> Result<T, RecvError>) -> Result<(T, u32), RecvError> {
    let mut timeouts = 0;
    loop {
        match f() {
            Err(RecvError::Timeout) => {
                timeouts += 1;
                std::thread::yield_now();
            }
            other => return other.map(|v| (v, timeouts)),
        }
    }
}

#[test]
fn a_frame_written_one_byte_at_a_time_is_taken_by_instant_receives() -> TestResult {
    // Every cut point: inside the short header, inside the long form's 8 length
    // bytes, inside the payload. Each receive with a zero timeout takes the byte that
    // came and times out; the one after the last byte returns the whole frame.
    let short = {
        let mut v = 5u32.to_be_bytes().to_vec();
        v.extend_from_slice(b"hello");
        v
    };
    let long = {
        // The long form announcing a small length: valid, if unusual.
        let mut v = vec![0xff; 4];
        v.extend_from_slice(&6u64.to_be_bytes());
        v.extend_from_slice(b"world!");
        v
    };
    for spin in SPINS {
        for (bytes, payload) in [(&short, &b"hello"[..]), (&long, &b"world!"[..])] {
            let (conn, mut raw) = raw_pair(spin)?;
            for (i, b) in bytes.iter().enumerate() {
                raw.write_all(&[*b])?;
                let r = conn.recv_bytes_timeout(Duration::ZERO);
                if i + 1 < bytes.len() {
                    assert!(matches!(r, Err(RecvError::Timeout)), "byte {i}: {r:?}");
                    assert!(conn.readable());
                } else {
                    assert_eq!(r?, payload, "spin {spin:?}");
                }
            }
            // Back at a frame boundary.
            assert!(matches!(
                conn.recv_bytes_timeout(Duration::ZERO),
                Err(RecvError::Timeout)
            ));
            raw.write_all(&[0, 0, 0, 1, b'z'])?;
            assert_eq!(conn.recv_bytes_timeout(LONG)?, b"z");
        }
    }
    Ok(())
}

#[test]
fn try_recv_in_a_loop_takes_frames_larger_than_the_socket_buffer() -> TestResult {
    // An 8 MiB value (larger than any socket or pipe buffer) with a handle on its
    // first bytes, then a small value: a `try_recv` loop gets both, whole.
    for spin in SPINS {
        let (a, b) = spinning_pair(spin)?;
        let (x, y) = Pipe::duplex()?;
        let blob: Vec<u8> = (0..(8 << 20)).map(|i: u32| (i % 251) as u8).collect();
        let blob2 = blob.clone();
        let t = std::thread::spawn(move || -> Result<(), multiproc_ipc::SendError> {
            a.send(&(blob2, y))?;
            a.send(&7u32)
        });
        let ((got, y2), _) = poll_loop(|| b.try_recv::<(Vec<u8>, Connection)>())?;
        assert!(got == blob);
        let (n, _) = poll_loop(|| b.try_recv::<u32>())?;
        assert_eq!(n, 7);
        t.join().map_err(|_| "sender panicked")??;
        x.send(&"through the handle")?;
        assert_eq!(y2.recv_timeout::<String>(LONG)?, "through the handle");
    }
    // And over a pipe, with raw frames and short timeouts.
    let (r, w) = Pipe::simplex()?;
    let big: Vec<u8> = (0..(3 << 20) + 5).map(|i: u32| (i % 241) as u8).collect();
    let big2 = big.clone();
    let t = std::thread::spawn(move || -> Result<(), multiproc_ipc::SendError> {
        w.send_bytes(&big2)?;
        w.send_bytes(b"after")
    });
    let (got, _) = poll_loop(|| r.recv_bytes_timeout(Duration::from_micros(200)))?;
    assert!(got == big);
    let (after, _) = poll_loop(|| r.recv_bytes_timeout(Duration::from_micros(200)))?;
    assert_eq!(after, b"after");
    t.join().map_err(|_| "sender panicked")??;
    Ok(())
}

#[test]
fn any_kind_of_receive_finishes_a_frame_another_began() -> TestResult {
    // A frame cut by a timed `recv_bytes` in its payload, finished by a typed `recv`,
    // by `recv_bytes_into` (fitting and too small), and by a `recv_bytes_max` whose
    // limit it exceeds.
    let value = (42u64, "typed".to_string());
    let (payload, _) = multiproc_ipc::encode(&value)?;
    let mut h = [0u8; frame::MAX_HEADER];
    let n = frame::encode_header(payload.len() as u64, &mut h);
    let mut wire = h[..n].to_vec();
    wire.extend_from_slice(&payload);
    let cut = n + 3;

    let begin = |raw: &mut UnixStream, conn: &Connection| -> TestResult {
        raw.write_all(&wire[..cut])?;
        assert!(matches!(
            conn.recv_bytes_timeout(Duration::from_millis(10)),
            Err(RecvError::Timeout)
        ));
        raw.write_all(&wire[cut..])?;
        Ok(())
    };

    let (conn, mut raw) = raw_pair(None)?;
    begin(&mut raw, &conn)?;
    assert_eq!(conn.recv_timeout::<(u64, String)>(LONG)?, value);

    let (conn, mut raw) = raw_pair(None)?;
    begin(&mut raw, &conn)?;
    let mut buf = [0u8; 64];
    let k = conn.recv_bytes_into(&mut buf)?;
    assert_eq!(&buf[..k], &payload[..]);

    let (conn, mut raw) = raw_pair(None)?;
    begin(&mut raw, &conn)?;
    let mut small = [0u8; 4];
    match conn.recv_bytes_into(&mut small) {
        Err(RecvError::BufferTooSmall {
            needed,
            buffer: 4,
            message,
        }) => {
            assert_eq!(needed, payload.len());
            assert_eq!(message, payload);
        }
        other => return Err(format!("expected BufferTooSmall, got {other:?}").into()),
    }
    assert_eq!(&small[..], &payload[..4]);
    raw.write_all(&[0, 0, 0, 1, 9])?;
    assert_eq!(conn.recv_bytes_timeout(LONG)?, [9]);

    // The limit applies to the frame whichever receive finishes it; over it, the
    // stream is left mid-frame for good.
    let (conn, mut raw) = raw_pair(None)?;
    begin(&mut raw, &conn)?;
    assert!(matches!(
        conn.recv_bytes_max(Some(2), Some(LONG)),
        Err(RecvError::TooLarge { .. })
    ));
    assert!(!conn.readable());
    assert!(matches!(conn.recv_bytes(), Err(RecvError::Closed)));
    Ok(())
}

#[test]
fn a_copy_sent_while_a_frame_is_held_part_way_is_not_readable() -> TestResult {
    // The part already read lives in this end's memory: a copy sent to another process
    // would start reading in the frame's middle, so it goes out not readable, while
    // this end still finishes the frame.
    let (conn, mut raw) = raw_pair(None)?;
    raw.write_all(&[0, 0, 0, 4, b'a', b'b'])?;
    assert!(matches!(
        conn.recv_bytes_timeout(Duration::from_millis(10)),
        Err(RecvError::Timeout)
    ));
    let (carrier, far) = Pipe::duplex()?;
    carrier.send(&conn)?;
    let copy: Connection = far.recv_timeout(LONG)?;
    assert!(!copy.readable());
    assert!(matches!(copy.recv_bytes(), Err(RecvError::Closed)));
    assert!(copy.writable());
    raw.write_all(b"cd")?;
    assert_eq!(conn.recv_bytes_timeout(LONG)?, b"abcd");
    Ok(())
}

#[test]
fn end_of_file_inside_a_held_frame_is_truncated() -> TestResult {
    let (conn, mut raw) = raw_pair(None)?;
    raw.write_all(&[0, 0, 0, 9, 1, 2, 3])?;
    assert!(matches!(
        conn.recv_bytes_timeout(Duration::from_millis(10)),
        Err(RecvError::Timeout)
    ));
    drop(raw);
    match conn.recv_bytes_timeout(LONG) {
        Err(RecvError::Truncated { expected, got }) => assert_eq!((expected, got), (9, 3)),
        other => return Err(format!("expected Truncated, got {other:?}").into()),
    }
    // Inside the header, too.
    let (conn, mut raw) = raw_pair(None)?;
    raw.write_all(&[0, 0])?;
    assert!(matches!(
        conn.recv_bytes_timeout(Duration::from_millis(10)),
        Err(RecvError::Timeout)
    ));
    drop(raw);
    assert!(matches!(
        conn.recv_bytes_timeout(LONG),
        Err(RecvError::Truncated {
            expected: 4,
            got: 2
        })
    ));
    Ok(())
}
