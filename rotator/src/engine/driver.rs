//! The driver: owns the loop over a rotation's phases, the leadership (checked between
//! steps; a step's journal writes are fenced by [`FencedJournal`]), the error policy
//! ([`crate::policy`]: the one place retries and their waits are decided), the sleeps and
//! the metrics. The business of each phase is in [`super::steps`].

use std::time::Duration;

use backon::BackoffBuilder;
use chrono::Utc;
use mixpanel_access::inventory::{CredentialKind, CredentialStatus, InventoryEntry};
use mixpanel_access::vault::{Credential, Journal, Phase, Trigger, VaultError};

use super::journal::FencedJournal;
use super::steps::Next;
use super::{
    clip, new_rotation_id, resume_phase, rotation_username, username_base, Engine, Outcome,
    Requested,
};
use crate::crash;
use crate::election::Leadership;
use crate::error::{Result, RotatorError};
use crate::inventory::{self, RotationRequest};
use crate::policy::{self, Verdict};
use crate::ports::{RotationApi, RotationStore};

enum AfterFailure {
    Retry,
    Stop(Outcome),
}

impl<S: RotationStore, A: RotationApi> Engine<S, A> {
    /// Asks for a rotation: journals a new one, joins an open one, resumes one stopped in
    /// `needs_human` (manual and incident requests only), or mirrors a credential that cannot
    /// be rotated through the API. A request that lost a check-and-set race to another writer
    /// (a drive, another request) reads again, as [`policy::request_conflict`] allows.
    pub async fn request(
        &self,
        name: &str,
        req: &RotationRequest,
        lead: &Leadership,
    ) -> Result<Requested> {
        let mut again = policy::request_conflict().build();
        loop {
            match self.request_once(name, req, lead).await {
                Err(e @ RotatorError::Vault(VaultError::CasMismatch { .. })) => {
                    match again.next() {
                        Some(d) => tokio::time::sleep(d).await,
                        None => return Err(e),
                    }
                }
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
                let mut fj = FencedJournal::at(name, j, ver, lead);
                fj.save(&self.store).await?;
                let j = fj.into_inner();
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
                FencedJournal::at(name, j.clone(), ver, lead)
                    .save(&self.store)
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
            // The reads above may have outlived the term: no write after it.
            lead.check()?;
            let status = self
                .steps()
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
                .is_some_and(|u| u.as_str() == self.api.own_username())
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
        // The status first: an entry marked rotating without an open journal is harmless. Not
        // after the term ended, though (the reads above may have outlived it).
        lead.check()?;
        self.mark_rotating(&entry, &j).await?;
        let mut fj = FencedJournal::at(name, j, cas, lead);
        fj.save(&self.store).await?;
        let j = fj.into_inner();
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
        let Some(mut j) = FencedJournal::read(&self.store, name, lead).await? else {
            return Ok(Outcome::Idle);
        };
        match j.phase {
            Phase::Done => return Ok(Outcome::Idle),
            Phase::NeedsHuman => {
                return Ok(Outcome::NeedsHuman {
                    rotation_id: j.rotation_id.clone(),
                    error: j.last_error.clone().unwrap_or_default(),
                })
            }
            _ => {}
        }
        let entry = inventory::entry(&self.store, name).await?;
        let result = self.drive_loop(&entry, &mut j, wait_overlap).await;
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

    /// Runs the steps of the open rotation until it is done, stops in `needs_human`, waits
    /// out its overlap (unless `wait_overlap`), or the term ends.
    async fn drive_loop(
        &self,
        entry: &InventoryEntry,
        j: &mut FencedJournal<'_>,
        wait_overlap: bool,
    ) -> Result<Outcome> {
        let lead = j.lead();
        let steps = self.steps();
        let sa = entry.kind == CredentialKind::ServiceAccount;
        // The new credential's probes while it propagates: backed off by the policy, for at
        // most the test timeout; then the failure goes to the error policy.
        let mut propagation = policy::propagation(self.settings.test_timeout).build();
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
                (Phase::Intent, true) => steps.sa_intent(entry, j).await,
                (Phase::Created, true) => steps.sa_test(entry, j).await,
                (Phase::Tested, true) => steps.sa_promote(j).await,
                (Phase::Promoted, true) => Ok(Next::To(Phase::Overlap)),
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
                        tracing::info!(credential = j.name(), rotation_id = %j.rotation_id, until = %inventory::stamp(end), "overlap: both credentials stay valid until then");
                        lead.sleep(left).await?;
                        continue;
                    }
                    steps.sa_revoke(j).await
                }
                (Phase::RevokedOld, true) => steps.sa_finish(j).await,
                (Phase::Intent, false) => steps.project_reset(entry, j).await,
                (Phase::Created, false) => steps.project_test(entry, j).await,
                (Phase::Tested, false) => steps.project_promote(entry, j).await,
                (Phase::Promoted | Phase::Overlap | Phase::RevokedOld, false) => {
                    Ok(Next::To(Phase::Done))
                }
            };
            let failure = match step {
                Ok(Next::To(phase)) => j.advance(&self.store, phase).await.err(),
                Ok(Next::Again) => None,
                Ok(Next::NotYet(e)) => match propagation.next() {
                    Some(delay) => {
                        tracing::info!(credential = j.name(), rotation_id = %j.rotation_id, error = %e, "the new credential does not work yet; retrying (propagation)");
                        lead.sleep(delay).await?;
                        None
                    }
                    None => Some(RotatorError::Api(e)),
                },
                Err(e) => Some(e),
            };
            if let Some(e) = failure {
                match self.after_failure(j, e, lead).await? {
                    AfterFailure::Retry => {
                        propagation = policy::propagation(self.settings.test_timeout).build();
                    }
                    AfterFailure::Stop(outcome) => return Ok(outcome),
                }
            }
        }
    }

    /// Records a failed phase: Vault problems and interruptions stop the drive (the journal is
    /// intact); other failures are retried with backoff (transient ones while the old
    /// credential is valid), then end in `needs_human`.
    async fn after_failure(
        &self,
        j: &mut FencedJournal<'_>,
        error: RotatorError,
        lead: &Leadership,
    ) -> Result<AfterFailure> {
        let name = j.name().to_string();
        let name = name.as_str();
        if error.is_interrupted() || matches!(error, RotatorError::Vault(_)) {
            return Err(error);
        }
        let mut message = clip(&error.to_string(), 2000);
        let phase = j.phase;
        let mut verdict = policy::verdict(&error);
        let retry_after = policy::retry_after(&error);
        let delay = policy::transient_delay(
            self.settings.retry_backoff,
            self.settings.max_retry_backoff,
            j.transient_failures.saturating_add(1),
            retry_after,
        );
        let next_try = Utc::now() + chrono::TimeDelta::from_std(delay).unwrap_or_default();
        if verdict == Verdict::Transient
            && !policy::old_still_valid(j.promoted_at.is_some(), j.old_expires_at, next_try)
        {
            // Retrying no longer keeps consumers working: the old account expires before the
            // next try, and its successor is not promoted.
            message = clip(
                &format!(
                    "{message}; Mixpanel kept failing{} and the old account expires at {}, before the next try, with its successor not promoted: consumers of {name} are left without a working credential then; extend the old account's expiry in Mixpanel (or give consumers another credential), then, once Mixpanel answers, resume with `mixpanel-rotator rotate {name} --retry`",
                    j.retrying_since
                        .map(|t| format!(" since {}", inventory::stamp(t)))
                        .unwrap_or_default(),
                    j.old_expires_at
                        .map(inventory::stamp)
                        .unwrap_or_else(|| "?".into())
                ),
                2000,
            );
            verdict = Verdict::Stop;
        }
        if verdict == Verdict::Transient {
            // Mixpanel will answer again: back off and try again, not toward needs_human. The
            // working credential stays in place meanwhile.
            j.edit()
                .record_transient(format!("{phase}: {message}"), Utc::now());
            j.save(&self.store).await?;
            self.metrics.retrying(name, j.retrying_since);
            tracing::warn!(credential = name, rotation_id = %j.rotation_id, phase = %phase, transient_failures = j.transient_failures, retry_in_ms = delay.as_millis() as u64, error = %message, "rotation step failed on a transient error; backing off");
            lead.sleep(delay).await?;
            return Ok(AfterFailure::Retry);
        }
        j.edit()
            .record_failure(format!("{phase}: {message}"), Utc::now());
        let max = self.settings.max_attempts.max(1);
        let stop_now = verdict == Verdict::Stop;
        if j.attempts >= max || stop_now {
            let last = j.last_error.clone().unwrap_or_default();
            j.edit().phase = Phase::NeedsHuman;
            j.edit().updated_at = Utc::now();
            j.save(&self.store).await?;
            if let Ok(mut e) = inventory::entry(&self.store, name).await {
                e.status = CredentialStatus::NeedsHuman;
                e.status_reason = Some(clip(
                    &format!(
                        "rotation {} stopped after {} attempts in phase {phase}: {message}; fix the cause, then run `mixpanel-rotator rotate {name} --retry` to resume",
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
        j.save(&self.store).await?;
        let delay = policy::counted_delay(
            self.settings.retry_backoff,
            self.settings.max_retry_backoff,
            j.attempts,
            retry_after,
        );
        tracing::warn!(credential = name, rotation_id = %j.rotation_id, phase = %phase, attempt = j.attempts, max_attempts = max, retry_in_ms = delay.as_millis() as u64, error = %message, "rotation step failed; retrying");
        lead.sleep(delay).await?;
        Ok(AfterFailure::Retry)
    }
}
