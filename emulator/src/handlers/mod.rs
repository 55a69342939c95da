//! The API handlers, one module per area, and the table from route names to handlers.

pub mod audit_log;
pub mod me;
pub mod projects;
pub mod service_accounts;
pub mod teams;
pub mod users;

use axum::routing::{on, MethodFilter, MethodRouter};
use mixpanel_access::api::wire::Route;
use mixpanel_access::model::{Project, ProjectRole};
use mixpanel_access::permissions::{require_project, Capability};

use crate::db::ProjectRow;
use crate::AppState;

/// The handler of a route of `wire::ROUTES`, by name; `None` for a name this build does not
/// serve (a test checks there is none).
pub fn method_router(route: &Route) -> Option<MethodRouter<AppState>> {
    let f = match route.method {
        "GET" => MethodFilter::GET,
        "POST" => MethodFilter::POST,
        "DELETE" => MethodFilter::DELETE,
        "PUT" => MethodFilter::PUT,
        "PATCH" => MethodFilter::PATCH,
        _ => return None,
    };
    use service_accounts as sa;
    let mr = match route.name {
        "me" => on(f, me::me),
        "list_service_accounts" => on(f, sa::list),
        "create_service_account" => on(f, sa::create),
        "get_service_account" => on(f, sa::get),
        "delete_service_account" => on(f, sa::delete),
        "list_project_service_accounts" => on(f, sa::list_for_project),
        "add_service_accounts_to_projects" => on(f, sa::add_to_projects),
        // Documented as POST; Mixpanel's own web app sends DELETE with the same body.
        "remove_service_accounts_from_projects" => {
            on(f.or(MethodFilter::DELETE), sa::remove_from_projects)
        }
        "list_team_service_accounts" => on(f, sa::list_for_team),
        "add_service_accounts_to_team" => on(f, sa::add_to_team),
        "remove_service_accounts_from_team" => on(f, sa::remove_from_team),
        "create_project" => on(f, projects::create),
        "list_timezones" => on(f, projects::timezones),
        "project_metadata" => on(f, projects::metadata),
        "update_project" => on(f, projects::update),
        "delete_projects" => on(f, projects::delete),
        "list_projects" => on(f, projects::list),
        "list_teams" => on(f, teams::list),
        "add_teams" => on(f, teams::add),
        "rename_team" => on(f, teams::rename),
        "delete_teams" => on(f, teams::delete),
        "add_projects_to_teams" => on(f, teams::add_projects),
        "remove_projects_from_team" => on(f, teams::remove_projects),
        "add_users_to_teams" => on(f, teams::add_users),
        "remove_users_from_team" => on(f, teams::remove_users),
        "list_org_users" => on(f, users::list),
        "invite_org_users" => on(f, users::invite),
        "update_org_user" => on(f, users::update),
        "remove_org_users" => on(f, users::remove),
        "add_users_to_projects" => on(f, users::add_to_projects),
        "remove_users_from_projects" => on(f, users::remove_from_projects),
        "granted_users" => on(f, projects::granted_users),
        "granted_teams" => on(f, projects::granted_teams),
        "get_default_access" => on(f, projects::get_default_access),
        "set_default_access" => on(f, projects::set_default_access),
        "reset_project_secret" => on(f, projects::reset_secret),
        "reset_project_token" => on(f, projects::reset_token),
        "validate_project_credentials" => on(f, projects::validate_credentials),
        "audit_logs" => on(f, audit_log::query),
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
