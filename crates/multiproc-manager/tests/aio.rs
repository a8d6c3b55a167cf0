//! The async proxies (feature `tokio`) against a real manager server process under
//! every start method, on a current-thread and a multi-thread runtime: every kind
//! covered, concurrent calls multiplexed on one connection, and cancellation at every
//! await point of a call (queue items counted, locks not leaked).
#![cfg(feature = "tokio")]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll};
use std::time::Duration;

use multiproc_manager::aio::AsyncManager;
use multiproc_manager::{Error, Manager, RemoteErrorKind, StartMethod, Value};

mod support;
use support::BOUND;

type R = Result<(), Box<dyn std::error::Error + Send + Sync>>;

const METHODS: [StartMethod; 3] = [
    StartMethod::Fork,
    StartMethod::Spawn,
    StartMethod::ForkServer,
];

fn runtimes() -> std::io::Result<Vec<(&'static str, tokio::runtime::Runtime)>> {
    Ok(vec![
        (
            "current-thread",
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?,
        ),
        (
            "multi-thread",
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?,
        ),
    ])
}

/// Runs `body` against a manager started with each start method, on both runtimes.
fn each<F, Fut>(body: F) -> R
where
    F: Fn(&'static str, Manager) -> Fut,
    Fut: Future<Output = R>,
{
    for method in METHODS {
        for (rt_name, rt) in runtimes()? {
            let manager = Manager::start_with::<()>(Some(method))?;
            let pid = manager.pid().ok_or("no server pid")?;
            rt.block_on(async {
                tokio::time::timeout(BOUND, body(rt_name, manager))
                    .await
                    .map_err(|_| format!("{method}/{rt_name}: timed out"))?
                    .map_err(|e| format!("{method}/{rt_name}: {e}"))
            })?;
            assert!(support::reaped(pid), "{method}: server not reaped");
        }
    }
    Ok(())
}

/// Polls `fut` once and drops it: a cancellation at its first await point.
fn poll_once<F: Future>(fut: F) -> Option<F::Output> {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(std::task::Waker::noop());
    match fut.as_mut().poll(&mut cx) {
        Poll::Ready(v) => Some(v),
        Poll::Pending => None,
    }
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
            assert!(poll_once(q.get()).is_none());
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
            if let Some(r) = poll_once(q.get()) {
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
        assert!(poll_once(lock.acquire(None)).is_none());
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
        assert!(held.acquire(Some(BOUND))?);
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
