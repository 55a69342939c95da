#![no_main]
//! JSON value and type decoding must never panic, and decoded values must round-trip.

mod common;

use common::cty::{decode_json, encode_json, Type};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = Type::from_json(data);
    for ty in common::types() {
        if let Ok(value) = decode_json(data, &ty) {
            // Decoded JSON holds no unknowns, but may hold infinities (from strings like "inf").
            if let Ok(text) = encode_json(&value, &ty) {
                let again = decode_json(&text, &ty).expect("re-encoded JSON decodes");
                assert_eq!(again, value);
            }
        }
    }
});
