//! Seeds 002 and 004 (a manager shared over the network, the CPython docs' distributed
//! queue): a manager served over TCP with an authkey publishes a job queue and a result
//! queue; workers connect by address — on another host it would be the same code — take
//! jobs and put squares; a client with the wrong key is refused.
//!
//! Prints `serving a queue at 127.0.0.1:PORT`, `results: [0, 1, 4, …, 81]` and
//! `a client with the wrong key: refused (…)`. Fails unless the workers did all ten
//! jobs, the squares are right and the wrong key was refused.
//!
//! ```text
//! cargo run --release --example remote_manager
//! ```

use std::net::SocketAddr;
use std::time::Duration;

use multiproc::manager::{QueueProxy, Registry};
use multiproc::prelude::*;

fn worker(address: String, authkey: Vec<u8>) -> usize {
    let address: SocketAddr = address.parse().expect("a tcp address");
    let m = Manager::connect(address, Some(&authkey)).expect("the server accepts our key");
    let jobs: QueueProxy<i64> = m.lookup("jobs").expect("the server published the queue");
    let results: QueueProxy<i64> = m.lookup("results").expect("the server published it");
    let mut done = 0;
    while let Ok(x) = jobs.get_timeout(Duration::from_secs(30)) {
        if x < 0 {
            break;
        }
        results.put(x * x).expect("the manager is up");
        done += 1;
    }
    done
}

/// The example; `main` and the tour call it.
pub fn run() -> Result<(), Box<dyn std::error::Error>> {
    let authkey = b"a secret shared by the hosts".to_vec();
    let any_port: SocketAddr = "127.0.0.1:0".parse()?;
    let server = Manager::serve_in_thread(any_port, Some(&authkey), Registry::new())?;
    let Some(multiproc::Address::Tcp(address)) = server.address() else {
        return Err("a tcp server has a tcp address".into());
    };
    println!("serving a queue at {address}");
    let jobs = server.queue_of::<i64>()?;
    let results = server.queue_of::<i64>()?;
    server.publish("jobs", jobs.clone())?;
    server.publish("results", results.clone())?;

    let mut workers = Vec::new();
    for _ in 0..2 {
        let args = (address.to_string(), authkey.clone());
        workers.push(Process::new(worker, args).start()?);
    }
    for x in 0..10 {
        jobs.put(x)?;
    }
    for _ in &workers {
        jobs.put(-1)?; // one "stop" per worker
    }
    let mut done = 0;
    for w in workers {
        done += w.join_value()?;
    }
    let mut got = Vec::new();
    for _ in 0..10 {
        got.push(results.get_timeout(Duration::from_secs(30))?);
    }
    got.sort_unstable();
    println!("results: {got:?}");

    let wrong = Manager::connect(*address, Some(b"not the key"));
    match &wrong {
        Ok(_) => println!("a client with the wrong key: accepted (wrong!)"),
        Err(e) => println!("a client with the wrong key: refused ({e})"),
    }
    server.shutdown()?;
    assert_eq!(done, 10, "the workers did all ten jobs");
    assert_eq!(got, (0..10).map(|x| x * x).collect::<Vec<_>>());
    assert!(wrong.is_err(), "a wrong authkey is refused");
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    run()
}
