//! Seeds 000, 001, 002, 003: `Process`, exit codes, states, logging, start methods.

use std::time::Duration;

use multiproc::{
    Level, Process, StartMethod, current_process, get_all_start_methods, parent_process,
};
use serde::{Deserialize, Serialize};

use crate::{Outcome, check};

fn info(title: &str) -> (u32, u32) {
    println!("{title}");
    println!("module name: {}", module_path!());
    let parent = parent_process().map_or_else(std::os::unix::process::parent_id, |p| p.pid());
    println!("parent process: {parent}");
    println!("process id: {}", std::process::id());
    (parent, std::process::id())
}

fn f(name: String) -> (u32, u32) {
    let ids = info("function f");
    println!("hello {name}");
    ids
}

/// Seed 000: `info('main line')`, then `Process(target=f, args=('bob',))`.
pub fn process_info() -> Outcome {
    let (_, me) = info("main line");
    let p = Process::new(f, ("bob".to_string(),)).start()?;
    let child_pid = p.pid();
    let (parent, pid) = p.join_value()?;
    check(parent == me, "the child's parent is this process")?;
    check(pid == child_pid, "the child reports its own pid")
}

fn fun1(name: String) {
    println!("测试{name}多进程");
}

/// Seed 001, method one: start five processes, join them all.
pub fn process_list() -> Outcome {
    let mut process_list = Vec::new();
    for _ in 0..5 {
        process_list.push(Process::new(fun1, ("Python".to_string(),)).start()?);
    }
    for p in &process_list {
        p.join()?;
    }
    for p in &process_list {
        check(
            p.exitcode() == Some(0),
            format!("{} exited with 0", p.name()),
        )?;
    }
    println!("结束测试");
    Ok(())
}

/// Seed 001, method two: the Python subclass of `Process` with a `run` method becomes a
/// serde type whose `run` method is the target.
#[derive(Debug, Serialize, Deserialize)]
pub struct MyProcess {
    name: String,
}

impl MyProcess {
    fn run(self) -> String {
        println!("测试{}多进程", self.name);
        current_process().name().to_string()
    }
}

/// Seed 001, method two.
pub fn process_struct() -> Outcome {
    let mut process_list = Vec::new();
    for _ in 0..5 {
        let p = Process::new(
            MyProcess::run,
            (MyProcess {
                name: "Python".into(),
            },),
        )
        .start()?;
        process_list.push(p);
    }
    for p in process_list {
        let name = p.name().to_string();
        check(p.join_value()? == name, "run() ran in the named child")?;
    }
    println!("结束测试");
    Ok(())
}

fn exit_error() {
    std::process::exit(1);
}
fn exit_ok() {}
fn return_value() -> i32 {
    1
}
fn raises() {
    panic!("There was an error");
}
fn terminated() {
    std::thread::sleep(Duration::from_secs(3));
}

/// Seed 003: exit codes.
pub fn exit_codes() -> Outcome {
    let mut jobs = Vec::new();
    macro_rules! start {
        ($f:ident) => {{
            println!("Starting process for  {}", stringify!($f));
            let p = Process::new($f, ()).name(stringify!($f)).start()?;
            jobs.push((p.name().to_string(), p.pid(), ExitOf::new(p)));
        }};
    }
    start!(exit_error);
    start!(exit_ok);
    start!(return_value);
    start!(raises);
    start!(terminated);
    if let Some((_, _, last)) = jobs.last() {
        last.terminate()?;
    }
    let mut codes = Vec::new();
    for (name, _, p) in &jobs {
        p.join()?;
        let code = p.exitcode();
        println!(
            "{name:>15} exitcode={}",
            code.map_or("None".into(), |c| c.to_string())
        );
        codes.push(code);
    }
    check(
        codes == [Some(1), Some(0), Some(0), Some(1), Some(-15)],
        format!("exit codes {codes:?} are CPython's [1, 0, 0, 1, -15]"),
    )
}

/// A started process of any return type, for the exit-code table.
struct ExitOf(Box<dyn ExitLike>);
trait ExitLike {
    fn join(&self) -> Result<(), multiproc::process::WaitError>;
    fn exitcode(&self) -> Option<i32>;
    fn terminate(&self) -> Result<(), multiproc::process::WaitError>;
}
impl<R: 'static> ExitLike for Process<R> {
    fn join(&self) -> Result<(), multiproc::process::WaitError> {
        Process::join(self)
    }
    fn exitcode(&self) -> Option<i32> {
        Process::exitcode(self)
    }
    fn terminate(&self) -> Result<(), multiproc::process::WaitError> {
        Process::terminate(self)
    }
}
impl ExitOf {
    fn new<R: 'static>(p: Process<R>) -> Self {
        ExitOf(Box::new(p))
    }
}
impl std::ops::Deref for ExitOf {
    type Target = dyn ExitLike;
    fn deref(&self) -> &Self::Target {
        &*self.0
    }
}

fn slow_worker() {
    println!("Starting worker");
    std::thread::sleep(Duration::from_millis(100));
    println!("Finished worker");
}

/// Seed 003: a process's states around `terminate`.
pub fn process_states() -> Outcome {
    let p = Process::new(slow_worker, ());
    println!("BEFORE: {p} {}", py_bool(p.is_alive()));
    let p = p.start()?;
    println!("DURING: {p} {}", py_bool(p.is_alive()));
    p.terminate()?;
    println!("TERMINATED: {p} {}", py_bool(p.is_alive()));
    p.join()?;
    println!("JOINED: {p} {}", py_bool(p.is_alive()));
    check(!p.is_alive(), "joined process is not alive")?;
    // The child may have finished before the signal landed on a loaded machine.
    check(
        matches!(p.exitcode(), Some(-15) | Some(0)),
        format!("exit code {:?} after terminate", p.exitcode()),
    )
}

fn py_bool(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

fn worker() {
    println!("doing some work");
}

/// Seed 003: `log_to_stderr(logging.DEBUG)` then a child's life cycle.
pub fn log_to_stderr() -> Outcome {
    // A second call (the tour runs this after other scenarios) is refused by the
    // tracing global-subscriber rule; the level still applies to children.
    if let Err(e) = multiproc::log_to_stderr(Level::DEBUG) {
        println!("(log_to_stderr: {e})");
    }
    let p = Process::new(worker, ()).start()?;
    p.join()?;
    check(p.exitcode() == Some(0), "worker exited with 0")
}

fn which() -> String {
    format!(
        "running in {} (pid {})",
        current_process().name(),
        std::process::id()
    )
}

/// Seed 002: the same program under every start method.
pub fn start_methods() -> Outcome {
    for method in get_all_start_methods() {
        let p = Process::new(which, ()).start_method(method).start()?;
        let out = p.join_value()?;
        println!("{:>10}: {out}", method.as_str());
    }
    let _ = StartMethod::ForkServer;
    Ok(())
}
