//! Issue #16: worker processes feed an async consumer through a `Queue`.
//!
//! Four producer processes each measure a batch of "sensor readings" and `put` them on
//! a multiproc `Queue`; the consumer is a tokio task that `get`s them with
//! `queue.get().await` (the queue's async form, `Queue::into_async`), keeps running
//! totals, and meanwhile stays responsive: a second task ticks on a timer on the same
//! single-threaded runtime, which would stall if an await blocked the thread. The
//! producers' exits are awaited too (`Process::into_async().join()`), and the consumer
//! stops when every producer has sent its end marker.
//!
//! Fails unless every reading arrived exactly once and the timer kept ticking.
//!
//! The Python counterpart is an `asyncio` task that awaits
//! `loop.run_in_executor(None, queue.get)` — a thread per waiting get, and a get lost
//! if the awaiting task is cancelled; here a dropped `get` future loses nothing
//! (docs/python-guide.md).
//!
//! ```text
//! cargo run --release --example async_pipeline
//! ```

use std::collections::BTreeSet;
use std::time::Duration;

use multiproc::prelude::*;
use multiproc::process::aio::AsyncProcess;
use serde::{Deserialize, Serialize};

const PRODUCERS: u32 = 4;
const READINGS: u32 = 2_000;

/// What flows through the queue.
#[derive(Debug, Serialize, Deserialize)]
enum Message {
    /// One reading of sensor `sensor`.
    Reading { sensor: u32, seq: u32, value: f64 },
    /// Sensor `sensor` has sent all its readings.
    Done { sensor: u32 },
}

/// A producer process: `READINGS` readings, then its end marker.
fn producer(q: Queue<Message>, sensor: u32) {
    for seq in 0..READINGS {
        let value = f64::from(sensor) * 1_000.0 + f64::from(seq).sqrt();
        q.put(Message::Reading { sensor, seq, value })
            .expect("the consumer is alive");
    }
    q.put(Message::Done { sensor })
        .expect("the consumer is alive");
}

/// The example; `main` and the tour call it.
pub fn run() -> Result<(), Box<dyn std::error::Error>> {
    // A small bound, so producers really wait for the async consumer (back-pressure).
    let q: Queue<Message> = Queue::with_maxsize(64)?;
    // Started before the runtime exists: every start method works then.
    let producers = (0..PRODUCERS)
        .map(|sensor| Process::new(producer, (q.clone(), sensor)).start())
        .collect::<Result<Vec<_>, _>>()?;

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (seen, total, ticks) = rt.block_on(async move {
        let q = q.into_async();
        // The heartbeat: counts timer ticks while the consumer waits on the queue.
        let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
        let heartbeat = tokio::spawn(async move {
            let mut ticks = 0u64;
            let mut every = tokio::time::interval(Duration::from_millis(1));
            loop {
                tokio::select! {
                    _ = every.tick() => ticks += 1,
                    _ = &mut stop_rx => return ticks,
                }
            }
        });
        let mut seen = BTreeSet::new();
        let mut total = 0.0f64;
        let mut done = 0;
        while done < PRODUCERS {
            // Bounded: a producer that died would otherwise leave us waiting for ever.
            match tokio::time::timeout(Duration::from_secs(120), q.get()).await {
                Ok(Ok(Message::Reading { sensor, seq, value })) => {
                    assert!(seen.insert((sensor, seq)), "reading {sensor}/{seq} twice");
                    total += value;
                }
                Ok(Ok(Message::Done { .. })) => done += 1,
                Ok(Err(e)) => return Err(e.into()),
                Err(_) => return Err("no message for 120 s".into()),
            }
            // Let the heartbeat run now and then: the consumer is busy, not blocked.
            if seen.len() % 256 == 0 {
                tokio::task::yield_now().await;
            }
        }
        // Every producer's exit, awaited on its pidfd.
        for p in producers {
            AsyncProcess::new(p).join_value().await?;
        }
        let _ = stop_tx.send(());
        let ticks = heartbeat.await?;
        Ok::<_, Box<dyn std::error::Error>>((seen, total, ticks))
    })?;

    assert_eq!(
        seen.len() as u32,
        PRODUCERS * READINGS,
        "every reading once"
    );
    let expected: f64 = (0..PRODUCERS)
        .flat_map(|s| (0..READINGS).map(move |i| f64::from(s) * 1_000.0 + f64::from(i).sqrt()))
        .sum();
    assert!(
        (total - expected).abs() < 1e-6 * expected,
        "{total} vs {expected}"
    );
    assert!(
        ticks > 0,
        "the runtime's timer never ran: an await blocked the thread"
    );
    println!(
        "{} readings from {PRODUCERS} producer processes consumed by one async task \
         (total {total:.1}); the timer ticked {ticks} times meanwhile",
        seen.len()
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    run()
}
