//! The manager's default key is the process authkey (CPython: `BaseManager(authkey=None)`
//! uses `current_process().authkey`), inherited by every child: a child connects to its
//! parent's manager by address alone, under every start method. Explicit keys still
//! win, and TCP still demands one.

use std::path::PathBuf;

use multiproc_manager::{Address, DictProxy, Error, Manager, Registry};
use multiproc_process::Process;
use serde::{Deserialize, Serialize};

use multiproc_test_support::{BOUND, METHODS};

type R = Result<(), Box<dyn std::error::Error>>;

/// An address as it travels to a child in these tests (`Address` is not serde).
#[derive(Debug, Clone, Serialize, Deserialize)]
enum Addr {
    Unix(PathBuf),
    Abstract(Vec<u8>),
}

impl Addr {
    fn of(m: &Manager) -> Result<Addr, String> {
        match m.address() {
            Some(Address::Unix(p)) => Ok(Addr::Unix(p.clone())),
            Some(Address::Abstract(n)) => Ok(Addr::Abstract(n.clone())),
            other => Err(format!("unexpected address {other:?}")),
        }
    }

    fn to_address(&self) -> Address {
        match self {
            Addr::Unix(p) => Address::Unix(p.clone()),
            Addr::Abstract(n) => Address::Abstract(n.clone()),
        }
    }
}

/// In a child given only the address: connect without a key, find the published
/// dict, write to it.
fn connect_by_address(addr: Addr, tag: String) -> Result<(), String> {
    let m = Manager::connect(addr.to_address(), None).map_err(|e| e.to_string())?;
    let d: DictProxy = m.lookup("d").map_err(|e| e.to_string())?;
    d.insert(tag, multiproc_process::current_process().pid())
        .map_err(|e| e.to_string())
}

/// In a child: try to connect without a key, and report how it went.
fn try_connect(addr: Addr) -> Result<String, String> {
    match Manager::connect(addr.to_address(), None) {
        Ok(m) => m.ping().map(|()| "ok".into()).map_err(|e| e.to_string()),
        Err(Error::Auth(_)) => Ok("auth".into()),
        Err(e) => Err(e.to_string()),
    }
}

fn run<T>(p: Process<Result<T, String>>, what: &str) -> Result<T, Box<dyn std::error::Error>>
where
    T: Serialize + serde::de::DeserializeOwned + Send + 'static,
{
    if !p.join_timeout(BOUND)? {
        let _ = p.kill();
        let _ = p.join_timeout(BOUND);
        return Err(format!("{what}: the child did not finish").into());
    }
    Ok(p.join_value()?.map_err(|e| format!("{what}: {e}"))?)
}

fn check_children_connect(m: &Manager, what: &str) -> R {
    let d = m.dict()?;
    m.publish("d", &d)?;
    let addr = Addr::of(m)?;
    for method in METHODS {
        let tag = format!("{what} {method}");
        let p = Process::new(connect_by_address, (addr.clone(), tag.clone()))
            .start_method(method)
            .start()?;
        run(p, &tag)?;
        assert!(d.contains(tag.as_str())?, "{tag}");
    }
    Ok(())
}

/// The key of a manager given none is the process authkey.
#[test]
fn default_key_is_the_process_authkey() -> R {
    let key = multiproc_process::current_process().authkey().to_vec();
    assert_eq!(key.len(), 32);
    assert_eq!(multiproc_manager::process_authkey(), key);
    let m = Manager::start()?;
    assert_eq!(m.authkey(), Some(key.as_slice()));
    m.shutdown()?;
    let m = Manager::in_thread()?;
    assert_eq!(m.authkey(), Some(key.as_slice()));
    Ok(())
}

/// `Manager()` (a server process): children under every start method connect by
/// address without being given the key.
#[test]
fn child_connects_to_a_started_manager_by_address() -> R {
    let m = Manager::start()?;
    check_children_connect(&m, "start")?;
    m.shutdown()?;
    Ok(())
}

/// The same for a manager served on threads, at an abstract address and at a path.
#[test]
fn child_connects_to_a_served_manager_by_address() -> R {
    let m = Manager::in_thread()?;
    check_children_connect(&m, "in_thread")?;
    let dir = std::env::temp_dir().join(format!("mpm-authkey-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("manager.sock");
    let _ = std::fs::remove_file(&path);
    let served = Manager::serve_in_thread(Address::Unix(path.clone()), None, Registry::new())?;
    check_children_connect(&served, "unix path")?;
    served.shutdown()?;
    drop(served);
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_dir(&dir);
    Ok(())
}

/// An explicit key wins: a child that presents the process key is refused, one given
/// the key gets in; and a child whose process key was set otherwise is refused by a
/// manager on the parent's key.
#[test]
fn explicit_keys_win() -> R {
    let name = format!("mpm-explicit-{}", std::process::id()).into_bytes();
    let m = Manager::serve_in_thread(
        Address::Abstract(name.clone()),
        Some(b"explicit"),
        Registry::new(),
    )?;
    assert_eq!(m.authkey(), Some(&b"explicit"[..]));
    for method in METHODS {
        let p = Process::new(try_connect, (Addr::Abstract(name.clone()),))
            .start_method(method)
            .start()?;
        assert_eq!(run(p, &format!("{method}"))?, "auth", "{method}");
    }
    Manager::connect(Address::Abstract(name), Some(b"explicit"))?.ping()?;

    let parents = Manager::in_thread()?;
    let addr = Addr::of(&parents)?;
    for method in METHODS {
        let p = Process::new(try_connect, (addr.clone(),))
            .start_method(method)
            .authkey(b"another key")
            .start()?;
        assert_eq!(run(p, &format!("{method}"))?, "auth", "{method}");
    }
    Ok(())
}

/// TCP keeps its rule: a key must be given, on both sides.
#[test]
fn tcp_still_demands_a_key() -> R {
    let tcp = Address::Tcp("127.0.0.1:0".parse()?);
    assert!(matches!(
        Manager::serve_in_thread(tcp.clone(), None, Registry::new()),
        Err(Error::Config(_))
    ));
    let m = Manager::serve_in_thread(tcp, Some(b"k"), Registry::new())?;
    let addr = m.address().cloned().ok_or("address")?;
    assert!(matches!(
        Manager::connect(addr.clone(), None),
        Err(Error::Config(_))
    ));
    Manager::connect(addr, Some(b"k"))?.ping()?;
    Ok(())
}
