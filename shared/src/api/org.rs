//! A client handle scoped to one organization: the organization's routes without the `org`
//! argument, and everything else of [`Client`] through `Deref`.

use std::ops::Deref;

use super::error::ApiError;
use super::wire;
use super::{AuditScope, Client};
use crate::model::{
    AuditEvent, CreatedServiceAccount, Member, OrgId, Project, ProjectRoleGrant, ServiceAccount,
    ServiceAccountId, Team, TeamId,
};

/// The API for one organization. Cheap to clone.
#[derive(Clone, Debug)]
pub struct OrgClient {
    client: Client,
    org: OrgId,
}

impl Deref for OrgClient {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

impl OrgClient {
    pub fn new(client: Client, org: OrgId) -> OrgClient {
        OrgClient { client, org }
    }

    /// The organization given, or the credential's only one (from `/api/app/me`).
    pub async fn connect(client: Client, org: Option<OrgId>) -> Result<OrgClient, ApiError> {
        let org = match org {
            Some(o) => o,
            None => client.discover_organization().await?,
        };
        Ok(OrgClient::new(client, org))
    }

    pub fn org(&self) -> OrgId {
        self.org
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub async fn list_service_accounts(&self) -> Result<Vec<ServiceAccount>, ApiError> {
        self.client.list_service_accounts(self.org).await
    }

    /// Creates a service account (never sent twice when the first may have been carried out).
    pub async fn create_service_account(
        &self,
        request: &wire::CreateServiceAccount,
    ) -> Result<CreatedServiceAccount, ApiError> {
        self.client.create_service_account(self.org, request).await
    }

    pub async fn delete_service_account(&self, id: ServiceAccountId) -> Result<(), ApiError> {
        self.client.delete_service_account(self.org, id).await
    }

    pub async fn add_service_accounts_to_projects(
        &self,
        ids: &[ServiceAccountId],
        grants: &[ProjectRoleGrant],
    ) -> Result<(), ApiError> {
        self.client
            .add_service_accounts_to_projects(self.org, ids, grants)
            .await
    }

    pub async fn list_projects(&self) -> Result<Vec<Project>, ApiError> {
        self.client.list_projects(self.org).await
    }

    pub async fn list_teams(&self) -> Result<Vec<Team>, ApiError> {
        self.client.list_teams(self.org).await
    }

    pub async fn add_service_accounts_to_team(
        &self,
        team: TeamId,
        ids: &[ServiceAccountId],
    ) -> Result<(), ApiError> {
        self.client
            .add_service_accounts_to_team(self.org, team, ids)
            .await
    }

    pub async fn list_org_users(&self) -> Result<Vec<Member>, ApiError> {
        self.client.list_org_users(self.org).await
    }

    /// Every event of the organization's audit log matching `query`, all pages.
    pub async fn audit_log(
        &self,
        query: &wire::AuditLogQuery,
    ) -> Result<Vec<AuditEvent>, ApiError> {
        self.client.audit_logs_all(self.org, query).await
    }

    /// The organization's audit log page by page (see [`Client::audit_logs_each`]).
    pub async fn audit_log_each(
        &self,
        query: &wire::AuditLogQuery,
        each: impl FnMut(&[AuditEvent]) -> Result<(), ApiError>,
    ) -> Result<usize, ApiError> {
        self.client
            .audit_logs_each(
                AuditScope::Organization(self.org),
                query,
                super::AUDIT_LOG_MAX_PAGES,
                each,
            )
            .await
    }

    /// Starts an asynchronous audit-log export; its id.
    pub async fn create_audit_log_export(
        &self,
        request: &wire::CreateAuditExport,
    ) -> Result<String, ApiError> {
        self.client.create_audit_log_export(self.org, request).await
    }

    pub async fn list_audit_log_exports(&self) -> Result<Vec<wire::AuditExport>, ApiError> {
        self.client.list_audit_log_exports(self.org).await
    }

    pub async fn download_audit_log_export(&self, export_id: &str) -> Result<Vec<u8>, ApiError> {
        self.client
            .download_audit_log_export(self.org, export_id)
            .await
    }
}
