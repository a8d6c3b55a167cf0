//! SIGKILLed producers and consumers: the queue keeps working for the others and at
//! most the dead process's in-flight item is lost.

use std::collections::HashSet;
use std::time::Duration;

use multiproc_process::Process;
use multiproc_queue::{GetError, Queue};

use crate::{BOUND, METHODS, Small, TestResult, small};

fn put_forever(q: Queue<Small>, producer: u64) {
    let mut i = 0;
    loop {
        q.put(small(producer * 1_000_000 + i)).unwrap();
        i += 1;
    }
}

fn put_n(q: Queue<Small>, producer: u64, n: u64) {
    for i in 0..n {
        q.put(small(producer * 1_000_000 + i)).unwrap();
    }
}

#[test]
fn producer_killed_mid_put_others_carry_on() -> TestResult {
    for m in METHODS {
        // A small ring: producers often hold the put side while waiting for room.
        let q: Queue<Small> = Queue::with_capacity(0, 4096)?;
        let victim = Process::new(put_forever, (q.clone(), 1))
            .start_method(m)
            .start()?;
        let n = 30_000;
        let survivor = Process::new(put_n, (q.clone(), 2, n))
            .start_method(m)
            .start()?;
        let mut next = [0u64; 3];
        while next[1] < 2000 {
            let (v, s) = q.get_timeout(BOUND)?;
            assert_eq!(s, format!("item-{v}"));
            let (p, i) = ((v / 1_000_000) as usize, v % 1_000_000);
            assert_eq!(next[p], i, "{m:?}: producer {p}: gap or duplicate");
            next[p] += 1;
        }
        victim.kill()?;
        assert!(victim.join_timeout(BOUND)?);
        q.close();
        loop {
            match q.get_timeout(BOUND) {
                Err(GetError::Closed) => break,
                Err(e) => return Err(e.into()),
                Ok((v, s)) => {
                    assert_eq!(s, format!("item-{v}"));
                    let (p, i) = ((v / 1_000_000) as usize, v % 1_000_000);
                    assert_eq!(next[p], i, "{m:?}: producer {p}: gap or duplicate");
                    next[p] += 1;
                }
            }
        }
        assert_eq!(next[2], n, "{m:?}: survivor's items lost");
        assert!(survivor.join_timeout(BOUND)?);
        assert_eq!(survivor.exitcode(), Some(0));
    }
    Ok(())
}

fn big(k: u8, n: usize) -> Vec<u8> {
    (0..n).map(|i| (i as u8).wrapping_add(k)).collect()
}

fn put_big_forever(q: Queue<Vec<u8>>) {
    let mut k = 0u8;
    loop {
        q.put(big(k, 1 << 20)).unwrap();
        k = k.wrapping_add(1);
    }
}

fn put_three_marked(q: Queue<Vec<u8>>) {
    for k in 0..3 {
        q.put(big(200 + k, 200_000)).unwrap();
    }
}

#[test]
fn producer_killed_mid_stream_partial_item_is_dropped() -> TestResult {
    for m in METHODS {
        // 64 KiB ring, 1 MiB items: the producer is blocked mid-item most of the time.
        let q: Queue<Vec<u8>> = Queue::with_capacity(0, 64 * 1024)?;
        let victim = Process::new(put_big_forever, (q.clone(),))
            .start_method(m)
            .start()?;
        for k in 0..2u8 {
            assert_eq!(q.get_timeout(BOUND)?, big(k, 1 << 20));
        }
        victim.kill()?;
        assert!(victim.join_timeout(BOUND)?);
        let other = Process::new(put_three_marked, (q.clone(),))
            .start_method(m)
            .start()?;
        q.close();
        let mut rest = Vec::new();
        for item in &q {
            rest.push(item?);
        }
        // Possibly item 2 of the victim if it was complete (it cannot be: it does not
        // fit the ring), never a partial one; then the other producer's three.
        assert_eq!(
            rest.len(),
            3,
            "{m:?}: {:?}",
            rest.iter().map(Vec::len).collect::<Vec<_>>()
        );
        for (k, v) in rest.iter().enumerate() {
            assert_eq!(*v, big(200 + k as u8, 200_000), "{m:?}");
        }
        assert!(other.join_timeout(BOUND)?);
    }
    Ok(())
}

fn get_and_report(q: Queue<Small>, report: Queue<u64>) {
    loop {
        let (v, s) = q.get().unwrap();
        assert_eq!(s, format!("item-{v}"));
        report.put(v).unwrap();
    }
}

#[test]
fn consumer_killed_mid_get_loses_at_most_its_item() -> TestResult {
    for m in METHODS {
        let q: Queue<Small> = Queue::with_capacity(0, 4 << 20)?;
        let report: Queue<u64> = Queue::with_capacity(0, 4 << 20)?;
        let n = 50_000u64;
        for i in 0..n {
            q.put(small(i))?;
        }
        let victim = Process::new(get_and_report, (q.clone(), report.clone()))
            .start_method(m)
            .start()?;
        let mut reported = Vec::new();
        while reported.len() < 5000 {
            reported.push(report.get_timeout(BOUND)?);
        }
        victim.kill()?;
        assert!(victim.join_timeout(BOUND)?);
        report.close();
        for v in &report {
            reported.push(v?);
        }
        q.close();
        let mut seen: HashSet<u64> = HashSet::new();
        for v in &reported {
            assert!(seen.insert(*v), "{m:?}: {v} twice");
        }
        let mut mine = Vec::new();
        for item in &q {
            let (v, s) = item?;
            assert_eq!(s, format!("item-{v}"));
            assert!(seen.insert(v), "{m:?}: {v} delivered twice");
            mine.push(v);
        }
        assert!(mine.windows(2).all(|w| w[0] < w[1]));
        let lost = n - seen.len() as u64;
        assert!(lost <= 1, "{m:?}: {lost} items lost");
    }
    Ok(())
}

fn get_big_and_report(q: Queue<Vec<u8>>, report: Queue<u8>) {
    loop {
        let v = q.get().unwrap();
        report.put(v[1].wrapping_sub(1)).unwrap();
    }
}

#[test]
fn consumer_killed_mid_stream_others_get_intact_items() -> TestResult {
    for m in METHODS {
        let q: Queue<Vec<u8>> = Queue::with_capacity(0, 64 * 1024)?;
        let report: Queue<u8> = Queue::new()?;
        let victim = Process::new(get_big_and_report, (q.clone(), report.clone()))
            .start_method(m)
            .start()?;
        let producer = {
            let q = q.clone();
            std::thread::spawn(move || {
                for k in 0..8u8 {
                    q.put(big(k, 1 << 20)).unwrap();
                }
            })
        };
        let mut got = vec![report.get_timeout(BOUND)?, report.get_timeout(BOUND)?];
        victim.kill()?;
        assert!(victim.join_timeout(BOUND)?);
        while let Ok(k) = report.try_get() {
            got.push(k);
        }
        q.close();
        let mut mine = Vec::new();
        loop {
            match q.get_timeout(BOUND) {
                Ok(v) => {
                    let k = v[1].wrapping_sub(1);
                    assert_eq!(v, big(k, 1 << 20), "{m:?}: damaged item");
                    mine.push(k);
                }
                Err(GetError::Closed) => break,
                Err(e) => return Err(e.into()),
            }
        }
        producer.join().unwrap();
        let mut all: Vec<u8> = got.iter().chain(&mine).copied().collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), got.len() + mine.len(), "{m:?}: duplicates");
        assert!(
            all.len() >= 7,
            "{m:?}: lost more than one: {got:?} {mine:?}"
        );
    }
    Ok(())
}

fn hold_forever(q: Queue<u32>, gate: Queue<u32>) {
    let _keep = q;
    let _ = gate.get();
}

// The producer count survives SIGKILL: a getter on an empty queue sees Closed once the
// only other producer was killed.
#[test]
fn killed_producer_no_longer_keeps_the_queue_open() -> TestResult {
    for m in METHODS {
        let q: Queue<u32> = Queue::new()?;
        let gate: Queue<u32> = Queue::new()?;
        let p = Process::new(hold_forever, (q.clone(), gate.clone()))
            .start_method(m)
            .start()?;
        q.close();
        let r = q.get_timeout(Duration::from_millis(100));
        assert!(matches!(r, Err(GetError::Timeout)), "{m:?}: {r:?}");
        p.kill()?;
        assert!(p.join_timeout(BOUND)?);
        assert!(
            matches!(q.get_timeout(BOUND), Err(GetError::Closed)),
            "{m:?}"
        );
    }
    Ok(())
}

fn hold_until_gate(q: Queue<u32>, ready: Queue<u32>, gate: Queue<u32>) {
    let _keep = q;
    ready.put(1).unwrap();
    let _ = gate.get();
}

// A getter that only ever polls (`try_get`, so every call is at its deadline) skips the
// `/proc` probe while another probe found the producer alive less than a slice ago;
// once that producer is SIGKILLed it must still see `Closed` (within about a slice).
#[test]
fn killed_producer_is_noticed_by_a_try_get_poller() -> TestResult {
    for m in METHODS {
        let q: Queue<u32> = Queue::new()?;
        let (ready, gate): (Queue<u32>, Queue<u32>) = (Queue::new()?, Queue::new()?);
        let p = Process::new(hold_until_gate, (q.clone(), ready.clone(), gate.clone()))
            .start_method(m)
            .start()?;
        // The child holds its handle (a handle still in transit would count anyway).
        assert_eq!(ready.get_timeout(BOUND)?, 1);
        q.close();
        for _ in 0..1000 {
            assert!(matches!(q.try_get(), Err(GetError::Empty)), "{m:?}");
        }
        p.kill()?;
        assert!(p.join_timeout(BOUND)?);
        let give_up = std::time::Instant::now() + BOUND;
        loop {
            match q.try_get() {
                Err(GetError::Closed) => break,
                Err(GetError::Empty) if std::time::Instant::now() < give_up => {
                    std::thread::yield_now();
                }
                r => panic!("{m:?}: the poller never saw Closed: {r:?}"),
            }
        }
    }
    Ok(())
}

/// An item whose second encoding (the in-place write into the ring, under the put
/// lock) writes its string, then reports on `ready` and hangs there.
struct Hang {
    s: String,
    calls: std::sync::atomic::AtomicUsize,
    ready: Option<Queue<u8>>,
}

impl Hang {
    fn plain(s: &str) -> Hang {
        Hang {
            s: s.into(),
            calls: Default::default(),
            ready: None,
        }
    }
}

struct Marker<'a>(&'a Hang);

impl serde::Serialize for Marker<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let call = self
            .0
            .calls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let (1, Some(ready)) = (call, &self.0.ready) {
            ready.put(1).unwrap();
            std::thread::sleep(BOUND);
        }
        s.serialize_u8(0)
    }
}

impl serde::Serialize for Hang {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serde::Serialize::serialize(&(&self.s, Marker(self)), s)
    }
}

impl<'de> serde::Deserialize<'de> for Hang {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (s, _): (String, u8) = serde::Deserialize::deserialize(d)?;
        Ok(Hang::plain(&s))
    }
}

fn put_and_hang(q: Queue<Hang>, ready: Queue<u8>) {
    q.put(Hang {
        s: "x".repeat(1000),
        calls: Default::default(),
        ready: Some(ready),
    })
    .unwrap();
}

/// A producer killed while its item is being encoded straight into the ring (holding
/// the put lock, part of the record written, nothing published): the next producer
/// takes the lock over, the partial record never existed.
#[test]
fn producer_killed_while_encoding_in_place_leaves_no_record() -> TestResult {
    for m in METHODS {
        let q: Queue<Hang> = Queue::with_capacity(0, 4096)?;
        let ready: Queue<u8> = Queue::new()?;
        let victim = Process::new(put_and_hang, (q.clone(), ready.clone()))
            .start_method(m)
            .start()?;
        assert_eq!(ready.get_timeout(BOUND)?, 1, "{m:?}");
        victim.kill()?;
        assert!(victim.join_timeout(BOUND)?);
        q.put_timeout(Hang::plain("after"), BOUND)?;
        assert_eq!(q.get_timeout(BOUND)?.s, "after", "{m:?}");
        assert!(matches!(q.try_get(), Err(GetError::Empty)), "{m:?}");
        assert_eq!(q.qsize(), 0);
    }
    Ok(())
}
