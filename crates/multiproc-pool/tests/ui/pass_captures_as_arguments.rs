// The fix the errors name: what the closure captured travels as an argument.
use multiproc_pool::Pool;
use multiproc_process::Process;

fn scale(x: i64, k: i64) -> i64 {
    x * k
}

fn main() {
    let k = 3;
    let _process = Process::new(scale, (1, k));
    let _task = |pool: &Pool| pool.starmap(scale, [(1, k), (2, k)]);
}
