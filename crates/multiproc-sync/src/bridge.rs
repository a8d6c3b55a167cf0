//! The bridge from futex words in shared memory to task wakers (feature `tokio`): one
//! thread per process sleeps in `futex_waitv` over the words that asynchronous waiters
//! registered, and wakes their tasks when a word is woken, changes or a waiter's
//! deadline passes.
//!
//! # Why a bridge thread, and why `futex_waitv`
//!
//! The primitives and the queue wait on futexes and have no descriptor a reactor could
//! poll. The bridge leaves their memory layout and their synchronous paths untouched:
//! an asynchronous waiter counts itself exactly where a sleeping thread would (the
//! sleeper count of a [`Doorbell`](crate::foundation::Doorbell), the waiters bit of a
//! [`RobustMutex`](crate::foundation::RobustMutex), a semaphore's sleeper count), so the
//! notifier's existing "anybody asleep? then `FUTEX_WAKE`" decides for both, and the
//! fast path with nobody waiting stays free of system calls. The wake-up that a sleeping
//! thread would receive goes to the bridge thread instead, which is one more futex
//! waiter as far as the kernel and the other processes know.
//!
//! An eventfd travelling with each object was the other candidate: it needs a
//! descriptor per object and per process, a new field in every segment layout, and a
//! second notification (a `write` to the eventfd) on the notifier's path whenever an
//! asynchronous waiter exists, besides the futex wake for synchronous sleepers. The
//! bridge needs none of that; its cost is one thread per process that uses async waits
//! (started on first use) and one hop from the bridge thread to the task.
//!
//! # The protocol (no lost wake-up)
//!
//! A waiter (1) counts itself as a sleeper, (2) reads the futex word, (3) re-checks its
//! condition, and only then (4) [`arm`](FutexWaiter::arm)s the bridge with the word and
//! the value read in (2). The bridge passes that value to `futex_waitv`, which the
//! kernel compares atomically with its sleep: a notifier that changed the state after
//! (2) also changed the word (every notifier here does), so the bridge returns at once
//! (`EAGAIN`) or is woken; a notifier that changed it before (3) is seen by (3). The
//! order is the one a sleeping thread follows, with the bridge's `futex_waitv` in place
//! of its `futex_wait`; `tests/loom.rs` models it. `arm` itself reads the word first:
//! one that already changed fires the waiter at once, without the bridge thread (a
//! kick and the bridge's wake-up would be two thread hops before the task runs).
//!
//! A wake-up addressed to one sleeper (`FUTEX_WAKE` with a count of 1, as a lock's
//! unlock or a semaphore's release sends) may reach the bridge; the bridge wakes every
//! task armed on that word in this process. A future dropped after such a wake-up and
//! before acting on it passes the wake-up on ([`FutexWaiter::disarm`] says so), so a
//! sleeper elsewhere is not left waiting for a wake-up that was spent.
//!
//! # Limits
//!
//! `futex_waitv` takes at most 128 words: the bridge waits on 127 distinct (word,
//! value) pairs and its own control word; waiters beyond are woken every millisecond to
//! re-check (many waiters on the same word count once). The bridge never reads or
//! writes an armed word in user space; it hands addresses to the kernel only, so a
//! waiter leaked with `mem::forget` whose mapping is gone costs an `EFAULT`, not
//! undefined behaviour. A `fork` child starts its own bridge (the parent's thread does
//! not exist there).

use std::fmt;
use std::sync::atomic::{AtomicPtr, AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::Waker;
use std::time::Duration;

use crate::sys::{self, WaitWord, Waitv};

/// Words `futex_waitv` accepts in one call.
const MAX_WORDS: usize = 128;
/// How often waiters beyond [`MAX_WORDS`] are woken to re-check.
const OVERFLOW_POLL_NS: u64 = 1_000_000;

struct Entry {
    id: u64,
    word: WaitWord,
    until_ns: Option<u64>,
    waker: Waker,
}

#[derive(Default)]
struct State {
    entries: Vec<Entry>,
    next_id: u64,
    /// The words of the bridge's current `futex_waitv`, empty while it is not in one.
    waiting: Vec<WaitWord>,
    /// Its deadline.
    waiting_until: Option<u64>,
    /// Whether the bridge thread runs.
    running: bool,
}

struct Bridge {
    pid: u32,
    /// Bumped (and woken) when the set of armed words changes.
    ctl: AtomicU32,
    state: Mutex<State>,
}

static BRIDGE: AtomicPtr<Bridge> = AtomicPtr::new(std::ptr::null_mut());

fn bridge() -> &'static Bridge {
    let pid = sys::this_process().id;
    sys::process_global(
        &BRIDGE,
        |b| b.pid == pid,
        || Bridge {
            pid,
            ctl: AtomicU32::new(0),
            state: Mutex::new(State::default()),
        },
    )
}

impl Bridge {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn kick(&self) {
        self.ctl.fetch_add(1, Ordering::Release);
        sys::futex_wake(&self.ctl, 1);
    }

    /// The bridge thread's loop.
    fn run(&'static self) {
        let ctl = WaitWord {
            addr: std::ptr::from_ref(&self.ctl) as usize,
            expected: 0,
        };
        let mut wake = Vec::new();
        loop {
            let seq = self.ctl.load(Ordering::Acquire);
            let mut set = vec![WaitWord {
                expected: seq,
                ..ctl
            }];
            let (until, overflow) = {
                let mut st = self.lock();
                let now = sys::monotonic_ns();
                fire(&mut st, &mut wake, |e| e.until_ns.is_some_and(|u| u <= now));
                let mut until: Option<u64> = None;
                let mut overflow = false;
                for e in &st.entries {
                    if !set.contains(&e.word) {
                        if set.len() < MAX_WORDS {
                            set.push(e.word);
                        } else {
                            overflow = true;
                            continue;
                        }
                    }
                    if let Some(u) = e.until_ns {
                        until = Some(until.map_or(u, |v| v.min(u)));
                    }
                }
                if overflow {
                    let poll = now.saturating_add(OVERFLOW_POLL_NS);
                    until = Some(until.map_or(poll, |v| v.min(poll)));
                }
                st.waiting.clone_from(&set);
                st.waiting_until = until;
                (until, overflow)
            };
            wake_all(&mut wake);
            let r = sys::futex_waitv(&set, until);
            // Which words changed, asked of the kernel before taking the lock.
            let changed: Vec<WaitWord> = match r {
                Waitv::Woken(i) if i > 0 => set.get(i).copied().into_iter().collect(),
                Waitv::Changed | Waitv::Other => set[1..]
                    .iter()
                    .copied()
                    .filter(|&w| !sys::futex_unchanged(w))
                    .collect(),
                Waitv::Woken(_) | Waitv::TimedOut => Vec::new(),
            };
            let mut st = self.lock();
            st.waiting.clear();
            st.waiting_until = None;
            fire(&mut st, &mut wake, |e| {
                changed.iter().any(|c| c.addr == e.word.addr)
                    || (overflow && !set.contains(&e.word))
            });
            drop(st);
            wake_all(&mut wake);
        }
    }
}

/// Removes the entries `hit` selects, collecting their wakers.
fn fire(st: &mut State, wake: &mut Vec<Waker>, hit: impl Fn(&Entry) -> bool) {
    let mut i = 0;
    while i < st.entries.len() {
        if hit(&st.entries[i]) {
            wake.push(st.entries.swap_remove(i).waker);
        } else {
            i += 1;
        }
    }
}

fn wake_all(wake: &mut Vec<Waker>) {
    for w in wake.drain(..) {
        w.wake();
    }
}

/// One asynchronous waiter's registration with the process's futex bridge: the piece
/// of an async primitive that turns "sleep on this futex word" into "wake this task".
///
/// [`arm`](Self::arm) after counting yourself as a sleeper and re-checking the
/// condition (the order in the module docs), return `Poll::Pending`; on every poll
/// [`disarm`](Self::disarm) first, then re-check. Dropping the waiter disarms it; a
/// future that owns one should, when dropped, pass on a wake-up its waiter received
/// and did not act on (`disarm` returns `true`), with
/// [`futex_wake`](crate::foundation::futex_wake)`(word, 1)`.
///
/// The bridge thread starts on the first `arm` of the process (again in a `fork`
/// child). Runtime-agnostic: only a [`Waker`] is needed.
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use std::task::{Wake, Waker};
/// use multiproc_sync::foundation::{FutexWaiter, futex_wake};
///
/// struct Flag(std::sync::atomic::AtomicBool);
/// impl Wake for Flag {
///     fn wake(self: Arc<Self>) { self.0.store(true, Ordering::SeqCst); }
/// }
/// let flag = Arc::new(Flag(false.into()));
/// let waker = Waker::from(flag.clone());
/// let word = AtomicU32::new(0);
/// let mut waiter = FutexWaiter::new();
/// waiter.arm(&word, 0, None, &waker);
/// word.store(1, Ordering::SeqCst);
/// futex_wake(&word, 1);
/// let give_up = std::time::Instant::now() + std::time::Duration::from_secs(60);
/// while !flag.0.load(Ordering::SeqCst) {
///     assert!(std::time::Instant::now() < give_up, "the bridge never fired");
///     std::thread::yield_now();
/// }
/// assert!(waiter.disarm(), "the bridge fired it");
/// ```
#[derive(Default)]
pub struct FutexWaiter {
    armed: Option<u64>,
    /// Fired by [`arm`](Self::arm) itself: the word had already changed.
    fired: bool,
}

impl fmt::Debug for FutexWaiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FutexWaiter")
            .field("armed", &self.armed.is_some())
            .finish()
    }
}

impl FutexWaiter {
    /// A waiter that is not armed.
    ///
    /// ```
    /// use multiproc_sync::foundation::FutexWaiter;
    /// let waiter = FutexWaiter::new();
    /// assert!(!waiter.is_armed());
    /// ```
    pub const fn new() -> FutexWaiter {
        FutexWaiter {
            armed: None,
            fired: false,
        }
    }

    /// Arms the waiter: `waker` is woken once `word` is woken, no longer holds
    /// `expected`, or `timeout` has passed (then it is disarmed). Replaces a previous
    /// arming. A word that no longer holds `expected` when `arm` reads it fires the
    /// waiter at once, from this call, without the bridge thread.
    ///
    /// The bridge hands `word`'s address to the kernel while armed: the memory must
    /// stay mapped until [`disarm`](Self::disarm) or the drop of the waiter (if it is
    /// not, the kernel reports `EFAULT` and the waiter is woken; nothing unsafe
    /// happens).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
    /// use std::task::{Wake, Waker};
    /// use std::time::{Duration, Instant};
    /// use multiproc_sync::foundation::FutexWaiter;
    ///
    /// struct Flag(AtomicBool);
    /// impl Wake for Flag {
    ///     fn wake(self: Arc<Self>) { self.0.store(true, Ordering::SeqCst); }
    /// }
    /// let flag = Arc::new(Flag(AtomicBool::new(false)));
    /// let word = AtomicU32::new(0);
    /// let mut waiter = FutexWaiter::new();
    /// // The word no longer holds 1: the bridge fires the waker (at the latest at the timeout).
    /// waiter.arm(&word, 1, Some(Duration::from_secs(60)), &Waker::from(flag.clone()));
    /// let give_up = Instant::now() + Duration::from_secs(120);
    /// while !flag.0.load(Ordering::SeqCst) {
    ///     assert!(Instant::now() < give_up, "the bridge never fired");
    ///     std::thread::yield_now();
    /// }
    /// assert!(waiter.disarm(), "the bridge fired it");
    /// ```
    pub fn arm(
        &mut self,
        word: &AtomicU32,
        expected: u32,
        timeout: Option<Duration>,
        waker: &Waker,
    ) {
        self.disarm();
        if word.load(Ordering::Acquire) != expected {
            // Changed since the caller read it (a notifier came between its re-check and
            // now, often a peer answering at once): wake the task now rather than through
            // a kick of the bridge thread and its wake-up, two thread hops.
            self.fired = true;
            waker.wake_by_ref();
            return;
        }
        let b = bridge();
        let word = WaitWord {
            addr: std::ptr::from_ref(word) as usize,
            expected,
        };
        let until_ns = timeout.map(|t| {
            sys::monotonic_ns().saturating_add(u64::try_from(t.as_nanos()).unwrap_or(u64::MAX))
        });
        let mut st = b.lock();
        if !st.running {
            let spawned = std::thread::Builder::new()
                .name("multiproc-futex-bridge".into())
                .spawn(move || b.run());
            if spawned.is_err() {
                // No thread: the task polls again at once (busy, but never stuck).
                drop(st);
                waker.wake_by_ref();
                return;
            }
            st.running = true;
        }
        let id = st.next_id;
        st.next_id += 1;
        st.entries.push(Entry {
            id,
            word,
            until_ns,
            waker: waker.clone(),
        });
        // The bridge's current wait already covers this word and deadline: no kick.
        let covered = st.waiting.contains(&word)
            && match (until_ns, st.waiting_until) {
                (None, _) => true,
                (Some(u), Some(w)) => w <= u,
                (Some(_), None) => false,
            };
        drop(st);
        self.armed = Some(id);
        if !covered {
            b.kick();
        }
    }

    /// Disarms the waiter. Returns `true` if the bridge had fired it (a wake-up, a
    /// changed word or the timeout) since it was armed.
    ///
    /// ```
    /// use std::sync::atomic::AtomicU32;
    /// use std::task::Waker;
    /// use multiproc_sync::foundation::FutexWaiter;
    /// let word = AtomicU32::new(0);
    /// let mut waiter = FutexWaiter::new();
    /// assert!(!waiter.disarm()); // not armed
    /// waiter.arm(&word, 0, None, Waker::noop()); // nobody wakes the word: it stays armed
    /// assert!(!waiter.disarm(), "not fired");
    /// assert!(!waiter.is_armed());
    /// ```
    pub fn disarm(&mut self) -> bool {
        let Some(id) = self.armed.take() else {
            return std::mem::take(&mut self.fired);
        };
        let mut st = bridge().lock();
        match st.entries.iter().position(|e| e.id == id) {
            Some(i) => {
                st.entries.swap_remove(i);
                false
            }
            None => true,
        }
    }

    /// Whether the waiter is armed and not yet fired.
    ///
    /// ```
    /// use std::sync::atomic::AtomicU32;
    /// use std::task::Waker;
    /// use multiproc_sync::foundation::FutexWaiter;
    /// let word = AtomicU32::new(0);
    /// let mut waiter = FutexWaiter::new();
    /// assert!(!waiter.is_armed());
    /// waiter.arm(&word, 0, None, Waker::noop());
    /// assert!(waiter.is_armed());
    /// waiter.disarm();
    /// assert!(!waiter.is_armed());
    /// ```
    pub fn is_armed(&self) -> bool {
        self.armed
            .is_some_and(|id| bridge().lock().entries.iter().any(|e| e.id == id))
    }
}

impl Drop for FutexWaiter {
    fn drop(&mut self) {
        self.disarm();
    }
}
