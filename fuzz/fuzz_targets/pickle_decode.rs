//! The data-only pickle decoder on arbitrary bytes: never a panic, never an allocation
//! or a recursion the input asked for; what decodes re-encodes and decodes equal.
//! The same bytes are also tried behind a `PROTO 4` header, and as typed values.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use multiproc_ipc::pickle::{self, Limits, PickleValue};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
enum Shape {
    Unit,
    Tuple(i64, Option<String>),
    Named { name: String, tags: Vec<u8> },
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Rich {
    id: u64,
    shapes: Vec<Shape>,
    map: BTreeMap<String, Vec<i32>>,
    wide: (i128, u128),
    text: String,
    small: f32,
}

fuzz_target!(|data: &[u8]| {
    // Small bounds, so that the fuzzer explores them rather than memory.
    let limits = Limits::default().with_max_depth(32).with_max_size(1 << 22);
    let mut framed = vec![0x80, 4];
    framed.extend_from_slice(data);
    for input in [data, &framed[..]] {
        if let Ok(v) = pickle::from_slice_with::<PickleValue>(input, &limits) {
            let _ = v.to_string();
            let again = pickle::to_vec(&v).expect("a decoded value encodes");
            // Default limits: the re-encoding writes every copy of a shared object,
            // which the machine then charges in full.
            let back: PickleValue = pickle::from_slice(&again).expect("an encoded value decodes");
            // NaN is not equal to itself: compare the reprs
            assert_eq!(back.to_string(), v.to_string());
            let _ = v.clone();
        }
        let _ = pickle::from_slice_with::<Rich>(input, &limits);
        let _ = pickle::from_slice_with::<Vec<Option<(bool, String)>>>(input, &limits);
    }
});
