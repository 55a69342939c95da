//! The connection to Vault/OpenBao: authentication and token renewal, typed KV v2 calls through
//! `vaultrs`, and raw HTTP calls for what `vaultrs` lacks (metadata merge-PATCH, metadata with
//! OpenBao's `current_metadata_version`, `detailed-metadata` LIST, `sys/health`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use reqwest::{Method, StatusCode};
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::Value;
use vaultrs::api::kv2::requests::{ReadSecretRequest, SetSecretRequestOptions};
use vaultrs::client::{VaultClient, VaultClientSettings, VaultClientSettingsBuilder};
use vaultrs::error::ClientError;

use super::config::header_safe;
use super::error::{capability_for, chain};
use super::{VaultAuth, VaultConfig, VaultError};
use crate::cause::Cause;

/// `max_versions` set on credentials and journals when they are first written.
pub const DEFAULT_MAX_VERSIONS: u64 = 20;

/// One version of a KV v2 secret, as the server describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionInfo {
    pub version: u64,
    pub created_time: Option<DateTime<Utc>>,
    /// When the version was (or will be) soft-deleted; `None` if never.
    pub deletion_time: Option<DateTime<Utc>>,
    pub destroyed: bool,
}

/// The metadata of a KV v2 key: its versions and `custom_metadata`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KvMetadata {
    pub current_version: u64,
    pub oldest_version: u64,
    pub created_time: Option<DateTime<Utc>>,
    pub updated_time: Option<DateTime<Utc>>,
    pub cas_required: bool,
    pub max_versions: u64,
    /// `None` when versions are never deleted automatically.
    pub delete_version_after: Option<Duration>,
    pub custom_metadata: BTreeMap<String, String>,
    pub versions: BTreeMap<u64, VersionInfo>,
    /// OpenBao's metadata version (for `metadata_cas`); `None` on HashiCorp Vault.
    pub current_metadata_version: Option<u64>,
}

impl KvMetadata {
    /// The current version's entry.
    pub fn current(&self) -> Option<&VersionInfo> {
        self.versions.get(&self.current_version)
    }

    /// When the current version was written: the server's "last rotated" time.
    pub fn current_created_time(&self) -> Option<DateTime<Utc>> {
        self.current().and_then(|v| v.created_time)
    }
}

/// What `sys/health` reports.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ServerHealth {
    #[serde(default)]
    pub initialized: bool,
    #[serde(default)]
    pub sealed: bool,
    #[serde(default)]
    pub standby: bool,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub server_time_utc: Option<i64>,
}

/// What [`VaultStore::renew_if_needed`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRenewal {
    /// The token does not expire, or is not yet at 2/3 of its TTL.
    NotNeeded,
    /// `renew-self` extended it to this TTL.
    Renewed { ttl: Duration },
    /// The store logged in again and got a token with this TTL.
    LoggedIn { ttl: Duration },
    /// A static token that cannot be renewed; it expires in `remaining`.
    NotRenewable { remaining: Duration },
}

#[derive(Debug, Clone, Copy)]
struct TokenState {
    authenticated: bool,
    /// `None`: the token does not expire.
    ttl: Option<Duration>,
    renewable: bool,
    obtained: Instant,
    /// The TTL of the token as first issued (login or lookup), to notice `max_ttl` capping.
    issued_ttl: Option<Duration>,
}

struct Inner {
    config: VaultConfig,
    address: String,
    client: RwLock<Arc<VaultClient>>,
    http: reqwest::Client,
    token: Mutex<TokenState>,
    auth_lock: tokio::sync::Mutex<()>,
    detailed_unsupported: AtomicBool,
}

/// The rotator's view of Vault: credentials under `creds/`, journals under `state/`, the leader
/// lease under `locks/`, all below `<mount>/<prefix>/`. Cheap to clone; clones share the
/// connection and the token.
#[derive(Clone)]
pub struct VaultStore {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for VaultStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VaultStore")
            .field("address", &self.inner.address)
            .field("mount", &self.inner.config.mount)
            .field("prefix", &self.inner.config.prefix)
            .field("auth", &self.inner.config.auth.method())
            .finish()
    }
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    if s.is_empty() {
        return None;
    }
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// Parses a Go duration as Vault prints it (`0s`, `6s`, `1m30s`, `1h0m0s`, `1.5s`, `300ms`).
pub(crate) fn parse_go_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s.is_empty() || s == "0" {
        return Some(Duration::ZERO);
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (num, tail) = rest.split_at(num_len);
        let n: f64 = num.parse().ok()?;
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let scale = match unit {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        total += n * scale;
        rest = tail;
    }
    Duration::try_from_secs_f64(total).ok()
}

#[derive(Deserialize, Default)]
struct RawVersion {
    #[serde(default)]
    created_time: String,
    #[serde(default)]
    deletion_time: String,
    #[serde(default)]
    destroyed: bool,
}

#[derive(Deserialize, Default)]
struct RawMetadata {
    #[serde(default)]
    cas_required: bool,
    #[serde(default)]
    created_time: Option<String>,
    #[serde(default)]
    current_version: u64,
    #[serde(default)]
    current_metadata_version: Option<u64>,
    #[serde(default)]
    delete_version_after: Option<String>,
    #[serde(default)]
    max_versions: u64,
    #[serde(default)]
    oldest_version: u64,
    #[serde(default)]
    updated_time: Option<String>,
    #[serde(default)]
    custom_metadata: Option<BTreeMap<String, String>>,
    #[serde(default)]
    versions: BTreeMap<String, RawVersion>,
}

impl From<RawMetadata> for KvMetadata {
    fn from(r: RawMetadata) -> Self {
        KvMetadata {
            current_version: r.current_version,
            oldest_version: r.oldest_version,
            created_time: r.created_time.as_deref().and_then(parse_time),
            updated_time: r.updated_time.as_deref().and_then(parse_time),
            cas_required: r.cas_required,
            max_versions: r.max_versions,
            delete_version_after: r
                .delete_version_after
                .as_deref()
                .and_then(parse_go_duration)
                .filter(|d| !d.is_zero()),
            custom_metadata: r.custom_metadata.unwrap_or_default(),
            versions: r
                .versions
                .into_iter()
                .filter_map(|(k, v)| {
                    let version = k.parse().ok()?;
                    Some((
                        version,
                        VersionInfo {
                            version,
                            created_time: parse_time(&v.created_time),
                            deletion_time: parse_time(&v.deletion_time),
                            destroyed: v.destroyed,
                        },
                    ))
                })
                .collect(),
            current_metadata_version: r.current_metadata_version,
        }
    }
}

#[derive(Deserialize)]
struct Envelope<T> {
    data: Option<T>,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    errors: Vec<String>,
}

#[derive(Deserialize)]
struct ListData {
    #[serde(default)]
    keys: Vec<String>,
    /// Decoded straight into typed metadata: a listing of 10,000 credentials held as a JSON
    /// tree first would take several times the size of the answer.
    #[serde(default)]
    key_info: BTreeMap<String, RawMetadata>,
}

/// Which KV v2 area a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Area {
    Creds,
    State,
    Locks,
}

impl Area {
    fn as_str(self) -> &'static str {
        match self {
            Area::Creds => "creds",
            Area::State => "state",
            Area::Locks => "locks",
        }
    }
}

impl VaultStore {
    /// Builds the store without contacting the server. The first operation logs in (AppRole,
    /// Kubernetes) or looks the token up.
    pub fn new(config: VaultConfig) -> Result<Self, VaultError> {
        config.validate()?;
        let address = config.address.trim().trim_end_matches('/').to_string();
        let token = match &config.auth {
            VaultAuth::Token { token } => token.expose_secret().to_string(),
            _ => String::new(),
        };
        let settings = settings_for(&config, &address, token)?;
        let client = VaultClient::new(settings).map_err(|e| {
            VaultError::setup(format!("cannot build the HTTP client: {}", chain(&e)), e)
        })?;
        let http = client.http.http.clone();
        Ok(VaultStore {
            inner: Arc::new(Inner {
                config,
                address,
                client: RwLock::new(Arc::new(client)),
                http,
                token: Mutex::new(TokenState {
                    authenticated: false,
                    ttl: None,
                    renewable: false,
                    obtained: Instant::now(),
                    issued_ttl: None,
                }),
                auth_lock: tokio::sync::Mutex::new(()),
                detailed_unsupported: AtomicBool::new(false),
            }),
        })
    }

    /// Builds the store and authenticates (logs in, or checks the token with `lookup-self`).
    pub async fn connect(config: VaultConfig) -> Result<Self, VaultError> {
        let store = VaultStore::new(config)?;
        store.login().await?;
        Ok(store)
    }

    pub fn config(&self) -> &VaultConfig {
        &self.inner.config
    }

    /// The server address, as configured (without a trailing `/`).
    pub fn address(&self) -> &str {
        &self.inner.address
    }

    /// The KV path (below the mount) of a credential, journal or lock.
    pub(crate) fn kv_path(&self, area: Area, name: &str) -> Result<String, VaultError> {
        crate::inventory::validate_name(name).map_err(|e| VaultError::InvalidInput {
            path: format!("{}/{}", self.inner.config.prefix, area.as_str()),
            reason: e.to_string(),
        })?;
        Ok(format!(
            "{}/{}/{}",
            self.inner.config.prefix,
            area.as_str(),
            name
        ))
    }

    /// The policy path of a KV v2 `data/` key, e.g. `secret/data/mixpanel-rotator/creds/x`.
    pub fn data_policy_path(&self, kv_path: &str) -> String {
        format!("{}/data/{kv_path}", self.inner.config.mount)
    }

    /// The policy path of a KV v2 `metadata/` key.
    pub fn metadata_policy_path(&self, kv_path: &str) -> String {
        format!("{}/metadata/{kv_path}", self.inner.config.mount)
    }

    fn client(&self) -> Arc<VaultClient> {
        match self.inner.client.read() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn token_state(&self) -> TokenState {
        match self.inner.token.lock() {
            Ok(s) => *s,
            Err(poisoned) => *poisoned.into_inner(),
        }
    }

    fn set_token_state(&self, state: TokenState) {
        match self.inner.token.lock() {
            Ok(mut s) => *s = state,
            Err(poisoned) => *poisoned.into_inner() = state,
        }
    }

    // ---- authentication ----

    /// Logs in again (AppRole, Kubernetes) or looks the static token up (Token).
    pub async fn login(&self) -> Result<(), VaultError> {
        let _guard = self.inner.auth_lock.lock().await;
        self.login_locked().await.map(|_| ())
    }

    /// Who this store acts as, for evidence: the token's display name (`token`,
    /// `approle-<role>`, ...), its entity id when it has one, and the auth method.
    pub async fn token_identity(&self) -> Result<String, VaultError> {
        self.ensure_authenticated().await?;
        let client = self.client();
        let path = "auth/token/lookup-self";
        let t = vaultrs::token::lookup_self(&*client)
            .await
            .map_err(|e| self.client_error(e, "GET", path, None))?;
        let mut who = if t.display_name.is_empty() {
            "(no display name)".to_string()
        } else {
            t.display_name
        };
        if !t.entity_id.is_empty() {
            who.push_str(&format!(" (entity {})", t.entity_id));
        }
        who.push_str(&format!(" via {}", self.inner.config.auth.method()));
        Ok(who)
    }

    async fn ensure_authenticated(&self) -> Result<(), VaultError> {
        if self.token_state().authenticated {
            return Ok(());
        }
        let _guard = self.inner.auth_lock.lock().await;
        if self.token_state().authenticated {
            return Ok(());
        }
        self.login_locked().await.map(|_| ())
    }

    async fn login_locked(&self) -> Result<Option<Duration>, VaultError> {
        let client = self.client();
        let method = self.inner.config.auth.method().to_string();
        let auth_err = |e: VaultError| match e {
            e @ (VaultError::Unreachable { .. } | VaultError::Sealed { .. }) => e,
            e => VaultError::auth(method.clone(), e.to_string()).with_source(Cause::new(e)),
        };
        let info = match &self.inner.config.auth {
            VaultAuth::Token { .. } => {
                let path = "auth/token/lookup-self";
                let looked = vaultrs::token::lookup_self(&*client)
                    .await
                    .map_err(|e| self.client_error(e, "GET", path, None))
                    .map_err(|e| match e {
                        VaultError::PermissionDenied { .. } => VaultError::auth(method.clone(), "the token was rejected (invalid, expired or revoked): set a valid token"),
                        e => e,
                    })?;
                let ttl = (looked.ttl > 0).then(|| Duration::from_secs(looked.ttl));
                self.set_token_state(TokenState {
                    authenticated: true,
                    ttl,
                    renewable: looked.renewable.unwrap_or(false),
                    obtained: Instant::now(),
                    issued_ttl: ttl,
                });
                return Ok(ttl);
            }
            VaultAuth::AppRole {
                role_id,
                secret_id,
                mount,
            } => {
                let path = format!("auth/{mount}/login");
                vaultrs::auth::approle::login(&*client, mount, role_id, secret_id.expose_secret())
                    .await
                    .map_err(|e| self.client_error(e, "POST", &path, None))
                    .map_err(auth_err)?
            }
            VaultAuth::Kubernetes {
                role,
                jwt_path,
                mount,
            } => {
                let file = jwt_path.clone();
                let read = tokio::task::spawn_blocking(move || std::fs::read_to_string(file))
                    .await
                    .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())));
                let jwt = read.map_err(|e| {
                    VaultError::auth(
                        method.clone(),
                        format!(
                            "cannot read the service-account token {}: {e}",
                            jwt_path.display()
                        ),
                    )
                    .with_source(Cause::new(e))
                })?;
                let path = format!("auth/{mount}/login");
                vaultrs::auth::kubernetes::login(&*client, mount, role, jwt.trim())
                    .await
                    .map_err(|e| self.client_error(e, "POST", &path, None))
                    .map_err(auth_err)?
            }
        };
        if !header_safe(&info.client_token) {
            return Err(VaultError::auth(
                method,
                "the server returned an unusable token",
            ));
        }
        let mut settings: VaultClientSettings = client.settings.clone();
        settings.token = info.client_token.clone();
        let fresh = VaultClient::new(settings).map_err(|e| {
            VaultError::setup(format!("cannot build the HTTP client: {}", chain(&e)), e)
        })?;
        match self.inner.client.write() {
            Ok(mut c) => *c = Arc::new(fresh),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(fresh),
        }
        let ttl = (info.lease_duration > 0).then(|| Duration::from_secs(info.lease_duration));
        self.set_token_state(TokenState {
            authenticated: true,
            ttl,
            renewable: info.renewable,
            obtained: Instant::now(),
            issued_ttl: ttl,
        });
        tracing::debug!(method = %self.inner.config.auth.method(), ttl_s = ttl.map(|t| t.as_secs()), "logged in to Vault");
        Ok(ttl)
    }

    /// How long the current token has left, by the local clock; `None` if it does not expire
    /// (or the store has not authenticated yet).
    pub fn token_ttl_remaining(&self) -> Option<Duration> {
        let s = self.token_state();
        if !s.authenticated {
            return None;
        }
        s.ttl.map(|ttl| ttl.saturating_sub(s.obtained.elapsed()))
    }

    /// Renews the token once 2/3 of its TTL has passed; logs in again (AppRole, Kubernetes)
    /// when renewal fails, the token is not renewable, or `max_ttl` caps the renewal.
    pub async fn renew_if_needed(&self) -> Result<TokenRenewal, VaultError> {
        let _guard = self.inner.auth_lock.lock().await;
        let state = self.token_state();
        let auth = &self.inner.config.auth;
        if !state.authenticated {
            let ttl = self.login_locked().await?;
            return Ok(TokenRenewal::LoggedIn {
                ttl: ttl.unwrap_or_default(),
            });
        }
        let Some(ttl) = state.ttl else {
            return Ok(TokenRenewal::NotNeeded);
        };
        let elapsed = state.obtained.elapsed();
        if elapsed < ttl * 2 / 3 {
            return Ok(TokenRenewal::NotNeeded);
        }
        let relogin = |reason: String| async move {
            tracing::info!(%reason, "logging in to Vault again");
            let ttl = self.login_locked().await?;
            Ok(TokenRenewal::LoggedIn {
                ttl: ttl.unwrap_or_default(),
            })
        };
        if state.renewable && elapsed < ttl {
            let client = self.client();
            match vaultrs::token::renew_self(&*client, None).await {
                Ok(info) => {
                    let new_ttl = Duration::from_secs(info.lease_duration);
                    // Capped by the max TTL: below half of what a login gives, the next
                    // renewal would come too close to the end (TTLs are whole seconds, so a
                    // tighter margin races the clock). Log in again instead.
                    let capped = state.issued_ttl.is_some_and(|issued| new_ttl < issued / 2);
                    if capped && auth.can_relogin() {
                        return relogin(format!(
                            "renewal capped at {}s by the token's max TTL",
                            new_ttl.as_secs()
                        ))
                        .await;
                    }
                    self.set_token_state(TokenState {
                        ttl: Some(new_ttl),
                        obtained: Instant::now(),
                        ..state
                    });
                    return Ok(TokenRenewal::Renewed { ttl: new_ttl });
                }
                Err(e) => {
                    let err = self.client_error(e, "POST", "auth/token/renew-self", None);
                    if auth.can_relogin() && !matches!(err, VaultError::Unreachable { .. }) {
                        return relogin(format!("token renewal failed: {err}")).await;
                    }
                    return Err(match err {
                        e @ (VaultError::Unreachable { .. } | VaultError::Sealed { .. }) => e,
                        e => VaultError::auth(auth.method(), format!("token renewal failed: {e}"))
                            .with_source(Cause::new(e)),
                    });
                }
            }
        }
        if auth.can_relogin() {
            return relogin("the token is not renewable or has expired".into()).await;
        }
        let remaining = ttl.saturating_sub(elapsed);
        if remaining.is_zero() {
            Err(VaultError::auth(auth.method(), "the token has expired and cannot be renewed: configure a new token or use AppRole/Kubernetes auth"))
        } else {
            Ok(TokenRenewal::NotRenewable { remaining })
        }
    }

    /// Spawns a task that keeps the token fresh ([`renew_if_needed`](Self::renew_if_needed)
    /// at 2/3 of its TTL, retrying failures every 5 to 30 s). It ends when every clone of the
    /// store is dropped, or when the handle is aborted.
    pub fn spawn_token_renewer(&self) -> tokio::task::JoinHandle<()> {
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            loop {
                let Some(inner) = weak.upgrade() else { return };
                let store = VaultStore { inner };
                let wait = match store.renew_if_needed().await {
                    Ok(_) => {
                        let s = store.token_state();
                        match s.ttl {
                            None => Duration::from_secs(300),
                            Some(ttl) => (ttl * 2 / 3)
                                .saturating_sub(s.obtained.elapsed())
                                .max(Duration::from_secs(1)),
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "Vault token renewal failed; retrying");
                        store
                            .token_ttl_remaining()
                            .map(|r| {
                                (r / 10).clamp(Duration::from_secs(5), Duration::from_secs(30))
                            })
                            .unwrap_or(Duration::from_secs(30))
                    }
                };
                drop(store);
                tokio::time::sleep(wait).await;
            }
        })
    }

    // ---- errors ----

    fn status_error(
        &self,
        method: &str,
        api_path: &str,
        status: u16,
        errors: &[String],
        cas: Option<u64>,
    ) -> VaultError {
        let text = errors.join("; ");
        let lower = text.to_ascii_lowercase();
        match status {
            400 if lower.contains("check-and-set parameter did not match")
                || lower.contains("metadata check-and-set parameter does not match") =>
            {
                VaultError::CasMismatch {
                    path: api_path.to_string(),
                    expected: cas.unwrap_or_default(),
                }
            }
            403 => VaultError::PermissionDenied {
                method: method.to_string(),
                path: api_path.to_string(),
                capability: capability_for(method, cas == Some(0)).to_string(),
            },
            404 => VaultError::NotFound {
                path: api_path.to_string(),
            },
            503 if lower.contains("sealed") => VaultError::Sealed {
                address: self.inner.address.clone(),
            },
            _ => VaultError::Api {
                method: method.to_string(),
                path: api_path.to_string(),
                status,
                message: if text.is_empty() {
                    StatusCode::from_u16(status)
                        .ok()
                        .and_then(|s| s.canonical_reason())
                        .unwrap_or("error")
                        .to_string()
                } else {
                    text
                },
            },
        }
    }

    fn client_error(
        &self,
        e: ClientError,
        method: &str,
        api_path: &str,
        cas: Option<u64>,
    ) -> VaultError {
        match e {
            ClientError::APIError { code, errors } => {
                self.status_error(method, api_path, code, &errors, cas)
            }
            ClientError::RestClientError { source } => match source {
                rustify::errors::ClientError::ServerResponseError { code, content } => {
                    let errors = content
                        .as_deref()
                        .and_then(|c| serde_json::from_str::<ErrorBody>(c).ok())
                        .map(|b| b.errors)
                        .unwrap_or_default();
                    self.status_error(method, api_path, code, &errors, cas)
                }
                e @ (rustify::errors::ClientError::RequestError { .. }
                | rustify::errors::ClientError::ResponseError { .. }) => {
                    VaultError::unreachable(self.inner.address.clone(), e)
                }
                e => VaultError::decode(method, api_path, chain(&e)).with_source(Cause::new(e)),
            },
            e => VaultError::decode(method, api_path, chain(&e)).with_source(Cause::new(e)),
        }
    }

    // ---- raw HTTP ----

    /// Sends a request to `/v1/<api_path>` with the current token; returns the status and the
    /// body. Transport failures become [`VaultError::Unreachable`].
    async fn raw(
        &self,
        method: Method,
        api_path: &str,
        body: Option<(&'static str, Value)>,
    ) -> Result<(StatusCode, Vec<u8>), VaultError> {
        let url = format!("{}/v1/{api_path}", self.inner.address);
        let client = self.client();
        let mut req = self
            .inner
            .http
            .request(method, &url)
            .header("X-Vault-Request", "true");
        if !client.settings.token.is_empty() {
            req = req.header("X-Vault-Token", client.settings.token.as_str());
        }
        if let Some(ns) = &self.inner.config.namespace {
            req = req.header("X-Vault-Namespace", ns.as_str());
        }
        if let Some((content_type, json)) = body {
            req = req
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .body(json.to_string());
        }
        let resp = req
            .send()
            .await
            .map_err(|e| VaultError::unreachable(self.inner.address.clone(), e))?;
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| VaultError::unreachable(self.inner.address.clone(), e))?;
        Ok((status, Vec::from(bytes)))
    }

    fn raw_error(
        &self,
        method: &str,
        api_path: &str,
        status: StatusCode,
        body: &[u8],
        cas: Option<u64>,
    ) -> VaultError {
        let errors = serde_json::from_slice::<ErrorBody>(body)
            .map(|b| b.errors)
            .unwrap_or_default();
        self.status_error(method, api_path, status.as_u16(), &errors, cas)
    }

    fn decode<T: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        api_path: &str,
        body: &[u8],
    ) -> Result<T, VaultError> {
        let env: Envelope<T> = serde_json::from_slice(body).map_err(|e| {
            VaultError::decode(method, api_path, e.to_string()).with_source(Cause::new(e))
        })?;
        env.data
            .ok_or_else(|| VaultError::decode(method, api_path, "the response has no data"))
    }

    /// `POST sys/capabilities-self`: the capabilities this token has on each API path (such
    /// as `secret/data/mixpanel-rotator/creds/x`), e.g. `["create", "read", "update"]`, or
    /// `["deny"]`.
    pub async fn capabilities_self(
        &self,
        api_paths: &[String],
    ) -> Result<BTreeMap<String, Vec<String>>, VaultError> {
        self.ensure_authenticated().await?;
        let body = serde_json::json!({ "paths": api_paths });
        let (status, resp) = self
            .raw(
                Method::POST,
                "sys/capabilities-self",
                Some(("application/json", body)),
            )
            .await?;
        if !status.is_success() {
            return Err(self.raw_error("POST", "sys/capabilities-self", status, &resp, None));
        }
        let v: Value = serde_json::from_slice(&resp).map_err(|e| {
            VaultError::decode("POST", "sys/capabilities-self", e.to_string())
                .with_source(Cause::new(e))
        })?;
        let mut out = BTreeMap::new();
        for p in api_paths {
            let caps = v
                .get(p)
                .or_else(|| v.get("data").and_then(|d| d.get(p)))
                .and_then(|c| c.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|c| c.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            out.insert(p.clone(), caps);
        }
        Ok(out)
    }

    /// `GET sys/health`: answers even when sealed or on a standby (no token needed).
    pub async fn health(&self) -> Result<ServerHealth, VaultError> {
        let path = "sys/health?standbyok=true&perfstandbyok=true&sealedcode=200&uninitcode=200";
        let (status, body) = self.raw(Method::GET, path, None).await?;
        if !status.is_success() {
            return Err(self.raw_error("GET", "sys/health", status, &body, None));
        }
        serde_json::from_slice(&body).map_err(|e| {
            VaultError::decode("GET", "sys/health", e.to_string()).with_source(Cause::new(e))
        })
    }

    // ---- generic KV v2 operations (paths below the mount) ----

    /// Reads the latest (or a given) version: data and version metadata. `None` if the key
    /// does not exist or that version is deleted or destroyed.
    pub(crate) async fn kv_read(
        &self,
        kv_path: &str,
        version: Option<u64>,
    ) -> Result<Option<(Value, VersionInfo)>, VaultError> {
        self.ensure_authenticated().await?;
        let api_path = self.data_policy_path(kv_path);
        let mut builder = ReadSecretRequest::builder();
        builder
            .mount(self.inner.config.mount.as_str())
            .path(kv_path);
        if let Some(v) = version {
            builder.version(Some(v));
        }
        let endpoint = builder.build().map_err(|e| VaultError::InvalidInput {
            path: api_path.clone(),
            reason: e.to_string(),
        })?;
        let client = self.client();
        match vaultrs::api::exec_with_result(&*client, endpoint).await {
            Ok(resp) => {
                let m = resp.metadata;
                let info = VersionInfo {
                    version: m.version,
                    created_time: parse_time(&m.created_time),
                    deletion_time: parse_time(&m.deletion_time),
                    destroyed: m.destroyed,
                };
                if resp.data.is_null() {
                    return Ok(None);
                }
                Ok(Some((resp.data, info)))
            }
            Err(e) => match self.client_error(e, "GET", &api_path, None) {
                VaultError::NotFound { .. } => Ok(None),
                e => Err(e),
            },
        }
    }

    /// Check-and-set write: `cas = 0` creates only; `cas = n` replaces version `n` only.
    /// Returns the new version.
    pub(crate) async fn kv_write(
        &self,
        kv_path: &str,
        data: &Value,
        cas: u64,
    ) -> Result<VersionInfo, VaultError> {
        self.ensure_authenticated().await?;
        let api_path = self.data_policy_path(kv_path);
        let cas32 = u32::try_from(cas).map_err(|_| VaultError::InvalidInput {
            path: api_path.clone(),
            reason: format!("check-and-set version {cas} is out of range"),
        })?;
        let client = self.client();
        let m = vaultrs::kv2::set_with_options(
            &*client,
            &self.inner.config.mount,
            kv_path,
            data,
            SetSecretRequestOptions { cas: cas32 },
        )
        .await
        .map_err(|e| self.client_error(e, "POST", &api_path, Some(cas)))?;
        Ok(VersionInfo {
            version: m.version,
            created_time: parse_time(&m.created_time),
            deletion_time: parse_time(&m.deletion_time),
            destroyed: m.destroyed,
        })
    }

    /// Soft-deletes the latest version.
    pub(crate) async fn kv_delete_latest(&self, kv_path: &str) -> Result<(), VaultError> {
        self.ensure_authenticated().await?;
        let api_path = self.data_policy_path(kv_path);
        let client = self.client();
        vaultrs::kv2::delete_latest(&*client, &self.inner.config.mount, kv_path)
            .await
            .map_err(|e| self.client_error(e, "DELETE", &api_path, None))
    }

    /// `DELETE metadata`: destroys every version of the key and its metadata. A key that does
    /// not exist is no error (Vault answers 204 either way).
    pub(crate) async fn kv_delete_all(&self, kv_path: &str) -> Result<(), VaultError> {
        self.ensure_authenticated().await?;
        let api_path = self.metadata_policy_path(kv_path);
        let (status, body) = self.raw(Method::DELETE, &api_path, None).await?;
        if status.is_success() || status == StatusCode::NOT_FOUND {
            return Ok(());
        }
        Err(self.raw_error("DELETE", &api_path, status, &body, None))
    }

    /// `POST metadata`: sets the given settings, leaving the others (and `custom_metadata`)
    /// as they are.
    pub(crate) async fn kv_configure(
        &self,
        kv_path: &str,
        cas_required: bool,
        max_versions: u64,
        delete_version_after: Option<Duration>,
    ) -> Result<(), VaultError> {
        self.ensure_authenticated().await?;
        let api_path = self.metadata_policy_path(kv_path);
        let mut builder = vaultrs::api::kv2::requests::SetSecretMetadataRequest::builder();
        builder
            .cas_required(cas_required)
            .max_versions(max_versions);
        if let Some(d) = delete_version_after {
            builder.delete_version_after(format!("{}s", d.as_secs().max(1)));
        }
        let client = self.client();
        vaultrs::kv2::set_metadata(
            &*client,
            &self.inner.config.mount,
            kv_path,
            Some(&mut builder),
        )
        .await
        .map_err(|e| self.client_error(e, "POST", &api_path, None))
    }

    /// `GET metadata` (raw, to keep OpenBao's `current_metadata_version`).
    pub(crate) async fn kv_metadata(
        &self,
        kv_path: &str,
    ) -> Result<Option<KvMetadata>, VaultError> {
        self.ensure_authenticated().await?;
        let api_path = self.metadata_policy_path(kv_path);
        let (status, body) = self.raw(Method::GET, &api_path, None).await?;
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(self.raw_error("GET", &api_path, status, &body, None));
        }
        let raw: RawMetadata = self.decode("GET", &api_path, &body)?;
        Ok(Some(raw.into()))
    }

    /// `PATCH metadata` with `application/merge-patch+json`: sets the given `custom_metadata`
    /// keys (`None` removes a key) and keeps all others.
    pub(crate) async fn kv_patch_custom_metadata(
        &self,
        kv_path: &str,
        fields: &BTreeMap<String, Option<String>>,
        metadata_cas: Option<u64>,
    ) -> Result<(), VaultError> {
        self.ensure_authenticated().await?;
        let api_path = self.metadata_policy_path(kv_path);
        check_custom_metadata(&api_path, fields.iter().map(|(k, v)| (k, v.as_deref())))?;
        let mut body = serde_json::json!({ "custom_metadata": fields });
        if let Some(c) = metadata_cas {
            body["metadata_cas"] = Value::from(c);
        }
        let (status, resp) = self
            .raw(
                Method::PATCH,
                &api_path,
                Some(("application/merge-patch+json", body)),
            )
            .await?;
        if status.is_success() {
            Ok(())
        } else {
            Err(self.raw_error("PATCH", &api_path, status, &resp, metadata_cas))
        }
    }

    /// `POST metadata` with a whole `custom_metadata` map (replacing it) and the given
    /// settings: used to create metadata for a key that has none.
    pub(crate) async fn kv_create_metadata(
        &self,
        kv_path: &str,
        custom: &BTreeMap<String, String>,
        max_versions: u64,
    ) -> Result<(), VaultError> {
        self.ensure_authenticated().await?;
        let api_path = self.metadata_policy_path(kv_path);
        check_custom_metadata(&api_path, custom.iter().map(|(k, v)| (k, Some(v.as_str()))))?;
        let body = serde_json::json!({
            "custom_metadata": custom,
            "cas_required": true,
            "max_versions": max_versions,
        });
        let (status, resp) = self
            .raw(Method::POST, &api_path, Some(("application/json", body)))
            .await?;
        if status.is_success() {
            Ok(())
        } else {
            Err(self.raw_error("POST", &api_path, status, &resp, None))
        }
    }

    /// Every key below a folder (recursively), with its metadata: one `LIST detailed-metadata`
    /// per folder on OpenBao; on servers without it (404/405), `LIST metadata` plus one
    /// `GET metadata` per key.
    pub(crate) async fn kv_list_with_metadata(
        &self,
        folder: &str,
    ) -> Result<Vec<(String, KvMetadata)>, VaultError> {
        let mut out = Vec::new();
        self.kv_visit_with_metadata(folder, &mut |name, meta| out.push((name, meta)))
            .await?;
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// Like [`kv_list_with_metadata`](Self::kv_list_with_metadata), handing each key to `visit`
    /// as soon as its folder is read (in no particular order), so a caller that keeps less than
    /// the whole metadata never holds all of it at once.
    pub(crate) async fn kv_visit_with_metadata(
        &self,
        folder: &str,
        visit: &mut (dyn FnMut(String, KvMetadata) + Send),
    ) -> Result<(), VaultError> {
        self.ensure_authenticated().await?;
        if !self.inner.detailed_unsupported.load(Ordering::Relaxed)
            && self.list_detailed(folder, visit).await?
        {
            return Ok(());
        }
        self.kv_visit_plain(folder, visit).await
    }

    /// `LIST detailed-metadata`, recursively. `Ok(false)`: the server does not support it (and
    /// nothing was visited).
    async fn list_detailed(
        &self,
        folder: &str,
        visit: &mut (dyn FnMut(String, KvMetadata) + Send),
    ) -> Result<bool, VaultError> {
        let mut pending = vec![String::new()];
        while let Some(sub) = pending.pop() {
            let api_path = format!(
                "{}/detailed-metadata/{folder}/{sub}",
                self.inner.config.mount
            );
            let list_method =
                Method::from_bytes(b"LIST").map_err(|e| VaultError::setup(e.to_string(), e))?;
            let (status, body) = self.raw(list_method, &api_path, None).await?;
            if status == StatusCode::METHOD_NOT_ALLOWED {
                self.inner
                    .detailed_unsupported
                    .store(true, Ordering::Relaxed);
                return Ok(false);
            }
            if status == StatusCode::NOT_FOUND {
                if sub.is_empty() {
                    // Either an empty folder or no detailed-metadata endpoint: let the plain
                    // listing decide (it answers 404 for an empty folder too). A server that
                    // does not know the endpoint says "Invalid path" in its warnings: remember.
                    if String::from_utf8_lossy(&body).contains("Invalid path") {
                        self.inner
                            .detailed_unsupported
                            .store(true, Ordering::Relaxed);
                    }
                    return Ok(false);
                }
                continue;
            }
            if !status.is_success() {
                return Err(self.raw_error("LIST", &api_path, status, &body, None));
            }
            let mut data: ListData = self.decode("LIST", &api_path, &body)?;
            drop(body);
            for key in data.keys {
                let full = format!("{sub}{key}");
                if key.ends_with('/') {
                    pending.push(full);
                } else {
                    let raw = data.key_info.remove(&key).unwrap_or_default();
                    visit(full, raw.into());
                }
            }
        }
        Ok(true)
    }

    /// `LIST metadata` recursively plus `GET metadata` per key (HashiCorp Vault's way).
    pub(crate) async fn kv_list_plain(
        &self,
        folder: &str,
    ) -> Result<Vec<(String, KvMetadata)>, VaultError> {
        let mut out = Vec::new();
        self.kv_visit_plain(folder, &mut |name, meta| out.push((name, meta)))
            .await?;
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    async fn kv_visit_plain(
        &self,
        folder: &str,
        visit: &mut (dyn FnMut(String, KvMetadata) + Send),
    ) -> Result<(), VaultError> {
        for name in self.kv_list_names(folder).await? {
            if let Some(meta) = self.kv_metadata(&format!("{folder}/{name}")).await? {
                visit(name, meta);
            }
        }
        Ok(())
    }

    /// The names of every key below a folder (recursively), without metadata.
    pub(crate) async fn kv_list_names(&self, folder: &str) -> Result<Vec<String>, VaultError> {
        self.ensure_authenticated().await?;
        let mut out = Vec::new();
        let mut pending = vec![String::new()];
        while let Some(sub) = pending.pop() {
            let kv = format!("{folder}/{sub}");
            let api_path = self.metadata_policy_path(&kv);
            let client = self.client();
            let keys = match vaultrs::kv2::list(&*client, &self.inner.config.mount, &kv).await {
                Ok(keys) => keys,
                Err(e) => match self.client_error(e, "LIST", &api_path, None) {
                    VaultError::NotFound { .. } => continue,
                    e => return Err(e),
                },
            };
            for key in keys {
                let full = format!("{sub}{key}");
                if key.ends_with('/') {
                    pending.push(full);
                } else {
                    out.push(full);
                }
            }
        }
        out.sort();
        Ok(out)
    }

    pub(crate) fn folder(&self, area: Area) -> String {
        format!("{}/{}", self.inner.config.prefix, area.as_str())
    }
}

/// Checks `custom_metadata` against Vault's limits before sending it: keys 1..=128 characters,
/// values 1..=512 characters, at most 64 keys in one request.
fn check_custom_metadata<'a>(
    api_path: &str,
    fields: impl Iterator<Item = (&'a String, Option<&'a str>)>,
) -> Result<(), VaultError> {
    use crate::inventory::{
        CUSTOM_METADATA_MAX_KEYS, CUSTOM_METADATA_MAX_KEY_LEN, CUSTOM_METADATA_MAX_VALUE_LEN,
    };
    let bad = |reason: String| VaultError::InvalidInput {
        path: api_path.to_string(),
        reason,
    };
    let mut count = 0;
    for (k, v) in fields {
        count += 1;
        if k.is_empty() || k.chars().count() > CUSTOM_METADATA_MAX_KEY_LEN {
            return Err(bad(format!(
                "custom_metadata key \"{k}\" must be 1 to {CUSTOM_METADATA_MAX_KEY_LEN} characters"
            )));
        }
        if let Some(v) = v {
            let len = v.chars().count();
            if len == 0 || len > CUSTOM_METADATA_MAX_VALUE_LEN {
                return Err(bad(format!(
                    "custom_metadata value of \"{k}\" is {len} characters; Vault accepts 1 to {CUSTOM_METADATA_MAX_VALUE_LEN} (store empty values as a sentinel such as \"{}\")",
                    crate::inventory::EMPTY_SENTINEL
                )));
            }
        }
    }
    if count > CUSTOM_METADATA_MAX_KEYS {
        return Err(bad(format!(
            "{count} custom_metadata keys; Vault accepts at most {CUSTOM_METADATA_MAX_KEYS}"
        )));
    }
    Ok(())
}

fn settings_for(
    config: &VaultConfig,
    address: &str,
    token: String,
) -> Result<VaultClientSettings, VaultError> {
    let mut b = VaultClientSettingsBuilder::default();
    b.address(address)
        .token(token)
        .timeout(Some(config.timeout))
        .verify(!config.tls.skip_verify)
        .identity(None)
        .ca_certs(
            config
                .tls
                .ca_cert
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
        )
        .namespace(config.namespace.clone());
    b.build()
        .map_err(|e| VaultError::setup(format!("Vault client settings: {e}"), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("0s"), Some(Duration::ZERO));
        assert_eq!(parse_go_duration("6s"), Some(Duration::from_secs(6)));
        assert_eq!(parse_go_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_go_duration("1h0m0s"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_go_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_go_duration("300ms"), Some(Duration::from_millis(300)));
        assert_eq!(parse_go_duration("5x"), None);
    }

    #[test]
    fn metadata_limits_are_checked_before_sending() {
        let path = "secret/metadata/x";
        let k = "k".to_string();
        let long = "v".repeat(513);
        assert!(check_custom_metadata(path, [(&k, Some("ok"))].into_iter()).is_ok());
        assert!(check_custom_metadata(path, [(&k, None)].into_iter()).is_ok());
        let err = check_custom_metadata(path, [(&k, Some(""))].into_iter()).unwrap_err();
        assert!(err.to_string().contains("Vault accepts 1 to 512"), "{err}");
        assert!(check_custom_metadata(path, [(&k, Some(long.as_str()))].into_iter()).is_err());
        let keys: Vec<String> = (0..65).map(|i| format!("k{i}")).collect();
        let err = check_custom_metadata(path, keys.iter().map(|k| (k, Some("v")))).unwrap_err();
        assert!(err.to_string().contains("at most 64"), "{err}");
    }

    #[test]
    fn config_validation_messages() {
        let cfg = VaultConfig::new("vault:8200", VaultAuth::token("t"));
        assert!(VaultStore::new(cfg)
            .unwrap_err()
            .to_string()
            .contains("must start with http"));
        let cfg = VaultConfig::new("http://127.0.0.1:8200", VaultAuth::token("bad token"));
        assert!(VaultStore::new(cfg)
            .unwrap_err()
            .to_string()
            .contains("spaces or control"));
        let cfg =
            VaultConfig::new("http://127.0.0.1:8200", VaultAuth::token("t")).with_prefix("a//b");
        assert!(VaultStore::new(cfg)
            .unwrap_err()
            .to_string()
            .contains("prefix"));
        let store = VaultStore::new(VaultConfig::new(
            "http://127.0.0.1:8200/",
            VaultAuth::token("t"),
        ))
        .unwrap();
        assert_eq!(store.address(), "http://127.0.0.1:8200");
        assert!(!format!("{store:?}").contains("\"t\""));
    }
}
