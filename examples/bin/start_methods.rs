//! See `multiproc_examples::scenarios` (start_methods).
fn main() -> multiproc_examples::Outcome {
    (multiproc_examples::scenarios::ALL
        .iter()
        .find(|s| s.name == "start_methods")
        .ok_or("scenario start_methods is not registered")?
        .run)()
}
