//! The shared API client against a running emulator over HTTP: every route, its success and
//! its error path.

use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_mixpanel-emulator");

use mixpanel_access::api::{wire, ApiError, Client, ClientConfig};
use mixpanel_access::model::*;
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use testkit::emulator::{Creds as Bootstrap, Emulator};

fn client_for(emu: &Emulator, username: &str, secret: &str) -> Client {
    let mut cfg = ClientConfig::new(&emu.url, username, SecretString::from(secret.to_string()))
        .expect("config");
    cfg.min_backoff = Duration::from_millis(5);
    cfg.max_backoff = Duration::from_millis(50);
    cfg.max_retries = 8;
    Client::new(cfg).expect("client")
}

fn client(emu: &Emulator, b: &Bootstrap) -> Client {
    client_for(emu, &b.username, &b.secret)
}

fn email(s: &str) -> Email {
    s.parse().expect("email")
}

async fn admin_post(emu: &Emulator, path: &str, body: Value) {
    let r = reqwest::Client::new()
        .post(format!("{}{path}", emu.url))
        .json(&body)
        .send()
        .await
        .expect("admin request");
    assert!(r.status().is_success(), "{path}: {}", r.status());
}

async fn admin_put(emu: &Emulator, path: &str, body: Value) {
    let r = reqwest::Client::new()
        .put(format!("{}{path}", emu.url))
        .json(&body)
        .send()
        .await
        .expect("admin request");
    assert!(r.status().is_success(), "{path}: {}", r.status());
}

async fn counters(emu: &Emulator) -> Value {
    reqwest::get(format!("{}/_emulator/counters", emu.url))
        .await
        .expect("counters")
        .json::<Value>()
        .await
        .expect("counters json")["results"]
        .clone()
}

fn count(c: &Value, route: &str, method: &str) -> u64 {
    c[route][method].as_u64().unwrap_or(0)
}

async fn new_project(c: &Client, org: OrgId, name: &str) -> ProjectId {
    c.create_project(
        org,
        name,
        DataResidency::Eu,
        &"Europe/Paris".parse().expect("tz"),
    )
    .await
    .expect("create project")
}

#[tokio::test]
async fn me_and_organization_discovery() {
    let emu = Emulator::spawn(BIN);
    let b = emu.bootstrap("Acme", "owner");
    let c = client(&emu, &b);
    let me = c.me().await.expect("me");
    assert!(me.user_email.contains(&b.username), "{}", me.user_email);
    assert_eq!(
        c.discover_organization().await.expect("org"),
        OrgId(b.org_id)
    );

    let bad = client_for(&emu, &b.username, "wrong-secret");
    let err = bad.me().await.unwrap_err();
    assert!(matches!(err, ApiError::Unauthorized { .. }), "{err}");
    assert!(err.to_string().contains("check the full username"), "{err}");
    assert!(!err.to_string().contains("wrong-secret"));
}

#[tokio::test]
async fn service_account_routes() {
    let emu = Emulator::spawn(BIN);
    let b = emu.bootstrap("Acme", "owner");
    let c = client(&emu, &b);
    let org = OrgId(b.org_id);
    let p = new_project(&c, org, "warehouse").await;

    let created = c
        .create_service_account(
            org,
            &wire::CreateServiceAccount {
                username: "etl".into(),
                role: ProjectRole::Analyst,
                expires: Some("2099-01-01T00:00:00Z".parse().expect("expiry")),
                projects: vec![ProjectRoleGrant {
                    id: p,
                    role: ProjectRole::Consumer,
                }],
            },
        )
        .await
        .expect("create sa");
    let sa = created.account.id;
    assert_eq!(created.account.username.base_name(), "etl");
    assert!(!created.secret.expose_secret().is_empty());
    assert!(!format!("{created:?}").contains(created.secret.expose_secret()));

    // The new secret works.
    let etl = client_for(
        &emu,
        created.account.username.as_str(),
        created.secret.expose_secret(),
    );
    etl.me().await.expect("new account authenticates");

    let all = c.list_service_accounts(org).await.expect("list");
    assert!(all
        .iter()
        .any(|a| a.id == sa && a.role == Some(ProjectRole::Analyst)));
    let one = c.get_service_account(org, sa).await.expect("get");
    assert_eq!(one.username, created.account.username);

    let members = c
        .list_project_service_accounts(p)
        .await
        .expect("project list");
    let m = members.iter().find(|m| m.account.id == sa).expect("member");
    assert_eq!(m.project_role, ProjectRole::Consumer);
    assert_eq!(m.target_type, TargetType::Individual);

    // add-to-project also changes the role.
    c.add_service_accounts_to_projects(
        org,
        &[sa],
        &[ProjectRoleGrant {
            id: p,
            role: ProjectRole::Analyst,
        }],
    )
    .await
    .expect("role change");
    let members = c
        .list_project_service_accounts(p)
        .await
        .expect("project list");
    assert_eq!(
        members
            .iter()
            .find(|m| m.account.id == sa)
            .map(|m| m.project_role),
        Some(ProjectRole::Analyst)
    );

    // Teams.
    let team = c.create_team(org, "Pipelines").await.expect("team");
    c.add_service_accounts_to_team(org, team.id, &[sa])
        .await
        .expect("add to team");
    let in_team = c
        .list_team_service_accounts(org, team.id)
        .await
        .expect("team list");
    assert_eq!(in_team.iter().map(|a| a.id).collect::<Vec<_>>(), vec![sa]);
    c.remove_service_accounts_from_team(org, team.id, &[sa])
        .await
        .expect("remove from team");
    assert!(c
        .list_team_service_accounts(org, team.id)
        .await
        .expect("team list")
        .is_empty());

    // remove-from-project is POST; where POST answers 405 the client falls back to DELETE.
    admin_put(
        &emu,
        "/_emulator/faults",
        json!({"force_405": ["remove_service_accounts_from_projects"]}),
    )
    .await;
    c.remove_service_accounts_from_projects(org, p, &[sa])
        .await
        .expect("remove with DELETE fallback");
    let cn = counters(&emu).await;
    assert!(count(&cn, "remove_service_accounts_from_projects", "POST") >= 1);
    assert_eq!(
        count(&cn, "remove_service_accounts_from_projects", "DELETE"),
        1
    );
    assert!(!c
        .list_project_service_accounts(p)
        .await
        .expect("list")
        .iter()
        .any(|m| m.account.id == sa));
    reqwest::Client::new()
        .delete(format!("{}/_emulator/faults", emu.url))
        .send()
        .await
        .expect("clear faults");

    // Error paths.
    let err = c
        .create_service_account(
            org,
            &wire::CreateServiceAccount {
                username: "boss".into(),
                role: ProjectRole::Owner,
                expires: None,
                projects: vec![],
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400), "{err}");
    assert!(err.to_string().contains("cannot be owners"), "{err}");
    let err = c
        .add_service_accounts_to_projects(
            org,
            &[sa],
            &[ProjectRoleGrant {
                id: ProjectId(999_999),
                role: ProjectRole::Analyst,
            }],
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(404), "{err}");

    c.delete_service_account(org, sa).await.expect("delete");
    let err = c.get_service_account(org, sa).await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
    let err = c.delete_service_account(org, sa).await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
    let err = etl.me().await.unwrap_err();
    assert!(matches!(err, ApiError::Unauthorized { .. }), "{err}");
}

#[tokio::test]
async fn project_routes() {
    let emu = Emulator::spawn(BIN);
    let b = emu.bootstrap("Acme", "owner");
    let c = client(&emu, &b);
    let org = OrgId(b.org_id);

    let zones = c.list_timezones().await.expect("timezones");
    assert!(zones.iter().any(|z| z.1 == "America/New_York"));

    let p = new_project(&c, org, "analytics-dev").await;
    let meta = c.project_metadata(p).await.expect("metadata");
    assert_eq!(meta.name, "analytics-dev");
    assert_eq!(meta.domain, "eu.mixpanel.com");
    assert_eq!(meta.timezone_name, "Europe/Paris");
    assert!(meta.token.is_some() && meta.secret.is_some());

    c.update_project(
        p,
        Some("analytics-staging"),
        Some(&"Asia/Tokyo".parse().expect("tz")),
    )
    .await
    .expect("update");
    let list = c.list_projects(org).await.expect("projects");
    let got = list.iter().find(|x| x.id == p).expect("listed");
    assert_eq!(got.name, "analytics-staging");
    assert_eq!(got.timezone.as_str(), "Asia/Tokyo");
    assert_eq!(got.data_residency, DataResidency::Eu);

    // Default "all users" role (emulator only).
    assert_eq!(c.get_default_access(p).await.expect("get default"), None);
    c.set_default_access(p, Some(ProjectRole::Consumer))
        .await
        .expect("set default");
    assert_eq!(
        c.get_default_access(p).await.expect("get default"),
        Some(ProjectRole::Consumer)
    );

    // Secret and token resets (emulator only) and credential validation.
    let token = meta.token.clone().expect("token");
    let old_secret = meta.secret.clone().expect("secret");
    assert!(c
        .validate_project_credentials(&token, &old_secret)
        .await
        .expect("validate"));
    let new_secret = c.reset_project_secret(p).await.expect("reset secret");
    assert_ne!(new_secret.expose_secret(), old_secret.expose_secret());
    assert!(!c
        .validate_project_credentials(&token, &old_secret)
        .await
        .expect("validate old"));
    assert!(c
        .validate_project_credentials(&token, &new_secret)
        .await
        .expect("validate new"));
    let new_token = c.reset_project_token(p).await.expect("reset token");
    assert_ne!(new_token, token);

    // Errors: an unknown project, an admin deleting a project, another organization.
    let err = c
        .update_project(ProjectId(424_242), Some("x"), None)
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
    let err = c.project_metadata(ProjectId(424_242)).await.unwrap_err();
    assert!(err.is_not_found(), "{err}");

    let admin = emu.bootstrap("Globex", "admin");
    let ac = client(&emu, &admin);
    let ap = new_project(&ac, OrgId(admin.org_id), "globex-prod").await;
    let err = ac
        .delete_project(OrgId(admin.org_id), ap)
        .await
        .unwrap_err();
    assert!(matches!(err, ApiError::Forbidden { .. }), "{err}");
    assert!(err.to_string().contains("project role owner"), "{err}");
    let err = ac.reset_project_secret(ap).await.unwrap_err();
    assert_eq!(err.status(), Some(403), "{err}");
    // Another organization's project is not reachable.
    let err = ac.project_metadata(p).await.unwrap_err();
    assert!(matches!(err.status(), Some(403) | Some(404)), "{err}");

    c.delete_project(org, p).await.expect("delete");
    assert!(!c
        .list_projects(org)
        .await
        .expect("projects")
        .iter()
        .any(|x| x.id == p));
}

#[tokio::test]
async fn team_member_and_grant_routes() {
    let emu = Emulator::spawn(BIN);
    let b = emu.bootstrap("Acme", "owner");
    let c = client(&emu, &b);
    let org = OrgId(b.org_id);
    let p = new_project(&c, org, "prod").await;
    let ana = email("ana@acme.example");
    let bob = email("bob@acme.example");

    // Organization users.
    c.invite_org_users(org, &[ana.clone(), bob.clone()], OrgRole::Member)
        .await
        .expect("invite");
    let users = c.list_org_users(org).await.expect("users");
    let a = users.iter().find(|u| u.email == ana).expect("ana");
    assert_eq!(a.status, MemberStatus::Invited);
    assert_eq!(a.role, OrgRole::Member);
    c.update_org_user_role(org, &bob, OrgRole::Admin)
        .await
        .expect("promote");
    assert_eq!(
        c.list_org_users(org)
            .await
            .expect("users")
            .iter()
            .find(|u| u.email == bob)
            .map(|u| u.role),
        Some(OrgRole::Admin)
    );
    let err = c
        .invite_org_users(org, std::slice::from_ref(&ana), OrgRole::Member)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(409), "{err}");

    // Teams.
    let team = c.create_team(org, "Analysts").await.expect("team");
    let err = c.create_team(org, "Analysts").await.unwrap_err();
    assert!(matches!(err, ApiError::Conflict { .. }), "{err}");
    c.rename_team(org, team.id, "Data Analysts")
        .await
        .expect("rename");
    c.add_projects_to_team(
        org,
        team.id,
        &[ProjectRoleGrant {
            id: p,
            role: ProjectRole::Analyst,
        }],
    )
    .await
    .expect("team project");
    c.add_users_to_team(org, team.id, std::slice::from_ref(&ana))
        .await
        .expect("team member");
    let teams = c.list_teams(org).await.expect("teams");
    let t = teams.iter().find(|t| t.id == team.id).expect("team listed");
    assert_eq!(t.name, "Data Analysts");
    assert_eq!(t.members, vec![ana.clone()]);
    assert_eq!(
        t.projects,
        vec![ProjectRoleGrant {
            id: p,
            role: ProjectRole::Analyst
        }]
    );
    let err = c
        .add_users_to_team(org, team.id, &[email("stranger@else.example")])
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400), "{err}");
    assert!(err.to_string().contains("not a member"), "{err}");

    // Individual project grants.
    c.add_users_to_projects(org, std::slice::from_ref(&ana), &[p], ProjectRole::Consumer)
        .await
        .expect("grant");
    let grants = c.granted_users(p).await.expect("granted users");
    assert!(grants.iter().any(|g| g.email == ana
        && g.role == ProjectRole::Consumer
        && g.target_type == TargetType::Individual));
    assert!(grants.iter().any(|g| g.email == ana
        && g.role == ProjectRole::Analyst
        && g.target_type == TargetType::Team
        && g.team_id == Some(team.id)));
    let tg = c.granted_teams(p).await.expect("granted teams");
    assert_eq!(tg.len(), 1);
    assert_eq!(tg[0].role, ProjectRole::Analyst);
    let err = c
        .add_users_to_projects(
            org,
            &[email("nobody@else.example")],
            &[p],
            ProjectRole::Analyst,
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400), "{err}");

    c.remove_users_from_projects(org, std::slice::from_ref(&ana), &[p])
        .await
        .expect("remove grant");
    assert!(!c
        .granted_users(p)
        .await
        .expect("granted")
        .iter()
        .any(|g| g.email == ana && g.target_type == TargetType::Individual));
    c.remove_projects_from_team(org, team.id, &[p])
        .await
        .expect("remove team project");
    assert!(c.granted_teams(p).await.expect("granted teams").is_empty());
    c.remove_users_from_team(org, team.id, std::slice::from_ref(&ana))
        .await
        .expect("remove member");
    c.delete_team(org, team.id).await.expect("delete team");
    assert!(c.list_teams(org).await.expect("teams").is_empty());

    // Removing members; the last owner stays.
    c.remove_org_users(org, std::slice::from_ref(&ana))
        .await
        .expect("remove");
    let owner = email(&b.owner_email);
    let err = c
        .update_org_user_role(org, &owner, OrgRole::Member)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(409), "{err}");
    let err = c
        .remove_org_users(org, std::slice::from_ref(&owner))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(409), "{err}");
    assert!(err.to_string().contains("at least one owner"), "{err}");
    let users = c.list_org_users(org).await.expect("users");
    assert!(users
        .iter()
        .any(|u| u.email == owner && u.role == OrgRole::Owner));
}

#[tokio::test]
async fn audit_log_pages_by_time_windows() {
    let emu = Emulator::spawn(BIN);
    let b = emu.bootstrap("Acme", "owner");
    let c = client(&emu, &b);
    let org = OrgId(b.org_id);
    admin_post(&emu, "/_emulator/settings", json!({"audit_page_size": 2})).await;
    for i in 0..5 {
        c.create_team(org, &format!("team-{i}"))
            .await
            .expect("team");
    }
    let q = wire::AuditLogQuery {
        types: vec!["team.created".into()],
        ..Default::default()
    };
    let first = c.audit_logs(org, &q).await.expect("page");
    assert_eq!(first.results.len(), 2);
    assert!(first.pagination.next_cursor.is_some());
    let all = c.audit_logs_all(org, &q).await.expect("all pages");
    assert_eq!(all.len(), 5);
    assert!(all.iter().all(|e| e.kind() == "team.created"));
    let mut ids: Vec<String> = all.iter().map(|e| e.id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 5);
    assert!(all.iter().all(|e| e.actor() == b.username));
}

#[tokio::test]
async fn writes_complete_under_thirty_percent_errors_without_duplicates() {
    let emu = Emulator::spawn(BIN);
    let b = emu.bootstrap("Acme", "owner");
    let c = client(&emu, &b);
    let org = OrgId(b.org_id);
    admin_put(
        &emu,
        "/_emulator/faults",
        json!({"error_rate": 0.3, "error_status": 503, "seed": 7}),
    )
    .await;
    let mut created = Vec::new();
    for i in 0..15 {
        let t = c
            .create_team(org, &format!("squad-{i}"))
            .await
            .expect("team");
        let sa = c
            .create_service_account_checked(
                org,
                &wire::CreateServiceAccount {
                    username: format!("job-{i}"),
                    role: ProjectRole::Consumer,
                    expires: None,
                    projects: vec![],
                },
                None,
            )
            .await
            .expect("service account");
        created.push((t.id, sa.account.id));
    }
    let cn = counters(&emu).await;
    reqwest::Client::new()
        .delete(format!("{}/_emulator/faults", emu.url))
        .send()
        .await
        .expect("clear faults");
    let teams = c.list_teams(org).await.expect("teams");
    let accounts = c.list_service_accounts(org).await.expect("accounts");
    assert_eq!(teams.len(), 15, "one team per write, no duplicates");
    // 15 created plus the bootstrap account.
    assert_eq!(accounts.len(), 16, "one account per write, no duplicates");
    let attempts = count(&cn, "add_teams", "POST") + count(&cn, "create_service_account", "POST");
    assert!(
        attempts > 30,
        "faults were injected: {attempts} attempts for 30 writes"
    );
}

#[tokio::test]
async fn a_create_that_failed_after_the_write_is_looked_up_before_it_is_sent_again() {
    let emu = Emulator::spawn(BIN);
    let b = emu.bootstrap("Acme", "owner");
    let c = client(&emu, &b);
    let org = OrgId(b.org_id);
    let p = new_project(&c, org, "Replay").await;
    // The change is stored, then the answer is a 502: as a gateway timing out after the write.
    admin_put(
        &emu,
        "/_emulator/faults",
        json!({"error_rate": 1.0, "error_status": 502, "error_after_commit": true,
               "routes": ["create_service_account", "add_teams", "create_project",
                          "add_service_accounts_to_projects"]}),
    )
    .await;
    // A team and a project the first attempt made are found by name and adopted: one request.
    let team = c.create_team(org, "squad").await.expect("adopted");
    assert_eq!(team.name, "squad");
    let tz: Timezone = "UTC".parse().expect("tz");
    let made = c
        .create_project(org, "Lost answer", DataResidency::Us, &tz)
        .await
        .expect("adopted");
    // A service account's secret is in the lost answer only: every account an attempt made is
    // deleted before the next, and the error says the outcome stayed unknown.
    let request = wire::CreateServiceAccount {
        username: "etl".into(),
        role: ProjectRole::Consumer,
        expires: None,
        projects: vec![],
    };
    let err = c
        .create_service_account_checked(org, &request, None)
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, ApiError::MaybeApplied { .. }), "{err:?}");
    assert!(
        msg.contains("may have been carried out")
            && msg.contains("list the organization's service accounts")
            && msg.contains("9 attempt(s)"),
        "{msg}"
    );
    assert!(err.is_transient());
    // A route that sets a state is safe to send again: it is retried until the budget ends.
    let err = c
        .add_service_accounts_to_projects(
            org,
            &[ServiceAccountId(b.sa_id)],
            &[ProjectRoleGrant {
                id: p,
                role: ProjectRole::Analyst,
            }],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, ApiError::Server { attempts: 9, .. }),
        "{err:?}"
    );
    let cn = counters(&emu).await;
    reqwest::Client::new()
        .delete(format!("{}/_emulator/faults", emu.url))
        .send()
        .await
        .expect("clear faults");
    assert_eq!(count(&cn, "add_teams", "POST"), 1);
    // "Replay" before the faults, "Lost answer" once.
    assert_eq!(count(&cn, "create_project", "POST"), 2);
    assert_eq!(count(&cn, "create_service_account", "POST"), 9);
    assert_eq!(count(&cn, "add_service_accounts_to_projects", "POST"), 9);
    // Exactly one team and one project, and no account left behind.
    let accounts = c.list_service_accounts(org).await.expect("accounts");
    assert!(
        !accounts
            .iter()
            .any(|a| a.username.to_string().starts_with("etl.")),
        "{accounts:?}"
    );
    let teams = c.list_teams(org).await.expect("teams");
    assert_eq!(teams.iter().filter(|t| t.name == "squad").count(), 1);
    let projects = c.list_projects(org).await.expect("projects");
    let lost: Vec<_> = projects
        .iter()
        .filter(|p| p.name == "Lost answer")
        .collect();
    assert_eq!(lost.len(), 1, "{lost:?}");
    assert_eq!(lost[0].id, made);
}

/// Issue 16: an audit-log export has no name to look it up by; after a 503 or a 429 that came
/// after the export was stored, it is found by its request (and by being new) before the create
/// is sent again: one export per create in every seed, each the one the create returned.
#[tokio::test]
async fn lost_answers_on_audit_log_exports_leave_no_twins() {
    let mut twins = Vec::new();
    for seed in [5u64, 6, 7, 8] {
        let emu = Emulator::spawn(BIN);
        let b = emu.bootstrap("Acme", "owner");
        let c = client(&emu, &b);
        let org = OrgId(b.org_id);
        admin_put(
            &emu,
            "/_emulator/faults",
            json!({"error_rate": 0.3, "error_status": 503, "error_after_commit": true,
                   "rate_limit_rate": 0.2, "rate_limit_after_commit": true, "seed": seed,
                   "retry_after_secs": 0, "routes": ["create_audit_log_export"]}),
        )
        .await;
        let mut made = Vec::new();
        for i in 0..6 {
            // Two exports of the same request, one after the other, are two exports.
            let request = wire::CreateAuditExport {
                filter: wire::AuditLogQuery {
                    search: Some(format!("batch-{}", i / 2)),
                    ..Default::default()
                },
                export_format: wire::AuditExportFormat::Ndjson,
            };
            let id = c
                .create_audit_log_export(org, &request)
                .await
                .unwrap_or_else(|e| panic!("seed {seed}, export {i}: {e}"));
            made.push(id);
        }
        let cn = counters(&emu).await;
        let sent = count(&cn, "create_audit_log_export", "POST");
        let listed = c.list_audit_log_exports(org).await.expect("exports");
        let extra = listed.len().saturating_sub(6);
        eprintln!(
            "seed {seed}: 6 exports asked, {} made, {sent} creates sent",
            listed.len()
        );
        twins.push(extra);
        if extra > 0 {
            continue;
        }
        let mut ids: Vec<&str> = listed.iter().map(|e| e.id.as_str()).collect();
        ids.sort_unstable();
        let mut returned: Vec<&str> = made.iter().map(String::as_str).collect();
        returned.sort_unstable();
        assert_eq!(ids, returned, "seed {seed}: {sent} creates sent");
        // One listing before each create, one after each answer that proved nothing.
        let lookups = count(&cn, "list_audit_log_exports", "GET").saturating_sub(6);
        assert!(lookups > 0, "seed {seed}: faults were injected: {cn}");
        eprintln!("seed {seed}: {lookups} lookup(s) after a lost answer");
    }
    assert_eq!(twins, vec![0; 4], "twin exports per seed");
    // A 503 before anything was stored: the lookup finds nothing and the create is sent again.
    let emu = Emulator::spawn(BIN);
    let b = emu.bootstrap("Acme", "owner");
    let c = client(&emu, &b);
    let org = OrgId(b.org_id);
    admin_put(
        &emu,
        "/_emulator/faults",
        json!({"error_rate": 0.5, "error_status": 503, "seed": 9,
               "routes": ["create_audit_log_export"]}),
    )
    .await;
    for i in 0..4 {
        let request = wire::CreateAuditExport {
            filter: wire::AuditLogQuery {
                search: Some(format!("again-{i}")),
                ..Default::default()
            },
            export_format: wire::AuditExportFormat::Csv,
        };
        c.create_audit_log_export(org, &request)
            .await
            .expect("sent again until it was made");
    }
    let sent = count(&counters(&emu).await, "create_audit_log_export", "POST");
    assert!(sent > 4, "faults were injected: {sent} creates for 4");
    let listed = c.list_audit_log_exports(org).await.expect("exports");
    assert_eq!(listed.len(), 4, "{listed:?}");
}

#[tokio::test]
async fn lost_answers_on_creates_leave_no_twins() {
    // Issue 16: 30% of creates answer 503 after storing the change, 20% 429 after storing it.
    for seed in [1u64, 2, 3] {
        let emu = Emulator::spawn(BIN);
        let b = emu.bootstrap("Acme", "owner");
        let c = client(&emu, &b);
        let org = OrgId(b.org_id);
        admin_put(
            &emu,
            "/_emulator/faults",
            json!({"error_rate": 0.3, "error_status": 503, "error_after_commit": true,
                   "rate_limit_rate": 0.2, "rate_limit_after_commit": true, "seed": seed,
                   "routes": ["create_service_account", "add_teams", "create_project"]}),
        )
        .await;
        let tz: Timezone = "UTC".parse().expect("tz");
        for i in 0..8 {
            c.create_team(org, &format!("squad-{i}"))
                .await
                .expect("team");
            c.create_project(org, &format!("p-{i}"), DataResidency::Us, &tz)
                .await
                .expect("project");
            let sa = c
                .create_service_account_checked(
                    org,
                    &wire::CreateServiceAccount {
                        username: format!("job-{i}"),
                        role: ProjectRole::Consumer,
                        expires: None,
                        projects: vec![],
                    },
                    None,
                )
                .await
                .expect("service account");
            assert!(!sa.secret.expose_secret().is_empty());
        }
        let cn = counters(&emu).await;
        let faulted = count(&cn, "add_teams", "POST")
            + count(&cn, "create_project", "POST")
            + count(&cn, "create_service_account", "POST");
        assert!(
            faulted > 24,
            "seed {seed}: faults were injected ({faulted} creates for 24)"
        );
        let teams = c.list_teams(org).await.expect("teams");
        let projects = c.list_projects(org).await.expect("projects");
        let accounts = c.list_service_accounts(org).await.expect("accounts");
        for i in 0..8 {
            let n = |name: &str, names: &mut dyn Iterator<Item = String>| {
                names.filter(|x| x == name).count()
            };
            assert_eq!(
                n(
                    &format!("squad-{i}"),
                    &mut teams.iter().map(|t| t.name.clone())
                ),
                1,
                "seed {seed}"
            );
            assert_eq!(
                n(
                    &format!("p-{i}"),
                    &mut projects.iter().map(|p| p.name.clone())
                ),
                1,
                "seed {seed}"
            );
            assert_eq!(
                n(
                    &format!("job-{i}"),
                    &mut accounts.iter().map(|a| a.username.base_name().to_string())
                ),
                1,
                "seed {seed}"
            );
        }
    }
}

#[tokio::test]
async fn retry_after_is_honoured_and_rate_limits_end_in_a_typed_error() {
    let emu = Emulator::spawn(BIN);
    let b = emu.bootstrap("Acme", "owner");
    admin_put(
        &emu,
        "/_emulator/faults",
        json!({"rate_limit_rate": 1.0, "retry_after_secs": 1, "routes": ["me"]}),
    )
    .await;
    let mut cfg = ClientConfig::new(&emu.url, &b.username, SecretString::from(b.secret.clone()))
        .expect("config");
    cfg.min_backoff = Duration::from_millis(1);
    cfg.max_backoff = Duration::from_secs(5);
    cfg.max_retries = 1;
    let c = Client::new(cfg).expect("client");
    let started = std::time::Instant::now();
    let err = c.me().await.unwrap_err();
    assert!(
        matches!(err, ApiError::RateLimited { attempts: 2, retry_after: Some(d), .. } if d == Duration::from_secs(1)),
        "{err:?}"
    );
    // The one retry waited for Retry-After (1 s), not the 1 ms backoff.
    assert!(started.elapsed() >= Duration::from_millis(950));
    let cn = counters(&emu).await;
    assert_eq!(count(&cn, "me", "GET"), 2);
}

#[tokio::test]
async fn a_redirect_never_replays_a_post_as_a_get() {
    let emu = Emulator::spawn(BIN);
    let b = emu.bootstrap("Acme", "owner");
    let c = client(&emu, &b);
    let slashless = format!("/organizations/{}/add-teams", b.org_id);

    // The emulator redirects the slash-less path, as Mixpanel does.
    let raw = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("raw client")
        .post(format!("{}{slashless}", emu.url))
        .basic_auth(&b.username, Some(&b.secret))
        .json(&json!({"teamNames": ["x"]}))
        .send()
        .await
        .expect("raw post");
    assert_eq!(raw.status().as_u16(), 301);

    let before = counters(&emu).await;
    let err = c
        .raw(
            Method::POST,
            &slashless,
            Some(&json!({"teamNames": ["Growth"]})),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ApiError::Redirect { .. }), "{err}");
    assert!(err.to_string().contains("add-teams/"), "{err}");
    let after = counters(&emu).await;
    for route in ["add_teams", "list_teams"] {
        assert_eq!(
            count(&after, route, "GET"),
            count(&before, route, "GET"),
            "no GET was sent to {route}"
        );
    }
    assert!(c
        .list_teams(OrgId(b.org_id))
        .await
        .expect("teams")
        .is_empty());
}

/// Simulated logins land in the audit log as `session.logged_in` (and a two-factor enrollment
/// as `user.twofactor_enabled`) at the given time; the filters (time range, search, project)
/// narrow the log; the project variant answers only that project's events; an export runs
/// asynchronously and downloads as CSV or NDJSON with every matching event.
#[tokio::test]
async fn logins_audit_filters_and_exports() {
    let emu = Emulator::spawn(BIN);
    let b = emu.bootstrap("Acme", "owner");
    let c = client(&emu, &b);
    let org = OrgId(b.org_id);
    let ana = email("ana@acme.example");
    c.invite_org_users(org, std::slice::from_ref(&ana), OrgRole::Member)
        .await
        .expect("invite");
    emu.activate(ana.as_str());
    emu.record_login(b.org_id, ana.as_str(), "2026-01-05T10:00:00Z", true);
    emu.record_login(b.org_id, &b.owner_email, "2026-03-01T10:00:00Z", false);
    // An invited member has not logged in: the route says so instead of inventing a login.
    let r = reqwest::Client::new()
        .post(format!(
            "{}/_emulator/organizations/{}/users/bo@acme.example/login",
            emu.url, b.org_id
        ))
        .json(&json!({}))
        .send()
        .await
        .expect("login");
    assert_eq!(r.status().as_u16(), 404);
    // Bad input is a 400 naming the field; a member who has not accepted cannot log in.
    c.invite_org_users(org, &[email("cy@acme.example")], OrgRole::Member)
        .await
        .expect("invite");
    for (who, body, status, says) in [
        (
            "ana@acme.example",
            json!({"login_method": "telepathy"}),
            400,
            "login_method",
        ),
        (
            "ana@acme.example",
            json!({"twofactor_method": "carrier pigeon"}),
            400,
            "twofactor_method",
        ),
        (
            "ana@acme.example",
            json!({"at": "2999-01-01T00:00:00Z"}),
            400,
            "future",
        ),
        ("cy@acme.example", json!({}), 409, "has not accepted"),
    ] {
        let r = reqwest::Client::new()
            .post(format!(
                "{}/_emulator/organizations/{}/users/{who}/login",
                emu.url, b.org_id
            ))
            .json(&body)
            .send()
            .await
            .expect("login");
        assert_eq!(r.status().as_u16(), status, "{body}");
        let text = r.text().await.expect("body");
        assert!(text.contains(says), "{text}");
    }

    let logins = c
        .audit_logs_all(
            org,
            &wire::AuditLogQuery {
                types: vec![audit_event::SESSION_LOGGED_IN.into()],
                ..Default::default()
            },
        )
        .await
        .expect("logins");
    assert_eq!(logins.len(), 2, "{logins:?}");
    let ana_login = logins
        .iter()
        .find(|e| e.actor() == ana.as_str())
        .expect("ana");
    assert_eq!(
        ana_login.created.map(|t| t.to_rfc3339()).as_deref(),
        Some("2026-01-05T10:00:00+00:00")
    );
    assert_eq!(ana_login.payload()["login_method"], "password");
    assert_eq!(ana_login.payload()["twofactor_method"], "totp");
    let twofactor = c
        .audit_logs_all(
            org,
            &wire::AuditLogQuery {
                types: vec![audit_event::USER_TWOFACTOR_ENABLED.into()],
                ..Default::default()
            },
        )
        .await
        .expect("2fa");
    assert_eq!(twofactor.len(), 1);
    assert_eq!(twofactor[0].actor(), ana.as_str());

    // Time range and search.
    let q = wire::AuditLogQuery {
        created_gte: Some("2026-02-01T00:00:00Z".parse().unwrap()),
        created_lte: Some("2026-04-01T00:00:00Z".parse().unwrap()),
        ..Default::default()
    };
    let in_range = c.audit_logs_all(org, &q).await.expect("range");
    assert_eq!(in_range.len(), 1, "{in_range:?}");
    assert_eq!(in_range[0].actor(), b.owner_email);
    let about_ana = c
        .audit_logs_all(
            org,
            &wire::AuditLogQuery {
                search: Some("ANA@acme".into()),
                ..Default::default()
            },
        )
        .await
        .expect("search");
    assert!(about_ana.len() >= 3, "{about_ana:?}");
    assert!(about_ana
        .iter()
        .all(|e| mixpanel_access::audit::concerns(e, ana.as_str())));
    let not_owner = c
        .audit_logs_all(
            org,
            &wire::AuditLogQuery {
                types: vec![audit_event::SESSION_LOGGED_IN.into()],
                exclude_user_emails: vec![b.owner_email.to_uppercase()],
                ..Default::default()
            },
        )
        .await
        .expect("exclude");
    assert_eq!(not_owner.len(), 1);

    // The project variant sees only its project.
    let p = new_project(&c, org, "web").await;
    new_project(&c, org, "ios").await;
    let page = c
        .project_audit_logs(p, &wire::AuditLogQuery::default())
        .await
        .expect("project log");
    assert!(!page.results.is_empty());
    assert!(page.results.iter().all(|e| e.project() == Some(p)));

    // Exports: 201 with an id, IN_PROGRESS then SUCCEEDED, the file holds every matching event.
    let all = c
        .audit_logs_all(org, &wire::AuditLogQuery::default())
        .await
        .expect("all");
    for (format, lines) in [
        (wire::AuditExportFormat::Csv, all.len() + 1),
        (wire::AuditExportFormat::Ndjson, all.len()),
    ] {
        let id = c
            .create_audit_log_export(
                org,
                &wire::CreateAuditExport {
                    filter: wire::AuditLogQuery::default(),
                    export_format: format,
                },
            )
            .await
            .expect("export");
        let mut done = false;
        for _ in 0..100 {
            let list = c.list_audit_log_exports(org).await.expect("list");
            let e = list.iter().find(|e| e.id == id).expect("listed");
            assert_eq!(e.format(), Some(format));
            if e.status == wire::AuditExportStatus::Succeeded {
                done = true;
                break;
            }
            assert_eq!(e.status, wire::AuditExportStatus::InProgress);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(done, "the export never finished");
        let bytes = c
            .download_audit_log_export(org, &id)
            .await
            .expect("download");
        let text = String::from_utf8(bytes).expect("utf-8");
        assert_eq!(text.lines().count(), lines, "{format:?}: {text}");
    }
    let err = c
        .download_audit_log_export(org, "424242")
        .await
        .expect_err("unknown export");
    assert_eq!(err.status(), Some(404), "{err}");
}

#[tokio::test]
async fn removals_made_together_go_as_one_request_per_route_each_with_its_own_outcome() {
    let emu = Emulator::spawn(BIN);
    let b = emu.bootstrap("Acme", "owner");
    let c = client(&emu, &b);
    let org = OrgId(b.org_id);
    let p = new_project(&c, org, "Removals").await;
    let team = c.create_team(org, "squad").await.expect("team");
    let people: Vec<Email> = (0..8)
        .map(|i| email(&format!("r{i}@acme.example")))
        .collect();
    c.invite_org_users(org, &people, OrgRole::Member)
        .await
        .expect("invite");
    c.add_users_to_projects(org, &people, &[p], ProjectRole::Analyst)
        .await
        .expect("grants");
    c.add_users_to_team(org, team.id, &people)
        .await
        .expect("seats");
    reqwest::Client::new()
        .delete(format!("{}/_emulator/counters", emu.url))
        .send()
        .await
        .expect("reset counters");
    // Eight grant removals, eight seat removals, eight member removals, each its own call.
    let mut tasks = Vec::new();
    for e in people.clone() {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            let projects = [p];
            let grant = c.remove_users_from_projects(org, std::slice::from_ref(&e), &projects);
            let seat = c.remove_users_from_team(org, team.id, std::slice::from_ref(&e));
            let (g, s) = tokio::join!(grant, seat);
            g.and(s)
        }));
    }
    for t in tasks {
        t.await.expect("task").expect("removed");
    }
    let mut tasks = Vec::new();
    for e in people.clone() {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            c.remove_org_users(org, std::slice::from_ref(&e)).await
        }));
    }
    // One e-mail that is no member: its own outcome, the others still removed.
    let stranger = email("nobody@acme.example");
    let odd = {
        let c = c.clone();
        tokio::spawn(async move {
            c.remove_org_users(org, std::slice::from_ref(&stranger))
                .await
        })
    };
    for t in tasks {
        t.await.expect("task").expect("member removed");
    }
    let odd = odd.await.expect("task");
    let cn = counters(&emu).await;
    let sent = |route: &str| count(&cn, route, "POST") + count(&cn, route, "DELETE");
    assert!(
        sent("remove_users_from_projects") <= 2,
        "grant removals: {cn}"
    );
    assert!(sent("remove_users_from_team") <= 2, "seat removals: {cn}");
    // The batch with the stranger may fail and go again item by item: then 1 + 9.
    assert!(
        sent("remove_org_users") <= 2 || (odd.is_err() && sent("remove_org_users") <= 11),
        "member removals: {cn}"
    );
    // Reads confirm every removal.
    let members = c.list_org_users(org).await.expect("members");
    assert!(
        !members.iter().any(|m| people.contains(&m.email)),
        "{members:?}"
    );
    let grants = c.granted_users(p).await.expect("grants");
    assert!(
        !grants.iter().any(|g| people.contains(&g.email)),
        "{grants:?}"
    );
    let teams = c.list_teams(org).await.expect("teams");
    let squad = teams.iter().find(|t| t.id == team.id).expect("squad");
    assert!(squad.members.is_empty(), "{squad:?}");
}
