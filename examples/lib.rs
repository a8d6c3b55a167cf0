//! Shared helpers for the runnable examples (see `tour.rs`).
