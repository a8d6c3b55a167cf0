//! Python's `multiprocessing`, rebuilt in Rust: the facade that re-exports the
//! multiproc crates under the names a CPython user expects.
//!
//! ```
//! let (a, b) = multiproc::Pipe::duplex()?;
//! a.send(&"hello")?;
//! assert_eq!(b.recv::<String>()?, "hello");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![doc(test(attr(deny(warnings))))]
#![forbid(unsafe_code)]

pub use multiproc_ipc as ipc;
pub use multiproc_ipc::{Connection, Pipe, SharedSegment};

/// The README's example, compiled and run as a doctest so it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
