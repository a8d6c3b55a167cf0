//! Seed 003 (`Pool` options): `cpu_count() * 2` workers, an initializer that prints
//! each worker's name, and `maxtasksperchild=2` so workers are replaced as they go.
//!
//! Prints the inputs, the builtin `map`'s output, `Starting  PoolWorker-N` lines, then
//! `Pool [0, 2, 4, …, 18]`. Fails unless the pool's output equals the builtin one.
//!
//! ```text
//! cargo run --release --example pool_initializer
//! ```

use multiproc::prelude::*;

fn do_cal(data: i64) -> i64 {
    data * 2
}

fn start_pro() {
    println!("Starting  {}", current_process().name());
}

/// The example; `main` and the tour call it.
pub fn run() -> Result<(), Box<dyn std::error::Error>> {
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
    assert_eq!(pool_outputs, builtin_output);
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    run()
}
