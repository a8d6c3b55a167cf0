//! [`Target`]: what a started process runs.

/// The zero-size requirement of a [`Target`], asserted in the body of each public
/// function that takes one for a process, so that the error names the user's call
/// ("the above error was encountered while instantiating `fn Process::new::<…>`"
/// points at it) and gives the fix for a process.
macro_rules! assert_process_target {
    ($f:ty) => {
        const {
            assert!(
                std::mem::size_of::<$f>() == 0,
                "a `Process::new` target must be a function item or a closure that captures \
                 nothing; pass what it would capture in the arguments tuple \
                 (`Process::new(f, (x, k))`), or run the closure in a fork of this process: \
                 `Process::from_closure(move || ...).start_method(StartMethod::Fork)`"
            )
        }
    };
}

use serde::Serialize;
use serde::de::DeserializeOwned;

/// A function that a fresh process can find and call: implemented for every
/// `F: Fn(A1, …, An) -> R + Copy + Send + 'static` (arity 0 to 8) with
/// `Args = (A1, …, An)`, where the arguments and the return value are serde values
/// (handles such as a [`Connection`](multiproc_ipc::Connection) or a
/// [`SharedSegment`](multiproc_ipc::SharedSegment) included).
///
/// `F` must also be **zero-sized**: a function item (`greet`, `Self::run`) or a closure
/// that captures nothing. A capturing closure can run only in a fork of the caller,
/// through [`Process::from_closure`](crate::Process::from_closure); a pool task takes
/// what it would capture as arguments (`starmap` over tuples).
///
/// What the compiler says, and when:
/// * A closure that captures something that is not `Copy` (a `String`, a `Vec`) or
///   borrows (no `move`) fails the bounds above: `cargo check` and the IDE report it
///   at the call (rustc words it as a missing `Copy` or a borrow that may outlive the
///   call).
/// * A `move` closure that captures only `Copy` values satisfies every bound: stable
///   Rust has no trait for "zero-sized", and a closure's size is known only after
///   monomorphization, which `cargo check` does not do. `cargo build` (and `cargo
///   test`) then fail with an error whose last note points at the user's call
///   (`Process::new`, `Context::process`, every `Pool` method taking a function) and
///   whose message names the fix for that API: the arguments tuple or
///   `Process::from_closure` for a process, task arguments for a pool. Follow-up
///   errors from inside the library repeat the requirement.
///
/// ```
/// use multiproc_process::{Process, Target};
/// fn add(a: i32, b: i32) -> i32 { a + b }
/// fn takes<F: Target<(i32, i32)>>(_: F) {}
/// takes(add);
/// let _builder = Process::new(add, (1, 2));
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot run in another process as a target taking `{Args}`",
    label = "not a function item or a closure that captures nothing (of serde arguments)",
    note = "a target is a function item (`fn task(x: T) -> R`) or a closure that captures nothing, whose arguments and return value are serde values",
    note = "for `Process::new(f, args)`: pass captured values in `args`, or run a capturing closure in a fork with `Process::from_closure(move || ...).start_method(StartMethod::Fork)`",
    note = "for a pool (`map`, `apply`, ...): pass captured values as task arguments, e.g. `starmap(f, items)` over tuples `(x, k)`"
)]
pub trait Target<Args>: Copy + Send + 'static {
    /// The return type, handed back by [`Process::join_value`](crate::Process::join_value).
    type Output: Serialize + DeserializeOwned + Send + 'static;

    /// Calls the function with the unpacked arguments.
    fn call(self, args: Args) -> Self::Output;
}

macro_rules! impl_target {
    ($($a:ident),*) => {
        impl<Func, Ret, $($a,)*> Target<($($a,)*)> for Func
        where
            Func: Fn($($a),*) -> Ret + Copy + Send + 'static,
            Ret: Serialize + DeserializeOwned + Send + 'static,
            $($a: Serialize + DeserializeOwned + Send + 'static,)*
        {
            type Output = Ret;

            // not expect: which of the two lints fires depends on the arity (none
            // for a nullary function), and an unfulfilled `expect` is an error.
            #[allow(non_snake_case, clippy::unused_unit)]
            fn call(self, args: ($($a,)*)) -> Ret {
                let ($($a,)*) = args;
                (self)($($a),*)
            }
        }
    };
}

impl_target!();
impl_target!(A1);
impl_target!(A1, A2);
impl_target!(A1, A2, A3);
impl_target!(A1, A2, A3, A4);
impl_target!(A1, A2, A3, A4, A5);
impl_target!(A1, A2, A3, A4, A5, A6);
impl_target!(A1, A2, A3, A4, A5, A6, A7);
impl_target!(A1, A2, A3, A4, A5, A6, A7, A8);
