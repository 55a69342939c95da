//! The emulator's API over raw HTTP: authentication, role rules, validation and the audit log.

mod http;

use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_mixpanel-emulator");

use chrono::{SubsecRound, Utc};
use http::Api;
use serde_json::{json, Value};
use testkit::emulator::Emulator;

#[tokio::test]
async fn unknown_wrong_missing_and_expired_credentials_are_401() {
    let emu = Emulator::spawn(BIN);
    let b = emu.bootstrap("Acme", "owner");
    let owner = Api::new(&emu, &b);
    assert_eq!(owner.get("/api/app/me").await.status, 200);

    // Unknown account.
    let a = Api::with(&emu.url, "ghost.abc123.mp-service-account", "x")
        .get("/api/app/me")
        .await;
    assert_eq!(a.status, 401);
    assert_eq!(a.body["status"], "error");
    assert!(
        a.error().contains("no service account named"),
        "{}",
        a.error()
    );

    // Wrong secret: says so, never echoes it.
    let a = Api::with(&emu.url, &b.username, "not-the-secret-123")
        .get("/api/app/me")
        .await;
    assert_eq!(a.status, 401);
    assert!(a.error().contains("wrong secret"), "{}", a.error());
    assert!(!a.body.to_string().contains("not-the-secret-123"));

    // No credentials at all.
    let r = reqwest::get(format!("{}/api/app/me", emu.url))
        .await
        .expect("get");
    assert_eq!(r.status().as_u16(), 401);
    let body: Value = r.json().await.expect("json");
    assert!(body["error"].as_str().expect("error").contains("Basic"));

    // The plain-text form of Basic that Mixpanel also accepts.
    let r = reqwest::Client::new()
        .get(format!("{}/api/app/me", emu.url))
        .header(
            "Authorization",
            format!("Basic {}:{}", b.username, b.secret),
        )
        .send()
        .await
        .expect("plain");
    assert_eq!(r.status().as_u16(), 200);

    // Expiry: the format is strict, a past date is refused, an account stops working when
    // its expiry passes.
    let sas = format!("/api/app/organizations/{}/service-accounts", b.org_id);
    for bad in [
        "2030-01-01",
        "2030-01-01T00:00:00.000Z",
        "2030-01-01T00:00:00+00:00",
    ] {
        let a = owner
            .post(
                &sas,
                json!({"username": "x", "role": "analyst", "expires": bad}),
            )
            .await;
        assert_eq!(a.status, 400, "{bad}");
        assert!(a.error().contains("expires"), "{}", a.error());
        assert!(a.error().contains("YYYY-MM-DDTHH:MM:SSZ"), "{}", a.error());
    }
    let a = owner
        .post(
            &sas,
            json!({"username": "x", "role": "analyst", "expires": "2020-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(a.status, 400);
    assert!(a.error().starts_with("expires:"), "{}", a.error());
    // "" means never expires, as upstream.
    let a = owner
        .post(
            &sas,
            json!({"username": "forever", "role": "consumer", "expires": ""}),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.body["results"]["expires"], Value::Null);

    let expires = (Utc::now() + chrono::Duration::seconds(3)).trunc_subsecs(0);
    let a = owner
        .post(
            &sas,
            json!({"username": "short-lived", "role": "analyst",
                   "expires": expires.format("%Y-%m-%dT%H:%M:%SZ").to_string()}),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
    let short = Api::with(
        &emu.url,
        a.body["results"]["username"].as_str().expect("username"),
        a.body["results"]["token"].as_str().expect("token"),
    );
    assert_eq!(short.get("/api/app/me").await.status, 200);
    let wait = (expires - Utc::now()).to_std().unwrap_or_default() + Duration::from_millis(200);
    tokio::time::sleep(wait).await;
    let a = short.get("/api/app/me").await;
    assert_eq!(a.status, 401);
    assert!(a.error().contains("expired"), "{}", a.error());

    // last_used is recorded.
    let list = owner.ok_get(&sas).await;
    let me = list
        .as_array()
        .expect("list")
        .iter()
        .find(|s| s["username"] == b.username.as_str())
        .expect("bootstrap account listed");
    assert!(me["last_used"].is_string(), "{me}");
    assert_eq!(me["org_role"], "owner");
}

#[tokio::test]
async fn each_role_lacking_a_right_is_refused_with_403() {
    let emu = Emulator::spawn(BIN);
    let g = emu.bootstrap("Globex", "admin");
    let org = g.org_id;
    let admin = Api::new(&emu, &g);
    let project = admin.create_project(org, "globex-prod").await;
    let (an_id, an_user, an_secret) = admin.create_sa(org, "analyst-bot", "analyst").await;
    let (_, co_user, co_secret) = admin.create_sa(org, "consumer-bot", "consumer").await;
    let analyst = Api::with(&emu.url, &an_user, &an_secret);
    let consumer = Api::with(&emu.url, &co_user, &co_secret);
    let tz = admin.timezone_id("UTC").await;

    // Analysts and consumers are organization members: no organization rights.
    for (who, api) in [("analyst", &analyst), ("consumer", &consumer)] {
        let refused = [
            api.post(
                &format!("/api/app/organizations/{org}/create-project"),
                json!({"project_name": "x", "cluster_id": 1, "timezone_id": tz}),
            )
            .await,
            api.post(
                &format!("/organizations/{org}/add-teams/"),
                json!({"teamNames": ["t"]}),
            )
            .await,
            api.post(
                &format!("/organizations/{org}/add-users/"),
                json!({"emails": ["new@globex.example"], "role": "member"}),
            )
            .await,
            api.post(
                &format!("/api/app/organizations/{org}/service-accounts"),
                json!({"username": "y", "role": "consumer"}),
            )
            .await,
            api.post(
                &format!("/api/app/organizations/{org}/audit-logs"),
                json!({}),
            )
            .await,
        ];
        for a in refused {
            assert_eq!(a.status, 403, "{who}: {}", a.body);
            assert!(
                a.error().contains("organization role owner or admin"),
                "{who}: {}",
                a.error()
            );
        }
        // No role on the project: no metadata either.
        let a = api
            .get(&format!("/settings/project/{project}/metadata"))
            .await;
        assert_eq!(a.status, 403, "{who}: {}", a.body);
    }

    // An analyst grant lets the analyst read the project but not its credentials or users.
    admin
        .ok_post(
            &format!("/api/app/organizations/{org}/service-accounts/add-to-project"),
            json!({"service_account_ids": [an_id], "projects": [{"id": project, "role": "analyst"}]}),
        )
        .await;
    let meta = analyst
        .ok_get(&format!("/settings/project/{project}/metadata"))
        .await;
    assert_eq!(meta["token"], Value::Null);
    assert!(meta.get("secret").is_none() || meta["secret"].is_null());
    let a = analyst
        .post(
            &format!("/projects/update/{project}"),
            json!({"name": "renamed"}),
        )
        .await;
    assert_eq!(a.status, 403, "{}", a.body);
    let a = analyst
        .post(
            &format!("/api/app/projects/{project}/default-access"),
            json!({"role": "consumer"}),
        )
        .await;
    assert_eq!(a.status, 403, "{}", a.body);

    // An admin may not delete a project, reset its secret or token, or assign owner.
    let a = admin
        .post(
            &format!("/organizations/{org}/delete-projects/"),
            json!({"projectIds": [project]}),
        )
        .await;
    assert_eq!(a.status, 403, "{}", a.body);
    assert!(a.error().contains("project role owner"), "{}", a.error());
    for path in ["reset-secret", "reset-token"] {
        let a = admin
            .post(&format!("/api/app/projects/{project}/{path}"), json!({}))
            .await;
        assert_eq!(a.status, 403, "{path}: {}", a.body);
    }
    let a = admin
        .post(
            &format!("/organizations/{org}/add-users/"),
            json!({"emails": ["boss@globex.example"], "role": "owner"}),
        )
        .await;
    assert_eq!(a.status, 403, "{}", a.body);
    assert!(
        a.error().contains("Only an organization owner"),
        "{}",
        a.error()
    );
    let a = admin
        .post(
            &format!("/organizations/{org}/users/{}/update/", g.owner_email),
            json!({"role": "member"}),
        )
        .await;
    assert_eq!(a.status, 403, "an admin cannot demote an owner: {}", a.body);
    admin
        .ok_post(
            &format!("/organizations/{org}/add-users/"),
            json!({"emails": ["ann@globex.example"], "role": "member"}),
        )
        .await;
    let a = admin
        .post(
            &format!("/organizations/{org}/users/ann@globex.example/update/"),
            json!({"role": "owner"}),
        )
        .await;
    assert_eq!(a.status, 403, "{}", a.body);
    let a = admin
        .post(
            &format!("/organizations/{org}/add-users-to-projects/"),
            json!({"users": ["ann@globex.example"], "projects": [project], "role": "owner"}),
        )
        .await;
    assert_eq!(a.status, 403, "{}", a.body);
    assert!(a.error().contains("Only a project owner"), "{}", a.error());
    let a = admin
        .post(
            &format!("/api/app/projects/{project}/default-access"),
            json!({"role": "owner"}),
        )
        .await;
    assert_eq!(a.status, 403, "{}", a.body);
    let team = admin.create_team(org, "Ops").await;
    let a = admin
        .post(
            &format!("/organizations/{org}/add-projects-to-teams/"),
            json!({"teams": [{"id": team, "projects": [{"id": project, "role": "owner"}]}]}),
        )
        .await;
    assert_eq!(a.status, 403, "{}", a.body);
    // Nothing of the refused requests was written.
    let grants = admin
        .ok_get(&format!("/api/app/projects/{project}/granted-teams"))
        .await;
    assert_eq!(grants, json!([]));

    // What an admin may do, it does.
    admin
        .ok_post(
            &format!("/organizations/{org}/add-users-to-projects/"),
            json!({"users": ["ann@globex.example"], "projects": [project], "role": "admin"}),
        )
        .await;
    let a = admin
        .post(
            &format!("/api/app/organizations/{org}/service-accounts"),
            json!({"username": "peer", "role": "admin"}),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
}

#[tokio::test]
async fn another_organization_is_out_of_reach() {
    let emu = Emulator::spawn(BIN);
    let acme = emu.bootstrap("Acme", "owner");
    let globex = emu.bootstrap("Globex", "owner");
    let a = Api::new(&emu, &acme);
    let g = Api::new(&emu, &globex);
    let gp = g.create_project(globex.org_id, "globex").await;
    for path in [
        format!("/api/app/organizations/{}/service-accounts", globex.org_id),
        format!("/organizations/{}/teams/", globex.org_id),
        format!("/organizations/{}/users/", globex.org_id),
        format!("/settings/project/{gp}/metadata"),
        format!("/api/app/projects/{gp}/service-accounts"),
    ] {
        let r = a.get(&path).await;
        assert_eq!(r.status, 403, "{path}: {}", r.body);
    }
    let r = a.get("/settings/project/999999/metadata").await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn an_organization_keeps_its_last_owner() {
    let emu = Emulator::spawn(BIN);
    let b = emu.bootstrap("Acme", "owner");
    let org = b.org_id;
    let api = Api::new(&emu, &b);
    let update = format!("/organizations/{org}/users/{}/update/", b.owner_email);
    let a = api.post(&update, json!({"role": "admin"})).await;
    assert_eq!(a.status, 409, "{}", a.body);
    assert!(a.error().contains("at least one owner"), "{}", a.error());
    let a = api
        .post(
            &format!("/organizations/{org}/delete-users/"),
            json!({"emails": [b.owner_email]}),
        )
        .await;
    assert_eq!(a.status, 409, "{}", a.body);

    // An invited owner does not count until they accept.
    api.ok_post(
        &format!("/organizations/{org}/add-users/"),
        json!({"emails": ["second@acme.example"], "role": "owner"}),
    )
    .await;
    let a = api.post(&update, json!({"role": "admin"})).await;
    assert_eq!(a.status, 409, "{}", a.body);
    let a = http::admin(
        &emu.url,
        reqwest::Method::POST,
        "/_emulator/users/second@acme.example/activate",
        None,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let r = api.ok_post(&update, json!({"role": "admin"})).await;
    assert_eq!(r["updated"], true);
    let users = api.ok_get(&format!("/organizations/{org}/users/")).await;
    let owners: Vec<&Value> = users
        .as_array()
        .expect("users")
        .iter()
        .filter(|u| u["role"] == "owner")
        .collect();
    assert_eq!(owners.len(), 1);
    assert_eq!(owners[0]["email"], "second@acme.example");
    assert_eq!(owners[0]["status"], "active");
    assert!(owners[0]["last_login"].is_string());
}

#[tokio::test]
async fn access_requires_organization_membership() {
    let emu = Emulator::spawn(BIN);
    let b = emu.bootstrap("Acme", "owner");
    let org = b.org_id;
    let api = Api::new(&emu, &b);
    let p = api.create_project(org, "prod").await;
    let team = api.create_team(org, "Data").await;
    let a = api
        .post(
            &format!("/organizations/{org}/add-users-to-projects/"),
            json!({"users": ["stranger@else.example"], "projects": [p], "role": "analyst"}),
        )
        .await;
    assert_eq!(a.status, 400, "{}", a.body);
    assert!(
        a.error().contains("not a member of the organization"),
        "{}",
        a.error()
    );
    let a = api
        .post(
            &format!("/organizations/{org}/add-users-to-teams/"),
            json!({"teams": [{"id": team, "users": ["stranger@else.example"]}]}),
        )
        .await;
    assert_eq!(a.status, 400, "{}", a.body);
    assert!(a.error().contains("invite them"), "{}", a.error());

    // Once invited, the same calls work; removing the member removes their access.
    api.ok_post(
        &format!("/organizations/{org}/add-users/"),
        json!({"emails": ["stranger@else.example"], "role": "member"}),
    )
    .await;
    api.ok_post(
        &format!("/organizations/{org}/add-users-to-projects/"),
        json!({"users": ["stranger@else.example"], "projects": [p], "role": "analyst"}),
    )
    .await;
    api.ok_post(
        &format!("/organizations/{org}/add-users-to-teams/"),
        json!({"teams": [{"id": team, "users": ["stranger@else.example"]}]}),
    )
    .await;
    let grants = api
        .ok_get(&format!("/api/app/projects/{p}/granted-users"))
        .await;
    assert_eq!(grants.as_array().expect("grants").len(), 1);
    api.ok_post(
        &format!("/organizations/{org}/delete-users/"),
        json!({"emails": ["stranger@else.example"]}),
    )
    .await;
    assert_eq!(
        api.ok_get(&format!("/api/app/projects/{p}/granted-users"))
            .await,
        json!([])
    );
    let teams = api.ok_get(&format!("/organizations/{org}/teams/")).await;
    assert_eq!(teams[0]["members"], json!([]));
    // One audit event per affected object: the membership, the grant, the team seat.
    let log = api
        .post(
            &format!("/api/app/organizations/{org}/audit-logs"),
            json!({}),
        )
        .await;
    let mut kinds: Vec<&str> = log.body["results"]
        .as_array()
        .expect("results")
        .iter()
        .take(3)
        .map(|e| e["entity"]["type"].as_str().expect("type"))
        .collect();
    kinds.sort_unstable();
    assert_eq!(
        kinds,
        vec![
            "organization.user_removed",
            "project.user_removed",
            "team.user_removed"
        ]
    );
}

#[tokio::test]
async fn service_accounts_are_never_owners() {
    let emu = Emulator::spawn(BIN);
    let b = emu.bootstrap("Acme", "owner");
    let org = b.org_id;
    let api = Api::new(&emu, &b);
    let p = api.create_project(org, "prod").await;
    let a = api
        .post(
            &format!("/api/app/organizations/{org}/service-accounts"),
            json!({"username": "boss", "role": "owner"}),
        )
        .await;
    assert_eq!(a.status, 400, "{}", a.body);
    assert!(a.error().contains("cannot be owners"), "{}", a.error());
    let (sa, _, _) = api.create_sa(org, "etl", "analyst").await;
    let a = api
        .post(
            &format!("/api/app/organizations/{org}/service-accounts/add-to-project"),
            json!({"service_account_ids": [sa], "projects": [{"id": p, "role": "owner"}]}),
        )
        .await;
    assert_eq!(a.status, 400, "{}", a.body);
    // Nor through a team: a team holding owner takes no service accounts, and a team with
    // service accounts is not granted owner.
    let owners = api.create_team(org, "Owners").await;
    api.ok_post(
        &format!("/organizations/{org}/add-projects-to-teams/"),
        json!({"teams": [{"id": owners, "projects": [{"id": p, "role": "owner"}]}]}),
    )
    .await;
    let a = api
        .post(
            &format!("/api/app/organizations/{org}/teams/{owners}/service-accounts/add-to-team"),
            json!({"service_account_ids": [sa]}),
        )
        .await;
    assert_eq!(a.status, 400, "{}", a.body);
    // Nor through the all-users default role, which service accounts receive too.
    let a = api
        .post(
            &format!("/api/app/projects/{p}/default-access"),
            json!({"role": "owner"}),
        )
        .await;
    assert_eq!(a.status, 400, "{}", a.body);
    let bots = api.create_team(org, "Bots").await;
    let a = api
        .post(
            &format!("/api/app/organizations/{org}/teams/{bots}/service-accounts/add-to-team"),
            json!({"service_account_ids": [sa]}),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
    let a = api
        .post(
            &format!("/organizations/{org}/add-projects-to-teams/"),
            json!({"teams": [{"id": bots, "projects": [{"id": p, "role": "owner"}]}]}),
        )
        .await;
    assert_eq!(a.status, 400, "{}", a.body);
}

#[tokio::test]
async fn effective_access_is_the_strongest_source() {
    let emu = Emulator::spawn(BIN);
    let b = emu.bootstrap("Acme", "owner");
    let org = b.org_id;
    let api = Api::new(&emu, &b);
    let p = api.create_project(org, "prod").await;
    let (sa, user, secret) = api.create_sa(org, "reporter", "consumer").await;
    let reporter = Api::with(&emu.url, &user, &secret);
    let members = |v: &Value| -> Option<(String, String)> {
        v.as_array()
            .expect("members")
            .iter()
            .find(|m| m["id"] == sa)
            .map(|m| {
                (
                    m["role"].as_str().expect("role").to_string(),
                    m["target_type"].as_str().expect("target").to_string(),
                )
            })
    };
    let list = format!("/api/app/projects/{p}/service-accounts");
    assert_eq!(members(&api.ok_get(&list).await), None);
    // The bootstrap owner holds owner through its organization role.
    let all = api.ok_get(&list).await;
    assert!(all
        .as_array()
        .expect("list")
        .iter()
        .any(|m| m["id"] == b.sa_id && m["role"] == "owner" && m["target_type"] == "organization"));

    api.ok_post(
        &format!("/api/app/organizations/{org}/service-accounts/add-to-project"),
        json!({"service_account_ids": [sa], "projects": [{"id": p, "role": "consumer"}]}),
    )
    .await;
    assert_eq!(
        members(&api.ok_get(&list).await),
        Some(("consumer".into(), "individual".into()))
    );
    let team = api.create_team(org, "Admins").await;
    api.ok_post(
        &format!("/organizations/{org}/add-projects-to-teams/"),
        json!({"teams": [{"id": team, "projects": [{"id": p, "role": "admin"}]}]}),
    )
    .await;
    api.ok_post(
        &format!("/api/app/organizations/{org}/teams/{team}/service-accounts/add-to-team"),
        json!({"service_account_ids": [sa]}),
    )
    .await;
    assert_eq!(
        members(&api.ok_get(&list).await),
        Some(("admin".into(), "team".into()))
    );
    // Roles add up: through the team the consumer account now sees the credentials.
    let meta = reporter
        .ok_get(&format!("/settings/project/{p}/metadata"))
        .await;
    assert!(
        meta["token"].is_string() && meta["secret"].is_string(),
        "{meta}"
    );
    let me = reporter.ok_get("/api/app/me").await;
    assert_eq!(me["projects"][p.to_string()]["role"]["name"], "admin");
    assert_eq!(me["organizations"][org.to_string()]["role"], "member");

    // Without individual or team grants, the all-users default role still gives access.
    api.ok_post(
        &format!("/api/app/organizations/{org}/teams/{team}/service-accounts/remove-from-team"),
        json!({"service_account_ids": [sa]}),
    )
    .await;
    api.ok_post(
        &format!("/api/app/organizations/{org}/service-accounts/remove-from-project"),
        json!({"projects": [{"id": p, "service_account_ids": [sa]}]}),
    )
    .await;
    assert_eq!(members(&api.ok_get(&list).await), None);
    api.ok_post(
        &format!("/api/app/projects/{p}/default-access"),
        json!({"role": "analyst"}),
    )
    .await;
    assert_eq!(
        members(&api.ok_get(&list).await),
        Some(("analyst".into(), "organization".into()))
    );
    let r = api
        .ok_get(&format!("/api/app/projects/{p}/default-access"))
        .await;
    assert_eq!(r["role"], "analyst");
    let projects = api.ok_get(&format!("/organizations/{org}/projects/")).await;
    assert_eq!(projects[0]["default_role"], "analyst");
    assert_eq!(projects[0]["domain"], "mixpanel.com");
    assert!(projects[0]["api_secret"].is_string());
}

#[tokio::test]
async fn malformed_bodies_are_400s_that_name_the_field() {
    let emu = Emulator::spawn(BIN);
    let b = emu.bootstrap("Acme", "owner");
    let org = b.org_id;
    let api = Api::new(&emu, &b);
    let p = api.create_project(org, "prod").await;
    let sas = format!("/api/app/organizations/{org}/service-accounts");
    let cases = [
        (
            sas.clone(),
            json!({"role": "analyst"}),
            "missing field `username`",
        ),
        (
            sas.clone(),
            json!({"username": "x", "role": "boss"}),
            "role: unknown project role \"boss\"",
        ),
        (
            sas.clone(),
            json!({"username": "has space", "role": "analyst"}),
            "username:",
        ),
        (
            format!("/api/app/organizations/{org}/service-accounts/add-to-project"),
            json!({"service_account_ids": [1], "projects": [{"id": "7", "role": "analyst"}]}),
            "projects[0].id",
        ),
        (
            format!("/api/app/organizations/{org}/create-project"),
            json!({"project_name": "x", "cluster_id": 2, "timezone_id": 1}),
            "cluster_id:",
        ),
        (
            format!("/api/app/organizations/{org}/create-project"),
            json!({"project_name": "x", "cluster_id": 1, "timezone_id": 999999}),
            "timezone_id:",
        ),
        (
            format!("/organizations/{org}/add-users/"),
            json!({"emails": ["not-an-email"], "role": "member"}),
            "emails[0]: invalid email",
        ),
        (
            format!("/organizations/{org}/add-users/"),
            json!({"emails": ["a@b.example"], "role": "Admin"}),
            "valid values are: owner, admin, billing_admin, member",
        ),
    ];
    for (path, body, needle) in cases {
        let a = api.post(&path, body.clone()).await;
        assert_eq!(a.status, 400, "{path} {body}: {}", a.body);
        assert!(a.error().contains(needle), "{path} {body}: {}", a.error());
    }
    let a = api.post(&sas, Value::Null).await;
    assert_eq!(a.status, 400);
    let r = reqwest::Client::new()
        .post(format!("{}{sas}", emu.url))
        .basic_auth(&b.username, Some(&b.secret))
        .send()
        .await
        .expect("empty");
    assert_eq!(r.status().as_u16(), 400);

    // Residency never changes; the time zone must be IANA.
    let update = |form: &'static str| {
        reqwest::Client::new()
            .post(format!("{}/projects/update/{p}", emu.url))
            .basic_auth(&b.username, Some(&b.secret))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
    };
    let r = update("cluster_id=5").await.expect("update");
    assert_eq!(r.status().as_u16(), 400);
    let body: Value = r.json().await.expect("json");
    assert!(body["error"]
        .as_str()
        .expect("error")
        .contains("data residency cannot change"));
    let r = update("data_residency=us&name=kept").await.expect("update");
    assert_eq!(r.status().as_u16(), 200);
    let r = update("timezone=Mars%2FOlympus").await.expect("update");
    assert_eq!(r.status().as_u16(), 400);
    let r = update("timezone=Europe%2FBerlin").await.expect("update");
    assert_eq!(r.status().as_u16(), 200);
    let meta = api.ok_get(&format!("/settings/project/{p}/metadata")).await;
    assert_eq!(meta["name"], "kept");
    assert_eq!(meta["timezone_name"], "Europe/Berlin");

    // Credentials validation, with upstream's messages.
    let v = "/api/app/validate-project-credentials";
    let a = api.post(v, json!({"api_secret": "x"})).await;
    assert_eq!(a.error(), "Missing param: project_token");
    let a = api
        .post(v, json!({"project_token": "nope", "api_secret": "x"}))
        .await;
    assert_eq!((a.status, a.error()), (400, "Invalid project token"));
    let a = api
        .post(
            v,
            json!({"project_token": meta["token"], "api_secret": "x"}),
        )
        .await;
    assert_eq!((a.status, a.error()), (400, "Invalid API secret"));
    let r = api
        .ok_post(
            v,
            json!({"project_token": meta["token"], "api_secret": meta["secret"]}),
        )
        .await;
    assert_eq!(r["status"], "success");
}

#[tokio::test]
async fn the_audit_log_records_every_change_and_pages_with_a_cursor() {
    let emu = Emulator::spawn(BIN);
    let b = emu.bootstrap("Acme", "owner");
    let org = b.org_id;
    let api = Api::new(&emu, &b);
    let p = api.create_project(org, "prod").await;
    let (sa, _, _) = api.create_sa(org, "etl", "analyst").await;
    api.ok_post(
        &format!("/api/app/organizations/{org}/service-accounts/add-to-project"),
        json!({"service_account_ids": [sa], "projects": [{"id": p, "role": "consumer"}]}),
    )
    .await;
    api.ok_post(
        &format!("/api/app/organizations/{org}/service-accounts/add-to-project"),
        json!({"service_account_ids": [sa], "projects": [{"id": p, "role": "analyst"}]}),
    )
    .await;
    let team = api.create_team(org, "Data").await;
    api.ok_post(
        &format!("/organizations/{org}/teams/{team}/update/"),
        json!({"name": "Data Eng"}),
    )
    .await;
    api.ok_post(
        &format!("/organizations/{org}/add-users/"),
        json!({"emails": ["ann@acme.example", "bob@acme.example"], "role": "member"}),
    )
    .await;
    api.ok_post(&format!("/api/app/projects/{p}/reset-secret"), json!({}))
        .await;
    let a = api
        .send(
            reqwest::Method::DELETE,
            &format!("/api/app/organizations/{org}/service-accounts/remove-from-project"),
            Some(json!({"projects": [{"id": p, "service_account_ids": [sa]}]})),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let a = api
        .delete(&format!(
            "/api/app/organizations/{org}/service-accounts/{sa}"
        ))
        .await;
    assert_eq!(
        (a.status, a.body.clone()),
        (200, json!({"status": "ok", "results": {}}))
    );

    let logs = format!("/api/app/organizations/{org}/audit-logs");
    let all = api.post(&logs, json!({})).await;
    assert_eq!(all.status, 200);
    assert_eq!(all.body["status"], "ok");
    let kinds: Vec<&str> = all.body["results"]
        .as_array()
        .expect("results")
        .iter()
        .rev()
        .filter(|e| e["user_email"] == b.username.as_str())
        .map(|e| e["entity"]["type"].as_str().expect("type"))
        .collect();
    assert_eq!(
        kinds,
        vec![
            "project.created",
            "service_account.created",
            "service_account.added_to_project",
            "service_account.role_changed",
            "team.created",
            "team.updated",
            "organization.user_added",
            "organization.user_added",
            "project.secret_reset",
            "service_account.removed_from_project",
            "service_account.deleted",
        ]
    );
    // The secret never reaches the log.
    assert!(!all.body.to_string().contains("\"secret\":"));

    // Filters: by type and by project, and created_gte.
    let r = api
        .post(&logs, json!({"types": ["organization.user_added"]}))
        .await;
    // Two invitations plus the bootstrap owner.
    assert_eq!(r.body["results"].as_array().expect("results").len(), 3);
    let pid = json!(p.to_string());
    let r = api.post(&logs, json!({ "project_ids": [pid] })).await;
    assert!(r.body["results"]
        .as_array()
        .expect("results")
        .iter()
        .all(|e| e["project_id"] == pid));
    assert_eq!(r.body["results"].as_array().expect("results").len(), 5);
    // Mixpanel's filter takes project ids as strings and nothing it does not list.
    for refused in [
        json!({"project_ids": [p]}),
        json!({"limit": 3}),
        json!({"cursor": "x"}),
    ] {
        let a = api.post(&logs, refused.clone()).await;
        assert_eq!(a.status, 400, "{refused}: {}", a.body);
    }
    let r = api
        .post(&logs, json!({"created_gte": "2999-01-01T00:00:00Z"}))
        .await;
    assert_eq!(r.body["results"], json!([]));

    // Paging: three entries a page (the emulator's setting), newest first, by created_lte
    // windows: no entry twice, none left out, the last page without a next cursor.
    let set = http::admin(
        &emu.url,
        reqwest::Method::POST,
        "/_emulator/settings",
        Some(json!({"audit_page_size": 3})),
    )
    .await;
    assert_eq!(set.status, 200, "{}", set.body);
    let mut seen: Vec<String> = Vec::new();
    let mut lte: Option<String> = None;
    let mut pages = 0;
    loop {
        let q = match &lte {
            Some(t) => json!({ "created_lte": t }),
            None => json!({}),
        };
        let r = api.post(&logs, q).await;
        assert_eq!(r.status, 200, "{}", r.body);
        pages += 1;
        let entries = r.body["results"].as_array().expect("results").clone();
        assert!(entries.len() <= 3);
        for e in &entries {
            let id = e["id"].as_str().expect("string id").to_string();
            if !seen.contains(&id) {
                seen.push(id);
            }
        }
        if r.body["pagination"]["next_cursor"].is_null() {
            break;
        }
        lte = entries
            .last()
            .and_then(|e| e["created"].as_str())
            .map(str::to_string);
        assert!(pages < 50, "paging does not end");
    }
    let total = all.body["results"].as_array().expect("results").len();
    assert_eq!(seen.len(), total);
}
