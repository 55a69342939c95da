//! Acceptance tests: the real `terraform` binary (dev_overrides, no init) drives the provider
//! against the emulator. For every resource: apply, `plan -refresh=false` and `plan` empty,
//! import compared with the applied state, an in-place change or a replacement, destroy. Then
//! drift, deletion outside Terraform, bad input and missing permissions.

mod support;

use std::process::Output;

use mixpanel_access::model::{OrgId, OrgRole, ProjectRole, TeamId};
use serde_json::Value;
use support::emulator::{Creds, Emulator};
use support::*;

/// Terraform's stdout and stderr, with its line wrapping of long messages undone.
fn text(o: &Output) -> String {
    let raw = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    raw.split_whitespace().collect::<Vec<_>>().join(" ")
}

struct Workspace {
    dir: TerraformDir,
}

impl Workspace {
    fn new(emu: &Emulator, creds: &Creds, body: &str) -> Workspace {
        let terraform = terraform_or_skip("acceptance").expect("terraform");
        let mut dir = dev_overrides_dir(terraform, &config(body));
        dir.set_env("MIXPANEL_API_URL", &emu.url);
        dir.set_env("MIXPANEL_SERVICE_ACCOUNT_USERNAME", &creds.username);
        dir.set_env("MIXPANEL_SERVICE_ACCOUNT_SECRET", &creds.secret);
        dir.set_env("MIXPANEL_MAX_RETRIES", "2");
        Workspace { dir }
    }

    fn write(&self, body: &str) {
        std::fs::write(self.dir.path().join("main.tf"), config(body)).expect("write main.tf");
    }

    fn ok(&self, args: &[&str]) -> String {
        text(&self.dir.run_ok(args))
    }

    fn run(&self, args: &[&str]) -> Output {
        self.dir.command(args).output().expect("run terraform")
    }

    fn apply(&self) -> String {
        self.ok(&["apply", "-auto-approve", "-no-color", "-input=false"])
    }

    /// `plan -detailed-exitcode`: 0 = no changes, 2 = changes.
    fn plan_code(&self, extra: &[&str]) -> (i32, String) {
        let mut args = vec!["plan", "-detailed-exitcode", "-no-color", "-input=false"];
        args.extend_from_slice(extra);
        let o = self.run(&args);
        (o.status.code().unwrap_or(-1), text(&o))
    }

    fn assert_no_changes(&self) {
        for extra in [&["-refresh=false"][..], &[][..]] {
            let (code, out) = self.plan_code(extra);
            assert_eq!(code, 0, "plan {extra:?} should be empty:\n{out}");
        }
    }

    /// The attribute values of one resource in the state.
    fn values(&self, address: &str) -> Value {
        let o = self.dir.run_ok(&["show", "-json"]);
        let state: Value = serde_json::from_slice(&o.stdout).expect("show json");
        state["values"]["root_module"]["resources"]
            .as_array()
            .and_then(|rs| rs.iter().find(|r| r["address"] == address))
            .map(|r| r["values"].clone())
            .unwrap_or(Value::Null)
    }

    /// Removes a resource from the state, imports it again and compares the values.
    fn check_import(&self, address: &str, id: &str, ignore: &[&str]) {
        let mut before = self.values(address);
        self.ok(&["state", "rm", "-no-color", address]);
        self.ok(&["import", "-no-color", "-input=false", address, id]);
        let mut after = self.values(address);
        for k in ignore {
            before[*k] = Value::Null;
            after[*k] = Value::Null;
        }
        assert_eq!(
            before, after,
            "imported {address} ({id}) differs from applied"
        );
    }
}

fn config(body: &str) -> String {
    format!("{REQUIRED_PROVIDERS}\nprovider \"mixpanel\" {{}}\n\n{body}\n")
}

fn setup() -> (Emulator, Creds) {
    let emu = Emulator::start();
    let creds = emu.bootstrap("Acme", "owner");
    (emu, creds)
}

const PROJECT: &str = r#"
resource "mixpanel_project" "p" {
  name                = "analytics-dev"
  timezone            = "Europe/Paris"
  data_residency      = "eu"
  deletion_protection = false
}
"#;

const MEMBER: &str = r#"
resource "mixpanel_organization_member" "ana" {
  email = "ana@acme.example"
  role  = "member"
}
"#;

const TEAM: &str = r#"
resource "mixpanel_team" "t" {
  name = "Data Engineering"
}
"#;

#[test]
fn project_lifecycle() {
    let (emu, creds) = setup();
    let ws = Workspace::new(&emu, &creds, PROJECT);
    ws.apply();
    ws.assert_no_changes();
    let v = ws.values("mixpanel_project.p");
    assert_eq!(v["domain"], "eu.mixpanel.com");
    assert!(v["token"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(v["api_secret"].as_str().is_some_and(|t| !t.is_empty()));
    let id = v["id"].as_str().expect("id").to_string();
    // Import gives back the same project (deletion_protection is the default, true, after import).
    ws.check_import("mixpanel_project.p", &id, &["deletion_protection"]);
    ws.apply();
    ws.assert_no_changes();

    // In place: name and time zone.
    ws.write(
        &PROJECT
            .replace("analytics-dev", "analytics-staging")
            .replace("Europe/Paris", "Asia/Tokyo"),
    );
    let (code, out) = ws.plan_code(&[]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("updated in-place"), "{out}");
    ws.apply();
    ws.assert_no_changes();
    assert_eq!(ws.values("mixpanel_project.p")["id"], id.as_str());

    // Replacement: data residency (allowed because deletion_protection = false).
    ws.write(&PROJECT.replace("\"eu\"", "\"us\""));
    let (code, out) = ws.plan_code(&[]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("must be replaced"), "{out}");
    ws.apply();
    ws.assert_no_changes();
    assert_ne!(ws.values("mixpanel_project.p")["id"], id.as_str());

    ws.ok(&["destroy", "-auto-approve", "-no-color"]);
    let rt = runtime();
    let projects = rt
        .block_on(emu.client(&creds).list_projects(OrgId(creds.org_id)))
        .expect("projects");
    assert!(projects.is_empty(), "destroy deleted the projects");
}

#[test]
fn organization_member_lifecycle() {
    let (emu, creds) = setup();
    let ws = Workspace::new(&emu, &creds, MEMBER);
    ws.apply();
    ws.assert_no_changes();
    assert_eq!(
        ws.values("mixpanel_organization_member.ana")["status"],
        "invited"
    );
    ws.check_import("mixpanel_organization_member.ana", "ana@acme.example", &[]);
    ws.assert_no_changes();
    ws.write(&MEMBER.replace("\"member\"", "\"admin\""));
    let (code, out) = ws.plan_code(&[]);
    assert!(code == 2 && out.contains("updated in-place"), "{out}");
    ws.apply();
    ws.assert_no_changes();
    ws.ok(&["destroy", "-auto-approve", "-no-color"]);
    let users = runtime()
        .block_on(emu.client(&creds).list_org_users(OrgId(creds.org_id)))
        .expect("users");
    assert!(!users.iter().any(|u| u.email.as_str() == "ana@acme.example"));
}

#[test]
fn project_member_lifecycle() {
    let (emu, creds) = setup();
    let grant = r#"
resource "mixpanel_project_member" "g" {
  project_id = mixpanel_project.p.id
  email      = mixpanel_organization_member.ana.email
  role       = "analyst"
}
"#;
    let body = format!("{PROJECT}{MEMBER}{grant}");
    let ws = Workspace::new(&emu, &creds, &body);
    ws.apply();
    ws.assert_no_changes();
    let id = ws.values("mixpanel_project_member.g")["id"]
        .as_str()
        .expect("id")
        .to_string();
    assert!(id.ends_with("/ana@acme.example"), "{id}");
    ws.check_import("mixpanel_project_member.g", &id, &[]);
    ws.write(&body.replace("\"analyst\"", "\"consumer\""));
    let (code, out) = ws.plan_code(&[]);
    assert!(code == 2 && out.contains("updated in-place"), "{out}");
    ws.apply();
    ws.assert_no_changes();
    ws.ok(&["destroy", "-auto-approve", "-no-color"]);
}

#[test]
fn team_lifecycle_drift_and_deletion_outside_terraform() {
    let (emu, creds) = setup();
    let ws = Workspace::new(&emu, &creds, TEAM);
    ws.apply();
    ws.assert_no_changes();
    let id = ws.values("mixpanel_team.t")["id"]
        .as_str()
        .expect("id")
        .to_string();
    ws.check_import("mixpanel_team.t", &id, &[]);
    ws.write(&TEAM.replace("Data Engineering", "Data Platform"));
    let (code, out) = ws.plan_code(&[]);
    assert!(code == 2 && out.contains("updated in-place"), "{out}");
    ws.apply();
    ws.assert_no_changes();

    // Drift made through the API shows up in the next plan.
    let rt = runtime();
    let client = emu.client(&creds);
    let org = OrgId(creds.org_id);
    let team = TeamId(id.parse().expect("team id"));
    rt.block_on(client.rename_team(org, team, "Renamed by hand"))
        .expect("rename");
    let (code, out) = ws.plan_code(&[]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("\"Renamed by hand\" -> \"Data Platform\""),
        "{out}"
    );
    ws.apply();
    ws.assert_no_changes();

    // Deleted outside Terraform: planned for re-creation.
    rt.block_on(client.delete_team(org, team)).expect("delete");
    let (code, out) = ws.plan_code(&[]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("will be created"), "{out}");
    ws.apply();
    ws.assert_no_changes();
    ws.ok(&["destroy", "-auto-approve", "-no-color"]);
}

#[test]
fn a_create_whose_answer_was_lost_is_looked_up_and_adopted_not_repeated() {
    let (emu, creds) = setup();
    let ws = Workspace::new(&emu, &creds, TEAM);
    // Mixpanel stores the team but the answer is a 504: the provider must not create a twin;
    // the team list shows it, so it is this create's result.
    emu.faults(Some(serde_json::json!({
        "error_rate": 1.0, "error_status": 504, "error_after_commit": true, "routes": ["add_teams"]
    })));
    ws.apply();
    emu.faults(None);
    assert_eq!(emu.counters()["add_teams"]["POST"], 1, "sent once");
    let rt = runtime();
    let teams = rt
        .block_on(emu.client(&creds).list_teams(OrgId(creds.org_id)))
        .expect("teams");
    let made: Vec<_> = teams
        .iter()
        .filter(|t| t.name == "Data Engineering")
        .collect();
    assert_eq!(made.len(), 1, "{teams:?}");
    assert_eq!(
        ws.values("mixpanel_team.t")["id"],
        made[0].id.to_string(),
        "the adopted team is in the state"
    );
    ws.assert_no_changes();
}

#[test]
fn a_team_that_existed_at_plan_time_is_not_adopted_and_the_error_gives_the_import() {
    let (emu, creds) = setup();
    let rt = runtime();
    let client = emu.client(&creds);
    let org = OrgId(creds.org_id);
    let theirs = rt
        .block_on(client.create_team(org, "Data Engineering"))
        .expect("a team made by hand");
    let ws = Workspace::new(&emu, &creds, TEAM);
    let o = ws.run(&["apply", "-auto-approve", "-no-color", "-input=false"]);
    let out = text(&o);
    assert!(!o.status.success(), "{out}");
    assert!(
        out.contains("already exists")
            && out.contains(&format!(
                "terraform import mixpanel_team.<name> {}",
                theirs.id
            ))
            && out.contains("import {"),
        "{out}"
    );
}

/// Issue 16's configuration: a project, members, grants, teams, service accounts (41).
const CHAOS: &str = r#"
resource "mixpanel_project" "p" {
  name                = "chaos-production"
  timezone            = "UTC"
  deletion_protection = false
}
resource "mixpanel_organization_member" "m" {
  count = 10
  email = "chaos${count.index}@example.com"
  role  = "member"
}
resource "mixpanel_project_member" "g" {
  count      = 10
  project_id = mixpanel_project.p.id
  email      = mixpanel_organization_member.m[count.index].email
  role       = "analyst"
}
resource "mixpanel_team" "t" {
  count = 3
  name  = "Chaos ${["A", "B", "C"][count.index]}"
}
resource "mixpanel_team_member" "tm" {
  count   = 6
  team_id = mixpanel_team.t[count.index % 3].id
  email   = mixpanel_organization_member.m[count.index].email
}
resource "mixpanel_team_project" "tp" {
  count      = 3
  team_id    = mixpanel_team.t[count.index].id
  project_id = mixpanel_project.p.id
  role       = "consumer"
}
resource "mixpanel_service_account" "sa" {
  count    = 4
  username = "chaos-sa-${count.index}"
  role     = "consumer"
}
resource "mixpanel_service_account_project" "sap" {
  count              = 4
  project_id         = mixpanel_project.p.id
  service_account_id = mixpanel_service_account.sa[count.index].id
  role               = "analyst"
}
"#;

/// What Mixpanel holds of [`CHAOS`]: (twins, lost grants), where a twin is any second copy of
/// a declared project, team or service account, and a lost grant a declared grant, membership
/// or team role Mixpanel does not hold (counted only when `complete`: after a successful apply).
fn chaos_counts(emu: &Emulator, creds: &Creds) -> (usize, usize) {
    let rt = runtime();
    let c = emu.client(creds);
    let org = OrgId(creds.org_id);
    let projects = rt.block_on(c.list_projects(org)).expect("projects");
    let teams = rt.block_on(c.list_teams(org)).expect("teams");
    let accounts = rt.block_on(c.list_service_accounts(org)).expect("accounts");
    let members = rt.block_on(c.list_org_users(org)).expect("members");
    let mut twins = 0;
    let mut lost = 0;
    let count = |n: usize| n.saturating_sub(1);
    let ps: Vec<_> = projects
        .iter()
        .filter(|p| p.name == "chaos-production")
        .collect();
    twins += count(ps.len());
    for name in ["Chaos A", "Chaos B", "Chaos C"] {
        twins += count(teams.iter().filter(|t| t.name == name).count());
    }
    for i in 0..4 {
        let base = format!("chaos-sa-{i}");
        twins += count(
            accounts
                .iter()
                .filter(|a| a.username.base_name() == base)
                .count(),
        );
    }
    let Some(p) = ps.first() else {
        return (twins, 10 + 3 + 4 + 10 + 6);
    };
    let users = rt.block_on(c.granted_users(p.id)).expect("grants");
    let granted_teams = rt.block_on(c.granted_teams(p.id)).expect("team grants");
    let project_accounts = rt
        .block_on(c.list_project_service_accounts(p.id))
        .expect("project accounts");
    for i in 0..10 {
        let email = format!("chaos{i}@example.com");
        if !members.iter().any(|m| m.email.to_string() == email) {
            lost += 1;
        }
        if !users
            .iter()
            .any(|g| g.email.to_string() == email && g.role == ProjectRole::Analyst)
        {
            lost += 1;
        }
    }
    for (k, name) in ["Chaos A", "Chaos B", "Chaos C"].iter().enumerate() {
        let team = teams.iter().find(|t| t.name == *name);
        if !team.is_some_and(|t| granted_teams.iter().any(|g| g.id == t.id)) {
            lost += 1;
        }
        for i in (0..6).filter(|i| i % 3 == k) {
            let email = format!("chaos{i}@example.com");
            if !team.is_some_and(|t| t.members.iter().any(|m| m.to_string() == email)) {
                lost += 1;
            }
        }
    }
    for i in 0..4 {
        let base = format!("chaos-sa-{i}");
        let held = accounts
            .iter()
            .filter(|a| a.username.base_name() == base)
            .any(|a| project_accounts.iter().any(|pa| pa.account.id == a.id));
        if !held {
            lost += 1;
        }
    }
    (twins, lost)
}

#[test]
fn lost_answers_never_leave_twins_and_every_apply_converges() {
    // 30% of create and add requests answer 503 after storing the change, 20% 429 after
    // storing it: on every create and add route, over several seeds.
    let routes = [
        "create_service_account",
        "add_service_accounts_to_projects",
        "add_service_accounts_to_team",
        "create_project",
        "add_teams",
        "add_projects_to_teams",
        "add_users_to_teams",
        "invite_org_users",
        "add_users_to_projects",
    ];
    let mut report = Vec::new();
    for seed in [11u64, 12, 13, 14] {
        let (emu, creds) = setup();
        let ws = Workspace::new(&emu, &creds, CHAOS);
        emu.faults(Some(serde_json::json!({
            "error_rate": 0.3, "error_status": 503, "error_after_commit": true,
            "rate_limit_rate": 0.2, "rate_limit_after_commit": true, "retry_after_secs": 0,
            "routes": routes, "seed": seed
        })));
        let o = ws.run(&["apply", "-auto-approve", "-no-color", "-input=false"]);
        let first = o.status.code().unwrap_or(-1);
        let out = text(&o);
        emu.faults(None);
        let (twins, lost_after_first) = chaos_counts(&emu, &creds);
        assert_eq!(
            twins, 0,
            "seed {seed}: twins after the faulted apply:\n{out}"
        );
        if first == 0 {
            // Exit 0: exactly the declared objects, nothing planned next.
            assert!(out.contains("Apply complete!"), "{out}");
            assert_eq!(
                lost_after_first, 0,
                "seed {seed}: exit 0 but grants missing:\n{out}"
            );
        } else {
            // An honest failure: a fault-free apply finishes what is left.
            let second = ws.run(&["apply", "-auto-approve", "-no-color", "-input=false"]);
            assert!(
                second.status.success(),
                "seed {seed}: the fault-free apply after a failed one must converge:\nfirst:\n{out}\nsecond:\n{}",
                text(&second)
            );
        }
        ws.assert_no_changes();
        let (twins, lost) = chaos_counts(&emu, &creds);
        assert_eq!((twins, lost), (0, 0), "seed {seed}");
        let faulted: u64 = routes
            .iter()
            .filter_map(|r| emu.counters()[*r].get("POST").and_then(Value::as_u64))
            .sum();
        let line = format!(
            "seed {seed}: first apply exit {first} ({} missing after it), {faulted} create/add requests, twins {twins}, lost grants {lost}",
            lost_after_first
        );
        println!("{line}");
        report.push(line);
    }
    println!("{}", report.join("\n"));
}

const CHAOS_NAMED: &str = r#"
resource "mixpanel_project" "p" {
  name                = "chaos-named"
  timezone            = "UTC"
  deletion_protection = false
}
resource "mixpanel_custom_role" "r" {
  count       = 3
  project_id  = mixpanel_project.p.id
  name        = "Chaos role ${count.index}"
  permissions = ["view_reports"]
}
resource "mixpanel_data_view" "v" {
  count      = 3
  project_id = mixpanel_project.p.id
  name       = "Chaos view ${count.index}"
  restricted = true
}
"#;

/// The other create routes (custom roles, data views; issue 16): lost answers are looked up by
/// name and adopted, never sent again blind, so no seed leaves a twin.
#[test]
fn lost_answers_on_custom_role_and_data_view_creates_are_adopted_not_repeated() {
    let routes = ["create_custom_role", "create_data_view"];
    let mut report = Vec::new();
    for seed in [21u64, 22, 23, 24] {
        let (emu, creds) = setup();
        let ws = Workspace::new(&emu, &creds, CHAOS_NAMED);
        emu.faults(Some(serde_json::json!({
            "error_rate": 0.4, "error_status": 503, "error_after_commit": true,
            "rate_limit_rate": 0.3, "rate_limit_after_commit": true, "retry_after_secs": 0,
            "routes": routes, "seed": seed
        })));
        let o = ws.run(&["apply", "-auto-approve", "-no-color", "-input=false"]);
        let first = o.status.code().unwrap_or(-1);
        let out = text(&o);
        emu.faults(None);
        let sent: u64 = routes
            .iter()
            .filter_map(|r| emu.counters()[*r].get("POST").and_then(Value::as_u64))
            .sum();
        let counts = || {
            let rt = runtime();
            let c = emu.client(&creds);
            let project = rt
                .block_on(c.list_projects(OrgId(creds.org_id)))
                .expect("projects")
                .into_iter()
                .find(|p| p.name == "chaos-named")
                .expect("the project")
                .id;
            let roles = rt.block_on(c.list_custom_roles(project)).expect("roles");
            let views = rt.block_on(c.list_data_views(project)).expect("views");
            (0..3)
                .map(|i| {
                    (
                        roles
                            .iter()
                            .filter(|r| r.name == format!("Chaos role {i}"))
                            .count(),
                        views
                            .iter()
                            .filter(|v| v.name == format!("Chaos view {i}"))
                            .count(),
                    )
                })
                .collect::<Vec<_>>()
        };
        let after_first = counts();
        assert!(
            after_first.iter().all(|(r, v)| *r <= 1 && *v <= 1),
            "seed {seed}: twins after the faulted apply {after_first:?}:\n{out}"
        );
        if first != 0 {
            let second = ws.run(&["apply", "-auto-approve", "-no-color", "-input=false"]);
            assert!(
                second.status.success(),
                "seed {seed}: the fault-free apply must converge:\n{out}\n{}",
                text(&second)
            );
        }
        ws.assert_no_changes();
        assert_eq!(
            counts(),
            vec![(1, 1); 3],
            "seed {seed}: exactly one of each"
        );
        let line = format!(
            "seed {seed}: first apply exit {first}, {sent} create requests for 6 objects, twins 0"
        );
        println!("{line}");
        report.push(line);
    }
    println!("{}", report.join("\n"));
}

/// Issue 16 item 2, grants: Mixpanel's add-to-project routes are upserts (documented as "also
/// used to change the role"), answering 200 for a grant already in place, and the emulator
/// answers the same (no change, no audit event). A grant made outside Terraform with the
/// planned role is therefore the planned end state: the create adopts it after its read-back.
#[test]
fn a_grant_already_holding_the_planned_role_is_adopted_after_a_read() {
    use mixpanel_access::model::{Email, ProjectRoleGrant, ServiceAccountId};
    let (emu, creds) = setup();
    let base = format!(
        "{PROJECT}{MEMBER}\nresource \"mixpanel_service_account\" \"etl\" {{\n  username = \"etl-adopt\"\n  role     = \"consumer\"\n}}\n"
    );
    let ws = Workspace::new(&emu, &creds, &base);
    ws.apply();
    let project: u64 = ws.values("mixpanel_project.p")["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("project id");
    let sa: u64 = ws.values("mixpanel_service_account.etl")["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("sa id");
    let rt = runtime();
    let c = emu.client(&creds);
    let org = OrgId(creds.org_id);
    let ana: Email = "ana@acme.example".parse().expect("email");
    rt.block_on(c.add_users_to_projects(
        org,
        std::slice::from_ref(&ana),
        &[mixpanel_access::model::ProjectId(project)],
        ProjectRole::Analyst,
    ))
    .expect("grant out of band");
    rt.block_on(c.add_service_accounts_to_projects(
        org,
        &[ServiceAccountId(sa)],
        &[ProjectRoleGrant {
            id: mixpanel_access::model::ProjectId(project),
            role: ProjectRole::Analyst,
        }],
    ))
    .expect("grant the account out of band");
    let events_before = rt
        .block_on(c.audit_logs_all(org, &Default::default()))
        .expect("audit")
        .len();
    ws.write(&format!(
        r#"{base}
resource "mixpanel_project_member" "ana" {{
  project_id = mixpanel_project.p.id
  email      = mixpanel_organization_member.ana.email
  role       = "analyst"
}}
resource "mixpanel_service_account_project" "etl" {{
  project_id         = mixpanel_project.p.id
  service_account_id = mixpanel_service_account.etl.id
  role               = "analyst"
}}
"#
    ));
    let out = ws.apply();
    assert!(out.contains("2 added"), "{out}");
    assert_eq!(ws.values("mixpanel_project_member.ana")["role"], "analyst");
    assert_eq!(
        ws.values("mixpanel_service_account_project.etl")["role"],
        "analyst"
    );
    ws.assert_no_changes();
    // Nothing changed in Mixpanel: no new audit event.
    let events_after = rt
        .block_on(c.audit_logs_all(org, &Default::default()))
        .expect("audit")
        .len();
    assert_eq!(
        events_after, events_before,
        "the adopted grants were changed"
    );
}

/// The import line a diagnostic printed for `type_name`, as `(address, id)` with `<name>`
/// replaced by `name`.
fn printed_import(out: &str, type_name: &str, name: &str) -> (String, String) {
    let start = format!("`terraform import {type_name}.<name> \"");
    let at = out
        .find(&start)
        .unwrap_or_else(|| panic!("no import line for {type_name} in:\n{out}"));
    let rest = &out[at + start.len()..];
    let id = rest.split('"').next().expect("a quoted id");
    assert!(
        out.contains(&format!(
            "import {{ to = {type_name}.<name> id = \"{id}\" }}"
        )),
        "no import block for {type_name} in:\n{out}"
    );
    (format!("{type_name}.{name}"), id.to_string())
}

#[test]
fn a_grant_holding_another_role_is_refused_with_the_import_not_changed() {
    use mixpanel_access::model::{
        Email, ProjectId, ProjectRoleGrant, ServiceAccountId, TargetType,
    };
    let (emu, creds) = setup();
    let base = format!(
        "{PROJECT}{MEMBER}{TEAM}\nresource \"mixpanel_service_account\" \"etl\" {{\n  username = \"etl-other-role\"\n  role     = \"consumer\"\n}}\nresource \"mixpanel_organization_member\" \"bo\" {{\n  email = \"bo@acme.example\"\n  role  = \"member\"\n}}\n"
    );
    let ws = Workspace::new(&emu, &creds, &base);
    ws.apply();
    let id = |address: &str| -> u64 {
        ws.values(address)["id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("an id")
    };
    let project = ProjectId(id("mixpanel_project.p"));
    let sa = ServiceAccountId(id("mixpanel_service_account.etl"));
    let team = TeamId(id("mixpanel_team.t"));
    let rt = runtime();
    let c = emu.client(&creds);
    let org = OrgId(creds.org_id);
    let ana: Email = "ana@acme.example".parse().expect("email");
    let analyst = ProjectRoleGrant {
        id: project,
        role: ProjectRole::Analyst,
    };
    rt.block_on(c.add_users_to_projects(
        org,
        std::slice::from_ref(&ana),
        &[project],
        ProjectRole::Analyst,
    ))
    .expect("grant ana out of band");
    rt.block_on(c.add_service_accounts_to_projects(org, &[sa], &[analyst]))
        .expect("grant the account out of band");
    rt.block_on(c.add_projects_to_team(org, team, &[analyst]))
        .expect("grant the team out of band");
    // What Mixpanel holds: (ana's, the account's, the team's) role on the project.
    let held = || {
        let users = rt.block_on(c.granted_users(project)).expect("users");
        let user = users
            .iter()
            .find(|g| g.email == ana && g.target_type == TargetType::Individual)
            .map(|g| g.role);
        let accounts = rt
            .block_on(c.list_project_service_accounts(project))
            .expect("accounts");
        let account = accounts
            .iter()
            .find(|m| m.account.id == sa)
            .map(|m| m.project_role);
        let teams = rt.block_on(c.list_teams(org)).expect("teams");
        let team = teams
            .iter()
            .find(|t| t.id == team)
            .and_then(|t| t.projects.iter().find(|g| g.id == project))
            .map(|g| g.role);
        (user, account, team)
    };
    let all_analyst = (
        Some(ProjectRole::Analyst),
        Some(ProjectRole::Analyst),
        Some(ProjectRole::Analyst),
    );
    assert_eq!(held(), all_analyst);
    ws.write(&format!(
        r#"{base}
resource "mixpanel_project_member" "ana" {{
  project_id = mixpanel_project.p.id
  email      = mixpanel_organization_member.ana.email
  role       = "consumer"
}}
resource "mixpanel_service_account_project" "etl" {{
  project_id         = mixpanel_project.p.id
  service_account_id = mixpanel_service_account.etl.id
  role               = "consumer"
}}
resource "mixpanel_team_project" "t" {{
  team_id    = mixpanel_team.t.id
  project_id = mixpanel_project.p.id
  role       = "consumer"
}}
"#
    ));
    let o = ws.run(&["apply", "-auto-approve", "-no-color", "-input=false"]);
    let out = text(&o);
    assert!(
        !o.status.success(),
        "the apply changed roles nobody planned to change:\n{out}"
    );
    for (who, type_name) in [
        ("ana@acme.example".to_string(), "mixpanel_project_member"),
        (
            format!("service account {sa}"),
            "mixpanel_service_account_project",
        ),
        (format!("team {team}"), "mixpanel_team_project"),
    ] {
        let says = format!(
            "{who} already holds role analyst in project {project}; the plan says consumer."
        );
        assert!(
            out.contains(&says),
            "no \"{says}\" ({type_name}) in:\n{out}"
        );
    }
    assert!(
        out.contains("with mixpanel_project_member.ana"),
        "the diagnostic names the resource:\n{out}"
    );
    assert_eq!(held(), all_analyst, "a refused create changed a role");
    // The printed imports, then an apply that changes the roles as planned and converges.
    for (type_name, name) in [
        ("mixpanel_project_member", "ana"),
        ("mixpanel_service_account_project", "etl"),
        ("mixpanel_team_project", "t"),
    ] {
        let (address, id) = printed_import(&out, type_name, name);
        ws.ok(&["import", "-no-color", "-input=false", &address, &id]);
        assert_eq!(ws.values(&address)["role"], "analyst", "{address}");
    }
    let out = ws.apply();
    assert!(out.contains("3 changed"), "{out}");
    let all_consumer = (
        Some(ProjectRole::Consumer),
        Some(ProjectRole::Consumer),
        Some(ProjectRole::Consumer),
    );
    assert_eq!(held(), all_consumer);
    ws.assert_no_changes();
    // A grant that appears between the plan and the apply is refused too, not overwritten.
    let main = std::fs::read_to_string(ws.dir.path().join("main.tf")).expect("main.tf");
    std::fs::write(
        ws.dir.path().join("main.tf"),
        format!("{main}\nresource \"mixpanel_project_member\" \"bo\" {{\n  project_id = mixpanel_project.p.id\n  email      = mixpanel_organization_member.bo.email\n  role       = \"consumer\"\n}}\n"),
    )
    .expect("write main.tf");
    ws.ok(&["plan", "-no-color", "-input=false", "-out=tfplan"]);
    let bo: Email = "bo@acme.example".parse().expect("email");
    rt.block_on(c.add_users_to_projects(
        org,
        std::slice::from_ref(&bo),
        &[project],
        ProjectRole::Admin,
    ))
    .expect("grant bo after the plan");
    let o = ws.run(&["apply", "-no-color", "-input=false", "tfplan"]);
    let out = text(&o);
    assert!(!o.status.success(), "{out}");
    assert!(
        out.contains(&format!("bo@acme.example already holds role admin in project {project}; the plan says consumer.")),
        "{out}"
    );
    let users = rt.block_on(c.granted_users(project)).expect("users");
    let bo_role = users.iter().find(|g| g.email == bo).map(|g| g.role);
    assert_eq!(
        bo_role,
        Some(ProjectRole::Admin),
        "the grant made since the plan was changed"
    );
    // A replacement removes the grant and creates it again: the create must write it, not
    // adopt what a listing taken before the removal showed.
    std::fs::write(ws.dir.path().join("main.tf"), &main).expect("write main.tf");
    ws.ok(&[
        "apply",
        "-auto-approve",
        "-no-color",
        "-input=false",
        "-replace=mixpanel_project_member.ana",
        "-replace=mixpanel_service_account_project.etl",
        "-replace=mixpanel_team_project.t",
    ]);
    assert_eq!(held(), all_consumer, "a replaced grant is missing");
    ws.assert_no_changes();
}

#[test]
fn team_member_and_team_project_lifecycle() {
    let (emu, creds) = setup();
    let rest = r#"
resource "mixpanel_team_member" "ana" {
  team_id = mixpanel_team.t.id
  email   = mixpanel_organization_member.ana.email
}

resource "mixpanel_service_account" "etl" {
  username = "etl"
  role     = "consumer"
}

resource "mixpanel_team_member" "etl" {
  team_id            = mixpanel_team.t.id
  service_account_id = mixpanel_service_account.etl.id
}

resource "mixpanel_team_project" "tp" {
  team_id    = mixpanel_team.t.id
  project_id = mixpanel_project.p.id
  role       = "analyst"
}
"#;
    let body = format!("{PROJECT}{MEMBER}{TEAM}{rest}");
    let ws = Workspace::new(&emu, &creds, &body);
    ws.apply();
    ws.assert_no_changes();
    let m = ws.values("mixpanel_team_member.ana")["id"]
        .as_str()
        .expect("id")
        .to_string();
    ws.check_import("mixpanel_team_member.ana", &m, &[]);
    let s = ws.values("mixpanel_team_member.etl")["id"]
        .as_str()
        .expect("id")
        .to_string();
    assert!(s.contains("/service_account/"), "{s}");
    ws.check_import("mixpanel_team_member.etl", &s, &[]);
    let tp = ws.values("mixpanel_team_project.tp")["id"]
        .as_str()
        .expect("id")
        .to_string();
    ws.check_import("mixpanel_team_project.tp", &tp, &[]);
    ws.assert_no_changes();

    // The team's project role changes in place; a member change replaces the membership.
    let changed = body
        .replace("role       = \"analyst\"", "role       = \"consumer\"")
        .replace("\"ana@acme.example\"", "\"bob@acme.example\"");
    ws.write(&changed);
    let (code, out) = ws.plan_code(&[]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("mixpanel_team_project.tp will be updated in-place"),
        "{out}"
    );
    assert!(
        out.contains("mixpanel_team_member.ana must be replaced"),
        "{out}"
    );
    ws.apply();
    ws.assert_no_changes();
    ws.ok(&["destroy", "-auto-approve", "-no-color"]);
}

#[test]
fn service_account_lifecycle() {
    let (emu, creds) = setup();
    let sa = r#"
resource "mixpanel_service_account" "etl" {
  username = "etl-pipeline"
  role     = "analyst"
  expires  = "2099-01-01T00:00:00Z"
}

resource "mixpanel_service_account_project" "etl" {
  project_id         = mixpanel_project.p.id
  service_account_id = mixpanel_service_account.etl.id
  role               = "analyst"
}
"#;
    let body = format!("{PROJECT}{sa}");
    let ws = Workspace::new(&emu, &creds, &body);
    let out = ws.apply();
    let v = ws.values("mixpanel_service_account.etl");
    let secret = v["secret"].as_str().expect("secret").to_string();
    assert!(!out.contains(&secret), "the secret is not printed");
    let full = v["full_username"].as_str().expect("full").to_string();
    assert!(full.starts_with("etl-pipeline.") && full.ends_with(".mp-service-account"));
    // The secret authenticates.
    let rt = runtime();
    let as_etl = emu.client(&Creds {
        username: full.clone(),
        secret: secret.clone(),
        ..creds.clone()
    });
    rt.block_on(as_etl.me())
        .expect("created account authenticates");
    ws.assert_no_changes();

    let id = v["id"].as_str().expect("id").to_string();
    ws.check_import("mixpanel_service_account.etl", &id, &["secret"]);
    assert_eq!(
        ws.values("mixpanel_service_account.etl")["secret"],
        Value::Null
    );
    ws.assert_no_changes();
    let sp = ws.values("mixpanel_service_account_project.etl")["id"]
        .as_str()
        .expect("id")
        .to_string();
    ws.check_import("mixpanel_service_account_project.etl", &sp, &[]);

    ws.write(&body.replace(
        "role               = \"analyst\"",
        "role               = \"consumer\"",
    ));
    let (code, out) = ws.plan_code(&[]);
    assert!(code == 2 && out.contains("updated in-place"), "{out}");
    ws.apply();
    ws.assert_no_changes();

    // Any input change replaces the account (Mixpanel has no update).
    ws.write(&body.replace("2099-01-01T00:00:00Z", "2098-01-01T00:00:00Z"));
    let (code, out) = ws.plan_code(&[]);
    assert!(code == 2 && out.contains("must be replaced"), "{out}");
    ws.apply();
    ws.assert_no_changes();
    assert_ne!(ws.values("mixpanel_service_account.etl")["id"], id.as_str());
    ws.ok(&["destroy", "-auto-approve", "-no-color"]);
}

#[test]
fn data_sources() {
    let (emu, creds) = setup();
    let body = format!(
        r#"{PROJECT}{MEMBER}{TEAM}
resource "mixpanel_project_member" "g" {{
  project_id = mixpanel_project.p.id
  email      = mixpanel_organization_member.ana.email
  role       = "consumer"
}}
resource "mixpanel_team_member" "ana" {{
  team_id = mixpanel_team.t.id
  email   = mixpanel_organization_member.ana.email
}}
resource "mixpanel_team_project" "tp" {{
  team_id    = mixpanel_team.t.id
  project_id = mixpanel_project.p.id
  role       = "analyst"
}}
data "mixpanel_project" "by_name" {{
  name       = mixpanel_project.p.name
}}
data "mixpanel_organization" "org" {{
  depends_on = [mixpanel_project.p]
}}
data "mixpanel_effective_access" "ana" {{
  email      = "ana@acme.example"
  depends_on = [mixpanel_project_member.g, mixpanel_team_member.ana, mixpanel_team_project.tp]
}}
output "project_id" {{ value = data.mixpanel_project.by_name.id }}
output "org_projects" {{ value = data.mixpanel_organization.org.project_ids }}
output "ana" {{ value = data.mixpanel_effective_access.ana.projects }}
"#
    );
    let ws = Workspace::new(&emu, &creds, &body);
    ws.apply();
    let o = ws.dir.run_ok(&["output", "-json"]);
    let out: Value = serde_json::from_slice(&o.stdout).expect("outputs");
    let pid = ws.values("mixpanel_project.p")["id"].clone();
    assert_eq!(out["project_id"]["value"], pid);
    assert_eq!(out["org_projects"]["value"], serde_json::json!([pid]));
    let ana = &out["ana"]["value"][0];
    assert_eq!(ana["role"], "analyst");
    assert_eq!(
        ana["sources"],
        serde_json::json!(["team:Data Engineering:analyst", "individual:consumer"])
    );
    assert!(ana["capabilities"]
        .as_array()
        .expect("caps")
        .contains(&Value::from("export_data")));
}

#[test]
fn bad_input_gives_diagnostics_on_the_attribute() {
    let (emu, creds) = setup();
    let body = r#"
resource "mixpanel_organization_member" "m" {
  email = "not-an-email"
  role  = "superuser"
}
resource "mixpanel_project" "p" {
  name     = "x"
  timezone = "Mars/Olympus"
}
resource "mixpanel_service_account" "s" {
  username = "etl"
  role     = "owner"
  expires  = "2030-01-01"
}
"#;
    let ws = Workspace::new(&emu, &creds, body);
    let o = ws.run(&["validate", "-no-color"]);
    let out = text(&o);
    assert!(!o.status.success(), "{out}");
    for needle in [
        "Invalid value for email",
        "email = \"not-an-email\"",
        "Invalid value for role",
        "role = \"superuser\"",
        "owner, admin, billing_admin, member",
        "Invalid value for timezone",
        "timezone = \"Mars/Olympus\"",
        "IANA",
        "service accounts cannot be owners",
        "expires = \"2030-01-01\"",
        "YYYY-MM-DDTHH:MM:SSZ",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in:\n{out}");
    }
}

#[test]
fn protected_projects_refuse_deletion_and_residency_changes() {
    let (emu, creds) = setup();
    let protected = PROJECT.replace("deletion_protection = false", "deletion_protection = true");
    let ws = Workspace::new(&emu, &creds, &protected);
    ws.apply();
    // A residency change would replace the project: refused on the attribute.
    ws.write(&protected.replace("\"eu\"", "\"us\""));
    let (code, out) = ws.plan_code(&[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("Data residency cannot change"), "{out}");
    assert!(out.contains("data_residency = \"us\""), "{out}");
    // Destroying it is refused until deletion_protection is false.
    ws.write(&protected);
    let o = ws.run(&["destroy", "-auto-approve", "-no-color"]);
    let out = text(&o);
    assert!(!o.status.success(), "{out}");
    assert!(out.contains("Project is protected from deletion"), "{out}");
    assert!(!runtime()
        .block_on(emu.client(&creds).list_projects(OrgId(creds.org_id)))
        .expect("projects")
        .is_empty());
    ws.write(PROJECT);
    ws.apply();
    ws.ok(&["destroy", "-auto-approve", "-no-color"]);
}

#[test]
fn a_provider_account_without_the_role_gets_a_diagnostic_naming_it() {
    let emu = Emulator::start();
    let admin = emu.bootstrap("Globex", "admin");
    let rt = runtime();
    let client = emu.client(&admin);
    let org = OrgId(admin.org_id);
    let weak = analyst(&emu, &admin);
    let ws = Workspace::new(&emu, &weak, TEAM);
    let o = ws.run(&["apply", "-auto-approve", "-no-color"]);
    let out = text(&o);
    assert!(!o.status.success(), "{out}");
    assert!(out.contains("Cannot create the team"), "{out}");
    assert!(
        out.contains("the organization role owner or admin"),
        "{out}"
    );
    assert!(!out.contains(&weak.secret));

    // An admin account cannot delete a project: the owner role is named.
    let ws = Workspace::new(&emu, &admin, PROJECT);
    ws.apply();
    let o = ws.run(&["destroy", "-auto-approve", "-no-color"]);
    let out = text(&o);
    assert!(!o.status.success(), "{out}");
    assert!(out.contains("the project role owner"), "{out}");
    // Members may be invited, but an admin cannot make an owner.
    let members = rt.block_on(client.list_org_users(org)).expect("users");
    assert!(members.iter().any(|m| m.role == OrgRole::Owner));
}

fn repo() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn quickstart_example_applies_and_the_next_plan_is_empty() {
    let (emu, creds) = setup();
    let main_tf =
        std::fs::read_to_string(repo().join("examples/quickstart/main.tf")).expect("quickstart");
    let ws = Workspace::new(&emu, &creds, "");
    std::fs::write(ws.dir.path().join("main.tf"), main_tf).expect("write");
    ws.apply();
    ws.assert_no_changes();
    let o = ws.dir.run_ok(&["output", "-json"]);
    let out: Value = serde_json::from_slice(&o.stdout).expect("outputs");
    assert_eq!(
        out["ana_access"]["value"]["analytics-production"],
        serde_json::json!(["team:Analysts:consumer"])
    );
}

#[test]
fn every_resource_and_data_source_example_validates() {
    let (emu, creds) = setup();
    let ws = Workspace::new(&emu, &creds, "");
    let mut all =
        std::fs::read_to_string(repo().join("examples/provider/provider.tf")).expect("provider.tf");
    for kind in ["resources", "data-sources"] {
        let dir = repo().join("examples").join(kind);
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .expect("examples")
            .flatten()
            .collect();
        entries.sort_by_key(|e| e.path());
        assert!(!entries.is_empty());
        for e in entries {
            for f in std::fs::read_dir(e.path()).expect("example dir").flatten() {
                all.push('\n');
                all.push_str(&std::fs::read_to_string(f.path()).expect("example"));
            }
        }
    }
    std::fs::write(ws.dir.path().join("main.tf"), all).expect("write");
    let out = ws.ok(&["validate", "-no-color"]);
    assert!(out.contains("The configuration is valid"), "{out}");
}

// ---------------------------------------------------------------------------------------------
// What apply reports is what Mixpanel holds
// ---------------------------------------------------------------------------------------------

impl Workspace {
    /// Acts as another service account from now on.
    fn use_creds(&mut self, creds: &Creds) {
        self.dir
            .set_env("MIXPANEL_SERVICE_ACCOUNT_USERNAME", &creds.username);
        self.dir
            .set_env("MIXPANEL_SERVICE_ACCOUNT_SECRET", &creds.secret);
    }

    fn state_list(&self) -> String {
        String::from_utf8_lossy(&self.dir.run_ok(&["state", "list"]).stdout).into_owned()
    }
}

/// An analyst service account (organization role member) with no project of its own.
fn analyst(emu: &Emulator, owner: &Creds) -> Creds {
    use secrecy::ExposeSecret;
    let made = runtime()
        .block_on(emu.client(owner).create_service_account(
            OrgId(owner.org_id),
            &mixpanel_access::api::wire::CreateServiceAccount {
                username: "readonly".into(),
                role: ProjectRole::Analyst,
                expires: None,
                projects: vec![],
            },
        ))
        .expect("analyst account");
    Creds {
        sa_id: made.account.id.0,
        username: made.account.username.to_string(),
        secret: made.secret.expose_secret().to_string(),
        ..owner.clone()
    }
}

const GRANTS: &str = r#"
resource "mixpanel_project" "p" {
  name                = "analytics-dev"
  timezone            = "Europe/Paris"
  deletion_protection = false
}
resource "mixpanel_organization_member" "ana" {
  email = "ana@acme.example"
  role  = "member"
}
resource "mixpanel_team" "t" {
  name = "Data Engineering"
}
"#;

const ANA_ACCESS: &str = r#"
resource "mixpanel_project_member" "ana" {
  project_id = mixpanel_project.p.id
  email      = mixpanel_organization_member.ana.email
  role       = "admin"
}
resource "mixpanel_team_member" "ana" {
  team_id = mixpanel_team.t.id
  email   = mixpanel_organization_member.ana.email
}
"#;

/// Mixpanel has no route to remove one individual grant or a user's team seat. Against a host
/// without them (the emulator hiding its own routes at a non-Mixpanel `api_url`, as a proxy
/// would be), the revoke fails with where to do it by hand, and the grant stays in the state
/// until it really is gone.
#[test]
fn a_revoke_without_an_upstream_route_fails_and_keeps_the_grant() {
    let (emu, creds) = setup();
    let ws = Workspace::new(&emu, &creds, &format!("{GRANTS}{ANA_ACCESS}"));
    ws.apply();
    let project: u64 = ws.values("mixpanel_project.p")["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("project id");
    emu.faults(Some(serde_json::json!({"hide_emulator_only_routes": true})));
    ws.write(GRANTS);
    let o = ws.run(&["apply", "-auto-approve", "-no-color", "-input=false"]);
    let out = text(&o);
    assert!(
        !o.status.success(),
        "a revoke that did not happen succeeded:\n{out}"
    );
    for needle in [
        "Cannot remove the project grant",
        "Cannot remove the team member",
        "Mixpanel's web app",
        "Users & Teams of project",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in:\n{out}");
    }
    assert!(!out.contains("Destruction complete"), "{out}");
    let listed = ws.state_list();
    assert!(listed.contains("mixpanel_project_member.ana"), "{listed}");
    assert!(listed.contains("mixpanel_team_member.ana"), "{listed}");
    // Mixpanel still holds the grant, and the next plan still wants it removed.
    let grants = runtime()
        .block_on(
            emu.client(&creds)
                .granted_users(mixpanel_access::model::ProjectId(project)),
        )
        .expect("grants");
    assert!(grants
        .iter()
        .any(|g| g.email.as_str() == "ana@acme.example"));
    assert_eq!(ws.plan_code(&[]).0, 2);
    // Where the route exists, the same apply removes both, and says so only then.
    emu.faults(None);
    ws.apply();
    ws.assert_no_changes();
    let grants = runtime()
        .block_on(
            emu.client(&creds)
                .granted_users(mixpanel_access::model::ProjectId(project)),
        )
        .expect("grants");
    assert!(!grants
        .iter()
        .any(|g| g.email.as_str() == "ana@acme.example"));
}

/// A credential that sees only part of the organization cannot tell a deleted project from one
/// it may not see: the refresh is an error, the state keeps the project, and no twin follows.
#[test]
fn a_refresh_by_a_credential_that_cannot_see_everything_errors_and_creates_nothing() {
    let (emu, creds) = setup();
    let weak = analyst(&emu, &creds);
    let mut ws = Workspace::new(&emu, &creds, GRANTS);
    ws.apply();
    ws.use_creds(&weak);
    let (code, out) = ws.plan_code(&[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("Cannot tell whether the object still exists"),
        "{out}"
    );
    assert!(out.contains("organization role owner or admin"), "{out}");
    assert!(!out.contains("will be created"), "{out}");
    let o = ws.run(&["apply", "-auto-approve", "-no-color", "-input=false"]);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(ws.state_list().contains("mixpanel_project.p"));
    ws.use_creds(&creds);
    ws.assert_no_changes();
    let projects = runtime()
        .block_on(emu.client(&creds).list_projects(OrgId(creds.org_id)))
        .expect("projects");
    assert_eq!(
        projects
            .iter()
            .filter(|p| p.name == "analytics-dev")
            .count(),
        1,
        "{projects:?}"
    );
}

/// Mixpanel compares e-mail addresses without case: so does the plan.
#[test]
fn a_case_only_email_change_plans_nothing() {
    let (emu, creds) = setup();
    let spelled = |email: &str| {
        format!(
            "{}{}",
            GRANTS.replace("ana@acme.example", email),
            ANA_ACCESS
        )
    };
    let ws = Workspace::new(&emu, &creds, &spelled("Ana@Acme.example"));
    ws.apply();
    runtime()
        .block_on(async {
            reqwest::Client::new()
                .post(format!(
                    "{}/_emulator/users/ana@acme.example/activate",
                    emu.url
                ))
                .send()
                .await
        })
        .expect("activate");
    ws.ok(&["apply", "-refresh-only", "-auto-approve", "-no-color"]);
    assert_eq!(
        ws.values("mixpanel_organization_member.ana")["status"],
        "active"
    );
    ws.write(&spelled("ana@acme.example"));
    ws.assert_no_changes();
    ws.apply();
    // The state keeps the spelling it had; nothing was replaced, the invitation stays accepted.
    let member = ws.values("mixpanel_organization_member.ana");
    assert_eq!(member["email"], "Ana@Acme.example");
    assert_eq!(member["status"], "active");
    ws.check_import(
        "mixpanel_project_member.ana",
        &format!(
            "{}/Ana@Acme.example",
            ws.values("mixpanel_project.p")["id"].as_str().expect("id")
        ),
        &[],
    );
}

/// A create whose first step made the object and whose second failed records the object
/// (tainted): the next apply replaces it instead of making a twin.
#[test]
fn a_create_whose_second_step_fails_leaves_one_tainted_object() {
    let (emu, creds) = setup();
    let body = r#"
resource "mixpanel_project" "p" {
  name                = "web"
  timezone            = "UTC"
  default_role        = "consumer"
  deletion_protection = false
}
"#;
    let ws = Workspace::new(&emu, &creds, body);
    emu.faults(Some(serde_json::json!({"hide_emulator_only_routes": true})));
    let o = ws.run(&["apply", "-auto-approve", "-no-color", "-input=false"]);
    let out = text(&o);
    assert!(!o.status.success(), "{out}");
    assert!(
        out.contains("Cannot set the project's default role"),
        "{out}"
    );
    assert!(out.contains("Mixpanel's web app"), "{out}");
    let shown = text(&ws.dir.run_ok(&["show", "-no-color"]));
    assert!(shown.contains("mixpanel_project.p: (tainted)"), "{shown}");
    let count = || {
        runtime()
            .block_on(emu.client(&creds).list_projects(OrgId(creds.org_id)))
            .expect("projects")
            .iter()
            .filter(|p| p.name == "web")
            .count()
    };
    assert_eq!(count(), 1);
    emu.faults(None);
    ws.apply();
    ws.assert_no_changes();
    assert_eq!(count(), 1, "the tainted project was replaced, not twinned");
}

/// With nothing listening, a plan fails at configuration within the connect budget (10 s by
/// default), naming the URL, with each retry logged at WARN.
#[test]
fn an_unreachable_api_fails_fast_and_names_the_url() {
    let (emu, creds) = setup();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let mut ws = Workspace::new(&emu, &creds, &format!("{GRANTS}{ANA_ACCESS}"));
    let url = format!("http://127.0.0.1:{port}");
    ws.dir.set_env("MIXPANEL_API_URL", &url);
    ws.dir.set_env("MIXPANEL_MAX_RETRIES", "5");
    ws.dir.set_env("TF_LOG", "warn");
    let started = std::time::Instant::now();
    let o = ws.run(&["plan", "-no-color", "-input=false"]);
    let took = started.elapsed();
    let out = text(&o);
    assert!(!o.status.success(), "{out}");
    assert!(out.contains(&format!("127.0.0.1:{port}")), "{out}");
    assert!(out.contains("could not reach Mixpanel"), "{out}");
    assert_eq!(
        out.matches("Error: Cannot reach Mixpanel").count(),
        1,
        "{out}"
    );
    assert!(out.contains("retrying"), "no WARN retry line:\n{out}");
    // Generous for a busy CI machine: the budget is 10 s, the old behaviour minutes.
    assert!(took < std::time::Duration::from_secs(45), "took {took:?}");
}

/// What can be known at plan is refused at plan, on the attribute.
#[test]
fn plan_time_checks() {
    let (emu, creds) = setup();
    let expired = r#"
resource "mixpanel_service_account" "old" {
  username = "etl"
  role     = "analyst"
  expires  = "2001-01-01T00:00:00Z"
}
"#;
    let ws = Workspace::new(&emu, &creds, expired);
    let (code, out) = ws.plan_code(&[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("Expiry in the past"), "{out}");
    assert!(out.contains("expires = \"2001-01-01T00:00:00Z\""), "{out}");
    let body = r#"
resource "mixpanel_project_member" "zero" {
  project_id = "0"
  email      = "ana@acme.example"
  role       = "analyst"
}
resource "mixpanel_team_project" "huge" {
  team_id    = "99999999999999999999"
  project_id = "-3"
  role       = "analyst"
}
"#;
    ws.write(body);
    let (code, out) = ws.plan_code(&[]);
    assert_eq!(code, 1, "{out}");
    for needle in [
        "\"0\" is not an id",
        "\"99999999999999999999\" is not an id",
        "\"-3\" is not an id",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in:\n{out}");
    }
    // The provider block: an organization id that cannot be one, and region with api_url.
    std::fs::write(
        ws.dir.path().join("main.tf"),
        format!("{REQUIRED_PROVIDERS}\nprovider \"mixpanel\" {{\n  organization_id = -5\n  region = \"eu\"\n}}\n{GRANTS}"),
    )
    .expect("main.tf");
    let (code, out) = ws.plan_code(&[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("organization_id"), "{out}");
    assert!(out.contains("expected a whole number from 1"), "{out}");
    std::fs::write(
        ws.dir.path().join("main.tf"),
        format!("{REQUIRED_PROVIDERS}\nprovider \"mixpanel\" {{\n  region = \"eu\"\n}}\n{GRANTS}"),
    )
    .expect("main.tf");
    let (code, out) = ws.plan_code(&[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("Conflicting region and api_url"), "{out}");
}

/// An update that does not change a computed attribute keeps it in the plan: no noise such as
/// `status = "invited" -> (known after apply)`.
#[test]
fn an_update_plans_unchanged_computed_attributes_as_they_are() {
    let (emu, creds) = setup();
    let ws = Workspace::new(&emu, &creds, MEMBER);
    ws.apply();
    ws.write(&MEMBER.replace("\"member\"", "\"billing_admin\""));
    let (code, out) = ws.plan_code(&[]);
    assert_eq!(code, 2, "{out}");
    assert!(!out.contains("known after apply"), "{out}");
    ws.apply();
    ws.assert_no_changes();
}

// ---------------------------------------------------------------------------------------------
// Coalesced writes and reads
// ---------------------------------------------------------------------------------------------

fn count(counters: &Value, route: &str, method: &str) -> u64 {
    counters[route][method].as_u64().unwrap_or(0)
}

fn total(counters: &Value) -> u64 {
    counters
        .as_object()
        .map(|routes| {
            routes
                .values()
                .filter_map(Value::as_object)
                .flat_map(|m| m.values())
                .filter_map(Value::as_u64)
                .sum()
        })
        .unwrap_or(0)
}

/// Terraform applies ten resources at once: their writes go as one request per route and
/// their verifying reads share one listing, far below a request per resource. With batching
/// off, every change is its own request.
#[test]
fn an_onboarding_apply_coalesces_its_writes_and_reads() {
    let (emu, creds) = setup();
    let ws = Workspace::new(&emu, &creds, &onboarding(100));
    // Real Mixpanel answers in 100-300 ms: with every call slow, the ten resources Terraform
    // applies at once are in flight together.
    emu.faults(Some(serde_json::json!({"latency_ms": 50})));
    emu.reset_counters();
    ws.apply();
    emu.faults(None);
    let c = emu.counters();
    let (invites, grants) = (
        count(&c, "invite_org_users", "POST"),
        count(&c, "add_users_to_projects", "POST"),
    );
    let all = total(&c);
    println!("batched: {invites} invitation requests, {grants} grant requests, {all} in all for 201 resources");
    // One request per change would be 200 writes and 200 verifying listings.
    assert!(
        invites + grants <= 90,
        "{invites} invitation and {grants} grant requests for 200 changes: {c}"
    );
    assert!(all <= 200, "{all} requests for 201 resources: {c}");
    ws.assert_no_changes();
    let members = runtime()
        .block_on(emu.client(&creds).list_org_users(OrgId(creds.org_id)))
        .expect("members");
    assert_eq!(members.len(), 101, "the owner and the 100 people");

    // One request per change with batching off.
    let (emu2, creds2) = setup();
    let mut ws2 = Workspace::new(&emu2, &creds2, &onboarding(20));
    ws2.dir.set_env("MIXPANEL_BATCH_WRITES", "false");
    emu2.reset_counters();
    ws2.apply();
    let c = emu2.counters();
    assert_eq!(count(&c, "invite_org_users", "POST"), 20, "{c}");
    assert_eq!(count(&c, "add_users_to_projects", "POST"), 20, "{c}");
}

/// A batch with one bad item is split: the good grants land, the bad one gets its own
/// diagnostic on its own resource.
#[test]
fn one_refused_grant_in_a_batch_fails_alone() {
    let (emu, creds) = setup();
    let body = r#"
resource "mixpanel_project" "p" {
  name                = "split"
  timezone            = "UTC"
  deletion_protection = false
}
resource "mixpanel_organization_member" "m" {
  for_each = toset(["a@acme.example", "b@acme.example", "c@acme.example"])
  email    = each.key
  role     = "member"
}
resource "mixpanel_project_member" "g" {
  for_each   = toset(["a@acme.example", "b@acme.example", "c@acme.example", "stranger@elsewhere.example"])
  project_id = mixpanel_project.p.id
  email      = each.key
  role       = "analyst"
  depends_on = [mixpanel_organization_member.m]
}
"#;
    let ws = Workspace::new(&emu, &creds, body);
    let o = ws.run(&["apply", "-auto-approve", "-no-color", "-input=false"]);
    let out = text(&o);
    assert!(!o.status.success(), "{out}");
    assert_eq!(
        out.matches("Error: Cannot grant the project role").count(),
        1,
        "{out}"
    );
    assert!(out.contains("stranger@elsewhere.example"), "{out}");
    let listed = ws.state_list();
    for who in ["a@acme.example", "b@acme.example", "c@acme.example"] {
        assert!(
            listed.contains(&format!("mixpanel_project_member.g[\"{who}\"]")),
            "{listed}"
        );
    }
    assert!(!listed.contains("stranger"), "{listed}");
}

// ---------------------------------------------------------------------------------------------
// Issue 9: list data sources, authoritative sets, organization settings
// ---------------------------------------------------------------------------------------------

impl Workspace {
    fn outputs(&self) -> Value {
        let o = self.dir.run_ok(&["output", "-json"]);
        serde_json::from_slice(&o.stdout).expect("outputs")
    }
}

/// The list data sources, filtered, and the effective access of a service account; a
/// credential that cannot see everything gets an error, or with `allow_partial` a list that
/// says it is partial.
#[test]
fn list_data_sources_and_a_service_accounts_effective_access() {
    let (emu, creds) = setup();
    let body = format!(
        r#"{PROJECT}{MEMBER}{TEAM}
resource "mixpanel_organization_member" "bob" {{
  email = "bob@acme.example"
  role  = "admin"
}}
resource "mixpanel_service_account" "etl" {{
  username = "etl"
  role     = "consumer"
  expires  = "2099-01-01T00:00:00Z"
}}
resource "mixpanel_team_member" "etl" {{
  team_id            = mixpanel_team.t.id
  service_account_id = mixpanel_service_account.etl.id
}}
resource "mixpanel_team_member" "ana" {{
  team_id = mixpanel_team.t.id
  email   = mixpanel_organization_member.ana.email
}}
resource "mixpanel_team_project" "tp" {{
  team_id    = mixpanel_team.t.id
  project_id = mixpanel_project.p.id
  role       = "analyst"
}}
resource "mixpanel_service_account_project" "etl" {{
  project_id         = mixpanel_project.p.id
  service_account_id = mixpanel_service_account.etl.id
  role               = "admin"
}}
data "mixpanel_organization_members" "admins" {{
  role       = "admin"
  depends_on = [mixpanel_organization_member.bob, mixpanel_organization_member.ana]
}}
data "mixpanel_organization_members" "invited" {{
  status     = "invited"
  depends_on = [mixpanel_organization_member.bob, mixpanel_organization_member.ana]
}}
data "mixpanel_teams" "all" {{
  depends_on = [mixpanel_team_member.etl, mixpanel_team_member.ana, mixpanel_team_project.tp]
}}
data "mixpanel_service_accounts" "all" {{
  depends_on = [mixpanel_service_account.etl]
}}
data "mixpanel_projects" "all" {{
  depends_on = [mixpanel_project.p]
}}
data "mixpanel_effective_access" "etl" {{
  service_account_id = mixpanel_service_account.etl.id
  depends_on         = [mixpanel_team_member.etl, mixpanel_team_project.tp, mixpanel_service_account_project.etl]
}}
output "admins" {{ value = data.mixpanel_organization_members.admins }}
output "invited" {{ value = data.mixpanel_organization_members.invited.members[*].email }}
output "teams" {{ value = data.mixpanel_teams.all }}
output "accounts" {{ value = data.mixpanel_service_accounts.all }}
output "projects" {{ value = data.mixpanel_projects.all }}
output "etl" {{ value = data.mixpanel_effective_access.etl }}
"#
    );
    let ws = Workspace::new(&emu, &creds, &body);
    ws.apply();
    let out = ws.outputs();
    let admins = &out["admins"]["value"];
    assert_eq!(admins["complete"], true);
    let emails: Vec<&str> = admins["members"]
        .as_array()
        .expect("members")
        .iter()
        .filter_map(|m| m["email"].as_str())
        .collect();
    assert_eq!(emails, ["bob@acme.example"], "{admins}");
    assert_eq!(
        out["invited"]["value"],
        serde_json::json!(["ana@acme.example", "bob@acme.example"])
    );
    let team = &out["teams"]["value"]["teams"][0];
    assert_eq!(team["name"], "Data Engineering");
    assert_eq!(team["members"], serde_json::json!(["ana@acme.example"]));
    let etl_id = ws.values("mixpanel_service_account.etl")["id"].clone();
    assert_eq!(team["service_account_ids"], serde_json::json!([etl_id]));
    assert_eq!(team["projects"][0]["role"], "analyst");
    let accounts = out["accounts"]["value"]["service_accounts"]
        .as_array()
        .expect("accounts")
        .clone();
    let etl = accounts
        .iter()
        .find(|a| a["id"] == etl_id)
        .expect("etl listed");
    assert_eq!(etl["expires"], "2099-01-01T00:00:00Z");
    assert!(etl["username"]
        .as_str()
        .is_some_and(|u| u.starts_with("etl.")));
    // The provider's own account has been used; etl never.
    assert!(
        accounts.iter().any(|a| a["last_used"].is_string()),
        "{accounts:?}"
    );
    assert_eq!(etl["last_used"], Value::Null);
    let pid = ws.values("mixpanel_project.p")["id"].clone();
    assert_eq!(out["projects"]["value"]["projects"][0]["id"], pid);
    assert_eq!(
        out["projects"]["value"]["projects"][0]["data_residency"],
        "eu"
    );
    let etl_access = &out["etl"]["value"];
    assert_eq!(etl_access["organization_role"], "member");
    assert_eq!(etl_access["projects"][0]["role"], "admin");
    assert_eq!(
        etl_access["projects"][0]["sources"],
        serde_json::json!(["individual:admin", "team:Data Engineering:analyst"])
    );
    ws.assert_no_changes();

    // A member-role account sees only part of the organization: each list says so.
    let weak = analyst(&emu, &creds);
    let ws = Workspace::new(
        &emu,
        &weak,
        r#"
data "mixpanel_teams" "all" {}
"#,
    );
    let o = ws.run(&["plan", "-no-color", "-input=false", "-refresh=false"]);
    let out = text(&o);
    assert!(!o.status.success(), "{out}");
    assert!(out.contains("Cannot list all teams"), "{out}");
    assert!(out.contains("allow_partial"), "{out}");
    for ds in [
        "mixpanel_organization_members",
        "mixpanel_service_accounts",
        "mixpanel_projects",
    ] {
        ws.write(&format!("data \"{ds}\" \"x\" {{}}\n"));
        let o = ws.run(&["plan", "-no-color", "-input=false", "-refresh=false"]);
        assert!(!o.status.success(), "{ds}: {}", text(&o));
        assert!(text(&o).contains("Cannot list all"), "{ds}: {}", text(&o));
    }
    ws.write(
        r#"
data "mixpanel_teams" "all" {
  allow_partial = true
}
output "complete" { value = data.mixpanel_teams.all.complete }
"#,
    );
    ws.ok(&[
        "apply",
        "-auto-approve",
        "-no-color",
        "-input=false",
        "-refresh=false",
    ]);
    assert_eq!(ws.outputs()["complete"]["value"], false);
}

const SETS: &str = r#"
resource "mixpanel_project" "p" {
  name                = "analytics-dev"
  timezone            = "Europe/Paris"
  deletion_protection = false
}
resource "mixpanel_organization_member" "ana" {
  email = "ana@acme.example"
  role  = "member"
}
resource "mixpanel_team" "t" {
  name = "Data Engineering"
}
resource "mixpanel_service_account" "etl" {
  username = "etl"
  role     = "consumer"
}
resource "mixpanel_project_members" "p" {
  project_id   = mixpanel_project.p.id
  members      = { "ana@acme.example" = "analyst" }
  max_removals = 0
  depends_on   = [mixpanel_organization_member.ana]
}
resource "mixpanel_team_members" "t" {
  team_id             = mixpanel_team.t.id
  emails              = [mixpanel_organization_member.ana.email]
  service_account_ids = [mixpanel_service_account.etl.id]
}
"#;

/// The authoritative sets: apply, empty plans, import; a project owner and a team member added
/// through the API outside Terraform are planned for removal (and `max_removals` refuses the
/// plan by name first); with Mixpanel's missing routes hidden the removal fails and says where
/// to make it; destroy removes what the resources held.
#[test]
fn authoritative_sets_plan_out_of_band_members_for_removal() {
    use mixpanel_access::model::{Email, ProjectId};
    let (emu, creds) = setup();
    let ws = Workspace::new(&emu, &creds, SETS);
    ws.apply();
    ws.assert_no_changes();
    let project: u64 = ws.values("mixpanel_project.p")["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("project id");
    let team: u64 = ws.values("mixpanel_team.t")["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("team id");
    assert_eq!(
        ws.values("mixpanel_project_members.p")["members"],
        serde_json::json!({"ana@acme.example": "analyst"})
    );
    ws.check_import(
        "mixpanel_project_members.p",
        &project.to_string(),
        &["max_removals"],
    );
    ws.check_import("mixpanel_team_members.t", &team.to_string(), &[]);
    ws.apply();
    ws.assert_no_changes();

    // Out of band, through the API: eve joins, becomes a project owner and a team member.
    let rt = runtime();
    let client = emu.client(&creds);
    let org = OrgId(creds.org_id);
    let eve: Email = "eve@acme.example".parse().expect("email");
    rt.block_on(client.invite_org_users(org, std::slice::from_ref(&eve), OrgRole::Member))
        .expect("invite eve");
    rt.block_on(client.add_users_to_projects(
        org,
        std::slice::from_ref(&eve),
        &[ProjectId(project)],
        ProjectRole::Owner,
    ))
    .expect("eve owner");
    rt.block_on(client.add_users_to_team(org, TeamId(team), std::slice::from_ref(&eve)))
        .expect("eve in team");

    // max_removals = 0 refuses the plan, naming her.
    let (code, out) = ws.plan_code(&[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("Too many removals"), "{out}");
    assert!(out.contains("eve@acme.example"), "{out}");

    // With room for one removal the plan shows both removals.
    let sets = SETS.replace("max_removals = 0", "max_removals = 1");
    ws.write(&sets);
    let (code, out) = ws.plan_code(&[]);
    assert_eq!(code, 2, "{out}");
    eprintln!("PLAN WITH AN OUT-OF-BAND PROJECT OWNER:\n{}", {
        let o = ws.run(&["plan", "-no-color", "-input=false"]);
        String::from_utf8_lossy(&o.stdout).into_owned()
    });
    assert!(
        out.contains("\"eve@acme.example\" = \"owner\" -> null"),
        "{out}"
    );
    assert!(out.contains("- \"eve@acme.example\""), "{out}");

    // Where Mixpanel has no removal route, the apply fails and says where to do it.
    emu.faults(Some(serde_json::json!({"hide_emulator_only_routes": true})));
    let o = ws.run(&["apply", "-auto-approve", "-no-color", "-input=false"]);
    let out = text(&o);
    assert!(!o.status.success(), "{out}");
    assert!(out.contains("Mixpanel's web app"), "{out}");
    assert!(
        out.contains("Cannot remove the grants of eve@acme.example"),
        "{out}"
    );
    assert!(
        out.contains("Cannot remove eve@acme.example from team"),
        "{out}"
    );
    assert_eq!(ws.plan_code(&[]).0, 2, "still planned");

    emu.faults(None);
    ws.apply();
    ws.assert_no_changes();
    let grants = rt
        .block_on(client.granted_users(ProjectId(project)))
        .expect("grants");
    assert!(!grants.iter().any(|g| g.email == eve), "{grants:?}");
    let teams = rt.block_on(client.list_teams(org)).expect("teams");
    assert!(!teams[0].members.contains(&eve), "{teams:?}");

    // A role change applies in place.
    ws.write(&sets.replace("= \"analyst\"", "= \"admin\""));
    let (code, out) = ws.plan_code(&[]);
    assert!(code == 2 && out.contains("updated in-place"), "{out}");
    ws.apply();
    ws.assert_no_changes();

    ws.ok(&["destroy", "-auto-approve", "-no-color"]);
}

const ORG_SETTINGS: &str = r#"
resource "mixpanel_organization_settings" "org" {
  discoverability      = "admin_approval"
  discoverable_domains = ["acme.example", "acme-corp.example"]
  two_factor_required  = true
}
"#;

/// Organization settings: apply, empty plans, import; a two-factor change made outside
/// Terraform shows in the plan; each change of the requirement is in the audit log; a public
/// domain is refused; destroy leaves the settings and says so.
#[test]
fn organization_settings_lifecycle() {
    use mixpanel_access::api::wire::{AuditLogQuery, Discoverability};
    let (emu, creds) = setup();
    let ws = Workspace::new(&emu, &creds, ORG_SETTINGS);
    ws.apply();
    ws.assert_no_changes();
    let v = ws.values("mixpanel_organization_settings.org");
    assert_eq!(v["id"], creds.org_id.to_string());
    assert_eq!(v["sso_enabled"], false);
    assert_eq!(v["discoverability"], "admin_approval");
    let rt = runtime();
    let client = emu.client(&creds);
    let org = OrgId(creds.org_id);
    let disc = rt.block_on(client.get_discoverability(org)).expect("read");
    assert_eq!(disc.discoverability, Discoverability::Request);
    assert!(disc.validated);
    assert_eq!(
        rt.block_on(client.get_discoverable_domains(org))
            .expect("domains"),
        ["acme-corp.example", "acme.example"]
    );
    assert!(
        rt.block_on(client.get_two_factor(org))
            .expect("2fa")
            .twofactor_auth_required
    );
    ws.check_import(
        "mixpanel_organization_settings.org",
        &creds.org_id.to_string(),
        &[],
    );
    ws.assert_no_changes();

    // Out of band: two-factor turned off, the organization opened.
    rt.block_on(client.set_two_factor(org, false))
        .expect("2fa off");
    rt.block_on(client.set_discoverability(org, Discoverability::Open))
        .expect("open");
    let (code, out) = ws.plan_code(&[]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("two_factor_required = false -> true"), "{out}");
    assert!(
        out.contains("discoverability = \"open\" -> \"admin_approval\""),
        "{out}"
    );
    ws.apply();
    ws.assert_no_changes();
    let events = rt
        .block_on(client.audit_logs(
            org,
            &AuditLogQuery {
                types: vec![
                    "organization_access_security.twofactor_enabled".into(),
                    "organization_access_security.twofactor_disabled".into(),
                ],
                ..Default::default()
            },
        ))
        .expect("audit");
    let kinds: Vec<String> = events.results.iter().map(|e| e.kind()).collect();
    assert_eq!(
        kinds,
        [
            "organization_access_security.twofactor_enabled",
            "organization_access_security.twofactor_disabled",
            "organization_access_security.twofactor_enabled"
        ],
        "newest first"
    );

    // A public domain is refused by Mixpanel, with the domain named.
    ws.write(&ORG_SETTINGS.replace("\"acme-corp.example\"", "\"gmail.com\""));
    let o = ws.run(&["apply", "-auto-approve", "-no-color", "-input=false"]);
    let out = text(&o);
    assert!(!o.status.success(), "{out}");
    assert!(out.contains("Cannot set the discoverable domains"), "{out}");
    assert!(out.contains("gmail.com"), "{out}");
    ws.write(ORG_SETTINGS);
    ws.apply();
    ws.assert_no_changes();

    // Destroy says it changes nothing, and it does not.
    let out = ws.ok(&["destroy", "-auto-approve", "-no-color"]);
    assert!(out.contains("changes nothing in Mixpanel"), "{out}");
    assert!(
        rt.block_on(client.get_two_factor(org))
            .expect("2fa")
            .twofactor_auth_required
    );
    assert_eq!(
        rt.block_on(client.get_discoverability(org))
            .expect("read")
            .discoverability,
        Discoverability::Request
    );
}

const CUSTOM_ROLE: &str = r#"
resource "mixpanel_project" "p" {
  name                = "analytics-dev"
  timezone            = "Europe/Paris"
  deletion_protection = false
}
resource "mixpanel_custom_role" "r" {
  project_id  = mixpanel_project.p.id
  name        = "Report builder"
  description = "Builds and exports reports"
  permissions = ["view_reports", "create_reports", "export_data"]
}
"#;

/// Custom roles: apply, empty plans, import, an out-of-band change shown in the plan, an
/// unknown permission refused with the catalogue, the five-per-project limit, destroy.
#[test]
fn custom_role_lifecycle() {
    use mixpanel_access::api::wire::CustomRoleBody;
    use mixpanel_access::model::ProjectId;
    let (emu, creds) = setup();
    let ws = Workspace::new(&emu, &creds, CUSTOM_ROLE);
    ws.apply();
    ws.assert_no_changes();
    let v = ws.values("mixpanel_custom_role.r");
    let id = v["id"].as_str().expect("id").to_string();
    let role_id = v["role_id"].as_str().expect("role id").to_string();
    let project: u64 = ws.values("mixpanel_project.p")["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("project");
    ws.check_import("mixpanel_custom_role.r", &id, &[]);
    ws.assert_no_changes();

    // Out of band: someone adds a permission in the web app.
    let rt = runtime();
    let client = emu.client(&creds);
    rt.block_on(client.update_custom_role(
        ProjectId(project),
        &role_id,
        &CustomRoleBody {
            name: "Report builder".into(),
            description: "Builds and exports reports".into(),
            permissions: vec![
                "view_reports".into(),
                "create_reports".into(),
                "export_data".into(),
                "access_api_credentials".into(),
            ],
            copied_from_role_id: None,
        },
    ))
    .expect("out-of-band change");
    let (code, out) = ws.plan_code(&[]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("- \"access_api_credentials\""), "{out}");
    ws.apply();
    ws.assert_no_changes();

    // A permission the catalogue does not have is refused before anything is sent.
    ws.write(&CUSTOM_ROLE.replace("\"export_data\"]", "\"export_data\", \"fly\"]"));
    let o = ws.run(&["apply", "-auto-approve", "-no-color", "-input=false"]);
    let out = text(&o);
    assert!(!o.status.success(), "{out}");
    assert!(out.contains("Unknown permission"), "{out}");
    assert!(out.contains("no permission fly"), "{out}");
    assert!(
        out.contains("classified_data_access"),
        "the catalogue is listed: {out}"
    );
    ws.write(CUSTOM_ROLE);
    ws.assert_no_changes();

    // Five per project: four more made outside, a sixth through Terraform is refused.
    for i in 0..4 {
        rt.block_on(client.create_custom_role(
            ProjectId(project),
            &CustomRoleBody {
                name: format!("Outside {i}"),
                description: String::new(),
                permissions: vec!["view_reports".into()],
                copied_from_role_id: None,
            },
        ))
        .expect("outside role");
    }
    ws.write(&format!(
        "{CUSTOM_ROLE}{}",
        r#"
resource "mixpanel_custom_role" "sixth" {
  project_id  = mixpanel_project.p.id
  name        = "Sixth"
  permissions = ["view_reports"]
}
"#
    ));
    let o = ws.run(&["apply", "-auto-approve", "-no-color", "-input=false"]);
    let out = text(&o);
    assert!(!o.status.success(), "{out}");
    assert!(out.contains("Too many custom roles"), "{out}");
    assert!(out.contains("Outside 3"), "{out}");
    ws.write(CUSTOM_ROLE);
    ws.ok(&["destroy", "-auto-approve", "-no-color"]);
}

const DATA_VIEWS: &str = r#"
resource "mixpanel_project" "p" {
  name                = "analytics-dev"
  timezone            = "Europe/Paris"
  deletion_protection = false
}
resource "mixpanel_organization_member" "ana" {
  email = "ana@acme.example"
  role  = "member"
}
resource "mixpanel_team" "t" {
  name = "Marketing"
}
resource "mixpanel_data_view" "v" {
  project_id  = mixpanel_project.p.id
  name        = "Marketing only"
  description = "Signups and campaigns"
  restricted  = true
  filters     = jsonencode({ events = ["Signup", "Campaign Click"] })
}
resource "mixpanel_data_view_member" "ana" {
  project_id   = mixpanel_project.p.id
  data_view_id = mixpanel_data_view.v.data_view_id
  email        = mixpanel_organization_member.ana.email
}
resource "mixpanel_data_view_member" "team" {
  project_id   = mixpanel_project.p.id
  data_view_id = mixpanel_data_view.v.data_view_id
  team_id      = mixpanel_team.t.id
}
resource "mixpanel_classified_data_access" "ana" {
  project_id = mixpanel_project.p.id
  email      = mixpanel_organization_member.ana.email
}
resource "mixpanel_classified_data_access" "team" {
  project_id = mixpanel_project.p.id
  team_id    = mixpanel_team.t.id
}
"#;

/// Data views, their members and classified-data access: apply, empty plans, import,
/// out-of-band changes shown in the plan, the missing upstream read said plainly, destroy.
#[test]
fn data_views_and_classified_access_lifecycle() {
    use mixpanel_access::api::wire::{DataViewMembers, UpdateDataView};
    use mixpanel_access::model::ProjectId;
    let (emu, creds) = setup();
    let ws = Workspace::new(&emu, &creds, DATA_VIEWS);
    ws.apply();
    ws.assert_no_changes();
    let project: u64 = ws.values("mixpanel_project.p")["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("project");
    let team: u64 = ws.values("mixpanel_team.t")["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("team");
    let v = ws.values("mixpanel_data_view.v");
    let view: u64 = v["data_view_id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("view");
    let rt = runtime();
    let client = emu.client(&creds);
    let held = rt
        .block_on(client.get_data_view(ProjectId(project), view))
        .expect("view");
    assert!(held.is_restricted);
    assert_eq!(
        held.data_filters,
        serde_json::json!({"events": ["Signup", "Campaign Click"]})
    );
    assert_eq!(held.member_list[0].email.as_str(), "ana@acme.example");
    assert_eq!(held.team_list[0].id, TeamId(team));
    let access = rt
        .block_on(client.get_classified_access(ProjectId(project)))
        .expect("access");
    assert_eq!(access.teams, [TeamId(team)]);

    for (address, id) in [
        ("mixpanel_data_view.v", format!("{project}/{view}")),
        (
            "mixpanel_data_view_member.ana",
            format!("{project}/{view}/ana@acme.example"),
        ),
        (
            "mixpanel_data_view_member.team",
            format!("{project}/{view}/team/{team}"),
        ),
        (
            "mixpanel_classified_data_access.ana",
            format!("{project}/ana@acme.example"),
        ),
        (
            "mixpanel_classified_data_access.team",
            format!("{project}/team/{team}"),
        ),
    ] {
        ws.check_import(address, &id, &["filters"]);
    }
    ws.assert_no_changes();

    // Out of band: the view opened up, ana removed from it, the team's access revoked.
    rt.block_on(client.update_data_view(
        ProjectId(project),
        &UpdateDataView {
            id: view,
            is_restricted: Some(false),
            ..Default::default()
        },
    ))
    .expect("open the view");
    rt.block_on(client.delete_data_view_members(
        ProjectId(project),
        &DataViewMembers {
            id: view,
            user_emails: vec!["ana@acme.example".parse().expect("email")],
            team_ids: vec![],
        },
    ))
    .expect("remove ana");
    let mut off = std::collections::BTreeMap::new();
    off.insert(team.to_string(), false);
    rt.block_on(client.set_team_classified_access(ProjectId(project), &off))
        .expect("revoke");
    let (code, out) = ws.plan_code(&[]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("restricted = false -> true"), "{out}");
    assert!(
        out.contains("mixpanel_data_view_member.ana will be created"),
        "{out}"
    );
    assert!(
        out.contains("mixpanel_classified_data_access.team will be created"),
        "{out}"
    );
    ws.apply();
    ws.assert_no_changes();

    // Upstream there is no read of classified-data access: the refresh says so.
    emu.faults(Some(serde_json::json!({"hide_emulator_only_routes": true})));
    let (code, out) = ws.plan_code(&[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("Cannot read classified-data access"), "{out}");
    assert!(out.contains("Mixpanel's web app"), "{out}");
    emu.faults(None);

    ws.ok(&["destroy", "-auto-approve", "-no-color"]);
}

/// The setup guide's module example (examples/setup-guide): a development and a production
/// project with the same teams in different roles applies, and the next plan is empty.
#[test]
fn setup_guide_module_example_applies_and_the_next_plan_is_empty() {
    let (emu, creds) = setup();
    let ws = Workspace::new(&emu, &creds, "");
    let src = repo().join("examples/setup-guide");
    let dst = ws.dir.path();
    std::fs::copy(src.join("main.tf"), dst.join("main.tf")).expect("main.tf");
    let module = dst.join("modules/environment");
    std::fs::create_dir_all(&module).expect("module dir");
    for f in ["main.tf", "variables.tf", "outputs.tf"] {
        std::fs::copy(src.join("modules/environment").join(f), module.join(f))
            .expect("module file");
    }
    // Local modules need `terraform get` (no provider installation: dev_overrides serve it).
    ws.ok(&["get", "-no-color"]);
    ws.apply();
    ws.assert_no_changes();
    let out = ws.outputs();
    assert_eq!(
        out["ben_access"]["value"],
        serde_json::json!({
            "analytics-development": ["team:Engineering:admin"],
            "analytics-production": ["team:Engineering:analyst"],
        })
    );
}

/// A custom role is assignable as a project role: to one member (`mixpanel_project_member`)
/// and in an authoritative set (`mixpanel_project_members`), read back as `custom:<role_id>`;
/// deleting the role leaves its holders with consumer.
#[test]
fn a_custom_role_is_assignable_to_project_members() {
    use mixpanel_access::model::ProjectId;
    let (emu, creds) = setup();
    let body = format!(
        r#"{CUSTOM_ROLE}
resource "mixpanel_organization_member" "ana" {{
  email = "ana@acme.example"
  role  = "member"
}}
resource "mixpanel_organization_member" "bo" {{
  email = "bo@acme.example"
  role  = "member"
}}
resource "mixpanel_project_members" "p" {{
  project_id = mixpanel_project.p.id
  members = {{
    (mixpanel_organization_member.ana.email) = "custom:${{mixpanel_custom_role.r.role_id}}"
    (mixpanel_organization_member.bo.email)  = "analyst"
  }}
}}
"#
    );
    let ws = Workspace::new(&emu, &creds, &body);
    ws.apply();
    ws.assert_no_changes();
    let role_id = ws.values("mixpanel_custom_role.r")["role_id"]
        .as_str()
        .expect("role id")
        .to_string();
    let project: u64 = ws.values("mixpanel_project.p")["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("project");
    assert_eq!(
        ws.values("mixpanel_project_members.p")["members"]["ana@acme.example"],
        format!("custom:{role_id}")
    );
    let rt = runtime();
    let client = emu.client(&creds);
    let grants = rt
        .block_on(client.granted_users(ProjectId(project)))
        .expect("grants");
    let ana = grants
        .iter()
        .find(|g| g.email.as_str() == "ana@acme.example")
        .expect("ana");
    assert_eq!(ana.custom_role_id.as_deref(), Some(role_id.as_str()));
    assert_eq!(ana.role, ProjectRole::Consumer);
    ws.check_import("mixpanel_project_members.p", &project.to_string(), &[]);
    ws.assert_no_changes();

    // From the custom role to a built-in one, in place.
    ws.write(&body.replace("\"custom:${mixpanel_custom_role.r.role_id}\"", "\"admin\""));
    let (code, out) = ws.plan_code(&[]);
    assert!(code == 2 && out.contains("updated in-place"), "{out}");
    ws.apply();
    ws.assert_no_changes();

    // A malformed custom role is a plan-time error on the attribute.
    ws.write(&body.replace("\"analyst\"", "\"custom:not a uuid\""));
    let (code, out) = ws.plan_code(&[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("custom:<role_id>"), "{out}");

    // One member with the custom role; deleting the role leaves them consumer.
    let single = format!(
        r#"{CUSTOM_ROLE}
resource "mixpanel_organization_member" "ana" {{
  email = "ana@acme.example"
  role  = "member"
}}
resource "mixpanel_project_member" "ana" {{
  project_id = mixpanel_project.p.id
  email      = mixpanel_organization_member.ana.email
  role       = "custom:${{mixpanel_custom_role.r.role_id}}"
}}
"#
    );
    // The authoritative set goes first (the two resources would fight over ana's grant).
    ws.write(CUSTOM_ROLE);
    ws.apply();
    ws.write(&single);
    ws.apply();
    ws.assert_no_changes();
    ws.check_import(
        "mixpanel_project_member.ana",
        &format!("{project}/ana@acme.example"),
        &[],
    );

    // A team's project role and a service account's may be the custom role too.
    let more = r#"
resource "mixpanel_team" "t" {
  name = "Reporting"
}
resource "mixpanel_team_project" "t" {
  team_id    = mixpanel_team.t.id
  project_id = mixpanel_project.p.id
  role       = "custom:${mixpanel_custom_role.r.role_id}"
}
data "mixpanel_teams" "all" {
  depends_on = [mixpanel_team_project.t]
}
output "team_role" { value = data.mixpanel_teams.all.teams[0].projects[0].role }
data "mixpanel_effective_access" "ana" {
  email      = mixpanel_organization_member.ana.email
  depends_on = [mixpanel_project_member.ana]
}
output "ana" { value = data.mixpanel_effective_access.ana.projects[0] }
resource "mixpanel_service_account" "etl" {
  username = "etl"
  role     = "consumer"
}
resource "mixpanel_service_account_project" "etl" {
  project_id         = mixpanel_project.p.id
  service_account_id = mixpanel_service_account.etl.id
  role               = "custom:${mixpanel_custom_role.r.role_id}"
}
"#;
    ws.write(&format!("{single}{more}"));
    ws.apply();
    ws.assert_no_changes();
    let out = ws.outputs();
    assert_eq!(out["team_role"]["value"], format!("custom:{role_id}"));
    // Effective access names the custom role and adds its permissions to consumer's.
    let ana = &out["ana"]["value"];
    assert_eq!(ana["role"], "consumer");
    assert_eq!(
        ana["sources"],
        serde_json::json!([format!("individual:custom:{role_id}")])
    );
    let caps = ana["capabilities"].as_array().expect("capabilities");
    assert!(caps.contains(&Value::from("view_reports")), "{caps:?}");
    assert!(caps.contains(&Value::from("export_data")), "{caps:?}");
    assert!(
        !caps.contains(&Value::from("access_api_credentials")),
        "{caps:?}"
    );
    let tp = ws.values("mixpanel_team_project.t")["id"]
        .as_str()
        .expect("id")
        .to_string();
    ws.check_import("mixpanel_team_project.t", &tp, &[]);
    let sp = ws.values("mixpanel_service_account_project.etl");
    assert_eq!(sp["role"], format!("custom:{role_id}"));
    ws.check_import(
        "mixpanel_service_account_project.etl",
        sp["id"].as_str().expect("id"),
        &[],
    );
    ws.assert_no_changes();

    // Deleting the role outside Terraform leaves its holders consumer: the plan shows it.
    rt.block_on(client.delete_custom_role(ProjectId(project), &role_id))
        .expect("delete role");
    let (code, out) = ws.plan_code(&[]);
    assert_eq!(code, 2, "{out}");
    for address in [
        "mixpanel_project_member.ana",
        "mixpanel_team_project.t",
        "mixpanel_service_account_project.etl",
    ] {
        assert!(
            out.contains(&format!("# {address} will be updated in-place")),
            "{address}: {out}"
        );
    }
    assert!(out.contains("~ role = \"consumer\" ->"), "{out}");
}

/// A provider account below admin cannot change the organization's settings: the apply fails
/// naming the role it needs, and nothing changed.
#[test]
fn organization_settings_need_an_admin() {
    let (emu, creds) = setup();
    let weak = analyst(&emu, &creds);
    let ws = Workspace::new(&emu, &weak, ORG_SETTINGS);
    let o = ws.run(&["apply", "-auto-approve", "-no-color", "-input=false"]);
    let out = text(&o);
    assert!(!o.status.success(), "{out}");
    assert!(out.contains("Cannot set the discoverable domains"), "{out}");
    assert!(out.contains("owner or admin"), "{out}");
    let client = emu.client(&creds);
    let two_factor = runtime()
        .block_on(client.get_two_factor(OrgId(creds.org_id)))
        .expect("read");
    assert!(!two_factor.twofactor_auth_required, "nothing changed");
}

/// The ids of the running provider processes whose parent is `parent`.
fn provider_children(parent: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // pid (comm) state ppid ...
        let Some((comm, rest)) = stat.split_once(") ") else {
            continue;
        };
        let mut f = rest.split_whitespace();
        let state = f.next().unwrap_or("");
        let ppid: u32 = f.next().and_then(|x| x.parse().ok()).unwrap_or(0);
        if ppid == parent && comm.contains("terraform-prov") && state != "Z" {
            out.push(pid);
        }
    }
    out
}

/// Whether process `pid` is gone (or a zombie: it has exited, only its exit status is left).
fn process_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .split_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z')),
        Err(_) => true,
    }
}

const KILLED: &str = r#"
resource "mixpanel_project" "p" {
  name                = "killed-project"
  timezone            = "UTC"
  deletion_protection = false
}
resource "mixpanel_service_account" "sa" {
  username = "killed-sa"
  role     = "consumer"
}
resource "mixpanel_organization_member" "m" {
  count = 6
  email = "killed${count.index}@example.com"
  role  = "member"
}
resource "mixpanel_team" "t" {
  count = 2
  name  = "Killed ${count.index}"
}
resource "mixpanel_team_member" "tm" {
  count   = 6
  team_id = mixpanel_team.t[count.index % 2].id
  email   = mixpanel_organization_member.m[count.index].email
}
"#;

/// The ids of the projects named `name` and of the service accounts whose requested username
/// is `sa`, as Mixpanel lists them.
fn killed_objects(emu: &Emulator, creds: &Creds, name: &str, sa: &str) -> (Vec<u64>, Vec<u64>) {
    let rt = runtime();
    let c = emu.client(creds);
    let org = OrgId(creds.org_id);
    let projects = rt
        .block_on(c.list_projects(org))
        .expect("projects")
        .into_iter()
        .filter(|p| p.name == name)
        .map(|p| p.id.0)
        .collect();
    let accounts = rt
        .block_on(c.list_service_accounts(org))
        .expect("accounts")
        .into_iter()
        .filter(|a| a.username.base_name() == sa)
        .map(|a| a.id.0)
        .collect();
    (projects, accounts)
}

#[test]
fn after_kill_9_of_terraform_the_provider_exits_and_the_next_apply_converges_or_names_the_import() {
    let (emu, creds) = setup();
    let ws = Workspace::new(&emu, &creds, KILLED);
    // Slow member and team answers, so that terraform is mid-apply when it is killed, just
    // after Mixpanel made the project and the service account (answered fast): terraform has
    // their answers, and dies before it writes them to its state.
    emu.faults(Some(serde_json::json!({
        "latency_ms": 700,
        "routes": ["invite_org_users", "add_teams", "add_users_to_teams"],
    })));
    let mut tf = ws
        .dir
        .command(&["apply", "-auto-approve", "-no-color", "-input=false"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("terraform apply");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let providers = loop {
        let (p, a) = killed_objects(&emu, &creds, "killed-project", "killed-sa");
        let writes = emu.counters()["invite_org_users"]["POST"]
            .as_u64()
            .unwrap_or(0)
            + emu.counters()["add_teams"]["POST"].as_u64().unwrap_or(0);
        let children = provider_children(tf.id());
        if writes > 0 && p.len() == 1 && a.len() == 1 && !children.is_empty() {
            break children;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "terraform never reached the writes"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    tf.kill().expect("kill -9 terraform");
    let _ = tf.wait();
    let killed = std::time::Instant::now();
    while !providers.iter().all(|p| process_gone(*p)) {
        assert!(
            killed.elapsed() < std::time::Duration::from_secs(5),
            "the provider {providers:?} outlived terraform by 5 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    println!(
        "provider gone {} ms after kill -9 of terraform",
        killed.elapsed().as_millis()
    );
    emu.faults(None);
    let (projects, accounts) = killed_objects(&emu, &creds, "killed-project", "killed-sa");
    let state =
        std::fs::read_to_string(ws.dir.path().join("terraform.tfstate")).unwrap_or_default();
    let lost: Vec<&str> = [
        ("mixpanel_project", projects[0]),
        ("mixpanel_service_account", accounts[0]),
    ]
    .iter()
    .filter(|(_, id)| !state.contains(&format!("\"id\": \"{id}\"")))
    .map(|(t, _)| *t)
    .collect();
    println!("made by the killed apply, not in its state: {lost:?}");
    // Terraform may have left its state lock behind.
    let apply = [
        "apply",
        "-auto-approve",
        "-no-color",
        "-input=false",
        "-lock=false",
    ];
    let o = ws.run(&apply);
    let out = text(&o);
    // Never a twin: one project of that name and one account of that username, whatever the
    // second apply did.
    assert_eq!(
        killed_objects(&emu, &creds, "killed-project", "killed-sa"),
        (projects.clone(), accounts.clone()),
        "the apply after the kill made a twin:\n{out}"
    );
    if o.status.success() {
        assert!(
            lost.is_empty(),
            "the lost {lost:?} were not refused:\n{out}"
        );
        ws.assert_no_changes();
    } else {
        assert!(
            out.contains("terraform import") && out.contains("import {"),
            "a failed apply after the kill must name the import:\n{out}"
        );
        import_the_named(&ws, &out, &lost, &projects, &accounts);
    }
    // Terraform may persist its state before the kill lands; the same situation, made
    // deterministic: Mixpanel holds the project and the account, the state does not.
    ws.ok(&[
        "state",
        "rm",
        "-lock=false",
        "mixpanel_project.p",
        "mixpanel_service_account.sa",
    ]);
    let o = ws.run(&apply);
    let out = text(&o);
    assert!(
        !o.status.success(),
        "an apply adopted or recreated what the state lost:\n{out}"
    );
    assert_eq!(
        killed_objects(&emu, &creds, "killed-project", "killed-sa"),
        (projects.clone(), accounts.clone()),
        "the apply made a twin:\n{out}"
    );
    import_the_named(
        &ws,
        &out,
        &["mixpanel_project", "mixpanel_service_account"],
        &projects,
        &accounts,
    );
    assert_eq!(
        killed_objects(&emu, &creds, "killed-project", "killed-sa"),
        (projects, accounts),
        "a twin after the import"
    );
}

/// Checks that `out` names the exact import of each of `lost` (the project and the service
/// account of [`KILLED`]), imports them so, and checks that the next apply converges.
fn import_the_named(ws: &Workspace, out: &str, lost: &[&str], projects: &[u64], accounts: &[u64]) {
    for (kind, address, id) in [
        ("mixpanel_project", "mixpanel_project.p", projects[0]),
        (
            "mixpanel_service_account",
            "mixpanel_service_account.sa",
            accounts[0],
        ),
    ] {
        if lost.contains(&kind) {
            assert!(
                out.contains(&format!("terraform import {kind}.<name> {id}")),
                "{kind} {id} is not named:\n{out}"
            );
            ws.ok(&[
                "import",
                "-no-color",
                "-input=false",
                "-lock=false",
                address,
                &id.to_string(),
            ]);
        }
    }
    ws.ok(&[
        "apply",
        "-auto-approve",
        "-no-color",
        "-input=false",
        "-lock=false",
    ]);
    ws.assert_no_changes();
}

#[test]
fn a_server_that_never_answers_fails_the_plan_within_thirty_seconds_with_its_url() {
    let (emu, creds) = setup();
    // Accepts connections and never answers.
    let hole = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", hole.local_addr().expect("addr"));
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in hole.incoming().flatten() {
            held.push(c);
        }
    });
    let mut ws = Workspace::new(&emu, &creds, TEAM);
    ws.dir.set_env("MIXPANEL_API_URL", &url);
    let started = std::time::Instant::now();
    let mut child = ws
        .dir
        .command(&["plan", "-no-color", "-input=false"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("terraform plan");
    // Bounded here too, so that a hang fails the test instead of stalling it.
    while child.try_wait().expect("wait").is_none() {
        if started.elapsed() > std::time::Duration::from_secs(90) {
            let _ = child.kill();
            panic!("terraform plan against a black hole still runs after 90 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let took = started.elapsed();
    let o = child.wait_with_output().expect("output");
    let out = text(&o);
    println!("black-hole plan failed after {} ms", took.as_millis());
    assert!(!o.status.success(), "{out}");
    assert!(
        out.contains("did not answer") && out.contains(&url),
        "{out}"
    );
    assert!(took < std::time::Duration::from_secs(30), "{took:?}: {out}");
}

/// The requests of all routes and methods in a counter snapshot.
fn total_requests(counters: &Value) -> u64 {
    counters
        .as_object()
        .map(|routes| {
            routes
                .values()
                .filter_map(Value::as_object)
                .flat_map(|m| m.values().filter_map(Value::as_u64))
                .sum()
        })
        .unwrap_or(0)
}

#[test]
fn a_destroy_of_610_resources_sends_its_removals_together() {
    // Issue 16: 300 invitations and grants, their project, 3 teams and 6 team seats (610).
    let teams = r#"
resource "mixpanel_team" "t" {
  count = 3
  name  = "Destroy ${count.index}"
}
resource "mixpanel_team_member" "tm" {
  count   = 6
  team_id = mixpanel_team.t[count.index % 3].id
  email   = mixpanel_organization_member.m[count.index].email
}
"#;
    let (emu, creds) = setup();
    let ws = Workspace::new(&emu, &creds, &format!("{}{teams}", onboarding(300)));
    ws.apply();
    emu.reset_counters();
    ws.ok(&["destroy", "-auto-approve", "-no-color", "-input=false"]);
    let counters = emu.counters();
    let total = total_requests(&counters);
    println!("destroy of 610 resources: {total} requests: {counters}");
    // Every removal is verified by a read: nothing the configuration made is left.
    let rt = runtime();
    let c = emu.client(&creds);
    let org = OrgId(creds.org_id);
    let members = rt.block_on(c.list_org_users(org)).expect("members");
    assert!(
        !members
            .iter()
            .any(|m| m.email.to_string().starts_with("user")),
        "{members:?}"
    );
    assert!(rt.block_on(c.list_teams(org)).expect("teams").is_empty());
    // Removals one by one cost two requests per resource (the removal and its confirming
    // read: 1,235 before issue 16); together, a batch and one read for the batch.
    assert!(total < 610, "{total} requests for 610 removals: {counters}");
}

// ---------------------------------------------------------------------------------------------
// Issue 18: the access review as a data source, for `check` blocks
// ---------------------------------------------------------------------------------------------

const REVIEW_CHECKS: &str = r#"
data "mixpanel_access_review" "org" {
  dormant_days = 60
}
check "no_high_findings" {
  assert {
    condition = data.mixpanel_access_review.org.high_count == 0
    error_message = join("; ", [
      for f in data.mixpanel_access_review.org.findings :
      "${f.code} ${f.subject}" if f.severity == "high"
    ])
  }
}
output "review" { value = data.mixpanel_access_review.org }
"#;

/// `terraform plan` warns through a `check` block while the review has a high finding (one
/// owner, without two-factor), and stops warning once two owners with two-factor are in;
/// the review's last login then comes from the member list. A credential that sees only part
/// of the organization gets an error, not a review that looks complete.
#[test]
fn the_access_review_data_source_warns_in_a_check_block_on_a_high_finding() {
    let (emu, creds) = setup();
    let ws = Workspace::new(&emu, &creds, REVIEW_CHECKS);
    let o = ws.run(&["plan", "-no-color", "-input=false"]);
    let out = text(&o);
    println!(
        "--- terraform plan, one owner ---\n{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(
        o.status.success(),
        "a check block warns, it does not fail the plan: {out}"
    );
    assert!(
        out.contains("Warning: Check block assertion failed"),
        "{out}"
    );
    assert!(out.contains("org.too_few_owners organization"), "{out}");

    let owners = r#"
resource "mixpanel_organization_member" "bo" {
  email = "bo@acme.example"
  role  = "owner"
}
"#;
    ws.write(&format!("{REVIEW_CHECKS}{owners}"));
    ws.apply();
    let long_ago = (chrono::Utc::now() - chrono::Duration::days(200))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    // Two-factor enrolled at a login 200 days ago; the member list has a login now.
    emu.activate("bo@acme.example");
    emu.record_login(creds.org_id, "owner@acme.example", &long_ago, true);
    emu.record_login(creds.org_id, "bo@acme.example", &long_ago, true);
    ws.ok(&["refresh", "-no-color", "-input=false"]);
    let o = ws.run(&["plan", "-no-color", "-input=false"]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(!out.contains("Check block assertion failed"), "{out}");
    let review = &ws.outputs()["review"]["value"];
    assert_eq!(review["high_count"], 0, "{review}");
    assert_eq!(
        review["owners"],
        serde_json::json!(["bo@acme.example", "owner@acme.example"])
    );
    let bo = &review["members"][0];
    assert_eq!(bo["email"], "bo@acme.example", "{bo}");
    assert_eq!(bo["last_login_source"], "member_list", "{bo}");
    assert_eq!(bo["two_factor"], "enabled", "{bo}");
    let codes: Vec<&str> = review["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["code"].as_str())
        .collect();
    assert!(!codes.contains(&"member.dormant"), "{codes:?}");

    // A member-role account cannot review the organization.
    let weak = analyst(&emu, &creds);
    let ws = Workspace::new(&emu, &weak, REVIEW_CHECKS);
    let o = ws.run(&["plan", "-no-color", "-input=false"]);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("Cannot review the whole organization"),
        "{}",
        text(&o)
    );
}
