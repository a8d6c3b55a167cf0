//! Seeds 000, 001, 003: `Pool` — map, imap, async results, initializer, MapReduce.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use multiproc::{Pool, cpu_count, current_process};

use crate::{Outcome, check};

fn f(x: i64) -> i64 {
    x * x
}

/// Seed 000: `with Pool(5) as p: print(p.map(f, [1, 2, 3]))`.
pub fn pool_map() -> Outcome {
    let p = Pool::new(5)?;
    let out = p.map(f, [1, 2, 3])?;
    println!("{out:?}");
    check(out == [1, 4, 9], "[1, 4, 9]")
}

/// Seed 000: `pool.map(f, range(10))`, then `imap_unordered`.
pub fn pool_imap() -> Outcome {
    let pool = Pool::new(4)?;
    let ordered = pool.map(f, 0..10)?;
    println!("{ordered:?}");
    let mut unordered = Vec::new();
    for i in pool.imap_unordered(f, 0..10) {
        let i = i?;
        println!("{i}");
        unordered.push(i);
    }
    unordered.sort_unstable();
    check(
        ordered == (0..10).map(|x| x * x).collect::<Vec<_>>(),
        "map keeps order",
    )?;
    check(unordered == ordered, "imap_unordered yields every square")
}

fn func(msg: String) -> String {
    println!("msg:  {msg}");
    std::thread::sleep(Duration::from_millis(5));
    println!("********");
    format!("func_return: {msg}")
}

fn func_n(msg: i64) -> String {
    func(msg.to_string())
}

/// Seed 001: `apply_async`, `apply`, `map`, `map_async` with `ready`/`successful`/`get`.
pub fn pool_async() -> Outcome {
    println!("\n--------apply_async------------");
    let pool = Pool::new(4)?;
    let results: Vec<_> = (0..10)
        .map(|i| pool.apply_async(func, (format!("hello world {i}"),)))
        .collect();
    println!("apply_async: 不堵塞");
    for r in &results {
        r.wait();
    }
    let mut got = Vec::new();
    for r in results {
        if r.ready() && r.successful()? {
            let v = r.get()?;
            println!("{v}");
            got.push(v);
        }
    }
    check(got.len() == 10, "ten async results")?;

    println!("\n--------apply------------");
    let mut results = Vec::new();
    for i in 0..10 {
        results.push(pool.apply(func, (format!("hello world {i}"),))?);
    }
    println!("apply: 堵塞");
    println!("{results:?}");

    println!("\n--------map------------");
    let args = [1, 2, 4, 5, 7, 8];
    let return_data = pool.map(func_n, args)?;
    println!("{return_data:?}");

    println!("\n--------map_async------------");
    let r = pool.map_async(func_n, args);
    let async_data = r.get()?;
    println!("{async_data:?}");
    pool.close_and_join()?;
    check(
        return_data == async_data && results.len() == 10,
        "map and map_async agree",
    )
}

fn do_cal(data: i64) -> i64 {
    data * 2
}

fn start_pro() {
    println!("Starting  {}", current_process().name());
}

/// Seed 003: `cpu_count()*2` workers with an initializer and `maxtasksperchild=2`.
pub fn pool_initializer() -> Outcome {
    let inputs: Vec<i64> = (0..10).collect();
    println!("Input: {inputs:?}");
    let builtin_output: Vec<i64> = inputs.iter().copied().map(do_cal).collect();
    println!("Builtin output {builtin_output:?}");
    let pool_size = cpu_count() * 2;
    let pool = Pool::builder()
        .processes(pool_size)
        .initializer(start_pro, ())
        .maxtasksperchild(2)
        .build()?;
    let pool_outputs = pool.map(do_cal, inputs)?;
    pool.close_and_join()?;
    println!("Pool {pool_outputs:?}");
    check(pool_outputs == builtin_output, "[0, 2, 4, ..., 18]")
}

const STOP_WORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "be", "by", "for", "if", "in", "is", "it", "of", "or", "py",
    "rst", "that", "the", "to", "with",
];

/// The seed's `file_to_words`, with a combiner: it returns `(word, count)` per file
/// instead of one `(word, 1)` per occurrence, so less travels back from the workers.
fn file_to_words(filename: PathBuf, quiet: bool) -> Vec<(String, u64)> {
    if !quiet {
        println!(
            "{} reading {}",
            current_process().name(),
            filename.display()
        );
    }
    let Ok(text) = std::fs::read(&filename) else {
        return Vec::new();
    };
    let text = String::from_utf8_lossy(&text);
    let mut counts: HashMap<String, u64> = HashMap::new();
    for line in text.lines() {
        if line.trim_start().starts_with("..") {
            continue;
        }
        for word in line.split(|c: char| c.is_ascii_punctuation() || c.is_whitespace()) {
            if word.is_empty() || !word.chars().all(|c| c.is_alphabetic()) {
                continue;
            }
            let word = word.to_lowercase();
            if !STOP_WORDS.contains(&word.as_str()) {
                *counts.entry(word).or_insert(0) += 1;
            }
        }
    }
    counts.into_iter().collect()
}

/// The seed's `count_words`.
fn count_words(word: String, occurrences: Vec<u64>) -> (String, u64) {
    (word, occurrences.iter().sum())
}

/// The seed's `SimpleMapReduce`: map over the inputs, partition by key, reduce. Generic
/// over the pool's backend: the local [`Pool`] or an MPI pool (example `mpi_wordcount`).
pub fn map_reduce<P: multiproc::pool::PoolApi>(
    pool: &P,
    inputs: Vec<PathBuf>,
    quiet: bool,
) -> Result<Vec<(String, u64)>, multiproc::Error> {
    let map_response =
        pool.starmap_chunked(file_to_words, inputs.into_iter().map(|p| (p, quiet)), 1)?;
    let mut partitioned: HashMap<String, Vec<u64>> = HashMap::new();
    for (k, v) in map_response.into_iter().flatten() {
        partitioned.entry(k).or_default().push(v);
    }
    let mut reduced = pool.starmap(count_words, partitioned)?;
    reduced.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(reduced)
}

/// Every regular file under `paths` (recursively), skipping `target/` and hidden dirs.
pub fn collect_files(paths: &[PathBuf], ext: Option<&str>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack: Vec<PathBuf> = paths.to_vec();
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name == "target" || (name.starts_with('.') && name.len() > 1) {
                continue;
            }
            if let Ok(rd) = std::fs::read_dir(&p) {
                stack.extend(rd.filter_map(|e| e.ok().map(|e| e.path())));
            }
        } else if ext.is_none_or(|e| p.extension().and_then(|x| x.to_str()) == Some(e)) {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// Seed 003 (MapReduce): the top 20 words of the repository's own Rust sources.
pub fn wordcount() -> Outcome {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let inputs = collect_files(&[root.join("crates"), root.join("examples")], Some("rs"));
    check(!inputs.is_empty(), "found the repository's sources")?;
    let pool = Pool::new(cpu_count())?;
    let word_counts = map_reduce(&pool, inputs.clone(), true)?;
    println!("read {} files", inputs.len());
    println!("TOP 20 WORD");
    for (w, n) in word_counts.iter().take(20) {
        println!(" ({w:?}, {n}),");
    }
    // The same count without a pool must agree.
    let mut serial: HashMap<String, u64> = HashMap::new();
    for p in inputs {
        for (w, n) in file_to_words(p, true) {
            *serial.entry(w).or_insert(0) += n;
        }
    }
    let total: u64 = word_counts.iter().map(|x| x.1).sum();
    check(
        serial.len() == word_counts.len() && serial.values().sum::<u64>() == total,
        "the pool's counts equal a serial count",
    )
}

/// Generates `mb` megabytes of text in `dir` (deterministic), as 64 files.
pub fn generate_corpus(dir: &Path, mb: usize) -> std::io::Result<Vec<PathBuf>> {
    const WORDS: &[&str] = &[
        "process",
        "queue",
        "pipe",
        "lock",
        "value",
        "array",
        "manager",
        "pool",
        "signal",
        "child",
        "parent",
        "worker",
        "result",
        "future",
        "event",
        "barrier",
        "memory",
        "shared",
        "socket",
        "fork",
        "spawn",
        "server",
        "thread",
        "python",
        "rust",
        "the",
        "a",
        "of",
        "and",
        "kernel",
        "futex",
        "frame",
        "handle",
        "descriptor",
        "daemon",
        "exit",
    ];
    std::fs::create_dir_all(dir)?;
    let files = 64;
    let per_file = mb * (1 << 20) / files;
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut out = Vec::new();
    for i in 0..files {
        let path = dir.join(format!("part-{i:03}.txt"));
        let mut text = String::with_capacity(per_file + 64);
        let mut col = 0;
        while text.len() < per_file {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            // A skewed distribution, so the top words differ in count.
            let r = (seed % 1000) as usize;
            let w = WORDS[(r * r / 1000) * WORDS.len() / 1000];
            text.push_str(w);
            col += w.len() + 1;
            if col > 72 {
                text.push_str(".\n");
                col = 0;
            } else {
                text.push(' ');
            }
        }
        std::fs::write(&path, text)?;
        out.push(path);
    }
    Ok(out)
}

/// Times the MapReduce on `inputs` serially and with a pool of `workers`.
pub fn speedup(inputs: &[PathBuf], workers: usize) -> Result<(f64, f64), multiproc::Error> {
    let t = Instant::now();
    let mut serial: HashMap<String, u64> = HashMap::new();
    for p in inputs {
        for (w, n) in file_to_words(p.clone(), true) {
            *serial.entry(w).or_insert(0) += n;
        }
    }
    let serial_s = t.elapsed().as_secs_f64();
    let pool = Pool::new(workers)?;
    let t = Instant::now();
    let counts = map_reduce(&pool, inputs.to_vec(), true)?;
    let pool_s = t.elapsed().as_secs_f64();
    let total: u64 = counts.iter().map(|x| x.1).sum();
    if total != serial.values().sum::<u64>() {
        return Err(multiproc::Error::Io(std::io::Error::other(
            "pool and serial counts differ",
        )));
    }
    Ok((serial_s, pool_s))
}
