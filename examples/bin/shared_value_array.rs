//! Seeds 000 and 004 (`Value` and `Array` in shared memory): a child writes a
//! `Value('d')` and negates an `Array('i', range(10))`; then two children in turn
//! negate an array twice, so it comes back unchanged.
//!
//! Prints `3.1415927` and `[0, -1, …, -9]`, then `3.1415927` and `0` … `10` one per
//! line. Fails unless the children's writes are visible to the parent.
//!
//! ```text
//! cargo run --release --example shared_value_array
//! ```

// The seed writes 3.1415927 on purpose: it is the number it prints.
#![allow(clippy::approx_constant)]

use multiproc::prelude::*;

fn f(n: Value<f64>, a: Array<i32>) {
    n.set(3.1415927);
    for i in 0..a.len() {
        let v = a.get(i).expect("i < len");
        a.set(i, -v).expect("i < len");
    }
}

/// The example; `main` and the tour call it.
pub fn run() -> Result<(), Box<dyn std::error::Error>> {
    // Seed 000.
    let num = Value::new(0.0f64)?;
    let arr = Array::from_slice(&(0..10).collect::<Vec<i32>>())?;
    let p = Process::new(f, (num.clone(), arr.clone())).start()?;
    p.join_value()?;
    println!("{}", num.get());
    println!("{:?}", arr.to_vec());
    assert_eq!(num.get(), 3.1415927, "the child's value is visible");
    assert_eq!(arr.to_vec(), (0..10).map(|i| -i).collect::<Vec<i32>>());

    // Seed 004: the same function in two processes, one after the other.
    let num = Value::new(0.0f64)?;
    let arr = Array::from_slice(&(0..11).collect::<Vec<i32>>())?;
    for _ in 0..2 {
        Process::new(f, (num.clone(), arr.clone()))
            .start()?
            .join_value()?;
    }
    println!("{}", num.get());
    for i in arr.to_vec() {
        println!("{i}");
    }
    assert_eq!(arr.to_vec(), (0..11).collect::<Vec<i32>>(), "negated twice");
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    run()
}
