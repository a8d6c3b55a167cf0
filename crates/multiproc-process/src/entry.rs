//! How a fresh process (Spawn, ForkServer) finds the function to run.
//!
//! The parent sends the distance between a monomorphized *trampoline*
//! `trampoline::<F, Args>` (whose signature, `fn(ChildCtx) -> i32`, is not generic) and
//! an anchor function of this crate. The child is the same executable (it is a re-exec
//! of `/proc/self/exe`, the very inode the parent runs, or a fork of such a re-exec), and
//! position-independent code moves all of an executable's text by one load bias, so
//! `anchor + distance` in the child is that trampoline.
//!
//! Belt and braces, checked before the jump: the distances between two other anchors
//! must match, and the resolved address must lie inside an executable mapping of the
//! same file as the anchor (read from `/proc/self/maps`); inside the trampoline a hash of
//! the target's type name must match. Any mismatch is a clear error, never a jump into
//! the unknown.

#![expect(
    unsafe_code,
    reason = "a function found by address is a transmute, a zero-sized target is conjured"
)]

use std::os::fd::OwnedFd;
use std::sync::OnceLock;

use multiproc_ipc::Connection;
use serde::{Deserialize, Serialize};

use crate::error::StartError;
use crate::target::Target;

/// What the child calls.
pub(crate) type Trampoline = fn(ChildCtx) -> i32;

/// Everything a trampoline gets in the child.
pub(crate) struct ChildCtx {
    pub(crate) type_hash: u64,
    pub(crate) args: Vec<u8>,
    pub(crate) fds: Vec<OwnedFd>,
    pub(crate) result: Connection,
}

/// Where the entry point lies, position-independently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct EntryRef {
    offset: i64,
    anchors: [i64; 2],
    type_hash: u64,
}

impl EntryRef {
    pub(crate) fn type_hash(&self) -> u64 {
        self.type_hash
    }
}

#[inline(never)]
extern "C" fn anchor() -> u32 {
    std::hint::black_box(0x5eed_0001)
}

#[inline(never)]
extern "C" fn anchor_b() -> u32 {
    std::hint::black_box(0x5eed_0002) ^ 7
}

#[inline(never)]
extern "C" fn anchor_c() -> u32 {
    std::hint::black_box(0x5eed_0003_u32).rotate_left(3)
}

fn anchor_addr() -> usize {
    anchor as extern "C" fn() -> u32 as usize
}

fn anchors() -> [i64; 2] {
    let a = anchor_addr();
    [
        (anchor_b as extern "C" fn() -> u32 as usize).wrapping_sub(a) as i64,
        (anchor_c as extern "C" fn() -> u32 as usize).wrapping_sub(a) as i64,
    ]
}

/// A hash of the target's type, stable within one executable.
#[inline(always)]
pub(crate) fn type_hash<F: 'static, A: 'static>() -> u64 {
    // FNV-1a over the type name, size and alignment: the same binary hashes the same
    // everywhere. Inlined and std-free on purpose: the child of a fork server computes
    // it right after the fork, where every code page met for the first time is a page
    // fault (std's SipHash lives elsewhere in the binary).
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let name = std::any::type_name::<(F, A)>().as_bytes();
    let size = (std::mem::size_of::<A>() as u64).to_le_bytes();
    let align = (std::mem::align_of::<A>() as u64).to_le_bytes();
    for part in [name, &size[..], &align[..]] {
        for &b in part {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// The executable ranges of the file that holds the anchor.
fn text_ranges() -> &'static [(usize, usize)] {
    static RANGES: OnceLock<Vec<(usize, usize)>> = OnceLock::new();
    RANGES.get_or_init(|| {
        let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
            return Vec::new();
        };
        let a = anchor_addr();
        let parse = |line: &str| -> Option<(usize, usize, bool, String)> {
            let mut it = line.split_whitespace();
            let range = it.next()?;
            let perms = it.next()?;
            let _off = it.next()?;
            let dev = it.next()?;
            let inode = it.next()?;
            let (s, e) = range.split_once('-')?;
            let s = usize::from_str_radix(s, 16).ok()?;
            let e = usize::from_str_radix(e, 16).ok()?;
            Some((s, e, perms.contains('x'), format!("{dev} {inode}")))
        };
        let Some(file) = maps
            .lines()
            .filter_map(parse)
            .find(|(s, e, x, _)| *x && (*s..*e).contains(&a))
            .map(|t| t.3)
        else {
            return Vec::new();
        };
        maps.lines()
            .filter_map(parse)
            .filter(|(_, _, x, f)| *x && *f == file)
            .map(|(s, e, _, _)| (s, e))
            .collect()
    })
}

pub(crate) fn in_text(addr: usize) -> bool {
    text_ranges().iter().any(|&(s, e)| (s..e).contains(&addr))
}

/// The entry reference of `trampoline` (the instance for `(F, A)`, see
/// `child::entry_of`), for the parent to send.
pub(crate) fn entry_of<F, A>(trampoline: Trampoline) -> Result<EntryRef, StartError>
where
    F: Target<A>,
    A: serde::de::DeserializeOwned + Send + 'static,
{
    let addr = trampoline as usize;
    if !in_text(addr) {
        return Err(StartError::NotSpawnable(format!(
            "{} is not in the executable's own code (built into a shared library?)",
            std::any::type_name::<F>()
        )));
    }
    Ok(EntryRef {
        offset: addr.wrapping_sub(anchor_addr()) as i64,
        anchors: anchors(),
        type_hash: type_hash::<F, A>(),
    })
}

/// Turns an entry reference from the parent back into the function, or says why not.
#[inline]
pub(crate) fn resolve(e: &EntryRef) -> Result<Trampoline, String> {
    if e.anchors != anchors() {
        return Err("the child runs a different executable than the parent".into());
    }
    let addr = anchor_addr().wrapping_add(e.offset as usize);
    if !in_text(addr) {
        return Err(format!(
            "entry point offset {:#x} lies outside the executable's code",
            e.offset
        ));
    }
    // SAFETY:
    // - `addr` is `anchor + (trampoline - anchor)` as measured in the parent, which runs
    //   the same executable file (the child is an exec of the parent's /proc/self/exe,
    //   or a fork of one); PIE relocation shifts the whole text segment by one bias, so
    //   the sum is the address of the same `trampoline::<F, A>` instance here;
    // - the anchor spacing and the text-mapping checks above reject another binary;
    // - every trampoline has the type `fn(ChildCtx) -> i32`, the type we produce.
    Ok(unsafe { std::mem::transmute::<usize, Trampoline>(addr) })
}

/// The target `F` itself, made from nothing: `F` is zero-sized (a function item or a
/// non-capturing closure, asserted at compile time), so every value of it is the same.
/// Called by the trampoline of `(F, A)` in a fresh child and by `invoke::<F, A>`, each
/// of which exists only because a caller held a value of `F`.
#[inline(always)]
pub(crate) fn conjure<F: Target<A>, A>() -> F {
    const {
        assert!(
            std::mem::size_of::<F>() == 0,
            "a target found by address must be a function item or a non-capturing closure"
        )
    };
    // SAFETY:
    // - `F` is zero-sized (asserted at compile time above), so producing it reads no
    //   memory and `zeroed` writes no bytes;
    // - `F: Copy` (a `Target` bound), so it has no drop glue and no ownership to duplicate;
    // - the callers (the trampoline, `invoke`) are instantiated for `F` only where a
    //   value of `F` was held (passed to `Process::new` or `Invoker::of`), which proves
    //   the type is inhabited; a copy of a `Copy` zero-sized value is
    //   indistinguishable from any other value of that type. That the instance running
    //   is the one for the sender's `(F, A)` is checked by each caller before this.
    unsafe { std::mem::zeroed() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(x: u32) -> u32 {
        x + 1
    }

    fn stand_in(_: ChildCtx) -> i32 {
        0
    }

    fn item_entry<F: Target<(u32,)>>(_: F) -> (EntryRef, usize) {
        let t: Trampoline = stand_in;
        (
            entry_of::<F, (u32,)>(t).expect("the test binary holds its own code"),
            t as usize,
        )
    }

    #[test]
    fn entry_resolves_to_the_same_trampoline() {
        let (e, addr) = item_entry(sample);
        let t = resolve(&e).expect("same executable");
        assert_eq!(t as usize, addr);
    }

    #[test]
    fn tampered_entries_are_refused() {
        let (mut e, _) = item_entry(sample);
        e.anchors[0] += 16;
        assert!(resolve(&e).is_err());
        let (mut e, _) = item_entry(sample);
        e.offset = i64::MAX / 2;
        assert!(resolve(&e).is_err());
    }
}
