//! What a manager server logs: a clean shutdown logs no warning (it used to log a
//! false "refused a client" for the connection with which `shutdown()` wakes its own
//! accept loop), while a client that fails the handshake is still reported.
//!
//! One test in this binary: it installs a process-wide subscriber that keeps every
//! event at WARN or above.

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use multiproc_manager::{Address, Error, Manager, Registry};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

use multiproc_test_support::BOUND;

type R = Result<(), Box<dyn std::error::Error>>;

/// The messages of the WARN and ERROR events seen so far.
static SEEN: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn seen() -> Vec<String> {
    SEEN.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
}

/// Keeps the message of every event at WARN or above in [`SEEN`].
struct Warnings;

struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

impl Subscriber for Warnings {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        *metadata.level() <= Level::WARN
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut m = Message(String::new());
        event.record(&mut m);
        SEEN.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(m.0);
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[test]
fn clean_shutdown_logs_no_warning_and_a_wrong_key_still_does() -> R {
    tracing::subscriber::set_global_default(Warnings)?;

    // Over TCP and over an abstract Unix socket: start, use, shut down, drop (which
    // joins the accept thread, so whatever it was to log is logged).
    let tcp = Manager::serve_in_thread(
        Address::Tcp("127.0.0.1:0".parse()?),
        Some(b"key"),
        Registry::new(),
    )?;
    tcp.dict()?.insert(1, 2)?;
    tcp.shutdown()?;
    drop(tcp);
    let local = Manager::in_thread()?;
    local.list()?.append(1)?;
    local.shutdown()?;
    drop(local);
    let warnings = seen();
    assert!(
        warnings.is_empty(),
        "a clean start and shutdown logged {warnings:?}"
    );

    // A real refusal is still reported.
    let m = Manager::serve_in_thread(
        Address::Tcp("127.0.0.1:0".parse()?),
        Some(b"right"),
        Registry::new(),
    )?;
    let addr = m.address().cloned().ok_or("no address")?;
    let r = Manager::connect(addr, Some(b"wrong"));
    assert!(matches!(r, Err(Error::Auth(_))), "{r:?}");
    let deadline = Instant::now() + BOUND;
    while !seen().iter().any(|w| w.contains("refused a client")) {
        assert!(
            Instant::now() < deadline,
            "no warning for a wrong key: {:?}",
            seen()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    m.shutdown()?;
    Ok(())
}
