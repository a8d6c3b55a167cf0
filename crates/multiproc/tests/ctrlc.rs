//! Ctrl-C on a terminal: SIGINT to the whole foreground process group.
//!
//! Each scenario re-executes this test binary in a process group of its own
//! (`process_group(0)`, as a shell does for a job) with a role in the environment; the
//! role prints `running` once the program is in the state under test (a pool `map`
//! with long tasks, a queue pipeline blocked in `put`, a manager with clients), under
//! each start method. The test then sends SIGINT to the group (`kill(-pgid)`), and
//! checks that the program ends, that no process of the group remains (orphans come
//! back to this process, a child subreaper, which reaps them: no zombie), and that the
//! named shared memory it created is gone from `/dev/shm`. Bounds are hang guards.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use multiproc::process::{catch_interrupts, raise_interrupt};
use multiproc::{Pool, Process, Queue, SharedMemory, StartMethod};
use rustix::process::{Pid, Signal, WaitOptions};

const ROLE: &str = "MULTIPROC_CTRLC_ROLE";
/// Generous: a hang guard on a busy 2-core machine, not a speed check.
const BOUND: Duration = Duration::from_secs(60);
const METHODS: [StartMethod; 3] = [
    StartMethod::Fork,
    StartMethod::Spawn,
    StartMethod::ForkServer,
];

/// One scenario at a time: orphans of the group are reaped by this process.
static SERIAL: Mutex<()> = Mutex::new(());

fn long_task(x: u64) -> u64 {
    println!("running");
    std::thread::sleep(Duration::from_secs(300));
    x
}

fn sleep_long() {
    std::thread::sleep(Duration::from_secs(300));
}

fn slow_consumer(q: Queue<Vec<u8>>) {
    println!("running");
    std::thread::sleep(Duration::from_secs(300));
    let _ = q.get();
}

fn manager_client(l: multiproc::manager::ListProxy) {
    let _ = l.append(1);
    println!("running");
    loop {
        if l.len().is_err() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn method_of(s: &str) -> StartMethod {
    match s {
        "fork" => StartMethod::Fork,
        "spawn" => StartMethod::Spawn,
        _ => StartMethod::ForkServer,
    }
}

/// The programs under test, run when this binary is re-executed with a role.
fn run_role(role: &str) {
    let (what, method) = role.split_once(':').expect("role is what:method");
    let m = method_of(method);
    // A named block, to check it does not outlive the program.
    let shm = SharedMemory::create(Some(&format!("mp-ctrlc-{}", std::process::id())), 4096)
        .expect("shm created");
    match what {
        "pool" => {
            let pool = Pool::builder()
                .processes(2)
                .start_method(m)
                .build()
                .expect("pool");
            let _ = pool.map(long_task, 0..8);
        }
        "pipeline" => {
            let q = Queue::with_maxsize(2).expect("queue");
            let p = Process::new(slow_consumer, (q.clone(),))
                .start_method(m)
                .start()
                .expect("consumer");
            // Blocks once the queue is full: nobody reads.
            for _ in 0..100 {
                q.put(vec![0u8; 1024]).expect("put");
            }
            let _ = p.join();
        }
        "manager" => {
            let manager = multiproc::Manager::start_with::<()>(Some(m)).expect("manager");
            let l = manager.list().expect("list");
            let clients: Vec<_> = (0..2)
                .map(|_| {
                    Process::new(manager_client, (l.clone(),))
                        .start_method(m)
                        .start()
                        .expect("client")
                })
                .collect();
            for c in &clients {
                let _ = c.join();
            }
        }
        "graceful" => {
            // The documented graceful shutdown: workers ignore SIGINT, the parent
            // catches it, stops the pool and returns normally.
            let ctrl_c = catch_interrupts().expect("handler");
            let pool = Pool::builder()
                .processes(2)
                .start_method(m)
                .workers_ignore_sigint(true)
                .build()
                .expect("pool");
            let pending = pool.map_async(long_task, 0..8);
            assert!(ctrl_c.wait_timeout(Duration::from_secs(300)).expect("poll"));
            pool.terminate();
            drop(pending);
            drop(pool);
            drop(shm);
            println!("graceful");
            std::process::exit(0);
        }
        "ignorer" => {
            // A non-daemonic child that ignores SIGINT, and a parent that does not
            // catch it: the parent dies, the child runs on (as in CPython). The test
            // checks that the checker sees it.
            let p = Process::new(long_task, (0,))
                .start_method(m)
                .ignore_sigint(true)
                .start()
                .expect("child");
            let _ = p.join();
        }
        other => panic!("unknown role {other}"),
    }
    drop(shm);
    // Not reached when the program dies of the Ctrl-C.
    std::process::exit(3);
}

#[test]
fn ctrlc_role_entry() {
    if let Ok(role) = std::env::var(ROLE) {
        run_role(&role);
    }
}

/// `(pid, ppid, state)` of every process in group `pgid`.
fn group_members(pgid: u32) -> Vec<(u32, u32, char)> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // After the command's closing parenthesis: state ppid pgrp …
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        if f.len() > 2 && f[2].parse() == Ok(pgid) {
            let state = f[0].chars().next().unwrap_or('?');
            out.push((pid, f[1].parse().unwrap_or(0), state));
        }
    }
    out
}

/// Reaps the zombies among this process's children that `pick` selects.
fn reap_zombies(pick: impl Fn(u32) -> bool) {
    let me = std::process::id();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return;
    };
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        if f.len() > 1 && f[0] == "Z" && f[1].parse() == Ok(me) && pick(pid) {
            if let Some(p) = Pid::from_raw(pid as i32) {
                let _ = rustix::process::waitpid(Some(p), WaitOptions::NOHANG);
            }
        }
    }
}

fn wait_bounded(child: &mut Child) -> Option<ExitStatus> {
    let deadline = Instant::now() + BOUND;
    while Instant::now() < deadline {
        if let Ok(Some(st)) = child.try_wait() {
            return Some(st);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

/// Runs `role` in its own group, sends SIGINT to the group once it says `running`
/// (`times` lines), and checks what is left. Returns the leader's exit status and
/// what it printed after the signal.
fn ctrl_c(role: &str, times: usize) -> Result<(ExitStatus, Vec<String>), String> {
    ctrl_c_within(role, times, BOUND)
}

/// [`ctrl_c`], waiting at most `linger` for the rest of the group to go.
fn ctrl_c_within(
    role: &str,
    times: usize,
    linger: Duration,
) -> Result<(ExitStatus, Vec<String>), String> {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // A test run started with SIGINT ignored (`cargo test &` in a script) would pass
    // that on to every process of the scenario.
    multiproc::process::default_sigint();
    let _ = rustix::process::set_child_subreaper(Some(rustix::process::getpid()));
    let mut child = Command::new(std::env::current_exe().map_err(|e| e.to_string())?)
        .args([
            "--exact",
            "ctrlc_role_entry",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ROLE, role)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| e.to_string())?;
    let pgid = child.id();
    let shm = format!("/dev/shm/mp-ctrlc-{pgid}");
    let out = child.stdout.take().ok_or("no stdout")?;
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let kill_group = |sig| {
        if let Some(p) = Pid::from_raw(pgid as i32) {
            let _ = rustix::process::kill_process_group(p, sig);
        }
    };
    let mut ready = 0;
    let deadline = Instant::now() + BOUND;
    while ready < times {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            // libtest prints `test ctrlc_role_entry ... ` before the first line.
            Ok(l) if l.ends_with("running") => ready += 1,
            Ok(_) => {}
            Err(_) => {
                kill_group(Signal::KILL);
                let _ = child.wait();
                return Err(format!("{role}: never ready ({ready}/{times})"));
            }
        }
    }
    kill_group(Signal::INT);
    let Some(status) = wait_bounded(&mut child) else {
        let left = group_members(pgid);
        kill_group(Signal::KILL);
        let _ = child.wait();
        return Err(format!(
            "{role}: still running after Ctrl-C; group {left:?}"
        ));
    };
    // Everything else in the group must go too (orphans come to us and are reaped).
    let deadline = Instant::now() + linger;
    let mut left = group_members(pgid);
    while !left.is_empty() && Instant::now() < deadline {
        let zombies: Vec<u32> = left.iter().filter(|m| m.2 == 'Z').map(|m| m.0).collect();
        reap_zombies(|pid| zombies.contains(&pid));
        std::thread::sleep(Duration::from_millis(10));
        left = group_members(pgid);
    }
    if !left.is_empty() {
        kill_group(Signal::KILL);
        return Err(format!("{role}: processes of the group left: {left:?}"));
    }
    // The shared-memory tracker (a group of its own) removes the name at the end.
    let deadline = Instant::now() + BOUND;
    while std::path::Path::new(&shm).exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    // The tracker is an orphan of ours now: reap it (and anything else exited).
    reap_zombies(|_| true);
    if std::path::Path::new(&shm).exists() {
        let _ = std::fs::remove_file(&shm);
        return Err(format!("{role}: {shm} left behind"));
    }
    let _ = reader.join();
    let after: Vec<String> = rx.try_iter().filter(|l| !l.ends_with("running")).collect();
    Ok((status, after))
}

fn died_of_sigint(st: ExitStatus) -> bool {
    use std::os::unix::process::ExitStatusExt;
    st.signal() == Some(2)
}

fn check_dies(what: &str, times: usize) -> Result<(), String> {
    for m in METHODS {
        let role = format!("{what}:{m}");
        let (st, _) = ctrl_c(&role, times)?;
        if !died_of_sigint(st) {
            return Err(format!("{role}: ended with {st}, not by SIGINT"));
        }
    }
    Ok(())
}

#[test]
fn ctrl_c_ends_a_pool_map() -> Result<(), String> {
    check_dies("pool", 2)
}

#[test]
fn ctrl_c_ends_a_pipeline_blocked_in_put() -> Result<(), String> {
    check_dies("pipeline", 1)
}

#[test]
fn ctrl_c_ends_a_manager_with_clients() -> Result<(), String> {
    check_dies("manager", 2)
}

#[test]
fn ctrl_c_graceful_pool_shutdown() -> Result<(), String> {
    for m in METHODS {
        let role = format!("graceful:{m}");
        let (st, after) = ctrl_c(&role, 2)?;
        if !st.success() || after != ["graceful"] {
            return Err(format!("{role}: ended with {st}, printed {after:?}"));
        }
    }
    Ok(())
}

#[test]
fn a_child_ignoring_sigint_is_found_left() {
    // The counterpart that shows the checks can fail: the child is reported, then
    // killed with the group.
    // Its child sleeps for 300 s; 10 s of looking is enough to find it.
    match ctrl_c_within("ignorer:fork", 1, Duration::from_secs(10)) {
        Err(e) => assert!(e.contains("processes of the group left"), "{e}"),
        Ok(r) => panic!("nothing left? {r:?}"),
    }
}

#[test]
fn raise_interrupt_is_caught_in_a_child() -> Result<(), Box<dyn std::error::Error>> {
    // The facade reaches the handler through `multiproc::process`.
    fn scenario() -> bool {
        let c = catch_interrupts().expect("handler");
        raise_interrupt();
        c.wait_timeout(BOUND).unwrap_or(false)
    }
    // Its child's status must not be reaped by a scenario's clean-up (see below).
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let p = Process::new(scenario, ())
        .start_method(StartMethod::Spawn)
        .start()?;
    assert!(p.join_value()?);
    Ok(())
}

#[test]
fn facade_error_names_the_signal() -> Result<(), Box<dyn std::error::Error>> {
    // Not beside a scenario of `ctrl_c_within`, which reaps any zombie of this process
    // (the orphans of its group come to us): it would take this child's status.
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    multiproc::process::default_sigint();
    for m in METHODS {
        let p = Process::new(sleep_long, ()).start_method(m).start()?;
        p.interrupt()?;
        let e = multiproc::Error::from(p.join_value().expect_err("interrupted"));
        assert_eq!(e.to_string(), "process was killed by SIGINT", "{m}");
    }
    Ok(())
}
