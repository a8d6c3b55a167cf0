//! The async processes (feature `tokio`): `AsyncProcess::join`/`join_value` on the
//! pidfd, `Exits`, `aio::wait`, and the Fork-inside-a-runtime rule — under every start
//! method, on the current-thread and the multi-thread runtime.
#![cfg(feature = "tokio")]

use std::future::Future;
use std::pin::pin;
use std::task::Poll;
use std::time::{Duration, Instant};

use futures_core::Stream;
use multiproc_process::aio::{AsyncProcess, Exits};
use multiproc_process::{Process, ProcessError, StartError, StartMethod, WaitError};
use multiproc_test_support::aio::{Drivers, block_on_bounded, runtimes};
use multiproc_test_support::{BOUND, METHODS, TestResult, poll_in_task, poll_noop};

fn square(x: i64) -> i64 {
    x * x
}

fn nap(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

fn sleep_long() -> u8 {
    std::thread::sleep(Duration::from_secs(300));
    0
}

fn big(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

fn raises() -> u8 {
    panic!("async boom")
}

fn quit(code: i32) -> u8 {
    std::process::exit(code)
}

/// Where Fork may be used: not from inside a multi-thread runtime.
fn methods_for(flavor: &str) -> Vec<StartMethod> {
    METHODS
        .into_iter()
        .filter(|m| flavor == "current-thread" || *m != StartMethod::Fork)
        .collect()
}

/// Runs `f` on each runtime with every start method allowed there, bounded.
fn each<F, Fut>(f: F) -> TestResult
where
    F: Fn(StartMethod) -> Fut,
    Fut: Future<Output = TestResult>,
{
    for (flavor, rt) in runtimes(Drivers::All)? {
        for m in methods_for(flavor) {
            block_on_bounded(&rt, format_args!("{flavor} {m:?}"), f(m))?;
        }
    }
    Ok(())
}

fn start<R>(
    b: multiproc_process::ProcessBuilder<R>,
    m: StartMethod,
) -> Result<AsyncProcess<R>, StartError>
where
    R: serde::Serialize + serde::de::DeserializeOwned + Send + 'static,
{
    Ok(b.start_method(m).start()?.into_async())
}

#[test]
fn join_and_join_value_match_the_blocking_results() -> TestResult {
    each(|m| async move {
        let p = start(Process::new(square, (7,)), m)?;
        p.join().await?;
        assert_eq!(p.exitcode(), Some(0));
        p.join().await?; // again: at once
        assert_eq!(p.join_value().await?, 49);

        let p = start(Process::new(raises, ()), m)?;
        match p.join_value().await {
            Err(ProcessError::Panicked {
                message, exitcode, ..
            }) => {
                assert_eq!(message, "async boom");
                assert_eq!(exitcode, 1);
            }
            other => return Err(format!("{other:?}").into()),
        }

        let p = start(Process::new(quit, (3,)), m)?;
        assert!(matches!(p.join_value().await, Err(ProcessError::Exited(3))));
        Ok(())
    })
}

#[test]
fn a_large_result_is_read_while_waiting() -> TestResult {
    // Far more than a socket buffer: the child's send blocks until the parent reads,
    // so a join that did not read the result socket would never see the exit.
    const N: usize = 8 << 20;
    each(|m| async move {
        let p = start(Process::new(big, (N,)), m)?;
        let v = p.join_value().await?;
        assert_eq!(v.len(), N);
        assert!(v.iter().enumerate().all(|(i, b)| *b == (i % 251) as u8));
        Ok(())
    })
}

#[test]
fn a_child_killed_while_awaited_is_a_typed_error_naming_the_signal() -> TestResult {
    each(|m| async move {
        let p = std::sync::Arc::new(start(Process::new(sleep_long, ()), m)?);
        let waiter = {
            let p = p.clone();
            tokio::spawn(async move { p.join().await })
        };
        tokio::task::yield_now().await;
        p.kill()?;
        waiter.await??;
        assert_eq!(p.exitcode(), Some(-9));
        let p = std::sync::Arc::try_unwrap(p).map_err(|_| "the handle is still shared")?;
        let e = p.join_value().await.expect_err("it was killed");
        assert!(matches!(e, ProcessError::Killed(9)), "{e:?}");
        assert_eq!(e.to_string(), "process was killed by SIGKILL");
        Ok(())
    })
}

#[test]
fn many_children_awaited_at_once() -> TestResult {
    const N: u64 = 24;
    each(|m| async move {
        let procs = (0..N)
            .map(|i| start(Process::new(nap, (i % 5,)), m))
            .collect::<Result<Vec<_>, _>>()?;
        // as tasks …
        let procs: Vec<_> = procs.into_iter().map(std::sync::Arc::new).collect();
        let tasks: Vec<_> = procs
            .iter()
            .map(|p| {
                let p = p.clone();
                tokio::spawn(async move { p.join().await })
            })
            .collect();
        for t in tasks {
            t.await??;
        }
        for (i, p) in procs.into_iter().enumerate() {
            let p = std::sync::Arc::try_unwrap(p).map_err(|_| "shared")?;
            assert_eq!(p.join_value().await?, i as u64 % 5);
        }
        // … and as a stream of exits
        let procs = (0..N)
            .map(|i| start(Process::new(nap, (i % 7,)), m))
            .collect::<Result<Vec<_>, _>>()?;
        let mut exits = pin!(Exits::new(&procs));
        let mut seen = vec![false; N as usize];
        while let Some((i, r)) = std::future::poll_fn(|cx| exits.as_mut().poll_next(cx)).await {
            r?;
            assert!(!std::mem::replace(&mut seen[i], true), "index {i} twice");
            assert!(procs[i].exitcode().is_some());
        }
        assert!(seen.iter().all(|s| *s));
        for (i, p) in procs.into_iter().enumerate() {
            assert_eq!(p.join_value().await?, i as u64 % 7);
        }
        Ok(())
    })
}

#[test]
fn dropping_join_futures_at_every_point_loses_nothing() -> TestResult {
    const N: usize = 4 << 20;
    each(|m| async move {
        let p = start(Process::new(big, (N,)), m)?;
        let deadline = Instant::now() + BOUND;
        let mut dropped = 0u32;
        // A fresh future each turn, polled once and dropped: progress (result bytes
        // read, exit reaped) must accumulate in the handle, not in the futures.
        loop {
            match poll_in_task(p.join()).await {
                Poll::Ready(r) => break r?,
                Poll::Pending => dropped += 1,
            }
            assert!(Instant::now() < deadline, "no progress");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert!(
            dropped > 0,
            "the first poll cannot see the exit of a child writing 4 MiB"
        );
        // dropped as well: a timed-out wait
        assert!(
            tokio::time::timeout(Duration::ZERO, p.join())
                .await
                .is_ok_and(|r| r.is_ok())
        );
        // the blocking form still gets the result
        let v = p.into_inner().join_value()?;
        assert_eq!(v.len(), N);
        assert!(v.iter().enumerate().all(|(i, b)| *b == (i % 251) as u8));

        // A join given up by a timeout, then a blocking join_value.
        let p = start(Process::new(nap, (200,)), m)?;
        assert!(
            tokio::time::timeout(Duration::from_millis(1), p.join())
                .await
                .is_err()
        );
        assert_eq!(p.into_inner().join_value()?, 200);
        Ok(())
    })
}

#[test]
fn wait_on_sentinels() -> TestResult {
    each(|m| async move {
        let slow = start(Process::new(sleep_long, ()), m)?;
        let fast = start(Process::new(square, (3,)), m)?;
        let ready = multiproc_process::aio::wait(&[slow.sentinel(), fast.sentinel()]).await?;
        assert_eq!(ready, [1]);
        assert!(slow.is_alive());
        assert_eq!(fast.join_value().await?, 9);
        slow.terminate()?;
        let ready = multiproc_process::aio::wait(&[&slow]).await?;
        assert_eq!(ready, [0]);
        assert!(matches!(
            slow.join_value().await,
            Err(ProcessError::Killed(15))
        ));
        let none: [&AsyncProcess<u8>; 0] = [];
        assert!(multiproc_process::aio::wait(&none).await?.is_empty());
        Ok(())
    })
}

#[test]
fn fork_inside_a_multi_thread_runtime_is_refused_naming_the_others() -> TestResult {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let e = Process::new(square, (2,))
            .start_method(StartMethod::Fork)
            .start()
            .expect_err("fork inside a multi-thread runtime");
        assert!(matches!(e, StartError::ForkInRuntime), "{e:?}");
        let msg = e.to_string();
        assert!(msg.contains("Spawn") && msg.contains("ForkServer"), "{msg}");
        // a closure too (it can only be forked)
        let e = Process::from_closure(|| 1u8)
            .start_method(StartMethod::Fork)
            .start()
            .expect_err("fork inside a multi-thread runtime");
        assert!(matches!(e, StartError::ForkInRuntime));
        // Spawn and ForkServer work from here, in a task too
        for m in [StartMethod::Spawn, StartMethod::ForkServer] {
            let got = tokio::spawn(async move {
                let p = Process::new(square, (5,))
                    .start_method(m)
                    .start()?
                    .into_async();
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(p.join_value().await?)
            })
            .await?
            .map_err(|e| e.to_string())?;
            assert_eq!(got, 25);
        }
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    // From the runtime's own worker thread, as well: still refused.
    let e = rt.block_on(async {
        tokio::spawn(async {
            Process::new(square, (2,))
                .start_method(StartMethod::Fork)
                .start()
                .map(|p| p.join_value().ok())
        })
        .await
    })?;
    assert!(matches!(e, Err(StartError::ForkInRuntime)));
    // Outside the runtime (its threads do exist) Fork is not refused: the rule reaches
    // only what `Handle::try_current` can see.
    let p = Process::new(square, (4,))
        .start_method(StartMethod::Fork)
        .start()?;
    assert_eq!(p.join_value()?, 16);
    drop(rt);
    // A current-thread runtime has no worker threads: Fork works there.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let v = rt.block_on(async {
        let p = Process::new(square, (6,))
            .start_method(StartMethod::Fork)
            .start()?
            .into_async();
        Ok::<_, Box<dyn std::error::Error>>(p.join_value().await?)
    })?;
    assert_eq!(v, 36);
    Ok(())
}

#[test]
fn outside_a_runtime_the_wait_is_a_typed_error() -> TestResult {
    let p = Process::new(square, (3,))
        .start_method(StartMethod::Spawn)
        .start()?
        .into_async();
    match poll_noop(&mut pin!(p.join())) {
        Poll::Ready(Err(WaitError::NoRuntime)) => {}
        other => return Err(format!("{other:?}").into()),
    }
    // nothing lost: the blocking join still works
    assert_eq!(p.into_inner().join_value()?, 9);
    Ok(())
}

#[test]
fn dropping_the_exits_stream_midway_loses_nothing() -> TestResult {
    const N: u64 = 6;
    each(|m| async move {
        let procs = (0..N)
            .map(|i| start(Process::new(nap, (i * 20,)), m))
            .collect::<Result<Vec<_>, _>>()?;
        {
            let mut exits = pin!(Exits::new(&procs));
            for _ in 0..2 {
                let (_, r) = std::future::poll_fn(|cx| exits.as_mut().poll_next(cx))
                    .await
                    .ok_or("an exit")?;
                r?;
            }
            assert_eq!(exits.remaining(), N as usize - 2);
            // and a `next` dropped after one poll
            let _ = poll_in_task(std::future::poll_fn(|cx| exits.as_mut().poll_next(cx))).await;
        }
        let mut values = Vec::new();
        for p in procs {
            values.push(p.join_value().await?);
        }
        assert_eq!(values, (0..N).map(|i| i * 20).collect::<Vec<_>>());
        Ok(())
    })
}
