//! The async proxies (feature `tokio`) against a real manager server process under
//! every start method, on a current-thread and a multi-thread runtime: every kind
//! covered, concurrent calls multiplexed on one connection, and cancellation at every
//! await point of a call (queue items counted, locks not leaked).
#![cfg(feature = "tokio")]

use std::future::Future;
use std::time::Duration;

use multiproc_manager::aio::AsyncManager;
use multiproc_manager::{Error, Manager, RemoteErrorKind, Value};

use multiproc_test_support::aio::{Drivers, block_on_bounded, runtimes};
use multiproc_test_support::{BOUND, METHODS, poll_and_drop, reaped};

type R = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// Runs `body` against a manager started with each start method, on both runtimes.
fn each<F, Fut>(body: F) -> R
where
    F: Fn(&'static str, Manager) -> Fut,
    Fut: Future<Output = R>,
{
    for method in METHODS {
        for (rt_name, rt) in runtimes(Drivers::All)? {
            let manager = Manager::start_with::<()>(Some(method))?;
            let pid = manager.pid().ok_or("no server pid")?;
            let what = format_args!("{method}/{rt_name}");
            block_on_bounded(&rt, what, body(rt_name, manager))?;
            assert!(reaped(pid), "{method}: server not reaped");
        }
    }
    Ok(())
}

#[test]
fn every_kind_under_every_start_method() -> R {
    each(|_, manager| async move {
        let m = AsyncManager::new(&manager).await?;
        m.ping().await?;

        let d = m.dict_of::<String, i64>().await?;
        d.insert("a", 1).await?;
        d.insert("b", 2).await?;
        assert_eq!(d.get_item("a").await?, 1);
        assert_eq!(d.get("zz").await?, None);
        assert!(d.contains("b").await?);
        assert_eq!(d.len().await?, 2);
        assert_eq!(d.pop("a").await?, 2 - 1);
        assert_eq!(d.items().await?, [("b".to_string(), 2)]);
        d.remove("b").await?;
        assert!(
            d.remove("b")
                .await
                .expect_err("removed twice")
                .is_key_error()
        );
        d.clear().await?;

        let l = m.list_of::<i64>().await?;
        l.extend([1, 2, 3]).await?;
        l.append(4).await?;
        l.set(0, 10).await?;
        assert_eq!(l.get(-1).await?, 4);
        assert_eq!(l.pop().await?, 4);
        assert_eq!(l.to_vec().await?, [10, 2, 3]);
        assert_eq!(l.len().await?, 3);

        let ns = m.namespace().await?;
        ns.set("x", "hello").await?;
        assert_eq!(ns.get::<String>("x").await?, "hello");
        assert!(ns.has("x").await?);
        ns.del("x").await?;
        assert!(!ns.has("x").await?);

        let v = m.value(1i64).await?;
        v.set(5).await?;
        assert_eq!(v.get().await?, 5);

        let q = m.queue_of::<String>().await?;
        q.put("one".to_string()).await?;
        assert_eq!(q.qsize().await?, 1);
        assert_eq!(q.get().await?, "one");
        assert_eq!(q.try_get().await?, None);
        let empty = q
            .get_timeout(Duration::from_millis(10))
            .await
            .expect_err("empty queue");
        assert_eq!(empty.remote_kind(), Some(RemoteErrorKind::Empty));

        let lock = m.lock().await?;
        lock.acquire(None).await?;
        assert!(lock.locked().await?);
        assert!(!lock.acquire(Some(Duration::ZERO)).await?);
        lock.release().await?;
        assert!(!lock.locked().await?);

        let ev = m.event().await?;
        assert!(!ev.wait_timeout(Duration::from_millis(10)).await?);
        ev.set().await?;
        ev.wait().await?;
        assert!(ev.is_set().await?);
        ev.clear().await?;

        // The generic call on an object made by the blocking manager.
        let bl = manager.list_from([1, 2])?;
        let p = m.proxy(bl.id());
        assert_eq!(p.len().await?, 2);
        assert_eq!(p.repr().await?, "[1, 2]");
        assert!(p.call("nope", vec![]).await.is_err());

        // The server goes: a typed error, no hang.
        manager.shutdown()?;
        assert!(matches!(d.len().await, Err(Error::ManagerGone(_))));
        Ok(())
    })
}

#[test]
fn concurrent_calls_share_one_connection() -> R {
    each(|_, manager| async move {
        let m = AsyncManager::new(&manager).await?;
        let l = m.list_of::<i64>().await?;
        let q = m.queue_of::<i64>().await?;
        let mut tasks = tokio::task::JoinSet::new();
        // Getters waiting on the server while others append and put.
        for _ in 0..4 {
            let q = q.clone();
            tasks.spawn(async move { q.get().await.map(|_| ()) });
        }
        for i in 0..16 {
            let l = l.clone();
            tasks.spawn(async move { l.append(i).await });
        }
        for i in 0..4 {
            q.put(i).await?;
        }
        while let Some(r) = tasks.join_next().await {
            r??;
        }
        let mut v = l.to_vec().await?;
        v.sort_unstable();
        assert_eq!(v, (0..16).collect::<Vec<_>>());
        assert_eq!(q.qsize().await?, 0);
        manager.shutdown()?;
        Ok(())
    })
}

/// Gets cancelled at every await point — before sending, after sending while the
/// server waits for an item, while the reply is being read — lose no item and keep
/// the order: every item put comes out once.
#[test]
fn cancelled_gets_lose_no_item() -> R {
    each(|_, manager| async move {
        let m = AsyncManager::new(&manager).await?;
        let q = m.queue_of::<i64>().await?;
        // Cut before anything: polled once on an empty queue.
        for _ in 0..3 {
            assert!(poll_and_drop(q.get()).is_none());
        }
        // Cut while the server waits (the request went out).
        for _ in 0..3 {
            assert!(
                tokio::time::timeout(Duration::from_millis(5), q.get())
                    .await
                    .is_err()
            );
        }
        // Items arrive from another task.
        let feeder = tokio::spawn({
            let q = q.clone();
            async move {
                for i in 0..20i64 {
                    q.put(i).await?;
                }
                Ok::<_, Error>(())
            }
        });
        let mut got = Vec::new();
        let mut cut = 0;
        while got.len() < 20 {
            // Cut at random points, and at the first poll.
            if let Some(r) = poll_and_drop(q.get()) {
                got.push(r?);
                continue;
            }
            match tokio::time::timeout(Duration::from_micros(300), q.get()).await {
                Ok(r) => got.push(r?),
                Err(_) => cut += 1,
            }
        }
        feeder.await??;
        assert_eq!(got, (0..20).collect::<Vec<_>>(), "after {cut} cut gets");
        assert_eq!(q.try_get().await?, None);
        assert_eq!(q.qsize().await?, 0);
        manager.shutdown()?;
        Ok(())
    })
}

/// An acquire cancelled while the server waits for the lock: when the lock comes to
/// it, it is released, so others can take it.
#[test]
fn cancelled_acquire_does_not_leak_the_lock() -> R {
    each(|_, manager| async move {
        let m = AsyncManager::new(&manager).await?;
        let held = manager.lock()?;
        held.acquire(None)?;
        let lock = m.lock_at(held.id());
        // Cut at the first poll (nothing sent), then while the server waits.
        assert!(poll_and_drop(lock.acquire(None)).is_none());
        for _ in 0..3 {
            assert!(
                tokio::time::timeout(Duration::from_millis(10), lock.acquire(None))
                    .await
                    .is_err()
            );
        }
        held.release()?;
        // The lock goes to a cancelled acquire; reading its reply (any call) releases
        // it; the next goes to the next cancelled one, and so on.
        let mut turns = 0;
        loop {
            m.ping().await?;
            if held.acquire(Some(Duration::from_millis(50)))? {
                break;
            }
            turns += 1;
            assert!(turns < 2000, "the lock never came back");
        }
        // Held by the blocking side now. Once it lets go, the lock goes round any
        // cancelled acquire still waiting on the server (each released when its reply
        // is read) and comes to the async side.
        assert!(!lock.acquire(Some(Duration::ZERO)).await?);
        held.release()?;
        let mut turns = 0;
        while !lock.acquire(Some(Duration::from_millis(50))).await? {
            turns += 1;
            assert!(turns < 2000, "the lock never came to the async side");
        }
        lock.release().await?;
        // The server's lock is not FIFO: a cut acquire still waiting there may get it
        // now, and its reply is read (and the lock released) only by a later call on
        // this connection. So the blocking side polls, with a call between tries.
        let mut turns = 0;
        while !held.acquire(Some(Duration::from_millis(50)))? {
            m.ping().await?;
            turns += 1;
            assert!(
                turns < 2000,
                "the lock never came back after the async release"
            );
        }
        held.release()?;
        manager.shutdown()?;
        Ok(())
    })
}

#[test]
fn value_round_trip_through_generic_values() -> R {
    each(|_, manager| async move {
        let m = AsyncManager::new(&manager).await?;
        let d = m.dict().await?;
        d.insert(1, "one").await?;
        d.insert("two", 2.5).await?;
        assert_eq!(d.get_item(1).await?, Value::from("one"));
        assert_eq!(d.untyped().repr().await?, "{1: 'one', 'two': 2.5}");
        manager.shutdown()?;
        Ok(())
    })
}

/// The server process killed while calls wait on it: every waiting call gets a typed
/// error, none hangs; later calls fail the same way.
#[test]
fn server_killed_while_calls_wait() -> R {
    each(|_, manager| async move {
        let m = AsyncManager::new(&manager).await?;
        let q = m.queue_of::<i64>().await?;
        let ev = m.event().await?;
        let waiting_get = tokio::spawn({
            let q = q.clone();
            async move { q.get().await }
        });
        let waiting_event = tokio::spawn({
            let ev = ev.clone();
            async move { ev.wait().await }
        });
        // Usually both requests are on the server by the time this reply comes;
        // either way the outcome below is the same typed error.
        m.ping().await?;
        let pid = manager.pid().ok_or("no server pid")?;
        let pid = rustix::process::Pid::from_raw(pid as i32).ok_or("bad pid")?;
        rustix::process::kill_process(pid, rustix::process::Signal::KILL)?;
        assert!(matches!(waiting_get.await?, Err(Error::ManagerGone(_))));
        assert!(matches!(waiting_event.await?, Err(Error::ManagerGone(_))));
        assert!(matches!(q.qsize().await, Err(Error::ManagerGone(_))));
        drop(manager); // reaps the killed server
        Ok(())
    })
}

/// A small deterministic generator for cut points (no `rand` in the dev-dependencies).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Sends owed releases and reads settled replies until `done()` holds, pinging the
/// async side in between (bounded).
async fn settle_until(
    m: &AsyncManager,
    what: &str,
    mut done: impl FnMut() -> Result<bool, Error>,
) -> R {
    let end = std::time::Instant::now() + BOUND;
    while std::time::Instant::now() < end {
        m.ping().await?;
        if done()? {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Err(format!("{what}: never settled within {BOUND:?}").into())
}

#[test]
fn more_kinds_under_every_start_method() -> R {
    each(|_, manager| async move {
        let m = AsyncManager::new(&manager).await?;

        let s = m.set_of::<i64>().await?;
        s.add(1).await?;
        s.add(1).await?;
        s.update([2, 3]).await?;
        assert_eq!(s.len().await?, 3);
        assert!(s.contains(3).await?);
        s.discard(3).await?;
        assert!(s.remove(3).await.expect_err("absent").is_key_error());
        let popped = s.pop().await?;
        assert!(popped == 1 || popped == 2, "{popped}");
        assert_eq!(s.to_vec().await?.len(), 1);
        s.clear().await?;
        assert!(s.is_empty().await?);
        let sf = m.set_from([1, 1, 2]).await?;
        assert_eq!(sf.len().await?, 2);

        let a = m.array([1i64, 2, 3]).await?;
        a.set(1, 20).await?;
        assert_eq!(a.get(1).await?, 20);
        a.set_slice(None, None, [7, 8, 9]).await?;
        assert_eq!(a.to_vec().await?, [7, 8, 9]);
        assert_eq!(a.len().await?, 3);
        assert!(a.set_slice(None, None, [1]).await.is_err(), "fixed length");

        let l = m.list_from([1, 2]).await?;
        assert_eq!(l.len().await?, 2);
        let d = m.dict_from([("k", 1)]).await?;
        assert_eq!(d.get_item("k").await?, Value::from(1));

        let ns = m.namespace().await?;
        ns.set("b", 1).await?;
        ns.set("a", 2).await?;
        assert_eq!(
            ns.to_vec().await?,
            [
                ("b".to_string(), Value::from(1)),
                ("a".to_string(), Value::from(2))
            ]
        );

        let sem = m.semaphore(2).await?;
        assert!(sem.acquire(None).await?);
        assert!(sem.acquire(Some(Duration::ZERO)).await?);
        assert!(!sem.acquire(Some(Duration::from_millis(10))).await?);
        assert_eq!(sem.value().await?, 0);
        sem.release().await?;
        sem.release().await?;
        sem.release().await?; // unbounded: above the initial value is fine
        assert_eq!(sem.value().await?, 3);
        let bsem = m.bounded_semaphore(1).await?;
        let e = bsem.release().await.expect_err("above its initial value");
        assert_eq!(e.remote_kind(), Some(RemoteErrorKind::ValueError));

        let rl = m.rlock().await?;
        assert!(rl.acquire(None).await?);
        assert!(rl.acquire(Some(Duration::ZERO)).await?, "re-entrant");
        rl.release().await?;
        rl.release().await?;
        assert!(!rl.locked().await?);

        // A condition: a waiter task with an owner of its own, notified under the lock.
        let cond = m.condition().await?;
        let flag = m.value(false).await?;
        let waiter = tokio::spawn({
            let (cond, flag) = (cond.clone_owner(), flag.clone());
            async move {
                cond.acquire(None).await?;
                while !flag.get().await? {
                    cond.wait().await?;
                }
                cond.release().await
            }
        });
        loop {
            cond.acquire(None).await?;
            flag.set(true).await?;
            cond.notify(1).await?;
            cond.release().await?;
            if waiter.is_finished() {
                break;
            }
            // notify_all reaches a waiter that was not yet waiting at the first notify.
            cond.acquire(None).await?;
            cond.notify_all().await?;
            cond.release().await?;
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        waiter.await??;
        cond.acquire(None).await?;
        assert!(!cond.wait_timeout(Duration::from_millis(10)).await?);
        let other = cond.clone_owner();
        assert!(
            !other.acquire(Some(Duration::ZERO)).await?,
            "held again after a timed-out wait"
        );
        cond.wait_for(|| true).await?;
        cond.release().await?;
        let e = cond.release().await.expect_err("not held");
        assert_eq!(e.remote_kind(), Some(RemoteErrorKind::RuntimeError));
        let e = cond.notify(1).await.expect_err("not held");
        assert_eq!(e.remote_kind(), Some(RemoteErrorKind::RuntimeError));

        let b = m.barrier(3).await?;
        let (x, y, z) = tokio::join!(b.wait(), b.wait(), b.wait());
        let mut idx = [x?, y?, z?];
        idx.sort_unstable();
        assert_eq!(idx, [0, 1, 2]);
        assert_eq!(b.info().await?, (3, 0, false));
        assert_eq!(b.parties().await?, 3);
        let e = b
            .wait_timeout(Duration::from_millis(10))
            .await
            .expect_err("alone");
        assert_eq!(e.remote_kind(), Some(RemoteErrorKind::BrokenBarrier));
        assert!(b.broken().await?);
        b.reset().await?;
        assert!(!b.broken().await?);
        b.abort().await?;
        assert!(b.broken().await?);
        assert_eq!(b.n_waiting().await?, 0);

        let bq = m.bounded_queue::<i64>(1).await?;
        bq.put(1).await?;
        let e = bq
            .put_timeout(2, Duration::from_millis(10))
            .await
            .expect_err("full");
        assert_eq!(e.remote_kind(), Some(RemoteErrorKind::Full));
        assert!(!bq.is_empty().await?);

        let jq = m.joinable_queue::<i64>().await?;
        jq.put(1).await?;
        assert!(!jq.join_timeout(Duration::from_millis(10)).await?);
        assert_eq!(jq.get().await?, 1);
        jq.task_done().await?;
        jq.join().await?;
        assert!(jq.task_done().await.is_err(), "more task_done than puts");

        manager.shutdown()?;
        assert!(matches!(sem.value().await, Err(Error::ManagerGone(_))));
        Ok(())
    })
}

/// Semaphore acquires cut at random points (first poll, while the server waits, while
/// the reply is read) by several tasks at once: never more holders than permits, and
/// afterwards every permit is back — the blocking side takes exactly all of them.
#[test]
fn cancelled_semaphore_acquires_lose_no_permit() -> R {
    each(|rt, manager| async move {
        const PERMITS: u64 = 3;
        let m = AsyncManager::new(&manager).await?;
        let blk = manager.semaphore(PERMITS)?;
        let sem = m.semaphore_at(blk.id());
        let holders = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let mut tasks = tokio::task::JoinSet::new();
        for t in 0..5u64 {
            let (sem, holders) = (sem.clone(), holders.clone());
            tasks.spawn(async move {
                let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ ((t + 1) * 7919));
                let (mut got, mut cut) = (0u32, 0u32);
                for _ in 0..40 {
                    let took = match rng.below(3) {
                        0 => match poll_and_drop(sem.acquire(None)) {
                            Some(r) => Some(r?),
                            None => None,
                        },
                        _ => {
                            let micros = rng.below(800);
                            tokio::time::timeout(Duration::from_micros(micros), sem.acquire(None))
                                .await
                                .ok()
                                .transpose()?
                        }
                    };
                    match took {
                        Some(true) => {
                            got += 1;
                            let now = holders.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            assert!(now < PERMITS, "{} holders of {PERMITS}", now + 1);
                            tokio::task::yield_now().await;
                            holders.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                            sem.release().await?;
                        }
                        Some(false) => return Err(Error::Config("untimed acquire said no".into())),
                        None => cut += 1,
                    }
                }
                Ok::<_, Error>((got, cut))
            });
        }
        let (mut got, mut cut) = (0, 0);
        while let Some(r) = tasks.join_next().await {
            let (g, c) = r??;
            got += g;
            cut += c;
        }
        assert!(cut > 0, "{rt}: nothing was cut ({got} acquired)");
        // Cancelled acquires still waiting on the server get permits as they free up;
        // each is given back when its reply is read. The blocking side ends up with
        // all of them, and not one more.
        let mut taken = 0;
        settle_until(&m, "permits", || {
            if blk.acquire(Some(Duration::from_millis(20)))? {
                taken += 1;
            }
            Ok(taken == PERMITS)
        })
        .await?;
        for _ in 0..10 {
            m.ping().await?;
        }
        assert!(
            !blk.acquire(Some(Duration::from_millis(20)))?,
            "{rt}: a permit too many after {cut} cut acquires"
        );
        assert_eq!(sem.value().await?, 0);
        for _ in 0..PERMITS {
            blk.release()?;
        }
        // Cut acquires still waiting take them in turn and give them back.
        settle_until(&m, "permits back", || Ok(blk.value()? == PERMITS)).await?;
        manager.shutdown()?;
        Ok(())
    })
}

/// Condition waits cut at random points (first poll, while the server waits, while the
/// reply is read), some woken by notifications: a cut wait leaves this owner without
/// the lock — `release` says it is not held, and the blocking side can take the lock;
/// a wait that completes holds it again.
#[test]
fn cancelled_condition_wait_gives_the_lock_up() -> R {
    each(|rt, manager| async move {
        let m = AsyncManager::new(&manager).await?;
        let blk = manager.condition()?;
        let cond = m.condition_at(blk.id());

        // Cut before and after the request went out, nobody notifying: `release`
        // right after is a RuntimeError (the lock was given up), and the lock is free
        // for another owner (async or blocking) at once.
        cond.acquire(None).await?;
        assert!(poll_and_drop(cond.wait()).is_none());
        let e = cond.release().await.expect_err("given up");
        assert_eq!(e.remote_kind(), Some(RemoteErrorKind::RuntimeError), "{rt}");
        let other = cond.clone_owner();
        assert!(other.acquire(Some(BOUND)).await?, "{rt}: the lock is free");
        other.release().await?;
        // Nested twice: a cut wait gives up both levels.
        cond.acquire(None).await?;
        cond.acquire(None).await?;
        assert!(
            tokio::time::timeout(Duration::from_millis(10), cond.wait())
                .await
                .is_err()
        );
        let e = cond.release().await.expect_err("given up");
        assert_eq!(e.remote_kind(), Some(RemoteErrorKind::RuntimeError), "{rt}");
        // The same proxy acquires again as a new owner: mutual exclusion holds even
        // though its cut waits are still on the server.
        assert!(cond.acquire(Some(BOUND)).await?, "{rt}: the lock is free");
        assert!(
            !blk.acquire(Some(Duration::ZERO))?,
            "{rt}: held by the async side"
        );
        cond.release().await?;
        assert!(blk.acquire(Some(BOUND))?, "the lock is free");
        // Wake the cut waits still on the server: each re-acquires (after the blocking
        // side lets go) and is released when its reply is read.
        blk.notify_all()?;
        blk.release()?;
        settle_until(&m, "first waits", || {
            let free = blk.acquire(Some(Duration::from_millis(20)))?;
            if free {
                blk.release()?;
            }
            Ok(free && !blk_locked(&blk)?)
        })
        .await?;

        // Random cuts, with the blocking side notifying now and then.
        let mut rng = Rng(0x2545_F491_4F6C_DD1D);
        let (mut done, mut cut) = (0, 0);
        for round in 0..40 {
            cond.acquire(None).await?;
            let wait = cond.wait_timeout(Duration::from_millis(rng.below(4)));
            let r = if round % 3 == 0 {
                poll_and_drop(wait)
            } else {
                tokio::time::timeout(Duration::from_micros(rng.below(3000)), wait)
                    .await
                    .ok()
            };
            match r {
                Some(r) => {
                    r?;
                    done += 1;
                    // Held again: the blocking side cannot take it.
                    assert!(
                        !blk.acquire(Some(Duration::ZERO))?,
                        "{rt}: not held after wait"
                    );
                    cond.release().await?;
                }
                None => cut += 1,
            }
            // Either way this owner holds nothing now: the blocking side gets the lock
            // (once the cut wait's reply, if any, was read and released).
            settle_until(&m, "a round", || {
                let got = blk.acquire(Some(Duration::from_millis(5)))?;
                if got {
                    if rng.below(2) == 0 {
                        blk.notify_all()?;
                    }
                    blk.release()?;
                }
                Ok(got)
            })
            .await?;
        }
        // Every wait ends within its timeout: once all replies were read, the lock is
        // free and stays free.
        // Each poll first lets 5 ms pass, longer than any cut wait's 3 ms timeout, so
        // "free" is seen after a cut wait's late reply was read and released, not in the
        // gap before it arrives.
        settle_until(&m, "the last waits", || {
            std::thread::sleep(Duration::from_millis(5));
            Ok(!blk_locked(&blk)?)
        })
        .await?;
        for _ in 0..5 {
            m.ping().await?;
        }
        assert!(
            !blk_locked(&blk)?,
            "{rt}: lock leaked after {cut} cut waits ({done} done)"
        );
        manager.shutdown()?;
        Ok(())
    })
}

/// Whether anyone holds a condition's lock, from the blocking side.
fn blk_locked(c: &multiproc_manager::ConditionProxy) -> Result<bool, Error> {
    if c.acquire(Some(Duration::ZERO))? {
        c.release()?;
        Ok(false)
    } else {
        Ok(true)
    }
}

/// A barrier wait cut after its request went out has arrived: the other party passes
/// at once, and the barrier is whole afterwards.
#[test]
fn cancelled_barrier_wait_counts_as_arrived() -> R {
    each(|_, manager| async move {
        let m = AsyncManager::new(&manager).await?;
        let b = m.barrier(2).await?;
        assert!(
            tokio::time::timeout(Duration::from_millis(20), b.wait())
                .await
                .is_err()
        );
        let mut turns = 0;
        while b.n_waiting().await? == 0 {
            turns += 1;
            assert!(turns < 4000, "the cut wait never arrived");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let idx = b.wait().await?;
        assert!(idx < 2);
        assert_eq!(b.info().await?, (2, 0, false));
        manager.shutdown()?;
        Ok(())
    })
}

/// The server killed while a semaphore acquire, a condition wait and a barrier wait
/// wait on it: each gets `ManagerGone`, none hangs.
#[test]
fn server_killed_while_sync_calls_wait() -> R {
    each(|_, manager| async move {
        let m = AsyncManager::new(&manager).await?;
        let sem = m.semaphore(0).await?;
        let cond = m.condition().await?;
        let b = m.barrier(2).await?;
        cond.acquire(None).await?;
        let acquiring = tokio::spawn({
            let sem = sem.clone();
            async move { sem.acquire(None).await }
        });
        let waiting = tokio::spawn({
            let cond = cond.clone();
            async move { cond.wait().await }
        });
        let barrier = tokio::spawn({
            let b = b.clone();
            async move { b.wait().await }
        });
        m.ping().await?;
        let pid = manager.pid().ok_or("no server pid")?;
        let pid = rustix::process::Pid::from_raw(pid as i32).ok_or("bad pid")?;
        rustix::process::kill_process(pid, rustix::process::Signal::KILL)?;
        assert!(matches!(
            acquiring.await?,
            Err(multiproc_manager::AcquireError::Failed(Error::ManagerGone(
                _
            )))
        ));
        assert!(matches!(waiting.await?, Err(Error::ManagerGone(_))));
        assert!(matches!(barrier.await?, Err(Error::ManagerGone(_))));
        assert!(matches!(sem.value().await, Err(Error::ManagerGone(_))));
        drop(manager);
        Ok(())
    })
}

/// A single task: its cut acquire is granted the lock while its next acquire waits for
/// it; reading that grant must send the release at once (the next acquire's reply can
/// only come after it), not with a later call that never comes.
#[test]
fn next_acquire_does_not_wait_behind_a_cut_one() -> R {
    each(|rt, manager| async move {
        let m = AsyncManager::new(&manager).await?;
        let held = manager.lock()?;
        held.acquire(None)?;
        let lock = m.lock_at(held.id());
        assert!(
            tokio::time::timeout(Duration::from_millis(20), lock.acquire(None))
                .await
                .is_err()
        );
        // Let go from another thread once the next acquire is on its way.
        let releaser = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            held.release()
        });
        assert!(
            tokio::time::timeout(Duration::from_secs(60), lock.acquire(None))
                .await
                .map_err(|_| format!("{rt}: the next acquire hung"))??
        );
        releaser.join().map_err(|_| "releaser panicked")??;
        lock.release().await?;
        manager.shutdown()?;
        Ok(())
    })
}
