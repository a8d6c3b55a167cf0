//! See `multiproc_examples::scenarios` (exit_codes).
fn main() -> multiproc_examples::Outcome {
    (multiproc_examples::scenarios::ALL
        .iter()
        .find(|s| s.name == "exit_codes")
        .ok_or("scenario exit_codes is not registered")?
        .run)()
}
