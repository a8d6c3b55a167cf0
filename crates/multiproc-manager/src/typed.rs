//! Support for the code `#[manager_type]` (the `multiproc-macros` crate) generates:
//! argument decoding with `TypeError`s, error mapping, and the `serde` path its
//! proxies serialize through. Not an API of its own: the generated code calls it.

use std::fmt::Display;

pub use serde;

use crate::error::{RemoteError, RemoteErrorKind};
use crate::value::{FromValue, Value};

/// `method() takes 2 arguments (3 given)` as a `TypeError`, or `Ok`.
///
/// # Errors
/// `got` is not `want`.
pub fn arity(method: &str, want: usize, got: usize) -> Result<(), RemoteError> {
    if want == got {
        return Ok(());
    }
    let s = if want == 1 { "" } else { "s" };
    Err(RemoteError::new(
        RemoteErrorKind::TypeError,
        format!("{method}() takes {want} argument{s} ({got} given)"),
    ))
}

/// Decodes argument `name` of `method`; a mismatch is a `TypeError` naming both.
///
/// # Errors
/// The argument is missing or not a `T`.
pub fn arg<T: FromValue>(method: &str, name: &str, v: Option<Value>) -> Result<T, RemoteError> {
    let v = v.ok_or_else(|| {
        RemoteError::new(
            RemoteErrorKind::TypeError,
            format!("{method}() missing argument '{name}'"),
        )
    })?;
    T::from_value(v).map_err(|e| {
        RemoteError::new(
            RemoteErrorKind::TypeError,
            format!("{method}() argument '{name}': {e}"),
        )
    })
}

/// A method's `Err(e)` as the `Custom` error the caller gets.
pub fn method_error<E: Display>(e: E) -> RemoteError {
    RemoteError::new(RemoteErrorKind::Custom, e.to_string())
}

/// The answer to a name that is not an exposed method.
pub fn no_method(typeid: &str, method: &str) -> RemoteError {
    RemoteError::new(
        RemoteErrorKind::NoSuchMethod,
        format!("'{typeid}' object has no exposed method '{method}'"),
    )
}

/// A method's result as a [`Value`].
pub fn ret<T: Into<Value>>(t: T) -> Value {
    t.into()
}
