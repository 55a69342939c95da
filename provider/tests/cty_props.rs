//! Property tests for the cty codecs: msgpack and JSON round trips over generated (type, value)
//! pairs, type JSON round trips, number ordering, and decoding of garbage without panics.
//!
//! `PROPTEST_CASES=50000 cargo test --release --test cty_props` runs every property longer.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use proptest::strategy::Union;
use terraform_provider_mixpanel::cty::{
    decode, decode_json, encode, encode_json, Number, NumberBound, Refinements, Type, Value,
};

fn arb_type() -> impl Strategy<Value = Type> {
    let leaf = prop_oneof![
        Just(Type::String),
        Just(Type::Number),
        Just(Type::Bool),
        Just(Type::Dynamic)
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(Type::list),
            inner.clone().prop_map(Type::set),
            inner.clone().prop_map(Type::map),
            prop::collection::btree_map("[a-z_]{1,6}", (inner.clone(), any::<bool>()), 0..4)
                .prop_map(|fields| {
                    let optional: BTreeSet<String> = fields
                        .iter()
                        .filter(|(_, (_, opt))| *opt)
                        .map(|(k, _)| k.clone())
                        .collect();
                    Type::Object {
                        attrs: fields.into_iter().map(|(k, (t, _))| (k, t)).collect(),
                        optional,
                    }
                }),
            prop::collection::vec(inner, 0..4).prop_map(Type::Tuple),
        ]
    })
}

/// Numbers in every representation; `finite` excludes infinities (JSON cannot carry them).
fn arb_number(finite: bool) -> BoxedStrategy<Number> {
    let floats = any::<f64>().prop_filter_map("NaN or infinite", move |f| {
        Number::from_f64(f).filter(|n| !finite || !n.is_infinite())
    });
    prop_oneof![
        any::<i64>().prop_map(Number::from),
        any::<u64>().prop_map(Number::from),
        floats,
        "-?[0-9]{1,30}(\\.[0-9]{1,30})?([eE][+-]?[0-9]{1,3})?"
            .prop_filter_map("unparsable", |s| Number::parse(&s)),
        Just(Number::parse("0.1").unwrap_or_else(|| Number::from(0))),
    ]
    .boxed()
}

fn arb_refinements(ty: &Type) -> BoxedStrategy<Refinements> {
    let bound = || {
        prop::option::of(
            (arb_number(false), any::<bool>())
                .prop_map(|(value, inclusive)| NumberBound { value, inclusive }),
        )
    };
    let base = any::<bool>().prop_map(|not_null| Refinements {
        not_null,
        ..Refinements::default()
    });
    match ty {
        Type::String => (base, prop::option::of(".{1,8}"))
            .prop_map(|(r, string_prefix)| Refinements { string_prefix, ..r })
            .boxed(),
        Type::Number => (base, bound(), bound())
            .prop_map(|(r, number_lower, number_upper)| Refinements {
                number_lower,
                number_upper,
                ..r
            })
            .boxed(),
        t if t.is_collection() => (
            base,
            prop::option::of(1..1000u64),
            prop::option::of(any::<u64>()),
        )
            .prop_map(|(r, length_lower, length_upper)| Refinements {
                length_lower,
                length_upper,
                ..r
            })
            .boxed(),
        _ => base.boxed(),
    }
}

/// A value of type `ty`. `unknowns` allows unknown values (and infinities); `dyn_depth` bounds
/// how many dynamic values may nest, since each picks a fresh type.
fn arb_value(ty: &Type, unknowns: bool, dyn_depth: u32) -> BoxedStrategy<Value> {
    let known: BoxedStrategy<Value> = match ty {
        Type::String => any::<String>().prop_map(Value::String).boxed(),
        Type::Number => arb_number(!unknowns).prop_map(Value::Number).boxed(),
        Type::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
        Type::List(e) => prop::collection::vec(arb_value(e, unknowns, dyn_depth), 0..4)
            .prop_map(Value::List)
            .boxed(),
        Type::Set(e) => prop::collection::vec(arb_value(e, unknowns, dyn_depth), 0..4)
            .prop_map(Value::Set)
            .boxed(),
        Type::Map(e) => {
            prop::collection::btree_map(".{0,4}", arb_value(e, unknowns, dyn_depth), 0..4)
                .prop_map(Value::Map)
                .boxed()
        }
        Type::Object { attrs, .. } => attrs
            .iter()
            .map(|(k, t)| {
                let k = k.clone();
                arb_value(t, unknowns, dyn_depth).prop_map(move |v| (k.clone(), v))
            })
            .collect::<Vec<_>>()
            .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<BTreeMap<_, _>>()))
            .boxed(),
        Type::Tuple(ts) => ts
            .iter()
            .map(|t| arb_value(t, unknowns, dyn_depth))
            .collect::<Vec<_>>()
            .prop_map(Value::Tuple)
            .boxed(),
        Type::Dynamic if dyn_depth == 0 => Just(Value::Null).boxed(),
        Type::Dynamic => arb_type()
            .prop_flat_map(move |t| {
                arb_value(&t, unknowns, dyn_depth - 1)
                    .prop_map(move |v| Value::dynamic(t.clone(), v))
            })
            .boxed(),
    };
    let mut choices = vec![(1, Just(Value::Null).boxed()), (6, known)];
    if unknowns {
        let unknown = match ty {
            Type::Dynamic => Just(Value::unknown()).boxed(),
            t => arb_refinements(t).prop_map(Value::unknown_refined).boxed(),
        };
        choices.push((1, unknown));
    }
    Union::new_weighted(choices).boxed()
}

fn typed_value(unknowns: bool) -> impl Strategy<Value = (Type, Value)> {
    arb_type().prop_flat_map(move |t| (Just(t.clone()), arb_value(&t, unknowns, 2)))
}

/// `PROPTEST_CASES` if set, else `default`.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// Types the garbage tests decode with: every kind, nested.
fn fixed_types() -> Vec<Type> {
    let member = Type::object([
        ("email", Type::String),
        ("id", Type::Number),
        ("admin", Type::Bool),
    ]);
    vec![
        Type::String,
        Type::Number,
        Type::Bool,
        Type::Dynamic,
        Type::list(member.clone()),
        Type::set(Type::String),
        Type::map(Type::Number),
        Type::Tuple(vec![Type::String, Type::Dynamic, Type::list(Type::Bool)]),
        Type::object([
            ("name", Type::String),
            ("members", Type::set(member)),
            ("tags", Type::map(Type::String)),
            ("extra", Type::Dynamic),
        ]),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(512), ..ProptestConfig::default() })]

    #[test]
    fn msgpack_round_trip((t, v) in typed_value(true)) {
        let bytes = encode(&v, &t).map_err(|e| TestCaseError::fail(format!("encode: {e}")))?;
        let back = decode(&bytes, &t).map_err(|e| TestCaseError::fail(format!("decode: {e}")))?;
        prop_assert_eq!(&back, &v);
        // The encoding is canonical.
        prop_assert_eq!(encode(&back, &t).ok(), Some(bytes.clone()));
        // msgpack is prefix-free: every truncation is an error, never a panic.
        for cut in 0..bytes.len() {
            prop_assert!(decode(&bytes[..cut], &t).is_err());
        }
    }

    #[test]
    fn json_round_trip((t, v) in typed_value(false)) {
        let text = encode_json(&v, &t).map_err(|e| TestCaseError::fail(format!("encode_json: {e}")))?;
        let back = decode_json(&text, &t)
            .map_err(|e| TestCaseError::fail(format!("decode_json {}: {e}", String::from_utf8_lossy(&text))))?;
        prop_assert_eq!(&back, &v);
        // Both encodings describe the same value.
        let bytes = encode(&v, &t).map_err(|e| TestCaseError::fail(format!("encode: {e}")))?;
        prop_assert_eq!(decode(&bytes, &t).ok(), Some(back));
    }

    #[test]
    fn json_rejects_unknowns((t, v) in typed_value(true)) {
        prop_assert_eq!(encode_json(&v, &t).is_ok(), v.is_wholly_known() && !has_infinity(&v));
    }

    #[test]
    fn type_json_round_trip(t in arb_type()) {
        prop_assert_eq!(Type::from_json(&t.to_json()).ok(), Some(t));
    }

    #[test]
    fn number_text_round_trip(n in arb_number(true)) {
        prop_assert_eq!(Number::parse(&n.to_exact_string()), Some(n));
    }

    #[test]
    fn number_order_matches_exact_machine_values(a in any::<i64>(), b in any::<f64>()) {
        if let Some(nb) = Number::from_f64(b) {
            let na = Number::from(a);
            // i64 -> i128 and f64 compare exactly via their common exact decimal value; check a
            // few cases against f64 where the i64 is exactly representable.
            if (a as f64) as i64 == a && a.unsigned_abs() < (1 << 53) {
                prop_assert_eq!(na.partial_cmp(&nb), (a as f64).partial_cmp(&b));
            }
            prop_assert_eq!(na.cmp(&nb), nb.cmp(&na).reverse());
        }
    }
}

fn has_infinity(v: &Value) -> bool {
    match v.inner() {
        Value::Number(n) => n.is_infinite(),
        Value::List(vs) | Value::Set(vs) | Value::Tuple(vs) => vs.iter().any(has_infinity),
        Value::Map(m) | Value::Object(m) => m.values().any(has_infinity),
        _ => false,
    }
}

// Garbage tests: default config, so `PROPTEST_CASES` can raise the number of cases.
proptest! {
    #[test]
    fn garbage_msgpack_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        for t in fixed_types() {
            let _ = decode(&bytes, &t);
        }
    }

    #[test]
    fn mutated_msgpack_never_panics(
        (t, v) in typed_value(true),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let Ok(mut bytes) = encode(&v, &t) else { return Err(TestCaseError::fail("encode")) };
        for (at, byte) in edits {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        let _ = decode(&bytes, &t);
        let _ = decode(&bytes[..cut.index(bytes.len() + 1)], &t);
        for ft in fixed_types() {
            let _ = decode(&bytes, &ft);
        }
    }

    #[test]
    fn garbage_json_never_panics(text in ".{0,64}", raw in prop::collection::vec(any::<u8>(), 0..64)) {
        for t in fixed_types() {
            let _ = decode_json(text.as_bytes(), &t);
            let _ = decode_json(&raw, &t);
        }
        let _ = Type::from_json(text.as_bytes());
        let _ = Type::from_json(&raw);
    }

    #[test]
    fn mutated_json_never_panics(
        (t, v) in typed_value(false),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let Ok(mut text) = encode_json(&v, &t) else { return Err(TestCaseError::fail("encode_json")) };
        for (at, byte) in edits {
            let i = at.index(text.len());
            text[i] = byte;
        }
        let _ = decode_json(&text, &t);
        let _ = Type::from_json(&t.to_json()[..]);
    }
}

/// Writes valid encodings of values of [`fixed_types`] as fuzzing seeds:
/// `CTY_FUZZ_SEEDS=fuzz/corpus cargo test --test cty_props -- --ignored write_fuzz_seeds`
/// fills `fuzz/corpus/decode_msgpack` and `fuzz/corpus/decode_json`.
#[test]
#[ignore]
fn write_fuzz_seeds() {
    use proptest::strategy::ValueTree;
    let Some(dir) = std::env::var_os("CTY_FUZZ_SEEDS") else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    for target in ["decode_msgpack", "decode_json"] {
        std::fs::create_dir_all(dir.join(target)).expect("create seed dir");
    }
    for (i, t) in fixed_types().iter().enumerate() {
        for j in 0..20 {
            let unknowns = j % 2 == 0;
            let v = arb_value(t, unknowns, 2)
                .new_tree(&mut runner)
                .expect("generate")
                .current();
            let bytes = encode(&v, t).expect("encode");
            std::fs::write(
                dir.join("decode_msgpack").join(format!("seed-{i}-{j}")),
                bytes,
            )
            .expect("write");
            if let Ok(text) = encode_json(&v, t) {
                std::fs::write(dir.join("decode_json").join(format!("seed-{i}-{j}")), text)
                    .expect("write");
            }
        }
    }
}
