//! Seed 003 (`SimpleMapReduce`): count words with a `Pool` — map each file to its
//! words, partition by word, reduce the counts.
//!
//! With no arguments it counts the repository's own Rust sources, prints `read N files`
//! and the `TOP 20 WORD` list, and fails unless the pool's counts equal a serial count.
//!
//! ```text
//! cargo run --release --example wordcount                    # the repository's sources
//! cargo run --release --example wordcount -- DIR FILE ...    # your files
//! cargo run --release --example wordcount -- --generate 200  # 200 MB corpus: speed-up demo
//! ```

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use multiproc::prelude::*;

const STOP_WORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "be", "by", "for", "if", "in", "is", "it", "of", "or", "py",
    "rst", "that", "the", "to", "with",
];

/// The seed's `file_to_words`, with a combiner: it returns `(word, count)` per file
/// instead of one `(word, 1)` per occurrence, so less travels back from the workers.
fn file_to_words(filename: PathBuf, quiet: bool) -> Vec<(String, u64)> {
    if !quiet {
        let me = current_process();
        println!("{} reading {}", me.name(), filename.display());
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

/// The seed's `SimpleMapReduce.__call__`: map over the inputs, partition by key, reduce;
/// most frequent first.
///
/// Generic over the pool's backend: the local `Pool` here, an MPI pool in `mpi_wordcount`
/// (which includes this file), the same code either way.
pub fn map_reduce<P: multiproc::pool::PoolApi>(
    pool: &P,
    inputs: Vec<PathBuf>,
    quiet: bool,
) -> Result<Vec<(String, u64)>, Error> {
    // One file per task (`chunksize=1`): files differ in size.
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

/// The same count in this process, for comparison.
fn serial_count(inputs: &[PathBuf]) -> HashMap<String, u64> {
    let mut counts: HashMap<String, u64> = HashMap::new();
    for p in inputs {
        for (w, n) in file_to_words(p.clone(), true) {
            *counts.entry(w).or_insert(0) += n;
        }
    }
    counts
}

/// Every regular file under `paths` (recursively), skipping `target/` and hidden dirs.
fn collect_files(paths: &[PathBuf], ext: Option<&str>) -> Vec<PathBuf> {
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

fn print_top(counts: &[(String, u64)]) {
    println!("TOP 20 WORD");
    for (w, n) in counts.iter().take(20) {
        println!(" ({w:?}, {n}),");
    }
}

/// The example without arguments: the repository's own sources. `main` and the tour
/// call it.
pub fn run() -> Result<(), Box<dyn std::error::Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let inputs = collect_files(&[root.join("crates"), root.join("examples")], Some("rs"));
    assert!(!inputs.is_empty(), "found the repository's sources");
    let pool = Pool::new(cpu_count())?;
    let word_counts = map_reduce(&pool, inputs.clone(), true)?;
    println!("read {} files", inputs.len());
    print_top(&word_counts);
    let serial = serial_count(&inputs);
    let total: u64 = word_counts.iter().map(|x| x.1).sum();
    assert_eq!(
        serial.len(),
        word_counts.len(),
        "as many words as a serial count"
    );
    assert_eq!(
        serial.values().sum::<u64>(),
        total,
        "as many occurrences too"
    );
    Ok(())
}

/// Writes `mb` megabytes of text into `dir` (the same every run), as 64 files.
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
            // xorshift; a skewed pick, so the top words differ in count.
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
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

/// `--generate MB`: time the count serially and with a pool of `cpu_count()` workers.
fn speedup_demo(mb: usize) -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("multiproc-wordcount-{}", std::process::id()));
    println!("generating {mb} MB of text in {}", dir.display());
    let inputs = generate_corpus(&dir, mb)?;
    let workers = cpu_count();
    let t = Instant::now();
    let serial = serial_count(&inputs);
    let serial_s = t.elapsed().as_secs_f64();
    let pool = Pool::new(workers)?;
    let t = Instant::now();
    let counts = map_reduce(&pool, inputs, true);
    let pool_s = t.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(&dir);
    let counts = counts?;
    let total: u64 = counts.iter().map(|x| x.1).sum();
    assert_eq!(
        total,
        serial.values().sum::<u64>(),
        "pool and serial counts agree"
    );
    println!(
        "serial {serial_s:.2} s, Pool({workers}) {pool_s:.2} s: speed-up {:.2}x on {workers} cpus",
        serial_s / pool_s
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--generate") {
        let mb: usize = args.get(1).map_or(Ok(200), |s| s.parse())?;
        return speedup_demo(mb);
    }
    if args.is_empty() {
        return run();
    }
    let inputs = collect_files(&args.iter().map(PathBuf::from).collect::<Vec<_>>(), None);
    let pool = Pool::new(cpu_count())?;
    print_top(&map_reduce(&pool, inputs, false)?);
    Ok(())
}
