use multiproc_manager::{manager_type, Manager, Registry};

struct Maths;

#[manager_type]
impl Maths {
    fn new() -> Self {
        Maths
    }
    fn add(&self, x: i64, y: i64) -> i64 {
        x + y
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut registry = Registry::new();
    registry.register::<Maths>();
    let manager = Manager::in_thread_with(registry)?;
    let maths = MathsProxy::create(&manager)?;
    let _ = maths.add("4", 3)?;
    Ok(())
}
