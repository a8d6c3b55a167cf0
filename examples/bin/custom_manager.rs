//! CPython's "Customized managers" example: `MathsClass` registered on a manager as
//! `'Maths'`, then `maths.add(4, 3)` and `maths.mul(7, 8)` called through a proxy.
//!
//! ```python
//! class MathsClass:
//!     def add(self, x, y): return x + y
//!     def mul(self, x, y): return x * y
//!
//! class MyManager(BaseManager): pass
//! MyManager.register('Maths', MathsClass)
//!
//! with MyManager() as manager:
//!     maths = manager.Maths()
//!     print(maths.add(4, 3))         # prints 7
//!     print(maths.mul(7, 8))         # prints 56
//! ```
//!
//! `#[multiproc::manager_type]` writes the name-based dispatch the server runs and the
//! typed proxy `Maths` the client calls: `maths.add("4", 3)` does not compile.
use multiproc::Manager;
use multiproc::manager::{Registry, Setup};

struct MathsClass;

#[multiproc::manager_type(typeid = "Maths", proxy = "Maths")]
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

/// `class MyManager(BaseManager)` with `MyManager.register('Maths', MathsClass)`.
struct MyManager;
impl Setup for MyManager {
    fn registry() -> Registry {
        let mut r = Registry::new();
        r.register::<MathsClass>();
        r
    }
}

/// A child gets the proxy as an argument (it reconnects to the server).
fn child(maths: Maths) -> Result<i64, String> {
    maths.add(40, 2).map_err(|e| e.to_string())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manager = Manager::start_with::<MyManager>(None)?;
    let maths = Maths::create(&manager)?;
    println!("{}", maths.add(4, 3)?); // prints 7
    println!("{}", maths.mul(7.0, 8.0)?); // prints 56
    let from_child = multiproc::Process::new(child, (maths.clone(),))
        .start()?
        .join_value()??;
    println!("{from_child}"); // prints 42
    manager.shutdown()?;
    Ok(())
}
