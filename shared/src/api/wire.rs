//! Request and response bodies of Mixpanel's management API, shared by the client and the
//! emulator so both speak the same shapes. Ids are JSON numbers everywhere.
//!
//! Every route the project uses is listed in [`ROUTES`] with where its shape comes from.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::model::{
    AuditEvent, Email, Expiry, OrgId, OrgRole, ProjectId, ProjectRole, ProjectRoleGrant,
    ServiceAccountId, TeamId, UserId,
};

/// Where a route's shape is known from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RouteStatus {
    /// In Mixpanel's public documentation.
    DocumentedUpstream,
    /// Seen in Mixpanel's own web app or in community code with live tests.
    ObservedUpstream,
    /// Defined by this project; only the emulator serves it.
    EmulatorOnly,
}

/// One route of the management API.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Route {
    pub name: &'static str,
    pub method: &'static str,
    /// Path with `{org}`, `{project}`, `{team}`, `{sa}`, `{email}` placeholders.
    pub path: &'static str,
    pub status: RouteStatus,
}

const fn route(
    name: &'static str,
    method: &'static str,
    path: &'static str,
    status: RouteStatus,
) -> Route {
    Route {
        name,
        method,
        path,
        status,
    }
}

use RouteStatus::{DocumentedUpstream as Doc, EmulatorOnly as Emu, ObservedUpstream as Obs};

/// Every route of the client, in the order of the reference notes.
pub const ROUTES: &[Route] = &[
    route("me", "GET", "/api/app/me", Doc),
    route(
        "list_service_accounts",
        "GET",
        "/api/app/organizations/{org}/service-accounts",
        Doc,
    ),
    route(
        "create_service_account",
        "POST",
        "/api/app/organizations/{org}/service-accounts",
        Doc,
    ),
    route(
        "get_service_account",
        "GET",
        "/api/app/organizations/{org}/service-accounts/{sa}",
        Doc,
    ),
    route(
        "delete_service_account",
        "DELETE",
        "/api/app/organizations/{org}/service-accounts/{sa}",
        Doc,
    ),
    route(
        "list_project_service_accounts",
        "GET",
        "/api/app/projects/{project}/service-accounts",
        Doc,
    ),
    route(
        "add_service_accounts_to_projects",
        "POST",
        "/api/app/organizations/{org}/service-accounts/add-to-project",
        Doc,
    ),
    route(
        "remove_service_accounts_from_projects",
        "POST",
        "/api/app/organizations/{org}/service-accounts/remove-from-project",
        Doc,
    ),
    route(
        "list_team_service_accounts",
        "GET",
        "/api/app/organizations/{org}/teams/{team}/service-accounts",
        Obs,
    ),
    route(
        "add_service_accounts_to_team",
        "POST",
        "/api/app/organizations/{org}/teams/{team}/service-accounts/add-to-team",
        Obs,
    ),
    route(
        "remove_service_accounts_from_team",
        "POST",
        "/api/app/organizations/{org}/teams/{team}/service-accounts/remove-from-team",
        Obs,
    ),
    route(
        "create_project",
        "POST",
        "/api/app/organizations/{org}/create-project",
        Obs,
    ),
    route("list_timezones", "GET", "/api/app/timezones", Obs),
    route(
        "project_metadata",
        "GET",
        "/settings/project/{project}/metadata",
        Obs,
    ),
    route("update_project", "POST", "/projects/update/{project}", Obs),
    route(
        "delete_projects",
        "POST",
        "/organizations/{org}/delete-projects/",
        Obs,
    ),
    route(
        "list_projects",
        "GET",
        "/organizations/{org}/projects/",
        Obs,
    ),
    route("list_teams", "GET", "/organizations/{org}/teams/", Obs),
    route("add_teams", "POST", "/organizations/{org}/add-teams/", Obs),
    route(
        "rename_team",
        "POST",
        "/organizations/{org}/teams/{team}/update/",
        Obs,
    ),
    route(
        "delete_teams",
        "POST",
        "/organizations/{org}/delete-teams/",
        Obs,
    ),
    route(
        "add_projects_to_teams",
        "POST",
        "/organizations/{org}/add-projects-to-teams/",
        Obs,
    ),
    route(
        "remove_projects_from_team",
        "POST",
        "/organizations/{org}/teams/{team}/delete-projects/",
        Obs,
    ),
    route(
        "add_users_to_teams",
        "POST",
        "/organizations/{org}/add-users-to-teams/",
        Obs,
    ),
    route(
        "remove_users_from_team",
        "POST",
        "/organizations/{org}/teams/{team}/remove-users/",
        Emu,
    ),
    route("list_org_users", "GET", "/organizations/{org}/users/", Obs),
    route(
        "invite_org_users",
        "POST",
        "/organizations/{org}/add-users/",
        Obs,
    ),
    route(
        "update_org_user",
        "POST",
        "/organizations/{org}/users/{email}/update/",
        Obs,
    ),
    route(
        "remove_org_users",
        "POST",
        "/organizations/{org}/delete-users/",
        Obs,
    ),
    route(
        "add_users_to_projects",
        "POST",
        "/organizations/{org}/add-users-to-projects/",
        Obs,
    ),
    route(
        "remove_users_from_projects",
        "POST",
        "/organizations/{org}/remove-users-from-projects/",
        Emu,
    ),
    route(
        "granted_users",
        "GET",
        "/api/app/projects/{project}/granted-users",
        Obs,
    ),
    route(
        "granted_teams",
        "GET",
        "/api/app/projects/{project}/granted-teams",
        Obs,
    ),
    route(
        "get_default_access",
        "GET",
        "/api/app/projects/{project}/default-access",
        Emu,
    ),
    route(
        "set_default_access",
        "POST",
        "/api/app/projects/{project}/default-access",
        Emu,
    ),
    route(
        "reset_project_secret",
        "POST",
        "/api/app/projects/{project}/reset-secret",
        Emu,
    ),
    route(
        "reset_project_token",
        "POST",
        "/api/app/projects/{project}/reset-token",
        Emu,
    ),
    route(
        "validate_project_credentials",
        "POST",
        "/api/app/validate-project-credentials",
        Obs,
    ),
    route(
        "audit_logs",
        "POST",
        "/api/app/organizations/{org}/audit-logs",
        Obs,
    ),
];

/// Routes that create something new with an id chosen by Mixpanel: sending one twice can make
/// a twin. The client retries them only when the request surely was not carried out (no
/// connection, 429, 503); each names how to check whether it was.
const CREATING_ROUTES: &[(&str, &str)] = &[
    (
        "create_service_account",
        "list the organization's service accounts",
    ),
    ("create_project", "list the organization's projects"),
    ("add_teams", "list the organization's teams"),
];

/// For a route that creates something new (not safe to send twice), how to check whether an
/// attempt with an unknown outcome was carried out; `None` for routes safe to replay.
pub fn creates_new(route: &str) -> Option<&'static str> {
    CREATING_ROUTES
        .iter()
        .find(|(name, _)| *name == route)
        .map(|(_, check)| *check)
}

/// Looks a route up by name.
pub fn route_named(name: &str) -> Option<&'static Route> {
    ROUTES.iter().find(|r| r.name == name)
}

/// `{"status":"ok","results":...}`
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Envelope<T> {
    pub status: String,
    pub results: T,
}

/// `{"status":"error","error":"...","type":...,"details":...}`
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    pub status: String,
    pub error: String,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}

// ----- /api/app/me -----

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Me {
    pub user_id: UserId,
    pub user_email: String,
    #[serde(default)]
    pub user_name: String,
    /// Keyed by organization id (as a string, as JSON objects require).
    #[serde(default)]
    pub organizations: BTreeMap<String, MeOrganization>,
    #[serde(default)]
    pub projects: BTreeMap<String, MeProject>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MeOrganization {
    pub id: OrgId,
    pub name: String,
    /// The organization role, or `"no role"`.
    pub role: String,
    #[serde(default)]
    pub permissions: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MeProject {
    pub name: String,
    pub organization_id: OrgId,
    pub domain: String,
    pub timezone: String,
    #[serde(default)]
    pub role: Option<MeRole>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MeRole {
    pub id: String,
    pub name: String,
}

// ----- service accounts -----

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateServiceAccount {
    pub username: String,
    pub role: ProjectRole,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<Expiry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub projects: Vec<ProjectRoleGrant>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AddServiceAccountsToProjects {
    pub service_account_ids: Vec<ServiceAccountId>,
    pub projects: Vec<ProjectRoleGrant>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RemoveServiceAccountsFromProjects {
    pub projects: Vec<ProjectServiceAccountIds>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProjectServiceAccountIds {
    pub id: ProjectId,
    pub service_account_ids: Vec<ServiceAccountId>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceAccountIds {
    pub service_account_ids: Vec<ServiceAccountId>,
}

// ----- projects -----

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateProject {
    pub project_name: String,
    pub cluster_id: u32,
    pub timezone_id: u32,
    #[serde(default)]
    pub is_b2b: bool,
}

/// `create-project` answers with the new project's id (and more fields we ignore).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreatedProject {
    pub id: ProjectId,
}

/// One row of `/api/app/timezones`: `[id, "America/New_York", utc_offset_minutes]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimezoneRow(pub u32, pub String, pub i32);

/// `GET /settings/project/{id}/metadata`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProjectMetadata {
    pub id: ProjectId,
    pub name: String,
    pub domain: String,
    pub timezone_name: String,
    #[serde(default)]
    pub token: Option<String>,
    #[serde(
        default,
        serialize_with = "crate::model::serialize_opt_secret",
        skip_serializing_if = "Option::is_none"
    )]
    pub secret: Option<SecretString>,
}

/// The form fields of `POST /projects/update/{id}` (form-encoded upstream).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct UpdateProjectForm {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone_name: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProjectIds {
    #[serde(rename = "projectIds")]
    pub project_ids: Vec<ProjectId>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DefaultAccess {
    /// `None` turns "All Users in the Organization" access off.
    pub role: Option<ProjectRole>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResetSecret {
    #[serde(serialize_with = "crate::model::serialize_secret")]
    pub secret: SecretString,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResetToken {
    pub token: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ValidateProjectCredentials {
    pub project_token: String,
    #[serde(serialize_with = "crate::model::serialize_secret")]
    pub api_secret: SecretString,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ValidationResult {
    pub status: String,
}

// ----- teams -----

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TeamNames {
    #[serde(rename = "teamNames")]
    pub team_names: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AddedTeam {
    pub name: String,
    pub created: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RenameTeam {
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Updated {
    pub updated: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_reason: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TeamIds {
    #[serde(rename = "teamIds")]
    pub team_ids: Vec<TeamId>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AddProjectsToTeams {
    pub teams: Vec<TeamProjects>,
    #[serde(default)]
    pub add_default_projects: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TeamProjects {
    pub id: TeamId,
    pub projects: Vec<ProjectRoleGrant>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AddUsersToTeams {
    pub teams: Vec<TeamUsers>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TeamUsers {
    pub id: TeamId,
    pub users: Vec<Email>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Emails {
    pub emails: Vec<Email>,
}

// ----- organization users and project grants -----

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InviteUsers {
    pub emails: Vec<Email>,
    pub role: OrgRole,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UpdateOrgUser {
    pub role: OrgRole,
}

/// `add-users-to-projects/`: one role for every user on every project.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AddUsersToProjects {
    pub users: Vec<Email>,
    pub projects: Vec<ProjectId>,
    pub role: ProjectRole,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RemoveUsersFromProjects {
    pub users: Vec<Email>,
    pub projects: Vec<ProjectId>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Success {
    pub success: bool,
}

// ----- audit log -----

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AuditLogQuery {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub types: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_gte: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub project_ids: Vec<ProjectId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// An audit-log page: `{"status":"ok","results":[...],"pagination":{...}}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditLogPage {
    pub status: String,
    pub results: Vec<AuditEvent>,
    pub pagination: Pagination,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Pagination {
    pub next_cursor: Option<String>,
    pub previous_cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_names_are_unique_and_emulator_only_routes_are_marked() {
        for r in ROUTES {
            assert_eq!(ROUTES.iter().filter(|x| x.name == r.name).count(), 1);
        }
        let emu: Vec<&str> = ROUTES
            .iter()
            .filter(|r| r.status == RouteStatus::EmulatorOnly)
            .map(|r| r.name)
            .collect();
        assert!(emu.contains(&"reset_project_secret"));
        assert!(emu.contains(&"set_default_access"));
        assert!(emu.contains(&"remove_users_from_projects"));
        assert!(emu.contains(&"remove_users_from_team"));
    }

    #[test]
    fn ids_are_json_numbers() {
        let body = AddServiceAccountsToProjects {
            service_account_ids: vec![ServiceAccountId(194890)],
            projects: vec![ProjectRoleGrant {
                id: ProjectId(4040293),
                role: ProjectRole::Analyst,
            }],
        };
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"service_account_ids":[194890],"projects":[{"id":4040293,"role":"analyst"}]}"#
        );
    }
}
