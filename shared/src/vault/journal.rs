//! The rotation journal kept in `state/<name>`: the write-ahead record of one rotation, written
//! with check-and-set before every external side effect and carrying the writer's fencing token.
//! Consumers never read it; it may hold the new secret between `created` and `promoted`.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::inventory::serde_humantime;
use crate::model::{serialize_opt_secret, ServiceAccountId, ServiceAccountUsername};

/// The leader's fencing token: the KV version at which it acquired the lease. It grows with
/// every change of leader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FencingToken(pub u64);

impl fmt::Display for FencingToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Where a rotation stands (see the rotation state machine in the design notes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Recorded: rotation id, deterministic new username, old account. Nothing external yet.
    Intent,
    /// The new account exists; its id and secret are in the journal.
    Created,
    /// The new secret works.
    Tested,
    /// `creds/<name>` holds the new credential.
    Promoted,
    /// Waiting until `promoted_at + overlap` before revoking the old credential.
    Overlap,
    /// The old account is deleted.
    RevokedOld,
    /// Finished; the pending secret is cleared.
    Done,
    /// Stopped after bounded retries: a person must look.
    NeedsHuman,
}

impl Phase {
    pub const NAMES: &'static [&'static str] = &[
        "intent",
        "created",
        "tested",
        "promoted",
        "overlap",
        "revoked_old",
        "done",
        "needs_human",
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Intent => "intent",
            Phase::Created => "created",
            Phase::Tested => "tested",
            Phase::Promoted => "promoted",
            Phase::Overlap => "overlap",
            Phase::RevokedOld => "revoked_old",
            Phase::Done => "done",
            Phase::NeedsHuman => "needs_human",
        }
    }

    /// Whether the journal blocks a new rotation of the same credential (anything but `done`).
    pub fn is_open(self) -> bool {
        self != Phase::Done
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What started a rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// The due date passed.
    Schedule,
    /// A member with access was removed or downgraded on one of the credential's projects.
    Membership,
    /// Someone asked (CLI or HTTP).
    Manual,
    /// An incident: usually with a zero overlap.
    Incident,
}

impl Trigger {
    /// Every trigger, for metrics that export each one from the start.
    pub const ALL: [Trigger; 4] = [
        Trigger::Schedule,
        Trigger::Membership,
        Trigger::Manual,
        Trigger::Incident,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Schedule => "schedule",
            Trigger::Membership => "membership",
            Trigger::Manual => "manual",
            Trigger::Incident => "incident",
        }
    }
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One rotation's journal. `Debug` never shows the pending secret; serialization (only ever
/// into Vault) does.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Journal {
    pub rotation_id: String,
    pub phase: Phase,
    pub trigger: Trigger,
    /// Why (a ticket, "user x removed from project y", ...).
    #[serde(default)]
    pub reason: Option<String>,
    /// Who asked, for manual and incident rotations.
    #[serde(default)]
    pub requested_by: Option<String>,
    /// How long the old credential stays valid after promotion.
    #[serde(with = "serde_humantime")]
    pub overlap: Duration,
    #[serde(default)]
    pub old_sa_id: Option<ServiceAccountId>,
    #[serde(default)]
    pub old_username: Option<ServiceAccountUsername>,
    /// The deterministic name requested for the new account (`<base>-<yyyymmdd>-<rid6>`),
    /// recorded before the create call.
    #[serde(default)]
    pub new_username: Option<String>,
    /// The new account's full username, once created.
    #[serde(default)]
    pub new_full_username: Option<ServiceAccountUsername>,
    #[serde(default)]
    pub new_sa_id: Option<ServiceAccountId>,
    /// The new secret between `created` and `done`.
    #[serde(default, serialize_with = "serialize_opt_secret")]
    pub pending_secret: Option<SecretString>,
    /// Attempts of the current phase.
    #[serde(default)]
    pub attempts: u32,
    #[serde(default)]
    pub last_error: Option<String>,
    /// The fencing token of the leader that wrote this version (set by `write_journal`).
    #[serde(default = "zero_token")]
    pub fencing_token: FencingToken,
    pub started_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(default)]
    pub promoted_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub finished_at: Option<DateTime<Utc>>,
    /// Usernames requested by earlier attempts of this rotation whose create may have been
    /// carried out without its secret reaching the journal: every account with one of them is
    /// deleted before the rotation is done.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub abandoned_usernames: Vec<String>,
    /// Since when the current phase has failed with transient errors only (5xx, 429, no
    /// answer): the driver backs off and tries again, without counting toward `needs_human`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retrying_since: Option<DateTime<Utc>>,
    /// Transient failures of the current phase (the backoff grows with them).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub transient_failures: u32,
    /// When the old account stops working by itself (its `expires` in Mixpanel), as read at
    /// `intent`: transient failures before promotion are retried only until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_expires_at: Option<DateTime<Utc>>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn zero_token() -> FencingToken {
    FencingToken(0)
}

impl Journal {
    /// A new journal in phase `intent`.
    pub fn new(
        rotation_id: impl Into<String>,
        trigger: Trigger,
        overlap: Duration,
        now: DateTime<Utc>,
    ) -> Self {
        Journal {
            rotation_id: rotation_id.into(),
            phase: Phase::Intent,
            trigger,
            reason: None,
            requested_by: None,
            overlap,
            old_sa_id: None,
            old_username: None,
            new_username: None,
            new_full_username: None,
            new_sa_id: None,
            pending_secret: None,
            attempts: 0,
            last_error: None,
            fencing_token: FencingToken(0),
            started_at: now,
            updated_at: now,
            promoted_at: None,
            finished_at: None,
            abandoned_usernames: Vec::new(),
            retrying_since: None,
            transient_failures: 0,
            old_expires_at: None,
        }
    }

    /// Moves to `phase`: resets the attempt counter and the last error; `promoted` records
    /// `promoted_at`; `done` records `finished_at` and clears the pending secret.
    pub fn advance(&mut self, phase: Phase, now: DateTime<Utc>) {
        self.phase = phase;
        self.attempts = 0;
        self.last_error = None;
        self.retrying_since = None;
        self.transient_failures = 0;
        self.updated_at = now;
        match phase {
            Phase::Promoted if self.promoted_at.is_none() => self.promoted_at = Some(now),
            Phase::Done => {
                self.finished_at = Some(now);
                self.pending_secret = None;
            }
            _ => {}
        }
    }

    /// Records a transient failure of the current phase: not an attempt (it does not lead
    /// to `needs_human`), but the start of the retrying time and the count the backoff uses.
    pub fn record_transient(&mut self, error: impl Into<String>, now: DateTime<Utc>) {
        self.transient_failures = self.transient_failures.saturating_add(1);
        self.retrying_since.get_or_insert(now);
        self.last_error = Some(error.into());
        self.updated_at = now;
    }

    /// Records a failed attempt of the current phase.
    pub fn record_failure(&mut self, error: impl Into<String>, now: DateTime<Utc>) {
        self.attempts = self.attempts.saturating_add(1);
        self.last_error = Some(error.into());
        self.updated_at = now;
    }

    /// When the overlap window ends (`promoted_at + overlap`).
    pub fn overlap_ends_at(&self) -> Option<DateTime<Utc>> {
        let promoted = self.promoted_at?;
        let overlap = chrono::TimeDelta::from_std(self.overlap).ok()?;
        promoted.checked_add_signed(overlap)
    }
}
