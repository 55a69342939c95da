//! The traits resources and data sources implement, over any context `C` the provider gives
//! them, and small helpers to read values out of cty objects with diagnostics that name the
//! attribute.

use crate::cty::Value;

use super::diag::{Diagnostic, Diagnostics};
use super::plan::Plan;
use super::schema::Schema;

/// A failed create or update: the diagnostics, and the object as Mixpanel now holds it when
/// part of the change was carried out. Terraform records that state (a failed create is then
/// tainted), so the next apply neither forgets the object nor makes a twin of it.
#[derive(Debug, Clone)]
pub struct Failed<M> {
    pub state: Option<M>,
    pub diags: Diagnostics,
}

/// A failed create or update as values.
pub type ApplyError = Failed<Value>;

impl<M> Failed<M> {
    /// A failure after which `state` is what exists.
    pub fn partial(state: Option<M>, diags: impl Into<Diagnostics>) -> Failed<M> {
        Failed {
            state,
            diags: diags.into(),
        }
    }
}

impl<M> From<Diagnostics> for Failed<M> {
    fn from(diags: Diagnostics) -> Self {
        Failed { state: None, diags }
    }
}

impl<M> From<Diagnostic> for Failed<M> {
    fn from(d: Diagnostic) -> Self {
        Failed::from(Diagnostics::from(d))
    }
}

tokio::task_local! {
    /// The planned private state of the create being applied.
    static PLANNED_PRIVATE: Vec<u8>;
}

/// Runs a create with the planned private state [`Resource::plan_private`] recorded.
pub async fn with_planned_private<F: std::future::Future>(
    private: Vec<u8>,
    create: F,
) -> F::Output {
    PLANNED_PRIVATE.scope(private, create).await
}

/// The planned private state of the create being applied (empty when the plan recorded none).
pub fn planned_private() -> Vec<u8> {
    PLANNED_PRIVATE.try_with(Clone::clone).unwrap_or_default()
}

#[tonic::async_trait]
pub trait Resource<C: Sync>: Send + Sync {
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

    /// For a planned create: what the plan records in its private state for the create to
    /// use (the objects that already held the create's key, so that a lookup after a lost
    /// answer adopts only one that appeared since); [`planned_private`] gives it back during
    /// the create. `None`: nothing.
    /// `prior` is the object a replacement replaces (null for a plain create).
    async fn plan_private(&self, _ctx: &C, _prior: &Value, _planned: &Value) -> Option<Vec<u8>> {
        None
    }

    /// The new object as a read shows it. On failure, [`ApplyError::state`] is the object when
    /// it exists despite the failure.
    async fn create(&self, ctx: &C, planned: &Value) -> Result<Value, ApplyError>;

    /// The current state, or `None` when the object is gone (Terraform then plans to create
    /// it again).
    async fn read(&self, ctx: &C, state: &Value) -> Result<Option<Value>, Diagnostics>;

    /// The updated object as a read shows it; on failure, [`ApplyError::state`] is what Mixpanel
    /// holds when part of the change was carried out.
    async fn update(&self, ctx: &C, prior: &Value, planned: &Value) -> Result<Value, ApplyError>;

    /// Succeeds only when a read shows the object gone.
    async fn delete(&self, ctx: &C, state: &Value) -> Result<(), Diagnostics>;

    /// A state holding at least what `read` needs, from the id given to `terraform import`.
    async fn import(&self, ctx: &C, id: &str) -> Result<Value, Diagnostics>;

    /// The id format `terraform import` takes, for docs and error messages.
    fn import_id_format(&self) -> &'static str;

    /// The attribute names of the resource's typed model, where it has one.
    fn model_fields(&self) -> Option<Vec<&'static str>> {
        None
    }

    /// Upgrades a state written by an older schema version (as JSON) to the current one.
    fn upgrade_state(
        &self,
        from_version: i64,
        state: serde_json::Value,
    ) -> Result<serde_json::Value, Diagnostics> {
        same_version_only(self.type_name(), self.schema().version, from_version, state)
    }
}

/// The upgrade of a resource that has had one schema version: the state as it is, or an error
/// for any other version.
pub fn same_version_only(
    type_name: &str,
    current: i64,
    from_version: i64,
    state: serde_json::Value,
) -> Result<serde_json::Value, Diagnostics> {
    if from_version == current {
        Ok(state)
    } else {
        Err(Diagnostic::error(
            "Unsupported state version",
            format!(
                "{type_name} state version {from_version} cannot be upgraded to {current}: use a provider version that wrote it"
            ),
        )
        .into())
    }
}

#[tonic::async_trait]
pub trait DataSource<C: Sync>: Send + Sync {
    fn type_name(&self) -> &'static str;
    fn schema(&self) -> Schema;
    fn validate(&self, _config: &Value) -> Diagnostics {
        Diagnostics::new()
    }
    async fn read(&self, ctx: &C, config: &Value) -> Result<Value, Diagnostics>;
}

/// An ephemeral resource (protocol 6.7): a value Terraform opens during a plan or an apply
/// and never stores in the state or the plan.
#[tonic::async_trait]
pub trait EphemeralResource<C: Sync>: Send + Sync {
    fn type_name(&self) -> &'static str;
    fn schema(&self) -> Schema;
    fn validate(&self, _config: &Value) -> Diagnostics {
        Diagnostics::new()
    }
    /// The value, from a configuration without unknowns.
    async fn open(&self, ctx: &C, config: &Value) -> Result<Value, Diagnostics>;
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

/// A diagnostic about an import id that does not parse.
pub fn bad_import_id(id: &str, format: &str) -> Diagnostics {
    Diagnostic::error(
        "Invalid import id",
        format!("\"{id}\" is not a valid import id: expected {format}"),
    )
    .into()
}
