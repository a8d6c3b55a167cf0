//! The process authentication key (CPython's `current_process().authkey`): created
//! once for the main process, inherited by children under every start method,
//! settable on a builder and on the current process, never shown by `Debug`.

use multiproc_process::{Process, StartMethod, current_process, set_authkey};

use crate::{METHODS, TestResult};

fn my_key() -> Vec<u8> {
    current_process().authkey().to_vec()
}

/// A child's key and its own child's (same start method).
fn my_key_and_my_childs(m: StartMethod) -> (Vec<u8>, Vec<u8>) {
    let grandchild = Process::new(my_key, ())
        .start_method(m)
        .start()
        .expect("grandchild starts")
        .join_value()
        .expect("grandchild returns");
    (my_key(), grandchild)
}

#[test]
fn children_inherit_the_parents_key() -> TestResult {
    // _TestProcess.test_current checks `authkey` is the parent's.
    let mine = current_process().authkey().to_vec();
    assert_eq!(mine.len(), 32);
    assert_ne!(mine, [0u8; 32]);
    assert_eq!(current_process().authkey(), mine, "created once");
    for m in METHODS {
        let p = Process::new(my_key_and_my_childs, (m,))
            .start_method(m)
            .start()?;
        assert_eq!(p.info().authkey(), mine, "{m}");
        let (child, grandchild) = p.join_value()?;
        assert_eq!(child, mine, "{m}");
        assert_eq!(grandchild, mine, "{m}");
    }
    Ok(())
}

#[test]
fn a_key_set_on_the_builder_reaches_the_child_and_its_children() -> TestResult {
    let mine = current_process().authkey().to_vec();
    for m in METHODS {
        let key = format!("builder key for {m}").into_bytes();
        let p = Process::new(my_key_and_my_childs, (m,))
            .authkey(&key)
            .start_method(m)
            .start()?;
        assert_eq!(p.info().authkey(), key, "{m}");
        let (child, grandchild) = p.join_value()?;
        assert_eq!(child, key, "{m}");
        assert_eq!(grandchild, key, "{m}");
    }
    assert_eq!(
        current_process().authkey(),
        mine,
        "the parent's is unchanged"
    );
    Ok(())
}

/// In a Spawn child of its own (the key is process-wide): sets this process's key,
/// then reports what a child sees under each method, and its own key after.
fn set_then_start() -> Result<(Vec<Vec<u8>>, Vec<u8>), String> {
    set_authkey(b"set on the current process");
    let mut seen = Vec::new();
    for m in METHODS {
        let p = Process::new(my_key, ())
            .start_method(m)
            .start()
            .map_err(|e| e.to_string())?;
        seen.push(p.join_value().map_err(|e| e.to_string())?);
    }
    Ok((seen, my_key()))
}

#[test]
fn set_authkey_changes_the_key_children_inherit() -> TestResult {
    let p = Process::new(set_then_start, ())
        .start_method(StartMethod::Spawn)
        .start()?;
    let (seen, own) = p.join_value()??;
    assert_eq!(own, b"set on the current process");
    assert_eq!(seen.len(), 3);
    for key in seen {
        assert_eq!(key, b"set on the current process");
    }
    Ok(())
}

#[test]
fn debug_does_not_show_the_key() -> TestResult {
    let me = current_process();
    let key = me.authkey().to_vec();
    let shown = format!("{me:?} {me:#?}");
    let as_list = format!("{key:?}");
    assert!(shown.contains("redacted"), "{shown}");
    assert!(!shown.contains(&as_list[1..as_list.len() - 1]), "{shown}");
    let builder = Process::new(my_key, ()).authkey(b"hunter2");
    let shown = format!("{builder:?}");
    assert!(shown.contains("redacted"), "{shown}");
    assert!(!shown.contains("104, 117"), "{shown}"); // b"hu"
    let p = builder.start()?;
    let shown = format!("{p:?} {:?}", p.info());
    assert!(!shown.contains("104, 117, 110"), "{shown}");
    assert_eq!(p.join_value()?, b"hunter2");
    Ok(())
}

fn info_round_trip() -> multiproc_process::ProcessInfo {
    current_process()
}

#[test]
fn a_process_info_travels_without_its_key() -> TestResult {
    // CPython refuses to pickle an authkey outside of starting a child.
    for m in METHODS {
        let p = Process::new(info_round_trip, ()).start_method(m).start()?;
        let info = p.join_value()?;
        assert!(info.authkey().is_empty(), "{m}");
    }
    Ok(())
}
