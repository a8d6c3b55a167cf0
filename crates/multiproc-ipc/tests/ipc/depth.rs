//! The decode depth limit (#13 item 1): a frame holding a recursive value nested far
//! deeper than the limit is refused with `CodecError::TooDeep` instead of overflowing
//! the receiving thread's stack, and the connection stays usable.

use std::time::Duration;

use multiproc_ipc::{
    CodecError, Connection, DEFAULT_MAX_DEPTH, Pipe, RecvError, decode, decode_with_max_depth,
};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};

use crate::TestResult;

/// The simplest recursive type: one level (an enum) per `Node`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Nest {
    Leaf,
    Node(Box<Nest>),
}

/// A heavier recursive type: each `Node` is three levels (enum, struct variant, `Vec`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Tree {
    Leaf(u8),
    Node {
        id: u64,
        name: String,
        kids: Vec<Tree>,
    },
}

/// postcard bytes of `n` `Node`s around a `Leaf` (a value `n + 1` levels deep), built
/// directly so the sender never recurses.
fn nest_bytes(n: usize) -> Vec<u8> {
    let mut v = vec![1u8; n];
    v.push(0);
    v
}

fn nest(n: usize) -> Nest {
    let mut v = Nest::Leaf;
    for _ in 0..n {
        v = Nest::Node(Box::new(v));
    }
    v
}

/// postcard bytes of a chain of `n` `Tree::Node`s (`3 n + 1` levels deep).
fn tree_bytes(n: usize) -> Vec<u8> {
    let mut v = Vec::new();
    for _ in 0..n {
        // variant 1, id 0, name "", one kid
        v.extend([1u8, 0, 0, 1]);
    }
    v.extend([0u8, 7]);
    v
}

fn too_deep(r: Result<impl std::fmt::Debug, RecvError>, limit: usize) {
    match r {
        Err(RecvError::Decode(CodecError::TooDeep { limit: l })) if l == limit => {}
        other => panic!("expected TooDeep {{ limit: {limit} }}, got {other:?}"),
    }
}

/// Runs `f` on a thread with std's default stack for spawned threads (2 MiB), so a
/// decode that recursed as deep as the bytes say would overflow it (and abort).
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("decoding thread panicked")
}

#[test]
fn deeply_nested_frames_are_refused_and_the_connection_stays_usable() -> TestResult {
    on_small_stack(|| -> TestResult {
        let (a, b) = Pipe::duplex()?;
        for n in [10_000, 1_000_000] {
            let bytes = nest_bytes(n);
            a.send_bytes(&bytes)?;
            too_deep(b.recv::<Nest>(), DEFAULT_MAX_DEPTH);
            a.send_bytes(&bytes)?;
            too_deep(
                b.recv_timeout::<Nest>(Duration::from_secs(60)),
                DEFAULT_MAX_DEPTH,
            );
            a.send_bytes(&bytes)?;
            assert!(b.poll(Some(Duration::from_secs(60)))?);
            // The frame may still be arriving (1 MB): try until it is whole.
            let deadline = std::time::Instant::now() + Duration::from_secs(60);
            let r = loop {
                match b.try_recv::<Nest>() {
                    Err(RecvError::Timeout) if std::time::Instant::now() < deadline => {
                        std::thread::yield_now()
                    }
                    r => break r,
                }
            };
            too_deep(r, DEFAULT_MAX_DEPTH);
            // The frame was read whole: the stream is at the next frame.
            assert!(b.readable());
            a.send(&nest(3))?;
            assert_eq!(b.recv::<Nest>()?, nest(3));
            // The standalone decode refuses it too.
            assert!(matches!(
                decode::<Nest>(&bytes, Vec::new()),
                Err(CodecError::TooDeep { limit }) if limit == DEFAULT_MAX_DEPTH
            ));
        }
        // The heavier type, nested as deep as a million-byte frame allows.
        a.send_bytes(&tree_bytes(250_000))?;
        too_deep(b.recv::<Tree>(), DEFAULT_MAX_DEPTH);
        a.send(&7u32)?;
        assert_eq!(b.recv::<u32>()?, 7);
        Ok(())
    })
    .map_err(|e| e.to_string())?;
    Ok(())
}

#[test]
fn values_at_exactly_the_limit_pass() -> TestResult {
    on_small_stack(|| -> TestResult {
        let (a, b) = Pipe::duplex()?;
        // Default limit: `DEFAULT_MAX_DEPTH - 1` nodes around a leaf is exactly the limit.
        a.send_bytes(&nest_bytes(DEFAULT_MAX_DEPTH - 1))?;
        assert_eq!(b.recv::<Nest>()?, nest(DEFAULT_MAX_DEPTH - 1));
        a.send_bytes(&nest_bytes(DEFAULT_MAX_DEPTH))?;
        too_deep(b.recv::<Nest>(), DEFAULT_MAX_DEPTH);
        // The heavier type at the limit (3 levels a node, plus the leaf's enum).
        let nodes = (DEFAULT_MAX_DEPTH - 1) / 3;
        a.send_bytes(&tree_bytes(nodes))?;
        b.recv::<Tree>()?;
        // A limit set on the connection.
        b.set_max_depth(10);
        assert_eq!(b.max_depth(), 10);
        a.send_bytes(&nest_bytes(9))?;
        assert_eq!(b.recv::<Nest>()?, nest(9));
        a.send_bytes(&nest_bytes(10))?;
        too_deep(b.recv::<Nest>(), 10);
        // The standalone decode with a limit.
        assert_eq!(
            decode_with_max_depth::<Nest>(&nest_bytes(4), Vec::new(), 5)?,
            nest(4)
        );
        assert!(matches!(
            decode_with_max_depth::<Nest>(&nest_bytes(5), Vec::new(), 5),
            Err(CodecError::TooDeep { limit: 5 })
        ));
        // Flat values need no level: limit 0 still decodes a number.
        assert_eq!(decode_with_max_depth::<u32>(&[5], Vec::new(), 0)?, 5);
        Ok(())
    })
    .map_err(|e| e.to_string())?;
    Ok(())
}

#[test]
fn a_raised_limit_travels_with_a_sent_connection() -> TestResult {
    let (a, b) = Pipe::duplex()?;
    let (x, y) = Pipe::duplex()?;
    y.set_max_depth(3);
    a.send(&y)?;
    let y2: Connection = b.recv()?;
    assert_eq!(y2.max_depth(), 3);
    x.send_bytes(&nest_bytes(3))?;
    too_deep(y2.recv::<Nest>(), 3);
    Ok(())
}

fn tree() -> impl Strategy<Value = Tree> {
    any::<u8>()
        .prop_map(Tree::Leaf)
        .prop_recursive(12, 64, 4, |inner| {
            (
                any::<u64>(),
                ".{0,4}",
                proptest::collection::vec(inner, 0..4),
            )
                .prop_map(|(id, name, kids)| Tree::Node { id, name, kids })
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Values within the limit round-trip unchanged, over a connection and through
    /// the standalone decode.
    #[test]
    fn values_within_the_limit_round_trip(t in tree(), n in 0..DEFAULT_MAX_DEPTH - 1) {
        let (a, b) = Pipe::duplex().expect("pipe");
        a.send(&t).expect("send");
        prop_assert_eq!(b.recv::<Tree>().expect("recv"), t.clone());
        let v = nest(n);
        a.send(&v).expect("send");
        prop_assert_eq!(b.recv::<Nest>().expect("recv"), v.clone());
        let (bytes, fds) = multiproc_ipc::encode(&(t.clone(), v.clone())).expect("encode");
        prop_assert_eq!(decode::<(Tree, Nest)>(&bytes, fds).expect("decode"), (t, v));
    }
}
