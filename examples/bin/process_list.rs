//! See `multiproc_examples::scenarios` (process_list).
fn main() -> multiproc_examples::Outcome {
    (multiproc_examples::scenarios::ALL
        .iter()
        .find(|s| s.name == "process_list")
        .ok_or("scenario process_list is not registered")?
        .run)()
}
