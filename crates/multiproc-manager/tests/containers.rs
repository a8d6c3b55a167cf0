//! The container operations of CPython 3.14's managers: `manager.set()`, iteration
//! over dict, list and set proxies, list `+ * += *=`, dict `| |= fromkeys reversed`.
//!
//! CPython 3.11's `_test_multiprocessing.py` predates them; the cases here follow the
//! 3.14 `_TestContainers` additions where they exist (named in a comment) and are our
//! own otherwise. Every case that involves a child runs under every start method.

use std::collections::BTreeSet;

use multiproc_manager::{
    DictProxy, Error, ITER_BATCH, ListProxy, Manager, RemoteErrorKind, SetProxy, Value,
};
use multiproc_process::Process;
use proptest::prelude::*;

use multiproc_test_support::{BOUND, METHODS};

type R = Result<(), Box<dyn std::error::Error>>;

fn kind(e: &Error) -> Option<RemoteErrorKind> {
    e.remote_kind()
}

// ------------------------------------------------------------------- set

// CPython 3.14: _TestContainers.test_set
#[test]
fn set_add_discard_remove_pop_clear() -> R {
    let m = Manager::in_thread()?;
    let a = m.set_of::<String>()?;
    assert_eq!(a.to_string(), "set()");
    a.add("a")?;
    a.add("b")?;
    a.add("a")?;
    assert!(a.set_eq(["a", "b"])?);
    assert_eq!(a.len()?, 2);
    assert!(a.contains("a")? && !a.contains("z")?);
    a.discard("a")?;
    a.discard("zzz")?; // absent: no error
    assert!(a.set_eq(["b"])?);
    a.remove("b")?;
    assert!(a.is_empty()?);
    let e = a.remove("b").expect_err("an error");
    assert!(e.is_key_error(), "{e}");
    let e = a.pop().expect_err("an error");
    assert!(e.is_key_error(), "pop from an empty set: {e}");
    a.update(["x", "y"])?;
    let popped = a.pop()?;
    assert!(popped == "x" || popped == "y");
    assert_eq!(a.len()?, 1);
    a.clear()?;
    assert!(a.is_empty()?);
    Ok(())
}

// CPython 3.14: _TestContainers.test_set_init
#[test]
fn set_init_drops_duplicates_and_refuses_unhashable() -> R {
    let m = Manager::in_thread()?;
    let s = m.set_from([1, 2, 2, 3, 1])?;
    assert_eq!(s.len()?, 3);
    assert_eq!(s.to_string(), "{1, 2, 3}");
    // Python equality: 1 == 1.0 == True
    let t = m.set_from([Value::from(1), Value::from(1.0), Value::from(true)])?;
    assert_eq!(t.len()?, 1);
    let e = m.set_from([Value::List(vec![])]).expect_err("an error");
    assert_eq!(kind(&e), Some(RemoteErrorKind::TypeError), "{e}");
    let e = s.add(Value::List(vec![])).expect_err("an error");
    assert_eq!(kind(&e), Some(RemoteErrorKind::TypeError), "{e}");
    assert!(
        !s.contains(Value::List(vec![]))?,
        "an unhashable value is not there"
    );
    let e = s
        .update([Value::from(9), Value::Dict(vec![])])
        .expect_err("an error");
    assert_eq!(kind(&e), Some(RemoteErrorKind::TypeError), "{e}");
    assert!(!s.contains(9)?, "a refused update adds nothing");
    Ok(())
}

// CPython 3.14: _TestContainers.test_set (the algebra) — each against `BTreeSet`
#[test]
fn set_algebra() -> R {
    let m = Manager::in_thread()?;
    let a = m.set_of::<i64>()?;
    a.update([1, 2, 3])?;
    let sorted = |v: Vec<i64>| v.into_iter().collect::<BTreeSet<_>>();
    assert_eq!(sorted(a.union([3, 4])?), BTreeSet::from([1, 2, 3, 4]));
    assert_eq!(sorted(a.intersection([2, 3, 4])?), BTreeSet::from([2, 3]));
    assert_eq!(sorted(a.difference([2])?), BTreeSet::from([1, 3]));
    assert_eq!(
        sorted(a.symmetric_difference([3, 4])?),
        BTreeSet::from([1, 2, 4])
    );
    assert!(a.issubset([1, 2, 3, 4])? && !a.issubset([1, 2])?);
    assert!(a.issuperset([1, 2])? && !a.issuperset([4])?);
    assert!(a.isdisjoint([7, 8])? && !a.isdisjoint([3])?);
    assert!(a.set_eq([3, 2, 1, 1])? && !a.set_eq([1, 2])?);
    assert_eq!(a.len()?, 3, "the queries changed nothing");
    a.intersection_update([1, 2, 9])?;
    assert!(a.set_eq([1, 2])?);
    a.difference_update([1])?;
    assert!(a.set_eq([2])?);
    a.symmetric_difference_update([2, 5])?;
    assert!(a.set_eq([5])?);
    Ok(())
}

#[derive(Debug, Clone)]
enum SetOpCase {
    Add(i64),
    Discard(i64),
    Remove(i64),
    Update(Vec<i64>),
    IntersectionUpdate(Vec<i64>),
    DifferenceUpdate(Vec<i64>),
    SymmetricDifferenceUpdate(Vec<i64>),
    Query(Vec<i64>),
}

fn set_op() -> impl Strategy<Value = SetOpCase> {
    let small = || proptest::collection::vec(0i64..12, 0..6);
    prop_oneof![
        (0i64..12).prop_map(SetOpCase::Add),
        (0i64..12).prop_map(SetOpCase::Discard),
        (0i64..12).prop_map(SetOpCase::Remove),
        small().prop_map(SetOpCase::Update),
        small().prop_map(SetOpCase::IntersectionUpdate),
        small().prop_map(SetOpCase::DifferenceUpdate),
        small().prop_map(SetOpCase::SymmetricDifferenceUpdate),
        small().prop_map(SetOpCase::Query),
    ]
}

fn shared_manager() -> &'static Manager {
    static M: std::sync::OnceLock<Manager> = std::sync::OnceLock::new();
    M.get_or_init(|| Manager::in_thread().expect("an in-thread manager starts"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    /// Every set operation agrees with `BTreeSet`.
    #[test]
    fn set_proxy_matches_btreeset(ops in proptest::collection::vec(set_op(), 1..30)) {
        let s: SetProxy<i64> = shared_manager().set_of().expect("set");
        let mut model = BTreeSet::new();
        let got = |s: &SetProxy<i64>| -> BTreeSet<i64> {
            s.to_vec().expect("to_vec").into_iter().collect()
        };
        let set = |v: &[i64]| v.iter().copied().collect::<BTreeSet<_>>();
        for op in ops {
            match op {
                SetOpCase::Add(x) => { s.add(x).expect("add"); model.insert(x); }
                SetOpCase::Discard(x) => { s.discard(x).expect("discard"); model.remove(&x); }
                SetOpCase::Remove(x) => {
                    let r = s.remove(x);
                    prop_assert_eq!(r.is_ok(), model.remove(&x));
                }
                SetOpCase::Update(v) => { s.update(v.clone()).expect("update"); model.extend(v); }
                SetOpCase::IntersectionUpdate(v) => {
                    s.intersection_update(v.clone()).expect("iu");
                    model = &model & &set(&v);
                }
                SetOpCase::DifferenceUpdate(v) => {
                    s.difference_update(v.clone()).expect("du");
                    model = &model - &set(&v);
                }
                SetOpCase::SymmetricDifferenceUpdate(v) => {
                    s.symmetric_difference_update(v.clone()).expect("sdu");
                    model = &model ^ &set(&v);
                }
                SetOpCase::Query(v) => {
                    let o = set(&v);
                    let q = |r: Vec<i64>| r.into_iter().collect::<BTreeSet<_>>();
                    prop_assert_eq!(q(s.union(v.clone()).expect("u")), &model | &o);
                    prop_assert_eq!(q(s.intersection(v.clone()).expect("i")), &model & &o);
                    prop_assert_eq!(q(s.difference(v.clone()).expect("d")), &model - &o);
                    prop_assert_eq!(q(s.symmetric_difference(v.clone()).expect("sd")), &model ^ &o);
                    prop_assert_eq!(s.issubset(v.clone()).expect("sub"), model.is_subset(&o));
                    prop_assert_eq!(s.issuperset(v.clone()).expect("sup"), model.is_superset(&o));
                    prop_assert_eq!(s.isdisjoint(v.clone()).expect("dis"), model.is_disjoint(&o));
                    prop_assert_eq!(s.set_eq(v.clone()).expect("eq"), model == o);
                }
            }
            prop_assert_eq!(got(&s), model.clone());
            prop_assert_eq!(s.len().expect("len"), model.len());
        }
        s.destroy().expect("destroy");
    }
}

/// A set iterator notes the size when made; a change of size ends it with
/// `RuntimeError` at the next fetch (CPython: "Set changed size during iteration").
#[test]
fn set_iteration() -> R {
    let m = Manager::in_thread()?;
    let n = 3 * ITER_BATCH as i64 + 5;
    let s = m.set_of::<i64>()?;
    s.update(0..n)?;
    let all: BTreeSet<i64> = s.iter()?.collect::<Result<_, _>>()?;
    assert_eq!(all, (0..n).collect());
    // grown after the first batch: the walk stops with an error, having yielded
    // the first batch
    let mut it = s.iter()?;
    let first = it.next().transpose()?;
    assert!(first.is_some());
    s.add(n)?;
    let mut yielded = 1;
    let err = loop {
        match it.next() {
            Some(Ok(_)) => yielded += 1,
            Some(Err(e)) => break e,
            None => return Err("the walk ended without noticing the change".into()),
        }
    };
    assert_eq!(yielded, ITER_BATCH as usize, "the fetched batch is yielded");
    assert_eq!(kind(&err), Some(RemoteErrorKind::RuntimeError), "{err}");
    assert!(err.to_string().contains("Set changed size"), "{err}");
    assert!(it.next().is_none());
    Ok(())
}

// ------------------------------------------------------------- list, dict

// CPython: _TestContainers.test_list (`b *= 2`, `b + [5, 6]`), 3.14's `__add__`,
// `__mul__`, `__iadd__`, `__imul__`, `__reversed__`, `copy`
#[test]
fn list_operators() -> R {
    let m = Manager::in_thread()?;
    let b = m.list_of::<i64>()?;
    b.extend(0..5)?; // b += range(5)
    b.repeat(2)?; // b *= 2
    assert_eq!(b.to_vec()?, [0, 1, 2, 3, 4, 0, 1, 2, 3, 4]);
    assert_eq!(b.concat([5, 6])?, [0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 5, 6]);
    assert_eq!(b.len()?, 10, "b + x leaves b as it was");
    let c = m.list_of::<i64>()?;
    c.extend([1, 2])?;
    assert_eq!(c.repeated(3)?, [1, 2, 1, 2, 1, 2]);
    assert!(c.repeated(0)?.is_empty());
    assert!(matches!(c.repeated(usize::MAX), Err(Error::Config(_))));
    assert_eq!(c.to_vec()?, [1, 2], "c * n leaves c as it was");
    assert_eq!(c.reversed()?, [2, 1]);
    assert_eq!(c.copy()?, [1, 2]);
    Ok(())
}

// CPython 3.14: DictProxy's `__or__`, `__ior__`, `fromkeys`, `__reversed__`
#[test]
fn dict_operators() -> R {
    let m = Manager::in_thread()?;
    let d = m.dict_of::<String, i64>()?;
    d.update([("a", 1), ("b", 2)])?;
    let merged = d.union([("b", 20), ("c", 30)])?;
    assert_eq!(
        merged,
        [("a".into(), 1), ("b".into(), 20), ("c".into(), 30)]
    );
    assert_eq!(d.len()?, 2, "d | x leaves d as it was");
    d.update([("b", 20), ("c", 30)])?; // d |= x
    assert_eq!(d.items()?, merged);
    assert_eq!(d.reversed()?, ["c", "b", "a"]);
    // an unhashable key cannot be a `String`; through an untyped proxy:
    let raw = m.dict_from([(1, 1)])?;
    let e = raw
        .union([(Value::List(vec![]), Value::None)])
        .expect_err("an error");
    assert_eq!(kind(&e), Some(RemoteErrorKind::TypeError), "{e}");
    let f = m.dict_fromkeys(["x", "y", "x"], 0)?;
    assert_eq!(f.to_string(), "{'x': 0, 'y': 0}");
    let e = m
        .dict_fromkeys([Value::Dict(vec![])], 0)
        .expect_err("an error");
    assert_eq!(kind(&e), Some(RemoteErrorKind::TypeError), "{e}");
    Ok(())
}

/// A dict iterator across several batches: all keys in insertion order; a size change
/// after the first batch ends the walk with `RuntimeError` at the next fetch.
#[test]
fn dict_iteration_in_batches() -> R {
    let m = Manager::in_thread()?;
    let n = 2 * ITER_BATCH as i64 + 1;
    let d = m.dict_of::<i64, i64>()?;
    d.update((0..n).map(|i| (i, i)))?;
    let keys: Vec<i64> = d.iter()?.collect::<Result<_, _>>()?;
    assert_eq!(keys, (0..n).collect::<Vec<_>>());
    let mut it = d.iter()?;
    assert_eq!(it.next().transpose()?, Some(0));
    d.remove(n - 1)?;
    let rest: Vec<Result<i64, Error>> = it.collect();
    assert_eq!(
        rest.len(),
        ITER_BATCH as usize,
        "the rest of the first batch, then the error"
    );
    assert!(rest[..rest.len() - 1].iter().all(Result::is_ok));
    let err = rest
        .last()
        .ok_or("no error")?
        .as_ref()
        .expect_err("an error");
    assert!(err.to_string().contains("dictionary changed size"), "{err}");
    Ok(())
}

/// Iterating a list of nested proxies yields proxies that work.
#[test]
fn iteration_yields_nested_proxies() -> R {
    let m = Manager::in_thread()?;
    let inner = m.dict_from([("k", 1)])?;
    let outer = m.list_of::<DictProxy>()?;
    outer.append(inner.clone())?;
    outer.append(inner)?;
    for d in &outer {
        let d = d?;
        assert_eq!(d.get_item("k")?, Value::from(1));
    }
    let s = m.set_from([(1, 2)])?;
    let t: Vec<(i64, i64)> = m
        .convert::<SetProxy<(i64, i64)>>(Value::from(&s))?
        .iter()?
        .collect::<Result<_, _>>()?;
    assert_eq!(t, [(1, 2)]);
    Ok(())
}

// ------------------------------------------------------------- children

type Verdict = Result<(), String>;

fn s(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// In a child: walk the list, combine and change all three containers.
fn container_child(l: ListProxy<i64>, d: DictProxy<String, i64>, set: SetProxy<i64>) -> Verdict {
    let walked: Vec<i64> = l.iter().collect::<Result<_, _>>().map_err(s)?;
    if walked != (0..ITER_BATCH as i64 + 3).collect::<Vec<_>>() {
        return Err(format!("walked {} items", walked.len()));
    }
    if l.concat([-1]).map_err(s)?.len() != walked.len() + 1 {
        return Err("concat".into());
    }
    l.repeat(2).map_err(s)?;
    let keys: Vec<String> = d.iter().map_err(s)?.collect::<Result<_, _>>().map_err(s)?;
    if keys != ["a", "b"] {
        return Err(format!("keys {keys:?}"));
    }
    if d.union([("c", 3)]).map_err(s)?.len() != 3 {
        return Err("union".into());
    }
    d.update([("z", 26)]).map_err(s)?;
    let elems: BTreeSet<i64> = set
        .iter()
        .map_err(s)?
        .collect::<Result<_, _>>()
        .map_err(s)?;
    if elems != BTreeSet::from([1, 2, 3]) {
        return Err(format!("set {elems:?}"));
    }
    if !set.issubset([1, 2, 3, 4]).map_err(s)? {
        return Err("issubset".into());
    }
    set.symmetric_difference_update([3, 4]).map_err(s)?;
    set.discard(1).map_err(s)?;
    Ok(())
}

/// The containers handed to a child under every start method, against a manager
/// whose server is a process of its own.
#[test]
fn containers_in_children_under_every_method() -> R {
    let m = Manager::start()?;
    for method in METHODS {
        let l = m.list_of::<i64>()?;
        l.extend(0..ITER_BATCH as i64 + 3)?;
        let d = m.dict_of::<String, i64>()?;
        d.update([("a", 1), ("b", 2)])?;
        let set = m.set_of::<i64>()?;
        set.update([1, 2, 3])?;
        let p = Process::new(container_child, (l.clone(), d.clone(), set.clone()))
            .start_method(method)
            .start()?;
        if !p.join_timeout(BOUND)? {
            let _ = p.kill();
            let _ = p.join_timeout(BOUND);
            return Err(format!("{method}: the child did not finish").into());
        }
        p.join_value()?.map_err(|e| format!("{method}: {e}"))?;
        assert_eq!(l.len()?, 2 * (ITER_BATCH as usize + 3), "{method}");
        assert_eq!(d.keys()?, ["a", "b", "z"], "{method}");
        assert!(set.set_eq([2, 4])?, "{method}: {set}");
    }
    m.shutdown()?;
    Ok(())
}
