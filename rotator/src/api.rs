//! The rotator's access to Mixpanel: the shared client behind the rotator's own rate limit
//! (`governor`). The client never sends a create twice when the first may have been carried
//! out (`ApiError::MaybeApplied`); the engine then retries through the journal, whose
//! deterministic usernames find the account if it was made.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use mixpanel_access::api::{wire, ApiError, Client, ClientConfig};
use mixpanel_access::model::{
    CreatedServiceAccount, Member, OrgId, ProjectId, ProjectRoleGrant, ProjectServiceAccount,
    ServiceAccount, ServiceAccountId, Team, TeamId, UserGrant,
};
use secrecy::SecretString;

use crate::error::Result;

/// Mixpanel, rate limited, for one organization. Cheap to clone.
#[derive(Clone)]
pub struct Mixpanel {
    client: Client,
    org: OrgId,
    limiter: Arc<DefaultDirectRateLimiter>,
    /// Set once the API answered 404 on a reset route for a project that exists (a proxy in
    /// front of Mixpanel, or an emulator hiding its own routes).
    no_reset_routes: Arc<AtomicBool>,
}

impl std::fmt::Debug for Mixpanel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mixpanel")
            .field("client", &self.client)
            .field("org", &self.org)
            .finish()
    }
}

impl Mixpanel {
    /// Builds the clients; discovers the organization from `/api/app/me` when not given.
    pub async fn connect(
        config: ClientConfig,
        org: Option<OrgId>,
        requests_per_second: u32,
    ) -> Result<Mixpanel> {
        let client = Client::new(config)?;
        let rate = NonZeroU32::new(requests_per_second.max(1)).unwrap_or(NonZeroU32::MIN);
        let limiter = Arc::new(RateLimiter::direct(Quota::per_second(rate)));
        let mut m = Mixpanel {
            client,
            org: org.unwrap_or(OrgId(0)),
            limiter,
            no_reset_routes: Arc::new(AtomicBool::new(false)),
        };
        if org.is_none() {
            m.wait().await;
            m.org = m.client.discover_organization().await?;
        }
        Ok(m)
    }

    pub fn org(&self) -> OrgId {
        self.org
    }

    /// The underlying (retrying) client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Whether the API is Mixpanel itself (not the emulator or a proxy).
    pub fn is_real_mixpanel(&self) -> bool {
        self.client.is_real_mixpanel()
    }

    /// Whether project secrets and tokens can be reset through this API: not on Mixpanel
    /// itself, nor where a reset route turned out to be missing.
    pub fn can_reset_project_credentials(&self) -> bool {
        !self.client.is_real_mixpanel() && !self.no_reset_routes.load(Ordering::Relaxed)
    }

    /// Records that the reset routes are missing here (see `can_reset_project_credentials`).
    pub fn mark_reset_routes_missing(&self) {
        self.no_reset_routes.store(true, Ordering::Relaxed);
    }

    async fn wait(&self) {
        self.limiter.until_ready().await;
    }

    /// A client for other credentials on the same host (to test a new secret): no retries of
    /// its own, short backoff.
    pub fn client_for(&self, username: &str, secret: SecretString) -> Result<Client> {
        let base = self.client.config();
        let mut c = ClientConfig::new(base.base_url.as_str(), username, secret)?;
        c.max_retries = 0;
        c.max_concurrency = 1;
        c.timeout = base.timeout.min(Duration::from_secs(30));
        Ok(Client::new(c)?)
    }

    /// `me()` through the rate limit, for any client.
    pub async fn me_with(&self, client: &Client) -> Result<wire::Me, ApiError> {
        self.wait().await;
        client.me().await
    }

    /// A project-scoped call through the rate limit, for any client (the documented
    /// `GET /api/app/projects/{id}/service-accounts`).
    pub async fn project_call_with(
        &self,
        client: &Client,
        project: ProjectId,
    ) -> Result<Vec<ProjectServiceAccount>, ApiError> {
        self.wait().await;
        client.list_project_service_accounts(project).await
    }

    pub async fn me(&self) -> Result<wire::Me, ApiError> {
        self.me_with(&self.client).await
    }

    pub async fn list_service_accounts(&self) -> Result<Vec<ServiceAccount>, ApiError> {
        self.wait().await;
        self.client.list_service_accounts(self.org).await
    }

    /// Creates a service account, never retried by the client.
    pub async fn create_service_account(
        &self,
        request: &wire::CreateServiceAccount,
    ) -> Result<CreatedServiceAccount, ApiError> {
        self.wait().await;
        self.client.create_service_account(self.org, request).await
    }

    /// Deletes a service account; an account already gone counts as deleted.
    pub async fn delete_service_account(&self, id: ServiceAccountId) -> Result<(), ApiError> {
        self.wait().await;
        match self.client.delete_service_account(self.org, id).await {
            Err(e) if e.is_not_found() => Ok(()),
            other => other,
        }
    }

    pub async fn list_project_service_accounts(
        &self,
        project: ProjectId,
    ) -> Result<Vec<ProjectServiceAccount>, ApiError> {
        self.project_call_with(&self.client, project).await
    }

    pub async fn add_service_accounts_to_projects(
        &self,
        ids: &[ServiceAccountId],
        grants: &[ProjectRoleGrant],
    ) -> Result<(), ApiError> {
        self.wait().await;
        self.client
            .add_service_accounts_to_projects(self.org, ids, grants)
            .await
    }

    /// Every project of the organization (the rotator's own view).
    pub async fn list_projects(&self) -> Result<Vec<ProjectId>, ApiError> {
        self.wait().await;
        Ok(self
            .client
            .list_projects(self.org)
            .await?
            .into_iter()
            .map(|p| p.id)
            .collect())
    }

    pub async fn list_teams(&self) -> Result<Vec<Team>, ApiError> {
        self.wait().await;
        self.client.list_teams(self.org).await
    }

    pub async fn add_service_accounts_to_team(
        &self,
        team: TeamId,
        ids: &[ServiceAccountId],
    ) -> Result<(), ApiError> {
        self.wait().await;
        self.client
            .add_service_accounts_to_team(self.org, team, ids)
            .await
    }

    pub async fn list_org_users(&self) -> Result<Vec<Member>, ApiError> {
        self.wait().await;
        self.client.list_org_users(self.org).await
    }

    pub async fn granted_users(&self, project: ProjectId) -> Result<Vec<UserGrant>, ApiError> {
        self.wait().await;
        self.client.granted_users(project).await
    }

    pub async fn project_metadata(
        &self,
        project: ProjectId,
    ) -> Result<wire::ProjectMetadata, ApiError> {
        self.wait().await;
        self.client.project_metadata(project).await
    }

    pub async fn reset_project_secret(&self, project: ProjectId) -> Result<SecretString, ApiError> {
        self.wait().await;
        self.client.reset_project_secret(project).await
    }

    pub async fn reset_project_token(&self, project: ProjectId) -> Result<String, ApiError> {
        self.wait().await;
        self.client.reset_project_token(project).await
    }

    pub async fn validate_project_credentials(
        &self,
        token: &str,
        secret: &SecretString,
    ) -> Result<bool, ApiError> {
        self.wait().await;
        self.client
            .validate_project_credentials(token, secret)
            .await
    }
}
