//! Property tests: exactly-once delivery and FIFO per producer for any numbers of
//! producers and consumers (threads sharing the queue's memory) and item sizes,
//! including items larger than the ring.

use std::collections::HashSet;
use std::thread;

use multiproc_queue::Queue;
use proptest::prelude::*;

type Item = (u32, u32, Vec<u8>);

fn run(producers: u32, consumers: u32, per: u32, size: usize, ring: usize, maxsize: usize) {
    let q: Queue<Option<Item>> = Queue::with_capacity(maxsize, ring).unwrap();
    let cons: Vec<_> = (0..consumers)
        .map(|_| {
            let q = q.clone();
            thread::spawn(move || {
                let mut got = Vec::new();
                while let Some((p, i, data)) = q.get().unwrap() {
                    assert_eq!(data.len(), size + (i as usize % 3));
                    assert!(data.iter().all(|&b| b == (p as u8) ^ (i as u8)));
                    got.push((p, i));
                }
                got
            })
        })
        .collect();
    let prods: Vec<_> = (0..producers)
        .map(|p| {
            let q = q.clone();
            thread::spawn(move || {
                for i in 0..per {
                    let data = vec![(p as u8) ^ (i as u8); size + (i as usize % 3)];
                    q.put(Some((p, i, data))).unwrap();
                }
            })
        })
        .collect();
    for p in prods {
        p.join().unwrap();
    }
    for _ in 0..consumers {
        q.put(None).unwrap();
    }
    let mut seen = HashSet::new();
    for c in cons {
        let got = c.join().unwrap();
        let mut last = vec![None; producers as usize];
        for (p, i) in got {
            assert!(last[p as usize] < Some(i), "FIFO per producer broken");
            last[p as usize] = Some(i);
            assert!(seen.insert((p, i)), "({p},{i}) delivered twice");
        }
    }
    assert_eq!(seen.len() as u32, producers * per);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn exactly_once_any_counts_and_sizes(
        producers in 1u32..5,
        consumers in 1u32..4,
        per in 0u32..200,
        size in prop_oneof![0usize..64, 64usize..5000, 5000usize..40_000],
        ring in prop_oneof![Just(4096usize), Just(16 * 1024), Just(1 << 20)],
        maxsize in prop_oneof![Just(0usize), 1usize..8],
    ) {
        run(producers, consumers, per, size, ring, maxsize);
    }
}
