//! Absurd and degenerate sizes: errors, not panics or aborts.

use multiproc::pool::Error as PoolError;
use multiproc::{
    Array, Barrier, BoundedSemaphore, Pool, Queue, RawArray, Semaphore, SharedMemory,
    SharedSegment, Value,
};

use crate::{R, dev_shm};

const ABSURD: [usize; 4] = [usize::MAX, usize::MAX / 2, 1 << 50, (1 << 47) + 3];

/// Shared arrays and segments of absurd length: a creation error.
#[test]
fn absurd_lengths_are_errors() -> R {
    for n in ABSURD {
        assert!(RawArray::<u64>::zeroed(n).is_err(), "RawArray {n}");
        assert!(Array::<u8>::zeroed(n).is_err(), "Array {n}");
        assert!(SharedSegment::new(n).is_err(), "SharedSegment {n}");
    }
    for n in [usize::MAX / 2, 1 << 50, (1 << 47) + 3] {
        assert!(Queue::<u8>::with_capacity(0, n).is_err(), "Queue ring {n}");
        assert!(
            Queue::<u8>::with_capacity(n, n).is_err(),
            "Queue ring and maxsize {n}"
        );
    }
    Ok(())
}

/// Queue rings within 4095 bytes of `usize::MAX`: rounding the ring up to a page
/// must not overflow (it was a panic unoptimised, a 0-byte ring in release).
#[test]
fn absurd_queue_rings_are_errors() -> R {
    for n in [usize::MAX, usize::MAX - 1, usize::MAX - 4094] {
        assert!(Queue::<u8>::with_capacity(0, n).is_err(), "Queue ring {n}");
        assert!(
            Queue::<u8>::with_capacity(n, n).is_err(),
            "Queue ring and maxsize {n}"
        );
    }
    Ok(())
}

/// A `SharedMemory` block of absurd or zero size fails and leaves nothing in /dev/shm.
#[test]
fn shared_memory_sizes() -> R {
    let name = format!("multiproc-faults-{}", std::process::id());
    for n in [0, usize::MAX, 1 << 50] {
        let r = SharedMemory::create(Some(&name), n);
        assert!(r.is_err(), "size {n}: {r:?}");
        assert!(!dev_shm().contains(&name), "size {n} left /dev/shm/{name}");
    }
    Ok(())
}

/// Zero-length `Array`/`RawArray`: empty, usable, out-of-range access is an error.
#[test]
fn zero_length_arrays() -> R {
    let a = Array::<u32>::zeroed(0)?;
    assert!(a.is_empty());
    assert_eq!(a.get(0), None);
    assert!(a.set(0, 1).is_err());
    assert_eq!(a.to_vec(), Vec::<u32>::new());
    let r = RawArray::<u8>::from_slice(&[])?;
    assert_eq!(r.len(), 0);
    assert!(r.copy_from_slice_at(usize::MAX, &[1]).is_err());
    let v = Value::new(0u8)?;
    v.set(255);
    assert_eq!(v.update(|x| x.wrapping_add(1)), 0);
    Ok(())
}

/// Degenerate counts: a pool of 0 workers, a barrier of 0 parties, huge semaphore
/// values, a queue of maxsize 0 (unbounded, as in CPython).
#[test]
fn degenerate_counts() -> R {
    let r = Pool::new(0);
    assert!(
        matches!(r, Err(PoolError::InvalidArgument(_))),
        "Pool::new(0) (CPython: ValueError): {:?}",
        r.err()
    );
    let r = Pool::builder().processes(0).build();
    assert!(
        matches!(r, Err(PoolError::InvalidArgument(_))),
        "builder with 0: {:?}",
        r.err()
    );
    assert!(Barrier::new(0).is_err(), "Barrier of 0 parties");
    let b = Barrier::new(1)?;
    assert_eq!(b.wait()?, 0, "a 1-party barrier passes at once");

    let s = Semaphore::new(u32::MAX)?;
    assert_eq!(s.value(), u32::MAX);
    let r = s.release();
    assert!(
        r.is_err(),
        "releasing past u32::MAX must be an error, not a wrap: {r:?}"
    );
    assert_eq!(s.value(), u32::MAX);
    let g = s.try_permit().ok_or("a permit of u32::MAX")?;
    drop(g);
    let bs = BoundedSemaphore::new(u32::MAX)?;
    assert!(bs.release().is_err());
    let z = Semaphore::new(0)?;
    assert!(z.try_permit().is_none());

    let q = Queue::<u32>::with_maxsize(0)?;
    for i in 0..1000 {
        q.try_put(i).map_err(|e| e.to_string())?;
    }
    assert!(!q.is_full());
    assert_eq!(q.qsize(), 1000);
    Ok(())
}
