//! See `multiproc_examples::scenarios` (queue).
fn main() -> multiproc_examples::Outcome {
    (multiproc_examples::scenarios::ALL
        .iter()
        .find(|s| s.name == "queue")
        .ok_or("scenario queue is not registered")?
        .run)()
}
