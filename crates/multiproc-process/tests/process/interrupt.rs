//! Ctrl-C: `Process::interrupt` (CPython 3.14), `ignore_sigint`, and
//! `catch_interrupts` (each handler scenario runs in a Spawn sandbox, so the handler
//! never touches the test process).

use std::time::Duration;

use multiproc_ipc::{Connection, Pipe};
use multiproc_process::{
    Process, ProcessError, StartMethod, catch_interrupts, default_sigint, interrupted,
    raise_interrupt,
};

use crate::{BOUND, METHODS, TestResult, sleep_long, wait_for_go};

#[test]
fn interrupt_gives_minus_two_named_sigint() -> TestResult {
    // test_interrupt (CPython 3.14)
    // A test run started with SIGINT ignored (`cargo test &` in a script) would pass
    // that on to the children.
    default_sigint();
    for m in METHODS {
        let p = Process::new(sleep_long, ()).start_method(m).start()?;
        p.interrupt()?;
        assert!(p.join_timeout(BOUND)?, "{m}: still running");
        assert_eq!(p.exitcode(), Some(-2), "{m}");
        assert!(
            p.to_string().contains("stopped exitcode=-SIGINT"),
            "{m}: {p}"
        );
        // Signalling a finished process is a no-op.
        p.interrupt()?;
        let e = p.join_value().expect_err("it was interrupted");
        assert!(matches!(e, ProcessError::Killed(2)), "{m}: {e:?}");
        assert_eq!(e.to_string(), "process was killed by SIGINT", "{m}");
    }
    Ok(())
}

#[test]
fn killed_errors_name_the_signal() {
    assert_eq!(
        ProcessError::Killed(9).to_string(),
        "process was killed by SIGKILL"
    );
    assert_eq!(
        ProcessError::Killed(11).to_string(),
        "process was killed by SIGSEGV"
    );
    assert_eq!(
        ProcessError::Killed(40).to_string(),
        "process was killed by signal 40"
    );
}

#[test]
fn ignore_sigint_child_survives_interrupt() -> TestResult {
    for m in METHODS {
        let (go, theirs) = Pipe::duplex()?;
        let p = Process::new(wait_for_go, (theirs,))
            .start_method(m)
            .ignore_sigint(true)
            .start()?;
        p.interrupt()?;
        p.interrupt()?;
        // The child reads the byte only after the kernel has delivered the pending
        // SIGINTs (at its next return to user mode): had they killed it, no value.
        go.send(&7u8)?;
        assert_eq!(p.join_value()?, 7, "{m}");
    }
    Ok(())
}

#[test]
fn default_child_dies_of_interrupt_before_reading() -> TestResult {
    // The counterpart: without the option the same child dies of it.
    default_sigint();
    for m in METHODS {
        let (go, theirs) = Pipe::duplex()?;
        let p = Process::new(wait_for_go, (theirs,))
            .start_method(m)
            .start()?;
        p.interrupt()?;
        let _ = go.send(&7u8);
        assert!(
            matches!(p.join_value(), Err(ProcessError::Killed(2))),
            "{m}"
        );
    }
    Ok(())
}

/// In a Spawn sandbox: catches Ctrl-C, raises it, checks the flag and the descriptor,
/// clears, raises again; then a Fork child of this process (which inherited the
/// handler in memory) and an ignoring child, both interrupted. Returns what it saw.
fn caught_scenario() -> Result<Vec<String>, String> {
    let ctrl_c = catch_interrupts().map_err(|e| e.to_string())?;
    let mut seen = Vec::new();
    seen.push(format!("before {}", interrupted()));
    raise_interrupt();
    let woke = ctrl_c.wait_timeout(BOUND).map_err(|e| e.to_string())?;
    seen.push(format!(
        "raised {woke} {} {}",
        interrupted(),
        ctrl_c.is_set()
    ));
    ctrl_c.clear();
    seen.push(format!("cleared {}", interrupted()));
    let nothing = ctrl_c
        .wait_timeout(Duration::ZERO)
        .map_err(|e| e.to_string())?;
    seen.push(format!("poll {nothing}"));
    raise_interrupt();
    let woke = ctrl_c.wait_timeout(BOUND).map_err(|e| e.to_string())?;
    seen.push(format!("again {woke}"));
    ctrl_c.clear();
    // Children do not inherit the handler.
    for m in [
        StartMethod::Fork,
        StartMethod::Spawn,
        StartMethod::ForkServer,
    ] {
        let (go, theirs) = Pipe::duplex().map_err(|e| e.to_string())?;
        let p = Process::new(wait_for_go, (theirs,))
            .start_method(m)
            .start()
            .map_err(|e| e.to_string())?;
        p.interrupt().map_err(|e| e.to_string())?;
        let _ = go.send(&1u8);
        let r = p.join_value();
        seen.push(format!("{m} {}", matches!(r, Err(ProcessError::Killed(2)))));
    }
    seen.push(format!("parent {}", interrupted()));
    Ok(seen)
}

#[test]
fn catch_interrupts_sets_flag_and_wakes() -> TestResult {
    let p = Process::new(caught_scenario, ())
        .start_method(StartMethod::Spawn)
        .start()?;
    if !p.join_timeout(BOUND)? {
        p.kill()?;
        return Err("the sandbox hung".into());
    }
    let seen = p.join_value()??;
    assert_eq!(
        seen,
        [
            "before false",
            "raised true true true",
            "cleared false",
            "poll false",
            "again true",
            "fork true",
            "spawn true",
            "forkserver true",
            "parent false",
        ]
    );
    Ok(())
}

/// Catches Ctrl-C, then gets two without clearing: the second ends it.
fn second_interrupt_ends(go: Connection) -> bool {
    let ctrl_c = catch_interrupts().expect("handler installed");
    raise_interrupt();
    let first = ctrl_c.wait_timeout(BOUND).unwrap_or(false);
    let _ = go.send(&first);
    raise_interrupt();
    // Not reached: the second SIGINT has the default action.
    true
}

#[test]
fn second_interrupt_kills_a_catching_process() -> TestResult {
    let (mine, theirs) = Pipe::duplex()?;
    let p = Process::new(second_interrupt_ends, (theirs,))
        .start_method(StartMethod::Spawn)
        .start()?;
    assert!(mine.recv::<bool>()?, "the first SIGINT was caught");
    assert!(p.join_timeout(BOUND)?);
    assert_eq!(p.exitcode(), Some(-2));
    Ok(())
}
