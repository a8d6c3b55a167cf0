//! [`ProcessInfo`]: who a process is, and its authentication key.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

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
    ///
    /// ```
    /// use multiproc_process::{Process, current_process};
    /// fn key() -> Vec<u8> { current_process().authkey().to_vec() }
    /// let mine = current_process().authkey().to_vec();
    /// assert!(!mine.is_empty());
    /// assert_eq!(Process::new(key, ()).start()?.join_value()?, mine); // children inherit it
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn authkey(&self) -> &[u8] {
        self.authkey.as_ref().map_or(&[], AuthKey::as_bytes)
    }

    /// The name (`MainProcess`, `Process-1`, `Process-2:1`, or one given by the user).
    ///
    /// ```
    /// use multiproc_process::{Process, current_process};
    /// fn name() -> String { current_process().name().to_owned() }
    /// assert_eq!(current_process().name(), "MainProcess");
    /// let p = Process::new(name, ()).name("worker").start()?;
    /// assert_eq!(p.join_value()?, "worker");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The process id.
    ///
    /// ```
    /// assert_eq!(multiproc_process::current_process().pid(), std::process::id());
    /// ```
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// CPython's `ident`: the process id.
    ///
    /// ```
    /// let me = multiproc_process::current_process();
    /// assert_eq!(me.ident(), me.pid());
    /// ```
    pub fn ident(&self) -> u32 {
        self.pid
    }

    /// Whether the process is a daemon.
    ///
    /// ```
    /// use multiproc_process::{Process, current_process};
    /// fn daemon() -> bool { current_process().daemon() }
    /// assert!(!current_process().daemon());
    /// assert!(Process::new(daemon, ()).daemon(true).start()?.join_value()?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn daemon(&self) -> bool {
        self.daemon
    }

    /// The position in the process tree: `[]` for the main process, `[2, 1]` for the
    /// first child of the second child (CPython's `_identity`).
    ///
    /// ```
    /// use multiproc_process::{Process, current_process};
    /// fn identity() -> Vec<u32> { current_process().identity().to_vec() }
    /// assert!(current_process().identity().is_empty()); // the main process
    /// let child = Process::new(identity, ()).start()?.join_value()?;
    /// assert_eq!(child.len(), 1); // a first-level child
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
