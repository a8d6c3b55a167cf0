//! Exit hooks of a child process: [`at_exit`].
//!
//! A registry of boxed closures, each tagged with the pid of the process that
//! registered it. A child runs, at its normal end, only the hooks it registered
//! itself, last registered first (CPython's `util.Finalize` entries are keyed by pid
//! in the same way: `_run_finalizers` in a fork child skips those of its parent).
//!
//! The registry lock is held across a `Fork` (see [`crate::start::fork::fork_child`]), so a
//! fork child inherits it unlocked. The child still never blocks on it: running the
//! hooks takes it with `try_lock` (a few attempts, yielding in between, in case one of
//! the child's own threads is registering a hook at that moment) and skips the hooks
//! if it stays held.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, TryLockError};

type Hook = Box<dyn FnOnce() + Send>;

/// The hooks of this process and, in a fork child, those inherited from its parent
/// (pid, hook), in registration order.
static HOOKS: Mutex<Vec<(u32, Hook)>> = Mutex::new(Vec::new());

/// Set once any hook was registered (by this process or, for a fork child, by an
/// ancestor): a child that finds it unset looks no further.
static ANY: AtomicBool = AtomicBool::new(false);

fn my_pid() -> u32 {
    crate::sys::getpid()
}

/// Registers `hook` to run when this process, a multiproc child, ends normally: its
/// target returned, or panicked and the panic was reported to the parent. Hooks run in
/// reverse order of registration, under every start method, after the outcome has been
/// sent to the parent and before daemonic children are terminated and the other
/// children joined (CPython's `util.Finalize` with an exit priority, run by
/// `_exit_function`). A parent's [`join`](crate::Process::join) returns after they ran.
///
/// They do not run when the child is killed by a signal, when it calls
/// `std::process::exit`, or in the main process (which leaves through `main`; use a
/// guard value there). Hooks are per process: hooks registered by a parent before a
/// `Fork` are inherited in the child's memory but do not run there. A panic in a hook
/// is caught (its message printed) and the next hook runs. The exit path never blocks
/// on the registry: should its lock stay held (by another thread of the child, for
/// more than a few scheduler yields), the remaining hooks are skipped. (A `Fork`
/// cannot leave it held: the forking thread holds it across `fork()`.)
///
/// ```
/// use multiproc_process::{Process, at_exit};
///
/// fn worker(path: String) {
///     at_exit(move || {
///         let _ = std::fs::write(&path, "goodbye");
///     });
/// }
///
/// let path = std::env::temp_dir().join(format!("multiproc-at-exit-doc-{}", std::process::id()));
/// let p = Process::new(worker, (path.to_string_lossy().into_owned(),)).start()?;
/// p.join()?;
/// assert_eq!(std::fs::read_to_string(&path)?, "goodbye");
/// std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn at_exit(hook: impl FnOnce() + Send + 'static) {
    let hook: Hook = Box::new(hook);
    let pid = my_pid();
    ANY.store(true, Ordering::Relaxed);
    lock().push((pid, hook));
}

/// The registry, poisoning ignored (a push or a pop leaves it consistent).
fn lock() -> MutexGuard<'static, Vec<(u32, Hook)>> {
    HOOKS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Held by [`crate::start::fork::fork_child`] across `fork()`.
pub(crate) fn lock_for_fork() -> MutexGuard<'static, Vec<(u32, Hook)>> {
    lock()
}

/// The registry without blocking: `None` if it stays held for a few attempts.
fn try_lock() -> Option<MutexGuard<'static, Vec<(u32, Hook)>>> {
    for _ in 0..100 {
        match HOOKS.try_lock() {
            Ok(g) => return Some(g),
            Err(TryLockError::Poisoned(p)) => return Some(p.into_inner()),
            Err(TryLockError::WouldBlock) => std::thread::yield_now(),
        }
    }
    None
}

/// Runs this process's hooks, last registered first. A hook may register more; they
/// run too. Inherited hooks of other processes are left in place, never dropped
/// (dropping them would run their captures' drop code in a process that does not own
/// them).
#[inline]
pub(crate) fn run() {
    let me = my_pid();
    loop {
        let hook = {
            let Some(mut hooks) = try_lock() else {
                return;
            };
            let Some(i) = hooks.iter().rposition(|(pid, _)| *pid == me) else {
                return;
            };
            hooks.remove(i).1
        };
        if let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(hook)) {
            // Dropping a panic payload can itself panic; leak it instead.
            std::mem::forget(payload);
            let _ = std::io::Write::write_all(
                &mut std::io::stderr(),
                b"multiproc: an exit hook panicked\n",
            );
        }
    }
}

/// Whether any hook was ever registered in this memory image (a fork child's includes
/// its ancestors').
#[inline(always)]
pub(crate) fn any() -> bool {
    ANY.load(Ordering::Relaxed)
}
