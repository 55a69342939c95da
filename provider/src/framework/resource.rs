//! The traits resources and data sources implement, the context they get, and small helpers
//! to read typed values out of cty objects with diagnostics that name the attribute.

use std::sync::Arc;

use mixpanel_access::api::{ApiError, Client};
use mixpanel_access::model::OrgId;
use tokio::sync::OnceCell;

use crate::cty::{AttributePath, Value};

use super::cache::ReadCache;
use super::diag::{Diagnostic, Diagnostics};
use super::plan::Plan;
use super::schema::Schema;

/// What a configured provider gives every operation.
pub struct Ctx {
    pub client: Client,
    /// The organization: configured, or discovered from `/api/app/me` on first use.
    org: OnceCell<OrgId>,
    pub cache: ReadCache,
}

impl Ctx {
    pub fn new(client: Client, org: Option<OrgId>) -> Ctx {
        Ctx {
            client,
            org: match org {
                Some(o) => OnceCell::new_with(Some(o)),
                None => OnceCell::new(),
            },
            cache: ReadCache::new(),
        }
    }

    pub async fn org(&self) -> Result<OrgId, Diagnostic> {
        self.org
            .get_or_try_init(|| self.client.discover_organization())
            .await
            .copied()
            .map_err(|e| {
                Diagnostic::attr_error(
                    "organization_id",
                    "Cannot determine the Mixpanel organization",
                    e.to_string(),
                )
            })
    }
}

pub type SharedCtx = Arc<Ctx>;

/// A resource's private state: opaque to Terraform, kept with the resource's state.
pub type PrivateState = serde_json::Map<String, serde_json::Value>;

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

    async fn create(
        &self,
        ctx: &Ctx,
        planned: &Value,
        private: &mut PrivateState,
    ) -> Result<Value, Diagnostics>;

    /// The current state, or `None` when the object is gone (Terraform then plans to create
    /// it again).
    async fn read(
        &self,
        ctx: &Ctx,
        state: &Value,
        private: &mut PrivateState,
    ) -> Result<Option<Value>, Diagnostics>;

    async fn update(
        &self,
        ctx: &Ctx,
        prior: &Value,
        planned: &Value,
        private: &mut PrivateState,
    ) -> Result<Value, Diagnostics>;

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

/// The outcome of a delete: an object already gone counts as deleted.
pub fn deleted(result: Result<(), ApiError>, summary: &str) -> Result<(), Diagnostics> {
    match result {
        Ok(()) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(api_diag(summary, &e, None).into()),
    }
}

/// A diagnostic about an import id that does not parse.
pub fn bad_import_id(id: &str, format: &str) -> Diagnostics {
    Diagnostic::error(
        "Invalid import id",
        format!("\"{id}\" is not a valid import id: expected {format}"),
    )
    .into()
}
