//! Seed 000 on MPI: `with Pool(5) as p: print(p.map(f, [1, 2, 3]))`, the workers being
//! MPI ranks (on this machine or across hosts).
//!
//! ```text
//! cargo build --release --features mpi --example mpi_pool
//! mpirun -np 4 target/release/examples/mpi_pool      # rank 0 + 3 worker ranks
//! target/release/examples/mpi_pool                   # no mpirun: 5 local processes
//! ```
//! (As root add `--allow-run-as-root`; with more ranks than cores `--oversubscribe`.)

fn f(x: i64) -> i64 {
    x * x
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // First thing in main: ranks 1.. serve tasks here and exit when rank 0 is done.
    let p = multiproc::mpi::builder().local_processes(5).init()?;
    let out = p.map(f, [1, 2, 3])?;
    println!("{out:?}");
    println!(
        "(on {} {})",
        p.processes(),
        if p.is_mpi() {
            "worker ranks"
        } else {
            "local processes: not under mpirun"
        }
    );
    assert_eq!(out, [1, 4, 9]);
    Ok(())
}
