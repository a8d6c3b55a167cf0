//! "No consumer left": a putter in a process that declared `close_receiving` is told
//! `PutError::NoConsumer` once every process that may get is dead, instead of waiting
//! for ever on a full queue.

use std::time::Duration;

use multiproc_process::{Process, StartMethod};
use multiproc_queue::{PutError, Queue};

use crate::{BOUND, METHODS, TestResult};

/// Takes one item, says so, then holds its handle without getting until killed.
fn take_one_then_stall(q: Queue<u32>, ready: Queue<u32>, gate: Queue<u32>) {
    let v = q.get_timeout(BOUND).unwrap();
    ready.put(v).unwrap();
    let _ = gate.get_timeout(BOUND);
}

/// How the workers die.
#[derive(Clone, Copy, Debug)]
enum Death {
    Kill,
    Interrupt,
}

fn blocked_put_learns_no_consumer(m: StartMethod, death: Death) -> TestResult {
    multiproc_process::default_sigint();
    let q: Queue<u32> = Queue::with_maxsize(2)?;
    let (ready, gate): (Queue<u32>, Queue<u32>) = (Queue::new()?, Queue::new()?);
    q.close_receiving()?;
    let workers: Vec<Process> = (0..2)
        .map(|_| {
            Process::new(
                take_one_then_stall,
                (q.clone(), ready.clone(), gate.clone()),
            )
            .start_method(m)
            .start()
        })
        .collect::<Result<_, _>>()?;
    for i in 0..2 {
        q.put_timeout(i, BOUND)?;
    }
    for _ in 0..2 {
        ready.get_timeout(BOUND)?;
    }
    // Full again, the workers alive but not getting: a bounded put times out (it
    // waited past the liveness slice, so the consumer check ran and found them).
    q.put_timeout(2, BOUND)?;
    q.put_timeout(3, BOUND)?;
    assert!(q.is_full(), "{m:?}");
    let r = q.put_timeout(4, Duration::from_millis(200));
    assert!(
        matches!(r, Err(PutError::Timeout(4))),
        "{m:?} {death:?}: {r:?}"
    );

    // Kill the workers while the parent is blocked in `put`. Whether the signals land
    // before or after the put starts waiting, it must end with `NoConsumer`; the pause
    // only makes "while blocked" the usual case.
    let r = std::thread::scope(|s| {
        let killer = s.spawn(|| -> Result<(), multiproc_process::WaitError> {
            std::thread::sleep(Duration::from_millis(100));
            for w in &workers {
                match death {
                    Death::Kill => w.kill()?,
                    Death::Interrupt => w.interrupt()?,
                }
            }
            Ok(())
        });
        let r = q.put(5);
        (r, killer.join())
    });
    let (r, killed) = r;
    killed.unwrap().unwrap();
    assert!(
        matches!(r, Err(PutError::NoConsumer(5))),
        "{m:?} {death:?}: {r:?}"
    );
    for w in &workers {
        assert!(w.join_timeout(BOUND)?, "{m:?}: worker not reaped");
        let want = match death {
            Death::Kill => -9,
            Death::Interrupt => -2,
        };
        assert_eq!(w.exitcode(), Some(want), "{m:?} {death:?}");
    }
    Ok(())
}

#[test]
fn put_learns_no_consumer_after_workers_are_killed() -> TestResult {
    for m in METHODS {
        blocked_put_learns_no_consumer(m, Death::Kill)?;
    }
    Ok(())
}

#[test]
fn put_learns_no_consumer_after_workers_are_interrupted() -> TestResult {
    for m in METHODS {
        blocked_put_learns_no_consumer(m, Death::Interrupt)?;
    }
    Ok(())
}

/// Holds a handle without getting until the gate opens.
fn hold_until_gate(q: Queue<u32>, ready: Queue<u32>, gate: Queue<u32>) {
    let _keep = q;
    ready.put(1).unwrap();
    let _ = gate.get_timeout(BOUND);
}

// A putter that did not declare `close_receiving` is never told `NoConsumer` (its own
// threads may get), and a process that declared does not count as a consumer for a
// declared putter: the declaration is per process, the liveness per process.
#[test]
fn only_declared_processes_are_left_out_of_the_consumers() -> TestResult {
    for m in METHODS {
        let q: Queue<u32> = Queue::with_maxsize(1)?;
        let (ready, gate): (Queue<u32>, Queue<u32>) = (Queue::new()?, Queue::new()?);
        let p = Process::new(hold_until_gate, (q.clone(), ready.clone(), gate.clone()))
            .start_method(m)
            .start()?;
        assert_eq!(ready.get_timeout(BOUND)?, 1);
        q.put(0)?;
        // Undeclared: a full queue times out, nothing else.
        let r = q.put_timeout(1, Duration::from_millis(100));
        assert!(matches!(r, Err(PutError::Timeout(1))), "{m:?}: {r:?}");
        // Declared, the child alive and holding a handle: still a consumer.
        q.close_receiving()?;
        let r = q.put_timeout(1, Duration::from_millis(100));
        assert!(matches!(r, Err(PutError::Timeout(1))), "{m:?}: {r:?}");
        // The child gone (it exits normally, dropping its handle): nobody may get.
        gate.put(0)?;
        assert!(p.join_timeout(BOUND)?, "{m:?}");
        assert_eq!(p.exitcode(), Some(0), "{m:?}");
        let r = q.put_timeout(1, BOUND);
        assert!(matches!(r, Err(PutError::NoConsumer(1))), "{m:?}: {r:?}");
        // `try_put` does not wait, so it does not ask.
        assert!(q.try_put(2).unwrap_err().is_full(), "{m:?}");
        // Room again (this process may still get): puts succeed.
        assert_eq!(q.get_timeout(BOUND)?, 0);
        q.put(3)?;
    }
    Ok(())
}
