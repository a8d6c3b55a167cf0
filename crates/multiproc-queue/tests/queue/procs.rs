//! Across processes, under every start method.

use std::collections::HashSet;

use multiproc_process::Process;
use multiproc_queue::{GetError, JoinableQueue, Queue};

use crate::{BOUND, METHODS, Small, TestResult, small};

fn put_items_then_exit(q: Queue<Vec<u8>>) {
    for i in 0..10u8 {
        q.put(vec![i; 10]).unwrap();
    }
    // Bigger than a pipe buffer: CPython's canonical join-before-drain deadlock.
    q.put(vec![0xAB; 512 * 1024]).unwrap();
}

// Port of CPython `_TestQueue.test_fork`, plus KI-07: the child exits right after its
// puts and the parent joins it *before* draining.
#[test]
fn test_fork_join_before_drain() -> TestResult {
    for m in METHODS {
        let q: Queue<Vec<u8>> = Queue::new()?;
        let p = Process::new(put_items_then_exit, (q.clone(),))
            .start_method(m)
            .start()?;
        assert!(p.join_timeout(BOUND)?, "{m:?}: child did not exit");
        assert_eq!(p.exitcode(), Some(0), "{m:?}");
        q.close();
        for i in 0..10u8 {
            assert_eq!(q.get_timeout(BOUND)?, vec![i; 10]);
        }
        assert_eq!(q.get_timeout(BOUND)?, vec![0xAB; 512 * 1024]);
        assert!(
            matches!(q.get_timeout(BOUND), Err(GetError::Closed)),
            "{m:?}"
        );
    }
    Ok(())
}

fn produce(q: Queue<Small>, producer: u64, n: u64) {
    for i in 0..n {
        q.put(small(producer * 1_000_000 + i)).unwrap();
    }
}

#[test]
fn many_producers_exactly_once_fifo_per_producer() -> TestResult {
    for m in METHODS {
        let q: Queue<Small> = Queue::with_capacity(0, 16 * 1024)?;
        let n = 20_000;
        let ps: Vec<_> = (0..3u64)
            .map(|p| {
                Process::new(produce, (q.clone(), p, n))
                    .start_method(m)
                    .start()
            })
            .collect::<Result<_, _>>()?;
        q.close();
        let mut next = [0u64; 3];
        for item in &q {
            let (v, s) = item?;
            assert_eq!(s, format!("item-{v}"));
            let (p, i) = ((v / 1_000_000) as usize, v % 1_000_000);
            assert_eq!(next[p], i, "{m:?}: producer {p} out of order");
            next[p] += 1;
        }
        assert_eq!(next, [n; 3], "{m:?}");
        for p in ps {
            assert!(p.join_timeout(BOUND)?);
            assert_eq!(p.exitcode(), Some(0));
        }
    }
    Ok(())
}

fn consume(q: Queue<Option<Small>>) -> Vec<u64> {
    let mut got = Vec::new();
    while let Some((v, s)) = q.get().unwrap() {
        assert_eq!(s, format!("item-{v}"));
        got.push(v);
    }
    got
}

#[test]
fn many_consumers_exactly_once() -> TestResult {
    for m in METHODS {
        let q: Queue<Option<Small>> = Queue::with_capacity(0, 16 * 1024)?;
        let ps: Vec<_> = (0..3)
            .map(|_| Process::new(consume, (q.clone(),)).start_method(m).start())
            .collect::<Result<_, _>>()?;
        let n = 30_000u64;
        for i in 0..n {
            q.put(Some(small(i)))?;
        }
        for _ in &ps {
            q.put(None)?;
        }
        let mut all = HashSet::new();
        for p in ps {
            let got = p.join_value()?;
            assert!(got.windows(2).all(|w| w[0] < w[1]), "{m:?}: FIFO broken");
            for v in got {
                assert!(all.insert(v), "{m:?}: {v} delivered twice");
            }
        }
        assert_eq!(all.len() as u64, n, "{m:?}");
    }
    Ok(())
}

fn checksum(v: &[u8]) -> u64 {
    v.iter().enumerate().fold(0u64, |a, (i, &b)| {
        a.wrapping_mul(31).wrapping_add(u64::from(b) ^ i as u64)
    })
}

fn get_big(q: Queue<Vec<u8>>) -> (usize, u64) {
    let v = q.get().unwrap();
    (v.len(), checksum(&v))
}

#[test]
fn sixteen_mib_item_across_processes() -> TestResult {
    for m in METHODS {
        let q: Queue<Vec<u8>> = Queue::new()?;
        let p = Process::new(get_big, (q.clone(),))
            .start_method(m)
            .start()?;
        let big: Vec<u8> = (0..16 << 20)
            .map(|i: u32| (i * 7 + i / 4096) as u8)
            .collect();
        q.put(big.clone())?;
        assert_eq!(p.join_value()?, (big.len(), checksum(&big)), "{m:?}");
    }
    Ok(())
}

fn worker(tasks: JoinableQueue<Option<(u64, u64)>>, results: Queue<u64>) {
    while let Some((a, b)) = tasks.get().unwrap() {
        results.put(a * b).unwrap();
        tasks.task_done().unwrap();
    }
    tasks.task_done().unwrap();
}

// Seed 003 / CPython `_TestQueue.test_task_done` across processes: consumers, poison
// pills, task_done, join.
#[test]
fn joinable_queue_across_processes() -> TestResult {
    for m in METHODS {
        let tasks: JoinableQueue<Option<(u64, u64)>> = JoinableQueue::new()?;
        let results: Queue<u64> = Queue::new()?;
        let ws: Vec<_> = (0..4)
            .map(|_| {
                Process::new(worker, (tasks.clone(), results.clone()))
                    .start_method(m)
                    .start()
            })
            .collect::<Result<_, _>>()?;
        for i in 0..10 {
            tasks.put(Some((i, i + 1)))?;
        }
        for _ in &ws {
            tasks.put(None)?;
        }
        assert!(tasks.join_timeout(BOUND)?);
        assert_eq!(tasks.unfinished_tasks(), 0);
        let mut got: Vec<u64> = (0..10)
            .map(|_| results.get_timeout(BOUND))
            .collect::<Result<_, _>>()?;
        got.sort_unstable();
        let mut want: Vec<u64> = (0..10).map(|i| i * (i + 1)).collect();
        want.sort_unstable();
        assert_eq!(got, want, "{m:?}");
        for w in ws {
            assert!(w.join_timeout(BOUND)?);
            assert_eq!(w.exitcode(), Some(0));
        }
    }
    Ok(())
}

fn close_then_drain(q: Queue<u64>) -> u64 {
    q.close();
    q.iter().map(|r| r.unwrap()).sum()
}

// The seed pattern reversed: a child consumer closes its own handle and drains until
// the parent (the only producer) is done. Its own (fork-inherited or received) handle
// must not keep the queue open.
#[test]
fn child_consumer_sees_closed_when_parent_is_done() -> TestResult {
    for m in METHODS {
        let q: Queue<u64> = Queue::new()?;
        let p = Process::new(close_then_drain, (q.clone(),))
            .start_method(m)
            .start()?;
        for i in 0..1000 {
            q.put(i)?;
        }
        drop(q);
        assert_eq!(p.join_value()?, 999 * 1000 / 2, "{m:?}");
    }
    Ok(())
}
