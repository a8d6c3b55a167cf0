//! See `multiproc_examples::scenarios` (producer_consumer).
fn main() -> multiproc_examples::Outcome {
    (multiproc_examples::scenarios::ALL
        .iter()
        .find(|s| s.name == "producer_consumer")
        .ok_or("scenario producer_consumer is not registered")?
        .run)()
}
