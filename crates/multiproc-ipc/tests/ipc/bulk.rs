//! The bulk fast path (`multiproc_ipc::bulk`): byte strings and plain-old-data travel
//! as one block, give the same values as the plain (element by element) path, pass
//! the depth limit without a level per element, and cross into another process.

use std::os::fd::AsFd;
use std::process::Stdio;
use std::time::Duration;

use multiproc_ipc::bulk::{Bytes, PodSlice, PodVec};
use multiproc_ipc::{Connection, Pipe, bytemuck, decode, decode_with_max_depth, encode};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};

use multiproc_test_support::{reap_after, this_test_binary};

use crate::TestResult;

const CHILD_ENV: &str = "MULTIPROC_IPC_TEST_BULK_CHILD";
const WAIT: Duration = Duration::from_secs(60);
/// Set in the child's environment (to the threshold): `enable_shm` on its end.
const SHM_ENV: &str = "MULTIPROC_IPC_TEST_BULK_SHM";

/// A user record: derives `Pod` through the re-exported bytemuck, no `unsafe impl`.
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
#[bytemuck(crate = "multiproc_ipc::bytemuck")]
#[repr(C)]
struct Point {
    x: f64,
    y: f64,
    id: u32,
    flags: u16,
    kind: u8,
    tag: u8,
}

/// Every fast-path type in one message, beside plain fields.
#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct Batch {
    seq: u64,
    raw: Bytes,
    samples: PodVec<f64>,
    points: PodVec<Point>,
    #[serde(with = "multiproc_ipc::bulk::bytes")]
    field_bytes: Vec<u8>,
    #[serde(with = "multiproc_ipc::bulk::pod")]
    field_ints: Vec<i32>,
    name: String,
}

fn batch(seq: u64, n: usize) -> Batch {
    Batch {
        seq,
        raw: Bytes((0..n).map(|i| (i * 7 + seq as usize) as u8).collect()),
        samples: PodVec((0..n / 8).map(|i| i as f64 * 0.5 - seq as f64).collect()),
        points: PodVec(
            (0..n / 64)
                .map(|i| Point {
                    x: i as f64,
                    y: -(i as f64),
                    id: i as u32,
                    flags: (i % 65_536) as u16,
                    kind: 3,
                    tag: seq as u8,
                })
                .collect(),
        ),
        field_bytes: vec![seq as u8; n / 2],
        field_ints: (0..n as i32 / 4).map(|i| i - 1000).collect(),
        name: format!("batch {seq}"),
    }
}

/// Not a test of its own: the body of the child process (an exec'd copy of this
/// binary, i.e. a spawned process). Echoes batches, each field transformed, until `None`.
#[test]
fn bulk_child_entry() -> TestResult {
    if std::env::var_os(CHILD_ENV).is_none() {
        return Ok(());
    }
    let conn = Connection::from_fd(std::io::stdin().as_fd().try_clone_to_owned()?);
    if let Ok(t) = std::env::var(SHM_ENV) {
        conn.enable_shm(t.parse()?)?;
    }
    while let Some(mut b) = conn.recv_timeout::<Option<Batch>>(WAIT)? {
        b.seq += 1;
        b.raw.reverse();
        b.samples.iter_mut().for_each(|s| *s *= 2.0);
        b.points.reverse();
        // The borrowed form goes back for the samples: a `PodVec` receives it.
        conn.send(&(&b, PodSlice(&b.samples[..]), PodSlice(b.raw.as_slice())))?;
    }
    Ok(())
}

#[test]
fn every_fast_path_type_round_trips_through_a_spawned_process() -> TestResult {
    round_trips_through_a_spawned_process(None)
}

/// The same through shared memory (`enable_shm` on both ends), with a threshold low
/// enough that the larger batches go through segments and the smaller through the
/// socket, on one connection.
#[test]
fn every_fast_path_type_round_trips_through_shared_memory() -> TestResult {
    round_trips_through_a_spawned_process(Some(64 << 10))
}

/// Sends batches of several sizes to an exec'd child (the only start method this
/// crate has: `fork`, `spawn` and `forkserver` live in `multiproc-process`, above it)
/// and checks what comes back.
fn round_trips_through_a_spawned_process(shm: Option<usize>) -> TestResult {
    let (mine, theirs) = Pipe::duplex()?;
    let mut cmd = this_test_binary("bulk::bulk_child_entry")?;
    if let Some(t) = shm {
        mine.enable_shm(t)?;
        cmd.env(SHM_ENV, t.to_string());
    }
    let child = cmd
        .env(CHILD_ENV, "1")
        .stdin(Stdio::from(theirs.into_fd()))
        .stdout(Stdio::null())
        .spawn()?;
    let result = (|| -> TestResult {
        // Small, around the coalescing and big-frame thresholds, and several MiB.
        for (seq, n) in [
            (0u64, 0usize),
            (1, 64),
            (2, 20_000),
            (3, 300 << 10),
            (4, 6 << 20),
            (5, 1 << 20),
            (6, 12 << 20),
            (7, 100),
        ] {
            let sent = batch(seq, n);
            mine.send(&Some(&sent))?;
            let (got, samples, raw): (Batch, PodVec<f64>, Vec<u8>) = mine.recv_timeout(WAIT)?;
            let mut want = sent.clone();
            want.seq += 1;
            want.raw.reverse();
            want.samples.iter_mut().for_each(|s| *s *= 2.0);
            want.points.reverse();
            assert_eq!(got, want, "batch {seq}");
            assert_eq!(samples, want.samples);
            assert_eq!(raw, *want.raw);
        }
        mine.send(&None::<Batch>)?;
        Ok(())
    })();
    reap_after(child, result)
}

#[test]
fn byte_strings_do_not_count_a_level_per_element() -> TestResult {
    // A sequence is one level; a byte string is a plain value, whatever its length.
    let (bytes, _) = encode(&Bytes(vec![1; 1 << 16]))?;
    assert_eq!(
        decode_with_max_depth::<Bytes>(&bytes, Vec::new(), 0)?.len(),
        1 << 16
    );
    assert!(decode_with_max_depth::<Vec<u8>>(&bytes, Vec::new(), 0).is_err());
    let (pod, _) = encode(&PodVec(vec![2.5f32; 100]))?;
    assert_eq!(
        *decode_with_max_depth::<PodVec<f32>>(&pod, Vec::new(), 0)?,
        [2.5; 100]
    );
    Ok(())
}

#[test]
fn a_pod_frame_of_the_wrong_length_is_a_decode_error_and_the_connection_goes_on() -> TestResult {
    let (a, b) = Pipe::duplex()?;
    a.send(&Bytes(vec![0; 13]))?;
    match b.recv::<PodVec<u64>>() {
        Err(multiproc_ipc::RecvError::Decode(e)) => {
            assert!(e.to_string().contains("13 bytes"), "{e}")
        }
        other => panic!("expected a decode error, got {other:?}"),
    }
    a.send(&PodSlice(&[9u64, 10]))?;
    assert_eq!(*b.recv::<PodVec<u64>>()?, [9, 10]);
    Ok(())
}

fn point() -> impl Strategy<Value = Point> {
    (
        any::<f64>(),
        any::<f64>(),
        any::<u32>(),
        any::<u16>(),
        any::<u8>(),
        any::<u8>(),
    )
        .prop_map(|(x, y, id, flags, kind, tag)| Point {
            x,
            y,
            id,
            flags,
            kind,
            tag,
        })
}

/// Bit patterns, so that NaNs compare as themselves.
fn bits<T: bytemuck::Pod>(v: &[T]) -> Vec<u8> {
    bytemuck::cast_slice(v).to_vec()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// `Bytes` and a plain `Vec<u8>` are the same bytes on the wire, and each decodes
    /// what the other encoded.
    #[test]
    fn bytes_and_plain_vec_u8_agree(v in proptest::collection::vec(any::<u8>(), 0..5000)) {
        let (fast, _) = encode(&Bytes(v.clone())).expect("encodes");
        let (plain, _) = encode(&v).expect("encodes");
        prop_assert_eq!(&fast, &plain);
        prop_assert_eq!(decode::<Bytes>(&plain, Vec::new()).expect("decodes").0, v.clone());
        prop_assert_eq!(decode::<Vec<u8>>(&fast, Vec::new()).expect("decodes"), v);
    }

    /// Any value gives the same result through the fast path and the plain one.
    #[test]
    fn pod_and_plain_paths_give_the_same_values(
        f in proptest::collection::vec(any::<f64>(), 0..600),
        i in proptest::collection::vec(any::<i16>(), 0..600),
        p in proptest::collection::vec(point(), 0..50),
    ) {
        let (plain, _) = encode(&(f.clone(), i.clone())).expect("encodes");
        let (pf, pi): (Vec<f64>, Vec<i16>) = decode(&plain, Vec::new()).expect("decodes");
        let (fast, _) = encode(&(PodSlice(&f), PodVec(i.clone()))).expect("encodes");
        let (ff, fi): (PodVec<f64>, PodVec<i16>) = decode(&fast, Vec::new()).expect("decodes");
        prop_assert_eq!(bits(&ff), bits(&pf));
        prop_assert_eq!(bits(&ff), bits(&f));
        prop_assert_eq!(&*fi, &pi);
        // Borrowed and owned forms share a wire format.
        let (owned, _) = encode(&(PodVec(f.clone()), PodVec(i.clone()))).expect("encodes");
        prop_assert_eq!(&owned, &fast);
        // Records: through a `Connection` too.
        let (a, b) = Pipe::duplex().expect("socketpair");
        a.send(&PodSlice(&p)).expect("send");
        let got: PodVec<Point> = b.recv().expect("recv");
        prop_assert_eq!(bits(&got), bits(&p));
    }

    /// Arbitrary bytes decoded as a `PodVec` never panic: they are a whole number of
    /// elements (and then exactly those bits), or a decode error.
    #[test]
    fn arbitrary_bytes_as_pod(v in proptest::collection::vec(any::<u8>(), 0..200)) {
        let (wire, _) = encode(&Bytes(v.clone())).expect("encodes");
        match decode::<PodVec<Point>>(&wire, Vec::new()) {
            Ok(p) => {
                prop_assert_eq!(v.len() % std::mem::size_of::<Point>(), 0);
                prop_assert_eq!(bits(&p), v.clone());
            }
            Err(_) => prop_assert_ne!(v.len() % std::mem::size_of::<Point>(), 0),
        }
        let _ = decode::<PodVec<Point>>(&v, Vec::new());
    }
}
