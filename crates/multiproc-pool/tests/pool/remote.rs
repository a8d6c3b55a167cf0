//! A task's panic comes back with its kind, its message, where it panicked and the
//! worker's backtrace (CPython's `RemoteTraceback`; cf. `_TestPool.test_traceback`).

use multiproc_pool::{Error, PanicKind, Pool, TaskPanic};
use multiproc_process::Target;

use multiproc_test_support::this_test_binary;

use super::{BOUND, METHODS, TestResult, pool};

fn panic_str(x: u32) -> u32 {
    if x == 7 {
        panic!("static seven");
    }
    x
}

fn panic_string(x: u32) -> u32 {
    if x == 7 {
        panic!("formatted {x}");
    }
    x
}

/// A payload that is neither `&str` nor `String`.
struct Custom(#[allow(dead_code)] u32);

fn panic_custom(x: u32) -> u32 {
    if x == 7 {
        std::panic::panic_any(Custom(x));
    }
    x
}

/// Catches a panic of its own (the hook sees it), then panics for real: the backtrace
/// must be the second panic's.
fn caught_then_panics(x: u32) -> u32 {
    let _ = std::panic::catch_unwind(|| inner_caught(x));
    panic!("after the caught one {x}");
}

fn inner_caught(x: u32) {
    panic!("caught inside {x}");
}

/// Checks one panic: its kind, message, location, the worker's pid and the backtrace.
fn check(p: &TaskPanic, kind: PanicKind, message: &str, func: &str, workers: &[u32]) {
    assert_eq!(p.kind(), kind, "{p:?}");
    assert_eq!(p.message(), message);
    let at = p.location().expect("the hook saw the location");
    assert!(at.contains("remote.rs:"), "{at}");
    assert!(
        workers.contains(&p.worker_pid()),
        "{} not in {workers:?}",
        p.worker_pid()
    );
    let e = Error::Panicked(p.clone());
    assert_eq!(e.to_string(), format!("task panicked: {message}"));
    let Some(bt) = p.remote_backtrace() else {
        // Documented: a Fork worker forked while another thread of this (multi-threaded
        // test) process was in a panic hook must not take std's backtrace lock. It
        // says so instead; any other reason is a failure.
        let why = p.no_backtrace_reason().unwrap_or_default();
        assert!(why.contains("forked while"), "no backtrace: {why:?}");
        assert!(format!("{e:#}").ends_with(why), "{e:#}");
        return;
    };
    assert!(!bt.trim().is_empty());
    assert!(bt.len() <= multiproc_pool::MAX_REMOTE_BACKTRACE);
    // Debug builds (the test profile) keep symbols: the task function is named.
    if cfg!(debug_assertions) {
        assert!(bt.contains(func), "{func} not in the backtrace:\n{bt}");
        // Short form: neither the hook's frames nor the worker loop's.
        assert!(!bt.contains("record_task_panic"), "{bt}");
        assert!(!bt.contains("worker_main"), "{bt}");
    }
    // `{}` is one line; `{:#}` adds where and the backtrace.
    let long = format!("{e:#}");
    assert!(long.starts_with(&e.to_string()), "{long}");
    assert!(long.ends_with(bt), "{long}");
    assert!(long.contains(kind.payload_type()), "{long}");
    assert_eq!(e.remote_backtrace(), Some(bt));
}

fn panic_of(r: Result<u32, Error>) -> TaskPanic {
    match r {
        Err(Error::Panicked(p)) => p,
        other => panic!("expected a task panic, got {other:?}"),
    }
}

/// The panic of `task(7)` through apply, apply_async, map and imap.
fn through_every_call<F>(
    p: &Pool,
    task: F,
    kind: PanicKind,
    message: &str,
    func: &str,
) -> TestResult
where
    F: Target<(u32,), Output = u32>,
{
    let ctx = format!("{:?} {func}", p.start_method());
    let workers = p.worker_pids();
    // apply
    let e = panic_of(p.apply(task, (7,)));
    check(&e, kind, message, func, &workers);
    // apply_async
    let e = panic_of(p.apply_async(task, (7,)).get_timeout(BOUND));
    check(&e, kind, message, func, &workers);
    // map: the first failed item's error, the others computed
    match p.map_async_chunked(task, 0..10, 3).get_timeout(BOUND) {
        Err(Error::Panicked(e)) => check(&e, kind, message, func, &workers),
        other => panic!("{ctx}: {other:?}"),
    }
    // imap: the error in its place
    let got: Vec<Result<u32, Error>> = p.imap(task, 5..9).collect();
    assert_eq!(got.len(), 4, "{ctx}");
    for (x, r) in (5..9).zip(got) {
        if x == 7 {
            check(&panic_of(r), kind, message, func, &workers);
        } else {
            assert_eq!(r?, x, "{ctx}");
        }
    }
    Ok(())
}

#[test]
fn task_panics_carry_kind_message_and_worker_backtrace() -> TestResult {
    for m in METHODS {
        let p = pool(m, 2)?;
        through_every_call(&p, panic_str, PanicKind::Str, "static seven", "panic_str")?;
        through_every_call(
            &p,
            panic_string,
            PanicKind::String,
            "formatted 7",
            "panic_string",
        )?;
        through_every_call(
            &p,
            panic_custom,
            PanicKind::Other,
            "Box<dyn Any>",
            "panic_custom",
        )?;
        // A panic the task caught itself does not stand in for the one that escaped.
        let e = panic_of(p.apply(caught_then_panics, (3,)));
        check(
            &e,
            PanicKind::String,
            "after the caught one 3",
            "caught_then_panics",
            &p.worker_pids(),
        );
        // The workers survived every panic.
        assert_eq!(p.worker_pids().len(), 2, "{m:?}");
        assert_eq!(p.map(panic_str, 0..4)?, [0, 1, 2, 3], "{m:?}");
    }
    Ok(())
}

const HOOK_ORDER_ENV: &str = "MULTIPROC_POOL_TEST_HOOK_ORDER";

/// The child of `fork_workers_get_backtraces_after_a_spawn_pool`: does nothing in a
/// normal run. In a fresh program, a Spawn pool first (the pool's hook is installed
/// before the process crate's), then a Fork pool (whose first start installs the process
/// crate's hook on top): Fork workers still report the panic with a backtrace.
#[test]
fn hook_order_child() -> TestResult {
    if std::env::var_os(HOOK_ORDER_ENV).is_none() {
        return Ok(());
    }
    for m in [
        multiproc_process::StartMethod::Spawn,
        multiproc_process::StartMethod::Fork,
    ] {
        let p = pool(m, 1)?;
        let e = panic_of(p.apply_async(panic_string, (7,)).get_timeout(BOUND));
        check(
            &e,
            PanicKind::String,
            "formatted 7",
            "panic_string",
            &p.worker_pids(),
        );
    }
    println!("HOOK ORDER OK");
    Ok(())
}

#[test]
fn fork_workers_get_backtraces_after_a_spawn_pool() -> TestResult {
    if std::env::var_os(HOOK_ORDER_ENV).is_some() {
        return Ok(());
    }
    let mut child = this_test_binary("remote::hook_order_child")?
        .env(HOOK_ORDER_ENV, "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    // Read in threads so that a full pipe cannot stall the child.
    let mut out = child.stdout.take().ok_or("no stdout")?;
    let mut err = child.stderr.take().ok_or("no stderr")?;
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut out, &mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut err, &mut s);
        s
    });
    let end = std::time::Instant::now() + BOUND;
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break s;
        }
        if std::time::Instant::now() > end {
            let _ = child.kill();
            let _ = child.wait();
            return Err("the child program hung".into());
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    let out = out.join().map_err(|_| "stdout reader")?;
    let err = err.join().map_err(|_| "stderr reader")?;
    assert!(status.success(), "{status:?}\n{out}\n{err}");
    assert!(out.contains("HOOK ORDER OK"), "{out}\n{err}");
    // The task's panic was reported as data, not printed by a worker.
    assert!(!err.contains("formatted 7"), "{err}");
    Ok(())
}
