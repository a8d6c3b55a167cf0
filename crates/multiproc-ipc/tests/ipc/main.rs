//! Integration tests of multiproc-ipc: codec and framing properties, bad peers,
//! Listener/Client, handle passing to another process, CPython interop, threads, and
//! ports of CPython's connection tests (`cpython`).

#[cfg(feature = "tokio")]
mod aio;
mod bad_peers;
mod bulk;
mod child;
mod codec;
mod cpython;
mod depth;
mod framing;
mod interop;
mod listener;
mod pickle;
mod resume;
mod send_timeout;
mod shm;
mod slow_loris;
mod threads;

pub(crate) type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// A fresh private directory for socket files, removed on drop.
pub(crate) struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub(crate) fn new(tag: &str) -> std::io::Result<Self> {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "mp-ipc-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p)?;
        Ok(TempDir(p))
    }

    pub(crate) fn sock(&self, name: &str) -> multiproc_ipc::Address {
        multiproc_ipc::Address::unix(self.0.join(name))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
