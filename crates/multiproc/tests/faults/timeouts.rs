//! Timeout forms given `Duration::MAX` (a "practically forever" that programs do
//! write): each must behave as an unbounded wait, never panic on
//! `Instant + Duration` overflow. Every call below has its answer ready, so it
//! returns at once when it does not panic.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use multiproc::{
    Barrier, Condition, Event, JoinableQueue, Lock, Pipe, Pool, Process, Queue, RLock, Semaphore,
    StartMethod,
};

use crate::R;

const MAX: Duration = Duration::MAX;

fn one() -> u8 {
    1
}

fn double(x: u64) -> u64 {
    x * 2
}

/// A named call to try.
type Probe<'a> = (&'static str, Box<dyn FnOnce() + 'a>);

/// Runs each probe, catching panics; returns the names of those that panicked.
fn panicking(probes: Vec<Probe<'_>>) -> Vec<&'static str> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let out = probes
        .into_iter()
        .filter_map(|(name, f)| catch_unwind(AssertUnwindSafe(f)).is_err().then_some(name))
        .collect();
    std::panic::set_hook(hook);
    out
}

/// `join_timeout(Duration::MAX)` on a process (multiproc-process).
#[test]
fn process_join_timeout_max() -> R {
    for m in crate::METHODS {
        let p = Process::new(one, ()).start_method(m).start()?;
        p.join()?;
        assert!(p.join_timeout(MAX)?, "{m}");
        let p = Process::new(one, ()).start_method(m).start()?;
        assert!(p.join_timeout(MAX)?, "{m}: running, then exited");
        assert_eq!(p.join_value()?, 1);
    }
    Ok(())
}

/// The other crates' timeout forms with `Duration::MAX`.
#[test]
fn other_timeout_forms_with_duration_max() -> R {
    let (a, b) = Pipe::duplex()?;
    let q: Queue<u8> = Queue::new()?;
    let jq: JoinableQueue<u8> = JoinableQueue::new()?;
    let lock = Lock::new()?;
    let rlock = RLock::new()?;
    let sem = Semaphore::new(1)?;
    let ev = Event::new()?;
    ev.set();
    let bar = Barrier::new(1)?;
    let cond = Condition::new()?;
    let pool = Pool::builder()
        .processes(1)
        .start_method(StartMethod::Fork)
        .build()?;
    let bad = panicking(vec![
        (
            "Connection::recv_timeout",
            Box::new(|| {
                let _ = a.send(&1u8);
                let _ = b.recv_timeout::<u8>(MAX);
            }),
        ),
        (
            "Connection::poll",
            Box::new(|| {
                let _ = a.send(&1u8);
                let _ = b.poll(Some(MAX));
                let _ = b.recv::<u8>();
            }),
        ),
        (
            "Queue::get_timeout",
            Box::new(|| {
                let _ = q.put(1);
                let _ = q.get_timeout(MAX);
            }),
        ),
        (
            "Queue::put_timeout",
            Box::new(|| {
                let _ = q.put_timeout(1, MAX);
                let _ = q.try_get();
            }),
        ),
        (
            "JoinableQueue::join_timeout",
            Box::new(|| {
                let _ = jq.join_timeout(MAX);
            }),
        ),
        (
            "Lock::lock_timeout",
            Box::new(|| {
                let _ = lock.lock_timeout(MAX);
            }),
        ),
        (
            "RLock::lock_timeout",
            Box::new(|| {
                let _ = rlock.lock_timeout(MAX);
            }),
        ),
        (
            "Semaphore::permit_timeout",
            Box::new(|| {
                let _ = sem.permit_timeout(MAX);
            }),
        ),
        (
            "Event::wait_timeout",
            Box::new(|| {
                let _ = ev.wait_timeout(MAX);
            }),
        ),
        (
            "Barrier::wait_timeout",
            Box::new(|| {
                let _ = bar.wait_timeout(MAX);
            }),
        ),
        (
            "Condition::lock_timeout",
            Box::new(|| {
                let _ = cond.lock_timeout(MAX);
            }),
        ),
        (
            "AsyncResult::get_timeout",
            Box::new(|| {
                let _ = pool.apply_async(double, (1,)).get_timeout(MAX);
            }),
        ),
        (
            "AsyncResult::wait_timeout",
            Box::new(|| {
                let _ = pool.apply_async(double, (1,)).wait_timeout(MAX);
            }),
        ),
        (
            "IMap::next_timeout",
            Box::new(|| {
                let _ = pool.imap(double, [1u64]).next_timeout(MAX);
            }),
        ),
    ]);
    let joined = panicking(vec![(
        "Pool::join_timeout",
        Box::new(|| {
            pool.close();
            let _ = pool.join_timeout(MAX);
        }),
    )]);
    let bad: Vec<_> = bad.into_iter().chain(joined).collect();
    assert!(bad.is_empty(), "panicked with Duration::MAX: {bad:?}");
    Ok(())
}
