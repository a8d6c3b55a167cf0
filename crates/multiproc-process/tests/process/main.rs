//! Integration tests of `multiproc-process`: every behaviour under every start method.

use std::time::Duration;

use multiproc_process::{Process, ProcessError, StartMethod};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const METHODS: [StartMethod; 3] = [
    StartMethod::Fork,
    StartMethod::Spawn,
    StartMethod::ForkServer,
];

fn noop() {}

fn square(x: i64) -> i64 {
    x * x
}

#[test]
fn smoke_all_methods() -> TestResult {
    for m in METHODS {
        let p = Process::new(noop, ()).start_method(m).start()?;
        p.join()?;
        assert_eq!(p.exitcode(), Some(0), "{m}");
        let p = Process::new(square, (9,)).start_method(m).start()?;
        assert_eq!(p.join_value()?, 81, "{m}");
    }
    Ok(())
}
