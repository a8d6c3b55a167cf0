//! See `multiproc_examples::scenarios` (active_pool).
fn main() -> multiproc_examples::Outcome {
    (multiproc_examples::scenarios::ALL
        .iter()
        .find(|s| s.name == "active_pool")
        .ok_or("scenario active_pool is not registered")?
        .run)()
}
