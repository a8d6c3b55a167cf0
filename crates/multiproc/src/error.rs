//! [`Error`]: one error type for programs that use several multiproc crates.

use std::fmt;

/// Any multiproc error, for `?` in programs that mix crates. Each variant wraps the
/// error of one operation family; match on it, or just print it (`source()` chains
/// to the cause).
///
/// ```
/// fn first_byte(conn: &multiproc::Connection) -> Result<u8, multiproc::Error> {
///     Ok(conn.recv::<u8>()?) // a `RecvError` becomes `Error::Recv`
/// }
/// let (a, b) = multiproc::Pipe::duplex()?;
/// a.send(&7_u8)?;
/// assert_eq!(first_byte(&b)?, 7);
/// drop(a);
/// assert!(matches!(first_byte(&b), Err(multiproc::Error::Recv(_)))); // end of file
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// Sending on a [`Connection`](crate::Connection).
    Send(multiproc_ipc::SendError),
    /// Receiving on a [`Connection`](crate::Connection).
    Recv(multiproc_ipc::RecvError),
    /// Encoding or decoding a value.
    Codec(multiproc_ipc::CodecError),
    /// Creating or mapping a shared segment.
    Segment(multiproc_ipc::SegmentError),
    /// Listening or accepting.
    Listener(multiproc_ipc::ListenerError),
    /// Connecting as a client.
    Client(multiproc_ipc::ClientError),
    /// Starting a process.
    #[cfg(feature = "process")]
    #[cfg_attr(docsrs, doc(cfg(feature = "process")))]
    Start(multiproc_process::StartError),
    /// Waiting for a process.
    #[cfg(feature = "process")]
    #[cfg_attr(docsrs, doc(cfg(feature = "process")))]
    Wait(multiproc_process::WaitError),
    /// A process that failed (panicked, exited non-zero, was killed).
    #[cfg(feature = "process")]
    #[cfg_attr(docsrs, doc(cfg(feature = "process")))]
    Process(multiproc_process::ProcessError),
    /// Choosing a start method.
    #[cfg(feature = "process")]
    #[cfg_attr(docsrs, doc(cfg(feature = "process")))]
    Context(multiproc_process::ContextError),
    /// Creating a synchronisation primitive.
    #[cfg(feature = "sync")]
    #[cfg_attr(docsrs, doc(cfg(feature = "sync")))]
    SyncCreate(multiproc_sync::CreateError),
    /// Releasing a lock or semaphore that was not held.
    #[cfg(feature = "sync")]
    #[cfg_attr(docsrs, doc(cfg(feature = "sync")))]
    Release(multiproc_sync::ReleaseError),
    /// A barrier that broke.
    #[cfg(feature = "sync")]
    #[cfg_attr(docsrs, doc(cfg(feature = "sync")))]
    Barrier(multiproc_sync::BarrierError),
    /// Creating a queue.
    #[cfg(feature = "queue")]
    #[cfg_attr(docsrs, doc(cfg(feature = "queue")))]
    QueueCreate(multiproc_queue::CreateError),
    /// Getting from a queue.
    #[cfg(feature = "queue")]
    #[cfg_attr(docsrs, doc(cfg(feature = "queue")))]
    Get(multiproc_queue::GetError),
    /// Putting on a queue (the item is dropped; match on the queue's own
    /// [`PutError`](multiproc_queue::PutError) to get it back).
    #[cfg(feature = "queue")]
    #[cfg_attr(docsrs, doc(cfg(feature = "queue")))]
    Put(String),
    /// Joining a `JoinableQueue`.
    #[cfg(feature = "queue")]
    #[cfg_attr(docsrs, doc(cfg(feature = "queue")))]
    QueueJoin(multiproc_queue::JoinError),
    /// A manager or proxy operation.
    #[cfg(feature = "manager")]
    #[cfg_attr(docsrs, doc(cfg(feature = "manager")))]
    Manager(multiproc_manager::Error),
    /// A shared-memory block operation.
    #[cfg(feature = "shared")]
    #[cfg_attr(docsrs, doc(cfg(feature = "shared")))]
    Shm(multiproc_shared::ShmError),
    /// A `ShareableList` operation.
    #[cfg(feature = "shared")]
    #[cfg_attr(docsrs, doc(cfg(feature = "shared")))]
    List(multiproc_shared::ListError),
    /// An index outside a shared array.
    #[cfg(feature = "shared")]
    #[cfg_attr(docsrs, doc(cfg(feature = "shared")))]
    Index(multiproc_shared::IndexError),
    /// A pool task or pool operation.
    #[cfg(feature = "pool")]
    #[cfg_attr(docsrs, doc(cfg(feature = "pool")))]
    Pool(multiproc_pool::Error),
    /// An operating-system error.
    Io(std::io::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Send(e) => e.fmt(f),
            Error::Recv(e) => e.fmt(f),
            Error::Codec(e) => e.fmt(f),
            Error::Segment(e) => e.fmt(f),
            Error::Listener(e) => e.fmt(f),
            Error::Client(e) => e.fmt(f),
            #[cfg(feature = "process")]
            Error::Start(e) => e.fmt(f),
            #[cfg(feature = "process")]
            Error::Wait(e) => e.fmt(f),
            #[cfg(feature = "process")]
            Error::Process(e) => e.fmt(f),
            #[cfg(feature = "process")]
            Error::Context(e) => e.fmt(f),
            #[cfg(feature = "sync")]
            Error::SyncCreate(e) => e.fmt(f),
            #[cfg(feature = "sync")]
            Error::Release(e) => e.fmt(f),
            #[cfg(feature = "sync")]
            Error::Barrier(e) => e.fmt(f),
            #[cfg(feature = "queue")]
            Error::QueueCreate(e) => e.fmt(f),
            #[cfg(feature = "queue")]
            Error::Get(e) => e.fmt(f),
            #[cfg(feature = "queue")]
            Error::Put(e) => f.write_str(e),
            #[cfg(feature = "queue")]
            Error::QueueJoin(e) => e.fmt(f),
            #[cfg(feature = "manager")]
            Error::Manager(e) => e.fmt(f),
            #[cfg(feature = "shared")]
            Error::Shm(e) => e.fmt(f),
            #[cfg(feature = "shared")]
            Error::List(e) => e.fmt(f),
            #[cfg(feature = "shared")]
            Error::Index(e) => e.fmt(f),
            #[cfg(feature = "pool")]
            Error::Pool(e) => e.fmt(f),
            Error::Io(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Send(e) => e.source(),
            Error::Recv(e) => e.source(),
            Error::Codec(e) => e.source(),
            Error::Segment(e) => e.source(),
            Error::Listener(e) => e.source(),
            Error::Client(e) => e.source(),
            #[cfg(feature = "process")]
            Error::Start(e) => e.source(),
            #[cfg(feature = "process")]
            Error::Wait(e) => e.source(),
            #[cfg(feature = "process")]
            Error::Process(e) => e.source(),
            #[cfg(feature = "process")]
            Error::Context(e) => e.source(),
            #[cfg(feature = "sync")]
            Error::SyncCreate(e) => e.source(),
            #[cfg(feature = "sync")]
            Error::Release(e) => e.source(),
            #[cfg(feature = "sync")]
            Error::Barrier(e) => e.source(),
            #[cfg(feature = "queue")]
            Error::QueueCreate(e) => e.source(),
            #[cfg(feature = "queue")]
            Error::Get(e) => e.source(),
            #[cfg(feature = "queue")]
            Error::Put(_) => None,
            #[cfg(feature = "queue")]
            Error::QueueJoin(e) => e.source(),
            #[cfg(feature = "manager")]
            Error::Manager(e) => e.source(),
            #[cfg(feature = "shared")]
            Error::Shm(e) => e.source(),
            #[cfg(feature = "shared")]
            Error::List(e) => e.source(),
            #[cfg(feature = "shared")]
            Error::Index(e) => e.source(),
            #[cfg(feature = "pool")]
            Error::Pool(e) => e.source(),
            Error::Io(e) => e.source(),
        }
    }
}

macro_rules! from {
    ($($(#[$m:meta])* $ty:ty => $var:ident),* $(,)?) => {$(
        $(#[$m])*
        impl From<$ty> for Error {
            fn from(e: $ty) -> Self {
                Error::$var(e)
            }
        }
    )*};
}

from! {
    multiproc_ipc::SendError => Send,
    multiproc_ipc::RecvError => Recv,
    multiproc_ipc::CodecError => Codec,
    multiproc_ipc::SegmentError => Segment,
    multiproc_ipc::ListenerError => Listener,
    multiproc_ipc::ClientError => Client,
    #[cfg(feature = "process")] multiproc_process::StartError => Start,
    #[cfg(feature = "process")] multiproc_process::WaitError => Wait,
    #[cfg(feature = "process")] multiproc_process::ProcessError => Process,
    #[cfg(feature = "process")] multiproc_process::ContextError => Context,
    #[cfg(feature = "sync")] multiproc_sync::CreateError => SyncCreate,
    #[cfg(feature = "sync")] multiproc_sync::ReleaseError => Release,
    #[cfg(feature = "sync")] multiproc_sync::BarrierError => Barrier,
    #[cfg(feature = "queue")] multiproc_queue::CreateError => QueueCreate,
    #[cfg(feature = "queue")] multiproc_queue::GetError => Get,
    #[cfg(feature = "queue")] multiproc_queue::JoinError => QueueJoin,
    #[cfg(feature = "manager")] multiproc_manager::Error => Manager,
    #[cfg(feature = "shared")] multiproc_shared::ShmError => Shm,
    #[cfg(feature = "shared")] multiproc_shared::ListError => List,
    #[cfg(feature = "shared")] multiproc_shared::IndexError => Index,
    #[cfg(feature = "pool")] multiproc_pool::Error => Pool,
    std::io::Error => Io,
}

#[cfg(feature = "queue")]
impl<T> From<multiproc_queue::PutError<T>> for Error {
    fn from(e: multiproc_queue::PutError<T>) -> Self {
        Error::Put(e.to_string())
    }
}
