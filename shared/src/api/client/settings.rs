//! The routes of issue 9: organization settings (discoverability, discoverable domains, the
//! two-factor requirement, SSO), custom roles and their grants, data views and classified-data
//! access.

use super::{check_updated, Client};
use crate::api::error::ApiError;
use crate::api::wire::NoBody;
use crate::api::wire::{self, Discoverability, PathArgs};
use crate::model::OrgId;

impl Client {
    /// `get-discoverability`: who may find the organization, and whether it uses SSO.
    pub async fn get_discoverability(
        &self,
        org: OrgId,
    ) -> Result<wire::DiscoverabilityInfo, ApiError> {
        self.send(&wire::GET_DISCOVERABILITY, PathArgs::org(org), &NoBody)
            .await
    }

    /// `set-discoverability`, with the bare string body Mixpanel takes.
    pub async fn set_discoverability(
        &self,
        org: OrgId,
        value: Discoverability,
    ) -> Result<(), ApiError> {
        let route = &wire::SET_DISCOVERABILITY;
        let updated: wire::Updated = self.send(route, PathArgs::org(org), &value).await?;
        check_updated(route, updated)
    }

    pub async fn get_discoverable_domains(&self, org: OrgId) -> Result<Vec<String>, ApiError> {
        self.send(&wire::GET_DISCOVERABLE_DOMAINS, PathArgs::org(org), &NoBody)
            .await
    }

    /// `set-discoverable-domains`, with the bare array body Mixpanel takes. A domain refused
    /// as public (anyone can have an address there) is an error naming it.
    pub async fn set_discoverable_domains(
        &self,
        org: OrgId,
        domains: &[String],
    ) -> Result<(), ApiError> {
        let route = &wire::SET_DISCOVERABLE_DOMAINS;
        let answer: wire::DomainsUpdated = self
            .send(route, PathArgs::org(org), &domains.to_vec())
            .await?;
        if !answer.public_domains.is_empty() {
            return Err(ApiError::Invalid {
                route: route.name,
                status: 200,
                message: format!(
                    "public e-mail domains cannot make an organization discoverable: {}",
                    answer.public_domains.join(", ")
                ),
            });
        }
        check_updated(
            route,
            wire::Updated {
                updated: answer.updated,
                fail_reason: None,
            },
        )
    }

    /// The two-factor requirement through the untyped route (the emulator's shape); readers
    /// of real Mixpanel use `twofactor_auth_required` of [`Client::me`]'s organization.
    pub async fn get_two_factor(&self, org: OrgId) -> Result<wire::TwoFactorSetting, ApiError> {
        self.send(&wire::GET_TWO_FACTOR, PathArgs::org(org), &NoBody)
            .await
    }

    /// Sets the two-factor requirement through the untyped route: the body is this project's
    /// guess, so callers verify the change by a read of `/api/app/me`.
    pub async fn set_two_factor(&self, org: OrgId, required: bool) -> Result<(), ApiError> {
        let body = wire::TwoFactorSetting {
            twofactor_auth_required: required,
        };
        self.send(&wire::SET_TWO_FACTOR, PathArgs::org(org), &body)
            .await
    }

    /// The SSO setting (read only; untyped upstream).
    pub async fn get_sso(&self, org: OrgId) -> Result<wire::SsoSetting, ApiError> {
        self.send(&wire::GET_SSO, PathArgs::org(org), &NoBody).await
    }
}

// ----- custom roles (issue 9) -----

impl Client {
    pub async fn list_custom_roles(
        &self,
        project: crate::model::ProjectId,
    ) -> Result<Vec<wire::CustomRole>, ApiError> {
        self.send(
            &wire::LIST_CUSTOM_ROLES,
            PathArgs::project(project),
            &NoBody,
        )
        .await
    }

    pub async fn create_custom_role(
        &self,
        project: crate::model::ProjectId,
        body: &wire::CustomRoleBody,
    ) -> Result<wire::CustomRole, ApiError> {
        self.create_custom_role_checked(project, body).await
    }

    /// The project's permission catalogue (`switch-config`).
    pub async fn custom_role_catalogue(
        &self,
        project: crate::model::ProjectId,
    ) -> Result<wire::SwitchConfig, ApiError> {
        self.send(
            &wire::CUSTOM_ROLE_SWITCH_CONFIG,
            PathArgs::project(project),
            &NoBody,
        )
        .await
    }

    /// Replaces the role's name, description and permissions.
    pub async fn update_custom_role(
        &self,
        project: crate::model::ProjectId,
        role: &str,
        body: &wire::CustomRoleBody,
    ) -> Result<wire::CustomRole, ApiError> {
        self.send(
            &wire::UPDATE_CUSTOM_ROLE,
            PathArgs::project(project).custom_role(role),
            body,
        )
        .await
    }

    pub async fn delete_custom_role(
        &self,
        project: crate::model::ProjectId,
        role: &str,
    ) -> Result<wire::DeletedCustomRole, ApiError> {
        self.send(
            &wire::DELETE_CUSTOM_ROLE,
            PathArgs::project(project).custom_role(role),
            &NoBody,
        )
        .await
    }
}

// ----- data views and classified data (issue 9) -----

impl Client {
    pub async fn list_data_views(
        &self,
        project: crate::model::ProjectId,
    ) -> Result<Vec<wire::DataView>, ApiError> {
        self.send(&wire::LIST_DATA_VIEWS, PathArgs::project(project), &NoBody)
            .await
    }

    pub async fn create_data_view(
        &self,
        project: crate::model::ProjectId,
        body: &wire::CreateDataView,
    ) -> Result<wire::DataView, ApiError> {
        self.create_data_view_checked(project, body).await
    }

    pub async fn get_data_view(
        &self,
        project: crate::model::ProjectId,
        view: u64,
    ) -> Result<wire::DataView, ApiError> {
        self.send(
            &wire::GET_DATA_VIEW,
            PathArgs::project(project).workspace(view),
            &NoBody,
        )
        .await
    }

    pub async fn update_data_view(
        &self,
        project: crate::model::ProjectId,
        body: &wire::UpdateDataView,
    ) -> Result<wire::DataView, ApiError> {
        self.send(
            &wire::UPDATE_DATA_VIEW,
            PathArgs::project(project).workspace(body.id),
            body,
        )
        .await
    }

    pub async fn delete_data_view(
        &self,
        project: crate::model::ProjectId,
        view: u64,
    ) -> Result<(), ApiError> {
        self.send(
            &wire::DELETE_DATA_VIEW,
            PathArgs::project(project).workspace(view),
            &NoBody,
        )
        .await
    }

    /// Adds users and teams to a data view.
    pub async fn upsert_data_view_members(
        &self,
        project: crate::model::ProjectId,
        body: &wire::DataViewMembers,
    ) -> Result<(), ApiError> {
        self.send(
            &wire::UPSERT_DATA_VIEW_MEMBERS,
            PathArgs::project(project).workspace(body.id),
            body,
        )
        .await
    }

    pub async fn delete_data_view_members(
        &self,
        project: crate::model::ProjectId,
        body: &wire::DataViewMembers,
    ) -> Result<(), ApiError> {
        self.send(
            &wire::DELETE_DATA_VIEW_MEMBERS,
            PathArgs::project(project).workspace(body.id),
            body,
        )
        .await
    }

    /// Grants (`true`) or revokes (`false`) users' classified-data access.
    pub async fn set_classified_access(
        &self,
        project: crate::model::ProjectId,
        users: &std::collections::BTreeMap<String, bool>,
    ) -> Result<(), ApiError> {
        self.send(
            &wire::SET_CLASSIFIED_ACCESS,
            PathArgs::project(project),
            users,
        )
        .await
    }

    /// Grants (`true`) or revokes (`false`) teams' classified-data access.
    pub async fn set_team_classified_access(
        &self,
        project: crate::model::ProjectId,
        teams: &std::collections::BTreeMap<String, bool>,
    ) -> Result<(), ApiError> {
        self.send(
            &wire::SET_TEAM_CLASSIFIED_ACCESS,
            PathArgs::project(project),
            teams,
        )
        .await
    }

    /// Who has classified-data access (an emulator-only read).
    pub async fn get_classified_access(
        &self,
        project: crate::model::ProjectId,
    ) -> Result<wire::ClassifiedAccess, ApiError> {
        self.send(
            &wire::GET_CLASSIFIED_ACCESS,
            PathArgs::project(project),
            &NoBody,
        )
        .await
    }
}

// ----- custom-role grants (issue 9) -----

/// The name errors give the assignment of a custom role, which only the emulator defines.
pub const CUSTOM_ROLE_GRANT: &str = "custom_role_grant";

impl Client {
    /// Refuses a custom-role grant against Mixpanel's own hosts before anything is sent: the
    /// field is the emulator's, and Mixpanel would grant the base role (consumer) instead.
    fn custom_grants_supported(&self) -> Result<(), ApiError> {
        if self.is_real_mixpanel() {
            return Err(ApiError::EmulatorOnly {
                route: CUSTOM_ROLE_GRANT,
            });
        }
        Ok(())
    }

    /// Grants users a built-in or a custom role on projects. A custom role goes as consumer
    /// with `custom_role_id` (the emulator's definition: how Mixpanel assigns a custom role is
    /// not known), in one request of its own; a built-in role as [`Client::add_users_to_projects`].
    pub async fn grant_users_role(
        &self,
        org: OrgId,
        users: &[crate::model::Email],
        projects: &[crate::model::ProjectId],
        role: &crate::permissions::AssignableRole,
    ) -> Result<(), ApiError> {
        let Some(id) = role.custom_id() else {
            return self
                .add_users_to_projects(org, users, projects, role.base())
                .await;
        };
        self.custom_grants_supported()?;
        let body = wire::AddUsersToProjects {
            users: users.to_vec(),
            projects: projects.to_vec(),
            role: role.base(),
            custom_role_id: Some(id.to_string()),
        };
        self.send(&wire::ADD_USERS_TO_PROJECTS, PathArgs::org(org), &body)
            .await
    }
}

impl Client {
    /// Gives a team a built-in or a custom role on a project. A custom role goes as consumer
    /// with the role's id in `custom_roles` (the emulator's definition), in a request of its
    /// own; a built-in role as [`Client::add_projects_to_team`], which also clears a custom one.
    pub async fn grant_team_role(
        &self,
        org: OrgId,
        team: crate::model::TeamId,
        project: crate::model::ProjectId,
        role: &crate::permissions::AssignableRole,
    ) -> Result<(), ApiError> {
        let grant = crate::model::ProjectRoleGrant {
            id: project,
            role: role.base(),
        };
        let Some(id) = role.custom_id() else {
            return self.add_projects_to_team(org, team, &[grant]).await;
        };
        self.custom_grants_supported()?;
        let body = wire::AddProjectsToTeams {
            teams: vec![wire::TeamProjects {
                id: team,
                projects: vec![grant],
                custom_roles: vec![crate::model::CustomRoleGrant {
                    id: project,
                    custom_role_id: id.to_string(),
                }],
            }],
            add_default_projects: false,
        };
        self.send(&wire::ADD_PROJECTS_TO_TEAMS, PathArgs::org(org), &body)
            .await
    }
}

impl Client {
    /// Gives service accounts a built-in or a custom role on a project. A custom role goes as
    /// consumer with the role's id in `custom_roles` (the emulator's definition), in a request
    /// of its own; a built-in role as [`Client::add_service_accounts_to_projects`].
    pub async fn grant_accounts_role(
        &self,
        org: OrgId,
        accounts: &[crate::model::ServiceAccountId],
        project: crate::model::ProjectId,
        role: &crate::permissions::AssignableRole,
    ) -> Result<(), ApiError> {
        let grant = crate::model::ProjectRoleGrant {
            id: project,
            role: role.base(),
        };
        let Some(id) = role.custom_id() else {
            return self
                .add_service_accounts_to_projects(org, accounts, &[grant])
                .await;
        };
        self.custom_grants_supported()?;
        let body = wire::AddServiceAccountsToProjects {
            service_account_ids: accounts.to_vec(),
            projects: vec![grant],
            custom_roles: vec![crate::model::CustomRoleGrant {
                id: project,
                custom_role_id: id.to_string(),
            }],
        };
        self.send(
            &wire::ADD_SERVICE_ACCOUNTS_TO_PROJECTS,
            PathArgs::org(org),
            &body,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use secrecy::SecretString;

    use super::*;
    use crate::api::ClientConfig;
    use crate::model::{ProjectId, ServiceAccountId, TeamId};
    use crate::permissions::AssignableRole;

    /// Against Mixpanel's hosts a custom-role grant is refused before anything is sent (no
    /// request: the host is never contacted), so Mixpanel never grants consumer instead.
    #[tokio::test]
    async fn custom_role_grants_are_refused_on_mixpanel_hosts() {
        let cfg = ClientConfig::new(
            "https://mixpanel.com",
            "a.abc123.mp-service-account",
            SecretString::from("s"),
        )
        .unwrap();
        let client = Client::new(cfg).unwrap();
        let role = AssignableRole::Custom("0f8c6a4e-1b2c-4d5e-8f90-123456789abc".into());
        let users = ["ana@example.com".parse().unwrap()];
        let err = client
            .grant_users_role(OrgId(1), &users, &[ProjectId(2)], &role)
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                ApiError::EmulatorOnly {
                    route: CUSTOM_ROLE_GRANT
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("web app"));
        let err = client
            .grant_team_role(OrgId(1), TeamId(3), ProjectId(2), &role)
            .await
            .unwrap_err();
        assert!(matches!(err, ApiError::EmulatorOnly { .. }), "{err}");
        let err = client
            .grant_accounts_role(OrgId(1), &[ServiceAccountId(4)], ProjectId(2), &role)
            .await
            .unwrap_err();
        assert!(matches!(err, ApiError::EmulatorOnly { .. }), "{err}");
        assert_eq!(client.write_count(), 0, "nothing was sent");
    }
}
