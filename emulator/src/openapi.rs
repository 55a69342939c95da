//! The emulator's API described as an OpenAPI 3.1 document, served at
//! `GET /_emulator/openapi.json`.
//!
//! The operations come from the route table, `mixpanel_access::api::wire::ROUTES`, the same
//! table the router and the client use: one operation per route and method, `operationId` the
//! route's name, `x-upstream-status` where its shape is known from (`documented_upstream`,
//! `observed_upstream`, `emulator_only`), `x-creates` and `x-capability` as in the table.
//!
//! The bodies come from Mixpanel's own files ([`crate::upstream`], the route's operation found
//! by the matching the contract test uses): wherever they type a route's request body or its
//! success answer, the document carries that schema, with every component it needs copied under
//! `webapp.`/`public.` names, and the operation's declared error answers. `x-schema-source`
//! names the file and the operation and says per part whether it is `upstream` or the
//! emulator's own. Only what the files lack (emulator-only routes, routes without an upstream
//! operation, bodies typed there only as "an object") is written here, in [`shape`], with the
//! wire enums' value lists taken from the model (`ProjectRole::NAMES`, ...). A route with
//! neither is an error of [`document`], which the tests catch.
//!
//! The admin routes under `/_emulator/` are not part of the document: it describes the
//! Mixpanel API the emulator stands in for, and a fuzzer let loose on `/_emulator/reset` or
//! `/_emulator/faults` would wipe or break the server it is testing.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use mixpanel_access::api::wire::{self, Method, Route, RouteStatus, ROUTES};
use mixpanel_access::model::{DataResidency, MemberStatus, OrgRole, ProjectRole, TargetType};
use serde_json::{json, Map, Value};

use crate::upstream::{self, Spec};

/// What this file says about a route: the parts Mixpanel's files leave untyped (or all of a
/// route they lack). The parts they type come from them ([`describe`]).
struct Shape {
    /// The request body's schema and media type, if the route takes one.
    body: Option<(&'static str, Value)>,
    /// Whether the body may be left out (an empty body means "all defaults").
    body_optional: bool,
    /// The success status.
    status: u16,
    /// The whole success body's schema (`None` where upstream types it).
    answer: Option<Value>,
}

fn r(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// `schema` or null (OpenAPI 3.1: JSON Schema's own `null` type).
fn nullable(schema: Value) -> Value {
    json!({ "anyOf": [schema, { "type": "null" }] })
}

fn array(items: Value) -> Value {
    json!({ "type": "array", "items": items })
}

/// `{"status":"ok","results":results}`.
fn ok(results: Value) -> Value {
    json!({
        "type": "object",
        "required": ["status", "results"],
        "additionalProperties": false,
        "properties": { "status": { "type": "string", "enum": ["ok"] }, "results": results },
    })
}

/// A strict object: every listed property, `required` of them always present.
fn object(required: &[&str], properties: Value) -> Value {
    json!({
        "type": "object",
        "required": required,
        "additionalProperties": false,
        "properties": properties,
    })
}

/// A request body: the named properties, `required` of them needed.
fn request(required: &[&str], properties: Value) -> Value {
    json!({ "type": "object", "required": required, "properties": properties })
}

fn json_body(schema: Value) -> Option<(&'static str, Value)> {
    Some(("application/json", schema))
}

fn shape(route: &Route) -> Option<Shape> {
    let get = |answer: Value| Shape {
        body: None,
        body_optional: false,
        status: 200,
        answer: Some(ok(answer)),
    };
    let post = |body: Value, answer: Value| Shape {
        body: json_body(body),
        body_optional: false,
        status: 200,
        answer: Some(ok(answer)),
    };
    // A request body upstream leaves untyped, on a route whose answer it types.
    let body_only = |body: Value| Shape {
        body: json_body(body),
        body_optional: false,
        status: 200,
        answer: None,
    };
    let ids = |key: &str| request(&[key], json!({ key: array(r("Id")) }));
    Some(match *route {
        // The request bodies of these are upstream's; their answers are untyped there.
        x if x == wire::DELETE_SERVICE_ACCOUNT.route
            || x == wire::ADD_SERVICE_ACCOUNTS_TO_PROJECTS.route
            || x == wire::REMOVE_SERVICE_ACCOUNTS_FROM_PROJECTS.route
            || x == wire::REMOVE_SERVICE_ACCOUNTS_FROM_TEAM.route
            || x == wire::UPSERT_DATA_VIEW_MEMBERS.route
            || x == wire::DELETE_DATA_VIEW_MEMBERS.route
            || x == wire::SET_CLASSIFIED_ACCESS.route
            || x == wire::SET_TEAM_CLASSIFIED_ACCESS.route =>
        {
            get(r("Empty"))
        }
        x if x == wire::ADD_SERVICE_ACCOUNTS_TO_TEAM.route => Shape {
            status: 201,
            ..get(r("Empty"))
        },
        x if x == wire::PROJECT_METADATA.route => get(r("ProjectMetadata")),
        x if x == wire::UPDATE_PROJECT.route => Shape {
            body: Some((
                "application/x-www-form-urlencoded",
                request(
                    &[],
                    json!({
                        "name": { "type": "string" },
                        "timezone": { "type": "string" },
                        "timezone_name": { "type": "string" },
                        "data_residency": { "type": "string", "description": "must be the project's own" },
                        "cluster_id": { "type": "string", "description": "must be the project's own" },
                    }),
                ),
            )),
            ..get(r("Project"))
        },
        x if x == wire::DELETE_PROJECTS.route => post(ids("projectIds"), r("Empty")),
        x if x == wire::LIST_PROJECTS.route => get(array(r("Project"))),
        x if x == wire::LIST_TEAMS.route => get(array(r("Team"))),
        x if x == wire::ADD_TEAMS.route => post(
            request(
                &["teamNames"],
                json!({ "teamNames": array(json!({ "type": "string" })) }),
            ),
            array(object(
                &["name", "created"],
                json!({ "name": { "type": "string" }, "created": { "type": "boolean" } }),
            )),
        ),
        x if x == wire::RENAME_TEAM.route => {
            body_only(request(&["name"], json!({ "name": { "type": "string" } })))
        }
        x if x == wire::DELETE_TEAMS.route => post(ids("teamIds"), r("Empty")),
        x if x == wire::ADD_PROJECTS_TO_TEAMS.route => body_only(request(
            &["teams"],
            json!({
                "teams": array(request(
                    &["id", "projects"],
                    json!({
                        "id": r("Id"),
                        "projects": array(r("ProjectRoleGrant")),
                        "custom_roles": array(r("CustomRoleGrant")),
                    }),
                )),
                "add_default_projects": { "type": "boolean" },
            }),
        )),
        x if x == wire::REMOVE_PROJECTS_FROM_TEAM.route => post(ids("projectIds"), r("Empty")),
        x if x == wire::ADD_USERS_TO_TEAMS.route => body_only(request(
            &["teams"],
            json!({ "teams": array(request(
                    &["id", "users"],
                    json!({ "id": r("Id"), "users": array(r("Email")) }),
                )) }),
        )),
        x if x == wire::REMOVE_USERS_FROM_TEAM.route => post(
            request(&["emails"], json!({ "emails": array(r("Email")) })),
            r("Empty"),
        ),
        x if x == wire::LIST_ORG_USERS.route => get(array(r("Member"))),
        x if x == wire::INVITE_ORG_USERS.route => post(
            request(
                &["emails", "role"],
                json!({ "emails": array(r("Email")), "role": r("OrgRole") }),
            ),
            r("Success"),
        ),
        x if x == wire::UPDATE_ORG_USER.route => {
            body_only(request(&["role"], json!({ "role": r("OrgRole") })))
        }
        x if x == wire::REMOVE_ORG_USERS.route => post(
            request(&["emails"], json!({ "emails": array(r("Email")) })),
            r("Success"),
        ),
        x if x == wire::ADD_USERS_TO_PROJECTS.route => body_only(request(
            &["users", "projects", "role"],
            json!({
                "users": array(r("Email")),
                "projects": array(r("Id")),
                "role": r("ProjectRole"),
                "custom_role_id": {
                    "type": "string",
                    "format": "uuid",
                    "description": "issue 9, the emulator's definition: a custom role of the projects (role must then be consumer)",
                },
            }),
        )),
        x if x == wire::REMOVE_USERS_FROM_PROJECTS.route => post(
            request(
                &["users", "projects"],
                json!({ "users": array(r("Email")), "projects": array(r("Id")) }),
            ),
            r("Success"),
        ),
        x if x == wire::GRANTED_USERS.route => get(array(r("UserGrant"))),
        x if x == wire::GRANTED_TEAMS.route => get(array(r("TeamGrant"))),
        x if x == wire::GET_DEFAULT_ACCESS.route => get(r("DefaultAccess")),
        x if x == wire::SET_DEFAULT_ACCESS.route => post(
            request(&["role"], json!({ "role": nullable(r("ProjectRole")) })),
            r("DefaultAccess"),
        ),
        x if x == wire::RESET_PROJECT_SECRET.route => get(object(
            &["secret"],
            json!({ "secret": { "type": "string" } }),
        )),
        x if x == wire::RESET_PROJECT_TOKEN.route => {
            get(object(&["token"], json!({ "token": { "type": "string" } })))
        }
        x if x == wire::DOWNLOAD_AUDIT_LOG_EXPORT.route => Shape {
            body: None,
            body_optional: false,
            status: 200,
            answer: Some(
                json!({ "type": "string", "description": "the export's CSV (text/csv) or NDJSON (application/x-ndjson) file, not wrapped in the envelope" }),
            ),
        },
        // Issue 9: organization settings.
        x if x == wire::GET_TWO_FACTOR.route => get(r("TwoFactorSetting")),
        x if x == wire::SET_TWO_FACTOR.route => body_only(request(
            &["twofactor_auth_required"],
            json!({ "twofactor_auth_required": { "type": "boolean" } }),
        )),
        x if x == wire::GET_SSO.route => get(object(
            &["sso_enabled"],
            json!({ "sso_enabled": { "type": "boolean" } }),
        )),
        x if x == wire::GET_CLASSIFIED_ACCESS.route => get(object(
            &["users", "teams"],
            json!({ "users": array(r("Email")), "teams": array(r("Id")) }),
        )),
        _ => return None,
    })
}

fn names(values: &[&str]) -> Value {
    json!({ "type": "string", "enum": values })
}

fn components() -> Value {
    let time = json!({ "type": "string", "format": "date-time" });
    json!({
        "securitySchemes": {
            "basicAuth": {
                "type": "http",
                "scheme": "basic",
                "description": "A service account: the full `name.<hex>.mp-service-account` username and its secret",
            },
        },
        "schemas": {
            "Id": { "type": "integer", "format": "int64", "minimum": 1 },
            "Email": { "type": "string", "format": "email" },
            "ProjectRole": names(ProjectRole::NAMES),
            "TwoFactorSetting": object(&["twofactor_auth_required"], json!({
                "twofactor_auth_required": { "type": "boolean" },
            })),
            "OrgRole": names(OrgRole::NAMES),
            "Empty": { "type": "object", "additionalProperties": false },
            "Error": {
                "type": "object",
                "required": ["status", "error"],
                "properties": {
                    "status": { "type": "string", "enum": ["error"] },
                    "error": { "type": "string" },
                },
            },
            "Success": object(&["success"], json!({ "success": { "type": "boolean" } })),
            "ProjectRoleGrant": object(&["id", "role"], json!({ "id": r("Id"), "role": r("ProjectRole") })),
            "Project": object(&["id", "name", "timezone_name", "data_residency", "domain"], json!({
                "id": r("Id"),
                "name": { "type": "string" },
                "timezone_name": { "type": "string" },
                "data_residency": names(DataResidency::NAMES),
                "token": nullable(json!({ "type": "string" })),
                "api_secret": { "type": "string" },
                "domain": { "type": "string" },
                "organization_id": nullable(r("Id")),
                "default_role": r("ProjectRole"),
            })),
            "ProjectMetadata": object(&["id", "name", "domain", "timezone_name"], json!({
                "id": r("Id"),
                "name": { "type": "string" },
                "domain": { "type": "string" },
                "timezone_name": { "type": "string" },
                "token": nullable(json!({ "type": "string" })),
                "secret": { "type": "string" },
            })),
            "Team": object(&["id", "name", "scim_managed", "members", "service_accounts", "projects"], json!({
                "id": r("Id"),
                "name": { "type": "string" },
                "scim_managed": { "type": "boolean" },
                "members": array(r("Email")),
                "service_accounts": array(r("Id")),
                "projects": array(r("ProjectRoleGrant")),
                "custom_roles": array(r("CustomRoleGrant")),
            })),
            "CustomRoleGrant": object(&["id", "custom_role_id"], json!({
                "id": r("Id"),
                "custom_role_id": { "type": "string", "description": "issue 9, the emulator's definition: a custom role on the project (the role in projects is then consumer)" },
            })),
            "Member": object(&["email", "role", "status"], json!({
                "id": r("Id"),
                "email": r("Email"),
                "role": r("OrgRole"),
                "status": names(MemberStatus::NAMES),
                "last_login": nullable(time.clone()),
                "two_factor_enabled": { "type": "boolean" },
                "scim_managed": { "type": "boolean" },
            })),
            "UserGrant": object(&["email", "role", "target_type"], json!({
                "email": r("Email"),
                "role": r("ProjectRole"),
                "custom_role_id": { "type": "string", "description": "issue 9, the emulator's definition: the custom role of an individual grant" },
                "target_type": names(TargetType::NAMES),
                "team_id": r("Id"),
                "team_name": { "type": "string" },
            })),
            "TeamGrant": object(&["id", "name", "role"], json!({
                "id": r("Id"),
                "name": { "type": "string" },
                "role": r("ProjectRole"),
            })),
            "DefaultAccess": object(&["role"], json!({ "role": nullable(r("ProjectRole")) })),
        },
    })
}

fn parameters(path: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else { break };
        let name = &after[..close];
        let (schema, what) = match name {
            "email" => (r("Email"), "a member's email address"),
            "org" => (r("Id"), "an organization id"),
            "project" => (r("Id"), "a project id"),
            "team" => (r("Id"), "a team id"),
            "sa" => (r("Id"), "a service account id"),
            "export" => (json!({ "type": "string" }), "an audit-log export id"),
            "workspace" => (r("Id"), "a data view's id"),
            "role" => (
                json!({ "type": "string", "format": "uuid" }),
                "a custom role's id",
            ),
            _ => (json!({ "type": "string" }), "a path value"),
        };
        out.push(json!({
            "name": name, "in": "path", "required": true, "schema": schema, "description": what,
        }));
        rest = &after[close + 1..];
    }
    out
}

/// An operation's description, each part from Mixpanel's files or written here.
struct Described {
    /// The request body: its media type, schema and whether it must be sent.
    body: Option<(&'static str, Value, bool)>,
    /// The success status and the whole success body's schema.
    success: (String, Value),
    /// The error statuses the upstream operation declares, with their schemas.
    errors: Vec<(String, Value)>,
    /// `x-schema-source`: where each part comes from.
    source: Value,
}

/// Upstream components copied into the document, under the file's prefix.
#[derive(Default)]
struct Imported {
    schemas: BTreeMap<String, Value>,
}

/// The prefix of the components copied from `spec` (`webapp.OrgUsersResponse`).
pub fn component_prefix(spec: &Spec) -> &'static str {
    if spec.file == upstream::PUBLIC_FILE {
        "public."
    } else {
        "webapp."
    }
}

impl Imported {
    /// `schema` of `spec` with its references (and its discriminators' mappings) rewritten to
    /// the prefixed copies, every component it needs (transitively) copied.
    fn import(&mut self, spec: &Spec, schema: &Value) -> Result<Value, String> {
        let prefix = component_prefix(spec);
        let mut pending = Vec::new();
        let out = rewrite(schema, prefix, &mut pending);
        while let Some(name) = pending.pop() {
            let key = format!("{prefix}{name}");
            if self.schemas.contains_key(&key) {
                continue;
            }
            let component = spec
                .doc
                .pointer(&format!("/components/schemas/{name}"))
                .ok_or_else(|| format!("{} has no component {name}", spec.file))?;
            let copied = rewrite(component, prefix, &mut pending);
            self.schemas.insert(key, copied);
        }
        Ok(out)
    }
}

fn rewrite(v: &Value, prefix: &str, pending: &mut Vec<String>) -> Value {
    const AT: &str = "#/components/schemas/";
    fn rename(target: &str, prefix: &str, pending: &mut Vec<String>) -> Value {
        match target.strip_prefix(AT) {
            Some(name) => {
                pending.push(name.to_string());
                Value::String(format!("{AT}{prefix}{name}"))
            }
            None => Value::String(target.to_string()),
        }
    }
    match v {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, x) in m {
                let x = match (k.as_str(), x) {
                    ("$ref", Value::String(t)) => rename(t, prefix, pending),
                    ("mapping", Value::Object(map)) if m.get("$ref").is_none() => Value::Object(
                        map.iter()
                            .map(|(key, t)| match t {
                                Value::String(t) => (key.clone(), rename(t, prefix, pending)),
                                other => (key.clone(), other.clone()),
                            })
                            .collect(),
                    ),
                    _ => rewrite(x, prefix, pending),
                };
                out.insert(k.clone(), x);
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| rewrite(x, prefix, pending)).collect()),
        other => other.clone(),
    }
}

/// Where the upstream operation of a route is: `webapp-openapi-subset.json GET
/// /organizations/{organization_id}/teams/ (operationId)`.
fn operation_name(spec: &Spec, route: &Route, op: &Value) -> String {
    match upstream::upstream_path(spec, route) {
        Some(path) if upstream::operation(spec, route).is_some() => {
            let method = std::iter::once(route.method)
                .chain(route.fallback)
                .find(|m| spec.doc["paths"][path].get(m.as_str().to_ascii_lowercase()).is_some())
                .unwrap_or(route.method);
            let id = op["operationId"].as_str().unwrap_or("no operationId");
            format!("{} {}{path} ({id})", method.as_str(), spec.prefix)
        }
        // `/api/app/me`: pruned from the file, its answer's model kept.
        _ => "components/schemas/MeUser (the operation was pruned from the file; its answer's model is there)".to_string(),
    }
}

/// A route's description: from its upstream operation where Mixpanel's files type the part
/// (request body, success answer), else from [`shape`]. `Err` names a route with neither.
fn describe(route: &Route, specs: &[Spec], imported: &mut Imported) -> Result<Described, String> {
    let hand = shape(route);
    let missing = |part: &str| {
        format!(
            "route {} has no {part}: neither upstream nor described here",
            route.name
        )
    };
    let Some((spec, op)) = upstream::find_server_model(specs, route) else {
        let hand = hand.ok_or_else(|| missing("description"))?;
        let why = if route.status == RouteStatus::EmulatorOnly {
            "emulator: emulator only, no upstream route"
        } else {
            "emulator: no upstream schema in Mixpanel's files"
        };
        let answer = hand.answer.ok_or_else(|| missing("answer schema"))?;
        return Ok(Described {
            body: hand.body.map(|(m, s)| (m, s, !hand.body_optional)),
            success: (hand.status.to_string(), answer),
            errors: Vec::new(),
            source: json!({ "request": why, "response": why }),
        });
    };
    let doc = &spec.doc;
    let upstream_answer = upstream::typed_answer(doc, &op);
    let (success, response_source) = match upstream_answer {
        Some((st, s)) => ((st, imported.import(spec, &s)?), json!("upstream")),
        None => {
            let hand = hand.as_ref().ok_or_else(|| missing("answer schema"))?;
            let answer = hand
                .answer
                .clone()
                .ok_or_else(|| missing("answer schema"))?;
            (
                (hand.status.to_string(), answer),
                json!("emulator: the answer is untyped upstream (an object, or nothing), the shape is the emulator's"),
            )
        }
    };
    let upstream_body = upstream::typed_request(doc, &op);
    let (body, request_source) = match upstream_body {
        Some(s) => {
            let required = op["requestBody"]["required"].as_bool().unwrap_or(false);
            (
                Some(("application/json", imported.import(spec, &s)?, required)),
                json!("upstream"),
            )
        }
        None => match hand.as_ref().and_then(|h| h.body.clone().map(|b| (b, h.body_optional))) {
            Some(((media, s), optional)) => (
                Some((media, s, !optional)),
                json!("emulator: the request body is untyped upstream (or not JSON), the shape is the emulator's"),
            ),
            None => (None, json!("upstream: no request body")),
        },
    };
    let mut errors = Vec::new();
    if let Some(responses) = op["responses"].as_object() {
        for (st, _) in responses.iter().filter(|(k, _)| !k.starts_with('2')) {
            if let Some(s) = upstream::answer_schema(&op, st) {
                errors.push((st.clone(), imported.import(spec, &s)?));
            }
        }
    }
    Ok(Described {
        body,
        success,
        errors,
        source: json!({
            "file": format!("emulator/upstream/{}", spec.file),
            "operation": operation_name(spec, route, &op),
            "request": request_source,
            "response": response_source,
        }),
    })
}

fn operation(route: &Route, method: Method, d: &Described) -> Value {
    let mut op = Map::new();
    let id = if method == route.method {
        route.name.to_string()
    } else {
        format!("{}_{}", route.name, method.as_str().to_lowercase())
    };
    op.insert("operationId".into(), Value::String(id));
    let mut summary = route.name.replace('_', " ");
    if route.status == RouteStatus::EmulatorOnly {
        summary.push_str(" (emulator only: not available upstream yet)");
    }
    if route.status == RouteStatus::ObservedPathOnly {
        summary.push_str(" (path seen upstream, body untyped there: the emulator's shape)");
    }
    op.insert("summary".into(), Value::String(summary));
    op.insert("x-upstream-status".into(), json!(route.status));
    op.insert("x-schema-source".into(), d.source.clone());
    if let Some(source) = route.source {
        op.insert("x-upstream-source".into(), json!(source));
    }
    if let Some(check) = route.creates {
        op.insert("x-creates".into(), json!(check));
    }
    if let Some(cap) = route.capability {
        op.insert("x-capability".into(), json!(cap));
    }
    let params = parameters(route.path);
    if !params.is_empty() {
        op.insert("parameters".into(), Value::Array(params));
    }
    if let Some((media, schema, required)) = &d.body {
        op.insert(
            "requestBody".into(),
            json!({ "required": required, "content": { *media: { "schema": schema } } }),
        );
    }
    let json_of = |schema: &Value| json!({ "application/json": { "schema": schema } });
    let (status, answer) = &d.success;
    // A file download answers its own media type, not JSON.
    let success_content = if *route == wire::DOWNLOAD_AUDIT_LOG_EXPORT.route {
        json!({
            "text/csv": { "schema": answer },
            "application/x-ndjson": { "schema": answer },
        })
    } else {
        json_of(answer)
    };
    let mut responses = Map::new();
    responses.insert(
        status.clone(),
        json!({ "description": "success", "content": success_content }),
    );
    for (st, schema) in &d.errors {
        responses.insert(
            st.clone(),
            json!({ "description": "an error, as Mixpanel's file declares it", "content": json_of(schema) }),
        );
    }
    responses.insert(
        "default".into(),
        json!({
            "description": "an error, as Mixpanel answers it (400, 401, 403, 404, 405, 409, 422, 429 with Retry-After, 5xx)",
            "content": json_of(&r("Error")),
        }),
    );
    op.insert("responses".into(), Value::Object(responses));
    Value::Object(op)
}

/// How many routes of the document take their schemas from Mixpanel's files.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sources {
    /// Request body (if any) and answer both from upstream.
    pub upstream: usize,
    /// One part from upstream, the other written here.
    pub mixed: usize,
    /// Both written here (no upstream operation, or both parts untyped upstream).
    pub hand_written: usize,
}

/// The document. `Err` names a route of the table that has no description (upstream or here).
pub fn document() -> Result<Value, String> {
    static DOC: OnceLock<Result<Value, String>> = OnceLock::new();
    DOC.get_or_init(build).clone()
}

/// The counts of [`Sources`], read from a document's `x-schema-source`s (one per route).
pub fn sources(doc: &Value) -> Sources {
    let mut out = Sources::default();
    for route in ROUTES {
        let src =
            &doc["paths"][route.path][route.method.as_str().to_lowercase()]["x-schema-source"];
        let up = |part: &str| {
            src[part]
                .as_str()
                .is_some_and(|s| s.starts_with("upstream"))
        };
        match (up("request"), up("response")) {
            (true, true) => out.upstream += 1,
            (false, false) => out.hand_written += 1,
            _ => out.mixed += 1,
        }
    }
    out
}

fn build() -> Result<Value, String> {
    let specs = upstream::specs()?;
    let mut imported = Imported::default();
    let mut paths: BTreeMap<&str, Map<String, Value>> = BTreeMap::new();
    for route in ROUTES {
        let described = describe(route, &specs, &mut imported)?;
        let item = paths.entry(route.path).or_default();
        for method in std::iter::once(route.method).chain(route.fallback) {
            item.insert(
                method.as_str().to_lowercase(),
                operation(route, method, &described),
            );
        }
    }
    let mut components = components();
    if let Some(schemas) = components["schemas"].as_object_mut() {
        schemas.extend(imported.schemas);
    }
    Ok(json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Mixpanel management API (mixpanel-emulator)",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The routes of Mixpanel's management API the emulator serves, from the route table the client uses. Where Mixpanel's own files (emulator/upstream/: the web-app OpenAPI, then the public Service Accounts description) type a route's request body or answer, the schema is theirs, copied with the components it needs under the prefixes webapp. and public.; x-schema-source names the file and operation, and says per part (request, response) whether it is upstream or the emulator's own (no upstream route, or a body upstream types only as an object). x-upstream-status says where each shape comes from, as the route table says: documented_upstream (Mixpanel's documentation), observed_upstream (Mixpanel's web-app spec with a typed body, or community code with live tests, named in x-upstream-source), observed_path_only (the path is in Mixpanel's web app, its body untyped there and no live-tested source: the body is the emulator's), emulator_only (not available upstream yet). Success bodies are {\"status\":\"ok\",\"results\":...}, errors {\"status\":\"error\",\"error\":\"...\"}.",
        },
        "servers": [{ "url": "/" }],
        "security": [{ "basicAuth": [] }],
        "paths": paths,
        "components": components,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_described_with_its_name_and_upstream_status() {
        let doc = document().unwrap_or_else(|e| panic!("{e}"));
        for route in ROUTES {
            let op = &doc["paths"][route.path][route.method.as_str().to_lowercase()];
            assert_eq!(op["operationId"], route.name, "{}", route.path);
            let status = match route.status {
                RouteStatus::DocumentedUpstream => "documented_upstream",
                RouteStatus::ObservedUpstream => "observed_upstream",
                RouteStatus::ObservedPathOnly => "observed_path_only",
                RouteStatus::EmulatorOnly => "emulator_only",
            };
            assert_eq!(op["x-upstream-status"], status, "{}", route.name);
            for p in op["parameters"].as_array().into_iter().flatten() {
                let name = p["name"].as_str().unwrap_or_default();
                assert!(route.path.contains(&format!("{{{name}}}")));
            }
        }
        let remove = &doc["paths"][wire::REMOVE_SERVICE_ACCOUNTS_FROM_PROJECTS.path];
        assert_eq!(
            remove["delete"]["operationId"],
            "remove_service_accounts_from_projects_delete"
        );
        assert_eq!(doc["security"], json!([{ "basicAuth": [] }]));
    }

    #[test]
    fn every_reference_resolves() {
        let doc = document().unwrap_or_else(|e| panic!("{e}"));
        fn walk(v: &Value, doc: &Value) {
            match v {
                Value::Object(m) => {
                    if let Some(Value::String(target)) = m.get("$ref") {
                        let name = target
                            .strip_prefix("#/components/schemas/")
                            .unwrap_or_else(|| panic!("{target}"));
                        assert!(
                            doc["components"]["schemas"].get(name).is_some(),
                            "{target} does not resolve"
                        );
                    }
                    m.values().for_each(|x| walk(x, doc));
                }
                Value::Array(a) => a.iter().for_each(|x| walk(x, doc)),
                _ => {}
            }
        }
        walk(&doc, &doc);
    }
}
