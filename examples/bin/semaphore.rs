//! See `multiproc_examples::scenarios` (semaphore).
fn main() -> multiproc_examples::Outcome {
    (multiproc_examples::scenarios::ALL
        .iter()
        .find(|s| s.name == "semaphore")
        .ok_or("scenario semaphore is not registered")?
        .run)()
}
