//! The start methods, one module each behind one signature ([`Starter`]): a
//! [`Launch`] in, a [`Started`] child out. [`starter`] is the one place that
//! dispatches on [`StartMethod`].

pub(crate) mod fork;
pub(crate) mod forkserver;
mod launch;
mod spawn;

pub(crate) use launch::{Call, Closure, Launch, Started, Work};

use crate::error::StartError;
use crate::method::StartMethod;

/// How a start method starts a child.
pub(crate) type Starter = fn(Launch) -> Result<Started, StartError>;

/// The start method `method`.
pub(crate) fn starter(method: StartMethod) -> Starter {
    match method {
        StartMethod::Fork => fork::start,
        StartMethod::Spawn => spawn::start,
        StartMethod::ForkServer => forkserver::start,
    }
}
