//! The rotator's configuration: a TOML file (`--config rotator.toml`) with environment
//! overrides. Every setting has a default except the Vault address and credentials and the
//! Mixpanel service account.
//!
//! ```toml
//! [vault]
//! address = "https://vault.example.com:8200"     # VAULT_ADDR
//! mount = "secret"                               # MIXPANEL_ROTATOR_VAULT_MOUNT
//! prefix = "mixpanel-rotator"                    # MIXPANEL_ROTATOR_VAULT_PREFIX
//! auth = { method = "kubernetes", role = "mixpanel-rotator" }   # or token (VAULT_TOKEN), approle
//!
//! [mixpanel]
//! api_url = "https://mixpanel.com"               # MIXPANEL_API_URL
//! service_account_username = "rotator.1a2b3c.mp-service-account"   # MIXPANEL_SERVICE_ACCOUNT_USERNAME
//! # service_account_secret: prefer MIXPANEL_SERVICE_ACCOUNT_SECRET
//! organization_id = 12345                        # MIXPANEL_ORGANIZATION_ID (discovered if omitted)
//! requests_per_second = 5                        # MIXPANEL_ROTATOR_RATE_LIMIT
//!
//! [rotation]
//! reconcile_interval = "1m"                      # MIXPANEL_ROTATOR_RECONCILE_INTERVAL
//! request_poll = "2s"                            # MIXPANEL_ROTATOR_REQUEST_POLL (handed-over requests)
//! max_jitter = "12h"                             # MIXPANEL_ROTATOR_MAX_JITTER (due dates ± 5 % of the period, at most this; "0s": none)
//! membership_interval = "5m"                     # MIXPANEL_ROTATOR_MEMBERSHIP_INTERVAL ("0s" = off)
//! max_concurrent = 4                             # MIXPANEL_ROTATOR_MAX_CONCURRENT
//! max_attempts = 8                               # MIXPANEL_ROTATOR_MAX_ATTEMPTS
//! health_check_interval = "15m"                  # MIXPANEL_ROTATOR_HEALTH_CHECK_INTERVAL (`status` trusts a secret check this long)
//! secret_check_interval = "1h"                   # MIXPANEL_ROTATOR_SECRET_CHECK_INTERVAL (the leader re-checks each stored secret; "0s" = off)
//!
//! [election]
//! holder = "rotator-0"                           # MIXPANEL_ROTATOR_HOLDER (default: host name and pid)
//! lease_ttl = "30s"                              # MIXPANEL_ROTATOR_LEASE_TTL
//!
//! [http]
//! listen = "0.0.0.0:9464"                        # MIXPANEL_ROTATOR_HTTP_LISTEN
//! # token: the bearer token of POST /rotate     # MIXPANEL_ROTATOR_HTTP_TOKEN
//!
//! [governance]
//! evidence_dir = "evidence"                      # MIXPANEL_ROTATOR_EVIDENCE_DIR (<dir>/<year>/<ticket>/)
//! review_interval = "0s"                         # MIXPANEL_ROTATOR_REVIEW_INTERVAL (e.g. "90d"; "0s" = off)
//! grant_check_interval = "1m"                    # MIXPANEL_ROTATOR_GRANT_CHECK_INTERVAL (time-limited grants)
//! dormant_days = 90                              # MIXPANEL_ROTATOR_DORMANT_DAYS
//! invitation_days = 30
//! sa_unused_days = 90
//! audit_lookback = "730d"                        # how far back reviews read the audit log
//!
//! [log]
//! format = "auto"                                # MIXPANEL_ROTATOR_LOG_FORMAT, --log-format (auto | json | text;
//!                                                #   auto: text on a terminal, JSON otherwise)
//! filter = "info"                                # MIXPANEL_ROTATOR_LOG (vaultrs=off, rustify=off added)
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use mixpanel_access::api::ClientConfig;
use mixpanel_access::inventory::{parse_duration, serde_humantime};
use mixpanel_access::model::OrgId;
use mixpanel_access::vault::{TlsConfig, VaultAuth, VaultConfig, DEFAULT_MOUNT, DEFAULT_PREFIX};
use secrecy::SecretString;
use serde::Deserialize;

use crate::error::{Result, RotatorError};

/// The whole configuration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub vault: VaultSection,
    #[serde(default)]
    pub mixpanel: MixpanelSection,
    #[serde(default)]
    pub rotation: RotationSettings,
    #[serde(default)]
    pub election: ElectionSection,
    #[serde(default)]
    pub http: HttpSection,
    #[serde(default)]
    pub log: LogSection,
    #[serde(default)]
    pub governance: GovernanceSection,
}

/// `[governance]`: access reviews, offboarding and their evidence.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GovernanceSection {
    /// Evidence folders go to `<evidence_dir>/<year>/<ticket>/`, scheduled reviews to
    /// `<evidence_dir>/<year>/reviews/`.
    #[serde(default = "default_evidence_dir")]
    pub evidence_dir: PathBuf,
    /// How often the daemon's leader writes a review; zero: never.
    #[serde(default, with = "serde_humantime")]
    pub review_interval: Duration,
    /// How often the daemon's leader looks for time-limited grants whose time is up.
    #[serde(default = "default_grant_check_interval", with = "serde_humantime")]
    pub grant_check_interval: Duration,
    #[serde(default = "default_dormant_days")]
    pub dormant_days: i64,
    #[serde(default = "default_invitation_days")]
    pub invitation_days: i64,
    #[serde(default = "default_dormant_days")]
    pub sa_unused_days: i64,
    #[serde(default = "default_audit_lookback", with = "serde_humantime")]
    pub audit_lookback: Duration,
}

impl Default for GovernanceSection {
    fn default() -> Self {
        GovernanceSection {
            evidence_dir: default_evidence_dir(),
            review_interval: Duration::ZERO,
            grant_check_interval: default_grant_check_interval(),
            dormant_days: default_dormant_days(),
            invitation_days: default_invitation_days(),
            sa_unused_days: default_dormant_days(),
            audit_lookback: default_audit_lookback(),
        }
    }
}

fn default_grant_check_interval() -> Duration {
    Duration::from_secs(60)
}

fn default_evidence_dir() -> PathBuf {
    PathBuf::from("evidence")
}
fn default_dormant_days() -> i64 {
    90
}
fn default_invitation_days() -> i64 {
    30
}
fn default_audit_lookback() -> Duration {
    Duration::from_secs(730 * 86_400)
}

impl GovernanceSection {
    /// The review policy these settings give.
    pub fn policy(&self) -> mixpanel_access::governance::Policy {
        mixpanel_access::governance::Policy {
            dormant_days: self.dormant_days,
            invitation_days: self.invitation_days,
            sa_unused_days: self.sa_unused_days,
            ..Default::default()
        }
    }

    /// The snapshot options these settings give.
    pub fn collect_options(&self) -> mixpanel_access::governance::CollectOptions {
        mixpanel_access::governance::CollectOptions {
            audit_lookback: chrono::Duration::from_std(self.audit_lookback)
                .unwrap_or(chrono::Duration::days(730)),
            ..Default::default()
        }
    }
}

/// `[vault]`: like the shared [`VaultConfig`], with every field optional so that the
/// environment can fill in the address and the token.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaultSection {
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub mount: Option<String>,
    #[serde(default)]
    pub prefix: Option<String>,
    #[serde(default)]
    pub auth: Option<VaultAuth>,
    #[serde(default)]
    pub tls: TlsConfig,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default, with = "opt_duration")]
    pub timeout: Option<Duration>,
}

/// `[mixpanel]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MixpanelSection {
    #[serde(default = "default_api_url")]
    pub api_url: String,
    #[serde(default)]
    pub service_account_username: Option<String>,
    #[serde(default)]
    pub service_account_secret: Option<SecretString>,
    #[serde(default)]
    pub organization_id: Option<u64>,
    /// Requests in flight at once.
    #[serde(default = "default_api_concurrency")]
    pub max_concurrency: usize,
    /// Retries of a 429/5xx inside the client (creates are never retried blindly).
    #[serde(default = "default_api_retries")]
    pub max_retries: usize,
    #[serde(default = "default_min_backoff", with = "serde_humantime")]
    pub min_backoff: Duration,
    #[serde(default = "default_max_backoff", with = "serde_humantime")]
    pub max_backoff: Duration,
    #[serde(default = "default_api_timeout", with = "serde_humantime")]
    pub timeout: Duration,
    /// The rotator's own rate limit on Mixpanel calls (all replicas' leader only).
    #[serde(default = "default_rate")]
    pub requests_per_second: u32,
}

impl Default for MixpanelSection {
    fn default() -> Self {
        MixpanelSection {
            api_url: default_api_url(),
            service_account_username: None,
            service_account_secret: None,
            organization_id: None,
            max_concurrency: default_api_concurrency(),
            max_retries: default_api_retries(),
            min_backoff: default_min_backoff(),
            max_backoff: default_max_backoff(),
            timeout: default_api_timeout(),
            requests_per_second: default_rate(),
        }
    }
}

/// `[rotation]`: how the engine and the triggers behave.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotationSettings {
    /// How often the leader re-reads the inventory (it also wakes at the next due date).
    #[serde(default = "default_reconcile", with = "serde_humantime")]
    pub reconcile_interval: Duration,
    /// How often the leader checks for rotation requests handed over by other processes
    /// (`rotate` on a follower, `POST /rotate` on a follower): one metadata read of the
    /// request doorbell (`locks/requests`) per poll.
    #[serde(default = "default_request_poll", with = "serde_humantime")]
    pub request_poll: Duration,
    /// How often the membership watcher compares owners and admins; zero turns it off.
    #[serde(default = "default_membership", with = "serde_humantime")]
    pub membership_interval: Duration,
    /// The overlap of rotations the membership watcher starts; the entry's own when absent.
    #[serde(default, with = "opt_duration")]
    pub membership_overlap: Option<Duration>,
    /// Rotations running at once.
    #[serde(default = "default_concurrent")]
    pub max_concurrent: usize,
    /// Attempts of one phase before the rotation stops in `needs_human`.
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    /// The first retry delay of a failed phase (doubled per attempt).
    #[serde(default = "default_retry_backoff", with = "serde_humantime")]
    pub retry_backoff: Duration,
    #[serde(default = "default_max_retry_backoff", with = "serde_humantime")]
    pub max_retry_backoff: Duration,
    /// How long the new credential may take to work (Mixpanel propagation).
    #[serde(default = "default_test_timeout", with = "serde_humantime")]
    pub test_timeout: Duration,
    /// How often a credential that must be rotated by hand is re-read and re-validated.
    #[serde(default = "default_mirror", with = "serde_humantime")]
    pub mirror_interval: Duration,
    /// How long `status` trusts a check of a stored secret against Mixpanel before it checks
    /// again (the checks are also bounded per run and by the rate limit).
    #[serde(default = "default_health_check", with = "serde_humantime")]
    pub health_check_interval: Duration,
    /// How often the leader re-checks each stored secret against Mixpanel (the answer feeds
    /// `mixpanel_rotator_credential_secrets` and the cache `status` reads); "0s" turns the
    /// leader's checks off. A service account's check authenticates as that account, which
    /// Mixpanel may record as its `last_used`.
    #[serde(default = "default_secret_check", with = "serde_humantime")]
    pub secret_check_interval: Duration,
    /// The cap on the jitter added to due dates (`last_rotated + period ± jitter`, the jitter
    /// being 5 % of the period, a stable function of the name and the last rotation, so
    /// credentials rotated together do not fall due together); the default cap is 12h,
    /// "0s" turns the jitter off.
    #[serde(default, with = "opt_duration")]
    pub max_jitter: Option<Duration>,
    /// How long SIGTERM waits for in-flight steps before releasing the lease.
    #[serde(default = "default_grace", with = "serde_humantime")]
    pub shutdown_grace: Duration,
}

impl Default for RotationSettings {
    fn default() -> Self {
        RotationSettings {
            reconcile_interval: default_reconcile(),
            request_poll: default_request_poll(),
            membership_interval: default_membership(),
            membership_overlap: None,
            max_concurrent: default_concurrent(),
            max_attempts: default_attempts(),
            retry_backoff: default_retry_backoff(),
            max_retry_backoff: default_max_retry_backoff(),
            test_timeout: default_test_timeout(),
            mirror_interval: default_mirror(),
            health_check_interval: default_health_check(),
            secret_check_interval: default_secret_check(),
            max_jitter: None,
            shutdown_grace: default_grace(),
        }
    }
}

/// `[election]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ElectionSection {
    /// This replica's name in the lease (default: host name and process id).
    #[serde(default)]
    pub holder: Option<String>,
    /// The lease's server-side TTL; renewed every third of it. Use the same on every replica.
    #[serde(default = "default_ttl", with = "serde_humantime")]
    pub lease_ttl: Duration,
}

impl Default for ElectionSection {
    fn default() -> Self {
        ElectionSection {
            holder: None,
            lease_ttl: default_ttl(),
        }
    }
}

/// `[http]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSection {
    #[serde(default = "default_listen")]
    pub listen: String,
    /// The bearer token `POST /rotate` requires; without one the route answers 403.
    #[serde(default)]
    pub token: Option<SecretString>,
}

impl Default for HttpSection {
    fn default() -> Self {
        HttpSection {
            listen: default_listen(),
            token: None,
        }
    }
}

/// `[log]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSection {
    #[serde(default = "default_log_format")]
    pub format: LogFormat,
    #[serde(default = "default_log_filter")]
    pub filter: String,
}

impl Default for LogSection {
    fn default() -> Self {
        LogSection {
            format: default_log_format(),
            filter: default_log_filter(),
        }
    }
}

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human text lines when stderr is a terminal, JSON lines otherwise.
    Auto,
    Json,
    Text,
}

impl std::str::FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(LogFormat::Auto),
            "json" => Ok(LogFormat::Json),
            "text" => Ok(LogFormat::Text),
            _ => Err(format!("\"{s}\" is not auto, json or text")),
        }
    }
}

fn default_api_url() -> String {
    "https://mixpanel.com".into()
}
fn default_api_concurrency() -> usize {
    3
}
fn default_api_retries() -> usize {
    5
}
fn default_min_backoff() -> Duration {
    Duration::from_secs(1)
}
fn default_max_backoff() -> Duration {
    Duration::from_secs(60)
}
fn default_api_timeout() -> Duration {
    Duration::from_secs(60)
}
fn default_rate() -> u32 {
    5
}
fn default_reconcile() -> Duration {
    Duration::from_secs(60)
}
fn default_request_poll() -> Duration {
    Duration::from_secs(2)
}
fn default_membership() -> Duration {
    Duration::from_secs(300)
}
fn default_concurrent() -> usize {
    4
}
fn default_attempts() -> u32 {
    8
}
fn default_retry_backoff() -> Duration {
    Duration::from_secs(10)
}
fn default_max_retry_backoff() -> Duration {
    Duration::from_secs(600)
}
fn default_test_timeout() -> Duration {
    Duration::from_secs(120)
}
fn default_mirror() -> Duration {
    Duration::from_secs(3600)
}
fn default_health_check() -> Duration {
    Duration::from_secs(15 * 60)
}
fn default_secret_check() -> Duration {
    Duration::from_secs(60 * 60)
}
fn default_grace() -> Duration {
    Duration::from_secs(30)
}
fn default_ttl() -> Duration {
    Duration::from_secs(30)
}
fn default_listen() -> String {
    "0.0.0.0:9464".into()
}
fn default_log_format() -> LogFormat {
    LogFormat::Auto
}
fn default_log_filter() -> String {
    "info".into()
}

/// Serde for an optional humantime duration.
mod opt_duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let s = Option::<String>::deserialize(d)?;
        s.map(|s| mixpanel_access::inventory::parse_duration(&s))
            .transpose()
            .map_err(serde::de::Error::custom)
    }
}

/// Where the environment is read from (a function, so tests can pass a map).
pub trait Env {
    fn var(&self, key: &str) -> Option<String>;
}

/// The process environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, key: &str) -> Option<String> {
        std::env::var(key).ok().filter(|v| !v.is_empty())
    }
}

impl<S: std::hash::BuildHasher> Env for std::collections::HashMap<String, String, S> {
    fn var(&self, key: &str) -> Option<String> {
        self.get(key).cloned().filter(|v| !v.is_empty())
    }
}

/// The environment variables the configuration reads, with what they set (for `--help`).
pub const ENV_VARS: &[(&str, &str)] = &[
    ("VAULT_ADDR", "vault.address"),
    ("VAULT_TOKEN", "vault.auth = token"),
    ("VAULT_NAMESPACE", "vault.namespace"),
    ("MIXPANEL_ROTATOR_VAULT_MOUNT", "vault.mount"),
    ("MIXPANEL_ROTATOR_VAULT_PREFIX", "vault.prefix"),
    ("MIXPANEL_API_URL", "mixpanel.api_url"),
    (
        "MIXPANEL_SERVICE_ACCOUNT_USERNAME",
        "mixpanel.service_account_username",
    ),
    (
        "MIXPANEL_SERVICE_ACCOUNT_SECRET",
        "mixpanel.service_account_secret",
    ),
    ("MIXPANEL_ORGANIZATION_ID", "mixpanel.organization_id"),
    (
        "MIXPANEL_ROTATOR_RATE_LIMIT",
        "mixpanel.requests_per_second",
    ),
    ("MIXPANEL_ROTATOR_API_MAX_RETRIES", "mixpanel.max_retries"),
    ("MIXPANEL_ROTATOR_API_MIN_BACKOFF", "mixpanel.min_backoff"),
    ("MIXPANEL_ROTATOR_API_MAX_BACKOFF", "mixpanel.max_backoff"),
    (
        "MIXPANEL_ROTATOR_RECONCILE_INTERVAL",
        "rotation.reconcile_interval",
    ),
    ("MIXPANEL_ROTATOR_REQUEST_POLL", "rotation.request_poll"),
    (
        "MIXPANEL_ROTATOR_MEMBERSHIP_INTERVAL",
        "rotation.membership_interval",
    ),
    (
        "MIXPANEL_ROTATOR_MEMBERSHIP_OVERLAP",
        "rotation.membership_overlap",
    ),
    ("MIXPANEL_ROTATOR_MAX_CONCURRENT", "rotation.max_concurrent"),
    ("MIXPANEL_ROTATOR_MAX_ATTEMPTS", "rotation.max_attempts"),
    ("MIXPANEL_ROTATOR_RETRY_BACKOFF", "rotation.retry_backoff"),
    (
        "MIXPANEL_ROTATOR_MAX_RETRY_BACKOFF",
        "rotation.max_retry_backoff",
    ),
    ("MIXPANEL_ROTATOR_TEST_TIMEOUT", "rotation.test_timeout"),
    (
        "MIXPANEL_ROTATOR_MIRROR_INTERVAL",
        "rotation.mirror_interval",
    ),
    ("MIXPANEL_ROTATOR_SHUTDOWN_GRACE", "rotation.shutdown_grace"),
    (
        "MIXPANEL_ROTATOR_HEALTH_CHECK_INTERVAL",
        "rotation.health_check_interval",
    ),
    (
        "MIXPANEL_ROTATOR_SECRET_CHECK_INTERVAL",
        "rotation.secret_check_interval",
    ),
    ("MIXPANEL_ROTATOR_MAX_JITTER", "rotation.max_jitter"),
    ("MIXPANEL_ROTATOR_HOLDER", "election.holder"),
    ("MIXPANEL_ROTATOR_LEASE_TTL", "election.lease_ttl"),
    ("MIXPANEL_ROTATOR_HTTP_LISTEN", "http.listen"),
    ("MIXPANEL_ROTATOR_HTTP_TOKEN", "http.token"),
    ("MIXPANEL_ROTATOR_LOG_FORMAT", "log.format"),
    ("MIXPANEL_ROTATOR_LOG", "log.filter"),
    ("MIXPANEL_ROTATOR_EVIDENCE_DIR", "governance.evidence_dir"),
    (
        "MIXPANEL_ROTATOR_REVIEW_INTERVAL",
        "governance.review_interval",
    ),
    ("MIXPANEL_ROTATOR_DORMANT_DAYS", "governance.dormant_days"),
    (
        "MIXPANEL_ROTATOR_GRANT_CHECK_INTERVAL",
        "governance.grant_check_interval",
    ),
];

fn env_duration(env: &dyn Env, key: &str, slot: &mut Duration) -> Result<()> {
    if let Some(v) = env.var(key) {
        *slot = parse_duration(&v).map_err(|e| RotatorError::config(key, e))?;
    }
    Ok(())
}

fn env_number<T: std::str::FromStr>(env: &dyn Env, key: &str, slot: &mut T) -> Result<()> {
    if let Some(v) = env.var(key) {
        *slot = v.trim().parse().map_err(|_| {
            RotatorError::Config(format!("{key}: \"{v}\" is not a valid whole number"))
        })?;
    }
    Ok(())
}

impl Config {
    /// Reads a TOML file (when given) and applies the environment.
    pub fn load(path: Option<&Path>, env: &dyn Env) -> Result<Config> {
        let mut config = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .map_err(|e| RotatorError::config(format!("cannot read {}", p.display()), e))?;
                let config = Config::from_toml(&text)
                    .map_err(|e| RotatorError::config(format!("{}", p.display()), e))?;
                if let Some(w) = config.secret_file_warning(p) {
                    eprintln!("warning: {w}");
                }
                config
            }
            None => Config::default(),
        };
        config.apply_env(env)?;
        Ok(config)
    }

    /// A warning when the file at `path` holds a secret (the Mixpanel secret, a Vault token or
    /// AppRole secret_id, the HTTP token) and can be read by its group or others.
    pub fn secret_file_warning(&self, path: &Path) -> Option<String> {
        let holds_secret = self.mixpanel.service_account_secret.is_some()
            || self.http.token.is_some()
            || matches!(
                self.vault.auth,
                Some(VaultAuth::Token { .. }) | Some(VaultAuth::AppRole { .. })
            );
        if !holds_secret {
            return None;
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path).ok()?.permissions().mode();
            if mode & 0o077 != 0 {
                return Some(format!(
                    "{} holds a secret and is readable by its group or others (mode {:o}): run `chmod 600 {}`, or pass the secret in the environment",
                    path.display(),
                    mode & 0o777,
                    path.display()
                ));
            }
        }
        None
    }

    /// Parses a TOML document (no environment).
    pub fn from_toml(text: &str) -> std::result::Result<Config, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// Applies the environment overrides.
    pub fn apply_env(&mut self, env: &dyn Env) -> Result<()> {
        let v = &mut self.vault;
        if let Some(a) = env.var("VAULT_ADDR") {
            v.address = Some(a);
        }
        if let Some(t) = env.var("VAULT_TOKEN") {
            v.auth = Some(VaultAuth::token(t));
        }
        if let Some(ns) = env.var("VAULT_NAMESPACE") {
            v.namespace = Some(ns);
        }
        if let Some(m) = env.var("MIXPANEL_ROTATOR_VAULT_MOUNT") {
            v.mount = Some(m);
        }
        if let Some(p) = env.var("MIXPANEL_ROTATOR_VAULT_PREFIX") {
            v.prefix = Some(p);
        }
        let m = &mut self.mixpanel;
        if let Some(u) = env.var("MIXPANEL_API_URL") {
            m.api_url = u;
        }
        if let Some(u) = env.var("MIXPANEL_SERVICE_ACCOUNT_USERNAME") {
            m.service_account_username = Some(u);
        }
        if let Some(s) = env.var("MIXPANEL_SERVICE_ACCOUNT_SECRET") {
            m.service_account_secret = Some(SecretString::from(s));
        }
        if let Some(o) = env.var("MIXPANEL_ORGANIZATION_ID") {
            m.organization_id = Some(o.trim().parse().map_err(|_| {
                RotatorError::Config(format!(
                    "MIXPANEL_ORGANIZATION_ID: \"{o}\" is not a numeric organization id"
                ))
            })?);
        }
        env_number(
            env,
            "MIXPANEL_ROTATOR_RATE_LIMIT",
            &mut m.requests_per_second,
        )?;
        env_number(env, "MIXPANEL_ROTATOR_API_MAX_RETRIES", &mut m.max_retries)?;
        env_duration(env, "MIXPANEL_ROTATOR_API_MIN_BACKOFF", &mut m.min_backoff)?;
        env_duration(env, "MIXPANEL_ROTATOR_API_MAX_BACKOFF", &mut m.max_backoff)?;
        let g = &mut self.governance;
        if let Some(d) = env.var("MIXPANEL_ROTATOR_EVIDENCE_DIR") {
            g.evidence_dir = PathBuf::from(d);
        }
        env_duration(
            env,
            "MIXPANEL_ROTATOR_REVIEW_INTERVAL",
            &mut g.review_interval,
        )?;
        env_number(env, "MIXPANEL_ROTATOR_DORMANT_DAYS", &mut g.dormant_days)?;
        env_duration(
            env,
            "MIXPANEL_ROTATOR_GRANT_CHECK_INTERVAL",
            &mut g.grant_check_interval,
        )?;
        let r = &mut self.rotation;
        env_duration(
            env,
            "MIXPANEL_ROTATOR_RECONCILE_INTERVAL",
            &mut r.reconcile_interval,
        )?;
        env_duration(env, "MIXPANEL_ROTATOR_REQUEST_POLL", &mut r.request_poll)?;
        env_duration(
            env,
            "MIXPANEL_ROTATOR_MEMBERSHIP_INTERVAL",
            &mut r.membership_interval,
        )?;
        if let Some(v) = env.var("MIXPANEL_ROTATOR_MEMBERSHIP_OVERLAP") {
            r.membership_overlap = Some(
                parse_duration(&v)
                    .map_err(|e| RotatorError::config("MIXPANEL_ROTATOR_MEMBERSHIP_OVERLAP", e))?,
            );
        }
        env_number(
            env,
            "MIXPANEL_ROTATOR_MAX_CONCURRENT",
            &mut r.max_concurrent,
        )?;
        env_number(env, "MIXPANEL_ROTATOR_MAX_ATTEMPTS", &mut r.max_attempts)?;
        env_duration(env, "MIXPANEL_ROTATOR_RETRY_BACKOFF", &mut r.retry_backoff)?;
        env_duration(
            env,
            "MIXPANEL_ROTATOR_MAX_RETRY_BACKOFF",
            &mut r.max_retry_backoff,
        )?;
        env_duration(env, "MIXPANEL_ROTATOR_TEST_TIMEOUT", &mut r.test_timeout)?;
        env_duration(
            env,
            "MIXPANEL_ROTATOR_MIRROR_INTERVAL",
            &mut r.mirror_interval,
        )?;
        env_duration(
            env,
            "MIXPANEL_ROTATOR_SHUTDOWN_GRACE",
            &mut r.shutdown_grace,
        )?;
        env_duration(
            env,
            "MIXPANEL_ROTATOR_HEALTH_CHECK_INTERVAL",
            &mut r.health_check_interval,
        )?;
        env_duration(
            env,
            "MIXPANEL_ROTATOR_SECRET_CHECK_INTERVAL",
            &mut r.secret_check_interval,
        )?;
        if let Some(v) = env.var("MIXPANEL_ROTATOR_MAX_JITTER") {
            r.max_jitter = Some(
                parse_duration(&v)
                    .map_err(|e| RotatorError::config("MIXPANEL_ROTATOR_MAX_JITTER", e))?,
            );
        }
        if let Some(h) = env.var("MIXPANEL_ROTATOR_HOLDER") {
            self.election.holder = Some(h);
        }
        env_duration(
            env,
            "MIXPANEL_ROTATOR_LEASE_TTL",
            &mut self.election.lease_ttl,
        )?;
        if let Some(l) = env.var("MIXPANEL_ROTATOR_HTTP_LISTEN") {
            self.http.listen = l;
        }
        if let Some(t) = env.var("MIXPANEL_ROTATOR_HTTP_TOKEN") {
            self.http.token = Some(SecretString::from(t));
        }
        if let Some(f) = env.var("MIXPANEL_ROTATOR_LOG_FORMAT") {
            self.log.format = f
                .parse()
                .map_err(|e| RotatorError::config("MIXPANEL_ROTATOR_LOG_FORMAT", e))?;
        }
        if let Some(f) = env.var("MIXPANEL_ROTATOR_LOG") {
            self.log.filter = f;
        }
        Ok(())
    }

    /// The Vault configuration, or what is missing.
    pub fn vault_config(&self) -> Result<VaultConfig> {
        let v = &self.vault;
        let address = v.address.clone().ok_or_else(|| {
            RotatorError::Config(
                "no Vault address: set [vault] address or VAULT_ADDR (e.g. https://vault:8200)"
                    .into(),
            )
        })?;
        let auth = v.auth.clone().ok_or_else(|| {
            RotatorError::Config(
                "no Vault credentials: set [vault] auth (token, approle or kubernetes) or VAULT_TOKEN"
                    .into(),
            )
        })?;
        let mut c = VaultConfig::new(address, auth)
            .with_mount(v.mount.clone().unwrap_or_else(|| DEFAULT_MOUNT.into()))
            .with_prefix(v.prefix.clone().unwrap_or_else(|| DEFAULT_PREFIX.into()));
        c.tls = v.tls.clone();
        c.namespace = v.namespace.clone();
        if let Some(t) = v.timeout {
            c.timeout = t;
        }
        c.validate()?;
        Ok(c)
    }

    /// The Mixpanel client configuration of the rotator's own (admin) service account.
    pub fn client_config(&self) -> Result<ClientConfig> {
        let m = &self.mixpanel;
        let username = m.service_account_username.clone().ok_or_else(|| {
            RotatorError::Config(
                "no Mixpanel service account: set MIXPANEL_SERVICE_ACCOUNT_USERNAME (the full name.<hex>.mp-service-account username of an organization admin)".into(),
            )
        })?;
        let secret = m.service_account_secret.clone().ok_or_else(|| {
            RotatorError::Config(
                "no Mixpanel service account secret: set MIXPANEL_SERVICE_ACCOUNT_SECRET".into(),
            )
        })?;
        let mut c = ClientConfig::new(&m.api_url, &username, secret)?;
        c.max_concurrency = m.max_concurrency.max(1);
        c.max_retries = m.max_retries;
        c.min_backoff = m.min_backoff;
        c.max_backoff = m.max_backoff.max(m.min_backoff);
        c.timeout = m.timeout;
        Ok(c)
    }

    /// The configured organization, if any.
    pub fn organization(&self) -> Option<OrgId> {
        self.mixpanel.organization_id.map(OrgId)
    }

    /// This replica's holder id in the lease.
    pub fn holder(&self) -> String {
        self.election.holder.clone().unwrap_or_else(default_holder)
    }

    /// The HTTP listen address.
    pub fn listen_addr(&self) -> Result<SocketAddr> {
        self.http.listen.parse().map_err(|e| {
            RotatorError::Config(format!(
                "http.listen \"{}\" is not an address such as 0.0.0.0:9464: {e}",
                self.http.listen
            ))
        })
    }

    /// Checks the settings that do not need a server.
    pub fn validate(&self) -> Result<()> {
        let r = &self.rotation;
        if r.reconcile_interval.is_zero() {
            return Err(RotatorError::Config(
                "rotation.reconcile_interval must be longer than zero".into(),
            ));
        }
        if r.request_poll < Duration::from_millis(100) {
            return Err(RotatorError::Config(
                "rotation.request_poll must be at least 100ms".into(),
            ));
        }
        if r.max_concurrent == 0 || r.max_attempts == 0 {
            return Err(RotatorError::Config(
                "rotation.max_concurrent and rotation.max_attempts must be at least 1".into(),
            ));
        }
        if self.election.lease_ttl < Duration::from_secs(1) {
            return Err(RotatorError::Config(
                "election.lease_ttl must be at least 1s".into(),
            ));
        }
        if self.mixpanel.requests_per_second == 0 {
            return Err(RotatorError::Config(
                "mixpanel.requests_per_second must be at least 1".into(),
            ));
        }
        let g = &self.governance;
        if g.dormant_days < 1 || g.invitation_days < 1 || g.sa_unused_days < 1 {
            return Err(RotatorError::Config(
                "governance.dormant_days, invitation_days and sa_unused_days must be at least 1"
                    .into(),
            ));
        }
        if !g.review_interval.is_zero() && g.review_interval < Duration::from_secs(1) {
            return Err(RotatorError::Config(
                "governance.review_interval must be 0s (off) or at least 1s".into(),
            ));
        }
        Ok(())
    }
}

/// `<host name>-<pid>`: unique per process, readable in the lease.
pub fn default_holder() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.trim().is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_string())
                .filter(|h| !h.is_empty())
        })
        .unwrap_or_else(|| "rotator".into());
    format!("{host}-{}", std::process::id())
}

/// A path given on the command line, resolved for messages.
pub fn display_path(p: &Path) -> PathBuf {
    p.canonicalize().unwrap_or_else(|_| p.to_path_buf())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use secrecy::ExposeSecret;

    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_config_file_holding_a_secret_readable_by_others_draws_a_warning() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("rotator.toml");
        let with_secret = "[mixpanel]\nservice_account_secret = \"s\"\n";
        std::fs::write(&path, with_secret).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let c = Config::from_toml(with_secret).expect("parse");
        let w = c.secret_file_warning(&path).expect("a warning");
        assert!(w.contains("mode 644") && w.contains("chmod 600"), "{w}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        assert_eq!(c.secret_file_warning(&path), None);
        // No secret in the file: no warning whatever its mode.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let c = Config::from_toml("[rotation]\nmax_attempts = 3\n").expect("parse");
        assert_eq!(c.secret_file_warning(&path), None);
    }

    #[test]
    fn toml_and_environment() {
        let text = r#"
            [vault]
            address = "http://vault:8200"
            prefix = "team/rotator"
            auth = { method = "approle", role_id = "r", secret_id = "s3cr3t-approle" }

            [mixpanel]
            api_url = "http://127.0.0.1:1"
            service_account_username = "rot.abc.mp-service-account"
            service_account_secret = "toml-secret-value"
            organization_id = 7

            [rotation]
            reconcile_interval = "30s"
            membership_overlap = "0s"

            [http]
            token = "bearer-value"
        "#;
        let mut c = Config::from_toml(text).unwrap();
        assert_eq!(c.rotation.reconcile_interval, Duration::from_secs(30));
        assert_eq!(c.rotation.membership_overlap, Some(Duration::ZERO));
        assert_eq!(c.organization(), Some(OrgId(7)));
        let env: HashMap<String, String> = [
            ("VAULT_ADDR", "http://127.0.0.1:8200"),
            ("VAULT_TOKEN", "env-token"),
            ("MIXPANEL_ROTATOR_LEASE_TTL", "3s"),
            ("MIXPANEL_ROTATOR_MAX_CONCURRENT", "9"),
            ("MIXPANEL_SERVICE_ACCOUNT_SECRET", "env-secret"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        c.apply_env(&env).unwrap();
        let v = c.vault_config().unwrap();
        assert_eq!(v.address, "http://127.0.0.1:8200");
        assert_eq!(v.prefix, "team/rotator");
        assert_eq!(v.auth.method(), "token");
        assert_eq!(c.election.lease_ttl, Duration::from_secs(3));
        assert_eq!(c.rotation.max_concurrent, 9);
        let cc = c.client_config().unwrap();
        assert_eq!(cc.secret.expose_secret(), "env-secret");
        let debug = format!("{c:?}");
        for secret in ["env-secret", "env-token", "bearer-value", "s3cr3t-approle"] {
            assert!(!debug.contains(secret), "{secret} leaked in {debug}");
        }
        let bad: HashMap<String, String> =
            [("MIXPANEL_ROTATOR_LEASE_TTL".to_string(), "soon".to_string())].into();
        let err = c.apply_env(&bad).unwrap_err().to_string();
        assert!(err.contains("MIXPANEL_ROTATOR_LEASE_TTL"), "{err}");
    }

    #[test]
    fn the_example_configuration_parses_and_the_secret_checks_can_be_turned_off() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/rotator/rotator.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let mut c = Config::from_toml(&text).unwrap();
        assert_eq!(c.rotation.secret_check_interval, Duration::from_secs(3600));
        assert_eq!(c.rotation.health_check_interval, Duration::from_secs(900));
        let env: HashMap<String, String> = [(
            "MIXPANEL_ROTATOR_SECRET_CHECK_INTERVAL".to_string(),
            "0s".to_string(),
        )]
        .into();
        c.apply_env(&env).unwrap();
        assert_eq!(c.rotation.secret_check_interval, Duration::ZERO);
        assert_eq!(
            Config::default().rotation.secret_check_interval,
            Duration::from_secs(3600)
        );
    }

    #[test]
    fn missing_settings_say_what_to_set() {
        let c = Config::default();
        let err = c.vault_config().unwrap_err().to_string();
        assert!(err.contains("VAULT_ADDR"), "{err}");
        let err = c.client_config().unwrap_err().to_string();
        assert!(err.contains("MIXPANEL_SERVICE_ACCOUNT_USERNAME"), "{err}");
        assert!(Config::from_toml("[nope]\n").is_err());
    }
}
