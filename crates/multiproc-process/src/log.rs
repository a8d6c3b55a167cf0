//! `log_to_stderr`: CPython's life-cycle log lines through `tracing`.

use std::fmt;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::global;

/// Formats events as CPython's multiprocessing logger does: `[INFO/Process-1] message`.
///
/// ```
/// use std::io::Write;
/// use std::sync::{Arc, Mutex};
///
/// #[derive(Clone, Default)]
/// struct Buf(Arc<Mutex<Vec<u8>>>);
/// impl Write for Buf {
///     fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
///         self.0.lock().map_err(|_| std::io::ErrorKind::Other)?.extend_from_slice(b);
///         Ok(b.len())
///     }
///     fn flush(&mut self) -> std::io::Result<()> {
///         Ok(())
///     }
/// }
///
/// let buf = Buf::default();
/// let writer = buf.clone();
/// let subscriber = tracing_subscriber::fmt()
///     .event_format(multiproc_process::CpythonFormat)
///     .with_writer(move || writer.clone())
///     .finish();
/// tracing::subscriber::with_default(subscriber, || tracing::info!("hello"));
/// let line = String::from_utf8(buf.0.lock().map_err(|_| "poisoned")?.clone())?;
/// assert!(line.starts_with("[INFO/"), "{line}");
/// assert!(line.ends_with("] hello\n"), "{line}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct CpythonFormat;

impl<S, N> FormatEvent<S, N> for CpythonFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        // `try_lock`: an event may be emitted while this thread holds the state lock.
        let name = match global::GLOBAL.try_lock() {
            Ok(g) => g.current.name.clone(),
            Err(_) => format!("pid {}", std::process::id()),
        };
        write!(writer, "[{}/{}] ", event.metadata().level(), name)?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

/// Why [`log_to_stderr`] could not install its subscriber.
///
/// ```
/// use multiproc_process::{LogError, log_to_stderr};
/// log_to_stderr(tracing::Level::INFO)?;
/// // a second global subscriber is refused
/// assert!(matches!(log_to_stderr(tracing::Level::INFO), Err(LogError::AlreadyInstalled)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum LogError {
    /// Another global `tracing` subscriber is already installed.
    AlreadyInstalled,
}

impl fmt::Display for LogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a global tracing subscriber is already installed")
    }
}

impl std::error::Error for LogError {}

pub(crate) fn level_to_u8(l: Level) -> u8 {
    match l {
        Level::ERROR => 1,
        Level::WARN => 2,
        Level::INFO => 3,
        Level::DEBUG => 4,
        _ => 5,
    }
}

pub(crate) fn level_from_u8(l: u8) -> Level {
    match l {
        1 => Level::ERROR,
        2 => Level::WARN,
        3 => Level::INFO,
        4 => Level::DEBUG,
        _ => Level::TRACE,
    }
}

pub(crate) fn install(level: Level) -> Result<(), LogError> {
    let sub = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .event_format(CpythonFormat)
        .finish();
    tracing::subscriber::set_global_default(sub).map_err(|_| LogError::AlreadyInstalled)
}

/// Shows multiproc's life-cycle events on standard error, CPython's
/// `log_to_stderr(level)`: `[INFO/Process-1] child process calling self.run()`,
/// `[INFO/Process-1] process shutting down`, `[INFO/Process-1] process exiting with
/// exitcode 0`, `[INFO/MainProcess] calling join() for process Process-1`.
///
/// It installs a global `tracing` subscriber (a `tracing-subscriber` fmt subscriber
/// with [`CpythonFormat`]) and asks children started afterwards under Spawn and
/// ForkServer to do the same (Fork children inherit it).
///
/// ```
/// multiproc_process::log_to_stderr(tracing::Level::INFO)?;
/// # Ok::<(), multiproc_process::LogError>(())
/// ```
///
/// # Errors
/// [`LogError::AlreadyInstalled`] if a global subscriber exists (children are still
/// told to log).
pub fn log_to_stderr(level: Level) -> Result<(), LogError> {
    global::lock().log_level = Some(level_to_u8(level));
    install(level)
}
