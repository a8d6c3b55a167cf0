//! Process-wide state: who this process is, its children, the launcher thread.
//!
//! One mutex guards it all. A `Fork` start holds it across `fork()` (see
//! [`crate::start::fork`]), so the child inherits it in a consistent state, locked by its only
//! thread, and can reset it without allocation-free gymnastics.
//!
//! Lock order: `GLOBAL` before any `Core` state lock, and before the exit-hook registry
//! (`crate::hooks`; the two are held together only across a fork). Never emit a `tracing` event while
//! holding `GLOBAL` (the log formatter reads the process name from it).

use std::io;
use std::sync::mpsc;
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};

use crate::handle::{Client, Core};
use crate::info::{AuthKey, ProcessInfo};
use crate::method::{DEFAULT_START_METHOD, StartMethod};
use crate::parent::ParentSentinel;
use crate::sys;

pub(crate) type Task = Box<dyn FnOnce() + Send>;

pub(crate) struct Global {
    pub(crate) current: Arc<ProcessInfo>,
    pub(crate) parent: Option<Arc<ProcessInfo>>,
    /// The parent's liveness handle (see [`crate::parent`]).
    pub(crate) parent_sentinel: ParentSentinel,
    /// Number of the next child (CPython's `_counter`).
    pub(crate) counter: u32,
    /// Children started by this process and not known to be reaped.
    pub(crate) children: Vec<Arc<Core>>,
    pub(crate) launcher: Option<(u32, mpsc::Sender<Task>)>,
    pub(crate) forkserver: Option<(u32, Arc<Client>)>,
    /// A pidfd of this process (keyed by pid: a fork child inherits its parent's).
    pub(crate) self_pidfd: Option<(u32, std::os::fd::OwnedFd)>,
    pub(crate) start_method: Option<StartMethod>,
    pub(crate) log_level: Option<u8>,
    pub(crate) atexit_registered: bool,
    /// The hook every new child runs before its target ([`crate::set_child_startup`]).
    pub(crate) startup: Option<fn()>,
}

impl Global {
    /// Called in a fork child while still holding the lock inherited from the parent:
    /// makes the state that of the child. Allocation-free apart from dropping the
    /// parent's values (glibc's allocator is fork-safe).
    ///
    /// The parent's values are forgotten, not dropped: freeing them would write to
    /// heap pages shared copy-on-write with the parent (a page copy each), and
    /// dropping them closes nothing (the descriptors of the parent's children are
    /// also owned by its `Process` handles, copied into this memory image as they
    /// were). The fork-server client is the exception: its control socket is closed,
    /// so that only the parent keeps its server alive.
    #[inline(always)]
    pub(crate) fn enter_child(&mut self, mut me: Arc<ProcessInfo>, parent: Arc<ProcessInfo>) {
        if let Some(info) = Arc::get_mut(&mut me) {
            info.pid = sys::getpid();
        }
        std::mem::forget(std::mem::replace(&mut self.current, me));
        std::mem::forget(self.parent.replace(parent));
        // This process's parent is the forking one: its pidfd is opened on first use.
        // (A value here is the pidfd of the grandparent, if this process is itself a
        // child that asked; closing it is a plain `close`.)
        self.parent_sentinel = ParentSentinel::Unknown;
        // CPython's `_bootstrap` forces the start method the child was started with.
        self.start_method = Some(StartMethod::Fork);
        self.counter = 1;
        std::mem::forget(std::mem::take(&mut self.children));
        std::mem::forget(self.launcher.take());
        self.forkserver = None;
    }
}

pub(crate) static GLOBAL: LazyLock<Mutex<Global>> = LazyLock::new(|| {
    Mutex::new(Global {
        current: Arc::new(ProcessInfo {
            name: "MainProcess".into(),
            pid: std::process::id(),
            daemon: false,
            identity: Vec::new(),
            // Created on first use (`current_key`): a child gets its own from its parent.
            authkey: None,
        }),
        parent: None,
        parent_sentinel: ParentSentinel::Unknown,
        counter: 1,
        children: Vec::new(),
        launcher: None,
        forkserver: None,
        self_pidfd: None,
        start_method: None,
        log_level: None,
        atexit_registered: false,
        startup: None,
    })
});

/// This process's key, created now if this is the main process's first use.
pub(crate) fn current_key(g: &mut Global) -> AuthKey {
    if let Some(key) = &g.current.authkey {
        return key.clone();
    }
    let key = AuthKey::random();
    Arc::make_mut(&mut g.current).authkey = Some(key.clone());
    key
}

/// The process-wide start method; the first use fixes it (as CPython's `_actual_context`).
pub(crate) fn start_method() -> StartMethod {
    let mut g = lock();
    *g.start_method.get_or_insert(DEFAULT_START_METHOD)
}

#[inline]
pub(crate) fn lock() -> MutexGuard<'static, Global> {
    // The state stays consistent across a panic (every update is a single assignment),
    // so poisoning is ignored.
    GLOBAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Runs `f` on the launcher thread: one thread per process that lives as long as the
/// process, so that `PR_SET_PDEATHSIG` (which fires when the *thread* that created a
/// child exits) means "when this process dies" for the children it creates.
///
/// The main thread is such a thread already (when it returns from `main` the process
/// exits), so a call from it runs `f` right there: no hand-off to another thread and
/// back (two cross-thread wake-ups, about a tenth of a fork's cost on a small process).
pub(crate) fn on_launcher<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> io::Result<T> {
    let me = std::process::id();
    if sys::gettid() == me {
        return Ok(f());
    }
    let (rtx, rrx) = mpsc::sync_channel(1);
    let mut task: Task = Box::new(move || {
        let _ = rtx.send(f());
    });
    for _ in 0..2 {
        let tx = {
            let mut g = lock();
            match &g.launcher {
                Some((pid, tx)) if *pid == me => tx.clone(),
                _ => {
                    let (tx, rx) = mpsc::channel::<Task>();
                    std::thread::Builder::new()
                        .name("multiproc-launcher".into())
                        .spawn(move || {
                            while let Ok(task) = rx.recv() {
                                let _ =
                                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(task));
                            }
                        })?;
                    g.launcher = Some((me, tx.clone()));
                    tx
                }
            }
        };
        match tx.send(task) {
            Ok(()) => {
                return rrx
                    .recv()
                    .map_err(|_| io::Error::other("the launcher thread failed"));
            }
            Err(mpsc::SendError(t)) => {
                task = t;
                lock().launcher = None;
            }
        }
    }
    Err(io::Error::other("the launcher thread is unavailable"))
}
