//! Passing a plain `fn()` to another process of the same executable (the barrier's
//! action).
//!
//! The address is a foundation [`CodeAddr`] (anchor-relative, checked before use). A
//! barrier handle can travel to any process (over a `Listener` too), so on top of the
//! code address's checks the executable's file identity (device, inode, size, mtime of
//! `/proc/self/exe`) must match: only a process running the very same file accepts it.

#![expect(unsafe_code, reason = "turns a checked code address into a `fn()`")]

use std::fmt;
use std::os::unix::fs::MetadataExt;
use std::sync::OnceLock;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::code::CodeAddr;

/// A `fn()` that can be sent to a process running the same executable.
#[derive(Clone, Copy)]
pub(crate) struct PortableFn(pub(crate) fn());

impl fmt::Debug for PortableFn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "fn@{:p}", self.0 as *const ())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct ExeId {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: i64,
    mtime_nsec: i64,
}

fn exe_id() -> Option<&'static ExeId> {
    static EXE: OnceLock<Option<ExeId>> = OnceLock::new();
    EXE.get_or_init(|| {
        let md = std::fs::metadata("/proc/self/exe").ok()?;
        Some(ExeId {
            dev: md.dev(),
            ino: md.ino(),
            size: md.size(),
            mtime: md.mtime(),
            mtime_nsec: md.mtime_nsec(),
        })
    })
    .as_ref()
}

impl Serialize for PortableFn {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::Error;
        let id = exe_id().ok_or_else(|| S::Error::custom("cannot identify the executable"))?;
        let code = CodeAddr::of(self.0 as usize).map_err(|_| {
            S::Error::custom("the function is not in the main executable and cannot be sent")
        })?;
        (id, code).serialize(s)
    }
}

impl<'de> Deserialize<'de> for PortableFn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let (id, code): (ExeId, CodeAddr) = Deserialize::deserialize(d)?;
        let exe = exe_id().ok_or_else(|| D::Error::custom("cannot identify the executable"))?;
        if *exe != id {
            return Err(D::Error::custom(
                "a function can only be received by a process running the same executable",
            ));
        }
        // SAFETY:
        // - the sender ran the same executable file (same device, inode, size and mtime,
        //   checked above) and made `code` from a `fn()` of it (`PortableFn` holds
        //   nothing else), and `resolve` checks the anchor spacing and that the address
        //   lies in this process's mappings of that file's code;
        // - `fn()` is a function pointer type, the type the sender's function has.
        let f = unsafe { code.resolve::<fn()>() }.map_err(D::Error::custom)?;
        Ok(PortableFn(f))
    }
}
