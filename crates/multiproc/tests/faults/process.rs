//! A child that dies or exits without its result, and misuse of process handles.

use std::sync::Arc;
use std::time::Duration;

use multiproc::process::{ProcessError, StartError, WaitError};
use multiproc::{Pipe, Process, StartMethod};
use serde::{Deserialize, Serialize, Serializer};

use crate::{BOUND, METHODS, R, WRITE_CALLS, blocked_in, reaped, within};

fn exits_seven() -> u64 {
    std::process::exit(7)
}

fn aborts() -> u64 {
    std::process::abort()
}

#[allow(unconditional_recursion)]
fn overflow(depth: u64) -> u64 {
    let pad = std::hint::black_box([depth; 64]);
    overflow(depth + 1) + pad[3]
}

fn stack_overflow() -> u64 {
    overflow(0)
}

fn panics_with_u32() -> u64 {
    std::panic::panic_any(42u32)
}

struct PanicOnDrop;

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        panic!("second panic, while unwinding");
    }
}

fn panics_while_panicking() -> u64 {
    let _guard = PanicOnDrop;
    panic!("first panic");
}

fn huge_panic_message(n: usize) -> u64 {
    // Not 8 MiB of it on the test's stderr.
    std::panic::set_hook(Box::new(|_| {}));
    panic!("{}", "x".repeat(n))
}

/// A payload whose own `Drop` panics: the bootstrap must not drop it.
struct DropPanics;

impl Drop for DropPanics {
    fn drop(&mut self) {
        panic!("payload dropped");
    }
}

fn panics_with_a_payload_that_panics_on_drop() -> u64 {
    std::panic::panic_any(DropPanics)
}

/// A child that exits without handing back a value gets a typed error and the
/// exit code CPython would show.
#[test]
fn exit_without_a_result() -> R {
    for m in METHODS {
        let p = Process::new(exits_seven, ()).start_method(m).start()?;
        let pid = p.pid();
        let e = p.join_value().expect_err("exit(7) returns nothing");
        assert!(matches!(e, ProcessError::Exited(7)), "{m}: {e:?}");
        assert!(reaped(pid), "{m}");

        let p = Process::new(aborts, ()).start_method(m).start()?;
        p.join()?;
        assert_eq!(p.exitcode(), Some(-6), "{m}");
        assert!(
            matches!(p.join_value(), Err(ProcessError::Killed(6))),
            "{m}"
        );

        let p = Process::new(stack_overflow, ()).start_method(m).start()?;
        p.join()?;
        let code = p.exitcode();
        // std's overflow handler aborts (SIGABRT) where it is installed; a spawned
        // child runs its target before `main`, without it: a plain SIGSEGV.
        assert!(matches!(code, Some(-6) | Some(-11)), "{m}: {code:?}");
        assert!(
            matches!(p.join_value(), Err(ProcessError::Killed(6 | 11))),
            "{m}"
        );

        let p = Process::new(panics_with_u32, ()).start_method(m).start()?;
        match p.join_value() {
            Err(ProcessError::Panicked {
                exitcode: 1,
                message,
                ..
            }) => {
                assert!(!message.is_empty(), "{m}")
            }
            other => panic!("{m}: {other:?}"),
        }

        // A panic during unwinding aborts the process (Rust's rule): SIGABRT.
        let p = Process::new(panics_while_panicking, ())
            .start_method(m)
            .start()?;
        p.join()?;
        assert_eq!(p.exitcode(), Some(-6), "{m}");
        assert!(
            matches!(p.join_value(), Err(ProcessError::Killed(6))),
            "{m}"
        );

        let p = Process::new(panics_with_a_payload_that_panics_on_drop, ())
            .start_method(m)
            .start()?;
        match p.join_value() {
            Err(ProcessError::Panicked { exitcode: 1, .. }) => {}
            other => panic!("{m}: {other:?}"),
        }

        // 8 MiB of panic message: more than a socket buffer, read while waiting.
        let n = 8 << 20;
        let p = Process::new(huge_panic_message, (n,))
            .start_method(m)
            .start()?;
        match p.join_value() {
            Err(ProcessError::Panicked {
                exitcode: 1,
                message,
                ..
            }) => {
                assert_eq!(message.len(), n, "{m}")
            }
            other => panic!("{m}: {other:?}"),
        }
    }
    Ok(())
}

/// A value whose `Serialize` fails.
#[derive(Debug, Deserialize)]
pub(crate) struct Unserializable;

impl Serialize for Unserializable {
    fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom(
            "this value refuses to be serialized",
        ))
    }
}

fn returns_unserializable() -> Unserializable {
    Unserializable
}

/// A return value that cannot be encoded: a typed error naming why, exit code 1.
#[test]
fn result_that_cannot_be_encoded() -> R {
    for m in METHODS {
        let p = Process::new(returns_unserializable, ())
            .start_method(m)
            .start()?;
        p.join()?;
        assert_eq!(p.exitcode(), Some(1), "{m}");
        match p.join_value() {
            // postcard drops a custom error's text; the chain says what failed.
            Err(ProcessError::Bootstrap(why)) => {
                assert!(why.contains("could not be encoded: postcard"), "{m}: {why}")
            }
            other => panic!("{m}: {other:?}"),
        }
    }
    Ok(())
}

/// Arguments that cannot be encoded: a typed error from `start` (for the methods
/// that encode them; a fork child takes them as they are).
#[test]
fn arguments_that_cannot_be_encoded() -> R {
    fn takes(_: Unserializable) {}
    for m in [StartMethod::Spawn, StartMethod::ForkServer] {
        let e = Process::new(takes, (Unserializable,))
            .start_method(m)
            .start();
        assert!(matches!(e, Err(StartError::Encode(_))), "{m}: {e:?}");
    }
    Ok(())
}

/// A `String` encodes with one copy (a `Vec<u8>` goes byte by byte: slow unoptimised).
fn big_result(n: usize) -> String {
    "7".repeat(n)
}

/// A child SIGKILLed while it writes a large result (partly written): `join_value`
/// says it was killed; nothing hangs and nothing half-read is decoded.
#[test]
fn killed_while_sending_a_large_result() -> R {
    for m in METHODS {
        let p = Process::new(big_result, (64 << 20,))
            .start_method(m)
            .start()?;
        let pid = p.pid();
        // The parent reads the result only while it waits, so the child fills the
        // socket buffer and blocks in the send.
        let mid = blocked_in(pid, &WRITE_CALLS);
        p.kill()?;
        let r = within(BOUND, "join_value after a kill mid-result", move || {
            p.join_value()
        })?;
        assert!(
            matches!(r, Err(ProcessError::Killed(9))),
            "{m} (blocked: {mid}): {r:?}"
        );
        assert!(reaped(pid), "{m}");
    }
    Ok(())
}

/// A result frame over the frame limit (256 MiB): a typed error (the child's send
/// refuses it), never a hang. Fork only: each case encodes 256 MiB.
#[test]
fn result_over_the_frame_limit() -> R {
    let p = Process::new(big_result, ((256 << 20) + 1,))
        .start_method(StartMethod::Fork)
        .start()?;
    let pid = p.pid();
    let r = within(BOUND, "join_value of an oversized result", move || {
        p.join_value()
    })?;
    assert!(
        matches!(r, Err(ProcessError::ResultTooLarge { .. })),
        "{r:?}"
    );
    assert!(reaped(pid));
    Ok(())
}

fn sleeps() {
    std::thread::sleep(BOUND);
}

/// What a non-parent sees of a sibling's handle, inherited through a fork.
fn misuse_from_a_sibling<T>(p: Arc<Process<T>>) -> (String, String, bool, Option<i32>) {
    let join = format!("{:?}", p.join());
    let timed = format!("{:?}", p.join_timeout(Duration::from_millis(10)));
    (join, timed, p.is_alive(), p.exitcode())
}

/// CPython asserts "can only join a child process" / "can only test a child process";
/// ours: a typed `WaitError::NotParent` from join, and `is_alive` answers from the
/// pidfd rather than claiming "alive" for ever. A non-parent must not read the
/// child's exit status or result either (they are the parent's).
#[test]
fn join_from_a_process_that_is_not_the_parent() -> R {
    for m in METHODS {
        let sleeper = Arc::new(Process::new(sleeps, ()).start_method(m).start()?);
        let s = sleeper.clone();
        let q = Process::from_closure(move || misuse_from_a_sibling(s))
            .start_method(StartMethod::Fork)
            .start()?;
        let (join, timed, alive, code) = q.join_value()?;
        assert!(join.contains("NotParent"), "{m}: {join}");
        assert!(timed.contains("NotParent"), "{m}: {timed}");
        assert!(alive, "{m}: the sleeper runs");
        assert_eq!(code, None, "{m}");
        sleeper.terminate()?;
        sleeper.join()?;
        assert_eq!(sleeper.exitcode(), Some(-15), "{m}");
        let done = Arc::new(Process::new(exits_seven, ()).start_method(m).start()?);
        done.join()?;
        let d = done.clone();
        let q = Process::from_closure(move || misuse_from_a_sibling(d))
            .start_method(StartMethod::Fork)
            .start()?;
        let (join, _, alive, _) = q.join_value()?;
        assert!(join.contains("NotParent"), "{m}: {join}");
        assert!(!alive, "{m}: a reaped sibling is not alive");
        // The parent's own view is intact: the sibling did not steal the status.
        assert_eq!(done.exitcode(), Some(7), "{m}");
    }
    Ok(())
}

/// Kill, terminate, join, is_alive and close after the child was reaped: no error,
/// no signal to a recycled pid; join twice is fine.
#[test]
fn handle_use_after_the_child_is_reaped() -> R {
    for m in METHODS {
        let p = Process::new(exits_seven, ()).start_method(m).start()?;
        p.join()?;
        p.join()?;
        assert!(p.join_timeout(Duration::ZERO)?);
        p.kill()?;
        p.terminate()?;
        assert!(!p.is_alive());
        assert_eq!(p.exitcode(), Some(7));
        p.close().map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Join a running child from several threads at once, and `join_timeout(0)`.
#[test]
fn concurrent_joins() -> R {
    for m in METHODS {
        let (a, b) = Pipe::duplex()?;
        fn wait_then(c: multiproc::Connection) -> u8 {
            c.recv::<u8>().unwrap_or(0)
        }
        let p = Arc::new(Process::new(wait_then, (b,)).start_method(m).start()?);
        assert!(!p.join_timeout(Duration::ZERO)?);
        let joins: Vec<_> = (0..4)
            .map(|_| {
                let p = p.clone();
                std::thread::spawn(move || p.join_timeout(BOUND))
            })
            .collect();
        a.send(&9u8)?;
        for j in joins {
            assert!(matches!(j.join(), Ok(Ok(true))), "{m}");
        }
        let p = Arc::try_unwrap(p).map_err(|_| "still shared")?;
        assert_eq!(p.join_value()?, 9);
    }
    Ok(())
}

/// Waiting on a handle from another thread while the process is killed.
#[test]
fn kill_while_another_thread_joins() -> R {
    let _: Option<WaitError> = None;
    for m in METHODS {
        let p = Arc::new(Process::new(sleeps, ()).start_method(m).start()?);
        let j = {
            let p = p.clone();
            std::thread::spawn(move || p.join_timeout(BOUND))
        };
        p.kill()?;
        assert!(matches!(j.join(), Ok(Ok(true))), "{m}");
        assert_eq!(p.exitcode(), Some(-9), "{m}");
    }
    Ok(())
}

fn many_handles(n: usize) -> Vec<multiproc::Connection> {
    (0..n)
        .filter_map(|_| Pipe::duplex().ok().map(|(a, _)| a))
        .collect()
}

fn takes_handles(v: Vec<multiproc::Connection>) -> usize {
    v.len()
}

/// More descriptors than one frame carries (253, `MAX_HANDLES`), as a result and as
/// arguments: typed errors naming the limit.
#[test]
fn too_many_handles() -> R {
    for m in METHODS {
        let p = Process::new(many_handles, (300,)).start_method(m).start()?;
        match p.join_value() {
            Err(ProcessError::Bootstrap(why)) => assert!(why.contains("handles"), "{m}: {why}"),
            other => panic!("{m}: {:?}", other.map(|v| v.len())),
        }
        let p = Process::new(many_handles, (200,)).start_method(m).start()?;
        assert_eq!(p.join_value()?.len(), 200, "{m}");
    }
    for m in [StartMethod::Spawn, StartMethod::ForkServer] {
        let e = Process::new(takes_handles, (many_handles(300),))
            .start_method(m)
            .start();
        assert!(matches!(e, Err(StartError::Encode(_))), "{m}: {e:?}");
    }
    Ok(())
}
