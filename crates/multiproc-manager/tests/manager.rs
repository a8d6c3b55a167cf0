//! Integration tests of multiproc-manager: proxies against in-process models, Python
//! semantics ported from CPython's `_test_multiprocessing.py`, cross-process use through
//! re-executed children, and the failure cases (wrong key, oversized frames, clients
//! that vanish holding locks, shutdown under waiters).

use std::collections::HashMap;
use std::process::Child;
use std::sync::OnceLock;
use std::time::Duration;

use multiproc_manager::{
    AcquireError, Address, DictProxy, Error, FromValue, ListProxy, LockProxy, Manager, QueueProxy,
    Registry, RemoteError, RemoteErrorKind, Server, Shared, Value,
};
use proptest::prelude::*;

use multiproc_test_support::{BOUND, reap, reaped, this_test_binary};

type R = Result<(), Box<dyn std::error::Error>>;

// ------------------------------------------------------------ child processes

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap_or(0))
        .collect()
}

/// Starts this test binary again running `child_entry` as `role`, handing it `arg`
/// (any serde value, proxies included) through the environment.
fn spawn_child<T: serde::Serialize>(
    role: &str,
    arg: &T,
) -> Result<Child, Box<dyn std::error::Error>> {
    let (bytes, fds) = multiproc_ipc::encode(arg)?;
    assert!(
        fds.is_empty(),
        "proxies travel as addresses, not descriptors"
    );
    Ok(this_test_binary("child_entry")?
        .env("MPM_ROLE", role)
        .env("MPM_ARG", hex(&bytes))
        .spawn()?)
}

fn arg<T: serde::de::DeserializeOwned>() -> T {
    let bytes = unhex(&std::env::var("MPM_ARG").unwrap_or_default());
    multiproc_ipc::decode(&bytes, Vec::new()).expect("child argument decodes")
}

/// The body of every child process; does nothing when run as an ordinary test.
#[test]
fn child_entry() -> R {
    let Ok(role) = std::env::var("MPM_ROLE") else {
        return Ok(());
    };
    match role.as_str() {
        // seed 001: d[i] = 2*i and append i
        "writer" => {
            let (i, d, l): (i64, DictProxy, ListProxy) = arg();
            d.insert(i, 2 * i)?;
            l.append(i)?;
        }
        // seed 003 pitfall: mutate a list read from a namespace attribute
        "ns_mutate" => {
            let ns: multiproc_manager::NamespaceProxy = arg();
            let mut local: Vec<i64> = ns.get("items")?;
            local.push(99);
            ns.set("x", 1)?;
        }
        // hold a lock, say so, then wait to be killed
        "hold_lock" => {
            let (lock, q): (LockProxy, QueueProxy<String>) = arg();
            lock.acquire(None)?;
            q.put("locked".to_string())?;
            std::thread::sleep(Duration::from_secs(60));
        }
        "append_many" => {
            let (l, n): (ListProxy<i64>, i64) = arg();
            for i in 0..n {
                l.append(i)?;
            }
        }
        // a manager served over TCP in its own process (a "host"): prints its port
        "tcp_server" => {
            let m = Manager::serve_in_thread(free_tcp(), Some(b"abracadabra"), Registry::new())?;
            let q = m.queue_of::<i64>()?;
            let d = m.dict()?;
            m.publish("jobs", &q)?;
            m.publish("results", &d)?;
            let Some(Address::Tcp(a)) = m.address().cloned() else {
                return Err("no tcp address".into());
            };
            println!("PORT {}", a.port());
            // serve until a client shuts the manager down
            while m.ping().is_ok() {
                let _ = q.qsize();
                std::thread::park_timeout(Duration::from_millis(100));
            }
        }
        // two more "hosts": connect by address and key, share the queue and the dict
        "tcp_producer" | "tcp_consumer" => {
            let addr: String = arg();
            let m = Manager::connect(Address::Tcp(addr.parse()?), Some(b"abracadabra"))?;
            let q: QueueProxy<i64> = m.lookup("jobs")?;
            let d: DictProxy = m.lookup("results")?;
            if role == "tcp_producer" {
                for i in 0..20 {
                    q.put(i)?;
                }
            } else {
                for _ in 0..20 {
                    let i = q.get_timeout(BOUND)?;
                    d.insert(i, i * i)?;
                }
            }
        }
        other => panic!("unknown role {other}"),
    }
    Ok(())
}

// ------------------------------------------------------------------ seeds

/// Seed 000: heterogeneous keys print like Python; list reversal.
#[test]
fn seed_dict_and_list_print_like_python() -> R {
    let manager = Manager::in_thread()?;
    let d = manager.dict()?;
    let l = manager.list_from(0..10)?;
    d.insert(1, "1")?;
    d.insert("2", 2)?;
    d.insert(0.25, ())?;
    l.reverse()?;
    assert_eq!(d.to_string(), "{1: '1', '2': 2, 0.25: None}");
    assert_eq!(l.to_string(), "[9, 8, 7, 6, 5, 4, 3, 2, 1, 0]");
    // Python: 1.0 and True address the same entry as 1
    assert_eq!(d.get_item(1.0)?, Value::from("1"));
    assert_eq!(d.get_item(true)?, Value::from("1"));
    Ok(())
}

/// `repr` of text escapes what Python's `str.isprintable()` rejects — controls, format
/// characters, private use, unassigned code points, separators other than the space —
/// as `\xhh`, `\uhhhh` or `\Uhhhhhhhh`, and prints everything else as it is (combining
/// marks included, even first). Expected strings are CPython 3.11's. (Regression: only
/// C0/C1 controls were escaped, so a no-break space or a zero-width space printed raw.)
#[test]
fn str_repr_escapes_what_python_escapes() {
    for (s, python) in [
        ("\u{200b}", r"'\u200b'"),
        ("\u{a0}", r"'\xa0'"),
        ("\u{ad}", r"'\xad'"),
        ("\u{d7ff}", r"'\ud7ff'"),
        ("\u{1F600}", "'\u{1F600}'"),
        ("\u{e9}", "'\u{e9}'"),
        ("e\u{301}", "'e\u{301}'"),
        ("\u{301}x", "'\u{301}x'"),
        ("\u{e000}", r"'\ue000'"),
        ("\u{f0000}", r"'\U000f0000'"),
        ("\u{2028}", r"'\u2028'"),
        ("\u{feff}", r"'\ufeff'"),
        ("\u{85}", r"'\x85'"),
        ("\u{1fffe}", r"'\U0001fffe'"),
        ("a\u{3000}b", r"'a\u3000b'"),
        ("\u{e5}\u{0}", "'\u{e5}\\x00'"),
        ("it's", "\"it's\""),
        ("tab\tnl\n\\", r"'tab\tnl\n\\'"),
    ] {
        assert_eq!(Value::from(s).to_string(), python, "{s:?}");
    }
}

/// Seed 001 / `_TestContainers`: ten child processes write into one dict and one list.
#[test]
fn ten_children_share_a_dict_and_a_list() -> R {
    let manager = Manager::in_thread()?;
    let d = manager.dict()?;
    let l = manager.list()?;
    let children: Vec<Child> = (0..10)
        .map(|i| spawn_child("writer", &(i as i64, d.clone(), l.clone())))
        .collect::<Result<_, _>>()?;
    for c in children {
        assert!(reap(c), "writer child failed");
    }
    assert_eq!(d.len()?, 10);
    for i in 0..10i64 {
        assert_eq!(d.get_item(i)?, Value::from(2 * i));
    }
    let mut items: Vec<i64> = l
        .to_vec()?
        .into_iter()
        .map(i64::from_value)
        .collect::<Result<_, _>>()?;
    items.sort_unstable();
    assert_eq!(items, (0..10).collect::<Vec<_>>());
    Ok(())
}

/// Seed 003 / `_TestNamespace`: reading an unset attribute names it; mutating a list
/// read from an attribute (in a child) does not change the server's copy.
#[test]
fn namespace_error_and_list_pitfall() -> R {
    let manager = Manager::in_thread()?;
    let ns = manager.namespace()?;
    let e = ns.get::<i64>("x").expect_err("must fail");
    assert_eq!(e.remote_kind(), Some(RemoteErrorKind::AttributeError));
    assert!(e.to_string().contains("'x'"), "{e}");
    ns.set("items", vec![1, 2, 3])?;
    assert!(reap(spawn_child("ns_mutate", &ns)?));
    assert_eq!(
        ns.get::<Vec<i64>>("items")?,
        [1, 2, 3],
        "the server copy is unchanged"
    );
    assert_eq!(
        ns.get::<i64>("x")?,
        1,
        "a plain assignment does reach the server"
    );
    assert_eq!(ns.to_string(), "Namespace(items=[1, 2, 3], x=1)");
    ns.del("x")?;
    assert!(!ns.has("x")?);
    Ok(())
}

/// `vars(ns)`: `to_vec` reads the attributes back in the order first set (it failed
/// with a type mismatch: the server answers the copy as a dict).
#[test]
fn namespace_to_vec_lists_attributes() -> R {
    let manager = Manager::in_thread()?;
    let ns = manager.namespace()?;
    assert_eq!(ns.to_vec()?, []);
    ns.set("name", "Bob")?;
    ns.set("age", 7)?;
    ns.set("name", "Alice")?;
    assert_eq!(
        ns.to_vec()?,
        [
            ("name".to_string(), Value::from("Alice")),
            ("age".to_string(), Value::from(7)),
        ]
    );
    Ok(())
}

/// `_TestNamespace.test_namespace`: the repr lists public attributes sorted by name and
/// hides `_private` ones; deleting an attribute removes it from the repr.
#[test]
fn namespace_repr_sorted_and_private_hidden() -> R {
    let manager = Manager::in_thread()?;
    let n = manager.namespace()?;
    n.set("name", "Bob")?;
    n.set("job", "Builder")?;
    n.set("_hidden", "hidden")?;
    assert_eq!(n.get::<String>("name")?, "Bob");
    assert_eq!(n.get::<String>("_hidden")?, "hidden");
    assert_eq!(n.to_string(), "Namespace(job='Builder', name='Bob')");
    n.del("job")?;
    assert_eq!(n.to_string(), "Namespace(name='Bob')");
    assert_eq!(
        n.get::<String>("job").expect_err("deleted").remote_kind(),
        Some(RemoteErrorKind::AttributeError)
    );
    Ok(())
}

// ---------------------------------------------------------- model checks

fn shared_manager() -> &'static Manager {
    static M: OnceLock<Manager> = OnceLock::new();
    M.get_or_init(|| Manager::in_thread().expect("manager starts"))
}

#[derive(Debug, Clone)]
enum DictOp {
    Set(i8, i16),
    Get(i8),
    Del(i8),
    Pop(i8),
    SetDefault(i8, i16),
    Contains(i8),
    Len,
    Update(Vec<(i8, i16)>),
    Clear,
}

fn dict_op() -> impl Strategy<Value = DictOp> {
    let k = -8i8..8;
    prop_oneof![
        4 => (k.clone(), any::<i16>()).prop_map(|(k, v)| DictOp::Set(k, v)),
        3 => k.clone().prop_map(DictOp::Get),
        2 => k.clone().prop_map(DictOp::Del),
        1 => k.clone().prop_map(DictOp::Pop),
        1 => (k.clone(), any::<i16>()).prop_map(|(k, v)| DictOp::SetDefault(k, v)),
        1 => k.clone().prop_map(DictOp::Contains),
        1 => Just(DictOp::Len),
        1 => proptest::collection::vec((k, any::<i16>()), 0..4).prop_map(DictOp::Update),
        1 => Just(DictOp::Clear),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// `_TestDict`-style: random operation sequences on a typed dict proxy agree with a
    /// local HashMap, including KeyErrors.
    #[test]
    fn dict_proxy_matches_hashmap(ops in proptest::collection::vec(dict_op(), 1..40)) {
        let d: DictProxy<i8, i16> = shared_manager().dict_of().expect("dict");
        let mut model: HashMap<i8, i16> = HashMap::new();
        for op in ops {
            match op {
                DictOp::Set(k, v) => { d.insert(k, v).expect("set"); model.insert(k, v); }
                DictOp::Get(k) => prop_assert_eq!(d.get(k).expect("get"), model.get(&k).copied()),
                DictOp::Del(k) => {
                    let r = d.remove(k);
                    match model.remove(&k) {
                        Some(_) => prop_assert!(r.is_ok()),
                        None => prop_assert!(r.expect_err("must fail").is_key_error()),
                    }
                }
                DictOp::Pop(k) => match model.remove(&k) {
                    Some(v) => prop_assert_eq!(d.pop(k).expect("pop"), v),
                    None => prop_assert!(d.pop(k).expect_err("must fail").is_key_error()),
                },
                DictOp::SetDefault(k, v) => {
                    let want = *model.entry(k).or_insert(v);
                    prop_assert_eq!(d.setdefault(k, v).expect("setdefault"), want);
                }
                DictOp::Contains(k) => prop_assert_eq!(d.contains(k).expect("contains"), model.contains_key(&k)),
                DictOp::Len => prop_assert_eq!(d.len().expect("len"), model.len()),
                DictOp::Update(pairs) => {
                    d.update(pairs.clone()).expect("update");
                    model.extend(pairs);
                }
                DictOp::Clear => { d.clear().expect("clear"); model.clear(); }
            }
        }
        let got: HashMap<i8, i16> = d.items().expect("items").into_iter().collect();
        prop_assert_eq!(got, model);
        d.destroy().expect("destroy");
    }
}

#[derive(Debug, Clone)]
enum ListOp {
    Append(i16),
    Extend(Vec<i16>),
    Insert(i64, i16),
    Pop,
    PopAt(i64),
    Remove(i16),
    Index(i16),
    Count(i16),
    Reverse,
    Sort,
    SortReverse,
    Get(i64),
    Set(i64, i16),
    Slice(Option<i64>, Option<i64>),
    SetSlice(Option<i64>, Option<i64>, Vec<i16>),
    DelSlice(Option<i64>, Option<i64>),
}

fn list_op() -> impl Strategy<Value = ListOp> {
    let v = -4i16..4;
    let i = -12i64..12;
    let b = proptest::option::of(-12i64..12);
    prop_oneof![
        4 => v.clone().prop_map(ListOp::Append),
        1 => proptest::collection::vec(v.clone(), 0..4).prop_map(ListOp::Extend),
        2 => (i.clone(), v.clone()).prop_map(|(i, x)| ListOp::Insert(i, x)),
        1 => Just(ListOp::Pop),
        1 => i.clone().prop_map(ListOp::PopAt),
        1 => v.clone().prop_map(ListOp::Remove),
        1 => v.clone().prop_map(ListOp::Index),
        1 => v.clone().prop_map(ListOp::Count),
        1 => Just(ListOp::Reverse),
        1 => Just(ListOp::Sort),
        1 => Just(ListOp::SortReverse),
        2 => i.clone().prop_map(ListOp::Get),
        1 => (i, v.clone()).prop_map(|(i, x)| ListOp::Set(i, x)),
        1 => (b.clone(), b.clone()).prop_map(|(a, b)| ListOp::Slice(a, b)),
        1 => (b.clone(), b.clone(), proptest::collection::vec(v, 0..3)).prop_map(|(a, b, x)| ListOp::SetSlice(a, b, x)),
        1 => (b.clone(), b).prop_map(|(a, b)| ListOp::DelSlice(a, b)),
    ]
}

/// Python's index normalisation, for the model.
fn norm(i: i64, len: usize) -> Option<usize> {
    let j = if i < 0 { i + len as i64 } else { i };
    (0..len as i64).contains(&j).then_some(j as usize)
}

fn bounds(a: Option<i64>, b: Option<i64>, len: usize) -> (usize, usize) {
    let n = |x: i64| {
        (if x < 0 {
            (x + len as i64).max(0)
        } else {
            x.min(len as i64)
        }) as usize
    };
    let a = a.map_or(0, n);
    let b = b.map_or(len, n);
    (a, b.max(a))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// `_TestList`-style: random operation sequences on a list proxy agree with a Vec
    /// under Python's index and slice rules.
    #[test]
    fn list_proxy_matches_vec(ops in proptest::collection::vec(list_op(), 1..40)) {
        let l: ListProxy<i16> = shared_manager().list_of().expect("list");
        let mut m: Vec<i16> = Vec::new();
        for op in ops {
            match op {
                ListOp::Append(x) => { l.append(x).expect("append"); m.push(x); }
                ListOp::Extend(xs) => { l.extend(xs.clone()).expect("extend"); m.extend(xs); }
                ListOp::Insert(i, x) => {
                    l.insert(i, x).expect("insert");
                    let (j, _) = bounds(Some(i), None, m.len());
                    m.insert(j, x);
                }
                ListOp::Pop => match m.pop() {
                    Some(x) => prop_assert_eq!(l.pop().expect("pop"), x),
                    None => prop_assert_eq!(l.pop().expect_err("must fail").remote_kind(), Some(RemoteErrorKind::IndexError)),
                },
                ListOp::PopAt(i) => match norm(i, m.len()) {
                    Some(j) => prop_assert_eq!(l.pop_at(i).expect("pop_at"), m.remove(j)),
                    None => prop_assert_eq!(l.pop_at(i).expect_err("must fail").remote_kind(), Some(RemoteErrorKind::IndexError)),
                },
                ListOp::Remove(x) => match m.iter().position(|y| *y == x) {
                    Some(j) => { l.remove(x).expect("remove"); m.remove(j); }
                    None => prop_assert_eq!(l.remove(x).expect_err("must fail").remote_kind(), Some(RemoteErrorKind::ValueError)),
                },
                ListOp::Index(x) => match m.iter().position(|y| *y == x) {
                    Some(j) => prop_assert_eq!(l.index(x).expect("index"), j),
                    None => prop_assert!(l.index(x).is_err()),
                },
                ListOp::Count(x) => prop_assert_eq!(l.count(x).expect("count"), m.iter().filter(|y| **y == x).count()),
                ListOp::Reverse => { l.reverse().expect("reverse"); m.reverse(); }
                ListOp::Sort => { l.sort().expect("sort"); m.sort(); }
                ListOp::SortReverse => { l.sort_reverse().expect("sort"); m.sort_by(|a, b| b.cmp(a)); }
                ListOp::Get(i) => match norm(i, m.len()) {
                    Some(j) => prop_assert_eq!(l.get(i).expect("get"), m[j]),
                    None => prop_assert_eq!(l.get(i).expect_err("must fail").remote_kind(), Some(RemoteErrorKind::IndexError)),
                },
                ListOp::Set(i, x) => match norm(i, m.len()) {
                    Some(j) => { l.set(i, x).expect("set"); m[j] = x; }
                    None => prop_assert!(l.set(i, x).is_err()),
                },
                ListOp::Slice(a, b) => {
                    let (x, y) = bounds(a, b, m.len());
                    prop_assert_eq!(l.slice(a, b).expect("slice"), m[x..y].to_vec());
                }
                ListOp::SetSlice(a, b, xs) => {
                    l.set_slice(a, b, xs.clone()).expect("set_slice");
                    let (x, y) = bounds(a, b, m.len());
                    m.splice(x..y, xs);
                }
                ListOp::DelSlice(a, b) => {
                    l.del_slice(a, b).expect("del_slice");
                    let (x, y) = bounds(a, b, m.len());
                    m.drain(x..y);
                }
            }
            prop_assert_eq!(l.len().expect("len"), m.len());
        }
        prop_assert_eq!(l.to_vec().expect("to_vec"), m);
        l.destroy().expect("destroy");
    }
}

// ------------------------------------------------------------ semantics

/// A typed proxy reading a value of another type gets a typed error, not garbage.
#[test]
fn type_mismatch_is_an_error() -> R {
    let manager = Manager::in_thread()?;
    let raw = manager.dict()?;
    raw.insert("a", "not a number")?;
    raw.insert("b", -1)?;
    manager.publish("d", &raw)?;
    let typed: DictProxy<String, u64> = manager.lookup("d")?;
    assert!(matches!(typed.get_item("a"), Err(Error::Type(_))));
    assert!(
        matches!(typed.get_item("b"), Err(Error::Type(_))),
        "-1 is not a u64"
    );
    // and a proxy of the wrong kind is refused
    assert!(matches!(
        manager.lookup::<ListProxy>("d"),
        Err(Error::Type(_))
    ));
    // unhashable keys are Python's TypeError
    let e = raw.insert(vec![1], 1).expect_err("must fail");
    assert_eq!(e.remote_kind(), Some(RemoteErrorKind::TypeError));
    Ok(())
}

/// Nested proxies: a list of dicts, mutated through the inner proxy, as in CPython's
/// `_TestContainers.test_dict_proxy_nested` / `test_nested_queue`.
#[test]
fn nested_proxies() -> R {
    let manager = Manager::in_thread()?;
    let outer: ListProxy<DictProxy> = manager.list_of()?;
    let a = manager.dict()?;
    outer.append(a.clone())?;
    outer.append(manager.dict()?)?;
    let first: DictProxy = outer.get(0)?;
    first.insert("k", 1)?;
    assert_eq!(
        a.get_item("k")?,
        Value::from(1),
        "the nested dict is shared, not copied"
    );
    assert_eq!(outer.get(0)?, a);
    for d in outer.to_vec()? {
        d.insert("seen", true)?;
    }
    assert_eq!(outer.get(1)?.get_item("seen")?, Value::from(true));
    // an untyped list shows the references
    let raw: ListProxy = manager.list()?;
    raw.append(&a)?;
    assert!(matches!(raw.get(0)?, Value::Proxy(_)));
    Ok(())
}

/// `_TestContainers.test_list`: slices, extend, `*=`, `+`, lists of list proxies that
/// see later changes to the inner lists.
#[test]
fn containers_list() -> R {
    let manager = Manager::in_thread()?;
    let a: ListProxy<i64> = manager.list_of()?;
    a.extend(0..10)?;
    assert_eq!(a.slice(None, None)?, (0..10).collect::<Vec<_>>());
    let b: ListProxy<i64> = manager.list_of()?;
    assert!(b.slice(None, None)?.is_empty());
    b.extend(0..5)?;
    assert_eq!(b.slice(None, None)?, [0, 1, 2, 3, 4]);
    assert_eq!(b.get(2)?, 2);
    assert_eq!(
        b.slice(Some(2), Some(10))?,
        [2, 3, 4],
        "a slice past the end"
    );
    b.repeat(2)?;
    assert_eq!(b.to_vec()?, [0, 1, 2, 3, 4, 0, 1, 2, 3, 4]);
    let mut plus = b.to_vec()?;
    plus.extend([5, 6]);
    assert_eq!(plus, [0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 5, 6]);
    assert_eq!(a.to_vec()?, (0..10).collect::<Vec<_>>(), "a is untouched");

    let e: ListProxy<ListProxy<i64>> = manager.list_of()?;
    e.extend([a.clone(), b.clone()])?;
    let inner: Vec<Vec<i64>> = e
        .to_vec()?
        .iter()
        .map(|l| l.to_vec())
        .collect::<Result<_, _>>()?;
    assert_eq!(
        inner,
        [
            vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
            vec![0, 1, 2, 3, 4, 0, 1, 2, 3, 4]
        ]
    );
    // a list holding a proxy sees later appends through it
    let f: ListProxy = manager.list()?;
    f.append(&a)?;
    a.append(10)?;
    let Value::Proxy(_) = f.get(0)? else {
        return Err("f[0] is not a proxy".into());
    };
    let f0: ListProxy<i64> = manager.convert(f.get(0)?)?;
    assert_eq!(f0.to_vec()?, (0..=10).collect::<Vec<_>>());
    // `*=` of an empty or zero count, and a refused huge one
    b.repeat(0)?;
    assert!(b.is_empty()?);
    a.repeat(1)?;
    assert_eq!(a.len()?, 11);
    let e = a.repeat(u64::MAX).expect_err("must be refused");
    // the memory budget refuses it before anything is allocated (CPython: MemoryError)
    assert_eq!(e.remote_kind(), Some(RemoteErrorKind::MemoryBudget));
    assert_eq!(a.len()?, 11, "a refused `*=` leaves the list as it was");
    Ok(())
}

/// `_TestContainers.test_list_proxy_in_list`: inner proxies are shared, not copied; a
/// list may even hold itself.
#[test]
fn containers_list_proxy_in_list() -> R {
    let manager = Manager::in_thread()?;
    let a: ListProxy<ListProxy<i64>> = manager.list_of()?;
    for _ in 0..3 {
        let inner: ListProxy<i64> = manager.list_of()?;
        inner.extend(0..3)?;
        a.append(inner)?;
    }
    for inner in a.to_vec()? {
        assert_eq!(inner.to_vec()?, [0, 1, 2]);
    }
    a.get(0)?.set(-1, 55)?;
    assert_eq!(a.get(0)?.to_vec()?, [0, 1, 55]);
    for i in 1..3 {
        assert_eq!(a.get(i)?.to_vec()?, [0, 1, 2]);
    }
    assert_eq!(a.get(1)?.pop()?, 2);
    assert_eq!(a.get(1)?.len()?, 2);
    assert_eq!(a.get(0)?.len()?, 3);
    assert_eq!(a.get(2)?.len()?, 3);
    // b.append(b): a list holding a reference to itself
    let b: ListProxy = manager.list()?;
    b.append(&b)?;
    assert_eq!(b.len()?, 1);
    assert_eq!(manager.convert::<ListProxy>(b.get(0)?)?, b);
    Ok(())
}

/// `_TestContainers.test_dict` and `test_dict_proxy_nested`.
#[test]
fn containers_dict_and_nested_dicts() -> R {
    let manager = Manager::in_thread()?;
    let d: DictProxy<i64, String> = manager.dict_of()?;
    let indices: Vec<i64> = (65..70).collect();
    for &i in &indices {
        d.insert(i, char::from(i as u8).to_string())?;
    }
    let expect: Vec<(i64, String)> = indices
        .iter()
        .map(|&i| (i, char::from(i as u8).to_string()))
        .collect();
    let mut copy = d.copy()?;
    copy.sort();
    assert_eq!(copy, expect);
    let mut keys = d.keys()?;
    keys.sort();
    assert_eq!(keys, indices);
    let mut values = d.values()?;
    values.sort();
    assert_eq!(
        values,
        expect.iter().map(|(_, v)| v.clone()).collect::<Vec<_>>()
    );
    let mut items = d.items()?;
    items.sort();
    assert_eq!(items, expect);
    assert_eq!(
        d.keys()?,
        indices,
        "keys keep insertion order, as in Python"
    );

    // nested
    let pets: DictProxy = manager.dict_from([("ferrets", 2), ("hamsters", 4)])?;
    let supplies: DictProxy = manager.dict_from([("water", 10), ("feed", 3)])?;
    let d: DictProxy<String, DictProxy> = manager.dict_of()?;
    d.insert("pets", pets.clone())?;
    d.insert("supplies", supplies.clone())?;
    assert_eq!(supplies.get_item("water")?, Value::from(10));
    assert_eq!(d.get_item("supplies")?.get_item("water")?, Value::from(10));
    d.get_item("supplies")?.insert("blankets", 5)?;
    assert_eq!(supplies.get_item("blankets")?, Value::from(5));
    d.get_item("supplies")?.insert("water", 7)?;
    assert_eq!(supplies.get_item("water")?, Value::from(7));
    drop((pets, supplies));
    assert_eq!(d.get_item("pets")?.get_item("ferrets")?, Value::from(2));
    let pets = d.get_item("pets")?;
    let supplies = d.get_item("supplies")?;
    d.clear()?;
    assert_eq!(d.len()?, 0);
    assert_eq!(supplies.get_item("water")?, Value::from(7), "still alive");
    assert_eq!(pets.get_item("hamsters")?, Value::from(4));
    let l: ListProxy<DictProxy> = manager.list_of()?;
    l.extend([pets.clone(), supplies.clone()])?;
    l.get(0)?.insert("marmots", 1)?;
    assert_eq!(pets.get_item("marmots")?, Value::from(1));
    // a plain list inside a list stays a plain list (not a proxy)
    let outer: ListProxy = manager.list()?;
    outer.append(vec![88, 99])?;
    outer.append(&l)?;
    assert!(matches!(outer.get(0)?, Value::List(_)));
    let last: ListProxy<DictProxy> = manager.convert(outer.get(-1)?)?;
    assert_eq!(last.get(-1)?.get_item("feed")?, Value::from(3));
    Ok(())
}

/// `_TestContainers.test_nested_queue`: a queue inside a list and inside a dict.
#[test]
fn containers_nested_queue() -> R {
    let manager = Manager::in_thread()?;
    let a: ListProxy<QueueProxy> = manager.list_of()?;
    a.append(manager.queue()?)?;
    a.get(0)?.put(123)?;
    assert_eq!(a.get(0)?.get()?, Value::from(123));
    let b: DictProxy<i64, QueueProxy> = manager.dict_of()?;
    b.insert(0, manager.queue()?)?;
    b.get_item(0)?.put(456)?;
    assert_eq!(b.get_item(0)?.get()?, Value::from(456));
    Ok(())
}

/// `_TestLock`: Lock, RLock, BoundedSemaphore semantics through proxies.
#[test]
fn locks_and_semaphores() -> R {
    let manager = Manager::in_thread()?;
    let lock = manager.lock()?;
    assert!(lock.acquire(Some(Duration::ZERO))?);
    assert!(
        !lock.acquire(Some(Duration::ZERO))?,
        "a Lock is not re-entrant"
    );
    lock.release()?;
    assert_eq!(
        lock.release().expect_err("must fail").remote_kind(),
        Some(RemoteErrorKind::RuntimeError)
    );

    let rlock = manager.rlock()?;
    assert!(rlock.acquire(Some(Duration::ZERO))?);
    assert!(
        rlock.acquire(Some(Duration::ZERO))?,
        "an RLock is re-entrant for its thread"
    );
    let r2 = rlock.clone();
    let other = std::thread::spawn(move || r2.acquire(Some(Duration::ZERO)));
    assert!(
        !other.join().map_err(|_| "thread")??,
        "another thread cannot take it"
    );
    rlock.release()?;
    rlock.release()?;
    assert_eq!(
        rlock.release().expect_err("must fail").remote_kind(),
        Some(RemoteErrorKind::RuntimeError)
    );

    let sem = manager.bounded_semaphore(2)?;
    assert!(sem.acquire(Some(Duration::ZERO))?);
    assert!(sem.acquire(Some(Duration::ZERO))?);
    assert!(!sem.acquire(Some(Duration::from_millis(20)))?);
    assert_eq!(sem.value()?, 0);
    sem.release()?;
    sem.release()?;
    assert_eq!(
        sem.release().expect_err("must fail").remote_kind(),
        Some(RemoteErrorKind::ValueError)
    );
    Ok(())
}

/// `_TestCondition` / `_TestEvent` / `_TestBarrier` basics across threads.
#[test]
fn condition_event_barrier() -> R {
    let manager = Manager::in_thread()?;
    let cond = manager.condition()?;
    let flag = manager.value(false)?;
    let (c2, f2) = (cond.clone(), flag.clone());
    let waiter = std::thread::spawn(move || -> Result<bool, Error> {
        c2.acquire(None)?;
        let ok = c2.wait_for_timeout(|| f2.get().unwrap_or(false), BOUND)?;
        c2.release()?;
        Ok(ok)
    });
    cond.acquire(None)?;
    flag.set(true)?;
    cond.notify_all()?;
    cond.release()?;
    assert!(waiter.join().map_err(|_| "thread")??);
    assert_eq!(
        cond.notify(1).expect_err("must fail").remote_kind(),
        Some(RemoteErrorKind::RuntimeError)
    );

    let ev = manager.event()?;
    assert!(!ev.wait_timeout(Duration::from_millis(10))?);
    let e2 = ev.clone();
    let t = std::thread::spawn(move || e2.wait_timeout(BOUND));
    ev.set()?;
    assert!(t.join().map_err(|_| "thread")??);
    assert!(ev.is_set()?);

    let barrier = manager.barrier(3)?;
    let hs: Vec<_> = (0..3)
        .map(|_| {
            let b = barrier.clone();
            std::thread::spawn(move || b.wait_timeout(BOUND))
        })
        .collect();
    let mut idx: Vec<u32> = hs
        .into_iter()
        .map(|h| h.join().map_err(|_| "thread"))
        .collect::<Result<Result<_, _>, _>>()??;
    idx.sort_unstable();
    assert_eq!(idx, [0, 1, 2]);
    // a lone waiter with a timeout breaks the barrier
    let e = barrier
        .wait_timeout(Duration::from_millis(20))
        .expect_err("must fail");
    assert_eq!(e.remote_kind(), Some(RemoteErrorKind::BrokenBarrier));
    assert!(barrier.broken()?);
    assert_eq!(barrier.parties()?, 3);
    assert_eq!(barrier.n_waiting()?, 0);
    barrier.reset()?;
    assert!(!barrier.info()?.2);
    // the untimed forms: a condition wait woken by notify, an event wait
    let c3 = cond.clone();
    let waiter = std::thread::spawn(move || -> Result<(), Error> {
        c3.acquire(None)?;
        c3.wait()?;
        c3.release()
    });
    // notify until the waiter has been woken (it may not be waiting yet), bounded
    let deadline = std::time::Instant::now() + BOUND;
    while !waiter.is_finished() {
        assert!(
            std::time::Instant::now() < deadline,
            "the condition waiter was never woken"
        );
        cond.acquire(None)?;
        cond.notify(1)?;
        cond.release()?;
        std::thread::sleep(Duration::from_millis(1));
    }
    waiter.join().map_err(|_| "thread")??;
    ev.wait()?;
    Ok(())
}

/// `_TestQueue`: blocking get, bounded put, JoinableQueue task accounting.
#[test]
fn queues() -> R {
    let manager = Manager::in_thread()?;
    let q = manager.bounded_queue::<i64>(2)?;
    q.put(1)?;
    q.put(2)?;
    assert_eq!(
        q.put_timeout(3, Duration::from_millis(10))
            .expect_err("must fail")
            .remote_kind(),
        Some(RemoteErrorKind::Full)
    );
    let q2 = q.clone();
    let consumer = std::thread::spawn(move || -> Result<Vec<i64>, Error> {
        (0..3).map(|_| q2.get()).collect()
    });
    q.put(3)?; // blocks until the consumer makes room
    assert_eq!(consumer.join().map_err(|_| "thread")??, [1, 2, 3]);
    assert_eq!(q.try_get()?, None);

    let jq = manager.joinable_queue::<String>()?;
    jq.put("a".to_string())?;
    jq.put("b".to_string())?;
    assert!(!jq.join_timeout(Duration::from_millis(10))?);
    let jq2 = jq.clone();
    let worker = std::thread::spawn(move || -> Result<(), Error> {
        for _ in 0..2 {
            jq2.get()?;
            jq2.task_done()?;
        }
        Ok(())
    });
    assert!(jq.join_timeout(BOUND)?);
    jq.join()?;
    worker.join().map_err(|_| "thread")??;
    assert_eq!(
        jq.task_done().expect_err("must fail").remote_kind(),
        Some(RemoteErrorKind::ValueError)
    );
    Ok(())
}

/// `manager.Value` and `manager.Array` (`_TestValue`/`_TestArray` through a manager).
#[test]
fn value_and_array() -> R {
    let manager = Manager::in_thread()?;
    let v = manager.value(1.5f64)?;
    v.set(2.5)?;
    assert_eq!(v.get()?, 2.5);
    let a = manager.array([0i64; 4])?;
    a.set(-1, 7)?;
    assert_eq!(a.to_vec()?, [0, 0, 0, 7]);
    assert!(a.set(4, 1).is_err());
    assert!(
        a.set_slice(Some(0), Some(2), [1, 2, 3]).is_err(),
        "an array keeps its length"
    );
    a.set_slice(Some(0), Some(2), [1, 2])?;
    assert_eq!(a.to_vec()?, [1, 2, 0, 7]);
    Ok(())
}

#[derive(Default)]
struct Counter {
    n: i64,
}

impl Shared for Counter {
    const TYPEID: &'static str = "Counter";
    fn new(args: Vec<Value>) -> Result<Self, RemoteError> {
        let n = match args.into_iter().next() {
            Some(v) => i64::from_value(v)
                .map_err(|e| RemoteError::new(RemoteErrorKind::TypeError, e.to_string()))?,
            None => 0,
        };
        Ok(Counter { n })
    }
    fn call(&mut self, method: &str, args: Vec<Value>) -> Result<Value, RemoteError> {
        match method {
            "add" => {
                let by = args
                    .into_iter()
                    .next()
                    .map_or(Ok(1), i64::from_value)
                    .map_err(|e| RemoteError::new(RemoteErrorKind::TypeError, e.to_string()))?;
                self.n += by;
                Ok(self.n.into())
            }
            "get" => Ok(self.n.into()),
            _ => Err(RemoteError::new(
                RemoteErrorKind::NoSuchMethod,
                format!("Counter has no method {method}"),
            )),
        }
    }
    fn repr(&self) -> String {
        format!("Counter({})", self.n)
    }
}

/// `_TestMyManager`: a registered custom type with typed method calls.
#[test]
fn custom_type() -> R {
    let mut reg = Registry::new();
    reg.register::<Counter>();
    let manager = Manager::in_thread_with(reg)?;
    let c = manager.create::<Counter>((10,))?;
    assert_eq!(c.call::<i64>("add", (5,))?, 15);
    assert_eq!(c.call::<i64>("get", ())?, 15);
    assert_eq!(c.to_string(), "Counter(15)");
    assert_eq!(
        c.call::<i64>("nope", ())
            .expect_err("must fail")
            .remote_kind(),
        Some(RemoteErrorKind::NoSuchMethod)
    );
    assert!(matches!(c.call::<String>("get", ()), Err(Error::Type(_))));
    assert_eq!(
        c.call::<i64>("add", ("x",))
            .expect_err("must fail")
            .remote_kind(),
        Some(RemoteErrorKind::TypeError)
    );
    // a server without the type says so
    let plain = Manager::in_thread()?;
    assert_eq!(
        plain
            .create::<Counter>(())
            .expect_err("must fail")
            .remote_kind(),
        Some(RemoteErrorKind::UnknownType)
    );
    Ok(())
}

// ------------------------------------------------------ network & faults

fn free_tcp() -> Address {
    Address::Tcp("127.0.0.1:0".parse().expect("address"))
}

/// `_TestRemoteManager`: serve over TCP with a key; a client with the right key shares a
/// queue with one that got the proxy, a wrong key is refused, no key is refused.
#[test]
fn remote_manager_over_tcp() -> R {
    let server = Manager::serve_in_thread(free_tcp(), Some(b"abracadabra"), Registry::new())?;
    let addr = server.address().cloned().ok_or("address")?;
    let q = server.queue()?;
    server.publish("queue", &q)?;

    let client = Manager::connect(addr.clone(), Some(b"abracadabra"))?;
    let q2: QueueProxy = client.lookup("queue")?;
    q2.put(("hello", 1))?;
    assert_eq!(q.get()?.to_string(), "('hello', 1)");

    assert!(matches!(
        Manager::connect(addr.clone(), Some(b"wrong")),
        Err(Error::Auth(_))
    ));
    assert!(matches!(
        Manager::connect(addr.clone(), None),
        Err(Error::Config(_))
    ));
    assert!(matches!(
        Server::bind(free_tcp(), None),
        Err(Error::Config(_))
    ));
    // still serving after the refusals
    q2.put(2)?;
    assert_eq!(q.get()?, Value::from(2));
    Ok(())
}

/// Oversized and undecodable requests: the offending client is cut off or told, the
/// server keeps serving everyone else.
#[test]
fn oversized_and_garbage_frames() -> R {
    let server = Server::new(Registry::new());
    server.set_max_request(4096);
    let (a, b) = multiproc_ipc::Pipe::duplex()?;
    server.spawn_connection(a);
    let good = Manager::over(b);
    let d = good.dict()?;

    let (a, b) = multiproc_ipc::Pipe::duplex()?;
    server.spawn_connection(a);
    let big = Manager::over(b);
    let l = big.list()?;
    let r = l.append("x".repeat(100_000));
    assert!(matches!(r, Err(Error::ManagerGone(_))), "{r:?}");

    let (a, b) = multiproc_ipc::Pipe::duplex()?;
    server.spawn_connection(a);
    b.send_bytes(b"\xff\xff\xff garbage")?;
    let reply = b.recv_bytes_timeout(BOUND)?;
    assert!(
        !reply.is_empty(),
        "the server answers garbage with an error frame"
    );

    d.insert(1, 2)?;
    assert_eq!(d.get_item(1)?, Value::from(2));
    server.shutdown();
    Ok(())
}

/// A client that ends normally (drops its manager) while it holds a lock and a
/// semaphore permit leaves both as they are, for another client to release (CPython's
/// rule); items it put stay in the queue.
#[test]
fn cleanly_ended_client_leaves_lock_and_permit() -> R {
    let manager = Manager::in_thread()?;
    let addr = manager.address().cloned().ok_or("address")?;
    let lock = manager.lock()?;
    let sem = manager.semaphore(1)?;
    let q = manager.queue()?;
    manager.publish("lock", &lock)?;
    manager.publish("sem", &sem)?;
    manager.publish("q", &q)?;
    {
        let other = Manager::connect(addr, manager.authkey())?;
        let l2: LockProxy = other.lookup("lock")?;
        let s2: multiproc_manager::SemaphoreProxy = other.lookup("sem")?;
        let q2: QueueProxy = other.lookup("q")?;
        l2.acquire(None)?;
        s2.acquire(None)?;
        q2.put("left behind")?;
        assert!(!lock.acquire(Some(Duration::ZERO))?);
    } // goodbye, then the connection closes
    assert_eq!(q.get_timeout(BOUND)?, Value::from("left behind"));
    // the goodbye was read before the item above was taken? not necessarily: the
    // other client's connection is served by a thread of its own. Whatever the order,
    // the lock stays locked and the permit taken, for this client to release.
    assert!(lock.locked()?, "{}", lock.repr()?);
    lock.release()?;
    assert_eq!(sem.value()?, 0);
    sem.release()?;
    assert!(!lock.repr()?.contains("vanished"), "{}", lock.repr()?);
    assert!(lock.acquire(Some(Duration::ZERO))?);
    assert!(sem.acquire(Some(Duration::ZERO))?);
    Ok(())
}

/// A child process SIGKILLed while holding a manager lock: the lock is released, and
/// the next acquirer is told the owner died (it holds the lock then).
#[test]
fn sigkilled_holder_releases_lock() -> R {
    let manager = Manager::in_thread()?;
    let lock = manager.lock()?;
    let q = manager.queue_of::<String>()?;
    let mut child = spawn_child("hold_lock", &(lock.clone(), q.clone()))?;
    let said = q.get_timeout(BOUND);
    let _ = child.kill(); // SIGKILL
    let _ = child.wait();
    assert_eq!(said?, "locked");
    match lock.acquire(Some(BOUND)) {
        Err(AcquireError::OwnerDied(_)) => {}
        other => return Err(format!("expected OwnerDied, got {other:?}").into()),
    }
    assert!(lock.locked()?, "held by the one who was told");
    assert!(lock.repr()?.contains("vanished"), "{}", lock.repr()?);
    lock.release()?;
    assert!(lock.acquire(Some(BOUND))?, "told once, then a normal lock");
    Ok(())
}

/// Shutting the server down while clients wait: they get `ManagerGone`, not a hang
/// (`_TestManagerRestart` neighbourhood; CPython raises EOFError deep inside).
#[test]
fn shutdown_wakes_waiters() -> R {
    let manager = Manager::in_thread()?;
    let q = manager.queue()?;
    let lock = manager.lock()?;
    lock.acquire(None)?;
    let other = Manager::connect(
        manager.address().cloned().ok_or("address")?,
        manager.authkey(),
    )?;
    let q2: QueueProxy = {
        other.publish("q", &q)?;
        other.lookup("q")?
    };
    let l2: LockProxy = {
        other.publish("l", &lock)?;
        other.lookup("l")?
    };
    let t1 = std::thread::spawn(move || q2.get());
    let t2 = std::thread::spawn(move || l2.acquire(None));
    manager.shutdown()?;
    assert!(matches!(
        t1.join().map_err(|_| "thread")?,
        Err(Error::ManagerGone(_))
    ));
    assert!(matches!(
        t2.join().map_err(|_| "thread")?,
        Err(AcquireError::Failed(Error::ManagerGone(_)))
    ));
    assert!(matches!(q.qsize(), Err(Error::ManagerGone(_))));
    Ok(())
}

/// `_TestManagerRestart`: a server can be served again on the same address after a
/// shutdown.
#[test]
fn restart_on_same_address() -> R {
    let dir = std::env::temp_dir().join(format!("mpm-restart-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let addr = Address::unix(dir.join("s"));
    for round in 0..2 {
        let m = Manager::serve_in_thread(addr.clone(), Some(b"key"), Registry::new())?;
        let d = m.dict()?;
        d.insert("round", round)?;
        assert_eq!(d.get_item("round")?, Value::from(round));
        m.shutdown()?;
        drop(m);
    }
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

/// `destroy` while another client waits on the object (without a timeout): the waiter
/// is told the object is gone (`NoSuchObject`) instead of waiting for ever on an object
/// nobody can reach any more. (CPython cannot get there: an object lives while a proxy
/// refers to it.)
#[test]
fn destroy_wakes_waiters() -> R {
    let manager = Manager::in_thread()?;
    let cond = manager.condition()?;
    let c2 = cond.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let r = c2
            .acquire(None)
            .map_err(Error::from)
            .and_then(|_| c2.wait());
        let _ = tx.send(r);
    });
    // the waiter is inside `wait` once the server counts it
    let deadline = std::time::Instant::now() + BOUND;
    while !cond.repr()?.contains("waiters=1") {
        assert!(
            std::time::Instant::now() < deadline,
            "the waiter never waited"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    let e2 = manager.event()?;
    let e3 = e2.clone();
    let (etx, erx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = etx.send(e3.wait());
    });
    cond.destroy()?;
    let r = rx
        .recv_timeout(BOUND)
        .map_err(|_| "a waiter on a destroyed object waits for ever")?;
    let e = r.expect_err("the object is gone");
    assert_eq!(e.remote_kind(), Some(RemoteErrorKind::NoSuchObject), "{e}");
    // an event waiter, whether its wait began before or after the destroy
    e2.destroy()?;
    let r = erx
        .recv_timeout(BOUND)
        .map_err(|_| "a waiter on a destroyed event waits for ever")?;
    assert_eq!(
        r.expect_err("the event is gone").remote_kind(),
        Some(RemoteErrorKind::NoSuchObject)
    );
    Ok(())
}

/// Many threads and processes at once on one list.
#[test]
fn concurrent_appends() -> R {
    let manager = Manager::in_thread()?;
    let l = manager.list_of::<i64>()?;
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let l = l.clone();
            std::thread::spawn(move || -> Result<(), Error> {
                for i in 0..100 {
                    l.append(i)?;
                }
                Ok(())
            })
        })
        .collect();
    let procs: Vec<Child> = (0..4)
        .map(|_| spawn_child("append_many", &(l.clone(), 100i64)))
        .collect::<Result<_, _>>()?;
    for t in threads {
        t.join().map_err(|_| "thread")??;
    }
    for p in procs {
        assert!(reap(p));
    }
    assert_eq!(l.len()?, 1200);
    assert_eq!(l.count(42)?, 12);
    Ok(())
}

fn child_fill(d: DictProxy, l: ListProxy<i64>, i: i64) -> Result<i64, String> {
    d.insert(i, 2 * i).map_err(|e| e.to_string())?;
    l.append(i).map_err(|e| e.to_string())?;
    d.len().map(|n| n as i64).map_err(|e| e.to_string())
}

/// Beyond CPython (whose proxies can block forever on a dead server): the server
/// process is SIGKILLed while one client thread waits in a blocking `get` and another
/// holds a lock; both get `ManagerGone` promptly, later calls too, and dropping the
/// manager reaps the dead server without hanging.
#[test]
fn sigkilled_server_fails_waiters_instead_of_hanging() -> R {
    let manager = Manager::start()?;
    let pid = manager.pid().ok_or("a started manager has a server pid")?;
    let q = manager.queue_of::<i64>()?;
    let lock = manager.lock()?;
    lock.acquire(None)?;
    let q2 = q.clone();
    let getter = std::thread::spawn(move || q2.get_timeout(BOUND));
    let l2 = lock.clone();
    let locker = std::thread::spawn(move || l2.acquire(Some(BOUND)));
    std::thread::sleep(Duration::from_millis(50)); // let both block in the server
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pid as i32).ok_or("pid")?,
        rustix::process::Signal::KILL,
    )?;
    let got = getter.join().map_err(|_| "thread")?;
    assert!(matches!(got, Err(Error::ManagerGone(_))), "{got:?}");
    let locked = locker.join().map_err(|_| "thread")?;
    assert!(
        matches!(locked, Err(AcquireError::Failed(Error::ManagerGone(_)))),
        "{locked:?}"
    );
    assert!(matches!(q.put(1), Err(Error::ManagerGone(_))));
    assert!(matches!(manager.ping(), Err(Error::ManagerGone(_))));
    drop((q, lock));
    // shutting down a dead server is not an error worth failing on, but it reaps it
    let _ = manager.shutdown();
    assert_eq!(manager.pid(), None, "shutdown reaped the dead server");
    drop(manager);
    Ok(())
}

/// The server process frozen (SIGSTOP) before `shutdown`: the call still returns — the
/// server never acknowledges, so after the grace period it is killed and reaped —
/// instead of waiting for ever for the acknowledgement. Dropping such a manager is
/// bounded the same way.
#[test]
fn shutdown_of_a_frozen_server_is_bounded() -> R {
    for how in ["shutdown", "drop"] {
        let manager = Manager::start()?;
        let pid = manager.pid().ok_or("a started manager has a server pid")?;
        rustix::process::kill_process(
            rustix::process::Pid::from_raw(pid as i32).ok_or("pid")?,
            rustix::process::Signal::STOP,
        )?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let r = if how == "shutdown" {
                manager.shutdown().map(|()| manager.pid())
            } else {
                drop(manager);
                Ok(None)
            };
            let _ = tx.send(r);
        });
        let r = rx
            .recv_timeout(BOUND)
            .map_err(|_| format!("{how} of a frozen manager waits for ever"))?;
        assert_eq!(r?, None, "{how}: the server was reaped");
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "{how}: no process left behind"
        );
    }
    Ok(())
}

/// `Manager()` under every start method: the server is a daemon child process; proxies
/// go to children started with every start method; shutdown reaps it and later calls
/// say the manager is gone.
#[test]
fn start_under_every_method() -> R {
    use multiproc_manager::StartMethod;
    for method in [
        StartMethod::Fork,
        StartMethod::Spawn,
        StartMethod::ForkServer,
    ] {
        let manager = Manager::start_with::<()>(Some(method))?;
        let d = manager.dict()?;
        let l = manager.list_of::<i64>()?;
        for child_method in [
            StartMethod::Fork,
            StartMethod::Spawn,
            StartMethod::ForkServer,
        ] {
            let p = multiproc_process::Process::new(child_fill, (d.clone(), l.clone(), 1i64))
                .start_method(child_method)
                .start()?;
            let n = p
                .join_value()?
                .map_err(|e| format!("{method}/{child_method}: {e}"))?;
            assert!(n >= 1);
        }
        assert_eq!(d.get_item(1)?, Value::from(2));
        assert_eq!(l.to_vec()?, [1, 1, 1]);
        manager.shutdown()?;
        assert!(matches!(d.len(), Err(Error::ManagerGone(_))), "{method}");
    }
    Ok(())
}

fn hold_rlock_twice(l: LockProxy) -> Result<String, String> {
    let acquired = l.acquire(Some(BOUND)).map_err(|e| e.to_string())?
        && l.acquire(Some(BOUND)).map_err(|e| e.to_string())?;
    if !acquired {
        return Err("an acquisition timed out".into());
    }
    let repr = l.repr().map_err(|e| e.to_string())?;
    l.release().map_err(|e| e.to_string())?;
    l.release().map_err(|e| e.to_string())?;
    Ok(repr)
}

/// A proxy inherited in memory by a fork child: every call of the child goes over one
/// connection of its own, so a lock it took is still its own at its next call.
/// (Regression: the child's connection was dropped after each call, so each call opened
/// a new one, the server released the lock when the first one closed, and the child's
/// own `release` was refused as not the owner's.)
#[test]
fn fork_child_calls_share_one_connection() -> R {
    let manager = Manager::in_thread()?;
    let l = manager.rlock()?;
    let p = multiproc_process::Process::new(hold_rlock_twice, (l.clone(),))
        .start_method(multiproc_manager::StartMethod::Fork)
        .start()?;
    if !matches!(p.join_timeout(BOUND), Ok(true)) {
        let _ = p.kill();
        let _ = p.join_timeout(BOUND);
        return Err("the child did not finish".into());
    }
    let repr = p.join_value()??;
    assert!(repr.contains("count=2"), "held twice by the child: {repr}");
    assert!(l.acquire(Some(Duration::ZERO))?, "released by the child");
    assert!(
        !l.repr()?.contains("vanished"),
        "the child released it itself: {}",
        l.repr()?
    );
    l.release()?;
    Ok(())
}

fn insert_one(d: DictProxy, i: i64) -> Result<(), String> {
    d.insert(i, i).map_err(|e| e.to_string())
}

/// Fork children started while another thread of the parent receives proxies (and so
/// takes the process's registry of manager connections, many times a millisecond): a
/// child that inherits the registry locked still reaches the manager. (Regression:
/// such a child waited for ever for a lock no thread of its own would release; about
/// one fork in thirty hung.)
#[test]
fn fork_while_another_thread_receives_proxies() -> R {
    use std::sync::atomic::{AtomicBool, Ordering};
    let manager = Manager::in_thread()?;
    let d = manager.dict()?;
    let (bytes, _) = multiproc_ipc::encode(&d)?;
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let receiver = {
        let stop = stop.clone();
        std::thread::spawn(move || -> Result<(), multiproc_ipc::CodecError> {
            while !stop.load(Ordering::Relaxed) {
                let _received: DictProxy = multiproc_ipc::decode(&bytes, Vec::new())?;
            }
            Ok(())
        })
    };
    let outcome = (|| -> R {
        for i in 0..100 {
            let p = multiproc_process::Process::new(insert_one, (d.clone(), i))
                .start_method(multiproc_manager::StartMethod::Fork)
                .start()?;
            // far beyond the child's own bounded wait for the registry
            if !p.join_timeout(BOUND)? {
                let _ = p.kill();
                let _ = p.join_timeout(BOUND);
                return Err(format!("fork child {i} hangs").into());
            }
            p.join_value()??;
        }
        Ok(())
    })();
    stop.store(true, Ordering::Relaxed);
    receiver
        .join()
        .map_err(|_| "the receiving thread panicked")??;
    outcome?;
    assert_eq!(d.len()?, 100);
    Ok(())
}

struct CounterSetup;
impl multiproc_manager::Setup for CounterSetup {
    fn registry() -> Registry {
        let mut r = Registry::new();
        r.register::<Counter>();
        r
    }
}

/// `_TestMyManager` with the server in a spawned process: the custom type is
/// registered by the server binary itself.
#[test]
fn start_with_custom_types() -> R {
    let manager = Manager::start_with::<CounterSetup>(Some(multiproc_manager::StartMethod::Spawn))?;
    let c = manager.create::<Counter>((1,))?;
    assert_eq!(c.call::<i64>("add", (41,))?, 42);
    drop(manager); // drop shuts the server down and reaps it
    Ok(())
}

/// The issue's multi-host scenario on loopback: the server and two clients are separate
/// processes that only share a TCP address and a key; they exchange work through a
/// queue and results through a dict; a wrong-key client is refused. (Network
/// namespaces joined by veth would make them separate hosts; this test uses separate
/// processes on 127.0.0.1, which exercises the same code paths.)
#[test]
fn separate_processes_over_tcp() -> R {
    use std::io::BufRead;
    let (bytes, _) = multiproc_ipc::encode(&())?;
    let mut server = this_test_binary("child_entry")?
        .env("MPM_ROLE", "tcp_server")
        .env("MPM_ARG", hex(&bytes))
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    let out = server.stdout.take().ok_or("stdout")?;
    // Read the port on a thread so a silent server cannot hang the test.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            if let Some(p) = line.split("PORT ").nth(1) {
                let _ = tx.send(p.trim().parse::<u16>().ok());
            }
        }
    });
    let port = rx.recv_timeout(BOUND).ok().flatten();
    let port = match port {
        Some(p) => p,
        None => {
            let _ = server.kill();
            let _ = server.wait();
            return Err("server did not report its port".into());
        }
    };
    let addr = format!("127.0.0.1:{port}");
    let consumer = spawn_child("tcp_consumer", &addr)?;
    let producer = spawn_child("tcp_producer", &addr)?;
    let ok = reap(producer) & reap(consumer);
    let check = (|| -> R {
        assert!(ok, "a client process failed");
        assert!(matches!(
            Manager::connect(Address::Tcp(addr.parse()?), Some(b"not the key")),
            Err(Error::Auth(_))
        ));
        let m = Manager::connect(Address::Tcp(addr.parse()?), Some(b"abracadabra"))?;
        let d: DictProxy<i64, i64> = m.lookup("results")?;
        assert_eq!(d.len()?, 20);
        assert_eq!(d.get_item(7)?, 49);
        m.shutdown()?;
        Ok(())
    })();
    if !reap(server) {
        return Err("the server process did not exit cleanly after shutdown".into());
    }
    check
}

/// `set_call_timeout`: a frozen server fails the call with `CallTimeout` (bounded), then
/// every later call with `ManagerGone`; on a healthy server an operation's own timeout
/// and a wait-for-ever operation are not cut short by it.
#[test]
fn call_timeout_bounds_a_frozen_server() -> R {
    use multiproc_manager::Error;
    let manager = Manager::start()?;
    let pid = manager.pid().ok_or("a started manager has a server pid")?;
    // Every call on the healthy server must beat this bound, so it is generous for a
    // loaded machine (not a speed check); the waits below exceed it.
    manager.set_call_timeout(Some(Duration::from_secs(3)));
    let d = manager.dict_of::<String, u64>()?;
    d.insert("k", 1u64)?;
    // Healthy server: an acquire that times out on its own says so (false), not
    // CallTimeout, though its wait exceeds the call timeout.
    let lock = manager.lock()?;
    lock.acquire(None)?;
    let other = std::thread::spawn({
        let lock = lock.clone();
        move || lock.acquire(Some(Duration::from_secs(4)))
    });
    assert!(!other.join().map_err(|_| "acquirer panicked")??);
    // A wait for ever by request is not cut short: held past the call timeout, the
    // lock is still acquired once released.
    let waiter = std::thread::spawn({
        let lock = lock.clone();
        move || {
            lock.acquire(None)
                .map_err(Error::from)
                .and_then(|_| lock.release())
        }
    });
    std::thread::sleep(Duration::from_millis(3500));
    lock.release()?;
    waiter.join().map_err(|_| "waiter panicked")??;
    assert_eq!(d.get_item("k")?, 1, "the connection is still usable");
    let pid = rustix::process::Pid::from_raw(pid as i32).ok_or("pid")?;
    rustix::process::kill_process(pid, rustix::process::Signal::STOP)?;
    // SIGSTOP takes effect asynchronously: wait (bounded) until every thread of the
    // server is stopped.
    let stopped = || -> bool {
        let dir = format!("/proc/{}/task", pid.as_raw_nonzero());
        let Ok(tasks) = std::fs::read_dir(dir) else {
            return false;
        };
        tasks.flatten().all(|t| {
            std::fs::read_to_string(t.path().join("stat"))
                .ok()
                .and_then(|s| {
                    s.rsplit_once(')')
                        .map(|(_, r)| r.trim_start().starts_with('T'))
                })
                .unwrap_or(false)
        })
    };
    let until = std::time::Instant::now() + BOUND;
    while !stopped() {
        assert!(
            std::time::Instant::now() < until,
            "the server never stopped"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let d2 = d.clone();
    std::thread::spawn(move || {
        let _ = tx.send(d2.get_item("k"));
    });
    let r = rx
        .recv_timeout(BOUND)
        .map_err(|_| "a call to a frozen server waited for ever")?;
    assert!(matches!(r, Err(Error::CallTimeout(_))), "{r:?}");
    assert!(matches!(d.get_item("k"), Err(Error::ManagerGone(_))));
    rustix::process::kill_process(pid, rustix::process::Signal::CONT)?;
    manager.shutdown()?;
    Ok(())
}

// ------------------------------------------------------------ waiting for the end

/// A manager that started its server waits until another client ends it: on threads,
/// in a child process under every start method, and through a connected manager.
#[test]
fn wait_returns_when_another_client_shuts_the_server_down() -> R {
    use multiproc_manager::StartMethod;
    const SHORT: Duration = Duration::from_millis(10);

    let key: &[u8] = b"wait key";
    let threads = Manager::serve_in_thread(
        Address::Tcp("127.0.0.1:0".parse()?),
        Some(key),
        Registry::new(),
    )?;
    let addr = threads.address().cloned().ok_or("no address")?;
    let watcher = Manager::connect(addr.clone(), Some(key))?;
    assert!(
        !threads.wait_timeout(SHORT)?,
        "ended before anyone shut it down"
    );
    assert!(
        !watcher.wait_timeout(SHORT)?,
        "ended before anyone shut it down"
    );
    Manager::connect(addr, Some(key))?.shutdown()?;
    assert!(
        threads.wait_timeout(BOUND)?,
        "the served-in-thread server did not end"
    );
    assert!(
        watcher.wait_timeout(BOUND)?,
        "the connected manager did not see the end"
    );
    threads.wait()?;

    for method in [
        StartMethod::Fork,
        StartMethod::Spawn,
        StartMethod::ForkServer,
    ] {
        let m = Manager::start_with::<()>(Some(method))?;
        let pid = m.pid().ok_or("no server pid")?;
        assert!(!m.wait_timeout(SHORT)?, "{method:?}: ended too early");
        let addr = m.address().cloned().ok_or("no address")?;
        Manager::connect(addr, m.authkey())?.shutdown()?;
        assert!(
            m.wait_timeout(BOUND)?,
            "{method:?}: the server process did not end"
        );
        assert!(reaped(pid), "{method:?}: the server process was not reaped");
        m.wait()?;
    }
    Ok(())
}

// ------------------------------------------------------------ method_to_typeid

/// A counter made by [`Shelf`]: starts at its one argument, `incr` adds one.
struct Tally(i64);

impl Shared for Tally {
    const TYPEID: &'static str = "Tally";
    fn new(args: Vec<Value>) -> Result<Self, RemoteError> {
        let start = args.into_iter().next().map_or(Ok(0), i64::from_value);
        start
            .map(Tally)
            .map_err(|e| RemoteError::new(RemoteErrorKind::TypeError, e.to_string()))
    }
    fn call(&mut self, method: &str, _: Vec<Value>) -> Result<Value, RemoteError> {
        match method {
            "incr" => {
                self.0 += 1;
                Ok(self.0.into())
            }
            _ => Err(RemoteError::new(RemoteErrorKind::NoSuchMethod, method)),
        }
    }
}

/// CPython's `method_to_typeid`: `tally(n)` returns a new `Tally`, `items(n)` a new
/// managed list, `lost()` an object of a type nobody registered, `plain(n)` a copy.
struct Shelf;

impl Shared for Shelf {
    const TYPEID: &'static str = "Shelf";
    const METHOD_TO_TYPEID: &'static [(&'static str, &'static str)] =
        &[("tally", "Tally"), ("items", "list"), ("lost", "Nobody")];
    fn new(_: Vec<Value>) -> Result<Self, RemoteError> {
        Ok(Shelf)
    }
    fn call(&mut self, method: &str, args: Vec<Value>) -> Result<Value, RemoteError> {
        let n = args.into_iter().next().unwrap_or(Value::None);
        match method {
            "tally" | "plain" | "lost" => Ok(n),
            "items" => {
                let n = i64::from_value(n)
                    .map_err(|e| RemoteError::new(RemoteErrorKind::TypeError, e.to_string()))?;
                Ok(Value::List((0..n).map(Value::from).collect()))
            }
            _ => Err(RemoteError::new(RemoteErrorKind::NoSuchMethod, method)),
        }
    }
}

struct ShelfSetup;

impl multiproc_manager::Setup for ShelfSetup {
    fn registry() -> Registry {
        let mut r = Registry::new();
        r.register::<Tally>().register::<Shelf>();
        r
    }
}

#[test]
fn method_to_typeid_results_are_new_managed_objects() -> R {
    use multiproc_manager::Proxy;
    use multiproc_process::StartMethod;
    for method in [
        StartMethod::Fork,
        StartMethod::Spawn,
        StartMethod::ForkServer,
    ] {
        let manager = Manager::start_with::<ShelfSetup>(Some(method))?;
        let shelf = manager.create::<Shelf>(())?;
        // Each call makes a new object on the server; the proxy reaches it.
        let a: Proxy<Tally> = shelf.call("tally", (10,))?;
        let b: Proxy<Tally> = shelf.call("tally", (10,))?;
        assert_ne!(a.id(), b.id(), "{method:?}");
        assert_eq!(a.call::<i64>("incr", ())?, 11);
        assert_eq!(a.call::<i64>("incr", ())?, 12, "{method:?}: state kept");
        assert_eq!(b.call::<i64>("incr", ())?, 11, "{method:?}: independent");
        // The built-in "list" typeid: a managed list, not a copy.
        let items: ListProxy<i64> = shelf.call("items", (3,))?;
        items.append(3)?;
        assert_eq!(items.to_vec()?, [0, 1, 2, 3], "{method:?}");
        // Methods not listed return copies.
        assert_eq!(shelf.call::<i64>("plain", (5,))?, 5);
        // A constructor that refuses the result: its error, and no object.
        let Err(bad) = shelf.call::<Proxy<Tally>>("tally", ("x",)) else {
            panic!("{method:?}: a Tally made from a string");
        };
        assert_eq!(bad.remote_kind(), Some(RemoteErrorKind::TypeError), "{bad}");
        // A typeid nobody registered.
        let Err(lost) = shelf.call::<Value>("lost", (1,)) else {
            panic!("{method:?}: an object of an unregistered type");
        };
        assert_eq!(
            lost.remote_kind(),
            Some(RemoteErrorKind::UnknownType),
            "{lost}"
        );
        manager.shutdown()?;
    }
    Ok(())
}
