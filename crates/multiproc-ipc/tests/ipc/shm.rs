//! Large messages through shared memory (`Connection::enable_shm`): the same values as
//! through the socket, bounded memory when the receiver does not read, a sender killed
//! with its message in a segment, hostile segments refused before mapping (no SIGBUS,
//! the connection usable after), and nothing left behind after many messages.
//! (Round trips of every fast-path type through a spawned child with shared memory
//! on: `bulk::every_fast_path_type_round_trips_through_shared_memory`.)

use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::process::Stdio;
use std::time::{Duration, Instant};

use multiproc_ipc::bulk::{Bytes, PodVec};
use multiproc_ipc::frame::{ShmRef, encode_shm_frame};
use multiproc_ipc::{Connection, PassFd, Pipe, RecvError, SendError, SharedSegment};
use proptest::prelude::*;
use rustix::fs::{MemfdFlags, SealFlags};

use multiproc_test_support::{BOUND, reap, this_test_binary};

use crate::TestResult;

const WAIT: Duration = Duration::from_secs(60);
const CHILD_ENV: &str = "MULTIPROC_IPC_TEST_SHM_CHILD";
const ISOLATED_ENV: &str = "MULTIPROC_IPC_TEST_SHM_ISOLATED";

/// Runs `body` in a fresh copy of this test binary that runs only `shm::<test>`, so
/// that the descriptors, mappings and `/dev/shm` entries it counts are its own (the
/// other tests of this binary run on other threads of one process).
fn in_own_process(test: &str, body: impl FnOnce() -> TestResult) -> TestResult {
    if std::env::var(ISOLATED_ENV).as_deref() == Ok(test) {
        return body();
    }
    let child = this_test_binary(&format!("shm::{test}"))?
        .env(ISOLATED_ENV, test)
        .stdout(Stdio::piped())
        .spawn()?;
    assert!(
        reap(child),
        "{test} failed in its own process, or did not finish within {BOUND:?}"
    );
    Ok(())
}

fn shm_pair(threshold: usize) -> std::io::Result<(Connection, Connection)> {
    let (a, b) = Pipe::duplex()?;
    a.enable_shm(threshold)?;
    b.enable_shm(threshold)?;
    Ok((a, b))
}

/// Descriptors open in this process.
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

/// Descriptors of this process that are memfds named `name`.
fn memfds(name: &str) -> usize {
    let want = format!("/memfd:{name}");
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| {
        d.filter_map(Result::ok)
            .filter_map(|e| std::fs::read_link(e.path()).ok())
            .filter(|l| l.to_string_lossy().starts_with(&want))
            .count()
    })
}

/// Mappings of this process backed by a memfd named `name`.
fn mappings(name: &str) -> usize {
    let want = format!("/memfd:{name}");
    std::fs::read_to_string("/proc/self/maps")
        .map_or(0, |m| m.lines().filter(|l| l.contains(&want)).count())
}

/// Entries of `/dev/shm` that were not in `before`. Entries may come and go beside a
/// test (other programs use the directory), but none may appear from ours: segments
/// are memfds and never have a name there.
fn new_in_dev_shm(before: &[String]) -> Vec<String> {
    dev_shm()
        .into_iter()
        .filter(|n| !before.contains(n))
        .collect()
}

fn dev_shm() -> Vec<String> {
    std::fs::read_dir("/dev/shm")
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn large_messages_arrive_intact_and_small_ones_take_the_socket() -> TestResult {
    let (a, b) = shm_pair(1 << 20)?;
    let t = std::thread::spawn(move || -> Result<(), SendError> {
        for i in 0..20u8 {
            let n = if i % 3 == 0 {
                100
            } else {
                (1 << 20) + usize::from(i) * 4099
            };
            a.send_bytes(&vec![i; n])?;
            a.send(&(
                i,
                Bytes::from(vec![i ^ 0x5a; n]),
                PodVec::from(vec![f64::from(i); n / 8]),
            ))?;
        }
        Ok(())
    });
    let mut buf = vec![0u8; 2 << 20];
    for i in 0..20u8 {
        let n = if i % 3 == 0 {
            100
        } else {
            (1 << 20) + usize::from(i) * 4099
        };
        if i % 2 == 0 {
            assert_eq!(b.recv_bytes()?, vec![i; n]);
        } else {
            assert_eq!(b.recv_bytes_into(&mut buf)?, n);
            assert!(buf[..n].iter().all(|&x| x == i));
        }
        let (j, bytes, pod): (u8, Bytes, PodVec<f64>) = b.recv_timeout(WAIT)?;
        assert_eq!(j, i);
        assert!(bytes.len() == n && bytes.iter().all(|&x| x == i ^ 0x5a));
        assert!(pod.len() == n / 8 && pod.iter().all(|&x| x == f64::from(i)));
    }
    t.join().expect("sender thread")?;
    Ok(())
}

#[test]
fn a_buffer_too_small_gets_the_whole_message_and_the_stream_goes_on() -> TestResult {
    let (a, b) = shm_pair(4096)?;
    let msg: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
    a.send_bytes(&msg)?;
    a.send_bytes(&msg[..5000])?;
    let mut small = [0u8; 10];
    match b.recv_bytes_into(&mut small) {
        Err(RecvError::BufferTooSmall {
            needed, message, ..
        }) => {
            assert_eq!(needed, msg.len());
            assert_eq!(message, msg);
            assert_eq!(small, msg[..10]);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(b.recv_bytes()?, msg[..5000]);
    // And a frame limit below the message is `TooLarge`, as for a socket frame.
    a.send_bytes(&msg)?;
    assert!(matches!(
        b.recv_bytes_max(Some(1000), Some(WAIT)),
        Err(RecvError::TooLarge {
            announced: 100_000,
            limit: 1000
        })
    ));
    Ok(())
}

#[test]
fn enable_shm_needs_a_unix_socket() -> TestResult {
    let (r, w) = Pipe::simplex()?;
    assert!(r.enable_shm(1).is_err() && w.enable_shm(1).is_err());
    assert_eq!(r.shm_threshold(), None);
    Ok(())
}

#[test]
fn an_end_without_shm_refuses_a_shared_memory_frame() -> TestResult {
    let (a, b) = Pipe::duplex()?;
    a.enable_shm(1)?; // only the sender: a misconfiguration
    a.send_bytes(&[1; 100])?;
    let err = b.recv_bytes_timeout(WAIT).expect_err("a refusal");
    assert!(
        matches!(&err, RecvError::Io(e) if e.kind() == std::io::ErrorKind::InvalidData),
        "{err:?}"
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any value gives the same result through shared memory (threshold 1: every
    /// message goes through a segment) as through the plain socket path.
    #[test]
    fn any_value_is_the_same_through_shared_memory(
        bytes in proptest::collection::vec(any::<u8>(), 0..5000),
        floats in proptest::collection::vec(any::<f64>(), 0..600),
        text in ".{0,40}",
        nums in proptest::collection::vec(any::<i64>(), 0..50),
    ) {
        let (a, b) = shm_pair(1).expect("in the proptest");
        let (c, d) = Pipe::duplex().expect("in the proptest");
        let value = (Bytes::from(bytes.clone()), PodVec::from(floats.clone()), text.clone(), nums.clone(), bytes.clone());
        type V = (Bytes, PodVec<f64>, String, Vec<i64>, Vec<u8>);
        a.send(&value).expect("in the proptest");
        c.send(&value).expect("in the proptest");
        let fast: V = b.recv_timeout(WAIT).expect("in the proptest");
        let plain: V = d.recv_timeout(WAIT).expect("in the proptest");
        prop_assert_eq!(fast.0, plain.0);
        prop_assert_eq!(fast.1.iter().map(|f| f.to_bits()).collect::<Vec<_>>(), plain.1.iter().map(|f| f.to_bits()).collect::<Vec<_>>());
        prop_assert_eq!((fast.2, fast.3, fast.4), (plain.2, plain.3, plain.4));
        a.send_bytes(&bytes).expect("in the proptest");
        c.send_bytes(&bytes).expect("in the proptest");
        prop_assert_eq!(b.recv_bytes().expect("in the proptest"), d.recv_bytes().expect("in the proptest"));
    }
}

#[test]
fn a_receiver_that_never_reads_costs_two_segments_then_the_sender_waits() -> TestResult {
    in_own_process(
        "a_receiver_that_never_reads_costs_two_segments_then_the_sender_waits",
        || {
            let (a, b) = shm_pair(1 << 20)?;
            let before = memfds("multiproc-shm");
            let msg = vec![3u8; 4 << 20];
            // Two messages go into the two segments; the third waits for one, like a send
            // into a full socket buffer, until its deadline; nothing more is allocated.
            a.send_bytes_timeout(&msg, WAIT)?;
            a.send_bytes_timeout(&msg, WAIT)?;
            for _ in 0..3 {
                assert!(matches!(
                    a.send_bytes_timeout(&msg, Duration::from_millis(50)),
                    Err(SendError::Timeout)
                ));
            }
            assert_eq!(memfds("multiproc-shm") - before, 2, "two segments, no more");
            assert!(
                a.writable(),
                "a send that waited for a segment sent nothing"
            );
            // The receiver reads one: the sender goes on.
            assert_eq!(b.recv_bytes_timeout(WAIT)?.len(), msg.len());
            a.send_bytes_timeout(&msg, WAIT)?;
            assert_eq!(b.recv_bytes_timeout(WAIT)?.len(), msg.len());
            assert_eq!(b.recv_bytes_timeout(WAIT)?.len(), msg.len());
            // A sender that waits on a peer that goes away is told so, not left waiting.
            a.send_bytes_timeout(&msg, WAIT)?;
            a.send_bytes_timeout(&msg, WAIT)?;
            let t = std::thread::spawn(move || a.send_bytes(&msg));
            drop(b); // before or while the send waits: told either way

            assert!(matches!(
                t.join().expect("sender"),
                Err(SendError::Disconnected)
            ));
            Ok(())
        },
    )
}

/// Not a test of its own: the body of the child process. Enables shared memory,
/// sends one 8 MiB message, then waits (to be killed) reading its end.
#[test]
fn shm_child_entry() -> TestResult {
    if std::env::var_os(CHILD_ENV).is_none() {
        return Ok(());
    }
    let conn = Connection::from_fd(std::io::stdin().as_fd().try_clone_to_owned()?);
    conn.enable_shm(1 << 20)?;
    conn.send_bytes(&vec![0xabu8; 8 << 20])?;
    let _ = conn.recv_bytes_timeout(WAIT);
    Ok(())
}

#[test]
fn a_sender_killed_with_its_message_in_a_segment_leaves_it_readable_and_nothing_behind()
-> TestResult {
    in_own_process(
        "a_sender_killed_with_its_message_in_a_segment_leaves_it_readable_and_nothing_behind",
        || {
            let shm_before = dev_shm();
            let fds_before = open_fds();
            {
                let (mine, theirs) = Pipe::duplex()?;
                mine.enable_shm(1 << 20)?;
                let mut child = this_test_binary("shm::shm_child_entry")?
                    .env(CHILD_ENV, "1")
                    .stdin(Stdio::from(theirs.into_fd()))
                    .stdout(Stdio::null())
                    .spawn()?;
                // The reference frame is here once the message is in the segment.
                let ready = mine.poll(Some(WAIT));
                let _ = child.kill(); // SIGKILL, whatever happened
                let status = child.wait()?;
                assert!(ready?, "the child sent nothing within {WAIT:?}");
                assert!(!status.success());
                let got = mine.recv_bytes_timeout(WAIT)?;
                assert!(got.len() == 8 << 20 && got.iter().all(|&x| x == 0xab));
                assert!(matches!(mine.recv_bytes_timeout(WAIT), Err(RecvError::Eof)));
                assert_eq!(
                    mappings("multiproc-shm"),
                    1,
                    "the segment is still mapped here"
                );
            }
            // Our end dropped: the segment is gone with it.
            assert_eq!(mappings("multiproc-shm"), 0);
            assert_eq!(open_fds(), fds_before);
            assert_eq!(new_in_dev_shm(&shm_before), Vec::<String>::new());
            Ok(())
        },
    )
}

#[test]
fn ten_thousand_large_messages_leave_no_descriptor_mapping_or_dev_shm_entry() -> TestResult {
    in_own_process(
        "ten_thousand_large_messages_leave_no_descriptor_mapping_or_dev_shm_entry",
        || {
            let shm_before = dev_shm();
            let fds_before = open_fds();
            {
                let (a, b) = shm_pair(64 << 10)?;
                let t = std::thread::spawn(move || -> Result<(), SendError> {
                    let msg = vec![9u8; 64 << 10];
                    for i in 0..10_000u32 {
                        // Sizes vary, so segments are also replaced now and then.
                        let n = if i % 1000 == 999 { 3 << 20 } else { msg.len() };
                        if n > msg.len() {
                            a.send_bytes(&vec![9u8; n])?;
                        } else {
                            a.send_bytes(&msg)?;
                        }
                    }
                    Ok(())
                });
                let mut buf = vec![0u8; 4 << 20];
                let deadline = Instant::now() + Duration::from_secs(120);
                for _ in 0..10_000u32 {
                    let left = deadline.saturating_duration_since(Instant::now());
                    let n = b.recv_bytes_max(None, Some(left)).map(|v| {
                        buf[..v.len()].copy_from_slice(&v);
                        v.len()
                    })?;
                    assert!(n == 64 << 10 || n == 3 << 20);
                }
                t.join().expect("sender thread")?;
                assert!(
                    mappings("multiproc-shm") <= 2 + 2,
                    "sender's two, receiver's cache"
                );
            }
            assert_eq!(mappings("multiproc-shm"), 0);
            assert_eq!(open_fds(), fds_before);
            assert_eq!(new_in_dev_shm(&shm_before), Vec::<String>::new());
            Ok(())
        },
    )
}

// ------------------------------------------------------------------ hostile peers

/// A receiving end with shared memory on, and the raw socket of its peer.
fn victim(max_frame: u64) -> std::io::Result<(Connection, UnixStream)> {
    let (a, b) = Pipe::duplex()?;
    a.enable_shm(1)?;
    a.set_max_frame(max_frame);
    Ok((a, UnixStream::from(b.into_fd())))
}

/// A memfd named `name` of `len` bytes with `seals`.
fn memfd(name: &str, len: u64, seals: SealFlags) -> std::io::Result<OwnedFd> {
    let fd = rustix::fs::memfd_create(name, MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING)?;
    rustix::fs::ftruncate(&fd, len)?;
    if !seals.is_empty() {
        rustix::fs::fcntl_add_seals(&fd, seals)?;
    }
    Ok(fd)
}

/// Sends a shared-memory reference frame, with `fd` attached (through an encode of a
/// `PassFd`: a Connection-level send of a dummy value would add its own frame, so the
/// frame is written by hand with the descriptor on its first byte).
fn send_ref(peer: &UnixStream, r: ShmRef, fd: Option<&OwnedFd>) -> std::io::Result<()> {
    use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags, sendmsg};
    let frame = encode_shm_frame(&r);
    let mut space = [std::mem::MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut anc = SendAncillaryBuffer::new(&mut space);
    let fds;
    if let Some(fd) = fd {
        fds = [fd.as_fd()];
        anc.push(SendAncillaryMessage::ScmRights(&fds));
    }
    let n = sendmsg(
        peer,
        &[std::io::IoSlice::new(&frame)],
        &mut anc,
        SendFlags::empty(),
    )?;
    assert_eq!(n, frame.len());
    Ok(())
}

/// After a refused frame, the connection is at a frame boundary: a normal frame reads.
fn still_usable(conn: &Connection, peer: &mut UnixStream) -> TestResult {
    peer.write_all(&[0, 0, 0, 2, b'o', b'k'])?;
    assert_eq!(conn.recv_bytes_timeout(WAIT)?, b"ok");
    Ok(())
}

fn refused(r: Result<Vec<u8>, RecvError>, what: &str) {
    match r {
        Err(RecvError::Shm(e)) => assert!(e.to_string().contains(what), "{e}"),
        other => panic!("expected a refusal mentioning {what:?}, got {other:?}"),
    }
}

#[test]
fn an_unsealed_segment_is_refused_before_mapping_even_if_truncated_later() -> TestResult {
    let (conn, mut peer) = victim(64 << 20)?;
    let fd = memfd("unsealed", 4 << 20, SealFlags::empty())?;
    let r = ShmRef {
        segment: 1,
        segment_len: 4 << 20,
        len: 1 << 20,
    };
    send_ref(&peer, r, Some(&fd))?;
    // The sender could truncate it now: the receiver must never have mapped it.
    rustix::fs::ftruncate(&fd, 0)?;
    refused(conn.recv_bytes_timeout(WAIT), "sealed");
    assert_eq!(mappings("unsealed"), 0);
    still_usable(&conn, &mut peer)?;
    // Sealed only against growing: shrinking stays possible, so refused too.
    let fd = memfd("unsealed", 4 << 20, SealFlags::GROW)?;
    send_ref(&peer, r, Some(&fd))?;
    refused(conn.recv_bytes_timeout(WAIT), "sealed");
    still_usable(&conn, &mut peer)?;
    Ok(())
}

#[test]
fn a_sealed_segment_cannot_be_truncated_under_the_reader() -> TestResult {
    let (conn, mut peer) = victim(64 << 20)?;
    let fd = memfd("sealed", 4 << 20, SealFlags::SHRINK | SealFlags::GROW)?;
    rustix::io::pwrite(&fd, &[7u8; 1000], 4096)?;
    let r = ShmRef {
        segment: 2,
        segment_len: 4 << 20,
        len: 1000,
    };
    send_ref(&peer, r, Some(&fd))?;
    assert!(rustix::fs::ftruncate(&fd, 0).is_err(), "the seal holds");
    assert_eq!(conn.recv_bytes_timeout(WAIT)?, vec![7u8; 1000]);
    // Reused without the descriptor: the receiver kept it mapped.
    send_ref(&peer, r, None)?;
    assert_eq!(conn.recv_bytes_timeout(WAIT)?, vec![7u8; 1000]);
    still_usable(&conn, &mut peer)?;
    Ok(())
}

#[test]
fn segments_over_the_limit_are_refused_before_mapping() -> TestResult {
    let (conn, mut peer) = victim(1 << 20)?;
    // A sparse 1 GiB memfd, truthfully announced: over what a 1 MiB limit allows.
    let fd = memfd("overlimit", 1 << 30, SealFlags::SHRINK | SealFlags::GROW)?;
    let r = ShmRef {
        segment: 3,
        segment_len: 1 << 30,
        len: 100,
    };
    send_ref(&peer, r, Some(&fd))?;
    refused(conn.recv_bytes_timeout(WAIT), "exceeds the limit");
    assert_eq!(mappings("overlimit"), 0);
    still_usable(&conn, &mut peer)?;
    // A segment of another size than announced.
    let fd = memfd("overlimit", 4 << 20, SealFlags::SHRINK | SealFlags::GROW)?;
    send_ref(
        &peer,
        ShmRef {
            segment: 4,
            segment_len: 2 << 20,
            len: 100,
        },
        Some(&fd),
    )?;
    refused(conn.recv_bytes_timeout(WAIT), "the frame says");
    assert_eq!(mappings("overlimit"), 0);
    let fd = memfd("overlimit", 2 << 20, SealFlags::SHRINK | SealFlags::GROW)?;
    // A payload longer than its segment.
    send_ref(
        &peer,
        ShmRef {
            segment: 5,
            segment_len: 2 << 20,
            len: 2 << 20,
        },
        Some(&fd),
    )?;
    refused(conn.recv_bytes_timeout(WAIT), "do not fit");
    // A segment never handed over.
    send_ref(
        &peer,
        ShmRef {
            segment: 6,
            segment_len: 2 << 20,
            len: 10,
        },
        None,
    )?;
    refused(conn.recv_bytes_timeout(WAIT), "unknown segment");
    // Not a memory file at all (a socket).
    let (s, _keep) = UnixStream::pair()?;
    send_ref(
        &peer,
        ShmRef {
            segment: 7,
            segment_len: 2 << 20,
            len: 10,
        },
        Some(&OwnedFd::from(s)),
    )?;
    refused(conn.recv_bytes_timeout(WAIT), "sealed");
    still_usable(&conn, &mut peer)?;
    // A payload over the frame limit in a segment within it: `TooLarge`, as a socket
    // frame would be.
    let fd = memfd("overlimit", 2 << 20, SealFlags::SHRINK | SealFlags::GROW)?;
    send_ref(
        &peer,
        ShmRef {
            segment: 8,
            segment_len: 2 << 20,
            len: (1 << 20) + 1,
        },
        Some(&fd),
    )?;
    assert!(matches!(
        conn.recv_bytes_timeout(WAIT),
        Err(RecvError::TooLarge { .. })
    ));
    Ok(())
}

#[test]
fn typed_receives_refuse_hostile_segments_too() -> TestResult {
    let (conn, mut peer) = victim(64 << 20)?;
    let fd = memfd("typedhostile", 2 << 20, SealFlags::empty())?;
    send_ref(
        &peer,
        ShmRef {
            segment: 9,
            segment_len: 2 << 20,
            len: 10,
        },
        Some(&fd),
    )?;
    assert!(matches!(
        conn.recv_timeout::<Bytes>(WAIT),
        Err(RecvError::Shm(_))
    ));
    still_usable(&conn, &mut peer)?;
    // A value whose segment travels inside it is not confused with a frame's segment.
    let (a, b) = shm_pair(1)?;
    let seg = SharedSegment::new(4096)?;
    a.send(&(seg, PassFd::from(memfd("typed", 10, SealFlags::empty())?)))?;
    let (_s, _f): (SharedSegment, PassFd) = b.recv_timeout(WAIT)?;
    Ok(())
}

/// Several threads sending on one end, large frames through segments and small ones
/// through the socket, typed and raw: every frame arrives whole (KI-21 with shared
/// memory on).
#[test]
fn threads_sharing_an_end_never_interleave_frames() -> TestResult {
    let (a, b) = shm_pair(256 << 10)?;
    let a = std::sync::Arc::new(a);
    let senders: Vec<_> = (0..4u8)
        .map(|t| {
            let a = a.clone();
            std::thread::spawn(move || -> Result<(), SendError> {
                for i in 0..30u32 {
                    // Over the threshold (a segment), under it but large (the
                    // socket, written in several pieces), small.
                    let n = match i % 4 {
                        0 | 2 => 300 << 10,
                        1 => 200 << 10,
                        _ => 1000 + i as usize,
                    };
                    let tag = t.wrapping_mul(31).wrapping_add(i as u8);
                    if i % 3 == 0 {
                        a.send(&(t, Bytes::from(vec![tag; n])))?;
                    } else {
                        let mut frame = vec![tag; n];
                        frame[0] = 0xff; // raw frames start with 0xff, typed ones with t < 4
                        frame[1] = t;
                        a.send_bytes(&frame)?;
                    }
                }
                Ok(())
            })
        })
        .collect();
    let mut seen = [0u32; 4];
    for _ in 0..4 * 30 {
        let f = b.recv_bytes_timeout(WAIT)?;
        if f[0] == 0xff {
            let t = usize::from(f[1]);
            assert!(
                f[2..].iter().all(|&x| x == f[2]),
                "a raw frame of thread {t} is mixed"
            );
            seen[t] += 1;
        } else {
            let (t, bytes): (u8, Bytes) = multiproc_ipc::decode(&f, Vec::new())?;
            assert!(
                bytes.iter().all(|&x| x == bytes[0]),
                "a typed frame of thread {t} is mixed"
            );
            seen[usize::from(t)] += 1;
        }
    }
    assert_eq!(seen, [30; 4]);
    for s in senders {
        s.join().expect("sender thread")?;
    }
    Ok(())
}

// ------------------------------------------------------- in-place receives (#15)

#[test]
fn an_in_place_receive_holds_its_segment_until_dropped_then_it_is_reused() -> TestResult {
    let (a, b) = shm_pair(1 << 20)?;
    let msg = |i: u8| vec![i; 3 << 20];
    a.send_bytes_timeout(&msg(1), WAIT)?;
    a.send_bytes_timeout(&msg(2), WAIT)?;
    let one = b.recv_bytes_shared()?;
    let two = b.recv_bytes_shared()?;
    assert!(one.is_in_segment() && two.is_in_segment());
    assert!(one.iter().all(|&x| x == 1) && two.iter().all(|&x| x == 2));
    // Both segments are lent out as views: the sender may not write either, so a third
    // large send waits (here until its deadline, nothing sent).
    assert!(matches!(
        a.send_bytes_timeout(&msg(3), Duration::from_millis(50)),
        Err(SendError::Timeout)
    ));
    assert!(one.iter().all(|&x| x == 1) && two.iter().all(|&x| x == 2));
    let first_at = one.as_ptr();
    drop(one); // hands its segment back
    a.send_bytes_timeout(&msg(3), WAIT)?;
    let three = b.recv_bytes_shared()?;
    assert!(three.iter().all(|&x| x == 3) && two.iter().all(|&x| x == 2));
    assert_eq!(
        three.as_ptr(),
        first_at,
        "the same segment, still mapped: reused, not made again"
    );
    drop((two, three));
    // Below the threshold: over the socket, owned; `into_vec` of both kinds.
    a.send_bytes(b"small")?;
    let small = b.recv_bytes_shared()?;
    assert!(!small.is_in_segment());
    assert_eq!(small.into_vec(), b"small");
    a.send_bytes(&msg(4))?;
    assert_eq!(b.recv_bytes_shared()?.into_vec(), msg(4));
    // And the copying receives go on working beside it.
    a.send_bytes(&msg(5))?;
    assert_eq!(b.recv_bytes_timeout(WAIT)?, msg(5));
    Ok(())
}

/// The sender writes one segment while the receiver reads the other in place: a view
/// kept while the next message arrives must never change (it would if the sender
/// reused a segment that is lent out).
#[test]
fn a_view_never_changes_while_the_sender_writes_the_next_message() -> TestResult {
    let (a, b) = shm_pair(64 << 10)?;
    let t = std::thread::spawn(move || -> Result<(), SendError> {
        for i in 0..300u32 {
            a.send_bytes(&vec![i as u8; (256 << 10) + (i as usize % 7) * 4096])?;
        }
        Ok(())
    });
    let mut held = b.recv_bytes_shared()?;
    for i in 1..300u32 {
        let next = b.recv_bytes_shared()?;
        let want = (i - 1) as u8;
        assert!(held.iter().all(|&x| x == want), "view {} changed", i - 1);
        assert!(next.iter().all(|&x| x == i as u8), "message {i}");
        held = next;
    }
    drop(held);
    t.join().expect("sender thread")?;
    Ok(())
}

#[test]
fn in_place_receives_refuse_hostile_segments_and_survive_truncation_attempts() -> TestResult {
    let (conn, mut peer) = victim(4 << 20)?;
    // Unsealed: refused before mapping, whatever the peer does next.
    let fd = memfd("viewhostile", 2 << 20, SealFlags::empty())?;
    let r = ShmRef {
        segment: 20,
        segment_len: 2 << 20,
        len: 1000,
    };
    send_ref(&peer, r, Some(&fd))?;
    rustix::fs::ftruncate(&fd, 0)?;
    match conn.recv_bytes_shared() {
        Err(RecvError::Shm(e)) => assert!(e.to_string().contains("sealed"), "{e}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(mappings("viewhostile"), 0);
    still_usable(&conn, &mut peer)?;
    // Over the limit: refused before mapping.
    let big = memfd("viewhostile", 1 << 30, SealFlags::SHRINK | SealFlags::GROW)?;
    send_ref(
        &peer,
        ShmRef {
            segment: 21,
            segment_len: 1 << 30,
            len: 10,
        },
        Some(&big),
    )?;
    assert!(matches!(conn.recv_bytes_shared(), Err(RecvError::Shm(_))));
    assert_eq!(mappings("viewhostile"), 0);
    still_usable(&conn, &mut peer)?;
    // Sealed: the view reads it, and the peer cannot shrink it under the view (the
    // read after the attempt would be a SIGBUS otherwise).
    let fd = memfd("viewsealed", 2 << 20, SealFlags::SHRINK | SealFlags::GROW)?;
    rustix::io::pwrite(&fd, &[7u8; 1000], 4096)?;
    send_ref(
        &peer,
        ShmRef {
            segment: 22,
            segment_len: 2 << 20,
            len: 1000,
        },
        Some(&fd),
    )?;
    let view = conn.recv_bytes_shared()?;
    assert!(view.is_in_segment());
    assert!(rustix::fs::ftruncate(&fd, 0).is_err(), "the seal holds");
    assert_eq!(&*view, &[7u8; 1000][..]);
    drop(view);
    still_usable(&conn, &mut peer)?;
    Ok(())
}

#[test]
fn a_sender_killed_with_its_message_in_a_segment_leaves_the_view_readable() -> TestResult {
    in_own_process(
        "a_sender_killed_with_its_message_in_a_segment_leaves_the_view_readable",
        || {
            let fds_before = open_fds();
            {
                let (mine, theirs) = Pipe::duplex()?;
                mine.enable_shm(1 << 20)?;
                let mut child = this_test_binary("shm::shm_child_entry")?
                    .env(CHILD_ENV, "1")
                    .stdin(Stdio::from(theirs.into_fd()))
                    .stdout(Stdio::null())
                    .spawn()?;
                let ready = mine.poll(Some(WAIT));
                let view = match ready {
                    Ok(true) => Some(mine.recv_bytes_shared()),
                    _ => None,
                };
                let _ = child.kill(); // SIGKILL, with the view alive
                let status = child.wait()?;
                assert!(!status.success());
                let view = view.ok_or("the child sent nothing")??;
                assert!(view.is_in_segment());
                assert!(view.len() == 8 << 20 && view.iter().all(|&x| x == 0xab));
                drop(view); // hands back a segment nobody waits for: harmless
                assert!(matches!(mine.recv_bytes_shared(), Err(RecvError::Eof)));
            }
            assert_eq!(mappings("multiproc-shm"), 0);
            assert_eq!(open_fds(), fds_before);
            Ok(())
        },
    )
}

#[test]
fn ten_thousand_in_place_receives_leave_no_descriptor_or_mapping() -> TestResult {
    in_own_process(
        "ten_thousand_in_place_receives_leave_no_descriptor_or_mapping",
        || {
            let shm_before = dev_shm();
            let fds_before = open_fds();
            {
                let (a, b) = shm_pair(64 << 10)?;
                let t = std::thread::spawn(move || -> Result<(), SendError> {
                    let msg = vec![9u8; 64 << 10];
                    for i in 0..10_000u32 {
                        // Sizes vary, so segments are also replaced now and then.
                        if i % 1000 == 999 {
                            a.send_bytes(&vec![9u8; 3 << 20])?;
                        } else {
                            a.send_bytes(&msg)?;
                        }
                    }
                    Ok(())
                });
                let mut sum = 0u64;
                let mut in_segment = 0u32;
                for _ in 0..10_000u32 {
                    let v = b.recv_bytes_shared()?;
                    assert!(v.len() == 64 << 10 || v.len() == 3 << 20);
                    in_segment += u32::from(v.is_in_segment());
                    sum += v.iter().map(|&x| u64::from(x)).sum::<u64>();
                }
                t.join().expect("sender thread")?;
                assert_eq!(in_segment, 10_000);
                assert_eq!(sum, 9 * (9_990 * (64 << 10) + 10 * (3 << 20)));
                assert!(
                    mappings("multiproc-shm") <= 2 + 4,
                    "sender's two, receiver's cache of four"
                );
            }
            assert_eq!(mappings("multiproc-shm"), 0);
            assert_eq!(open_fds(), fds_before);
            assert_eq!(new_in_dev_shm(&shm_before), Vec::<String>::new());
            Ok(())
        },
    )
}
