//! The offboarding plan of one person, computed from a snapshot in the playbook's order:
//! remove project grants and team seats, then the organization membership (or downgrade it to
//! member with `keep_account`), rotate the credentials the person could read, delete the
//! service accounts they created that are not in the inventory.

use serde::{Deserialize, Serialize};

use super::Snapshot;
use crate::inventory::CredentialKind;
use crate::model::{
    Email, MemberStatus, OrgRole, ProjectId, ProjectRole, ServiceAccountId, TeamId,
};
use crate::permissions::SourcedRole;

/// Options of an offboarding.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OffboardOptions {
    /// Downgrade to member with no project instead of removing the membership.
    pub keep_account: bool,
    /// Also rotate the tokens of projects the person administered.
    pub include_tokens: bool,
}

/// A project the person reaches, with every source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessLine {
    pub project_id: ProjectId,
    pub project: String,
    pub role: ProjectRole,
    /// `individual`, `team:<name>`, `organization_role`, `all_users`, each with its role.
    pub sources: Vec<String>,
}

/// A service account the person created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedAccount {
    pub id: ServiceAccountId,
    pub username: String,
    /// The inventory entry naming it, if any.
    pub inventory: Option<String>,
}

/// An inventory credential the offboarding affects, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AffectedCredential {
    pub name: String,
    pub kind: CredentialKind,
    pub reason: String,
}

/// What the person holds: the pre-removal audit (and, read again, the after state).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonAccess {
    pub email: Email,
    /// `None` when not a member (any more).
    pub org_role: Option<OrgRole>,
    pub status: Option<MemberStatus>,
    pub projects: Vec<AccessLine>,
    pub teams: Vec<(TeamId, String)>,
    pub created_accounts: Vec<CreatedAccount>,
    /// Inventory entries naming the person as `owner` (a new owner is needed) or `created_by`.
    #[serde(default)]
    pub inventory_owned: Vec<String>,
    #[serde(default)]
    pub inventory_created: Vec<String>,
}

/// One step of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    /// Remove the person's individual grants on these projects.
    RemoveProjectGrants { projects: Vec<(ProjectId, String)> },
    /// Remove the person's seat in a team.
    RemoveTeamSeat { team: TeamId, name: String },
    /// Remove the organization membership.
    RemoveMembership,
    /// Downgrade to organization member (keep_account).
    DowngradeToMember,
    /// Rotate an inventory credential.
    Rotate { name: String, reason: String },
    /// Delete a service account the person created that is not in the inventory.
    DeleteServiceAccount {
        id: ServiceAccountId,
        username: String,
    },
}

impl Step {
    /// A short line for tables and the summary.
    pub fn describe(&self, email: &str) -> String {
        match self {
            Step::RemoveProjectGrants { projects } => format!(
                "remove {email}'s individual grants on {}",
                projects
                    .iter()
                    .map(|(id, n)| format!("{n} ({id})"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Step::RemoveTeamSeat { team, name } => {
                format!("remove {email} from team {name} ({team})")
            }
            Step::RemoveMembership => format!("remove {email} from the organization"),
            Step::DowngradeToMember => {
                format!("downgrade {email} to organization member with no project")
            }
            Step::Rotate { name, reason } => format!("rotate {name} ({reason})"),
            Step::DeleteServiceAccount { id, username } => {
                format!("delete service account {username} ({id}), created by {email}, not in the inventory")
            }
        }
    }

    /// Where to do the step by hand in Mixpanel's web app.
    pub fn by_hand(&self, email: &str) -> String {
        match self {
            Step::RemoveProjectGrants { projects } => format!(
                "Organization Settings → Users & Seats → {email} → set each of {} to \"No Access\"",
                projects
                    .iter()
                    .map(|(_, n)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Step::RemoveTeamSeat { name, .. } => {
                format!("Organization Settings → Teams → {name} → remove {email}")
            }
            Step::RemoveMembership => {
                format!("Organization Settings → Users & Seats → {email} → Remove")
            }
            Step::DowngradeToMember => format!(
                "Organization Settings → Users & Seats → {email} → organization role \"Member\""
            ),
            Step::Rotate { name, .. } => format!(
                "Project Settings → Access Keys (or Service Accounts) → reset the credential of {name}, then store it with `mixpanel-rotator rotate {name}`"
            ),
            Step::DeleteServiceAccount { username, .. } => {
                format!("Organization Settings → Service Accounts → {username} → Delete")
            }
        }
    }
}

/// The steps only the web app can do, listed in every offboarding's manual steps (the
/// pre-removal checklist of the playbook): they are never reported as done by this tool.
pub const WEB_APP_CHECKLIST: &[&str] = &[
    "Transfer ownership of the boards and reports they created to a retained team member (each board → ⋯ → Transfer ownership)",
    "Update the recipients of scheduled reports and alerts they manage (Boards → Subscriptions, Alerts)",
    "Document the cohorts and segments they defined (Cohorts → filter by creator)",
    "Note the integrations (Data Pipelines, Cohort Syncs) they configured (Project Settings → Integrations)",
];

/// The offboarding plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub before: PersonAccess,
    pub options: OffboardOptions,
    pub steps: Vec<Step>,
    pub affected: Vec<AffectedCredential>,
}

fn sources(s: &[SourcedRole]) -> Vec<String> {
    s.iter()
        .map(|x| format!("{} {}", x.source, x.role))
        .collect()
}

/// What the person holds now, from a snapshot.
pub fn person_access(snap: &Snapshot, email: &Email) -> PersonAccess {
    let member = snap.member(email.as_str());
    let projects = member
        .map(|m| {
            snap.access_of(m)
                .into_iter()
                .filter_map(|(p, a)| {
                    Some(AccessLine {
                        project_id: p.id,
                        project: p.name.clone(),
                        role: a.role?,
                        sources: sources(&a.sources),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let created_accounts = match member.and_then(|m| m.id) {
        Some(uid) => snap
            .service_accounts
            .iter()
            .filter(|sa| sa.creator == Some(uid))
            .map(|sa| CreatedAccount {
                id: sa.id,
                username: sa.username.to_string(),
                inventory: snap.inventory_of(sa).map(|e| e.name.clone()),
            })
            .collect(),
        None => Vec::new(),
    };
    PersonAccess {
        email: email.clone(),
        org_role: member.map(|m| m.role),
        status: member.map(|m| m.status),
        projects,
        teams: snap
            .teams_of(email)
            .into_iter()
            .map(|t| (t.id, t.name.clone()))
            .collect(),
        created_accounts,
        inventory_owned: snap
            .inventory
            .iter()
            .filter(|e| e.owner.trim().eq_ignore_ascii_case(email.as_str()))
            .map(|e| e.name.clone())
            .collect(),
        inventory_created: snap
            .inventory
            .iter()
            .filter(|e| e.created_by.trim().eq_ignore_ascii_case(email.as_str()))
            .map(|e| e.name.clone())
            .collect(),
    }
}

/// The plan for `email`. `None` when the person is not a member (nothing to take away through
/// the API: the caller says so).
pub fn plan(snap: &Snapshot, email: &Email, options: OffboardOptions) -> Option<Plan> {
    let member = snap.member(email.as_str())?;
    let before = person_access(snap, email);
    let mut steps = Vec::new();
    let individual: Vec<(ProjectId, String)> = snap
        .projects
        .iter()
        .filter(|p| {
            snap.grants.get(&p.id).is_some_and(|g| {
                g.users.iter().any(|u| {
                    u.email == member.email && u.target_type == crate::model::TargetType::Individual
                })
            })
        })
        .map(|p| (p.id, p.name.clone()))
        .collect();
    if !individual.is_empty() {
        steps.push(Step::RemoveProjectGrants {
            projects: individual,
        });
    }
    for (team, name) in &before.teams {
        steps.push(Step::RemoveTeamSeat {
            team: *team,
            name: name.clone(),
        });
    }
    if options.keep_account {
        if member.role != OrgRole::Member {
            steps.push(Step::DowngradeToMember);
        }
    } else {
        steps.push(Step::RemoveMembership);
    }
    // Credentials: those they created (in the inventory), and on every project they
    // administered the service accounts and project secrets (tokens with include_tokens).
    let administered: Vec<ProjectId> = before
        .projects
        .iter()
        .filter(|a| matches!(a.role, ProjectRole::Admin | ProjectRole::Owner))
        .map(|a| a.project_id)
        .collect();
    let mut affected: Vec<AffectedCredential> = Vec::new();
    for c in &before.created_accounts {
        if let Some(name) = &c.inventory {
            affected.push(AffectedCredential {
                name: name.clone(),
                kind: CredentialKind::ServiceAccount,
                reason: format!("service account {} created by {email}", c.username),
            });
        }
    }
    for name in &before.inventory_created {
        if affected.iter().any(|a| a.name == *name) {
            continue;
        }
        if let Some(e) = snap.inventory.iter().find(|e| e.name == *name) {
            if e.kind != CredentialKind::ProjectToken || options.include_tokens {
                affected.push(AffectedCredential {
                    name: name.clone(),
                    kind: e.kind,
                    reason: format!("created by {email} (the inventory's created_by)"),
                });
            }
        }
    }
    for e in &snap.inventory {
        if affected.iter().any(|a| a.name == e.name) {
            continue;
        }
        let on: Vec<&ProjectId> = e
            .projects
            .iter()
            .filter(|p| administered.contains(p))
            .collect();
        if on.is_empty() {
            continue;
        }
        let include = match e.kind {
            CredentialKind::ServiceAccount | CredentialKind::ProjectSecret => true,
            CredentialKind::ProjectToken => options.include_tokens,
        };
        if include {
            affected.push(AffectedCredential {
                name: e.name.clone(),
                kind: e.kind,
                reason: format!(
                    "{email} could read it as an admin of project {}",
                    on.iter()
                        .map(|p| p.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
    }
    affected.sort_by(|a, b| a.name.cmp(&b.name));
    for a in &affected {
        steps.push(Step::Rotate {
            name: a.name.clone(),
            reason: a.reason.clone(),
        });
    }
    for c in before
        .created_accounts
        .iter()
        .filter(|c| c.inventory.is_none())
    {
        steps.push(Step::DeleteServiceAccount {
            id: c.id,
            username: c.username.clone(),
        });
    }
    Some(Plan {
        before,
        options,
        steps,
        affected,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::governance::tests::snapshot;
    use crate::inventory::{CredentialKind, IntegrationType, InventoryEntry};
    use crate::model::{ServiceAccountId, UserId};

    #[test]
    fn plan_follows_the_playbook_order() {
        let mut s = snapshot();
        // Di (admin, team analysts, web through the organization role) created two accounts:
        // the inventoried etl and an unregistered one.
        s.service_accounts[0].creator = Some(UserId(4));
        s.service_accounts[1].creator = Some(UserId(4));
        let mut token = InventoryEntry::new(
            "web/token",
            CredentialKind::ProjectToken,
            IntegrationType::Custom,
        );
        token.projects = vec![crate::model::ProjectId(10)];
        s.inventory.push(token);
        let di: Email = "di@acme.example".parse().unwrap();
        let p = plan(&s, &di, OffboardOptions::default()).unwrap();
        let kinds: Vec<&str> = p
            .steps
            .iter()
            .map(|st| match st {
                Step::RemoveProjectGrants { .. } => "grants",
                Step::RemoveTeamSeat { .. } => "team",
                Step::RemoveMembership => "membership",
                Step::DowngradeToMember => "downgrade",
                Step::Rotate { .. } => "rotate",
                Step::DeleteServiceAccount { .. } => "delete",
            })
            .collect();
        // No individual grant; one team; membership; etl (created) and web/secret (admin of
        // web); the unregistered account deleted. No token without include_tokens.
        assert_eq!(kinds, ["team", "membership", "rotate", "rotate", "delete"]);
        let rotated: Vec<&str> = p.affected.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(rotated, ["warehouse/etl", "web/secret"]);
        assert!(
            matches!(&p.steps[4], Step::DeleteServiceAccount { id, .. } if *id == ServiceAccountId(101))
        );
        let p = plan(
            &s,
            &di,
            OffboardOptions {
                keep_account: true,
                include_tokens: true,
            },
        )
        .unwrap();
        assert!(p.steps.contains(&Step::DowngradeToMember));
        assert!(!p.steps.contains(&Step::RemoveMembership));
        assert!(p.affected.iter().any(|a| a.name == "web/token"));
        // Cy (invited, individual analyst grant on web): grants first, nothing to rotate.
        let cy: Email = "cy@acme.example".parse().unwrap();
        let p = plan(&s, &cy, OffboardOptions::default()).unwrap();
        assert!(
            matches!(&p.steps[0], Step::RemoveProjectGrants { projects } if projects.len() == 1)
        );
        assert!(p.affected.is_empty());
        assert!(plan(
            &s,
            &"nobody@acme.example".parse().unwrap(),
            OffboardOptions::default()
        )
        .is_none());
    }
}
