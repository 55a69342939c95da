//! Mixpanel's own API descriptions (`emulator/upstream/`, their source and licence in its
//! README) and how a route of the table finds its operation in them.
//!
//! The one copy of the files and of the matching: the emulator's OpenAPI document
//! ([`crate::openapi`]) takes the schemas of every route they describe from here, and the
//! contract test (`tests/tests/contract/`) checks the client and the emulator against the
//! same operations.

use serde_json::{json, Value};

use mixpanel_access::api::wire;

/// The file Mixpanel documents its Service Accounts API with (`mixpanel/docs`).
pub const PUBLIC_FILE: &str = "service-accounts.openapi.json";
/// The subset of Mixpanel's web-app OpenAPI (`mixpanel/terraform-provider-mixpanel`).
pub const WEBAPP_FILE: &str = "webapp-openapi-subset.json";

const PUBLIC: &str = include_str!("../upstream/service-accounts.openapi.json");
const WEBAPP: &str = include_str!("../upstream/webapp-openapi-subset.json");

/// One of Mixpanel's files: its document and the prefix its paths are relative to.
pub struct Spec {
    /// `public` or `web-app`.
    pub name: &'static str,
    /// The file's name under `emulator/upstream/`.
    pub file: &'static str,
    pub doc: Value,
    pub prefix: &'static str,
}

/// Both files, the public one first. `Err` says which file does not parse (a defect of the
/// build, which the tests catch).
pub fn specs() -> Result<Vec<Spec>, String> {
    let parse = |file: &str, text: &str| {
        serde_json::from_str(text).map_err(|e| format!("emulator/upstream/{file}: {e}"))
    };
    Ok(vec![
        Spec {
            name: "public",
            file: PUBLIC_FILE,
            doc: parse(PUBLIC_FILE, PUBLIC)?,
            prefix: "/api/app",
        },
        Spec {
            name: "web-app",
            file: WEBAPP_FILE,
            doc: parse(WEBAPP_FILE, WEBAPP)?,
            prefix: "",
        },
    ])
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

/// The path of `spec` that `route` is, as written in the file.
pub fn upstream_path<'a>(spec: &'a Spec, route: &wire::Route) -> Option<&'a str> {
    let want = shape_of(route.path);
    spec.doc["paths"]
        .as_object()?
        .keys()
        .find(|p| shape_of(&format!("{}{p}", spec.prefix)) == want)
        .map(String::as_str)
}

/// The operation of `route` in `spec`, by its method or its other method.
pub fn operation<'a>(spec: &'a Spec, route: &wire::Route) -> Option<&'a Value> {
    let item = &spec.doc["paths"][upstream_path(spec, route)?];
    std::iter::once(route.method)
        .chain(route.fallback)
        .find_map(|m| item.get(m.as_str().to_ascii_lowercase()))
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
/// what the server answers, and its document carries these operations.
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

/// `schema` with its `$ref` followed (repeatedly) in `doc`.
pub fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let pointer = r.trim_start_matches('#');
            resolve(doc, doc.pointer(pointer).unwrap_or(&Value::Null))
        }
        None => schema,
    }
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

/// Whether the envelope `schema` types its `results` only as "an object" (`BaseOkResponseModel
/// [dict]`: no named properties, no item schema): the reference's trust rule says such a type
/// is no fact about the answer's shape.
pub fn results_untyped(doc: &Value, schema: &Value) -> bool {
    let whole = resolve(doc, schema);
    let results = resolve(doc, &whole["properties"]["results"]);
    results["type"] == json!("object")
        && results["properties"]
            .as_object()
            .is_none_or(|p| p.is_empty())
        && !results["additionalProperties"].is_object()
}

/// The operation's first success answer that Mixpanel's file types (named properties, not a
/// `results` typed only as "an object"): its status and schema. The emulator's document takes
/// this one from the file; an answer without it is the emulator's own.
pub fn typed_answer(doc: &Value, op: &Value) -> Option<(String, Value)> {
    success_statuses(op).into_iter().find_map(|st| {
        let s = answer_schema(op, &st)?;
        let usable = typed(doc, &s)
            && resolve(doc, &s).as_object().is_some_and(|m| !m.is_empty())
            && !results_untyped(doc, &s);
        usable.then_some((st, s))
    })
}

/// The operation's request body, if Mixpanel's file types it.
pub fn typed_request(doc: &Value, op: &Value) -> Option<Value> {
    request_schema(op).filter(|s| typed(doc, s))
}
