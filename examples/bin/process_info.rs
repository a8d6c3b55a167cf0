//! See `multiproc_examples::scenarios` (process_info).
fn main() -> multiproc_examples::Outcome {
    (multiproc_examples::scenarios::ALL
        .iter()
        .find(|s| s.name == "process_info")
        .ok_or("scenario process_info is not registered")?
        .run)()
}
