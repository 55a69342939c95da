//! The floor provider: what any out-of-process provider costs Terraform, and nothing more.
//!
//! It runs on the provider crate's own protocol stack (`protocol::run`: the go-plugin handshake,
//! AutoMTLS, the tonic server, the same `ProviderHandler` seam) and serves the provider's real
//! schema (so the same configuration and state load), but it makes no API call and does no
//! provider work: configuration and validation answer nothing, `UpgradeResourceState` hands the
//! stored JSON back, `ReadResource` echoes the prior state and `PlanResourceChange` the proposed
//! one. A plan against it is Terraform's own cost of a 1,000-resource plan through a plugin;
//! the difference from a plan against the real provider is what the provider adds.
//!
//! The bench binary serves it itself: started (through a `dev_overrides` symlink) with
//! [`FLOOR_ENV`] set, `main` calls [`serve`] instead of benchmarking.

use std::process::ExitCode;

use terraform_provider_mixpanel::protocol::tfplugin6::{
    configure_provider, get_metadata, get_provider_schema, get_resource_identity_schemas,
    plan_resource_change, read_resource, upgrade_resource_state, validate_provider_config,
    validate_resource_config, DynamicValue,
};
use terraform_provider_mixpanel::protocol::{self, ProviderHandler, RpcResult};
use terraform_provider_mixpanel::provider::{MixpanelProvider, INFO};

/// Set (to anything) in the environment of a bench binary that Terraform starts as its provider.
pub const FLOOR_ENV: &str = "MIXPANEL_BENCH_FLOOR_PROVIDER";

/// Serves the floor provider as Terraform's plugin (the binary's whole run).
pub fn serve() -> ExitCode {
    protocol::run(INFO, |stop| Floor {
        schema: MixpanelProvider::new(stop),
    })
}

struct Floor {
    /// Only for the schema (static data, the same for both providers).
    schema: MixpanelProvider,
}

#[tonic::async_trait]
impl ProviderHandler for Floor {
    async fn get_metadata(&self, r: get_metadata::Request) -> RpcResult<get_metadata::Response> {
        self.schema.get_metadata(r).await
    }

    async fn get_provider_schema(
        &self,
        r: get_provider_schema::Request,
    ) -> RpcResult<get_provider_schema::Response> {
        self.schema.get_provider_schema(r).await
    }

    async fn get_resource_identity_schemas(
        &self,
        _r: get_resource_identity_schemas::Request,
    ) -> RpcResult<get_resource_identity_schemas::Response> {
        Ok(Default::default())
    }

    async fn validate_provider_config(
        &self,
        _r: validate_provider_config::Request,
    ) -> RpcResult<validate_provider_config::Response> {
        Ok(Default::default())
    }

    async fn configure_provider(
        &self,
        _r: configure_provider::Request,
    ) -> RpcResult<configure_provider::Response> {
        Ok(Default::default())
    }

    async fn validate_resource_config(
        &self,
        _r: validate_resource_config::Request,
    ) -> RpcResult<validate_resource_config::Response> {
        Ok(Default::default())
    }

    async fn upgrade_resource_state(
        &self,
        r: upgrade_resource_state::Request,
    ) -> RpcResult<upgrade_resource_state::Response> {
        // Terraform decodes a DynamicValue's JSON form as well as its msgpack form.
        let json = r.raw_state.map(|s| s.json).unwrap_or_default();
        Ok(upgrade_resource_state::Response {
            upgraded_state: Some(DynamicValue {
                msgpack: Vec::new(),
                json,
            }),
            ..Default::default()
        })
    }

    async fn read_resource(&self, r: read_resource::Request) -> RpcResult<read_resource::Response> {
        Ok(read_resource::Response {
            new_state: r.current_state,
            private: r.private,
            ..Default::default()
        })
    }

    async fn plan_resource_change(
        &self,
        r: plan_resource_change::Request,
    ) -> RpcResult<plan_resource_change::Response> {
        Ok(plan_resource_change::Response {
            planned_state: r.proposed_new_state,
            planned_private: r.prior_private,
            ..Default::default()
        })
    }
}
