use multiproc_pool::Pool;

fn main() -> Result<(), multiproc_pool::Error> {
    let pool = Pool::new(2)?;
    let k = 3i64;
    let _ = pool.map(move |x: i64| x * k, [1, 2])?;
    Ok(())
}
