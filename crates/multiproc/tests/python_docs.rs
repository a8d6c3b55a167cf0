//! The examples of CPython's `multiprocessing` documentation, ported through the facade
//! the way a Python user would write them, each under every start method where the
//! documentation's example starts processes. A comment names the documentation section.

use std::time::Duration;

use multiproc::ipc::{Address, Client, Listener};
use multiproc::{
    Array, Connection, Lock, Pipe, Pool, Process, Queue, StartMethod, Value, current_process,
    get_context, parent_process,
};

type R = Result<(), Box<dyn std::error::Error>>;

const METHODS: [StartMethod; 3] = [
    StartMethod::Fork,
    StartMethod::Spawn,
    StartMethod::ForkServer,
];
const BOUND: Duration = Duration::from_secs(120);

fn f(x: i64) -> i64 {
    x * x
}

/// "Introduction": `with Pool(5) as p: print(p.map(f, [1, 2, 3]))`.
#[test]
fn introduction_pool_map() -> R {
    for method in METHODS {
        let p = Pool::builder().processes(5).start_method(method).build()?;
        assert_eq!(p.map(f, [1, 2, 3])?, [1, 4, 9], "{method}");
    }
    Ok(())
}

/// `info()`: the child's parent is this process; its name is not the main process's.
fn info(_title: String) -> (u32, Option<u32>, String) {
    (
        std::process::id(),
        parent_process().map(|p| p.pid()),
        current_process().name().to_string(),
    )
}

/// "The Process class": `p = Process(target=f, args=('bob',)); p.start(); p.join()`,
/// with the `info()` helper printing the parent and own pid.
#[test]
fn process_class_and_parent_pid() -> R {
    assert!(
        parent_process().is_none(),
        "the main process has no parent_process()"
    );
    for method in METHODS {
        let p = Process::new(info, ("function f".to_string(),))
            .start_method(method)
            .start()?;
        let child_pid = p.pid();
        let (pid, ppid, name) = p.join_value()?;
        assert_eq!(pid, child_pid, "{method}");
        assert_eq!(ppid, Some(std::process::id()), "{method}");
        assert_ne!(name, "MainProcess", "{method}");
    }
    Ok(())
}

fn put_hello(q: Queue<String>) -> Result<(), String> {
    q.put("hello".to_string()).map_err(|e| e.to_string())
}

/// "Contexts and start methods": `ctx = mp.get_context('spawn'); q = ctx.Queue();
/// p = ctx.Process(target=foo, args=(q,))`.
#[test]
fn contexts_and_start_methods() -> R {
    for method in METHODS {
        let ctx = get_context(Some(method));
        assert_eq!(ctx.start_method(), method);
        let q = Queue::new()?;
        let p = ctx.process(put_hello, (q.clone(),)).start()?;
        assert_eq!(q.get_timeout(BOUND)?, "hello", "{method}");
        p.join_value()??;
    }
    Ok(())
}

type Item = (i64, Option<i64>, String);

fn put_item(q: Queue<Item>) -> Result<(), String> {
    q.put((42, None, "hello".into())).map_err(|e| e.to_string())
}

fn send_item(conn: Connection) -> Result<(), String> {
    conn.send(&(42, None::<i64>, "hello".to_string()))
        .map_err(|e| e.to_string())
    // dropping `conn` is `conn.close()`
}

/// "Exchanging objects between processes": Queues and Pipes carry `[42, None, 'hello']`.
#[test]
fn exchanging_objects_queue_and_pipe() -> R {
    for method in METHODS {
        let q = Queue::new()?;
        let p = Process::new(put_item, (q.clone(),))
            .start_method(method)
            .start()?;
        assert_eq!(q.get_timeout(BOUND)?, (42, None, "hello".to_string()));
        p.join_value()??;

        let (parent_conn, child_conn) = Pipe::duplex()?;
        let p = Process::new(send_item, (child_conn,))
            .start_method(method)
            .start()?;
        let got: Item = parent_conn.recv_timeout(BOUND)?;
        assert_eq!(got, (42, None, "hello".to_string()), "{method}");
        p.join_value()??;
        // the child closed its end (and our copy went with the argument): EOF
        assert!(matches!(
            parent_conn.recv_timeout::<Item>(BOUND),
            Err(multiproc::ipc::RecvError::Eof)
        ));
    }
    Ok(())
}

fn locked_append(lock: Lock, out: Array<i64>, i: i64) -> Result<(), String> {
    let _g = lock.lock().map_err(|e| e.to_string())?;
    // read-modify-write of a shared counter, made safe by the lock
    let n = out.get(0).ok_or("empty")?;
    out.set(usize::try_from(n + 1).map_err(|e| e.to_string())?, i)
        .map_err(|e| e.to_string())?;
    out.set(0, n + 1).map_err(|e| e.to_string())
}

/// "Synchronization between processes": ten processes take a `Lock` in turn.
#[test]
fn synchronization_with_a_lock() -> R {
    for method in METHODS {
        let lock = Lock::new()?;
        let out = Array::<i64>::zeroed(11)?;
        let ps = (0..10)
            .map(|i| {
                Process::new(locked_append, (lock.clone(), out.clone(), i))
                    .start_method(method)
                    .start()
            })
            .collect::<Result<Vec<_>, _>>()?;
        for p in ps {
            p.join_value()??;
        }
        let v = out.to_vec();
        assert_eq!(v[0], 10, "{method}: every increment counted");
        let mut seen = v[1..].to_vec();
        seen.sort_unstable();
        assert_eq!(seen, (0..10).collect::<Vec<_>>(), "{method}");
    }
    Ok(())
}

fn negate(n: Value<f64>, a: Array<i32>) {
    n.set(1.25);
    for i in 0..a.len() {
        if let Some(x) = a.get(i) {
            let _ = a.set(i, -x);
        }
    }
}

/// "Sharing state between processes — Shared memory": `Value('d', 0.0)`,
/// `Array('i', range(10))`; the child stores a float (the docs use pi) and negates the array.
#[test]
fn sharing_state_with_value_and_array() -> R {
    for method in METHODS {
        let num = Value::new(0.0f64)?;
        let arr = Array::from_slice(&(0..10).collect::<Vec<i32>>())?;
        Process::new(negate, (num.clone(), arr.clone()))
            .start_method(method)
            .start()?
            .join_value()?;
        assert_eq!(num.get(), 1.25, "{method}");
        assert_eq!(arr.to_vec(), (0..10).map(|x| -x).collect::<Vec<i32>>());
    }
    Ok(())
}

fn fill(d: multiproc::manager::DictProxy, l: multiproc::manager::ListProxy) -> Result<(), String> {
    let e = |e: multiproc::manager::Error| e.to_string();
    d.insert(1, "1").map_err(e)?;
    d.insert("2", 2).map_err(e)?;
    d.insert(0.25, ()).map_err(e)?;
    l.reverse().map_err(e)
}

/// "Sharing state between processes — Server process": a `Manager()` dict and list,
/// changed by a child, print like Python's.
#[test]
fn sharing_state_with_a_manager() -> R {
    for method in METHODS {
        let manager = multiproc::Manager::start_with::<()>(Some(method))?;
        let d = manager.dict()?;
        let l = manager.list_from(0..10)?;
        Process::new(fill, (d.clone(), l.clone()))
            .start_method(method)
            .start()?
            .join_value()??;
        assert_eq!(d.to_string(), "{1: '1', '2': 2, 0.25: None}");
        assert_eq!(l.to_string(), "[9, 8, 7, 6, 5, 4, 3, 2, 1, 0]");
        manager.shutdown()?;
    }
    Ok(())
}

fn getpid() -> u32 {
    std::process::id()
}

fn sleep_secs(s: u64) -> u64 {
    std::thread::sleep(Duration::from_secs(s));
    s
}

/// "Using a pool of workers": map, imap_unordered, apply_async with `get(timeout=1)`,
/// the pid of a worker, several async results, and a `TimeoutError` for a task that
/// sleeps too long; leaving the `with` block (drop) terminates the pool.
#[test]
fn using_a_pool_of_workers() -> R {
    let pool = Pool::new(4)?;
    assert_eq!(
        pool.map(f, 0..10)?,
        (0..10).map(|x| x * x).collect::<Vec<_>>()
    );
    let mut unordered = pool
        .imap_unordered(f, 0..10)
        .collect::<Result<Vec<_>, _>>()?;
    unordered.sort_unstable();
    assert_eq!(unordered, (0..10).map(|x| x * x).collect::<Vec<_>>());
    assert_eq!(pool.apply_async(f, (20,)).get_timeout(BOUND)?, 400);
    let pid = pool.apply_async(getpid, ()).get_timeout(BOUND)?;
    assert_ne!(pid, std::process::id(), "the task ran in a worker");
    let pids = (0..4)
        .map(|_| pool.apply_async(getpid, ()))
        .map(|r| r.get_timeout(BOUND))
        .collect::<Result<Vec<_>, _>>()?;
    assert!(pids.iter().all(|&p| p != std::process::id()));
    let res = pool.apply_async(sleep_secs, (10,));
    assert!(matches!(
        res.get_timeout(Duration::from_millis(100)),
        Err(multiproc::pool::Error::Timeout)
    ));
    let workers: Vec<u32> = pool.worker_pids();
    drop(pool); // terminates: the sleeping worker does not hold us for 10 s
    for w in workers {
        // every worker was reaped: its pid is no longer a child of ours
        let gone = !std::path::Path::new(&format!("/proc/{w}")).exists();
        assert!(gone, "worker {w} still exists after the pool was dropped");
    }
    Ok(())
}

fn client_side(addr: String) -> Result<Vec<u8>, String> {
    let e = |e: &dyn std::fmt::Display| e.to_string();
    let address = Address::Tcp(addr.parse().map_err(|x| e(&x))?);
    let conn = Client::connect(&address, Some(b"secret password")).map_err(|x| e(&x))?;
    let v: (f64, Option<i64>, String) = conn.recv_timeout(BOUND).map_err(|x| e(&x))?;
    if v != (2.25, None, "junk".to_string()) {
        return Err(format!("{v:?}"));
    }
    let b = conn.recv_bytes_timeout(BOUND).map_err(|x| e(&x))?;
    conn.send_bytes(&b).map_err(|x| e(&x))?;
    Ok(b)
}

/// "Listeners and Clients": a Listener with `authkey=b'secret password'`, a client in
/// another process; objects and raw bytes both ways; a wrong key is refused.
#[test]
fn listeners_and_clients() -> R {
    let listener = Listener::bind(
        Address::Tcp("127.0.0.1:0".parse()?),
        Some(b"secret password"),
    )?;
    let Address::Tcp(addr) = listener.address().clone() else {
        return Err("tcp".into());
    };
    for method in METHODS {
        let p = Process::new(client_side, (addr.to_string(),))
            .start_method(method)
            .start()?;
        let conn = listener.accept_timeout(BOUND)?;
        conn.send(&(2.25, None::<i64>, "junk".to_string()))?;
        conn.send_bytes(b"hello")?;
        assert_eq!(conn.recv_bytes_timeout(BOUND)?, b"hello");
        assert_eq!(p.join_value()??, b"hello");
        assert!(listener.last_accepted().is_some());
    }
    // a wrong key fails on both sides, and the listener keeps serving
    std::thread::scope(|s| -> R {
        let server = s.spawn(|| listener.accept_timeout(BOUND));
        assert!(Client::connect(Address::Tcp(addr), Some(b"wrong")).is_err());
        assert!(server.join().map_err(|_| "thread")?.is_err());
        Ok(())
    })?;
    let p = Process::new(client_side, (addr.to_string(),)).start()?;
    let conn = listener.accept_timeout(BOUND)?;
    conn.send(&(2.25, None::<i64>, "junk".to_string()))?;
    conn.send_bytes(b"again")?;
    assert_eq!(conn.recv_bytes_timeout(BOUND)?, b"again");
    assert_eq!(p.join_value()??, b"again");
    Ok(())
}

fn send_then_exit(conn: Connection, i: i64) -> Result<(), String> {
    std::thread::sleep(Duration::from_millis(10 * (i as u64 % 3)));
    conn.send(&i).map_err(|e| e.to_string())
}

/// `multiprocessing.connection.wait()`: several children each send on their own pipe;
/// `wait` returns the readable ones until every pipe is at EOF.
#[test]
fn connection_wait_on_many_pipes() -> R {
    let mut readers = Vec::new();
    let mut procs = Vec::new();
    for i in 0..4 {
        let (r, w) = Pipe::duplex()?;
        procs.push(
            Process::new(send_then_exit, (w, i))
                .start_method(METHODS[i as usize % 3])
                .start()?,
        );
        readers.push(r);
    }
    let mut got = Vec::new();
    while !readers.is_empty() {
        let ready: Vec<usize> = multiproc::wait_indices(&readers, Some(BOUND))?;
        assert!(!ready.is_empty(), "wait timed out");
        for &i in ready.iter().rev() {
            match readers[i].recv::<i64>() {
                Ok(v) => got.push(v),
                Err(multiproc::ipc::RecvError::Eof) => {
                    readers.remove(i);
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    for p in procs {
        p.join_value()??;
    }
    got.sort_unstable();
    assert_eq!(got, [0, 1, 2, 3]);
    Ok(())
}

/// "Customized managers": `MathsClass` registered as `'Maths'`; `maths.add(4, 3)` is 7
/// and `maths.mul(7, 8)` is 56. The facade's `#[multiproc::manager_type]` writes the
/// dispatch and the typed proxy; the server runs in a process of every start method.
struct MathsClass;

#[multiproc::manager_type(typeid = "Maths", proxy = "Maths")]
impl MathsClass {
    fn new() -> Self {
        MathsClass
    }
    fn add(&self, x: i64, y: i64) -> i64 {
        x + y
    }
    fn mul(&self, x: f64, y: f64) -> f64 {
        x * y
    }
}

struct MyManager;
impl multiproc::manager::Setup for MyManager {
    fn registry() -> multiproc::manager::Registry {
        let mut r = multiproc::manager::Registry::new();
        r.register::<MathsClass>();
        r
    }
}

#[test]
fn customized_managers() -> R {
    for method in METHODS {
        let manager = multiproc::Manager::start_with::<MyManager>(Some(method))?;
        let maths = Maths::create(&manager)?;
        assert_eq!(maths.add(4, 3)?, 7, "{method}");
        assert_eq!(maths.mul(7.0, 8.0)?, 56.0, "{method}");
        manager.shutdown()?;
    }
    Ok(())
}
