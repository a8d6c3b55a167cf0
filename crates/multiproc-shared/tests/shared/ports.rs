//! More of CPython's `_TestSharedMemory`, with children under every start method.

use multiproc_process::{Process, StartMethod};
use multiproc_shared::{Item, ListError, ShareableList, SharedMemory, ShmError};

use super::util::TestResult;

const METHODS: [StartMethod; 3] = [
    StartMethod::Fork,
    StartMethod::Spawn,
    StartMethod::ForkServer,
];

fn attach_by_name_then_write(name: String, data: Vec<u8>) -> bool {
    SharedMemory::attach(&name).is_ok_and(|s| s.write_at(0, &data).is_ok())
}

fn write_through_handle(shm: SharedMemory, data: Vec<u8>) -> bool {
    shm.write_at(0, &data).is_ok()
}

// CPython: _TestSharedMemory.test_shared_memory_across_processes. A child attaches by
// name and writes; then a child given the object itself writes; the creator sees both.
#[test]
fn shared_memory_across_processes() -> TestResult {
    for m in METHODS {
        let shm = SharedMemory::create(None, 512)?;
        let mut buf = [0u8; 5];
        let p = Process::new(
            attach_by_name_then_write,
            (shm.name().to_string(), b"howdy".to_vec()),
        )
        .start_method(m)
        .start()?;
        assert!(p.join_value()?, "{m:?}");
        shm.read_at(0, &mut buf)?;
        assert_eq!(&buf, b"howdy", "{m:?}");
        let p = Process::new(
            write_through_handle,
            (SharedMemory::attach(shm.name())?, b"HELLO".to_vec()),
        )
        .start_method(m)
        .start()?;
        assert!(p.join_value()?, "{m:?}");
        shm.read_at(0, &mut buf)?;
        assert_eq!(&buf, b"HELLO", "{m:?}");
        shm.unlink()?;
    }
    Ok(())
}

// CPython: _TestSharedMemory.test_shared_memory_recreate / test_invalid_shared_memory_
// creation: a name in use cannot be created again (until unlinked), a zero size is
// refused, and random names do not collide.
#[test]
fn shared_memory_recreate_and_invalid_creation() -> TestResult {
    let name = format!("mp-test-recreate-{}", std::process::id());
    let first = SharedMemory::create(Some(&name), 64)?;
    assert!(matches!(
        SharedMemory::create(Some(&name), 64),
        Err(ShmError::Exists(_))
    ));
    first.unlink()?;
    let second = SharedMemory::create(Some(&name), 128)?;
    assert_eq!(second.size(), 128);
    second.unlink()?;
    assert!(matches!(
        SharedMemory::create(Some(&name), 0),
        Err(ShmError::InvalidSize)
    ));
    let blocks = (0..20)
        .map(|_| SharedMemory::create(None, 8))
        .collect::<Result<Vec<_>, _>>()?;
    let mut names: Vec<&str> = blocks.iter().map(SharedMemory::name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), 20);
    for b in &blocks {
        b.unlink()?;
    }
    Ok(())
}

fn bump_list(name: String) -> Option<Vec<Item>> {
    let l = ShareableList::attach(&name).ok()?;
    let Ok(Item::Int(v)) = l.get(0) else {
        return None;
    };
    l.set(0, Item::Int(v + 1)).ok()?;
    l.set(1, Item::from("bye")).ok()?;
    l.to_vec().ok()
}

// CPython: _TestSharedMemory.test_shared_memory_ShareableList_basics, the parts not in
// `shareable_list_basics`: an empty list; a second attachment in the same process sees
// writes at once; a child under every start method attaches by name and updates.
#[test]
fn shareable_list_attachments_and_empty_list() -> TestResult {
    let empty = ShareableList::new(Vec::new(), None)?;
    assert!(empty.is_empty());
    assert_eq!(empty.to_vec()?, Vec::<Item>::new());
    assert!(matches!(empty.get(0), Err(ListError::Index(_))));
    assert!(ShareableList::attach(empty.name())?.is_empty());
    empty.shm().unlink()?;

    let sl = ShareableList::new([Item::Int(0), Item::from("hello"), Item::None], None)?;
    let also = ShareableList::attach(sl.name())?;
    also.set(2, Item::Float(2.5))?;
    assert_eq!(sl.get(2)?, Item::Float(2.5));
    for (k, m) in METHODS.into_iter().enumerate() {
        let p = Process::new(bump_list, (sl.name().to_string(),))
            .start_method(m)
            .start()?;
        let seen = p.join_value()?.ok_or("child failed")?;
        assert_eq!(seen[0], Item::Int(k as i64 + 1), "{m:?}");
        assert_eq!(sl.get(1)?, Item::from("bye"));
    }
    sl.shm().unlink()?;
    Ok(())
}
