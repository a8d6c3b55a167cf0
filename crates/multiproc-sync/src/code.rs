//! The cross-process code address: a function of this executable, named so that another
//! process running the same executable finds it.
//!
//! A function pointer is an address in this process; another process maps the same
//! executable elsewhere (ASLR), but position-independent code moves all of an
//! executable's text by one load bias. So a [`CodeAddr`] holds the distance from an
//! anchor function of this crate to the function, and the receiver adds it to its own
//! anchor. Belt and braces, checked before any jump: the distances between the anchor
//! and two other anchors must match (another binary lays them out differently), and
//! both the function and the resolved address must lie inside an executable mapping of
//! the file that holds the anchor (read once from `/proc/self/maps`). [`type_hash`]
//! fingerprints a monomorphized instance so that the callee can refuse an instance for
//! other types.
//!
//! **Trust boundary.** The checks catch another executable and offsets that leave the
//! code; they cannot prove that an offset inside the code lands on a function of the
//! expected type. A `CodeAddr` is trusted data between processes of one program.

#![expect(
    unsafe_code,
    reason = "turns a checked code address into a function pointer"
)]

use std::fmt;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// Where a function of this executable lies, position-independently: plain data that
/// any process running the same executable can turn back into the function.
///
/// The fields are public because any value is safe to hold: nothing is jumped through
/// before [`address`](Self::address) has checked it.
///
/// ```
/// use multiproc_sync::foundation::CodeAddr;
///
/// fn double(x: u32) -> u32 { x * 2 }
///
/// let f: fn(u32) -> u32 = double;
/// let addr = CodeAddr::of(f as usize)?;
/// // `addr` is serde: it can cross into a process running this executable.
/// // SAFETY: `addr` was made from a `fn(u32) -> u32` of this executable.
/// let back = unsafe { addr.resolve::<fn(u32) -> u32>() }?;
/// assert_eq!(back(21), 42);
/// # Ok::<(), multiproc_sync::foundation::CodeAddrError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CodeAddr {
    /// The function's address minus the anchor's.
    pub offset: i64,
    /// The two other anchors' addresses minus the anchor's: the executable's layout.
    pub anchors: [i64; 2],
}

/// Why a code address could not be made or resolved.
///
/// ```
/// use multiproc_sync::foundation::{CodeAddr, CodeAddrError};
/// let data = 0u8;
/// let not_code = &data as *const u8 as usize;
/// assert_eq!(CodeAddr::of(not_code).unwrap_err(), CodeAddrError::NotInExecutable);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CodeAddrError {
    /// The function does not lie in the executable's own code (built into a shared
    /// library, or the code mappings could not be read).
    NotInExecutable,
    /// The address was made by a process running a different executable.
    OtherExecutable,
    /// The resolved address lies outside the executable's code (a corrupted offset).
    OutsideCode {
        /// The offset received.
        offset: i64,
    },
}

impl fmt::Display for CodeAddrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodeAddrError::NotInExecutable => {
                write!(f, "the function is not in the executable's own code")
            }
            CodeAddrError::OtherExecutable => {
                write!(f, "the address was made by a different executable")
            }
            CodeAddrError::OutsideCode { offset } => {
                write!(
                    f,
                    "code offset {offset:#x} lies outside the executable's code"
                )
            }
        }
    }
}

impl std::error::Error for CodeAddrError {}

// Three distinct bodies, so that no linker folds them into one function.
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

#[inline(always)]
fn anchor_addr() -> usize {
    anchor as extern "C" fn() -> u32 as usize
}

#[inline(always)]
fn anchors() -> [i64; 2] {
    let a = anchor_addr();
    [
        (anchor_b as extern "C" fn() -> u32 as usize).wrapping_sub(a) as i64,
        (anchor_c as extern "C" fn() -> u32 as usize).wrapping_sub(a) as i64,
    ]
}

impl CodeAddr {
    /// The code address of the function at `addr` (a function pointer as `usize`).
    ///
    /// ```
    /// use multiproc_sync::foundation::CodeAddr;
    /// fn double(x: u32) -> u32 { x * 2 }
    /// let f: fn(u32) -> u32 = double;
    /// let addr = CodeAddr::of(f as usize)?; // serialisable: send it to a child
    /// assert_eq!(addr.address()?, f as usize);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`CodeAddrError::NotInExecutable`] when `addr` is not in the executable's code.
    pub fn of(addr: usize) -> Result<CodeAddr, CodeAddrError> {
        if !in_code(addr) {
            return Err(CodeAddrError::NotInExecutable);
        }
        Ok(CodeAddr {
            offset: addr.wrapping_sub(anchor_addr()) as i64,
            anchors: anchors(),
        })
    }

    /// The function's address in this process, checked: the anchor spacing matches and
    /// the address lies in this executable's code.
    ///
    /// ```
    /// use multiproc_sync::foundation::CodeAddr;
    /// fn double(x: u32) -> u32 { x * 2 }
    /// let f: fn(u32) -> u32 = double;
    /// // In another process running this executable, the same function's address there.
    /// assert_eq!(CodeAddr::of(f as usize)?.address()?, f as usize);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`CodeAddrError::OtherExecutable`] or [`CodeAddrError::OutsideCode`].
    #[inline]
    pub fn address(&self) -> Result<usize, CodeAddrError> {
        if self.anchors != anchors() {
            return Err(CodeAddrError::OtherExecutable);
        }
        let addr = anchor_addr().wrapping_add(self.offset as usize);
        if !in_code(addr) {
            return Err(CodeAddrError::OutsideCode {
                offset: self.offset,
            });
        }
        Ok(addr)
    }

    /// The function itself, as the function pointer type `F`, after the checks of
    /// [`address`](Self::address).
    ///
    /// ```
    /// use multiproc_sync::foundation::CodeAddr;
    /// fn double(x: u32) -> u32 { x * 2 }
    /// let addr = CodeAddr::of(double as fn(u32) -> u32 as usize)?;
    /// // SAFETY: `addr` was made from a `fn(u32) -> u32`, and is resolved as one.
    /// let f: fn(u32) -> u32 = unsafe { addr.resolve()? };
    /// assert_eq!(f(21), 42);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`address`](Self::address).
    ///
    /// # Safety
    /// `F` must be a function pointer type, and `self` must have been made (by a process
    /// running this executable) from a function of exactly that type.
    #[inline(always)]
    pub unsafe fn resolve<F: Copy>(&self) -> Result<F, CodeAddrError> {
        let addr = self.address()?;
        // SAFETY: `addr` lies in this executable's code (checked by `address`); that it
        // is a function of type `F` is this function's contract.
        Ok(unsafe { fn_at::<F>(addr) })
    }
}

/// The function pointer of type `F` at `addr`.
///
/// ```
/// use multiproc_sync::foundation::fn_at;
/// fn double(x: u32) -> u32 { x * 2 }
/// let addr = double as fn(u32) -> u32 as usize;
/// // SAFETY: `addr` is the address of a `fn(u32) -> u32` of this executable.
/// let f: fn(u32) -> u32 = unsafe { fn_at(addr) };
/// assert_eq!(f(4), 8);
/// ```
///
/// # Safety
/// `F` must be a function pointer type and `addr` the address of a function of exactly
/// that type, in code that stays mapped (this executable's code, see [`in_code`]).
#[inline(always)]
pub unsafe fn fn_at<F: Copy>(addr: usize) -> F {
    const {
        assert!(
            std::mem::size_of::<F>() == std::mem::size_of::<usize>(),
            "a function pointer has the size of an address"
        )
    };
    // SAFETY:
    // - `F` and `usize` have the same size (asserted at compile time above);
    // - `F` is a function pointer type and `addr` the address of a function of that
    //   type in mapped code (the caller's contract), so the bits are a valid `F`.
    unsafe { std::mem::transmute_copy::<usize, F>(&addr) }
}

/// Whether `addr` lies in an executable mapping of the file that holds this crate's
/// code (the main executable when it is linked statically, as Rust links crates).
///
/// The mappings are read from `/proc/self/maps` once per process and cached; a process
/// about to `fork` children that resolve code addresses calls `in_code(0)` first, so
/// that no child inherits the cache half-initialised (or has to read the file itself).
///
/// ```
/// use multiproc_sync::foundation::in_code;
/// fn here() {}
/// assert!(in_code(here as fn() as usize));
/// assert!(!in_code(0));
/// ```
#[inline]
pub fn in_code(addr: usize) -> bool {
    code_ranges().iter().any(|&(s, e)| (s..e).contains(&addr))
}

/// The executable ranges of the file that holds the anchor.
fn code_ranges() -> &'static [(usize, usize)] {
    static RANGES: OnceLock<Vec<(usize, usize)>> = OnceLock::new();
    RANGES.get_or_init(read_code_ranges)
}

#[cold]
fn read_code_ranges() -> Vec<(usize, usize)> {
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return Vec::new();
    };
    let a = anchor_addr();
    // (start, end, executable, "device inode")
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
}

/// A fingerprint of the type `T`, stable within one executable (equal in every process
/// running it): FNV-1a over the type's name, size and alignment.
///
/// Inlined and std-free on purpose: a fork server's child computes it right after the
/// fork, where every code page met for the first time is a page fault (std's SipHash
/// lives elsewhere in the binary).
///
/// ```
/// use multiproc_sync::foundation::type_hash;
/// assert_eq!(type_hash::<(u8, String)>(), type_hash::<(u8, String)>());
/// assert_ne!(type_hash::<u8>(), type_hash::<i8>());
/// ```
#[inline(always)]
pub fn type_hash<T: 'static>() -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let name = std::any::type_name::<T>().as_bytes();
    let size = (std::mem::size_of::<T>() as u64).to_le_bytes();
    let align = (std::mem::align_of::<T>() as u64).to_le_bytes();
    for part in [name, &size[..], &align[..]] {
        for &b in part {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn triple(x: u64) -> u64 {
        x * 3
    }

    #[test]
    fn a_code_address_resolves_to_the_same_function() {
        let f: fn(u64) -> u64 = triple;
        let addr = CodeAddr::of(f as usize).expect("the test binary holds its own code");
        assert_eq!(addr.address(), Ok(f as usize));
        // SAFETY: made from a `fn(u64) -> u64` of this executable just above.
        let back = unsafe { addr.resolve::<fn(u64) -> u64>() }.expect("same executable");
        assert_eq!(back(5), 15);
    }

    #[test]
    fn addresses_outside_the_code_are_refused() {
        let heap = Box::new(0u8);
        assert_eq!(
            CodeAddr::of(&*heap as *const u8 as usize),
            Err(CodeAddrError::NotInExecutable)
        );
        let f: fn(u64) -> u64 = triple;
        let good = CodeAddr::of(f as usize).expect("in the code");
        let mut other = good;
        other.anchors[1] += 32;
        assert_eq!(other.address(), Err(CodeAddrError::OtherExecutable));
        let mut far = good;
        far.offset = i64::MAX / 2;
        assert_eq!(
            far.address(),
            Err(CodeAddrError::OutsideCode {
                offset: i64::MAX / 2
            })
        );
    }

    #[test]
    fn type_hashes_tell_types_apart() {
        assert_eq!(type_hash::<(u8, String)>(), type_hash::<(u8, String)>());
        assert_ne!(type_hash::<(u8, String)>(), type_hash::<(String, u8)>());
        assert_ne!(type_hash::<u32>(), type_hash::<i32>());
    }
}
