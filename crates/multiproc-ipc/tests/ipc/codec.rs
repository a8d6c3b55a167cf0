//! Property tests: rich serde values through the codec and a Connection, byte strings
//! through the framing over a real socketpair, and truncated/corrupted frames.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use multiproc_ipc::{Connection, Pipe, RecvError, decode, encode, frame};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};

use crate::raw_pair;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) enum Shape {
    Unit,
    Tuple(i64, Option<String>),
    Named {
        name: String,
        tags: Vec<u8>,
        nested: Option<Box<Shape>>,
    },
    Float(f64),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Rich {
    id: u64,
    shapes: Vec<Shape>,
    map: BTreeMap<String, Vec<i32>>,
    small: f32,
    opt: Option<(i8, char)>,
    bytes: Vec<u8>,
    text: String,
    unit: (),
    flag: bool,
    wide: i128,
}

fn finite_f64() -> impl Strategy<Value = f64> {
    prop::num::f64::NORMAL | prop::num::f64::ZERO | prop::num::f64::SUBNORMAL
}

fn shape() -> impl Strategy<Value = Shape> {
    let leaf = prop_oneof![
        Just(Shape::Unit),
        (any::<i64>(), proptest::option::of(".{0,12}")).prop_map(|(a, b)| Shape::Tuple(a, b)),
        finite_f64().prop_map(Shape::Float),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        (
            ".{0,8}",
            proptest::collection::vec(any::<u8>(), 0..8),
            proptest::option::of(inner),
        )
            .prop_map(|(name, tags, nested)| Shape::Named {
                name,
                tags,
                nested: nested.map(Box::new),
            })
    })
}

pub(crate) fn rich() -> impl Strategy<Value = Rich> {
    (
        any::<u64>(),
        proptest::collection::vec(shape(), 0..6),
        proptest::collection::btree_map(
            ".{0,6}",
            proptest::collection::vec(any::<i32>(), 0..4),
            0..5,
        ),
        prop::num::f32::NORMAL | prop::num::f32::ZERO,
        proptest::option::of((any::<i8>(), any::<char>())),
        proptest::collection::vec(any::<u8>(), 0..64),
        ".{0,32}",
        any::<bool>(),
        any::<i128>(),
    )
        .prop_map(
            |(id, shapes, map, small, opt, bytes, text, flag, wide)| Rich {
                id,
                shapes,
                map,
                small,
                opt,
                bytes,
                text,
                unit: (),
                flag,
                wide,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn rich_values_round_trip_through_the_codec(v in rich()) {
        let (bytes, fds) = encode(&v).expect("encode");
        prop_assert!(fds.is_empty());
        let back: Rich = decode(&bytes, fds).expect("decode");
        prop_assert_eq!(back, v);
    }

    #[test]
    fn rich_values_round_trip_through_a_connection(v in rich(), w in rich()) {
        let (a, b) = Pipe::duplex().expect("pipe");
        a.send(&v).expect("send");
        a.send(&w).expect("send");
        prop_assert_eq!(b.recv::<Rich>().expect("recv"), v);
        prop_assert_eq!(b.recv::<Rich>().expect("recv"), w);
    }

    #[test]
    fn any_bytes_round_trip_through_a_socketpair(
        msgs in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..3000), 1..6),
        big in 0usize..300_000,
    ) {
        let (a, b) = Pipe::duplex().expect("pipe");
        let big_msg: Vec<u8> = (0..big).map(|i| (i * 7 + 3) as u8).collect();
        let writer = {
            let msgs = msgs.clone();
            let big_msg = big_msg.clone();
            std::thread::spawn(move || -> Result<(), multiproc_ipc::SendError> {
                for m in &msgs {
                    a.send_bytes(m)?;
                }
                a.send_bytes(&big_msg)?;
                Ok(())
            })
        };
        for m in &msgs {
            prop_assert_eq!(&b.recv_bytes_timeout(Duration::from_secs(30)).expect("recv"), m);
        }
        prop_assert_eq!(b.recv_bytes_timeout(Duration::from_secs(30)).expect("recv"), big_msg);
        writer.join().expect("writer").expect("send");
        // And the framing bytes are what `frame` says.
        let mut h = [0u8; frame::MAX_HEADER];
        let n = frame::encode_header(msgs[0].len() as u64, &mut h);
        let mut wire = h[..n].to_vec();
        wire.extend_from_slice(&msgs[0]);
        let (payload, rest) = frame::split_frame(&wire, frame::DEFAULT_MAX_FRAME).expect("valid").expect("whole");
        prop_assert_eq!(payload, &msgs[0][..]);
        prop_assert!(rest.is_empty());
    }

    #[test]
    fn truncated_frames_are_errors(v in rich(), cut in any::<prop::sample::Index>()) {
        let (payload, _) = encode(&v).expect("encode");
        let mut h = [0u8; frame::MAX_HEADER];
        let n = frame::encode_header(payload.len() as u64, &mut h);
        let mut wire = h[..n].to_vec();
        wire.extend_from_slice(&payload);
        let cut = cut.index(wire.len()); // strictly shorter than the frame
        let (conn, mut raw) = raw_pair(None).expect("pair");
        raw.write_all(&wire[..cut]).expect("write");
        drop(raw);
        let r = conn.recv_timeout::<Rich>(Duration::from_secs(30));
        if cut == 0 {
            prop_assert!(matches!(r, Err(RecvError::Eof)), "{:?}", r);
        } else {
            prop_assert!(matches!(r, Err(RecvError::Truncated { .. })), "{:?}", r);
        }
        // Decoding a truncated payload directly is an error too, never a panic.
        if cut > n && cut < wire.len() {
            prop_assert!(decode::<Rich>(&payload[..cut - n], Vec::new()).is_err());
        }
    }

    #[test]
    fn corrupted_frames_are_errors_or_values_never_panics(
        v in rich(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let (mut payload, _) = encode(&v).expect("encode");
        for (i, x) in &flips {
            let i = i.index(payload.len().max(1));
            if let Some(b) = payload.get_mut(i) {
                *b ^= x | 1;
            }
        }
        // Through the codec: any outcome but a panic.
        let _ = decode::<Rich>(&payload, Vec::new());
        // Through a connection, with a possibly corrupted header as well.
        let mut h = [0u8; frame::MAX_HEADER];
        let n = frame::encode_header(payload.len() as u64, &mut h);
        let mut wire = h[..n].to_vec();
        wire.extend_from_slice(&payload);
        if let Some((i, x)) = flips.first() {
            let i = i.index(n);
            wire[i] ^= x;
        }
        let (conn, mut raw) = raw_pair(None).expect("pair");
        conn.set_max_frame(1 << 20);
        let writer = std::thread::spawn(move || {
            let _ = raw.write_all(&wire);
        });
        let _ = conn.recv_timeout::<Rich>(Duration::from_secs(30));
        writer.join().expect("writer");
    }
}

#[test]
fn handle_values_refuse_non_unix_transports() -> crate::TestResult {
    let (r, w) = Pipe::simplex()?;
    let (x, _y) = Pipe::duplex()?;
    assert!(matches!(
        w.send(&x),
        Err(multiproc_ipc::SendError::HandlesUnsupported)
    ));
    w.send(&1u8)?;
    assert_eq!(r.recv::<u8>()?, 1);
    Ok(())
}

#[test]
fn recv_bytes_into_reads_in_place_and_reports_short_buffers() -> crate::TestResult {
    // CPython: _TestConnection.test_connection (recv_bytes_into with offsets and BufferTooShort).
    let (a, b) = Pipe::duplex()?;
    let msg: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
    a.send_bytes(&msg)?;
    a.send_bytes(b"next")?;
    let mut small = vec![0u8; 1000];
    match b.recv_bytes_into(&mut small) {
        Err(RecvError::BufferTooSmall {
            needed,
            buffer,
            message,
        }) => {
            assert_eq!((needed, buffer), (100_000, 1000));
            assert_eq!(&small[..], &msg[..1000]);
            // The whole message comes back with the error (CPython's BufferTooShort.args[0]).
            assert_eq!(message, msg);
        }
        other => return Err(format!("expected BufferTooSmall, got {other:?}").into()),
    }
    // The stream is still at a frame boundary.
    let mut buf = [0u8; 16];
    assert_eq!(b.recv_bytes_into(&mut buf)?, 4);
    assert_eq!(&buf[..4], b"next");
    Ok(())
}

#[test]
fn large_frames_over_a_pipe_and_a_socketpair() -> crate::TestResult {
    for duplex in [true, false] {
        let (r, w) = if duplex {
            let (a, b) = Pipe::duplex()?;
            (a, b)
        } else {
            Pipe::simplex()?
        };
        let msg: Vec<u8> = (0..(5 << 20)).map(|i: u32| (i % 251) as u8).collect();
        let m2 = msg.clone();
        let t = std::thread::spawn(move || w.send_bytes(&m2));
        assert_eq!(r.recv_bytes_timeout(Duration::from_secs(30))?, msg);
        t.join().map_err(|_| "writer panicked")??;
    }
    Ok(())
}

#[test]
fn handles_travel_with_large_frames() -> crate::TestResult {
    // A value holding a handle and megabytes of data: the handle rides on the frame's
    // first bytes, the payload follows in many writes and reads.
    let (a, b) = Pipe::duplex()?;
    let (x, y) = Pipe::duplex()?;
    let blob: Vec<u8> = (0..(3 << 20)).map(|i: u32| (i % 253) as u8).collect();
    let blob2 = blob.clone();
    let t = std::thread::spawn(move || a.send(&(blob2, y, 7u8)));
    let (got, y2, n): (Vec<u8>, Connection, u8) = b.recv_timeout(Duration::from_secs(30))?;
    t.join().map_err(|_| "sender panicked")??;
    assert_eq!((got == blob, n), (true, 7));
    x.send(&"through the passed end")?;
    assert_eq!(
        y2.recv_timeout::<String>(Duration::from_secs(30))?,
        "through the passed end"
    );
    Ok(())
}

#[test]
fn handle_errors_keep_their_type() -> crate::TestResult {
    // The handle table's errors reach the caller as the `CodecError` variants they
    // are, not folded into `Custom(text)` by postcard's message-less error type.
    use multiproc_ipc::{CodecError, MAX_HANDLES, PassFd, PassFdRef, SendError};
    use std::os::fd::{AsFd, OwnedFd};

    // A value that names a handle which did not travel with it.
    let null: OwnedFd = std::fs::File::open("/dev/null")?.into();
    let (bytes, fds) = encode(&PassFd::from(null.try_clone()?))?;
    drop(fds);
    match decode::<PassFd>(&bytes, Vec::new()) {
        Err(CodecError::MissingHandle {
            index: 0,
            available: 0,
        }) => {}
        other => return Err(format!("expected MissingHandle, got {other:?}").into()),
    }

    // One handle more than a frame may carry.
    let (a, b) = Pipe::duplex()?;
    let many = vec![PassFdRef(null.as_fd()); MAX_HANDLES + 1];
    match a.send(&many) {
        Err(SendError::Encode(CodecError::TooManyHandles(n))) => assert_eq!(n, MAX_HANDLES + 1),
        other => return Err(format!("expected TooManyHandles, got {other:?}").into()),
    }
    // Nothing went out, and the most a frame may carry still does.
    a.send(&many[..MAX_HANDLES])?;
    let got: Vec<PassFd> = b.recv_timeout(Duration::from_secs(30))?;
    assert_eq!(got.len(), MAX_HANDLES);
    Ok(())
}
