//! Seeds 000, 001, 003, 004: `Manager` dict, list, Namespace, and a manager shared over TCP.

use std::time::Duration;

use multiproc::manager::{
    DictProxy, EventProxy, ListProxy, Manager, NamespaceProxy, QueueProxy, Registry, Value,
};
use multiproc::{Process, Semaphore, current_process};

use crate::{Outcome, check};

fn f(d: DictProxy, l: ListProxy) {
    d.insert(1, "1").expect("the manager is up");
    d.insert("2", 2).expect("the manager is up");
    d.insert(0.25, ()).expect("the manager is up");
    l.reverse().expect("the manager is up");
}

/// Seed 000: a child fills a manager dict with mixed keys and reverses a list.
pub fn manager_dict_list() -> Outcome {
    let manager = Manager::start()?;
    let d = manager.dict()?;
    let l = manager.list_from(0..10)?;
    let p = Process::new(f, (d.clone(), l.clone())).start()?;
    p.join_value()?;
    println!("{d}");
    println!("{l}");
    let (ds, ls) = (d.to_string(), l.to_string());
    manager.shutdown()?;
    check(
        ds == "{1: '1', '2': 2, 0.25: None}",
        format!("dict prints {ds}"),
    )?;
    check(
        ls == "[9, 8, 7, 6, 5, 4, 3, 2, 1, 0]",
        format!("list prints {ls}"),
    )
}

fn worker(mgr_dict: DictProxy, mgr_list: ListProxy, key: i64, value: i64) {
    mgr_dict.insert(key, value).expect("the manager is up");
    mgr_list.append(key).expect("the manager is up");
}

/// Seed 000 (shared list and dict): ten children write `d[i] = 2*i` and append `i`.
pub fn manager_shared_state() -> Outcome {
    let manager = Manager::start()?;
    let mgr_dict = manager.dict()?;
    let mgr_list = manager.list()?;
    let jobs = (0..10)
        .map(|i| Process::new(worker, (mgr_dict.clone(), mgr_list.clone(), i, i * 2)).start())
        .collect::<Result<Vec<_>, _>>()?;
    for j in jobs {
        j.join_value()?;
    }
    // Children finish in any order; sort for the seed's output.
    mgr_list.sort()?;
    let mut items: Vec<(Value, Value)> = mgr_dict.items()?;
    items.sort_by(|a, b| a.0.py_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
    let sorted = manager.dict_from(items)?;
    println!("Results:");
    println!("字典 {sorted}");
    println!("列表 {mgr_list}");
    let (ds, ls) = (sorted.to_string(), mgr_list.to_string());
    manager.shutdown()?;
    check(
        ds == "{0: 0, 1: 2, 2: 4, 3: 6, 4: 8, 5: 10, 6: 12, 7: 14, 8: 16, 9: 18}",
        format!("dict is {ds}"),
    )?;
    check(
        ls == "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]",
        format!("list is {ls}"),
    )
}

fn producer(ns: NamespaceProxy, event: EventProxy) {
    ns.set("value", "This is the value")
        .expect("the manager is up");
    event.set().expect("the manager is up");
}

fn consumer(ns: NamespaceProxy, event: EventProxy, ready: Semaphore) -> (String, String) {
    let before = match ns.get::<String>("value") {
        Ok(v) => format!("Before event: {v}"),
        Err(err) => format!("Before event, error: {err}"),
    };
    println!("{before}");
    ready
        .release()
        .expect("an unbounded semaphore accepts releases");
    event.wait().expect("the manager is up");
    let after = ns.get::<String>("value").expect("the producer set it");
    println!("After event: {after}");
    (before, after)
}

fn list_producer(ns: NamespaceProxy, event: EventProxy) {
    // DOES NOT UPDATE THE SERVER'S VALUE: `get` returns a copy of the list.
    let mut my_list: Vec<Value> = ns.get("my_list").expect("the parent set it");
    my_list.push(Value::from("This is the value"));
    event.set().expect("the manager is up");
}

fn list_consumer(ns: NamespaceProxy, event: EventProxy) -> (String, String) {
    let before = ns
        .get::<Value>("my_list")
        .expect("the parent set it")
        .to_string();
    println!("Before event: {before}");
    event.wait().expect("the manager is up");
    let after = ns
        .get::<Value>("my_list")
        .expect("the parent set it")
        .to_string();
    println!("After event : {after}");
    (before, after)
}

/// Seed 003: both Namespace programs — the error before the event, and the list pitfall.
pub fn namespace() -> Outcome {
    let mgr = Manager::start()?;
    let namespace = mgr.namespace()?;
    let event = mgr.event()?;
    let ready = Semaphore::new(0)?;
    let c = Process::new(consumer, (namespace.clone(), event.clone(), ready.clone())).start()?;
    // The seed starts both at once and relies on timing; let the consumer read first.
    ready
        .acquire_timeout(Duration::from_secs(30))
        .ok_or("consumer did not start")?
        .forget();
    let p = Process::new(producer, (namespace.clone(), event.clone())).start()?;
    let (before, after) = c.join_value()?;
    p.join_value()?;
    check(
        before.contains("error") && before.contains("value"),
        "reading an unset attribute is an error naming it",
    )?;
    check(
        after == "This is the value",
        "the consumer saw the producer's value",
    )?;

    let namespace = mgr.namespace()?;
    namespace.set("my_list", Value::List(Vec::new()))?;
    let event = mgr.event()?;
    let p = Process::new(list_producer, (namespace.clone(), event.clone())).start()?;
    let c = Process::new(list_consumer, (namespace.clone(), event.clone())).start()?;
    let (before, after) = c.join_value()?;
    p.join_value()?;
    println!("Namespace 中的可变数据类型并不会自动做相应的变化");
    mgr.shutdown()?;
    check(
        before == "[]" && after == "[]",
        "mutating a copy does not change the server",
    )
}

fn active_worker(s: Semaphore, active: ListProxy, lock: multiproc::Lock, max: DictProxy) {
    let name = current_process().name().to_string();
    let _permit = s.acquire();
    {
        let _g = lock.lock().unwrap_or_else(multiproc::OwnerDied::into_inner);
        active.append(name.as_str()).expect("the manager is up");
        let now = active.len().expect("the manager is up") as i64;
        let seen: i64 = max
            .get_or("max", 0)
            .ok()
            .and_then(|v| v.get::<i64>().ok())
            .unwrap_or(0);
        if now > seen {
            max.insert("max", now).expect("the manager is up");
        }
        println!("Activating {name} now running {active}");
    }
    std::thread::sleep(Duration::from_millis(20));
    let _g = lock.lock().unwrap_or_else(multiproc::OwnerDied::into_inner);
    active.remove(name.as_str()).expect("we added it");
}

/// Seed 003: `Semaphore(3)` and a manager list — never more than three active.
pub fn active_pool() -> Outcome {
    let mgr = Manager::start()?;
    let active = mgr.list()?;
    let max = mgr.dict()?;
    let lock = multiproc::Lock::new()?;
    let s = Semaphore::new(3)?;
    let jobs = (0..10)
        .map(|i| {
            Process::new(
                active_worker,
                (s.clone(), active.clone(), lock.clone(), max.clone()),
            )
            .name(format!("worker[{i}]"))
            .start()
        })
        .collect::<Result<Vec<_>, _>>()?;
    for j in jobs {
        j.join_value()?;
    }
    let most: i64 = max.get_item("max")?.get()?;
    println!("now running  {active}");
    println!("Done (at most {most} were active at once)");
    mgr.shutdown()?;
    check(
        (1..=3).contains(&most),
        format!("at most 3 active, saw {most}"),
    )
}

fn remote_worker(address: String, authkey: Vec<u8>) -> usize {
    // A separate process (on another host, it would be the same code) connects by address.
    let m = Manager::connect(
        address
            .parse::<std::net::SocketAddr>()
            .expect("a tcp address"),
        Some(&authkey),
    )
    .expect("the server accepts our key");
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

/// CPython docs' distributed queue: a manager served over TCP with an authkey; workers
/// connect by address, take jobs, put results; a wrong key is refused.
pub fn remote_manager() -> Outcome {
    let authkey = b"a secret shared by the hosts".to_vec();
    let server = Manager::serve_in_thread(
        "127.0.0.1:0".parse::<std::net::SocketAddr>()?,
        Some(&authkey),
        Registry::new(),
    )?;
    let address = match server.address() {
        Some(multiproc::Address::Tcp(a)) => a.to_string(),
        other => return Err(format!("a tcp server has a tcp address, not {other:?}").into()),
    };
    println!("serving a queue at {address}");
    let jobs = server.queue_of::<i64>()?;
    let results = server.queue_of::<i64>()?;
    server.publish("jobs", jobs.clone())?;
    server.publish("results", results.clone())?;
    let workers = (0..2)
        .map(|_| Process::new(remote_worker, (address.clone(), authkey.clone())).start())
        .collect::<Result<Vec<_>, _>>()?;
    for x in 0..10 {
        jobs.put(x)?;
    }
    for _ in &workers {
        jobs.put(-1)?;
    }
    let mut done = 0;
    for w in workers {
        done += w.join_value()?;
    }
    let mut got: Vec<i64> = (0..10)
        .map(|_| results.get_timeout(Duration::from_secs(30)))
        .collect::<Result<_, _>>()?;
    got.sort_unstable();
    println!("results: {got:?}");
    let wrong = Manager::connect(
        address.parse::<std::net::SocketAddr>()?,
        Some(b"not the key"),
    );
    println!(
        "a client with the wrong key: {}",
        match &wrong {
            Ok(_) => "accepted (wrong!)".to_string(),
            Err(e) => format!("refused ({e})"),
        }
    );
    server.shutdown()?;
    check(done == 10, "the workers did all ten jobs")?;
    check(
        got == (0..10).map(|x| x * x).collect::<Vec<_>>(),
        "ten squares",
    )?;
    check(wrong.is_err(), "a wrong authkey is refused")
}
