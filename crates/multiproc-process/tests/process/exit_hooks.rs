//! `at_exit`: a child's exit hooks run when it ends normally (its target returned or
//! panicked), last registered first, under every start method; not when it is killed;
//! and a parent's hooks never run in its children.

use std::io::Write;
use std::time::{Duration, Instant};

use multiproc_process::{Process, StartMethod, at_exit};

use crate::{BOUND, METHODS, TestResult};

fn marker_path(tag: &str, m: StartMethod) -> String {
    std::env::temp_dir()
        .join(format!("multiproc-hook-{tag}-{}-{m}", std::process::id()))
        .to_string_lossy()
        .into_owned()
}

fn append(path: &str, line: &str) {
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = f.write_all(line.as_bytes());
    }
}

/// Registers two hooks, says so in the file, then returns (0), panics (1) or waits to
/// be killed (2).
fn hooks_then(path: String, how: u8) -> u8 {
    let first = path.clone();
    at_exit(move || append(&first, "first\n"));
    let second = path.clone();
    at_exit(move || append(&second, "second\n"));
    append(&path, "registered\n");
    match how {
        0 => 7,
        1 => panic!("the target fails"),
        _ => loop {
            // Waits to be killed by the parent (which polls the file first).
            std::thread::sleep(Duration::from_secs(1));
        },
    }
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[test]
fn exit_hooks_run_on_return_and_panic_in_reverse_order() -> TestResult {
    for m in METHODS {
        for how in [0u8, 1] {
            let path = marker_path(&format!("normal{how}"), m);
            let _ = std::fs::remove_file(&path);
            let p = Process::new(hooks_then, (path.clone(), how))
                .start_method(m)
                .start()?;
            p.join_timeout(BOUND)?;
            let code = p.exitcode();
            let text = read(&path);
            let _ = std::fs::remove_file(&path);
            assert_eq!(code, Some(i32::from(how)), "{m} how={how}");
            assert_eq!(text, "registered\nsecond\nfirst\n", "{m} how={how}");
        }
    }
    Ok(())
}

#[test]
fn exit_hooks_do_not_run_when_killed() -> TestResult {
    for m in METHODS {
        let path = marker_path("killed", m);
        let _ = std::fs::remove_file(&path);
        let p = Process::new(hooks_then, (path.clone(), 2u8))
            .start_method(m)
            .start()?;
        let end = Instant::now() + BOUND;
        while read(&path).is_empty() && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(10));
        }
        p.kill()?;
        p.join_timeout(BOUND)?;
        let text = read(&path);
        let _ = std::fs::remove_file(&path);
        assert_eq!(p.exitcode(), Some(-9), "{m}");
        assert_eq!(text, "registered\n", "{m}");
    }
    Ok(())
}

/// A child's own hook, registered in the child.
fn child_hook(path: String, m: StartMethod) {
    at_exit(move || append(&path, &format!("child {m}\n")));
}

/// Registers a hook in this process (a Spawn child of the test), then starts one child
/// per start method, each registering its own; returns when they are done, and this
/// process's hook then runs once, after theirs.
fn parent_with_hook(path: String) -> Result<(), String> {
    let mine = path.clone();
    at_exit(move || append(&mine, "parent\n"));
    for m in METHODS {
        let p = Process::new(child_hook, (path.clone(), m))
            .start_method(m)
            .start()
            .map_err(|e| e.to_string())?;
        p.join_value().map_err(|e| e.to_string())?;
    }
    Ok(())
}

#[test]
fn a_parents_exit_hooks_do_not_run_in_its_children() -> TestResult {
    // CPython's finalizers are per process (`_run_finalizers` skips those of another
    // pid): a Fork child inherits its parent's hooks in memory but must not run them.
    let path = marker_path("parent", StartMethod::Spawn);
    let _ = std::fs::remove_file(&path);
    let p = Process::new(parent_with_hook, (path.clone(),))
        .start_method(StartMethod::Spawn)
        .start()?;
    let r = p.join_value();
    let text = read(&path);
    let _ = std::fs::remove_file(&path);
    r??;
    assert_eq!(
        text, "child fork\nchild spawn\nchild forkserver\nparent\n",
        "each hook once, in its own process"
    );
    Ok(())
}
