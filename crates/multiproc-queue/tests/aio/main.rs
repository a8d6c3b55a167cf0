//! The async queues (`--features tokio`): items counted exactly once through random
//! cancellations of get and put futures, many concurrent awaiters on one queue,
//! producers and consumers in other processes under every start method, a producer
//! killed while a getter awaits, and join. Every test runs on tokio's current-thread
//! and multi-thread runtimes.
#![cfg(feature = "tokio")]

use std::collections::HashSet;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use multiproc_process::Process;
use multiproc_queue::{GetError, JoinableQueue, Queue, SimpleQueue};
use multiproc_test_support::aio::{Drivers, join_bounded, runtimes};
use multiproc_test_support::{BOUND, METHODS, TestResult, eventually, poll_noop, xorshift};

fn produce(q: Queue<u64>, from: u64, n: u64) -> bool {
    (from..from + n).all(|i| q.put(i).is_ok())
}

// ---------------------------------------------------------------- get

#[test]
fn a_dropped_get_future_leaves_the_item_in_the_queue() -> TestResult {
    let q = Queue::<u64>::new()?.into_async();
    // Dropped before the first poll, and after a Pending.
    drop(q.get());
    let mut f = q.get();
    assert!(poll_noop(&mut f).is_pending());
    q.get_ref().put(1)?;
    drop(f);
    assert_eq!(q.try_get()?, 1);
    // Woken by the put, then dropped: the item stays.
    struct Flag(std::sync::atomic::AtomicBool);
    impl std::task::Wake for Flag {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }
    let woken = std::sync::Arc::new(Flag(std::sync::atomic::AtomicBool::new(false)));
    let waker = Waker::from(woken.clone());
    let mut f = q.get();
    assert!(
        std::pin::Pin::new(&mut f)
            .poll(&mut Context::from_waker(&waker))
            .is_pending()
    );
    q.get_ref().put(2)?;
    // Wait (bounded) until the bridge has woken the future, then drop it unpolled.
    assert!(
        eventually(|| woken.0.load(std::sync::atomic::Ordering::SeqCst)),
        "the put never woke the get"
    );
    drop(f);
    assert_eq!(q.try_get()?, 2);
    assert!(matches!(q.try_get(), Err(GetError::Empty)));
    Ok(())
}

#[test]
fn items_from_other_processes_reach_many_cancelled_getters_exactly_once() -> TestResult {
    const PER: u64 = 300;
    for (name, rt) in runtimes(Drivers::Time)? {
        for method in METHODS {
            let q = Queue::<u64>::with_maxsize(16)?.into_async();
            // Processes start outside the runtime's context.
            let ps = (0..2u64)
                .map(|k| {
                    Process::new(produce, (q.get_ref().clone(), k * PER, PER))
                        .start_method(method)
                        .start()
                })
                .collect::<Result<Vec<_>, _>>()?;
            let got = Arc::new(Mutex::new(Vec::new()));
            rt.block_on(async {
                let tasks: Vec<_> = (0..12u64)
                    .map(|t| {
                        let q = q.clone();
                        let got = got.clone();
                        tokio::spawn(async move {
                            let mut r = xorshift(t + 3);
                            loop {
                                let wait = Duration::from_micros(r() % 400);
                                match tokio::time::timeout(wait, q.get()).await {
                                    Ok(Ok(v)) => {
                                        let mut g = got.lock().expect("list");
                                        g.push(v);
                                        if g.len() as u64 >= 2 * PER {
                                            return;
                                        }
                                    }
                                    Ok(Err(e)) => panic!("get failed: {e:?}"),
                                    Err(_) => {
                                        // Cancelled: was everything received already?
                                        if got.lock().expect("list").len() as u64 >= 2 * PER {
                                            return;
                                        }
                                    }
                                }
                            }
                        })
                    })
                    .collect();
                for t in tasks {
                    join_bounded(t).await;
                }
            });
            for p in ps {
                assert!(p.join_value()?, "{name} {method:?}");
            }
            let got = got.lock().expect("list");
            let set: HashSet<u64> = got.iter().copied().collect();
            assert_eq!(
                got.len() as u64,
                2 * PER,
                "{name} {method:?}: duplicates or losses"
            );
            assert_eq!(set, (0..2 * PER).collect(), "{name} {method:?}");
            assert!(
                matches!(q.try_get(), Err(GetError::Empty)),
                "{name} {method:?}"
            );
        }
    }
    Ok(())
}

fn hold_until_gate(q: Queue<u64>, ready: Queue<u64>, gate: Queue<u64>) {
    let _keep = q;
    let _ = ready.put(1);
    let _ = gate.get();
}

#[test]
fn a_producer_killed_while_a_getter_awaits_gives_closed() -> TestResult {
    for (name, rt) in runtimes(Drivers::Time)? {
        for method in METHODS {
            let q = Queue::<u64>::new()?;
            let (ready, gate) = (Queue::<u64>::new()?, Queue::<u64>::new()?);
            let p = Process::new(hold_until_gate, (q.clone(), ready.clone(), gate.clone()))
                .start_method(method)
                .start()?;
            assert_eq!(ready.get_timeout(BOUND)?, 1);
            q.close();
            let q = q.into_async();
            rt.block_on(async {
                let getters: Vec<_> = (0..4)
                    .map(|_| {
                        let q = q.clone();
                        tokio::spawn(async move { tokio::time::timeout(BOUND, q.get()).await })
                    })
                    .collect();
                tokio::task::yield_now().await;
                p.kill().expect("kill");
                p.join().expect("reap");
                for g in getters {
                    let r = g.await.expect("task").expect("bounded");
                    assert!(
                        matches!(r, Err(GetError::Closed)),
                        "{name} {method:?}: {r:?}"
                    );
                }
            });
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- put

fn consume(q: Queue<u64>, out: Queue<Vec<u64>>) -> bool {
    let mut got = Vec::new();
    loop {
        match q.get_timeout(BOUND) {
            Ok(u64::MAX) => break,
            Ok(v) => got.push(v),
            Err(_) => return false,
        }
    }
    out.put(got).is_ok()
}

#[test]
fn cancelled_puts_never_duplicate_or_lose_an_item_with_a_consumer_process() -> TestResult {
    for (name, rt) in runtimes(Drivers::Time)? {
        for method in METHODS {
            let q = Queue::<u64>::with_maxsize(4)?.into_async();
            let out = Queue::<Vec<u64>>::new()?;
            let p = Process::new(consume, (q.get_ref().clone(), out.clone()))
                .start_method(method)
                .start()?;
            let put_ok = Arc::new(Mutex::new(Vec::new()));
            rt.block_on(async {
                let tasks: Vec<_> = (0..8u64)
                    .map(|t| {
                        let q = q.clone();
                        let put_ok = put_ok.clone();
                        tokio::spawn(async move {
                            let mut r = xorshift(t + 11);
                            for i in 0..100 {
                                let item = t * 1000 + i;
                                let wait = Duration::from_micros(r() % 300);
                                if let Ok(res) = tokio::time::timeout(wait, q.put(item)).await {
                                    res.expect("put");
                                    put_ok.lock().expect("list").push(item);
                                }
                            }
                        })
                    })
                    .collect();
                for t in tasks {
                    join_bounded(t).await;
                }
                tokio::time::timeout(BOUND, q.put(u64::MAX))
                    .await
                    .expect("bounded")
                    .expect("end mark");
            });
            assert!(p.join_value()?, "{name} {method:?}");
            let mut got = out.get_timeout(BOUND)?;
            let mut want = put_ok.lock().expect("list").clone();
            got.sort_unstable();
            want.sort_unstable();
            assert_eq!(
                got, want,
                "{name} {method:?}: the items put are exactly those received"
            );
        }
    }
    Ok(())
}

#[test]
fn a_dropped_put_future_puts_nothing() -> TestResult {
    let q = Queue::<u64>::with_maxsize(1)?.into_async();
    q.try_put(1)?;
    drop(q.put(2));
    let mut f = q.put(3);
    assert!(poll_noop(&mut f).is_pending());
    assert_eq!(q.try_get()?, 1); // room now; the pending future is then dropped
    drop(f);
    assert!(matches!(q.try_get(), Err(GetError::Empty)));
    // Completed put: exactly once.
    let mut f = q.put(4);
    assert!(matches!(poll_noop(&mut f), Poll::Ready(Ok(()))));
    drop(f);
    assert_eq!(q.try_get()?, 4);
    assert!(matches!(q.try_get(), Err(GetError::Empty)));
    Ok(())
}

// ---------------------------------------------------------------- SimpleQueue, JoinableQueue

#[test]
fn simple_queue_async_round_trip_between_tasks() -> TestResult {
    for (name, rt) in runtimes(Drivers::Time)? {
        let q = SimpleQueue::<u64>::new()?.into_async();
        rt.block_on(async {
            let consumer = tokio::spawn({
                let q = q.clone();
                async move {
                    let mut sum = 0;
                    for _ in 0..100 {
                        sum += tokio::time::timeout(BOUND, q.get())
                            .await
                            .expect("bounded")
                            .expect("get");
                    }
                    sum
                }
            });
            for i in 0..100 {
                q.put(i).await.expect("put");
            }
            assert_eq!(consumer.await.expect("task"), 4950, "{name}");
        });
    }
    Ok(())
}

fn work_off(q: JoinableQueue<u64>, n: u64) -> bool {
    (0..n).all(|_| q.get_timeout(BOUND).is_ok() && q.task_done().is_ok())
}

#[test]
fn join_resolves_when_another_process_marks_every_task_done() -> TestResult {
    for (name, rt) in runtimes(Drivers::Time)? {
        for method in METHODS {
            let q = JoinableQueue::<u64>::new()?.into_async();
            for i in 0..20 {
                q.get_ref().put(i)?;
            }
            let p = Process::new(work_off, (q.get_ref().clone(), 20u64))
                .start_method(method)
                .start()?;
            rt.block_on(async {
                // Cancelled joins take nothing from the one that completes.
                for _ in 0..3 {
                    let _ = tokio::time::timeout(Duration::from_micros(100), q.join()).await;
                }
                let joins: Vec<_> = (0..4)
                    .map(|_| {
                        let q = q.clone();
                        tokio::spawn(async move { tokio::time::timeout(BOUND, q.join()).await })
                    })
                    .collect();
                for j in joins {
                    j.await.expect("task").expect("bounded").expect("join");
                }
            });
            assert!(p.join_value()?, "{name} {method:?}");
            assert_eq!(q.get_ref().unfinished_tasks(), 0, "{name} {method:?}");
        }
    }
    Ok(())
}
