//! The seam between the protocol layer and the provider framework.
//!
//! [`ProviderHandler`] mirrors the tfplugin6 `Provider` service with plain protobuf messages: no
//! `tonic::Request` wrappers, no metadata. Every method has a default body that answers
//! `Unimplemented`, so an implementation overrides only the RPCs it supports (Terraform treats
//! `Unimplemented` from the RPCs added after 6.8 as "feature not offered").
//!
//! [`ProviderService`] adapts a handler to the generated tonic service. Around every call it
//! - runs the handler inside a tracing span named after the RPC and logs its duration,
//! - turns a panic in the handler into `Status::internal` instead of a dropped stream,
//! - for `StopProvider`, cancels the process-wide stop token *before* calling the handler, so
//!   in-flight work observing the token is cancelled even if the handler does nothing.
//!
//! Errors: a handler should report user-facing problems as diagnostics in the response and keep
//! `Err(Status)` for protocol-level failures (Terraform shows a bare gRPC error as "Plugin error").

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status, Streaming};
use tracing::Instrument;

use super::proto::tfplugin6::provider_server::Provider;
use super::proto::tfplugin6::{
    apply_resource_change, call_function, close_ephemeral_resource, configure_provider,
    configure_state_store, delete_state, generate_resource_config, get_functions, get_metadata,
    get_provider_schema, get_resource_identity_schemas, get_states, import_resource_state,
    invoke_action, list_resource, lock_state, move_resource_state, open_ephemeral_resource,
    plan_action, plan_resource_change, read_data_source, read_resource, read_state_bytes,
    renew_ephemeral_resource, stop_provider, unlock_state, upgrade_resource_identity,
    upgrade_resource_state, validate_action_config, validate_data_resource_config,
    validate_ephemeral_resource_config, validate_list_resource_config, validate_provider_config,
    validate_resource_config, validate_state_store, write_state_bytes,
};

/// Result of one RPC handled by a [`ProviderHandler`].
pub type RpcResult<T> = Result<T, Status>;

/// The response stream of a server-streaming RPC (`ListResource`, `InvokeAction`,
/// `ReadStateBytes`).
pub type RpcStream<T> = tonic::codegen::BoxStream<T>;

fn not_implemented(rpc: &str) -> Status {
    Status::unimplemented(format!(
        "terraform-provider-mixpanel does not implement the {rpc} RPC"
    ))
}

/// Declares the handler trait and the adapter's delegation for every unary RPC in one place, so
/// the two cannot drift apart. Streaming RPCs and `StopProvider` are written out below.
macro_rules! provider_rpcs {
    ($( $(#[$doc:meta])* $method:ident => $rpc:literal ($module:ident) ),* $(,)?) => {
        /// What the provider framework implements: one async method per tfplugin6 RPC, taking the
        /// request message and returning the response message. Defaults answer `Unimplemented`.
        ///
        /// Implementations must be cheap to construct (the process is started several times per
        /// Terraform command and nothing slow may run before the handshake) and must tolerate
        /// concurrent calls and repeated `ConfigureProvider` calls (debug/reattach mode sends one
        /// per provider configuration and walk to the same process).
        #[tonic::async_trait]
        pub trait ProviderHandler: Send + Sync + 'static {
            $(
                $(#[$doc])*
                async fn $method(&self, request: $module::Request) -> RpcResult<$module::Response> {
                    let _ = request;
                    Err(not_implemented($rpc))
                }
            )*

            /// `ListResource` (6.10, server stream).
            async fn list_resource(
                &self,
                request: list_resource::Request,
            ) -> RpcResult<RpcStream<list_resource::Event>> {
                let _ = request;
                Err(not_implemented("ListResource"))
            }

            /// `ReadStateBytes` (6.10 state stores, server stream).
            async fn read_state_bytes(
                &self,
                request: read_state_bytes::Request,
            ) -> RpcResult<RpcStream<read_state_bytes::Response>> {
                let _ = request;
                Err(not_implemented("ReadStateBytes"))
            }

            /// `WriteStateBytes` (6.10 state stores, client stream).
            async fn write_state_bytes(
                &self,
                chunks: Streaming<write_state_bytes::RequestChunk>,
            ) -> RpcResult<write_state_bytes::Response> {
                let _ = chunks;
                Err(not_implemented("WriteStateBytes"))
            }

            /// `InvokeAction` (6.10 actions, server stream).
            async fn invoke_action(
                &self,
                request: invoke_action::Request,
            ) -> RpcResult<RpcStream<invoke_action::Event>> {
                let _ = request;
                Err(not_implemented("InvokeAction"))
            }

            /// `StopProvider`: called after the adapter has already cancelled the stop token that
            /// was handed to the handler at construction. The default answers with no error.
            async fn stop_provider(
                &self,
                request: stop_provider::Request,
            ) -> RpcResult<stop_provider::Response> {
                let _ = request;
                Ok(stop_provider::Response::default())
            }
        }

        #[tonic::async_trait]
        impl<H: ProviderHandler + ?Sized> Provider for ProviderService<H> {
            $(
                async fn $method(
                    &self,
                    request: Request<$module::Request>,
                ) -> Result<Response<$module::Response>, Status> {
                    self.call($rpc, self.handler.$method(request.into_inner())).await.map(Response::new)
                }
            )*

            async fn list_resource(
                &self,
                request: Request<list_resource::Request>,
            ) -> Result<Response<RpcStream<list_resource::Event>>, Status> {
                self.call("ListResource", self.handler.list_resource(request.into_inner()))
                    .await
                    .map(Response::new)
            }

            async fn read_state_bytes(
                &self,
                request: Request<read_state_bytes::Request>,
            ) -> Result<Response<RpcStream<read_state_bytes::Response>>, Status> {
                self.call("ReadStateBytes", self.handler.read_state_bytes(request.into_inner()))
                    .await
                    .map(Response::new)
            }

            async fn write_state_bytes(
                &self,
                request: Request<Streaming<write_state_bytes::RequestChunk>>,
            ) -> Result<Response<write_state_bytes::Response>, Status> {
                self.call("WriteStateBytes", self.handler.write_state_bytes(request.into_inner()))
                    .await
                    .map(Response::new)
            }

            async fn invoke_action(
                &self,
                request: Request<invoke_action::Request>,
            ) -> Result<Response<RpcStream<invoke_action::Event>>, Status> {
                self.call("InvokeAction", self.handler.invoke_action(request.into_inner()))
                    .await
                    .map(Response::new)
            }

            async fn stop_provider(
                &self,
                request: Request<stop_provider::Request>,
            ) -> Result<Response<stop_provider::Response>, Status> {
                tracing::info!("StopProvider: cancelling in-flight work");
                self.stop.cancel();
                self.call("StopProvider", self.handler.stop_provider(request.into_inner()))
                    .await
                    .map(Response::new)
            }
        }
    };
}

provider_rpcs! {
    /// `GetMetadata` (6.4): capabilities and type names without full schemas.
    get_metadata => "GetMetadata" (get_metadata),
    /// `GetProviderSchema`: provider, resource, data source, ... schemas and capabilities.
    get_provider_schema => "GetProviderSchema" (get_provider_schema),
    /// `ValidateProviderConfig`: the `provider` block, possibly with unknown values.
    validate_provider_config => "ValidateProviderConfig" (validate_provider_config),
    /// `ValidateResourceConfig`: one managed resource's configuration.
    validate_resource_config => "ValidateResourceConfig" (validate_resource_config),
    /// `ValidateDataResourceConfig`: one data source's configuration.
    validate_data_resource_config => "ValidateDataResourceConfig" (validate_data_resource_config),
    /// `UpgradeResourceState`: stored state (raw JSON) to the current schema.
    upgrade_resource_state => "UpgradeResourceState" (upgrade_resource_state),
    /// `GetResourceIdentitySchemas` (6.9).
    get_resource_identity_schemas => "GetResourceIdentitySchemas" (get_resource_identity_schemas),
    /// `UpgradeResourceIdentity` (6.9).
    upgrade_resource_identity => "UpgradeResourceIdentity" (upgrade_resource_identity),
    /// `ConfigureProvider`: may be called more than once per process (reattach mode).
    configure_provider => "ConfigureProvider" (configure_provider),
    /// `ReadResource`: refresh; a null new state means "gone".
    read_resource => "ReadResource" (read_resource),
    /// `PlanResourceChange`.
    plan_resource_change => "PlanResourceChange" (plan_resource_change),
    /// `ApplyResourceChange`.
    apply_resource_change => "ApplyResourceChange" (apply_resource_change),
    /// `ImportResourceState`.
    import_resource_state => "ImportResourceState" (import_resource_state),
    /// `MoveResourceState` (6.5).
    move_resource_state => "MoveResourceState" (move_resource_state),
    /// `ReadDataSource`.
    read_data_source => "ReadDataSource" (read_data_source),
    /// `GenerateResourceConfig` (6.10).
    generate_resource_config => "GenerateResourceConfig" (generate_resource_config),
    /// `ValidateEphemeralResourceConfig` (6.7).
    validate_ephemeral_resource_config => "ValidateEphemeralResourceConfig" (validate_ephemeral_resource_config),
    /// `OpenEphemeralResource` (6.7).
    open_ephemeral_resource => "OpenEphemeralResource" (open_ephemeral_resource),
    /// `RenewEphemeralResource` (6.7).
    renew_ephemeral_resource => "RenewEphemeralResource" (renew_ephemeral_resource),
    /// `CloseEphemeralResource` (6.7).
    close_ephemeral_resource => "CloseEphemeralResource" (close_ephemeral_resource),
    /// `ValidateListResourceConfig` (6.10).
    validate_list_resource_config => "ValidateListResourceConfig" (validate_list_resource_config),
    /// `GetFunctions` (6.5).
    get_functions => "GetFunctions" (get_functions),
    /// `CallFunction` (6.5).
    call_function => "CallFunction" (call_function),
    /// `ValidateStateStoreConfig` (6.10).
    validate_state_store_config => "ValidateStateStoreConfig" (validate_state_store),
    /// `ConfigureStateStore` (6.10).
    configure_state_store => "ConfigureStateStore" (configure_state_store),
    /// `LockState` (6.10).
    lock_state => "LockState" (lock_state),
    /// `UnlockState` (6.10).
    unlock_state => "UnlockState" (unlock_state),
    /// `GetStates` (6.10).
    get_states => "GetStates" (get_states),
    /// `DeleteState` (6.10).
    delete_state => "DeleteState" (delete_state),
    /// `PlanAction` (6.10).
    plan_action => "PlanAction" (plan_action),
    /// `ValidateActionConfig` (6.10).
    validate_action_config => "ValidateActionConfig" (validate_action_config),
}

/// The tonic `tfplugin6.Provider` service, delegating to a [`ProviderHandler`].
pub struct ProviderService<H: ?Sized> {
    handler: Arc<H>,
    stop: CancellationToken,
}

impl<H: ProviderHandler + ?Sized> ProviderService<H> {
    /// `stop` is cancelled when Terraform calls `StopProvider`; give the handler a clone of the same
    /// token so its in-flight work can observe it.
    pub fn new(handler: Arc<H>, stop: CancellationToken) -> Self {
        Self { handler, stop }
    }

    async fn call<T, F>(&self, rpc: &'static str, fut: F) -> RpcResult<T>
    where
        F: Future<Output = RpcResult<T>> + Send + Unpin,
    {
        let span = tracing::debug_span!("rpc", rpc);
        async move {
            let started = Instant::now();
            let result = match (CatchUnwind { inner: fut }).await {
                Ok(result) => result,
                Err(panic) => {
                    let what = panic_message(panic.as_ref());
                    tracing::error!(panic = %what, "handler panicked");
                    Err(Status::internal(format!(
                        "terraform-provider-mixpanel crashed while handling {rpc}: {what}. \
                         This is a bug in the provider; please report it."
                    )))
                }
            };
            let elapsed_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
            match &result {
                Ok(_) => tracing::debug!(elapsed_us, "ok"),
                Err(status) => {
                    tracing::debug!(elapsed_us, code = ?status.code(), message = status.message(), "error")
                }
            }
            result
        }
        .instrument(span)
        .await
    }
}

fn panic_message(panic: &(dyn Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_string()
    }
}

/// Polls a future inside `catch_unwind`, so a panicking handler answers with an error instead of
/// resetting the HTTP/2 stream. (The handler futures are boxed by `async_trait`, hence `Unpin`.)
struct CatchUnwind<F> {
    inner: F,
}

impl<F: Future + Unpin> Future for CatchUnwind<F> {
    type Output = Result<F::Output, Box<dyn Any + Send>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = &mut self.get_mut().inner;
        match std::panic::catch_unwind(AssertUnwindSafe(|| Pin::new(&mut *inner).poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Err(panic) => Poll::Ready(Err(panic)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Nothing;
    impl ProviderHandler for Nothing {}

    struct Panics;
    #[tonic::async_trait]
    impl ProviderHandler for Panics {
        async fn get_metadata(
            &self,
            _request: get_metadata::Request,
        ) -> RpcResult<get_metadata::Response> {
            panic!("boom")
        }
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("test runtime")
    }

    #[test]
    fn defaults_answer_unimplemented_with_the_rpc_name() {
        let service = ProviderService::new(Arc::new(Nothing), CancellationToken::new());
        let status = rt()
            .block_on(service.plan_resource_change(Request::new(Default::default())))
            .expect_err("unimplemented");
        assert_eq!(status.code(), tonic::Code::Unimplemented);
        assert!(status.message().contains("PlanResourceChange"));
    }

    #[test]
    fn stop_provider_cancels_the_token_even_with_the_default_handler() {
        let stop = CancellationToken::new();
        let service = ProviderService::new(Arc::new(Nothing), stop.clone());
        let response = rt()
            .block_on(service.stop_provider(Request::new(Default::default())))
            .expect("stop answers");
        assert!(response.into_inner().error.is_empty());
        assert!(stop.is_cancelled());
    }

    #[test]
    fn a_panicking_handler_becomes_an_internal_error() {
        let service: ProviderService<dyn ProviderHandler> =
            ProviderService::new(Arc::new(Panics), CancellationToken::new());
        let status = rt()
            .block_on(service.get_metadata(Request::new(Default::default())))
            .expect_err("panic is an error");
        assert_eq!(status.code(), tonic::Code::Internal);
        assert!(status.message().contains("GetMetadata"));
        assert!(status.message().contains("boom"));
    }
}
