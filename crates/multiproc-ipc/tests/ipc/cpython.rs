//! Ports of CPython 3.11's connection-level tests (`Lib/test/_test_multiprocessing.py`):
//! `_TestConnection`, `_TestListener`, `_TestListenerClient`, `_TestPoll`,
//! `_TestPicklingConnections`, `TestWait`, `OtherTest`, `TestInvalidHandle` and
//! `TestTimeouts`. The scenarios are rewritten, not copied; each test names the case it
//! ports in a `// CPython: Class.test_name` comment.
//!
//! Where CPython starts a `Process`, these tests start a re-execution of this test
//! binary ([`Kid`]): `multiproc-process` sits above this crate and is not one of its
//! dev-dependencies. The child runs [`child_entry`] with its role in [`ROLE_ENV`] and
//! a bootstrap connection as its stdin — a Unix socket, so connections and other
//! descriptors reach it inside values, as they reach a `Process` target's arguments.
//! Every child is reaped with a bound ([`Kid::join`]); a `Kid` dropped on an error path
//! is killed and reaped.
//!
//! Where our API differs from CPython on purpose, the tests check our documented
//! behaviour and say so:
//! - values are typed serde values (postcard), not pickles, so "send `[1, 2.25, None]`"
//!   becomes a typed tuple;
//! - connections and descriptors travel as handles (`SCM_RIGHTS`) inside values sent
//!   over a Unix-socket connection, not by pickling through a resource sharer;
//! - errors are typed (`RecvError`, `SendError`, `ListenerError`, `CodecError`, …)
//!   where CPython raises `OSError`, `EOFError`, `ValueError` or `RuntimeError`;
//! - `close` consumes the value, so CPython's "use after close raises `OSError`" is a
//!   compile error here; what stays testable is what the peer sees afterwards;
//! - timeouts are `Option<Duration>`: `None` waits forever and a negative timeout
//!   cannot be written (CPython's `poll()` defaults to not waiting; ours is
//!   `poll(Some(Duration::ZERO))`).
//!
//! No test asserts on elapsed time: where CPython measures how long a `poll` or `wait`
//! took, these check what it returned.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::Duration;

use multiproc_ipc::auth::{self, HandshakeConfig};
use multiproc_ipc::{
    Address, AuthError, Client, ClientError, CodecError, Connection, Listener, ListenerError,
    PassFd, Pipe, RecvError, SendError, Transport, wait, wait_indices,
};
use multiproc_test_support::this_test_binary;
use serde::{Deserialize, Serialize};

use crate::{TempDir, TestResult};

/// Selects the role of a re-executed child; unset in a normal test run.
const ROLE_ENV: &str = "MULTIPROC_IPC_CPYTHON_ROLE";
/// The bound on every wait for a peer (generous: the machine is shared and loaded).
const LONG: Duration = Duration::from_secs(120);
/// The bound on a child's exit.
const JOIN: Duration = Duration::from_secs(120);
/// The authkey of the listeners that need one.
const KEY: &[u8] = b"cpython-port";

// ------------------------------------------------------------------ child processes

/// A child process: this test binary, re-executed in one of the roles of [`child_entry`].
struct Kid {
    child: Option<Child>,
    /// A pidfd of the child: its sentinel, readable once it has exited.
    pidfd: OwnedFd,
    /// Our end of the bootstrap connection (the child's stdin).
    boot: Connection,
}

impl Kid {
    fn spawn(role: &str) -> Result<Kid, Box<dyn std::error::Error + Send + Sync>> {
        let (boot, theirs) = Pipe::duplex()?;
        let mut child = this_test_binary("cpython::child_entry")?
            .arg("--quiet")
            .env(ROLE_ENV, role)
            .stdin(Stdio::from(theirs.into_fd()))
            .stdout(Stdio::null())
            .spawn()?;
        let pid = rustix::process::Pid::from_child(&child);
        match rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()) {
            Ok(pidfd) => Ok(Kid {
                child: Some(child),
                pidfd,
                boot,
            }),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(e.into())
            }
        }
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// The child's sentinel (CPython's `Process.sentinel`): ready once it exited.
    fn sentinel(&self) -> BorrowedFd<'_> {
        self.pidfd.as_fd()
    }

    /// Waits (bounded) for the child to exit and requires a clean exit.
    fn join(mut self) -> TestResult {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        if wait_indices(&[&self.pidfd], Some(JOIN))?.is_empty() {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("child {} did not exit within {JOIN:?}", child.id()).into());
        }
        let status = child.wait()?;
        if !status.success() {
            return Err(format!("child {} failed: {status}", child.id()).into());
        }
        Ok(())
    }
}

impl Drop for Kid {
    fn drop(&mut self) {
        // Only on error paths: a joined kid has no child left.
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A `Listener` address as it travels to a child.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum WireAddr {
    Unix(PathBuf),
    Abstract(Vec<u8>),
    Tcp(SocketAddr),
}

impl WireAddr {
    fn of(a: &Address) -> Result<WireAddr, String> {
        match a {
            Address::Unix(p) => Ok(WireAddr::Unix(p.clone())),
            Address::Abstract(n) => Ok(WireAddr::Abstract(n.clone())),
            Address::Tcp(s) => Ok(WireAddr::Tcp(*s)),
            other => Err(format!("unexpected address kind {other:?}")),
        }
    }

    fn address(&self) -> Address {
        match self {
            WireAddr::Unix(p) => Address::Unix(p.clone()),
            WireAddr::Abstract(n) => Address::Abstract(n.clone()),
            WireAddr::Tcp(s) => Address::Tcp(*s),
        }
    }
}

/// One address per family CPython's tests loop over (`AF_UNIX`, `AF_INET`), plus a
/// Linux abstract name: unique per call, under `dir` for the path.
fn families(dir: &TempDir) -> Vec<Address> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    vec![
        dir.sock(&format!("s{n}")),
        Address::Abstract(format!("mp-ipc-cpy-{}-{n}", std::process::id()).into_bytes()),
        Address::Tcp(SocketAddr::from(([127, 0, 0, 1], 0))),
    ]
}

/// Connects a client to `l` (in a scoped thread, since the handshake needs both sides)
/// and accepts it: `(client end, accepted end)`.
fn connect_pair(
    l: &Listener,
    key: Option<&[u8]>,
) -> Result<(Connection, Connection), Box<dyn std::error::Error + Send + Sync>> {
    let addr = l.address().clone();
    std::thread::scope(|s| {
        let client = s.spawn(|| Client::connect_timeout(&addr, key, LONG));
        let accepted = l.accept_timeout(LONG);
        let client = client.join().map_err(|_| "client thread panicked")?;
        Ok((client?, accepted?))
    })
}

/// Requires that connecting to `addr`, whose listener was closed, fails with
/// [`ClientError::Connect`]. A child that another test thread is starting right now
/// holds copies of this process's descriptors — the closed listening socket among
/// them — from its `fork` until its `exec` closes them (CLOEXEC), and meanwhile a
/// connect can still reach the socket (then fail in the handshake, or be accepted by
/// nobody). So the connect is retried, within a bound, until it is refused.
fn refused_once_closed(addr: &Address, key: Option<&[u8]>) -> TestResult {
    let deadline = std::time::Instant::now() + LONG;
    loop {
        match Client::connect_timeout(addr, key, LONG) {
            Err(ClientError::Connect { .. }) => return Ok(()),
            other if std::time::Instant::now() < deadline => {
                drop(other);
                std::thread::sleep(Duration::from_millis(10));
            }
            other => return Err(format!("{addr} still reachable: {other:?}").into()),
        }
    }
}

/// A small pseudo-random pause for the "slow" variants of `TestWait`: pacing that
/// makes the children's messages interleave differently, not synchronisation.
fn pace(seed: &mut u64) {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    std::thread::sleep(Duration::from_millis(*seed % 20));
}

fn is_nonblocking(fd: impl AsFd) -> std::io::Result<bool> {
    Ok(rustix::fs::fcntl_getfl(fd)?.contains(rustix::fs::OFlags::NONBLOCK))
}

/// Not a test of its own: the body of a child process. Without [`ROLE_ENV`] it
/// returns at once.
#[test]
fn child_entry() -> TestResult {
    let Some(role) = std::env::var_os(ROLE_ENV) else {
        return Ok(());
    };
    let boot = Connection::from_fd(std::io::stdin().as_fd().try_clone_to_owned()?);
    match role.to_str().unwrap_or("") {
        "echo" => role_echo(&boot),
        "writefd" => role_writefd(&boot, false),
        "writefd_high" => role_writefd(&boot, true),
        "no_fd" => role_no_fd(&boot),
        "strings" => role_strings(&boot),
        "boundaries" => role_boundaries(&boot),
        "dont_merge" => role_dont_merge(&boot),
        "listener" => role_listener(&boot),
        "remote" => role_remote(&boot),
        "access" => role_access(&boot),
        "wait_pipe" => role_wait_pipe(&boot),
        "wait_socket" => role_wait_socket(&boot),
        "sentinel" => role_sentinel(&boot),
        "client_hello" => role_client_hello(&boot),
        "timeouts" => role_timeouts(&boot),
        other => Err(format!("unknown role {other:?}").into()),
    }
}

/// `_TestConnection._echo`: echo byte frames until an empty one, then close.
fn role_echo(boot: &Connection) -> TestResult {
    let conn: Connection = boot.recv_timeout(LONG)?;
    loop {
        let msg = conn.recv_bytes_timeout(LONG)?;
        if msg.is_empty() {
            break;
        }
        conn.send_bytes(&msg)?;
    }
    conn.close()?;
    Ok(())
}

/// `_TestConnection._writefd`: write the data to the descriptor received. With
/// `high`, every descriptor below 256 is taken first, so the received one lands above.
fn role_writefd(boot: &Connection, high: bool) -> TestResult {
    let mut fillers = Vec::new();
    if high {
        loop {
            // The lowest free descriptor each time: when it is 255, 0..=255 are taken.
            let d = rustix::io::fcntl_dupfd_cloexec(boot, 0)?;
            let n = d.as_raw_fd();
            fillers.push(d);
            if n >= 255 {
                break;
            }
        }
    }
    let (fd, data): (PassFd, Vec<u8>) = boot.recv_timeout(LONG)?;
    let raw = fd.as_fd().as_raw_fd();
    let mut file = std::fs::File::from(OwnedFd::from(fd));
    file.write_all(&data)?;
    drop(file);
    drop(fillers);
    boot.send(&raw)?;
    Ok(())
}

/// `_TestConnection._send_data_without_fd`: a frame whose value names handle 0 while
/// no descriptor travels with it; then a well-formed one.
fn role_no_fd(boot: &Connection) -> TestResult {
    let conn: Connection = boot.recv_timeout(LONG)?;
    let null: OwnedFd = std::fs::File::open("/dev/null")?.into();
    let (bytes, fds) = multiproc_ipc::encode(&PassFd::from(null.try_clone()?))?;
    assert_eq!(fds.len(), 1);
    drop(fds);
    conn.send_bytes(&bytes)?;
    conn.send(&PassFd::from(null))?;
    Ok(())
}

/// `_TestPoll._child_strings`, in lock-step: each string is sent when asked for.
fn role_strings(boot: &Connection) -> TestResult {
    let (conn, strings): (Connection, Vec<Vec<u8>>) = boot.recv_timeout(LONG)?;
    for s in &strings {
        conn.recv_timeout::<()>(LONG)?;
        conn.send_bytes(s)?;
    }
    Ok(())
}

/// `_TestPoll._child_boundaries`: poll a shared pipe reader, then exit.
fn role_boundaries(boot: &Connection) -> TestResult {
    let r: Connection = boot.recv_timeout(LONG)?;
    boot.send(&())?;
    let ready = r.poll(Some(LONG))?;
    boot.send(&ready)?;
    Ok(())
}

/// `_TestPoll._child_dont_merge`.
fn role_dont_merge(boot: &Connection) -> TestResult {
    let b: Connection = boot.recv_timeout(LONG)?;
    b.send_bytes(b"a")?;
    b.send_bytes(b"b")?;
    b.send_bytes(b"cd")?;
    Ok(())
}

/// `_TestPicklingConnections._listener`: for each family, listen, say where, accept one
/// connection and hand it to the parent; then the same with a raw TCP socket.
fn role_listener(boot: &Connection) -> TestResult {
    let fams: Vec<WireAddr> = boot.recv_timeout(LONG)?;
    for fam in fams {
        let l = Listener::bind(fam.address(), Some(KEY))?;
        boot.send(&WireAddr::of(l.address())?)?;
        let new_conn = l.accept_timeout(LONG)?;
        boot.send(&new_conn)?;
        drop(new_conn);
        drop(l);
    }
    let l = TcpListener::bind("127.0.0.1:0")?;
    boot.send(&l.local_addr()?)?;
    if wait(&[&l], Some(LONG))?.is_empty() {
        return Err("nobody connected to the raw socket".into());
    }
    let (stream, _) = l.accept()?;
    boot.send(&PassFd::from(OwnedFd::from(stream)))?;
    drop(l);
    boot.recv_timeout::<()>(LONG)?;
    Ok(())
}

/// `_TestPicklingConnections._remote`: connect where told and send the message in
/// upper case, until told to stop; then once more with a raw TCP socket.
fn role_remote(boot: &Connection) -> TestResult {
    while let Some((addr, msg)) = boot.recv_timeout::<Option<(WireAddr, Vec<u8>)>>(LONG)? {
        let client = Client::connect_timeout(addr.address(), Some(KEY), LONG)?;
        client.send(&msg.to_ascii_uppercase())?;
        client.close()?;
    }
    let (addr, msg): (SocketAddr, Vec<u8>) = boot.recv_timeout(LONG)?;
    let mut s = TcpStream::connect_timeout(&addr, LONG)?;
    s.write_all(&msg.to_ascii_uppercase())?;
    Ok(())
}

/// `_TestPicklingConnections.child_access`.
fn role_access(boot: &Connection) -> TestResult {
    let w: Connection = boot.recv_timeout(LONG)?;
    w.send(&"all is well")?;
    w.close()?;
    let r: Connection = boot.recv_timeout(LONG)?;
    let msg: String = r.recv_timeout(LONG)?;
    boot.send(&msg.repeat(2))?;
    Ok(())
}

/// `TestWait._child_test_wait`.
fn role_wait_pipe(boot: &Connection) -> TestResult {
    let (w, slow): (Connection, bool) = boot.recv_timeout(LONG)?;
    let mut seed = u64::from(std::process::id()) | 1;
    for i in 0..10u32 {
        if slow {
            pace(&mut seed);
        }
        w.send(&(i, std::process::id()))?;
    }
    Ok(())
}

/// `TestWait._child_test_wait_socket`.
fn role_wait_socket(boot: &Connection) -> TestResult {
    let (addr, slow): (SocketAddr, bool) = boot.recv_timeout(LONG)?;
    let mut s = TcpStream::connect_timeout(&addr, LONG)?;
    let mut seed = u64::from(std::process::id()) | 1;
    for i in 0..10 {
        if slow {
            pace(&mut seed);
        }
        s.write_all(format!("{i}\n").as_bytes())?;
    }
    Ok(())
}

/// `TestWait.signal_and_sleep`, with the sleep replaced by waiting for the parent's word.
fn role_sentinel(boot: &Connection) -> TestResult {
    boot.recv_timeout::<()>(LONG)?;
    Ok(())
}

/// `_TestListenerClient._test`: connect, say hello, close.
fn role_client_hello(boot: &Connection) -> TestResult {
    let (addr, key): (WireAddr, Option<Vec<u8>>) = boot.recv_timeout(LONG)?;
    let conn = Client::connect_timeout(addr.address(), key.as_deref(), LONG)?;
    conn.send(&"hello")?;
    conn.close()?;
    Ok(())
}

/// `TestTimeouts._test_timeout`: after a pause, answer over the pipe, then connect.
fn role_timeouts(boot: &Connection) -> TestResult {
    let (child, addr): (Connection, WireAddr) = boot.recv_timeout(LONG)?;
    // Pacing, not synchronisation: the parent is likely blocked in `recv` by now,
    // which is the case CPython's one-second sleep sets up.
    std::thread::sleep(Duration::from_millis(200));
    child.send(&123i32)?;
    child.close()?;
    let conn = Client::connect_timeout(addr.address(), Some(KEY), LONG)?;
    let nonblocking = is_nonblocking(&conn)?;
    conn.send(&(456i32, nonblocking))?;
    conn.close()?;
    Ok(())
}

// ------------------------------------------------------------------ _TestConnection

#[test]
fn connection_echo_through_a_child() -> TestResult {
    // CPython: _TestConnection.test_connection
    let (conn, child_conn) = Pipe::duplex()?;
    let kid = Kid::spawn("echo")?;
    kid.boot.send(&child_conn)?;
    // CPython checks that `fileno()` is an int; ours is a Unix socket end.
    assert_eq!(conn.transport(), Transport::Unix);

    // A typed value instead of the pickled list `[1, 2.25, None]`.
    let seq = (1i64, 2.25f64, None::<u8>);
    conn.send(&seq)?;
    assert_eq!(conn.recv_timeout::<(i64, f64, Option<u8>)>(LONG)?, seq);

    let msg = b"hello world".to_vec();
    conn.send_bytes(&msg)?;
    assert_eq!(conn.recv_bytes_timeout(LONG)?, msg);

    // recv_bytes_into: an `array('i', range(4))` into a ten-int buffer; then at a byte
    // offset of three ints (ours: the caller slices the buffer instead of `offset=`).
    let arr: Vec<u8> = (0..4i32).flat_map(i32::to_ne_bytes).collect();
    let mut buffer = [0u8; 40];
    conn.send_bytes(&arr)?;
    assert!(conn.poll(Some(LONG))?);
    assert_eq!(conn.recv_bytes_into(&mut buffer)?, arr.len());
    assert_eq!(&buffer[..16], &arr[..]);
    assert!(buffer[16..].iter().all(|&b| b == 0));
    let mut buffer = [0u8; 40];
    conn.send_bytes(&arr)?;
    assert!(conn.poll(Some(LONG))?);
    assert_eq!(conn.recv_bytes_into(&mut buffer[12..])?, arr.len());
    assert!(buffer[..12].iter().all(|&b| b == 0));
    assert_eq!(&buffer[12..28], &arr[..]);
    assert!(buffer[28..].iter().all(|&b| b == 0));

    // BufferTooShort: CPython hands the whole message back in the exception (args[0]);
    // so does ours, besides filling the buffer with its first bytes and consuming it.
    let longmsg = msg.repeat(10);
    let mut buffer = [b' '; 40];
    conn.send_bytes(&longmsg)?;
    assert!(conn.poll(Some(LONG))?);
    match conn.recv_bytes_into(&mut buffer) {
        Err(RecvError::BufferTooSmall {
            needed,
            buffer: b,
            message,
        }) => {
            assert_eq!((needed, b), (longmsg.len(), 40));
            assert_eq!(message, longmsg);
        }
        other => return Err(format!("expected BufferTooSmall, got {other:?}").into()),
    }
    assert_eq!(&buffer[..], &longmsg[..40]);

    // poll: nothing is pending (the long frame was consumed whole). CPython's `poll()`
    // and `poll(-1)` do not wait; ours is `Some(ZERO)`.
    assert!(!conn.poll(Some(Duration::ZERO))?);
    assert!(!conn.poll(Some(Duration::from_millis(100)))?);

    conn.send(&None::<u8>)?;
    assert!(conn.poll(Some(LONG))?);
    assert_eq!(conn.recv_timeout::<Option<u8>>(LONG)?, None);

    let really_big_msg = vec![b'X'; 16 << 20];
    conn.send_bytes(&really_big_msg)?;
    assert!(conn.recv_bytes_timeout(LONG)? == really_big_msg);

    conn.send_bytes(b"")?; // tell the child to quit
    drop(child_conn);
    assert!(conn.readable() && conn.writable());
    // Bounded by the child's life: it closes its end when it exits.
    assert!(matches!(conn.recv::<u8>(), Err(RecvError::Eof)));
    assert!(matches!(conn.recv_bytes(), Err(RecvError::Eof)));
    kid.join()
}

#[test]
fn simplex_pipe_ends_refuse_the_other_direction() -> TestResult {
    // CPython: _TestConnection.test_duplex_false (OSError there, typed `Closed` here)
    let (reader, writer) = Pipe::new(false)?;
    writer.send(&1u8)?;
    assert_eq!(reader.recv_timeout::<u8>(LONG)?, 1);
    assert_eq!((reader.readable(), reader.writable()), (true, false));
    assert_eq!((writer.readable(), writer.writable()), (false, true));
    assert_eq!(reader.transport(), Transport::Pipe);
    assert!(matches!(reader.send(&2u8), Err(SendError::Closed)));
    assert!(matches!(reader.send_bytes(b"2"), Err(SendError::Closed)));
    assert!(matches!(writer.recv::<u8>(), Err(RecvError::Closed)));
    assert!(matches!(writer.recv_bytes(), Err(RecvError::Closed)));
    assert!(matches!(
        writer.poll(Some(Duration::ZERO)),
        Err(RecvError::Closed)
    ));
    // The refused calls left both ends intact.
    writer.send(&3u8)?;
    assert_eq!(reader.recv_timeout::<u8>(LONG)?, 3);
    Ok(())
}

#[test]
fn closing_our_copy_right_after_handing_it_over() -> TestResult {
    // CPython: _TestConnection.test_spawn_close
    // The descriptor in flight (SCM_RIGHTS) keeps the end open until the child takes it.
    let (conn, child_conn) = Pipe::duplex()?;
    let kid = Kid::spawn("echo")?;
    kid.boot.send(&child_conn)?;
    child_conn.close()?;
    conn.send_bytes(b"hello")?;
    assert_eq!(conn.recv_bytes_timeout(LONG)?, b"hello");
    conn.send_bytes(b"")?;
    assert!(matches!(conn.recv_bytes_timeout(LONG), Err(RecvError::Eof)));
    conn.close()?;
    kid.join()
}

#[test]
fn send_bytes_ranges() -> TestResult {
    // CPython: _TestConnection.test_sendbytes
    // `send_bytes(msg, offset)` without a size is `send_bytes(&msg[offset..])` here;
    // negative offsets and sizes cannot be written (`usize`). A bad range is a typed
    // `OutOfRange` where CPython raises ValueError, and sends nothing.
    let msg = b"abcdefghijklmnopqrstuvwxyz";
    let (a, b) = Pipe::duplex()?;
    a.send_bytes(msg)?;
    assert_eq!(b.recv_bytes_timeout(LONG)?, msg);
    a.send_bytes(&msg[5..])?;
    assert_eq!(b.recv_bytes_timeout(LONG)?, &msg[5..]);
    a.send_bytes_range(msg, 5, 21)?;
    assert_eq!(b.recv_bytes_timeout(LONG)?, &msg[5..]);
    a.send_bytes_range(msg, 7, 8)?;
    assert_eq!(b.recv_bytes_timeout(LONG)?, &msg[7..15]);
    a.send_bytes_range(msg, 26, 0)?;
    assert_eq!(b.recv_bytes_timeout(LONG)?, b"");
    for (offset, size) in [(27, 0), (22, 5), (26, 1), (usize::MAX, 2), (4, usize::MAX)] {
        match a.send_bytes_range(msg, offset, size) {
            Err(SendError::OutOfRange {
                len: 26,
                offset: o,
                size: s,
            }) => assert_eq!((o, s), (offset, size)),
            other => return Err(format!("({offset}, {size}): {other:?}").into()),
        }
    }
    // Nothing was sent for the refused ranges.
    assert!(!b.poll(Some(Duration::ZERO))?);
    Ok(())
}

#[test]
fn a_file_descriptor_sent_to_a_child_is_written_there() -> TestResult {
    // CPython: _TestConnection.test_fd_transfer
    // `reduction.send_handle(conn, fd, pid)` is a value holding a `PassFd` here.
    let dir = TempDir::new("fd")?;
    let path = dir.0.join("out");
    let kid = Kid::spawn("writefd")?;
    {
        let f = std::fs::File::create(&path)?;
        kid.boot
            .send(&(PassFd::from(OwnedFd::from(f)), b"foo".to_vec()))?;
    }
    let _fd_in_child: i32 = kid.boot.recv_timeout(LONG)?;
    kid.join()?;
    assert_eq!(std::fs::read(&path)?, b"foo");
    Ok(())
}

#[test]
fn a_descriptor_above_256_in_both_processes() -> TestResult {
    // CPython: _TestConnection.test_large_fd_transfer (issue #11657)
    let dir = TempDir::new("bigfd")?;
    let path = dir.0.join("out");
    let kid = Kid::spawn("writefd_high")?;
    {
        let f = std::fs::File::create(&path)?;
        let high = rustix::io::fcntl_dupfd_cloexec(&f, 256)?;
        assert!(high.as_raw_fd() >= 256);
        drop(f);
        kid.boot.send(&(PassFd::from(high), b"bar".to_vec()))?;
    }
    let fd_in_child: i32 = kid.boot.recv_timeout(LONG)?;
    kid.join()?;
    assert!(fd_in_child >= 256, "received as fd {fd_in_child}");
    assert_eq!(std::fs::read(&path)?, b"bar");
    Ok(())
}

#[test]
fn a_value_naming_a_handle_that_did_not_travel_is_a_typed_error() -> TestResult {
    // CPython: _TestConnection.test_missing_fd_transfer
    // CPython's `recv_handle` raises RuntimeError when data arrives without a
    // descriptor. Ours decodes a frame whose value names handle 0 while none arrived:
    // `CodecError::MissingHandle`, and the stream stays at a frame boundary.
    let (conn, child_conn) = Pipe::duplex()?;
    let kid = Kid::spawn("no_fd")?;
    kid.boot.send(&child_conn)?;
    drop(child_conn);
    match conn.recv_timeout::<PassFd>(LONG) {
        Err(RecvError::Decode(CodecError::MissingHandle {
            index: 0,
            available: 0,
        })) => {}
        other => return Err(format!("expected MissingHandle, got {other:?}").into()),
    }
    let fd: PassFd = conn.recv_timeout(LONG)?;
    assert!(rustix::fs::fstat(&fd).is_ok());
    assert!(matches!(conn.recv_bytes_timeout(LONG), Err(RecvError::Eof)));
    kid.join()
}

#[test]
fn closing_an_end_is_seen_by_the_peer() -> TestResult {
    // CPython: _TestConnection.test_context
    // `with a, b:` closes both; using them afterwards raises OSError. `close` consumes
    // the value here, so that use does not compile; the peer's view is what is left.
    let (a, b) = Pipe::duplex()?;
    a.send(&1729u32)?;
    assert_eq!(b.recv_timeout::<u32>(LONG)?, 1729);
    a.close()?;
    // End-of-file first: it comes once every copy of `a` is closed (a child another
    // test thread is starting may hold one until its exec), and after it a send is
    // refused for certain.
    assert!(matches!(b.recv_timeout::<u32>(LONG), Err(RecvError::Eof)));
    assert!(matches!(b.send(&1u8), Err(SendError::Disconnected)));
    b.close()?;
    Ok(())
}

// ------------------------------------------------------------------ _TestListener

#[test]
fn a_second_listener_on_a_bound_address_fails_and_the_first_keeps_serving() -> TestResult {
    // CPython: _TestListener.test_multiple_bind
    let dir = TempDir::new("bind")?;
    for fam in families(&dir) {
        let l = Listener::bind(fam, Some(KEY))?;
        match Listener::bind(l.address().clone(), Some(KEY)) {
            Err(ListenerError::Bind { source, .. }) => {
                assert_eq!(source.kind(), std::io::ErrorKind::AddrInUse, "{source}");
            }
            other => return Err(format!("{}: {other:?}", l.address()).into()),
        }
        // The failed bind did not disturb the first listener (nor remove its file).
        let (c, d) = connect_pair(&l, Some(KEY))?;
        c.send(&7u8)?;
        assert_eq!(d.recv_timeout::<u8>(LONG)?, 7);
    }
    Ok(())
}

#[test]
fn a_closed_listener_refuses_new_clients() -> TestResult {
    // CPython: _TestListener.test_context
    // After `with Listener() as l:` CPython's `l.accept()` raises OSError; `close`
    // consumes ours, so what is checked is that clients can no longer connect (and a
    // Unix path is gone), while connections made before stay usable.
    let dir = TempDir::new("ctx")?;
    for fam in families(&dir) {
        let l = Listener::bind(fam, Some(KEY))?;
        let addr = l.address().clone();
        let (c, d) = connect_pair(&l, Some(KEY))?;
        c.send(&1729u32)?;
        assert_eq!(d.recv_timeout::<u32>(LONG)?, 1729);
        l.close();
        if let Address::Unix(p) = &addr {
            assert!(!p.exists());
        }
        refused_once_closed(&addr, Some(KEY))?;
        d.send(&1u8)?;
        assert_eq!(c.recv_timeout::<u8>(LONG)?, 1);
    }
    Ok(())
}

#[test]
fn abstract_socket_listener_and_client() -> TestResult {
    // CPython: _TestListener.test_abstract_socket
    // CPython spells the name "\0something"; ours is `Address::Abstract(b"something")`.
    let name = format!("mp-ipc-cpy-abstract-{}", std::process::id()).into_bytes();
    let l = Listener::bind(Address::Abstract(name.clone()), None)?;
    assert_eq!(l.address(), &Address::Abstract(name.clone()));
    let (client, d) = connect_pair(&l, None)?;
    client.send(&1729u32)?;
    assert_eq!(d.recv_timeout::<u32>(LONG)?, 1729);
    drop(l);
    refused_once_closed(&Address::Abstract(name), None)
}

// ------------------------------------------------------------------ _TestListenerClient

#[test]
fn a_client_in_a_child_reaches_each_family() -> TestResult {
    // CPython: _TestListenerClient.test_listener_client
    let dir = TempDir::new("lc")?;
    for fam in families(&dir) {
        let l = Listener::bind(fam, Some(KEY))?;
        let kid = Kid::spawn("client_hello")?;
        kid.boot
            .send(&(WireAddr::of(l.address())?, Some(KEY.to_vec())))?;
        let conn = l.accept_timeout(LONG)?;
        assert_eq!(conn.recv_timeout::<String>(LONG)?, "hello");
        kid.join()?;
        assert!(matches!(
            conn.recv_timeout::<String>(LONG),
            Err(RecvError::Eof)
        ));
    }
    Ok(())
}

#[test]
fn a_client_that_wrote_and_left_before_accept_is_still_read() -> TestResult {
    // CPython: _TestListenerClient.test_issue14725
    // Without an authkey the client's connect completes in the backlog, so the child
    // connects, writes and exits before `accept` runs (CPython sleeps for that; here
    // the child is joined first). With an authkey the handshake needs `accept`, so the
    // child can only leave right after it: the frame it sent behind the handshake must
    // not be swallowed by the listener's handshake reads.
    let dir = TempDir::new("14725")?;
    for key in [None, Some(KEY)] {
        let l = Listener::bind(dir.sock(&format!("s{}", key.is_some())), key)?;
        let kid = Kid::spawn("client_hello")?;
        kid.boot
            .send(&(WireAddr::of(l.address())?, key.map(<[u8]>::to_vec)))?;
        if key.is_none() {
            kid.join()?;
            let conn = l.accept_timeout(LONG)?;
            assert_eq!(conn.recv_timeout::<String>(LONG)?, "hello");
            assert!(matches!(
                conn.recv_timeout::<String>(LONG),
                Err(RecvError::Eof)
            ));
        } else {
            let conn = l.accept_timeout(LONG)?;
            kid.join()?;
            assert_eq!(conn.recv_timeout::<String>(LONG)?, "hello");
            assert!(matches!(
                conn.recv_timeout::<String>(LONG),
                Err(RecvError::Eof)
            ));
        }
    }
    Ok(())
}

#[test]
fn a_client_polls_what_the_accepted_end_sent() -> TestResult {
    // CPython: _TestListenerClient.test_issue16955
    let dir = TempDir::new("16955")?;
    for fam in families(&dir) {
        let l = Listener::bind(fam, Some(KEY))?;
        let (c, a) = connect_pair(&l, Some(KEY))?;
        assert!(!c.poll(Some(Duration::ZERO))?);
        a.send_bytes(b"hello")?;
        assert!(c.poll(Some(LONG))?, "{}", l.address());
        assert_eq!(c.recv_bytes_timeout(LONG)?, b"hello");
    }
    Ok(())
}

// ------------------------------------------------------------------ _TestPoll

#[test]
fn an_empty_frame_makes_poll_true_and_poll_consumes_nothing() -> TestResult {
    // CPython: _TestPoll.test_empty_string
    for duplex in [true, false] {
        let (a, b) = Pipe::new(duplex)?;
        assert!(!a.poll(Some(Duration::ZERO))?);
        b.send_bytes(b"")?;
        assert!(a.poll(Some(Duration::ZERO))?);
        assert!(a.poll(Some(Duration::ZERO))?);
        assert_eq!(a.recv_bytes_timeout(LONG)?, b"");
        assert!(!a.poll(Some(Duration::ZERO))?);
    }
    Ok(())
}

#[test]
fn poll_sees_each_string_a_child_sends() -> TestResult {
    // CPython: _TestPoll.test_strings
    // CPython's child sleeps 0.1 s before each string and the parent polls in 10 ms
    // steps; here the child sends each string when asked, so "nothing yet" is
    // checked exactly before each request and `poll` waits (bounded) after it.
    let strings: Vec<Vec<u8>> = [&b"hello"[..], b"", b"a", b"b", b"", b"bye", b"", b"lop"]
        .iter()
        .map(|s| s.to_vec())
        .collect();
    let (a, b) = Pipe::duplex()?;
    let kid = Kid::spawn("strings")?;
    kid.boot.send(&(b, strings.clone()))?;
    for s in &strings {
        assert!(!a.poll(Some(Duration::ZERO))?);
        a.send(&())?;
        assert!(a.poll(Some(LONG))?);
        assert_eq!(&a.recv_bytes_timeout(LONG)?, s);
    }
    assert!(matches!(a.recv_bytes_timeout(LONG), Err(RecvError::Eof)));
    kid.join()
}

#[test]
fn polling_in_another_process_takes_no_part_of_a_frame() -> TestResult {
    // CPython: _TestPoll.test_boundaries
    // CPython only requires that one whole message is left; nothing at all may be
    // taken here, since `poll` never reads.
    let (r, w) = Pipe::new(false)?;
    let kid = Kid::spawn("boundaries")?;
    kid.boot.send(&r)?;
    kid.boot.recv_timeout::<()>(LONG)?; // the child is about to poll
    w.send_bytes(b"first")?;
    w.send_bytes(b"second")?;
    w.close()?;
    assert!(kid.boot.recv_timeout::<bool>(LONG)?, "the child's poll");
    kid.join()?;
    assert_eq!(r.recv_bytes_timeout(LONG)?, b"first");
    assert_eq!(r.recv_bytes_timeout(LONG)?, b"second");
    assert!(matches!(r.recv_bytes_timeout(LONG), Err(RecvError::Eof)));
    Ok(())
}

#[test]
fn frames_from_a_child_are_not_merged() -> TestResult {
    // CPython: _TestPoll.test_dont_merge
    let (a, b) = Pipe::duplex()?;
    assert!(!a.poll(Some(Duration::ZERO))?);
    assert!(!a.poll(Some(Duration::from_millis(100)))?);
    let kid = Kid::spawn("dont_merge")?;
    kid.boot.send(&b)?;
    drop(b);
    assert_eq!(a.recv_bytes_timeout(LONG)?, b"a");
    assert!(a.poll(Some(LONG))?);
    assert!(a.poll(Some(LONG))?);
    assert_eq!(a.recv_bytes_timeout(LONG)?, b"b");
    assert!(a.poll(Some(LONG))?);
    assert!(a.poll(Some(LONG))?);
    assert!(a.poll(Some(Duration::ZERO))?);
    assert_eq!(a.recv_bytes_timeout(LONG)?, b"cd");
    assert!(matches!(a.recv_bytes_timeout(LONG), Err(RecvError::Eof)));
    kid.join()
}

// ------------------------------------------------------------------ _TestPicklingConnections

#[test]
fn accepted_connections_and_sockets_handed_between_processes() -> TestResult {
    // CPython: _TestPicklingConnections.test_pickling
    // One child listens and hands each accepted connection to us; another connects to
    // it. CPython pickles the connection through its resource sharer; ours travels as
    // a handle inside a value. The raw socket goes as a `PassFd`.
    let dir = TempDir::new("pickling")?;
    let fams: Vec<WireAddr> = families(&dir)
        .iter()
        .map(WireAddr::of)
        .collect::<Result<_, _>>()?;
    let lkid = Kid::spawn("listener")?;
    let rkid = Kid::spawn("remote")?;
    lkid.boot.send(&fams)?;
    for fam in &fams {
        let msg = format!("This connection uses family {fam:?}").into_bytes();
        let address: WireAddr = lkid.boot.recv_timeout(LONG)?;
        rkid.boot.send(&Some((address, msg.clone())))?;
        let new_conn: Connection = lkid.boot.recv_timeout(LONG)?;
        assert_eq!(
            new_conn.recv_timeout::<Vec<u8>>(LONG)?,
            msg.to_ascii_uppercase()
        );
        // The remote client closed its end; the handed-over copy sees it.
        assert!(matches!(
            new_conn.recv_timeout::<Vec<u8>>(LONG),
            Err(RecvError::Eof)
        ));
    }
    rkid.boot.send(&None::<(WireAddr, Vec<u8>)>)?;

    let msg = b"This connection uses a normal socket".to_vec();
    let address: SocketAddr = lkid.boot.recv_timeout(LONG)?;
    rkid.boot.send(&(address, msg.clone()))?;
    let fd: PassFd = lkid.boot.recv_timeout(LONG)?;
    let mut stream = TcpStream::from(OwnedFd::from(fd));
    stream.set_read_timeout(Some(LONG))?;
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf)?;
    assert_eq!(buf, msg.to_ascii_uppercase());
    drop(stream);

    lkid.boot.send(&())?;
    lkid.join()?;
    rkid.join()
}

#[test]
fn pipe_ends_of_either_direction_handed_to_a_child() -> TestResult {
    // CPython: _TestPicklingConnections.test_access
    // The child's bootstrap connection plays CPython's `conn`/`child_conn` pair.
    let kid = Kid::spawn("access")?;

    let (r, w) = Pipe::new(false)?;
    kid.boot.send(&w)?;
    w.close()?;
    assert_eq!(r.recv_timeout::<String>(LONG)?, "all is well");
    // Our copy and the child's copy of the writer are both closed now.
    assert!(matches!(
        r.recv_timeout::<String>(LONG),
        Err(RecvError::Eof)
    ));
    r.close()?;

    let (r, w) = Pipe::new(false)?;
    kid.boot.send(&r)?;
    r.close()?;
    w.send(&"foobar")?;
    w.close()?;
    assert_eq!(kid.boot.recv_timeout::<String>(LONG)?, "foobar".repeat(2));
    kid.join()
}

// ------------------------------------------------------------------ TestWait

fn wait_on_pipes(slow: bool) -> TestResult {
    let mut readers = Vec::new();
    let mut kids = Vec::new();
    for _ in 0..4 {
        let (r, w) = Pipe::new(false)?;
        let kid = Kid::spawn("wait_pipe")?;
        kid.boot.send(&(w, slow))?;
        readers.push(r);
        kids.push(kid);
    }
    let mut messages: Vec<(u32, u32)> = Vec::new();
    while !readers.is_empty() {
        let ready = wait_indices(&readers, Some(LONG))?;
        if ready.is_empty() {
            return Err("no reader became ready".into());
        }
        for i in ready.into_iter().rev() {
            match readers[i].recv_timeout::<(u32, u32)>(LONG) {
                Ok(m) => messages.push(m),
                Err(RecvError::Eof) => {
                    readers.swap_remove(i).close()?;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    messages.sort_unstable();
    let mut expected: Vec<(u32, u32)> = kids
        .iter()
        .flat_map(|k| (0..10).map(move |i| (i, k.pid())))
        .collect();
    expected.sort_unstable();
    assert_eq!(messages, expected);
    for kid in kids {
        kid.join()?;
    }
    Ok(())
}

#[test]
fn wait_on_pipes_from_four_children() -> TestResult {
    // CPython: TestWait.test_wait
    wait_on_pipes(false)
}

#[test]
fn wait_on_pipes_from_four_slow_children() -> TestResult {
    // CPython: TestWait.test_wait_slow
    wait_on_pipes(true)
}

fn wait_on_sockets(slow: bool) -> TestResult {
    let l = TcpListener::bind("127.0.0.1:0")?;
    let addr = l.local_addr()?;
    let mut kids = Vec::new();
    for _ in 0..4 {
        let kid = Kid::spawn("wait_socket")?;
        kid.boot.send(&(addr, slow))?;
        kids.push(kid);
    }
    let mut readers = Vec::new();
    for _ in 0..4 {
        if wait(&[&l], Some(LONG))?.is_empty() {
            return Err("a child did not connect".into());
        }
        let (s, _) = l.accept()?;
        s.set_read_timeout(Some(LONG))?;
        readers.push((s, Vec::new()));
    }
    drop(l);
    let mut done = Vec::new();
    while !readers.is_empty() {
        let socks: Vec<&TcpStream> = readers.iter().map(|(s, _)| s).collect();
        let ready = wait_indices(&socks, Some(LONG))?;
        if ready.is_empty() {
            return Err("no socket became ready".into());
        }
        for i in ready.into_iter().rev() {
            let mut buf = [0u8; 32];
            let n = readers[i].0.read(&mut buf)?;
            if n == 0 {
                done.push(readers.swap_remove(i).1);
            } else {
                readers[i].1.extend_from_slice(&buf[..n]);
            }
        }
    }
    let expected: String = (0..10).map(|i| format!("{i}\n")).collect();
    assert_eq!(done.len(), 4);
    for got in done {
        assert_eq!(String::from_utf8(got)?, expected);
    }
    for kid in kids {
        kid.join()?;
    }
    Ok(())
}

#[test]
fn wait_on_sockets_from_four_children() -> TestResult {
    // CPython: TestWait.test_wait_socket
    wait_on_sockets(false)
}

#[test]
fn wait_on_sockets_from_four_slow_children() -> TestResult {
    // CPython: TestWait.test_wait_socket_slow
    wait_on_sockets(true)
}

#[test]
fn wait_times_out_empty_then_reports_the_ready_end() -> TestResult {
    // CPython: TestWait.test_wait_timeout (without the elapsed-time assertion)
    let (a, b) = Pipe::duplex()?;
    let objs = [&a, &b];
    let res = wait(&objs, Some(Duration::from_millis(200)))?;
    assert!(res.is_empty());
    b.send(&None::<u8>)?;
    let res = wait(&objs, Some(LONG))?;
    assert_eq!(res.len(), 1);
    assert!(std::ptr::eq(*res[0], &a));
    Ok(())
}

#[test]
fn wait_mixes_a_process_sentinel_with_connections() -> TestResult {
    // CPython: TestWait.test_wait_integer
    // CPython's sentinel is an integer; ours is any `AsFd`, here the child's pidfd.
    // CPython's child sleeps three seconds; ours exits when told, so "not yet" is
    // checked exactly, and no elapsed time is asserted.
    let (a, b) = Pipe::duplex()?;
    let kid = Kid::spawn("sentinel")?;
    let sentinel = kid.sentinel().try_clone_to_owned()?;
    {
        let objs: [&dyn AsFd; 3] = [&a, &sentinel, &b];
        assert!(wait_indices(&objs, Some(Duration::ZERO))?.is_empty());
        kid.boot.send(&())?;
        assert_eq!(wait_indices(&objs, Some(LONG))?, [1]);
        a.send(&None::<u8>)?;
        assert_eq!(wait_indices(&objs, Some(LONG))?, [1, 2]);
        b.send(&None::<u8>)?;
        assert_eq!(wait_indices(&objs, Some(LONG))?, [0, 1, 2]);
    }
    kid.join()
}

#[test]
fn wait_with_a_zero_timeout_returns_at_once() -> TestResult {
    // CPython: TestWait.test_neg_timeout
    // A negative `Duration` cannot be written; zero is the "do not wait" timeout.
    // `Duration::MAX` means no deadline and must not overflow.
    let (a, b) = Pipe::duplex()?;
    assert!(wait(&[&a], Some(Duration::ZERO))?.is_empty());
    b.send_bytes(b"x")?;
    assert_eq!(wait_indices(&[&a], Some(Duration::MAX))?, [0]);
    a.close()?;
    b.close()?;
    Ok(())
}

// ------------------------------------------------------------------ OtherTest

#[test]
fn delivering_a_challenge_to_a_bogus_answer_fails() -> TestResult {
    // CPython: OtherTest.test_deliver_challenge_auth_failure
    // CPython's fake connection answers any read with b'something bogus'; ours is a
    // raw socket peer that reads our challenge frame and answers the same.
    let (ours, theirs) = Pipe::duplex()?;
    let mut peer = std::os::unix::net::UnixStream::from(theirs.into_fd());
    peer.set_read_timeout(Some(LONG))?;
    let t = std::thread::spawn(move || {
        auth::deliver_challenge(
            &ours,
            b"abc",
            &HandshakeConfig::default().with_timeout(LONG),
        )
    });
    let challenge = read_frame(&mut peer)?;
    assert!(challenge.starts_with(auth::CHALLENGE));
    write_frame(&mut peer, b"something bogus")?;
    let r = t.join().map_err(|_| "deliver thread panicked")?;
    assert!(matches!(r, Err(AuthError::WrongDigest)), "{r:?}");
    // And the peer was told.
    assert_eq!(read_frame(&mut peer)?, auth::FAILURE);
    Ok(())
}

#[test]
fn answering_a_challenge_then_a_bogus_verdict_fails() -> TestResult {
    // CPython: OtherTest.test_answer_challenge_auth_failure
    // The fake peer sends a 3.11-style challenge (20 random bytes), takes our answer,
    // and replies b'something bogus' instead of #WELCOME#.
    use hmac::Mac;
    let (ours, theirs) = Pipe::duplex()?;
    let mut peer = std::os::unix::net::UnixStream::from(theirs.into_fd());
    peer.set_read_timeout(Some(LONG))?;
    let nonce: Vec<u8> = (0..20u8).map(|i| i.wrapping_mul(37) ^ 0x5a).collect();
    let mut challenge = auth::CHALLENGE.to_vec();
    challenge.extend_from_slice(&nonce);
    write_frame(&mut peer, &challenge)?;
    let t = std::thread::spawn(move || {
        auth::answer_challenge(
            &ours,
            b"abc",
            &HandshakeConfig::default().with_timeout(LONG),
        )
    });
    let answer = read_frame(&mut peer)?;
    // A 3.11 peer expects the raw HMAC-MD5 of its 20 bytes under the key.
    let mut mac = hmac::Hmac::<md5::Md5>::new_from_slice(b"abc").map_err(|e| e.to_string())?;
    mac.update(&nonce);
    assert_eq!(answer, mac.finalize().into_bytes().to_vec());
    write_frame(&mut peer, b"something bogus")?;
    let r = t.join().map_err(|_| "answer thread panicked")?;
    assert!(matches!(r, Err(AuthError::Rejected)), "{r:?}");
    Ok(())
}

fn read_frame(s: &mut std::os::unix::net::UnixStream) -> std::io::Result<Vec<u8>> {
    let mut h = [0u8; 4];
    s.read_exact(&mut h)?;
    let mut body = vec![0u8; u32::from_be_bytes(h) as usize];
    s.read_exact(&mut body)?;
    Ok(body)
}

fn write_frame(s: &mut std::os::unix::net::UnixStream, payload: &[u8]) -> std::io::Result<()> {
    let mut v = (payload.len() as u32).to_be_bytes().to_vec();
    v.extend_from_slice(payload);
    s.write_all(&v)
}

// ------------------------------------------------------------------ TestInvalidHandle

#[test]
fn descriptors_that_are_not_connections_give_typed_errors() -> TestResult {
    // CPython: TestInvalidHandle.test_invalid_handles
    // CPython wraps arbitrary integers (44977608, -1) and checks that `poll` raises
    // rather than crashing. `Connection::from_fd` takes an `OwnedFd`, which cannot be
    // negative or closed, so those cases cannot be written; what can be wrapped is an
    // open descriptor that is no connection. Every call must answer or fail typed,
    // within its bound, without a panic.

    // A read-only file: detected as a byte stream; reads see end-of-file at once,
    // writes fail with the OS error.
    let null = Connection::from_fd(std::fs::File::open("/dev/null")?.into());
    assert_eq!(null.transport(), Transport::Pipe);
    assert!(null.poll(Some(Duration::ZERO))?);
    assert!(matches!(null.recv_bytes_timeout(LONG), Err(RecvError::Eof)));
    assert!(matches!(null.send_bytes(b"x"), Err(SendError::Io(_))));

    // A stream socket that was never connected.
    let sock = rustix::net::socket_with(
        rustix::net::AddressFamily::UNIX,
        rustix::net::SocketType::STREAM,
        rustix::net::SocketFlags::CLOEXEC,
        None,
    )?;
    let loose = Connection::from_fd(sock);
    assert_eq!(loose.transport(), Transport::Unix);
    let r = loose.recv_bytes_timeout(LONG);
    assert!(matches!(r, Err(RecvError::Io(_) | RecvError::Eof)), "{r:?}");
    let s = loose.send_bytes(b"x");
    assert!(
        matches!(s, Err(SendError::Io(_) | SendError::Disconnected)),
        "{s:?}"
    );

    // CPython refuses a connection neither readable nor writable at construction
    // (ValueError); ours can be built but refuses every operation.
    let (x, _y) = Pipe::duplex()?;
    let inert = Connection::from_fd_with(x.into_fd(), Transport::Unix, false, false);
    assert!(matches!(inert.recv::<u8>(), Err(RecvError::Closed)));
    assert!(matches!(inert.send(&1u8), Err(SendError::Closed)));
    assert!(matches!(
        inert.poll(Some(Duration::ZERO)),
        Err(RecvError::Closed)
    ));
    Ok(())
}

// ------------------------------------------------------------------ TestTimeouts

#[test]
fn connections_made_by_listener_and_client_block_as_long_as_the_peer_takes() -> TestResult {
    // CPython: TestTimeouts.test_timeout (issue #6056)
    // CPython sets a 0.1 s default socket timeout and checks that its connections
    // ignore it. Rust has no process-wide socket timeout; the hazard it stands for is
    // a connection left non-blocking, where a blocking `recv` would fail early. So the
    // descriptors Listener::accept and Client::connect return must be blocking, and
    // blocking receives across a process must wait for the peer. The blocking `recv`s
    // below are bounded by the child's life: its calls are all bounded, and its ends
    // close when it exits.
    let (parent, child) = Pipe::duplex()?;
    let l = Listener::bind(SocketAddr::from(([127, 0, 0, 1], 0)), Some(KEY))?;
    assert!(!is_nonblocking(&parent)?);
    let kid = Kid::spawn("timeouts")?;
    kid.boot.send(&(child, WireAddr::of(l.address())?))?;
    assert_eq!(parent.recv::<i32>()?, 123);
    parent.close()?;
    let conn = l.accept_timeout(LONG)?;
    assert!(
        !is_nonblocking(&conn)?,
        "accepted connection is non-blocking"
    );
    let (n, client_nonblocking): (i32, bool) = conn.recv()?;
    assert_eq!(n, 456);
    assert!(
        !client_nonblocking,
        "Client::connect left the socket non-blocking"
    );
    assert!(matches!(conn.recv::<i32>(), Err(RecvError::Eof)));
    kid.join()
}
