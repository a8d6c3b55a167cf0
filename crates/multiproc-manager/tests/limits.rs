//! The server's limits against hostile or careless clients (issue #13): deeply nested
//! requests, requests that would make the server allocate without bound, and clients
//! that start more waiting calls than the server has threads for. Each test checks the
//! refusal is a typed error and that the server keeps serving.

use multiproc_manager::fuzzing;
use multiproc_manager::{
    DEFAULT_MAX_DEPTH, Error, Limits, Manager, Registry, RemoteErrorKind, Server, Value,
};

use multiproc_test_support::{BOUND, eventually};

type R = Result<(), Box<dyn std::error::Error>>;

/// A value nested `depth` levels (`[[…[0]…]]`).
fn nested(depth: usize) -> Value {
    let mut v = Value::from(0);
    for _ in 1..depth {
        v = Value::List(vec![v]);
    }
    v
}

/// Sends one raw request payload on `conn` and returns the reply's (id, result).
fn call_raw(
    conn: &multiproc_ipc::Connection,
    payload: &[u8],
) -> Result<(u64, Result<Value, multiproc_manager::RemoteError>), Box<dyn std::error::Error>> {
    conn.send_bytes(payload)?;
    let reply = conn.recv_bytes_timeout(BOUND)?;
    Ok(fuzzing::decode_reply(&reply).ok_or("undecodable reply")?)
}

/// #13 item 1: one 20 KB frame holding a key nested 10,000 deep used to overflow the
/// stack of the server's client thread and abort the whole server process. Sent raw
/// over a real connection to a real server process: each nesting past the limit is
/// answered with `TooDeep` on that call, the connection stays usable, and another
/// client still finds its data.
#[test]
fn deeply_nested_request_is_refused_and_the_server_lives() -> R {
    let m = Manager::start()?;
    let d = m.dict()?;
    d.insert(1, 2)?;
    let addr = m.address().cloned().ok_or("no address")?;
    let raw = multiproc_ipc::Client::connect(&addr, m.authkey())?;
    for (call, depth) in [(11, 1_000), (12, 5_000), (13, 10_000), (14, 1_000_000)] {
        let (id, r) = call_raw(&raw, &fuzzing::nested_request(call, d.id(), depth))?;
        assert_eq!(id, call, "the refusal answers that call");
        let e = r.err().ok_or("a nesting of {depth} was accepted")?;
        assert_eq!(e.kind, RemoteErrorKind::TooDeep, "{e}");
    }
    // the same connection carries on
    assert_eq!(
        call_raw(&raw, &fuzzing::ping_request(15))?,
        (15, Ok(Value::None))
    );
    // within the limit, the key is looked up (and is missing)
    let (_, r) = call_raw(
        &raw,
        &fuzzing::nested_request(16, d.id(), DEFAULT_MAX_DEPTH),
    )?;
    assert_eq!(r.err().map(|e| e.kind), Some(RemoteErrorKind::TypeError));
    // and every other client is served as before
    assert_eq!(d.get_item(1)?, Value::from(2));
    m.shutdown()?;
    Ok(())
}

/// The limit is the server's to choose; a client sending deeper values through a proxy
/// gets the typed error, its connection and its data untouched. Replies may nest a
/// little deeper than requests (`items()` wraps stored values in two levels).
#[test]
fn depth_limit_is_configurable() -> R {
    let mut limits = Limits::default();
    limits.max_depth = 6;
    let server = Server::with_limits(Registry::new(), limits);
    let (a, b) = multiproc_ipc::Pipe::duplex()?;
    server.spawn_connection(a);
    let m = Manager::over(b);
    let d = m.dict()?;
    d.insert("ok", nested(6))?;
    let r = d.insert("deep", nested(7));
    assert_eq!(
        r.err().and_then(|e| e.remote_kind()),
        Some(RemoteErrorKind::TooDeep)
    );
    assert_eq!(d.len()?, 1);
    assert_eq!(d.get_item("ok")?, nested(6));
    let items = d.items()?;
    assert_eq!(items, vec![(Value::from("ok"), nested(6))]);
    server.shutdown();
    Ok(())
}

/// A value as deep as the server's default limit allows goes in and comes back out:
/// the client's replies pass the connection's generic depth limit (serde levels, up to
/// three per `Value` level), so it must not refuse what the server stores.
#[test]
fn values_at_the_default_limit_round_trip() -> R {
    let m = Manager::start()?;
    let d = m.dict()?;
    let deepest = nested(DEFAULT_MAX_DEPTH - 2);
    d.insert("deep", deepest.clone())?;
    assert_eq!(d.get_item("deep")?, deepest);
    let items = d.items()?;
    assert_eq!(items, vec![(Value::from("deep"), deepest.clone())]);
    let pairs = Value::Dict(vec![(Value::from("k"), nested(DEFAULT_MAX_DEPTH - 3))]);
    d.insert("pairs", pairs.clone())?;
    assert_eq!(d.get_item("pairs")?, pairs);
    m.shutdown()?;
    Ok(())
}

/// Values nested a million levels deep, built locally: dropping, cloning, printing,
/// comparing and hashing them on a thread with a 256 KiB stack does not overflow it,
/// and encoding one fails with an error instead of recursing.
#[test]
fn million_deep_values_walk_without_recursion() -> R {
    let t = std::thread::Builder::new()
        .stack_size(256 << 10)
        .spawn(|| -> Result<(), String> {
            use std::hash::{Hash, Hasher};
            const N: usize = 1_000_000;
            let mut list = nested(N);
            let copy = list.clone();
            if copy != list {
                return Err("a clone differs".into());
            }
            let hash = |v: &Value| {
                let mut h = std::collections::hash_map::DefaultHasher::new();
                v.hash(&mut h);
                h.finish()
            };
            if hash(&copy) != hash(&list) {
                return Err("equal values hash apart".into());
            }
            let shown = list.to_string();
            if shown.len() != 2 * (N - 1) + 1 || !shown.starts_with("[[[") {
                return Err(format!("repr of {} bytes", shown.len()));
            }
            let debug = format!("{list:?}");
            if !debug.starts_with("List([List([") {
                return Err("debug".into());
            }
            if list.depth() != N {
                return Err(format!("depth {}", list.depth()));
            }
            if list.py_cmp(&copy) != Some(std::cmp::Ordering::Equal) || list.is_hashable() {
                return Err("py_cmp".into());
            }
            if multiproc_ipc::encode(&list).is_ok() {
                return Err("a million levels were encoded".into());
            }
            // tuples (hashable, so a dict key) and dicts nested in keys and values
            let mut tuple = Value::from(1);
            let mut dict = Value::None;
            for _ in 0..N {
                tuple = Value::Tuple(vec![tuple]);
                dict = Value::Dict(vec![(Value::from(1), dict)]);
            }
            if !tuple.is_hashable() || tuple.clone() != tuple || dict.clone() != dict {
                return Err("tuple or dict".into());
            }
            let _ = (
                tuple.to_string(),
                dict.to_string(),
                hash(&tuple),
                hash(&dict),
            );
            list = Value::None;
            drop((copy, tuple, dict, list));
            Ok(())
        })?;
    t.join()
        .map_err(|_| "the thread panicked (stack overflow aborts instead)")??;
    Ok(())
}

/// Decoding and encoding recurse once per level: at the limit they fit comfortably in
/// a quarter of a default thread stack, in a debug build.
#[test]
fn limit_deep_values_fit_a_small_stack() -> R {
    let t = std::thread::Builder::new()
        .stack_size(512 << 10)
        .spawn(|| -> Result<(), String> {
            let v = nested(DEFAULT_MAX_DEPTH);
            let (bytes, fds) = multiproc_ipc::encode(&v).map_err(|e| e.to_string())?;
            let back: Value = multiproc_ipc::decode(&bytes, fds).map_err(|e| e.to_string())?;
            if back != v {
                return Err("round trip".into());
            }
            // the server decodes a request at its limit on such a stack too
            let payload = fuzzing::nested_request(1, 1, DEFAULT_MAX_DEPTH);
            let server = Server::new(Registry::new());
            fuzzing::feed(&server, &fuzzing::frame(&payload));
            server.shutdown();
            Ok(())
        })?;
    t.join().map_err(|_| "the thread panicked")??;
    Ok(())
}

/// A client-side encoding error for a value too deep to send is a typed `Send` error,
/// and the proxy's connection keeps working.
#[test]
fn too_deep_to_send_is_a_send_error() -> R {
    let m = Manager::in_thread()?;
    let l = m.list()?;
    let r = l.append(nested(100_000));
    assert!(matches!(r, Err(Error::Send(_))), "{r:?}");
    l.append(1)?;
    assert_eq!(l.len()?, 1);
    Ok(())
}

/// The committed seed corpus of the `manager_request` fuzz target is what
/// `fuzzing::seed_corpus` builds (regenerate with `MPM_WRITE_CORPUS=1`), and every
/// seed runs against a fresh server without harm.
#[test]
fn fuzz_seed_corpus_is_current() -> R {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/manager_request");
    let write = std::env::var_os("MPM_WRITE_CORPUS").is_some();
    for (name, bytes) in fuzzing::seed_corpus() {
        let path = dir.join(name);
        if write {
            std::fs::create_dir_all(&dir)?;
            std::fs::write(&path, &bytes)?;
        }
        assert_eq!(std::fs::read(&path)?, bytes, "{name} is stale");
        let server = Server::new(Registry::new());
        fuzzing::feed(&server, &bytes);
        server.shutdown();
        assert!(server.wait_closed(Some(BOUND)));
    }
    Ok(())
}

// ------------------------------------------------------------ memory budget

fn kind<T: std::fmt::Debug>(r: Result<T, Error>) -> Option<RemoteErrorKind> {
    match r {
        Err(e) => e.remote_kind(),
        Ok(v) => panic!("expected a refusal, got {v:?}"),
    }
}

/// A server on threads of this process with `limits`, and a client of it.
fn server_with(limits: Limits) -> Result<(Server, Manager), Box<dyn std::error::Error>> {
    let server = Server::with_limits(Registry::new(), limits);
    let (a, b) = multiproc_ipc::Pipe::duplex()?;
    server.spawn_connection(a);
    Ok((server, Manager::over(b)))
}

/// A server process whose limits come from `Setup::limits`: a 64 MiB budget.
struct Tight;
impl multiproc_manager::Setup for Tight {
    fn registry() -> Registry {
        Registry::new()
    }
    fn limits() -> Limits {
        let mut l = Limits::default();
        l.memory_budget = 64 << 20;
        l
    }
}

/// #13 item 5: `l *= n` was capped by item count, not bytes — one ~1 MiB request grew a
/// server to 528 MB. Against a real server process with a 64 MiB budget, the repeat is
/// refused with `MemoryBudget` before anything is allocated, the list is unchanged, and
/// the server serves on (a repeat that fits still works).
#[test]
fn repeat_amplification_is_refused() -> R {
    let m = Manager::start_with::<Tight>(None)?;
    let l = m.list()?;
    l.extend((0..1000).map(|_| Value::Bytes(vec![7; 1000])))?;
    assert_eq!(kind(l.repeat(1 << 20)), Some(RemoteErrorKind::MemoryBudget));
    assert_eq!(kind(l.repeat(500)), Some(RemoteErrorKind::MemoryBudget));
    assert_eq!(l.len()?, 1000, "nothing changed");
    l.repeat(3)?;
    assert_eq!(l.len()?, 3000);
    let other = m.dict()?;
    other.insert("still", "serving")?;
    assert_eq!(other.get_item("still")?, Value::from("serving"));
    m.shutdown()?;
    Ok(())
}

/// Every operation that adds data is bounded by the budget: each is repeated until it
/// is refused with `MemoryBudget` (bounded number of rounds), then the data is dropped
/// (destroyed, cleared or taken) and the same operation fits again — the bytes were
/// credited back.
#[test]
fn every_growing_operation_meets_the_budget() -> R {
    let mut limits = Limits::default();
    limits.memory_budget = 4 << 20;
    let (server, m) = server_with(limits)?;
    let chunk = || Value::Bytes(vec![1; 64 << 10]);
    let limit_rounds = 200; // 200 x 64 KiB = 12.5 MiB > the budget
    type Step<'a> = Box<dyn Fn(usize) -> Result<(), Error> + 'a>;
    let fill = |what: &str, step: Step<'_>| -> Result<usize, Box<dyn std::error::Error>> {
        for i in 0..limit_rounds {
            match step(i) {
                Ok(()) => {}
                Err(e) if e.remote_kind() == Some(RemoteErrorKind::MemoryBudget) => return Ok(i),
                Err(e) => return Err(format!("{what}: {e}").into()),
            }
        }
        Err(format!("{what} was never refused").into())
    };
    let before = server.memory_used();

    let d = m.dict()?;
    let n = fill("dict[k] = v", Box::new(|i| d.insert(i as u64, chunk())))?;
    assert!(n > 10, "{n} inserts fit");
    assert!(server.memory_used() <= 4 << 20);
    d.clear()?;
    fill(
        "setdefault",
        Box::new(|i| d.setdefault(i as u64, chunk()).map(|_| ())),
    )?;
    d.clear()?;
    fill("update", Box::new(|i| d.update([(i as u64, chunk())])))?;
    d.destroy()?;

    let l = m.list()?;
    fill("append", Box::new(|_| l.append(chunk())))?;
    l.clear()?;
    fill("extend", Box::new(|_| l.extend([chunk(), chunk()])))?;
    l.clear()?;
    fill("insert", Box::new(|_| l.insert(0, chunk())))?;
    l.destroy()?;

    let q = m.queue()?;
    fill("put", Box::new(|_| q.put(chunk())))?;
    while q.qsize()? > 0 {
        q.get()?;
    }
    fill("put after get", Box::new(|_| q.put(chunk())))?;
    q.destroy()?;

    let ns = m.namespace()?;
    fill("setattr", Box::new(|i| ns.set(&format!("a{i}"), chunk())))?;
    ns.destroy()?;
    let made = std::cell::RefCell::new(Vec::new());
    fill(
        "Value",
        Box::new(|_| {
            made.borrow_mut().push(m.value(chunk())?);
            Ok(())
        }),
    )?;
    for v in made.borrow_mut().drain(..) {
        v.destroy()?;
    }
    fill(
        "list of str",
        Box::new(|_| m.list_from(["x".repeat(64 << 10)]).map(|_| ())),
    )?;
    fill(
        "publish",
        Box::new(|i| m.publish(&format!("p{i}"), chunk())),
    )?;
    assert!(server.memory_used() <= 4 << 20, "{}", server.memory_used());
    assert!(server.memory_used() > before);
    server.shutdown();
    Ok(())
}

/// The budget is credited back when objects are destroyed and when they shrink.
#[test]
fn budget_is_credited_back() -> R {
    let mut limits = Limits::default();
    limits.memory_budget = 8 << 20;
    let (server, m) = server_with(limits)?;
    let empty = server.memory_used();
    let big = || Value::Bytes(vec![0; 5 << 20]);
    let l = m.list()?;
    l.append(big())?;
    let full = server.memory_used();
    assert!(full >= empty + (5 << 20), "{empty} -> {full}");
    let other = m.list()?;
    assert_eq!(
        kind(other.append(big())),
        Some(RemoteErrorKind::MemoryBudget)
    );
    // shrinking: the list gives its item back
    assert_eq!(l.pop()?, big());
    assert!(server.memory_used() < empty + (1 << 20));
    other.append(big())?;
    // destroying: all of it comes back
    other.destroy()?;
    assert!(server.memory_used() < empty + (1 << 20));
    l.append(big())?;
    server.shutdown();
    Ok(())
}

/// The number of objects is capped.
#[test]
fn object_count_is_capped() -> R {
    let mut limits = Limits::default();
    limits.max_objects = 10;
    let (server, m) = server_with(limits)?;
    let mut locks = Vec::new();
    for _ in 0..10 {
        locks.push(m.lock()?);
    }
    assert_eq!(kind(m.event()), Some(RemoteErrorKind::TooManyObjects));
    locks.pop().ok_or("a lock")?.destroy()?;
    m.event()?;
    server.shutdown();

    // objects that hold no data still meet the memory budget (a fixed cost each)
    let mut limits = Limits::default();
    limits.memory_budget = 256 << 10;
    let (server, m) = server_with(limits)?;
    let mut made = 0;
    let refused = loop {
        match m.lock() {
            Ok(_) => made += 1,
            Err(e) => break e.remote_kind(),
        }
        assert!(made < 10_000, "never refused");
    };
    assert_eq!(refused, Some(RemoteErrorKind::MemoryBudget));
    assert!(made > 100, "{made}");
    server.shutdown();
    Ok(())
}

/// The server's frame limit follows the memory budget: a frame over the budget closes
/// that client's connection only, and a frame within it whose values would take more
/// than the budget once decoded (a list of a million `None`s is 2 bytes a value on the
/// wire, 32 in memory) is refused with `MemoryBudget` before they are all built.
#[test]
fn frame_limit_follows_the_budget() -> R {
    let mut limits = Limits::default();
    limits.memory_budget = 8 << 20;
    assert_eq!(limits.frame_limit(), 8 << 20);
    let (server, good) = server_with(limits)?;
    let d = good.dict()?;
    let l = good.list()?;
    let nones = vec![Value::None; 1 << 20];
    assert_eq!(kind(l.extend(nones)), Some(RemoteErrorKind::MemoryBudget));
    assert_eq!(l.len()?, 0);
    let (a, b) = multiproc_ipc::Pipe::duplex()?;
    server.spawn_connection(a);
    let big = Manager::over(b);
    assert!(matches!(
        big.list_from([Value::Bytes(vec![0; 9 << 20])]),
        Err(Error::ManagerGone(_))
    ));
    d.insert(1, 1)?;
    server.shutdown();
    Ok(())
}

// ------------------------------------------------------------ waiting calls

/// Each call that has to wait gets a server thread; one client may have
/// `max_waiting_per_client` of them, all clients `max_waiting`. Past either cap the call
/// is refused with `TooManyWaiting` at once (nothing changed), the waiting ones finish
/// normally, and the places are given back.
#[test]
fn waiting_calls_are_capped() -> R {
    let mut limits = Limits::default();
    limits.max_waiting_per_client = 3;
    limits.max_waiting = 5;
    let (server, m1) = server_with(limits)?;
    let (a, b) = multiproc_ipc::Pipe::duplex()?;
    server.spawn_connection(a);
    let m2 = Manager::over(b);
    let ev = m1.event()?;
    let ev2: multiproc_manager::EventProxy = {
        m1.publish("ev", &ev)?;
        m2.lookup("ev")?
    };
    let wait_until = |n: usize| -> R {
        if eventually(|| server.waiting_calls() == n) {
            Ok(())
        } else {
            Err(format!("{} calls waiting, not {n}", server.waiting_calls()).into())
        }
    };
    std::thread::scope(|s| -> R {
        let mut waiters = Vec::new();
        for _ in 0..3 {
            let ev = ev.clone();
            waiters.push(s.spawn(move || ev.wait()));
        }
        wait_until(3)?;
        // the client's fourth waiting call is refused
        let r = ev.wait_timeout(BOUND);
        assert_eq!(kind(r), Some(RemoteErrorKind::TooManyWaiting));
        // another client has places left, up to the server's total
        for _ in 0..2 {
            let ev2 = ev2.clone();
            waiters.push(s.spawn(move || ev2.wait()));
        }
        wait_until(5)?;
        assert_eq!(
            kind(ev2.wait_timeout(BOUND)),
            Some(RemoteErrorKind::TooManyWaiting)
        );
        // calls that need not wait are served as ever
        assert!(!ev2.is_set()?);
        ev.set()?;
        for w in waiters {
            w.join().map_err(|_| "waiter panicked")??;
        }
        wait_until(0)?;
        // places given back
        ev.clear()?;
        assert!(!ev.wait_timeout(std::time::Duration::from_millis(1))?);
        Ok(())
    })?;
    server.shutdown();
    Ok(())
}

/// A custom type whose method answers a value nested too deep to encode: the caller
/// gets `TooDeep` instead of waiting for ever for a reply that could not be sent, and
/// the connection goes on.
struct Deep;
impl multiproc_manager::Shared for Deep {
    const TYPEID: &'static str = "Deep";
    fn new(_args: Vec<Value>) -> Result<Self, multiproc_manager::RemoteError> {
        Ok(Deep)
    }
    fn call(
        &mut self,
        method: &str,
        _args: Vec<Value>,
    ) -> Result<Value, multiproc_manager::RemoteError> {
        Ok(match method {
            "deep" => nested(100_000),
            _ => Value::from(1),
        })
    }
}

#[test]
fn unsendable_reply_is_answered_with_an_error() -> R {
    let mut registry = Registry::new();
    registry.register::<Deep>();
    let m = Manager::in_thread_with(registry)?;
    m.set_call_timeout(Some(BOUND)); // a reply never sent fails the test, not hangs it
    let p = m.create::<Deep>(())?;
    let r = p.call::<Value>("deep", ());
    assert_eq!(
        r.err().and_then(|e| e.remote_kind()),
        Some(RemoteErrorKind::TooDeep)
    );
    assert_eq!(p.call::<Value>("shallow", ())?, Value::from(1));
    Ok(())
}

// ------------------------------------------------------------ property tests

use proptest::prelude::*;

fn arb_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::None),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,4}".prop_map(Value::from),
        proptest::collection::vec(any::<u8>(), 0..4).prop_map(Value::Bytes),
    ];
    leaf.prop_recursive(8, 64, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::List),
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Tuple),
            proptest::collection::vec((inner.clone(), inner), 0..3).prop_map(Value::Dict),
        ]
    })
}

fn hash_of(v: &Value) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    v.hash(&mut h);
    h.finish()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// The iterative walks agree with each other and with the wire: a clone equals its
    /// original and hashes alike, prints alike (repr and Debug), and a value within the
    /// depth limit survives encoding and decoding; `depth` bounds what the decoder
    /// accepts (a limit of `depth - 1` refuses it).
    #[test]
    fn walks_and_wire_agree(v in arb_value()) {
        let c = v.clone();
        prop_assert_eq!(&c, &v);
        prop_assert_eq!(hash_of(&c), hash_of(&v));
        prop_assert_eq!(c.to_string(), v.to_string());
        prop_assert_eq!(format!("{c:?}"), format!("{v:?}"));
        prop_assert_eq!(c.py_cmp(&v).is_some(), v.py_cmp(&c).is_some());
        let (bytes, fds) = multiproc_ipc::encode(&v).expect("within the default limit");
        let back: Value = multiproc_ipc::decode(&bytes, fds).expect("decodes");
        prop_assert_eq!(back.to_string(), v.to_string());
        prop_assert_eq!(back.depth(), v.depth());
        // the server refuses exactly what nests deeper than its limit
        let mut limits = Limits::default();
        limits.max_depth = v.depth();
        let (server, m) = server_with(limits.clone()).expect("server");
        let l = m.list().expect("list");
        l.append(v.clone()).expect("at the limit");
        limits.max_depth = v.depth() - 1;
        let (server2, m2) = server_with(limits).expect("server");
        let l2 = m2.list().expect("list");
        prop_assert_eq!(
            l2.append(v.clone()).err().and_then(|e| e.remote_kind()),
            Some(RemoteErrorKind::TooDeep)
        );
        server.shutdown();
        server2.shutdown();
    }
}

/// Client connections are capped: one past `max_clients` is closed at once, the others
/// are served on, and a place frees when a client leaves.
#[test]
fn client_connections_are_capped() -> R {
    let mut limits = Limits::default();
    limits.max_clients = 2;
    let (server, first) = server_with(limits)?;
    // The first client's serving thread registers it asynchronously: make sure it has
    // before the others come, or the third connection takes its place (and the first
    // is the one refused).
    first.ping()?;
    let (a, b) = multiproc_ipc::Pipe::duplex()?;
    server.spawn_connection(a);
    let second = Manager::over(b);
    second.ping()?;
    let (a, b) = multiproc_ipc::Pipe::duplex()?;
    let refused = server.spawn_connection(a);
    // Bounded: a connection that was not refused would serve (and this join wait) for ever.
    assert!(
        eventually(|| refused.is_finished()),
        "the third connection was not refused"
    );
    refused.join().map_err(|_| "client thread panicked")?;
    assert!(matches!(
        Manager::over(b).ping(),
        Err(Error::ManagerGone(_))
    ));
    first.ping()?;
    drop(second);
    // the place is given back once the server has seen the client leave
    assert!(
        eventually(|| {
            multiproc_ipc::Pipe::duplex().is_ok_and(|(a, b)| {
                server.spawn_connection(a);
                Manager::over(b).ping().is_ok()
            })
        }),
        "the place never came back"
    );
    server.shutdown();
    Ok(())
}

/// Equality keeps Python's meaning (each entry of one is an entry of the other) for a
/// dict built by hand with equal keys twice, which the iterative walk compares against
/// every candidate (found by the property test above).
#[test]
fn hand_built_dict_with_equal_keys_equals_itself() {
    let d = Value::Dict(vec![
        (Value::Tuple(vec![]), Value::None),
        (Value::Tuple(vec![]), Value::Bool(false)),
    ]);
    assert_eq!(d.clone(), d);
    let other = Value::Dict(vec![
        (Value::Tuple(vec![]), Value::None),
        (Value::Tuple(vec![]), Value::Bool(true)),
    ]);
    assert_ne!(d, other);
}
