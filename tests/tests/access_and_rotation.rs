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
        .map(|r| r.name.clone());
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
