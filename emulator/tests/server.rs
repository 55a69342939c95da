//! The emulator as a process: persistence across restarts, SIGTERM, redirects, unknown routes,
//! the admin API (faults, counters, reset, activation) and the bootstrap CLI.

mod http;

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_mixpanel-emulator");

use http::{admin, Api};
use mixpanel_access::api::wire;
use mixpanel_access::model::{OrgId, ProjectId, ServiceAccountId, TeamId};
use reqwest::Method;
use serde_json::{json, Value};
use testkit::emulator::Emulator;

#[tokio::test]
async fn data_survives_a_restart_and_sigterm_exits_zero() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("state.db");
    let mut emu = Emulator::spawn_on(BIN, &db);
    let b = emu.bootstrap("Acme", "owner");
    let org = b.org_id;
    let api = Api::new(&emu, &b);
    let p = api.create_project(org, "durable").await;
    let (sa, user, secret) = api.create_sa(org, "etl", "analyst").await;
    api.ok_post(
        &format!("/api/app/organizations/{org}/service-accounts/add-to-project"),
        json!({"service_account_ids": [sa], "projects": [{"id": p, "role": "consumer"}]}),
    )
    .await;
    let team = api.create_team(org, "Data").await;
    api.ok_post(
        &format!("/organizations/{org}/add-users/"),
        json!({"emails": ["ann@acme.example"], "role": "member"}),
    )
    .await;
    let meta_before = api.ok_get(&format!("/settings/project/{p}/metadata")).await;
    assert_eq!(
        emu.terminate(),
        Some(0),
        "SIGTERM ends the process with exit code 0"
    );

    let emu = Emulator::spawn_on(BIN, &db);
    let api = Api::new(&emu, &b);
    let projects = api.ok_get(&format!("/organizations/{org}/projects/")).await;
    assert_eq!(projects[0]["id"], p);
    assert_eq!(projects[0]["name"], "durable");
    let meta = api.ok_get(&format!("/settings/project/{p}/metadata")).await;
    assert_eq!(meta, meta_before);
    let members = api
        .ok_get(&format!("/api/app/projects/{p}/service-accounts"))
        .await;
    assert!(members
        .as_array()
        .expect("members")
        .iter()
        .any(|m| m["id"] == sa && m["role"] == "consumer"));
    let teams = api.ok_get(&format!("/organizations/{org}/teams/")).await;
    assert_eq!(teams[0]["id"], team);
    let users = api.ok_get(&format!("/organizations/{org}/users/")).await;
    assert_eq!(users.as_array().expect("users").len(), 2);
    // The created account's secret still works: only its hash was stored.
    assert_eq!(
        Api::with(&emu.url, &user, &secret)
            .get("/api/app/me")
            .await
            .status,
        200
    );
    let log = api
        .post(
            &format!("/api/app/organizations/{org}/audit-logs"),
            json!({"types": ["project.created"]}),
        )
        .await;
    assert_eq!(log.body["results"].as_array().expect("results").len(), 1);
    // No secret in the database file.
    let raw = std::fs::read(&db).expect("db");
    let wal = std::fs::read(db.with_extension("db-wal")).unwrap_or_default();
    for bytes in [raw, wal] {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "the secret is stored in clear"
        );
    }
}

/// A data view's `membership_approval_required`, which Mixpanel's `WorkspacePatchRequest`
/// allows: a PATCH setting it is accepted, the answer and a later read show it, it survives a
/// restart, null leaves it as it is, and a non-boolean is a 400 naming the field.
#[tokio::test]
async fn a_data_views_membership_approval_is_stored_and_survives_a_restart() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("state.db");
    let mut emu = Emulator::spawn_on(BIN, &db);
    let b = emu.bootstrap("Acme", "owner");
    let api = Api::new(&emu, &b);
    let p = api.create_project(b.org_id, "views").await;
    let view = api
        .ok_post(
            &format!("/api/app/projects/{p}/workspaces"),
            json!({"name": "Finance", "is_restricted": true, "is_visible": true}),
        )
        .await;
    assert_eq!(view["membership_approval_required"], false);
    let id = view["id"].as_u64().expect("view id");
    let path = format!("/api/app/projects/{p}/workspaces/{id}");
    let patch = |body: Value| api.send(Method::PATCH, &path, Some(body));
    let a = patch(json!({"id": id, "membership_approval_required": true})).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["results"]["membership_approval_required"], true);
    assert_eq!(
        api.ok_get(&path).await["membership_approval_required"],
        true
    );
    let a = patch(json!({"id": id, "membership_approval_required": null, "name": "Money"})).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        a.body["results"]["membership_approval_required"], true,
        "null: unchanged"
    );
    let a = patch(json!({"id": id, "membership_approval_required": "yes"})).await;
    assert_eq!(a.status, 400, "{}", a.body);
    assert!(
        a.error().contains("membership_approval_required"),
        "{}",
        a.body
    );
    assert_eq!(emu.terminate(), Some(0));

    let emu = Emulator::spawn_on(BIN, &db);
    let api = Api::new(&emu, &b);
    let after = api.ok_get(&path).await;
    assert_eq!(after["membership_approval_required"], true, "{after}");
    assert_eq!(after["name"], "Money");
    let listed = api
        .ok_get(&format!("/api/app/projects/{p}/workspaces"))
        .await;
    let global = &listed.as_array().expect("views")[0];
    assert_eq!(
        global["membership_approval_required"], false,
        "the global view is unchanged"
    );
    assert!(
        global["creator_id"].is_u64(),
        "Mixpanel's MeWorkspace names a creator: {global}"
    );
    let a = Api::new(&emu, &b)
        .send(
            Method::PATCH,
            &path,
            Some(json!({"id": id, "membership_approval_required": false})),
        )
        .await;
    assert_eq!(a.body["results"]["membership_approval_required"], false);
}

/// Every route of the table reaches its own handler: a request to each, with each of its
/// methods (this organization's id, other ids made up), is counted under the route's name and
/// method, and is neither the router's "not a route" 404, a redirect, a 401 nor a 405.
#[tokio::test]
async fn every_route_of_the_table_is_served() {
    let emu = Emulator::spawn(BIN);
    let b = emu.bootstrap("Acme", "owner");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    for r in wire::ROUTES {
        let has = |p: &str| r.path.contains(p);
        let args = wire::PathArgs {
            org: has("{org}").then_some(OrgId(b.org_id)),
            project: has("{project}").then_some(ProjectId(999_999)),
            team: has("{team}").then_some(TeamId(999_999)),
            sa: has("{sa}").then_some(ServiceAccountId(999_999)),
            email: has("{email}").then_some("nobody+x@acme.example"),
            export: has("{export}").then_some("999999"),
            custom_role: has("{role}").then_some("00000000-0000-4000-8000-000000000000"),
            workspace: has("{workspace}").then_some(999_999),
        };
        let path = r.fill(&args).unwrap_or_else(|e| panic!("{e}"));
        for m in std::iter::once(r.method).chain(r.fallback) {
            let method = Method::from_bytes(m.as_str().as_bytes()).expect("method");
            let mut req = http
                .request(method, format!("{}{path}", emu.url))
                .basic_auth(&b.username, Some(&b.secret));
            if m != wire::Method::Get {
                req = req.json(&json!({}));
            }
            let resp = req.send().await.expect("request");
            let status = resp.status().as_u16();
            let text = resp.text().await.expect("body");
            let what = format!("{} {m} {path}: {status} {text}", r.name);
            assert!(
                !(status == 404 && text.contains("is not a route of this API")),
                "{what}"
            );
            assert!(!matches!(status, 301 | 401 | 405), "{what}");
            let counted = admin(&emu.url, Method::GET, "/_emulator/counters", None).await;
            assert_eq!(counted.body["results"][r.name][m.as_str()], 1, "{what}");
        }
    }
}

#[tokio::test]
async fn slashless_routes_redirect_and_unknown_routes_are_json_404s() {
    let emu = Emulator::spawn(BIN);
    let b = emu.bootstrap("Acme", "owner");
    let api = Api::new(&emu, &b);
    let org = b.org_id;
    for (method, path) in [
        (Method::GET, format!("/organizations/{org}/teams")),
        (Method::POST, format!("/organizations/{org}/add-teams")),
        (Method::DELETE, format!("/organizations/{org}/users")),
        (
            Method::POST,
            format!("/organizations/{org}/users/a@b.example/update"),
        ),
    ] {
        let a = api.send(method.clone(), &path, None).await;
        assert_eq!(a.status, 301, "{method} {path}");
        assert_eq!(
            a.headers["location"].to_str().expect("location"),
            format!("{path}/"),
            "{method} {path}"
        );
    }
    let a = api
        .get(&format!("/organizations/{org}/projects?include=all"))
        .await;
    assert_eq!(a.status, 301);
    assert_eq!(
        a.headers["location"],
        format!("/organizations/{org}/projects/?include=all").as_str()
    );
    // Nothing was created by the redirected POST.
    assert_eq!(
        api.ok_get(&format!("/organizations/{org}/teams/")).await,
        json!([])
    );

    let a = api.get("/api/app/nothing-here").await;
    assert_eq!(a.status, 404);
    assert_eq!(a.body["status"], "error");
    assert!(a.error().contains("/api/app/nothing-here"), "{}", a.error());
    let a = api
        .get(&format!("/api/app/organizations/{org}/create-project"))
        .await;
    assert_eq!(a.status, 405);
    assert_eq!(a.body["status"], "error");
    let a = api
        .get(&format!(
            "/api/app/organizations/{org}/service-accounts/123"
        ))
        .await;
    assert_eq!(a.status, 404);
    let a = api.get("/api/app/organizations/abc/service-accounts").await;
    assert_eq!(a.status, 400);
    assert!(a.error().contains("invalid path"), "{}", a.error());
}

#[tokio::test]
async fn faults_fire_before_handlers_and_counters_count_every_request() {
    let emu = Emulator::spawn(BIN);
    let b = emu.bootstrap("Acme", "owner");
    let api = Api::new(&emu, &b);
    let org = b.org_id;
    let teams = format!("/organizations/{org}/teams/");
    let add_teams = format!("/organizations/{org}/add-teams/");
    let faults = "/_emulator/faults";

    // Invalid configurations are refused with the field named.
    let a = admin(
        &emu.url,
        Method::PUT,
        faults,
        Some(json!({"routes": ["nope"]})),
    )
    .await;
    assert_eq!(a.status, 400);
    assert!(a.body["error"].as_str().expect("error").contains("routes"));
    let a = admin(
        &emu.url,
        Method::PUT,
        faults,
        Some(json!({"error_rate": 2})),
    )
    .await;
    assert_eq!(a.status, 400);

    // Errors on the chosen routes only; a failed write changes nothing.
    let cfg =
        json!({"error_rate": 1.0, "error_status": 502, "routes": ["add_teams", "list_teams"]});
    let a = admin(&emu.url, Method::PUT, faults, Some(cfg)).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let a = api.post(&add_teams, json!({"teamNames": ["Lost"]})).await;
    assert_eq!(a.status, 502);
    assert_eq!(a.body["status"], "error");
    assert_eq!(api.get(&teams).await.status, 502);
    assert_eq!(api.get("/api/app/me").await.status, 200);
    let got = admin(&emu.url, Method::GET, faults, None).await;
    assert_eq!(got.body["results"]["error_status"], 502);
    // The admin API is never faulted.
    assert_eq!(
        admin(&emu.url, Method::GET, "/_emulator/counters", None)
            .await
            .status,
        200
    );
    admin(&emu.url, Method::DELETE, faults, None).await;
    assert_eq!(
        api.ok_get(&teams).await,
        json!([]),
        "the faulted write wrote nothing"
    );

    // 429 with Retry-After.
    let cfg = json!({"rate_limit_rate": 1.0, "retry_after_secs": 7, "routes": ["me"]});
    admin(&emu.url, Method::PUT, faults, Some(cfg)).await;
    let a = api.get("/api/app/me").await;
    assert_eq!(a.status, 429);
    assert_eq!(a.headers["retry-after"], "7");
    admin(&emu.url, Method::DELETE, faults, None).await;

    // A seeded error rate is reproducible.
    let run = || async {
        admin(
            &emu.url,
            Method::PUT,
            faults,
            Some(json!({"error_rate": 0.5, "seed": 42, "routes": ["me"]})),
        )
        .await;
        let mut statuses = Vec::new();
        for _ in 0..20 {
            statuses.push(api.get("/api/app/me").await.status);
        }
        statuses
    };
    let first = run().await;
    let second = run().await;
    assert_eq!(first, second);
    assert!(first.contains(&500) && first.contains(&200), "{first:?}");
    admin(&emu.url, Method::DELETE, faults, None).await;

    // force_405 refuses POST on a route; its DELETE form still works.
    let p = api.create_project(org, "prod").await;
    let (sa, _, _) = api.create_sa(org, "etl", "analyst").await;
    api.ok_post(
        &format!("/api/app/organizations/{org}/service-accounts/add-to-project"),
        json!({"service_account_ids": [sa], "projects": [{"id": p, "role": "analyst"}]}),
    )
    .await;
    admin(
        &emu.url,
        Method::PUT,
        faults,
        Some(json!({"force_405": ["remove_service_accounts_from_projects"]})),
    )
    .await;
    let remove = format!("/api/app/organizations/{org}/service-accounts/remove-from-project");
    let body = json!({"projects": [{"id": p, "service_account_ids": [sa]}]});
    let a = api.post(&remove, body.clone()).await;
    assert_eq!(a.status, 405);
    assert_eq!(a.headers["allow"], "DELETE");
    let a = api.send(Method::DELETE, &remove, Some(body)).await;
    assert_eq!(a.status, 200, "{}", a.body);
    admin(&emu.url, Method::DELETE, faults, None).await;

    // Counters: by route name and method, faulted requests included.
    let c = admin(&emu.url, Method::GET, "/_emulator/counters", None).await;
    let c = &c.body["results"];
    assert_eq!(c["add_teams"]["POST"], 1);
    assert_eq!(c["list_teams"]["GET"], 2);
    assert_eq!(c["remove_service_accounts_from_projects"]["POST"], 1);
    assert_eq!(c["remove_service_accounts_from_projects"]["DELETE"], 1);
    assert!(c["me"]["GET"].as_u64().expect("me") >= 42);
    assert_eq!(c["create_project"]["POST"], 1);
    assert!(c.get("delete_projects").is_none());
    admin(&emu.url, Method::DELETE, "/_emulator/counters", None).await;
    let c = admin(&emu.url, Method::GET, "/_emulator/counters", None).await;
    assert_eq!(c.body["results"], json!({}));
}

#[tokio::test]
async fn latency_is_added_before_the_handler() {
    let emu = Emulator::spawn(BIN);
    let b = emu.bootstrap("Acme", "owner");
    let api = Api::new(&emu, &b);
    admin(
        &emu.url,
        Method::PUT,
        "/_emulator/faults",
        Some(json!({"latency_ms": 300, "routes": ["me"]})),
    )
    .await;
    let t = std::time::Instant::now();
    assert_eq!(api.get("/api/app/me").await.status, 200);
    assert!(t.elapsed() >= std::time::Duration::from_millis(300));
    let t = std::time::Instant::now();
    api.ok_get("/api/app/timezones").await;
    assert!(t.elapsed() < std::time::Duration::from_millis(300));
}

#[tokio::test]
async fn reset_wipes_everything_and_activate_accepts_an_invitation() {
    let emu = Emulator::spawn(BIN);
    let b = emu.bootstrap("Acme", "owner");
    let api = Api::new(&emu, &b);
    let org = b.org_id;
    api.ok_post(
        &format!("/organizations/{org}/add-users/"),
        json!({"emails": ["Ann@Acme.example"], "role": "member"}),
    )
    .await;
    let a = admin(
        &emu.url,
        Method::POST,
        "/_emulator/users/ann@acme.example/activate",
        None,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let users = api.ok_get(&format!("/organizations/{org}/users/")).await;
    let ann = users
        .as_array()
        .expect("users")
        .iter()
        .find(|u| u["email"] == "Ann@Acme.example")
        .expect("ann, as written");
    assert_eq!(ann["status"], "active");
    assert!(ann["last_login"].is_string());
    let a = admin(
        &emu.url,
        Method::POST,
        "/_emulator/users/nobody@acme.example/activate",
        None,
    )
    .await;
    assert_eq!(a.status, 404);

    let a = admin(&emu.url, Method::POST, "/_emulator/reset", None).await;
    assert_eq!(a.status, 200);
    assert_eq!(api.get("/api/app/me").await.status, 401);
    // A fresh bootstrap works after a reset, with a new organization id.
    let b2 = emu.bootstrap("Acme", "owner");
    assert_ne!(b2.org_id, b.org_id);
    assert_eq!(Api::new(&emu, &b2).get("/api/app/me").await.status, 200);
    let routes = admin(&emu.url, Method::GET, "/_emulator/routes", None).await;
    assert!(routes.body["results"]
        .as_array()
        .expect("routes")
        .iter()
        .any(|r| r["name"] == "create_service_account"));
}

#[tokio::test]
async fn bootstrap_cli_prints_shell_lines_that_work() {
    let emu = Emulator::spawn(BIN);
    let out = Command::new(env!("CARGO_BIN_EXE_mixpanel-emulator"))
        .args([
            "bootstrap",
            "--url",
            &emu.url,
            "--name",
            "ci",
            "--role",
            "admin",
        ])
        .output()
        .expect("run bootstrap");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("utf8");
    let vars: std::collections::BTreeMap<&str, &str> =
        text.lines().filter_map(|l| l.split_once('=')).collect();
    assert_eq!(
        vars.keys().copied().collect::<Vec<_>>(),
        vec![
            "MIXPANEL_API_URL",
            "MIXPANEL_ORGANIZATION_ID",
            "MIXPANEL_SERVICE_ACCOUNT_SECRET",
            "MIXPANEL_SERVICE_ACCOUNT_USERNAME"
        ]
    );
    assert_eq!(vars["MIXPANEL_API_URL"], emu.url);
    let username = vars["MIXPANEL_SERVICE_ACCOUNT_USERNAME"];
    assert!(username.starts_with("ci.") && username.ends_with(".mp-service-account"));
    let api = Api::with(&emu.url, username, vars["MIXPANEL_SERVICE_ACCOUNT_SECRET"]);
    let me: Value = api.ok_get("/api/app/me").await;
    let org = vars["MIXPANEL_ORGANIZATION_ID"];
    assert_eq!(me["organizations"][org]["role"], "admin");
    assert_eq!(me["organizations"][org]["name"], "Acme");

    // A bad URL fails with a message and a non-zero exit.
    let out = Command::new(env!("CARGO_BIN_EXE_mixpanel-emulator"))
        .args(["bootstrap", "--url", "http://127.0.0.1:1"])
        .output()
        .expect("run bootstrap");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot reach the emulator"));
}
