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
        wire::ME => on(f, me::me),
        wire::LIST_SERVICE_ACCOUNTS => on(f, sa::list),
        wire::CREATE_SERVICE_ACCOUNT => on(f, sa::create),
        wire::GET_SERVICE_ACCOUNT => on(f, sa::get),
        wire::DELETE_SERVICE_ACCOUNT => on(f, sa::delete),
        wire::LIST_PROJECT_SERVICE_ACCOUNTS => on(f, sa::list_for_project),
        wire::ADD_SERVICE_ACCOUNTS_TO_PROJECTS => on(f, sa::add_to_projects),
        wire::REMOVE_SERVICE_ACCOUNTS_FROM_PROJECTS => on(f, sa::remove_from_projects),
        wire::LIST_TEAM_SERVICE_ACCOUNTS => on(f, sa::list_for_team),
        wire::ADD_SERVICE_ACCOUNTS_TO_TEAM => on(f, sa::add_to_team),
        wire::REMOVE_SERVICE_ACCOUNTS_FROM_TEAM => on(f, sa::remove_from_team),
        wire::CREATE_PROJECT => on(f, projects::create),
        wire::LIST_TIMEZONES => on(f, projects::timezones),
        wire::PROJECT_METADATA => on(f, projects::metadata),
        wire::UPDATE_PROJECT => on(f, projects::update),
        wire::DELETE_PROJECTS => on(f, projects::delete),
        wire::LIST_PROJECTS => on(f, projects::list),
        wire::LIST_TEAMS => on(f, teams::list),
        wire::ADD_TEAMS => on(f, teams::add),
        wire::RENAME_TEAM => on(f, teams::rename),
        wire::DELETE_TEAMS => on(f, teams::delete),
        wire::ADD_PROJECTS_TO_TEAMS => on(f, teams::add_projects),
        wire::REMOVE_PROJECTS_FROM_TEAM => on(f, teams::remove_projects),
        wire::ADD_USERS_TO_TEAMS => on(f, teams::add_users),
        wire::REMOVE_USERS_FROM_TEAM => on(f, teams::remove_users),
        wire::LIST_ORG_USERS => on(f, users::list),
        wire::INVITE_ORG_USERS => on(f, users::invite),
        wire::UPDATE_ORG_USER => on(f, users::update),
        wire::REMOVE_ORG_USERS => on(f, users::remove),
        wire::ADD_USERS_TO_PROJECTS => on(f, users::add_to_projects),
        wire::REMOVE_USERS_FROM_PROJECTS => on(f, users::remove_from_projects),
        wire::GRANTED_USERS => on(f, projects::granted_users),
        wire::GRANTED_TEAMS => on(f, projects::granted_teams),
        wire::GET_DEFAULT_ACCESS => on(f, projects::get_default_access),
        wire::SET_DEFAULT_ACCESS => on(f, projects::set_default_access),
        wire::RESET_PROJECT_SECRET => on(f, projects::reset_secret),
        wire::RESET_PROJECT_TOKEN => on(f, projects::reset_token),
        wire::VALIDATE_PROJECT_CREDENTIALS => on(f, projects::validate_credentials),
        wire::AUDIT_LOGS => on(f, audit_log::query),
        wire::PROJECT_AUDIT_LOGS => on(f, audit_log::query_project),
        wire::CREATE_AUDIT_LOG_EXPORT => on(f, audit_log::create_export),
        wire::LIST_AUDIT_LOG_EXPORTS => on(f, audit_log::list_exports),
        wire::DOWNLOAD_AUDIT_LOG_EXPORT => on(f, audit_log::download_export),
        // Issue 9: organization settings.
        wire::GET_DISCOVERABILITY => on(f, org_settings::get_discoverability),
        wire::SET_DISCOVERABILITY => on(f, org_settings::set_discoverability),
        wire::GET_DISCOVERABLE_DOMAINS => on(f, org_settings::get_discoverable_domains),
        wire::SET_DISCOVERABLE_DOMAINS => on(f, org_settings::set_discoverable_domains),
        wire::GET_TWO_FACTOR => on(f, org_settings::get_two_factor),
        wire::SET_TWO_FACTOR => on(f, org_settings::set_two_factor),
        wire::GET_SSO => on(f, org_settings::get_sso),
        // Issue 9: custom roles.
        wire::LIST_CUSTOM_ROLES => on(f, custom_roles::list),
        wire::CREATE_CUSTOM_ROLE => on(f, custom_roles::create),
        wire::CUSTOM_ROLE_SWITCH_CONFIG => on(f, custom_roles::switch_config),
        wire::GET_CUSTOM_ROLE => on(f, custom_roles::get),
        wire::UPDATE_CUSTOM_ROLE => on(f, custom_roles::update),
        wire::DELETE_CUSTOM_ROLE => on(f, custom_roles::delete),
        // Issue 9: data views and classified data.
        wire::LIST_DATA_VIEWS => on(f, data_views::list),
        wire::CREATE_DATA_VIEW => on(f, data_views::create),
        wire::GET_DATA_VIEW => on(f, data_views::get),
        wire::UPDATE_DATA_VIEW => on(f, data_views::update),
        wire::DELETE_DATA_VIEW => on(f, data_views::delete),
        wire::UPSERT_DATA_VIEW_MEMBERS => on(f, data_views::upsert_members),
        wire::DELETE_DATA_VIEW_MEMBERS => on(f, data_views::delete_members),
        wire::SET_CLASSIFIED_ACCESS => on(f, data_views::set_user_access),
        wire::SET_TEAM_CLASSIFIED_ACCESS => on(f, data_views::set_team_access),
        wire::GET_CLASSIFIED_ACCESS => on(f, data_views::get_access),
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
