//! Quick timing of the pool's hot paths (not a benchmark: see benches/pool.rs).
//!
//! `cargo run --release -p multiproc-pool --example pool_perf [start|map1|map|imap] [method]`

use std::time::{Duration, Instant};

use multiproc_pool::Pool;
use multiproc_process::StartMethod;

fn square(x: u64) -> u64 {
    x.wrapping_mul(x)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Deterministic busy work (the bench's `burn`).
fn burn(n: u64) -> u64 {
    let mut acc = 1u64;
    for i in 0..n {
        acc = std::hint::black_box(acc.wrapping_mul(6364136223846793005).wrapping_add(i));
    }
    acc
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let what = std::env::args().nth(1).unwrap_or_else(|| "all".into());
    let method = match std::env::args().nth(2).as_deref() {
        Some("spawn") => StartMethod::Spawn,
        Some("forkserver") => StartMethod::ForkServer,
        _ => StartMethod::Fork,
    };
    if what == "cpu" {
        // the bench's CPU-bound speed-up: 8 tasks per core of >= 25 ms, chunksize 1
        let cores = multiproc_process::cpu_count();
        let mut n = 100_000u64;
        while {
            let t = Instant::now();
            std::hint::black_box(burn(n));
            t.elapsed() < Duration::from_millis(25)
        } {
            n *= 2;
        }
        let jobs = vec![n; 8 * cores];
        let pool = Pool::builder()
            .processes(cores)
            .start_method(method)
            .build()?;
        pool.map_chunked(burn, jobs[..cores].to_vec(), 1)?;
        for _ in 0..3 {
            let t = Instant::now();
            let r1: Vec<u64> = jobs.iter().map(|&j| burn(j)).collect();
            let ts = t.elapsed();
            let t = Instant::now();
            let r2 = pool.map_chunked(burn, jobs.clone(), 1)?;
            let tp = t.elapsed();
            assert_eq!(r1, r2);
            println!(
                "cpu-bound {} tasks: serial {ts:?}, pool {tp:?}: {:.2}x",
                jobs.len(),
                ts.as_secs_f64() / tp.as_secs_f64()
            );
        }
        return Ok(());
    }
    let n = 100_000u64;
    let items: Vec<u64> = (0..n).collect();
    if what == "start1" {
        let p = Pool::builder().processes(2).start_method(method).build()?;
        p.close_and_join()?;
        for _ in 0..5 {
            eprintln!("----");
            let t = Instant::now();
            let p = Pool::builder().processes(2).start_method(method).build()?;
            let b = t.elapsed();
            p.close_and_join()?;
            eprintln!("---- {:?} build {b:?}", t.elapsed());
        }
        return Ok(());
    }
    // "bigstart": the same in a process holding 64 MiB of touched heap, like a bench.
    let _ballast: Vec<u8> = if what == "bigstart" {
        vec![1u8; 64 << 20]
    } else {
        Vec::new()
    };
    if what == "start" || what == "bigstart" || what == "all" {
        let p = Pool::builder().processes(2).start_method(method).build()?;
        p.apply(square, (1,))?;
        p.close_and_join()?;
        let (mut v, mut b, mut j) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..30 {
            let t = Instant::now();
            let p = Pool::builder().processes(2).start_method(method).build()?;
            b.push(t.elapsed());
            let t2 = Instant::now();
            p.close_and_join()?;
            j.push(t2.elapsed());
            v.push(t.elapsed());
        }
        println!(
            "start+close+join {method}: {:?} (build {:?}, close+join {:?})",
            median(v),
            median(b),
            median(j)
        );
    }
    let pool = Pool::builder().processes(2).start_method(method).build()?;
    pool.map(square, 0..1000u64)?;
    for (name, run) in [("map1", 1usize), ("map", 0), ("imap", 2)] {
        if what != name && what != "all" {
            continue;
        }
        let mut v = Vec::new();
        for _ in 0..7 {
            let t = Instant::now();
            let r: Vec<u64> = match run {
                1 => pool.map_chunked(square, items.clone(), 1)?,
                0 => pool.map(square, items.clone())?,
                _ => pool
                    .imap_unordered(square, items.clone())
                    .collect::<Result<_, _>>()?,
            };
            v.push(t.elapsed());
            assert_eq!(r.len(), n as usize);
        }
        let m = median(v);
        println!(
            "{name}: {:?} = {:.0} items/s",
            m,
            n as f64 / m.as_secs_f64()
        );
    }
    pool.close_and_join()?;
    Ok(())
}
