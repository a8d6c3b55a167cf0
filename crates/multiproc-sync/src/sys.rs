//! Everything the multiproc crates ask of the operating system for shared memory:
//! shared futex wait/wake, the monotonic clock and the current CPU, the identity of the
//! calling thread and process (refreshed after `fork`), `fork` hooks, and whether
//! another thread or process is still alive.
//!
//! Linux only. Nothing else in this crate names an OS call; other crates reach these
//! through [`crate::foundation`].

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

/// Bits of a thread or process id kept in a lock word. Linux `pid_max` is at most 2^22.
pub(crate) const TID_MASK: u32 = (1 << 30) - 1;
/// Bits of a start time kept in an owner token.
const START_BITS: u32 = 40;
const START_MASK: u64 = (1 << START_BITS) - 1;

/// Longest single futex sleep while waiting for something whose owner may die: after
/// each slice without progress the waiter checks the owner's liveness (a `/proc` read).
///
/// One value for every multiproc crate: 20 ms bounds how long a dead holder blocks the
/// others, and costs a waiter of a long-held (live) lock one `/proc` read per slice.
///
/// ```
/// use std::sync::atomic::AtomicU32;
/// use multiproc_sync::foundation::{Deadline, LIVENESS_SLICE, Woke, futex_wait};
/// // A waiter's loop: sleep at most a slice, then check whether the owner still lives.
/// let word = AtomicU32::new(0);
/// let deadline = Deadline::Now;
/// let woke = futex_wait(&word, 0, Some(deadline.slice(LIVENESS_SLICE)));
/// assert_eq!(woke, Woke::TimedOut);
/// ```
pub const LIVENESS_SLICE: Duration = Duration::from_millis(20);

/// What a futex sleep ended with.
///
/// ```
/// use std::sync::atomic::AtomicU32;
/// use std::time::Duration;
/// use multiproc_sync::foundation::{Woke, futex_wait};
/// let word = AtomicU32::new(5);
/// assert_eq!(futex_wait(&word, 4, None), Woke::Maybe); // the value changed already
/// assert_eq!(futex_wait(&word, 5, Some(Duration::ZERO)), Woke::TimedOut);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Woke {
    /// Woken, interrupted, or the word no longer held the expected value.
    Maybe,
    /// The timeout elapsed.
    TimedOut,
}

/// `FUTEX_WAIT` while `*word == expected`, for at most `timeout` (`None`: no limit).
///
/// Shared (no `FUTEX_PRIVATE_FLAG`): the word may live in memory mapped by several
/// processes. Returns on a wake-up, a signal, a changed value or the timeout alike:
/// callers re-check their condition.
///
/// ```
/// use std::sync::atomic::AtomicU32;
/// use std::time::Duration;
/// use multiproc_sync::foundation::{Woke, futex_wait};
/// let word = AtomicU32::new(0);
/// // The word does not hold 1: returns at once.
/// assert_eq!(futex_wait(&word, 1, None), Woke::Maybe);
/// assert_eq!(futex_wait(&word, 0, Some(Duration::from_millis(1))), Woke::TimedOut);
/// ```
#[cfg(not(loom))]
pub fn futex_wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) -> Woke {
    use rustix::thread::futex;
    let ts = timeout.map(|d| futex::Timespec {
        tv_sec: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        tv_nsec: i64::from(d.subsec_nanos()),
    });
    match futex::wait(word, futex::Flags::empty(), expected, ts.as_ref()) {
        Err(rustix::io::Errno::TIMEDOUT) => Woke::TimedOut,
        _ => Woke::Maybe,
    }
}

/// `FUTEX_WAKE` (shared) of up to `n` waiters on `word`.
///
/// The kernel reads the count as an `int`: it is clamped to `i32::MAX` (passing
/// `u32::MAX` unclamped would mean -1 and wake only one).
///
/// ```
/// use std::sync::atomic::AtomicU32;
/// let word = AtomicU32::new(0);
/// multiproc_sync::foundation::futex_wake(&word, u32::MAX); // nobody asleep: a no-op
/// ```
#[cfg(not(loom))]
pub fn futex_wake(word: &AtomicU32, n: u32) {
    use rustix::thread::futex;
    let n = n.min(i32::MAX as u32);
    // An error here can only mean EFAULT/EINVAL for a bad address, impossible for a
    // reference into a live mapping; there is nothing useful to report.
    let _ = futex::wake(word, futex::Flags::empty(), n);
}

#[cfg(loom)]
pub use crate::loom::{futex_wait, futex_wake};

/// `CLOCK_MONOTONIC` in nanoseconds (the vDSO: no system call). The same clock in
/// every process of the machine, so values can be compared across processes.
///
/// ```
/// let a = multiproc_sync::foundation::monotonic_ns();
/// assert!(multiproc_sync::foundation::monotonic_ns() >= a);
/// ```
pub fn monotonic_ns() -> u64 {
    let ts = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    u64::try_from(ts.tv_sec)
        .unwrap_or(0)
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::try_from(ts.tv_nsec).unwrap_or(0))
}

/// The CPU this thread runs on, plus one (the vDSO's `getcpu`: no system call); 0 is
/// never returned, so 0 can mean "unknown" in a shared word.
///
/// ```
/// assert_ne!(multiproc_sync::foundation::this_cpu(), 0);
/// ```
#[inline]
pub fn this_cpu() -> u32 {
    if cfg!(loom) {
        // The model must be deterministic: one CPU.
        return 1;
    }
    (rustix::thread::sched_getcpu() as u32).wrapping_add(1)
}

/// A thread or a process as other processes see it: its kernel id (tid or pid, the
/// same number space) and its start time, so that a recycled id is not mistaken for a
/// live owner.
///
/// ```
/// use multiproc_sync::foundation::{Identity, this_process, this_thread};
/// let t: Identity = this_thread();
/// let p = this_process();
/// assert!(t.id != 0 && p.id != 0);
/// assert_eq!(Identity::token_id(t.token()), t.id);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    /// Kernel thread or process id (at most 30 bits on Linux).
    pub id: u32,
    /// Start time in clock ticks since boot (`/proc/<id>/stat` field 22); 0 = unknown.
    pub start: u64,
}

impl Identity {
    /// The owner token: id (high bits) and start time (low 40 bits) in one word, as
    /// published next to a lock word. Never 0 for a real identity.
    ///
    /// ```
    /// use multiproc_sync::foundation::{Identity, this_process};
    /// let me = this_process();
    /// assert_ne!(me.token(), 0);
    /// assert_eq!(Identity::token_id(me.token()), me.id);
    /// ```
    #[inline]
    pub fn token(self) -> u64 {
        (u64::from(self.id) << START_BITS) | (self.start & START_MASK)
    }

    /// The id recorded in an owner token (0 for the empty token).
    ///
    /// ```
    /// use multiproc_sync::foundation::{Identity, this_thread};
    /// assert_eq!(Identity::token_id(0), 0);
    /// assert_eq!(Identity::token_id(this_thread().token()), this_thread().id);
    /// ```
    pub fn token_id(token: u64) -> u32 {
        ((token >> START_BITS) as u32) & TID_MASK
    }
}

thread_local! {
    static ME: std::cell::Cell<(u64, Identity)> =
        const { std::cell::Cell::new((u64::MAX, Identity { id: 0, start: 0 })) };
}

/// The calling thread's identity, cached per thread and refreshed in a `fork` child (a
/// `pthread_atfork` child handler bumps a generation counter), so a forked child never
/// acts under its parent's id. Costs a thread-local read and one relaxed atomic load
/// once warm: no system call.
///
/// ```
/// use multiproc_sync::foundation::{this_process, this_thread};
/// let main = this_thread();
/// let other = std::thread::spawn(this_thread).join().expect("thread");
/// assert_ne!(main.id, other.id); // one identity per thread
/// assert_eq!(main, this_thread()); // cached
/// let _ = this_process();
/// ```
#[inline]
pub fn this_thread() -> Identity {
    let gen_now = fork::generation();
    ME.with(|c| {
        let (cached_gen, me) = c.get();
        if cached_gen == gen_now {
            me
        } else {
            let me = compute_thread();
            if !fork::no_cache() {
                c.set((gen_now, me));
            }
            me
        }
    })
}

#[cold]
fn compute_thread() -> Identity {
    fork::install(false);
    let id = rustix::thread::gettid().as_raw_nonzero().get() as u32 & TID_MASK;
    let start = read_stat(id).map_or(0, |s| s.start);
    Identity { id, start }
}

/// The calling process's identity (pid and start time), cached and refreshed in a
/// `fork` child before any handler registered with [`at_fork`] runs. One relaxed
/// atomic load once warm.
///
/// ```
/// use multiproc_sync::foundation::this_process;
/// let me = this_process();
/// assert_eq!(me.id, std::process::id());
/// // Every thread of the process shares it.
/// assert_eq!(std::thread::spawn(this_process).join().expect("thread"), me);
/// ```
#[inline]
pub fn this_process() -> Identity {
    let pid = fork::PID.load(Ordering::Relaxed);
    if pid != 0 {
        return Identity {
            id: pid,
            start: fork::START.load(Ordering::Relaxed),
        };
    }
    compute_process()
}

#[cold]
fn compute_process() -> Identity {
    fork::install(false);
    let me = process_no_alloc();
    if !fork::no_cache() {
        fork::START.store(me.start, Ordering::Relaxed);
        fork::PID.store(me.id, Ordering::Relaxed);
    }
    me
}

/// This process's pid and start time without allocating (usable in a fork child
/// handler).
fn process_no_alloc() -> Identity {
    let id = rustix::process::getpid().as_raw_nonzero().get() as u32;
    let mut buf = [0u8; 1024];
    let start = rustix::fs::open(
        c"/proc/self/stat",
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .ok()
    .and_then(|fd| rustix::io::read(&fd, &mut buf).ok())
    .and_then(|n| parse_stat(&buf[..n]))
    .map_or(0, |s| s.start);
    Identity { id, start }
}

/// Registers `fork` handlers (`pthread_atfork`), after this crate's own: in a child,
/// [`this_process`] and [`this_thread`] already answer for the child when `child` runs.
/// Handlers run in the forking thread: `prepare` in the parent before `fork`, `parent`
/// in the parent after it, `child` in the new process.
///
/// Returns `false` if the handlers could not be registered (`ENOMEM`).
///
/// # Safety
/// `child` runs in the child of a possibly multi-threaded parent, before `fork`
/// returns there: it must be async-signal-safe (no allocation, no lock that another
/// thread of the parent may have held, no unwinding). `prepare` and `parent` must not
/// unwind.
///
/// # Examples
/// ```
/// use std::sync::atomic::{AtomicU32, Ordering};
/// static FORKS: AtomicU32 = AtomicU32::new(0);
/// extern "C" fn child() {
///     FORKS.fetch_add(1, Ordering::Relaxed); // an atomic: async-signal-safe
/// }
/// // SAFETY: `child` only performs an atomic increment.
/// let ok = unsafe { multiproc_sync::foundation::at_fork(None, None, Some(child)) };
/// assert!(ok);
/// ```
#[expect(
    unsafe_code,
    reason = "registers fork handlers (pthread_atfork) for other crates"
)]
pub unsafe fn at_fork(
    prepare: Option<extern "C" fn()>,
    parent: Option<extern "C" fn()>,
    child: Option<extern "C" fn()>,
) -> bool {
    fork::install(true);
    let c = |f: Option<extern "C" fn()>| f.map(|f| f as unsafe extern "C" fn());
    // SAFETY:
    // - pthread_atfork only records the three function pointers, which are
    //   `extern "C" fn()` with static lifetime;
    // - the caller guarantees they do not unwind and that `child` is
    //   async-signal-safe (this function's contract).
    unsafe { libc::pthread_atfork(c(prepare), c(parent), c(child)) == 0 }
}

/// The fields of `/proc/<id>/stat` the liveness checks need.
struct Stat {
    #[cfg_attr(
        loom,
        expect(
            dead_code,
            reason = "only the liveness probe reads it, and the model has none"
        )
    )]
    state: u8,
    start: u64,
}

/// Reads `/proc/<id>/stat` (valid for any thread id, not only process ids).
fn read_stat(id: u32) -> Option<Stat> {
    let text = std::fs::read(format!("/proc/{id}/stat")).ok()?;
    parse_stat(&text)
}

/// The state letter (field 3) and start time (field 22, clock ticks since boot) from
/// the text of a `/proc/<id>/stat` file. Does not allocate.
fn parse_stat(text: &[u8]) -> Option<Stat> {
    // "pid (comm) S ppid ..." — comm may hold spaces and parentheses: cut at the last ')'.
    let close = text.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(&text[close + 1..]).ok()?;
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next()?.bytes().next()?;
    let start = fields.nth(18)?.parse().ok()?;
    Some(Stat { state, start })
}

/// Whether the thread or process `id` is dead for good.
///
/// `token` is the owner token published by the holder ([`Identity::token`]), trusted
/// only when it names the same id and a known start time. Dead means: no such id
/// (`/proc/<id>/stat` unreadable and `kill(id, 0)` says `ESRCH`), a zombie, or the
/// thread now running under that id started at another time than the token says (the
/// id was recycled). An id that exists but cannot be inspected counts as alive.
///
/// ```
/// use multiproc_sync::foundation::{is_dead, this_thread};
/// let me = this_thread();
/// assert!(!is_dead(me.id, me.token()));
/// ```
#[cfg(not(loom))]
pub fn is_dead(id: u32, token: u64) -> bool {
    if id == 0 {
        return false;
    }
    match read_stat(id) {
        // /proc unreadable for this id (gone, or hidden by `hidepid`): ask kill(id, 0).
        None => match rustix::process::Pid::from_raw(id as i32) {
            Some(p) => matches!(
                rustix::process::test_kill_process(p),
                Err(rustix::io::Errno::SRCH)
            ),
            None => false,
        },
        Some(s) => {
            matches!(s.state, b'Z' | b'X' | b'x')
                || (token & START_MASK != 0
                    && Identity::token_id(token) == id
                    && Identity { id, start: s.start }.token() != token)
        }
    }
}

/// Under the model checker, every owner is alive (its ids are not real threads).
#[cfg(loom)]
pub fn is_dead(_id: u32, _token: u64) -> bool {
    false
}

/// Whether the thread or process that published `token` is dead (the token alone
/// names it; the empty token names nobody).
///
/// ```
/// use multiproc_sync::foundation::{this_thread, token_dead};
/// assert!(!token_dead(0));
/// assert!(!token_dead(this_thread().token()));
/// ```
pub fn token_dead(token: u64) -> bool {
    token != 0 && is_dead(Identity::token_id(token), token)
}

/// Whether process `pid`, which started at `start` (0 = unknown), is still running:
/// the negation of [`is_dead`] for that identity.
///
/// ```
/// use multiproc_sync::foundation::{process_alive, this_process};
/// let me = this_process();
/// assert!(process_alive(me.id, me.start));
/// assert!(!process_alive(me.id, me.start + 1));
/// assert!(!process_alive(0, 0));
/// ```
pub fn process_alive(pid: u32, start: u64) -> bool {
    pid != 0 && !is_dead(pid, Identity { id: pid, start }.token())
}

/// Whether process `pid` maps the file with inode `ino` at address `base` (true when
/// its map cannot be read: the caller then assumes the process still maps it).
///
/// ```
/// use multiproc_sync::foundation::{maps_at, this_process};
/// // Nothing is mapped at address 0.
/// assert!(!maps_at(this_process().id, 0, 1));
/// ```
pub fn maps_at(pid: u32, base: u64, ino: u64) -> bool {
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/maps")) else {
        return true;
    };
    text.lines().any(|line| {
        let mut f = line.split_ascii_whitespace();
        let start = f
            .next()
            .and_then(|range| range.split('-').next())
            .and_then(|a| u64::from_str_radix(a, 16).ok());
        let inode = f.nth(3).and_then(|i| i.parse::<u64>().ok());
        start == Some(base) && inode == Some(ino)
    })
}

#[expect(
    unsafe_code,
    reason = "pthread_atfork: the identity caches' child handler"
)]
mod fork {
    //! Keeps the identity caches true in a forked child.
    //!
    //! The child handler runs between `fork` and the return to the child's code, where
    //! only async-signal-safe work is allowed: atomics and the `getpid`/`open`/`read`/
    //! `close` system calls of `process_no_alloc`, no allocation.

    use super::{AtomicU32, AtomicU64, Ordering};

    static GENERATION: AtomicU64 = AtomicU64::new(0);
    pub(super) static PID: AtomicU32 = AtomicU32::new(0);
    pub(super) static START: AtomicU64 = AtomicU64::new(0);
    /// Whether the child handler is registered: [`NONE`], [`INSTALLING`], [`INSTALLED`]
    /// or [`FAILED`]. Not a `std::sync::Once`: a fork child whose parent forked while
    /// another thread was registering would wait for ever on a `Once` left running by a
    /// thread that does not exist in the child; here it goes on without the cache.
    static STATE: AtomicU32 = AtomicU32::new(NONE);
    const NONE: u32 = 0;
    const INSTALLING: u32 = 1;
    const INSTALLED: u32 = 2;
    const FAILED: u32 = 3;

    extern "C" fn child() {
        GENERATION.fetch_add(1, Ordering::Relaxed);
        if PID.load(Ordering::Relaxed) != 0 {
            let me = super::process_no_alloc();
            START.store(me.start, Ordering::Relaxed);
            PID.store(me.id, Ordering::Relaxed);
        }
    }

    pub(super) fn generation() -> u64 {
        GENERATION.load(Ordering::Relaxed)
    }

    /// Whether identities may be cached: only once the handler is known to be
    /// registered (never when registering failed, or is under way in another thread —
    /// or was, in the parent of this fork child).
    pub(super) fn no_cache() -> bool {
        STATE.load(Ordering::Acquire) != INSTALLED
    }

    /// Registers the child handler once per process image (inherited by fork
    /// children). Never waits for another thread that is registering it (see
    /// [`STATE`]) unless `wait`, and then only for a bounded number of turns: a caller
    /// that must register its own handlers after this one (`at_fork`) waits.
    pub(super) fn install(wait: bool) {
        if STATE
            .compare_exchange(NONE, INSTALLING, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            // SAFETY:
            // - `child` is an `extern "C" fn()` with static lifetime, as pthread_atfork
            //   requires; the prepare/parent handlers are absent;
            // - `child` only performs atomics and the async-signal-safe system calls of
            //   `process_no_alloc` (no allocation, no locks), so it is sound in the
            //   child of a multi-threaded parent, and it does not unwind.
            let rc = unsafe { libc::pthread_atfork(None, None, Some(child)) };
            // ENOMEM only: without the handler a forked child could keep its parent's
            // identity, so never cache instead.
            STATE.store(if rc == 0 { INSTALLED } else { FAILED }, Ordering::Release);
            return;
        }
        if wait {
            for _ in 0..100_000 {
                if STATE.load(Ordering::Acquire) != INSTALLING {
                    return;
                }
                std::thread::yield_now();
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        /// A fork child whose parent forked while another thread was registering the
        /// handler (the state says "under way", and that thread does not exist in the
        /// child) computes its identities without waiting. With a `Once` there, such a
        /// child waited for ever: `array_negated_by_a_child` (multiproc-shared) hung
        /// once in a CI run, its forked child never exiting.
        #[test]
        fn a_fork_child_does_not_wait_for_a_registration_under_way() {
            install(false);
            // SAFETY: a fork in a test: the child does atomics, `gettid`, `getpid`,
            // reads of /proc (glibc's fork leaves malloc usable in the child) and then
            // `_exit`, never returning into the test harness.
            let pid = unsafe { libc::fork() };
            assert!(pid >= 0, "fork failed");
            if pid == 0 {
                STATE.store(INSTALLING, Ordering::Release);
                let t = crate::sys::this_thread();
                let p = crate::sys::this_process();
                let me = rustix::process::getpid().as_raw_nonzero().get() as u32;
                let code = i32::from(!(t.id != 0 && p.id == me));
                // SAFETY: ends the child at once, running nothing of the parent's.
                unsafe { libc::_exit(code) };
            }
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
            let mut status = 0;
            loop {
                // SAFETY: waitpid on our own child with a valid out-pointer.
                let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
                if r == pid {
                    break;
                }
                if std::time::Instant::now() > deadline {
                    // SAFETY: kill and reap our own child.
                    unsafe {
                        libc::kill(pid, libc::SIGKILL);
                        libc::waitpid(pid, &mut status, 0);
                    }
                    panic!("the fork child waited for the registration");
                }
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn identity_is_alive() {
        let me = this_process();
        assert!(me.id > 0);
        assert!(me.start > 0);
        assert!(process_alive(me.id, me.start));
        assert!(!process_alive(me.id, me.start + 1));
        assert!(!process_alive(0, 0));
        let t = this_thread();
        assert!(!is_dead(t.id, t.token()));
        assert!(is_dead(
            t.id,
            Identity {
                id: t.id,
                start: t.start + 1
            }
            .token()
        ));
    }

    #[test]
    fn waking_u32_max_wakes_every_sleeper() {
        // Unclamped, u32::MAX reaches the kernel as -1 and wakes one sleeper only: the
        // other would sleep until its (long) timeout and report `TimedOut`.
        let w = AtomicU32::new(0);
        let asleep = |tid: u32| {
            // x86_64 and aarch64: the thread is blocked in the futex system call.
            let nr = if cfg!(target_arch = "aarch64") {
                "98 "
            } else {
                "202 "
            };
            std::fs::read_to_string(format!("/proc/self/task/{tid}/syscall"))
                .is_ok_and(|s| s.starts_with(nr))
        };
        std::thread::scope(|s| {
            let (tx, rx) = std::sync::mpsc::channel();
            let sleepers: Vec<_> = (0..2)
                .map(|_| {
                    let (w, tx) = (&w, tx.clone());
                    s.spawn(move || {
                        tx.send(this_thread().id).expect("test alive");
                        futex_wait(w, 0, Some(Duration::from_secs(60)))
                    })
                })
                .collect();
            let tids: Vec<u32> = (0..2)
                .map(|_| {
                    rx.recv_timeout(Duration::from_secs(60))
                        .expect("sleeper started")
                })
                .collect();
            let bound = std::time::Instant::now() + Duration::from_secs(60);
            while !tids.iter().all(|&t| asleep(t)) {
                assert!(std::time::Instant::now() < bound, "sleepers never slept");
                std::thread::yield_now();
            }
            futex_wake(&w, u32::MAX);
            for h in sleepers {
                assert_eq!(h.join().expect("sleeper ran"), Woke::Maybe);
            }
        });
    }
}

/// One futex of a [`futex_waitv`] set: a word's address and the value it must hold.
///
/// The address is kept as a number: the bridge thread that waits on it never reads or
/// writes it in user space, only hands it to the kernel, which reads it with its own
/// fault handling (a word whose mapping is gone gives `EFAULT`, not undefined
/// behaviour).
#[cfg(all(feature = "tokio", not(loom)))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WaitWord {
    pub(crate) addr: usize,
    pub(crate) expected: u32,
}

/// How a [`futex_waitv`] ended.
#[cfg(all(feature = "tokio", not(loom)))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Waitv {
    /// Woken by a `FUTEX_WAKE` on the word at this index.
    Woken(usize),
    /// Some word did not hold its expected value (`EAGAIN`): the caller probes.
    Changed,
    /// The absolute deadline passed.
    TimedOut,
    /// A signal, or a word whose mapping is gone (`EFAULT`): the caller probes.
    Other,
}

#[cfg(all(feature = "tokio", not(loom)))]
fn waitv_set(words: &[WaitWord]) -> Vec<rustix::thread::futex::Wait> {
    use rustix::thread::futex;
    words
        .iter()
        .map(|w| {
            let mut e = futex::Wait::new();
            e.val = u64::from(w.expected);
            e.uaddr = futex::WaitPtr::new(w.addr as *mut std::ffi::c_void);
            // Shared (no FUTEX2_PRIVATE): the words live in memory other processes map.
            e.flags = futex::WaitFlags::SIZE_U32;
            e
        })
        .collect()
}

/// `futex_waitv` (Linux ≥ 5.16, shared 32-bit futexes) over `words` until the
/// `CLOCK_MONOTONIC` instant `until_ns` (`None`: no limit). At most 128 words.
///
/// No `unsafe`: rustix's `waitv` takes the addresses as plain pointers that the kernel
/// reads with fault handling.
#[cfg(all(feature = "tokio", not(loom)))]
pub(crate) fn futex_waitv(words: &[WaitWord], until_ns: Option<u64>) -> Waitv {
    use rustix::thread::futex;
    let set = waitv_set(words);
    let ts = until_ns.map(|ns| futex::Timespec {
        tv_sec: i64::try_from(ns / 1_000_000_000).unwrap_or(i64::MAX),
        tv_nsec: i64::try_from(ns % 1_000_000_000).unwrap_or(0),
    });
    match futex::waitv(
        &set,
        futex::WaitvFlags::empty(),
        ts.as_ref(),
        rustix::time::ClockId::Monotonic,
    ) {
        Ok(i) => Waitv::Woken(i),
        Err(rustix::io::Errno::AGAIN) => Waitv::Changed,
        Err(rustix::io::Errno::TIMEDOUT) => Waitv::TimedOut,
        Err(_) => Waitv::Other,
    }
}

/// Whether the word still holds its expected value, asked of the kernel (a
/// `futex_waitv` on it alone with a deadline already past: `EAGAIN` if it changed,
/// `ETIMEDOUT` if not, `EFAULT` if its mapping is gone, counted as changed).
#[cfg(all(feature = "tokio", not(loom)))]
pub(crate) fn futex_unchanged(word: WaitWord) -> bool {
    futex_waitv(&[word], Some(0)) == Waitv::TimedOut
}

/// A process-wide value made once per process: the one in `slot` if `current` accepts
/// it (it was made by this process, not inherited across `fork` from a parent whose
/// threads are gone), else a new one from `make`, leaked and published. Never blocks,
/// so a fork child never waits for a parent thread that was making one.
#[cfg(all(feature = "tokio", not(loom)))]
#[expect(
    unsafe_code,
    reason = "a reference to a leaked, never freed process-wide value"
)]
pub(crate) fn process_global<T: Send + Sync + 'static>(
    slot: &std::sync::atomic::AtomicPtr<T>,
    current: impl Fn(&T) -> bool,
    make: impl FnOnce() -> T,
) -> &'static T {
    let old = slot.load(Ordering::Acquire);
    if !old.is_null() {
        // SAFETY:
        // - every non-null pointer stored in `slot` comes from `Box::leak` below and is
        //   never freed, so it points to a live, initialised `T` for the rest of the
        //   process (a fork child's copy of the heap holds it too);
        // - `T: Sync`, so a shared reference may be used from any thread.
        let cur: &'static T = unsafe { &*old };
        if current(cur) {
            return cur;
        }
    }
    let new: &'static T = Box::leak(Box::new(make()));
    let new_ptr = std::ptr::from_ref(new).cast_mut();
    match slot.compare_exchange(old, new_ptr, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => new,
        Err(winner) => {
            // Another thread published first: use its value (ours stays leaked, a few
            // bytes, once per race).
            // SAFETY: as above, `winner` comes from `Box::leak` and is never freed.
            unsafe { &*winner }
        }
    }
}
