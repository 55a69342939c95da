//! One active replica: the shared Vault lease (`locks/leader`, KV v2 check-and-set,
//! server-side expiry, KV version = fencing token), renewed every third of its TTL.
//!
//! A term runs the leader's work with a [`Leadership`]: the fencing token every journal write
//! carries, and a cancellation token that fires the moment a renewal fails (or the process
//! shuts down). The work checks it between steps, so the step in flight completes (its journal
//! write is fenced anyway) and nothing else starts. When the work has ended the lease is
//! released, so another replica takes over at once instead of after the TTL.

use std::future::Future;
use std::time::Duration;

use mixpanel_access::vault::{FencingToken, Lease, LeaseGuard, LeaseStatus, VaultStore};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::error::{Result, RotatorError};
use crate::metrics::Metrics;
use crate::ports::RotationStore;

/// The right to act as leader for one term.
#[derive(Clone, Debug)]
pub struct Leadership {
    fencing: FencingToken,
    holder: String,
    cancel: CancellationToken,
    store: VaultStore,
}

impl Leadership {
    pub fn fencing(&self) -> FencingToken {
        self.fencing
    }

    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// Fails with [`RotatorError::Interrupted`] once the term is over (lost lease, shutdown).
    pub fn check(&self) -> Result<()> {
        if self.cancel.is_cancelled() {
            Err(RotatorError::Interrupted(
                "leadership lost or shutting down; the journal is intact and the next leader resumes it".into(),
            ))
        } else {
            Ok(())
        }
    }

    /// Ends the term (as a failed renewal or a shutdown does).
    pub fn end(&self) {
        self.cancel.cancel();
    }

    pub fn is_over(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Completes when the term is over.
    pub async fn ended(&self) {
        self.cancel.cancelled().await
    }

    /// Sleeps, unless the term ends first ([`RotatorError::Interrupted`]).
    pub async fn sleep(&self, d: Duration) -> Result<()> {
        tokio::select! {
            _ = self.cancel.cancelled() => self.check(),
            _ = tokio::time::sleep(d) => self.check(),
        }
    }

    /// Asks Vault whether the live lease still carries this term's fencing token: done before
    /// every destructive call (deleting an account), since external calls cannot be fenced.
    pub async fn verify(&self) -> Result<()> {
        self.verify_with(&self.store).await
    }

    /// [`verify`](Self::verify) through any store that can say who holds the lease.
    pub async fn verify_with<S: RotationStore + ?Sized>(&self, store: &S) -> Result<()> {
        self.check()?;
        match store.lease_holder().await? {
            Some((_, token)) if token == self.fencing => Ok(()),
            Some((holder, token)) => {
                self.cancel.cancel();
                Err(RotatorError::Interrupted(format!(
                    "the lease now belongs to \"{holder}\" (fencing token {token})"
                )))
            }
            None => {
                self.cancel.cancel();
                Err(RotatorError::Interrupted(
                    "the lease expired or was released".into(),
                ))
            }
        }
    }

    /// A leadership of the term whose fencing token is `fencing`, ended by `cancel`, for the
    /// engine's unit tests (whose store says who holds the lease) and for tools.
    pub fn new(
        fencing: FencingToken,
        holder: &str,
        cancel: CancellationToken,
        store: VaultStore,
    ) -> Self {
        Leadership {
            fencing,
            holder: holder.to_string(),
            cancel,
            store,
        }
    }

    /// A leadership for tests and tools that already hold the lease by other means.
    pub fn from_guard(guard: &LeaseGuard, store: VaultStore, cancel: CancellationToken) -> Self {
        Leadership {
            fencing: guard.fencing_token(),
            holder: guard.holder().to_string(),
            cancel,
            store,
        }
    }
}

/// Elects this replica through the lease.
pub struct Elector {
    store: VaultStore,
    holder: String,
    ttl: Duration,
    metrics: std::sync::Arc<Metrics>,
    state: watch::Sender<Option<Leadership>>,
    /// Why the last attempt to read or take the lease failed (`None` once one works): a
    /// replica that cannot write its lease is not ready.
    lease_error: std::sync::Arc<watch::Sender<Option<String>>>,
}

impl Elector {
    pub fn new(
        store: VaultStore,
        holder: String,
        ttl: Duration,
        metrics: std::sync::Arc<Metrics>,
    ) -> Elector {
        let (state, _) = watch::channel(None);
        let (lease_error, _) = watch::channel(None);
        let lease_error = std::sync::Arc::new(lease_error);
        metrics.election_started(ttl);
        Elector {
            store,
            holder,
            ttl: ttl.max(Duration::from_secs(1)),
            metrics,
            state,
            lease_error,
        }
    }

    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// Why this replica cannot read or write the lease, if it cannot (for `/readyz`).
    pub fn lease_health(&self) -> watch::Receiver<Option<String>> {
        self.lease_error.subscribe()
    }

    /// The current term, if this replica leads (for the HTTP server).
    pub fn subscribe(&self) -> watch::Receiver<Option<Leadership>> {
        self.state.subscribe()
    }

    fn renew_every(&self) -> Duration {
        (self.ttl / 3).max(Duration::from_millis(200))
    }

    /// Tries once to take the lease; if it does, runs `work` as leader and releases the lease
    /// afterwards. `Ok(None)`: another replica leads.
    pub async fn try_lead<W, Fut, T>(
        &self,
        parent: &CancellationToken,
        work: W,
    ) -> Result<Option<T>>
    where
        W: FnOnce(Leadership) -> Fut,
        Fut: Future<Output = T>,
    {
        match Lease::acquire(&self.store, &self.holder, self.ttl).await? {
            None => Ok(None),
            Some(guard) => Ok(Some(self.term(guard, parent, work).await)),
        }
    }

    /// Follows and leads until `shutdown`: polls the lease every third of its TTL, runs `work`
    /// for every term won.
    pub async fn run<W, Fut>(&self, shutdown: CancellationToken, mut work: W)
    where
        W: FnMut(Leadership) -> Fut,
        Fut: Future<Output = ()>,
    {
        while !shutdown.is_cancelled() {
            match Lease::acquire(&self.store, &self.holder, self.ttl).await {
                Ok(Some(guard)) => {
                    self.metrics.vault_reached(true);
                    self.lease_error.send_replace(None);
                    self.term(guard, &shutdown, &mut work).await;
                }
                Ok(None) => {
                    // Another replica holds a live lease: there is a leader.
                    self.metrics.vault_reached(true);
                    self.lease_error.send_replace(None);
                    self.metrics.leader_seen();
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read or take the leader lease; retrying");
                    self.metrics.vault_reached(false);
                    self.lease_error
                        .send_replace(Some(format!("cannot read or write the leader lease: {e}")));
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(self.renew_every()) => {}
            }
        }
    }

    async fn term<W, Fut, T>(&self, guard: LeaseGuard, parent: &CancellationToken, work: W) -> T
    where
        W: FnOnce(Leadership) -> Fut,
        Fut: Future<Output = T>,
    {
        let cancel = parent.child_token();
        let lead = Leadership::from_guard(&guard, self.store.clone(), cancel.clone());
        tracing::info!(
            holder = %self.holder,
            fencing_token = lead.fencing.0,
            "leading: this replica rotates"
        );
        self.metrics.set_leader(true);
        self.metrics.leader_seen();
        self.state.send_replace(Some(lead.clone()));
        let stop = CancellationToken::new();
        let renewer = tokio::spawn(renew_loop(
            guard,
            self.renew_every(),
            cancel.clone(),
            stop.clone(),
            self.metrics.clone(),
            self.lease_error.clone(),
        ));
        let out = work(lead).await;
        cancel.cancel();
        self.metrics.term_ended();
        self.state.send_replace(None);
        stop.cancel();
        if let Err(e) = renewer.await {
            tracing::warn!(error = %e, "the lease renewal task failed");
        }
        out
    }
}

async fn renew_loop(
    mut guard: LeaseGuard,
    every: Duration,
    lead: CancellationToken,
    stop: CancellationToken,
    metrics: std::sync::Arc<Metrics>,
    lease_error: std::sync::Arc<watch::Sender<Option<String>>>,
) {
    let mut lost = false;
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            // Renewals go on after a shutdown request until the work has finished its step.
            _ = tokio::time::sleep(every), if !lost => {}
        }
        if lost {
            continue;
        }
        // A renewal that hangs past the time the lease is surely ours counts as failed.
        let budget = guard.remaining();
        let failure = match tokio::time::timeout(budget, guard.renew()).await {
            Err(_) => Some("no answer from Vault before the lease could expire".to_string()),
            Ok(Ok(())) if guard.is_expired() => {
                Some("the renewal came back after the TTL".to_string())
            }
            Ok(Ok(())) => {
                metrics.leader_seen();
                metrics.vault_reached(true);
                None
            }
            Ok(Err(e)) => Some(e.to_string()),
        };
        if let Some(reason) = failure {
            tracing::warn!(
                holder = %guard.holder(),
                fencing_token = guard.fencing_token().0,
                reason = %reason,
                "leader lease renewal failed: stopping all leader work now"
            );
            // Not ready from this moment: /readyz reads this at every request.
            metrics.vault_reached(false);
            lease_error.send_replace(Some(format!(
                "vault: the leader lease renewal failed: {reason}"
            )));
            lead.cancel();
            lost = true;
        }
    }
    let holder = guard.holder().to_string();
    match guard.release().await {
        Ok(()) => tracing::info!(holder = %holder, "leader lease released"),
        Err(e) if lost => {
            tracing::info!(holder = %holder, error = %e, "leader lease not released (already lost)")
        }
        Err(e) => {
            tracing::warn!(holder = %holder, error = %e, "could not release the leader lease; it expires by itself")
        }
    }
}

/// Who leads, for `status` and the HTTP server.
pub async fn leader(store: &VaultStore) -> Result<Option<(String, FencingToken)>> {
    Ok(match Lease::status(store).await? {
        LeaseStatus::Held { record, .. } => Some((record.holder, record.fencing_token)),
        LeaseStatus::Free { .. } => None,
    })
}
