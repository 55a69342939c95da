//! Time-limited access (the playbook's two-week admin sprint, seasonal campaign access): a
//! project role or a team seat given until a time, recorded in Vault, revoked by the daemon's
//! leader when it expires. The records and the rules over them live here; the rotator makes and
//! ends the grants.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Snapshot;
use crate::model::{Email, ProjectId, ProjectRole, TargetType};

/// What a grant gives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Grant {
    /// An individual role on a project.
    ProjectRole {
        project: ProjectId,
        role: ProjectRole,
    },
    /// A seat on a team.
    TeamSeat { team_id: u64, team: String },
}

/// Where a grant stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantStatus {
    /// Given and verified by a read; not ended yet.
    Active,
    /// Ended, verified by a read.
    Revoked,
    /// The API cannot end it (no route on Mixpanel): a person must, in the web app.
    RevokeManual,
}

impl GrantStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            GrantStatus::Active => "active",
            GrantStatus::Revoked => "revoked",
            GrantStatus::RevokeManual => "revoke_manual",
        }
    }
}

/// One time-limited grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimedGrant {
    /// `<ticket>-<n>`.
    pub id: String,
    pub email: Email,
    #[serde(flatten)]
    pub grant: Grant,
    pub granted_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub ticket: String,
    pub reason: String,
    /// Who granted it (OS user and Vault identity).
    pub granted_by: String,
    pub status: GrantStatus,
    #[serde(default)]
    pub ended_at: Option<DateTime<Utc>>,
    /// How it ended, or why it could not be ended.
    #[serde(default)]
    pub detail: String,
    /// Revocation attempts that failed (transient errors); the leader retries.
    #[serde(default)]
    pub attempts: u32,
}

impl TimedGrant {
    /// Expired and not ended (revoked or handed to a person).
    pub fn overdue(&self, now: DateTime<Utc>) -> bool {
        self.status != GrantStatus::Revoked && self.expires_at <= now
    }

    /// The grant in words.
    pub fn describe(&self) -> String {
        match &self.grant {
            Grant::ProjectRole { project, role } => {
                format!("{} as {role} on project {project}", self.email)
            }
            Grant::TeamSeat { team, .. } => format!("{} on team {team}", self.email),
        }
    }

    /// Where a person ends it in Mixpanel's web app.
    pub fn by_hand(&self) -> String {
        match &self.grant {
            Grant::ProjectRole { project, .. } => format!(
                "Organization Settings → Users & Seats → {} → project {project} → \"No Access\"",
                self.email
            ),
            Grant::TeamSeat { team, .. } => {
                format!(
                    "Organization Settings → Teams → {team} → remove {}",
                    self.email
                )
            }
        }
    }

    /// Whether the snapshot shows the access still held.
    pub fn held_in(&self, snap: &Snapshot) -> bool {
        match &self.grant {
            Grant::ProjectRole { project, .. } => snap.grants.get(project).is_some_and(|g| {
                g.users
                    .iter()
                    .any(|u| u.email == self.email && u.target_type == TargetType::Individual)
            }),
            Grant::TeamSeat { team_id, .. } => snap
                .teams
                .iter()
                .any(|t| t.id.0 == *team_id && t.members.contains(&self.email)),
        }
    }
}

/// Every time-limited grant (`state/_governance/grants` in Vault).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantBook {
    pub grants: Vec<TimedGrant>,
}

impl GrantBook {
    /// A new id under the ticket.
    pub fn next_id(&self, ticket: &str) -> String {
        let n = self.grants.iter().filter(|g| g.ticket == ticket).count() + 1;
        format!("{ticket}-{n}")
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut TimedGrant> {
        self.grants.iter_mut().find(|g| g.id == id)
    }

    /// Grants past their expiry that are not revoked, at `now`.
    pub fn overdue(&self, now: DateTime<Utc>) -> Vec<&TimedGrant> {
        self.grants.iter().filter(|g| g.overdue(now)).collect()
    }

    /// Active grants whose expiry has come: what the leader revokes.
    pub fn to_revoke(&self, now: DateTime<Utc>) -> Vec<String> {
        self.grants
            .iter()
            .filter(|g| g.status == GrantStatus::Active && g.expires_at <= now)
            .map(|g| g.id.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(status: GrantStatus, expires_in_hours: i64) -> TimedGrant {
        let now: DateTime<Utc> = "2026-12-01T00:00:00Z".parse().unwrap();
        TimedGrant {
            id: "IAM-1-1".into(),
            email: "ana@acme.example".parse().unwrap(),
            grant: Grant::ProjectRole {
                project: ProjectId(10),
                role: ProjectRole::Admin,
            },
            granted_at: now,
            expires_at: now + chrono::Duration::hours(expires_in_hours),
            ticket: "IAM-1".into(),
            reason: "sprint".into(),
            granted_by: "rita".into(),
            status,
            ended_at: None,
            detail: String::new(),
            attempts: 0,
        }
    }

    #[test]
    fn overdue_and_due_for_revocation() {
        let now: DateTime<Utc> = "2026-12-01T02:00:00Z".parse().unwrap();
        let book = GrantBook {
            grants: vec![
                grant(GrantStatus::Active, 1),
                TimedGrant {
                    id: "IAM-1-2".into(),
                    ..grant(GrantStatus::Active, 3)
                },
                TimedGrant {
                    id: "IAM-1-3".into(),
                    ..grant(GrantStatus::RevokeManual, 1)
                },
                TimedGrant {
                    id: "IAM-1-4".into(),
                    ..grant(GrantStatus::Revoked, 1)
                },
            ],
        };
        assert_eq!(book.to_revoke(now), ["IAM-1-1"]);
        let overdue: Vec<&str> = book.overdue(now).iter().map(|g| g.id.as_str()).collect();
        assert_eq!(overdue, ["IAM-1-1", "IAM-1-3"]);
        assert_eq!(book.next_id("IAM-1"), "IAM-1-5");
        assert_eq!(book.next_id("IAM-2"), "IAM-2-1");
        let json = serde_json::to_value(&book.grants[0]).unwrap();
        assert_eq!(json["kind"], "project_role");
        let back: TimedGrant = serde_json::from_value(json).unwrap();
        assert_eq!(back, book.grants[0]);
    }
}
