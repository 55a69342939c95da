//! The integration inventory: one entry per credential an integration uses (who created it, who
//! uses it, for what, on which projects, who owns it, how often it rotates, when it last did and
//! when it is due). Entries persist as the `custom_metadata` of `creds/<name>` in Vault KV v2
//! ([`InventoryEntry::to_custom_metadata`]), are declared in an `inventory.toml` file
//! ([`parse_inventory_toml`]) and export to CSV, JSON and Markdown ([`export`]).
//!
//! An entry never holds a secret: the secret lives in the data of `creds/<name>`.

mod duration;
pub mod export;
mod file;
mod metadata;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::model::{ParseError, ProjectId, ProjectRole, ServiceAccountId, ServiceAccountUsername};

pub use duration::{
    format_duration, format_optional_period, parse_duration, parse_optional_period,
    serde_humantime, NEVER,
};
pub use export::{csv_safe, to_csv, to_json, to_markdown, ExportFormat, COLUMNS};
pub use file::{parse_inventory_toml, InventoryFile, FILE_KEYS};
pub use metadata::{
    parse_rotate_on, CUSTOM_METADATA_MAX_KEYS, CUSTOM_METADATA_MAX_KEY_LEN,
    CUSTOM_METADATA_MAX_VALUE_LEN, DEFAULT_SENTINEL, EMPTY_SENTINEL, METADATA_KEYS, NEVER_SENTINEL,
};

/// The default rotation period of an entry that names none.
pub const DEFAULT_ROTATION_PERIOD: Duration = Duration::from_secs(90 * 86_400);
/// The default overlap window (old and new credential both valid) of an entry that names none.
pub const DEFAULT_OVERLAP: Duration = Duration::from_secs(86_400);
/// Jitter is at most this share of the period (in either direction)...
pub const JITTER_FRACTION: f64 = 0.05;
/// ...and never more than this.
pub const MAX_JITTER: Duration = Duration::from_secs(12 * 3_600);
/// A due credential becomes overdue after this share of its period...
pub const GRACE_FRACTION: f64 = 0.10;
/// ...or after this long, whichever comes first.
pub const MAX_GRACE: Duration = Duration::from_secs(24 * 3_600);

/// Declares an enum that travels as fixed snake_case names, in the style of the model's enums.
macro_rules! name_enum {
    ($(#[$m:meta])* $name:ident, $kind:literal, { $($(#[$vm:meta])* $variant:ident => $wire:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($(#[$vm])* $variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// Every wire name, in declaration order.
            pub const NAMES: &'static [&'static str] = &[$($wire),+];

            /// The wire name.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = ParseError;
            fn from_str(s: &str) -> Result<Self, ParseError> {
                match s.trim() {
                    $($wire => Ok($name::$variant),)+
                    _ => Err(ParseError::UnknownName { kind: $kind, value: s.to_string(), valid: Self::NAMES }),
                }
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

name_enum!(
    /// What kind of credential an entry is.
    CredentialKind, "credential kind", {
        /// A Mixpanel service account (`name.<hex>.mp-service-account` + secret): rotated by
        /// replacement.
        ServiceAccount => "service_account",
        /// A project's (deprecated) API secret: no reset API upstream, so rotation is manual.
        ProjectSecret => "project_secret",
        /// A project token: an identifier sent with events, listed so the inventory is complete.
        ProjectToken => "project_token",
    }
);

impl CredentialKind {
    /// Whether the rotator can replace this kind of credential on its own.
    pub fn is_auto_rotatable(self) -> bool {
        matches!(self, CredentialKind::ServiceAccount)
    }

    /// Whether the old value can stay valid beside the new one for an overlap: only a service
    /// account's (a project secret or token is replaced in one step).
    pub fn has_overlap(self) -> bool {
        matches!(self, CredentialKind::ServiceAccount)
    }

    /// The overlap of a new entry of this kind: [`DEFAULT_OVERLAP`], or none where the kind
    /// cannot honour one.
    pub fn default_overlap(self) -> Duration {
        if self.has_overlap() {
            DEFAULT_OVERLAP
        } else {
            Duration::ZERO
        }
    }
}

name_enum!(
    /// An event that may rotate a credential (an entry's `rotate_on`).
    RotateOn, "rotation trigger", {
        /// An owner or admin of one of its projects was removed.
        AdminRemoved => "admin_removed",
        /// An owner or admin of one of its projects was downgraded.
        AdminDowngraded => "admin_downgraded",
        /// An incident request (`rotate --incident`, a zero overlap).
        Incident => "incident",
        /// The due date passed.
        Schedule => "schedule",
        /// A manual request (`rotate`, `POST /rotate`).
        Manual => "manual",
    }
);

name_enum!(
    /// What kind of integration uses the credential.
    IntegrationType, "integration type", {
        DataPipeline => "data_pipeline",
        BiTool => "bi_tool",
        CohortSync => "cohort_sync",
        ReverseEtl => "reverse_etl",
        Custom => "custom",
    }
);

name_enum!(
    /// Where a credential stands against its rotation schedule.
    CredentialStatus, "credential status", {
        /// Not due yet.
        Ok => "ok",
        /// Due: `now >= next_rotation`.
        Due => "due",
        /// Due for longer than the grace period.
        Overdue => "overdue",
        /// A rotation is in progress (set by the rotator from its journal).
        Rotating => "rotating",
        /// A rotation stopped and needs a person (set by the rotator from its journal).
        NeedsHuman => "needs_human",
        /// Due, but this kind cannot be rotated through an API: a person must do it.
        ManualRotationRequired => "manual_rotation_required",
    }
);

impl CredentialStatus {
    /// Statuses the rotator sets from its journal; [`InventoryEntry::compute_status`] keeps them.
    pub fn is_journal_driven(self) -> bool {
        matches!(
            self,
            CredentialStatus::Rotating | CredentialStatus::NeedsHuman
        )
    }
}

/// One credential of the inventory. It never holds the secret itself.
#[derive(Debug, Clone)]
pub struct InventoryEntry {
    /// The credential's name: its path under `creds/` (segments of letters, digits, `-`, `_`,
    /// `.`, separated by `/`).
    pub name: String,
    pub kind: CredentialKind,
    pub integration: IntegrationType,
    pub projects: Vec<ProjectId>,
    /// The person or team accountable for the credential.
    pub owner: String,
    pub created_by: String,
    /// The system or team that uses the credential.
    pub used_by: String,
    pub purpose: String,
    /// How often to rotate; `None` means never (e.g. project tokens).
    pub rotation_period: Option<Duration>,
    /// How long the old credential stays valid after the new one is promoted.
    pub overlap: Duration,
    pub last_rotated: Option<DateTime<Utc>>,
    pub next_rotation: Option<DateTime<Utc>>,
    pub status: CredentialStatus,
    pub status_reason: Option<String>,
    /// When Mixpanel last saw the credential used.
    pub last_used: Option<DateTime<Utc>>,
    /// The service account's id (service accounts only).
    pub sa_id: Option<ServiceAccountId>,
    /// The service account's full username (service accounts only).
    pub username: Option<ServiceAccountUsername>,
    /// The role the service account holds (service accounts only): its own role, given at
    /// creation and kept by rotations.
    pub role: Option<ProjectRole>,
    /// The individual grant the account holds on each of `projects` (service accounts only).
    /// Read through [`InventoryEntry::grants`]: an entry written before roles per project has
    /// none recorded, and each of its projects takes `role` (its one role of those days).
    pub project_roles: BTreeMap<ProjectId, ProjectRole>,
    /// The id of the rotation that produced the current credential.
    pub rotation_id: Option<String>,
    /// What triggered the last rotation (schedule, membership, manual, incident, ...).
    pub last_trigger: Option<String>,
    /// The events that may rotate it; `None`: the kind's default ([`RotateOn::ALL`] for
    /// service accounts and project secrets, nothing for project tokens, which identify a
    /// project to every client that sends events: resetting one stops their ingestion).
    pub rotate_on: Option<Vec<RotateOn>>,
}

/// Two entries are equal when they hold the same credential facts: the roles per project are
/// compared as [`InventoryEntry::grants`] gives them, so an entry written before roles per
/// project equals the same entry read back with its roles recorded.
impl PartialEq for InventoryEntry {
    fn eq(&self, o: &Self) -> bool {
        let InventoryEntry {
            name,
            kind,
            integration,
            projects,
            owner,
            created_by,
            used_by,
            purpose,
            rotation_period,
            overlap,
            last_rotated,
            next_rotation,
            status,
            status_reason,
            last_used,
            sa_id,
            username,
            role,
            project_roles: _,
            rotation_id,
            last_trigger,
            rotate_on,
        } = self;
        *name == o.name
            && *kind == o.kind
            && *integration == o.integration
            && *projects == o.projects
            && *owner == o.owner
            && *created_by == o.created_by
            && *used_by == o.used_by
            && *purpose == o.purpose
            && *rotation_period == o.rotation_period
            && *overlap == o.overlap
            && *last_rotated == o.last_rotated
            && *next_rotation == o.next_rotation
            && *status == o.status
            && *status_reason == o.status_reason
            && *last_used == o.last_used
            && *sa_id == o.sa_id
            && *username == o.username
            && *role == o.role
            && *rotation_id == o.rotation_id
            && *last_trigger == o.last_trigger
            && *rotate_on == o.rotate_on
            && (*kind != CredentialKind::ServiceAccount || self.grants() == o.grants())
    }
}

impl Eq for InventoryEntry {}

impl InventoryEntry {
    /// A new entry with defaults: 90 days period, 24 hours overlap (none for a project secret
    /// or token), never rotated, status `ok`.
    pub fn new(
        name: impl Into<String>,
        kind: CredentialKind,
        integration: IntegrationType,
    ) -> Self {
        InventoryEntry {
            name: name.into(),
            kind,
            integration,
            projects: Vec::new(),
            owner: String::new(),
            created_by: String::new(),
            used_by: String::new(),
            purpose: String::new(),
            rotation_period: match kind {
                CredentialKind::ProjectToken => None,
                _ => Some(DEFAULT_ROTATION_PERIOD),
            },
            overlap: kind.default_overlap(),
            last_rotated: None,
            next_rotation: None,
            status: CredentialStatus::Ok,
            status_reason: None,
            last_used: None,
            sa_id: None,
            username: None,
            role: None,
            project_roles: BTreeMap::new(),
            rotation_id: None,
            last_trigger: None,
            rotate_on: None,
        }
    }

    /// The individual project grants the credential's account holds: each of `projects` with
    /// its role from `project_roles`, or (an entry written before roles per project) `role`,
    /// or consumer.
    pub fn grants(&self) -> BTreeMap<ProjectId, ProjectRole> {
        self.projects
            .iter()
            .map(|p| {
                let role = self
                    .project_roles
                    .get(p)
                    .copied()
                    .or(self.role)
                    .unwrap_or(ProjectRole::Consumer);
                (*p, role)
            })
            .collect()
    }

    /// Whether the entry declares a role per project (a `mixpanel_rotated_credential`, or a
    /// `projects = { id = role }` table): the rotator then gives each successor exactly
    /// [`InventoryEntry::grants`]. Otherwise (the earlier shape, `projects` and one `role`) it
    /// carries the old account's individual grants over.
    pub fn has_project_roles(&self) -> bool {
        self.kind == CredentialKind::ServiceAccount && !self.project_roles.is_empty()
    }

    /// Sets the projects and the role on each (`projects` becomes the map's keys).
    pub fn set_grants(&mut self, grants: BTreeMap<ProjectId, ProjectRole>) {
        self.projects = grants.keys().copied().collect();
        self.project_roles = grants;
    }

    /// The events that may rotate this entry (its `rotate_on`, or its kind's default).
    pub fn effective_rotate_on(&self) -> Vec<RotateOn> {
        match &self.rotate_on {
            Some(list) => list.clone(),
            None => match self.kind {
                CredentialKind::ProjectToken => Vec::new(),
                _ => RotateOn::ALL.to_vec(),
            },
        }
    }

    /// Whether `event` may rotate this entry.
    pub fn allows(&self, event: RotateOn) -> bool {
        self.effective_rotate_on().contains(&event)
    }

    /// The deterministic jitter of the current due date (see [`jitter_for`]).
    pub fn jitter(&self) -> Option<TimeDelta> {
        let (last, period) = (self.last_rotated?, self.rotation_period?);
        Some(jitter_for(&self.name, last, period))
    }

    /// `last_rotated + rotation_period ± jitter`; `None` when never rotated or never rotating.
    pub fn due_date(&self) -> Option<DateTime<Utc>> {
        let (last, period) = (self.last_rotated?, self.rotation_period?);
        Some(due_date(&self.name, last, period))
    }

    /// How long after its due date the credential counts as overdue.
    pub fn grace(&self) -> Option<Duration> {
        self.rotation_period.map(grace_for)
    }

    /// The status at `now`, with a reason for anything but `ok`. `rotating` and `needs_human`
    /// come from the rotator's journal and are kept as they are.
    pub fn compute_status(&self, now: DateTime<Utc>) -> (CredentialStatus, Option<String>) {
        if self.status.is_journal_driven() {
            return (self.status, self.status_reason.clone());
        }
        let Some(period) = self.rotation_period else {
            return (CredentialStatus::Ok, None);
        };
        let manual = !self.kind.is_auto_rotatable();
        let manual_hint = match self.kind {
            CredentialKind::ProjectSecret => {
                "Mixpanel has no API to reset a project secret: reset it in the project settings, store the new secret and record the rotation"
            }
            _ => "this kind of credential cannot be rotated through an API: replace it by hand and record the rotation",
        };
        let Some(due) = self.next_rotation.or_else(|| self.due_date()) else {
            let reason = "never rotated: no last_rotated date is recorded".to_string();
            return if manual {
                (
                    CredentialStatus::ManualRotationRequired,
                    Some(format!("{reason}; {manual_hint}")),
                )
            } else {
                (CredentialStatus::Due, Some(reason))
            };
        };
        if now < due {
            return (CredentialStatus::Ok, None);
        }
        let grace = grace_for(period);
        let overdue_at = due + delta(grace);
        if now >= overdue_at {
            let reason = format!(
                "overdue since {} (due {}, grace {})",
                overdue_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                due.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                format_duration(grace)
            );
            let reason = if manual {
                format!("{reason}; {manual_hint}")
            } else {
                reason
            };
            return (CredentialStatus::Overdue, Some(reason));
        }
        let reason = format!(
            "due since {}",
            due.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        );
        if manual {
            (
                CredentialStatus::ManualRotationRequired,
                Some(format!("{reason}; {manual_hint}")),
            )
        } else {
            (CredentialStatus::Due, Some(reason))
        }
    }

    /// Recomputes `next_rotation` from `last_rotated` and the status from `now`.
    pub fn refresh(&mut self, now: DateTime<Utc>) {
        self.next_rotation = self.due_date();
        let (status, reason) = self.compute_status(now);
        self.status = status;
        self.status_reason = reason;
    }

    /// Records a completed rotation at `at`: new last/next dates, status `ok`.
    pub fn record_rotation(
        &mut self,
        at: DateTime<Utc>,
        rotation_id: Option<String>,
        trigger: Option<String>,
    ) {
        self.last_rotated = Some(at);
        self.rotation_id = rotation_id;
        self.last_trigger = trigger;
        self.status = CredentialStatus::Ok;
        self.status_reason = None;
        self.refresh(at);
    }

    /// Checks the entry as a whole: a valid name, field lengths within Vault's limits, the
    /// overlap shorter than the period, one project for project-level kinds.
    pub fn validate(&self) -> Result<(), InventoryError> {
        validate_name(&self.name).map_err(|e| InventoryError::Field {
            entry: self.name.clone(),
            field: "name".into(),
            message: e.to_string(),
        })?;
        let field_err = |field: &str, message: String| InventoryError::Field {
            entry: self.name.clone(),
            field: field.into(),
            message,
        };
        if let Some(period) = self.rotation_period {
            if period.is_zero() {
                return Err(field_err(
                    "rotation_period",
                    "must be longer than zero (use \"never\" for a credential that does not rotate)".into(),
                ));
            }
            if self.kind.has_overlap() && self.overlap >= period {
                return Err(field_err(
                    "overlap",
                    format!(
                        "the overlap ({}) must be shorter than the rotation period ({})",
                        format_duration(self.overlap),
                        format_duration(period)
                    ),
                ));
            }
        }
        match self.kind {
            CredentialKind::ProjectSecret | CredentialKind::ProjectToken
                if self.projects.len() != 1 =>
            {
                return Err(field_err(
                    "projects",
                    format!(
                        "a {} belongs to exactly one project; found {}",
                        self.kind,
                        self.projects.len()
                    ),
                ));
            }
            _ => {}
        }
        self.to_custom_metadata().map(|_| ())
    }
}

/// What is wrong with an inventory entry, file or export. Each message names the entry and the
/// field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InventoryError {
    #[error("inventory file is not valid TOML: {0}")]
    Toml(String),
    #[error("credential {entry}: field `{field}`: {message}")]
    Field {
        entry: String,
        field: String,
        message: String,
    },
    #[error("credential {entry}: {message}")]
    Entry { entry: String, message: String },
    #[error("inventory export failed: {0}")]
    Export(String),
}

/// Checks a credential name: 1 to 200 characters, segments of ASCII letters, digits, `-`, `_`
/// and `.` separated by single `/`, no segment `.` or `..`.
pub fn validate_name(name: &str) -> Result<(), ParseError> {
    let bad = |reason: &str| ParseError::Invalid {
        kind: "credential name",
        value: name.to_string(),
        reason: reason.to_string(),
    };
    if name.is_empty() || name.len() > 200 {
        return Err(bad("use 1 to 200 characters"));
    }
    for segment in name.split('/') {
        if segment.is_empty() {
            return Err(bad(
                "empty path segment: do not start or end with '/' or repeat it",
            ));
        }
        if segment == "." || segment == ".." {
            return Err(bad("'.' and '..' are not allowed as path segments"));
        }
        if !segment
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(bad(
                "use ASCII letters, digits, '-', '_' and '.', with '/' between path segments",
            ));
        }
    }
    Ok(())
}

fn delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

/// The process-wide cap on the jitter set by [`set_max_jitter`] (seconds; `u64::MAX`: the
/// default cap, [`MAX_JITTER`]).
static JITTER_CAP_SECS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(u64::MAX);

/// Sets the cap on the jitter of due dates for this process (a binary's configuration):
/// `None` restores the default (12 hours), `Some(0s)` turns the jitter off. Every process that
/// computes due dates for the same inventory should use the same cap.
pub fn set_max_jitter(cap: Option<Duration>) {
    let secs = cap.map(|d| d.as_secs()).unwrap_or(u64::MAX);
    JITTER_CAP_SECS.store(secs, std::sync::atomic::Ordering::Relaxed);
}

/// The maximum jitter for a period: 5 % of it, capped at 12 hours (or at the cap set with
/// [`set_max_jitter`]).
pub fn max_jitter_for(period: Duration) -> Duration {
    let cap = match JITTER_CAP_SECS.load(std::sync::atomic::Ordering::Relaxed) {
        u64::MAX => MAX_JITTER,
        secs => Duration::from_secs(secs),
    };
    period.mul_f64(JITTER_FRACTION).min(MAX_JITTER).min(cap)
}

/// The grace before a due credential is overdue: 10 % of the period, capped at 24 hours.
pub fn grace_for(period: Duration) -> Duration {
    period.mul_f64(GRACE_FRACTION).min(MAX_GRACE)
}

/// A deterministic offset in `[-max_jitter_for(period), +max_jitter_for(period)]` (whole
/// seconds), derived from a stable hash (FNV-1a) of the name and the last rotation time, so a
/// restart never moves a due date and credentials rotated together do not fall due together.
pub fn jitter_for(name: &str, last_rotated: DateTime<Utc>, period: Duration) -> TimeDelta {
    let max = max_jitter_for(period).as_secs() as i64;
    if max == 0 {
        return TimeDelta::zero();
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let stamp = last_rotated.timestamp_micros().to_le_bytes();
    for b in name.bytes().chain([0u8]).chain(stamp) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let span = (2 * max + 1) as u64;
    let offset = (h % span) as i64 - max;
    TimeDelta::seconds(offset)
}

/// `last_rotated + period + jitter_for(name, last_rotated, period)`.
pub fn due_date(name: &str, last_rotated: DateTime<Utc>, period: Duration) -> DateTime<Utc> {
    let base = last_rotated
        .checked_add_signed(delta(period))
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    base.checked_add_signed(jitter_for(name, last_rotated, period))
        .unwrap_or(base)
}

#[cfg(test)]
mod tests;
