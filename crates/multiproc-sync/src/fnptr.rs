//! Passing a plain `fn()` to another process of the same executable (the barrier's
//! action).
//!
//! A function pointer is an address in this process; another process maps the same
//! executable elsewhere (ASLR) but with the same layout. We send the offset from an
//! anchor function of this crate, plus the executable's identity (device, inode, size,
//! mtime of `/proc/self/exe`), and only accept it in a process running the very same
//! file, after checking that both addresses lie in the executable's code mappings.

#![expect(
    unsafe_code,
    reason = "turns a code address into a `fn()` after checking it"
)]

use std::fmt;
use std::os::unix::fs::MetadataExt;
use std::sync::OnceLock;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A `fn()` that can be sent to a process running the same executable.
#[derive(Clone, Copy)]
pub(crate) struct PortableFn(pub(crate) fn());

impl fmt::Debug for PortableFn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "fn@{:p}", self.0 as *const ())
    }
}

#[inline(never)]
fn anchor() {}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct ExeId {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: i64,
    mtime_nsec: i64,
}

struct Exe {
    id: ExeId,
    /// Executable mappings of the main program file.
    code: Vec<(usize, usize)>,
}

impl Exe {
    fn contains(&self, addr: usize) -> bool {
        self.code.iter().any(|&(lo, hi)| lo <= addr && addr < hi)
    }
}

fn exe() -> Option<&'static Exe> {
    static EXE: OnceLock<Option<Exe>> = OnceLock::new();
    EXE.get_or_init(|| {
        let md = std::fs::metadata("/proc/self/exe").ok()?;
        let path = std::fs::read_link("/proc/self/exe").ok()?;
        let path = path.to_str()?;
        let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
        let code = maps
            .lines()
            .filter_map(|line| {
                let mut f = line.split_ascii_whitespace();
                let range = f.next()?;
                let perms = f.next()?;
                let name = f.nth(3)?;
                if !perms.contains('x') || name != path {
                    return None;
                }
                let (lo, hi) = range.split_once('-')?;
                Some((
                    usize::from_str_radix(lo, 16).ok()?,
                    usize::from_str_radix(hi, 16).ok()?,
                ))
            })
            .collect::<Vec<_>>();
        Some(Exe {
            id: ExeId {
                dev: md.dev(),
                ino: md.ino(),
                size: md.size(),
                mtime: md.mtime(),
                mtime_nsec: md.mtime_nsec(),
            },
            code,
        })
    })
    .as_ref()
}

impl Serialize for PortableFn {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::Error;
        let exe = exe().ok_or_else(|| S::Error::custom("cannot identify the executable"))?;
        let f = self.0 as usize;
        let a = anchor as fn() as usize;
        if !exe.contains(f) || !exe.contains(a) {
            return Err(S::Error::custom(
                "the function is not in the main executable and cannot be sent",
            ));
        }
        (&exe.id, f.wrapping_sub(a) as u64).serialize(s)
    }
}

impl<'de> Deserialize<'de> for PortableFn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let (id, offset): (ExeId, u64) = Deserialize::deserialize(d)?;
        let exe = exe().ok_or_else(|| D::Error::custom("cannot identify the executable"))?;
        if exe.id != id {
            return Err(D::Error::custom(
                "a function can only be received by a process running the same executable",
            ));
        }
        let addr = (anchor as fn() as usize).wrapping_add(offset as usize);
        if !exe.contains(addr) {
            return Err(D::Error::custom("function address outside the executable"));
        }
        // SAFETY:
        // - the sender ran the same executable file (same device, inode, size and mtime)
        //   and checked that its `fn()` and `anchor` both lie in that file's code
        //   mappings; the loader maps an executable image as a whole (PIE moves every
        //   address by one offset), so `anchor + offset` here is the same `fn()` item;
        // - `addr` lies inside this process's mappings of that file's code (checked
        //   above), and the image stays mapped for the life of the process;
        // - `fn()` and `usize` have the same size on every supported target.
        let f = unsafe { std::mem::transmute::<usize, fn()>(addr) };
        Ok(PortableFn(f))
    }
}
