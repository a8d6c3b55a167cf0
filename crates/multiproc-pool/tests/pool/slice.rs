//! `Pool::map_slice`: plain-old-data mapped through shared memory, under every start
//! method. No CPython original (CPython pickles every element).

use std::sync::Mutex;

use multiproc_ipc::bytemuck;
use multiproc_pool::{Death, Error};

use super::{BOUND, METHODS, TestResult, pool};

/// The tests of this file run one at a time: the leak test counts the map segments
/// of this process, which the others create.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn square(x: u64) -> u64 {
    x.wrapping_mul(x)
}

fn affine(x: f64) -> f64 {
    x * 0.5 - 3.25
}

fn widen(x: u8) -> u64 {
    u64::from(x) * 1000 + 7
}

#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
#[bytemuck(crate = "multiproc_ipc::bytemuck")]
#[repr(C)]
struct Particle {
    pos: [f32; 3],
    id: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
#[bytemuck(crate = "multiproc_ipc::bytemuck")]
#[repr(C)]
struct Moved {
    id: u64,
    x: f64,
}

fn step(p: Particle) -> Moved {
    Moved {
        id: u64::from(p.id) << 1,
        x: f64::from(p.pos[0] + p.pos[1] * 2.0 - p.pos[2]),
    }
}

const SIZES: [usize; 7] = [0, 1, 2, 7, 9, 1001, 1 << 20];

#[test]
fn map_slice_equals_a_sequential_map() -> TestResult {
    let _g = serial();
    for m in METHODS {
        let p = pool(m, 2)?;
        for n in SIZES {
            let ints: Vec<u64> = (0..n as u64).map(|i| i.wrapping_mul(0x9e37_79b9)).collect();
            let got = p.map_slice_async(square, &ints).get_timeout(BOUND)?;
            assert_eq!(
                got,
                ints.iter().map(|&x| square(x)).collect::<Vec<_>>(),
                "{m:?} u64 n={n}"
            );

            let floats: Vec<f64> = (0..n).map(|i| i as f64 / 3.0).collect();
            let got = p.map_slice_async(affine, &floats).get_timeout(BOUND)?;
            assert_eq!(
                got,
                floats.iter().map(|&x| affine(x)).collect::<Vec<_>>(),
                "{m:?} f64 n={n}"
            );

            // Input and output of different sizes (the output region is aligned for
            // `u64` after an odd number of bytes).
            let bytes: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
            let got = p.map_slice_async(widen, &bytes).get_timeout(BOUND)?;
            assert_eq!(
                got,
                bytes.iter().map(|&x| widen(x)).collect::<Vec<_>>(),
                "{m:?} u8 n={n}"
            );

            let parts: Vec<Particle> = (0..n.min(50_000))
                .map(|i| Particle {
                    pos: [i as f32, 1.5, -(i as f32) / 7.0],
                    id: i as u32,
                })
                .collect();
            let got = p.map_slice_async(step, &parts).get_timeout(BOUND)?;
            assert_eq!(
                got,
                parts.iter().map(|&x| step(x)).collect::<Vec<_>>(),
                "{m:?} struct n={n}"
            );
        }
        // A non-capturing closure is a task too.
        let got = p.map_slice(|x: u32| x + 1, &[1u32, 2, 3])?;
        assert_eq!(got, [2, 3, 4]);
    }
    Ok(())
}

/// The element at which the faulty functions fail.
const BAD: u64 = 4321;

fn panic_at(x: u64) -> u64 {
    assert!(x != BAD, "bad element {x}");
    x
}

fn kill_at(x: u64) -> u64 {
    if x == BAD {
        let me = rustix::process::getpid();
        let _ = rustix::process::kill_process(me, rustix::process::Signal::KILL);
        std::thread::sleep(std::time::Duration::from_secs(60));
    }
    x
}

#[test]
fn a_panic_in_map_slice_is_a_typed_error_and_the_pool_carries_on() -> TestResult {
    let _g = serial();
    let data: Vec<u64> = (0..10_000).collect();
    for m in METHODS {
        let p = pool(m, 2)?;
        let pids = p.worker_pids();
        match p.map_slice_async(panic_at, &data).get_timeout(BOUND) {
            Err(Error::Panicked(tp)) => {
                assert!(tp.message().contains("bad element 4321"), "{m:?}: {tp:?}");
            }
            other => return Err(format!("{m:?}: expected a panic, got {other:?}").into()),
        }
        assert_eq!(
            p.worker_pids(),
            pids,
            "{m:?}: a panic does not kill the worker"
        );
        let got = p.map_slice_async(square, &data).get_timeout(BOUND)?;
        assert_eq!(got[9_999], 9_999 * 9_999);
    }
    Ok(())
}

#[test]
fn a_worker_killed_mid_map_slice_fails_the_call_and_the_pool_carries_on() -> TestResult {
    let _g = serial();
    let data: Vec<u64> = (0..10_000).collect();
    for m in METHODS {
        let p = pool(m, 2)?;
        match p.map_slice_async(kill_at, &data).get_timeout(BOUND) {
            Err(Error::WorkerDied {
                cause: Death::Signal(9),
                ..
            }) => {}
            other => {
                return Err(format!("{m:?}: expected WorkerDied by SIGKILL, got {other:?}").into());
            }
        }
        // The dead worker was replaced; the next calls are whole.
        for _ in 0..3 {
            let got = p.map_slice_async(square, &data).get_timeout(BOUND)?;
            assert_eq!(
                got,
                data.iter().map(|&x| x * x).collect::<Vec<_>>(),
                "{m:?}"
            );
        }
        p.close();
        assert!(p.join_timeout(BOUND)?, "{m:?}: workers exit");
    }
    Ok(())
}

#[test]
fn map_slice_after_close_is_refused() -> TestResult {
    let _g = serial();
    let p = pool(METHODS[1], 1)?;
    p.close();
    assert!(matches!(
        p.map_slice(square, &[1, 2, 3]),
        Err(Error::NotRunning)
    ));
    assert!(matches!(p.map_slice(square, &[]), Err(Error::NotRunning)));
    p.join_timeout(BOUND)?;
    Ok(())
}

/// The map segments (`memfd:multiproc-map-slice`) process `pid` holds: (open
/// descriptors, mappings).
fn segments_of(pid: u32) -> Result<(usize, usize), Box<dyn std::error::Error>> {
    const NAME: &str = "multiproc-map-slice";
    let mut fds = 0;
    for e in std::fs::read_dir(format!("/proc/{pid}/fd"))? {
        // An fd closed between the listing and the readlink is no segment.
        if let Ok(target) = std::fs::read_link(e?.path()) {
            fds += usize::from(target.to_string_lossy().contains(NAME));
        }
    }
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps"))?;
    Ok((fds, maps.lines().filter(|l| l.contains(NAME)).count()))
}

/// Polls until `pid` holds at most `max` map segments (descriptors and mappings; a
/// supervisor thread may still be dropping the last chunk's task when a call
/// returns); bounded. Returns the last count.
fn segments_settle(pid: u32, max: usize) -> Result<(usize, usize), Box<dyn std::error::Error>> {
    let deadline = std::time::Instant::now() + BOUND;
    loop {
        let (fds, maps) = segments_of(pid)?;
        if (fds <= max && maps <= max) || std::time::Instant::now() > deadline {
            return Ok((fds, maps));
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// Entries of `/dev/shm` that look like ours (a memfd has no name there, so none).
fn shm_entries() -> usize {
    std::fs::read_dir("/dev/shm").map_or(0, |d| {
        d.flatten()
            .filter(|e| e.file_name().to_string_lossy().contains("multiproc"))
            .count()
    })
}

/// A pool keeps at most 2 free segments, a worker at most 2 mappings.
const KEPT: usize = 2;

#[test]
fn a_thousand_map_slices_leave_no_descriptor_mapping_or_shm_file() -> TestResult {
    let _g = serial();
    let shm_before = shm_entries();
    let me = std::process::id();
    let sizes = [64u64, 100_000, 5, 3000, 64];
    for m in METHODS {
        let p = pool(m, 2)?;
        let pids = p.worker_pids();
        for i in 0..1000 {
            let n = sizes[i % sizes.len()];
            let data: Vec<u64> = (0..n).map(|x| x + i as u64).collect();
            let got = p.map_slice_async(square, &data).get_timeout(BOUND)?;
            let last = n - 1 + i as u64;
            assert_eq!(got.last().copied(), Some(last * last), "{m:?} call {i}");
        }
        // Bounded: the pool's free segments in the parent, the workers' mappings.
        let (fds, maps) = segments_settle(me, KEPT)?;
        assert!(
            fds <= KEPT && maps <= KEPT,
            "{m:?}: parent keeps {fds} fds, {maps} maps"
        );
        for pid in &pids {
            let (fds, maps) = segments_settle(*pid, KEPT)?;
            assert!(
                fds <= KEPT && maps <= KEPT,
                "{m:?}: worker {pid}: {fds} fds, {maps} maps"
            );
        }
        assert_eq!(p.worker_pids(), pids, "{m:?}: no worker was replaced");
        // Everything goes with the pool.
        drop(p);
        assert_eq!(
            segments_settle(me, 0)?,
            (0, 0),
            "{m:?}: the parent keeps no segment"
        );
    }
    assert!(
        shm_entries() <= shm_before,
        "nothing is created in /dev/shm"
    );
    Ok(())
}

fn triple(x: u32) -> u64 {
    u64::from(x) * 3
}

#[test]
fn concurrent_map_slices_on_one_pool_do_not_mix() -> TestResult {
    let _g = serial();
    for m in METHODS {
        let p = pool(m, 2)?;
        for round in 0..20u32 {
            let a: Vec<u64> = (0..50_000).map(|x| x + u64::from(round)).collect();
            let b: Vec<u32> = (0..30_000).map(|x| x * 2 + round).collect();
            let ra = p.map_slice_async(square, &a);
            let rb = p.map_slice_async(triple, &b);
            let rc = p.map_slice_async(square, &a[..777]);
            assert_eq!(
                rb.get_timeout(BOUND)?,
                b.iter().map(|&x| triple(x)).collect::<Vec<_>>()
            );
            assert_eq!(
                ra.get_timeout(BOUND)?,
                a.iter().map(|&x| x * x).collect::<Vec<_>>()
            );
            assert_eq!(
                rc.get_timeout(BOUND)?,
                a[..777].iter().map(|&x| x * x).collect::<Vec<_>>()
            );
        }
    }
    Ok(())
}

// The plain-data path of the default `map`: primitive numbers mapped to primitive
// numbers go through a shared segment like `map_slice`, with no encoding. These tests
// hold `serial()` too: the path creates map segments.

fn to_f64(x: i32) -> f64 {
    f64::from(x) * 0.25 - 1.0
}

fn fold128(x: u8) -> i128 {
    i128::from(x) * -(1 << 70)
}

fn halve(x: f32) -> u16 {
    (x / 2.0) as u16
}

/// A length that takes the plain path (the threshold is 4096 items).
const PLAIN_N: u64 = 10_000;

#[test]
fn the_default_map_of_plain_numbers_goes_through_a_shared_segment() -> TestResult {
    let _g = serial();
    let me = std::process::id();
    for m in METHODS {
        let p = pool(m, 2)?;
        assert_eq!(
            segments_of(me)?.0,
            0,
            "{m:?}: a fresh pool holds no segment"
        );
        // Not plain: encoded, no segment.
        let words: Vec<String> = (0..PLAIN_N).map(|i| i.to_string()).collect();
        let lens = p.map(|s: String| s.len(), words)?;
        assert_eq!(lens.len(), PLAIN_N as usize);
        assert_eq!(segments_of(me)?.0, 0, "{m:?}: strings are encoded");
        // Plain: the call's segment is kept by the pool afterwards.
        let got = p.map(square, 0..PLAIN_N)?;
        assert_eq!(got, (0..PLAIN_N).map(square).collect::<Vec<_>>());
        assert!(
            segments_settle(me, KEPT)?.0 >= 1,
            "{m:?}: the plain path keeps its segment"
        );
        drop(p);
        assert_eq!(segments_settle(me, 0)?, (0, 0), "{m:?}: and frees it");
    }
    Ok(())
}

#[test]
fn the_plain_path_equals_the_encoding_path_for_every_number_type() -> TestResult {
    let _g = serial();
    for m in METHODS {
        let p = pool(m, 2)?;
        for n in [4095usize, 4096, 4097, 9_999, 100_003] {
            let ints: Vec<i32> = (0..n as i32).map(|i| i.wrapping_mul(-7919)).collect();
            // `map_chunked` always encodes: it is the plain path's reference.
            let reference = p.map_chunked(to_f64, ints.clone(), 1000)?;
            assert_eq!(p.map(to_f64, ints.clone())?, reference, "{m:?} n={n}");
            let bytes: Vec<u8> = (0..n).map(|i| (i % 253) as u8).collect();
            let reference = p.map_chunked(fold128, bytes.clone(), 1000)?;
            assert_eq!(p.map(fold128, bytes)?, reference, "{m:?} n={n}");
            let floats: Vec<f32> = (0..n).map(|i| i as f32 * 1.5).collect();
            let got = p.map_async(halve, floats.clone()).get_timeout(BOUND)?;
            assert_eq!(got, p.map_chunked(halve, floats, 1000)?, "{m:?} n={n}");
        }
    }
    Ok(())
}

#[test]
fn a_panic_or_a_killed_worker_in_the_plain_path_is_the_encoding_paths_error() -> TestResult {
    let _g = serial();
    let data: Vec<u64> = (0..PLAIN_N).collect();
    for m in METHODS {
        let p = pool(m, 2)?;
        let pids = p.worker_pids();
        let plain = p.map_async(panic_at, data.clone()).get_timeout(BOUND);
        let encoded = p.map_chunked(panic_at, data.clone(), 100);
        match (plain, encoded) {
            (Err(Error::Panicked(a)), Err(Error::Panicked(b))) => {
                assert_eq!(a.message(), b.message(), "{m:?}");
                assert!(a.message().contains("bad element 4321"), "{m:?}: {a:?}");
            }
            other => return Err(format!("{m:?}: expected two panics, got {other:?}").into()),
        }
        assert_eq!(p.worker_pids(), pids, "{m:?}: a panic kills no worker");
        match p.map_async(kill_at, data.clone()).get_timeout(BOUND) {
            Err(Error::WorkerDied {
                cause: Death::Signal(9),
                ..
            }) => {}
            other => {
                return Err(format!("{m:?}: expected WorkerDied by SIGKILL, got {other:?}").into());
            }
        }
        for _ in 0..3 {
            let got = p.map_async(square, data.clone()).get_timeout(BOUND)?;
            assert_eq!(got, data.iter().map(|&x| square(x)).collect::<Vec<_>>());
        }
        p.close();
        assert!(p.join_timeout(BOUND)?, "{m:?}: workers exit");
    }
    Ok(())
}

mod plain_vs_encoded {
    use proptest::prelude::*;

    use super::{BOUND, METHODS, pool, serial};

    fn mix(x: u64) -> i64 {
        (x.rotate_left(13) ^ 0x5555) as i64 - 77
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

        /// Any data, any length around the threshold: the plain path gives what the
        /// encoding path gives, under every start method.
        #[test]
        fn same_results(data in proptest::collection::vec(any::<u64>(), 0..12_000)) {
            let _g = serial();
            for m in METHODS {
                let p = pool(m, 2).expect("pool");
                let plain = p.map_async(mix, data.clone()).get_timeout(BOUND).expect("plain");
                let encoded = p.map_chunked(mix, data.clone(), 997).expect("encoded");
                prop_assert_eq!(&plain, &encoded);
                prop_assert_eq!(plain, data.iter().map(|&x| mix(x)).collect::<Vec<_>>());
            }
        }
    }
}
