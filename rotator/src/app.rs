//! What every command needs: the configuration's connections (the Vault store, the Mixpanel
//! API, the engine), the shutdown signal and the output to stdout.

use std::sync::Arc;

use mixpanel_access::governance::Snapshot;
use mixpanel_access::inventory::InventoryEntry;
use mixpanel_access::vault::VaultStore;
use tokio_util::sync::CancellationToken;

use crate::api::Mixpanel;
use crate::config::Config;
use crate::engine::Engine;
use crate::error::Result;
use crate::metrics::Metrics;

/// `println!` that ends quietly on a closed pipe (see [`out`]).
macro_rules! outln {
    ($($t:tt)*) => { $crate::app::out_line(&format!($($t)*)) };
}

/// `print!` that ends quietly on a closed pipe (see [`out`]).
macro_rules! outp {
    ($($t:tt)*) => { $crate::app::out(&format!($($t)*)) };
}

/// Writes to stdout; a closed pipe (`status --all | head -1`) ends the output quietly
/// instead of panicking.
pub(crate) fn out(text: &str) {
    use std::io::Write;
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(text.as_bytes()).and_then(|_| o.flush());
}

/// [`out`] with a newline.
pub(crate) fn out_line(text: &str) {
    out(&format!("{text}\n"));
}

pub(crate) async fn connect_store(config: &Config) -> Result<VaultStore> {
    Ok(VaultStore::connect(config.vault_config()?).await?)
}

pub(crate) async fn connect_api(config: &Config) -> Result<Mixpanel> {
    Mixpanel::connect(
        config.client_config()?,
        config.organization(),
        config.mixpanel.requests_per_second,
    )
    .await
}

pub(crate) fn make_engine(
    config: &Config,
    store: VaultStore,
    api: Mixpanel,
    metrics: Arc<Metrics>,
) -> Arc<Engine> {
    Arc::new(Engine::new(store, api, config.rotation.clone(), metrics))
}

/// A token cancelled on SIGTERM or SIGINT.
pub(crate) fn shutdown_on_signals() -> CancellationToken {
    let token = CancellationToken::new();
    let t = token.clone();
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let term = signal(SignalKind::terminate());
            let int = signal(SignalKind::interrupt());
            match (term, int) {
                (Ok(mut term), Ok(mut int)) => {
                    tokio::select! {
                        _ = term.recv() => tracing::info!("SIGTERM: finishing the current step, then releasing the lease"),
                        _ = int.recv() => tracing::info!("SIGINT: finishing the current step, then releasing the lease"),
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        t.cancel();
    });
    token
}

/// The inventory's valid entries (an invalid one is reported on stderr and left out: the review
/// says so rather than stopping).
pub async fn inventory_entries(store: &VaultStore) -> Result<Vec<InventoryEntry>> {
    let mut out = Vec::new();
    for r in crate::inventory::load(store).await? {
        match r.entry {
            Ok(e) => out.push(e),
            Err(e) => eprintln!(
                "warning: inventory entry {} is invalid and is left out of the review: {e}",
                r.name
            ),
        }
    }
    Ok(out)
}

/// One snapshot of the organization with the inventory.
pub async fn snapshot(config: &Config, store: &VaultStore, api: &Mixpanel) -> Result<Snapshot> {
    let inventory = inventory_entries(store).await?;
    let mut snap = Snapshot::collect(api, inventory, &config.governance.collect_options()).await?;
    snap.timed_grants = crate::grants::load(store).await?.0.grants;
    Ok(snap)
}
