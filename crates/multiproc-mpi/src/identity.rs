//! Which executable this process runs: a fingerprint of `/proc/self/exe`'s contents,
//! compared across ranks at start-up so that every rank runs the same build.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The fingerprint of an executable file: its length and a 64-bit hash of its bytes.
///
/// Two builds that differ in a single byte differ here (with overwhelming probability);
/// this detects a stale or different binary on a host, it is not a security check.
///
/// ```
/// let me = multiproc_mpi::ExeId::current()?;
/// assert_eq!(me, multiproc_mpi::ExeId::current()?);
/// assert!(me.len() > 0);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ExeId {
    len: u64,
    hash: u64,
}

impl ExeId {
    /// The fingerprint of the running executable (`/proc/self/exe`).
    ///
    /// # Errors
    /// The file cannot be read.
    ///
    /// ```
    /// use multiproc_mpi::ExeId;
    /// let me = ExeId::current()?;
    /// assert_eq!(me, ExeId::current()?); // the same executable, the same fingerprint
    /// assert!(!me.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn current() -> std::io::Result<ExeId> {
        let bytes = std::fs::read("/proc/self/exe")?;
        Ok(ExeId::of_bytes(&bytes))
    }

    /// The fingerprint of a file's contents.
    ///
    /// ```
    /// use multiproc_mpi::ExeId;
    /// assert_eq!(ExeId::of_bytes(b"abc"), ExeId::of_bytes(b"abc"));
    /// assert_ne!(ExeId::of_bytes(b"abc"), ExeId::of_bytes(b"abd"));
    /// ```
    pub fn of_bytes(bytes: &[u8]) -> ExeId {
        ExeId {
            len: bytes.len() as u64,
            hash: hash(bytes),
        }
    }

    /// The executable's size in bytes.
    ///
    /// ```
    /// use multiproc_mpi::ExeId;
    /// assert_eq!(ExeId::of_bytes(b"abc").len(), 3);
    /// ```
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the file was empty (never true of an executable).
    ///
    /// ```
    /// use multiproc_mpi::ExeId;
    /// assert!(ExeId::of_bytes(b"").is_empty());
    /// assert!(!ExeId::current()?.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The two words that travel in the start-up message.
    #[cfg(any(feature = "openmpi", test))]
    pub(crate) fn to_words(self) -> [u64; 2] {
        [self.len, self.hash]
    }

    /// Back from [`to_words`](Self::to_words).
    #[cfg(any(feature = "openmpi", test))]
    pub(crate) fn from_words(w: [u64; 2]) -> ExeId {
        ExeId {
            len: w[0],
            hash: w[1],
        }
    }
}

impl fmt::Display for ExeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x} ({} bytes)", self.hash, self.len)
    }
}

/// A fast 64-bit hash over 8-byte words (multiply-xorshift; not cryptographic).
fn hash(bytes: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ bytes.len() as u64;
    let mut words = bytes.chunks_exact(8);
    for w in &mut words {
        let mut b = [0u8; 8];
        b.copy_from_slice(w);
        h = (h ^ u64::from_le_bytes(b)).wrapping_mul(K);
        h ^= h >> 29;
    }
    for &b in words.remainder() {
        h = (h ^ u64::from(b)).wrapping_mul(K);
    }
    h ^= h >> 32;
    h.wrapping_mul(K) ^ (h >> 29)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_byte_changes_the_id() {
        let a = vec![7u8; 4099];
        let mut b = a.clone();
        b[4000] = 8;
        assert_ne!(ExeId::of_bytes(&a), ExeId::of_bytes(&b));
        assert_eq!(ExeId::of_bytes(&a), ExeId::of_bytes(&a.clone()));
        // The tail (not a whole word) counts too.
        let mut c = a.clone();
        c[4098] = 0;
        assert_ne!(ExeId::of_bytes(&a), ExeId::of_bytes(&c));
        let id = ExeId::of_bytes(&a);
        assert_eq!(ExeId::from_words(id.to_words()), id);
    }

    #[test]
    fn the_running_test_binary_has_a_stable_id() {
        let me = ExeId::current().expect("/proc/self/exe is readable");
        let exe = std::env::current_exe().expect("current_exe");
        let bytes = std::fs::read(exe).expect("readable");
        assert_eq!(me, ExeId::of_bytes(&bytes));
        assert_eq!(me.len(), bytes.len() as u64);
    }
}
