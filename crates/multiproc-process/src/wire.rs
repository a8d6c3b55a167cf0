//! What crosses the process boundary at a start: the job a fresh process receives,
//! what a child sends back instead of a value, the fork server's requests and replies,
//! and the environment variables that wake the bootstrap.

use std::ffi::OsString;

use crate::setup::ChildSetup;
use multiproc_ipc::{Connection, PassFd};
use multiproc_sync::foundation::CodeAddr;
use serde::{Deserialize, Serialize};

use crate::entry::EntryRef;
use crate::info::{AuthKey, ProcessInfo};
use crate::method::StartMethod;

/// `fd:parent-pid:daemon` of a Spawn child's bootstrap socket.
pub(crate) const BOOTSTRAP_ENV: &str = "MULTIPROC_BOOTSTRAP_FD";
/// `fd:parent-pid` of the fork server's control socket.
pub(crate) const FORKSERVER_ENV: &str = "MULTIPROC_FORKSERVER_FD";

/// Parses `a:b[:c]` into numbers.
pub(crate) fn parse_fields(v: &OsString) -> Option<Vec<i64>> {
    v.to_str()?
        .split(':')
        .map(|f| f.parse::<i64>().ok())
        .collect()
}

/// What a child sends back instead of a value.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum ChildError {
    Panic {
        message: String,
        backtrace: Option<String>,
    },
    Bootstrap(String),
    /// The return value encoded to a frame over the connection's limit.
    ResultTooLarge {
        size: u64,
        limit: u64,
    },
}

/// Who the child is, sent with every Spawn/ForkServer job.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ChildInfo {
    pub(crate) me: ProcessInfo,
    pub(crate) parent: ProcessInfo,
    pub(crate) log_level: Option<u8>,
    /// The start method the child was started with: its own default from then on.
    pub(crate) method: StartMethod,
    /// The child's authentication key (`me` travels without it).
    pub(crate) authkey: AuthKey,
    /// Whether the child ignores SIGINT (`ProcessBuilder::ignore_sigint`).
    pub(crate) ignore_sigint: bool,
    /// What the child sets up before its target (for Spawn, without the environment:
    /// that was given to `execve`).
    pub(crate) setup: ChildSetup,
    /// The parent's start-up hook ([`crate::set_child_startup`]).
    pub(crate) startup: Option<CodeAddr>,
}

/// A job for a fresh process.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Job {
    pub(crate) entry: EntryRef,
    pub(crate) args: Vec<u8>,
    pub(crate) fds: Vec<PassFd>,
    pub(crate) info: ChildInfo,
    /// The result channel; `None` when the job arrived on it (Spawn).
    pub(crate) result: Option<Connection>,
    /// A pidfd of the parent, for a child whose OS parent is someone else (ForkServer).
    pub(crate) parent_pidfd: Option<PassFd>,
}

/// A request to the server.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Request {
    pub(crate) job: Job,
    pub(crate) daemon: bool,
    pub(crate) status: Connection,
}

/// What the server says on a status socket.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Reply {
    Started { pid: u32, pidfd: PassFd },
    Failed(String),
    Exited(i32),
}
