//! Panics in a child: the panic hook (which keeps a backtrace for the parent, and in a
//! fork child prints the panic itself, without std's backtrace lock) and the text of a
//! panic payload.

use std::io::Write;
use std::sync::Mutex;
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set while a child runs its target (one per process: only a child's bootstrap thread
/// runs a target). A plain static rather than a thread-local: a fork child touching a
/// thread-local goes through `LocalKey::with`, one more code page to fault in per start.
pub(crate) static IN_TARGET: AtomicBool = AtomicBool::new(false);

/// The backtrace text of the last panic in the target thread (one per process).
pub(crate) static BACKTRACE: Mutex<Option<String>> = Mutex::new(None);

/// Set in a child made by [`fork_child`](crate::start::fork::fork_child): a fork of a parent
/// that may have other threads.
static FORK_CHILD: AtomicBool = AtomicBool::new(false);

/// Marks this process as a fork child (see [`ensure_panic_hook`]).
#[inline(always)]
pub(crate) fn mark_fork_child() {
    FORK_CHILD.store(true, Ordering::Relaxed);
}

/// Wraps the panic hook once per process: inside a child's target, it keeps the
/// backtrace text when `RUST_BACKTRACE` asks for one; then it calls the previous hook.
/// The `Process <name>:` line (CPython's header before a child's traceback) is printed
/// by [`run_target`](crate::child::run_target) once the panic has reached it, so a panic that the target catches
/// itself prints only what Rust prints for any panic.
///
/// In a fork child the hook prints the panic itself, without a backtrace, and calls
/// neither the previous hook nor `Backtrace::capture`: both take std's process-wide
/// backtrace lock (std's default hook takes it for every panic, to keep concurrent
/// panic messages apart), and a thread of the parent that was printing a panic or
/// capturing a backtrace at the moment of the fork left it locked for ever in the
/// child, which then hung in its own panic.
pub(crate) fn ensure_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if FORK_CHILD.load(Ordering::Relaxed) {
                print_panic(info);
                return;
            }
            if IN_TARGET.load(Ordering::Relaxed) {
                let bt = std::backtrace::Backtrace::capture();
                if bt.status() == std::backtrace::BacktraceStatus::Captured {
                    // `try_lock`: a fork child may inherit this lock held by a thread
                    // of its parent; losing a backtrace beats a deadlock.
                    if let Ok(mut slot) = BACKTRACE.try_lock() {
                        *slot = Some(bt.to_string());
                    }
                }
            }
            prev(info);
        }));
    });
}

/// What std's default hook prints for a panic, without the backtrace and without its
/// lock. (The standard error lock is safe: the forking thread held it across the fork.)
fn print_panic(info: &std::panic::PanicHookInfo<'_>) {
    let thread = std::thread::current();
    let name = thread.name().unwrap_or("<unnamed>");
    let msg = panic_message(info.payload());
    let _ = match info.location() {
        Some(at) => writeln!(
            std::io::stderr(),
            "\nthread '{name}' panicked at {at}:\n{msg}"
        ),
        None => writeln!(std::io::stderr(), "\nthread '{name}' panicked:\n{msg}"),
    };
}

/// The text of a panic payload: the message of a `panic!` with a `&str` or `String`
/// payload (what `panic!("…")` makes), `"Box<dyn Any>"` for any other payload — the
/// text a child reports in [`ProcessError::Panicked`](crate::ProcessError::Panicked)
/// and a pool task in its panic error.
///
/// ```
/// let payload = std::panic::catch_unwind(|| panic!("boom {}", 42)).unwrap_err();
/// assert_eq!(multiproc_process::panic_message(&*payload), "boom 42");
/// let payload = std::panic::catch_unwind(|| std::panic::panic_any(7u8)).unwrap_err();
/// assert_eq!(multiproc_process::panic_message(&*payload), "Box<dyn Any>");
/// ```
pub fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "Box<dyn Any>".to_string()
    }
}
