//! Pool faults: results that cannot be encoded, huge panics, workers killed around
//! callbacks, terminate during imap, half-consumed imaps, hanging initializers,
//! maxtasksperchild=1.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use multiproc::pool::Error as PoolError;
use multiproc::{Pool, StartMethod};

use crate::process::Unserializable;
use crate::{BOUND, METHODS, R, reaped, within};

fn unserializable(_: u8) -> Unserializable {
    Unserializable
}

fn huge_panic(n: usize) -> u8 {
    // Not 8 MiB of it on the test's stderr.
    std::panic::set_hook(Box::new(|_| {}));
    panic!("{}", "p".repeat(n))
}

fn double(x: u64) -> u64 {
    x * 2
}

fn slow(x: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(20));
    x
}

fn pid_of(_: u8) -> u32 {
    std::process::id()
}

fn hang_forever() {
    std::thread::sleep(Duration::from_secs(3600));
}

/// A task whose result cannot be encoded: `Error::Task` for it, the pool carries on.
/// A task that panics with an 8 MiB message: `Error::Panicked` with all of it.
#[test]
fn task_results_that_fail() -> R {
    for m in METHODS {
        let pool = Pool::builder().processes(2).start_method(m).build()?;
        let r = pool.apply_async(unserializable, (1,)).get_timeout(BOUND);
        assert!(matches!(r, Err(PoolError::Task(_))), "{m}: {:?}", r.err());
        let n = 8 << 20;
        let r = pool.apply_async(huge_panic, (n,)).get_timeout(BOUND);
        match r {
            Err(PoolError::Panicked(p)) => {
                assert!(p.message().len() >= n, "{m}: {}", p.message().len())
            }
            other => panic!("{m}: {:?}", other.err()),
        }
        assert_eq!(pool.map(double, [1, 2, 3])?, [2, 4, 6], "{m}");
        pool.close_and_join()?;
    }
    Ok(())
}

/// A callback that kills the worker which ran its task: later tasks still complete
/// (on a replacement worker), nothing hangs. With `wait`, the next task is submitted
/// only once the replacement runs.
fn worker_killed_from_a_callback(m: StartMethod, wait: bool) -> R {
    let pool = Pool::builder().processes(1).start_method(m).build()?;
    let (tx, rx) = std::sync::mpsc::channel();
    let r = pool.apply_async(pid_of, (0,)).callback(move |pid| {
        let _ = std::process::Command::new("kill")
            .arg("-9")
            .arg(pid.to_string())
            .status();
        let _ = tx.send(*pid);
    });
    let pid = r.get_timeout(BOUND)?;
    assert_eq!(rx.recv_timeout(BOUND)?, pid);
    assert!(reaped(pid), "{m}: the killed worker is reaped");
    if wait {
        let end = std::time::Instant::now() + BOUND;
        while pool.worker_pids().iter().all(|p| *p == pid) && std::time::Instant::now() < end {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    let r = pool.apply_async(double, (21,)).get_timeout(BOUND);
    assert!(matches!(r, Ok(42)), "{m}: killed {pid}: {:?}", r.err());
    pool.close_and_join()?;
    Ok(())
}

#[test]
fn worker_killed_from_a_callback_then_replaced() -> R {
    for m in METHODS {
        worker_killed_from_a_callback(m, true)?;
    }
    Ok(())
}

/// A task submitted right after the worker died (before the pool has replaced it) may
/// be sent to the dead worker; the worker never started it, so it must be requeued,
/// not failed with the worker's `WorkerDied`. (Before the fix, the clean end of file
/// on the dead worker's connection made the supervisor distrust the started count:
/// under ForkServer this failed almost every time.)
#[test]
fn worker_killed_from_a_callback_next_task_immediately() -> R {
    for _ in 0..10 {
        for m in METHODS {
            worker_killed_from_a_callback(m, false)?;
        }
    }
    Ok(())
}

/// `terminate()` while another thread iterates an `imap`: the iterator ends or
/// yields `Terminated`, within the bound.
#[test]
fn terminate_during_imap() -> R {
    for m in METHODS {
        let pool = Arc::new(Pool::builder().processes(2).start_method(m).build()?);
        let seen = Arc::new(AtomicUsize::new(0));
        let (p, s) = (pool.clone(), seen.clone());
        let it = std::thread::spawn(move || {
            let mut errs = Vec::new();
            for r in p.imap(slow, 0..10_000u64) {
                match r {
                    Ok(_) => {
                        s.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => errs.push(format!("{e:?}")),
                }
            }
            errs
        });
        let end = std::time::Instant::now() + BOUND;
        while seen.load(Ordering::Relaxed) < 3 && std::time::Instant::now() < end {
            std::thread::sleep(Duration::from_millis(2));
        }
        let pids = pool.worker_pids();
        pool.terminate();
        let errs = within(BOUND, "imap after terminate", move || it.join())?
            .map_err(|_| "imap thread panicked")?;
        assert!(
            errs.iter()
                .all(|e| e.contains("Terminated") || e.contains("NotRunning")),
            "{m}: {errs:?}"
        );
        for pid in pids {
            assert!(reaped(pid), "{m}: worker {pid}");
        }
    }
    Ok(())
}

/// Dropping an `IMap` half-consumed: the pool stays usable and nothing leaks.
#[test]
fn imap_dropped_half_consumed() -> R {
    for m in METHODS {
        let pool = Pool::builder().processes(2).start_method(m).build()?;
        let mut it = pool.imap(double, 0..100_000u64);
        for i in 0..10 {
            assert_eq!(it.next_timeout(BOUND).ok_or("ended")??, i * 2);
        }
        drop(it);
        let mut it = pool.imap_unordered(double, 0..1000u64);
        let _ = it.next_timeout(BOUND);
        drop(it);
        assert_eq!(pool.map(double, [5])?, [10], "{m}");
        let r = within(BOUND, "close_and_join after dropped imaps", move || {
            pool.close_and_join()
        })?;
        assert!(r.is_ok(), "{m}: {r:?}");
    }
    Ok(())
}

/// An initializer that never returns: calls time out through their timeout forms,
/// and dropping the pool ends the workers.
#[test]
fn initializer_that_hangs() -> R {
    for m in METHODS {
        let pool = Pool::builder()
            .processes(1)
            .initializer(hang_forever, ())
            .start_method(m)
            .build()?;
        let pids = pool.worker_pids();
        let r = pool
            .apply_async(double, (1,))
            .get_timeout(Duration::from_millis(200));
        assert!(matches!(r, Err(PoolError::Timeout)), "{m}: {:?}", r.err());
        let r = pool.join_timeout(Duration::from_millis(50));
        assert!(
            r.is_err() || matches!(r, Ok(false)),
            "{m}: join of a running pool"
        );
        drop(pool);
        for pid in pids {
            assert!(reaped(pid), "{m}: worker {pid}");
        }
    }
    Ok(())
}

/// `maxtasksperchild(1)` with many tasks: every task runs in a fresh worker, in order.
#[test]
fn maxtasksperchild_one_many_tasks() -> R {
    let pool = Pool::builder()
        .processes(2)
        .maxtasksperchild(1)
        .start_method(StartMethod::Fork)
        .build()?;
    let n = 1000u64;
    let out = within(BOUND * 2, "1000 tasks, one per worker", move || {
        let r = pool.map_chunked(double, 0..n, 1);
        let _ = pool.close_and_join();
        r
    })??;
    assert_eq!(out, (0..n).map(|x| x * 2).collect::<Vec<_>>());
    Ok(())
}

fn nested_pool(_: u8) -> String {
    match Pool::new(1) {
        // `build` returns before its workers start; the refusal shows on use.
        Ok(p) => match p.apply_async(double, (1,)).get_timeout(BOUND) {
            Ok(v) => format!("ran: {v}"),
            Err(e) => format!("built, then {e:?}"),
        },
        Err(e) => format!("{e:?}"),
    }
}

/// A task that starts a pool of its own (workers are daemons, which may not have
/// children): a typed error in the task, not a crash of the worker or a hang.
#[test]
fn pool_inside_a_worker() -> R {
    for m in METHODS {
        let pool = Pool::builder().processes(1).start_method(m).build()?;
        let r = pool.apply_async(nested_pool, (0,)).get_timeout(BOUND)?;
        assert!(r.contains("DaemonCannotHaveChildren"), "{m}: {r}");
        pool.close_and_join()?;
    }
    Ok(())
}

fn sleepy(_: u8) -> u8 {
    std::thread::sleep(BOUND);
    0
}

/// `terminate()` with a worker stopped by SIGSTOP (a SIGTERM would stay pending for
/// ever): it returns, the pending result resolves, the worker is reaped.
#[test]
fn terminate_with_a_stopped_worker() -> R {
    for m in METHODS {
        let pool = Pool::builder().processes(1).start_method(m).build()?;
        let r = pool.apply_async(sleepy, (0,));
        let pids = pool.worker_pids();
        for pid in &pids {
            std::process::Command::new("kill")
                .args(["-STOP", &pid.to_string()])
                .status()?;
        }
        let out = within(BOUND, "terminate with a stopped worker", move || {
            pool.terminate();
            let j = pool.join_timeout(BOUND);
            (
                r.get_timeout(BOUND).err().map(|e| format!("{e:?}")),
                format!("{j:?}"),
            )
        })?;
        assert!(
            out.0.as_ref().is_some_and(|e| e.contains("Terminated")),
            "{m}: {out:?}"
        );
        for pid in pids {
            if !reaped(pid) {
                let _ = std::process::Command::new("kill")
                    .args(["-9", &pid.to_string()])
                    .status();
                panic!("{m}: stopped worker {pid} left behind");
            }
        }
    }
    Ok(())
}

/// An `imap` whose input iterator panics half-way (it is pulled lazily): the panic
/// reaches the consumer or ends the iterator, never a hang; the pool stays usable.
#[test]
fn imap_input_that_panics() -> R {
    for m in METHODS {
        let pool = Arc::new(Pool::builder().processes(2).start_method(m).build()?);
        let p = pool.clone();
        let out = within(BOUND, "imap over a panicking input", move || {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let input = (0..100u64).inspect(|&x| {
                    if x == 50 {
                        panic!("input iterator fails at 50");
                    }
                });
                p.imap(double, input).count()
            }))
            .map_err(|_| "panicked")
        })?;
        assert!(matches!(out, Err("panicked") | Ok(_)), "{m}: {out:?}");
        let r = within(BOUND, "pool after a panicking imap input", move || {
            pool.map(double, [1, 2])
        })?;
        assert!(matches!(r.as_deref(), Ok([2, 4])), "{m}: {r:?}");
    }
    Ok(())
}
