//! The data sources, one Terraform type per file.

mod access_review;
mod effective_access;
mod organization;
mod organization_members;
mod project;
mod projects;
mod service_accounts;
mod teams;

use std::sync::Arc;

use serde::Serialize;

use crate::context::Ctx;
use crate::cty::{to_value, Value};
use crate::framework::resource::opt_bool;
use crate::framework::{Attribute, DataSource, Diagnostic, Diagnostics};

/// Every data source the provider serves.
pub fn all() -> Vec<Arc<dyn DataSource<Ctx>>> {
    vec![
        Arc::new(project::ProjectDataSource),
        Arc::new(organization::OrganizationDataSource),
        Arc::new(effective_access::EffectiveAccessDataSource),
        Arc::new(organization_members::OrganizationMembersDataSource),
        Arc::new(teams::TeamsDataSource),
        Arc::new(service_accounts::ServiceAccountsDataSource),
        Arc::new(projects::ProjectsDataSource),
        Arc::new(access_review::AccessReviewDataSource),
    ]
}

/// The two attributes every list data source has: `allow_partial` (configured) and
/// `complete` (computed), the truth rule for lists.
pub(crate) fn completeness_attributes() -> [Attribute; 2] {
    [
        Attribute::bool("allow_partial").optional().describe(
            "Accept a list read by a provider account that sees only part of the organization (an organization role below admin). By default such a read is an error, since the list would look complete without being so.",
        ),
        Attribute::bool("complete").computed().describe(
            "Whether the list is the organization's whole collection: true only when the provider's account has the organization role owner or admin.",
        ),
    ]
}

/// Whether a list is complete; an error when it is not and the configuration did not accept
/// a partial one.
pub(crate) fn completeness(ctx: &Ctx, config: &Value, what: &str) -> Result<bool, Diagnostics> {
    let complete = ctx.sees_whole_organization();
    if !complete && opt_bool(config, "allow_partial") != Some(true) {
        let role = ctx.role().map(|r| r.as_str()).unwrap_or("no role");
        return Err(Diagnostic::error(
            format!("Cannot list all {what}"),
            format!(
                "The provider's service account has the organization role {role} and sees only part of the organization, so this list could miss {what} without saying so. Configure the provider with a service account that has the organization role owner or admin, or set allow_partial = true to accept a partial list (complete is then false)."
            ),
        )
        .at(crate::cty::AttributePath::attr("allow_partial"))
        .into());
    }
    Ok(complete)
}

/// A list data source's state: its model, plus `allow_partial` as configured and `complete`.
pub(crate) fn list_state<M: Serialize>(
    model: &M,
    config: &Value,
    complete: bool,
) -> Result<Value, Diagnostics> {
    let mut v = to_value(model)
        .map_err(|e| Diagnostics::from(Diagnostic::error("Cannot encode the list", e.message)))?;
    v.set_attr(
        "allow_partial",
        config
            .get_attr("allow_partial")
            .cloned()
            .unwrap_or(Value::Null),
    );
    v.set_attr("complete", Value::Bool(complete));
    Ok(v)
}

/// A time as Terraform users write it: RFC 3339 in UTC, to the second.
pub(crate) fn rfc3339(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}
