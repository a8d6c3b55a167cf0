//! The async pool (feature `tokio`): `AsyncResult` as a future (owned and borrowed),
//! `AsyncIMap` as a stream, cancellation at every await point, a worker killed while a
//! task awaits, Fork inside a runtime refused — under every start method for the
//! workers, on the current-thread and the multi-thread runtime.
#![cfg(feature = "tokio")]

use std::collections::HashMap;
use std::future::{Future, IntoFuture};
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use futures_core::Stream;
use multiproc_ipc::{Connection, Pipe};
use multiproc_pool::{Death, Error, Pool};
use multiproc_process::{StartError, StartMethod};
use multiproc_test_support::aio::{Drivers, block_on_bounded, runtimes};
use multiproc_test_support::{BOUND, METHODS, TestResult, poll_in_task};

fn sqr(x: u64) -> u64 {
    x * x
}

fn nap(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

fn report_then_block(c: Connection) -> u8 {
    let _ = c.send(&std::process::id());
    let _ = c.recv::<u8>();
    0
}

/// A pool built outside any runtime (so Fork is allowed), then `f` on each runtime.
fn each<F, Fut>(workers: usize, f: F) -> TestResult
where
    F: Fn(Arc<Pool>) -> Fut,
    Fut: Future<Output = TestResult>,
{
    for m in METHODS {
        let pool = Arc::new(Pool::builder().processes(workers).start_method(m).build()?);
        for (flavor, rt) in runtimes(Drivers::All)? {
            block_on_bounded(&rt, format_args!("{flavor} {m:?}"), f(pool.clone()))?;
        }
        pool.close();
        pool.join()?;
    }
    Ok(())
}

#[test]
fn a_thousand_concurrent_awaits_get_every_result_exactly_once() -> TestResult {
    const N: u64 = 1000;
    each(2, |pool| async move {
        let tasks: Vec<_> = (0..N)
            .map(|i| {
                let pool = pool.clone();
                tokio::spawn(async move { (i, pool.apply_async(sqr, (i,)).await) })
            })
            .collect();
        let mut seen = HashMap::new();
        for t in tasks {
            let (i, v) = t.await?;
            assert!(seen.insert(i, v?).is_none(), "{i} twice");
        }
        assert_eq!(seen.len(), N as usize);
        assert!(seen.iter().all(|(i, v)| *v == i * i));
        Ok(())
    })
}

#[test]
fn map_async_and_the_imap_streams() -> TestResult {
    each(2, |pool| async move {
        assert_eq!(
            pool.map_async(sqr, 0..50).await?,
            (0..50).map(sqr).collect::<Vec<_>>()
        );
        assert_eq!(
            pool.starmap_async(sqr, (0..5).map(|x| (x,))).await?,
            [0, 1, 4, 9, 16]
        );
        let mut s = pool.imap(sqr, 0..200).into_async();
        let mut got = Vec::new();
        while let Some(v) = s.next().await {
            got.push(v?);
        }
        assert_eq!(got, (0..200).map(sqr).collect::<Vec<_>>());
        // through the Stream trait, unordered
        let mut s = pin!(pool.imap_unordered(sqr, 0..200).into_async());
        let mut got = Vec::new();
        while let Some(v) = std::future::poll_fn(|cx| s.as_mut().poll_next(cx)).await {
            got.push(v?);
        }
        got.sort_unstable();
        assert_eq!(got, (0..200).map(sqr).collect::<Vec<_>>());
        Ok(())
    })
}

#[test]
fn a_worker_killed_while_a_task_awaits_is_worker_died() -> TestResult {
    each(2, |pool| async move {
        let (mine, theirs) = Pipe::duplex()?;
        let victim = {
            let r = pool.apply_async(report_then_block, (theirs,));
            tokio::spawn(r.into_future())
        };
        // (`mine` comes back: its drop would let the task return)
        let (pid, _mine): (u32, _) =
            tokio::task::spawn_blocking(move || mine.recv_timeout(BOUND).map(|pid| (pid, mine)))
                .await??;
        let raw = rustix::process::Pid::from_raw(pid as i32).ok_or("bad pid")?;
        rustix::process::kill_process(raw, rustix::process::Signal::KILL)?;
        match victim.await? {
            Err(e @ Error::WorkerDied { .. }) => {
                assert!(
                    matches!(e, Error::WorkerDied { pid: p2, cause: Death::Signal(9) } if p2 == pid),
                    "{e:?}"
                );
                assert!(e.to_string().ends_with(": killed by SIGKILL"), "{e}");
            }
            other => return Err(format!("expected WorkerDied, got {other:?}").into()),
        }
        // the pool carries on
        assert_eq!(pool.apply_async(sqr, (4,)).await?, 16);
        Ok(())
    })
}

#[test]
fn dropping_futures_midway_loses_nothing_and_hangs_nothing() -> TestResult {
    const N: u64 = 200;
    each(2, |pool| async move {
        // Owned: dropped after one poll. The calls go on; the pool still serves.
        for i in 0..N {
            let _ = poll_in_task(pool.apply_async(nap, (i % 3,)).into_future()).await;
        }
        // Borrowed: dropped at every await point (one poll each) until done; every
        // value arrives exactly once.
        let results: Vec<_> = (0..N).map(|i| pool.apply_async(sqr, (i,))).collect();
        let mut got = vec![None; N as usize];
        let mut left = N;
        while left > 0 {
            for (i, r) in results.iter().enumerate() {
                if got[i].is_some() {
                    continue;
                }
                if let Poll::Ready(v) = poll_in_task(r.into_future()).await {
                    got[i] = Some(v?);
                    left -= 1;
                }
            }
            tokio::task::yield_now().await;
        }
        assert!(
            got.iter()
                .enumerate()
                .all(|(i, v)| *v == Some(sqr(i as u64)))
        );
        // given up by a timeout, then awaited again
        let r = pool.apply_async(nap, (200,));
        assert!(
            tokio::time::timeout(Duration::from_millis(1), &r)
                .await
                .is_err()
        );
        assert_eq!((&r).await?, 200);
        assert!(matches!((&r).await, Err(Error::AlreadyTaken)));
        assert!(matches!(r.get(), Err(Error::AlreadyTaken)));

        // The stream: `next` futures dropped after one poll, items counted.
        let mut s = pool.imap_unordered(sqr, 0..N).into_async();
        let mut items = Vec::new();
        loop {
            match poll_in_task(s.next()).await {
                Poll::Ready(Some(v)) => items.push(v?),
                Poll::Ready(None) => break,
                Poll::Pending => tokio::task::yield_now().await,
            }
        }
        items.sort_unstable();
        assert_eq!(items, (0..N).map(sqr).collect::<Vec<_>>());
        // A stream dropped mid-way cancels the rest; nothing hangs.
        let mut s = pool.imap(nap, std::iter::repeat_n(1, 1000)).into_async();
        assert_eq!(s.next().await.ok_or("an item")??, 1);
        drop(s);
        assert_eq!(pool.apply_async(sqr, (3,)).await?, 9);
        Ok(())
    })
}

#[test]
fn fork_pool_inside_a_multi_thread_runtime_is_refused() -> TestResult {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let e = Pool::builder()
            .processes(1)
            .start_method(StartMethod::Fork)
            .build()
            .expect_err("fork inside a multi-thread runtime");
        match &e {
            Error::Start(s) => assert!(matches!(**s, StartError::ForkInRuntime), "{s:?}"),
            other => return Err(format!("{other:?}").into()),
        }
        let chain = std::error::Error::source(&e)
            .map(ToString::to_string)
            .unwrap_or_default();
        assert!(
            chain.contains("Spawn") && chain.contains("ForkServer"),
            "{chain}"
        );
        for m in [StartMethod::Spawn, StartMethod::ForkServer] {
            let pool = tokio::task::spawn_blocking(move || {
                Pool::builder().processes(1).start_method(m).build()
            })
            .await??;
            assert_eq!(pool.apply_async(sqr, (5,)).await?, 25);
            pool.close();
            tokio::task::spawn_blocking(move || pool.join()).await??;
        }
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    // A current-thread runtime: Fork works.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let pool = Pool::builder()
            .processes(1)
            .start_method(StartMethod::Fork)
            .build()?;
        assert_eq!(pool.apply_async(sqr, (6,)).await?, 36);
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    Ok(())
}
