//! Processes for multiproc: CPython's `multiprocessing.Process`, its three start methods
//! (fork, spawn, forkserver), contexts, and the child bootstrap.
//!
//! | item | what it is | CPython |
//! |---|---|---|
//! | [`Process::new`] / [`Process::from_closure`] → [`ProcessBuilder`] | a process before `start()` | `Process(target=f, args=…)` |
//! | [`Process`] | a started process: `join`, `join_timeout`, `is_alive`, `exitcode`, `terminate`, `kill`, `close`, `sentinel`, and the typed [`join_value`](Process::join_value) | `Process` |
//! | [`Target`] | what a fresh process can call: `fn` items / non-capturing closures of serde arguments | picklable `target` |
//! | [`StartMethod`], [`Context`], [`get_context`], [`set_start_method`], [`get_start_method`] | how children are made | `context.py` |
//! | [`current_process`], [`parent_process`] → [`ParentProcess`], [`active_children`], [`cpu_count`] | who is who | same names |
//! | [`ProcessInfo::authkey`], [`set_authkey`], [`ProcessBuilder::authkey`] | the process authentication key (32 random bytes, inherited; the manager's default key) | `current_process().authkey` |
//! | [`at_exit`] | a hook run when this child ends normally (reverse registration order) | `util.Finalize(…, exitpriority=…)` |
//! | [`set_child_startup`], [`clear_child_startup`] | a `fn()` every child runs before its target (install a `tracing` subscriber) | an `initializer` per `Process` |
//! | [`ProcessBuilder::env`], [`env_remove`](ProcessBuilder::env_remove), [`env_clear`](ProcessBuilder::env_clear), [`current_dir`](ProcessBuilder::current_dir) | the child's environment and working directory | `os.environ` / `os.chdir` before `start()` |
//! | [`log_to_stderr`] | life-cycle log lines through `tracing` | `log_to_stderr` |
//! | [`init`] | the one-line set-up fallback for exotic linkers (normally not needed) | `freeze_support` |
//! | [`StartError`], [`WaitError`], [`ProcessError`], [`CloseError`], [`ContextError`] | errors | exceptions |
//! | `aio::AsyncProcess` (`Process::into_async`), `aio::Exits`, `aio::wait` (feature `tokio`) | `join`/`join_value` as futures, a stream of exits, a wait on sentinels | `asyncio`'s `Process.wait()` |
//!
//! ```
//! use multiproc_process::{Process, StartMethod, current_process};
//!
//! fn greet(name: String) -> String {
//!     format!("hello {name} from {}", current_process().name())
//! }
//!
//! for method in [StartMethod::Fork, StartMethod::Spawn, StartMethod::ForkServer] {
//!     let p = Process::new(greet, ("bob".to_string(),))
//!         .start_method(method)
//!         .start()?;
//!     let name = p.name().to_string();
//!     assert_eq!(p.join_value()?, format!("hello bob from {name}"));
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # How a fresh process finds the function
//!
//! Spawn and ForkServer children are re-execs of `/proc/self/exe`. A `.init_array`
//! constructor in this crate runs before `main` in every process, sees the bootstrap
//! environment variable (which it removes at once), receives the job over an inherited
//! Unix socket, runs it and exits; `main` never runs in a child, so binaries,
//! examples, `cargo test` and `cargo bench` need no set-up line. The job names the
//! function as the distance from an anchor function of this crate to a monomorphized
//! trampoline — the same in every run of one executable — with a fingerprint checked
//! before the jump (see the `entry` module). Targets are zero-sized (`fn` items,
//! non-capturing closures), so the child can produce the value itself. Capturing
//! closures need [`StartMethod::Fork`].
//!
//! # Exit codes and results
//!
//! `exitcode()` is `None` while running, `0` on return, `1` on panic, `N` after
//! `std::process::exit(N)`, `-N` when killed by signal `N`. Each child has a Unix
//! socket back to its parent on which it sends `Ok(value)` or the panic message (and
//! backtrace text when `RUST_BACKTRACE` is set); the parent reads it while waiting.
//! A panic that ends the target is followed on the child's stderr by
//! `Process <name>: panicked, exiting with exit code 1` (CPython prints `Process <name>:`
//! above the traceback); a panic the target catches itself prints only Rust's message.
//!
//! # Daemons
//!
//! A daemon child gets `PR_SET_PDEATHSIG(SIGKILL)`, armed before the child runs
//! anything and followed by a `getppid` check that closes the start-up race. Because
//! the kernel sends that signal when the *thread* that created the child exits, every
//! daemon (and the fork server) is created by a thread that lives as long as the
//! process: the main thread when it is the caller, otherwise a dedicated launcher
//! thread (one hand-off there and back per start). A daemon may not start children ([`StartError::DaemonCannotHaveChildren`]).
//! At normal exit (`exit()`, return from `main`) an `atexit` handler terminates daemonic
//! children and joins the others, like CPython; a child does the same before it exits.
//!
//! # Ctrl-C
//!
//! A terminal's Ctrl-C sends SIGINT to the whole foreground process group. By default
//! every process of the program dies of it (a Rust program has no
//! `KeyboardInterrupt`), the fork server with its requester, daemons with their
//! parent: nothing is left behind, and a child's error says `killed by SIGINT`
//! (`exitcode()` `-2`). For a graceful shutdown, [`catch_interrupts`] turns SIGINT
//! into a flag and a readable descriptor in this process, and
//! [`ProcessBuilder::ignore_sigint`] makes a child ignore it so the parent decides
//! (a second Ctrl-C still ends the program). [`Process::interrupt`] sends SIGINT to
//! one child.
//!
//! # Async on tokio
//!
//! With the `tokio` feature (off by default), the module `aio` makes a process's waits
//! futures: `process.into_async()` gives an `AsyncProcess` whose `join().await` and
//! `join_value().await` return what the blocking forms return, without blocking a
//! thread (the pidfd, readable at exit, is watched through tokio's reactor). Dropping
//! a `join` future loses nothing: the exit status and the result stay in the handle.
//! `aio::Exits` streams the exits of many processes; `aio::wait` is CPython's
//! `connection.wait` on sentinels.
//!
//! **Fork inside a runtime.** A fork copies the memory of every thread but keeps only
//! the caller: forked from inside a multi-threaded tokio runtime, a child can hang on
//! state the runtime's worker threads held (tokio documents forking as unsupported).
//! With the feature, [`ProcessBuilder::start`] under [`StartMethod::Fork`] from inside a
//! multi-thread runtime is [`StartError::ForkInRuntime`], naming Spawn and ForkServer,
//! which work from async code (a current-thread runtime has no worker threads: Fork
//! works there). Without the feature nothing is checked: do not use Fork from async
//! code; start processes with Spawn or ForkServer (the default).
//!
//! # Platform support
//! Linux with glibc (≥ 5.4 kernel for pidfds and `waitid(P_PIDFD)`). Other platforms
//! are not supported yet.
//!
//! # Limitations
//! * When a parent is killed with SIGKILL, its daemon children die with it and its fork
//!   server exits; non-daemon children keep running, reparented to init (or a
//!   subreaper), which reaps them — as in CPython.
//! * If the fork server itself is killed, the exit codes of its running children are
//!   lost and reported as 255; the next start launches a new server.
//! * `Fork` from a process with other threads is only as safe as the closure: see the
//!   `fork` module for what is done (locks held across the fork) and what is not.
//! * A target built into a shared library rather than the executable cannot be spawned
//!   ([`StartError::NotSpawnable`]).
//! * When the target returns, the child exits without waiting for threads it spawned
//!   (as a Rust `main` does; CPython waits for non-daemonic threads).
//! * Standard output of a child is Rust's line-buffered `stdout`; a partial line printed
//!   right before `std::process::exit` in the child is lost, as in any Rust program.
//! * C exit handlers (`atexit(3)`, C++ static destructors) and C stdio buffers: a Spawn
//!   or ForkServer child that ends normally leaves through `exit(3)`, which runs the
//!   handlers registered in that process and flushes C stdio once, as a `main` that
//!   returns does (CPython gh-83856). A ForkServer child's list also holds what C
//!   libraries registered while the fork server started, the same registrations a
//!   Spawn child makes before `main`, each on the process's own copy of the library
//!   (the server flushes its stdio before forking, so nothing is written twice). A
//!   `Fork` child leaves through `_exit`: its C exit list and stdio buffers are its
//!   parent's, so none of them runs or is flushed there — not even a handler the
//!   child registered itself, since C's list cannot tell the two apart; use
//!   [`at_exit`], which runs under every start method, and flush C stdio yourself.
#![doc(test(attr(deny(warnings))))]
#![deny(unsafe_code)]

#[cfg(not(target_os = "linux"))]
compile_error!(
    "multiproc-process requires Linux (pidfds, waitid(P_PIDFD), PR_SET_PDEATHSIG, /proc/self/exe); \
     other platforms are not supported yet"
);

use std::sync::Arc;

// The modules in layers, from the OS up: a module imports only from its own layer and
// the layers listed before it (docs/ARCHITECTURE.md has a line on each file).

// The OS, and plain data.
mod error;
mod hooks;
mod info;
mod method;
mod panic;
#[cfg(feature = "tokio")]
mod runtime;
mod setup;
mod signal;
mod sys;
#[macro_use]
mod target;

// How a fresh process finds the function; what crosses the process boundary.
mod entry;
mod parent;
mod wire;

// The parent's handles on its children and fork server; process-wide state.
mod children;
mod global;
mod handle;
mod interrupt;
mod log;

// The child side.
mod child;
pub mod invoke;

// Starting a child: one module per start method; the bootstrap of a fresh process.
mod bootstrap;
mod start;

// The API: `Process`, `ProcessBuilder`, contexts.
#[cfg(feature = "tokio")]
pub mod aio;
mod context;
mod process;

pub use context::{
    Context, force_start_method, get_all_start_methods, get_context, get_start_method,
    set_start_method,
};
pub use error::{ContextError, ProcessError, StartError, WaitError};
pub use hooks::at_exit;
pub use info::ProcessInfo;
pub use interrupt::{Interrupts, catch_interrupts, default_sigint, interrupted, raise_interrupt};
pub use log::{CpythonFormat, LogError, log_to_stderr};
pub use method::{DEFAULT_START_METHOD, StartMethod};
pub use panic::panic_message;
pub use parent::ParentProcess;
pub use process::{CloseError, Process, ProcessBuilder, active_children};
pub use signal::{SignalName, signal_name};
pub use target::Target;
pub use tracing::Level;

/// Who the calling process is (CPython's `current_process()`): `MainProcess` in the
/// main process, the child's name, pid and daemon flag inside a child.
///
/// ```
/// use multiproc_process::{Process, current_process};
/// fn who() -> (String, u32) { let me = current_process(); (me.name().into(), me.pid()) }
/// let p = Process::new(who, ()).start()?;
/// let (name, pid) = (p.name().to_string(), p.pid());
/// assert_eq!(p.join_value()?, (name, pid));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn current_process() -> ProcessInfo {
    let mut g = global::lock();
    global::current_key(&mut g);
    (*g.current).clone()
}

/// Sets the current process's authentication key (CPython's
/// `current_process().authkey = b'…'`): children started from now on inherit it, and
/// a manager started from now on uses it by default. Any bytes; children already
/// running keep theirs.
///
/// ```
/// use multiproc_process::{Process, StartMethod, current_process, set_authkey};
///
/// fn key() -> Vec<u8> { current_process().authkey().to_vec() }
/// fn scenario() -> Vec<u8> {
///     set_authkey(b"shared secret");
///     Process::new(key, ()).start().expect("starts").join_value().expect("returns")
/// }
/// // In a child of its own: the key is process-wide state.
/// let p = Process::new(scenario, ()).start_method(StartMethod::Spawn).start()?;
/// assert_eq!(p.join_value()?, b"shared secret");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn set_authkey(key: impl AsRef<[u8]>) {
    let key = info::AuthKey::new(key.as_ref());
    let mut g = global::lock();
    Arc::make_mut(&mut g.current).authkey = Some(key);
}

/// Registers `hook` to run in every child this process starts from now on — under
/// every start method, and in their own children — before the child's target (and
/// before a pool worker's initializer): the place to install a `tracing` subscriber
/// or set up a library that each process needs once. It runs after the child's
/// environment and working directory are set ([`ProcessBuilder::env`],
/// [`ProcessBuilder::current_dir`]); a panic in it ends the child as a panic of its
/// target would. One hook per program; a later call replaces it.
///
/// `hook` is a plain `fn()`: a fresh process (Spawn, ForkServer) finds it by its
/// address in the executable, as it finds a target, so it cannot capture anything.
/// A hook built into a shared library makes Spawn and ForkServer starts fail with
/// [`StartError::NotSpawnable`].
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use multiproc_process::{Process, StartMethod, set_child_startup};
///
/// static SET_UP: AtomicBool = AtomicBool::new(false);
/// fn install() {
///     // e.g. `tracing_subscriber::fmt().init();`
///     SET_UP.store(true, Ordering::SeqCst);
/// }
/// fn was_set_up() -> bool { SET_UP.load(Ordering::SeqCst) }
///
/// set_child_startup(install);
/// for method in [StartMethod::Fork, StartMethod::Spawn, StartMethod::ForkServer] {
///     let p = Process::new(was_set_up, ()).start_method(method).start()?;
///     assert!(p.join_value()?, "{method:?}");
/// }
/// assert!(!was_set_up()); // the parent does not run it
/// multiproc_process::clear_child_startup();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn set_child_startup(hook: fn()) {
    global::lock().startup = Some(hook);
}

/// Removes the hook of [`set_child_startup`]: children started from now on run none.
///
/// ```
/// use multiproc_process::{Process, StartMethod, clear_child_startup, set_child_startup};
/// use std::sync::atomic::{AtomicBool, Ordering};
/// static SET_UP: AtomicBool = AtomicBool::new(false);
/// fn install() { SET_UP.store(true, Ordering::Relaxed); }
/// fn was_set_up() -> bool { SET_UP.load(Ordering::Relaxed) }
/// set_child_startup(install);
/// clear_child_startup();
/// let p = Process::new(was_set_up, ()).start_method(StartMethod::Spawn).start()?;
/// assert!(!p.join_value()?); // no hook ran
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn clear_child_startup() {
    global::lock().startup = None;
}

/// The process that started this one (CPython's `parent_process()`), `None` in the
/// main process. Its pid is the requester's, also for fork-server children (whose OS
/// parent is the server); [`ParentProcess::is_alive`] and
/// [`ParentProcess::join_timeout`] watch it through a pidfd.
///
/// ```
/// assert!(multiproc_process::parent_process().is_none()); // the main process
/// ```
pub fn parent_process() -> Option<ParentProcess> {
    let mut g = global::lock();
    let info = g.parent.as_deref()?.clone();
    if matches!(g.parent_sentinel, parent::ParentSentinel::Unknown) {
        g.parent_sentinel = parent::open_parent(info.pid);
    }
    Some(ParentProcess::new(info, g.parent_sentinel.clone()))
}

/// Number of CPUs this process may run on: the size of its affinity mask
/// (`sched_getaffinity`), like CPython 3.13's `process_cpu_count()`.
///
/// ```
/// assert!(multiproc_process::cpu_count() >= 1);
/// ```
pub fn cpu_count() -> usize {
    sys::affinity_cpus()
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
}

/// The set-up line for linkers that drop `.init_array` constructors (none of the usual
/// Linux ones do): call it first thing in `main`. In a child it runs the job and never
/// returns; otherwise it returns at once. Harmless if the constructor already ran.
///
/// ```
/// multiproc_process::init(); // returns at once in the main process
/// ```
pub fn init() {
    bootstrap::init_fallback();
}

#[expect(dead_code, reason = "a compile-time check, never called")]
fn assert_send_sync() {
    fn both<T: Send + Sync>() {}
    both::<Process<String>>();
    fn send<T: Send>() {}
    send::<ProcessBuilder<String>>();
    both::<ProcessInfo>();
    both::<ParentProcess>();
    both::<Context>();
    both::<StartError>();
    both::<WaitError>();
    both::<ProcessError>();
    both::<ContextError>();
    both::<CloseError<u8>>();
}
