//! Peers that misbehave: huge length headers, half frames, garbage during the handshake,
//! silence during the handshake. Each gets an error and the listener keeps serving.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use multiproc_ipc::auth::AuthError;
use multiproc_ipc::{Client, Listener, ListenerError, Pipe, RecvError};

use crate::{TempDir, TestResult, raw_pair};

#[test]
fn four_gib_length_header_is_refused_before_allocating() -> TestResult {
    let (conn, mut raw) = raw_pair(None)?;
    // The long form: ff ff ff ff then 2^32 as u64.
    raw.write_all(&[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 0, 0, 0, 0])?;
    match conn.recv_bytes_timeout(Duration::from_secs(30)) {
        Err(RecvError::TooLarge { announced, .. }) => assert_eq!(announced, 1 << 32),
        other => return Err(format!("expected TooLarge, got {other:?}").into()),
    }
    // The stream is mid-frame now: further receives fail instead of reading garbage.
    assert!(matches!(conn.recv_bytes(), Err(RecvError::Closed)));
    // The short form just below 2 GiB, above the default limit, too.
    let (conn, mut raw) = raw_pair(None)?;
    raw.write_all(&[0x7f, 0xff, 0xff, 0xff])?;
    assert!(matches!(
        conn.recv::<Vec<u8>>(),
        Err(RecvError::TooLarge { .. })
    ));
    // A negative length other than -1.
    let (conn, mut raw) = raw_pair(None)?;
    raw.write_all(&[0x80, 0, 0, 1])?;
    assert!(matches!(conn.recv_bytes(), Err(RecvError::Io(_))));
    Ok(())
}

#[test]
fn half_a_frame_then_close_is_truncated() -> TestResult {
    let (conn, mut raw) = raw_pair(None)?;
    raw.write_all(&[0, 0, 0, 100])?;
    raw.write_all(&[1u8; 40])?;
    drop(raw);
    match conn.recv_bytes_timeout(Duration::from_secs(30)) {
        Err(RecvError::Truncated { expected, got }) => assert_eq!((expected, got), (100, 40)),
        other => return Err(format!("expected Truncated, got {other:?}").into()),
    }
    // Half a header.
    let (conn, mut raw) = raw_pair(None)?;
    raw.write_all(&[0, 0])?;
    drop(raw);
    assert!(matches!(
        conn.recv_bytes(),
        Err(RecvError::Truncated { .. })
    ));
    Ok(())
}

#[test]
fn a_timeout_mid_frame_does_not_hand_out_garbage() -> TestResult {
    // The frame cut by the deadline is resumed whole by the next receive, never read
    // from its middle.
    let (conn, mut raw) = raw_pair(None)?;
    raw.write_all(&[0, 0, 0, 10, 1, 2])?;
    assert!(matches!(
        conn.recv_bytes_timeout(Duration::from_millis(50)),
        Err(RecvError::Timeout)
    ));
    raw.write_all(&[3; 8])?;
    assert_eq!(conn.recv_bytes()?, [1, 2, 3, 3, 3, 3, 3, 3, 3, 3]);
    Ok(())
}

/// Connects a raw socket to a listener address.
fn raw_connect(addr: &multiproc_ipc::Address) -> std::io::Result<UnixStream> {
    match addr {
        multiproc_ipc::Address::Unix(p) => UnixStream::connect(p),
        _ => Err(std::io::Error::other("unix only")),
    }
}

#[test]
fn garbage_and_oversized_handshakes_fail_and_the_listener_keeps_serving() -> TestResult {
    let dir = TempDir::new("garbage")?;
    let addr = dir.sock("s");
    let listener = Listener::builder(addr.clone())
        .authkey(b"key")
        .handshake_timeout(Duration::from_secs(20))
        .bind()?;
    // Three bad peers: garbage bytes, a 4 GiB header, a wrong key; then a good client.
    let bad_peer = |bytes: &'static [u8]| {
        let addr = addr.clone();
        std::thread::spawn(move || -> TestResult {
            let mut s = raw_connect(&addr)?;
            s.write_all(bytes)?;
            // The server always speaks first: the challenge arrives whatever we sent.
            s.set_read_timeout(Some(Duration::from_secs(30)))?;
            let mut challenge = [0u8; 4 + 59];
            s.read_exact(&mut challenge)?;
            assert_eq!(&challenge[4..15], b"#CHALLENGE#");
            // Then the server closes: reading ends (EOF, or a reset since we left
            // unread bytes behind), it does not hang.
            let mut sink = Vec::new();
            match s.read_to_end(&mut sink) {
                Ok(_) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => Ok(()),
                Err(e) => Err(e.into()),
            }
        })
    };
    let garbage = bad_peer(b"GET / HTTP/1.1\r\n\r\n");
    let huge = bad_peer(&[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 0, 0, 0, 0]);
    let a2 = addr.clone();
    let wrong = std::thread::spawn(move || {
        Client::connect_timeout(&a2, Some(b"nope"), Duration::from_secs(20))
    });
    let a3 = addr.clone();
    let good = std::thread::spawn(move || -> TestResult {
        let c = Client::connect_timeout(&a3, Some(b"key"), Duration::from_secs(20))?;
        c.send(&"good")?;
        assert_eq!(c.recv_timeout::<u32>(Duration::from_secs(20))?, 7);
        Ok(())
    });
    let mut failures = 0;
    let mut served = 0;
    while served == 0 || failures < 3 {
        match listener.accept_timeout(Duration::from_secs(30)) {
            Ok(c) => {
                assert_eq!(c.recv_timeout::<String>(Duration::from_secs(20))?, "good");
                c.send(&7u32)?;
                served += 1;
            }
            Err(e @ ListenerError::Handshake { .. }) => {
                assert!(e.is_per_connection());
                failures += 1;
            }
            Err(e) => return Err(e.into()),
        }
    }
    assert_eq!((served, failures), (1, 3));
    good.join().map_err(|_| "good client panicked")??;
    match wrong.join().map_err(|_| "wrong client panicked")? {
        Err(multiproc_ipc::ClientError::Handshake(AuthError::Rejected)) => {}
        other => return Err(format!("wrong key should be rejected, got {other:?}").into()),
    }
    garbage.join().map_err(|_| "garbage peer panicked")??;
    huge.join().map_err(|_| "huge peer panicked")??;
    Ok(())
}

#[test]
fn a_silent_client_does_not_block_others_and_times_out() -> TestResult {
    let dir = TempDir::new("silent")?;
    let addr = dir.sock("s");
    let listener = Listener::builder(addr.clone())
        .authkey(b"key")
        // The good client must finish its handshake within this (it is per connection),
        // so it is generous for a loaded machine; the silent one waits it out.
        .handshake_timeout(Duration::from_secs(15))
        .bind()?;
    let silent = raw_connect(&addr)?; // connects and says nothing
    let a = addr.clone();
    let good = std::thread::spawn(move || -> TestResult {
        let c = Client::connect_timeout(&a, Some(b"key"), Duration::from_secs(20))?;
        c.send(&1u8)?;
        Ok(())
    });
    // The good client is served although the silent one connected first.
    let c = listener.accept_timeout(Duration::from_secs(30))?;
    assert_eq!(c.recv_timeout::<u8>(Duration::from_secs(20))?, 1);
    good.join().map_err(|_| "client panicked")??;
    // Then the silent one is dropped at its handshake timeout.
    match listener.accept_timeout(Duration::from_secs(30)) {
        Err(ListenerError::Handshake {
            source: AuthError::Timeout,
            ..
        }) => {}
        other => return Err(format!("expected a handshake timeout, got {other:?}").into()),
    }
    drop(silent);
    Ok(())
}

#[test]
fn handshake_state_machine_rejects_garbage_without_panicking() {
    use multiproc_ipc::auth::{Handshake, HandshakeConfig, Role};
    let cfg = HandshakeConfig::default();
    for input in [
        &b""[..],
        b"\0\0\0\x05hello",
        b"\0\0\0\x0b#CHALLENGE#",
        b"\0\0\0\x10aaaaaaaaaaaaaaaa",
        b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff",
        b"\0\0\0\x09#WELCOME#",
    ] {
        for role in [Role::Server, Role::Client] {
            let mut hs = Handshake::new(role, b"k", &cfg).expect("new");
            let mut rest = input;
            while !rest.is_empty() {
                match hs.feed(rest) {
                    Ok((n, _)) => rest = &rest[n..],
                    Err(_) => break,
                }
            }
            assert!(!hs.is_done());
        }
    }
}

#[test]
fn deliver_and_answer_challenge_halves() -> TestResult {
    // CPython: OtherTest.test_deliver_challenge_auth_failure / test_answer_challenge_auth_failure
    use multiproc_ipc::auth::{HandshakeConfig, answer_challenge, deliver_challenge};
    let cfg = HandshakeConfig::default().with_timeout(Duration::from_secs(20));
    for (dkey, akey) in [(&b"same"[..], &b"same"[..]), (b"one", b"other")] {
        let (d, a) = Pipe::duplex()?;
        let cfg2 = cfg.clone();
        let akey = akey.to_vec();
        let t = std::thread::spawn(move || answer_challenge(&a, &akey, &cfg2));
        let dr = deliver_challenge(&d, dkey, &cfg);
        let ar = t.join().map_err(|_| "answer thread panicked")?;
        if dkey == b"same" {
            dr?;
            ar?;
        } else {
            assert!(matches!(dr, Err(AuthError::WrongDigest)), "{dr:?}");
            assert!(matches!(ar, Err(AuthError::Rejected)), "{ar:?}");
        }
    }
    // A bogus response to a challenge, and a bare challenge prefix without payload.
    let (d, mut raw) = raw_pair(None)?;
    let t = std::thread::spawn(move || deliver_challenge(&d, b"abc", &HandshakeConfig::default()));
    let mut challenge = [0u8; 4 + 59];
    raw.read_exact(&mut challenge)?;
    raw.write_all(b"\0\0\0\x0fsomething bogus")?;
    assert!(matches!(
        t.join().map_err(|_| "panicked")?,
        Err(AuthError::WrongDigest)
    ));
    let (a, mut raw) = raw_pair(None)?;
    raw.write_all(b"\0\0\0\x0b#CHALLENGE#")?;
    assert!(matches!(
        answer_challenge(&a, b"abc", &HandshakeConfig::default()),
        Err(AuthError::Protocol(_))
    ));
    Ok(())
}

#[test]
fn an_end_left_mid_frame_is_not_readable_in_a_copy_sent_on() -> TestResult {
    // CPython clears `readable` after a bad message length, and a pickled connection
    // carries `readable`/`writable`. A copy of an end whose stream is mid-frame must
    // not start reading there (it would take payload bytes for a header).
    let (conn, mut raw) = raw_pair(None)?;
    // A frame over the receiver's limit, whose payload would read as a valid header.
    raw.write_all(&[0, 0, 0, 8, 0, 0, 0, 2, b'h', b'i', 0, 0])?;
    assert!(matches!(
        conn.recv_bytes_max(Some(4), Some(Duration::from_secs(30))),
        Err(RecvError::TooLarge { announced: 8, .. })
    ));
    assert!(!conn.readable());
    assert!(conn.writable());
    let (carrier, far) = Pipe::duplex()?;
    carrier.send(&conn)?;
    let copy: multiproc_ipc::Connection = far.recv_timeout(Duration::from_secs(30))?;
    assert!(!copy.readable());
    assert!(matches!(
        copy.recv_bytes_timeout(Duration::from_secs(30)),
        Err(RecvError::Closed)
    ));
    // Its sending side is intact.
    assert!(copy.writable());
    copy.send_bytes(b"still writable")?;
    let mut h = [0u8; 4];
    raw.read_exact(&mut h)?;
    let mut body = vec![0u8; u32::from_be_bytes(h) as usize];
    raw.read_exact(&mut body)?;
    assert_eq!(body, b"still writable");
    Ok(())
}
