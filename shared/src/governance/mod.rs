//! Governance: access reviews, offboarding plans, lingering-credential findings and evidence
//! bundles, as plain functions over one [`Snapshot`] of the organization.
//!
//! [`Snapshot::collect`] reads the organization once: `me`, the members, teams, projects and
//! service accounts (one list each), the audit-log facts an access review needs (last logins,
//! two-factor enrollments, invitations: a few pages of `session.logged_in`,
//! `user.twofactor_enabled` and `organization.user_added`), and per project its granted users and
//! granted teams. That is 5 + audit pages + 2 per project calls, whatever the number of members.
//! Everything else ([`review`], [`findings`], the offboarding plan) is computed from the
//! snapshot without the network, so the CLI, the daemon and tests share one implementation.

pub mod decisions;
pub mod findings;
pub mod grants;
pub mod offboard;
pub mod report;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::api::{wire, ApiError, OrgClient};
use crate::inventory::InventoryEntry;
use crate::model::{
    audit_event, AuditEvent, Email, Member, MemberStatus, OrgId, OrgRole, Project, ProjectId,
    ServiceAccount, TargetType, Team, TeamGrant, TeamId, UserGrant, UserId,
};
use crate::permissions::{effective_access, EffectiveAccess, GrantInputs, TeamRole};

pub use findings::{findings, Finding, Policy, Severity};

/// How far back the snapshot reads the audit log by default: Enterprise retention (2 years).
pub const DEFAULT_AUDIT_LOOKBACK_DAYS: i64 = 730;

/// The grants of one project, as `granted-users` and `granted-teams` report them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ProjectGrants {
    pub users: Vec<UserGrant>,
    pub teams: Vec<TeamGrant>,
}

/// Facts only the audit log holds, keyed by lower-case e-mail.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AuditFacts {
    /// The log was read from this time on; older facts are unknown ("none within the log's
    /// retention").
    pub since: DateTime<Utc>,
    pub last_login: BTreeMap<String, LoginFact>,
    pub twofactor_enabled: BTreeMap<String, DateTime<Utc>>,
    /// When each address was last invited or added to the organization.
    pub added: BTreeMap<String, DateTime<Utc>>,
}

/// A member's last login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginFact {
    pub at: DateTime<Utc>,
    pub login_method: Option<String>,
    pub twofactor_method: Option<String>,
    /// Where the time comes from.
    #[serde(default)]
    pub source: LoginSource,
}

/// Where a last login was read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoginSource {
    /// The member list's `last_login` (Mixpanel's own record of the account).
    MemberList,
    /// The newest `session.logged_in` event within the audit log's retention.
    #[default]
    AuditLog,
}

impl LoginSource {
    pub fn as_str(self) -> &'static str {
        match self {
            LoginSource::MemberList => "member_list",
            LoginSource::AuditLog => "audit_log",
        }
    }
}

impl LoginSource {
    /// The source in words, for reports.
    pub fn label(self) -> &'static str {
        match self {
            LoginSource::MemberList => "member list",
            LoginSource::AuditLog => "audit log",
        }
    }
}

impl std::fmt::Display for LoginSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A member's last login from the best source: the member list's `last_login` where Mixpanel
/// gives it, the audit log otherwise (when both know one, the later; the audit log's login
/// and two-factor methods are kept either way).
pub fn last_login_of(snap: &Snapshot, m: &Member) -> Option<LoginFact> {
    let logged = snap.audit.last_login.get(&m.email.as_str().to_lowercase());
    match (m.last_login, logged) {
        (Some(at), Some(l)) if at >= l.at => Some(LoginFact {
            at,
            source: LoginSource::MemberList,
            ..l.clone()
        }),
        (Some(at), None) => Some(LoginFact {
            at,
            login_method: None,
            twofactor_method: None,
            source: LoginSource::MemberList,
        }),
        (_, Some(l)) => Some(l.clone()),
        (None, None) => None,
    }
}

impl AuditFacts {
    /// Folds audit events (any order) into the facts.
    pub fn from_events(since: DateTime<Utc>, events: &[AuditEvent]) -> AuditFacts {
        let mut f = AuditFacts {
            since,
            ..Default::default()
        };
        // Mixpanel's entries: a login and a two-factor enrolment are the actor's own
        // (`user_email`, the payload has no address); an addition names the member in
        // `payload.user_email`, an invitation in `payload.email`.
        for e in events {
            let Some(at) = e.created else { continue };
            let text = |k: &str| e.payload()[k].as_str().map(str::to_lowercase);
            let actor = e.actor().to_lowercase();
            match e.kind().as_str() {
                audit_event::SESSION_LOGGED_IN
                    if !actor.is_empty() && f.last_login.get(&actor).is_none_or(|l| l.at < at) =>
                {
                    let raw = |k: &str| e.payload()[k].as_str().map(str::to_string);
                    f.last_login.insert(
                        actor,
                        LoginFact {
                            at,
                            login_method: raw("login_method"),
                            twofactor_method: raw("twofactor_method"),
                            source: LoginSource::AuditLog,
                        },
                    );
                }
                audit_event::USER_TWOFACTOR_ENABLED if !actor.is_empty() => {
                    let t = f.twofactor_enabled.entry(actor).or_insert(at);
                    *t = (*t).max(at);
                }
                audit_event::ORG_USER_ADDED | audit_event::INVITATION_SENT => {
                    let Some(email) = text("user_email").or_else(|| text("email")) else {
                        continue;
                    };
                    let t = f.added.entry(email).or_insert(at);
                    *t = (*t).max(at);
                }
                _ => {}
            }
        }
        f
    }
}

/// One read of the organization: everything a review or an offboarding plan needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Snapshot {
    pub taken_at: DateTime<Utc>,
    pub organization: OrgId,
    /// The user id of the credential that took the snapshot (its own service account).
    pub reviewer_user: Option<UserId>,
    pub members: Vec<Member>,
    pub teams: Vec<Team>,
    pub projects: Vec<Project>,
    pub service_accounts: Vec<ServiceAccount>,
    pub grants: BTreeMap<ProjectId, ProjectGrants>,
    #[serde(skip)]
    pub inventory: Vec<InventoryEntry>,
    /// The time-limited grants recorded in Vault (the review lists them and reports one still
    /// held after its expiry).
    #[serde(skip)]
    pub timed_grants: Vec<grants::TimedGrant>,
    pub audit: AuditFacts,
    /// API requests the snapshot made (pages of the audit log included).
    pub api_calls: usize,
}

/// Options of [`Snapshot::collect`].
#[derive(Debug, Clone)]
pub struct CollectOptions {
    /// How far back to read the audit log.
    pub audit_lookback: Duration,
    /// Projects whose grants are read at once.
    pub concurrency: usize,
}

impl Default for CollectOptions {
    fn default() -> Self {
        CollectOptions {
            audit_lookback: Duration::days(DEFAULT_AUDIT_LOOKBACK_DAYS),
            concurrency: 8,
        }
    }
}

/// The audit-log event types the snapshot reads.
pub const SNAPSHOT_AUDIT_TYPES: &[&str] = &[
    audit_event::SESSION_LOGGED_IN,
    audit_event::USER_TWOFACTOR_ENABLED,
    audit_event::ORG_USER_ADDED,
    audit_event::INVITATION_SENT,
];

impl Snapshot {
    /// Reads the organization once (see the module documentation for the calls it makes).
    pub async fn collect(
        api: &OrgClient,
        inventory: Vec<InventoryEntry>,
        opts: &CollectOptions,
    ) -> Result<Snapshot, ApiError> {
        let taken_at = Utc::now();
        let me = api.me().await?;
        let (members, teams, projects, service_accounts) = tokio::try_join!(
            api.list_org_users(),
            api.list_teams(),
            api.list_projects(),
            api.list_service_accounts(),
        )?;
        let since = taken_at - opts.audit_lookback;
        let query = wire::AuditLogQuery {
            types: SNAPSHOT_AUDIT_TYPES.iter().map(|s| s.to_string()).collect(),
            created_gte: Some(since),
            ..Default::default()
        };
        let mut events = Vec::new();
        let pages = api
            .audit_log_each(&query, |page| {
                events.extend_from_slice(page);
                Ok(())
            })
            .await?;
        let audit = AuditFacts::from_events(since, &events);
        let mut grants = BTreeMap::new();
        let mut set = tokio::task::JoinSet::new();
        let mut pending = projects
            .iter()
            .map(|p| p.id)
            .collect::<Vec<_>>()
            .into_iter();
        let launch = |set: &mut tokio::task::JoinSet<_>, id: ProjectId| {
            let api = api.clone();
            set.spawn(async move {
                let (users, teams) =
                    tokio::try_join!(api.granted_users(id), api.granted_teams(id))?;
                Ok::<_, ApiError>((id, ProjectGrants { users, teams }))
            });
        };
        for id in pending.by_ref().take(opts.concurrency.max(1)) {
            launch(&mut set, id);
        }
        while let Some(joined) = set.join_next().await {
            let (id, g) = joined.map_err(|e| ApiError::local("a grant read stopped", e))??;
            grants.insert(id, g);
            if let Some(next) = pending.next() {
                launch(&mut set, next);
            }
        }
        let api_calls = 5 + pages + 2 * projects.len();
        Ok(Snapshot {
            taken_at,
            organization: api.org(),
            reviewer_user: Some(me.user_id),
            members,
            teams,
            projects,
            service_accounts,
            grants,
            inventory,
            timed_grants: Vec::new(),
            audit,
            api_calls,
        })
    }

    /// The member with this address (case-insensitive).
    pub fn member(&self, email: &str) -> Option<&Member> {
        self.members
            .iter()
            .find(|m| m.email.as_str().eq_ignore_ascii_case(email))
    }

    /// The teams the address belongs to.
    pub fn teams_of(&self, email: &Email) -> Vec<&Team> {
        self.teams
            .iter()
            .filter(|t| t.members.iter().any(|m| m == email))
            .collect()
    }

    /// A member's effective access to one project, with every source.
    pub fn access(&self, member: &Member, project: &Project) -> EffectiveAccess {
        let grants = self.grants.get(&project.id);
        let rows = grants
            .map(|g| g.users.as_slice())
            .unwrap_or_default()
            .iter()
            .filter(|g| g.email == member.email);
        let mut inputs = GrantInputs {
            org_role: Some(member.role),
            individual: None,
            teams: Vec::new(),
            all_users: project.default_role,
        };
        let mut seen_teams = BTreeSet::new();
        for g in rows {
            match g.target_type {
                TargetType::Individual => {
                    if inputs.individual.is_none_or(|r| r.rank() < g.role.rank()) {
                        inputs.individual = Some(g.role);
                    }
                }
                TargetType::Team => {
                    let id = g.team_id.unwrap_or(TeamId(0));
                    if seen_teams.insert(id) {
                        inputs.teams.push(TeamRole {
                            id,
                            name: g.team_name.clone().unwrap_or_default(),
                            role: g.role,
                        });
                    }
                }
                TargetType::Organization => {}
            }
        }
        // Team grants the users list left out (a team of the member's with a grant).
        if let Some(g) = grants {
            for tg in &g.teams {
                let member_of = self
                    .teams
                    .iter()
                    .any(|t| t.id == tg.id && t.members.contains(&member.email));
                if member_of && seen_teams.insert(tg.id) {
                    inputs.teams.push(TeamRole {
                        id: tg.id,
                        name: tg.name.clone(),
                        role: tg.role,
                    });
                }
            }
        }
        effective_access(&inputs)
    }

    /// Every project the member reaches, with the access.
    pub fn access_of(&self, member: &Member) -> Vec<(&Project, EffectiveAccess)> {
        self.projects
            .iter()
            .map(|p| (p, self.access(member, p)))
            .filter(|(_, a)| a.role.is_some())
            .collect()
    }

    /// Whether the member list carries user ids (Mixpanel's may not): only then can an account's
    /// creator be matched to a member.
    pub fn member_ids_known(&self) -> bool {
        !self.members.is_empty() && self.members.iter().all(|m| m.id.is_some())
    }

    /// The member whose user id this is.
    pub fn member_by_id(&self, id: UserId) -> Option<&Member> {
        self.members.iter().find(|m| m.id == Some(id))
    }

    /// The inventory entry of a service account (by id, else by username).
    pub fn inventory_of(&self, sa: &ServiceAccount) -> Option<&InventoryEntry> {
        self.inventory.iter().find(|e| {
            e.sa_id == Some(sa.id) || e.username.as_ref().is_some_and(|u| *u == sa.username)
        })
    }
}

/// Two-factor status of a member, where known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TwoFactor {
    /// Enrollment recorded (audit event or member record).
    Enabled,
    /// No enrollment recorded within the log's retention.
    NotRecorded,
}

/// One member's line of a review.
#[derive(Debug, Clone, Serialize)]
pub struct MemberReview {
    pub email: Email,
    pub org_role: OrgRole,
    pub status: MemberStatus,
    pub last_login: Option<LoginFact>,
    pub two_factor: TwoFactor,
    pub teams: Vec<String>,
    pub projects: Vec<ProjectAccess>,
}

/// A member's access to one project.
#[derive(Debug, Clone, Serialize)]
pub struct ProjectAccess {
    pub project_id: ProjectId,
    pub project: String,
    pub role: crate::model::ProjectRole,
    /// Every source: `individual`, `team:<name>`, `organization_role`, `all_users`.
    pub sources: Vec<crate::permissions::SourcedRole>,
}

/// A review: every member's access and every finding.
#[derive(Debug, Clone, Serialize)]
pub struct Review {
    pub organization: OrgId,
    pub taken_at: DateTime<Utc>,
    pub audit_since: DateTime<Utc>,
    pub policy: Policy,
    pub members: Vec<MemberReview>,
    pub service_accounts: Vec<ServiceAccountReview>,
    /// Time-limited grants, active and ended.
    pub timed_grants: Vec<grants::TimedGrant>,
    pub findings: Vec<Finding>,
    pub api_calls: usize,
}

/// One service account's line of a review.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceAccountReview {
    pub id: crate::model::ServiceAccountId,
    pub username: String,
    pub role: Option<crate::model::ProjectRole>,
    pub created: DateTime<Utc>,
    pub expires: Option<DateTime<Utc>>,
    pub last_used: Option<DateTime<Utc>>,
    /// The inventory entry naming it.
    pub inventory: Option<String>,
    /// The creator's e-mail when the member list names them.
    pub creator: Option<String>,
    /// The credential this review was taken with.
    pub reviewer: bool,
}

impl Review {
    /// The highest severity among the findings.
    pub fn max_severity(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }

    /// Finding counts per code.
    pub fn counts(&self) -> BTreeMap<&'static str, usize> {
        let mut out = BTreeMap::new();
        for f in &self.findings {
            *out.entry(f.code).or_insert(0) += 1;
        }
        out
    }
}

/// Whether a member's two-factor enrollment is recorded.
pub fn two_factor_of(snap: &Snapshot, m: &Member) -> TwoFactor {
    let key = m.email.as_str().to_lowercase();
    let in_log = snap.audit.twofactor_enabled.contains_key(&key)
        || snap
            .audit
            .last_login
            .get(&key)
            .is_some_and(|l| l.twofactor_method.is_some());
    if in_log || m.two_factor_enabled {
        TwoFactor::Enabled
    } else {
        TwoFactor::NotRecorded
    }
}

/// The review of a snapshot under a policy.
pub fn review(snap: &Snapshot, policy: &Policy) -> Review {
    let mut members: Vec<MemberReview> = snap
        .members
        .iter()
        .map(|m| MemberReview {
            email: m.email.clone(),
            org_role: m.role,
            status: m.status,
            last_login: last_login_of(snap, m),
            two_factor: two_factor_of(snap, m),
            teams: snap
                .teams_of(&m.email)
                .iter()
                .map(|t| t.name.clone())
                .collect(),
            projects: snap
                .access_of(m)
                .into_iter()
                .filter_map(|(p, a)| {
                    Some(ProjectAccess {
                        project_id: p.id,
                        project: p.name.clone(),
                        role: a.role?,
                        sources: a.sources,
                    })
                })
                .collect(),
        })
        .collect();
    members.sort_by_key(|m| m.email.as_str().to_lowercase());
    let mut service_accounts: Vec<ServiceAccountReview> = snap
        .service_accounts
        .iter()
        .map(|sa| ServiceAccountReview {
            id: sa.id,
            username: sa.username.to_string(),
            role: sa.role,
            created: sa.created,
            expires: sa.expires,
            last_used: sa.last_used,
            inventory: snap.inventory_of(sa).map(|e| e.name.clone()),
            creator: sa
                .creator
                .and_then(|c| snap.member_by_id(c))
                .map(|m| m.email.to_string()),
            reviewer: snap.reviewer_user.is_some() && sa.user == snap.reviewer_user,
        })
        .collect();
    service_accounts.sort_by(|a, b| a.username.cmp(&b.username));
    Review {
        organization: snap.organization,
        taken_at: snap.taken_at,
        audit_since: snap.audit.since,
        policy: policy.clone(),
        members,
        service_accounts,
        timed_grants: snap.timed_grants.clone(),
        findings: findings(snap, policy),
        api_calls: snap.api_calls,
    }
}

#[cfg(test)]
pub(crate) mod tests;
