//! See `multiproc_examples::scenarios` (pool_map).
fn main() -> multiproc_examples::Outcome {
    (multiproc_examples::scenarios::ALL
        .iter()
        .find(|s| s.name == "pool_map")
        .ok_or("scenario pool_map is not registered")?
        .run)()
}
