//! `mixpanel-rotator review apply`: the REVOKE and REDUCE decisions of a filled-in review,
//! each verified by a read, with an evidence folder.

use std::path::Path;

use chrono::Utc;

use crate::app::{connect_api, connect_store, out, out_line, snapshot};
use crate::config::Config;
use crate::error::{Result, RotatorError};
use crate::evidence::{evidence_folder, require_approval, validate_ticket, RunLog};

/// The outcome of one action of `review apply`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Applied {
    pub line: usize,
    pub reviewer: String,
    pub justification: String,
    #[serde(flatten)]
    pub action: mixpanel_access::governance::decisions::Action,
    /// planned, done, manual, failed, already_done.
    pub result: String,
    pub detail: String,
}

/// `review apply DECISIONS.csv --ticket ID [--execute]`.
pub async fn apply_cmd(
    config: Config,
    file: &Path,
    ticket: &str,
    execute: bool,
    approved_by: Option<String>,
) -> Result<()> {
    use mixpanel_access::governance::decisions::{actions, validate_decisions, Action};
    use mixpanel_access::model::TargetType;
    validate_ticket(ticket)?;
    let approved_by = require_approval(execute, approved_by.as_deref())?;
    let text = std::fs::read_to_string(file)
        .map_err(|e| RotatorError::io(format!("cannot read {}", file.display()), e))?;
    let store = connect_store(&config).await?;
    let api = connect_api(&config).await?;
    let snap = snapshot(&config, &store, &api).await?;
    // Every row checked against the organization before anything changes.
    let decisions = validate_decisions(&snap, &text).map_err(|problems| {
        RotatorError::Invalid(format!(
            "{}: {} problem(s), nothing was applied:\n  {}",
            file.display(),
            problems.len(),
            problems.join("\n  ")
        ))
    })?;
    let mut applied = Vec::new();
    for d in &decisions {
        for a in actions(&snap, d) {
            let (result, detail) = match &a {
                Action::Manual { what, .. } => ("manual", what.clone()),
                Action::AlreadyDone { what, .. } => ("already_done", what.clone()),
                _ => ("planned", String::new()),
            };
            applied.push(Applied {
                line: d.line,
                reviewer: d.reviewer.clone(),
                justification: d.justification.clone(),
                action: a,
                result: result.into(),
                detail,
            });
        }
    }
    let individual = |grants: &[mixpanel_access::model::UserGrant],
                      email: &mixpanel_access::model::Email| {
        grants
            .iter()
            .find(|g| g.email == *email && g.target_type == TargetType::Individual)
            .map(|g| g.role)
    };
    let mut log = if execute {
        Some(RunLog::begin(&store, ticket, "review_apply", approved_by).await?)
    } else {
        None
    };
    if execute {
        for a in applied.iter_mut().filter(|a| a.result == "planned") {
            let outcome: std::result::Result<String, (String, String)> = match &a.action {
                Action::RemoveGrant { email, project, .. } => {
                    let call = api
                        .remove_users_from_projects(
                            api.org(),
                            std::slice::from_ref(email),
                            &[*project],
                        )
                        .await;
                    let grants = api.granted_users(*project).await?;
                    match individual(&grants, email) {
                        None => Ok("individual grant removed (verified by granted-users)".into()),
                        Some(r) => Err((
                            "manual".into(),
                            format!(
                                "still granted {r} after the call ({}); remove it by hand: Organization Settings → Users & Seats → {email} → project {project} → \"No Access\"",
                                call.err().map(|e| e.to_string()).unwrap_or_else(|| "the API answered success".into())
                            ),
                        )),
                    }
                }
                Action::SetGrant {
                    email, project, to, ..
                } => {
                    let call = api
                        .add_users_to_projects(
                            api.org(),
                            std::slice::from_ref(email),
                            &[*project],
                            *to,
                        )
                        .await;
                    let grants = api.granted_users(*project).await?;
                    match individual(&grants, email) {
                        Some(r) if r == *to => Ok(format!(
                            "individual grant set to {to} (verified by granted-users)"
                        )),
                        other => Err((
                            "failed".into(),
                            format!(
                                "the individual grant is {} after the call ({})",
                                other
                                    .map(|r| r.to_string())
                                    .unwrap_or_else(|| "gone".into()),
                                call.err()
                                    .map(|e| e.to_string())
                                    .unwrap_or_else(|| "the API answered success".into())
                            ),
                        )),
                    }
                }
                Action::RemoveMember { email } => {
                    let call = api
                        .remove_org_users(api.org(), std::slice::from_ref(email))
                        .await;
                    let still = api
                        .list_org_users()
                        .await?
                        .iter()
                        .any(|m| m.email == *email);
                    if still {
                        Err((
                            "failed".into(),
                            format!(
                                "still a member after the call ({})",
                                call.err()
                                    .map(|e| e.to_string())
                                    .unwrap_or_else(|| "the API answered success".into())
                            ),
                        ))
                    } else {
                        Ok("removed from the organization (verified by the member list)".into())
                    }
                }
                Action::Manual { .. } | Action::AlreadyDone { .. } => continue,
            };
            match outcome {
                Ok(d) => {
                    a.result = "done".into();
                    a.detail = d;
                }
                Err((r, d)) => {
                    a.result = r;
                    a.detail = d;
                }
            }
        }
    }
    // The table.
    let rows: Vec<Vec<String>> = applied
        .iter()
        .map(|a| {
            vec![
                a.line.to_string(),
                serde_json::to_value(&a.action)
                    .ok()
                    .and_then(|v| v["action"].as_str().map(String::from))
                    .unwrap_or_default(),
                describe_action(&a.action),
                a.result.clone(),
                crate::table::cell(&a.detail, 100),
            ]
        })
        .collect();
    out(&crate::table::render(
        &["LINE", "ACTION", "WHO / WHERE", "RESULT", "DETAIL"],
        &rows,
    ));
    let Some(log) = log.as_mut() else {
        out_line("dry run: nothing was changed; run again with --execute to apply the decisions");
        return Ok(());
    };
    // Evidence: this run's files in runs/<n>/, anchored in the ticket's Vault journal.
    let dir = evidence_folder(&config, ticket)?;
    std::fs::create_dir_all(&dir)
        .map_err(|e| RotatorError::io(format!("cannot create {}", dir.display()), e))?;
    let open = applied
        .iter()
        .filter(|a| a.result == "manual" || a.result == "failed")
        .count();
    let outcome = if open == 0 {
        "complete: every action carried out and verified by a read".to_string()
    } else {
        format!("{open} action(s) manual or failed")
    };
    // The decisions file as evidence, with every cell a spreadsheet would run neutralised.
    let decisions_copy = mixpanel_access::csv_cells::neutralise(&text)
        .map_err(|e| RotatorError::io("cannot copy the decisions file", e))?;
    let me = log.current().clone();
    let applied_json = serde_json::to_string_pretty(&serde_json::json!({
        "ticket": ticket,
        "run": me,
        "applied_at": Utc::now(),
        "organization": api.org(),
        "actions": applied,
    }))
    .map_err(|e| RotatorError::io("", e))?;
    let mut md = format!(
        "# Access review decisions applied ({ticket})\n\nRun {} of the ticket, by {} (Vault: {}), approved by {}; applied {} from {}. Outcome: {outcome}.\n\n## Runs\n\n{}\n## Actions\n\n| Line | Action | Result | Reviewer | Justification | Detail |\n|---|---|---|---|---|---|\n",
        me.n,
        me.os_user,
        me.vault_identity,
        me.approved_by.as_deref().unwrap_or("-"),
        crate::evidence::stamp(Utc::now()),
        file.display(),
        log.markdown(),
    );
    for a in &applied {
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            a.line,
            describe_action(&a.action).replace('|', "\\|"),
            a.result,
            a.reviewer.replace('|', "\\|"),
            a.justification.replace('|', "\\|"),
            a.detail.replace('|', "\\|")
        ));
    }
    let digest = log
        .finish(
            &dir,
            &[
                ("decisions.csv", decisions_copy.into_bytes()),
                ("applied.json", applied_json.into_bytes()),
                ("summary.md", md.into_bytes()),
            ],
            &outcome,
        )
        .await?;
    out_line(&format!("evidence: {}", dir.display()));
    out_line(&format!(
        "evidence digest (SHA-256 of SHA256SUMS, recorded in the Vault journal of {ticket} as run {}): {digest}",
        me.n
    ));
    let failed = applied.iter().filter(|a| a.result == "failed").count();
    let message = format!(
        "{open} decision action(s) were not carried out through the API ({} manual, {failed} failed): see {}/summary.md",
        open - failed,
        dir.display()
    );
    if failed > 0 {
        // An action that was tried and could not be carried out: exit 2.
        return Err(RotatorError::Invalid(message));
    }
    if open > 0 {
        // It ran to the end; what is left is for a person in the web app: exit 1.
        return Err(RotatorError::Attention(message));
    }
    Ok(())
}

fn describe_action(a: &mixpanel_access::governance::decisions::Action) -> String {
    use mixpanel_access::governance::decisions::Action;
    let p = |p: &Option<mixpanel_access::model::ProjectId>| {
        p.map(|p| format!(" on project {p}")).unwrap_or_default()
    };
    match a {
        Action::RemoveGrant {
            email,
            project,
            role,
        } => {
            format!("remove {email}'s individual {role} grant on project {project}")
        }
        Action::SetGrant {
            email,
            project,
            from,
            to,
        } => {
            format!("lower {email}'s individual grant on project {project} from {from} to {to}")
        }
        Action::RemoveMember { email } => format!("remove {email} from the organization"),
        Action::Manual { email, project, .. } => format!("{email}{}", p(project)),
        Action::AlreadyDone { email, project, .. } => format!("{email}{}", p(project)),
    }
}
