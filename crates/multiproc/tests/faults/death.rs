//! Holders that die: locks, semaphores, conditions, barriers, events, a queue put and
//! a manager call cut short by SIGKILL.

use std::time::Duration;

use multiproc::queue::GetError;
use multiproc::sync::BarrierError;
use multiproc::{
    Barrier, Condition, Connection, Event, Lock, Manager, Pipe, Process, Queue, RLock, Semaphore,
};

use crate::{BOUND, FUTEX, METHODS, R, blocked_in, reaped, within};

fn hold_lock_and_exit(l: Lock, ready: Connection) {
    let g = l.lock().unwrap_or_else(|e| e.into_inner());
    let _ = ready.send(&());
    std::mem::forget(g);
    std::process::exit(0);
}

fn hold_rlock_and_die(l: RLock, ready: Connection) {
    let a = l.lock().unwrap_or_else(|e| e.into_inner());
    let b = l.lock().unwrap_or_else(|e| e.into_inner());
    let _ = ready.send(&());
    std::mem::forget((a, b));
    std::thread::sleep(BOUND);
}

fn hold_condition_and_die(c: Condition, ready: Connection) {
    let g = c.lock().unwrap_or_else(|e| e.into_inner());
    let _ = ready.send(&());
    std::mem::forget(g);
    std::thread::sleep(BOUND);
}

/// A `Lock`/`RLock`/`Condition` whose holder exits or is killed: the next acquirer
/// takes it over and is told (`OwnerDied`), within a bounded wait.
#[test]
fn lock_holders_that_die() -> R {
    for m in METHODS {
        let l = Lock::new()?;
        let (a, b) = Pipe::duplex()?;
        let p = Process::new(hold_lock_and_exit, (l.clone(), b))
            .start_method(m)
            .start()?;
        a.recv_timeout::<()>(BOUND)?;
        p.join()?;
        let r = l.lock_timeout(BOUND);
        let text = format!("{r:?}");
        let g = match r {
            Err(multiproc::sync::TryLockError::OwnerDied(died)) => died.into_inner(),
            _ => panic!("{m}: expected OwnerDied carrying the guard: {text}"),
        };
        assert!(l.is_locked(), "{m}: the new owner holds it");
        assert!(l.is_held_by_current_thread(), "{m}");
        drop(g);
        assert!(!l.is_locked(), "{m}");

        let rl = RLock::new()?;
        let (a, b) = Pipe::duplex()?;
        let p = Process::new(hold_rlock_and_die, (rl.clone(), b))
            .start_method(m)
            .start()?;
        a.recv_timeout::<()>(BOUND)?;
        p.kill()?;
        p.join()?;
        let depth = match rl.lock() {
            Err(died) => {
                let g = died.into_inner();
                let d = rl.depth();
                drop(g);
                d
            }
            Ok(_) => panic!("{m}: RLock acquired without OwnerDied"),
        };
        assert_eq!(depth, 1, "{m}: the dead owner's recursion is not inherited");
        assert!(!rl.is_locked(), "{m}");

        let c = Condition::new()?;
        let (a, b) = Pipe::duplex()?;
        let p = Process::new(hold_condition_and_die, (c.clone(), b))
            .start_method(m)
            .start()?;
        a.recv_timeout::<()>(BOUND)?;
        p.kill()?;
        p.join()?;
        let mut g = match c.lock() {
            Err(died) => died.into_inner(),
            Ok(_) => panic!("{m}: Condition lock acquired without OwnerDied"),
        };
        assert!(
            matches!(g.wait_timeout(Duration::from_millis(1)), Ok(false)),
            "{m}"
        );
        drop(g);
    }
    Ok(())
}

fn take_permit_and_die(s: Semaphore, ready: Connection) {
    let g = s.permit();
    let _ = ready.send(&());
    std::mem::forget(g);
    std::process::exit(3);
}

/// A semaphore permit held by a dead process is lost (documented: permits have no
/// owner); the others are still usable, and waiting for the lost one is bounded.
#[test]
fn semaphore_holder_dies() -> R {
    for m in METHODS {
        let s = Semaphore::new(2)?;
        let (a, b) = Pipe::duplex()?;
        let p = Process::new(take_permit_and_die, (s.clone(), b))
            .start_method(m)
            .start()?;
        a.recv_timeout::<()>(BOUND)?;
        p.join()?;
        let g = s.try_permit().ok_or("the live permit")?;
        assert!(s.permit_timeout(Duration::from_millis(20)).is_none(), "{m}");
        drop(g);
        assert_eq!(s.value(), 1, "{m}");
    }
    Ok(())
}

fn barrier_party(b: Barrier) -> String {
    format!("{:?}", b.wait_timeout(BOUND))
}

/// A barrier party killed while waiting breaks the barrier for the others, who wake
/// with `Broken` (not after their timeout: the test's bound is the same as theirs,
/// only a hang would exceed it).
#[test]
fn barrier_party_killed_while_waiting() -> R {
    for m in METHODS {
        let b = Barrier::new(3)?;
        let victim = Process::new(barrier_party, (b.clone(),))
            .start_method(m)
            .start()?;
        let other = Process::new(barrier_party, (b.clone(),))
            .start_method(m)
            .start()?;
        let end = std::time::Instant::now() + BOUND;
        while b.n_waiting() < 2 && std::time::Instant::now() < end {
            std::thread::sleep(Duration::from_millis(2));
        }
        victim.kill()?;
        victim.join()?;
        // The live waiter notices the dead party and breaks the barrier.
        let end = std::time::Instant::now() + BOUND;
        while !b.is_broken() && std::time::Instant::now() < end {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(
            b.is_broken(),
            "{m}: a dead waiting party did not break the barrier"
        );
        let r = b.wait_timeout(BOUND);
        assert!(matches!(r, Err(BarrierError::Broken)), "{m}: {r:?}");
        let o = other.join_value()?;
        assert!(o.contains("Broken"), "{m}: {o}");
    }
    Ok(())
}

fn event_waiter(e: Event) -> bool {
    e.wait_timeout(BOUND)
}

/// An `Event` waiter killed while it sleeps: `set` still wakes the live ones.
#[test]
fn event_waiter_killed() -> R {
    for m in METHODS {
        let e = Event::new()?;
        let victim = Process::new(event_waiter, (e.clone(),))
            .start_method(m)
            .start()?;
        let live = Process::new(event_waiter, (e.clone(),))
            .start_method(m)
            .start()?;
        blocked_in(victim.pid(), &FUTEX);
        victim.kill()?;
        victim.join()?;
        e.set();
        assert!(live.join_value()?, "{m}");
        assert!(e.wait_timeout(Duration::ZERO), "{m}");
    }
    Ok(())
}

fn put_big(q: Queue<Vec<u8>>, n: usize) {
    let _ = q.put(vec![9u8; n]);
}

/// A producer SIGKILLed in the middle of streaming an item larger than the ring: the
/// consumer never sees a half item, the queue keeps working for the living.
#[test]
fn queue_put_killed_mid_item() -> R {
    for m in METHODS {
        let q: Queue<Vec<u8>> = Queue::with_capacity(0, 64 << 10)?;
        let p = Process::new(put_big, (q.clone(), 8 << 20))
            .start_method(m)
            .start()?;
        let pid = p.pid();
        // The item streams through the 64 KiB ring; with no getter the producer
        // sleeps on the ring's futex with the put lock held.
        let mid = blocked_in(pid, &FUTEX);
        p.kill()?;
        p.join()?;
        assert!(reaped(pid), "{m}");
        let q2 = q.clone();
        let r = within(BOUND, "get after a producer died mid-item", move || {
            q2.get_timeout(Duration::from_millis(200))
        })?;
        match r {
            Err(GetError::Timeout | GetError::Empty | GetError::Corrupt) => {}
            Ok(v) => assert_eq!(v.len(), 8 << 20, "{m} (blocked: {mid}): a partial item"),
            Err(e) => panic!("{m} (blocked: {mid}): {e:?}"),
        }
        let q2 = q.clone();
        let r = within(
            BOUND,
            "put and get after a producer died mid-item",
            move || {
                q2.put_timeout(vec![1, 2, 3], BOUND)
                    .map_err(|e| e.to_string())?;
                q2.get_timeout(BOUND).map_err(|e| e.to_string())
            },
        )?;
        assert_eq!(r, Ok(vec![1, 2, 3]), "{m} (blocked: {mid})");
    }
    Ok(())
}

fn append_forever(l: multiproc::manager::ListProxy, ready: Connection) {
    let big = "y".repeat(4 << 20);
    let _ = ready.send(&());
    loop {
        if l.append(big.clone()).is_err() {
            return;
        }
    }
}

/// A manager client SIGKILLed in the middle of requests: the server carries on for
/// its other clients.
#[test]
fn manager_client_killed_mid_request() -> R {
    let mgr = std::sync::Arc::new(Manager::start()?);
    for m in METHODS {
        let l = mgr.list()?;
        let (a, b) = Pipe::duplex()?;
        let p = Process::new(append_forever, (l.clone(), b))
            .start_method(m)
            .start()?;
        a.recv_timeout::<()>(BOUND)?;
        // Kill it somewhere in its stream of 4 MiB requests.
        let end = std::time::Instant::now() + BOUND;
        while l.len()? < 2 && std::time::Instant::now() < end {
            std::thread::sleep(Duration::from_millis(1));
        }
        p.kill()?;
        p.join()?;
        let m2 = mgr.clone();
        let r = within(BOUND, "manager after a client died", move || {
            m2.ping()?;
            let n = l.len()?;
            l.clear()?;
            Ok::<_, multiproc::manager::Error>(n)
        })?;
        assert!(r.is_ok(), "{m}: {r:?}");
    }
    mgr.shutdown()?;
    Ok(())
}

fn hold_array_lock(a: multiproc::Array<u32>, ready: Connection) {
    let g = a.lock().unwrap_or_else(|e| e.into_inner());
    let _ = ready.send(&());
    std::mem::forget(g);
    std::thread::sleep(BOUND);
}

/// The `RLock` inside an `Array` whose holder is killed: the next `lock()` is told.
#[test]
fn array_lock_holder_killed() -> R {
    for m in METHODS {
        let arr = multiproc::Array::<u32>::zeroed(4)?;
        let (a, b) = Pipe::duplex()?;
        let p = Process::new(hold_array_lock, (arr.clone(), b))
            .start_method(m)
            .start()?;
        a.recv_timeout::<()>(BOUND)?;
        p.kill()?;
        p.join()?;
        let arr2 = arr.clone();
        let died = within(BOUND, "Array::lock after the holder died", move || {
            arr2.lock().is_err()
        })?;
        assert!(died, "{m}: OwnerDied expected");
        arr.set(0, 5)?;
        assert_eq!(arr.get(0), Some(5), "{m}");
    }
    Ok(())
}

fn take_and_die(q: multiproc::JoinableQueue<u32>) {
    let _ = q.get();
    std::process::abort();
}

/// A `JoinableQueue` consumer killed between `get` and `task_done`: `join` can never
/// succeed (CPython hangs for ever), and `join_timeout` says so in time.
#[test]
fn joinable_queue_consumer_dies_before_task_done() -> R {
    for m in METHODS {
        let q = multiproc::JoinableQueue::<u32>::new()?;
        q.put(1).map_err(|e| e.to_string())?;
        let p = Process::new(take_and_die, (q.clone(),))
            .start_method(m)
            .start()?;
        p.join()?;
        assert_eq!(p.exitcode(), Some(-6), "{m}");
        let r = q.join_timeout(Duration::from_millis(50));
        assert!(matches!(r, Ok(false)), "{m}: {r:?}");
        q.task_done()?;
        assert!(q.join_timeout(BOUND)?, "{m}");
    }
    Ok(())
}

fn get_big(q: Queue<Vec<u8>>) -> usize {
    q.get().map(|v| v.len()).unwrap_or(0)
}

/// A consumer SIGKILLed while an item larger than the ring streams to it: the
/// producer's timed put returns (with or without its item), and no later `get`
/// sees a truncated item.
#[test]
fn queue_get_killed_mid_item() -> R {
    for m in METHODS {
        let q: Queue<String> = Queue::with_capacity(0, 64 << 10)?;
        let raw: Queue<Vec<u8>> = {
            let (a, b) = Pipe::duplex()?;
            a.send(&q)?;
            b.recv_timeout(BOUND)?
        };
        let p = Process::new(get_big, (raw,)).start_method(m).start()?;
        let pid = p.pid();
        let q2 = q.clone();
        let producer = std::thread::spawn(move || {
            // With its consumer dead mid-item the put cannot finish: it times out,
            // handing the item back (a plain `put` waits for the next consumer).
            q2.put_timeout("z".repeat(8 << 20), Duration::from_millis(500))
                .map_err(|e| format!("{e:?}").chars().take(40).collect::<String>())
        });
        // The consumer holds the get lock and sleeps on the ring, mid-item.
        let mid = blocked_in(pid, &FUTEX);
        p.kill()?;
        p.join()?;
        let put = within(BOUND, "put to a dead consumer", move || producer.join())?
            .map_err(|_| "producer panicked")?;
        let q3 = q.clone();
        let r = within(BOUND, "get after the consumer died mid-item", move || {
            q3.get_timeout(Duration::from_millis(200))
        })?;
        match &r {
            Ok(v) => assert_eq!(v.len(), 8 << 20, "{m} (blocked: {mid}, put {put:?})"),
            Err(GetError::Timeout | GetError::Empty | GetError::Corrupt) => {}
            Err(e) => panic!("{m} (blocked: {mid}, put {put:?}): {e:?}"),
        }
        let q3 = q.clone();
        let r = within(BOUND, "queue after a consumer died mid-item", move || {
            q3.put_timeout("ok".into(), BOUND)
                .map_err(|e| e.to_string())?;
            q3.get_timeout(BOUND).map_err(|e| e.to_string())
        })?;
        assert_eq!(r.as_deref(), Ok("ok"), "{m} (blocked: {mid}, put {put:?})");
    }
    Ok(())
}

fn create_shm() -> bool {
    multiproc::SharedMemory::create(None, 4096)
        .and_then(|s| s.unlink())
        .is_ok()
}

/// Fork children that create named shared memory while another thread of the parent
/// does the same: none of them may inherit a lock of the shared-memory tracker held
/// and hang. (Seen before the fix: the 7th child hung in the tracker's `PIPE.lock()`;
/// the pipe is now read without a lock.)
#[test]
fn fork_while_another_thread_creates_shared_memory() -> R {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let stop = Arc::new(AtomicBool::new(false));
    let busy = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let _ = create_shm();
            }
        })
    };
    let mut outcome: R = Ok(());
    for i in 0..30 {
        let p = Process::new(create_shm, ())
            .start_method(multiproc::StartMethod::Fork)
            .start()?;
        if !p.join_timeout(BOUND)? {
            p.kill()?;
            p.join()?;
            outcome = Err(format!("fork child {i} hung creating shared memory").into());
            break;
        }
        if !matches!(p.join_value(), Ok(true)) {
            outcome = Err(format!("fork child {i} failed").into());
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let _ = busy.join();
    outcome
}

fn proxy_get(d: multiproc::manager::DictProxy) -> bool {
    d.get("k").is_ok()
}

/// Fork children using a manager proxy while another thread of the parent is in the
/// middle of calls on the same manager: each child gets its own connection and an
/// answer, none hangs on state inherited mid-call.
#[test]
fn fork_while_another_thread_calls_the_manager() -> R {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let mgr = Manager::start()?;
    let d = mgr.dict()?;
    d.insert("k", 1)?;
    let stop = Arc::new(AtomicBool::new(false));
    let busy = {
        let (stop, d) = (stop.clone(), d.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let _ = d.insert("k", 2);
            }
        })
    };
    let mut outcome: R = Ok(());
    for i in 0..30 {
        let p = Process::new(proxy_get, (d.clone(),))
            .start_method(multiproc::StartMethod::Fork)
            .start()?;
        if !p.join_timeout(BOUND)? {
            p.kill()?;
            p.join()?;
            outcome = Err(format!("fork child {i} hung in a proxy call").into());
            break;
        }
        if !matches!(p.join_value(), Ok(true)) {
            outcome = Err(format!("fork child {i}: the call failed").into());
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let _ = busy.join();
    mgr.shutdown()?;
    outcome
}

fn put_one(q: Queue<u64>) -> bool {
    q.put(7).is_ok()
}

/// Fork children putting to a queue while another thread of the parent puts and gets
/// on it (per-process handle registration, the side locks): no child hangs.
#[test]
fn fork_while_another_thread_uses_the_queue() -> R {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let q: Queue<u64> = Queue::new()?;
    let stop = Arc::new(AtomicBool::new(false));
    let busy = {
        let (stop, q) = (stop.clone(), q.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let _ = q.put(1);
                let _ = q.try_get();
                let q2 = q.clone();
                drop(q2);
            }
        })
    };
    let mut outcome: R = Ok(());
    for i in 0..30 {
        let p = Process::new(put_one, (q.clone(),))
            .start_method(multiproc::StartMethod::Fork)
            .start()?;
        if !p.join_timeout(BOUND)? {
            p.kill()?;
            p.join()?;
            outcome = Err(format!("fork child {i} hung putting").into());
            break;
        }
        if !matches!(p.join_value(), Ok(true)) {
            outcome = Err(format!("fork child {i}: put failed").into());
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let _ = busy.join();
    outcome
}
