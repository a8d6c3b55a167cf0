//! See `multiproc_examples::scenarios` (pipe).
fn main() -> multiproc_examples::Outcome {
    (multiproc_examples::scenarios::ALL
        .iter()
        .find(|s| s.name == "pipe")
        .ok_or("scenario pipe is not registered")?
        .run)()
}
