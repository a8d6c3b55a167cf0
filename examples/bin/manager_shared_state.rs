//! See `multiproc_examples::scenarios` (manager_shared_state).
fn main() -> multiproc_examples::Outcome {
    (multiproc_examples::scenarios::ALL
        .iter()
        .find(|s| s.name == "manager_shared_state")
        .ok_or("scenario manager_shared_state is not registered")?
        .run)()
}
