//! Single-process semantics (threads), most ported from CPython's `_TestQueue`.

use std::thread;
use std::time::Duration;

use multiproc_queue::{GetError, JoinError, JoinableQueue, PutError, Queue, SimpleQueue};

use crate::{BOUND, Small, TestResult, small};

// Port of CPython `_TestQueue.test_put` (in one process): maxsize, put_nowait -> Full,
// put with timeout -> Full/Timeout, qsize/empty/full bookkeeping.
#[test]
fn test_put() -> TestResult {
    let q: Queue<u32> = Queue::with_maxsize(6)?;
    assert!(q.is_empty());
    assert!(!q.is_full());
    for i in 1..=6 {
        if i % 2 == 0 {
            q.put(i)?;
        } else {
            q.try_put(i)?;
        }
        assert_eq!(q.qsize(), i as usize);
    }
    assert!(q.is_full());
    let e = q.try_put(7).unwrap_err();
    assert!(e.is_full());
    assert_eq!(e.into_inner(), 7);
    let e = q.put_timeout(8, Duration::from_millis(10)).unwrap_err();
    assert!(e.is_timeout());
    for i in 1..=6 {
        assert_eq!(q.get()?, i);
    }
    assert!(q.is_empty());
    Ok(())
}

// Port of CPython `_TestQueue.test_get`: get_nowait/get(timeout) on empty raise Empty;
// items come back in order.
#[test]
fn test_get() -> TestResult {
    let q: Queue<u32> = Queue::new()?;
    assert!(matches!(q.try_get(), Err(GetError::Empty)));
    assert!(matches!(
        q.get_timeout(Duration::from_millis(10)),
        Err(GetError::Timeout)
    ));
    for i in 1..=4 {
        q.put(i)?;
    }
    assert_eq!(q.get()?, 1);
    assert_eq!(q.try_get()?, 2);
    assert_eq!(q.get_timeout(BOUND)?, 3);
    assert_eq!(q.get_timeout(Duration::ZERO)?, 4);
    assert!(q.is_empty());
    Ok(())
}

// Port of CPython `_TestQueue.test_qsize`.
#[test]
fn test_qsize() -> TestResult {
    let q: Queue<u32> = Queue::new()?;
    assert_eq!(q.qsize(), 0);
    q.put(1)?;
    assert_eq!(q.qsize(), 1);
    q.put(5)?;
    assert_eq!(q.qsize(), 2);
    q.get()?;
    assert_eq!(q.qsize(), 1);
    q.get()?;
    assert_eq!(q.qsize(), 0);
    Ok(())
}

// Port of CPython `_TestQueue.test_task_done` (threads as workers) plus the
// "task_done() called too many times" ValueError.
#[test]
fn test_task_done() -> TestResult {
    let q: JoinableQueue<Option<u32>> = JoinableQueue::new()?;
    assert!(matches!(q.task_done(), Err(JoinError::TooManyTaskDone)));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let q = q.clone();
            thread::spawn(move || {
                while let Ok(Some(_)) = q.get() {
                    q.task_done().unwrap();
                }
                q.task_done().unwrap(); // for the None
            })
        })
        .collect();
    for i in 0..10 {
        q.put(Some(i))?;
    }
    assert!(q.join_timeout(BOUND)?);
    assert_eq!(q.unfinished_tasks(), 0);
    for _ in &workers {
        q.put(None)?;
    }
    for w in workers {
        w.join().unwrap();
    }
    assert!(q.join_timeout(BOUND)?);
    assert!(matches!(q.task_done(), Err(JoinError::TooManyTaskDone)));
    Ok(())
}

#[test]
fn join_waits_for_last_task_done() -> TestResult {
    let q: JoinableQueue<u8> = JoinableQueue::new()?;
    q.put(1)?;
    q.put(2)?;
    assert!(
        !q.join_timeout(Duration::from_millis(10))?,
        "two tasks unfinished"
    );
    let w = q.clone();
    let t = thread::spawn(move || -> Result<(), GetError> {
        w.get()?;
        w.task_done().unwrap();
        w.get()?;
        w.task_done().unwrap();
        Ok(())
    });
    assert!(q.join_timeout(BOUND)?); // wakes on the last task_done
    assert_eq!(q.unfinished_tasks(), 0);
    t.join().unwrap()?;
    Ok(())
}

// Port of CPython `_TestQueue.test_closed_queue_put_get_exceptions`: a closed handle
// cannot put; here it can still drain, then sees Closed.
#[test]
fn test_closed_queue_put_get_exceptions() -> TestResult {
    let q: Queue<String> = Queue::new()?;
    q.put("a".into())?;
    q.close();
    assert!(q.is_closed());
    let e = q.put("b".into()).unwrap_err();
    assert!(e.is_closed());
    assert_eq!(e.into_inner(), "b");
    assert!(q.try_put("c".into()).unwrap_err().is_closed());
    assert_eq!(q.get()?, "a");
    assert!(matches!(q.get_timeout(BOUND), Err(GetError::Closed)));
    assert!(matches!(q.try_get(), Err(GetError::Closed)));
    q.close(); // idempotent
    Ok(())
}

#[test]
fn closed_only_when_every_handle_is_closed() -> TestResult {
    let q: Queue<u32> = Queue::new()?;
    let other = q.clone();
    q.close();
    assert!(matches!(
        q.get_timeout(Duration::from_millis(50)),
        Err(GetError::Timeout)
    ));
    assert!(!q.producers_gone());
    let t = thread::spawn(move || {
        for i in 0..100 {
            other.put(i).unwrap();
        }
        // dropped here: last producer gone
    });
    let got: Vec<u32> = q.iter().collect::<Result<_, _>>()?;
    assert_eq!(got, (0..100).collect::<Vec<_>>());
    t.join().unwrap();
    assert!(q.producers_gone());
    // A clone of a closed handle is closed too.
    assert!(q.clone().put(1).unwrap_err().is_closed());
    Ok(())
}

#[test]
fn maxsize_back_pressure() -> TestResult {
    let q: Queue<u64> = Queue::with_maxsize(3)?;
    let p = q.clone();
    let t = thread::spawn(move || -> Result<(), PutError<u64>> {
        for i in 0..1000 {
            p.put(i)?;
        }
        Ok(())
    });
    let mut max_seen = 0;
    for i in 0..1000 {
        max_seen = max_seen.max(q.qsize());
        assert_eq!(q.get_timeout(BOUND)?, i);
    }
    t.join().unwrap()?;
    assert!(max_seen <= 3, "qsize reached {max_seen}");
    Ok(())
}

#[test]
fn ring_full_blocks_unbounded_queue_until_drained() -> TestResult {
    // 4 KiB ring, 1000-byte items: the fifth put has to wait for a get.
    let q: Queue<Vec<u8>> = Queue::with_capacity(0, 4096)?;
    for _ in 0..4 {
        q.try_put(vec![7; 1000])?;
    }
    assert!(q.try_put(vec![7; 1000]).unwrap_err().is_full());
    assert_eq!(q.get()?.len(), 1000);
    q.try_put(vec![8; 1000])?;
    Ok(())
}

#[test]
fn big_items_stream_through_a_small_ring() -> TestResult {
    let q: Queue<Vec<u8>> = Queue::with_capacity(0, 64 * 1024)?;
    let p = q.clone();
    let sizes = [16 << 20, 5, 64 * 1024, 64 * 1024 - 16, 3 << 20, 0, 1];
    let t = thread::spawn(move || {
        for (k, &n) in sizes.iter().enumerate() {
            let v: Vec<u8> = (0..n)
                .map(|i| (i as u8).wrapping_mul(k as u8 + 1))
                .collect();
            p.put(v).unwrap();
        }
    });
    for (k, &n) in sizes.iter().enumerate() {
        let v = q.get_timeout(BOUND)?;
        assert_eq!(v.len(), n);
        assert!(
            v.iter()
                .enumerate()
                .all(|(i, &b)| b == (i as u8).wrapping_mul(k as u8 + 1))
        );
    }
    t.join().unwrap();
    Ok(())
}

#[test]
fn big_item_try_put_without_consumer_is_full_and_leaves_queue_clean() -> TestResult {
    let q: Queue<Vec<u8>> = Queue::with_capacity(0, 4096)?;
    q.put(vec![1])?;
    // Streams part of it, cannot finish, withdraws it.
    assert!(q.try_put(vec![2; 100_000]).unwrap_err().is_full());
    // The withdrawn bytes occupy the ring until a consumer skips them.
    assert!(
        q.put_timeout(vec![3; 100_000], Duration::from_millis(20))
            .unwrap_err()
            .is_timeout()
    );
    assert_eq!(q.get()?, vec![1]);
    assert!(matches!(q.try_get(), Err(GetError::Empty)));
    q.put(vec![4])?;
    assert_eq!(q.get()?, vec![4]);
    assert!(matches!(q.try_get(), Err(GetError::Empty)));
    Ok(())
}

struct Unserializable;
impl serde::Serialize for Unserializable {
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom("refuses"))
    }
}

// CPython KI-06 (gh-84376): an item that cannot be serialised must fail in `put`, and
// the queue must keep working.
#[test]
fn encode_failure_is_reported_by_put() -> TestResult {
    let q: Queue<Unserializable> = Queue::new()?;
    let e = q.put(Unserializable).unwrap_err();
    assert!(matches!(e, PutError::Encode { .. }));
    assert!(q.is_empty());
    Ok(())
}

#[test]
fn items_holding_handles_are_refused() -> TestResult {
    let q: Queue<multiproc_ipc::SharedSegment> = Queue::new()?;
    let e = q.put(multiproc_ipc::SharedSegment::new(4096)?).unwrap_err();
    assert!(matches!(e, PutError::Encode { .. }), "{e:?}");
    Ok(())
}

#[test]
fn decode_failure_consumes_the_item_and_says_so() -> TestResult {
    let q: Queue<u8> = Queue::new()?;
    let (bytes, fds) = multiproc_ipc::encode(&q)?;
    let as_strings: Queue<String> = multiproc_ipc::decode(&bytes, fds)?;
    q.put(200)?; // one byte 200: not a valid String encoding (length 200, no data)
    q.put(3)?;
    assert!(matches!(as_strings.get(), Err(GetError::Decode(_))));
    assert_eq!(q.get()?, 3);
    Ok(())
}

#[test]
fn fifo_per_producer_many_threads() -> TestResult {
    let q: Queue<Small> = Queue::with_capacity(0, 8192)?;
    let producers: Vec<_> = (0..4u64)
        .map(|p| {
            let q = q.clone();
            thread::spawn(move || {
                for i in 0..5000 {
                    q.put(small(p * 1_000_000 + i)).unwrap();
                }
            })
        })
        .collect();
    q.close();
    let mut last = [None::<u64>; 4];
    let mut n = 0;
    for item in &q {
        let (v, s) = item?;
        assert_eq!(s, format!("item-{v}"));
        let (p, i) = ((v / 1_000_000) as usize, v % 1_000_000);
        assert!(
            last[p].is_none_or(|l| l + 1 == i),
            "producer {p}: {last:?} then {i}"
        );
        last[p] = Some(i);
        n += 1;
    }
    assert_eq!(n, 20_000);
    for p in producers {
        p.join().unwrap();
    }
    Ok(())
}

#[test]
fn simple_queue_basics() -> TestResult {
    let q: SimpleQueue<String> = SimpleQueue::new()?;
    assert!(q.is_empty());
    assert!(matches!(q.try_get(), Err(GetError::Empty)));
    assert!(matches!(
        q.get_timeout(Duration::from_millis(5)),
        Err(GetError::Timeout)
    ));
    q.put("a".into())?;
    q.put("b".into())?;
    assert!(!q.is_empty());
    assert_eq!(q.get()?, "a");
    q.close();
    let rest: Vec<String> = q.iter().collect::<Result<_, _>>()?;
    assert_eq!(rest, ["b"]);
    assert!(!format!("{q:?}").is_empty());
    Ok(())
}

#[test]
fn handles_round_trip_through_the_codec() -> TestResult {
    let q: JoinableQueue<u32> = JoinableQueue::new()?;
    let (bytes, fds) = multiproc_ipc::encode(&q)?;
    let back: JoinableQueue<u32> = multiproc_ipc::decode(&bytes, fds)?;
    back.put(5)?;
    assert_eq!(q.get()?, 5);
    q.task_done()?;
    assert!(back.join_timeout(BOUND)?);
    // A closed handle travels closed.
    q.close();
    let (bytes, fds) = multiproc_ipc::encode(&q)?;
    let closed: Queue<u32> = multiproc_ipc::decode(&bytes, fds)?;
    assert!(closed.is_closed());
    Ok(())
}

/// Items that fit the ring are encoded straight into it: strings whose encoding ends
/// exactly at the ring's size (4086 bytes + a 2-byte length = 4088, plus the 8-byte
/// record header = 4096), one byte past it (streamed instead), and sizes that make
/// records start anywhere and wrap around the ring's end.
#[test]
fn items_at_the_ring_size_boundary_and_wrapping() -> TestResult {
    let q: Queue<String> = Queue::with_capacity(0, 4096)?;
    let p = q.clone();
    let mut sizes = vec![4086, 4087, 4085, 0, 4086, 1];
    sizes.extend((0..200).map(|i| (i * 37) % 3000));
    let expected: Vec<String> = sizes
        .iter()
        .enumerate()
        .map(|(k, &n)| {
            (0..n)
                .map(|i| char::from(b'a' + ((i + k) % 26) as u8))
                .collect()
        })
        .collect();
    let items = expected.clone();
    let t = thread::spawn(move || {
        for s in items {
            p.put(s).unwrap();
        }
    });
    for want in &expected {
        assert_eq!(&q.get_timeout(BOUND)?, want);
    }
    t.join().unwrap();
    Ok(())
}

/// A value whose encoding changes between the in-place path's sizing pass and its
/// write: the in-place write is refused and the item goes through the buffered path,
/// whole and once.
#[test]
fn an_item_that_encodes_differently_each_time_arrives_whole() -> TestResult {
    use std::sync::atomic::{AtomicUsize, Ordering};
    struct Growing(AtomicUsize);
    impl serde::Serialize for Growing {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let n = self.0.fetch_add(1, Ordering::Relaxed);
            s.serialize_str(&"x".repeat(n))
        }
    }
    impl<'de> serde::Deserialize<'de> for Growing {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let s = <String as serde::Deserialize>::deserialize(d)?;
            assert!(s.bytes().all(|b| b == b'x'));
            Ok(Growing(AtomicUsize::new(s.len())))
        }
    }
    let q: Queue<Growing> = Queue::with_capacity(0, 4096)?;
    q.put(Growing(AtomicUsize::new(3)))?;
    // Sized at 3, written at 4 in place (refused), then 5 through the buffer.
    assert_eq!(q.get_timeout(BOUND)?.0.into_inner(), 5);
    q.put(Growing(AtomicUsize::new(4000)))?;
    assert_eq!(q.get_timeout(BOUND)?.0.into_inner(), 4002);
    assert!(matches!(q.try_get(), Err(GetError::Empty)));
    Ok(())
}

/// Items holding OS handles are refused by the in-place path's sizing (no handle
/// context) and by the buffered path with the queue's own message.
#[test]
fn items_holding_handles_are_refused_with_the_queue_message() -> TestResult {
    use std::os::fd::{AsFd, OwnedFd};
    struct Fd(OwnedFd);
    impl serde::Serialize for Fd {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            multiproc_ipc::serialize_fd(self.0.as_fd(), s)
        }
    }
    let q: Queue<Fd> = Queue::new()?;
    let file: OwnedFd = std::fs::File::open("/dev/null")?.into();
    match q.put(Fd(file)) {
        Err(PutError::Encode { source, .. }) => {
            assert!(source.to_string().contains("os handles"), "{source}")
        }
        other => panic!(
            "expected an encode error, got {:?}",
            other.map_err(|e| e.to_string())
        ),
    }
    assert_eq!(q.qsize(), 0);
    Ok(())
}
