//! The async client for Mixpanel's management API (real Mixpanel or the emulator).
//!
//! Behaviour (DESIGN "Client behaviour"): HTTP Basic with the full service-account username;
//! the `results` envelope unwrapped (un-enveloped bodies tolerated); typed errors; 429 and 5xx
//! retried with exponential backoff that honours `Retry-After`; bounded concurrency; redirects
//! never followed, so a POST is never replayed as a GET; ids sent as JSON numbers; the secret
//! held in a `SecretString`.

// Issue 9: organization settings, custom roles, data views, classified data.
mod settings;
// Issue 16: creates settled by a lookup after an unknown outcome.
mod lookup;

pub use lookup::Before;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use reqwest::header::{HeaderMap, LOCATION, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use tokio::sync::Semaphore;
use url::Url;

use super::batch::Batcher;
use super::error::{transport_message, ApiError};
use super::wire::{self, route_named, Endpoint, NoBody, PathArgs, Route, RouteStatus};
use crate::cause::Cause;
use crate::model::{
    AuditEvent, CreatedServiceAccount, DataResidency, Email, Member, OrgId, OrgRole, Project,
    ProjectId, ProjectRole, ProjectRoleGrant, ProjectServiceAccount, ServiceAccount,
    ServiceAccountId, Team, TeamGrant, TeamId, Timezone, UserGrant,
};
use crate::permissions::Capability;

/// How to reach Mixpanel and with which credentials.
#[derive(Clone)]
pub struct ClientConfig {
    /// `https://mixpanel.com`, `https://eu.mixpanel.com`, `https://in.mixpanel.com`, or any
    /// base URL (the emulator, a proxy). Routes are appended to it.
    pub base_url: Url,
    /// The full `name.<hex>.mp-service-account` username.
    pub username: String,
    pub secret: SecretString,
    /// Requests in flight at once (Mixpanel's community clients use 3).
    pub max_concurrency: usize,
    /// Retries of a 429, a 5xx or a connection failure, after the first attempt.
    pub max_retries: usize,
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    /// Per-request timeout.
    pub timeout: Duration,
    /// The most one call may take, every attempt and every wait between them included: past
    /// it, the call fails with [`ApiError::Transport`] naming the URL.
    pub call_budget: Duration,
    /// How long connection failures (refused, no route, name not resolved) are retried before
    /// the API counts as unreachable; after that, requests fail at their first connection
    /// failure until one gets through again.
    pub connect_budget: Duration,
    /// Most requests per second, every attempt (retries included) counted; `None`: no limit
    /// beyond `max_concurrency`.
    pub requests_per_second: Option<std::num::NonZeroU32>,
    /// Coalesce concurrent writes to the same list-taking route into one request
    /// (see [`super::batch`]); off, every call is its own request.
    pub batch_writes: bool,
    /// How long the first write of a batch waits for others.
    pub batch_window: Duration,
    /// The most items in one batched request.
    pub batch_cap: usize,
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("base_url", &self.base_url.as_str())
            .field("username", &self.username)
            .field("secret", &"[REDACTED]")
            .field("max_concurrency", &self.max_concurrency)
            .field("max_retries", &self.max_retries)
            .field("connect_budget", &self.connect_budget)
            .field("call_budget", &self.call_budget)
            .field("batch_writes", &self.batch_writes)
            .finish()
    }
}

impl ClientConfig {
    /// A configuration with the default limits.
    pub fn new(base_url: &str, username: &str, secret: SecretString) -> Result<Self, ApiError> {
        let base_url = Url::parse(base_url).map_err(|e| {
            ApiError::Config(format!(
                "api_url \"{base_url}\" is not a valid URL ({e}): use e.g. https://mixpanel.com or http://127.0.0.1:8080"
            ))
        })?;
        if !matches!(base_url.scheme(), "http" | "https") {
            return Err(ApiError::Config(format!(
                "api_url \"{base_url}\" must start with https:// (or http:// for a local emulator)"
            )));
        }
        if username.trim().is_empty() {
            return Err(ApiError::Config(
                "the service account username is empty: set the full name.<hex>.mp-service-account username".into(),
            ));
        }
        Ok(ClientConfig {
            base_url,
            username: username.to_string(),
            secret,
            max_concurrency: 3,
            max_retries: 5,
            min_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            timeout: Duration::from_secs(30),
            call_budget: Duration::from_secs(120),
            connect_budget: Duration::from_secs(10),
            requests_per_second: None,
            batch_writes: true,
            batch_window: Duration::from_millis(10),
            batch_cap: 100,
        })
    }

    /// The base URL of a data-residency region.
    pub fn region_url(region: DataResidency) -> String {
        format!("https://{}", region.host())
    }
}

/// The Mixpanel management API client. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    config: ClientConfig,
    limit: Semaphore,
    rate: Option<Arc<governor::DefaultDirectRateLimiter>>,
    real_mixpanel: bool,
    /// Whether a project `domain` that is not Mixpanel's has been refused (and logged) yet.
    refused_domain: AtomicBool,
    /// Project id → host, learnt from project listings, for project-scoped routes on real
    /// Mixpanel (an EU project is served by eu.mixpanel.com).
    project_hosts: Mutex<HashMap<ProjectId, String>>,
    timezones: tokio::sync::OnceCell<Vec<wire::TimezoneRow>>,
    /// When connections started failing, with none getting through since.
    unreachable_since: Mutex<Option<std::time::Instant>>,
    /// Write requests (any method but GET) that have an outcome, for read-after-write.
    writes: std::sync::atomic::AtomicU64,
    batch: Batchers,
}

/// The coalescing of each list-taking write route, by what a batch must share.
struct Batchers {
    invite: Batcher<(OrgId, OrgRole), Vec<Email>>,
    users_to_projects: Batcher<(OrgId, ProjectRole, Vec<ProjectId>), Vec<Email>>,
    users_to_teams: Batcher<OrgId, (TeamId, Vec<Email>)>,
    projects_to_teams: Batcher<OrgId, (TeamId, Vec<ProjectRoleGrant>)>,
    accounts_to_projects: Batcher<OrgId, AccountGrants>,
    accounts_to_team: Batcher<(OrgId, TeamId), Vec<ServiceAccountId>>,
    // Issue 16: removals coalesce as additions do.
    remove_org_users: Batcher<OrgId, Vec<Email>>,
    users_from_projects: Batcher<(OrgId, Vec<ProjectId>), Vec<Email>>,
    users_from_team: Batcher<(OrgId, TeamId), Vec<Email>>,
    projects_from_team: Batcher<(OrgId, TeamId), Vec<ProjectId>>,
    accounts_from_project: Batcher<(OrgId, ProjectId), Vec<ServiceAccountId>>,
    accounts_from_team: Batcher<(OrgId, TeamId), Vec<ServiceAccountId>>,
}

/// Service accounts and the project roles each of them gets: one add-to-project request.
type AccountGrants = (Vec<ServiceAccountId>, Vec<ProjectRoleGrant>);

impl Batchers {
    fn new(c: &ClientConfig) -> Batchers {
        let (w, n) = (c.batch_window, c.batch_cap);
        Batchers {
            invite: Batcher::new(w, n),
            users_to_projects: Batcher::new(w, n),
            users_to_teams: Batcher::new(w, n),
            projects_to_teams: Batcher::new(w, n),
            accounts_to_projects: Batcher::new(w, n),
            accounts_to_team: Batcher::new(w, n),
            remove_org_users: Batcher::new(w, n),
            users_from_projects: Batcher::new(w, n),
            users_from_team: Batcher::new(w, n),
            projects_from_team: Batcher::new(w, n),
            accounts_from_project: Batcher::new(w, n),
            accounts_from_team: Batcher::new(w, n),
        }
    }
}

/// The items of a batch as one list, without repeats, in first-seen order.
fn union<T: PartialEq + Clone>(lists: Vec<Vec<T>>) -> Vec<T> {
    let mut out: Vec<T> = Vec::new();
    for item in lists.into_iter().flatten() {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

/// Add-to-project items packed into as few requests as say exactly the same: a request gives
/// every listed account every listed project role, so items of the same accounts merge their
/// projects (one account's several grants: a successor's, or Terraform's resources of one
/// account), unless they name one project with two roles; then groups with the same projects
/// merge their accounts (several accounts granted the same roles).
fn pack_account_grants(items: Vec<AccountGrants>) -> Vec<AccountGrants> {
    let norm = |(mut sa, grants): AccountGrants| {
        sa.sort_unstable();
        sa.dedup();
        (sa, union(vec![grants]))
    };
    let mut by_accounts: Vec<AccountGrants> = Vec::new();
    for (sa, grants) in items.into_iter().map(norm) {
        let fits = |(s, g): &&mut AccountGrants| {
            *s == sa
                && grants
                    .iter()
                    .all(|x| g.iter().all(|y| y.id != x.id || y.role == x.role))
        };
        match by_accounts.iter_mut().find(|e| fits(e)) {
            Some((_, g)) => {
                for x in grants {
                    if !g.contains(&x) {
                        g.push(x);
                    }
                }
            }
            None => by_accounts.push((sa, grants)),
        }
    }
    let same = |a: &[ProjectRoleGrant], b: &[ProjectRoleGrant]| {
        a.len() == b.len() && a.iter().all(|x| b.contains(x))
    };
    let mut out: Vec<AccountGrants> = Vec::new();
    for (sa, grants) in by_accounts {
        match out.iter_mut().find(|(_, g)| same(g, &grants)) {
            Some((s, _)) => {
                for x in sa {
                    if !s.contains(&x) {
                        s.push(x);
                    }
                }
            }
            None => out.push((sa, grants)),
        }
    }
    out
}

/// `(team, items)` pairs merged by team, in first-seen order.
fn by_team<T: PartialEq + Clone>(items: Vec<(TeamId, Vec<T>)>) -> Vec<(TeamId, Vec<T>)> {
    let mut out: Vec<(TeamId, Vec<T>)> = Vec::new();
    for (team, list) in items {
        match out.iter_mut().find(|(t, _)| *t == team) {
            Some((_, l)) => {
                for x in list {
                    if !l.contains(&x) {
                        l.push(x);
                    }
                }
            }
            None => out.push((team, list)),
        }
    }
    out
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.inner.config)
            .finish()
    }
}

use wire::Payload as Body;

struct Failure {
    error: ApiError,
    retry: bool,
    retry_after: Option<Duration>,
    /// No connection could be made: retried only within the connect budget.
    unreachable: bool,
}

impl Client {
    pub fn new(config: ClientConfig) -> Result<Self, ApiError> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(config.timeout)
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("mixpanel-access/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ApiError::local("could not build the HTTP client", e))?;
        let host = config.base_url.host_str().unwrap_or("");
        let real_mixpanel = host == "mixpanel.com" || host.ends_with(".mixpanel.com");
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                limit: Semaphore::new(config.max_concurrency.max(1)),
                rate: config.requests_per_second.map(|r| {
                    Arc::new(governor::RateLimiter::direct(governor::Quota::per_second(
                        r,
                    )))
                }),
                real_mixpanel,
                refused_domain: AtomicBool::new(false),
                project_hosts: Mutex::new(HashMap::new()),
                timezones: tokio::sync::OnceCell::new(),
                unreachable_since: Mutex::new(None),
                writes: std::sync::atomic::AtomicU64::new(0),
                batch: Batchers::new(&config),
                config,
            }),
        })
    }

    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// A client for other credentials on the same host (to test a new secret): no retries, one
    /// request at a time, a timeout of at most 30 s, and this client's rate limit, shared.
    pub fn with_credentials(
        &self,
        username: &str,
        secret: SecretString,
    ) -> Result<Client, ApiError> {
        let base = &self.inner.config;
        let mut c = ClientConfig::new(base.base_url.as_str(), username, secret)?;
        c.max_retries = 0;
        c.max_concurrency = 1;
        c.timeout = base.timeout.min(Duration::from_secs(30));
        c.requests_per_second = None;
        let mut client = Client::new(c)?;
        if let Some(inner) = Arc::get_mut(&mut client.inner) {
            inner.rate = self.inner.rate.clone();
        }
        Ok(client)
    }

    /// How many write requests have had an outcome. A read that starts after a write's count
    /// sees the write (the provider's read cache keys its listings by it).
    pub fn write_count(&self) -> u64 {
        self.inner.writes.load(Ordering::Acquire)
    }

    /// A list-taking write of `items` under `key`: coalesced with the calls of the same key made
    /// together (see [`super::batch`]), each caller getting its own outcome; sent at once when
    /// batching is off.
    async fn batched<K, I, F, Fut>(
        &self,
        batcher: &Batcher<K, Vec<I>>,
        key: K,
        items: Vec<I>,
        send: F,
    ) -> Result<(), ApiError>
    where
        K: std::hash::Hash + Eq + Clone + Send + 'static,
        I: PartialEq + Clone + Send + 'static,
        F: Fn(Client, K, Vec<I>) -> Fut + Clone + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<(), ApiError>> + Send + 'static,
    {
        if !self.inner.config.batch_writes {
            return send(self.clone(), key, items).await;
        }
        let client = self.clone();
        batcher
            .submit(key, items, move |key, lists| {
                let (client, send) = (client.clone(), send.clone());
                async move { send(client, key, union(lists)).await }
            })
            .await
    }

    /// Whether the base URL is one of Mixpanel's own hosts.
    pub fn is_real_mixpanel(&self) -> bool {
        self.inner.real_mixpanel
    }

    fn url(&self, project: Option<ProjectId>, path: &str) -> Result<Url, ApiError> {
        let base = match project.filter(|_| self.inner.real_mixpanel) {
            Some(p) => {
                let hosts = self
                    .inner
                    .project_hosts
                    .lock()
                    .map_err(|_| ApiError::Config("project host cache poisoned".into()))?;
                match hosts.get(&p) {
                    Some(h) => format!("https://{h}"),
                    None => self.inner.config.base_url.as_str().to_string(),
                }
            }
            None => self.inner.config.base_url.as_str().to_string(),
        };
        let joined = format!("{}{}", base.trim_end_matches('/'), path);
        Url::parse(&joined).map_err(|e| ApiError::local(format!("bad URL {joined}"), e))
    }

    /// Remembers the hosts of projects named by a listing. Credentials go only to the base
    /// URL or to Mixpanel's own hosts: a `domain` anywhere else is never used (that project's
    /// requests go to the base URL), and the first such domain is logged as a warning.
    fn remember_hosts<'a>(&self, projects: impl Iterator<Item = (ProjectId, &'a str)>) {
        let Ok(mut hosts) = self.inner.project_hosts.lock() else {
            return;
        };
        for (id, domain) in projects {
            let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
            if domain.is_empty() {
                continue;
            }
            if let Some(residency) = DataResidency::from_host(&domain) {
                hosts.insert(id, residency.host().to_string());
                continue;
            }
            hosts.remove(&id);
            let base_host = self.inner.config.base_url.host_str();
            if base_host != Some(domain.as_str())
                && !self.inner.refused_domain.swap(true, Ordering::Relaxed)
            {
                tracing::warn!(
                    project = %id,
                    domain = ?domain,
                    base_url = %redact_url(&self.inner.config.base_url),
                    "a project's domain is not one of Mixpanel's hosts (mixpanel.com, eu.mixpanel.com, in.mixpanel.com): credentials are never sent there, so its requests go to the base URL"
                );
            }
        }
    }

    /// One request with retries; returns the raw body of a 2xx answer.
    async fn transmit(
        &self,
        route: &'static str,
        method: Method,
        url: Url,
        body: Body,
    ) -> Result<Vec<u8>, ApiError> {
        let cfg = &self.inner.config;
        let attempts = AtomicUsize::new(0);
        let backoff = ExponentialBuilder::default()
            .with_min_delay(cfg.min_backoff)
            .with_max_delay(cfg.max_backoff)
            .with_max_times(cfg.max_retries)
            .with_jitter();
        let max_backoff = cfg.max_backoff;
        let connect_budget = cfg.connect_budget;
        let budget = cfg.call_budget;
        let redacted = redact_url(&url);
        let retried = (|| async {
            attempts.fetch_add(1, Ordering::Relaxed);
            self.attempt(route, &method, &url, &body).await
        })
        .retry(backoff)
        .when(|f: &Failure| self.worth_retrying(f))
        .adjust(|f: &Failure, next: Option<Duration>| {
            let d = next.map(|d| f.retry_after.map(|ra| ra.min(max_backoff)).unwrap_or(d));
            // An unreachable API gets its last try when the connect budget runs out.
            match self.unreachable_for().filter(|_| f.unreachable) {
                Some(down) => d.map(|d| d.min(connect_budget.saturating_sub(down))),
                None => d,
            }
        })
        .notify(|f: &Failure, d: Duration| {
            tracing::warn!(route, error = %f.error, delay_ms = d.as_millis() as u64, "retrying");
        });
        let result = match tokio::time::timeout(budget, retried).await {
            Ok(r) => r,
            Err(_) => Err(Failure {
                error: out_of_budget(route, &method, redacted, budget),
                retry: false,
                retry_after: None,
                unreachable: false,
            }),
        };
        if method != Method::GET {
            self.inner.writes.fetch_add(1, Ordering::AcqRel);
        }
        result.map_err(|f| {
            let n = attempts.load(Ordering::Relaxed);
            match f.error {
                ApiError::RateLimited {
                    route, retry_after, ..
                } => ApiError::RateLimited {
                    route,
                    attempts: n,
                    retry_after,
                },
                ApiError::Server {
                    route,
                    status,
                    message,
                    ..
                } => ApiError::Server {
                    route,
                    status,
                    attempts: n,
                    message,
                },
                other => other,
            }
        })
    }

    async fn attempt(
        &self,
        route: &'static str,
        method: &Method,
        url: &Url,
        body: &Body,
    ) -> Result<Vec<u8>, Failure> {
        // Every attempt passes the rate limit and the concurrency limit.
        if let Some(rate) = &self.inner.rate {
            rate.until_ready().await;
        }
        let _permit = self.inner.limit.acquire().await.map_err(|_| Failure {
            error: ApiError::Config("client is shut down".into()),
            retry: false,
            retry_after: None,
            unreachable: false,
        })?;
        let cfg = &self.inner.config;
        let mut req = self
            .inner
            .http
            .request(method.clone(), url.clone())
            .basic_auth(&cfg.username, Some(cfg.secret.expose_secret()))
            .header(reqwest::header::ACCEPT, "application/json");
        req = match body {
            Body::Empty => req,
            Body::Json(b) => req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(b.clone()),
            Body::Form(b) => req
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                )
                .header(reqwest::header::REFERER, "https://mixpanel.com")
                .body(b.clone()),
        };
        // Only a request that never left (or a GET) is safe to send again.
        let resp = req.send().await.map_err(|e| {
            self.transport_failure(
                route,
                url,
                e.is_connect() || *method == Method::GET,
                None,
                e,
            )
        })?;
        if let Ok(mut since) = self.inner.unreachable_since.lock() {
            *since = None;
        }
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.map_err(|e| {
            let status = Some(status.as_u16());
            self.transport_failure(route, url, *method == Method::GET, status, e)
        })?;
        if status.is_success() {
            return Ok(bytes.to_vec());
        }
        Err(self.failure(route, status, &headers, &bytes))
    }

    /// A request whose answer did not arrive whole. Retried when `replayable`; otherwise it
    /// may have been carried out, so it is not sent again, and a create says how to check.
    fn transport_failure(
        &self,
        route: &'static str,
        url: &Url,
        replayable: bool,
        status: Option<u16>,
        e: reqwest::Error,
    ) -> Failure {
        let unreachable = e.is_connect();
        let error = match wire::creates_new(route).filter(|_| !replayable) {
            Some(check) => ApiError::maybe_applied(
                route,
                status,
                format!("the answer was lost ({})", transport_message(&e)),
                check,
            )
            .with_source(Cause::reqwest(e)),
            None => ApiError::transport(route, redact_url(url), e),
        };
        if unreachable {
            if let Ok(mut since) = self.inner.unreachable_since.lock() {
                since.get_or_insert_with(std::time::Instant::now);
            }
        }
        Failure {
            error,
            retry: replayable,
            retry_after: None,
            unreachable,
        }
    }

    /// Whether a failed attempt is worth another: a connection failure only while the API has
    /// been unreachable for less than the connect budget.
    fn worth_retrying(&self, f: &Failure) -> bool {
        if !f.retry {
            return false;
        }
        if !f.unreachable {
            return true;
        }
        self.unreachable_for()
            .is_none_or(|down| down < self.inner.config.connect_budget)
    }

    /// How long connections have been failing, with none getting through since.
    fn unreachable_for(&self) -> Option<Duration> {
        let since = self.inner.unreachable_since.lock().ok().and_then(|s| *s);
        since.map(|t| t.elapsed())
    }

    fn failure(
        &self,
        route: &'static str,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Failure {
        let message = error_message(body, status);
        let plain = |error| Failure {
            error,
            retry: false,
            retry_after: None,
            unreachable: false,
        };
        match status.as_u16() {
            401 => plain(ApiError::Unauthorized { route, message }),
            403 => plain(ApiError::Forbidden {
                route,
                message,
                needed: route_capability(route)
                    .map(|c| c.required_roles())
                    .unwrap_or_else(|| "a role with access to this organization or project".into()),
            }),
            404 => {
                let emulator_only = route_named(route)
                    .map(|r| r.status == RouteStatus::EmulatorOnly)
                    .unwrap_or(false);
                if emulator_only && self.inner.real_mixpanel {
                    plain(ApiError::EmulatorOnly { route })
                } else {
                    plain(ApiError::NotFound { route, message })
                }
            }
            409 => plain(ApiError::Conflict { route, message }),
            400 | 422 => plain(ApiError::Invalid {
                route,
                status: status.as_u16(),
                message,
            }),
            // On a create settled by a lookup, a 503 or a 429 is not taken for proof that
            // nothing happened (a gateway may answer so after the write): looked up first.
            s @ (429 | 503) if lookup::looked_up(route) => plain(ApiError::maybe_applied(
                route,
                Some(s),
                format!("Mixpanel answered HTTP {s}: {message}"),
                wire::creates_new(route).unwrap_or_default(),
            )),
            429 => {
                let retry_after = headers
                    .get(RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                Failure {
                    error: ApiError::RateLimited {
                        route,
                        attempts: 1,
                        retry_after,
                    },
                    retry: true,
                    retry_after,
                    unreachable: false,
                }
            }
            // A create that failed past the point of no return may have been carried out:
            // only 503 (service unavailable) says it was not.
            s if status.is_server_error() && s != 503 && wire::creates_new(route).is_some() => {
                plain(ApiError::maybe_applied(
                    route,
                    Some(s),
                    format!("Mixpanel answered HTTP {s}: {message}"),
                    wire::creates_new(route).unwrap_or_default(),
                ))
            }
            s if status.is_server_error() => Failure {
                error: ApiError::Server {
                    route,
                    status: s,
                    attempts: 1,
                    message,
                },
                retry: true,
                retry_after: None,
                unreachable: false,
            },
            _ if status.is_redirection() => plain(ApiError::Redirect {
                route,
                location: headers
                    .get(LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("(no Location header)")
                    .to_string(),
            }),
            s => plain(ApiError::Unexpected {
                route,
                status: s,
                message,
            }),
        }
    }

    /// The URL of `route` with `args` in its path; a project-scoped route goes to the host
    /// of its project.
    fn route_url(&self, route: &Route, args: &PathArgs<'_>) -> Result<Url, ApiError> {
        let path = route.fill(args).map_err(ApiError::Config)?;
        self.url(args.project, &path)
    }

    /// The one generic send: a request of `endpoint` (its method, its path filled from
    /// `args`, `request` encoded as the route takes it), the answer decoded as the route's
    /// response type says. Where the route's method answers 405, its other method is tried.
    pub async fn send<Req: wire::RequestBody, Resp: wire::Response>(
        &self,
        endpoint: &Endpoint<Req, Resp>,
        args: PathArgs<'_>,
        request: &Req,
    ) -> Result<Resp::Output, ApiError> {
        let route = &endpoint.route;
        let body = request
            .payload()
            .map_err(|e| ApiError::local("could not encode the request", e))?;
        let bytes = self.send_bytes(route, args, body).await?;
        Resp::decode(&bytes).map_err(|e| ApiError::undecodable(route.name, e))
    }

    async fn send_bytes(
        &self,
        route: &Route,
        args: PathArgs<'_>,
        body: Body,
    ) -> Result<Vec<u8>, ApiError> {
        let url = self.route_url(route, &args)?;
        let method = http_method(route.method);
        let Some(fallback) = route.fallback else {
            return self.transmit(route.name, method, url, body).await;
        };
        match self
            .transmit(route.name, method, url.clone(), body.clone())
            .await
        {
            Err(ApiError::Unexpected { status: 405, .. }) => {
                self.transmit(route.name, http_method(fallback), url, body)
                    .await
            }
            other => other,
        }
    }

    // ----- who am I -----

    /// `GET /api/app/me`.
    pub async fn me(&self) -> Result<wire::Me, ApiError> {
        let me: wire::Me = self.send(&wire::ME, PathArgs::NONE, &NoBody).await?;
        self.remember_me_hosts(&me);
        Ok(me)
    }

    /// Remembers the hosts of the projects `/api/app/me` names.
    fn remember_me_hosts(&self, me: &wire::Me) {
        self.remember_hosts(me.projects.iter().filter_map(|(id, p)| {
            id.parse::<u64>()
                .ok()
                .map(|id| (ProjectId(id), p.domain.as_str()))
        }));
    }

    /// The bytes of a read route's answer, not decoded: for `mixpanel-rotator doctor`, which
    /// decodes them with [`wire::decode_answer`] and may record them. Only a route the table
    /// marks as a read is sent; any other is refused before anything leaves.
    pub async fn read_bytes(
        &self,
        route: &Route,
        args: PathArgs<'_>,
        body: Option<&serde_json::Value>,
    ) -> Result<Vec<u8>, ApiError> {
        if !route.read {
            return Err(ApiError::Config(format!(
                "{} is not a read route: it is never sent by a read-only check",
                route.name
            )));
        }
        let body = match body {
            Some(b) => json(b)?,
            None => Body::Empty,
        };
        let bytes = self.send_bytes(route, args, body).await?;
        if route.name == wire::ME.name {
            if let Ok(me) = wire::ME.decode(&bytes) {
                self.remember_me_hosts(&me);
            }
        }
        Ok(bytes)
    }

    /// The organization of the credentials, when there is exactly one.
    pub async fn discover_organization(&self) -> Result<OrgId, ApiError> {
        let me = self.me().await?;
        let orgs: Vec<&wire::MeOrganization> = me.organizations.values().collect();
        match orgs.as_slice() {
            [one] => Ok(one.id),
            [] => Err(ApiError::Config(
                "the service account belongs to no organization: set organization_id".into(),
            )),
            many => Err(ApiError::Config(format!(
                "the service account belongs to several organizations ({}): set organization_id",
                many.iter()
                    .map(|o| format!("{} \"{}\"", o.id, o.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    // ----- service accounts -----

    pub async fn list_service_accounts(&self, org: OrgId) -> Result<Vec<ServiceAccount>, ApiError> {
        self.send(&wire::LIST_SERVICE_ACCOUNTS, PathArgs::org(org), &NoBody)
            .await
    }

    /// Creates a service account; the secret in the answer is shown this once. Sent once: an
    /// answer that does not prove failure is [`ApiError::MaybeApplied`], for a caller that
    /// settles it itself (the rotator's journal, with its deterministic usernames);
    /// [`Client::create_service_account_checked`] looks it up and tries again.
    pub async fn create_service_account(
        &self,
        org: OrgId,
        request: &wire::CreateServiceAccount,
    ) -> Result<CreatedServiceAccount, ApiError> {
        self.send(&wire::CREATE_SERVICE_ACCOUNT, PathArgs::org(org), request)
            .await
    }

    pub async fn get_service_account(
        &self,
        org: OrgId,
        id: ServiceAccountId,
    ) -> Result<ServiceAccount, ApiError> {
        self.send(
            &wire::GET_SERVICE_ACCOUNT,
            PathArgs::org(org).sa(id),
            &NoBody,
        )
        .await
    }

    pub async fn delete_service_account(
        &self,
        org: OrgId,
        id: ServiceAccountId,
    ) -> Result<(), ApiError> {
        self.send(
            &wire::DELETE_SERVICE_ACCOUNT,
            PathArgs::org(org).sa(id),
            &NoBody,
        )
        .await
    }

    pub async fn list_project_service_accounts(
        &self,
        project: ProjectId,
    ) -> Result<Vec<ProjectServiceAccount>, ApiError> {
        self.send(
            &wire::LIST_PROJECT_SERVICE_ACCOUNTS,
            PathArgs::project(project),
            &NoBody,
        )
        .await
    }

    /// Adds service accounts to projects with a role; also changes an existing role. Calls made
    /// together (one account's several grants, or several accounts') share requests: see
    /// [`pack_account_grants`].
    pub async fn add_service_accounts_to_projects(
        &self,
        org: OrgId,
        service_accounts: &[ServiceAccountId],
        projects: &[ProjectRoleGrant],
    ) -> Result<(), ApiError> {
        if !self.inner.config.batch_writes {
            return self
                .send_accounts_to_projects(org, service_accounts.to_vec(), projects.to_vec())
                .await;
        }
        let client = self.clone();
        self.inner
            .batch
            .accounts_to_projects
            .submit(
                org,
                (service_accounts.to_vec(), projects.to_vec()),
                move |org, items| {
                    let client = client.clone();
                    async move {
                        // Usually one request; where the items do not pack into one, the
                        // requests go together and the batch fails if any does (the batcher
                        // then sends each item alone: adding a role is idempotent).
                        let sends: Vec<_> = pack_account_grants(items)
                            .into_iter()
                            .map(|(sa, grants)| {
                                let client = client.clone();
                                tokio::spawn(async move {
                                    client.send_accounts_to_projects(org, sa, grants).await
                                })
                            })
                            .collect();
                        let mut outcome = Ok(());
                        for send in sends {
                            let r = send.await.unwrap_or_else(|e| {
                                Err(ApiError::Config(format!(
                                    "a batched request failed to run: {e}"
                                )))
                            });
                            if outcome.is_ok() {
                                outcome = r;
                            }
                        }
                        outcome
                    }
                },
            )
            .await
    }

    async fn send_accounts_to_projects(
        &self,
        org: OrgId,
        service_account_ids: Vec<ServiceAccountId>,
        projects: Vec<ProjectRoleGrant>,
    ) -> Result<(), ApiError> {
        let body = wire::AddServiceAccountsToProjects {
            service_account_ids,
            projects,
            custom_roles: Vec::new(),
        };
        self.send(
            &wire::ADD_SERVICE_ACCOUNTS_TO_PROJECTS,
            PathArgs::org(org),
            &body,
        )
        .await
    }

    /// Removes service accounts from a project (with the route's other method where its first
    /// answers 405).
    pub async fn remove_service_accounts_from_projects(
        &self,
        org: OrgId,
        project: ProjectId,
        service_accounts: &[ServiceAccountId],
    ) -> Result<(), ApiError> {
        let batcher = &self.inner.batch.accounts_from_project;
        self.batched(
            batcher,
            (org, project),
            service_accounts.to_vec(),
            |c, (org, project), ids| async move {
                c.send_accounts_from_project(org, project, &ids).await
            },
        )
        .await
    }

    async fn send_accounts_from_project(
        &self,
        org: OrgId,
        project: ProjectId,
        service_accounts: &[ServiceAccountId],
    ) -> Result<(), ApiError> {
        let body = wire::RemoveServiceAccountsFromProjects {
            projects: vec![wire::ProjectServiceAccountIds {
                id: project,
                service_account_ids: service_accounts.to_vec(),
            }],
        };
        self.send(
            &wire::REMOVE_SERVICE_ACCOUNTS_FROM_PROJECTS,
            PathArgs::org(org),
            &body,
        )
        .await
    }

    pub async fn list_team_service_accounts(
        &self,
        org: OrgId,
        team: TeamId,
    ) -> Result<Vec<ServiceAccount>, ApiError> {
        self.send(
            &wire::LIST_TEAM_SERVICE_ACCOUNTS,
            PathArgs::org(org).team(team),
            &NoBody,
        )
        .await
    }

    /// Adds service accounts to a team. Calls for the same team made together (the successors
    /// of several rotations, Terraform's resources) go as one request.
    pub async fn add_service_accounts_to_team(
        &self,
        org: OrgId,
        team: TeamId,
        service_accounts: &[ServiceAccountId],
    ) -> Result<(), ApiError> {
        if !self.inner.config.batch_writes {
            return self
                .send_accounts_to_team(org, team, service_accounts.to_vec())
                .await;
        }
        let client = self.clone();
        self.inner
            .batch
            .accounts_to_team
            .submit(
                (org, team),
                service_accounts.to_vec(),
                move |(org, team), items| {
                    let client = client.clone();
                    async move { client.send_accounts_to_team(org, team, union(items)).await }
                },
            )
            .await
    }

    async fn send_accounts_to_team(
        &self,
        org: OrgId,
        team: TeamId,
        service_account_ids: Vec<ServiceAccountId>,
    ) -> Result<(), ApiError> {
        let body = wire::ServiceAccountIds {
            service_account_ids,
        };
        self.send(
            &wire::ADD_SERVICE_ACCOUNTS_TO_TEAM,
            PathArgs::org(org).team(team),
            &body,
        )
        .await
    }

    pub async fn remove_service_accounts_from_team(
        &self,
        org: OrgId,
        team: TeamId,
        service_accounts: &[ServiceAccountId],
    ) -> Result<(), ApiError> {
        let batcher = &self.inner.batch.accounts_from_team;
        self.batched(
            batcher,
            (org, team),
            service_accounts.to_vec(),
            |c, (org, team), ids| async move { c.send_accounts_from_team(org, team, &ids).await },
        )
        .await
    }

    async fn send_accounts_from_team(
        &self,
        org: OrgId,
        team: TeamId,
        service_accounts: &[ServiceAccountId],
    ) -> Result<(), ApiError> {
        let body = wire::ServiceAccountIds {
            service_account_ids: service_accounts.to_vec(),
        };
        self.send(
            &wire::REMOVE_SERVICE_ACCOUNTS_FROM_TEAM,
            PathArgs::org(org).team(team),
            &body,
        )
        .await
    }

    // ----- projects -----

    /// `GET /api/app/timezones`, fetched once per client.
    pub async fn list_timezones(&self) -> Result<Vec<wire::TimezoneRow>, ApiError> {
        self.inner
            .timezones
            .get_or_try_init(|| async {
                self.send(&wire::LIST_TIMEZONES, PathArgs::NONE, &NoBody)
                    .await
            })
            .await
            .cloned()
    }

    /// Creates a project in a residency and time zone; returns its id.
    pub async fn create_project(
        &self,
        org: OrgId,
        name: &str,
        residency: DataResidency,
        timezone: &Timezone,
    ) -> Result<ProjectId, ApiError> {
        self.create_project_checked(org, name, residency, timezone, None)
            .await
    }

    /// Mixpanel's id of a time zone.
    async fn timezone_id(&self, timezone: &Timezone) -> Result<u32, ApiError> {
        let zones = self.list_timezones().await?;
        zones
            .iter()
            .find(|z| z.1 == timezone.as_str())
            .map(|z| z.0)
            .ok_or_else(|| {
                ApiError::Config(format!(
                    "Mixpanel does not list the time zone {timezone}: choose another IANA name"
                ))
            })
    }

    pub async fn project_metadata(
        &self,
        project: ProjectId,
    ) -> Result<wire::ProjectMetadata, ApiError> {
        let meta: wire::ProjectMetadata = self
            .send(&wire::PROJECT_METADATA, PathArgs::project(project), &NoBody)
            .await?;
        self.remember_hosts(std::iter::once((meta.id, meta.domain.as_str())));
        Ok(meta)
    }

    /// Renames a project and/or changes its time zone (form-encoded upstream).
    pub async fn update_project(
        &self,
        project: ProjectId,
        name: Option<&str>,
        timezone: Option<&Timezone>,
    ) -> Result<(), ApiError> {
        let form = wire::UpdateProjectForm {
            name: name.map(str::to_string),
            timezone: timezone.map(|t| t.to_string()),
            timezone_name: timezone.map(|t| t.to_string()),
        };
        if form.name.is_none() && form.timezone.is_none() {
            return Ok(());
        }
        self.send(&wire::UPDATE_PROJECT, PathArgs::project(project), &form)
            .await
    }

    pub async fn delete_project(&self, org: OrgId, project: ProjectId) -> Result<(), ApiError> {
        let body = wire::ProjectIds {
            project_ids: vec![project],
        };
        self.send(&wire::DELETE_PROJECTS, PathArgs::org(org), &body)
            .await
    }

    pub async fn list_projects(&self, org: OrgId) -> Result<Vec<Project>, ApiError> {
        let projects: Vec<Project> = self
            .send(&wire::LIST_PROJECTS, PathArgs::org(org), &NoBody)
            .await?
            .0;
        self.remember_hosts(projects.iter().map(|p| (p.id, p.domain.as_str())));
        Ok(projects)
    }

    // ----- teams -----

    pub async fn list_teams(&self, org: OrgId) -> Result<Vec<Team>, ApiError> {
        self.send(&wire::LIST_TEAMS, PathArgs::org(org), &NoBody)
            .await
            .map(|items| items.0)
    }

    /// Creates a team and returns it (Mixpanel answers without the id, so the list is read
    /// back). A name already taken is a conflict.
    pub async fn create_team(&self, org: OrgId, name: &str) -> Result<Team, ApiError> {
        self.create_team_checked(org, name, None).await
    }

    pub async fn rename_team(&self, org: OrgId, team: TeamId, name: &str) -> Result<(), ApiError> {
        let route = &wire::RENAME_TEAM;
        let body = wire::RenameTeam {
            name: name.to_string(),
        };
        let updated: wire::Updated = self
            .send(route, PathArgs::org(org).team(team), &body)
            .await?;
        check_updated(route, updated)
    }

    pub async fn delete_team(&self, org: OrgId, team: TeamId) -> Result<(), ApiError> {
        let body = wire::TeamIds {
            team_ids: vec![team],
        };
        self.send(&wire::DELETE_TEAMS, PathArgs::org(org), &body)
            .await
    }

    /// Grants a team a role on projects; also changes an existing role.
    pub async fn add_projects_to_team(
        &self,
        org: OrgId,
        team: TeamId,
        projects: &[ProjectRoleGrant],
    ) -> Result<(), ApiError> {
        let item = (team, projects.to_vec());
        if !self.inner.config.batch_writes {
            return self.send_projects_to_teams(org, vec![item]).await;
        }
        let client = self.clone();
        self.inner
            .batch
            .projects_to_teams
            .submit(org, item, move |org, items| {
                let client = client.clone();
                async move { client.send_projects_to_teams(org, by_team(items)).await }
            })
            .await
    }

    async fn send_projects_to_teams(
        &self,
        org: OrgId,
        teams: Vec<(TeamId, Vec<ProjectRoleGrant>)>,
    ) -> Result<(), ApiError> {
        let body = wire::AddProjectsToTeams {
            teams: teams
                .into_iter()
                .map(|(id, projects)| wire::TeamProjects {
                    id,
                    projects,
                    custom_roles: Vec::new(),
                })
                .collect(),
            add_default_projects: false,
        };
        self.send(&wire::ADD_PROJECTS_TO_TEAMS, PathArgs::org(org), &body)
            .await
    }

    pub async fn remove_projects_from_team(
        &self,
        org: OrgId,
        team: TeamId,
        projects: &[ProjectId],
    ) -> Result<(), ApiError> {
        let batcher = &self.inner.batch.projects_from_team;
        self.batched(
            batcher,
            (org, team),
            projects.to_vec(),
            |c, (org, team), ids| async move { c.send_projects_from_team(org, team, &ids).await },
        )
        .await
    }

    async fn send_projects_from_team(
        &self,
        org: OrgId,
        team: TeamId,
        projects: &[ProjectId],
    ) -> Result<(), ApiError> {
        let body = wire::ProjectIds {
            project_ids: projects.to_vec(),
        };
        self.send(
            &wire::REMOVE_PROJECTS_FROM_TEAM,
            PathArgs::org(org).team(team),
            &body,
        )
        .await
    }

    pub async fn add_users_to_team(
        &self,
        org: OrgId,
        team: TeamId,
        users: &[Email],
    ) -> Result<(), ApiError> {
        let item = (team, users.to_vec());
        if !self.inner.config.batch_writes {
            return self.send_users_to_teams(org, vec![item]).await;
        }
        let client = self.clone();
        self.inner
            .batch
            .users_to_teams
            .submit(org, item, move |org, items| {
                let client = client.clone();
                async move { client.send_users_to_teams(org, by_team(items)).await }
            })
            .await
    }

    async fn send_users_to_teams(
        &self,
        org: OrgId,
        teams: Vec<(TeamId, Vec<Email>)>,
    ) -> Result<(), ApiError> {
        let body = wire::AddUsersToTeams {
            teams: teams
                .into_iter()
                .map(|(id, users)| wire::TeamUsers { id, users })
                .collect(),
        };
        self.send(&wire::ADD_USERS_TO_TEAMS, PathArgs::org(org), &body)
            .await
    }

    /// Removes users from a team. Available on the emulator only.
    pub async fn remove_users_from_team(
        &self,
        org: OrgId,
        team: TeamId,
        users: &[Email],
    ) -> Result<(), ApiError> {
        let batcher = &self.inner.batch.users_from_team;
        self.batched(
            batcher,
            (org, team),
            users.to_vec(),
            |c, (org, team), users| async move { c.send_users_from_team(org, team, &users).await },
        )
        .await
    }

    async fn send_users_from_team(
        &self,
        org: OrgId,
        team: TeamId,
        users: &[Email],
    ) -> Result<(), ApiError> {
        let body = wire::Emails {
            emails: users.to_vec(),
        };
        self.send(
            &wire::REMOVE_USERS_FROM_TEAM,
            PathArgs::org(org).team(team),
            &body,
        )
        .await
    }

    // ----- organization users -----

    pub async fn list_org_users(&self, org: OrgId) -> Result<Vec<Member>, ApiError> {
        self.send(&wire::LIST_ORG_USERS, PathArgs::org(org), &NoBody)
            .await
            .map(|items| items.0)
    }

    /// Invites users to the organization with a role.
    pub async fn invite_org_users(
        &self,
        org: OrgId,
        emails: &[Email],
        role: OrgRole,
    ) -> Result<(), ApiError> {
        if !self.inner.config.batch_writes {
            return self.send_invitations(org, emails.to_vec(), role).await;
        }
        let client = self.clone();
        self.inner
            .batch
            .invite
            .submit((org, role), emails.to_vec(), move |(org, role), items| {
                let client = client.clone();
                async move { client.send_invitations(org, union(items), role).await }
            })
            .await
    }

    async fn send_invitations(
        &self,
        org: OrgId,
        emails: Vec<Email>,
        role: OrgRole,
    ) -> Result<(), ApiError> {
        let body = wire::InviteUsers { emails, role };
        self.send(&wire::INVITE_ORG_USERS, PathArgs::org(org), &body)
            .await
    }

    pub async fn update_org_user_role(
        &self,
        org: OrgId,
        email: &Email,
        role: OrgRole,
    ) -> Result<(), ApiError> {
        let route = &wire::UPDATE_ORG_USER;
        let body = wire::UpdateOrgUser { role };
        let updated: wire::Updated = self
            .send(route, PathArgs::org(org).email(email.as_str()), &body)
            .await?;
        check_updated(route, updated)
    }

    /// Removes users from the whole organization (every project and team).
    pub async fn remove_org_users(&self, org: OrgId, emails: &[Email]) -> Result<(), ApiError> {
        let batcher = &self.inner.batch.remove_org_users;
        self.batched(batcher, org, emails.to_vec(), |c, org, emails| async move {
            c.send_remove_org_users(org, &emails).await
        })
        .await
    }

    async fn send_remove_org_users(&self, org: OrgId, emails: &[Email]) -> Result<(), ApiError> {
        let body = wire::Emails {
            emails: emails.to_vec(),
        };
        self.send(&wire::REMOVE_ORG_USERS, PathArgs::org(org), &body)
            .await
    }

    // ----- project grants -----

    /// Grants users a role on projects (the individual grant); also changes it.
    pub async fn add_users_to_projects(
        &self,
        org: OrgId,
        users: &[Email],
        projects: &[ProjectId],
        role: ProjectRole,
    ) -> Result<(), ApiError> {
        if !self.inner.config.batch_writes {
            return self
                .send_users_to_projects(org, users.to_vec(), projects.to_vec(), role)
                .await;
        }
        let client = self.clone();
        self.inner
            .batch
            .users_to_projects
            .submit(
                (org, role, projects.to_vec()),
                users.to_vec(),
                move |(org, role, projects), items| {
                    let client = client.clone();
                    async move {
                        client
                            .send_users_to_projects(org, union(items), projects, role)
                            .await
                    }
                },
            )
            .await
    }

    async fn send_users_to_projects(
        &self,
        org: OrgId,
        users: Vec<Email>,
        projects: Vec<ProjectId>,
        role: ProjectRole,
    ) -> Result<(), ApiError> {
        let body = wire::AddUsersToProjects {
            users,
            projects,
            role,
            custom_role_id: None,
        };
        self.send(&wire::ADD_USERS_TO_PROJECTS, PathArgs::org(org), &body)
            .await
    }

    /// Removes users' individual grants on projects. Available on the emulator only.
    pub async fn remove_users_from_projects(
        &self,
        org: OrgId,
        users: &[Email],
        projects: &[ProjectId],
    ) -> Result<(), ApiError> {
        let batcher = &self.inner.batch.users_from_projects;
        self.batched(
            batcher,
            (org, projects.to_vec()),
            users.to_vec(),
            |c, (org, projects), users| async move {
                c.send_users_from_projects(org, &users, &projects).await
            },
        )
        .await
    }

    async fn send_users_from_projects(
        &self,
        org: OrgId,
        users: &[Email],
        projects: &[ProjectId],
    ) -> Result<(), ApiError> {
        let body = wire::RemoveUsersFromProjects {
            users: users.to_vec(),
            projects: projects.to_vec(),
        };
        self.send(&wire::REMOVE_USERS_FROM_PROJECTS, PathArgs::org(org), &body)
            .await
    }

    pub async fn granted_users(&self, project: ProjectId) -> Result<Vec<UserGrant>, ApiError> {
        self.send(&wire::GRANTED_USERS, PathArgs::project(project), &NoBody)
            .await
            .map(|items| items.0)
    }

    pub async fn granted_teams(&self, project: ProjectId) -> Result<Vec<TeamGrant>, ApiError> {
        self.send(&wire::GRANTED_TEAMS, PathArgs::project(project), &NoBody)
            .await
            .map(|items| items.0)
    }

    /// The "All Users in the Organization" default role. Available on the emulator only.
    pub async fn get_default_access(
        &self,
        project: ProjectId,
    ) -> Result<Option<ProjectRole>, ApiError> {
        let access: wire::DefaultAccess = self
            .send(
                &wire::GET_DEFAULT_ACCESS,
                PathArgs::project(project),
                &NoBody,
            )
            .await?;
        Ok(access.role)
    }

    /// Sets or clears the "All Users" default role. Available on the emulator only.
    pub async fn set_default_access(
        &self,
        project: ProjectId,
        role: Option<ProjectRole>,
    ) -> Result<(), ApiError> {
        self.send(
            &wire::SET_DEFAULT_ACCESS,
            PathArgs::project(project),
            &wire::DefaultAccess { role },
        )
        .await
    }

    /// Resets the project's API secret. Available on the emulator only.
    pub async fn reset_project_secret(&self, project: ProjectId) -> Result<SecretString, ApiError> {
        let r: wire::ResetSecret = self
            .send(
                &wire::RESET_PROJECT_SECRET,
                PathArgs::project(project),
                &NoBody,
            )
            .await?;
        Ok(r.secret)
    }

    /// Resets the project token. Available on the emulator only.
    pub async fn reset_project_token(&self, project: ProjectId) -> Result<String, ApiError> {
        let r: wire::ResetToken = self
            .send(
                &wire::RESET_PROJECT_TOKEN,
                PathArgs::project(project),
                &NoBody,
            )
            .await?;
        Ok(r.token)
    }

    /// Whether a project token and API secret belong together.
    pub async fn validate_project_credentials(
        &self,
        token: &str,
        secret: &SecretString,
    ) -> Result<bool, ApiError> {
        let body = wire::ValidateProjectCredentials {
            project_token: token.to_string(),
            api_secret: secret.clone(),
        };
        match self
            .send(&wire::VALIDATE_PROJECT_CREDENTIALS, PathArgs::NONE, &body)
            .await
        {
            Ok(r) => Ok(r.status.as_deref() == Some("success")),
            Err(ApiError::Invalid { status: 400, .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    // ----- audit log -----

    /// One page of the audit log.
    pub async fn audit_logs(
        &self,
        org: OrgId,
        query: &wire::AuditLogQuery,
    ) -> Result<wire::AuditLogPage, ApiError> {
        self.send(&wire::AUDIT_LOGS, PathArgs::org(org), query)
            .await
    }

    /// Every audit event matching the query, following the cursor for at most
    /// [`AUDIT_LOG_MAX_PAGES`] pages.
    pub async fn audit_logs_all(
        &self,
        org: OrgId,
        query: &wire::AuditLogQuery,
    ) -> Result<Vec<AuditEvent>, ApiError> {
        self.audit_logs_up_to(org, query, AUDIT_LOG_MAX_PAGES).await
    }

    /// Every audit event matching the query, following the cursor for at most `max_pages`
    /// pages. A cursor seen before (Mixpanel paging in a loop) or more pages than `max_pages`
    /// is an error: the log was not read to its end, and a partial log is never returned as
    /// the whole.
    pub async fn audit_logs_up_to(
        &self,
        org: OrgId,
        query: &wire::AuditLogQuery,
        max_pages: usize,
    ) -> Result<Vec<AuditEvent>, ApiError> {
        let mut out = Vec::new();
        self.audit_logs_each(AuditScope::Organization(org), query, max_pages, |page| {
            out.extend_from_slice(page);
            Ok(())
        })
        .await?;
        Ok(out)
    }

    /// Reads the audit log of an organization or a project page by page, handing each page to
    /// `each` as it arrives (an export of any size streams), following the cursor for at most
    /// `max_pages` pages. Returns the number of pages read. The same errors as
    /// [`Client::audit_logs_up_to`]; an error from `each` stops the reading.
    pub async fn audit_logs_each(
        &self,
        scope: AuditScope,
        query: &wire::AuditLogQuery,
        max_pages: usize,
        mut each: impl FnMut(&[AuditEvent]) -> Result<(), ApiError>,
    ) -> Result<usize, ApiError> {
        let route = match scope {
            AuditScope::Organization(_) => &wire::AUDIT_LOGS,
            AuditScope::Project(_) => &wire::PROJECT_AUDIT_LOGS,
        };
        // Mixpanel's filter has no cursor field (and refuses fields it does not list), so
        // each next page is the window up to the oldest entry seen, inclusive; the entries
        // at that instant already handed out are skipped.
        let mut q = query.clone();
        let mut edge: HashSet<String> = HashSet::new();
        for page_no in 1..=max_pages {
            let page = match scope {
                AuditScope::Organization(org) => self.audit_logs(org, &q).await?,
                AuditScope::Project(p) => self.project_audit_logs(p, &q).await?,
            };
            let fresh: Vec<AuditEvent> = page
                .results
                .iter()
                .filter(|e| !edge.contains(&entry_key(e)))
                .cloned()
                .collect();
            each(&fresh)?;
            if page.pagination.next_cursor.is_none() || page.results.is_empty() {
                return Ok(page_no);
            }
            let Some(oldest) = page.results.iter().filter_map(|e| e.created).min() else {
                return Err(ApiError::decode(route.name, format!(
                        "page {page_no} of the audit log says more entries follow, but none of its entries has a `created` time to page on: stopped without reading the log to its end"
                    )));
            };
            if fresh.is_empty() {
                return Err(ApiError::decode(route.name, format!(
                        "page {page_no} of the audit log holds only entries of {oldest} already read, so paging by time cannot get past that instant: stopped without reading the log to its end; narrow the query (types, project_ids, created_gte) and try again"
                    )));
            }
            if q.created_lte != Some(oldest) {
                edge.clear();
            }
            edge.extend(
                page.results
                    .iter()
                    .filter(|e| e.created == Some(oldest))
                    .map(entry_key),
            );
            q.created_lte = Some(oldest);
        }
        Err(ApiError::decode(route.name, format!(
                "the audit log goes on past {max_pages} pages: stopped at the page cap without reading it to its end; narrow the query (created_gte, types, project_ids) and try again"
            )))
    }

    /// One page of a project's audit log (`POST /api/app/projects/{project}/audit-logs`).
    pub async fn project_audit_logs(
        &self,
        project: ProjectId,
        query: &wire::AuditLogQuery,
    ) -> Result<wire::AuditLogPage, ApiError> {
        self.send(&wire::PROJECT_AUDIT_LOGS, PathArgs::project(project), query)
            .await
    }

    /// Starts an asynchronous export of the organization's audit log; the export's id. Never
    /// sent twice without a read: see `create_audit_log_export_checked`.
    pub async fn create_audit_log_export(
        &self,
        org: OrgId,
        request: &wire::CreateAuditExport,
    ) -> Result<String, ApiError> {
        self.create_audit_log_export_checked(org, request).await
    }

    /// The organization's audit-log exports with their status.
    pub async fn list_audit_log_exports(
        &self,
        org: OrgId,
    ) -> Result<Vec<wire::AuditExport>, ApiError> {
        let page = self
            .send(&wire::LIST_AUDIT_LOG_EXPORTS, PathArgs::org(org), &NoBody)
            .await?;
        Ok(page.results)
    }

    /// The file of a finished export (CSV or NDJSON bytes).
    pub async fn download_audit_log_export(
        &self,
        org: OrgId,
        export_id: &str,
    ) -> Result<Vec<u8>, ApiError> {
        self.send(
            &wire::DOWNLOAD_AUDIT_LOG_EXPORT,
            PathArgs::org(org).export(export_id),
            &NoBody,
        )
        .await
    }

    /// Sends a request to any path with the client's credentials and policies, for checks and
    /// tools (the route name is used in errors and for the retry policy only).
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Vec<u8>, ApiError> {
        let url = self.url(None, path)?;
        let body = match body {
            Some(b) => json(b)?,
            None => Body::Empty,
        };
        self.transmit("raw", method, url, body).await
    }
}

/// What tells one audit entry from another: its id, with its time, type and actor where
/// the id is empty.
fn entry_key(e: &AuditEvent) -> String {
    if e.id.is_empty() {
        format!("{:?}|{}|{}", e.created, e.kind(), e.actor())
    } else {
        e.id.clone()
    }
}

/// Whose audit log to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditScope {
    Organization(OrgId),
    Project(ProjectId),
}

/// The most audit-log pages [`Client::audit_logs_all`] reads before it stops with an error.
pub const AUDIT_LOG_MAX_PAGES: usize = 10_000;

/// The capability a route needs, for naming the missing role in a 403 (a lookup in
/// [`wire::ROUTES`]).
pub fn route_capability(route: &str) -> Option<Capability> {
    route_named(route).and_then(|r| r.capability)
}

/// The HTTP method of a route's method.
fn http_method(method: wire::Method) -> Method {
    match method {
        wire::Method::Get => Method::GET,
        wire::Method::Post => Method::POST,
        wire::Method::Delete => Method::DELETE,
        wire::Method::Put => Method::PUT,
        wire::Method::Patch => Method::PATCH,
    }
}

fn json<T: Serialize + ?Sized>(body: &T) -> Result<Body, ApiError> {
    serde_json::to_vec(body)
        .map(Body::Json)
        .map_err(|e| ApiError::local("could not encode the request", e))
}

fn check_updated(route: &'static Route, updated: wire::Updated) -> Result<(), ApiError> {
    if updated.updated {
        Ok(())
    } else {
        Err(ApiError::Invalid {
            route: route.name,
            status: 200,
            message: updated
                .fail_reason
                .unwrap_or_else(|| "Mixpanel did not apply the change".into()),
        })
    }
}

/// The `error` of an error body, or the start of the body, or the status text.
fn error_message(body: &[u8], status: StatusCode) -> String {
    if let Ok(e) = serde_json::from_slice::<wire::ErrorBody>(body) {
        return e.error;
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("no message")
            .to_string()
    } else {
        text.chars().take(200).collect()
    }
}

/// A call that had no answer within its budget; a create may have been carried out.
fn out_of_budget(route: &'static str, method: &Method, url: String, budget: Duration) -> ApiError {
    let message = format!(
        "no answer within {} s, retries included (the server accepts connections but does not answer): check api_url and the network",
        budget.as_secs()
    );
    match wire::creates_new(route).filter(|_| *method != Method::GET) {
        Some(check) => ApiError::maybe_applied(route, None, format!("{message} ({url})"), check),
        None => ApiError::unanswered(route, url, message),
    }
}

fn redact_url(url: &Url) -> String {
    let mut u = url.clone();
    let _ = u.set_password(None);
    let _ = u.set_username("");
    u.set_query(None);
    u.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_results<T: serde::de::DeserializeOwned>(
        route: &'static str,
        bytes: &[u8],
    ) -> Result<T, ApiError> {
        use wire::Response;
        wire::Results::<T>::decode(bytes).map_err(|e| ApiError::undecodable(route, e))
    }

    fn g(id: u64, role: ProjectRole) -> ProjectRoleGrant {
        ProjectRoleGrant {
            id: ProjectId(id),
            role,
        }
    }

    #[test]
    fn add_to_project_items_pack_into_requests_that_say_exactly_the_same() {
        use ProjectRole::{Admin, Analyst, Consumer};
        let sa = |ids: &[u64]| ids.iter().map(|i| ServiceAccountId(*i)).collect::<Vec<_>>();
        // One account's three grants (a successor's): one request.
        let one = pack_account_grants(vec![
            (sa(&[7]), vec![g(1, Analyst)]),
            (sa(&[7]), vec![g(2, Consumer)]),
            (sa(&[7]), vec![g(3, Admin)]),
        ]);
        assert_eq!(
            one,
            vec![(sa(&[7]), vec![g(1, Analyst), g(2, Consumer), g(3, Admin)])]
        );
        // Several accounts with the same role on the same project: one request.
        let same = pack_account_grants(vec![
            (sa(&[1]), vec![g(5, Analyst)]),
            (sa(&[2]), vec![g(5, Analyst)]),
            (sa(&[2, 1]), vec![g(5, Analyst)]),
        ]);
        assert_eq!(same, vec![(sa(&[1, 2]), vec![g(5, Analyst)])]);
        // Different accounts with different projects cannot share a request (each would get
        // the other's project); nor can one project with two roles.
        let apart = pack_account_grants(vec![
            (sa(&[1]), vec![g(5, Analyst)]),
            (sa(&[2]), vec![g(6, Analyst)]),
            (sa(&[1]), vec![g(5, Admin)]),
        ]);
        assert_eq!(
            apart,
            vec![
                (sa(&[1]), vec![g(5, Analyst)]),
                (sa(&[2]), vec![g(6, Analyst)]),
                (sa(&[1]), vec![g(5, Admin)]),
            ]
        );
        // Every (account, project, role) of the items is in exactly the requests' products.
        let items = vec![
            (sa(&[1]), vec![g(5, Analyst)]),
            (sa(&[1]), vec![g(6, Consumer)]),
            (sa(&[2]), vec![g(5, Analyst), g(6, Consumer)]),
            (sa(&[3]), vec![g(5, Admin)]),
        ];
        let product = |list: &[AccountGrants]| {
            let mut v: Vec<(u64, u64, String)> = list
                .iter()
                .flat_map(|(s, gs)| {
                    s.iter().flat_map(move |a| {
                        gs.iter().map(move |x| (a.0, x.id.0, x.role.to_string()))
                    })
                })
                .collect();
            v.sort();
            v.dedup();
            v
        };
        let packed = pack_account_grants(items.clone());
        assert_eq!(product(&packed), product(&items));
        assert_eq!(packed.len(), 2, "{packed:?}");
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let cfg = ClientConfig::new(
            "https://mixpanel.com",
            "a.abc123.mp-service-account",
            SecretString::from("hunter2-very-secret"),
        )
        .unwrap();
        let client = Client::new(cfg.clone()).unwrap();
        assert!(!format!("{cfg:?}").contains("hunter2"));
        assert!(!format!("{client:?}").contains("hunter2"));
        assert!(client.is_real_mixpanel());
    }

    #[test]
    fn bad_config_says_what_to_fix() {
        let err = ClientConfig::new("mixpanel.com", "x", SecretString::from("s")).unwrap_err();
        assert!(err.to_string().contains("https://"), "{err}");
        let err = ClientConfig::new("ftp://mixpanel.com", "x", SecretString::from("s"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("must start with https://"), "{err}");
        let err = ClientConfig::new("https://mixpanel.com", " ", SecretString::from("s"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("username is empty"), "{err}");
    }

    #[test]
    fn envelopes_are_unwrapped_both_ways() {
        let a: wire::CreatedProject =
            decode_results("x", br#"{"status":"ok","results":{"id":5}}"#).unwrap();
        assert_eq!(a.id, Some(ProjectId(5)));
        let b: wire::CreatedProject = decode_results("x", br#"{"id":6,"extra":true}"#).unwrap();
        assert_eq!(b.id, Some(ProjectId(6)));
        let err = decode_results::<wire::CreatedProject>("x", b"<html>").unwrap_err();
        assert!(err.to_string().contains("not JSON"));
    }

    #[test]
    fn error_bodies_give_their_message() {
        assert_eq!(
            error_message(
                br#"{"status":"error","error":"nope"}"#,
                StatusCode::FORBIDDEN
            ),
            "nope"
        );
        assert_eq!(error_message(b"", StatusCode::BAD_GATEWAY), "Bad Gateway");
    }

    #[test]
    fn a_real_mixpanel_404_on_an_emulator_only_route_says_so() {
        let real = Client::new(
            ClientConfig::new(
                "https://eu.mixpanel.com",
                "a.abc.mp-service-account",
                "s".to_string().into(),
            )
            .unwrap(),
        )
        .unwrap();
        let local = Client::new(
            ClientConfig::new(
                "http://127.0.0.1:9",
                "a.abc.mp-service-account",
                "s".to_string().into(),
            )
            .unwrap(),
        )
        .unwrap();
        let h = HeaderMap::new();
        let f = real.failure("reset_project_secret", StatusCode::NOT_FOUND, &h, b"");
        assert!(matches!(f.error, ApiError::EmulatorOnly { .. }));
        assert!(f
            .error
            .to_string()
            .contains("available on the mixpanel-emulator only"));
        // A documented route's 404 is a plain not-found, and so is any 404 from the emulator.
        let f = real.failure("get_service_account", StatusCode::NOT_FOUND, &h, b"");
        assert!(f.error.is_not_found());
        let f = local.failure("reset_project_secret", StatusCode::NOT_FOUND, &h, b"");
        assert!(f.error.is_not_found());
        // 403 names the role needed; 429 keeps Retry-After.
        let f = local.failure(
            "create_project",
            StatusCode::FORBIDDEN,
            &h,
            br#"{"status":"error","error":"no"}"#,
        );
        assert!(
            f.error
                .to_string()
                .contains("the organization role owner or admin"),
            "{}",
            f.error
        );
        let mut h429 = HeaderMap::new();
        h429.insert(RETRY_AFTER, "7".parse().unwrap());
        let f = local.failure("me", StatusCode::TOO_MANY_REQUESTS, &h429, b"");
        assert!(f.retry);
        assert_eq!(f.retry_after, Some(Duration::from_secs(7)));
        let f = local.failure("me", StatusCode::MOVED_PERMANENTLY, &h, b"");
        assert!(!f.retry && matches!(f.error, ApiError::Redirect { .. }));
        // A 5xx on a create may have been carried out: not retried, unless it is a 503; a
        // route safe to replay retries every 5xx.
        for status in [500, 502, 504] {
            let code = StatusCode::from_u16(status).unwrap();
            let f = local.failure("create_service_account", code, &h, b"");
            assert!(!f.retry, "{status}");
            let msg = f.error.to_string();
            assert!(
                matches!(f.error, ApiError::MaybeApplied { status: Some(s), .. } if s == status),
                "{msg}"
            );
            assert!(
                msg.contains("list the organization's service accounts"),
                "{msg}"
            );
            assert!(local.failure("add_users_to_teams", code, &h, b"").retry);
        }
        // Issue 16: on a create settled by a lookup, neither a 503 nor a 429 proves that
        // nothing was stored, so neither is sent again blindly; elsewhere both are retried.
        for route in ["create_service_account", "create_project", "add_teams"] {
            for code in [
                StatusCode::SERVICE_UNAVAILABLE,
                StatusCode::TOO_MANY_REQUESTS,
            ] {
                let f = local.failure(route, code, &h, b"");
                assert!(
                    !f.retry && matches!(f.error, ApiError::MaybeApplied { .. }),
                    "{route} {code}"
                );
            }
        }
        for route in ["add_users_to_teams", "me"] {
            assert!(
                local
                    .failure(route, StatusCode::SERVICE_UNAVAILABLE, &h, b"")
                    .retry
            );
            assert!(
                local
                    .failure(route, StatusCode::TOO_MANY_REQUESTS, &h, b"")
                    .retry
            );
        }
    }

    #[test]
    fn every_route_that_creates_is_a_post_in_the_table() {
        for name in ["create_service_account", "create_project", "add_teams"] {
            let r = route_named(name).expect(name);
            assert_eq!(r.method, wire::Method::Post);
            assert!(wire::creates_new(name).is_some());
        }
        assert!(wire::creates_new("add_service_accounts_to_projects").is_none());
    }

    #[test]
    fn every_write_route_names_a_capability() {
        for r in wire::ROUTES {
            if r.method != wire::Method::Get && *r != wire::VALIDATE_PROJECT_CREDENTIALS.route {
                assert!(route_capability(r.name).is_some(), "{}", r.name);
            }
        }
    }
    #[test]
    fn project_domains_outside_mixpanel_are_never_used() {
        let c = Client::new(
            ClientConfig::new(
                "https://mixpanel.com",
                "a.abc.mp-service-account",
                "s".to_string().into(),
            )
            .unwrap(),
        )
        .unwrap();
        let host = |p: u64| {
            c.route_url(&wire::PROJECT_METADATA, &PathArgs::project(ProjectId(p)))
                .unwrap()
                .to_string()
        };
        c.remember_hosts(
            [
                (ProjectId(1), "eu.mixpanel.com"),
                (ProjectId(2), "in.mixpanel.com."),
                (ProjectId(3), "EU.Mixpanel.com"),
            ]
            .into_iter(),
        );
        assert!(!c.inner.refused_domain.load(Ordering::Relaxed));
        assert_eq!(
            host(1),
            "https://eu.mixpanel.com/settings/project/1/metadata"
        );
        assert_eq!(
            host(2),
            "https://in.mixpanel.com/settings/project/2/metadata"
        );
        assert_eq!(
            host(3),
            "https://eu.mixpanel.com/settings/project/3/metadata"
        );
        c.remember_hosts(
            [
                (ProjectId(4), "evil.example"),
                (ProjectId(5), "eu.mixpanel.com.evil.example"),
                (ProjectId(6), "evil.example/eu.mixpanel.com"),
                (ProjectId(7), "https://eu.mixpanel.com"),
                (ProjectId(8), "api.mixpanel.com"),
            ]
            .into_iter(),
        );
        assert!(c.inner.refused_domain.load(Ordering::Relaxed));
        for p in 4..=8 {
            assert_eq!(
                host(p),
                format!("https://mixpanel.com/settings/project/{p}/metadata")
            );
        }
        // A project learnt on a Mixpanel host and then listed elsewhere goes to the base URL.
        c.remember_hosts(std::iter::once((ProjectId(1), "evil.example")));
        assert_eq!(host(1), "https://mixpanel.com/settings/project/1/metadata");
    }

    /// A tiny HTTP/1.1 server on 127.0.0.1: each request (one per connection) is answered by
    /// `answer(index, path, body)` with a status, a JSON body and a delay before answering.
    struct TestServer {
        url: String,
        requests: Arc<AtomicUsize>,
        max_in_flight: Arc<AtomicUsize>,
    }

    type Answer = (u16, String, Duration);

    async fn serve<F>(answer: F) -> TestServer
    where
        F: Fn(usize, &str, &str) -> Answer + Send + Sync + 'static,
    {
        use tokio::io::AsyncWriteExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let requests = Arc::new(AtomicUsize::new(0));
        let in_flight = Arc::new(AtomicUsize::new(0));
        let max_in_flight = Arc::new(AtomicUsize::new(0));
        let answer = Arc::new(answer);
        let (req_count, max) = (requests.clone(), max_in_flight.clone());
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let (answer, requests) = (answer.clone(), req_count.clone());
                let (in_flight, max) = (in_flight.clone(), max.clone());
                tokio::spawn(async move {
                    let Some((path, body)) = read_request(&mut sock).await else {
                        return;
                    };
                    let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                    max.fetch_max(now, Ordering::SeqCst);
                    let n = requests.fetch_add(1, Ordering::SeqCst);
                    let (status, text, delay) = answer(n, &path, &body);
                    tokio::time::sleep(delay).await;
                    // Out of flight before the answer leaves, so a client holding one permit
                    // can never be seen twice.
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                    let resp = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
                        text.len()
                    );
                    let _ = sock.write_all(resp.as_bytes()).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        TestServer {
            url,
            requests,
            max_in_flight,
        }
    }

    async fn read_request(sock: &mut tokio::net::TcpStream) -> Option<(String, String)> {
        use tokio::io::AsyncReadExt;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let end = loop {
            let n = sock.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(&chunk[..n]);
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break end;
            }
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_string();
        let len = head
            .lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.trim().parse::<usize>().ok())
            .unwrap_or(0);
        while buf.len() < end + 4 + len {
            let n = sock.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        let path = head.split_whitespace().nth(1)?.to_string();
        let body = String::from_utf8_lossy(&buf[end + 4..end + 4 + len]).to_string();
        Some((path, body))
    }

    fn test_client(url: &str, concurrency: usize, backoff: Duration) -> Client {
        let mut cfg = ClientConfig::new(url, "a.abc.mp-service-account", "s".to_string().into())
            .expect("config");
        cfg.max_concurrency = concurrency;
        cfg.min_backoff = backoff;
        cfg.max_backoff = backoff;
        cfg.max_retries = 3;
        Client::new(cfg).expect("client")
    }

    #[tokio::test]
    async fn every_retry_passes_the_concurrency_limit() {
        // Each path fails once with 503, then answers: twelve attempts for six calls.
        let failed = Arc::new(Mutex::new(HashSet::new()));
        let server = serve(move |_, path, _| {
            let first = failed.lock().expect("lock").insert(path.to_string());
            let status = if first { 503 } else { 200 };
            (status, "{}".to_string(), Duration::from_millis(30))
        })
        .await;
        let c = test_client(&server.url, 2, Duration::from_millis(1));
        let calls = (0..6).map(|i| {
            let c = c.clone();
            async move { c.raw(Method::GET, &format!("/r{i}"), None).await }
        });
        for r in spawn_all(calls).await {
            r.expect("call");
        }
        assert_eq!(server.requests.load(Ordering::SeqCst), 12);
        let max = server.max_in_flight.load(Ordering::SeqCst);
        assert!((1..=2).contains(&max), "{max} requests in flight at once");
    }

    #[tokio::test]
    async fn every_retry_passes_the_rate_limit() {
        // Four calls, each failing once: eight attempts at two a second (a burst of two) take
        // at least three seconds; without the limit they take milliseconds.
        let failed = Arc::new(Mutex::new(HashSet::new()));
        let server = serve(move |_, path, _| {
            let first = failed.lock().expect("lock").insert(path.to_string());
            (
                if first { 503 } else { 200 },
                "{}".to_string(),
                Duration::ZERO,
            )
        })
        .await;
        let url = server.url.clone();
        let mut cfg = ClientConfig::new(&url, "a.abc.mp-service-account", "s".to_string().into())
            .expect("config");
        cfg.max_concurrency = 8;
        cfg.min_backoff = Duration::from_millis(1);
        cfg.max_backoff = Duration::from_millis(1);
        cfg.requests_per_second = std::num::NonZeroU32::new(2);
        let c = Client::new(cfg).expect("client");
        let started = std::time::Instant::now();
        let calls = (0..4).map(|i| {
            let c = c.clone();
            async move { c.raw(Method::GET, &format!("/r{i}"), None).await }
        });
        for r in spawn_all(calls).await {
            r.expect("call");
        }
        assert_eq!(server.requests.load(Ordering::SeqCst), 8);
        assert!(
            started.elapsed() >= Duration::from_millis(2900),
            "eight attempts at 2/s took {:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn a_call_waiting_to_retry_holds_no_permit() {
        // One permit. The first call fails once and waits 2 s before its retry; a second call
        // made meanwhile is answered without waiting for it.
        let server = serve(|n, path, _| {
            let status = if n == 0 && path == "/slow" { 503 } else { 200 };
            (status, "{}".to_string(), Duration::ZERO)
        })
        .await;
        let c = test_client(&server.url, 1, Duration::from_secs(2));
        let slow = tokio::spawn({
            let c = c.clone();
            async move { c.raw(Method::GET, "/slow", None).await }
        });
        for _ in 0..500 {
            if server.requests.load(Ordering::SeqCst) > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(server.requests.load(Ordering::SeqCst), 1);
        let fast =
            tokio::time::timeout(Duration::from_secs(1), c.raw(Method::GET, "/fast", None)).await;
        assert!(matches!(fast, Ok(Ok(_))), "{fast:?}");
        assert!(
            !slow.is_finished(),
            "the first call was not waiting to retry"
        );
        slow.await.expect("join").expect("slow call");
        assert_eq!(server.requests.load(Ordering::SeqCst), 3);
    }

    /// A page of Mixpanel's shape: entries `(id, seconds after 2026-01-01)`, and whether more
    /// follow.
    fn audit_page(entries: &[(u64, i64)], more: bool) -> String {
        let base: chrono::DateTime<chrono::Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
        let results: Vec<serde_json::Value> = entries
            .iter()
            .map(|(id, secs)| {
                serde_json::json!({
                    "id": id.to_string(),
                    "created": (base + chrono::Duration::seconds(*secs)).to_rfc3339(),
                    "user_email": "ana@x.example",
                    "organization_id": "1",
                    "organization_name": "Acme",
                    "project_id": "",
                    "service": "webapp",
                    "event_category": "auth",
                    "ttl_timestamp": "2027-01-01T00:00:00Z",
                    "entity": {"type": "session.logged_in", "entity_type": "session",
                               "action": "logged_in", "entity_id": "1", "entity_name": "UNSET",
                               "payload": {}},
                })
            })
            .collect();
        serde_json::json!({
            "status": "ok",
            "results": results,
            "pagination": {"next_cursor": more.then_some("more"), "previous_cursor": null},
        })
        .to_string()
    }

    /// The request's `created_lte`, after checking the body is one Mixpanel's filter takes.
    fn window_of(body: &str) -> Option<chrono::DateTime<chrono::Utc>> {
        let q: wire::AuditLogQuery =
            serde_json::from_str(body).unwrap_or_else(|e| panic!("refused body {body}: {e}"));
        q.created_lte
    }

    #[tokio::test]
    async fn the_audit_pager_sends_only_the_filter_and_stops_when_a_window_makes_no_progress() {
        // Every page is the same two entries at one instant, "more follow": paging by time
        // cannot get past it.
        let server = serve(|n, _, body| {
            let _ = window_of(body);
            if n >= 50 {
                return (200, audit_page(&[], false), Duration::ZERO);
            }
            (200, audit_page(&[(1, 10), (2, 10)], true), Duration::ZERO)
        })
        .await;
        let c = test_client(&server.url, 3, Duration::from_millis(1));
        let err = c
            .audit_logs_all(OrgId(1), &wire::AuditLogQuery::default())
            .await
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("already read"), "{msg}");
        assert!(msg.contains("without reading the log to its end"), "{msg}");
        assert_eq!(server.requests.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn the_audit_pager_pages_by_windows_skips_the_edge_and_stops_at_the_cap() {
        // Page n holds entries at 100-n and 100-n-1 seconds (the second is the next page's
        // first again), more following until 50 pages.
        let endless = serve(|n, _, body| {
            let _ = window_of(body);
            let t = 100 - n as i64;
            let more = n < 50;
            (
                200,
                audit_page(&[(t as u64 * 10, t), (t as u64 * 10 - 10, t - 1)], more),
                Duration::ZERO,
            )
        })
        .await;
        let c = test_client(&endless.url, 3, Duration::from_millis(1));
        let err = c
            .audit_logs_up_to(OrgId(1), &wire::AuditLogQuery::default(), 5)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("past 5 pages"), "{err}");
        assert_eq!(endless.requests.load(Ordering::SeqCst), 5);

        // Three pages, the later ones windowed to the oldest entry seen, then no more: each
        // entry once.
        let finite = serve(|n, _, body| {
            let lte = window_of(body);
            let page = match n {
                0 => {
                    assert_eq!(lte, None);
                    audit_page(&[(5, 50), (4, 40)], true)
                }
                1 => {
                    assert_eq!(lte.map(|t| t.timestamp() % 100), Some(40), "{body}");
                    audit_page(&[(4, 40), (3, 40)], true)
                }
                _ => audit_page(&[(3, 40), (2, 30), (1, 20)], false),
            };
            (200, page, Duration::ZERO)
        })
        .await;
        let c = test_client(&finite.url, 3, Duration::from_millis(1));
        let all = c
            .audit_logs_up_to(OrgId(1), &wire::AuditLogQuery::default(), 3)
            .await
            .expect("three pages");
        let ids: Vec<&str> = all.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["5", "4", "3", "2", "1"]);
        assert_eq!(finite.requests.load(Ordering::SeqCst), 3);
    }

    /// Runs futures at once and collects their outputs in order.
    async fn spawn_all<F>(futs: impl Iterator<Item = F>) -> Vec<F::Output>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let handles: Vec<_> = futs.map(tokio::spawn).collect();
        let mut out = Vec::new();
        for h in handles {
            out.push(h.await.expect("join"));
        }
        out
    }
}
