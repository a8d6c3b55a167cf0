//! Seeds 000, 003, 004: `Value`, `Array`, and a `Semaphore` limiting active workers.

// The seed writes 3.1415927 on purpose: it is the number it prints.
#![allow(clippy::approx_constant)]

use std::time::Duration;

use multiproc::{Array, Lock, OwnerDied, Process, Semaphore, Value, current_process};

use crate::{Outcome, check};

fn f(n: Value<f64>, a: Array<i32>) {
    n.set(3.1415927);
    for i in 0..a.len() {
        let v = a.get(i).expect("i < len");
        a.set(i, -v).expect("i < len");
    }
}

/// Seed 000: a child writes a `Value('d')` and negates an `Array('i', range(10))`;
/// seed 004: two children negate it twice, so it comes back unchanged.
pub fn shared_value_array() -> Outcome {
    let num = Value::new(0.0f64)?;
    let arr = Array::from_slice(&(0..10).collect::<Vec<i32>>())?;
    let p = Process::new(f, (num.clone(), arr.clone())).start()?;
    p.join_value()?;
    println!("{}", num.get());
    println!("{:?}", arr.to_vec());
    check(num.get() == 3.1415927, "the child's value is visible")?;
    check(
        arr.to_vec() == (0..10).map(|i| -i).collect::<Vec<i32>>(),
        "the child's writes are visible",
    )?;

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
    check(
        arr.to_vec() == (0..11).collect::<Vec<i32>>(),
        "negated twice",
    )
}

fn worker(s: Semaphore, lock: Lock, active: Value<u32>, most: Value<u32>) {
    let name = current_process().name().to_string();
    let _permit = s.acquire();
    {
        let _g = lock.lock().unwrap_or_else(OwnerDied::into_inner);
        let now = active.get() + 1;
        active.set(now);
        most.set(most.get().max(now));
        println!("Activating {name} now running {now}");
    }
    // The seed sleeps a random time while active; a short fixed pause keeps the
    // workers overlapping without making the tour slow.
    std::thread::sleep(Duration::from_millis(10));
    let _g = lock.lock().unwrap_or_else(OwnerDied::into_inner);
    active.set(active.get() - 1);
}

/// Seed 003 (ActivePool): ten workers, `Semaphore(3)`: never more than three active.
pub fn semaphore() -> Outcome {
    let s = Semaphore::new(3)?;
    let lock = Lock::new()?;
    let active = Value::new(0u32)?;
    let most = Value::new(0u32)?;
    let jobs = (0..10)
        .map(|i| {
            Process::new(
                worker,
                (s.clone(), lock.clone(), active.clone(), most.clone()),
            )
            .name(format!("worker[{i}]"))
            .start()
        })
        .collect::<Result<Vec<_>, _>>()?;
    for j in jobs {
        j.join_value()?;
    }
    println!("Done: at most {} active at once", most.get());
    check(
        most.get() <= 3 && most.get() >= 1,
        "never more than three active",
    )?;
    check(active.get() == 0 && s.value() == 3, "everyone left")
}
