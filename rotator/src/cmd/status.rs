//! `mixpanel-rotator status`: the leader, the inventory's statuses and open rotations.

use std::collections::{BTreeMap, BTreeSet};

use mixpanel_access::api::ApiError;
use mixpanel_access::inventory::{CredentialKind, CredentialStatus};
use mixpanel_access::model::ServiceAccountId;
use mixpanel_access::vault::Phase;

use crate::app::{connect_api, connect_store, out, out_line};
use crate::config::Config;
use crate::error::{Result, RotatorError};
use crate::inventory;
use crate::table;

/// One row of `status`.
#[derive(Debug, serde::Serialize)]
struct StatusRow {
    name: String,
    kind: String,
    status: String,
    health: String,
    phase: String,
    rotation_id: Option<String>,
    attempts: Option<u32>,
    next_rotation: Option<String>,
    attention: bool,
    /// The whole note, never cut.
    note: String,
    /// For a rotation in needs_human: what to do by hand.
    #[serde(skip_serializing_if = "Option::is_none")]
    what_to_do: Option<String>,
}

/// What a person does by hand for a rotation of `name` stopped in `needs_human` with `error`.
pub fn needs_human_hint(name: &str, error: &str) -> String {
    let resume = format!("then resume it: `mixpanel-rotator rotate {name} --retry`");
    if error.contains("access differs") {
        format!("compare the old and the new account's project roles in Mixpanel (Organization settings > Service accounts) and make them equal, or delete the new account if the old one's access was wrong; {resume}")
    } else if error.contains("cannot be listed with its own credential") {
        format!("check that the old account still exists and its secret in Vault works (`mixpanel-rotator status {name}`); if it is gone, remove the entry (`inventory remove {name} --force`) and register the credential again; otherwise {resume}")
    } else if error.contains("HTTP 403")
        || error.contains("needs ") && error.contains("service account")
    {
        format!("give the rotator's own service account the role the note names (an organization admin or owner), or make the change in Mixpanel's web app; {resume}")
    } else if error.contains("HTTP 4") || error.contains("refused") {
        format!("Mixpanel refused the same request every time: fix what the note names (the entry's projects, role or account); {resume}")
    } else {
        format!("fix the cause the note names; {resume}")
    }
}

pub async fn status(config: Config, names: &[String], all: bool, json: bool) -> Result<()> {
    let store = connect_store(&config).await?;
    let leader = crate::election::leader(&store).await?;
    let leader_line = match &leader {
        Some((holder, token)) => format!("leader: {holder} (fencing token {token})"),
        None => "leader: none (no replica holds the lease)".to_string(),
    };
    let mut records = inventory::load(&store).await?;
    if !names.is_empty() {
        for n in names {
            if !records.iter().any(|r| &r.name == n) {
                return Err(RotatorError::UnknownCredential(n.clone()));
            }
        }
        records.retain(|r| names.contains(&r.name));
    }
    let all = all || !names.is_empty();
    // Why stored secrets cannot be checked in this run, if they cannot.
    let mut unreachable: Option<String> = None;
    // What keeps this run from checking anything at all (exit 2 when nothing was checked).
    let mut blocked: Option<String> = None;
    // Whether Mixpanel refused the rotator's own credential (exit 2 whatever was checked).
    let mut unauthorized = false;
    let api = match config.client_config() {
        Ok(_) => match connect_api(&config).await {
            Ok(a) => Some(a),
            Err(e) => {
                unauthorized = matches!(e, RotatorError::Api(ApiError::Unauthorized { .. }));
                eprintln!("warning: cannot reach Mixpanel ({e}): stored secrets are not checked");
                unreachable = Some(format!("not checked: cannot reach Mixpanel ({e})"));
                blocked = Some(format!("cannot reach Mixpanel ({e})"));
                None
            }
        },
        Err(e) => {
            blocked = Some(format!("no Mixpanel credentials to check with ({e})"));
            None
        }
    };
    let max_age = config.rotation.health_check_interval;
    // The live accounts Mixpanel lists now (one request): a cached "ok" for an account deleted
    // out of band, or expired, is checked again.
    let accounts: Option<BTreeSet<ServiceAccountId>> = match &api {
        Some(a) => match a.list_service_accounts().await {
            // An account past its `expires` is still listed but refuses its secret: it is
            // left out, so that no cached "ok" vouches for it.
            Ok(list) => {
                let now = chrono::Utc::now();
                Some(
                    list.into_iter()
                        .filter(|s| s.expires.is_none_or(|at| at > now))
                        .map(|s| s.id)
                        .collect(),
                )
            }
            Err(e) => {
                eprintln!("warning: cannot list Mixpanel's service accounts ({e}): cached secret checks are not trusted");
                blocked = Some(match &e {
                    // The rotator's own credential refused: it can rotate nothing, whatever
                    // the stored secrets say.
                    ApiError::Unauthorized { .. } => {
                        unauthorized = true;
                        format!("Mixpanel refuses the rotator's own service account ({e}): fix MIXPANEL_SERVICE_ACCOUNT_USERNAME / MIXPANEL_SERVICE_ACCOUNT_SECRET")
                    }
                    _ => format!("cannot list Mixpanel's service accounts ({e})"),
                });
                None
            }
        },
        None => None,
    };
    let mut budget = crate::health::MAX_CHECKS_PER_RUN;
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut rows: Vec<StatusRow> = Vec::new();
    let n = records.len();
    let mut attention_count = 0usize;
    let (mut checkable, mut checked) = (0usize, 0usize);
    for (i, r) in records.into_iter().enumerate() {
        if n > 50 && (i + 1) % 50 == 0 {
            eprintln!("[{}/{n}] reading journals and checking secrets", i + 1);
        }
        let entry = match r.entry {
            Ok(e) => e,
            Err(err) => {
                *counts.entry("invalid".into()).or_default() += 1;
                attention_count += 1;
                rows.push(StatusRow {
                    name: r.name.clone(),
                    kind: "-".into(),
                    status: "invalid".into(),
                    health: "-".into(),
                    phase: "-".into(),
                    rotation_id: None,
                    attempts: None,
                    next_rotation: None,
                    attention: true,
                    note: err.to_string(),
                    what_to_do: Some(format!("fix the entry's metadata with `inventory apply -f` or take it out with `inventory remove {}`", r.name)),
                });
                continue;
            }
        };
        let journal = store.read_journal(&entry.name).await?.map(|(j, _)| j);
        // A project secret reset elsewhere changes nothing in Vault, so no cached answer can
        // vouch for it: it is checked on every run (two requests). Without the account list
        // (Mixpanel unreachable) a cached answer vouches for nothing either.
        let age = if entry.kind == CredentialKind::ProjectSecret || accounts.is_none() {
            std::time::Duration::ZERO
        } else {
            max_age
        };
        let health = crate::health::check(
            &store,
            api.as_ref(),
            &entry,
            r.auth_check.as_ref(),
            age,
            accounts.as_ref(),
            &mut budget,
        )
        .await?;
        let health = match (health, &unreachable) {
            (crate::health::Health::Unchecked(_), Some(why)) => {
                crate::health::Health::Unchecked(why.clone())
            }
            (h, _) => h,
        };
        checkable += usize::from(health.checkable());
        checked += usize::from(health.checked());
        // The journal is the truth about a rotation in progress or stopped.
        let mut status = entry.status;
        if journal
            .as_ref()
            .is_some_and(|j| j.phase == Phase::NeedsHuman)
        {
            status = CredentialStatus::NeedsHuman;
        }
        *counts.entry(status.to_string()).or_default() += 1;
        if health.needs_attention() {
            *counts.entry(health.label().to_string()).or_default() += 1;
        }
        let attention = health.needs_attention()
            || matches!(
                status,
                CredentialStatus::Overdue
                    | CredentialStatus::NeedsHuman
                    | CredentialStatus::ManualRotationRequired
            );
        if attention {
            attention_count += 1;
        }
        let open = journal.as_ref().is_some_and(|j| j.phase.is_open());
        if !(all || attention || open || r.request.is_some()) {
            continue;
        }
        let mut notes: Vec<String> = Vec::new();
        if r.request.is_some() {
            notes.push("request pending".into());
        }
        if health.needs_attention() {
            notes.push(health.detail());
        }
        match &journal {
            Some(j) if j.phase != Phase::Done => {
                if let Some(e) = &j.last_error {
                    notes.push(e.clone());
                } else if let Some(r) = &entry.status_reason {
                    notes.push(r.clone());
                }
            }
            _ => {
                if let Some(r) = &entry.status_reason {
                    notes.push(r.clone());
                }
            }
        }
        rows.push(StatusRow {
            name: entry.name.clone(),
            kind: entry.kind.to_string(),
            status: status.to_string(),
            health: health.label().to_string(),
            phase: journal
                .as_ref()
                .map(|j| j.phase.to_string())
                .unwrap_or_else(|| "-".into()),
            rotation_id: journal.as_ref().map(|j| j.rotation_id.clone()),
            attempts: journal
                .as_ref()
                .filter(|j| j.phase != Phase::Done)
                .map(|j| j.attempts),
            next_rotation: entry.next_rotation.map(inventory::stamp),
            attention,
            what_to_do: (status == CredentialStatus::NeedsHuman).then(|| {
                needs_human_hint(
                    &entry.name,
                    journal
                        .as_ref()
                        .and_then(|j| j.last_error.as_deref())
                        .unwrap_or(""),
                )
            }),
            note: notes.join("; "),
        });
    }
    let where_ = format!("{}/{}/creds/", store.config().mount, store.config().prefix);
    if n == 0 {
        eprintln!(
            "warning: no credential at all under {where_}: check the Vault mount and prefix (MIXPANEL_ROTATOR_VAULT_MOUNT, MIXPANEL_ROTATOR_VAULT_PREFIX) or add entries with `inventory add` / `inventory apply`"
        );
    }
    if json {
        let doc = serde_json::json!({
            "leader": leader.as_ref().map(|(h, t)| serde_json::json!({"holder": h, "fencing_token": t.0})),
            "location": where_,
            "credentials": n,
            "counts": counts,
            "needs_attention": attention_count,
            "entries": rows,
        });
        out_line(&serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else {
        out_line(&leader_line);
        let summary: Vec<String> = counts.iter().map(|(s, c)| format!("{c} {s}")).collect();
        out_line(&format!(
            "credentials: {n}{}{}",
            if summary.is_empty() { "" } else { " (" },
            if summary.is_empty() {
                String::new()
            } else {
                summary.join(", ") + ")"
            }
        ));
        if !names.is_empty() {
            // The details of the credentials asked for, nothing cut.
            for r in &rows {
                out_line(&format!("{}:", r.name));
                out_line(&format!("  kind: {}", r.kind));
                out_line(&format!("  status: {}", r.status));
                out_line(&format!("  secret: {}", r.health));
                out_line(&format!(
                    "  phase: {}{}",
                    r.phase,
                    r.rotation_id
                        .as_ref()
                        .map(|id| format!(
                            " (rotation {id}, {} attempt(s))",
                            r.attempts.unwrap_or(0)
                        ))
                        .unwrap_or_default()
                ));
                out_line(&format!(
                    "  next rotation: {}",
                    r.next_rotation.clone().unwrap_or_else(|| "never".into())
                ));
                if !r.note.is_empty() {
                    out_line(&format!("  note: {}", r.note));
                }
                if let Some(w) = &r.what_to_do {
                    out_line(&format!("  what to do: {w}"));
                }
            }
        } else if rows.is_empty() {
            out_line("nothing needs attention");
        } else {
            let table_rows: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    vec![
                        r.name.clone(),
                        r.status.clone(),
                        r.health.clone(),
                        r.phase.clone(),
                        r.rotation_id.clone().unwrap_or_else(|| "-".into()),
                        r.attempts
                            .map(|a| a.to_string())
                            .unwrap_or_else(|| "-".into()),
                        r.next_rotation.clone().unwrap_or_else(|| "never".into()),
                        table::cell(&r.note, 80),
                    ]
                })
                .collect();
            out(&table::render(
                &[
                    "NAME",
                    "STATUS",
                    "SECRET",
                    "PHASE",
                    "ROTATION",
                    "ATTEMPTS",
                    "NEXT ROTATION",
                    "NOTE",
                ],
                &table_rows,
            ));
        }
    }
    if n == 0 {
        return Err(RotatorError::Attention(format!(
            "the inventory under {where_} is empty"
        )));
    }
    // Could not run: the rotator's own credential refused, or Mixpanel not answering so that
    // not one stored secret could be checked.
    if let Some(why) = blocked.filter(|_| unauthorized || (checkable > 0 && checked == 0)) {
        return Err(RotatorError::CouldNotRun(format!(
            "could not check the stored secrets: {why}; {checkable} secret(s) are unchecked, none is vouched for"
        )));
    }
    if attention_count > 0 {
        return Err(RotatorError::Attention(format!(
            "{attention_count} credential(s) need attention (see above)"
        )));
    }
    Ok(())
}
