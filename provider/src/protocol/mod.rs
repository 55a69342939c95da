//! The protocol layer: tfplugin6 over gRPC, as go-plugin serves it to Terraform.
//!
//! Kept apart from the resources. The provider framework plugs in through one seam,
//! [`ProviderHandler`] (plain request/response messages, every RPC defaulting to `Unimplemented`);
//! everything else here is transport:
//!
//! - [`handshake`]: magic cookie, protocol negotiation, the stdout handshake line, reattach JSON;
//! - [`tls`]: AutoMTLS (server certificate, pinned Terraform client certificate, ALPN `h2`);
//! - [`listener`]: the private unix socket and the accepted-connection stream;
//! - [`server`]: one tonic server with Provider, GRPCController, GRPCStdio and health;
//! - [`run`]: the binary's `main` (arguments, signals, exit codes);
//! - [`proto`]: the generated protocol types.

pub mod handler;
pub mod handshake;
pub mod listener;
pub mod logging;
pub mod plugin_services;
pub mod proto;
pub mod run;
pub mod server;
pub mod tls;

pub use handler::{ProviderHandler, ProviderService, RpcResult, RpcStream};
pub use proto::tfplugin6;
pub use run::{run, ProviderInfo};
pub use server::{start, RunningServer, ServeError, ServeOptions, Transport};
