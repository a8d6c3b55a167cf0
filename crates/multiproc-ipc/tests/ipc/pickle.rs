//! The data-only pickle codec (`multiproc_ipc::pickle`, `Connection::send_pickle` /
//! `recv_pickle`): round trips with the real CPython in both directions over a socket
//! pair handed to a `python3` child, hostile pickles refused with nothing executed,
//! bounds (depth, size, truncation), and properties (no panic on any input; Rust
//! values round-trip). The CPython tests are skipped, with a printed reason, only when
//! `python3` is absent.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use multiproc_ipc::pickle::{self, BigInt, Limits, PickleError, PickleRecvError, PickleValue};
use multiproc_ipc::{Connection, Pipe, RecvError, wait_indices};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};

use crate::{TempDir, TestResult};

/// The bound on every wait for the peer (generous: the machine is shared and loaded).
const LONG: Duration = Duration::from_secs(60);

fn have_python() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import multiprocessing.connection, pickle"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("SKIPPED: python3 is not available; pickle interop with CPython not tested");
    }
    ok
}

/// A `python3` child running `script`, with our socket pair's other end as its fd 0
/// (`Connection(0)` in the script). Killed and reaped on drop.
struct Py {
    child: Option<Child>,
    pidfd: OwnedFd,
    conn: Connection,
}

impl Py {
    fn spawn(script: &str, args: &[&str]) -> Result<Py, Box<dyn std::error::Error + Send + Sync>> {
        let (ours, theirs) = Pipe::duplex()?;
        let mut child = Command::new("python3")
            .arg("-c")
            .arg(script)
            .args(args)
            .stdin(Stdio::from(theirs.into_fd()))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()?;
        let pid = rustix::process::Pid::from_child(&child);
        match rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()) {
            Ok(pidfd) => Ok(Py {
                child: Some(child),
                pidfd,
                conn: ours,
            }),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(e.into())
            }
        }
    }

    /// Waits (bounded) for the script to end and requires a clean exit.
    fn join(mut self) -> TestResult {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        if wait_indices(&[&self.pidfd], Some(LONG))?.is_empty() {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("python3 did not exit within {LONG:?}").into());
        }
        let status = child.wait()?;
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            e.read_to_string(&mut err)?;
        }
        if !status.success() {
            return Err(format!("python3 failed: {status}: {err}").into());
        }
        Ok(())
    }
}

impl Py {
    /// Runs `body` with the connection, then joins; on failure, adds what the script
    /// wrote to stderr (after killing it, if it still runs).
    fn run(mut self, body: impl FnOnce(&Connection) -> TestResult) -> TestResult {
        match body(&self.conn) {
            Ok(()) => self.join(),
            Err(e) => {
                let mut err = String::new();
                if let Some(mut child) = self.child.take() {
                    let _ = child.kill();
                    let _ = child.wait();
                    if let Some(mut s) = child.stderr.take() {
                        let _ = s.read_to_string(&mut err);
                    }
                }
                Err(format!("{e}; python3 said: {err}").into())
            }
        }
    }
}

impl Drop for Py {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

// ------------------------------------------------------------ CPython -> Rust -> CPython

/// Every kind the codec reads; shared references and nesting included.
const PY_CASES: &str = r#"
import functools
shared = [1, 'two']
CASES = [
    None, True, False,
    0, 1, -1, 255, 256, 65535, 65536, -2**31, 2**31 - 1, 2**31, -2**31 - 1,
    2**63 - 1, 2**63, 2**64 - 1, 2**64, -2**63 - 1, 2**127 - 1, -2**127, 2**127,
    2**128 - 1, 2**128, -2**128, 2**200 + 12345, -3**150, 10**400,
    0.0, -0.0, 1.5, -2.25, 1e300, 5e-324, float('inf'), float('-inf'),
    '', 'a', 'hello world', 'h\u00e9llo \u2713 \U0001d11e \u4e2d\u6587', 'x' * 300, 'y' * 70000,
    "it's", 'say "hi"', 'both \' and "', 'back\\slash', 'tab\there\nnew\x00\x7f\x85',
    b"it's", b'say "hi"', b'both \' and "', b'\\\t\n\r',
    b'', b'\x00\xff\x01', bytes(range(256)) * 3, b'z' * 70000,
    [], [1, [2, [3, [4]]]], list(range(2000)),
    (), (1,), (1, 2), (1, 2, 3), tuple(range(10)), ((1,), ((2,),)),
    {}, {'a': 1, 2: 'b', (1, 2): [3], None: {}, b'k': 1.5, -2**70: True},
    set(), {1, 2, 3}, {'s', (1, 2)}, frozenset(), frozenset({'a', 5}), {frozenset({1})},
    {'nested': [{'x': (1, {2}, frozenset({3}))}], 'list': [[], [[]], ()]},
    [shared, shared, {'again': shared}],
    functools.reduce(lambda v, _: [v], range(60), 1),
]
"#;

/// CPython sends each case with `conn.send(obj)` and its `repr`; Rust decodes the
/// value, checks its `Display` against the repr, and sends it back with
/// `send_pickle`; CPython checks it got an equal value of the same repr (same kinds).
#[test]
fn cpython_values_round_trip_through_rust() -> TestResult {
    if !have_python() {
        return Ok(());
    }
    let script = format!(
        r#"
import sys
from multiprocessing.connection import Connection
c = Connection(0)
{PY_CASES}
def canon(x):
    # types and values, with sets in a fixed order (their repr follows the hash seed)
    if isinstance(x, (set, frozenset)):
        return (type(x).__name__, sorted(canon(e) for e in x))
    if isinstance(x, (list, tuple)):
        return (type(x).__name__, [canon(e) for e in x])
    if isinstance(x, dict):
        return ('dict', [(canon(k), canon(v)) for k, v in x.items()])
    return (type(x).__name__, repr(x))
c.send(len(CASES))
for obj in CASES:
    c.send(obj)
    c.send_bytes(repr(obj).encode())
    back = c.recv()
    if not (back == obj and canon(back) == canon(obj)):
        sys.exit('mismatch: sent %r got back %r' % (obj, back))
c.send('done')
"#
    );
    Py::spawn(&script, &[])?.run(|conn| {
        let n: usize = conn.recv_pickle_timeout(LONG)?;
        assert!(n > 60, "{n} cases");
        let mut kinds = std::collections::HashSet::new();
        for i in 0..n {
            let v: PickleValue = conn.recv_pickle_timeout(LONG)?;
            let repr = String::from_utf8(conn.recv_bytes_timeout(LONG)?)?;
            assert_eq!(v.to_string(), repr, "case {i}");
            kinds.insert(std::mem::discriminant(&v));
            conn.send_pickle(&v)?;
        }
        // every kind of PickleValue came through
        assert_eq!(kinds.len(), 12);
        let done: String = conn.recv_pickle_timeout(LONG)?;
        assert_eq!(done, "done");
        Ok(())
    })
}

#[derive(Debug, PartialEq, Deserialize)]
struct FromPy {
    name: String,
    ids: Vec<u32>,
    weights: HashMap<String, f64>,
    maybe: Option<i64>,
    nothing: Option<i64>,
    raw: Vec<u8>,
    point: (i32, i32),
    tags: BTreeSet<String>,
    frozen: BTreeSet<i16>,
}

/// CPython's values into typed Rust values: structs from dicts, big ints into
/// i128/u128, bytes into `Vec<u8>`, sets into `BTreeSet`; beyond 128 bits a typed error.
#[test]
fn cpython_values_into_rust_types() -> TestResult {
    if !have_python() {
        return Ok(());
    }
    let script = r#"
from multiprocessing.connection import Connection
c = Connection(0)
c.send({'name': 'caf\u00e9', 'ids': [1, 2, 3], 'weights': {'a': 0.5, 'b': 2.0},
        'maybe': -7, 'nothing': None, 'raw': b'\x00\x01\xff', 'point': (3, -4),
        'tags': {'x', 'y'}, 'frozen': frozenset({-1, 300})})
c.send((2**127 - 1, -2**127, 2**128 - 1, 2**64))
c.send(2**128)
c.send([1, 2, 'three'])
c.send('still usable')
"#;
    Py::spawn(script, &[])?.run(|conn| {
        let v: FromPy = conn.recv_pickle_timeout(LONG)?;
        assert_eq!(
            v,
            FromPy {
                name: "café".into(),
                ids: vec![1, 2, 3],
                weights: [("a".to_string(), 0.5), ("b".to_string(), 2.0)].into(),
                maybe: Some(-7),
                nothing: None,
                raw: vec![0, 1, 255],
                point: (3, -4),
                tags: ["x".to_string(), "y".to_string()].into(),
                frozen: [-1, 300].into(),
            }
        );
        let big: (i128, i128, u128, u128) = conn.recv_pickle_timeout(LONG)?;
        assert_eq!(big, (i128::MAX, i128::MIN, u128::MAX, 1u128 << 64));
        let r = conn.recv_pickle_timeout::<u128>(LONG);
        assert!(
            matches!(
                r,
                Err(PickleRecvError::Pickle(PickleError::IntegerTooLarge))
            ),
            "{r:?}"
        );
        let r = conn.recv_pickle_timeout::<Vec<u32>>(LONG);
        assert!(
            matches!(r, Err(PickleRecvError::Pickle(PickleError::Custom(_)))),
            "{r:?}"
        );
        let s: String = conn.recv_pickle_timeout(LONG)?;
        assert_eq!(s, "still usable");
        Ok(())
    })
}

#[derive(Serialize)]
enum Shape {
    Dot,
    Circle(f64),
    Rect { w: u8, h: u8 },
}

#[derive(Serialize)]
struct ToPy {
    id: u32,
    name: &'static str,
    weights: Vec<f64>,
    tags: BTreeMap<&'static str, Option<i64>>,
    big: u128,
    neg: i128,
    pair: (bool, char),
    unit: (),
    shapes: Vec<Shape>,
    value: PickleValue,
}

/// Typed Rust values read by CPython's `recv()`, with the kinds CPython expects.
#[test]
fn rust_values_read_by_cpython() -> TestResult {
    if !have_python() {
        return Ok(());
    }
    let script = r#"
from multiprocessing.connection import Connection
c = Connection(0)
got = c.recv()
want = {'id': 7, 'name': '\u00fcn\u00ef', 'weights': [0.5, -2.0], 'tags': {'a': 1, 'b': None},
        'big': 2**128 - 1, 'neg': -2**127, 'pair': (True, 'x'), 'unit': None,
        'shapes': ['Dot', {'Circle': 1.5}, {'Rect': {'w': 2, 'h': 3}}],
        'value': (b'\x00raw', {1, 2}, frozenset({'f'}), 2**200, [None])}
assert got == want, got
assert type(got['pair']) is tuple and type(got['value'][1]) is set, got
assert type(got['value'][2]) is frozenset and type(got['value'][0]) is bytes, got
c.send('ok')
"#;
    Py::spawn(script, &[])?.run(|conn| {
        let mut two200 = vec![0u8; 26];
        two200[25] = 1;
        let value = PickleValue::Tuple(vec![
            PickleValue::Bytes(b"\x00raw".to_vec()),
            PickleValue::Set(vec![PickleValue::Int(1), PickleValue::Int(2)]),
            PickleValue::FrozenSet(vec![PickleValue::Str("f".into())]),
            PickleValue::BigInt(BigInt::from_le_bytes(&two200).ok_or("bigint")?),
            PickleValue::List(vec![PickleValue::None]),
        ]);
        conn.send_pickle(&ToPy {
            id: 7,
            name: "ünï",
            weights: vec![0.5, -2.0],
            tags: [("a", Some(1)), ("b", None)].into(),
            big: u128::MAX,
            neg: i128::MIN,
            pair: (true, 'x'),
            unit: (),
            shapes: vec![Shape::Dot, Shape::Circle(1.5), Shape::Rect { w: 2, h: 3 }],
            value,
        })?;
        let ok: String = conn.recv_pickle_timeout(LONG)?;
        assert_eq!(ok, "ok");
        Ok(())
    })
}

// ------------------------------------------------------------ hostile pickles

/// Hand-written pickles, one per opcode that imports or calls.
fn hostile(marker: &Path) -> Vec<(&'static str, Vec<u8>)> {
    let m = marker.display().to_string();
    let touch = format!("touch {m}");
    let mut stack_global = b"\x80\x04\x8c\x02os\x8c\x06system\x93\x8c".to_vec();
    stack_global.push(touch.len() as u8);
    stack_global.extend_from_slice(touch.as_bytes());
    stack_global.extend_from_slice(b"\x85R.");
    let mut inst = b"(\x8c".to_vec();
    inst.push(touch.len() as u8);
    inst.extend_from_slice(touch.as_bytes());
    inst.extend_from_slice(b"ios\nsystem\n.");
    vec![
        // the classic: os.system('touch …') with protocol 0
        (
            "GLOBAL",
            format!("cos\nsystem\n(S'{touch}'\ntR.").into_bytes(),
        ),
        ("STACK_GLOBAL", stack_global),
        ("REDUCE", b"\x80\x02N)R.".to_vec()),
        ("BUILD", b"\x80\x02}}b.".to_vec()),
        ("INST", inst),
        ("OBJ", b"(N\x8c\x01xo.".to_vec()),
        ("NEWOBJ", b"\x80\x02N)\x81.".to_vec()),
        ("NEWOBJ_EX", b"\x80\x04N)}\x92.".to_vec()),
        ("EXT1", b"\x80\x02\x82\x01.".to_vec()),
        ("EXT2", b"\x80\x02\x83\x01\x00.".to_vec()),
        ("EXT4", b"\x80\x02\x84\x01\x00\x00\x00.".to_vec()),
        ("PERSID", b"Pfoo\n.".to_vec()),
        ("BINPERSID", b"\x80\x02\x8c\x01xQ.".to_vec()),
        // a forbidden opcode after harmless data is still refused before anything is built
        ("REDUCE", b"\x80\x04]\x94(K\x01K\x02eN)R.".to_vec()),
    ]
}

#[test]
fn hostile_pickles_are_refused_with_the_opcode() -> TestResult {
    let dir = TempDir::new("pickle-evil")?;
    let marker = dir.0.join("pwned");
    for (name, p) in hostile(&marker) {
        let r = pickle::from_slice::<PickleValue>(&p);
        match r {
            Err(PickleError::Forbidden { name: n, .. }) => assert_eq!(n, name, "{p:?}"),
            other => panic!("{name}: expected a refusal, got {other:?}"),
        }
        assert!(!marker.exists(), "{name}: the payload ran");
    }
    Ok(())
}

/// The classic `os.system` payload and pickles of real objects (a class instance at
/// protocols 0, 2 and 5, a `bytearray`, a `datetime`, a protocol-2 `set`) sent by
/// CPython: all refused with `Forbidden`, nothing executed, the connection usable
/// afterwards. The same payload given to CPython's own `pickle.loads` does run (it
/// creates a second marker), so the payload is live.
#[test]
fn cpython_hostile_frames_refused_nothing_executed() -> TestResult {
    if !have_python() {
        return Ok(());
    }
    let dir = TempDir::new("pickle-evil-py")?;
    let marker = dir.0.join("pwned");
    let control = dir.0.join("control");
    let script = r#"
import os, sys, pickle, datetime
from multiprocessing.connection import Connection
marker, control = sys.argv[1], sys.argv[2]
class Evil:
    def __init__(self, path):
        self.path = path
    def __reduce__(self):
        return (os.system, ('touch ' + self.path,))
class Plain:
    def __init__(self):
        self.x = 1
c = Connection(0)
frames = [
    b"cos\nsystem\n(S'touch " + marker.encode() + b"'\ntR.",
    pickle.dumps(Evil(marker), protocol=0),
    pickle.dumps(Evil(marker), protocol=2),
    pickle.dumps(Evil(marker), protocol=5),
    pickle.dumps(Plain(), protocol=2),
    pickle.dumps(Plain(), protocol=5),
    pickle.dumps(bytearray(b'ab'), protocol=4),
    pickle.dumps(datetime.datetime(2020, 1, 2)),
    pickle.dumps({1, 2}, protocol=2),
]
c.send(len(frames))
for f in frames:
    c.send_bytes(f)
c.send(Evil(marker))
c.send('after')
assert c.recv() == 'checked'
pickle.loads(b"cos\nsystem\n(S'touch " + control.encode() + b"'\ntR.")
c.send('control done')
"#;
    Py::spawn(
        script,
        &[
            &marker.display().to_string(),
            &control.display().to_string(),
        ],
    )?
    .run(|conn| {
        let n: usize = conn.recv_pickle_timeout(LONG)?;
        assert_eq!(n, 9);
        for i in 0..=n {
            let r = conn.recv_pickle_timeout::<PickleValue>(LONG);
            assert!(
                matches!(
                    r,
                    Err(PickleRecvError::Pickle(PickleError::Forbidden { .. }))
                ),
                "frame {i}: {r:?}"
            );
        }
        let after: String = conn.recv_pickle_timeout(LONG)?;
        assert_eq!(after, "after");
        assert!(!marker.exists(), "a hostile pickle ran");
        conn.send_pickle("checked")?;
        let done: String = conn.recv_pickle_timeout(LONG)?;
        assert_eq!(done, "control done");
        assert!(
            control.exists(),
            "the payload is live under CPython's pickle.loads"
        );
        assert!(!marker.exists());
        Ok(())
    })
}

#[test]
fn unsupported_and_unknown_opcodes_are_refused() {
    for (p, name) in [
        (&b"I1\n."[..], "INT"),
        (b"L1L\n.", "LONG"),
        (b"F1.5\n.", "FLOAT"),
        (b"S'a'\n.", "STRING"),
        (b"U\x01a.", "SHORT_BINSTRING"),
        (b"T\x01\x00\x00\x00a.", "BINSTRING"),
        (b"Vabc\n.", "UNICODE"),
        (b"\x80\x05\x97.", "NEXT_BUFFER"),
        (b"\x80\x05]\x98.", "READONLY_BUFFER"),
    ] {
        let r = pickle::from_slice::<PickleValue>(p);
        assert!(
            matches!(r, Err(PickleError::Unsupported { name: n, .. }) if n == name),
            "{name}: {r:?}"
        );
    }
    let r = pickle::from_slice::<PickleValue>(b"\x80\x04\xff.");
    assert!(
        matches!(
            r,
            Err(PickleError::UnknownOpcode {
                opcode: 0xff,
                offset: 2
            })
        ),
        "{r:?}"
    );
    let r = pickle::from_slice::<PickleValue>(b"\x80\x06N.");
    assert!(matches!(r, Err(PickleError::Protocol(6))), "{r:?}");
}

// ------------------------------------------------------------ bounds

/// Lists nested `depth` deep, as opcodes (no recursion to build it).
fn nested_lists(depth: usize) -> Vec<u8> {
    let mut p = b"\x80\x04".to_vec();
    p.extend(std::iter::repeat_n(b']', depth));
    p.extend(std::iter::repeat_n(b'a', depth - 1));
    p.push(b'.');
    p
}

#[test]
fn deep_nesting_is_refused_without_overflow() -> TestResult {
    let ok: PickleValue = pickle::from_slice(&nested_lists(128))?;
    drop(ok);
    for depth in [129, 10_000, 1_000_000] {
        let r = pickle::from_slice::<PickleValue>(&nested_lists(depth));
        assert!(
            matches!(r, Err(PickleError::TooDeep { limit: 128 })),
            "{r:?}"
        );
    }
    let tight = Limits::default().with_max_depth(4);
    let r = pickle::from_slice_with::<PickleValue>(&nested_lists(5), &tight);
    assert!(matches!(r, Err(PickleError::TooDeep { limit: 4 })), "{r:?}");
    assert!(pickle::from_slice_with::<PickleValue>(&nested_lists(4), &tight).is_ok());
    Ok(())
}

/// CPython (which pickles deep lists happily) sends one nested 200 deep: refused,
/// and the next frame is read.
#[test]
fn cpython_deep_nesting_refused() -> TestResult {
    if !have_python() {
        return Ok(());
    }
    let script = r#"
from multiprocessing.connection import Connection
c = Connection(0)
v = 1
for _ in range(200):
    v = [v]
c.send(v)
c.send('next')
"#;
    Py::spawn(script, &[])?.run(|conn| {
        let r = conn.recv_pickle_timeout::<PickleValue>(LONG);
        assert!(
            matches!(
                r,
                Err(PickleRecvError::Pickle(PickleError::TooDeep { limit: 128 }))
            ),
            "{r:?}"
        );
        let s: String = conn.recv_pickle_timeout(LONG)?;
        assert_eq!(s, "next");
        Ok(())
    })
}

/// A value built by hand a million deep: drop, clone, equality and display do not
/// recurse; encoding refuses it.
#[test]
fn deep_values_do_not_recurse() {
    let mut v = PickleValue::Int(1);
    for i in 0..1_000_000 {
        v = if i % 2 == 0 {
            PickleValue::List(vec![v])
        } else {
            PickleValue::Dict(vec![(PickleValue::None, v)])
        };
    }
    let c = v.clone();
    assert!(c == v);
    let shown = v.to_string();
    assert!(shown.starts_with("{None: [{None: ["), "{}", &shown[..40]);
    assert!(matches!(
        pickle::to_vec(&v),
        Err(PickleError::TooDeep { limit: 128 })
    ));
    drop(c);
    drop(v);
}

#[test]
fn truncated_pickles_are_refused() -> TestResult {
    let v = PickleValue::Dict(vec![(
        PickleValue::Str("k".into()),
        PickleValue::List(vec![
            PickleValue::Bytes(vec![7; 300]),
            PickleValue::Int(1 << 100),
            PickleValue::Float(0.5),
        ]),
    )]);
    let p = pickle::to_vec(&v)?;
    assert_eq!(pickle::from_slice::<PickleValue>(&p)?, v);
    for cut in 0..p.len() {
        let r = pickle::from_slice::<PickleValue>(&p[..cut]);
        assert!(
            matches!(r, Err(PickleError::Truncated { .. })),
            "cut at {cut}: {r:?}"
        );
    }
    let mut longer = p.clone();
    longer.push(b'N');
    assert!(matches!(
        pickle::from_slice::<PickleValue>(&longer),
        Err(PickleError::TrailingBytes { count: 1 })
    ));
    Ok(())
}

/// Lengths far beyond the input are refused before anything is allocated.
#[test]
fn oversized_lengths_are_refused() {
    let cases: [&[u8]; 6] = [
        b"\x80\x04\x8e\xff\xff\xff\xff\xff\xff\xff\x7fabc.", // BINBYTES8 2^63
        b"\x80\x04\x8d\xff\xff\xff\xff\xff\xff\xff\xffabc.", // BINUNICODE8 2^64-1
        b"\x80\x04\x96\x00\x00\x00\x00\x01\x00\x00\x00abc.", // BYTEARRAY8 2^32
        b"\x80\x04B\xff\xff\xff\xffabc.",                    // BINBYTES 4 GiB
        b"\x80\x04\x95\xff\xff\xff\xff\x00\x00\x00\x00N.",   // FRAME longer than the input
        b"\x80\x04\x8b\x00\x00\x00\x7f\x01.",                // LONG4 2 GiB
    ];
    for p in cases {
        let r = pickle::from_slice::<PickleValue>(p);
        assert!(
            matches!(r, Err(PickleError::Truncated { offset: 2 })),
            "{p:?}: {r:?}"
        );
    }
    let r = pickle::from_slice::<PickleValue>(b"\x80\x04\x8b\x00\x00\x00\xff.");
    assert!(matches!(r, Err(PickleError::Malformed { .. })), "{r:?}");
}

/// "Billion laughs" through the memo: each tuple refers twice to the one before;
/// the tree would have 2^64 leaves. Refused by the size bound, quickly.
#[test]
fn shared_references_are_bounded() {
    let mut p = b"\x80\x04]\x94".to_vec();
    for i in 0u8..64 {
        p.extend_from_slice(&[b'0', b'h', i, b'h', i, 0x86, 0x94]);
    }
    p.push(b'.');
    let small = Limits::default().with_max_size(1 << 20);
    let r = pickle::from_slice_with::<PickleValue>(&p, &small);
    assert!(
        matches!(r, Err(PickleError::TooLarge { limit }) if limit == 1 << 20),
        "{r:?}"
    );
    // a few levels are fine, and the copies are equal
    let mut q = b"\x80\x04]\x94".to_vec();
    for i in 0u8..3 {
        q.extend_from_slice(&[b'0', b'h', i, b'h', i, 0x86, 0x94]);
    }
    q.push(b'.');
    let v: PickleValue = pickle::from_slice(&q).expect("small sharing decodes");
    assert_eq!(
        v.to_string(),
        "((([], []), ([], [])), (([], []), ([], [])))"
    );
}

/// The machine's own memory counts against the bound too: a million `None`s in a
/// list, a million `DUP`s, a million memo entries of one object.
#[test]
fn machine_memory_is_bounded() -> TestResult {
    let small = Limits::default().with_max_size(1 << 20);
    let n = 1_000_000;
    let mut nones = b"\x80\x04](".to_vec();
    nones.extend(std::iter::repeat_n(b'N', n));
    nones.extend_from_slice(b"e.");
    let mut dups = b"\x80\x04](N".to_vec();
    dups.extend(std::iter::repeat_n(b'2', n));
    dups.extend_from_slice(b"e.");
    let mut memos = b"\x80\x04N".to_vec();
    memos.extend(std::iter::repeat_n(0x94, n));
    memos.push(b'.');
    for p in [&nones, &dups, &memos] {
        let r = pickle::from_slice_with::<PickleValue>(p, &small);
        assert!(matches!(r, Err(PickleError::TooLarge { .. })), "{r:?}");
    }
    // within the default bound they decode
    let v: PickleValue = pickle::from_slice(&nones)?;
    assert!(matches!(&v, PickleValue::List(items) if items.len() == n));
    let v: PickleValue = pickle::from_slice(&memos)?;
    assert_eq!(v, PickleValue::None);
    Ok(())
}

#[test]
fn self_reference_and_malformed_stacks_are_refused() {
    // l = []; l.append(l)
    let r = pickle::from_slice::<PickleValue>(b"\x80\x04]\x94h\x00a.");
    assert!(matches!(r, Err(PickleError::Recursive)), "{r:?}");
    for p in [
        &b"\x80\x04a."[..],           // append on an empty stack
        b"\x80\x04K\x01K\x02.",       // two values at stop
        b"\x80\x04(.",                // mark at stop
        b"\x80\x04K\x01K\x02a.",      // append to an int
        b"\x80\x04h\x05.",            // memo entry missing
        b"\x80\x04)K\x01a.",          // append to a tuple
        b"\x80\x04(K\x01d.",          // odd dict
        b"\x80\x04K\x01(\x85.",       // tuple1 below a mark
        b"\x80\x04\x8c\x02\xff\xfe.", // invalid utf-8
    ] {
        let r = pickle::from_slice::<PickleValue>(p);
        assert!(r.is_err(), "{p:?} decoded: {r:?}");
    }
}

#[test]
fn refused_frames_leave_the_connection_usable() -> TestResult {
    let (a, b) = Pipe::duplex()?;
    a.send_bytes(b"cos\nsystem\n(S'true'\ntR.")?;
    a.send_pickle(&(1u8, "two"))?;
    let r = b.recv_pickle::<PickleValue>();
    assert!(matches!(
        r,
        Err(PickleRecvError::Pickle(PickleError::Forbidden { .. }))
    ));
    let t: (u8, String) = b.recv_pickle()?;
    assert_eq!(t, (1, "two".into()));
    let r = b.try_recv_pickle::<PickleValue>();
    assert!(
        matches!(r, Err(PickleRecvError::Recv(RecvError::Timeout))),
        "{r:?}"
    );
    drop(a);
    let r = b.recv_pickle_timeout::<PickleValue>(LONG);
    assert!(
        matches!(r, Err(PickleRecvError::Recv(RecvError::Eof))),
        "{r:?}"
    );
    Ok(())
}

#[test]
fn rust_types_round_trip() -> TestResult {
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    enum E {
        A,
        B(i8),
        C(u8, String),
        D { x: Option<u64> },
    }
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct S {
        e: Vec<E>,
        m: BTreeMap<i32, (bool, f32)>,
        c: char,
        u: (),
        big: (u128, i128),
        nested: Vec<Vec<Option<String>>>,
    }
    let s = S {
        e: vec![
            E::A,
            E::B(-3),
            E::C(9, "c".into()),
            E::D { x: Some(u64::MAX) },
        ],
        m: [(-1, (true, 0.25)), (70000, (false, -1.0))].into(),
        c: '𝄞',
        u: (),
        big: (u128::MAX, i128::MIN),
        nested: vec![vec![], vec![None, Some(String::new())]],
    };
    let back: S = pickle::from_slice(&pickle::to_vec(&s)?)?;
    assert_eq!(back, s);
    // a NaN survives (as a NaN)
    let nan: f64 = pickle::from_slice(&pickle::to_vec(&f64::NAN)?)?;
    assert!(nan.is_nan());
    Ok(())
}

// ------------------------------------------------------------ properties

/// The tuple of `typed_values_round_trip`.
type Typed = (i64, u128, String, Vec<(bool, i32)>);

fn arb_value() -> impl Strategy<Value = PickleValue> {
    let leaf = prop_oneof![
        Just(PickleValue::None),
        any::<bool>().prop_map(PickleValue::Bool),
        any::<i128>().prop_map(PickleValue::Int),
        proptest::collection::vec(any::<u8>(), 17..40)
            .prop_filter_map("needs more than 128 bits", |b| {
                BigInt::from_le_bytes(&b).filter(|b| b.to_i128().is_none())
            })
            .prop_map(PickleValue::BigInt),
        any::<f64>()
            .prop_filter("NaN is not equal to itself", |x| !x.is_nan())
            .prop_map(PickleValue::Float),
        ".{0,40}".prop_map(PickleValue::Str),
        proptest::collection::vec(any::<u8>(), 0..300).prop_map(PickleValue::Bytes),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(PickleValue::List),
            proptest::collection::vec(inner.clone(), 0..8).prop_map(PickleValue::Tuple),
            proptest::collection::vec(inner.clone(), 0..8).prop_map(PickleValue::Set),
            proptest::collection::vec(inner.clone(), 0..8).prop_map(PickleValue::FrozenSet),
            proptest::collection::vec((inner.clone(), inner), 0..8).prop_map(PickleValue::Dict),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = pickle::from_slice::<PickleValue>(&bytes);
        let mut p = vec![0x80, 4];
        p.extend_from_slice(&bytes);
        let _ = pickle::from_slice::<PickleValue>(&p);
    }

    #[test]
    fn mutated_pickles_never_panic(
        v in arb_value(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let mut p = pickle::to_vec(&v).expect("encodes");
        for (i, b) in edits {
            let at = i.index(p.len());
            p[at] = b;
        }
        let _ = pickle::from_slice::<PickleValue>(&p);
    }

    #[test]
    fn values_round_trip(v in arb_value()) {
        let p = pickle::to_vec(&v).expect("encodes");
        let back: PickleValue = pickle::from_slice(&p).expect("decodes");
        prop_assert_eq!(&back, &v);
        prop_assert_eq!(back.to_string(), v.to_string());
    }

    #[test]
    fn typed_values_round_trip(
        t in (any::<i64>(), any::<u128>(), ".{0,20}", proptest::collection::vec((any::<bool>(), any::<i32>()), 0..10)),
        m in proptest::collection::btree_map(".{0,8}", proptest::option::of(any::<i16>()), 0..10),
    ) {
        let p = pickle::to_vec(&(&t, &m)).expect("encodes");
        let back: (Typed, BTreeMap<String, Option<i16>>) =
            pickle::from_slice(&p).expect("decodes");
        prop_assert_eq!(back, (t, m));
    }
}

// ------------------------------------------------------------ CPython BaseManager

/// What a multiproc manager would need to give a CPython `BaseManager` client a
/// readable refusal instead of `UnpicklingError: invalid load key '\x00'`: after the
/// (compatible) authkey handshake, the client's first frame is the data-only pickle
/// `(None, 'dummy', (), {})`; answering it with the pickle `('#TRACEBACK', message)`
/// makes CPython raise `RemoteError(message)` from `connect()`.
#[test]
fn cpython_base_manager_client_reads_a_pickled_refusal() -> TestResult {
    if !have_python() {
        return Ok(());
    }
    const REFUSAL: &str =
        "this is a multiproc manager: CPython BaseManager clients are not supported";
    let dir = TempDir::new("pickle-mgr")?;
    let addr = dir.sock("m");
    let listener = multiproc_ipc::Listener::bind(addr, Some(b"mgr-key"))?;
    let path = dir.0.join("m").display().to_string();
    let script = r#"
import sys
from multiprocessing.connection import Connection
from multiprocessing.managers import BaseManager, RemoteError
class M(BaseManager):
    pass
out = Connection(0)
m = M(address=sys.argv[1], authkey=b'mgr-key')
try:
    m.connect()
    out.send('connected?!')
except RemoteError as e:
    out.send(str(e))
"#;
    Py::spawn(script, &[&path])?.run(|out| {
        let conn = listener.accept_timeout(LONG)?;
        let req: PickleValue = conn.recv_pickle_timeout(LONG)?;
        assert_eq!(req.to_string(), "(None, 'dummy', (), {})");
        conn.send_pickle(&("#TRACEBACK", REFUSAL))?;
        let seen: String = out.recv_pickle_timeout(LONG)?;
        assert!(seen.contains(REFUSAL), "{seen}");
        Ok(())
    })
}
