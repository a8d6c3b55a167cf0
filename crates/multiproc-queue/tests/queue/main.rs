//! Integration tests of multiproc-queue: semantics in one process (threads), across
//! processes under every start method, crash (SIGKILL) cases and property tests.

#![expect(clippy::unwrap_used, reason = "tests: a panic is a failure report")]
mod basic;
mod bulk;
mod crash;
mod noconsumer;
mod ports;
mod procs;
mod props;

pub use multiproc_test_support::{BOUND, METHODS, TestResult};

/// The small item of the issue: a u64 and a short String.
pub type Small = (u64, String);

/// Item number `i`.
pub fn small(i: u64) -> Small {
    (i, format!("item-{i}"))
}
