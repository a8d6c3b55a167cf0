//! Figures for the MPI pool: per-task round trip against a bare rsmpi ping-pong, and
//! `map` throughput against the local pool. Runs under mpirun; prints figures.
//!
//! ```text
//! cargo build --release -p multiproc-mpi --features openmpi --example mpi_bench
//! B=target/release/examples/mpi_bench
//! mpirun -np 2 $B raw      # bare rsmpi ping-pong, one message in flight
//! mpirun -np 2 $B pool     # the pool: apply round trip, map of x*x over 1M items
//! $B pool                  # no mpirun: the same on a local Pool(2)
//! ```
//! (As root add `--allow-run-as-root`; on 2 cores `--oversubscribe --mca
//! mpi_yield_when_idle 1`.)

use std::time::Instant;

use mpi::point_to_point::{Destination, Source};
use mpi::topology::Communicator;

fn square(x: u64) -> u64 {
    x * x
}

const REPS: u32 = 5000;

fn raw() {
    let Some((universe, _)) = mpi::initialize_with_threading(mpi::Threading::Multiple) else {
        eprintln!("MPI already initialized");
        std::process::exit(2);
    };
    let world = universe.world();
    // About the size of the pool's task message for `apply(square, (3,))`.
    let msg = [7u8; 40];
    match world.rank() {
        0 => {
            let peer = world.process_at_rank(1);
            let mut best = f64::MAX;
            for round in 0..5 {
                let t = Instant::now();
                for _ in 0..REPS {
                    peer.send(&msg[..]);
                    let _ = peer.receive_vec::<u8>();
                }
                let us = t.elapsed().as_secs_f64() / f64::from(REPS) * 1e6;
                if round > 0 {
                    best = best.min(us);
                }
            }
            peer.send(&[0u8][..]);
            println!("bare rsmpi ping-pong (40 B): {best:.2} us per round trip (best of 4)");
        }
        1 => {
            let root = world.process_at_rank(0);
            loop {
                let (m, _) = root.receive_vec::<u8>();
                if m.len() == 1 {
                    break;
                }
                root.send(&m[..]);
            }
        }
        _ => {}
    }
}

fn pool() -> Result<(), Box<dyn std::error::Error>> {
    let pool = multiproc_mpi::builder().local_processes(2).init()?;
    let what = if pool.is_mpi() {
        format!("MPI pool, {} worker rank(s)", pool.processes())
    } else {
        format!("local Pool({})", pool.processes())
    };
    for _ in 0..500 {
        pool.apply(square, (3,))?;
    }
    let mut best = f64::MAX;
    for _ in 0..4 {
        let t = Instant::now();
        for i in 0..REPS {
            pool.apply(square, (u64::from(i),))?;
        }
        best = best.min(t.elapsed().as_secs_f64() / f64::from(REPS) * 1e6);
    }
    println!("{what}: apply round trip {best:.2} us (best of 4)");
    let n = 1_000_000u64;
    let mut best = 0f64;
    for _ in 0..3 {
        let t = Instant::now();
        let out = pool.map(square, 0..n)?;
        let rate = n as f64 / t.elapsed().as_secs_f64();
        if out.len() != n as usize || out[1000] != 1_000_000 {
            return Err("wrong map result".into());
        }
        best = best.max(rate);
    }
    println!(
        "{what}: map x*x over 1M items {:.2} M items/s (best of 3)",
        best / 1e6
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    match std::env::args().nth(1).as_deref() {
        Some("raw") => {
            raw();
            Ok(())
        }
        Some("pool") => pool(),
        _ => Err("usage: mpi_bench raw|pool".into()),
    }
}
