//! The MPI backend (feature `openmpi`): start-up on every rank, the worker loop of
//! ranks 1.., and rank 0's engine (a dispatcher thread that sends tasks, a receiver
//! thread that takes results).
//!
//! Threads: MPI is initialized with `MPI_THREAD_MULTIPLE`. On rank 0 the receiver
//! thread always has a receive pending (it never sends), so a worker blocked sending a
//! large result always completes, and the dispatcher's (possibly rendezvous) sends to
//! that worker complete in turn: no send/send deadlock whatever the message sizes.
//! A worker runs one task at a time: receive, run, send the result.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mpi::Threading;
use mpi::collective::Root;
use mpi::environment::Universe;
use mpi::point_to_point::{Destination, Source};
use mpi::topology::{Communicator, SimpleCommunicator};
use multiproc_pool::Error;
use multiproc_process::invoke::Invoker;

use crate::InitError;
use crate::identity::ExeId;
use crate::job::{Sink, lock};
use crate::wire::{ToRoot, ToWorker, pack, unpack};

/// The name of rank 0's receiving thread (where result callbacks run).
const RX_THREAD: &str = "multiproc-mpi-rx";

/// About this much work is kept queued on each worker (measured per worker).
const TARGET_AHEAD: Duration = Duration::from_millis(4);

/// Whether this process was started by an MPI launcher (mpirun/mpiexec/srun).
pub(crate) fn launched_by_mpi() -> bool {
    ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"]
        .iter()
        .any(|v| std::env::var_os(v).is_some())
}

/// What [`start`] found: rank 0 with its world, or a single rank.
pub(crate) enum Started {
    /// Rank 0 of `size > 1` ranks.
    Root(Universe, usize),
    /// The only rank: tasks run locally.
    Alone(Universe),
}

/// Initializes MPI, checks that every rank runs the same executable, and turns ranks
/// 1.. into workers (they never return from here).
pub(crate) fn start() -> Result<Started, InitError> {
    let me = ExeId::current().map_err(|e| InitError::Identity(Arc::new(e)))?;
    let Some((universe, threading)) = mpi::initialize_with_threading(Threading::Multiple) else {
        return Err(InitError::Mpi("MPI was already initialized".into()));
    };
    let world = universe.world();
    let size = world.size() as usize;
    let rank = world.rank();
    if size > 1 && threading != Threading::Multiple {
        // Every rank sees the same level; all leave together.
        return Err(InitError::Mpi(format!(
            "the MPI library provides {threading:?} threading, the pool needs Multiple"
        )));
    }
    // The first message: every rank's executable fingerprint, gathered on rank 0, which
    // answers with a verdict (0: go; r + 1: rank r runs another executable).
    let root = world.process_at_rank(0);
    let mine = me.to_words();
    let mut verdict = [0u64; 2];
    if rank == 0 {
        let mut all = vec![0u64; 2 * size];
        root.gather_into_root(&mine[..], &mut all[..]);
        let mut bad = None;
        for (r, w) in all.chunks_exact(2).enumerate() {
            let id = ExeId::from_words([w[0], w[1]]);
            if id != me {
                bad = Some((r, id));
                break;
            }
        }
        if let Some((r, _)) = bad {
            verdict = [r as u64 + 1, 0];
        }
        root.broadcast_into(&mut verdict[..]);
        if let Some((r, found)) = bad {
            drop(world);
            drop(universe);
            return Err(InitError::ExecutableMismatch {
                rank: r,
                expected: me,
                found,
            });
        }
    } else {
        root.gather_into(&mine[..]);
        root.broadcast_into(&mut verdict[..]);
        if verdict[0] != 0 {
            eprintln!(
                "multiproc-mpi: rank {rank}: refused by rank 0: rank {} runs a different \
                 executable than rank 0 (every rank must run the same build of the same program)",
                verdict[0] - 1
            );
            drop(world);
            drop(universe);
            std::process::exit(1);
        }
        serve(&world);
        drop(world);
        drop(universe);
        std::process::exit(0);
    }
    drop(world);
    if size == 1 {
        Ok(Started::Alone(universe))
    } else {
        Ok(Started::Root(universe, size))
    }
}

/// A worker rank's loop: run tasks until rank 0 says shutdown.
fn serve(world: &SimpleCommunicator) {
    let root = world.process_at_rank(0);
    loop {
        let (msg, _status) = root.receive_vec::<u8>();
        let reply = match unpack::<ToWorker>(&msg) {
            Ok((
                ToWorker::Task {
                    job,
                    chunk,
                    invoker,
                },
                args,
            )) => {
                let t = Instant::now();
                let out = invoker.call_chunk(args, Vec::new());
                let nanos = t.elapsed().as_nanos() as u64;
                match out {
                    Ok((bytes, fds)) if fds.is_empty() => pack(
                        &ToRoot::Done {
                            job,
                            chunk,
                            nanos,
                            error: None,
                        },
                        &bytes,
                    ),
                    Ok(_) => pack(
                        &ToRoot::Done {
                            job,
                            chunk,
                            nanos,
                            error: Some(multiproc_process::invoke::InvokeError::Encode(
                                "a result holding descriptors cannot be sent to another rank"
                                    .into(),
                            )),
                        },
                        &[],
                    ),
                    Err(e) => pack(
                        &ToRoot::Done {
                            job,
                            chunk,
                            nanos,
                            error: Some(e),
                        },
                        &[],
                    ),
                }
            }
            Ok((ToWorker::Shutdown, _)) => {
                if let Ok(bye) = pack(&ToRoot::Bye, &[]) {
                    root.send(&bye[..]);
                }
                return;
            }
            Err(e) => {
                eprintln!(
                    "multiproc-mpi: rank {}: unreadable message from rank 0: {}",
                    world.rank(),
                    e.0
                );
                world.abort(70);
            }
        };
        match reply {
            Ok(bytes) => root.send(&bytes[..]),
            Err(e) => {
                eprintln!(
                    "multiproc-mpi: rank {}: cannot reply: {}",
                    world.rank(),
                    e.0
                );
                world.abort(70);
            }
        }
    }
}

/// One chunk waiting for a worker.
pub(crate) struct Task {
    pub(crate) job: u64,
    pub(crate) chunk: u32,
    pub(crate) invoker: Invoker,
    pub(crate) args: Vec<u8>,
    pub(crate) len: usize,
    pub(crate) sink: Arc<dyn Sink>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Running,
    Closed,
    Terminated,
}

struct RankState {
    inflight: usize,
    /// Exponential average of a task's run time on this rank, in ns.
    avg_nanos: Option<f64>,
}

pub(crate) struct State {
    pub(crate) phase: Phase,
    queue: VecDeque<Task>,
    inflight: HashMap<(u64, u32), (Arc<dyn Sink>, usize)>,
    ranks: Vec<RankState>,
    next_job: u64,
    /// Where the round robin over the workers starts next.
    next_rank: usize,
    /// Tasks being sent by callers right now (shutdown waits for them).
    sending: usize,
    /// `imap` iterators made while running: served after `close`.
    pub(crate) feeders: usize,
    /// Worker ranks that said goodbye.
    byes: usize,
    finished: bool,
}

/// Rank 0's engine.
pub(crate) struct Engine {
    pub(crate) state: Mutex<State>,
    wake: Condvar,
    done: Condvar,
    workers: usize,
    max_window: usize,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Engine {
    pub(crate) fn start(size: usize, max_window: usize) -> Result<Arc<Engine>, Error> {
        let workers = size - 1;
        let engine = Arc::new(Engine {
            state: Mutex::new(State {
                phase: Phase::Running,
                queue: VecDeque::new(),
                inflight: HashMap::new(),
                ranks: (0..workers)
                    .map(|_| RankState {
                        inflight: 0,
                        avg_nanos: None,
                    })
                    .collect(),
                next_job: 0,
                next_rank: 0,
                sending: 0,
                feeders: 0,
                byes: 0,
                finished: false,
            }),
            wake: Condvar::new(),
            done: Condvar::new(),
            workers,
            max_window: max_window.max(1),
            threads: Mutex::new(Vec::new()),
        });
        let e = engine.clone();
        let rx = std::thread::Builder::new()
            .name(RX_THREAD.into())
            .spawn(move || e.receive_loop())?;
        let e = engine.clone();
        let tx = std::thread::Builder::new()
            .name("multiproc-mpi-tx".into())
            .spawn(move || e.dispatch_loop());
        let tx = match tx {
            Ok(t) => t,
            Err(err) => {
                // The receiver waits for goodbyes that will now never come: end the job.
                eprintln!("multiproc-mpi: cannot start the dispatcher thread: {err}");
                SimpleCommunicator::world().abort(71);
            }
        };
        lock(&engine.threads).extend([rx, tx]);
        Ok(engine)
    }

    pub(crate) fn workers(&self) -> usize {
        self.workers
    }

    pub(crate) fn new_job(&self) -> u64 {
        let mut st = lock(&self.state);
        st.next_job += 1;
        st.next_job
    }

    /// Queues tasks; refused (each chunk completed with [`Error::NotRunning`]) unless
    /// running, or `feeder` (an `imap` made while running). When nothing is queued and
    /// workers have room, the calling thread sends the tasks itself (no hand-off to the
    /// dispatcher thread: the latency of a lone `apply`).
    pub(crate) fn submit(&self, tasks: Vec<Task>, feeder: bool) {
        let mut direct = Vec::new();
        let refused = {
            let mut st = lock(&self.state);
            let open = st.phase == Phase::Running || (feeder && st.phase == Phase::Closed);
            if open {
                for t in tasks {
                    if t.sink.cancelled() {
                        continue;
                    }
                    match st.queue.is_empty().then(|| self.pick(&mut st)).flatten() {
                        Some(i) => {
                            st.ranks[i].inflight += 1;
                            st.inflight
                                .insert((t.job, t.chunk), (t.sink.clone(), t.len));
                            st.sending += 1;
                            direct.push((t, i + 1));
                        }
                        None => st.queue.push_back(t),
                    }
                }
                if !st.queue.is_empty() {
                    self.wake.notify_all();
                }
                None
            } else {
                Some((tasks, st.phase))
            }
        };
        if !direct.is_empty() {
            let world = SimpleCommunicator::world();
            let n = direct.len();
            for (t, rank) in direct {
                self.send_task(&world, t, rank);
            }
            let mut st = lock(&self.state);
            st.sending -= n;
            self.wake.notify_all();
        }
        if let Some((tasks, phase)) = refused {
            let e = if phase == Phase::Terminated {
                Error::Terminated
            } else {
                Error::NotRunning
            };
            for t in tasks {
                t.sink.complete(t.chunk as usize, Err(e.clone()));
            }
        }
    }

    /// The next worker (index from 0) with room, round robin.
    fn pick(&self, st: &mut State) -> Option<usize> {
        let n = self.workers;
        let i = (0..n)
            .map(|k| (st.next_rank + k) % n)
            .find(|&i| st.ranks[i].inflight < self.window(&st.ranks[i]))?;
        st.next_rank = (i + 1) % n;
        Some(i)
    }

    /// Sends a task already counted in flight on `rank`; a task that cannot be encoded
    /// fails on its own.
    fn send_task(&self, world: &SimpleCommunicator, task: Task, rank: usize) {
        let header = ToWorker::Task {
            job: task.job,
            chunk: task.chunk,
            invoker: task.invoker,
        };
        match pack(&header, &task.args) {
            Ok(msg) => world.process_at_rank(rank as i32).send(&msg[..]),
            Err(e) => {
                let mut st = lock(&self.state);
                st.ranks[rank - 1].inflight -= 1;
                st.inflight.remove(&(task.job, task.chunk));
                drop(st);
                task.sink
                    .complete(task.chunk as usize, Err(Error::Encode(e.0)));
                self.done.notify_all();
            }
        }
    }

    /// The window of worker `i` given its measured task time.
    fn window(&self, r: &RankState) -> usize {
        match r.avg_nanos {
            None => 2,
            Some(ns) => {
                let w = TARGET_AHEAD.as_nanos() as f64 / ns.max(1.0);
                (w as usize).clamp(1, self.max_window)
            }
        }
    }

    fn dispatch_loop(self: Arc<Self>) {
        let world = SimpleCommunicator::world();
        loop {
            let (task, rank) = {
                let mut st = lock(&self.state);
                let picked = loop {
                    if st.phase == Phase::Terminated {
                        break None;
                    }
                    if st.phase == Phase::Closed
                        && st.queue.is_empty()
                        && st.inflight.is_empty()
                        && st.feeders == 0
                    {
                        break None;
                    }
                    if !st.queue.is_empty()
                        && let Some(i) = self.pick(&mut st)
                    {
                        break Some(i);
                    }
                    st = self.wake.wait(st).unwrap_or_else(|e| e.into_inner());
                };
                let Some(i) = picked else {
                    break;
                };
                let Some(task) = st.queue.pop_front() else {
                    break;
                };
                if task.sink.cancelled() {
                    // `cancel` resolved the call already; the round robin moved on.
                    continue;
                }
                st.ranks[i].inflight += 1;
                st.inflight
                    .insert((task.job, task.chunk), (task.sink.clone(), task.len));
                (task, i + 1)
            };
            self.send_task(&world, task, rank);
        }
        // Shutdown, once no caller is still sending (a task must not follow it). Tasks
        // already sent still run on their workers (results ignored after a
        // terminate); each worker answers goodbye after them.
        {
            let mut st = lock(&self.state);
            while st.sending > 0 {
                st = self.wake.wait(st).unwrap_or_else(|e| e.into_inner());
            }
        }
        match pack(&ToWorker::Shutdown, &[]) {
            Ok(bye) => {
                for r in 1..=self.workers {
                    world.process_at_rank(r as i32).send(&bye[..]);
                }
            }
            Err(e) => {
                eprintln!("multiproc-mpi: cannot encode shutdown: {}", e.0);
                world.abort(70);
            }
        }
    }

    fn receive_loop(self: Arc<Self>) {
        let world = SimpleCommunicator::world();
        loop {
            let (msg, status) = world.any_process().receive_vec::<u8>();
            let rank = status.source_rank() as usize;
            match unpack::<ToRoot>(&msg) {
                Ok((
                    ToRoot::Done {
                        job,
                        chunk,
                        nanos,
                        error,
                    },
                    payload,
                )) => {
                    let sink = {
                        let mut st = lock(&self.state);
                        if let Some(r) = st.ranks.get_mut(rank.wrapping_sub(1)) {
                            r.inflight = r.inflight.saturating_sub(1);
                            let n = nanos as f64;
                            r.avg_nanos = Some(match r.avg_nanos {
                                None => n,
                                Some(a) => 0.75 * a + 0.25 * n,
                            });
                        }
                        let sink = st.inflight.remove(&(job, chunk));
                        self.wake.notify_all();
                        sink
                    };
                    if let Some((sink, len)) = sink {
                        tracing::debug!(
                            rank,
                            job,
                            chunk,
                            items = len,
                            micros = nanos / 1000,
                            "multiproc-mpi: task ran on rank {rank}"
                        );
                        let outcome = match error {
                            None => Ok(payload.to_vec()),
                            Some(e) => Err(Error::from(e)),
                        };
                        sink.complete(chunk as usize, outcome);
                        self.done.notify_all();
                    }
                }
                Ok((ToRoot::Bye, _)) => {
                    let mut st = lock(&self.state);
                    st.byes += 1;
                    if st.byes == self.workers {
                        st.finished = true;
                        self.done.notify_all();
                        return;
                    }
                }
                Err(e) => {
                    eprintln!(
                        "multiproc-mpi: unreadable message from rank {rank}: {}",
                        e.0
                    );
                    world.abort(70);
                }
            }
        }
    }

    pub(crate) fn close(&self) {
        let mut st = lock(&self.state);
        if st.phase == Phase::Running {
            st.phase = Phase::Closed;
        }
        self.wake.notify_all();
    }

    pub(crate) fn terminate(&self) {
        let (queued, inflight) = {
            let mut st = lock(&self.state);
            st.phase = Phase::Terminated;
            self.wake.notify_all();
            (
                std::mem::take(&mut st.queue),
                std::mem::take(&mut st.inflight),
            )
        };
        for t in queued {
            t.sink.complete(t.chunk as usize, Err(Error::Terminated));
        }
        for ((_, chunk), (sink, _)) in inflight {
            sink.complete(chunk as usize, Err(Error::Terminated));
        }
        self.done.notify_all();
    }

    pub(crate) fn phase(&self) -> Phase {
        lock(&self.state).phase
    }

    /// Waits until every worker said goodbye, then joins the threads.
    pub(crate) fn join(&self, timeout: Option<Duration>) -> Result<bool, Error> {
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        if std::thread::current().name() == Some(RX_THREAD) {
            // A callback (they run on the receiver thread) would wait for itself.
            return Err(Error::JoinFromCallback);
        }
        {
            let mut st = lock(&self.state);
            if st.phase == Phase::Running {
                return Err(Error::StillRunning);
            }
            while !st.finished {
                match deadline {
                    None => st = self.done.wait(st).unwrap_or_else(|e| e.into_inner()),
                    Some(d) => {
                        let now = Instant::now();
                        if now >= d {
                            return Ok(false);
                        }
                        st = self
                            .done
                            .wait_timeout(st, d - now)
                            .unwrap_or_else(|e| e.into_inner())
                            .0;
                    }
                }
            }
        }
        let threads: Vec<_> = std::mem::take(&mut *lock(&self.threads));
        for t in threads {
            let _ = t.join();
        }
        Ok(true)
    }

    pub(crate) fn feeder_done(&self) {
        let mut st = lock(&self.state);
        st.feeders = st.feeders.saturating_sub(1);
        self.wake.notify_all();
    }
}
