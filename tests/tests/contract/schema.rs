//! Mixpanel's files and what both halves of the contract test do with them: a route's
//! operation is found by `mixpanel_emulator::upstream` (the matching the emulator's OpenAPI
//! document uses too); here, instances of a schema are built and validated.

use serde_json::{json, Value};

pub use mixpanel_emulator::upstream::{
    answer_schema, find, find_server_model, request_schema, resolve, results_untyped,
    success_statuses, typed, typed_answer, typed_request, Spec,
};

/// Both of Mixpanel's files (`emulator/upstream/`, the one copy the emulator's document is
/// built from too).
pub fn specs() -> Vec<Spec> {
    mixpanel_emulator::upstream::specs().expect("Mixpanel's files parse")
}

pub fn nullable(schema: &Value) -> bool {
    schema["nullable"] == json!(true)
        || schema["type"] == json!("null")
        || ["anyOf", "oneOf"].iter().any(|k| {
            schema[k]
                .as_array()
                .is_some_and(|a| a.iter().any(|s| s["type"] == json!("null")))
        })
}

/// An instance of `schema`: `full` has every property, one item in every list and map;
/// otherwise only what is required, with null wherever null is allowed.
pub fn example(doc: &Value, schema: &Value, full: bool, depth: usize) -> Value {
    example_named(doc, schema, full, depth, "")
}

/// [`example`] of the property `name` (its name picks realistic text: an address for an
/// e-mail, a full service-account username, a time for `created`).
fn example_named(doc: &Value, schema: &Value, full: bool, depth: usize, name: &str) -> Value {
    let s = resolve(doc, schema);
    if depth > 12 {
        return Value::Null;
    }
    if !full && nullable(s) {
        return Value::Null;
    }
    if let Some(c) = s.get("const") {
        return c.clone();
    }
    if let Some(e) = s["enum"].as_array().and_then(|e| e.first()) {
        return e.clone();
    }
    for k in ["anyOf", "oneOf"] {
        if let Some(options) = s[k].as_array() {
            let pick = options
                .iter()
                .find(|o| o["type"] != json!("null"))
                .unwrap_or(&Value::Null);
            return example_named(doc, pick, full, depth + 1, name);
        }
    }
    if let Some(all) = s["allOf"].as_array() {
        let mut out = serde_json::Map::new();
        for part in all {
            if let Value::Object(m) = example(doc, part, full, depth + 1) {
                out.extend(m);
            } else {
                return example(doc, part, full, depth + 1);
            }
        }
        return Value::Object(out);
    }
    let ty = s["type"]
        .as_str()
        .unwrap_or(if s.get("properties").is_some() {
            "object"
        } else {
            ""
        });
    match ty {
        "object" => {
            // The public file declares no `required` lists at all (documentation, not a
            // server model): its objects keep every documented property.
            let props_all: Vec<&str> = s["properties"]
                .as_object()
                .map(|p| p.keys().map(String::as_str).collect())
                .unwrap_or_default();
            let required: Vec<&str> = match s["required"].as_array() {
                Some(r) => r.iter().filter_map(Value::as_str).collect(),
                None if doc["openapi"]
                    .as_str()
                    .is_some_and(|v| v.starts_with("3.0")) =>
                {
                    props_all
                }
                None => Vec::new(),
            };
            let mut out = serde_json::Map::new();
            if let Some(props) = s["properties"].as_object() {
                for (k, v) in props {
                    if full || required.contains(&k.as_str()) {
                        out.insert(k.clone(), example_named(doc, v, full, depth + 1, k));
                    }
                }
            }
            if full {
                if let Some(extra) = s.get("additionalProperties").filter(|a| a.is_object()) {
                    out.insert("1".into(), example(doc, extra, full, depth + 1));
                }
            }
            Value::Object(out)
        }
        "array" if s["prefixItems"].is_array() => Value::Array(
            s["prefixItems"]
                .as_array()
                .map(|items| {
                    items
                        .iter()
                        .map(|i| example(doc, i, full, depth + 1))
                        .collect()
                })
                .unwrap_or_default(),
        ),
        "array" => {
            if full {
                json!([example_named(doc, &s["items"], full, depth + 1, name)])
            } else {
                json!([])
            }
        }
        "string" => match s["format"].as_str() {
            Some("date-time") => json!("2026-01-02T03:04:05Z"),
            Some("uuid") => json!("0f8c6a4e-1b2c-4d5e-8f90-123456789abc"),
            Some("email") => json!("ana@acme.example"),
            _ if name.contains("email") => json!("ana@acme.example"),
            _ if name == "username" => json!("ci.a1b2c3.mp-service-account"),
            _ if ["created", "expires", "last_used", "modified"].contains(&name)
                || name.ends_with("_iso") =>
            {
                json!("2026-01-02T03:04:05Z")
            }
            _ => json!("x"),
        },
        "integer" | "number" => json!(1),
        "boolean" => json!(true),
        "null" => Value::Null,
        _ => json!({}),
    }
}

/// A validator of `schema` whose `$ref`s resolve in `doc`. Formats (`uuid`, `date-time`,
/// `email`) are checked too: JSON Schema 2020-12 makes them annotations by default, and the
/// emulator once answered an export id `"1"` where Mixpanel's file says a UUID.
pub fn validator(doc: &Value, schema: &Value) -> jsonschema::Validator {
    let mut root = schema.clone();
    if let Value::Object(m) = &mut root {
        m.insert("components".into(), doc["components"].clone());
    }
    jsonschema::options()
        .should_validate_formats(true)
        .build(&root)
        .expect("a valid schema")
}

pub fn errors(v: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    v.iter_errors(instance)
        .take(8)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}
