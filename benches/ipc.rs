//! multiproc-ipc: 8-byte round trip and one-way throughput between two processes, and
//! typed messages holding 1 MiB of data (the bulk fast path against plain vectors and
//! against raw `send_bytes`/`recv_bytes`).
//!
//! Side by side in one run: ours (blocking, and with the default adaptive spin; async on
//! tokio), the raw floor (a bare socketpair, written here), tokio's `UnixStream` as the
//! async floor, and CPython 3.11's `Connection`
//! (benches/py/ipc.py). The second process is made with `fork` (the process crate is
//! not used here) and reaped at the end of each benchmark.
//!
//! ```text
//! cargo bench -p multiproc-benches --bench ipc
//! ```
#![allow(missing_docs)]

use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use multiproc_benches::{fork_child, parse_figures, reap, record, reset, run_python};
use multiproc_ipc::{Bytes, Connection, Pipe, PodVec};

const AREA: &str = "ipc";

fn pair_with_spin(spin: Option<Duration>) -> (Connection, Connection) {
    let (a, b) = Pipe::duplex().expect("socketpair");
    if let Some(s) = spin {
        a.set_spin(s);
        b.set_spin(s);
    }
    (a, b)
}

/// Pins the calling process to `cpu` (best effort); returns the previous mask.
fn pin(cpu: usize) -> Option<rustix::thread::CpuSet> {
    let old = rustix::thread::sched_getaffinity(None).ok()?;
    let mut set = rustix::thread::CpuSet::new();
    set.set(cpu);
    rustix::thread::sched_setaffinity(None, &set).ok()?;
    Some(old)
}

fn rtt_ours(c: &mut Criterion, name: &str, spin: Option<Duration>, pinned: bool) {
    let (a, b) = pair_with_spin(spin);
    let saved = if pinned { pin(0) } else { None };
    let pid = fork_child(&[a.as_raw_fd()], move || {
        if pinned {
            let _ = pin(1);
        }
        let mut buf = [0u8; 64];
        while let Ok(n) = b.recv_bytes_into(&mut buf) {
            if n == 0 || b.send_bytes(&buf[..n]).is_err() {
                break;
            }
        }
    });
    let mut buf = [0u8; 64];
    let mut g = c.benchmark_group("ipc/rtt_8B");
    g.sample_size(20).measurement_time(Duration::from_secs(3));
    g.bench_function(name, |bench| {
        bench.iter(|| {
            a.send_bytes(b"12345678").expect("send");
            a.recv_bytes_into(&mut buf).expect("recv")
        })
    });
    g.finish();
    let _ = a.send_bytes(b"");
    drop(a);
    reap(pid);
    if let Some(old) = saved {
        let _ = rustix::thread::sched_setaffinity(None, &old);
    }
}

fn rtt_raw(c: &mut Criterion) {
    let (mut a, mut b) = UnixStream::pair().expect("socketpair");
    let pid = fork_child(&[a.as_raw_fd()], move || {
        let mut buf = [0u8; 8];
        while b.read_exact(&mut buf).is_ok() {
            if b.write_all(&buf).is_err() {
                break;
            }
        }
    });
    let mut buf = [0u8; 8];
    let mut g = c.benchmark_group("ipc/rtt_8B");
    g.sample_size(20).measurement_time(Duration::from_secs(3));
    g.bench_function("raw socketpair (floor)", |bench| {
        bench.iter(|| {
            a.write_all(b"12345678").expect("write");
            a.read_exact(&mut buf).expect("read");
        })
    });
    g.finish();
    drop(a);
    reap(pid);
}

/// The async 8-byte round trip: this process awaits on a current-thread tokio runtime
/// (an [`AsyncConnection`](multiproc_ipc::aio::AsyncConnection)), the echo peer is the
/// blocking one of `rtt_ours`. The runtime is built after the fork (a runtime's
/// threads do not survive one), and each sample runs its iterations inside one
/// `block_on`, so what is timed is the awaits, not entering the runtime.
fn rtt_async(c: &mut Criterion, name: &str, spin: Option<Duration>) {
    let (a, b) = pair_with_spin(spin);
    let pid = fork_child(&[a.as_raw_fd()], move || {
        let mut buf = [0u8; 64];
        while let Ok(n) = b.recv_bytes_into(&mut buf) {
            if n == 0 || b.send_bytes(&buf[..n]).is_err() {
                break;
            }
        }
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let a = {
        let _in = rt.enter();
        a.into_async().expect("register")
    };
    let mut buf = [0u8; 64];
    let mut g = c.benchmark_group("ipc/rtt_8B");
    g.sample_size(20).measurement_time(Duration::from_secs(3));
    g.bench_function(name, |bench| {
        bench.iter_custom(|iters| {
            rt.block_on(async {
                let start = std::time::Instant::now();
                for _ in 0..iters {
                    a.send_bytes(b"12345678").await.expect("send");
                    a.recv_bytes_into(&mut buf).await.expect("recv");
                }
                start.elapsed()
            })
        })
    });
    g.finish();
    rt.block_on(async {
        let _ = a.send_bytes(b"").await;
    });
    drop(a);
    drop(rt);
    reap(pid);
}

/// The async floor: tokio's own `UnixStream` (`write_all`/`read_exact`) against the
/// raw echo peer of `rtt_raw`, on a current-thread runtime.
fn rtt_tokio_floor(c: &mut Criterion) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (a, mut b) = UnixStream::pair().expect("socketpair");
    let pid = fork_child(&[a.as_raw_fd()], move || {
        let mut buf = [0u8; 8];
        while b.read_exact(&mut buf).is_ok() {
            if b.write_all(&buf).is_err() {
                break;
            }
        }
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut a = {
        let _in = rt.enter();
        a.set_nonblocking(true).expect("nonblocking");
        tokio::net::UnixStream::from_std(a).expect("register")
    };
    let mut buf = [0u8; 8];
    let mut g = c.benchmark_group("ipc/rtt_8B");
    g.sample_size(20).measurement_time(Duration::from_secs(3));
    g.bench_function("tokio UnixStream (async floor)", |bench| {
        bench.iter_custom(|iters| {
            rt.block_on(async {
                let start = std::time::Instant::now();
                for _ in 0..iters {
                    a.write_all(b"12345678").await.expect("write");
                    a.read_exact(&mut buf).await.expect("read");
                }
                start.elapsed()
            })
        })
    });
    g.finish();
    drop(a);
    drop(rt);
    reap(pid);
}

/// ipc-channel's async receiver (issue #16: "compare with ipc-channel's async
/// receiver, in one run"), the same 8-byte round trip as `rtt_async`: this process
/// sends `[u8; 8]` with `IpcSender::send` (ipc-channel has no async sender; the send is
/// one `sendmsg` that does not block on a small message) and awaits the echo on the
/// `IpcStream` of `IpcReceiver::to_stream` (feature `async`), on a current-thread
/// runtime. That stream is how ipc-channel does async: its process-wide router thread
/// `select`s on the receiver and forwards each message through a futures channel that
/// wakes the awaiting task — one thread hop per message that our `AsyncConnection`,
/// registered with tokio's reactor, does not make. The echo peer is a forked process
/// with ipc-channel's blocking `recv`/`send`.
///
/// Runs last in this file: the router thread lives until the process exits, and
/// [`fork_child`] wants a single-threaded parent.
fn rtt_ipc_channel_async(c: &mut Criterion) {
    use futures_core::Stream;
    const STOP: [u8; 8] = [0xff; 8];
    let (to_peer, peer_rx) = ipc_channel::ipc::channel::<[u8; 8]>().expect("ipc-channel");
    let (peer_tx, from_peer) = ipc_channel::ipc::channel::<[u8; 8]>().expect("ipc-channel");
    // The peer inherits this process's ends too (ipc-channel does not expose their
    // descriptors), so it stops on STOP, not at end-of-file.
    let pid = fork_child(&[], move || {
        while let Ok(m) = peer_rx.recv() {
            if m == STOP || peer_tx.send(m).is_err() {
                break;
            }
        }
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut replies = from_peer.to_stream();
    let mut g = c.benchmark_group("ipc/rtt_8B");
    g.sample_size(20).measurement_time(Duration::from_secs(3));
    g.bench_function(
        "ipc-channel async (IpcStream, tokio current-thread)",
        |bench| {
            bench.iter_custom(|iters| {
                rt.block_on(async {
                    let start = std::time::Instant::now();
                    for _ in 0..iters {
                        to_peer.send(*b"12345678").expect("send");
                        let got = std::future::poll_fn(|cx| {
                            std::pin::Pin::new(&mut replies).poll_next(cx)
                        })
                        .await;
                        assert!(matches!(got, Some(Ok(m)) if m == *b"12345678"));
                    }
                    start.elapsed()
                })
            })
        },
    );
    g.finish();
    let _ = to_peer.send(STOP);
    drop(rt);
    reap(pid);
}

/// The round trip of the floor and of ours (blocking, adaptive spin) measured in
/// alternating rounds, all three echo peers alive at once, so that each sees the same
/// machine load. Criterion measures one variant after another, seconds apart; on the
/// shared 2-CPU machine the load drifts between those windows by more than the
/// differences being measured, so the criterion ratios of `rtt_8B` swing from run to
/// run. This gives the ratios a fairer footing; it prints medians over the rounds.
///
/// With `pinned`, this process runs on CPU 0 and every echo peer on CPU 1, so that all
/// variants cross CPUs (the regime of a quiet machine). Unpinned, the scheduler places
/// each peer as it likes, and a peer that shares the measuring process's CPU has a
/// round trip of two context switches instead of two cross-CPU wake-ups — a factor of
/// three either way, which no overhead of ours comes near.
fn rtt_interleaved(pinned: bool) {
    const ROUNDS: usize = 21;
    const N: usize = 2000;
    let saved = if pinned { pin(0) } else { None };
    let (mut raw, raw_peer) = UnixStream::pair().expect("socketpair");
    let raw_pid = fork_child(&[raw.as_raw_fd()], move || {
        if pinned {
            let _ = pin(1);
        }
        let mut b = raw_peer;
        let mut buf = [0u8; 8];
        while b.read_exact(&mut buf).is_ok() {
            if b.write_all(&buf).is_err() {
                break;
            }
        }
    });
    let mut ours = Vec::new();
    let mut pids = vec![raw_pid];
    for spin in [Some(Duration::ZERO), None] {
        let (a, b) = pair_with_spin(spin);
        let mut close: Vec<RawFd> = ours.iter().map(|c: &Connection| c.as_raw_fd()).collect();
        close.extend([raw.as_raw_fd(), a.as_raw_fd()]);
        pids.push(fork_child(&close, move || {
            if pinned {
                let _ = pin(1);
            }
            let mut buf = [0u8; 64];
            while let Ok(n) = b.recv_bytes_into(&mut buf) {
                if n == 0 || b.send_bytes(&buf[..n]).is_err() {
                    break;
                }
            }
        }));
        ours.push(a);
    }
    let mut samples = [Vec::new(), Vec::new(), Vec::new()];
    let mut buf = [0u8; 64];
    for round in 0..=ROUNDS {
        for k in 0..3 {
            // Rotate the order so no variant always runs right after another.
            let v = (k + round) % 3;
            let t = std::time::Instant::now();
            for _ in 0..N {
                if v == 0 {
                    raw.write_all(b"12345678").expect("write");
                    raw.read_exact(&mut buf[..8]).expect("read");
                } else {
                    ours[v - 1].send_bytes(b"12345678").expect("send");
                    ours[v - 1].recv_bytes_into(&mut buf).expect("recv");
                }
            }
            if round > 0 {
                samples[v].push(t.elapsed().as_nanos() as f64 / N as f64);
            }
        }
    }
    for c in &ours {
        let _ = c.send_bytes(b"");
    }
    drop(ours);
    drop(raw);
    for pid in pids {
        reap(pid);
    }
    if let Some(old) = saved {
        let _ = rustix::thread::sched_setaffinity(None, &old);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let floor = median(&mut samples[0]);
    let group = if pinned {
        "ipc/rtt_8B_interleaved_pinned"
    } else {
        "ipc/rtt_8B_interleaved"
    };
    println!("\n  {group} ({ROUNDS} rounds of {N} round trips, medians):");
    for (v, label) in [
        "raw socketpair (floor)",
        "ours blocking (spin 0)",
        "ours adaptive spin (default)",
    ]
    .into_iter()
    .enumerate()
    {
        let ns = median(&mut samples[v]);
        println!(
            "  {group:<24} {label:<30} median {:>8.2} µs  ({:.2}x floor)",
            ns / 1e3,
            ns / floor
        );
        let note = if pinned {
            "interleaved rounds, this process on CPU 0, peers on CPU 1"
        } else {
            "interleaved rounds, unpinned"
        };
        record(AREA, group, label, ns, note);
    }
}

fn set_bufs(s: &impl AsFd, size: usize) {
    let _ = rustix::net::sockopt::set_socket_send_buffer_size(s, size);
    let _ = rustix::net::sockopt::set_socket_recv_buffer_size(s, size);
}

/// One-way stream: the child sends `size`-byte messages until the parent hangs up.
fn oneway_ours(c: &mut Criterion, size: usize, into: bool) {
    let (a, b) = Pipe::duplex().expect("socketpair");
    let pid = fork_child(&[a.as_raw_fd()], move || {
        let msg = vec![0x5au8; size];
        while b.send_bytes(&msg).is_ok() {}
    });
    let mut g = c.benchmark_group(format!("ipc/oneway_{}MiB", size >> 20));
    g.throughput(Throughput::Bytes(size as u64));
    g.sample_size(10)
        .measurement_time(Duration::from_secs(if size > 4 << 20 { 8 } else { 4 }));
    let name = if into {
        "ours recv_bytes_into"
    } else {
        "ours recv_bytes"
    };
    let mut buf = vec![0u8; size];
    g.bench_function(BenchmarkId::from_parameter(name), |bench| {
        bench.iter(|| {
            if into {
                assert_eq!(a.recv_bytes_into(&mut buf).expect("recv"), size);
            } else {
                assert_eq!(a.recv_bytes().expect("recv").len(), size);
            }
        })
    });
    g.finish();
    drop(a);
    reap(pid);
}

/// How the receiver of [`oneway_ours_shm`] takes each message.
#[derive(Clone, Copy)]
enum ShmRecv {
    /// `recv_bytes`: copied out into a fresh `Vec`.
    Vec,
    /// `recv_bytes_into`: copied out into a buffer kept across messages.
    Into,
    /// `recv_bytes_into`, then the checksum of the buffer (the receiver reads the data).
    IntoSum,
    /// `recv_bytes_shared`: read in place in the segment, checksummed there, dropped
    /// (which hands the segment back).
    SharedSum,
}

/// A cheap read of every byte (wrapping sum of the 8-byte words; the compiler
/// vectorises it): what a receiver that uses its data pays at least.
fn checksum(bytes: &[u8]) -> u64 {
    let words = bytes.chunks_exact(8);
    let tail = words.remainder().iter().map(|&b| u64::from(b)).sum::<u64>();
    words
        .map(|w| u64::from_ne_bytes(w.try_into().expect("8 bytes")))
        .fold(tail, u64::wrapping_add)
}

/// One-way stream through `Connection::enable_shm` (both ends; threshold 1 MiB): the
/// child sends `size`-byte messages with `send_bytes` until the parent hangs up.
fn oneway_ours_shm(c: &mut Criterion, size: usize, how: ShmRecv) {
    let (a, b) = Pipe::duplex().expect("socketpair");
    a.enable_shm(multiproc_ipc::DEFAULT_SHM_THRESHOLD)
        .expect("shm");
    b.enable_shm(multiproc_ipc::DEFAULT_SHM_THRESHOLD)
        .expect("shm");
    let pid = fork_child(&[a.as_raw_fd()], move || {
        let msg = vec![0x5au8; size];
        while b.send_bytes(&msg).is_ok() {}
    });
    let mut g = c.benchmark_group(format!("ipc/oneway_{}MiB", size >> 20));
    g.throughput(Throughput::Bytes(size as u64));
    g.sample_size(10)
        .measurement_time(Duration::from_secs(if size > 4 << 20 { 8 } else { 4 }));
    let name = match how {
        ShmRecv::Vec => "ours enable_shm, recv_bytes",
        ShmRecv::Into => "ours enable_shm, recv_bytes_into",
        ShmRecv::IntoSum => "ours enable_shm, recv_bytes_into + checksum",
        ShmRecv::SharedSum => "ours enable_shm, recv_bytes_shared (in place) + checksum",
    };
    let want = checksum(&vec![0x5au8; size]);
    let mut buf = vec![0u8; size];
    g.bench_function(BenchmarkId::from_parameter(name), |bench| {
        bench.iter(|| match how {
            ShmRecv::Vec => assert_eq!(a.recv_bytes().expect("recv").len(), size),
            ShmRecv::Into => assert_eq!(a.recv_bytes_into(&mut buf).expect("recv"), size),
            ShmRecv::IntoSum => {
                assert_eq!(a.recv_bytes_into(&mut buf).expect("recv"), size);
                assert_eq!(checksum(&buf), want);
            }
            ShmRecv::SharedSum => {
                let msg = a.recv_bytes_shared().expect("recv");
                assert!(msg.is_in_segment() && msg.len() == size);
                assert_eq!(checksum(&msg), want);
            }
        })
    });
    g.finish();
    drop(a);
    reap(pid);
}

/// The read floor of a received message: one checksum pass over `size` bytes this
/// process keeps (what the in-place receiver does per message, with no transfer).
fn oneway_checksum(c: &mut Criterion, size: usize) {
    let src = vec![0x5au8; size];
    let mut g = c.benchmark_group(format!("ipc/oneway_{}MiB", size >> 20));
    g.throughput(Throughput::Bytes(size as u64));
    g.sample_size(10)
        .measurement_time(Duration::from_secs(if size > 4 << 20 { 8 } else { 4 }));
    g.bench_function(
        BenchmarkId::from_parameter("checksum only (read floor)"),
        |bench| bench.iter(|| checksum(std::hint::black_box(&src))),
    );
    g.finish();
}

/// The memory floor of a one-way message: one `memcpy` of `size` bytes between two
/// buffers this process keeps (no second process, no system call). A shared-memory
/// hand-off pays two of these (into the segment, out of it), on two CPUs at once.
fn oneway_memcpy(c: &mut Criterion, size: usize) {
    let src = vec![0x5au8; size];
    let mut dst = vec![0u8; size];
    let mut g = c.benchmark_group(format!("ipc/oneway_{}MiB", size >> 20));
    g.throughput(Throughput::Bytes(size as u64));
    g.sample_size(10)
        .measurement_time(Duration::from_secs(if size > 4 << 20 { 8 } else { 4 }));
    g.bench_function(BenchmarkId::from_parameter("memcpy (floor)"), |bench| {
        bench.iter(|| {
            dst.copy_from_slice(std::hint::black_box(&src));
            std::hint::black_box(&dst);
        })
    });
    g.finish();
}

fn oneway_raw(c: &mut Criterion, size: usize, chunk: usize) {
    let (mut a, mut b) = UnixStream::pair().expect("socketpair");
    set_bufs(&a, 4 << 20);
    set_bufs(&b, 4 << 20);
    let pid = fork_child(&[a.as_raw_fd()], move || {
        let msg = vec![0x5au8; chunk];
        while b.write_all(&msg).is_ok() {}
    });
    let mut g = c.benchmark_group(format!("ipc/oneway_{}MiB", size >> 20));
    g.throughput(Throughput::Bytes(size as u64));
    g.sample_size(10)
        .measurement_time(Duration::from_secs(if size > 4 << 20 { 8 } else { 4 }));
    let mut buf = vec![0u8; size];
    let name = format!(
        "raw socketpair 4 MiB bufs, {} MiB writes (floor)",
        chunk >> 20
    );
    g.bench_function(BenchmarkId::from_parameter(name), |bench| {
        bench.iter(|| a.read_exact(&mut buf).expect("read"))
    });
    g.finish();
    drop(a);
    reap(pid);
}

/// `pread`/`pwrite` loops: the whole range, or panic (benches only).
fn pwrite_all(fd: impl AsFd, mut buf: &[u8]) {
    let mut off = 0u64;
    while !buf.is_empty() {
        let n = rustix::io::pwrite(&fd, buf, off).expect("pwrite");
        buf = &buf[n..];
        off += n as u64;
    }
}

fn pread_exact(fd: impl AsFd, buf: &mut [u8]) {
    let mut off = 0;
    while off < buf.len() {
        let n = rustix::io::pread(&fd, &mut buf[off..], off as u64).expect("pread");
        assert!(n > 0, "segment shorter than announced");
        off += n;
    }
}

/// Copies `msg` to the start of `seg` (the bench's segment protocol: only the side
/// holding the segment's credit touches it).
fn copy_in(seg: &multiproc_ipc::SharedSegment, msg: &[u8]) {
    assert!(msg.len() <= seg.len());
    // SAFETY:
    // - `seg.as_ptr()` is valid for `seg.len()` bytes, and `msg.len() <= seg.len()`;
    // - only the holder of the segment's credit touches it (the sender until it sends
    //   the index, the receiver until it hands it back), so nobody else accesses
    //   these bytes meanwhile; `msg` is private memory, so the ranges do not overlap.
    unsafe { std::ptr::copy_nonoverlapping(msg.as_ptr(), seg.as_ptr(), msg.len()) };
}

/// Copies the start of `seg` into `buf` (see [`copy_in`]).
fn copy_out(seg: &multiproc_ipc::SharedSegment, buf: &mut [u8]) {
    assert!(buf.len() <= seg.len());
    // SAFETY: as in `copy_in`, with the roles swapped: the receiver holds the credit.
    unsafe { std::ptr::copy_nonoverlapping(seg.as_ptr(), buf.as_mut_ptr(), buf.len()) };
}

/// Experiments for the large-message design (issue #15), raw, not a library path:
/// how fast can 64 MiB go through memory both processes map, next to the socketpair
/// floor of the same group?
///
/// * `fresh memfd per message`: the sender creates a memfd, writes the message into
///   it (`write`: one copy), seals it (shrink, grow) and passes the descriptor
///   over the socket; the receiver checks the seals and size and copies the message
///   out (`pread`: one copy) into its buffer. Every message pays for fresh pages
///   (allocated and zeroed by the kernel, freed on close).
/// * `reused segment pair`: two memfd segments made once; the sender `pwrite`s a
///   message into a free one and sends its index, the receiver `pread`s it out and
///   sends the index back (free again). Writing one segment overlaps reading the
///   other; the pages stay allocated, so no per-message page cost.
/// * `mapped`: the same pair, mapped once in both processes, copied with `memcpy`
///   (no system call per page, no page faults after the first round).
fn oneway_shm(c: &mut Criterion, size: usize, reuse: bool, mapped: bool) {
    use multiproc_ipc::{PassFd, SharedSegment};
    use rustix::fs::{MemfdFlags, SealFlags};
    let (a, b) = Pipe::duplex().expect("socketpair");
    let segs = if reuse {
        vec![
            SharedSegment::new(size).expect("segment"),
            SharedSegment::new(size).expect("segment"),
        ]
    } else {
        Vec::new()
    };
    let child_segs = segs.clone();
    let pid = fork_child(&[a.as_raw_fd()], move || {
        let msg = vec![0x5au8; size];
        // At most two messages in flight: the receiver hands back a credit per message
        // (without it, fresh memfds would pile up in the socket, 64 MiB each).
        for i in 0usize.. {
            if i >= 2 && b.recv::<u8>().is_err() {
                break;
            }
            let sent = if reuse {
                if mapped {
                    copy_in(&child_segs[i % 2], &msg);
                } else {
                    pwrite_all(&child_segs[i % 2], &msg);
                }
                b.send(&((i % 2) as u8))
            } else {
                let fd = rustix::fs::memfd_create(
                    "bulk",
                    MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING,
                )
                .expect("memfd");
                pwrite_all(&fd, &msg);
                // Shrink and grow, as the library's segments (`shm.rs`): on this kernel
                // adding `F_SEAL_WRITE` right after the write failed with EBUSY.
                rustix::fs::fcntl_add_seals(&fd, SealFlags::SHRINK | SealFlags::GROW)
                    .expect("seal");
                b.send(&(PassFd::from(fd), size as u64))
            };
            if sent.is_err() {
                break;
            }
        }
    });
    let mut g = c.benchmark_group(format!("ipc/oneway_{}MiB", size >> 20));
    g.throughput(Throughput::Bytes(size as u64));
    g.sample_size(10)
        .measurement_time(Duration::from_secs(if size > 4 << 20 { 8 } else { 4 }));
    let mut buf = vec![0u8; size];
    let name = if reuse && mapped {
        "experiment: reused memfd segment pair, mapped both sides, memcpy"
    } else if reuse {
        "experiment: reused memfd segment pair, pwrite/pread"
    } else {
        "experiment: fresh sealed memfd per message, write/pread"
    };
    g.bench_function(BenchmarkId::from_parameter(name), |bench| {
        bench.iter(|| {
            if reuse {
                let i: u8 = a.recv().expect("recv");
                if mapped {
                    copy_out(&segs[usize::from(i)], &mut buf);
                } else {
                    pread_exact(&segs[usize::from(i)], &mut buf);
                }
                a.send(&i).expect("send");
            } else {
                let (fd, len): (PassFd, u64) = a.recv().expect("recv");
                let seals = rustix::fs::fcntl_get_seals(&fd).expect("seals");
                assert!(seals.contains(SealFlags::SHRINK | SealFlags::GROW));
                assert_eq!(rustix::fs::fstat(&fd).expect("fstat").st_size as u64, len);
                pread_exact(&fd, &mut buf);
                a.send(&0u8).expect("send");
            }
        })
    });
    g.finish();
    drop(a);
    reap(pid);
}

/// One-way stream of a typed message holding 1 MiB of data: the child sends
/// `make()` until the parent hangs up; the parent receives it with `recv` and checks
/// its size. Beside it in the same group: `send_bytes`/`recv_bytes` of 1 MiB (the
/// floor a typed message can reach: the same frame plus an encode and a decode).
fn typed_oneway<T: serde::Serialize>(
    c: &mut Criterion,
    name: &str,
    make: impl FnOnce() -> T,
    recv: impl Fn(&Connection) -> usize,
) {
    typed_oneway_with(c, name, false, make, recv)
}

/// [`typed_oneway`], with `Connection::enable_shm` on both ends when `shm`.
fn typed_oneway_with<T: serde::Serialize>(
    c: &mut Criterion,
    name: &str,
    shm: bool,
    make: impl FnOnce() -> T,
    recv: impl Fn(&Connection) -> usize,
) {
    let (a, b) = Pipe::duplex().expect("socketpair");
    if shm {
        a.enable_shm(multiproc_ipc::DEFAULT_SHM_THRESHOLD)
            .expect("shm");
        b.enable_shm(multiproc_ipc::DEFAULT_SHM_THRESHOLD)
            .expect("shm");
    }
    let pid = fork_child(&[a.as_raw_fd()], move || {
        let msg = make();
        while b.send(&msg).is_ok() {}
    });
    let mut g = c.benchmark_group("ipc/typed_1MiB");
    g.throughput(Throughput::Bytes(1 << 20));
    g.sample_size(10).measurement_time(Duration::from_secs(4));
    g.bench_function(BenchmarkId::from_parameter(name), |bench| {
        bench.iter(|| assert_eq!(recv(&a), 1 << 20))
    });
    g.finish();
    drop(a);
    reap(pid);
}

fn typed(c: &mut Criterion) {
    const N: usize = 1 << 20;
    {
        let (a, b) = Pipe::duplex().expect("socketpair");
        let pid = fork_child(&[a.as_raw_fd()], move || {
            let msg = vec![0x5au8; N];
            while b.send_bytes(&msg).is_ok() {}
        });
        let mut g = c.benchmark_group("ipc/typed_1MiB");
        g.throughput(Throughput::Bytes(N as u64));
        g.sample_size(10).measurement_time(Duration::from_secs(4));
        g.bench_function(
            BenchmarkId::from_parameter("send_bytes + recv_bytes (floor)"),
            |bench| bench.iter(|| assert_eq!(a.recv_bytes().expect("recv").len(), N)),
        );
        g.finish();
        drop(a);
        reap(pid);
    }
    typed_oneway(
        c,
        "ours Bytes (fast path)",
        || Bytes::from(vec![0x5au8; N]),
        |a| a.recv::<Bytes>().expect("recv").len(),
    );
    typed_oneway(
        c,
        "ours PodVec<f64> (fast path)",
        || PodVec::from(vec![0.5f64; N / 8]),
        |a| a.recv::<PodVec<f64>>().expect("recv").len() * 8,
    );
    typed_oneway_with(
        c,
        "ours Bytes, enable_shm",
        true,
        || Bytes::from(vec![0x5au8; N]),
        |a| a.recv::<Bytes>().expect("recv").len(),
    );
    typed_oneway_with(
        c,
        "ours PodVec<f64>, enable_shm",
        true,
        || PodVec::from(vec![0.5f64; N / 8]),
        |a| a.recv::<PodVec<f64>>().expect("recv").len() * 8,
    );
    {
        let src = vec![0x5au8; N];
        let mut dst = vec![0u8; N];
        let mut g = c.benchmark_group("ipc/typed_1MiB");
        g.throughput(Throughput::Bytes(N as u64));
        g.sample_size(10).measurement_time(Duration::from_secs(4));
        g.bench_function(BenchmarkId::from_parameter("memcpy (floor)"), |bench| {
            bench.iter(|| {
                dst.copy_from_slice(std::hint::black_box(&src));
                std::hint::black_box(&dst);
            })
        });
        g.finish();
    }
    typed_oneway(
        c,
        "ours plain Vec<u8>",
        || vec![0x5au8; N],
        |a| a.recv::<Vec<u8>>().expect("recv").len(),
    );
    typed_oneway(
        c,
        "ours plain Vec<f64>",
        || vec![0.5f64; N / 8],
        |a| a.recv::<Vec<f64>>().expect("recv").len() * 8,
    );
}

/// In one process, no I/O: the encode + decode of 1 MiB held in each form, through
/// `multiproc_ipc::encode`/`decode` (what a typed send/recv adds to a raw frame), and
/// bare postcard (`to_allocvec` + `from_bytes`) for a plain `Vec<u8>`, the codec cost
/// before this crate's own output flavor.
fn codec(c: &mut Criterion) {
    const N: usize = 1 << 20;
    let mut g = c.benchmark_group("ipc/codec_1MiB");
    g.throughput(Throughput::Bytes(N as u64));
    g.sample_size(20).measurement_time(Duration::from_secs(3));
    fn round<T: serde::Serialize + serde::de::DeserializeOwned>(v: &T) -> T {
        let (bytes, fds) = multiproc_ipc::encode(v).expect("encode");
        multiproc_ipc::decode(&bytes, fds).expect("decode")
    }
    let bytes = Bytes::from(vec![0x5au8; N]);
    g.bench_function("Bytes (fast path)", |b| b.iter(|| round(&bytes).len()));
    let pod = PodVec::from(vec![0.5f64; N / 8]);
    g.bench_function("PodVec<f64> (fast path)", |b| b.iter(|| round(&pod).len()));
    let plain = vec![0x5au8; N];
    g.bench_function("plain Vec<u8>", |b| b.iter(|| round(&plain).len()));
    let plain_f = vec![0.5f64; N / 8];
    g.bench_function("plain Vec<f64>", |b| b.iter(|| round(&plain_f).len()));
    g.bench_function("plain Vec<u8>, bare postcard", |b| {
        b.iter(|| {
            let bytes = postcard::to_allocvec(&plain).expect("encode");
            postcard::from_bytes::<Vec<u8>>(&bytes)
                .expect("decode")
                .len()
        })
    });
    g.finish();
}

fn cpython(_c: &mut Criterion) {
    let Some(out) = run_python("ipc.py", &[]) else {
        eprintln!("ipc: CPython baseline skipped");
        return;
    };
    println!("\n  CPython 3.11 multiprocessing.connection (benches/py/ipc.py):");
    for (name, ns) in parse_figures(&out) {
        let (group, label, extra) = if name.starts_with("rtt_8B") {
            (
                "ipc/rtt_8B",
                "cpython Pipe(duplex=True)",
                format!("{:.2} µs", ns / 1e3),
            )
        } else {
            let mib: f64 = if name.contains("_64MiB_") { 64.0 } else { 1.0 };
            let group = if mib > 1.0 {
                "ipc/oneway_64MiB"
            } else {
                "ipc/oneway_1MiB"
            };
            let gbs = mib * 1_048_576.0 / ns;
            let label = if name.ends_with("_into") {
                "cpython recv_bytes_into"
            } else {
                "cpython recv_bytes"
            };
            (group, label, format!("{gbs:.2} GB/s"))
        };
        println!(
            "  {group:<18} {label:<28} median {:>14.0} ns  ({extra})",
            ns
        );
        record(AREA, group, label, ns, "CPython 3.11, benches/py/ipc.py");
    }
}

fn benches(c: &mut Criterion) {
    reset(AREA);
    rtt_raw(c);
    rtt_ours(c, "ours blocking (spin 0)", Some(Duration::ZERO), false);
    rtt_ours(c, "ours adaptive spin (default)", None, false);
    rtt_tokio_floor(c);
    rtt_async(
        c,
        "ours async, tokio current-thread (spin 0)",
        Some(Duration::ZERO),
    );
    rtt_async(c, "ours async, tokio current-thread (adaptive spin)", None);
    rtt_interleaved(false);
    if std::thread::available_parallelism().map_or(1, |n| n.get()) >= 2 {
        rtt_interleaved(true);
        rtt_ours(
            c,
            "ours blocking, pinned CPUs 0/1",
            Some(Duration::ZERO),
            true,
        );
        rtt_ours(c, "ours adaptive spin, pinned CPUs 0/1", None, true);
    }
    for size in [1 << 20, 64 << 20] {
        oneway_raw(c, size, 1 << 20);
        if size > 1 << 20 {
            oneway_raw(c, size, size);
        }
        oneway_ours(c, size, false);
        oneway_ours(c, size, true);
        oneway_ours_shm(c, size, ShmRecv::Vec);
        oneway_ours_shm(c, size, ShmRecv::Into);
        oneway_ours_shm(c, size, ShmRecv::IntoSum);
        oneway_ours_shm(c, size, ShmRecv::SharedSum);
        oneway_memcpy(c, size);
        oneway_checksum(c, size);
        if size > 1 << 20 {
            oneway_shm(c, size, false, false);
            oneway_shm(c, size, true, false);
            oneway_shm(c, size, true, true);
        }
    }
    typed(c);
    codec(c);
    cpython(c);
    // last: it leaves ipc-channel's router thread running (see the function)
    rtt_ipc_channel_async(c);
}

criterion_group!(ipc, benches);
criterion_main!(ipc);
