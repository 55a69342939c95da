//! Time-limited access: making a grant (verified by a read), ending it (verified by a read),
//! and the daemon's leader ending every grant whose time is up. The records live in Vault at
//! `state/_governance/grants` ([`GrantBook`], check-and-set); each grant and each revocation is
//! a run in the ticket's evidence folder (see [`crate::evidence`]).
//!
//! Mixpanel has no route to remove one individual project grant or one team seat: against it
//! (or the emulator hiding its own routes) a revocation is recorded as `revoke_manual` with
//! where to do it in the web app, reported as such and counted as overdue, never as done.
//!
//! Who writes the book ([`Writer`]): `access grant` / `access revoke` write it with
//! check-and-set only; the daemon's leader writes it as it writes a rotation journal, with
//! check-and-set under its term's fencing token (Vault refuses the write unless the live lease
//! carries it), and asks Vault whether it still leads before it removes a grant in Mixpanel. A
//! leader deposed in the middle of a pass writes nothing; the next leader's pass finds the grant
//! still `active` and expired, sees through the API that it is no longer held, and records it.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use mixpanel_access::governance::grants::{Grant, GrantBook, GrantStatus, TimedGrant};
use mixpanel_access::model::{Email, TargetType, TeamId};
use mixpanel_access::vault::{VaultError, VaultStore};

use crate::api::Mixpanel;
use crate::cmd::offboard::{is_missing_route, route_error};
use crate::config::Config;
use crate::election::Leadership;
use crate::error::{Result, RotatorError};
use crate::evidence::{evidence_folder, RunLog};
use crate::metrics::Metrics;

fn book_name() -> String {
    format!("{}/grants", crate::inventory::GOVERNANCE_SEGMENT)
}

/// The grant book and its version (0: none yet).
pub async fn load(store: &VaultStore) -> Result<(GrantBook, u64)> {
    Ok(store
        .read_state_document::<GrantBook>(&book_name())
        .await?
        .unwrap_or_default())
}

/// Who writes the grant book.
#[derive(Clone, Copy)]
pub enum Writer<'a> {
    /// A one-shot command (`access grant`, `access revoke`): check-and-set.
    Command,
    /// The daemon's leader: check-and-set under the term's fencing token.
    Leader(&'a Leadership),
}

/// Saves the book with check-and-set, and for the leader under its fencing token: a deposed
/// leader's write fails with [`RotatorError::Interrupted`], nothing written.
pub async fn save(
    store: &VaultStore,
    book: &GrantBook,
    version: u64,
    writer: Writer<'_>,
) -> Result<u64> {
    match writer {
        Writer::Command => {
            crate::evidence::save_state(store, &book_name(), book, version, || {
                "the grant book in Vault changed under this command (another grant or the daemon's revocation): run it again".into()
            })
            .await
        }
        Writer::Leader(lead) => {
            lead.check()?;
            crate::crash::pause("grant_book_write").await;
            lead.check()?;
            match store
                .write_state_document(&book_name(), book, version, lead.fencing())
                .await
            {
                Ok(v) => Ok(v),
                Err(e @ VaultError::LostLeadership { .. }) => {
                    lead.end();
                    Err(RotatorError::Interrupted(format!(
                        "the grant book was not written: {e}; the next leader records the revocation"
                    )))
                }
                Err(e) if e.is_cas_mismatch() => Err(RotatorError::Interrupted(
                    "the grant book changed during the pass (a command wrote it); the next pass reads it again".into(),
                )),
                Err(e) => Err(e.into()),
            }
        }
    }
}

/// Whether Mixpanel shows the grant held.
pub async fn held(api: &Mixpanel, email: &Email, grant: &Grant) -> Result<bool> {
    Ok(match grant {
        Grant::ProjectRole { project, role } => {
            api.granted_users(*project).await?.iter().any(|u| {
                u.email == *email && u.target_type == TargetType::Individual && u.role == *role
            })
        }
        Grant::TeamSeat { team_id, .. } => api
            .list_teams()
            .await?
            .iter()
            .any(|t| t.id.0 == *team_id && t.members.contains(email)),
    })
}

/// Whether Mixpanel shows any of the grant's access left (a seat, or an individual grant of
/// any role on the project).
async fn any_left(api: &Mixpanel, email: &Email, grant: &Grant) -> Result<bool> {
    Ok(match grant {
        Grant::ProjectRole { project, .. } => api
            .granted_users(*project)
            .await?
            .iter()
            .any(|u| u.email == *email && u.target_type == TargetType::Individual),
        Grant::TeamSeat { .. } => held(api, email, grant).await?,
    })
}

/// Gives the access and checks by a read that Mixpanel holds it.
pub async fn give(api: &Mixpanel, email: &Email, grant: &Grant) -> Result<()> {
    let call = match grant {
        Grant::ProjectRole { project, role } => {
            api.add_users_to_projects(api.org(), std::slice::from_ref(email), &[*project], *role)
                .await
        }
        Grant::TeamSeat { team_id, .. } => {
            api.add_users_to_team(api.org(), TeamId(*team_id), std::slice::from_ref(email))
                .await
        }
    };
    if held(api, email, grant).await? {
        return Ok(());
    }
    Err(RotatorError::Invalid(format!(
        "the grant is not held after the call ({}): nothing was recorded",
        route_error(call.err())
    )))
}

/// How one revocation ended.
pub enum Ended {
    /// Gone, verified by a read.
    Revoked(String),
    /// No route: a person must do it.
    Manual(String),
    /// Still held after an error that may pass: try again later.
    Retry(String),
}

/// Ends the access and reads back.
pub async fn take_back(api: &Mixpanel, g: &TimedGrant) -> Result<Ended> {
    if !any_left(api, &g.email, &g.grant).await? {
        return Ok(Ended::Revoked(format!(
            "{} no longer held (verified by a read)",
            g.describe()
        )));
    }
    let call = match &g.grant {
        Grant::ProjectRole { project, .. } => {
            api.remove_users_from_projects(api.org(), std::slice::from_ref(&g.email), &[*project])
                .await
        }
        Grant::TeamSeat { team_id, .. } => {
            api.remove_users_from_team(api.org(), TeamId(*team_id), std::slice::from_ref(&g.email))
                .await
        }
    };
    if !any_left(api, &g.email, &g.grant).await? {
        return Ok(Ended::Revoked(format!(
            "{} revoked (verified by a read)",
            g.describe()
        )));
    }
    Ok(match call {
        Err(e) if is_missing_route(&e) => Ended::Manual(format!(
            "still held: the API has no route to remove it ({e}); do it by hand: {}",
            g.by_hand()
        )),
        other => Ended::Retry(format!(
            "still held after the call ({}); retrying",
            route_error(other.err())
        )),
    })
}

/// Records how a revocation ended in the book and in the ticket's evidence folder.
pub async fn record_end(
    config: &Config,
    store: &VaultStore,
    id: &str,
    ended: &Ended,
    command: &str,
    approved_by: Option<String>,
    writer: Writer<'_>,
) -> Result<TimedGrant> {
    let (mut book, version) = load(store).await?;
    let g = book
        .get_mut(id)
        .ok_or_else(|| RotatorError::Invalid(format!("no time-limited grant {id}")))?;
    let now = Utc::now();
    match ended {
        Ended::Revoked(d) => {
            g.status = GrantStatus::Revoked;
            g.ended_at = Some(now);
            g.detail = d.clone();
        }
        Ended::Manual(d) => {
            g.status = GrantStatus::RevokeManual;
            g.detail = d.clone();
        }
        Ended::Retry(d) => {
            g.attempts += 1;
            g.detail = d.clone();
        }
    }
    let g = g.clone();
    save(store, &book, version, writer).await?;
    if !matches!(ended, Ended::Retry(_)) {
        write_evidence(config, store, &g, command, approved_by).await?;
    }
    Ok(g)
}

/// A run in the ticket's evidence folder: the grant as recorded now and a summary.
pub async fn write_evidence(
    config: &Config,
    store: &VaultStore,
    g: &TimedGrant,
    command: &str,
    approved_by: Option<String>,
) -> Result<String> {
    let dir = evidence_folder(config, &g.ticket)?;
    std::fs::create_dir_all(&dir)
        .map_err(|e| RotatorError::io(format!("cannot create {}", dir.display()), e))?;
    let mut log = RunLog::begin(store, &g.ticket, command, approved_by).await?;
    let me = log.current().clone();
    let stamp = crate::evidence::stamp;
    let summary = format!(
        "# Time-limited grant {} ({})\n\n{}, granted {} by {}, until {}; reason: {}.\n\nStatus: **{}**{}. {}\n\nThis is run {} of the ticket ({command}), by {} (Vault: {}).\n\n## Runs\n\n{}",
        g.id,
        g.ticket,
        g.describe(),
        stamp(g.granted_at),
        g.granted_by,
        stamp(g.expires_at),
        g.reason,
        g.status.as_str(),
        g.ended_at.map(|t| format!(" at {}", stamp(t))).unwrap_or_default(),
        g.detail,
        me.n,
        me.os_user,
        me.vault_identity,
        log.markdown(),
    );
    let json = serde_json::to_string_pretty(g).map_err(|e| RotatorError::io("", e))?;
    let outcome = format!("{} {}", g.id, g.status.as_str());
    log.finish(
        &dir,
        &[
            ("grant.json", json.into_bytes()),
            ("summary.md", summary.into_bytes()),
        ],
        &outcome,
    )
    .await
}

/// One pass of the leader of the term `lead`: ends every active grant whose time is up;
/// returns how many are overdue afterwards (expired and not revoked). Before each removal in
/// Mixpanel it asks Vault whether the term still holds the lease; each book write carries the
/// term's fencing token.
pub async fn revoke_expired(
    config: &Config,
    store: &VaultStore,
    api: &Mixpanel,
    lead: &Leadership,
) -> Result<u64> {
    let (book, _) = load(store).await?;
    let now: DateTime<Utc> = Utc::now();
    for id in book.to_revoke(now) {
        let Some(g) = book.grants.iter().find(|g| g.id == id) else {
            continue;
        };
        lead.verify().await?;
        let ended = match take_back(api, g).await {
            Ok(e) => e,
            Err(e) => Ended::Retry(format!("the revocation failed: {e}; retrying")),
        };
        let g = record_end(
            config,
            store,
            &id,
            &ended,
            "access_expire",
            None,
            Writer::Leader(lead),
        )
        .await?;
        match ended {
            Ended::Revoked(_) => {
                tracing::info!(grant = %g.id, ticket = %g.ticket, "time-limited grant revoked at its expiry (verified)")
            }
            Ended::Manual(d) => {
                tracing::warn!(grant = %g.id, ticket = %g.ticket, detail = %d, "time-limited grant expired and cannot be revoked through the API: manual step")
            }
            Ended::Retry(d) => {
                tracing::warn!(grant = %g.id, attempts = g.attempts, detail = %d, "time-limited grant not revoked yet")
            }
        }
    }
    let (book, _) = load(store).await?;
    Ok(book.overdue(Utc::now()).len() as u64)
}

/// The daemon's hook: while this replica leads (a term in `leader`, the elector's
/// [`subscribe`](crate::election::Elector::subscribe)), [`revoke_expired`] under that term
/// every `interval`, and the overdue count goes to `/metrics`.
pub async fn revoke_schedule(
    config: Config,
    store: VaultStore,
    api: Mixpanel,
    metrics: Arc<Metrics>,
    leader: tokio::sync::watch::Receiver<Option<Leadership>>,
    shutdown: tokio_util::sync::CancellationToken,
) {
    let interval = config.governance.grant_check_interval;
    loop {
        let term = leader.borrow().clone().filter(|l| !l.is_over());
        if let Some(lead) = term {
            match revoke_expired(&config, &store, &api, &lead).await {
                Ok(n) => metrics.set_grants_overdue(n),
                Err(e) if e.is_interrupted() => {
                    tracing::warn!(error = %e, "time-limited grants: the pass stopped, this replica no longer leads; nothing more was written")
                }
                Err(e) => {
                    tracing::warn!(error = %e, "time-limited grants: the pass failed; retrying later")
                }
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(interval.max(Duration::from_millis(200))) => {}
        }
    }
}
