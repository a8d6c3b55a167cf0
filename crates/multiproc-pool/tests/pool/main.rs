//! Pool semantics under every start method. Cases ported from CPython's
//! `_TestPool` (Lib/test/_test_multiprocessing.py) name their original.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::Duration;

use multiproc_ipc::{Connection, Pipe};
use multiproc_pool::{Death, Error, Pool};
use multiproc_process::StartMethod;
use multiproc_test_support::{BOUND, METHODS, TestResult, eventually};

mod bulk;
mod cpython;
mod remote;
mod slice;

/// Bytes encoded as one blob (`serialize_bytes`), the same bytes on the wire as a
/// `Vec<u8>` but not encoded element by element: megabytes of `Vec<u8>` take seconds
/// to encode in a debug build, which made the large-data tests slow on a busy machine.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Blob(Vec<u8>);

impl serde::Serialize for Blob {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Blob {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Blob;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Blob, E> {
                Ok(Blob(v.to_vec()))
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Blob, E> {
                Ok(Blob(v))
            }
        }
        d.deserialize_byte_buf(V)
    }
}

fn pool(method: StartMethod, n: usize) -> Result<Pool, Error> {
    Pool::builder().processes(n).start_method(method).build()
}

/// Two workers, each replaced after `tasks` tasks.
fn recycling_pool(method: StartMethod, tasks: usize) -> Result<Pool, Error> {
    Pool::builder()
        .processes(2)
        .maxtasksperchild(tasks)
        .start_method(method)
        .build()
}

/// How many of `pids` (one per task) each worker ran.
fn tasks_per_worker(pids: Vec<u32>) -> HashMap<u32, usize> {
    let mut per_pid = HashMap::new();
    for pid in pids {
        *per_pid.entry(pid).or_default() += 1;
    }
    per_pid
}

/// The pool's worker pids once there are `n` of them (polled, bounded): fewer if the
/// bound passed first.
fn once_running(p: &Pool, n: usize) -> Vec<u32> {
    let mut pids = p.worker_pids();
    eventually(|| {
        pids = p.worker_pids();
        pids.len() == n
    });
    pids
}

fn sqr(x: i64) -> i64 {
    x * x
}

fn mul(a: i64, b: i64) -> i64 {
    a * b
}

fn sleep_ms(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

fn pid_of(_: u32) -> u32 {
    std::process::id()
}

fn name_of(_: u32) -> String {
    multiproc_process::current_process().name().to_string()
}

fn picky(x: i64) -> i64 {
    assert!(x != 3, "three is not allowed");
    x
}

fn exit_with(code: i32) -> i32 {
    std::process::exit(code)
}

fn abort_now() {
    std::process::abort()
}

/// Returns the word the test sends, once it sends it: the result cannot be ready before.
fn wait_for_word(conn: Connection) -> String {
    conn.recv_timeout::<String>(BOUND)
        .unwrap_or_else(|e| format!("no word: {e}"))
}

fn report_then_block(conn: Connection) -> u32 {
    let _ = conn.send(&std::process::id());
    std::thread::sleep(Duration::from_secs(60));
    0
}

static INIT_CALLS: AtomicU32 = AtomicU32::new(0);

fn init_count(tag: String) {
    assert_eq!(tag, "init");
    INIT_CALLS.fetch_add(1, Ordering::SeqCst);
}

fn calls_seen(_: u32) -> (u32, u32) {
    (std::process::id(), INIT_CALLS.load(Ordering::SeqCst))
}

fn failing_init() {
    panic!("initializer refuses");
}

fn exiting_init() {
    std::process::exit(7);
}

fn alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

// CPython: _TestPool.test_apply
#[test]
fn apply() -> TestResult {
    for m in METHODS {
        let p = pool(m, 2)?;
        assert_eq!(p.apply(sqr, (5,))?, 25);
        assert_eq!(p.apply(mul, (3, 4))?, 12);
    }
    Ok(())
}

// CPython: _TestPool.test_map, test_map_chunksize
#[test]
fn map_keeps_order_with_any_chunking() -> TestResult {
    for m in METHODS {
        let p = pool(m, 3)?;
        let want: Vec<i64> = (0..100).map(|x| x * x).collect();
        assert_eq!(p.map(sqr, 0..100)?, want);
        for cs in [1, 7, 99, 100, 1000] {
            assert_eq!(p.map_chunked(sqr, 0..100, cs)?, want, "chunksize {cs}");
        }
        assert!(matches!(
            p.map_async_chunked(sqr, 0..3, 0).get(),
            Err(Error::InvalidArgument(_))
        ));
    }
    Ok(())
}

// CPython: _TestPool.test_empty_iterable
#[test]
fn empty_iterables() -> TestResult {
    for m in METHODS {
        let p = pool(m, 2)?;
        assert_eq!(p.map(sqr, Vec::<i64>::new())?, Vec::<i64>::new());
        assert_eq!(p.map_chunked(sqr, Vec::<i64>::new(), 5)?, Vec::<i64>::new());
        assert_eq!(p.starmap(mul, Vec::<(i64, i64)>::new())?, Vec::<i64>::new());
        assert_eq!(p.imap(sqr, Vec::<i64>::new()).count(), 0);
        assert_eq!(p.imap_unordered(sqr, Vec::<i64>::new()).count(), 0);
        // CPython: test_map_async on an empty list resolves at once.
        assert!(p.map_async(sqr, Vec::<i64>::new()).ready());
    }
    Ok(())
}

// CPython: _TestPool.test_map_async, test_map_async_callbacks
#[test]
fn map_async_with_callbacks() -> TestResult {
    for m in METHODS {
        let p = pool(m, 2)?;
        let seen = Arc::new(AtomicUsize::new(0));
        let s2 = seen.clone();
        let r = p
            .map_async(sqr, 0..10)
            .callback(move |v: &Vec<i64>| s2.store(v.len(), Ordering::SeqCst));
        assert!(r.wait_timeout(BOUND));
        assert!(r.successful()?);
        assert_eq!(r.get()?, (0..10).map(|x| x * x).collect::<Vec<_>>());
        assert_eq!(seen.load(Ordering::SeqCst), 10);

        let msg = Arc::new(std::sync::Mutex::new(String::new()));
        let m2 = msg.clone();
        let r = p
            .map_async(picky, 0..5)
            .error_callback(move |e: &Error| *m2.lock().expect("not poisoned") = e.to_string());
        assert!(r.wait_timeout(BOUND));
        assert!(!r.successful()?);
        assert!(
            matches!(r.get(), Err(Error::Panicked(ref p)) if p.message().contains("three is not allowed"))
        );
        assert!(msg.lock().expect("not poisoned").contains("three"));
    }
    Ok(())
}

// CPython: _TestPool.test_starmap, test_starmap_async
#[test]
fn starmap() -> TestResult {
    for m in METHODS {
        let p = pool(m, 2)?;
        let args: Vec<(i64, i64)> = (0..10).map(|i| (i, i + 1)).collect();
        let want: Vec<i64> = args.iter().map(|(a, b)| a * b).collect();
        assert_eq!(p.starmap(mul, args.clone())?, want);
        assert_eq!(p.starmap_chunked(mul, args.clone(), 3)?, want);
        assert_eq!(p.starmap_async(mul, args).get()?, want);
    }
    Ok(())
}

// CPython: _TestPool.test_imap, test_imap_unordered
#[test]
fn imap_orders() -> TestResult {
    for m in METHODS {
        let p = pool(m, 3)?;
        let want: Vec<i64> = (0..50).map(|x| x * x).collect();
        let got: Vec<i64> = p.imap(sqr, 0..50).collect::<Result<_, _>>()?;
        assert_eq!(got, want);
        let got: Vec<i64> = p.imap(sqr, 0..50).chunksize(7).collect::<Result<_, _>>()?;
        assert_eq!(got, want);
        let mut got: Vec<i64> = p
            .imap_unordered(sqr, 0..50)
            .chunksize(4)
            .collect::<Result<_, _>>()?;
        got.sort();
        assert_eq!(got, want);
        // A failing item is an error in its place; the others carry on.
        let got: Vec<Result<i64, Error>> = p.imap(picky, 0..6).collect();
        assert_eq!(got.len(), 6);
        for (i, r) in got.iter().enumerate() {
            match r {
                Ok(v) => assert_eq!(*v, i as i64),
                Err(Error::Panicked(p)) => {
                    assert_eq!(i, 3);
                    assert!(p.message().contains("three"));
                }
                Err(e) => return Err(format!("unexpected {e}").into()),
            }
        }
    }
    Ok(())
}

#[test]
fn imap_is_lazy_over_an_endless_iterator() -> TestResult {
    for m in METHODS {
        let p = pool(m, 2)?;
        let pulled = Arc::new(AtomicUsize::new(0));
        let counter = pulled.clone();
        let input = (0i64..).inspect(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
        });
        let it = p.imap(sqr, input).window(4);
        let got: Vec<i64> = it.take(20).collect::<Result<_, _>>()?;
        assert_eq!(got, (0..20).map(|x| x * x).collect::<Vec<_>>());
        // Pulled: what was consumed plus at most one window.
        let n = pulled.load(Ordering::SeqCst);
        assert!((20..=24).contains(&n), "pulled {n} items");
    }
    Ok(())
}

fn byte_len(v: Blob) -> usize {
    v.0.len()
}

/// The default window is bounded in bytes too: with 8 MiB items, only about 64 MiB of
/// input is pulled ahead of the consumer, not hundreds of items.
#[test]
fn imap_default_window_is_bounded_in_bytes() -> TestResult {
    let p = pool(StartMethod::Fork, 2)?;
    let pulled = Arc::new(AtomicUsize::new(0));
    let counter = pulled.clone();
    let input = std::iter::repeat_with(move || {
        counter.fetch_add(1, Ordering::SeqCst);
        Blob(vec![7u8; 8 << 20])
    });
    let mut it = p.imap_unordered(byte_len, input);
    for _ in 0..3 {
        assert!(matches!(it.next_timeout(BOUND), Some(Ok(n)) if n == 8 << 20));
    }
    let n = pulled.load(Ordering::SeqCst);
    assert!((3..=20).contains(&n), "pulled {n} items of 8 MiB");
    drop(it);
    p.terminate();
    Ok(())
}

static STARTED_UP: AtomicU32 = AtomicU32::new(0);

fn mark_started_up() {
    STARTED_UP.fetch_add(1, Ordering::SeqCst);
}

fn startup_runs(_: u32) -> u32 {
    STARTED_UP.load(Ordering::SeqCst)
}

/// In a child of its own (the hook is process-wide): workers of every start method
/// run `set_child_startup`'s hook once, before their initializer and tasks.
fn pool_startup_scenario() -> Result<(), String> {
    multiproc_process::set_child_startup(mark_started_up);
    for m in METHODS {
        let p = Pool::builder()
            .processes(2)
            .start_method(m)
            .initializer(startup_runs, (0,))
            .build()
            .map_err(|e| e.to_string())?;
        let seen = p.map(startup_runs, 0..8).map_err(|e| e.to_string())?;
        // A Fork worker inherits this process's count (0: the parent runs no hook).
        if seen.iter().any(|&n| n != 1) {
            return Err(format!("{m:?}: hook runs seen by tasks {seen:?}"));
        }
    }
    Ok(())
}

#[test]
fn workers_run_the_child_startup_hook() -> TestResult {
    let p = multiproc_process::Process::new(pool_startup_scenario, ())
        .start_method(StartMethod::Spawn)
        .start()?;
    p.join_value()??;
    Ok(())
}

fn word_len(s: String) -> usize {
    s.len()
}

// `imap_ref` borrows its input (rayon-style) instead of taking it by value.
#[test]
fn imap_ref_borrows_the_input() -> TestResult {
    let words: Vec<String> = (0..200).map(|i| "x".repeat(i % 17)).collect();
    let want: Vec<usize> = words.iter().map(String::len).collect();
    for m in METHODS {
        let p = pool(m, 2)?;
        let got: Vec<usize> = p
            .imap_ref(word_len, words.iter())
            .chunksize(7)
            .collect::<Result<_, _>>()?;
        assert_eq!(got, want, "{m:?}");
        let mut got: Vec<usize> = p
            .imap_unordered_ref(word_len, &words)
            .collect::<Result<_, _>>()?;
        got.sort_unstable();
        let mut sorted = want.clone();
        sorted.sort_unstable();
        assert_eq!(got, sorted, "{m:?}");
        // Borrowed from a slice of a local that is changed right after.
        let mut local = vec!["ab".to_string(), "c".to_string()];
        let first = p
            .imap_ref(word_len, &local[..])
            .next()
            .ok_or("no result")??;
        local.push("after".into());
        assert_eq!((first, local.len()), (2, 3), "{m:?}");
    }
    Ok(())
}

// Dropped after its first result: the input is read no further (it was read only
// inside `next`, up to the window ahead), the pool goes on and can be joined.
#[test]
fn imap_ref_dropped_early_reads_no_more() -> TestResult {
    for m in METHODS {
        let p = pool(m, 2)?;
        let words: Vec<String> = (0..10_000).map(|i| i.to_string()).collect();
        let pulled = AtomicUsize::new(0);
        let mut it = p
            .imap_ref(
                word_len,
                words.iter().inspect(|_| {
                    pulled.fetch_add(1, Ordering::SeqCst);
                }),
            )
            .window(4);
        assert_eq!(it.next().ok_or("no result")??, 1, "{m:?}");
        let before = pulled.load(Ordering::SeqCst);
        assert!(
            before < words.len(),
            "{m:?}: pulled {before} of {}",
            words.len()
        );
        drop(it);
        // The borrow is over: the input can be dropped, and nothing reads it.
        drop(words);
        assert_eq!(pulled.load(Ordering::SeqCst), before, "{m:?}");
        assert_eq!(p.apply(sqr, (5,))?, 25, "{m:?}");
        p.close();
        assert!(p.join_timeout(BOUND)?, "{m:?}");
    }
    Ok(())
}

// CPython's `AsyncResult.get(timeout)` may be retried after a `TimeoutError`: time
// out, retry, then succeed; the value is handed out once.
#[test]
fn get_timeout_can_be_retried() -> TestResult {
    for m in METHODS {
        let p = pool(m, 1)?;
        let (mine, theirs) = Pipe::duplex()?;
        let r = p.apply_async(wait_for_word, (theirs,));
        // The task cannot finish before the word is sent: these time out.
        assert!(
            matches!(r.get_timeout(Duration::ZERO), Err(Error::Timeout)),
            "{m:?}"
        );
        assert!(
            matches!(
                r.get_timeout(Duration::from_millis(20)),
                Err(Error::Timeout)
            ),
            "{m:?}"
        );
        assert!(!r.ready());
        mine.send(&"hello".to_string())?;
        assert_eq!(r.get_timeout(BOUND)?, "hello", "{m:?}");
        assert!(r.ready() && r.successful()?, "{m:?}");
        assert!(
            matches!(r.get_timeout(Duration::ZERO), Err(Error::AlreadyTaken)),
            "{m:?}"
        );
        assert!(matches!(r.get(), Err(Error::AlreadyTaken)), "{m:?}");
    }
    Ok(())
}

// CPython: _TestPool.test_async_timeout
#[test]
fn async_timeout_and_cancel() -> TestResult {
    for m in METHODS {
        let p = pool(m, 1)?;
        // Busy far longer than any stall of a loaded machine (terminated below), so
        // "not ready yet" and "queued tasks not started" hold whatever the speed.
        let r = p.apply_async(sleep_ms, (60_000,));
        assert!(!r.wait_timeout(Duration::from_millis(20)));
        assert!(matches!(r.successful(), Err(Error::NotReady)));
        assert!(matches!(
            r.get_timeout(Duration::from_millis(20)),
            Err(Error::Timeout)
        ));
        let queued = p.map_async_chunked(sqr, 0..10, 1);
        assert!(queued.cancel());
        assert!(matches!(queued.get(), Err(Error::Cancelled)));
        // Terminate rather than wait for the sleeper.
        p.terminate();
    }
    Ok(())
}

#[test]
fn panics_and_errors_propagate() -> TestResult {
    for m in METHODS {
        let p = pool(m, 2)?;
        match p.apply(picky, (3,)) {
            Err(Error::Panicked(p)) => assert!(p.message().contains("three is not allowed")),
            other => return Err(format!("expected a panic, got {other:?}").into()),
        }
        match p.map(picky, 0..10) {
            Err(Error::Panicked(p)) => assert!(p.message().contains("three")),
            other => return Err(format!("expected a panic, got {other:?}").into()),
        }
        // The pool still serves.
        assert_eq!(p.apply(sqr, (9,))?, 81);
    }
    Ok(())
}

#[test]
fn sigkilled_worker_fails_its_task_only() -> TestResult {
    for m in METHODS {
        let p = pool(m, 2)?;
        let (mine, theirs) = Pipe::duplex()?;
        let victim = p.apply_async(report_then_block, (theirs,));
        let others = p.map_async_chunked(sqr, 0..20, 1);
        let pid: u32 = mine.recv_timeout(BOUND)?;
        let raw = rustix::process::Pid::from_raw(pid as i32).ok_or("bad pid")?;
        rustix::process::kill_process(raw, rustix::process::Signal::KILL)?;
        match victim.get_timeout(BOUND) {
            Err(e @ Error::WorkerDied { .. }) => {
                assert!(
                    matches!(e, Error::WorkerDied { pid: p2, cause: Death::Signal(9) } if p2 == pid)
                );
                assert!(e.to_string().ends_with(": killed by SIGKILL"), "{e}");
            }
            other => return Err(format!("expected WorkerDied, got {other:?}").into()),
        }
        assert_eq!(
            others.get_timeout(BOUND)?,
            (0..20).map(|x| x * x).collect::<Vec<_>>()
        );
        assert_eq!(p.apply(sqr, (4,))?, 16);
        assert!(!p.worker_pids().contains(&pid));
    }
    Ok(())
}

#[test]
fn exit_and_abort_in_a_task_are_worker_deaths() -> TestResult {
    for m in METHODS {
        let p = pool(m, 2)?;
        match p.apply_async(exit_with, (3,)).get_timeout(BOUND) {
            Err(Error::WorkerDied {
                cause: Death::Exited(3),
                ..
            }) => {}
            other => return Err(format!("expected exit 3, got {other:?}").into()),
        }
        match p.apply_async(abort_now, ()).get_timeout(BOUND) {
            Err(Error::WorkerDied {
                cause: Death::Signal(6),
                ..
            }) => {}
            other => return Err(format!("expected SIGABRT, got {other:?}").into()),
        }
        // map with a dying chunk: that chunk's error, after the others ran.
        match p.map_async_chunked(exit_with, [0, 0], 1).get_timeout(BOUND) {
            Err(Error::WorkerDied {
                cause: Death::Exited(0),
                ..
            }) => {}
            other => return Err(format!("expected exit 0, got {other:?}").into()),
        }
        assert_eq!(p.map(sqr, 0..5)?, [0, 1, 4, 9, 16]);
    }
    Ok(())
}

// CPython: _TestPool.test_terminate
#[test]
fn terminate_with_tasks_in_flight_leaves_no_process() -> TestResult {
    for m in METHODS {
        let p = pool(m, 2)?;
        let pending = p.map_async_chunked(sleep_ms, vec![2000u64; 8], 1);
        let one = p.apply_async(sleep_ms, (2000,));
        // Wait until both workers run.
        let pids = once_running(&p, 2);
        assert_eq!(pids.len(), 2);
        p.terminate();
        assert!(matches!(pending.get_timeout(BOUND), Err(Error::Terminated)));
        assert!(matches!(one.get_timeout(BOUND), Err(Error::Terminated)));
        for pid in pids {
            assert!(!alive(pid), "worker {pid} survived terminate");
        }
        assert!(p.worker_pids().is_empty());
        p.join()?;
    }
    Ok(())
}

#[test]
fn close_and_join_rules() -> TestResult {
    for m in METHODS {
        let p = pool(m, 2)?;
        assert!(matches!(p.join(), Err(Error::StillRunning)));
        let r = p.map_async(sqr, 0..10);
        p.close();
        assert!(matches!(p.apply(sqr, (1,)), Err(Error::NotRunning)));
        assert!(matches!(p.map(sqr, 0..2), Err(Error::NotRunning)));
        p.join()?;
        // Queued work finished before the workers left.
        assert_eq!(r.get()?.len(), 10);
        assert!(p.worker_pids().is_empty());
        let p = pool(m, 1)?;
        p.terminate();
        p.join()?;
    }
    Ok(())
}

// CPython: KI-11 (bpo-29954): results pending when the pool goes away resolve.
#[test]
fn dropped_pool_resolves_pending_results() -> TestResult {
    for m in METHODS {
        let p = pool(m, 1)?;
        let r = p.apply_async(sleep_ms, (5000,));
        let q = p.map_async_chunked(sqr, 0..10, 1);
        drop(p);
        assert!(matches!(r.get_timeout(BOUND), Err(Error::Terminated)));
        assert!(matches!(q.get_timeout(BOUND), Err(Error::Terminated)));
    }
    Ok(())
}

// CPython: _TestPool.test_maxtasksperchild (TestPoolWorkerLifetime.test_pool_worker_lifetime)
#[test]
fn maxtasksperchild_recycles_workers() -> TestResult {
    for m in METHODS {
        let p = recycling_pool(m, 2)?;
        let pids = p.map_chunked(pid_of, 0..20, 1)?;
        let per_pid = tasks_per_worker(pids);
        assert!(per_pid.values().all(|&n| n <= 2), "{per_pid:?}");
        assert!(per_pid.len() >= 10, "{per_pid:?}");
        p.close_and_join()?;
    }
    Ok(())
}

#[test]
fn initializer_runs_once_per_worker() -> TestResult {
    for m in METHODS {
        let p = Pool::builder()
            .processes(2)
            .initializer(init_count, ("init".to_string(),))
            .start_method(m)
            .build()?;
        let seen = p.map_chunked(calls_seen, 0..40, 1)?;
        assert!(seen.iter().all(|&(_, n)| n == 1), "{seen:?}");
        p.close_and_join()?;
    }
    Ok(())
}

// KI-03: a failing initializer must not respawn forever.
#[test]
fn failing_initializer_breaks_the_pool() -> TestResult {
    for m in METHODS {
        let p = Pool::builder()
            .processes(2)
            .initializer(failing_init, ())
            .start_method(m)
            .build()?;
        match p.map_async(sqr, 0..10).get_timeout(BOUND) {
            Err(Error::InitializerFailed(msg)) => assert!(msg.contains("initializer refuses")),
            other => return Err(format!("expected InitializerFailed, got {other:?}").into()),
        }
        assert!(matches!(
            p.apply(sqr, (1,)),
            Err(Error::InitializerFailed(_))
        ));
        let p = Pool::builder()
            .processes(1)
            .initializer(exiting_init, ())
            .start_method(m)
            .build()?;
        match p.apply_async(sqr, (2,)).get_timeout(BOUND) {
            Err(Error::WorkerStartFailed(msg)) => assert!(msg.contains("code 7"), "{msg}"),
            other => return Err(format!("expected WorkerStartFailed, got {other:?}").into()),
        }
    }
    Ok(())
}

// CPython: _TestPool.test_context (ctx.Pool) and worker names.
#[test]
fn workers_are_named_like_cpython() -> TestResult {
    for (m, prefix) in [
        (StartMethod::Fork, "ForkPoolWorker-"),
        (StartMethod::Spawn, "SpawnPoolWorker-"),
        (StartMethod::ForkServer, "ForkServerPoolWorker-"),
    ] {
        let ctx = multiproc_process::get_context(Some(m));
        let p = Pool::builder().processes(2).context(&ctx).build()?;
        assert_eq!(p.start_method(), m);
        for name in p.map(name_of, 0..4)? {
            assert!(name.starts_with(prefix), "{name}");
        }
    }
    Ok(())
}

#[test]
fn panicking_callback_is_an_error_not_a_hang() -> TestResult {
    let p = pool(StartMethod::ForkServer, 1)?;
    let r = p
        .apply_async(sqr, (3,))
        .callback(|_| panic!("callback failed"));
    assert!(
        matches!(r.get_timeout(BOUND), Err(Error::Callback(ref m)) if m.contains("callback failed"))
    );
    assert_eq!(p.apply(sqr, (3,))?, 9);
    Ok(())
}

#[test]
fn bad_arguments_are_refused() -> TestResult {
    assert!(matches!(Pool::new(0), Err(Error::InvalidArgument(_))));
    assert!(matches!(
        Pool::builder().maxtasksperchild(0).build(),
        Err(Error::InvalidArgument(_))
    ));
    Ok(())
}

// ------------------------------------------------------------ the result ring

/// The item at which `die_at` kills its worker.
const FATAL: u32 = 1;

/// `(x, pid)`; for `x == FATAL` the worker SIGKILLs itself mid-task.
fn die_at(x: u32) -> (u32, u32) {
    if x == FATAL {
        let me = rustix::process::getpid();
        let _ = rustix::process::kill_process(me, rustix::process::Signal::KILL);
        std::thread::sleep(Duration::from_secs(60));
    }
    (x, std::process::id())
}

fn blob(n: u32) -> Blob {
    Blob((0..n).map(|i| (i % 251) as u8).collect())
}

#[test]
fn sigkilled_worker_keeps_published_results_and_fails_only_its_task() -> TestResult {
    for m in METHODS {
        // One worker: every task before the fatal one ran in the same process and
        // published its result, still in the ring when the worker dies (the first
        // batch is 4 tasks and the supervisor sleeps until 2 are done); the ones after
        // it run in the replacement.
        let p = pool(m, 1)?;
        let k = FATAL;
        let mut it = p.imap(die_at, 0..40u32).window(40);
        let mut got = Vec::new();
        for _ in 0..40 {
            got.push(it.next_timeout(BOUND).ok_or("imap ended early")?);
        }
        assert!(it.next_timeout(BOUND).is_none());
        let dead = match &got[k as usize] {
            Err(Error::WorkerDied {
                pid,
                cause: Death::Signal(9),
            }) => *pid,
            other => return Err(format!("expected WorkerDied by SIGKILL, got {other:?}").into()),
        };
        for (x, r) in got.iter().enumerate() {
            if x == k as usize {
                continue;
            }
            let (y, pid) = r.as_ref().map_err(|e| format!("item {x}: {e}"))?;
            assert_eq!(*y as usize, x);
            if x < k as usize {
                assert_eq!(*pid, dead, "item {x} ran before the fatal one");
            } else {
                assert_ne!(*pid, dead, "item {x} ran after the fatal one");
            }
        }
    }
    Ok(())
}

#[test]
fn results_larger_than_the_ring_go_in_order() -> TestResult {
    for m in METHODS {
        let p = pool(m, 2)?;
        // Small (ring), larger than a ring record, larger than the whole ring.
        let sizes = [10u32, 70_000, 10, 300_000, 0, 1 << 20, 5, 65_536];
        let got = p.map_async_chunked(blob, sizes, 1).get_timeout(BOUND)?;
        assert_eq!(got.len(), sizes.len());
        for (n, v) in sizes.iter().zip(&got) {
            assert_eq!(*v, blob(*n), "result of {n} bytes");
        }
        // The same in one chunk (one large result).
        let got = p
            .map_async_chunked(blob, sizes, sizes.len())
            .get_timeout(BOUND)?;
        assert!(sizes.iter().zip(&got).all(|(n, v)| *v == blob(*n)));
    }
    Ok(())
}

#[test]
fn many_small_tasks_with_chunksize_one() -> TestResult {
    for m in METHODS {
        let p = pool(m, 2)?;
        let n = 30_000i64;
        let want: Vec<i64> = (0..n).map(|x| x * x).collect();
        assert_eq!(p.map_async_chunked(sqr, 0..n, 1).get_timeout(BOUND)?, want);
        let mut got = Vec::new();
        let mut it = p.imap_unordered(sqr, 0..n);
        while let Some(r) = it.next_timeout(BOUND) {
            got.push(r?);
        }
        got.sort_unstable();
        assert_eq!(got, want);
        p.close();
        assert!(p.join_timeout(BOUND)?);
    }
    Ok(())
}

#[test]
fn maxtasksperchild_with_many_small_tasks() -> TestResult {
    for m in METHODS {
        let p = recycling_pool(m, 7)?;
        let pids = p.map_async_chunked(pid_of, 0..300, 1).get_timeout(BOUND)?;
        assert_eq!(pids.len(), 300);
        let per_pid = tasks_per_worker(pids);
        assert!(per_pid.values().all(|&n| n <= 7), "{per_pid:?}");
        assert!(per_pid.len() >= 300 / 7, "{per_pid:?}");
        p.close();
        assert!(p.join_timeout(BOUND)?);
    }
    Ok(())
}

#[test]
fn terminate_while_many_small_tasks_run() -> TestResult {
    for m in METHODS {
        let p = pool(m, 2)?;
        let n = 2_000_000i64;
        let r = p.map_async_chunked(sqr, 0..n, 1);
        // Let the workers get going (bounded).
        let pids = once_running(&p, 2);
        std::thread::sleep(Duration::from_millis(20));
        p.terminate();
        match r.get_timeout(BOUND) {
            Err(Error::Terminated) => {}
            Ok(v) => assert_eq!(v.len(), n as usize),
            Err(e) => return Err(format!("expected Terminated, got {e}").into()),
        }
        for pid in pids {
            assert!(!alive(pid), "worker {pid} survived terminate");
        }
        assert!(p.worker_pids().is_empty());
        assert!(p.join_timeout(BOUND)?);
    }
    Ok(())
}

fn echo(v: Blob) -> Blob {
    v
}

#[test]
fn large_arguments_and_large_results_do_not_deadlock() -> TestResult {
    for m in METHODS {
        let p = pool(m, 2)?;
        // Each argument and each result is larger than a socket buffer: task frames
        // and result frames cross in both directions.
        let inputs: Vec<Blob> = (0..40u32).map(|i| blob(300_000 + i)).collect();
        let got = p
            .map_async_chunked(echo, inputs.clone(), 1)
            .get_timeout(BOUND)?;
        assert_eq!(got, inputs);
        let got = p
            .map_async_chunked(echo, inputs.clone(), 3)
            .get_timeout(BOUND)?;
        assert_eq!(got, inputs);
    }
    Ok(())
}
