//! See `multiproc_examples::scenarios` (lock).
fn main() -> multiproc_examples::Outcome {
    (multiproc_examples::scenarios::ALL
        .iter()
        .find(|s| s.name == "lock")
        .ok_or("scenario lock is not registered")?
        .run)()
}
