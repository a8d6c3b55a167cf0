//! The authkey handshake of CPython's `multiprocessing.connection`, byte for byte.
//!
//! Both sides hold the same secret `authkey`. The side that *delivers* a challenge sends
//! `#CHALLENGE#` followed by a random message; the side that *answers* replies with an
//! HMAC of that message under the key; the deliverer replies `#WELCOME#` or `#FAILURE#`.
//! Authentication is mutual: the server delivers then answers, the client answers then
//! delivers. Every message is an ordinary frame (see [`crate::frame`]) of at most
//! [`MAX_AUTH_MESSAGE`] bytes.
//!
//! Two dialects exist and both are spoken:
//!
//! | dialect | challenge payload | response |
//! |---|---|---|
//! | CPython ≤ 3.11 | 20 random bytes | raw 16-byte HMAC-MD5 of the payload |
//! | CPython ≥ 3.12 | `{sha256}` + 40 random bytes | `{sha256}` + HMAC-SHA256 of the *whole* payload (prefix included) |
//!
//! We always deliver the 3.12 form (a 3.11 peer answers it with a raw HMAC-MD5 of the
//! whole payload, which we accept unless [`HandshakeConfig::accept_legacy_md5`] is
//! off), and we answer whatever form the peer delivers: a 20-byte challenge gets a raw
//! HMAC-MD5, a `{md5}`/`{sha256}`/`{sha384}` challenge gets that digest. Digests are
//! compared in constant time ([`subtle`]).
//!
//! The handshake is a sans-I/O state machine ([`Handshake`]): it is fed bytes and says
//! what to send, so the [`Listener`](crate::Listener) can run many handshakes at once
//! and the fuzz targets can drive it with arbitrary input. [`deliver_challenge`] and
//! [`answer_challenge`] are the blocking forms over a [`Connection`], as in CPython.
//!
//! ```
//! use multiproc_ipc::{auth, Pipe};
//! let (server, client) = Pipe::duplex()?;
//! let t = std::thread::spawn(move || {
//!     auth::server_handshake(&server, b"secret", &auth::HandshakeConfig::default())
//! });
//! auth::client_handshake(&client, b"secret", &auth::HandshakeConfig::default())?;
//! t.join().expect("server thread")?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::io;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use subtle::ConstantTimeEq;

use crate::connection::Connection;
use crate::frame::{self, ShortHeader};
use crate::sys;

/// `#CHALLENGE#`: the prefix of a challenge message.
///
/// ```
/// use multiproc_ipc::auth::{CHALLENGE, Handshake, HandshakeConfig, NONCE_LEN, Role};
/// let server = Handshake::new(Role::Server, b"key", &HandshakeConfig::default())?;
/// // A frame: a 4-byte big-endian length, then `#CHALLENGE#{sha256}` and the nonce.
/// let payload = &server.output()[4..];
/// assert!(payload.starts_with(CHALLENGE));
/// assert_eq!(&payload[CHALLENGE.len()..][..8], b"{sha256}");
/// assert_eq!(payload.len(), CHALLENGE.len() + 8 + NONCE_LEN);
/// # Ok::<(), multiproc_ipc::AuthError>(())
/// ```
pub const CHALLENGE: &[u8] = b"#CHALLENGE#";
/// `#WELCOME#`: the reply to a correct response.
///
/// ```
/// assert_eq!(multiproc_ipc::auth::WELCOME, b"#WELCOME#");
/// ```
pub const WELCOME: &[u8] = b"#WELCOME#";
/// `#FAILURE#`: the reply to a wrong response.
///
/// ```
/// assert_eq!(multiproc_ipc::auth::FAILURE, b"#FAILURE#");
/// ```
pub const FAILURE: &[u8] = b"#FAILURE#";
/// Largest handshake message accepted (CPython reads them with `recv_bytes(256)`).
///
/// ```
/// use multiproc_ipc::auth::{AuthError, Handshake, HandshakeConfig, MAX_AUTH_MESSAGE, Role};
/// let mut client = Handshake::new(Role::Client, b"key", &HandshakeConfig::default())?;
/// // A frame header announcing a longer message is refused before it is read.
/// let header = (MAX_AUTH_MESSAGE as u32 + 1).to_be_bytes();
/// assert!(matches!(client.feed(&header), Err(AuthError::MessageTooLong(257))));
/// # Ok::<(), AuthError>(())
/// ```
pub const MAX_AUTH_MESSAGE: usize = 256;
/// Random bytes in a challenge we deliver (CPython 3.12's `MESSAGE_LENGTH`).
///
/// ```
/// use multiproc_ipc::auth::{Handshake, HandshakeConfig, NONCE_LEN, Role};
/// let cfg = HandshakeConfig::default();
/// let a = Handshake::with_nonce(Role::Server, b"key", &cfg, [7; NONCE_LEN]);
/// assert!(a.output().ends_with(&[7; NONCE_LEN]));
/// ```
pub const NONCE_LEN: usize = 40;
/// Length of a legacy (CPython ≤ 3.11) challenge payload.
const LEGACY_CHALLENGE_LEN: usize = 20;
/// Length of a raw HMAC-MD5.
const MD5_LEN: usize = 16;
/// Longest digest name inside `{…}` (`sha3_384`).
const MAX_DIGEST_NAME: usize = 8;

/// Default bound on a whole handshake.
///
/// ```
/// use multiproc_ipc::auth::{DEFAULT_HANDSHAKE_TIMEOUT, HandshakeConfig};
/// assert_eq!(HandshakeConfig::default().timeout, DEFAULT_HANDSHAKE_TIMEOUT);
/// ```
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why an authkey handshake failed.
///
/// Each side of a mismatched pair learns it its own way: the side whose challenge got a
/// wrong answer sees [`WrongDigest`](AuthError::WrongDigest) (and tells the peer), the
/// side that answered sees [`Rejected`](AuthError::Rejected).
///
/// ```
/// use multiproc_ipc::{auth, AuthError, Pipe};
/// let (server, client) = Pipe::duplex()?;
/// let cfg = auth::HandshakeConfig::default();
/// let t = std::thread::spawn(move || auth::server_handshake(&server, b"right", &cfg));
/// let mine = auth::client_handshake(&client, b"wrong", &auth::HandshakeConfig::default());
/// assert!(matches!(mine, Err(AuthError::Rejected)));
/// let theirs = t.join().expect("server thread");
/// assert!(matches!(theirs, Err(AuthError::WrongDigest)));
/// assert_eq!(theirs.unwrap_err().to_string(), "digest received was wrong");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum AuthError {
    /// The peer's response did not match: it does not hold our authkey
    /// (CPython: `digest received was wrong`). We sent `#FAILURE#`.
    WrongDigest,
    /// The peer rejected our response: we do not hold its authkey
    /// (CPython: `digest sent was rejected`).
    Rejected,
    /// The peer answered with a raw HMAC-MD5 (a CPython ≤ 3.11 peer) and legacy MD5 is
    /// turned off ([`HandshakeConfig::accept_legacy_md5`]). We sent `#FAILURE#`.
    LegacyMd5Refused,
    /// The peer named a digest we do not implement (`sha3_256`, `sha3_384`, or unknown).
    UnsupportedDigest(String),
    /// The peer sent something other than the handshake message expected at this step,
    /// for example data without a challenge (it holds no authkey, or speaks another protocol).
    Protocol(&'static str),
    /// A handshake message was larger than [`MAX_AUTH_MESSAGE`] bytes or had an invalid header.
    MessageTooLong(u64),
    /// The peer closed the connection during the handshake.
    Eof,
    /// The handshake did not finish in time.
    Timeout,
    /// The operating system's random source failed.
    Random(String),
    /// An operating-system error on the socket.
    Io(io::Error),
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthError::WrongDigest => f.write_str("digest received was wrong"),
            AuthError::Rejected => f.write_str("digest sent was rejected"),
            AuthError::LegacyMd5Refused => {
                f.write_str("peer answered with legacy hmac-md5, which is turned off")
            }
            AuthError::UnsupportedDigest(d) => write!(f, "unsupported digest {d:?}"),
            AuthError::Protocol(what) => write!(f, "handshake protocol error: {what}"),
            AuthError::MessageTooLong(n) => write!(
                f,
                "handshake message of {n} bytes exceeds {MAX_AUTH_MESSAGE} bytes"
            ),
            AuthError::Eof => f.write_str("peer closed the connection during the handshake"),
            AuthError::Timeout => f.write_str("handshake timed out"),
            AuthError::Random(e) => write!(f, "random source failed: {e}"),
            AuthError::Io(_) => f.write_str("i/o error during the handshake"),
        }
    }
}

impl std::error::Error for AuthError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AuthError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for AuthError {
    fn from(e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::TimedOut => AuthError::Timeout,
            io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset => AuthError::Eof,
            _ => AuthError::Io(e),
        }
    }
}

/// Options of a handshake.
///
/// ```
/// use std::time::Duration;
/// use multiproc_ipc::auth::HandshakeConfig;
/// let strict = HandshakeConfig::default()
///     .with_timeout(Duration::from_secs(2))
///     .with_legacy_md5(false); // refuse CPython <= 3.11 peers
/// assert_eq!(strict.timeout, Duration::from_secs(2));
/// assert!(!strict.accept_legacy_md5);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HandshakeConfig {
    /// Bound on the whole handshake (default [`DEFAULT_HANDSHAKE_TIMEOUT`], 10 s).
    pub timeout: Duration,
    /// Accept a raw 16-byte HMAC-MD5 response or a `{md5}` one, as CPython ≤ 3.11 peers
    /// send (default `true`, as CPython 3.12+ does). Turn off to require SHA-256 or
    /// better, at the price of not talking to Python ≤ 3.11.
    pub accept_legacy_md5: bool,
}

impl Default for HandshakeConfig {
    fn default() -> Self {
        HandshakeConfig {
            timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            accept_legacy_md5: true,
        }
    }
}

impl HandshakeConfig {
    /// Sets [`timeout`](Self::timeout).
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_ipc::auth::HandshakeConfig;
    /// let cfg = HandshakeConfig::default().with_timeout(Duration::from_millis(500));
    /// assert_eq!(cfg.timeout, Duration::from_millis(500));
    /// ```
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets [`accept_legacy_md5`](Self::accept_legacy_md5).
    ///
    /// ```
    /// use multiproc_ipc::auth::HandshakeConfig;
    /// assert!(HandshakeConfig::default().accept_legacy_md5);
    /// assert!(!HandshakeConfig::default().with_legacy_md5(false).accept_legacy_md5);
    /// ```
    #[must_use]
    pub fn with_legacy_md5(mut self, accept: bool) -> Self {
        self.accept_legacy_md5 = accept;
        self
    }
}

/// Which side of the handshake a [`Handshake`] plays.
///
/// ```
/// use multiproc_ipc::auth::{Handshake, HandshakeConfig, Role};
/// let cfg = HandshakeConfig::default();
/// // The server speaks first (its challenge), the client waits for it.
/// assert!(!Handshake::new(Role::Server, b"k", &cfg)?.output().is_empty());
/// assert!(Handshake::new(Role::Client, b"k", &cfg)?.output().is_empty());
/// # Ok::<(), multiproc_ipc::AuthError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Deliver a challenge, then answer the peer's (CPython's `Listener.accept`).
    Server,
    /// Answer the peer's challenge, then deliver one (CPython's `Client`).
    Client,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Delivered our challenge; waiting for the response.
    AwaitResponse,
    /// Waiting for the peer's challenge.
    AwaitChallenge,
    /// Answered; waiting for `#WELCOME#`.
    AwaitWelcome,
    Done,
    Failed,
}

/// Progress of a [`Handshake`] after it was fed.
///
/// ```
/// use multiproc_ipc::auth::{Handshake, HandshakeConfig, Role, Status};
/// let cfg = HandshakeConfig::default();
/// let server = Handshake::new(Role::Server, b"k", &cfg)?;
/// let mut client = Handshake::new(Role::Client, b"k", &cfg)?;
/// // Half of the challenge frame: the client needs the rest.
/// let half = &server.output()[..10];
/// assert_eq!(client.feed(half)?, (10, Status::NeedInput));
/// # Ok::<(), multiproc_ipc::AuthError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// More bytes from the peer are needed (at most [`Handshake::wanted`]).
    NeedInput,
    /// The handshake succeeded; send any remaining [`Handshake::output`] and the
    /// connection is ready for frames.
    Done,
}

/// The handshake as a sans-I/O state machine.
///
/// Drive it by sending [`output`](Self::output) to the peer (then calling
/// [`consume_output`](Self::consume_output)), and by reading at most
/// [`wanted`](Self::wanted) bytes from the peer and passing them to
/// [`feed`](Self::feed). It never asks for a byte past the end of the handshake, so
/// frames the peer sends right after it stay in the socket for the connection.
/// On an error that the peer should hear about (a wrong digest), `#FAILURE#` is left
/// in [`output`](Self::output): send it before closing.
///
/// ```
/// use multiproc_ipc::auth::{Handshake, HandshakeConfig, Role, Status};
/// let cfg = HandshakeConfig::default();
/// let mut server = Handshake::new(Role::Server, b"key", &cfg)?;
/// let mut client = Handshake::new(Role::Client, b"key", &cfg)?;
/// // Pump bytes between the two machines until both are done.
/// let (mut s_done, mut c_done) = (false, false);
/// while !(s_done && c_done) {
///     let out = server.output().to_vec();
///     server.consume_output(out.len());
///     let mut rest = &out[..];
///     while !rest.is_empty() {
///         let (n, st) = client.feed(rest)?;
///         rest = &rest[n..];
///         c_done |= st == Status::Done;
///     }
///     let out = client.output().to_vec();
///     client.consume_output(out.len());
///     let mut rest = &out[..];
///     while !rest.is_empty() {
///         let (n, st) = server.feed(rest)?;
///         rest = &rest[n..];
///         s_done |= st == Status::Done;
///     }
/// }
/// # Ok::<(), multiproc_ipc::auth::AuthError>(())
/// ```
pub struct Handshake {
    role: Role,
    key: Vec<u8>,
    legacy_ok: bool,
    step: Step,
    /// The challenge payload we delivered (without `#CHALLENGE#`).
    ours: Vec<u8>,
    /// Bytes of the frame being received.
    inbuf: Vec<u8>,
    out: Vec<u8>,
}

impl fmt::Debug for Handshake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The key stays out of logs.
        f.debug_struct("Handshake")
            .field("role", &self.role)
            .field("step", &self.step)
            .field("pending_output", &self.out.len())
            .finish_non_exhaustive()
    }
}

impl Handshake {
    /// Starts a handshake. A server's challenge is ready in [`output`](Self::output) at once.
    ///
    /// ```
    /// use multiproc_ipc::auth::{Handshake, HandshakeConfig, Role};
    /// let hs = Handshake::new(Role::Server, b"key", &HandshakeConfig::default())?;
    /// assert_eq!(hs.role(), Role::Server);
    /// assert!(!hs.is_done());
    /// # Ok::<(), multiproc_ipc::AuthError>(())
    /// ```
    ///
    /// # Errors
    /// [`AuthError::Random`] if the OS random source fails.
    pub fn new(role: Role, authkey: &[u8], config: &HandshakeConfig) -> Result<Self, AuthError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| AuthError::Random(e.to_string()))?;
        Ok(Self::with_nonce(role, authkey, config, nonce))
    }

    /// As [`new`](Self::new) with a caller-chosen nonce: deterministic, for tests and
    /// fuzzing only (a predictable nonce lets a recorded response be replayed).
    ///
    /// ```
    /// use multiproc_ipc::auth::{Handshake, HandshakeConfig, NONCE_LEN, Role};
    /// let cfg = HandshakeConfig::default();
    /// let a = Handshake::with_nonce(Role::Server, b"key", &cfg, [1; NONCE_LEN]);
    /// let b = Handshake::with_nonce(Role::Server, b"key", &cfg, [1; NONCE_LEN]);
    /// assert_eq!(a.output(), b.output()); // the same challenge: never in production
    /// ```
    pub fn with_nonce(
        role: Role,
        authkey: &[u8],
        config: &HandshakeConfig,
        nonce: [u8; NONCE_LEN],
    ) -> Self {
        let mut ours = b"{sha256}".to_vec();
        ours.extend_from_slice(&nonce);
        let mut h = Handshake {
            role,
            key: authkey.to_vec(),
            legacy_ok: config.accept_legacy_md5,
            step: Step::AwaitChallenge,
            ours,
            inbuf: Vec::with_capacity(64),
            out: Vec::with_capacity(128),
        };
        if role == Role::Server {
            h.deliver();
        }
        h
    }

    /// The role this machine plays.
    ///
    /// ```
    /// use multiproc_ipc::auth::{Handshake, HandshakeConfig, Role};
    /// let hs = Handshake::new(Role::Client, b"key", &HandshakeConfig::default())?;
    /// assert_eq!(hs.role(), Role::Client);
    /// # Ok::<(), multiproc_ipc::AuthError>(())
    /// ```
    pub fn role(&self) -> Role {
        self.role
    }

    /// Whether the handshake completed successfully.
    ///
    /// ```
    /// use multiproc_ipc::auth::{Handshake, HandshakeConfig, Role};
    /// let cfg = HandshakeConfig::default();
    /// let mut server = Handshake::new(Role::Server, b"key", &cfg)?;
    /// let mut client = Handshake::new(Role::Client, b"key", &cfg)?;
    /// // Everything one side has to say, fed to the other, until both are quiet.
    /// fn pump(from: &mut Handshake, to: &mut Handshake) -> Result<(), multiproc_ipc::AuthError> {
    ///     let out = from.output().to_vec();
    ///     from.consume_output(out.len());
    ///     let mut rest = &out[..];
    ///     while !rest.is_empty() && to.wanted() > 0 {
    ///         let (n, _) = to.feed(rest)?;
    ///         rest = &rest[n..];
    ///     }
    ///     Ok(())
    /// }
    /// while !server.output().is_empty() || !client.output().is_empty() {
    ///     pump(&mut server, &mut client)?;
    ///     pump(&mut client, &mut server)?;
    /// }
    /// assert!(server.is_done() && client.is_done());
    /// # Ok::<(), multiproc_ipc::AuthError>(())
    /// ```
    pub fn is_done(&self) -> bool {
        self.step == Step::Done
    }

    /// Bytes to send to the peer now.
    ///
    /// ```
    /// use multiproc_ipc::auth::{Handshake, HandshakeConfig, Role};
    /// let server = Handshake::new(Role::Server, b"key", &HandshakeConfig::default())?;
    /// let frame = server.output();
    /// let len = u32::from_be_bytes(frame[..4].try_into()?) as usize;
    /// assert_eq!(frame.len(), 4 + len); // one whole frame: the challenge
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn output(&self) -> &[u8] {
        &self.out
    }

    /// Marks the first `n` bytes of [`output`](Self::output) as sent.
    ///
    /// ```
    /// use multiproc_ipc::auth::{Handshake, HandshakeConfig, Role};
    /// let mut server = Handshake::new(Role::Server, b"key", &HandshakeConfig::default())?;
    /// let total = server.output().len();
    /// server.consume_output(10); // a short write: 10 bytes went out
    /// assert_eq!(server.output().len(), total - 10);
    /// server.consume_output(usize::MAX); // clamped to what is left
    /// assert!(server.output().is_empty());
    /// # Ok::<(), multiproc_ipc::AuthError>(())
    /// ```
    pub fn consume_output(&mut self, n: usize) {
        let n = n.min(self.out.len());
        self.out.drain(..n);
    }

    /// How many more bytes the current step may take: reading more than this could
    /// swallow frames that follow the handshake. Zero when done or failed.
    ///
    /// ```
    /// use multiproc_ipc::auth::{Handshake, HandshakeConfig, Role};
    /// let server = Handshake::new(Role::Server, b"key", &HandshakeConfig::default())?;
    /// let mut client = Handshake::new(Role::Client, b"key", &HandshakeConfig::default())?;
    /// assert_eq!(client.wanted(), 4); // a frame header first
    /// client.feed(&server.output()[..4])?;
    /// assert_eq!(client.wanted(), server.output().len() - 4); // then exactly its body
    /// # Ok::<(), multiproc_ipc::AuthError>(())
    /// ```
    pub fn wanted(&self) -> usize {
        match self.step {
            Step::Done | Step::Failed => 0,
            _ => {
                if self.inbuf.len() < 4 {
                    4 - self.inbuf.len()
                } else {
                    let mut h = [0u8; 4];
                    h.copy_from_slice(&self.inbuf[..4]);
                    match frame::decode_short(h) {
                        ShortHeader::Len(n) => (4 + n as usize).saturating_sub(self.inbuf.len()),
                        _ => 0,
                    }
                }
            }
        }
    }

    /// Feeds bytes received from the peer. Returns how many were consumed (at most
    /// [`wanted`](Self::wanted) at the time of the call, fewer only when the handshake
    /// ended) and the status.
    ///
    /// ```
    /// use multiproc_ipc::auth::{Handshake, HandshakeConfig, Role, Status};
    /// let cfg = HandshakeConfig::default();
    /// let server = Handshake::new(Role::Server, b"key", &cfg)?;
    /// let mut client = Handshake::new(Role::Client, b"key", &cfg)?;
    /// // The whole challenge at once: the client answers it.
    /// let (used, status) = client.feed(server.output())?;
    /// assert_eq!((used, status), (server.output().len(), Status::NeedInput));
    /// assert!(!client.output().is_empty()); // its response, to send
    /// # Ok::<(), multiproc_ipc::AuthError>(())
    /// ```
    ///
    /// # Errors
    /// Any [`AuthError`]; after an error the machine is failed for good.
    pub fn feed(&mut self, input: &[u8]) -> Result<(usize, Status), AuthError> {
        let mut used = 0;
        loop {
            match self.step {
                Step::Done => return Ok((used, Status::Done)),
                Step::Failed => return Err(AuthError::Protocol("handshake already failed")),
                _ => {}
            }
            let want = self.wanted();
            if want == 0 {
                // Header is complete but not a short length within bounds.
                return self.fail_header();
            }
            if used == input.len() {
                return Ok((used, Status::NeedInput));
            }
            let take = want.min(input.len() - used);
            self.inbuf.extend_from_slice(&input[used..used + take]);
            used += take;
            if self.inbuf.len() == 4 {
                let mut h = [0u8; 4];
                h.copy_from_slice(&self.inbuf);
                match frame::decode_short(h) {
                    ShortHeader::Len(n) if n as usize <= MAX_AUTH_MESSAGE => {}
                    _ => return self.fail_header(),
                }
            }
            if self.wanted() == 0 {
                let msg = std::mem::take(&mut self.inbuf);
                if let Err(e) = self.on_message(&msg[4..]) {
                    self.step = Step::Failed;
                    return Err(e);
                }
            }
        }
    }

    fn fail_header(&mut self) -> Result<(usize, Status), AuthError> {
        self.step = Step::Failed;
        let mut h = [0u8; 4];
        h.copy_from_slice(&self.inbuf[..4]);
        Err(AuthError::MessageTooLong(match frame::decode_short(h) {
            ShortHeader::Len(n) => n,
            ShortHeader::Long | ShortHeader::Invalid(_) => u64::MAX,
        }))
    }

    fn push_frame(&mut self, parts: &[&[u8]]) {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let mut h = [0u8; frame::MAX_HEADER];
        let n = frame::encode_header(len as u64, &mut h);
        self.out.extend_from_slice(&h[..n]);
        for p in parts {
            self.out.extend_from_slice(p);
        }
    }

    fn deliver(&mut self) {
        let ours = std::mem::take(&mut self.ours);
        self.push_frame(&[CHALLENGE, &ours]);
        self.ours = ours;
        self.step = Step::AwaitResponse;
    }

    fn on_message(&mut self, msg: &[u8]) -> Result<(), AuthError> {
        match self.step {
            Step::AwaitResponse => {
                let verdict = verify(&self.key, &self.ours, msg, self.legacy_ok);
                if verdict.is_ok() {
                    self.push_frame(&[WELCOME]);
                    self.step = match self.role {
                        Role::Server => Step::AwaitChallenge,
                        Role::Client => Step::Done,
                    };
                } else {
                    self.push_frame(&[FAILURE]);
                }
                verdict
            }
            Step::AwaitChallenge => {
                let Some(challenge) = msg.strip_prefix(CHALLENGE) else {
                    return Err(AuthError::Protocol("expected a challenge"));
                };
                if challenge.len() < LEGACY_CHALLENGE_LEN {
                    return Err(AuthError::Protocol("challenge too short"));
                }
                let response = respond(&self.key, challenge)?;
                self.push_frame(&[&response]);
                self.step = Step::AwaitWelcome;
                Ok(())
            }
            Step::AwaitWelcome => {
                if msg != WELCOME {
                    return Err(AuthError::Rejected);
                }
                match self.role {
                    Role::Server => self.step = Step::Done,
                    Role::Client => self.deliver(),
                }
                Ok(())
            }
            Step::Done | Step::Failed => Err(AuthError::Protocol("handshake already over")),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Digest {
    Md5,
    Sha256,
    Sha384,
}

impl Digest {
    fn name(self) -> &'static [u8] {
        match self {
            Digest::Md5 => b"md5",
            Digest::Sha256 => b"sha256",
            Digest::Sha384 => b"sha384",
        }
    }
}

fn mac(digest: Digest, key: &[u8], msg: &[u8]) -> Vec<u8> {
    fn run<M: Mac + hmac::digest::KeyInit>(key: &[u8], msg: &[u8]) -> Vec<u8> {
        let mut m = <M as hmac::digest::KeyInit>::new_from_slice(key)
            .expect("holds because HMAC accepts keys of any length");
        m.update(msg);
        m.finalize().into_bytes().to_vec()
    }
    match digest {
        Digest::Md5 => run::<Hmac<md5::Md5>>(key, msg),
        Digest::Sha256 => run::<Hmac<sha2::Sha256>>(key, msg),
        Digest::Sha384 => run::<Hmac<sha2::Sha384>>(key, msg),
    }
}

/// Splits `{name}payload`. `Ok(None)` for a legacy message (20 or 16 bytes, no prefix).
fn digest_and_payload(msg: &[u8]) -> Result<Option<(Digest, &[u8])>, AuthError> {
    if msg.len() == LEGACY_CHALLENGE_LEN || msg.len() == MD5_LEN {
        return Ok(None);
    }
    let unsupported =
        || AuthError::UnsupportedDigest(String::from_utf8_lossy(msg).chars().take(16).collect());
    let Some(rest) = msg.strip_prefix(b"{") else {
        return Err(AuthError::Protocol("missing digest prefix"));
    };
    let Some(close) = rest
        .iter()
        .take(MAX_DIGEST_NAME + 1)
        .position(|&b| b == b'}')
    else {
        return Err(unsupported());
    };
    let (name, payload) = (&rest[..close], &rest[close + 1..]);
    let digest = match name {
        b"md5" => Digest::Md5,
        b"sha256" => Digest::Sha256,
        b"sha384" => Digest::Sha384,
        other => {
            return Err(AuthError::UnsupportedDigest(
                String::from_utf8_lossy(other).into_owned(),
            ));
        }
    };
    Ok(Some((digest, payload)))
}

/// The response to a challenge payload (CPython 3.12's `_create_response`).
fn respond(key: &[u8], challenge: &[u8]) -> Result<Vec<u8>, AuthError> {
    match digest_and_payload(challenge)? {
        // A legacy server: raw HMAC-MD5.
        None => Ok(mac(Digest::Md5, key, challenge)),
        Some((d, _)) => {
            // The MAC covers the whole message, prefix included.
            let mut r = Vec::with_capacity(10 + 48);
            r.push(b'{');
            r.extend_from_slice(d.name());
            r.push(b'}');
            r.extend_from_slice(&mac(d, key, challenge));
            Ok(r)
        }
    }
}

/// Checks a response to our challenge `ours` (CPython 3.12's `_verify_challenge`),
/// in constant time.
fn verify(key: &[u8], ours: &[u8], response: &[u8], legacy_ok: bool) -> Result<(), AuthError> {
    let (digest, got) = match digest_and_payload(response) {
        Ok(None) => (Digest::Md5, response),
        Ok(Some(x)) => x,
        Err(AuthError::Protocol(_)) => return Err(AuthError::WrongDigest),
        Err(e) => return Err(e),
    };
    if digest == Digest::Md5 && !legacy_ok {
        return Err(AuthError::LegacyMd5Refused);
    }
    let expected = mac(digest, key, ours);
    if expected.len() == got.len() && bool::from(expected.ct_eq(got)) {
        Ok(())
    } else {
        Err(AuthError::WrongDigest)
    }
}

/// Runs `hs` to completion over a connected stream socket or pipe, within `deadline`.
/// Reads never go past the end of the handshake.
pub(crate) fn drive(
    fd: std::os::fd::BorrowedFd<'_>,
    hs: &mut Handshake,
    deadline: Instant,
) -> Result<(), AuthError> {
    drive_until(fd, hs, deadline, Handshake::is_done)
}

/// Runs `hs` until `stop` holds after its output was sent, within `deadline`.
fn drive_until(
    fd: std::os::fd::BorrowedFd<'_>,
    hs: &mut Handshake,
    deadline: Instant,
    stop: fn(&Handshake) -> bool,
) -> Result<(), AuthError> {
    let mut buf = [0u8; MAX_AUTH_MESSAGE + 4];
    loop {
        flush(fd, hs)?;
        if stop(hs) {
            return Ok(());
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if !sys::wait_readable(fd, Some(left))? {
            return Err(AuthError::Timeout);
        }
        let n = read_wanted(fd, hs, &mut buf)?;
        feed_all(fd, hs, &buf[..n])?;
    }
}

/// One read of at most what `hs` wants; [`AuthError::Eof`] when the peer closed.
pub(crate) fn read_wanted(
    fd: std::os::fd::BorrowedFd<'_>,
    hs: &Handshake,
    buf: &mut [u8; MAX_AUTH_MESSAGE + 4],
) -> Result<usize, AuthError> {
    let want = hs.wanted().min(buf.len());
    let n = sys::read_some(fd, &mut buf[..want])?;
    if n == 0 {
        return Err(AuthError::Eof);
    }
    Ok(n)
}

/// Feeds `input` to `hs` until it is used up or the handshake is done. On an error
/// the machine's reply (`#FAILURE#`) is sent first, best effort, so the peer hears why.
pub(crate) fn feed_all(
    fd: std::os::fd::BorrowedFd<'_>,
    hs: &mut Handshake,
    mut input: &[u8],
) -> Result<Status, AuthError> {
    let mut status = Status::NeedInput;
    while !input.is_empty() && status == Status::NeedInput {
        match hs.feed(input) {
            Ok((used, s)) => {
                input = &input[used..];
                status = s;
            }
            Err(e) => {
                let _ = flush(fd, hs);
                return Err(e);
            }
        }
    }
    Ok(status)
}

/// Sends whatever the machine has queued.
pub(crate) fn flush(fd: std::os::fd::BorrowedFd<'_>, hs: &mut Handshake) -> Result<(), AuthError> {
    if !hs.output().is_empty() {
        let n = hs.output().len();
        sys::send_or_write_all(fd, &[hs.output()])?;
        hs.consume_output(n);
    }
    Ok(())
}

/// Which part of the handshake a public function runs.
#[derive(Debug, Clone, Copy)]
enum Part {
    /// The whole handshake, as `Role`.
    Whole(Role),
    /// CPython's `deliver_challenge` alone.
    Deliver,
    /// CPython's `answer_challenge` alone.
    Answer,
}

fn run_part(
    conn: &Connection,
    part: Part,
    authkey: &[u8],
    config: &HandshakeConfig,
) -> Result<(), AuthError> {
    let deadline = deadline_after(config.timeout);
    let fd = conn.as_fd();
    match part {
        Part::Whole(role) => {
            let mut hs = Handshake::new(role, authkey, config)?;
            let r = drive(fd, &mut hs, deadline);
            tracing::debug!(?role, ok = r.is_ok(), "multiproc-ipc: authkey handshake");
            r
        }
        Part::Deliver => {
            let mut hs = Handshake::new(Role::Server, authkey, config)?;
            // The server machine's delivering half: stop after the WELCOME/FAILURE
            // reply (after sending WELCOME it moves on to AwaitChallenge).
            drive_until(fd, &mut hs, deadline, |hs| hs.step != Step::AwaitResponse)
        }
        Part::Answer => {
            let mut hs = Handshake::new(Role::Server, authkey, config)?;
            // Reuse the server machine's answering half: skip its delivering half.
            hs.out.clear();
            hs.step = Step::AwaitChallenge;
            drive(fd, &mut hs, deadline)
        }
    }
}

/// The public handshake functions, one per [`Part`]: each takes the connection, the
/// key and the options (what CPython's functions of the same names take).
macro_rules! handshake_fns {
    ($($(#[$doc:meta])* $name:ident => $part:expr;)+) => {$(
        $(#[$doc])*
        pub fn $name(
            conn: &Connection,
            authkey: &[u8],
            config: &HandshakeConfig,
        ) -> Result<(), AuthError> {
            run_part(conn, $part, authkey, config)
        }
    )+};
}

handshake_fns! {
    /// Runs the server side (deliver a challenge, then answer the peer's) on `conn`.
    /// What `Listener::accept` does for each connection when it has an authkey.
    ///
    /// ```
    /// use multiproc_ipc::{auth, Pipe};
    /// let (server, client) = Pipe::duplex()?;
    /// let t = std::thread::spawn(move || {
    ///     auth::client_handshake(&client, b"secret", &auth::HandshakeConfig::default())?;
    ///     client.send(&"hello after the handshake")?;
    ///     Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
    /// });
    /// auth::server_handshake(&server, b"secret", &auth::HandshakeConfig::default())?;
    /// assert_eq!(server.recv::<String>()?, "hello after the handshake");
    /// t.join().expect("client thread").map_err(|e| e.to_string())?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// See [`AuthError`]; the connection should be dropped after an error.
    server_handshake => Part::Whole(Role::Server);

    /// Runs the client side (answer the peer's challenge, then deliver one) on `conn`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_ipc::{auth, AuthError, Pipe};
    /// let (_server, client) = Pipe::duplex()?;
    /// // Nobody delivers a challenge: the bound ends the wait.
    /// let cfg = auth::HandshakeConfig::default().with_timeout(Duration::from_millis(50));
    /// assert!(matches!(auth::client_handshake(&client, b"secret", &cfg), Err(AuthError::Timeout)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// See [`AuthError`].
    client_handshake => Part::Whole(Role::Client);

    /// CPython's `deliver_challenge`: one half of the handshake, as the challenging side.
    ///
    /// ```
    /// use multiproc_ipc::{auth, Pipe};
    /// // One-way authentication: only the delivering side checks the other.
    /// let (a, b) = Pipe::duplex()?;
    /// let t = std::thread::spawn(move || {
    ///     auth::answer_challenge(&b, b"secret", &auth::HandshakeConfig::default())
    /// });
    /// auth::deliver_challenge(&a, b"secret", &auth::HandshakeConfig::default())?;
    /// t.join().expect("answering thread")?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// See [`AuthError`].
    deliver_challenge => Part::Deliver;

    /// CPython's `answer_challenge`: one half of the handshake, as the answering side.
    ///
    /// ```
    /// use multiproc_ipc::{auth, AuthError, Pipe};
    /// let (a, b) = Pipe::duplex()?;
    /// let t = std::thread::spawn(move || {
    ///     auth::deliver_challenge(&a, b"secret", &auth::HandshakeConfig::default())
    /// });
    /// let mine = auth::answer_challenge(&b, b"guess", &auth::HandshakeConfig::default());
    /// assert!(matches!(mine, Err(AuthError::Rejected)));
    /// assert!(matches!(t.join().expect("delivering thread"), Err(AuthError::WrongDigest)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// See [`AuthError`].
    answer_challenge => Part::Answer;
}

/// `now + timeout`, a timeout too large for the clock (`Duration::MAX`) meaning about
/// a century rather than a panic on overflow.
pub(crate) fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
            .collect()
    }

    #[test]
    fn cpython_312_test_vector() {
        // Key b'secret', nonce 0x00..0x27: response from the reference notes
        // (verified there against CPython 3.14).
        let mut nonce = [0u8; NONCE_LEN];
        for (i, b) in nonce.iter_mut().enumerate() {
            *b = i as u8;
        }
        let hs = Handshake::with_nonce(Role::Server, b"secret", &HandshakeConfig::default(), nonce);
        assert_eq!(&hs.output()[..4], &[0, 0, 0, 0x3b]);
        let resp = respond(b"secret", &hs.output()[4 + CHALLENGE.len()..]).expect("respond");
        let mut want = b"{sha256}".to_vec();
        want.extend(hex(
            "fc57fbe650d6124b98215e7b5d197d5807ad69982d275a9735ea2d56f1fa6989",
        ));
        assert_eq!(resp, want);
    }

    #[test]
    fn legacy_challenge_gets_raw_md5() {
        let r = respond(b"k", &[7u8; 20]).expect("respond");
        assert_eq!(r.len(), 16);
        assert!(verify(b"k", &[7u8; 20], &r, true).is_ok());
        assert!(matches!(
            verify(b"k", &[7u8; 20], &r, false),
            Err(AuthError::LegacyMd5Refused)
        ));
        assert!(matches!(
            verify(b"j", &[7u8; 20], &r, true),
            Err(AuthError::WrongDigest)
        ));
    }

    #[test]
    fn oversized_message_is_refused() {
        let mut hs = Handshake::new(Role::Client, b"k", &HandshakeConfig::default()).expect("new");
        assert!(matches!(
            hs.feed(&[0, 0, 1, 1]),
            Err(AuthError::MessageTooLong(257))
        ));
        let mut hs = Handshake::new(Role::Client, b"k", &HandshakeConfig::default()).expect("new");
        assert!(matches!(
            hs.feed(&[0xff, 0xff, 0xff, 0xff, 0, 0]),
            Err(AuthError::MessageTooLong(_))
        ));
    }
}
