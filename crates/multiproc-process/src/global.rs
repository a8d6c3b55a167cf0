//! Process-wide state: who this process is, its children, the launcher thread.
//!
//! One mutex guards it all. A `Fork` start holds it across `fork()` (see
//! [`crate::fork`]), so the child inherits it in a consistent state, locked by its only
//! thread, and can reset it without allocation-free gymnastics.
//!
//! Lock order: `GLOBAL` before any `Core` state lock, and before the exit-hook registry
//! (`crate::hooks`; the two are held together only across a fork). Never emit a `tracing` event while
//! holding `GLOBAL` (the log formatter reads the process name from it).

use std::fmt;
use std::io;
use std::sync::mpsc;
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

use crate::StartMethod;
use crate::forkserver::Client;
use crate::parent::ParentSentinel;
use crate::process::Core;

/// A process's authentication key (CPython's `AuthenticationString`): shared bytes,
/// never shown by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct AuthKey(Arc<[u8]>);

impl AuthKey {
    /// 32 bytes from the OS's random source (CPython: `os.urandom(32)`).
    pub(crate) fn random() -> Self {
        let mut key = [0u8; 32];
        if getrandom::fill(&mut key).is_err() {
            // No random source (a sandbox without getrandom(2) or /dev/urandom): a key
            // from what differs between processes and runs, hashed. Weak, but never
            // constant.
            key = fallback_key();
        }
        AuthKey(Arc::from(&key[..]))
    }

    pub(crate) fn new(bytes: &[u8]) -> Self {
        AuthKey(Arc::from(bytes))
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// 32 bytes from the pid, the clocks and a stack address, through std's randomly
/// seeded SipHash.
fn fallback_key() -> [u8; 32] {
    use std::hash::{BuildHasher, Hasher};
    let mut key = [0u8; 32];
    let marker = 0u8;
    for (i, chunk) in key.chunks_mut(8).enumerate() {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_usize(i);
        h.write_u32(std::process::id());
        h.write_usize(&marker as *const u8 as usize);
        if let Ok(d) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            h.write_u128(d.as_nanos());
        }
        chunk.copy_from_slice(&h.finish().to_le_bytes());
    }
    key
}

impl fmt::Debug for AuthKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuthKey(<{} bytes redacted>)", self.0.len())
    }
}

impl Serialize for AuthKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.as_ref().serialize(s)
    }
}

impl<'de> Deserialize<'de> for AuthKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Vec::<u8>::deserialize(d).map(|v| AuthKey(Arc::from(v)))
    }
}

/// Who a process is: CPython's `current_process()` / `parent_process()` attributes.
///
/// `Debug` shows the authentication key redacted; equality ignores it. Serialized
/// (sent to another process, say) it travels without its key, as CPython refuses to
/// pickle an authkey outside of starting a child.
///
/// ```
/// let me = multiproc_process::current_process();
/// assert_eq!(me.name(), "MainProcess");
/// assert_eq!(me.pid(), std::process::id());
/// assert!(!me.daemon());
/// assert_eq!(me.authkey().len(), 32);
/// assert!(format!("{me:?}").contains("redacted"));
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProcessInfo {
    pub(crate) name: String,
    pub(crate) pid: u32,
    pub(crate) daemon: bool,
    pub(crate) identity: Vec<u32>,
    /// `None` until the main process's key is created (on first use), and where it is
    /// not known (a deserialized value, the info of `parent_process()`).
    #[serde(skip)]
    pub(crate) authkey: Option<AuthKey>,
}

impl PartialEq for ProcessInfo {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && self.pid == other.pid
            && self.daemon == other.daemon
            && self.identity == other.identity
    }
}

impl Eq for ProcessInfo {}

impl ProcessInfo {
    /// A placeholder (no allocation).
    pub(crate) fn empty() -> Self {
        ProcessInfo {
            name: String::new(),
            pid: 0,
            daemon: false,
            identity: Vec::new(),
            authkey: None,
        }
    }

    /// The authentication key (CPython's `authkey`): 32 random bytes created once for
    /// the main process, inherited by every child (under every start method) unless
    /// set with [`ProcessBuilder::authkey`](crate::ProcessBuilder::authkey), and
    /// changed for the current process with [`set_authkey`](crate::set_authkey).
    /// The manager uses it as its default key. Empty where it is not known: the info
    /// of [`parent_process`](crate::parent_process), or a value received from another
    /// process (the key is never serialized with it).
    pub fn authkey(&self) -> &[u8] {
        self.authkey.as_ref().map_or(&[], AuthKey::as_bytes)
    }

    /// The name (`MainProcess`, `Process-1`, `Process-2:1`, or one given by the user).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// CPython's `ident`: the process id.
    pub fn ident(&self) -> u32 {
        self.pid
    }

    /// Whether the process is a daemon.
    pub fn daemon(&self) -> bool {
        self.daemon
    }

    /// The position in the process tree: `[]` for the main process, `[2, 1]` for the
    /// first child of the second child (CPython's `_identity`).
    pub fn identity(&self) -> &[u32] {
        &self.identity
    }
}

impl fmt::Display for ProcessInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<ProcessInfo name='{}' pid={}", self.name, self.pid)?;
        if self.daemon {
            write!(f, " daemon")?;
        }
        write!(f, ">")
    }
}

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
            // rustix's `getpid` is an inlined system call; `std::process::id` is one
            // more code page to fault in.
            info.pid = rustix::process::getpid().as_raw_nonzero().get() as u32;
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
    if rustix::thread::gettid().as_raw_nonzero().get() as u32 == me {
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
