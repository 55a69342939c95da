//! The inventory as the rotator reads and updates it: the shared [`InventoryEntry`] in the
//! `custom_metadata` of `creds/<name>`, plus two keys the rotator adds next to it:
//!
//! - `rotation_requested`: a pending manual/incident request (compact JSON) left by the CLI or a
//!   follower's `POST /rotate`; the leader picks it up, journals it, and removes the key;
//! - `mirrored_at`: when a credential that cannot be rotated through the API was last read back
//!   from Mixpanel and validated.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use mixpanel_access::inventory::{
    serde_humantime, CredentialKind, InventoryEntry, InventoryError, RotateOn,
};
use mixpanel_access::model::ServiceAccountId;
use mixpanel_access::vault::{KvMetadata, Trigger, VaultStore};
use serde::{Deserialize, Serialize};

use crate::error::{Result, RotatorError};
use crate::ports::RotationStore;

/// The metadata key of a pending rotation request.
pub const REQUEST_KEY: &str = "rotation_requested";
/// The metadata key of the last mirror of a manually rotated credential.
pub const MIRRORED_KEY: &str = "mirrored_at";
/// The first path segment reserved for the rotator's own state (`state/_membership/...`).
pub const RESERVED_SEGMENT: &str = "_membership";
/// The first path segment of the governance commands' state: offboarding journals
/// (`state/_governance/offboard/<ticket>`) and the review schedule (`state/_governance/review`).
pub const GOVERNANCE_SEGMENT: &str = "_governance";

/// Whether a name under `state/` is the rotator's own state rather than a credential's journal.
pub fn is_reserved(name: &str) -> bool {
    matches!(
        name.split('/').next(),
        Some(RESERVED_SEGMENT | GOVERNANCE_SEGMENT)
    )
}

/// A rotation someone asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotationRequest {
    pub trigger: Trigger,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The overlap; the entry's own when absent.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "opt_humantime"
    )]
    pub overlap: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_at: Option<DateTime<Utc>>,
    /// Who left it, so a waiting CLI can take back its own request and no other.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Rotate even if the entry's `rotate_on` does not name this trigger (`rotate --force`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub force: bool,
}

mod opt_humantime {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => super::serde_humantime::serialize(d, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let s = Option::<String>::deserialize(d)?;
        s.map(|s| mixpanel_access::inventory::parse_duration(&s))
            .transpose()
            .map_err(serde::de::Error::custom)
    }
}

impl RotationRequest {
    pub fn new(trigger: Trigger, reason: Option<String>, overlap: Option<Duration>) -> Self {
        RotationRequest {
            trigger,
            reason,
            overlap,
            requested_by: None,
            requested_at: Some(Utc::now()),
            id: None,
            force: false,
        }
    }

    /// The request as a metadata value (at most 512 characters: a long reason is cut).
    pub fn to_metadata_value(&self) -> String {
        let mut r = self.clone();
        if let Some(reason) = &r.reason {
            if reason.chars().count() > 300 {
                r.reason = Some(reason.chars().take(300).collect::<String>() + "...");
            }
        }
        if let Some(by) = &r.requested_by {
            if by.chars().count() > 80 {
                r.requested_by = Some(by.chars().take(80).collect());
            }
        }
        serde_json::to_string(&r).unwrap_or_else(|_| "{\"trigger\":\"manual\"}".into())
    }

    pub fn from_metadata_value(s: &str) -> Option<Self> {
        serde_json::from_str(s).ok()
    }
}

/// The metadata key of the cached secret check ([`AuthCheck`]).
pub const AUTH_CHECK_KEY: &str = "auth_check";

/// The cached answer of a check of the stored secret against Mixpanel ([`crate::health`]),
/// keyed by what was checked: the version of `creds/<name>` and the service account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthCheck {
    pub ok: bool,
    pub at: DateTime<Utc>,
    /// The version of `creds/<name>` that was checked (`None`: written before versions were
    /// recorded, vouches for nothing).
    pub version: Option<u64>,
    /// The service account whose secret was checked.
    pub account: Option<ServiceAccountId>,
    pub detail: String,
}

impl AuthCheck {
    pub fn to_value(&self) -> String {
        let mut v = format!(
            "{} {}",
            if self.ok { "ok" } else { "rejected" },
            stamp(self.at)
        );
        if let Some(ver) = self.version {
            v.push_str(&format!(" v{ver}"));
        }
        if let Some(id) = self.account {
            v.push_str(&format!(" sa{id}"));
        }
        if !self.detail.is_empty() {
            v.push_str(": ");
            v.push_str(&self.detail);
        }
        v.chars().take(500).collect()
    }

    pub fn parse(v: &str) -> Option<AuthCheck> {
        let (head, detail) = match v.split_once(": ") {
            Some((h, d)) => (h, d.to_string()),
            None => (v, String::new()),
        };
        let mut words = head.split_whitespace();
        let ok = match words.next()? {
            "ok" => true,
            "rejected" => false,
            _ => return None,
        };
        let at = DateTime::parse_from_rfc3339(words.next()?)
            .ok()?
            .with_timezone(&Utc);
        let (mut version, mut account) = (None, None);
        for w in words {
            if let Some(n) = w.strip_prefix("sa") {
                account = Some(ServiceAccountId(n.parse().ok()?));
            } else if let Some(n) = w.strip_prefix('v') {
                version = Some(n.parse().ok()?);
            } else {
                return None;
            }
        }
        Some(AuthCheck {
            ok,
            at,
            version,
            account,
            detail,
        })
    }

    /// Whether this answer still holds at `now` for version `version` of the stored secret
    /// and the service account `account`: the same version, the same account, younger than
    /// `max_age`.
    pub fn vouches(
        &self,
        version: u64,
        account: Option<ServiceAccountId>,
        max_age: Duration,
        now: DateTime<Utc>,
    ) -> bool {
        let fresh = chrono::TimeDelta::from_std(max_age).unwrap_or(chrono::TimeDelta::MAX);
        self.version == Some(version)
            && self.account == account
            && now >= self.at
            && now - self.at < fresh
    }
}

/// One credential of the inventory as stored: the entry (or why it is invalid), its raw
/// metadata, and the rotator's extra keys.
#[derive(Debug, Clone)]
pub struct Record {
    pub name: String,
    pub entry: std::result::Result<InventoryEntry, InventoryError>,
    pub request: Option<RotationRequest>,
    pub mirrored_at: Option<DateTime<Utc>>,
    /// The last check of the stored secret against Mixpanel ([`crate::health`]).
    pub auth_check: Option<AuthCheck>,
    /// Whether `creds/<name>` holds a live version (from the metadata: no extra read).
    pub has_secret: bool,
    /// The current version of `creds/<name>` (0: none).
    pub version: u64,
}

impl Record {
    pub fn from_metadata(name: String, metadata: &KvMetadata) -> Record {
        let entry = InventoryEntry::from_custom_metadata(&name, &metadata.custom_metadata);
        let request = metadata
            .custom_metadata
            .get(REQUEST_KEY)
            .and_then(|v| RotationRequest::from_metadata_value(v));
        let mirrored_at = metadata
            .custom_metadata
            .get(MIRRORED_KEY)
            .and_then(|v| DateTime::parse_from_rfc3339(v).ok())
            .map(|d| d.with_timezone(&Utc));
        let auth_check = metadata
            .custom_metadata
            .get(AUTH_CHECK_KEY)
            .and_then(|v| AuthCheck::parse(v));
        let has_secret = metadata.current_version > 0
            && metadata
                .current()
                .is_none_or(|v| !v.destroyed && v.deletion_time.is_none());
        Record {
            name,
            entry,
            request,
            mirrored_at,
            auth_check,
            has_secret,
            version: metadata.current_version,
        }
    }
}

/// Every credential under `creds/` with its inventory entry, by name. The metadata of each is
/// dropped as soon as its record is made.
pub async fn load<S: RotationStore + ?Sized>(store: &S) -> Result<Vec<Record>> {
    let mut out = Vec::new();
    store
        .visit_credentials(&mut |name, meta| out.push(Record::from_metadata(name, &meta)))
        .await?;
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// One credential's record; `None` when it has no metadata.
pub async fn load_one<S: RotationStore + ?Sized>(store: &S, name: &str) -> Result<Option<Record>> {
    Ok(store
        .read_metadata(name)
        .await?
        .map(|m| Record::from_metadata(name.to_string(), &m)))
}

/// The entry of `name`, or an error saying it is missing or invalid.
pub async fn entry<S: RotationStore + ?Sized>(store: &S, name: &str) -> Result<InventoryEntry> {
    match load_one(store, name).await? {
        None => Err(RotatorError::UnknownCredential(name.to_string())),
        Some(r) => Ok(r.entry?),
    }
}

/// Writes some of an entry's fields (merge-PATCH, other keys kept).
pub async fn patch_fields<S: RotationStore + ?Sized>(
    store: &S,
    entry: &InventoryEntry,
    keys: &[&str],
) -> Result<()> {
    let map = entry.to_custom_metadata()?;
    let fields: BTreeMap<String, Option<String>> = keys
        .iter()
        .filter_map(|k| map.get(*k).map(|v| (k.to_string(), Some(v.clone()))))
        .collect();
    store.patch_metadata(&entry.name, &fields).await?;
    Ok(())
}

/// [`patch_fields`] for an entry whose stored secret was just replaced: the same write also
/// forgets the cached check of the previous secret ([`AUTH_CHECK_KEY`]), so
/// the next pass (or `status`) checks the new one instead of reporting the old answer.
pub async fn patch_fields_new_secret<S: RotationStore + ?Sized>(
    store: &S,
    entry: &InventoryEntry,
    keys: &[&str],
) -> Result<()> {
    let map = entry.to_custom_metadata()?;
    let mut fields: BTreeMap<String, Option<String>> = keys
        .iter()
        .filter_map(|k| map.get(*k).map(|v| (k.to_string(), Some(v.clone()))))
        .collect();
    fields.insert(AUTH_CHECK_KEY.to_string(), None);
    store.patch_metadata(&entry.name, &fields).await?;
    Ok(())
}

/// Sets or removes one of the rotator's extra keys.
pub async fn patch_extra<S: RotationStore + ?Sized>(
    store: &S,
    name: &str,
    key: &str,
    value: Option<String>,
) -> Result<()> {
    let fields = BTreeMap::from([(key.to_string(), value)]);
    store.patch_metadata(name, &fields).await?;
    Ok(())
}

/// Leaves a rotation request for the active replica and rings the request doorbell, so the
/// leader picks it up within its `request_poll` instead of at its next reconcile pass.
pub async fn leave_request(
    store: &VaultStore,
    name: &str,
    request: &RotationRequest,
) -> Result<()> {
    patch_extra(store, name, REQUEST_KEY, Some(request.to_metadata_value())).await?;
    store.ring_doorbell(name).await?;
    Ok(())
}

/// Removes the request left under `name` if it is still the one with this id (a request
/// someone else left meanwhile is kept).
pub async fn take_back_request(store: &VaultStore, name: &str, id: &str) -> Result<()> {
    let Some(meta) = store.read_metadata(name).await? else {
        return Ok(());
    };
    let ours = meta
        .custom_metadata
        .get(REQUEST_KEY)
        .and_then(|v| RotationRequest::from_metadata_value(v))
        .is_some_and(|r| r.id.as_deref() == Some(id));
    if ours {
        let fields = BTreeMap::from([(REQUEST_KEY.to_string(), None)]);
        let patched = match meta.current_metadata_version {
            Some(v) => store.patch_metadata_cas(name, &fields, v).await,
            None => store.patch_metadata(name, &fields).await,
        };
        match patched {
            Ok(()) | Err(mixpanel_access::vault::VaultError::CasMismatch { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// The `rotate_on` event a manual or incident request is.
pub fn request_event(trigger: Trigger) -> Option<RotateOn> {
    match trigger {
        Trigger::Manual => Some(RotateOn::Manual),
        Trigger::Incident => Some(RotateOn::Incident),
        Trigger::Schedule => Some(RotateOn::Schedule),
        Trigger::Membership => None,
    }
}

/// Whether a request may rotate `entry`: its `rotate_on` names the request's trigger (or the
/// request is forced), and the overlap is one the kind can honour. The error says why not and
/// what to do.
pub fn check_request(entry: &InventoryEntry, req: &RotationRequest) -> Result<()> {
    if entry.kind != CredentialKind::ServiceAccount && req.overlap.is_some_and(|o| !o.is_zero()) {
        return Err(RotatorError::Invalid(format!(
            "{}: a {} is replaced in one step, so the old value cannot stay valid for an overlap; ask again with --overlap 0s (or without --overlap)",
            entry.name, entry.kind
        )));
    }
    if req.force {
        return Ok(());
    }
    if let Some(event) = request_event(req.trigger) {
        if !entry.allows(event) {
            let consequence = if entry.kind == CredentialKind::ProjectToken {
                " (a project token identifies the project to every client that sends events: resetting it stops ingestion with the old token)"
            } else {
                ""
            };
            let allowed: Vec<&str> = entry
                .effective_rotate_on()
                .iter()
                .map(|t| t.as_str())
                .collect();
            return Err(RotatorError::Invalid(format!(
                "{}: its rotate_on ({}) does not include {event}{consequence}; to rotate it anyway, ask again with --force",
                entry.name,
                if allowed.is_empty() { "none".to_string() } else { allowed.join(", ") }
            )));
        }
    }
    Ok(())
}

/// What an entry's credential is in Mixpanel, one key per way of naming it: a service account's
/// id and username, a project secret's or token's project. Two entries with a key in common
/// name one credential: rotating one would leave the other's Vault value refused.
pub fn credential_keys(
    kind: CredentialKind,
    sa_id: Option<ServiceAccountId>,
    username: Option<&mixpanel_access::model::ServiceAccountUsername>,
    projects: &[mixpanel_access::model::ProjectId],
) -> Vec<String> {
    match kind {
        CredentialKind::ServiceAccount => sa_id
            .map(|i| format!("the service account id {i}"))
            .into_iter()
            .chain(username.map(|u| format!("the service account {u}")))
            .collect(),
        CredentialKind::ProjectSecret => projects
            .iter()
            .map(|p| format!("the project secret of project {p}"))
            .collect(),
        CredentialKind::ProjectToken => projects
            .iter()
            .map(|p| format!("the project token of project {p}"))
            .collect(),
    }
}

/// [`credential_keys`] of an entry.
pub fn entry_keys(e: &InventoryEntry) -> Vec<String> {
    credential_keys(e.kind, e.sa_id, e.username.as_ref(), &e.projects)
}

/// Rejects names the rotator reserves for its own state.
pub fn check_name(name: &str) -> Result<()> {
    mixpanel_access::inventory::validate_name(name)
        .map_err(|e| RotatorError::Invalid(e.to_string()))?;
    if is_reserved(name) {
        return Err(RotatorError::Invalid(format!(
            "credential names may not start with {RESERVED_SEGMENT}/ or {GOVERNANCE_SEGMENT}/: they are reserved for the rotator's state"
        )));
    }
    Ok(())
}

/// RFC 3339 with seconds, as the inventory writes dates.
pub fn stamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_checks_round_trip_and_vouch_only_for_what_they_checked() {
        let at = DateTime::parse_from_rfc3339("2026-11-30T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let ok = AuthCheck {
            ok: true,
            at,
            version: Some(3),
            account: Some(ServiceAccountId(41)),
            detail: String::new(),
        };
        for c in [
            ok.clone(),
            AuthCheck {
                ok: false,
                at,
                version: Some(7),
                account: None,
                detail: "HTTP 401: bad: credentials".into(),
            },
        ] {
            assert_eq!(AuthCheck::parse(&c.to_value()), Some(c));
        }
        assert_eq!(AuthCheck::parse("maybe 2026-11-30T10:00:00Z"), None);
        assert_eq!(AuthCheck::parse("ok yesterday"), None);
        let day = Duration::from_secs(86_400);
        let soon = at + chrono::TimeDelta::minutes(1);
        assert!(ok.vouches(3, Some(ServiceAccountId(41)), day, soon));
        // Another version of creds/<name> (a value overwritten), another account, too old, or
        // a check written before versions were recorded: vouches for nothing.
        assert!(!ok.vouches(4, Some(ServiceAccountId(41)), day, soon));
        assert!(!ok.vouches(3, Some(ServiceAccountId(42)), day, soon));
        assert!(!ok.vouches(
            3,
            Some(ServiceAccountId(41)),
            day,
            at + chrono::TimeDelta::days(2)
        ));
        let old = AuthCheck::parse("ok 2026-11-30T10:00:00Z").unwrap();
        assert!(!old.vouches(3, None, day, soon));
    }

    #[test]
    fn request_round_trip_fits_in_metadata() {
        let mut r = RotationRequest::new(
            Trigger::Incident,
            Some("x".repeat(1000)),
            Some(Duration::ZERO),
        );
        r.requested_by = Some("ops@example.com".into());
        let v = r.to_metadata_value();
        assert!(v.chars().count() <= 512, "{}", v.len());
        let back = RotationRequest::from_metadata_value(&v).unwrap();
        assert_eq!(back.trigger, Trigger::Incident);
        assert_eq!(back.overlap, Some(Duration::ZERO));
        assert!(check_name("_membership/4").is_err());
        assert!(check_name("team/etl").is_ok());
    }
}
