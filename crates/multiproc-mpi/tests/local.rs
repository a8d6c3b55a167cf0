//! Single-rank mode (no MPI launcher, or the crate built without `openmpi`): the same
//! program and the same generic code run on the local process pool.

mod common;

use std::collections::HashMap;
use std::process::Command;

use common::{CLOSE_LINES, DEADLINE, HELPER, run};
use multiproc_pool::{AsyncResultApi, Error, PoolApi};

fn square(x: u64) -> u64 {
    x * x
}

fn boom(x: u64) -> u64 {
    assert!(x != 3, "three");
    x
}

fn letters(s: String) -> Vec<(char, u64)> {
    let mut m: HashMap<char, u64> = HashMap::new();
    for c in s.chars() {
        *m.entry(c).or_insert(0) += 1;
    }
    m.into_iter().collect()
}

fn total(c: char, n: Vec<u64>) -> (char, u64) {
    (c, n.iter().sum())
}

/// Code generic over the backend: a small MapReduce and the async calls.
fn generic<P: PoolApi>(pool: &P) -> Result<(), Error> {
    assert_eq!(pool.map(square, [1, 2, 3])?, [1, 4, 9]);
    assert_eq!(
        pool.map_chunked(square, 0..10, 3)?,
        (0..10).map(|x| x * x).collect::<Vec<_>>()
    );
    let mapped = pool.map(letters, ["abca".to_string(), "cb".to_string()])?;
    let mut parts: HashMap<char, Vec<u64>> = HashMap::new();
    for (c, n) in mapped.into_iter().flatten() {
        parts.entry(c).or_default().push(n);
    }
    let mut counts = pool.starmap(total, parts)?;
    counts.sort();
    assert_eq!(counts, [('a', 2), ('b', 2), ('c', 2)]);
    assert!(matches!(pool.apply(boom, (3,)), Err(Error::Panicked(m)) if m.message() == "three"));
    let r = pool.apply_async(square, (9,));
    r.wait();
    assert!(r.ready());
    assert_eq!(r.get()?, 81);
    let got: Vec<u64> = pool.imap(square, 0..5).collect::<Result<_, _>>()?;
    assert_eq!(got, [0, 1, 4, 9, 16]);
    let mut got: Vec<u64> = pool
        .imap_unordered(square, 0..5)
        .collect::<Result<_, _>>()?;
    got.sort_unstable();
    assert_eq!(got, [0, 1, 4, 9, 16]);
    pool.close();
    pool.join()
}

#[test]
fn the_same_generic_code_runs_on_both_pools() {
    let local = multiproc_pool::Pool::new(2).expect("local pool");
    generic(&local).expect("local pool");
    let mpi = multiproc_mpi::builder()
        .local_processes(2)
        .init()
        .expect("single-rank mode");
    assert!(!mpi.is_mpi(), "not under mpirun: local mode");
    assert_eq!(mpi.processes(), 2);
    generic(&mpi).expect("multiproc-mpi pool in single-rank mode");
}

#[test]
fn the_helper_runs_without_mpirun() {
    let mut c = Command::new(HELPER);
    c.arg("basic");
    let r = run(c, DEADLINE);
    r.assert_ok(&[
        "rank 0: mpi false workers 2",
        "ok map",
        "ok imap",
        "ok apply_async",
        "ok callbacks",
        "ok a cancelled map is Cancelled",
        "ok the pool carries on after a cancel",
        "done",
    ]);
}

#[test]
fn close_and_timeouts_locally() {
    let mut c = Command::new(HELPER);
    c.arg("close");
    run(c, DEADLINE).assert_ok(CLOSE_LINES);
}

#[test]
fn terminate_resolves_pending_results_locally() {
    let mut c = Command::new(HELPER);
    c.arg("terminate");
    run(c, DEADLINE).assert_ok(&["ok terminate resolves pending results", "done"]);
}
