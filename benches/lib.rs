//! Shared helpers for the benches: where figures go, and how CPython's side is run.
//!
//! Every bench measures, in one `cargo bench` run, multiproc, the raw syscall floor,
//! a Rust peer where one does the same job, and CPython's `multiprocessing` (a script
//! under `benches/py/`). criterion stores our own figures under `target/criterion`;
//! figures measured outside criterion (CPython's, mostly) are recorded with [`record`]
//! into `target/multiproc-bench/<area>.jsonl`, where the report tool
//! (`cargo run --release -p multiproc-benches --bin bench-report`) finds both and writes
//! `docs/benchmarks.md` with charts.

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;

/// The workspace's target directory (honours `CARGO_TARGET_DIR`).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

/// Records one externally measured figure (e.g. CPython's median) for the report.
///
/// `group` should be the criterion group the figure belongs beside, `name` the label
/// of its bar, `median_ns` the median time per operation in nanoseconds (or, for a
/// throughput figure, the time per item).
pub fn record(area: &str, group: &str, name: &str, median_ns: f64, note: &str) {
    let dir = target_dir().join("multiproc-bench");
    if std::fs::create_dir_all(&dir).is_err() {
        return;
    }
    let line = format!(
        "{{\"group\":{},\"name\":{},\"median_ns\":{},\"note\":{}}}\n",
        json_str(group),
        json_str(name),
        if median_ns.is_finite() {
            median_ns
        } else {
            -1.0
        },
        json_str(note)
    );
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(format!("{area}.jsonl")))
    {
        let _ = f.write_all(line.as_bytes());
    }
}

/// Forgets the figures recorded for `area` (call at the start of a bench).
pub fn reset(area: &str) {
    let _ = std::fs::remove_file(
        target_dir()
            .join("multiproc-bench")
            .join(format!("{area}.jsonl")),
    );
}

fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Runs `benches/py/<script>` with `python3` and returns its standard output, or `None`
/// (with a note on stderr) when python3 is absent or the script fails.
pub fn run_python(script: &str, args: &[&str]) -> Option<String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("py")
        .join(script);
    match Command::new("python3").arg(&path).args(args).output() {
        Ok(out) if out.status.success() => String::from_utf8(out.stdout).ok(),
        Ok(out) => {
            eprintln!(
                "cpython baseline {script} failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
            None
        }
        Err(e) => {
            eprintln!("cpython baseline {script} skipped: python3 not runnable ({e})");
            None
        }
    }
}

/// Parses lines of the form `name<whitespace>median_ns` (the format of the scripts in
/// `benches/py/` that use it); other lines are ignored.
pub fn parse_figures(text: &str) -> Vec<(String, f64)> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let name = it.next()?;
            let v: f64 = it.next()?.parse().ok()?;
            Some((name.to_string(), v))
        })
        .collect()
}

/// Runs `child` in a forked process that then exits; returns its pid. The child first
/// closes `close` (the parent's ends, which it inherited); the parent drops `child`,
/// and with it the ends the closure owns.
pub fn fork_child(close: &[std::os::fd::RawFd], child: impl FnOnce()) -> libc::pid_t {
    // SAFETY:
    // - the bench process is single-threaded when this runs (criterion measures on the
    //   main thread and spawns no helpers with our configuration; callers fork before
    //   starting threads of their own), so the child may allocate and lock freely;
    // - the child never returns into criterion: it leaves through `_exit`.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        for &fd in close {
            // SAFETY: `fd` is the child's inherited copy of a parent-owned descriptor;
            // the child never uses the parent's Rust object for it, so closing it here
            // leaves no owner that would close it again (the child exits via `_exit`).
            unsafe { libc::close(fd) };
        }
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(child));
        // SAFETY: `_exit` is always safe to call; it skips atexit handlers and stdio
        // flushing that belong to the parent.
        unsafe { libc::_exit(i32::from(r.is_err())) };
    }
    drop(child);
    pid
}

/// Waits for `pid` (the peer has been told to stop or lost its connection).
pub fn reap(pid: libc::pid_t) {
    let mut status = 0;
    // SAFETY: `pid` is our child; `status` is a valid out-pointer.
    unsafe { libc::waitpid(pid, &mut status, 0) };
}
