//! `mixpanel-emulator`: serve the emulated Mixpanel management API, or bootstrap an
//! organization on a running one.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use mixpanel_emulator::AppState;
use serde_json::{json, Value};
use tokio::net::TcpListener;

#[derive(Parser)]
#[command(
    name = "mixpanel-emulator",
    version,
    about = "A local, persistent implementation of Mixpanel's management API"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API. The first line on stdout is `listening on http://ADDR`; logs go to
    /// stderr (filter with RUST_LOG). SIGTERM or SIGINT stops it gracefully.
    Serve {
        /// Address to listen on; port 0 picks a free port.
        #[arg(long, default_value = "127.0.0.1:0", env = "MIXPANEL_EMULATOR_LISTEN")]
        listen: SocketAddr,
        /// The SQLite database file (created if missing; data survives restarts).
        #[arg(long, env = "MIXPANEL_EMULATOR_DB")]
        db: PathBuf,
    },
    /// Create an organization with an owner and a first service account on a running
    /// emulator, and print `MIXPANEL_*=...` lines for `eval` or `$GITHUB_ENV`.
    Bootstrap {
        /// The emulator's base URL, e.g. http://127.0.0.1:8080.
        #[arg(long)]
        url: String,
        #[arg(long, default_value = "Acme")]
        org_name: String,
        #[arg(long, default_value = "owner@acme.example")]
        owner_email: String,
        /// The service account's name (the emulator adds `.<hex>.mp-service-account`).
        #[arg(long, default_value = "terraform")]
        name: String,
        #[arg(long, default_value = "owner", value_parser = ["owner", "admin"])]
        role: String,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mixpanel-emulator: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    match cli.command {
        Command::Serve { listen, db } => rt.block_on(serve(listen, db)),
        Command::Bootstrap {
            url,
            org_name,
            owner_email,
            name,
            role,
        } => rt.block_on(bootstrap(url, org_name, owner_email, name, role)),
    }
}

async fn serve(listen: SocketAddr, db: PathBuf) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let state = AppState::open(&db)?;
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on http://{addr}")?;
        out.flush()?;
    }
    tracing::info!(%addr, db = %db.display(), "mixpanel-emulator serving");

    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = tx.send(true);
    });
    let mut stop = rx.clone();
    let mut graceful = rx;
    let app = mixpanel_emulator::router(state);
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        let _ = graceful.wait_for(|v| *v).await;
    });
    tokio::select! {
        res = server => res.context("server error")?,
        _ = async {
            let _ = stop.wait_for(|v| *v).await;
            tokio::time::sleep(Duration::from_secs(10)).await;
        } => tracing::warn!("connections still open 10 s after the stop signal; exiting"),
    }
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    let int = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        _ = term => tracing::info!("SIGTERM: shutting down"),
        _ = int => tracing::info!("SIGINT: shutting down"),
    }
}

/// Quotes a value for a POSIX shell when it holds anything beyond a safe set.
fn shell_value(v: &str) -> String {
    let safe = !v.is_empty()
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:/@%+=,".contains(c));
    if safe {
        v.to_string()
    } else {
        format!("'{}'", v.replace('\'', r"'\''"))
    }
}

async fn bootstrap(
    url: String,
    org_name: String,
    owner_email: String,
    name: String,
    role: String,
) -> anyhow::Result<()> {
    let base = url.trim_end_matches('/').to_string();
    let resp = reqwest::Client::new()
        .post(format!("{base}/_emulator/bootstrap"))
        .json(&json!({
            "organization_name": org_name,
            "owner_email": owner_email,
            "service_account_name": name,
            "service_account_role": role,
        }))
        .send()
        .await
        .with_context(|| format!("cannot reach the emulator at {base}"))?;
    let status = resp.status();
    let body: Value = resp
        .json()
        .await
        .context("the emulator's answer is not JSON")?;
    if status.as_u16() != 201 {
        let msg = body["error"].as_str().unwrap_or("no error message");
        bail!("bootstrap failed with HTTP {status}: {msg}");
    }
    let r = &body["results"];
    let org = r["organization_id"]
        .as_u64()
        .context("the answer has no organization_id")?;
    let username = r["service_account"]["username"]
        .as_str()
        .context("the answer has no service_account.username")?;
    let secret = r["service_account"]["secret"]
        .as_str()
        .context("the answer has no service_account.secret")?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "MIXPANEL_API_URL={}", shell_value(&base))?;
    writeln!(out, "MIXPANEL_ORGANIZATION_ID={org}")?;
    writeln!(
        out,
        "MIXPANEL_SERVICE_ACCOUNT_USERNAME={}",
        shell_value(username)
    )?;
    writeln!(
        out,
        "MIXPANEL_SERVICE_ACCOUNT_SECRET={}",
        shell_value(secret)
    )?;
    out.flush()?;
    Ok(())
}
