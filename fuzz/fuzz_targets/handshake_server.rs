//! The server side of the authkey handshake fed arbitrary peer bytes: the state machine
//! directly (in arbitrary chunkings), and `server_handshake` over a real socketpair.
//! Any outcome but a panic, a hang or a success is fine: the fuzzer cannot forge an HMAC.
#![no_main]

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use multiproc_ipc::Pipe;
use multiproc_ipc::auth::{self, Handshake, HandshakeConfig, Role};

fuzz_target!(|data: &[u8]| {
    let Some((&chunk, input)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(chunk).max(1);
    let cfg = HandshakeConfig::default().with_timeout(Duration::from_secs(5));
    for role in [Role::Server, Role::Client] {
        let mut hs = Handshake::with_nonce(role, b"fuzz key", &cfg, [7; auth::NONCE_LEN]);
        let mut rest = input;
        while !rest.is_empty() {
            let n = chunk.min(rest.len()).min(hs.wanted().max(1));
            match hs.feed(&rest[..n]) {
                Ok((used, _)) => {
                    assert!(used <= n);
                    rest = &rest[used..];
                    if used == 0 {
                        break;
                    }
                }
                Err(_) => break,
            }
            let out = hs.output().len();
            hs.consume_output(out);
        }
        assert!(
            !(hs.is_done() && role == Role::Server),
            "the fuzzer forged an HMAC"
        );
    }
    // The blocking driver over a socketpair, peer bytes then EOF.
    let Ok((server, peer)) = Pipe::duplex() else {
        return;
    };
    let mut raw = UnixStream::from(peer.into_fd());
    if raw.write_all(input).is_err() {
        return;
    }
    let _ = raw.shutdown(std::net::Shutdown::Write);
    let r = auth::server_handshake(&server, b"fuzz key", &cfg);
    assert!(r.is_err(), "the fuzzer forged an HMAC");
    drop(raw);
});
