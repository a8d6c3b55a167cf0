//! Model checking of the foundation's two protocols with `loom`: every interleaving
//! (within the preemption bound) of the robust mutex's lock/unlock/contention path and
//! of the doorbell's ring/wait. The futex is modelled without timeouts, so a lost
//! wake-up shows as a deadlock, which loom reports.
//!
//! Run (bounded: seconds at three preemptions; unbounded, the three-thread model runs
//! for minutes):
//! `LOOM_MAX_PREEMPTIONS=3 RUSTFLAGS="--cfg loom" cargo test -p multiproc-sync --test loom --release`
#![cfg(loom)]

use loom::sync::Arc;
use loom::sync::atomic::{AtomicU32, Ordering};
use loom::thread;
use std::time::Duration;

use multiproc_sync::foundation::{Acquired, Deadline, Doorbell, Identity, RobustMutex, Spin};

fn owner(n: u32) -> Identity {
    Identity { id: n, start: 1 }
}

/// Two threads each increment a counter non-atomically (load, then store) under the
/// mutex: mutual exclusion makes the count exact, and no waiter sleeps for ever.
fn two_lockers(spin: fn() -> Spin<'static>) {
    loom::model(move || {
        let m = Arc::new(RobustMutex::new());
        let count = Arc::new(AtomicU32::new(0));
        let worker = |n: u32| {
            let m = m.clone();
            let count = count.clone();
            move || {
                assert_eq!(m.lock(owner(n), Deadline::Never, spin()), Acquired::Ok);
                assert!(m.held_by(owner(n)));
                let v = count.load(Ordering::Relaxed);
                count.store(v + 1, Ordering::Relaxed);
                assert!(m.unlock());
            }
        };
        let a = thread::spawn(worker(1));
        worker(2)();
        a.join().expect("locker ran");
        assert_eq!(count.load(Ordering::Relaxed), 2);
        assert!(!m.is_locked());
    });
}

#[test]
fn robust_mutex_excludes_and_wakes_with_backoff() {
    two_lockers(|| Spin::Backoff);
}

#[test]
fn robust_mutex_excludes_and_wakes_cpu_aware() {
    two_lockers(|| Spin::CpuAware { peer: None });
}

/// A try-lock (`Deadline::Now`) either gets the mutex or reports `TimedOut`, never
/// both holders at once.
#[test]
fn robust_mutex_try_lock_never_overlaps() {
    loom::model(|| {
        let m = Arc::new(RobustMutex::new());
        let inside = Arc::new(AtomicU32::new(0));
        let m2 = m.clone();
        let inside2 = inside.clone();
        let t = thread::spawn(move || {
            if m2.lock(owner(1), Deadline::Now, Spin::Backoff) == Acquired::Ok {
                assert_eq!(inside2.fetch_add(1, Ordering::Relaxed), 0);
                inside2.fetch_sub(1, Ordering::Relaxed);
                m2.unlock();
            }
        });
        if m.lock(owner(2), Deadline::Now, Spin::Backoff) == Acquired::Ok {
            assert_eq!(inside.fetch_add(1, Ordering::Relaxed), 0);
            inside.fetch_sub(1, Ordering::Relaxed);
            m.unlock();
        }
        t.join().expect("try-locker ran");
    });
}

/// The queue's data/space protocol: the notifier publishes, then rings; the waiter
/// spins, then sleeps until the state holds. No wake-up is lost.
#[test]
fn doorbell_loses_no_wake_up() {
    loom::model(|| {
        let bell = Arc::new(Doorbell::new());
        let tail = Arc::new(AtomicU32::new(0));
        let (b2, t2) = (bell.clone(), tail.clone());
        let producer = thread::spawn(move || {
            t2.store(1, Ordering::Release);
            b2.ring();
        });
        let ready = || tail.load(Ordering::Acquire) == 1;
        if !bell.spin_until(ready) {
            while !ready() {
                bell.wait(Duration::from_secs(60), ready);
            }
        }
        producer.join().expect("producer ran");
        assert_eq!(bell.sleepers(), 0);
    });
}

/// The `JoinableQueue` counters' use: `ring_sleepers` without CPU bookkeeping, two
/// sleepers.
#[test]
fn doorbell_wakes_every_sleeper() {
    loom::model(|| {
        let bell = Arc::new(Doorbell::new());
        let done = Arc::new(AtomicU32::new(0));
        let sleeper = |bell: Arc<Doorbell>, done: Arc<AtomicU32>| {
            move || {
                let ok = || done.load(Ordering::Acquire) == 1;
                while !ok() {
                    bell.wait(Duration::from_secs(60), ok);
                }
            }
        };
        let a = thread::spawn(sleeper(bell.clone(), done.clone()));
        let b = thread::spawn(sleeper(bell.clone(), done.clone()));
        done.store(1, Ordering::Release);
        bell.ring_sleepers();
        a.join().expect("sleeper ran");
        b.join().expect("sleeper ran");
    });
}

/// The async waiter's protocol through the futex bridge (`FutexWaiter`, feature
/// `tokio`): the task counts itself ([`Doorbell::enter`]), reads the word, re-checks,
/// and hands (word, value) to another thread — the bridge — which sleeps in the futex
/// and then wakes the task; the task re-arms with a fresh value read before its next
/// re-check. A lost wake-up leaves the bridge asleep for ever, which loom reports.
#[test]
fn async_doorbell_waiter_through_a_bridge_loses_no_wake_up() {
    loom::model(|| {
        let bell = Arc::new(Doorbell::new());
        let ready = Arc::new(AtomicU32::new(0));
        let notifier = {
            let bell = bell.clone();
            let ready = ready.clone();
            thread::spawn(move || {
                ready.store(1, Ordering::Release);
                bell.ring_sleepers();
            })
        };
        let mut seq = bell.enter();
        while ready.load(Ordering::Acquire) == 0 {
            let bridge = {
                let bell = bell.clone();
                thread::spawn(move || {
                    multiproc_sync::foundation::futex_wait(bell.word(), seq, None);
                })
            };
            bridge.join().expect("bridge woke");
            seq = bell.seq();
        }
        bell.leave();
        notifier.join().expect("notifier ran");
        assert_eq!(bell.sleepers(), 0);
    });
}

/// The async lock's protocol: `lock_step` takes the mutex or marks a sleeper and
/// returns the value to sleep against; the bridge sleeps on the word with it; the
/// holder's unlock must reach it.
#[test]
fn async_lock_step_through_a_bridge_loses_no_wake_up() {
    loom::model(|| {
        let m = Arc::new(RobustMutex::new());
        let holder = {
            let m = m.clone();
            thread::spawn(move || {
                assert_eq!(
                    m.lock(owner(1), Deadline::Never, Spin::Backoff),
                    Acquired::Ok
                );
                assert!(m.unlock());
            })
        };
        let mut slept = false;
        while let Some(v) = m.lock_step(owner(2), slept) {
            let bridge = {
                let m = m.clone();
                thread::spawn(move || {
                    multiproc_sync::foundation::futex_wait(m.word(), v, None);
                })
            };
            bridge.join().expect("bridge woke");
            slept = true;
        }
        assert!(m.held_by(owner(2)));
        assert!(m.unlock());
        holder.join().expect("holder ran");
    });
}
