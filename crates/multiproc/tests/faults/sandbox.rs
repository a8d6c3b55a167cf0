//! Scenarios that change process-wide state, run in a sandbox: this test binary
//! re-executed (with a role in `FAULTS_ROLE`) under `sh -c 'ulimit …; exec …'`, so the
//! limit never touches the test process itself.

use std::process::{Command, Stdio};
use std::time::Duration;

use multiproc::{
    Barrier, Event, Lock, Pipe, Pool, Process, Queue, RLock, Semaphore, StartMethod, Value,
};

use crate::{BOUND, METHODS, R};

const ROLE: &str = "FAULTS_ROLE";

/// Runs `role` in a sandbox with at most `nofile` descriptors; its output on success.
fn run_sandbox(role: &str, nofile: u32) -> Result<String, Box<dyn std::error::Error>> {
    let exe = std::env::current_exe()?;
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -n {nofile} && exec \"$0\" \"$@\""))
        .arg(exe)
        .args([
            "--exact",
            "sandbox::sandbox_role",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ROLE, role)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let end = std::time::Instant::now() + BOUND * 2;
    loop {
        if child.try_wait()?.is_some() {
            break;
        }
        if std::time::Instant::now() > end {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("sandbox {role}: hang").into());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output()?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        return Err(format!("sandbox {role}: {:?}\n{stdout}\n{stderr}", out.status).into());
    }
    if !stdout.contains("ROLE DONE") {
        return Err(format!("sandbox {role} did not run\n{stdout}\n{stderr}").into());
    }
    Ok(stdout)
}

/// The role's entry: does nothing in a normal run.
#[test]
fn sandbox_role() -> R {
    match std::env::var(ROLE).as_deref() {
        Ok("fds") => exhaust_descriptors()?,
        Ok("shm") => killed_creators()?,
        Ok(other) => return Err(format!("unknown role {other}").into()),
        Err(_) => return Ok(()),
    }
    println!("ROLE DONE");
    Ok(())
}

fn noop() -> u8 {
    1
}

/// Creates objects until descriptors run out; every failure must be an `Err` (a
/// panic or an abort fails the sandbox), and after freeing them everything works.
fn until_error<T, E: std::fmt::Debug>(
    what: &str,
    mut make: impl FnMut() -> Result<T, E>,
) -> Result<Vec<T>, String> {
    let mut held = Vec::new();
    for _ in 0..100_000 {
        match make() {
            Ok(t) => held.push(t),
            Err(e) => {
                println!("{what}: error after {} made: {e:?}", held.len());
                return Ok(held);
            }
        }
    }
    Err(format!("{what}: no error after 100000 made"))
}

fn exhaust_descriptors() -> R {
    drop(until_error("Pipe", Pipe::duplex)?);
    drop(until_error("Queue", Queue::<u32>::new)?);
    drop(until_error("Lock", Lock::new)?);
    drop(until_error("RLock", RLock::new)?);
    drop(until_error("Semaphore", || Semaphore::new(1))?);
    drop(until_error("Event", Event::new)?);
    drop(until_error("Barrier", || Barrier::new(2))?);
    drop(until_error("Value", || Value::new(0u64))?);
    for m in METHODS {
        // Leave the descriptors mostly used up, then start processes and pools.
        let mut hog = until_error("Pipe (hog)", Pipe::duplex)?;
        hog.truncate(hog.len().saturating_sub(2));
        let procs = until_error(&format!("Process {m}"), || {
            Process::new(noop, ()).start_method(m).start()
        })?;
        for p in procs {
            p.join_timeout(BOUND)?;
        }
        let r = Pool::builder().processes(4).start_method(m).build();
        match r {
            Ok(pool) => {
                let out = pool.apply_async(noop, ()).get_timeout(BOUND);
                println!(
                    "Pool {m}: built, task: {:?}",
                    out.map_err(|e| e.to_string())
                );
                drop(pool);
            }
            Err(e) => println!("Pool {m}: {e:?}"),
        }
        drop(hog);
        // Everything works again once descriptors are back.
        let p = Process::new(noop, ()).start_method(m).start()?;
        assert_eq!(p.join_value()?, 1, "{m}");
        let pool = Pool::builder().processes(2).start_method(m).build()?;
        assert_eq!(pool.apply_async(noop, ()).get_timeout(BOUND)?, 1, "{m}");
        pool.close_and_join()?;
    }
    let q = Queue::<u32>::new()?;
    q.put(1).map_err(|e| e.to_string())?;
    assert_eq!(q.get_timeout(BOUND)?, 1);
    let _ = StartMethod::Fork;
    // Nothing left behind by the failed starts: no zombie and no stray child (the
    // fork server is the one child allowed to stay).
    let end = std::time::Instant::now() + BOUND;
    loop {
        let kids = children();
        let stray: Vec<_> = kids
            .iter()
            .filter(|(_, _, cmd)| !cmd.contains("forkserver"))
            .collect();
        if stray.is_empty() {
            break;
        }
        if std::time::Instant::now() > end {
            return Err(format!("children left behind: {stray:?}").into());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}

/// This process's children: (pid, state, what the fork server calls itself or the
/// command line).
fn children() -> Vec<(u32, char, String)> {
    let mut out = Vec::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for t in tasks.flatten() {
        let Ok(list) = std::fs::read_to_string(t.path().join("children")) else {
            continue;
        };
        for pid in list
            .split_whitespace()
            .filter_map(|p| p.parse::<u32>().ok())
        {
            let state = crate::proc_state(pid).unwrap_or('?');
            let env = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
            let is_server = env
                .split(|b| *b == 0)
                .any(|kv| kv.starts_with(b"MULTIPROC_FORKSERVER"));
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            out.push((
                pid,
                state,
                if is_server {
                    format!("forkserver {cmd}")
                } else {
                    cmd
                },
            ));
        }
    }
    out
}

/// Descriptor exhaustion (RLIMIT_NOFILE 64) in a sandbox: Pipes, Queues, locks,
/// Processes and Pools fail with errors, never a panic or an abort, and recover.
#[test]
fn descriptor_exhaustion() -> R {
    let out = run_sandbox("fds", 64)?;
    for what in ["Pipe:", "Queue:", "Lock:", "Process fork"] {
        assert!(out.contains(what), "{what} missing:\n{out}");
    }
    Ok(())
}

fn create_and_wait(name: String, ready: multiproc::Connection) {
    if let Ok(shm) = multiproc::SharedMemory::create(Some(&name), 4096) {
        let _ = ready.send(&());
        std::mem::forget(shm);
        std::thread::sleep(BOUND);
    }
}

/// The names of the blocks the "shm" role creates.
fn shm_names(role_pid: u32) -> Vec<String> {
    let mut v = vec![format!("mp-faults-{role_pid}-own")];
    v.extend(METHODS.iter().map(|m| format!("mp-faults-{role_pid}-{m}")));
    v
}

/// Creates a block itself (never unlinked), then has a child of every method create
/// one and SIGKILLs it. Prints its pid; it exits without unlinking anything.
fn killed_creators() -> R {
    let me = std::process::id();
    println!("ROLE PID {me}");
    let names = shm_names(me);
    let own = multiproc::SharedMemory::create(Some(&names[0]), 4096)?;
    std::mem::forget(own);
    for (m, name) in METHODS.iter().zip(&names[1..]) {
        let (a, b) = Pipe::duplex()?;
        let p = Process::new(create_and_wait, (name.clone(), b))
            .start_method(*m)
            .start()?;
        a.recv_timeout::<()>(BOUND)?;
        p.kill()?;
        p.join()?;
    }
    Ok(())
}

/// Named shared memory whose creators were SIGKILLed (children of every method) or
/// exited without unlinking: nothing is left in /dev/shm once the program is gone.
#[test]
fn no_dev_shm_leftovers_after_killed_creators() -> R {
    let out = run_sandbox("shm", 1024)?;
    let pid: u32 = out
        .lines()
        .find_map(|l| l.split_once("ROLE PID "))
        .and_then(|(_, p)| p.trim().parse().ok())
        .ok_or("no role pid")?;
    let names = shm_names(pid);
    let end = std::time::Instant::now() + BOUND;
    loop {
        let left: Vec<_> = names
            .iter()
            .filter(|n| crate::dev_shm().contains(*n))
            .collect();
        if left.is_empty() {
            return Ok(());
        }
        if std::time::Instant::now() > end {
            for n in &left {
                let _ = std::fs::remove_file(format!("/dev/shm/{n}"));
            }
            return Err(format!("left in /dev/shm: {left:?}").into());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
