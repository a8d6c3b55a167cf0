//! multiproc-sync: uncontended lock+unlock, two processes × 100k contended
//! lock/increment/unlock, and cross-process wake-up (Event and Semaphore ping-pong).
//!
//! Side by side in one run: ours, the raw floor written here (a bare CAS lock, a bare
//! futex mutex, a bare futex ping-pong, a spin-only ping-pong), and CPython 3.11
//! (benches/py/sync.py). Second processes are made with `fork` and reaped each time.
//!
//! ```text
//! cargo bench -p multiproc-benches --bench sync
//! ```
#![allow(missing_docs)]

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use multiproc_benches::{fork_child, parse_figures, reap, record, reset, run_python};
use multiproc_ipc::SharedSegment;
use multiproc_sync::{Event, Lock, OwnerDied, RLock, Semaphore};
use rustix::thread::futex;

const AREA: &str = "sync";

/// Shared scratch words for the floors and counters, inherited by forked children.
struct Words {
    seg: SharedSegment,
}

impl Words {
    fn new() -> Words {
        Words {
            seg: SharedSegment::new(4096).expect("segment"),
        }
    }
    fn u32(&self, i: usize) -> &AtomicU32 {
        assert!(i < 512);
        // SAFETY:
        // - page-aligned, zero-filled 4096-byte memfd mapping, index bounded above;
        // - every process (this one and forked children) touches it only atomically;
        // - the reference borrows `self`, which keeps the mapping alive.
        unsafe { &*self.seg.as_ptr().cast::<AtomicU32>().add(i) }
    }
    fn u64(&self, i: usize) -> &AtomicU64 {
        assert!(i < 256);
        // SAFETY: as in `u32`, 8-byte aligned because the base is page-aligned.
        unsafe { &*self.seg.as_ptr().cast::<AtomicU64>().add(i) }
    }
}

// ---- raw floors

/// The bare CAS lock: spin until CAS 0→1, store 0.
fn cas_lock(w: &AtomicU32) {
    while w
        .compare_exchange_weak(0, 1, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        std::hint::spin_loop();
    }
}
fn cas_unlock(w: &AtomicU32) {
    w.store(0, Ordering::Release);
}

/// The bare futex mutex (Drepper's "mutex2"): 0 free, 1 locked, 2 locked+waiters.
fn futex_lock(w: &AtomicU32) {
    if w.compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed)
        .is_ok()
    {
        return;
    }
    let mut c = w.swap(2, Ordering::Acquire);
    while c != 0 {
        let _ = futex::wait(w, futex::Flags::empty(), 2, None);
        c = w.swap(2, Ordering::Acquire);
    }
}
fn futex_unlock(w: &AtomicU32) {
    if w.swap(0, Ordering::Release) == 2 {
        let _ = futex::wake(w, futex::Flags::empty(), 1);
    }
}

fn uncontended(c: &mut Criterion, py: &[(String, f64)]) {
    let words = Words::new();
    let lock = Lock::new().expect("lock");
    let rlock = RLock::new().expect("rlock");
    let mut g = c.benchmark_group("sync/uncontended_lock_unlock");
    g.sample_size(20).measurement_time(Duration::from_secs(2));
    g.bench_function("floor: bare CAS lock", |b| {
        b.iter(|| {
            cas_lock(words.u32(0));
            cas_unlock(words.u32(0));
        })
    });
    g.bench_function("floor: bare futex mutex", |b| {
        b.iter(|| {
            futex_lock(words.u32(1));
            futex_unlock(words.u32(1));
        })
    });
    g.bench_function("ours: Lock guard", |b| {
        b.iter(|| drop(lock.lock().unwrap_or_else(OwnerDied::into_inner)))
    });
    g.bench_function("ours: Lock acquire+release", |b| {
        b.iter(|| {
            let _ = lock.acquire(None);
            let _ = lock.release();
        })
    });
    g.bench_function("ours: RLock guard", |b| {
        b.iter(|| drop(rlock.lock().unwrap_or_else(OwnerDied::into_inner)))
    });
    g.finish();
    for (k, label) in [
        ("lock_acquire_release", "cpython: Lock acquire()+release()"),
        ("lock_with", "cpython: with Lock"),
        (
            "rlock_acquire_release",
            "cpython: RLock acquire()+release()",
        ),
    ] {
        if let Some((_, v)) = py.iter().find(|(n, _)| n == k) {
            println!("sync/uncontended_lock_unlock/{label}: {v:.1} ns");
            record(
                AREA,
                "sync/uncontended_lock_unlock",
                label,
                *v,
                "benches/py/sync.py",
            );
        }
    }
}

const PER: u64 = 100_000;

/// Two forked processes × PER lock/increment/unlock on a plain shared counter; the
/// clock runs from `go` to both done, as CPython's figure.
fn contended_run(words: &Words, kind: u8, lock: &Lock) -> Duration {
    let ready = Semaphore::new(0).expect("sem");
    let go = Event::new().expect("event");
    let done = Semaphore::new(0).expect("sem");
    words.u64(100).store(0, Ordering::Relaxed);
    let pids: Vec<_> = (0..2)
        .map(|_| {
            let (ready, go, done, lock) = (ready.clone(), go.clone(), done.clone(), lock.clone());
            let words = &*words;
            fork_child(&[], move || {
                let counter = words.u64(100);
                ready.release().expect("release");
                go.wait();
                let inc = || counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
                if kind == 0 {
                    for _ in 0..PER {
                        futex_lock(words.u32(2));
                        inc();
                        futex_unlock(words.u32(2));
                    }
                } else {
                    for _ in 0..PER {
                        let _g = lock.lock().unwrap_or_else(OwnerDied::into_inner);
                        inc();
                    }
                }
                done.release().expect("release");
            })
        })
        .collect();
    ready.permit().forget();
    ready.permit().forget();
    let t0 = Instant::now();
    go.set();
    done.permit().forget();
    done.permit().forget();
    let dt = t0.elapsed();
    for p in pids {
        reap(p);
    }
    assert_eq!(
        words.u64(100).load(Ordering::Relaxed),
        2 * PER,
        "lost increments"
    );
    dt
}

fn contended(c: &mut Criterion, py: &[(String, f64)]) {
    let words = Words::new();
    let lock = Lock::new().expect("lock");
    let mut g = c.benchmark_group("sync/contended_2x100k");
    g.sample_size(10).measurement_time(Duration::from_secs(4));
    for (kind, name) in [(0u8, "floor: bare futex mutex"), (1, "ours: Lock")] {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| (0..iters).map(|_| contended_run(&words, kind, &lock)).sum())
        });
    }
    g.finish();
    if let Some((_, v)) = py.iter().find(|(n, _)| n == "contended_2x100k") {
        println!("sync/contended_2x100k/cpython: Lock: {:.2} ms", v / 1e6);
        record(
            AREA,
            "sync/contended_2x100k",
            "cpython: Lock",
            *v,
            "benches/py/sync.py",
        );
    }
}

/// Round trips: the parent signals, the child answers; criterion's figure is the round
/// trip (two wake-ups).
fn wakeup(c: &mut Criterion, py: &[(String, f64)]) {
    let mut g = c.benchmark_group("sync/wakeup_pingpong_rtt");
    g.sample_size(20).measurement_time(Duration::from_secs(3));

    // Floor: spin-only ping-pong on a shared atomic (each side busy-waits).
    {
        let words = Words::new();
        let w = &words;
        let pid = fork_child(&[], move || {
            let mut expect = 1;
            loop {
                let v = w.u32(10).load(Ordering::Acquire);
                if v == u32::MAX {
                    break;
                }
                if v == expect {
                    w.u32(11).store(expect, Ordering::Release);
                    expect += 1;
                } else {
                    std::hint::spin_loop();
                }
            }
        });
        let mut n = 0u32;
        g.bench_function("floor: spin on shared atomic", |b| {
            b.iter(|| {
                n += 1;
                w.u32(10).store(n, Ordering::Release);
                while w.u32(11).load(Ordering::Acquire) != n {
                    std::hint::spin_loop();
                }
            })
        });
        w.u32(10).store(u32::MAX, Ordering::Release);
        reap(pid);
    }

    // Floor: bare futex ping-pong (sleep every time).
    {
        let words = Words::new();
        let w = &words;
        let pid = fork_child(&[], move || {
            let mut expect = 1;
            loop {
                let v = w.u32(20).load(Ordering::Acquire);
                if v == u32::MAX {
                    break;
                }
                if v == expect {
                    w.u32(21).store(expect, Ordering::Release);
                    let _ = futex::wake(w.u32(21), futex::Flags::empty(), 1);
                    expect += 1;
                } else {
                    let _ = futex::wait(w.u32(20), futex::Flags::empty(), v, None);
                }
            }
        });
        let mut n = 0u32;
        g.bench_function("floor: bare futex", |b| {
            b.iter(|| {
                n += 1;
                w.u32(20).store(n, Ordering::Release);
                let _ = futex::wake(w.u32(20), futex::Flags::empty(), 1);
                loop {
                    let v = w.u32(21).load(Ordering::Acquire);
                    if v == n {
                        break;
                    }
                    let _ = futex::wait(w.u32(21), futex::Flags::empty(), v, None);
                }
            })
        });
        w.u32(20).store(u32::MAX, Ordering::Release);
        let _ = futex::wake(w.u32(20), futex::Flags::empty(), 1);
        reap(pid);
    }

    // Ours: Event ping-pong (set / wait / clear), as CPython's script.
    {
        let (e1, e2, stop) = (
            Event::new().expect("e"),
            Event::new().expect("e"),
            Event::new().expect("e"),
        );
        let (c1, c2, cs) = (e1.clone(), e2.clone(), stop.clone());
        let pid = fork_child(&[], move || {
            loop {
                c1.wait();
                c1.clear();
                if cs.is_set() {
                    break;
                }
                c2.set();
            }
        });
        g.bench_function("ours: Event", |b| {
            b.iter(|| {
                e1.set();
                e2.wait();
                e2.clear();
            })
        });
        stop.set();
        e1.set();
        reap(pid);
    }

    // Ours: Semaphore ping-pong.
    {
        let (s1, s2) = (Semaphore::new(0).expect("s"), Semaphore::new(0).expect("s"));
        let stop = Event::new().expect("e");
        let (c1, c2, cs) = (s1.clone(), s2.clone(), stop.clone());
        let pid = fork_child(&[], move || {
            loop {
                c1.permit().forget();
                if cs.is_set() {
                    break;
                }
                let _ = c2.release();
            }
        });
        g.bench_function("ours: Semaphore", |b| {
            b.iter(|| {
                let _ = s1.release();
                s2.permit().forget();
            })
        });
        stop.set();
        let _ = s1.release();
        reap(pid);
    }
    g.finish();
    for (k, label) in [
        ("event_pingpong_rtt", "cpython: Event"),
        ("sem_pingpong_rtt", "cpython: Semaphore"),
    ] {
        if let Some((_, v)) = py.iter().find(|(n, _)| n == k) {
            println!("sync/wakeup_pingpong_rtt/{label}: {:.2} us", v / 1e3);
            record(
                AREA,
                "sync/wakeup_pingpong_rtt",
                label,
                *v,
                "benches/py/sync.py",
            );
        }
    }
}

fn all(c: &mut Criterion) {
    reset(AREA);
    let py = run_python("sync.py", &["sync"])
        .map(|s| parse_figures(&s))
        .unwrap_or_default();
    uncontended(c, &py);
    contended(c, &py);
    wakeup(c, &py);
}

criterion_group!(benches, all);
criterion_main!(benches);
