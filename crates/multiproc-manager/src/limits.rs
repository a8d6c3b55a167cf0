//! What one client may make a server do: the [`Limits`] a [`Server`](crate::Server)
//! enforces on every request.

use crate::deep::DEFAULT_MAX_DEPTH;
use crate::server::DEFAULT_MAX_REQUEST;

/// The bounds a manager server enforces on what clients ask of it. Past each one, the
/// offending call gets a typed error and the server carries on serving everyone.
///
/// Start from [`Limits::default`] and change fields; hand the result to
/// [`Server::with_limits`](crate::Server::with_limits), or to a server process through
/// [`Setup::limits`](crate::Setup::limits).
///
/// ```
/// use multiproc_manager::{Limits, Manager, Registry, RemoteErrorKind, Server, Value};
/// let mut limits = Limits::default();
/// limits.max_depth = 4;
/// let server = Server::with_limits(Registry::new(), limits);
/// let (a, b) = multiproc_ipc::Pipe::duplex()?;
/// server.spawn_connection(a);
/// let l = Manager::over(b).list()?;
/// l.append(vec![vec![1]])?; // three levels
/// let deep = Value::from(vec![vec![vec![vec![1]]]]); // five levels
/// assert_eq!(l.append(deep).unwrap_err().remote_kind(), Some(RemoteErrorKind::TooDeep));
/// assert_eq!(l.len()?, 1); // refused, and the connection still serves
/// server.shutdown();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// How deeply a value in a request may nest ([`DEFAULT_MAX_DEPTH`]): a scalar is one
    /// level, `[[1]]` three. A deeper request is answered with
    /// [`RemoteErrorKind::TooDeep`](crate::RemoteErrorKind::TooDeep) (the frame was read
    /// whole, so the connection stays usable). Decoding and encoding recurse once per
    /// level, so this bounds the server's stack use.
    pub max_depth: usize,
    /// The largest request frame, in bytes ([`DEFAULT_MAX_REQUEST`]). A larger frame
    /// closes that client's connection (the stream cannot be resynchronised).
    pub max_request: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: DEFAULT_MAX_DEPTH,
            max_request: DEFAULT_MAX_REQUEST,
        }
    }
}
