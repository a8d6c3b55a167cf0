//! [`Core`]: a started child as its parent sees it, without the result type — the
//! result socket read while waiting, the exit status (`waitid` on the pidfd, or the fork
//! server's report on a status socket), and waiting with a deadline.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use multiproc_ipc::Connection;
use multiproc_ipc::frame::{DEFAULT_MAX_FRAME, FrameError, MAX_HEADER, encode_header, split_frame};

use crate::error::{ProcessError, WaitError};
use crate::info::ProcessInfo;
use crate::method::StartMethod;
use crate::sys::{self, Errno, Signal};
use crate::wire::Reply;

#[expect(
    clippy::large_enum_variant,
    reason = "one per process handle; the size difference does not matter"
)]
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
    pub(crate) method: StartMethod,
    /// The process that started it: the only one that may collect its exit and result.
    pub(crate) owner: u32,
    result: Connection,
    sentinel: Sentinel,
    state: Mutex<CoreState>,
}

impl Core {
    pub(crate) fn new(
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

    pub(crate) fn pidfd(&self) -> BorrowedFd<'_> {
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
            let got = sys::recv_nowait(self.result.as_fd(), &mut r.buf[old..], &mut r.fds);
            r.buf.truncate(old + got.as_ref().map_or(0, |n| *n));
            match got {
                Ok(0) => {
                    r.closed = true;
                    return;
                }
                Ok(_) => {
                    if r.split() {
                        if r.error.is_some() {
                            // Nobody reads this socket any more: make the child's
                            // send fail (EPIPE) rather than block it for ever, which
                            // would keep it from exiting and hang `join`.
                            sys::shutdown(self.result.as_fd());
                        }
                        return;
                    }
                }
                Err(Errno::INTR) => {}
                Err(Errno::AGAIN) => return,
                // The child died with bytes unread on its end (a Spawn child killed
                // before it read its whole job): the end of the stream, not a fault.
                Err(Errno::CONNRESET) => {
                    r.closed = true;
                    return;
                }
                Err(e) => {
                    r.error = Some(ReadError::Other(e.to_string()));
                    r.closed = true;
                    sys::shutdown(self.result.as_fd());
                    return;
                }
            }
        }
    }

    /// After the exit: the result frame (bytes and handles) and the exit code, or what
    /// the child's end says instead of a frame.
    pub(crate) fn take_result(&self) -> Result<(Vec<u8>, Vec<OwnedFd>, i32), ProcessError> {
        let mut st = self.lock();
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
        Ok((bytes, fds, code))
    }

    /// Non-blocking: collects the exit status if it is there.
    fn try_reap(&self, st: &mut CoreState) -> Result<(), WaitError> {
        if st.exitcode.is_some() {
            return Ok(());
        }
        match &self.sentinel {
            Sentinel::Own { pidfd, .. } => match sys::try_wait(pidfd.as_fd()) {
                Ok(Some(code)) => st.exitcode = Some(code),
                Ok(None) | Err(Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            },
            Sentinel::Server { status, .. } => {
                if st.status_lost {
                    // The server died: its exit code is lost; the pidfd still says when
                    // the process is gone.
                    let gone = matches!(
                        sys::poll_in(&[self.pidfd()], Some(Duration::ZERO)),
                        Ok(v) if v[0]
                    );
                    if gone {
                        st.exitcode = Some(255);
                    }
                    return Ok(());
                }
                match status.try_recv::<Reply>() {
                    Ok(Reply::Exited(code)) => st.exitcode = Some(code),
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
                    sys::poll_in(&[wait_fd, self.result.as_fd()], timeout)?
                } else {
                    sys::poll_in(&[wait_fd], timeout)?
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

    pub(crate) fn exitcode(&self) -> Option<i32> {
        let mut st = self.lock();
        if self.check_parent().is_ok() {
            let _ = self.try_reap(&mut st);
        }
        st.exitcode
    }

    /// Whether the process runs. In a process that is not the parent, the pidfd
    /// answers (it becomes readable when the process exits, for anyone who holds it).
    pub(crate) fn is_alive(&self) -> bool {
        if self.check_parent().is_ok() {
            return self.exitcode().is_none();
        }
        if self.lock().exitcode.is_some() {
            return false;
        }
        !matches!(sys::poll_in(&[self.pidfd()], Some(Duration::ZERO)), Ok(v) if v[0])
    }

    pub(crate) fn signal(&self, sig: Signal) -> Result<(), WaitError> {
        if self.lock().exitcode.is_some() {
            return Ok(());
        }
        match sys::send_signal(self.pidfd(), sig) {
            Ok(()) | Err(Errno::SRCH) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// Which descriptor says that the exit status is in (the async join watches it).
#[cfg(feature = "tokio")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExitFd {
    /// The pidfd: readable when our own child has exited (or a fork-server child, once
    /// the server is lost).
    Pidfd,
    /// A fork-server child's status socket: readable when the server's report arrives.
    Status,
}

/// One non-blocking step of the async join (`crate::aio`).
#[cfg(feature = "tokio")]
pub(crate) enum Step {
    /// The exit status is in (and every byte of the result read).
    Exited,
    /// Still running: wait for `exit` to become readable, and for the result socket
    /// too when `want_result` (read while waiting, so a large result cannot block the
    /// child's exit).
    Waiting { exit: ExitFd, want_result: bool },
}

/// The async join's hooks: the same state machine as [`Core::wait`], without blocking.
#[cfg(feature = "tokio")]
impl Core {
    /// Collects the exit status if it is there; otherwise says what to wait on.
    pub(crate) fn step(&self) -> Result<Step, WaitError> {
        self.check_parent()?;
        let mut st = self.lock();
        self.try_reap(&mut st)?;
        if st.exitcode.is_some() {
            return Ok(Step::Exited);
        }
        let exit = match &self.sentinel {
            Sentinel::Server { .. } if !st.status_lost => ExitFd::Status,
            _ => ExitFd::Pidfd,
        };
        Ok(Step::Waiting {
            exit,
            want_result: st.reader.frame.is_none() && !st.reader.closed,
        })
    }

    /// Reads what the result socket holds, without blocking.
    pub(crate) fn pump_result(&self) {
        self.pump(&mut self.lock());
    }

    /// The descriptor behind `which`.
    pub(crate) fn exit_fd(&self, which: ExitFd) -> BorrowedFd<'_> {
        match (&self.sentinel, which) {
            (Sentinel::Server { status, .. }, ExitFd::Status) => status.as_fd(),
            _ => self.pidfd(),
        }
    }

    /// The result socket.
    pub(crate) fn result_fd(&self) -> BorrowedFd<'_> {
        self.result.as_fd()
    }
}

/// How many bytes to ask for next: the rest of the frame once its header is in
/// `buf` (at most 4 MiB per read), a small read before that.
fn bytes_wanted(buf: &[u8]) -> usize {
    const SMALL: usize = 512;
    const MOST: usize = 4 << 20;
    // The frame's length without reading the header here (`multiproc_ipc::frame` alone
    // knows it): a limit of zero makes `split_frame` report any non-empty payload's
    // announced length, and `encode_header` says how long its header is.
    let payload = match split_frame(buf, 0) {
        Err(FrameError::TooLarge { announced, .. }) => announced,
        Ok(Some(_)) => 0,
        // A partial header, or an invalid one (the read after this one reports it).
        _ => return SMALL,
    };
    let header = encode_header(payload, &mut [0u8; MAX_HEADER]) as u64;
    let total = payload.saturating_add(header);
    let left = usize::try_from(total)
        .unwrap_or(usize::MAX)
        .saturating_sub(buf.len());
    left.clamp(1, MOST)
}

impl Reader {
    /// Takes the frame off `buf` once it is whole; whether reading is over: the frame
    /// is in, or its header was bad (then `error` says why and the caller shuts the
    /// socket down).
    fn split(&mut self) -> bool {
        match split_frame(&self.buf, DEFAULT_MAX_FRAME) {
            Ok(Some((payload, _rest))) => {
                let payload = payload.to_vec();
                self.frame = Some((payload, std::mem::take(&mut self.fds)));
                self.buf = Vec::new();
                true
            }
            Ok(None) => false,
            Err(e) => {
                self.error = Some(match e {
                    FrameError::TooLarge { announced, limit } => {
                        ReadError::TooLarge { announced, limit }
                    }
                    other => ReadError::Other(other.to_string()),
                });
                self.closed = true;
                self.buf = Vec::new();
                true
            }
        }
    }
}
