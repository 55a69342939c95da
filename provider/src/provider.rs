//! The Mixpanel provider's [`ProviderHandler`]: the glue between tfplugin6 messages and the
//! framework (schemas, the plan algorithm, resources and data sources). It holds no resource
//! logic of its own.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, OnceLock, RwLock};

use tokio_util::sync::CancellationToken;

use crate::context::{Ctx, SharedCtx};
use crate::convert;
use crate::cty::{self, Type, Value};
use crate::framework::resource::with_planned_private;
use crate::framework::{
    plan, validate_config, ApplyError, DataSource, Diagnostic, Diagnostics, EphemeralResource,
    Resource, Schema,
};
use crate::protocol::tfplugin6::{
    apply_resource_change, close_ephemeral_resource, configure_provider, get_metadata,
    get_provider_schema, get_resource_identity_schemas, import_resource_state,
    open_ephemeral_resource, plan_resource_change, read_data_source, read_resource,
    renew_ephemeral_resource, upgrade_resource_state, validate_data_resource_config,
    validate_ephemeral_resource_config, validate_provider_config, validate_resource_config,
    DynamicValue, ServerCapabilities,
};
use crate::protocol::{ProviderHandler, ProviderInfo, RpcResult};
use crate::{data_sources, ephemeral, provider_config, resources};

/// The most `ConfigureProvider` waits for Mixpanel to answer (issue 16: a server that accepts
/// connections and never answers fails the command in well under 30 s).
const CONFIGURE_BUDGET: std::time::Duration = std::time::Duration::from_secs(20);

/// Source address Terraform knows the provider by.
pub const PROVIDER_ADDRESS: &str = "registry.terraform.io/mixpanel-access/mixpanel";

/// Facts for the binary's entry point.
pub const INFO: ProviderInfo = ProviderInfo {
    address: PROVIDER_ADDRESS,
    binary: "terraform-provider-mixpanel",
    version: env!("CARGO_PKG_VERSION"),
};

/// What the provider announces: `PlanResourceChange` is called for destroys too, and Terraform
/// may cache the schema instead of asking every process for it.
pub fn server_capabilities() -> ServerCapabilities {
    ServerCapabilities {
        plan_destroy: true,
        get_provider_schema_optional: true,
        move_resource_state: false,
        generate_resource_config: false,
    }
}

struct Entry<T: ?Sized> {
    imp: Arc<T>,
    schema: Schema,
    ty: Type,
}

struct Catalog {
    provider: Schema,
    provider_ty: Type,
    resources: HashMap<&'static str, Entry<dyn Resource<Ctx>>>,
    data_sources: HashMap<&'static str, Entry<dyn DataSource<Ctx>>>,
    ephemerals: HashMap<&'static str, Entry<dyn EphemeralResource<Ctx>>>,
}

impl Catalog {
    fn build() -> Catalog {
        let provider = provider_config::schema();
        let provider_ty = provider.cty_type();
        let resources = resources::all()
            .into_iter()
            .map(|r| {
                let schema = r.schema();
                let ty = schema.cty_type();
                (r.type_name(), Entry { imp: r, schema, ty })
            })
            .collect();
        let data_sources = data_sources::all()
            .into_iter()
            .map(|d| {
                let schema = d.schema();
                let ty = schema.cty_type();
                (d.type_name(), Entry { imp: d, schema, ty })
            })
            .collect();
        let ephemerals = ephemeral::all()
            .into_iter()
            .map(|e| {
                let schema = e.schema();
                let ty = schema.cty_type();
                (e.type_name(), Entry { imp: e, schema, ty })
            })
            .collect();
        Catalog {
            provider,
            provider_ty,
            resources,
            data_sources,
            ephemerals,
        }
    }
}

/// The Mixpanel provider.
pub struct MixpanelProvider {
    /// Cancelled when Terraform calls `StopProvider`; in-flight API work watches it.
    stop: CancellationToken,
    /// Built on first use, not before the handshake.
    catalog: OnceLock<Catalog>,
    ctx: RwLock<Option<SharedCtx>>,
}

impl std::fmt::Debug for MixpanelProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MixpanelProvider").finish_non_exhaustive()
    }
}

impl MixpanelProvider {
    /// Cheap: runs before the handshake.
    pub fn new(stop: CancellationToken) -> Self {
        Self {
            stop,
            catalog: OnceLock::new(),
            ctx: RwLock::new(None),
        }
    }

    fn catalog(&self) -> &Catalog {
        self.catalog.get_or_init(Catalog::build)
    }

    fn resource(&self, name: &str) -> Result<&Entry<dyn Resource<Ctx>>, Diagnostics> {
        self.catalog().resources.get(name).ok_or_else(|| {
            Diagnostic::error(
                "Unknown resource type",
                format!("This provider has no resource type {name}"),
            )
            .into()
        })
    }

    fn data_source(&self, name: &str) -> Result<&Entry<dyn DataSource<Ctx>>, Diagnostics> {
        self.catalog().data_sources.get(name).ok_or_else(|| {
            Diagnostic::error(
                "Unknown data source",
                format!("This provider has no data source {name}"),
            )
            .into()
        })
    }

    fn ephemeral(&self, name: &str) -> Result<&Entry<dyn EphemeralResource<Ctx>>, Diagnostics> {
        self.catalog().ephemerals.get(name).ok_or_else(|| {
            Diagnostic::error(
                "Unknown ephemeral resource",
                format!("This provider has no ephemeral resource type {name}"),
            )
            .into()
        })
    }

    fn ctx(&self) -> Result<SharedCtx, Diagnostics> {
        self.ctx.read().ok().and_then(|c| c.clone()).ok_or_else(|| {
            Diagnostic::error(
                "Provider not configured",
                "Terraform did not configure the mixpanel provider before using it.",
            )
            .into()
        })
    }

    /// [`Self::cancellable`] for a create or an update.
    async fn cancellable_apply(
        &self,
        work: impl Future<Output = Result<Value, ApplyError>>,
    ) -> Result<Value, ApplyError> {
        tokio::select! {
            r = work => r,
            _ = self.stop.cancelled() => Err(cancelled().into()),
        }
    }

    /// A value computed from a configuration (a data source's read, an ephemeral resource's
    /// open), unless Terraform asks the provider to stop first.
    async fn computed_from_config<F, Fut>(
        &self,
        ty: &Type,
        config: Option<&DynamicValue>,
        work: F,
    ) -> Result<Option<DynamicValue>, Diagnostics>
    where
        F: FnOnce(SharedCtx, Value) -> Fut,
        Fut: Future<Output = Result<Value, Diagnostics>>,
    {
        let config = decode(config, ty)?;
        let ctx = self.ctx()?;
        let value = self.cancellable(work(ctx, config)).await?;
        encode(&value, ty)
    }

    /// Runs an operation unless Terraform asks the provider to stop first.
    async fn cancellable<T>(
        &self,
        work: impl Future<Output = Result<T, Diagnostics>>,
    ) -> Result<T, Diagnostics> {
        tokio::select! {
            r = work => r,
            _ = self.stop.cancelled() => Err(cancelled().into()),
        }
    }
}

fn cancelled() -> Diagnostic {
    Diagnostic::error(
        "Operation cancelled",
        "Terraform asked the provider to stop; the change may be partly applied, so run plan again to see where it stands.",
    )
}

/// A configuration checked against its schema's validators and the type's own checks.
fn validated<T: ?Sized>(
    entry: Result<&Entry<T>, Diagnostics>,
    config: Option<&DynamicValue>,
    check: impl FnOnce(&T, &Value) -> Diagnostics,
) -> Diagnostics {
    let t = match entry {
        Ok(t) => t,
        Err(d) => return d,
    };
    match decode(config, &t.ty) {
        Ok(cfg) => {
            let mut d = validate_config(&t.schema.attributes, &cfg);
            d.extend(check(&t.imp, &cfg));
            d
        }
        Err(d) => d,
    }
}

fn decode(v: Option<&DynamicValue>, ty: &Type) -> Result<Value, Diagnostics> {
    convert::decode(v, ty).map_err(Diagnostics::from)
}

fn encode(v: &Value, ty: &Type) -> Result<Option<DynamicValue>, Diagnostics> {
    convert::encode(v, ty).map(Some).map_err(Diagnostics::from)
}

/// A read or applied state in the form Terraform already holds: where a case-insensitive
/// attribute (an e-mail) differs from `before` only in case, the spelling of `before` stays;
/// where a computed-only attribute that `before` knows was not given back, `before`'s stays.
fn keep_spelling(schema: &Schema, before: &Value, new: &mut Value) {
    if before.is_null() || new.is_null() {
        return;
    }
    for a in schema.attributes.iter().filter(|a| a.case_insensitive) {
        if let (Some(b), Some(n)) = (before.get_attr(&a.name), new.get_attr(&a.name)) {
            if b != n && b.is_known() && !b.is_null() && a.same_value(b, n) {
                let keep = b.clone();
                new.set_attr(&a.name, keep);
            }
        }
    }
}

/// Checks an applied state against the plan. A configured attribute that Mixpanel does not
/// hold as planned is an error naming it (the state then records what Mixpanel holds, so the
/// next plan shows the difference); a computed-only attribute that moved on its own since the
/// plan (an invitation accepted meanwhile) keeps its planned value until the next refresh, as
/// Terraform requires.
fn verify_applied(schema: &Schema, planned: &Value, new: &mut Value) -> Diagnostics {
    let mut d = Diagnostics::new();
    for a in schema.attributes.iter().filter(|a| !a.write_only) {
        let (Some(p), Some(n)) = (planned.get_attr(&a.name), new.get_attr(&a.name)) else {
            continue;
        };
        if !p.is_known() || a.same_value(p, n) {
            continue;
        }
        if a.required || a.optional {
            let show = |v: &Value| {
                if a.sensitive {
                    "(sensitive value)".to_string()
                } else if v.is_null() {
                    "null".to_string()
                } else {
                    v.as_str()
                        .map(|s| format!("\"{s}\""))
                        .unwrap_or_else(|| format!("{v:?}"))
                }
            };
            d.push(Diagnostic::attr_error(
                &a.name,
                "Mixpanel does not hold what was applied",
                format!(
                    "After the change Mixpanel reports {} = {}, not {} as planned. The state records what Mixpanel holds; run plan to see the difference, and check the provider account's role or make the change in Mixpanel's web app.",
                    a.name,
                    show(n),
                    show(p)
                ),
            ));
        } else {
            let keep = p.clone();
            new.set_attr(&a.name, keep);
        }
    }
    d
}

/// Write-only attributes never reach state.
fn strip_write_only(schema: &Schema, v: &mut Value) {
    for a in schema.attributes.iter().filter(|a| a.write_only) {
        v.set_attr(&a.name, Value::Null);
    }
}

fn diags_of<T>(r: &Result<T, Diagnostics>) -> Diagnostics {
    match r {
        Ok(_) => Diagnostics::new(),
        Err(d) => d.clone(),
    }
}

#[tonic::async_trait]
impl ProviderHandler for MixpanelProvider {
    async fn get_metadata(&self, _r: get_metadata::Request) -> RpcResult<get_metadata::Response> {
        let c = self.catalog();
        Ok(get_metadata::Response {
            server_capabilities: Some(server_capabilities()),
            resources: c
                .resources
                .keys()
                .map(|n| get_metadata::ResourceMetadata {
                    type_name: n.to_string(),
                })
                .collect(),
            data_sources: c
                .data_sources
                .keys()
                .map(|n| get_metadata::DataSourceMetadata {
                    type_name: n.to_string(),
                })
                .collect(),
            ephemeral_resources: c
                .ephemerals
                .keys()
                .map(|n| get_metadata::EphemeralMetadata {
                    type_name: n.to_string(),
                })
                .collect(),
            ..Default::default()
        })
    }

    async fn get_provider_schema(
        &self,
        _r: get_provider_schema::Request,
    ) -> RpcResult<get_provider_schema::Response> {
        let c = self.catalog();
        Ok(get_provider_schema::Response {
            provider: Some(convert::schema(&c.provider)),
            resource_schemas: c
                .resources
                .iter()
                .map(|(n, t)| (n.to_string(), convert::schema(&t.schema)))
                .collect(),
            data_source_schemas: c
                .data_sources
                .iter()
                .map(|(n, t)| (n.to_string(), convert::schema(&t.schema)))
                .collect(),
            ephemeral_resource_schemas: c
                .ephemerals
                .iter()
                .map(|(n, t)| (n.to_string(), convert::schema(&t.schema)))
                .collect(),
            server_capabilities: Some(server_capabilities()),
            ..Default::default()
        })
    }

    async fn get_resource_identity_schemas(
        &self,
        _r: get_resource_identity_schemas::Request,
    ) -> RpcResult<get_resource_identity_schemas::Response> {
        Ok(get_resource_identity_schemas::Response::default())
    }

    async fn validate_provider_config(
        &self,
        r: validate_provider_config::Request,
    ) -> RpcResult<validate_provider_config::Response> {
        let c = self.catalog();
        let d = match decode(r.config.as_ref(), &c.provider_ty) {
            Ok(cfg) => validate_config(&c.provider.attributes, &cfg),
            Err(d) => d,
        };
        Ok(validate_provider_config::Response {
            diagnostics: convert::diagnostics(d),
        })
    }

    async fn configure_provider(
        &self,
        r: configure_provider::Request,
    ) -> RpcResult<configure_provider::Response> {
        // The configuration holds the secret: never log it.
        let c = self.catalog();
        let result = match decode(r.config.as_ref(), &c.provider_ty).and_then(|cfg| {
            let d = validate_config(&c.provider.attributes, &cfg);
            if d.has_errors() {
                return Err(d);
            }
            let vault = provider_config::vault_config(&cfg)?;
            provider_config::configure(&cfg).map(|(client, org)| (client, org, vault))
        }) {
            Ok((client, org, vault)) => {
                self.cancellable(async move {
                    let ctx =
                        provider_config::connect_within(client, org, CONFIGURE_BUDGET).await?;
                    match vault {
                        Some(v) => Ok(ctx.with_vault(provider_config::connect_vault(v).await?)),
                        None => Ok(ctx),
                    }
                })
                .await
            }
            Err(d) => Err(d),
        }
        .map(|ctx| {
            if let Ok(mut slot) = self.ctx.write() {
                *slot = Some(Arc::new(ctx));
            }
        });
        tracing::debug!(terraform_version = %r.terraform_version, ok = result.is_ok(), "provider configured");
        Ok(configure_provider::Response {
            diagnostics: convert::diagnostics(diags_of(&result)),
        })
    }

    async fn validate_resource_config(
        &self,
        r: validate_resource_config::Request,
    ) -> RpcResult<validate_resource_config::Response> {
        let d = validated(self.resource(&r.type_name), r.config.as_ref(), |t, c| {
            t.validate(c)
        });
        Ok(validate_resource_config::Response {
            diagnostics: convert::diagnostics(d),
        })
    }

    async fn validate_data_resource_config(
        &self,
        r: validate_data_resource_config::Request,
    ) -> RpcResult<validate_data_resource_config::Response> {
        let d = validated(self.data_source(&r.type_name), r.config.as_ref(), |t, c| {
            t.validate(c)
        });
        Ok(validate_data_resource_config::Response {
            diagnostics: convert::diagnostics(d),
        })
    }

    async fn upgrade_resource_state(
        &self,
        r: upgrade_resource_state::Request,
    ) -> RpcResult<upgrade_resource_state::Response> {
        let result = (|| {
            let t = self.resource(&r.type_name)?;
            let raw = r
                .raw_state
                .as_ref()
                .map(|s| s.json.as_slice())
                .unwrap_or(&[]);
            if raw.is_empty() {
                return Err(Diagnostic::error(
                    "Cannot upgrade state",
                    "The stored state has no JSON form (legacy flatmap state is not supported).",
                )
                .into());
            }
            let json: serde_json::Value = serde_json::from_slice(raw).map_err(|e| {
                Diagnostics::from(Diagnostic::error(
                    "Stored state is not valid JSON",
                    e.to_string(),
                ))
            })?;
            let upgraded = t.imp.upgrade_state(r.version, json)?;
            let bytes = serde_json::to_vec(&upgraded).map_err(|e| {
                Diagnostics::from(Diagnostic::error(
                    "Cannot encode upgraded state",
                    e.to_string(),
                ))
            })?;
            let value = cty::decode_json(&bytes, &t.ty).map_err(|e| {
                Diagnostics::from(Diagnostic::error(
                    "Stored state does not match the schema",
                    e.to_string(),
                ))
            })?;
            encode(&value, &t.ty)
        })();
        let diagnostics = convert::diagnostics(diags_of(&result));
        Ok(upgrade_resource_state::Response {
            upgraded_state: result.ok().flatten(),
            diagnostics,
        })
    }

    async fn read_resource(&self, r: read_resource::Request) -> RpcResult<read_resource::Response> {
        let result = async {
            let t = self.resource(&r.type_name)?;
            let state = decode(r.current_state.as_ref(), &t.ty)?;
            if state.is_null() {
                return encode(&Value::Null, &t.ty);
            }
            let ctx = self.ctx()?;
            let mut new = self
                .cancellable(t.imp.read(&ctx, &state))
                .await?
                .unwrap_or(Value::Null);
            keep_spelling(&t.schema, &state, &mut new);
            encode(&new, &t.ty)
        }
        .await;
        match result {
            Ok(new_state) => Ok(read_resource::Response {
                new_state,
                private: r.private,
                ..Default::default()
            }),
            // On failure Terraform keeps the state it had.
            Err(d) => Ok(read_resource::Response {
                new_state: r.current_state,
                private: r.private,
                diagnostics: convert::diagnostics(d),
                ..Default::default()
            }),
        }
    }

    async fn plan_resource_change(
        &self,
        r: plan_resource_change::Request,
    ) -> RpcResult<plan_resource_change::Response> {
        let result = (|| {
            let t = self.resource(&r.type_name)?;
            let prior = decode(r.prior_state.as_ref(), &t.ty)?;
            let proposed = decode(r.proposed_new_state.as_ref(), &t.ty)?;
            let config = decode(r.config.as_ref(), &t.ty)?;
            let mut p = plan(&t.schema, &prior, &proposed, &config);
            let d = t.imp.modify_plan(&prior, &config, &mut p);
            if d.has_errors() {
                return Err(d);
            }
            let planned = encode(&p.planned, &t.ty)?;
            // A create (or a replacement) records what already exists for it.
            let creates =
                !p.planned.is_null() && (prior.is_null() || !p.requires_replace.is_empty());
            Ok((
                planned,
                p.requires_replace,
                d,
                creates.then_some((t, prior, p.planned)),
            ))
        })();
        let result = match result {
            Ok((planned, replace, d, Some((t, prior, value)))) => {
                let private = match self.ctx() {
                    Ok(ctx) => self
                        .cancellable(async { Ok(t.imp.plan_private(&ctx, &prior, &value).await) })
                        .await
                        .ok()
                        .flatten(),
                    Err(_) => None,
                };
                Ok((planned, replace, d, private))
            }
            Ok((planned, replace, d, None)) => Ok((planned, replace, d, None)),
            Err(d) => Err(d),
        };
        Ok(match result {
            Ok((planned_state, replace, d, private)) => plan_resource_change::Response {
                planned_state,
                requires_replace: replace.iter().map(convert::path).collect(),
                planned_private: private.unwrap_or(r.prior_private),
                diagnostics: convert::diagnostics(d),
                ..Default::default()
            },
            Err(d) => plan_resource_change::Response {
                diagnostics: convert::diagnostics(d),
                ..Default::default()
            },
        })
    }

    async fn apply_resource_change(
        &self,
        r: apply_resource_change::Request,
    ) -> RpcResult<apply_resource_change::Response> {
        let t = match self.resource(&r.type_name) {
            Ok(t) => t,
            Err(d) => {
                return Ok(apply_resource_change::Response {
                    new_state: r.prior_state,
                    diagnostics: convert::diagnostics(d),
                    ..Default::default()
                })
            }
        };
        let created = decode(r.prior_state.as_ref(), &t.ty).is_ok_and(|v| v.is_null());
        let result: Result<Value, ApplyError> = async {
            let prior = decode(r.prior_state.as_ref(), &t.ty)?;
            let planned = decode(r.planned_state.as_ref(), &t.ty)?;
            let ctx = self.ctx()?;
            if planned.is_null() {
                self.cancellable(t.imp.delete(&ctx, &prior)).await?;
                return Ok(Value::Null);
            }
            let applied = if prior.is_null() {
                let private = r.planned_private.clone();
                self.cancellable_apply(with_planned_private(private, t.imp.create(&ctx, &planned)))
                    .await
            } else {
                self.cancellable_apply(t.imp.update(&ctx, &prior, &planned))
                    .await
            };
            let finish = |mut v: Value| {
                keep_spelling(&t.schema, &planned, &mut v);
                strip_write_only(&t.schema, &mut v);
                v
            };
            match applied {
                Ok(new) => {
                    let mut new = finish(new);
                    let d = verify_applied(&t.schema, &planned, &mut new);
                    if d.has_errors() {
                        Err(ApplyError::partial(Some(new), d))
                    } else {
                        Ok(new)
                    }
                }
                Err(e) => Err(ApplyError {
                    state: e.state.map(finish),
                    diags: e.diags,
                }),
            }
        }
        .await;
        Ok(match result {
            Ok(new) => match encode(&new, &t.ty) {
                // A create's private state served the create only.
                Ok(new_state) => apply_resource_change::Response {
                    new_state,
                    private: if created {
                        Vec::new()
                    } else {
                        r.planned_private
                    },
                    ..Default::default()
                },
                Err(d) => apply_resource_change::Response {
                    new_state: r.prior_state,
                    diagnostics: convert::diagnostics(d),
                    ..Default::default()
                },
            },
            Err(e) => {
                let mut diags = e.diags;
                // What exists despite the failure is recorded (a failed create is tainted);
                // with nothing known, a failed create leaves nothing and a failed update or
                // delete keeps the prior state.
                let new_state = match e.state.map(|s| encode(&s, &t.ty)) {
                    Some(Ok(s)) => s,
                    Some(Err(d)) => {
                        diags.extend(d);
                        r.prior_state
                    }
                    None => r.prior_state,
                };
                apply_resource_change::Response {
                    new_state,
                    private: if created {
                        Vec::new()
                    } else {
                        r.planned_private
                    },
                    diagnostics: convert::diagnostics(diags),
                    ..Default::default()
                }
            }
        })
    }

    async fn import_resource_state(
        &self,
        r: import_resource_state::Request,
    ) -> RpcResult<import_resource_state::Response> {
        let result = async {
            let t = self.resource(&r.type_name)?;
            let ctx = self.ctx()?;
            let state = self.cancellable(t.imp.import(&ctx, &r.id)).await?;
            encode(&state, &t.ty)
        }
        .await;
        Ok(match result {
            Ok(state) => import_resource_state::Response {
                imported_resources: vec![import_resource_state::ImportedResource {
                    type_name: r.type_name,
                    state,
                    ..Default::default()
                }],
                ..Default::default()
            },
            Err(d) => import_resource_state::Response {
                diagnostics: convert::diagnostics(d),
                ..Default::default()
            },
        })
    }

    async fn validate_ephemeral_resource_config(
        &self,
        r: validate_ephemeral_resource_config::Request,
    ) -> RpcResult<validate_ephemeral_resource_config::Response> {
        let d = validated(self.ephemeral(&r.type_name), r.config.as_ref(), |t, c| {
            t.validate(c)
        });
        Ok(validate_ephemeral_resource_config::Response {
            diagnostics: convert::diagnostics(d),
        })
    }

    /// The value is computed here and handed to Terraform, which keeps it in memory only.
    async fn open_ephemeral_resource(
        &self,
        r: open_ephemeral_resource::Request,
    ) -> RpcResult<open_ephemeral_resource::Response> {
        let result = async {
            let t = self.ephemeral(&r.type_name)?;
            self.computed_from_config(&t.ty, r.config.as_ref(), |ctx, config| async move {
                t.imp.open(&ctx, &config).await
            })
            .await
        }
        .await;
        Ok(match result {
            Ok(result) => open_ephemeral_resource::Response {
                result,
                ..Default::default()
            },
            Err(d) => open_ephemeral_resource::Response {
                diagnostics: convert::diagnostics(d),
                ..Default::default()
            },
        })
    }

    /// Nothing to renew: the value is read whole at open.
    async fn renew_ephemeral_resource(
        &self,
        _r: renew_ephemeral_resource::Request,
    ) -> RpcResult<renew_ephemeral_resource::Response> {
        Ok(renew_ephemeral_resource::Response::default())
    }

    /// Nothing to release: no lease is taken at open.
    async fn close_ephemeral_resource(
        &self,
        _r: close_ephemeral_resource::Request,
    ) -> RpcResult<close_ephemeral_resource::Response> {
        Ok(close_ephemeral_resource::Response::default())
    }

    async fn read_data_source(
        &self,
        r: read_data_source::Request,
    ) -> RpcResult<read_data_source::Response> {
        let result = async {
            let t = self.data_source(&r.type_name)?;
            self.computed_from_config(&t.ty, r.config.as_ref(), |ctx, config| async move {
                t.imp.read(&ctx, &config).await
            })
            .await
        }
        .await;
        Ok(match result {
            Ok(state) => read_data_source::Response {
                state,
                ..Default::default()
            },
            Err(d) => read_data_source::Response {
                diagnostics: convert::diagnostics(d),
                ..Default::default()
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities() {
        let c = server_capabilities();
        assert!(c.plan_destroy && c.get_provider_schema_optional);
    }

    /// Attribute names live in the schema and the model struct only: they must agree.
    #[test]
    fn every_resource_model_matches_its_schema() {
        let c = Catalog::build();
        for (name, t) in &c.resources {
            let mut fields = t
                .imp
                .model_fields()
                .unwrap_or_else(|| panic!("{name} has no model"));
            let mut attrs: Vec<&str> = t
                .schema
                .attributes
                .iter()
                .map(|a| a.name.as_str())
                .collect();
            fields.sort_unstable();
            attrs.sort_unstable();
            assert_eq!(
                fields, attrs,
                "{name}: model fields and schema attributes differ"
            );
        }
    }

    #[test]
    fn every_type_has_a_schema_that_encodes() {
        let c = Catalog::build();
        assert_eq!(c.resources.len(), 16);
        assert_eq!(c.data_sources.len(), 8);
        for (name, t) in &c.resources {
            assert!(name.starts_with("mixpanel_"));
            let s = convert::schema(&t.schema);
            assert!(s.block.is_some());
            assert!(t.schema.attribute("id").is_some(), "{name} has an id");
            // A null object of the type encodes.
            assert!(
                cty::encode(&Value::null_attrs_of(&t.ty), &t.ty).is_ok(),
                "{name}"
            );
        }
        let secret = c
            .provider
            .attribute("service_account_secret")
            .expect("secret");
        assert!(secret.sensitive);
    }
}
