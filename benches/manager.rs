//! Manager benchmarks: start + shutdown, a proxy round-trip pair (`d[k] = v; d[k]`) from
//! a child process, `list.append` throughput from a child — beside our raw
//! `Connection` round trip (the floor a proxy call is built on) and CPython's manager
//! (benches/py/manager.py), in one run.

#![allow(missing_docs)] // criterion_group! generates an undocumented fn

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use multiproc_benches::{parse_figures, record, reset, run_python};
use multiproc_ipc::{Connection, Pipe};
use multiproc_manager::{DictProxy, ListProxy, Manager, StartMethod};
use multiproc_process::Process;

const AREA: &str = "manager";

/// Child: for each batch size received, runs that many `d["k"] = i; d["k"]` pairs and
/// answers with the elapsed nanoseconds. 0 ends it.
fn pair_child(ctl: Connection, d: DictProxy<String, u64>) {
    while let Ok(n) = ctl.recv::<u64>() {
        if n == 0 {
            return;
        }
        let t = Instant::now();
        for i in 0..n {
            d.insert("k", i).expect("set");
            let _ = d.get_item("k").expect("get");
        }
        let _ = ctl.send(&(t.elapsed().as_nanos() as u64));
    }
}

/// Child: batches of `l.append(i)`.
fn append_child(ctl: Connection, l: ListProxy<u64>) {
    while let Ok(n) = ctl.recv::<u64>() {
        if n == 0 {
            return;
        }
        let t = Instant::now();
        for i in 0..n {
            l.append(i).expect("append");
        }
        let _ = ctl.send(&(t.elapsed().as_nanos() as u64));
        let _ = l.clear();
    }
}

/// Child: echoes 8-byte frames (the raw floor of a proxy call).
fn echo_child(conn: Connection) {
    while let Ok(b) = conn.recv_bytes() {
        if conn.send_bytes(&b).is_err() {
            return;
        }
    }
}

fn batch(ctl: &Connection, iters: u64) -> Duration {
    ctl.send(&iters).expect("send batch");
    Duration::from_nanos(ctl.recv::<u64>().expect("batch result"))
}

fn start_shutdown(c: &mut Criterion) {
    let mut g = c.benchmark_group("manager/start_shutdown");
    g.sample_size(10).measurement_time(Duration::from_secs(4));
    for m in [
        StartMethod::Fork,
        StartMethod::ForkServer,
        StartMethod::Spawn,
    ] {
        g.bench_function(format!("ours {m}"), |b| {
            b.iter(|| {
                let mgr = Manager::start_with::<()>(Some(m)).expect("start");
                mgr.shutdown().expect("shutdown");
            })
        });
    }
    g.finish();
}

fn proxy_pair(c: &mut Criterion, mgr: &Manager) {
    let mut g = c.benchmark_group("manager/dict_pair_child");
    g.sample_size(15).measurement_time(Duration::from_secs(3));
    let d = mgr.dict_of::<String, u64>().expect("dict");
    let (ctl, theirs) = Pipe::duplex().expect("pipe");
    let p = Process::new(pair_child, (theirs, d))
        .start()
        .expect("child");
    g.bench_function("ours d[k]=v; d[k]", |b| b.iter_custom(|n| batch(&ctl, n)));
    let _ = ctl.send(&0u64);
    p.join().expect("join");

    let (a, theirs) = Pipe::duplex().expect("pipe");
    let p = Process::new(echo_child, (theirs,)).start().expect("child");
    g.bench_function("raw Connection 2 round trips", |b| {
        b.iter(|| {
            for _ in 0..2 {
                a.send_bytes(b"12345678").expect("send");
                let _ = a.recv_bytes().expect("recv");
            }
        })
    });
    drop(a);
    p.join().expect("join");
    g.finish();
}

fn list_append(c: &mut Criterion, mgr: &Manager) {
    let mut g = c.benchmark_group("manager/list_append_child");
    g.sample_size(15).measurement_time(Duration::from_secs(3));
    let l = mgr.list_of::<u64>().expect("list");
    let (ctl, theirs) = Pipe::duplex().expect("pipe");
    let p = Process::new(append_child, (theirs, l))
        .start()
        .expect("child");
    g.bench_function("ours l.append(i)", |b| b.iter_custom(|n| batch(&ctl, n)));
    let _ = ctl.send(&0u64);
    p.join().expect("join");
    g.finish();
}

fn cpython() {
    let Some(out) = run_python("manager.py", &[]) else {
        eprintln!("manager: CPython baseline skipped");
        return;
    };
    println!("\n  CPython 3.11 multiprocessing managers (benches/py/manager.py):");
    for (name, ns) in parse_figures(&out) {
        let (group, label) = match name.as_str() {
            "start_shutdown_fork" => ("manager/start_shutdown", "cpython fork"),
            "start_shutdown_spawn" => ("manager/start_shutdown", "cpython spawn"),
            "start_shutdown_forkserver" => ("manager/start_shutdown", "cpython forkserver"),
            "dict_pair_child" => ("manager/dict_pair_child", "cpython d[k]=v; d[k]"),
            "list_append_child" => ("manager/list_append_child", "cpython l.append(i)"),
            _ => continue,
        };
        println!("  {group:<28} {label:<24} median {ns:>14.0} ns");
        record(
            AREA,
            group,
            label,
            ns,
            "CPython 3.11, benches/py/manager.py",
        );
    }
}

fn benches(c: &mut Criterion) {
    reset(AREA);
    start_shutdown(c);
    let mgr = Manager::start().expect("manager");
    proxy_pair(c, &mgr);
    list_append(c, &mgr);
    drop(mgr);
    cpython();
}

criterion_group!(manager, benches);
criterion_main!(manager);
