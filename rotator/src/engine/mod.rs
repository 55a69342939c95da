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
//!
//! ## A deposed leader writes nothing
//!
//! A term ([`Leadership`](crate::election::Leadership)) ends when a lease renewal fails or
//! does not come back before the lease could expire (the renewal's budget is the time the lease
//! is surely still ours), so it ends no later than the moment another replica could take the
//! lease. Two checks guard the writes; each is "check, then act", so the window between them
//! is one request:
//!
//! - *local* (`Leadership::check`, [`FencedJournal::still_fenced`]): has this term been
//!   cancelled? No request. Before every write that the next leader can recover from.
//! - *asked of Vault* ([`FencedJournal::verify_fencing`], and inside every fenced write: the
//!   store refuses it unless the live lease carries the term's fencing token). Before every
//!   write that cannot be undone and for every write of the leader's own records.
//!
//! | write | guard | if a deposed leader got through the window |
//! |---|---|---|
//! | journal (every phase, failures, retries) | [`FencedJournal`]: local check, then check-and-set under the fencing token | refused by Vault |
//! | grant book (expired grants ended by the leader) | [`crate::grants::Writer::Leader`]: the same | refused by Vault |
//! | membership snapshot | fenced state write (`triggers`) | refused by Vault |
//! | create a service account | local, before the call | an orphan: its username is in the journal, the next leader deletes it |
//! | add the new account to teams and project grants | local, before the adds | the new account is not promoted; the next leader adds again (idempotent) or deletes it as an orphan |
//! | reset a project secret or token | local, before the call | the new value is read back from the project's metadata by the next leader |
//! | promote (`creds/<name>` and its inventory fields, tokens beside secrets) | asked of Vault, then check-and-set | the journal write that follows is refused; the next leader finds the successor promoted and goes on |
//! | delete an account (old, orphan, twin) | asked of Vault, before each delete | — |
//! | inventory status, `last_used`, the mirror of a project secret | local, before the write (driver and `triggers`) | the same value the next leader writes (check-and-set, idempotent) |
//!
//! Reads after a lost term do no harm: they change nothing, and whatever is decided on them
//! reaches Vault or Mixpanel only through the guards above. Steps themselves hold no leadership
//! logic: they get the [`FencedJournal`] and call its guards before their writes; the driver
//! checks the term between steps and before the writes it makes itself. Offboarding and
//! `access` commands are one-shot and write with check-and-set only; so do the evidence run
//! logs, which record what a run did after its fenced write.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use mixpanel_access::inventory::{CredentialKind, CredentialStatus, InventoryEntry};
use mixpanel_access::vault::{Credential, Journal, Phase, Trigger, VaultError, VaultStore};
use secrecy::ExposeSecret;

use crate::api::Mixpanel;
use crate::config::RotationSettings;
use crate::error::Result;
use crate::error::RotatorError;
use crate::metrics::Metrics;
use crate::ports::{RotationApi, RotationStore};

mod driver;
#[cfg(test)]
mod fakes;
mod journal;
#[cfg(test)]
mod phase_tests;
mod steps;

pub use journal::FencedJournal;
pub use steps::{Next, Steps};

/// The inventory fields a finished rotation (or a mirror of a value changed by hand) updates.
pub(crate) const ROTATION_FIELDS: &[&str] = &[
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
/// Generic over the store and the API for the unit tests of the phase machine (in-memory
/// fakes); everywhere else it is `Engine` over Vault and Mixpanel.
pub struct Engine<S = VaultStore, A = Mixpanel> {
    pub store: S,
    pub api: A,
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

pub(crate) fn clip(s: &str, max: usize) -> String {
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

impl<S: RotationStore, A: RotationApi> Engine<S, A> {
    pub fn new(store: S, api: A, settings: RotationSettings, metrics: Arc<Metrics>) -> Self {
        Engine {
            store,
            api,
            settings,
            metrics,
        }
    }

    /// Whether this kind can be rotated through the API here.
    pub fn can_rotate(&self, kind: CredentialKind) -> bool {
        can_rotate(&self.api, kind)
    }

    /// Reads a project secret or token back from Mixpanel into `creds/<name>` (see
    /// [`Steps::mirror`]).
    pub async fn mirror(
        &self,
        entry: &InventoryEntry,
        asked: Option<(Trigger, &str)>,
    ) -> Result<CredentialStatus> {
        self.steps().mirror(entry, asked).await
    }
}

/// Whether this kind can be rotated through this API.
fn can_rotate<A: RotationApi>(api: &A, kind: CredentialKind) -> bool {
    match kind {
        CredentialKind::ServiceAccount => true,
        CredentialKind::ProjectSecret | CredentialKind::ProjectToken => {
            api.can_reset_project_credentials()
        }
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

/// Whether an error is Vault being unavailable (so the work should pause, not fail).
pub fn is_vault_outage(e: &RotatorError) -> bool {
    matches!(e, RotatorError::Vault(v) if v.is_transient())
        || matches!(e, RotatorError::Vault(VaultError::LostLeadership { .. }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mixpanel_access::model::ServiceAccountUsername;
    use secrecy::SecretString;
    use std::time::Duration;

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
