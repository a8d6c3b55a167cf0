//! Seed 003 (`Namespace`), both of its programs: a consumer that reads an attribute
//! before the producer set it gets an error naming it, and after the event the value;
//! then the pitfall — a list read out of a namespace is a copy, so appending to it does
//! not change the server's.
//!
//! Prints `Before event, error: …value…`, `After event: This is the value`, then
//! `Before event: []`, `After event : []` and the seed's closing remark. Fails unless
//! each of those holds.
//!
//! ```text
//! cargo run --release --example namespace
//! ```

use std::time::Duration;

use multiproc::manager::{EventProxy, NamespaceProxy, Value};
use multiproc::prelude::*;

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
    let before = ns.get::<Value>("my_list").expect("the parent set it");
    println!("Before event: {before}");
    event.wait().expect("the manager is up");
    let after = ns.get::<Value>("my_list").expect("the parent set it");
    println!("After event : {after}");
    (before.to_string(), after.to_string())
}

/// The example; `main` and the tour call it.
pub fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mgr = Manager::start()?;
    let namespace = mgr.namespace()?;
    let event = mgr.event()?;
    let ready = Semaphore::new(0)?;
    let args = (namespace.clone(), event.clone(), ready.clone());
    let c = Process::new(consumer, args).start()?;
    // The seed starts both at once and relies on timing; let the consumer read first.
    ready
        .permit_timeout(Duration::from_secs(30))
        .ok_or("the consumer did not start")?
        .forget();
    let p = Process::new(producer, (namespace.clone(), event.clone())).start()?;
    let (before, after) = c.join_value()?;
    p.join_value()?;
    assert!(
        before.contains("error") && before.contains("value"),
        "reading an unset attribute is an error naming it: {before}"
    );
    assert_eq!(after, "This is the value");

    let namespace = mgr.namespace()?;
    namespace.set("my_list", Value::List(Vec::new()))?;
    let event = mgr.event()?;
    let p = Process::new(list_producer, (namespace.clone(), event.clone())).start()?;
    let c = Process::new(list_consumer, (namespace.clone(), event.clone())).start()?;
    let (before, after) = c.join_value()?;
    p.join_value()?;
    println!("Namespace 中的可变数据类型并不会自动做相应的变化");
    assert_eq!((before.as_str(), after.as_str()), ("[]", "[]"));
    mgr.shutdown()?;
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    run()
}
