//! See `multiproc_examples::scenarios` (pool_imap).
fn main() -> multiproc_examples::Outcome {
    (multiproc_examples::scenarios::ALL
        .iter()
        .find(|s| s.name == "pool_imap")
        .ok_or("scenario pool_imap is not registered")?
        .run)()
}
