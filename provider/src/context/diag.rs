//! API failures as diagnostics, and removals verified by a read.

use mixpanel_access::api::ApiError;

use crate::cty::AttributePath;
use crate::framework::{Diagnostic, Diagnostics};

/// An API failure as a diagnostic; `attr` points at the attribute it concerns, if any.
pub fn api_diag(summary: &str, err: &ApiError, attr: Option<&str>) -> Diagnostic {
    let mut detail = err.to_string();
    if let ApiError::MaybeApplied { route, .. } = err {
        // Terraform did not record it: a second apply would create a twin.
        detail.push_str(if *route == mixpanel_access::api::wire::CREATE_SERVICE_ACCOUNT.name {
            ". If the account exists, delete it before the next apply: its secret is shown only when it is created, so Terraform cannot take it over."
        } else {
            ". If it exists, bring it under Terraform with `terraform import` (the resource's documentation gives the id) instead of applying again."
        });
    }
    let d = Diagnostic::error(summary, detail);
    match attr {
        Some(a) => d.at(AttributePath::attr(a)),
        None => d,
    }
}

/// The outcome of a removal, verified by a read. `still_listed` reads the collection again
/// (a listing that starts after the removal) and says whether Mixpanel still holds the object. A 404 with
/// the object gone is done; a 404 with the object still there means the route is missing on
/// this host (as the emulator-only routes are upstream), on any host; a success that left the
/// object in place is not taken for one. `by_hand` says where to make the change instead.
pub async fn removed<F, Fut>(
    result: Result<(), ApiError>,
    summary: &str,
    by_hand: &str,
    still_listed: F,
) -> Result<(), Diagnostics>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<bool, Diagnostics>>,
{
    let answered_404 = match &result {
        Ok(()) => false,
        Err(e) if e.is_not_found() => true,
        Err(e @ ApiError::EmulatorOnly { .. }) => {
            let mut d = api_diag(summary, e, None);
            d.detail = format!("{} {by_hand}", d.detail);
            return Err(d.into());
        }
        Err(e) => return Err(api_diag(summary, e, None).into()),
    };
    if !still_listed().await? {
        return Ok(());
    }
    let why = match result {
        Err(e) if answered_404 => format!(
            "The removal route answered 404 ({e}) while Mixpanel still lists the object: this host has no such route (Mixpanel has no public API for this change yet)."
        ),
        _ => "The removal was accepted, but Mixpanel still lists the object, so it did not take effect.".to_string(),
    };
    Err(Diagnostic::error(
        summary,
        format!("{why} Nothing was removed and the resource stays in the state. {by_hand}"),
    )
    .into())
}

/// The diagnostic for a change refused with a 404 while the object it applies to exists: the
/// route is missing on this host (Mixpanel has no public API for it yet), whatever the host.
pub fn route_missing(summary: &str, err: &ApiError, attr: &str, by_hand: &str) -> Diagnostic {
    Diagnostic::attr_error(
        attr,
        summary,
        format!("The route answered 404 ({err}) although the object exists: this host has no such route (Mixpanel has no public API for this change yet). {by_hand}"),
    )
}
