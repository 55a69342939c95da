//! The binary's entry point: arguments, handshake checks, runtime, signals, exit code.
//!
//! Managed mode (started by Terraform): check the magic cookie and protocol versions, serve on a
//! unix socket (AutoMTLS when `PLUGIN_CLIENT_CERT` is set), print the handshake line as the first
//! stdout line, serve until `GRPCController.Shutdown` or SIGTERM. SIGINT is ignored: Terraform
//! forwards Ctrl-C to the process group and then calls `StopProvider` itself.
//!
//! Debug mode (`--debug`): serve without TLS and print a `TF_REATTACH_PROVIDERS` value for
//! terraform; runs until Ctrl-C or SIGTERM.

use std::io::Write as _;
use std::process::ExitCode;
use std::sync::Arc;

use tokio::signal::unix::{signal, SignalKind};
use tokio_util::sync::CancellationToken;

use super::handler::ProviderHandler;
use super::handshake::{self, HandshakeError, HostRequest};
use super::logging;
use super::server::{self, RunningServer, ServeOptions, Transport};

/// Static facts about the provider binary.
#[derive(Debug, Clone, Copy)]
pub struct ProviderInfo {
    /// Full source address, e.g. `registry.terraform.io/mixpanel-access/mixpanel`.
    pub address: &'static str,
    /// Binary name, for messages.
    pub binary: &'static str,
    /// Version, for `--version`.
    pub version: &'static str,
}

enum Mode {
    Managed,
    Debug,
}

/// Runs the provider binary. `make_handler` receives the token cancelled on `StopProvider` and must
/// be cheap (it runs before the handshake).
pub fn run<H, F>(info: ProviderInfo, make_handler: F) -> ExitCode
where
    H: ProviderHandler,
    F: FnOnce(CancellationToken) -> H,
{
    let mode = match parse_args(info, std::env::args_os().skip(1)) {
        Ok(Some(mode)) => mode,
        Ok(None) => return ExitCode::SUCCESS,
        Err(code) => return code,
    };
    let env = |key: &str| std::env::var(key).ok();

    let host = match mode {
        Mode::Managed => match handshake::read_host_request(env) {
            Ok(host) => Some(host),
            Err(e @ HandshakeError::NotStartedByTerraform) => {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
            Err(e) => {
                eprintln!("Error: {e}");
                return ExitCode::FAILURE;
            }
        },
        Mode::Debug => None,
    };

    let debug = host.is_none();
    logging::init(|key| {
        // Debug mode is run by a person: show the provider's info logs unless told otherwise.
        std::env::var(key).ok().or_else(|| {
            (debug && key == "TF_LOG_PROVIDER" && std::env::var_os("TF_LOG").is_none())
                .then(|| "info".to_string())
        })
    });

    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("Error: could not start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };

    let stop = CancellationToken::new();
    let handler = Arc::new(make_handler(stop.clone()));
    let result = runtime.block_on(async move {
        match host {
            Some(host) => serve_managed(handler, stop, host).await,
            None => serve_debug(info, handler, stop).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("Error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// `Ok(None)`: handled (help/version), exit 0. `Err`: usage error.
fn parse_args(
    info: ProviderInfo,
    args: impl Iterator<Item = std::ffi::OsString>,
) -> Result<Option<Mode>, ExitCode> {
    let mut mode = Mode::Managed;
    for arg in args {
        match arg.to_str() {
            Some("--debug" | "-debug") => mode = Mode::Debug,
            Some("--help" | "-help" | "-h") => {
                println!("{}", usage(info));
                return Ok(None);
            }
            Some("--version" | "-version") => {
                println!("{} {}", info.binary, info.version);
                return Ok(None);
            }
            _ => {
                eprintln!("Error: unknown argument {arg:?}\n\n{}", usage(info));
                return Err(ExitCode::from(2));
            }
        }
    }
    Ok(Some(mode))
}

fn usage(info: ProviderInfo) -> String {
    format!(
        "Usage: {bin} [--debug]\n\n\
         Terraform provider {address}. Terraform starts this binary itself; run terraform, not this.\n\n\
         Options:\n  \
         --debug    serve without Terraform starting the process and print a\n             \
         TF_REATTACH_PROVIDERS value to give to terraform (stop with Ctrl-C)\n  \
         --version  print the version\n",
        bin = info.binary,
        address = info.address,
    )
}

async fn serve_managed<H: ProviderHandler>(
    handler: Arc<H>,
    stop: CancellationToken,
    host: HostRequest,
) -> Result<(), String> {
    let transport = match host.client_cert {
        Some(client_cert) => Transport::MutualTls { client_cert },
        None => Transport::Plaintext,
    };
    let stop_for_parent = stop.clone();
    let server = server::start(
        handler,
        stop,
        ServeOptions {
            transport,
            socket_base: host.socket_dir,
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    watch_signals(&server, false)?;
    watch_parent(&server, stop_for_parent);

    let line = server.handshake_line(host.protocol_version);
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_all(line.as_bytes())
        .and_then(|()| stdout.flush())
    {
        return Err(format!("could not write the handshake to stdout: {e}"));
    }
    drop(stdout);
    tracing::debug!(socket = %server.socket_path().display(), "serving");
    server.wait().await.map_err(|e| e.to_string())
}

async fn serve_debug<H: ProviderHandler>(
    info: ProviderInfo,
    handler: Arc<H>,
    stop: CancellationToken,
) -> Result<(), String> {
    let server = server::start(
        handler,
        stop,
        ServeOptions {
            transport: Transport::Plaintext,
            socket_base: None,
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    watch_signals(&server, true)?;
    let reattach = server.reattach_json(info.address);
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(
        stdout,
        "Provider started. To attach Terraform CLI, set the TF_REATTACH_PROVIDERS environment \
         variable with the following:\n\n\
         TF_REATTACH_PROVIDERS='{reattach}'\n\n\
         Stop the provider with Ctrl-C."
    );
    let _ = stdout.flush();
    drop(stdout);
    server.wait().await.map_err(|e| e.to_string())
}

/// Terraform's end of the connection goes away with Terraform: when the process that started
/// this one is gone (this process is re-parented), in-flight work is cancelled and the server
/// shuts down, so a provider never outlives a `kill -9` of terraform by more than a moment.
fn watch_parent(server: &RunningServer, stop: CancellationToken) {
    let parent = std::os::unix::process::parent_id();
    let shutdown = server.shutdown_token();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_millis(250));
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = shutdown.cancelled() => break,
            }
            if std::os::unix::process::parent_id() != parent {
                tracing::warn!(
                    parent,
                    "terraform is gone: cancelling work and shutting down"
                );
                stop.cancel();
                shutdown.cancel();
                break;
            }
        }
    });
}

/// SIGTERM always shuts down; SIGINT only in debug mode (managed: ignored, see the module docs).
/// Handlers are installed before the handshake is printed, so there is no window in which a signal
/// kills the process without cleanup.
fn watch_signals(server: &RunningServer, interrupt_stops: bool) -> Result<(), String> {
    let mut term = signal(SignalKind::terminate()).map_err(|e| format!("SIGTERM handler: {e}"))?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| format!("SIGINT handler: {e}"))?;
    let shutdown = server.shutdown_token();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = term.recv() => {
                    tracing::debug!("SIGTERM: shutting down");
                    shutdown.cancel();
                    break;
                }
                _ = int.recv() => {
                    if interrupt_stops {
                        shutdown.cancel();
                        break;
                    }
                    tracing::debug!("SIGINT ignored; Terraform will call StopProvider");
                }
            }
        }
    });
    Ok(())
}
