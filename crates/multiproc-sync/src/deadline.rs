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
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_sync::foundation::Deadline;
    /// assert_eq!(Deadline::after(None), Deadline::Never);
    /// assert_eq!(Deadline::after(Some(Duration::ZERO)), Deadline::Now);
    /// assert_eq!(Deadline::after(Some(Duration::MAX)), Deadline::Never);
    /// assert!(matches!(Deadline::after(Some(Duration::from_secs(1))), Deadline::At(_)));
    /// ```
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
    ///
    /// ```
    /// use std::time::Instant;
    /// use multiproc_sync::foundation::Deadline;
    /// assert_eq!(Deadline::at(None), Deadline::Never);
    /// let past = Deadline::at(Some(Instant::now()));
    /// assert!(past.expired());
    /// assert_ne!(past, Deadline::Now);
    /// ```
    pub fn at(at: Option<Instant>) -> Deadline {
        at.map_or(Deadline::Never, Deadline::At)
    }

    /// Time left, `None` for no limit, `Some(ZERO)` when expired.
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_sync::foundation::Deadline;
    /// assert_eq!(Deadline::Never.remaining(), None);
    /// assert_eq!(Deadline::Now.remaining(), Some(Duration::ZERO));
    /// let left = Deadline::after(Some(Duration::from_secs(60))).remaining();
    /// assert!(left.is_some_and(|d| d <= Duration::from_secs(60)));
    /// ```
    pub fn remaining(&self) -> Option<Duration> {
        match self {
            Deadline::Now => Some(Duration::ZERO),
            Deadline::At(t) => Some(t.saturating_duration_since(Instant::now())),
            Deadline::Never => None,
        }
    }

    /// Whether no time is left.
    ///
    /// ```
    /// use multiproc_sync::foundation::Deadline;
    /// assert!(Deadline::Now.expired());
    /// assert!(!Deadline::Never.expired());
    /// ```
    pub fn expired(&self) -> bool {
        self.remaining().is_some_and(|d| d.is_zero())
    }

    /// The next sleep: at most `slice`, never past the deadline.
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_sync::foundation::Deadline;
    /// let slice = Duration::from_millis(20);
    /// assert_eq!(Deadline::Never.slice(slice), slice);
    /// assert_eq!(Deadline::Now.slice(slice), Duration::ZERO);
    /// ```
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
