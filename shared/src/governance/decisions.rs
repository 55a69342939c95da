//! `review apply`: the reviewer's decisions CSV (the review's CSV with `decision`, `reviewer`
//! and `justification` filled in) turned into actions over a fresh snapshot.
//!
//! - `KEEP` or empty: nothing.
//! - `REVOKE` on a project row: the person's individual grant on that project goes; access that
//!   remains through a team, the organization role or the "all users" role is listed as a
//!   manual action (removing a team seat or a role would reach beyond this one project). On a
//!   row with no project: the organization membership goes.
//! - `REDUCE` (one role down) or `REDUCE:<role>` on a project row: the individual grant is set
//!   to that role; stronger roles from other sources are listed as manual actions.

use serde::Serialize;

use super::report::DECISION_COLUMNS;
use super::Snapshot;
use crate::model::{Email, GrantSource, ProjectId, ProjectRole, TargetType};

/// A reviewer's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionKind {
    Keep,
    Revoke,
    /// To this role; `None`: one role down.
    Reduce(Option<ProjectRole>),
}

/// One row of the decisions CSV that asks for a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// The CSV line (1 is the header).
    pub line: usize,
    pub email: Email,
    pub project_id: Option<ProjectId>,
    pub kind: DecisionKind,
    pub reviewer: String,
    pub justification: String,
    /// The effective role the review showed on the row (`effective_role`), when the file has
    /// the column: what a REDUCE is measured against, so applying the file again finds the
    /// reduction done instead of reducing once more.
    pub review_role: Option<ProjectRole>,
}

impl Decision {
    /// The role a REDUCE asks for: the one named, or one below the role the review showed
    /// (else below `current`).
    pub fn reduce_target(&self, current: ProjectRole) -> Option<ProjectRole> {
        match self.kind {
            DecisionKind::Reduce(Some(r)) => Some(r),
            DecisionKind::Reduce(None) => Some(one_down(self.review_role.unwrap_or(current))),
            _ => None,
        }
    }
}

fn one_down(r: ProjectRole) -> ProjectRole {
    match r {
        ProjectRole::Owner => ProjectRole::Admin,
        ProjectRole::Admin => ProjectRole::Analyst,
        ProjectRole::Analyst | ProjectRole::Consumer => ProjectRole::Consumer,
    }
}

/// Parses a decisions CSV. Every problem is reported with its line, all at once.
pub fn parse_decisions(text: &str) -> Result<Vec<Decision>, Vec<String>> {
    let (out, problems) = parse_rows(text);
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// Parses a decisions CSV and checks every row against the snapshot, before anything changes:
/// a row naming someone who is not a member, an unknown project, a REDUCE to a role at or
/// above the current one (or on a project the person does not reach), a row without a
/// reviewer, an unknown decision word. Every bad row is listed, all at once, with its line.
pub fn validate_decisions(snap: &Snapshot, text: &str) -> Result<Vec<Decision>, Vec<String>> {
    let (out, mut problems) = parse_rows(text);
    for d in &out {
        problems.extend(row_problem(snap, d));
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        problems.sort_by_key(|p| line_of(p));
        Err(problems)
    }
}

fn line_of(problem: &str) -> usize {
    problem
        .strip_prefix("line ")
        .and_then(|r| r.split(':').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// What is wrong with one parsed row, over the snapshot.
fn row_problem(snap: &Snapshot, d: &Decision) -> Option<String> {
    let line = d.line;
    let Some(member) = snap.member(d.email.as_str()) else {
        return Some(format!(
            "line {line}: {} is not a member of organization {}: check the address (a typo would leave the real person's access in place); if they have left already, set the decision to KEEP",
            d.email, snap.organization
        ));
    };
    let pid = d.project_id?;
    let Some(project) = snap.projects.iter().find(|p| p.id == pid) else {
        return Some(format!(
            "line {line}: project {pid} is not a project of organization {}: take the project_id from the review's CSV",
            snap.organization
        ));
    };
    let DecisionKind::Reduce(to) = d.kind else {
        return None;
    };
    let current = snap.access(member, project).role;
    // Measured against the role the review showed (a file applied again finds its reductions
    // done), else against the role now.
    let Some(basis) = d.review_role.or(current) else {
        return Some(format!(
            "line {line}: REDUCE for {} on {} ({pid}): they have no access to it to reduce",
            d.email, project.name
        ));
    };
    match to {
        Some(t) if t.rank() >= basis.rank() => Some(format!(
            "line {line}: REDUCE:{t} for {} on {} ({pid}) is not a reduction: their role there is {basis}; name a lower role, or KEEP",
            d.email, project.name
        )),
        None if basis == ProjectRole::Consumer => Some(format!(
            "line {line}: REDUCE for {} on {} ({pid}): consumer is the lowest role; use REVOKE to remove the access",
            d.email, project.name
        )),
        _ => None,
    }
}

fn parse_rows(text: &str) -> (Vec<Decision>, Vec<String>) {
    let mut rd = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = match rd.headers() {
        Ok(h) => h.iter().map(|s| s.trim().to_string()).collect(),
        Err(e) => return (Vec::new(), vec![format!("line 1: not a CSV header: {e}")]),
    };
    let col = |name: &str| headers.iter().position(|h| h == name);
    let c_role = col("effective_role");
    let (Some(ce), Some(cp), Some(cd), Some(cr), Some(cj)) = (
        col("email"),
        col("project_id"),
        col("decision"),
        col("reviewer"),
        col("justification"),
    ) else {
        return (
            Vec::new(),
            vec![format!(
                "line 1: the header needs the review's columns ({}); start from the CSV `review --format csv` wrote",
                DECISION_COLUMNS.join(",")
            )],
        );
    };
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for (n, rec) in rd.records().enumerate() {
        let line = n + 2;
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                problems.push(format!("line {line}: {e}"));
                continue;
            }
        };
        let get = |i: usize| rec.get(i).unwrap_or("").trim().to_string();
        let decision = get(cd).to_ascii_uppercase();
        let kind = match decision.as_str() {
            "" | "KEEP" => DecisionKind::Keep,
            "REVOKE" => DecisionKind::Revoke,
            "REDUCE" => DecisionKind::Reduce(None),
            d if d.starts_with("REDUCE:") => {
                match d["REDUCE:".len()..].to_ascii_lowercase().parse() {
                    Ok(r) => DecisionKind::Reduce(Some(r)),
                    Err(e) => {
                        problems.push(format!("line {line}: decision {d}: {e}"));
                        continue;
                    }
                }
            }
            d => {
                problems.push(format!(
                    "line {line}: decision {d:?}: use KEEP, REDUCE, REDUCE:<role> or REVOKE"
                ));
                continue;
            }
        };
        if kind == DecisionKind::Keep {
            continue;
        }
        let email: Email = match get(ce).trim_start_matches('\'').parse() {
            Ok(e) => e,
            Err(e) => {
                problems.push(format!("line {line}: email: {e}"));
                continue;
            }
        };
        let project_id = match get(cp).as_str() {
            "" => None,
            p => match p.parse::<u64>() {
                Ok(id) => Some(ProjectId(id)),
                Err(_) => {
                    problems.push(format!("line {line}: project_id {p:?} is not a project id"));
                    continue;
                }
            },
        };
        if matches!(kind, DecisionKind::Reduce(_)) && project_id.is_none() {
            problems.push(format!(
                "line {line}: REDUCE needs a project row (to lower the organization role, change it in Terraform or the web app)"
            ));
            continue;
        }
        let reviewer = get(cr);
        if reviewer.is_empty() {
            problems.push(format!(
                "line {line}: {decision} for {email} has no reviewer: every change needs the name of who decided it"
            ));
            continue;
        }
        out.push(Decision {
            line,
            email,
            project_id,
            kind,
            reviewer,
            justification: get(cj),
            review_role: c_role.and_then(|c| get(c).parse().ok()),
        });
    }
    (out, problems)
}

/// What carrying out a decision takes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Remove the individual grant (an emulator-only route: manual on Mixpanel).
    RemoveGrant {
        email: Email,
        project: ProjectId,
        role: ProjectRole,
    },
    /// Set the individual grant to `to`.
    SetGrant {
        email: Email,
        project: ProjectId,
        from: ProjectRole,
        to: ProjectRole,
    },
    /// Remove the organization membership.
    RemoveMember { email: Email },
    /// Nothing to do through the API for this source: a person decides in the web app.
    Manual {
        email: Email,
        project: Option<ProjectId>,
        what: String,
    },
    /// Already as decided (verified in the snapshot).
    AlreadyDone {
        email: Email,
        project: Option<ProjectId>,
        what: String,
    },
}

/// The actions of one decision, over the snapshot.
pub fn actions(snap: &Snapshot, d: &Decision) -> Vec<Action> {
    let email = d.email.clone();
    let Some(member) = snap.member(email.as_str()) else {
        return vec![Action::AlreadyDone {
            email,
            project: d.project_id,
            what: "not a member of the organization".into(),
        }];
    };
    let Some(pid) = d.project_id else {
        return vec![Action::RemoveMember { email }];
    };
    let Some(project) = snap.projects.iter().find(|p| p.id == pid) else {
        return vec![Action::AlreadyDone {
            email,
            project: Some(pid),
            what: format!("project {pid} no longer exists"),
        }];
    };
    let individual = snap.grants.get(&pid).and_then(|g| {
        g.users
            .iter()
            .find(|u| u.email == email && u.target_type == TargetType::Individual)
            .map(|u| u.role)
    });
    let access = snap.access(member, project);
    let target = match d.kind {
        DecisionKind::Keep => return Vec::new(),
        DecisionKind::Revoke => None,
        DecisionKind::Reduce(_) => d.reduce_target(access.role.unwrap_or(ProjectRole::Consumer)),
    };
    let too_strong = |r: ProjectRole| match target {
        None => true,
        Some(t) => r.rank() > t.rank(),
    };
    let mut out = Vec::new();
    match (individual, target) {
        (Some(r), None) => out.push(Action::RemoveGrant {
            email: email.clone(),
            project: pid,
            role: r,
        }),
        (Some(r), Some(t)) if r.rank() > t.rank() => out.push(Action::SetGrant {
            email: email.clone(),
            project: pid,
            from: r,
            to: t,
        }),
        _ => {}
    }
    for s in access
        .sources
        .iter()
        .filter(|s| s.source != GrantSource::Individual)
    {
        if too_strong(s.role) {
            let how = match &s.source {
                GrantSource::Team { name, .. } => format!(
                    "through team {name} ({}): remove the seat or the team's grant on {} (Organization Settings → Teams → {name}); that reaches every member of the team or every project of the team",
                    s.role, project.name
                ),
                GrantSource::OrganizationRole => format!(
                    "through the organization role ({}): only a lower organization role removes it (Organization Settings → Users & Seats)",
                    s.role
                ),
                GrantSource::AllUsers => format!(
                    "through \"all users in the organization\" ({}) on {}: Project Settings → Access",
                    s.role, project.name
                ),
                GrantSource::Individual => continue,
            };
            out.push(Action::Manual {
                email: email.clone(),
                project: Some(pid),
                what: how,
            });
        }
    }
    if out.is_empty() {
        out.push(Action::AlreadyDone {
            email,
            project: Some(pid),
            what: format!(
                "access to {} is already {}",
                project.name,
                access
                    .role
                    .map(|r| r.to_string())
                    .unwrap_or_else(|| "none".into())
            ),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::governance::report::to_csv;
    use crate::governance::tests::snapshot;
    use crate::governance::{review, Policy};

    fn fill(csv: &str, email: &str, decision: &str, reviewer: &str) -> String {
        let mut lines: Vec<String> = csv.lines().map(String::from).collect();
        for l in lines.iter_mut().skip(1) {
            if l.starts_with(email) {
                // decision, reviewer, justification are the last three (empty) columns.
                let base = l.trim_end_matches(",,,").to_string();
                *l = format!("{base},{decision},{reviewer},quarterly review");
            }
        }
        lines.join("\n") + "\n"
    }

    #[test]
    fn decisions_parse_from_the_review_csv_and_plan_actions() {
        let s = snapshot();
        let csv = to_csv(&review(&s, &Policy::default())).unwrap();
        let filled = fill(&csv, "cy@acme.example", "REVOKE", "rita");
        let filled = fill(&filled, "di@acme.example", "REDUCE:consumer", "rita");
        let d = parse_decisions(&filled).unwrap();
        assert_eq!(d.len(), 2, "{d:?}");
        let cy = d
            .iter()
            .find(|x| x.email.as_str() == "cy@acme.example")
            .unwrap();
        assert_eq!(cy.kind, DecisionKind::Revoke);
        assert_eq!(
            actions(&s, cy),
            [Action::RemoveGrant {
                email: cy.email.clone(),
                project: ProjectId(10),
                role: ProjectRole::Analyst
            }]
        );
        // Di is an admin through the organization role and a consumer through the team:
        // no individual grant to lower, the organization role is a manual action.
        let di = d
            .iter()
            .find(|x| x.email.as_str() == "di@acme.example")
            .unwrap();
        let a = actions(&s, di);
        assert_eq!(a.len(), 1, "{a:?}");
        assert!(matches!(&a[0], Action::Manual { what, .. } if what.contains("organization role")));
    }

    #[test]
    fn the_documented_example_parses() {
        let d = parse_decisions(include_str!(
            "../../../examples/governance/decisions.example.csv"
        ))
        .unwrap();
        let kinds: Vec<DecisionKind> = d.iter().map(|x| x.kind).collect();
        assert_eq!(
            kinds,
            [
                DecisionKind::Revoke,
                DecisionKind::Reduce(Some(ProjectRole::Analyst))
            ]
        );
    }

    #[test]
    fn validation_lists_every_bad_row_against_the_snapshot() {
        let s = snapshot();
        let csv = to_csv(&review(&s, &Policy::default())).unwrap();
        let mut text = fill(&csv, "cy@acme.example", "REVOKE", "rita");
        // A typo in the address, an unknown project, a REDUCE upwards, no reviewer, a bad word.
        text.push_str("cyy@acme.example,member,active,,,,,10,Web,analyst,,,REVOKE,rita,typo\n");
        text.push_str("cy@acme.example,member,active,,,,,999,Gone,analyst,,,REVOKE,rita,x\n");
        text.push_str("cy@acme.example,member,active,,,,,10,Web,analyst,,,REDUCE:admin,rita,x\n");
        text.push_str("cy@acme.example,member,active,,,,,10,Web,analyst,,,REDUCE:analyst,rita,x\n");
        text.push_str("cy@acme.example,member,active,,,,,10,Web,analyst,,,REVOKE,,x\n");
        text.push_str("cy@acme.example,member,active,,,,,10,Web,analyst,,,DROP,rita,x\n");
        let errs = validate_decisions(&s, &text).unwrap_err();
        assert_eq!(errs.len(), 6, "{errs:#?}");
        assert!(
            errs[0].contains("cyy@acme.example is not a member"),
            "{errs:#?}"
        );
        assert!(
            errs[1].contains("project 999 is not a project"),
            "{errs:#?}"
        );
        assert!(errs[2].contains("REDUCE:admin") && errs[2].contains("not a reduction"));
        assert!(errs[3].contains("REDUCE:analyst") && errs[3].contains("not a reduction"));
        assert!(errs[4].contains("no reviewer"));
        assert!(errs[5].contains("use KEEP, REDUCE"));
        // The lines are the file's lines, in order.
        let lines: Vec<usize> = errs.iter().map(|e| line_of(e)).collect();
        let mut sorted = lines.clone();
        sorted.sort();
        assert_eq!(lines, sorted);
        // The good rows alone pass.
        assert_eq!(
            validate_decisions(&s, &fill(&csv, "cy@acme.example", "REVOKE", "rita"))
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn bad_rows_are_reported_with_their_lines() {
        let s = snapshot();
        let csv = to_csv(&review(&s, &Policy::default())).unwrap();
        let filled = fill(&csv, "cy@acme.example", "REVOKE", "");
        let filled = fill(&filled, "bo@acme.example", "DELETE", "rita");
        let errs = parse_decisions(&filled).unwrap_err();
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(errs.iter().any(|e| e.contains("no reviewer")));
        assert!(errs.iter().any(|e| e.contains("use KEEP, REDUCE")));
        assert!(parse_decisions("a,b\n1,2\n").unwrap_err()[0].contains("header"));
    }
}
