//! See `multiproc_examples::scenarios` (process_struct).
fn main() -> multiproc_examples::Outcome {
    (multiproc_examples::scenarios::ALL
        .iter()
        .find(|s| s.name == "process_struct")
        .ok_or("scenario process_struct is not registered")?
        .run)()
}
