//! Integration tests of `multiproc-process`: every behaviour under every start method.
//!
//! Every test runs inside libtest, on a libtest thread, in a binary whose `main` is
//! libtest's: Spawn and ForkServer working here is itself the "spawn inside the test
//! harness" check. Cases ported from CPython's `_test_multiprocessing.py` name the
//! original test.

use std::os::fd::AsFd;
use std::time::Duration;

use multiproc_ipc::{Connection, Pipe, SharedSegment};
use multiproc_process::{
    Process, ProcessError, StartError, StartMethod, active_children, current_process,
    parent_process,
};
use multiproc_test_support::{BOUND, METHODS, TestResult, reaped};

mod authkey;
mod c_exit;
mod cpython;
mod exit_hooks;
mod fork_safety;
mod hardening;
mod interrupt;
mod setup;
mod signals;

// ------------------------------------------------------------------ targets

fn noop() {}

fn square(x: i64) -> i64 {
    x * x
}

fn exit_with(code: i32) {
    std::process::exit(code)
}

fn raises() {
    panic!("There was an error")
}

fn takes_conn(c: Connection) -> bool {
    c.writable()
}

/// In a child (the descriptor limit is process-wide): for each limit from just above
/// the descriptors in use, start a child with a `Connection` argument under `m`; the
/// kind of every failure. Out of descriptors is an OS failure, never an encoding one.
fn emfile_sweep(m: StartMethod) -> Vec<String> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    // Start what lives as long as the process (the fork server) first.
    if let Ok(p) = Process::new(noop, ()).start_method(m).start() {
        let _ = p.join_timeout(BOUND);
    }
    let orig = getrlimit(Resource::Nofile);
    let mut kinds = Vec::new();
    for limit in 3..256 {
        let Ok((a, b)) = Pipe::duplex() else {
            kinds.push("pipe".into());
            continue;
        };
        let lowered = setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(limit),
                maximum: orig.maximum,
            },
        );
        let r = Process::new(takes_conn, (b,)).start_method(m).start();
        let _ = setrlimit(Resource::Nofile, orig);
        if lowered.is_err() {
            kinds.push("setrlimit".into());
            continue;
        }
        drop(a);
        match r {
            Ok(p) => {
                let _ = p.join_timeout(BOUND);
                kinds.push("ok".into());
                break;
            }
            Err(StartError::Io(_)) => kinds.push("io".into()),
            Err(StartError::ForkServer(_)) => kinds.push("forkserver".into()),
            Err(e) => kinds.push(format!("{e:?}")),
        }
    }
    kinds
}

fn sleep_long() {
    std::thread::sleep(Duration::from_secs(120));
}

/// Blocks until the peer sends a byte or hangs up. (Tests send the byte: under Fork,
/// children started concurrently by other tests inherit copies of every descriptor,
/// so a hang-up is not observable until they exit — CPython has the same property.)
fn wait_for_go(c: Connection) -> u8 {
    c.recv::<u8>().unwrap_or(0)
}

fn who_am_i() -> (String, u32, bool, Option<(String, u32)>) {
    let me = current_process();
    let parent = parent_process().map(|p| (p.name().to_string(), p.pid()));
    (me.name().to_string(), me.pid(), me.daemon(), parent)
}

fn my_name() -> String {
    current_process().name().to_string()
}

/// Starts a grandchild with the same method and returns (own name, grandchild's name).
fn nested_names(m: StartMethod) -> (String, String) {
    let p = Process::new(my_name, ())
        .start_method(m)
        .start()
        .expect("grandchild starts");
    let grandchild = p.join_value().expect("grandchild returns");
    (my_name(), grandchild)
}

fn use_handles(c: Connection, seg: SharedSegment, n: u8) -> u8 {
    // SAFETY: the segment is at least one byte long and page aligned; the parent reads
    // it only after this process has exited, so the write does not race.
    unsafe { seg.as_ptr().write_volatile(n + 100) };
    let sent = c.send(&format!("hello {n}"));
    let echoed: u8 = c.recv().unwrap_or(0);
    u8::from(sent.is_ok()) + echoed
}

fn big_value(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

fn daemon_parent(report: Connection, m: StartMethod) {
    let d = Process::new(sleep_long, ())
        .daemon(true)
        .start_method(m)
        .start()
        .expect("daemon starts");
    report.send(&d.pid()).expect("report");
    sleep_long();
}

fn daemon_tries_child(m: StartMethod) -> String {
    match Process::new(noop, ()).start_method(m).start() {
        Err(e @ StartError::DaemonCannotHaveChildren) => e.to_string(),
        Err(e) => format!("unexpected error {e}"),
        Ok(_) => "started".into(),
    }
}

fn std_works_pre_main() -> (usize, bool, bool, String) {
    let t = std::thread::spawn(|| 21 * 2).join().unwrap_or(0);
    let caught = std::panic::catch_unwind(|| panic!("inner")).is_err();
    let env_ok = std::env::var_os("PATH").is_some()
        && std::env::var_os("MULTIPROC_BOOTSTRAP_FD").is_none()
        && std::env::var_os("MULTIPROC_FORKSERVER_FD").is_none();
    println!("stdout works in the child");
    let arg0 = std::env::args().next().unwrap_or_default();
    (t, caught, env_ok, arg0)
}

// ------------------------------------------------------------------ helpers

fn gone_within(pid: u32, bound: Duration) -> bool {
    let Some(p) = rustix::process::Pid::from_raw(pid as i32) else {
        return true;
    };
    let fd = match rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()) {
        Ok(fd) => fd,
        Err(_) => return true,
    };
    let mut fds = [rustix::event::PollFd::new(
        &fd,
        rustix::event::PollFlags::IN,
    )];
    let ts = rustix::time::Timespec {
        tv_sec: bound.as_secs() as i64,
        tv_nsec: i64::from(bound.subsec_nanos()),
    };
    matches!(rustix::event::poll(&mut fds, Some(&ts)), Ok(n) if n > 0)
}

/// The state letter of `/proc/<pid>/stat`, `None` if the process does not exist.
fn proc_state(pid: u32) -> Option<char> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = s.rsplit_once(')')?.1;
    after.trim_start().chars().next()
}

// ------------------------------------------------------------------ tests

#[test]
fn exit_codes_like_cpython() -> TestResult {
    // test_process.py / seed 003: exit_error=1 exit_ok=0 return_value=0 raises=1 terminated=-15
    for m in METHODS {
        let exit_error = Process::new(exit_with, (1,)).start_method(m).start()?;
        let exit_ok = Process::new(noop, ()).start_method(m).start()?;
        let return_value = Process::new(square, (1,)).start_method(m).start()?;
        let raises_p = Process::new(raises, ()).start_method(m).start()?;
        let terminated = Process::new(sleep_long, ()).start_method(m).start()?;
        let seven = Process::new(exit_with, (7,)).start_method(m).start()?;
        terminated.terminate()?;
        return_value.join()?;
        let all = [&exit_error, &exit_ok, &raises_p, &terminated, &seven];
        for p in all {
            p.join()?;
        }
        let mut codes: Vec<_> = all.iter().map(|p| p.exitcode()).collect();
        codes.insert(2, return_value.exitcode());
        assert_eq!(
            codes,
            [Some(1), Some(0), Some(0), Some(1), Some(-15), Some(7)],
            "{m}"
        );
        assert!(
            terminated.to_string().contains("stopped exitcode=-SIGTERM"),
            "{terminated}"
        );
    }
    Ok(())
}

#[test]
fn kill_gives_minus_nine() -> TestResult {
    // test_terminate / test_kill
    for m in METHODS {
        let p = Process::new(sleep_long, ()).start_method(m).start()?;
        assert!(p.is_alive());
        assert_eq!(p.exitcode(), None);
        p.kill()?;
        p.join()?;
        assert_eq!(p.exitcode(), Some(-9), "{m}");
        assert!(!p.is_alive());
        // Signalling a finished process is a no-op, as in CPython.
        p.terminate()?;
        assert!(matches!(p.join_value(), Err(ProcessError::Killed(9))));
    }
    Ok(())
}

#[test]
fn join_timeout_returns_while_alive() -> TestResult {
    // test_process: join(timeout) on a live process returns with it still alive.
    for m in METHODS {
        let (mine, theirs) = Pipe::duplex()?;
        let p = Process::new(wait_for_go, (theirs,))
            .start_method(m)
            .start()?;
        assert!(!p.join_timeout(Duration::from_millis(50))?, "{m}");
        assert!(p.is_alive());
        assert_eq!(p.exitcode(), None);
        mine.send(&7u8)?;
        assert!(p.join_timeout(BOUND)?);
        assert_eq!(p.join_value()?, 7);
    }
    Ok(())
}

#[test]
fn close_errors_while_running() -> TestResult {
    // test_close
    for m in METHODS {
        let (mine, theirs) = Pipe::duplex()?;
        let p = Process::new(wait_for_go, (theirs,))
            .start_method(m)
            .start()?;
        let err = p.close().expect_err("still running");
        assert!(err.to_string().contains("still running"));
        let p = err.process;
        mine.send(&1u8)?;
        p.join()?;
        p.close().map_err(|e| e.to_string())?;
    }
    Ok(())
}

#[test]
fn return_values_and_panics() -> TestResult {
    for m in METHODS {
        let p = Process::new(square, (12,)).start_method(m).start()?;
        assert_eq!(p.join_value()?, 144);
        let p = Process::new(raises, ()).start_method(m).start()?;
        match p.join_value() {
            Err(ProcessError::Panicked {
                message, exitcode, ..
            }) => {
                assert_eq!(message, "There was an error");
                assert_eq!(exitcode, 1);
            }
            other => panic!("{m}: {other:?}"),
        }
        let p = Process::new(exit_with, (3,)).start_method(m).start()?;
        assert!(matches!(p.join_value(), Err(ProcessError::Exited(3))));
    }
    Ok(())
}

#[test]
fn large_return_value_does_not_deadlock() -> TestResult {
    // Far above a socket buffer: the parent must read while it waits.
    for m in METHODS {
        let n = 8 << 20;
        let p = Process::new(big_value, (n,)).start_method(m).start()?;
        p.join()?;
        assert_eq!(p.exitcode(), Some(0));
        let v = p.join_value()?;
        assert_eq!(v.len(), n);
        assert!(v.iter().enumerate().all(|(i, b)| *b == (i % 251) as u8));
    }
    Ok(())
}

#[test]
fn names_current_and_parent() -> TestResult {
    // test_current / test_parent_process / child counter (Process-2:1)
    assert_eq!(current_process().name(), "MainProcess");
    assert!(parent_process().is_none());
    for m in METHODS {
        let p = Process::new(who_am_i, ()).start_method(m).start()?;
        let (name, pid) = (p.name().to_string(), p.pid());
        assert!(
            name.starts_with("Process-") && !name.contains(':'),
            "{name}"
        );
        let (cname, cpid, daemon, parent) = p.join_value()?;
        assert_eq!(
            (cname.as_str(), cpid, daemon),
            (name.as_str(), pid, false),
            "{m}"
        );
        assert_eq!(
            parent,
            Some(("MainProcess".to_string(), std::process::id()))
        );

        let p = Process::new(nested_names, (m,)).start_method(m).start()?;
        let name = p.name().to_string();
        let (own, grandchild) = p.join_value()?;
        assert_eq!(own, name);
        assert_eq!(grandchild, format!("{name}:1"), "{m}");

        let p = Process::new(my_name, ())
            .name("custom")
            .start_method(m)
            .start()?;
        assert_eq!(p.name(), "custom");
        assert_eq!(p.join_value()?, "custom");
    }
    Ok(())
}

#[test]
fn handles_travel_as_arguments() -> TestResult {
    for m in METHODS {
        let (mine, theirs) = Pipe::duplex()?;
        let seg = SharedSegment::new(4096)?;
        let p = Process::new(use_handles, (theirs, seg.clone(), 5u8))
            .start_method(m)
            .start()?;
        assert_eq!(mine.recv_timeout::<String>(BOUND)?, "hello 5");
        mine.send(&10u8)?;
        assert_eq!(p.join_value()?, 11, "{m}");
        // SAFETY: the writer has exited; the segment is at least one byte long.
        assert_eq!(unsafe { seg.as_ptr().read_volatile() }, 105);
    }
    Ok(())
}

#[test]
fn closures_need_fork() -> TestResult {
    let captured = String::from("captured");
    let p = Process::from_closure(move || captured.len())
        .start_method(StartMethod::Fork)
        .start()?;
    assert_eq!(p.join_value()?, 8);
    for m in [StartMethod::Spawn, StartMethod::ForkServer] {
        let s = String::from("x");
        let err = Process::from_closure(move || s.len())
            .start_method(m)
            .start()
            .expect_err("closures need fork");
        assert!(matches!(err, StartError::ClosureNeedsFork(mm) if mm == m));
    }
    Ok(())
}

#[test]
fn std_works_before_main_in_a_spawned_child() -> TestResult {
    for m in [StartMethod::Spawn, StartMethod::ForkServer] {
        let p = Process::new(std_works_pre_main, ())
            .start_method(m)
            .start()?;
        let (t, caught, env_ok, arg0) = p.join_value()?;
        assert_eq!(t, 42);
        assert!(caught);
        assert!(env_ok, "{m}: bootstrap variables must be gone");
        assert_eq!(arg0, std::env::args().next().unwrap_or_default());
    }
    Ok(())
}

#[test]
fn daemon_dies_when_its_parent_is_sigkilled() -> TestResult {
    for m in METHODS {
        let (mine, theirs) = Pipe::duplex()?;
        let p = Process::new(daemon_parent, (theirs, m))
            .start_method(m)
            .start()?;
        let daemon_pid: u32 = mine.recv_timeout(BOUND)?;
        assert!(proc_state(daemon_pid).is_some());
        p.kill()?;
        p.join()?;
        assert_eq!(p.exitcode(), Some(-9));
        assert!(
            gone_within(daemon_pid, BOUND),
            "{m}: daemon {daemon_pid} survived"
        );
    }
    Ok(())
}

/// `PR_SET_PDEATHSIG` fires when the *thread* that created the child exits: a daemon
/// started from a short-lived thread must outlive that thread (it is created by the
/// launcher thread), and one started from the main thread of a child process is
/// killed with that process (covered above: `daemon_parent` runs on its main thread).
#[test]
fn daemon_outlives_the_thread_that_started_it() -> TestResult {
    for m in METHODS {
        let (mine, theirs) = Pipe::duplex()?;
        let d = std::thread::spawn(move || {
            Process::new(wait_for_go, (theirs,))
                .daemon(true)
                .start_method(m)
                .start()
        })
        .join()
        .map_err(|_| "starter thread panicked")??;
        // The starter thread is gone; the daemon must still run and answer.
        assert!(
            !gone_within(d.pid(), Duration::from_millis(200)),
            "{m}: daemon died with the thread that started it"
        );
        mine.send(&7u8)?;
        d.join_timeout(BOUND)?;
        assert_eq!(d.exitcode(), Some(0), "{m}");
    }
    Ok(())
}

/// Running out of descriptors while starting a child is `StartError::Io` (or the fork
/// server's refusal), not `StartError::Encode` — the arguments were fine (a handle could
/// not be duplicated: `EMFILE`).
#[test]
fn out_of_descriptors_is_an_os_error_not_an_encoding_one() -> TestResult {
    for m in METHODS {
        let kinds = Process::new(emfile_sweep, (m,))
            .start_method(StartMethod::Fork)
            .start()?
            .join_value()?;
        assert_eq!(
            kinds.last().map(String::as_str),
            Some("ok"),
            "{m}: {kinds:?}"
        );
        assert!(kinds.len() > 1, "{m}: no start failed: {kinds:?}");
        for k in &kinds {
            assert!(
                ["ok", "io", "forkserver"].contains(&k.as_str()),
                "{m}: {k} in {kinds:?}"
            );
        }
    }
    Ok(())
}

#[test]
fn daemons_may_not_have_children() -> TestResult {
    // test_daemon... CPython: "daemonic processes are not allowed to have children"
    for m in METHODS {
        let p = Process::new(daemon_tries_child, (m,))
            .daemon(true)
            .start_method(m)
            .start()?;
        assert!(p.daemon());
        assert_eq!(
            p.join_value()?,
            "daemonic processes are not allowed to have children"
        );
    }
    Ok(())
}

#[test]
fn no_zombies_left() -> TestResult {
    let mut pids = Vec::new();
    for m in METHODS {
        // joined
        let p = Process::new(noop, ()).start_method(m).start()?;
        p.join()?;
        pids.push(p.pid());
        // dropped while running, then it exits on its own
        let (mine, theirs) = Pipe::duplex()?;
        let p = Process::new(wait_for_go, (theirs,))
            .start_method(m)
            .start()?;
        pids.push(p.pid());
        drop(p);
        mine.send(&1u8)?;
        // dropped without join after exit
        let p = Process::new(noop, ()).start_method(m).start()?;
        pids.push(p.pid());
        drop(p);
    }
    for pid in pids {
        assert!(reaped(pid), "pid {pid} left as {:?}", proc_state(pid));
    }
    Ok(())
}

#[test]
fn sentinel_becomes_readable_at_exit() -> TestResult {
    for m in METHODS {
        let (mine, theirs) = Pipe::duplex()?;
        let p = Process::new(wait_for_go, (theirs,))
            .start_method(m)
            .start()?;
        let fd = p.sentinel();
        let mut fds = [rustix::event::PollFd::new(
            &fd,
            rustix::event::PollFlags::IN,
        )];
        let zero = rustix::time::Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        assert_eq!(rustix::event::poll(&mut fds, Some(&zero))?, 0);
        mine.send(&1u8)?;
        let bound = rustix::time::Timespec {
            tv_sec: 30,
            tv_nsec: 0,
        };
        assert_eq!(rustix::event::poll(&mut fds, Some(&bound))?, 1, "{m}");
        let _ = p.as_fd();
        p.join()?;
    }
    Ok(())
}

#[test]
fn active_children_lists_running_ones() -> TestResult {
    // test_active_children
    let (mine, theirs) = Pipe::duplex()?;
    let p = Process::new(wait_for_go, (theirs,)).start()?;
    assert!(active_children().iter().any(|c| c.pid() == p.pid()));
    mine.send(&1u8)?;
    p.join()?;
    assert!(!active_children().iter().any(|c| c.pid() == p.pid()));
    Ok(())
}

#[test]
fn forkserver_from_a_threaded_parent() -> TestResult {
    // Other threads hold locks (stdout, a mutex, the allocator) while children start.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let shared = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u64>::new()));
    let mut busy = Vec::new();
    for _ in 0..3 {
        let stop = stop.clone();
        let shared = shared.clone();
        busy.push(std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let mut g = shared
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                g.push(i);
                if g.len() > 1000 {
                    g.clear();
                }
                i += 1;
            }
        }));
    }
    let result = (|| -> TestResult {
        for m in [StartMethod::ForkServer, StartMethod::Spawn] {
            for i in 0..10 {
                let p = Process::new(square, (i,)).start_method(m).start()?;
                assert_eq!(p.join_value()?, i * i);
            }
        }
        Ok(())
    })();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in busy {
        let _ = t.join();
    }
    result
}

#[test]
fn many_concurrent_starts_from_several_threads() -> TestResult {
    for m in METHODS {
        let threads: Vec<_> = (0..4)
            .map(|t| {
                std::thread::spawn(move || -> Result<i64, String> {
                    let mut sum = 0;
                    for i in 0..5 {
                        let x = t * 10 + i;
                        let p = Process::new(square, (x,))
                            .start_method(m)
                            .start()
                            .map_err(|e| e.to_string())?;
                        sum += p.join_value().map_err(|e| e.to_string())?;
                    }
                    Ok(sum)
                })
            })
            .collect();
        let mut total = 0;
        for t in threads {
            total += t.join().map_err(|_| "thread panicked")??;
        }
        let expect: i64 = (0..4)
            .flat_map(|t| (0..5).map(move |i| (t * 10 + i) * (t * 10 + i)))
            .sum();
        assert_eq!(total, expect, "{m}");
    }
    Ok(())
}

#[test]
fn cpu_count_is_the_affinity_mask() {
    let n = multiproc_process::cpu_count();
    assert!(n >= 1);
    assert!(
        n <= std::thread::available_parallelism()
            .map_or(usize::MAX, usize::from)
            .max(n)
    );
}

// ------------------------------------------------------------------ CPython _TestProcess ports

/// A second connection on the same descriptor.
fn dup(c: &Connection) -> Connection {
    Connection::from_fd(c.as_fd().try_clone_to_owned().expect("dup"))
}

/// Everything readable on `r` right now (a raw, unframed pipe).
fn drain(r: &std::os::fd::OwnedFd) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let mut fds = [rustix::event::PollFd::new(r, rustix::event::PollFlags::IN)];
        let zero = rustix::time::Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        if !matches!(rustix::event::poll(&mut fds, Some(&zero)), Ok(n) if n > 0) {
            break;
        }
        match rustix::io::read(r, &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `_test_recursion`: report `id`, then start two children `id+[0]`, `id+[1]` one after
/// the other while the depth is below two.
fn recurse(w: Connection, id: Vec<u8>, m: StartMethod) {
    w.send(&id).expect("report");
    if id.len() < 2 {
        for i in 0..2u8 {
            let mut next = id.clone();
            next.push(i);
            let p = Process::new(recurse, (dup(&w), next, m))
                .start_method(m)
                .start()
                .expect("child starts");
            p.join().expect("child joins");
        }
    }
}

#[test]
fn recursion_builds_the_tree_in_order() -> TestResult {
    // test_recursion
    for m in METHODS {
        let (r, w) = Pipe::simplex()?;
        recurse(w, Vec::new(), m);
        let mut got = Vec::new();
        // Every writer has exited: read what is there, up to EOF.
        while r.poll(Some(Duration::ZERO))? {
            match r.recv::<Vec<u8>>() {
                Ok(id) => got.push(id),
                Err(multiproc_ipc::RecvError::Eof) => break,
                Err(e) => return Err(e.into()),
            }
        }
        let want: Vec<Vec<u8>> = vec![
            vec![],
            vec![0],
            vec![0, 0],
            vec![0, 1],
            vec![1],
            vec![1, 0],
            vec![1, 1],
        ];
        assert_eq!(got, want, "{m}");
    }
    Ok(())
}

fn sleep_a_little() {
    std::thread::sleep(Duration::from_millis(10));
}

#[test]
fn many_processes_then_terminate_them_all() -> TestResult {
    // test_many_processes: try to overwhelm the fork server's loop with events.
    for m in METHODS {
        let n = if m == StartMethod::Spawn { 5 } else { 50 };
        let procs = (0..n)
            .map(|_| Process::new(sleep_a_little, ()).start_method(m).start())
            .collect::<Result<Vec<_>, _>>()?;
        for p in &procs {
            assert!(p.join_timeout(BOUND)?, "{m}: {p}");
        }
        assert!(procs.iter().all(|p| p.exitcode() == Some(0)), "{m}");

        let procs = (0..n)
            .map(|_| Process::new(sleep_long, ()).start_method(m).start())
            .collect::<Result<Vec<_>, _>>()?;
        // Terminated at once, some before they ran a line of their own.
        for p in &procs {
            p.terminate()?;
        }
        for p in &procs {
            assert!(p.join_timeout(BOUND)?, "{m}: {p}");
            assert_eq!(p.exitcode(), Some(-15), "{m}: {p}");
        }
    }
    Ok(())
}

#[test]
fn kill_a_daemon_and_active_children() -> TestResult {
    // _kill_process (test_terminate / test_kill) with its daemon child, join(0) and
    // active_children() before and after.
    for m in METHODS {
        for sig in [15, 9] {
            let p = Process::new(sleep_long, ())
                .daemon(true)
                .start_method(m)
                .start()?;
            assert!(p.is_alive());
            assert!(active_children().iter().any(|c| c.pid() == p.pid()));
            assert_eq!(p.exitcode(), None);
            assert!(!p.join_timeout(Duration::ZERO)?);
            assert!(p.is_alive());
            if sig == 15 {
                p.terminate()?;
            } else {
                p.kill()?;
            }
            assert!(p.join_timeout(BOUND)?);
            assert!(!p.is_alive());
            assert!(!active_children().iter().any(|c| c.pid() == p.pid()));
            p.join()?;
            assert_eq!(p.exitcode(), Some(-sig), "{m}");
        }
    }
    Ok(())
}

#[test]
fn fork_closure_captures_are_released_in_the_parent() -> TestResult {
    // test_lose_target_ref: the parent does not keep the target alive after start().
    let token = std::sync::Arc::new(5u8);
    let held = token.clone();
    let p = Process::from_closure(move || *held)
        .start_method(StartMethod::Fork)
        .start()?;
    assert_eq!(std::sync::Arc::strong_count(&token), 1);
    assert_eq!(p.join_value()?, 5);
    Ok(())
}

fn count_fds_then_wait(report: Connection, go: Connection) {
    let n = std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count());
    report.send(&n).expect("report");
    let _ = go.recv::<u8>();
}

#[test]
fn child_fd_count_does_not_grow_with_running_children() -> TestResult {
    // test_child_fd_inflation (not for Fork, which inherits everything by design).
    for m in [StartMethod::Spawn, StartMethod::ForkServer] {
        let n = 5;
        let mut procs = Vec::new();
        let mut gos = Vec::new();
        let mut counts = Vec::new();
        for _ in 0..n {
            let (r, w) = Pipe::duplex()?;
            let (go_mine, go_theirs) = Pipe::duplex()?;
            procs.push(
                Process::new(count_fds_then_wait, (w, go_theirs))
                    .start_method(m)
                    .start()?,
            );
            counts.push(r.recv_timeout::<usize>(BOUND)?);
            gos.push(go_mine);
        }
        for g in &gos {
            g.send(&1u8)?;
        }
        for p in &procs {
            p.join()?;
        }
        assert!(counts.windows(2).all(|w| w[0] == w[1]), "{m}: {counts:?}");
    }
    Ok(())
}

fn break_stdio(which: u8) -> u8 {
    let Ok((r, w)) = rustix::pipe::pipe() else {
        return 0;
    };
    drop(r); // every write to `w` now fails with EPIPE
    let ok = if which == 1 {
        rustix::stdio::dup2_stdout(&w).is_ok()
    } else {
        rustix::stdio::dup2_stderr(&w).is_ok()
    };
    if which == 1 {
        // Buffered (no newline): only the exit-time flush meets the broken stream.
        use std::io::Write;
        let _ = write!(std::io::stdout(), "partial line");
    }
    u8::from(ok) + 41
}

#[test]
fn broken_stdio_in_the_child_does_not_change_the_exit_code() -> TestResult {
    // test_error_on_stdio_flush_2: the child breaks its own stdout/stderr.
    for m in METHODS {
        for which in [1u8, 2] {
            let p = Process::new(break_stdio, (which,))
                .start_method(m)
                .start()?;
            assert_eq!(p.join_value()?, 42, "{m} stream {which}");
        }
    }
    Ok(())
}

fn panics_caught_then_uncaught(err: Connection) {
    let Ok(fd) = err.into_fd().try_clone() else {
        return;
    };
    if rustix::stdio::dup2_stderr(&fd).is_err() {
        return;
    }
    let _ = std::panic::catch_unwind(|| panic!("caught inside the target"));
    panic!("uncaught");
}

#[test]
fn process_header_only_for_a_panic_that_ends_the_target() -> TestResult {
    for m in METHODS {
        let (r, w) = Pipe::simplex()?;
        let p = Process::new(panics_caught_then_uncaught, (w,))
            .name("headed")
            .start_method(m)
            .start()?;
        p.join()?;
        assert_eq!(p.exitcode(), Some(1));
        // The child has exited: all it wrote is in the pipe.
        let text = drain(&r.into_fd());
        let caught = text.find("caught inside the target");
        let uncaught = text.find("\nuncaught");
        let header = text.find("Process headed:");
        assert_eq!(text.matches("Process headed:").count(), 1, "{m}: {text}");
        // Under Fork in libtest, the child inherits libtest's capture of the panic
        // messages (they never reach fd 2); the header goes to fd 2 regardless.
        if m != StartMethod::Fork {
            assert!(
                caught.is_some() && caught < uncaught && uncaught < header,
                "{m}: {text}"
            );
        }
    }
    Ok(())
}

fn my_ppid() -> u32 {
    rustix::process::getppid().map_or(0, |p| p.as_raw_nonzero().get() as u32)
}

/// check_forkserver_death, run inside a Spawn child so that the fork server it kills
/// is its own, not the one the other tests of this binary share. Returns the exit code
/// of the child that ran while the server died, and the value of one started after.
fn forkserver_death_scenario(sig: i32) -> Result<(i32, i64), String> {
    let e = |e: &dyn std::fmt::Display| e.to_string();
    let server = Process::new(my_ppid, ())
        .start_method(StartMethod::ForkServer)
        .start()
        .map_err(|x| e(&x))?
        .join_value()
        .map_err(|x| e(&x))?;
    let (go, theirs) = Pipe::duplex().map_err(|x| e(&x))?;
    let proc1 = Process::new(wait_for_go, (theirs,))
        .start_method(StartMethod::ForkServer)
        .start()
        .map_err(|x| e(&x))?;
    let pid = rustix::process::Pid::from_raw(server as i32).ok_or("no server pid")?;
    let signal = if sig == 9 {
        rustix::process::Signal::KILL
    } else {
        rustix::process::Signal::INT
    };
    rustix::process::kill_process(pid, signal).map_err(|x| e(&x))?;
    if sig == 9 && !gone_within(server, BOUND) {
        return Err("the fork server survived SIGKILL".into());
    }
    // The server is restarted (SIGKILL) or carries on (SIGINT, which it ignores).
    let value = Process::new(square, (3,))
        .start_method(StartMethod::ForkServer)
        .start()
        .map_err(|x| e(&x))?
        .join_value()
        .map_err(|x| e(&x))?;
    go.send(&1u8).map_err(|x| e(&x))?;
    if !proc1.join_timeout(BOUND).map_err(|x| e(&x))? {
        return Err("the first child did not finish".into());
    }
    Ok((proc1.exitcode().unwrap_or(-1000), value))
}

#[test]
fn forkserver_death_is_survived() -> TestResult {
    // test_forkserver_sigkill / test_forkserver_sigint (bpo-31308)
    for sig in [9, 2] {
        let p = Process::new(forkserver_death_scenario, (sig,))
            .start_method(StartMethod::Spawn)
            .start()?;
        let (code, value) = p.join_value()??;
        assert_eq!(value, 9);
        if sig == 9 {
            // The exit code died with the server.
            assert!(code == 0 || code == 255, "{code}");
        } else {
            // Ctrl-C reaches the whole process group; the server ignores it.
            assert_eq!(code, 0);
        }
    }
    Ok(())
}

fn return_a_connection() -> Connection {
    let (a, b) = Pipe::duplex().expect("socketpair");
    a.send(&"through a returned handle".to_string())
        .expect("buffered in the socket");
    b
}

fn string_of(n: usize) -> String {
    "x".repeat(n)
}

#[test]
fn results_small_large_and_with_handles() -> TestResult {
    // A child sends a small handle-free result with one `send` and anything else
    // through `Connection::send`: both must arrive intact, around the boundary too.
    for m in METHODS {
        let p = Process::new(return_a_connection, ())
            .start_method(m)
            .start()?;
        let c = p.join_value()?;
        assert_eq!(
            c.recv_timeout::<String>(BOUND)?,
            "through a returned handle",
            "{m}"
        );
        for n in [
            0, 1, 100, 110, 111, 112, 113, 114, 115, 116, 117, 118, 127, 128, 300, 5000,
        ] {
            let p = Process::new(string_of, (n,)).start_method(m).start()?;
            assert_eq!(p.join_value()?.len(), n, "{m}: {n}");
        }
    }
    Ok(())
}
