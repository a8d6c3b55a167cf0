//! The async forms of multiproc-sync and multiproc-queue (feature `tokio`, #16) beside
//! their blocking forms, in one run:
//!
//! - `queue/async_sleeping_get_rtt`: one small item to an echoing child and back, after
//!   a pause so that the other side sleeps; the parent's `get` blocking
//!   (`Queue::get`) and async (`AsyncQueue::get` on a current-thread runtime, woken
//!   through the futex bridge). Target of the issue: async ≤ 1.5× blocking.
//! - `sync/lock_handoff`: two contenders taking turns on one `Lock`, 2 threads with
//!   the blocking `lock()` and 2 tasks on a 2-thread runtime with `AsyncLock::lock()`.
//!
//! ```text
//! cargo bench -p multiproc-benches --bench aio_sync
//! ```
#![allow(missing_docs)]

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use multiproc_benches::{fork_child, reap};
use multiproc_queue::Queue;
use multiproc_sync::{Lock, OwnerDied};

/// Pause before a "receiver asleep" round trip (not timed).
const PAUSE: Duration = Duration::from_micros(300);

type Small = (u64, String);

fn sleeping_get(c: &mut Criterion) {
    let mut g = c.benchmark_group("queue/async_sleeping_get_rtt");
    g.sample_size(20).measurement_time(Duration::from_secs(3));
    let a: Queue<Option<Small>> = Queue::new().expect("queue");
    let bq: Queue<Small> = Queue::new().expect("queue");
    let (ca, cb) = (a.clone(), bq.clone());
    let pid = fork_child(&[], move || {
        while let Ok(Some(x)) = ca.get() {
            cb.put(x).expect("put");
        }
    });
    let mut i = 0u64;
    g.bench_function("ours: Queue::get (blocking)", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                std::thread::sleep(PAUSE);
                i += 1;
                let start = Instant::now();
                a.put(Some((i, String::from("x")))).expect("put");
                std::hint::black_box(bq.get().expect("get"));
                total += start.elapsed();
            }
            total
        })
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let abq = bq.clone().into_async();
    g.bench_function("ours: AsyncQueue::get", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    std::thread::sleep(PAUSE);
                    i += 1;
                    let start = Instant::now();
                    a.put(Some((i, String::from("x")))).expect("put");
                    std::hint::black_box(abq.get().await.expect("get"));
                    total += start.elapsed();
                }
                total
            })
        })
    });
    a.put(None).expect("put");
    reap(pid);
    g.finish();
}

fn lock_handoff(c: &mut Criterion) {
    let mut g = c.benchmark_group("sync/lock_handoff");
    g.sample_size(20).measurement_time(Duration::from_secs(3));
    let lock = Lock::new().expect("lock");
    g.bench_function("ours: Lock::lock, 2 threads", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            std::thread::scope(|s| {
                for _ in 0..2 {
                    s.spawn(|| {
                        for _ in 0..iters.div_ceil(2) {
                            drop(lock.lock().unwrap_or_else(OwnerDied::into_inner));
                        }
                    });
                }
            });
            start.elapsed()
        })
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime");
    let alock = lock.clone().into_async();
    g.bench_function("ours: AsyncLock::lock, 2 tasks", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                let tasks: Vec<_> = (0..2)
                    .map(|_| {
                        let l = alock.clone();
                        tokio::spawn(async move {
                            for _ in 0..iters.div_ceil(2) {
                                drop(l.lock().await.unwrap_or_else(OwnerDied::into_inner));
                            }
                        })
                    })
                    .collect();
                for t in tasks {
                    t.await.expect("task");
                }
                start.elapsed()
            })
        })
    });
    g.finish();
}

fn all(c: &mut Criterion) {
    sleeping_get(c);
    lock_handoff(c);
}

criterion_group!(benches, all);
criterion_main!(benches);
