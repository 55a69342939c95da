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

fn rotated_config(role: &str, protected: bool, with_team: bool) -> String {
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

resource "mixpanel_team" "bi" {{
  name = "BI"
}}

resource "mixpanel_rotated_credential" "looker" {{
  name                = "warehouse/looker"
  role                = "{role}"
  projects            = [mixpanel_project.warehouse.id]
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
        &rotated_config("analyst", true, true),
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
    let project = v["projects"][0].as_str().expect("project id").to_string();
    assert!(me.projects.contains_key(&project), "{me:?}");
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

    // A rotation by the rotator is not drift.
    rotator.ok(&["rotate", name, "--reason", "test", "--overlap", "0s"]);
    let (user2, secret2) = stored(&bao, name);
    assert_ne!(user2, user);
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

    // A role change applies to the rotated (current) account.
    std::fs::write(&main, rotated_config("consumer", true, true)).expect("main.tf");
    tf.run_ok(&["apply", "-auto-approve", "-no-color", "-input=false"]);
    let grants = block_on(
        emu.client(&creds)
            .list_project_service_accounts(ProjectId(project.parse().expect("id"))),
    )
    .expect("project accounts");
    let current = grants
        .iter()
        .find(|g| g.account.username.as_str() == user2)
        .expect("the current account is on the project");
    assert_eq!(current.project_role.as_str(), "consumer");
    assert_eq!(plan_code(&tf).0, Some(0));
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
    std::fs::write(&main, rotated_config("consumer", false, true)).expect("main.tf");
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
