//! The tour: every scenario of the tutorials, in sequence, each under a heading.
//! Exits non-zero if any scenario misbehaves.
//!
//! ```text
//! cargo run --release --example tour            # all of them
//! cargo run --release --example tour -- pipe    # only those whose name contains "pipe"
//! ```

use std::time::Instant;

use multiproc_examples::scenarios::ALL;

fn main() {
    let filter: Vec<String> = std::env::args().skip(1).collect();
    let started = Instant::now();
    let mut failed = Vec::new();
    let mut ran = 0;
    for s in ALL {
        if !filter.is_empty() && !filter.iter().any(|f| s.name.contains(f.as_str())) {
            continue;
        }
        ran += 1;
        println!("\n━━━ {} — {}", s.name, s.about);
        let t = Instant::now();
        match (s.run)() {
            Ok(()) => println!("━━━ ok ({:.2} s)", t.elapsed().as_secs_f64()),
            Err(e) => {
                println!("━━━ FAILED: {e}");
                failed.push(s.name);
            }
        }
    }
    println!(
        "\ntour: {} scenarios, {} failed, {:.1} s",
        ran,
        failed.len(),
        started.elapsed().as_secs_f64()
    );
    if !failed.is_empty() {
        println!("failed: {}", failed.join(", "));
        std::process::exit(1);
    }
}
