//! Arbitrary bytes as the request frames of one manager client, decoded and dispatched
//! against a real in-process server (fresh per input, default limits but a 64 MiB memory
//! budget, well under libFuzzer's RSS limit): never a panic, a stack overflow, a hang or
//! an allocation past the server's memory budget. The seed
//! corpus (fuzz/corpus/manager_request) holds deeply nested keys and huge repeat counts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use multiproc_manager::fuzzing;
use multiproc_manager::{Limits, Registry, Server};

fuzz_target!(|data: &[u8]| {
    let mut limits = Limits::default();
    limits.memory_budget = 64 << 20;
    let server = Server::with_limits(Registry::new(), limits);
    fuzzing::feed(&server, data);
    server.shutdown();
});
