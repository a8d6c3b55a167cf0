//! Shared values and arrays, and named shared memory with leak tracking.
//!
//! | item | what it is | CPython |
//! |---|---|---|
//! | [`Value<T>`] | one `T` in shared memory with an [`RLock`](multiproc_sync::RLock) | `Value(typecode, v)` |
//! | [`RawValue<T>`] | the same without a lock | `RawValue` |
//! | [`Array<T>`] | fixed-length array with a lock; `get`/`set`, bulk copies, `to_vec` | `Array(typecode, n)` |
//! | [`RawArray<T>`] | the same without a lock; `iter`, `memcpy` bulk copies | `RawArray` |
//! | [`Pod`], [`Zeroable`], [`Shareable`] | which `T` may be shared (numbers, `bool`, `char`, your `#[repr(C)]` structs deriving `Pod` — `bytemuck`'s traits, no `unsafe impl`) | typecodes / ctypes |
//! | [`SharedMemory`] | named block in `/dev/shm` (`create`, `attach`, `unlink`) + leak tracker | `shared_memory.SharedMemory` |
//! | [`ShareableList`], [`Item`] | fixed-length list of scalars and strings in a named block | `ShareableList` |
//! | [`IndexError`], [`ShmError`], [`ListError`], `CreateError` | errors | `IndexError`, `FileExistsError`, … |
//!
//! Typecodes map to Rust types: `'b' i8`, `'B' u8`, `'h' i16`, `'H' u16`, `'i' i32`,
//! `'I' u32`, `'l'`/`'q' i64`, `'L'`/`'Q' u64`, `'f' f32`, `'d' f64`, `'c' u8`, and
//! `bool` for `ctypes.c_bool`.
//!
//! `Value`/`Array` live in anonymous memfd segments (nothing in `/dev/shm`) and are
//! passed to children — under every start method — or over a `Connection` by their
//! descriptor: a handle received by another process is the same memory.
//!
//! ```
//! use multiproc_shared::{Array, Value};
//! let num = Value::new(0.0f64)?;                        // Value('d', 0.0)
//! let arr = Array::from_slice(&(0..10).collect::<Vec<i32>>())?; // Array('i', range(10))
//! // ... in a child process:
//! num.set(3.1415927);
//! for i in 0..arr.len() {
//!     arr.set(i, -arr.get(i).unwrap_or(0))?;
//! }
//! assert_eq!(num.get(), 3.1415927);
//! assert_eq!(arr.to_vec(), [0, -1, -2, -3, -4, -5, -6, -7, -8, -9]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Atomicity and tearing
//! `value.set(value.get() + 1)` is two locked operations, not one: use
//! `value.update(|v| v + 1)` or hold `value.lock()` (CPython's `with v.get_lock():`).
//! `RawValue`/`RawArray` accesses are plain copies: concurrent unsynchronised readers may
//! see a torn value (a half-written `f64` on 32-bit targets, a half-written struct or
//! bulk copy anywhere). For `Pod` types that is a logic race, never an invalid value.
//!
//! # Platform support
//! Linux (memfd, `/dev/shm`, `/bin/sh` for the tracker).
//!
//! # Limitations
//! - `Value`/`Array` cannot leak: the kernel frees a memfd with its last handle.
//! - A [`SharedMemory`] block created and not unlinked is removed by the tracker when
//!   the last process of the program that inherited the tracker's pipe exits, even
//!   after SIGKILL. The pipe is close-on-exec: a process started by spawn/forkserver
//!   (a fresh `exec`) gets its own tracker for the blocks it creates, so its blocks are
//!   unlinked when it and its fork descendants have exited. Names with characters
//!   outside `[A-Za-z0-9._-]` are not tracked. If the tracker itself is SIGKILLed,
//!   blocks created since are not cleaned up.
#![doc(test(attr(deny(warnings))))]
#![deny(unsafe_code)]
#[cfg(not(target_os = "linux"))]
compile_error!("multiproc-shared requires Linux (memfd segments, shared futexes)");

mod array;
mod error;
mod list;
mod mapping;
mod pod;
mod shm;
mod sys;
mod value;

pub use array::{Array, ArrayGuard, RawArray};
pub use error::{IndexError, ListError, ShmError};
pub use list::{Item, ShareableList};
/// `bytemuck`, re-exported for `#[derive(Pod, Zeroable)]` on your own records (with
/// `#[bytemuck(crate = "multiproc_shared::bytemuck")]`), so that they need no
/// `unsafe impl` and no dependency of their own.
pub use multiproc_ipc::bytemuck;
pub use multiproc_ipc::bytemuck::Zeroable;
pub use multiproc_sync::CreateError;
pub use pod::{Pod, Shareable};
pub use shm::SharedMemory;
pub use value::{RawValue, Value, ValueGuard};

#[expect(dead_code, reason = "a compile-time check, never called")]
fn assert_send_sync() {
    fn both<T: Send + Sync + std::fmt::Debug>() {}
    both::<Value<f64>>();
    both::<RawValue<bool>>();
    both::<Array<i32>>();
    both::<RawArray<u8>>();
    both::<SharedMemory>();
    both::<ShareableList>();
    both::<ShmError>();
    both::<ListError>();
    both::<IndexError>();
    fn sync<T: Sync>() {}
    sync::<ValueGuard<'static, f64>>();
    sync::<ArrayGuard<'static, f64>>();
}
