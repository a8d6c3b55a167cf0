//! The child side: what runs in a started process, under every start method.

use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use multiproc_ipc::{Connection, SendError, Transport};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::entry::{self, ChildCtx, EntryRef, Trampoline};
use crate::error::StartError;
use crate::global;
use crate::info::ProcessInfo;
use crate::panic::{BACKTRACE, IN_TARGET, ensure_panic_hook, panic_message};
use crate::parent::ParentSentinel;
use crate::setup::ChildSetup;
use crate::sys;
use crate::target::Target;
use crate::wire::{ChildError, Job};

/// Where a child sends its outcome.
#[derive(Clone, Copy)]
pub(crate) enum ResultTo<'a> {
    /// A connection (Spawn and ForkServer children, which received one).
    Conn(&'a Connection),
    /// The bare socket of a Fork child: no `Connection` code runs (and is faulted in)
    /// unless the value needs the general path.
    Fd(&'a OwnedFd),
}

impl ResultTo<'_> {
    #[inline(always)]
    fn fd(&self) -> BorrowedFd<'_> {
        match self {
            ResultTo::Conn(c) => c.as_fd(),
            ResultTo::Fd(f) => f.as_fd(),
        }
    }

    /// `Connection::send`: any value, with handles, up to the frame limit.
    fn send<T: Serialize>(&self, msg: &T) -> Result<(), SendError> {
        match self {
            ResultTo::Conn(c) => c.send(msg),
            ResultTo::Fd(f) => {
                let dup = f.try_clone().map_err(SendError::Io)?;
                Connection::from_fd_with(dup, Transport::Unix, true, true).send(msg)
            }
        }
    }
}

/// Runs the target, sends its outcome on `result`, runs the exit hook, flushes the
/// standard streams and returns the exit code (0 on return, 1 on panic or failure).
#[inline(always)]
pub(crate) fn run_target<R: Serialize>(
    result: ResultTo<'_>,
    setup: &ChildSetup,
    body: impl FnOnce() -> Result<R, String>,
) -> i32 {
    tracing::info!("child process calling self.run()");
    IN_TARGET.store(true, Ordering::Relaxed);
    let out = catch_unwind(AssertUnwindSafe(move || {
        prepare(setup)?;
        body()
    }));
    IN_TARGET.store(false, Ordering::Relaxed);
    let mut code = 0;
    let sent = match out {
        Ok(Ok(value)) => {
            let msg = Ok::<&R, ChildError>(&value);
            let sent = match send_small(result.fd(), &msg) {
                Some(sent) => sent.map_err(SendError::Io),
                None => result.send(&msg),
            };
            // The process exits next; freeing the value would only touch more pages.
            std::mem::forget(value);
            sent
        }
        Ok(Err(why)) => {
            code = 1;
            result.send(&Err::<(), _>(ChildError::Bootstrap(why)))
        }
        Err(payload) => {
            code = 1;
            let message = panic_message(&*payload);
            let backtrace = BACKTRACE.try_lock().ok().and_then(|mut b| b.take());
            // The panic reached the bootstrap: say which process it ended (CPython
            // prints `Process <name>:` above the traceback of an uncaught exception).
            // Not `eprintln!`: a broken stderr must not panic here.
            let name = global::lock().current.name.clone();
            let _ = writeln!(
                std::io::stderr(),
                "Process {name}: panicked, exiting with exit code 1"
            );
            // Dropping a panic payload can itself panic; leak it instead.
            std::mem::forget(payload);
            result.send(&Err::<(), _>(ChildError::Panic { message, backtrace }))
        }
    };
    if let Err(e) = sent {
        if code == 0 {
            code = 1;
            let why = match e {
                SendError::TooLarge { size, limit } => ChildError::ResultTooLarge { size, limit },
                e => ChildError::Bootstrap(format!(
                    "the return value could not be sent: {}",
                    error_chain(&e)
                )),
            };
            let _ = result.send(&Err::<(), _>(why));
        }
    }
    finish(code)
}

/// What runs in a new child before its target: the working directory and environment
/// (the latter already at `execve` for Spawn, whose job carries none), then the
/// start-up hook. Inside the target's `catch_unwind`: a panicking hook is reported as
/// the child's panic.
#[inline(always)]
fn prepare(setup: &ChildSetup) -> Result<(), String> {
    if setup.changes_env() || setup.cwd.is_some() {
        setup.apply_here(true)?;
    }
    let hook = global::lock().startup;
    if let Some(hook) = hook {
        hook();
    }
    Ok(())
}

/// Sends `msg` as one frame with a single `send`, if it encodes to a small payload that
/// carries no handles: the common case (a unit, a number, a short string), done
/// without the allocation, the thread-local handle table and the rest of
/// `Connection::send` — code and heap pages that a fork child would fault in one by
/// one. `None` when the value needs the general path (`Connection::send`).
///
/// The bytes are those `Connection::send` writes: the frame header of
/// `multiproc_ipc::frame`, then the postcard payload. A value holding a descriptor
/// fails here (no handle table is active) and takes the general path; the error text
/// that the failed attempt leaves in `multiproc_ipc`'s thread-local is never read, as
/// the process exits right after.
#[inline(always)]
fn send_small<T: Serialize>(result: BorrowedFd<'_>, msg: &T) -> Option<std::io::Result<()>> {
    use multiproc_ipc::frame::{MAX_HEADER, encode_header};
    const SMALL: usize = 128;
    let mut buf = [0u8; SMALL];
    let len = postcard::to_slice(msg, &mut buf[MAX_HEADER..]).ok()?.len();
    let mut header = [0u8; MAX_HEADER];
    // A payload this small always has the 4-byte header; a fixed-size copy compiles
    // to a move instead of a `memmove` call.
    if encode_header(len as u64, &mut header) != 4 {
        return None;
    }
    let start = MAX_HEADER - 4;
    buf[start..MAX_HEADER].copy_from_slice(&header[..4]);
    Some(sys::send_all(result, &buf[start..MAX_HEADER + len]))
}

/// `e` and its sources, `: `-separated (the top-level message alone often says only
/// "value could not be encoded").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// Sends a bootstrap failure and returns exit code 1.
pub(crate) fn fail(result: &Connection, why: String) -> i32 {
    let _ = result.send(&Err::<(), _>(ChildError::Bootstrap(why)));
    finish(1)
}

/// CPython's `_exit_function` for a child: run the child's exit hooks
/// ([`crate::at_exit`]), terminate daemonic children, join the rest, then flush
/// standard output (Rust's standard error is unbuffered).
///
/// Inlined, and the children are only looked at if there are any: in a fork child
/// every code page touched for the first time is a page fault (fork does not copy the
/// page tables of file-backed mappings), which is most of what a start costs beyond a
/// raw `fork`.
#[inline(always)]
fn finish(code: i32) -> i32 {
    // The hooks this child registered (`at_exit`), before its children are ended, as
    // CPython's `_exit_function` runs the finalizers with an exit priority first.
    if crate::hooks::any() {
        crate::hooks::run();
    }
    tracing::info!("process shutting down");
    if !global::lock().children.is_empty() {
        crate::children::shutdown_children();
    }
    tracing::info!("process exiting with exitcode {code}");
    let _ = std::io::stdout().flush();
    code
}

/// Runs a job that arrived in a fresh process (Spawn child or ForkServer child).
///
/// The box is leaked, not freed: in a fork-server child freeing it would fault in the
/// allocator's pages; the process exits when the job is done.
pub(crate) fn run_job(job: Box<Job>, channel: Option<Connection>) -> i32 {
    ensure_panic_hook();
    sys::child_sigint(job.info.ignore_sigint);
    let job: &'static mut Job = Box::leak(job);
    let entry = job.entry;
    let args = std::mem::take(&mut job.args);
    let fds = std::mem::take(&mut job.fds);
    let result = job.result.take();
    let parent_pidfd = job.parent_pidfd.take();
    let info = &mut job.info;
    let Some(result) = result.or(channel) else {
        return 1;
    };
    {
        let mut g = global::lock();
        let mut me = std::mem::replace(&mut info.me, ProcessInfo::empty());
        me.pid = sys::getpid();
        me.authkey = Some(info.authkey.clone());
        let parent = std::mem::replace(&mut info.parent, ProcessInfo::empty());
        // The old values are forgotten: freeing them would fault in more pages.
        std::mem::forget(std::mem::replace(&mut g.current, Arc::new(me)));
        std::mem::forget(g.parent.replace(Arc::new(parent)));
        g.parent_sentinel = match parent_pidfd {
            Some(fd) => ParentSentinel::Open(Arc::new(fd.into())),
            None => ParentSentinel::Unknown,
        };
        g.start_method = Some(info.method);
        g.counter = 1;
        std::mem::forget(std::mem::take(&mut g.children));
        g.log_level = info.log_level;
    }
    if let Some(level) = info.log_level {
        let _ = crate::log::install(crate::log::level_from_u8(level));
    }
    if let Some(addr) = &info.startup {
        match entry::resolve_hook(addr) {
            // Recorded as this process's own: its children run it too.
            Ok(hook) => global::lock().startup = Some(hook),
            Err(why) => return fail(&result, why),
        }
    }
    let setup = std::mem::take(&mut info.setup);
    match entry::resolve(&entry) {
        Err(why) => fail(&result, why),
        Ok(trampoline) => trampoline(ChildCtx {
            type_hash: entry.type_hash(),
            args,
            fds: fds.into_iter().map(Into::into).collect(),
            result,
            setup,
        }),
    }
}

/// The entry reference of the trampoline for `(F, A)`: what the parent sends a fresh
/// process so that it finds the target (see the `entry` module).
pub(crate) fn entry_of<F, A>() -> Result<EntryRef, StartError>
where
    F: Target<A>,
    A: DeserializeOwned + Send + 'static,
{
    let t: Trampoline = trampoline::<F, A>;
    entry::entry_of::<F, A>(t)
}

/// The monomorphized entry point: decodes `A`, conjures `F`, calls it, sends the result.
fn trampoline<F: Target<A>, A: DeserializeOwned + Send + 'static>(ctx: ChildCtx) -> i32 {
    const {
        assert!(
            std::mem::size_of::<F>() == 0,
            "a target run in a fresh process must be zero-sized (a function item or a \
             closure that captures nothing): see the error at the call that passed it"
        )
    };
    if ctx.type_hash != entry::type_hash::<F, A>() {
        return fail(
            &ctx.result,
            "target type mismatch between parent and child".into(),
        );
    }
    // The parent held a value of `F` (it was passed to `Process::new`).
    let f: F = entry::conjure::<F, A>();
    let ChildCtx {
        args,
        fds,
        result,
        setup,
        ..
    } = ctx;
    run_target(ResultTo::Conn(&result), &setup, move || {
        let a: A = decode_args(&args, fds)?;
        Ok(f.call(a))
    })
}

/// `multiproc_ipc::decode`, with the handle table only when handles came: without
/// them postcard alone decodes the same bytes, inlined here (fewer code pages for a
/// fork-server child to fault in).
#[inline(always)]
fn decode_args<A: DeserializeOwned>(args: &[u8], fds: Vec<OwnedFd>) -> Result<A, String> {
    let why = |e: &dyn std::fmt::Display| format!("could not decode the arguments: {e}");
    if fds.is_empty() {
        match postcard::take_from_bytes::<A>(args) {
            Ok((a, [])) => Ok(a),
            Ok((_, rest)) => Err(why(&format!("{} trailing bytes", rest.len()))),
            Err(e) => Err(why(&e)),
        }
    } else {
        multiproc_ipc::decode(args, fds).map_err(|e| why(&e))
    }
}
