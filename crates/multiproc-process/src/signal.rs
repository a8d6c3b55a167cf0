//! Signal numbers by name ([`signal_name`], [`SignalName`]), for messages about how a
//! process died. Plain data, below the errors that print them.

use std::fmt;

/// The conventional name of Linux signal `sig` (`9` → `"SIGKILL"`), for messages about
/// how a process died; `None` for numbers without a common name.
///
/// ```
/// assert_eq!(multiproc_process::signal_name(15), Some("SIGTERM"));
/// assert_eq!(multiproc_process::signal_name(64), None);
/// ```
pub fn signal_name(sig: i32) -> Option<&'static str> {
    Some(match sig {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        5 => "SIGTRAP",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        10 => "SIGUSR1",
        11 => "SIGSEGV",
        12 => "SIGUSR2",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        15 => "SIGTERM",
        16 => "SIGSTKFLT",
        17 => "SIGCHLD",
        18 => "SIGCONT",
        19 => "SIGSTOP",
        20 => "SIGTSTP",
        21 => "SIGTTIN",
        22 => "SIGTTOU",
        23 => "SIGURG",
        24 => "SIGXCPU",
        25 => "SIGXFSZ",
        26 => "SIGVTALRM",
        27 => "SIGPROF",
        28 => "SIGWINCH",
        29 => "SIGIO",
        30 => "SIGPWR",
        31 => "SIGSYS",
        _ => return None,
    })
}

/// A signal number shown by name (`SIGINT`), or as `signal N` when it has none.
///
/// ```
/// use multiproc_process::SignalName;
/// assert_eq!(SignalName(2).to_string(), "SIGINT");
/// assert_eq!(SignalName(64).to_string(), "signal 64");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignalName(pub i32);

impl fmt::Display for SignalName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match signal_name(self.0) {
            Some(name) => f.write_str(name),
            None => write!(f, "signal {}", self.0),
        }
    }
}
