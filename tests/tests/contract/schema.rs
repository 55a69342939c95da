//! Mixpanel's files and what both halves of the contract test do with them: find a route's
//! operation, resolve references, build instances of a schema, validate against one.

use serde_json::{json, Value};

use mixpanel_access::api::wire;

const PUBLIC: &str = include_str!("../../data/upstream/service-accounts.openapi.json");
const WEBAPP: &str = include_str!("../../data/upstream/webapp-openapi-subset.json");

/// One of Mixpanel's files: its document and the prefix its paths are relative to.
pub struct Spec {
    pub name: &'static str,
    pub doc: Value,
    pub prefix: &'static str,
}

pub fn specs() -> Vec<Spec> {
    vec![
        Spec {
            name: "public",
            doc: serde_json::from_str(PUBLIC).expect("public spec"),
            prefix: "/api/app",
        },
        Spec {
            name: "web-app",
            doc: serde_json::from_str(WEBAPP).expect("web-app spec"),
            prefix: "",
        },
    ]
}

/// A path with every placeholder as `{}` and no trailing slash.
pub fn shape_of(path: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for c in path.chars() {
        match c {
            '{' => {
                inside = true;
                out.push_str("{}");
            }
            '}' => inside = false,
            _ if inside => {}
            c => out.push(c),
        }
    }
    out.trim_end_matches('/').to_string()
}

/// The operation of `route` in `spec`, by its method or its other method.
pub fn operation<'a>(spec: &'a Spec, route: &wire::Route) -> Option<&'a Value> {
    let want = shape_of(route.path);
    let paths = spec.doc["paths"].as_object()?;
    let item = paths
        .iter()
        .find(|(p, _)| shape_of(&format!("{}{p}", spec.prefix)) == want)?
        .1;
    std::iter::once(route.method)
        .chain(route.fallback)
        .find_map(|m| item.get(m.as_str().to_ascii_lowercase()))
}

pub fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let pointer = r.trim_start_matches('#');
            resolve(doc, doc.pointer(pointer).unwrap_or(&Value::Null))
        }
        None => schema,
    }
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

/// A validator of `schema` whose `$ref`s resolve in `doc`.
pub fn validator(doc: &Value, schema: &Value) -> jsonschema::Validator {
    let mut root = schema.clone();
    if let Value::Object(m) = &mut root {
        m.insert("components".into(), doc["components"].clone());
    }
    jsonschema::validator_for(&root).expect("a valid schema")
}

pub fn errors(v: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    v.iter_errors(instance)
        .take(8)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

/// The operation of `route` in Mixpanel's files: the file and the operation. `/api/app/me`
/// was pruned from the web-app file, but its answer's model `MeUser` (with `MeProject` and
/// `MeProjectRole`) is there: its operation is made of that model.
pub fn find<'a>(specs: &'a [Spec], route: &wire::Route) -> Option<(&'a Spec, Value)> {
    find_in(specs.iter(), route)
}

/// [`find`], the web-app file first: it is generated from the server's own models, where the
/// public file is documentation (it declares no field nullable, while the server answers null
/// for a service account's `expires`, `creator` and `last_used`). The emulator is held to
/// what the server answers.
pub fn find_server_model<'a>(specs: &'a [Spec], route: &wire::Route) -> Option<(&'a Spec, Value)> {
    find_in(specs.iter().rev(), route)
}

fn find_in<'a>(
    mut specs: impl Iterator<Item = &'a Spec> + Clone,
    route: &wire::Route,
) -> Option<(&'a Spec, Value)> {
    if let Some(found) = specs
        .clone()
        .find_map(|s| operation(s, route).map(|op| (s, op.clone())))
    {
        return Some(found);
    }
    if route.name != wire::ME.name {
        return None;
    }
    let me = json!({"responses": {"200": {"content": {"application/json": {"schema": {
        "type": "object",
        "required": ["results"],
        "properties": {
            "status": {"const": "ok"},
            "results": {"$ref": "#/components/schemas/MeUser"},
        },
    }}}}}});
    specs.find(|s| s.name == "web-app").map(|s| (s, me))
}

/// The JSON schema of the operation's answer with `status` (`"200"`), if it declares one.
pub fn answer_schema(op: &Value, status: &str) -> Option<Value> {
    let s = &op["responses"].get(status)?["content"]["application/json"]["schema"];
    (!s.is_null()).then(|| s.clone())
}

/// The success statuses the operation declares (`"200"`, `"201"`).
pub fn success_statuses(op: &Value) -> Vec<String> {
    op["responses"]
        .as_object()
        .map(|r| r.keys().filter(|k| k.starts_with('2')).cloned().collect())
        .unwrap_or_default()
}

/// The JSON schema of the operation's request body, if it declares one.
pub fn request_schema(op: &Value) -> Option<Value> {
    let s = &op["requestBody"]["content"]["application/json"]["schema"];
    (!s.is_null()).then(|| s.clone())
}

/// Whether `schema` names its properties (rather than "any object" or nothing).
pub fn typed(doc: &Value, schema: &Value) -> bool {
    let r = resolve(doc, schema);
    !(r.is_null() || r["additionalProperties"] == json!(true) && r["properties"].is_null())
}
