//! Frame splitting plus typed decoding of arbitrary bytes: never a panic, never an
//! allocation the input asked for, never a stack overflow (a recursive type nested as
//! deep as the bytes say is refused at the depth limit). Also feeds the bytes through a
//! real socketpair into `Connection::recv`, with shared-memory frames enabled on odd
//! first bytes (a `ff ff ff fe` header is then a segment reference: without a
//! descriptor, or naming one never handed over, it must be refused cleanly).
#![no_main]

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::net::UnixStream;

use libfuzzer_sys::fuzz_target;
use multiproc_ipc::{Connection, Pipe, RecvError, decode, frame};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
enum Shape {
    Unit,
    Tuple(i64, Option<String>),
    Named {
        name: String,
        tags: Vec<u8>,
        nested: Option<Box<Shape>>,
    },
    Float(f64),
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Rich {
    id: u64,
    shapes: Vec<Shape>,
    map: BTreeMap<String, Vec<i32>>,
    small: f32,
    opt: Option<(i8, char)>,
    bytes: Vec<u8>,
    text: String,
    wide: i128,
}

/// A bare recursive type: one byte a level, so any input of `1`s nests it deep.
#[derive(Debug, Deserialize)]
#[allow(dead_code)]
enum Nest {
    Leaf,
    Node(Box<Nest>),
    Many(Vec<Nest>),
}

/// A value that claims OS handles: must fail cleanly without any.
#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct WithHandles {
    conn: Connection,
    seg: multiproc_ipc::SharedSegment,
}

const LIMIT: u64 = 1 << 16;

fuzz_target!(|data: &[u8]| {
    // 1. Pure parsing: split frames off the front until the input runs out or is invalid.
    let mut rest = data;
    while let Ok(Some((payload, tail))) = frame::split_frame(rest, LIMIT) {
        let _ = decode::<Rich>(payload, Vec::new());
        let _ = decode::<WithHandles>(payload, Vec::new());
        let _ = decode::<(String, Vec<Option<u16>>)>(payload, Vec::new());
        let _ = decode::<Nest>(payload, Vec::new());
        let _ = multiproc_ipc::decode_with_max_depth::<Nest>(payload, Vec::new(), 3);
        if tail.len() == rest.len() {
            break;
        }
        rest = tail;
    }
    // 1b. Any 24 bytes are a segment reference (checked later against limits).
    if let Some(body) = data.get(..frame::SHM_REF_LEN) {
        let mut b = [0u8; frame::SHM_REF_LEN];
        b.copy_from_slice(body);
        let r = frame::ShmRef::decode(b);
        let mut again = [0u8; frame::SHM_REF_LEN];
        r.encode(&mut again);
        assert_eq!(again, b);
    }
    // 2. The same bytes through a real connection.
    let Ok((conn, peer)) = Pipe::duplex() else {
        return;
    };
    conn.set_max_frame(LIMIT);
    if data.first().is_some_and(|b| b & 1 == 1) && conn.enable_shm(1).is_err() {
        return;
    }
    let mut raw = UnixStream::from(peer.into_fd());
    if raw.write_all(data).is_err() {
        return;
    }
    drop(raw);
    for i in 0..64 {
        let r = if i % 2 == 0 {
            conn.recv::<Rich>().map(drop)
        } else {
            conn.recv::<Nest>().map(drop)
        };
        // A payload that does not decode (or nests too deep) was read whole: go on.
        match r {
            Ok(()) | Err(RecvError::Decode(_)) | Err(RecvError::Shm(_)) => {}
            Err(_) => break,
        }
    }
});
