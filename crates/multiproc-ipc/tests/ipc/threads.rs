//! Several threads sharing one Connection end never see interleaved frames (KI-21).

use std::sync::Arc;
use std::time::Duration;

use multiproc_ipc::Pipe;

use crate::TestResult;

/// A message that carries its own checksum of sorts: every byte derives from (thread, seq).
fn message(thread: u8, seq: u32) -> Vec<u8> {
    let len = match seq % 4 {
        0 => 3,
        1 => 1000,
        2 => 70_000,
        _ => 300_000,
    };
    let mut v = vec![thread];
    v.extend_from_slice(&seq.to_le_bytes());
    v.extend((0..len).map(|i: u32| (i.wrapping_mul(31) ^ seq ^ u32::from(thread)) as u8));
    v
}

fn check(m: &[u8]) -> Result<(u8, u32), String> {
    let thread = m[0];
    let seq = u32::from_le_bytes(m[1..5].try_into().map_err(|_| "short")?);
    if m != message(thread, seq) {
        return Err(format!("corrupted frame from thread {thread} seq {seq}"));
    }
    Ok((thread, seq))
}

#[test]
fn concurrent_senders_and_receivers_on_one_end() -> TestResult {
    const THREADS: u8 = 4;
    const PER: u32 = 40;
    let (a, b) = Pipe::duplex()?;
    let a = Arc::new(a);
    let b = Arc::new(b);
    let senders: Vec<_> = (0..THREADS)
        .map(|t| {
            let a = Arc::clone(&a);
            std::thread::spawn(move || -> Result<(), multiproc_ipc::SendError> {
                for seq in 0..PER {
                    if seq % 2 == 0 {
                        a.send_bytes(&message(t, seq))?;
                    } else {
                        a.send(&message(t, seq))?;
                    }
                }
                Ok(())
            })
        })
        .collect();
    // Two receivers share the other end; together they must see every frame once.
    let receivers: Vec<_> = (0..2)
        .map(|_| {
            let b = Arc::clone(&b);
            std::thread::spawn(move || -> Result<Vec<(u8, u32)>, String> {
                let mut seen = Vec::new();
                loop {
                    // Frames sent with `send` are postcard-encoded `Vec<u8>`: a varint
                    // length then the bytes. Tell them apart by the seq parity after
                    // decoding the raw frame both ways.
                    let raw = b
                        .recv_bytes_timeout(Duration::from_secs(60))
                        .map_err(|e| e.to_string())?;
                    if raw.is_empty() {
                        return Ok(seen); // the stop marker
                    }
                    let m = match check(&raw) {
                        Ok(id) => id,
                        Err(_) => {
                            let v: Vec<u8> = multiproc_ipc::decode(&raw, Vec::new())
                                .map_err(|e| e.to_string())?;
                            check(&v)?
                        }
                    };
                    seen.push(m);
                }
            })
        })
        .collect();
    for s in senders {
        s.join().map_err(|_| "sender panicked")??;
    }
    // One stop marker per receiver.
    a.send_bytes(b"")?;
    a.send_bytes(b"")?;
    let mut all = Vec::new();
    for r in receivers {
        all.extend(r.join().map_err(|_| "receiver panicked")??);
    }
    all.sort_unstable();
    let want: Vec<(u8, u32)> = (0..THREADS)
        .flat_map(|t| (0..PER).map(move |s| (t, s)))
        .collect();
    assert_eq!(all, want);
    Ok(())
}
