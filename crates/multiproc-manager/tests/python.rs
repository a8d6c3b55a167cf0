//! A real CPython `BaseManager` client against a multiproc manager: it passes the
//! authkey handshake (both sides share it), then its first pickled call is answered
//! with an error CPython's client reads — a `RemoteError` carrying our explanation,
//! not `UnpicklingError: invalid load key '\x00'` — and the server goes on serving
//! Rust clients. Skipped (with a message) only when `python3` is absent.

use std::process::{Command, Stdio};

use multiproc_manager::{Address, Manager, Registry};

use multiproc_test_support::reap;

type R = Result<(), Box<dyn std::error::Error>>;

/// Connects as CPython's `BaseManager` does (`connect()` makes a `dummy` call), then
/// asks for an object of a registered type as `m.Queue()` does on a started manager
/// (a `create` call over a connection of its own); prints what each raised.
const PY_CLIENT: &str = r#"
import sys, queue
from multiprocessing.connection import Client
from multiprocessing.managers import BaseManager, dispatch
class M(BaseManager):
    pass
M.register('Queue', callable=queue.Queue)
port, key = int(sys.argv[1]), sys.argv[2].encode()
m = M(address=('127.0.0.1', port), authkey=key)
try:
    m.connect()
    print('CONNECT OK', flush=True)
except Exception as e:
    print('CONNECT', type(e).__name__, str(e).replace('\n', ' '), flush=True)
try:
    # what BaseManager._create does for m.Queue()
    c = Client(('127.0.0.1', port), authkey=key)
    dispatch(c, None, 'create', ('Queue',), {})
    print('CREATE OK', flush=True)
except Exception as e:
    print('CREATE', type(e).__name__, str(e).replace('\n', ' '), flush=True)
"#;

fn python() -> bool {
    let ok = Command::new("python3")
        .arg("-c")
        .arg("import multiprocessing.managers")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!(
            "SKIPPED: python3 with multiprocessing is not available; the CPython client is not tested"
        );
    }
    ok
}

#[test]
fn cpython_base_manager_client_is_refused_readably() -> R {
    if !python() {
        return Ok(());
    }
    let key: &[u8] = b"shared secret";
    let m = Manager::serve_in_thread(
        Address::Tcp("127.0.0.1:0".parse()?),
        Some(key),
        Registry::new(),
    )?;
    let Some(Address::Tcp(addr)) = m.address().cloned() else {
        return Err("a tcp manager without a tcp address".into());
    };
    let dir = std::env::temp_dir().join(format!("multiproc-python-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let out_path = dir.join("out");
    let err_path = dir.join("err");
    let child = Command::new("python3")
        .arg("-c")
        .arg(PY_CLIENT)
        .arg(addr.port().to_string())
        .arg(std::str::from_utf8(key)?)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path)?)
        .stderr(std::fs::File::create(&err_path)?)
        .spawn()?;
    let ok = reap(child);
    let out = std::fs::read_to_string(&out_path)?;
    let err = std::fs::read_to_string(&err_path)?;
    let _ = std::fs::remove_dir_all(&dir);
    assert!(ok, "python failed\nstdout:\n{out}\nstderr:\n{err}");
    for call in ["CONNECT", "CREATE"] {
        let line = out
            .lines()
            .find(|l| l.starts_with(call))
            .ok_or_else(|| format!("no {call} line\nstdout:\n{out}\nstderr:\n{err}"))?;
        assert!(
            line.starts_with(&format!("{call} RemoteError"))
                && line.contains("this is a multiproc (Rust) manager")
                && line.contains("BaseManager protocol"),
            "{call}: {line}\nstderr:\n{err}"
        );
    }
    assert!(
        !out.contains("Unpickling") && !err.contains("Unpickling"),
        "{out}\n{err}"
    );

    // The server was not disturbed: a Rust client still works.
    let other = Manager::connect(Address::Tcp(addr), Some(key))?;
    let d = other.dict()?;
    d.insert("after", 1)?;
    assert_eq!(d.len()?, 1);
    m.shutdown()?;
    Ok(())
}
