//! See `multiproc_examples::scenarios` (pool_initializer).
fn main() -> multiproc_examples::Outcome {
    (multiproc_examples::scenarios::ALL
        .iter()
        .find(|s| s.name == "pool_initializer")
        .ok_or("scenario pool_initializer is not registered")?
        .run)()
}
