//! The Fork start method: the fork driver and its invariant.
//!
//! # The fork invariant
//!
//! After `fork()` in a process that may have other threads, the child has one thread
//! and every lock some other thread held stays locked forever (CPython KI-05). What this
//! crate does about it:
//!
//! * Before forking, the forking thread takes the locks the child is known to need —
//!   Rust's `stdout` and `stderr` locks, multiproc's own state lock and its exit-hook
//!   registry lock — flushes the
//!   buffers, and releases them on both sides after the fork. So a child's `println!`
//!   and `current_process()` cannot deadlock on a lock held at fork time, and buffered
//!   output is never duplicated.
//! * One-time initialisations the child relies on (the executable-map cache, the panic
//!   hook) are forced in the parent before forking, so no `Once` is left half-run.
//! * Between `fork()` and the user's closure the child runs only: resetting that state
//!   (assignments, frees, closing an inherited parent pidfd; glibc's `fork` resets its
//!   allocator locks), `prctl`,
//!   `getppid`, and `_exit` on failure. No tracing event, no other lock.
//! * The child leaves with `_exit`: the parent's `atexit` handlers and destructors never
//!   run twice, and buffered C stdio output is never written twice. (The same holds for
//!   handlers the Fork child registers itself: C's exit list cannot tell them apart
//!   from its parent's. [`crate::at_exit`] hooks are the portable way.) Spawn and
//!   ForkServer children leave through `exit` ([`sys::exit_normally`]) and run their own.
//! * A panic in the child does not go through std's panic printing, which takes std's
//!   backtrace lock (another thread of the parent may have held it: it prints a panic
//!   or captures a backtrace): the crate's panic hook prints the message itself, with
//!   no backtrace (see `panic::ensure_panic_hook`).
//! * The user's closure itself must be fork-safe: it may not take a lock that another
//!   thread of the parent could have held (a C library's, a `static Mutex`'s). That is
//!   the documented contract of [`StartMethod::Fork`](crate::StartMethod::Fork), which
//!   is why it is not the default.
//!
//! The Spawn path (`std::process::Command` with a `pre_exec` hook) runs only
//! async-signal-safe calls between fork and exec: `fcntl`, `prctl`, `getppid`.

#![expect(
    unsafe_code,
    reason = "the fork itself: what the child may do after it is the driver's business"
)]

use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::sync::Arc;

use multiproc_ipc::Pipe;

use super::launch::{Launch, Started};
use crate::error::StartError;
use crate::global;
use crate::handle::Sentinel;
use crate::hooks;
use crate::info::ProcessInfo;
use crate::panic;
use crate::sys;

/// The child's own information travels into the fork as an `Arc` and comes back to the
/// parent for its `Core` (the child sets its pid in its copy): nothing allocated for
/// the child is freed in the parent after the fork, when every heap page written costs
/// a copy while the child shares it.
pub(crate) fn start(launch: Launch) -> Result<Started, StartError> {
    let Launch {
        work,
        info,
        parent,
        daemon,
        ignore_sigint,
        setup,
        ..
    } = launch;
    panic::ensure_panic_hook();
    warm_up_thread();
    let (mine, theirs) = Pipe::duplex()?;
    // The bare descriptor: the child's closure stays two words (moving a large one
    // into `catch_unwind` after the fork is a `memcpy` call, one more code page to
    // fault in), and a small result is sent without `Connection` code.
    let theirs: OwnedFd = theirs.into_fd();
    let parent_pid = parent.pid;
    type Infos = (Arc<ProcessInfo>, Arc<ProcessInfo>);
    let go = move || -> io::Result<(u32, Infos)> {
        // SIGINT is blocked on the forking thread across the fork when the child must
        // not run its parent's disposition: a Ctrl-C then stays pending in the child
        // until it has its own (it is ignored, or the default action).
        let mask = sys::SigintMask::block_if(ignore_sigint || sys::sigint_caught());
        let forked = fork_child(
            (info, parent),
            |g, (me, parent)| g.enter_child(me, parent),
            daemon.then_some(parent_pid),
            move || {
                sys::child_sigint(ignore_sigint);
                mask.restore();
                let code = work.run_forked(&theirs, &setup);
                // `_exit` closes it; dropping it here would only fault in more code.
                std::mem::forget(theirs);
                code
            },
        );
        mask.restore();
        forked
    };
    let (pid, (info, _parent)) = if daemon {
        global::on_launcher(go)??
    } else {
        go()?
    };
    let pidfd = sys::pidfd_of_new_child(pid)?;
    Ok(Started {
        info,
        result: mine,
        sentinel: Sentinel::Own { pid, pidfd },
    })
}

/// Does once per thread, in the parent, what every fork child of that thread would
/// otherwise do for the first time on its own: initialize the thread-local handle
/// table that `Connection::send` uses (which registers a thread-exit hook, and binds
/// libc's lazily resolved call for that). Done in the child, that work writes to pages
/// shared copy-on-write with the parent — about 30 page copies per start.
fn warm_up_thread() {
    thread_local! {
        static WARM: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }
    if !WARM.with(std::cell::Cell::get) {
        let _ = multiproc_ipc::encode(&());
        WARM.with(|w| w.set(true));
    }
}

/// Forks a child that runs `body` and exits with its return value. Returns the child's
/// pid in the parent. Holds the stdout, stderr and multiproc state locks across the fork
/// (see the module docs); `setup` runs in the child with the state lock still held.
///
/// `state` goes to `setup` in the child and is handed back in the parent, so that the
/// parent frees nothing of it right after the fork (a freed block is a write to a heap
/// page the child still shares: a page copy).
pub(crate) fn fork_child<S>(
    state: S,
    setup: impl FnOnce(&mut global::Global, S),
    daemon_of: Option<u32>,
    body: impl FnOnce() -> i32,
) -> io::Result<(u32, S)> {
    // One-time initialisations the child may need run here, in the parent, first: a
    // `Once` that another thread of the parent is in the middle of running at the
    // moment of the fork stays "running" forever in the child, which would then block
    // on it (seen: the executable-map cache, read when a pool worker resolves a task).
    crate::entry::in_text(0);
    panic::ensure_panic_hook();
    let mut out = io::stdout().lock();
    let _ = out.flush();
    let mut err = io::stderr().lock();
    let _ = err.flush();
    let mut g = global::lock();
    // The exit-hook registry too: a fork child registering or running hooks must not
    // find it held by another thread of the parent for ever.
    let hooks = hooks::lock_for_fork();
    // SAFETY: in the child, before `body`, only the work listed in the module docs runs:
    // `setup` resets the state (plain assignments, frees), then the guards are released
    // (atomic stores), then `prctl`/`getppid`; the locks the child needs are held by
    // this thread, so none is stuck.
    match unsafe { sys::fork_raw() }? {
        sys::Forked::Child => {
            panic::mark_fork_child();
            setup(&mut g, state);
            drop(hooks);
            drop(g);
            drop(err);
            drop(out);
            if let Some(parent) = daemon_of {
                sys::arm_death_signal(parent);
            }
            // Nothing may unwind out of here: the caller's frames above belong to
            // the parent's program, which must not go on running in the child.
            let code = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)) {
                Ok(code) => code,
                Err(payload) => {
                    std::mem::forget(payload);
                    1
                }
            };
            sys::exit_now(code)
        }
        sys::Forked::Parent(pid) => {
            drop(hooks);
            Ok((pid, state))
        }
    }
}
