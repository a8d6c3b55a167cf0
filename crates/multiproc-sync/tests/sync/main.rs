//! Integration tests of multiproc-sync: CPython's scenarios, across processes, with
//! holder deaths. Cross-process cases fork directly (see `util`); every child is reaped.

mod ports;
mod start_methods;
mod util;

use std::sync::atomic::Ordering;
use std::time::Duration;

use multiproc_sync::{
    Barrier, BarrierError, BoundedSemaphore, Condition, Event, Lock, RLock, ReleaseError,
    Semaphore, TryLockError,
};
use multiproc_test_support::{BOUND, park_forever};
use util::{Child, Counters, TestResult, fork, wait_until};

/// Turns an owner-death outcome into a test failure (the guard borrows a local, so it
/// cannot travel in a `Box<dyn Error>`).
fn died<T>(_: T) -> &'static str {
    "unexpected owner death"
}

const SHORT: Duration = Duration::from_millis(20);

// ---------------------------------------------------------------- Lock / RLock

// CPython: _TestLock.test_lock
#[test]
fn lock_basics() -> TestResult {
    let lock = Lock::new()?;
    assert!(lock.acquire(None)?);
    assert!(!lock.acquire(Some(Duration::ZERO))?);
    assert_eq!(lock.release(), Ok(()));
    assert_eq!(lock.release(), Err(ReleaseError::NotLocked));
    let g = lock.lock().map_err(died)?;
    assert!(lock.is_locked() && lock.is_held_by_current_thread());
    assert!(matches!(lock.try_lock(), Err(TryLockError::WouldBlock)));
    assert!(matches!(
        lock.lock_timeout(SHORT),
        Err(TryLockError::WouldBlock)
    ));
    drop(g);
    assert!(!lock.is_locked());
    Ok(())
}

// CPython: _TestLock.test_rlock
#[test]
fn rlock_basics() -> TestResult {
    let lock = RLock::new()?;
    assert!(lock.acquire(None)?);
    assert!(lock.acquire(None)?);
    assert!(lock.acquire(None)?);
    assert_eq!(lock.depth(), 3);
    lock.release()?;
    lock.release()?;
    lock.release()?;
    assert_eq!(lock.release(), Err(ReleaseError::NotOwner));
    Ok(())
}

// CPython: _TestLock.test_rlock (release from another thread raises)
#[test]
fn rlock_release_by_other_thread_is_refused() -> TestResult {
    let lock = RLock::new()?;
    let g = lock.lock().map_err(died)?;
    let l2 = lock.clone();
    let r = std::thread::spawn(move || l2.release())
        .join()
        .expect("thread");
    assert_eq!(r, Err(ReleaseError::NotOwner));
    let l3 = lock.clone();
    let t = std::thread::spawn(move || l3.try_lock().is_err())
        .join()
        .expect("thread");
    assert!(t, "another thread must not acquire a held RLock");
    drop(g);
    Ok(())
}

// CPython: _TestLock.test_lock_context (and Lock released by another process)
#[test]
fn lock_released_by_another_process() -> TestResult {
    let lock = Lock::new()?;
    lock.lock().map_err(died)?.forget();
    let l = lock.clone();
    fork(move || if l.release().is_ok() { 0 } else { 1 }).join_ok();
    assert!(!lock.is_locked());
    Ok(())
}

#[test]
fn lock_passed_through_serialization_is_the_same_lock() -> TestResult {
    let lock = Lock::new()?;
    let (bytes, fds) = multiproc_ipc::encode(&lock)?;
    let other: Lock = multiproc_ipc::decode(&bytes, fds)?;
    let _g = other.lock().map_err(died)?;
    assert!(lock.is_locked());
    assert!(lock.try_lock().is_err());
    Ok(())
}

#[test]
fn lock_sent_over_a_pipe_to_a_child() -> TestResult {
    let lock = Lock::new()?;
    let (a, b) = multiproc_ipc::Pipe::duplex()?;
    let child = fork(move || {
        // A fresh mapping in the child, from the received descriptor.
        let Ok(l) = b.recv::<Lock>() else { return 2 };
        let Ok(g) = l.lock() else { return 3 };
        g.forget();
        if b.send(&1u8).is_err() {
            return 4;
        }
        0
    });
    a.send(&lock)?;
    assert_eq!(a.recv::<u8>()?, 1);
    child.join_ok();
    // The child exited holding it: we recover it.
    let r = lock.lock_timeout(BOUND);
    assert!(matches!(r, Err(TryLockError::OwnerDied(_))), "{r:?}");
    Ok(())
}

/// N processes × M increments of a plain (load + store) counter under the lock.
#[test]
fn lock_mutual_exclusion_across_processes() -> TestResult {
    const N: usize = 4;
    const M: u64 = 2000;
    let lock = Lock::new()?;
    let c = Counters::new(1);
    let children: Vec<_> = (0..N)
        .map(|_| {
            let (lock, c) = (lock.clone(), c.clone());
            fork(move || {
                for _ in 0..M {
                    let Ok(_g) = lock.lock() else { return 1 };
                    let v = c.get(0).load(Ordering::Relaxed);
                    std::hint::spin_loop();
                    c.get(0).store(v + 1, Ordering::Relaxed);
                }
                0
            })
        })
        .collect();
    for ch in children {
        ch.join_ok();
    }
    assert_eq!(c.get(0).load(Ordering::Relaxed), N as u64 * M);
    Ok(())
}

#[test]
fn rlock_mutual_exclusion_across_processes_with_recursion() -> TestResult {
    const N: usize = 3;
    const M: u64 = 1000;
    let lock = RLock::new()?;
    let c = Counters::new(1);
    let children: Vec<_> = (0..N)
        .map(|_| {
            let (lock, c) = (lock.clone(), c.clone());
            fork(move || {
                for _ in 0..M {
                    let Ok(_a) = lock.lock() else { return 1 };
                    let Ok(_b) = lock.lock() else { return 1 };
                    let v = c.get(0).load(Ordering::Relaxed);
                    c.get(0).store(v + 1, Ordering::Relaxed);
                }
                0
            })
        })
        .collect();
    for ch in children {
        ch.join_ok();
    }
    assert_eq!(c.get(0).load(Ordering::Relaxed), N as u64 * M);
    Ok(())
}

// ---------------------------------------------------------------- holder death

/// Forks a child that takes `lock`, forgets the guard and hangs until killed; returns
/// once the child holds the lock (bounded).
fn held_by_a_child(lock: &Lock) -> Result<Child, Box<dyn std::error::Error>> {
    let locked = Event::new()?;
    let (l, e) = (lock.clone(), locked.clone());
    let child = fork(move || {
        let Ok(g) = l.lock() else { return 1 };
        g.forget();
        e.set();
        park_forever()
    });
    assert!(locked.wait_timeout(BOUND), "the child took the lock");
    Ok(child)
}

#[test]
fn lock_holder_killed_is_reported_and_recovered() -> TestResult {
    let lock = Lock::new()?;
    let mut child = held_by_a_child(&lock)?;
    child.kill();
    assert_eq!(child.wait(), Err(libc::SIGKILL));
    // CPython deadlocks here (KI-04).
    let err = lock.lock().expect_err("the owner died");
    let guard = err.into_inner();
    assert!(lock.is_held_by_current_thread());
    drop(guard);
    // Consistent again: a normal lock afterwards.
    assert!(lock.try_lock().is_ok());
    Ok(())
}

#[test]
fn lock_holder_killed_while_others_wait() -> TestResult {
    let lock = Lock::new()?;
    let mut holder = held_by_a_child(&lock)?;
    // Two waiters already asleep on the futex when the holder dies: exactly one
    // recovers, the other then acquires normally.
    let results = Counters::new(2);
    let waiters: Vec<_> = (0..2)
        .map(|_| {
            let (l, r) = (lock.clone(), results.clone());
            fork(move || {
                match l.lock_timeout(BOUND) {
                    Ok(_g) => r.get(0).fetch_add(1, Ordering::SeqCst),
                    Err(TryLockError::OwnerDied(_)) => r.get(1).fetch_add(1, Ordering::SeqCst),
                    Err(_) => return 1,
                };
                0
            })
        })
        .collect();
    holder.kill();
    assert_eq!(holder.wait(), Err(libc::SIGKILL));
    for w in waiters {
        w.join_ok();
    }
    assert_eq!(results.get(0).load(Ordering::SeqCst), 1);
    assert_eq!(results.get(1).load(Ordering::SeqCst), 1);
    assert!(!lock.is_locked());
    Ok(())
}

#[test]
fn rlock_holder_killed_with_recursion() -> TestResult {
    let lock = RLock::new()?;
    let locked = Event::new()?;
    let (l, e) = (lock.clone(), locked.clone());
    let mut child = fork(move || {
        for _ in 0..3 {
            let Ok(g) = l.lock() else { return 1 };
            g.forget();
        }
        e.set();
        park_forever()
    });
    assert!(locked.wait_timeout(BOUND));
    assert!(matches!(lock.try_lock(), Err(TryLockError::WouldBlock)));
    child.kill();
    assert_eq!(child.wait(), Err(libc::SIGKILL));
    let g = lock.lock().expect_err("the owner died").into_inner();
    assert_eq!(lock.depth(), 1, "the dead owner's depth is discarded");
    drop(g);
    assert!(!lock.is_locked());
    assert_eq!(lock.release(), Err(ReleaseError::NotOwner));
    Ok(())
}

#[test]
fn lock_held_by_exited_thread_is_recovered() -> TestResult {
    let lock = Lock::new()?;
    let l = lock.clone();
    std::thread::spawn(move || l.lock().map(|g| g.forget()).is_ok())
        .join()
        .expect("thread");
    assert!(matches!(
        lock.lock_timeout(BOUND),
        Err(TryLockError::OwnerDied(_))
    ));
    Ok(())
}

// ---------------------------------------------------------------- Semaphore

// CPython: _TestSemaphore.test_semaphore / test_bounded_semaphore
#[test]
fn semaphore_counts() -> TestResult {
    let sem = Semaphore::new(2)?;
    let a = sem.permit();
    assert_eq!(sem.value(), 1);
    let b = sem.try_permit().expect("one left");
    assert_eq!(sem.value(), 0);
    assert!(sem.try_permit().is_none());
    assert!(sem.permit_timeout(SHORT).is_none());
    drop((a, b));
    assert_eq!(sem.value(), 2);
    sem.release()?; // unbounded: goes to 3
    assert_eq!(sem.value(), 3);

    let z = Semaphore::new(0)?;
    z.release()?;
    assert_eq!(z.value(), 1);

    let bs = BoundedSemaphore::new(2)?;
    assert_eq!(bs.release(), Err(ReleaseError::TooManyReleases));
    bs.permit().forget();
    bs.release()?;
    assert_eq!(bs.release(), Err(ReleaseError::TooManyReleases));
    assert_eq!(bs.value(), 2);
    Ok(())
}

// CPython: _TestSemaphore.test_timeout
#[test]
fn semaphore_timeout_forms_return() -> TestResult {
    let sem = Semaphore::new(0)?;
    assert!(!sem.acquire(Some(Duration::ZERO)));
    assert!(!sem.acquire(Some(SHORT)));
    assert!(sem.permit_timeout(SHORT).is_none());
    Ok(())
}

/// A Semaphore(k) never admits more than k processes; the shared maximum proves it.
#[test]
fn semaphore_never_admits_more_than_k() -> TestResult {
    const K: u32 = 2;
    const N: usize = 5;
    let sem = Semaphore::new(K)?;
    let c = Counters::new(2); // [inside, max seen]
    let children: Vec<_> = (0..N)
        .map(|_| {
            let (sem, c) = (sem.clone(), c.clone());
            fork(move || {
                for _ in 0..300 {
                    let _p = sem.permit();
                    let now = c.get(0).fetch_add(1, Ordering::SeqCst) + 1;
                    c.get(1).fetch_max(now, Ordering::SeqCst);
                    for _ in 0..50 {
                        std::hint::spin_loop();
                    }
                    c.get(0).fetch_sub(1, Ordering::SeqCst);
                }
                0
            })
        })
        .collect();
    for ch in children {
        ch.join_ok();
    }
    let max = c.get(1).load(Ordering::SeqCst);
    assert!((1..=u64::from(K)).contains(&max), "max inside = {max}");
    assert_eq!(sem.value(), K);
    Ok(())
}

#[test]
fn semaphore_wakes_a_sleeping_process() -> TestResult {
    let sem = Semaphore::new(0)?;
    let s = sem.clone();
    let child = fork(move || if s.acquire(Some(BOUND)) { 0 } else { 1 });
    sem.release()?;
    child.join_ok();
    assert_eq!(sem.value(), 0);
    Ok(())
}

// ---------------------------------------------------------------- Event

// CPython: _TestEvent.test_event
#[test]
fn event_across_processes() -> TestResult {
    let ev = Event::new()?;
    assert!(!ev.is_set());
    assert!(!ev.wait_timeout(Duration::ZERO));
    assert!(!ev.wait_timeout(SHORT));
    let e = ev.clone();
    let waiters: Vec<_> = (0..3)
        .map(|_| {
            let e = e.clone();
            // No timeout: a lost wake-up hangs the child, and `join_ok` (bounded) fails.
            fork(move || {
                e.wait();
                0
            })
        })
        .collect();
    // All three asleep in the kernel before the set: one wake must reach them all.
    wait_until(|| waiters.iter().all(|w| util::sleeping_on_futex(w.pid)));
    ev.set();
    for w in waiters {
        w.join_ok();
    }
    assert!(ev.is_set());
    assert!(ev.wait_timeout(Duration::ZERO));
    ev.clear();
    assert!(!ev.is_set());
    // Set from a child.
    let e = ev.clone();
    let setter = fork(move || {
        e.set();
        0
    });
    assert!(ev.wait_timeout(BOUND));
    setter.join_ok();
    Ok(())
}

// ---------------------------------------------------------------- Condition

/// `n` forked children that each take `cond`'s lock, count themselves in `c[0]`, wait
/// to be notified (bounded) and count the wake-up in `c[1]`.
fn forked_waiters(cond: &Condition, n: usize, c: &Counters) -> Vec<Child> {
    (0..n)
        .map(|_| {
            let (cond, c) = (cond.clone(), c.clone());
            fork(move || {
                let Ok(mut g) = cond.lock() else { return 1 };
                c.get(0).fetch_add(1, Ordering::SeqCst);
                if !matches!(g.wait_timeout(BOUND), Ok(true)) {
                    return 2;
                }
                c.get(1).fetch_add(1, Ordering::SeqCst);
                0
            })
        })
        .collect()
}

// CPython: _TestCondition.test_notify
#[test]
fn condition_notify_one_wakes_one() -> TestResult {
    let cond = Condition::new()?;
    let c = Counters::new(2); // [sleeping, woken]
    let children = forked_waiters(&cond, 2, &c);
    // Both registered: they increment `sleeping` under the lock, then wait (which
    // releases it), so holding the lock proves they are waiting.
    wait_until(|| c.get(0).load(Ordering::SeqCst) == 2);
    cond.lock().map_err(died)?.notify(1);
    wait_until(|| c.get(1).load(Ordering::SeqCst) >= 1);
    // Give an over-eager second wake-up a chance to show up, then check it did not.
    assert!(
        cond.lock()
            .map_err(died)?
            .wait_timeout(Duration::from_millis(100))
            .is_ok()
    );
    assert_eq!(c.get(1).load(Ordering::SeqCst), 1);
    cond.lock().map_err(died)?.notify(1);
    for ch in children {
        ch.join_ok();
    }
    assert_eq!(c.get(1).load(Ordering::SeqCst), 2);
    Ok(())
}

// CPython: _TestCondition.test_notify_all / test_notify_n
#[test]
fn condition_notify_all_and_n() -> TestResult {
    let cond = Condition::with_lock(Lock::new()?)?;
    let c = Counters::new(2);
    let children = forked_waiters(&cond, 4, &c);
    wait_until(|| c.get(0).load(Ordering::SeqCst) == 4);
    cond.lock().map_err(died)?.notify(3);
    wait_until(|| c.get(1).load(Ordering::SeqCst) >= 3);
    cond.lock().map_err(died)?.notify_all();
    for ch in children {
        ch.join_ok();
    }
    assert_eq!(c.get(1).load(Ordering::SeqCst), 4);
    Ok(())
}

// CPython: _TestCondition.test_waitfor / test_waitfor_timeout
#[test]
fn condition_wait_for_predicate() -> TestResult {
    let cond = Condition::new()?;
    let state = Counters::new(1);
    let (cd, st) = (cond.clone(), state.clone());
    let child = fork(move || {
        for i in 1..=5 {
            let Ok(g) = cd.lock() else { return 1 };
            st.get(0).store(i, Ordering::SeqCst);
            g.notify_all();
        }
        0
    });
    {
        let mut g = cond.lock().map_err(died)?;
        g.wait_for_timeout(|| state.get(0).load(Ordering::SeqCst) == 5, BOUND)
            .map_err(|_| "owner died")?;
        assert_eq!(state.get(0).load(Ordering::SeqCst), 5);
        // Timeout form: a predicate that never holds returns false in bounded time.
        assert_eq!(
            g.wait_for_timeout(|| state.get(0).load(Ordering::SeqCst) == 6, SHORT),
            Ok(false)
        );
    }
    child.join_ok();
    Ok(())
}

// CPython: _TestCondition.test_timeout
#[test]
fn condition_wait_timeout_with_rlock_depth_restored() -> TestResult {
    let lock = RLock::new()?;
    let cond = Condition::with_lock(lock.clone())?;
    let _outer = lock.lock().map_err(died)?;
    let mut g = cond.lock().map_err(died)?;
    assert_eq!(lock.depth(), 2);
    assert_eq!(g.wait_timeout(SHORT), Ok(false));
    assert_eq!(lock.depth(), 2);
    drop(g);
    assert_eq!(lock.depth(), 1);
    Ok(())
}

#[test]
fn condition_wait_reports_dead_lock_holder() -> TestResult {
    let cond = Condition::with_lock(Lock::new()?)?;
    let c = Counters::new(1); // 1 = parent waiting, 2 = child holds the lock
    let (cd, cc) = (cond.clone(), c.clone());
    let mut killer = fork(move || {
        // Once the parent waits (it released the lock), take the lock, notify, and
        // die holding it.
        while cc.get(0).load(Ordering::SeqCst) == 0 {
            std::hint::spin_loop();
        }
        let Ok(g) = cd.lock() else { return 1 };
        g.notify_all();
        std::mem::forget(g);
        cc.get(0).store(2, Ordering::SeqCst);
        park_forever()
    });
    let pid = killer.pid;
    let cc = c.clone();
    let t = std::thread::spawn(move || {
        wait_until(|| cc.get(0).load(Ordering::SeqCst) == 2);
        // SAFETY: signalling our own child, reaped below.
        #[allow(unsafe_code)]
        unsafe {
            libc::kill(pid, libc::SIGKILL)
        };
    });
    let mut g = cond.lock().map_err(died)?;
    c.get(0).store(1, Ordering::SeqCst);
    let r = g.wait_timeout(BOUND);
    t.join().expect("thread");
    assert_eq!(killer.wait(), Err(libc::SIGKILL));
    assert!(r.is_err(), "expected OwnerDied, got {r:?}");
    Ok(())
}

// ---------------------------------------------------------------- Barrier

// CPython: _TestBarrier.test_barrier / test_wait_return
#[test]
fn barrier_generations_across_processes() -> TestResult {
    const N: u32 = 3;
    const GENS: usize = 20;
    let barrier = Barrier::new(N)?;
    // arrived[g] counts parties that reached generation g; index_zero[g] counts zeros.
    let arrived = Counters::new(GENS);
    let zeros = Counters::new(GENS);
    let children: Vec<_> = (0..N)
        .map(|_| {
            let (b, a, z) = (barrier.clone(), arrived.clone(), zeros.clone());
            fork(move || {
                for g in 0..GENS {
                    a.get(g).fetch_add(1, Ordering::SeqCst);
                    let Ok(i) = b.wait_timeout(BOUND) else {
                        return 1;
                    };
                    if i >= N {
                        return 2;
                    }
                    if i == 0 {
                        z.get(g).fetch_add(1, Ordering::SeqCst);
                    }
                    // Nobody leaves generation g before everyone reached it.
                    if a.get(g).load(Ordering::SeqCst) != u64::from(N) {
                        return 3;
                    }
                }
                0
            })
        })
        .collect();
    for ch in children {
        ch.join_ok();
    }
    for g in 0..GENS {
        assert_eq!(zeros.get(g).load(Ordering::SeqCst), 1, "generation {g}");
    }
    assert_eq!(barrier.n_waiting(), 0);
    assert!(!barrier.is_broken());
    Ok(())
}

static ACTIONS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
fn count_action() {
    ACTIONS.fetch_add(1, Ordering::SeqCst);
}

// CPython: _TestBarrier.test_action (threads; the action is a plain fn)
#[test]
fn barrier_action_runs_once_per_cycle() -> TestResult {
    let b = Barrier::with_action(3, count_action)?;
    // The action survives serialization (same executable).
    let (bytes, fds) = multiproc_ipc::encode(&b)?;
    let b: Barrier = multiproc_ipc::decode(&bytes, fds)?;
    let before = ACTIONS.load(Ordering::SeqCst);
    let threads: Vec<_> = (0..3)
        .map(|_| {
            let b = b.clone();
            std::thread::spawn(move || {
                for _ in 0..5 {
                    b.wait_timeout(BOUND).expect("barrier");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread");
    }
    assert_eq!(ACTIONS.load(Ordering::SeqCst) - before, 5);
    Ok(())
}

fn panicking_action() {
    panic!("action fails");
}

// CPython: _TestBarrier.test_action_exception
#[test]
fn barrier_panicking_action_breaks() -> TestResult {
    let b = Barrier::with_action(1, panicking_action)?;
    assert_eq!(b.wait(), Err(BarrierError::ActionPanicked));
    assert!(b.is_broken());
    b.reset();
    assert!(!b.is_broken());
    Ok(())
}

// CPython: _TestBarrier.test_timeout / test_default_timeout / test_abort / test_reset
#[test]
fn barrier_timeout_abort_reset() -> TestResult {
    let b = Barrier::new(2)?;
    assert_eq!(b.wait_timeout(SHORT), Err(BarrierError::Broken));
    assert!(b.is_broken());
    assert_eq!(b.wait(), Err(BarrierError::Broken), "broken until reset");
    b.reset();
    assert!(!b.is_broken());
    // Abort wakes a waiter in another process.
    let b2 = b.clone();
    let child = fork(move || match b2.wait_timeout(BOUND) {
        Err(BarrierError::Broken) => 0,
        _ => 1,
    });
    wait_until(|| b.n_waiting() == 1);
    b.abort();
    child.join_ok();
    b.reset();
    // Usable again.
    let b3 = b.clone();
    let child = fork(move || if b3.wait_timeout(BOUND).is_ok() { 0 } else { 1 });
    assert!(b.wait_timeout(BOUND).is_ok());
    child.join_ok();
    // Barrier(1) never blocks.
    assert_eq!(Barrier::new(1)?.wait(), Ok(0));
    Ok(())
}

#[test]
fn barrier_with_dead_party_breaks() -> TestResult {
    let b = Barrier::new(3)?;
    let b2 = b.clone();
    let mut child = fork(move || {
        let _ = b2.wait();
        0
    });
    wait_until(|| b.n_waiting() == 1);
    child.kill();
    assert_eq!(child.wait(), Err(libc::SIGKILL));
    // No timeout: only the liveness check can end this wait. Run it on a thread and
    // bound it from here.
    let b3 = b.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(b3.wait());
    });
    let r = rx.recv_timeout(BOUND).map_err(|_| "barrier wait hung")?;
    assert_eq!(r, Err(BarrierError::Broken));
    assert!(b.is_broken());
    b.reset();
    assert_eq!(b.n_waiting(), 0);
    Ok(())
}

// ---------------------------------------------------------------- every timeout form

#[test]
fn every_timeout_form_returns_while_held_elsewhere() -> TestResult {
    let lock = Lock::new()?;
    let rlock = RLock::new()?;
    let cond = Condition::new()?;
    let sem = BoundedSemaphore::new(1)?;
    let ready = Event::new()?;
    let done = Event::new()?;
    let (l, r, c, s, rd, dn) = (
        lock.clone(),
        rlock.clone(),
        cond.clone(),
        sem.clone(),
        ready.clone(),
        done.clone(),
    );
    let child = fork(move || {
        let (Ok(a), Ok(b), Ok(d)) = (l.lock(), r.lock(), c.lock()) else {
            return 1;
        };
        let p = s.permit();
        rd.set();
        let ok = dn.wait_timeout(BOUND);
        drop((a, b, d, p));
        if ok { 0 } else { 2 }
    });
    assert!(ready.wait_timeout(BOUND));
    assert!(matches!(
        lock.lock_timeout(SHORT),
        Err(TryLockError::WouldBlock)
    ));
    assert!(matches!(lock.try_lock(), Err(TryLockError::WouldBlock)));
    assert!(!lock.acquire(Some(SHORT)).map_err(|_| "died")?);
    assert!(matches!(
        rlock.lock_timeout(SHORT),
        Err(TryLockError::WouldBlock)
    ));
    assert!(matches!(rlock.try_lock(), Err(TryLockError::WouldBlock)));
    assert!(matches!(
        cond.lock_timeout(SHORT),
        Err(TryLockError::WouldBlock)
    ));
    assert!(matches!(cond.try_lock(), Err(TryLockError::WouldBlock)));
    assert!(sem.permit_timeout(SHORT).is_none());
    assert!(!Event::new()?.wait_timeout(SHORT));
    done.set();
    child.join_ok();
    assert!(lock.try_lock().is_ok() && rlock.try_lock().is_ok() && cond.try_lock().is_ok());
    Ok(())
}

// ---------------------------------------------------------------- models

mod model {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum SemOp {
        TryAcquire,
        Release,
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Semaphore and BoundedSemaphore counts follow a counter model.
        #[test]
        fn semaphore_matches_model(init in 0u32..4, ops in proptest::collection::vec(
            prop_oneof![Just(SemOp::TryAcquire), Just(SemOp::Release)], 0..60)) {
            let sem = Semaphore::new(init).expect("create");
            let bounded = BoundedSemaphore::new(init.max(1)).expect("create");
            let (mut n, mut bn) = (init, init.max(1));
            let max = init.max(1);
            for op in ops {
                match op {
                    SemOp::TryAcquire => {
                        let got = sem.try_permit().map(|p| p.forget()).is_some();
                        prop_assert_eq!(got, n > 0);
                        n = n.saturating_sub(u32::from(got));
                        let got = bounded.try_permit().map(|p| p.forget()).is_some();
                        prop_assert_eq!(got, bn > 0);
                        bn = bn.saturating_sub(u32::from(got));
                    }
                    SemOp::Release => {
                        prop_assert!(sem.release().is_ok());
                        n += 1;
                        let r = bounded.release();
                        prop_assert_eq!(r.is_ok(), bn < max);
                        if r.is_ok() { bn += 1; }
                    }
                }
                prop_assert_eq!(sem.value(), n);
                prop_assert_eq!(bounded.value(), bn);
            }
        }

        /// Barrier phases (single party driver): broken after a timed-out wait or an
        /// abort, until reset; `Barrier(1)` always passes when not broken.
        #[test]
        fn barrier_phases_match_model(parties in 1u32..4, ops in proptest::collection::vec(0u8..3, 0..30)) {
            let b = Barrier::new(parties).expect("create");
            let mut broken = false;
            for op in ops {
                match op {
                    0 => {
                        let r = b.wait_timeout(Duration::ZERO);
                        if broken || parties > 1 {
                            prop_assert_eq!(r, Err(BarrierError::Broken));
                            broken = true;
                        } else {
                            prop_assert_eq!(r, Ok(0));
                        }
                    }
                    1 => { b.abort(); broken = true; }
                    _ => { b.reset(); broken = false; }
                }
                prop_assert_eq!(b.is_broken(), broken);
                prop_assert_eq!(b.n_waiting(), 0);
            }
        }
    }
}
