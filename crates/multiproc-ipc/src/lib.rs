//! Typed, framed IPC between processes: the transport layer of multiproc.
//!
//! | item | what it is | CPython |
//! |---|---|---|
//! | [`Connection`] | one end of a framed channel: typed `send`/`recv`, raw `send_bytes`/`recv_bytes`, `poll` | `multiprocessing.connection.Connection` |
//! | [`Pipe`] | a connected pair (socketpair or pipe) | `multiprocessing.Pipe` |
//! | [`SharedSegment`] | anonymous shared memory (memfd) that can be passed | `multiprocessing.heap` |
//! | [`handle`] | how values holding OS handles cross into another process | `multiprocessing.reduction` |
//! | [`frame`] | the wire format (CPython-compatible) | `Connection._send_bytes` |
//!
//! ```
//! use multiproc_ipc::Pipe;
//! let (parent, child) = Pipe::duplex()?;
//! child.send(&vec![1u32, 2, 3])?;
//! assert_eq!(parent.recv::<Vec<u32>>()?, [1, 2, 3]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Platform support
//! Linux. The crate builds elsewhere only where rustix supports the calls it makes;
//! other platforms are not supported yet.
//!
//! # Limitations
//! Nothing this crate creates has a name in a filesystem except a Unix-socket
//! `Listener` address, which the listener removes when dropped; a listener killed with
//! SIGKILL leaves its socket file behind (CPython too).
#![doc(test(attr(deny(warnings))))]
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod auth;
pub mod error;
pub mod frame;
pub mod handle;

mod connection;
mod listener;
mod segment;
mod sys;
mod wait;

pub use auth::AuthError;
pub use connection::{Connection, DEFAULT_SPIN, Pipe, Transport};
pub use error::{CodecError, RecvError, SegmentError, SendError};
pub use handle::{
    MAX_HANDLES, PassFd, PassFdRef, decode, deserialize_fd, encode, encode_into, serialize_fd,
};
pub use listener::{
    Address, Client, ClientBuilder, ClientError, Listener, ListenerBuilder, ListenerError,
};
pub use segment::SharedSegment;
pub use wait::{wait, wait_indices};
