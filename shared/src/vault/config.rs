//! How to reach Vault/OpenBao and where the rotator keeps its data there.

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

use super::VaultError;

/// The default KV v2 mount.
pub const DEFAULT_MOUNT: &str = "secret";
/// The default prefix under the mount: `<mount>/<prefix>/{creds,state,locks}/...`.
pub const DEFAULT_PREFIX: &str = "mixpanel-rotator";
/// The default request timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Where Kubernetes projects a pod's service-account token.
pub const DEFAULT_KUBERNETES_JWT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/// How to reach Vault and where the rotator's data lives.
///
/// In a TOML file:
///
/// ```toml
/// [vault]
/// address = "https://vault.example.com:8200"
/// mount = "secret"
/// prefix = "mixpanel-rotator"
/// timeout = "30s"
/// tls = { ca_cert = "/etc/ssl/vault-ca.pem" }
/// auth = { method = "approle", role_id = "...", secret_id = "..." }
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaultConfig {
    /// `http(s)://host:port`, without `/v1`.
    pub address: String,
    /// The KV v2 mount.
    #[serde(default = "default_mount")]
    pub mount: String,
    /// The folder under the mount holding `creds/`, `state/` and `locks/`.
    #[serde(default = "default_prefix")]
    pub prefix: String,
    pub auth: VaultAuth,
    #[serde(default)]
    pub tls: TlsConfig,
    /// A Vault Enterprise / OpenBao namespace (`X-Vault-Namespace`).
    #[serde(default)]
    pub namespace: Option<String>,
    /// The timeout of one request.
    #[serde(
        default = "default_timeout",
        with = "crate::inventory::serde_humantime"
    )]
    pub timeout: Duration,
}

fn default_mount() -> String {
    DEFAULT_MOUNT.into()
}
fn default_prefix() -> String {
    DEFAULT_PREFIX.into()
}
fn default_timeout() -> Duration {
    DEFAULT_TIMEOUT
}
fn default_approle_mount() -> String {
    "approle".into()
}
fn default_kubernetes_mount() -> String {
    "kubernetes".into()
}
fn default_jwt_path() -> PathBuf {
    PathBuf::from(DEFAULT_KUBERNETES_JWT_PATH)
}

/// How the store authenticates.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case", deny_unknown_fields)]
pub enum VaultAuth {
    /// A token, used as it is (renewed when renewable).
    Token { token: SecretString },
    /// AppRole login (`auth/<mount>/login`); logs in again when renewal fails.
    #[serde(rename = "approle")]
    AppRole {
        role_id: String,
        secret_id: SecretString,
        #[serde(default = "default_approle_mount")]
        mount: String,
    },
    /// Kubernetes login with the pod's projected service-account token, re-read at every login.
    Kubernetes {
        role: String,
        #[serde(default = "default_jwt_path")]
        jwt_path: PathBuf,
        #[serde(default = "default_kubernetes_mount")]
        mount: String,
    },
}

impl VaultAuth {
    /// Token authentication.
    pub fn token(token: impl Into<String>) -> Self {
        VaultAuth::Token {
            token: SecretString::from(token.into()),
        }
    }

    /// AppRole on the default mount `approle`.
    pub fn approle(role_id: impl Into<String>, secret_id: impl Into<String>) -> Self {
        VaultAuth::AppRole {
            role_id: role_id.into(),
            secret_id: SecretString::from(secret_id.into()),
            mount: default_approle_mount(),
        }
    }

    /// Kubernetes on the default mount `kubernetes` with the default token path.
    pub fn kubernetes(role: impl Into<String>) -> Self {
        VaultAuth::Kubernetes {
            role: role.into(),
            jwt_path: default_jwt_path(),
            mount: default_kubernetes_mount(),
        }
    }

    /// The method's name, for messages.
    pub fn method(&self) -> &'static str {
        match self {
            VaultAuth::Token { .. } => "token",
            VaultAuth::AppRole { .. } => "approle",
            VaultAuth::Kubernetes { .. } => "kubernetes",
        }
    }

    /// Whether the store can log in again on its own when the token cannot be renewed.
    pub fn can_relogin(&self) -> bool {
        !matches!(self, VaultAuth::Token { .. })
    }
}

/// TLS settings for `https://` addresses.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// A PEM file with the CA certificate(s) that signed Vault's certificate.
    #[serde(default)]
    pub ca_cert: Option<PathBuf>,
    /// Accept any certificate. For tests only.
    #[serde(default)]
    pub skip_verify: bool,
}

impl VaultConfig {
    /// A configuration with the default mount, prefix, TLS and timeout.
    pub fn new(address: impl Into<String>, auth: VaultAuth) -> Self {
        VaultConfig {
            address: address.into(),
            mount: default_mount(),
            prefix: default_prefix(),
            auth,
            tls: TlsConfig::default(),
            namespace: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Sets the prefix.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Sets the mount.
    pub fn with_mount(mut self, mount: impl Into<String>) -> Self {
        self.mount = mount.into();
        self
    }

    /// Checks everything that can be checked without a server.
    pub fn validate(&self) -> Result<url::Url, VaultError> {
        let bad = |m: String| VaultError::BadConfig(m);
        let url = url::Url::parse(self.address.trim()).map_err(|e| {
            VaultError::setup(
                format!(
                    "address \"{}\" is not a URL ({e}); use http(s)://host:port",
                    self.address
                ),
                e,
            )
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad(format!(
                "address \"{}\" must start with http:// or https://",
                self.address
            )));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(bad(format!("address \"{}\" has no host", self.address)));
        }
        for (what, value) in [("mount", &self.mount), ("prefix", &self.prefix)] {
            crate::inventory::validate_name(value).map_err(|e| bad(format!("{what}: {e}")))?;
        }
        if let Some(ns) = &self.namespace {
            if !header_safe(ns) {
                return Err(bad(format!(
                    "namespace \"{ns}\" must be printable ASCII without spaces"
                )));
            }
        }
        if self.timeout.is_zero() {
            return Err(bad("timeout must be longer than zero".into()));
        }
        if let Some(ca) = &self.tls.ca_cert {
            if !ca.is_file() {
                return Err(bad(format!(
                    "tls.ca_cert {} is not a readable file",
                    ca.display()
                )));
            }
        }
        match &self.auth {
            VaultAuth::Token { token } => {
                use secrecy::ExposeSecret;
                if !header_safe(token.expose_secret()) {
                    return Err(bad(
                        "the token is empty or contains spaces or control characters".into(),
                    ));
                }
            }
            VaultAuth::AppRole { role_id, mount, .. } => {
                if role_id.trim().is_empty() {
                    return Err(bad("auth.role_id is empty".into()));
                }
                crate::inventory::validate_name(mount)
                    .map_err(|e| bad(format!("auth.mount: {e}")))?;
            }
            VaultAuth::Kubernetes { role, mount, .. } => {
                if role.trim().is_empty() {
                    return Err(bad("auth.role is empty".into()));
                }
                crate::inventory::validate_name(mount)
                    .map_err(|e| bad(format!("auth.mount: {e}")))?;
            }
        }
        Ok(url)
    }
}

/// Whether a value can go into an HTTP header as it is.
pub(crate) fn header_safe(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic())
}
