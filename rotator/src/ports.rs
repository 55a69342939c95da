//! What the rotation engine needs of Vault and of Mixpanel, as two traits: the engine's steps
//! and driver take them, [`VaultStore`] and [`Mixpanel`] implement them, and the engine's unit
//! tests run the phase machine on in-memory fakes of both (no OpenBao, no HTTP).

use std::collections::BTreeMap;
use std::future::Future;

use mixpanel_access::api::{wire, ApiError, OrgClient};
use mixpanel_access::model::{
    CreatedServiceAccount, OrgId, ProjectId, ProjectRoleGrant, ProjectServiceAccount,
    ServiceAccount, ServiceAccountId, Team, TeamId,
};
use mixpanel_access::vault::{
    Credential, FencingToken, Journal, KvMetadata, Lease, LeaseStatus, VaultError, VaultStore,
    VersionInfo,
};
use secrecy::SecretString;

use crate::api::Mixpanel;
use crate::error::Result;

/// Vault as the engine uses it: credentials, their metadata (the inventory) and the fenced
/// journals.
pub trait RotationStore: Send + Sync {
    /// The latest journal of `name` and its version.
    fn read_journal(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<(Journal, u64)>, VaultError>> + Send;
    /// Writes a journal with check-and-set under `fencing` (refused unless the live lease
    /// carries it). Returns the new version.
    fn write_journal(
        &self,
        name: &str,
        journal: &Journal,
        cas: u64,
        fencing: FencingToken,
    ) -> impl Future<Output = Result<u64, VaultError>> + Send;
    /// The current credential of `name`.
    fn read_credential(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<(Credential, VersionInfo)>, VaultError>> + Send;
    /// Writes a credential with check-and-set. Returns the new version.
    fn write_credential(
        &self,
        name: &str,
        credential: &Credential,
        cas: u64,
    ) -> impl Future<Output = Result<u64, VaultError>> + Send;
    /// The metadata of `creds/<name>` (the inventory entry is in its custom metadata).
    fn read_metadata(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<KvMetadata>, VaultError>> + Send;
    /// Merges `fields` into the custom metadata of `creds/<name>` (`None` removes a key).
    fn patch_metadata(
        &self,
        name: &str,
        fields: &BTreeMap<String, Option<String>>,
    ) -> impl Future<Output = Result<(), VaultError>> + Send;
    /// Every credential's name and metadata.
    fn visit_credentials(
        &self,
        visit: &mut (dyn FnMut(String, KvMetadata) + Send),
    ) -> impl Future<Output = Result<(), VaultError>> + Send;
    /// Who holds the leader lease now, with its fencing token (`None`: nobody).
    fn lease_holder(
        &self,
    ) -> impl Future<Output = Result<Option<(String, FencingToken)>, VaultError>> + Send;
}

impl RotationStore for VaultStore {
    async fn read_journal(&self, name: &str) -> Result<Option<(Journal, u64)>, VaultError> {
        VaultStore::read_journal(self, name).await
    }
    async fn write_journal(
        &self,
        name: &str,
        journal: &Journal,
        cas: u64,
        fencing: FencingToken,
    ) -> Result<u64, VaultError> {
        VaultStore::write_journal(self, name, journal, cas, fencing).await
    }
    async fn read_credential(
        &self,
        name: &str,
    ) -> Result<Option<(Credential, VersionInfo)>, VaultError> {
        VaultStore::read_credential(self, name).await
    }
    async fn write_credential(
        &self,
        name: &str,
        credential: &Credential,
        cas: u64,
    ) -> Result<u64, VaultError> {
        VaultStore::write_credential(self, name, credential, cas).await
    }
    async fn read_metadata(&self, name: &str) -> Result<Option<KvMetadata>, VaultError> {
        VaultStore::read_metadata(self, name).await
    }
    async fn patch_metadata(
        &self,
        name: &str,
        fields: &BTreeMap<String, Option<String>>,
    ) -> Result<(), VaultError> {
        VaultStore::patch_metadata(self, name, fields).await
    }
    async fn visit_credentials(
        &self,
        visit: &mut (dyn FnMut(String, KvMetadata) + Send),
    ) -> Result<(), VaultError> {
        VaultStore::visit_credentials(self, visit).await
    }
    async fn lease_holder(&self) -> Result<Option<(String, FencingToken)>, VaultError> {
        Ok(match Lease::status(self).await? {
            LeaseStatus::Held { record, .. } => Some((record.holder, record.fencing_token)),
            LeaseStatus::Free { .. } => None,
        })
    }
}

/// Mixpanel as the engine uses it, for one organization.
pub trait RotationApi: Clone + Send + Sync + 'static {
    /// A client with another credential (to test a new secret).
    type Probe: Send + Sync;

    /// The organization.
    fn org(&self) -> OrgId;
    /// The username the rotator itself runs with.
    fn own_username(&self) -> String;
    /// Whether project secrets and tokens can be reset through this API.
    fn can_reset_project_credentials(&self) -> bool;
    /// Records that the reset routes turned out to be missing.
    fn mark_reset_routes_missing(&self);
    /// A client for other credentials on the same host.
    fn client_for(&self, username: &str, secret: SecretString) -> Result<Self::Probe>;
    /// `GET /api/app/me` with a probe's credential.
    fn me_with(
        &self,
        probe: &Self::Probe,
    ) -> impl Future<Output = Result<wire::Me, ApiError>> + Send;
    /// A project-scoped call with a probe's credential.
    fn project_call_with(
        &self,
        probe: &Self::Probe,
        project: ProjectId,
    ) -> impl Future<Output = Result<Vec<ProjectServiceAccount>, ApiError>> + Send;
    fn list_service_accounts(
        &self,
    ) -> impl Future<Output = Result<Vec<ServiceAccount>, ApiError>> + Send;
    fn create_service_account(
        &self,
        request: &wire::CreateServiceAccount,
    ) -> impl Future<Output = Result<CreatedServiceAccount, ApiError>> + Send;
    /// Deletes a service account; one already gone counts as deleted.
    fn delete_service_account(
        &self,
        id: ServiceAccountId,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;
    fn list_project_service_accounts(
        &self,
        project: ProjectId,
    ) -> impl Future<Output = Result<Vec<ProjectServiceAccount>, ApiError>> + Send;
    fn add_service_accounts_to_projects(
        &self,
        ids: &[ServiceAccountId],
        grants: &[ProjectRoleGrant],
    ) -> impl Future<Output = Result<(), ApiError>> + Send;
    fn list_projects(&self) -> impl Future<Output = Result<Vec<ProjectId>, ApiError>> + Send;
    fn list_teams(&self) -> impl Future<Output = Result<Vec<Team>, ApiError>> + Send;
    fn add_service_accounts_to_team(
        &self,
        team: TeamId,
        ids: &[ServiceAccountId],
    ) -> impl Future<Output = Result<(), ApiError>> + Send;
    fn reset_project_token(
        &self,
        project: ProjectId,
    ) -> impl Future<Output = Result<String, ApiError>> + Send;
    fn reset_project_secret(
        &self,
        project: ProjectId,
    ) -> impl Future<Output = Result<SecretString, ApiError>> + Send;
    fn project_metadata(
        &self,
        project: ProjectId,
    ) -> impl Future<Output = Result<wire::ProjectMetadata, ApiError>> + Send;
    fn validate_project_credentials(
        &self,
        token: &str,
        secret: &SecretString,
    ) -> impl Future<Output = Result<bool, ApiError>> + Send;
}

impl RotationApi for Mixpanel {
    type Probe = mixpanel_access::api::Client;

    fn org(&self) -> OrgId {
        OrgClient::org(self)
    }
    fn own_username(&self) -> String {
        OrgClient::client(self).config().username.clone()
    }
    fn can_reset_project_credentials(&self) -> bool {
        Mixpanel::can_reset_project_credentials(self)
    }
    fn mark_reset_routes_missing(&self) {
        Mixpanel::mark_reset_routes_missing(self)
    }
    fn client_for(&self, username: &str, secret: SecretString) -> Result<Self::Probe> {
        Mixpanel::client_for(self, username, secret)
    }
    async fn me_with(&self, probe: &Self::Probe) -> Result<wire::Me, ApiError> {
        Mixpanel::me_with(self, probe).await
    }
    async fn project_call_with(
        &self,
        probe: &Self::Probe,
        project: ProjectId,
    ) -> Result<Vec<ProjectServiceAccount>, ApiError> {
        Mixpanel::project_call_with(self, probe, project).await
    }
    async fn list_service_accounts(&self) -> Result<Vec<ServiceAccount>, ApiError> {
        OrgClient::list_service_accounts(self).await
    }
    async fn create_service_account(
        &self,
        request: &wire::CreateServiceAccount,
    ) -> Result<CreatedServiceAccount, ApiError> {
        OrgClient::create_service_account(self, request).await
    }
    async fn delete_service_account(&self, id: ServiceAccountId) -> Result<(), ApiError> {
        Mixpanel::delete_service_account(self, id).await
    }
    async fn list_project_service_accounts(
        &self,
        project: ProjectId,
    ) -> Result<Vec<ProjectServiceAccount>, ApiError> {
        OrgClient::client(self)
            .list_project_service_accounts(project)
            .await
    }
    async fn add_service_accounts_to_projects(
        &self,
        ids: &[ServiceAccountId],
        grants: &[ProjectRoleGrant],
    ) -> Result<(), ApiError> {
        OrgClient::add_service_accounts_to_projects(self, ids, grants).await
    }
    async fn list_projects(&self) -> Result<Vec<ProjectId>, ApiError> {
        Mixpanel::list_projects(self).await
    }
    async fn list_teams(&self) -> Result<Vec<Team>, ApiError> {
        OrgClient::list_teams(self).await
    }
    async fn add_service_accounts_to_team(
        &self,
        team: TeamId,
        ids: &[ServiceAccountId],
    ) -> Result<(), ApiError> {
        OrgClient::add_service_accounts_to_team(self, team, ids).await
    }
    async fn reset_project_token(&self, project: ProjectId) -> Result<String, ApiError> {
        OrgClient::client(self).reset_project_token(project).await
    }
    async fn reset_project_secret(&self, project: ProjectId) -> Result<SecretString, ApiError> {
        OrgClient::client(self).reset_project_secret(project).await
    }
    async fn project_metadata(
        &self,
        project: ProjectId,
    ) -> Result<wire::ProjectMetadata, ApiError> {
        OrgClient::client(self).project_metadata(project).await
    }
    async fn validate_project_credentials(
        &self,
        token: &str,
        secret: &SecretString,
    ) -> Result<bool, ApiError> {
        OrgClient::client(self)
            .validate_project_credentials(token, secret)
            .await
    }
}
