//! [`Target`]: what a started process runs.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// A function that a fresh process can find and call: implemented for every
/// `F: Fn(A1, …, An) -> R + Copy + Send + 'static` (arity 0 to 8) with
/// `Args = (A1, …, An)`, where the arguments and the return value are serde values
/// (handles such as a [`Connection`](multiproc_ipc::Connection) or a
/// [`SharedSegment`](multiproc_ipc::SharedSegment) included).
///
/// `F` must also be **zero-sized**: a function item (`greet`, `Self::run`) or a closure
/// that captures nothing. That is checked at compile time; a capturing closure can run
/// only in a fork of the caller, through [`Process::from_closure`](crate::Process::from_closure).
///
/// ```
/// use multiproc_process::{Process, Target};
/// fn add(a: i32, b: i32) -> i32 { a + b }
/// fn takes<F: Target<(i32, i32)>>(_: F) {}
/// takes(add);
/// let _builder = Process::new(add, (1, 2));
/// ```
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
