//! The client half: what the client serializes validates against the operation's request
//! schema, and instances built from the response schema (every optional field absent and every
//! nullable one null; then every field present) decode with the route's response type. (The
//! live-recorded `/me` body is decoded by `wire`'s unit test
//! `me_reads_a_project_role_id_as_a_number_null_or_string`.)

use std::any::TypeId;
use std::collections::{BTreeMap, HashMap};

use mixpanel_access::api::wire::{self, Endpoint, RequestBody, Response, RouteStatus};
use mixpanel_access::model::{
    Email, OrgRole, ProjectId, ProjectRole, ProjectRoleGrant, ServiceAccountId, TeamId,
};
use serde_json::{json, Value};

use super::schema::{self, errors, example, request_schema, resolve, typed, validator, Spec};

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
        let found = schema::find(&self.specs, route);
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
        let body_schema = request_schema(&op).unwrap_or(Value::Null);
        let typed = |s: &Value| typed(doc, s);
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
                    Err(e) if untyped && e.message.starts_with("unexpected answer at") => {}
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
        specs: schema::specs(),
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
