//! Procedural macros for multiproc: [`#[manager_type]`](macro@manager_type) turns the
//! methods of a Rust type into a custom manager type with a typed proxy, checked at
//! compile time (CPython's `BaseManager.register` with `exposed=`).
//!
//! | item | what it is | CPython |
//! |---|---|---|
//! | [`manager_type`](macro@manager_type) | attribute on an inherent `impl` block: the `Shared` impl, dispatch by name, a typed `…Proxy` | `MyManager.register('Maths', MathsClass)` |
//!
//! Use it through `multiproc_manager::manager_type` (or `multiproc::manager_type`):
//! the generated code names the manager crate by that path.
//!
//! ```
//! use multiproc_manager::{manager_type, Manager, Registry};
//!
//! struct Maths;
//!
//! #[manager_type]
//! impl Maths {
//!     fn new() -> Self {
//!         Maths
//!     }
//!     fn add(&self, x: i64, y: i64) -> i64 {
//!         x + y
//!     }
//!     fn mul(&self, x: f64, y: f64) -> f64 {
//!         x * y
//!     }
//! }
//!
//! let mut registry = Registry::new();
//! registry.register::<Maths>();
//! let manager = Manager::in_thread_with(registry)?;
//! let maths = MathsProxy::create(&manager)?;
//! assert_eq!(maths.add(4, 3)?, 7);
//! assert_eq!(maths.mul(7.0, 8.0)?, 56.0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Platform support
//! Whatever the manager crate supports (the macro itself runs in the compiler).
//!
//! # Limitations
//! * The type must not be generic, and methods take owned arguments (no `&str`).
//! * A method whose result becomes a *new* server-side object (CPython's
//!   `method_to_typeid`) names a registered type (or `"list"`/`"dict"`), built from the
//!   result by its constructor: see [`manager_type`](macro@manager_type).
#![doc(test(attr(deny(warnings))))]
#![forbid(unsafe_code)]

mod expand;

use proc_macro::TokenStream;

/// Turns an inherent `impl` block into a custom manager type with a typed proxy.
///
/// ```
/// # use multiproc_manager::{manager_type, Manager, Registry};
/// #[derive(Default)]
/// struct Counter(i64);
///
/// #[manager_type(typeid = "counter")]
/// impl Counter {
///     fn new(start: i64) -> Self {
///         Counter(start)
///     }
///     fn incr(&mut self) -> i64 {
///         self.bump(1)
///     }
///     fn checked_div(&self, by: i64) -> Result<i64, String> {
///         self.0.checked_div(by).ok_or_else(|| "division by zero".to_owned())
///     }
///     #[skip]
///     fn bump(&mut self, by: i64) -> i64 {
///         self.0 += by;
///         self.0
///     }
/// }
///
/// let mut registry = Registry::new();
/// registry.register::<Counter>();
/// let manager = Manager::in_thread_with(registry)?;
/// let c = CounterProxy::create(&manager, 41)?;
/// assert_eq!(c.incr()?, 42);
/// assert_eq!(c.checked_div(2)?, 21);
/// assert!(c.checked_div(0).is_err());
/// // `bump` is not exposed: the dynamic call is refused by the server
/// assert!(c.call::<i64>("bump", (1,)).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// It generates, beside the impl block (kept as written, minus the markers):
/// * `impl Shared for T`: `TYPEID` is the type's name, or `typeid = "…"`; `new`
///   decodes the arguments of the `new` function (or calls `Default::default()` when
///   the block has none); `call` dispatches by method name, decoding each argument with
///   `FromValue`. A wrong number of arguments or an argument of the wrong type is
///   answered with a `TypeError` [`RemoteError`], never a panic.
/// * `TProxy` (or `proxy = "Name"`), a typed proxy: `TProxy::create(&manager, args…)`
///   and one method per exposed method, `fn add(&self, x: i64, y: i64) -> Result<i64,
///   Error>`: a call with arguments of the wrong type does not compile. It derefs to
///   `Proxy<T>` (for `call`, `id`), is `Clone`, `Debug`, `Display`, and serializes like
///   every proxy (send it to a child under any start method: it reconnects). It
///   converts into a `Value` (`Value::from(&proxy)`), so it can be stored in a managed
///   container or passed to another object's method.
///
/// Which methods are exposed (CPython's `exposed=`): the block is the interface. Every
/// method of the block taking `&self` or `&mut self` is exposed, except those marked
/// `#[skip]` and those whose name starts with `_` (CPython's default), which
/// `#[expose]` brings back. Associated functions other than `new` are not exposed, nor
/// are methods of other `impl` blocks of the type: put helpers there. Visibility is the
/// Rust caller's business and plays no part. Calling any other name is answered with
/// `NoSuchMethod`.
///
/// Options: `typeid = "…"` (the registered name; the type's name by default),
/// `proxy = "…"` (the proxy type's name; `TProxy` by default), `vis = "…"` (the proxy's
/// visibility; `pub` by default). The typed proxy already has `create`, `call` and
/// `id`: a method of one of these names must be renamed or `#[skip]`ped.
///
/// A method returning `Result<T, E>` with `E: Display` answers `Err(e)` as a `Custom`
/// remote error carrying `e.to_string()`; the typed proxy method returns `Result<T,
/// Error>`. Argument types must be `FromValue` and `Into<Value>`, return types
/// `Into<Value>` and `FromValue`.
///
/// A method may hand out a proxy it holds (take and return a `Value` or `ObjRef`), and
/// `#[returns(ListProxy<i64>)]` on it makes the typed proxy return that proxy type.
/// CPython's `method_to_typeid` — the method's result becomes a *new* managed object
/// and the caller gets a proxy to it — is `#[method_to_typeid("Counter")]` on the
/// method (with `#[returns(CounterProxy)]` for the typed proxy): the server builds a
/// `Counter` with the result as its constructor's one argument (`"list"` and `"dict"`
/// take a list or dict result as it is). See
/// [`Shared::METHOD_TO_TYPEID`](https://docs.rs/multiproc-manager/latest/multiproc_manager/trait.Shared.html#associatedconstant.METHOD_TO_TYPEID).
///
/// [`RemoteError`]: https://docs.rs/multiproc-manager/latest/multiproc_manager/struct.RemoteError.html
#[proc_macro_attribute]
pub fn manager_type(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::expand(attr.into(), item.into(), quote::quote!(::multiproc_manager))
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// [`manager_type`](macro@manager_type) as re-exported by the `multiproc` facade: the
/// generated code names the manager crate `::multiproc::manager`.
#[doc(hidden)]
#[proc_macro_attribute]
pub fn facade_manager_type(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::expand(
        attr.into(),
        item.into(),
        quote::quote!(::multiproc::manager),
    )
    .unwrap_or_else(syn::Error::into_compile_error)
    .into()
}
