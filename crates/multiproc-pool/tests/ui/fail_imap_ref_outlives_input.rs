// The iterator of `imap_ref` borrows its input: the input cannot go while it lives.
use multiproc_pool::Pool;

fn len(s: String) -> usize {
    s.len()
}

fn main() -> Result<(), multiproc_pool::Error> {
    let pool = Pool::new(2)?;
    let words = vec!["a".to_string()];
    let mut it = pool.imap_ref(len, words.iter());
    drop(words);
    let _ = it.next();
    Ok(())
}
