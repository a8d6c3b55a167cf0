//! [`Process`] and [`ProcessBuilder`].

use std::ffi::OsStr;
use std::fmt;
use std::marker::PhantomData;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::bootstrap;
use crate::children::{self, unlist};
use crate::error::{ProcessError, StartError, WaitError};
use crate::global;
use crate::handle::Core;
use crate::info::{AuthKey, ProcessInfo};
use crate::method::StartMethod;
use crate::setup::ChildSetup;
use crate::signal::signal_name;
use crate::start::{self, Call, Closure, Launch, Work};
use crate::sys::Signal;
use crate::target::Target;
use crate::wire::ChildError;

/// A process that has not been started yet: CPython's `Process(target=…, args=…)`
/// before `start()`. Made by [`Process::new`] or [`Process::from_closure`].
///
/// ```
/// use multiproc_process::{Process, StartMethod};
/// fn greet(name: String) { println!("hello {name}"); }
///
/// let p = Process::new(greet, ("bob".to_string(),))
///     .name("greeter")
///     .start_method(StartMethod::Spawn);
/// assert_eq!(p.get_name(), "greeter");
/// assert!(!p.is_alive());
/// let p = p.start()?;
/// p.join()?;
/// assert_eq!(p.exitcode(), Some(0));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "a process does nothing until it is started"]
pub struct ProcessBuilder<R> {
    work: Box<dyn Work>,
    name: String,
    identity: Vec<u32>,
    daemon: Option<bool>,
    method: Option<StartMethod>,
    authkey: Option<AuthKey>,
    ignore_sigint: bool,
    setup: ChildSetup,
    _r: PhantomData<fn() -> R>,
}

impl<R> fmt::Debug for ProcessBuilder<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessBuilder")
            .field("name", &self.name)
            .field("daemon", &self.daemon)
            .field("method", &self.method)
            .field("authkey", &self.authkey)
            .field("ignore_sigint", &self.ignore_sigint)
            .field("env_clear", &self.setup.env_clear)
            .field("env", &self.setup.env)
            .field("current_dir", &self.setup.cwd)
            .finish_non_exhaustive()
    }
}

impl<R> fmt::Display for ProcessBuilder<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<Process name='{}' initial", self.name)?;
        if self.daemon == Some(true) {
            write!(f, " daemon")?;
        }
        write!(f, ">")
    }
}

fn next_identity() -> (String, Vec<u32>) {
    let mut g = global::lock();
    let n = g.counter;
    g.counter += 1;
    let mut identity = g.current.identity.clone();
    identity.push(n);
    let name = format!(
        "Process-{}",
        identity
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(":")
    );
    (name, identity)
}

impl<R: Serialize + DeserializeOwned + Send + 'static> ProcessBuilder<R> {
    fn with_work(work: Box<dyn Work>) -> Self {
        let (name, identity) = next_identity();
        ProcessBuilder {
            work,
            name,
            identity,
            daemon: None,
            method: None,
            authkey: None,
            ignore_sigint: false,
            setup: ChildSetup::default(),
            _r: PhantomData,
        }
    }

    /// Sets the name (default `Process-N`, or `Process-M:N` in a child).
    ///
    /// ```
    /// use multiproc_process::{Process, current_process};
    /// fn my_name() -> String { current_process().name().to_string() }
    /// let p = Process::new(my_name, ()).name("worker-1").start()?;
    /// assert_eq!(p.name(), "worker-1");
    /// assert_eq!(p.join_value()?, "worker-1"); // the child sees it too
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Makes the process a daemon (default: the current process's flag, as in CPython).
    /// A daemon is killed when its parent exits — by SIGKILL too — and may not start
    /// children of its own.
    ///
    /// ```
    /// use multiproc_process::{Process, StartError};
    /// fn noop() {}
    /// fn start_a_grandchild() -> bool {
    ///     matches!(Process::new(noop, ()).start(), Err(StartError::DaemonCannotHaveChildren))
    /// }
    /// let p = Process::new(start_a_grandchild, ()).daemon(true).start()?;
    /// assert!(p.daemon());
    /// assert!(p.join_value()?, "a daemon may not start children");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn daemon(mut self, daemon: bool) -> Self {
        self.daemon = Some(daemon);
        self
    }

    /// Sets the child's authentication key (CPython's `Process(…).authkey = b'…'`;
    /// default: the current process's, see [`ProcessInfo::authkey`]). Any bytes.
    ///
    /// ```
    /// use multiproc_process::{Process, current_process};
    /// fn key() -> Vec<u8> { current_process().authkey().to_vec() }
    /// let p = Process::new(key, ()).authkey(b"for this child").start()?;
    /// assert_eq!(p.info().authkey(), b"for this child");
    /// assert_eq!(p.join_value()?, b"for this child");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn authkey(mut self, key: impl AsRef<[u8]>) -> Self {
        self.authkey = Some(AuthKey::new(key.as_ref()));
        self
    }

    /// Makes the child ignore SIGINT (default `false`: it dies of it, as a Rust
    /// program does). A terminal's Ctrl-C reaches every process of the foreground
    /// group; a child that ignores it keeps running, and the parent decides what
    /// happens — with [`catch_interrupts`](crate::catch_interrupts) it learns of the
    /// Ctrl-C, then lets the child finish, or [`terminate`](Process::terminate)s it.
    /// CPython programs do this with `signal.signal(SIGINT, SIG_IGN)` first thing in
    /// the target. The child can still be stopped with `terminate` or `kill`, and it
    /// starts its own children with the default action.
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_process::Process;
    /// fn wait_long() { std::thread::sleep(Duration::from_secs(120)) }
    /// let p = Process::new(wait_long, ()).ignore_sigint(true).start()?;
    /// p.interrupt()?;
    /// assert!(!p.join_timeout(Duration::from_millis(50))?); // still running
    /// p.terminate()?;
    /// p.join()?;
    /// assert_eq!(p.exitcode(), Some(-15));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn ignore_sigint(mut self, ignore: bool) -> Self {
        self.ignore_sigint = ignore;
        self
    }

    /// Sets an environment variable of the child (`std::process::Command::env`;
    /// CPython children take `os.environ` as it is). The child's environment is the
    /// one it inherits — the parent's at `start()` under Fork and Spawn, the fork
    /// server's (the parent's when the server was started) under ForkServer —
    /// changed by [`env`](Self::env), [`env_remove`](Self::env_remove) and
    /// [`env_clear`](Self::env_clear) in call order. Spawn hands it to `execve`, so
    /// the new program sees it from its first instruction; Fork and ForkServer
    /// children set it before anything else they run for the target (with
    /// `std::env::set_var`, the child having a single thread then). Under Fork that
    /// takes std's environment lock in the child, so it carries the Fork caveat of
    /// any target: another thread of the parent reading or writing a variable at the
    /// instant of the fork would leave that lock held for ever in the child.
    ///
    /// ```
    /// use multiproc_process::{Process, StartMethod};
    /// fn var(name: String) -> Option<String> { std::env::var(name).ok() }
    /// for method in [StartMethod::Fork, StartMethod::Spawn, StartMethod::ForkServer] {
    ///     let p = Process::new(var, ("GREETING".to_string(),))
    ///         .env("GREETING", "hello")
    ///         .start_method(method)
    ///         .start()?;
    ///     assert_eq!(p.join_value()?.as_deref(), Some("hello"));
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.setup.env.push((
            key.as_ref().to_os_string(),
            Some(value.as_ref().to_os_string()),
        ));
        self
    }

    /// Removes an environment variable from the child's environment (see
    /// [`env`](Self::env)).
    ///
    /// ```
    /// use multiproc_process::{Process, StartMethod};
    /// fn var(name: String) -> Option<String> { std::env::var(name).ok() }
    /// for method in [StartMethod::Fork, StartMethod::Spawn, StartMethod::ForkServer] {
    ///     let p = Process::new(var, ("GREETING".to_string(),))
    ///         .env("GREETING", "hello")
    ///         .env_remove("GREETING") // in call order: removed again
    ///         .start_method(method)
    ///         .start()?;
    ///     assert_eq!(p.join_value()?, None);
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Self {
        self.setup.env.push((key.as_ref().to_os_string(), None));
        self
    }

    /// Starts the child from an empty environment: only the variables set with
    /// [`env`](Self::env) after this call reach it (see [`env`](Self::env)).
    ///
    /// ```
    /// use multiproc_process::{Process, StartMethod};
    /// fn vars() -> Vec<String> { std::env::vars().map(|(k, _)| k).collect() }
    /// for method in [StartMethod::Fork, StartMethod::Spawn, StartMethod::ForkServer] {
    ///     let p = Process::new(vars, ())
    ///         .env("DROPPED", "1")
    ///         .env_clear()
    ///         .env("ONLY", "1")
    ///         .start_method(method)
    ///         .start()?;
    ///     assert_eq!(p.join_value()?, ["ONLY"]);
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn env_clear(mut self) -> Self {
        self.setup.env_clear = true;
        self.setup.env.clear();
        self
    }

    /// Sets the child's working directory (`std::process::Command::current_dir`). A
    /// relative path is taken from the parent's working directory at `start()`. The
    /// child changes directory itself before its target (and before the
    /// [start-up hook](crate::set_child_startup)) under every start method; a
    /// directory it cannot enter ends it with exit code 1 and that error from
    /// [`join_value`](Process::join_value).
    ///
    /// ```
    /// use multiproc_process::{Process, StartMethod};
    /// fn cwd() -> std::path::PathBuf { std::env::current_dir().expect("a working directory") }
    /// let dir = std::env::temp_dir().canonicalize()?;
    /// for method in [StartMethod::Fork, StartMethod::Spawn, StartMethod::ForkServer] {
    ///     let p = Process::new(cwd, ()).current_dir(&dir).start_method(method).start()?;
    ///     assert_eq!(p.join_value()?, dir);
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Self {
        let dir = dir.as_ref();
        // Relative to this process's directory now, whatever the child inherits.
        let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
        self.setup.cwd = Some(dir.into_os_string());
        self
    }

    /// Chooses the start method (default: the process-wide one, see
    /// [`get_start_method`](crate::get_start_method)).
    ///
    /// ```
    /// use multiproc_process::{Process, StartMethod};
    /// fn pid() -> u32 { std::process::id() }
    /// for method in [StartMethod::Fork, StartMethod::Spawn, StartMethod::ForkServer] {
    ///     let p = Process::new(pid, ()).start_method(method).start()?;
    ///     assert_eq!(p.start_method(), method);
    ///     let child = p.pid();
    ///     assert_eq!(p.join_value()?, child);
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn start_method(mut self, method: StartMethod) -> Self {
        self.method = Some(method);
        self
    }

    /// The name the process will have.
    ///
    /// ```
    /// use multiproc_process::Process;
    /// fn noop() {}
    /// assert!(Process::new(noop, ()).get_name().starts_with("Process-"));
    /// assert_eq!(Process::new(noop, ()).name("n").get_name(), "n");
    /// ```
    pub fn get_name(&self) -> &str {
        &self.name
    }

    /// Whether the process will be a daemon (CPython's `daemon` before `start()`): as
    /// set with [`daemon`](Self::daemon), else the current process's flag.
    ///
    /// ```
    /// use multiproc_process::Process;
    /// fn noop() {}
    /// assert!(!Process::new(noop, ()).get_daemon());
    /// assert!(Process::new(noop, ()).daemon(true).get_daemon());
    /// ```
    pub fn get_daemon(&self) -> bool {
        self.daemon.unwrap_or_else(|| global::lock().current.daemon)
    }

    /// Always `false`: the process has not started (CPython's `is_alive()` before `start()`).
    ///
    /// ```
    /// use multiproc_process::Process;
    /// fn noop() {}
    /// assert!(!Process::new(noop, ()).is_alive());
    /// ```
    pub fn is_alive(&self) -> bool {
        false
    }

    /// Starts the process (CPython's `start()`), returning its handle.
    ///
    /// ```
    /// use multiproc_process::Process;
    /// fn add(a: i64, b: i64) -> i64 { a + b }
    /// let p = Process::new(add, (2, 3)).start()?;
    /// assert!(p.pid() > 0);
    /// assert_eq!(p.join_value()?, 5);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`StartError`]: a closure under a non-fork method, a daemon starting a child,
    /// arguments that cannot be encoded, or an OS failure (`fork`, `execve`, …).
    pub fn start(self) -> Result<Process<R>, StartError> {
        std::hint::black_box(&bootstrap::CTOR);
        if bootstrap::bootstrap_pending() {
            return Err(StartError::BootstrapNotRun);
        }
        let (me, log_level, parent_key, startup) = {
            let mut g = global::lock();
            let key = global::current_key(&mut g);
            (g.current.clone(), g.log_level, key, g.startup)
        };
        if me.daemon {
            return Err(StartError::DaemonCannotHaveChildren);
        }
        let method = self.method.unwrap_or_else(global::start_method);
        #[cfg(feature = "tokio")]
        crate::runtime::check_start_method(method)?;
        let daemon = self.daemon.unwrap_or(me.daemon);
        children::reap_finished();
        children::ensure_atexit();
        let info = Arc::new(ProcessInfo {
            name: self.name,
            pid: 0,
            daemon,
            identity: self.identity,
            authkey: Some(self.authkey.unwrap_or(parent_key)),
        });
        let started = start::starter(method)(Launch {
            work: self.work,
            info,
            parent: me,
            daemon,
            method,
            log_level,
            ignore_sigint: self.ignore_sigint,
            setup: self.setup,
            startup,
        })?;
        let core = Arc::new(Core::new(
            started.info,
            method,
            started.result,
            started.sentinel,
        ));
        global::lock().children.push(core.clone());
        Ok(Process {
            core,
            _r: PhantomData,
        })
    }
}
/// A started process (CPython's `multiprocessing.Process` after `start()`).
///
/// `R` is the target's return type, handed back by [`join_value`](Self::join_value).
/// All methods take `&self`; the handle is `Send + Sync`. Dropping it does not stop
/// the process: it keeps running and is reaped in the background (no zombie).
///
/// A handle holds two descriptors (three for a ForkServer child): the result socket
/// and a pidfd (its [`sentinel`](Self::sentinel)). Once the exit has been observed
/// (`join`, `exitcode`, `is_alive`, …) they are closed with the last handle.
///
/// ```
/// use multiproc_process::{Process, ProcessError};
/// fn square(x: i64) -> i64 { x * x }
/// fn boom() { panic!("there was an error") }
///
/// let p = Process::new(square, (7,)).start()?;
/// assert_eq!(p.join_value()?, 49);
///
/// let p = Process::new(boom, ()).start()?;
/// p.join()?;
/// assert_eq!(p.exitcode(), Some(1));
/// match p.join_value() {
///     Err(ProcessError::Panicked { message, .. }) => assert_eq!(message, "there was an error"),
///     other => panic!("{other:?}"),
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Process<R = ()> {
    core: Arc<Core>,
    _r: PhantomData<fn() -> R>,
}

impl Process<()> {
    /// A process that will call `f(args…)`: `Process::new(greet, ("bob".into(),))` is
    /// CPython's `Process(target=greet, args=('bob',))`. Works under every start method.
    /// `f` must be a function item or a non-capturing closure (checked at compile time).
    #[expect(
        clippy::new_ret_no_self,
        reason = "CPython's `Process(target=…)` is a process before `start()`: a builder"
    )]
    pub fn new<F, A>(f: F, args: A) -> ProcessBuilder<F::Output>
    where
        F: Target<A>,
        A: Serialize + DeserializeOwned + Send + 'static,
    {
        assert_process_target!(F);
        ProcessBuilder::with_work(Box::new(Call { f, args }))
    }

    /// A process that will run a capturing closure. Only the [`StartMethod::Fork`]
    /// start method can run it (the closure's captures live in this process's memory);
    /// starting it otherwise is [`StartError::ClosureNeedsFork`].
    ///
    /// ```
    /// use multiproc_process::{Process, StartMethod};
    /// let base = 40;
    /// let p = Process::from_closure(move || base + 2)
    ///     .start_method(StartMethod::Fork)
    ///     .start()?;
    /// assert_eq!(p.join_value()?, 42);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_closure<C, T>(c: C) -> ProcessBuilder<T>
    where
        C: FnOnce() -> T + Send + 'static,
        T: Serialize + DeserializeOwned + Send + 'static,
    {
        ProcessBuilder::with_work(Box::new(Closure(c)))
    }
}

impl<R> fmt::Debug for Process<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Process")
            .field("name", &self.core.info.name)
            .field("pid", &self.core.info.pid)
            .field("daemon", &self.core.info.daemon)
            .field("method", &self.core.method)
            .finish_non_exhaustive()
    }
}

/// CPython's repr: `<Process name='Process-1' pid=123 parent=122 started>`, then
/// `stopped exitcode=0` or `stopped exitcode=-SIGTERM`.
impl<R> fmt::Display for Process<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.core;
        write!(
            f,
            "<Process name='{}' pid={} parent={} ",
            c.info.name, c.info.pid, c.owner
        )?;
        match c.exitcode() {
            None => write!(f, "started")?,
            Some(code) if code < 0 => match signal_name(-code) {
                Some(name) => write!(f, "stopped exitcode=-{name}")?,
                None => write!(f, "stopped exitcode={code}")?,
            },
            Some(code) => write!(f, "stopped exitcode={code}")?,
        }
        if c.info.daemon {
            write!(f, " daemon")?;
        }
        write!(f, ">")
    }
}

impl<R> Process<R> {
    /// The shared, non-generic part of the handle (the async join watches it).
    #[cfg(feature = "tokio")]
    pub(crate) fn core(&self) -> &Arc<Core> {
        &self.core
    }

    /// The process id (CPython's `pid`).
    ///
    /// ```
    /// use multiproc_process::Process;
    /// fn pid() -> u32 { std::process::id() }
    /// let p = Process::new(pid, ()).start()?;
    /// let reported = p.pid();
    /// assert_ne!(reported, std::process::id());
    /// assert_eq!(p.join_value()?, reported);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pid(&self) -> u32 {
        self.core.info.pid
    }

    /// CPython's `ident`: the process id.
    ///
    /// ```
    /// use multiproc_process::Process;
    /// fn nothing() {}
    /// let p = Process::new(nothing, ()).start()?;
    /// assert_eq!(p.ident(), p.pid());
    /// p.join()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn ident(&self) -> u32 {
        self.core.info.pid
    }

    /// The name.
    ///
    /// ```
    /// use multiproc_process::Process;
    /// fn nothing() {}
    /// let p = Process::new(nothing, ()).name("worker").start()?;
    /// assert_eq!(p.name(), "worker");
    /// p.join()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn name(&self) -> &str {
        &self.core.info.name
    }

    /// Whether it is a daemon.
    ///
    /// ```
    /// use multiproc_process::Process;
    /// fn nothing() {}
    /// let p = Process::new(nothing, ()).daemon(true).start()?;
    /// assert!(p.daemon());
    /// p.join()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn daemon(&self) -> bool {
        self.core.info.daemon
    }

    /// The start method it was started with.
    ///
    /// ```
    /// use multiproc_process::{Process, StartMethod};
    /// fn nothing() {}
    /// let p = Process::new(nothing, ()).start_method(StartMethod::Spawn).start()?;
    /// assert_eq!(p.start_method(), StartMethod::Spawn);
    /// p.join()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn start_method(&self) -> StartMethod {
        self.core.method
    }

    /// Who the process is, as [`current_process`](crate::current_process) says inside it.
    ///
    /// ```
    /// use multiproc_process::Process;
    /// fn nothing() {}
    /// let p = Process::new(nothing, ()).name("w").start()?;
    /// assert_eq!((p.info().name(), p.info().pid()), ("w", p.pid()));
    /// p.join()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn info(&self) -> &ProcessInfo {
        &self.core.info
    }

    /// Whether the process is still running (non-blocking; reaps it if it has exited).
    ///
    /// In a process that holds a copy of the handle without being the parent (one
    /// inherited through a fork), this still answers, from the pidfd; CPython raises
    /// `AssertionError('can only test a child process')` there.
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_process::Process;
    /// fn sleepy() { std::thread::sleep(Duration::from_secs(60)); }
    /// let p = Process::new(sleepy, ()).start()?;
    /// assert!(p.is_alive());
    /// p.kill()?;
    /// p.join()?;
    /// assert!(!p.is_alive());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_alive(&self) -> bool {
        let alive = self.core.is_alive();
        if !alive {
            unlist(&self.core);
        }
        alive
    }

    /// `None` while running, then `0` on return, `1` on panic, `N` after
    /// `std::process::exit(N)`, `-N` when killed by signal `N` (CPython's `exitcode`).
    /// In a process that is not the parent: the code known when the handle was
    /// inherited, if any (only the parent collects it).
    ///
    /// ```
    /// use multiproc_process::Process;
    /// fn fail() { std::process::exit(3); }
    /// let p = Process::new(fail, ()).start()?;
    /// p.join()?;
    /// assert_eq!(p.exitcode(), Some(3));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn exitcode(&self) -> Option<i32> {
        let code = self.core.exitcode();
        if code.is_some() {
            unlist(&self.core);
        }
        code
    }

    /// Waits for the process to exit and reaps it (CPython's `join()`). Reads the
    /// result while waiting, so a large return value cannot deadlock.
    ///
    /// # Errors
    /// [`WaitError::NotParent`] when called in a process other than the one that
    /// started it; [`WaitError::Io`] when `poll`/`waitid` failed.
    ///
    /// ```
    /// use multiproc_process::Process;
    /// fn nothing() {}
    /// let p = Process::new(nothing, ()).start()?;
    /// p.join()?;
    /// assert_eq!(p.exitcode(), Some(0));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn join(&self) -> Result<(), WaitError> {
        self.core.wait(None)?;
        unlist(&self.core);
        Ok(())
    }

    /// Waits at most `timeout`; returns whether the process has exited (CPython's
    /// `join(timeout)` followed by a look at `exitcode`).
    ///
    /// The family: [`join`](Self::join) waits as long as it takes, `join_timeout` at
    /// most a given time, [`is_alive`](Self::is_alive)/[`exitcode`](Self::exitcode)
    /// look without waiting, [`join_value`](Self::join_value) also takes the result.
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_ipc::{Connection, Pipe};
    /// use multiproc_process::Process;
    ///
    /// fn wait_for_go(conn: Connection) -> u8 {
    ///     conn.recv::<u8>().unwrap_or(0)
    /// }
    ///
    /// let (mine, theirs) = Pipe::duplex()?;
    /// let p = Process::new(wait_for_go, (theirs,)).start()?;
    /// assert!(!p.join_timeout(Duration::from_millis(10))?); // blocked on `recv`
    /// assert!(p.is_alive());
    /// assert_eq!(p.exitcode(), None);
    /// mine.send(&7u8)?;
    /// assert!(p.join_timeout(Duration::from_secs(60))?);
    /// p.join()?; // exited: returns at once
    /// assert_eq!(p.exitcode(), Some(0));
    /// assert_eq!(p.join_value()?, 7);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`join`](Self::join).
    pub fn join_timeout(&self, timeout: Duration) -> Result<bool, WaitError> {
        // A timeout past the end of `Instant` (`Duration::MAX`) waits without bound.
        let exited = self.core.wait(Instant::now().checked_add(timeout))?;
        if exited {
            unlist(&self.core);
        }
        Ok(exited)
    }

    /// Sends SIGTERM (CPython's `terminate()`); nothing happens if it has exited.
    ///
    /// The family: `terminate` (SIGTERM), [`interrupt`](Self::interrupt) (SIGINT),
    /// [`kill`](Self::kill) (SIGKILL); then join, bounded.
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_ipc::{Connection, Pipe};
    /// use multiproc_process::Process;
    ///
    /// fn wait_for_eof(conn: Connection) {
    ///     let _ = conn.recv::<u8>();
    /// }
    ///
    /// let (_keep, theirs) = Pipe::duplex()?;
    /// let p = Process::new(wait_for_eof, (theirs,)).start()?;
    /// p.terminate()?;
    /// assert!(p.join_timeout(Duration::from_secs(60))?);
    /// assert_eq!(p.exitcode(), Some(-15));
    ///
    /// let (_keep, theirs) = Pipe::duplex()?;
    /// let p = Process::new(wait_for_eof, (theirs,)).start()?;
    /// p.kill()?;
    /// assert!(p.join_timeout(Duration::from_secs(60))?);
    /// assert_eq!(p.exitcode(), Some(-9));
    /// p.kill()?; // exited: nothing happens
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    /// The signal goes through the pidfd, so it can never hit a recycled pid.
    ///
    /// # Errors
    /// `pidfd_send_signal` failed with something other than "no such process".
    pub fn terminate(&self) -> Result<(), WaitError> {
        self.core.signal(Signal::TERM)
    }

    /// Sends SIGINT (CPython 3.14's `interrupt()`): what Ctrl-C on a terminal sends.
    /// A child with the default action dies of it (`exitcode()` is `-2`, shown as
    /// `SIGINT`); one started with
    /// [`ignore_sigint(true)`](ProcessBuilder::ignore_sigint) does not.
    ///
    /// ```
    /// use multiproc_process::{Process, ProcessError};
    /// fn wait_long() { std::thread::sleep(std::time::Duration::from_secs(120)) }
    /// let p = Process::new(wait_long, ()).start()?;
    /// p.interrupt()?;
    /// p.join()?;
    /// assert_eq!(p.exitcode(), Some(-2));
    /// assert!(p.to_string().ends_with("stopped exitcode=-SIGINT>"));
    /// let e = p.join_value().expect_err("it was interrupted");
    /// assert!(matches!(e, ProcessError::Killed(2)));
    /// assert_eq!(e.to_string(), "process was killed by SIGINT");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`terminate`](Self::terminate).
    pub fn interrupt(&self) -> Result<(), WaitError> {
        self.core.signal(Signal::INT)
    }

    /// Sends SIGKILL (CPython's `kill()`).
    ///
    /// # Errors
    /// As [`terminate`](Self::terminate).
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_process::Process;
    /// fn sleepy() { std::thread::sleep(Duration::from_secs(60)); }
    /// let p = Process::new(sleepy, ()).start()?;
    /// p.kill()?;
    /// p.join()?;
    /// assert_eq!(p.exitcode(), Some(-9)); // SIGKILL
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn kill(&self) -> Result<(), WaitError> {
        self.core.signal(Signal::KILL)
    }

    /// A descriptor that becomes readable when the process exits (a pidfd): CPython's
    /// `sentinel`, for `poll` or `multiproc_ipc::wait`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_process::Process;
    /// fn nothing() {}
    /// let p = Process::new(nothing, ()).start()?;
    /// let sentinels = [p.sentinel()];
    /// let ready = multiproc_ipc::wait(&sentinels, Some(Duration::from_secs(60)))?;
    /// assert_eq!(ready.len(), 1); // readable: it exited
    /// p.join()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn sentinel(&self) -> BorrowedFd<'_> {
        self.core.pidfd()
    }

    /// Releases the handle (CPython's `close()`). Consuming, so no method can be
    /// called afterwards; a process that is still running is handed back in the error.
    ///
    /// # Errors
    /// [`CloseError`] if the process is still running.
    ///
    /// ```
    /// use multiproc_process::Process;
    /// fn nothing() {}
    /// let p = Process::new(nothing, ()).start()?;
    /// p.join()?;
    /// assert!(p.close().is_ok()); // ended: its resources are released
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn close(self) -> Result<(), CloseError<R>> {
        if self.is_alive() {
            return Err(CloseError { process: self });
        }
        Ok(())
    }
}

impl<R: DeserializeOwned> Process<R> {
    /// Waits for the process and returns the target's value — beyond CPython.
    ///
    /// # Errors
    /// [`ProcessError::Panicked`] with the panic message, [`ProcessError::Exited`] /
    /// [`ProcessError::Killed`] when no value came back, [`ProcessError::Bootstrap`]
    /// when the child could not run the target, [`ProcessError::Decode`],
    /// [`ProcessError::ResultTooLarge`] for a value over the 256 MiB frame limit,
    /// [`ProcessError::Wait`] (including [`WaitError::NotParent`]).
    ///
    /// ```
    /// use multiproc_process::Process;
    /// fn square(x: i64) -> i64 { x * x }
    /// assert_eq!(Process::new(square, (9,)).start()?.join_value()?, 81);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn join_value(self) -> Result<R, ProcessError> {
        self.core.wait(None)?;
        unlist(&self.core);
        let (bytes, fds, code) = self.core.take_result()?;
        match multiproc_ipc::decode::<Result<R, ChildError>>(&bytes, fds) {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(ChildError::Panic { message, backtrace })) => Err(ProcessError::Panicked {
                message,
                backtrace,
                exitcode: code,
            }),
            Ok(Err(ChildError::Bootstrap(why))) => Err(ProcessError::Bootstrap(why)),
            Ok(Err(ChildError::ResultTooLarge { size, limit })) => {
                Err(ProcessError::ResultTooLarge {
                    announced: size,
                    limit,
                })
            }
            Err(e) => Err(ProcessError::Decode(e)),
        }
    }
}

impl<R> Drop for Process<R> {
    fn drop(&mut self) {
        if self.core.owner != std::process::id() {
            return;
        }
        if self.core.exitcode().is_some() {
            // Finished: its descriptors go with this handle, unless another is left.
            unlist(&self.core);
            return;
        }
        // Still running: reap it (and drain its result) in the background.
        let core = self.core.clone();
        let _ = std::thread::Builder::new()
            .name("multiproc-reaper".into())
            .spawn(move || {
                if let Ok(true) = core.wait(None) {
                    unlist(&core);
                }
            });
    }
}

impl<R> AsFd for Process<R> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sentinel()
    }
}

/// CPython's `active_children()`: the live children of this process (finished ones are
/// reaped on the way).
///
/// ```
/// assert!(multiproc_process::active_children().is_empty());
/// ```
pub fn active_children() -> Vec<ProcessInfo> {
    children::cleanup()
        .iter()
        .map(|c| (*c.info).clone())
        .collect()
}

/// [`Process::close`] was called while the process was still
/// running; the process is handed back.
///
/// ```
/// use std::time::Duration;
/// use multiproc_ipc::{Connection, Pipe};
/// use multiproc_process::Process;
///
/// fn wait_for_eof(conn: Connection) {
///     let _ = conn.recv::<u8>();
/// }
///
/// let (mine, theirs) = Pipe::duplex()?;
/// let p = Process::new(wait_for_eof, (theirs,)).start()?;
/// let p = p.close().expect_err("still running").process; // handed back
/// drop(mine); // the child sees end-of-file and returns
/// assert!(p.join_timeout(Duration::from_secs(60))?);
/// assert!(p.close().is_ok());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct CloseError<R> {
    /// The process, still running.
    pub process: Process<R>,
}

impl<R> fmt::Debug for CloseError<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CloseError")
            .field("process", &self.process)
            .finish()
    }
}

impl<R> fmt::Display for CloseError<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot close a process while it is still running; join or terminate it first"
        )
    }
}

impl<R> std::error::Error for CloseError<R> {}
