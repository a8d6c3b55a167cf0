//! The words the async forms (`crate::aio`, feature `tokio`) wait on: the doorbells
//! and side locks of the header, handed to the foundation's futex bridge.

use std::sync::atomic::Ordering;

use multiproc_sync::foundation::{Doorbell, RobustMutex};

use super::Ring;

impl Ring {
    /// Rung by every put (and by a stream's progress) when a getter sleeps.
    pub(crate) fn data_bell(&self) -> &Doorbell {
        &self.hdr().data.0
    }

    /// Rung by every get when a putter sleeps.
    pub(crate) fn space_bell(&self) -> &Doorbell {
        &self.hdr().space.0
    }

    /// Rung by `task_done` when a joiner sleeps.
    pub(crate) fn join_bell(&self) -> &Doorbell {
        &self.hdr().join.0.bell
    }

    /// Whether bytes were published past the read position (a get would find a
    /// record, or the start of a streamed one): what an async getter spins on.
    pub(crate) fn has_data(&self) -> bool {
        let h = self.hdr();
        h.tail.0.load(Ordering::Acquire) > h.head.0.load(Ordering::Acquire)
    }

    /// The consumers' side lock.
    pub(crate) fn get_lock(&self) -> &RobustMutex {
        &self.hdr().get.0.lock
    }

    /// The producers' side lock.
    pub(crate) fn put_lock(&self) -> &RobustMutex {
        &self.hdr().put.0.lock
    }
}
