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

/// What tests return.
pub type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Generous bound for every blocking call in tests.
pub const BOUND: std::time::Duration = std::time::Duration::from_secs(120);

/// Every start method.
pub const METHODS: [multiproc_process::StartMethod; 3] = [
    multiproc_process::StartMethod::Fork,
    multiproc_process::StartMethod::Spawn,
    multiproc_process::StartMethod::ForkServer,
];

/// The small item of the issue: a u64 and a short String.
pub type Small = (u64, String);

/// Item number `i`.
pub fn small(i: u64) -> Small {
    (i, format!("item-{i}"))
}
