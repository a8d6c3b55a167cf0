//! Process-shared FIFO queues for multiproc: `Queue`, `SimpleQueue`, `JoinableQueue`.
//!
//! | item | what it is | CPython |
//! |---|---|---|
//! | [`Queue`] | multi-producer multi-consumer FIFO across processes and threads, optional `maxsize` | `multiprocessing.Queue` |
//! | [`SimpleQueue`] | the same with the minimal interface | `multiprocessing.SimpleQueue` |
//! | [`JoinableQueue`] | a `Queue` with `task_done`/`join` | `multiprocessing.JoinableQueue` |
//! | [`PutError`], [`GetError`], [`JoinError`], [`CreateError`] | typed errors; a failed put returns the item | `queue.Full`, `queue.Empty`, `ValueError` |
//! | `aio` (feature `tokio`) | `AsyncQueue`, `AsyncSimpleQueue`, `AsyncJoinableQueue`: `get()`, `put()`, `join()` as cancel-safe futures | `asyncio.Queue` (across processes) |
//!
//! ```
//! use multiproc_queue::Queue;
//!
//! let q: Queue<(u64, String)> = Queue::with_maxsize(100)?;
//! let tx = q.clone();
//! let producer = std::thread::spawn(move || {
//!     for i in 0..10 {
//!         tx.put((i, format!("item {i}"))).unwrap();
//!     }
//! });
//! q.close(); // the consumer's handle puts nothing
//! let items: Vec<_> = q.iter().collect::<Result<_, _>>()?;
//! assert_eq!(items.len(), 10);
//! assert_eq!(items[3], (3, "item 3".to_string()));
//! producer.join().unwrap();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Handles implement `Serialize`/`Deserialize` (the shared memory travels as a file
//! descriptor), so they pass to child processes under every start method, inside any
//! argument.
//!
//! # How it works
//!
//! A queue is one anonymous shared segment (memfd): a header and a byte ring. Items are
//! encoded with postcard in the calling thread, then copied into the ring; the consumer
//! decodes them in place. Producers take turns through a robust put lock and consumers
//! through a robust get lock, so the ring between them is single-producer
//! single-consumer: a put or get is an uncontended compare-and-swap, a copy and a store,
//! with no system call unless the other side is asleep (futex, with waiter counts).
//! Items larger than the ring travel whole through a *bulk area* beside it (four times
//! the ring, at most 64 MiB; a sparse part of the same segment, whose memory exists
//! only once such items are put): the ring carries a 16-byte reference and the
//! consumer decodes in place. Items larger than the bulk area stream through the ring.
//! See `ring/mod.rs` for the details.
//!
//! **Semantics that differ from CPython's** (on purpose, see the project's
//! known-issues list): there is no feeder thread, so `put` returns an error instead of
//! printing one later, an item is in shared memory when `put` returns (the process may
//! exit at once, and `join`ing it before draining the queue cannot deadlock), and the
//! queue's capacity is its ring (1 MiB by default): an "unbounded" put waits while the
//! ring is full instead of growing a buffer in the producer. `close` ends this handle's
//! puts only; getters drain, then see [`GetError::Closed`].
//!
//! # Platform support
//!
//! Linux (futexes, memfd, `/proc/<pid>/stat` for liveness): a build for another OS
//! stops at a `compile_error!` saying so. The robust side locks, wake-ups, liveness
//! probes and fork hooks are `multiproc_sync::foundation`'s.
//!
//! # Limitations
//!
//! What a SIGKILL can cost (nothing leaks: the segment has no name and is freed with the
//! last descriptor):
//! * a **producer** killed in `put`: its item is either wholly in the queue or absent;
//!   other items are untouched. Its hold on the put side is taken over by the next
//!   producer (or a consumer waiting on a half-streamed item) within about 20 ms.
//! * a **consumer** killed in `get`: its item is delivered again to the next consumer
//!   if it had not yet released it from the ring, otherwise it is lost (it was in the
//!   dead process). A half-received large item is discarded.
//! * a killed process stops counting as a producer: getters on an empty queue see
//!   `Closed` within about 20 ms once every remaining handle is closed. It stops
//!   counting as a consumer too: a `put` waiting on a full queue in a process that
//!   declared [`Queue::close_receiving`] fails with [`PutError::NoConsumer`] within
//!   about 20 ms once no live process that may get is left (after Ctrl-C killed every
//!   worker, say). Without that declaration a full queue waits, since the putter's own
//!   threads may get.
//! * `JoinableQueue::join` cannot know that a dead consumer will never call
//!   `task_done`: use `join_timeout` where consumers may die. A process killed while
//!   asleep in `join` leaves a stale sleeper count: later `task_done` calls that reach
//!   zero then always make the (cheap) wake system call. (A producer or consumer killed
//!   asleep in `put` or `get` leaves none: whoever takes its side over clears it.)
//! * A handle serialised but never deserialised (for instance a child that died before
//!   decoding its arguments) counts as an open producer, and as a consumer, while the
//!   sending process lives.
//! * A process holding the put or get side is judged dead by pid and start time; the
//!   start time is recorded a few instructions after the side is taken, so a pid reused
//!   within that window could be taken for the dead holder (never observed; needs a pid
//!   wrap in nanoseconds).
//! * Items holding OS handles (a `Connection`, a `SharedSegment`) cannot be put; send
//!   them over a `Connection`.
#![doc(test(attr(deny(warnings))))]
#![deny(unsafe_code)]

#[cfg(not(target_os = "linux"))]
compile_error!(
    "multiproc-queue requires Linux (shared futexes, memfd segments, /proc liveness checks)"
);

#[cfg(feature = "tokio")]
pub mod aio;
mod error;
mod queue;
mod ring;
mod sys;

pub use error::{CreateError, GetError, JoinError, PutError};
pub use queue::{Iter, JoinableQueue, Queue, SimpleQueue};

#[expect(dead_code, reason = "compile-time checks only, never called")]
fn assert_send_sync() {
    fn is<T: Send + Sync>() {}
    is::<Queue<std::rc::Rc<u8>>>();
    is::<SimpleQueue<u8>>();
    is::<JoinableQueue<u8>>();
    is::<Iter<'static, u8>>();
    is::<GetError>();
    is::<PutError<u8>>();
    is::<JoinError>();
    is::<CreateError>();
}
