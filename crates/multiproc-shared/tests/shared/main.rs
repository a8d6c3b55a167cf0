//! Integration tests of multiproc-shared: CPython's _TestValue, _TestArray and
//! _TestSharedMemory scenarios, across forked processes, plus the leak tracker after a
//! SIGKILL.

mod ports;
mod start_methods;
// The cross-process helpers are multiproc-sync's own (one copy, not two).
#[path = "../../../multiproc-sync/tests/sync/util.rs"]
mod util;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::time::Duration;

use multiproc_shared::{
    Array, IndexError, Item, ListError, Pod, RawArray, RawValue, ShareableList, SharedMemory,
    ShmError, Value,
};
use multiproc_sync::OwnerDied;
use util::{TestResult, fork, wait_until};

/// A user record: derives `bytemuck`'s traits through the crate's re-export, no
/// `unsafe impl`.
#[derive(Clone, Copy, Debug, PartialEq, Pod, multiproc_shared::Zeroable)]
#[bytemuck(crate = "multiproc_shared::bytemuck")]
#[repr(C)]
struct Point {
    x: f64,
    y: i64,
}

// ---------------------------------------------------------------- Value

// CPython: _TestValue.test_value (codes i, d, h, c modified by a child)
#[test]
fn values_modified_by_a_child() -> TestResult {
    let i = Value::new(25i32)?;
    let d = Value::new(1.0f64 / 3.0)?;
    let h = Value::new(-(1i16 << 14))?;
    let c = Value::new(b'x')?;
    let b = Value::new(false)?;
    let p = Value::new(Point { x: 1.5, y: -2 })?;
    let (i2, d2, h2, c2, b2, p2) = (
        i.clone(),
        d.clone(),
        h.clone(),
        c.clone(),
        b.clone(),
        p.clone(),
    );
    fork(move || {
        i2.set(i2.get() * 2);
        d2.set(d2.get() * 2.0);
        h2.set(h2.get() * 2 + 1);
        c2.set(b'y');
        b2.set(true);
        p2.update(|p| Point {
            x: p.x * 2.0,
            y: p.y - 1,
        });
        0
    })
    .join_ok();
    assert_eq!(i.get(), 50);
    assert_eq!(d.get(), 2.0 / 3.0);
    assert_eq!(h.get(), i16::MIN + 1);
    assert_eq!(c.get(), b'y');
    assert!(b.get());
    assert_eq!(p.get(), Point { x: 3.0, y: -3 });
    Ok(())
}

/// N processes × M increments under the value's lock end at exactly N×M.
#[test]
fn value_increments_under_lock_across_processes() -> TestResult {
    const N: usize = 4;
    const M: u64 = 2500;
    let v = Value::new(0u64)?;
    let w = Value::new(0.0f64)?;
    let children: Vec<_> = (0..N)
        .map(|_| {
            let (v, w) = (v.clone(), w.clone());
            fork(move || {
                for k in 0..M {
                    if k % 2 == 0 {
                        v.update(|x| x + 1);
                    } else {
                        // The CPython idiom: `with v.get_lock(): v.value += 1`, where the
                        // RLock lets `get`/`set` re-enter.
                        let Ok(_g) = v.get_lock().lock() else {
                            return 1;
                        };
                        v.set(v.get() + 1);
                    }
                    let Ok(g) = w.lock() else { return 1 };
                    g.set(g.get() + 1.0);
                }
                0
            })
        })
        .collect();
    for c in children {
        c.join_ok();
    }
    assert_eq!(v.get(), N as u64 * M);
    assert_eq!(w.get(), (N as u64 * M) as f64);
    Ok(())
}

// CPython: _TestValue.test_getobj_getlock and test_rawvalue
#[test]
fn raw_value_and_get_obj() -> TestResult {
    let v = Value::new(5i64)?;
    assert!(v.get_obj().same_as(&v.get_obj().clone()));
    v.get_obj().set(6);
    assert_eq!(v.get(), 6);
    let raw = RawValue::new(true)?;
    raw.set(false);
    assert!(!raw.get());
    // Shared lock between two values (CPython: Value(..., lock=some_lock)).
    let lock = multiproc_sync::RLock::new()?;
    let a = Value::with_lock(1u8, lock.clone())?;
    let b = Value::with_lock(2u8, lock.clone())?;
    assert!(a.get_lock().same_as(b.get_lock()));
    let _g = a.lock().unwrap_or_else(OwnerDied::into_inner);
    assert_eq!(b.get(), 2); // re-enters the same RLock
    Ok(())
}

#[test]
fn value_lock_holder_killed_is_reported() -> TestResult {
    let v = Value::new(1i32)?;
    let ready = multiproc_sync::Event::new()?;
    let (v2, r2) = (v.clone(), ready.clone());
    let mut child = fork(move || {
        let Ok(g) = v2.lock() else { return 1 };
        g.set(99);
        std::mem::forget(g);
        r2.set();
        loop {
            std::thread::park();
        }
    });
    assert!(ready.wait_timeout(Duration::from_secs(30)));
    child.kill();
    assert_eq!(child.wait(), Err(libc::SIGKILL));
    let g = v.lock().expect_err("holder died").into_inner();
    assert_eq!(g.get(), 99);
    drop(g);
    assert_eq!(v.get(), 99);
    Ok(())
}

// ---------------------------------------------------------------- Array

// CPython: _TestArray.test_array (child negates, parent reads) and the seed's Array('i', range(10))
#[test]
fn array_negated_by_a_child() -> TestResult {
    let arr = Array::from_slice(&(0..10).collect::<Vec<i32>>())?;
    let a = arr.clone();
    fork(move || {
        for i in 0..a.len() {
            if a.set(i, -a.get(i).unwrap_or(0)).is_err() {
                return 1;
            }
        }
        0
    })
    .join_ok();
    assert_eq!(arr.to_vec(), [0, -1, -2, -3, -4, -5, -6, -7, -8, -9]);
    Ok(())
}

// CPython: _TestArray.test_array_from_size / test_rawarray / test_getobj_getlock_obj
#[test]
fn array_sizes_bounds_and_bulk() -> TestResult {
    let z = RawArray::<f64>::zeroed(5)?;
    assert_eq!(z.len(), 5);
    assert_eq!(z.to_vec(), [0.0; 5]);
    assert_eq!(z.get(5), None);
    assert_eq!(z.set(5, 1.0), Err(IndexError { index: 5, len: 5 }));
    z.copy_from_slice(&[1.0, 2.0, 3.0, 4.0, 5.0])?;
    assert!(z.copy_from_slice(&[1.0]).is_err());
    z.copy_from_slice_at(3, &[40.0, 50.0])?;
    assert!(z.copy_from_slice_at(4, &[1.0, 2.0]).is_err());
    let mut out = [0.0; 2];
    z.copy_to_slice(1, &mut out)?;
    assert_eq!(out, [2.0, 3.0]);
    assert_eq!(z.iter().collect::<Vec<_>>(), [1.0, 2.0, 3.0, 40.0, 50.0]);
    // bool goes through its byte representation.
    let flags = Array::from_slice(&[true, false, true])?;
    flags.set(1, true)?;
    assert_eq!(flags.to_vec(), [true, true, true]);
    assert!(flags.get_obj().iter().all(|b| b));
    // Structs.
    let pts = RawArray::from_slice(&[Point { x: 1.0, y: 1 }, Point { x: 2.0, y: 2 }])?;
    assert_eq!(pts.get(1), Some(Point { x: 2.0, y: 2 }));
    // Empty arrays are fine.
    let e = RawArray::<u32>::zeroed(0)?;
    assert!(e.is_empty() && e.to_vec().is_empty());
    // Locked guard derefs to the raw array.
    let a = Array::<i16>::zeroed(3)?;
    {
        let g = a.lock().unwrap_or_else(OwnerDied::into_inner);
        g.set(0, 7)?;
        assert_eq!(g.get(0), Some(7));
    }
    Ok(())
}

#[test]
fn value_and_array_sent_over_a_pipe() -> TestResult {
    let v = Value::new(0i64)?;
    let a = RawArray::<u16>::zeroed(4)?;
    let (p, c) = multiproc_ipc::Pipe::duplex()?;
    let child = fork(move || {
        let Ok((v, a)) = c.recv::<(Value<i64>, RawArray<u16>)>() else {
            return 1;
        };
        v.set(42);
        if a.copy_from_slice(&[1, 2, 3, 4]).is_err() {
            return 2;
        }
        0
    });
    p.send(&(v.clone(), a.clone()))?;
    child.join_ok();
    assert_eq!(v.get(), 42);
    assert_eq!(a.to_vec(), [1, 2, 3, 4]);
    // A handle whose element type needs more bytes than the segment holds is refused
    // (4 × u16 = 8 bytes cannot be read as 4 × u64).
    let (bytes, fds) = multiproc_ipc::encode(&a)?;
    assert!(multiproc_ipc::decode::<RawArray<u64>>(&bytes, fds).is_err());
    let (bytes, fds) = multiproc_ipc::encode(&a)?;
    assert_eq!(
        multiproc_ipc::decode::<RawArray<i16>>(&bytes, fds)?.len(),
        4
    );
    Ok(())
}

// ---------------------------------------------------------------- SharedMemory

fn shm_path(name: &str) -> std::path::PathBuf {
    Path::new("/dev/shm").join(name)
}

// CPython: _TestSharedMemory.test_shared_memory_basics
#[test]
fn shared_memory_basics() -> TestResult {
    let name = format!("mp-test-basics-{}", std::process::id());
    let shm = SharedMemory::create(Some(&name), 512)?;
    assert_eq!(shm.name(), name);
    assert_eq!(shm.size(), 512);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(shm_path(&name))?.permissions().mode() & 0o777,
        0o600
    );
    shm.write_at(0, b"hello")?;
    assert!(shm.write_at(510, b"abc").is_err());
    // Attach by name; also through serialization (by name).
    let other = SharedMemory::attach(&name)?;
    assert_eq!(other.size(), 512);
    let mut buf = [0u8; 5];
    other.read_at(0, &mut buf)?;
    assert_eq!(&buf, b"hello");
    let (bytes, fds) = multiproc_ipc::encode(&shm)?;
    let third: SharedMemory = multiproc_ipc::decode(&bytes, fds)?;
    third.write_at(0, b"J")?;
    shm.read_at(0, &mut buf)?;
    assert_eq!(&buf, b"Jello");
    // Creating an existing name fails.
    assert!(matches!(
        SharedMemory::create(Some(&name), 16),
        Err(ShmError::Exists(_))
    ));
    // A child writes through its own attachment.
    let n2 = name.clone();
    fork(move || {
        let Ok(s) = SharedMemory::attach(&n2) else {
            return 1;
        };
        if s.write_at(1, b"ELLO").is_err() {
            return 2;
        }
        0
    })
    .join_ok();
    shm.read_at(0, &mut buf)?;
    assert_eq!(&buf, b"JELLO");
    // Unlink: the name goes, mappings stay usable, a second unlink is NotFound.
    shm.unlink()?;
    assert!(!shm_path(&name).exists());
    other.read_at(0, &mut buf)?;
    assert!(matches!(shm.unlink(), Err(ShmError::NotFound(_))));
    assert!(matches!(
        SharedMemory::attach(&name),
        Err(ShmError::NotFound(_))
    ));
    Ok(())
}

// CPython: _TestSharedMemory.test_shared_memory_basics (argument checks)
#[test]
fn shared_memory_argument_errors() -> TestResult {
    assert!(matches!(
        SharedMemory::create(None, 0),
        Err(ShmError::InvalidSize)
    ));
    for bad in ["", "a/b", "nul\0", ".."] {
        assert!(
            matches!(
                SharedMemory::create(Some(bad), 8),
                Err(ShmError::InvalidName(_))
            ),
            "{bad:?}"
        );
    }
    assert!(matches!(
        SharedMemory::attach("mp-does-not-exist-xyz"),
        Err(ShmError::NotFound(_))
    ));
    let anon = SharedMemory::create(None, 8)?;
    assert!(anon.name().starts_with("mp-"));
    anon.unlink()?;
    Ok(())
}

// CPython: _TestSharedMemory.test_shared_memory_ShareableList_basics
#[test]
fn shareable_list_basics() -> TestResult {
    let list = ShareableList::new(
        [
            Item::from("howdy"),
            Item::Bytes(b"HoWdY\0\0".to_vec()),
            Item::Int(-273),
            Item::Float(-273.154),
            Item::Bool(true),
            Item::None,
            Item::Int(7),
        ],
        None,
    )?;
    assert_eq!(list.len(), 7);
    assert_eq!(list.get(0)?, Item::Str("howdy".into()));
    // Trailing NULs survive (CPython strips them: gh-96779).
    assert_eq!(list.get(1)?, Item::Bytes(b"HoWdY\0\0".to_vec()));
    assert_eq!(list.get(3)?, Item::Float(-273.154));
    assert_eq!(list.get(5)?, Item::None);
    assert!(matches!(list.get(7), Err(ListError::Index(_))));
    // Type changes in place when they fit; too long strings do not.
    list.set(2, Item::Str("ab".into()))?;
    assert_eq!(list.get(2)?, Item::Str("ab".into()));
    assert!(matches!(
        list.set(0, "this is too long".into()),
        Err(ListError::TooLarge { .. })
    ));
    list.set(0, "hi".into())?;
    assert_eq!(list.count(&Item::Int(7))?, 1);
    assert_eq!(list.index(&Item::Int(7))?, Some(6));
    assert_eq!(list.index(&Item::Int(8))?, None);
    // A child attaches by name and writes.
    let name = list.name().to_string();
    fork(move || {
        let Ok(l) = ShareableList::attach(&name) else {
            return 1;
        };
        if l.set(6, Item::Int(8)).is_err() {
            return 2;
        }
        0
    })
    .join_ok();
    assert_eq!(list.get(6)?, Item::Int(8));
    // A block that is not a list is refused.
    let other = SharedMemory::create(None, 64)?;
    assert!(matches!(
        ShareableList::attach(other.name()),
        Err(ListError::Corrupt(_))
    ));
    other.unlink()?;
    list.shm().unlink()?;
    assert!(!shm_path(list.name()).exists());
    Ok(())
}

// ---------------------------------------------------------------- the tracker

const HELPER_ENV: &str = "MULTIPROC_SHARED_TRACKER_HELPER";

/// Not a test on its own: the body of the process that `tracker_cleans_up_after_sigkill`
/// starts (a re-exec of this test binary), which creates blocks and waits to be killed.
#[test]
#[ignore = "helper process for tracker_cleans_up_after_sigkill"]
fn tracker_helper_child() -> TestResult {
    if std::env::var_os(HELPER_ENV).is_none() {
        return Ok(());
    }
    let forgotten = SharedMemory::create(None, 4096)?;
    let kept = SharedMemory::create(None, 4096)?;
    kept.persist();
    let unlinked = SharedMemory::create(None, 4096)?;
    unlinked.unlink()?;
    println!("NAMES {} {}", forgotten.name(), kept.name());
    loop {
        std::thread::park();
    }
}

#[test]
fn tracker_cleans_up_after_sigkill() -> TestResult {
    /// Kills and reaps the helper however the test ends.
    struct KillOnDrop(std::process::Child);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut child = std::process::Command::new(std::env::current_exe()?)
        .args([
            "--exact",
            "tracker_helper_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(HELPER_ENV, "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut child = KillOnDrop(child);
    let mut names = None;
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        // The harness prints "test tracker_helper_child ... " on the same line.
        if let Some(rest) = line.split_once("NAMES ").map(|(_, r)| r) {
            names = rest
                .split_once(' ')
                .map(|(a, b)| (a.to_string(), b.to_string()));
            break;
        }
    }
    let (forgotten, kept) = names.ok_or("helper printed no names")?;
    // Whatever happens below, the deliberately persisted block goes at the end.
    struct RemoveOnDrop(std::path::PathBuf);
    impl Drop for RemoveOnDrop {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
    let _cleanup = RemoveOnDrop(shm_path(&kept));
    assert!(shm_path(&forgotten).exists() && shm_path(&kept).exists());
    child.0.kill()?; // SIGKILL: no destructor, no atexit
    child.0.wait()?;
    // The tracker sees EOF and unlinks the forgotten block, not the persisted one.
    wait_until(|| !shm_path(&forgotten).exists());
    assert!(shm_path(&kept).exists());
    SharedMemory::attach(&kept)?.unlink()?;
    Ok(())
}

// ---------------------------------------------------------------- bytemuck types

/// A checked type reads whatever another process wrote without trusting it: the same
/// memory seen through a `u8`/`u32` handle is written with bytes that are no `bool` or
/// `char`; `bool` reads any non-zero byte as `true`, `char` an invalid scalar as its
/// zero value.
#[test]
fn checked_types_never_read_an_invalid_value() -> TestResult {
    let bytes = RawArray::<u8>::zeroed(4)?;
    let (b, fds) = multiproc_ipc::encode(&bytes)?;
    let flags: RawArray<bool> = multiproc_ipc::decode(&b, fds)?;
    bytes.copy_from_slice(&[0, 1, 2, 255])?;
    assert_eq!(flags.to_vec(), [false, true, true, true]);
    assert_eq!(flags.get(2), Some(true));

    let words = RawArray::<u32>::zeroed(3)?;
    let (b, fds) = multiproc_ipc::encode(&words)?;
    let chars: RawArray<char> = multiproc_ipc::decode(&b, fds)?;
    words.copy_from_slice(&[u32::from('é'), 0xD800, 0x11_0000])?;
    assert_eq!(chars.to_vec(), ['é', '\0', '\0']);
    chars.set(1, '🦀')?;
    assert_eq!(words.get(1), Some(u32::from('🦀')));
    let v = Value::new('x')?;
    assert_eq!(v.get(), 'x');
    Ok(())
}

/// Derived `Pod` records and arrays of them round-trip bit for bit.
#[test]
fn derived_pod_records_round_trip() -> TestResult {
    let pts: Vec<Point> = (0..100)
        .map(|i| Point {
            x: f64::from(i) * -0.5,
            y: i64::from(i) << 40,
        })
        .collect();
    let arr = Array::from_slice(&pts)?;
    assert_eq!(arr.to_vec(), pts);
    let pairs = RawArray::from_slice(&[[Point { x: 1.0, y: 2 }; 2]; 3])?;
    assert_eq!(pairs.get(2), Some([Point { x: 1.0, y: 2 }; 2]));
    Ok(())
}
