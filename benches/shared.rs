//! multiproc-shared: `Value` increment under its lock, and a bulk write of 10M `f64`
//! into a `RawArray`.
//!
//! Side by side in one run: ours, the raw floor written here (a bare CAS lock around a
//! plain increment; `memcpy` into a plain buffer), and CPython 3.11
//! (benches/py/sync.py: `with v.get_lock(): v.value += 1`, memoryview slice copy).
//!
//! ```text
//! cargo bench -p multiproc-benches --bench shared
//! ```
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use multiproc_benches::{parse_figures, record, reset, run_python};
use multiproc_shared::{RawArray, Value};
use multiproc_sync::OwnerDied;

const AREA: &str = "shared";
const BIG: usize = 10_000_000;

fn value(c: &mut Criterion, py: &[(String, f64)]) {
    let v = Value::new(0u64).expect("value");
    let lock = AtomicU32::new(0);
    let mut plain = 0u64;
    let mut g = c.benchmark_group("shared/value_locked_increment");
    g.sample_size(20).measurement_time(Duration::from_secs(2));
    g.bench_function("floor: bare CAS lock + increment", |b| {
        b.iter(|| {
            while lock
                .compare_exchange_weak(0, 1, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
            {}
            plain = black_box(plain) + 1;
            lock.store(0, Ordering::Release);
        })
    });
    g.bench_function("ours: Value::update", |b| b.iter(|| v.update(|x| x + 1)));
    g.bench_function("ours: Value::lock guard get+set", |b| {
        b.iter(|| {
            let guard = v.lock().unwrap_or_else(OwnerDied::into_inner);
            guard.set(guard.get() + 1);
        })
    });
    g.finish();
    if let Some((_, x)) = py.iter().find(|(n, _)| n == "value_locked_increment") {
        println!("shared/value_locked_increment/cpython: {x:.1} ns");
        record(
            AREA,
            "shared/value_locked_increment",
            "cpython: with get_lock(): value += 1",
            *x,
            "benches/py/sync.py",
        );
    }
}

fn bulk(c: &mut Criterion, py: &[(String, f64)]) {
    let src = vec![1.5f64; BIG];
    let arr = RawArray::<f64>::zeroed(BIG).expect("array");
    let mut dst = vec![0.0f64; BIG];
    let mut g = c.benchmark_group("shared/rawarray_write_10M_f64");
    g.sample_size(10).measurement_time(Duration::from_secs(4));
    g.throughput(Throughput::Bytes((BIG * 8) as u64));
    g.bench_function("floor: memcpy into a Vec", |b| {
        b.iter(|| dst.copy_from_slice(black_box(&src)))
    });
    g.bench_function("ours: RawArray::copy_from_slice", |b| {
        b.iter(|| arr.copy_from_slice(black_box(&src)).expect("same length"))
    });
    g.finish();
    assert_eq!(arr.get(BIG - 1), Some(1.5));
    if let Some((_, x)) = py.iter().find(|(n, _)| n == "rawarray_10M_f64_write") {
        println!("shared/rawarray_write_10M_f64/cpython: {:.2} ms", x / 1e6);
        record(
            AREA,
            "shared/rawarray_write_10M_f64",
            "cpython: memoryview slice copy",
            *x,
            "benches/py/sync.py",
        );
    }
}

fn all(c: &mut Criterion) {
    reset(AREA);
    let py = run_python("sync.py", &["shared"])
        .map(|s| parse_figures(&s))
        .unwrap_or_default();
    value(c, &py);
    bulk(c, &py);
}

criterion_group!(benches, all);
criterion_main!(benches);
