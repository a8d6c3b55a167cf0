//! [`Process`] and [`ProcessBuilder`].

use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use multiproc_ipc::frame::split_frame;
use multiproc_ipc::{Connection, PassFd, Pipe};
use rustix::event::{PollFd, PollFlags};
use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};
use rustix::process::{Pid, PidfdFlags, Signal, WaitId, WaitIdOptions, WaitIdStatus};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::bootstrap;
use crate::child::{self, ChildError, ChildInfo, Job, ResultTo};
use crate::context::{self, StartMethod};
use crate::entry::{self, EntryRef};
use crate::error::{CloseError, ProcessError, StartError, WaitError};
use crate::fork;
use crate::global::{self, ProcessInfo};
use crate::target::Target;

// ------------------------------------------------------------------ work items

/// Encoded form of a job for a fresh process.
pub(crate) struct Encoded {
    entry: EntryRef,
    args: Vec<u8>,
    fds: Vec<OwnedFd>,
}

/// What a builder will run, type-erased.
trait Work: Send {
    /// Runs in a fork child; returns the exit code.
    fn run_forked(self: Box<Self>, result: &OwnedFd) -> i32;
    /// Encodes for a fresh process, or says why it cannot be.
    fn encode(&self, method: StartMethod) -> Result<Encoded, StartError>;
}

struct Call<F, A> {
    f: F,
    args: A,
}

impl<F, A> Work for Call<F, A>
where
    F: Target<A>,
    A: Serialize + DeserializeOwned + Send + 'static,
{
    #[inline(always)]
    fn run_forked(self: Box<Self>, result: &OwnedFd) -> i32 {
        let Call { f, args } = *self;
        child::run_target(ResultTo::Fd(result), move || Ok(f.call(args)))
    }

    fn encode(&self, _method: StartMethod) -> Result<Encoded, StartError> {
        let entry = entry::entry_of::<F, A>()?;
        let (args, fds) = multiproc_ipc::encode(&self.args).map_err(StartError::from_codec)?;
        Ok(Encoded { entry, args, fds })
    }
}

struct Closure<C>(C);

impl<C, R> Work for Closure<C>
where
    C: FnOnce() -> R + Send + 'static,
    R: Serialize,
{
    #[inline(always)]
    fn run_forked(self: Box<Self>, result: &OwnedFd) -> i32 {
        let c = self.0;
        child::run_target(ResultTo::Fd(result), move || Ok(c()))
    }

    fn encode(&self, method: StartMethod) -> Result<Encoded, StartError> {
        Err(StartError::ClosureNeedsFork(method))
    }
}

// ------------------------------------------------------------------ builder

/// A process that has not been started yet: CPython's `Process(target=…, args=…)`
/// before `start()`. Made by [`Process::new`] or [`Process::from_closure`].
///
/// ```
/// use multiproc_process::{Process, StartMethod};
/// fn greet(name: String) { println!("hello {name}"); }
///
/// let p = Process::new(greet, ("bob".to_string(),))
///     .name("greeter")
///     .start_method(StartMethod::Spawn);
/// assert_eq!(p.get_name(), "greeter");
/// assert!(!p.is_alive());
/// let p = p.start()?;
/// p.join()?;
/// assert_eq!(p.exitcode(), Some(0));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "a process does nothing until it is started"]
pub struct ProcessBuilder<R> {
    work: Box<dyn Work>,
    name: String,
    identity: Vec<u32>,
    daemon: Option<bool>,
    method: Option<StartMethod>,
    authkey: Option<global::AuthKey>,
    _r: PhantomData<fn() -> R>,
}

impl<R> fmt::Debug for ProcessBuilder<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessBuilder")
            .field("name", &self.name)
            .field("daemon", &self.daemon)
            .field("method", &self.method)
            .field("authkey", &self.authkey)
            .finish_non_exhaustive()
    }
}

impl<R> fmt::Display for ProcessBuilder<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<Process name='{}' initial", self.name)?;
        if self.daemon == Some(true) {
            write!(f, " daemon")?;
        }
        write!(f, ">")
    }
}

fn next_identity() -> (String, Vec<u32>) {
    let mut g = global::lock();
    let n = g.counter;
    g.counter += 1;
    let mut identity = g.current.identity.clone();
    identity.push(n);
    let name = format!(
        "Process-{}",
        identity
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(":")
    );
    (name, identity)
}

impl<R: Serialize + DeserializeOwned + Send + 'static> ProcessBuilder<R> {
    fn with_work(work: Box<dyn Work>) -> Self {
        let (name, identity) = next_identity();
        ProcessBuilder {
            work,
            name,
            identity,
            daemon: None,
            method: None,
            authkey: None,
            _r: PhantomData,
        }
    }

    /// Sets the name (default `Process-N`, or `Process-M:N` in a child).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Makes the process a daemon (default: the current process's flag, as in CPython).
    /// A daemon is killed when its parent exits — by SIGKILL too — and may not start
    /// children of its own.
    pub fn daemon(mut self, daemon: bool) -> Self {
        self.daemon = Some(daemon);
        self
    }

    /// Sets the child's authentication key (CPython's `Process(…).authkey = b'…'`;
    /// default: the current process's, see [`ProcessInfo::authkey`]). Any bytes.
    ///
    /// ```
    /// use multiproc_process::{Process, current_process};
    /// fn key() -> Vec<u8> { current_process().authkey().to_vec() }
    /// let p = Process::new(key, ()).authkey(b"for this child").start()?;
    /// assert_eq!(p.info().authkey(), b"for this child");
    /// assert_eq!(p.join_value()?, b"for this child");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn authkey(mut self, key: impl AsRef<[u8]>) -> Self {
        self.authkey = Some(global::AuthKey::new(key.as_ref()));
        self
    }

    /// Chooses the start method (default: the process-wide one, see
    /// [`get_start_method`](crate::get_start_method)).
    pub fn start_method(mut self, method: StartMethod) -> Self {
        self.method = Some(method);
        self
    }

    /// Uses the start method of `ctx`.
    pub fn context(self, ctx: &crate::Context) -> Self {
        self.start_method(ctx.start_method())
    }

    /// The name the process will have.
    pub fn get_name(&self) -> &str {
        &self.name
    }

    /// Whether the process will be a daemon (CPython's `daemon` before `start()`): as
    /// set with [`daemon`](Self::daemon), else the current process's flag.
    ///
    /// ```
    /// use multiproc_process::Process;
    /// fn noop() {}
    /// assert!(!Process::new(noop, ()).get_daemon());
    /// assert!(Process::new(noop, ()).daemon(true).get_daemon());
    /// ```
    pub fn get_daemon(&self) -> bool {
        self.daemon.unwrap_or_else(|| global::lock().current.daemon)
    }

    /// Always `false`: the process has not started (CPython's `is_alive()` before `start()`).
    pub fn is_alive(&self) -> bool {
        false
    }

    /// Starts the process (CPython's `start()`), returning its handle.
    ///
    /// # Errors
    /// [`StartError`]: a closure under a non-fork method, a daemon starting a child,
    /// arguments that cannot be encoded, or an OS failure (`fork`, `execve`, …).
    pub fn start(self) -> Result<Process<R>, StartError> {
        std::hint::black_box(&bootstrap::CTOR);
        if bootstrap::bootstrap_pending() {
            return Err(StartError::BootstrapNotRun);
        }
        let (me, log_level, parent_key) = {
            let mut g = global::lock();
            let key = global::current_key(&mut g);
            (g.current.clone(), g.log_level, key)
        };
        if me.daemon {
            return Err(StartError::DaemonCannotHaveChildren);
        }
        let method = self.method.unwrap_or_else(context::default_method);
        let daemon = self.daemon.unwrap_or(me.daemon);
        reap_finished();
        ensure_atexit();
        let info = Arc::new(ProcessInfo {
            name: self.name,
            pid: 0,
            daemon,
            identity: self.identity,
            authkey: Some(self.authkey.unwrap_or(parent_key)),
        });
        let (info, result, sentinel) = match method {
            StartMethod::Fork => start_fork(self.work, info, me, daemon)?,
            StartMethod::Spawn | StartMethod::ForkServer => {
                let enc = self.work.encode(method)?;
                let (mine, theirs) = Pipe::duplex()?;
                let job = Job {
                    entry: enc.entry,
                    args: enc.args,
                    fds: enc.fds.into_iter().map(PassFd::from).collect(),
                    info: ChildInfo {
                        me: (*info).clone(),
                        parent: (*me).clone(),
                        log_level,
                        method,
                        authkey: info.authkey.clone().unwrap_or_else(global::AuthKey::random),
                    },
                    result: None,
                    parent_pidfd: None,
                };
                if method == StartMethod::Spawn {
                    let theirs = theirs.into_fd();
                    let (pid, pidfd) = if daemon {
                        global::on_launcher(move || crate::spawn::spawn_exe(&theirs, true))??
                    } else {
                        crate::spawn::spawn_exe(&theirs, false)?
                    };
                    // A child that died at once shows up as its exit code on join.
                    let _ = mine.send(&job);
                    (info, mine, Sentinel::Own { pid, pidfd })
                } else {
                    // The server is the child's OS parent: tell it who its parent is.
                    let me = self_pidfd()?;
                    let job = Job {
                        result: Some(theirs),
                        parent_pidfd: Some(PassFd::from(me)),
                        ..job
                    };
                    let (pid, pidfd, status) = crate::forkserver::request(job, daemon)?;
                    (info, mine, Sentinel::Server { pid, pidfd, status })
                }
            }
        };
        let core = Arc::new(Core::new(info, method, result, sentinel));
        global::lock().children.push(core.clone());
        Ok(Process {
            core,
            _r: PhantomData,
        })
    }
}

/// The child's own information travels into the fork as an `Arc` and comes back to the
/// parent for its `Core` (the child sets its pid in its copy): nothing allocated for
/// the child is freed in the parent after the fork, when every heap page written costs
/// a copy while the child shares it.
fn start_fork(
    work: Box<dyn Work>,
    info: Arc<ProcessInfo>,
    parent: Arc<ProcessInfo>,
    daemon: bool,
) -> Result<(Arc<ProcessInfo>, Connection, Sentinel), StartError> {
    child::ensure_panic_hook();
    warm_up_thread();
    let (mine, theirs) = Pipe::duplex()?;
    // The bare descriptor: the child's closure stays two words (moving a large one
    // into `catch_unwind` after the fork is a `memcpy` call, one more code page to
    // fault in), and a small result is sent without `Connection` code.
    let theirs: OwnedFd = theirs.into_fd();
    let parent_pid = parent.pid;
    type Infos = (Arc<ProcessInfo>, Arc<ProcessInfo>);
    let go = move || -> io::Result<(u32, Infos)> {
        fork::fork_child(
            (info, parent),
            |g, (me, parent)| g.enter_child(me, parent),
            daemon.then_some(parent_pid),
            move || {
                let code = work.run_forked(&theirs);
                // `_exit` closes it; dropping it here would only fault in more code.
                std::mem::forget(theirs);
                code
            },
        )
    };
    let (pid, (info, _parent)) = if daemon {
        global::on_launcher(go)??
    } else {
        go()?
    };
    let pidfd = pidfd_of_new_child(pid)?;
    Ok((info, mine, Sentinel::Own { pid, pidfd }))
}

/// Does once per thread, in the parent, what every fork child of that thread would
/// otherwise do for the first time on its own: initialize the thread-local handle
/// table that `Connection::send` uses (which registers a thread-exit hook, and binds
/// libc's lazily resolved call for that). Done in the child, that work writes to pages
/// shared copy-on-write with the parent — about 30 page copies per start.
fn warm_up_thread() {
    thread_local! {
        static WARM: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }
    if !WARM.with(std::cell::Cell::get) {
        let _ = multiproc_ipc::encode(&());
        WARM.with(|w| w.set(true));
    }
}

// ------------------------------------------------------------------ core

// One per process handle; the size difference does not matter.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Sentinel {
    /// Our own child: wait with `waitid(P_PIDFD)`.
    Own { pid: u32, pidfd: OwnedFd },
    /// A fork-server child: the server reports its exit code on `status`.
    Server {
        pid: u32,
        pidfd: OwnedFd,
        status: Connection,
    },
}

/// Reads the result frame incrementally, so that a large value never blocks the child
/// while the parent waits for its exit.
#[derive(Default)]
struct Reader {
    buf: Vec<u8>,
    fds: Vec<OwnedFd>,
    frame: Option<(Vec<u8>, Vec<OwnedFd>)>,
    closed: bool,
    error: Option<ReadError>,
}

/// Why the result could not be read.
enum ReadError {
    /// The frame announced more than the limit: the socket was shut down, so the
    /// child's send fails instead of blocking on a parent that no longer reads.
    TooLarge { announced: u64, limit: u64 },
    /// A bad header or a failed read.
    Other(String),
}

struct CoreState {
    exitcode: Option<i32>,
    reader: Reader,
    status_lost: bool,
}

/// How long a parent that has the child's result polls for its exit before sleeping
/// (the child exits right after sending it; a sleep would cost another wake-up).
const EXIT_SPIN: Duration = Duration::from_micros(100);

/// The non-generic part of a started process.
pub(crate) struct Core {
    pub(crate) info: Arc<ProcessInfo>,
    method: StartMethod,
    owner: u32,
    result: Connection,
    sentinel: Sentinel,
    state: Mutex<CoreState>,
}

/// A pidfd of this process, for its fork-server children: opened once per process and
/// duplicated for each child.
fn self_pidfd() -> io::Result<OwnedFd> {
    let me = std::process::id();
    let mut g = global::lock();
    if let Some((pid, fd)) = &g.self_pidfd {
        if *pid == me {
            return fd.try_clone();
        }
    }
    let fd = pidfd_of(me)?;
    let dup = fd.try_clone();
    g.self_pidfd = Some((me, fd));
    dup
}

/// A pidfd of our child `pid`, just started; if none can be opened (`EMFILE`,
/// `ENOMEM`), the child is killed and reaped, so a failed start leaves neither a
/// process running the target without a handle nor a zombie.
pub(crate) fn pidfd_of_new_child(pid: u32) -> io::Result<OwnedFd> {
    pidfd_of(pid).inspect_err(|_| {
        if let Some(p) = Pid::from_raw(pid as i32) {
            let _ = rustix::process::kill_process(p, Signal::KILL);
            let _ = rustix::process::waitpid(Some(p), rustix::process::WaitOptions::empty());
        }
    })
}

pub(crate) fn pidfd_of(pid: u32) -> io::Result<OwnedFd> {
    let pid =
        Pid::from_raw(pid as i32).ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
    Ok(rustix::process::pidfd_open(pid, PidfdFlags::empty())?)
}

/// CPython's exit code of a wait status: the code, or `-signal`.
pub(crate) fn code_of(st: &WaitIdStatus) -> i32 {
    if let Some(sig) = st.terminating_signal() {
        -sig
    } else {
        st.exit_status().unwrap_or(255)
    }
}

impl Core {
    fn new(
        mut info: Arc<ProcessInfo>,
        method: StartMethod,
        result: Connection,
        sentinel: Sentinel,
    ) -> Self {
        Arc::make_mut(&mut info).pid = match &sentinel {
            Sentinel::Own { pid, .. } | Sentinel::Server { pid, .. } => *pid,
        };
        Core {
            info,
            method,
            owner: std::process::id(),
            result,
            sentinel,
            state: Mutex::new(CoreState {
                exitcode: None,
                reader: Reader::default(),
                status_lost: false,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, CoreState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn pidfd(&self) -> BorrowedFd<'_> {
        match &self.sentinel {
            Sentinel::Own { pidfd, .. } | Sentinel::Server { pidfd, .. } => pidfd.as_fd(),
        }
    }

    /// The descriptor that becomes readable when the exit status is available.
    fn wait_fd(&self, st: &CoreState) -> BorrowedFd<'_> {
        match &self.sentinel {
            Sentinel::Server { status, .. } if !st.status_lost => status.as_fd(),
            _ => self.pidfd(),
        }
    }

    /// Non-blocking: reads what the result socket holds.
    fn pump(&self, st: &mut CoreState) {
        let r = &mut st.reader;
        if r.frame.is_some() || r.closed {
            return;
        }
        loop {
            // Read straight into `buf`, only as much as the frame still needs: a large
            // zeroed scratch buffer would cost a copy-on-write fault per page in a
            // parent that has just forked.
            let old = r.buf.len();
            r.buf.resize(old + bytes_wanted(&r.buf), 0);
            let mut space = [MaybeUninit::<u8>::uninit();
                rustix::cmsg_space!(ScmRights(multiproc_ipc::MAX_HANDLES))];
            let mut anc = RecvAncillaryBuffer::new(&mut space);
            let mut iov = [io::IoSliceMut::new(&mut r.buf[old..])];
            let got = rustix::net::recvmsg(
                &self.result,
                &mut iov,
                &mut anc,
                RecvFlags::DONTWAIT | RecvFlags::CMSG_CLOEXEC,
            );
            if let Ok(m) = &got {
                for msg in anc.drain() {
                    if let RecvAncillaryMessage::ScmRights(rights) = msg {
                        r.fds.extend(rights);
                    }
                }
                r.buf.truncate(old + m.bytes);
            } else {
                r.buf.truncate(old);
            }
            match got {
                Ok(m) => {
                    if m.bytes == 0 {
                        r.closed = true;
                        return;
                    }
                    match split_frame(&r.buf, multiproc_ipc::frame::DEFAULT_MAX_FRAME) {
                        Ok(Some((payload, _rest))) => {
                            let payload = payload.to_vec();
                            r.frame = Some((payload, std::mem::take(&mut r.fds)));
                            r.buf = Vec::new();
                            return;
                        }
                        Ok(None) => {}
                        Err(e) => {
                            r.error = Some(match e {
                                multiproc_ipc::frame::FrameError::TooLarge { announced, limit } => {
                                    ReadError::TooLarge { announced, limit }
                                }
                                other => ReadError::Other(other.to_string()),
                            });
                            r.closed = true;
                            r.buf = Vec::new();
                            // Nobody reads this socket any more: make the child's
                            // send fail (EPIPE) rather than block it for ever, which
                            // would keep it from exiting and hang `join`.
                            let _ =
                                rustix::net::shutdown(&self.result, rustix::net::Shutdown::Both);
                            return;
                        }
                    }
                }
                Err(rustix::io::Errno::INTR) => {}
                Err(rustix::io::Errno::AGAIN) => return,
                // The child died with bytes unread on its end (a Spawn child killed
                // before it read its whole job): the end of the stream, not a fault.
                Err(rustix::io::Errno::CONNRESET) => {
                    r.closed = true;
                    return;
                }
                Err(e) => {
                    r.error = Some(ReadError::Other(e.to_string()));
                    r.closed = true;
                    let _ = rustix::net::shutdown(&self.result, rustix::net::Shutdown::Both);
                    return;
                }
            }
        }
    }

    /// Non-blocking: collects the exit status if it is there.
    fn try_reap(&self, st: &mut CoreState) -> Result<(), WaitError> {
        if st.exitcode.is_some() {
            return Ok(());
        }
        match &self.sentinel {
            Sentinel::Own { pidfd, .. } => {
                let r = rustix::process::waitid(
                    WaitId::PidFd(pidfd.as_fd()),
                    WaitIdOptions::EXITED | WaitIdOptions::NOHANG,
                );
                match r {
                    Ok(Some(status)) => st.exitcode = Some(code_of(&status)),
                    Ok(None) => {}
                    Err(rustix::io::Errno::INTR) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            Sentinel::Server { status, .. } => {
                if st.status_lost {
                    // The server died: its exit code is lost; the pidfd still says when
                    // the process is gone.
                    let gone = matches!(
                        poll_in(&[self.pidfd()], Some(Duration::ZERO)),
                        Ok(v) if v[0]
                    );
                    if gone {
                        st.exitcode = Some(255);
                    }
                    return Ok(());
                }
                match status.try_recv::<crate::forkserver::Reply>() {
                    Ok(crate::forkserver::Reply::Exited(code)) => st.exitcode = Some(code),
                    Ok(_) => {}
                    Err(multiproc_ipc::RecvError::Timeout) => {}
                    Err(_) => {
                        tracing::warn!(
                            "fork server lost; the exit code of {} will be reported as 255",
                            self.info.name
                        );
                        st.status_lost = true;
                    }
                }
            }
        }
        if st.exitcode.is_some() {
            // Everything the child wrote is in the socket now.
            self.pump(st);
        }
        Ok(())
    }

    /// Waits until the process has exited (and is reaped) or `deadline` passes.
    pub(crate) fn wait(&self, deadline: Option<Instant>) -> Result<bool, WaitError> {
        self.check_parent()?;
        let mut spun = false;
        loop {
            let want_result = {
                let mut st = self.lock();
                self.try_reap(&mut st)?;
                if st.exitcode.is_some() {
                    return Ok(true);
                }
                st.reader.frame.is_none() && !st.reader.closed
            };
            if !want_result && !spun {
                // The result is in: the child is on its way out (`_exit` follows the
                // send). Going to sleep now would cost a second wake-up, often on
                // another CPU, a good part of a whole start; poll for the exit for a
                // short, bounded while instead, yielding so that a child on this CPU
                // can finish.
                spun = true;
                if self.spin_for_exit(deadline)? {
                    return Ok(true);
                }
                continue;
            }
            let timeout = match deadline {
                None => None,
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Ok(false);
                    }
                    Some(left)
                }
            };
            let ready = {
                let st = self.lock();
                let wait_fd = self.wait_fd(&st);
                drop(st);
                if want_result {
                    poll_in(&[wait_fd, self.result.as_fd()], timeout)?
                } else {
                    poll_in(&[wait_fd], timeout)?
                }
            };
            if ready.get(1).copied().unwrap_or(false) {
                self.pump(&mut self.lock());
            }
        }
    }

    /// Checks for the exit for up to [`EXIT_SPIN`] (and never past `deadline`); whether
    /// it came.
    fn spin_for_exit(&self, deadline: Option<Instant>) -> Result<bool, WaitError> {
        let start = Instant::now();
        let until = deadline.map_or(start + EXIT_SPIN, |d| d.min(start + EXIT_SPIN));
        let mut turn = 0u32;
        loop {
            if turn % 4 == 3 {
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
            turn += 1;
            let mut st = self.lock();
            self.try_reap(&mut st)?;
            if st.exitcode.is_some() {
                return Ok(true);
            }
            drop(st);
            if Instant::now() >= until {
                return Ok(false);
            }
        }
    }

    /// Only the parent may collect the exit status and the result: a copy of the
    /// handle in another process (inherited through a fork) would otherwise steal
    /// them from the parent (the fork server's status message, the result bytes) or
    /// fail with `ECHILD`.
    fn check_parent(&self) -> Result<(), WaitError> {
        let caller = std::process::id();
        if caller == self.owner {
            Ok(())
        } else {
            Err(WaitError::NotParent {
                parent: self.owner,
                caller,
            })
        }
    }

    fn exitcode(&self) -> Option<i32> {
        let mut st = self.lock();
        if self.check_parent().is_ok() {
            let _ = self.try_reap(&mut st);
        }
        st.exitcode
    }

    /// Whether the process runs. In a process that is not the parent, the pidfd
    /// answers (it becomes readable when the process exits, for anyone who holds it).
    fn is_alive(&self) -> bool {
        if self.check_parent().is_ok() {
            return self.exitcode().is_none();
        }
        if self.lock().exitcode.is_some() {
            return false;
        }
        !matches!(poll_in(&[self.pidfd()], Some(Duration::ZERO)), Ok(v) if v[0])
    }

    fn signal(&self, sig: Signal) -> Result<(), WaitError> {
        if self.lock().exitcode.is_some() {
            return Ok(());
        }
        match rustix::process::pidfd_send_signal(self.pidfd(), sig) {
            Ok(()) | Err(rustix::io::Errno::SRCH) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// How many bytes to ask for next: the rest of the frame once its header is in
/// `buf` (at most 4 MiB per read), a small read before that.
fn bytes_wanted(buf: &[u8]) -> usize {
    const SMALL: usize = 512;
    const MOST: usize = 4 << 20;
    let Some(short) = buf.get(..4).and_then(|b| <[u8; 4]>::try_from(b).ok()) else {
        return SMALL;
    };
    let total = match multiproc_ipc::frame::decode_short(short) {
        multiproc_ipc::frame::ShortHeader::Len(n) => n.saturating_add(4),
        multiproc_ipc::frame::ShortHeader::Long => {
            match buf.get(4..12).and_then(|b| <[u8; 8]>::try_from(b).ok()) {
                Some(long) => u64::from_be_bytes(long).saturating_add(12),
                None => return SMALL,
            }
        }
        multiproc_ipc::frame::ShortHeader::Invalid(_) => return SMALL,
    };
    let left = usize::try_from(total)
        .unwrap_or(usize::MAX)
        .saturating_sub(buf.len());
    left.clamp(1, MOST)
}

/// `poll` for readability on one or two descriptors; which are ready. No allocation:
/// it runs while a just-forked child shares the parent's heap pages, where every page
/// written costs a copy.
fn poll_in(fds: &[BorrowedFd<'_>], timeout: Option<Duration>) -> io::Result<[bool; 2]> {
    let mut pfds = [
        PollFd::new(&fds[0], PollFlags::IN),
        PollFd::new(fds.get(1).unwrap_or(&fds[0]), PollFlags::IN),
    ];
    let n = fds.len().min(2);
    let ts = timeout.map(|t| rustix::time::Timespec {
        tv_sec: t.as_secs().min(i64::MAX as u64) as i64,
        tv_nsec: i64::from(t.subsec_nanos()),
    });
    match rustix::event::poll(&mut pfds[..n], ts.as_ref()) {
        Ok(_) => Ok([
            !pfds[0].revents().is_empty(),
            n > 1 && !pfds[1].revents().is_empty(),
        ]),
        Err(rustix::io::Errno::INTR) => Ok([false; 2]),
        Err(e) => Err(e.into()),
    }
}

/// Takes a child whose exit has been observed off this process's list of children, so
/// that its descriptors (the result socket, the pidfd, a fork-server status socket) are
/// closed with the last handle, not kept until the next `start()` or
/// `active_children()`. The caller must not hold the global lock.
fn unlist(core: &Arc<Core>) {
    if core.owner != std::process::id() {
        return;
    }
    let mut g = global::lock();
    if let Some(i) = g.children.iter().position(|c| Arc::ptr_eq(c, core)) {
        // Not the last reference (the caller holds one): nothing is closed under the lock.
        g.children.remove(i);
    }
}

/// [`cleanup`] without the list of live children.
fn reap_finished() {
    let me = std::process::id();
    global::lock()
        .children
        .retain(|c| c.owner == me && c.exitcode().is_none());
}

/// Reaps finished children of this process (CPython's `_cleanup`), returning the live ones.
pub(crate) fn cleanup() -> Vec<Arc<Core>> {
    let me = std::process::id();
    let mut g = global::lock();
    g.children
        .retain(|c| c.owner == me && c.exitcode().is_none());
    g.children.clone()
}

/// CPython's `_exit_function`: terminate daemonic children, then join all children.
pub(crate) fn shutdown_children() {
    shutdown_children_logged(true);
}

/// `log`: whether tracing may be used. Not from an `atexit` handler: by then the main
/// thread's thread-locals (tracing-subscriber's buffers among them) are destroyed, and
/// touching them panics.
fn shutdown_children_logged(log: bool) {
    let children = cleanup();
    for c in children.iter().filter(|c| c.info.daemon) {
        if log {
            tracing::info!("calling terminate() for daemon {}", c.info.name);
        }
        let _ = c.signal(Signal::TERM);
    }
    for c in &children {
        if log {
            tracing::info!("calling join() for process {}", c.info.name);
        }
        let _ = c.wait(None);
    }
    cleanup();
}

extern "C" fn at_exit() {
    let _ = std::panic::catch_unwind(|| {
        shutdown_children_logged(false);
    });
}

fn ensure_atexit() {
    let mut g = global::lock();
    if !g.atexit_registered {
        g.atexit_registered = true;
        drop(g);
        fork::register_atexit(at_exit);
    }
}

// ------------------------------------------------------------------ Process

/// A started process (CPython's `multiprocessing.Process` after `start()`).
///
/// `R` is the target's return type, handed back by [`join_value`](Self::join_value).
/// All methods take `&self`; the handle is `Send + Sync`. Dropping it does not stop
/// the process: it keeps running and is reaped in the background (no zombie).
///
/// A handle holds two descriptors (three for a ForkServer child): the result socket
/// and a pidfd (its [`sentinel`](Self::sentinel)). Once the exit has been observed
/// (`join`, `exitcode`, `is_alive`, …) they are closed with the last handle.
///
/// ```
/// use multiproc_process::{Process, ProcessError};
/// fn square(x: i64) -> i64 { x * x }
/// fn boom() { panic!("there was an error") }
///
/// let p = Process::new(square, (7,)).start()?;
/// assert_eq!(p.join_value()?, 49);
///
/// let p = Process::new(boom, ()).start()?;
/// p.join()?;
/// assert_eq!(p.exitcode(), Some(1));
/// match p.join_value() {
///     Err(ProcessError::Panicked { message, .. }) => assert_eq!(message, "there was an error"),
///     other => panic!("{other:?}"),
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Process<R = ()> {
    core: Arc<Core>,
    _r: PhantomData<fn() -> R>,
}

impl Process<()> {
    /// A process that will call `f(args…)`: `Process::new(greet, ("bob".into(),))` is
    /// CPython's `Process(target=greet, args=('bob',))`. Works under every start method.
    /// `f` must be a function item or a non-capturing closure (checked at compile time).
    #[allow(clippy::new_ret_no_self)]
    pub fn new<F, A>(f: F, args: A) -> ProcessBuilder<F::Output>
    where
        F: Target<A>,
        A: Serialize + DeserializeOwned + Send + 'static,
    {
        ProcessBuilder::with_work(Box::new(Call { f, args }))
    }

    /// A process that will run a capturing closure. Only the [`StartMethod::Fork`]
    /// start method can run it (the closure's captures live in this process's memory);
    /// starting it otherwise is [`StartError::ClosureNeedsFork`].
    ///
    /// ```
    /// use multiproc_process::{Process, StartMethod};
    /// let base = 40;
    /// let p = Process::from_closure(move || base + 2)
    ///     .start_method(StartMethod::Fork)
    ///     .start()?;
    /// assert_eq!(p.join_value()?, 42);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_closure<C, T>(c: C) -> ProcessBuilder<T>
    where
        C: FnOnce() -> T + Send + 'static,
        T: Serialize + DeserializeOwned + Send + 'static,
    {
        ProcessBuilder::with_work(Box::new(Closure(c)))
    }
}

impl<R> fmt::Debug for Process<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Process")
            .field("name", &self.core.info.name)
            .field("pid", &self.core.info.pid)
            .field("daemon", &self.core.info.daemon)
            .field("method", &self.core.method)
            .finish_non_exhaustive()
    }
}

/// The conventional name of Linux signal `sig` (`9` → `"SIGKILL"`), for messages about
/// how a process died; `None` for numbers without a common name.
///
/// ```
/// assert_eq!(multiproc_process::signal_name(15), Some("SIGTERM"));
/// assert_eq!(multiproc_process::signal_name(64), None);
/// ```
pub fn signal_name(sig: i32) -> Option<&'static str> {
    Some(match sig {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        5 => "SIGTRAP",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        10 => "SIGUSR1",
        11 => "SIGSEGV",
        12 => "SIGUSR2",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        15 => "SIGTERM",
        16 => "SIGSTKFLT",
        17 => "SIGCHLD",
        18 => "SIGCONT",
        19 => "SIGSTOP",
        20 => "SIGTSTP",
        21 => "SIGTTIN",
        22 => "SIGTTOU",
        23 => "SIGURG",
        24 => "SIGXCPU",
        25 => "SIGXFSZ",
        26 => "SIGVTALRM",
        27 => "SIGPROF",
        28 => "SIGWINCH",
        29 => "SIGIO",
        30 => "SIGPWR",
        31 => "SIGSYS",
        _ => return None,
    })
}

/// CPython's repr: `<Process name='Process-1' pid=123 parent=122 started>`, then
/// `stopped exitcode=0` or `stopped exitcode=-SIGTERM`.
impl<R> fmt::Display for Process<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.core;
        write!(
            f,
            "<Process name='{}' pid={} parent={} ",
            c.info.name, c.info.pid, c.owner
        )?;
        match c.exitcode() {
            None => write!(f, "started")?,
            Some(code) if code < 0 => match signal_name(-code) {
                Some(name) => write!(f, "stopped exitcode=-{name}")?,
                None => write!(f, "stopped exitcode={code}")?,
            },
            Some(code) => write!(f, "stopped exitcode={code}")?,
        }
        if c.info.daemon {
            write!(f, " daemon")?;
        }
        write!(f, ">")
    }
}

impl<R> Process<R> {
    /// The process id (CPython's `pid`).
    pub fn pid(&self) -> u32 {
        self.core.info.pid
    }

    /// CPython's `ident`: the process id.
    pub fn ident(&self) -> u32 {
        self.core.info.pid
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.core.info.name
    }

    /// Whether it is a daemon.
    pub fn daemon(&self) -> bool {
        self.core.info.daemon
    }

    /// The start method it was started with.
    pub fn start_method(&self) -> StartMethod {
        self.core.method
    }

    /// Who the process is, as [`current_process`](crate::current_process) says inside it.
    pub fn info(&self) -> &ProcessInfo {
        &self.core.info
    }

    /// Whether the process is still running (non-blocking; reaps it if it has exited).
    ///
    /// In a process that holds a copy of the handle without being the parent (one
    /// inherited through a fork), this still answers, from the pidfd; CPython raises
    /// `AssertionError('can only test a child process')` there.
    pub fn is_alive(&self) -> bool {
        let alive = self.core.is_alive();
        if !alive {
            unlist(&self.core);
        }
        alive
    }

    /// `None` while running, then `0` on return, `1` on panic, `N` after
    /// `std::process::exit(N)`, `-N` when killed by signal `N` (CPython's `exitcode`).
    /// In a process that is not the parent: the code known when the handle was
    /// inherited, if any (only the parent collects it).
    pub fn exitcode(&self) -> Option<i32> {
        let code = self.core.exitcode();
        if code.is_some() {
            unlist(&self.core);
        }
        code
    }

    /// Waits for the process to exit and reaps it (CPython's `join()`). Reads the
    /// result while waiting, so a large return value cannot deadlock.
    ///
    /// # Errors
    /// [`WaitError::NotParent`] when called in a process other than the one that
    /// started it; [`WaitError::Io`] when `poll`/`waitid` failed.
    pub fn join(&self) -> Result<(), WaitError> {
        self.core.wait(None)?;
        unlist(&self.core);
        Ok(())
    }

    /// Waits at most `timeout`; returns whether the process has exited (CPython's
    /// `join(timeout)` followed by a look at `exitcode`).
    ///
    /// # Errors
    /// As [`join`](Self::join).
    pub fn join_timeout(&self, timeout: Duration) -> Result<bool, WaitError> {
        // A timeout past the end of `Instant` (`Duration::MAX`) waits without bound.
        let exited = self.core.wait(Instant::now().checked_add(timeout))?;
        if exited {
            unlist(&self.core);
        }
        Ok(exited)
    }

    /// Sends SIGTERM (CPython's `terminate()`); nothing happens if it has exited.
    /// The signal goes through the pidfd, so it can never hit a recycled pid.
    ///
    /// # Errors
    /// `pidfd_send_signal` failed with something other than "no such process".
    pub fn terminate(&self) -> Result<(), WaitError> {
        self.core.signal(Signal::TERM)
    }

    /// Sends SIGKILL (CPython's `kill()`).
    ///
    /// # Errors
    /// As [`terminate`](Self::terminate).
    pub fn kill(&self) -> Result<(), WaitError> {
        self.core.signal(Signal::KILL)
    }

    /// A descriptor that becomes readable when the process exits (a pidfd): CPython's
    /// `sentinel`, for `poll` or `multiproc_ipc::wait`.
    pub fn sentinel(&self) -> BorrowedFd<'_> {
        self.core.pidfd()
    }

    /// Releases the handle (CPython's `close()`). Consuming, so no method can be
    /// called afterwards; a process that is still running is handed back in the error.
    ///
    /// # Errors
    /// [`CloseError`] if the process is still running.
    pub fn close(self) -> Result<(), CloseError<R>> {
        if self.is_alive() {
            return Err(CloseError { process: self });
        }
        Ok(())
    }
}

impl<R: DeserializeOwned> Process<R> {
    /// Waits for the process and returns the target's value — beyond CPython.
    ///
    /// # Errors
    /// [`ProcessError::Panicked`] with the panic message, [`ProcessError::Exited`] /
    /// [`ProcessError::Killed`] when no value came back, [`ProcessError::Bootstrap`]
    /// when the child could not run the target, [`ProcessError::Decode`],
    /// [`ProcessError::ResultTooLarge`] for a value over the 256 MiB frame limit,
    /// [`ProcessError::Wait`] (including [`WaitError::NotParent`]).
    pub fn join_value(self) -> Result<R, ProcessError> {
        self.core.wait(None)?;
        unlist(&self.core);
        let mut st = self.core.lock();
        let code = st.exitcode.unwrap_or(255);
        let Some((bytes, fds)) = st.reader.frame.take() else {
            match st.reader.error.take() {
                Some(ReadError::TooLarge { announced, limit }) => {
                    return Err(ProcessError::ResultTooLarge { announced, limit });
                }
                // A child that failed or was killed says more by its exit status.
                Some(ReadError::Other(why)) if code == 0 => {
                    return Err(ProcessError::Wait(WaitError::Io(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("reading the result failed: {why}"),
                    ))));
                }
                _ => {}
            }
            return Err(if code < 0 {
                ProcessError::Killed(-code)
            } else {
                ProcessError::Exited(code)
            });
        };
        drop(st);
        match multiproc_ipc::decode::<Result<R, ChildError>>(&bytes, fds) {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(ChildError::Panic { message, backtrace })) => Err(ProcessError::Panicked {
                message,
                backtrace,
                exitcode: code,
            }),
            Ok(Err(ChildError::Bootstrap(why))) => Err(ProcessError::Bootstrap(why)),
            Ok(Err(ChildError::ResultTooLarge { size, limit })) => {
                Err(ProcessError::ResultTooLarge {
                    announced: size,
                    limit,
                })
            }
            Err(e) => Err(ProcessError::Decode(e)),
        }
    }
}

impl<R> Drop for Process<R> {
    fn drop(&mut self) {
        if self.core.owner != std::process::id() {
            return;
        }
        if self.core.exitcode().is_some() {
            // Finished: its descriptors go with this handle, unless another is left.
            unlist(&self.core);
            return;
        }
        // Still running: reap it (and drain its result) in the background.
        let core = self.core.clone();
        let _ = std::thread::Builder::new()
            .name("multiproc-reaper".into())
            .spawn(move || {
                if let Ok(true) = core.wait(None) {
                    unlist(&core);
                }
            });
    }
}

impl<R> AsFd for Process<R> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sentinel()
    }
}

/// CPython's `active_children()`: the live children of this process (finished ones are
/// reaped on the way).
///
/// ```
/// assert!(multiproc_process::active_children().is_empty());
/// ```
pub fn active_children() -> Vec<ProcessInfo> {
    cleanup().iter().map(|c| (*c.info).clone()).collect()
}
