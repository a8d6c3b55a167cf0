//! Async process and pool (issue #16, feature `tokio`):
//!
//! * `pool.apply_async(..).await` from 1,000 concurrent tasks on a multi-thread runtime
//!   beside the blocking `map` of the same 1,000 items with chunksize 1 (target:
//!   throughput ≥ 0.8× the blocking map), and between them a floor: the same 1,000
//!   tasks woken by a plain thread that squares their numbers (tokio's own cost);
//! * a child's exit awaited: our `AsyncProcess::join` (Spawn, a re-exec of this binary;
//!   Fork from a current-thread runtime) beside tokio's own
//!   `tokio::process::Child::wait` on a re-exec of this same binary, and our blocking
//!   `join` — each is start + wait of a child that exits at once.

#![allow(missing_docs)] // criterion_group! generates an undocumented fn

use std::sync::Arc;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use multiproc_pool::Pool;
use multiproc_process::{Process, StartMethod};

/// Set in the tokio baseline's re-exec: the child returns from `main` at once.
const RAW_EXEC: &str = "MULTIPROC_BENCH_RAW_EXEC";
const TASKS: u64 = 1000;

fn square(x: u64) -> u64 {
    x.wrapping_mul(x)
}

fn noop() {}

fn bench_pool(c: &mut Criterion) {
    let pool = Arc::new(
        Pool::builder()
            .processes(2)
            .start_method(StartMethod::Fork)
            .build()
            .expect("pool"),
    );
    pool.map(square, 0..1000u64).expect("warm-up");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let expect: u64 = (0..TASKS).map(square).fold(0, u64::wrapping_add);

    let mut g = c.benchmark_group("aio/pool_1000_tasks_x*x");
    g.throughput(Throughput::Elements(TASKS))
        .sample_size(20)
        .measurement_time(Duration::from_secs(5));
    g.bench_function(
        BenchmarkId::from_parameter("ours apply_async(..).await, 1,000 concurrent tasks"),
        |b| {
            b.iter(|| {
                let total = rt.block_on(async {
                    let tasks: Vec<_> = (0..TASKS)
                        .map(|i| {
                            let pool = pool.clone();
                            tokio::spawn(async move { pool.apply_async(square, (i,)).await })
                        })
                        .collect();
                    let mut total = 0u64;
                    for t in tasks {
                        total = total.wrapping_add(t.await.expect("task").expect("result"));
                    }
                    total
                });
                assert_eq!(total, expect);
            })
        },
    );
    // The floor: the same 1,000 tasks on the same runtime, each handing its argument to
    // one plain thread (as a supervisor is) and woken by it with the square, in batches
    // (as `deliver_batch` does) — no pool, no process, no encoding. What tokio's spawn,
    // cross-thread wake-up and join cost at this scale, beside the pool's own share.
    {
        use std::sync::Mutex;
        use std::task::{Poll, Waker};
        type Slot = Arc<Mutex<(Option<u64>, Option<Waker>)>>;
        let (tx, rx) = std::sync::mpsc::channel::<(u64, Slot)>();
        std::thread::spawn(move || {
            let mut wakers = Vec::new();
            while let Ok(first) = rx.recv() {
                for (x, slot) in std::iter::once(first).chain(rx.try_iter()) {
                    let mut g = slot.lock().expect("slot");
                    g.0 = Some(square(x));
                    if let Some(w) = g.1.take() {
                        wakers.push(w);
                    }
                }
                for w in wakers.drain(..) {
                    w.wake();
                }
            }
        });
        let tx = Mutex::new(tx);
        g.bench_function(
            BenchmarkId::from_parameter("floor: tokio tasks woken by a thread"),
            |b| {
                b.iter(|| {
                    let tx = tx.lock().expect("sender").clone();
                    let total = rt.block_on(async {
                        let tasks: Vec<_> = (0..TASKS)
                            .map(|i| {
                                let tx = tx.clone();
                                tokio::spawn(async move {
                                    let slot: Slot = Arc::new(Mutex::new((None, None)));
                                    tx.send((i, slot.clone())).expect("send");
                                    std::future::poll_fn(|cx| {
                                        let mut g = slot.lock().expect("slot");
                                        match g.0.take() {
                                            Some(v) => Poll::Ready(v),
                                            None => {
                                                g.1 = Some(cx.waker().clone());
                                                Poll::Pending
                                            }
                                        }
                                    })
                                    .await
                                })
                            })
                            .collect();
                        let mut total = 0u64;
                        for t in tasks {
                            total = total.wrapping_add(t.await.expect("task"));
                        }
                        total
                    });
                    assert_eq!(total, expect);
                })
            },
        );
    }
    g.bench_function(
        BenchmarkId::from_parameter("ours blocking map, chunksize 1"),
        |b| {
            b.iter(|| {
                let v = pool.map_chunked(square, 0..TASKS, 1).expect("map");
                assert_eq!(v.into_iter().fold(0, u64::wrapping_add), expect);
            })
        },
    );
    g.finish();
}

fn bench_join(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut g = c.benchmark_group("aio/start_and_await_exit");
    g.sample_size(20).measurement_time(Duration::from_secs(5));
    g.bench_function(
        BenchmarkId::from_parameter("tokio::process Child::wait (re-exec of this binary)"),
        |b| {
            b.iter(|| {
                rt.block_on(async {
                    let st = tokio::process::Command::new("/proc/self/exe")
                        .env(RAW_EXEC, "1")
                        .spawn()
                        .expect("spawn")
                        .wait()
                        .await
                        .expect("wait");
                    assert!(st.success());
                })
            })
        },
    );
    for m in [StartMethod::Spawn, StartMethod::Fork] {
        g.bench_function(
            BenchmarkId::from_parameter(format!("ours {m:?} + async join")),
            |b| {
                b.iter(|| {
                    rt.block_on(async {
                        let p = Process::new(noop, ())
                            .start_method(m)
                            .start()
                            .expect("start")
                            .into_async();
                        p.join().await.expect("join");
                        assert_eq!(p.exitcode(), Some(0));
                    })
                })
            },
        );
        g.bench_function(
            BenchmarkId::from_parameter(format!("ours {m:?} + blocking join")),
            |b| {
                b.iter(|| {
                    let p = Process::new(noop, ())
                        .start_method(m)
                        .start()
                        .expect("start");
                    p.join().expect("join");
                    assert_eq!(p.exitcode(), Some(0));
                })
            },
        );
    }
    g.finish();
}

fn benches(c: &mut Criterion) {
    bench_join(c);
    bench_pool(c);
}

criterion_group!(aio_benches, benches);

fn main() {
    if std::env::var_os(RAW_EXEC).is_some() {
        return;
    }
    aio_benches();
    Criterion::default().configure_from_args().final_summary();
}
