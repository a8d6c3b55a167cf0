//! The seeds' MapReduce word count (the same generic `map_reduce` as `wordcount`) over
//! generated text: serially, on the local pool, and on MPI ranks.
//!
//! ```text
//! cargo build --release --features mpi --example mpi_wordcount
//! mpirun -np 3 target/release/examples/mpi_wordcount -- 20   # 20 MB, rank 0 + 2 workers
//! ```
//! Across hosts the generated files must be visible to every host at the same path
//! (a shared file system): the tasks are file names, as in the seed.

use std::time::Instant;

use multiproc::{Pool, cpu_count};

// The seed's word count, as the `wordcount` example has it (its `main` goes unused here).
#[path = "wordcount.rs"]
#[allow(dead_code, unreachable_pub)]
mod wordcount;
use wordcount::{generate_corpus, map_reduce};

type Outcome = Result<(), Box<dyn std::error::Error>>;

fn main() -> Outcome {
    let mpi = multiproc::mpi::init()?;
    let mb: usize = std::env::args()
        .skip(1)
        .find(|a| a != "--")
        .map_or(Ok(20), |s| s.parse())?;
    let dir = std::env::temp_dir().join(format!("multiproc-mpi-wordcount-{}", std::process::id()));
    println!("generating {mb} MB of text in {}", dir.display());
    let inputs = generate_corpus(&dir, mb)?;
    let run = || -> Outcome {
        let t = Instant::now();
        let serial = map_reduce(&SerialPool, inputs.clone(), true);
        let serial_s = t.elapsed().as_secs_f64();
        let serial = serial?;
        let local = Pool::new(cpu_count())?;
        let t = Instant::now();
        let on_local = map_reduce(&local, inputs.clone(), true)?;
        let local_s = t.elapsed().as_secs_f64();
        drop(local);
        let t = Instant::now();
        let on_mpi = map_reduce(&mpi, inputs.clone(), true)?;
        let mpi_s = t.elapsed().as_secs_f64();
        println!("TOP 5 WORD");
        for (w, n) in on_mpi.iter().take(5) {
            println!(" ({w:?}, {n}),");
        }
        println!(
            "serial {serial_s:.2} s | local Pool({}) {local_s:.2} s | {} pool of {} {mpi_s:.2} s",
            cpu_count(),
            if mpi.is_mpi() {
                "MPI"
            } else {
                "single-rank (local)"
            },
            mpi.processes()
        );
        if on_local != serial || on_mpi != serial {
            return Err("the three counts differ".into());
        }
        Ok(())
    };
    let r = run();
    let _ = std::fs::remove_dir_all(&dir);
    r
}

/// The serial baseline, through the same generic `map_reduce`: one process, no pool.
struct SerialPool;

mod serial {
    //! A backend that runs every call in the calling process (the serial baseline).
    use std::sync::Mutex;
    use std::time::Duration;

    use multiproc::pool::{AsyncResultApi, Error, PoolApi};
    use multiproc::process::Target;
    use serde::Serialize;
    use serde::de::DeserializeOwned;

    /// A result computed at once, handed out once.
    pub(crate) struct Now<T>(Mutex<Option<Result<T, Error>>>);

    impl<T> Now<T> {
        fn new(r: Result<T, Error>) -> Self {
            Now(Mutex::new(Some(r)))
        }

        fn take(&self) -> Result<T, Error> {
            self.0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take()
                .unwrap_or(Err(Error::AlreadyTaken))
        }
    }

    impl<T: Send> AsyncResultApi<T> for Now<T> {
        fn ready(&self) -> bool {
            true
        }
        fn wait(&self) {}
        fn wait_timeout(&self, _: Duration) -> bool {
            true
        }
        fn get(self) -> Result<T, Error> {
            self.take()
        }
        fn cancel(&self) -> bool {
            false
        }
        fn get_timeout(&self, _: Duration) -> Result<T, Error> {
            self.take()
        }
        fn callback(self, f: impl FnOnce(&T) + Send + 'static) -> Self {
            if let Some(Ok(v)) = &*self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
            {
                f(v);
            }
            self
        }
        fn error_callback(self, f: impl FnOnce(&Error) + Send + 'static) -> Self {
            if let Some(Err(e)) = &*self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
            {
                f(e);
            }
            self
        }
    }

    impl PoolApi for super::SerialPool {
        type AsyncResult<T: Send + 'static> = Now<T>;
        type IMap<R: DeserializeOwned + Send + 'static> = std::vec::IntoIter<Result<R, Error>>;

        fn processes(&self) -> usize {
            1
        }
        fn apply<F, A>(&self, f: F, args: A) -> Result<F::Output, Error>
        where
            F: Target<A>,
            A: Serialize + DeserializeOwned + Send + 'static,
        {
            Ok(f.call(args))
        }
        fn apply_async<F, A>(&self, f: F, args: A) -> Now<F::Output>
        where
            F: Target<A>,
            A: Serialize + DeserializeOwned + Send + 'static,
        {
            Now::new(Ok(f.call(args)))
        }
        fn map<F, T, I>(&self, f: F, iterable: I) -> Result<Vec<F::Output>, Error>
        where
            F: Target<(T,)>,
            T: Serialize + DeserializeOwned + Send + 'static,
            I: IntoIterator<Item = T>,
        {
            Ok(iterable.into_iter().map(|x| f.call((x,))).collect())
        }
        fn map_chunked<F, T, I>(&self, f: F, iterable: I, _: usize) -> Result<Vec<F::Output>, Error>
        where
            F: Target<(T,)>,
            T: Serialize + DeserializeOwned + Send + 'static,
            I: IntoIterator<Item = T>,
        {
            self.map(f, iterable)
        }
        fn map_async<F, T, I>(&self, f: F, iterable: I) -> Now<Vec<F::Output>>
        where
            F: Target<(T,)>,
            T: Serialize + DeserializeOwned + Send + 'static,
            I: IntoIterator<Item = T>,
        {
            Now::new(self.map(f, iterable))
        }
        fn starmap<F, A, I>(&self, f: F, iterable: I) -> Result<Vec<F::Output>, Error>
        where
            F: Target<A>,
            A: Serialize + DeserializeOwned + Send + 'static,
            I: IntoIterator<Item = A>,
        {
            Ok(iterable.into_iter().map(|a| f.call(a)).collect())
        }
        fn starmap_async<F, A, I>(&self, f: F, iterable: I) -> Now<Vec<F::Output>>
        where
            F: Target<A>,
            A: Serialize + DeserializeOwned + Send + 'static,
            I: IntoIterator<Item = A>,
        {
            Now::new(self.starmap(f, iterable))
        }
        fn starmap_chunked<F, A, I>(
            &self,
            f: F,
            iterable: I,
            _: usize,
        ) -> Result<Vec<F::Output>, Error>
        where
            F: Target<A>,
            A: Serialize + DeserializeOwned + Send + 'static,
            I: IntoIterator<Item = A>,
        {
            self.starmap(f, iterable)
        }
        fn imap<F, T, I>(&self, f: F, iterable: I) -> Self::IMap<F::Output>
        where
            F: Target<(T,)>,
            T: Serialize + DeserializeOwned + Send + 'static,
            I: IntoIterator<Item = T>,
            I::IntoIter: Send + 'static,
        {
            iterable
                .into_iter()
                .map(|x| Ok(f.call((x,))))
                .collect::<Vec<_>>()
                .into_iter()
        }
        fn imap_unordered<F, T, I>(&self, f: F, iterable: I) -> Self::IMap<F::Output>
        where
            F: Target<(T,)>,
            T: Serialize + DeserializeOwned + Send + 'static,
            I: IntoIterator<Item = T>,
            I::IntoIter: Send + 'static,
        {
            self.imap(f, iterable)
        }
        fn close(&self) {}
        fn terminate(&self) {}
        fn join(&self) -> Result<(), Error> {
            Ok(())
        }
    }
}
