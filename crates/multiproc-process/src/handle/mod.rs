//! The parent's handles on the processes it started: a child ([`Core`], the
//! non-generic core of a `Process`) and the fork server ([`Client`]). Each holds a
//! pidfd, learns of the exit and reaps; the process-wide state (`global`) keeps them.

mod child;
mod server;

pub(crate) use child::{Core, Sentinel};
#[cfg(feature = "tokio")]
pub(crate) use child::{ExitFd, Step};
pub(crate) use server::Client;
