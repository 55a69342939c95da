//! The API handlers, one module per area, and the table from route names to handlers.

pub mod audit_log;
pub mod custom_roles;
pub mod data_views;
pub mod me;
pub mod org_settings;
pub mod projects;
pub mod service_accounts;
pub mod teams;
pub mod users;

use axum::routing::{on, MethodFilter, MethodRouter};
use mixpanel_access::api::wire::{self, Method, Route};
use mixpanel_access::model::{Project, ProjectRole};
use mixpanel_access::permissions::{require_project, Capability};

use crate::db::ProjectRow;
use crate::AppState;

/// The handler of a route of `wire::ROUTES`; `None` for a route this build does not serve (a
/// test checks there is none).
pub fn method_router(route: &Route) -> Option<MethodRouter<AppState>> {
    let filter = |m: Method| match m {
        Method::Get => MethodFilter::GET,
        Method::Post => MethodFilter::POST,
        Method::Delete => MethodFilter::DELETE,
        Method::Put => MethodFilter::PUT,
        Method::Patch => MethodFilter::PATCH,
    };
    let f = match route.fallback {
        Some(m) => filter(route.method).or(filter(m)),
        None => filter(route.method),
    };
    use service_accounts as sa;
    let mr = match *route {
        x if x == wire::ME.route => on(f, me::me),
        x if x == wire::LIST_SERVICE_ACCOUNTS.route => on(f, sa::list),
        x if x == wire::CREATE_SERVICE_ACCOUNT.route => on(f, sa::create),
        x if x == wire::GET_SERVICE_ACCOUNT.route => on(f, sa::get),
        x if x == wire::DELETE_SERVICE_ACCOUNT.route => on(f, sa::delete),
        x if x == wire::LIST_PROJECT_SERVICE_ACCOUNTS.route => on(f, sa::list_for_project),
        x if x == wire::ADD_SERVICE_ACCOUNTS_TO_PROJECTS.route => on(f, sa::add_to_projects),
        x if x == wire::REMOVE_SERVICE_ACCOUNTS_FROM_PROJECTS.route => {
            on(f, sa::remove_from_projects)
        }
        x if x == wire::LIST_TEAM_SERVICE_ACCOUNTS.route => on(f, sa::list_for_team),
        x if x == wire::ADD_SERVICE_ACCOUNTS_TO_TEAM.route => on(f, sa::add_to_team),
        x if x == wire::REMOVE_SERVICE_ACCOUNTS_FROM_TEAM.route => on(f, sa::remove_from_team),
        x if x == wire::CREATE_PROJECT.route => on(f, projects::create),
        x if x == wire::LIST_TIMEZONES.route => on(f, projects::timezones),
        x if x == wire::PROJECT_METADATA.route => on(f, projects::metadata),
        x if x == wire::UPDATE_PROJECT.route => on(f, projects::update),
        x if x == wire::DELETE_PROJECTS.route => on(f, projects::delete),
        x if x == wire::LIST_PROJECTS.route => on(f, projects::list),
        x if x == wire::LIST_TEAMS.route => on(f, teams::list),
        x if x == wire::ADD_TEAMS.route => on(f, teams::add),
        x if x == wire::RENAME_TEAM.route => on(f, teams::rename),
        x if x == wire::DELETE_TEAMS.route => on(f, teams::delete),
        x if x == wire::ADD_PROJECTS_TO_TEAMS.route => on(f, teams::add_projects),
        x if x == wire::REMOVE_PROJECTS_FROM_TEAM.route => on(f, teams::remove_projects),
        x if x == wire::ADD_USERS_TO_TEAMS.route => on(f, teams::add_users),
        x if x == wire::REMOVE_USERS_FROM_TEAM.route => on(f, teams::remove_users),
        x if x == wire::LIST_ORG_USERS.route => on(f, users::list),
        x if x == wire::INVITE_ORG_USERS.route => on(f, users::invite),
        x if x == wire::UPDATE_ORG_USER.route => on(f, users::update),
        x if x == wire::REMOVE_ORG_USERS.route => on(f, users::remove),
        x if x == wire::ADD_USERS_TO_PROJECTS.route => on(f, users::add_to_projects),
        x if x == wire::REMOVE_USERS_FROM_PROJECTS.route => on(f, users::remove_from_projects),
        x if x == wire::GRANTED_USERS.route => on(f, projects::granted_users),
        x if x == wire::GRANTED_TEAMS.route => on(f, projects::granted_teams),
        x if x == wire::GET_DEFAULT_ACCESS.route => on(f, projects::get_default_access),
        x if x == wire::SET_DEFAULT_ACCESS.route => on(f, projects::set_default_access),
        x if x == wire::RESET_PROJECT_SECRET.route => on(f, projects::reset_secret),
        x if x == wire::RESET_PROJECT_TOKEN.route => on(f, projects::reset_token),
        x if x == wire::VALIDATE_PROJECT_CREDENTIALS.route => on(f, projects::validate_credentials),
        x if x == wire::AUDIT_LOGS.route => on(f, audit_log::query),
        x if x == wire::PROJECT_AUDIT_LOGS.route => on(f, audit_log::query_project),
        x if x == wire::CREATE_AUDIT_LOG_EXPORT.route => on(f, audit_log::create_export),
        x if x == wire::LIST_AUDIT_LOG_EXPORTS.route => on(f, audit_log::list_exports),
        x if x == wire::DOWNLOAD_AUDIT_LOG_EXPORT.route => on(f, audit_log::download_export),
        // Issue 9: organization settings.
        x if x == wire::GET_DISCOVERABILITY.route => on(f, org_settings::get_discoverability),
        x if x == wire::SET_DISCOVERABILITY.route => on(f, org_settings::set_discoverability),
        x if x == wire::GET_DISCOVERABLE_DOMAINS.route => {
            on(f, org_settings::get_discoverable_domains)
        }
        x if x == wire::SET_DISCOVERABLE_DOMAINS.route => {
            on(f, org_settings::set_discoverable_domains)
        }
        x if x == wire::GET_TWO_FACTOR.route => on(f, org_settings::get_two_factor),
        x if x == wire::SET_TWO_FACTOR.route => on(f, org_settings::set_two_factor),
        x if x == wire::GET_SSO.route => on(f, org_settings::get_sso),
        // Issue 9: custom roles.
        x if x == wire::LIST_CUSTOM_ROLES.route => on(f, custom_roles::list),
        x if x == wire::CREATE_CUSTOM_ROLE.route => on(f, custom_roles::create),
        x if x == wire::CUSTOM_ROLE_SWITCH_CONFIG.route => on(f, custom_roles::switch_config),
        x if x == wire::GET_CUSTOM_ROLE.route => on(f, custom_roles::get),
        x if x == wire::UPDATE_CUSTOM_ROLE.route => on(f, custom_roles::update),
        x if x == wire::DELETE_CUSTOM_ROLE.route => on(f, custom_roles::delete),
        // Issue 9: data views and classified data.
        x if x == wire::LIST_DATA_VIEWS.route => on(f, data_views::list),
        x if x == wire::CREATE_DATA_VIEW.route => on(f, data_views::create),
        x if x == wire::GET_DATA_VIEW.route => on(f, data_views::get),
        x if x == wire::UPDATE_DATA_VIEW.route => on(f, data_views::update),
        x if x == wire::DELETE_DATA_VIEW.route => on(f, data_views::delete),
        x if x == wire::UPSERT_DATA_VIEW_MEMBERS.route => on(f, data_views::upsert_members),
        x if x == wire::DELETE_DATA_VIEW_MEMBERS.route => on(f, data_views::delete_members),
        x if x == wire::SET_CLASSIFIED_ACCESS.route => on(f, data_views::set_user_access),
        x if x == wire::SET_TEAM_CLASSIFIED_ACCESS.route => on(f, data_views::set_team_access),
        x if x == wire::GET_CLASSIFIED_ACCESS.route => on(f, data_views::get_access),
        _ => return None,
    };
    Some(mr)
}

/// Whether a role may see a project's token and API secret.
pub fn may_see_credentials(role: Option<ProjectRole>) -> bool {
    require_project(role, Capability::AccessApiCredentials).is_ok()
}

/// The wire form of a project for an actor holding `role` on it.
pub fn project_model(p: &ProjectRow, role: Option<ProjectRole>) -> Project {
    let creds = may_see_credentials(role);
    Project {
        id: p.id,
        name: p.name.clone(),
        timezone: p.timezone.clone(),
        data_residency: p.residency,
        token: creds.then(|| p.token.clone()),
        api_secret: creds.then(|| p.api_secret.clone()),
        domain: p.residency.host().to_string(),
        organization_id: Some(p.org_id),
        default_role: p.default_role,
    }
}

#[cfg(test)]
mod tests {
    use mixpanel_access::api::wire::ROUTES;

    #[test]
    fn every_route_has_a_handler() {
        for r in ROUTES {
            assert!(
                super::method_router(r).is_some(),
                "no handler for {}",
                r.name
            );
        }
    }
}
