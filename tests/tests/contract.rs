//! The contract test: the route table against Mixpanel's own API descriptions
//! (`tests/data/upstream/`, source and licence in its README).
//!
//! It walks every route of `wire::ROUTES` with its types. For each route the upstream files
//! describe, what the client serializes must validate against the operation's request schema,
//! and instances built from the response schema (every optional field absent and every
//! nullable one null; then every field present) must decode with the route's response type.
//! (The live-recorded `/me` body is decoded by `wire`'s unit test
//! `me_reads_a_project_role_id_as_a_number_null_or_string`.) One line per route, the counts, and a failure on
//! any mismatch.

use std::any::TypeId;
use std::collections::{BTreeMap, HashMap};

use mixpanel_access::api::wire::{self, Endpoint, RequestBody, Response, RouteStatus};
use mixpanel_access::model::{
    Email, OrgRole, ProjectId, ProjectRole, ProjectRoleGrant, ServiceAccountId, TeamId,
};
use serde_json::{json, Value};

const PUBLIC: &str = include_str!("../data/upstream/service-accounts.openapi.json");
const WEBAPP: &str = include_str!("../data/upstream/webapp-openapi-subset.json");

/// One of Mixpanel's files: its document and the prefix its paths are relative to.
struct Spec {
    name: &'static str,
    doc: Value,
    prefix: &'static str,
}

fn specs() -> Vec<Spec> {
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
fn shape_of(path: &str) -> String {
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
fn operation<'a>(spec: &'a Spec, route: &wire::Route) -> Option<&'a Value> {
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

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let pointer = r.trim_start_matches('#');
            resolve(doc, doc.pointer(pointer).unwrap_or(&Value::Null))
        }
        None => schema,
    }
}

fn nullable(schema: &Value) -> bool {
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
fn example(doc: &Value, schema: &Value, full: bool, depth: usize) -> Value {
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
                json!([example(doc, &s["items"], full, depth + 1)])
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
fn validator(doc: &Value, schema: &Value) -> jsonschema::Validator {
    let mut root = schema.clone();
    if let Value::Object(m) = &mut root {
        m.insert("components".into(), doc["components"].clone());
    }
    jsonschema::validator_for(&root).expect("a valid schema")
}

fn errors(v: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    v.iter_errors(instance)
        .take(3)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

/// What the client sends on each route whose body upstream types: one instance of each
/// request type, as the client's methods build them.
fn request_examples() -> HashMap<TypeId, Value> {
    fn add<T: RequestBody + 'static>(m: &mut HashMap<TypeId, Value>, v: T) {
        if let Some(j) = v.to_json() {
            m.insert(TypeId::of::<T>(), j);
        }
    }
    let mut m = HashMap::new();
    let grant = ProjectRoleGrant {
        id: ProjectId(3),
        role: ProjectRole::Analyst,
    };
    add(
        &mut m,
        wire::CreateServiceAccount {
            username: "ci".into(),
            role: ProjectRole::Analyst,
            expires: None,
            projects: vec![grant],
        },
    );
    add(
        &mut m,
        wire::AddServiceAccountsToProjects {
            service_account_ids: vec![ServiceAccountId(9)],
            projects: vec![grant],
            custom_roles: vec![],
        },
    );
    add(
        &mut m,
        wire::RemoveServiceAccountsFromProjects {
            projects: vec![wire::ProjectServiceAccountIds {
                id: ProjectId(3),
                service_account_ids: vec![ServiceAccountId(9)],
            }],
        },
    );
    add(
        &mut m,
        wire::ServiceAccountIds {
            service_account_ids: vec![ServiceAccountId(9)],
        },
    );
    add(
        &mut m,
        wire::CreateProject {
            project_name: "web".into(),
            cluster_id: 1,
            timezone_id: 1,
            is_b2b: false,
        },
    );
    add(
        &mut m,
        wire::ValidateProjectCredentials {
            project_token: "t".into(),
            api_secret: secrecy::SecretString::from("s"),
        },
    );
    add(
        &mut m,
        wire::AuditLogQuery {
            types: vec!["session.logged_in".into()],
            created_gte: Some("2026-01-01T00:00:00Z".parse().expect("time")),
            created_lte: Some("2026-02-01T00:00:00Z".parse().expect("time")),
            exclude_user_emails: vec!["bot@acme.example".into()],
            search: Some("ana".into()),
            ..Default::default()
        }
        .projects(&[ProjectId(3)]),
    );
    add(
        &mut m,
        wire::CreateAuditExport {
            filter: wire::AuditLogQuery {
                types: vec!["session.logged_in".into()],
                ..Default::default()
            },
            export_format: wire::AuditExportFormat::Ndjson,
        },
    );
    add(&mut m, wire::Discoverability::Request);
    add(&mut m, vec!["acme.example".to_string()]);
    add(
        &mut m,
        wire::CustomRoleBody {
            name: "r".into(),
            description: "d".into(),
            permissions: vec!["view_reports".into()],
            copied_from_role_id: None,
        },
    );
    add(
        &mut m,
        wire::CreateDataView {
            name: "v".into(),
            is_restricted: true,
            is_visible: true,
            description: Some("d".into()),
        },
    );
    add(
        &mut m,
        wire::UpdateDataView {
            id: 5,
            name: Some("v".into()),
            ..Default::default()
        },
    );
    add(
        &mut m,
        wire::DataViewMembers {
            id: 5,
            user_emails: vec!["ana@acme.example".parse::<Email>().expect("email")],
            team_ids: vec![TeamId(2)],
        },
    );
    add(
        &mut m,
        BTreeMap::from([("ana@acme.example".to_string(), true)]),
    );
    add(
        &mut m,
        wire::InviteUsers {
            emails: vec!["ana@acme.example".parse::<Email>().expect("email")],
            role: OrgRole::Member,
        },
    );
    m
}

/// What the walk found on one route.
#[derive(Default)]
struct Walk {
    lines: Vec<String>,
    public: usize,
    webapp: usize,
    no_schema: usize,
    emulator_only: usize,
    mismatches: Vec<String>,
    specs: Vec<Spec>,
    requests: HashMap<TypeId, Value>,
}

impl wire::RouteVisitor for Walk {
    fn visit<Req: RequestBody + 'static, Resp: Response + 'static>(
        &mut self,
        endpoint: &Endpoint<Req, Resp>,
    ) {
        let route = &endpoint.route;
        let mut found = self
            .specs
            .iter()
            .find_map(|s| operation(s, route).map(|op| (s, op)));
        // `/api/app/me` was pruned from the web-app file, but its answer's model `MeUser`
        // (with `MeProject` and `MeProjectRole`) is there.
        let me = json!({"responses": {"200": {"content": {"application/json": {"schema": {
            "type": "object",
            "required": ["results"],
            "properties": {
                "status": {"const": "ok"},
                "results": {"$ref": "#/components/schemas/MeUser"},
            },
        }}}}}});
        if found.is_none() && route.name == wire::ME.name {
            found = self
                .specs
                .iter()
                .find(|s| s.name == "web-app")
                .map(|s| (s, &me));
        }
        let Some((spec, op)) = found else {
            if route.status == RouteStatus::EmulatorOnly {
                self.emulator_only += 1;
                self.lines.push(format!("{:<40} emulator only", route.name));
            } else {
                self.no_schema += 1;
                self.lines.push(format!(
                    "{:<40} no upstream schema (path not in the files)",
                    route.name
                ));
            }
            return;
        };
        let doc = &spec.doc;
        let mut problems = Vec::new();
        let mut checked = Vec::new();
        // The request.
        let body_schema = op["requestBody"]["content"]["application/json"]["schema"].clone();
        let typed = |s: &Value| {
            let r = resolve(doc, s);
            !(r.is_null() || r["additionalProperties"] == json!(true) && r["properties"].is_null())
        };
        if TypeId::of::<Req>() != TypeId::of::<wire::NoBody>() && !body_schema.is_null() {
            if typed(&body_schema) {
                match self.requests.get(&TypeId::of::<Req>()) {
                    Some(sent) => {
                        let v = validator(doc, &body_schema);
                        let e = errors(&v, sent);
                        if !e.is_empty() {
                            problems.push(format!("request {sent}: {}", e.join("; ")));
                        }
                        checked.push("request");
                    }
                    None => problems
                        .push("request: no example of the client's body in the test".to_string()),
                }
            }
        } else if TypeId::of::<Req>() == TypeId::of::<wire::NoBody>()
            && op["requestBody"]["required"] == json!(true)
            && typed(&body_schema)
        {
            problems.push("request: upstream requires a body, the client sends none".into());
        }
        // The answer.
        let answer = ["200", "201"]
            .iter()
            .find_map(|c| op["responses"].get(*c))
            .map(|r| r["content"]["application/json"]["schema"].clone())
            .unwrap_or(Value::Null);
        let results = resolve(doc, &resolve(doc, &answer)["properties"]["results"]).clone();
        let shapeless = |s: &Value| {
            s["type"] == json!("object") && s["properties"].as_object().is_none_or(|p| p.is_empty())
        };
        let untyped = shapeless(&results) || shapeless(resolve(doc, &results["items"]));
        if !answer.is_null() {
            let v = validator(doc, &answer);
            for full in [false, true] {
                let instance = example(doc, &answer, full, 0);
                let e = errors(&v, &instance);
                if !e.is_empty() {
                    problems.push(format!(
                        "the test's own example is invalid: {}",
                        e.join("; ")
                    ));
                }
                let bytes = serde_json::to_vec(&instance).expect("json");
                match Resp::decode(&bytes) {
                    Ok(_) => {}
                    // "An object" says nothing of its inner shape: decoding it needs no more
                    // than an error that names where the answer surprised the client.
                    Err(e) if untyped && e.starts_with("unexpected answer at") => {}
                    Err(e) => problems.push(format!(
                        "{} answer {instance} does not decode: {e}",
                        if full { "full" } else { "minimal" }
                    )),
                }
            }
            checked.push(if untyped {
                "answer (untyped upstream)"
            } else {
                "answer"
            });
        }
        match spec.name {
            "public" => self.public += 1,
            _ => self.webapp += 1,
        }
        let what = if checked.is_empty() {
            "path only (no typed body)".to_string()
        } else {
            checked.join(" and ")
        };
        if problems.is_empty() {
            self.lines.push(format!(
                "{:<40} checked against the {} schema: {what}",
                route.name, spec.name
            ));
        } else {
            for p in &problems {
                self.mismatches.push(format!("{}: {p}", route.name));
            }
            self.lines.push(format!(
                "{:<40} MISMATCH against the {} schema ({} problem(s))",
                route.name,
                spec.name,
                problems.len()
            ));
        }
    }
}

#[test]
fn the_route_table_agrees_with_mixpanels_schemas() {
    let mut walk = Walk {
        specs: specs(),
        requests: request_examples(),
        ..Default::default()
    };
    wire::visit_routes(&mut walk);
    for l in &walk.lines {
        println!("{l}");
    }
    println!(
        "routes: {} checked against the public schema, {} against the web-app schema, {} without upstream schema, {} emulator only; mismatches: {}",
        walk.public,
        walk.webapp,
        walk.no_schema,
        walk.emulator_only,
        walk.mismatches.len()
    );
    assert_eq!(
        walk.lines.len(),
        wire::ROUTES.len(),
        "every route of the table is walked"
    );
    assert!(
        walk.public >= 5 && walk.webapp >= 20,
        "the files were found"
    );
    assert!(
        walk.mismatches.is_empty(),
        "mismatches:\n{}",
        walk.mismatches.join("\n")
    );
}
