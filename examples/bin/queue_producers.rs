//! See `multiproc_examples::scenarios` (queue_producers).
fn main() -> multiproc_examples::Outcome {
    (multiproc_examples::scenarios::ALL
        .iter()
        .find(|s| s.name == "queue_producers")
        .ok_or("scenario queue_producers is not registered")?
        .run)()
}
