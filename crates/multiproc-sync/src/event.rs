//! [`Event`].

use std::fmt;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::deadline::{Deadline, backoff_until};
use crate::error::CreateError;
use crate::mapping::Shared;
use crate::state::EventState;
use crate::sys;

/// A flag that processes can wait for (`multiprocessing.Event`).
///
/// Waiters spin briefly before sleeping on a shared futex, so a waiter on another core
/// sees `set` within microseconds. A process dying has no effect on an event (there is
/// no owner): waiters keep waiting for someone else to `set` it; use
/// [`wait_timeout`](Self::wait_timeout) where the setter may die.
///
/// ```
/// use std::time::Duration;
/// use multiproc_sync::Event;
/// let ev = Event::new()?;
/// assert!(!ev.wait_timeout(Duration::from_millis(1)));
/// ev.set();
/// assert!(ev.is_set());
/// ev.wait();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Serialize, Deserialize)]
pub struct Event {
    st: Shared<EventState>,
}

impl Event {
    /// A new, unset event.
    ///
    /// # Errors
    /// The shared segment could not be created.
    ///
    /// ```
    /// use multiproc_sync::Event;
    /// let ev = Event::new()?;
    /// assert!(!ev.is_set());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new() -> Result<Event, CreateError> {
        Ok(Event {
            st: Shared::new("multiproc-event", 0)?,
        })
    }

    /// The shared state (the async form's hook).
    #[cfg(feature = "tokio")]
    pub(crate) fn state(&self) -> &EventState {
        self.st.get()
    }

    /// Whether the flag is set.
    ///
    /// ```
    /// use multiproc_sync::Event;
    /// let ev = Event::new()?;
    /// ev.set();
    /// assert!(ev.is_set());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_set(&self) -> bool {
        self.st.get().flag.load(Ordering::Acquire) != 0
    }

    /// Sets the flag and wakes every waiter.
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_sync::Event;
    /// let ev = Event::new()?;
    /// ev.set();
    /// assert!(ev.wait_timeout(Duration::ZERO));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set(&self) {
        let st = self.st.get();
        if st.flag.swap(1, Ordering::SeqCst) == 0 && st.sleepers.load(Ordering::SeqCst) > 0 {
            sys::futex_wake(&st.flag, u32::MAX);
        }
    }

    /// Clears the flag.
    ///
    /// ```
    /// use multiproc_sync::Event;
    /// let ev = Event::new()?;
    /// ev.set();
    /// ev.clear();
    /// assert!(!ev.is_set());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn clear(&self) {
        self.st.get().flag.store(0, Ordering::Release);
    }

    /// Blocks until the flag is set.
    ///
    /// ```
    /// use multiproc_sync::Event;
    /// let ev = Event::new()?;
    /// let other = ev.clone();
    /// let t = std::thread::spawn(move || other.set());
    /// ev.wait(); // returns once the other thread set it
    /// assert!(ev.is_set());
    /// assert!(t.join().is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait(&self) {
        self.wait_until(Deadline::Never);
    }

    /// Blocks at most `timeout`; returns whether the flag is set (Python's
    /// `wait(timeout)`). `Duration::ZERO` polls.
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_sync::Event;
    /// let ev = Event::new()?;
    /// assert!(!ev.wait_timeout(Duration::from_millis(10)));
    /// ev.set();
    /// assert!(ev.wait_timeout(Duration::from_secs(60)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.wait_until(Deadline::after(Some(timeout)))
    }

    fn wait_until(&self, deadline: Deadline) -> bool {
        let st = self.st.get();
        if backoff_until(deadline, || st.flag.load(Ordering::Acquire) != 0) {
            return true;
        }
        if matches!(deadline, Deadline::Now) {
            return false;
        }
        st.sleepers.fetch_add(1, Ordering::SeqCst);
        let set = loop {
            if st.flag.load(Ordering::SeqCst) != 0 {
                break true;
            }
            let remaining = deadline.remaining();
            if remaining == Some(Duration::ZERO) {
                break false;
            }
            sys::futex_wait(&st.flag, 0, remaining);
        };
        st.sleepers.fetch_sub(1, Ordering::Relaxed);
        set
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("set", &self.is_set())
            .finish()
    }
}
