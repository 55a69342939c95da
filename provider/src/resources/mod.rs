//! The resources, one Terraform type per file.

mod organization_member;
mod project;
mod project_member;
mod service_account;
mod service_account_project;
mod team;
mod team_member;
mod team_project;

use std::sync::Arc;

pub(crate) use organization_member::list_members;
pub(crate) use project::{list_projects, project_state};
pub(crate) use project_member::granted_users;
pub(crate) use team::list_teams;

use mixpanel_access::model::{OrgRole, ProjectRole};

use crate::cty::Value;
use crate::framework::{Diagnostic, Resource, Validator};

/// Every resource the provider serves.
pub fn all() -> Vec<Arc<dyn Resource>> {
    vec![
        Arc::new(project::ProjectResource),
        Arc::new(organization_member::OrganizationMemberResource),
        Arc::new(project_member::ProjectMemberResource),
        Arc::new(team::TeamResource),
        Arc::new(team_member::TeamMemberResource),
        Arc::new(team_project::TeamProjectResource),
        Arc::new(service_account::ServiceAccountResource),
        Arc::new(service_account_project::ServiceAccountProjectResource),
    ]
}

pub(crate) const PROJECT_ROLES: Validator = Validator::OneOf(ProjectRole::NAMES);
pub(crate) const ORG_ROLES: Validator = Validator::OneOf(OrgRole::NAMES);
pub(crate) const NUMERIC_ID: Validator = Validator::Custom(positive_id);

/// Mixpanel's ids are positive 64-bit integers.
fn positive_id(v: &Value) -> Option<String> {
    let s = v.as_str()?;
    match s.parse::<i64>() {
        Ok(n) if n > 0 => None,
        _ => Some(format!(
            "\"{s}\" is not an id: use a positive whole number below 2^63, e.g. the id attribute of the resource it refers to"
        )),
    }
}

/// The diagnostic for a change refused with a 404 while the object it applies to exists: the
/// route is missing on this host (Mixpanel has no public API for it yet), whatever the host.
pub(crate) fn route_missing(
    summary: &str,
    err: &mixpanel_access::api::ApiError,
    attr: &str,
    by_hand: &str,
) -> Diagnostic {
    Diagnostic::attr_error(
        attr,
        summary,
        format!("The route answered 404 ({err}) although the object exists: this host has no such route (Mixpanel has no public API for this change yet). {by_hand}"),
    )
}

/// A numeric id held in a string attribute.
pub(crate) fn id_attr<T: std::str::FromStr>(v: &Value, name: &str) -> Result<T, Diagnostic> {
    let s = crate::framework::resource::req_str(v, name)?;
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
