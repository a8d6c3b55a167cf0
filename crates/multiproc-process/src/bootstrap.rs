//! The child bootstrap: runs before `main` from an ELF constructor.
//!
//! A Spawn child and the fork server are re-execs of `/proc/self/exe` with one of two
//! environment variables set. The constructor below (an `.init_array` entry, which
//! glibc runs after the C runtime and Rust's own argument set-up, before `main`) looks
//! for them, removes them from the environment at once, and if present runs the child
//! job (then `exit`s, running the C exit handlers the child registered) or the server
//! loop (then `_exit`s): the program's `main` — libtest's, criterion's,
//! the user's — never runs in such a process. So a binary, an example, an integration
//! test or a bench needs no set-up line.
//!
//! [`init`](crate::init) is the documented fallback for linkers that drop the
//! constructor; it does the same and is harmless if the constructor already ran.

#![expect(
    unsafe_code,
    reason = "an `.init_array` constructor, and the environment edited before `main`"
)]

use std::ffi::OsString;
use std::time::Duration;

use multiproc_ipc::{Connection, Transport};

use crate::child;
use crate::start::forkserver::server;
use crate::sys;
use crate::wire::{BOOTSTRAP_ENV, FORKSERVER_ENV, Job, parse_fields};

/// The constructor. `start()` takes its address so the linker keeps the object file
/// that holds it.
#[used]
#[unsafe(link_section = ".init_array")]
pub(crate) static CTOR: extern "C" fn() = ctor;

extern "C" fn ctor() {
    // SAFETY: constructors run before `main`, while the process has a single thread,
    // so nothing reads the environment concurrently with the removal.
    unsafe { take_over(true) }
}

/// Runs the bootstrap if this process is a multiproc child; returns otherwise.
///
/// # Safety
/// With `remove` set, no other thread may read or write the environment during the call.
pub(crate) unsafe fn take_over(remove: bool) {
    let job = std::env::var_os(BOOTSTRAP_ENV);
    let server = std::env::var_os(FORKSERVER_ENV);
    if job.is_none() && server.is_none() {
        return;
    }
    if remove {
        // SAFETY: upheld by the caller (single-threaded).
        unsafe {
            std::env::remove_var(BOOTSTRAP_ENV);
            std::env::remove_var(FORKSERVER_ENV);
        }
    }
    let code = match (job, server) {
        (Some(v), _) => run_spawned(&v),
        (None, Some(v)) => server::serve(&v),
        (None, None) => return,
    };
    sys::exit_now(code)
}

fn run_spawned(v: &OsString) -> i32 {
    let Some(f) = parse_fields(v).filter(|f| f.len() == 3) else {
        return 70;
    };
    let (fd, parent, daemon) = (f[0] as i32, f[1] as u32, f[2] != 0);
    if daemon {
        sys::arm_death_signal(parent);
    } else {
        if sys::getppid() != parent {
            // The parent died before we got here: nobody is waiting for this job.
            return 70;
        }
    }
    sys::ignore_sigpipe();
    let Ok(fd) = sys::adopt_fd(fd) else {
        return 70;
    };
    let conn = Connection::from_fd_with(fd, Transport::Unix, true, true);
    let job: Job = match conn.recv_timeout(Duration::from_secs(60)) {
        Ok(job) => job,
        Err(e) => return child::fail(&conn, format!("could not receive the job: {e}")),
    };
    // A normal end: the C exit handlers this fresh process registered run (CPython
    // runs a spawned child's exit handlers, gh-83856).
    sys::exit_normally(child::run_job(Box::new(job), Some(conn)))
}

/// Whether this process was started as a child but the bootstrap did not take over.
///
/// Looked up once per process (a scan of the environment under its lock on every
/// start otherwise): the variables are removed by the bootstrap, and set by nobody
/// else while the process runs.
pub(crate) fn bootstrap_pending() -> bool {
    static PENDING: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *PENDING.get_or_init(|| {
        std::env::var_os(BOOTSTRAP_ENV).is_some() || std::env::var_os(FORKSERVER_ENV).is_some()
    })
}

/// [`crate::init`]: the bootstrap for when the constructor did not run.
pub(crate) fn init_fallback() {
    let single_threaded = std::fs::read_dir("/proc/self/task")
        .map(|d| d.count() == 1)
        .unwrap_or(false);
    // SAFETY: the environment is only modified (`remove`) when this process has a
    // single thread, so nothing can read it concurrently.
    unsafe { take_over(single_threaded) }
}
