//! The emulator half: the emulator, started through the kit, answers every route Mixpanel's
//! files describe (after the test has made the objects the route needs), and its actual answer
//! validates against the operation's response schema; the same request with a wrong secret
//! answers an error body that validates against the operation's error schema. Then it is sent
//! request bodies built from the request schema: only the required fields, every optional
//! field, null wherever null is allowed (each shape must be accepted: no `invalid body`
//! refusal, no 5xx), and, where the schema says `additionalProperties: false`, one field too
//! many (which must be refused with a 400 naming it).

use mixpanel_access::api::wire::{
    self, Endpoint, Method, RequestBody, Response, Route, RouteStatus,
};
use serde_json::{json, Map, Value};
use testkit::block_on;
use testkit::emulator::Emulator;

use super::schema::{
    self, answer_schema, errors, example, nullable, request_schema, resolve, results_untyped,
    success_statuses, typed, validator, Spec,
};

const MEMBER: &str = "ana@acme.example";

/// One answer of the emulator.
struct Answer {
    status: u16,
    body: Value,
    text: String,
}

impl Answer {
    fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or_default()
    }
}

/// The emulator over HTTP, as the bootstrapped owner service account.
struct Http {
    url: String,
    username: String,
    secret: String,
}

impl Http {
    fn send(&self, method: Method, path: &str, body: Option<&Value>) -> Answer {
        self.send_as(method, path, body, &self.secret)
    }

    fn send_as(&self, method: Method, path: &str, body: Option<&Value>, secret: &str) -> Answer {
        block_on(async {
            let m = reqwest::Method::from_bytes(method.as_str().as_bytes()).expect("method");
            let mut req = reqwest::Client::new()
                .request(m, format!("{}{path}", self.url))
                .basic_auth(&self.username, Some(secret));
            if let Some(b) = body {
                req = req.json(b);
            }
            let resp = req.send().await.expect("a request to the emulator");
            let status = resp.status().as_u16();
            let text = resp.text().await.expect("the emulator's answer");
            let body = serde_json::from_str(&text).unwrap_or(Value::Null);
            Answer { status, body, text }
        })
    }

    /// A request the test needs to succeed (making the objects routes need): its `results`.
    fn ok(&self, method: Method, path: &str, body: Value) -> Value {
        let a = self.send(method, path, Some(&body));
        assert!(
            (200..300).contains(&a.status),
            "setting up: {method} {path} {body} answered {}: {}",
            a.status,
            a.text
        );
        a.body["results"].clone()
    }
}

/// The objects the routes act on.
struct Fixture {
    org: u64,
    project: u64,
    team: u64,
    sa: u64,
    role: String,
    view: u64,
    export: String,
    token: String,
    secret: String,
}

fn id(v: &Value, what: &str) -> u64 {
    v.as_u64()
        .unwrap_or_else(|| panic!("setting up: no {what} id in {v}"))
}

impl Http {
    fn team_named(&self, org: u64, name: &str) -> u64 {
        let teams = self.ok(
            Method::Get,
            &format!("/organizations/{org}/teams/"),
            json!(null),
        );
        let found = teams
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("setting up: no team {name} in {teams}"));
        id(&found["id"], "team")
    }

    fn new_service_account(&self, org: u64, name: &str) -> u64 {
        let sa = self.ok(
            Method::Post,
            &format!("/api/app/organizations/{org}/service-accounts"),
            json!({"username": name, "role": "consumer"}),
        );
        id(&sa["id"], "service account")
    }

    fn new_team(&self, org: u64, name: &str) -> u64 {
        self.ok(
            Method::Post,
            &format!("/organizations/{org}/add-teams/"),
            json!({"teamNames": [name]}),
        );
        self.team_named(org, name)
    }

    fn new_custom_role(&self, project: u64, name: &str) -> String {
        let r = self.ok(
            Method::Post,
            &format!("/api/app/projects/{project}/custom-roles"),
            json!({"name": name, "description": "made by the contract test", "permissions": []}),
        );
        r["role_id"]
            .as_str()
            .unwrap_or_else(|| panic!("setting up: no role_id in {r}"))
            .to_string()
    }

    fn new_data_view(&self, project: u64, name: &str) -> u64 {
        let v = self.ok(
            Method::Post,
            &format!("/api/app/projects/{project}/workspaces"),
            json!({"name": name, "is_restricted": false, "is_visible": true}),
        );
        id(&v["id"], "data view")
    }

    fn fixture(&self, org: u64, emu: &Emulator) -> Fixture {
        let project = self.ok(
            Method::Post,
            &format!("/api/app/organizations/{org}/create-project"),
            json!({"project_name": "contract", "cluster_id": 1, "timezone_id": 1}),
        );
        let project = id(&project["id"], "project");
        self.ok(
            Method::Post,
            &format!("/organizations/{org}/add-users/"),
            json!({"emails": [MEMBER], "role": "member"}),
        );
        emu.activate(MEMBER);
        self.ok(
            Method::Post,
            &format!("/organizations/{org}/add-users-to-projects/"),
            json!({"users": [MEMBER], "projects": [project], "role": "analyst"}),
        );
        let team = self.new_team(org, "Contract");
        self.ok(
            Method::Post,
            &format!("/organizations/{org}/add-users-to-teams/"),
            json!({"teams": [{"id": team, "users": [MEMBER]}]}),
        );
        self.ok(
            Method::Post,
            &format!("/organizations/{org}/add-projects-to-teams/"),
            json!({"teams": [{"id": team, "projects": [{"id": project, "role": "consumer"}]}]}),
        );
        let sa = self.ok(
            Method::Post,
            &format!("/api/app/organizations/{org}/service-accounts"),
            json!({"username": "contract", "role": "consumer", "projects": [{"id": project, "role": "analyst"}]}),
        );
        let sa = id(&sa["id"], "service account");
        // A second account in the team, so that the team's list has an item to check.
        let in_team = self.new_service_account(org, "contract-team");
        self.ok(
            Method::Post,
            &format!("/api/app/organizations/{org}/teams/{team}/service-accounts/add-to-team"),
            json!({"service_account_ids": [in_team]}),
        );
        let role = self.new_custom_role(project, "Contract role");
        let view = self.new_data_view(project, "Contract view");
        let export = self.ok(
            Method::Post,
            &format!("/api/app/organizations/{org}/audit-logs/exports"),
            json!({"export_format": "ndjson"}),
        );
        let export = export["export_id"]
            .as_str()
            .unwrap_or_else(|| panic!("setting up: no export_id in {export}"))
            .to_string();
        let meta = self.ok(
            Method::Get,
            &format!("/settings/project/{project}/metadata"),
            json!(null),
        );
        let text = |k: &str| meta[k].as_str().unwrap_or_default().to_string();
        Fixture {
            org,
            project,
            team,
            sa,
            role,
            view,
            export,
            token: text("token"),
            secret: text("secret"),
        }
    }
}

/// The path and body the test sends on `route`, after making what the route uses up (an
/// account to delete, a member to remove).
fn request(http: &Http, fx: &Fixture, route: &Route) -> (String, Option<Value>) {
    let (org, project, team, sa, view) = (fx.org, fx.project, fx.team, fx.sa, fx.view);
    let mut args = wire::PathArgs::NONE;
    let has = |k: &str| route.path.contains(&format!("{{{k}}}"));
    if has("org") {
        args.org = Some(mixpanel_access::model::OrgId(org));
    }
    if has("project") {
        args.project = Some(mixpanel_access::model::ProjectId(project));
    }
    if has("team") {
        args.team = Some(mixpanel_access::model::TeamId(team));
    }
    if has("sa") {
        args.sa = Some(mixpanel_access::model::ServiceAccountId(sa));
    }
    if has("email") {
        args.email = Some(MEMBER);
    }
    if has("export") {
        args.export = Some(&fx.export);
    }
    if has("role") {
        args.custom_role = Some(&fx.role);
    }
    if has("workspace") {
        args.workspace = Some(view);
    }
    let doomed_role;
    match route.name {
        "delete_service_account" => {
            args.sa = Some(mixpanel_access::model::ServiceAccountId(
                http.new_service_account(org, "contract-doomed"),
            ))
        }
        "delete_custom_role" => {
            doomed_role = http.new_custom_role(project, "Doomed role");
            args.custom_role = Some(&doomed_role);
        }
        "delete_data_view" => args.workspace = Some(http.new_data_view(project, "Doomed view")),
        _ => {}
    }
    let body = match route.name {
        "create_service_account" => Some(json!({
            "username": "contract-new",
            "role": "consumer",
            "projects": [{"id": project, "role": "analyst"}],
        })),
        "add_service_accounts_to_projects" => Some(json!({
            "service_account_ids": [sa], "projects": [{"id": project, "role": "consumer"}],
        })),
        "remove_service_accounts_from_projects" => Some(json!({
            "projects": [{"id": project, "service_account_ids": [sa]}],
        })),
        "add_service_accounts_to_team" | "remove_service_accounts_from_team" => {
            Some(json!({"service_account_ids": [sa]}))
        }
        "create_project" => Some(json!({
            "project_name": "contract-2", "cluster_id": 1, "timezone_id": 1, "is_b2b": false,
        })),
        "add_teams" => Some(json!({"teamNames": ["Contract-2"]})),
        "rename_team" => Some(json!({"name": "Contract renamed"})),
        "delete_teams" => Some(json!({"teamIds": [http.new_team(org, "Doomed")]})),
        "add_projects_to_teams" => Some(json!({
            "teams": [{"id": team, "projects": [{"id": project, "role": "analyst"}]}],
            "add_default_projects": false,
        })),
        "add_users_to_teams" => Some(json!({"teams": [{"id": team, "users": [MEMBER]}]})),
        "invite_org_users" => Some(json!({"emails": ["bo@acme.example"], "role": "member"})),
        "update_org_user" => Some(json!({"role": "member"})),
        "remove_org_users" => {
            http.ok(
                Method::Post,
                &format!("/organizations/{org}/add-users/"),
                json!({"emails": ["cy@acme.example"], "role": "member"}),
            );
            Some(json!({"emails": ["cy@acme.example"]}))
        }
        "add_users_to_projects" => Some(json!({
            "users": [MEMBER], "projects": [project], "role": "analyst",
        })),
        "validate_project_credentials" => Some(json!({
            "project_token": fx.token, "api_secret": fx.secret,
        })),
        "audit_logs" | "project_audit_logs" => Some(json!({"types": ["team.created"]})),
        "create_audit_log_export" => Some(json!({"export_format": "csv"})),
        "set_discoverability" => Some(json!("Request")),
        "set_discoverable_domains" => Some(json!(["acme.example"])),
        "set_two_factor" => Some(json!({"twofactor_auth_required": false})),
        "create_custom_role" | "update_custom_role" => Some(json!({
            "name": format!("Contract {}", route.name), "description": "d", "permissions": [],
        })),
        "create_data_view" => Some(json!({
            "name": "Contract view 2", "is_restricted": true, "is_visible": true,
            "description": "made by the contract test",
        })),
        "update_data_view" => Some(json!({"id": view, "name": "Contract view renamed"})),
        "upsert_data_view_members" | "delete_data_view_members" => Some(json!({
            "id": view, "user_emails": [MEMBER], "team_ids": [team],
        })),
        "set_classified_access" => Some(json!({MEMBER: true})),
        "set_team_classified_access" => Some(json!({team.to_string(): true})),
        _ => None,
    };
    let path = route
        .fill(&args)
        .unwrap_or_else(|e| panic!("the test's path for {}: {e}", route.name));
    (path, body)
}

/// The error schema of the operation for `status`, or the web-app file's `ErrorResponseModel`.
fn error_schema<'a>(
    specs: &'a [Spec],
    spec: &'a Spec,
    op: &Value,
    status: u16,
) -> (&'a Spec, Value) {
    match answer_schema(op, &status.to_string()) {
        Some(s) => (spec, s),
        None => (
            specs
                .iter()
                .find(|s| s.name == "web-app")
                .expect("the web-app file"),
            json!({"$ref": "#/components/schemas/ErrorResponseModel"}),
        ),
    }
}

/// `schema` with a `results` that upstream types only as "an object" (`BaseOkResponseModel
/// [dict]`: no named properties) taken as an object or a list of objects, and whether it was:
/// the reference's trust rule (such a type says only "an object"), and community code with
/// live tests reads the teams list as a list, so the evidence conflicts. The envelope around
/// it is still checked.
fn relax_untyped_results(doc: &Value, schema: &Value) -> (Value, bool) {
    if !results_untyped(doc, schema) {
        return (schema.clone(), false);
    }
    let mut relaxed = resolve(doc, schema).clone();
    relaxed["properties"]["results"] = json!({"anyOf": [
        {"type": "object"},
        {"type": "array", "items": {"type": "object"}},
    ]});
    (relaxed, true)
}

/// Bodies built from the request schema around the test's own `body` (whose ids name real
/// objects): `minimal` keeps only the required fields, `maximal` adds every optional field the
/// schema names, `nulls` sets every property that may be null to null.
fn variants(doc: &Value, schema: &Value, body: &Value) -> Vec<(&'static str, Value)> {
    let s = resolve(doc, schema);
    let (Some(props), Some(real)) = (s["properties"].as_object(), body.as_object()) else {
        return Vec::new();
    };
    let required: Vec<&str> = s["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let generated = example(doc, schema, true, 0);
    let mut minimal = Map::new();
    let mut maximal = real.clone();
    let mut nulls = real.clone();
    for (k, p) in props {
        let value = real.get(k).cloned().unwrap_or_else(|| generated[k].clone());
        if required.contains(&k.as_str()) {
            minimal.insert(k.clone(), value.clone());
        }
        maximal.entry(k.clone()).or_insert(value);
        if nullable(resolve(doc, p)) {
            nulls.insert(k.clone(), Value::Null);
        }
    }
    let mut out = vec![
        ("minimal", Value::Object(minimal)),
        ("maximal", Value::Object(maximal)),
    ];
    if Value::Object(nulls.clone()) != *body {
        out.push(("nulls", Value::Object(nulls)));
    }
    out
}

#[derive(Default)]
struct Walk {
    lines: Vec<String>,
    answers: usize,
    error_bodies: usize,
    bodies: usize,
    refusals: usize,
    no_schema: usize,
    emulator_only: usize,
    mismatches: Vec<String>,
    specs: Vec<Spec>,
    http: Option<Http>,
    fixture: Option<Fixture>,
}

impl wire::RouteVisitor for Walk {
    fn visit<Req: RequestBody + 'static, Resp: Response + 'static>(
        &mut self,
        endpoint: &Endpoint<Req, Resp>,
    ) {
        let route = &endpoint.route;
        let Some((spec, op)) = schema::find_server_model(&self.specs, route) else {
            if route.status == RouteStatus::EmulatorOnly {
                self.emulator_only += 1;
                self.lines.push(format!("{:<40} emulator only", route.name));
            } else {
                self.no_schema += 1;
                self.lines
                    .push(format!("{:<40} no upstream schema", route.name));
            }
            return;
        };
        let (http, fx) = (
            self.http.as_ref().expect("http"),
            self.fixture.as_ref().expect("fixture"),
        );
        let doc = &spec.doc;
        let mut problems = Vec::new();
        let mut done = Vec::new();
        let (path, body) = request(http, fx, route);

        // The answer.
        let a = http.send(route.method, &path, body.as_ref());
        if !(200..300).contains(&a.status) {
            problems.push(format!(
                "the emulator refused the test's request {}: {} {}",
                body.as_ref().map(Value::to_string).unwrap_or_default(),
                a.status,
                a.text
            ));
        } else {
            let declared = success_statuses(&op);
            if !declared.is_empty() && !declared.contains(&a.status.to_string()) {
                problems.push(format!(
                    "answers {} where upstream declares {}",
                    a.status,
                    declared.join(", ")
                ));
            }
            let schema = answer_schema(&op, &a.status.to_string())
                .or_else(|| declared.iter().find_map(|s| answer_schema(&op, s)));
            match schema {
                Some(s) => {
                    let (s, untyped) = relax_untyped_results(doc, &s);
                    if untyped {
                        done.push("results untyped upstream (an object or a list)".into());
                    }
                    let e = errors(&validator(doc, &s), &a.body);
                    if a.body.is_null() {
                        problems.push(format!("the answer is not JSON: {}", a.text));
                    } else if !e.is_empty() {
                        problems.push(format!("answer {}: {}", a.text, e.join("; ")));
                    }
                    done.push(format!("answer {}", a.status));
                    self.answers += 1;
                }
                None => done.push(format!("answer {} (no schema upstream)", a.status)),
            }
        }

        // An error body: the same request with a wrong secret.
        let bad = http.send_as(route.method, &path, body.as_ref(), "not-the-secret");
        let (espec, eschema) = error_schema(&self.specs, spec, &op, bad.status);
        let e = errors(&validator(&espec.doc, &eschema), &bad.body);
        if bad.status != 401 {
            problems.push(format!(
                "a wrong secret answered {}: {}",
                bad.status, bad.text
            ));
        } else if !e.is_empty() {
            problems.push(format!("error body {}: {}", bad.text, e.join("; ")));
        } else {
            self.error_bodies += 1;
            done.push("error 401".into());
        }

        // Bodies built from the request schema.
        if let (Some(rs), Some(body)) = (request_schema(&op), &body) {
            if typed(doc, &rs) {
                let (path, _) = request(http, fx, route);
                for (what, v) in variants(doc, &rs, body) {
                    let a = http.send(route.method, &path, Some(&v));
                    if a.status >= 500
                        || (a.status == 400 || a.status == 422)
                            && a.error().starts_with("invalid body")
                    {
                        problems.push(format!(
                            "the {what} body {v} (allowed upstream) was refused: {} {}",
                            a.status, a.text
                        ));
                    } else {
                        self.bodies += 1;
                        done.push(format!("{what} body {}", a.status));
                    }
                }
                if resolve(doc, &rs)["additionalProperties"] == json!(false) {
                    if let Some(mut extra) = body.as_object().cloned() {
                        extra.insert("not_in_the_schema".into(), json!(1));
                        let (path, _) = request(http, fx, route);
                        let a = http.send(route.method, &path, Some(&Value::Object(extra)));
                        if a.status != 400 || !a.error().contains("not_in_the_schema") {
                            problems.push(format!(
                                "a field upstream refuses (additionalProperties: false) was not refused with a 400 naming it: {} {}",
                                a.status, a.text
                            ));
                        } else {
                            self.refusals += 1;
                            done.push("extra field 400".into());
                        }
                    }
                }
            }
        }

        if problems.is_empty() {
            self.lines.push(format!(
                "{:<40} the emulator agrees with the {} schema: {}",
                route.name,
                spec.name,
                done.join(", ")
            ));
        } else {
            self.lines.push(format!(
                "{:<40} MISMATCH against the {} schema ({} problem(s))",
                route.name,
                spec.name,
                problems.len()
            ));
            for p in problems {
                self.mismatches.push(format!("{}: {p}", route.name));
            }
        }
    }
}

#[test]
fn the_emulator_answers_as_mixpanels_schemas_say() {
    let emu = Emulator::start();
    let creds = emu.bootstrap("Contract", "owner");
    let http = Http {
        url: emu.url.clone(),
        username: creds.username.clone(),
        secret: creds.secret.clone(),
    };
    let fixture = http.fixture(creds.org_id, &emu);
    let mut walk = Walk {
        specs: schema::specs(),
        http: Some(http),
        fixture: Some(fixture),
        ..Default::default()
    };
    wire::visit_routes(&mut walk);
    for l in &walk.lines {
        println!("{l}");
    }
    println!(
        "emulator: {} answers and {} error bodies validated, {} request bodies built from the schemas accepted, {} refusals of a field the schema refuses; {} routes without upstream schema, {} emulator only; mismatches: {}",
        walk.answers,
        walk.error_bodies,
        walk.bodies,
        walk.refusals,
        walk.no_schema,
        walk.emulator_only,
        walk.mismatches.len()
    );
    assert_eq!(
        walk.lines.len(),
        wire::ROUTES.len(),
        "every route is walked"
    );
    assert!(walk.answers >= 40, "the answers were checked");
    assert!(
        walk.mismatches.is_empty(),
        "mismatches:\n{}",
        walk.mismatches.join("\n")
    );
}
