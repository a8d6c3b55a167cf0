//! See `multiproc_examples::scenarios` (process_states).
fn main() -> multiproc_examples::Outcome {
    (multiproc_examples::scenarios::ALL
        .iter()
        .find(|s| s.name == "process_states")
        .ok_or("scenario process_states is not registered")?
        .run)()
}
