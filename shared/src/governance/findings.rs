//! Findings: stable codes, severities, one plain function over a snapshot.
//!
//! | Code | Severity | When |
//! |---|---|---|
//! | `member.dormant` | medium | an active member with no login for `dormant_days` (or none within the log) |
//! | `member.invitation_not_accepted` | low | invited `invitation_days` ago or more and still not accepted |
//! | `member.admin_without_twofactor` | high | an organization owner or admin with no two-factor enrollment recorded |
//! | `org.too_few_owners` | high | fewer than `min_owners` active organization owners |
//! | `org.too_many_admins` | medium | more than `max_admins` organization admins |
//! | `project.admins` | info | per project: how many members hold admin or owner on it |
//! | `service_account.lingering` | high | a service account that is not in the inventory |
//! | `service_account.unused` | medium | not used for `sa_unused_days` |
//! | `service_account.never_used` | low | no use recorded at all |
//! | `service_account.never_expires` | low | no expiry date |
//! | `service_account.secret_too_old` | medium | its secret (set at creation) is older than its rotation period |
//! | `service_account.creator_not_member` | high | its creator is no longer a member |
//! | `inventory.account_missing` | high | an inventory entry whose service account no longer exists |
//! | `access.grant_overdue` | high | a time-limited grant still held after its expiry |
//! | `credential.project_secret_retiring` | medium (high within 90 days) | an inventory credential still using a project secret ahead of its retirement |

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::{two_factor_of, Snapshot, TwoFactor};
use crate::inventory::{CredentialKind, DEFAULT_ROTATION_PERIOD};
use crate::model::{MemberStatus, OrgRole, ProjectId, ProjectRole};

/// How severe a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
}

impl Severity {
    pub const NAMES: &'static [&'static str] = &["info", "low", "medium", "high"];

    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

impl std::str::FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "info" => Ok(Severity::Info),
            "low" => Ok(Severity::Low),
            "medium" => Ok(Severity::Medium),
            "high" => Ok(Severity::High),
            other => Err(format!(
                "unknown severity {other:?}: use one of {}",
                Self::NAMES.join(", ")
            )),
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The thresholds of a review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    pub dormant_days: i64,
    pub invitation_days: i64,
    pub sa_unused_days: i64,
    pub min_owners: usize,
    pub max_admins: usize,
    /// When Mixpanel retires project secrets for authentication.
    pub project_secret_retirement: NaiveDate,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            dormant_days: 90,
            invitation_days: 30,
            sa_unused_days: 90,
            min_owners: 2,
            max_admins: 3,
            project_secret_retirement: NaiveDate::from_ymd_opt(2027, 3, 3)
                .unwrap_or(NaiveDate::MIN),
        }
    }
}

/// Stable finding codes.
pub mod code {
    pub const DORMANT: &str = "member.dormant";
    pub const INVITATION_NOT_ACCEPTED: &str = "member.invitation_not_accepted";
    pub const ADMIN_WITHOUT_TWOFACTOR: &str = "member.admin_without_twofactor";
    pub const TOO_FEW_OWNERS: &str = "org.too_few_owners";
    pub const TOO_MANY_ADMINS: &str = "org.too_many_admins";
    pub const PROJECT_ADMINS: &str = "project.admins";
    pub const SA_LINGERING: &str = "service_account.lingering";
    pub const SA_UNUSED: &str = "service_account.unused";
    pub const SA_NEVER_USED: &str = "service_account.never_used";
    pub const SA_NEVER_EXPIRES: &str = "service_account.never_expires";
    pub const SA_SECRET_TOO_OLD: &str = "service_account.secret_too_old";
    pub const SA_CREATOR_NOT_MEMBER: &str = "service_account.creator_not_member";
    pub const INVENTORY_ACCOUNT_MISSING: &str = "inventory.account_missing";
    pub const PROJECT_SECRET_RETIRING: &str = "credential.project_secret_retiring";
    pub const GRANT_OVERDUE: &str = "access.grant_overdue";

    /// Every code, for metrics (a gauge per code, zero included).
    pub const ALL: &[&str] = &[
        DORMANT,
        INVITATION_NOT_ACCEPTED,
        ADMIN_WITHOUT_TWOFACTOR,
        TOO_FEW_OWNERS,
        TOO_MANY_ADMINS,
        PROJECT_ADMINS,
        SA_LINGERING,
        SA_UNUSED,
        SA_NEVER_USED,
        SA_NEVER_EXPIRES,
        SA_SECRET_TOO_OLD,
        SA_CREATOR_NOT_MEMBER,
        INVENTORY_ACCOUNT_MISSING,
        PROJECT_SECRET_RETIRING,
        GRANT_OVERDUE,
    ];
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub code: &'static str,
    pub severity: Severity,
    /// What it is about: an e-mail, a service account username, an inventory name, a project,
    /// or the organization.
    pub subject: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<ProjectId>,
    pub message: String,
}

fn day(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

/// Every finding of a snapshot, most severe first.
pub fn findings(snap: &Snapshot, policy: &Policy) -> Vec<Finding> {
    let now = snap.taken_at;
    let mut out = Vec::new();
    let mut push = |code, severity, subject: String, project_id, message: String| {
        out.push(Finding {
            code,
            severity,
            subject,
            project_id,
            message,
        })
    };

    // Members.
    for m in &snap.members {
        let key = m.email.as_str().to_lowercase();
        match m.status {
            MemberStatus::Active => {
                let last = super::last_login_of(snap, m).map(|l| (l.at, l.source));
                let dormant_since = now - chrono::Duration::days(policy.dormant_days);
                match last {
                    Some((t, _)) if t >= dormant_since => {}
                    Some((t, source)) => push(
                        code::DORMANT,
                        Severity::Medium,
                        m.email.to_string(),
                        None,
                        format!(
                            "no login for {} days (last {}, from the {}; policy {} days)",
                            (now - t).num_days(),
                            day(t),
                            source.label(),
                            policy.dormant_days
                        ),
                    ),
                    // No login in the log: dormant only when the log reaches back far enough.
                    None if snap.audit.since <= dormant_since => push(
                        code::DORMANT,
                        Severity::Medium,
                        m.email.to_string(),
                        None,
                        format!(
                            "no login within the log's retention (read since {})",
                            day(snap.audit.since)
                        ),
                    ),
                    None => {}
                }
            }
            MemberStatus::Invited => {
                let threshold = now - chrono::Duration::days(policy.invitation_days);
                match snap.audit.added.get(&key) {
                    Some(t) if *t > threshold => {}
                    Some(t) => push(
                        code::INVITATION_NOT_ACCEPTED,
                        Severity::Low,
                        m.email.to_string(),
                        None,
                        format!(
                            "invited {} ({} days ago) and never accepted; withdraw the invitation or ask again",
                            day(*t),
                            (now - *t).num_days()
                        ),
                    ),
                    None if snap.audit.since <= threshold => push(
                        code::INVITATION_NOT_ACCEPTED,
                        Severity::Low,
                        m.email.to_string(),
                        None,
                        format!(
                            "invited before {} (no invitation in the log since) and never accepted",
                            day(snap.audit.since)
                        ),
                    ),
                    None => {}
                }
            }
        }
        if matches!(m.role, OrgRole::Owner | OrgRole::Admin)
            && two_factor_of(snap, m) == TwoFactor::NotRecorded
        {
            push(
                code::ADMIN_WITHOUT_TWOFACTOR,
                Severity::High,
                m.email.to_string(),
                None,
                format!(
                    "organization {} with no two-factor enrollment recorded since {}; require two-factor in Organization Settings → Security",
                    m.role,
                    day(snap.audit.since)
                ),
            );
        }
    }
    let owners = snap
        .members
        .iter()
        .filter(|m| m.role == OrgRole::Owner && m.status == MemberStatus::Active)
        .count();
    if owners < policy.min_owners {
        push(
            code::TOO_FEW_OWNERS,
            Severity::High,
            "organization".into(),
            None,
            format!(
                "{owners} active organization owner(s); keep at least {} so the organization never depends on one person",
                policy.min_owners
            ),
        );
    }
    let admins = snap
        .members
        .iter()
        .filter(|m| m.role == OrgRole::Admin)
        .count();
    if admins > policy.max_admins {
        push(
            code::TOO_MANY_ADMINS,
            Severity::Medium,
            "organization".into(),
            None,
            format!(
                "{admins} organization admins; at most {} keeps the blast radius small",
                policy.max_admins
            ),
        );
    }
    for p in &snap.projects {
        let holders: Vec<String> = snap
            .members
            .iter()
            .filter(|m| {
                matches!(
                    snap.access(m, p).role,
                    Some(ProjectRole::Admin | ProjectRole::Owner)
                )
            })
            .map(|m| m.email.to_string())
            .collect();
        push(
            code::PROJECT_ADMINS,
            Severity::Info,
            p.name.clone(),
            Some(p.id),
            format!(
                "{} member(s) with admin or owner: {}",
                holders.len(),
                if holders.is_empty() {
                    "none".to_string()
                } else {
                    holders.join(", ")
                }
            ),
        );
    }

    // Service accounts.
    let ids_known = snap.member_ids_known();
    for sa in &snap.service_accounts {
        let subject = sa.username.to_string();
        let entry = snap.inventory_of(sa);
        let is_reviewer = snap.reviewer_user.is_some() && sa.user == snap.reviewer_user;
        if entry.is_none() && !is_reviewer {
            push(
                code::SA_LINGERING,
                Severity::High,
                subject.clone(),
                None,
                format!(
                    "service account {} is not in the inventory: register it (inventory add) or delete it",
                    sa.id
                ),
            );
        }
        match sa.last_used {
            Some(t) if (now - t).num_days() >= policy.sa_unused_days => push(
                code::SA_UNUSED,
                Severity::Medium,
                subject.clone(),
                None,
                format!(
                    "not used for {} days (last {})",
                    (now - t).num_days(),
                    day(t)
                ),
            ),
            Some(_) => {}
            None => push(
                code::SA_NEVER_USED,
                Severity::Low,
                subject.clone(),
                None,
                format!("never used since its creation on {}", day(sa.created)),
            ),
        }
        if sa.expires.is_none() {
            push(
                code::SA_NEVER_EXPIRES,
                Severity::Low,
                subject.clone(),
                None,
                "no expiry date: a forgotten secret stays valid forever".into(),
            );
        }
        let period = entry
            .and_then(|e| e.rotation_period)
            .unwrap_or(DEFAULT_ROTATION_PERIOD);
        let age = now - sa.created;
        if age.num_seconds() > period.as_secs() as i64 {
            push(
                code::SA_SECRET_TOO_OLD,
                Severity::Medium,
                subject.clone(),
                None,
                format!(
                    "secret set {} days ago (created {}); the rotation period is {} days",
                    age.num_days(),
                    day(sa.created),
                    period.as_secs() / 86_400
                ),
            );
        }
        if let Some(creator) = sa.creator {
            let member = snap.member_by_id(creator).is_some();
            let account = snap
                .service_accounts
                .iter()
                .any(|s| s.user == Some(creator));
            if ids_known && !member && !account {
                push(
                    code::SA_CREATOR_NOT_MEMBER,
                    Severity::High,
                    subject.clone(),
                    None,
                    format!(
                        "created by user {creator}, who is no longer a member: confirm an owner for it or delete it"
                    ),
                );
            }
        }
    }

    // Time-limited grants still held after their expiry.
    for g in &snap.timed_grants {
        if g.expires_at <= now && g.held_in(snap) {
            push(
                code::GRANT_OVERDUE,
                Severity::High,
                g.email.to_string(),
                match &g.grant {
                    super::grants::Grant::ProjectRole { project, .. } => Some(*project),
                    super::grants::Grant::TeamSeat { .. } => None,
                },
                format!(
                    "time-limited grant {} ({}, ticket {}) expired {} and is still held ({}): {}",
                    g.id,
                    g.describe(),
                    g.ticket,
                    day(g.expires_at),
                    g.status.as_str(),
                    g.by_hand()
                ),
            );
        }
    }

    // Inventory.
    for e in &snap.inventory {
        if e.kind == CredentialKind::ServiceAccount && (e.sa_id.is_some() || e.username.is_some()) {
            let exists = snap.service_accounts.iter().any(|sa| {
                e.sa_id == Some(sa.id) || e.username.as_ref().is_some_and(|u| *u == sa.username)
            });
            if !exists {
                push(
                    code::INVENTORY_ACCOUNT_MISSING,
                    Severity::High,
                    e.name.clone(),
                    None,
                    format!(
                        "the inventory names service account {} which no longer exists: the integration using it is broken, or the entry is stale",
                        e.username
                            .as_ref()
                            .map(|u| u.to_string())
                            .or(e.sa_id.map(|i| i.to_string()))
                            .unwrap_or_default()
                    ),
                );
            }
        }
        if e.kind == CredentialKind::ProjectSecret {
            let retire = policy
                .project_secret_retirement
                .and_hms_opt(0, 0, 0)
                .map(|t| t.and_utc())
                .unwrap_or(now);
            let days = (retire - now).num_days();
            push(
                code::PROJECT_SECRET_RETIRING,
                if days <= 90 {
                    Severity::High
                } else {
                    Severity::Medium
                },
                e.name.clone(),
                e.projects.first().copied(),
                format!(
                    "still uses a project secret, retired on {} ({}): move the integration to a service account",
                    policy.project_secret_retirement,
                    if days >= 0 {
                        format!("in {days} days")
                    } else {
                        format!("{} days ago", -days)
                    }
                ),
            );
        }
    }
    out.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(a.code.cmp(b.code))
            .then(a.subject.cmp(&b.subject))
    });
    out
}
