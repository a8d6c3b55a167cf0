//! What the typed proxies refuse at compile time (trybuild).

#[test]
fn typed_proxy_rejects_wrong_types() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
