//! Large messages through shared memory (`Connection::enable_shm`) with a real child
//! under every start method: every bulk fast-path type round-trips, and a child killed
//! with its message in a segment leaves it readable, then end-of-file, and nothing in
//! `/dev/shm`; the same for in-place receives (`Connection::recv_bytes_shared`).

use multiproc::ipc::bulk::{Bytes, PodVec};
use multiproc::ipc::{RecvError, SendError};
use multiproc::{Connection, Pipe, Process};

use crate::{BOUND, METHODS, R, reaped};

const THRESHOLD: usize = 64 << 10;

type Msg = (u32, Bytes, PodVec<f64>, String, Vec<u8>);

fn msg(i: u32, n: usize) -> Msg {
    (
        i,
        Bytes::from(vec![i as u8; n]),
        PodVec::from(vec![f64::from(i) + 0.5; n / 8]),
        "s".repeat(n / 2),
        vec![i as u8; n % 1000],
    )
}

/// The child: enables shared memory and echoes each message, its number plus one,
/// until `None`; returns how many it echoed.
fn echo(c: Connection) -> Result<u32, String> {
    c.enable_shm(THRESHOLD).map_err(|e| e.to_string())?;
    let mut n = 0;
    while let Some(mut m) = c
        .recv_timeout::<Option<Msg>>(BOUND)
        .map_err(|e| e.to_string())?
    {
        m.0 += 1;
        c.send(&m).map_err(|e: SendError| e.to_string())?;
        c.send_bytes(&m.1).map_err(|e| e.to_string())?;
        n += 1;
    }
    Ok(n)
}

/// Entries of `/dev/shm` that were not in `before`, leaving out the blocks the
/// sandbox test of this binary creates and removes while this one runs (its names
/// start `mp-faults-`): entries may come and go beside us, but none may appear from
/// here (segments are memfds and never have a name there).
fn new_in_dev_shm(before: &std::collections::BTreeSet<String>) -> Vec<String> {
    crate::dev_shm()
        .into_iter()
        .filter(|n| !before.contains(n) && !n.starts_with("mp-faults-"))
        .collect()
}

#[test]
fn bulk_types_round_trip_through_shared_memory_under_every_start_method() -> R {
    for m in METHODS {
        let (a, b) = Pipe::duplex()?;
        a.enable_shm(THRESHOLD)?;
        let p = Process::new(echo, (b,)).start_method(m).start()?;
        let pid = p.pid();
        let sizes = [0usize, 100, THRESHOLD, 1 << 20, 5 << 20, 300];
        for (i, &n) in sizes.iter().enumerate() {
            let sent = msg(i as u32, n);
            a.send(&Some(&sent))?;
            let mut want = sent.clone();
            want.0 += 1;
            assert_eq!(a.recv_timeout::<Msg>(BOUND)?, want, "{m}, {n} bytes");
            assert_eq!(a.recv_bytes_timeout(BOUND)?, *sent.1, "{m}, {n} bytes raw");
        }
        // The large ones did go through segments: ours, and the child's mapped here.
        let maps = std::fs::read_to_string("/proc/self/maps")?;
        assert!(
            maps.contains("/memfd:multiproc-shm"),
            "{m}: no segment mapped"
        );
        a.send(&None::<Msg>)?;
        assert_eq!(p.join_value()??, sizes.len() as u32, "{m}");
        assert!(reaped(pid), "{m}");
    }
    Ok(())
}

/// The child: sends one 8 MiB message through a segment, then waits to be killed.
fn send_then_wait(c: Connection) {
    if c.enable_shm(THRESHOLD).is_ok() && c.send_bytes(&vec![0xa5u8; 8 << 20]).is_ok() {
        let _ = c.recv_bytes_timeout(BOUND);
    }
}

#[test]
fn a_child_killed_with_its_message_in_a_segment_under_every_start_method() -> R {
    let before = crate::dev_shm();
    for m in METHODS {
        let (a, b) = Pipe::duplex()?;
        a.enable_shm(THRESHOLD)?;
        let p = Process::new(send_then_wait, (b,)).start_method(m).start()?;
        let pid = p.pid();
        let ready = a.poll(Some(BOUND));
        p.kill()?;
        let _ = p.join_timeout(BOUND)?;
        assert!(reaped(pid), "{m}");
        assert!(ready?, "{m}: the child sent nothing");
        let got = a.recv_bytes_timeout(BOUND)?;
        assert!(
            got.len() == 8 << 20 && got.iter().all(|&x| x == 0xa5),
            "{m}"
        );
        assert!(
            matches!(a.recv_bytes_timeout(BOUND), Err(RecvError::Eof)),
            "{m}"
        );
    }
    assert_eq!(new_in_dev_shm(&before), Vec::<String>::new());
    Ok(())
}

/// The child: sends `count` messages of `n` bytes (byte `i` in message `i`) through
/// segments, then waits for the parent's word to end.
fn send_numbered(c: Connection, count: u32, n: usize) -> Result<(), String> {
    c.enable_shm(THRESHOLD).map_err(|e| e.to_string())?;
    for i in 0..count {
        c.send_bytes(&vec![i as u8; n]).map_err(|e| e.to_string())?;
    }
    c.recv_bytes_timeout(BOUND).map_err(|e| e.to_string())?;
    Ok(())
}

#[test]
fn in_place_receives_from_a_child_under_every_start_method() -> R {
    for m in METHODS {
        let (a, b) = Pipe::duplex()?;
        a.enable_shm(THRESHOLD)?;
        let count = 40u32;
        let p = Process::new(send_numbered, (b, count, 1 << 20))
            .start_method(m)
            .start()?;
        let pid = p.pid();
        // One view kept while the next arrives: the child writes the other segment
        // meanwhile, and never the one lent out.
        let mut held = a.recv_bytes_shared()?;
        assert!(held.is_in_segment(), "{m}");
        for i in 1..count {
            let next = a.recv_bytes_shared()?;
            assert!(
                held.iter().all(|&x| x == (i - 1) as u8),
                "{m}: view changed"
            );
            assert!(
                next.len() == 1 << 20 && next.iter().all(|&x| x == i as u8),
                "{m}"
            );
            held = next;
        }
        drop(held);
        a.send_bytes(b"done")?;
        p.join_value()??;
        assert!(reaped(pid), "{m}");
    }
    Ok(())
}

#[test]
fn a_child_killed_while_its_message_is_viewed_under_every_start_method() -> R {
    let before = crate::dev_shm();
    for m in METHODS {
        let (a, b) = Pipe::duplex()?;
        a.enable_shm(THRESHOLD)?;
        let p = Process::new(send_then_wait, (b,)).start_method(m).start()?;
        let pid = p.pid();
        let view = if a.poll(Some(BOUND)).unwrap_or(false) {
            Some(a.recv_bytes_shared())
        } else {
            None
        };
        p.kill()?;
        let _ = p.join_timeout(BOUND)?;
        assert!(reaped(pid), "{m}");
        let view = view.ok_or("the child sent nothing")??;
        assert!(
            view.is_in_segment() && view.len() == 8 << 20 && view.iter().all(|&x| x == 0xa5),
            "{m}"
        );
        drop(view);
        assert!(matches!(a.recv_bytes_shared(), Err(RecvError::Eof)), "{m}");
    }
    assert_eq!(new_in_dev_shm(&before), Vec::<String>::new());
    Ok(())
}
