//! [`Pool::map_slice`]: a map over plain-old-data through shared memory, with no
//! encoding of the elements.
//!
//! The input is copied once into a memfd [`SharedSegment`] sized for the input and
//! the output (one of the pool's kept segments when one is large enough, see
//! [`SegmentCache`]); the call is cut into a few chunks per worker, and each chunk task
//! carries only the segment's handle, its element range and the function (an
//! [`Invoker`], as every pool task). The worker maps the segment (or reuses its
//! mapping, see [`worker_segment`]), computes `f` over
//! its range straight into the output region and returns a unit completion through
//! the usual result ring. When every chunk has succeeded, the parent copies the output
//! into a `Vec<R>` (one `memcpy`); the memory accesses and who may touch which bytes
//! when are in `ring.rs` (the crate's unsafe module).
//!
//! A chunk is an ordinary pool task, so the pool's guarantees hold unchanged: a worker
//! that dies fails the chunk it was running with [`Error::WorkerDied`] (and the call
//! with it, after the other chunks are done — never a partial output), a panic is
//! [`Error::Panicked`], chunks queued behind a dead worker run elsewhere.

use std::cell::RefCell;
use std::marker::PhantomData;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use multiproc_ipc::bytemuck::Pod;
use multiproc_ipc::{PassFd, PassFdRef, SharedSegment};
use multiproc_process::Target;
use multiproc_process::invoke::{InvokeError, Invoker};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::job::{Cell, Outcome, Sink, Task, decode_chunk, lock};
use crate::worker::Guarded;
use crate::{AsyncResult, Error, Pool, encode_task};

/// Chunks per worker: enough that a dead worker loses a small part of the call and
/// uneven workers balance, few enough that the per-task cost stays negligible.
const CHUNKS_PER_WORKER: usize = 4;

/// Free segments a pool keeps for its next calls: at most this many…
const CACHED_SEGMENTS: usize = 2;
/// …of at most this many bytes each (larger ones are freed after their call).
const CACHED_SEGMENT_MAX: usize = 256 << 20;
/// Segments a worker keeps mapped (the most recently used ones).
const WORKER_MAPPINGS: usize = 2;

/// The shared segments of a pool's finished `map_slice` calls, kept for the next
/// calls: a reused segment's pages are already allocated, and the workers have it
/// mapped already (see [`worker_segment`]), so a call costs no page faults. A segment
/// is put back only after a call whose chunks all succeeded: then no worker writes it
/// any more.
#[derive(Debug, Default, Clone)]
pub(crate) struct SegmentCache(Arc<Mutex<Vec<SharedSegment>>>);

impl SegmentCache {
    /// The smallest free segment of at least `len` bytes, or a new one.
    fn take(&self, len: usize) -> Result<SharedSegment, Error> {
        {
            let mut free = lock(&self.0);
            let best = free
                .iter()
                .enumerate()
                .filter(|(_, s)| s.len() >= len)
                .min_by_key(|(_, s)| s.len())
                .map(|(i, _)| i);
            if let Some(i) = best {
                return Ok(free.swap_remove(i));
            }
        }
        SharedSegment::with_name(SEGMENT_NAME, len)
            .map_err(|e| Error::Io(Arc::new(std::io::Error::other(e.to_string()))))
    }

    /// Keeps `seg` for a later call (dropping the smallest one if the cache is full).
    fn put(&self, seg: SharedSegment) {
        if seg.len() > CACHED_SEGMENT_MAX {
            return;
        }
        let mut free = lock(&self.0);
        free.push(seg);
        if free.len() > CACHED_SEGMENTS {
            free.sort_by_key(|s| std::cmp::Reverse(s.len()));
            free.truncate(CACHED_SEGMENTS);
        }
    }
}

/// The name of the segments in `/proc/<pid>/maps` and `/proc/<pid>/fd`.
const SEGMENT_NAME: &str = "multiproc-map-slice";

/// A segment as a chunk carries it: the parent's segment when sent, its handle
/// (descriptor and length) when received — the worker maps it only if it does not
/// have it mapped already.
#[derive(Debug)]
enum SegArg {
    Sent(SharedSegment),
    Received(OwnedFd, u64),
}

impl Serialize for SegArg {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            // The same wire form as a `SharedSegment`: (descriptor, length).
            SegArg::Sent(seg) => seg.serialize(s),
            SegArg::Received(fd, len) => (PassFdRef(fd.as_fd()), *len).serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for SegArg {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (fd, len): (PassFd, u64) = Deserialize::deserialize(d)?;
        Ok(SegArg::Received(fd.into(), len))
    }
}

thread_local! {
    /// The segments this worker has mapped, by (device, inode), most recent first.
    static MAPPED: RefCell<Vec<((u64, u64), SharedSegment)>> = const { RefCell::new(Vec::new()) };
}

/// In a worker: the mapping of a received segment, from the cache when this worker
/// has mapped the same memory file already (its descriptor is then closed). A cached
/// mapping keeps its memory file alive, so its inode cannot be reused by another.
fn worker_segment(arg: SegArg) -> Result<SharedSegment, String> {
    let (fd, len) = match arg {
        SegArg::Sent(seg) => return Ok(seg),
        SegArg::Received(fd, len) => (fd, len),
    };
    let key = crate::sys::file_id(&fd).map_err(|e| e.to_string())?;
    let hit = MAPPED.with(|m| {
        let mut m = m.borrow_mut();
        let i = m.iter().position(|(k, _)| *k == key)?;
        let entry = m.remove(i);
        let seg = entry.1.clone();
        m.insert(0, entry);
        Some(seg)
    });
    let seg = match hit {
        Some(seg) => seg,
        None => {
            let seg = SharedSegment::from_fd(fd).map_err(|e| e.to_string())?;
            MAPPED.with(|m| {
                let mut m = m.borrow_mut();
                m.insert(0, (key, seg.clone()));
                m.truncate(WORKER_MAPPINGS);
            });
            seg
        }
    };
    if (seg.len() as u64) < len {
        return Err(format!(
            "shared segment is {} bytes, expected {len}",
            seg.len()
        ));
    }
    Ok(seg)
}

/// One chunk as it travels to a worker: the segment (its handle), where the output
/// starts, and the element range.
#[derive(Debug, Serialize, Deserialize)]
struct SliceChunk {
    seg: SegArg,
    out_off: u64,
    start: u64,
    end: u64,
}

/// The task a worker runs for a chunk: `f` over the range, in place. Zero-sized like
/// `F`, so an [`Invoker`] can name it.
struct Kernel<F, T, R>(F, PhantomData<fn(T) -> R>);

impl<F: Copy, T, R> Clone for Kernel<F, T, R> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<F: Copy, T, R> Copy for Kernel<F, T, R> {}

impl<F, T, R> Target<(SliceChunk,)> for Kernel<F, T, R>
where
    F: Fn(T) -> R + Copy + Send + 'static,
    T: Pod,
    R: Pod,
{
    type Output = Result<(), String>;

    fn call(self, (chunk,): (SliceChunk,)) -> Result<(), String> {
        let idx = |v: u64| usize::try_from(v).map_err(|e| e.to_string());
        let seg = worker_segment(chunk.seg)?;
        crate::ring::map_range(
            &seg,
            idx(chunk.out_off)?,
            idx(chunk.start)?,
            idx(chunk.end)?,
            self.0,
        )
    }
}

/// The task a worker runs for a chunk of the plain-data path of [`Pool::map`]: as
/// [`Kernel`], for a task `F` over a primitive number type known only by its `TypeId`
/// (see [`crate::ring::is_plain`]).
struct PlainKernel<F, T>(F, PhantomData<fn(T)>);

impl<F: Copy, T> Clone for PlainKernel<F, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<F: Copy, T> Copy for PlainKernel<F, T> {}

impl<F, T> Target<(SliceChunk,)> for PlainKernel<F, T>
where
    F: Target<(T,)>,
    T: 'static,
{
    type Output = Result<(), String>;

    fn call(self, (chunk,): (SliceChunk,)) -> Result<(), String> {
        let idx = |v: u64| usize::try_from(v).map_err(|e| e.to_string());
        let seg = worker_segment(chunk.seg)?;
        let f = self.0;
        crate::ring::map_range_plain(
            &seg,
            idx(chunk.out_off)?,
            idx(chunk.start)?,
            idx(chunk.end)?,
            move |x: T| f.call((x,)),
        )
    }
}

/// Reads a call's output out of its segment (`read_pod` or `read_plain`).
type ReadOut<R> = fn(&SharedSegment, usize, usize) -> Result<Vec<R>, String>;

/// Collects the chunk completions of one `map_slice` call; when the last one is in,
/// resolves to the first error in chunk order, or to the output copied out.
struct SliceJob<R> {
    /// Taken (and given back to the pool's cache) when the call succeeds.
    seg: Mutex<Option<SharedSegment>>,
    cache: SegmentCache,
    out_off: usize,
    len: usize,
    errors: Mutex<Vec<Option<Error>>>,
    remaining: AtomicUsize,
    cell: Arc<Cell<Vec<R>>>,
    read: ReadOut<R>,
}

impl<R: Send + 'static> Sink for SliceJob<R> {
    fn complete(&self, index: usize, outcome: Outcome) {
        if self.cell.is_cancelled() {
            return;
        }
        let result = decode_chunk::<Result<(), String>>(outcome, 1)
            .into_iter()
            .next()
            .unwrap_or_else(|| Err(Error::Decode("no chunk result".into())))
            .and_then(|r| r.map_err(|why| Error::Task(InvokeError::Decode(why))));
        {
            let mut errors = lock(&self.errors);
            let nchunks = errors.len();
            match errors.get_mut(index) {
                Some(slot) if slot.is_none() => {
                    if let Err(e) = result {
                        let (start, end) = chunk_range(index, self.len, nchunks);
                        tracing::debug!(
                            "map_slice chunk {index} of {nchunks} (elements {start}..{end}) failed: {e}"
                        );
                        *slot = Some(e);
                    }
                }
                _ => {}
            }
        }
        if self.remaining.fetch_sub(1, Ordering::AcqRel) != 1 {
            return;
        }
        let first = lock(&self.errors).iter_mut().find_map(Option::take);
        let seg = lock(&self.seg).take();
        self.cell.resolve(match (first, seg) {
            (Some(e), _) => Err(e),
            (None, None) => Err(Error::Decode("the shared segment is gone".into())),
            (None, Some(seg)) => {
                let out = (self.read)(&seg, self.out_off, self.len).map_err(Error::Decode);
                // Every chunk succeeded: no worker writes this segment any more.
                self.cache.put(seg);
                out
            }
        });
    }

    fn cancelled(&self) -> bool {
        self.cell.is_cancelled()
    }
}

/// Elements `[start, end)` of chunk `index` of `nchunks` over `len` elements: an even
/// split, the first `len % nchunks` chunks one element longer.
fn chunk_range(index: usize, len: usize, nchunks: usize) -> (usize, usize) {
    let (base, extra) = (len / nchunks.max(1), len % nchunks.max(1));
    let start = index * base + index.min(extra);
    (start, start + base + usize::from(index < extra))
}

/// Where the output region starts: after the input, cache-line aligned.
fn output_offset<T, R>(len: usize) -> Option<usize> {
    let align = std::mem::align_of::<R>().max(64);
    len.checked_mul(std::mem::size_of::<T>())?
        .checked_next_multiple_of(align)
}

impl Pool {
    /// `f(x)` for every element of a slice of plain-old-data, in order, through
    /// shared memory: rayon's `data.par_iter().map(f).collect()` across processes.
    ///
    /// `T` and `R` are [`bytemuck::Pod`](multiproc_ipc::bytemuck::Pod) types (the
    /// integers, floats, arrays of them, `#[repr(C)]` structs deriving `Pod`). The
    /// elements are never encoded: the slice is copied once into shared memory, each
    /// worker reads its chunk there and writes its results next to it, and the output
    /// is copied out once. `f` is a function item or a non-capturing closure, as for
    /// [`map`](Self::map) — the same `fn(T) -> R` works with both.
    ///
    /// ```
    /// use multiproc_pool::Pool;
    /// fn square(x: u64) -> u64 { x * x }
    ///
    /// let pool = Pool::new(2)?;
    /// let data: Vec<u64> = (0..100_000).collect();
    /// let squares = pool.map_slice(square, &data)?;
    /// assert_eq!(squares[99_999], 99_999 * 99_999);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// Your own records work too (derive `Pod` through the re-exported `bytemuck`):
    ///
    /// ```
    /// use multiproc_ipc::bytemuck;
    /// use multiproc_pool::Pool;
    ///
    /// #[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
    /// #[bytemuck(crate = "multiproc_ipc::bytemuck")]
    /// #[repr(C)]
    /// struct Point { x: f64, y: f64 }
    ///
    /// fn norm(p: Point) -> f64 { (p.x * p.x + p.y * p.y).sqrt() }
    ///
    /// let pool = Pool::new(2)?;
    /// let pts = vec![Point { x: 3.0, y: 4.0 }; 10];
    /// assert_eq!(pool.map_slice(norm, &pts)?, vec![5.0; 10]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// The call is cut into about four chunks per worker, each an ordinary pool
    /// task: a worker that dies fails the call with [`Error::WorkerDied`] and a
    /// panicking `f` with [`Error::Panicked`] (after the other chunks are done, as
    /// [`map`](Self::map)); the output is never returned in part. The pool carries on.
    ///
    /// # Errors
    /// The first failed chunk's [`Error`]; [`Error::InvalidArgument`] for zero-sized
    /// element types; [`Error::Io`] when the shared segment cannot be created;
    /// [`Error::NotRunning`] after `close`/`terminate`.
    pub fn map_slice<F, T, R>(&self, f: F, data: &[T]) -> Result<Vec<R>, Error>
    where
        F: Fn(T) -> R + Copy + Send + 'static,
        T: Pod,
        R: Pod + Send,
    {
        assert_pool_task!(F);
        self.map_slice_async(f, data).get()
    }

    /// Asynchronous [`map_slice`](Self::map_slice): `data` is copied before it
    /// returns, so the borrow ends here.
    ///
    /// ```
    /// use multiproc_pool::Pool;
    /// fn half(x: f64) -> f64 { x / 2.0 }
    /// let pool = Pool::new(2)?;
    /// let job = {
    ///     let data = vec![2.0_f64; 1000];
    ///     pool.map_slice_async(half, &data) // copied: `data` may go now
    /// };
    /// assert_eq!(job.get()?, vec![1.0; 1000]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn map_slice_async<F, T, R>(&self, f: F, data: &[T]) -> AsyncResult<Vec<R>>
    where
        F: Fn(T) -> R + Copy + Send + 'static,
        T: Pod,
        R: Pod + Send,
    {
        assert_pool_task!(F);
        match self.submit_slice(f, data) {
            Ok(r) => r,
            Err(e) => AsyncResult::failed(e),
        }
    }

    fn submit_slice<F, T, R>(&self, f: F, data: &[T]) -> Result<AsyncResult<Vec<R>>, Error>
    where
        F: Fn(T) -> R + Copy + Send + 'static,
        T: Pod,
        R: Pod + Send,
    {
        let invoker = Invoker::of::<Guarded<Kernel<F, T, R>>, (SliceChunk,)>(Guarded(Kernel(
            f,
            PhantomData,
        )))?;
        self.submit_segment::<T, R>(
            invoker,
            data.len(),
            CHUNKS_PER_WORKER * self.shared.processes,
            |seg, start, end| {
                crate::ring::write_pod(seg, start * std::mem::size_of::<T>(), &data[start..end])
            },
            crate::ring::read_pod::<R>,
        )
    }

    /// The plain-data path of [`map`](Self::map) (default chunking): `items` of a
    /// primitive number type, mapped to one, go through a shared segment as
    /// [`map_slice`](Self::map_slice) does, in `nchunks` chunks; `Err(items)` when the
    /// types are not plain numbers (the caller takes the encoding path).
    pub(crate) fn map_plain<F, T>(
        &self,
        f: F,
        items: Vec<T>,
        nchunks: usize,
    ) -> Result<AsyncResult<Vec<F::Output>>, Vec<T>>
    where
        F: Target<(T,)>,
        T: Serialize + DeserializeOwned + Send + 'static,
    {
        if !crate::ring::is_plain::<T>() || !crate::ring::is_plain::<F::Output>() {
            return Err(items);
        }
        let invoker = match Invoker::of::<Guarded<PlainKernel<F, T>>, (SliceChunk,)>(Guarded(
            PlainKernel(f, PhantomData),
        )) {
            Ok(i) => i,
            Err(e) => return Ok(AsyncResult::failed(e.into())),
        };
        Ok(self
            .submit_segment::<T, F::Output>(
                invoker,
                items.len(),
                nchunks,
                |seg, start, end| {
                    crate::ring::write_plain(
                        seg,
                        start * std::mem::size_of::<T>(),
                        &items[start..end],
                    )
                },
                crate::ring::read_plain::<F::Output>,
            )
            .unwrap_or_else(AsyncResult::failed))
    }

    /// Takes a segment for `len` elements of `T` in and `R` out and queues
    /// `min(len, nchunks)` chunks of `invoker` (a guarded kernel over a
    /// [`SliceChunk`]), each as soon as `write` has copied its elements `[start, end)`
    /// in (so the first workers compute while the rest is copied); the output is read
    /// with `read` when all succeeded.
    fn submit_segment<T, R>(
        &self,
        invoker: Invoker,
        len: usize,
        nchunks: usize,
        mut write: impl FnMut(&SharedSegment, usize, usize) -> Result<(), String>,
        read: ReadOut<R>,
    ) -> Result<AsyncResult<Vec<R>>, Error>
    where
        R: Send + 'static,
    {
        if std::mem::size_of::<T>() == 0 || std::mem::size_of::<R>() == 0 {
            return Err(Error::InvalidArgument(
                "map_slice needs element types of non-zero size",
            ));
        }
        let cell = Cell::new();
        if len == 0 {
            if lock(&self.shared.state).phase != crate::supervisor::Phase::Running {
                return Err(Error::NotRunning);
            }
            cell.resolve(Ok(Vec::new()));
            return Ok(AsyncResult::from_cell(cell));
        }
        let nchunks = len.min(nchunks.max(1));
        let (seg, job) = self.slice_job::<T, R>(len, nchunks, cell.clone(), read)?;
        let out_off = job.out_off;
        for index in 0..nchunks {
            let (start, end) = chunk_range(index, len, nchunks);
            let queued = write(&seg, start, end)
                .map_err(Error::Encode)
                .and_then(|()| {
                    let chunk = SliceChunk {
                        seg: SegArg::Sent(seg.clone()),
                        out_off: out_off as u64,
                        start: start as u64,
                        end: end as u64,
                    };
                    encode_task(invoker, &vec![(chunk,)])
                })
                .and_then(|msg| {
                    let task = Task {
                        msg,
                        sink: job.clone(),
                        index,
                    };
                    // The chunk's input is written: its worker may start on it.
                    self.shared.submit(vec![task], false).map_err(|(e, _)| e)
                });
            if let Err(e) = queued {
                if index == 0 {
                    // Nothing was queued: the call fails as a whole.
                    return Err(e);
                }
                // The queued chunks run; this one and the later ones fail.
                for i in index..nchunks {
                    job.complete(i, Err(e.clone()));
                }
                break;
            }
        }
        Ok(AsyncResult::from_cell(cell))
    }

    /// The segment for a [`submit_segment`](Self::submit_segment) call of `len > 0`
    /// elements of `T` in and `R` out, and its job of `nchunks` chunks resolving `cell`.
    fn slice_job<T, R>(
        &self,
        len: usize,
        nchunks: usize,
        cell: Arc<Cell<Vec<R>>>,
        read: ReadOut<R>,
    ) -> Result<(SharedSegment, Arc<SliceJob<R>>), Error>
    where
        R: Send + 'static,
    {
        let too_large = || Error::InvalidArgument("map_slice input too large");
        let out_off = output_offset::<T, R>(len).ok_or_else(too_large)?;
        let total = len
            .checked_mul(std::mem::size_of::<R>())
            .and_then(|o| o.checked_add(out_off))
            .ok_or_else(too_large)?;
        let seg = self.segments.take(total)?;
        let job = Arc::new(SliceJob::<R> {
            seg: Mutex::new(Some(seg.clone())),
            cache: self.segments.clone(),
            out_off,
            len,
            errors: Mutex::new(vec![None; nchunks]),
            remaining: AtomicUsize::new(nchunks),
            cell,
            read,
        });
        Ok((seg, job))
    }
}
