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
///
/// ```
/// use multiproc_manager::{RemoteErrorKind, typed::arity};
/// assert!(arity("add", 2, 2).is_ok());
/// let err = arity("add", 2, 3).unwrap_err();
/// assert_eq!(err.kind, RemoteErrorKind::TypeError);
/// assert_eq!(err.message, "add() takes 2 arguments (3 given)");
/// ```
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
///
/// ```
/// use multiproc_manager::{Value, typed::arg};
/// assert_eq!(arg::<i64>("add", "by", Some(Value::from(2)))?, 2);
/// assert!(arg::<i64>("add", "by", None).unwrap_err().message.contains("missing argument 'by'"));
/// assert!(arg::<i64>("add", "by", Some(Value::from("x"))).is_err()); // a TypeError
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
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
///
/// ```
/// use multiproc_manager::{RemoteErrorKind, typed::method_error};
/// let err = method_error("overdrawn");
/// assert_eq!((err.kind, err.message.as_str()), (RemoteErrorKind::Custom, "overdrawn"));
/// ```
pub fn method_error<E: Display>(e: E) -> RemoteError {
    RemoteError::new(RemoteErrorKind::Custom, e.to_string())
}

/// The answer to a name that is not an exposed method.
///
/// ```
/// use multiproc_manager::{RemoteErrorKind, typed::no_method};
/// let err = no_method("Counter", "fly");
/// assert_eq!(err.kind, RemoteErrorKind::NoSuchMethod);
/// assert_eq!(err.message, "'Counter' object has no exposed method 'fly'");
/// ```
pub fn no_method(typeid: &str, method: &str) -> RemoteError {
    RemoteError::new(
        RemoteErrorKind::NoSuchMethod,
        format!("'{typeid}' object has no exposed method '{method}'"),
    )
}

/// A method's result as a [`Value`].
///
/// ```
/// use multiproc_manager::{Value, typed::ret};
/// assert_eq!(ret(5_i64), Value::from(5));
/// assert_eq!(ret(()), Value::None);
/// ```
pub fn ret<T: Into<Value>>(t: T) -> Value {
    t.into()
}
