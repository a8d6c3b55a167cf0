//! The scenarios of the tutorials in `shared/seeds/`, as library functions so that each
//! runs both as its own example (`cargo run --example pipe`) and inside the `tour`.
//!
//! Every scenario prints what its seed prints and returns an error when the behaviour
//! it demonstrates does not hold (the tour exits non-zero then).

pub mod scenarios;

/// What a scenario returns.
pub type Outcome = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// Fails a scenario with a message when `cond` is false.
pub fn check(cond: bool, what: impl Into<String>) -> Outcome {
    if cond {
        Ok(())
    } else {
        Err(what.into().into())
    }
}
