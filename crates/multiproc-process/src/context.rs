//! Start methods and contexts (CPython's `context.py`).

use std::str::FromStr;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::ContextError;
use crate::global;
use crate::method::StartMethod;
use crate::process::{Process, ProcessBuilder};
use crate::target::Target;

impl<R: Serialize + DeserializeOwned + Send + 'static> ProcessBuilder<R> {
    /// Uses the start method of `ctx`.
    ///
    /// ```
    /// use multiproc_process::{Process, StartMethod, get_context};
    /// fn one() -> u8 { 1 }
    /// let ctx = get_context(Some(StartMethod::Fork));
    /// let p = Process::new(one, ()).context(&ctx).start()?;
    /// assert_eq!(p.start_method(), StartMethod::Fork);
    /// assert_eq!(p.join_value()?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn context(self, ctx: &Context) -> Self {
        self.start_method(ctx.start_method())
    }
}

impl FromStr for StartMethod {
    type Err = ContextError;

    /// ```
    /// use multiproc_process::StartMethod;
    /// assert_eq!("spawn".parse::<StartMethod>()?, StartMethod::Spawn);
    /// assert!("thread".parse::<StartMethod>().is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn from_str(s: &str) -> Result<Self, ContextError> {
        match s {
            "fork" => Ok(StartMethod::Fork),
            "spawn" => Ok(StartMethod::Spawn),
            "forkserver" => Ok(StartMethod::ForkServer),
            other => Err(ContextError::UnknownMethod(other.to_string())),
        }
    }
}

/// Sets the process-wide start method (CPython's `set_start_method(method)`). It can be
/// set once, and not after a process was started with the default.
///
/// ```
/// use multiproc_process::{set_start_method, get_start_method, StartMethod, ContextError};
/// set_start_method(StartMethod::Spawn)?;
/// assert_eq!(get_start_method(), StartMethod::Spawn);
/// assert_eq!(set_start_method(StartMethod::Fork), Err(ContextError::AlreadySet(StartMethod::Spawn)));
/// # Ok::<(), ContextError>(())
/// ```
///
/// # Errors
/// [`ContextError::AlreadySet`] when it was set (or fixed by use) before.
pub fn set_start_method(method: StartMethod) -> Result<(), ContextError> {
    let mut g = global::lock();
    match g.start_method {
        Some(m) => Err(ContextError::AlreadySet(m)),
        None => {
            g.start_method = Some(method);
            Ok(())
        }
    }
}

/// Sets the start method even if it was set (CPython's `force=True`).
///
/// ```
/// use multiproc_process::{StartMethod, force_start_method, get_start_method, set_start_method};
/// set_start_method(StartMethod::Fork)?;
/// assert!(set_start_method(StartMethod::Spawn).is_err()); // already set
/// force_start_method(StartMethod::Spawn); // `force=True`
/// assert_eq!(get_start_method(), StartMethod::Spawn);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn force_start_method(method: StartMethod) {
    global::lock().start_method = Some(method);
}

/// The process-wide start method, fixing the default if none was set (CPython's
/// `get_start_method()`).
///
/// ```
/// use multiproc_process::{DEFAULT_START_METHOD, StartMethod, get_start_method, set_start_method};
/// assert_eq!(get_start_method(), DEFAULT_START_METHOD); // fixed now if none was set
/// assert!(set_start_method(StartMethod::Fork).is_err()); // so it can no longer be set
/// ```
pub fn get_start_method() -> StartMethod {
    global::start_method()
}

/// All start methods this platform supports, the default first (CPython's
/// `get_all_start_methods()`).
///
/// ```
/// use multiproc_process::{DEFAULT_START_METHOD, StartMethod, get_all_start_methods};
/// let all = get_all_start_methods();
/// assert_eq!(all[0], DEFAULT_START_METHOD);
/// assert!(all.contains(&StartMethod::Fork) && all.contains(&StartMethod::Spawn));
/// ```
pub fn get_all_start_methods() -> [StartMethod; 3] {
    [
        StartMethod::ForkServer,
        StartMethod::Spawn,
        StartMethod::Fork,
    ]
}

/// A start method bound to a value (CPython's `get_context(method)`): processes made
/// through it use that method whatever the process-wide default.
///
/// ```
/// use multiproc_process::{get_context, StartMethod};
/// fn id(x: u8) -> u8 { x }
/// let ctx = get_context(Some(StartMethod::Spawn));
/// let p = ctx.process(id, (5,)).start()?;
/// assert_eq!(p.start_method(), StartMethod::Spawn);
/// assert_eq!(p.join_value()?, 5);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Context {
    method: StartMethod,
}

/// A [`Context`] for `method`, or for the process-wide method when `None`.
///
/// ```
/// use multiproc_process::{StartMethod, get_context, get_start_method};
/// assert_eq!(get_context(Some(StartMethod::Spawn)).start_method(), StartMethod::Spawn);
/// assert_eq!(get_context(None).start_method(), get_start_method());
/// ```
pub fn get_context(method: Option<StartMethod>) -> Context {
    Context {
        method: method.unwrap_or_else(global::start_method),
    }
}

impl Context {
    /// The start method of this context.
    ///
    /// ```
    /// use multiproc_process::{StartMethod, get_context};
    /// let ctx = get_context(Some(StartMethod::ForkServer));
    /// assert_eq!(ctx.start_method(), StartMethod::ForkServer);
    /// ```
    pub fn start_method(&self) -> StartMethod {
        self.method
    }

    /// [`Process::new`] with this context's start method.
    ///
    /// ```
    /// use multiproc_process::{StartMethod, get_context};
    /// fn add(a: i32, b: i32) -> i32 { a + b }
    /// let ctx = get_context(Some(StartMethod::Fork));
    /// let p = ctx.process(add, (2, 3)).start()?;
    /// assert_eq!(p.start_method(), StartMethod::Fork);
    /// assert_eq!(p.join_value()?, 5);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn process<F, A>(&self, f: F, args: A) -> ProcessBuilder<F::Output>
    where
        F: Target<A>,
        A: Serialize + DeserializeOwned + Send + 'static,
    {
        assert_process_target!(F);
        Process::new(f, args).start_method(self.method)
    }

    /// [`Process::from_closure`] with this context's start method.
    ///
    /// ```
    /// use multiproc_process::{StartMethod, get_context};
    /// let ctx = get_context(Some(StartMethod::Fork));
    /// let base = 40;
    /// let p = ctx.process_from_closure(move || base + 2).start()?;
    /// assert_eq!(p.join_value()?, 42);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn process_from_closure<C, T>(&self, c: C) -> ProcessBuilder<T>
    where
        C: FnOnce() -> T + Send + 'static,
        T: Serialize + DeserializeOwned + Send + 'static,
    {
        Process::from_closure(c).start_method(self.method)
    }
}
