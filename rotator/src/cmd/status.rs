//! `mixpanel-rotator status`: the leader, the inventory's statuses and open rotations.

use std::collections::BTreeMap;

use mixpanel_access::inventory::CredentialStatus;
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
    note: String,
}

pub async fn status(config: Config, all: bool, json: bool) -> Result<()> {
    let store = connect_store(&config).await?;
    let leader = crate::election::leader(&store).await?;
    let leader_line = match &leader {
        Some((holder, token)) => format!("leader: {holder} (fencing token {token})"),
        None => "leader: none (no replica holds the lease)".to_string(),
    };
    let records = inventory::load(&store).await?;
    let api = if config.client_config().is_ok() {
        match connect_api(&config).await {
            Ok(a) => Some(a),
            Err(e) => {
                eprintln!("warning: cannot reach Mixpanel ({e}): stored secrets are not checked");
                None
            }
        }
    } else {
        None
    };
    let max_age = config.rotation.health_check_interval;
    let mut budget = crate::health::MAX_CHECKS_PER_RUN;
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut rows: Vec<StatusRow> = Vec::new();
    let n = records.len();
    let mut attention_count = 0usize;
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
                });
                continue;
            }
        };
        let journal = store.read_journal(&entry.name).await?.map(|(j, _)| j);
        let health = crate::health::check(
            &store,
            api.as_ref(),
            &entry,
            r.auth_check.as_ref(),
            max_age,
            &mut budget,
        )
        .await?;
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
        if rows.is_empty() {
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
        return Err(RotatorError::Invalid(format!(
            "the inventory under {where_} is empty"
        )));
    }
    if attention_count > 0 {
        return Err(RotatorError::Invalid(format!(
            "{attention_count} credential(s) need attention (see above)"
        )));
    }
    Ok(())
}
