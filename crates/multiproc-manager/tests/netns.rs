//! A manager shared by three "hosts": the server and two clients each run in a network
//! namespace of their own, joined to the server's by veth pairs, so they reach each
//! other only through real (virtual) network interfaces and their own routing — not
//! through 127.0.0.1.
//!
//! The test builds the namespaces itself and removes them afterwards (a guard deletes
//! them even when an assertion fails). Where namespaces can't be made (not root, no
//! `ip`, no `CAP_NET_ADMIN` in a container), it prints why and passes without running:
//! `tests/manager.rs::separate_processes_over_tcp` covers the same protocol on loopback.
//!
//! Topology (X is derived from the test's pid so parallel runs do not collide):
//!
//! ```text
//!   client ns c1              server ns                client ns c2
//!   10.213.X.2/30 ── veth ── 10.213.X.1/30
//!                            10.214.X.1/30 ── veth ── 10.214.X.2/30
//! ```
//!
//! The server binds `0.0.0.0:0` inside its namespace (so both of its addresses reach
//! it) and prints its port; c1's producer and c2's consumer share a queue and a dict
//! through it; a client with the wrong key (from c2) is refused; a checker in c1
//! verifies the dict and shuts the server down.

use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use multiproc_manager::{Address, DictProxy, Error, Manager, QueueProxy, Registry};

use multiproc_test_support::{BOUND, reap};

type R = Result<(), Box<dyn std::error::Error>>;

const KEY: &[u8] = b"netns key";

/// The body of every process run inside a namespace; a no-op as an ordinary test.
#[test]
fn netns_child_entry() -> R {
    let Ok(role) = std::env::var("MPM_NS_ROLE") else {
        return Ok(());
    };
    let arg = std::env::var("MPM_NS_ARG").unwrap_or_default();
    match role.as_str() {
        "server" => {
            let m =
                Manager::serve_in_thread(Address::Tcp(arg.parse()?), Some(KEY), Registry::new())?;
            let q = m.queue_of::<i64>()?;
            let d = m.dict_of::<i64, i64>()?;
            m.publish("jobs", &q)?;
            m.publish("results", &d)?;
            let Some(Address::Tcp(a)) = m.address().cloned() else {
                return Err("no tcp address".into());
            };
            println!("PORT {}", a.port());
            // serve until a client shuts the manager down (bounded: a lost checker
            // must not leave a server behind)
            let deadline = Instant::now() + 2 * BOUND;
            while m.ping().is_ok() && Instant::now() < deadline {
                std::thread::park_timeout(Duration::from_millis(50));
            }
        }
        "producer" => {
            let m = Manager::connect(Address::Tcp(arg.parse()?), Some(KEY))?;
            let q: QueueProxy<i64> = m.lookup("jobs")?;
            for i in 0..20 {
                q.put(i)?;
            }
        }
        "consumer" => {
            let m = Manager::connect(Address::Tcp(arg.parse()?), Some(KEY))?;
            let q: QueueProxy<i64> = m.lookup("jobs")?;
            let d: DictProxy<i64, i64> = m.lookup("results")?;
            for _ in 0..20 {
                let i = q.get_timeout(BOUND)?;
                d.insert(i, i * i)?;
            }
            // the wrong key, from this host too, is refused
            if !matches!(
                Manager::connect(Address::Tcp(arg.parse()?), Some(b"not the key")),
                Err(Error::Auth(_))
            ) {
                return Err("a client with the wrong key was not refused".into());
            }
        }
        "checker" => {
            let m = Manager::connect(Address::Tcp(arg.parse()?), Some(KEY))?;
            let d: DictProxy<i64, i64> = m.lookup("results")?;
            let n = d.len()?;
            let seven = d.get_item(7)?;
            m.shutdown()?;
            if n != 20 || seven != 49 {
                return Err(format!("results: {n} entries, d[7] = {seven}").into());
            }
        }
        other => return Err(format!("unknown role {other}").into()),
    }
    Ok(())
}

/// Runs `cmd` and reports whether it succeeded (its stderr is returned on failure).
fn run(cmd: &[&str]) -> Result<(), String> {
    let out = Command::new(cmd[0])
        .args(&cmd[1..])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{}: {e}", cmd.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}: {}",
            cmd.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The namespaces of one run; dropping it deletes them (and with them the veths).
struct Namespaces {
    names: Vec<String>,
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        for n in &self.names {
            let _ = run(&["ip", "netns", "delete", n]);
        }
    }
}

struct Topology {
    _guard: Namespaces,
    server: String,
    c1: String,
    c2: String,
    /// The server's address as seen from c1 and from c2.
    via_c1: String,
    via_c2: String,
}

/// Builds the three namespaces and two veth pairs, or says why it can't.
fn topology() -> Result<Topology, String> {
    let pid = std::process::id();
    let x = pid % 250 + 1;
    let tag = format!("mpm{pid}");
    let (server, c1, c2) = (
        format!("{tag}-srv"),
        format!("{tag}-c1"),
        format!("{tag}-c2"),
    );
    let mut guard = Namespaces { names: Vec::new() };
    for n in [&server, &c1, &c2] {
        run(&["ip", "netns", "add", n])?;
        guard.names.push(n.clone());
        run(&["ip", "-n", n, "link", "set", "lo", "up"])?;
    }
    // interface names are at most 15 bytes: "v<pid>a0" fits for any pid
    for (side, client, net) in [("a", &c1, 213), ("b", &c2, 214)] {
        let (s_if, c_if) = (format!("v{pid}{side}0"), format!("v{pid}{side}1"));
        run(&[
            "ip", "link", "add", &s_if, "netns", &server, "type", "veth", "peer", "name", &c_if,
            "netns", client,
        ])?;
        let s_addr = format!("10.{net}.{x}.1/30");
        let c_addr = format!("10.{net}.{x}.2/30");
        run(&["ip", "-n", &server, "addr", "add", &s_addr, "dev", &s_if])?;
        run(&["ip", "-n", client, "addr", "add", &c_addr, "dev", &c_if])?;
        run(&["ip", "-n", &server, "link", "set", &s_if, "up"])?;
        run(&["ip", "-n", client, "link", "set", &c_if, "up"])?;
    }
    Ok(Topology {
        _guard: guard,
        via_c1: format!("10.213.{x}.1"),
        via_c2: format!("10.214.{x}.1"),
        server,
        c1,
        c2,
    })
}

/// Starts this test binary inside namespace `ns` as `role`.
fn in_ns(ns: &str, role: &str, arg: &str, stdout: Stdio) -> std::io::Result<Child> {
    Command::new("ip")
        .args(["netns", "exec", ns])
        .arg(std::env::current_exe()?)
        .args([
            "--exact",
            "netns_child_entry",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("MPM_NS_ROLE", role)
        .env("MPM_NS_ARG", arg)
        .stdin(Stdio::null())
        .stdout(stdout)
        .spawn()
}

/// Issue 7's multi-host test: server, producer and consumer on three network
/// namespaces joined by veth; the wrong key is refused; the results arrive.
#[test]
fn three_hosts_in_network_namespaces() -> R {
    let topo = match topology() {
        Ok(t) => t,
        Err(why) => {
            eprintln!(
                "skipped three_hosts_in_network_namespaces: cannot create network namespaces ({why})"
            );
            return Ok(());
        }
    };
    let mut server = in_ns(&topo.server, "server", "0.0.0.0:0", Stdio::piped())?;
    let out = server.stdout.take().ok_or("server stdout")?;
    // read the port on a thread so a silent server cannot hang the test
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            if let Some(p) = line.split("PORT ").nth(1) {
                let _ = tx.send(p.trim().parse::<u16>().ok());
            }
        }
    });
    let Some(port) = rx.recv_timeout(BOUND).ok().flatten() else {
        let _ = server.kill();
        let _ = server.wait();
        return Err("the server did not report its port".into());
    };
    let from_c1 = format!("{}:{port}", topo.via_c1);
    let from_c2 = format!("{}:{port}", topo.via_c2);

    let consumer = in_ns(&topo.c2, "consumer", &from_c2, Stdio::inherit())?;
    let producer = in_ns(&topo.c1, "producer", &from_c1, Stdio::inherit())?;
    let clients_ok = reap(producer) & reap(consumer);
    // the checker shuts the server down whatever the clients did
    let checked = reap(in_ns(&topo.c1, "checker", &from_c1, Stdio::inherit())?);
    let server_ok = reap(server);
    assert!(clients_ok, "a client process failed");
    assert!(
        checked,
        "the checker did not find the 20 results or could not shut the server down"
    );
    assert!(server_ok, "the server did not exit cleanly after shutdown");
    Ok(())
}
