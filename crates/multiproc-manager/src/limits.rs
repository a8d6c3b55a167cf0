//! What one client may make a server do: the [`Limits`] a [`Server`](crate::Server)
//! enforces on every request.

use crate::deep::DEFAULT_MAX_DEPTH;

/// Default limit on one request frame: 64 MiB. A larger frame closes that client's
/// connection (the stream cannot be resynchronised); the server and other clients
/// carry on.
///
/// ```
/// use multiproc_manager::{DEFAULT_MAX_REQUEST, Limits};
/// assert_eq!(Limits::default().max_request, DEFAULT_MAX_REQUEST);
/// ```
pub const DEFAULT_MAX_REQUEST: u64 = 64 << 20;

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
/// let refused = l.append(deep).err().and_then(|e| e.remote_kind());
/// assert_eq!(refused, Some(RemoteErrorKind::TooDeep));
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
    /// The largest request frame, in bytes ([`DEFAULT_MAX_REQUEST`]), and never more
    /// than [`memory_budget`](Self::memory_budget) (see [`frame_limit`](Self::frame_limit)).
    /// A larger frame closes that client's connection (the stream cannot be
    /// resynchronised). Decoding a frame may build at most a budget's worth of values
    /// (a one-byte `None` decodes to a 32-byte node); a request that holds more is
    /// refused with [`RemoteErrorKind::MemoryBudget`](crate::RemoteErrorKind::MemoryBudget).
    pub max_request: u64,
    /// The bytes of data the server may hold, approximately ([`DEFAULT_MEMORY_BUDGET`]):
    /// the values in dicts, lists, namespaces, queues, `Value`s and `Array`s, published
    /// names, plus a fixed cost per object. Every operation that adds data is charged
    /// an upper bound of what it adds *before* it allocates (`l *= n` is charged `n - 1`
    /// times the list); past the budget it is refused with
    /// [`RemoteErrorKind::MemoryBudget`](crate::RemoteErrorKind::MemoryBudget), changing
    /// nothing. Data removed or objects destroyed are credited back.
    pub memory_budget: u64,
    /// How many objects the server may hold at once ([`DEFAULT_MAX_OBJECTS`]); creating
    /// more is refused with [`RemoteErrorKind::TooManyObjects`](crate::RemoteErrorKind::TooManyObjects).
    pub max_objects: usize,
    /// How many calls of one client may wait at once inside the server (an `acquire`
    /// of a held lock, a `get` on an empty queue: each waits on a thread of its own),
    /// [`DEFAULT_MAX_WAITING_PER_CLIENT`]. One more is refused with
    /// [`RemoteErrorKind::TooManyWaiting`](crate::RemoteErrorKind::TooManyWaiting).
    pub max_waiting_per_client: usize,
    /// How many calls of all clients may wait at once ([`DEFAULT_MAX_WAITING`]).
    pub max_waiting: usize,
    /// How many client connections the server serves at once ([`DEFAULT_MAX_CLIENTS`]),
    /// each on a thread of its own. A connection past it is closed at once (the client
    /// sees the manager gone); those already served carry on.
    pub max_clients: usize,
}

/// Default [`Limits::max_clients`]: 4096.
///
/// ```
/// use multiproc_manager::{DEFAULT_MAX_CLIENTS, Limits};
/// assert_eq!(Limits::default().max_clients, DEFAULT_MAX_CLIENTS);
/// ```
pub const DEFAULT_MAX_CLIENTS: usize = 4096;

/// Default [`Limits::memory_budget`]: 2 GiB.
///
/// ```
/// use multiproc_manager::{DEFAULT_MEMORY_BUDGET, Limits};
/// assert_eq!(Limits::default().memory_budget, DEFAULT_MEMORY_BUDGET);
/// ```
pub const DEFAULT_MEMORY_BUDGET: u64 = 2 << 30;

/// Default [`Limits::max_objects`]: 1,048,576.
///
/// ```
/// use multiproc_manager::{DEFAULT_MAX_OBJECTS, Limits};
/// assert_eq!(Limits::default().max_objects, DEFAULT_MAX_OBJECTS);
/// ```
pub const DEFAULT_MAX_OBJECTS: usize = 1 << 20;

/// Default [`Limits::max_waiting_per_client`]: 256.
///
/// ```
/// use multiproc_manager::{DEFAULT_MAX_WAITING_PER_CLIENT, Limits};
/// assert_eq!(Limits::default().max_waiting_per_client, DEFAULT_MAX_WAITING_PER_CLIENT);
/// ```
pub const DEFAULT_MAX_WAITING_PER_CLIENT: usize = 256;

/// Default [`Limits::max_waiting`]: 4096 (threads, each with its stack).
///
/// ```
/// use multiproc_manager::{DEFAULT_MAX_WAITING, Limits};
/// let limits = Limits::default();
/// assert_eq!(limits.max_waiting, DEFAULT_MAX_WAITING);
/// assert!(limits.max_waiting_per_client <= limits.max_waiting);
/// ```
pub const DEFAULT_MAX_WAITING: usize = 4096;

impl Limits {
    /// The frame limit in force: [`max_request`](Self::max_request), at most the
    /// memory budget.
    ///
    /// ```
    /// use multiproc_manager::Limits;
    /// let mut limits = Limits::default();
    /// limits.max_request = 1 << 20;
    /// limits.memory_budget = 4096;
    /// assert_eq!(limits.frame_limit(), 4096); // never more than the budget
    /// ```
    pub fn frame_limit(&self) -> u64 {
        self.max_request.min(self.memory_budget)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: DEFAULT_MAX_DEPTH,
            max_request: DEFAULT_MAX_REQUEST,
            memory_budget: DEFAULT_MEMORY_BUDGET,
            max_objects: DEFAULT_MAX_OBJECTS,
            max_waiting_per_client: DEFAULT_MAX_WAITING_PER_CLIENT,
            max_waiting: DEFAULT_MAX_WAITING,
            max_clients: DEFAULT_MAX_CLIENTS,
        }
    }
}
