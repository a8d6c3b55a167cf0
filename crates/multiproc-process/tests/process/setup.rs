//! A child's environment, working directory and start-up hook, under every start method.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use multiproc_process::{Process, ProcessError, StartMethod, set_child_startup};

use super::{METHODS, TestResult};

fn vars(names: Vec<String>) -> Vec<Option<String>> {
    names.into_iter().map(|n| std::env::var(n).ok()).collect()
}

fn cwd() -> PathBuf {
    std::env::current_dir().expect("the child has a working directory")
}

fn names(n: &[&str]) -> (Vec<String>,) {
    (n.iter().map(|s| (*s).to_string()).collect(),)
}

#[test]
fn env_set_remove_and_clear() -> TestResult {
    // The parent's own variable, present in every child unless removed or cleared
    // (the test harness sets CARGO_MANIFEST_DIR for the test binary at build time
    // only, so PATH is the variable every environment here has).
    assert!(std::env::var_os("PATH").is_some());
    for m in METHODS {
        let p = Process::new(vars, names(&["MP_SET", "PATH", "MP_LATER"]))
            .env("MP_SET", "one")
            .env("MP_LATER", "first")
            .env("MP_LATER", "second")
            .start_method(m)
            .start()?;
        let got = p.join_value()?;
        assert_eq!(got[0].as_deref(), Some("one"), "{m:?}");
        assert!(got[1].is_some(), "{m:?}: inherited PATH");
        assert_eq!(got[2].as_deref(), Some("second"), "{m:?}: call order");

        let p = Process::new(vars, names(&["PATH", "MP_SET"]))
            .env("MP_SET", "one")
            .env_remove("PATH")
            .env_remove("MP_SET")
            .start_method(m)
            .start()?;
        assert_eq!(p.join_value()?, [None, None], "{m:?}");

        let p = Process::new(vars, names(&["PATH", "MP_AFTER"]))
            .env("MP_BEFORE", "dropped")
            .env_clear()
            .env("MP_AFTER", "kept")
            .start_method(m)
            .start()?;
        assert_eq!(p.join_value()?, [None, Some("kept".into())], "{m:?}");
    }
    // The parent's environment is untouched.
    assert!(std::env::var_os("PATH").is_some());
    assert!(std::env::var_os("MP_SET").is_none());
    Ok(())
}

#[test]
fn current_dir_is_set_in_the_child() -> TestResult {
    let dir = std::env::temp_dir().join(format!("multiproc-cwd-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let out = cwd_cases(&dir);
    std::fs::remove_dir(&dir)?;
    out
}

fn cwd_cases(dir: &std::path::Path) -> TestResult {
    let want = dir.canonicalize()?;
    for m in METHODS {
        let p = Process::new(cwd, ())
            .current_dir(dir)
            .start_method(m)
            .start()?;
        assert_eq!(p.join_value()?.canonicalize()?, want, "{m:?}");
        // Without it, the parent's.
        let p = Process::new(cwd, ()).start_method(m).start()?;
        assert_eq!(p.join_value()?, std::env::current_dir()?, "{m:?}");
        // A directory that cannot be entered is the child's error, the same under
        // every method.
        let p = Process::new(cwd, ())
            .current_dir(dir.join("missing"))
            .start_method(m)
            .start()?;
        match p.join_value() {
            Err(ProcessError::Bootstrap(why)) => {
                assert!(why.contains("working directory"), "{m:?}: {why}")
            }
            other => return Err(format!("{m:?}: expected a bootstrap error, got {other:?}").into()),
        }
    }
    Ok(())
}

static HOOK_RUNS: AtomicU32 = AtomicU32::new(0);

fn count_hook() {
    HOOK_RUNS.fetch_add(1, Ordering::SeqCst);
}

fn panicking_hook() {
    panic!("start-up hook failed")
}

fn hook_runs() -> u32 {
    HOOK_RUNS.load(Ordering::SeqCst)
}

/// Hook runs seen by a child, and by a child of that child under `m`.
fn nested_hook_runs(m: StartMethod) -> (u32, u32) {
    let p = Process::new(hook_runs, ())
        .start_method(m)
        .start()
        .expect("starts");
    (hook_runs(), p.join_value().expect("returns"))
}

/// In a child of its own (the hook is process-wide): every method runs the hook once
/// before the target, the children's children too; a panicking hook is the child's panic.
fn hook_scenario() -> Result<(), String> {
    set_child_startup(count_hook);
    for m in METHODS {
        let p = Process::new(nested_hook_runs, (m,))
            .start_method(m)
            .start()
            .map_err(|e| e.to_string())?;
        let got = p.join_value().map_err(|e| e.to_string())?;
        // A Fork grandchild starts with its parent's count (its memory) and adds its own run.
        let want = (1, if m == StartMethod::Fork { 2 } else { 1 });
        if got != want {
            return Err(format!("{m:?}: hook runs (child, grandchild) {got:?}"));
        }
    }
    if hook_runs() != 0 {
        return Err("the parent ran its own hook".into());
    }
    set_child_startup(panicking_hook);
    for m in METHODS {
        let p = Process::new(hook_runs, ())
            .start_method(m)
            .start()
            .map_err(|e| e.to_string())?;
        match p.join_value() {
            Err(ProcessError::Panicked { message, .. }) if message == "start-up hook failed" => {}
            other => return Err(format!("{m:?}: expected the hook's panic, got {other:?}")),
        }
    }
    multiproc_process::clear_child_startup();
    for m in METHODS {
        let p = Process::new(hook_runs, ())
            .start_method(m)
            .start()
            .map_err(|e| e.to_string())?;
        if p.join_value().map_err(|e| e.to_string())? != 0 {
            return Err(format!("{m:?}: a cleared hook ran"));
        }
    }
    Ok(())
}

#[test]
fn startup_hook_runs_in_every_child() -> TestResult {
    for m in [StartMethod::Spawn, StartMethod::ForkServer] {
        let p = Process::new(hook_scenario, ()).start_method(m).start()?;
        p.join_value()??;
    }
    Ok(())
}
