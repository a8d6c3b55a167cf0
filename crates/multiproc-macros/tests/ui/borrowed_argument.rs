use multiproc_manager::manager_type;

#[derive(Default)]
struct Greeter;

#[manager_type]
impl Greeter {
    fn greet(&self, name: &str) -> String {
        format!("hello {name}")
    }
}

fn main() {}
