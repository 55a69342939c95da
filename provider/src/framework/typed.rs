//! Typed resources: a resource declares one model struct (serde over cty values, see
//! [`crate::cty::from_value`]) and its code takes and returns models. [`Typed`] adapts it to
//! [`Resource`], turning a value that does not fit the model into a diagnostic on its attribute.
//! Attribute names live in the schema and the model only; [`model_fields`] lets a test check
//! that the two agree.

use serde::de::{self, DeserializeOwned, Visitor};
use serde::Serialize;

use crate::cty::{from_value, to_value, CtyError, Type, Value};

use super::diag::{Diagnostic, Diagnostics};
use super::plan::Plan;
use super::resource::{ApplyError, Failed, Resource};
use super::schema::Schema;

/// The outcome of a typed create or update.
pub type Applied<M> = Result<M, Failed<M>>;

/// A resource written against its model `Model`, in a context `C`.
#[tonic::async_trait]
pub trait TypedResource<C: Sync>: Send + Sync + 'static {
    type Model: Serialize + DeserializeOwned + Send + Sync + 'static;

    /// The Terraform type name, e.g. `mixpanel_project`.
    fn type_name(&self) -> &'static str;

    fn schema(&self) -> Schema;

    /// Checks beyond the attribute validators, on a configuration that may hold unknowns.
    fn validate(&self, _config: &Value) -> Diagnostics {
        Diagnostics::new()
    }

    /// Adjusts or refuses the framework's plan.
    fn modify_plan(&self, _prior: &Value, _config: &Value, _plan: &mut Plan) -> Diagnostics {
        Diagnostics::new()
    }

    /// Upgrades a state of an older schema version; see [`Resource::upgrade_state`].
    fn upgrade_state(
        &self,
        from_version: i64,
        state: serde_json::Value,
    ) -> Result<serde_json::Value, Diagnostics> {
        super::resource::same_version_only(
            self.type_name(),
            self.schema().version,
            from_version,
            state,
        )
    }

    /// The new object as a read shows it; on failure, the object when it exists despite it.
    /// See [`Resource::plan_private`]; not called when the planned model holds unknowns.
    async fn plan_private(
        &self,
        _ctx: &C,
        _prior: Option<Self::Model>,
        _planned: Self::Model,
    ) -> Option<Vec<u8>> {
        None
    }

    async fn create(&self, ctx: &C, planned: Self::Model) -> Applied<Self::Model>;

    /// The current state, or `None` when the object is gone.
    async fn read(&self, ctx: &C, state: Self::Model) -> Result<Option<Self::Model>, Diagnostics>;

    /// The updated object as a read shows it; on failure, what Mixpanel holds when part of the
    /// change was carried out.
    async fn update(
        &self,
        ctx: &C,
        prior: Self::Model,
        planned: Self::Model,
    ) -> Applied<Self::Model>;

    /// Succeeds only when a read shows the object gone.
    async fn delete(&self, ctx: &C, state: Self::Model) -> Result<(), Diagnostics>;

    /// The state of an existing object, from the id given to `terraform import`.
    async fn import(&self, ctx: &C, id: &str) -> Result<Self::Model, Diagnostics>;

    /// The id format `terraform import` takes.
    fn import_id_format(&self) -> &'static str;
}

/// Serves a [`TypedResource`] as a [`Resource`].
pub struct Typed<R>(pub R);

fn model<M: DeserializeOwned>(v: &Value) -> Result<M, Diagnostics> {
    from_value(v).map_err(|e| cty_diag("Value does not fit the resource", e))
}

/// The model as a value of the schema's type (a model's sequence is a list until the type says
/// it is a set).
fn value<M: Serialize>(m: &M, ty: &Type) -> Result<Value, Diagnostics> {
    to_value(m)
        .map(|v| v.conform(ty))
        .map_err(|e| cty_diag("Resource state cannot be encoded", e))
}

fn cty_diag(summary: &str, e: CtyError) -> Diagnostics {
    let d = Diagnostic::error(summary, e.message);
    if e.path.is_empty() {
        d.into()
    } else {
        d.at(e.path).into()
    }
}

fn failed<M: Serialize>(f: Failed<M>, ty: &Type) -> ApplyError {
    let mut diags = f.diags;
    let state = match f.state.as_ref().map(|m| value(m, ty)) {
        Some(Ok(v)) => Some(v),
        Some(Err(d)) => {
            diags.extend(d);
            None
        }
        None => None,
    };
    Failed { state, diags }
}

#[tonic::async_trait]
impl<C: Sync, R: TypedResource<C>> Resource<C> for Typed<R> {
    fn type_name(&self) -> &'static str {
        self.0.type_name()
    }

    fn schema(&self) -> Schema {
        self.0.schema()
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        self.0.validate(config)
    }

    fn modify_plan(&self, prior: &Value, config: &Value, plan: &mut Plan) -> Diagnostics {
        self.0.modify_plan(prior, config, plan)
    }

    fn upgrade_state(
        &self,
        from_version: i64,
        state: serde_json::Value,
    ) -> Result<serde_json::Value, Diagnostics> {
        self.0.upgrade_state(from_version, state)
    }

    async fn plan_private(&self, ctx: &C, prior: &Value, planned: &Value) -> Option<Vec<u8>> {
        let m = model(planned).ok()?;
        let prior = if prior.is_null() {
            None
        } else {
            model(prior).ok()
        };
        self.0.plan_private(ctx, prior, m).await
    }

    async fn create(&self, ctx: &C, planned: &Value) -> Result<Value, ApplyError> {
        let ty = self.0.schema().cty_type();
        let m = self
            .0
            .create(ctx, model(planned)?)
            .await
            .map_err(|f| failed(f, &ty))?;
        Ok(value(&m, &ty)?)
    }

    async fn read(&self, ctx: &C, state: &Value) -> Result<Option<Value>, Diagnostics> {
        match self.0.read(ctx, model(state)?).await? {
            Some(m) => value(&m, &self.0.schema().cty_type()).map(Some),
            None => Ok(None),
        }
    }

    async fn update(&self, ctx: &C, prior: &Value, planned: &Value) -> Result<Value, ApplyError> {
        let ty = self.0.schema().cty_type();
        let m = self
            .0
            .update(ctx, model(prior)?, model(planned)?)
            .await
            .map_err(|f| failed(f, &ty))?;
        Ok(value(&m, &ty)?)
    }

    async fn delete(&self, ctx: &C, state: &Value) -> Result<(), Diagnostics> {
        self.0.delete(ctx, model(state)?).await
    }

    async fn import(&self, ctx: &C, id: &str) -> Result<Value, Diagnostics> {
        value(&self.0.import(ctx, id).await?, &self.0.schema().cty_type())
    }

    fn import_id_format(&self) -> &'static str {
        self.0.import_id_format()
    }

    fn model_fields(&self) -> Option<Vec<&'static str>> {
        Some(model_fields::<R::Model>())
    }
}

/// `#[serde(with = "as_string")]`: a field held in a string attribute (an id, a number) that
/// the model keeps typed, through `Display` and `FromStr`.
pub mod as_string {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<T: std::fmt::Display, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }

    pub fn deserialize<'de, T, D>(d: D) -> Result<T, D::Error>
    where
        T: std::str::FromStr,
        T::Err: std::fmt::Display,
        D: Deserializer<'de>,
    {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A sensitive attribute's value in a model: written to the state Terraform keeps (as the
/// schema's `sensitive` flag tells it to hide it), never to `Debug` output or a log.
#[derive(Clone)]
pub struct Sensitive(pub secrecy::SecretString);

impl Sensitive {
    pub fn new(s: &str) -> Sensitive {
        Sensitive(secrecy::SecretString::from(s))
    }
}

impl std::fmt::Debug for Sensitive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl Serialize for Sensitive {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use secrecy::ExposeSecret;
        s.serialize_str(self.0.expose_secret())
    }
}

impl<'de> serde::Deserialize<'de> for Sensitive {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(Sensitive(secrecy::SecretString::from(s)))
    }
}

/// The field names of a model struct, as serde reads them.
pub fn model_fields<M: DeserializeOwned>() -> Vec<&'static str> {
    struct Fields(Vec<&'static str>);
    #[derive(Debug)]
    struct Stop;
    impl std::fmt::Display for Stop {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("stop")
        }
    }
    impl std::error::Error for Stop {}
    impl de::Error for Stop {
        fn custom<T: std::fmt::Display>(_: T) -> Self {
            Stop
        }
    }
    struct Catch<'a>(&'a mut Fields);
    impl<'de> de::Deserializer<'de> for Catch<'_> {
        type Error = Stop;
        fn deserialize_any<V: Visitor<'de>>(self, _v: V) -> Result<V::Value, Stop> {
            Err(Stop)
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            fields: &'static [&'static str],
            _v: V,
        ) -> Result<V::Value, Stop> {
            self.0 .0.extend_from_slice(fields);
            Err(Stop)
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map enum identifier ignored_any
        }
    }
    let mut fields = Fields(Vec::new());
    let _ = M::deserialize(Catch(&mut fields));
    fields.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct M {
        id: String,
        #[serde(rename = "team_id")]
        team: String,
        note: Option<String>,
    }

    #[test]
    fn sensitive_values_round_trip_but_never_print() {
        let v = to_value(&Sensitive::new("s3cret")).unwrap();
        assert_eq!(v, Value::string("s3cret"));
        let back: Sensitive = from_value(&v).unwrap();
        assert_eq!(format!("{back:?}"), "[REDACTED]");
    }

    #[test]
    fn model_fields_are_the_serde_names() {
        assert_eq!(model_fields::<M>(), vec!["id", "team_id", "note"]);
    }
}
