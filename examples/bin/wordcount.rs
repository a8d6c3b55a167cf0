//! The seed's SimpleMapReduce word count.
//!
//! ```text
//! cargo run --release --example wordcount                  # the repository's sources
//! cargo run --release --example wordcount -- DIR FILE ...  # your files
//! cargo run --release --example wordcount -- --generate 200  # 200 MB corpus: speed-up demo
//! ```
use std::path::PathBuf;

use multiproc::{Pool, cpu_count};
use multiproc_examples::scenarios::pool::{collect_files, generate_corpus, map_reduce, speedup};

fn main() -> multiproc_examples::Outcome {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--generate") {
        let mb: usize = args.get(1).map_or(Ok(200), |s| s.parse())?;
        let dir = std::env::temp_dir().join(format!("multiproc-wordcount-{}", std::process::id()));
        println!("generating {mb} MB of text in {}", dir.display());
        let inputs = generate_corpus(&dir, mb)?;
        let workers = cpu_count();
        let r = speedup(&inputs, workers);
        let _ = std::fs::remove_dir_all(&dir);
        let (serial, pool) = r?;
        println!(
            "serial {serial:.2} s, Pool({workers}) {pool:.2} s: speed-up {:.2}x on {workers} cpus",
            serial / pool
        );
        return Ok(());
    }
    if args.is_empty() {
        return multiproc_examples::scenarios::pool::wordcount();
    }
    let inputs = collect_files(&args.iter().map(PathBuf::from).collect::<Vec<_>>(), None);
    let pool = Pool::new(cpu_count())?;
    let counts = map_reduce(&pool, inputs, false)?;
    println!("TOP 20 WORD");
    for (w, n) in counts.iter().take(20) {
        println!(" ({w:?}, {n}),");
    }
    Ok(())
}
