//! The async form of [`Barrier::wait`] (feature `tokio`): the blocking algorithm of
//! `barrier.rs` as a sequence of polls, its internal mutex taken for this process and
//! its condition sleeps armed on the futex bridge.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use super::{BROKEN, Barrier, DRAINING, FILLING, PortableFn, RESETTING};
use crate::aio::MutexWait;
use crate::bridge::FutexWaiter;
use crate::deadline::Deadline;
use crate::error::BarrierError;
use crate::raw::CondState;
use crate::robust::{Acquired, RobustMutex, Spin};
use crate::sys::{self, LIVENESS_SLICE};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sleep {
    Idle,
    Sleeping,
    Relocking,
}

/// One sleep on the barrier's condition, as the blocking `Barrier::sleep` (a liveness
/// slice at most): counted, mutex released, armed; then the mutex re-taken and the
/// count settled.
struct CondSleep {
    waiter: FutexWaiter,
    relock: MutexWait,
    seq: u32,
    state: Sleep,
}

impl CondSleep {
    fn new() -> CondSleep {
        CondSleep {
            waiter: FutexWaiter::new(),
            relock: MutexWait::new(),
            seq: 0,
            state: Sleep::Idle,
        }
    }

    /// With the mutex held: counts, releases, arms.
    fn start(&mut self, cond: &CondState, m: &RobustMutex, deadline: Deadline, cx: &Context<'_>) {
        cond.waiting
            .store(cond.waiting.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        self.seq = cond.seq.load(Ordering::Relaxed);
        m.unlock();
        self.waiter.arm(
            &cond.seq,
            self.seq,
            Some(deadline.slice(LIVENESS_SLICE)),
            cx.waker(),
        );
        self.state = Sleep::Sleeping;
    }

    /// `Ready` once the mutex is held again and the count settled (with how the mutex
    /// was taken); fired or not, a sleep ends at the first poll after its slice, like
    /// the blocking one.
    fn poll(&mut self, cond: &CondState, m: &RobustMutex, cx: &Context<'_>) -> Poll<Acquired> {
        if self.state == Sleep::Sleeping {
            if !self.waiter.disarm() && cond.seq.load(Ordering::Relaxed) == self.seq {
                self.waiter
                    .arm(&cond.seq, self.seq, Some(LIVENESS_SLICE), cx.waker());
                return Poll::Pending;
            }
            self.state = Sleep::Relocking;
        }
        let acq = match self.relock.poll(m, cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(acq) => acq,
        };
        self.relock = MutexWait::new();
        settle(cond, false);
        self.state = Sleep::Idle;
        Poll::Ready(acq)
    }

    /// Abandons a sleep (the future is dropped): takes the mutex (blocking, briefly) and
    /// settles the count; returns with the mutex held.
    fn cancel_locked(&mut self, cond: &CondState, m: &RobustMutex) {
        self.waiter.disarm();
        self.relock.cancel(m);
        let _ = m.lock(sys::this_process(), Deadline::Never, Spin::Backoff);
        settle(cond, true);
        self.state = Sleep::Idle;
    }
}

/// Settles a sleeper's count with the mutex held: consumes a signal if there is one
/// (a normal wake-up), else uncounts. A `cancelled` sleeper leaves a signal for
/// another waiter and wakes one instead of consuming it (the count may then over-count
/// by one: a spurious wake-up later, never a lost one).
fn settle(cond: &CondState, cancelled: bool) {
    let signals = cond.signals.load(Ordering::Relaxed);
    if signals == 0 {
        let w = cond.waiting.load(Ordering::Relaxed);
        cond.waiting.store(w.saturating_sub(1), Ordering::Relaxed);
    } else if cancelled {
        cond.seq.fetch_add(1, Ordering::Release);
        sys::futex_wake(&cond.seq, 1);
    } else {
        cond.signals.store(signals - 1, Ordering::Relaxed);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Taking the barrier's mutex.
    Locking,
    /// Mutex held (or sleeping): waiting for a previous cycle to drain.
    Entering,
    /// Arrived: waiting for the others.
    Filling,
    Done,
}

/// The future of [`AsyncBarrier::wait`].
///
/// ```
/// use multiproc_sync::{Barrier, aio::BarrierWaitFuture};
/// let rt = tokio::runtime::Builder::new_current_thread().build()?;
/// rt.block_on(async {
///     let b = Barrier::new(1)?.into_async();
///     let fut: BarrierWaitFuture<'_> = b.wait();
///     assert_eq!(fut.await?, 0); // one party: the barrier opens at once
///     assert_eq!(b.wait().await?, 0); // and again, the next cycle
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct BarrierWaitFuture<'a> {
    b: &'a Barrier,
    phase: Phase,
    lock: MutexWait,
    sleep: CondSleep,
    deadline: Deadline,
    index: u32,
    cycle: u32,
}

impl BarrierWaitFuture<'_> {
    /// `_exit` and the release of the mutex, then the outcome.
    fn leave(&mut self, result: Result<u32, BarrierError>) -> Poll<Result<u32, BarrierError>> {
        let st = self.b.st.get();
        if let Some(slot) = self.b.st.tail().get(self.index as usize) {
            slot.store(0, Ordering::Relaxed);
        }
        let c = st.count.load(Ordering::Relaxed);
        st.count.store(c.saturating_sub(1), Ordering::Relaxed);
        self.b.exit_check();
        st.mutex.unlock();
        self.phase = Phase::Done;
        Poll::Ready(result)
    }
}

impl BarrierWaitFuture<'_> {
    /// Resumes a condition sleep in progress (`Pending` while it lasts; a dead holder
    /// of the mutex breaks the barrier), then reaps dead parties.
    fn resume_sleep(&mut self, cx: &Context<'_>) -> Poll<()> {
        let b = self.b;
        let st = b.st.get();
        if self.sleep.state != Sleep::Idle {
            match self.sleep.poll(&st.cond, &st.mutex, cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Acquired::OwnerDied) => {
                    b.reap_dead();
                    b.break_locked();
                }
                Poll::Ready(_) => {}
            }
            b.reap_dead();
        }
        Poll::Ready(())
    }

    /// The mutex held: waits for a previous cycle to drain, then arrives. `Ready(None)`
    /// once arrived and the barrier not yet full (on to [`Phase::Filling`]).
    fn poll_entering(&mut self, cx: &Context<'_>) -> Poll<Option<Result<u32, BarrierError>>> {
        let b = self.b;
        let st = b.st.get();
        if self.resume_sleep(cx).is_pending() {
            return Poll::Pending;
        }
        if matches!(st.state.load(Ordering::Relaxed), DRAINING | RESETTING) {
            self.sleep.start(&st.cond, &st.mutex, Deadline::Never, cx);
            return Poll::Pending;
        }
        if st.state.load(Ordering::Relaxed) == BROKEN {
            st.mutex.unlock();
            self.phase = Phase::Done;
            return Poll::Ready(Some(Err(BarrierError::Broken)));
        }
        let index = st.count.load(Ordering::Relaxed);
        let Some(slot) = b.st.tail().get(index as usize) else {
            // Only possible if another process corrupted the state.
            b.break_locked();
            st.mutex.unlock();
            self.phase = Phase::Done;
            return Poll::Ready(Some(Err(BarrierError::Broken)));
        };
        st.count.store(index + 1, Ordering::Relaxed);
        slot.store(sys::this_process().token(), Ordering::Relaxed);
        self.index = index;
        self.cycle = st.cycle.load(Ordering::Relaxed);
        if index + 1 < b.parties {
            self.phase = Phase::Filling;
            return Poll::Ready(None);
        }
        let ran = match b.action {
            Some(PortableFn(f)) => std::panic::catch_unwind(f).is_ok(),
            None => true,
        };
        let result = if ran {
            st.cycle
                .store(self.cycle.wrapping_add(1), Ordering::Relaxed);
            st.state.store(DRAINING, Ordering::Relaxed);
            st.cond.notify_all();
            Ok(index)
        } else {
            b.break_locked();
            Err(BarrierError::ActionPanicked)
        };
        self.leave(result).map(Some)
    }

    /// Arrived: waits for the others (or the deadline, which breaks the barrier).
    fn poll_filling(&mut self, cx: &Context<'_>) -> Poll<Result<u32, BarrierError>> {
        let b = self.b;
        let st = b.st.get();
        if self.resume_sleep(cx).is_pending() {
            return Poll::Pending;
        }
        let passed = st.cycle.load(Ordering::Relaxed) != self.cycle;
        let state = st.state.load(Ordering::Relaxed);
        if state == FILLING && !passed {
            if self.deadline.expired() {
                b.break_locked();
            } else {
                self.sleep.start(&st.cond, &st.mutex, self.deadline, cx);
                return Poll::Pending;
            }
        }
        // A completed cycle wins over a later abort, timeout or reset.
        let result = match st.state.load(Ordering::Relaxed) {
            _ if st.cycle.load(Ordering::Relaxed) != self.cycle => Ok(self.index),
            BROKEN | RESETTING => Err(BarrierError::Broken),
            _ => Ok(self.index),
        };
        self.leave(result)
    }
}

impl Future for BarrierWaitFuture<'_> {
    type Output = Result<u32, BarrierError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let b = this.b;
        let st = b.st.get();
        loop {
            match this.phase {
                Phase::Locking => {
                    match this.lock.poll(&st.mutex, cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(Acquired::OwnerDied) => {
                            b.reap_dead();
                            b.break_locked();
                        }
                        Poll::Ready(_) => {}
                    }
                    this.phase = Phase::Entering;
                }
                Phase::Entering => match this.poll_entering(cx) {
                    Poll::Ready(None) => {}
                    Poll::Ready(Some(r)) => return Poll::Ready(r),
                    Poll::Pending => return Poll::Pending,
                },
                Phase::Filling => return this.poll_filling(cx),
                Phase::Done => return Poll::Pending,
            }
        }
    }
}

impl Drop for BarrierWaitFuture<'_> {
    fn drop(&mut self) {
        let st = self.b.st.get();
        match self.phase {
            Phase::Locking => self.lock.cancel(&st.mutex),
            Phase::Done => {}
            Phase::Entering => {
                // Between polls an entering future is asleep (it has not arrived).
                self.sleep.cancel_locked(&st.cond, &st.mutex);
                st.mutex.unlock();
            }
            Phase::Filling => {
                // Arrived and cancelled: the barrier breaks, as after a timeout.
                self.sleep.cancel_locked(&st.cond, &st.mutex);
                self.b.break_locked();
                let _ = self.leave(Err(BarrierError::Broken));
            }
        }
    }
}

impl fmt::Debug for BarrierWaitFuture<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BarrierWaitFuture")
            .field("phase", &self.phase)
            .finish_non_exhaustive()
    }
}

/// An async view of a [`Barrier`]: [`wait`](Self::wait) is a future. Parties may mix
/// async and blocking waits, in any process.
///
/// ```
/// let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build()?;
/// rt.block_on(async {
///     let b = multiproc_sync::Barrier::new(3)?.into_async();
///     let tasks: Vec<_> = (0..2)
///         .map(|_| {
///             let b = b.clone();
///             tokio::spawn(async move { b.wait().await })
///         })
///         .collect();
///     let mine = b.wait().await?;
///     let mut indices = vec![mine];
///     for t in tasks {
///         indices.push(t.await??);
///     }
///     indices.sort();
///     assert_eq!(indices, [0, 1, 2]);
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct AsyncBarrier {
    b: Barrier,
}

impl Barrier {
    /// This barrier, awaitable ([`AsyncBarrier`]).
    ///
    /// ```
    /// let b = multiproc_sync::Barrier::new(2)?.into_async();
    /// assert_eq!(b.get_ref().parties(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_async(self) -> AsyncBarrier {
        AsyncBarrier { b: self }
    }
}

impl AsyncBarrier {
    /// The blocking handle (`abort`, `reset`, `n_waiting`, …).
    ///
    /// ```
    /// let b = multiproc_sync::Barrier::new(2)?.into_async();
    /// assert_eq!(b.get_ref().n_waiting(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_ref(&self) -> &Barrier {
        &self.b
    }

    /// The blocking handle, unwrapped.
    ///
    /// ```
    /// let b = multiproc_sync::Barrier::new(2)?.into_async().into_inner();
    /// assert!(!b.is_broken());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_inner(self) -> Barrier {
        self.b
    }

    /// Waits for every party: as [`Barrier::wait`] (the barrier's default timeout
    /// applies; the arrival index, or [`BarrierError`]).
    ///
    /// Cancel safety: dropped before it has arrived (while a previous cycle drains) it
    /// takes nothing; dropped after it has arrived it **breaks the barrier**, as a
    /// timed-out wait does (the other parties get `Broken`; `reset` mends it). Dropping
    /// a waiting future takes the barrier's internal mutex briefly (blocking) to leave
    /// the counts consistent.
    ///
    /// ```
    /// let rt = tokio::runtime::Builder::new_current_thread().enable_time().build()?;
    /// rt.block_on(async {
    ///     let b = multiproc_sync::Barrier::new(2)?.into_async();
    ///     // The other party never comes: the cancelled wait breaks the barrier.
    ///     let r = tokio::time::timeout(std::time::Duration::from_millis(5), b.wait()).await;
    ///     assert!(r.is_err());
    ///     assert!(b.get_ref().is_broken());
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait(&self) -> BarrierWaitFuture<'_> {
        BarrierWaitFuture {
            b: &self.b,
            phase: Phase::Locking,
            lock: MutexWait::new(),
            sleep: CondSleep::new(),
            deadline: Deadline::after(self.b.timeout),
            index: 0,
            cycle: 0,
        }
    }
}

impl fmt::Debug for AsyncBarrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("AsyncBarrier").field(&self.b).finish()
    }
}
