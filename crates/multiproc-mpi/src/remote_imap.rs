//! `imap`/`imap_unordered` on MPI ranks: input pulled lazily, a bounded number of
//! chunks in flight, results yielded in order or as they arrive.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use multiproc_pool::Error;
use multiproc_process::Target;
use multiproc_process::invoke::Invoker;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::job::{ImapSink, Sink, lock};
use crate::remote::{Engine, Phase, Task};
use crate::wire;

/// Chunks in flight per worker rank.
const AHEAD_PER_WORKER: usize = 8;

type Feed = Box<dyn FnMut(usize) -> Option<Result<(Vec<u8>, usize), Error>> + Send>;

pub(crate) struct RemoteIMap<R> {
    engine: Arc<Engine>,
    invoker: Result<Invoker, Error>,
    feed: Feed,
    sink: Arc<ImapSink<R>>,
    ordered: bool,
    job: u64,
    chunksize: usize,
    ahead: usize,
    next_index: usize,
    next_yield: usize,
    inflight: usize,
    current: VecDeque<Result<R, Error>>,
    exhausted: bool,
    registered: bool,
}

impl<R: DeserializeOwned + Send + 'static> RemoteIMap<R> {
    pub(crate) fn new<F, T, It>(engine: Arc<Engine>, f: F, mut input: It, ordered: bool) -> Self
    where
        F: Target<(T,)>,
        T: Serialize + DeserializeOwned + Send + 'static,
        It: Iterator<Item = T> + Send + 'static,
    {
        let feed: Feed = Box::new(move |n| {
            let chunk: Vec<(T,)> = input.by_ref().take(n).map(|x| (x,)).collect();
            if chunk.is_empty() {
                return None;
            }
            Some(
                wire::encode_plain(&chunk)
                    .map(|b| (b, chunk.len()))
                    .map_err(Error::Encode),
            )
        });
        // Registered now: an iterator made before `close` is served after it.
        let registered = {
            let mut st = lock(&engine.state);
            if st.phase == Phase::Running {
                st.feeders += 1;
                true
            } else {
                false
            }
        };
        let job = engine.new_job();
        let ahead = AHEAD_PER_WORKER * engine.workers();
        RemoteIMap {
            invoker: Invoker::of(f).map_err(Error::from),
            engine,
            feed,
            sink: ImapSink::new(),
            ordered,
            job,
            chunksize: 1,
            ahead,
            next_index: 0,
            next_yield: 0,
            inflight: 0,
            current: VecDeque::new(),
            exhausted: false,
            registered,
        }
    }

    pub(crate) fn chunksize(mut self, n: usize) -> Self {
        self.chunksize = n.max(1);
        self
    }

    fn top_up(&mut self) -> Option<Error> {
        let invoker = match &self.invoker {
            Ok(i) => *i,
            Err(e) => {
                self.exhausted = true;
                return Some(e.clone());
            }
        };
        if !self.registered {
            self.exhausted = true;
            return Some(if self.engine.phase() == Phase::Terminated {
                Error::Terminated
            } else {
                Error::NotRunning
            });
        }
        let mut tasks = Vec::new();
        while !self.exhausted && self.inflight + tasks.len() < self.ahead {
            match (self.feed)(self.chunksize) {
                None => self.exhausted = true,
                Some(Err(e)) => {
                    self.exhausted = true;
                    self.submit(tasks);
                    return Some(e);
                }
                Some(Ok((args, len))) => {
                    let index = self.next_index;
                    self.next_index += 1;
                    lock(&self.sink.lens).insert(index, len);
                    let sink: Arc<dyn Sink> = self.sink.clone();
                    tasks.push(Task {
                        job: self.job,
                        chunk: index as u32,
                        invoker,
                        args,
                        len,
                        sink,
                    });
                }
            }
        }
        self.submit(tasks);
        None
    }

    fn submit(&mut self, tasks: Vec<Task>) {
        if !tasks.is_empty() {
            self.inflight += tasks.len();
            self.engine.submit(tasks, true);
        }
        if self.exhausted {
            self.deregister();
        }
    }

    fn deregister(&mut self) {
        if self.registered && self.exhausted && self.inflight == 0 {
            self.registered = false;
            self.engine.feeder_done();
        }
    }

    /// The next result; with a deadline, `Some(Err(Error::Timeout))` when none
    /// arrived in time (the iterator stays usable).
    pub(crate) fn next_until(&mut self, deadline: Option<Instant>) -> Option<Result<R, Error>> {
        loop {
            if let Some(item) = self.current.pop_front() {
                return Some(item);
            }
            if let Some(e) = self.top_up() {
                return Some(Err(e));
            }
            if self.inflight == 0 {
                self.deregister();
                return None;
            }
            let mut a = lock(&self.sink.arrived);
            let items = loop {
                let got = if self.ordered {
                    a.0.remove(&self.next_yield)
                } else {
                    a.1.pop_front().and_then(|i| a.0.remove(&i))
                };
                if let Some(items) = got {
                    break items;
                }
                match deadline {
                    None => a = self.sink.cv.wait(a).unwrap_or_else(|e| e.into_inner()),
                    Some(d) => {
                        let now = Instant::now();
                        if now >= d {
                            return Some(Err(Error::Timeout));
                        }
                        a = self
                            .sink
                            .cv
                            .wait_timeout(a, d - now)
                            .unwrap_or_else(|e| e.into_inner())
                            .0;
                    }
                }
            };
            drop(a);
            if self.ordered {
                self.next_yield += 1;
            }
            self.inflight -= 1;
            self.current.extend(items);
        }
    }
}

impl<R> Drop for RemoteIMap<R> {
    fn drop(&mut self) {
        if self.registered {
            self.registered = false;
            self.engine.feeder_done();
        }
    }
}
