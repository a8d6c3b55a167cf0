//! The async forms (`--features tokio`): many concurrent awaiters, cancellation at every
//! await point with the permits and the lock counted afterwards, blocking and async
//! sides mixed, processes under every start method, holders killed while a future waits.
//! Every test runs on tokio's current-thread and multi-thread runtimes.
#![cfg(feature = "tokio")]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::task::Waker;
use std::time::Duration;

use multiproc_process::Process;
use multiproc_sync::foundation::{FutexWaiter, futex_wake};
use multiproc_sync::{BoundedSemaphore, Event, Lock, Semaphore};
use multiproc_test_support::aio::{Drivers, join_bounded, runtimes};
use multiproc_test_support::{BOUND, METHODS, TestResult, park_forever, poll_noop, xorshift};

// ---------------------------------------------------------------- the bridge

#[test]
fn bridge_fires_on_wake_on_change_and_at_the_timeout() {
    let word = AtomicU32::new(5);
    // Armed with a stale value: fired at once (EAGAIN in the bridge).
    let (tx, rx) = std::sync::mpsc::channel::<u32>();
    struct Tx(std::sync::Mutex<std::sync::mpsc::Sender<u32>>, u32);
    impl std::task::Wake for Tx {
        fn wake(self: Arc<Self>) {
            let _ = self.0.lock().expect("sender").send(self.1);
        }
    }
    let waker = |n| Waker::from(Arc::new(Tx(std::sync::Mutex::new(tx.clone()), n)));
    let mut a = FutexWaiter::new();
    a.arm(&word, 4, None, &waker(1));
    assert_eq!(rx.recv_timeout(BOUND), Ok(1));
    assert!(a.disarm());
    // Armed with the current value: fired by a wake.
    let mut b = FutexWaiter::new();
    b.arm(&word, 5, None, &waker(2));
    assert!(b.is_armed());
    word.store(6, Ordering::SeqCst);
    futex_wake(&word, 1);
    assert_eq!(rx.recv_timeout(BOUND), Ok(2));
    assert!(b.disarm());
    // A timeout.
    let mut c = FutexWaiter::new();
    c.arm(&word, 6, Some(Duration::from_millis(1)), &waker(3));
    assert_eq!(rx.recv_timeout(BOUND), Ok(3));
    // Disarmed before anything happened: not fired, never woken.
    let mut d = FutexWaiter::new();
    d.arm(&word, 6, None, &waker(4));
    assert!(!d.disarm());
    assert!(!d.is_armed());
}

#[test]
fn bridge_beyond_127_words_still_fires() {
    let words: Vec<AtomicU32> = (0..300).map(|_| AtomicU32::new(0)).collect();
    let fired = Arc::new(AtomicU32::new(0));
    struct Count(Arc<AtomicU32>);
    impl std::task::Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let waker = Waker::from(Arc::new(Count(fired.clone())));
    let mut ws: Vec<FutexWaiter> = words
        .iter()
        .map(|w| {
            let mut f = FutexWaiter::new();
            f.arm(w, 0, None, &waker);
            f
        })
        .collect();
    for w in &words {
        w.store(1, Ordering::SeqCst);
        futex_wake(w, 1);
    }
    let deadline = std::time::Instant::now() + BOUND;
    while fired.load(Ordering::SeqCst) < 300 {
        assert!(std::time::Instant::now() < deadline, "not all fired");
        std::thread::sleep(Duration::from_millis(1));
    }
    for w in &mut ws {
        assert!(w.disarm());
    }
}

// ---------------------------------------------------------------- Lock

#[test]
fn failed_try_forms_take_and_give_nothing() -> TestResult {
    let lock = Lock::new()?.into_async();
    let g = lock.try_lock().expect("free");
    for _ in 0..3 {
        assert!(lock.try_lock().is_none());
    }
    assert!(
        lock.get_ref().is_locked(),
        "a failed try_lock must not unlock"
    );
    drop(g);
    assert!(!lock.get_ref().is_locked());
    let sem = Semaphore::new(1)?.into_async();
    let p = sem.try_permit().expect("one permit");
    for _ in 0..3 {
        assert!(sem.try_permit().is_none());
    }
    assert_eq!(
        sem.get_ref().value(),
        0,
        "a failed try_permit must not release"
    );
    drop(p);
    assert_eq!(sem.get_ref().value(), 1);
    Ok(())
}

#[test]
fn many_async_lockers_and_a_blocking_thread_exclude_each_other() -> TestResult {
    for (name, rt) in runtimes(Drivers::Time)? {
        let lock = Lock::new()?.into_async();
        let count = Arc::new(AtomicU64::new(0));
        let blocking = {
            let lock = lock.get_ref().clone();
            let count = count.clone();
            std::thread::spawn(move || {
                for _ in 0..200 {
                    let _g = lock.lock().expect("no owner died");
                    let v = count.load(Ordering::Relaxed);
                    count.store(v + 1, Ordering::Relaxed);
                }
            })
        };
        rt.block_on(async {
            let mut tasks = Vec::new();
            for _ in 0..16 {
                let lock = lock.clone();
                let count = count.clone();
                tasks.push(tokio::spawn(async move {
                    for _ in 0..50 {
                        let _g = lock.lock().await.expect("no owner died");
                        let v = count.load(Ordering::Relaxed);
                        tokio::task::yield_now().await; // held across an await
                        count.store(v + 1, Ordering::Relaxed);
                    }
                }));
            }
            for t in tasks {
                join_bounded(t).await;
            }
        });
        blocking.join().expect("blocking locker");
        assert_eq!(count.load(Ordering::Relaxed), 16 * 50 + 200, "{name}");
        assert!(!lock.get_ref().is_locked(), "{name}");
    }
    Ok(())
}

#[test]
fn dropped_lock_futures_never_keep_or_lose_the_lock() -> TestResult {
    for (name, rt) in runtimes(Drivers::Time)? {
        let lock = Lock::new()?.into_async();
        // Every await point by hand: dropped before the first poll, after a Pending,
        // after being woken (the wake-up is passed on to the next waiter).
        {
            let held = lock.try_lock().expect("free");
            let f = lock.lock();
            drop(f);
            let mut f1 = lock.lock();
            assert!(poll_noop(&mut f1).is_pending());
            let mut f2 = lock.lock();
            assert!(poll_noop(&mut f2).is_pending());
            drop(held);
            // f1 is dropped while (maybe) woken: f2 must still get the lock.
            drop(f1);
            rt.block_on(async {
                let g = tokio::time::timeout(BOUND, f2)
                    .await
                    .expect("woken after a drop");
                drop(g.expect("no owner died"));
            });
        }
        // Many awaiters cancelled at random points while the lock changes hands.
        let completed = Arc::new(AtomicU64::new(0));
        rt.block_on(async {
            let mut tasks = Vec::new();
            for t in 0..24u64 {
                let lock = lock.clone();
                let completed = completed.clone();
                tasks.push(tokio::spawn(async move {
                    let mut r = xorshift(t + 1);
                    for _ in 0..40 {
                        let wait = Duration::from_micros(r() % 300);
                        if let Ok(g) = tokio::time::timeout(wait, lock.lock()).await {
                            let _g = g.expect("no owner died");
                            if r() % 2 == 0 {
                                tokio::task::yield_now().await;
                            }
                            completed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }));
            }
            for t in tasks {
                join_bounded(t).await;
            }
        });
        // Nothing kept it: free now, and a blocking thread still gets it.
        assert!(!lock.get_ref().is_locked(), "{name}");
        let g = lock.get_ref().lock_timeout(BOUND);
        assert!(g.is_ok(), "{name}");
        drop(g);
        assert!(!lock.get_ref().is_locked(), "{name}");
        assert!(completed.load(Ordering::Relaxed) > 0, "{name}");
    }
    Ok(())
}

fn hold_forever(lock: Lock, locked: Event) {
    if let Ok(g) = lock.lock() {
        g.forget();
    }
    locked.set();
    park_forever()
}

#[test]
fn a_holder_killed_while_a_future_waits_gives_owner_died_under_every_start_method() -> TestResult {
    for (name, rt) in runtimes(Drivers::Time)? {
        for method in METHODS {
            let lock = Lock::new()?.into_async();
            let locked = Event::new()?.into_async();
            let p = Process::new(
                hold_forever,
                (lock.get_ref().clone(), locked.get_ref().clone()),
            )
            .start_method(method)
            .start()?;
            rt.block_on(async {
                tokio::time::timeout(BOUND, locked.wait())
                    .await
                    .expect("child locked");
                let waiting = tokio::spawn({
                    let lock = lock.clone();
                    async move {
                        let r = tokio::time::timeout(BOUND, lock.lock())
                            .await
                            .expect("bounded");
                        match r {
                            Ok(_) => "ok",
                            Err(died) => {
                                drop(died.into_inner());
                                "owner died"
                            }
                        }
                    }
                });
                tokio::task::yield_now().await;
                p.kill().expect("kill");
                p.join().expect("reap");
                assert_eq!(
                    waiting.await.expect("task"),
                    "owner died",
                    "{name} {method:?}"
                );
            });
            assert!(!lock.get_ref().is_locked(), "{name} {method:?}");
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- semaphores

#[test]
fn permits_are_counted_after_random_cancellations() -> TestResult {
    for (name, rt) in runtimes(Drivers::Time)? {
        let sem = Semaphore::new(3)?.into_async();
        let bsem = BoundedSemaphore::new(2)?.into_async();
        let inside = Arc::new(AtomicU32::new(0));
        rt.block_on(async {
            let mut tasks = Vec::new();
            for t in 0..32u64 {
                let sem = sem.clone();
                let bsem = bsem.clone();
                let inside = inside.clone();
                tasks.push(tokio::spawn(async move {
                    let mut r = xorshift(t + 7);
                    for _ in 0..40 {
                        let wait = Duration::from_micros(r() % 200);
                        if let Ok(_p) = tokio::time::timeout(wait, sem.permit()).await {
                            let n = inside.fetch_add(1, Ordering::SeqCst);
                            assert!(n < 3, "more holders than permits");
                            tokio::task::yield_now().await;
                            inside.fetch_sub(1, Ordering::SeqCst);
                        }
                        if let Ok(_p) = tokio::time::timeout(wait, bsem.permit()).await {
                            tokio::task::yield_now().await;
                        }
                    }
                }));
            }
            for t in tasks {
                join_bounded(t).await;
            }
        });
        assert_eq!(sem.get_ref().value(), 3, "{name}");
        assert_eq!(bsem.get_ref().value(), 2, "{name}");
        // Every permit can be taken again by blocking callers.
        for _ in 0..3 {
            assert!(sem.get_ref().acquire(Some(BOUND)), "{name}");
        }
        for _ in 0..3 {
            sem.get_ref().release()?;
        }
    }
    Ok(())
}

#[test]
fn a_dropped_woken_permit_future_passes_the_wake_up_on() -> TestResult {
    for (name, rt) in runtimes(Drivers::Time)? {
        let sem = Semaphore::new(0)?.into_async();
        // A blocking sleeper in another thread and an async waiter on the same word.
        let mut f = sem.permit();
        assert!(poll_noop(&mut f).is_pending());
        let sleeper = {
            let s = sem.get_ref().clone();
            std::thread::spawn(move || s.acquire(Some(BOUND)))
        };
        sem.get_ref().release()?;
        // Whoever the wake-up reached, dropping the future must not strand the sleeper.
        drop(f);
        assert!(sleeper.join().expect("sleeper"), "{name}");
        assert_eq!(sem.get_ref().value(), 0, "{name}");
        rt.block_on(async {
            let release = {
                let s = sem.get_ref().clone();
                std::thread::spawn(move || s.release())
            };
            tokio::time::timeout(BOUND, sem.permit())
                .await
                .expect("permit")
                .forget();
            release.join().expect("releaser").expect("release");
        });
    }
    Ok(())
}

fn release_n(sem: Semaphore, n: u32) -> bool {
    (0..n).all(|_| sem.release().is_ok())
}

#[test]
fn permits_released_by_other_processes_under_every_start_method() -> TestResult {
    for (name, rt) in runtimes(Drivers::Time)? {
        for method in METHODS {
            let sem = Semaphore::new(0)?.into_async();
            // Processes start outside the runtime's context (forking from inside a
            // multi-threaded runtime is refused by the process crate).
            let p = Process::new(release_n, (sem.get_ref().clone(), 8u32))
                .start_method(method)
                .start()?;
            rt.block_on(async {
                let waiters: Vec<_> = (0..8)
                    .map(|_| {
                        let sem = sem.clone();
                        tokio::spawn(async move {
                            tokio::time::timeout(BOUND, sem.permit())
                                .await
                                .expect("permit")
                                .forget();
                        })
                    })
                    .collect();
                for w in waiters {
                    w.await.expect("waiter");
                }
                assert!(p.join_value().expect("child"), "{name} {method:?}");
            });
            assert_eq!(sem.get_ref().value(), 0, "{name} {method:?}");
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- Event

fn set_event(ev: Event, go: Event) {
    if go.wait_timeout(Duration::from_secs(120)) {
        ev.set();
    }
}

#[test]
fn event_set_by_another_process_wakes_many_awaiters() -> TestResult {
    for (name, rt) in runtimes(Drivers::Time)? {
        for method in METHODS {
            let ev = Event::new()?.into_async();
            let go = Event::new()?;
            let p = Process::new(set_event, (ev.get_ref().clone(), go.clone()))
                .start_method(method)
                .start()?;
            rt.block_on(async {
                let waiters: Vec<_> = (0..16)
                    .map(|i| {
                        let ev = ev.clone();
                        tokio::spawn(async move {
                            if i % 4 == 0 {
                                // Cancelled waits take nothing from the others.
                                let _ = tokio::time::timeout(Duration::from_micros(50), ev.wait())
                                    .await;
                            }
                            tokio::time::timeout(BOUND, ev.wait()).await.expect("set");
                        })
                    })
                    .collect();
                tokio::task::yield_now().await;
                go.set();
                for w in waiters {
                    w.await.expect("waiter");
                }
                p.join().expect("child");
            });
            assert!(ev.get_ref().is_set(), "{name} {method:?}");
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- Condition

use multiproc_sync::{Condition, OwnerDied, RLock};

fn notify_when_ready(cond: Condition, ready: Semaphore, n: u32) -> bool {
    for _ in 0..n {
        if !ready.acquire(Some(BOUND)) {
            return false;
        }
        let Ok(g) = cond.lock() else { return false };
        g.notify_all();
    }
    true
}

#[test]
fn condition_waiters_woken_by_another_process_under_every_start_method() -> TestResult {
    for (name, rt) in runtimes(Drivers::Time)? {
        for method in METHODS {
            for rlock in [false, true] {
                let cond = if rlock {
                    Condition::with_lock(RLock::new()?)?
                } else {
                    Condition::with_lock(Lock::new()?)?
                }
                .into_async();
                let ready = Semaphore::new(0)?;
                let p = Process::new(
                    notify_when_ready,
                    (cond.get_ref().clone(), ready.clone(), 4u32),
                )
                .start_method(method)
                .start()?;
                rt.block_on(async {
                    for _ in 0..4 {
                        let g = cond.lock().await.unwrap_or_else(OwnerDied::into_inner);
                        // Counted as a waiter (under the lock) before the notifier may run.
                        let mut wait = g.wait();
                        assert!(poll_noop(&mut wait).is_pending());
                        ready.release().expect("release");
                        let g = tokio::time::timeout(BOUND, wait)
                            .await
                            .expect("notified")
                            .unwrap_or_else(OwnerDied::into_inner);
                        drop(g);
                    }
                });
                assert!(p.join_value()?, "{name} {method:?}");
                assert!(
                    cond.try_lock().is_some(),
                    "{name} {method:?}: lock left free"
                );
            }
        }
    }
    Ok(())
}

#[test]
fn cancelled_condition_waits_lose_no_notification() -> TestResult {
    for (name, rt) in runtimes(Drivers::Time)? {
        let cond = Condition::new()?.into_async();
        let done = Arc::new(AtomicU32::new(0));
        rt.block_on(async {
            // Waiters that give up at random points.
            let mut tasks = Vec::new();
            for t in 0..12u64 {
                let cond = cond.clone();
                tasks.push(tokio::spawn(async move {
                    let mut r = xorshift(t + 5);
                    for _ in 0..20 {
                        let g = cond.lock().await.unwrap_or_else(OwnerDied::into_inner);
                        let wait = Duration::from_micros(r() % 300);
                        let _ = tokio::time::timeout(wait, g.wait()).await;
                    }
                }));
            }
            // A notifier meanwhile.
            let notifier = {
                let cond = cond.clone();
                let done = done.clone();
                tokio::spawn(async move {
                    while done.load(Ordering::SeqCst) == 0 {
                        let g = cond.lock().await.unwrap_or_else(OwnerDied::into_inner);
                        g.notify(1);
                        drop(g);
                        tokio::task::yield_now().await;
                    }
                })
            };
            for t in tasks {
                join_bounded(t).await;
            }
            done.store(1, Ordering::SeqCst);
            notifier.await.expect("notifier");
            // The counts were left consistent: one waiter, one notify(1), it wakes.
            let g = cond.lock().await.unwrap_or_else(OwnerDied::into_inner);
            let mut wait = g.wait();
            assert!(poll_noop(&mut wait).is_pending(), "counted, then asleep");
            let notify = {
                let c = cond.get_ref().clone();
                std::thread::spawn(move || {
                    let g = c.lock().expect("no owner died");
                    g.notify(1);
                })
            };
            let g = tokio::time::timeout(BOUND, wait)
                .await
                .expect("the last notify reached the waiter")
                .unwrap_or_else(OwnerDied::into_inner);
            drop(g);
            notify.join().expect("notifier thread");
        });
        assert!(cond.try_lock().is_some(), "{name}");
    }
    Ok(())
}

// ---------------------------------------------------------------- Barrier

use multiproc_sync::{Barrier, BarrierError};

fn party(b: Barrier, rounds: u32) -> bool {
    (0..rounds).all(|_| b.wait().is_ok())
}

#[test]
fn barrier_with_async_tasks_and_a_blocking_process_under_every_start_method() -> TestResult {
    for (name, rt) in runtimes(Drivers::Time)? {
        for method in METHODS {
            let b = Barrier::new(3)?.with_default_timeout(BOUND).into_async();
            let p = Process::new(party, (b.get_ref().clone(), 5u32))
                .start_method(method)
                .start()?;
            rt.block_on(async {
                let tasks: Vec<_> = (0..2)
                    .map(|_| {
                        let b = b.clone();
                        tokio::spawn(async move {
                            let mut got = Vec::new();
                            for _ in 0..5 {
                                got.push(b.wait().await.expect("a full cycle"));
                            }
                            got
                        })
                    })
                    .collect();
                for t in tasks {
                    let got = join_bounded(t).await;
                    assert!(got.iter().all(|&i| i < 3), "{name} {method:?}: {got:?}");
                }
            });
            assert!(p.join_value()?, "{name} {method:?}");
            assert!(!b.get_ref().is_broken(), "{name} {method:?}");
        }
    }
    Ok(())
}

#[test]
fn a_cancelled_arrived_barrier_wait_breaks_it_and_reset_mends_it() -> TestResult {
    for (name, rt) in runtimes(Drivers::Time)? {
        let b = Barrier::new(2)?.into_async();
        rt.block_on(async {
            // Dropped before the first poll: nothing happened.
            drop(b.wait());
            assert!(!b.get_ref().is_broken(), "{name}");
            // Arrived, then cancelled: broken for the others.
            let mut f = b.wait();
            assert!(poll_noop(&mut f).is_pending());
            assert_eq!(b.get_ref().n_waiting(), 1, "{name}");
            drop(f);
            assert!(b.get_ref().is_broken(), "{name}");
            assert!(
                matches!(b.wait().await, Err(BarrierError::Broken)),
                "{name}"
            );
            b.get_ref().reset();
            let other = tokio::spawn({
                let b = b.clone();
                async move { b.wait().await }
            });
            let mine = tokio::time::timeout(BOUND, b.wait())
                .await
                .expect("bounded")
                .expect("cycle");
            let theirs = other.await.expect("task").expect("cycle");
            assert_eq!(mine + theirs, 1, "{name}: indices 0 and 1");
        });
        assert_eq!(b.get_ref().n_waiting(), 0, "{name}");
    }
    Ok(())
}

fn arrive_and_hang(b: Barrier, arrived: Event) {
    arrived.set();
    let _ = b.wait();
}

#[test]
fn a_party_killed_while_an_async_party_waits_breaks_the_barrier() -> TestResult {
    for (name, rt) in runtimes(Drivers::Time)? {
        for method in METHODS {
            let b = Barrier::new(3)?.into_async();
            let arrived = Event::new()?;
            let p = Process::new(arrive_and_hang, (b.get_ref().clone(), arrived.clone()))
                .start_method(method)
                .start()?;
            assert!(arrived.wait_timeout(BOUND));
            rt.block_on(async {
                let w = tokio::spawn({
                    let b = b.clone();
                    async move { tokio::time::timeout(BOUND, b.wait()).await }
                });
                // Wait until both (the child and the task) have arrived.
                let give_up = std::time::Instant::now() + BOUND;
                while b.get_ref().n_waiting() < 2 {
                    assert!(std::time::Instant::now() < give_up, "parties never arrived");
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                p.kill().expect("kill");
                p.join().expect("reap");
                let r = w.await.expect("task").expect("bounded");
                assert!(
                    matches!(r, Err(BarrierError::Broken)),
                    "{name} {method:?}: {r:?}"
                );
            });
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- the bridge across fork

fn await_permit_in_child(sem: Semaphore, started: Event) -> bool {
    let Ok(rt) = tokio::runtime::Builder::new_current_thread().build() else {
        return false;
    };
    started.set();
    rt.block_on(async {
        let sem = sem.into_async();
        // A bridge thread of the parent does not exist here: the child starts its own.
        sem.permit().await.forget();
    });
    true
}

#[test]
fn a_child_of_a_process_whose_bridge_runs_starts_its_own() -> TestResult {
    // The parent's bridge is running (armed once, then fired).
    let ev = Event::new()?.into_async();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()?;
    rt.block_on(async {
        let mut w = ev.wait();
        assert!(poll_noop(&mut w).is_pending());
        ev.get_ref().set();
        tokio::time::timeout(BOUND, w).await.expect("set");
    });
    for method in METHODS {
        let sem = Semaphore::new(0)?;
        let started = Event::new()?;
        let p = Process::new(await_permit_in_child, (sem.clone(), started.clone()))
            .start_method(method)
            .start()?;
        assert!(started.wait_timeout(BOUND), "{method:?}");
        sem.release()?;
        assert!(
            p.join_value()?,
            "{method:?}: the child's async wait was woken"
        );
        assert_eq!(sem.value(), 0, "{method:?}");
    }
    Ok(())
}
