//! `mixpanel-rotator access grant|list|revoke`: time-limited access (see [`crate::grants`]).

use std::time::Duration;

use chrono::Utc;
use mixpanel_access::governance::grants::{Grant, GrantStatus, TimedGrant};
use mixpanel_access::model::{Email, ProjectId, ProjectRole};

use crate::app::{connect_api, connect_store, out, out_line};
use crate::config::Config;
use crate::error::{Result, RotatorError};
use crate::evidence::{os_user, stamp, validate_ticket};
use crate::grants::{self, Ended};

/// Options of `access grant`.
#[derive(Debug, Clone)]
pub struct GrantArgs {
    pub email: String,
    pub project: Option<u64>,
    pub role: Option<String>,
    pub team: Option<String>,
    pub duration: Duration,
    pub ticket: String,
    pub reason: String,
}

/// `access grant`.
pub async fn grant(config: Config, args: GrantArgs) -> Result<()> {
    validate_ticket(&args.ticket)?;
    let email: Email = args
        .email
        .parse()
        .map_err(|e| RotatorError::Invalid(format!("EMAIL: {e}")))?;
    if args.duration.is_zero() {
        return Err(RotatorError::Invalid(
            "--for: give a duration above zero (2w, 14d, 36h)".into(),
        ));
    }
    if args.reason.trim().is_empty() {
        return Err(RotatorError::Invalid(
            "--reason: say why the access is needed".into(),
        ));
    }
    let store = connect_store(&config).await?;
    let api = connect_api(&config).await?;
    let what = match (&args.project, &args.team) {
        (Some(p), _) => {
            let role: ProjectRole = args
                .role
                .as_deref()
                .unwrap_or("")
                .parse()
                .map_err(|e| RotatorError::Invalid(format!("--role: {e}")))?;
            let project = ProjectId(*p);
            if !api.list_projects().await?.contains(&project) {
                return Err(RotatorError::Invalid(format!(
                    "--project {p}: no such project in organization {}",
                    api.org()
                )));
            }
            Grant::ProjectRole { project, role }
        }
        (None, Some(name)) => {
            let teams = api.list_teams().await?;
            let t = teams.iter().find(|t| t.name == *name).ok_or_else(|| {
                RotatorError::Invalid(format!(
                    "--team {name:?}: no such team; teams: {}",
                    teams
                        .iter()
                        .map(|t| t.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
            Grant::TeamSeat {
                team_id: t.id.0,
                team: t.name.clone(),
            }
        }
        (None, None) => {
            return Err(RotatorError::Invalid(
                "give --project ID --role ROLE, or --team NAME".into(),
            ))
        }
    };
    if !api.list_org_users().await?.iter().any(|m| m.email == email) {
        return Err(RotatorError::Invalid(format!(
            "{email} is not a member of the organization: invite them first (Terraform's mixpanel_organization_member)"
        )));
    }
    grants::give(&api, &email, &what).await?;
    let vault = store
        .token_identity()
        .await
        .unwrap_or_else(|e| format!("(could not look the token up: {e})"));
    let now = Utc::now();
    let (mut book, version) = grants::load(&store).await?;
    let g = TimedGrant {
        id: book.next_id(&args.ticket),
        email,
        grant: what,
        granted_at: now,
        expires_at: now
            + chrono::Duration::from_std(args.duration)
                .map_err(|_| RotatorError::Invalid("--for: too long".into()))?,
        ticket: args.ticket.clone(),
        reason: args.reason.clone(),
        granted_by: format!("{} (Vault: {vault})", os_user()),
        status: GrantStatus::Active,
        ended_at: None,
        detail: "granted (verified by a read)".into(),
        attempts: 0,
    };
    book.grants.push(g.clone());
    grants::save(&store, &book, version, grants::Writer::Command).await?;
    let digest = grants::write_evidence(&config, &store, &g, "access_grant", None).await?;
    out_line(&format!(
        "granted {} until {} (grant {}, verified by a read); the daemon's leader revokes it then. Evidence digest: {digest}",
        g.describe(),
        stamp(g.expires_at),
        g.id
    ));
    Ok(())
}

/// `access list`.
pub async fn list(config: Config, json: bool) -> Result<()> {
    let store = connect_store(&config).await?;
    let (book, _) = grants::load(&store).await?;
    let now = Utc::now();
    if json {
        let rows: Vec<serde_json::Value> = book
            .grants
            .iter()
            .map(|g| {
                let mut v = serde_json::to_value(g).unwrap_or_default();
                v["expired"] = serde_json::Value::Bool(g.expires_at <= now);
                v["overdue"] = serde_json::Value::Bool(g.overdue(now));
                v
            })
            .collect();
        out_line(&serde_json::to_string_pretty(&rows).map_err(|e| RotatorError::io("", e))?);
    } else {
        let rows: Vec<Vec<String>> = book
            .grants
            .iter()
            .map(|g| {
                vec![
                    g.id.clone(),
                    g.describe(),
                    stamp(g.expires_at),
                    match (g.status, g.expires_at <= now) {
                        (GrantStatus::Active, false) => "active".into(),
                        (GrantStatus::Active, true) => "expired, not revoked yet".into(),
                        (s, _) => s.as_str().into(),
                    },
                    crate::table::cell(&g.detail, 80),
                ]
            })
            .collect();
        out(&crate::table::render(
            &["ID", "GRANT", "EXPIRES", "STATUS", "DETAIL"],
            &rows,
        ));
    }
    Ok(())
}

/// `access revoke ID`: ends a grant now, verified by a read; where the API has no route, a
/// manual step with the web app's place and a non-zero exit.
pub async fn revoke(config: Config, id: &str, reason: Option<String>) -> Result<()> {
    let store = connect_store(&config).await?;
    let api = connect_api(&config).await?;
    let (book, _) = grants::load(&store).await?;
    let g = book.grants.iter().find(|g| g.id == id).ok_or_else(|| {
        RotatorError::Invalid(format!("no time-limited grant {id}: see `access list`"))
    })?;
    if g.status == GrantStatus::Revoked {
        out_line(&format!("{id} was revoked already ({})", g.detail));
        return Ok(());
    }
    let mut ended = grants::take_back(&api, g).await?;
    if let (Ended::Revoked(d), Some(r)) = (&mut ended, &reason) {
        d.push_str(&format!("; ended early: {r}"));
    }
    let g = grants::record_end(
        &config,
        &store,
        id,
        &ended,
        "access_revoke",
        None,
        grants::Writer::Command,
    )
    .await?;
    match ended {
        Ended::Revoked(d) => {
            out_line(&format!("{id}: {d}"));
            Ok(())
        }
        Ended::Manual(d) | Ended::Retry(d) => Err(RotatorError::Invalid(format!(
            "{id} ({}) is not revoked: {d}",
            g.describe()
        ))),
    }
}
