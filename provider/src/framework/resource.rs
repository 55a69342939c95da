//! The traits resources and data sources implement, the context they get, and small helpers
//! to read typed values out of cty objects with diagnostics that name the attribute.

use std::sync::Arc;

use mixpanel_access::api::{ApiError, Client};
use mixpanel_access::model::{OrgId, OrgRole};

use crate::cty::{AttributePath, Value};

use super::cache::ReadCache;
use super::diag::{Diagnostic, Diagnostics};
use super::plan::Plan;
use super::schema::Schema;

/// What a configured provider gives every operation.
pub struct Ctx {
    pub client: Client,
    /// The organization: configured, or discovered from `/api/app/me` at configuration.
    org: OrgId,
    /// The provider's own organization role, from `/api/app/me`; `None` when it has none.
    role: Option<OrgRole>,
    pub cache: ReadCache,
}

impl Ctx {
    pub fn new(client: Client, org: OrgId, role: Option<OrgRole>) -> Ctx {
        Ctx {
            client,
            org,
            role,
            cache: ReadCache::new(),
        }
    }

    pub fn org(&self) -> OrgId {
        self.org
    }

    /// The provider's organization role (`None`: no role in the organization).
    pub fn role(&self) -> Option<OrgRole> {
        self.role
    }

    /// Whether the provider's account sees every project, member, team and service account of
    /// the organization: only then does not finding one prove that it is gone.
    pub fn sees_whole_organization(&self) -> bool {
        matches!(self.role, Some(OrgRole::Owner | OrgRole::Admin))
    }

    /// The answer to a read that did not find `what`: gone (`None`, Terraform plans to create
    /// it again) when the provider sees the whole organization, an error otherwise.
    pub fn not_found<T>(&self, what: &str) -> Result<Option<T>, Diagnostics> {
        if self.sees_whole_organization() {
            return Ok(None);
        }
        let role = self.role.map(|r| r.as_str()).unwrap_or("no role");
        Err(Diagnostic::error(
            "Cannot tell whether the object still exists",
            format!(
                "Mixpanel did not list {what}, but the provider's service account has the organization role {role} and sees only part of the organization, so this does not prove it was deleted. Configure the provider with a service account that has the organization role owner or admin."
            ),
        )
        .into())
    }
}

pub type SharedCtx = Arc<Ctx>;

/// A failed create or update: the diagnostics, and the object as Mixpanel now holds it when
/// part of the change was carried out. Terraform records that state (a failed create is then
/// tainted), so the next apply neither forgets the object nor makes a twin of it.
#[derive(Debug, Clone)]
pub struct ApplyError {
    pub state: Option<Value>,
    pub diags: Diagnostics,
}

impl ApplyError {
    /// A failure after which `state` is what exists.
    pub fn partial(state: Option<Value>, diags: impl Into<Diagnostics>) -> ApplyError {
        ApplyError {
            state,
            diags: diags.into(),
        }
    }
}

impl From<Diagnostics> for ApplyError {
    fn from(diags: Diagnostics) -> Self {
        ApplyError { state: None, diags }
    }
}

impl From<Diagnostic> for ApplyError {
    fn from(d: Diagnostic) -> Self {
        ApplyError::from(Diagnostics::from(d))
    }
}

#[tonic::async_trait]
pub trait Resource: Send + Sync {
    /// The Terraform type name, e.g. `mixpanel_project`.
    fn type_name(&self) -> &'static str;

    fn schema(&self) -> Schema;

    /// Checks beyond the attribute validators, on a configuration that may hold unknowns.
    fn validate(&self, _config: &Value) -> Diagnostics {
        Diagnostics::new()
    }

    /// Adjusts or refuses the framework's plan (e.g. a protected resource's destroy).
    fn modify_plan(&self, _prior: &Value, _config: &Value, _plan: &mut Plan) -> Diagnostics {
        Diagnostics::new()
    }

    /// The new object as a read shows it. On failure, [`ApplyError::state`] is the object when
    /// it exists despite the failure.
    async fn create(&self, ctx: &Ctx, planned: &Value) -> Result<Value, ApplyError>;

    /// The current state, or `None` when the object is gone (Terraform then plans to create
    /// it again).
    async fn read(&self, ctx: &Ctx, state: &Value) -> Result<Option<Value>, Diagnostics>;

    /// The updated object as a read shows it; on failure, [`ApplyError::state`] is what Mixpanel
    /// holds when part of the change was carried out.
    async fn update(&self, ctx: &Ctx, prior: &Value, planned: &Value) -> Result<Value, ApplyError>;

    /// Succeeds only when a read shows the object gone.
    async fn delete(&self, ctx: &Ctx, state: &Value) -> Result<(), Diagnostics>;

    /// A state holding at least what `read` needs, from the id given to `terraform import`.
    async fn import(&self, ctx: &Ctx, id: &str) -> Result<Value, Diagnostics>;

    /// The id format `terraform import` takes, for docs and error messages.
    fn import_id_format(&self) -> &'static str;

    /// Upgrades a state written by an older schema version (as JSON) to the current one.
    fn upgrade_state(
        &self,
        from_version: i64,
        state: serde_json::Value,
    ) -> Result<serde_json::Value, Diagnostics> {
        let current = self.schema().version;
        if from_version == current {
            Ok(state)
        } else {
            Err(Diagnostic::error(
                "Unsupported state version",
                format!(
                    "{} state version {from_version} cannot be upgraded to {current}: use a provider version that wrote it",
                    self.type_name()
                ),
            )
            .into())
        }
    }
}

#[tonic::async_trait]
pub trait DataSource: Send + Sync {
    fn type_name(&self) -> &'static str;
    fn schema(&self) -> Schema;
    fn validate(&self, _config: &Value) -> Diagnostics {
        Diagnostics::new()
    }
    async fn read(&self, ctx: &Ctx, config: &Value) -> Result<Value, Diagnostics>;
}

// ----- value helpers -----

/// A string attribute, or an error naming it.
pub fn req_str<'a>(v: &'a Value, name: &str) -> Result<&'a str, Diagnostic> {
    v.get_attr(name)
        .and_then(Value::as_str)
        .ok_or_else(|| missing(name))
}

pub fn opt_str<'a>(v: &'a Value, name: &str) -> Option<&'a str> {
    v.get_attr(name).and_then(Value::as_str)
}

pub fn opt_bool(v: &Value, name: &str) -> Option<bool> {
    v.get_attr(name).and_then(Value::as_bool)
}

pub fn req_u64(v: &Value, name: &str) -> Result<u64, Diagnostic> {
    v.get_attr(name)
        .and_then(Value::as_number)
        .and_then(|n| n.as_u64())
        .ok_or_else(|| missing(name))
}

pub fn opt_u64(v: &Value, name: &str) -> Option<u64> {
    v.get_attr(name)
        .and_then(Value::as_number)
        .and_then(|n| n.as_u64())
}

fn missing(name: &str) -> Diagnostic {
    Diagnostic::attr_error(
        name,
        format!("Missing value for {name}"),
        format!("{name} must be set to a known value here"),
    )
}

/// Parses a string attribute with `FromStr`, reporting the parse error on the attribute.
pub fn parse_attr<T>(v: &Value, name: &str) -> Result<T, Diagnostic>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    req_str(v, name)?.parse::<T>().map_err(|e| {
        Diagnostic::attr_error(name, format!("Invalid value for {name}"), e.to_string())
    })
}

/// An API failure as a diagnostic; `attr` points at the attribute it concerns, if any.
pub fn api_diag(summary: &str, err: &ApiError, attr: Option<&str>) -> Diagnostic {
    let mut detail = err.to_string();
    if let ApiError::MaybeApplied { route, .. } = err {
        // Terraform did not record it: a second apply would create a twin.
        detail.push_str(if *route == "create_service_account" {
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
/// (the cache is cleared first) and says whether Mixpanel still holds the object. A 404 with
/// the object gone is done; a 404 with the object still there means the route is missing on
/// this host (as the emulator-only routes are upstream), on any host; a success that left the
/// object in place is not taken for one. `by_hand` says where to make the change instead.
pub async fn removed<F, Fut>(
    ctx: &Ctx,
    result: Result<(), ApiError>,
    summary: &str,
    by_hand: &str,
    still_listed: F,
) -> Result<(), Diagnostics>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<bool, Diagnostics>>,
{
    ctx.cache.invalidate();
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

/// A diagnostic about an import id that does not parse.
pub fn bad_import_id(id: &str, format: &str) -> Diagnostics {
    Diagnostic::error(
        "Invalid import id",
        format!("\"{id}\" is not a valid import id: expected {format}"),
    )
    .into()
}
