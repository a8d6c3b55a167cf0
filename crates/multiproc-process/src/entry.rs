//! How a fresh process (Spawn, ForkServer) finds the function to run.
//!
//! The parent sends the foundation's cross-process code address
//! ([`multiproc_sync::foundation::CodeAddr`]) of a monomorphized *trampoline*
//! `trampoline::<F, Args>` (whose signature, `fn(ChildCtx) -> i32`, is not generic). The
//! child is the same executable (it is a re-exec of `/proc/self/exe`, the very inode the
//! parent runs, or a fork of such a re-exec), and position-independent code moves all
//! of an executable's text by one load bias, so the anchor-relative offset finds that
//! trampoline in the child.
//!
//! Belt and braces, checked before the jump (by the foundation): the distances between
//! two other anchors must match, and the resolved address must lie inside an executable
//! mapping of the same file as the anchor (read from `/proc/self/maps`); inside the
//! trampoline a hash of the target's type must match. Any mismatch is a clear error,
//! never a jump into the unknown.

#![expect(
    unsafe_code,
    reason = "a function found by address is a transmute, a zero-sized target is conjured"
)]

use std::os::fd::OwnedFd;

use multiproc_ipc::Connection;
use multiproc_sync::foundation::{self, CodeAddr};
use serde::{Deserialize, Serialize};

use crate::error::StartError;
use crate::setup::ChildSetup;
use crate::target::Target;

/// What the child calls.
pub(crate) type Trampoline = fn(ChildCtx) -> i32;

/// Everything a trampoline gets in the child.
pub(crate) struct ChildCtx {
    pub(crate) type_hash: u64,
    pub(crate) args: Vec<u8>,
    pub(crate) fds: Vec<OwnedFd>,
    pub(crate) result: Connection,
    pub(crate) setup: ChildSetup,
}

/// Where the entry point lies, position-independently, and the fingerprint of the
/// target's types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct EntryRef {
    code: CodeAddr,
    type_hash: u64,
}

impl EntryRef {
    pub(crate) fn type_hash(&self) -> u64 {
        self.type_hash
    }
}

/// A hash of the target's type, stable within one executable.
#[inline(always)]
pub(crate) fn type_hash<F: 'static, A: 'static>() -> u64 {
    foundation::type_hash::<(F, A)>()
}

/// Whether `addr` lies in the executable's own code (see `foundation::in_code`).
#[inline(always)]
pub(crate) fn in_text(addr: usize) -> bool {
    foundation::in_code(addr)
}

/// The entry reference of `trampoline` (the instance for `(F, A)`, see
/// `child::entry_of`), for the parent to send.
pub(crate) fn entry_of<F, A>(trampoline: Trampoline) -> Result<EntryRef, StartError>
where
    F: Target<A>,
    A: serde::de::DeserializeOwned + Send + 'static,
{
    let code = CodeAddr::of(trampoline as usize).map_err(|_| {
        StartError::NotSpawnable(format!(
            "{} is not in the executable's own code (built into a shared library?)",
            std::any::type_name::<F>()
        ))
    })?;
    Ok(EntryRef {
        code,
        type_hash: type_hash::<F, A>(),
    })
}

/// Turns an entry reference from the parent back into the function, or says why not.
#[inline]
pub(crate) fn resolve(e: &EntryRef) -> Result<Trampoline, String> {
    // SAFETY:
    // - `e.code` is the code address of a `trampoline::<F, A>` as measured in the
    //   parent, which runs the same executable file (the child is an exec of the
    //   parent's /proc/self/exe, or a fork of one); `resolve` checks the anchor spacing
    //   and that the address lies in this file's code before producing it;
    // - every trampoline has the type `fn(ChildCtx) -> i32`, the type we produce.
    unsafe { e.code.resolve::<Trampoline>() }.map_err(|why| match why {
        foundation::CodeAddrError::OtherExecutable => {
            "the child runs a different executable than the parent".into()
        }
        foundation::CodeAddrError::OutsideCode { offset } => {
            format!("entry point offset {offset:#x} lies outside the executable's code")
        }
        other => other.to_string(),
    })
}

/// The start-up hook a fresh child received (see [`crate::set_child_startup`]), or why
/// it cannot be found.
pub(crate) fn resolve_hook(addr: &CodeAddr) -> Result<fn(), String> {
    // SAFETY:
    // - `addr` is the code address of a `fn()` as measured in the parent
    //   (`CodeAddr::of(hook as usize)` in `Launch::into_fresh`), which runs the same
    //   executable file; `resolve` checks the anchor spacing and that the address lies
    //   in this file's code before producing it;
    // - the value produced has that very type, `fn()`.
    unsafe { addr.resolve::<fn()>() }
        .map_err(|why| format!("the child start-up hook cannot be found: {why}"))
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
            "a target found by address must be zero-sized (a function item or a closure \
             that captures nothing): see the error at the call that passed it"
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
        e.code.anchors[0] += 16;
        assert!(resolve(&e).is_err());
        let (mut e, _) = item_entry(sample);
        e.code.offset = i64::MAX / 2;
        assert!(resolve(&e).is_err());
    }
}
