//! One tonic server on a unix socket carrying every service Terraform talks to:
//! `tfplugin6.Provider`, `plugin.GRPCController`, `plugin.GRPCStdio` and `grpc.health.v1.Health`
//! (service `"plugin"` reported SERVING).
//!
//! [`start`] binds and spawns the server and returns a [`RunningServer`]: the caller prints the
//! handshake line (or the reattach JSON in debug mode) and then [`RunningServer::wait`]s. Usable
//! in-process too, e.g. to serve a test's provider for `TF_REATTACH_PROVIDERS`.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::CertificateDer;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::handler::{ProviderHandler, ProviderService};
use super::handshake;
use super::listener::{self, SocketDir};
use super::plugin_services::{Controller, Stdio};
use super::proto::plugin::grpc_controller_server::GrpcControllerServer;
use super::proto::plugin::grpc_stdio_server::GrpcStdioServer;
use super::proto::tfplugin6::provider_server::ProviderServer;
use super::tls::{self, ServerIdentity, TlsSetupError};

/// Largest gRPC message accepted or sent: 256 MiB, as Terraform and terraform-plugin-go use
/// (tonic's default decode limit is 4 MiB).
pub const MAX_MESSAGE_SIZE: usize = 256 << 20;

/// After a shutdown request, how long in-flight calls get before the server is dropped. Terraform
/// waits 2 s for the process to exit before killing it.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(1000);

/// How connections are secured.
#[derive(Debug, Clone)]
pub enum Transport {
    /// AutoMTLS: TLS with a fresh server certificate; only `client_cert` (Terraform's, from
    /// `PLUGIN_CLIENT_CERT`) may connect.
    MutualTls {
        /// The only client certificate accepted, DER.
        client_cert: CertificateDer<'static>,
    },
    /// No TLS: debug/reattach mode, or a host that disabled AutoMTLS.
    Plaintext,
}

/// Where and how to serve.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Connection security.
    pub transport: Transport,
    /// Directory in which to create the socket directory (default: the system temp dir).
    pub socket_base: Option<PathBuf>,
}

/// Why serving failed.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The socket could not be created.
    #[error("could not create the plugin socket: {0}")]
    Socket(#[from] io::Error),
    /// TLS could not be set up.
    #[error(transparent)]
    Tls(#[from] TlsSetupError),
    /// The gRPC server stopped with an error.
    #[error("the gRPC server failed: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// A server that is accepting connections.
#[derive(Debug)]
pub struct RunningServer {
    socket_dir: SocketDir,
    server_cert: Option<CertificateDer<'static>>,
    shutdown: CancellationToken,
    task: JoinHandle<Result<(), tonic::transport::Error>>,
}

/// Binds the socket, prepares TLS, and spawns the server on the current tokio runtime.
///
/// `stop` is the token [`ProviderService`] cancels on `StopProvider`; the handler should hold a
/// clone of it. Nothing slow happens here: a P-256 key, one signature, a socket.
pub async fn start<H: ProviderHandler + ?Sized>(
    handler: Arc<H>,
    stop: CancellationToken,
    options: ServeOptions,
) -> Result<RunningServer, ServeError> {
    let socket_dir = SocketDir::create(options.socket_base.as_deref())?;
    let socket = socket_dir.bind()?;

    let (tls_config, server_cert) = match options.transport {
        Transport::MutualTls { client_cert } => {
            let identity = ServerIdentity::generate()?;
            let cert = identity.cert.clone();
            let config = tls::server_config(identity, client_cert)?;
            (Some(Arc::new(config)), Some(cert))
        }
        Transport::Plaintext => (None, None),
    };

    let shutdown = CancellationToken::new();
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter
        .set_service_status("plugin", tonic_health::ServingStatus::Serving)
        .await;

    let provider = ProviderServer::new(ProviderService::new(handler, stop))
        .max_decoding_message_size(MAX_MESSAGE_SIZE)
        .max_encoding_message_size(MAX_MESSAGE_SIZE);
    let router = tonic::transport::Server::builder()
        .add_service(provider)
        .add_service(GrpcControllerServer::new(Controller::new(shutdown.clone())))
        .add_service(GrpcStdioServer::new(Stdio::new(shutdown.clone())))
        .add_service(health_service);

    let incoming = listener::incoming(socket, tls_config, shutdown.clone());
    let task = tokio::spawn(
        router.serve_with_incoming_shutdown(incoming, shutdown.clone().cancelled_owned()),
    );

    Ok(RunningServer {
        socket_dir,
        server_cert,
        shutdown,
        task,
    })
}

impl RunningServer {
    /// The unix socket the server listens on.
    pub fn socket_path(&self) -> &Path {
        self.socket_dir.socket_path()
    }

    /// The server certificate (DER) when serving with AutoMTLS.
    pub fn server_cert(&self) -> Option<&CertificateDer<'static>> {
        self.server_cert.as_ref()
    }

    /// The go-plugin handshake line for this server, newline included.
    pub fn handshake_line(&self, protocol_version: u32) -> String {
        handshake::handshake_line(
            protocol_version,
            &self.socket_path().to_string_lossy(),
            self.server_cert.as_ref().map(AsRef::as_ref),
        )
    }

    /// The `TF_REATTACH_PROVIDERS` JSON for this (plaintext) server.
    pub fn reattach_json(&self, provider_address: &str) -> String {
        handshake::reattach_json(
            provider_address,
            std::process::id(),
            &self.socket_path().to_string_lossy(),
        )
    }

    /// Cancel this token to stop the server (as `GRPCController.Shutdown` does).
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Serves until shut down (Shutdown RPC or [`Self::shutdown_token`]), removes the socket, and
    /// lets in-flight calls finish for up to a second.
    pub async fn wait(self) -> Result<(), ServeError> {
        let RunningServer {
            socket_dir,
            shutdown,
            mut task,
            ..
        } = self;
        let early = tokio::select! {
            () = shutdown.cancelled() => None,
            finished = &mut task => Some(finished),
        };
        socket_dir.remove();
        let finished = match early {
            Some(finished) => finished,
            None => match tokio::time::timeout(SHUTDOWN_GRACE, &mut task).await {
                Ok(finished) => finished,
                Err(_) => {
                    tracing::debug!(
                        "in-flight calls still running after the grace period; exiting"
                    );
                    task.abort();
                    return Ok(());
                }
            },
        };
        match finished {
            Ok(result) => result.map_err(ServeError::from),
            Err(join_error) => Err(ServeError::Socket(io::Error::other(join_error))),
        }
    }
}
