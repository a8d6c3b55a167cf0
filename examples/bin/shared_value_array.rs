//! See `multiproc_examples::scenarios` (shared_value_array).
fn main() -> multiproc_examples::Outcome {
    (multiproc_examples::scenarios::ALL
        .iter()
        .find(|s| s.name == "shared_value_array")
        .ok_or("scenario shared_value_array is not registered")?
        .run)()
}
