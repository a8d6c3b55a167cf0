//! The async layer (feature `tokio`): round trips async↔async and async↔blocking, in
//! this process and across a child process (an exec'd copy of this test binary), frames
//! delivered in pieces, futures dropped at every point of large frames (counted), a
//! peer killed while a future waits, the authkey handshake with right, wrong and empty
//! keys, and CPython's `multiprocessing.connection` at the other end. Every test runs
//! on a current-thread and on a multi-thread runtime.

use std::io::Write;
use std::os::fd::AsFd;
use std::process::Stdio;
use std::time::Duration;

use multiproc_ipc::aio::{AsyncClient, AsyncConnection, AsyncListener};
use multiproc_ipc::auth::AuthError;
use multiproc_ipc::{
    Address, Client, ClientError, Connection, Listener, ListenerError, Pipe, RecvError,
};

use multiproc_test_support::aio::{Drivers, on_each_runtime};
use multiproc_test_support::{BOUND, poll_and_drop, this_test_binary};

use crate::interop::{PY_CLIENT, PY_LISTENER, line, python, spawn_py};
use crate::{TempDir, TestResult};

fn pattern(i: usize, len: usize) -> Vec<u8> {
    (0..len).map(|k| (k.wrapping_mul(31) ^ i) as u8).collect()
}

// ------------------------------------------------------------------ in process

#[test]
fn async_to_async_and_async_to_blocking_round_trips() -> TestResult {
    on_each_runtime(Drivers::All, |_| async {
        let (a, b) = Pipe::duplex()?;
        let (a, b) = (a.into_async()?, b.into_async()?);
        for i in 0..100u64 {
            a.send(&(i, format!("n{i}"))).await?;
            assert_eq!(b.recv::<(u64, String)>().await?, (i, format!("n{i}")));
            b.send_bytes(&i.to_le_bytes()).await?;
            assert_eq!(a.recv_bytes().await?, i.to_le_bytes());
        }
        // Handles travel too: a Connection inside a typed message.
        let (x, y) = Pipe::duplex()?;
        a.send(&x).await?;
        let x: Connection = b.recv().await?;
        x.send(&5u8)?;
        assert_eq!(y.recv::<u8>()?, 5);

        // Async end against a blocking end (on a thread of its own).
        let (c, d) = Pipe::duplex()?;
        let c = c.into_async()?;
        let t = std::thread::spawn(move || -> Result<(), String> {
            loop {
                match d.recv_timeout::<Option<Vec<u8>>>(BOUND) {
                    Ok(Some(v)) => d.send_bytes(&v).map_err(|e| e.to_string())?,
                    Ok(None) => return Ok(()),
                    Err(e) => return Err(e.to_string()),
                }
            }
        });
        for len in [0usize, 1, 100, 70_000, 3 << 20] {
            let v = pattern(len, len);
            c.send(&Some(v.clone())).await?;
            assert_eq!(c.recv_bytes().await?, v);
        }
        c.send(&None::<Vec<u8>>).await?;
        t.join().map_err(|_| "echo thread panicked")??;
        Ok(())
    })
}

#[test]
fn simplex_pipes_and_recv_bytes_into() -> TestResult {
    on_each_runtime(Drivers::All, |_| async {
        let (r, w) = Pipe::simplex()?;
        let (r, w) = (r.into_async()?, w.into_async()?);
        let big = pattern(9, 2 << 20);
        let (sent, got) = tokio::join!(w.send_bytes(&big), r.recv_bytes());
        sent?;
        assert_eq!(got?, big);
        w.send_bytes(b"too long for it").await?;
        w.send_bytes(b"next").await?;
        let mut buf = [0u8; 4];
        match r.recv_bytes_into(&mut buf).await {
            Err(RecvError::BufferTooSmall { message, .. }) => {
                assert_eq!(message, b"too long for it")
            }
            other => return Err(format!("{other:?}").into()),
        }
        assert_eq!(r.recv_bytes_into(&mut buf).await?, 4);
        assert_eq!(&buf, b"next");
        Ok(())
    })
}

#[test]
fn limits_and_typed_errors_hold() -> TestResult {
    on_each_runtime(Drivers::All, |_| async {
        let (a, b) = Pipe::duplex()?;
        let (a, b) = (a.into_async()?, b.into_async()?);
        a.get_ref().set_max_frame(8);
        assert!(matches!(
            a.send_bytes(&[0u8; 9]).await,
            Err(multiproc_ipc::SendError::TooLarge { .. })
        ));
        b.get_ref().set_max_depth(2);
        a.send(&vec![vec![vec![1u8]]]).await?;
        assert!(matches!(
            b.recv::<Vec<Vec<Vec<u8>>>>().await,
            Err(RecvError::Decode(multiproc_ipc::CodecError::TooDeep {
                limit: 2
            }))
        ));
        a.send(&1u8).await?; // still in step
        assert_eq!(b.recv::<u8>().await?, 1);
        b.get_ref().set_max_frame(4);
        a.send_bytes(b"12345").await?;
        assert!(matches!(
            b.recv_bytes().await,
            Err(RecvError::TooLarge { .. })
        ));
        assert!(matches!(b.recv_bytes().await, Err(RecvError::Closed)));
        drop(b);
        // A peer gone: a typed error, not a hang.
        let mut err = None;
        for _ in 0..64 {
            if let Err(e) = a.send_bytes(&[1u8; 4]).await {
                err = Some(e);
                break;
            }
        }
        assert!(
            matches!(err, Some(multiproc_ipc::SendError::Disconnected)),
            "{err:?}"
        );
        Ok(())
    })
}

/// A frame whose bytes arrive a few at a time (header split too) is received whole.
#[test]
fn frames_delivered_in_pieces() -> TestResult {
    on_each_runtime(Drivers::All, |_| async {
        let (raw, conn) = std::os::unix::net::UnixStream::pair()?;
        let conn = Connection::from_fd(conn.into()).into_async()?;
        let frames: Vec<Vec<u8>> = vec![b"a".to_vec(), pattern(1, 1000), Vec::new()];
        let mut wire = Vec::new();
        for f in &frames {
            wire.extend_from_slice(&(f.len() as u32).to_be_bytes());
            wire.extend_from_slice(f);
        }
        // A long frame header too (-1 then 8 bytes), as CPython writes above 2 GiB.
        wire.extend_from_slice(&[0xff; 4]);
        wire.extend_from_slice(&3u64.to_be_bytes());
        wire.extend_from_slice(b"xyz");
        let writer = std::thread::spawn(move || -> std::io::Result<()> {
            let mut raw = raw;
            for piece in wire.chunks(3) {
                raw.write_all(piece)?;
                std::thread::yield_now();
            }
            Ok(())
        });
        for f in &frames {
            assert_eq!(&conn.recv_bytes().await?, f);
        }
        assert_eq!(conn.recv_bytes().await?, b"xyz");
        writer.join().map_err(|_| "writer panicked")??;
        assert!(matches!(conn.recv_bytes().await, Err(RecvError::Eof)));
        Ok(())
    })
}

/// Receive futures dropped at every point of large frames: each is polled once (it
/// reads what has arrived) and dropped, again and again; the frames still come out
/// whole and in order, none lost, none duplicated.
#[test]
fn dropped_receives_of_large_frames_lose_nothing() -> TestResult {
    const FRAMES: usize = 6;
    const LEN: usize = 5 << 20;
    on_each_runtime(Drivers::All, |_| async {
        let (tx, rx) = Pipe::duplex()?;
        let rx = rx.into_async()?;
        let sender = std::thread::spawn(move || -> Result<(), String> {
            for i in 0..FRAMES {
                if i % 2 == 0 {
                    tx.send_bytes(&pattern(i, LEN)).map_err(|e| e.to_string())?;
                } else {
                    tx.send(&multiproc_ipc::Bytes::from(pattern(i, LEN)))
                        .map_err(|e| e.to_string())?;
                }
            }
            Ok(())
        });
        let mut got = 0usize;
        let mut dropped = 0usize;
        while got < FRAMES {
            let r = if got % 2 == 0 {
                poll_and_drop(rx.recv_bytes())
            } else {
                poll_and_drop(rx.recv::<multiproc_ipc::Bytes>()).map(|r| r.map(Vec::from))
            };
            match r {
                Some(v) => {
                    assert_eq!(v?, pattern(got, LEN), "frame {got}");
                    got += 1;
                }
                None => {
                    dropped += 1;
                    // Wait for more bytes: a receive cut by a timeout (dropped at its
                    // await point), or that completes and counts.
                    let wait = tokio::time::timeout(Duration::from_millis(1), async {
                        if got % 2 == 0 {
                            rx.recv_bytes().await
                        } else {
                            rx.recv::<multiproc_ipc::Bytes>().await.map(Vec::from)
                        }
                    });
                    if let Ok(v) = wait.await {
                        assert_eq!(v?, pattern(got, LEN), "frame {got}");
                        got += 1;
                    }
                }
            }
        }
        sender.join().map_err(|_| "sender panicked")??;
        assert_eq!(got, FRAMES);
        assert!(
            dropped > 0,
            "no receive was ever cut: the test tested nothing"
        );
        // Nothing left over, nothing duplicated: the sender is gone, at a frame boundary.
        assert!(matches!(rx.recv_bytes().await, Err(RecvError::Eof)));
        Ok(())
    })
}

/// Receives cut by `tokio::time::timeout` at random points, with the sender in
/// another task: every frame arrives once.
#[test]
fn receives_cut_by_timeouts_lose_nothing() -> TestResult {
    on_each_runtime(Drivers::All, |_| async {
        let (a, b) = Pipe::duplex()?;
        let (a, b) = (a.into_async()?, std::sync::Arc::new(b.into_async()?));
        let n = 40usize;
        let sender = tokio::spawn(async move {
            for i in 0..n {
                a.send_bytes(&pattern(i, 300_000 + i)).await?;
            }
            Ok::<_, multiproc_ipc::SendError>(())
        });
        let mut got = 0;
        let mut cut = 0;
        while got < n {
            match tokio::time::timeout(Duration::from_micros(200), b.recv_bytes()).await {
                Ok(v) => {
                    assert_eq!(v?, pattern(got, 300_000 + got));
                    got += 1;
                }
                Err(_) => cut += 1,
            }
        }
        sender.await??;
        eprintln!("{got} frames, {cut} receives cut");
        Ok(())
    })
}

/// A send future dropped part-way through a large frame: the rest goes out before the
/// next frame; one dropped before it started sends nothing.
#[test]
fn dropped_sends_leave_whole_frames() -> TestResult {
    on_each_runtime(Drivers::All, |_| async {
        let (a, b) = Pipe::duplex()?;
        let a = a.into_async()?;
        let big = pattern(3, 8 << 20);
        // A first frame, awaited: the descriptor is known writable from then on.
        a.send_bytes(b"first").await?;
        // Nobody reads yet: one poll writes what the socket buffer takes, then the
        // future is dropped part-way through its frame.
        assert!(poll_and_drop(a.send_bytes(&big)).is_none());
        // The buffer is full now: this one cannot start, and is dropped unsent...
        assert!(poll_and_drop(a.send(&"never sent")).is_none());
        // ...while this one, awaited, finishes the big frame first.
        let reader = std::thread::spawn(move || -> Result<Vec<Vec<u8>>, String> {
            let mut v = Vec::new();
            for _ in 0..3 {
                v.push(b.recv_bytes_timeout(BOUND).map_err(|e| e.to_string())?);
            }
            Ok(v)
        });
        a.send_bytes(b"after").await?;
        let v = reader.join().map_err(|_| "reader panicked")??;
        assert_eq!(v.len(), 3);
        assert_eq!(v[0], b"first");
        assert_eq!(v[1], big);
        assert_eq!(v[2], b"after");
        assert!(matches!(a.recv_bytes().await, Err(RecvError::Eof)));
        Ok(())
    })
}

// ------------------------------------------------------------ across processes

const CHILD_ENV: &str = "MULTIPROC_IPC_AIO_CHILD";

/// Not a test of its own: the body of the child process, by mode. Without the
/// environment variable it returns at once.
#[test]
fn aio_child_entry() -> TestResult {
    let Some(mode) = std::env::var_os(CHILD_ENV) else {
        return Ok(());
    };
    let boot = Connection::from_fd(std::io::stdin().as_fd().try_clone_to_owned()?);
    let conn: Connection = boot.recv_timeout(BOUND)?;
    match mode.to_str() {
        Some("blocking-echo") => loop {
            match conn.recv_bytes_timeout(BOUND) {
                Ok(v) => conn.send_bytes(&v)?,
                Err(RecvError::Eof) => return Ok(()),
                Err(e) => return Err(e.into()),
            }
        },
        Some("async-echo") => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async {
                let conn = conn.into_async()?;
                loop {
                    match conn.recv_bytes().await {
                        Ok(v) => conn.send_bytes(&v).await?,
                        Err(RecvError::Eof) => return Ok(()),
                        Err(e) => return Err(e.into()),
                    }
                }
            })
        }
        Some("silent") => {
            // Never answers; waits until killed (bounded all the same).
            let _ = conn.recv_bytes_timeout(BOUND);
            Ok(())
        }
        _ => Err("unknown child mode".into()),
    }
}

/// Starts this test binary as a child in `mode`, handing it one end of a fresh pair.
fn start_child(mode: &str) -> std::io::Result<(std::process::Child, Connection)> {
    let (boot_parent, boot_child) = Pipe::duplex()?;
    let child = this_test_binary("aio::aio_child_entry")?
        .env(CHILD_ENV, mode)
        .stdin(Stdio::from(boot_child.into_fd()))
        .stdout(Stdio::null())
        .spawn()?;
    let (mine, theirs) = Pipe::duplex()?;
    boot_parent
        .send(&theirs)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok((child, mine))
}

#[test]
fn round_trips_with_a_child_process_blocking_and_async() -> TestResult {
    on_each_runtime(Drivers::All, |_| async {
        for mode in ["blocking-echo", "async-echo"] {
            let (mut child, conn) = start_child(mode)?;
            let r = async {
                let conn = conn.into_async()?;
                for len in [0usize, 8, 5000, 1 << 20, 6 << 20] {
                    let v = pattern(len, len);
                    let (s, r) = tokio::join!(conn.send_bytes(&v), conn.recv_bytes());
                    s?;
                    assert_eq!(r?, v, "{mode}: {len} bytes");
                }
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
            }
            .await;
            if r.is_err() {
                let _ = child.kill();
            }
            let status = child.wait()?;
            r?;
            assert!(status.success(), "{mode} child: {status:?}");
        }
        Ok(())
    })
}

#[test]
fn peer_killed_while_a_receive_waits_is_a_typed_error() -> TestResult {
    on_each_runtime(Drivers::All, |_| async {
        let (mut child, conn) = start_child("silent")?;
        let conn = conn.into_async()?;
        let pid = child.id();
        let killer = std::thread::spawn(move || {
            // The receive below is (very probably) waiting by now; either way the
            // outcome is the same typed error.
            std::thread::sleep(Duration::from_millis(50));
            let _ = child.kill();
            child.wait()
        });
        let r = conn.recv_bytes().await;
        let status = killer.join().map_err(|_| "killer panicked")??;
        assert!(!status.success(), "child {pid} was killed");
        assert!(matches!(r, Err(RecvError::Eof)), "{r:?}");
        Ok(())
    })
}

// -------------------------------------------------------------------- handshake

async fn accept_and_echo_once(l: &AsyncListener) -> Result<(), ListenerError> {
    let c = l.accept().await?;
    if let Ok(v) = c.recv_bytes().await {
        let _ = c.send_bytes(&v).await;
    }
    Ok(())
}

#[test]
fn handshake_right_wrong_and_empty_keys() -> TestResult {
    on_each_runtime(Drivers::All, |_| async {
        let dir = TempDir::new("aio-auth")?;
        let l = Listener::bind(dir.sock("s"), Some(b"s3cret"))?.into_async()?;
        let addr = l.address().clone();

        // Right key, async client.
        let (acc, conn) = tokio::join!(l.accept(), AsyncClient::connect(&addr, Some(b"s3cret")));
        let (acc, conn) = (acc?, conn?);
        conn.send_bytes(b"hi").await?;
        assert_eq!(acc.recv_bytes().await?, b"hi");

        // Right key, blocking client on a thread.
        let a2 = addr.clone();
        let t = std::thread::spawn(move || -> Result<Vec<u8>, String> {
            let c =
                Client::connect_timeout(&a2, Some(b"s3cret"), BOUND).map_err(|e| e.to_string())?;
            c.send_bytes(b"blocking").map_err(|e| e.to_string())?;
            c.recv_bytes_timeout(BOUND).map_err(|e| e.to_string())
        });
        accept_and_echo_once(&l).await?;
        assert_eq!(t.join().map_err(|_| "client panicked")??, b"blocking");

        // Wrong and empty keys: both sides say so, the listener carries on.
        for key in [&b"wrong"[..], b""] {
            let (acc, conn) = tokio::join!(l.accept(), AsyncClient::connect(&addr, Some(key)));
            assert!(
                matches!(
                    acc,
                    Err(ListenerError::Handshake {
                        source: AuthError::WrongDigest,
                        ..
                    })
                ),
                "{acc:?}"
            );
            assert!(
                matches!(conn, Err(ClientError::Handshake(AuthError::Rejected))),
                "{conn:?}"
            );
        }
        // A keyless listener and client talk.
        let open = Listener::bind(dir.sock("open"), None)?.into_async()?;
        let (acc, conn) = tokio::join!(open.accept(), AsyncClient::connect(open.address(), None));
        let (acc, conn) = (acc?, conn?);
        acc.send_bytes(b"open").await?;
        assert_eq!(conn.recv_bytes().await?, b"open");

        // An async client against a blocking listener (on a thread).
        let bl = Listener::bind(dir.sock("blocking"), Some(b"k2"))?;
        let baddr = bl.address().clone();
        let t = std::thread::spawn(move || -> Result<(), String> {
            let c = bl.accept_timeout(BOUND).map_err(|e| e.to_string())?;
            let v = c.recv_bytes_timeout(BOUND).map_err(|e| e.to_string())?;
            c.send_bytes(&v).map_err(|e| e.to_string())
        });
        let conn = AsyncClient::connect(&baddr, Some(b"k2")).await?;
        conn.send_bytes(b"to blocking").await?;
        assert_eq!(conn.recv_bytes().await?, b"to blocking");
        t.join().map_err(|_| "listener panicked")??;

        // TCP refuses unauthenticated clients before connecting.
        assert!(matches!(
            AsyncClient::connect(&Address::Tcp("127.0.0.1:9".parse()?), None).await,
            Err(ClientError::UnauthenticatedTcp)
        ));
        Ok(())
    })
}

/// A silent peer does not hold up a real client; a dropped accept abandons no peer.
#[test]
fn silent_peers_and_dropped_accepts() -> TestResult {
    on_each_runtime(Drivers::All, |_| async {
        let l = Listener::builder(Address::Tcp("127.0.0.1:0".parse()?))
            .authkey(b"k")
            .handshake_timeout(Duration::from_millis(300))
            .bind()?
            .into_async()?;
        let addr = l.address().clone();
        let Address::Tcp(sa) = addr else {
            return Err("not tcp".into());
        };
        // Silent peers: connected, never answering the challenge.
        let silent: Vec<_> = (0..5)
            .map(|_| std::net::TcpStream::connect(sa))
            .collect::<Result<_, _>>()?;
        // An accept dropped after it took them in.
        let _ = tokio::time::timeout(Duration::from_millis(20), l.accept()).await;
        let (mut ok, mut timed_out) = (0, 0);
        let client = tokio::spawn(async move {
            let c = AsyncClient::connect(&addr, Some(b"k")).await?;
            c.send(&"real").await?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        });
        while ok == 0 {
            match l.accept().await {
                Ok(c) => {
                    assert_eq!(c.recv::<String>().await?, "real");
                    ok += 1;
                }
                Err(ListenerError::Handshake {
                    source: AuthError::Timeout,
                    ..
                }) => timed_out += 1,
                Err(e) => return Err(e.into()),
            }
        }
        client.await?.map_err(|e| e.to_string())?;
        drop(silent);
        assert!(timed_out <= 5);
        Ok(())
    })
}

// ---------------------------------------------------------------------- CPython

#[test]
fn cpython_listener_with_async_client_and_cpython_client_with_async_listener() -> TestResult {
    let Some(py) = python() else {
        return Ok(());
    };
    on_each_runtime(Drivers::All, |_| async {
        let dir = TempDir::new("aio-py")?;
        // CPython's Listener, our async client.
        let path = dir.0.join("py");
        let path_s = path.to_string_lossy().into_owned();
        let (child, mut out) = spawn_py(py, PY_LISTENER, &["unix", "s3cret", &path_s])?;
        let _ = line(&mut out)?;
        let c = AsyncClient::connect(&Address::unix(&path), Some(b"s3cret")).await?;
        c.send_bytes(b"hello from rust").await?;
        assert_eq!(c.recv_bytes().await?, b"py got hello from rust");
        assert_eq!(c.recv_bytes().await?.len(), 256 * 4096);
        c.send_bytes(b"thanks").await?;
        assert_eq!(line(&mut out)?, "DONE thanks");
        assert!(child.wait()?.success());

        // Our async listener, CPython's client; then a wrong key.
        let l =
            Listener::bind(Address::Tcp("127.0.0.1:0".parse()?), Some(b"s3cret"))?.into_async()?;
        let port = l.address().port().ok_or("no port")?.to_string();
        let (child, mut out) = spawn_py(py, PY_CLIENT, &["tcp", "s3cret", &port])?;
        let c = l.accept().await?;
        assert_eq!(c.recv_bytes().await?, b"hello from python");
        c.send_bytes(b"hello from rust").await?;
        let big: Vec<u8> = (0..256 * 4096).map(|i| i as u8).collect();
        c.send_bytes(&big).await?;
        assert_eq!(c.recv_bytes().await?, b"bye");
        assert_eq!(line(&mut out)?, "GOT hello from rust");
        assert!(child.wait()?.success());
        let (child, mut out) = spawn_py(py, PY_CLIENT, &["tcp", "wrong", &port])?;
        assert!(matches!(
            l.accept().await,
            Err(ListenerError::Handshake {
                source: AuthError::WrongDigest,
                ..
            })
        ));
        assert!(line(&mut out)?.starts_with("AUTHFAIL"));
        assert_eq!(child.wait()?.code(), Some(3));
        Ok(())
    })
}

/// Sanity: the async types can be held across `.await` in spawned tasks.
#[test]
fn async_types_are_send() {
    fn is_send<T: Send>(_: &T) {}
    let (a, _b) = Pipe::duplex().expect("pipe");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let a: AsyncConnection = a.into_async().expect("register");
        is_send(&a.recv::<u8>());
        is_send(&a.send(&1u8));
    });
}
