//! The messages between rank 0 and the worker ranks: a postcard header, then raw bytes
//! (task arguments, or a task's encoded results), in one MPI message.
// Without `openmpi` this module is compiled for its unit tests only, which use all of it.

use multiproc_process::invoke::{InvokeError, Invoker};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Rank 0 to a worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum ToWorker {
    /// Run `invoker.call_chunk` on the payload (an encoded `Vec` of argument tuples).
    Task {
        job: u64,
        chunk: u32,
        invoker: Invoker,
    },
    /// No more tasks: answer [`ToRoot::Bye`] and leave.
    Shutdown,
}

/// A worker to rank 0.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum ToRoot {
    /// A task ran; the payload is its encoded per-item results when `error` is `None`.
    Done {
        job: u64,
        chunk: u32,
        nanos: u64,
        error: Option<InvokeError>,
    },
    /// The worker got [`ToWorker::Shutdown`] and is leaving.
    Bye,
}

/// Why a message could not be made or read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WireError(pub(crate) String);

/// `header` then `payload`, as one message.
pub(crate) fn pack<H: Serialize>(header: &H, payload: &[u8]) -> Result<Vec<u8>, WireError> {
    let (h, fds) = multiproc_ipc::encode(header).map_err(|e| WireError(e.to_string()))?;
    if !fds.is_empty() {
        return Err(WireError("handles cannot travel between ranks".into()));
    }
    let len = u32::try_from(h.len()).map_err(|_| WireError("header too large".into()))?;
    let mut out = Vec::with_capacity(4 + h.len() + payload.len());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(payload);
    Ok(out)
}

/// The header and the payload of a message made by [`pack`].
pub(crate) fn unpack<H: DeserializeOwned>(msg: &[u8]) -> Result<(H, &[u8]), WireError> {
    let short = || WireError("message too short".into());
    let len: [u8; 4] = msg
        .get(..4)
        .ok_or_else(short)?
        .try_into()
        .map_err(|_| short())?;
    let end = 4usize.saturating_add(u32::from_le_bytes(len) as usize);
    let h = msg.get(4..end).ok_or_else(short)?;
    let header = multiproc_ipc::decode(h, Vec::new()).map_err(|e| WireError(e.to_string()))?;
    Ok((header, &msg[end..]))
}

/// Encodes task arguments or results, refusing descriptors (they cannot cross hosts).
pub(crate) fn encode_plain<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, String> {
    let (bytes, fds) = multiproc_ipc::encode(value).map_err(|e| e.to_string())?;
    if fds.is_empty() {
        Ok(bytes)
    } else {
        Err("descriptors and shared-memory handles cannot be sent to another rank".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square(x: u64) -> u64 {
        x * x
    }

    #[test]
    fn messages_round_trip() {
        let invoker = Invoker::of(square).expect("in the test binary");
        let task = ToWorker::Task {
            job: 3,
            chunk: 9,
            invoker,
        };
        let args = encode_plain(&vec![(4u64,), (5u64,)]).expect("plain data");
        let msg = pack(&task, &args).expect("packs");
        let (back, payload): (ToWorker, &[u8]) = unpack(&msg).expect("unpacks");
        assert_eq!(back, task);
        let (out, fds) = invoker.call_chunk(payload, Vec::new()).expect("callable");
        let out: Vec<Result<u64, InvokeError>> = multiproc_ipc::decode(&out, fds).expect("decodes");
        assert_eq!(out, [Ok(16), Ok(25)]);
        let done = ToRoot::Done {
            job: 1,
            chunk: 2,
            nanos: 3,
            error: Some(InvokeError::Panicked("boom".into())),
        };
        let msg = pack(&done, &[]).expect("packs");
        let (back, payload): (ToRoot, &[u8]) = unpack(&msg).expect("unpacks");
        assert_eq!((back, payload.len()), (done, 0));
    }

    #[test]
    fn truncated_messages_are_errors() {
        let msg = pack(&ToWorker::Shutdown, b"xyz").expect("packs");
        for cut in 0..5 {
            assert!(unpack::<ToWorker>(&msg[..cut]).is_err(), "cut at {cut}");
        }
        assert!(unpack::<ToWorker>(&[255, 255, 255, 255, 0]).is_err());
    }

    proptest::proptest! {
        /// Whatever bytes arrive, decoding is an error or a value, never a panic.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
            let _ = unpack::<ToWorker>(&bytes);
            let _ = unpack::<ToRoot>(&bytes);
        }

        /// Any header and payload come back as sent.
        #[test]
        fn any_message_round_trips(
            job in proptest::prelude::any::<u64>(),
            chunk in proptest::prelude::any::<u32>(),
            nanos in proptest::prelude::any::<u64>(),
            payload in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256),
        ) {
            let done = ToRoot::Done { job, chunk, nanos, error: None };
            let msg = pack(&done, &payload).expect("packs");
            let (back, rest): (ToRoot, &[u8]) = unpack(&msg).expect("unpacks");
            proptest::prop_assert_eq!(back, done);
            proptest::prop_assert_eq!(rest, &payload[..]);
        }
    }

    #[test]
    fn descriptors_are_refused() {
        let (_r, w) = std::io::pipe().expect("pipe");
        let fd: std::os::fd::OwnedFd = w.into();
        let h = multiproc_ipc::PassFd::from(fd);
        assert!(encode_plain(&h).is_err());
    }
}
