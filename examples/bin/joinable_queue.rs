//! See `multiproc_examples::scenarios` (joinable_queue).
fn main() -> multiproc_examples::Outcome {
    (multiproc_examples::scenarios::ALL
        .iter()
        .find(|s| s.name == "joinable_queue")
        .ok_or("scenario joinable_queue is not registered")?
        .run)()
}
