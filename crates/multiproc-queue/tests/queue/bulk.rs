//! Items larger than the ring that fit its bulk area (#15): whole and in order across
//! processes under every start method; a SIGKILLed producer or consumer loses at most
//! its own item in flight and blocks nobody; no descriptor or `/dev/shm` entry per item.

use multiproc_process::Process;
use multiproc_queue::{GetError, Queue};

use crate::{BOUND, METHODS, TestResult};

/// A 16 KiB ring has a 64 KiB bulk area: 20 KiB items travel through the area.
const RING: usize = 16 << 10;
const ITEM: usize = 20 << 10;

/// Item `k`: its number (ten digits) at both ends, filled with a letter that differs
/// between any two items a queue can hold at once. A `String`: encoded and decoded in
/// one piece, so cheap in a debug build on a busy machine.
fn item(k: u32) -> String {
    let mut v = vec![b'a' + (k % 26) as u8; ITEM];
    let n = format!("{k:010}");
    v[..10].copy_from_slice(n.as_bytes());
    v[ITEM - 10..].copy_from_slice(n.as_bytes());
    String::from_utf8(v).unwrap()
}

/// The number of an item, after checking that it is whole.
fn number(v: &str) -> u32 {
    let k: u32 = v.get(..10).and_then(|d| d.parse().ok()).unwrap();
    assert!(v == item(k), "item {k} damaged (len {})", v.len());
    k
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, Iterator::count)
}

/// Entries of `/dev/shm` with a name of ours (segments are memfds: none may appear).
fn ours_in_dev_shm() -> Vec<String> {
    std::fs::read_dir("/dev/shm")
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.contains("multiproc") || n.contains("queue"))
                .collect()
        })
        .unwrap_or_default()
}

/// Puts items `0..n`; returns this process's open descriptors before and after.
fn put_n(q: Queue<String>, n: u32) -> (usize, usize) {
    let before = open_fds();
    for k in 0..n {
        q.put(item(k)).unwrap();
    }
    (before, open_fds())
}

/// Gets `n` items, checking each is whole and in order; returns this process's open
/// descriptors before and after.
fn get_n(q: Queue<String>, n: u32) -> (usize, usize) {
    q.close();
    let before = open_fds();
    for k in 0..n {
        assert_eq!(number(&q.get_timeout(BOUND).unwrap()), k);
    }
    (before, open_fds())
}

/// 10 000 bulk items from one child to another: each arrives whole and in order, and
/// neither side opens a descriptor for them; nothing appears in `/dev/shm`.
#[test]
fn ten_thousand_bulk_items_leave_no_descriptors_or_shm_entries() -> TestResult {
    let shm_before = ours_in_dev_shm();
    for m in METHODS {
        let q: Queue<String> = Queue::with_capacity(0, RING)?;
        let n = 10_000;
        let consumer = Process::new(get_n, (q.clone(), n))
            .start_method(m)
            .start()?;
        let producer = Process::new(put_n, (q.clone(), n))
            .start_method(m)
            .start()?;
        drop(q);
        let (pb, pa) = producer.join_value()?;
        assert_eq!(pa, pb, "{m:?}: the producer's descriptors changed");
        let (cb, ca) = consumer.join_value()?;
        assert_eq!(ca, cb, "{m:?}: the consumer's descriptors changed");
    }
    let appeared: Vec<_> = ours_in_dev_shm()
        .into_iter()
        .filter(|n| !shm_before.contains(n))
        .collect();
    assert!(
        appeared.is_empty(),
        "/dev/shm entries appeared: {appeared:?}"
    );
    Ok(())
}

fn put_forever(q: Queue<String>) {
    let mut k = 0;
    loop {
        q.put(item(k)).unwrap();
        k += 1;
    }
}

fn put_marked(q: Queue<String>) {
    for k in 0..3 {
        q.put(item(1_000_000 + k)).unwrap();
    }
}

/// A producer killed while putting bulk items (often mid-copy: the area holds three):
/// what it published arrives whole and in order, its unpublished item never, and the
/// next producer's items pass.
#[test]
fn producer_killed_putting_bulk_items_loses_only_its_unpublished_item() -> TestResult {
    for m in METHODS {
        let q: Queue<String> = Queue::with_capacity(0, RING)?;
        let victim = Process::new(put_forever, (q.clone(),))
            .start_method(m)
            .start()?;
        let mut next = 0;
        while next < 100 {
            assert_eq!(number(&q.get_timeout(BOUND)?), next, "{m:?}");
            next += 1;
        }
        victim.kill()?;
        assert!(victim.join_timeout(BOUND)?);
        let other = Process::new(put_marked, (q.clone(),))
            .start_method(m)
            .start()?;
        q.close();
        let mut marked = 1_000_000;
        loop {
            match q.get_timeout(BOUND) {
                Ok(v) => {
                    let k = number(&v);
                    if k >= 1_000_000 {
                        assert_eq!(k, marked, "{m:?}");
                        marked += 1;
                    } else {
                        assert_eq!(k, next, "{m:?}: gap or duplicate");
                        next += 1;
                    }
                }
                Err(GetError::Closed) => break,
                Err(e) => return Err(e.into()),
            }
        }
        assert_eq!(marked, 1_000_003, "{m:?}: the next producer's items");
        assert!(other.join_timeout(BOUND)?);
        assert_eq!(other.exitcode(), Some(0), "{m:?}");
    }
    Ok(())
}

fn get_and_report(q: Queue<String>, report: Queue<u32>) {
    loop {
        let k = number(&q.get().unwrap());
        report.put(k).unwrap();
    }
}

/// A consumer killed while getting bulk items (often mid-decode): the others get every
/// other item whole, at most the dead one's is lost, none twice.
#[test]
fn consumer_killed_getting_bulk_items_others_get_intact_items() -> TestResult {
    for m in METHODS {
        let q: Queue<String> = Queue::with_capacity(0, RING)?;
        let report: Queue<u32> = Queue::new()?;
        let victim = Process::new(get_and_report, (q.clone(), report.clone()))
            .start_method(m)
            .start()?;
        let n = 200;
        let producer = {
            let q = q.clone();
            std::thread::spawn(move || {
                for k in 0..n {
                    q.put(item(k)).unwrap();
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
                Ok(v) => mine.push(number(&v)),
                Err(GetError::Closed) => break,
                Err(e) => return Err(e.into()),
            }
        }
        producer.join().unwrap();
        let mut all: Vec<u32> = got.iter().chain(&mine).copied().collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), got.len() + mine.len(), "{m:?}: duplicates");
        assert!(
            all.len() as u32 >= n - 1,
            "{m:?}: lost more than one: {} of {n}",
            all.len()
        );
    }
    Ok(())
}
