//! The rotator's access to Mixpanel: the shared client scoped to the organization
//! ([`OrgClient`], every org-scoped route and, through `Deref`, every other), with the rate
//! limit inside the client so that every attempt, retries included, passes it. The client
//! never sends a create twice when the first may have been carried out
//! (`ApiError::MaybeApplied`); the engine then retries through the journal, whose
//! deterministic usernames find the account if it was made.

use std::num::NonZeroU32;
use std::ops::Deref;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use mixpanel_access::api::{wire, ApiError, Client, ClientConfig, OrgClient};
use mixpanel_access::model::{OrgId, ProjectId, ProjectServiceAccount, ServiceAccountId};
use secrecy::SecretString;

use crate::error::Result;

/// Mixpanel, rate limited, for one organization. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Mixpanel {
    api: OrgClient,
    /// Set once the API answered 404 on a reset route for a project that exists (a proxy in
    /// front of Mixpanel, or an emulator hiding its own routes).
    no_reset_routes: Arc<AtomicBool>,
}

impl Deref for Mixpanel {
    type Target = OrgClient;
    fn deref(&self) -> &OrgClient {
        &self.api
    }
}

impl Mixpanel {
    /// Builds the client; discovers the organization from `/api/app/me` when not given.
    pub async fn connect(
        mut config: ClientConfig,
        org: Option<OrgId>,
        requests_per_second: u32,
    ) -> Result<Mixpanel> {
        config.requests_per_second =
            Some(NonZeroU32::new(requests_per_second).unwrap_or(NonZeroU32::MIN));
        let api = OrgClient::connect(Client::new(config)?, org).await?;
        Ok(Mixpanel {
            api,
            no_reset_routes: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Whether project secrets and tokens can be reset through this API: not on Mixpanel
    /// itself, nor where a reset route turned out to be missing.
    pub fn can_reset_project_credentials(&self) -> bool {
        !self.is_real_mixpanel() && !self.no_reset_routes.load(Ordering::Relaxed)
    }

    /// Records that the reset routes are missing here (see `can_reset_project_credentials`).
    pub fn mark_reset_routes_missing(&self) {
        self.no_reset_routes.store(true, Ordering::Relaxed);
    }

    /// A client for other credentials on the same host (to test a new secret), sharing the
    /// rate limit.
    pub fn client_for(&self, username: &str, secret: SecretString) -> Result<Client> {
        Ok(self.api.with_credentials(username, secret)?)
    }

    /// `me()` of any client (one from [`Self::client_for`] shares the rate limit).
    pub async fn me_with(&self, client: &Client) -> Result<wire::Me, ApiError> {
        client.me().await
    }

    /// The documented `GET /api/app/projects/{id}/service-accounts`, for any client.
    pub async fn project_call_with(
        &self,
        client: &Client,
        project: ProjectId,
    ) -> Result<Vec<ProjectServiceAccount>, ApiError> {
        client.list_project_service_accounts(project).await
    }

    /// Deletes a service account; an account already gone counts as deleted.
    pub async fn delete_service_account(&self, id: ServiceAccountId) -> Result<(), ApiError> {
        match self.api.delete_service_account(id).await {
            Err(e) if e.is_not_found() => Ok(()),
            other => other,
        }
    }

    /// Every project of the organization (the rotator's own view).
    pub async fn list_projects(&self) -> Result<Vec<ProjectId>, ApiError> {
        Ok(self
            .api
            .list_projects()
            .await?
            .into_iter()
            .map(|p| p.id)
            .collect())
    }
}
