//! Deadlines for blocking calls, shared by every multiproc crate.

use std::time::{Duration, Instant};

/// When a blocking call gives up.
///
/// ```
/// use std::time::Duration;
/// use multiproc_sync::foundation::Deadline;
/// assert!(Deadline::after(Some(Duration::ZERO)).expired());
/// assert_eq!(Deadline::after(None).remaining(), None);
/// let d = Deadline::after(Some(Duration::from_secs(60)));
/// assert!(!d.expired());
/// assert!(d.slice(Duration::from_millis(20)) <= Duration::from_millis(20));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deadline {
    /// Do not block at all.
    Now,
    /// Block until this instant.
    At(Instant),
    /// Block as long as it takes.
    Never,
}

impl Deadline {
    /// The deadline `timeout` from now: `None` is [`Never`](Self::Never), zero is
    /// [`Now`](Self::Now), a timeout too large for the clock is `Never`.
    pub fn after(timeout: Option<Duration>) -> Deadline {
        match timeout {
            None => Deadline::Never,
            Some(d) if d.is_zero() => Deadline::Now,
            Some(d) => Instant::now()
                .checked_add(d)
                .map_or(Deadline::Never, Deadline::At),
        }
    }

    /// The deadline at `at` (`None`: [`Never`](Self::Never)). A past instant is
    /// already expired, but unlike [`Now`](Self::Now) still lets a caller spin
    /// briefly before giving up.
    pub fn at(at: Option<Instant>) -> Deadline {
        at.map_or(Deadline::Never, Deadline::At)
    }

    /// Time left, `None` for no limit, `Some(ZERO)` when expired.
    pub fn remaining(&self) -> Option<Duration> {
        match self {
            Deadline::Now => Some(Duration::ZERO),
            Deadline::At(t) => Some(t.saturating_duration_since(Instant::now())),
            Deadline::Never => None,
        }
    }

    /// Whether no time is left.
    pub fn expired(&self) -> bool {
        self.remaining().is_some_and(|d| d.is_zero())
    }

    /// The next sleep: at most `slice`, never past the deadline.
    pub fn slice(&self, slice: Duration) -> Duration {
        self.remaining().map_or(slice, |r| r.min(slice))
    }
}

/// Spins with a short exponential backoff until `ready()` holds: `true` as soon as it
/// does, `false` when the backoff is over (at once for [`Deadline::Now`], which never
/// spins). The primitives' step before they sleep in the futex.
#[cfg(not(loom))]
pub(crate) fn backoff_until(deadline: Deadline, ready: impl Fn() -> bool) -> bool {
    if ready() {
        return true;
    }
    if matches!(deadline, Deadline::Now) {
        return false;
    }
    let backoff = crossbeam_utils::Backoff::new();
    while !backoff.is_completed() {
        backoff.snooze();
        if ready() {
            return true;
        }
    }
    false
}
