//! Integration tests of multiproc-ipc: codec and framing properties, bad peers,
//! Listener/Client, handle passing to another process, CPython interop, threads, and
//! ports of CPython's connection tests (`cpython`).

use std::os::unix::net::UnixStream;
use std::time::Duration;

use multiproc_ipc::{Connection, Pipe};

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

/// The two waiting modes of a receive: default adaptive spin, and none.
pub(crate) const SPINS: [Option<Duration>; 2] = [None, Some(Duration::ZERO)];

/// A duplex pair whose second end receives with `spin` (`None`: the default).
pub(crate) fn spinning_pair(spin: Option<Duration>) -> std::io::Result<(Connection, Connection)> {
    let (a, b) = Pipe::duplex()?;
    if let Some(s) = spin {
        b.set_spin(s);
    }
    Ok((a, b))
}

/// A Connection (receiving with `spin`) and its peer as a raw stream, for writing
/// arbitrary bytes.
pub(crate) fn raw_pair(spin: Option<Duration>) -> std::io::Result<(Connection, UnixStream)> {
    let (peer, conn) = spinning_pair(spin)?;
    Ok((conn, UnixStream::from(peer.into_fd())))
}

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
