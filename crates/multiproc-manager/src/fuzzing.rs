//! Hidden entry points for the fuzz targets and the tests that send raw frames: not
//! part of the API, no stability promised.

use std::io::Read as _;

use crate::error::RemoteError;
use crate::protocol::{
    AnyOp, Create, DictOp, ListOp, LockOp, NamespaceOp, Op, QueueOp, Request, Response, SERVER,
    ServerOp, ValueOp,
};
use crate::server::Server;
use crate::value::Value;

/// The largest frame [`feed`] takes from its input.
pub const FEED_FRAME_LIMIT: u64 = 1 << 20;

/// Splits `data` into frames (the wire's length-prefixed framing) and runs them as the
/// requests of one client of `server`, its replies read and discarded by a thread of
/// their own; the client then disconnects. Stops at the first bytes that are not a
/// whole frame.
pub fn feed(server: &Server, data: &[u8]) {
    let mut frames = Vec::new();
    let mut rest = data;
    while let Ok(Some((payload, tail))) = multiproc_ipc::frame::split_frame(rest, FEED_FRAME_LIMIT)
    {
        frames.push(payload);
        if tail.len() == rest.len() {
            break;
        }
        rest = tail;
    }
    let Ok((ours, theirs)) = multiproc_ipc::Pipe::duplex() else {
        return;
    };
    let mut sink = std::os::unix::net::UnixStream::from(theirs.into_fd());
    let drain = std::thread::spawn(move || {
        let mut buf = vec![0u8; 1 << 16];
        while matches!(sink.read(&mut buf), Ok(n) if n > 0) {}
    });
    server.feed(&frames, ours);
    let _ = drain.join();
}

/// One frame (header included) holding `payload`.
pub fn frame(payload: &[u8]) -> Vec<u8> {
    let mut header = [0u8; multiproc_ipc::frame::MAX_HEADER];
    let n = multiproc_ipc::frame::encode_header(payload.len() as u64, &mut header);
    let mut out = header[..n].to_vec();
    out.extend_from_slice(payload);
    out
}

fn encode(req: &Request) -> Vec<u8> {
    multiproc_ipc::encode(req)
        .map(|(b, _)| b)
        .unwrap_or_default()
}

/// The payload of request `id`: `__getitem__` on object `obj` with a key that is a
/// list nested `depth` levels deep (`[[…[None]…]]`), written without building it.
pub fn nested_request(id: u64, obj: u64, depth: usize) -> Vec<u8> {
    let mut out = encode(&Request {
        id,
        obj,
        thread: 1,
        op: Op::Dict(DictOp::GetItem(Value::None)),
    });
    // the key, `None`, is the last byte (variant 0); put the nesting in its place
    out.pop();
    for _ in 1..depth {
        out.extend_from_slice(&[6, 1]); // Value::List, one item
    }
    out.push(0);
    out
}

/// The payload of a `ping` request with call id `id`.
pub fn ping_request(id: u64) -> Vec<u8> {
    encode(&Request {
        id,
        obj: SERVER,
        thread: 1,
        op: Op::Server(ServerOp::Ping),
    })
}

/// Decodes a reply payload into (call id, result).
pub fn decode_reply(payload: &[u8]) -> Option<(u64, Result<Value, RemoteError>)> {
    let r: Response = multiproc_ipc::decode(payload, Vec::new()).ok()?;
    Some((r.id, r.result))
}

/// Seed inputs for the `manager_request` fuzz target, by name: each a sequence of
/// frames for [`feed`] on a fresh server (whose first object gets id 1).
pub fn seed_corpus() -> Vec<(&'static str, Vec<u8>)> {
    let mut seeds = limit_seeds();
    seeds.extend(container_seeds());
    seeds.extend(sync_seeds());
    seeds
}

/// One request frame from thread 1.
fn seed_req(id: u64, obj: u64, op: Op) -> Vec<u8> {
    frame(&encode(&Request {
        id,
        obj,
        thread: 1,
        op,
    }))
}

/// The request creating an object (the first gets id 1).
fn seed_create(c: Create) -> Vec<u8> {
    seed_req(1, SERVER, Op::Server(ServerOp::Create(c)))
}

/// Seeds at the limits: deep nesting and huge repeat counts.
fn limit_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let req = seed_req;
    let cat = |parts: Vec<Vec<u8>>| parts.concat();
    let list = || seed_create(Create::List(vec![Value::from(1), Value::from("x")]));
    vec![
        ("ping", req(1, SERVER, Op::Server(ServerOp::Ping))),
        ("deep_get_10000", frame(&nested_request(2, 1, 10_000))),
        (
            "list_then_deep_get",
            cat(vec![list(), frame(&nested_request(2, 1, 100_000))]),
        ),
        (
            "list_repeat_huge",
            cat(vec![
                list(),
                req(2, 1, Op::List(ListOp::Repeat(1 << 40))),
                req(3, 1, Op::Any(AnyOp::Len)),
            ]),
        ),
        (
            "list_repeat_doubling",
            cat(vec![
                list(),
                req(
                    2,
                    1,
                    Op::List(ListOp::Extend(vec![Value::Bytes(vec![0; 4096]); 16])),
                ),
                req(3, 1, Op::List(ListOp::Repeat(1 << 20))),
                req(4, 1, Op::List(ListOp::Repeat(1 << 20))),
                req(5, 1, Op::Any(AnyOp::Copy)),
            ]),
        ),
    ]
}

/// Seeds exercising the containers.
fn container_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let req = seed_req;
    let create = seed_create;
    let cat = |parts: Vec<Vec<u8>>| parts.concat();
    let list = || create(Create::List(vec![Value::from(1), Value::from("x")]));
    vec![
        (
            "dict_ops",
            cat(vec![
                create(Create::Dict(vec![(Value::from(1), Value::from(2))])),
                req(
                    2,
                    1,
                    Op::Dict(DictOp::SetItem(
                        Value::from("k"),
                        Value::from(vec![1, 2, 3]),
                    )),
                ),
                req(
                    3,
                    1,
                    Op::Dict(DictOp::SetDefault(Value::from((1, 2)), Value::None)),
                ),
                req(
                    4,
                    1,
                    Op::Dict(DictOp::Update(vec![(
                        Value::from(3),
                        Value::Bytes(vec![7; 100]),
                    )])),
                ),
                req(5, 1, Op::Dict(DictOp::Items)),
                req(6, 1, Op::Any(AnyOp::Repr)),
                req(7, 1, Op::Dict(DictOp::PopItem)),
            ]),
        ),
        (
            "namespace_value_array",
            cat(vec![
                create(Create::Namespace(vec![("a".into(), Value::from(1))])),
                create(Create::Value(Value::from(2.5))),
                create(Create::Array(vec![Value::from(0); 8])),
                req(
                    2,
                    1,
                    Op::Namespace(NamespaceOp::Set("b".into(), Value::from("x".repeat(300)))),
                ),
                req(3, 2, Op::Value(ValueOp::Set(Value::from((1, 2))))),
                req(
                    4,
                    3,
                    Op::List(ListOp::SetSlice(
                        Some(0),
                        Some(2),
                        vec![Value::from(9), Value::from(9)],
                    )),
                ),
                req(5, 3, Op::Any(AnyOp::Repr)),
            ]),
        ),
        (
            "list_insert_extend_slices",
            cat(vec![
                list(),
                req(2, 1, Op::List(ListOp::Insert(-1, Value::from(0.5)))),
                req(3, 1, Op::List(ListOp::Extend(vec![Value::from(3); 64]))),
                req(
                    4,
                    1,
                    Op::List(ListOp::SetSlice(None, None, vec![Value::from(1); 1000])),
                ),
                req(5, 1, Op::List(ListOp::GetSlice(Some(1), Some(-1)))),
                req(6, 1, Op::List(ListOp::Sort { reverse: true })),
                req(7, 1, Op::Any(AnyOp::Destroy)),
                req(8, 1, Op::Any(AnyOp::Len)),
            ]),
        ),
    ]
}

/// Seeds exercising queues and locks.
fn sync_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let req = seed_req;
    let create = seed_create;
    let cat = |parts: Vec<Vec<u8>>| parts.concat();
    vec![
        (
            "queue_put_get",
            cat(vec![
                create(Create::Queue(Some(2))),
                req(
                    2,
                    1,
                    Op::Queue(QueueOp::Put {
                        item: Value::from("a"),
                        timeout: None,
                    }),
                ),
                req(
                    3,
                    1,
                    Op::Queue(QueueOp::Put {
                        item: Value::from("b"),
                        timeout: None,
                    }),
                ),
                req(
                    4,
                    1,
                    Op::Queue(QueueOp::Put {
                        item: Value::from("c"),
                        timeout: Some(std::time::Duration::ZERO),
                    }),
                ),
                req(5, 1, Op::Queue(QueueOp::Get { timeout: None })),
                req(6, 1, Op::Queue(QueueOp::QSize)),
            ]),
        ),
        (
            "lock_waits",
            cat(vec![
                create(Create::Lock),
                req(2, 1, Op::Lock(LockOp::Acquire { timeout: None })),
                req(3, 1, Op::Lock(LockOp::Acquire { timeout: None })),
                req(4, 1, Op::Lock(LockOp::Acquire { timeout: None })),
                req(5, 1, Op::Lock(LockOp::Release)),
            ]),
        ),
    ]
}
