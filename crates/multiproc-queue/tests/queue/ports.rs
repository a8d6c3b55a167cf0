//! More of CPython's `_TestQueue`, rewritten: the cases where CPython uses a child
//! process use one here too (every start method), and the feeder-thread cases check
//! that a failing `put` leaves every count as it was.

use std::sync::OnceLock;
use std::time::Duration;

use multiproc_process::Process;
use multiproc_queue::{GetError, JoinError, JoinableQueue, PutError, Queue, SimpleQueue};

use crate::{BOUND, METHODS, TestResult};

/// An item that may refuse to serialize (CPython's `NotSerializable`).
#[derive(Debug, PartialEq, serde::Deserialize)]
enum Item {
    Good(bool),
    Bad,
}

impl serde::Serialize for Item {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Item::Good(b) => s.serialize_newtype_variant("Item", 0, "Good", b),
            Item::Bad => Err(serde::ser::Error::custom("refuses to serialize")),
        }
    }
}

// CPython: _TestQueue.test_queue_feeder_donot_stop_onexc (bpo-30414, bpo-33078). A put
// that fails to encode is reported to its caller, takes no `maxsize` slot and no
// unfinished-task count, and the queue goes on working.
#[test]
fn failed_put_takes_no_slot_and_queue_keeps_working() -> TestResult {
    let q: Queue<Item> = Queue::new()?;
    assert!(matches!(q.put(Item::Bad), Err(PutError::Encode { .. })));
    q.put(Item::Good(true))?;
    assert_eq!(q.get_timeout(BOUND)?, Item::Good(true));

    let q: Queue<Item> = Queue::with_maxsize(1)?;
    assert!(matches!(q.put(Item::Bad), Err(PutError::Encode { .. })));
    assert!(matches!(q.try_put(Item::Bad), Err(PutError::Encode { .. })));
    assert!(matches!(
        q.put_timeout(Item::Bad, Duration::ZERO),
        Err(PutError::Encode { .. })
    ));
    assert_eq!(q.qsize(), 0);
    // The one slot is still free: a non-blocking put succeeds.
    q.try_put(Item::Good(true))?;
    assert_eq!(q.qsize(), 1);
    assert!(q.is_full());
    assert_eq!(q.get_timeout(BOUND)?, Item::Good(true));
    assert!(q.is_empty());

    let jq: JoinableQueue<Item> = JoinableQueue::new()?;
    assert!(matches!(jq.put(Item::Bad), Err(PutError::Encode { .. })));
    assert_eq!(jq.unfinished_tasks(), 0);
    assert!(jq.join_timeout(BOUND)?); // nothing to wait for
    jq.put(Item::Good(false))?;
    assert_eq!(jq.unfinished_tasks(), 1);
    assert_eq!(jq.get_timeout(BOUND)?, Item::Good(false));
    jq.task_done()?;
    assert!(jq.join_timeout(BOUND)?);
    Ok(())
}

// CPython: _TestQueue.test_closed_queue_put_get_exceptions, for the JoinableQueue and
// SimpleQueue halves (the Queue half is in `basic`). A closed handle refuses puts; a
// get on it finds the queue drained and every producer gone: Closed, not a hang.
#[test]
fn closed_joinable_and_simple_queues_refuse_put_and_get() -> TestResult {
    let jq: JoinableQueue<String> = JoinableQueue::new()?;
    jq.close();
    assert!(jq.put("foo".into()).unwrap_err().is_closed());
    assert!(matches!(jq.get_timeout(BOUND), Err(GetError::Closed)));
    assert_eq!(jq.unfinished_tasks(), 0, "a refused put is not a task");
    assert!(matches!(jq.task_done(), Err(JoinError::TooManyTaskDone)));

    let sq: SimpleQueue<String> = SimpleQueue::new()?;
    sq.close();
    assert!(sq.put("foo".into()).unwrap_err().is_closed());
    assert!(matches!(sq.get_timeout(BOUND), Err(GetError::Closed)));
    assert!(matches!(sq.try_get(), Err(GetError::Closed)));
    Ok(())
}

// CPython: _TestQueue.test_timeout. Only the outcome is checked (no elapsed time).
#[test]
fn get_timeout_on_empty_queue_times_out() -> TestResult {
    let q: Queue<u8> = Queue::new()?;
    assert!(matches!(
        q.get_timeout(Duration::from_millis(200)),
        Err(GetError::Timeout)
    ));
    let s: SimpleQueue<u8> = SimpleQueue::new()?;
    assert!(matches!(
        s.get_timeout(Duration::from_millis(50)),
        Err(GetError::Timeout)
    ));
    Ok(())
}

static IN_INIT: OnceLock<Option<String>> = OnceLock::new();

// CPython: _TestQueue.test_no_import_lock_contention (bpo-22853: a queue used while
// the import lock was held timed out, because the feeder thread needed that lock). The
// Rust counterpart of "during an import" is "inside a one-time initialiser": a put and
// a timed get there must not wait on anything the initialiser holds.
#[test]
fn queue_used_inside_a_one_time_initialiser() -> TestResult {
    let got = IN_INIT.get_or_init(|| {
        let q: Queue<String> = Queue::new().ok()?;
        q.put("knock knock".into()).ok()?;
        let v = q.get_timeout(BOUND).ok();
        q.close();
        v
    });
    assert_eq!(got.as_deref(), Some("knock knock"));
    Ok(())
}

/// The events of CPython's test (`child_can_start`, `parent_can_continue`), as queues
/// of `()`: this crate's tests use nothing above it.
type Gate = Queue<()>;

fn take_six(q: Queue<u32>, can_start: Gate, done: Gate) -> Vec<u32> {
    if can_start.get_timeout(BOUND).is_err() {
        return Vec::new();
    }
    let got = (0..6).filter_map(|_| q.get_timeout(BOUND).ok()).collect();
    let _ = done.put(());
    got
}

// CPython: _TestQueue.test_put, with its child process. The parent fills a maxsize-6
// queue with every put form, sees Full from the non-blocking and timed forms, then lets
// a child (of each start method) take the six; the queue ends empty.
#[test]
fn put_forms_then_child_drains() -> TestResult {
    for m in METHODS {
        let q: Queue<u32> = Queue::with_maxsize(6)?;
        let (can_start, done): (Gate, Gate) = (Queue::new()?, Queue::new()?);
        let p = Process::new(take_six, (q.clone(), can_start.clone(), done.clone()))
            .start_method(m)
            .start()?;
        q.put(1)?;
        q.put_timeout(2, BOUND)?;
        q.try_put(3)?;
        q.put_timeout(4, Duration::ZERO)?;
        q.put(5)?;
        q.try_put(6)?;
        assert_eq!(q.qsize(), 6, "{m:?}");
        assert!(q.is_full());
        assert!(q.try_put(7).unwrap_err().is_full());
        assert!(q.put_timeout(7, Duration::ZERO).unwrap_err().is_timeout());
        assert!(
            q.put_timeout(7, Duration::from_millis(10))
                .unwrap_err()
                .is_timeout()
        );
        can_start.put(())?;
        done.get_timeout(BOUND)?;
        assert_eq!(p.join_value()?, vec![1, 2, 3, 4, 5, 6], "{m:?}");
        assert!(q.is_empty());
        assert_eq!(q.qsize(), 0);
    }
    Ok(())
}

fn give_four(q: Queue<u32>, can_start: Gate, done: Gate) -> bool {
    if can_start.get_timeout(BOUND).is_err() {
        return false;
    }
    let ok = (1..=4).all(|i| q.put(i).is_ok());
    let _ = done.put(());
    ok
}

// CPython: _TestQueue.test_get, with its child process. The queue is empty (every get
// form says so) until a child puts four items; then each get form takes one, in order.
#[test]
fn get_forms_after_child_puts() -> TestResult {
    for m in METHODS {
        let q: Queue<u32> = Queue::new()?;
        let (can_start, done): (Gate, Gate) = (Queue::new()?, Queue::new()?);
        let p = Process::new(give_four, (q.clone(), can_start.clone(), done.clone()))
            .start_method(m)
            .start()?;
        assert!(q.is_empty(), "{m:?}");
        assert!(matches!(q.try_get(), Err(GetError::Empty)));
        assert!(matches!(
            q.get_timeout(Duration::from_millis(10)),
            Err(GetError::Timeout)
        ));
        can_start.put(())?;
        done.get_timeout(BOUND)?;
        assert_eq!(q.qsize(), 4);
        assert_eq!(q.get()?, 1);
        assert_eq!(q.get_timeout(BOUND)?, 2);
        assert_eq!(q.try_get()?, 3);
        assert_eq!(q.get_timeout(Duration::ZERO)?, 4);
        assert!(q.is_empty());
        assert!(matches!(q.try_get(), Err(GetError::Empty)));
        assert!(p.join_value()?, "{m:?}");
    }
    Ok(())
}

fn count_and_finish(q: JoinableQueue<Option<u32>>) -> u32 {
    let mut n = 0;
    while let Ok(Some(_)) = q.get_timeout(BOUND) {
        n += 1;
        if q.task_done().is_err() {
            return u32::MAX;
        }
    }
    let _ = q.task_done(); // the pill
    n
}

// CPython: JoinableQueue semantics across processes (the `_TestQueue.test_task_done`
// shape with a bounded queue): `join` returns only after every item, pills included,
// was marked done by the workers; a later `task_done` is one too many.
#[test]
fn bounded_joinable_queue_join_across_processes() -> TestResult {
    for m in METHODS {
        let q: JoinableQueue<Option<u32>> = JoinableQueue::with_maxsize(3)?;
        let workers = (0..2)
            .map(|_| {
                Process::new(count_and_finish, (q.clone(),))
                    .start_method(m)
                    .start()
            })
            .collect::<Result<Vec<_>, _>>()?;
        for i in 0..40 {
            q.put_timeout(Some(i), BOUND)?;
        }
        assert!(q.join_timeout(BOUND)?);
        assert_eq!(q.unfinished_tasks(), 0);
        for _ in &workers {
            q.put_timeout(None, BOUND)?;
        }
        assert!(q.join_timeout(BOUND)?);
        let total: u32 = workers
            .into_iter()
            .map(|w| w.join_value())
            .sum::<Result<u32, _>>()?;
        assert_eq!(total, 40, "{m:?}");
        assert!(matches!(q.task_done(), Err(JoinError::TooManyTaskDone)));
    }
    Ok(())
}
