//! The one signature of a start method: a [`Launch`] in, a [`Started`] child out
//! (see [`Starter`](super::Starter)); and the type-erased [`Work`] a builder holds.

use std::os::fd::OwnedFd;
use std::sync::Arc;

use multiproc_ipc::{Connection, PassFd, Pipe};
use multiproc_sync::foundation::CodeAddr;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::child::{self, ResultTo};
use crate::entry::EntryRef;
use crate::error::StartError;
use crate::handle::Sentinel;
use crate::info::{AuthKey, ProcessInfo};
use crate::method::StartMethod;
use crate::setup::ChildSetup;
use crate::target::Target;
use crate::wire::{ChildInfo, Job};

/// Everything a start method gets, the same for every method.
pub(crate) struct Launch {
    pub(crate) work: Box<dyn Work>,
    /// Who the child will be (its pid is set once it runs).
    pub(crate) info: Arc<ProcessInfo>,
    /// Who is starting it.
    pub(crate) parent: Arc<ProcessInfo>,
    pub(crate) daemon: bool,
    pub(crate) method: StartMethod,
    pub(crate) log_level: Option<u8>,
    /// Whether the child ignores SIGINT.
    pub(crate) ignore_sigint: bool,
    /// The child's environment and working directory.
    pub(crate) setup: ChildSetup,
    /// The start-up hook the child runs before its target.
    pub(crate) startup: Option<fn()>,
}

/// What every start method hands back.
pub(crate) struct Started {
    /// Who the child is, with its pid.
    pub(crate) info: Arc<ProcessInfo>,
    /// The parent's end of the result channel.
    pub(crate) result: Connection,
    /// How the parent learns of the exit.
    pub(crate) sentinel: Sentinel,
}

/// A job for a fresh process (Spawn, ForkServer), and the two ends of its channel.
pub(crate) struct Fresh {
    pub(crate) info: Arc<ProcessInfo>,
    /// The parent's end: the result comes back on it.
    pub(crate) mine: Connection,
    /// The child's end.
    pub(crate) theirs: Connection,
    pub(crate) job: Job,
}

impl Launch {
    /// Encodes the work as a job for a fresh process, or says why it cannot be (a
    /// closure, arguments that do not encode).
    pub(crate) fn into_fresh(self) -> Result<Fresh, StartError> {
        let enc = self.work.encode(self.method)?;
        let startup = match self.startup {
            None => None,
            Some(hook) => Some(CodeAddr::of(hook as usize).map_err(|_| {
                StartError::NotSpawnable(
                    "the child start-up hook is not in the executable's own code \
                     (built into a shared library?)"
                        .into(),
                )
            })?),
        };
        let (mine, theirs) = Pipe::duplex()?;
        let info = self.info;
        let job = Job {
            entry: enc.entry,
            args: enc.args,
            fds: enc.fds.into_iter().map(PassFd::from).collect(),
            info: ChildInfo {
                me: (*info).clone(),
                parent: (*self.parent).clone(),
                log_level: self.log_level,
                method: self.method,
                authkey: info.authkey.clone().unwrap_or_else(AuthKey::random),
                ignore_sigint: self.ignore_sigint,
                setup: self.setup,
                startup,
            },
            result: None,
            parent_pidfd: None,
        };
        Ok(Fresh {
            info,
            mine,
            theirs,
            job,
        })
    }
}

/// Encoded form of a job for a fresh process.
pub(crate) struct Encoded {
    entry: EntryRef,
    args: Vec<u8>,
    fds: Vec<OwnedFd>,
}

/// What a builder will run, type-erased.
pub(crate) trait Work: Send {
    /// Runs in a fork child; returns the exit code.
    fn run_forked(self: Box<Self>, result: &OwnedFd, setup: &ChildSetup) -> i32;
    /// Encodes for a fresh process, or says why it cannot be.
    fn encode(&self, method: StartMethod) -> Result<Encoded, StartError>;
}

pub(crate) struct Call<F, A> {
    pub(crate) f: F,
    pub(crate) args: A,
}

impl<F, A> Work for Call<F, A>
where
    F: Target<A>,
    A: Serialize + DeserializeOwned + Send + 'static,
{
    #[inline(always)]
    fn run_forked(self: Box<Self>, result: &OwnedFd, setup: &ChildSetup) -> i32 {
        let Call { f, args } = *self;
        child::run_target(ResultTo::Fd(result), setup, move || Ok(f.call(args)))
    }

    fn encode(&self, _method: StartMethod) -> Result<Encoded, StartError> {
        let entry = child::entry_of::<F, A>()?;
        let (args, fds) = multiproc_ipc::encode(&self.args).map_err(StartError::from_codec)?;
        Ok(Encoded { entry, args, fds })
    }
}

pub(crate) struct Closure<C>(pub(crate) C);

impl<C, R> Work for Closure<C>
where
    C: FnOnce() -> R + Send + 'static,
    R: Serialize,
{
    #[inline(always)]
    fn run_forked(self: Box<Self>, result: &OwnedFd, setup: &ChildSetup) -> i32 {
        let c = self.0;
        child::run_target(ResultTo::Fd(result), setup, move || Ok(c()))
    }

    fn encode(&self, method: StartMethod) -> Result<Encoded, StartError> {
        Err(StartError::ClosureNeedsFork(method))
    }
}
