//! See `multiproc_examples::scenarios` (log_to_stderr).
fn main() -> multiproc_examples::Outcome {
    (multiproc_examples::scenarios::ALL
        .iter()
        .find(|s| s.name == "log_to_stderr")
        .ok_or("scenario log_to_stderr is not registered")?
        .run)()
}
