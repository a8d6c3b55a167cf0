//! Shared helpers for the benches: raw floors and the CPython runner.
