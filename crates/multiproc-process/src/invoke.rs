//! [`Invoker`]: a serializable reference to a [`Target`] that a long-lived process (a
//! pool worker) can call many times, with different arguments each time.
//!
//! [`Process::new`](crate::Process::new) sends a function once, to run once. A pool
//! worker is started once and then runs many tasks, each naming its own function. An
//! `Invoker` names the function the same way the process bootstrap does (see the
//! `entry` module, built on `multiproc_sync::foundation::CodeAddr`): as a distance
//! inside the executable's code, checked before use.
//!
//! It holds two pieces: the `EntryRef` of the process bootstrap's trampoline for
//! `(F, Args)` — so the anchor spacing, the in-text check and the type fingerprint are
//! the ones `entry` already verifies — and the distance from that trampoline to this
//! module's own monomorphized `invoke::<F, Args>`, which has a fixed, non-generic
//! signature. In the callee, `entry::resolve` checks the first, the second must land
//! in the executable's code too, and `invoke::<F, Args>` re-derives the `EntryRef` of
//! its own `(F, Args)` and refuses to run unless it equals the one it was sent.
//!
//! **Trust boundary.** These checks catch a different executable and corrupted
//! offsets that leave the code; they cannot prove that an offset inside the code lands
//! on an `invoke` instance before jumping there. An `Invoker` is therefore trusted
//! data: it travels only between processes of one program, on private socketpairs
//! (never a `Listener`, never a file), like the bootstrap's job. Do not accept one from
//! a peer you do not trust.
//!
//! ```
//! use multiproc_process::invoke::Invoker;
//! fn add(a: i32, b: i32) -> i32 { a + b }
//!
//! let inv = Invoker::of(add)?;
//! // The invoker and the encoded arguments can cross into any process running this
//! // executable (it is serde): here we call it in place.
//! let (args, fds) = multiproc_ipc::encode(&(2, 3))?;
//! let (out, fds) = inv.call(&args, fds)?;
//! assert_eq!(multiproc_ipc::decode::<i32>(&out, fds)?, 5);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![expect(
    unsafe_code,
    reason = "a function found by address is a transmute (`foundation::fn_at`)"
)]

use std::fmt;
use std::os::fd::OwnedFd;
use std::panic::{AssertUnwindSafe, catch_unwind};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::entry::{self, EntryRef};
use crate::error::StartError;
use crate::target::Target;

/// Encoded bytes plus the descriptors that travel beside them.
///
/// ```
/// use multiproc_process::invoke::{Encoded, Invoker};
/// fn double(x: i64) -> i64 { x * 2 }
/// let args: Encoded = multiproc_ipc::encode(&(21_i64,))?;
/// let (out, fds): Encoded = Invoker::of(double)?.call(&args.0, args.1)?;
/// assert_eq!(multiproc_ipc::decode::<i64>(&out, fds)?, 42);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub type Encoded = (Vec<u8>, Vec<OwnedFd>);

/// How the monomorphized `invoke::<F, A>` is called: fixed signature for every `F`.
type InvokeFn = fn(&EntryRef, Mode, &[u8], Vec<OwnedFd>) -> Result<Encoded, InvokeError>;

/// One call, or one call per element of a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    One,
    Chunk,
}

/// A position-independent, serializable reference to a [`Target`], callable many times
/// in any process that runs the same executable.
///
/// Made by [`Invoker::of`]; called with [`call`](Invoker::call) (one argument tuple) or
/// [`call_chunk`](Invoker::call_chunk) (a `Vec` of argument tuples, each call behind
/// its own `catch_unwind`). An invoker received from a different executable, or
/// tampered with, is refused with [`InvokeError::NotCallable`] — never jumped through.
///
/// ```
/// use multiproc_process::invoke::Invoker;
/// fn add(a: i32, b: i32) -> i32 { a + b }
/// let inv = Invoker::of(add)?;
/// let (args, fds) = multiproc_ipc::encode(&(2, 3))?;
/// let (out, fds) = inv.call(&args, fds)?;
/// assert_eq!(multiproc_ipc::decode::<i32>(&out, fds)?, 5);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Invoker {
    entry: EntryRefKey,
    /// `invoke::<F, A>` minus the bootstrap trampoline of `(F, A)`.
    delta: i64,
}

/// `EntryRef` made hashable for [`Invoker`]'s `Hash` (workers cache resolutions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct EntryRefKey(EntryRef);

impl std::hash::Hash for EntryRefKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.type_hash().hash(state);
    }
}

/// Why an [`Invoker`] call produced no value. Plain data: it crosses processes as is.
///
/// ```
/// use multiproc_process::invoke::{InvokeError, Invoker};
/// fn half(x: i32) -> i32 { x / 2 }
/// let (args, fds) = multiproc_ipc::encode(&("not a number",))?;
/// let err = Invoker::of(half)?.call(&args, fds).unwrap_err();
/// assert!(matches!(err, InvokeError::Decode(_)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum InvokeError {
    /// The reference does not name a function of this executable (another binary, a
    /// tampered reference, a type mismatch).
    NotCallable(String),
    /// The arguments did not decode as the function's parameter types.
    Decode(String),
    /// The return value could not be encoded.
    Encode(String),
    /// The function panicked; the panic message (`&str`/`String` payloads, otherwise a
    /// placeholder).
    Panicked(String),
}

impl fmt::Display for InvokeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvokeError::NotCallable(why) => write!(f, "function cannot be called here: {why}"),
            InvokeError::Decode(why) => write!(f, "could not decode the arguments: {why}"),
            InvokeError::Encode(why) => write!(f, "could not encode the return value: {why}"),
            InvokeError::Panicked(msg) => write!(f, "task panicked: {msg}"),
        }
    }
}

impl std::error::Error for InvokeError {}

/// Runs `f`, turning a panic into [`InvokeError::Panicked`]. The payload is leaked, as
/// in the child bootstrap: dropping a panic payload can itself panic.
fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, InvokeError> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
        let msg = crate::panic::panic_message(&*payload);
        std::mem::forget(payload);
        InvokeError::Panicked(msg)
    })
}

impl Invoker {
    /// The invoker of `f`, a function item or non-capturing closure (zero-sized,
    /// checked at compile time when the invoker is made).
    ///
    /// # Errors
    /// [`StartError::NotSpawnable`] when `f`'s code does not lie in the executable
    /// (built into a shared library).
    ///
    /// ```
    /// use multiproc_process::invoke::Invoker;
    /// fn one() -> u8 { 1 }
    /// let inv = Invoker::of(one)?;
    /// assert_eq!(inv, Invoker::of(one)?); // the same function: equal invokers
    /// inv.check()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn of<F, A>(f: F) -> Result<Self, StartError>
    where
        F: Target<A>,
        A: Serialize + DeserializeOwned + Send + 'static,
    {
        let _ = f;
        let entry = crate::child::entry_of::<F, A>()?;
        let tramp = entry::resolve(&entry).map_err(StartError::NotSpawnable)? as usize;
        let mine: InvokeFn = invoke::<F, A>;
        let mine = mine as usize;
        if !entry::in_text(mine) {
            return Err(StartError::NotSpawnable(format!(
                "{} is not in the executable's own code",
                std::any::type_name::<F>()
            )));
        }
        Ok(Invoker {
            entry: EntryRefKey(entry),
            delta: mine.wrapping_sub(tramp) as i64,
        })
    }

    /// Finds `invoke::<F, A>` in this process, or says why not.
    fn resolve(&self) -> Result<InvokeFn, InvokeError> {
        let tramp = entry::resolve(&self.entry.0).map_err(InvokeError::NotCallable)? as usize;
        let addr = tramp.wrapping_add(self.delta as usize);
        if !entry::in_text(addr) {
            return Err(InvokeError::NotCallable(format!(
                "invoker offset {:#x} lies outside the executable's code",
                self.delta
            )));
        }
        // SAFETY:
        // - `addr` is `trampoline + (invoke - trampoline)` as measured in the process that
        //   made the invoker, which runs the same executable file (`entry::resolve` has
        //   checked the anchor spacing and that the trampoline lies in this file's text);
        //   PIE relocation shifts the whole text by one bias, so the sum is the address
        //   of the same `invoke::<F, A>` instance here;
        // - `addr` lies in an executable mapping of this file (checked just above);
        // - every `invoke::<F, A>` has the type `InvokeFn`, the type produced here, and
        //   it checks on entry that the `EntryRef` it was sent is its own `(F, A)`'s
        //   before it touches its arguments.
        Ok(unsafe { multiproc_sync::foundation::fn_at::<InvokeFn>(addr) })
    }

    /// Checks that this invoker can be called in this process, without calling it.
    ///
    /// # Errors
    /// [`InvokeError::NotCallable`].
    ///
    /// ```
    /// use multiproc_process::invoke::Invoker;
    /// fn one() -> u8 { 1 }
    /// assert!(Invoker::of(one)?.check().is_ok()); // this executable: callable
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn check(&self) -> Result<(), InvokeError> {
        self.resolve().map(|_| ())
    }

    /// Calls the function once: `args` is the encoding of its argument tuple (with the
    /// descriptors that travelled beside it), the result the encoding of its return value.
    ///
    /// # Errors
    /// [`InvokeError`]: not callable here, arguments that do not decode, a return value
    /// that does not encode, or a panic (its message).
    ///
    /// ```
    /// use multiproc_process::invoke::Invoker;
    /// fn greet(name: String) -> String { format!("hello {name}") }
    /// let (args, fds) = multiproc_ipc::encode(&("ann".to_owned(),))?;
    /// let (out, fds) = Invoker::of(greet)?.call(&args, fds)?;
    /// assert_eq!(multiproc_ipc::decode::<String>(&out, fds)?, "hello ann");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn call(&self, args: &[u8], fds: Vec<OwnedFd>) -> Result<Encoded, InvokeError> {
        (self.resolve()?)(&self.entry.0, Mode::One, args, fds)
    }

    /// Calls the function once per element: `args` is the encoding of a `Vec` of
    /// argument tuples; the result is the encoding of a `Vec<Result<Output,
    /// InvokeError>>` of the same length, each call run behind its own `catch_unwind`
    /// (one panicking element does not lose the others).
    ///
    /// ```
    /// use multiproc_process::invoke::{InvokeError, Invoker};
    /// fn inv(x: i32) -> i32 { assert!(x != 0, "zero"); 100 / x }
    /// let (args, fds) = multiproc_ipc::encode(&vec![(5,), (0,), (50,)])?;
    /// let (out, fds) = Invoker::of(inv)?.call_chunk(&args, fds)?;
    /// let out: Vec<Result<i32, InvokeError>> = multiproc_ipc::decode(&out, fds)?;
    /// assert_eq!(out, [Ok(20), Err(InvokeError::Panicked("zero".into())), Ok(2)]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`call`](Self::call), for the chunk as a whole (not callable, `args` not a
    /// `Vec` of tuples, the results not encodable).
    pub fn call_chunk(&self, args: &[u8], fds: Vec<OwnedFd>) -> Result<Encoded, InvokeError> {
        (self.resolve()?)(&self.entry.0, Mode::Chunk, args, fds)
    }

    /// The type fingerprint of `(F, Args)` (equal invokers name the same function).
    ///
    /// ```
    /// use multiproc_process::invoke::Invoker;
    /// fn one() -> u8 { 1 }
    /// fn two() -> u16 { 2 }
    /// assert_eq!(Invoker::of(one)?.type_hash(), Invoker::of(one)?.type_hash());
    /// assert_ne!(Invoker::of(one)?.type_hash(), Invoker::of(two)?.type_hash());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn type_hash(&self) -> u64 {
        self.entry.0.type_hash()
    }
}

/// The monomorphized callee: checks that it is the function named, decodes, conjures
/// `F`, calls it, encodes.
fn invoke<F, A>(
    expected: &EntryRef,
    mode: Mode,
    args: &[u8],
    fds: Vec<OwnedFd>,
) -> Result<Encoded, InvokeError>
where
    F: Target<A>,
    A: Serialize + DeserializeOwned + Send + 'static,
{
    const {
        assert!(
            std::mem::size_of::<F>() == 0,
            "a pool task must be a function item or a non-capturing closure"
        )
    };
    match crate::child::entry_of::<F, A>() {
        Ok(mine) if mine == *expected => {}
        _ => {
            return Err(InvokeError::NotCallable(
                "target type mismatch between sender and receiver".into(),
            ));
        }
    }
    // The sender held a value of `F` (it was passed to `Invoker::of`); that this
    // function is `invoke::<F, A>` for the sender's `(F, A)` was checked just above.
    let f: F = entry::conjure::<F, A>();
    let encode = |r: Result<Encoded, multiproc_ipc::CodecError>| {
        r.map_err(|e| InvokeError::Encode(e.to_string()))
    };
    match mode {
        Mode::One => {
            let a: A =
                multiproc_ipc::decode(args, fds).map_err(|e| InvokeError::Decode(e.to_string()))?;
            let out = guarded(move || f.call(a))?;
            encode(multiproc_ipc::encode(&out))
        }
        Mode::Chunk => {
            let items: Vec<A> =
                multiproc_ipc::decode(args, fds).map_err(|e| InvokeError::Decode(e.to_string()))?;
            let out: Vec<Result<F::Output, InvokeError>> = items
                .into_iter()
                .map(|a| guarded(move || f.call(a)))
                .collect();
            encode(multiproc_ipc::encode(&out))
        }
    }
}

#[expect(dead_code, reason = "a compile-time check, never called")]
fn assert_send_sync() {
    fn both<T: Send + Sync>() {}
    both::<Invoker>();
    both::<InvokeError>();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square(x: i64) -> i64 {
        x * x
    }

    fn add(a: u8, b: String) -> String {
        format!("{b}{a}")
    }

    fn boom(msg: String) -> u8 {
        panic!("{msg}")
    }

    #[test]
    fn round_trip_through_serde_and_call() {
        let inv = Invoker::of(square).expect("in the test binary");
        let (bytes, fds) = multiproc_ipc::encode(&inv).expect("plain data");
        let back: Invoker = multiproc_ipc::decode(&bytes, fds).expect("decodes");
        assert_eq!(back, inv);
        let (args, fds) = multiproc_ipc::encode(&(7i64,)).expect("encodes");
        let (out, fds) = back.call(&args, fds).expect("callable");
        assert_eq!(multiproc_ipc::decode::<i64>(&out, fds).expect("i64"), 49);
        let inv2 = Invoker::of(add).expect("in the test binary");
        assert_ne!(inv2, inv);
        let (args, fds) = multiproc_ipc::encode(&(3u8, "x".to_string())).expect("encodes");
        let (out, fds) = inv2.call(&args, fds).expect("callable");
        assert_eq!(
            multiproc_ipc::decode::<String>(&out, fds).expect("str"),
            "x3"
        );
    }

    #[test]
    fn chunks_keep_per_item_outcomes() {
        let inv = Invoker::of(boom).expect("in the test binary");
        let (args, fds) =
            multiproc_ipc::encode(&vec![("a".to_string(),), ("b".to_string(),)]).expect("enc");
        let (out, fds) = inv.call_chunk(&args, fds).expect("callable");
        let out: Vec<Result<u8, InvokeError>> = multiproc_ipc::decode(&out, fds).expect("dec");
        assert_eq!(
            out,
            [
                Err(InvokeError::Panicked("a".into())),
                Err(InvokeError::Panicked("b".into()))
            ]
        );
    }

    #[test]
    fn panics_are_caught() {
        let inv = Invoker::of(boom).expect("in the test binary");
        let (args, fds) = multiproc_ipc::encode(&("kaboom".to_string(),)).expect("enc");
        assert_eq!(
            inv.call(&args, fds).map(|_| ()),
            Err(InvokeError::Panicked("kaboom".into()))
        );
    }

    #[test]
    fn bad_arguments_are_an_error() {
        let inv = Invoker::of(square).expect("in the test binary");
        assert!(matches!(
            inv.call(&[0xff, 0xff], Vec::new()),
            Err(InvokeError::Decode(_))
        ));
        let (args, fds) = multiproc_ipc::encode(&(1i64, 2i64)).expect("enc");
        assert!(matches!(inv.call(&args, fds), Err(InvokeError::Decode(_))));
    }

    #[test]
    fn tampered_invokers_are_refused() {
        let good = Invoker::of(square).expect("in the test binary");
        // An offset far outside the code.
        let mut bad = good;
        bad.delta = i64::MAX / 4;
        assert!(matches!(bad.check(), Err(InvokeError::NotCallable(_))));
        // Pointing at another function's invoke: the fingerprint check refuses it.
        let other = Invoker::of(add).expect("in the test binary");
        let mut mixed = good;
        mixed.delta = other.delta + (entry::resolve(&other.entry.0).expect("ok") as usize as i64)
            - (entry::resolve(&good.entry.0).expect("ok") as usize as i64);
        let (args, fds) = multiproc_ipc::encode(&(2i64,)).expect("enc");
        assert!(matches!(
            mixed.call(&args, fds),
            Err(InvokeError::NotCallable(_))
        ));
        // Flipped bytes that move the offset outside the executable's code are refused.
        // (An offset moved to another address *inside* the code is not detectable before
        // the jump: an invoker is trusted data that travels only on private channels
        // between processes of one program — see the module docs.)
        let (mut bytes, _) = multiproc_ipc::encode(&good).expect("enc");
        for b in bytes.iter_mut().take(8) {
            *b = 0xff;
        }
        if let Ok(inv) = multiproc_ipc::decode::<Invoker>(&bytes, Vec::new()) {
            assert!(inv.check().is_err() || inv == good);
        }
    }
}
