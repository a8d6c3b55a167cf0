//! See `multiproc_examples::scenarios` (event).
fn main() -> multiproc_examples::Outcome {
    (multiproc_examples::scenarios::ALL
        .iter()
        .find(|s| s.name == "event")
        .ok_or("scenario event is not registered")?
        .run)()
}
