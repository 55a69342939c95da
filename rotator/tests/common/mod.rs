//! Test support: a real OpenBao (shared support module), the emulator in-process on a free
//! loopback port, the rotator binary as a subprocess with its output captured, and checks.
#![allow(dead_code)]

pub use testkit::openbao;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use mixpanel_access::api::{wire, Client, ClientConfig};
use mixpanel_access::inventory::{CredentialKind, IntegrationType, InventoryEntry};
use mixpanel_access::model::{
    DataResidency, OrgId, ProjectId, ProjectRole, ProjectRoleGrant, ServiceAccount,
    ServiceAccountId,
};
use mixpanel_access::vault::{Credential, VaultAuth, VaultConfig, VaultStore};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use tokio::process::Command;

pub use openbao::OpenBao;

pub const BIN: &str = env!("CARGO_BIN_EXE_mixpanel-rotator");

/// The emulator (the test kit's, in-process on its own thread), with the async face these
/// scenarios use.
pub struct Emu {
    pub url: String,
    kit: testkit::emulator::Emulator,
}

/// A bootstrapped organization and its owner service account (the rotator's identity).
#[derive(Clone)]
pub struct Boot {
    pub org: OrgId,
    pub username: String,
    pub secret: String,
}

impl Emu {
    pub async fn start() -> Emu {
        let kit = testkit::emulator::Emulator::start();
        Emu {
            url: kit.url.clone(),
            kit,
        }
    }

    pub async fn bootstrap(&self) -> Boot {
        let c = self.kit.bootstrap("Acme", "owner");
        Boot {
            org: OrgId(c.org_id),
            username: c.username,
            secret: c.secret,
        }
    }

    pub async fn set_faults(&self, faults: Value) {
        self.kit.faults(Some(faults));
    }

    /// Request counts: route name → method → count.
    pub async fn counters(&self) -> Value {
        self.kit.counters()
    }

    pub async fn reset_counters(&self) {
        self.kit.reset_counters();
    }

    pub async fn clear_faults(&self) {
        self.kit.faults(None);
    }

    pub async fn activate(&self, email: &str) {
        self.kit.activate(email);
    }

    /// The test kit's emulator handle (admin routes: logins, service-account facts).
    pub fn kit(&self) -> &testkit::emulator::Emulator {
        &self.kit
    }

    pub fn client(&self, username: &str, secret: &str) -> Client {
        let mut c = ClientConfig::new(&self.url, username, SecretString::from(secret.to_string()))
            .expect("client config");
        c.max_retries = 0;
        Client::new(c).expect("client")
    }
}

/// Everything a scenario needs: OpenBao, the emulator, the organization, captured output.
pub struct World {
    pub bao: OpenBao,
    pub emu: Emu,
    pub boot: Boot,
    pub admin: Client,
    pub store: VaultStore,
    pub outputs: Arc<Mutex<Vec<String>>>,
    pub dir: tempfile::TempDir,
    /// The rotator binary the CLI runs ([`BIN`], built with the test hooks, unless a test
    /// points it at another build).
    pub bin: String,
}

impl World {
    pub async fn new() -> World {
        World::with_bao(start_bao(OpenBao::dev)).await
    }

    pub async fn with_bao(bao: OpenBao) -> World {
        let emu = Emu::start().await;
        let boot = emu.bootstrap().await;
        let admin = emu.client(&boot.username, &boot.secret);
        let store = store_for(&bao).await;
        World {
            bao,
            emu,
            boot,
            admin,
            store,
            outputs: Arc::new(Mutex::new(Vec::new())),
            dir: tempfile::tempdir().expect("temp dir"),
            bin: BIN.to_string(),
        }
    }

    /// The rotator's environment: fast timings for tests.
    pub fn env(&self) -> Vec<(String, String)> {
        let pairs = [
            ("VAULT_ADDR", self.bao.address()),
            ("VAULT_TOKEN", self.bao.root_token().to_string()),
            ("MIXPANEL_API_URL", self.emu.url.clone()),
            (
                "MIXPANEL_SERVICE_ACCOUNT_USERNAME",
                self.boot.username.clone(),
            ),
            ("MIXPANEL_SERVICE_ACCOUNT_SECRET", self.boot.secret.clone()),
            ("MIXPANEL_ORGANIZATION_ID", self.boot.org.0.to_string()),
            ("MIXPANEL_ROTATOR_LEASE_TTL", "3s".into()),
            ("MIXPANEL_ROTATOR_RECONCILE_INTERVAL", "1s".into()),
            ("MIXPANEL_ROTATOR_MEMBERSHIP_INTERVAL", "0s".into()),
            ("MIXPANEL_ROTATOR_RETRY_BACKOFF", "200ms".into()),
            ("MIXPANEL_ROTATOR_MAX_RETRY_BACKOFF", "2s".into()),
            ("MIXPANEL_ROTATOR_TEST_TIMEOUT", "10s".into()),
            ("MIXPANEL_ROTATOR_API_MIN_BACKOFF", "20ms".into()),
            ("MIXPANEL_ROTATOR_API_MAX_BACKOFF", "300ms".into()),
            ("MIXPANEL_ROTATOR_RATE_LIMIT", "200".into()),
            ("MIXPANEL_ROTATOR_SHUTDOWN_GRACE", "10s".into()),
            ("MIXPANEL_ROTATOR_HTTP_LISTEN", "127.0.0.1:0".into()),
            ("MIXPANEL_ROTATOR_LOG", "info".into()),
        ];
        pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }

    fn command(&self, extra: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(&self.bin);
        for k in [
            "VAULT_ADDR",
            "VAULT_TOKEN",
            "RUST_LOG",
            "MIXPANEL_ROTATOR_CRASH_AFTER",
            "MIXPANEL_ROTATOR_PAUSE_AT",
            "MIXPANEL_ROTATOR_CONFIG",
        ] {
            cmd.env_remove(k);
        }
        cmd.envs(self.env());
        for (k, v) in extra {
            cmd.env(k, v);
        }
        cmd.kill_on_drop(true);
        cmd
    }

    /// Registers `web/secret` and `web/token` (owner web@acme.example, rotated today; the
    /// token never rotates) for `project` through the CLI.
    pub async fn register_project_credentials(&self, project: &str) {
        let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
        for (name, kind) in [
            ("web/secret", "project_secret"),
            ("web/token", "project_token"),
        ] {
            let mut args = vec![
                "inventory",
                "add",
                name,
                "--kind",
                kind,
                "--owner",
                "web@acme.example",
                "--project",
                project,
                "--last-rotated",
                &today,
            ];
            if kind == "project_token" {
                args.extend(["--rotation-period", "never"]);
            }
            self.cli(&args, &[]).await.ok();
        }
    }

    /// Runs the CLI to completion; returns (success, stdout, stderr), all captured.
    pub async fn cli(&self, args: &[&str], extra: &[(&str, &str)]) -> Run {
        self.cli_stdin(args, extra, None).await
    }

    pub async fn cli_stdin(
        &self,
        args: &[&str],
        extra: &[(&str, &str)],
        stdin: Option<&str>,
    ) -> Run {
        let mut cmd = self.command(extra);
        cmd.args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            });
        let mut child = cmd.spawn().expect("start mixpanel-rotator");
        if let Some(text) = stdin {
            use tokio::io::AsyncWriteExt;
            let mut pipe = child.stdin.take().expect("stdin");
            pipe.write_all(text.as_bytes()).await.expect("write stdin");
            drop(pipe);
        }
        let out = tokio::time::timeout(Duration::from_secs(90), child.wait_with_output())
            .await
            .expect("the CLI finished within 90s")
            .expect("CLI output");
        let run = Run {
            code: out.status.code(),
            success: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        self.capture(format!(
            "$ mixpanel-rotator {}\n{}\n{}",
            args.join(" "),
            run.stdout,
            run.stderr
        ));
        run
    }

    pub fn capture(&self, text: String) {
        self.outputs.lock().expect("outputs").push(text);
    }

    /// Starts `mixpanel-rotator run` with its output in a file.
    pub fn daemon(&self, holder: &str, extra: &[(&str, &str)]) -> Daemon {
        let log = self
            .dir
            .path()
            .join(format!("{holder}-{}.log", rand::random::<u32>()));
        let file = std::fs::File::create(&log).expect("log file");
        let mut cmd = self.command(extra);
        cmd.arg("run")
            .env("MIXPANEL_ROTATOR_HOLDER", holder)
            .env("MIXPANEL_ROTATOR_HTTP_LISTEN", "127.0.0.1:0")
            .env("MIXPANEL_ROTATOR_HTTP_TOKEN", "test-bearer-token-value")
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("clone"))
            .stderr(file);
        let child = cmd.spawn().expect("start the daemon");
        Daemon {
            holder: holder.to_string(),
            child: Some(child),
            log,
            port: 0,
            outputs: self.outputs.clone(),
        }
    }

    /// Registers a service account in the inventory with its secret in `creds/<name>`.
    pub async fn register_sa(
        &self,
        name: &str,
        account: &wire_created::Created,
        projects: &[ProjectId],
        configure: impl FnOnce(&mut InventoryEntry),
    ) {
        let mut e = InventoryEntry::new(
            name,
            CredentialKind::ServiceAccount,
            IntegrationType::DataPipeline,
        );
        e.owner = "data-platform@acme.example".into();
        e.projects = projects.to_vec();
        e.sa_id = Some(account.id);
        e.username = Some(account.username.parse().expect("username"));
        e.last_rotated = Some(Utc::now());
        e.overlap = Duration::from_secs(1);
        e.rotation_period = Some(Duration::from_secs(86_400));
        configure(&mut e);
        e.refresh(Utc::now());
        self.store
            .save_inventory_entry(&e)
            .await
            .expect("save entry");
        let cred = Credential::ServiceAccount {
            username: account.username.parse().expect("username"),
            secret: SecretString::from(account.secret.clone()),
            sa_id: account.id,
        };
        let cas = self
            .store
            .read_metadata(name)
            .await
            .expect("metadata")
            .map(|m| m.current_version)
            .unwrap_or(0);
        self.store
            .write_credential(name, &cred, cas)
            .await
            .expect("write credential");
    }

    /// Starts a rotation of `name` that dies once its successor exists and is journaled
    /// (`MIXPANEL_ROTATOR_CRASH_AFTER=created`), then gives the successor `role` on `extra`,
    /// a grant its predecessor lacks: the next drive finds the access differs. Returns the
    /// successor's id.
    pub async fn successor_with_more_access(
        &self,
        name: &str,
        extra: ProjectId,
        role: ProjectRole,
    ) -> ServiceAccountId {
        let run = self
            .cli(
                &["rotate", name, "--reason", "diff", "--overlap", "0s"],
                &[("MIXPANEL_ROTATOR_CRASH_AFTER", "created")],
            )
            .await;
        assert!(!run.success, "{}", run.stdout);
        let (j, _) = self
            .store
            .read_journal(name)
            .await
            .expect("journal")
            .expect("journal");
        assert_eq!(j.phase.as_str(), "created");
        let new_id = j.new_sa_id.expect("new account");
        self.admin
            .add_service_accounts_to_projects(
                self.boot.org,
                &[new_id],
                &[ProjectRoleGrant { id: extra, role }],
            )
            .await
            .expect("extra grant");
        new_id
    }

    pub async fn project(&self, name: &str) -> ProjectId {
        self.admin
            .create_project(
                self.boot.org,
                name,
                DataResidency::Us,
                &"Europe/Paris".parse().expect("tz"),
            )
            .await
            .expect("create project")
    }

    /// Creates a service account with `role` on `projects` (individual grants).
    pub async fn service_account(
        &self,
        name: &str,
        role: ProjectRole,
        projects: &[ProjectId],
    ) -> wire_created::Created {
        create_service_account(&self.admin, self.boot.org, name, role, projects).await
    }

    pub async fn accounts(&self) -> Vec<ServiceAccount> {
        self.admin
            .list_service_accounts(self.boot.org)
            .await
            .expect("list accounts")
    }

    /// The credential in `creds/<name>`: (sa id, username, secret).
    pub async fn stored(&self, name: &str) -> Option<(ServiceAccountId, String, String)> {
        match self
            .store
            .read_credential(name)
            .await
            .expect("read credential")
        {
            Some((
                Credential::ServiceAccount {
                    username,
                    secret,
                    sa_id,
                },
                _,
            )) => Some((
                sa_id,
                username.to_string(),
                secret.expose_secret().to_string(),
            )),
            _ => None,
        }
    }

    /// A daemon whose membership watcher looks every second (zero overlap), once it has
    /// recorded `email` as privileged on `project` (the baseline a change is measured from).
    pub async fn watcher(&self, project: ProjectId, email: &str) -> Daemon {
        let mut d = self.daemon(
            "watcher",
            &[
                ("MIXPANEL_ROTATOR_MEMBERSHIP_INTERVAL", "1s"),
                ("MIXPANEL_ROTATOR_MEMBERSHIP_OVERLAP", "0s"),
            ],
        );
        d.wait_http().await;
        let store = self.store.clone();
        let snapshot = format!("_membership/{}", project.0);
        wait_for("the membership baseline", Duration::from_secs(20), || {
            let store = store.clone();
            let snapshot = snapshot.clone();
            async move {
                let (doc, _) = store
                    .read_state_document::<serde_json::Value>(&snapshot)
                    .await
                    .ok()??;
                doc["privileged"][email].as_str().map(|_| ())
            }
        })
        .await;
        d
    }

    /// Waits until `holder` holds the leader lease.
    pub async fn wait_leader(&self, holder: &str, within: Duration) {
        let store = self.store.clone();
        wait_for(&format!("{holder} to lead"), within, || {
            let store = store.clone();
            async move {
                match mixpanel_access::vault::Lease::status(&store).await.ok()? {
                    mixpanel_access::vault::LeaseStatus::Held { record, .. }
                        if record.holder == holder =>
                    {
                        Some(())
                    }
                    _ => None,
                }
            }
        })
        .await;
    }

    /// Waits until the rotation of `name` is done.
    pub async fn rotation_done(&self, name: &str, within: Duration) {
        let store = self.store.clone();
        wait_for(&format!("the rotation of {name}"), within, || {
            let store = store.clone();
            async move {
                let j = store.read_journal(name).await.ok()??;
                (j.0.phase.as_str() == "done").then_some(())
            }
        })
        .await;
    }

    pub async fn entry(&self, name: &str) -> InventoryEntry {
        self.store
            .read_inventory_entry(name)
            .await
            .expect("read entry")
            .expect("entry exists")
            .expect("valid entry")
    }

    /// Checks the invariants of a rotated service-account entry: `creds/<name>` works, and
    /// exactly one live account carries the entry's base name.
    pub async fn assert_converged(&self, name: &str, base: &str) {
        let (id, username, secret) = self.stored(name).await.expect("a stored credential");
        let me = self.emu.client(&username, &secret).me().await;
        assert!(
            me.is_ok(),
            "{name}: the stored secret does not work: {me:?}"
        );
        let accounts = self.accounts().await;
        let live: Vec<&ServiceAccount> = accounts
            .iter()
            .filter(|a| {
                let b = a.username.base_name();
                b == base || b.starts_with(&format!("{base}-"))
            })
            .collect();
        assert_eq!(
            live.len(),
            1,
            "{name}: expected exactly one live account, found {:?}",
            live.iter()
                .map(|a| a.username.to_string())
                .collect::<Vec<_>>()
        );
        assert_eq!(
            live[0].id, id,
            "{name}: the live account is not the stored one"
        );
        let journal = self.store.read_journal(name).await.expect("journal");
        if let Some((j, _)) = journal {
            assert_eq!(j.phase.as_str(), "done", "{name}: journal {:?}", j.phase);
            assert!(j.pending_secret.is_none());
        }
    }

    /// Every secret Vault holds (all versions of creds/ and state/) plus the admin's.
    pub async fn vault_secrets(&self) -> BTreeSet<String> {
        let bao = &self.bao;
        let mut out = BTreeSet::new();
        out.insert(self.boot.secret.clone());
        out.insert(self.bao.root_token().to_string());
        let keys = tokio::task::block_in_place(|| list_keys(bao, "mixpanel-rotator/"));
        for key in keys {
            let (s, body) = tokio::task::block_in_place(|| {
                bao.request("GET", &format!("/v1/secret/metadata/{key}"), None)
            });
            if s != 200 {
                continue;
            }
            let meta: Value = serde_json::from_str(&body).unwrap_or_default();
            let versions: Vec<String> = meta["data"]["versions"]
                .as_object()
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default();
            for v in versions {
                let (s, body) = tokio::task::block_in_place(|| {
                    bao.request("GET", &format!("/v1/secret/data/{key}?version={v}"), None)
                });
                if s != 200 {
                    continue;
                }
                let data: Value = serde_json::from_str(&body).unwrap_or_default();
                for field in ["secret", "pending_secret", "token"] {
                    if let Some(s) = data["data"]["data"][field].as_str() {
                        if s.len() >= 8 {
                            out.insert(s.to_string());
                        }
                    }
                }
            }
        }
        out
    }

    /// Asserts that no secret Vault holds appears in anything the rotator printed.
    pub async fn assert_no_secret_leaked(&self) {
        let secrets = self.vault_secrets().await;
        assert!(secrets.len() > 2, "expected secrets in Vault");
        let outputs = self.outputs.lock().expect("outputs").clone();
        let all = outputs.join("\n");
        assert!(!all.is_empty(), "no output captured");
        if std::env::var_os("ROTATOR_TEST_SHOW_OUTPUT").is_some() {
            eprintln!("{all}");
        }
        for s in &secrets {
            if s == self.bao.root_token() {
                continue;
            }
            assert!(
                !all.contains(s.as_str()),
                "a secret from Vault appears in the rotator's output"
            );
        }
    }

    pub async fn audit(
        &self,
        kind: &str,
        since: DateTime<Utc>,
    ) -> Vec<mixpanel_access::model::AuditEvent> {
        self.admin
            .audit_logs_all(
                self.boot.org,
                &wire::AuditLogQuery {
                    types: vec![kind.to_string()],
                    created_gte: Some(since),
                    ..Default::default()
                },
            )
            .await
            .expect("audit log")
    }
}

fn list_keys(bao: &OpenBao, folder: &str) -> Vec<String> {
    let (s, body) = bao.request("LIST", &format!("/v1/secret/metadata/{folder}"), None);
    if s != 200 {
        return Vec::new();
    }
    let v: Value = serde_json::from_str(&body).unwrap_or_default();
    let mut out = Vec::new();
    for k in v["data"]["keys"].as_array().cloned().unwrap_or_default() {
        let k = k.as_str().unwrap_or_default().to_string();
        if k.ends_with('/') {
            out.extend(list_keys(bao, &format!("{folder}{k}")));
        } else {
            out.push(format!("{folder}{k}"));
        }
    }
    out
}

pub mod wire_created {
    use mixpanel_access::model::ServiceAccountId;

    /// A service account created by the test, secret in clear (test side only).
    #[derive(Clone, Debug)]
    pub struct Created {
        pub id: ServiceAccountId,
        pub username: String,
        pub secret: String,
    }
}

/// Starts an OpenBao, trying again when the free port it picked was taken meanwhile by a
/// parallel test (the support module picks a port, then the server binds it).
/// Creates a service account through `admin` with `role` on `projects` (individual grants),
/// its secret in clear (test side only).
pub async fn create_service_account(
    admin: &Client,
    org: OrgId,
    name: &str,
    role: ProjectRole,
    projects: &[ProjectId],
) -> wire_created::Created {
    let created = admin
        .create_service_account(
            org,
            &wire::CreateServiceAccount {
                username: name.into(),
                role,
                expires: None,
                projects: projects
                    .iter()
                    .map(|p| ProjectRoleGrant { id: *p, role })
                    .collect(),
            },
        )
        .await
        .expect("create service account");
    wire_created::Created {
        id: created.account.id,
        username: created.account.username.to_string(),
        secret: created.secret.expose_secret().to_string(),
    }
}

pub fn start_bao(start: fn() -> OpenBao) -> OpenBao {
    tokio::task::block_in_place(|| {
        let mut last = None;
        for _ in 0..3 {
            match std::panic::catch_unwind(start) {
                Ok(bao) => return bao,
                Err(e) => last = Some(e),
            }
        }
        std::panic::resume_unwind(last.expect("an attempt"))
    })
}

pub async fn store_for(bao: &OpenBao) -> VaultStore {
    VaultStore::connect(VaultConfig::new(
        bao.address(),
        VaultAuth::token(bao.root_token()),
    ))
    .await
    .expect("connect to OpenBao")
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// A CLI run.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn ok(self) -> Run {
        assert!(
            self.success,
            "the command failed ({:?}):\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }
}

/// A `run` daemon.
pub struct Daemon {
    pub holder: String,
    child: Option<tokio::process::Child>,
    pub log: PathBuf,
    pub port: u16,
    outputs: Arc<Mutex<Vec<String>>>,
}

impl Daemon {
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(|c| c.id())
    }

    /// SIGKILL.
    pub async fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill().await;
        }
        self.collect();
    }

    /// SIGTERM, then waits for a clean exit.
    pub async fn terminate(&mut self) -> Option<i32> {
        let mut c = self.child.take()?;
        if let Some(pid) = c.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
        let status = tokio::time::timeout(Duration::from_secs(30), c.wait())
            .await
            .ok()
            .and_then(|s| s.ok());
        self.collect();
        status.and_then(|s| s.code())
    }

    fn collect(&self) {
        let text = self.log_text();
        if let Ok(mut o) = self.outputs.lock() {
            o.push(format!("[daemon {}]\n{text}", self.holder));
        }
    }

    /// Waits until the daemon serves HTTP (learning its port from its first log line).
    pub async fn wait_http(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.port == 0 {
            let log = self.log_text();
            if let Some(port) = log
                .lines()
                .find(|l| l.contains("mixpanel-rotator started"))
                .and_then(|l| serde_json::from_str::<Value>(l).ok())
                .and_then(|v| v["http"].as_str().map(str::to_string))
                .and_then(|a| a.rsplit(':').next().and_then(|p| p.parse().ok()))
            {
                self.port = port;
                break;
            }
            assert!(
                Instant::now() < deadline,
                "daemon {} did not start:\n{log}",
                self.holder
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        loop {
            if let Ok(r) = reqwest::get(format!("{}/healthz", self.url())).await {
                if r.status().is_success() {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "daemon {} did not serve /healthz:\n{}",
                self.holder,
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.start_kill();
        }
    }
}

/// Polls `check` until it returns `Some`, or panics with `what` after `timeout`.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
