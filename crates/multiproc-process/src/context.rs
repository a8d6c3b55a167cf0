//! Start methods and contexts (CPython's `context.py`).

use std::fmt;
use std::str::FromStr;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::ContextError;
use crate::global;
use crate::process::{Process, ProcessBuilder};
use crate::target::Target;

/// How a child process comes to be.
///
/// | method | child is | targets | cost (see docs/benchmarks/process.md) |
/// |---|---|---|---|
/// | `Fork` | a fork of the caller | any closure ([`Process::from_closure`]) and functions | cheapest; hazardous in a threaded parent |
/// | `Spawn` | a fresh run of this executable | functions ([`Process::new`]) | an `execve` per child |
/// | `ForkServer` | a fork of a single-threaded server started on first use | functions | one fork + two messages per child |
///
/// The default is `ForkServer`, as in CPython 3.14 on Linux: it is safe in a threaded
/// parent (`Fork` is not, KI-05) and much cheaper per child than `Spawn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum StartMethod {
    /// `fork()` the calling process; the child runs the target in a copy of the parent.
    /// Only fork-safe work may be done in the child if the parent has other threads.
    Fork,
    /// Re-execute `/proc/self/exe`; the child receives the target and its arguments.
    Spawn,
    /// Ask a fork server (a single-threaded re-exec started on first use) to fork.
    ForkServer,
}

impl StartMethod {
    /// CPython's name: `fork`, `spawn`, `forkserver`.
    pub fn as_str(self) -> &'static str {
        match self {
            StartMethod::Fork => "fork",
            StartMethod::Spawn => "spawn",
            StartMethod::ForkServer => "forkserver",
        }
    }
}

impl fmt::Display for StartMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
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

/// The default when none was set: fork server.
pub const DEFAULT_START_METHOD: StartMethod = StartMethod::ForkServer;

/// The process-wide method; the first use fixes it (as CPython's `_actual_context`).
pub(crate) fn default_method() -> StartMethod {
    let mut g = global::lock();
    *g.start_method.get_or_insert(DEFAULT_START_METHOD)
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
pub fn force_start_method(method: StartMethod) {
    global::lock().start_method = Some(method);
}

/// The process-wide start method, fixing the default if none was set (CPython's
/// `get_start_method()`).
pub fn get_start_method() -> StartMethod {
    default_method()
}

/// All start methods this platform supports, the default first (CPython's
/// `get_all_start_methods()`).
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
pub fn get_context(method: Option<StartMethod>) -> Context {
    Context {
        method: method.unwrap_or_else(default_method),
    }
}

impl Context {
    /// The start method of this context.
    pub fn start_method(&self) -> StartMethod {
        self.method
    }

    /// [`Process::new`] with this context's start method.
    pub fn process<F, A>(&self, f: F, args: A) -> ProcessBuilder<F::Output>
    where
        F: Target<A>,
        A: Serialize + DeserializeOwned + Send + 'static,
    {
        Process::new(f, args).start_method(self.method)
    }

    /// [`Process::from_closure`] with this context's start method.
    pub fn process_from_closure<C, T>(&self, c: C) -> ProcessBuilder<T>
    where
        C: FnOnce() -> T + Send + 'static,
        T: Serialize + DeserializeOwned + Send + 'static,
    {
        Process::from_closure(c).start_method(self.method)
    }
}
