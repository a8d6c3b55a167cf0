//! See `multiproc_examples::scenarios` (list_not_shared).
fn main() -> multiproc_examples::Outcome {
    (multiproc_examples::scenarios::ALL
        .iter()
        .find(|s| s.name == "list_not_shared")
        .ok_or("scenario list_not_shared is not registered")?
        .run)()
}
