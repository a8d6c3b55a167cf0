//! Everything this crate asks of the operating system: shared futex wait/wake, the
//! identity of the calling thread, and whether another thread is still alive.
//!
//! Linux only. Nothing above this module names an OS call.

use std::sync::atomic::AtomicU32;
use std::time::{Duration, Instant};

use rustix::thread::futex;

/// Bits of a thread id kept in a lock word. Linux `pid_max` is at most 2^22.
pub(crate) const TID_MASK: u32 = (1 << 30) - 1;
/// Bits of a thread's start time kept in an owner token.
const START_BITS: u32 = 40;
const START_MASK: u64 = (1 << START_BITS) - 1;

/// Longest single futex sleep while waiting for something whose owner may die: after
/// each slice without progress the waiter checks the owner's liveness.
pub(crate) const LIVENESS_SLICE: Duration = Duration::from_millis(50);

/// What a futex sleep ended with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Woke {
    /// Woken, interrupted, or the word no longer held the expected value.
    Maybe,
    /// The timeout elapsed.
    TimedOut,
}

/// `FUTEX_WAIT` (shared: no `FUTEX_PRIVATE_FLAG`, so the word may live in memory mapped
/// by several processes) while `word == expected`, for at most `timeout`.
pub(crate) fn futex_wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) -> Woke {
    let ts = timeout.map(|d| futex::Timespec {
        tv_sec: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        tv_nsec: i64::from(d.subsec_nanos()),
    });
    match futex::wait(word, futex::Flags::empty(), expected, ts.as_ref()) {
        Err(rustix::io::Errno::TIMEDOUT) => Woke::TimedOut,
        _ => Woke::Maybe,
    }
}

/// `FUTEX_WAKE` (shared) of up to `n` waiters on `word`. The kernel reads the count as
/// an `int`: it is clamped to `i32::MAX` (passing `u32::MAX` would mean -1 and wake one).
pub(crate) fn futex_wake(word: &AtomicU32, n: u32) {
    let n = n.min(i32::MAX as u32);
    // An error here can only mean EFAULT/EINVAL for a bad address, impossible for a
    // reference into a live mapping; there is nothing useful to report.
    let _ = futex::wake(word, futex::Flags::empty(), n);
}

/// A deadline for a blocking call.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Deadline {
    /// Do not block at all.
    Now,
    /// Block until this instant.
    At(Instant),
    /// Block as long as it takes.
    Never,
}

impl Deadline {
    pub(crate) fn after(timeout: Option<Duration>) -> Deadline {
        match timeout {
            None => Deadline::Never,
            Some(d) if d.is_zero() => Deadline::Now,
            Some(d) => Instant::now()
                .checked_add(d)
                .map_or(Deadline::Never, Deadline::At),
        }
    }

    /// Time left, `None` for no limit, `Some(ZERO)` when expired.
    pub(crate) fn remaining(&self) -> Option<Duration> {
        match self {
            Deadline::Now => Some(Duration::ZERO),
            Deadline::At(t) => Some(t.saturating_duration_since(Instant::now())),
            Deadline::Never => None,
        }
    }

    pub(crate) fn expired(&self) -> bool {
        self.remaining().is_some_and(|d| d.is_zero())
    }

    /// The next sleep: at most `slice`, never past the deadline.
    pub(crate) fn slice(&self, slice: Duration) -> Duration {
        self.remaining().map_or(slice, |r| r.min(slice))
    }
}

/// The calling thread as other processes see it: its kernel thread id and a token that
/// also identifies this incarnation of the id (tid + start time), so a recycled tid is
/// not mistaken for a live owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Me {
    pub(crate) tid: u32,
    pub(crate) token: u64,
}

thread_local! {
    static ME: std::cell::Cell<(u64, Me)> = const { std::cell::Cell::new((u64::MAX, Me { tid: 0, token: 0 })) };
}

/// The calling thread's identity, cached per thread; the cache is invalidated by
/// `fork` (a `pthread_atfork` child handler bumps a generation counter), so a forked
/// child never acts under its parent's tid. Costs a thread-local read and one relaxed
/// atomic load once warm: no system call.
#[inline]
pub(crate) fn me() -> Me {
    let gen_now = fork::generation();
    ME.with(|c| {
        let (cached_gen, me) = c.get();
        if cached_gen == gen_now {
            me
        } else {
            let me = compute_me();
            c.set((gen_now, me));
            me
        }
    })
}

#[cold]
fn compute_me() -> Me {
    fork::install();
    let tid = rustix::thread::gettid().as_raw_nonzero().get() as u32 & TID_MASK;
    let start = read_stat(tid).map_or(0, |s| s.start);
    Me {
        tid,
        token: make_token(tid, start),
    }
}

fn make_token(tid: u32, start: u64) -> u64 {
    (u64::from(tid) << START_BITS) | (start & START_MASK)
}

/// The tid recorded in an owner token (0 for the empty token).
pub(crate) fn token_tid(token: u64) -> u32 {
    ((token >> START_BITS) as u32) & TID_MASK
}

struct Stat {
    state: u8,
    start: u64,
}

/// Reads `/proc/<tid>/stat` (valid for any thread id, not only process ids): the state
/// letter (field 3) and start time (field 22, clock ticks since boot).
fn read_stat(tid: u32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{tid}/stat")).ok()?;
    // `comm` may contain spaces and parentheses: the fields resume after the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace();
    let state = *fields.next()?.as_bytes().first()?;
    let start = fields.nth(18)?.parse().ok()?;
    Some(Stat { state, start })
}

/// Whether the thread `tid` is dead for good.
///
/// `token` is the owner token published by the holder, trusted only when it names the
/// same tid. Dead means: `/proc/<tid>` is gone, the thread is a zombie (`Z`/`X`), or the
/// thread now running under that tid started at another time than the token says (the
/// tid was recycled).
pub(crate) fn is_dead(tid: u32, token: u64) -> bool {
    if tid == 0 {
        return false;
    }
    match read_stat(tid) {
        None => !std::path::Path::new(&format!("/proc/{tid}")).exists(),
        Some(s) => {
            matches!(s.state, b'Z' | b'X')
                || (token != 0 && token_tid(token) == tid && make_token(tid, s.start) != token)
        }
    }
}

/// Whether the thread that published `token` is dead (the token alone names it).
pub(crate) fn token_dead(token: u64) -> bool {
    token != 0 && is_dead(token_tid(token), token)
}

#[allow(unsafe_code)]
mod fork {
    //! Invalidates the per-thread identity cache in a forked child.
    //!
    //! The child handler runs between `fork` and the return to the child's code, where
    //! only async-signal-safe work is allowed: it performs one atomic increment.

    use std::sync::Once;
    use std::sync::atomic::{AtomicU64, Ordering};

    static GENERATION: AtomicU64 = AtomicU64::new(0);
    static INSTALL: Once = Once::new();

    extern "C" fn child() {
        GENERATION.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn generation() -> u64 {
        GENERATION.load(Ordering::Relaxed)
    }

    /// Registers the child handler once per process image (inherited by fork children).
    pub(super) fn install() {
        INSTALL.call_once(|| {
            // SAFETY:
            // - `child` is an `extern "C" fn()` with static lifetime, as pthread_atfork
            //   requires; the prepare/parent handlers are absent;
            // - `child` only performs an atomic increment, which is async-signal-safe,
            //   so it is sound in the child of a multi-threaded parent.
            let rc = unsafe { libc::pthread_atfork(None, None, Some(child)) };
            // ENOMEM is the only failure; without the handler a forked child would only
            // re-identify itself lazily, so keep going.
            let _ = rc;
        });
    }
}
