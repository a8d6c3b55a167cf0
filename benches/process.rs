//! Process start-up: start + join of a no-op child under each start method, beside the
//! raw floor (`fork` + `waitpid`, a re-exec of this same binary) and CPython's
//! `Process` under fork, spawn and forkserver (benches/py/process.py).
//!
//! Targets (issue 3): Fork within 1.5x raw fork; Spawn within 1.5x raw re-exec;
//! ForkServer within 2x raw fork.

#![allow(missing_docs)] // criterion_group! generates an undocumented fn

use std::process::Command;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group};
use multiproc_benches::{parse_figures, record, reset, run_python};
use multiproc_process::{Process, StartMethod};

const AREA: &str = "process";
const GROUP: &str = "process/start_join_noop";
/// Set in the raw re-exec baseline: the child returns from `main` at once.
const RAW_EXEC: &str = "MULTIPROC_BENCH_RAW_EXEC";

fn noop() {}

fn raw_fork() {
    // SAFETY: the child calls only `_exit`, which is async-signal-safe.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: `_exit` never returns and is always safe to call.
        unsafe { libc::_exit(0) };
    }
    assert!(pid > 0, "fork failed");
    let pid = rustix::process::Pid::from_raw(pid).expect("positive pid");
    rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty()).expect("waitpid");
}

fn raw_reexec() {
    let st = Command::new("/proc/self/exe")
        .env(RAW_EXEC, "1")
        .status()
        .expect("re-exec");
    assert!(st.success());
}

fn benches(c: &mut Criterion) {
    reset(AREA);
    let mut g = c.benchmark_group(GROUP);
    g.sample_size(20).measurement_time(Duration::from_secs(4));
    g.bench_function(
        BenchmarkId::from_parameter("raw fork+waitpid (floor)"),
        |b| b.iter(raw_fork),
    );
    g.bench_function(
        BenchmarkId::from_parameter("raw re-exec of this binary (floor)"),
        |b| b.iter(raw_reexec),
    );
    for m in [
        StartMethod::Fork,
        StartMethod::Spawn,
        StartMethod::ForkServer,
    ] {
        // Warm-up: the fork server starts on first use.
        Process::new(noop, ())
            .start_method(m)
            .start()
            .expect("start")
            .join()
            .expect("join");
        g.bench_function(BenchmarkId::from_parameter(format!("ours {m}")), |b| {
            b.iter(|| {
                let p = Process::new(noop, ())
                    .start_method(m)
                    .start()
                    .expect("start");
                p.join().expect("join");
            })
        });
    }
    g.finish();
    interleaved();
    cpython();
}

/// The same cases measured *interleaved* (one of each in turn, medians): on a shared,
/// busy machine the load drifts between criterion's groups, which skews ratios taken
/// across them; here every case sees the same load, so the ratios to the floor hold.
fn interleaved() {
    fn timed(f: impl FnOnce()) -> f64 {
        let t = std::time::Instant::now();
        f();
        t.elapsed().as_secs_f64() * 1e3
    }
    fn ours(m: StartMethod) {
        let p = Process::new(noop, ())
            .start_method(m)
            .start()
            .expect("start");
        p.join().expect("join");
    }
    fn median(mut v: Vec<f64>) -> f64 {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    }
    let rounds = 600;
    let (mut raw, mut fork, mut server) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        raw.push(timed(raw_fork));
        fork.push(timed(|| ours(StartMethod::Fork)));
        server.push(timed(|| ours(StartMethod::ForkServer)));
    }
    let (mut exec, mut spawn) = (Vec::new(), Vec::new());
    for _ in 0..rounds / 6 {
        exec.push(timed(raw_reexec));
        spawn.push(timed(|| ours(StartMethod::Spawn)));
    }
    let (raw, exec) = (median(raw), median(exec));
    println!(
        "\n  interleaved medians ({rounds} rounds; spawn {}):",
        rounds / 6
    );
    println!("  raw fork+waitpid {raw:.4} ms | raw re-exec {exec:.4} ms");
    for (name, v, floor) in [
        ("ours fork", median(fork), raw),
        ("ours forkserver", median(server), raw),
        ("ours spawn", median(spawn), exec),
    ] {
        println!("  {name:<16} {v:.4} ms = {:.2}x its floor", v / floor);
    }
}

fn cpython() {
    let Some(out) = run_python("process.py", &[]) else {
        eprintln!("process: CPython baseline skipped");
        return;
    };
    println!("\n  CPython 3.11 multiprocessing.Process (benches/py/process.py):");
    for (name, ns) in parse_figures(&out) {
        let method = name.trim_start_matches("start_join_");
        let label = format!("cpython {method}");
        println!("  {GROUP:<26} {label:<20} median {:>12.3} ms", ns / 1e6);
        record(
            AREA,
            GROUP,
            &label,
            ns,
            "CPython 3.11, benches/py/process.py",
        );
    }
}

criterion_group!(process, benches);

fn main() {
    if std::env::var_os(RAW_EXEC).is_some() {
        return;
    }
    process();
    Criterion::default().configure_from_args().final_summary();
}
