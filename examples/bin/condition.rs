//! See `multiproc_examples::scenarios` (condition).
fn main() -> multiproc_examples::Outcome {
    (multiproc_examples::scenarios::ALL
        .iter()
        .find(|s| s.name == "condition")
        .ok_or("scenario condition is not registered")?
        .run)()
}
