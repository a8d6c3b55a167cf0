//! Custom types served by a manager (CPython's `BaseManager.register`), with typed
//! method calls dispatched by name to Rust code compiled into the server's binary.

use std::collections::HashMap;
use std::fmt;

use crate::error::{RemoteError, RemoteErrorKind};
use crate::value::Value;

/// A type a manager can hold and serve: its constructor and its methods, run inside
/// the server. Register it with [`Registry::register`]; clients create one with
/// [`Manager::create`](crate::Manager::create) and call it through a
/// [`Proxy`](crate::Proxy).
///
/// Nothing is shipped over the wire but the type's name, a method name and argument
/// values: the code that runs is this impl, compiled into the server.
///
/// ```
/// use multiproc_manager::{Shared, Value, RemoteError, RemoteErrorKind, FromValue};
///
/// #[derive(Default)]
/// struct Counter(i64);
///
/// impl Shared for Counter {
///     const TYPEID: &'static str = "Counter";
///     fn new(args: Vec<Value>) -> Result<Self, RemoteError> {
///         let start = match args.into_iter().next() {
///             Some(v) => i64::from_value(v).map_err(|e| RemoteError::new(RemoteErrorKind::TypeError, e.to_string()))?,
///             None => 0,
///         };
///         Ok(Counter(start))
///     }
///     fn call(&mut self, method: &str, _args: Vec<Value>) -> Result<Value, RemoteError> {
///         match method {
///             "incr" => { self.0 += 1; Ok(self.0.into()) }
///             "get" => Ok(self.0.into()),
///             _ => Err(RemoteError::new(RemoteErrorKind::NoSuchMethod, method)),
///         }
///     }
/// }
/// let mut registry = multiproc_manager::Registry::new();
/// registry.register::<Counter>();
/// ```
pub trait Shared: Send + 'static {
    /// The name clients create it by (CPython's `typeid`).
    const TYPEID: &'static str;

    /// Builds one from the client's arguments.
    ///
    /// # Errors
    /// The arguments do not fit.
    fn new(args: Vec<Value>) -> Result<Self, RemoteError>
    where
        Self: Sized;

    /// Runs method `method`.
    ///
    /// A panic here does not take the server down or leave the caller waiting: the
    /// server catches it and the caller gets a [`RemoteErrorKind::Custom`] error naming
    /// it (CPython's manager re-raises a method's exception in the caller). The object
    /// stays, in whatever state the panic left it.
    ///
    /// # Errors
    /// Unknown method, bad arguments, or the method's own failure.
    fn call(&mut self, method: &str, args: Vec<Value>) -> Result<Value, RemoteError>;

    /// Methods whose result becomes a *new* managed object rather than a copy
    /// (CPython's `method_to_typeid`): `(method, typeid)` pairs. The server builds an
    /// object of the registered type `typeid` from the method's result — its
    /// constructor gets the result as its one argument, or for the built-in typeids
    /// `"list"` and `"dict"` the result must be a list or a dict — and the caller
    /// receives a proxy to it ([`Proxy<T>`](crate::Proxy), [`ListProxy`](crate::ListProxy),
    /// [`DictProxy`](crate::DictProxy)). The new object lives until it is destroyed,
    /// like any object a client created. Default: none.
    ///
    /// ```
    /// use multiproc_manager::{FromValue, Manager, Proxy, Registry, RemoteError, Server, Shared, Value};
    ///
    /// struct Counter(i64);
    /// impl Shared for Counter {
    ///     const TYPEID: &'static str = "Counter";
    ///     fn new(args: Vec<Value>) -> Result<Self, RemoteError> {
    ///         Ok(Counter(args.into_iter().next().map_or(Ok(0), i64::from_value).unwrap_or(0)))
    ///     }
    ///     fn call(&mut self, _method: &str, _args: Vec<Value>) -> Result<Value, RemoteError> {
    ///         self.0 += 1; // any method: add one
    ///         Ok(self.0.into())
    ///     }
    /// }
    ///
    /// /// Hands out counters: `make(start)` returns a new managed `Counter`.
    /// struct Factory;
    /// impl Shared for Factory {
    ///     const TYPEID: &'static str = "Factory";
    ///     const METHOD_TO_TYPEID: &'static [(&'static str, &'static str)] = &[("make", "Counter")];
    ///     fn new(_: Vec<Value>) -> Result<Self, RemoteError> { Ok(Factory) }
    ///     fn call(&mut self, _method: &str, args: Vec<Value>) -> Result<Value, RemoteError> {
    ///         Ok(args.into_iter().next().unwrap_or(Value::None)) // the new counter's start
    ///     }
    /// }
    ///
    /// let mut registry = Registry::new();
    /// registry.register::<Counter>().register::<Factory>();
    /// let server = Server::new(registry);
    /// let (a, b) = multiproc_ipc::Pipe::duplex()?;
    /// server.spawn_connection(a);
    /// let manager = Manager::over(b);
    /// let factory = manager.create::<Factory>(())?;
    /// let c: Proxy<Counter> = factory.call("make", (10,))?; // a proxy, not a copy
    /// assert_eq!(c.call::<i64>("incr", ())?, 11);
    /// assert_eq!(c.call::<i64>("incr", ())?, 12); // the same object, on the server
    /// server.shutdown();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    const METHOD_TO_TYPEID: &'static [(&'static str, &'static str)] = &[];
    /// What `print(proxy)` shows.
    fn repr(&self) -> String {
        format!("<{} object>", Self::TYPEID)
    }
}

/// The object-safe part of [`Shared`].
pub(crate) trait DynShared: Send {
    fn call(&mut self, method: &str, args: Vec<Value>) -> Result<Value, RemoteError>;
    fn repr(&self) -> String;
}

impl<T: Shared> DynShared for T {
    fn call(&mut self, method: &str, args: Vec<Value>) -> Result<Value, RemoteError> {
        Shared::call(self, method, args)
    }
    fn repr(&self) -> String {
        Shared::repr(self)
    }
}

type Ctor = fn(Vec<Value>) -> Result<Box<dyn DynShared>, RemoteError>;

fn make<T: Shared>(args: Vec<Value>) -> Result<Box<dyn DynShared>, RemoteError> {
    T::new(args).map(|t| Box::new(t) as Box<dyn DynShared>)
}

/// The custom types a server can create, by name (CPython's `register` calls).
///
/// ```
/// # use multiproc_manager::{Shared, Value, RemoteError};
/// # struct Counter;
/// # impl Shared for Counter {
/// #     const TYPEID: &'static str = "Counter";
/// #     fn new(_: Vec<Value>) -> Result<Self, RemoteError> { Ok(Counter) }
/// #     fn call(&mut self, _: &str, _: Vec<Value>) -> Result<Value, RemoteError> { Ok(Value::None) }
/// # }
/// let mut registry = multiproc_manager::Registry::new();
/// registry.register::<Counter>();
/// assert!(registry.contains("Counter"));
/// ```
#[derive(Default, Clone)]
pub struct Registry {
    ctors: HashMap<String, Ctor>,
    /// [`Shared::METHOD_TO_TYPEID`] of each registered type.
    results: HashMap<String, &'static [(&'static str, &'static str)]>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.ctors.keys()).finish()
    }
}

impl Registry {
    /// An empty registry: the built-in types only.
    ///
    /// ```
    /// use multiproc_manager::{Manager, Registry};
    /// let manager = Manager::in_thread_with(Registry::new())?; // built-in types only
    /// assert!(manager.dict().is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new() -> Self {
        Registry::default()
    }

    /// Registers `T` under [`Shared::TYPEID`] (a later registration of the same name
    /// replaces the earlier one).
    ///
    /// ```
    /// # use multiproc_manager::{Shared, Value, RemoteError, FromValue};
    /// # #[derive(Default)] struct Counter(i64);
    /// # impl Shared for Counter {
    /// #     const TYPEID: &'static str = "Counter";
    /// #     fn new(_: Vec<Value>) -> Result<Self, RemoteError> { Ok(Counter(0)) }
    /// #     fn call(&mut self, m: &str, a: Vec<Value>) -> Result<Value, RemoteError> {
    /// #         let by = a.into_iter().next().map_or(Ok(1), i64::from_value).unwrap_or(1);
    /// #         if m == "add" { self.0 += by; } Ok(self.0.into())
    /// #     }
    /// # }
    /// let mut registry = multiproc_manager::Registry::new();
    /// registry.register::<Counter>();
    /// let manager = multiproc_manager::Manager::in_thread_with(registry)?;
    /// let c = manager.create::<Counter>(())?;
    /// assert_eq!(c.call::<i64>("add", (2,))?, 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn register<T: Shared>(&mut self) -> &mut Self {
        self.ctors.insert(T::TYPEID.to_owned(), make::<T>);
        self.results
            .insert(T::TYPEID.to_owned(), T::METHOD_TO_TYPEID);
        self
    }

    /// Whether a type of this name is registered.
    ///
    /// ```
    /// # use multiproc_manager::{Shared, Value, RemoteError};
    /// # struct Counter;
    /// # impl Shared for Counter {
    /// #     const TYPEID: &'static str = "Counter";
    /// #     fn new(_: Vec<Value>) -> Result<Self, RemoteError> { Ok(Counter) }
    /// #     fn call(&mut self, _: &str, _: Vec<Value>) -> Result<Value, RemoteError> { Ok(Value::None) }
    /// # }
    /// let mut registry = multiproc_manager::Registry::new();
    /// assert!(!registry.contains("Counter"));
    /// registry.register::<Counter>();
    /// assert!(registry.contains("Counter"));
    /// ```
    pub fn contains(&self, typeid: &str) -> bool {
        self.ctors.contains_key(typeid)
    }

    /// The typeid a result of `typeid.method` becomes a new object of
    /// ([`Shared::METHOD_TO_TYPEID`]), if any.
    pub(crate) fn result_typeid(&self, typeid: &str, method: &str) -> Option<&'static str> {
        self.results
            .get(typeid)?
            .iter()
            .find(|(m, _)| *m == method)
            .map(|(_, t)| *t)
    }

    pub(crate) fn create(
        &self,
        typeid: &str,
        args: Vec<Value>,
    ) -> Result<Box<dyn DynShared>, RemoteError> {
        let ctor = self.ctors.get(typeid).ok_or_else(|| {
            RemoteError::new(
                RemoteErrorKind::UnknownType,
                format!("no type '{typeid}' is registered on this manager"),
            )
        })?;
        ctor(args)
    }
}
