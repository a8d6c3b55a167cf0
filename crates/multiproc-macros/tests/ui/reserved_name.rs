use multiproc_manager::manager_type;

#[derive(Default)]
struct Item;

#[manager_type]
impl Item {
    fn id(&self) -> u64 {
        1
    }
}

fn main() {}
