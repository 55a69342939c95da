//! Scenarios across the binaries: Terraform (through the provider) manages a project and its
//! team; the rotator keeps an integration's credential on that project in OpenBao and rotates
//! it; Mixpanel (the emulator) holds what both report, and Terraform sees no drift.

use std::process::{Command, Output};

use mixpanel_access::api::{Client, ClientConfig};
use mixpanel_access::model::ProjectId;
use secrecy::SecretString;
use serde_json::Value;
use testkit::emulator::{Creds, Emulator};
use testkit::openbao::OpenBao;
use testkit::terraform::{terraform_or_skip, TerraformDir, REQUIRED_PROVIDERS};
use testkit::{block_on, workspace_binary};

const CONFIG: &str = r#"
provider "mixpanel" {}

resource "mixpanel_project" "warehouse" {
  name                = "warehouse"
  timezone            = "UTC"
  deletion_protection = false
}

resource "mixpanel_team" "data" {
  name = "Data Platform"
}

resource "mixpanel_team_project" "data_warehouse" {
  team_id    = mixpanel_team.data.id
  project_id = mixpanel_project.warehouse.id
  role       = "admin"
}
"#;

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

struct Rotator<'a> {
    emu: &'a Emulator,
    creds: &'a Creds,
    bao: &'a OpenBao,
}

impl Rotator<'_> {
    fn run(&self, args: &[&str]) -> Output {
        Command::new(workspace_binary("mixpanel-rotator"))
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("MIXPANEL_API_URL", &self.emu.url)
            .env("MIXPANEL_ORGANIZATION_ID", self.creds.org_id.to_string())
            .env("MIXPANEL_SERVICE_ACCOUNT_USERNAME", &self.creds.username)
            .env("MIXPANEL_SERVICE_ACCOUNT_SECRET", &self.creds.secret)
            .env("VAULT_ADDR", self.bao.address())
            .env("VAULT_TOKEN", self.bao.root_token())
            .env("MIXPANEL_ROTATOR_LOG", "warn")
            .output()
            .expect("run mixpanel-rotator")
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        let out = text(&o);
        assert!(
            o.status.success(),
            "mixpanel-rotator {args:?} failed:\n{out}"
        );
        out
    }
}

/// The stored credential: (username, secret).
fn stored(bao: &OpenBao, name: &str) -> (String, String) {
    let url = format!(
        "{}/v1/secret/data/mixpanel-rotator/creds/{name}",
        bao.address()
    );
    let v: Value = block_on(async {
        reqwest::Client::new()
            .get(url)
            .header("X-Vault-Token", bao.root_token())
            .send()
            .await
            .expect("read Vault")
            .json()
            .await
            .expect("Vault json")
    });
    let data = &v["data"]["data"];
    (
        data["username"].as_str().expect("username").to_string(),
        data["secret"].as_str().expect("secret").to_string(),
    )
}

fn client(emu: &Emulator, username: &str, secret: &str) -> Client {
    let mut cfg = ClientConfig::new(&emu.url, username, SecretString::from(secret.to_string()))
        .expect("client config");
    cfg.max_retries = 0;
    Client::new(cfg).expect("client")
}

#[test]
fn terraform_manages_access_while_the_rotator_rotates_a_credential_into_openbao() {
    let emu = Emulator::start();
    let creds = emu.bootstrap("Acme", "owner");
    let bao = OpenBao::dev();

    // Terraform: the project and its team, through the provider binary.
    let terraform = terraform_or_skip("scenario").expect("terraform");
    let mut tf = TerraformDir::with_dev_overrides(
        terraform,
        &workspace_binary("terraform-provider-mixpanel"),
        &format!("{REQUIRED_PROVIDERS}{CONFIG}"),
    );
    tf.set_env("MIXPANEL_API_URL", &emu.url);
    tf.set_env("MIXPANEL_SERVICE_ACCOUNT_USERNAME", &creds.username);
    tf.set_env("MIXPANEL_SERVICE_ACCOUNT_SECRET", &creds.secret);
    tf.run_ok(&["apply", "-auto-approve", "-no-color", "-input=false"]);
    let shown: Value =
        serde_json::from_slice(&tf.run_ok(&["show", "-json"]).stdout).expect("show json");
    let project: u64 = shown["values"]["root_module"]["resources"]
        .as_array()
        .and_then(|rs| {
            rs.iter()
                .find(|r| r["address"] == "mixpanel_project.warehouse")
        })
        .and_then(|r| r["values"]["id"].as_str())
        .and_then(|id| id.parse().ok())
        .expect("project id in the state");

    // The rotator: a new analyst account on that project, its secret straight into OpenBao.
    let rotator = Rotator {
        emu: &emu,
        creds: &creds,
        bao: &bao,
    };
    let name = "warehouse/etl";
    rotator.ok(&[
        "inventory",
        "add",
        name,
        "--kind",
        "service_account",
        "--owner",
        "data-platform@acme.example",
        "--role",
        "analyst",
        "--project",
        &project.to_string(),
        "--create",
    ]);
    let (first_user, first_secret) = stored(&bao, name);
    let me = block_on(client(&emu, &first_user, &first_secret).me()).expect("stored secret works");
    assert!(me.projects.contains_key(&project.to_string()), "{me:?}");

    // An incident: rotate with no overlap. The stored credential is new and works; the old
    // one no longer authenticates.
    let out = rotator.ok(&["rotate", name, "--reason", "INC-1", "--overlap", "0s"]);
    assert!(
        !out.contains(&first_secret),
        "a secret in the output:\n{out}"
    );
    let (user, secret) = stored(&bao, name);
    assert_ne!(user, first_user);
    let me = block_on(client(&emu, &user, &secret).me()).expect("rotated secret works");
    let role = me.projects[&project.to_string()]
        .role
        .as_ref()
        .and_then(|r| r.name.clone());
    assert_eq!(
        role.as_deref(),
        Some("analyst"),
        "the successor keeps its project role"
    );
    let old = block_on(client(&emu, &first_user, &first_secret).me());
    assert!(old.is_err(), "the old credential still authenticates");
    let grants = block_on(
        emu.client(&creds)
            .list_project_service_accounts(ProjectId(project)),
    )
    .expect("project accounts");
    assert!(
        !grants
            .iter()
            .any(|g| g.account.username.as_str() == first_user),
        "the old account is still on the project: {grants:?}"
    );

    // The inventory names the current account; Terraform's plan is still empty.
    let md = rotator.ok(&["inventory", "export", "--format", "md"]);
    assert!(md.contains(name), "{md}");
    let plan = tf
        .command(&["plan", "-detailed-exitcode", "-no-color", "-input=false"])
        .output()
        .expect("plan");
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan));
}

/// The rotated credential's configuration: `warehouse` and `lab` are the roles on the two
/// projects.
fn rotated_config(warehouse: &str, lab: &str, protected: bool, with_team: bool) -> String {
    let teams = if with_team {
        "[mixpanel_team.bi.id]"
    } else {
        "[]"
    };
    format!(
        r#"{REQUIRED_PROVIDERS}
provider "mixpanel" {{
  vault {{}}
}}

resource "mixpanel_project" "warehouse" {{
  name                = "warehouse"
  timezone            = "UTC"
  deletion_protection = false
}}

resource "mixpanel_project" "lab" {{
  name                = "lab"
  timezone            = "UTC"
  deletion_protection = false
}}

resource "mixpanel_team" "bi" {{
  name = "BI"
}}

resource "mixpanel_rotated_credential" "looker" {{
  name                = "warehouse/looker"
  projects            = {{
    (mixpanel_project.warehouse.id) = "{warehouse}"
    (mixpanel_project.lab.id)       = "{lab}"
  }}
  teams               = {teams}
  integration         = "bi_tool"
  owner               = "data-platform@acme.example"
  used_by             = "looker"
  purpose             = "dashboards"
  rotation_period     = "30d"
  overlap             = "1h"
  deletion_protection = {protected}
}}
"#
    )
}

fn resource_values(tf: &TerraformDir, address: &str) -> Value {
    let shown: Value =
        serde_json::from_slice(&tf.run_ok(&["show", "-json"]).stdout).expect("show json");
    shown["values"]["root_module"]["resources"]
        .as_array()
        .and_then(|rs| rs.iter().find(|r| r["address"] == address))
        .map(|r| r["values"].clone())
        .unwrap_or_else(|| panic!("{address} not in the state: {shown}"))
}

/// The individual role of the account named `username` on each of `projects`, as Mixpanel
/// (the emulator) lists them.
fn roles_of(emu: &Emulator, creds: &Creds, username: &str, projects: &[u64]) -> Vec<String> {
    projects
        .iter()
        .map(|p| {
            let grants = block_on(
                emu.client(creds)
                    .list_project_service_accounts(ProjectId(*p)),
            )
            .expect("project accounts");
            grants
                .iter()
                .find(|g| {
                    g.account.username.as_str() == username
                        && g.target_type == mixpanel_access::model::TargetType::Individual
                })
                .map(|g| g.project_role.as_str().to_string())
                .unwrap_or_else(|| "none".into())
        })
        .collect()
}

/// Changes account `sa`'s role on `project` to consumer, outside Terraform.
fn drift_to_consumer(
    emu: &Emulator,
    creds: &Creds,
    sa: mixpanel_access::model::ServiceAccountId,
    project: u64,
) {
    block_on(emu.client(creds).add_service_accounts_to_projects(
        mixpanel_access::model::OrgId(creds.org_id),
        &[sa],
        &[mixpanel_access::model::ProjectRoleGrant {
            id: ProjectId(project),
            role: mixpanel_access::model::ProjectRole::Consumer,
        }],
    ))
    .expect("change a role out of band");
}

/// The state file rewritten as the provider's schema version 0 wrote it: `projects` a set of
/// ids and one `role` for all of them.
fn as_version_0(state: &str, address_name: &str, role: &str) -> String {
    let mut v: Value = serde_json::from_str(state).expect("state json");
    let resources = v["resources"].as_array_mut().expect("resources");
    let r = resources
        .iter_mut()
        .find(|r| r["type"] == "mixpanel_rotated_credential" && r["name"] == address_name)
        .expect("the credential in the state");
    let inst = &mut r["instances"][0];
    inst["schema_version"] = Value::from(0);
    let attrs = inst["attributes"].as_object_mut().expect("attributes");
    let ids: Vec<Value> = attrs["projects"]
        .as_object()
        .expect("projects map")
        .keys()
        .map(|k| Value::from(k.as_str()))
        .collect();
    attrs.insert("projects".into(), Value::Array(ids));
    attrs.insert("role".into(), Value::from(role));
    v["serial"] = Value::from(v["serial"].as_u64().unwrap_or(1) + 1);
    serde_json::to_string_pretty(&v).expect("state")
}

fn plan_code(tf: &TerraformDir) -> (Option<i32>, String) {
    let plan = tf
        .command(&["plan", "-detailed-exitcode", "-no-color", "-input=false"])
        .output()
        .expect("plan");
    (plan.status.code(), text(&plan))
}

#[test]
fn a_rotated_credential_keeps_its_secret_out_of_the_state_and_follows_the_rotator() {
    let emu = Emulator::start();
    let creds = emu.bootstrap("Acme", "owner");
    let bao = OpenBao::dev();
    let terraform = terraform_or_skip("rotated credential").expect("terraform");
    let mut tf = TerraformDir::with_dev_overrides(
        terraform,
        &workspace_binary("terraform-provider-mixpanel"),
        &rotated_config("analyst", "analyst", true, true),
    );
    tf.set_env("MIXPANEL_API_URL", &emu.url);
    tf.set_env("MIXPANEL_SERVICE_ACCOUNT_USERNAME", &creds.username);
    tf.set_env("MIXPANEL_SERVICE_ACCOUNT_SECRET", &creds.secret);
    tf.set_env("VAULT_ADDR", &bao.address());
    tf.set_env("VAULT_TOKEN", bao.root_token());
    let main = tf.path().join("main.tf");
    let name = "warehouse/looker";
    let addr = "mixpanel_rotated_credential.looker";

    tf.run_ok(&["apply", "-auto-approve", "-no-color", "-input=false"]);
    // The secret is in Vault and authenticates; it is in neither the state nor `show -json`.
    let (user, secret) = stored(&bao, name);
    let me = block_on(client(&emu, &user, &secret).me()).expect("the stored secret works");
    let v = resource_values(&tf, addr);
    let ids: Vec<u64> = v["projects"]
        .as_object()
        .expect("projects is a map")
        .keys()
        .map(|k| k.parse().expect("project id"))
        .collect();
    assert_eq!(ids.len(), 2, "{v}");
    let shown_state: Value =
        serde_json::from_slice(&tf.run_ok(&["show", "-json"]).stdout).expect("show json");
    let id_of = |res: &str| -> u64 {
        shown_state["values"]["root_module"]["resources"]
            .as_array()
            .and_then(|rs| rs.iter().find(|r| r["address"] == res))
            .and_then(|r| r["values"]["id"].as_str())
            .and_then(|id| id.parse().ok())
            .unwrap_or_else(|| panic!("{res} in the state"))
    };
    let (warehouse, lab) = (
        id_of("mixpanel_project.warehouse"),
        id_of("mixpanel_project.lab"),
    );
    let project = warehouse.to_string();
    assert!(me.projects.contains_key(&project), "{me:?}");
    assert_eq!(
        roles_of(&emu, &creds, &user, &[warehouse, lab]),
        ["analyst", "analyst"]
    );
    assert_eq!(v["username"], user.as_str());
    assert_eq!(
        v["vault_path"],
        format!("secret/mixpanel-rotator/creds/{name}")
    );
    let state = std::fs::read_to_string(tf.path().join("terraform.tfstate")).expect("state");
    let shown = String::from_utf8(tf.run_ok(&["show", "-json"]).stdout).expect("utf8");
    assert!(!state.contains(&secret), "the secret is in the state");
    assert!(!shown.contains(&secret), "the secret is in show -json");
    assert_eq!(plan_code(&tf).0, Some(0), "{}", plan_code(&tf).1);

    // A state written by schema version 0 (a set of projects and one role) is upgraded by the
    // provider with no diff, with or without a refresh.
    let state_path = tf.path().join("terraform.tfstate");
    let v1_state = std::fs::read_to_string(&state_path).expect("state");
    std::fs::write(&state_path, as_version_0(&v1_state, "looker", "analyst")).expect("v0 state");
    let plan = tf
        .command(&[
            "plan",
            "-refresh=false",
            "-detailed-exitcode",
            "-no-color",
            "-input=false",
        ])
        .output()
        .expect("plan");
    assert_eq!(
        plan.status.code(),
        Some(0),
        "the upgraded state has a diff:\n{}",
        text(&plan)
    );
    assert_eq!(plan_code(&tf).0, Some(0), "{}", plan_code(&tf).1);
    tf.run_ok(&["apply", "-refresh-only", "-auto-approve", "-no-color"]);
    let upgraded: Value =
        serde_json::from_str(&std::fs::read_to_string(&state_path).expect("state")).expect("json");
    let inst = upgraded["resources"]
        .as_array()
        .and_then(|rs| rs.iter().find(|r| r["name"] == "looker"))
        .map(|r| r["instances"][0].clone())
        .expect("the credential");
    assert_eq!(inst["schema_version"], 1, "{inst}");
    assert_eq!(
        inst["attributes"]["projects"][&project], "analyst",
        "{inst}"
    );

    // Roles per project: one project's role changes, the other's stays.
    std::fs::write(&main, rotated_config("analyst", "admin", true, true)).expect("main.tf");
    tf.run_ok(&["apply", "-auto-approve", "-no-color", "-input=false"]);
    assert_eq!(
        roles_of(&emu, &creds, &user, &[warehouse, lab]),
        ["analyst", "admin"]
    );
    assert_eq!(plan_code(&tf).0, Some(0), "{}", plan_code(&tf).1);
    // An out-of-band change of one project's role shows in the plan.
    let sa_id = mixpanel_access::model::ServiceAccountId(
        v["service_account_id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("sa id"),
    );
    drift_to_consumer(&emu, &creds, sa_id, warehouse);
    let (code, out) = plan_code(&tf);
    assert_eq!(code, Some(2), "the changed role is not in the plan:\n{out}");
    assert!(out.contains("\"consumer\" -> \"analyst\""), "{out}");
    tf.run_ok(&["apply", "-auto-approve", "-no-color", "-input=false"]);
    assert_eq!(
        roles_of(&emu, &creds, &user, &[warehouse, lab]),
        ["analyst", "admin"]
    );

    // The rotator's inventory has the entry Terraform declared.
    let rotator = Rotator {
        emu: &emu,
        creds: &creds,
        bao: &bao,
    };
    let csv = rotator.ok(&["inventory", "export", "--format", "csv"]);
    assert!(
        csv.contains(name) && csv.contains("looker") && csv.contains("bi_tool"),
        "{csv}"
    );

    // Import by name gives the same state and an empty plan.
    tf.run_ok(&["state", "rm", addr]);
    tf.run_ok(&["import", "-no-color", "-input=false", addr, name]);
    let (code, out) = plan_code(&tf);
    assert_eq!(code, Some(0), "after import:\n{out}");

    // An out-of-band change: the account removed from its team shows in the plan.
    let sa: u64 = v["service_account_id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("sa id");
    let team_id: u64 = v["teams"][0]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("team id");
    block_on(emu.client(&creds).remove_service_accounts_from_team(
        mixpanel_access::model::OrgId(creds.org_id),
        mixpanel_access::model::TeamId(team_id),
        &[mixpanel_access::model::ServiceAccountId(sa)],
    ))
    .expect("remove from team");
    let (code, out) = plan_code(&tf);
    assert_eq!(code, Some(2), "the removal is not in the plan:\n{out}");
    assert!(out.contains("teams"), "{out}");
    tf.run_ok(&["apply", "-auto-approve", "-no-color", "-input=false"]);
    assert_eq!(plan_code(&tf).0, Some(0));

    // A rotation by the rotator is not drift, and the successor holds the declared role on each
    // project: the inventory's, even where the old account's grant was changed out of band
    // (warehouse is consumer on the old account now; the inventory says analyst).
    drift_to_consumer(&emu, &creds, sa_id, warehouse);
    rotator.ok(&["rotate", name, "--reason", "test", "--overlap", "0s"]);
    let (user2, secret2) = stored(&bao, name);
    assert_ne!(user2, user);
    assert_eq!(
        roles_of(&emu, &creds, &user2, &[warehouse, lab]),
        ["analyst", "admin"],
        "the successor's grants are not the declared ones"
    );
    let (code, out) = plan_code(&tf);
    assert_eq!(code, Some(0), "a rotation shows as drift:\n{out}");
    tf.run_ok(&["apply", "-refresh-only", "-auto-approve", "-no-color"]);
    let v = resource_values(&tf, addr);
    assert_eq!(
        v["username"],
        user2.as_str(),
        "the state follows the rotation"
    );
    assert_eq!(v["teams"].as_array().map(Vec::len), Some(1), "{v}");

    // A change of one project's role applies to the rotated (current) account.
    std::fs::write(&main, rotated_config("consumer", "admin", true, true)).expect("main.tf");
    tf.run_ok(&["apply", "-auto-approve", "-no-color", "-input=false"]);
    assert_eq!(
        roles_of(&emu, &creds, &user2, &[warehouse, lab]),
        ["consumer", "admin"]
    );
    assert_eq!(plan_code(&tf).0, Some(0));
    // ...and the inventory entry records it, so the next successor keeps it.
    let json = rotator.ok(&["inventory", "export", "--format", "json"]);
    let exported: Value = serde_json::from_str(&json).expect("inventory json");
    let entry = exported
        .as_array()
        .and_then(|es| es.iter().find(|e| e["name"] == name))
        .expect("the entry");
    assert_eq!(entry["project_roles"][&project], "consumer", "{entry}");
    assert_eq!(entry["project_roles"][&lab.to_string()], "admin", "{entry}");
    let state = std::fs::read_to_string(tf.path().join("terraform.tfstate")).expect("state");
    assert!(
        !state.contains(&secret2),
        "the rotated secret is in the state"
    );

    // Destroy: refused while protected; with protection off, the account and the Vault entry go.
    let destroy = tf
        .command(&["destroy", "-auto-approve", "-no-color", "-input=false"])
        .output()
        .expect("destroy");
    assert!(!destroy.status.success());
    assert!(text(&destroy).contains("protected"), "{}", text(&destroy));
    assert!(block_on(client(&emu, &user2, &secret2).me()).is_ok());
    std::fs::write(&main, rotated_config("consumer", "admin", false, true)).expect("main.tf");
    tf.run_ok(&["apply", "-auto-approve", "-no-color", "-input=false"]);
    tf.run_ok(&["destroy", "-auto-approve", "-no-color", "-input=false"]);
    assert!(
        block_on(client(&emu, &user2, &secret2).me()).is_err(),
        "the destroyed credential still authenticates"
    );
    let (status, _) = bao.request(
        "GET",
        &format!("/v1/secret/metadata/mixpanel-rotator/creds/{name}"),
        None,
    );
    assert_eq!(status, 404, "the Vault entry is still there");
}

#[test]
fn a_rotated_credential_without_a_usable_vault_creates_nothing() {
    let emu = Emulator::start();
    let creds = emu.bootstrap("Acme", "owner");
    let bao = OpenBao::dev();
    let terraform = terraform_or_skip("rotated credential, unhappy paths").expect("terraform");
    let accounts = || {
        block_on(
            emu.client(&creds)
                .list_service_accounts(mixpanel_access::model::OrgId(creds.org_id)),
        )
        .expect("accounts")
        .len()
    };
    let before = accounts();
    let config = |vault: &str| {
        format!(
            r#"{REQUIRED_PROVIDERS}
provider "mixpanel" {{
{vault}
}}
resource "mixpanel_rotated_credential" "etl" {{
  name = "warehouse/etl"
}}
"#
        )
    };
    let run = |main_tf: &str, token: Option<&str>| {
        let mut tf = TerraformDir::with_dev_overrides(
            terraform.clone(),
            &workspace_binary("terraform-provider-mixpanel"),
            main_tf,
        );
        tf.set_env("MIXPANEL_API_URL", &emu.url);
        tf.set_env("MIXPANEL_SERVICE_ACCOUNT_USERNAME", &creds.username);
        tf.set_env("MIXPANEL_SERVICE_ACCOUNT_SECRET", &creds.secret);
        tf.set_env("VAULT_ADDR", &bao.address());
        if let Some(t) = token {
            tf.set_env("VAULT_TOKEN", t);
        }
        let o = tf
            .command(&["apply", "-auto-approve", "-no-color", "-input=false"])
            .output()
            .expect("apply");
        // Terraform wraps diagnostics: compare with single spaces.
        let out = text(&o).split_whitespace().collect::<Vec<_>>().join(" ");
        (o.status.success(), out)
    };

    // No vault block: an error that says what to add.
    let (ok, out) = run(&config(""), None);
    assert!(!ok && out.contains("No vault block"), "{out}");
    // A token Vault rejects: one error at configuration.
    let (ok, out) = run(&config("  vault {}"), Some("not-a-token"));
    assert!(!ok && out.contains("Cannot use Vault"), "{out}");
    // No authentication at all: says what to set, on the block's attribute.
    let (ok, out) = run(&config("  vault {}"), None);
    assert!(!ok && out.contains("Missing Vault authentication"), "{out}");
    // A token that can read but not write: refused before any account exists.
    let policy = r#"path "secret/data/*" { capabilities = ["read", "list"] }
path "secret/metadata/*" { capabilities = ["read", "list"] }"#;
    let ro = bao.token_with_policy("provider-readonly", policy);
    let (ok, out) = run(&config("  vault {}"), Some(&ro));
    assert!(!ok && out.contains("no account was created"), "{out}");
    assert_eq!(accounts(), before, "an account was left behind");
}

/// Issue 16: the rotated secret as an ephemeral value, handed to a second provider block
/// (which can only authenticate with the right secret) and never in the state, a plan file or
/// Terraform's trace log.
#[test]
fn the_ephemeral_secret_reaches_a_provider_block_and_no_state_plan_or_log() {
    let emu = Emulator::start();
    let creds = emu.bootstrap("Acme", "owner");
    let bao = OpenBao::dev();
    let terraform = terraform_or_skip("ephemeral secret").expect("terraform");
    let base = rotated_config("analyst", "analyst", false, false);
    let mut tf = TerraformDir::with_dev_overrides(
        terraform,
        &workspace_binary("terraform-provider-mixpanel"),
        &base,
    );
    tf.set_env("MIXPANEL_API_URL", &emu.url);
    tf.set_env("MIXPANEL_SERVICE_ACCOUNT_USERNAME", &creds.username);
    tf.set_env("MIXPANEL_SERVICE_ACCOUNT_SECRET", &creds.secret);
    tf.set_env("VAULT_ADDR", &bao.address());
    tf.set_env("VAULT_TOKEN", bao.root_token());
    tf.run_ok(&["apply", "-auto-approve", "-no-color", "-input=false"]);
    let (user, secret) = stored(&bao, "warehouse/looker");
    let with_ephemeral = format!(
        r#"{base}
ephemeral "mixpanel_rotated_credential_secret" "looker" {{
  name = mixpanel_rotated_credential.looker.name
}}

provider "mixpanel" {{
  alias                    = "looker"
  api_url                  = "{url}"
  service_account_username = ephemeral.mixpanel_rotated_credential_secret.looker.username
  service_account_secret   = ephemeral.mixpanel_rotated_credential_secret.looker.secret
}}

data "mixpanel_project" "seen_by_looker" {{
  provider = mixpanel.looker
  id       = mixpanel_project.warehouse.id
}}

output "looker_sees" {{
  value = data.mixpanel_project.seen_by_looker.name
}}
"#,
        url = emu.url
    );
    std::fs::write(tf.path().join("main.tf"), &with_ephemeral).expect("main.tf");
    let log = tf.path().join("trace.log");
    tf.set_env("TF_LOG", "trace");
    tf.set_env("TF_LOG_PATH", log.to_str().expect("utf8 path"));
    let plan = tf.run_ok(&["plan", "-no-color", "-input=false", "-out=tfplan"]);
    let planned = String::from_utf8_lossy(&plan.stdout).to_string();
    let plan_json =
        String::from_utf8(tf.run_ok(&["show", "-json", "tfplan"]).stdout).expect("utf8");
    let applied = tf.run_ok(&[
        "apply",
        "-auto-approve",
        "-no-color",
        "-input=false",
        "tfplan",
    ]);
    let out = text(&applied);
    // The second provider block authenticated with the secret from Vault.
    let shown =
        String::from_utf8(tf.run_ok(&["output", "-raw", "looker_sees"]).stdout).expect("utf8");
    assert_eq!(shown, "warehouse", "{out}");
    assert!(
        planned.contains("mixpanel_rotated_credential_secret")
            || plan_json.contains("seen_by_looker"),
        "{planned}"
    );
    let state = std::fs::read_to_string(tf.path().join("terraform.tfstate")).expect("state");
    let trace = std::fs::read_to_string(&log).expect("trace log");
    assert!(
        trace.contains("OpenEphemeralResource") || trace.contains("ephemeral"),
        "the trace log shows no ephemeral resource"
    );
    for (what, text) in [
        ("state", state.as_str()),
        ("plan output", planned.as_str()),
        ("plan JSON", plan_json.as_str()),
        ("apply output", out.as_str()),
        ("trace log", trace.as_str()),
    ] {
        assert!(!text.contains(&secret), "the secret is in the {what}");
    }
    // The user name is not secret: the state keeps it.
    assert!(
        state.contains(&user),
        "the state lost the account's username"
    );
}
