//! The key scenarios under every start method (fork, spawn, forkserver), with the
//! primitives passed as `Process` arguments.

use multiproc_process::Process;
use multiproc_sync::{Barrier, Condition, Event, Lock, RLock, Semaphore, TryLockError};
use multiproc_test_support::{BOUND, METHODS, park_forever};

use super::died;
use super::util::{Counters, TestResult};
use std::sync::atomic::Ordering;

fn increment(lock: Lock, c: Counters, m: u64) -> bool {
    for _ in 0..m {
        let Ok(_g) = lock.lock() else { return false };
        let v = c.get(0).load(Ordering::Relaxed);
        c.get(0).store(v + 1, Ordering::Relaxed);
    }
    true
}

#[test]
fn lock_counter_under_every_start_method() -> TestResult {
    for method in METHODS {
        let lock = Lock::new()?;
        let c = Counters::new(1);
        let ps = (0..3)
            .map(|_| {
                Process::new(increment, (lock.clone(), c.clone(), 500u64))
                    .start_method(method)
                    .start()
            })
            .collect::<Result<Vec<_>, _>>()?;
        for p in ps {
            assert!(p.join_value()?, "{method:?}");
        }
        assert_eq!(c.get(0).load(Ordering::Relaxed), 1500, "{method:?}");
    }
    Ok(())
}

fn hold_and_hang(lock: RLock, locked: Event) {
    for _ in 0..2 {
        if let Ok(g) = lock.lock() {
            g.forget();
        }
    }
    locked.set();
    park_forever()
}

#[test]
fn rlock_holder_killed_under_every_start_method() -> TestResult {
    for method in METHODS {
        let lock = RLock::new()?;
        let locked = Event::new()?;
        let p = Process::new(hold_and_hang, (lock.clone(), locked.clone()))
            .start_method(method)
            .start()?;
        assert!(locked.wait_timeout(BOUND), "{method:?}");
        assert!(matches!(lock.try_lock(), Err(TryLockError::WouldBlock)));
        p.kill()?;
        p.join()?;
        let g = lock.lock().expect_err("owner died").into_inner();
        assert_eq!(lock.depth(), 1);
        drop(g);
        assert!(!lock.is_locked(), "{method:?}");
    }
    Ok(())
}

fn party(b: Barrier, rounds: u32) -> u32 {
    let mut zeros = 0;
    for _ in 0..rounds {
        match b.wait_timeout(BOUND) {
            Ok(0) => zeros += 1,
            Ok(_) => {}
            Err(_) => return u32::MAX,
        }
    }
    zeros
}

fn sem_worker(sem: Semaphore, c: Counters) -> bool {
    for _ in 0..100 {
        let Some(_p) = sem.permit_timeout(BOUND) else {
            return false;
        };
        let now = c.get(0).fetch_add(1, Ordering::SeqCst) + 1;
        c.get(1).fetch_max(now, Ordering::SeqCst);
        c.get(0).fetch_sub(1, Ordering::SeqCst);
    }
    true
}

fn cond_waiter(cond: Condition, c: Counters) -> bool {
    let Ok(mut g) = cond.lock() else { return false };
    matches!(
        g.wait_for_timeout(|| c.get(0).load(Ordering::SeqCst) == 1, BOUND),
        Ok(true)
    )
}

fn barrier_action() {}

#[test]
fn barrier_semaphore_condition_under_every_start_method() -> TestResult {
    for method in METHODS {
        // Barrier with an action (a fn pointer crossing exec).
        let b = Barrier::with_action(3, barrier_action)?;
        let ps = (0..2)
            .map(|_| {
                Process::new(party, (b.clone(), 10u32))
                    .start_method(method)
                    .start()
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mine = party(b.clone(), 10);
        let mut zeros = mine;
        for p in ps {
            let z = p.join_value()?;
            assert_ne!(z, u32::MAX, "{method:?}");
            zeros += z;
        }
        assert_eq!(zeros, 10, "one index 0 per generation ({method:?})");

        let sem = Semaphore::new(2)?;
        let c = Counters::new(2);
        let ps = (0..3)
            .map(|_| {
                Process::new(sem_worker, (sem.clone(), c.clone()))
                    .start_method(method)
                    .start()
            })
            .collect::<Result<Vec<_>, _>>()?;
        for p in ps {
            assert!(p.join_value()?);
        }
        assert!(c.get(1).load(Ordering::SeqCst) <= 2);

        let cond = Condition::new()?;
        let c = Counters::new(1);
        let p = Process::new(cond_waiter, (cond.clone(), c.clone()))
            .start_method(method)
            .start()?;
        {
            let g = cond.lock().map_err(died)?;
            c.get(0).store(1, Ordering::SeqCst);
            g.notify_all();
        }
        assert!(p.join_value()?, "{method:?}");
    }
    Ok(())
}
