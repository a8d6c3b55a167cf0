//! Bytes on the wire: truncated and oversized frames, values of the wrong type, wrong
//! authkeys, peers that speak garbage or nothing, a writer killed mid-frame.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use multiproc::ipc::{ClientError, RecvError};
use multiproc::{Address, Client, Connection, Listener, Pipe, Process};

use crate::{BOUND, METHODS, R, WRITE_CALLS, blocked_in, reaped, within};

fn raw_pair() -> std::io::Result<(UnixStream, Connection)> {
    let (a, b) = UnixStream::pair()?;
    Ok((a, Connection::from_fd(OwnedFd::from(b))))
}

/// A frame cut short by the peer's close: `Truncated`, with both lengths.
#[test]
fn truncated_frame() -> R {
    let (mut w, c) = raw_pair()?;
    w.write_all(&100u32.to_be_bytes())?;
    w.write_all(&[1; 10])?;
    drop(w);
    let e = c.recv_bytes_timeout(BOUND);
    assert!(
        matches!(
            e,
            Err(RecvError::Truncated {
                expected: 100,
                got: 10
            })
        ),
        "{e:?}"
    );
    // A header cut short too.
    let (mut w, c) = raw_pair()?;
    w.write_all(&[0, 0])?;
    drop(w);
    let e = c.recv::<u8>();
    assert!(
        matches!(e, Err(RecvError::Truncated { .. } | RecvError::Eof)),
        "{e:?}"
    );
    Ok(())
}

/// Announced lengths over the limit, with the short and the long header, and a
/// negative short length: refused before allocating.
#[test]
fn oversized_and_bogus_headers() -> R {
    for header in [
        0x7fff_ffffu32.to_be_bytes().to_vec(),
        [&[0xff; 4][..], &u64::MAX.to_be_bytes()[..]].concat(),
        [&[0xff; 4][..], &(1u64 << 50).to_be_bytes()[..]].concat(),
    ] {
        let (mut w, c) = raw_pair()?;
        w.write_all(&header)?;
        let e = c.recv_bytes_timeout(BOUND);
        assert!(
            matches!(e, Err(RecvError::TooLarge { .. })),
            "{header:?}: {e:?}"
        );
    }
    // 0x80000000 as a signed 4-byte length is negative (CPython: "bad message length").
    let (mut w, c) = raw_pair()?;
    w.write_all(&0x8000_0000u32.to_be_bytes())?;
    w.write_all(&[0; 16])?;
    let e = c.recv_bytes_timeout(BOUND);
    assert!(e.is_err(), "{e:?}");
    // A lowered limit applies to typed receives too.
    let (a, b) = Pipe::duplex()?;
    b.set_max_frame(16);
    a.send(&vec![0u8; 100])?;
    let e = b.recv::<Vec<u8>>();
    assert!(
        matches!(e, Err(RecvError::TooLarge { limit: 16, .. })),
        "{e:?}"
    );
    Ok(())
}

/// A value received as the wrong type: `Decode`, never a huge allocation or a panic.
#[test]
fn wrong_type_on_a_connection() -> R {
    let (a, b) = Pipe::duplex()?;
    a.send(&u64::MAX)?;
    let e = b.recv::<Vec<String>>();
    assert!(matches!(e, Err(RecvError::Decode(_))), "{e:?}");
    a.send(&1u8)?;
    let e = b.recv::<(u64, u64, String)>();
    assert!(matches!(e, Err(RecvError::Decode(_))), "{e:?}");
    a.send(&"not a number".to_string())?;
    let e = b.recv::<f64>();
    assert!(e.is_err() || e.is_ok(), "no panic");
    // A length prefix claiming 2^60 elements in a small frame.
    a.send_bytes(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10])?;
    let e = b.recv::<Vec<u64>>();
    assert!(matches!(e, Err(RecvError::Decode(_))), "{e:?}");
    // Invalid UTF-8 as a String.
    a.send_bytes(&[2, 0xff, 0xfe])?;
    let e = b.recv::<String>();
    assert!(matches!(e, Err(RecvError::Decode(_))), "{e:?}");
    // The stream is still in step after the errors.
    a.send(&5u32)?;
    assert_eq!(b.recv::<u32>()?, 5);
    Ok(())
}

/// The other side of having no type tags on the wire (what the guide and the facade
/// docs say): a value whose bytes also read as the receiver's type decodes quietly.
/// postcard writes `-1i32` (zigzag) as the byte it writes for `1u32`.
#[test]
fn wrong_type_can_decode_without_error() -> R {
    let (a, b) = Pipe::duplex()?;
    a.send(&-1i32)?;
    assert_eq!(b.recv::<u32>()?, 1);
    a.send(&(7u8, 8u8))?;
    assert_eq!(b.recv::<[u8; 2]>()?, [7, 8]);
    Ok(())
}

fn send_big(c: Connection, n: usize) {
    let _ = c.send_bytes(&vec![3u8; n]);
}

/// A child SIGKILLed in the middle of a large frame: the reader gets `Truncated`
/// (once every writer's copy is gone), not a hang and not a short frame.
#[test]
fn writer_killed_mid_frame() -> R {
    for m in METHODS {
        let (r, w) = Pipe::duplex()?;
        let p = Process::new(send_big, (w, 64 << 20))
            .start_method(m)
            .start()?;
        let pid = p.pid();
        let mid = blocked_in(pid, &WRITE_CALLS);
        p.kill()?;
        p.join()?;
        let e = within(BOUND, "recv after the writer died", move || {
            r.recv_bytes_timeout(BOUND)
        })?;
        assert!(
            matches!(e, Err(RecvError::Truncated { expected, got }) if expected == 64 << 20 && got < expected),
            "{m} (blocked: {mid}): {e:?}"
        );
        assert!(reaped(pid), "{m}");
    }
    Ok(())
}

/// A client without a key against a keyed listener cannot know one is expected
/// (CPython's protocol: the server speaks first); its first receive must not turn
/// the server's challenge into a value.
fn server_outs(
    server: std::thread::JoinHandle<Vec<String>>,
    addr: &Address,
) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let c = Client::connect_timeout(addr, None, BOUND)?;
    let first = c.recv_timeout::<u32>(BOUND);
    drop(c);
    let outs = server.join().map_err(|_| "server thread")?;
    assert!(first.is_err(), "challenge decoded as a value: {first:?}");
    Ok(outs)
}

/// Wrong authkeys on either side, and a key on one side only: typed errors.
#[test]
fn wrong_authkeys() -> R {
    let addr =
        Address::Abstract(format!("multiproc-faults-auth-{}", std::process::id()).into_bytes());
    let l = Listener::bind(addr.clone(), Some(b"right"))?;
    let server = std::thread::spawn(move || {
        let mut out = Vec::new();
        for _ in 0..2 {
            out.push(format!("{:?}", l.accept_timeout(BOUND)));
        }
        out
    });
    let e = Client::connect_timeout(&addr, Some(b"wrong"), BOUND);
    assert!(matches!(e, Err(ClientError::Handshake(_))), "{e:?}");
    let outs = server_outs(server, &addr)?;
    assert!(outs.iter().all(|o| o.starts_with("Err(")), "{outs:?}");
    Ok(())
}

/// A TCP peer that answers the handshake with garbage, or never answers at all:
/// the client fails with a typed error within its timeout.
#[test]
fn client_to_a_peer_that_is_not_a_listener() -> R {
    let garbage = TcpListener::bind("127.0.0.1:0")?;
    let gaddr = garbage.local_addr()?;
    let silent = TcpListener::bind("127.0.0.1:0")?;
    let saddr = silent.local_addr()?;
    let g = std::thread::spawn(move || {
        for _ in 0..2 {
            if let Ok((mut s, _)) = garbage.accept() {
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\n\r\n\xff\xff\xff\xffgarbage garbage");
                let mut sink = [0u8; 256];
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let _ = s.read(&mut sink);
            }
        }
    });
    let e = within(BOUND, "client against garbage", move || {
        Client::connect_timeout(Address::Tcp(gaddr), Some(b"key"), Duration::from_secs(5))
            .map(|_| ())
    })?;
    assert!(e.is_err(), "{e:?}");
    let e = within(BOUND, "client against a silent peer", move || {
        Client::connect_timeout(
            Address::Tcp(saddr),
            Some(b"key"),
            Duration::from_millis(500),
        )
        .map(|_| ())
    })?;
    assert!(
        matches!(e, Err(ClientError::Timeout | ClientError::Handshake(_))),
        "{e:?}"
    );
    // The listener socket accepted (backlog) but nobody ever read: still an error.
    drop(silent);
    let _ = std::net::TcpStream::connect(gaddr);
    let _ = g.join();
    Ok(())
}

/// A `Queue<String>` handle received as a `Queue<u64>` (the API allows it: a handle
/// is data on a `Connection`): items of the wrong type are `GetError::Decode`, and the
/// queue stays usable.
#[test]
fn queue_handle_received_as_another_type() -> R {
    use multiproc::Queue;
    use multiproc::queue::GetError;
    let q: Queue<String> = Queue::new()?;
    let (a, b) = Pipe::duplex()?;
    a.send(&q)?;
    let other: Queue<u64> = b.recv_timeout(BOUND)?;
    other.put(u64::MAX).map_err(|e| e.to_string())?;
    let r = q.get_timeout(BOUND);
    assert!(matches!(r, Err(GetError::Decode(_))), "{r:?}");
    q.put("ab".into()).map_err(|e| e.to_string())?;
    let r = other.get_timeout(BOUND);
    assert!(matches!(r, Err(GetError::Decode(_))), "{r:?}");
    q.put("fine".into()).map_err(|e| e.to_string())?;
    assert_eq!(q.get_timeout(BOUND)?, "fine");
    Ok(())
}

fn send_to_a_closed_peer(c: Connection) -> String {
    let big = vec![1u8; 1 << 20];
    format!("{:?}", c.send_bytes(&big))
}

/// Sending to a peer that is gone is `SendError::Disconnected`, not a SIGPIPE death,
/// in the parent and in children of every start method (a Spawn child runs its
/// target before `main`, where std would have ignored SIGPIPE).
#[test]
fn send_to_a_closed_peer_is_an_error_not_sigpipe() -> R {
    use multiproc::ipc::SendError;
    let (a, b) = Pipe::duplex()?;
    drop(b);
    assert!(matches!(a.send(&1u8), Err(SendError::Disconnected)));
    for m in METHODS {
        let (a, b) = Pipe::duplex()?;
        drop(b);
        let p = Process::new(send_to_a_closed_peer, (a,))
            .start_method(m)
            .start()?;
        let r = p.join_value();
        match r {
            Ok(s) => assert!(s.contains("Disconnected"), "{m}: {s}"),
            Err(e) => panic!("{m}: {e:?}"),
        }
    }
    Ok(())
}

/// A queue item whose `Serialize` fails: `PutError::Encode` in the caller, the item
/// handed back, the queue untouched.
#[test]
fn queue_item_that_cannot_be_encoded() -> R {
    use multiproc::Queue;
    use multiproc::queue::PutError;
    let q: Queue<crate::process::Unserializable> = Queue::new()?;
    let r = q.put(crate::process::Unserializable);
    assert!(matches!(r, Err(PutError::Encode { .. })), "{r:?}");
    assert_eq!(q.qsize(), 0);
    Ok(())
}
