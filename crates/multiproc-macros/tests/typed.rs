//! `#[manager_type]` against a real manager: the typed proxy, the dispatch the macro
//! generates (arity and type errors, `exposed=`), fallible methods, proxies held by an
//! object, and a counter shared with children under every start method.

use std::sync::Mutex;

use multiproc_manager::{
    Error, ListProxy, Manager, Registry, RemoteErrorKind, Setup, StartMethod, Value, manager_type,
};

type R = Result<(), Box<dyn std::error::Error>>;

fn remote_kind<T: std::fmt::Debug>(r: Result<T, Error>) -> Option<RemoteErrorKind> {
    match r {
        Err(e) => e.remote_kind(),
        Ok(v) => panic!("expected a remote error, got {v:?}"),
    }
}

// ------------------------------------------------- CPython's "Customized managers"

struct MathsClass;

#[manager_type(typeid = "Maths", proxy = "Maths")]
impl MathsClass {
    fn new() -> Self {
        MathsClass
    }
    fn add(&self, x: i64, y: i64) -> i64 {
        x + y
    }
    fn mul(&self, x: f64, y: f64) -> f64 {
        x * y
    }
}

/// The docs' example: `MyManager.register('Maths', MathsClass)`, then
/// `maths.add(4, 3)` is 7 and `maths.mul(7, 8)` is 56.
#[test]
fn cpython_docs_maths_example() -> R {
    let mut registry = Registry::new();
    registry.register::<MathsClass>();
    let manager = Manager::in_thread_with(registry)?;
    let maths = Maths::create(&manager)?;
    assert_eq!(maths.add(4, 3)?, 7);
    assert_eq!(maths.mul(7.0, 8.0)?, 56.0);
    // the typeid is the registered name, and the dynamic path reaches the same methods
    assert_eq!(maths.call::<i64>("add", (1, 2))?, 3);
    assert!(format!("{maths:?}").contains("Maths"), "{maths:?}");
    Ok(())
}

// ------------------------------------------------- dispatch: arity, types, exposed=

#[derive(Default)]
struct Probe {
    calls: u64,
}

#[manager_type]
impl Probe {
    /// Adds, and counts the call.
    fn add(&mut self, x: i64, y: i64) -> i64 {
        self.calls += 1;
        x + y
    }
    fn calls(&self) -> u64 {
        self.calls
    }
    fn concat(&self, parts: Vec<String>, sep: Option<String>) -> String {
        parts.join(sep.as_deref().unwrap_or(""))
    }
    #[skip]
    fn skipped(&self) -> u64 {
        self.helper()
    }
    /// A leading underscore hides a method (CPython's default `exposed`)…
    fn _g(&self) -> u64 {
        self.skipped()
    }
    /// …unless it is listed (`exposed=('f', '_h')`).
    #[expose]
    fn _h(&self) -> String {
        format!("_h() {}", self._g() + Probe::assoc())
    }
    /// No receiver: not a method a proxy can call.
    fn assoc() -> u64 {
        0
    }
}

/// Helpers in an impl block of their own are not exposed.
impl Probe {
    fn helper(&self) -> u64 {
        1
    }
}

/// Wrong-arity and wrong-type calls through the dynamic `Proxy::call` are answered
/// with `TypeError`s naming the method and argument; the object keeps serving.
#[test]
fn wrong_arity_and_types_are_type_errors() -> R {
    let mut registry = Registry::new();
    registry.register::<Probe>();
    let manager = Manager::in_thread_with(registry)?;
    let p = ProbeProxy::create(&manager)?;

    let e = p
        .call::<i64>("add", (1, 2, 3))
        .expect_err("three arguments");
    assert_eq!(e.remote_kind(), Some(RemoteErrorKind::TypeError), "{e}");
    assert!(
        e.to_string().contains("add() takes 2 arguments (3 given)"),
        "{e}"
    );

    let e = p.call::<i64>("add", (1,)).expect_err("one argument");
    assert_eq!(e.remote_kind(), Some(RemoteErrorKind::TypeError), "{e}");

    let e = p
        .call::<i64>("add", ("4", 3))
        .expect_err("a str for an i64");
    assert_eq!(e.remote_kind(), Some(RemoteErrorKind::TypeError), "{e}");
    assert!(e.to_string().contains("argument 'x'"), "{e}");

    let e = p
        .call::<String>("concat", (vec![Value::from("a"), Value::from(1)], ()))
        .expect_err("an int inside the list");
    assert_eq!(e.remote_kind(), Some(RemoteErrorKind::TypeError), "{e}");

    // the untyped `Proxy<Probe>` underneath, as a hand-written client would hold it
    let raw: multiproc_manager::Proxy<Probe> = p.clone().into();
    let e = raw
        .call::<i64>("add", (1.5, 2))
        .expect_err("a float for an i64");
    assert_eq!(e.remote_kind(), Some(RemoteErrorKind::TypeError), "{e}");
    let e = manager
        .create::<Probe>(())
        .and_then(|q| q.call::<i64>("add", ()));
    assert_eq!(remote_kind(e), Some(RemoteErrorKind::TypeError));

    // constructor arity: `Probe` is built by `Default` and takes none
    let e = manager
        .create::<Probe>((1,))
        .expect_err("an argument to new");
    assert_eq!(e.remote_kind(), Some(RemoteErrorKind::TypeError), "{e}");

    // none of the refused calls ran the method
    assert_eq!(p.calls()?, 0);
    assert_eq!(p.add(2, 2)?, 4);
    assert_eq!(p.calls()?, 1);
    assert_eq!(
        p.concat(vec!["a".into(), "b".into()], Some("-".into()))?,
        "a-b"
    );
    assert_eq!(p.concat(vec!["a".into(), "b".into()], None)?, "ab");
    // a result of the wrong type on the client side is a client-side type error
    assert!(matches!(p.call::<String>("calls", ()), Err(Error::Type(_))));
    Ok(())
}

// CPython: _TestMyManager.common (`exposed=`): only the exposed methods are callable.
#[test]
fn only_exposed_methods_are_callable() -> R {
    let mut registry = Registry::new();
    registry.register::<Probe>();
    let manager = Manager::in_thread_with(registry)?;
    let p = ProbeProxy::create(&manager)?;
    for name in ["skipped", "_g", "helper", "assoc", "new", "nonexistent"] {
        assert_eq!(
            remote_kind(p.call::<Value>(name, ())),
            Some(RemoteErrorKind::NoSuchMethod),
            "{name}"
        );
    }
    assert_eq!(p._h()?, "_h() 1");
    assert_eq!(p.call::<String>("_h", ())?, "_h() 1");
    Ok(())
}

// ------------------------------------------------- fallible methods and constructors

struct Account {
    balance: i64,
}

#[manager_type]
impl Account {
    fn new(opening: i64) -> Result<Self, String> {
        if opening < 0 {
            return Err(format!("opening balance {opening} is negative"));
        }
        Ok(Account { balance: opening })
    }
    fn withdraw(&mut self, amount: i64) -> Result<i64, std::num::TryFromIntError> {
        let left = u64::try_from(self.balance - amount)?;
        self.balance = left as i64;
        Ok(self.balance)
    }
    fn balance(&self) -> i64 {
        self.balance
    }
}

/// A method returning `Err(e)` answers a `Custom` error carrying `e`'s message, and
/// the object is unchanged; so does a fallible constructor.
#[test]
fn result_returning_methods() -> R {
    let mut registry = Registry::new();
    registry.register::<Account>();
    let manager = Manager::in_thread_with(registry)?;
    let a = AccountProxy::create(&manager, 10)?;
    assert_eq!(a.withdraw(3)?, 7);
    let e = a.withdraw(8).expect_err("overdrawn");
    assert_eq!(e.remote_kind(), Some(RemoteErrorKind::Custom), "{e}");
    assert!(
        e.to_string()
            .contains("out of range integral type conversion"),
        "{e}"
    );
    assert_eq!(a.balance()?, 7);

    let e = AccountProxy::create(&manager, -1).expect_err("negative opening");
    assert_eq!(e.remote_kind(), Some(RemoteErrorKind::Custom), "{e}");
    assert!(
        e.to_string().contains("opening balance -1 is negative"),
        "{e}"
    );
    Ok(())
}

// ------------------------------------------------- proxies held and handed out

#[derive(Default)]
struct Holder {
    kept: Value,
}

#[manager_type]
impl Holder {
    /// Keeps a proxy (any proxy of this manager).
    fn keep(&mut self, p: Value) -> Result<(), String> {
        match p {
            Value::Proxy(_) => {
                self.kept = p;
                Ok(())
            }
            other => Err(format!("keep() takes a proxy, not {}", other.type_name())),
        }
    }
    /// Hands out the kept list as a live proxy (the analogue of `method_to_typeid`).
    #[returns(ListProxy<i64>)]
    fn list(&self) -> Value {
        self.kept.clone()
    }
    /// Hands out the kept object as a live `Probe` proxy.
    #[returns(Value)]
    fn kept(&self) -> Value {
        self.kept.clone()
    }
}

/// A typed method can hand out a live proxy the object holds: `#[returns(ListProxy)]`
/// makes the typed proxy return the proxy, and changes through it reach the list.
#[test]
fn methods_hand_out_live_proxies() -> R {
    let mut registry = Registry::new();
    registry.register::<Holder>().register::<Probe>();
    let manager = Manager::in_thread_with(registry)?;
    let h = HolderProxy::create(&manager)?;
    let l = manager.list_of::<i64>()?;
    h.keep(Value::from(&l))?;
    let again: ListProxy<i64> = h.list()?;
    again.append(7)?;
    assert_eq!(l.to_vec()?, [7]);

    // a typed custom proxy converts into a Value too, and can be stored and handed back
    let probe = ProbeProxy::create(&manager)?;
    h.keep(Value::from(&probe))?;
    assert!(matches!(h.kept()?, Value::Proxy(_)));
    // …and a managed list stores it as a nested proxy
    let shelf = manager.list()?;
    shelf.append(&probe)?;
    assert!(matches!(shelf.get(0)?, Value::Proxy(_)));

    let e = h.keep(Value::from(1)).expect_err("not a proxy");
    assert_eq!(e.remote_kind(), Some(RemoteErrorKind::Custom), "{e}");
    Ok(())
}

// ------------------------------------------------- method_to_typeid

/// Makes counters: `make(start)`'s result becomes a new managed `Counter`, `squares(n)`'s
/// a new managed list (CPython's `method_to_typeid`).
#[derive(Default)]
struct Factory;

#[manager_type]
impl Factory {
    /// A new counter starting at `start`.
    #[method_to_typeid("Counter")]
    #[returns(CounterProxy)]
    fn make(&self, start: i64) -> i64 {
        start
    }
    /// A new managed list of the first `n` squares.
    #[method_to_typeid("list")]
    #[returns(ListProxy<i64>)]
    fn squares(&self, n: i64) -> Vec<i64> {
        (0..n).map(|i| i * i).collect()
    }
}

#[test]
fn method_to_typeid_makes_new_managed_objects() -> R {
    let mut registry = Registry::new();
    registry.register::<Counter>().register::<Factory>();
    let manager = Manager::in_thread_with(registry)?;
    let f = FactoryProxy::create(&manager)?;
    let a = f.make(5)?;
    let b = f.make(5)?;
    assert_ne!(a.id(), b.id());
    assert_eq!(a.incr(1)?, 6);
    assert_eq!(a.incr(1)?, 7); // the same object on the server
    assert_eq!(b.get()?, 5); // another one
    let l = f.squares(3)?;
    l.append(100)?;
    assert_eq!(l.to_vec()?, [0, 1, 4, 100]);
    Ok(())
}

// ------------------------------------------------- children under every start method

#[derive(Default)]
struct Counter(i64);

#[manager_type]
impl Counter {
    fn new(start: i64) -> Self {
        Counter(start)
    }
    fn incr(&mut self, by: i64) -> i64 {
        self.0 += by;
        self.0
    }
    fn get(&self) -> i64 {
        self.0
    }
    fn set(&mut self, v: i64) {
        self.0 = v;
    }
}

struct CounterSetup;
impl Setup for CounterSetup {
    fn registry() -> Registry {
        let mut r = Registry::new();
        r.register::<Counter>();
        r
    }
}

fn bump(c: CounterProxy, times: i64) -> Result<i64, String> {
    let mut last = 0;
    for _ in 0..times {
        last = c.incr(1).map_err(|e| e.to_string())?;
    }
    Ok(last)
}

/// Serializing a lock so the start-method loops of the two tests below do not run at once.
static CHILDREN: Mutex<()> = Mutex::new(());

/// A typed proxy goes to children started with every start method (it serializes
/// and reconnects); their increments all land on the one server-side counter.
#[test]
fn counter_shared_with_children_under_every_start_method() -> R {
    let _g = CHILDREN.lock().unwrap_or_else(|e| e.into_inner());
    let manager = Manager::in_thread_with(CounterSetup::registry())?;
    let c = CounterProxy::create(&manager, 0)?;
    c.set(100)?;
    for method in [
        StartMethod::Fork,
        StartMethod::Spawn,
        StartMethod::ForkServer,
    ] {
        let children = (0..2)
            .map(|_| {
                multiproc_process::Process::new(bump, (c.clone(), 5i64))
                    .start_method(method)
                    .start()
            })
            .collect::<Result<Vec<_>, _>>()?;
        for p in children {
            let last = p.join_value()?.map_err(|e| format!("{method}: {e}"))?;
            assert!(last > 100, "{method}: {last}");
        }
    }
    assert_eq!(c.get()?, 100 + 3 * 2 * 5);
    Ok(())
}

/// The same with the server itself in a process of every start method: the generated
/// type is registered by the server's binary (`Setup`), the proxy used by children.
#[test]
fn server_process_under_every_start_method() -> R {
    let _g = CHILDREN.lock().unwrap_or_else(|e| e.into_inner());
    for method in [
        StartMethod::Fork,
        StartMethod::Spawn,
        StartMethod::ForkServer,
    ] {
        let manager = Manager::start_with::<CounterSetup>(Some(method))?;
        let c = CounterProxy::create(&manager, 0)?;
        let p = multiproc_process::Process::new(bump, (c.clone(), 3i64))
            .start_method(StartMethod::Spawn)
            .start()?;
        assert_eq!(p.join_value()?.map_err(|e| format!("{method}: {e}"))?, 3);
        assert_eq!(c.incr(1)?, 4, "{method}");
        manager.shutdown()?;
        assert!(matches!(c.get(), Err(Error::ManagerGone(_))), "{method}");
    }
    Ok(())
}

// ------------------------------------------------- naming and visibility

mod inner {
    /// A type private to its module; its proxy is `pub(crate)`.
    #[derive(Default)]
    pub(crate) struct Words(Vec<String>);

    #[multiproc_manager::manager_type(vis = "pub(crate)")]
    impl Words {
        fn r#push(&mut self, r#type: String) -> usize {
            self.0.push(r#type);
            self.0.len()
        }
        fn joined(&self) -> String {
            self.0.join(" ")
        }
    }
}

/// Raw identifiers are called by their plain names; a proxy of a module-private type
/// can be given a narrower visibility; generated proxies are `Send + Sync`.
#[test]
fn raw_names_and_visibility() -> R {
    fn is_send_sync<T: Send + Sync>() {}
    is_send_sync::<inner::WordsProxy>();
    is_send_sync::<CounterProxy>();
    let mut registry = Registry::new();
    registry.register::<inner::Words>();
    let manager = Manager::in_thread_with(registry)?;
    let w = inner::WordsProxy::create(&manager)?;
    assert_eq!(w.push("a".into())?, 1);
    assert_eq!(w.call::<usize>("push", ("b",))?, 2);
    assert_eq!(w.joined()?, "a b");
    let e = w
        .call::<usize>("push", (1,))
        .expect_err("an int for a String");
    assert!(e.to_string().contains("argument 'type'"), "{e}");
    Ok(())
}
