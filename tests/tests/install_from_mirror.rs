//! The real install path: the release zip (made by `scripts/release.sh`, the code path of
//! `make release`, from the debug build) in a filesystem mirror in the registry's packed layout,
//! a CLI configuration with that mirror and no `dev_overrides`, `terraform init` (the one test
//! that runs it; the mirror is the only installation method, so it cannot reach the network),
//! apply against the emulator, an empty next plan, and the lock file holding the zip's hash;
//! then `make install`'s script into the implied local mirror of a HOME of its own, and a plain
//! `terraform init` with no provider_installation finds the same package there.

use std::path::{Path, PathBuf};
use std::process::Command;

use testkit::emulator::Emulator;
use testkit::terraform::{terraform_or_skip, TerraformDir, REQUIRED_PROVIDERS};
use testkit::workspace_binary;

const VERSION: &str = env!("CARGO_PKG_VERSION");

const CONFIG: &str = r#"
provider "mixpanel" {}

resource "mixpanel_project" "installed" {
  name                = "installed-from-a-mirror"
  timezone            = "UTC"
  deletion_protection = false
}

resource "mixpanel_team" "installers" {
  name = "Installers"
}

resource "mixpanel_team_project" "installers_installed" {
  team_id    = mixpanel_team.installers.id
  project_id = mixpanel_project.installed.id
  role       = "analyst"
}
"#;

/// This host in Terraform's (Go's) platform names.
fn host_platform() -> String {
    let os = match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    };
    format!("{os}_{arch}")
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

fn sha256_hex(path: &Path) -> String {
    let out = Command::new("python3")
        .args([
            "-c",
            "import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], 'rb').read()).hexdigest())",
        ])
        .arg(path)
        .output()
        .expect("python3");
    assert!(out.status.success(), "sha256 of {}", path.display());
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Terraform's `h1:` hash of a provider package: the SHA-256 of the lines
/// `<sha256 hex>  <name>\n` of its files in name order, in base64 (Go's dirhash.Hash1).
fn h1_of_zip(zip: &Path) -> String {
    let out = Command::new("python3")
        .args([
            "-c",
            "import base64, hashlib, sys, zipfile\n\
             z = zipfile.ZipFile(sys.argv[1])\n\
             lines = ''.join(f'{hashlib.sha256(z.read(n)).hexdigest()}  {n}\\n' for n in sorted(z.namelist()) if not n.endswith('/'))\n\
             print('h1:' + base64.b64encode(hashlib.sha256(lines.encode()).digest()).decode())",
        ])
        .arg(zip)
        .output()
        .expect("python3");
    assert!(out.status.success(), "h1 of {}", zip.display());
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn terraform_init_installs_the_release_zip_from_a_filesystem_mirror() {
    let Some(terraform) = terraform_or_skip("install_from_mirror") else {
        return;
    };
    let provider = workspace_binary("terraform-provider-mixpanel");
    let platform = host_platform();
    let work = tempfile::tempdir().expect("tempdir");

    // 1. The release zip, by `make release`'s script, from the binary this test run built.
    let dist = work.path().join("dist");
    let out = Command::new("bash")
        .arg(workspace_root().join("scripts/release.sh"))
        .current_dir(workspace_root())
        .env("RELEASE_OUT", &dist)
        .env("RELEASE_BIN_DIR", provider.parent().expect("bin dir"))
        .env("RELEASE_COMPONENTS", "provider")
        .output()
        .expect("run scripts/release.sh");
    assert!(out.status.success(), "release.sh failed:\n{}", text(&out));
    let zip_name = format!("terraform-provider-mixpanel_{VERSION}_{platform}.zip");
    let zip = dist.join(&zip_name);
    assert!(zip.is_file(), "{zip_name} missing:\n{}", text(&out));
    let zip_sha = sha256_hex(&zip);
    let sums = std::fs::read_to_string(
        dist.join(format!("terraform-provider-mixpanel_{VERSION}_SHA256SUMS")),
    )
    .expect("SHA256SUMS");
    assert!(
        sums.lines().any(|l| l == format!("{zip_sha}  {zip_name}")),
        "SHA256SUMS does not list the zip's hash {zip_sha}:\n{sums}"
    );
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dist.join(format!(
            "terraform-provider-mixpanel_{VERSION}_manifest.json"
        )))
        .expect("manifest"),
    )
    .expect("manifest json");
    assert_eq!(
        manifest,
        serde_json::json!({"version": 1, "metadata": {"protocol_versions": ["6.0"]}})
    );

    // 2. A filesystem mirror in the packed layout, and a CLI configuration with only that mirror:
    // no dev_overrides, no direct installation, so nothing can come from the network.
    let mirror = work.path().join("mirror");
    let packed = mirror.join("registry.terraform.io/mixpanel-access/mixpanel");
    std::fs::create_dir_all(&packed).expect("mirror dir");
    std::fs::copy(&zip, packed.join(&zip_name)).expect("copy zip into the mirror");
    let cli = format!(
        "provider_installation {{\n  filesystem_mirror {{\n    path    = \"{}\"\n    include = [\"registry.terraform.io/mixpanel-access/mixpanel\"]\n  }}\n}}\n",
        mirror.display()
    );
    let main_tf = format!("{REQUIRED_PROVIDERS}{CONFIG}");
    let mut tf = TerraformDir::with_cli_config(terraform, &cli, &main_tf);

    // 3. terraform init, as a user runs it.
    let init = tf.run_ok(&["init", "-input=false", "-no-color"]);
    let init_text = text(&init);
    assert!(
        init_text.contains(&format!("Installing mixpanel-access/mixpanel v{VERSION}")),
        "{init_text}"
    );
    assert!(
        !init_text.contains("dev_overrides")
            && !init_text.contains("Provider development overrides"),
        "{init_text}"
    );
    let installed = tf.path().join(format!(
        ".terraform/providers/registry.terraform.io/mixpanel-access/mixpanel/{VERSION}/{platform}/terraform-provider-mixpanel_v{VERSION}"
    ));
    assert_eq!(
        std::fs::read(&installed).expect("the installed provider"),
        std::fs::read(&provider).expect("the built provider"),
        "terraform installed something else than the binary in the release zip"
    );

    // 4. The lock file pins the release archive. A filesystem mirror is not a signed registry,
    // so Terraform records the archive's h1: hash (the dirhash of the zip's contents, computed
    // here independently) and no zh: hash; should a newer Terraform record one, it has to be
    // the zip's SHA-256, the one in SHA256SUMS.
    let lock = std::fs::read_to_string(tf.path().join(".terraform.lock.hcl")).expect("lock file");
    assert!(
        lock.contains("provider \"registry.terraform.io/mixpanel-access/mixpanel\""),
        "{lock}"
    );
    assert!(
        lock.lines().any(|l| l.trim().starts_with("version")
            && l.trim_end().ends_with(&format!("\"{VERSION}\""))),
        "{lock}"
    );
    let h1 = h1_of_zip(&zip);
    assert!(
        lock.contains(&format!("\"{h1}\"")),
        "the lock file does not hold the release zip's {h1}:\n{lock}"
    );
    for zh in lock.match_indices("\"zh:").map(|(i, _)| &lock[i + 4..]) {
        assert!(
            zh.starts_with(&zip_sha),
            "a zh: hash that is not the zip's: {lock}"
        );
    }

    // 5. Apply against the emulator, then the next plan is empty.
    let emu = Emulator::start();
    let creds = emu.bootstrap("Mirror", "owner");
    tf.set_env("MIXPANEL_API_URL", &emu.url);
    tf.set_env("MIXPANEL_ORGANIZATION_ID", &creds.org_id.to_string());
    tf.set_env("MIXPANEL_SERVICE_ACCOUNT_USERNAME", &creds.username);
    tf.set_env("MIXPANEL_SERVICE_ACCOUNT_SECRET", &creds.secret);
    emu.reset_counters();
    let apply = tf.run_ok(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    assert!(
        text(&apply).contains("3 added, 0 changed, 0 destroyed"),
        "{}",
        text(&apply)
    );
    let counters = emu.counters();
    assert_eq!(
        counters["create_project"]["POST"], 1,
        "the project was not created in the emulator: {counters}"
    );
    assert_eq!(counters["add_teams"]["POST"], 1, "{counters}");
    let plan = tf
        .command(&["plan", "-detailed-exitcode", "-input=false", "-no-color"])
        .output()
        .expect("terraform plan");
    assert_eq!(
        plan.status.code(),
        Some(0),
        "the plan after apply is not empty:\n{}",
        text(&plan)
    );
    tf.run_ok(&["destroy", "-auto-approve", "-input=false", "-no-color"]);

    // 6. `make install`'s script puts the same binary in Terraform's implied local mirror
    // (`~/.terraform.d/plugins`, here under a HOME of the test's own), where a CLI
    // configuration without provider_installation finds it: the lock file gets the same h1:.
    let home = work.path().join("home");
    let out = Command::new("bash")
        .arg(workspace_root().join("scripts/install.sh"))
        .current_dir(workspace_root())
        .env("TF_PLUGIN_MIRROR", home.join(".terraform.d/plugins"))
        .env("INSTALL_BIN", &provider)
        .output()
        .expect("run scripts/install.sh");
    assert!(out.status.success(), "install.sh failed:\n{}", text(&out));
    let terraform = testkit::terraform::terraform_binary().expect("terraform");
    let mut plain = TerraformDir::plain(terraform, &main_tf);
    plain.set_env("HOME", home.to_str().expect("utf-8 path"));
    let init = plain.run_ok(&["init", "-input=false", "-no-color"]);
    assert!(
        text(&init).contains(&format!("Installing mixpanel-access/mixpanel v{VERSION}")),
        "{}",
        text(&init)
    );
    let lock =
        std::fs::read_to_string(plain.path().join(".terraform.lock.hcl")).expect("lock file");
    assert!(lock.contains(&format!("\"{h1}\"")), "{h1} missing:\n{lock}");
}
