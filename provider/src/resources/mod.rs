//! The resources, one Terraform type per file.

mod authoritative;
mod classified_data_access;
mod custom_role;
mod data_view;
mod data_view_member;
mod organization_member;
mod organization_settings;
mod principal;
mod project;
mod project_member;
mod project_members;
mod rotated_credential;
mod service_account;
mod service_account_project;
mod team;
mod team_member;
mod team_members;
mod team_project;

use std::sync::Arc;

pub(crate) use organization_member::list_members;
pub(crate) use project::{list_projects, project_state};
pub(crate) use project_member::granted_users;
pub(crate) use service_account::list_service_accounts;
pub(crate) use service_account_project::project_accounts;
pub(crate) use team::list_teams;

use crate::context::Ctx;
use crate::framework::{Diagnostic, Resource, Typed};

/// Every resource the provider serves.
pub fn all() -> Vec<Arc<dyn Resource<Ctx>>> {
    vec![
        Arc::new(Typed(project::ProjectResource)),
        Arc::new(Typed(organization_member::OrganizationMemberResource)),
        Arc::new(Typed(project_member::ProjectMemberResource)),
        Arc::new(Typed(team::TeamResource)),
        Arc::new(Typed(team_member::TeamMemberResource)),
        Arc::new(Typed(team_members::TeamMembersResource)),
        Arc::new(Typed(project_members::ProjectMembersResource)),
        Arc::new(Typed(organization_settings::OrganizationSettingsResource)),
        Arc::new(Typed(custom_role::CustomRoleResource)),
        Arc::new(Typed(data_view::DataViewResource)),
        Arc::new(Typed(data_view_member::DataViewMemberResource)),
        Arc::new(Typed(classified_data_access::ClassifiedDataAccessResource)),
        Arc::new(Typed(team_project::TeamProjectResource)),
        Arc::new(Typed(service_account::ServiceAccountResource)),
        Arc::new(Typed(
            service_account_project::ServiceAccountProjectResource,
        )),
        Arc::new(Typed(rotated_credential::RotatedCredentialResource)),
    ]
}

/// A computed numeric id of a model (known in any state and in the plan of an update).
pub(crate) fn known_id<T: std::str::FromStr>(
    id: &crate::cty::Unknowable<String>,
    name: &str,
) -> Result<T, Diagnostic> {
    let s = id.known().ok_or_else(|| {
        Diagnostic::attr_error(
            name,
            format!("Unknown {name}"),
            format!("{name} is not known yet"),
        )
    })?;
    s.parse::<T>().map_err(|_| {
        Diagnostic::attr_error(
            name,
            format!("Invalid value for {name}"),
            format!("\"{s}\" is not a numeric id"),
        )
    })
}

/// Splits an import id of the form `a/b`.
pub(crate) fn split2<'a>(
    id: &'a str,
    format: &str,
) -> Result<(&'a str, &'a str), crate::framework::Diagnostics> {
    match id.split_once('/') {
        Some((a, b)) if !a.is_empty() && !b.is_empty() => Ok((a, b)),
        _ => Err(crate::framework::resource::bad_import_id(id, format)),
    }
}

/// An import id of two parts, each parsed: `<a>/<b>`.
pub(crate) fn split2_parsed<A: std::str::FromStr, B: std::str::FromStr>(
    id: &str,
    format: &str,
) -> Result<(A, B), crate::framework::Diagnostics> {
    let (a, b) = split2(id, format)?;
    let bad = || crate::framework::resource::bad_import_id(id, format);
    Ok((a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?))
}
