//! Who settles what a client held when it ends (issue #13, item 8).
//!
//! CPython's rule is that any process may release a `Lock` or a semaphore permit: a
//! child acquires, exits, and the parent releases. A child that ends normally says
//! goodbye to the server (from `multiproc_process::at_exit`), so its holdings stay as
//! they are and the parent's release succeeds — every time, not only when it wins a
//! race with the server's clean-up. A child that is killed or aborts vanishes without
//! a goodbye: the server releases what it held, and the next acquirer is told
//! (`Error::OwnerDied`), so a crashed holder never deadlocks the others.
//!
//! Each case runs under every start method, many times over.

use std::time::Duration;

use multiproc_manager::{
    AcquireError, Error, EventProxy, LockProxy, Manager, SemaphoreProxy, StartMethod,
};
use multiproc_process::Process;

use multiproc_test_support::{BOUND, METHODS};

type R = Result<(), Box<dyn std::error::Error>>;

/// How many times each scenario runs per start method.
const ROUNDS: usize = 20;

type Verdict = Result<(), String>;

fn s(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Starts `p`'s child and waits for it to end normally with `Ok`.
fn finish(p: Process<Verdict>, what: &str) -> R {
    if !p.join_timeout(BOUND)? {
        let _ = p.kill();
        let _ = p.join_timeout(BOUND);
        return Err(format!("{what}: the child did not finish within {BOUND:?}").into());
    }
    p.join_value()?.map_err(|e| format!("{what}: {e}"))?;
    Ok(())
}

/// A child's verdict on its bounded acquire.
fn acquired<E: std::fmt::Display>(got: Result<bool, E>) -> Verdict {
    match got {
        Ok(true) => Ok(()),
        Ok(false) => Err("not acquired in time".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// The parent's acquire after a holder vanished: it must be told (`OwnerDied`).
fn told_owner_died(got: Result<bool, AcquireError<bool>>, what: &str) -> R {
    match got {
        Err(AcquireError::OwnerDied(_)) => Ok(()),
        other => Err(format!("{what}: expected OwnerDied, got {other:?}").into()),
    }
}

fn take_lock(lock: LockProxy) -> Verdict {
    acquired(lock.acquire(Some(BOUND))) // returns holding it
}

/// CPython: TestSyncManagerTypes.test_lock, repeated — the child returns holding the
/// lock; the parent's release succeeds every time (before: "release unlocked lock"
/// most of the time under Spawn and ForkServer, when the server's clean-up won).
#[test]
fn parent_releases_a_lock_its_child_left() -> R {
    let m = Manager::start()?;
    let lock = m.lock()?;
    for method in METHODS {
        for round in 0..ROUNDS {
            let what = format!("{method} round {round}");
            let p = Process::new(take_lock, (lock.clone(),))
                .start_method(method)
                .start()?;
            finish(p, &what)?;
            lock.release().map_err(|e| format!("{what}: {e}"))?;
            assert!(!lock.locked()?, "{what}");
        }
    }
    assert!(!lock.repr()?.contains("vanished"), "{}", lock.repr()?);
    m.shutdown()?;
    Ok(())
}

fn take_permit(sem: SemaphoreProxy) -> Verdict {
    acquired(sem.acquire(Some(BOUND)))
}

/// CPython: TestSyncManagerTypes.test_bounded_semaphore, repeated — the child returns
/// holding a permit of a `BoundedSemaphore(1)`; the parent's release succeeds every
/// time (before: "Semaphore released too many times" when the clean-up won).
#[test]
fn parent_releases_a_permit_its_child_left() -> R {
    let m = Manager::start()?;
    let sem = m.bounded_semaphore(1)?;
    for method in METHODS {
        for round in 0..ROUNDS {
            let what = format!("{method} round {round}");
            let p = Process::new(take_permit, (sem.clone(),))
                .start_method(method)
                .start()?;
            finish(p, &what)?;
            assert_eq!(sem.value()?, 0, "{what}: the permit stays taken");
            sem.release().map_err(|e| format!("{what}: {e}"))?;
            assert_eq!(sem.value()?, 1, "{what}");
        }
    }
    m.shutdown()?;
    Ok(())
}

/// How a holder leaves without ending cleanly.
#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
enum Vanish {
    /// Blocks until the parent SIGKILLs it.
    Killed,
    /// Calls `std::process::abort`.
    Aborts,
}

/// Says it holds what it took, then leaves as `how` says.
fn announce_and_vanish(holding: &EventProxy, how: Vanish) -> Verdict {
    holding.set().map_err(s)?;
    match how {
        Vanish::Aborts => std::process::abort(),
        Vanish::Killed => {
            // wait (bounded) to be killed
            std::thread::park_timeout(BOUND * 4);
            Err("was not killed".into())
        }
    }
}

fn hold_lock_and_vanish(lock: LockProxy, holding: EventProxy, how: Vanish) -> Verdict {
    acquired(lock.acquire(Some(BOUND)))?;
    announce_and_vanish(&holding, how)
}

fn hold_permit_and_vanish(sem: SemaphoreProxy, holding: EventProxy, how: Vanish) -> Verdict {
    acquired(sem.acquire(Some(BOUND)))?;
    announce_and_vanish(&holding, how)
}

/// Waits until the child says it holds what it took, then kills it (or lets it
/// abort), and reaps it: its status must not be a normal end.
fn vanish(p: Process<Verdict>, holding: &EventProxy, how: Vanish, what: &str) -> R {
    if !holding.wait_timeout(BOUND)? {
        let _ = p.kill();
        let _ = p.join_timeout(BOUND);
        return Err(format!("{what}: the child never held it").into());
    }
    if let Vanish::Killed = how {
        p.kill()?;
    }
    if !p.join_timeout(BOUND)? {
        let _ = p.kill();
        let _ = p.join_timeout(BOUND);
        return Err(format!("{what}: the child was not reaped").into());
    }
    assert_ne!(
        p.exitcode(),
        Some(0),
        "{what}: the child did not end normally"
    );
    Ok(())
}

/// A holder killed (SIGKILL) or aborting while it holds a `Lock`: the parent's next
/// acquire succeeds (bounded) and reports `OwnerDied`; the lock is then held by the
/// parent, and behaves normally after its release.
#[test]
fn lock_of_a_vanished_holder_is_taken_over_with_owner_died() -> R {
    let m = Manager::start()?;
    let lock = m.lock()?;
    let holding = m.event()?;
    for how in [Vanish::Killed, Vanish::Aborts] {
        for method in METHODS {
            for round in 0..ROUNDS {
                let what = format!("{how:?} {method} round {round}");
                holding.clear()?;
                let p = Process::new(hold_lock_and_vanish, (lock.clone(), holding.clone(), how))
                    .start_method(method)
                    .start()?;
                vanish(p, &holding, how, &what)?;
                told_owner_died(lock.acquire(Some(BOUND)), &what)?;
                assert!(lock.locked()?, "{what}: held by the one told");
                lock.release()?;
                // told once: the next acquisition is a normal one
                assert!(lock.acquire(Some(Duration::ZERO))?, "{what}");
                lock.release()?;
            }
        }
    }
    m.shutdown()?;
    Ok(())
}

/// As above for a semaphore permit: given back, and the next acquirer told.
#[test]
fn permit_of_a_vanished_holder_is_given_back_with_owner_died() -> R {
    let m = Manager::start()?;
    let sem = m.bounded_semaphore(1)?;
    let holding = m.event()?;
    for how in [Vanish::Killed, Vanish::Aborts] {
        for method in METHODS {
            for round in 0..ROUNDS {
                let what = format!("{how:?} {method} round {round}");
                holding.clear()?;
                let p = Process::new(hold_permit_and_vanish, (sem.clone(), holding.clone(), how))
                    .start_method(method)
                    .start()?;
                vanish(p, &holding, how, &what)?;
                told_owner_died(sem.acquire(Some(BOUND)), &what)?;
                assert_eq!(sem.value()?, 0, "{what}: the permit is the caller's");
                sem.release()?;
                assert!(sem.acquire(Some(Duration::ZERO))?, "{what}: told once");
                sem.release()?;
            }
        }
    }
    m.shutdown()?;
    Ok(())
}

/// An `RLock` belongs to (process, thread): nobody else can release it, so one that a
/// child left held at its normal end is released when it ends, and the next acquirer
/// is told.
#[test]
fn rlock_left_by_a_child_is_released_and_reported() -> R {
    let m = Manager::start()?;
    let rlock = m.rlock()?;
    for method in METHODS {
        let p = Process::new(take_lock, (rlock.clone(),))
            .start_method(method)
            .start()?;
        finish(p, &format!("{method}"))?;
        // the server may still be settling the child's end: the wait is bounded
        told_owner_died(rlock.acquire(Some(BOUND)), &method.to_string())?;
        assert!(rlock.locked()?);
        rlock.release()?;
        assert!(rlock.acquire(Some(Duration::ZERO))?, "{method}: told once");
        rlock.release()?;
    }
    m.shutdown()?;
    Ok(())
}

/// `lock` hands over the guard with the news (`AcquireError::OwnerDied`); `?` on it
/// drops the guard, releasing the lock: a caller that propagates the news never leaves
/// the lock held.
#[test]
fn guard_reports_owner_died() -> R {
    let m = Manager::start()?;
    let lock = m.lock()?;
    let holding = m.event()?;
    let p = Process::new(
        hold_lock_and_vanish,
        (lock.clone(), holding.clone(), Vanish::Aborts),
    )
    .start_method(StartMethod::Fork)
    .start()?;
    vanish(p, &holding, Vanish::Aborts, "abort")?;
    let attempt = || -> Result<(), Error> {
        let _g = lock.lock()?;
        Ok(())
    };
    assert!(matches!(attempt(), Err(Error::OwnerDied)));
    assert!(!lock.locked()?, "the guard inside the error was dropped");
    assert!(lock.acquire(Some(Duration::ZERO))?);
    lock.release()?;

    holding.clear()?;
    let p = Process::new(
        hold_lock_and_vanish,
        (lock.clone(), holding.clone(), Vanish::Killed),
    )
    .start_method(StartMethod::Spawn)
    .start()?;
    vanish(p, &holding, Vanish::Killed, "kill")?;
    // the server settles the dead client's end on a thread of its own: the lock may
    // still be held for a moment, so wait for it (bounded) before taking the guard
    let deadline = std::time::Instant::now() + BOUND;
    while lock.locked()? {
        assert!(std::time::Instant::now() < deadline, "never released");
        std::thread::sleep(Duration::from_millis(1));
    }
    let guard = match lock.lock() {
        Err(AcquireError::OwnerDied(died)) => died.into_inner(),
        Ok(_) => return Err("not told".into()),
        Err(e) => return Err(e.into()),
    };
    assert!(lock.locked()?);
    drop(guard);
    assert!(!lock.locked()?, "the guard released it");
    m.shutdown()?;
    Ok(())
}
