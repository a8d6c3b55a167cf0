//! A futex word with a sleeper count: wake-ups without a system call unless someone
//! sleeps, and CPU-aware spinning before sleeping.

use std::fmt;
use std::time::{Duration, Instant};

use crate::loom::{AtomicU32, Ordering, fence};
use crate::sys;

/// Pauses a waiter spins before it sleeps (about 5 µs on the reference machine).
const SPIN: u32 = if cfg!(loom) { 1 } else { 200 };
/// Rounds of spinning a contended [`RobustMutex`](crate::foundation::RobustMutex)
/// under [`Spin::CpuAware`](crate::foundation::Spin::CpuAware) makes before sleeping.
pub(crate) const SPIN_ROUNDS: u32 = if cfg!(loom) { 1 } else { 4 };
/// Longest a waiter spends yielding before it sleeps.
const YIELD_SPIN: Duration = Duration::from_micros(10);

#[cfg(not(loom))]
thread_local! {
    /// Set when this thread has just handed work to a peer that is asleep or spinning
    /// on this very CPU: its next wait should let the peer run rather than spin.
    static WOKE_PEER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

// Per modelled thread, fresh in every execution (the model must be deterministic).
#[cfg(loom)]
::loom::thread_local! {
    static WOKE_PEER: std::cell::Cell<bool> = std::cell::Cell::new(false);
}

/// Waits a bounded while for `ready()`: yields when `yielding` (the thread that will
/// make it true may be waiting for this CPU), pauses otherwise. The bound (at most
/// [`SPIN`] pauses, about 5 µs, or `SPIN / 10` yields and [`YIELD_SPIN`]) is short
/// against any real idle period, so a side that waits longer is asleep in the futex.
pub(crate) fn spin_wait(yielding: bool, ready: impl Fn() -> bool) -> bool {
    if yielding {
        // A yield may run another program for a whole time slice: bound the phase by
        // time as well, so the waiter is soon asleep in the futex.
        let start = Instant::now();
        for _ in 0..SPIN.div_ceil(10) {
            crate::loom::yield_now();
            if ready() {
                return true;
            }
            if !cfg!(loom) && start.elapsed() >= YIELD_SPIN {
                break;
            }
        }
    } else {
        for _ in 0..SPIN {
            crate::loom::spin_loop();
            if ready() {
                return true;
            }
        }
    }
    false
}

/// A doorbell between one notifying side and the sides that wait for it, to place in
/// shared memory: a futex word (`seq`), a count of sleepers, and the CPUs (plus one)
/// the waiting side last spun on and the notifying side last rang from. 16 bytes,
/// `#[repr(C)]`, all atomics; zero-filled memory holds a quiet doorbell.
///
/// The protocol, free of lost wake-ups: the notifier changes its state, then
/// [`ring`](Self::ring)s (a `SeqCst` fence, then a look at the sleeper count); a waiter
/// [`wait`](Self::wait)s (counts itself, a `SeqCst` fence, re-checks the state, sleeps
/// only if it still does not hold). By the two fences, either the waiter's re-check
/// sees the new state or the notifier sees the sleeper. The fast path (nobody asleep)
/// makes no system call.
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::time::Duration;
/// use multiproc_sync::foundation::Doorbell;
/// let bell = Doorbell::new();
/// let ready = AtomicBool::new(false);
/// std::thread::scope(|s| {
///     s.spawn(|| {
///         ready.store(true, Ordering::Release);
///         bell.ring();
///     });
///     let ok = || ready.load(Ordering::Acquire);
///     while !ok() {
///         bell.wait(Duration::from_secs(60), ok);
///     }
/// });
/// ```
#[repr(C)]
#[derive(Default)]
pub struct Doorbell {
    seq: AtomicU32,
    waiters: AtomicU32,
    /// The CPU (plus one) on which the waiting side last spun; 0 before anyone has.
    /// Written only when it changes, so the notifying side's cache line is not
    /// invalidated on every wait.
    spinner: AtomicU32,
    /// The CPU (plus one) from which the notifying side last rang, written likewise:
    /// a waiter on that CPU yields instead of spinning.
    notifier: AtomicU32,
}

#[cfg(not(loom))]
const _: () = assert!(size_of::<Doorbell>() == 16 && align_of::<Doorbell>() == 4);

impl fmt::Debug for Doorbell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Doorbell")
            .field("sleepers", &self.waiters.load(Ordering::Relaxed))
            .finish()
    }
}

impl Doorbell {
    /// A quiet doorbell (the same as zero-filled memory).
    ///
    /// ```
    /// use multiproc_sync::foundation::Doorbell;
    /// let bell = Doorbell::new();
    /// assert_eq!(bell.sleepers(), 0);
    /// ```
    pub fn new() -> Doorbell {
        Doorbell::default()
    }

    /// Wakes the sleepers if any; notes a waiter that spins on this CPU.
    ///
    /// A peer spinning on this CPU cannot see the new state until this thread stops
    /// running, and a peer just woken is often placed on this CPU too: in both cases
    /// the next [`spin_until`](Self::spin_until) of this thread yields instead of
    /// pausing, so the peer runs at once.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::time::Duration;
    /// use multiproc_sync::foundation::Doorbell;
    /// let (bell, flag) = (Doorbell::new(), AtomicBool::new(false));
    /// std::thread::scope(|s| {
    ///     s.spawn(|| {
    ///         // The waiting side: re-check after every return from `wait`.
    ///         while !flag.load(Ordering::Acquire) {
    ///             bell.wait(Duration::from_millis(20), || flag.load(Ordering::Acquire));
    ///         }
    ///     });
    ///     flag.store(true, Ordering::Release); // the state change first,
    ///     bell.ring(); // then the ring (a system call only if someone sleeps)
    /// });
    /// ```
    pub fn ring(&self) {
        let cpu = sys::this_cpu();
        if self.notifier.load(Ordering::Relaxed) != cpu {
            self.notifier.store(cpu, Ordering::Relaxed);
        }
        fence(Ordering::SeqCst);
        if self.waiters.load(Ordering::Relaxed) != 0 {
            self.seq.fetch_add(1, Ordering::Release);
            sys::futex_wake(&self.seq, u32::MAX);
            WOKE_PEER.with(|w| w.set(true));
        } else if self.spinner.load(Ordering::Relaxed) == cpu {
            WOKE_PEER.with(|w| w.set(true));
        }
    }

    /// Wakes the sleepers if any, without the CPU bookkeeping of
    /// [`ring`](Self::ring) (for doorbells nobody spins on).
    ///
    /// ```
    /// use multiproc_sync::foundation::Doorbell;
    /// let bell = Doorbell::new();
    /// bell.ring_sleepers(); // nobody sleeps: no system call
    /// ```
    pub fn ring_sleepers(&self) {
        fence(Ordering::SeqCst);
        if self.waiters.load(Ordering::Relaxed) != 0 {
            self.seq.fetch_add(1, Ordering::Release);
            sys::futex_wake(&self.seq, u32::MAX);
        }
    }

    /// Wakes every sleeper unconditionally (one system call): for a state change the
    /// sleepers must re-examine although the notifier did not follow the protocol's
    /// order (a counter of another structure changed).
    ///
    /// ```
    /// use multiproc_sync::foundation::Doorbell;
    /// let bell = Doorbell::new();
    /// bell.wake_all(); // always one futex wake
    /// ```
    pub fn wake_all(&self) {
        self.seq.fetch_add(1, Ordering::Release);
        sys::futex_wake(&self.seq, u32::MAX);
    }

    /// Spins a bounded while for `ready()`, announcing the spin (and its CPU) to the
    /// notifying side. Pauses, unless the notifying side last rang from this CPU or
    /// this thread has just woken a peer that may run here ([`ring`](Self::ring)):
    /// then it yields, so that the other side runs now rather than after the spin.
    ///
    /// ```
    /// use multiproc_sync::foundation::Doorbell;
    /// let bell = Doorbell::new();
    /// assert!(bell.spin_until(|| true)); // ready at once
    /// assert!(!bell.spin_until(|| false)); // bounded: gives up
    /// ```
    pub fn spin_until(&self, ready: impl Fn() -> bool) -> bool {
        if ready() {
            return true;
        }
        let cpu = sys::this_cpu();
        if self.spinner.load(Ordering::Relaxed) != cpu {
            self.spinner.store(cpu, Ordering::Relaxed);
        }
        let woke = WOKE_PEER.with(|w| w.replace(false));
        spin_wait(woke || self.notifier.load(Ordering::Relaxed) == cpu, ready)
    }

    /// Sleeps up to `timeout` unless `ready()` holds once the sleeper is counted.
    /// Returns on a ring, a timeout or a signal alike: the caller re-checks.
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_sync::foundation::Doorbell;
    /// let bell = Doorbell::new();
    /// bell.wait(Duration::from_secs(60), || true); // ready once counted: no sleep
    /// bell.wait(Duration::from_millis(1), || false); // nobody rings: the timeout ends it
    /// assert_eq!(bell.sleepers(), 0);
    /// ```
    pub fn wait(&self, timeout: Duration, ready: impl Fn() -> bool) {
        self.waiters.fetch_add(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        let seq = self.seq.load(Ordering::Acquire);
        if !ready() {
            sys::futex_wait(&self.seq, seq, Some(timeout));
        }
        self.waiters.fetch_sub(1, Ordering::Relaxed);
    }

    /// Counts an asynchronous sleeper and returns the futex word's value to sleep
    /// against: the first half of [`wait`](Self::wait), for a
    /// `FutexWaiter` (feature `tokio`) armed on [`word`](Self::word)
    /// after the caller re-checked its condition. Pair with [`leave`](Self::leave).
    ///
    /// ```
    /// let bell = multiproc_sync::foundation::Doorbell::new();
    /// let seq = bell.enter();
    /// assert_eq!(bell.sleepers(), 1);
    /// bell.ring_sleepers();
    /// assert_ne!(bell.seq(), seq, "a counted sleeper makes a ring change the word");
    /// bell.leave();
    /// assert_eq!(bell.sleepers(), 0);
    /// ```
    pub fn enter(&self) -> u32 {
        self.waiters.fetch_add(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        self.seq.load(Ordering::Acquire)
    }

    /// The futex word's value now, for a sleeper counted by [`enter`](Self::enter)
    /// that re-arms: read it before re-checking the condition.
    ///
    /// ```
    /// use multiproc_sync::foundation::Doorbell;
    /// let bell = Doorbell::new();
    /// let seq = bell.enter();
    /// assert_eq!(bell.seq(), seq);
    /// bell.ring_sleepers(); // a counted sleeper: the word changes
    /// assert_ne!(bell.seq(), seq);
    /// bell.leave();
    /// ```
    pub fn seq(&self) -> u32 {
        self.seq.load(Ordering::Acquire)
    }

    /// Uncounts a sleeper counted by [`enter`](Self::enter) (saturating: a holder that
    /// took a side over may have cleared the count meanwhile).
    ///
    /// ```
    /// use multiproc_sync::foundation::Doorbell;
    /// let bell = Doorbell::new();
    /// bell.enter();
    /// assert_eq!(bell.sleepers(), 1);
    /// bell.leave();
    /// assert_eq!(bell.sleepers(), 0);
    /// bell.leave(); // saturating
    /// assert_eq!(bell.sleepers(), 0);
    /// ```
    pub fn leave(&self) {
        let _ = self
            .waiters
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }

    /// The futex word rings change and wake.
    ///
    /// ```
    /// use std::sync::atomic::Ordering;
    /// use multiproc_sync::foundation::Doorbell;
    /// let bell = Doorbell::new();
    /// assert_eq!(bell.word().load(Ordering::Acquire), bell.seq());
    /// ```
    pub fn word(&self) -> &AtomicU32 {
        &self.seq
    }

    /// Forgets every counted sleeper: for whoever took a side over from a holder that
    /// died asleep here (its count would otherwise make every ring a system call).
    ///
    /// ```
    /// use multiproc_sync::foundation::Doorbell;
    /// let bell = Doorbell::new();
    /// bell.force_sleepers(1); // what a sleeper killed by SIGKILL leaves
    /// bell.clear_sleepers();
    /// assert_eq!(bell.sleepers(), 0);
    /// ```
    pub fn clear_sleepers(&self) {
        self.waiters.store(0, Ordering::Relaxed);
    }

    /// Sets the sleeper count: the state sleepers killed while asleep leave. For tests
    /// of recovery code.
    ///
    /// ```
    /// let bell = multiproc_sync::foundation::Doorbell::new();
    /// bell.force_sleepers(2);
    /// bell.clear_sleepers();
    /// assert_eq!(bell.sleepers(), 0);
    /// ```
    pub fn force_sleepers(&self, n: u32) {
        self.waiters.store(n, Ordering::Relaxed);
    }

    /// Sleepers counted now.
    ///
    /// ```
    /// use multiproc_sync::foundation::Doorbell;
    /// assert_eq!(Doorbell::new().sleepers(), 0);
    /// ```
    pub fn sleepers(&self) -> u32 {
        self.waiters.load(Ordering::Relaxed)
    }

    /// The notifying side's CPU word: the `peer` of
    /// [`Spin::CpuAware`](crate::foundation::Spin::CpuAware) for a lock on the waiting
    /// side.
    ///
    /// ```
    /// use multiproc_sync::foundation::{Doorbell, Spin};
    /// let space = Doorbell::new();
    /// let spin = Spin::CpuAware { peer: Some(space.notifier()) };
    /// assert!(matches!(spin, Spin::CpuAware { peer: Some(_) }));
    /// ```
    pub fn notifier(&self) -> &AtomicU32 {
        &self.notifier
    }
}
