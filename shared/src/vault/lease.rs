//! The leader lease on `locks/leader`: KV v2 check-and-set with a server-side TTL
//! (`delete_version_after` on the key's metadata). The KV version at which a replica takes the
//! lease is its fencing token.
//!
//! - acquire: `GET data` answers 200 while a holder's latest version is alive (another holder:
//!   follower). On 404 (never taken, expired on the server's clock, or released) read
//!   `current_version` from the metadata and write with `cas = current_version`; success makes
//!   this replica leader with fencing token `current_version + 1`, a CAS failure means another
//!   replica won.
//! - renew: write with `cas = <the version this holder wrote last>`; a CAS failure means another
//!   replica took over: [`VaultError::LostLeadership`].
//! - release: soft-delete the latest version, so the next `GET data` answers 404 and another
//!   replica takes over at once.
//!
//! Renew every TTL/3. A holder must stop leader work when [`LeaseGuard::remaining`] (local
//! monotonic clock, measured from when the last successful renewal was *sent*) reaches zero,
//! even if a later renewal succeeds.

use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::journal::FencingToken;
use super::store::{Area, VaultStore};
use super::VaultError;
use crate::cause::Cause;

/// The lease's name under `locks/`.
pub const LEADER_LOCK: &str = "leader";
/// How many versions of the lease Vault keeps (the version number stays monotonic anyway).
pub const LEASE_MAX_VERSIONS: u64 = 5;

/// What the lease key holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseRecord {
    pub holder: String,
    pub fencing_token: FencingToken,
    pub acquired_at: DateTime<Utc>,
    pub renewed_at: DateTime<Utc>,
    /// The TTL the holder asked for, e.g. `30s`.
    pub ttl: String,
}

/// Who holds the lease, as the server sees it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseStatus {
    /// A holder's latest version is alive.
    Held {
        record: LeaseRecord,
        version: u64,
        /// The server-side expiry (`deletion_time`) of that version.
        expires_at: Option<DateTime<Utc>>,
    },
    /// Nobody holds it: never taken, expired, or released.
    Free {
        /// The version a taker must use as `cas`.
        current_version: u64,
        /// When the last version expired or was deleted, if it did.
        ended_at: Option<DateTime<Utc>>,
    },
}

/// The leader lease.
pub struct Lease;

impl Lease {
    /// Reads who holds the lease.
    pub async fn status(store: &VaultStore) -> Result<LeaseStatus, VaultError> {
        let path = store.kv_path(Area::Locks, LEADER_LOCK)?;
        let meta = store.kv_metadata(&path).await?;
        match store.kv_read(&path, None).await? {
            Some((data, info)) => {
                let record = parse_record(store, &path, data)?;
                Ok(LeaseStatus::Held {
                    record,
                    version: info.version,
                    expires_at: info.deletion_time,
                })
            }
            None => {
                let current_version = meta.as_ref().map(|m| m.current_version).unwrap_or(0);
                let ended_at = meta
                    .as_ref()
                    .and_then(|m| m.current())
                    .and_then(|v| v.deletion_time);
                Ok(LeaseStatus::Free {
                    current_version,
                    ended_at,
                })
            }
        }
    }

    /// Tries to take the lease for `holder` with a server-side `ttl` (at least 1 s; use the
    /// same TTL on every replica). `Ok(None)`: another replica holds it or won the race. A
    /// holder id that finds its own live record (a restart) takes the lease over with a new
    /// fencing token.
    pub async fn acquire(
        store: &VaultStore,
        holder: &str,
        ttl: Duration,
    ) -> Result<Option<LeaseGuard>, VaultError> {
        let path = store.kv_path(Area::Locks, LEADER_LOCK)?;
        if holder.trim().is_empty() {
            return Err(VaultError::InvalidInput {
                path: store.data_policy_path(&path),
                reason: "the holder id is empty".into(),
            });
        }
        let ttl = Duration::from_secs(ttl.as_secs().max(1));
        let meta = store.kv_metadata(&path).await?;
        if let Some((data, _)) = store.kv_read(&path, None).await? {
            let record = parse_record(store, &path, data)?;
            if record.holder != holder {
                return Ok(None);
            }
        }
        let configured = meta
            .as_ref()
            .is_some_and(|m| m.cas_required && m.delete_version_after == Some(ttl));
        if !configured {
            store
                .kv_configure(&path, true, LEASE_MAX_VERSIONS, Some(ttl))
                .await?;
        }
        let cas = meta.map(|m| m.current_version).unwrap_or(0);
        let sent = Instant::now();
        let now = Utc::now();
        let token = FencingToken(cas + 1);
        let record = LeaseRecord {
            holder: holder.to_string(),
            fencing_token: token,
            acquired_at: now,
            renewed_at: now,
            ttl: format!("{}s", ttl.as_secs()),
        };
        let data = serde_json::to_value(&record).map_err(|e| VaultError::InvalidInput {
            path: store.data_policy_path(&path),
            reason: e.to_string(),
        })?;
        match store.kv_write(&path, &data, cas).await {
            Ok(info) => {
                let mut guard = LeaseGuard {
                    store: store.clone(),
                    path,
                    record,
                    version: info.version,
                    ttl,
                    last_renew_sent: sent,
                    expires_at: info.deletion_time,
                };
                if info.version != token.0 {
                    // Versions grow by one per write, so this does not happen; if it ever
                    // did, make the stored token match the version.
                    guard.record.fencing_token = FencingToken(info.version);
                    guard.renew().await?;
                }
                tracing::info!(
                    holder,
                    fencing_token = guard.record.fencing_token.0,
                    "leader lease acquired"
                );
                Ok(Some(guard))
            }
            Err(VaultError::CasMismatch { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

fn parse_record(
    store: &VaultStore,
    path: &str,
    data: serde_json::Value,
) -> Result<LeaseRecord, VaultError> {
    serde_json::from_value(data).map_err(|e| {
        VaultError::decode(
            "GET",
            store.data_policy_path(path),
            format!("not a lease record: {e}"),
        )
        .with_source(Cause::new(e))
    })
}

/// A held lease. Dropping it does not release it (the server-side TTL does); call
/// [`release`](LeaseGuard::release) on a graceful shutdown.
#[derive(Debug)]
pub struct LeaseGuard {
    store: VaultStore,
    path: String,
    record: LeaseRecord,
    version: u64,
    ttl: Duration,
    last_renew_sent: Instant,
    expires_at: Option<DateTime<Utc>>,
}

impl LeaseGuard {
    pub fn holder(&self) -> &str {
        &self.record.holder
    }

    /// The token to pass to every journal write.
    pub fn fencing_token(&self) -> FencingToken {
        self.record.fencing_token
    }

    /// The KV version this holder wrote last (the `cas` of the next renewal).
    pub fn version(&self) -> u64 {
        self.version
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The server-side expiry of the last version written (server clock).
    pub fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.expires_at
    }

    /// How long the lease is certainly still ours, by the local monotonic clock: the TTL minus
    /// the time since the last successful renewal was sent.
    pub fn remaining(&self) -> Duration {
        self.ttl.saturating_sub(self.last_renew_sent.elapsed())
    }

    /// Whether the TTL has passed since the last successful renewal was sent: the server may
    /// have expired the lease, so leader work must stop.
    pub fn is_expired(&self) -> bool {
        self.remaining().is_zero()
    }

    /// Extends the lease by writing a new version with `cas = self.version()`.
    /// [`VaultError::LostLeadership`] when another replica has taken it.
    pub async fn renew(&mut self) -> Result<(), VaultError> {
        let sent = Instant::now();
        let mut record = self.record.clone();
        record.renewed_at = Utc::now();
        let data = serde_json::to_value(&record).map_err(|e| VaultError::InvalidInput {
            path: self.store.data_policy_path(&self.path),
            reason: e.to_string(),
        })?;
        match self.store.kv_write(&self.path, &data, self.version).await {
            Ok(info) => {
                self.version = info.version;
                self.record = record;
                self.last_renew_sent = sent;
                self.expires_at = info.deletion_time;
                Ok(())
            }
            Err(VaultError::CasMismatch { .. }) => Err(VaultError::LostLeadership {
                path: self.store.data_policy_path(&self.path),
                reason: format!(
                    "renewal with check-and-set version {} failed: another replica took the lease",
                    self.version
                ),
            }),
            Err(e) => Err(e),
        }
    }

    /// Asks the server whether this holder still has the lease (its record is the live
    /// version); returns the local estimate of the time left.
    pub async fn verify(&self) -> Result<Duration, VaultError> {
        verify_token(&self.store, self.record.fencing_token)
            .await
            .map(|_| self.remaining())
    }

    /// Releases the lease (soft-deletes the latest version) so another replica can take it at
    /// once. Refuses, with [`VaultError::LostLeadership`], if another replica has written since.
    pub async fn release(self) -> Result<(), VaultError> {
        let meta = self.store.kv_metadata(&self.path).await?;
        let current = meta.map(|m| m.current_version).unwrap_or(0);
        if current != self.version {
            return Err(VaultError::LostLeadership {
                path: self.store.data_policy_path(&self.path),
                reason: format!(
                    "the lease is at version {current}, not this holder's {}: another replica took it; nothing to release",
                    self.version
                ),
            });
        }
        self.store.kv_delete_latest(&self.path).await?;
        tracing::info!(
            holder = %self.record.holder,
            at = %Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
            "leader lease released"
        );
        Ok(())
    }
}

/// Checks that the live lease record carries `token`; [`VaultError::LostLeadership`] if the
/// lease expired, was released, or belongs to another holder.
pub(crate) async fn verify_token(
    store: &VaultStore,
    token: FencingToken,
) -> Result<LeaseRecord, VaultError> {
    let path = store.kv_path(Area::Locks, LEADER_LOCK)?;
    let lost = |reason: String| VaultError::LostLeadership {
        path: store.data_policy_path(&path),
        reason,
    };
    match store.kv_read(&path, None).await? {
        None => Err(lost(format!(
            "the lease of fencing token {token} has expired or was released"
        ))),
        Some((data, _)) => {
            let record = parse_record(store, &path, data)?;
            if record.fencing_token == token {
                Ok(record)
            } else {
                Err(lost(format!(
                    "the lease is held by \"{}\" with fencing token {}, not {token}",
                    record.holder, record.fencing_token
                )))
            }
        }
    }
}
