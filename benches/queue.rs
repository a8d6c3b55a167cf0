//! multiproc-queue: items/s from process to process (1→1, 4→1, 1→4) and the latency of
//! one item across an idle queue (put→get wake-up, as a ping-pong round trip).
//!
//! Side by side in one run: ours, crossbeam-channel between two threads (the in-process
//! ceiling), a bare futex ping-pong written here (the wake-up floor), and CPython 3.11's
//! `Queue`/`SimpleQueue` (benches/py/queue_bench.py). Items are small: a u64 and a short
//! String. Children are made with `fork` before the clock starts, driven through a
//! control queue, and reaped at the end. `queue/1to1_bytes_*` moves 1 KiB, 64 KiB and
//! 1 MiB strings 1→1 beside crossbeam-channel and two `memcpy` floors, in cache and
//! from/to fresh buffers (issue 15); `bulk_medians` prints the ratios from alternating
//! batches of the same run.
//!
//! ```text
//! cargo bench -p multiproc-benches --bench queue
//! ```
#![allow(missing_docs)]

use std::borrow::Cow;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use multiproc_benches::{fork_child, parse_figures, reap, record, reset, run_python};
use multiproc_ipc::SharedSegment;
use multiproc_queue::Queue;
use rustix::thread::futex;

const AREA: &str = "queue";
/// Pause before a "receiver asleep" round trip (not timed).
const PAUSE: Duration = Duration::from_micros(300);

type Small = (u64, String);

fn small(i: u64) -> Small {
    (i, format!("item-{i}"))
}

fn py_figure(py: &[(String, f64)], group: &str, key: &str, label: &str) {
    if let Some((_, v)) = py.iter().find(|(n, _)| n == key) {
        if group.ends_with("rtt") {
            println!("{group}/{label}: {:.2} us", v / 1e3);
        } else {
            println!("{group}/{label}: {:.0} items/s", 1e9 / v);
        }
        record(AREA, group, label, *v, "benches/py/queue_bench.py");
    }
}

/// Measures `producers` forked children sending items through `tx` (inherited by
/// fork; the parent's copy is dropped) to this process, which takes them with `recv`:
/// each child waits for a count on a control queue, then sends that many items.
fn process_producers<S: Clone>(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    label: &str,
    producers: u64,
    tx: S,
    send: fn(&S, Small),
    mut recv: impl FnMut() -> Small,
) {
    let ctrl: Queue<u64> = Queue::new().expect("queue");
    let pids: Vec<_> = (0..producers)
        .map(|_| {
            let (ctrl, tx) = (ctrl.clone(), tx.clone());
            fork_child(&[], move || {
                while let Ok(n) = ctrl.get() {
                    if n == 0 {
                        break;
                    }
                    for i in 0..n {
                        send(&tx, small(i));
                    }
                }
            })
        })
        .collect();
    drop(tx);
    g.bench_function(label, |b| {
        b.iter_custom(|iters| {
            let per = iters.div_ceil(producers);
            let start = Instant::now();
            for _ in 0..producers {
                ctrl.put(per).expect("put");
            }
            for _ in 0..per * producers {
                std::hint::black_box(recv());
            }
            start
                .elapsed()
                .mul_f64(iters as f64 / (per * producers) as f64)
        })
    });
    for _ in &pids {
        ctrl.put(0).expect("put");
    }
    for pid in pids {
        reap(pid);
    }
}

/// Producers → one consumer (this process): each producer child waits for a count on
/// `ctrl`, then puts that many items.
fn n_to_1(c: &mut Criterion, py: &[(String, f64)], producers: u64) {
    let group = format!("queue/{producers}to1");
    let mut g = c.benchmark_group(&group);
    g.sample_size(10)
        .measurement_time(Duration::from_secs(4))
        .throughput(Throughput::Elements(1));
    let data: Queue<Small> = Queue::new().expect("queue");
    process_producers(
        &mut g,
        "ours: Queue (processes)",
        producers,
        data.clone(),
        |q, x| q.put(x).expect("put"),
        || data.get().expect("get"),
    );
    {
        // crossbeam-channel between threads, same shape.
        let (ctx, crx) = crossbeam_channel::unbounded::<u64>();
        let (dtx, drx) = crossbeam_channel::bounded::<Small>(4096);
        let threads: Vec<_> = (0..producers)
            .map(|_| {
                let (crx, dtx) = (crx.clone(), dtx.clone());
                std::thread::spawn(move || {
                    while let Ok(n) = crx.recv() {
                        if n == 0 {
                            break;
                        }
                        for i in 0..n {
                            dtx.send(small(i)).expect("send");
                        }
                    }
                })
            })
            .collect();
        g.bench_function("peer: crossbeam-channel (threads)", |b| {
            b.iter_custom(|iters| {
                let per = iters.div_ceil(producers);
                let start = Instant::now();
                for _ in 0..producers {
                    ctx.send(per).expect("send");
                }
                for _ in 0..per * producers {
                    std::hint::black_box(drx.recv().expect("recv"));
                }
                start
                    .elapsed()
                    .mul_f64(iters as f64 / (per * producers) as f64)
            })
        });
        for _ in &threads {
            ctx.send(0).expect("send");
        }
        for t in threads {
            t.join().expect("thread");
        }
    }
    // ipc-channel (postcard over SOCK_SEQPACKET) between processes, same shape.
    let (tx, rx) = ipc_channel::ipc::channel::<Small>().expect("ipc-channel");
    process_producers(
        &mut g,
        "peer: ipc-channel (processes)",
        producers,
        tx,
        |t, x| t.send(x).expect("send"),
        || rx.recv().expect("recv"),
    );
    g.finish();
    let key = format!("queue_{producers}to1");
    py_figure(py, &group, &key, "cpython: Queue");
    if producers == 1 {
        py_figure(py, &group, "simplequeue_1to1", "cpython: SimpleQueue");
    }
}

/// This process → four consumer children. A batch ends with one marker per consumer;
/// each consumer answers a marker on `done`.
fn one_to_4(c: &mut Criterion, py: &[(String, f64)]) {
    const CONSUMERS: usize = 4;
    let group = "queue/1to4";
    let mut g = c.benchmark_group(group);
    g.sample_size(10)
        .measurement_time(Duration::from_secs(4))
        .throughput(Throughput::Elements(1));
    // 0 = item, 1 = end of batch, 2 = stop
    let data: Queue<(u8, Small)> = Queue::new().expect("queue");
    let done: Queue<u8> = Queue::new().expect("queue");
    let pids: Vec<_> = (0..CONSUMERS)
        .map(|_| {
            let (data, done) = (data.clone(), done.clone());
            fork_child(&[], move || {
                while let Ok((kind, item)) = data.get() {
                    match kind {
                        0 => {
                            std::hint::black_box(item);
                        }
                        1 => done.put(1).expect("put"),
                        _ => break,
                    }
                }
            })
        })
        .collect();
    g.bench_function("ours: Queue (processes)", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for i in 0..iters {
                data.put((0, small(i))).expect("put");
            }
            for _ in 0..CONSUMERS {
                data.put((1, small(0))).expect("put");
            }
            for _ in 0..CONSUMERS {
                done.get().expect("get");
            }
            start.elapsed()
        })
    });
    for _ in 0..CONSUMERS {
        data.put((2, small(0))).expect("put");
    }
    for pid in pids {
        reap(pid);
    }
    g.finish();
    py_figure(py, group, "queue_1to4", "cpython: Queue");
}

/// Latency of one item across an idle queue: a ping-pong through two queues (two
/// put→get wake-ups per round trip), against a bare futex ping-pong between the same
/// two processes.
fn latency(c: &mut Criterion, py: &[(String, f64)]) {
    let group = "queue/idle_pingpong_rtt";
    let mut g = c.benchmark_group(group);
    g.sample_size(20).measurement_time(Duration::from_secs(3));

    // Floor: bare futex ping-pong (sleep every time).
    {
        let seg = SharedSegment::new(4096).expect("segment");
        let word = |i: usize| -> &AtomicU32 {
            assert!(i < 1024);
            // SAFETY:
            // - page-aligned, zero-filled 4096-byte memfd mapping, index bounded above;
            // - both processes touch it only atomically;
            // - `seg` outlives every use (the child inherits the mapping).
            unsafe { &*seg.as_ptr().cast::<AtomicU32>().add(i) }
        };
        let pid = fork_child(&[], || {
            let mut expect = 1;
            loop {
                let v = word(0).load(Ordering::Acquire);
                if v == u32::MAX {
                    break;
                }
                if v == expect {
                    word(1).store(expect, Ordering::Release);
                    let _ = futex::wake(word(1), futex::Flags::empty(), 1);
                    expect += 1;
                } else {
                    let _ = futex::wait(word(0), futex::Flags::empty(), v, None);
                }
            }
        });
        let mut n = 0u32;
        let mut ping = || {
            n += 1;
            word(0).store(n, Ordering::Release);
            let _ = futex::wake(word(0), futex::Flags::empty(), 1);
            loop {
                let v = word(1).load(Ordering::Acquire);
                if v == n {
                    break;
                }
                let _ = futex::wait(word(1), futex::Flags::empty(), v, None);
            }
        };
        g.bench_function("floor: bare futex", |b| b.iter(&mut ping));
        g.bench_function("floor: bare futex, receiver asleep", |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    std::thread::sleep(PAUSE);
                    let start = Instant::now();
                    ping();
                    total += start.elapsed();
                }
                total
            })
        });
        word(0).store(u32::MAX, Ordering::Release);
        let _ = futex::wake(word(0), futex::Flags::empty(), 1);
        reap(pid);
    }

    // Ours: put → get → put back → get.
    {
        let a: Queue<Option<Small>> = Queue::new().expect("queue");
        let bq: Queue<Small> = Queue::new().expect("queue");
        let (ca, cb) = (a.clone(), bq.clone());
        let pid = fork_child(&[], move || {
            while let Ok(Some(x)) = ca.get() {
                cb.put(x).expect("put");
            }
        });
        let mut i = 0u64;
        g.bench_function("ours: Queue", |b| {
            b.iter(|| {
                i += 1;
                a.put(Some((i, String::from("x")))).expect("put");
                std::hint::black_box(bq.get().expect("get"));
            })
        });
        // The same after a pause, so that the other side has stopped spinning and sleeps
        // in the futex: the put has to wake it (only the round trip is timed).
        g.bench_function("ours: Queue, receiver asleep", |b| {
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
        a.put(None).expect("put");
        reap(pid);
    }
    g.finish();
    py_figure(py, group, "queue_pingpong_rtt", "cpython: Queue");
}

/// The "receiver asleep" round trips of `latency` once more, outside criterion: the
/// floor and ours alternate sample by sample (so load drifts hit both alike) and the
/// medians are printed. On a shared machine the median of 2000 single round trips is
/// steadier than criterion's mean per sample.
fn paused_medians() {
    const SAMPLES: usize = 2000;
    let seg = SharedSegment::new(4096).expect("segment");
    let word = |i: usize| -> &AtomicU32 {
        assert!(i < 1024);
        // SAFETY:
        // - page-aligned, zero-filled 4096-byte memfd mapping, index bounded above;
        // - both processes touch it only atomically;
        // - `seg` outlives every use (the child inherits the mapping).
        unsafe { &*seg.as_ptr().cast::<AtomicU32>().add(i) }
    };
    let floor_pid = fork_child(&[], || {
        let mut expect = 1;
        loop {
            let v = word(0).load(Ordering::Acquire);
            if v == u32::MAX {
                break;
            }
            if v == expect {
                word(1).store(expect, Ordering::Release);
                let _ = futex::wake(word(1), futex::Flags::empty(), 1);
                expect += 1;
            } else {
                let _ = futex::wait(word(0), futex::Flags::empty(), v, None);
            }
        }
    });
    let a: Queue<Option<Small>> = Queue::new().expect("queue");
    let bq: Queue<Small> = Queue::new().expect("queue");
    let (ca, cb) = (a.clone(), bq.clone());
    let queue_pid = fork_child(&[], move || {
        while let Ok(Some(x)) = ca.get() {
            cb.put(x).expect("put");
        }
    });
    let (mut floor, mut ours) = (Vec::new(), Vec::new());
    for n in 1..=SAMPLES as u32 {
        std::thread::sleep(PAUSE);
        let start = Instant::now();
        word(0).store(n, Ordering::Release);
        let _ = futex::wake(word(0), futex::Flags::empty(), 1);
        loop {
            let v = word(1).load(Ordering::Acquire);
            if v == n {
                break;
            }
            let _ = futex::wait(word(1), futex::Flags::empty(), v, None);
        }
        floor.push(start.elapsed());
        std::thread::sleep(PAUSE);
        let start = Instant::now();
        a.put(Some((u64::from(n), String::from("x")))).expect("put");
        std::hint::black_box(bq.get().expect("get"));
        ours.push(start.elapsed());
    }
    word(0).store(u32::MAX, Ordering::Release);
    let _ = futex::wake(word(0), futex::Flags::empty(), 1);
    a.put(None).expect("put");
    reap(floor_pid);
    reap(queue_pid);
    floor.sort_unstable();
    ours.sort_unstable();
    let (f, o) = (floor[SAMPLES / 2], ours[SAMPLES / 2]);
    println!(
        "queue/idle_pingpong_rtt/median of {SAMPLES} alternating paused round trips: \
         floor {:.1} us, ours {:.1} us ({:.2}x)",
        f.as_secs_f64() * 1e6,
        o.as_secs_f64() * 1e6,
        o.as_secs_f64() / f.as_secs_f64()
    );
}

/// The three throughput shapes of `n_to_1`/`one_to_4` once more, outside criterion:
/// batches of 1→1, 4→1 and 1→4 alternate (so load drifts hit all three alike) and the
/// median time per item of each is printed with the ratios to 1→1.
fn throughput_medians() {
    const ROUNDS: usize = 30;
    // More than the 1 MiB ring holds (~24 bytes an item): producers also wait for room.
    const BATCH: u64 = 100_000;
    // n → 1: producer children, this process consumes.
    let spawn_producers = |n: u64, data: &Queue<Small>, ctrl: &Queue<u64>| -> Vec<libc::pid_t> {
        (0..n)
            .map(|_| {
                let (ctrl, tx) = (ctrl.clone(), data.clone());
                fork_child(&[], move || {
                    while let Ok(k) = ctrl.get() {
                        if k == 0 {
                            break;
                        }
                        for i in 0..k {
                            tx.put(small(i)).expect("put");
                        }
                    }
                })
            })
            .collect()
    };
    let (data1, ctrl1): (Queue<Small>, Queue<u64>) =
        (Queue::new().expect("q"), Queue::new().expect("q"));
    let (data4, ctrl4): (Queue<Small>, Queue<u64>) =
        (Queue::new().expect("q"), Queue::new().expect("q"));
    let mut pids = spawn_producers(1, &data1, &ctrl1);
    pids.extend(spawn_producers(4, &data4, &ctrl4));
    // 1 → 4: this process produces, four consumer children (0 = item, 1 = end of
    // batch, 2 = stop), each answering the end of a batch on `done`.
    let fan: Queue<(u8, Small)> = Queue::new().expect("q");
    let done: Queue<u8> = Queue::new().expect("q");
    for _ in 0..4 {
        let (fan, done) = (fan.clone(), done.clone());
        pids.push(fork_child(&[], move || {
            while let Ok((kind, item)) = fan.get() {
                match kind {
                    0 => {
                        std::hint::black_box(item);
                    }
                    1 => done.put(1).expect("put"),
                    _ => break,
                }
            }
        }));
    }
    let n_to_1 = |n: u64, data: &Queue<Small>, ctrl: &Queue<u64>| {
        let per = BATCH / n;
        let start = Instant::now();
        for _ in 0..n {
            ctrl.put(per).expect("put");
        }
        for _ in 0..per * n {
            std::hint::black_box(data.get().expect("get"));
        }
        start.elapsed().as_secs_f64() * 1e9 / (per * n) as f64
    };
    let (mut one, mut four_one, mut one_four) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        one.push(n_to_1(1, &data1, &ctrl1));
        four_one.push(n_to_1(4, &data4, &ctrl4));
        let start = Instant::now();
        for i in 0..BATCH {
            fan.put((0, small(i))).expect("put");
        }
        for _ in 0..4 {
            fan.put((1, small(0))).expect("put");
        }
        for _ in 0..4 {
            done.get().expect("get");
        }
        one_four.push(start.elapsed().as_secs_f64() * 1e9 / BATCH as f64);
    }
    ctrl1.put(0).expect("put");
    for _ in 0..4 {
        ctrl4.put(0).expect("put");
        fan.put((2, small(0))).expect("put");
    }
    for pid in pids {
        reap(pid);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (a, b, c) = (
        median(&mut one),
        median(&mut four_one),
        median(&mut one_four),
    );
    println!(
        "queue/throughput/median of {ROUNDS} alternating batches of {BATCH} items: \
         1to1 {a:.0} ns/item, 4to1 {b:.0} ns/item ({:.2}x the 1to1 throughput), \
         1to4 {c:.0} ns/item ({:.2}x)",
        a / b,
        a / c
    );
}

/// The sizes of the bulk rows.
const BULK_SIZES: [usize; 3] = [1 << 10, 64 << 10, 1 << 20];
/// Bytes the "fresh buffers" floor rotates over, for source and destination each:
/// far more than a core's L2 (2 MiB on the reference VM), so neither side of a copy is
/// in the copying core's private caches (the shared L3 may still hold them).
const FRESH_SPAN: usize = 64 << 20;

/// A producer child for the bulk rows: waits for a count on `ctrl`, then puts that
/// many items made by `make`.
fn bulk_producer<T: serde::Serialize + 'static>(
    data: &Queue<T>,
    ctrl: &Queue<u64>,
    make: impl Fn() -> T + 'static,
) -> libc::pid_t {
    let (ctrl, tx) = (ctrl.clone(), data.clone());
    fork_child(&[], move || {
        while let Ok(k) = ctrl.get() {
            if k == 0 {
                break;
            }
            for _ in 0..k {
                tx.put(make()).expect("put");
            }
        }
    })
}

/// `memcpy` of `size` bytes from and to places that move through [`FRESH_SPAN`] bytes
/// (pages faulted in beforehand): the copy a consumer makes out of memory another core
/// just wrote, rather than out of its own cache.
struct FreshCopy {
    src: Vec<u8>,
    dst: Vec<u8>,
    size: usize,
    at: usize,
}

impl FreshCopy {
    fn new(size: usize) -> FreshCopy {
        FreshCopy {
            src: vec![b'x'; FRESH_SPAN.max(2 * size)],
            dst: vec![1u8; FRESH_SPAN.max(2 * size)],
            size,
            at: 0,
        }
    }

    fn copy(&mut self) {
        if self.at + self.size > self.src.len() {
            self.at = 0;
        }
        let r = self.at..self.at + self.size;
        self.dst[r.clone()].copy_from_slice(std::hint::black_box(&self.src[r]));
        std::hint::black_box(&mut self.dst);
        self.at += self.size;
    }
}

/// 1→1 with payloads of 1 KiB, 64 KiB and 1 MiB (bytes/s): ours between processes —
/// `Queue<String>` whose producer clones the payload for each put (as
/// crossbeam-channel's must), and `Queue<Cow<str>>` whose producer puts a borrowed
/// `&'static str` (no copy before the put; the getter still receives an owned
/// `String`) — crossbeam-channel between threads, and three floors: one `memcpy` of
/// the payload into a reused buffer (in cache), the same between buffers rotating over
/// 64 MiB (fresh buffers), and a clone (the fresh `String` a `get` hands out: an
/// allocation and a copy). A queue across processes copies each byte at least into
/// shared memory and out again (two copies on two cores). Targets (issue 15): 1 KiB
/// ahead of crossbeam-channel; 64 KiB and 1 MiB at least 0.5× a memcpy floor in GB/s.
fn bulk_items(c: &mut Criterion) {
    for size in BULK_SIZES {
        let group = format!("queue/1to1_bytes_{}KiB", size >> 10);
        let mut g = c.benchmark_group(&group);
        g.sample_size(10)
            .measurement_time(Duration::from_secs(4))
            .throughput(Throughput::Bytes(size as u64));
        let payload = "x".repeat(size);
        {
            let data: Queue<String> = Queue::new().expect("queue");
            let ctrl: Queue<u64> = Queue::new().expect("queue");
            let pid = {
                let (ctrl, tx, payload) = (ctrl.clone(), data.clone(), payload.clone());
                fork_child(&[], move || {
                    while let Ok(k) = ctrl.get() {
                        if k == 0 {
                            break;
                        }
                        for _ in 0..k {
                            tx.put(payload.clone()).expect("put");
                        }
                    }
                })
            };
            g.bench_function("ours: Queue<String> (processes)", |b| {
                b.iter_custom(|iters| {
                    let start = Instant::now();
                    ctrl.put(iters).expect("put");
                    for _ in 0..iters {
                        std::hint::black_box(data.get().expect("get"));
                    }
                    start.elapsed()
                })
            });
            ctrl.put(0).expect("put");
            reap(pid);
        }
        {
            let data: Queue<Cow<'static, str>> = Queue::new().expect("queue");
            let ctrl: Queue<u64> = Queue::new().expect("queue");
            let borrowed: &'static str = payload.clone().leak();
            let pid = bulk_producer(&data, &ctrl, move || Cow::Borrowed(borrowed));
            g.bench_function(
                "ours: Queue<Cow<str>> (processes, no producer clone)",
                |b| {
                    b.iter_custom(|iters| {
                        let start = Instant::now();
                        ctrl.put(iters).expect("put");
                        for _ in 0..iters {
                            std::hint::black_box(data.get().expect("get"));
                        }
                        start.elapsed()
                    })
                },
            );
            ctrl.put(0).expect("put");
            reap(pid);
        }
        {
            let (ctx, crx) = crossbeam_channel::unbounded::<u64>();
            let (dtx, drx) = crossbeam_channel::bounded::<String>(64);
            let p = payload.clone();
            let t = std::thread::spawn(move || {
                while let Ok(n) = crx.recv() {
                    if n == 0 {
                        break;
                    }
                    for _ in 0..n {
                        dtx.send(p.clone()).expect("send");
                    }
                }
            });
            g.bench_function("peer: crossbeam-channel (threads)", |b| {
                b.iter_custom(|iters| {
                    let start = Instant::now();
                    ctx.send(iters).expect("send");
                    for _ in 0..iters {
                        std::hint::black_box(drx.recv().expect("recv"));
                    }
                    start.elapsed()
                })
            });
            ctx.send(0).expect("send");
            t.join().expect("thread");
        }
        let mut dst = vec![0u8; size];
        g.bench_function("floor: memcpy of the payload", |b| {
            b.iter(|| {
                dst.copy_from_slice(std::hint::black_box(payload.as_bytes()));
                std::hint::black_box(&mut dst);
            })
        });
        let mut fresh = FreshCopy::new(size);
        g.bench_function("floor: memcpy, fresh buffers", |b| b.iter(|| fresh.copy()));
        drop(fresh);
        // What a `get` returning an owned `String` cannot avoid: a fresh allocation
        // and one copy.
        g.bench_function("floor: clone of the payload (fresh String)", |b| {
            b.iter(|| std::hint::black_box(payload.clone()))
        });
        g.finish();
    }
}

/// The bulk rows once more, outside criterion: for each size, batches of ours
/// (`Queue<String>`, `Queue<Cow<str>>`) and of the two `memcpy` floors alternate (so
/// load drifts hit all alike); the median GB/s of each is printed with ours as a
/// fraction of each floor.
fn bulk_medians() {
    const ROUNDS: usize = 15;
    for size in BULK_SIZES {
        // About 32 MiB a batch, at least 32 items: the producer's wake-up at the start
        // of each batch (it sleeps on `ctrl` in between) stays a small part of it.
        let batch = ((32usize << 20) / size).max(32) as u64;
        let payload = "x".repeat(size);
        let borrowed: &'static str = payload.clone().leak();
        let (sq, sc): (Queue<String>, Queue<u64>) =
            (Queue::new().expect("q"), Queue::new().expect("q"));
        let (cq, cc): (Queue<Cow<'static, str>>, Queue<u64>) =
            (Queue::new().expect("q"), Queue::new().expect("q"));
        let p = payload.clone();
        let pids = [
            bulk_producer(&sq, &sc, move || p.clone()),
            bulk_producer(&cq, &cc, move || Cow::Borrowed(borrowed)),
        ];
        let mut dst = vec![0u8; size];
        let mut fresh = FreshCopy::new(size);
        let gbs = |ns: f64| size as f64 / ns;
        let mut times: [Vec<f64>; 4] = Default::default();
        for _ in 0..ROUNDS {
            let start = Instant::now();
            for _ in 0..batch {
                dst.copy_from_slice(std::hint::black_box(payload.as_bytes()));
                std::hint::black_box(&mut dst);
            }
            times[0].push(start.elapsed().as_secs_f64() * 1e9 / batch as f64);
            let start = Instant::now();
            for _ in 0..batch {
                fresh.copy();
            }
            times[1].push(start.elapsed().as_secs_f64() * 1e9 / batch as f64);
            let start = Instant::now();
            sc.put(batch).expect("put");
            for _ in 0..batch {
                std::hint::black_box(sq.get().expect("get"));
            }
            times[2].push(start.elapsed().as_secs_f64() * 1e9 / batch as f64);
            let start = Instant::now();
            cc.put(batch).expect("put");
            for _ in 0..batch {
                std::hint::black_box(cq.get().expect("get"));
            }
            times[3].push(start.elapsed().as_secs_f64() * 1e9 / batch as f64);
        }
        sc.put(0).expect("put");
        cc.put(0).expect("put");
        for pid in pids {
            reap(pid);
        }
        let [warm, cold, string, cow] = times.map(|mut v| {
            v.sort_by(f64::total_cmp);
            gbs(v[v.len() / 2])
        });
        println!(
            "queue/1to1_bytes_{}KiB/median of {ROUNDS} alternating batches of {batch}: \
             memcpy in cache {warm:.1} GB/s, memcpy fresh buffers {cold:.1} GB/s; \
             ours Queue<String> {string:.1} GB/s ({:.2}x in-cache, {:.2}x fresh), \
             ours Queue<Cow<str>> {cow:.1} GB/s ({:.2}x in-cache, {:.2}x fresh)",
            size >> 10,
            string / warm,
            string / cold,
            cow / warm,
            cow / cold
        );
    }
}

fn all(c: &mut Criterion) {
    reset(AREA);
    let py = run_python("queue_bench.py", &[])
        .map(|s| parse_figures(&s))
        .unwrap_or_default();
    n_to_1(c, &py, 1);
    n_to_1(c, &py, 4);
    one_to_4(c, &py);
    latency(c, &py);
    bulk_items(c);
    bulk_medians();
    paused_medians();
    throughput_medians();
}

criterion_group!(benches, all);
criterion_main!(benches);
