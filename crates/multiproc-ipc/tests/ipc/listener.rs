//! Listener/Client over Unix paths, abstract names and TCP loopback.

use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::time::Duration;

use multiproc_ipc::{Address, Client, ClientError, Listener, ListenerError, wait};

use crate::{TempDir, TestResult};

fn is_cloexec(fd: impl AsFd) -> bool {
    rustix::io::fcntl_getfd(fd).is_ok_and(|f| f.contains(rustix::io::FdFlags::CLOEXEC))
}

fn echo_once(listener: &Listener) -> TestResult {
    let c = listener.accept_timeout(Duration::from_secs(30))?;
    assert!(is_cloexec(&c));
    let v: Vec<String> = c.recv_timeout(Duration::from_secs(20))?;
    c.send(&v.join(","))?;
    Ok(())
}

fn client_round_trip(addr: &Address, key: Option<&[u8]>) -> TestResult {
    let c = Client::connect_timeout(addr, key, Duration::from_secs(20))?;
    assert!(is_cloexec(&c));
    c.send(&vec!["a".to_string(), "b".to_string()])?;
    assert_eq!(c.recv_timeout::<String>(Duration::from_secs(20))?, "a,b");
    Ok(())
}

#[test]
fn unix_listener_with_and_without_authkey() -> TestResult {
    // CPython: _TestListenerClient.test_listener_client
    let dir = TempDir::new("unix")?;
    for key in [None, Some(&b"k"[..]), Some(&b""[..])] {
        let addr = dir.sock("s");
        let listener = Listener::bind(addr.clone(), key)?;
        assert!(is_cloexec(&listener));
        let a = addr.clone();
        let key2 = key.map(<[u8]>::to_vec);
        let t = std::thread::spawn(move || client_round_trip(&a, key2.as_deref()));
        echo_once(&listener)?;
        t.join().map_err(|_| "client panicked")??;
        let Address::Unix(path) = &addr else {
            unreachable!()
        };
        // The socket file is private and removed on drop.
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(path)?.permissions().mode() & 0o777, 0o600);
        drop(listener);
        assert!(!path.exists());
    }
    Ok(())
}

#[test]
fn second_bind_on_the_same_path_fails() -> TestResult {
    // CPython: _TestListener.test_multiple_bind
    let dir = TempDir::new("twice")?;
    let addr = dir.sock("s");
    let _l = Listener::bind(addr.clone(), None)?;
    assert!(matches!(
        Listener::bind(addr, None),
        Err(ListenerError::Bind { .. })
    ));
    Ok(())
}

#[test]
fn abstract_names_work() -> TestResult {
    let name = format!("mp-ipc-test-{}", std::process::id()).into_bytes();
    let addr = Address::Abstract(name);
    let listener = Listener::bind(addr.clone(), Some(b"k"))?;
    assert_eq!(listener.address().port(), None);
    let t = std::thread::spawn(move || client_round_trip(&addr, Some(b"k")));
    echo_once(&listener)?;
    t.join().map_err(|_| "client panicked")??;
    Ok(())
}

#[test]
fn tcp_requires_an_authkey_unless_allowed() -> TestResult {
    let any: SocketAddr = "127.0.0.1:0".parse()?;
    assert!(matches!(
        Listener::bind(any, None),
        Err(ListenerError::UnauthenticatedTcp)
    ));
    assert!(matches!(
        Client::connect(Address::Tcp(any), None),
        Err(ClientError::UnauthenticatedTcp)
    ));
    let open = Listener::builder(any)
        .allow_unauthenticated_tcp(true)
        .bind()?;
    let addr = open.address().clone();
    let t = std::thread::spawn(move || -> TestResult {
        let c = Client::builder()
            .allow_unauthenticated_tcp(true)
            .timeout(Duration::from_secs(20))
            .connect(&addr)?;
        c.send(&vec!["x".to_string()])?;
        assert_eq!(c.recv_timeout::<String>(Duration::from_secs(20))?, "x");
        Ok(())
    });
    echo_once(&open)?;
    t.join().map_err(|_| "client panicked")??;
    Ok(())
}

#[test]
fn an_empty_authkey_on_tcp_counts_as_none() -> TestResult {
    // #13 item 6: `Some(b"")` is a key anybody holds.
    let any: SocketAddr = "127.0.0.1:0".parse()?;
    assert!(matches!(
        Listener::bind(any, Some(b"")),
        Err(ListenerError::UnauthenticatedTcp)
    ));
    assert!(matches!(
        Listener::builder(any).authkey(b"").bind(),
        Err(ListenerError::UnauthenticatedTcp)
    ));
    assert!(matches!(
        Client::connect(Address::Tcp(any), Some(b"")),
        Err(ClientError::UnauthenticatedTcp)
    ));
    // Allowed explicitly, the handshake runs with the empty key: a client with it
    // passes, one with another key does not.
    let open = Listener::builder(any)
        .authkey(b"")
        .allow_unauthenticated_tcp(true)
        .bind()?;
    let addr = open.address().clone();
    let a = addr.clone();
    let t = std::thread::spawn(move || -> TestResult {
        let c = Client::builder()
            .authkey(b"")
            .allow_unauthenticated_tcp(true)
            .timeout(Duration::from_secs(20))
            .connect(&a)?;
        c.send(&vec!["e".to_string()])?;
        assert_eq!(c.recv_timeout::<String>(Duration::from_secs(20))?, "e");
        Ok(())
    });
    echo_once(&open)?;
    t.join().map_err(|_| "client panicked")??;
    handshake_fails_on_both_sides(&open, addr, b"k")
}

/// A client connecting to `listener` at `addr` with `key`, which the listener does not
/// hold: the handshake fails on both sides (each side bounded by its own timeout).
fn handshake_fails_on_both_sides(
    listener: &Listener,
    addr: Address,
    key: &'static [u8],
) -> TestResult {
    let t = std::thread::spawn(move || {
        Client::connect_timeout(&addr, Some(key), Duration::from_secs(20))
    });
    assert!(matches!(
        listener.accept_timeout(Duration::from_secs(30)),
        Err(ListenerError::Handshake { .. })
    ));
    assert!(matches!(
        t.join().map_err(|_| "client panicked")?,
        Err(ClientError::Handshake(_))
    ));
    Ok(())
}

#[test]
fn tcp_with_authkey_reports_the_real_port_and_last_accepted() -> TestResult {
    let listener = Listener::bind("127.0.0.1:0".parse::<SocketAddr>()?, Some(b"secret"))?;
    let Address::Tcp(bound) = listener.address().clone() else {
        return Err("tcp address expected".into());
    };
    assert_ne!(bound.port(), 0);
    assert_eq!(listener.address().port(), Some(bound.port()));
    let a = listener.address().clone();
    let t = std::thread::spawn(move || client_round_trip(&a, Some(b"secret")));
    echo_once(&listener)?;
    t.join().map_err(|_| "client panicked")??;
    match listener.last_accepted() {
        Some(Address::Tcp(peer)) => assert!(peer.ip().is_loopback()),
        other => return Err(format!("expected a tcp peer, got {other:?}").into()),
    }
    // Wrong key over TCP fails on both sides.
    handshake_fails_on_both_sides(&listener, listener.address().clone(), b"wrong")
}

#[test]
fn accept_timeout_and_connect_to_nobody() -> TestResult {
    let dir = TempDir::new("timeout")?;
    let listener = Listener::bind(dir.sock("s"), None)?;
    assert!(matches!(
        listener.accept_timeout(Duration::from_millis(20)),
        Err(ListenerError::Timeout)
    ));
    assert!(matches!(
        Client::connect(dir.sock("nobody"), None),
        Err(ClientError::Connect { .. })
    ));
    Ok(())
}

#[test]
fn client_with_key_against_listener_without_times_out() -> TestResult {
    // CPython's client blocks forever here (KI-19); ours is bounded.
    let dir = TempDir::new("mismatch")?;
    let addr = dir.sock("s");
    let listener = Listener::bind(addr.clone(), None)?;
    let t = std::thread::spawn(move || {
        Client::connect_timeout(&addr, Some(b"k"), Duration::from_millis(300))
    });
    let conn = listener.accept_timeout(Duration::from_secs(30))?;
    let r = t.join().map_err(|_| "client panicked")?;
    assert!(matches!(r, Err(ClientError::Timeout)), "{r:?}");
    drop(conn);
    Ok(())
}

#[test]
fn wait_on_many_connections() -> TestResult {
    // CPython: TestWait.test_wait, test_wait_timeout
    let pairs: Vec<_> = (0..5)
        .map(|_| multiproc_ipc::Pipe::duplex())
        .collect::<Result<_, _>>()?;
    let readers: Vec<&multiproc_ipc::Connection> = pairs.iter().map(|(a, _)| a).collect();
    assert!(wait(&readers, Some(Duration::from_millis(10)))?.is_empty());
    pairs[3].1.send(&3u8)?;
    pairs[1].1.send(&1u8)?;
    let ready = multiproc_ipc::wait_indices(&readers, Some(Duration::from_secs(20)))?;
    assert_eq!(ready, [1, 3]);
    for i in ready {
        assert_eq!(readers[i].recv::<u8>()? as usize, i);
    }
    Ok(())
}

#[test]
fn time_outside_accept_does_not_fail_a_pending_handshake() -> TestResult {
    // Two clients wait in the backlog; the first `accept` takes both, returns one and
    // leaves the other's handshake pending. The application then stays away for longer
    // than the handshake timeout (being busy is the scenario, not a synchronisation):
    // the client answered meanwhile, and the next `accept` must serve it.
    use multiproc_ipc::Connection;
    use multiproc_ipc::auth::{HandshakeConfig, client_handshake};
    let dir = TempDir::new("away")?;
    let addr = dir.sock("s");
    let timeout = Duration::from_millis(300);
    let listener = Listener::builder(addr.clone())
        .authkey(b"k")
        .handshake_timeout(timeout)
        .bind()?;
    let Address::Unix(path) = &addr else {
        unreachable!()
    };
    let mut clients = Vec::new();
    for _ in 0..2 {
        // Connected (queued in the backlog) before anything is accepted.
        let raw = std::os::unix::net::UnixStream::connect(path)?;
        clients.push(std::thread::spawn(move || -> TestResult {
            let c = Connection::from_fd(raw.into());
            client_handshake(&c, b"k", &HandshakeConfig::default())?;
            c.send(&vec!["x".to_string()])?;
            assert_eq!(c.recv_timeout::<String>(Duration::from_secs(30))?, "x");
            Ok(())
        }));
    }
    let first = listener.accept_timeout(Duration::from_secs(30))?;
    std::thread::sleep(timeout * 3);
    let second = listener.accept_timeout(Duration::from_secs(30))?;
    // An unnamed Unix client has no address (not an empty abstract name).
    assert_eq!(listener.last_accepted(), None);
    for c in [first, second] {
        let v: Vec<String> = c.recv_timeout(Duration::from_secs(30))?;
        c.send(&v.join(","))?;
    }
    for t in clients {
        t.join().map_err(|_| "client panicked")??;
    }
    Ok(())
}
