//! See `multiproc_examples::scenarios` (pool_async).
fn main() -> multiproc_examples::Outcome {
    (multiproc_examples::scenarios::ALL
        .iter()
        .find(|s| s.name == "pool_async")
        .ok_or("scenario pool_async is not registered")?
        .run)()
}
