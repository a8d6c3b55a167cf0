use multiproc_process::Process;

fn main() {
    let k = 3i64;
    let _ = Process::new(move |x: i64| x * k, (1,));
}
