use multiproc_pool::Pool;

fn main() -> Result<(), multiproc_pool::Error> {
    let pool = Pool::new(2)?;
    let name = String::from("k");
    let _ = pool.map(move |x: usize| x * name.len(), [1, 2])?;
    Ok(())
}
