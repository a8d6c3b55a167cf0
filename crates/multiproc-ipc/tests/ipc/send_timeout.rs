//! `send_timeout` / `send_bytes_timeout`: a peer that does not read never hangs the
//! sender, a timeout before any byte leaves the connection usable, and one part-way
//! through a frame stops this end from sending a cut frame's successor.

use std::time::Duration;

use multiproc_ipc::{Connection, Pipe, RecvError, SendError};

use crate::TestResult;

const SHORT: Duration = Duration::from_millis(20);
const BOUND: Duration = Duration::from_secs(120);

fn body() -> Vec<u8> {
    vec![7u8; 100]
}

/// Sends numbered small frames until the buffer is full; returns how many went out.
fn fill(tx: &Connection) -> Result<u32, SendError> {
    let mut n = 0u32;
    loop {
        match tx.send_timeout(&(n, body()), SHORT) {
            Ok(()) => n += 1,
            Err(SendError::Timeout) => return Ok(n),
            Err(e) => return Err(e),
        }
        assert!(n < 10_000_000, "the buffer never filled");
    }
}

fn check_small_frames_time_out_whole(tx: Connection, rx: Connection) -> TestResult {
    let sent = fill(&tx)?;
    assert!(sent > 0);
    // Small frames go out whole or not at all: nothing was cut, the peer reads every
    // frame in order, and this end can go on sending.
    for i in 0..sent {
        let (k, b): (u32, Vec<u8>) = rx.recv_timeout(BOUND)?;
        assert_eq!((k, b), (i, body()));
    }
    assert!(matches!(
        rx.recv_timeout::<(u32, Vec<u8>)>(Duration::ZERO),
        Err(RecvError::Timeout)
    ));
    tx.send_timeout(&(sent, body()), BOUND)?;
    assert_eq!(rx.recv_timeout::<(u32, Vec<u8>)>(BOUND)?.0, sent);
    Ok(())
}

#[test]
fn full_socket_times_out_and_stays_usable() -> TestResult {
    let (tx, rx) = Pipe::duplex()?;
    check_small_frames_time_out_whole(tx, rx)
}

#[test]
fn full_pipe_times_out_and_stays_usable() -> TestResult {
    let (rx, tx) = Pipe::simplex()?;
    check_small_frames_time_out_whole(tx, rx)
}

#[test]
fn timeout_mid_frame_refuses_further_sends() -> TestResult {
    for (tx, rx) in [Pipe::duplex()?, {
        let (r, w) = Pipe::simplex()?;
        (w, r)
    }] {
        let big = vec![1u8; 16 << 20];
        assert!(matches!(
            tx.send_bytes_timeout(&big, SHORT),
            Err(SendError::Timeout)
        ));
        // Part of the frame is in the buffer: another frame after it would be read
        // as the cut frame's missing bytes.
        assert!(matches!(tx.send(&1u8), Err(SendError::Closed)));
        assert!(matches!(
            tx.send_bytes_timeout(b"x", SHORT),
            Err(SendError::Closed)
        ));
        // The reader sees an incomplete frame, never a wrong one.
        match rx.recv_bytes_timeout(SHORT) {
            Err(RecvError::Timeout) => {}
            other => panic!("expected a timeout on the cut frame, got {other:?}"),
        }
    }
    Ok(())
}

#[test]
fn send_timeout_to_a_closed_peer_is_disconnected() -> TestResult {
    // A child that another test thread is starting holds copies of our descriptors
    // from its fork until its exec; `wait` on our end (ready once every copy of the
    // peer is closed: end-of-file, or POLLERR on a pipe without readers) makes sure the
    // peer is really gone before the send.
    let (tx, rx) = Pipe::duplex()?;
    drop(rx);
    assert_eq!(multiproc_ipc::wait_indices(&[&tx], Some(BOUND))?, [0]);
    assert!(matches!(
        tx.send_timeout(&5u32, SHORT),
        Err(SendError::Disconnected)
    ));
    let (rx, tx) = Pipe::simplex()?;
    drop(rx);
    assert_eq!(multiproc_ipc::wait_indices(&[&tx], Some(BOUND))?, [0]);
    assert!(matches!(
        tx.send_bytes_timeout(b"abc", SHORT),
        Err(SendError::Disconnected)
    ));
    Ok(())
}

#[test]
fn extreme_timeouts() -> TestResult {
    let (tx, rx) = Pipe::duplex()?;
    // Zero: still sends when there is room.
    tx.send_timeout(&1u8, Duration::ZERO)?;
    // MAX: no deadline at all (no overflow panic).
    tx.send_timeout(&2u8, Duration::MAX)?;
    tx.send_bytes_timeout(b"three", Duration::MAX)?;
    assert_eq!(rx.recv_timeout::<u8>(BOUND)?, 1);
    assert_eq!(rx.recv_timeout::<u8>(BOUND)?, 2);
    assert_eq!(rx.recv_bytes_timeout(BOUND)?, b"three");
    Ok(())
}

#[test]
fn a_reader_that_catches_up_lets_a_large_timed_send_finish() -> TestResult {
    let (tx, rx) = Pipe::duplex()?;
    let big: Vec<u8> = (0..(8u32 << 20)).map(|i| (i % 251) as u8).collect();
    let expect = big.clone();
    let reader = std::thread::spawn(move || rx.recv_bytes_timeout(BOUND));
    tx.send_bytes_timeout(&big, BOUND)?;
    let got = reader.join().map_err(|_| "reader panicked")??;
    assert_eq!(got, expect);
    Ok(())
}

/// On a non-blocking descriptor the timed forms still wait (with `poll`) instead of
/// failing with `WouldBlock`, as `Connection::from_fd` documents.
#[test]
fn timed_forms_wait_on_a_non_blocking_descriptor() -> TestResult {
    let (a, b) = std::os::unix::net::UnixStream::pair()?;
    a.set_nonblocking(true)?;
    b.set_nonblocking(true)?;
    let (a, b) = (Connection::from_fd(a.into()), Connection::from_fd(b.into()));
    // Nothing yet: the blocking form says WouldBlock, the timed one times out.
    assert!(
        matches!(b.recv::<u32>(), Err(RecvError::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock)
    );
    assert!(matches!(
        b.recv_timeout::<u32>(SHORT),
        Err(RecvError::Timeout)
    ));
    // A large frame needs several waits for room on the sending side and for data on
    // the receiving side.
    let big: Vec<u8> = (0..(4u32 << 20)).map(|i| (i % 253) as u8).collect();
    let expect = big.clone();
    let reader = std::thread::spawn(move || b.recv_bytes_timeout(BOUND));
    a.send_bytes_timeout(&big, BOUND)?;
    assert_eq!(reader.join().map_err(|_| "reader panicked")??, expect);
    Ok(())
}
