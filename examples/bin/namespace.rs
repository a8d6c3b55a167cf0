//! See `multiproc_examples::scenarios` (namespace).
fn main() -> multiproc_examples::Outcome {
    (multiproc_examples::scenarios::ALL
        .iter()
        .find(|s| s.name == "namespace")
        .ok_or("scenario namespace is not registered")?
        .run)()
}
