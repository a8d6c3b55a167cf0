//! [`wait`]: block until any of many connections (or other pollable handles) is ready.

use std::io;
use std::os::fd::AsFd;
use std::time::Duration;

use crate::sys;

/// Waits until at least one of `objects` is ready to read, or `timeout` passes, and
/// returns the ready ones in their original order (CPython's
/// `multiprocessing.connection.wait`).
///
/// "Ready" means a read would not block: data is waiting, **or the peer closed** (a
/// read then reports end-of-file), or an error is pending. Anything that implements
/// [`AsFd`] can be waited on: a [`Connection`](crate::Connection), a socket, a pidfd
/// (a process sentinel becomes ready when the process exits). Pass a slice of
/// references (`&[&Connection]`) or of trait objects (`&[&dyn AsFd]`) to mix kinds.
///
/// `timeout: None` waits forever; `Some(Duration::ZERO)` only checks. An empty
/// result means the timeout passed. `EINTR` is retried with the time left.
///
/// ```
/// use multiproc_ipc::{wait, Pipe};
/// use std::time::Duration;
/// let (a1, b1) = Pipe::duplex()?;
/// let (a2, b2) = Pipe::duplex()?;
/// let objs = [&a1, &a2];
/// assert!(wait(&objs, Some(Duration::ZERO))?.is_empty());
/// b2.send(&"hi")?;
/// let ready = wait(&objs, Some(Duration::from_secs(10)))?;
/// assert_eq!(ready.len(), 1);
/// assert!(std::ptr::eq(*ready[0], &a2));
/// # drop(b1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// `poll(2)` failed (in practice only `ENOMEM`: [`AsFd`] guarantees open descriptors).
pub fn wait<T: AsFd>(objects: &[T], timeout: Option<Duration>) -> io::Result<Vec<&T>> {
    Ok(wait_indices(objects, timeout)?
        .into_iter()
        .map(|i| &objects[i])
        .collect())
}

/// As [`wait`], returning the indices of the ready objects (ascending) instead of
/// references: handy when the objects live in a `Vec` you then mutate.
///
/// ```
/// use multiproc_ipc::{wait_indices, Pipe};
/// use std::os::fd::AsFd;
/// use std::time::Duration;
/// let (a, b) = Pipe::duplex()?;
/// let (r, w) = Pipe::simplex()?;
/// drop(w); // a closed peer counts as ready (the read reports end-of-file)
/// let objs: [&dyn AsFd; 2] = [&a, &r];
/// assert_eq!(wait_indices(&objs, Some(Duration::from_secs(10)))?, [1]);
/// # drop(b);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// As [`wait`].
pub fn wait_indices<T: AsFd>(objects: &[T], timeout: Option<Duration>) -> io::Result<Vec<usize>> {
    let fds: Vec<_> = objects.iter().map(AsFd::as_fd).collect();
    let ready = sys::poll_in(&fds, timeout)?;
    Ok(ready
        .iter()
        .enumerate()
        .filter(|(_, r)| **r)
        .map(|(i, _)| i)
        .collect())
}
