//! C exit handlers (`atexit(3)`) of a child (#13, CPython gh-83856): a Spawn or
//! ForkServer child that returns normally runs the handlers it registered, and its C
//! stdio buffers are flushed once; a Fork child runs none, in particular none of its
//! parent's.

use std::io::Write;
use std::sync::OnceLock;

use multiproc_process::{Process, StartMethod};

use crate::TestResult;

/// Where [`write_marker`] appends (set once per process, by the process that
/// registers the handler).
static MARKER: OnceLock<String> = OnceLock::new();

fn append(path: &str, line: &str) {
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = f.write_all(line.as_bytes());
    }
}

extern "C" fn write_marker() {
    if let Some(path) = MARKER.get() {
        append(path, &format!("atexit {}\n", std::process::id()));
    }
}

fn register_marker(path: String) {
    let _ = MARKER.set(path);
    // SAFETY: `write_marker` is a plain `extern "C" fn` that cannot unwind.
    unsafe {
        libc::atexit(write_marker);
    }
}

fn path_for(tag: &str, m: StartMethod) -> String {
    std::env::temp_dir()
        .join(format!("multiproc-cexit-{tag}-{}-{m}", std::process::id()))
        .to_string_lossy()
        .into_owned()
}

/// Registers a C exit handler, points standard output at `out`, leaves a partial line
/// in Rust's and in C's stdout buffers, and returns its pid.
fn registers_and_prints(marker: String, out: String) -> u32 {
    register_marker(marker);
    if let Ok(f) = std::fs::File::create(&out) {
        let _ = rustix::stdio::dup2_stdout(&f);
    }
    print!("rust-partial;");
    // SAFETY: a NUL-terminated format string without conversions.
    unsafe {
        libc::printf(c"c-partial;".as_ptr());
    }
    std::process::id()
}

#[test]
fn spawn_and_forkserver_children_run_their_c_exit_handlers() -> TestResult {
    for m in [StartMethod::Spawn, StartMethod::ForkServer] {
        let marker = path_for("marker", m);
        let out = path_for("out", m);
        let _ = std::fs::remove_file(&marker);
        let p = Process::new(registers_and_prints, (marker.clone(), out.clone()))
            .start_method(m)
            .start()?;
        let pid = p.join_value()?;
        let text = std::fs::read_to_string(&marker).unwrap_or_default();
        let printed = std::fs::read_to_string(&out).unwrap_or_default();
        let _ = std::fs::remove_file(&marker);
        let _ = std::fs::remove_file(&out);
        assert_eq!(text, format!("atexit {pid}\n"), "{m}: the handler ran once");
        // Each buffer is written exactly once (Rust's by the child's exit path, C's by
        // `exit`).
        assert_eq!(
            printed.matches("rust-partial;").count(),
            1,
            "{m}: {printed:?}"
        );
        assert_eq!(printed.matches("c-partial;").count(), 1, "{m}: {printed:?}");
    }
    Ok(())
}

fn fork_child_registers(marker: String) {
    register_marker(marker);
}

fn nothing() {}

/// In a Spawn child of the test: registers a C exit handler, then starts a Fork child
/// that returns (inheriting the handler) and one that registers its own. Neither
/// runs a handler; this process runs its own once, when it ends.
fn parent_registers(marker: String) -> Result<(), String> {
    register_marker(marker.clone());
    let p = Process::new(nothing, ())
        .start_method(StartMethod::Fork)
        .start()
        .map_err(|e| e.to_string())?;
    p.join_value().map_err(|e| e.to_string())?;
    let p = Process::new(fork_child_registers, (marker,))
        .start_method(StartMethod::Fork)
        .start()
        .map_err(|e| e.to_string())?;
    p.join_value().map_err(|e| e.to_string())?;
    Ok(())
}

#[test]
fn fork_children_do_not_run_inherited_c_exit_handlers() -> TestResult {
    let marker = path_for("fork", StartMethod::Fork);
    let _ = std::fs::remove_file(&marker);
    let p = Process::new(parent_registers, (marker.clone(),))
        .start_method(StartMethod::Spawn)
        .start()?;
    let pid = p.pid();
    let r = p.join_value();
    let text = std::fs::read_to_string(&marker).unwrap_or_default();
    let _ = std::fs::remove_file(&marker);
    r??;
    assert_eq!(
        text,
        format!("atexit {pid}\n"),
        "only the Spawn child's own, once"
    );
    Ok(())
}
