//! The server's limits against hostile or careless clients (issue #13): deeply nested
//! requests, requests that would make the server allocate without bound, and clients
//! that start more waiting calls than the server has threads for. Each test checks the
//! refusal is a typed error and that the server keeps serving.

use multiproc_manager::fuzzing;
use multiproc_manager::{
    DEFAULT_MAX_DEPTH, Error, Limits, Manager, Registry, RemoteErrorKind, Server, Value,
};

mod support;
use support::BOUND;

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
