//! The real `terraform` binary in a temporary working directory with its own CLI
//! configuration: `dev_overrides` point the provider's source at a built binary, and
//! `terraform init` is never run (except by a test of the install path, on its own).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The provider's source address in configurations.
pub const PROVIDER_SOURCE: &str = "mixpanel-access/mixpanel";

// ---------------------------------------------------------------------------------------------
// Real terraform
// ---------------------------------------------------------------------------------------------

/// The terraform binary: `TF_ACC_TERRAFORM_PATH`, else `terraform` on PATH; `None` skips the test.
pub fn terraform_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("TF_ACC_TERRAFORM_PATH").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("terraform"))
        .find(|candidate| candidate.is_file())
}

/// Returns the terraform binary; a test that needs it fails (never skips) without it.
pub fn terraform_or_skip(test: &str) -> Option<PathBuf> {
    match terraform_binary() {
        Some(t) => Some(t),
        None => {
            panic!("{test} needs terraform: set TF_ACC_TERRAFORM_PATH or put terraform on PATH")
        }
    }
}

/// A temporary terraform working directory with its own CLI configuration. With `dev_overrides`,
/// the provider source resolves to the binary built for this test run; `terraform init` is never run.
pub struct TerraformDir {
    terraform: PathBuf,
    dir: tempfile::TempDir,
    cli_config: PathBuf,
    env: Vec<(String, String)>,
}

impl TerraformDir {
    /// `main_tf` is written to `main.tf`; `provider` is the provider binary to use.
    pub fn with_dev_overrides(terraform: PathBuf, provider: &Path, main_tf: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        // A dedicated plugin dir holding only the provider (as a symlink to the built binary).
        let plugins = dir.path().join("plugins");
        std::fs::create_dir(&plugins).expect("plugins dir");
        std::os::unix::fs::symlink(provider, plugins.join("terraform-provider-mixpanel"))
            .expect("symlink provider");
        let cli = format!(
            "provider_installation {{\n  dev_overrides {{\n    \"{PROVIDER_SOURCE}\" = \"{}\"\n  }}\n  direct {{}}\n}}\n",
            plugins.display()
        );
        Self::new(terraform, dir, &cli, main_tf)
    }

    /// A CLI configuration of the caller's (`cli`, written to `terraform.rc`): for the test of
    /// the install path, whose configuration holds a `filesystem_mirror` and no `dev_overrides`.
    pub fn with_cli_config(terraform: PathBuf, cli: &str, main_tf: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        Self::new(terraform, dir, cli, main_tf)
    }

    /// No provider installation settings: for reattach (`TF_REATTACH_PROVIDERS`) runs.
    pub fn plain(terraform: PathBuf, main_tf: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        Self::new(terraform, dir, "", main_tf)
    }

    fn new(terraform: PathBuf, dir: tempfile::TempDir, cli: &str, main_tf: &str) -> Self {
        let cli_config = dir.path().join("terraform.rc");
        std::fs::write(&cli_config, cli).expect("cli config");
        std::fs::write(dir.path().join("main.tf"), main_tf).expect("main.tf");
        Self {
            terraform,
            dir,
            cli_config,
            env: Vec::new(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// An extra environment variable for every command.
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env.push((key.to_string(), value.to_string()));
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.terraform);
        cmd.args(args)
            .current_dir(self.dir.path())
            .env("TF_CLI_CONFIG_FILE", &self.cli_config)
            .env("TF_IN_AUTOMATION", "1")
            .env("TF_INPUT", "0")
            .env("CHECKPOINT_DISABLE", "1")
            .env_remove("TF_REATTACH_PROVIDERS")
            .env_remove("TF_LOG")
            .env_remove("TF_LOG_PATH")
            .env_remove("TF_PLUGIN_CACHE_DIR")
            .stdin(Stdio::null());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs terraform; panics with its output unless it exits 0.
    pub fn run_ok(&self, args: &[&str]) -> Output {
        let output = self.command(args).output().expect("run terraform");
        assert!(
            output.status.success(),
            "terraform {args:?} failed ({}):\nstdout:\n{}\nstderr:\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }
}

/// The `terraform { required_providers }` block for this provider.
pub const REQUIRED_PROVIDERS: &str = r#"
terraform {
  required_providers {
    mixpanel = {
      source = "mixpanel-access/mixpanel"
    }
  }
}
"#;
