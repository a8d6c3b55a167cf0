//! What a capturing closure passed as a pool task or a process target gets: an error
//! at the user's call with the fix for that API (trybuild).
//!
//! A closure that captures `Copy` values satisfies every trait bound; that it is not
//! zero-sized is a post-monomorphization error, which `cargo build` reports and `cargo
//! check` cannot (stable Rust has no "zero-sized" trait bound). The `pass` case makes
//! trybuild build rather than check, and shows the fix compiles. A closure capturing a
//! non-`Copy` value fails the bounds: `cargo check` reports it.

#[test]
fn capturing_closures_are_refused_at_the_call() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass_captures_as_arguments.rs");
    t.compile_fail("tests/ui/fail_*.rs");
}
