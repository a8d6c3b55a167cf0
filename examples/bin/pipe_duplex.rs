//! See `multiproc_examples::scenarios` (pipe_duplex).
fn main() -> multiproc_examples::Outcome {
    (multiproc_examples::scenarios::ALL
        .iter()
        .find(|s| s.name == "pipe_duplex")
        .ok_or("scenario pipe_duplex is not registered")?
        .run)()
}
