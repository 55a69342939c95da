//! The provider under the real `terraform` binary (`TF_ACC_TERRAFORM_PATH` or `terraform` on PATH;
//! skipped when there is none): started by Terraform through `dev_overrides` with AutoMTLS, and
//! attached in debug mode through `TF_REATTACH_PROVIDERS`. No `terraform init`.

mod support;

use std::time::Duration;

use support::*;

fn config() -> String {
    format!(
        r#"{REQUIRED_PROVIDERS}
provider "mixpanel" {{
  service_account_username = "sa"
  service_account_secret   = "not-a-real-secret"
  organization_id          = 42
  region                   = "eu"
  max_concurrency          = 4
  max_retries              = 2
}}
"#
    )
}

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// (a) validate and plan with the provider started by Terraform (AutoMTLS on, P-521 client cert).
///
/// With no resources yet, Terraform 1.11 prunes the provider configuration from its graphs: it
/// starts the provider for `GetProviderSchema` only, and neither validates nor configures the
/// `provider` block (an unknown attribute there passes `validate`). `ValidateProviderConfig` and
/// `ConfigureProvider` are exercised over gRPC in `tests/protocol.rs` until resources exist.
#[test]
fn validate_and_plan_with_dev_overrides() {
    let Some(terraform) = terraform_or_skip("validate_and_plan_with_dev_overrides") else {
        return;
    };
    let dir = dev_overrides_dir(terraform, &config());

    let validate = dir.run_ok(&["validate", "-no-color"]);
    assert!(
        stdout(&validate).contains("Success! The configuration is valid"),
        "{}",
        stdout(&validate)
    );

    let plan = dir.run_ok(&["plan", "-no-color", "-detailed-exitcode"]);
    assert!(stdout(&plan).contains("No changes."), "{}", stdout(&plan));

    let schema = dir.run_ok(&["providers", "schema", "-json"]);
    let schema: serde_json::Value = serde_json::from_slice(&schema.stdout).expect("schema JSON");
    let attrs = &schema["provider_schemas"][PROVIDER_ADDRESS]["provider"]["block"]["attributes"];
    assert_eq!(attrs["service_account_secret"]["sensitive"], true);
    assert_eq!(attrs["organization_id"]["type"], "number");
    assert_eq!(attrs["region"]["type"], "string");
}

/// (e) `--debug` prints a TF_REATTACH_PROVIDERS value terraform can plan with; Terraform neither
/// starts nor stops the process, which keeps serving until interrupted.
#[test]
fn debug_mode_reattach_plan() {
    let Some(terraform) = terraform_or_skip("debug_mode_reattach_plan") else {
        return;
    };
    let mut cmd = provider_command();
    cmd.arg("--debug");
    let mut plugin = PluginProcess::spawn(cmd);
    let reattach = read_reattach(&mut plugin);

    let mut dir = TerraformDir::plain(terraform, &config());
    dir.set_env("TF_REATTACH_PROVIDERS", &reattach);
    for _ in 0..2 {
        let plan = dir.run_ok(&["plan", "-no-color"]);
        assert!(stdout(&plan).contains("No changes."), "{}", stdout(&plan));
    }
    assert!(
        plugin.is_running(),
        "terraform leaves a reattached provider running"
    );

    plugin.signal(libc::SIGTERM);
    let status = plugin.wait_exit(Duration::from_secs(2)).expect("exits");
    assert!(status.success());
}
