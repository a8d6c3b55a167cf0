//! Touches every name the facade re-exports, so a re-export that goes missing or changes
//! kind fails to compile, and checks a few behave as the CPython names promise.

use std::time::Duration;

use multiproc::prelude::*;

fn square(x: i64) -> i64 {
    x * x
}

/// `#[multiproc::manager_type]` (its full use: `python_docs.rs`, "Customized managers").
#[derive(Default)]
struct Touch;

#[multiproc::manager_type]
impl Touch {
    fn ping(&self) -> bool {
        true
    }
}

#[test]
#[allow(clippy::type_complexity)]
fn every_reexport_is_reachable() -> Result<(), multiproc::Error> {
    // ipc
    let (a, b): (multiproc::Connection, multiproc::Connection) = multiproc::Pipe::duplex()?;
    a.send(&1u8)?;
    assert_eq!(
        multiproc::wait(&[&b], Some(Duration::from_secs(120)))?.len(),
        1
    );
    assert_eq!(multiproc::wait_indices(&[&b], Some(Duration::ZERO))?, [0]);
    let _: u8 = b.recv()?;
    let _seg = multiproc::SharedSegment::new(4096)?;
    let _addr: Option<multiproc::Address> = None;
    let _l: Option<multiproc::Listener> = None;
    let _c: Option<multiproc::Client> = None;
    // process
    let ctx: multiproc::Context = multiproc::get_context(Some(multiproc::StartMethod::Spawn));
    let p: multiproc::Process<i64> = multiproc::Process::new(square, (7,))
        .context(&ctx)
        .start()?;
    assert_eq!(p.join_value()?, 49);
    let _b: multiproc::ProcessBuilder<i64> = multiproc::Process::new(square, (1,));
    let me: multiproc::ProcessInfo = multiproc::current_process();
    assert_eq!(me.name(), "MainProcess");
    let parent: Option<multiproc::ParentProcess> = multiproc::parent_process();
    assert!(parent.is_none());
    let _ = multiproc::active_children();
    assert!(multiproc::cpu_count() >= 1);
    assert_eq!(multiproc::get_all_start_methods().len(), 3);
    let _ = multiproc::get_start_method();
    let _ = multiproc::set_start_method;
    let _ = multiproc::log_to_stderr;
    let _ = multiproc::Level::INFO;
    // sync
    let lock = multiproc::Lock::new()?;
    drop(lock.lock().unwrap_or_else(multiproc::OwnerDied::into_inner));
    let rlock = multiproc::RLock::new()?;
    drop(
        rlock
            .lock()
            .unwrap_or_else(multiproc::OwnerDied::into_inner),
    );
    let sem = multiproc::Semaphore::new(1)?;
    drop(sem.permit());
    let bsem = multiproc::BoundedSemaphore::new(1)?;
    assert!(
        bsem.release().is_err(),
        "over-release of a BoundedSemaphore is an error"
    );
    let ev = multiproc::Event::new()?;
    assert!(!ev.wait_timeout(Duration::ZERO));
    let _cond = multiproc::Condition::new()?;
    let barrier = multiproc::Barrier::new(1)?;
    assert_eq!(barrier.wait()?, 0);
    // shared
    let v = multiproc::Value::new(1.5f64)?;
    assert_eq!(v.get(), 1.5);
    let arr = multiproc::Array::from_slice(&[1i32, 2, 3])?;
    assert_eq!(arr.to_vec(), [1, 2, 3]);
    let _rv = multiproc::RawValue::new(0u8)?;
    let _ra = multiproc::RawArray::<f64>::zeroed(4)?;
    let _shm: Option<multiproc::SharedMemory> = None;
    let _sl: Option<multiproc::ShareableList> = None;
    // queue
    let q: multiproc::Queue<u32> = multiproc::Queue::new()?;
    q.put(5)?;
    assert_eq!(q.get_timeout(Duration::from_secs(120))?, 5);
    let sq: multiproc::SimpleQueue<u32> = multiproc::SimpleQueue::new()?;
    sq.put(6)?;
    assert_eq!(sq.get()?, 6);
    let jq: multiproc::JoinableQueue<u32> = multiproc::JoinableQueue::new()?;
    jq.put(7)?;
    let _: u32 = jq.get()?;
    jq.task_done()?;
    jq.join()?;
    // pool
    let pool: multiproc::Pool = multiproc::Pool::new(2)?;
    assert_eq!(pool.map(square, [1, 2, 3])?, [1, 4, 9]);
    let r: multiproc::AsyncResult<i64> = pool.apply_async(square, (4,));
    assert_eq!(r.get()?, 16);
    // manager
    let m: multiproc::Manager = multiproc::Manager::start()?;
    let d = m.dict()?;
    d.insert(1, "1")?;
    assert_eq!(d.to_string(), "{1: '1'}");
    m.shutdown()?;
    // modules
    let _ = multiproc::ipc::frame::DEFAULT_MAX_FRAME;
    let _ = multiproc::process::DEFAULT_START_METHOD;
    let _ = multiproc::sync::Lock::new;
    let _ = multiproc::shared::SharedMemory::create;
    let _ = multiproc::queue::Queue::<u8>::new;
    let _ = multiproc::pool::Pool::builder;
    let _ = multiproc::manager::Manager::in_thread;
    let _ = (TouchProxy::create, TouchProxy::ping);
    // prelude
    let _ = (Pipe::duplex, cpu_count, current_process);
    let _: Option<(
        Connection,
        Lock,
        Queue<u8>,
        Manager,
        Pool,
        Value<u8>,
        Array<u8>,
    )> = None;
    let _: Option<(
        Error,
        Process<i64>,
        SimpleQueue<u8>,
        JoinableQueue<u8>,
        RLock,
        Semaphore,
        BoundedSemaphore,
        Event,
        Condition,
        Barrier,
        OwnerDied<()>,
    )> = None;
    let _ = StartMethod::Fork;
    Ok(())
}

/// The `progress` feature forwards to multiproc-pool's: the progress bar is there.
#[cfg(feature = "progress")]
#[test]
fn progress_feature_reaches_the_pool() -> Result<(), multiproc::Error> {
    let pool = multiproc::Pool::new(1)?;
    let it: multiproc::pool::IMap<i64> = pool.imap(square, [1, 2, 3]).progress(Some(3));
    assert_eq!(it.collect::<Result<Vec<_>, _>>()?, [1, 4, 9]);
    Ok(())
}

/// The async forms (feature `tokio`), reached through the facade's crate modules.
#[cfg(feature = "tokio")]
#[test]
fn the_async_forms_are_reachable() -> Result<(), Box<dyn std::error::Error>> {
    use multiproc::pool::aio::AsyncIMap;
    use multiproc::process::aio::{AsyncProcess, Exits};
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let p: AsyncProcess<i64> = multiproc::Process::new(square, (3,))
            .start_method(multiproc::StartMethod::Spawn)
            .start()?
            .into_async();
        assert_eq!(Exits::new([&p]).remaining(), 1);
        assert_eq!(p.join_value().await?, 9);
        let pool = multiproc::Pool::builder()
            .processes(1)
            .start_method(multiproc::StartMethod::ForkServer)
            .build()?;
        assert_eq!(pool.apply_async(square, (4,)).await?, 16);
        let mut s: AsyncIMap<'_, i64> = pool.imap(square, [5]).into_async();
        assert_eq!(s.next().await.ok_or("an item")??, 25);
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    Ok(())
}

/// The other crates' async forms (feature `tokio`) through the facade paths: one item
/// of each `aio` module, used minimally.
#[cfg(feature = "tokio")]
#[test]
fn every_crates_aio_module_is_reachable() -> Result<(), Box<dyn std::error::Error>> {
    use multiproc::ipc::aio::AsyncConnection;
    use multiproc::manager::aio::AsyncManager;
    use multiproc::queue::aio::AsyncQueue;
    use multiproc::sync::aio::AsyncLock;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let (a, b) = multiproc::Pipe::duplex()?;
        let (a, b): (AsyncConnection, AsyncConnection) = (a.into_async()?, b.into_async()?);
        a.send(&5u8).await?;
        assert_eq!(b.recv::<u8>().await?, 5);

        let manager = multiproc::manager::Manager::in_thread()?;
        let m: AsyncManager = AsyncManager::new(&manager).await?;
        let v = m.value(1i64).await?;
        v.set(2).await?;
        assert_eq!(v.get().await?, 2);

        let lock: AsyncLock = multiproc::Lock::new()?.into_async();
        let guard = lock.lock().await.map_err(|_| "owner died")?;
        assert!(lock.try_lock().is_none());
        drop(guard);

        let q: AsyncQueue<u32> = multiproc::Queue::new()?.into_async();
        q.put(9).await.map_err(|e| e.to_string())?;
        assert_eq!(q.get().await?, 9);
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    Ok(())
}
