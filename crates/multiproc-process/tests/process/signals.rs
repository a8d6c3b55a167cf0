//! Signals with handlers (SIGINT, SIGTERM, no `SA_RESTART`) delivered to a parent
//! while it waits: in `join`, `join_timeout`, `join_value` of a large result and a
//! `Connection` receive. Every wait must retry `EINTR` and return what it would have
//! returned without the signals. Runs in a Spawn sandbox so the handlers never touch
//! the test process.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use multiproc_ipc::{Connection, Pipe};
use multiproc_process::{Process, StartMethod};

use crate::{BOUND, METHODS};

static HANDLED: AtomicU32 = AtomicU32::new(0);

extern "C" fn count(_: libc::c_int) {
    HANDLED.fetch_add(1, Ordering::Relaxed);
}

/// Waits for a byte, then returns a result larger than a socket buffer.
fn wait_then_big(go: Connection) -> String {
    let n: u32 = go.recv().unwrap_or(0);
    "s".repeat(n as usize)
}

/// Sends SIGINT and SIGTERM alternately to `thread` `times` times, then `go` the value.
fn pester(thread: libc::pthread_t, times: u32, go: Connection, value: u32) {
    for i in 0..times {
        let sig = if i % 2 == 0 {
            libc::SIGINT
        } else {
            libc::SIGTERM
        };
        // SAFETY: `thread` is the sandbox's main thread, alive for the whole
        // scenario (it joins this thread before returning).
        unsafe {
            libc::pthread_kill(thread, sig);
        }
        // Spread the signals over the wait; nothing depends on the timing.
        std::thread::sleep(Duration::from_micros(500));
    }
    let _ = go.send(&value);
}

type Outcome = Vec<(StartMethod, String)>;

fn eintr_everywhere() -> Result<Outcome, String> {
    // SAFETY: `count` only increments an atomic (async-signal-safe); the struct is
    // zeroed then given the handler; no SA_RESTART, so blocking calls see EINTR.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = count as *const () as usize;
        for sig in [libc::SIGINT, libc::SIGTERM] {
            if libc::sigaction(sig, &sa, std::ptr::null_mut()) != 0 {
                return Err("sigaction failed".into());
            }
        }
    }
    // SAFETY: pthread_self has no preconditions.
    let me = unsafe { libc::pthread_self() };
    let mut out = Vec::new();
    for m in METHODS {
        // join_value of a 1 MiB result while signalled.
        let (go, theirs) = Pipe::duplex().map_err(|e| e.to_string())?;
        let p = Process::new(wait_then_big, (theirs,))
            .start_method(m)
            .start()
            .map_err(|e| e.to_string())?;
        let t = std::thread::spawn(move || pester(me, 200, go, 1 << 20));
        let v = p
            .join_value()
            .map_err(|e| format!("{m}: join_value: {e:?}"))?;
        let _ = t.join();
        if v.len() != 1 << 20 {
            return Err(format!("{m}: result of {} bytes", v.len()));
        }
        // join_timeout and join while signalled.
        let (go, theirs) = Pipe::duplex().map_err(|e| e.to_string())?;
        let p = Process::new(wait_then_big, (theirs,))
            .start_method(m)
            .start()
            .map_err(|e| e.to_string())?;
        let t = std::thread::spawn(move || pester(me, 200, go, 1));
        let done = p
            .join_timeout(BOUND)
            .map_err(|e| format!("{m}: join_timeout: {e:?}"))?;
        let _ = t.join();
        p.join().map_err(|e| format!("{m}: join: {e:?}"))?;
        // A Connection receive while signalled.
        let (a, b) = Pipe::duplex().map_err(|e| e.to_string())?;
        let t = std::thread::spawn(move || pester(me, 200, a, 77));
        let got = b.recv_timeout::<u32>(BOUND);
        let _ = t.join();
        out.push((m, format!("{done} {:?} {got:?}", p.exitcode())));
    }
    if HANDLED.load(Ordering::Relaxed) == 0 {
        return Err("no signal was handled".into());
    }
    Ok(out)
}

#[test]
fn waits_retry_eintr_from_sigint_and_sigterm() -> Result<(), Box<dyn std::error::Error>> {
    let p = Process::new(eintr_everywhere, ())
        .start_method(StartMethod::Spawn)
        .start()?;
    if !p.join_timeout(BOUND * 4)? {
        p.kill()?;
        p.join()?;
        return Err("the sandbox hung".into());
    }
    for (m, outcome) in p.join_value()?? {
        assert_eq!(outcome, "true Some(0) Ok(77)", "{m}");
    }
    Ok(())
}
