//! Value, Array, SharedMemory and ShareableList handed to children under every start
//! method.

use multiproc_process::{Process, StartMethod};
use multiproc_shared::{Array, Item, RawArray, ShareableList, SharedMemory, Value};

use super::util::TestResult;

const METHODS: [StartMethod; 3] = [
    StartMethod::Fork,
    StartMethod::Spawn,
    StartMethod::ForkServer,
];

fn add(v: Value<u64>, m: u64) {
    for _ in 0..m {
        v.update(|x| x + 1);
    }
}

fn negate(a: Array<i32>, raw: RawArray<f64>) {
    for i in 0..a.len() {
        let _ = a.set(i, -a.get(i).unwrap_or(0));
    }
    let v: Vec<f64> = raw.iter().map(|x| x * 2.0).collect();
    let _ = raw.copy_from_slice(&v);
}

fn touch(shm: SharedMemory, list: ShareableList) -> bool {
    shm.write_at(0, b"child").is_ok() && list.set(0, Item::Int(99)).is_ok()
}

#[test]
fn shared_values_under_every_start_method() -> TestResult {
    for method in METHODS {
        let v = Value::new(0u64)?;
        let ps = (0..3)
            .map(|_| {
                Process::new(add, (v.clone(), 400u64))
                    .start_method(method)
                    .start()
            })
            .collect::<Result<Vec<_>, _>>()?;
        for p in ps {
            p.join()?;
        }
        assert_eq!(v.get(), 1200, "{method:?}");

        let a = Array::from_slice(&(0..10).collect::<Vec<i32>>())?;
        let raw = RawArray::from_slice(&[1.0f64, 2.5])?;
        Process::new(negate, (a.clone(), raw.clone()))
            .start_method(method)
            .start()?
            .join()?;
        assert_eq!(a.to_vec(), [0, -1, -2, -3, -4, -5, -6, -7, -8, -9]);
        assert_eq!(raw.to_vec(), [2.0, 5.0]);

        let shm = SharedMemory::create(None, 64)?;
        let list = ShareableList::new([Item::Int(1), Item::from("x")], None)?;
        let p = Process::new(
            touch,
            (
                SharedMemory::attach(shm.name())?,
                ShareableList::attach(list.name())?,
            ),
        )
        .start_method(method)
        .start()?;
        assert!(p.join_value()?, "{method:?}");
        let mut buf = [0u8; 5];
        shm.read_at(0, &mut buf)?;
        assert_eq!(&buf, b"child");
        assert_eq!(list.get(0)?, Item::Int(99));
        shm.unlink()?;
        list.shm().unlink()?;
    }
    Ok(())
}
