//! Test helper of multiproc-mpi: run under `mpirun` by the crate's tests (every rank
//! runs this program; rank 0 checks results and prints `ok …` lines).
//!
//! `mpi-test-helper SCENARIO [ARGS]`; scenarios: `basic`, `panic`, `kill`, `close`,
//! `wordcount DIR`, `hello`, `bench N`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use multiproc_mpi::{Error, PoolApi};

type Res = Result<(), Box<dyn std::error::Error>>;

fn square(x: u64) -> u64 {
    x * x
}

fn add(a: i64, b: i64) -> i64 {
    a + b
}

fn where_am_i(_: u32) -> String {
    std::env::var("OMPI_COMM_WORLD_RANK").unwrap_or_else(|_| "local".into())
}

fn host_name(_: u32) -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

fn fails_on_13(x: u32) -> u32 {
    assert!(x != 13, "unlucky {x}");
    x
}

fn dies_on_37(x: u64) -> u64 {
    if x == 37 {
        // A crash in a worker rank mid-map.
        std::process::abort();
    }
    std::thread::sleep(Duration::from_millis(20));
    x
}

fn sigkill_on_37(x: u64) -> u64 {
    if x == 37 {
        // Killed from outside, as by the OOM killer or an operator.
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &std::process::id().to_string()])
            .status();
        std::thread::sleep(Duration::from_secs(60));
    }
    std::thread::sleep(Duration::from_millis(20));
    x
}

fn exits_on_37(x: u64) -> u64 {
    if x == 37 {
        // A task that ends its process "cleanly", without finalizing MPI.
        std::process::exit(0);
    }
    std::thread::sleep(Duration::from_millis(20));
    x
}

fn sleepy(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

fn check(ok: bool, what: &str) -> Res {
    if ok {
        println!("ok {what}");
        Ok(())
    } else {
        Err(format!("FAILED {what}").into())
    }
}

/// map, map_chunked, starmap, imap, imap_unordered, apply, apply_async, callbacks.
fn basic(pool: &multiproc_mpi::Pool) -> Res {
    let n = 2000u64;
    let want: Vec<u64> = (0..n).map(|x| x * x).collect();
    check(pool.map(square, 0..n)? == want, "map")?;
    check(pool.map_chunked(square, 0..n, 7)? == want, "map_chunked")?;
    check(
        pool.starmap(add, (0..100).map(|i| (i, 1000 * i)))?
            == (0..100).map(|i| 1001 * i).collect::<Vec<_>>(),
        "starmap",
    )?;
    let got: Vec<u64> = pool.imap(square, 0..500).collect::<Result<_, _>>()?;
    check(got == want[..500], "imap")?;
    let got: Vec<u64> = pool
        .imap(square, 0..500)
        .chunksize(9)
        .collect::<Result<_, _>>()?;
    check(got == want[..500], "imap chunksize")?;
    let mut got: Vec<u64> = pool
        .imap_unordered(square, 0..500)
        .collect::<Result<_, _>>()?;
    got.sort_unstable();
    check(got == want[..500], "imap_unordered")?;
    check(pool.apply(add, (2, 3))? == 5, "apply")?;
    let (tx, rx) = std::sync::mpsc::channel();
    let results: Vec<_> = (0..50)
        .map(|i| {
            let tx = tx.clone();
            pool.apply_async(add, (i, i)).callback(move |v| {
                let _ = tx.send(*v);
            })
        })
        .collect();
    let mut values = Vec::new();
    for r in results {
        values.push(r.get_timeout(Duration::from_secs(60))?);
    }
    check(
        values == (0..50).map(|i| 2 * i).collect::<Vec<_>>(),
        "apply_async",
    )?;
    let mut cb: Vec<i64> = rx.try_iter().collect();
    cb.sort_unstable();
    check(cb == values, "callbacks")?;
    check(pool.map(square, Vec::<u64>::new())?.is_empty(), "empty map")?;
    check(
        matches!(
            pool.map_chunked(square, 0..3, 0),
            Err(Error::InvalidArgument(_))
        ),
        "chunksize 0 refused",
    )?;
    // Every worker rank ran something: 4 × workers chunks go round robin.
    let mut ranks: Vec<String> =
        pool.map_chunked(where_am_i, 0..(64 * pool.processes() as u32), 1)?;
    ranks.sort();
    ranks.dedup();
    println!("ranks used: {ranks:?}");
    if pool.is_mpi() {
        let expect: Vec<String> = (1..=pool.processes()).map(|r| r.to_string()).collect();
        check(ranks == expect, "every worker rank ran tasks")?;
    }
    // Last: cancelled chunks already on a worker keep it busy for a while.
    // Cancel: queued chunks are dropped; the pool carries on.
    let busy: Vec<_> = (0..pool.processes())
        .map(|_| pool.apply_async(sleepy, (300,)))
        .collect();
    let queued = pool.map_async_chunked(sleepy, vec![1000; 50], 1);
    check(queued.cancel(), "cancel a queued map")?;
    check(!queued.cancel(), "cancel twice")?;
    check(
        matches!(queued.get(), Err(Error::Cancelled)),
        "a cancelled map is Cancelled",
    )?;
    for b in busy {
        check(b.get()? == 300, "the running tasks finish")?;
    }
    check(
        pool.apply(square, (2,))? == 4,
        "the pool carries on after a cancel",
    )?;
    Ok(())
}

fn panics(pool: &multiproc_mpi::Pool) -> Res {
    match pool.apply(fails_on_13, (13,)) {
        Err(Error::Panicked(m)) => check(m.message() == "unlucky 13", "apply panic message")?,
        other => return Err(format!("FAILED apply panic: {other:?}").into()),
    }
    match pool.map(fails_on_13, 0..40) {
        Err(Error::Panicked(m)) => check(m.message() == "unlucky 13", "map panic")?,
        other => return Err(format!("FAILED map panic: {other:?}").into()),
    }
    let items: Vec<Result<u32, Error>> = pool.imap(fails_on_13, 10..16).collect();
    check(
        items.len() == 6
            && items.iter().enumerate().all(|(i, r)| match r {
                Ok(v) => *v == 10 + i as u32 && i != 3,
                Err(Error::Panicked(_)) => i == 3,
                Err(_) => false,
            }),
        "imap keeps the items around a panic",
    )?;
    let (tx, rx) = std::sync::mpsc::channel();
    let r = pool
        .apply_async(fails_on_13, (13,))
        .error_callback(move |e| {
            let _ = tx.send(e.to_string());
        });
    check(r.get().is_err(), "apply_async panic")?;
    check(
        rx.recv_timeout(Duration::from_secs(60))
            .is_ok_and(|m| m.contains("unlucky 13")),
        "error_callback",
    )?;
    check(pool.apply(fails_on_13, (12,))? == 12, "the worker survives")?;
    Ok(())
}

fn kill(pool: &multiproc_mpi::Pool, how: &str) -> Res {
    println!("mapping; item 37 kills its rank");
    let r = match how {
        "sigkill" => pool.map_chunked(sigkill_on_37, 0..200, 1),
        "exit" => pool.map_chunked(exits_on_37, 0..200, 1),
        _ => pool.map_chunked(dies_on_37, 0..200, 1),
    };
    // Never reached under MPI: the job is ended.
    println!("map returned: {:?}", r.map(|v| v.len()));
    Ok(())
}

fn close(pool: &multiproc_mpi::Pool) -> Res {
    let pending: Vec<_> = (0..4).map(|_| pool.apply_async(sleepy, (30,))).collect();
    check(
        matches!(pool.join(), Err(Error::StillRunning)),
        "join while running",
    )?;
    let mut slow = pool.imap(sleepy, [2000u64, 1]);
    check(
        matches!(
            slow.next_timeout(Duration::from_millis(1)),
            Some(Err(Error::Timeout))
        ),
        "imap next_timeout",
    )?;
    pool.close();
    check(
        matches!(pool.apply(square, (1,)), Err(Error::NotRunning)),
        "closed pool refuses",
    )?;
    check(
        matches!(pool.join_timeout(Duration::from_millis(1)), Ok(false)),
        "join_timeout while the imap is pending",
    )?;
    let rest: Vec<u64> = std::iter::from_fn(|| slow.next_timeout(Duration::from_secs(60)))
        .collect::<Result<_, _>>()?;
    check(rest == [2000, 1], "an imap made before close is served")?;
    drop(slow);
    pool.join()?;
    for r in pending {
        check(r.get()? == 30, "queued work finished before join")?;
    }
    Ok(())
}

fn terminate(pool: &multiproc_mpi::Pool) -> Res {
    let many = pool.map_async_chunked(sleepy, vec![50; 40], 1);
    pool.terminate();
    check(
        matches!(
            many.get_timeout(Duration::from_secs(60)),
            Err(Error::Terminated)
        ),
        "terminate resolves pending results",
    )?;
    pool.join()?;
    check(true, "join after terminate")
}

// ---- the seeds' MapReduce word count, generic over the backend ----

const STOP_WORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "be", "by", "for", "if", "in", "is", "it", "of", "or", "py",
    "rst", "that", "the", "to", "with",
];

/// The seed's `file_to_words`, counting per file.
pub fn file_to_words(filename: PathBuf) -> Vec<(String, u64)> {
    let Ok(text) = std::fs::read(&filename) else {
        return Vec::new();
    };
    let text = String::from_utf8_lossy(&text);
    let mut counts: HashMap<String, u64> = HashMap::new();
    for word in text.split(|c: char| c.is_ascii_punctuation() || c.is_whitespace()) {
        if word.is_empty() || !word.chars().all(char::is_alphabetic) {
            continue;
        }
        let word = word.to_lowercase();
        if !STOP_WORDS.contains(&word.as_str()) {
            *counts.entry(word).or_insert(0) += 1;
        }
    }
    counts.into_iter().collect()
}

fn count_words(word: String, occurrences: Vec<u64>) -> (String, u64) {
    (word, occurrences.iter().sum())
}

/// The seed's `SimpleMapReduce`, on any backend.
pub fn map_reduce<P: PoolApi>(pool: &P, inputs: Vec<PathBuf>) -> Result<Vec<(String, u64)>, Error> {
    let mapped = pool.map_chunked(file_to_words, inputs, 1)?;
    let mut partitioned: HashMap<String, Vec<u64>> = HashMap::new();
    for (k, v) in mapped.into_iter().flatten() {
        partitioned.entry(k).or_default().push(v);
    }
    let mut reduced = pool.starmap(count_words, partitioned)?;
    reduced.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(reduced)
}

fn wordcount(pool: &multiproc_mpi::Pool, dir: &Path) -> Res {
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    inputs.sort();
    let t = Instant::now();
    let mut serial: HashMap<String, u64> = HashMap::new();
    for p in &inputs {
        for (w, n) in file_to_words(p.clone()) {
            *serial.entry(w).or_insert(0) += n;
        }
    }
    let serial_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let counts = map_reduce(pool, inputs.clone())?;
    let mpi_s = t.elapsed().as_secs_f64();
    let mut want: Vec<(String, u64)> = serial.into_iter().collect();
    want.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    check(counts == want, "word counts equal a serial count")?;
    println!("top: {:?}", &counts[..counts.len().min(3)]);
    let mut hosts = pool.map_chunked(host_name, 0..(8 * pool.processes() as u32), 1)?;
    hosts.sort();
    hosts.dedup();
    println!("worker hosts: {hosts:?}");
    println!(
        "files {} words {} serial {serial_s:.3} s, pool ({} workers, mpi {}) {mpi_s:.3} s",
        inputs.len(),
        counts.iter().map(|c| c.1).sum::<u64>(),
        pool.processes(),
        pool.is_mpi()
    );
    Ok(())
}

fn bench(pool: &multiproc_mpi::Pool, n: u64) -> Res {
    // Round trip of one task at a time.
    for _ in 0..200 {
        pool.apply(square, (3,))?;
    }
    let reps = 2000;
    let t = Instant::now();
    for i in 0..reps {
        pool.apply(square, (i,))?;
    }
    let rtt = t.elapsed().as_secs_f64() / reps as f64;
    println!("apply round trip: {:.1} us", rtt * 1e6);
    let t = Instant::now();
    let out = pool.map(square, 0..n)?;
    let s = t.elapsed().as_secs_f64();
    check(out.len() == n as usize && out[7] == 49, "bench map")?;
    println!(
        "map x*x over {n} items: {:.2} M items/s",
        n as f64 / s / 1e6
    );
    Ok(())
}

/// A minimal debug-level tracing subscriber writing events to stderr.
struct Stderr;

impl tracing::Subscriber for Stderr {
    fn enabled(&self, m: &tracing::Metadata<'_>) -> bool {
        *m.level() <= tracing::Level::DEBUG
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, e: &tracing::Event<'_>) {
        struct V(String);
        impl tracing::field::Visit for V {
            fn record_debug(&mut self, f: &tracing::field::Field, v: &dyn std::fmt::Debug) {
                self.0.push_str(&format!(" {}={v:?}", f.name()));
            }
        }
        let mut v = V(String::new());
        e.record(&mut v);
        eprintln!("{}{}", e.metadata().level(), v.0);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let pool = match multiproc_mpi::builder().local_processes(2).init() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("refused: {e}");
            return ExitCode::from(3);
        }
    };
    if std::env::var_os("MPI_HELPER_TRACE").is_some() {
        let _ = tracing::subscriber::set_global_default(Stderr);
    }
    println!("rank 0: mpi {} workers {}", pool.is_mpi(), pool.processes());
    let r = match args.first().map(String::as_str) {
        Some("basic") => basic(&pool),
        Some("panic") => panics(&pool),
        Some("kill") => kill(&pool, args.get(1).map_or("abort", String::as_str)),
        Some("close") => close(&pool),
        Some("terminate") => terminate(&pool),
        Some("wordcount") => wordcount(&pool, Path::new(args.get(1).map_or(".", String::as_str))),
        Some("bench") => bench(
            &pool,
            args.get(1)
                .and_then(|s| s.parse().ok())
                .unwrap_or(1_000_000),
        ),
        Some("hello") => Ok(()),
        other => Err(format!("unknown scenario {other:?}").into()),
    };
    match r {
        Ok(()) => {
            drop(pool);
            println!("done");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
