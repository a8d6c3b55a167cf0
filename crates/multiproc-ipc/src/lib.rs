//! Typed, framed IPC between processes: the transport layer of multiproc.
//!
//! | item | what it is | CPython |
//! |---|---|---|
//! | [`Connection`] | one end of a framed channel: typed `send`/`recv`, raw `send_bytes`/`recv_bytes`, `poll` | `multiprocessing.connection.Connection` |
//! | [`Pipe`] | a connected pair (socketpair or pipe) | `multiprocessing.Pipe` |
//! | [`bulk`]: [`Bytes`], [`PodVec`], [`PodSlice`] | bytes and plain-old-data arrays inside typed messages, copied in one go | pickle protocol 5's out-of-band buffers |
//! | [`SharedSegment`] | anonymous shared memory (memfd) that can be passed | `multiprocessing.heap` |
//! | [`SharedBytes`] | a large raw message read in place in its shared-memory segment ([`Connection::recv_bytes_shared`]) | pickle 5's `PickleBuffer` over shared memory |
//! | [`handle`] | how values holding OS handles cross into another process | `multiprocessing.reduction` |
//! | [`frame`] | the wire format (CPython-compatible) | `Connection._send_bytes` |
//! | [`Listener`] / [`Client`] | connections by [`Address`] (Unix path, abstract name, TCP), authkey handshake | `multiprocessing.connection.Listener` / `Client` |
//! | [`auth`] | the challenge/response handshake (3.11 HMAC-MD5 and 3.12+ `{sha256}`), sans-I/O | `deliver_challenge` / `answer_challenge` |
//! | [`pickle`] | a data-only pickle codec: `send_pickle`/`recv_pickle` with a CPython peer's `send(obj)`/`recv()`, no code execution | `pickle` |
//! | [`wait`] / [`wait_indices`] | wait on many connections, sockets, pidfds | `multiprocessing.connection.wait` |
//! | `aio` (feature `tokio`) | `AsyncConnection`, `AsyncListener`, `AsyncClient`: the same wire as futures, cancel safe | `asyncio` streams |
//!
//! ```
//! use multiproc_ipc::Pipe;
//! let (parent, child) = Pipe::duplex()?;
//! child.send(&(1u32, "two".to_string()))?;
//! assert_eq!(parent.recv::<(u32, String)>()?, (1, "two".into()));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Bulk data: the fast path
//! Bytes and arrays of numbers go in a [`Bytes`] or [`PodVec`] (or a field marked
//! `#[serde(with = "multiproc_ipc::bulk::pod")]`): they are copied as one block,
//! where a plain `Vec<u8>`/`Vec<f64>` is encoded and decoded one element at a time
//! (1 MiB through a pipe: about 7× slower as a `Vec<u8>`, 1.6× as a `Vec<f64>`). Raw frames ([`Connection::send_bytes`],
//! [`Connection::recv_bytes_into`]) are the floor, and what a CPython peer reads.
//!
//! ```
//! use multiproc_ipc::{Pipe, bulk::{Bytes, PodSlice, PodVec}};
//! let (parent, child) = Pipe::duplex()?;
//! child.send(&Bytes::from(vec![0u8; 1 << 20]))?;
//! assert_eq!(parent.recv::<Bytes>()?.len(), 1 << 20);
//! let samples = vec![1.0f64; 1 << 17];
//! child.send(&PodSlice(&samples))?;
//! assert_eq!(*parent.recv::<PodVec<f64>>()?, samples);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A [`PodVec`] carries the elements' memory as it is (this machine's byte order and
//! layout): right between multiproc's own processes, wrong for a peer on another
//! architecture or in another language; see [`bulk`].
//!
//! # Large messages through shared memory
//! Between two multiproc ends, [`Connection::enable_shm`] (called on both) sends
//! messages from a threshold up ([`DEFAULT_SHM_THRESHOLD`], 1 MiB) through a pair of
//! reused memory segments instead of the socket: one copy in, one copy out, a
//! 28-byte reference on the socket. Segments are checked (sealed, within the frame
//! limit) before they are mapped, and freed by the kernel whatever happens to the
//! processes. Off by default: a CPython peer cannot read them. Whether it is faster
//! depends on the machine (both paths copy each byte twice; see
//! `docs/ARCHITECTURE.md`), so measure with your sizes.
//! [`Connection::recv_bytes_shared`] skips the copy out: it returns a
//! [`SharedBytes`], a view of the message in its segment that hands the segment back
//! when dropped (one copy in all, the sender's).
//!
//! ```
//! use multiproc_ipc::{Pipe, DEFAULT_SHM_THRESHOLD};
//! let (parent, child) = Pipe::duplex()?;
//! parent.enable_shm(DEFAULT_SHM_THRESHOLD)?;
//! child.enable_shm(DEFAULT_SHM_THRESHOLD)?;
//! child.send_bytes(&vec![1u8; 4 << 20])?;
//! let mut buf = vec![0u8; 4 << 20];
//! assert_eq!(parent.recv_bytes_into(&mut buf)?, 4 << 20); // copied out
//! child.send_bytes(&vec![2u8; 4 << 20])?;
//! let msg = parent.recv_bytes_shared()?; // read in place
//! let sum: u64 = msg.iter().map(|&b| u64::from(b)).sum();
//! assert_eq!(sum, 2 * (4 << 20));
//! drop(msg); // the segment goes back to the sender
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Platform support
//! Linux. The crate builds elsewhere only where rustix supports the calls it makes;
//! other platforms are not supported yet.
//!
//! # Waiting
//! A blocking receive first spins for up to [`DEFAULT_SPIN`] (50 µs, about the cost of
//! one sleep/wake-up) before sleeping in the kernel; the spin switches itself off on a
//! connection where it keeps running out (see [`Connection::set_spin`]). Set the spin
//! to zero for purely blocking receives.
//!
//! # Hostile peers
//! A typed receive refuses a value nested deeper than [`DEFAULT_MAX_DEPTH`] levels
//! ([`CodecError::TooDeep`]) rather than recursing as deep as the peer's bytes say
//! and overflowing the stack; see [`Connection::set_max_depth`]. Frames are checked
//! against a size limit before anything is allocated ([`Connection::set_max_frame`]);
//! with shared memory enabled, a segment is checked against the same limit, and for
//! its seals, before it is mapped ([`RecvError::Shm`]).
//! A [`Listener`] runs handshakes concurrently with a deadline and evicts the oldest
//! when slow or silent peers fill its table, so they cannot lock legitimate clients
//! out; TCP needs a non-empty authkey unless explicitly allowed.
//!
//! # Limitations
//! Nothing this crate creates has a name in a filesystem except a Unix-socket
//! `Listener` address, which the listener removes when dropped; a listener killed with
//! SIGKILL leaves its socket file behind (CPython too). Shared segments are memfds and
//! vanish with the last process that maps them. A receive that times out in the middle
//! of a frame keeps what it read, and the next receive resumes the frame; a frame over
//! the receiver's limit, or an I/O error in the middle of one, leaves the connection
//! unusable for further receives ([`RecvError::Closed`]), as the byte stream is no
//! longer at a frame boundary.
#![doc(test(attr(deny(warnings))))]
// `unsafe` is allowed in two places only, both in `sys`: `sys::mem`, a `madvise` on a
// receive buffer (see `sys::advise_huge`) and the shared-memory frames' bounds-checked
// copies into and out of a mapped segment, and `sys::aio::register`, tokio's
// registration of a descriptor (feature `tokio`). Everything else goes through rustix's safe API.
#![deny(unsafe_code)]
#![cfg_attr(test, expect(clippy::unwrap_used, reason = "unit tests unwrap"))]
#[cfg(not(target_os = "linux"))]
compile_error!("multiproc-ipc requires Linux (memfd segments, pidfds, descriptor passing)");

#[cfg(feature = "tokio")]
pub mod aio;
pub mod auth;
pub mod bulk;
pub mod error;
pub mod frame;
pub mod handle;
pub mod pickle;

mod address;
mod connection;
mod depth;
mod listener;
mod segment;
mod shared_bytes;
mod shm;
mod split;
mod sys;
mod wait;

pub use address::Address;
pub use auth::AuthError;
pub use bulk::{Bytes, PodSlice, PodVec};
/// Re-exported for `#[derive(bytemuck::Pod, bytemuck::Zeroable)]` on the records a
/// [`PodVec`] carries (with `#[bytemuck(crate = "multiproc_ipc::bytemuck")]`).
pub use bytemuck;
pub use connection::{Connection, DEFAULT_SHM_THRESHOLD, DEFAULT_SPIN, Pipe, Transport};
pub use depth::DEFAULT_MAX_DEPTH;
pub use error::{CodecError, RecvError, SegmentError, SendError};
pub use handle::{
    MAX_HANDLES, PassFd, PassFdRef, decode, decode_with_max_depth, deserialize_fd, encode,
    encode_into, serialize_fd,
};
pub use listener::{Client, ClientBuilder, ClientError, Listener, ListenerBuilder, ListenerError};
pub use segment::SharedSegment;
pub use shared_bytes::SharedBytes;
pub use wait::{wait, wait_indices};

#[cfg(test)]
mod send_sync {
    fn is_send_sync<T: Send + Sync>() {}

    #[test]
    fn public_types_are_send_and_sync() {
        is_send_sync::<crate::Connection>();
        is_send_sync::<crate::SharedSegment>();
        is_send_sync::<crate::SharedBytes>();
        is_send_sync::<crate::Listener>();
        is_send_sync::<crate::ListenerBuilder>();
        is_send_sync::<crate::Client>();
        is_send_sync::<crate::ClientBuilder>();
        is_send_sync::<crate::Address>();
        is_send_sync::<crate::auth::Handshake>();
        is_send_sync::<crate::auth::HandshakeConfig>();
        is_send_sync::<crate::AuthError>();
        is_send_sync::<crate::ListenerError>();
        is_send_sync::<crate::ClientError>();
        is_send_sync::<crate::RecvError>();
        is_send_sync::<crate::SendError>();
        is_send_sync::<crate::PassFd>();
        is_send_sync::<crate::Bytes>();
        is_send_sync::<crate::PodVec<f64>>();
        is_send_sync::<crate::PodSlice<'static, u32>>();
    }
}
