//! Kilobyte items through `map`: many small tasks whose results fill the ring, and
//! default chunks cut by size. No CPython original.

use super::{BOUND, METHODS, TestResult, pool};

fn shout(s: String) -> String {
    s.to_ascii_uppercase()
}

fn kib_strings(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{i:08}").repeat(128)).collect()
}

fn echo(s: String) -> String {
    s
}

/// 16 KiB tasks with 16 KiB results, cheap enough that the window is wide: the ring fills (results then go over the
/// socket) while the supervisor has more tasks to send. It once sent batch after
/// batch into a full socket while the worker was blocked sending a result back, and
/// both waited for ever; now the bytes a worker has not begun are bounded.
#[test]
fn small_tasks_with_results_larger_than_the_ring_holds_never_deadlock() -> TestResult {
    let items = kib_strings(20_000);
    for m in METHODS {
        let p = pool(m, 2)?;
        for _ in 0..2 {
            let got = p
                .map_async_chunked(echo, items.clone(), 16)
                .get_timeout(BOUND)?;
            assert!(got == items, "{m:?}: results differ");
        }
        p.close();
        assert!(p.join_timeout(BOUND)?, "{m:?}: workers exit");
    }
    Ok(())
}

/// The default chunking of kilobyte items (cut to about 1 MiB a chunk) gives the
/// results of any other chunking, and `starmap` too.
#[test]
fn default_chunks_of_large_items_give_the_same_results() -> TestResult {
    let items = kib_strings(5_000);
    let expect: Vec<String> = items.iter().cloned().map(shout).collect();
    for m in METHODS {
        let p = pool(m, 2)?;
        let got = p.map_async(shout, items.clone()).get_timeout(BOUND)?;
        assert!(got == expect, "{m:?}: map results differ");
        let pairs: Vec<(String, usize)> = items.iter().cloned().map(|s| (s, 3)).collect();
        let got = p
            .starmap_async(|s: String, n: usize| s.len() * n, pairs)
            .get_timeout(BOUND)?;
        assert_eq!(got, vec![3 << 10; items.len()], "{m:?}");
    }
    Ok(())
}
