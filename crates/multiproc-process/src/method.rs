//! [`StartMethod`]: how a child process comes to be.

use std::fmt;

use serde::{Deserialize, Serialize};

/// How a child process comes to be.
///
/// | method | child is | targets | cost (see docs/benchmarks/process.md) |
/// |---|---|---|---|
/// | `Fork` | a fork of the caller | any closure ([`Process::from_closure`](crate::Process::from_closure)) and functions | cheapest; hazardous in a threaded parent |
/// | `Spawn` | a fresh run of this executable | functions ([`Process::new`](crate::Process::new)) | an `execve` per child |
/// | `ForkServer` | a fork of a single-threaded server started on first use | functions | one fork + two messages per child |
///
/// The default is `ForkServer`, as in CPython 3.14 on Linux: it is safe in a threaded
/// parent (`Fork` is not, KI-05) and much cheaper per child than `Spawn`.
///
/// ```
/// use multiproc_process::{Process, StartMethod, get_all_start_methods};
///
/// fn pid() -> u32 { std::process::id() }
///
/// for method in get_all_start_methods() {
///     let p = Process::new(pid, ()).start_method(method).start()?;
///     assert_eq!(p.start_method(), method);
///     let child = p.pid();
///     assert_eq!(p.join_value()?, child, "{method}");
/// }
/// assert_eq!(StartMethod::ForkServer.as_str(), "forkserver");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
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
    ///
    /// ```
    /// use multiproc_process::StartMethod;
    /// assert_eq!(StartMethod::Fork.as_str(), "fork");
    /// assert_eq!(StartMethod::ForkServer.as_str(), "forkserver");
    /// ```
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

/// The default when none was set: fork server.
///
/// ```
/// use multiproc_process::{DEFAULT_START_METHOD, StartMethod, get_start_method};
/// assert_eq!(DEFAULT_START_METHOD, StartMethod::ForkServer);
/// assert_eq!(get_start_method(), DEFAULT_START_METHOD); // none set in this program
/// ```
pub const DEFAULT_START_METHOD: StartMethod = StartMethod::ForkServer;
