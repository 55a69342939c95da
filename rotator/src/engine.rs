//! The rotation state machine.
//!
//! A service account is rotated by replacement (Mixpanel shows a secret only once, at
//! creation, and has no "regenerate" route):
//!
//! | phase | what happened | recovery after a crash |
//! |---|---|---|
//! | `intent` | journal: rotation id, deterministic new username `<base>-<yyyymmdd>-<rid6>`, old account | list the accounts: one with this username is an orphan whose secret was never recorded; delete it and start again with a new rotation id; else create |
//! | `created` | the new account exists with the old one's role, individual project grants and an `expires` of twice the period; its secret is in the journal | add it to the old one's teams (idempotent), test again |
//! | `tested` | `me()` and a project-scoped call work with the new secret (retried for propagation) | promote |
//! | `promoted` | `creds/<name>` holds the new credential (CAS), the inventory records the rotation | start the overlap |
//! | `overlap` | waiting until `promoted_at + overlap` (from the journal, so a restart resumes the wait) | wait, then revoke |
//! | `revoked_old` | the old account is deleted (404 counts as deleted) | finish |
//! | `done` | twins of an ambiguous create are swept, the pending secret is cleared | — |
//!
//! The journal is written with check-and-set under the leader's fencing token before each
//! external call, and the working credential is never deleted before its successor is stored
//! in `creds/<name>` and tested. A failed phase is retried with exponential backoff; after
//! `max_attempts` the journal goes to `needs_human` with the last error, and so does the
//! inventory entry. A manual or incident request for such an entry resumes it.
//!
//! Project secrets and tokens are a single-phase swap where the API can reset them (the
//! emulator): reset → journal (`created`) → validate (`tested`) → promote → `done`. Where it
//! cannot (real Mixpanel), the current value is mirrored into Vault from the project's
//! metadata, validated, and the entry is marked `manual_rotation_required` with the reason.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use mixpanel_access::api::{wire, ApiError};
use mixpanel_access::inventory::{CredentialKind, CredentialStatus, InventoryEntry};
use mixpanel_access::model::{
    ProjectId, ProjectRole, ProjectRoleGrant, ServiceAccountId, ServiceAccountUsername, TargetType,
};
use mixpanel_access::vault::{Credential, Journal, Phase, Trigger, VaultError, VaultStore};
use secrecy::{ExposeSecret, SecretString};

use crate::api::Mixpanel;
use crate::config::RotationSettings;
use crate::crash;
use crate::election::Leadership;
use crate::error::{Result, RotatorError};
use crate::inventory::{self, RotationRequest, MIRRORED_KEY};
use crate::metrics::Metrics;

/// The inventory fields a finished rotation (or a mirror of a value changed by hand) updates.
const ROTATION_FIELDS: &[&str] = &[
    "last_rotated",
    "next_rotation",
    "status",
    "status_reason",
    "rotation_id",
    "last_trigger",
];

/// Where a rotation stands after [`Engine::drive`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Finished.
    Done { rotation_id: String },
    /// In its overlap window until this time.
    Waiting {
        rotation_id: String,
        until: DateTime<Utc>,
    },
    /// Stopped after bounded retries: a person must look.
    NeedsHuman { rotation_id: String, error: String },
    /// No open journal.
    Idle,
}

/// What a rotation request did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requested {
    /// A new rotation was journaled.
    Started { rotation_id: String },
    /// A rotation was already open: the request joined it (its reason is appended; a shorter
    /// overlap applies).
    Joined { rotation_id: String },
    /// A rotation stopped in `needs_human` resumes.
    Resumed { rotation_id: String },
    /// The credential cannot be rotated through the API: its current value was mirrored and
    /// validated, and the entry is marked for a manual rotation.
    Mirrored { status: CredentialStatus },
    /// A rotation in `needs_human` blocks automatic triggers; a manual request resumes it.
    Blocked { rotation_id: String },
}

impl Requested {
    pub fn rotation_id(&self) -> Option<&str> {
        match self {
            Requested::Started { rotation_id }
            | Requested::Joined { rotation_id }
            | Requested::Resumed { rotation_id }
            | Requested::Blocked { rotation_id } => Some(rotation_id),
            Requested::Mirrored { .. } => None,
        }
    }
}

/// The engine. Cheap to share through an `Arc`.
pub struct Engine {
    pub store: VaultStore,
    pub api: Mixpanel,
    pub settings: RotationSettings,
    pub metrics: Arc<Metrics>,
}

/// A new rotation id: 16 lowercase hex digits.
pub fn new_rotation_id() -> String {
    format!("{:016x}", rand::random::<u64>())
}

pub use mixpanel_access::provision::{expiry_for, strip_rotation_suffix, username_base};

/// The deterministic username of a rotation: `<base>-<yyyymmdd>-<rid6>`.
pub fn rotation_username(base: &str, at: DateTime<Utc>, rotation_id: &str) -> String {
    let rid6: String = rotation_id.chars().take(6).collect();
    format!("{base}-{}-{rid6}", at.format("%Y%m%d"))
}

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        s.chars().take(max.saturating_sub(3)).collect::<String>() + "..."
    }
}

/// The phase a stopped (`needs_human`) rotation resumes at, from what its journal recorded.
pub fn resume_phase(j: &Journal) -> Phase {
    if j.promoted_at.is_some() {
        Phase::Overlap
    } else if j.pending_secret.is_some() {
        Phase::Created
    } else {
        Phase::Intent
    }
}

enum AfterFailure {
    Retry,
    Stop(Outcome),
}

impl Engine {
    pub fn new(
        store: VaultStore,
        api: Mixpanel,
        settings: RotationSettings,
        metrics: Arc<Metrics>,
    ) -> Engine {
        Engine {
            store,
            api,
            settings,
            metrics,
        }
    }

    /// Whether this kind can be rotated through the API here.
    pub fn can_rotate(&self, kind: CredentialKind) -> bool {
        match kind {
            CredentialKind::ServiceAccount => true,
            CredentialKind::ProjectSecret | CredentialKind::ProjectToken => {
                self.api.can_reset_project_credentials()
            }
        }
    }

    /// Asks for a rotation: journals a new one, joins an open one, resumes one stopped in
    /// `needs_human` (manual and incident requests only), or mirrors a credential that cannot
    /// be rotated through the API.
    pub async fn request(
        &self,
        name: &str,
        req: &RotationRequest,
        lead: &Leadership,
    ) -> Result<Requested> {
        let mut tries = 0;
        loop {
            tries += 1;
            match self.request_once(name, req, lead).await {
                // Another writer (a drive, another request) got there first: read again.
                Err(RotatorError::Vault(VaultError::CasMismatch { .. })) if tries < 5 => continue,
                other => return other,
            }
        }
    }

    async fn request_once(
        &self,
        name: &str,
        req: &RotationRequest,
        lead: &Leadership,
    ) -> Result<Requested> {
        lead.check()?;
        let entry = inventory::entry(&self.store, name).await?;
        inventory::check_request(&entry, req)?;
        let existing = self.store.read_journal(name).await?;
        if let Some((mut j, ver)) = existing.clone().filter(|(j, _)| j.phase.is_open()) {
            let reason = req.reason.as_deref().unwrap_or(req.trigger.as_str());
            if j.phase == Phase::NeedsHuman {
                if !matches!(req.trigger, Trigger::Manual | Trigger::Incident) {
                    return Ok(Requested::Blocked {
                        rotation_id: j.rotation_id,
                    });
                }
                let phase = resume_phase(&j);
                j.advance(phase, Utc::now());
                j.reason = Some(clip(
                    &format!(
                        "{}; resumed ({}): {reason}",
                        j.reason.as_deref().unwrap_or("-"),
                        req.trigger
                    ),
                    1000,
                ));
                if let Some(o) = req.overlap {
                    j.overlap = j.overlap.min(o);
                }
                self.store
                    .write_journal(name, &j, ver, lead.fencing())
                    .await?;
                self.mark_rotating(&entry, &j).await?;
                tracing::info!(credential = name, rotation_id = %j.rotation_id, phase = %phase, reason, "resuming a rotation that needed a human");
                return Ok(Requested::Resumed {
                    rotation_id: j.rotation_id,
                });
            }
            let mut changed = false;
            let joined = clip(
                &format!(
                    "{}; +{}: {reason}",
                    j.reason.as_deref().unwrap_or("-"),
                    req.trigger
                ),
                1000,
            );
            if j.reason.as_deref() != Some(joined.as_str()) {
                j.reason = Some(joined);
                changed = true;
            }
            if let Some(o) = req.overlap {
                if o < j.overlap && j.phase != Phase::RevokedOld {
                    j.overlap = o;
                    changed = true;
                }
            }
            if changed {
                j.updated_at = Utc::now();
                self.store
                    .write_journal(name, &j, ver, lead.fencing())
                    .await?;
            }
            self.metrics.rotation(req.trigger.as_str(), "coalesced");
            tracing::info!(credential = name, rotation_id = %j.rotation_id, trigger = %req.trigger, reason, "joined the rotation already in progress");
            return Ok(Requested::Joined {
                rotation_id: j.rotation_id,
            });
        }
        let cas = existing.map(|(_, v)| v).unwrap_or(0);
        if !self.can_rotate(entry.kind) {
            let status = self
                .mirror(&entry, req.reason.as_deref().map(|r| (req.trigger, r)))
                .await?;
            self.metrics.rotation(req.trigger.as_str(), "mirrored");
            return Ok(Requested::Mirrored { status });
        }
        let now = Utc::now();
        let rotation_id = new_rotation_id();
        let overlap = match entry.kind {
            CredentialKind::ServiceAccount => req.overlap.unwrap_or(entry.overlap),
            _ => Duration::ZERO,
        };
        let mut j = Journal::new(rotation_id.clone(), req.trigger, overlap, now);
        j.reason = req.reason.as_deref().map(|r| clip(r, 1000));
        j.requested_by = req.requested_by.clone();
        if entry.kind == CredentialKind::ServiceAccount {
            let current = self.store.read_credential(name).await?;
            let (old_id, old_username) = match current {
                Some((
                    Credential::ServiceAccount {
                        sa_id, username, ..
                    },
                    _,
                )) => (Some(sa_id), Some(username)),
                _ => (entry.sa_id, entry.username.clone()),
            };
            if old_username
                .as_ref()
                .is_some_and(|u| u.as_str() == self.api.client().config().username)
            {
                return Err(RotatorError::Invalid(format!(
                    "{name} is the rotator's own service account: rotating it would revoke the credentials the rotator runs with; rotate it by hand (create a new admin account, update MIXPANEL_SERVICE_ACCOUNT_*, then delete the old one)"
                )));
            }
            let base = username_base(old_username.as_ref(), name);
            j.new_username = Some(rotation_username(&base, now, &rotation_id));
            j.old_sa_id = old_id;
            j.old_username = old_username;
        }
        // The status first: an entry marked rotating without an open journal is harmless.
        self.mark_rotating(&entry, &j).await?;
        self.store
            .write_journal(name, &j, cas, lead.fencing())
            .await?;
        crash::after("intent");
        tracing::info!(
            credential = name,
            rotation_id = %rotation_id,
            trigger = %req.trigger,
            reason = j.reason.as_deref().unwrap_or(""),
            overlap_secs = overlap.as_secs(),
            new_username = j.new_username.as_deref().unwrap_or(""),
            "rotation started"
        );
        Ok(Requested::Started { rotation_id })
    }

    async fn mark_rotating(&self, entry: &InventoryEntry, j: &Journal) -> Result<()> {
        let mut e = entry.clone();
        e.status = CredentialStatus::Rotating;
        e.status_reason = Some(clip(
            &format!(
                "rotation {} ({}){}",
                j.rotation_id,
                j.trigger,
                j.reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            ),
            500,
        ));
        inventory::patch_fields(&self.store, &e, &["status", "status_reason"]).await
    }

    /// Requests a rotation and drives it (see [`drive`](Self::drive)).
    pub async fn rotate(
        &self,
        name: &str,
        req: &RotationRequest,
        lead: &Leadership,
        wait_overlap: bool,
    ) -> Result<(Requested, Outcome)> {
        let requested = self.request(name, req, lead).await?;
        if matches!(requested, Requested::Mirrored { .. }) {
            return Ok((requested, Outcome::Idle));
        }
        let outcome = self.drive(name, lead, wait_overlap).await?;
        Ok((requested, outcome))
    }

    /// Drives the open rotation of `name` as far as it can go: to `done`, to `needs_human`,
    /// or (unless `wait_overlap`) to the overlap window. Vault failures and the end of the
    /// term stop it with an error, leaving the journal for the next pass.
    pub async fn drive(
        &self,
        name: &str,
        lead: &Leadership,
        wait_overlap: bool,
    ) -> Result<Outcome> {
        let Some((mut j, mut ver)) = self.store.read_journal(name).await? else {
            return Ok(Outcome::Idle);
        };
        match j.phase {
            Phase::Done => return Ok(Outcome::Idle),
            Phase::NeedsHuman => {
                return Ok(Outcome::NeedsHuman {
                    rotation_id: j.rotation_id,
                    error: j.last_error.unwrap_or_default(),
                })
            }
            _ => {}
        }
        let entry = inventory::entry(&self.store, name).await?;
        let result = self
            .drive_loop(name, &entry, &mut j, &mut ver, lead, wait_overlap)
            .await;
        // Still retrying (the term ended mid-backoff) or not any more.
        self.metrics
            .retrying(name, j.retrying_since.filter(|_| j.phase.is_open()));
        let trigger = j.trigger.as_str();
        match &result {
            Ok(Outcome::Done { rotation_id }) => {
                self.metrics.rotation(trigger, "success");
                let took = (Utc::now() - j.started_at).num_milliseconds().max(0) as f64 / 1000.0;
                self.metrics.rotation_duration(took);
                tracing::info!(credential = name, rotation_id = %rotation_id, trigger, "rotation done");
            }
            Ok(Outcome::NeedsHuman { .. }) => self.metrics.rotation(trigger, "needs_human"),
            Ok(_) => {}
            Err(e) if e.is_interrupted() => {
                self.metrics.rotation(trigger, "interrupted");
                tracing::info!(credential = name, rotation_id = %j.rotation_id, phase = %j.phase, reason = %e, "rotation paused");
            }
            Err(e) => {
                self.metrics.rotation(trigger, "error");
                tracing::warn!(credential = name, rotation_id = %j.rotation_id, phase = %j.phase, error = %e, "rotation paused on an error; the next pass resumes it");
            }
        }
        result
    }

    async fn drive_loop(
        &self,
        name: &str,
        entry: &InventoryEntry,
        j: &mut Journal,
        ver: &mut u64,
        lead: &Leadership,
        wait_overlap: bool,
    ) -> Result<Outcome> {
        let sa = entry.kind == CredentialKind::ServiceAccount;
        loop {
            lead.check()?;
            let step = match (j.phase, sa) {
                (Phase::Done, _) => {
                    return Ok(Outcome::Done {
                        rotation_id: j.rotation_id.clone(),
                    })
                }
                (Phase::NeedsHuman, _) => {
                    return Ok(Outcome::NeedsHuman {
                        rotation_id: j.rotation_id.clone(),
                        error: j.last_error.clone().unwrap_or_default(),
                    })
                }
                (Phase::Intent, true) => self.sa_intent(name, entry, j, ver, lead).await,
                (Phase::Created, true) => self.sa_test(name, entry, j, ver, lead).await,
                (Phase::Tested, true) => self.sa_promote(name, j, ver, lead).await,
                (Phase::Promoted, true) => self.advance(name, j, ver, Phase::Overlap, lead).await,
                (Phase::Overlap, true) => {
                    let now = Utc::now();
                    let end = j.overlap_ends_at().unwrap_or(now);
                    if now < end {
                        if !wait_overlap {
                            return Ok(Outcome::Waiting {
                                rotation_id: j.rotation_id.clone(),
                                until: end,
                            });
                        }
                        let left = (end - now).to_std().unwrap_or_default();
                        tracing::info!(credential = name, rotation_id = %j.rotation_id, until = %inventory::stamp(end), "overlap: both credentials stay valid until then");
                        lead.sleep(left).await?;
                        continue;
                    }
                    self.sa_revoke(name, j, ver, lead).await
                }
                (Phase::RevokedOld, true) => self.sa_finish(name, j, ver, lead).await,
                (Phase::Intent, false) => self.project_reset(entry, j, ver, lead).await,
                (Phase::Created, false) => self.project_test(entry, j, ver, lead).await,
                (Phase::Tested, false) => self.project_promote(entry, j, ver, lead).await,
                (Phase::Promoted | Phase::Overlap | Phase::RevokedOld, false) => {
                    self.advance(name, j, ver, Phase::Done, lead).await
                }
            };
            if let Err(e) = step {
                match self.after_failure(name, j, ver, e, lead).await? {
                    AfterFailure::Retry => {}
                    AfterFailure::Stop(outcome) => return Ok(outcome),
                }
            }
        }
    }

    /// Moves the journal to `phase` (check-and-set, fenced), then the crash knob.
    async fn advance(
        &self,
        name: &str,
        j: &mut Journal,
        ver: &mut u64,
        phase: Phase,
        lead: &Leadership,
    ) -> Result<()> {
        let from = j.phase;
        j.advance(phase, Utc::now());
        j.fencing_token = lead.fencing();
        *ver = self.write_merging(name, j, *ver, from, lead).await?;
        tracing::info!(credential = name, rotation_id = %j.rotation_id, phase = %phase, "journal advanced");
        crash::after(phase.as_str());
        Ok(())
    }

    /// Writes the journal; if a request joined the rotation meanwhile (a check-and-set
    /// conflict with a version of the same rotation still in phase `from`), takes over its
    /// reason and overlap and writes again.
    async fn write_merging(
        &self,
        name: &str,
        j: &mut Journal,
        ver: u64,
        from: Phase,
        lead: &Leadership,
    ) -> Result<u64> {
        match self.store.write_journal(name, j, ver, lead.fencing()).await {
            Err(VaultError::CasMismatch { .. }) => {
                let Some((fresh, fresh_ver)) = self.store.read_journal(name).await? else {
                    return Err(RotatorError::Interrupted(
                        "the journal disappeared during the rotation".into(),
                    ));
                };
                if fresh.rotation_id != j.rotation_id || fresh.phase != from {
                    return Err(RotatorError::Interrupted(format!(
                        "the journal moved on elsewhere (rotation {}, phase {})",
                        fresh.rotation_id, fresh.phase
                    )));
                }
                j.reason = fresh.reason;
                j.overlap = j.overlap.min(fresh.overlap);
                Ok(self
                    .store
                    .write_journal(name, j, fresh_ver, lead.fencing())
                    .await?)
            }
            other => Ok(other?),
        }
    }

    /// A journal write that must not be lost (it holds a secret that exists nowhere else):
    /// transient Vault failures are retried while the term lasts, for at most a minute.
    async fn write_journal_hard(
        &self,
        name: &str,
        j: &mut Journal,
        ver: u64,
        from: Phase,
        lead: &Leadership,
    ) -> Result<u64> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut delay = Duration::from_millis(100);
        loop {
            match self.write_merging(name, j, ver, from, lead).await {
                Ok(v) => return Ok(v),
                Err(RotatorError::Vault(e))
                    if e.is_transient() && Instant::now() < deadline && !lead.is_over() =>
                {
                    tracing::warn!(credential = name, error = %e, "journal write failed; retrying (it records a new secret)");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Records a failed phase: Vault problems and interruptions stop the drive (the journal is
    /// intact); other failures are retried with backoff, then end in `needs_human`.
    async fn after_failure(
        &self,
        name: &str,
        j: &mut Journal,
        ver: &mut u64,
        error: RotatorError,
        lead: &Leadership,
    ) -> Result<AfterFailure> {
        if error.is_interrupted() || matches!(error, RotatorError::Vault(_)) {
            return Err(error);
        }
        let message = clip(&error.to_string(), 2000);
        let phase = j.phase;
        let verdict = crate::policy::verdict(&error);
        let retry_after = crate::policy::retry_after(&error);
        if verdict == crate::policy::Verdict::Transient {
            // Mixpanel will answer again: back off and try again, not toward needs_human. The
            // working credential stays in place meanwhile.
            j.record_transient(format!("{phase}: {message}"), Utc::now());
            *ver = self
                .store
                .write_journal(name, j, *ver, lead.fencing())
                .await?;
            self.metrics.retrying(name, j.retrying_since);
            let delay = crate::policy::transient_delay(
                self.settings.retry_backoff,
                self.settings.max_retry_backoff,
                j.transient_failures,
                retry_after,
            );
            tracing::warn!(credential = name, rotation_id = %j.rotation_id, phase = %phase, transient_failures = j.transient_failures, retry_in_ms = delay.as_millis() as u64, error = %message, "rotation step failed on a transient error; backing off");
            lead.sleep(delay).await?;
            return Ok(AfterFailure::Retry);
        }
        j.record_failure(format!("{phase}: {message}"), Utc::now());
        let max = self.settings.max_attempts.max(1);
        let stop_now = verdict == crate::policy::Verdict::Stop;
        if j.attempts >= max || stop_now {
            let last = j.last_error.clone().unwrap_or_default();
            j.phase = Phase::NeedsHuman;
            j.updated_at = Utc::now();
            *ver = self
                .store
                .write_journal(name, j, *ver, lead.fencing())
                .await?;
            if let Ok(mut e) = inventory::entry(&self.store, name).await {
                e.status = CredentialStatus::NeedsHuman;
                e.status_reason = Some(clip(
                    &format!(
                        "rotation {} stopped after {} attempts in phase {phase}: {message}; fix the cause, then run `mixpanel-rotator rotate {name} --reason ...` to resume",
                        j.rotation_id, j.attempts
                    ),
                    500,
                ));
                inventory::patch_fields(&self.store, &e, &["status", "status_reason"]).await?;
            }
            tracing::error!(credential = name, rotation_id = %j.rotation_id, phase = %phase, attempts = j.attempts, error = %message, "rotation needs a human");
            return Ok(AfterFailure::Stop(Outcome::NeedsHuman {
                rotation_id: j.rotation_id.clone(),
                error: last,
            }));
        }
        *ver = self
            .store
            .write_journal(name, j, *ver, lead.fencing())
            .await?;
        let delay = crate::policy::counted_delay(
            self.settings.retry_backoff,
            self.settings.max_retry_backoff,
            j.attempts,
            retry_after,
        );
        tracing::warn!(credential = name, rotation_id = %j.rotation_id, phase = %phase, attempt = j.attempts, max_attempts = max, retry_in_ms = delay.as_millis() as u64, error = %message, "rotation step failed; retrying");
        lead.sleep(delay).await?;
        Ok(AfterFailure::Retry)
    }

    // ---- service accounts ----

    async fn sa_intent(
        &self,
        name: &str,
        entry: &InventoryEntry,
        j: &mut Journal,
        ver: &mut u64,
        lead: &Leadership,
    ) -> Result<()> {
        let new_username = j.new_username.clone().ok_or_else(|| {
            RotatorError::Invalid("the journal has no new username for this rotation".into())
        })?;
        lead.check()?;
        let accounts = self.api.list_service_accounts().await?;
        let orphans: Vec<&mixpanel_access::model::ServiceAccount> = accounts
            .iter()
            .filter(|a| a.username.base_name() == new_username)
            .collect();
        if !orphans.is_empty() {
            // Created by this rotation (once, or twice after an ambiguous create), but no
            // secret reached the journal: nobody can use them. Delete every one, check by a
            // read that none is left, and start over under a new username.
            lead.verify().await?;
            for orphan in &orphans {
                tracing::warn!(
                    credential = name,
                    rotation_id = %j.rotation_id,
                    orphan = %orphan.username,
                    orphan_id = orphan.id.0,
                    "found an account of an interrupted create (its secret was never recorded): deleting it"
                );
                self.api.delete_service_account(orphan.id).await?;
            }
            let left = self
                .api
                .list_service_accounts()
                .await?
                .into_iter()
                .filter(|a| a.username.base_name() == new_username)
                .count();
            if left > 0 {
                return Err(RotatorError::Invalid(format!(
                    "{left} account(s) named {new_username} are still listed after their deletion"
                )));
            }
            let now = Utc::now();
            let rotation_id = new_rotation_id();
            let base = username_base(j.old_username.as_ref(), name);
            let mut fresh = Journal::new(rotation_id.clone(), j.trigger, j.overlap, j.started_at);
            fresh.reason = j.reason.clone();
            fresh.requested_by = j.requested_by.clone();
            fresh.old_sa_id = j.old_sa_id;
            fresh.old_username = j.old_username.clone();
            fresh.new_username = Some(rotation_username(&base, now, &rotation_id));
            fresh.attempts = j.attempts.saturating_add(1);
            fresh.abandoned_usernames = j.abandoned_usernames.clone();
            if !fresh.abandoned_usernames.contains(&new_username) {
                fresh.abandoned_usernames.push(new_username.clone());
            }
            fresh.last_error = Some(format!(
                "intent: deleted {} orphan account(s) named {new_username} of rotation {}",
                orphans.len(),
                j.rotation_id
            ));
            fresh.updated_at = now;
            *ver = self
                .store
                .write_journal(name, &fresh, *ver, lead.fencing())
                .await?;
            *j = fresh;
            crash::after("intent");
            if j.attempts >= self.settings.max_attempts.max(1) {
                return Err(RotatorError::Invalid(
                    "creates keep failing after the account was made (orphans deleted)".into(),
                ));
            }
            return Ok(());
        }
        let old = j
            .old_sa_id
            .and_then(|id| accounts.iter().find(|a| a.id == id));
        let mut role = old
            .and_then(|a| a.role)
            .or(entry.role)
            .unwrap_or(ProjectRole::Consumer);
        if role == ProjectRole::Owner {
            tracing::warn!(
                credential = name,
                "the old account is an owner; service accounts cannot be created as owners, so the new one is an admin"
            );
            role = ProjectRole::Admin;
        }
        let projects = self
            .old_account_projects(name, entry, j.old_sa_id, lead)
            .await?;
        let mut grants = Vec::new();
        for p in &projects {
            lead.check()?;
            let members = self.api.list_project_service_accounts(*p).await?;
            let found = j
                .old_sa_id
                .and_then(|id| members.iter().find(|m| m.account.id == id));
            match found {
                Some(m) if m.target_type == TargetType::Individual => {
                    grants.push(ProjectRoleGrant {
                        id: *p,
                        role: m.project_role.min_admin(),
                    })
                }
                // Access through a team or the organization role comes back with those.
                Some(_) => {}
                None if old.is_none() => {
                    if let Some(r) = entry.role {
                        grants.push(ProjectRoleGrant {
                            id: *p,
                            role: r.min_admin(),
                        });
                    }
                }
                None => {}
            }
        }
        let now = Utc::now();
        let request = wire::CreateServiceAccount {
            username: new_username.clone(),
            role,
            expires: Some(expiry_for(now, entry.rotation_period)),
            projects: grants,
        };
        lead.check()?;
        let created = self.api.create_service_account(&request).await?;
        crash::after("create");
        tracing::info!(
            credential = name,
            rotation_id = %j.rotation_id,
            new_account = %created.account.username,
            new_id = created.account.id.0,
            expires = %request.expires.map(|e| e.to_string()).unwrap_or_default(),
            "new service account created"
        );
        j.new_sa_id = Some(created.account.id);
        j.new_full_username = Some(created.account.username.clone());
        j.pending_secret = Some(created.secret);
        j.advance(Phase::Created, Utc::now());
        *ver = self
            .write_journal_hard(name, j, *ver, Phase::Intent, lead)
            .await?;
        tracing::info!(credential = name, rotation_id = %j.rotation_id, phase = "created", "journal advanced (the new secret is recorded)");
        crash::after("created");
        Ok(())
    }

    /// The projects whose grants a new account copies and whose access is compared before
    /// promotion: the inventory's, plus every project the old account reaches as
    /// `GET /api/app/me` answers with its own credential (retried: a transient failure must not
    /// drop a grant). When that cannot be known the rotation stops in `needs_human`. When no
    /// credential of the old account is stored, every project of the organization is looked at
    /// (the rotator's own view).
    async fn old_account_projects(
        &self,
        name: &str,
        entry: &InventoryEntry,
        old_id: Option<ServiceAccountId>,
        lead: &Leadership,
    ) -> Result<Vec<ProjectId>> {
        let mut projects = entry.projects.clone();
        let Some(old_id) = old_id else {
            return Ok(projects);
        };
        let stored = match self.store.read_credential(name).await? {
            Some((
                Credential::ServiceAccount {
                    username,
                    secret,
                    sa_id,
                },
                _,
            )) if sa_id == old_id => Some((username, secret)),
            _ => None,
        };
        let Some((username, secret)) = stored else {
            lead.check()?;
            for p in self.api.list_projects().await? {
                if !projects.contains(&p) {
                    projects.push(p);
                }
            }
            return Ok(projects);
        };
        let client = self.api.client_for(username.as_str(), secret)?;
        lead.check()?;
        let me = match self.api.me_with(&client).await {
            Ok(me) => me,
            // Mixpanel will answer again: the driver's error policy backs off and retries the
            // step, the old credential kept in use meanwhile.
            Err(e) if e.is_transient() => return Err(RotatorError::Api(e)),
            Err(e) => {
                return Err(RotatorError::NeedsHuman(format!(
                    "the projects of the old account {username} cannot be listed with its own credential ({e}): its grants are unknown, so no successor is promoted; check the account, then resume"
                )))
            }
        };
        for (id, p) in &me.projects {
            match id.parse::<u64>() {
                Ok(id) if p.organization_id == self.api.org() => {
                    let id = ProjectId(id);
                    if !projects.contains(&id) {
                        projects.push(id);
                    }
                }
                _ => {}
            }
        }
        Ok(projects)
    }

    /// Compares the new account's access with the old one's before promotion: the
    /// organization role, the teams, and the individual grant on every project either can
    /// reach. An individual grant of the old account missing on the new one is added (and read
    /// back); any other difference stops the rotation in `needs_human`.
    async fn check_access(
        &self,
        name: &str,
        entry: &InventoryEntry,
        j: &Journal,
        client: &mixpanel_access::api::Client,
        lead: &Leadership,
    ) -> Result<()> {
        let (new_id, _, _) = new_account(j)?;
        let Some(old_id) = j.old_sa_id else {
            return Ok(());
        };
        lead.check()?;
        let accounts = self.api.list_service_accounts().await?;
        let Some(old) = accounts.iter().find(|a| a.id == old_id) else {
            tracing::warn!(
                credential = name,
                old_id = old_id.0,
                "the old account no longer exists: nothing to compare the new one with"
            );
            return Ok(());
        };
        let new = accounts.iter().find(|a| a.id == new_id).ok_or_else(|| {
            RotatorError::Invalid(format!(
                "the new account (id {new_id}) is not in the organization's list yet"
            ))
        })?;
        let mut diffs = Vec::new();
        let (ro, rn) = (old.role.map(|r| r.min_admin()), new.role);
        if ro != rn {
            diffs.push(format!(
                "organization role {} on the old account, {} on the new",
                ro.map(|r| r.to_string()).unwrap_or_else(|| "none".into()),
                rn.map(|r| r.to_string()).unwrap_or_else(|| "none".into())
            ));
        }
        let teams = self.api.list_teams().await?;
        for t in &teams {
            let (o, n) = (
                t.service_accounts.contains(&old_id),
                t.service_accounts.contains(&new_id),
            );
            if o != n {
                diffs.push(format!(
                    "team {} has {} account only",
                    t.name,
                    if o { "the old" } else { "the new" }
                ));
            }
        }
        let mut projects = self
            .old_account_projects(name, entry, Some(old_id), lead)
            .await?;
        let me_new = self.api.me_with(client).await?;
        for (id, p) in &me_new.projects {
            if let (Ok(id), true) = (id.parse::<u64>(), p.organization_id == self.api.org()) {
                if !projects.contains(&ProjectId(id)) {
                    projects.push(ProjectId(id));
                }
            }
        }
        projects.sort();
        let individual = |members: &[mixpanel_access::model::ProjectServiceAccount],
                          id: ServiceAccountId| {
            members
                .iter()
                .find(|m| m.account.id == id && m.target_type == TargetType::Individual)
                .map(|m| m.project_role)
        };
        // The old account's individual grants the new one lacks are added all at once (the
        // client packs them into one request), then each is read back.
        let mut missing = Vec::new();
        for p in projects {
            lead.check()?;
            let members = match self.api.list_project_service_accounts(p).await {
                Ok(m) => m,
                Err(e) if e.is_not_found() => continue,
                Err(e) => return Err(e.into()),
            };
            let o = individual(&members, old_id).map(MinAdmin::min_admin);
            let n = individual(&members, new_id);
            match (o, n) {
                (Some(role), None) => missing.push(ProjectRoleGrant { id: p, role }),
                (o, n) if o != n => diffs.push(role_diff(p, o, n)),
                _ => {}
            }
        }
        if !missing.is_empty() {
            lead.check()?;
            let adds: Vec<_> = missing
                .iter()
                .map(|g| {
                    let (api, grant) = (self.api.clone(), *g);
                    tokio::spawn(async move {
                        api.add_service_accounts_to_projects(&[new_id], &[grant])
                            .await
                    })
                })
                .collect();
            let mut outcomes = Vec::new();
            for add in adds {
                outcomes.push(joined(add.await));
            }
            let (mut added, mut failed) = (Vec::new(), Vec::new());
            for (g, outcome) in missing.iter().zip(outcomes) {
                lead.check()?;
                let members = self.api.list_project_service_accounts(g.id).await?;
                let n = individual(&members, new_id);
                match outcome {
                    _ if n == Some(g.role) => {
                        tracing::info!(credential = name, rotation_id = %j.rotation_id, project = g.id.0, role = %g.role, "added the old account's individual grant the new one lacked (read back)");
                        added.push(format!("{} on project {}", g.role, g.id));
                    }
                    Err(e) => failed.push((format!("{} on project {}", g.role, g.id), e)),
                    Ok(()) => diffs.push(role_diff(g.id, Some(g.role), n)),
                }
            }
            if !failed.is_empty() {
                return Err(partial_failure(
                    "the old account's individual project grants",
                    &added,
                    failed,
                ));
            }
        }
        if diffs.is_empty() {
            tracing::info!(credential = name, rotation_id = %j.rotation_id, "the new account has the same access as the old one");
            Ok(())
        } else {
            Err(RotatorError::NeedsHuman(clip(
                &format!(
                    "the new account's access differs from the old one's, so it is not promoted: {}",
                    diffs.join("; ")
                ),
                380,
            )))
        }
    }

    async fn sa_test(
        &self,
        name: &str,
        entry: &InventoryEntry,
        j: &mut Journal,
        ver: &mut u64,
        lead: &Leadership,
    ) -> Result<()> {
        let (new_id, username, secret) = new_account(j)?;
        if let Some(old_id) = j.old_sa_id {
            lead.check()?;
            let teams = self.api.list_teams().await?;
            let joins: Vec<&mixpanel_access::model::Team> = teams
                .iter()
                .filter(|t| {
                    t.service_accounts.contains(&old_id) && !t.service_accounts.contains(&new_id)
                })
                .collect();
            if !joins.is_empty() {
                // All at once (one round trip, not one per team), then one listing reads every
                // team back.
                lead.check()?;
                let adds: Vec<_> = joins
                    .iter()
                    .map(|t| {
                        let (api, team) = (self.api.clone(), t.id);
                        tokio::spawn(async move {
                            api.add_service_accounts_to_team(team, &[new_id]).await
                        })
                    })
                    .collect();
                let mut outcomes = Vec::new();
                for add in adds {
                    outcomes.push(joined(add.await));
                }
                lead.check()?;
                let now = self.api.list_teams().await?;
                let (mut added, mut failed) = (Vec::new(), Vec::new());
                for (t, outcome) in joins.iter().zip(outcomes) {
                    let shown = now
                        .iter()
                        .any(|x| x.id == t.id && x.service_accounts.contains(&new_id));
                    match outcome {
                        _ if shown => {
                            tracing::info!(credential = name, rotation_id = %j.rotation_id, team = %t.name, "new account added to the old one's team (read back)");
                            added.push(format!("team {}", t.name));
                        }
                        Err(e) => failed.push((format!("team {}", t.name), e)),
                        Ok(()) => failed.push((
                            format!("team {}", t.name),
                            ApiError::Config(
                                "the add answered success but the team's listing does not show the new account".into(),
                            ),
                        )),
                    }
                }
                if !failed.is_empty() {
                    return Err(partial_failure("the old account's teams", &added, failed));
                }
            }
        }
        let client = self.api.client_for(username.as_str(), secret)?;
        let project = entry.projects.first().copied();
        let deadline = Instant::now() + self.settings.test_timeout;
        let mut delay = Duration::from_millis(200);
        loop {
            lead.check()?;
            let result = async {
                self.api.me_with(&client).await?;
                if let Some(p) = project {
                    self.api.project_call_with(&client, p).await?;
                }
                Ok::<(), ApiError>(())
            }
            .await;
            match result {
                Ok(()) => break,
                Err(e) if Instant::now() + delay < deadline => {
                    tracing::info!(credential = name, rotation_id = %j.rotation_id, error = %e, "the new credential does not work yet; retrying (propagation)");
                    lead.sleep(delay).await?;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
                Err(e) => return Err(e.into()),
            }
        }
        self.check_access(name, entry, j, &client, lead).await?;
        self.advance(name, j, ver, Phase::Tested, lead).await
    }

    async fn sa_promote(
        &self,
        name: &str,
        j: &mut Journal,
        ver: &mut u64,
        lead: &Leadership,
    ) -> Result<()> {
        let (new_id, username, secret) = new_account(j)?;
        lead.verify().await?;
        let current = self.store.read_credential(name).await?;
        let already = matches!(&current, Some((Credential::ServiceAccount { sa_id, .. }, _)) if *sa_id == new_id);
        if !already {
            let cas = self
                .store
                .read_metadata(name)
                .await?
                .map(|m| m.current_version)
                .unwrap_or(0);
            let credential = Credential::ServiceAccount {
                username: username.clone(),
                secret,
                sa_id: new_id,
            };
            let version = self.store.write_credential(name, &credential, cas).await?;
            tracing::info!(credential = name, rotation_id = %j.rotation_id, version, "new credential promoted: consumers now read it");
        }
        let mut e = inventory::entry(&self.store, name).await?;
        e.record_rotation(
            Utc::now(),
            Some(j.rotation_id.clone()),
            Some(trigger_label(j)),
        );
        e.sa_id = Some(new_id);
        e.username = Some(username);
        inventory::patch_fields_new_secret(
            &self.store,
            &e,
            &[ROTATION_FIELDS, &["sa_id", "username"]].concat(),
        )
        .await?;
        self.advance(name, j, ver, Phase::Promoted, lead).await
    }

    async fn sa_revoke(
        &self,
        name: &str,
        j: &mut Journal,
        ver: &mut u64,
        lead: &Leadership,
    ) -> Result<()> {
        lead.verify().await?;
        let stored = self.store.read_credential(name).await?;
        let holds_new = matches!(&stored, Some((Credential::ServiceAccount { sa_id, .. }, _)) if Some(*sa_id) == j.new_sa_id);
        if !holds_new {
            return Err(RotatorError::Invalid(format!(
                "creds/{name} does not hold the new account (id {}): refusing to delete the old one",
                j.new_sa_id.map(|i| i.0.to_string()).unwrap_or_default()
            )));
        }
        if let Some(old) = j.old_sa_id.filter(|o| Some(*o) != j.new_sa_id) {
            self.api.delete_service_account(old).await?;
            tracing::info!(credential = name, rotation_id = %j.rotation_id, old_id = old.0, old_account = %j.old_username.as_ref().map(|u| u.to_string()).unwrap_or_default(), "old service account deleted");
        }
        self.advance(name, j, ver, Phase::RevokedOld, lead).await
    }

    async fn sa_finish(
        &self,
        name: &str,
        j: &mut Journal,
        ver: &mut u64,
        lead: &Leadership,
    ) -> Result<()> {
        // Every account this rotation may have created, under its username or an abandoned
        // one, except the promoted one: exactly one is kept, checked by a second listing.
        let mut names: Vec<String> = j.abandoned_usernames.clone();
        if let Some(u) = j.new_username.clone() {
            names.push(u);
        }
        if !names.is_empty() {
            let twins = |accounts: &[mixpanel_access::model::ServiceAccount]| -> Vec<(ServiceAccountId, String)> {
                accounts
                    .iter()
                    .filter(|a| {
                        names.iter().any(|n| a.username.base_name() == n.as_str())
                            && Some(a.id) != j.new_sa_id
                    })
                    .map(|a| (a.id, a.username.to_string()))
                    .collect()
            };
            lead.check()?;
            let found = twins(&self.api.list_service_accounts().await?);
            for (id, username) in &found {
                lead.verify().await?;
                tracing::warn!(credential = name, rotation_id = %j.rotation_id, twin = %username, "deleting a twin account left by an ambiguous create");
                self.api.delete_service_account(*id).await?;
            }
            // Checked by a second listing when something was deleted.
            let left = if found.is_empty() {
                Vec::new()
            } else {
                twins(&self.api.list_service_accounts().await?)
            };
            if !left.is_empty() {
                return Err(RotatorError::Invalid(format!(
                    "twin account(s) still listed after their deletion: {}",
                    left.iter()
                        .map(|(_, u)| u.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        self.advance(name, j, ver, Phase::Done, lead).await
    }

    // ---- project secrets and tokens ----

    fn project_of(entry: &InventoryEntry) -> Result<ProjectId> {
        entry.projects.first().copied().ok_or_else(|| {
            RotatorError::Invalid(format!("{} {} names no project", entry.kind, entry.name))
        })
    }

    async fn project_reset(
        &self,
        entry: &InventoryEntry,
        j: &mut Journal,
        ver: &mut u64,
        lead: &Leadership,
    ) -> Result<()> {
        let project = Self::project_of(entry)?;
        lead.check()?;
        let value = match entry.kind {
            CredentialKind::ProjectToken => self
                .api
                .reset_project_token(project)
                .await
                .map(SecretString::from),
            _ => self.api.reset_project_secret(project).await,
        };
        let missing_route = match &value {
            Err(ApiError::EmulatorOnly { .. }) => true,
            // A 404 for a project that exists: the route is what is missing (a proxy in front
            // of Mixpanel, or an emulator hiding its own routes).
            Err(e) if e.is_not_found() => self.api.project_metadata(project).await.is_ok(),
            _ => false,
        };
        let value = match value {
            Ok(v) => v,
            Err(_) if missing_route => {
                // No reset route here after all: finish this journal and fall back to a mirror.
                self.api.mark_reset_routes_missing();
                tracing::warn!(credential = %entry.name, project = project.0, "this API cannot reset project credentials: the value is mirrored and marked manual_rotation_required");
                j.last_error = Some("no reset API: manual rotation required".into());
                self.advance(&entry.name, j, ver, Phase::Done, lead).await?;
                self.mirror(entry, j.reason.as_deref().map(|r| (j.trigger, r)))
                    .await?;
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        };
        crash::after("create");
        tracing::info!(credential = %entry.name, rotation_id = %j.rotation_id, project = project.0, kind = %entry.kind, "project {} reset", if entry.kind == CredentialKind::ProjectToken { "token" } else { "secret" });
        j.pending_secret = Some(value);
        j.advance(Phase::Created, Utc::now());
        *ver = self
            .write_journal_hard(&entry.name, j, *ver, Phase::Intent, lead)
            .await?;
        crash::after("created");
        Ok(())
    }

    /// The project credential the journal's pending value makes, with the other half from
    /// the project's metadata.
    async fn project_credential(&self, entry: &InventoryEntry, j: &Journal) -> Result<Credential> {
        let project = Self::project_of(entry)?;
        let pending = j.pending_secret.clone().ok_or_else(|| {
            RotatorError::Invalid("the journal has no pending value to promote".into())
        })?;
        let meta = self.api.project_metadata(project).await?;
        Ok(match entry.kind {
            CredentialKind::ProjectToken => Credential::ProjectToken {
                project_id: project,
                token: pending.expose_secret().to_string(),
            },
            _ => Credential::ProjectSecret {
                project_id: project,
                secret: pending,
                token: meta.token,
            },
        })
    }

    async fn project_test(
        &self,
        entry: &InventoryEntry,
        j: &mut Journal,
        ver: &mut u64,
        lead: &Leadership,
    ) -> Result<()> {
        lead.check()?;
        let project = Self::project_of(entry)?;
        let cred = self.project_credential(entry, j).await?;
        let pair = match &cred {
            Credential::ProjectSecret {
                secret,
                token: Some(token),
                ..
            } => Some((token.clone(), secret.clone())),
            Credential::ProjectToken { token, .. } => self
                .api
                .project_metadata(project)
                .await?
                .secret
                .map(|s| (token.clone(), s)),
            _ => None,
        };
        if let Some((token, secret)) = pair {
            if !self
                .api
                .validate_project_credentials(&token, &secret)
                .await?
            {
                return Err(RotatorError::Invalid(format!(
                    "the new {} of project {project} does not validate",
                    entry.kind
                )));
            }
        }
        self.advance(&entry.name, j, ver, Phase::Tested, lead).await
    }

    async fn project_promote(
        &self,
        entry: &InventoryEntry,
        j: &mut Journal,
        ver: &mut u64,
        lead: &Leadership,
    ) -> Result<()> {
        let name = entry.name.as_str();
        let cred = self.project_credential(entry, j).await?;
        lead.verify().await?;
        let current = self.store.read_credential(name).await?;
        if !current.as_ref().is_some_and(|(c, _)| same_value(c, &cred)) {
            let cas = self
                .store
                .read_metadata(name)
                .await?
                .map(|m| m.current_version)
                .unwrap_or(0);
            self.store.write_credential(name, &cred, cas).await?;
        }
        let mut e = inventory::entry(&self.store, name).await?;
        e.record_rotation(
            Utc::now(),
            Some(j.rotation_id.clone()),
            Some(clip(
                &format!("{}; reset through the API", trigger_label(j)),
                300,
            )),
        );
        inventory::patch_fields_new_secret(&self.store, &e, ROTATION_FIELDS).await?;
        if let Credential::ProjectToken { token, project_id } = &cred {
            self.update_token_beside_secrets(*project_id, token).await?;
        }
        self.advance(name, j, ver, Phase::Promoted, lead).await
    }

    /// A project token was reset: the project secrets stored with the old token beside them
    /// get the new one (a new version each), so their consumers do not pair a valid secret
    /// with a token that no longer exists.
    async fn update_token_beside_secrets(&self, project: ProjectId, token: &str) -> Result<()> {
        for r in inventory::load(&self.store).await? {
            let Ok(e) = &r.entry else { continue };
            if e.kind != CredentialKind::ProjectSecret || e.projects.first() != Some(&project) {
                continue;
            }
            let Some((
                Credential::ProjectSecret {
                    secret, token: old, ..
                },
                info,
            )) = self.store.read_credential(&e.name).await?
            else {
                continue;
            };
            if old.as_deref() == Some(token) {
                continue;
            }
            let cred = Credential::ProjectSecret {
                project_id: project,
                secret,
                token: Some(token.to_string()),
            };
            self.store
                .write_credential(&e.name, &cred, info.version)
                .await?;
            tracing::info!(credential = %e.name, project = project.0, "the new project token is stored beside the project secret");
        }
        Ok(())
    }

    /// Reads a project secret or token back from Mixpanel into `creds/<name>` (only when it
    /// changed), validates it, and records the status: `manual_rotation_required` when it is
    /// due (or a trigger asked for a rotation), with the reason. A value that changed since the
    /// last mirror was rotated by hand: that counts as a rotation.
    pub async fn mirror(
        &self,
        entry: &InventoryEntry,
        mut asked: Option<(Trigger, &str)>,
    ) -> Result<CredentialStatus> {
        let name = entry.name.as_str();
        let project = Self::project_of(entry)?;
        let meta = self.api.project_metadata(project).await?;
        let cred = match entry.kind {
            CredentialKind::ProjectSecret => {
                let secret = meta.secret.clone().ok_or_else(|| {
                    RotatorError::Invalid(format!(
                        "Mixpanel did not return the API secret of project {project}: the rotator's service account needs the owner or admin role on it"
                    ))
                })?;
                if let Some(token) = &meta.token {
                    if !self
                        .api
                        .validate_project_credentials(token, &secret)
                        .await?
                    {
                        return Err(RotatorError::Invalid(format!(
                            "the API secret of project {project} does not validate against its token"
                        )));
                    }
                }
                Credential::ProjectSecret {
                    project_id: project,
                    secret,
                    token: meta.token.clone(),
                }
            }
            CredentialKind::ProjectToken => Credential::ProjectToken {
                project_id: project,
                token: meta.token.clone().ok_or_else(|| {
                    RotatorError::Invalid(format!(
                        "Mixpanel did not return the token of project {project}"
                    ))
                })?,
            },
            CredentialKind::ServiceAccount => {
                return Err(RotatorError::Invalid(
                    "service accounts are rotated, not mirrored".into(),
                ))
            }
        };
        let now = Utc::now();
        let current = self.store.read_credential(name).await?;
        let changed = !current.as_ref().is_some_and(|(c, _)| same_value(c, &cred));
        let mut e = inventory::entry(&self.store, name).await?;
        if changed {
            let cas = self
                .store
                .read_metadata(name)
                .await?
                .map(|m| m.current_version)
                .unwrap_or(0);
            self.store.write_credential(name, &cred, cas).await?;
            if current.is_some() {
                tracing::info!(credential = name, project = project.0, "the value changed in Mixpanel since the last mirror: recorded as a manual rotation");
                e.record_rotation(now, None, Some("manual (detected by the mirror)".into()));
            }
        }
        let hint = match entry.kind {
            CredentialKind::ProjectToken => format!(
                "not reset, mirrored: this API has no route to reset a project token (Mixpanel's has none; only Mixpanel support can): the rotator mirrors and checks the current token of project {project}"
            ),
            _ => format!(
                "not reset, mirrored: this API has no route to reset a project API secret (Mixpanel's has none): reset it in the settings of project {project} (owners only); the rotator mirrors and validates the current value"
            ),
        };
        e.refresh(now);
        if self.can_rotate(e.kind) && e.status == CredentialStatus::ManualRotationRequired {
            // The API can reset it here: it is simply due (the rotator will rotate it).
            e.status = CredentialStatus::Due;
            e.status_reason = e
                .status_reason
                .as_deref()
                .and_then(|r| r.split("; ").next())
                .map(str::to_string);
            asked = None;
        }
        let (status, reason) = match (asked, e.status) {
            (Some((trigger, why)), _) => (
                CredentialStatus::ManualRotationRequired,
                Some(format!("{trigger}: {why}; {hint}")),
            ),
            (None, CredentialStatus::Ok) => (CredentialStatus::Ok, None),
            (None, CredentialStatus::Due) if self.can_rotate(e.kind) => {
                (CredentialStatus::Due, e.status_reason.clone())
            }
            (None, s) => (
                CredentialStatus::ManualRotationRequired,
                Some(format!(
                    "{}; {hint}",
                    e.status_reason.clone().unwrap_or_else(|| s.to_string())
                )),
            ),
        };
        e.status = status;
        e.status_reason = reason.map(|r| clip(&r, 500));
        if changed {
            inventory::patch_fields_new_secret(&self.store, &e, ROTATION_FIELDS).await?;
        } else {
            inventory::patch_fields(&self.store, &e, ROTATION_FIELDS).await?;
        }
        inventory::patch_extra(&self.store, name, MIRRORED_KEY, Some(inventory::stamp(now)))
            .await?;
        tracing::info!(credential = name, project = project.0, status = %status, changed, "current value mirrored and validated");
        Ok(status)
    }
}

/// `membership: admin ana@x removed from project 42`.
fn trigger_label(j: &Journal) -> String {
    match &j.reason {
        Some(r) => clip(&format!("{}: {r}", j.trigger), 200),
        None => j.trigger.to_string(),
    }
}

/// The new account the journal records from phase `created` on: id, username and secret.
fn new_account(j: &Journal) -> Result<(ServiceAccountId, ServiceAccountUsername, SecretString)> {
    match (
        j.new_sa_id,
        j.new_full_username.clone(),
        j.pending_secret.clone(),
    ) {
        (Some(i), Some(u), Some(s)) => Ok((i, u, s)),
        _ => Err(RotatorError::Invalid(format!(
            "the journal is in phase {} without the new account",
            j.phase.as_str()
        ))),
    }
}

/// Whether two credentials hold the same values (secrets compared, never printed).
pub fn same_value(a: &Credential, b: &Credential) -> bool {
    match (a, b) {
        (
            Credential::ProjectSecret {
                project_id: p1,
                secret: s1,
                token: t1,
            },
            Credential::ProjectSecret {
                project_id: p2,
                secret: s2,
                token: t2,
            },
        ) => p1 == p2 && t1 == t2 && s1.expose_secret() == s2.expose_secret(),
        (
            Credential::ProjectToken {
                project_id: p1,
                token: t1,
            },
            Credential::ProjectToken {
                project_id: p2,
                token: t2,
            },
        ) => p1 == p2 && t1 == t2,
        (
            Credential::ServiceAccount {
                sa_id: i1,
                secret: s1,
                ..
            },
            Credential::ServiceAccount {
                sa_id: i2,
                secret: s2,
                ..
            },
        ) => i1 == i2 && s1.expose_secret() == s2.expose_secret(),
        _ => false,
    }
}

/// Service accounts hold at most admin.
trait MinAdmin {
    fn min_admin(self) -> ProjectRole;
}

impl MinAdmin for ProjectRole {
    fn min_admin(self) -> ProjectRole {
        if self == ProjectRole::Owner {
            ProjectRole::Admin
        } else {
            self
        }
    }
}

/// Whether an error is Vault being unavailable (so the work should pause, not fail).
pub fn is_vault_outage(e: &RotatorError) -> bool {
    matches!(e, RotatorError::Vault(v) if v.is_transient())
        || matches!(e, RotatorError::Vault(VaultError::LostLeadership { .. }))
}

/// A `project P: individual role X on the old account, Y on the new` difference.
fn role_diff(p: ProjectId, o: Option<ProjectRole>, n: Option<ProjectRole>) -> String {
    format!(
        "project {p}: individual role {} on the old account, {} on the new",
        o.map(|r| r.to_string()).unwrap_or_else(|| "none".into()),
        n.map(|r| r.to_string()).unwrap_or_else(|| "none".into())
    )
}

/// The outcome of a spawned API call.
fn joined(
    r: std::result::Result<std::result::Result<(), ApiError>, tokio::task::JoinError>,
) -> std::result::Result<(), ApiError> {
    r.unwrap_or_else(|e| Err(ApiError::Config(format!("the request's task failed: {e}"))))
}

/// Grants of a successor made together of which some failed: one failure alone is the API's
/// error (so its kind, e.g. a rate limit's wait, drives the retry); several, or a failure next
/// to grants that were made, say which were made (read back) and which were not. The step is
/// retried and adds only what is still missing.
fn partial_failure(
    what: &str,
    added: &[String],
    mut failed: Vec<(String, ApiError)>,
) -> RotatorError {
    if added.is_empty() && failed.len() == 1 {
        return RotatorError::Api(failed.remove(0).1);
    }
    // Grants that failed the same way share their error: every grant is named within the clip.
    let mut by_error: Vec<(String, Vec<String>)> = Vec::new();
    for (g, e) in failed {
        let e = e.to_string();
        match by_error.iter_mut().find(|(x, _)| *x == e) {
            Some((_, gs)) => gs.push(g),
            None => by_error.push((e, vec![g])),
        }
    }
    let failed: Vec<String> = by_error
        .into_iter()
        .map(|(e, gs)| format!("{} ({e})", gs.join(", ")))
        .collect();
    RotatorError::Invalid(clip(
        &format!(
            "copying {what} to the new account is partial: not made: {}; made and read back: {}",
            failed.join("; "),
            if added.is_empty() {
                "none".to_string()
            } else {
                added.join(", ")
            }
        ),
        380,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_deterministic_and_do_not_nest() {
        let old: ServiceAccountUsername = "etl-20260101-abc123.9f8e.mp-service-account"
            .parse()
            .unwrap();
        assert_eq!(username_base(Some(&old), "x"), "etl");
        let plain: ServiceAccountUsername = "fivetran.1a2b.mp-service-account".parse().unwrap();
        assert_eq!(username_base(Some(&plain), "x"), "fivetran");
        assert_eq!(
            username_base(None, "warehouse/fivetran prod"),
            "fivetran-prod"
        );
        let at = DateTime::parse_from_rfc3339("2026-11-22T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let u = rotation_username("etl", at, "0123456789abcdef");
        assert_eq!(u, "etl-20261122-012345");
        ServiceAccountUsername::validate_name(&u).unwrap();
        assert_eq!(strip_rotation_suffix(&u), "etl");
    }

    #[tokio::test]
    async fn project_secrets_are_mirrored_on_real_mixpanel_and_rotated_on_the_emulator() {
        use mixpanel_access::api::ClientConfig;
        use mixpanel_access::model::OrgId;
        use mixpanel_access::vault::{VaultAuth, VaultConfig};
        let store = VaultStore::new(VaultConfig::new(
            "http://127.0.0.1:1",
            VaultAuth::token("t"),
        ))
        .unwrap();
        for (url, rotatable) in [
            ("https://mixpanel.com", false),
            ("https://eu.mixpanel.com", false),
            ("http://127.0.0.1:9", true),
        ] {
            let cfg = ClientConfig::new(
                url,
                "r.ab.mp-service-account",
                SecretString::from("s".to_string()),
            )
            .unwrap();
            let api = Mixpanel::connect(cfg, Some(OrgId(1)), 5).await.unwrap();
            let e = Engine::new(
                store.clone(),
                api,
                RotationSettings::default(),
                Arc::default(),
            );
            assert!(e.can_rotate(CredentialKind::ServiceAccount));
            assert_eq!(
                e.can_rotate(CredentialKind::ProjectSecret),
                rotatable,
                "{url}"
            );
            assert_eq!(
                e.can_rotate(CredentialKind::ProjectToken),
                rotatable,
                "{url}"
            );
        }
    }

    #[test]
    fn needs_human_resumes_where_it_stopped() {
        let now = Utc::now();
        let mut j = Journal::new("r", Trigger::Manual, Duration::ZERO, now);
        assert_eq!(resume_phase(&j), Phase::Intent);
        j.pending_secret = Some(SecretString::from("s".to_string()));
        assert_eq!(resume_phase(&j), Phase::Created);
        j.promoted_at = Some(now);
        assert_eq!(resume_phase(&j), Phase::Overlap);
    }
}
