//! Ports of the manager scenarios of CPython 3.11's `Lib/test/_test_multiprocessing.py`
//! that `tests/manager.rs` does not cover: `TestSyncManagerTypes` (every shared type
//! used from a child process, under every start method), `_TestContainers`'
//! iteration cases, `_TestQueue`/`_TestLock`/`_TestSemaphore`/`_TestCondition`/
//! `_TestEvent`/`_TestBarrier` as CPython runs them with `TYPE = 'manager'`, `_TestMyManager`,
//! `_TestRemoteManager`, `_TestManagerRestart` and `TestInitializers`.
//!
//! Each test names the case it ports (`// CPython: Class.test_name`). The cases are
//! rewritten for this API, not transcribed: values are typed, nothing is pickled,
//! errors are typed, and every wait has a bound. Where our documented behaviour
//! differs from CPython's, the test checks ours and the comment says how it differs.
//! CPython's sleeps that stand in for synchronisation are replaced by waits on a
//! condition (a semaphore, the server's own count of condition waiters); nothing here
//! asserts on elapsed time.

use std::fmt;
use std::time::{Duration, Instant};

use multiproc_manager::{
    Address, ArrayProxy, BarrierProxy, ConditionProxy, DictProxy, Error, EventProxy, ListProxy,
    LockProxy, Manager, NamespaceProxy, Proxy, QueueProxy, Registry, RemoteError, RemoteErrorKind,
    SemaphoreProxy, Server, Setup, Shared, StartMethod, Value, ValueProxy,
};
use multiproc_process::{Process, ProcessBuilder};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use multiproc_test_support::{BOUND, METHODS, reaped};

type R = Result<(), Box<dyn std::error::Error>>;

/// Short timeouts for waits that are meant to run out.
const SHORT: Duration = Duration::from_millis(10);

// ------------------------------------------------------------------ helpers

/// Why a child process's scenario failed: travels back as the child's result.
#[derive(Debug, Serialize, Deserialize)]
struct ChildFail(String);

impl<E: std::error::Error> From<E> for ChildFail {
    fn from(e: E) -> Self {
        ChildFail(format!("{e} ({e:?})"))
    }
}

impl fmt::Display for ChildFail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

type Child<T = ()> = Result<T, ChildFail>;

/// A child's `assert`: fails the child's scenario with the line and the condition.
macro_rules! ensure {
    ($cond:expr) => {
        if !$cond {
            return Err(ChildFail(format!(
                "line {}: {} does not hold",
                line!(),
                stringify!($cond)
            )));
        }
    };
}

/// Starts `builder`'s process and returns it.
fn start<T: Serialize + DeserializeOwned + Send + 'static>(
    builder: ProcessBuilder<T>,
    what: &str,
) -> Result<Process<T>, String> {
    builder.start().map_err(|e| format!("{what}: start: {e}"))
}

/// Joins `p` within [`BOUND`] (killing and reaping it past that) and returns the
/// child's own verdict.
fn finish<T: DeserializeOwned>(p: Process<Child<T>>, what: &str) -> Result<T, String> {
    if !matches!(p.join_timeout(BOUND), Ok(true)) {
        let _ = p.kill();
        let _ = p.join_timeout(BOUND);
        return Err(format!("{what}: the child did not finish within {BOUND:?}"));
    }
    match p.join_value() {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(fail)) => Err(format!("{what}: {fail}")),
        Err(e) => Err(format!("{what}: {e}")),
    }
}

/// Starts `builder` under `method`, joins it and returns the child's verdict.
fn run<T: Serialize + DeserializeOwned + Send + 'static>(
    builder: ProcessBuilder<Child<T>>,
    method: StartMethod,
    what: &str,
) -> Result<T, String> {
    let what = format!("{what} ({method})");
    finish(start(builder.start_method(method), &what)?, &what)
}

/// The server's count of threads waiting on `cond` (from its repr,
/// `<Condition(locked, waiters=N)>`); notified waiters no longer count.
fn waiters(cond: &ConditionProxy) -> Result<usize, Box<dyn std::error::Error>> {
    let repr = cond.repr()?;
    let n = repr
        .split("waiters=")
        .nth(1)
        .and_then(|s| s.strip_suffix(")>"))
        .ok_or_else(|| format!("unexpected condition repr {repr}"))?;
    Ok(n.parse()?)
}

// ------------------------------------------------- TestSyncManagerTypes
//
// CPython creates each object in the parent, hands it to one child process, and checks
// in the parent what the child did. Here each case runs once per start method, against
// a manager whose server is a process of its own (`SyncManager().start()`).

fn sync_event_child(ev: EventProxy) -> Child {
    ensure!(ev.is_set()?);
    ensure!(ev.wait_timeout(BOUND)?);
    ev.clear()?;
    ensure!(!ev.wait_timeout(Duration::from_millis(1))?);
    Ok(())
}

// CPython: TestSyncManagerTypes.test_event
#[test]
fn sync_types_event() -> R {
    let m = Manager::start()?;
    for method in METHODS {
        let ev = m.event()?;
        ev.set()?;
        run(
            Process::new(sync_event_child, (ev.clone(),)),
            method,
            "event",
        )?;
        assert!(
            !ev.is_set()?,
            "{method}: the child's clear reached the server"
        );
        assert!(!ev.wait_timeout(Duration::from_millis(1))?, "{method}");
    }
    m.shutdown()?;
    Ok(())
}

fn sync_lock_child(lock: LockProxy) -> Child {
    ensure!(lock.acquire(Some(BOUND))?);
    // exits holding it
    Ok(())
}

// CPython: TestSyncManagerTypes.test_lock
//
// As in CPython: the child exits holding the lock, the parent releases it (any process
// may release a `Lock`; a client that ends normally leaves it locked), and a second
// release is a `RuntimeError`.
#[test]
fn sync_types_lock() -> R {
    let m = Manager::start()?;
    for method in METHODS {
        let lock = m.lock()?;
        run(
            Process::new(sync_lock_child, (lock.clone(),)),
            method,
            "lock",
        )?;
        assert!(
            lock.locked()?,
            "{method}: still held after the child's normal end"
        );
        lock.release()?;
        let e = lock.release().expect_err("already released");
        assert_eq!(e.remote_kind(), Some(RemoteErrorKind::RuntimeError), "{e}");
        assert!(!lock.repr()?.contains("vanished"), "{}", lock.repr()?);
    }
    m.shutdown()?;
    Ok(())
}

fn sync_rlock_child(lock: LockProxy) -> Child {
    ensure!(lock.acquire(Some(BOUND))?);
    ensure!(lock.acquire(Some(BOUND))?);
    lock.release()?;
    lock.release()?;
    Ok(())
}

// CPython: TestSyncManagerTypes.test_rlock (which, by a slip, creates a `Lock`; this
// port uses the `RLock` it means, acquired twice by the child)
#[test]
fn sync_types_rlock() -> R {
    let m = Manager::start()?;
    for method in METHODS {
        let lock = m.rlock()?;
        run(
            Process::new(sync_rlock_child, (lock.clone(),)),
            method,
            "rlock",
        )?;
        assert!(
            lock.acquire(Some(Duration::ZERO))?,
            "{method}: released by the child"
        );
        assert!(
            !lock.repr()?.contains("vanished"),
            "{method}: the child released it itself: {}",
            lock.repr()?
        );
        lock.release()?;
    }
    m.shutdown()?;
    Ok(())
}

fn sync_semaphore_child(sem: SemaphoreProxy) -> Child {
    ensure!(sem.acquire(Some(BOUND))?);
    ensure!(sem.value()? == 0);
    Ok(())
}

/// The body of `test_semaphore` and `test_bounded_semaphore`: as in CPython, the
/// child exits holding a permit and the parent releases it.
fn sync_semaphore(bounded: bool) -> R {
    let m = Manager::start()?;
    for method in METHODS {
        let sem = if bounded {
            m.bounded_semaphore(1)?
        } else {
            m.semaphore(1)?
        };
        run(
            Process::new(sync_semaphore_child, (sem.clone(),)),
            method,
            "semaphore",
        )?;
        assert_eq!(sem.value()?, 0, "{method}: the child's permit stays taken");
        sem.release()?;
        assert_eq!(sem.value()?, 1);
        assert!(!sem.repr()?.contains("vanished"), "{}", sem.repr()?);
        if bounded {
            let e = sem.release().expect_err("over the bound");
            assert_eq!(e.remote_kind(), Some(RemoteErrorKind::ValueError), "{e}");
            assert_eq!(sem.value()?, 1);
        } else {
            sem.release()?;
            assert_eq!(
                sem.value()?,
                2,
                "an unbounded semaphore counts past its start"
            );
        }
    }
    m.shutdown()?;
    Ok(())
}

// CPython: TestSyncManagerTypes.test_semaphore
#[test]
fn sync_types_semaphore() -> R {
    sync_semaphore(false)
}

// CPython: TestSyncManagerTypes.test_bounded_semaphore
#[test]
fn sync_types_bounded_semaphore() -> R {
    sync_semaphore(true)
}

fn sync_condition_child(cond: ConditionProxy) -> Child {
    ensure!(cond.acquire(Some(BOUND))?);
    cond.release()?;
    Ok(())
}

// CPython: TestSyncManagerTypes.test_condition
#[test]
fn sync_types_condition() -> R {
    let m = Manager::start()?;
    for method in METHODS {
        let cond = m.condition()?;
        run(
            Process::new(sync_condition_child, (cond.clone(),)),
            method,
            "condition",
        )?;
        assert!(
            cond.acquire(Some(Duration::ZERO))?,
            "{method}: the child released it"
        );
        cond.release()?;
        assert!(cond.repr()?.contains("unlocked"), "{}", cond.repr()?);
    }
    m.shutdown()?;
    Ok(())
}

fn sync_barrier_child(b: BarrierProxy) -> Child {
    ensure!(b.parties()? == 5);
    ensure!(b.broken()?);
    b.reset()?;
    Ok(())
}

// CPython: TestSyncManagerTypes.test_barrier (the parent breaks the barrier first, so
// that the child's `reset` is visible to it)
#[test]
fn sync_types_barrier() -> R {
    let m = Manager::start()?;
    for method in METHODS {
        let b = m.barrier(5)?;
        b.abort()?;
        run(
            Process::new(sync_barrier_child, (b.clone(),)),
            method,
            "barrier",
        )?;
        assert_eq!(b.info()?, (5, 0, false), "{method}: reset by the child");
    }
    m.shutdown()?;
    Ok(())
}

// CPython: TestSyncManagerTypes.test_pool — not ported: this crate's manager serves no
// `Pool` (multiproc-pool sits beside it in the layering, not below it).

fn sync_queue_child(q: QueueProxy<i64>, bounded: bool) -> Child {
    ensure!(q.qsize()? == 2);
    if bounded {
        // `full()`: the proxy has no such call; a put that may not wait says it
        let full = q.put_timeout(0, Duration::ZERO).expect_err("full");
        ensure!(full.remote_kind() == Some(RemoteErrorKind::Full));
    }
    ensure!(!q.is_empty()?);
    ensure!(q.get_timeout(BOUND)? == 5);
    ensure!(!q.is_empty()?);
    ensure!(q.get_timeout(BOUND)? == 6);
    ensure!(q.is_empty()?);
    Ok(())
}

// CPython: TestSyncManagerTypes.test_queue
//
// Differs: `QueueProxy` has no `full()`; a `put_timeout(x, ZERO)` answering `Full`
// stands in for it (and changes nothing).
#[test]
fn sync_types_queue() -> R {
    let m = Manager::start()?;
    for method in METHODS {
        let q = m.bounded_queue::<i64>(2)?;
        q.put(5)?;
        q.put(6)?;
        run(
            Process::new(sync_queue_child, (q.clone(), true)),
            method,
            "queue",
        )?;
        assert!(q.is_empty()?, "{method}");
        q.put_timeout(7, Duration::ZERO)?; // not full
        assert_eq!(q.qsize()?, 1);
    }
    m.shutdown()?;
    Ok(())
}

fn sync_joinable_child(q: QueueProxy<i64>) -> Child {
    sync_queue_child(q.clone(), false)?;
    q.task_done()?;
    q.task_done()?;
    Ok(())
}

// CPython: TestSyncManagerTypes.test_joinable_queue
//
// Differs: `Manager::joinable_queue` takes no `maxsize`, so the queue is unbounded and
// the `full()` checks are left out; the child marks both items done instead, which the
// parent's `join` sees.
#[test]
fn sync_types_joinable_queue() -> R {
    let m = Manager::start()?;
    for method in METHODS {
        let q = m.joinable_queue::<i64>()?;
        q.put(5)?;
        q.put(6)?;
        assert!(!q.join_timeout(SHORT)?, "two tasks are open");
        run(
            Process::new(sync_joinable_child, (q.clone(),)),
            method,
            "joinable queue",
        )?;
        assert!(q.is_empty()?, "{method}");
        assert!(
            q.join_timeout(BOUND)?,
            "{method}: the child's task_done calls count"
        );
    }
    m.shutdown()?;
    Ok(())
}

fn sync_list_child(l: ListProxy<i64>) -> Child {
    ensure!(l.get(0)? == 5);
    ensure!(l.count(5)? == 1);
    ensure!(l.index(5)? == 0);
    l.sort()?;
    l.reverse()?;
    ensure!(l.to_vec()? == [5]); // `for x in obj`
    ensure!(l.len()? == 1);
    ensure!(l.pop_at(0)? == 5);
    Ok(())
}

// CPython: TestSyncManagerTypes.test_list
#[test]
fn sync_types_list() -> R {
    let m = Manager::start()?;
    for method in METHODS {
        let l = m.list_of::<i64>()?;
        l.append(5)?;
        run(Process::new(sync_list_child, (l.clone(),)), method, "list")?;
        assert!(l.is_empty()?, "{method}");
        assert_eq!(l.len()?, 0);
    }
    m.shutdown()?;
    Ok(())
}

fn sync_dict_child(d: DictProxy<String, i64>) -> Child {
    ensure!(d.len()? == 1);
    ensure!(d.get_item("foo")? == 5);
    ensure!(d.get("foo")? == Some(5));
    ensure!(d.items()? == [("foo".to_string(), 5)]);
    ensure!(d.keys()? == ["foo"]);
    ensure!(d.values()? == [5]);
    ensure!(d.copy()? == [("foo".to_string(), 5)]);
    ensure!(d.popitem()? == ("foo".to_string(), 5));
    Ok(())
}

// CPython: TestSyncManagerTypes.test_dict
#[test]
fn sync_types_dict() -> R {
    let m = Manager::start()?;
    for method in METHODS {
        let d = m.dict_of::<String, i64>()?;
        d.insert("foo", 5)?;
        run(Process::new(sync_dict_child, (d.clone(),)), method, "dict")?;
        assert!(d.is_empty()?, "{method}");
        assert_eq!(d.len()?, 0);
    }
    m.shutdown()?;
    Ok(())
}

fn sync_value_child(v: ValueProxy<i64>) -> Child {
    ensure!(v.get()? == 1);
    v.set(2)?;
    Ok(())
}

// CPython: TestSyncManagerTypes.test_value (`Value('i', 1)`: the type is `i64` itself,
// `.value` and `.get()` are both `get`)
#[test]
fn sync_types_value() -> R {
    let m = Manager::start()?;
    for method in METHODS {
        let v = m.value(1i64)?;
        run(
            Process::new(sync_value_child, (v.clone(),)),
            method,
            "value",
        )?;
        assert_eq!(v.get()?, 2, "{method}");
    }
    m.shutdown()?;
    Ok(())
}

fn sync_array_child(a: ArrayProxy<i64>) -> Child {
    ensure!(a.get(0)? == 0);
    ensure!(a.get(1)? == 1);
    ensure!(a.len()? == 2);
    ensure!(a.to_vec()? == [0, 1]);
    Ok(())
}

// CPython: TestSyncManagerTypes.test_array (`Array('i', [0, 1])`)
#[test]
fn sync_types_array() -> R {
    let m = Manager::start()?;
    for method in METHODS {
        let a = m.array([0i64, 1])?;
        run(
            Process::new(sync_array_child, (a.clone(),)),
            method,
            "array",
        )?;
        assert_eq!(a.to_vec()?, [0, 1], "{method}");
    }
    m.shutdown()?;
    Ok(())
}

fn sync_namespace_child(ns: NamespaceProxy) -> Child {
    ensure!(ns.get::<i64>("x")? == 0);
    ensure!(ns.get::<i64>("y")? == 1);
    Ok(())
}

// CPython: TestSyncManagerTypes.test_namespace
#[test]
fn sync_types_namespace() -> R {
    let m = Manager::start()?;
    for method in METHODS {
        let ns = m.namespace()?;
        ns.set("x", 0)?;
        ns.set("y", 1)?;
        run(
            Process::new(sync_namespace_child, (ns.clone(),)),
            method,
            "namespace",
        )?;
        assert_eq!(ns.to_string(), "Namespace(x=0, y=1)", "{method}");
    }
    m.shutdown()?;
    Ok(())
}

// ------------------------------------------------------- _TestContainers

// CPython: _TestContainers.test_list_iter
//
// `ListProxy::iter` walks by position like CPython's list proxy (which calls
// `__getitem__` until `IndexError`), fetching `ITER_BATCH` items per round trip: an
// item changed before its batch is fetched shows up in the walk.
#[test]
fn containers_list_iter() -> R {
    let m = Manager::in_thread()?;
    let a = m.list_of::<i64>()?;
    a.extend(0..10)?;
    let mut it = a.iter();
    assert_eq!(
        it.by_ref().collect::<Result<Vec<_>, _>>()?,
        (0..10).collect::<Vec<_>>()
    );
    assert!(it.next().is_none(), "exhausted");
    // modified before the walk reaches it: the walk sees the change
    let mut it = a.iter();
    a.set(0, 100)?;
    assert_eq!(it.next().transpose()?, Some(100));
    // longer than one batch, and grown during the walk
    a.extend(10..(2 * multiproc_manager::ITER_BATCH as i64))?;
    let mut n = 0;
    for x in &a {
        x?;
        n += 1;
        if n == 1 {
            a.append(-1)?;
        }
    }
    assert_eq!(n, 2 * multiproc_manager::ITER_BATCH as usize + 1);
    Ok(())
}

// CPython: _TestContainers.test_dict_iter
//
// `DictProxy::iter` notes the size when made, as CPython's `iter(d)` makes an
// iterator on the server; clearing the dict before the first fetch ends the walk
// with `RuntimeError` (CPython: "dictionary changed size during iteration").
#[test]
fn containers_dict_iter() -> R {
    let m = Manager::in_thread()?;
    let d = m.dict_of::<i64, String>()?;
    let indices: Vec<i64> = (65..70).collect();
    for &i in &indices {
        d.insert(i, char::from(i as u8).to_string())?;
    }
    let mut it = d.iter()?;
    assert_eq!(it.by_ref().collect::<Result<Vec<_>, _>>()?, indices);
    assert!(it.next().is_none(), "exhausted");
    let mut it = d.iter()?;
    d.clear()?;
    let err = it
        .next()
        .ok_or("an error, not the end")?
        .expect_err("an error");
    assert_eq!(
        err.remote_kind(),
        Some(RemoteErrorKind::RuntimeError),
        "{err}"
    );
    assert!(err.to_string().contains("changed size during iteration"));
    assert!(it.next().is_none(), "nothing after the error");
    Ok(())
}

// --------------------------------------------------------------- _TestQueue
//
// CPython runs `_TestQueue` with TYPE = 'manager' too. The `block`/`timeout` flags
// are separate calls here: `put`/`get` wait, `*_timeout` wait at most that long
// (`Duration::ZERO` is `put_nowait`/`get_nowait`, or `block=False`), `try_get` is
// `get_nowait` as an `Option`. No timing assertions.

fn queue_put_child(q: QueueProxy<i64>, can_start: EventProxy, can_continue: EventProxy) -> Child {
    ensure!(can_start.wait_timeout(BOUND)?);
    for i in 1..=6 {
        ensure!(q.get_timeout(BOUND)? == i);
    }
    can_continue.set()?;
    Ok(())
}

fn is_full(e: &Error) -> bool {
    e.remote_kind() == Some(RemoteErrorKind::Full)
}

fn is_empty_error(e: &Error) -> bool {
    e.remote_kind() == Some(RemoteErrorKind::Empty)
}

// CPython: _TestQueue.test_put
#[test]
fn queue_put() -> R {
    let m = Manager::start()?;
    for method in METHODS {
        let q = m.bounded_queue::<i64>(6)?;
        let can_start = m.event()?;
        let can_continue = m.event()?;
        let child = start(
            Process::new(
                queue_put_child,
                (q.clone(), can_start.clone(), can_continue.clone()),
            )
            .start_method(method),
            "queue getter",
        )?;
        assert!(q.is_empty()?);
        q.put(1)?;
        q.put_timeout(2, BOUND)?;
        q.put_timeout(3, Duration::MAX)?; // `put(3, True, None)`
        q.put_timeout(4, Duration::ZERO)?;
        q.put_timeout(5, Duration::ZERO)?;
        q.put_timeout(6, Duration::ZERO)?; // `put_nowait`
        assert!(!q.is_empty()?);
        assert_eq!(q.qsize()?, 6);
        for timeout in [Duration::ZERO, SHORT] {
            let e = q.put_timeout(7, timeout).expect_err("full");
            assert!(is_full(&e), "{e}");
        }
        assert_eq!(q.qsize()?, 6, "a refused put leaves the queue as it was");
        can_start.set()?;
        assert!(can_continue.wait_timeout(BOUND)?, "{method}");
        assert!(q.is_empty()?);
        q.put_timeout(7, Duration::ZERO)?; // not full any more
        finish(child, &format!("queue getter ({method})"))?;
    }
    m.shutdown()?;
    Ok(())
}

fn queue_get_child(q: QueueProxy<i64>, can_start: EventProxy, can_continue: EventProxy) -> Child {
    ensure!(can_start.wait_timeout(BOUND)?);
    for i in 2..=5 {
        q.put(i)?;
    }
    can_continue.set()?;
    Ok(())
}

// CPython: _TestQueue.test_get
#[test]
fn queue_get() -> R {
    let m = Manager::start()?;
    for method in METHODS {
        let q = m.queue_of::<i64>()?;
        let can_start = m.event()?;
        let can_continue = m.event()?;
        let child = start(
            Process::new(
                queue_get_child,
                (q.clone(), can_start.clone(), can_continue.clone()),
            )
            .start_method(method),
            "queue putter",
        )?;
        assert!(q.is_empty()?);
        can_start.set()?;
        assert!(can_continue.wait_timeout(BOUND)?, "{method}");
        assert!(!q.is_empty()?);
        assert_eq!(q.get_timeout(Duration::MAX)?, 2); // `get(True, None)`
        assert_eq!(q.get_timeout(BOUND)?, 3);
        assert_eq!(q.get_timeout(BOUND)?, 4); // `get(True, 1)`: the item is there; a deadline only
        assert_eq!(q.try_get()?, Some(5)); // `get_nowait`
        assert!(q.is_empty()?);
        assert_eq!(q.try_get()?, None);
        for timeout in [Duration::ZERO, SHORT] {
            let e = q.get_timeout(timeout).expect_err("empty");
            assert!(is_empty_error(&e), "{e}");
        }
        finish(child, &format!("queue putter ({method})"))?;
    }
    m.shutdown()?;
    Ok(())
}

fn queue_fork_child(q: QueueProxy<i64>) -> Child {
    for i in 10..20 {
        q.put(i)?;
    }
    Ok(())
}

// CPython: _TestQueue.test_fork (items put before and after a child starts, in order)
#[test]
fn queue_items_from_a_child() -> R {
    let m = Manager::start()?;
    for method in METHODS {
        let q = m.queue_of::<i64>()?;
        for i in 0..10 {
            q.put(i)?;
        }
        let child = start(
            Process::new(queue_fork_child, (q.clone(),)).start_method(method),
            "queue child",
        )?;
        for i in 0..20 {
            assert_eq!(q.get_timeout(BOUND)?, i, "{method}");
        }
        assert_eq!(q.try_get()?, None);
        finish(child, &format!("queue child ({method})"))?;
    }
    m.shutdown()?;
    Ok(())
}

// CPython: _TestQueue.test_qsize
#[test]
fn queue_qsize() -> R {
    let m = Manager::in_thread()?;
    let q = m.queue_of::<i64>()?;
    assert_eq!(q.qsize()?, 0);
    q.put(1)?;
    assert_eq!(q.qsize()?, 1);
    q.put(5)?;
    assert_eq!(q.qsize()?, 2);
    q.get_timeout(BOUND)?;
    assert_eq!(q.qsize()?, 1);
    q.get_timeout(BOUND)?;
    assert_eq!(q.qsize()?, 0);
    Ok(())
}

fn task_done_worker(q: QueueProxy<Option<i64>>) -> Child<u32> {
    let mut done = 0;
    while let Some(_item) = q.get_timeout(BOUND)? {
        q.task_done()?;
        done += 1;
    }
    Ok(done)
}

// CPython: _TestQueue.test_task_done (four workers, the start methods in turn; `None`
// ends a worker)
#[test]
fn queue_task_done() -> R {
    let m = Manager::start()?;
    let q = m.joinable_queue::<Option<i64>>()?;
    let workers = (0..4)
        .map(|i| {
            let method = METHODS[i % METHODS.len()];
            let b = Process::new(task_done_worker, (q.clone(),)).start_method(method);
            start(b, "task_done worker").map(|p| (method, p))
        })
        .collect::<Result<Vec<_>, _>>()?;
    for i in 0..10 {
        q.put(Some(i))?;
    }
    assert!(q.join_timeout(BOUND)?, "every item was marked done");
    for _ in &workers {
        q.put(None)?;
    }
    let mut done = 0;
    for (method, p) in workers {
        done += finish(p, &format!("task_done worker ({method})"))?;
    }
    assert_eq!(done, 10);
    m.shutdown()?;
    Ok(())
}

// ---------------------------------------------------------------- _TestLock

// CPython: _TestLock.test_lock, _TestLock.test_rlock, _TestLock.test_lock_context
// (through the manager's proxies, as CPython runs them with TYPE = 'manager')
#[test]
fn lock_rlock_and_context() -> R {
    let m = Manager::start()?;
    let lock = m.lock()?;
    assert!(lock.acquire(Some(BOUND))?);
    assert!(
        !lock.acquire(Some(Duration::ZERO))?,
        "`acquire(False)` of a held lock"
    );
    lock.release()?;
    let e = lock.release().expect_err("not held");
    assert_eq!(e.remote_kind(), Some(RemoteErrorKind::RuntimeError));

    let rlock = m.rlock()?;
    for _ in 0..3 {
        assert!(rlock.acquire(Some(BOUND))?);
    }
    assert!(rlock.repr()?.contains("count=3"), "{}", rlock.repr()?);
    for _ in 0..3 {
        rlock.release()?;
    }
    let e = rlock.release().expect_err("not held");
    assert_eq!(e.remote_kind(), Some(RemoteErrorKind::RuntimeError));

    // `with self.Lock(): pass`
    {
        let _held = lock.lock()?;
        assert!(lock.locked()?);
    }
    assert!(!lock.locked()?, "the guard released it");
    m.shutdown()?;
    Ok(())
}

// ----------------------------------------------------------- _TestSemaphore

/// `_TestSemaphore._test_semaphore`: the counter follows each acquire and release.
fn semaphore_counts(sem: &SemaphoreProxy) -> R {
    assert_eq!(sem.value()?, 2);
    assert!(sem.acquire(Some(BOUND))?);
    assert_eq!(sem.value()?, 1);
    assert!(sem.acquire(Some(BOUND))?);
    assert_eq!(sem.value()?, 0);
    assert!(!sem.acquire(Some(Duration::ZERO))?);
    assert_eq!(sem.value()?, 0);
    sem.release()?;
    assert_eq!(sem.value()?, 1);
    sem.release()?;
    assert_eq!(sem.value()?, 2);
    Ok(())
}

// CPython: _TestSemaphore.test_semaphore, _TestSemaphore.test_bounded_semaphore
// (CPython leaves the bounded release check commented out for macOS; it is made here)
#[test]
fn semaphore_and_bounded_semaphore() -> R {
    let m = Manager::start()?;
    let sem = m.semaphore(2)?;
    semaphore_counts(&sem)?;
    sem.release()?;
    assert_eq!(sem.value()?, 3);
    sem.release()?;
    assert_eq!(sem.value()?, 4);

    let bounded = m.bounded_semaphore(2)?;
    semaphore_counts(&bounded)?;
    let e = bounded.release().expect_err("over the bound");
    assert_eq!(e.remote_kind(), Some(RemoteErrorKind::ValueError));
    assert_eq!(bounded.value()?, 2);
    m.shutdown()?;
    Ok(())
}

// ----------------------------------------------------------- _TestCondition

/// `_TestCondition.f`: take the condition's lock, say so on `sleeping`, wait (for a
/// notification, or `timeout`), say so on `woken`. Returns whether it was notified.
/// `None` waits for a notification — bounded by [`BOUND`], which reads as "not
/// notified" and fails the tests that expect one.
fn cond_waiter(
    cond: ConditionProxy,
    sleeping: SemaphoreProxy,
    woken: SemaphoreProxy,
    timeout: Option<Duration>,
) -> Child<bool> {
    ensure!(cond.acquire(Some(BOUND))?);
    sleeping.release()?;
    let notified = cond.wait_timeout(timeout.unwrap_or(BOUND))?;
    woken.release()?;
    cond.release()?;
    Ok(notified)
}

/// Waiters on one condition: one child process per start method plus `threads`
/// threads of this process.
struct Waiters {
    procs: Vec<(StartMethod, Process<Child<bool>>)>,
    threads: Vec<std::thread::JoinHandle<Child<bool>>>,
}

impl Waiters {
    fn start(
        cond: &ConditionProxy,
        sleeping: &SemaphoreProxy,
        woken: &SemaphoreProxy,
        timeout: Option<Duration>,
        threads: usize,
    ) -> Result<Waiters, String> {
        let mut w = Waiters {
            procs: Vec::new(),
            threads: Vec::new(),
        };
        for method in METHODS {
            let b = Process::new(
                cond_waiter,
                (cond.clone(), sleeping.clone(), woken.clone(), timeout),
            )
            .start_method(method);
            w.procs.push((method, start(b, "condition waiter")?));
        }
        for _ in 0..threads {
            let args = (cond.clone(), sleeping.clone(), woken.clone(), timeout);
            w.threads.push(std::thread::spawn(move || {
                cond_waiter(args.0, args.1, args.2, args.3)
            }));
        }
        Ok(w)
    }

    fn len(&self) -> usize {
        self.procs.len() + self.threads.len()
    }

    /// Every waiter's result (whether it was notified), after joining it.
    fn join(self) -> Result<Vec<bool>, String> {
        let mut out = Vec::new();
        for (method, p) in self.procs {
            out.push(finish(p, &format!("condition waiter ({method})"))?);
        }
        for t in self.threads {
            let r = t
                .join()
                .map_err(|_| "a waiter thread panicked".to_string())?;
            out.push(r.map_err(|e| format!("waiter thread: {e}"))?);
        }
        Ok(out)
    }
}

/// Takes `n` units from `sem`, each within [`BOUND`].
fn take(sem: &SemaphoreProxy, n: usize, what: &str) -> R {
    for i in 0..n {
        if !sem.acquire(Some(BOUND))? {
            return Err(format!("{what}: only {i} of {n} within {BOUND:?}").into());
        }
    }
    Ok(())
}

// CPython: _TestCondition.test_notify
//
// CPython sleeps and then reads the `woken` counter; here the parent waits for each
// wake-up on the `woken` semaphore and checks that no other waiter woke with it (the
// others wait for a notification only, so the check cannot pass by luck of timing).
// Waiters: one process per start method and one thread.
#[test]
fn condition_notify() -> R {
    let m = Manager::start()?;
    let cond = m.condition()?;
    let sleeping = m.semaphore(0)?;
    let woken = m.semaphore(0)?;
    let w = Waiters::start(&cond, &sleeping, &woken, None, 1)?;
    let n = w.len();
    take(&sleeping, n, "sleeping")?;
    // A waiter released `sleeping` holding the lock, and gives the lock up only by
    // waiting: once the parent holds it, all of them wait.
    assert!(cond.acquire(Some(BOUND))?);
    assert_eq!(waiters(&cond)?, n);
    assert!(
        !woken.acquire(Some(Duration::ZERO))?,
        "nobody woke before a notify"
    );
    cond.release()?;
    for left in (0..n).rev() {
        assert!(cond.acquire(Some(BOUND))?);
        cond.notify(1)?;
        assert_eq!(waiters(&cond)?, left, "notify(1) takes one waiter off");
        cond.release()?;
        take(&woken, 1, "woken")?;
        assert!(
            !woken.acquire(Some(Duration::ZERO))?,
            "notify(1) woke only one"
        );
    }
    assert_eq!(
        w.join()?,
        vec![true; n],
        "every wait ended by a notification"
    );
    assert_eq!(waiters(&cond)?, 0);
    m.shutdown()?;
    Ok(())
}

// CPython: _TestCondition.test_notify_all
// Waiters: one process per start method and three threads, first with a short timeout
// (nobody notifies: they all time out, and the condition has no waiters left), then
// without (one `notify_all` wakes them all).
#[test]
fn condition_notify_all() -> R {
    let m = Manager::start()?;
    let cond = m.condition()?;
    let sleeping = m.semaphore(0)?;
    let woken = m.semaphore(0)?;

    let w = Waiters::start(&cond, &sleeping, &woken, Some(SHORT), 3)?;
    let n = w.len();
    take(&sleeping, n, "sleeping")?;
    take(&woken, n, "timed out")?;
    assert_eq!(w.join()?, vec![false; n], "all timed out, none notified");
    assert_eq!(woken.value()?, 0);
    assert_eq!(waiters(&cond)?, 0, "timed-out waiters leave no trace");

    let w = Waiters::start(&cond, &sleeping, &woken, None, 3)?;
    take(&sleeping, n, "sleeping")?;
    assert!(cond.acquire(Some(BOUND))?);
    assert_eq!(waiters(&cond)?, n);
    assert!(
        !woken.acquire(Some(Duration::ZERO))?,
        "nobody woke before the notify"
    );
    cond.notify_all()?;
    assert_eq!(waiters(&cond)?, 0);
    cond.release()?;
    take(&woken, n, "woken")?;
    assert_eq!(w.join()?, vec![true; n]);
    m.shutdown()?;
    Ok(())
}

// CPython: _TestCondition.test_notify_n
#[test]
fn condition_notify_n() -> R {
    let m = Manager::start()?;
    let cond = m.condition()?;
    let sleeping = m.semaphore(0)?;
    let woken = m.semaphore(0)?;
    let w = Waiters::start(&cond, &sleeping, &woken, None, 3)?;
    let n = w.len();
    assert_eq!(n, 6);
    take(&sleeping, n, "sleeping")?;
    assert!(cond.acquire(Some(BOUND))?);
    cond.notify(2)?;
    assert_eq!(waiters(&cond)?, 4);
    cond.release()?;
    take(&woken, 2, "woken by notify(2)")?;
    assert!(!woken.acquire(Some(Duration::ZERO))?, "notify(2) woke two");

    assert!(cond.acquire(Some(BOUND))?);
    cond.notify(4)?;
    assert_eq!(waiters(&cond)?, 0);
    cond.release()?;
    take(&woken, 4, "woken by notify(4)")?;

    // nobody left: does nothing more
    assert!(cond.acquire(Some(BOUND))?);
    cond.notify(3)?;
    cond.release()?;
    assert_eq!(w.join()?, vec![true; n]);
    assert_eq!(woken.value()?, 0);
    m.shutdown()?;
    Ok(())
}

// CPython: _TestCondition.test_timeout (the result only: no timing assertion)
#[test]
fn condition_timeout() -> R {
    let m = Manager::start()?;
    let cond = m.condition()?;
    assert!(cond.acquire(Some(BOUND))?);
    assert!(!cond.wait_timeout(SHORT)?, "nobody notified");
    assert!(
        cond.repr()?.contains("(locked"),
        "re-acquired after the timeout"
    );
    cond.release()?;
    assert!(cond.repr()?.contains("unlocked"));
    m.shutdown()?;
    Ok(())
}

fn notify_once(cond: ConditionProxy) -> Child {
    ensure!(cond.acquire(Some(BOUND))?);
    cond.notify(1)?;
    cond.release()?;
    Ok(())
}

// Beyond CPython's cases (threading's `Condition._release_save`/`_acquire_restore`,
// which a manager's Condition over its RLock has too): a wait gives up every level of
// a recursively held lock, so another process can notify, and restores them all.
#[test]
fn condition_wait_restores_recursion() -> R {
    let m = Manager::start()?;
    for method in METHODS {
        let cond = m.condition()?;
        assert!(cond.acquire(Some(BOUND))?);
        assert!(cond.acquire(Some(BOUND))?);
        let child = start(
            Process::new(notify_once, (cond.clone(),)).start_method(method),
            "notifier",
        )?;
        assert!(cond.wait_timeout(BOUND)?, "{method}: notified");
        finish(child, &format!("notifier ({method})"))?;
        cond.release()?;
        assert!(cond.repr()?.contains("(locked"), "still held once");
        cond.release()?;
        let e = cond.release().expect_err("not held any more");
        assert_eq!(e.remote_kind(), Some(RemoteErrorKind::RuntimeError));
    }
    m.shutdown()?;
    Ok(())
}

fn waitfor_child(cond: ConditionProxy, state: ValueProxy<i64>) -> Child {
    ensure!(cond.acquire(Some(BOUND))?);
    state.set(0)?;
    cond.notify(1)?;
    let reached = cond.wait_for_timeout(|| state.get().is_ok_and(|v| v == 4), BOUND)?;
    ensure!(reached);
    ensure!(state.get()? == 4);
    cond.release()?;
    Ok(())
}

// CPython: _TestCondition.test_waitfor (the predicate runs in the waiting process,
// reading a shared `Value` through its proxy)
#[test]
fn condition_waitfor() -> R {
    let m = Manager::start()?;
    for method in METHODS {
        let cond = m.condition()?;
        let state = m.value(-1i64)?;
        let child = start(
            Process::new(waitfor_child, (cond.clone(), state.clone())).start_method(method),
            "waitfor",
        )?;
        assert!(cond.acquire(Some(BOUND))?);
        let reached = cond.wait_for_timeout(|| state.get().is_ok_and(|v| v == 0), BOUND)?;
        assert!(reached, "{method}");
        assert_eq!(state.get()?, 0);
        cond.release()?;
        for _ in 0..4 {
            assert!(cond.acquire(Some(BOUND))?);
            state.set(state.get()? + 1)?;
            cond.notify(1)?;
            cond.release()?;
        }
        finish(child, &format!("waitfor ({method})"))?;
    }
    m.shutdown()?;
    Ok(())
}

fn waitfor_timeout_child(
    cond: ConditionProxy,
    state: ValueProxy<i64>,
    started: SemaphoreProxy,
) -> Child<bool> {
    started.release()?;
    ensure!(cond.acquire(Some(BOUND))?);
    let reached = cond.wait_for_timeout(|| state.get().is_ok_and(|v| v == 4), SHORT * 10)?;
    cond.release()?;
    Ok(reached)
}

// CPython: _TestCondition.test_waitfor_timeout (the predicate never holds: the wait
// ends by its timeout and reports false; CPython also checks the elapsed time, which
// this port does not)
#[test]
fn condition_waitfor_timeout() -> R {
    let m = Manager::start()?;
    for method in METHODS {
        let cond = m.condition()?;
        let state = m.value(0i64)?;
        let started = m.semaphore(0)?;
        let child = start(
            Process::new(
                waitfor_timeout_child,
                (cond.clone(), state.clone(), started.clone()),
            )
            .start_method(method),
            "waitfor_timeout",
        )?;
        assert!(started.acquire(Some(BOUND))?);
        for _ in 0..3 {
            assert!(cond.acquire(Some(BOUND))?);
            state.set(state.get()? + 1)?;
            cond.notify(1)?;
            cond.release()?;
        }
        let reached = finish(child, &format!("waitfor_timeout ({method})"))?;
        assert!(!reached, "{method}: state never reached 4");
        assert_eq!(state.get()?, 3);
    }
    m.shutdown()?;
    Ok(())
}

fn wait_result_child(cond: ConditionProxy) -> Child {
    ensure!(cond.acquire(Some(BOUND))?);
    cond.notify(1)?;
    cond.release()?;
    Ok(())
}

// CPython: _TestCondition.test_wait_result (without its SIGINT half, which checks
// that Python's `KeyboardInterrupt` interrupts a wait)
#[test]
fn condition_wait_result() -> R {
    let m = Manager::start()?;
    for method in METHODS {
        let cond = m.condition()?;
        assert!(cond.acquire(Some(BOUND))?);
        assert!(!cond.wait_timeout(Duration::ZERO)?);
        assert!(!cond.wait_timeout(SHORT)?);
        // the child can only notify once this process waits (it needs the lock)
        let child = start(
            Process::new(wait_result_child, (cond.clone(),)).start_method(method),
            "wait_result",
        )?;
        assert!(cond.wait_timeout(BOUND)?, "{method}: notified by the child");
        cond.release()?;
        finish(child, &format!("wait_result ({method})"))?;
    }
    m.shutdown()?;
    Ok(())
}

// --------------------------------------------------------------- _TestEvent

fn event_setter(ev: EventProxy) -> Child {
    ev.set()?;
    Ok(())
}

// CPython: _TestEvent.test_event (results only, no timing; the setter is a child process
// under each start method)
#[test]
fn event_wait_and_set() -> R {
    let m = Manager::start()?;
    let ev = m.event()?;
    assert!(!ev.is_set()?);
    assert!(!ev.wait_timeout(Duration::ZERO)?);
    assert!(!ev.wait_timeout(SHORT)?);
    ev.set()?;
    assert!(ev.is_set()?);
    assert!(ev.wait_timeout(BOUND)?);
    assert!(ev.wait_timeout(SHORT)?);
    for method in METHODS {
        ev.clear()?;
        assert!(!ev.is_set()?);
        let child = start(
            Process::new(event_setter, (ev.clone(),)).start_method(method),
            "event setter",
        )?;
        assert!(ev.wait_timeout(BOUND)?, "{method}: set by the child");
        finish(child, &format!("event setter ({method})"))?;
    }
    m.shutdown()?;
    Ok(())
}

// CPython: _TestEvent.test_repr
//
// Differs: CPython's manager proxy prints `<EventProxy object, typeid 'Event' at …>`.
// Ours prints the server object's state through `Display` (what `print` shows for the
// other proxies too); `Debug` names the proxy type and typeid.
#[test]
fn event_repr() -> R {
    let m = Manager::in_thread()?;
    let ev = m.event()?;
    assert_eq!(ev.to_string(), "<Event(unset)>");
    ev.set()?;
    assert_eq!(ev.to_string(), "<Event(set)>");
    ev.clear()?;
    assert_eq!(ev.to_string(), "<Event(unset)>");
    let debug = format!("{ev:?}");
    assert!(
        debug.starts_with("EventProxy") && debug.contains("\"Event\""),
        "{debug}"
    );
    Ok(())
}

// ------------------------------------------------------------- _TestBarrier
//
// CPython's `Bunch` runs N-1 processes plus the test's own thread; the counters are
// manager lists (its `DummyList` for TYPE = 'manager'). Here the N-1 = 4 processes take
// the start methods in turn. Not ported: `test_action` (a barrier action is code, which
// never travels to the server), `test_timeout`/`test_default_timeout` (they depend on a
// party sleeping past a timeout, and our barrier has no default timeout),
// `test_thousand` (CPython skips it for managers too).

const N: u32 = 5;

/// Runs `f(args)` in N-1 child processes (start methods in turn) and in this thread,
/// then joins the children; any failure is returned.
fn bunch<A, F>(f: F, args: &A) -> R
where
    A: Clone + Serialize + DeserializeOwned + Send + 'static,
    F: Fn(A) -> Child + multiproc_process::Target<(A,), Output = Child>,
{
    let mut children = Vec::new();
    for i in 0..(N - 1) as usize {
        let method = METHODS[i % METHODS.len()];
        let b = Process::new(f, (args.clone(),)).start_method(method);
        children.push((method, start(b, "barrier party")?));
    }
    let mine = f(args.clone());
    let mut failures = Vec::new();
    for (method, p) in children {
        if let Err(e) = finish(p, &format!("barrier party ({method})")) {
            failures.push(e);
        }
    }
    if let Err(e) = mine {
        failures.push(format!("this process: {e}"));
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("; ").into())
    }
}

fn multipass(args: (BarrierProxy, ListProxy<bool>, ListProxy<bool>, u32)) -> Child {
    let (barrier, r0, r1, passes) = args;
    let m = barrier.parties()?;
    ensure!(m == N);
    for i in 0..passes {
        r0.append(true)?;
        ensure!(r1.len()? == (i * m) as usize);
        barrier.wait_timeout(BOUND)?;
        r1.append(true)?;
        ensure!(r0.len()? == ((i + 1) * m) as usize);
        barrier.wait_timeout(BOUND)?;
    }
    ensure!(barrier.n_waiting()? == 0);
    ensure!(!barrier.broken()?);
    Ok(())
}

// CPython: _TestBarrier.test_barrier, _TestBarrier.test_barrier_10
#[test]
fn barrier_lockstep() -> R {
    let m = Manager::start()?;
    for passes in [1, 10] {
        let b = m.barrier(u64::from(N))?;
        let r0 = m.list_of::<bool>()?;
        let r1 = m.list_of::<bool>()?;
        bunch(multipass, &(b.clone(), r0.clone(), r1.clone(), passes))?;
        assert_eq!(r0.len()?, (N * passes) as usize);
        assert_eq!(r1.len()?, (N * passes) as usize);
    }
    m.shutdown()?;
    Ok(())
}

fn wait_return_f(args: (BarrierProxy, QueueProxy<u32>)) -> Child {
    let (barrier, q) = args;
    q.put(barrier.wait_timeout(BOUND)?)?;
    Ok(())
}

// CPython: _TestBarrier.test_wait_return (exactly one party gets index 0; here also:
// the indices are 0..N, each once)
#[test]
fn barrier_wait_return() -> R {
    let m = Manager::start()?;
    let b = m.barrier(u64::from(N))?;
    let q = m.queue_of::<u32>()?;
    bunch(wait_return_f, &(b, q.clone()))?;
    let mut got: Vec<u32> = (0..N)
        .map(|_| q.get_timeout(BOUND))
        .collect::<Result<_, _>>()?;
    got.sort_unstable();
    assert_eq!(got, (0..N).collect::<Vec<_>>());
    m.shutdown()?;
    Ok(())
}

fn is_broken(e: &Error) -> bool {
    e.remote_kind() == Some(RemoteErrorKind::BrokenBarrier)
}

fn abort_f(args: (BarrierProxy, ListProxy<bool>, ListProxy<bool>)) -> Child {
    let (barrier, r1, r2) = args;
    let i = barrier.wait_timeout(BOUND)?;
    if i == N / 2 {
        // CPython raises RuntimeError here and aborts in its handler
        barrier.abort()?;
        return Ok(());
    }
    match barrier.wait_timeout(BOUND) {
        Ok(_) => r1.append(true)?,
        Err(e) if is_broken(&e) => r2.append(true)?,
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

// CPython: _TestBarrier.test_abort
#[test]
fn barrier_abort() -> R {
    let m = Manager::start()?;
    let b = m.barrier(u64::from(N))?;
    let r1 = m.list_of::<bool>()?;
    let r2 = m.list_of::<bool>()?;
    bunch(abort_f, &(b.clone(), r1.clone(), r2.clone()))?;
    assert_eq!(r1.len()?, 0);
    assert_eq!(r2.len()?, (N - 1) as usize);
    assert!(b.broken()?);
    // threading.Barrier: nobody counts as waiting in a broken barrier
    assert_eq!(b.n_waiting()?, 0, "{}", b.repr()?);
    assert!(b.repr()?.contains("waiting=0"), "{}", b.repr()?);
    m.shutdown()?;
    Ok(())
}

fn reset_f(
    args: (
        BarrierProxy,
        ListProxy<bool>,
        ListProxy<bool>,
        ListProxy<bool>,
    ),
) -> Child {
    let (barrier, r1, r2, r3) = args;
    let i = barrier.wait_timeout(BOUND)?;
    if i == N / 2 {
        // wait (bounded) until all the others are in the barrier, then reset it
        let deadline = Instant::now() + BOUND;
        while barrier.n_waiting()? < N - 1 {
            ensure!(Instant::now() < deadline);
            std::thread::sleep(Duration::from_millis(1));
        }
        barrier.reset()?;
    } else {
        match barrier.wait_timeout(BOUND) {
            Ok(_) => r1.append(true)?,
            Err(e) if is_broken(&e) => r2.append(true)?,
            Err(e) => return Err(e.into()),
        }
    }
    // pass it again
    barrier.wait_timeout(BOUND)?;
    r3.append(true)?;
    Ok(())
}

// CPython: _TestBarrier.test_reset
#[test]
fn barrier_reset() -> R {
    let m = Manager::start()?;
    let b = m.barrier(u64::from(N))?;
    let (r1, r2, r3) = (m.list_of()?, m.list_of()?, m.list_of()?);
    bunch(reset_f, &(b, r1.clone(), r2.clone(), r3.clone()))?;
    assert_eq!(r1.len()?, 0);
    assert_eq!(r2.len()?, (N - 1) as usize);
    assert_eq!(r3.len()?, N as usize);
    m.shutdown()?;
    Ok(())
}

type AbortReset = (
    BarrierProxy,
    BarrierProxy,
    ListProxy<bool>,
    ListProxy<bool>,
    ListProxy<bool>,
);

fn abort_and_reset_f(args: AbortReset) -> Child {
    let (barrier, barrier2, r1, r2, r3) = args;
    let i = barrier.wait_timeout(BOUND)?;
    if i == N / 2 {
        barrier.abort()?;
    } else {
        match barrier.wait_timeout(BOUND) {
            Ok(_) => r1.append(true)?,
            Err(e) if is_broken(&e) => r2.append(true)?,
            Err(e) => return Err(e.into()),
        }
    }
    // everyone has left the broken barrier before the reset, nobody enters before it
    if barrier2.wait_timeout(BOUND)? == N / 2 {
        barrier.reset()?;
    }
    barrier2.wait_timeout(BOUND)?;
    barrier.wait_timeout(BOUND)?;
    r3.append(true)?;
    Ok(())
}

// CPython: _TestBarrier.test_abort_and_reset
#[test]
fn barrier_abort_and_reset() -> R {
    let m = Manager::start()?;
    let b = m.barrier(u64::from(N))?;
    let b2 = m.barrier(u64::from(N))?;
    let (r1, r2, r3) = (m.list_of()?, m.list_of()?, m.list_of()?);
    bunch(
        abort_and_reset_f,
        &(b, b2, r1.clone(), r2.clone(), r3.clone()),
    )?;
    assert_eq!(r1.len()?, 0);
    assert_eq!(r2.len()?, (N - 1) as usize);
    assert_eq!(r3.len()?, N as usize);
    m.shutdown()?;
    Ok(())
}

// Beyond CPython's cases (threading.Barrier's `n_waiting`, which CPython's manager
// proxy forwards): a party that times out breaks the barrier for the one already
// waiting, and once broken nobody counts as waiting — during and after the others'
// exit — until a reset. (Regression: parties that left a broken barrier stayed counted.)
#[test]
fn barrier_n_waiting_after_a_timeout() -> R {
    let m = Manager::in_thread()?;
    let b = m.barrier(3)?;
    let b2 = b.clone();
    let waiter = std::thread::spawn(move || b2.wait_timeout(BOUND));
    let deadline = Instant::now() + BOUND;
    while b.n_waiting()? < 1 {
        assert!(Instant::now() < deadline, "the waiter never arrived");
        std::thread::sleep(Duration::from_millis(1));
    }
    let e = b.wait_timeout(SHORT).expect_err("a party is missing");
    assert!(is_broken(&e), "{e}");
    let other = waiter.join().map_err(|_| "waiter panicked")?;
    assert!(matches!(other, Err(ref e) if is_broken(e)), "{other:?}");
    assert_eq!(b.info()?, (3, 0, true));
    b.reset()?;
    assert_eq!(b.info()?, (3, 0, false));
    // and it works again, with nobody left over from before
    let b2 = b.clone();
    let b3 = b.clone();
    let t1 = std::thread::spawn(move || b2.wait_timeout(BOUND));
    let t2 = std::thread::spawn(move || b3.wait_timeout(BOUND));
    let mine = b.wait_timeout(BOUND)?;
    let mut idx = vec![
        mine,
        t1.join().map_err(|_| "panicked")??,
        t2.join().map_err(|_| "panicked")??,
    ];
    idx.sort_unstable();
    assert_eq!(idx, [0, 1, 2]);
    Ok(())
}

// CPython: _TestBarrier.test_single_thread
#[test]
fn barrier_single_party() -> R {
    let m = Manager::in_thread()?;
    let b = m.barrier(1)?;
    assert_eq!(b.wait_timeout(BOUND)?, 0);
    assert_eq!(b.wait_timeout(BOUND)?, 0);
    assert!(!b.broken()?);
    Ok(())
}

// ----------------------------------------------------------- _TestMyManager
//
// CPython registers `FooBar` twice — as 'Foo' (public methods exposed: f, g) and as
// 'Bar' (exposed=('f', '_h')) — and a generator as 'baz' behind an iterator proxy.
// Here a registered type's `call` is its exposure list: a method it does not answer is
// `NoSuchMethod` (CPython's `RemoteError` for an unexposed `_callmethod`), and an
// error it returns keeps its kind (CPython re-raises the `ValueError`).

fn foobar(method: &str) -> Result<Value, RemoteError> {
    match method {
        "f" => Ok("f()".into()),
        "g" => Err(RemoteError::new(RemoteErrorKind::ValueError, "")),
        "_h" => Ok("_h()".into()),
        _ => Err(RemoteError::new(RemoteErrorKind::NoSuchMethod, method)),
    }
}

fn no_method(method: &str) -> RemoteError {
    RemoteError::new(
        RemoteErrorKind::NoSuchMethod,
        format!("'{method}' is not exposed"),
    )
}

/// 'Foo': the public methods of `FooBar`.
struct Foo;
impl Shared for Foo {
    const TYPEID: &'static str = "Foo";
    fn new(_: Vec<Value>) -> Result<Self, RemoteError> {
        Ok(Foo)
    }
    fn call(&mut self, method: &str, _: Vec<Value>) -> Result<Value, RemoteError> {
        if method.starts_with('_') {
            return Err(no_method(method));
        }
        foobar(method)
    }
}

/// 'Bar': `FooBar` with `exposed=('f', '_h')`.
struct Bar;
impl Shared for Bar {
    const TYPEID: &'static str = "Bar";
    fn new(_: Vec<Value>) -> Result<Self, RemoteError> {
        Ok(Bar)
    }
    fn call(&mut self, method: &str, _: Vec<Value>) -> Result<Value, RemoteError> {
        match method {
            "f" | "_h" => foobar(method),
            _ => Err(no_method(method)),
        }
    }
}

/// 'baz': the generator `i*i for i in range(10)`, with `__next__` exposed; the end is
/// `None` (Rust's `Iterator::next`) rather than `StopIteration`.
struct Baz(i64);
impl Shared for Baz {
    const TYPEID: &'static str = "baz";
    fn new(_: Vec<Value>) -> Result<Self, RemoteError> {
        Ok(Baz(0))
    }
    fn call(&mut self, method: &str, _: Vec<Value>) -> Result<Value, RemoteError> {
        match method {
            "__next__" if self.0 < 10 => {
                self.0 += 1;
                Ok(((self.0 - 1) * (self.0 - 1)).into())
            }
            "__next__" => Ok(Value::None),
            _ => Err(no_method(method)),
        }
    }
}

/// CPython's `IteratorProxy`.
struct BazIter(Proxy<Baz>);
impl Iterator for BazIter {
    type Item = Result<i64, Error>;
    fn next(&mut self) -> Option<Self::Item> {
        self.0.call::<Option<i64>>("__next__", ()).transpose()
    }
}

/// Holds a reference to another object of its manager and hands it out: the analogue
/// of `method_to_typeid`, a method whose result is a proxy rather than a copy.
struct Holder(Value);
impl Shared for Holder {
    const TYPEID: &'static str = "Holder";
    fn new(_: Vec<Value>) -> Result<Self, RemoteError> {
        Ok(Holder(Value::None))
    }
    fn call(&mut self, method: &str, args: Vec<Value>) -> Result<Value, RemoteError> {
        match (method, args.into_iter().next()) {
            ("keep", Some(v @ Value::Proxy(_))) => {
                self.0 = v;
                Ok(Value::None)
            }
            ("keep", _) => Err(RemoteError::new(
                RemoteErrorKind::TypeError,
                "keep() takes a proxy",
            )),
            ("get", _) => Ok(self.0.clone()),
            _ => Err(no_method(method)),
        }
    }
}

struct MyManager;
impl Setup for MyManager {
    fn registry() -> Registry {
        let mut r = Registry::new();
        r.register::<Foo>()
            .register::<Bar>()
            .register::<Baz>()
            .register::<Holder>();
        r
    }
}

fn is_no_method<T: fmt::Debug>(r: Result<T, Error>) -> bool {
    matches!(r, Err(ref e) if e.remote_kind() == Some(RemoteErrorKind::NoSuchMethod))
}

/// `_TestMyManager.common`.
fn mymanager_common(m: &Manager) -> R {
    let foo_obj = m.create::<Foo>(())?;
    let bar_obj = m.create::<Bar>(())?;
    let baz_obj = m.create::<Baz>(())?;

    let exposed = |call: &dyn Fn(&str) -> Result<Value, Error>| -> Vec<&'static str> {
        ["f", "g", "_h"]
            .into_iter()
            .filter(|name| !is_no_method(call(name)))
            .collect()
    };
    assert_eq!(exposed(&|n| foo_obj.call::<Value>(n, ())), ["f", "g"]);
    assert_eq!(exposed(&|n| bar_obj.call::<Value>(n, ())), ["f", "_h"]);

    assert_eq!(foo_obj.call::<String>("f", ())?, "f()");
    let e = foo_obj.call::<Value>("g", ()).expect_err("g raises");
    assert_eq!(e.remote_kind(), Some(RemoteErrorKind::ValueError), "{e}");
    assert!(is_no_method(foo_obj.call::<String>("_h", ())));

    assert_eq!(bar_obj.call::<String>("f", ())?, "f()");
    assert_eq!(bar_obj.call::<String>("_h", ())?, "_h()");

    let squares: Vec<i64> = BazIter(baz_obj).collect::<Result<_, _>>()?;
    assert_eq!(squares, (0..10).map(|i| i * i).collect::<Vec<_>>());

    // method_to_typeid's point: a method's result is a live proxy, not a copy
    let holder = m.create::<Holder>(())?;
    let l = m.list_of::<i64>()?;
    holder.call::<()>("keep", (&l,))?;
    let again: ListProxy<i64> = holder.call("get", ())?;
    again.append(7)?;
    assert_eq!(l.to_vec()?, [7]);
    assert!(matches!(
        holder.call::<DictProxy>("get", ()),
        Err(Error::Type(_))
    ));
    Ok(())
}

/// A registered type whose method panics (Rust's closest thing to the exception
/// CPython's `FooBar.g` raises).
struct Panicky(i64);
impl Shared for Panicky {
    const TYPEID: &'static str = "Panicky";
    fn new(_: Vec<Value>) -> Result<Self, RemoteError> {
        Ok(Panicky(0))
    }
    fn call(&mut self, method: &str, _: Vec<Value>) -> Result<Value, RemoteError> {
        match method {
            "incr" => {
                self.0 += 1;
                Ok(self.0.into())
            }
            "boom" => panic!("boom in the server"),
            _ => Err(no_method(method)),
        }
    }
}

// CPython: _TestMyManager.common (`assertRaises(ValueError, foo.g)`: a method that
// raises reports it to the caller, and the manager keeps serving). In Rust the failing
// method may also panic: the caller gets an error naming the panic — not a hang — and
// the object, the caller's connection and the other clients go on.
#[test]
fn panicking_method_is_an_error_not_a_hang() -> R {
    let mut reg = Registry::new();
    reg.register::<Panicky>();
    let m = Manager::in_thread_with(reg)?;
    let p = m.create::<Panicky>(())?;
    assert_eq!(p.call::<i64>("incr", ())?, 1);
    let p2 = p.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(p2.call::<Value>("boom", ()));
    });
    let r = rx
        .recv_timeout(BOUND)
        .map_err(|_| "the caller of a panicking method hangs")?;
    let e = r.expect_err("a panic is an error");
    assert_eq!(e.remote_kind(), Some(RemoteErrorKind::Custom), "{e}");
    assert!(e.to_string().contains("boom in the server"), "{e}");
    assert_eq!(
        p.call::<i64>("incr", ())?,
        2,
        "the same connection and object go on"
    );
    let other = Manager::connect(m.address().cloned().ok_or("address")?, m.authkey())?;
    other.ping()?;
    Ok(())
}

fn foo_in_child(foo_obj: Proxy<Foo>, bar_obj: Proxy<Bar>) -> Child<String> {
    let e = bar_obj.call::<Value>("g", ()).expect_err("not exposed");
    ensure!(e.remote_kind() == Some(RemoteErrorKind::NoSuchMethod));
    Ok(foo_obj.call::<String>("f", ())?)
}

// CPython: _TestMyManager.test_mymanager, _TestMyManager.test_mymanager_context,
// _TestMyManager.test_mymanager_context_prestarted
//
// The server is a process started with each start method; `shutdown()` (and, for the
// `with` forms, dropping the manager) stops it and reaps it. Beyond CPython, proxies of
// the custom types also go to child processes. Not checked: the server's exit code
// (CPython asserts 0 or -SIGTERM; `Manager` does not expose it).
#[test]
fn mymanager() -> R {
    for method in METHODS {
        let m = Manager::start_with::<MyManager>(Some(method))?;
        let pid = m.pid().ok_or("a started manager has a pid")?;
        mymanager_common(&m)?;
        let foo_obj = m.create::<Foo>(())?;
        let bar_obj = m.create::<Bar>(())?;
        for child in METHODS {
            let got = run(
                Process::new(foo_in_child, (foo_obj.clone(), bar_obj.clone())),
                child,
                "custom proxies in a child",
            )?;
            assert_eq!(got, "f()");
        }
        m.shutdown()?;
        assert!(reaped(pid), "{method}: the server process is reaped");
        assert!(matches!(
            foo_obj.call::<String>("f", ()),
            Err(Error::ManagerGone(_))
        ));

        // the `with manager:` forms: dropping the manager shuts its server down
        let m = Manager::start_with::<MyManager>(Some(method))?;
        let pid = m.pid().ok_or("a started manager has a pid")?;
        mymanager_common(&m)?;
        drop(m);
        assert!(
            reaped(pid),
            "{method}: dropped, the server process is reaped"
        );
    }
    Ok(())
}

// ------------------------------------------------------- _TestRemoteManager

/// CPython's value list: text in three scripts, bytes, None, a bool, a float.
fn remote_values() -> Value {
    Value::Tuple(vec![
        "hello world".into(),
        Value::None,
        true.into(),
        2.25.into(),
        "hall\u{e5} v\u{e4}rlden".into(),
        "\u{43f}\u{440}\u{438}\u{432}\u{456}\u{442} \u{441}\u{432}\u{456}\u{442}".into(),
        Value::Bytes(b"hall\xe5 v\xe4rlden".to_vec()),
    ])
}

/// `_TestRemoteManager._putter`: knows only the address and the key (CPython's
/// `QueueManager2`, which registers the name without a callable).
fn remote_putter(addr: String, key: Vec<u8>) -> Child {
    let m = Manager::connect(
        Address::Tcp(addr.parse().map_err(|e| ChildFail(format!("{e}")))?),
        Some(&key),
    )?;
    let q: QueueProxy = m.lookup("get_queue")?;
    q.put(remote_values())?;
    Ok(())
}

// CPython: _TestRemoteManager.test_remote
//
// Served over TCP with a random key; each putter is a child process (one per start
// method) that connects by address; a second client reads. Differs: the values travel
// as they are (CPython's xmlrpclib serializer turns the tuple into a list), and the
// final `queue.put(time.sleep)` has no analogue: a function is not a `Value`, which the
// compiler enforces.
#[test]
fn remote_manager() -> R {
    let key = multiproc_manager::random_authkey()?;
    let server = Manager::serve_in_thread(
        Address::Tcp("127.0.0.1:0".parse()?),
        Some(&key),
        Registry::new(),
    )?;
    let Some(Address::Tcp(addr)) = server.address().cloned() else {
        return Err("no tcp address".into());
    };
    server.publish("get_queue", &server.queue()?)?;
    let manager2 = Manager::connect(Address::Tcp(addr), Some(&key))?;
    let q: QueueProxy = manager2.lookup("get_queue")?;
    for method in METHODS {
        run(
            Process::new(remote_putter, (addr.to_string(), key.clone())),
            method,
            "remote putter",
        )?;
        let got = q.get_timeout(BOUND)?;
        assert_eq!(got, remote_values(), "{method}");
        assert_eq!(
            got.to_string(),
            "('hello world', None, True, 2.25, 'hallå världen', 'привіт світ', \
             b'hall\\xe5 v\\xe4rlden')",
            "Python's repr of the tuple"
        );
    }
    server.shutdown()?;
    Ok(())
}

// ------------------------------------------------------ _TestManagerRestart

/// A manager server in a process of its own at `addr` (`QueueManager.start()`): binds,
/// reports the bound address on `ready`, serves until a client shuts it down.
fn restart_server(addr: String, key: Vec<u8>, ready: multiproc_ipc::Connection) -> Child {
    let addr: std::net::SocketAddr = addr.parse().map_err(|e| ChildFail(format!("{e}")))?;
    let listener = match Server::bind(Address::Tcp(addr), Some(&key)) {
        Ok(l) => l,
        Err(e) => {
            ready.send(&Err::<String, String>(e.to_string()))?;
            return Err(e.into());
        }
    };
    let bound = match listener.address() {
        Address::Tcp(a) => a.to_string(),
        other => return Err(ChildFail(format!("bound to {other:?}"))),
    };
    ready.send(&Ok::<String, String>(bound))?;
    Server::new(Registry::new()).serve_on(&listener)?;
    Ok(())
}

fn restart_putter(addr: String, key: Vec<u8>) -> Child {
    let m = Manager::connect(
        Address::Tcp(addr.parse().map_err(|e| ChildFail(format!("{e}")))?),
        Some(&key),
    )?;
    let q: QueueProxy<String> = m.lookup("get_queue")?;
    q.put("hello world".to_string())?;
    Ok(())
}

/// Starts [`restart_server`] under `method` at `addr`; returns it and its address.
fn start_restart_server(
    addr: &str,
    key: &[u8],
    method: StartMethod,
) -> Result<(Process<Child>, String), Box<dyn std::error::Error>> {
    let (mine, theirs) = multiproc_ipc::Pipe::duplex()?;
    let p = start(
        Process::new(restart_server, (addr.to_string(), key.to_vec(), theirs)).start_method(method),
        "restart server",
    )?;
    match mine.recv_timeout::<Result<String, String>>(BOUND) {
        Ok(Ok(bound)) => Ok((p, bound)),
        other => {
            let _ = p.kill();
            let _ = p.join_timeout(BOUND);
            Err(format!("{method}: the server did not come up: {other:?}").into())
        }
    }
}

// CPython: _TestManagerRestart.test_rapid_restart
//
// A server process at 127.0.0.1:<any port>; a child puts through it; the server is
// shut down, and new servers (the other start methods) bind the very same port at
// once (CPython retries once on EADDRINUSE; the listener sets SO_REUSEADDR, so no
// retry is needed or made).
#[test]
fn rapid_restart() -> R {
    let key = multiproc_manager::random_authkey()?;
    let (server, addr) = start_restart_server("127.0.0.1:0", &key, StartMethod::Fork)?;
    let m = Manager::connect(Address::Tcp(addr.parse()?), Some(&key))?;
    let q = m.queue_of::<String>()?;
    m.publish("get_queue", &q)?;
    run(
        Process::new(restart_putter, (addr.clone(), key.clone())),
        StartMethod::Spawn,
        "putter",
    )?;
    assert_eq!(q.get_timeout(BOUND)?, "hello world");
    m.shutdown()?;
    finish(server, "first server")?;

    for method in [StartMethod::Spawn, StartMethod::ForkServer] {
        let (server, again) = start_restart_server(&addr, &key, method)?;
        assert_eq!(again, addr, "{method}: the same address");
        let m = Manager::connect(Address::Tcp(addr.parse()?), Some(&key))?;
        let d = m.dict()?;
        d.insert("method", method.to_string())?;
        assert_eq!(d.get_item("method")?, Value::from(method.to_string()));
        m.shutdown()?;
        finish(server, &format!("restarted server ({method})"))?;
    }
    Ok(())
}

// --------------------------------------------------------- TestInitializers

static INIT_PID: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// Answers which process ran the set-up and which one serves.
struct InitProbe;
impl Shared for InitProbe {
    const TYPEID: &'static str = "InitProbe";
    fn new(_: Vec<Value>) -> Result<Self, RemoteError> {
        Ok(InitProbe)
    }
    fn call(&mut self, method: &str, _: Vec<Value>) -> Result<Value, RemoteError> {
        match method {
            "pids" => Ok(Value::from((
                INIT_PID.load(std::sync::atomic::Ordering::SeqCst),
                std::process::id(),
            ))),
            _ => Err(no_method(method)),
        }
    }
}

/// The manager's "initializer": [`Setup::registry`] runs in the server process before it
/// serves.
struct Initialized;
impl Setup for Initialized {
    fn registry() -> Registry {
        INIT_PID.store(std::process::id(), std::sync::atomic::Ordering::SeqCst);
        let mut r = Registry::new();
        r.register::<InitProbe>();
        r
    }
}

// CPython: TestInitializers.test_manager_initializer
//
// Differs: `SyncManager.start(initializer, initargs)` runs any callable with pickled
// arguments in the server process (a non-callable is a `TypeError` at run time). Ours
// is the `Setup` type parameter of `Manager::start_with`, checked at compile time and
// run in the server process before it serves, without arguments (code and proxies do
// not travel to the server's start-up). Checked: it ran, in the server process, under
// every start method, and not in this one.
#[test]
fn manager_initializer() -> R {
    for method in METHODS {
        let m = Manager::start_with::<Initialized>(Some(method))?;
        let server_pid = m.pid().ok_or("a started manager has a pid")?;
        let probe = m.create::<InitProbe>(())?;
        let (init_pid, serving_pid): (u32, u32) = probe.call("pids", ())?;
        assert_eq!(
            init_pid, server_pid,
            "{method}: the set-up ran in the server"
        );
        assert_eq!(serving_pid, server_pid, "{method}");
        assert_ne!(server_pid, std::process::id());
        m.shutdown()?;
        assert!(reaped(server_pid), "{method}");
    }
    assert_eq!(
        INIT_PID.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "never in this process"
    );
    Ok(())
}

// A registered type the client-side code knows, but this test binary's `Manager::start`
// does not register: the server says so (`UnknownType`), as CPython's `AttributeError`
// on the manager class would. (Beyond CPython's cases, checked for the process server.)
#[test]
fn unregistered_type_on_a_process_server() -> R {
    let m = Manager::start()?;
    let e = m.create::<Foo>(()).expect_err("not registered");
    assert_eq!(e.remote_kind(), Some(RemoteErrorKind::UnknownType), "{e}");
    m.shutdown()?;
    Ok(())
}
