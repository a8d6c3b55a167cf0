//! Slow-loris against a `Listener` (#13 item 2): a few hundred unauthenticated peers
//! that trickle a byte a second or say nothing, and reconnect as soon as they are
//! dropped, so that they keep the listener's handshake table full for the whole check.
//! A legitimate client must still be served, while the attackers are connected.
//! Latencies are printed (run with `--nocapture`); nothing is asserted on time.

use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use multiproc_ipc::{Address, Client, Listener, ListenerError};

use crate::TestResult;

const KEY: &[u8] = b"slow-loris key";
const LONG: Duration = Duration::from_secs(60);

trait Stream: Read + Write + AsFd + Send {}
impl<T: Read + Write + AsFd + Send> Stream for T {}

fn connect_raw(addr: &Address) -> std::io::Result<Box<dyn Stream>> {
    let s: Box<dyn Stream> = match addr {
        Address::Tcp(a) => Box::new(std::net::TcpStream::connect_timeout(
            a,
            Duration::from_millis(500),
        )?),
        Address::Abstract(name) => {
            use std::os::linux::net::SocketAddrExt;
            let a = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
            Box::new(std::os::unix::net::UnixStream::connect_addr(&a)?)
        }
        Address::Unix(p) => Box::new(std::os::unix::net::UnixStream::connect(p)?),
        _ => return Err(ErrorKind::Unsupported.into()),
    };
    rustix::io::ioctl_fionbio(s.as_fd(), true)?;
    Ok(s)
}

/// Raises the soft descriptor limit to the hard one (a few hundred sockets each side).
fn raise_nofile() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut l = getrlimit(Resource::Nofile);
    if l.current < l.maximum {
        l.current = l.maximum;
        let _ = setrlimit(Resource::Nofile, l);
    }
}

struct Attack {
    stop: Arc<AtomicBool>,
    /// Attacker connections the listener has not closed, as of the last sweep.
    open: Arc<AtomicUsize>,
    /// Connections made so far (reconnections included).
    made: Arc<AtomicUsize>,
    thread: std::thread::JoinHandle<()>,
}

/// `n` peers, half trickling one byte of an answer a second, half silent; each one
/// dropped by the listener is replaced at once.
fn start_attack(addr: &Address, n: usize) -> Attack {
    let stop = Arc::new(AtomicBool::new(false));
    let open = Arc::new(AtomicUsize::new(0));
    let made = Arc::new(AtomicUsize::new(0));
    let (s, o, m, addr) = (stop.clone(), open.clone(), made.clone(), addr.clone());
    let thread = std::thread::spawn(move || {
        let mut slots: Vec<Option<(Box<dyn Stream>, Instant)>> = (0..n).map(|_| None).collect();
        let answer = b"{sha256}0123456789abcdef0123456789abcdef";
        let mut buf = [0u8; 256];
        while !s.load(Ordering::Relaxed) {
            let mut alive = 0;
            for (i, slot) in slots.iter_mut().enumerate() {
                if slot.is_none() {
                    if let Ok(c) = connect_raw(&addr) {
                        *slot = Some((c, Instant::now()));
                        m.fetch_add(1, Ordering::Relaxed);
                    }
                }
                let Some((c, since)) = slot else { continue };
                let closed = match c.read(&mut buf) {
                    Ok(0) => true,
                    Ok(_) => false, // the challenge: ignored
                    Err(e) => e.kind() != ErrorKind::WouldBlock,
                };
                let mut closed = closed;
                if !closed && i % 2 == 1 && since.elapsed() >= Duration::from_secs(1) {
                    // One more byte of a plausible answer, a second after the last.
                    let k = (since.elapsed().as_secs() as usize) % answer.len();
                    closed = c.write(&answer[k..=k]).is_err();
                    *since = Instant::now();
                }
                if closed {
                    *slot = None;
                } else {
                    alive += 1;
                }
            }
            o.store(alive, Ordering::Relaxed);
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    Attack {
        stop,
        open,
        made,
        thread,
    }
}

/// Serves echo requests until `stop`; counts refused peers.
fn serve(listener: Arc<Listener>, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<TestResult> {
    std::thread::spawn(move || -> TestResult {
        while !stop.load(Ordering::Relaxed) {
            match listener.accept_timeout(Duration::from_millis(200)) {
                Ok(c) => {
                    std::thread::spawn(move || {
                        if let Ok(s) = c.recv_timeout::<String>(LONG) {
                            let _ = c.send(&format!("echo {s}"));
                        }
                    });
                }
                Err(ListenerError::Timeout) => {}
                Err(e) if e.is_per_connection() => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    })
}

/// Runs `attackers` slow peers against a listener on `addr` and serves `clients`
/// legitimate clients one after another meanwhile; returns their latencies.
fn under_attack(
    addr: Address,
    attackers: usize,
    clients: usize,
) -> Result<Vec<Duration>, Box<dyn std::error::Error + Send + Sync>> {
    raise_nofile();
    let listener = Arc::new(Listener::bind(addr, Some(KEY))?);
    let addr = listener.address().clone();
    let stop = Arc::new(AtomicBool::new(false));
    let server = serve(listener.clone(), stop.clone());
    let attack = start_attack(&addr, attackers);
    // Wait until every attacker has connected, and then some have been replaced:
    // the table is full and being fought over.
    let t0 = Instant::now();
    while attack.made.load(Ordering::Relaxed) < attackers + 64 {
        assert!(t0.elapsed() < LONG, "attackers never all connected");
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut latencies = Vec::new();
    let mut min_open = usize::MAX;
    for i in 0..clients {
        let start = Instant::now();
        let c = Client::connect_timeout(&addr, Some(KEY), Duration::from_secs(30))?;
        c.send(&format!("legit {i}"))?;
        assert_eq!(
            c.recv_timeout::<String>(Duration::from_secs(30))?,
            format!("echo legit {i}")
        );
        latencies.push(start.elapsed());
        // The attack is still on: its peers are connected, and it keeps them so.
        assert!(!attack.thread.is_finished());
        // (The listener holds up to 64 of them in its table, the kernel more in the
        // backlog; the rest are being replaced.)
        let open = attack.open.load(Ordering::Relaxed);
        min_open = min_open.min(open);
        assert!(open >= 32, "only {open} of {attackers} attackers connected");
    }
    println!(
        "slow-loris: {attackers} attackers made {} connections; at least {min_open} connected at each legit completion",
        attack.made.load(Ordering::Relaxed)
    );
    attack.stop.store(true, Ordering::Relaxed);
    attack.thread.join().map_err(|_| "attacker panicked")?;
    stop.store(true, Ordering::Relaxed);
    server.join().map_err(|_| "server panicked")??;
    Ok(latencies)
}

fn report(what: &str, mut l: Vec<Duration>) {
    l.sort();
    println!(
        "slow-loris {what}: legit latency median {:?}, max {:?} ({} clients)",
        l[l.len() / 2],
        l[l.len() - 1],
        l.len()
    );
}

#[test]
fn a_legit_tcp_client_is_served_under_slow_loris() -> TestResult {
    for attackers in [100, 400] {
        let l = under_attack(Address::Tcp("127.0.0.1:0".parse()?), attackers, 5)?;
        report(&format!("tcp, {attackers} attackers"), l);
    }
    Ok(())
}

#[test]
fn a_legit_abstract_socket_client_is_served_under_slow_loris() -> TestResult {
    let name = format!("mp-ipc-loris-{}", std::process::id()).into_bytes();
    let l = under_attack(Address::Abstract(name), 400, 3)?;
    report("abstract unix, 400 attackers", l);
    Ok(())
}
