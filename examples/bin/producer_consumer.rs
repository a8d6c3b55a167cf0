//! Seed 001 (producers and consumers): two producers make ten buns each, four consumers
//! eat them. The seed's version never ends; here each consumer gets a poison pill
//! (`None`) once the producers are done, so every item is eaten exactly once and the
//! program exits.
//!
//! Prints `NAME生产了FOODi` and `NAME消费了…` lines, one `接收到了一个空…` per consumer,
//! then `主程序结束..........`. Fails unless 20 items were made and 20 eaten.
//!
//! ```text
//! cargo run --release --example producer_consumer
//! ```

use multiproc::prelude::*;

fn producer(name: String, food: String, q: Queue<Option<String>>) -> usize {
    for i in 0..10 {
        let f = format!("{name}生产了{food}{i}");
        println!("{f}");
        q.put(Some(f)).expect("the queue has room");
    }
    10
}

fn eater(q: Queue<Option<String>>, name: String) -> usize {
    let mut eaten = 0;
    loop {
        match q.get().expect("the queue stays open until the pills") {
            Some(food) => {
                println!("{name}消费了{food}");
                eaten += 1;
            }
            None => {
                println!("接收到了一个空,生产者已经完事了");
                return eaten;
            }
        }
    }
}

/// The example; `main` and the tour call it.
pub fn run() -> Result<(), Box<dyn std::error::Error>> {
    let q = Queue::new()?;
    let mut producers = Vec::new();
    for (name, food) in [("fioman", "包子"), ("jingjing", "馒头")] {
        let args = (name.to_string(), food.to_string(), q.clone());
        producers.push(Process::new(producer, args).start()?);
    }
    let mut consumers = Vec::new();
    for name in ["mengmeng", "xiaoxiao", "x", "xy"] {
        consumers.push(Process::new(eater, (q.clone(), name.to_string())).start()?);
    }
    let mut produced = 0;
    for p in producers {
        produced += p.join_value()?;
    }
    // One poison pill per consumer, after everything real is on the queue.
    for _ in &consumers {
        q.put(None)?;
    }
    let mut eaten = 0;
    for c in consumers {
        eaten += c.join_value()?;
    }
    println!("主程序结束..........");
    assert_eq!((produced, eaten), (20, 20), "(produced, eaten)");
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    run()
}
