#![no_main]
//! msgpack decoding must return a value or an error, never panic, for any bytes. Whatever
//! decodes must re-encode, and the re-encoding must decode to the same value.

mod common;

use common::cty::{decode, encode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for ty in common::types() {
        if let Ok(value) = decode(data, &ty) {
            let bytes = encode(&value, &ty).expect("a decoded value re-encodes");
            let again = decode(&bytes, &ty).expect("a re-encoded value decodes");
            assert_eq!(again, value);
        }
    }
});
