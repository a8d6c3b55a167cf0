//! Issue #16: a tokio TCP server (loopback) whose handlers send CPU-bound requests to a
//! multiproc `Pool` and await the results — `pool.apply_async(f, args).await` — serving
//! 1,000 concurrent clients, spawned here too, without blocking a runtime thread.
//!
//! Each client connects, sends a number `n` as a line and reads back a line: the count
//! of primes below `n` (trial division, a few milliseconds of CPU), computed in a
//! worker process. The runtime has two worker threads: had an await blocked one, a
//! thousand waiting handlers would stall the accept loop and the example would hang.
//! Fails unless every client got the right answer.
//!
//! The Python counterpart is `asyncio.start_server` whose handlers call
//! `await loop.run_in_executor(ProcessPoolExecutor(), f, n)` (docs/python-guide.md).
//!
//! ```text
//! cargo run --release --example async_server
//! ```

use std::sync::Arc;

use multiproc::prelude::*;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

const CLIENTS: u64 = 1000;

/// The CPU-bound work: how many primes are below `n`.
fn primes_below(n: u64) -> u64 {
    (2..n)
        .filter(|&k| (2..).take_while(|d| d * d <= k).all(|d| k % d != 0))
        .count() as u64
}

/// What client `i` asks for.
fn request(i: u64) -> u64 {
    5_000 + (i * 37) % 5_000
}

/// One connection: a line in, the pool's answer out, until the client hangs up.
async fn handle(
    stream: TcpStream,
    pool: Arc<Pool>,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    while let Some(line) = lines.next_line().await? {
        let n: u64 = line.trim().parse()?;
        // The awaiting task sleeps; the pool's supervisor thread wakes it.
        let count = pool.apply_async(primes_below, (n,)).await?;
        write.write_all(format!("{count}\n").as_bytes()).await?;
    }
    Ok(())
}

async fn client(
    i: u64,
    addr: std::net::SocketAddr,
) -> Result<(u64, u64), Box<dyn std::error::Error + Send + Sync>> {
    let stream = TcpStream::connect(addr).await?;
    let (read, mut write) = stream.into_split();
    write
        .write_all(format!("{}\n", request(i)).as_bytes())
        .await?;
    let mut lines = BufReader::new(read).lines();
    let answer = lines.next_line().await?.ok_or("the server hung up")?;
    Ok((i, answer.trim().parse()?))
}

/// The example; `main` and the tour call it.
pub fn run() -> Result<(), Box<dyn std::error::Error>> {
    raise_descriptor_limit();
    // Built before the runtime: any start method works then (from inside a
    // multi-thread runtime, Fork is refused; Spawn and ForkServer work there too).
    let pool = Arc::new(Pool::new(multiproc::process::cpu_count().clamp(2, 4))?);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let answers = rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let server = {
            let pool = pool.clone();
            tokio::spawn(async move {
                loop {
                    let stream = match listener.accept().await {
                        Ok((stream, _)) => stream,
                        Err(e) => {
                            eprintln!("accept: {e}");
                            tokio::task::yield_now().await;
                            continue;
                        }
                    };
                    let pool = pool.clone();
                    tokio::spawn(async move {
                        if let Err(e) = handle(stream, pool).await {
                            eprintln!("handler: {e}");
                        }
                    });
                }
            })
        };
        let clients: Vec<_> = (0..CLIENTS)
            .map(|i| tokio::spawn(client(i, addr)))
            .collect();
        let mut answers = Vec::with_capacity(CLIENTS as usize);
        for c in clients {
            answers.push(c.await?.map_err(|e| e.to_string())?);
        }
        server.abort();
        Ok::<_, Box<dyn std::error::Error>>(answers)
    })?;
    drop(rt);
    assert_eq!(answers.len() as u64, CLIENTS);
    // Every answer checked against this process's own computation (once per distinct
    // request).
    let mut expected = std::collections::HashMap::new();
    for &(i, got) in &answers {
        let n = request(i);
        let want = *expected.entry(n).or_insert_with(|| primes_below(n));
        assert_eq!(got, want, "client {i} asked for primes below {n}");
    }
    println!(
        "{CLIENTS} concurrent clients served through a pool of {} workers; e.g. primes below {}: {}",
        pool.processes(),
        request(0),
        answers[0].1
    );
    pool.close();
    pool.join()?;
    Ok(())
}

/// Two descriptors per connection (both ends live here) are more than a common soft
/// limit of 1024: raise it towards the hard limit, as a server would be configured.
fn raise_descriptor_limit() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    let want = 4 * CLIENTS + 256;
    if limit.current.is_some_and(|c| c < want) {
        limit.current = Some(limit.maximum.map_or(want, |m| m.min(want)));
        let _ = setrlimit(Resource::Nofile, limit);
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    run()
}
