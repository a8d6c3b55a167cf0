//! A Fork child that panics while another thread of the parent holds std's backtrace
//! lock (it captures or prints a backtrace, as a panicking thread does): std's panic
//! printing and `Backtrace::capture` take that lock, which stays locked for ever in the
//! child. The child must still report its panic and exit.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use multiproc_process::{Process, ProcessError, StartMethod};

use crate::BOUND;

fn panics() -> u8 {
    panic!("boom in a fork child")
}

#[test]
fn fork_child_panics_while_a_parent_thread_holds_the_backtrace_lock()
-> Result<(), Box<dyn std::error::Error>> {
    let stop = Arc::new(AtomicBool::new(false));
    let busy = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            // Takes and releases std's backtrace lock back to back.
            while !stop.load(Ordering::Relaxed) {
                let _ = std::hint::black_box(std::backtrace::Backtrace::force_capture());
            }
        })
    };
    let mut outcome = Ok(());
    for i in 0..20 {
        let p = Process::new(panics, ())
            .start_method(StartMethod::Fork)
            .start()?;
        if !p.join_timeout(BOUND)? {
            p.kill()?;
            p.join()?;
            outcome = Err(format!("fork child {i} hung in its panic").into());
            break;
        }
        match p.join_value() {
            Err(ProcessError::Panicked {
                message,
                exitcode: 1,
                ..
            }) => {
                assert_eq!(message, "boom in a fork child")
            }
            other => {
                outcome = Err(format!("child {i}: {other:?}").into());
                break;
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    let _ = busy.join();
    outcome
}
