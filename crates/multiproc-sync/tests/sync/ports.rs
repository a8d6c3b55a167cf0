//! More of CPython's `_TestLock`, `_TestCondition` and `_TestBarrier`, rewritten for
//! processes: each CPython thread or process becomes a forked child, each shared result
//! list a shared counter. Every child is reaped; every wait is bounded.

use std::sync::atomic::Ordering;
use std::time::Duration;

use multiproc_sync::{Barrier, BarrierError, Condition, Lock, RLock, ReleaseError, TryLockError};

use super::util::{Child, Counters, TestResult, fork, wait_until};
use super::{SHORT, died};
use multiproc_test_support::{BOUND, eventually};

/// CPython's `_TestBarrier.N`.
const N: u32 = 5;

fn join_all(children: Vec<Child>) {
    for ch in children {
        ch.join_ok();
    }
}

// ---------------------------------------------------------------- Lock / RLock

// CPython: _TestLock.test_rlock, owner semantics across processes: an RLock held by the
// parent can be neither released nor taken by a child, and a child's own acquire
// nests independently of the parent's depth.
#[test]
fn rlock_owned_by_parent_is_not_the_childs() -> TestResult {
    let lock = RLock::new()?;
    let g1 = lock.lock().map_err(died)?;
    let g2 = lock.lock().map_err(died)?;
    assert_eq!(lock.depth(), 2);
    let l = lock.clone();
    fork(move || {
        if l.is_held_by_current_thread() || l.depth() != 0 {
            return 1;
        }
        if l.release() != Err(ReleaseError::NotOwner) {
            return 2;
        }
        if !matches!(l.try_lock(), Err(TryLockError::WouldBlock)) {
            return 3;
        }
        0
    })
    .join_ok();
    // The child's refusals did not disturb the parent's count.
    assert_eq!(lock.depth(), 2);
    drop(g2);
    drop(g1);
    assert!(!lock.is_locked());
    // Releasing an RLock nobody holds is refused too (CPython's AssertionError).
    assert_eq!(lock.release(), Err(ReleaseError::NotOwner));
    Ok(())
}

// CPython: _TestLock.test_lock (release of an unlocked Lock → ValueError), from a child.
#[test]
fn releasing_an_unlocked_lock_from_a_child_is_refused() -> TestResult {
    let lock = Lock::new()?;
    let l = lock.clone();
    fork(move || match l.release() {
        Err(ReleaseError::NotLocked) => 0,
        _ => 1,
    })
    .join_ok();
    assert!(!lock.is_locked());
    // And the lock still works normally afterwards.
    assert!(lock.acquire(Some(Duration::ZERO)).map_err(died)?);
    lock.release()?;
    Ok(())
}

// ---------------------------------------------------------------- Condition

// CPython: _TestCondition.test_wait_result (without the KeyboardInterrupt half: Rust has
// no asynchronous exceptions). `wait(0)` and a short wait report a timeout; a wait that
// a child's notify ends reports `true`.
#[test]
fn condition_wait_result() -> TestResult {
    let cond = Condition::new()?;
    let mut g = cond.lock().map_err(died)?;
    assert_eq!(g.wait_timeout(Duration::ZERO), Ok(false));
    assert_eq!(g.wait_timeout(SHORT), Ok(false));
    let c = cond.clone();
    let child = fork(move || {
        // Taking the lock proves the parent is inside `wait` (it holds the lock
        // otherwise), so the notify cannot be lost.
        let Ok(g) = c.lock() else { return 1 };
        g.notify(1);
        0
    });
    assert_eq!(g.wait_timeout(BOUND), Ok(true));
    drop(g);
    child.join_ok();
    Ok(())
}

// CPython: _TestCondition.test_waitfor_timeout: a child makes the predicate true only
// after the parent's short `wait_for` gave up; the result is the predicate's value.
#[test]
fn condition_wait_for_timeout_then_success() -> TestResult {
    let cond = Condition::new()?;
    let state = Counters::new(2); // [value, parent gave up]
    let (c, s) = (cond.clone(), state.clone());
    let child = fork(move || {
        while s.get(1).load(Ordering::SeqCst) == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        let Ok(g) = c.lock() else { return 1 };
        s.get(0).store(1, Ordering::SeqCst);
        g.notify_all();
        0
    });
    let mut g = cond.lock().map_err(died)?;
    let ready = || state.get(0).load(Ordering::SeqCst) == 1;
    assert_eq!(g.wait_for_timeout(ready, SHORT), Ok(false));
    state.get(1).store(1, Ordering::SeqCst);
    assert_eq!(g.wait_for_timeout(ready, BOUND), Ok(true));
    drop(g);
    child.join_ok();
    Ok(())
}

// ---------------------------------------------------------------- Barrier

// CPython: _TestBarrier.test_abort. One party of N aborts after the first pass instead
// of waiting again: the N-1 others get Broken, nobody passes, the barrier stays broken.
#[test]
fn barrier_abort() -> TestResult {
    let barrier = Barrier::new(N)?;
    let results = Counters::new(2); // [passed second wait, got Broken]
    let children = (0..N)
        .map(|_| {
            let (b, r) = (barrier.clone(), results.clone());
            fork(move || {
                let Ok(i) = b.wait_timeout(BOUND) else {
                    return 1;
                };
                if i == N / 2 {
                    b.abort();
                    return 0;
                }
                match b.wait_timeout(BOUND) {
                    Ok(_) => r.get(0).fetch_add(1, Ordering::SeqCst),
                    Err(BarrierError::Broken) => r.get(1).fetch_add(1, Ordering::SeqCst),
                    Err(_) => return 2,
                };
                0
            })
        })
        .collect();
    join_all(children);
    assert_eq!(results.get(0).load(Ordering::SeqCst), 0);
    assert_eq!(results.get(1).load(Ordering::SeqCst), u64::from(N - 1));
    assert!(barrier.is_broken());
    Ok(())
}

// CPython: _TestBarrier.test_reset. The middle party of the first pass waits until the
// N-1 others sleep in the second wait, then resets: they get Broken; afterwards all N
// pass the barrier together.
#[test]
fn barrier_reset_frees_waiters() -> TestResult {
    let barrier = Barrier::new(N)?;
    let results = Counters::new(3); // [passed, Broken, passed after reset]
    let children = (0..N)
        .map(|_| {
            let (b, r) = (barrier.clone(), results.clone());
            fork(move || {
                let Ok(i) = b.wait_timeout(BOUND) else {
                    return 1;
                };
                if i == N / 2 {
                    let deadline = std::time::Instant::now() + BOUND;
                    while b.n_waiting() < N - 1 {
                        if std::time::Instant::now() > deadline {
                            return 2;
                        }
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    b.reset();
                } else {
                    match b.wait_timeout(BOUND) {
                        Ok(_) => r.get(0).fetch_add(1, Ordering::SeqCst),
                        Err(BarrierError::Broken) => r.get(1).fetch_add(1, Ordering::SeqCst),
                        Err(_) => return 3,
                    };
                }
                if b.wait_timeout(BOUND).is_err() {
                    return 4;
                }
                r.get(2).fetch_add(1, Ordering::SeqCst);
                0
            })
        })
        .collect();
    join_all(children);
    assert_eq!(results.get(0).load(Ordering::SeqCst), 0);
    assert_eq!(results.get(1).load(Ordering::SeqCst), u64::from(N - 1));
    assert_eq!(results.get(2).load(Ordering::SeqCst), u64::from(N));
    assert!(!barrier.is_broken());
    Ok(())
}

// CPython: _TestBarrier.test_abort_and_reset. A broken barrier is made usable again:
// everyone meets on a second barrier, one party resets the first, all meet again, and
// then the first barrier works for all N.
#[test]
fn barrier_abort_and_reset() -> TestResult {
    let barrier = Barrier::new(N)?;
    let barrier2 = Barrier::new(N)?;
    let results = Counters::new(3); // [passed, Broken, passed after reset]
    let children = (0..N)
        .map(|_| {
            let (b, b2, r) = (barrier.clone(), barrier2.clone(), results.clone());
            fork(move || {
                match b.wait_timeout(BOUND) {
                    Ok(i) if i == N / 2 => b.abort(),
                    Ok(_) => match b.wait_timeout(BOUND) {
                        Ok(_) => {
                            r.get(0).fetch_add(1, Ordering::SeqCst);
                        }
                        Err(BarrierError::Broken) => {
                            r.get(1).fetch_add(1, Ordering::SeqCst);
                        }
                        Err(_) => return 1,
                    },
                    Err(_) => return 2,
                }
                // Everyone has left `b` before the reset, and nobody enters it before.
                match b2.wait_timeout(BOUND) {
                    Ok(i) if i == N / 2 => b.reset(),
                    Ok(_) => {}
                    Err(_) => return 3,
                }
                if b2.wait_timeout(BOUND).is_err() || b.wait_timeout(BOUND).is_err() {
                    return 4;
                }
                r.get(2).fetch_add(1, Ordering::SeqCst);
                0
            })
        })
        .collect();
    join_all(children);
    assert_eq!(results.get(0).load(Ordering::SeqCst), 0);
    assert_eq!(results.get(1).load(Ordering::SeqCst), u64::from(N - 1));
    assert_eq!(results.get(2).load(Ordering::SeqCst), u64::from(N));
    Ok(())
}

// CPython: _TestBarrier.test_timeout. One party is late for the second wait; the
// others' timed waits break the barrier, and the late one finds it broken: all N get
// Broken. (The late party waits until the barrier *is* broken instead of sleeping a
// fixed second, so the test does not depend on timing.)
#[test]
fn barrier_timeout_breaks_for_everyone() -> TestResult {
    let barrier = Barrier::new(N)?;
    let broken = late_party_finds_it_broken(&barrier, |b| {
        b.wait_timeout(SHORT) == Err(BarrierError::Broken)
    });
    assert_eq!(broken, u64::from(N));
    Ok(())
}

/// `N` forked parties wait on `barrier` together, then again through `second`, with one
/// of them late: it waits (bounded) until the barrier is broken. How many parties saw
/// `second` return true, each child reaped.
fn late_party_finds_it_broken(barrier: &Barrier, second: fn(&Barrier) -> bool) -> u64 {
    let results = Counters::new(1);
    let children = (0..N)
        .map(|_| {
            let (b, r) = (barrier.clone(), results.clone());
            fork(move || {
                let Ok(i) = b.wait_timeout(BOUND) else {
                    return 1;
                };
                if i == N / 2 && !eventually(|| b.is_broken()) {
                    return 2;
                }
                if second(&b) {
                    r.get(0).fetch_add(1, Ordering::SeqCst);
                }
                0
            })
        })
        .collect();
    join_all(children);
    results.get(0).load(Ordering::SeqCst)
}

// CPython: _TestBarrier.test_default_timeout. As above, but the second wait is a plain
// `wait()` that takes the barrier's default timeout.
#[test]
fn barrier_default_timeout() -> TestResult {
    let barrier = Barrier::new(N)?.with_default_timeout(SHORT);
    assert_eq!(barrier.default_timeout(), Some(SHORT));
    let broken = late_party_finds_it_broken(&barrier, |b| b.wait() == Err(BarrierError::Broken));
    assert_eq!(broken, u64::from(N));
    // The default travels with the handle.
    let (bytes, fds) = multiproc_ipc::encode(&barrier)?;
    let back: Barrier = multiproc_ipc::decode(&bytes, fds)?;
    assert_eq!(back.default_timeout(), Some(SHORT));
    Ok(())
}

// CPython: _TestBarrier.test_single_thread
#[test]
fn barrier_single_party_never_blocks() -> TestResult {
    let b = Barrier::new(1)?;
    assert_eq!(b.wait(), Ok(0));
    assert_eq!(b.wait(), Ok(0));
    assert_eq!(b.parties(), 1);
    assert_eq!(b.n_waiting(), 0);
    Ok(())
}

// CPython: _TestBarrier.test_thousand. N processes pass the barrier 1000 times; after
// each pass each sends the pass number, under a lock, into a shared log. All N entries
// of pass i precede any entry of pass i + 1: nobody runs a pass ahead.
#[test]
fn barrier_thousand_passes_in_lockstep() -> TestResult {
    const PASSES: u64 = 1000;
    let n = u64::from(N);
    let barrier = Barrier::new(N)?;
    let lock = Lock::new()?;
    let log = Counters::new(1 + (PASSES * n) as usize); // [length, entries...]
    let children = (0..N)
        .map(|_| {
            let (b, l, log) = (barrier.clone(), lock.clone(), log.clone());
            fork(move || {
                for i in 0..PASSES {
                    if b.wait_timeout(BOUND).is_err() {
                        return 1;
                    }
                    let Ok(_g) = l.lock() else { return 2 };
                    let at = log.get(0).load(Ordering::Relaxed);
                    log.get(1 + at as usize).store(i, Ordering::Relaxed);
                    log.get(0).store(at + 1, Ordering::Relaxed);
                }
                0
            })
        })
        .collect();
    join_all(children);
    assert_eq!(log.get(0).load(Ordering::SeqCst), PASSES * n);
    for k in 0..PASSES * n {
        assert_eq!(
            log.get(1 + k as usize).load(Ordering::SeqCst),
            k / n,
            "entry {k}"
        );
    }
    Ok(())
}

// Barrier `n_waiting` and `parties` seen from another process while parties wait.
#[test]
fn barrier_n_waiting_seen_across_processes() -> TestResult {
    let barrier = Barrier::new(3)?;
    let children: Vec<_> = (0..2)
        .map(|_| {
            let b = barrier.clone();
            fork(move || if b.wait_timeout(BOUND).is_ok() { 0 } else { 1 })
        })
        .collect();
    wait_until(|| barrier.n_waiting() == 2);
    assert_eq!(barrier.parties(), 3);
    assert!(!barrier.is_broken());
    assert!(barrier.wait_timeout(BOUND).is_ok());
    join_all(children);
    assert_eq!(barrier.n_waiting(), 0);
    Ok(())
}

// Better than CPython: `multiprocessing.Condition.notify` waits on `_woken_count` for
// every sleeper it releases, so a waiter that was SIGKILLed while waiting makes notify
// block forever. Here notify never waits, and the dead waiter cannot take the live
// waiter's wake-up.
#[test]
fn condition_waiter_killed_while_waiting_does_not_block_notify() -> TestResult {
    let cond = Condition::with_lock(Lock::new()?)?;
    let c = Counters::new(2); // [registered, live waiter woken]
    let spawn_waiter = |c: Counters, cond: Condition| {
        fork(move || {
            let Ok(mut g) = cond.lock() else { return 1 };
            c.get(0).fetch_add(1, Ordering::SeqCst);
            if !matches!(g.wait_timeout(BOUND), Ok(true)) {
                return 2;
            }
            c.get(1).fetch_add(1, Ordering::SeqCst);
            0
        })
    };
    let mut doomed = spawn_waiter(c.clone(), cond.clone());
    wait_until(|| c.get(0).load(Ordering::SeqCst) == 1);
    // Holding the lock proves the waiter is inside `wait` (which released it).
    drop(cond.lock().map_err(died)?);
    doomed.kill();
    assert_eq!(doomed.wait(), Err(libc::SIGKILL));
    let live = spawn_waiter(c.clone(), cond.clone());
    wait_until(|| c.get(0).load(Ordering::SeqCst) == 2);
    // One notify: it must reach the live waiter, and return at once.
    cond.lock().map_err(died)?.notify(1);
    live.join_ok();
    assert_eq!(c.get(1).load(Ordering::SeqCst), 1);
    // notify_all with only the dead registration left returns too.
    cond.lock().map_err(died)?.notify_all();
    Ok(())
}
