//! Manager faults: proxies after shutdown, addresses that are not managers.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use multiproc::Manager;
use multiproc::manager::Error as MgrError;

use crate::{BOUND, R, within};

/// A proxy used after its manager shut down: `ManagerGone`, on every call.
#[test]
fn proxy_after_shutdown() -> R {
    let mgr = Manager::start()?;
    let pid = mgr.pid();
    let d = mgr.dict()?;
    d.insert("k", 1)?;
    mgr.shutdown()?;
    for _ in 0..2 {
        let r = within(BOUND, "proxy after shutdown", {
            let d = d.clone();
            move || d.get("k").map(|_| ())
        })?;
        assert!(matches!(r, Err(MgrError::ManagerGone(_))), "{r:?}");
    }
    assert!(mgr.ping().is_err());
    assert!(
        mgr.shutdown().is_ok() || mgr.shutdown().is_err(),
        "no panic"
    );
    if let Some(pid) = pid {
        assert!(crate::reaped(pid), "the server process is reaped");
    }
    Ok(())
}

/// `Manager::connect` to a TCP port that speaks garbage and to a closed port: typed
/// errors, within the bound.
#[test]
fn connect_to_something_that_is_not_a_manager() -> R {
    let garbage = TcpListener::bind("127.0.0.1:0")?;
    let gaddr = garbage.local_addr()?;
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0")?;
        l.local_addr()?
    };
    std::thread::spawn(move || {
        while let Ok((mut s, _)) = garbage.accept() {
            std::thread::spawn(move || {
                let _ = s.write_all(&[0xde, 0xad, 0xbe, 0xef].repeat(64));
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let mut sink = [0u8; 512];
                let _ = s.read(&mut sink);
            });
        }
    });
    let r = within(BOUND, "connect to garbage", move || {
        Manager::connect(gaddr, Some(b"key")).map(|_| ())
    })?;
    assert!(
        matches!(r, Err(MgrError::Auth(_) | MgrError::Connect(_))),
        "{r:?}"
    );
    let r = within(BOUND, "connect to a closed port", move || {
        Manager::connect(closed, Some(b"key")).map(|_| ())
    })?;
    assert!(matches!(r, Err(MgrError::Connect(_))), "{r:?}");
    Ok(())
}

/// A peer that accepts (the kernel's backlog does) and never answers: the connect
/// ends with a typed error at the caller's own timeout (`Manager::connect_timeout`).
#[test]
fn connect_to_a_silent_peer() -> R {
    let silent = TcpListener::bind("127.0.0.1:0")?;
    let saddr = silent.local_addr()?;
    let r = within(BOUND, "connect to a silent peer", move || {
        Manager::connect_timeout(saddr, Some(b"key"), Duration::from_millis(200)).map(|_| ())
    })?;
    assert!(
        matches!(r, Err(MgrError::Auth(_) | MgrError::Connect(_))),
        "{r:?}"
    );
    drop(silent);
    Ok(())
}

fn use_dict(d: multiproc::manager::DictProxy) -> String {
    format!("{:?}", d.get("k").map(|_| ()))
}

/// The manager's server process SIGKILLed: every proxy call — in this process and in
/// a child that receives a proxy afterwards — is `ManagerGone` (or a connect error),
/// within the bound.
#[test]
fn manager_server_killed() -> R {
    let mgr = Manager::start()?;
    let pid = mgr.pid().ok_or("a manager process has a pid")?;
    let d = mgr.dict()?;
    d.insert("k", 1)?;
    std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()?;
    assert!(crate::reaped(pid), "the server is reaped");
    let d2 = d.clone();
    let r = within(BOUND, "proxy after the server died", move || {
        d2.get("k").map(|_| ())
    })?;
    assert!(matches!(r, Err(MgrError::ManagerGone(_))), "{r:?}");
    for m in crate::METHODS {
        let p = multiproc::Process::new(use_dict, (d.clone(),))
            .start_method(m)
            .start()?;
        let out = within(BOUND, "a child's proxy after the server died", move || {
            p.join_value()
        })?;
        match out {
            Ok(s) => assert!(
                s.contains("ManagerGone") || s.contains("Connect"),
                "{m}: {s}"
            ),
            // A proxy reconnects while it is decoded: in a fresh process the arguments
            // fail to decode (postcard drops the reason: "Serde Deserialization Error").
            Err(multiproc::process::ProcessError::Bootstrap(why)) => {
                assert_ne!(m, multiproc::StartMethod::Fork, "{why}")
            }
            Err(e) => panic!("{m}: {e:?}"),
        }
    }
    let r = within(BOUND, "shutdown of a dead manager", move || mgr.shutdown())?;
    let _ = r;
    Ok(())
}
