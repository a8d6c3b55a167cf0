//! Resource hygiene under stress (issue #13): fork servers killed with requests in
//! flight are all reaped; joined children hold no descriptors.
//!
//! Each case runs inside a Spawn child of its own (a *sandbox*), so that its counts —
//! the zombie children of one process, its open descriptors — are not disturbed by the
//! other tests of this binary, which run concurrently.

use std::time::{Duration, Instant};

use multiproc_process::{Process, StartMethod};
use multiproc_test_support::sandbox;

use crate::{BOUND, TestResult};

type Scenario<T> = Result<T, String>;

fn s(e: impl std::fmt::Display) -> String {
    e.to_string()
}

fn noop() {}

fn my_ppid() -> u32 {
    rustix::process::getppid().map_or(0, |p| p.as_raw_nonzero().get() as u32)
}

/// `(state, ppid)` from `/proc/<pid>/stat`.
fn state_and_ppid(pid: u32) -> Option<(char, u32)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut rest = text.rsplit_once(')')?.1.split_whitespace();
    let state = rest.next()?.chars().next()?;
    let ppid = rest.next()?.parse().ok()?;
    Some((state, ppid))
}

/// The zombie children of this process.
fn my_zombies() -> Vec<u32> {
    let me = std::process::id();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return vec![u32::MAX];
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| state_and_ppid(pid) == Some(('Z', me)))
        .collect()
}

/// Kills this process's fork server `rounds` times, each time while other threads
/// have requests in flight; then (bounded) waits for its zombie children to be gone.
/// Returns the servers killed and the zombies left. This process's only children are
/// its fork servers (ForkServer children are the servers').
fn kill_servers(rounds: u32) -> Scenario<(Vec<u32>, Vec<u32>)> {
    let mut killed = Vec::new();
    for _ in 0..rounds {
        // The current server (a new one if the last was killed): the OS parent of a
        // ForkServer child. A start racing with a death may fail; try again.
        let mut server = None;
        for _ in 0..5 {
            let got = Process::new(my_ppid, ())
                .start_method(StartMethod::ForkServer)
                .start()
                .map_err(s)
                .and_then(|p| p.join_value().map_err(s));
            if let Ok(pid) = got {
                server = Some(pid);
                break;
            }
        }
        let server = server.ok_or("no fork server")?;
        let busy: Vec<_> = (0..3)
            .map(|_| {
                std::thread::spawn(|| {
                    for _ in 0..3 {
                        if let Ok(p) = Process::new(noop, ())
                            .start_method(StartMethod::ForkServer)
                            .start()
                        {
                            let _ = p.join_timeout(BOUND);
                        }
                    }
                })
            })
            .collect();
        let pid = rustix::process::Pid::from_raw(server as i32).ok_or("no server pid")?;
        rustix::process::kill_process(pid, rustix::process::Signal::KILL).map_err(s)?;
        killed.push(server);
        for t in busy {
            t.join().map_err(|_| "a requesting thread panicked")?;
        }
    }
    // One more start finds the last one dead (and reaps it), as CPython's
    // `ensure_running` does.
    let mut again = false;
    for _ in 0..5 {
        if let Ok(p) = Process::new(noop, ())
            .start_method(StartMethod::ForkServer)
            .start()
        {
            again = p.join_timeout(BOUND).map_err(s)?;
            break;
        }
    }
    if !again {
        return Err("no start after the last kill".into());
    }
    let end = Instant::now() + BOUND;
    loop {
        let zombies = my_zombies();
        if zombies.is_empty() || Instant::now() > end {
            return Ok((killed, zombies));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn thirty_kills() -> Scenario<(Vec<u32>, Vec<u32>)> {
    kill_servers(30)
}

#[test]
fn killed_fork_servers_are_all_reaped() -> TestResult {
    // #13: a fork server that died with a request in flight was forgotten unreaped
    // (1–2 zombies per 38 kills, for the parent's lifetime).
    let (killed, zombies) = sandbox(thirty_kills)?;
    assert_eq!(killed.len(), 30);
    assert!(
        zombies.is_empty(),
        "zombies {zombies:?} (killed servers {killed:?})"
    );
    Ok(())
}

/// Waits (bounded) until `path` exists.
fn wait_for_file(path: String) {
    let end = Instant::now() + BOUND;
    while !std::path::Path::new(&path).exists() && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

/// Per start method: descriptors open before starting `n` concurrent children, and
/// after joining them all and dropping their handles (with no other start or
/// `active_children()` in between).
fn fds_around_joins(n: usize) -> Scenario<Vec<(String, usize, usize)>> {
    let mut out = Vec::new();
    for m in crate::METHODS {
        // What lives as long as the process (the fork server and its sockets) first.
        Process::new(noop, ())
            .start_method(m)
            .start()
            .map_err(s)?
            .join()
            .map_err(s)?;
        // The warm-up child off the list of children.
        multiproc_process::active_children();
        let before = fd_count();
        let go = std::env::temp_dir()
            .join(format!("multiproc-fds-go-{}-{m}", std::process::id()))
            .to_string_lossy()
            .into_owned();
        let _ = std::fs::remove_file(&go);
        let mut kids = Vec::with_capacity(n);
        for _ in 0..n {
            kids.push(
                Process::new(wait_for_file, (go.clone(),))
                    .start_method(m)
                    .start()
                    .map_err(s)?,
            );
        }
        // All `n` are running at once; now let them finish.
        std::fs::write(&go, b"go").map_err(s)?;
        for p in &kids {
            if !p.join_timeout(BOUND).map_err(s)? {
                return Err(format!("{m}: a child did not finish"));
            }
        }
        drop(kids);
        let _ = std::fs::remove_file(&go);
        out.push((m.to_string(), before, fd_count()));
    }
    Ok(out)
}

fn two_hundred_children() -> Scenario<Vec<(String, usize, usize)>> {
    fds_around_joins(200)
}

#[test]
fn joined_children_hold_no_descriptors() -> TestResult {
    // #13: joined children kept two descriptors each (the result socket and the pidfd)
    // until the next `start()` or `active_children()`.
    for (m, before, after) in sandbox(two_hundred_children)? {
        assert_eq!(after, before, "{m}: descriptors before and after");
    }
    Ok(())
}
