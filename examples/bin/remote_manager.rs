//! See `multiproc_examples::scenarios` (remote_manager).
fn main() -> multiproc_examples::Outcome {
    (multiproc_examples::scenarios::ALL
        .iter()
        .find(|s| s.name == "remote_manager")
        .ok_or("scenario remote_manager is not registered")?
        .run)()
}
