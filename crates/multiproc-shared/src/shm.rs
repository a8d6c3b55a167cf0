//! [`SharedMemory`]: named blocks in `/dev/shm`, and the tracker that removes the ones a
//! program forgot.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::Mutex;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{IndexError, ShmError};
use crate::mapping::Bytes;

const SHM_DIR: &str = "/dev/shm";

/// A named block of shared memory (`multiprocessing.shared_memory.SharedMemory`).
///
/// - [`create`](Self::create) makes `/dev/shm/<name>` with permissions `0600`
///   (`O_CREAT | O_EXCL`), a random `mp-…` name when none is given;
/// - [`attach`](Self::attach) maps an existing block by name (any process, even one not
///   started by this crate); attaching never registers anything for cleanup (KI-10);
/// - dropping the handle unmaps it (CPython's `close()`); the name stays until
///   [`unlink`](Self::unlink), which the creator normally calls when done.
///
/// **Leak tracking.** A block created by this process is registered with a tracker
/// process started on first use, which every process of the program (this one and its
/// fork children) keeps alive through an inherited pipe. When the last of them exits —
/// normally or SIGKILLed — the tracker unlinks the blocks that were created but never
/// unlinked, silently. [`persist`](Self::persist) opts a block out.
///
/// A handle is sent to another process (as a `Process` argument, over a `Connection`)
/// by name: the receiver attaches.
///
/// ```
/// use multiproc_shared::SharedMemory;
/// let shm = SharedMemory::create(None, 16)?;
/// shm.write_at(0, b"hello")?;
/// let other = SharedMemory::attach(shm.name())?;
/// let mut buf = [0u8; 5];
/// other.read_at(0, &mut buf)?;
/// assert_eq!(&buf, b"hello");
/// shm.unlink()?;
/// assert!(SharedMemory::attach(shm.name()).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SharedMemory {
    name: String,
    bytes: Bytes,
    _file: File,
}

fn check_name(name: &str) -> Result<(), ShmError> {
    if name.is_empty()
        || name.len() > 250
        || name.contains(['/', '\0'])
        || name == "."
        || name == ".."
    {
        return Err(ShmError::InvalidName(name.to_string()));
    }
    Ok(())
}

fn path_of(name: &str) -> PathBuf {
    PathBuf::from(SHM_DIR).join(name)
}

fn random_name() -> Result<String, ShmError> {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).map_err(|e| ShmError::Io(std::io::Error::other(e.to_string())))?;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!("mp-{hex}"))
}

impl SharedMemory {
    /// Creates a block of `size` bytes (zero-filled) named `name`, or a random name.
    ///
    /// # Errors
    /// [`ShmError::InvalidName`], [`ShmError::InvalidSize`] for 0,
    /// [`ShmError::Exists`] if the name is taken, [`ShmError::Io`] otherwise.
    ///
    /// ```
    /// use multiproc_shared::SharedMemory;
    /// let shm = SharedMemory::create(None, 64)?; // a random name
    /// assert_eq!(shm.size(), 64);
    /// assert!(SharedMemory::create(Some(shm.name()), 64).is_err()); // Exists
    /// shm.unlink()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn create(name: Option<&str>, size: usize) -> Result<SharedMemory, ShmError> {
        if size == 0 || u64::try_from(size).is_err() {
            return Err(ShmError::InvalidSize);
        }
        let requested = name;
        let (name, file) = loop {
            let name = match requested {
                Some(n) => n.to_string(),
                None => random_name()?,
            };
            check_name(&name)?;
            match OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path_of(&name))
            {
                Ok(f) => break (name, f),
                // A random name collided: draw again.
                Err(e) if e.kind() == ErrorKind::AlreadyExists && requested.is_none() => {}
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                    return Err(ShmError::Exists(name));
                }
                Err(e) => return Err(e.into()),
            }
        };
        let setup = (|| {
            file.set_len(size as u64)?;
            Bytes::map(&file, size)
        })();
        match setup {
            Ok(bytes) => {
                tracker::register(&name);
                Ok(SharedMemory {
                    name,
                    bytes,
                    _file: file,
                })
            }
            Err(e) => {
                let _ = std::fs::remove_file(path_of(&name));
                Err(e.into())
            }
        }
    }

    /// Maps the existing block `name`, whatever its size.
    ///
    /// # Errors
    /// [`ShmError::NotFound`] if there is no such block, [`ShmError::InvalidName`],
    /// [`ShmError::Io`].
    ///
    /// ```
    /// use multiproc_shared::SharedMemory;
    /// let shm = SharedMemory::create(None, 8)?;
    /// shm.write_at(0, b"hi")?;
    /// let same = SharedMemory::attach(shm.name())?;
    /// let mut buf = [0; 2];
    /// same.read_at(0, &mut buf)?;
    /// assert_eq!(&buf, b"hi");
    /// shm.unlink()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn attach(name: &str) -> Result<SharedMemory, ShmError> {
        check_name(name)?;
        let file = match OpenOptions::new()
            .read(true)
            .write(true)
            .open(path_of(name))
        {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Err(ShmError::NotFound(name.to_string()));
            }
            Err(e) => return Err(e.into()),
        };
        let len = usize::try_from(file.metadata()?.len()).map_err(|_| ShmError::InvalidSize)?;
        if len == 0 {
            return Err(ShmError::InvalidSize);
        }
        let bytes = Bytes::map(&file, len)?;
        Ok(SharedMemory {
            name: name.to_string(),
            bytes,
            _file: file,
        })
    }

    /// The name (without a leading `/`, as CPython reports it).
    ///
    /// ```
    /// use multiproc_shared::SharedMemory;
    /// let shm = SharedMemory::create(None, 8)?;
    /// assert!(!shm.name().starts_with('/')); // as CPython reports it
    /// shm.unlink()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The size in bytes.
    ///
    /// ```
    /// use multiproc_shared::SharedMemory;
    /// let shm = SharedMemory::create(None, 100)?;
    /// assert!(shm.size() >= 100);
    /// shm.unlink()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn size(&self) -> usize {
        self.bytes.len()
    }

    /// Removes the name; existing mappings stay valid until dropped. Also removes it
    /// from the tracker.
    ///
    /// # Errors
    /// [`ShmError::NotFound`] if already unlinked (CPython: `FileNotFoundError`).
    ///
    /// ```
    /// use multiproc_shared::SharedMemory;
    /// let shm = SharedMemory::create(None, 8)?;
    /// shm.unlink()?;
    /// assert!(SharedMemory::attach(shm.name()).is_err()); // the name is gone
    /// assert!(shm.unlink().is_err()); // NotFound
    /// shm.write_at(0, b"ok")?; // the mapping stays valid
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn unlink(&self) -> Result<(), ShmError> {
        tracker::unregister(&self.name);
        match std::fs::remove_file(path_of(&self.name)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Err(ShmError::NotFound(self.name.clone())),
            Err(e) => Err(e.into()),
        }
    }

    /// Keeps the block after the program ends: the tracker forgets it (CPython 3.13's
    /// `track=False`). Someone must `unlink` it eventually.
    ///
    /// ```
    /// use multiproc_shared::SharedMemory;
    /// let shm = SharedMemory::create(None, 8)?;
    /// shm.persist(); // not removed at exit: someone must unlink it
    /// assert!(SharedMemory::attach(shm.name()).is_ok());
    /// shm.unlink()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn persist(&self) {
        tracker::unregister(&self.name);
    }

    /// Unmaps this handle (CPython's `close()`); same as dropping it.
    ///
    /// ```
    /// use multiproc_shared::SharedMemory;
    /// let shm = SharedMemory::create(None, 8)?;
    /// let name = shm.name().to_owned();
    /// shm.close(); // unmapped; the block stays
    /// let again = SharedMemory::attach(&name)?;
    /// again.unlink()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn close(self) {}

    /// Copies `dst.len()` bytes starting at `offset`.
    ///
    /// # Errors
    /// [`IndexError`] if the range is outside the block.
    ///
    /// ```
    /// use multiproc_shared::SharedMemory;
    /// let shm = SharedMemory::create(None, 8)?;
    /// shm.write_at(4, b"abcd")?;
    /// let mut buf = [0; 4];
    /// shm.read_at(4, &mut buf)?;
    /// assert_eq!(&buf, b"abcd");
    /// assert!(shm.read_at(shm.size(), &mut buf).is_err()); // outside the block
    /// shm.unlink()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn read_at(&self, offset: usize, dst: &mut [u8]) -> Result<(), IndexError> {
        if self.bytes.read_at(offset, dst) {
            Ok(())
        } else {
            Err(IndexError {
                index: offset.saturating_add(dst.len()),
                len: self.size(),
            })
        }
    }

    /// Copies `src` to `offset`.
    ///
    /// # Errors
    /// [`IndexError`] if the range is outside the block.
    ///
    /// ```
    /// use multiproc_shared::SharedMemory;
    /// let shm = SharedMemory::create(None, 8)?;
    /// shm.write_at(0, b"12345678")?;
    /// assert!(shm.write_at(shm.size() - 1, b"xy").is_err()); // past the end
    /// shm.unlink()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write_at(&self, offset: usize, src: &[u8]) -> Result<(), IndexError> {
        if self.bytes.write_at(offset, src) {
            Ok(())
        } else {
            Err(IndexError {
                index: offset.saturating_add(src.len()),
                len: self.size(),
            })
        }
    }

    /// Start of the mapping in this process (for FFI or your own atomics).
    ///
    /// ```
    /// use multiproc_shared::SharedMemory;
    /// let shm = SharedMemory::create(None, 8)?;
    /// assert_eq!(shm.as_ptr() as usize % 4096, 0); // page-aligned
    /// shm.unlink()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn as_ptr(&self) -> *mut u8 {
        self.bytes.as_ptr()
    }

    /// The whole block as a slice (CPython's `buf`).
    ///
    /// # Safety
    /// No process may write the block while the slice is alive (other processes
    /// can: this crate cannot check it).
    #[expect(
        unsafe_code,
        reason = "a slice of shared memory is only sound under the caller's contract"
    )]
    pub unsafe fn as_slice(&self) -> &[u8] {
        // SAFETY: forwarded to the caller.
        unsafe { self.bytes.as_slice() }
    }

    /// The whole block as a mutable slice.
    ///
    /// # Safety
    /// No other process may access the block while the slice is alive.
    #[expect(
        unsafe_code,
        reason = "a slice of shared memory is only sound under the caller's contract"
    )]
    pub unsafe fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: forwarded to the caller; `&mut self` excludes other references from
        // this handle.
        unsafe { self.bytes.as_mut_slice() }
    }
}

impl fmt::Debug for SharedMemory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedMemory")
            .field("name", &self.name)
            .field("size", &self.size())
            .finish()
    }
}

impl Serialize for SharedMemory {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.name.serialize(s)
    }
}

impl<'de> Deserialize<'de> for SharedMemory {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        SharedMemory::attach(&name).map_err(serde::de::Error::custom)
    }
}

/// The leak tracker: a `/bin/sh` process reading `R <name>` / `U <name>` lines from a
/// pipe whose write end every process of the program holds (fork children inherit
/// it). At end of file — every holder exited, however — it unlinks what is still
/// registered. Names outside `[A-Za-z0-9._-]` are not tracked.
mod tracker {
    use super::*;
    use std::process::{Command, Stdio};
    use std::sync::{OnceLock, TryLockError};
    use std::time::{Duration, Instant};

    const SCRIPT: &str = r#"trap '' INT TERM HUP
set -f
names=' '
while IFS= read -r line; do
  n=${line#??}
  case $line in
    'R '*) names="$names$n " ;;
    'U '*) new=' '; for x in $names; do [ "$x" = "$n" ] || new="$new$x "; done; names=$new ;;
  esac
done
for x in $names; do rm -f "/dev/shm/$x"; done
"#;

    /// The write end of the tracker's pipe, once started. Read without a lock, so a
    /// fork child never waits on a lock some parent thread held at the fork.
    static PIPE: OnceLock<File> = OnceLock::new();
    /// Held only while starting the tracker.
    static STARTING: Mutex<()> = Mutex::new(());
    /// How long a process waits for another thread starting the tracker. In a fork
    /// child whose parent was starting it at the fork, the lock is never released:
    /// the child then goes without tracking instead of hanging.
    const START_WAIT: Duration = Duration::from_secs(2);

    fn trackable(name: &str) -> bool {
        name.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
            && !name.starts_with('.')
    }

    fn start() -> Option<File> {
        let (r, w) = crate::sys::pipe().ok()?;
        let child = Command::new("/bin/sh")
            .arg("-c")
            .arg(SCRIPT)
            .stdin(Stdio::from(r))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .ok()?;
        // Not waited for: it outlives us by design (reparented to init, which reaps
        // it).
        drop(child);
        Some(File::from(w))
    }

    fn pipe() -> Option<&'static File> {
        if let Some(p) = PIPE.get() {
            return Some(p);
        }
        let deadline = Instant::now() + START_WAIT;
        let _starting = loop {
            match STARTING.try_lock() {
                Ok(g) => break g,
                Err(TryLockError::Poisoned(g)) => break g.into_inner(),
                Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(1));
                }
                // untracked: the block is still unlinked by `unlink()`, only not
                // after a crash of this process
                Err(TryLockError::WouldBlock) => return None,
            }
        };
        if let Some(p) = PIPE.get() {
            return Some(p);
        }
        let _ = PIPE.set(start()?);
        PIPE.get()
    }

    fn send(line: &str) {
        if let Some(mut p) = pipe() {
            // One write of less than PIPE_BUF bytes: atomic with respect to writers in
            // other processes and threads.
            let _ = p.write_all(line.as_bytes());
        }
    }

    pub(super) fn register(name: &str) {
        if trackable(name) {
            send(&format!("R {name}\n"));
        }
    }

    pub(super) fn unregister(name: &str) {
        if trackable(name) && PIPE.get().is_some() {
            send(&format!("U {name}\n"));
        }
    }

    use std::os::unix::process::CommandExt;
}
